/*
 * The worker pool (pool.h). One mutex guards the FIFO of submitted ops, the
 * ring of completed ones and the counters; it is adaptive (spins briefly
 * before it sleeps), since each holder only moves a pointer or two.
 *
 * The hand-off, both ways, is what a thread pool costs, so each side wakes
 * the other only when it sleeps:
 *  - submit to worker: idle workers sleep in FUTEX_WAIT on a word of their
 *    own; submit bumps it and wakes, in one FUTEX_WAKE, as many as it
 *    queued ops for and are not woken already, and makes no call while
 *    every worker is busy: a worker that finishes an op takes the next
 *    queued one without sleeping. (Not a condition variable: glibc's
 *    pthread_cond_signal can itself sleep, until the waiters it woke last
 *    time have run, and then the submit call would sleep for the workers.)
 *  - worker to reaper: a futex word. The reaper that must wait says how many
 *    completions it needs, under the mutex, and sleeps in FUTEX_WAIT on the
 *    word; the worker whose completion makes that many bumps the word and
 *    issues the one FUTEX_WAKE. A reaper that finds enough done never
 *    sleeps, and no worker then makes a call for it.
 *   A futex rather than an eventfd: it is the wait that condition variables,
 *   Python's ThreadPoolExecutor futures and a parked tokio thread come down
 *   to, one call on each side; and it is not a data call. An eventfd reaper
 *   read(2)s its counter, and the kernel's syscall counts cannot tell that
 *   read from one that moves data: the measured model would take each
 *   wakeup for I/O the submitting thread did itself. (libuv's loop wakes on
 *   an eventfd through epoll; that design needs a readiness loop to block
 *   in, which a pool alone does not have.)
 *
 * Futex words are read under the mutex and changed under it, so a sleeper
 * that read one before unlocking returns at once (EAGAIN) if a wake came
 * in between: no wake is lost.
 *
 * Workers are detached; the pool counts those alive. stop waits up to a
 * second for them, then leaves the pool to the last one to exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cq.h"
#include "pool.h"
#include "syncop.h"

#define STOP_NS 1000000000LL
/* A worker makes one plain call at a time: a small stack keeps a grown pool cheap. */
#define WORKER_STACK (256u << 10)

struct iolens__pool {
	pthread_mutex_t lock;
	pthread_cond_t gone;     /* stop waits here for workers to exit */
	struct iolens__cq todo;  /* submitted, not started: oldest first */
	struct iolens__cq done;  /* performed, not reaped */
	unsigned depth;
	unsigned nthreads;       /* started (written by the owner only) */
	unsigned nlive;          /* not exited */
	unsigned nidle;          /* asleep on work */
	unsigned nsignalled;     /* of those, signalled and not up yet */
	unsigned nsock;          /* inside a socket call */
	unsigned nsockops;       /* socket ops queued or inside a call */
	uint64_t progress;       /* ops started or finished */
	uint64_t stall_mark;     /* progress when the stall clock started */
	int64_t stall_since;     /* when it started; 0 when not at risk */
	uint32_t work;           /* futex word: bumped by each wake of idle workers */
	uint32_t wake;           /* futex word: bumped by each wake of the reaper */
	unsigned need;           /* completions the sleeping reaper waits for; 0: awake */
	int stop;
	int abandoned;           /* the owner left: results go nowhere */
};

static void futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Lock held. A new value for a futex word that sleepers read under the lock. */
static void bump(uint32_t *word)
{
	__atomic_store_n(word, *word + 1, __ATOMIC_RELEASE);
}

/* Sleep while *word == seen, until the monotonic time `until` (< 0: no limit). */
static void futex_wait(uint32_t *word, uint32_t seen, int64_t until)
{
	struct timespec ts = { (time_t)(until / 1000000000), (long)(until % 1000000000) };

	/* EINTR, ETIMEDOUT and EAGAIN (already woken) all send the caller back to look. */
	syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, seen, until < 0 ? NULL : &ts, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

static int is_sockop(const struct iolens_op *op)
{
	return op->kind == IOLENS_OP_SEND || op->kind == IOLENS_OP_RECV ||
	       op->kind == IOLENS_OP_ACCEPT || op->kind == IOLENS_OP_CONNECT;
}

static void pool_free(struct iolens__pool *p)
{
	iolens__cq_free(&p->todo);
	iolens__cq_free(&p->done);
	pthread_cond_destroy(&p->gone);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Lock held. A completion is queued: wake the reaper if it now has what it sleeps for. */
static int completes_wait(struct iolens__pool *p)
{
	if (!p->need || iolens__cq_len(&p->done) < p->need)
		return 0;
	p->need = 0;
	bump(&p->wake);
	return 1;
}

static void *worker(void *arg)
{
	struct iolens__pool *p = arg;
	struct iolens_op *op, call;
	int sock, last;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !iolens__cq_len(&p->todo)) {
			uint32_t seen = p->work;

			p->nidle++;
			pthread_mutex_unlock(&p->lock);
			futex_wait(&p->work, seen, -1);
			pthread_mutex_lock(&p->lock);
			p->nidle--;
			if (p->nsignalled)
				p->nsignalled--;
		}
		if (p->stop)
			break;
		iolens__cq_pop(&p->todo, &op, 1);
		sock = is_sockop(op);
		p->nsock += (unsigned)sock;
		p->progress++;
		/* The call works on a copy: an abandoned op may be freed before it returns. */
		call = *op;
		pthread_mutex_unlock(&p->lock);
		iolens__syncop(&call);
		pthread_mutex_lock(&p->lock);
		p->nsock -= (unsigned)sock;
		p->nsockops -= (unsigned)sock;
		p->progress++;
		if (p->abandoned) {
			if (call.kind == IOLENS_OP_ACCEPT && call.result >= 0)
				close((int)call.result);
			continue;
		}
		op->result = call.result;
		op->flags = 0;
		iolens__cq_push(&p->done, op);
		if (completes_wait(p)) {
			pthread_mutex_unlock(&p->lock);
			futex_wake(&p->wake, 1);
			pthread_mutex_lock(&p->lock);
		}
	}
	last = --p->nlive == 0 && p->abandoned;
	pthread_cond_signal(&p->gone);
	pthread_mutex_unlock(&p->lock);
	if (last)
		pool_free(p);
	return NULL;
}

/* Lock held. One more worker, every signal blocked in it (SIGINT stays with the caller). */
static int spawn(struct iolens__pool *p)
{
	pthread_attr_t a;
	pthread_t tid;
	sigset_t all, old;
	int err;

	if (pthread_attr_init(&a))
		return -ENOMEM;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, WORKER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &a, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (err)
		return -err;
	p->nthreads++;
	p->nlive++;
	return 0;
}

/* Lock held. Ops wait behind workers that are all inside socket calls. */
static int at_risk(const struct iolens__pool *p)
{
	return iolens__cq_len(&p->todo) && p->nsock == p->nthreads && p->nthreads < p->depth;
}

/*
 * Lock held. The stall rule (pool.h): grow when at risk with no progress
 * for a stall period. Returns the time by which the reaper must look again
 * (until, or earlier while the pool holds a socket op; < 0: no limit).
 */
static int64_t watch(struct iolens__pool *p, int64_t now, int64_t until)
{
	int64_t by = now + IOLENS__POOL_STALL_NS;

	if (!p->nsockops) {
		p->stall_since = 0;
		return until; /* file calls always return */
	}
	if (!at_risk(p)) {
		p->stall_since = 0;
	} else if (!p->stall_since || p->progress != p->stall_mark) {
		p->stall_since = now;
		p->stall_mark = p->progress;
	} else if (now - p->stall_since >= IOLENS__POOL_STALL_NS) {
		unsigned add = iolens__cq_len(&p->todo);

		if (add > p->depth - p->nthreads)
			add = p->depth - p->nthreads;
		while (add-- && spawn(p) == 0)
			;
		p->stall_since = 0;
	} else {
		by = p->stall_since + IOLENS__POOL_STALL_NS;
	}
	return until < 0 || by < until ? by : until;
}

int iolens__pool_start(struct iolens__pool **out, unsigned threads, unsigned depth)
{
	struct iolens__pool *p = calloc(1, sizeof(*p));
	pthread_mutexattr_t ma;
	int err = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	if (iolens__cq_init(&p->todo, depth) || iolens__cq_init(&p->done, depth)) {
		iolens__cq_free(&p->todo);
		free(p);
		return -ENOMEM;
	}
	p->depth = depth;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&p->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_cond_init(&p->gone, NULL);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < threads && !err; i++)
		err = spawn(p);
	pthread_mutex_unlock(&p->lock);
	if (err) {
		iolens__pool_stop(p);
		return err;
	}
	*out = p;
	return 0;
}

void iolens__pool_submit(struct iolens__pool *p, struct iolens_op *const *ops, unsigned n)
{
	unsigned wake;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++) {
		iolens__cq_push(&p->todo, ops[i]);
		p->nsockops += (unsigned)is_sockop(ops[i]);
	}
	wake = p->nidle - p->nsignalled;
	if (wake > n)
		wake = n;
	p->nsignalled += wake;
	if (wake)
		bump(&p->work);
	pthread_mutex_unlock(&p->lock);
	if (wake)
		futex_wake(&p->work, (int)wake);
}

unsigned iolens__pool_reap(struct iolens__pool *p, struct iolens_op **out, unsigned min,
			   unsigned max, int64_t timeout_ns, uint64_t *waits)
{
	int64_t deadline = timeout_ns > 0 ? iolens__mono_ns() + timeout_ns : -1;
	unsigned got = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		int64_t now, until;
		uint32_t seen;

		got += iolens__cq_pop(&p->done, out + got, max - got);
		if (got >= min || timeout_ns == 0) {
			/* A caller that never waits still gets the stall rule. */
			if (at_risk(p))
				watch(p, iolens__mono_ns(), -1);
			break;
		}
		now = iolens__mono_ns();
		until = watch(p, now, deadline);
		if (deadline >= 0 && now >= deadline)
			break;
		p->need = min - got;
		seen = p->wake;
		pthread_mutex_unlock(&p->lock);
		(*waits)++;
		futex_wait(&p->wake, seen, until);
		pthread_mutex_lock(&p->lock);
		p->need = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

unsigned iolens__pool_threads(const struct iolens__pool *p)
{
	return p->nthreads;
}

void iolens__pool_stop(struct iolens__pool *p)
{
	int64_t deadline = iolens__mono_ns() + STOP_NS;
	struct timespec ts = { (time_t)(deadline / 1000000000), (long)(deadline % 1000000000) };

	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	p->todo.head = p->todo.tail; /* never started: dropped */
	bump(&p->work);
	futex_wake(&p->work, INT_MAX);
	while (p->nlive && iolens__mono_ns() < deadline)
		pthread_cond_clockwait(&p->gone, &p->lock, CLOCK_MONOTONIC, &ts);
	if (p->nlive) {
		p->abandoned = 1;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	pool_free(p);
}

void iolens__pool_setup_line(const struct iolens__pool *p, unsigned asked, unsigned started,
			     unsigned depth, char *buf, size_t len)
{
	unsigned now = iolens__pool_threads(p);

	if (now > started)
		snprintf(buf, len,
			 "threads=%u, grew to %u (queued ops stood %lld ms behind blocked socket calls)",
			 asked, now, IOLENS__POOL_STALL_NS / 1000000);
	else if (started < asked)
		snprintf(buf, len, "threads=%u, %u started (depth %u)", asked, started, depth);
	else
		snprintf(buf, len, "threads=%u", asked);
}
