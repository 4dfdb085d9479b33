/*
 * One pass of one spec: job threads set up, the window opened and closed by
 * the main thread, CPU and switch counters read at its edges. The timing
 * pass measures; the counting pass repeats it with the syscall counters
 * open and keeps only what they saw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "run.h"

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU seconds a thread has used, or NaN. */
static double thread_cpu(pthread_t t)
{
	struct timespec ts;
	clockid_t c;

	if (pthread_getcpuclockid(t, &c) || clock_gettime(c, &ts))
		return NAN;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void execute(struct iolens_result *r, struct run *run, struct iolens_hist *all)
{
	const struct iolens_workload *w = run->w;
	uint32_t caps = run->spec->info->caps;
	int tpo = (caps & IOLENS_CAP_THREAD_PER_OP) && (run->net || w->depth > 1);
	unsigned nthreads = run->net ? iolens__net_threads(run) : w->jobs * (tpo ? w->depth : 1);
	unsigned created = 0;
	int flags = O_CLOEXEC | (run->writes ? O_RDWR : O_RDONLY) | (w->direct ? O_DIRECT : 0) |
		    ((caps & IOLENS_CAP_NONBLOCK_FD) ? O_NONBLOCK : 0);
	struct rusage ru0, ru1;
	struct iolens__sc_snap sc0, sc1;
	struct iolens__helpers h0 = { 0 }, h1 = { 0 };
	double main_cpu0 = 0, main_cpu1 = 0;
	struct job *jobs;
	pthread_attr_t attr;
	uint64_t t0, t1 = 0;
	int err = 0, interrupted = 0, serving = 0;
	char why[256] = "";

	r->thread_per_op = tpo;
	run->counting = iolens__can_count(r, run);
	if (nthreads > MAX_THREADS) {
		iolens__set_status(r, IOLENS_STATUS_ERROR, -EINVAL,
				   run->net ? "%u threads (one per connection) is over the limit of %u"
				   : "%u threads (--jobs x --depth, thread per request) is over the limit of %u",
				   nthreads, MAX_THREADS);
		return;
	}
	jobs = calloc(nthreads, sizeof(*jobs));
	if (!jobs) {
		iolens__set_status(r, IOLENS_STATUS_ERROR, -ENOMEM, "out of memory");
		return;
	}
	if (run->net) {
		err = iolens__net_setup(run, jobs, nthreads, why, sizeof(why));
		if (err) {
			iolens__set_status(r, IOLENS_STATUS_ERROR, err, "%s", why);
			goto out;
		}
		goto threads;
	}
	for (unsigned i = 0; i < nthreads && !err; i++)
		err = iolens__job_setup(&jobs[i], run, i, nthreads, tpo ? 1 : w->depth, flags);
	if (err) {
		iolens__set_status(r, IOLENS_STATUS_ERROR, err, "setting up jobs on '%s': %s", run->t->path,
				   iolens_strerror(err));
		goto out;
	}
	if (!w->direct) {
		err = iolens__target_prepare_cache((struct iolens_target *)run->t, w->cache);
		if (err) {
			iolens__set_status(r, IOLENS_STATUS_ERROR, err, "preparing the page cache: %s",
					   iolens_strerror(err));
			goto out;
		}
	}
	r->resident_before = iolens__target_residency(run->t);
threads:
	run->trace_cap = run->counting ? 0 : w->trace;
	for (unsigned i = 0; i < nthreads && run->trace_cap; i++)
		if (!(jobs[i].trace = calloc(run->trace_cap, sizeof(*jobs[i].trace)))) {
			iolens__set_status(r, IOLENS_STATUS_ERROR, -ENOMEM, "out of memory for --trace");
			goto out;
		}
	pthread_attr_init(&attr);
	if (tpo)
		pthread_attr_setstacksize(&attr, run->net ? NET_TPO_STACK : TPO_STACK);
	for (; created < nthreads; created++) {
		err = pthread_create(&jobs[created].tid, &attr, iolens__job_main, &jobs[created]);
		if (err) {
			err = -err;
			break;
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&run->lock);
	while (atomic_load(&run->ready) < created)
		pthread_cond_wait(&run->cond, &run->lock);
	for (unsigned i = 0; i < created && !err; i++)
		err = jobs[i].err;
	/*
	 * Without a warm-up the jobs stay parked until the window opens: no op
	 * escapes it. A server must accept its connections before that.
	 */
	serving = !err && w->kind == IOLENS_WL_SERVE;
	if (err || w->warmup_s > 0 || serving) {
		atomic_store(&run->phase, err ? PHASE_ABORT : PHASE_WARMUP);
		pthread_cond_broadcast(&run->cond);
	}
	pthread_mutex_unlock(&run->lock);
	if (serving && (err = iolens__serve_start(r, run, jobs, nthreads))) {
		iolens__serve_abort(run);
		for (unsigned i = 0; i < created; i++)
			pthread_join(jobs[i].tid, NULL);
		goto out;
	}
	if (err) {
		for (unsigned i = 0; i < created; i++)
			pthread_join(jobs[i].tid, NULL);
		if (created < nthreads)
			iolens__set_status(r, IOLENS_STATUS_ERROR, err,
					   "could start only %u of %u threads: %s", created, nthreads,
					   iolens_strerror(err));
		else
			for (unsigned i = 0; i < nthreads; i++)
				if (jobs[i].err) {
					iolens__set_status(r, jobs[i].err == -ENOSYS || jobs[i].err == -EOPNOTSUPP
							   ? IOLENS_STATUS_SKIPPED
							   : IOLENS_STATUS_ERROR,
							   jobs[i].err, "%s", jobs[i].errmsg);
					break;
				}
		goto out;
	}
	interrupted = iolens__wait_until(run, now_ns() + (uint64_t)(w->warmup_s * 1e9), nthreads);
	/*
	 * The edges read the same counters in the same order, so the main
	 * thread's own reads cancel out of the deltas (see syscount.h).
	 */
	getrusage(RUSAGE_SELF, &ru0);
	if (run->counting) {
		main_cpu0 = thread_cpu(pthread_self());
		iolens__helpers_scan(&h0);
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].cpu_start = thread_cpu(jobs[i].tid);
			jobs[i].io_start = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_start = iolens__counter_value(jobs[i].enter_fd);
			jobs[i].sc_start = iolens__counter_value(jobs[i].sc_fd);
		}
		iolens__syscount_read(run->sc, &sc0);
	}
	pthread_mutex_lock(&run->lock);
	t0 = now_ns();
	atomic_store(&run->phase, PHASE_MEASURE);
	if (serving)
		iolens__peer_proc_lg_measure(run->peer, 1);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	if (!interrupted)
		interrupted = iolens__wait_until(
			run, run->ops_mode ? UINT64_MAX : t0 + (uint64_t)(w->time_s * 1e9), nthreads);
	if (run->ops_mode && !interrupted) {
		for (unsigned i = 0; i < nthreads; i++)
			if (jobs[i].t_end > t1)
				t1 = jobs[i].t_end;
	} else {
		t1 = now_ns();
	}
	if (serving)
		iolens__peer_proc_lg_measure(run->peer, 0);
	/*
	 * The window is shut: a job measures no op it starts after t1, however
	 * long the main thread takes from here to the end snapshot. Counting
	 * (or serving) waits for every job out of its loop, so no call is half
	 * counted at the edge and no server sees the load generator hang up
	 * while it still counts.
	 */
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_HALT);
	pthread_cond_broadcast(&run->cond);
	if (run->net && (run->counting || serving))
		iolens__net_wait_loops(run, jobs, nthreads); /* bounded: a peer may have stopped */
	else
		while ((run->counting || serving) && atomic_load(&run->finished) < nthreads)
			pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	iolens__placement(r, run, jobs, nthreads);
	if (run->counting) {
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].io_end = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_end = iolens__counter_value(jobs[i].enter_fd);
		}
		iolens__snapshot_end(run, jobs, nthreads, &sc1);
		for (unsigned i = 0; i < nthreads; i++)
			jobs[i].cpu_end = thread_cpu(jobs[i].tid);
	}
	getrusage(RUSAGE_SELF, &ru1);
	if (run->counting) {
		main_cpu1 = thread_cpu(pthread_self());
		iolens__helpers_scan(&h1);
	}
	if (serving)
		iolens__serve_finish(r, run);
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_STOP);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	if (run->net)
		iolens__net_join(run, jobs, nthreads); /* bounded, as above */
	else
		for (unsigned i = 0; i < nthreads; i++)
			pthread_join(jobs[i].tid, NULL);
	if (!run->net)
		r->resident_after = iolens__target_residency(run->t);
	r->interrupted = interrupted;
	r->seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	r->cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	r->cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	r->vcsw = (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw);
	r->ivcsw = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
	iolens__summarise(r, run, jobs, nthreads, all);
	if (run->trace_cap)
		iolens__gather_trace(r, jobs, nthreads, t0);
	if (run->counting) {
		iolens__account_syscalls(r, run, jobs, nthreads, &sc0, &sc1, &h0, &h1);
		iolens__measure_model(r, jobs, nthreads,
				      r->cpu_user_s + r->cpu_sys_s - (main_cpu1 - main_cpu0));
	}
	if (w->verify && run->writes && r->status == IOLENS_STATUS_OK) {
		uint64_t bad = 0;
		const char *what = "";
		int v = iolens__target_verify(run->t, &bad, &what);

		if (v)
			iolens__set_status(r, IOLENS_STATUS_ERROR, v, "verify after writing: block at offset %llu: %s",
					   (unsigned long long)bad, what);
	}
out:
	for (unsigned i = 0; i < nthreads; i++)
		iolens__job_free(&jobs[i]);
	free(jobs);
	if (run->net)
		iolens__net_unlisten(run);
	run->listen_fd = -1;
	iolens_hist_free(run->lg_hist);
	run->lg_hist = NULL;
}

void iolens__one_pass(struct iolens_result *r, struct run *run, struct iolens_hist *all)
{
	atomic_store(&run->phase, PHASE_WAIT);
	atomic_store(&run->ready, 0);
	atomic_store(&run->finished, 0);
	atomic_store(&run->accepted, 0);
	pthread_mutex_init(&run->lock, NULL);
	pthread_cond_init(&run->cond, NULL);
	execute(r, run, all);
	r->threads = run->net	       ? iolens__net_threads(run)
		     : r->thread_per_op ? run->w->jobs * run->w->depth
					 : run->w->jobs;
	pthread_cond_destroy(&run->cond);
	pthread_mutex_destroy(&run->lock);
}

/*
 * The counting pass: the same workload again with the counters on. Only its
 * syscall figures are kept (with the ops of its own window); a failure in it
 * fails the result as any pass would.
 */
void iolens__counting_pass(struct iolens_result *r, const struct iolens_result *fresh,
			   struct run *run)
{
	struct iolens_result *c = malloc(sizeof(*c));
	struct iolens_hist *scratch = iolens_hist_new();

	if (!c || !scratch) {
		free(c);
		iolens_hist_free(scratch);
		snprintf(r->syscalls.why, sizeof(r->syscalls.why), "counting pass: out of memory");
		return;
	}
	*c = *fresh;
	c->hist = scratch;
	iolens__one_pass(c, run, scratch);
	if (c->interrupted) {
		/* Interrupted while counting: keep the timing figures, say so. */
		snprintf(r->syscalls.why, sizeof(r->syscalls.why), "not counted: interrupted");
		r->interrupted = 1;
	} else {
		r->syscalls = c->syscalls;
		r->syscalls.pass = IOLENS_COUNT_SEPARATE;
		r->syscalls_job = c->syscalls_job;
		r->model = c->model;
		if (c->status != IOLENS_STATUS_OK) {
			r->status = c->status;
			r->error = c->error;
			snprintf(r->reason, sizeof(r->reason), "counting pass: %.200s", c->reason);
			if (c->net.data_check == IOLENS_CHECK_MISMATCH)
				r->net.data_check = IOLENS_CHECK_MISMATCH;
		}
	}
	free(c);
	iolens_hist_free(scratch);
}
