/*
 * epoll: descriptors are registered once (level-triggered) and waited on
 * with epoll_wait. epoll_ctl refuses regular files with EPERM: those ops are
 * done at once with a plain call, flagged and counted as fallbacks.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "readiness.h"
#include "syncop.h"

#define MAX_FDS 64

struct fd_entry {
	int fd;
	int refused; /* epoll_ctl said no: plain calls */
	unsigned npending;
};

struct epoll_state {
	struct iolens__readiness rd; /* first: the shared reap loop reads it */
	int epfd;
	struct fd_entry fds[MAX_FDS];
	unsigned nfds;
	struct iolens_op **pending;
	struct epoll_event *events;
};

static int wait_ready(struct iolens_ctx *ctx, int timeout_ms);

static void epoll_destroy(struct iolens_ctx *ctx)
{
	struct epoll_state *s = ctx->priv;

	if (!s)
		return;
	if (s->epfd >= 0)
		close(s->epfd);
	iolens__cq_free(&s->rd.done);
	free(s->pending);
	free(s->events);
	free(s);
}

static int epoll_init(struct iolens_ctx *ctx)
{
	struct epoll_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->rd.check = wait_ready;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->pending = calloc(ctx->opts.depth, sizeof(*s->pending));
	s->events = calloc(ctx->opts.depth, sizeof(*s->events));
	if (s->epfd < 0 || !s->pending || !s->events ||
	    iolens__cq_init(&s->rd.done, ctx->opts.depth)) {
		int err = s->epfd < 0 ? -errno : -ENOMEM;

		epoll_destroy(ctx);
		ctx->priv = NULL;
		return err;
	}
	return 0;
}

/* The entry for fd, registering it on first sight; NULL if the table is full. */
static struct fd_entry *lookup(struct epoll_state *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	struct fd_entry *e;

	for (unsigned i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			return &s->fds[i];
	if (s->nfds == MAX_FDS)
		return NULL;
	e = &s->fds[s->nfds++];
	e->fd = fd;
	ev.data.fd = fd;
	e->refused = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0;
	return e;
}

static int epoll_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct epoll_state *s = ctx->priv;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];
		struct fd_entry *e = lookup(s, op->fd);

		op->flags = 0;
		if (e && !e->refused) {
			e->npending++;
			s->pending[s->rd.npending++] = op;
			continue;
		}
		/* Refused (EPERM for a regular file, EBADF for a closed fd): plain call. */
		iolens__syncop(op);
		op->flags = IOLENS_OPF_INLINE | IOLENS_OPF_FALLBACK;
		ctx->stats.fallbacks++;
		ctx->stats.completed_inline++;
		iolens__cq_push(&s->rd.done, op);
	}
	return (int)n;
}

/* Perform pending ops whose fd epoll reported ready. */
static void serve(struct epoll_state *s, int nev)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < s->rd.npending; i++) {
		struct iolens_op *op = s->pending[i];
		uint32_t want = op->kind == IOLENS_OP_READ ? EPOLLIN : EPOLLOUT;
		int ready = 0;

		for (int k = 0; k < nev && !ready; k++)
			ready = s->events[k].data.fd == op->fd &&
				(s->events[k].events & (want | EPOLLERR | EPOLLHUP));
		if (!ready) {
			s->pending[kept++] = op;
			continue;
		}
		iolens__syncop(op);
		iolens__cq_push(&s->rd.done, op);
	}
	s->rd.npending = kept;
}

static int wait_ready(struct iolens_ctx *ctx, int timeout_ms)
{
	struct epoll_state *s = ctx->priv;
	int r;

	do
		r = epoll_wait(s->epfd, s->events, (int)ctx->opts.depth, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	serve(s, r);
	return r;
}

const struct iolens_backend iolens_backend_epoll = {
	.name = "epoll",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "epoll_wait, then the plain call; regular files fall back (EPERM)",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_NONBLOCK_FD,
	.init = epoll_init,
	.destroy = epoll_destroy,
	.submit = epoll_submit,
	.reap = iolens__readiness_reap,
};
