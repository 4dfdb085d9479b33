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
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "run.h"

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU seconds the calling thread has used, or NaN. */
static double self_cpu(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return NAN;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds since the epoch on the wall clock: where a window sits in time, for logs. */
static double wall_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		return NAN;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait (run->lock held) until `*count` reaches n; a lost job process counts. */
static void wait_count(struct run *run, struct job *jobs, unsigned created, atomic_uint *count,
		       unsigned n)
{
	while (atomic_load(count) < n) {
		struct timespec ts;

		if (!run->procs) {
			pthread_cond_wait(&run->cond, &run->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_clockwait(&run->cond, &run->lock, CLOCK_MONOTONIC, &ts);
		if (iolens__jobs_lost(run, jobs, created))
			pthread_cond_broadcast(&run->cond);
	}
}

static void join_all(struct job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		iolens__job_join(&jobs[i], NULL);
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
	struct iolens__usage pu0, pu1;
	uint64_t spawn_ns = 0;
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
	jobs = iolens__pass_alloc(run, nthreads * sizeof(*jobs), 0);
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
		if (!(jobs[i].trace = iolens__pass_alloc(run, run->trace_cap * sizeof(*jobs[i].trace), 0))) {
			iolens__set_status(r, IOLENS_STATUS_ERROR, -ENOMEM, "out of memory for --trace");
			goto out;
		}
	pthread_attr_init(&attr);
	if (tpo)
		pthread_attr_setstacksize(&attr, run->net ? NET_TPO_STACK : TPO_STACK);
	for (; created < nthreads; created++) {
		uint64_t s0 = now_ns();

		err = iolens__job_spawn(&jobs[created], &attr, iolens__job_main);
		spawn_ns += now_ns() - s0;
		if (err)
			break;
	}
	pthread_attr_destroy(&attr);
	r->job_procs = run->procs;
	r->job_start_us = created ? (double)spawn_ns / created / 1e3 : NAN;
	iolens__procs_counters(run, jobs, created);
	pthread_mutex_lock(&run->lock);
	wait_count(run, jobs, created, &run->ready, created);
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
		iolens__serve_abort(r, run);
		join_all(jobs, created);
		goto out;
	}
	if (err) {
		join_all(jobs, created);
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
	if (w->on_window && !interrupted)
		w->on_window(w->on_pass_arg);
	/*
	 * The edges read the same counters in the same order, so the main
	 * thread's own reads cancel out of the deltas (see syscount.h).
	 */
	getrusage(RUSAGE_SELF, &ru0);
	iolens__procs_usage(run, jobs, nthreads, &pu0);
	if (run->counting) {
		main_cpu0 = self_cpu();
		iolens__helpers_scan(&h0);
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].cpu_start = iolens__job_cpu(&jobs[i]);
			jobs[i].io_start = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_start = iolens__counter_value(jobs[i].enter_fd);
			jobs[i].sc_start = iolens__counter_value(jobs[i].sc_fd);
		}
		iolens__syscount_read(run->sc, &sc0);
	}
	pthread_mutex_lock(&run->lock);
	t0 = now_ns();
	r->window_start = wall_s();
	atomic_store(&run->phase, PHASE_MEASURE);
	if (serving)
		iolens__serve_measure(run, 1);
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
		iolens__serve_measure(run, 0);
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
	else if (run->counting || serving)
		wait_count(run, jobs, nthreads, &run->finished, nthreads);
	pthread_mutex_unlock(&run->lock);
	iolens__placement(r, run, jobs, nthreads);
	iolens__workers_memory(r, run, jobs, nthreads);
	if (run->counting) {
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].io_end = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_end = iolens__counter_value(jobs[i].enter_fd);
		}
		iolens__snapshot_end(run, jobs, nthreads, &sc1);
		for (unsigned i = 0; i < nthreads; i++)
			jobs[i].cpu_end = iolens__job_cpu(&jobs[i]);
	}
	getrusage(RUSAGE_SELF, &ru1);
	iolens__procs_usage(run, jobs, nthreads, &pu1);
	if (run->counting) {
		main_cpu1 = self_cpu();
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
		join_all(jobs, nthreads);
	if (!run->net)
		r->resident_after = iolens__target_residency(run->t);
	r->interrupted = interrupted;
	r->seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	/* The main process, and the job processes its getrusage does not see. */
	r->cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime) + (pu1.user_s - pu0.user_s);
	r->cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime) + (pu1.sys_s - pu0.sys_s);
	r->vcsw = (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw) + (pu1.vcsw - pu0.vcsw);
	r->ivcsw = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw) + (pu1.ivcsw - pu0.ivcsw);
	if (pu0.missed || pu1.missed)
		r->cpu_user_s = r->cpu_sys_s = NAN;
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
	iolens__pass_free(run, jobs);
	if (run->net)
		iolens__net_unlisten(run);
	run->listen_fd = -1;
	iolens_hist_free(run->lg_hist);
	run->lg_hist = NULL;
}

/*
 * With job processes the pass runs on a shared copy of *run (its phase,
 * counts, lock and condition are what the jobs wait on and tell), with the
 * jobs' memory from the arena; what the pass leaves in it is copied back.
 */
void iolens__one_pass(struct iolens_result *r, struct run *run, struct iolens_hist *all)
{
	int procs = (run->spec->flags & IOLENS_BOPT_PROCS) &&
		    (run->spec->info->caps & IOLENS_CAP_THREAD_PER_OP);
	struct run *p = run;
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;

	if (procs) {
		p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || (*p = *run, iolens__arena_open(p))) {
			if (p != MAP_FAILED)
				munmap(p, sizeof(*p));
			iolens__set_status(r, IOLENS_STATUS_ERROR, -ENOMEM,
					   "no shared memory for job processes: %s", strerror(errno));
			return;
		}
	}
	p->procs = procs;
	atomic_store(&p->phase, PHASE_WAIT);
	atomic_store(&p->ready, 0);
	atomic_store(&p->finished, 0);
	atomic_store(&p->accepted, 0);
	pthread_mutexattr_init(&ma);
	pthread_condattr_init(&ca);
	pthread_mutexattr_setpshared(&ma, procs ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
	pthread_condattr_setpshared(&ca, procs ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&p->lock, &ma);
	pthread_cond_init(&p->cond, &ca);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_destroy(&ca);
	execute(r, p, all);
	r->threads = p->net	       ? iolens__net_threads(p)
		     : r->thread_per_op ? p->w->jobs * p->w->depth
					 : p->w->jobs;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	if (procs) {
		iolens__arena_close(p);
		p->procs = 0;
		*run = *p;
		munmap(p, sizeof(*p));
	}
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
