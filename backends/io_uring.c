/*
 * io_uring through liburing: a batch becomes SQEs and one io_uring_submit,
 * completions are peeked in a batch and the CQ is advanced once. The ring
 * takes the best setup flags this kernel accepts; stats.setup says which.
 *
 * The ring is bound to the thread that opened the context: SINGLE_ISSUER,
 * DEFER_TASKRUN and the registered ring fd are all per task.
 *
 * Sockets: IORING_OP_SEND (MSG_NOSIGNAL), RECV, ACCEPT (SOCK_CLOEXEC) and
 * CONNECT on the caller's plain descriptors; registered files are only the
 * disk files of opts.files. The kernel tries each one without blocking and,
 * when the socket is not ready, arms its own poll and finishes the operation
 * from the wakeup, so blocking sockets never block a task and -EAGAIN or
 * -EINPROGRESS never reach a CQE. Which of the four this kernel knows is
 * probed at init (SEND/RECV 5.6, ACCEPT/CONNECT 5.5); an unknown one is
 * refused with -EOPNOTSUPP, and stats.setup names what is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "backend.h"

#define SQ_MAX 32768u /* the kernel's IORING_MAX_ENTRIES */
#define SQPOLL_IDLE_MS 1000u

struct uring_state {
	struct io_uring ring;
	struct io_uring_cqe **cqes; /* one peeked batch */
	unsigned ncqes;
	int sqpoll;
	int files_registered;
	int bufs_registered;
	/* DEFER_TASKRUN without TASKRUN_FLAG: nothing completes until we enter. */
	int enter_to_peek;
	uint32_t no_kinds; /* IOLENS_CAP_OP() of the socket ops this kernel lacks */
};

struct setup_rung {
	unsigned flags;
	const char *name;
};

/*
 * Best first; -EINVAL moves down a rung. SUBMIT_ALL (5.18) keeps one bad SQE
 * from stopping the rest of a batch; TASKRUN_FLAG lets a peek see that
 * deferred completions are waiting, so polling needs no syscall.
 */
static const struct setup_rung plain_ladder[] = {
	{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
		  IORING_SETUP_SUBMIT_ALL,
	  "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL" },
	{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	  "SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL" },
	{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
	  "COOP_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL" },
	{ IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL" },
	{ 0, "default" },
};

/* DEFER_TASKRUN needs a task entering the kernel: never with SQPOLL. */
static const struct setup_rung sqpoll_ladder[] = {
	{ IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SUBMIT_ALL,
	  "|SINGLE_ISSUER|SUBMIT_ALL" },
	{ IORING_SETUP_SQPOLL | IORING_SETUP_SUBMIT_ALL, "|SUBMIT_ALL" },
	{ IORING_SETUP_SQPOLL, "" },
};

static int uring_probe(const char **why)
{
	static char reason[128];
	struct io_uring ring;
	const char *hint = "";
	int r = io_uring_queue_init(2, &ring, 0);

	if (!r) {
		io_uring_queue_exit(&ring);
		return 0;
	}
	if (r == -EPERM)
		hint = " (kernel.io_uring_disabled, or a seccomp filter?)";
	else if (r == -ENOSYS)
		hint = " (kernel built without io_uring)";
	else if (r == -ENOMEM)
		hint = " (locked-memory limit?)";
	snprintf(reason, sizeof(reason), "io_uring_setup failed: %s%s", iolens_strerror(r), hint);
	*why = reason;
	return r;
}

static void setup_append(struct iolens_ctx *ctx, const char *fmt, const char *arg)
{
	size_t len = strlen(ctx->stats.setup);

	snprintf(ctx->stats.setup + len, sizeof(ctx->stats.setup) - len, fmt, arg);
}

static int setup_ring(struct iolens_ctx *ctx, struct uring_state *s)
{
	int sqpoll = !!(ctx->opts.flags & IOLENS_BOPT_SQPOLL);
	const struct setup_rung *ladder = sqpoll ? sqpoll_ladder : plain_ladder;
	size_t rungs = sqpoll ? sizeof(sqpoll_ladder) / sizeof(sqpoll_ladder[0])
			      : sizeof(plain_ladder) / sizeof(plain_ladder[0]);
	unsigned idle = ctx->opts.sqpoll_idle_ms ? ctx->opts.sqpoll_idle_ms : SQPOLL_IDLE_MS;
	/*
	 * The CQ gets the kernel default of twice the SQ, enough for depth
	 * completions. Under SQPOLL the poller posts CQEs before it publishes
	 * the SQ head it consumed: an SQ of twice the depth never looks full
	 * to a batch the wrapper allowed.
	 */
	unsigned entries = sqpoll ? 2 * ctx->opts.depth : ctx->opts.depth;
	int r = -EINVAL;

	if (entries > SQ_MAX)
		entries = SQ_MAX;
	for (size_t i = 0; i < rungs; i++) {
		struct io_uring_params p = { .flags = ladder[i].flags };

		if (sqpoll)
			p.sq_thread_idle = idle;
		r = io_uring_queue_init_params(entries, &s->ring, &p);
		if (r == -EINVAL)
			continue;
		if (r)
			return r;
		s->sqpoll = sqpoll;
		s->enter_to_peek = (ladder[i].flags & IORING_SETUP_DEFER_TASKRUN) &&
				   !(ladder[i].flags & IORING_SETUP_TASKRUN_FLAG);
		if (sqpoll)
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
				 "SQPOLL(idle=%ums)%s sq=%u cq=%u", idle, ladder[i].name,
				 p.sq_entries, p.cq_entries);
		else
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "%s sq=%u cq=%u",
				 ladder[i].name, p.sq_entries, p.cq_entries);
		return 0;
	}
	return r;
}

static const struct {
	int kind;
	int opcode;
	const char *name;
} sock_opcodes[] = {
	{ IOLENS_OP_SEND, IORING_OP_SEND, "send" },
	{ IOLENS_OP_RECV, IORING_OP_RECV, "recv" },
	{ IOLENS_OP_ACCEPT, IORING_OP_ACCEPT, "accept" },
	{ IOLENS_OP_CONNECT, IORING_OP_CONNECT, "connect" },
};

/* The socket opcodes this kernel lacks; one without the probe (< 5.6) lacks SEND. */
static void probe_socket_ops(struct iolens_ctx *ctx, struct uring_state *s)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&s->ring);

	for (size_t i = 0; i < sizeof(sock_opcodes) / sizeof(sock_opcodes[0]); i++) {
		if (p && io_uring_opcode_supported(p, sock_opcodes[i].opcode))
			continue;
		s->no_kinds |= IOLENS_CAP_OP(sock_opcodes[i].kind);
		setup_append(ctx, " no-%s", sock_opcodes[i].name);
	}
	if (p)
		io_uring_free_probe(p);
}

static void state_free(struct uring_state *s)
{
	free(s->cqes);
	free(s);
}

static int uring_init(struct iolens_ctx *ctx)
{
	struct uring_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->ncqes = ctx->opts.depth;
	s->cqes = calloc(s->ncqes, sizeof(*s->cqes));
	if (!s->cqes) {
		free(s);
		return -ENOMEM;
	}
	r = setup_ring(ctx, s);
	if (r) {
		state_free(s);
		return r;
	}
	/* Saves an fget/fput per io_uring_enter; the ring works without it. */
	r = io_uring_register_ring_fd(&s->ring);
	if (r == 1)
		setup_append(ctx, " %s", "ring-fd");
	else
		setup_append(ctx, " no-ring-fd(%s)",
			     strerrorname_np(-r) ? strerrorname_np(-r) : "?");
	probe_socket_ops(ctx, s);
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_FILES) {
		r = io_uring_register_files(&s->ring, ctx->opts.files, ctx->opts.nfiles);
		if (r)
			goto fail;
		s->files_registered = 1;
		setup_append(ctx, " %s", "fixed-files");
	}
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_BUFS) {
		r = io_uring_register_buffers(&s->ring, ctx->opts.bufs, ctx->opts.nbufs);
		if (r)
			goto fail;
		s->bufs_registered = 1;
		setup_append(ctx, " %s", "fixed-bufs");
	}
	ctx->priv = s;
	return 0;
fail:
	io_uring_queue_exit(&s->ring);
	state_free(s);
	return r;
}

static void uring_destroy(struct iolens_ctx *ctx)
{
	struct uring_state *s = ctx->priv;
	unsigned left = ctx->inflight;

	/*
	 * Completions the caller did not reap: wait for them so no read lands
	 * in a buffer after close, but leave the ops alone.
	 */
	while (left) {
		struct io_uring_cqe *cqe;
		unsigned n;
		int r = io_uring_wait_cqe(&s->ring, &cqe);

		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		n = io_uring_peek_batch_cqe(&s->ring, s->cqes, s->ncqes);
		for (unsigned i = 0; i < n && left; i++)
			left -= s->cqes[i]->user_data != LIBURING_UDATA_TIMEOUT;
		io_uring_cq_advance(&s->ring, n);
	}
	if (s->bufs_registered)
		io_uring_unregister_buffers(&s->ring);
	if (s->files_registered)
		io_uring_unregister_files(&s->ring);
	io_uring_queue_exit(&s->ring);
	state_free(s);
}

static int file_index(const struct iolens_ctx *ctx, int fd)
{
	for (unsigned i = 0; i < ctx->opts.nfiles; i++)
		if (ctx->opts.files[i] == fd)
			return (int)i;
	return -1;
}

static void prep(const struct iolens_ctx *ctx, const struct uring_state *s,
		 struct io_uring_sqe *sqe, struct iolens_op *op)
{
	/* Only the disk files of opts.files are registered; sockets use their fds. */
	int disk = op->kind <= IOLENS_OP_FSYNC;
	int idx = disk && s->files_registered ? file_index(ctx, op->fd) : -1;
	int fd = idx >= 0 ? idx : op->fd;
	int fixed_buf = s->bufs_registered && op->buf_index >= 0;

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
	case IOLENS_OP_FSYNC:
		io_uring_prep_fsync(sqe, fd, 0);
		break;
	case IOLENS_OP_SEND:
		/* No WAITALL: a partial send completes with what went out. */
		io_uring_prep_send(sqe, fd, op->buf, op->len, MSG_NOSIGNAL);
		break;
	case IOLENS_OP_RECV:
		io_uring_prep_recv(sqe, fd, op->buf, op->len, 0);
		break;
	case IOLENS_OP_ACCEPT:
		io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
		break;
	default:
		/*
		 * The SQE carries a pointer to the sockaddr, which the kernel
		 * copies when it prepares the request: under SQPOLL that is the
		 * poller thread, some time after this submit returns. The op,
		 * and so op->buf, stays alive until it is reaped (the contract),
		 * which is after the kernel is done with it.
		 */
		io_uring_prep_connect(sqe, fd, op->buf, op->len);
		break;
	}
	if (idx >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, op);
	op->flags = 0;
}

/*
 * Take back the last k SQEs, which the kernel did not consume (no memory
 * for requests, or an SQE it could not prepare without SUBMIT_ALL), so the
 * caller can submit those ops again. Safe only without SQPOLL: then the
 * kernel reads the SQ tail only inside io_uring_enter, from this thread.
 */
static void sq_unqueue(struct io_uring *ring, unsigned k)
{
	ring->sq.sqe_tail -= k;
	ring->sq.sqe_head = ring->sq.sqe_tail;
	*ring->sq.ktail = ring->sq.sqe_tail;
}

static int uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct uring_state *s = ctx->priv;
	unsigned queued, left;
	int r;

	if (s->no_kinds)
		for (unsigned i = 0; i < n; i++)
			if (s->no_kinds & IOLENS_CAP_OP(ops[i]->kind))
				return -EOPNOTSUPP;
	for (queued = 0; queued < n; queued++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

		/* Only when the SQ was clamped below twice the depth. */
		if (!sqe && !queued && s->sqpoll && io_uring_sqring_wait(&s->ring) >= 0)
			sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		prep(ctx, s, sqe, ops[queued]);
	}
	if (!queued)
		return 0;
	do
		r = io_uring_submit(&s->ring);
	while (r == -EINTR);
	if (s->sqpoll) {
		/* The poller takes whatever is in the ring; r only reports the wakeup. */
		if (r < 0 && r != -EAGAIN && r != -EBUSY)
			return r;
		return (int)queued;
	}
	left = io_uring_sq_ready(&s->ring);
	if (left)
		sq_unqueue(&s->ring, left);
	/* -EAGAIN/-EBUSY: the kernel is short of resources; busy, not an error. */
	if (r < 0 && r != -EAGAIN && r != -EBUSY && left == queued)
		return r;
	return (int)(queued - left);
}

static unsigned take(struct uring_state *s, struct iolens_op **out, unsigned max)
{
	unsigned n = io_uring_peek_batch_cqe(&s->ring, s->cqes, max < s->ncqes ? max : s->ncqes);
	unsigned got = 0;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op;

		/* Kernels without EXT_ARG: liburing's own timeout for a timed wait. */
		if (s->cqes[i]->user_data == LIBURING_UDATA_TIMEOUT)
			continue;
		op = io_uring_cqe_get_data(s->cqes[i]);
		op->result = s->cqes[i]->res;
		out[got++] = op;
	}
	io_uring_cq_advance(&s->ring, n);
	return got;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Wait until nr CQEs are visible or the deadline (< 0: none) passes. */
static int wait_cqes(struct uring_state *s, unsigned nr, int64_t deadline)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int64_t left;

	if (deadline < 0)
		return io_uring_wait_cqe_nr(&s->ring, &cqe, nr);
	left = deadline - now_ns();
	if (left <= 0)
		return -ETIME;
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	return io_uring_wait_cqes(&s->ring, &cqe, nr, &ts, NULL);
}

static int uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		      int64_t timeout_ns)
{
	struct uring_state *s = ctx->priv;
	unsigned got = take(s, out, max);
	int64_t deadline;

	if (got >= min || timeout_ns == 0) {
		if (s->enter_to_peek && got < max && (!got || got < min)) {
			io_uring_get_events(&s->ring);
			got += take(s, out + got, max - got);
		}
		return (int)got;
	}
	deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
	while (got < min) {
		int r;

		ctx->stats.waits++;
		r = wait_cqes(s, min - got, deadline);
		if (r < 0 && r != -EINTR && r != -ETIME)
			return got ? (int)got : r;
		got += take(s, out + got, max - got);
		if (r == -ETIME)
			break;
	}
	return (int)got;
}

const struct iolens_backend iolens_backend_io_uring = {
	.name = "io_uring",
	.model = IOLENS_MODEL_ASYNC_KERNEL,
	.summary = "liburing: one submit per batch, CQEs peeked in batches; sockets: kernel poll",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_SQPOLL | IOLENS_BOPT_FIXED_FILES | IOLENS_BOPT_FIXED_BUFS,
	.probe = uring_probe,
	.init = uring_init,
	.destroy = uring_destroy,
	.submit = uring_submit,
	.reap = uring_reap,
};
