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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "netjob.h"

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
	n->open_reqs++;
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
		n->open_reqs--;
		if ((e[1] & MEASURED_BIT) && count_measured(j, measured_done)) {
			iolens__hist_record(j->hist[K_READ], now - e[0]);
			if (j->ol_unc)
				iolens__ol_done(j, e[0], sent, now);
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

	for (unsigned tries = 0; j->ol_next <= now && tries < n->nconns; tries++) {
		struct conn *k = &n->conns[n->rr];
		unsigned c = n->rr;

		n->rr = (n->rr + 1) % n->nconns;
		if (k->started - k->done >= n->reqdepth || k->closed)
			continue;
		start_request(j, k, iolens__ol_take(j), now, measuring);
		push(n, c);
		tries = 0;
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
		/*
		 * Open loop with no request unanswered: the receives posted can
		 * complete with nothing, so nothing is delayed by waiting on the
		 * clock, to the due time, instead of in the backend (whose
		 * timeout wakes as late as any sleep).
		 */
		if (open_loop && n->inflight > npend && !n->open_reqs && j->ol_next > now &&
		    wl(j)->kind == IOLENS_WL_ECHO) {
			iolens__ol_wait(j, j->ol_next, now);
			continue;
		}
		if (n->inflight == npend) {
			if (npend) {
				iolens__job_fail(j, -EAGAIN,
						 "submit: backend accepted nothing with nothing in flight");
				return;
			}
			if (open_loop && j->ol_next > now)
				iolens__ol_wait(j, j->ol_next, now);
			if (!open_loop && !n->qlen && !(n->accepts && n->naccepted < n->nconns)) {
				/* Every connection closed (serve, outside the window): idle. */
				struct timespec ts = { 0, 1000000 };

				nanosleep(&ts, NULL);
			}
			continue;
		}
		/*
		 * Open loop: schedule() above started every due request it had
		 * room for, so one still due has no room and waits for a
		 * completion to make it, never a loop of looks, which would take
		 * the CPU from the peer being measured; else wait no later than
		 * the next due time.
		 */
		if (open_loop && j->ol_next <= now)
			timeout = REAP_TIMEOUT_NS;
		else if (open_loop && j->ol_next - now < (uint64_t)REAP_TIMEOUT_NS)
			timeout = (int64_t)(j->ol_next - now);
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
