/*
 * The io_uring backend's submit and reap: a batch becomes SQEs and one
 * io_uring_submit, completions are peeked in a batch and the CQ is advanced
 * once. Disk and socket ops are prepared here alike; a context that keeps
 * per-descriptor state (ms-*, fixed-files) submits through sock.c, and reap
 * takes the completions sock.c made before it looks at the CQ.
 *
 * A batch of socket ops only (without SQPOLL and the per-descriptor
 * options) is not submitted at once: its SQEs wait in the SQ for the
 * next reap, which submits them with its wait in one io_uring_enter
 * (io_uring_submit_and_wait, as event loops do at the bottom of their
 * loop), or, when it does not wait, with IORING_ENTER_GETEVENTS and no
 * wait. A batch with a disk op is submitted at once as before, and takes
 * any held socket SQEs in with it. So an echo request (SEND and RECV, then
 * a reap for both) costs one io_uring_enter. Until the next reap such ops
 * have not reached the kernel; closing the context submits what is held
 * before it waits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>

#include "clock.h"
#include "uring_state.h"

/* Socket SQEs that submit left for the next reap (never under SQPOLL or when tracked). */
int iolens__uring_held(const struct uring_state *s)
{
	return !s->sqpoll && !s->track && io_uring_sq_ready(&s->ring);
}

/* Submit what is queued in the SQ; busy (-EAGAIN, -EBUSY) leaves it for the next call. */
int iolens__uring_flush_sq(struct uring_state *s)
{
	int r = 0;

	while (io_uring_sq_ready(&s->ring)) {
		r = io_uring_submit(&s->ring);
		if (r == -EINTR)
			continue;
		if (r <= 0 || s->sqpoll)
			break;
	}
	return r < 0 && r != -EAGAIN && r != -EBUSY ? r : 0;
}

/* An SQE for a request of the backend's own, submitting what is queued when the SQ is full. */
struct io_uring_sqe *iolens__uring_sqe_any(struct uring_state *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		iolens__uring_flush_sq(s);
		if (s->sqpoll)
			io_uring_sqring_wait(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

/*
 * Move completions to out[], at most max: first those the backend made,
 * then one peeked batch of CQEs. A tracked context takes the whole batch
 * and keeps what does not fit for the next call.
 */
unsigned iolens__uring_take(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op **out,
			    unsigned max)
{
	unsigned got = s->track ? iolens__cq_pop(&s->done, out, max) : 0;
	unsigned batch = s->track ? s->ncqes : (max < s->ncqes ? max : s->ncqes);
	unsigned n = io_uring_peek_batch_cqe(&s->ring, s->cqes, batch);

	for (unsigned i = 0; i < n; i++) {
		const struct io_uring_cqe *cqe = s->cqes[i];
		unsigned tag = (unsigned)(cqe->user_data & TAG_MASK);
		struct iolens_op *op;

		/* Kernels without EXT_ARG: liburing's own timeout for a timed wait. */
		if (cqe->user_data == LIBURING_UDATA_TIMEOUT || tag == TAG_CANCEL)
			continue;
		if (tag != TAG_OP) {
			iolens__uring_on_multishot(ctx, s, cqe, tag);
			continue;
		}
		op = io_uring_cqe_get_data(cqe);
		if (!(op->flags & OPF_ZC))
			op->result = cqe->res;
		else if (!iolens__uring_zc_cqe(ctx, s, op, cqe))
			continue; /* its other CQE is still to come */
		if (s->track)
			iolens__uring_op_done(ctx, s, op);
		if (got < max)
			out[got++] = op;
		else
			iolens__cq_push(&s->done, op);
	}
	io_uring_cq_advance(&s->ring, n);
	if (s->track) {
		got += iolens__cq_pop(&s->done, out + got, max - got);
		iolens__uring_flush_sq(s);
	}
	return got;
}

static int file_index(const struct iolens_ctx *ctx, int fd)
{
	for (unsigned i = 0; i < ctx->opts.nfiles; i++)
		if (ctx->opts.files[i] == fd)
			return (int)i;
	return -1;
}

void iolens__uring_prep(const struct iolens_ctx *ctx, const struct uring_state *s,
			struct io_uring_sqe *sqe, struct iolens_op *op, const struct ufd *e)
{
	/* Disk files are registered from opts.files; sockets get a slot of their own (e). */
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
		if (op->flags & OPF_ZC)
			io_uring_prep_send_zc(sqe, fd, op->buf, op->len, MSG_NOSIGNAL,
					      IORING_SEND_ZC_REPORT_USAGE);
		else
			io_uring_prep_send(sqe, fd, op->buf, op->len, MSG_NOSIGNAL);
		break;
	case IOLENS_OP_RECV:
		io_uring_prep_recv(sqe, fd, op->buf, op->len, 0);
		/*
		 * Wait for data before trying: a RECV is mostly submitted for
		 * an answer not yet sent (an echo's goes in with its SEND),
		 * and the try would fail. With data there the poll fires at
		 * once and the recv runs inline all the same.
		 */
		if (s->recv_poll_first)
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
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
	else if (!disk)
		iolens__uring_sock_file(sqe, e);
	io_uring_sqe_set_data(sqe, op);
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

/*
 * Flag the ops of the batch just submitted whose completion is in the CQ
 * already: the kernel did them inside that io_uring_enter (a read of cached
 * pages issued inline). A CQE with F_MORE is not an op's last (a zero-copy
 * send waits for its notification). Only looks; iolens__uring_take()
 * consumes the CQEs later.
 */
static void mark_inline(struct iolens_ctx *ctx, struct uring_state *s)
{
	struct io_uring_cqe *cqe;
	unsigned head;

	/* Reads the ring only: liburing's peek may enter the kernel to flush. */
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		struct iolens_op *op;

		if (cqe->user_data == LIBURING_UDATA_TIMEOUT ||
		    (cqe->user_data & TAG_MASK) != TAG_OP || (cqe->flags & IORING_CQE_F_MORE))
			continue;
		op = io_uring_cqe_get_data(cqe);
		if (op->flags & IOLENS__OPF_SUBMITTING) {
			op->flags = (uint16_t)((op->flags & ~IOLENS__OPF_SUBMITTING) | IOLENS_OPF_INLINE);
			ctx->stats.completed_inline++;
		}
	}
}

int iolens__uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct uring_state *s = ctx->priv;
	unsigned queued, left, mine;
	int r, sock_only = 1;

	if (s->no_kinds)
		for (unsigned i = 0; i < n; i++)
			if (s->no_kinds & IOLENS_CAP_OP(ops[i]->kind))
				return -EOPNOTSUPP;
	if (s->track)
		return iolens__uring_submit_tracked(ctx, s, ops, n);
	for (queued = 0; queued < n; queued++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

		/* Only when the SQ was clamped below twice the depth. */
		if (!sqe && !queued && s->sqpoll && io_uring_sqring_wait(&s->ring) >= 0)
			sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		ops[queued]->flags = 0;
		iolens__uring_zc_choose(ctx, s, ops[queued]);
		iolens__uring_prep(ctx, s, sqe, ops[queued], NULL);
		sock_only &= is_sock(ops[queued]);
	}
	if (!queued)
		return 0;
	/* Socket ops go in with the next reap's wait (or submit of a disk op). */
	if (sock_only && !s->sqpoll)
		return (int)queued;
	for (unsigned i = 0; i < queued; i++)
		ops[i]->flags |= IOLENS__OPF_SUBMITTING;
	do
		r = io_uring_submit(&s->ring);
	while (r == -EINTR);
	if (!s->sqpoll)
		mark_inline(ctx, s);
	for (unsigned i = 0; i < queued; i++)
		ops[i]->flags &= (uint16_t)~IOLENS__OPF_SUBMITTING;
	if (s->sqpoll) {
		/* The poller takes whatever is in the ring; r only reports the wakeup. */
		if (r < 0 && r != -EAGAIN && r != -EBUSY)
			return r;
		return (int)queued;
	}
	/*
	 * The kernel consumes in order: what it left is this batch's tail,
	 * behind any socket SQEs still waiting from earlier (accepted; they
	 * stay for the next call).
	 */
	left = io_uring_sq_ready(&s->ring);
	mine = left < queued ? left : queued;
	if (mine)
		sq_unqueue(&s->ring, mine);
	/* Not accepted: counted again when they come back. */
	for (unsigned i = queued - mine; i < queued; i++)
		ctx->stats.fallbacks -= !!(ops[i]->flags & IOLENS_OPF_FALLBACK);
	/* -EAGAIN/-EBUSY: the kernel is short of resources; busy, not an error. */
	if (r < 0 && r != -EAGAIN && r != -EBUSY && mine == queued)
		return r;
	return (int)(queued - mine);
}

/*
 * Wait until nr CQEs are visible or left ns (< 0: no limit) pass. SQEs held
 * by submit go in with the wait: one io_uring_enter for both.
 */
static int wait_left(struct uring_state *s, unsigned nr, int64_t left)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int submit = iolens__uring_held(s);

	if (left < 0)
		return submit ? io_uring_submit_and_wait(&s->ring, nr)
			      : io_uring_wait_cqe_nr(&s->ring, &cqe, nr);
	if (left == 0) {
		if (submit)
			io_uring_submit_and_get_events(&s->ring);
		return -ETIME;
	}
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	return submit ? io_uring_submit_and_wait_timeout(&s->ring, &cqe, nr, &ts, NULL)
		      : io_uring_wait_cqes(&s->ring, &cqe, nr, &ts, NULL);
}

/* Wait until nr CQEs are visible or the deadline (< 0: none) passes. */
static int wait_cqes(struct uring_state *s, unsigned nr, int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return wait_left(s, nr, -1);
	left = deadline - iolens__mono_ns();
	return wait_left(s, nr, left > 0 ? left : 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/*
 * cq-spin: wait for nr CQEs by polling the CQ tail, as the SQPOLL thread
 * polls the SQ, so the job thread makes no io_uring_enter at all. An
 * overflowed CQ needs an enter to flush, so that case waits as usual; every
 * 4096 empty polls yield, in case the poller shares this CPU.
 */
static int spin_cqes(struct uring_state *s, unsigned nr, int64_t deadline)
{
	for (unsigned n = 1; io_uring_cq_ready(&s->ring) < nr; n++) {
		if (io_uring_cq_has_overflow(&s->ring))
			return wait_cqes(s, nr, deadline);
		/* A clock read costs more than a poll: look at the deadline every 64th. */
		if (deadline >= 0 && !(n & 63) && iolens__mono_ns() >= deadline)
			return -ETIME;
		if (!(n & 4095))
			sched_yield();
		else
			cpu_relax();
	}
	return 0;
}

int iolens__uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		       int64_t timeout_ns)
{
	struct uring_state *s = ctx->priv;
	unsigned got = iolens__uring_take(ctx, s, out, max);
	int64_t deadline;

	if (got >= min || timeout_ns == 0) {
		if (iolens__uring_held(s)) {
			/* Not waiting: what submit held goes in now, completions done inline with it. */
			int r;

			do
				r = io_uring_submit_and_get_events(&s->ring);
			while (r == -EINTR);
			if (got < max)
				got += iolens__uring_take(ctx, s, out + got, max - got);
		} else if (s->enter_to_peek && got < max && (!got || got < min)) {
			io_uring_get_events(&s->ring);
			got += iolens__uring_take(ctx, s, out + got, max - got);
		}
		return (int)got;
	}
	deadline = timeout_ns < 0 ? -1 : iolens__mono_ns() + timeout_ns;
	for (int first = 1; got < min; first = 0) {
		unsigned nr = s->track ? 1 : min - got;
		int r;

		ctx->stats.waits++;
		/* Multishot CQEs complete any number of ops, from none up: wait for one. */
		if (s->cq_spin)
			r = spin_cqes(s, nr, deadline);
		else if (first) /* the whole timeout: the deadline was read just now */
			r = wait_left(s, nr, timeout_ns < 0 ? -1 : timeout_ns);
		else
			r = wait_cqes(s, nr, deadline);
		if ((r == -EAGAIN || r == -EBUSY) && iolens__uring_held(s)) {
			/* The kernel took none of the held SQEs: take what completed, try again later. */
			got += iolens__uring_take(ctx, s, out + got, max - got);
			break;
		}
		if (r < 0 && r != -EINTR && r != -ETIME)
			return got ? (int)got : r;
		got += iolens__uring_take(ctx, s, out + got, max - got);
		if (r == -ETIME)
			break;
	}
	return (int)got;
}

