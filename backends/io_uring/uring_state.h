/*
 * Private to backends/io_uring/: the state its files share and the
 * functions one of them calls in another (iolens__uring_*); what only one
 * file uses stays static there.
 *
 *   setup.c   the probe, ring setup, registration, init, destroy, the table
 *   submit.c  prep, submit, the inline marking, reap (wait, spin, take)
 *   sock.c    per-socket queues: multishot accept and recv, rearm, cancel,
 *             fixed-file slots for sockets, forget
 *   send_zc.c send-zc: the probe, which sockets send zero-copy, the two
 *             CQEs of a zero-copy send
 *   iopoll.c  iopoll: whether the files can be polled
 */
#ifndef IOLENS_URING_STATE_H
#define IOLENS_URING_STATE_H

#include <liburing.h>
#include <stdint.h>

#include "backend.h"
#include "cq.h"
#include "fdq.h"

#define MS_BUF_SIZE 16384u  /* one provided buffer */
#define BGID 1              /* the buffer group of the provided-buffer ring */

/*
 * user_data: an op pointer (8-byte aligned: tag 0), or a request of the
 * backend's own, the descriptor shifted over its tag.
 */
#define TAG_BITS 3
#define TAG_MASK 7u
enum { TAG_OP, TAG_ACCEPT, TAG_RECV, TAG_CANCEL };

/*
 * Backend-private op flags beside IOLENS__OPF_SUBMITTING, cleared before
 * reap returns the op: a SEND that went out as IORING_OP_SEND_ZC, and one
 * of its two CQEs (result, notification) is in.
 */
#define OPF_ZC 0x4000u
#define OPF_ZC_HALF 0x2000u

/* liburing 2.3 predates the send-zc usage report (Linux 6.2); the values are the kernel's ABI. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define ARM_ACCEPT 0x1u /* ufd.armed: a multishot accept is in the kernel */
#define ARM_RECV 0x2u   /* a multishot recv is */

/* Per socket, when something is kept per descriptor (ms-*, fixed-files). */
struct ufd {
	struct iolens__fdq_fd q; /* first: ms ACCEPT/RECV ops waiting, oldest first */
	unsigned nops;           /* socket ops in flight, for forget */
	int slot;                /* registered-file slot + 1, 0 for none */
	uint8_t armed;           /* ARM_* */
	uint8_t cancelling;      /* ARM_* with a cancel on its way */
	uint8_t solo;            /* a plain RECV stands in for the multishot */
	uint8_t eof;             /* the peer shut down: RECVs after the data get 0 */
	uint8_t unslotted;       /* the table was full when it came */
	int err;                 /* a recv error no op took yet */
	unsigned bhead, btail;   /* received buffers, bid + 1, oldest first */
	unsigned ahead, atail;   /* accepted connections, node + 1 */
	unsigned nacc;
};

struct rbuf {
	uint32_t len;  /* bytes received into it */
	uint32_t off;  /* bytes already handed out */
	unsigned next; /* the next buffer of the same socket, bid + 1 */
};

struct acc_node {
	int fd;
	unsigned next; /* node + 1 */
};

struct uring_state {
	struct io_uring ring;
	struct io_uring_cqe **cqes; /* one peeked batch */
	unsigned ncqes;
	int sqpoll;
	int cq_spin; /* SQPOLL and CQ_SPIN: reap polls the CQ instead of entering */
	int files_registered;
	int bufs_registered;
	/*
	 * Nothing completes until we enter: DEFER_TASKRUN without
	 * TASKRUN_FLAG, or IOPOLL without SQPOLL (the enter polls the device).
	 */
	int enter_to_peek;
	int iopoll;
	int recv_poll_first; /* the kernel knows IORING_RECVSEND_POLL_FIRST (5.19) */
	uint32_t no_kinds; /* IOLENS_CAP_OP() of the socket ops this kernel lacks */

	/*
	 * send-zc. zc_early: notifications in before their send's result
	 * (the kernel posts the result first; nothing here relies on it).
	 */
	int zc;
	uint8_t *zcfd; /* per descriptor: ZCFD_* */
	unsigned nzcfd;
	unsigned zc_early;

	/* Per descriptor: only with ms-accept, ms-recv or fixed-files. */
	int track;
	uint32_t ms;             /* IOLENS_BOPT_MS_* */
	int closing;             /* destroy: arm nothing more */
	struct iolens__fdq fds;  /* entries are struct ufd */
	struct iolens__cq done;  /* completed by the backend, for reap */
	unsigned sqe_ops;        /* ops with an SQE of their own in flight */
	unsigned narmed;         /* multishot requests in the kernel */
	int sock_slots;          /* sockets may take registered-file slots */
	unsigned *free_slots;    /* free socket slots, a stack */
	unsigned nfree_slots;
	struct io_uring_buf_ring *br;
	unsigned nbufs;
	char *bufmem;
	struct rbuf *rb;
	int br_registered;
	struct acc_node *acc; /* queued connections of every listener */
	unsigned nacc_nodes;
	unsigned acc_free; /* node + 1 */
};

/* Helpers every file uses, small enough that each file keeps an inline copy. */
static inline uint64_t udata(int fd, unsigned tag)
{
	return (uint64_t)(unsigned)fd << TAG_BITS | tag;
}

static inline struct ufd *ufd_of(const struct uring_state *s, int fd)
{
	return s->track ? iolens__fdq_find(&s->fds, fd) : NULL;
}

static inline int is_sock(const struct iolens_op *op)
{
	return op->kind >= IOLENS_OP_SEND && op->kind <= IOLENS_OP_CONNECT;
}

/* submit.c */
int iolens__uring_held(const struct uring_state *s);
int iolens__uring_flush_sq(struct uring_state *s);
struct io_uring_sqe *iolens__uring_sqe_any(struct uring_state *s);
unsigned iolens__uring_take(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op **out,
			    unsigned max);
void iolens__uring_prep(const struct iolens_ctx *ctx, const struct uring_state *s,
			struct io_uring_sqe *sqe, struct iolens_op *op, const struct ufd *e);
int iolens__uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n);
int iolens__uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		       int64_t timeout_ns);

/* send_zc.c */
int iolens__uring_zc_probe(struct iolens_ctx *ctx, struct uring_state *s);
void iolens__uring_zc_choose(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op);
int iolens__uring_zc_cqe(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op,
			 const struct io_uring_cqe *cqe);
void iolens__uring_zc_forget(struct uring_state *s, int fd);

/* iopoll.c */
int iolens__uring_iopoll_check(struct iolens_ctx *ctx);

/* sock.c */
void iolens__uring_sock_file(struct io_uring_sqe *sqe, const struct ufd *e);
void iolens__uring_cancel(struct uring_state *s, int fd, struct ufd *e, unsigned kind);
void iolens__uring_buf_return(struct uring_state *s, unsigned bid);
int iolens__uring_acc_pop(struct uring_state *s, struct ufd *e);
void iolens__uring_on_multishot(struct iolens_ctx *ctx, struct uring_state *s,
				const struct io_uring_cqe *cqe, unsigned tag);
void iolens__uring_op_done(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op);
int iolens__uring_submit_tracked(struct iolens_ctx *ctx, struct uring_state *s,
				 struct iolens_op *const *ops, unsigned n);
int iolens__uring_forget(struct iolens_ctx *ctx, int fd);

#endif
