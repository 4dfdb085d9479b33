#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "report.h"

static const char *const status_names[] = { "ok", "skipped", "error", "not run" };
static const char *const cache_names[] = { "warm", "cold", "half" };
static const char *const pass_names[] = { "separate", "inline", "off" };
/* enum iolens_data_check; NONE is null */
static const char *const check_names[] = { NULL, "verified", "not checked", "mismatch" };

static void latency(const struct iolens__visitor *vis, void *v, const char *key,
		    const struct iolens_latency *l, int have)
{
	vis->begin(v, key);
	vis->num(v, "min", have ? (double)l->min : NAN);
	vis->num(v, "mean", have ? l->mean : NAN);
	vis->num(v, "p50", have ? (double)l->p50 : NAN);
	vis->num(v, "p90", have ? (double)l->p90 : NAN);
	vis->num(v, "p99", have ? (double)l->p99 : NAN);
	vis->num(v, "p99_9", have ? (double)l->p99_9 : NAN);
	vis->num(v, "p99_99", have ? (double)l->p99_99 : NAN);
	vis->num(v, "max", have ? (double)l->max : NAN);
	vis->end(v);
}

static void workload(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	const struct iolens_workload *w = &r->workload;
	int net = IOLENS_WL_IS_SOCKET(w->kind);

	vis->begin(v, "workload");
	vis->str(v, "name", iolens_workload_name(w->kind));
	vis->num(v, "rwmix", w->kind == IOLENS_WL_RANDRW ? w->rwmix : NAN);
	vis->num(v, "bs", net ? NAN : w->bs);
	vis->num(v, "size", net ? NAN : (double)w->size);
	vis->str(v, "file", r->file);
	vis->boolean(v, "direct", w->direct);
	vis->num(v, "depth", w->depth);
	vis->num(v, "jobs", w->jobs);
	vis->num(v, "batch", w->batch);
	vis->num(v, "submit_batch", net ? NAN : w->submit_batch);
	vis->num(v, "time_s", w->ops ? NAN : w->time_s);
	vis->num(v, "ops", w->ops ? (double)w->ops : NAN);
	vis->num(v, "warmup_s", w->warmup_s);
	vis->str(v, "cache", w->direct ? "direct" : cache_names[w->cache]);
	vis->num(v, "fsync", w->fsync_every);
	vis->boolean(v, "verify", w->verify);
	vis->num(v, "seed", (double)w->seed);
	vis->str(v, "distribution", net || (w->kind != IOLENS_WL_RANDREAD && w->kind != IOLENS_WL_RANDWRITE &&
					    w->kind != IOLENS_WL_RANDRW)
					   ? NULL
					   : w->distribution ? w->distribution : "random");
	vis->str(v, "count", pass_names[w->count]);
	vis->num(v, "conns", net ? w->conns : NAN);
	vis->num(v, "msg", net ? r->net.msg : NAN);
	vis->str(v, "transport", net ? iolens_transport_name(w->transport) : NULL);
	vis->num(v, "rate", w->rate > 0 ? w->rate : NAN);
	vis->str(v, "arrivals", w->rate > 0 ? (w->poisson ? "poisson" : "constant") : NULL);
	vis->num(v, "think_us", net ? (double)w->think_ns / 1e3 : NAN);
	vis->num(v, "delay_us", net ? (double)w->delay_ns / 1e3 : NAN);
	vis->num(v, "cpu", w->cpu >= 0 ? w->cpu : NAN);
	vis->str(v, "cpus", r->cpus[0] ? r->cpus : NULL);
	vis->num(v, "peer_cpu", net && w->peer_cpu >= 0 ? w->peer_cpu : NAN);
	if (w->kind == IOLENS_WL_STREAM)
		vis->boolean(v, "no_check", w->stream_nocheck != 0);
	else
		vis->str(v, "no_check", NULL);
	vis->str(v, "job_file", r->job_file[0] ? r->job_file : NULL);
	vis->str(v, "job_section", r->job_file[0] ? r->job_section : NULL);
	vis->end(v);
}

/* What the open loop's generator did; null throughout for a closed loop. */
static void open_loop(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	const struct iolens_open_loop *o = &r->open_loop;
	int have = o->on && r->status == IOLENS_STATUS_OK;

	vis->begin(v, "open_loop");
	vis->num(v, "rate_target", have ? o->rate_target : NAN);
	vis->num(v, "late", have ? (double)o->late : NAN);
	vis->num(v, "spin_s", have ? o->spin_s : NAN);
	latency(vis, v, "lateness_ns", &o->lateness, have);
	latency(vis, v, "latency_uncorrected_ns", &o->uncorrected, have);
	vis->end(v);
}

/* Socket figures; null throughout for disk workloads. */
static void net(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	const struct iolens_net_result *x = &r->net;
	int have = IOLENS_WL_IS_SOCKET(r->workload.kind) && r->status == IOLENS_STATUS_OK;
	int ol = have && x->open_loop;

	vis->begin(v, "net");
	vis->str(v, "peer", have ? x->peer : NULL);
	vis->num(v, "conns_open", have ? x->conns_open : NAN);
	vis->num(v, "nofile_limit", have ? (double)x->nofile_limit : NAN);
	vis->num(v, "requests", have && r->workload.kind != IOLENS_WL_STREAM ? (double)x->requests : NAN);
	vis->num(v, "gbit_s", have ? x->gbit_s : NAN);
	vis->num(v, "send_calls", have ? (double)x->send_calls : NAN);
	vis->num(v, "recv_calls", have ? (double)x->recv_calls : NAN);
	vis->num(v, "bytes_per_send", have ? x->bytes_per_send : NAN);
	vis->num(v, "bytes_per_recv", have ? x->bytes_per_recv : NAN);
	vis->str(v, "latency_from", !have ? NULL
				     : x->latency_from ? "load generator round trip"
				     : ol ? "intended send time (open loop)"
					  : "request start");
	latency(vis, v, "latency_uncorrected_ns", &x->lat_uncorrected, ol);
	vis->str(v, "placement", have ? x->placement : NULL);
	vis->str(v, "data_check",
		 have && x->data_check > 0 && x->data_check <= IOLENS_CHECK_MISMATCH
			 ? check_names[x->data_check]
			 : NULL);
	vis->num(v, "sink_bytes",
		 have && r->workload.kind == IOLENS_WL_STREAM && x->data_check != IOLENS_CHECK_NONE &&
				 x->data_check != IOLENS_CHECK_MISMATCH
			 ? (double)x->sink_bytes
			 : NAN);
	vis->end(v);
}

/* Syscall figures: null throughout when they were not counted, with the reason. */
static void syscalls(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	const struct iolens_syscalls *s = &r->syscalls;
	int have = s->measured && r->status == IOLENS_STATUS_OK;
	int iou = have && s->io_uring;
	int job = have && r->syscalls_job.measured;

	vis->begin(v, "syscalls");
	vis->num(v, "total", have ? (double)s->total : NAN);
	vis->num(v, "per_op", have && s->ops ? s->per_op : NAN);
	vis->begin(v, "by_name");
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		vis->num(v, iolens_syscall_name(i), have ? (double)s->by_name[i] : NAN);
	vis->num(v, "other", have ? (double)s->other : NAN);
	vis->end(v);
	vis->num(v, "offloaded", have ? (double)s->offloaded : NAN);
	vis->begin(v, "job_threads");
	vis->num(v, "total", job ? (double)r->syscalls_job.total : NAN);
	vis->num(v, "io", job ? (double)r->syscalls_job.io : NAN);
	vis->num(v, "io_uring_enter", job ? (double)r->syscalls_job.io_uring_enter : NAN);
	vis->end(v);
	vis->num(v, "ops", have ? (double)s->ops : NAN);
	vis->str(v, "method", have ? s->method : NULL);
	vis->str(v, "pass", have ? pass_names[s->pass] : NULL);
	vis->str(v, "why", have || r->status != IOLENS_STATUS_OK ? NULL : s->why);
	vis->end(v);
	vis->begin(v, "helper_threads");
	vis->num(v, "count", have ? s->helper_threads : NAN);
	vis->num(v, "cpu_s", have ? s->helper_cpu_s : NAN);
	vis->end(v);
	vis->begin(v, "io_uring");
	vis->num(v, "inline", iou ? (double)(s->iou_submitted - s->iou_punted) : NAN);
	vis->num(v, "punted", iou ? (double)s->iou_punted : NAN);
	vis->num(v, "completed", iou ? (double)s->iou_completed : NAN);
	vis->end(v);
}

/* Declared and measured model; measured figures null where not measured. */
static void model(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	const struct iolens_model *m = &r->model;
	int ran = r->status == IOLENS_STATUS_OK;
	int have = ran && m->measured[0];

	vis->begin(v, "model");
	vis->str(v, "declared", m->declared);
	vis->str(v, "measured", have ? m->measured : NULL);
	if (have)
		vis->boolean(v, "mismatch", m->mismatch);
	else
		vis->str(v, "mismatch", NULL);
	vis->str(v, "why", ran && m->why[0] ? m->why : NULL);
	vis->num(v, "sync_share", have ? m->sync_share : NAN);
	vis->num(v, "vcsw_per_op_submit", have ? m->vcsw_per_op_submit : NAN);
	vis->num(v, "vcsw_per_op_wait", have ? m->vcsw_per_op_wait : NAN);
	vis->num(v, "wait_sleep_share", have ? m->wait_sleep_share : NAN);
	vis->num(v, "offload_share", have ? m->offload_share : NAN);
	vis->num(v, "offload_cpu_share", have ? m->offload_cpu_share : NAN);
	vis->num(v, "io_per_op", have ? m->io_per_op : NAN);
	vis->str(v, "who", have && m->who[0] ? m->who : NULL);
	vis->str(v, "wait", have && m->wait[0] ? m->wait : NULL);
	vis->str(v, "flags", have ? m->flags : NULL);
	vis->str(v, "pass", !have ? NULL
			    : r->syscalls.pass == IOLENS_COUNT_INLINE ? "timed (counted inline)"
								     : "counting");
	vis->num(v, "async_share", have ? m->async_share : NAN);
	vis->num(v, "blocked_share", have ? m->blocked_share : NAN);
	vis->num(v, "nonblock_share", have ? m->nonblock_share : NAN);
	vis->num(v, "waited_share", have ? m->waited_share : NAN);
	vis->num(v, "own_data_per_op", have ? m->own_data_per_op : NAN);
	vis->num(v, "inline_share", have ? m->inline_share : NAN);
	vis->num(v, "nowait_eagain_share", have ? m->nowait_eagain_share : NAN);
	vis->num(v, "ready_share", have ? m->ready_share : NAN);
	vis->num(v, "fallback_share", have ? m->fallback_share : NAN);
	vis->num(v, "resident_share", have ? m->resident_share : NAN);
	vis->begin(v, "thresholds");
	vis->num(v, "majority", IOLENS_MODEL_MAJORITY);
	vis->num(v, "some", IOLENS_MODEL_SOME);
	vis->end(v);
	vis->num(v, "concurrency", ran ? m->concurrency : NAN);
	vis->num(v, "concurrency_requested",
		 IOLENS_WL_IS_SOCKET(r->workload.kind)
			 ? r->workload.depth * r->workload.conns
			 : r->workload.depth * r->workload.jobs);
	vis->end(v);
}

void iolens__report_number(FILE *f, double x)
{
	if (x == floor(x) && fabs(x) < 9007199254740992.0)
		fprintf(f, "%.0f", x);
	else if (fabs(x) >= 1e6)
		fprintf(f, "%.3f", x);
	else
		fprintf(f, "%.6g", x);
}

void iolens__result_label(const struct iolens_result *r, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", r->backend, r->variant[0] ? ":" : "", r->variant);
}

/* The variant names option `opt` among its '+'-joined options. */
static int has_option(const char *variant, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = variant; (p = strstr(p, opt)); p += n)
		if ((p == variant || p[-1] == '+') && (p[n] == '\0' || p[n] == '+'))
			return 1;
	return 0;
}

void iolens__report_walk(const struct iolens_result *r, const struct iolens__visitor *vis, void *v)
{
	static const char *const kinds[3] = { "read", "write", "fsync" };
	/* Figures belong to a run that finished its window: an error or a run
	 * that never started has none, only its reason. */
	int ran = r->status == IOLENS_STATUS_OK;
	const struct iolens_backend_stats *s = &r->stats;
	/* Counters only some backends keep are null for the others. */
	int coro = strncmp(r->backend, "coro", 4) == 0; /* coro, coro-epoll */
	int zc = has_option(r->variant, "send-zc");

	vis->str(v, "backend", r->backend);
	vis->str(v, "variant", r->variant);
	workload(r, vis, v);
	vis->str(v, "status", status_names[r->status]);
	vis->str(v, "reason", r->reason[0] ? r->reason : NULL);
	vis->boolean(v, "interrupted", r->interrupted);
	vis->num(v, "threads", ran ? r->threads : NAN);
	vis->boolean(v, "thread_per_op", r->thread_per_op);
	vis->begin(v, "workers");
	vis->str(v, "kind", ran ? (r->job_procs ? "processes" : "threads") : NULL);
	vis->num(v, "start_us", ran ? r->job_start_us : NAN);
	vis->num(v, "memory_kib", ran ? r->job_mem_kib : NAN);
	vis->end(v);
	vis->num(v, "ops", ran ? (double)r->ops : NAN);
	vis->num(v, "bytes", ran ? (double)r->bytes : NAN);
	vis->num(v, "unchecked_reads", ran && r->workload.verify && !IOLENS_WL_IS_SOCKET(r->workload.kind)
				       ? (double)r->unchecked_reads : NAN);
	vis->num(v, "seconds", ran ? r->seconds : NAN);
	vis->num(v, "window_start", ran ? r->window_start : NAN);
	vis->num(v, "iops", ran ? r->iops : NAN);
	vis->num(v, "mib_s", ran ? r->mib_s : NAN);
	latency(vis, v, "latency_ns", &r->lat, ran && r->ops);
	vis->begin(v, "by_kind");
	for (unsigned k = 0; k < 3; k++) {
		vis->begin(v, kinds[k]);
		vis->num(v, "ops", ran ? (double)r->by_kind[k].ops : NAN);
		latency(vis, v, "latency_ns", &r->by_kind[k].lat, ran && r->by_kind[k].ops);
		vis->end(v);
	}
	vis->end(v);
	if (vis->hist)
		vis->hist(v, "histogram", ran ? r->hist : NULL);
	if (vis->trace)
		vis->trace(v, "trace", r);
	vis->begin(v, "cpu");
	vis->num(v, "user_s", ran ? r->cpu_user_s : NAN);
	vis->num(v, "sys_s", ran ? r->cpu_sys_s : NAN);
	vis->num(v, "per_op_ns", ran && r->ops ? r->cpu_per_op_ns : NAN);
	vis->end(v);
	vis->begin(v, "ctx_switches");
	vis->num(v, "voluntary", ran ? (double)r->vcsw : NAN);
	vis->num(v, "involuntary", ran ? (double)r->ivcsw : NAN);
	vis->end(v);
	vis->str(v, "placement", ran && r->placement[0] ? r->placement : NULL);
	syscalls(r, vis, v);
	model(r, vis, v);
	net(r, vis, v);
	open_loop(r, vis, v);
	vis->begin(v, "cache");
	vis->num(v, "resident_before", r->resident_before >= 0 ? r->resident_before : NAN);
	vis->num(v, "resident_after", r->resident_after >= 0 ? r->resident_after : NAN);
	vis->end(v);
	vis->begin(v, "backend_stats");
	vis->str(v, "setup", ran ? s->setup : NULL);
	vis->num(v, "submit_calls", ran ? (double)s->submit_calls : NAN);
	vis->num(v, "reap_calls", ran ? (double)s->reap_calls : NAN);
	vis->num(v, "completed_inline", ran ? (double)s->completed_inline : NAN);
	vis->num(v, "fallbacks", ran ? (double)s->fallbacks : NAN);
	vis->num(v, "ready_at_once", ran ? (double)s->ready_at_once : NAN);
	vis->num(v, "waits", ran ? (double)s->waits : NAN);
	vis->num(v, "nowait_tries", ran ? (double)s->nowait_tries : NAN);
	vis->num(v, "nowait_eagain", ran ? (double)s->nowait_eagain : NAN);
	vis->num(v, "user_switches", ran && coro ? (double)s->user_switches : NAN);
	vis->num(v, "switch_ns", ran && s->switch_probe_n ?
			(double)s->switch_probe_ns / (double)s->switch_probe_n : NAN);
	vis->num(v, "zc_sends", ran && zc ? (double)s->zc_sends : NAN);
	vis->num(v, "zc_copied", ran && zc ? (double)s->zc_copied : NAN);
	vis->end(v);
}

int iolens__results_valid(struct iolens_result *const *rs, size_t n)
{
	if (!rs && n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!rs[i])
			return 0;
	return 1;
}
