/*
 * The responder's connections: each one's state machine (hello, then echo,
 * sink or source, then the sink's trailer), the echo's delayed answers
 * kept in a per-loop heap of due times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "responder_state.h"

uint64_t iolens__rc_heap_key(const struct rconn *c)
{
	return c->due[c->due_head].at;
}

static void heap_swap(struct rloop *l, uint32_t a, uint32_t b)
{
	struct rconn *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_fix(struct rloop *l, uint32_t i)
{
	while (i > 0 && iolens__rc_heap_key(l->heap[i]) < iolens__rc_heap_key(l->heap[(i - 1) / 2])) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t m = i, a = 2 * i + 1, b = a + 1;

		if (a < l->nheap && iolens__rc_heap_key(l->heap[a]) < iolens__rc_heap_key(l->heap[m]))
			m = a;
		if (b < l->nheap && iolens__rc_heap_key(l->heap[b]) < iolens__rc_heap_key(l->heap[m]))
			m = b;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

static int heap_add(struct rloop *l, struct rconn *c)
{
	if (l->nheap == l->heap_cap) {
		uint32_t n = l->heap_cap ? 2 * l->heap_cap : 64;
		struct rconn **h = realloc(l->heap, n * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = n;
	}
	c->heap_idx = l->nheap;
	l->heap[l->nheap++] = c;
	heap_fix(l, c->heap_idx);
	return 0;
}

static void heap_del(struct rloop *l, struct rconn *c)
{
	uint32_t i = c->heap_idx;

	if (i == UINT32_MAX)
		return;
	c->heap_idx = UINT32_MAX;
	if (i != --l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = i;
		heap_fix(l, i);
	}
}

void iolens__rc_close(struct rloop *l, struct rconn *c)
{
	heap_del(l, c);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c->due);
	free(c);
	atomic_fetch_sub_explicit(&l->r->open, 1, memory_order_relaxed);
}

/* Register what the connection waits for; -1 (closed) if epoll refuses. */
static int rconn_want(struct rloop *l, struct rconn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		iolens__rc_close(l, c);
		return -1;
	}
	c->events = events;
	return 0;
}

/* An echo connection's buffer holds at most this much unsent: then it stops reading. */
static uint32_t echo_cap(uint32_t msg)
{
	return 2 * msg > (64u << 10) ? 2 * msg : 64u << 10;
}

/* Send what is released, drop the buffer once empty, and wait for the right events. */
static int echo_flush(struct rloop *l, struct rconn *c)
{
	uint32_t want = 0;

	while (c->tx < c->released) {
		ssize_t s = send(c->fd, c->buf + c->off, (size_t)(c->released - c->tx),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			iolens__rc_close(l, c);
			return -1;
		}
		c->tx += (uint64_t)s;
		c->off += (uint32_t)s;
		c->len -= (uint32_t)s;
	}
	if (!c->len) {
		free(c->buf);
		c->buf = NULL;
		c->off = 0;
		if (!c->due_n) {
			free(c->due);
			c->due = NULL;
			c->due_cap = c->due_head = 0;
		}
	}
	if ((!c->buf || c->len < c->cap) && c->due_n < DUE_MAX)
		want |= EPOLLIN;
	if (c->tx < c->released)
		want |= EPOLLOUT;
	return rconn_want(l, c, want);
}

static int due_push(struct rloop *l, struct rconn *c, uint64_t end, uint64_t at)
{
	if (c->due_n == c->due_cap) {
		uint32_t n = c->due_cap ? 2 * c->due_cap : 4;
		struct due *d = malloc(n * sizeof(*d));

		if (!d)
			return -ENOMEM;
		for (uint32_t i = 0; i < c->due_n; i++)
			d[i] = c->due[(c->due_head + i) % c->due_cap];
		free(c->due);
		c->due = d;
		c->due_cap = n;
		c->due_head = 0;
	}
	c->due[(c->due_head + c->due_n++) % c->due_cap] = (struct due){ end, at };
	if (c->due_n == 1)
		return heap_add(l, c);
	return 0;
}

/* Release every answer of c due by `now`. */
int iolens__rc_release(struct rloop *l, struct rconn *c, uint64_t now)
{
	while (c->due_n && c->due[c->due_head].at <= now) {
		c->released = c->due[c->due_head].end;
		c->due_head = (c->due_head + 1) % c->due_cap;
		c->due_n--;
	}
	if (!c->due_n)
		heap_del(l, c);
	else
		heap_fix(l, c->heap_idx);
	return echo_flush(l, c);
}

/* Nothing queued: answer n bytes straight from the scratch buffer, keep only the rest. */
static int echo_answer(struct rloop *l, struct rconn *c, ssize_t n)
{
	ssize_t s;

	c->rx += (uint64_t)n;
	c->released = c->rx;
	do
		s = send(c->fd, l->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (s < 0 && errno == EINTR);
	if (s < 0 && errno != EAGAIN) {
		iolens__rc_close(l, c);
		return -1;
	}
	if (s < 0)
		s = 0;
	c->tx += (uint64_t)s;
	if (s < n) {
		c->buf = malloc(c->cap);
		if (!c->buf) {
			iolens__rc_close(l, c);
			return -1;
		}
		c->len = (uint32_t)(n - s);
		memcpy(c->buf, l->scratch + s, c->len);
	}
	return echo_flush(l, c);
}

/* The loop's only connection, an echo with nothing pending: this loop may wait in its recv. */
struct rconn *iolens__rc_solo(struct rloop *l)
{
	struct rconn *c = l->conns;

	if (!c || c->next || c->state != RC_ECHO || c->delay_ns || c->len || c->solo == 2 ||
	    l->nheap || l->accept_resume)
		return NULL;
	if (!c->solo) {
		struct timeval tv = { 0, (long)(SOLO_WAIT_NS / 1000) };

		c->solo = setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ? 2 : 1;
		if (c->solo == 2)
			return NULL;
	}
	return c;
}

/* Wait for c's next request in recv and answer it; 0 when none came in time. */
int iolens__rc_solo_echo(struct rloop *l, struct rconn *c)
{
	ssize_t n = recv(c->fd, l->scratch, 64u << 10, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		/* EOF or an error: the client is done. */
		iolens__rc_close(l, c);
		return 0;
	}
	echo_answer(l, c, n);
	return 1;
}

static int echo_in(struct rloop *l, struct rconn *c)
{
	ssize_t n;

	if (!c->delay_ns && !c->len) {
		n = recv(c->fd, l->scratch, 64u << 10, MSG_DONTWAIT);
		if (n <= 0)
			goto ended;
		return echo_answer(l, c, n);
	}
	if (!c->buf) {
		c->buf = malloc(c->cap);
		if (!c->buf) {
			iolens__rc_close(l, c);
			return -1;
		}
	}
	if (c->off && c->off + c->len == c->cap) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	if (c->off + c->len == c->cap)
		return echo_flush(l, c); /* full: stop reading until something is sent */
	n = recv(c->fd, c->buf + c->off + c->len, c->cap - c->off - c->len, MSG_DONTWAIT);
	if (n <= 0)
		goto ended;
	c->len += (uint32_t)n;
	c->rx += (uint64_t)n;
	if (!c->delay_ns) {
		c->released = c->rx;
	} else if (c->rx - c->rx % c->msg > c->marked) {
		c->marked = c->rx - c->rx % c->msg;
		/*
		 * From this read, not from the loop's clock: a request that came
		 * after epoll_wait returned (read on another event of this
		 * connection) would otherwise be answered before its delay.
		 */
		if (due_push(l, c, c->marked, now_ns() + c->delay_ns)) {
			iolens__rc_close(l, c);
			return -1;
		}
	}
	return echo_flush(l, c);
ended:
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (!c->len) { /* woken for nothing: an idle connection keeps no buffer */
			free(c->buf);
			c->buf = NULL;
			c->off = 0;
		}
		return 0;
	}
	/* EOF or an error: the client is done; what it has not read is lost anyway. */
	iolens__rc_close(l, c);
	return -1;
}

static int sink_in(struct rloop *l, struct rconn *c)
{
	const unsigned char *pat = iolens__pattern();
	ssize_t n = recv(c->fd, l->scratch, SCRATCH_SIZE, MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		iolens__rc_close(l, c);
		return -1;
	}
	if (n > 0) {
		/* Only while all matched: not after a mismatch, nor when told not to check. */
		if (c->u.bad == UINT64_MAX) {
			size_t i = iolens__pattern_mismatch(pat, l->scratch, (size_t)n, c->start + c->rx);

			if (i < (size_t)n)
				c->u.bad = c->rx + i;
		}
		c->rx += (uint64_t)n;
		return 0;
	}
	/* EOF: answer with the trailer, then close. */
	{
		struct iolens__trailer tr = { htole64(c->rx), htole64(c->u.bad) };

		c->u.tr = tr;
		c->state = RC_TRAILER;
		c->tx = 0;
	}
	return -2; /* the caller sends it */
}

static int trailer_out(struct rloop *l, struct rconn *c)
{
	while (c->tx < sizeof(c->u.tr)) {
		ssize_t s = send(c->fd, (char *)&c->u.tr + c->tx, sizeof(c->u.tr) - c->tx,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && errno == EAGAIN)
			return rconn_want(l, c, EPOLLOUT);
		if (s < 0)
			break;
		c->tx += (uint64_t)s;
	}
	iolens__rc_close(l, c);
	return -1;
}

static int source_out(struct rloop *l, struct rconn *c)
{
	const unsigned char *pat = iolens__pattern();

	for (int i = 0; i < 4; i++) {
		ssize_t s = send(c->fd, pat + (c->start + c->tx) % IOLENS_PATTERN_PERIOD,
				 SOURCE_CHUNK, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && errno == EAGAIN)
			return 0;
		if (s < 0) {
			iolens__rc_close(l, c);
			return -1;
		}
		c->tx += (uint64_t)s;
	}
	return 0;
}

static int hello_in(struct rloop *l, struct rconn *c)
{
	struct iolens__hello h;
	ssize_t n = recv(c->fd, c->u.hello + c->rx, sizeof(c->u.hello) - c->rx, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		iolens__rc_close(l, c);
		return -1;
	}
	c->rx += (uint64_t)n;
	if (c->rx < sizeof(c->u.hello))
		return 0;
	memcpy(&h, c->u.hello, sizeof(h));
	h.magic = le64toh(h.magic);
	h.mode = le32toh(h.mode);
	h.msg = le32toh(h.msg);
	h.delay_ns = le64toh(h.delay_ns);
	h.start = le64toh(h.start);
	if (h.magic != IOLENS_HELLO_MAGIC ||
	    (h.mode == IOLENS_PEER_ECHO && (h.msg < 1 || h.msg > IOLENS_MSG_MAX))) {
		iolens__rc_close(l, c);
		return -1;
	}
	c->rx = 0;
	c->start = h.start;
	switch (h.mode) {
	case IOLENS_PEER_ECHO:
		c->state = RC_ECHO;
		c->msg = h.msg;
		c->cap = echo_cap(h.msg);
		c->delay_ns = h.delay_ns ? h.delay_ns : l->r->delay_ns;
		return 0;
	case IOLENS_PEER_SINK:
		c->state = RC_SINK;
		c->u.bad = h.flags & IOLENS_SINK_NOCHECK ? IOLENS_TRAILER_UNCHECKED : UINT64_MAX;
		return 0;
	case IOLENS_PEER_SOURCE:
		if (!iolens__pattern())
			break;
		c->state = RC_SOURCE;
		return rconn_want(l, c, EPOLLIN | EPOLLOUT);
	}
	iolens__rc_close(l, c);
	return -1;
}

void iolens__rc_event(struct rloop *l, struct rconn *c, uint32_t ev)
{
	if (ev & (EPOLLERR | EPOLLHUP)) {
		/* Reset, or gone both ways: nothing more can reach the client. */
		iolens__rc_close(l, c);
		return;
	}
	switch (c->state) {
	case RC_HELLO:
		if (hello_in(l, c) || c->state == RC_HELLO)
			return;
		if (c->state != RC_ECHO && c->state != RC_SINK)
			return;
		/* Bytes may follow the hello in the same segment: fall through to them. */
		if (c->state == RC_SINK)
			goto sink;
		echo_in(l, c);
		return;
	case RC_ECHO:
		if ((ev & EPOLLOUT) && echo_flush(l, c))
			return;
		if (ev & EPOLLIN)
			echo_in(l, c);
		return;
	case RC_SINK:
	sink:
		if (sink_in(l, c) == -2)
			trailer_out(l, c);
		return;
	case RC_TRAILER:
		trailer_out(l, c);
		return;
	case RC_SOURCE:
		if (ev & EPOLLIN) {
			ssize_t n = recv(c->fd, l->scratch, SCRATCH_SIZE, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				iolens__rc_close(l, c);
				return;
			}
		}
		if (ev & EPOLLOUT)
			source_out(l, c);
		return;
	}
}
