/*
 * serve: a load generator drives the backend under test, which accepts and
 * echoes; its requests and round trips are the pass's figures. The
 * generator is the built-in one in the target's child process, or the
 * caller's (w->loadgen: e.g. generator ranks on other hosts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "run.h"

/*
 * serve: start the load generator on this pass's listener, let the jobs run
 * (their accepts are setup, outside the window) and wait until every
 * connection is accepted. 0, or -errno with the result's status set.
 */
int iolens__serve_start(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n)
{
	const struct iolens_workload *w = run->w;
	struct iolens__loadgen_opts o = {
		.conns = w->conns,
		.msg = iolens__net_msg(w),
		.depth = w->depth,
	};
	uint64_t deadline = now_ns() + (30ull + w->conns / 500) * 1000000000ull;
	char why[256] = "";
	int e;

	o.addr.len = sizeof(o.addr.ss);
	o.addr.transport = w->transport;
	if (getsockname(run->listen_fd, (struct sockaddr *)&o.addr.ss, &o.addr.len)) {
		e = -errno;
		iolens__set_status(r, IOLENS_STATUS_ERROR, e, "getsockname: %s", iolens_strerror(e));
		return e;
	}
	if (w->loadgen) {
		char addr[160];

		iolens__addr_format(&o.addr, addr, sizeof(addr));
		e = w->loadgen->start(w->loadgen->arg, addr, w->transport, o.conns, o.msg, o.depth,
				      why, sizeof(why));
		if (e >= 0)
			e = 0;
		/* finish follows every start, failed or not */
		run->lg_started = 1;
	} else {
		e = iolens__peer_proc_lg_start(run->peer, &o, why, sizeof(why));
	}
	if (e) {
		iolens__set_status(r, IOLENS_STATUS_ERROR, e, "load generator: %s", why);
		return e;
	}
	run->lg_started = 1;
	for (;;) {
		unsigned got = atomic_load(&run->accepted);
		struct timespec ts = { 0, 2000000 };

		if (got == w->conns)
			return 0;
		for (unsigned i = 0; i < n; i++)
			if (jobs[i].err) {
				iolens__set_status(r, IOLENS_STATUS_ERROR, jobs[i].err,
						   "accepted %u of %u connections: %s", got, w->conns,
						   jobs[i].errmsg);
				return jobs[i].err;
			}
		if (now_ns() > deadline || (w->stop && *w->stop)) {
			e = w->stop && *w->stop ? -EINTR : -ETIMEDOUT;
			iolens__set_status(r, IOLENS_STATUS_ERROR, e,
					   "accepted only %u of %u connections (RLIMIT_NOFILE %llu): %s", got,
					   w->conns, (unsigned long long)run->t->nofile,
					   e == -EINTR ? "interrupted" : "timed out waiting for the rest");
			r->interrupted = e == -EINTR;
			return e;
		}
		nanosleep(&ts, NULL);
	}
}

/* Stop the generator and take its figures: the built-in one's or the caller's. */
static void lg_finish(struct run *run, struct iolens_loadgen_figures *g)
{
	const struct iolens_loadgen *lg = run->w->loadgen;

	if (lg) {
		memset(g, 0, sizeof(*g));
		lg->finish(lg->arg, g);
	} else {
		iolens__peer_proc_lg_finish(run->peer, g);
	}
	run->lg_started = 0;
}

void iolens__serve_measure(struct run *run, int on)
{
	if (run->w->loadgen)
		run->w->loadgen->measure(run->w->loadgen->arg, on);
	else
		iolens__peer_proc_lg_measure(run->peer, on);
}

/* The load generator's figures, taken before the jobs hang up. */
void iolens__serve_finish(struct iolens_result *r, struct run *run)
{
	struct iolens_loadgen_figures g = { 0 };

	if (!run->lg_started)
		return;
	lg_finish(run, &g);
	run->lg_requests = g.requests;
	run->lg_bytes = g.bytes;
	run->lg_hist = g.hist;
	r->net.conns_open = g.connected;
	if (g.err && r->status == IOLENS_STATUS_OK)
		iolens__set_status(r, IOLENS_STATUS_ERROR, g.err, "load generator: %s", g.errmsg);
}

/*
 * A serve pass that could not start: wake every blocked accept and stop.
 * The generator's own first error (a connection reset, refused) is what
 * explains connections that never arrived: it is added to the reason.
 */
void iolens__serve_abort(struct iolens_result *r, struct run *run)
{
	struct iolens_loadgen_figures g = { 0 };

	if (run->lg_started) {
		lg_finish(run, &g);
		iolens_hist_free(g.hist);
		if (g.err && r->reason[0]) {
			size_t n = strlen(r->reason);

			snprintf(r->reason + n, sizeof(r->reason) - n, "; the load generator: %s",
				 g.errmsg);
		}
	}
	shutdown(run->listen_fd, SHUT_RDWR);
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_ABORT);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
}
