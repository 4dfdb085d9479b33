/*
 * poll: the classic readiness loop. submit only queues; reap polls the
 * distinct descriptors of the queued operations and performs the ones that
 * are ready with a plain call. A regular file is always ready, so on files
 * every poll returns at once: ready_at_once counts it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "backend.h"
#include "readiness.h"
#include "syncop.h"

struct poll_state {
	struct iolens__readiness rd; /* first: the shared reap loop reads it */
	struct iolens_op **pending;
	struct pollfd *fds;
	int nowait; /* RWF_NOWAIT still worth trying */
};

static int poll_once(struct iolens_ctx *ctx, int timeout_ms);

static void poll_destroy(struct iolens_ctx *ctx)
{
	struct poll_state *s = ctx->priv;

	if (!s)
		return;
	iolens__cq_free(&s->rd.done);
	free(s->pending);
	free(s->fds);
	free(s);
}

static int poll_init(struct iolens_ctx *ctx)
{
	struct poll_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->pending = calloc(ctx->opts.depth, sizeof(*s->pending));
	s->fds = calloc(ctx->opts.depth, sizeof(*s->fds));
	if (!s->pending || !s->fds || iolens__cq_init(&s->rd.done, ctx->opts.depth)) {
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
		ops[i]->flags = 0;
		s->pending[s->rd.npending++] = ops[i];
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

static void perform(struct iolens_ctx *ctx, struct poll_state *s, struct iolens_op *op)
{
	if (s->nowait && op->kind == IOLENS_OP_READ)
		nowait_read(ctx, s, op);
	else
		iolens__syncop(op);
	iolens__cq_push(&s->rd.done, op);
}

/* Poll the distinct fds of the pending ops once; perform what is ready. */
static int poll_once(struct iolens_ctx *ctx, int timeout_ms)
{
	struct poll_state *s = ctx->priv;
	unsigned nfds = 0, kept = 0;
	int r;

	for (unsigned i = 0; i < s->rd.npending; i++) {
		struct iolens_op *op = s->pending[i];
		short ev = op->kind == IOLENS_OP_READ ? POLLIN : POLLOUT;
		unsigned f;

		for (f = 0; f < nfds && s->fds[f].fd != op->fd; f++)
			;
		if (f == nfds)
			s->fds[nfds++] = (struct pollfd){ .fd = op->fd };
		s->fds[f].events |= ev;
	}
	do
		r = poll(s->fds, nfds, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	for (unsigned i = 0; i < s->rd.npending; i++) {
		struct iolens_op *op = s->pending[i];
		short want = op->kind == IOLENS_OP_READ ? POLLIN : POLLOUT;
		unsigned f;

		for (f = 0; s->fds[f].fd != op->fd; f++)
			;
		/* Errors and hang-ups: do the call so its errno lands in the result. */
		if (s->fds[f].revents & (want | POLLERR | POLLHUP | POLLNVAL))
			perform(ctx, s, op);
		else
			s->pending[kept++] = op;
	}
	s->rd.npending = kept;
	return r;
}

const struct iolens_backend iolens_backend_poll = {
	.name = "poll",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "O_NONBLOCK + poll(), then the plain call; files are always ready",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_NONBLOCK_FD,
	.options = IOLENS_BOPT_NOWAIT,
	.init = poll_init,
	.destroy = poll_destroy,
	.submit = poll_submit,
	.reap = iolens__readiness_reap,
};
