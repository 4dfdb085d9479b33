/*
 * A pass's figures into its result: throughput, latency and CPU, the kernel's
 * syscall counts split between the job threads and the rest, the measured
 * model's evidence, the trace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "net.h"
#include "run.h"

static void add_stats(struct iolens_backend_stats *dst, const struct iolens_backend_stats *src)
{
	dst->submit_calls += src->submit_calls;
	dst->reap_calls += src->reap_calls;
	dst->submitted += src->submitted;
	dst->completed += src->completed;
	dst->completed_inline += src->completed_inline;
	dst->fallbacks += src->fallbacks;
	dst->ready_at_once += src->ready_at_once;
	dst->waits += src->waits;
	dst->nowait_tries += src->nowait_tries;
	dst->nowait_eagain += src->nowait_eagain;
	dst->user_switches += src->user_switches;
	dst->switch_probe_n += src->switch_probe_n;
	dst->switch_probe_ns += src->switch_probe_ns;
	dst->zc_sends += src->zc_sends;
	dst->zc_copied += src->zc_copied;
	if (!dst->setup[0])
		memcpy(dst->setup, src->setup, sizeof(dst->setup));
}

void iolens__set_status(struct iolens_result *r, int status, int err, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->error = err;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* The open loop's figures over the jobs: the same for disk and sockets. */
static void open_loop(struct iolens_result *r, const struct run *run, const struct job *jobs,
		      unsigned n)
{
	struct iolens_hist *unc, *late;

	if (!(run->w->rate > 0))
		return;
	unc = iolens_hist_new();
	late = iolens_hist_new();
	if (!unc || !late)
		goto out;
	r->open_loop.on = 1;
	r->open_loop.rate_target = run->w->rate;
	for (unsigned i = 0; i < n; i++) {
		if (jobs[i].ol_unc)
			iolens_hist_merge(unc, jobs[i].ol_unc);
		if (jobs[i].ol_late)
			iolens_hist_merge(late, jobs[i].ol_late);
		r->open_loop.late += jobs[i].ol_late_n;
		r->open_loop.spin_s += (double)jobs[i].ol_spin_ns / 1e9;
	}
	iolens__hist_summary(unc, &r->open_loop.uncorrected);
	iolens__hist_summary(late, &r->open_loop.lateness);
out:
	iolens_hist_free(unc);
	iolens_hist_free(late);
}

void iolens__summarise(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n,
		       struct iolens_hist *all)
{
	for (unsigned k = 0; k < K__COUNT; k++) {
		struct iolens_hist *h = NULL;

		for (unsigned i = 0; i < n; i++) {
			if (!jobs[i].hist[k])
				continue;
			if (!h)
				h = iolens_hist_new();
			if (!h)
				break;
			iolens_hist_merge(h, jobs[i].hist[k]);
		}
		if (!h)
			continue;
		r->by_kind[k].ops = h->count;
		iolens__hist_summary(h, &r->by_kind[k].lat);
		if (k != K_FSYNC)
			iolens_hist_merge(all, h);
		iolens_hist_free(h);
	}
	iolens__hist_summary(all, &r->lat);
	for (unsigned i = 0; i < n; i++) {
		r->ops += jobs[i].ops;
		r->unchecked_reads += jobs[i].unchecked_reads;
		r->bytes += jobs[i].bytes;
		add_stats(&r->stats, &jobs[i].stats);
		if (jobs[i].err && r->status == IOLENS_STATUS_OK)
			iolens__set_status(r, IOLENS_STATUS_ERROR, jobs[i].err, "%s", jobs[i].errmsg);
	}
	open_loop(r, run, jobs, n);
	if (run->net)
		iolens__net_summarise(r, run, jobs, n, all);
	if (r->seconds > 0) {
		r->iops = (double)r->ops / r->seconds;
		r->mib_s = (double)r->bytes / r->seconds / (1024.0 * 1024.0);
	}
	if (r->ops)
		r->cpu_per_op_ns = (r->cpu_user_s + r->cpu_sys_s) * 1e9 / (double)r->ops;
}

/*
 * The closing snapshot of a counting pass. The jobs have left their loops
 * but may still be on their way into the wait that parks them, so take the
 * process-wide counts between two reads of every job's own counter and
 * retry until no job made a call in between: then the job threads' share
 * of the total is exact, and offloaded holds only other threads' calls.
 */
void iolens__snapshot_end(struct run *run, struct job *jobs, unsigned n,
			  struct iolens__sc_snap *sc1)
{
	for (unsigned tries = 0;; tries++) {
		int still = 1;

		for (unsigned i = 0; i < n; i++)
			jobs[i].sc_end = iolens__counter_value(jobs[i].sc_fd);
		iolens__syscount_read(run->sc, sc1);
		for (unsigned i = 0; i < n && still; i++)
			still = iolens__counter_value(jobs[i].sc_fd) == jobs[i].sc_end;
		if (still || tries == 200)
			return;
		usleep(500);
	}
}

/* The measured model from the counting pass's figures (see model.h). */
void iolens__measure_model(struct iolens_result *r, const struct job *jobs, unsigned n,
			   double cpu_all)
{
	struct iolens__model_in in = {
		.declared = r->model.declared,
		.sc = &r->syscalls,
		.have_io_own = 1,
		.cpu_all = cpu_all,
		.resident = r->workload.direct ? -1 : r->resident_before,
		.completed = r->stats.completed,
		.completed_inline = r->stats.completed_inline,
		.fallbacks = r->stats.fallbacks,
		.ready_waits = r->stats.waits,
		.ready_now = r->stats.ready_at_once,
		.nowait_tries = r->stats.nowait_tries,
		.nowait_eagain = r->stats.nowait_eagain,
	};

	for (unsigned i = 0; i < n; i++) {
		in.have_io_own &= jobs[i].io_fd >= 0;
		in.io_own += jobs[i].io_end - jobs[i].io_start;
		if (jobs[i].enter_fd >= 0)
			in.enter_own += jobs[i].enter_end - jobs[i].enter_start;
		in.sync_ns += jobs[i].sync_ns;
		in.lat_ns += jobs[i].lat_ns;
		in.vcsw_submit += jobs[i].vcsw_submit;
		in.vcsw_wait += jobs[i].vcsw_wait;
		in.reaps += jobs[i].reaps;
		in.reaps_slept += jobs[i].reaps_slept;
		in.reaps_waited += jobs[i].reaps_waited;
		in.reaps_waited_slept += jobs[i].reaps_waited_slept;
		in.submits += jobs[i].submits;
		in.submits_slept += jobs[i].submits_slept;
		in.cpu_jobs += jobs[i].cpu_end - jobs[i].cpu_start;
	}
	iolens__model_measure(&r->model, &in);
}

void iolens__account_syscalls(struct iolens_result *r, const struct run *run,
			      const struct job *jobs, unsigned n, const struct iolens__sc_snap *a,
			      const struct iolens__sc_snap *b, const struct iolens__helpers *h0,
			      const struct iolens__helpers *h1)
{
	struct iolens_syscalls *s = &r->syscalls;
	uint64_t named = 0, own = 0, instr = 0;

	s->measured = 1;
	snprintf(s->method, sizeof(s->method), "perf raw_syscalls:sys_enter, filtered by number");
	s->ops = r->ops;
	/* The per-call getrusage brackets are the job threads' only calls of the harness's own. */
	for (unsigned i = 0; i < n; i++)
		instr += jobs[i].instr_calls;
	s->total = b->total - a->total;
	s->total = s->total > instr ? s->total - instr : 0;
	for (unsigned i = 0; i < iolens__sc_nnames; i++) {
		s->by_name[i] = b->name[i] - a->name[i];
		named += s->by_name[i];
	}
	/* Counters are read one after another while jobs run: clamp the skew. */
	s->other = s->total > named ? s->total - named : 0;
	for (unsigned i = 0; i < n; i++)
		own += jobs[i].sc_end - jobs[i].sc_start;
	own = own > instr ? own - instr : 0;
	s->offloaded = s->total > own ? s->total - own : 0;
	r->syscalls_job.total = own;
	r->syscalls_job.io = r->syscalls_job.io_uring_enter = 0;
	r->syscalls_job.measured = 1;
	for (unsigned i = 0; i < n; i++) {
		r->syscalls_job.measured &=
		    jobs[i].sc_fd >= 0 && jobs[i].io_fd >= 0 && jobs[i].enter_fd >= 0;
		r->syscalls_job.io += jobs[i].io_end - jobs[i].io_start;
		r->syscalls_job.io_uring_enter += jobs[i].enter_end - jobs[i].enter_start;
	}
	s->per_op = s->ops ? (double)s->total / (double)s->ops : 0;
	s->io_uring = strcmp(run->spec->info->name, "io_uring") == 0 && run->sc->fd_iou[0] >= 0;
	if (s->io_uring) {
		s->iou_submitted = b->iou[IOLENS_IOU_SUBMIT] - a->iou[IOLENS_IOU_SUBMIT];
		s->iou_punted = b->iou[IOLENS_IOU_PUNT] - a->iou[IOLENS_IOU_PUNT];
		s->iou_completed = b->iou[IOLENS_IOU_COMPLETE] - a->iou[IOLENS_IOU_COMPLETE];
	}
	s->helper_threads = h1->n;
	s->helper_cpu_s = iolens__helpers_cpu(h0, h1);
}

/* Whether this pass can count; if not, the result says why. */
int iolens__can_count(struct iolens_result *r, const struct run *run)
{
	/*
	 * glibc keeps idle AIO threads for a second; one created before the
	 * counters would serve this pass's requests unseen. Other leftover
	 * threads do no work for us.
	 */
	if (run->stale_threads && strcmp(run->spec->info->name, "posix-aio") == 0) {
		snprintf(r->syscalls.why, sizeof(r->syscalls.why),
			 "helper threads older than the counters were still alive: their syscalls could not be counted");
		return 0;
	}
	return run->sc != NULL;
}

static int by_submit(const void *a, const void *b)
{
	const struct iolens_trace_op *x = a, *y = b;

	return x->submit_ns < y->submit_ns ? -1 : x->submit_ns > y->submit_ns;
}

/* Every job's traced ops, in submission order, from the window's start. */
void iolens__gather_trace(struct iolens_result *r, struct job *jobs, unsigned n, uint64_t t0)
{
	struct iolens_trace_op *all;
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += jobs[i].ntrace;
	if (!total || !(all = malloc(total * sizeof(*all))))
		return;
	total = 0;
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < jobs[i].ntrace; k++) {
			all[total] = jobs[i].trace[k];
			all[total].submit_ns = all[total].submit_ns > t0 ? all[total].submit_ns - t0 : 0;
			all[total++].complete_ns -= t0;
		}
	qsort(all, total, sizeof(*all), by_submit);
	r->trace = all;
	r->ntrace = total;
}
