/*
 * libaio: Linux native AIO through io_setup/io_submit/io_getevents. Only
 * O_DIRECT file I/O is queued in the kernel; on a buffered file io_submit
 * does the read or write itself before it returns.
 */
#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cq.h"

struct aio_ctx_state {
	io_context_t io;
	struct iocb *cbs;
	struct iocb **batch;
	unsigned *free_slots;
	unsigned nfree;
	struct io_event *events;
	struct iolens__cq failed; /* refused by io_submit, result already set */
};

static int laio_probe(const char **why)
{
	static char reason[160];
	io_context_t io = 0;
	int r = io_setup(1, &io);

	if (r < 0) {
		snprintf(reason, sizeof(reason), "io_setup failed: %s (fs.aio-max-nr exhausted?)",
			 strerror(-r));
		*why = reason;
		return r;
	}
	io_destroy(io);
	return 0;
}

static void state_free(struct aio_ctx_state *s)
{
	iolens__cq_free(&s->failed);
	free(s->cbs);
	free(s->batch);
	free(s->free_slots);
	free(s->events);
	free(s);
}

static int laio_init(struct iolens_ctx *ctx)
{
	unsigned depth = ctx->opts.depth;
	struct aio_ctx_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->cbs = calloc(depth, sizeof(*s->cbs));
	s->batch = calloc(depth, sizeof(*s->batch));
	s->free_slots = calloc(depth, sizeof(*s->free_slots));
	s->events = calloc(depth, sizeof(*s->events));
	if (!s->cbs || !s->batch || !s->free_slots || !s->events ||
	    iolens__cq_init(&s->failed, depth)) {
		state_free(s);
		return -ENOMEM;
	}
	r = io_setup((int)depth, &s->io);
	if (r < 0) {
		state_free(s);
		return r;
	}
	for (unsigned i = 0; i < depth; i++)
		s->free_slots[s->nfree++] = i;
	snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "io_setup(%u)", depth);
	ctx->priv = s;
	return 0;
}

static void prep(struct iocb *cb, struct iolens_op *op)
{
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
}

static void release(struct aio_ctx_state *s, struct iocb *cb)
{
	s->free_slots[s->nfree++] = (unsigned)(cb - s->cbs);
}

static int laio_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct aio_ctx_state *s = ctx->priv;
	unsigned prepared = 0, done = 0;

	for (; prepared < n && s->nfree; prepared++) {
		struct iocb *cb = &s->cbs[s->free_slots[--s->nfree]];

		prep(cb, ops[prepared]);
		s->batch[prepared] = cb;
	}
	while (done < prepared) {
		int r = io_submit(s->io, (long)(prepared - done), s->batch + done);

		if (r == -EINTR)
			continue;
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			/* The first iocb was refused: its error is that op's result. */
			struct iolens_op *op = s->batch[done]->data;

			op->result = r;
			release(s, s->batch[done]);
			iolens__cq_push(&s->failed, op);
			done++;
			continue;
		}
		done += (unsigned)r;
	}
	for (unsigned i = done; i < prepared; i++)
		release(s, s->batch[i]);
	return (int)done;
}

static int laio_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		     unsigned max, int64_t timeout_ns)
{
	struct aio_ctx_state *s = ctx->priv;
	unsigned got = iolens__cq_pop(&s->failed, out, max);
	struct timespec ts = { .tv_sec = timeout_ns / 1000000000,
			       .tv_nsec = timeout_ns % 1000000000 };
	long want_min = got >= min ? 0 : (long)(min - got);
	int r;

	if (got == max || (!want_min && s->nfree == ctx->opts.depth))
		return (int)got;
	if (want_min)
		ctx->stats.waits++;
	do
		r = io_getevents(s->io, want_min, (long)(max - got), s->events,
				 timeout_ns < 0 ? NULL : &ts);
	while (r == -EINTR);
	if (r < 0)
		return got ? (int)got : r;
	for (int i = 0; i < r; i++) {
		struct iolens_op *op = s->events[i].data;

		op->result = (long)s->events[i].res;
		release(s, s->events[i].obj);
		out[got++] = op;
	}
	return (int)got;
}

static void laio_destroy(struct iolens_ctx *ctx)
{
	struct aio_ctx_state *s = ctx->priv;

	/* io_destroy waits for requests still in flight. */
	io_destroy(s->io);
	state_free(s);
}

const struct iolens_backend iolens_backend_libaio = {
	.name = "libaio",
	.model = "async completion (kernel)",
	.summary = "io_submit/io_getevents; async only with O_DIRECT",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_ASYNC_NEEDS_DIRECT,
	.probe = laio_probe,
	.init = laio_init,
	.destroy = laio_destroy,
	.submit = laio_submit,
	.reap = laio_reap,
};
