/*
 * The socket loop's own state (not installed), shared by its files: setup.c
 * (connections and the listener), loop.c (the loop), end.c (the drain and
 * the bounded joins) and summary.c (the figures).
 *
 * A connection has at most one SEND and one RECV in flight (a stream socket
 * has one byte order), so a job's context depth is twice its connections,
 * plus its accepts. Connections that need attention wait in a FIFO, so the
 * loop's cost follows the completions, not the number of connections.
 */
#ifndef IOLENS_NETJOB_H
#define IOLENS_NETJOB_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "job.h"
#include "net.h"
#include "peer.h"

#define RBUF_MAX (64u << 10)
#define ACCEPTS_IN_FLIGHT 16u
#define CONNECT_TIMEOUT_S 10
#define MEASURED_BIT (1ull << 63)
/*
 * After the window a job has DRAIN_NS to take back what is in flight and
 * read the sinks' trailers (the peer may have stopped: nothing then comes
 * back); once the run is stopped (SIGINT), it stops waiting as soon as a
 * REAP_TIMEOUT_NS step brings nothing. What is still in flight then is ended
 * by shutting the connections down, with ABANDON_NS for those completions.
 * The main thread, joining, shuts the connections of a job down itself
 * once DRAIN_NS + ABANDON_NS (plus the echo delay) has passed, or
 * STOP_GRACE_NS after a stop: a thread-per-connection job may sit inside a
 * blocking call that only a shutdown ends.
 */
#define DRAIN_NS (REAP_TIMEOUT_NS * 25)
#define ABANDON_NS 500000000ull
#define STOP_GRACE_NS 1000000000ull
#define JOIN_STEP_NS 50000000ull
_Static_assert(DRAIN_NS == 5000000000LL, "the messages say 5 s");

struct conn {
	int fd;
	uint32_t index;      /* over all jobs: where its stream starts */
	uint64_t start;      /* stream start offset */
	uint64_t tx_end;     /* bytes of the requests started so far */
	uint64_t tx_off;     /* bytes sent */
	uint64_t rx_off;     /* bytes received and checked */
	uint64_t started, done; /* requests */
	uint64_t echo_len;   /* serve: bytes received and not yet sent back */
	uint64_t echo_sent;
	uint8_t send_busy, recv_busy, queued, closed;
	char *rbuf;
};

struct netjob {
	struct conn *conns;
	unsigned nconns, naccepted, accepts_busy;
	uint32_t *queue; /* connections to look at, FIFO */
	unsigned qhead, qlen;
	uint64_t *ring;  /* per connection, depth pairs: intended start, actual start */
	unsigned reqdepth;
	uint32_t msg, rbuf_size;
	char *rbufs;
	struct slot *accepts;
	unsigned inflight;
	unsigned rr;               /* open loop: the connection tried next */
	uint64_t open_reqs;        /* echo: requests started and not yet answered, all connections */
	int fake;                  /* the backend moves no bytes (null): nothing to check */
	unsigned trailers, unchecked; /* stream: clean trailers, and those that did not check */
	int mismatch;              /* stream: a trailer named a bad byte */
	uint64_t sink_bytes;       /* stream: bytes the clean trailers counted */
	const unsigned char *pat;  /* iolens__pattern(), looked up once */
	uint64_t send_calls, recv_calls, sent, received; /* in the window */
	atomic_int shut;           /* the main thread shut the connections down (join bound) */
};

static inline const struct iolens_workload *wl(const struct job *j)
{
	return j->run->w;
}

static inline int stopped(const struct run *run)
{
	return iolens__interrupted(run->w);
}

/* A connection's descriptor, read by the main thread too (unblock). */
static inline int conn_fd(const struct conn *k)
{
	return __atomic_load_n(&k->fd, __ATOMIC_RELAXED);
}

/* SHUT_RDWR every connection of the job: ends any send, recv or poll on them at once. */
static inline void shut_all(struct netjob *n)
{
	for (unsigned c = 0; c < n->nconns; c++) {
		int fd = conn_fd(&n->conns[c]);

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}

static inline void push(struct netjob *n, unsigned c)
{
	if (n->conns[c].queued)
		return;
	n->conns[c].queued = 1;
	n->queue[(n->qhead + n->qlen++) % n->nconns] = c;
}

static inline int pop(struct netjob *n)
{
	unsigned c;

	if (!n->qlen)
		return -1;
	c = n->queue[n->qhead];
	n->qhead = (n->qhead + 1) % n->nconns;
	n->qlen--;
	n->conns[c].queued = 0;
	return (int)c;
}

static inline void spin(uint64_t ns)
{
	uint64_t until = now_ns() + ns;

	while (now_ns() < until)
		;
}

static inline int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

#endif
