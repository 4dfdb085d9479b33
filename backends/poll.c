/*
 * poll: the classic readiness loop. submit queues; reap polls the distinct
 * descriptors of the queued operations and performs the ones that are ready
 * with a plain call. A regular file is always ready, so on files every poll
 * returns at once: ready_at_once counts it.
 *
 * Sockets (O_NONBLOCK): RECV and ACCEPT wait for POLLIN, SEND and CONNECT
 * for POLLOUT, each in its own FIFO per descriptor, so several ops on one
 * socket are served in order. A SEND with no SEND queued ahead of it is
 * tried at once inside submit, as event loops write (libuv's
 * uv_try_write): done there unless the call says EAGAIN, and then queued
 * for POLLOUT. A call that says EAGAIN leaves its op queued for the next
 * poll; CONNECT issues connect() once and, after EINPROGRESS, reads the
 * outcome (SO_ERROR) when the socket turns writable. An echo request costs
 * send, poll, recv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "backend.h"
#include "fdq.h"
#include "readiness.h"
#include "syncop.h"

struct poll_state {
	struct iolens__readiness rd; /* first: the shared reap loop reads it */
	struct iolens__fdq q;        /* the queued ops, by descriptor */
	struct pollfd *fds;          /* one per busy descriptor: at most depth */
	int nowait;                  /* RWF_NOWAIT still worth trying */
};

static int poll_once(struct iolens_ctx *ctx, int timeout_ms);

static void poll_destroy(struct iolens_ctx *ctx)
{
	struct poll_state *s = ctx->priv;

	if (!s)
		return;
	iolens__cq_free(&s->rd.done);
	iolens__fdq_free(&s->q);
	free(s->fds);
	free(s);
}

static int poll_init(struct iolens_ctx *ctx)
{
	struct poll_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->fds = calloc(ctx->opts.depth, sizeof(*s->fds));
	if (!s->fds || iolens__fdq_init(&s->q, ctx->opts.depth, sizeof(struct iolens__fdq_fd)) ||
	    iolens__cq_init(&s->rd.done, ctx->opts.depth)) {
		poll_destroy(ctx);
		ctx->priv = NULL;
		return -ENOMEM;
	}
	s->rd.check = poll_once;
	s->nowait = !!(ctx->opts.flags & IOLENS_BOPT_NOWAIT);
	if (s->nowait)
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "nowait");
	return 0;
}

static int poll_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct poll_state *s = ctx->priv;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];
		struct iolens__fdq_fd *e;

		op->flags = 0;
		if (op->fd < 0) {
			/* poll() skips negative descriptors: it would wait forever. */
			op->result = -EBADF;
			op->flags = IOLENS_OPF_INLINE;
			ctx->stats.completed_inline++;
			iolens__cq_push(&s->rd.done, op);
			continue;
		}
		e = iolens__fdq_get(&s->q, op->fd);
		if (!e)
			return i ? (int)i : -ENOMEM;
		if (op->kind == IOLENS_OP_SEND && !e->head[IOLENS__FDQ_OUT] &&
		    iolens__readiness_try_send(ctx, op)) {
			iolens__cq_push(&s->rd.done, op);
			continue;
		}
		iolens__fdq_push(&s->q, op);
		s->rd.npending++;
	}
	return (int)n;
}

/* Try the read without blocking first; on "would block" fall back to a plain pread. */
static void nowait_read(struct iolens_ctx *ctx, struct poll_state *s, struct iolens_op *op)
{
	struct iovec iov = { op->buf, op->len };
	ssize_t r;

	do
		r = preadv2(op->fd, &iov, 1, (off_t)op->offset, RWF_NOWAIT);
	while (r < 0 && errno == EINTR);
	ctx->stats.nowait_tries++;
	if (r < 0 && errno == EOPNOTSUPP) {
		s->nowait = 0; /* the filesystem cannot say: stop asking */
		ctx->stats.nowait_tries--;
	} else if (r < 0 && errno == EAGAIN) {
		op->flags |= IOLENS_OPF_WOULDBLOCK;
		ctx->stats.nowait_eagain++;
	} else if (r >= 0 && (uint32_t)r == op->len) {
		op->result = r;
		return;
	} else if (r > 0) {
		/* Part was cached; read the rest the ordinary way. */
		struct iolens_op rest = *op;

		rest.buf = (char *)op->buf + r;
		rest.len = op->len - (uint32_t)r;
		rest.offset = op->offset + (uint64_t)r;
		iolens__syncop(&rest);
		op->result = rest.result < 0 ? rest.result : r + rest.result;
		return;
	} else if (r < 0) {
		op->result = -errno;
		return;
	}
	iolens__syncop(op);
}

/*
 * Serve fd's ops waiting in direction dir, oldest first, until one would
 * block: files are done with a plain call (or RWF_NOWAIT first), sockets
 * tried once each.
 */
static void serve(struct iolens_ctx *ctx, struct poll_state *s, int fd, int dir)
{
	struct iolens__fdq_slot *sl;

	while ((sl = iolens__fdq_peek(&s->q, fd, dir))) {
		struct iolens_op *op = sl->op;

		if (iolens__is_sockop(op)) {
			if (!iolens__readiness_sockop(ctx, op, &sl->connecting))
				return;
		} else if (s->nowait && op->kind == IOLENS_OP_READ) {
			nowait_read(ctx, s, op);
		} else {
			iolens__syncop(op);
		}
		iolens__fdq_pop(&s->q, fd, dir);
		s->rd.npending--;
		iolens__cq_push(&s->rd.done, op);
	}
}

/* Nothing but the queues is kept per descriptor. */
static int poll_forget(struct iolens_ctx *ctx, int fd)
{
	struct poll_state *s = ctx->priv;

	return iolens__fdq_forget(&s->q, fd);
}

/* Poll the descriptors with queued ops once; perform what is ready. */
static int poll_once(struct iolens_ctx *ctx, int timeout_ms)
{
	struct poll_state *s = ctx->priv;
	unsigned nfds = s->q.nbusy;
	int r;

	for (unsigned f = 0; f < nfds; f++) {
		int fd = s->q.busy[f];
		const struct iolens__fdq_fd *e = iolens__fdq_find(&s->q, fd);

		s->fds[f] = (struct pollfd){
			.fd = fd,
			.events = (short)((e->head[IOLENS__FDQ_IN] ? POLLIN : 0) |
					  (e->head[IOLENS__FDQ_OUT] ? POLLOUT : 0)),
		};
	}
	do
		r = poll(s->fds, nfds, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	/* Serving changes the busy set, not s->fds: walk the snapshot. */
	for (unsigned f = 0; f < nfds; f++) {
		short ev = s->fds[f].revents;

		/* Errors and hang-ups: do the call so its errno lands in the result. */
		if (ev & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
			serve(ctx, s, s->fds[f].fd, IOLENS__FDQ_IN);
		if (ev & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			serve(ctx, s, s->fds[f].fd, IOLENS__FDQ_OUT);
	}
	return r;
}

const struct iolens_backend iolens_backend_poll = {
	.name = "poll",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "O_NONBLOCK + poll(), then the plain call (EAGAIN: poll again); SEND tried at "
		   "once; files are always ready",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_NONBLOCK_FD,
	.options = IOLENS_BOPT_NOWAIT,
	.init = poll_init,
	.destroy = poll_destroy,
	.submit = poll_submit,
	.reap = iolens__readiness_reap,
	.forget = poll_forget,
};
