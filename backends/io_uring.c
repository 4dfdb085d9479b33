/*
 * One piece, ~1,400 lines, because disk and socket ops share one ring, one
 * SQE/CQE path and the multishot and registered-file state; issue 18 splits
 * the socket ops and multishot recv into a file of their own behind the same
 * backend table.
 *
 * io_uring through liburing: a batch becomes SQEs and one io_uring_submit,
 * completions are peeked in a batch and the CQ is advanced once. The ring
 * takes the best setup flags this kernel accepts; stats.setup says which.
 *
 * A batch of socket ops only (without SQPOLL and the per-descriptor
 * options below) is not submitted at once: its SQEs wait in the SQ for the
 * next reap, which submits them with its wait in one io_uring_enter
 * (io_uring_submit_and_wait, as event loops do at the bottom of their
 * loop), or, when it does not wait, with IORING_ENTER_GETEVENTS and no
 * wait. A batch with a disk op is submitted at once as before, and takes
 * any held socket SQEs in with it. So an echo request (SEND and RECV, then
 * a reap for both) costs one io_uring_enter. Until the next reap such ops
 * have not reached the kernel; closing the context submits what is held
 * before it waits.
 *
 * The ring is bound to the thread that opened the context: SINGLE_ISSUER,
 * DEFER_TASKRUN and the registered ring fd are all per task.
 *
 * Sockets: IORING_OP_SEND (MSG_NOSIGNAL), RECV, ACCEPT (SOCK_CLOEXEC) and
 * CONNECT. The kernel tries each one without blocking and, when the socket
 * is not ready, arms its own poll and finishes the operation from the
 * wakeup, so blocking sockets never block a task and -EAGAIN or
 * -EINPROGRESS never reach a CQE. Which of the four this kernel knows is
 * probed at init (SEND/RECV 5.6, ACCEPT/CONNECT 5.5); an unknown one is
 * refused with -EOPNOTSUPP, and stats.setup names what is missing.
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
 * Both need the kernel to know them: init probes a register opcode of the
 * same release (PBUF_RING 5.19, SYNC_CANCEL 6.0) and returns -EOPNOTSUPP
 * without it. iolens_ctx_forget cancels a socket's multishot requests,
 * waits for the cancellation, returns its buffers, closes the connections
 * it queued and frees its registered slot: without that, the requests and
 * the slot would keep the socket open after close(fd).

 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "cq.h"
#include "fdq.h"

#define SQ_MAX 32768u /* the kernel's IORING_MAX_ENTRIES */
#define CQ_MAX 65536u /* IORING_MAX_CQ_ENTRIES */
#define SQPOLL_IDLE_MS 1000u

#define MS_BUF_SIZE 16384u  /* one provided buffer */
#define MS_BUFS_MIN 256u    /* provided buffers: 2 x depth, within these bounds */
#define MS_BUFS_MAX 4096u
#define BGID 1              /* the buffer group of the provided-buffer ring */
#define SOCK_SLOTS_MIN 1024u /* registered-file slots for sockets: 2 x depth, at least this */
#define ACCEPT_MAX 64u      /* unclaimed connections per listener before its multishot stops */

/*
 * user_data: an op pointer (8-byte aligned: tag 0), or a request of the
 * backend's own, the descriptor shifted over its tag.
 */
#define TAG_BITS 3
#define TAG_MASK 7u
enum { TAG_OP, TAG_ACCEPT, TAG_RECV, TAG_CANCEL };

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
	/* DEFER_TASKRUN without TASKRUN_FLAG: nothing completes until we enter. */
	int enter_to_peek;
	int recv_poll_first; /* the kernel knows IORING_RECVSEND_POLL_FIRST (5.19) */
	uint32_t no_kinds; /* IOLENS_CAP_OP() of the socket ops this kernel lacks */

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
	char cpu_text[24] = "";
	int r = -EINVAL;

	if (ctx->opts.flags & IOLENS_BOPT_SQPOLL_CPU)
		snprintf(cpu_text, sizeof(cpu_text), ",cpu=%u", ctx->opts.sqpoll_cpu);

	if (entries > SQ_MAX)
		entries = SQ_MAX;
	for (size_t i = 0; i < rungs; i++) {
		struct io_uring_params p = { .flags = ladder[i].flags };

		if (s->ms) {
			/* Multishot requests post CQEs no op accounts for: a larger CQ. */
			unsigned cq = 2 * entries + s->nbufs + 64;

			p.flags |= IORING_SETUP_CQSIZE;
			p.cq_entries = cq > CQ_MAX ? CQ_MAX : cq;
		}
		if (sqpoll)
			p.sq_thread_idle = idle;
		if (ctx->opts.flags & IOLENS_BOPT_SQPOLL_CPU) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = ctx->opts.sqpoll_cpu;
		}
		r = io_uring_queue_init_params(entries, &s->ring, &p);
		if (r == -EINVAL)
			continue;
		if (r)
			return r;
		s->sqpoll = sqpoll;
		s->cq_spin = sqpoll && (ctx->opts.flags & IOLENS_BOPT_CQ_SPIN);
		s->enter_to_peek = (ladder[i].flags & IORING_SETUP_DEFER_TASKRUN) &&
				   !(ladder[i].flags & IORING_SETUP_TASKRUN_FLAG);
		/* SINGLE_ISSUER came in 6.0, after POLL_FIRST (5.19). */
		s->recv_poll_first = !!(ladder[i].flags & IORING_SETUP_SINGLE_ISSUER);
		if (sqpoll)
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
				 "SQPOLL(idle=%ums%s)%s%s sq=%u cq=%u", idle, cpu_text, ladder[i].name,
				 s->cq_spin ? " cq-spin" : "", p.sq_entries, p.cq_entries);
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
	iolens__fdq_free(&s->fds);
	iolens__cq_free(&s->done);
	free(s->free_slots);
	free(s->br);
	free(s->bufmem);
	free(s->rb);
	free(s->acc);
	free(s->cqes);
	free(s);
}

/*
 * Kernel support of the multishot options, told by a register opcode of
 * the same release: unregistering a buffer group that does not exist says
 * -ENOENT from 5.19 (multishot accept, buffer rings), a sync cancel that
 * finds nothing says it from 6.0 (multishot recv); older kernels, -EINVAL.
 */
static int ms_probe(struct iolens_ctx *ctx, struct uring_state *s)
{
	struct io_uring_sync_cancel_reg reg = { .addr = ~0ull };

	if (io_uring_unregister_buf_ring(&s->ring, BGID) != -ENOENT) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "not supported: ms-accept, ms-recv need Linux 5.19 (buffer rings)");
		return -EOPNOTSUPP;
	}
	if ((s->ms & IOLENS_BOPT_MS_RECV) &&
	    io_uring_register_sync_cancel(&s->ring, &reg) != -ENOENT) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "not supported: ms-recv needs Linux 6.0 (multishot recv)");
		return -EOPNOTSUPP;
	}
	return 0;
}

static void buf_return(struct uring_state *s, unsigned bid)
{
	io_uring_buf_ring_add(s->br, s->bufmem + (size_t)bid * MS_BUF_SIZE, MS_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(s->nbufs), 0);
	io_uring_buf_ring_advance(s->br, 1);
}

/* The provided-buffer ring of ms-recv: nbufs buffers of MS_BUF_SIZE, all given to the kernel. */
static int bufs_setup(struct uring_state *s)
{
	struct io_uring_buf_reg reg = { .ring_entries = s->nbufs, .bgid = BGID };
	long page = sysconf(_SC_PAGESIZE);
	void *ring = NULL, *mem = NULL;
	int r;

	if (posix_memalign(&ring, (size_t)page, s->nbufs * sizeof(struct io_uring_buf)))
		return -ENOMEM;
	s->br = ring;
	if (posix_memalign(&mem, (size_t)page, (size_t)s->nbufs * MS_BUF_SIZE))
		return -ENOMEM;
	s->bufmem = mem;
	s->rb = calloc(s->nbufs, sizeof(*s->rb));
	if (!s->rb)
		return -ENOMEM;
	reg.ring_addr = (uintptr_t)ring;
	r = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (r)
		return r;
	s->br_registered = 1;
	io_uring_buf_ring_init(s->br);
	for (unsigned b = 0; b < s->nbufs; b++)
		buf_return(s, b);
	return 0;
}

/*
 * fixed-files: a sparse table, opts.files in its first slots and the rest
 * for sockets. A kernel without sparse tables (< 5.19) gets opts.files
 * only, and sockets keep their fds.
 */
static int files_setup(struct iolens_ctx *ctx, struct uring_state *s)
{
	unsigned nfiles = ctx->opts.nfiles, socks = 2 * ctx->opts.depth;
	struct rlimit rl;
	int r;

	if (socks < SOCK_SLOTS_MIN)
		socks = SOCK_SLOTS_MIN;
	/* The kernel refuses a table larger than RLIMIT_NOFILE (EMFILE). */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    nfiles + socks > rl.rlim_cur)
		socks = rl.rlim_cur > nfiles ? (unsigned)(rl.rlim_cur - nfiles) : 0;
	r = socks ? io_uring_register_files_sparse(&s->ring, nfiles + socks) : -EINVAL;
	if (r == 0) {
		s->files_registered = 1;
		if (nfiles) {
			r = io_uring_register_files_update(&s->ring, 0, ctx->opts.files, nfiles);
			if (r < 0)
				return r;
		}
		s->free_slots = malloc(socks * sizeof(*s->free_slots));
		if (!s->free_slots)
			return -ENOMEM;
		for (unsigned i = 0; i < socks; i++)
			s->free_slots[i] = nfiles + socks - 1 - i;
		s->nfree_slots = socks;
		s->sock_slots = 1;
		snprintf(ctx->stats.setup + strlen(ctx->stats.setup),
			 sizeof(ctx->stats.setup) - strlen(ctx->stats.setup), " fixed-files=%u+%u",
			 nfiles, socks);
		return 0;
	}
	if (!nfiles)
		return r;
	r = io_uring_register_files(&s->ring, ctx->opts.files, nfiles);
	if (r)
		return r;
	s->files_registered = 1;
	setup_append(ctx, " %s", "fixed-files(no-sock-slots)");
	return 0;
}

static int uring_init(struct iolens_ctx *ctx)
{
	struct uring_state *s = calloc(1, sizeof(*s));
	unsigned depth = ctx->opts.depth;
	int r;

	if (!s)
		return -ENOMEM;
	s->ms = ctx->opts.flags & (IOLENS_BOPT_MS_ACCEPT | IOLENS_BOPT_MS_RECV);
	s->track = s->ms || (ctx->opts.flags & IOLENS_BOPT_FIXED_FILES);
	if (s->ms & IOLENS_BOPT_MS_RECV)
		for (s->nbufs = MS_BUFS_MIN; s->nbufs < 2 * depth && s->nbufs < MS_BUFS_MAX;)
			s->nbufs *= 2;
	/* Multishot CQEs come in bursts: a batch of at least 32. */
	s->ncqes = s->ms && depth < 32 ? 32 : depth;
	s->cqes = calloc(s->ncqes, sizeof(*s->cqes));
	if (!s->cqes) {
		free(s);
		return -ENOMEM;
	}
	if (s->track && (iolens__fdq_init(&s->fds, depth, sizeof(struct ufd)) ||
			 iolens__cq_init(&s->done, depth))) {
		state_free(s);
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
	if (s->ms) {
		r = ms_probe(ctx, s);
		if (r)
			goto fail;
	}
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_FILES) {
		r = files_setup(ctx, s);
		if (r)
			goto fail;
	}
	if (ctx->opts.flags & IOLENS_BOPT_FIXED_BUFS) {
		r = io_uring_register_buffers(&s->ring, ctx->opts.bufs, ctx->opts.nbufs);
		if (r)
			goto fail;
		s->bufs_registered = 1;
		setup_append(ctx, " %s", "fixed-bufs");
	}
	if (s->ms & IOLENS_BOPT_MS_ACCEPT)
		setup_append(ctx, " %s", "ms-accept");
	if (s->ms & IOLENS_BOPT_MS_RECV) {
		r = bufs_setup(s);
		if (r)
			goto fail;
		snprintf(ctx->stats.setup + strlen(ctx->stats.setup),
			 sizeof(ctx->stats.setup) - strlen(ctx->stats.setup), " ms-recv=%ux%uk",
			 s->nbufs, MS_BUF_SIZE / 1024);
	}
	ctx->priv = s;
	return 0;
fail:
	io_uring_queue_exit(&s->ring);
	state_free(s);
	return r;
}

static uint64_t udata(int fd, unsigned tag)
{
	return (uint64_t)(unsigned)fd << TAG_BITS | tag;
}

static struct ufd *ufd_of(const struct uring_state *s, int fd)
{
	return s->track ? iolens__fdq_find(&s->fds, fd) : NULL;
}

/* Socket SQEs that submit left for the next reap (never under SQPOLL or when tracked). */
static int held(const struct uring_state *s)
{
	return !s->sqpoll && !s->track && io_uring_sq_ready(&s->ring);
}

/* Submit what is queued in the SQ; busy (-EAGAIN, -EBUSY) leaves it for the next call. */
static int flush_sq(struct uring_state *s)
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
static struct io_uring_sqe *sqe_any(struct uring_state *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		flush_sq(s);
		if (s->sqpoll)
			io_uring_sqring_wait(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

/* Socket ops use their registered slot when they have one. */
static void sock_file(struct io_uring_sqe *sqe, const struct ufd *e)
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
	sock_file(sqe, e);
	e->armed |= kind;
	s->narmed++;
}

static void cancel(struct uring_state *s, int fd, struct ufd *e, unsigned kind)
{
	struct io_uring_sqe *sqe;

	if (!(e->armed & kind) || (e->cancelling & kind))
		return;
	sqe = sqe_any(s);
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
			buf_return(s, bid);
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
static int acc_pop(struct uring_state *s, struct ufd *e)
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
			op->result = acc_pop(s, e);
		}
		iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);
		e->nops--;
		complete(ctx, s, op, 0);
	}
}

static int is_sock(const struct iolens_op *op)
{
	return op->kind >= IOLENS_OP_SEND && op->kind <= IOLENS_OP_CONNECT;
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
	sqe = sqe_any(s);
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
	sock_file(sqe, e);
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
static void on_multishot(struct iolens_ctx *ctx, struct uring_state *s,
			 const struct io_uring_cqe *cqe, unsigned tag)
{
	int fd = (int)(cqe->user_data >> TAG_BITS), res = cqe->res;
	unsigned kind = tag == TAG_ACCEPT ? ARM_ACCEPT : ARM_RECV;
	struct ufd *e = ufd_of(s, fd);
	struct iolens__fdq_slot *sl;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (res > 0 && e && bid < s->nbufs)
			buf_queue(s, e, bid, (uint32_t)res);
		else if (bid < s->nbufs)
			buf_return(s, bid);
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
		} else if (res != -ECANCELED &&
			   (sl = iolens__fdq_peek(&s->fds, fd, IOLENS__FDQ_IN))) {
			struct iolens_op *op = iolens__fdq_pop(&s->fds, fd, IOLENS__FDQ_IN);

			op->result = res;
			e->nops--;
			complete(ctx, s, op, 0);
		}
		serve(ctx, s, fd, e);
		if (e->nacc >= ACCEPT_MAX)
			cancel(s, fd, e, ARM_ACCEPT);
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
static void op_done(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op)
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

/*
 * Move completions to out[], at most max: first those the backend made,
 * then one peeked batch of CQEs. A tracked context takes the whole batch
 * and keeps what does not fit for the next call.
 */
static unsigned take(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op **out,
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
			on_multishot(ctx, s, cqe, tag);
			continue;
		}
		op = io_uring_cqe_get_data(cqe);
		op->result = cqe->res;
		if (s->track)
			op_done(ctx, s, op);
		if (got < max)
			out[got++] = op;
		else
			iolens__cq_push(&s->done, op);
	}
	io_uring_cq_advance(&s->ring, n);
	if (s->track) {
		got += iolens__cq_pop(&s->done, out + got, max - got);
		flush_sq(s);
	}
	return got;
}

/*
 * Close waits at most this long for the next CQE of what it cancelled: a
 * socket request ends at once, a disk request the device holds may not,
 * and is left to the ring's teardown.
 */
#define DESTROY_STALL_NS 1000000000LL

/* Ask the kernel to end every request in flight: each completes, -ECANCELED if not done. */
static void cancel_everything(struct uring_state *s)
{
	struct io_uring_sqe *sqe = sqe_any(s);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, udata(0, TAG_CANCEL));
	flush_sq(s);
}

/* One CQE, or -ETIME once *deadline passes; each CQE moves the deadline on. */
static int wait_one(struct uring_state *s, struct io_uring_cqe **cqe, int64_t *deadline)
{
	int64_t left = *deadline - iolens__mono_ns();
	struct __kernel_timespec ts;
	int r;

	if (left <= 0)
		return -ETIME;
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	r = io_uring_wait_cqe_timeout(&s->ring, cqe, &ts);
	if (r == 0)
		*deadline = iolens__mono_ns() + DESTROY_STALL_NS;
	return r;
}

/* Tracked contexts: cancel every multishot, close unclaimed connections. */
static void untrack_all(struct iolens_ctx *ctx, struct uring_state *s)
{
	int64_t deadline = iolens__mono_ns() + DESTROY_STALL_NS;

	s->closing = 1;
	for (int fd = 0; (size_t)fd < s->fds.ntab; fd++) {
		struct ufd *e = iolens__fdq_find(&s->fds, fd);

		cancel(s, fd, e, ARM_ACCEPT);
		cancel(s, fd, e, ARM_RECV);
	}
	if (s->sqe_ops)
		cancel_everything(s);
	flush_sq(s);
	while (s->narmed || s->sqe_ops) {
		struct io_uring_cqe *cqe;
		int r = wait_one(s, &cqe, &deadline);

		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		take(ctx, s, NULL, 0);
	}
	for (int fd = 0; (size_t)fd < s->fds.ntab; fd++) {
		struct ufd *e = iolens__fdq_find(&s->fds, fd);

		while (e->ahead)
			close(acc_pop(s, e));
	}
}

static void uring_destroy(struct iolens_ctx *ctx)
{
	struct uring_state *s = ctx->priv;
	unsigned left = ctx->inflight;

	int64_t deadline = iolens__mono_ns() + DESTROY_STALL_NS;

	/*
	 * Completions the caller did not reap: cancel them and wait for their
	 * CQEs so no read lands in a buffer after close, but leave the ops
	 * alone. Ops submit held go in first, as a reap would have sent them.
	 */
	if (held(s))
		flush_sq(s);
	if (s->track)
		untrack_all(ctx, s);
	else if (left)
		cancel_everything(s);
	while (left && !s->track) {
		struct io_uring_cqe *cqe;
		unsigned n;
		int r = wait_one(s, &cqe, &deadline);

		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		n = io_uring_peek_batch_cqe(&s->ring, s->cqes, s->ncqes);
		for (unsigned i = 0; i < n && left; i++)
			left -= s->cqes[i]->user_data != LIBURING_UDATA_TIMEOUT;
		io_uring_cq_advance(&s->ring, n);
	}
	if (s->br_registered)
		io_uring_unregister_buf_ring(&s->ring, BGID);
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
		sock_file(sqe, e);
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
static int submit_tracked(struct iolens_ctx *ctx, struct uring_state *s,
			  struct iolens_op *const *ops, unsigned n)
{
	unsigned i;

	flush_sq(s);
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
				op->result = acc_pop(s, e);
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
			prep(ctx, s, sqe, op, e);
			s->sqe_ops++;
			if (e && e->unslotted) {
				op->flags |= IOLENS_OPF_FALLBACK;
				ctx->stats.fallbacks++;
			}
		}
		if (e)
			e->nops++;
	}
	flush_sq(s);
	return (int)i;
}

/*
 * Flag the ops of the batch just submitted whose completion is in the CQ
 * already: the kernel did them inside that io_uring_enter (a read of cached
 * pages issued inline). Only looks; take() consumes the CQEs later.
 */
static void mark_inline(struct iolens_ctx *ctx, struct uring_state *s)
{
	struct io_uring_cqe *cqe;
	unsigned head;

	/* Reads the ring only: liburing's peek may enter the kernel to flush. */
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		struct iolens_op *op;

		if (cqe->user_data == LIBURING_UDATA_TIMEOUT || (cqe->user_data & TAG_MASK) != TAG_OP)
			continue;
		op = io_uring_cqe_get_data(cqe);
		if (op->flags & IOLENS__OPF_SUBMITTING) {
			op->flags = (uint16_t)((op->flags & ~IOLENS__OPF_SUBMITTING) | IOLENS_OPF_INLINE);
			ctx->stats.completed_inline++;
		}
	}
}

static int uring_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct uring_state *s = ctx->priv;
	unsigned queued, left, mine;
	int r, sock_only = 1;

	if (s->no_kinds)
		for (unsigned i = 0; i < n; i++)
			if (s->no_kinds & IOLENS_CAP_OP(ops[i]->kind))
				return -EOPNOTSUPP;
	if (s->track)
		return submit_tracked(ctx, s, ops, n);
	for (queued = 0; queued < n; queued++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

		/* Only when the SQ was clamped below twice the depth. */
		if (!sqe && !queued && s->sqpoll && io_uring_sqring_wait(&s->ring) >= 0)
			sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		ops[queued]->flags = 0;
		prep(ctx, s, sqe, ops[queued], NULL);
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
	int submit = held(s);

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

static int uring_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		      int64_t timeout_ns)
{
	struct uring_state *s = ctx->priv;
	unsigned got = take(ctx, s, out, max);
	int64_t deadline;

	if (got >= min || timeout_ns == 0) {
		if (held(s)) {
			/* Not waiting: what submit held goes in now, completions done inline with it. */
			int r;

			do
				r = io_uring_submit_and_get_events(&s->ring);
			while (r == -EINTR);
			if (got < max)
				got += take(ctx, s, out + got, max - got);
		} else if (s->enter_to_peek && got < max && (!got || got < min)) {
			io_uring_get_events(&s->ring);
			got += take(ctx, s, out + got, max - got);
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
		if ((r == -EAGAIN || r == -EBUSY) && held(s)) {
			/* The kernel took none of the held SQEs: take what completed, try again later. */
			got += take(ctx, s, out + got, max - got);
			break;
		}
		if (r < 0 && r != -EINTR && r != -ETIME)
			return got ? (int)got : r;
		got += take(ctx, s, out + got, max - got);
		if (r == -ETIME)
			break;
	}
	return (int)got;
}

/* Cancel fd's multishot requests and wait until they are gone; drop what they left. */
static int uring_forget(struct iolens_ctx *ctx, int fd)
{
	struct uring_state *s = ctx->priv;
	struct ufd *e = ufd_of(s, fd);
	int err = 0;

	if (!e)
		return 0;
	if (e->nops)
		return -EBUSY;
	cancel(s, fd, e, ARM_ACCEPT);
	cancel(s, fd, e, ARM_RECV);
	err = flush_sq(s);
	while (e->armed && !err) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&s->ring, &cqe);

		if (r < 0 && r != -EINTR)
			err = r;
		else
			take(ctx, s, NULL, 0);
	}
	/* A request that could not be waited for no longer counts as armed. */
	s->narmed -= !!(e->armed & ARM_ACCEPT) + !!(e->armed & ARM_RECV);
	while (e->bhead) {
		unsigned bid = e->bhead - 1;

		e->bhead = s->rb[bid].next;
		buf_return(s, bid);
	}
	while (e->ahead)
		close(acc_pop(s, e));
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

const struct iolens_backend iolens_backend_io_uring = {
	.name = "io_uring",
	.model = IOLENS_MODEL_ASYNC_KERNEL,
	.summary = "liburing: one submit per batch, CQEs peeked in batches; sockets: kernel poll, "
		   "submitted with the reap's wait",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_SQPOLL | IOLENS_BOPT_FIXED_FILES | IOLENS_BOPT_FIXED_BUFS |
		   IOLENS_BOPT_MS_ACCEPT | IOLENS_BOPT_MS_RECV | IOLENS_BOPT_SQPOLL_CPU |
		   IOLENS_BOPT_CQ_SPIN,
	.probe = uring_probe,
	.init = uring_init,
	.destroy = uring_destroy,
	.submit = uring_submit,
	.reap = uring_reap,
	.forget = uring_forget,
};
