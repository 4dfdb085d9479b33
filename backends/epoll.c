/*
 * epoll: a RECV, ACCEPT or CONNECT waits for its descriptor to be reported
 * ready by epoll_wait, then is done with a plain non-blocking call; one that
 * says EAGAIN waits again. RECV and ACCEPT wait for EPOLLIN, SEND and
 * CONNECT for EPOLLOUT, each in its own FIFO per descriptor; CONNECT issues
 * connect() once and, after EINPROGRESS, reads the outcome (SO_ERROR) when
 * the socket turns writable.
 *
 * A SEND with no SEND queued ahead of it is tried at once inside submit, as
 * event loops write (libuv's uv_try_write, Redis): done there (INLINE)
 * unless the call says EAGAIN, and only then queued for EPOLLOUT. A
 * descriptor is registered when the first op that has to wait is queued.
 *
 * Level-triggered (default): EPOLLOUT is registered exactly while a SEND or
 * CONNECT waits (a socket is nearly always writable), EPOLLIN from the first
 * RECV or ACCEPT that waits and then kept while the descriptor is idle, so
 * a request/response socket is not re-registered at every request. Kept
 * interest that fires with nothing queued for it is dropped then (one
 * EPOLL_CTL_MOD), so a socket with no RECV queued does not keep the wait
 * awake; changes are made with EPOLL_CTL_MOD just before a wait, only when
 * they differ. Edge-triggered (epoll:et): registered EPOLLIN|EPOLLOUT|
 * EPOLLET once; events raise per-descriptor ready flags, queued ops are
 * served while their flag is up, and a call that says EAGAIN takes it down.
 *
 * The table is keyed by descriptor number. A caller that closes a
 * descriptor calls iolens_ctx_forget first, which unregisters it and
 * resets its entry; one that does not may reuse the number for another file
 * (the kernel then dropped the registration silently). So a descriptor that
 * went idle is confirmed with EPOLL_CTL_MOD before its ops next have to
 * wait, MOD failing with ENOENT (or ADD with EEXIST) registers it again, and
 * EBADF drops it. The confirmation is made only before a wait that may
 * block: reap first looks without waiting (epoll_wait with timeout 0), and
 * an op found ready there needs none. A level-triggered descriptor with
 * nothing queued that still wakes the wait with an error or a hang-up
 * (always reported) is unregistered.
 *
 * So one echo request (SEND, RECV) costs send, epoll_wait, recv when the
 * answer is there at the first look, as with both ends on one CPU; when it
 * is not, epoll_wait (nothing), epoll_ctl (the confirmation), epoll_wait
 * (blocking) in the middle instead.
 *
 * One-shot (epoll:oneshot), the pattern of servers that hand a descriptor
 * to one thread at a time: registered with EPOLLONESHOT for what its queued
 * ops wait for, so the kernel disables it after one event, and armed again
 * with EPOLL_CTL_MOD before each wait that still has ops on it. One echo
 * request then costs an epoll_ctl more than level-triggered (send,
 * epoll_ctl, epoll_wait, recv): the measured price of the pattern. Edge and
 * one-shot together are refused (-EINVAL): pick one.
 *
 * epoll_ctl refuses regular files with EPERM: those ops are done at once
 * with a plain call, flagged and counted as fallbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "fdq.h"
#include "readiness.h"
#include "syncop.h"

enum { FD_NEW, FD_ADDED, FD_REFUSED }; /* ep_fd.state; FD_NEW: not registered */

#define RD_IN 0x1u  /* ep_fd.ready: readable (or an error to collect) */
#define RD_OUT 0x2u /* writable (or an error to collect) */

#define ON_DIRTY 0x1u /* ep_fd.listed: registration to look at before the next wait */
#define ON_READY 0x2u /* has ops to try without waiting */

struct ep_fd {
	struct iolens__fdq_fd q; /* first: the queue's part */
	uint32_t events;         /* registered interest, when FD_ADDED */
	uint8_t state;
	uint8_t ready;  /* RD_*: what events said and no EAGAIN has taken back */
	uint8_t verify; /* idle since the registration was last confirmed */
	uint8_t listed; /* ON_* */
	int next_dirty; /* list links: the next descriptor, -1 at the end */
	int next_ready;
};

struct epoll_state {
	struct iolens__readiness rd; /* first: the shared reap loop reads it */
	struct iolens__fdq q;        /* the queued ops, by descriptor; entries are ep_fd */
	int epfd;
	int edge;  /* IOLENS_BOPT_EDGE */
	int oneshot; /* IOLENS_BOPT_ONESHOT */
	int dirty; /* first descriptor on the dirty list, -1 when empty */
	int ready; /* first on the ready list */
	struct epoll_event *events;
};

static int wait_ready(struct iolens_ctx *ctx, int timeout_ms);

static void epoll_destroy(struct iolens_ctx *ctx)
{
	struct epoll_state *s = ctx->priv;

	if (!s)
		return;
	if (s->epfd >= 0)
		close(s->epfd);
	iolens__cq_free(&s->rd.done);
	iolens__fdq_free(&s->q);
	free(s->events);
	free(s);
}

static int epoll_init(struct iolens_ctx *ctx)
{
	struct epoll_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ctx->priv = s;
	s->rd.check = wait_ready;
	s->edge = !!(ctx->opts.flags & IOLENS_BOPT_EDGE);
	s->oneshot = !!(ctx->opts.flags & IOLENS_BOPT_ONESHOT);
	if (s->edge && s->oneshot) {
		free(s);
		ctx->priv = NULL;
		return -EINVAL;
	}
	s->dirty = s->ready = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->events = calloc(ctx->opts.depth, sizeof(*s->events));
	if (s->epfd < 0 || !s->events ||
	    iolens__fdq_init(&s->q, ctx->opts.depth, sizeof(struct ep_fd)) ||
	    iolens__cq_init(&s->rd.done, ctx->opts.depth)) {
		int err = s->epfd < 0 ? -errno : -ENOMEM;

		epoll_destroy(ctx);
		ctx->priv = NULL;
		return err;
	}
	return 0;
}

static struct ep_fd *entry(struct epoll_state *s, int fd)
{
	return iolens__fdq_find(&s->q, fd);
}

static uint32_t dir_flag(int dir)
{
	return dir == IOLENS__FDQ_IN ? RD_IN : RD_OUT;
}

/*
 * The interest e should have before a wait: all of it, once, when
 * edge-triggered. Level-triggered: EPOLLOUT exactly while an op waits to
 * write (a socket is nearly always writable), EPOLLIN while an op waits to
 * read and, once registered, after that too (take_event drops it when it
 * fires with nothing queued). One-shot: what the queued ops wait for, armed
 * once; nothing while idle (the last event disabled it).
 */
static uint32_t interest(const struct epoll_state *s, const struct ep_fd *e)
{
	if (s->edge)
		return EPOLLIN | EPOLLOUT | EPOLLET;
	if (s->oneshot)
		return e->q.npending ? (e->q.head[IOLENS__FDQ_IN] ? EPOLLIN : 0) |
					       (e->q.head[IOLENS__FDQ_OUT] ? EPOLLOUT : 0) |
					       EPOLLONESHOT
				     : 0;
	return (e->q.head[IOLENS__FDQ_IN] || (e->events & EPOLLIN) ? EPOLLIN : 0) |
	       (e->q.head[IOLENS__FDQ_OUT] ? EPOLLOUT : 0);
}

static void list_dirty(struct epoll_state *s, int fd, struct ep_fd *e)
{
	if (e->listed & ON_DIRTY)
		return;
	e->listed |= ON_DIRTY;
	e->next_dirty = s->dirty;
	s->dirty = fd;
}

static void list_ready(struct epoll_state *s, int fd, struct ep_fd *e)
{
	if (e->listed & ON_READY)
		return;
	e->listed |= ON_READY;
	e->next_ready = s->ready;
	s->ready = fd;
}

/* stats.setup names the registration mode once a descriptor could be registered. */
static void name_mode(struct iolens_ctx *ctx, const struct epoll_state *s)
{
	if (!ctx->stats.setup[0])
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "%s",
			 s->edge ? "edge-triggered" : s->oneshot ? "one-shot" : "level-triggered");
}

/*
 * Set fd's registration to `events`: ADD when it has none, else MOD. A MOD
 * that finds nothing (ENOENT: closed, the number reused) and an ADD that
 * finds one (EEXIST) switch to the other call. 0 or -errno.
 */
static int ep_register(struct iolens_ctx *ctx, struct epoll_state *s, int fd, struct ep_fd *e,
		       uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int op = e->state == FD_ADDED ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	int r = epoll_ctl(s->epfd, op, fd, &ev);

	if (r && op == EPOLL_CTL_MOD && errno == ENOENT)
		r = epoll_ctl(s->epfd, op = EPOLL_CTL_ADD, fd, &ev);
	else if (r && op == EPOLL_CTL_ADD && errno == EEXIST)
		r = epoll_ctl(s->epfd, op = EPOLL_CTL_MOD, fd, &ev);
	if (r) {
		int err = -errno;

		e->state = err == -EPERM ? FD_REFUSED : FD_NEW;
		e->ready = 0;
		return err;
	}
	/* A new registration reports what is ready now: earlier flags are stale. */
	if (op == EPOLL_CTL_ADD)
		e->ready = 0;
	e->state = FD_ADDED;
	e->events = events;
	e->verify = 0;
	name_mode(ctx, s);
	return 0;
}

/* Hand a finished op to reap. */
static void complete(struct epoll_state *s, struct iolens_op *op)
{
	iolens__cq_push(&s->rd.done, op);
}

/* Unqueue the oldest op of fd in dir, which has its result, and complete it. */
static void finish(struct epoll_state *s, int fd, int dir)
{
	struct iolens_op *op = iolens__fdq_pop(&s->q, fd, dir);
	struct ep_fd *e = entry(s, fd);

	s->rd.npending--;
	/* Idle: the caller may close the number and reuse it before the next op. */
	if (!e->q.npending)
		e->verify = 1;
	complete(s, op);
}

/* A plain call because epoll_ctl refused the descriptor (EPERM: a regular file). */
static void fallback(struct iolens_ctx *ctx, struct iolens_op *op)
{
	if (iolens__is_sockop(op))
		iolens__syncop_nonblock(op);
	else
		iolens__syncop(op);
	op->flags |= IOLENS_OPF_FALLBACK;
	ctx->stats.fallbacks++;
}

/*
 * fd cannot be waited on any more (its registration failed with err):
 * complete everything queued on it, with a plain call if it was refused,
 * else with the error.
 */
static void fail_queued(struct iolens_ctx *ctx, struct epoll_state *s, int fd, int err)
{
	for (int dir = IOLENS__FDQ_IN; dir <= IOLENS__FDQ_OUT; dir++) {
		struct iolens__fdq_slot *sl;

		while ((sl = iolens__fdq_peek(&s->q, fd, dir))) {
			if (err == -EPERM)
				fallback(ctx, sl->op);
			else
				sl->op->result = err;
			finish(s, fd, dir);
		}
	}
}

/* Done inside submit: refused descriptors get a plain call, other errors land in the result. */
static void complete_inline(struct iolens_ctx *ctx, struct epoll_state *s, struct iolens_op *op,
			    int err)
{
	/* File ops on a descriptor epoll will not take always got the plain call. */
	if (err == -EPERM || !iolens__is_sockop(op))
		fallback(ctx, op);
	else
		op->result = err;
	op->flags |= IOLENS_OPF_INLINE;
	ctx->stats.completed_inline++;
	complete(s, op);
}

static int epoll_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct epoll_state *s = ctx->priv;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];
		struct ep_fd *e;
		int err;

		op->flags = 0;
		if (op->fd < 0) {
			complete_inline(ctx, s, op, -EBADF);
			continue;
		}
		e = iolens__fdq_get(&s->q, op->fd);
		if (!e)
			return i ? (int)i : -ENOMEM;
		/* A socket op on a number once refused: it may be a socket now. */
		if (e->state == FD_REFUSED && iolens__is_sockop(op))
			e->state = FD_NEW;
		if (iolens__is_sockop(op))
			name_mode(ctx, s);
		/* Done at once, a SEND needs no registration; EAGAIN: not writable after all. */
		if (op->kind == IOLENS_OP_SEND && !e->q.head[IOLENS__FDQ_OUT]) {
			if (iolens__readiness_try_now(ctx, op)) {
				complete(s, op);
				continue;
			}
			e->ready &= ~RD_OUT;
		}
		/* An ACCEPT likewise: one waiting for readiness waits long on a loaded server (readiness.c). */
		if (op->kind == IOLENS_OP_ACCEPT && !e->q.head[IOLENS__FDQ_IN] &&
		    iolens__readiness_try_now(ctx, op)) {
			complete(s, op);
			continue;
		}
		if (e->state == FD_NEW) {
			err = ep_register(ctx, s, op->fd, e,
					  s->edge ? EPOLLIN | EPOLLOUT | EPOLLET :
						    (iolens__fdq_dir(op) == IOLENS__FDQ_IN ?
							     EPOLLIN : EPOLLOUT) |
							    (s->oneshot ? EPOLLONESHOT : 0));
			if (err) {
				complete_inline(ctx, s, op, err);
				continue;
			}
		}
		if (e->state == FD_REFUSED) {
			complete_inline(ctx, s, op, -EPERM);
			continue;
		}
		iolens__fdq_push(&s->q, op);
		s->rd.npending++;
		list_dirty(s, op->fd, e);
		if (e->ready & dir_flag(iolens__fdq_dir(op)))
			list_ready(s, op->fd, e);
	}
	return (int)n;
}

/*
 * Before a wait: bring the registration of every descriptor touched since
 * the last one in line with its queued ops. One that was idle is confirmed
 * (its number may belong to another file by now) only before a wait that
 * may block (`blocking`): a look without waiting that finds it ready needs
 * no confirmation, so it stays listed for the next wait.
 */
static void flush(struct iolens_ctx *ctx, struct epoll_state *s, int blocking)
{
	int later = -1; /* descriptors left for the next flush */

	while (s->dirty >= 0) {
		int fd = s->dirty, err;
		struct ep_fd *e = entry(s, fd);
		uint32_t want;

		s->dirty = e->next_dirty;
		e->listed &= ~ON_DIRTY;
		if (e->state != FD_ADDED)
			continue;
		want = interest(s, e);
		if (!e->q.npending) {
			/* Idle: level-triggered EPOLLOUT goes; failing, the registration is gone. */
			if (want != e->events) {
				struct epoll_event ev = { .events = want, .data.fd = fd };

				if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev))
					e->state = FD_NEW;
				else
					e->events = want;
			}
			continue;
		}
		if (want == e->events && !e->verify)
			continue;
		/* Edge-triggered ops that may go through are tried first; EAGAIN returns them. */
		if (s->edge && (e->listed & ON_READY))
			continue;
		if (want == e->events && !blocking) {
			e->listed |= ON_DIRTY;
			e->next_dirty = later;
			later = fd;
			continue;
		}
		err = ep_register(ctx, s, fd, e, want);
		if (err)
			fail_queued(ctx, s, fd, err);
	}
	s->dirty = later;
}

/* Take one event into fd's ready flags; list it if it has ops to try. */
static void take_event(struct iolens_ctx *ctx, struct epoll_state *s, const struct epoll_event *ev)
{
	int fd = ev->data.fd;
	struct ep_fd *e = entry(s, fd);
	uint32_t drop = 0;

	if (!e || e->state != FD_ADDED)
		return; /* dropped since the event was queued */
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		e->ready |= RD_IN;
	if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		e->ready |= RD_OUT;
	if (s->oneshot) {
		e->events = 0; /* the event disabled the registration until it is armed again */
	} else if (!s->edge) {
		if (!e->q.npending && (ev->events & (EPOLLERR | EPOLLHUP))) {
			/*
			 * Level-triggered with nothing asked for: an error or
			 * a hang-up is always reported, and would be again at
			 * every wait. Unregister it; its next op registers it
			 * again.
			 */
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
			e->state = FD_NEW;
			e->ready = 0;
			return;
		}
		/*
		 * Interest that fired with no op queued for it (EPOLLIN kept
		 * after the last RECV) would fire at every wait: drop it now.
		 */
		if ((ev->events & EPOLLIN) && !e->q.head[IOLENS__FDQ_IN])
			drop |= EPOLLIN;
		if ((ev->events & EPOLLOUT) && !e->q.head[IOLENS__FDQ_OUT])
			drop |= EPOLLOUT;
		drop &= e->events;
		if (drop) {
			int err = ep_register(ctx, s, fd, e, e->events & ~drop);

			if (err) {
				fail_queued(ctx, s, fd, err);
				return;
			}
		}
	}
	if (e->q.npending)
		list_ready(s, fd, e);
}

/*
 * Serve fd's ops in direction dir, oldest first, while the direction is
 * ready. Returns how many were tried, or -EBADF when the descriptor turned
 * out closed.
 */
static int serve_dir(struct iolens_ctx *ctx, struct epoll_state *s, int fd, int dir)
{
	struct ep_fd *e = entry(s, fd);
	struct iolens__fdq_slot *sl;
	int tried = 0;

	while ((e->ready & dir_flag(dir)) && (sl = iolens__fdq_peek(&s->q, fd, dir))) {
		struct iolens_op *op = sl->op;

		tried++;
		if (iolens__is_sockop(op)) {
			if (!iolens__readiness_sockop(ctx, op, &sl->connecting)) {
				e->ready &= ~dir_flag(dir);
				break;
			}
		} else {
			iolens__syncop(op);
		}
		finish(s, fd, dir);
		if (op->result == -EBADF)
			return -EBADF;
	}
	return tried;
}

/* Serve every descriptor on the ready list; returns how many had an op to try. */
static int serve_ready(struct iolens_ctx *ctx, struct epoll_state *s)
{
	int n = 0;

	while (s->ready >= 0) {
		int fd = s->ready, in, out = 0;
		struct ep_fd *e = entry(s, fd);

		s->ready = e->next_ready;
		e->listed &= ~ON_READY;
		if (e->state != FD_ADDED)
			continue;
		in = serve_dir(ctx, s, fd, IOLENS__FDQ_IN);
		if (in >= 0)
			out = serve_dir(ctx, s, fd, IOLENS__FDQ_OUT);
		if (in < 0 || out < 0) {
			/* Closed under us: the rest fail the same way, the number is forgotten. */
			fail_queued(ctx, s, fd, -EBADF);
			e->state = FD_NEW;
			e->ready = 0;
			n++;
			continue;
		}
		n += in + out > 0;
		/* Level-triggered flags hold for this wait only: the next one reports again. */
		if (!s->edge)
			e->ready = 0;
		list_dirty(s, fd, e);
	}
	return n;
}

/*
 * The caller is about to close fd: unregister it and reset its entry, so a
 * descriptor that gets the number next is registered afresh. The list links
 * stay: an entry still on the dirty or ready list is skipped there, since
 * it is no longer FD_ADDED.
 */
static int epoll_forget(struct iolens_ctx *ctx, int fd)
{
	struct epoll_state *s = ctx->priv;
	struct ep_fd *e = entry(s, fd);

	if (!e)
		return 0;
	if (e->q.npending)
		return -EBUSY;
	if (e->state == FD_ADDED)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->state = FD_NEW;
	e->events = 0;
	e->ready = 0;
	e->verify = 0;
	return 0;
}

static int wait_ready(struct iolens_ctx *ctx, int timeout_ms)
{
	struct epoll_state *s = ctx->priv;
	unsigned before = iolens__cq_len(&s->rd.done);
	int r, n;

	flush(ctx, s, timeout_ms != 0 && s->ready < 0);
	/* Ops that failed in flush, or that may go through at once, are not worth sleeping for. */
	n = (int)(iolens__cq_len(&s->rd.done) - before);
	if (n || s->ready >= 0)
		timeout_ms = 0;
	do
		r = epoll_wait(s->epfd, s->events, (int)ctx->opts.depth, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int k = 0; k < r; k++)
		take_event(ctx, s, &s->events[k]);
	/* Events for idle descriptors are not work: only what had ops queued counts. */
	return n + serve_ready(ctx, s);
}

const struct iolens_backend iolens_backend_epoll = {
	.name = "epoll",
	.model = IOLENS_MODEL_SYNC_READINESS,
	.summary = "epoll_wait, then the plain call (EAGAIN: wait again); SEND tried at once; "
		   "regular files fall back (EPERM)",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_NONBLOCK_FD,
	.options = IOLENS_BOPT_EDGE | IOLENS_BOPT_ONESHOT,
	.init = epoll_init,
	.destroy = epoll_destroy,
	.submit = epoll_submit,
	.reap = iolens__readiness_reap,
	.forget = epoll_forget,
};
