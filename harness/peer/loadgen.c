/*
 * The load generator: C connections spread over its threads, each keeping
 * `depth` requests outstanding against the server under test, every echoed
 * byte checked and every round trip recorded while measuring. Its threads
 * are made idle before any syscall counter opens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hist.h"
#include "peer_kit.h"

enum { LC_IDLE, LC_RETRY, LC_CONNECTING, LC_UP, LC_DEAD };

struct lconn {
	int fd;
	uint8_t state;
	uint32_t events;
	unsigned idx;     /* connection number */
	uint64_t start;   /* stream start */
	uint64_t tx, rx;  /* stream bytes sent, received back */
	uint64_t *ts;     /* send time of request k at ts[k % depth] */
};

struct lthread {
	struct iolens__loadgen *lg;
	unsigned id;
	pthread_t th;
	int started;
	int ep, wfd;
	unsigned char *scratch;
	struct iolens_hist *hist;
	/* one run */
	struct lconn *c;
	uint64_t *ts;
	unsigned n;
	unsigned *retry, nretry;
	unsigned connected;
	uint64_t requests, bytes;
	int err;
	uint64_t err_at;
	char errmsg[256];
};

enum { LG_IDLE, LG_RUN, LG_EXIT };

struct iolens__loadgen {
	unsigned nthreads;
	struct lthread *t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned gen, done;
	int cmd;
	int running;
	struct iolens__loadgen_opts o;
	atomic_int stop, measure;
	_Atomic uint64_t since; /* when measuring began: requests sent before are not counted */
};

static void lg_fail(struct lthread *t, struct lconn *c, int err, uint64_t now, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));

/* The connection failed: keep the thread's first error, close it, the others go on. */
static void lg_fail(struct lthread *t, struct lconn *c, int err, uint64_t now, const char *fmt,
		    ...)
{
	va_list ap;

	if (!t->err) {
		t->err = err;
		t->err_at = now;
		va_start(ap, fmt);
		vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
		va_end(ap);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = LC_DEAD;
}

static void lg_fail_errno(struct lthread *t, struct lconn *c, int e, uint64_t now)
{
	lg_fail(t, c, -e, now, "connection %u: %s", c->idx, strerror(e));
}

static int lg_want(struct lthread *t, struct lconn *c, uint32_t events, uint64_t now)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		lg_fail_errno(t, c, errno, now);
		return -1;
	}
	c->events = events;
	return 0;
}

/* Keep `depth` requests outstanding; stamp each request as its first byte goes. */
static void lg_send(struct lthread *t, struct lconn *c, uint64_t now)
{
	const struct iolens__loadgen_opts *o = &t->lg->o;
	const unsigned char *pat = iolens__pattern();
	uint64_t limit = (c->rx / o->msg + o->depth) * o->msg;

	while (c->tx < limit) {
		uint64_t len = limit - c->tx;
		ssize_t s;

		if (len > IOLENS_MSG_MAX)
			len = IOLENS_MSG_MAX;
		s = send(c->fd, pat + (c->start + c->tx) % IOLENS_PATTERN_PERIOD, (size_t)len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			lg_fail_errno(t, c, errno, now);
			return;
		}
		for (uint64_t k = (c->tx + o->msg - 1) / o->msg; k * o->msg < c->tx + (uint64_t)s;
		     k++)
			c->ts[k % o->depth] = now;
		c->tx += (uint64_t)s;
	}
	lg_want(t, c, EPOLLIN | (c->tx < limit ? EPOLLOUT : 0), now);
}

static void lg_recv(struct lthread *t, struct lconn *c, uint64_t now, int measuring)
{
	const struct iolens__loadgen_opts *o = &t->lg->o;
	const unsigned char *pat = iolens__pattern();

	for (int iter = 0; iter < 4; iter++) {
		ssize_t n = recv(c->fd, t->scratch, SCRATCH_SIZE, MSG_DONTWAIT);
		uint64_t k, done;
		size_t bad;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			lg_fail_errno(t, c, errno, now);
			return;
		}
		if (n == 0) {
			lg_fail(t, c, -EPIPE, now,
				"connection %u: the server closed it after echoing %llu of %llu bytes",
				c->idx, (unsigned long long)c->rx, (unsigned long long)c->tx);
			return;
		}
		if (c->rx + (uint64_t)n > c->tx) {
			lg_fail(t, c, -EPROTO, now,
				"connection %u: the server sent %llu bytes, more than the %llu sent to it",
				c->idx, (unsigned long long)(c->rx + (uint64_t)n),
				(unsigned long long)c->tx);
			return;
		}
		bad = iolens__pattern_mismatch(pat, t->scratch, (size_t)n, c->start + c->rx);
		if (bad < (size_t)n) {
			lg_fail(t, c, -EILSEQ, now,
				"connection %u: echoed byte at stream offset %llu differs from what was sent",
				c->idx, (unsigned long long)(c->rx + bad));
			return;
		}
		k = c->rx / o->msg;
		c->rx += (uint64_t)n;
		done = c->rx / o->msg;
		if (measuring) {
			uint64_t since = atomic_load_explicit(&t->lg->since, memory_order_relaxed);

			/* Only requests sent inside the window: none carries warm-up queueing. */
			for (; k < done; k++) {
				if (c->ts[k % o->depth] < since)
					continue;
				iolens__hist_record(t->hist, now - c->ts[k % o->depth]);
				t->requests++;
				t->bytes += o->msg;
			}
		}
		if ((size_t)n < SCRATCH_SIZE)
			break;
	}
	lg_send(t, c, now);
}

static void lg_connect(struct lthread *t, struct lconn *c, uint64_t now)
{
	const struct iolens__addr *a = &t->lg->o.addr;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	if (c->fd < 0) {
		c->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			lg_fail_errno(t, c, errno, now);
			return;
		}
		if (a->ss.ss_family != AF_UNIX)
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(c->fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
		c->state = LC_CONNECTING; /* the EPOLLOUT below reports it up */
	} else if (errno == EINPROGRESS) {
		c->state = LC_CONNECTING;
	} else if (errno == EAGAIN) {
		/* A unix listener's backlog is full: try again shortly. */
		c->state = LC_RETRY;
		t->retry[t->nretry++] = (unsigned)(c - t->c);
		return;
	} else {
		lg_fail_errno(t, c, errno, now);
		return;
	}
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		lg_fail_errno(t, c, errno, now);
		return;
	}
	c->events = EPOLLOUT;
}

static void lg_event(struct lthread *t, struct lconn *c, uint32_t ev, uint64_t now, int measuring)
{
	if (c->state == LC_CONNECTING) {
		int e = 0;
		socklen_t len = sizeof(e);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len))
			e = errno;
		if (!e && (ev & (EPOLLERR | EPOLLHUP)))
			e = ECONNREFUSED;
		if (e) {
			lg_fail_errno(t, c, e, now);
			return;
		}
		c->state = LC_UP;
		t->connected++;
		lg_send(t, c, now);
		return;
	}
	if (c->state != LC_UP)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		lg_recv(t, c, now, measuring);
	else if (ev & EPOLLOUT)
		lg_send(t, c, now);
}

static void lg_run(struct lthread *t)
{
	struct iolens__loadgen *lg = t->lg;
	const struct iolens__loadgen_opts *o = &lg->o;
	struct epoll_event evs[MAX_EVENTS];
	uint64_t now = now_ns();
	unsigned i;

	t->n = o->conns / lg->nthreads + (t->id < o->conns % lg->nthreads);
	t->connected = 0;
	t->requests = t->bytes = 0;
	t->err = 0;
	t->errmsg[0] = '\0';
	t->nretry = 0;
	iolens__hist_reset(t->hist);
	if (!t->n)
		return;
	t->c = calloc(t->n, sizeof(*t->c));
	t->ts = calloc((size_t)t->n * o->depth, sizeof(*t->ts));
	t->retry = calloc(t->n, sizeof(*t->retry));
	if (!t->c || !t->ts || !t->retry) {
		t->err = -ENOMEM;
		t->err_at = now;
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "load generator: out of memory for %u connections", t->n);
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		struct lconn *c = &t->c[i];

		c->fd = -1;
		c->idx = t->id + i * lg->nthreads;
		c->start = iolens__stream_start(c->idx);
		c->ts = t->ts + (size_t)i * o->depth;
		lg_connect(t, c, now);
	}
	while (!atomic_load_explicit(&lg->stop, memory_order_acquire)) {
		int n = epoll_wait(t->ep, evs, MAX_EVENTS, t->nretry ? 2 : -1);
		int measuring = atomic_load_explicit(&lg->measure, memory_order_relaxed);

		now = now_ns();
		for (int k = 0; k < n; k++) {
			if (evs[k].data.ptr)
				lg_event(t, evs[k].data.ptr, evs[k].events, now, measuring);
		}
		if (t->nretry) {
			unsigned m = t->nretry;

			t->nretry = 0;
			for (i = 0; i < m; i++)
				lg_connect(t, &t->c[t->retry[i]], now);
		}
	}
out:
	for (i = 0; t->c && i < t->n; i++)
		if (t->c[i].fd >= 0)
			close(t->c[i].fd);
	free(t->c);
	free(t->ts);
	free(t->retry);
	t->c = NULL;
	t->ts = NULL;
	t->retry = NULL;
}

static void *lthread_main(void *arg)
{
	struct lthread *t = arg;
	struct iolens__loadgen *lg = t->lg;
	unsigned seen = 0;

	for (;;) {
		int cmd;

		pthread_mutex_lock(&lg->mu);
		while (lg->gen == seen)
			pthread_cond_wait(&lg->cv, &lg->mu);
		seen = lg->gen;
		cmd = lg->cmd;
		pthread_mutex_unlock(&lg->mu);
		if (cmd == LG_EXIT)
			return NULL;
		if (cmd != LG_RUN)
			continue;
		lg_run(t);
		/* Wait for the stop (a run that had nothing to do), then take it. */
		while (!atomic_load_explicit(&lg->stop, memory_order_acquire)) {
			struct epoll_event ev;

			epoll_wait(t->ep, &ev, 1, -1);
		}
		pthread_mutex_lock(&lg->mu);
		lg->done++;
		pthread_cond_broadcast(&lg->cv);
		pthread_mutex_unlock(&lg->mu);
	}
}

int iolens__loadgen_create(struct iolens__loadgen **out, unsigned threads, int cpu)
{
	struct iolens__loadgen *lg;
	int e = 0;

	*out = NULL;
	if (!iolens__pattern())
		return -ENOMEM;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	lg->nthreads = threads ? threads : 1;
	pthread_mutex_init(&lg->mu, NULL);
	pthread_cond_init(&lg->cv, NULL);
	lg->t = calloc(lg->nthreads, sizeof(*lg->t));
	if (!lg->t) {
		free(lg);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < lg->nthreads; i++)
		lg->t[i].ep = lg->t[i].wfd = -1;
	for (unsigned i = 0; i < lg->nthreads; i++) {
		struct lthread *t = &lg->t[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		t->lg = lg;
		t->id = i;
		t->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		t->scratch = malloc(SCRATCH_SIZE);
		t->hist = iolens_hist_new();
		if (t->wfd < 0 || t->ep < 0)
			e = -errno;
		else if (!t->scratch || !t->hist)
			e = -ENOMEM;
		else if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->wfd, &ev))
			e = -errno;
		if (e)
			break;
	}
	for (unsigned i = 0; !e && i < lg->nthreads; i++)
		e = iolens__peer_spawn(&lg->t[i].th, lthread_main, &lg->t[i], cpu, &lg->t[i].started);
	if (e) {
		iolens__loadgen_destroy(lg);
		return e;
	}
	*out = lg;
	return 0;
}

int iolens__loadgen_start(struct iolens__loadgen *lg, const struct iolens__loadgen_opts *o,
			  char *err, size_t errlen)
{
	if (lg->running)
		return iolens__peer_fail(err, errlen, -EBUSY, "load generator: already running");
	if (!o->conns)
		return iolens__peer_fail(err, errlen, -EINVAL, "load generator: no connections");
	if (o->msg < 1 || o->msg > IOLENS_MSG_MAX)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "load generator: request size %u (accepts 1 to %u bytes)", o->msg,
					 IOLENS_MSG_MAX);
	if (o->depth < 1 || o->depth > 65536)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "load generator: depth %u (accepts 1 to 65536)", o->depth);
	if (o->addr.ss.ss_family != AF_INET && o->addr.ss.ss_family != AF_INET6 &&
	    o->addr.ss.ss_family != AF_UNIX)
		return iolens__peer_fail(err, errlen, -EINVAL, "load generator: no address to connect to");
	pthread_mutex_lock(&lg->mu);
	lg->o = *o;
	lg->done = 0;
	atomic_store(&lg->stop, 0);
	lg->cmd = LG_RUN;
	lg->gen++;
	lg->running = 1;
	pthread_cond_broadcast(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	return 0;
}

void iolens__loadgen_measure(struct iolens__loadgen *lg, int on)
{
	if (on)
		atomic_store_explicit(&lg->since, now_ns(), memory_order_relaxed);
	atomic_store_explicit(&lg->measure, !!on, memory_order_relaxed);
}

/* Stop a run and wait until every thread has closed its connections. */
static void lg_halt(struct iolens__loadgen *lg)
{
	uint64_t one = 1;

	atomic_store_explicit(&lg->stop, 1, memory_order_release);
	for (unsigned i = 0; i < lg->nthreads; i++)
		if (write(lg->t[i].wfd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail short of overflow */
		}
	pthread_mutex_lock(&lg->mu);
	while (lg->done < lg->nthreads)
		pthread_cond_wait(&lg->cv, &lg->mu);
	lg->running = 0;
	pthread_mutex_unlock(&lg->mu);
	/* Every thread is idle now: take the wake-ups back so the next run starts quiet. */
	for (unsigned i = 0; i < lg->nthreads; i++)
		if (read(lg->t[i].wfd, &one, sizeof(one)) < 0) {
			/* already taken */
		}
}

int iolens__loadgen_finish(struct iolens__loadgen *lg, struct iolens_loadgen_figures *res)
{
	const struct lthread *first = NULL;

	memset(res, 0, sizeof(*res));
	if (!lg->running)
		return -EINVAL;
	lg_halt(lg);
	res->hist = iolens_hist_new();
	if (!res->hist)
		return -ENOMEM;
	for (unsigned i = 0; i < lg->nthreads; i++) {
		const struct lthread *t = &lg->t[i];

		res->connected += t->connected;
		res->requests += t->requests;
		res->bytes += t->bytes;
		iolens_hist_merge(res->hist, t->hist);
		if (t->err && (!first || t->err_at < first->err_at))
			first = t;
	}
	if (first) {
		res->err = first->err;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s", first->errmsg);
	}
	return 0;
}

void iolens__loadgen_destroy(struct iolens__loadgen *lg)
{
	if (!lg)
		return;
	if (lg->running)
		lg_halt(lg);
	pthread_mutex_lock(&lg->mu);
	lg->cmd = LG_EXIT;
	lg->gen++;
	pthread_cond_broadcast(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	for (unsigned i = 0; i < lg->nthreads; i++) {
		struct lthread *t = &lg->t[i];

		if (t->started)
			pthread_join(t->th, NULL);
		if (t->ep >= 0)
			close(t->ep);
		if (t->wfd >= 0)
			close(t->wfd);
		free(t->scratch);
		iolens_hist_free(t->hist);
	}
	pthread_mutex_destroy(&lg->mu);
	pthread_cond_destroy(&lg->cv);
	free(lg->t);
	free(lg);
}
