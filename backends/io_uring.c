/*
 * io_uring through liburing: one ring sized to the depth, every batch
 * prepared into SQEs and submitted with one call, completions peeked in a
 * batch and the CQ advanced once. Setup flags are the best this kernel
 * takes; what was in effect goes into stats.setup.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct uring_state {
	struct io_uring ring;
	int fixed_files;
	int sqpoll;
	int defer_taskrun; /* completions appear only when we enter the kernel */
	struct io_uring_cqe **cqes;
};

static int uring_probe(const char **why)
{
	static char reason[160];
	struct io_uring ring;
	int r = io_uring_queue_init(2, &ring, 0);

	if (r < 0) {
		snprintf(reason, sizeof(reason),
			 "io_uring_setup failed: %s (kernel without io_uring, or kernel.io_uring_disabled set)",
			 strerror(-r));
		*why = reason;
		return r;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

static int setup_ring(struct iolens_ctx *ctx, struct uring_state *s)
{
	static const struct {
		unsigned flags;
		const char *name;
	} ladder[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		  "SINGLE_ISSUER|DEFER_TASKRUN" },
		{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
		{ 0, "default" },
	};
	unsigned entries = ctx->opts.depth;
	int r = -EINVAL;

	if (ctx->opts.flags & IOLENS_BOPT_SQPOLL) {
		unsigned idle = ctx->opts.sqpoll_idle_ms ? ctx->opts.sqpoll_idle_ms : 1000;
		struct io_uring_params p = { .flags = IORING_SETUP_SQPOLL, .sq_thread_idle = idle };

		p.flags |= IORING_SETUP_SINGLE_ISSUER;
		r = io_uring_queue_init_params(entries, &s->ring, &p);
		if (r == -EINVAL) {
			p = (struct io_uring_params){ .flags = IORING_SETUP_SQPOLL,
						      .sq_thread_idle = idle };
			r = io_uring_queue_init_params(entries, &s->ring, &p);
		}
		s->sqpoll = !r;
		if (!r)
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "SQPOLL(idle=%ums)%s",
				 idle, (p.flags & IORING_SETUP_SINGLE_ISSUER) ? "|SINGLE_ISSUER" : "");
		return r;
	}
	for (unsigned i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		struct io_uring_params p = { .flags = ladder[i].flags };

		r = io_uring_queue_init_params(entries, &s->ring, &p);
		if (r == -EINVAL)
			continue;
		if (!r) {
			s->defer_taskrun = !!(ladder[i].flags & IORING_SETUP_DEFER_TASKRUN);
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "%s", ladder[i].name);
		}
		break;
	}
	return r;
}

static void append(struct iolens_ctx *ctx, const char *what)
{
	size_t len = strlen(ctx->stats.setup);

	snprintf(ctx->stats.setup + len, sizeof(ctx->stats.setup) - len, " %s", what);
}

static int uring_init(struct iolens_ctx *ctx)
{
	struct uring_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->cqes = calloc(ctx->opts.depth, sizeof(*s->cqes));
	if (!s->cqes) {
		free(s);
		return -ENOMEM;
	}
	r = setup_ring(ctx, s);
	if (r) {
		free(s->cqes);
		free(s);
		return r;
	}
	if (io_uring_register_ring_fd(&s->ring) == 1)
		append(ctx, "ring-fd");
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_FILES) {
		r = io_uring_register_files(&s->ring, ctx->opts.files, ctx->opts.nfiles);
		if (r)
			goto fail;
		s->fixed_files = 1;
		append(ctx, "fixed-files");
	}
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_BUFS) {
		r = io_uring_register_buffers(&s->ring, ctx->opts.bufs, ctx->opts.nbufs);
		if (r)
			goto fail;
		append(ctx, "fixed-bufs");
	}
	ctx->priv = s;
	return 0;
fail:
	io_uring_queue_exit(&s->ring);
	free(s->cqes);
	free(s);
	return r;
}

static void uring_destroy(struct iolens_ctx *ctx)
{
	struct uring_state *s = ctx->priv;

	io_uring_queue_exit(&s->ring);
	free(s->cqes);
	free(s);
}

static int fixed_index(const struct iolens_ctx *ctx, int fd)
{
	for (unsigned i = 0; i < ctx->opts.nfiles; i++)
		if (ctx->opts.files[i] == fd)
			return (int)i;
	return -1;
}

static void prep(struct iolens_ctx *ctx, struct uring_state *s, struct io_uring_sqe *sqe,
		 struct iolens_op *op)
{
	int fixed_buf = (ctx->opts.flags & IOLENS_BOPT_FIXED_BUFS) && op->buf_index >= 0;
	int idx = s->fixed_files ? fixed_index(ctx, op->fd) : -1;
	int fd = idx >= 0 ? idx : op->fd;

	switch (op->kind) {
	case IOLENS_OP_READ:
		if (fixed_buf)
			io_uring_prep_read_fixed(sqe, fd, op->buf, op->len, op->offset,
						 op->buf_index);
		else
			io_uring_prep_read(sqe, fd, op->buf, op->len, op->offset);
		break;
	case IOLENS_OP_WRITE:
		if (fixed_buf)
			io_uring_prep_write_fixed(sqe, fd, op->buf, op->len, op->offset,
						  op->buf_index);
		else
			io_uring_prep_write(sqe, fd, op->buf, op->len, op->offset);
		break;
	default:
		io_uring_prep_fsync(sqe, fd, 0);
		break;
	}
	if (idx >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, op);
	op->flags = 0;
}

static int uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct uring_state *s = ctx->priv;
	unsigned queued = 0;
	int r;

	for (; queued < n; queued++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

		/*
		 * SQPOLL: the poller can post completions before it publishes the
		 * SQ head it consumed, so a ring we emptied may look full for a
		 * moment. Wait for the space instead of reporting busy.
		 */
		if (!sqe && !queued && s->sqpoll && io_uring_sqring_wait(&s->ring) >= 0)
			sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		prep(ctx, s, sqe, ops[queued]);
	}
	do
		r = io_uring_submit(&s->ring);
	while (r == -EINTR);
	/*
	 * -EAGAIN/-EBUSY: the kernel is short of resources or the CQ is full;
	 * the SQEs stay queued and go with the next submit.
	 */
	if (r < 0 && r != -EAGAIN && r != -EBUSY)
		return r;
	return (int)queued;
}

static unsigned take(struct uring_state *s, struct iolens_op **out, unsigned max)
{
	unsigned n = io_uring_peek_batch_cqe(&s->ring, s->cqes, max);

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = io_uring_cqe_get_data(s->cqes[i]);

		op->result = s->cqes[i]->res;
		out[i] = op;
	}
	io_uring_cq_advance(&s->ring, n);
	return n;
}

static int uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		      unsigned max, int64_t timeout_ns)
{
	struct uring_state *s = ctx->priv;
	unsigned got = take(s, out, max);

	if (!got && !min && s->defer_taskrun) {
		io_uring_get_events(&s->ring);
		got = take(s, out, max);
	}
	while (got < min) {
		struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
						.tv_nsec = timeout_ns % 1000000000 };
		struct io_uring_cqe *cqe;
		int r;

		ctx->stats.waits++;
		r = io_uring_wait_cqes(&s->ring, &cqe, min - got, timeout_ns < 0 ? NULL : &ts,
				       NULL);
		if (r == -ETIME)
			break;
		if (r < 0 && r != -EINTR)
			return got ? (int)got : r;
		got += take(s, out + got, max - got);
	}
	return (int)got;
}

const struct iolens_backend iolens_backend_io_uring = {
	.name = "io_uring",
	.model = "async completion (kernel)",
	.summary = "liburing: batched SQEs, one submit per batch, CQEs reaped in batches",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC),
	.options = IOLENS_BOPT_SQPOLL | IOLENS_BOPT_FIXED_FILES | IOLENS_BOPT_FIXED_BUFS,
	.probe = uring_probe,
	.init = uring_init,
	.destroy = uring_destroy,
	.submit = uring_submit,
	.reap = uring_reap,
};
