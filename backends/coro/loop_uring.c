/*
 * coro: coroutines on an io_uring event loop. Each op's body is what a
 * blocking program would write (co_read(fd, buf, len, off), co_recv, ...);
 * each such call fills an SQE whose user_data is the task and suspends the
 * coroutine. submit only starts bodies: it makes no system call. reap is
 * the loop: one io_uring_submit_and_wait hands in every SQE the bodies
 * queued and waits for the completions asked for (with min 0, or a reap
 * that has what it needs, a submit that only collects, and none at all
 * when nothing is queued), then resumes the task of each CQE with the
 * CQE's result, which its body returns as the op's result. So no op ever
 * completes inside submit: on page-cached files the kernel completes the
 * reads inside the reap's io_uring_enter, which also submitted them.
 *
 * Results are the kernel's, as the io_uring backend gives them: a short
 * read only at end of file, 0 at it, -errno. Sockets: IORING_OP_SEND with
 * MSG_NOSIGNAL, RECV (poll first where the kernel has it, as io_uring),
 * ACCEPT with SOCK_CLOEXEC, CONNECT; the kernel waits for readiness
 * itself, so the descriptors stay blocking.
 *
 * A plain ring: the best of DEFER_TASKRUN or COOP_TASKRUN this kernel
 * takes and a registered ring fd, as the io_uring backend sets up by
 * default; no SQPOLL, registered files or buffers. bare: the same bodies
 * fill the same SQEs, but return at once, and each CQE writes its op's
 * result directly.
 *
 * destroy submits what is queued, cancels everything in the kernel
 * (IORING_ASYNC_CANCEL_ANY) and waits for each completion as io_uring's
 * destroy does, a second at most since the last; it never resumes a
 * coroutine, and nothing of the kernel's points into a stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "clock.h"
#include "coro_state.h"

#define SQ_MAX 32768u          /* the kernel's IORING_MAX_ENTRIES */
#define UD_CANCEL 1ull         /* destroy's cancel; tasks are never at odd addresses */
#define DESTROY_STALL_NS 1000000000LL

struct uring_loop {
	struct coro co; /* first: ctx->priv is both */
	struct io_uring ring;
	int ring_ok;
	int poll_first; /* RECV waits for data before trying (IORING_RECVSEND_POLL_FIRST) */
	struct io_uring_cqe **cqes;
	unsigned ncqes;
	unsigned in_ring; /* tasks whose SQE is queued or in the kernel */
};

static const struct {
	unsigned flags;
	const char *name;
} rungs[] = {
	{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	  "defer-taskrun" },
	{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop-taskrun" },
	{ 0, "default" },
};

static struct uring_loop *loop_of(const struct co_task *t)
{
	return (struct uring_loop *)t->s;
}

/* An SQE for t; a full SQ (depth past SQ_MAX) is handed in first. NULL: the ring refuses. */
static struct io_uring_sqe *sqe_get(struct co_task *t)
{
	struct uring_loop *u = loop_of(t);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* t's request is in sqe: wait for its CQE (bare: the CQE finishes the op). */
static int64_t sqe_await(struct co_task *t, struct io_uring_sqe *sqe)
{
	struct uring_loop *u = loop_of(t);

	io_uring_sqe_set_data(sqe, t);
	u->in_ring++;
	if (u->co.bare)
		return CO_PENDING;
	iolens__coro_suspend(&u->co, t);
	return t->res;
}

/* The blocking calls a body makes, each one SQE and one suspension. */
static int64_t co_read(struct co_task *t, int fd, void *buf, uint32_t len, uint64_t off)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, len, off);
	return sqe_await(t, sqe);
}

static int64_t co_write(struct co_task *t, int fd, const void *buf, uint32_t len, uint64_t off)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, fd, buf, len, off);
	return sqe_await(t, sqe);
}

static int64_t co_fsync(struct co_task *t, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, 0);
	return sqe_await(t, sqe);
}

static int64_t co_send(struct co_task *t, int fd, const void *buf, uint32_t len)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	return sqe_await(t, sqe);
}

static int64_t co_recv(struct co_task *t, int fd, void *buf, uint32_t len)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	if (loop_of(t)->poll_first)
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	return sqe_await(t, sqe);
}

static int64_t co_accept(struct co_task *t, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	return sqe_await(t, sqe);
}

/* The kernel copies the address when it prepares the request, inside the enter. */
static int64_t co_connect(struct co_task *t, int fd, const void *addr, uint32_t len)
{
	struct io_uring_sqe *sqe = sqe_get(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_connect(sqe, fd, addr, len);
	return sqe_await(t, sqe);
}

static int64_t uring_body(struct co_task *t)
{
	struct iolens_op *op = t->op;

	switch (op->kind) {
	case IOLENS_OP_READ:
		return co_read(t, op->fd, op->buf, op->len, op->offset);
	case IOLENS_OP_WRITE:
		return co_write(t, op->fd, op->buf, op->len, op->offset);
	case IOLENS_OP_FSYNC:
		return co_fsync(t, op->fd);
	case IOLENS_OP_SEND:
		return co_send(t, op->fd, op->buf, op->len);
	case IOLENS_OP_RECV:
		return co_recv(t, op->fd, op->buf, op->len);
	case IOLENS_OP_ACCEPT:
		return co_accept(t, op->fd);
	default:
		return co_connect(t, op->fd, op->buf, op->len);
	}
}

static int uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct uring_loop *u = ctx->priv;

	/* Only an op the ring refused an SQE completes in here (-EBUSY). */
	u->co.in_submit = 1;
	for (unsigned i = 0; i < n; i++) {
		ops[i]->flags = 0;
		iolens__coro_start(&u->co, ops[i]);
	}
	u->co.in_submit = 0;
	return (int)n;
}

/* Resume the task of every CQE there (bare: complete its op). */
static void take_cqes(struct uring_loop *u)
{
	unsigned n = io_uring_peek_batch_cqe(&u->ring, u->cqes, u->ncqes);

	for (unsigned i = 0; i < n; i++) {
		const struct io_uring_cqe *cqe = u->cqes[i];
		struct co_task *t;

		if (cqe->user_data == UD_CANCEL || cqe->user_data == LIBURING_UDATA_TIMEOUT)
			continue;
		t = io_uring_cqe_get_data(cqe);
		u->in_ring--;
		if (u->co.bare) {
			iolens__coro_complete(&u->co, t, cqe->res);
		} else {
			t->res = cqe->res;
			iolens__coro_resume(&u->co, t);
		}
	}
	io_uring_cq_advance(&u->ring, n);
}

/* Hand in what is queued and wait for nr CQEs, until deadline (< 0: none). */
static int wait_cqes(struct uring_loop *u, unsigned nr, int64_t deadline)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int64_t left;

	if (deadline < 0)
		return io_uring_submit_and_wait(&u->ring, nr);
	left = deadline - iolens__mono_ns();
	if (left <= 0)
		return -ETIME;
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	return io_uring_submit_and_wait_timeout(&u->ring, &cqe, nr, &ts, NULL);
}

static int uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		      int64_t timeout_ns)
{
	struct uring_loop *u = ctx->priv;
	unsigned got = iolens__cq_pop(&u->co.rd.done, out, max);
	int64_t deadline;
	int r;

	if (got >= min || timeout_ns == 0) {
		/* No wait: what the bodies queued goes in anyway, with a look at what is done. */
		if (io_uring_sq_ready(&u->ring))
			while (io_uring_submit_and_get_events(&u->ring) == -EINTR)
				;
		take_cqes(u);
		return (int)(got + iolens__cq_pop(&u->co.rd.done, out + got, max - got));
	}
	deadline = timeout_ns < 0 ? -1 : iolens__mono_ns() + timeout_ns;
	while (got < min) {
		ctx->stats.waits++;
		r = wait_cqes(u, min - got, deadline);
		take_cqes(u);
		got += iolens__cq_pop(&u->co.rd.done, out + got, max - got);
		if (r == -ETIME || r == -EAGAIN || r == -EBUSY)
			break;
		if (r < 0 && r != -EINTR)
			return got ? (int)got : r;
	}
	return (int)got;
}

static int uring_probe(const char **why)
{
	static char reason[96];
	struct io_uring ring;
	int r = io_uring_queue_init(2, &ring, 0);

	if (!r) {
		io_uring_queue_exit(&ring);
		return 0;
	}
	snprintf(reason, sizeof(reason), "io_uring_setup failed: %s", iolens_strerror(r));
	*why = reason;
	return r;
}

static int ring_setup(struct iolens_ctx *ctx, struct uring_loop *u, char *loop, size_t len)
{
	unsigned entries = ctx->opts.depth < SQ_MAX ? ctx->opts.depth : SQ_MAX;
	int r = -EINVAL;

	for (size_t i = 0; i < sizeof(rungs) / sizeof(rungs[0]); i++) {
		r = io_uring_queue_init(entries, &u->ring, rungs[i].flags);
		if (r == -EINVAL)
			continue;
		if (r)
			return r;
		u->ring_ok = 1;
		/* SINGLE_ISSUER came in 6.0, after POLL_FIRST (5.19). */
		u->poll_first = !!(rungs[i].flags & IORING_SETUP_SINGLE_ISSUER);
		r = io_uring_register_ring_fd(&u->ring);
		snprintf(loop, len, "loop io_uring (%s%s)", rungs[i].name,
			 r == 1 ? ", ring-fd" : "");
		return 0;
	}
	return r;
}

/* destroy: cancel what the kernel holds and wait for every CQE, a stall at most. */
static void drain(struct uring_loop *u)
{
	int64_t deadline = iolens__mono_ns() + DESTROY_STALL_NS;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UD_CANCEL);
	}
	io_uring_submit(&u->ring);
	while (u->in_ring) {
		int64_t left = deadline - iolens__mono_ns();
		struct __kernel_timespec ts = { left / 1000000000, left % 1000000000 };
		struct io_uring_cqe *cqe;
		unsigned n;
		int r;

		if (left <= 0)
			break;
		r = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		n = io_uring_peek_batch_cqe(&u->ring, u->cqes, u->ncqes);
		for (unsigned i = 0; i < n; i++)
			u->in_ring -= u->cqes[i]->user_data != UD_CANCEL &&
				      u->cqes[i]->user_data != LIBURING_UDATA_TIMEOUT;
		io_uring_cq_advance(&u->ring, n);
		deadline = iolens__mono_ns() + DESTROY_STALL_NS;
	}
}

static void uring_destroy(struct iolens_ctx *ctx)
{
	struct uring_loop *u = ctx->priv;

	if (!u)
		return;
	if (u->ring_ok) {
		if (u->in_ring)
			drain(u);
		io_uring_queue_exit(&u->ring);
	}
	iolens__coro_free(&u->co);
	free(u->cqes);
	free(u);
}

static int uring_init(struct iolens_ctx *ctx)
{
	struct uring_loop *u = calloc(1, sizeof(*u));
	char loop[48];
	int r;

	if (!u)
		return -ENOMEM;
	ctx->priv = u;
	u->ncqes = ctx->opts.depth;
	u->cqes = calloc(u->ncqes, sizeof(*u->cqes));
	r = u->cqes ? ring_setup(ctx, u, loop, sizeof(loop)) : -ENOMEM;
	if (!r)
		r = iolens__coro_init(ctx, &u->co, loop, uring_body);
	if (r) {
		uring_destroy(ctx);
		ctx->priv = NULL;
	}
	return r;
}

const struct iolens_backend iolens_backend_coro = {
	.name = "coro",
	.model = IOLENS_MODEL_ASYNC_KERNEL,
	.summary = "a coroutine per op on an io_uring loop: the body fills an SQE and suspends, "
		   "reap submits and waits in one enter and resumes",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_UCONTEXT | IOLENS_BOPT_BARE,
	.probe = uring_probe,
	.init = uring_init,
	.destroy = uring_destroy,
	.submit = uring_submit,
	.reap = uring_reap,
};
