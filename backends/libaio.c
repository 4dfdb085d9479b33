/*
 * libaio: Linux native AIO, io_setup/io_submit/io_getevents. The kernel
 * queues only O_DIRECT file I/O; on a buffered file io_submit performs the
 * read or write itself before it returns. libaio returns -errno directly.
 */
#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backend.h"
#include "cq.h"

struct laio_state {
	io_context_t io;
	unsigned depth;
	struct iocb *cbs;    /* the pool; cbs[i].data is the op */
	struct iocb **batch; /* one io_submit's iocbs */
	unsigned *free_idx;  /* stack of free pool indexes */
	unsigned nfree;
	struct io_event *events;
	struct iolens__cq failed; /* refused by io_submit, result already set */
};

static const char *setup_hint(int err)
{
	switch (err) {
	case -EAGAIN:
		return " (fs.aio-max-nr exhausted?)";
	case -ENOSYS:
		return " (kernel built without AIO)";
	case -EPERM:
		return " (a seccomp filter?)";
	default:
		return "";
	}
}

static int laio_probe(const char **why)
{
	static char reason[128];
	io_context_t io = 0;
	int r = io_setup(1, &io);

	if (!r) {
		io_destroy(io);
		return 0;
	}
	snprintf(reason, sizeof(reason), "io_setup failed: %s%s", iolens_strerror(r),
		 setup_hint(r));
	*why = reason;
	return r;
}

static void state_free(struct laio_state *s)
{
	iolens__cq_free(&s->failed);
	free(s->cbs);
	free(s->batch);
	free(s->free_idx);
	free(s->events);
	free(s);
}

static int laio_init(struct iolens_ctx *ctx)
{
	unsigned depth = ctx->opts.depth;
	struct laio_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->depth = depth;
	s->cbs = calloc(depth, sizeof(*s->cbs));
	s->batch = calloc(depth, sizeof(*s->batch));
	s->free_idx = calloc(depth, sizeof(*s->free_idx));
	s->events = calloc(depth, sizeof(*s->events));
	if (!s->cbs || !s->batch || !s->free_idx || !s->events ||
	    iolens__cq_init(&s->failed, depth)) {
		state_free(s);
		return -ENOMEM;
	}
	r = io_setup((int)depth, &s->io);
	if (r < 0) {
		state_free(s);
		return r;
	}
	while (s->nfree < depth) {
		s->free_idx[s->nfree] = depth - 1 - s->nfree;
		s->nfree++;
	}
	snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "io_setup(%u)", depth);
	ctx->priv = s;
	return 0;
}

static void release(struct laio_state *s, struct iocb *cb)
{
	s->free_idx[s->nfree++] = (unsigned)(cb - s->cbs);
}

/* Consume n events; store their ops and results unless ops is NULL (destroy). */
static unsigned harvest(struct laio_state *s, int n, struct iolens_op **ops)
{
	for (int i = 0; i < n; i++) {
		struct iolens_op *op = s->events[i].data;

		if (ops) {
			/* res is unsigned long; an error is -errno in it. */
			op->result = (long)s->events[i].res;
			ops[i] = op;
		}
		release(s, s->events[i].obj);
	}
	return n > 0 ? (unsigned)n : 0;
}

static int laio_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct laio_state *s = ctx->priv;
	unsigned prepared = 0, done = 0;

	for (; prepared < n && s->nfree; prepared++) {
		struct iocb *cb = &s->cbs[s->free_idx[--s->nfree]];
		struct iolens_op *op = ops[prepared];

		switch (op->kind) {
		case IOLENS_OP_READ:
			io_prep_pread(cb, op->fd, op->buf, op->len, (long long)op->offset);
			break;
		case IOLENS_OP_WRITE:
			io_prep_pwrite(cb, op->fd, op->buf, op->len, (long long)op->offset);
			break;
		default:
			io_prep_fsync(cb, op->fd);
			break;
		}
		cb->data = op;
		op->flags = 0;
		s->batch[prepared] = cb;
	}
	while (done < prepared) {
		int r = io_submit(s->io, (long)(prepared - done), s->batch + done);

		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == 0)
			break;
		if (r < 0) {
			/* The error is the first iocb's: it becomes that op's result. */
			struct iolens_op *op = s->batch[done]->data;

			op->result = r;
			release(s, s->batch[done]);
			iolens__cq_push(&s->failed, op);
			done++;
			continue;
		}
		done += (unsigned)r;
	}
	for (unsigned i = prepared; i > done; i--)
		release(s, s->batch[i - 1]);
	return (int)done;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The timeout for io_getevents: NULL waits forever, zero does not wait. */
static struct timespec *wait_time(struct timespec *ts, unsigned want, int64_t deadline)
{
	int64_t left = 0;

	if (want && deadline < 0)
		return NULL;
	if (want)
		left = deadline - now_ns();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000000000;
	ts->tv_nsec = left % 1000000000;
	return ts;
}

static int laio_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		     int64_t timeout_ns)
{
	struct laio_state *s = ctx->priv;
	unsigned got = iolens__cq_pop(&s->failed, out, max);
	unsigned busy = s->depth - s->nfree; /* in the kernel */
	unsigned want = got < min && timeout_ns ? min - got : 0;
	int64_t deadline = -1;
	int r;

	if (got == max || !busy)
		return (int)got;
	if (max - got > busy)
		max = got + busy;
	if (want > busy)
		want = busy;
	if (want) {
		ctx->stats.waits++;
		if (timeout_ns > 0)
			deadline = now_ns() + timeout_ns;
	}
	/* Not waiting: a zero timeout lets libaio look at the ring without a syscall. */
	do {
		struct timespec ts;

		r = io_getevents(s->io, (long)want, (long)(max - got), s->events,
				 wait_time(&ts, want, deadline));
	} while (r == -EINTR);
	if (r < 0)
		return got ? (int)got : r;
	return (int)(got + harvest(s, r, out + got));
}

static void laio_destroy(struct iolens_ctx *ctx)
{
	struct laio_state *s = ctx->priv;

	/*
	 * Completions nobody reaped: consume them so no read lands in a buffer
	 * after close, but leave the ops alone.
	 */
	while (s->nfree < s->depth) {
		unsigned busy = s->depth - s->nfree;
		int r = io_getevents(s->io, (long)busy, (long)busy, s->events, NULL);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		harvest(s, r, NULL);
	}
	io_destroy(s->io);
	state_free(s);
}

const struct iolens_backend iolens_backend_libaio = {
	.name = "libaio",
	.model = IOLENS_MODEL_ASYNC_KERNEL,
	.summary = "io_submit/io_getevents; queued in the kernel only with O_DIRECT",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_ASYNC_NEEDS_DIRECT,
	.options = 0,
	.probe = laio_probe,
	.init = laio_init,
	.destroy = laio_destroy,
	.submit = laio_submit,
	.reap = laio_reap,
};
