/*
 * The io_uring backend's sockets: the per-descriptor state the multishot
 * and fixed-files options keep, the ops that wait in it, and forget.
 *
 * Sockets: IORING_OP_SEND (MSG_NOSIGNAL), RECV, ACCEPT (SOCK_CLOEXEC) and
 * CONNECT. The kernel tries each one without blocking and, when the socket
 * is not ready, arms its own poll and finishes the operation from the
 * wakeup, so blocking sockets never block a task and -EAGAIN or
 * -EINPROGRESS never reach a CQE. Which of the four this kernel knows is
 * probed at init (SEND/RECV 5.6, ACCEPT/CONNECT 5.5); an unknown one is
 * refused with -EOPNOTSUPP, and stats.setup names what is missing. Plain
 * socket ops are prepared and submitted with the disk ops (submit.c).
 *
 * fixed-files registers opts.files (disk) into the first slots of a sparse
 * table (5.19) and each socket, on its first op, into a free slot after
 * them ("fixed-files=D+S": D disk files, S socket slots). A socket that
 * finds the table full keeps its plain fd: its ops are flagged and counted
 * as fallbacks. Accepted connections are plain fds until they are used.
 *
 * Multishot options keep one op, one completion; ops wait in per-socket
 * queues (fdq) and are completed by the backend into `done`, which reap
 * empties before it looks at the CQ:
 *  - ms-accept (5.19): the first ACCEPT on a listener arms one multishot
 *    accept. Each new connection goes to the oldest waiting ACCEPT, else
 *    into the listener's queue, where the next ACCEPT takes it inside
 *    submit. A queue of ACCEPT_MAX unclaimed connections cancels the
 *    multishot (the rest wait in the kernel's backlog); an ACCEPT that
 *    finds the queue empty arms it again, as does a multishot that ends
 *    while ACCEPTs wait.
 *  - ms-recv (6.0): one ring of provided buffers per context, registered
 *    as group BGID. The first RECV on a socket arms a multishot recv; each
 *    CQE's buffer joins the socket's queue and is copied into waiting RECVs
 *    in order, up to op->len each, one buffer per op at most (a short read,
 *    as recv(2) may give); what is left waits for the next RECV, which then
 *    completes inside submit. This costs one copy per byte received. A
 *    buffer goes back to the ring once consumed. EOF (0) and errors are
 *    kept for the RECVs after the data. -ENOBUFS ends the multishot: the
 *    oldest waiting RECV is then done as a plain recv into its own buffer
 *    (flagged and counted as a fallback), and the multishot is armed again
 *    when it completes, so a socket whose data nobody reads cannot starve
 *    the others. Buffers a socket holds are not capped.
 * iolens_ctx_forget cancels a socket's multishot requests, waits for the
 * cancellation, returns its buffers, closes the connections it queued and
 * frees its registered slot: without that, the requests and the slot would
 * keep the socket open after close(fd).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uring_state.h"

#define ACCEPT_MAX 64u /* unclaimed connections per listener before its multishot stops */

/* Socket ops use their registered slot when they have one. */
void iolens__uring_sock_file(struct io_uring_sqe *sqe, const struct ufd *e)
{
	if (e && e->slot) {
		sqe->fd = e->slot - 1;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

/* Arm the multishot request of `kind` (ARM_*) on fd into sqe. */
static void arm(struct uring_state *s, struct io_uring_sqe *sqe, int fd, struct ufd *e,
		unsigned kind)
{
	if (kind == ARM_ACCEPT) {
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, udata(fd, TAG_ACCEPT));
	} else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		io_uring_sqe_set_data64(sqe, udata(fd, TAG_RECV));
	}
	iolens__uring_sock_file(sqe, e);
	e->armed |= kind;
	s->narmed++;
}

void iolens__uring_cancel(struct uring_state *s, int fd, struct ufd *e, unsigned kind)
{
	struct io_uring_sqe *sqe;

	if (!(e->armed & kind) || (e->cancelling & kind))
		return;
	sqe = iolens__uring_sqe_any(s);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, udata(fd, kind == ARM_ACCEPT ? TAG_ACCEPT : TAG_RECV), 0);
	io_uring_sqe_set_data64(sqe, udata(fd, TAG_CANCEL));
	e->cancelling |= kind;
}

/* A completion the backend made: reap takes it from `done`. */
static void complete(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op,
		     int inline_)
{
	if (inline_) {
		op->flags |= IOLENS_OPF_INLINE;
		ctx->stats.completed_inline++;
	}
	iolens__cq_push(&s->done, op);
}

/* A consumed buffer of ms-recv goes back to the provided-buffer ring. */
void iolens__uring_buf_return(struct uring_state *s, unsigned bid)
{
	io_uring_buf_ring_add(s->br, s->bufmem + (size_t)bid * MS_BUF_SIZE, MS_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(s->nbufs), 0);
	io_uring_buf_ring_advance(s->br, 1);
}

/* Give op what fd has for it: bytes of its oldest buffer, else the error, else EOF. */
static void recv_give(struct uring_state *s, struct ufd *e, struct iolens_op *op)
{
	if (e->bhead) {
		unsigned bid = e->bhead - 1;
		struct rbuf *b = &s->rb[bid];
		uint32_t n = b->len - b->off < op->len ? b->len - b->off : op->len;

		memcpy(op->buf, s->bufmem + (size_t)bid * MS_BUF_SIZE + b->off, n);
		b->off += n;
		op->result = n;
		if (b->off == b->len) {
			e->bhead = b->next;
			if (!e->bhead)
				e->btail = 0;
			iolens__uring_buf_return(s, bid);
		}
	} else if (e->err) {
		op->result = e->err;
		e->err = 0;
	} else {
		op->result = 0;
	}
}

static int recv_has(const struct ufd *e)
{
	return e->bhead || e->err || e->eof;
}

/* Queue a connection accepted on listener e; closed when no node can be had. */
static void acc_push(struct uring_state *s, struct ufd *e, int cfd)
{
	unsigned n;

	if (!s->acc_free) {
		unsigned grow = s->nacc_nodes ? 2 * s->nacc_nodes : 64;
		struct acc_node *a = realloc(s->acc, grow * sizeof(*a));

		if (!a) {
			close(cfd);
			return;
		}
		for (unsigned i = s->nacc_nodes; i < grow; i++)
			a[i].next = i + 1 < grow ? i + 2 : 0;
		s->acc = a;
		s->acc_free = s->nacc_nodes + 1;
		s->nacc_nodes = grow;
	}
	n = s->acc_free;
	s->acc_free = s->acc[n - 1].next;
	s->acc[n - 1] = (struct acc_node){ .fd = cfd };
	if (e->atail)
		s->acc[e->atail - 1].next = n;
	else
		e->ahead = n;
	e->atail = n;
	e->nacc++;
}

/* The oldest queued connection of listener e (it has one). */
int iolens__uring_acc_pop(struct uring_state *s, struct ufd *e)
{
	unsigned n = e->ahead;
	struct acc_node *a = &s->acc[n - 1];
	int cfd = a->fd;

	e->ahead = a->next;
	if (!e->ahead)
		e->atail = 0;
	a->next = s->acc_free;
	s->acc_free = n;
	e->nacc--;
	return cfd;
}

/* Complete fd's waiting RECVs (or ACCEPTs) with what is queued for them. */
static void serve(struct iolens_ctx *ctx, struct uring_state *s, int fd, struct ufd *e)
{
	struct iolens__fdq_slot *sl;

	while ((sl = iolens__fdq_peek(&s->fds, fd, IOLENS__FDQ_IN))) {
		struct iolens_op *op = sl->op;

		if (op->kind == IOLENS_OP_RECV) {
			if (!recv_has(e))
				break;
			recv_give(s, e, op);
		} else {
			if (!e->ahead)
				break;
			op->result = iolens__uring_acc_pop(s, e);
		}
		iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);
		e->nops--;
		complete(ctx, s, op, 0);
	}
}

/*
 * fd's multishot of `kind` ended: arm it again if ops still wait for it.
 * After -ENOBUFS the oldest waiting RECV is done as a plain recv instead,
 * and the multishot is armed again when that completes.
 */
static void rearm(struct iolens_ctx *ctx, struct uring_state *s, int fd, struct ufd *e,
		  unsigned kind, int nobufs)
{
	struct iolens__fdq_slot *sl = iolens__fdq_peek(&s->fds, fd, IOLENS__FDQ_IN);
	struct io_uring_sqe *sqe;
	struct iolens_op *op;

	if (!sl || s->closing || (e->armed & kind) || e->solo)
		return;
	sqe = iolens__uring_sqe_any(s);
	if (!sqe) {
		/* The ring refuses work: the waiting ops fail rather than hang. */
		while (iolens__fdq_peek(&s->fds, fd, IOLENS__FDQ_IN)) {
			op = iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);
			op->result = -EBUSY;
			e->nops--;
			complete(ctx, s, op, 0);
		}
		return;
	}
	if (!nobufs) {
		arm(s, sqe, fd, e, kind);
		return;
	}
	op = iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);
	io_uring_prep_recv(sqe, fd, op->buf, op->len, 0);
	iolens__uring_sock_file(sqe, e);
	io_uring_sqe_set_data(sqe, op);
	op->flags |= IOLENS_OPF_FALLBACK;
	ctx->stats.fallbacks++;
	e->solo = 1;
	s->sqe_ops++;
}

static void buf_queue(struct uring_state *s, struct ufd *e, unsigned bid, uint32_t len)
{
	s->rb[bid] = (struct rbuf){ .len = len };
	if (e->btail)
		s->rb[e->btail - 1].next = bid + 1;
	else
		e->bhead = bid + 1;
	e->btail = bid + 1;
}

/* A CQE of a multishot accept or recv. */
void iolens__uring_on_multishot(struct iolens_ctx *ctx, struct uring_state *s,
				const struct io_uring_cqe *cqe, unsigned tag)
{
	int fd = (int)(cqe->user_data >> TAG_BITS), res = cqe->res;
	unsigned kind = tag == TAG_ACCEPT ? ARM_ACCEPT : ARM_RECV;
	struct ufd *e = ufd_of(s, fd);

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (res > 0 && e && bid < s->nbufs)
			buf_queue(s, e, bid, (uint32_t)res);
		else if (bid < s->nbufs)
			iolens__uring_buf_return(s, bid);
	}
	if (!e) {
		if (tag == TAG_ACCEPT && res >= 0)
			close(res);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && (e->armed & kind)) {
		e->armed &= ~kind;
		e->cancelling &= ~kind;
		s->narmed--;
	}
	if (tag == TAG_ACCEPT) {
		if (res >= 0) {
			acc_push(s, e, res);
		} else if (res != -ECANCELED && iolens__fdq_peek(&s->fds, fd, IOLENS__FDQ_IN)) {
			struct iolens_op *op = iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);

			op->result = res;
			e->nops--;
			complete(ctx, s, op, 0);
		}
		serve(ctx, s, fd, e);
		if (e->nacc >= ACCEPT_MAX)
			iolens__uring_cancel(s, fd, e, ARM_ACCEPT);
	} else {
		if (res == 0)
			e->eof = 1;
		else if (res < 0 && res != -ECANCELED && res != -ENOBUFS)
			e->err = res;
		serve(ctx, s, fd, e);
	}
	if (!(e->armed & kind))
		rearm(ctx, s, fd, e, kind, res == -ENOBUFS);
}

/* An op with an SQE of its own completed (tracked contexts). */
void iolens__uring_op_done(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op)
{
	struct ufd *e;

	s->sqe_ops--;
	if (!is_sock(op) || !(e = ufd_of(s, op->fd)))
		return;
	e->nops--;
	if (op->kind == IOLENS_OP_RECV && e->solo) {
		e->solo = 0;
		if (op->result == 0)
			e->eof = 1;
		serve(ctx, s, op->fd, e);
		rearm(ctx, s, op->fd, e, ARM_RECV, 0);
	}
}

/* fixed-files: a socket's first op registers it into a free slot, if one is left. */
static void slot_take(struct uring_state *s, int fd, struct ufd *e)
{
	if (!s->sock_slots || e->slot || e->unslotted)
		return;
	if (s->nfree_slots) {
		unsigned slot = s->free_slots[--s->nfree_slots];

		if (io_uring_register_files_update(&s->ring, slot, &fd, 1) == 1) {
			e->slot = (int)slot + 1;
			return;
		}
		s->free_slots[s->nfree_slots++] = slot;
	}
	e->unslotted = 1;
}

/*
 * Submit with per-descriptor state. SQEs and ops do not pair up (an op may
 * complete here, join a multishot already armed, or arm one), so what the
 * kernel leaves in the SQ is never taken back: it goes in with the next
 * submit or reap.
 */
int iolens__uring_submit_tracked(struct iolens_ctx *ctx, struct uring_state *s,
				 struct iolens_op *const *ops, unsigned n)
{
	unsigned i;

	iolens__uring_flush_sq(s);
	for (i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];
		struct ufd *e = NULL;
		struct io_uring_sqe *sqe;
		unsigned kind = 0;

		op->flags = 0;
		if (is_sock(op) && op->fd >= 0) {
			e = iolens__fdq_get(&s->fds, op->fd);
			if (!e)
				return i ? (int)i : -ENOMEM;
			slot_take(s, op->fd, e);
			if (op->kind == IOLENS_OP_RECV && (s->ms & IOLENS_BOPT_MS_RECV))
				kind = ARM_RECV;
			else if (op->kind == IOLENS_OP_ACCEPT && (s->ms & IOLENS_BOPT_MS_ACCEPT))
				kind = ARM_ACCEPT;
		}
		if (kind && !iolens__fdq_peek(&s->fds, op->fd, IOLENS__FDQ_IN) &&
		    (kind == ARM_RECV ? recv_has(e) : e->ahead != 0)) {
			/* What came ahead of the op is its result. */
			if (kind == ARM_RECV)
				recv_give(s, e, op);
			else
				op->result = iolens__uring_acc_pop(s, e);
			complete(ctx, s, op, 1);
			continue;
		}
		if (kind && ((e->armed & kind) || e->solo)) {
			iolens__fdq_push(&s->fds, op);
			e->nops++;
			continue;
		}
		sqe = io_uring_get_sqe(&s->ring);
		if (!sqe && s->sqpoll && io_uring_sqring_wait(&s->ring) >= 0)
			sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		if (kind) {
			arm(s, sqe, op->fd, e, kind);
			iolens__fdq_push(&s->fds, op);
		} else {
			iolens__uring_zc_choose(ctx, s, op);
			iolens__uring_prep(ctx, s, sqe, op, e);
			s->sqe_ops++;
			if (e && e->unslotted && !(op->flags & IOLENS_OPF_FALLBACK)) {
				op->flags |= IOLENS_OPF_FALLBACK;
				ctx->stats.fallbacks++;
			}
		}
		if (e)
			e->nops++;
	}
	iolens__uring_flush_sq(s);
	return (int)i;
}

/* Cancel fd's multishot requests and wait until they are gone; drop what they left. */
int iolens__uring_forget(struct iolens_ctx *ctx, int fd)
{
	struct uring_state *s = ctx->priv;
	struct ufd *e = ufd_of(s, fd);
	int err = 0;

	if (e && e->nops)
		return -EBUSY;
	iolens__uring_zc_forget(s, fd);
	if (!e)
		return 0;
	iolens__uring_cancel(s, fd, e, ARM_ACCEPT);
	iolens__uring_cancel(s, fd, e, ARM_RECV);
	err = iolens__uring_flush_sq(s);
	while (e->armed && !err) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&s->ring, &cqe);

		if (r < 0 && r != -EINTR)
			err = r;
		else
			iolens__uring_take(ctx, s, NULL, 0);
	}
	/* A request that could not be waited for no longer counts as armed. */
	s->narmed -= !!(e->armed & ARM_ACCEPT) + !!(e->armed & ARM_RECV);
	while (e->bhead) {
		unsigned bid = e->bhead - 1;

		e->bhead = s->rb[bid].next;
		iolens__uring_buf_return(s, bid);
	}
	while (e->ahead)
		close(iolens__uring_acc_pop(s, e));
	if (e->slot) {
		int none = -1, r = io_uring_register_files_update(&s->ring, (unsigned)e->slot - 1,
								  &none, 1);

		if (r < 0 && !err)
			err = r;
		s->free_slots[s->nfree_slots++] = (unsigned)e->slot - 1;
	}
	iolens__fdq_forget(&s->fds, fd);
	return err;
}
