/*
 * After the window: what is in flight drained, a stream's trailer read and
 * checked, and the main thread's bounded waits for the job threads, which
 * shut a stuck job's connections down rather than wait on a stopped peer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netjob.h"

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
		iolens__jobs_lost(run, jobs, n);
	}
}

void iolens__net_join(struct run *run, struct job *jobs, unsigned n)
{
	uint64_t start = now_ns(), stop_seen = 0;
	int shut = 0;

	for (unsigned i = 0; i < n;) {
		struct timespec ts = mono_in(JOIN_STEP_NS);

		if (!iolens__job_join(&jobs[i], &ts)) {
			i++;
			continue;
		}
		if (!shut && overdue(run, start, &stop_seen)) {
			unblock(jobs + i, n - i);
			shut = 1;
		}
	}
}
