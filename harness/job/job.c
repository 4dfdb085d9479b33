/*
 * The per-call bookkeeping both job loops stand on: a job's failure, and its
 * submit and reap calls, each timed and bracketed by the thread's switch
 * count on the counting pass; pinning a job thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "job.h"

void iolens__job_fail(struct job *j, int err, const char *fmt, ...)
{
	va_list ap;

	if (j->err)
		return;
	j->err = err;
	va_start(ap, fmt);
	vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
	va_end(ap);
}

/* Voluntary context switches of the calling thread so far. */
static uint64_t thread_vcsw(struct job *j)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	j->instr_calls++;
	return (uint64_t)ru.ru_nvcsw;
}

/* One call into the backend, its time and the switches inside it. */
struct probe {
	uint64_t v0, t0, t_in;
};

static void probe_begin(struct job *j, struct probe *p)
{
	p->t0 = now_ns();
	p->v0 = thread_vcsw(j);
	p->t_in = now_ns();
	j->instr_ns += p->t_in - p->t0;
}

/* Time inside the call; adds its switches to *vcsw. */
static uint64_t probe_end(struct job *j, const struct probe *p, uint64_t *vcsw)
{
	uint64_t t_out = now_ns(), v1 = thread_vcsw(j);

	*vcsw += v1 - p->v0;
	j->instr_ns += now_ns() - t_out;
	return t_out - p->t_in;
}

int iolens__job_submit(struct job *j, struct iolens_ctx *ctx, struct iolens_op **ops, unsigned n,
		       int probing)
{
	struct probe pr;
	int r;

	if (probing)
		probe_begin(j, &pr);
	r = iolens_ctx_submit(ctx, ops, n);
	if (probing) {
		uint64_t before = j->vcsw_submit, in_call = probe_end(j, &pr, &j->vcsw_submit);

		j->submits++;
		j->submits_slept += j->vcsw_submit != before;
		for (int i = 0; i < r; i++)
			((struct slot *)ops[i])->sync_ns = in_call;
	}
	if (r < 0)
		iolens__job_fail(j, r, "submit: %s", iolens_strerror(r));
	return r;
}

/* The backend's count of waits it entered: what tells a wait from a data call. */
static uint64_t ctx_waits(const struct iolens_ctx *ctx)
{
	struct iolens_backend_stats st;

	iolens_ctx_stats(ctx, &st);
	return st.waits;
}

int iolens__job_reap(struct job *j, struct iolens_ctx *ctx, unsigned min, int64_t timeout_ns,
		     int probing)
{
	struct probe pr;
	uint64_t waits = 0;
	int got;

	if (probing) {
		waits = ctx_waits(ctx);
		probe_begin(j, &pr);
	}
	got = iolens_ctx_reap(ctx, j->done, min, j->depth, timeout_ns);
	if (probing) {
		uint64_t v = 0;

		probe_end(j, &pr, &v);
		j->vcsw_wait += v;
		/*
		 * A reap that entered no wait (the backend counts each one)
		 * slept, if at all, in the data calls it made: a readiness
		 * backend's pread after a poll that found the file ready.
		 */
		if (ctx_waits(ctx) != waits) {
			j->reaps_waited++;
			j->reaps_waited_slept += v != 0;
		}
		j->reaps++;
		j->reaps_slept += v != 0;
	}
	if (got < 0)
		iolens__job_fail(j, got, "reap: %s", iolens_strerror(got));
	return got;
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
