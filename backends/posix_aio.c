/*
 * posix-aio: glibc's aio_read/aio_write/aio_fsync. glibc performs each
 * request with an ordinary blocking call on a helper thread of its own, so
 * this is asynchronous I/O emulated with threads in user space.
 *
 * Sockets:
 *  - RECV is aio_read and SEND is aio_write. The helper thread tries
 *    pread/pwrite, which Linux refuses on a socket with ESPIPE, and then
 *    makes a plain read/write: one blocking call, so a short transfer is the
 *    result, a shut-down peer reads 0 and a reset one fails ECONNRESET. The
 *    offset is set to 0 so the pread cannot fail EINVAL before the ESPIPE.
 *  - SIGPIPE: write() has no MSG_NOSIGNAL, and on a socket whose peer is gone
 *    the kernel sends SIGPIPE to the thread that wrote. On Linux glibc
 *    creates every aio helper thread with all signals blocked (it blocks
 *    them in the creating thread around pthread_create), so the signal stays
 *    pending on that helper thread, which never unblocks it and drops it
 *    when it exits; the write fails EPIPE and that is the op's result. The
 *    signal is directed at the thread, not the process, so no other thread
 *    can take it. Nothing here has to change the caller's signal mask.
 *  - glibc runs the requests of one descriptor one after another on one
 *    thread: a SEND queued behind a RECV that waits for data waits too.
 *  - ACCEPT and CONNECT have no aio_* call. They are done here, as one plain
 *    blocking accept4 (close-on-exec) or connect inside submit, and complete
 *    inline (IOLENS_OPF_INLINE, stats.completed_inline): submit returns when
 *    a connection came in or the connect finished.
 *
 * Reap: aio_error on every request in flight (one pass, in submission
 * order), then, if fewer than it waits for are done, aio_suspend and again.
 * A wakeup out of aio_suspend is dear: glibc's helper thread calls
 * __aio_notify with glibc's one AIO mutex held, so the woken job thread
 * preempts it, blocks on that mutex at once and must be woken a second
 * time: four context switches, on the helper's CPU when both are pinned
 * there. So when every request in flight is a file request (READ, WRITE,
 * FSYNC) on one descriptor, reap waits for three quarters of them (at least
 * min, at most max) rather than for min: glibc runs one descriptor's
 * requests one after another on one thread in submission order (all have
 * the same priority), so aio_suspend on the request that many places down
 * the queue returns when exactly those are done, one wakeup per batch, and
 * file requests complete without the caller's help, so the wait cannot
 * hang on them. The quarter still queued keeps the helper busy while the
 * job thread refills. Whatever else is in flight (sockets, several
 * descriptors, a READ on a pipe or a socket, which may wait for the
 * caller) keeps the plain rule: aio_suspend on all of them, return once
 * min are done. A timeout of 0 never waits. What a descriptor is, is
 * looked up once (fstat) until iolens_ctx_forget says it was closed.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "cq.h"
#include "syncop.h"

struct aio_state {
	struct aiocb *cbs;
	struct iolens_op **owner;  /* slot -> op, NULL when free */
	unsigned *free_slots;
	unsigned nfree;
	struct aiocb **busy;       /* in flight, in submission order: aio_suspend's list */
	unsigned nbusy;
	unsigned nsock;            /* of those, SEND and RECV */
	int one_fd;                /* the descriptor of all of them, or -1 */
	int one_fd_file;           /* one_fd is a regular file or a block device */
	int seen_fd, seen_file;    /* the last descriptor looked at, and what it was */
	struct iolens__cq done;    /* finished in submit (refused or inline), result set */
};

static void aio_state_free(struct aio_state *s)
{
	iolens__cq_free(&s->done);
	free(s->cbs);
	free(s->owner);
	free(s->free_slots);
	free(s->busy);
	free(s);
}

static int paio_init(struct iolens_ctx *ctx)
{
	unsigned depth = ctx->opts.depth;
	struct aio_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cbs = calloc(depth, sizeof(*s->cbs));
	s->owner = calloc(depth, sizeof(*s->owner));
	s->free_slots = calloc(depth, sizeof(*s->free_slots));
	s->busy = calloc(depth, sizeof(*s->busy));
	s->one_fd = -1;
	s->seen_fd = -1;
	if (!s->cbs || !s->owner || !s->free_slots || !s->busy ||
	    iolens__cq_init(&s->done, depth)) {
		aio_state_free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < depth; i++)
		s->free_slots[s->nfree++] = depth - 1 - i;
	if (ctx->opts.flags & IOLENS_BOPT_THREADS) {
		/* Process-wide: affects glibc's pool for every context from now on. */
		struct aioinit ai = { .aio_threads = (int)ctx->opts.aio_threads,
				      .aio_num = (int)depth };

		aio_init(&ai);
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "aio_threads=%u",
			 ctx->opts.aio_threads);
	} else {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "aio_threads=glibc default");
	}
	ctx->priv = s;
	return 0;
}

static int is_socket_op(int kind)
{
	return kind == IOLENS_OP_SEND || kind == IOLENS_OP_RECV;
}

/*
 * A regular file or a block device: its requests finish without the
 * caller's help (a READ on a pipe or a socket may wait for the caller to
 * write). One fstat per new descriptor; a run keeps one.
 */
static int is_file(struct aio_state *s, int fd)
{
	struct stat st;

	if (fd != s->seen_fd) {
		s->seen_fd = fd;
		s->seen_file = !fstat(fd, &st) && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	}
	return s->seen_file;
}

static int start(struct aiocb *cb, int kind)
{
	switch (kind) {
	case IOLENS_OP_READ:
	case IOLENS_OP_RECV:
		return aio_read(cb);
	case IOLENS_OP_WRITE:
	case IOLENS_OP_SEND:
		return aio_write(cb);
	default:
		return aio_fsync(O_SYNC, cb);
	}
}

static int paio_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct aio_state *s = ctx->priv;
	unsigned i;

	for (i = 0; i < n && s->nfree; i++) {
		struct iolens_op *op = ops[i];
		unsigned slot = s->free_slots[s->nfree - 1];
		struct aiocb *cb = &s->cbs[slot];

		if (op->kind == IOLENS_OP_ACCEPT || op->kind == IOLENS_OP_CONNECT) {
			iolens__syncop(op);
			op->flags = IOLENS_OPF_INLINE;
			ctx->stats.completed_inline++;
			iolens__cq_push(&s->done, op);
			continue;
		}
		memset(cb, 0, sizeof(*cb));
		cb->aio_fildes = op->fd;
		cb->aio_buf = op->buf;
		cb->aio_nbytes = op->len;
		/* Sockets ignore the offset; 0 lets glibc's pread fail ESPIPE, not EINVAL. */
		cb->aio_offset = is_socket_op(op->kind) ? 0 : (off_t)op->offset;
		cb->aio_sigevent.sigev_notify = SIGEV_NONE;
		op->flags = 0;
		if (start(cb, op->kind)) {
			if (errno == EAGAIN)
				break; /* busy: the caller resubmits the rest */
			op->result = -errno;
			iolens__cq_push(&s->done, op);
			continue;
		}
		s->nfree--;
		s->owner[slot] = op;
		if (!s->nbusy) {
			s->one_fd = op->fd;
			s->one_fd_file = is_file(s, op->fd);
		} else if (s->one_fd != op->fd) {
			s->one_fd = -1;
		}
		s->nsock += is_socket_op(op->kind);
		s->busy[s->nbusy++] = cb;
	}
	return (int)i;
}

/* Move finished requests to out[]; returns how many. Keeps busy[] in order. */
static unsigned collect(struct aio_state *s, struct iolens_op **out, unsigned max)
{
	unsigned got = iolens__cq_pop(&s->done, out, max), kept = 0, i;

	for (i = 0; i < s->nbusy && got < max; i++) {
		struct aiocb *cb = s->busy[i];
		int err = aio_error(cb);
		unsigned slot;
		struct iolens_op *op;

		if (err == EINPROGRESS) {
			s->busy[kept++] = cb;
			continue;
		}
		slot = (unsigned)(cb - s->cbs);
		op = s->owner[slot];
		op->result = err ? -err : (int64_t)aio_return(cb);
		out[got++] = op;
		s->nsock -= is_socket_op(op->kind);
		s->owner[slot] = NULL;
		s->free_slots[s->nfree++] = slot;
	}
	if (kept != i)
		memmove(&s->busy[kept], &s->busy[i], (s->nbusy - i) * sizeof(*s->busy));
	s->nbusy -= i - kept;
	return got;
}

/* Every request in flight is a file request on one descriptor: glibc completes them in order. */
static int in_order(const struct aio_state *s)
{
	return s->nbusy && !s->nsock && s->one_fd >= 0 && s->one_fd_file;
}

static int paio_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		     unsigned max, int64_t timeout_ns)
{
	struct aio_state *s = ctx->priv;
	unsigned got = collect(s, out, max), want = min;
	int ordered = in_order(s);

	if (ordered && min && timeout_ns) {
		unsigned share = (got + s->nbusy) * 3 / 4;

		if (share > want)
			want = share;
		if (want > max)
			want = max;
	}
	while (got < want && s->nbusy) {
		struct timespec ts = { .tv_sec = timeout_ns / 1000000000,
				       .tv_nsec = timeout_ns % 1000000000 };
		const struct aiocb *const *list = (const struct aiocb *const *)s->busy;
		int n = (int)s->nbusy;

		if (ordered) {
			/* The (want - got)th in line finishes after all before it. */
			unsigned k = want - got - 1;

			list += k < s->nbusy ? k : s->nbusy - 1;
			n = 1;
		}
		ctx->stats.waits++;
		if (aio_suspend(list, n, timeout_ns < 0 ? NULL : &ts)) {
			if (errno == EAGAIN)
				return (int)(got + collect(s, out + got, max - got));
			if (errno != EINTR)
				return got ? (int)got : -errno;
		}
		got += collect(s, out + got, max - got);
	}
	return (int)got;
}

static int paio_forget(struct iolens_ctx *ctx, int fd)
{
	struct aio_state *s = ctx->priv;

	if (fd == s->seen_fd)
		s->seen_fd = -1;
	return 0;
}

static void paio_destroy(struct iolens_ctx *ctx)
{
	struct aio_state *s = ctx->priv;

	unsigned stalls = 0;

	/*
	 * glibc threads still write into our aiocbs and buffers: wait them out,
	 * while they keep finishing. glibc cancels only what no thread has
	 * started; a thread inside a call on a socket whose peer is stopped
	 * returns only when the socket is shut down, so after a second with no
	 * completion the state is left allocated (the threads may still write
	 * into it) rather than freed under them.
	 */
	for (unsigned i = 0; i < s->nbusy; i++)
		aio_cancel(s->busy[i]->aio_fildes, s->busy[i]);
	while (s->nbusy && stalls < 10) {
		struct iolens_op *sink[64];
		const struct timespec tenth = { 0, 100000000 };
		unsigned before = s->nbusy;

		aio_suspend((const struct aiocb *const *)s->busy, (int)s->nbusy, &tenth);
		collect(s, sink, 64);
		stalls = s->nbusy < before ? 0 : stalls + 1;
	}
	if (!s->nbusy)
		aio_state_free(s);
}

const struct iolens_backend iolens_backend_posix_aio = {
	.name = "posix-aio",
	.model = IOLENS_MODEL_ASYNC_THREADS,
	.summary = "glibc aio_read/write/fsync + aio_suspend (threads); accept/connect inline",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_THREADS,
	.init = paio_init,
	.destroy = paio_destroy,
	.submit = paio_submit,
	.reap = paio_reap,
	.forget = paio_forget,
};
