/*
 * coro-epoll: coroutines on an epoll event loop, the shape of asyncio,
 * gevent or a Go netpoller. A socket op's body is the blocking program's
 * loop: try the call without blocking (MSG_DONTWAIT on O_NONBLOCK sockets;
 * accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC), and on EAGAIN register
 * interest in the descriptor and suspend until epoll_wait says it is
 * ready; CONNECT connects, waits for writability after EINPROGRESS and
 * reads SO_ERROR. Every try counts in nowait_tries (each EAGAIN in
 * nowait_eagain) but a CONNECT's, as epoll counts them.
 *
 * Regular files cannot be polled, so READ, WRITE and FSYNC are the plain
 * pread / pwrite / fsync, made inline by the coroutine on the loop's own
 * thread, as asyncio does without an executor: they complete inside
 * submit, and a read the page cache lacks blocks the whole loop. (A pipe
 * read would block it too: those kinds never wait for readiness here.)
 *
 * Ops of one descriptor and direction are served in order: a body starts
 * its call at once only when none waits ahead of it, else it waits behind
 * them; the loop wakes a ready direction's waiters oldest first, and one
 * whose retry says EAGAIN again waits at the head. Registration is
 * level-triggered and made only for a descriptor something waits on, as
 * the epoll backend does: EPOLLOUT exactly while a task waits to write,
 * EPOLLIN from the first wait to read and kept while the descriptor is
 * idle, dropped when it fires with no task waiting; an error or hang-up
 * with nobody waiting unregisters it. Changes are made just before a wait.
 * A descriptor that went idle may have been closed and its number reused
 * (the kernel then dropped the registration), so before a wait that may
 * block it is confirmed with EPOLL_CTL_MOD (ENOENT: added again); a first
 * look without waiting needs no confirmation. iolens_ctx_forget
 * unregisters a descriptor whose caller is about to close it.
 *
 * reap is the readiness kit's loop (a look, then waits; ready_at_once and
 * waits counted as for epoll); the wait is check() below. bare: the same
 * loop and tries, without coroutines: a task that would block waits in
 * the same lists, and the loop retries its call when it is woken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro_state.h"
#include "syncop.h"

enum { IN = IOLENS__FDQ_IN, OUT = IOLENS__FDQ_OUT };

/* Per descriptor; the fdq table's part only gives it a place by number. */
struct cfd {
	struct iolens__fdq_fd q;
	struct co_task *head[2], *tail[2]; /* tasks waiting to read / to write, oldest first */
	uint32_t events;                   /* registered interest, when added */
	uint8_t added;
	uint8_t verify; /* idle since the registration was last confirmed */
	uint8_t dirty;  /* on the dirty list: look at it before the next wait */
	int next_dirty;
};

struct epoll_loop {
	struct coro co; /* first: ctx->priv is both, and the kit's reap reads co.rd */
	struct iolens__fdq fds;
	int epfd;
	int dirty; /* first descriptor on the dirty list, -1 when empty */
	struct epoll_event *events;
	int nevents;
};

static struct epoll_loop *loop_of(const struct co_task *t)
{
	return (struct epoll_loop *)t->s;
}

static struct cfd *entry(const struct epoll_loop *l, int fd)
{
	return iolens__fdq_find(&l->fds, fd);
}

static void list_dirty(struct epoll_loop *l, int fd, struct cfd *e)
{
	if (e->dirty)
		return;
	e->dirty = 1;
	e->next_dirty = l->dirty;
	l->dirty = fd;
}

/*
 * From t's body: wait until fd is ready in dir, behind the tasks waiting
 * there (or at their head: a retry). 0 to try again, -errno when the wait
 * failed; under bare CO_PENDING, and the loop retries the call itself.
 */
static int64_t co_wait(struct co_task *t, int fd, int dir, int front)
{
	struct epoll_loop *l = loop_of(t);
	struct cfd *e = iolens__fdq_get(&l->fds, fd);

	if (!e)
		return -ENOMEM;
	if (!e->head[dir]) {
		e->head[dir] = e->tail[dir] = t;
		t->next = NULL;
	} else if (front) {
		t->next = e->head[dir];
		e->head[dir] = t;
	} else {
		t->next = NULL;
		e->tail[dir]->next = t;
		e->tail[dir] = t;
	}
	l->co.rd.npending++;
	list_dirty(l, fd, e);
	if (l->co.bare)
		return CO_PENDING;
	iolens__coro_suspend(&l->co, t);
	return t->res;
}

/* One call that cannot block; -EAGAIN when it would have. */
static int64_t sock_try(struct co_task *t)
{
	struct iolens_op *op = t->op;
	struct iolens_backend_stats *st = &t->s->ctx->stats;
	ssize_t r;

	if (op->kind == IOLENS_OP_CONNECT) {
		if (t->connecting)
			return iolens__sock_error(op->fd);
		if (connect(op->fd, op->buf, op->len) == 0)
			return 0;
		/* Interrupted or not, a non-blocking connect goes on in the kernel. */
		if (errno == EINPROGRESS || errno == EINTR) {
			t->connecting = 1;
			return -EAGAIN;
		}
		return -errno;
	}
	do {
		if (op->kind == IOLENS_OP_SEND)
			r = send(op->fd, op->buf, op->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (op->kind == IOLENS_OP_RECV)
			r = recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
		else
			r = accept4(op->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	} while (r < 0 && errno == EINTR);
	st->nowait_tries++;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		st->nowait_eagain++;
		return -EAGAIN;
	}
	return r < 0 ? -errno : r;
}

static int64_t epoll_body(struct co_task *t)
{
	struct iolens_op *op = t->op;
	const struct cfd *e = entry(loop_of(t), op->fd);
	int dir = iolens__fdq_dir(op);
	int64_t r;

	if (!iolens__is_sockop(op)) {
		iolens__syncop(op);
		return op->result;
	}
	if (e && e->head[dir] && (r = co_wait(t, op->fd, dir, 0)) != 0)
		return r;
	while ((r = sock_try(t)) == -EAGAIN)
		if ((r = co_wait(t, op->fd, dir, 1)) != 0)
			return r;
	return r;
}

/* Take the oldest waiter of fd in dir off its list and let it go on: err 0 is "ready". */
static void wake(struct epoll_loop *l, int fd, int dir, int64_t err)
{
	struct cfd *e = entry(l, fd);
	struct co_task *t = e->head[dir];
	int64_t r;

	e->head[dir] = t->next;
	t->next = NULL;
	l->co.rd.npending--;
	if (!e->head[IN] && !e->head[OUT])
		e->verify = 1; /* idle: the caller may close the number and reuse it */
	if (!l->co.bare) {
		t->res = err;
		iolens__coro_resume(&l->co, t);
		return;
	}
	r = err ? err : sock_try(t);
	if (r == -EAGAIN)
		r = co_wait(t, fd, dir, 1);
	if (r != CO_PENDING)
		iolens__coro_complete(&l->co, t, r);
}

/* Wake fd's waiters in dir while the direction stays ready; 1 if there was one. */
static int serve(struct epoll_loop *l, int fd, int dir)
{
	struct cfd *e = entry(l, fd);
	int any = e->head[dir] != NULL;

	while ((e = entry(l, fd))->head[dir]) {
		struct co_task *t = e->head[dir];

		wake(l, fd, dir, 0);
		/* A wake may have grown the table: look the entry up again. */
		if (entry(l, fd)->head[dir] == t)
			break; /* EAGAIN again: it waits at the head */
	}
	return any;
}

static int fail_waiters(struct epoll_loop *l, int fd, int err)
{
	int n = 0;

	for (int dir = IN; dir <= OUT; dir++)
		for (; entry(l, fd)->head[dir]; n++)
			wake(l, fd, dir, err);
	return n;
}

/* Register fd for `events`: ADD or MOD, each switching to the other when the kernel disagrees. */
static int reg(struct epoll_loop *l, int fd, struct cfd *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int op = e->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	int r = epoll_ctl(l->epfd, op, fd, &ev);

	if (r && op == EPOLL_CTL_MOD && errno == ENOENT)
		r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
	else if (r && op == EPOLL_CTL_ADD && errno == EEXIST)
		r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
	if (r) {
		e->added = 0;
		return -errno;
	}
	e->added = 1;
	e->events = events;
	e->verify = 0;
	return 0;
}

/*
 * Before a wait: bring the registration of each descriptor touched since
 * the last one in line with its waiters. One that went idle is confirmed
 * only before a wait that may block. Returns the waiters failed here.
 */
static int flush(struct epoll_loop *l, int blocking)
{
	int later = -1, failed = 0;

	while (l->dirty >= 0) {
		int fd = l->dirty, err;
		struct cfd *e = entry(l, fd);
		int waiting = e->head[IN] || e->head[OUT];
		uint32_t want = (e->head[IN] || (e->added && (e->events & EPOLLIN)) ? EPOLLIN : 0) |
				(e->head[OUT] ? EPOLLOUT : 0);

		l->dirty = e->next_dirty;
		e->dirty = 0;
		if (!waiting) {
			/* EPOLLOUT goes while idle; a failure means the registration went already. */
			if (e->added && want != e->events && reg(l, fd, e, want))
				e->added = 0;
			continue;
		}
		if (e->added && want == e->events && (!e->verify || !blocking)) {
			if (e->verify) {
				e->dirty = 1;
				e->next_dirty = later;
				later = fd;
			}
			continue;
		}
		err = reg(l, fd, e, want);
		if (err)
			failed += fail_waiters(l, fd, err);
	}
	l->dirty = later;
	return failed;
}

/* One event: wake what waits for it; drop interest that fired for nobody. 1 if a task woke. */
static int on_event(struct epoll_loop *l, const struct epoll_event *ev)
{
	int fd = ev->data.fd, n = 0;
	struct cfd *e = entry(l, fd);
	uint32_t got = ev->events, drop = 0;
	int err;

	if (!e || !e->added)
		return 0; /* forgotten since */
	if (!e->head[IN] && !e->head[OUT] && (got & (EPOLLERR | EPOLLHUP))) {
		/* Reported at every wait, whatever the interest: unregister until a task waits. */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		e->added = 0;
		return 0;
	}
	if ((got & EPOLLIN) && !e->head[IN])
		drop |= EPOLLIN;
	if ((got & EPOLLOUT) && !e->head[OUT])
		drop |= EPOLLOUT;
	drop &= e->events;
	if (drop && (err = reg(l, fd, e, e->events & ~drop)) != 0)
		return fail_waiters(l, fd, err) > 0;
	if (got & (EPOLLIN | EPOLLERR | EPOLLHUP))
		n |= serve(l, fd, IN);
	if (got & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		n |= serve(l, fd, OUT);
	list_dirty(l, fd, entry(l, fd));
	return n;
}

/* The kit's check: settle registrations, wait up to timeout_ms, serve what is ready. */
static int epoll_check(struct iolens_ctx *ctx, int timeout_ms)
{
	struct epoll_loop *l = ctx->priv;
	int n = flush(l, timeout_ms != 0), r;

	/* Ops that failed in flush are done: nothing to sleep for. */
	if (n)
		timeout_ms = 0;
	do
		r = epoll_wait(l->epfd, l->events, l->nevents, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int k = 0; k < r; k++)
		n += on_event(l, &l->events[k]);
	return n;
}

static int epoll_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct epoll_loop *l = ctx->priv;

	l->co.in_submit = 1;
	for (unsigned i = 0; i < n; i++) {
		ops[i]->flags = 0;
		iolens__coro_start(&l->co, ops[i]);
	}
	l->co.in_submit = 0;
	return (int)n;
}

static int epoll_forget(struct iolens_ctx *ctx, int fd)
{
	struct epoll_loop *l = ctx->priv;
	struct cfd *e = entry(l, fd);

	if (!e)
		return 0;
	if (e->head[IN] || e->head[OUT])
		return -EBUSY;
	if (e->added)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* The dirty-list link stays: an entry on it that is not added is skipped. */
	e->added = 0;
	e->events = 0;
	e->verify = 0;
	return 0;
}

static void epoll_destroy(struct iolens_ctx *ctx)
{
	struct epoll_loop *l = ctx->priv;

	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	iolens__coro_free(&l->co);
	iolens__fdq_free(&l->fds);
	free(l->events);
	free(l);
}

static int epoll_init(struct iolens_ctx *ctx)
{
	struct epoll_loop *l = calloc(1, sizeof(*l));
	int r = 0;

	if (!l)
		return -ENOMEM;
	ctx->priv = l;
	l->dirty = -1;
	l->co.rd.check = epoll_check;
	l->nevents = (int)ctx->opts.depth;
	l->events = calloc(ctx->opts.depth, sizeof(*l->events));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		r = -errno;
	else if (!l->events || iolens__fdq_init(&l->fds, 1, sizeof(struct cfd)))
		r = -ENOMEM;
	else
		r = iolens__coro_init(ctx, &l->co, "loop epoll (level-triggered)", epoll_body);
	if (r) {
		epoll_destroy(ctx);
		ctx->priv = NULL;
	}
	return r;
}

const struct iolens_backend iolens_backend_coro_epoll = {
	.name = "coro-epoll",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "a coroutine per op on an epoll loop: try without blocking, on EAGAIN wait for "
		   "readiness and resume; files: the plain call inline",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_NONBLOCK_FD,
	.options = IOLENS_BOPT_UCONTEXT | IOLENS_BOPT_BARE,
	.init = epoll_init,
	.destroy = epoll_destroy,
	.submit = epoll_submit,
	.reap = iolens__readiness_reap,
	.forget = epoll_forget,
};
