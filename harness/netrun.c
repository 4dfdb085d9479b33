/*
 * The socket job loop: the same backend contract as disk, driving
 * connections instead of file offsets.
 *
 *  - echo: the job is the client. Each connection keeps `depth` requests of
 *    `msg` bytes outstanding; a request's latency runs from its start (or,
 *    open loop, from its intended start) to the arrival of its last echoed
 *    byte. Every received byte is compared with the stream pattern.
 *  - serve: the job is an echo server. It accepts its share of the load
 *    generator's connections, then receives and sends back; latencies are
 *    the load generator's round trips.
 *  - stream: the job sends the pattern to a sink, one send in flight per
 *    connection; the sink's trailer says whether every byte arrived intact,
 *    or (stream_nocheck) only how many arrived.
 *
 * A connection has at most one SEND and one RECV in flight (a stream socket
 * has one byte order), so a job's context depth is twice its connections,
 * plus its accepts. Connections that need attention wait in a FIFO, so the
 * loop's cost follows the completions, not the number of connections.
 *
 * One piece, ~1,300 lines, because the socket loop, its setup and the
 * bounded drain share struct netjob and call each other per operation;
 * issue 18 (the wing layout) splits setup, loop and drain into net/ files.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <dirent.h>
#include <endian.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "peer.h"
#include "runner.h"

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
	uint64_t next_due, gap_ns; /* open loop */
	unsigned rr;
	struct iolens_hist *unc;   /* open loop: latency from the actual start */
	int fake;                  /* the backend moves no bytes (null): nothing to check */
	unsigned trailers, unchecked; /* stream: clean trailers, and those that did not check */
	int mismatch;              /* stream: a trailer named a bad byte */
	uint64_t sink_bytes;       /* stream: bytes the clean trailers counted */
	const unsigned char *pat;  /* iolens__pattern(), looked up once */
	uint64_t send_calls, recv_calls, sent, received; /* in the window */
	atomic_int shut;           /* the main thread shut the connections down (join bound) */
};

static const struct iolens_workload *wl(const struct job *j)
{
	return j->run->w;
}

static int stopped(const struct run *run)
{
	return run->w->stop && *run->w->stop;
}

/* A connection's descriptor, read by the main thread too (unblock). */
static int conn_fd(const struct conn *k)
{
	return __atomic_load_n(&k->fd, __ATOMIC_RELAXED);
}

/* SHUT_RDWR every connection of the job: ends any send, recv or poll on them at once. */
static void shut_all(struct netjob *n)
{
	for (unsigned c = 0; c < n->nconns; c++) {
		int fd = conn_fd(&n->conns[c]);

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}

/* Threads of a socket run: one per connection for thread-per-op backends. */
unsigned iolens__net_threads(const struct run *run)
{
	const struct iolens_workload *w = run->w;

	if (run->spec->info->caps & IOLENS_CAP_THREAD_PER_OP)
		return w->conns;
	return w->jobs < w->conns ? w->jobs : w->conns;
}

uint32_t iolens__net_msg(const struct iolens_workload *w)
{
	if (w->msg)
		return w->msg;
	return w->kind == IOLENS_WL_STREAM ? 128u << 10 : 64u;
}

static void push(struct netjob *n, unsigned c)
{
	if (n->conns[c].queued)
		return;
	n->conns[c].queued = 1;
	n->queue[(n->qhead + n->qlen++) % n->nconns] = c;
}

static int pop(struct netjob *n)
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

static void spin(uint64_t ns)
{
	uint64_t until = now_ns() + ns;

	while (now_ns() < until)
		;
}

/* A plain blocking connect with a timeout, then the hello. */
static int dial(const struct run *run, unsigned index, int mode, uint32_t msg, char *why,
		size_t len)
{
	const struct iolens_target *t = run->t;
	struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
	/* Little-endian on the wire, as the responder reads it. */
	struct iolens__hello h = {
		.magic = htole64(IOLENS_HELLO_MAGIC),
		.mode = htole32((uint32_t)mode),
		.msg = htole32(msg),
		.delay_ns = htole64(mode == IOLENS_PEER_SINK
					    ? (run->w->stream_nocheck ? IOLENS_SINK_NOCHECK : 0)
					    : run->w->delay_ns),
		.start = htole64(iolens__stream_start(index)),
	};
	int fd = socket(t->peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		snprintf(why, len, "socket: %s", iolens_strerror(-errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&t->peer, t->peer_len) ||
	    send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		int e = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;

		snprintf(why, len, "connect to %s: %s", run->t->path, iolens_strerror(-e));
		close(fd);
		return -e;
	}
	if (t->peer.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

static int listen_on(struct run *run, char *why, size_t len)
{
	const struct iolens_target *t = run->t;
	const char *path = ((const struct sockaddr_un *)&t->peer)->sun_path;
	int fd = socket(t->peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		snprintf(why, len, "socket: %s", iolens_strerror(-errno));
		return -errno;
	}
	memset(&run->listen_id, 0, sizeof(run->listen_id));
	if (t->peer.ss_family == AF_UNIX) {
		/* A stale socket is replaced; anything else there is refused, never removed. */
		int e = iolens__unix_claim(path, 1, "--listen", why, len);

		if (e) {
			close(fd);
			return e;
		}
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&t->peer, t->peer_len)) {
		int e = errno;

		snprintf(why, len, "--listen: %s: %s", t->path, iolens_strerror(-e));
		close(fd);
		return -e;
	}
	if (t->peer.ss_family == AF_UNIX)
		iolens__unix_bound(path, &run->listen_id);
	if (listen(fd, (int)(run->w->conns < 65535 ? run->w->conns : 65535))) {
		int e = errno;

		snprintf(why, len, "--listen: %s: %s", t->path, iolens_strerror(-e));
		close(fd);
		iolens__unix_release(path, &run->listen_id);
		return -e;
	}
	return fd;
}

void iolens__net_unlisten(struct run *run)
{
	if (run->listen_fd < 0)
		return;
	close(run->listen_fd);
	run->listen_fd = -1;
	if (run->t->peer.ss_family == AF_UNIX)
		iolens__unix_release(((const struct sockaddr_un *)&run->t->peer)->sun_path,
				     &run->listen_id);
}

static int job_alloc(struct job *j, struct run *run, unsigned nconns, unsigned ctx_depth)
{
	const struct iolens_workload *w = run->w;
	struct netjob *n = calloc(1, sizeof(*n));
	unsigned nslots = 2 * nconns;

	j->net = n;
	j->run = run;
	j->fd = j->sc_fd = j->io_fd = j->enter_fd = -1;
	if (!n)
		return -ENOMEM;
	n->nconns = nconns;
	n->fake = strcmp(run->spec->info->model, IOLENS_MODEL_NO_IO) == 0;
	n->pat = iolens__pattern();
	n->msg = iolens__net_msg(w);
	n->reqdepth = w->depth;
	n->rbuf_size = w->kind == IOLENS_WL_STREAM ? 0
		       : (uint64_t)n->msg * w->depth < RBUF_MAX ? n->msg * w->depth
							       : RBUF_MAX;
	n->conns = calloc(nconns, sizeof(*n->conns));
	n->queue = calloc(nconns, sizeof(*n->queue));
	n->ring = calloc((size_t)nconns * w->depth * 2, sizeof(*n->ring));
	n->rbufs = n->rbuf_size ? malloc((size_t)nconns * n->rbuf_size) : NULL;
	j->depth = ctx_depth;
	j->slots = calloc(nslots, sizeof(*j->slots));
	j->batch = calloc(ctx_depth + nslots, sizeof(*j->batch));
	j->done = calloc(ctx_depth, sizeof(*j->done));
	if (!n->conns || !n->queue || !n->ring || (n->rbuf_size && !n->rbufs) || !j->slots ||
	    !j->batch || !j->done)
		return -ENOMEM;
	if (w->kind == IOLENS_WL_SERVE) {
		n->accepts = calloc(ACCEPTS_IN_FLIGHT, sizeof(*n->accepts));
		if (!n->accepts)
			return -ENOMEM;
	}
	if (!(j->hist[K_READ] = iolens_hist_new()))
		return -ENOMEM;
	if (w->rate > 0 && !(n->unc = iolens_hist_new()))
		return -ENOMEM;
	for (unsigned c = 0; c < nconns; c++) {
		n->conns[c].fd = -1;
		n->conns[c].rbuf = n->rbufs ? n->rbufs + (size_t)c * n->rbuf_size : NULL;
		j->slots[2 * c].op.kind = IOLENS_OP_SEND;
		j->slots[2 * c + 1].op.kind = IOLENS_OP_RECV;
		j->slots[2 * c].op.user_data = j->slots[2 * c + 1].op.user_data = &n->conns[c];
		j->slots[2 * c].op.buf_index = j->slots[2 * c + 1].op.buf_index = -1;
	}
	return 0;
}

/*
 * Set up every job of a pass: allocate, then (echo, stream) open the
 * connections and say hello, or (serve) open the listener. Runs on the main
 * thread before the job threads exist, outside every measured window.
 */
int iolens__net_setup(struct run *run, struct job *jobs, unsigned nthreads, char *why, size_t len)
{
	const struct iolens_workload *w = run->w;
	int tpo = (run->spec->info->caps & IOLENS_CAP_THREAD_PER_OP) != 0;
	int nb = (run->spec->info->caps & IOLENS_CAP_NONBLOCK_FD) != 0;
	int mode = w->kind == IOLENS_WL_STREAM ? IOLENS_PEER_SINK : IOLENS_PEER_ECHO;
	unsigned index = 0;
	int r;

	run->listen_fd = -1;
	for (unsigned i = 0; i < nthreads; i++) {
		unsigned nconns = w->conns / nthreads + (i < w->conns % nthreads);
		unsigned depth = tpo ? 1 : 2 * nconns +
			(w->kind == IOLENS_WL_SERVE ? ACCEPTS_IN_FLIGHT : 0);

		jobs[i].index = i;
		r = job_alloc(&jobs[i], run, nconns, depth);
		if (r) {
			snprintf(why, len, "out of memory for %u connections", w->conns);
			return r;
		}
		if (run->ops_mode)
			jobs[i].quota = w->ops / nthreads + (i < w->ops % nthreads);
		for (unsigned c = 0; c < nconns; c++)
			jobs[i].net->conns[c].index = index + c;
		index += nconns;
	}
	if (w->kind == IOLENS_WL_SERVE) {
		r = listen_on(run, why, len);
		if (r < 0)
			return r;
		run->listen_fd = r;
		return nb ? nonblock(run->listen_fd) : 0;
	}
	for (unsigned i = 0, opened = 0; i < nthreads; i++) {
		struct netjob *n = jobs[i].net;

		for (unsigned c = 0; c < n->nconns; c++, opened++) {
			struct conn *k = &n->conns[c];
			size_t at;

			if (stopped(run)) {
				snprintf(why, len, "interrupted while connecting (%u of %u connections open)",
					 opened, w->conns);
				return -EINTR;
			}
			k->fd = dial(run, k->index, mode, n->msg, why, len);
			if (k->fd < 0) {
				r = k->fd;
				at = strlen(why);
				snprintf(why + at, len - at,
					 " (could open %u of %u connections; RLIMIT_NOFILE %llu)", opened,
					 w->conns, (unsigned long long)run->t->nofile);
				return r;
			}
			k->start = iolens__stream_start(k->index);
			if (nb && (r = nonblock(k->fd))) {
				snprintf(why, len, "fcntl O_NONBLOCK: %s", iolens_strerror(r));
				return r;
			}
		}
	}
	return 0;
}

static void add_op(struct job *j, struct slot *s, int measuring, uint64_t now, unsigned *nb)
{
	s->op.flags = 0;
	s->op.result = 0;
	s->op.t_submit = now;
	s->measured = measuring;
	s->instr_mark = j->instr_ns;
	s->sync_ns = 0;
	j->batch[(*nb)++] = &s->op;
	j->net->inflight++;
}

/* Start a request on connection c at `intended` (closed loop: now). */
static void start_request(struct job *j, struct conn *k, uint64_t intended, uint64_t now,
			  int measuring)
{
	struct netjob *n = j->net;
	uint64_t *e = n->ring + 2 * ((size_t)(k - n->conns) * n->reqdepth + k->started % n->reqdepth);

	e[0] = intended;
	e[1] = now | (measuring ? MEASURED_BIT : 0);
	k->started++;
	k->tx_end += n->msg;
}

/* The next operations connection c needs, within the context's depth. */
static void plan(struct job *j, unsigned c, int measuring, uint64_t now, unsigned *nb)
{
	struct netjob *n = j->net;
	struct conn *k = &n->conns[c];
	int kind = wl(j)->kind;
	struct slot *snd = &j->slots[2 * c], *rcv = &j->slots[2 * c + 1];

	if (k->closed || k->fd < 0)
		return;
	if (kind == IOLENS_WL_ECHO && !(wl(j)->rate > 0))
		while (k->started - k->done < n->reqdepth)
			start_request(j, k, now, now, measuring);
	if (kind == IOLENS_WL_STREAM && !k->send_busy)
		k->tx_end = k->tx_off + n->msg;
	if (kind == IOLENS_WL_SERVE) {
		if (!k->send_busy && k->echo_sent < k->echo_len && n->inflight < j->depth) {
			snd->op.fd = k->fd;
			snd->op.buf = k->rbuf + k->echo_sent;
			snd->op.len = (uint32_t)(k->echo_len - k->echo_sent);
			k->send_busy = 1;
			add_op(j, snd, measuring, now, nb);
		} else if (!k->recv_busy && k->echo_sent == k->echo_len && n->inflight < j->depth) {
			rcv->op.fd = k->fd;
			rcv->op.buf = k->rbuf;
			rcv->op.len = n->rbuf_size;
			k->recv_busy = 1;
			add_op(j, rcv, measuring, now, nb);
		}
		return;
	}
	if (!k->send_busy && k->tx_off < k->tx_end && n->inflight < j->depth) {
		uint64_t want = k->tx_end - k->tx_off;

		snd->op.fd = k->fd;
		snd->op.buf = (void *)(n->pat + (k->start + k->tx_off) % IOLENS_PATTERN_PERIOD);
		snd->op.len = (uint32_t)(want < IOLENS_MSG_MAX ? want : IOLENS_MSG_MAX);
		k->send_busy = 1;
		add_op(j, snd, measuring, now, nb);
	}
	/* One op at a time (thread per connection): receive once all is sent. */
	if (kind == IOLENS_WL_ECHO && !k->recv_busy && k->rx_off < k->tx_end &&
	    n->inflight < j->depth) {
		uint64_t want = k->tx_end - k->rx_off;

		rcv->op.fd = k->fd;
		rcv->op.buf = k->rbuf;
		rcv->op.len = (uint32_t)(want < n->rbuf_size ? want : n->rbuf_size);
		k->recv_busy = 1;
		add_op(j, rcv, measuring, now, nb);
	}
}

static void plan_accepts(struct job *j, int measuring, uint64_t now, unsigned *nb)
{
	struct netjob *n = j->net;

	for (unsigned a = 0; a < ACCEPTS_IN_FLIGHT; a++) {
		struct slot *s = &n->accepts[a];

		if (n->naccepted + n->accepts_busy >= n->nconns || n->inflight >= j->depth)
			return;
		if (s->busy)
			continue;
		s->busy = 1;
		s->op.kind = IOLENS_OP_ACCEPT;
		s->op.fd = j->run->listen_fd;
		s->op.buf = NULL;
		s->op.len = 0;
		s->op.user_data = NULL;
		n->accepts_busy++;
		add_op(j, s, measuring, now, nb);
	}
}

static int accepted(struct job *j, struct slot *s)
{
	struct netjob *n = j->net;
	int fd = (int)s->op.result, one = 1;
	struct conn *k;

	s->busy = 0;
	n->accepts_busy--;
	if (s->op.result < 0) {
		iolens__job_fail(j, (int)s->op.result, "accept: %s",
				 iolens_strerror((int)s->op.result));
		return -1;
	}
	k = &n->conns[n->naccepted];
	__atomic_store_n(&k->fd, fd, __ATOMIC_RELAXED);
	if (j->run->t->peer.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((j->run->spec->info->caps & IOLENS_CAP_NONBLOCK_FD) && nonblock(fd)) {
		iolens__job_fail(j, -errno, "fcntl O_NONBLOCK: %s", iolens_strerror(-errno));
		return -1;
	}
	atomic_fetch_add(&j->run->accepted, 1);
	push(n, n->naccepted++);
	return 0;
}

static void record(struct job *j, struct slot *s, uint64_t now)
{
	if (s->measured)
		iolens__trace_op(j, &s->op, now);
	if (!s->measured || !j->run->counting)
		return;
	j->sync_ns += s->sync_ns;
	j->lat_ns += now - s->op.t_submit - (j->instr_ns - s->instr_mark);
}

/*
 * Count one measured completion. In ops mode a job measures its quota and
 * no more: completions past it that arrive in the same reap (requests on
 * other connections, started while the quota was still open) are not
 * counted.
 */
static int count_measured(const struct job *j, uint64_t *measured_done)
{
	if (j->run->ops_mode && *measured_done >= j->quota)
		return 0;
	(*measured_done)++;
	return 1;
}

/* Requests whose last byte has now come back. */
static void finish_requests(struct job *j, struct conn *k, uint64_t now, uint64_t *measured_done)
{
	struct netjob *n = j->net;
	const struct iolens_workload *w = wl(j);

	while (k->done < k->started && k->rx_off >= (k->done + 1) * n->msg) {
		uint64_t *e = n->ring + 2 * ((size_t)(k - n->conns) * n->reqdepth + k->done % n->reqdepth);
		uint64_t sent = e[1] & ~MEASURED_BIT;

		k->done++;
		if ((e[1] & MEASURED_BIT) && count_measured(j, measured_done)) {
			iolens__hist_record(j->hist[K_READ], now - e[0]);
			if (n->unc)
				iolens__hist_record(n->unc, now - sent);
			j->ops++;
			j->bytes += n->msg;
		}
		if (w->think_ns)
			spin(w->think_ns);
	}
}

/*
 * An op that the main thread's shutdown ended (the job overran its bound,
 * inside a blocking call) fails for that reason, not for the errno the
 * shutdown gave it. Returns 1 when that is so and the job is failed.
 */
static int cut_short(struct job *j, const struct conn *k, const struct iolens_op *op)
{
	if (!atomic_load(&j->net->shut))
		return 0;
	iolens__job_fail(j, -ETIMEDOUT,
			 "connection %u: a %s was still blocked after the run ended (is the peer stopped?): the connections were shut down",
			 k->index, op->kind == IOLENS_OP_SEND ? "send" : "receive");
	return 1;
}

static int completed(struct job *j, struct iolens_op *op, uint64_t now, uint64_t *measured_done)
{
	struct netjob *n = j->net;
	struct slot *s = (struct slot *)op;
	struct conn *k = op->user_data;
	const struct iolens_workload *w = wl(j);
	unsigned c;

	n->inflight--;
	if (op->kind == IOLENS_OP_ACCEPT)
		return accepted(j, s);
	c = (unsigned)(k - n->conns);
	record(j, s, now);
	if (op->kind == IOLENS_OP_SEND) {
		k->send_busy = 0;
		if (op->result < 0) {
			if (!cut_short(j, k, op))
				iolens__job_fail(j, (int)op->result, "connection %u: send: %s", k->index,
						 iolens_strerror((int)op->result));
			return -1;
		}
		if (s->measured) {
			n->send_calls++;
			n->sent += (uint64_t)op->result;
		}
		if (w->kind == IOLENS_WL_SERVE) {
			k->echo_sent += (uint64_t)op->result;
		} else {
			k->tx_off += (uint64_t)op->result;
			if (w->kind == IOLENS_WL_STREAM && s->measured &&
			    count_measured(j, measured_done)) {
				iolens__hist_record(j->hist[K_READ], now - op->t_submit);
				j->ops++;
				j->bytes += (uint64_t)op->result;
			}
		}
		push(n, c);
		return 0;
	}
	k->recv_busy = 0;
	if (op->result <= 0) {
		int e = op->result ? (int)op->result : -ECONNRESET;

		if (w->kind == IOLENS_WL_SERVE && !op->result &&
		    atomic_load_explicit(&j->run->phase, memory_order_relaxed) != PHASE_MEASURE &&
		    !atomic_load(&n->shut)) {
			k->closed = 1; /* the load generator hung up outside the window */
			return 0;
		}
		if (cut_short(j, k, op))
			return -1;
		iolens__job_fail(j, e, "connection %u: %s", k->index,
				 op->result ? iolens_strerror(e) : "the peer closed the connection");
		return -1;
	}
	if (s->measured) {
		n->recv_calls++;
		n->received += (uint64_t)op->result;
	}
	if (w->kind == IOLENS_WL_SERVE) {
		uint64_t before = k->rx_off / n->msg;

		k->rx_off += (uint64_t)op->result;
		k->echo_len = (uint64_t)op->result;
		k->echo_sent = 0;
		if (w->think_ns)
			spin(w->think_ns * (k->rx_off / n->msg - before));
	} else {
		const unsigned char *want = n->pat + (k->start + k->rx_off) % IOLENS_PATTERN_PERIOD;

		if (!n->fake && memcmp(op->buf, want, (size_t)op->result)) {
			size_t at = 0;

			while (((const unsigned char *)op->buf)[at] == want[at])
				at++;
			iolens__job_fail(j, -EILSEQ,
					 "connection %u: echoed byte at stream offset %llu differs from what was sent",
					 k->index, (unsigned long long)(k->rx_off + at));
			return -1;
		}
		k->rx_off += (uint64_t)op->result;
		finish_requests(j, k, now, measured_done);
	}
	push(n, c);
	return 0;
}

/*
 * How many completions the reap waits for. Usually one: any connection's
 * completion may let the loop plan more. But a job whose one connection has
 * one request in flight, its SEND and its RECV both submitted, can do
 * nothing with the SEND alone: a SEND of at most ECHO_WHOLE_MAX bytes on a
 * connection with nothing else queued goes whole or fails, and the RECV
 * brings the answer. So it waits for both, as a ping-pong client waits for
 * its reply; a backend that submits with its wait (io_uring) then does the
 * request in one system call. (Were the SEND short after all, a responder
 * that answers only whole requests would hold the reap to its timeout.)
 */
#define ECHO_WHOLE_MAX 4096u
static unsigned reap_min(const struct job *j, unsigned npend)
{
	const struct netjob *n = j->net;
	const struct conn *k = &n->conns[0];

	if (wl(j)->kind != IOLENS_WL_ECHO || wl(j)->rate > 0 || n->nconns != 1 ||
	    n->msg > ECHO_WHOLE_MAX || n->inflight - npend != 2)
		return 1;
	return k->send_busy && k->recv_busy && k->started - k->done == 1 ? 2 : 1;
}

/* Open loop: start every request that is due, on connections with room. */
static void schedule(struct job *j, uint64_t now, int measuring)
{
	struct netjob *n = j->net;

	for (unsigned tries = 0; n->next_due <= now && tries < n->nconns; tries++) {
		struct conn *k = &n->conns[n->rr];
		unsigned c = n->rr;

		n->rr = (n->rr + 1) % n->nconns;
		if (k->started - k->done >= n->reqdepth || k->closed)
			continue;
		start_request(j, k, n->next_due, now, measuring);
		push(n, c);
		tries = 0;
		if (wl(j)->poisson) {
			double u = ((double)(next_rand(&j->rng) >> 11) + 0.5) / 9007199254740992.0;

			n->next_due += (uint64_t)(-log(u) * (double)n->gap_ns);
		} else {
			n->next_due += n->gap_ns;
		}
	}
}

void iolens__net_loop(struct job *j, struct iolens_ctx *ctx)
{
	struct run *run = j->run;
	struct netjob *n = j->net;
	const struct iolens_workload *w = run->w;
	int open_loop = w->rate > 0;
	uint64_t measured_done = 0;
	unsigned npend = 0;

	if (open_loop) {
		unsigned share = iolens__net_threads(run);

		n->gap_ns = (uint64_t)(1e9 * share / w->rate);
		n->next_due = now_ns();
	}
	for (unsigned c = 0; c < n->nconns; c++)
		if (n->conns[c].fd >= 0)
			push(n, c);
	for (;;) {
		int ph = atomic_load_explicit(&run->phase, memory_order_relaxed);
		int measuring = ph == PHASE_MEASURE, probing = measuring && run->counting;
		uint64_t now = now_ns();
		int64_t timeout = REAP_TIMEOUT_NS;
		unsigned nb = npend, min;
		int r, got, ci;

		if (ph >= PHASE_HALT)
			return;
		if (run->ops_mode && measuring && measured_done >= j->quota) {
			j->t_end = now;
			return;
		}
		if (open_loop)
			schedule(j, now, measuring);
		if (n->accepts && n->naccepted < n->nconns)
			plan_accepts(j, measuring, now, &nb);
		while ((ci = pop(n)) >= 0 && n->inflight < j->depth)
			plan(j, (unsigned)ci, measuring, now, &nb);
		if (ci >= 0)
			push(n, (unsigned)ci);
		if (nb) {
			r = iolens__job_submit(j, ctx, j->batch, nb, probing);
			if (r < 0)
				return;
			npend = nb - (unsigned)r;
			memmove(j->batch, j->batch + r, npend * sizeof(*j->batch));
		}
		if (n->inflight == npend) {
			if (npend) {
				iolens__job_fail(j, -EAGAIN,
						 "submit: backend accepted nothing with nothing in flight");
				return;
			}
			if (open_loop && n->next_due > now) {
				/*
				 * In steps, so the window's end and a stop are seen
				 * within one: at a low rate the next request may be
				 * due long after both.
				 */
				uint64_t until = n->next_due - now > (uint64_t)REAP_TIMEOUT_NS
							 ? now + (uint64_t)REAP_TIMEOUT_NS
							 : n->next_due;
				struct timespec ts = { (time_t)(until / 1000000000ull),
						       (long)(until % 1000000000ull) };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
			if (!open_loop && !n->qlen && !(n->accepts && n->naccepted < n->nconns)) {
				/* Every connection closed (serve, outside the window): idle. */
				struct timespec ts = { 0, 1000000 };

				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (open_loop && n->next_due <= now)
			timeout = 0;
		else if (open_loop && n->next_due - now < (uint64_t)REAP_TIMEOUT_NS)
			timeout = (int64_t)(n->next_due - now);
		min = timeout == 0 ? 0 : reap_min(j, npend);
		got = iolens__job_reap(j, ctx, min, timeout, probing);
		if (got < 0)
			return;
		now = now_ns();
		for (int i = 0; i < got; i++)
			if (completed(j, j->done[i], now, &measured_done))
				return;
	}
}

/* The next wait toward deadline: REAP_TIMEOUT_NS at most, 0 once it has passed. */
static int64_t step_to(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (now >= deadline)
		return 0;
	return deadline - now < (uint64_t)REAP_TIMEOUT_NS ? (int64_t)(deadline - now) : REAP_TIMEOUT_NS;
}

/*
 * Wait up to the deadline for fd to be readable, in REAP_TIMEOUT_NS steps;
 * once the run is stopped, one empty step ends the wait. 1 ready, 0 not.
 */
static int wait_readable(const struct run *run, int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		int64_t step = step_to(deadline);
		int r;

		if (!step)
			return 0;
		r = poll(&p, 1, (int)((step + 999999) / 1000000));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* let recv say what is wrong */
		if (r == 0 && stopped(run))
			return 0;
	}
}

/*
 * Read the sink's trailer after our last byte, by the deadline; 0 or a job
 * failure. Checked or not, the sink must have counted every byte sent.
 */
static void check_trailer(struct job *j, struct conn *k, uint64_t deadline)
{
	struct iolens__trailer tr;
	size_t got = 0;

	if (shutdown(k->fd, SHUT_WR)) {
		iolens__job_fail(j, -errno, "connection %u: shutdown: %s", k->index,
				 iolens_strerror(-errno));
		return;
	}
	while (got < sizeof(tr)) {
		ssize_t r;

		if (!wait_readable(j->run, k->fd, deadline)) {
			iolens__job_fail(j, stopped(j->run) ? -EINTR : -ETIMEDOUT,
					 "connection %u: no trailer from the sink %s", k->index,
					 stopped(j->run) ? "before the run was stopped"
							 : "within 5 s after the window (is it stopped?)");
			return;
		}
		if (atomic_load(&j->net->shut)) {
			iolens__job_fail(j, -ETIMEDOUT,
					 "connection %u: no trailer from the sink after the run ended (is it stopped?): the connections were shut down",
					 k->index);
			return;
		}
		r = recv(k->fd, (char *)&tr + got, sizeof(tr) - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			iolens__job_fail(j, r ? -errno : -EPROTO,
					 "connection %u: no trailer from the sink: %s", k->index,
					 r ? iolens_strerror(-errno) : "it closed first");
			return;
		}
		got += (size_t)r;
	}
	tr.bytes = le64toh(tr.bytes);
	tr.bad_offset = le64toh(tr.bad_offset);
	if (tr.bad_offset != UINT64_MAX && tr.bad_offset != IOLENS_TRAILER_UNCHECKED) {
		j->net->mismatch = 1;
		iolens__job_fail(j, -EILSEQ,
				 "connection %u: the sink found a wrong byte at stream offset %llu",
				 k->index, (unsigned long long)tr.bad_offset);
	} else if (tr.bytes != k->tx_off) {
		iolens__job_fail(j, -EIO, "connection %u: sent %llu bytes, the sink received %llu",
				 k->index, (unsigned long long)k->tx_off, (unsigned long long)tr.bytes);
	} else {
		j->net->trailers++;
		j->net->unchecked += tr.bad_offset == IOLENS_TRAILER_UNCHECKED;
		j->net->sink_bytes += tr.bytes;
	}
}

/*
 * Take back completions until nothing is in flight, the deadline passes,
 * the wait fails, or (the run stopped) a step brings nothing.
 */
static void drain(struct job *j, struct iolens_ctx *ctx, uint64_t deadline)
{
	struct netjob *n = j->net;
	int stream = wl(j)->kind == IOLENS_WL_STREAM;

	while (n->inflight) {
		int64_t step = step_to(deadline);
		int got;

		if (!step)
			return;
		got = iolens_ctx_reap(ctx, j->done, 1, j->depth, step);
		if (got < 0) {
			iolens__job_fail(j, got, "draining %u operations after the window: %s",
					 n->inflight, iolens_strerror(got));
			return;
		}
		if (got == 0 && stopped(j->run))
			return;
		for (int i = 0; i < got; i++) {
			struct slot *s = (struct slot *)j->done[i];

			n->inflight--;
			if (j->done[i]->kind == IOLENS_OP_ACCEPT) {
				s->busy = 0;
				if (s->op.result >= 0)
					close((int)s->op.result);
				continue;
			}
			if (stream && j->done[i]->kind == IOLENS_OP_SEND && j->done[i]->result > 0)
				((struct conn *)j->done[i]->user_data)->tx_off += (uint64_t)j->done[i]->result;
		}
	}
}

/*
 * After the window: finish what is in flight, check streams, and drop the
 * connections from the context (net_free closes them, after the join, so
 * the main thread may still shut them down meanwhile). A stream's sends
 * complete as the sink reads; any other pending receive is ended by
 * shutting the connection down. Bounded: see DRAIN_NS.
 */
void iolens__net_end(struct job *j, struct iolens_ctx *ctx)
{
	struct netjob *n = j->net;
	int stream = wl(j)->kind == IOLENS_WL_STREAM;
	uint64_t deadline = now_ns() + DRAIN_NS;

	if (!stream)
		shut_all(n);
	drain(j, ctx, deadline);
	if (n->inflight) {
		unsigned left = n->inflight;

		shut_all(n);
		drain(j, ctx, now_ns() + ABANDON_NS);
		iolens__job_fail(j, stopped(j->run) ? -EINTR : -ETIMEDOUT,
				 "%u operation%s still in flight %s (is the peer stopped?): the connections were shut down%s",
				 left, left == 1 ? "" : "s",
				 stopped(j->run) ? "when the run was stopped" : "5 s after the window",
				 n->inflight ? ", and some operations were abandoned" : "");
	}
	for (unsigned c = 0; c < n->nconns; c++) {
		struct conn *k = &n->conns[c];

		if (k->fd < 0)
			continue;
		if (stream && !n->inflight && !j->err && !n->fake)
			check_trailer(j, k, deadline);
		iolens_ctx_forget(ctx, k->fd);
	}
	if (j->run->listen_fd >= 0)
		iolens_ctx_forget(ctx, j->run->listen_fd);
}

/* Every job's connections shut down, and its later failures said to be for that. */
static void unblock(struct job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (jobs[i].net) {
			atomic_store(&jobs[i].net->shut, 1);
			shut_all(jobs[i].net);
		}
}

/*
 * The bound on a job thread's end after the window (see DRAIN_NS): 1 when it
 * has passed and the connections should be shut down.
 */
static int overdue(const struct run *run, uint64_t start, uint64_t *stop_seen)
{
	uint64_t now = now_ns(), bound = DRAIN_NS + ABANDON_NS;

	if (run->w->kind == IOLENS_WL_ECHO)
		bound += run->w->delay_ns;
	if (!*stop_seen && stopped(run))
		*stop_seen = now;
	return now - start >= bound || (*stop_seen && now - *stop_seen >= STOP_GRACE_NS);
}

static struct timespec mono_in(uint64_t ns)
{
	uint64_t t = now_ns() + ns;

	return (struct timespec){ (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
}

void iolens__net_wait_loops(struct run *run, struct job *jobs, unsigned n)
{
	uint64_t start = now_ns(), stop_seen = 0;
	int shut = 0;

	while (atomic_load(&run->finished) < n) {
		struct timespec ts = mono_in(JOIN_STEP_NS);

		if (!shut && overdue(run, start, &stop_seen)) {
			unblock(jobs, n);
			shut = 1;
		}
		pthread_cond_clockwait(&run->cond, &run->lock, CLOCK_MONOTONIC, &ts);
	}
}

void iolens__net_join(struct run *run, struct job *jobs, unsigned n)
{
	uint64_t start = now_ns(), stop_seen = 0;
	int shut = 0;

	for (unsigned i = 0; i < n;) {
		struct timespec ts = mono_in(JOIN_STEP_NS);

		if (!pthread_clockjoin_np(jobs[i].tid, NULL, CLOCK_MONOTONIC, &ts)) {
			i++;
			continue;
		}
		if (!shut && overdue(run, start, &stop_seen)) {
			unblock(jobs + i, n - i);
			shut = 1;
		}
	}
}

void iolens__net_free(struct job *j)
{
	struct netjob *n = j->net;

	if (!n)
		return;
	for (unsigned c = 0; n->conns && c < n->nconns; c++)
		if (n->conns[c].fd >= 0)
			close(n->conns[c].fd);
	iolens_hist_free(n->unc);
	free(n->conns);
	free(n->queue);
	free(n->ring);
	free(n->rbufs);
	free(n->accepts);
	free(n);
	j->net = NULL;
}

int iolens__pin_job(const struct job *j)
{
	const struct iolens_workload *w = j->run->w;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t set, list;
	int n, k, cpu = -1;

	if (w->cpus) {
		n = iolens__cpulist(w->cpus, ncpu, &list);
		if (n <= 0)
			return -EINVAL; /* checked with the workload: not reached */
		k = (int)(j->index % (unsigned)n);
		while (k >= 0)
			k -= CPU_ISSET(++cpu, &list) ? 1 : 0;
	} else if (w->cpu >= 0) {
		cpu = (int)((unsigned)(w->cpu + (int)j->index) % (unsigned)(ncpu > 0 ? ncpu : 1));
	} else {
		return 0;
	}
	CPU_ZERO(&set);
	CPU_SET((unsigned)cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The CPU a task last ran on (field 39 of its stat), or -1. */
static int last_cpu(int pid, int tid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int cpu = -1, field = 2;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces */
	for (; p && *p; p++)
		if (*p == ' ' && ++field == 39) {
			cpu = atoi(p + 1);
			break;
		}
	return cpu;
}

/* CPUs in a bit mask as "0,1", or "?" when none was seen. */
static void cpu_list(uint64_t mask, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned c = 0; c < 64 && used < len; c++)
		if (mask >> c & 1)
			used += (size_t)snprintf(out + used, len - used, "%s%u", used ? "," : "", c);
	if (!used)
		snprintf(out, len, "?");
}

/* CPUs the process's threads other than the caller and the jobs were last on. */
static uint64_t others_cpus(const struct job *jobs, unsigned n, unsigned *count)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t mask = 0;

	*count = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name), c, job = 0;

		if (e->d_name[0] == '.' || tid == gettid())
			continue;
		for (unsigned i = 0; i < n && !job; i++)
			job = tid == atomic_load(&jobs[i].os_tid);
		if (job)
			continue;
		(*count)++;
		c = last_cpu(getpid(), tid);
		if (c >= 0 && c < 64)
			mask |= 1ull << c;
	}
	closedir(d);
	return mask;
}

/*
 * Where the threads ran: pinned CPUs as asked, or, unpinned, the CPUs each
 * was last seen on at the window's end (a loopback round trip costs several
 * times more across CPUs than on one). Disk runs name the threads the backend
 * started (glibc's AIO threads, io_uring's workers and SQPOLL thread); socket
 * runs the peer process.
 */
void iolens__placement(struct iolens_result *r, const struct run *run, struct job *jobs,
		       unsigned n)
{
	const struct iolens_workload *w = run->w;
	uint64_t jm = 0, pm = 0;
	char js[48], ps[48], dir[48];
	DIR *d;
	struct dirent *e;

	for (unsigned i = 0; i < n; i++) {
		int c = last_cpu(getpid(), atomic_load(&jobs[i].os_tid));

		if (c >= 0 && c < 64)
			jm |= 1ull << c;
	}
	if (!run->net) {
		unsigned others;

		pm = others_cpus(jobs, n, &others);
		cpu_list(jm, js, sizeof(js));
		cpu_list(pm, ps, sizeof(ps));
		snprintf(r->placement, sizeof(r->placement),
			 "jobs %s CPU %s; %u other thread%s (the backend's)%s%s",
			 w->cpu >= 0 || w->cpus ? "pinned, on" : "unpinned, last on", js, others,
			 others == 1 ? "" : "s", others ? " last on CPU " : "", others ? ps : "");
		return;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)run->t->peer_proc.pid);
	if (run->t->peer_proc.pid > 0 && (d = opendir(dir))) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				int c = last_cpu(run->t->peer_proc.pid, atoi(e->d_name));

				if (c >= 0 && c < 64)
					pm |= 1ull << c;
			}
		closedir(d);
	}
	cpu_list(jm, js, sizeof(js));
	cpu_list(pm, ps, sizeof(ps));
	snprintf(r->net.placement, sizeof(r->net.placement), "jobs %s CPU %s; %s",
		 w->cpu >= 0 || w->cpus ? "pinned, on" : "unpinned, last on", js,
		 run->t->peer_proc.pid <= 0 ? "peer remote"
		 : w->peer_cpu >= 0	    ? "peer pinned, on CPU "
					    : "peer unpinned, last on CPU ");
	if (run->t->peer_proc.pid > 0) {
		size_t at = strlen(r->net.placement);

		snprintf(r->net.placement + at, sizeof(r->net.placement) - at, "%s", ps);
	}
	snprintf(r->placement, sizeof(r->placement), "%s", r->net.placement);
}

/*
 * What became of the bytes received. A stream is verified only when every
 * connection's trailer came back clean and said it checked; echo and serve
 * compare every byte as it arrives, so a result that ended well, with bytes
 * moved, is verified.
 */
static void data_check(struct iolens_result *r, const struct run *run, struct job *jobs,
		       unsigned n)
{
	struct iolens_net_result *x = &r->net;
	unsigned conns = 0, trailers = 0, unchecked = 0;
	int fake = 0, mismatch = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		struct netjob *nj = jobs[i].net;

		if (!nj)
			continue;
		conns += nj->nconns;
		trailers += nj->trailers;
		unchecked += nj->unchecked;
		bytes += nj->sink_bytes;
		mismatch |= nj->mismatch;
		fake |= nj->fake;
	}
	if (mismatch || r->error == -EILSEQ)
		x->data_check = IOLENS_CHECK_MISMATCH;
	else if (fake)
		x->data_check = IOLENS_CHECK_NONE;
	else if (run->w->kind != IOLENS_WL_STREAM)
		x->data_check = r->status == IOLENS_STATUS_OK && r->bytes ? IOLENS_CHECK_VERIFIED
									    : IOLENS_CHECK_NONE;
	else if (conns && trailers == conns)
		x->data_check = unchecked ? IOLENS_CHECK_OFF : IOLENS_CHECK_VERIFIED;
	else
		x->data_check = IOLENS_CHECK_NONE;
	if (run->w->kind == IOLENS_WL_STREAM && conns && trailers == conns)
		x->sink_bytes = bytes;
}

void iolens__net_summarise(struct iolens_result *r, const struct run *run, struct job *jobs,
			   unsigned n, struct iolens_hist *all)
{
	struct iolens_net_result *x = &r->net;
	struct iolens_hist *unc = NULL;
	uint64_t sent = 0, received = 0;

	for (unsigned i = 0; i < n; i++) {
		struct netjob *nj = jobs[i].net;

		if (!nj)
			continue;
		x->send_calls += nj->send_calls;
		x->recv_calls += nj->recv_calls;
		sent += nj->sent;
		received += nj->received;
		if (nj->unc) {
			if (!unc)
				unc = iolens_hist_new();
			if (unc)
				iolens_hist_merge(unc, nj->unc);
		}
	}
	x->bytes_per_send = x->send_calls ? (double)sent / (double)x->send_calls : NAN;
	x->bytes_per_recv = x->recv_calls ? (double)received / (double)x->recv_calls : NAN;
	if (unc) {
		x->open_loop = 1;
		iolens__hist_summary(unc, &x->lat_uncorrected);
		iolens_hist_free(unc);
	}
	memset(r->by_kind, 0, sizeof(r->by_kind));
	if (run->w->kind == IOLENS_WL_SERVE) {
		x->latency_from = 1;
		r->ops = run->lg_requests;
		r->bytes = run->lg_bytes;
		iolens__hist_reset(all);
		if (run->lg_hist)
			iolens_hist_merge(all, run->lg_hist);
		iolens__hist_summary(all, &r->lat);
	} else {
		x->conns_open = x->conns;
	}
	x->requests = run->w->kind == IOLENS_WL_STREAM ? 0 : r->ops;
	x->gbit_s = r->seconds > 0 ? (double)r->bytes * 8 / r->seconds / 1e9 : 0;
	data_check(r, run, jobs, n);
}
