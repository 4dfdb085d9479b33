/*
 * The responder's own state (not installed), shared by responder.c (the
 * listener and the event loops) and responder_conn.c (each connection).
 *
 * One listener shared by every event loop, each registering it with
 * EPOLLEXCLUSIVE so a new connection wakes one loop, not all. SO_REUSEPORT
 * listeners would need one bind per loop (racy with port 0, and not
 * available for unix paths); with a shared listener a loop that wakes and
 * finds the queue empty just gets EAGAIN.
 *
 * Per connection: struct rconn below (176 bytes with malloc's rounding on
 * x86-64), nothing else while idle. An echo connection holds a buffer only
 * while bytes wait to be sent, a delayed one also a small ring of due times;
 * both are freed once it has sent everything. Beyond kernel socket buffers
 * and the epoll item, an idle connection costs under 200 bytes.
 *
 * Sockets stay in blocking mode and every call passes MSG_DONTWAIT, so a
 * loop whose only connection is an echo with nothing pending can wait for
 * the next request in recv itself: one wakeup and two calls per request
 * (recv, send) instead of three (epoll_wait, recv, send), as a blocking
 * server does. That wait lasts at most SOLO_WAIT_NS, and the loop looks at
 * its epoll set at least that often, so accepts and the stop are not held.
 */
#ifndef IOLENS_RESPONDER_STATE_H
#define IOLENS_RESPONDER_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "peer_kit.h"
enum { RC_HELLO, RC_ECHO, RC_SINK, RC_SOURCE, RC_TRAILER };

struct due {
	uint64_t end; /* stream offset the request ends at */
	uint64_t at;  /* when it may be sent back */
};

struct rconn {
	struct rconn *prev, *next;
	int fd;
	uint8_t state;
	uint8_t solo;      /* SO_RCVTIMEO set: 1, refused: 2 */
	uint32_t events;   /* registered with epoll */
	uint32_t msg;
	uint32_t heap_idx; /* UINT32_MAX: not waiting on a timer */
	uint64_t delay_ns;
	uint64_t start;
	uint64_t rx, tx;   /* stream bytes received, sent */
	uint64_t released; /* echo: may send up to here */
	uint64_t marked;   /* echo: requests up to here have a due time */
	unsigned char *buf; /* echo: stream bytes [tx, rx) at buf + off */
	uint32_t cap, off, len;
	uint32_t due_head, due_n, due_cap;
	struct due *due;
	union {
		unsigned char hello[sizeof(struct iolens__hello)];
		uint64_t bad; /* sink: first bad offset, UINT64_MAX or IOLENS_TRAILER_UNCHECKED */
		struct iolens__trailer tr;
	} u;
};

#define DUE_MAX 4096u /* a delayed connection stops reading with this many answers pending */

struct rloop {
	struct iolens__responder *r;
	pthread_t th;
	int started;
	int ep;
	struct rconn *conns;
	struct rconn **heap; /* connections by their earliest due time */
	uint32_t nheap, heap_cap;
	unsigned char *scratch;
	uint64_t accept_resume; /* 0: listener registered; else when to register it again */
	uint64_t polled;        /* when the epoll set was last looked at */
};

struct iolens__responder {
	struct iolens__addr addr;
	int lfd, wfd;
	uint64_t delay_ns;
	unsigned nloops;
	struct rloop *loops;
	atomic_int stop;
	atomic_uint_fast64_t open, accepted;
	struct iolens__unix_id bound; /* unix: the socket file bind made */
};

/* The key of c in its loop's heap of due times (responder_conn.c). */
uint64_t iolens__rc_heap_key(const struct rconn *c);
void iolens__rc_close(struct rloop *l, struct rconn *c);
/* Release every answer of c due by `now`. */
int iolens__rc_release(struct rloop *l, struct rconn *c, uint64_t now);
/* The loop's only connection, an echo with nothing pending: this loop may wait in its recv. */
struct rconn *iolens__rc_solo(struct rloop *l);
/* Wait for c's next request in recv and answer it; 0 when none came in time. */
int iolens__rc_solo_echo(struct rloop *l, struct rconn *c);
/* One epoll event of c. */
void iolens__rc_event(struct rloop *l, struct rconn *c, uint32_t ev);

#endif
