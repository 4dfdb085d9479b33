/*
 * libaio: Linux native AIO, io_setup/io_submit/io_getevents. The kernel
 * queues only O_DIRECT file I/O; on a buffered file io_submit performs the
 * read or write itself before it returns. libaio returns -errno directly.
 *
 * Sockets: native AIO has no send, recv, accept or connect that waits in the
 * kernel (IOCB_CMD_PREAD/PWRITE on a socket run synchronously inside
 * io_submit and would block the caller). What it does have is IOCB_CMD_POLL
 * (Linux 4.18, libaio 0.3.111): a one-shot readiness wait completed through
 * the same ring. So a socket op is submitted as a poll iocb, POLLIN for RECV
 * and ACCEPT, POLLOUT for SEND and CONNECT, and when reap gets the poll's
 * event it makes the plain call itself: recv/send with MSG_DONTWAIT (send
 * with MSG_NOSIGNAL), so a wakeup that finds nothing to do cannot block, or
 * accept4 (close-on-exec). A call that would still block re-arms the poll
 * and the op stays in flight. This is readiness driven by an async
 * interface: the data moves in the reaping thread, not in the kernel.
 *  - ACCEPT: accept4 has no per-call non-blocking flag, and the listener is
 *    blocking, so the accept is made only if poll(2) with a zero timeout
 *    still sees a connection: several ACCEPTs on one listener all wake for
 *    one connection. An acceptor outside this context can still take the
 *    connection between that check and the accept, and then reap blocks
 *    until the next one comes: do not share a listener with other acceptors.
 *  - CONNECT: a blocking connect would wait for the handshake in submit. The
 *    socket is set O_NONBLOCK for the duration of the op (no other op can be
 *    on a socket that is connecting) and restored when it completes or the
 *    context is closed; the connect starts in submit, its POLLOUT event ends
 *    it with SO_ERROR. A connect that ends at once completes inline; a Unix
 *    socket whose listener's backlog is full (EAGAIN) is connected with a
 *    plain blocking call in submit (inline, and counted as a fallback).
 * iolens_ctx_close reaps every op first; should destroy still find poll
 * iocbs waiting (a reap failed), it cancels them: no data has moved yet.
 *
 * Reaping reads the completion ring the kernel maps at the context's address
 * first, and calls io_getevents only to wait for what is not there yet: on a
 * page-cached file, where io_submit completes the op, that is no call at
 * all. (libaio's io_getevents looks at the ring itself only to return 0 when
 * it is empty.) The kernel reads the ring's head back from that page, so
 * events consumed here free their slots as a syscall's would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "backend.h"
#include "clock.h"
#include "cq.h"
#include "syncop.h"

struct laio_state {
	io_context_t io;
	unsigned depth;
	struct iocb *cbs;    /* the pool; cbs[i].data is the op */
	struct iocb **batch; /* one io_submit's iocbs */
	unsigned *free_idx;  /* stack of free pool indexes */
	unsigned nfree;
	int *restore_fl;     /* CONNECT: the fd's file flags to put back, or -1 */
	struct io_event *events;
	struct iolens__cq done; /* finished in submit (refused or inline), result set */
	unsigned nsock;         /* pool iocbs held by socket ops */
};

/* The head of the completion ring the kernel maps at the io_context_t. */
struct aio_ring_head {
	unsigned id;
	unsigned nr; /* events in io_events[] */
	unsigned head;
	unsigned tail;
	unsigned magic;
	unsigned compat_features;
	unsigned incompat_features;
	unsigned header_length;
	struct io_event io_events[];
};
#define AIO_RING_MAGIC 0xa10a10a1u

/*
 * Take up to max events already in the ring into s->events, without a
 * system call; 0 if there are none or the ring is not one this code knows.
 */
static int ring_peek(struct laio_state *s, unsigned max)
{
	struct aio_ring_head *ring = (struct aio_ring_head *)s->io;
	unsigned head, tail, n = 0;

	if (ring->magic != AIO_RING_MAGIC || ring->incompat_features)
		return 0;
	head = ring->head;
	/* Events are written before the tail that publishes them. */
	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	while (head != tail && n < max) {
		s->events[n++] = ring->io_events[head];
		if (++head == ring->nr)
			head = 0;
	}
	if (n)
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return (int)n;
}

/*
 * Flag the disk ops of the batch just given to io_submit whose event is in
 * the ring already: io_submit did them before it returned (buffered I/O on
 * cached pages). Only looks; reap consumes the events later. A socket op's
 * event is its poll firing, not its data moving: never flagged here.
 */
static int is_socket_op(const struct iolens_op *op);

static void mark_inline(struct iolens_ctx *ctx, struct laio_state *s)
{
	struct aio_ring_head *ring = (struct aio_ring_head *)s->io;
	unsigned head, tail;

	if (ring->magic != AIO_RING_MAGIC || ring->incompat_features)
		return;
	head = ring->head;
	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	for (; head != tail; head = head + 1 == ring->nr ? 0 : head + 1) {
		struct iolens_op *op = ring->io_events[head].data;

		if ((op->flags & IOLENS__OPF_SUBMITTING) && !is_socket_op(op)) {
			op->flags = (uint16_t)((op->flags & ~IOLENS__OPF_SUBMITTING) | IOLENS_OPF_INLINE);
			ctx->stats.completed_inline++;
		}
	}
}

static const char *setup_hint(int err)
{
	switch (err) {
	case -EAGAIN:
		return " (fs.aio-max-nr exhausted?)";
	case -ENOSYS:
		return " (kernel built without AIO)";
	case -EPERM:
		return " (a seccomp filter?)";
	default:
		return "";
	}
}

static int laio_probe(const char **why)
{
	static char reason[128];
	io_context_t io = 0;
	int r = io_setup(1, &io);

	if (!r) {
		io_destroy(io);
		return 0;
	}
	snprintf(reason, sizeof(reason), "io_setup failed: %s%s", iolens_strerror(r),
		 setup_hint(r));
	*why = reason;
	return r;
}

static void state_free(struct laio_state *s)
{
	iolens__cq_free(&s->done);
	free(s->cbs);
	free(s->restore_fl);
	free(s->batch);
	free(s->free_idx);
	free(s->events);
	free(s);
}

static int laio_init(struct iolens_ctx *ctx)
{
	unsigned depth = ctx->opts.depth;
	struct laio_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->depth = depth;
	s->cbs = calloc(depth, sizeof(*s->cbs));
	s->batch = calloc(depth, sizeof(*s->batch));
	s->free_idx = calloc(depth, sizeof(*s->free_idx));
	s->events = calloc(depth, sizeof(*s->events));
	s->restore_fl = calloc(depth, sizeof(*s->restore_fl));
	if (!s->cbs || !s->batch || !s->free_idx || !s->events || !s->restore_fl ||
	    iolens__cq_init(&s->done, depth)) {
		state_free(s);
		return -ENOMEM;
	}
	r = io_setup((int)depth, &s->io);
	if (r < 0) {
		state_free(s);
		return r;
	}
	while (s->nfree < depth) {
		s->free_idx[s->nfree] = depth - 1 - s->nfree;
		s->restore_fl[s->nfree] = -1;
		s->nfree++;
	}
	snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
		 "io_setup(%u) sockets:IOCB_CMD_POLL+call", depth);
	ctx->priv = s;
	return 0;
}

static unsigned pool_index(const struct laio_state *s, const struct iocb *cb)
{
	return (unsigned)(cb - s->cbs);
}

static int is_socket_op(const struct iolens_op *op)
{
	return op->kind >= IOLENS_OP_SEND;
}

/* Give an iocb back to the pool; data == NULL marks it free for destroy. */
static void release(struct laio_state *s, struct iocb *cb)
{
	if (cb->data && is_socket_op(cb->data))
		s->nsock--;
	cb->data = NULL;
	s->free_idx[s->nfree++] = pool_index(s, cb);
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
	case IOLENS_OP_FSYNC:
		io_prep_fsync(cb, op->fd);
		break;
	case IOLENS_OP_RECV:
	case IOLENS_OP_ACCEPT:
		io_prep_poll(cb, op->fd, POLLIN);
		break;
	default:
		io_prep_poll(cb, op->fd, POLLOUT);
		break;
	}
	cb->data = op;
}

/* A CONNECT is over: give the socket back its own file flags. */
static void connect_end(struct laio_state *s, struct iocb *cb, int fd)
{
	unsigned i = pool_index(s, cb);

	if (s->restore_fl[i] >= 0)
		fcntl(fd, F_SETFL, s->restore_fl[i]);
	s->restore_fl[i] = -1;
}

/*
 * Start a connect without blocking. Returns 1 if it is under way (its poll
 * iocb goes in), 0 if it ended here with op->result set.
 */
static int connect_start(struct iolens_ctx *ctx, struct laio_state *s, struct iocb *cb,
			 struct iolens_op *op)
{
	int fl = fcntl(op->fd, F_GETFL);

	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(op->fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		op->result = -errno;
		return 0;
	}
	if (!(fl & O_NONBLOCK))
		s->restore_fl[pool_index(s, cb)] = fl;
	if (connect(op->fd, op->buf, op->len) == 0)
		op->result = 0;
	else if (errno == EINPROGRESS || errno == EINTR)
		return 1; /* EINTR too: the handshake goes on, POLLOUT tells its end */
	else
		op->result = -errno;
	connect_end(s, cb, op->fd);
	if (op->result == -EAGAIN) {
		/*
		 * A Unix listener's backlog is full: there is no readiness to
		 * wait for, so wait inside connect, as a blocking socket does.
		 */
		fcntl(op->fd, F_SETFL, fl & ~O_NONBLOCK);
		iolens__syncop(op);
		fcntl(op->fd, F_SETFL, fl);
		op->flags |= IOLENS_OPF_FALLBACK;
		ctx->stats.fallbacks++;
	}
	return 0;
}

/* The connect's poll could not be queued: wait for it here, as connect would. */
static void connect_wait(struct laio_state *s, struct iocb *cb, struct iolens_op *op)
{
	struct pollfd p = { .fd = op->fd, .events = POLLOUT };
	int r;

	while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
		;
	op->result = r < 0 ? -errno : iolens__sock_error(op->fd);
	connect_end(s, cb, op->fd);
}

/*
 * io_submit batch[0..nb). Returns how many were taken: queued, or finished
 * with their result in the done queue. The rest go back to the pool.
 */
static unsigned flush(struct iolens_ctx *ctx, struct laio_state *s, unsigned nb)
{
	unsigned done = 0;

	while (done < nb) {
		struct iolens_op *op;
		int r;

		for (unsigned i = done; i < nb; i++)
			((struct iolens_op *)s->batch[i]->data)->flags |= IOLENS__OPF_SUBMITTING;
		r = io_submit(s->io, (long)(nb - done), s->batch + done);
		if (r > 0)
			mark_inline(ctx, s);
		for (unsigned i = done; i < nb; i++)
			((struct iolens_op *)s->batch[i]->data)->flags &= (uint16_t)~IOLENS__OPF_SUBMITTING;
		if (r == -EINTR)
			continue;
		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		op = s->batch[done]->data;
		if (r == -EAGAIN || r == 0) {
			if (op->kind != IOLENS_OP_CONNECT)
				break; /* busy: the caller resubmits the rest */
			/* Its connect is under way and cannot be handed back. */
			connect_wait(s, s->batch[done], op);
			op->flags |= IOLENS_OPF_INLINE | IOLENS_OPF_FALLBACK;
			ctx->stats.completed_inline++;
			ctx->stats.fallbacks++;
		} else {
			/* The error is the first iocb's: it becomes that op's result. */
			op->result = r;
			if (op->kind == IOLENS_OP_CONNECT)
				connect_end(s, s->batch[done], op->fd);
		}
		release(s, s->batch[done]);
		iolens__cq_push(&s->done, op);
		done++;
	}
	for (unsigned i = nb; i > done; i--)
		release(s, s->batch[i - 1]);
	return done;
}

static int laio_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct laio_state *s = ctx->priv;
	unsigned taken = 0, nb = 0; /* ops[0..taken) accepted; nb iocbs not yet submitted */

	for (unsigned i = 0; i < n && s->nfree; i++) {
		struct iolens_op *op = ops[i];
		struct iocb *cb;

		op->flags = 0;
		if (op->kind == IOLENS_OP_CONNECT) {
			/* A started connect cannot be handed back: what precedes it goes in first. */
			if (nb) {
				taken += flush(ctx, s, nb);
				nb = 0;
				if (taken < i)
					return (int)taken;
			}
			cb = &s->cbs[s->free_idx[--s->nfree]];
			if (!connect_start(ctx, s, cb, op)) {
				release(s, cb);
				op->flags |= IOLENS_OPF_INLINE;
				ctx->stats.completed_inline++;
				iolens__cq_push(&s->done, op);
				taken = i + 1;
				continue;
			}
		} else {
			cb = &s->cbs[s->free_idx[--s->nfree]];
		}
		prep(cb, op);
		s->nsock += is_socket_op(op);
		s->batch[nb++] = cb;
	}
	if (nb)
		taken += flush(ctx, s, nb);
	return (int)taken;
}

/* Accept only if a connection is queued: a blocking accept4 must not wait in reap. */
static int connection_queued(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
		;
	return r != 0; /* an error: let accept4 report it */
}

/*
 * The poll of a socket op fired (res: its events, or -errno): make the call.
 * Returns 1 when the op is complete, 0 when the poll was re-armed.
 */
static int socket_ready(struct iolens_ctx *ctx, struct laio_state *s, struct iocb *cb, long res)
{
	struct iolens_op *op = cb->data;
	ssize_t r;

	if (res < 0 || op->kind == IOLENS_OP_CONNECT) {
		op->result = res < 0 ? res : iolens__sock_error(op->fd);
		if (op->kind == IOLENS_OP_CONNECT)
			connect_end(s, cb, op->fd);
		return 1;
	}
	do {
		switch (op->kind) {
		case IOLENS_OP_SEND:
			r = send(op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case IOLENS_OP_RECV:
			r = recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
			break;
		default:
			if (!connection_queued(op->fd)) {
				r = -1;
				errno = EAGAIN;
				break;
			}
			r = accept4(op->fd, NULL, NULL, SOCK_CLOEXEC);
			break;
		}
	} while (r < 0 && errno == EINTR);
	if (op->kind != IOLENS_OP_ACCEPT || r >= 0 || errno != EAGAIN) {
		/* MSG_DONTWAIT, or an accept4 of a queued connection: it could not sleep. */
		ctx->stats.nowait_tries++;
		ctx->stats.nowait_eagain += r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		op->result = r < 0 ? -errno : r;
		return 1;
	}
	/* Woken with nothing to do (another op took it): wait again. */
	prep(cb, op);
	do
		r = io_submit(s->io, 1, &cb);
	while (r == -EINTR);
	if (r == 1)
		return 0;
	/*
	 * The slot was freed by the event just consumed, so the kernel has
	 * room; should it still refuse, -EAGAIN must not be the result.
	 */
	op->result = r == -EAGAIN || r == 0 ? -ENOBUFS : r;
	return 1;
}

/*
 * Consume n events; store the ops that completed in ops[] and return their
 * number. With ops NULL (destroy) only free the iocbs and leave the ops alone.
 */
static unsigned harvest(struct iolens_ctx *ctx, struct laio_state *s, int n, struct iolens_op **ops)
{
	unsigned got = 0;

	for (int i = 0; i < n; i++) {
		struct iocb *cb = s->events[i].obj;
		struct iolens_op *op = s->events[i].data;
		/* res is unsigned long; an error is -errno in it. */
		long res = (long)s->events[i].res;

		if (!ops) {
			if (op->kind == IOLENS_OP_CONNECT)
				connect_end(s, cb, op->fd);
		} else if (is_socket_op(op)) {
			if (!socket_ready(ctx, s, cb, res))
				continue;
			ops[got++] = op;
		} else {
			op->result = res;
			ops[got++] = op;
		}
		release(s, cb);
	}
	return got;
}

/* The timeout for io_getevents: NULL waits forever, zero does not wait. */
static struct timespec *wait_time(struct timespec *ts, unsigned want, int64_t deadline)
{
	int64_t left = 0;

	if (want && deadline < 0)
		return NULL;
	if (want)
		left = deadline - iolens__mono_ns();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000000000;
	ts->tv_nsec = left % 1000000000;
	return ts;
}

static int laio_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		     int64_t timeout_ns)
{
	struct laio_state *s = ctx->priv;
	unsigned got = iolens__cq_pop(&s->done, out, max);
	int64_t deadline = timeout_ns > 0 ? iolens__mono_ns() + timeout_ns : -1;

	/* More than one round only when a socket op's poll was re-armed. */
	for (;;) {
		unsigned busy = s->depth - s->nfree; /* in the kernel */
		unsigned room = max - got, want = got < min && timeout_ns ? min - got : 0;
		struct timespec ts;
		int r;

		if (got == max || !busy)
			break;
		if (room > busy)
			room = busy;
		if (want > busy)
			want = busy;
		/*
		 * A socket op's event only says it may go: the call made here
		 * after the wait completes it, and may be what another op
		 * waits for (the SEND a RECV's answer needs). So with socket
		 * ops in flight each wait is for one event.
		 */
		if (want > 1 && s->nsock)
			want = 1;
		/* What is in the ring already costs no call; wait only for the rest. */
		r = ring_peek(s, room);
		if (!r) {
			if (!want)
				break;
			ctx->stats.waits++;
			do
				r = io_getevents(s->io, (long)want, (long)room, s->events,
						 wait_time(&ts, want, deadline));
			while (r == -EINTR);
			if (r < 0)
				return got ? (int)got : r;
		}
		got += harvest(ctx, s, r, out + got);
		if (got >= min || !want || (deadline >= 0 && iolens__mono_ns() >= deadline))
			break;
	}
	return (int)got;
}

static void laio_destroy(struct iolens_ctx *ctx)
{
	struct laio_state *s = ctx->priv;

	/*
	 * A socket op still waiting for readiness may wait forever, and has
	 * moved no data yet: cancel its poll (its event still arrives, with
	 * nothing in it, and is consumed below).
	 */
	for (unsigned i = 0; i < s->depth; i++) {
		struct io_event ev;

		if (s->cbs[i].data && is_socket_op(s->cbs[i].data))
			io_cancel(s->io, &s->cbs[i], &ev);
	}
	/*
	 * Completions nobody reaped: consume them so no read lands in a buffer
	 * after close, but leave the ops alone.
	 */
	while (s->nfree < s->depth) {
		unsigned busy = s->depth - s->nfree;
		int r = io_getevents(s->io, (long)busy, (long)busy, s->events, NULL);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		harvest(ctx, s, r, NULL);
	}
	io_destroy(s->io);
	state_free(s);
}

const struct iolens_backend iolens_backend_libaio = {
	.name = "libaio",
	.model = IOLENS_MODEL_ASYNC_KERNEL,
	.summary = "io_submit/io_getevents; queued only with O_DIRECT; sockets: IOCB_CMD_POLL",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_ASYNC_NEEDS_DIRECT,
	.options = 0,
	.probe = laio_probe,
	.init = laio_init,
	.destroy = laio_destroy,
	.submit = laio_submit,
	.reap = laio_reap,
};
