/*
 * The io_uring backend through liburing, its setup and teardown: the probe,
 * the ring, what init registers, destroy, and the backend table. submit.c
 * holds submit and reap, sock.c the per-socket state of the multishot and
 * fixed-files options; uring_state.h is what the three share.
 *
 * The ring takes the best setup flags this kernel accepts; stats.setup says
 * which. The ring is bound to the thread that opened the context:
 * SINGLE_ISSUER, DEFER_TASKRUN and the registered ring fd are all per task.
 *
 * ms-accept and ms-recv need the kernel to know them: init probes a
 * register opcode of the same release (PBUF_RING 5.19, SYNC_CANCEL 6.0) and
 * returns -EOPNOTSUPP without it; send-zc is probed likewise (send_zc.c).
 * iopoll adds IORING_SETUP_IOPOLL to every rung once iopoll.c has checked
 * that the files can be polled; the ring then takes reads and writes only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "uring_state.h"

#define SQ_MAX 32768u /* the kernel's IORING_MAX_ENTRIES */
#define CQ_MAX 65536u /* IORING_MAX_CQ_ENTRIES */
#define SQPOLL_IDLE_MS 1000u

#define MS_BUFS_MIN 256u /* provided buffers: 2 x depth, within these bounds */
#define MS_BUFS_MAX 4096u
#define SOCK_SLOTS_MIN 1024u /* registered-file slots for sockets: 2 x depth, at least this */

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
	int iopoll = !!(ctx->opts.flags & IOLENS_BOPT_IOPOLL);
	char cpu_text[24] = "";
	int r = -EINVAL;

	if (ctx->opts.flags & IOLENS_BOPT_SQPOLL_CPU)
		snprintf(cpu_text, sizeof(cpu_text), ",cpu=%u", ctx->opts.sqpoll_cpu);

	if (entries > SQ_MAX)
		entries = SQ_MAX;
	for (size_t i = 0; i < rungs; i++) {
		struct io_uring_params p = { .flags = ladder[i].flags };

		if (iopoll)
			p.flags |= IORING_SETUP_IOPOLL;
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
		s->enter_to_peek = ((ladder[i].flags & IORING_SETUP_DEFER_TASKRUN) &&
				    !(ladder[i].flags & IORING_SETUP_TASKRUN_FLAG)) ||
				   (iopoll && !sqpoll);
		s->iopoll = iopoll;
		/* SINGLE_ISSUER came in 6.0, after POLL_FIRST (5.19). */
		s->recv_poll_first = !!(ladder[i].flags & IORING_SETUP_SINGLE_ISSUER);
		if (sqpoll)
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
				 "SQPOLL(idle=%ums%s)%s%s sq=%u cq=%u", idle, cpu_text, ladder[i].name,
				 s->cq_spin ? " cq-spin" : "", p.sq_entries, p.cq_entries);
		else
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "%s sq=%u cq=%u",
				 ladder[i].name, p.sq_entries, p.cq_entries);
		if (iopoll)
			setup_append(ctx, " %s", "iopoll");
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
	free(s->zcfd);
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
		iolens__uring_buf_return(s, b);
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
	struct uring_state *s;
	unsigned depth = ctx->opts.depth;
	int r;

	if (ctx->opts.flags & IOLENS_BOPT_IOPOLL) {
		r = iolens__uring_iopoll_check(ctx);
		if (r)
			return r;
	}
	s = calloc(1, sizeof(*s));
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
	if (s->iopoll)
		s->no_kinds = IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
			      IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
			      IOLENS_CAP_OP(IOLENS_OP_CONNECT);
	else
		probe_socket_ops(ctx, s);
	if (ctx->opts.flags & IOLENS_BOPT_SEND_ZC) {
		r = iolens__uring_zc_probe(ctx, s);
		if (r)
			goto fail;
		setup_append(ctx, " %s", "send-zc");
	}
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

/*
 * Close waits at most this long for the next CQE of what it cancelled: a
 * socket request ends at once, a disk request the device holds may not,
 * and is left to the ring's teardown.
 */
#define DESTROY_STALL_NS 1000000000LL

/* Ask the kernel to end every request in flight: each completes, -ECANCELED if not done. */
static void cancel_everything(struct uring_state *s)
{
	struct io_uring_sqe *sqe = iolens__uring_sqe_any(s);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, udata(0, TAG_CANCEL));
	iolens__uring_flush_sq(s);
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

		iolens__uring_cancel(s, fd, e, ARM_ACCEPT);
		iolens__uring_cancel(s, fd, e, ARM_RECV);
	}
	if (s->sqe_ops && !s->iopoll)
		cancel_everything(s);
	iolens__uring_flush_sq(s);
	while (s->narmed || s->sqe_ops) {
		struct io_uring_cqe *cqe;
		int r = wait_one(s, &cqe, &deadline);

		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		iolens__uring_take(ctx, s, NULL, 0);
	}
	for (int fd = 0; (size_t)fd < s->fds.ntab; fd++) {
		struct ufd *e = iolens__fdq_find(&s->fds, fd);

		while (e->ahead)
			close(iolens__uring_acc_pop(s, e));
	}
}

static void uring_destroy(struct iolens_ctx *ctx)
{
	struct uring_state *s = ctx->priv;
	/* A zero-copy send whose notification came first is done with its buffer. */
	unsigned left = ctx->inflight - s->zc_early;

	int64_t deadline = iolens__mono_ns() + DESTROY_STALL_NS;

	/*
	 * Completions the caller did not reap: cancel them and wait for their
	 * CQEs so no read lands in a buffer after close, but leave the ops
	 * alone. Ops submit held go in first, as a reap would have sent them.
	 * Each op has one CQE without F_MORE, after which the kernel no longer
	 * touches its buffer: a zero-copy send's notification, any other op's
	 * only CQE.
	 */
	if (iolens__uring_held(s))
		iolens__uring_flush_sq(s);
	if (s->track)
		untrack_all(ctx, s);
	else if (left && !s->iopoll) /* an IOPOLL ring refuses cancels; its reads end anyway */
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
		for (unsigned i = 0; i < n && left; i++) {
			const struct io_uring_cqe *c = s->cqes[i];

			left -= c->user_data != LIBURING_UDATA_TIMEOUT &&
				(c->user_data & TAG_MASK) == TAG_OP &&
				!(c->flags & IORING_CQE_F_MORE);
		}
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
		   IOLENS_BOPT_CQ_SPIN | IOLENS_BOPT_SEND_ZC | IOLENS_BOPT_IOPOLL,
	.probe = uring_probe,
	.init = uring_init,
	.destroy = uring_destroy,
	.submit = iolens__uring_submit,
	.reap = iolens__uring_reap,
	.forget = iolens__uring_forget,
};
