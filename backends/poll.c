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
	iolens__readiness_teardown(&s->rd, &s->q);
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
	if (!s->fds || iolens__readiness_setup(ctx, &s->rd, &s->q, sizeof(struct iolens__fdq_fd),
					       poll_once, &s->nowait)) {
		poll_destroy(ctx);
		ctx->priv = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int poll_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct poll_state *s = ctx->priv;

	for (unsigned i = 0; i < n; i++)
		if (iolens__readiness_queue(ctx, &s->rd, &s->q, ops[i]))
			return i ? (int)i : -ENOMEM;
	return (int)n;
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
			iolens__readiness_serve(ctx, &s->rd, &s->q, s->fds[f].fd, IOLENS__FDQ_IN,
						&s->nowait);
		if (ev & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			iolens__readiness_serve(ctx, &s->rd, &s->q, s->fds[f].fd, IOLENS__FDQ_OUT,
						&s->nowait);
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
