/*
 * select: the oldest readiness loop, as iperf3's main loop and every
 * textbook write it. submit queues; reap builds read and write sets from
 * the descriptors of the queued operations, calls select(), and performs
 * what is ready with a plain call. It is poll (poll.c) with the interface's
 * two costs kept: the sets are rebuilt for every call (select overwrites
 * them), and the kernel scans every descriptor below the highest one asked
 * about, busy or not.
 *
 * FD_SETSIZE: an fd_set holds descriptors 0..1023. Setting a higher one
 * writes past the set (glibc's fortified FD_SET aborts instead), so a
 * program built on select must refuse it, and so does this backend: an
 * operation on a descriptor >= FD_SETSIZE completes at once with -EMFILE
 * (the process has more descriptors than select can watch) and never
 * touches a set. A serve with a thousand
 * connections runs into it; that is the finding, not a failure of the
 * harness.
 *
 * Sockets (O_NONBLOCK) and files are served as poll serves them (the
 * readiness kit): RECV and ACCEPT wait for readable, SEND and CONNECT for
 * writable, in per-descriptor FIFOs; a SEND with none queued ahead is tried
 * at once in submit; a regular file is always ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "backend.h"
#include "fdq.h"
#include "readiness.h"

struct select_state {
	struct iolens__readiness rd; /* first: the shared reap loop reads it */
	struct iolens__fdq q;        /* the queued ops, by descriptor */
	int *snap;                   /* the busy descriptors as select saw them: at most depth */
	int nowait;                  /* RWF_NOWAIT still worth trying */
};

static int select_once(struct iolens_ctx *ctx, int timeout_ms);

static void select_destroy(struct iolens_ctx *ctx)
{
	struct select_state *s = ctx->priv;

	if (!s)
		return;
	iolens__readiness_teardown(&s->rd, &s->q);
	free(s->snap);
	free(s);
}

static int select_init(struct iolens_ctx *ctx)
{
	struct select_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->snap = calloc(ctx->opts.depth, sizeof(*s->snap));
	if (!s->snap || iolens__readiness_setup(ctx, &s->rd, &s->q, sizeof(struct iolens__fdq_fd),
						select_once, &s->nowait)) {
		select_destroy(ctx);
		ctx->priv = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int select_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct select_state *s = ctx->priv;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];

		if (op->fd >= FD_SETSIZE) {
			op->result = -EMFILE;
			op->flags = IOLENS_OPF_INLINE;
			ctx->stats.completed_inline++;
			iolens__cq_push(&s->rd.done, op);
			continue;
		}
		if (iolens__readiness_queue(ctx, &s->rd, &s->q, op))
			return i ? (int)i : -ENOMEM;
	}
	return (int)n;
}

/* Nothing but the queues is kept per descriptor. */
static int select_forget(struct iolens_ctx *ctx, int fd)
{
	struct select_state *s = ctx->priv;

	return iolens__fdq_forget(&s->q, fd);
}

/*
 * select fails the whole call with EBADF when one descriptor of the sets is
 * closed (poll flags it alone, POLLNVAL). Find those and serve their ops:
 * the plain call then puts -EBADF in each result. How many were found.
 */
static int closed_ones(struct iolens_ctx *ctx, struct select_state *s, unsigned nfds)
{
	int found = 0;

	for (unsigned f = 0; f < nfds; f++) {
		if (fcntl(s->snap[f], F_GETFD) >= 0 || errno != EBADF)
			continue;
		found++;
		iolens__readiness_serve(ctx, &s->rd, &s->q, s->snap[f], IOLENS__FDQ_IN, &s->nowait);
		iolens__readiness_serve(ctx, &s->rd, &s->q, s->snap[f], IOLENS__FDQ_OUT, &s->nowait);
	}
	return found ? found : -EBADF;
}

/* Select on the descriptors with queued ops once; perform what is ready. */
static int select_once(struct iolens_ctx *ctx, int timeout_ms)
{
	struct select_state *s = ctx->priv;
	unsigned nfds = s->q.nbusy;
	struct timeval tv, *tvp = NULL;
	fd_set rd, wr;
	int top = -1, r;

	do {
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		for (unsigned f = 0; f < nfds; f++) {
			int fd = s->q.busy[f];
			const struct iolens__fdq_fd *e = iolens__fdq_find(&s->q, fd);

			s->snap[f] = fd;
			if (e->head[IOLENS__FDQ_IN])
				FD_SET(fd, &rd);
			if (e->head[IOLENS__FDQ_OUT])
				FD_SET(fd, &wr);
			if (fd > top)
				top = fd;
		}
		if (timeout_ms >= 0) {
			tv = (struct timeval){ timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
			tvp = &tv;
		}
		r = select(top + 1, &rd, &wr, NULL, tvp);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EBADF)
		return closed_ones(ctx, s, nfds);
	if (r < 0)
		return -errno;
	/*
	 * Serving changes the busy set, not the snapshot. Errors and hang-ups
	 * show as readable or writable: the call then puts its errno in the result.
	 */
	for (unsigned f = 0; f < nfds; f++) {
		if (FD_ISSET(s->snap[f], &rd))
			iolens__readiness_serve(ctx, &s->rd, &s->q, s->snap[f], IOLENS__FDQ_IN,
						&s->nowait);
		if (FD_ISSET(s->snap[f], &wr))
			iolens__readiness_serve(ctx, &s->rd, &s->q, s->snap[f], IOLENS__FDQ_OUT,
						&s->nowait);
	}
	return r;
}

const struct iolens_backend iolens_backend_select = {
	.name = "select",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "O_NONBLOCK + select() on fd_sets rebuilt per call, then the plain call; "
		   "descriptors >= FD_SETSIZE (1024) refused with EMFILE",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_NONBLOCK_FD,
	.options = IOLENS_BOPT_NOWAIT,
	.init = select_init,
	.destroy = select_destroy,
	.submit = select_submit,
	.reap = iolens__readiness_reap,
	.forget = select_forget,
};
