/*
 * nowait: the hybrid that answers "files are never non-blocking". The
 * submitting thread tries each op without blocking and completes it there
 * when it can; only what would block goes to a pool of N threads
 * (`threads=N`, default 4; backends/kit/pool.c) that makes the plain
 * blocking call. ClickHouse reads this way: inline on a page-cache hit, on
 * a pool otherwise.
 *
 *  - READ and WRITE: preadv2/pwritev2 with RWF_NOWAIT (5.9 for reads of
 *    buffered files; writes on filesystems that support it). A whole
 *    transfer completes inline (INLINE); EAGAIN, or a short transfer (part
 *    of the range was not cached), sends the op to the pool, flagged
 *    WOULDBLOCK. A filesystem that cannot say for reads or for writes
 *    (EOPNOTSUPP) stops the tries of that kind: from then on those go to
 *    the pool.
 *  - FSYNC, ACCEPT and CONNECT always go to the pool: they have no
 *    "do not block" form that moves them forward.
 *  - SEND and RECV: one call with MSG_DONTWAIT, then the pool on EAGAIN. A
 *    socket op is tried inline only while no op of the same direction on
 *    that descriptor waits in the pool, so bytes never overtake each other.
 *
 * Every try counts in stats.nowait_tries and each EAGAIN (or short
 * transfer) in nowait_eagain, so the measured model sees the split: a
 * page-cached file is ~100% inline and measured sync; a cold one mostly
 * pool and measured async (threads); the verdict gives the share between.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "backend.h"
#include "cq.h"
#include "fdq.h"
#include "readiness.h"
#include "pool.h"

#define DEFAULT_THREADS 4u

struct nw_state {
	struct iolens__pool *pool;
	struct iolens__cq done;   /* completed inline, not reaped */
	struct iolens_op **hand;  /* this submit's ops for the pool: depth of them */
	struct iolens__fdq fds;   /* by descriptor (entries nw_fd): socket ops in the pool */
	unsigned inpool;          /* ops in the pool, not reaped */
	unsigned asked, started, shown;
	int file_nowait[2];       /* RWF_NOWAIT still worth trying: reads, writes */
};

/* A descriptor's entry: the fdq part (unused: ops are not queued here), then the counts. */
struct nw_fd {
	struct iolens__fdq_fd q;
	unsigned held[2]; /* socket ops in the pool, per direction (IOLENS__FDQ_IN/OUT) */
};

static void describe(struct iolens_ctx *ctx, struct nw_state *s)
{
	s->shown = iolens__pool_threads(s->pool);
	iolens__pool_setup_line(s->pool, s->asked, s->started, ctx->opts.depth,
				ctx->stats.setup, sizeof(ctx->stats.setup));
}

static void nw_destroy(struct iolens_ctx *ctx)
{
	struct nw_state *s = ctx->priv;

	if (!s)
		return;
	if (s->pool)
		iolens__pool_stop(s->pool);
	iolens__cq_free(&s->done);
	free(s->hand);
	iolens__fdq_free(&s->fds);
	free(s);
}

static int nw_init(struct iolens_ctx *ctx)
{
	struct nw_state *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->asked = (ctx->opts.flags & IOLENS_BOPT_THREADS) ? ctx->opts.aio_threads : DEFAULT_THREADS;
	s->started = s->asked < ctx->opts.depth ? s->asked : ctx->opts.depth;
	s->file_nowait[0] = s->file_nowait[1] = 1;
	s->hand = calloc(ctx->opts.depth, sizeof(*s->hand));
	if (!s->asked)
		err = -EINVAL;
	else if (!s->hand || iolens__cq_init(&s->done, ctx->opts.depth) ||
		 iolens__fdq_init(&s->fds, 1, sizeof(struct nw_fd)))
		err = -ENOMEM;
	else
		err = iolens__pool_start(&s->pool, s->started, ctx->opts.depth);
	if (err) {
		nw_destroy(ctx);
		ctx->priv = NULL;
		return err;
	}
	describe(ctx, s);
	return 0;
}

/* A file transfer with RWF_NOWAIT: 1 done (result set), 0 for the pool. */
static int try_file(struct iolens_ctx *ctx, struct nw_state *s, struct iolens_op *op)
{
	struct iovec iov = { op->buf, op->len };
	int w = op->kind == IOLENS_OP_WRITE;
	ssize_t r;

	if (op->kind == IOLENS_OP_FSYNC || !s->file_nowait[w])
		return 0;
	do
		r = op->kind == IOLENS_OP_READ
			    ? preadv2(op->fd, &iov, 1, (off_t)op->offset, RWF_NOWAIT)
			    : pwritev2(op->fd, &iov, 1, (off_t)op->offset, RWF_NOWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EOPNOTSUPP) {
		s->file_nowait[w] = 0; /* the filesystem cannot say for this kind: stop asking */
		return 0;
	}
	ctx->stats.nowait_tries++;
	if ((r < 0 && errno == EAGAIN) || (r > 0 && (uint32_t)r < op->len)) {
		/* A short transfer: the rest was not in memory. The pool does it whole. */
		ctx->stats.nowait_eagain++;
		op->flags |= IOLENS_OPF_WOULDBLOCK;
		return 0;
	}
	op->result = r < 0 ? -errno : r;
	return 1;
}

/* A SEND or RECV with MSG_DONTWAIT: 1 done (result set), 0 for the pool. */
static int try_sock(struct iolens_ctx *ctx, struct iolens_op *op)
{
	ssize_t r;

	do
		r = op->kind == IOLENS_OP_SEND
			    ? send(op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL)
			    : recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	ctx->stats.nowait_tries++;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		ctx->stats.nowait_eagain++;
		op->flags |= IOLENS_OPF_WOULDBLOCK;
		return 0;
	}
	op->result = r < 0 ? -errno : r;
	return 1;
}

static int nw_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct nw_state *s = ctx->priv;
	unsigned nhand = 0, i;

	for (i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];
		struct nw_fd *e = NULL;
		int done = 0;

		op->flags = 0;
		if (iolens__is_sockop(op) && op->fd >= 0) {
			e = iolens__fdq_get(&s->fds, op->fd);
			if (!e)
				break;
			if ((op->kind == IOLENS_OP_SEND || op->kind == IOLENS_OP_RECV) &&
			    !e->held[iolens__fdq_dir(op)])
				done = try_sock(ctx, op);
		} else if (op->fd >= 0) {
			done = try_file(ctx, s, op);
		}
		if (done) {
			op->flags |= IOLENS_OPF_INLINE;
			ctx->stats.completed_inline++;
			iolens__cq_push(&s->done, op);
			continue;
		}
		if (e)
			e->held[iolens__fdq_dir(op)]++;
		s->hand[nhand++] = op;
	}
	if (nhand) {
		s->inpool += nhand;
		iolens__pool_submit(s->pool, s->hand, nhand);
	}
	return i == n || i ? (int)i : -ENOMEM;
}

static int nw_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		   int64_t timeout_ns)
{
	struct nw_state *s = ctx->priv;
	unsigned got = 0, from_pool = 0;

	got = iolens__cq_pop(&s->done, out, max);
	if (s->inpool && got < max) {
		/* With what it needs already in hand, only look: never wait. */
		from_pool = iolens__pool_reap(s->pool, out + got, got >= min ? 0 : min - got,
					      max - got, got >= min ? 0 : timeout_ns,
					      &ctx->stats.waits);
		s->inpool -= from_pool;
		for (unsigned k = got; k < got + from_pool; k++) {
			struct nw_fd *e = iolens__is_sockop(out[k]) ? iolens__fdq_find(&s->fds, out[k]->fd)
								  : NULL;

			if (e)
				e->held[iolens__fdq_dir(out[k])]--;
		}
		got += from_pool;
	}
	if (iolens__pool_threads(s->pool) != s->shown)
		describe(ctx, s);
	return (int)got;
}

const struct iolens_backend iolens_backend_nowait = {
	.name = "nowait",
	.model = IOLENS_MODEL_ASYNC_THREADS,
	.summary = "RWF_NOWAIT / MSG_DONTWAIT in the submitting thread; only what would block "
		   "goes to a pool of N threads (threads=N, default 4)",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_THREADS,
	.init = nw_init,
	.destroy = nw_destroy,
	.submit = nw_submit,
	.reap = nw_reap,
};
