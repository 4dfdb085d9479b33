/*
 * Runs one workload on one or more backend specs (the public iolens_run and
 * iolens_run_many): each spec parsed and checked, every timing pass first,
 * then the counting passes under one set of syscall counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "net.h"
#include "run.h"

static const char *unsupported_need(const struct run *run, uint32_t caps)
{
	static const char *const what[K__COUNT] = { "file reads", "file writes", "fsync" };

	for (unsigned k = 0; k < K__COUNT; k++)
		if (run->issues[k] && !(caps & IOLENS_CAP_OP(k)))
			return what[k];
	return NULL;
}

/* One spec's run: its parsed spec, its run state and its result. */
struct spec_run {
	struct iolens__spec sp;
	struct run run;
	struct iolens_result *r;
	struct iolens_result fresh; /* r before any pass: the counting pass starts from it */
	struct iolens_hist *all;
};

/* What a socket workload needs that the backend cannot do, or NULL. */
static const char *net_need(int kind, uint32_t caps)
{
	if (!(caps & IOLENS_CAP_OP(IOLENS_OP_SEND)))
		return "socket sends";
	if (kind != IOLENS_WL_STREAM && !(caps & IOLENS_CAP_OP(IOLENS_OP_RECV)))
		return "socket receives";
	if (kind == IOLENS_WL_SERVE && !(caps & IOLENS_CAP_OP(IOLENS_OP_ACCEPT)))
		return "accept";
	return NULL;
}

/* Parse the spec and set up the result; skips are decided here. */
static int prepare_spec(struct spec_run *x, struct iolens_target *t, const struct iolens_workload *w,
		   const char *spec, char *err, size_t errlen)
{
	struct run *run = &x->run;
	struct iolens_result *r;
	const char *need;
	int e = iolens__spec_parse(spec, &x->sp, err, errlen);

	if (!e)
		e = iolens__spec_fits(&x->sp, w->kind, err, errlen);
	if (e)
		return e;
	r = x->r = iolens__spec_result(&x->sp, w, t->path);
	if (r && !IOLENS_WL_IS_SOCKET(w->kind))
		r->workload.size = t->size; /* what the run covered */
	x->all = iolens_hist_new();
	if (!r || !x->all) {
		free(r);
		iolens_hist_free(x->all);
		x->r = NULL;
		return -ENOMEM;
	}
	r->hist = x->all;
	*run = (struct run){ .w = w, .t = t, .spec = &x->sp, .listen_fd = -1 };
	run->ops_mode = w->ops > 0;
	run->net = t->net;
	run->peer = &t->peer_proc;
	if (run->net) {
		r->net.msg = iolens__net_msg(w);
		r->net.conns = w->conns;
		r->net.nofile_limit = t->nofile;
		snprintf(r->net.peer, sizeof(r->net.peer), "%.127s", t->path);
		r->resident_before = r->resident_after = -1;
		need = net_need(w->kind, x->sp.info->caps);
		goto decide;
	}
	run->writes = w->kind == IOLENS_WL_WRITE || w->kind == IOLENS_WL_RANDWRITE ||
		      w->kind == IOLENS_WL_RANDRW;
	run->issues[K_READ] = w->kind != IOLENS_WL_WRITE && w->kind != IOLENS_WL_RANDWRITE;
	run->issues[K_WRITE] = run->writes;
	run->issues[K_FSYNC] = w->fsync_every != 0;
	need = unsupported_need(run, x->sp.info->caps);
	/* An IOPOLL ring takes reads and writes only; its backend refuses the fsyncs. */
	if (!need && (x->sp.flags & IOLENS_BOPT_IOPOLL) && run->issues[K_FSYNC])
		need = "fsync under iopoll (an IOPOLL ring takes only reads and writes)";
decide:
	if (!x->sp.info->available)
		iolens__set_status(r, IOLENS_STATUS_SKIPPED, -ENOSYS, "unavailable: %s", x->sp.info->reason);
	else if (need)
		iolens__set_status(r, IOLENS_STATUS_SKIPPED, -EOPNOTSUPP, "%s cannot do %s",
				   x->sp.info->name, need);
	else if (w->verify && strcmp(x->sp.info->name, "null") == 0)
		iolens__set_status(r, IOLENS_STATUS_SKIPPED, -EOPNOTSUPP,
				   "null does no I/O: nothing to verify");
	x->fresh = *r;
	return 0;
}

/* Open one set of counters for every counting pass; 0 or -errno with why. */
/*
 * Open one set of counters for the passes of x[0..n). glibc keeps idle AIO
 * threads for a second and counters only follow threads created after them,
 * so with posix-aio in the batch wait for those to go first; nothing else
 * is counted on threads that existed before (a program's own threads).
 */
static int open_session(struct iolens__syscount *sc, const struct spec_run *x, size_t n,
			int *stale, char *why, size_t len)
{
	*stale = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(x[i].sp.info->name, "posix-aio") == 0) {
			*stale = !iolens__wait_single_thread(3000);
			break;
		}
	return iolens__syscount_open(sc, why, len);
}

/*
 * Every timing pass runs first, with no counter open anywhere (a perf
 * tracepoint slows every syscall of the process while it exists); then one
 * set of counters serves every counting pass, because closing them costs
 * the kernel a grace period per counter.
 */
static int run_many(struct iolens_target *t, const struct iolens_workload *w,
		    const char *const *specs, size_t n, struct iolens_result **out, char *err,
		    size_t errlen)
{
	struct spec_run *x = calloc(n ? n : 1, sizeof(*x));
	struct iolens__syscount sc;
	char why[192] = "";
	int e = 0, stale = 0, have_sc = 0;

	if (!x)
		return -ENOMEM;
	for (size_t i = 0; i < n && !e; i++)
		e = prepare_spec(&x[i], t, w, specs[i], err, errlen);
	if (e) {
		for (size_t i = 0; i < n; i++)
			iolens_result_free(x[i].r);
		free(x);
		return e;
	}
	if (w->count == IOLENS_COUNT_INLINE)
		have_sc = !open_session(&sc, x, n, &stale, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		x[i].run.sc = have_sc ? &sc : NULL;
		x[i].run.stale_threads = stale;
		if (x[i].r->status == IOLENS_STATUS_OK && iolens__interrupted(w)) {
			iolens__set_status(x[i].r, IOLENS_STATUS_NOT_RUN, -EINTR,
					   "interrupted before it started");
		} else if (x[i].r->status == IOLENS_STATUS_OK) {
			if (w->on_pass)
				w->on_pass(w->on_pass_arg, specs[i], 0);
			iolens__one_pass(x[i].r, &x[i].run, x[i].all);
		}
		x[i].r->syscalls.pass = w->count;
	}
	if (w->count == IOLENS_COUNT_SEPARATE && !iolens__interrupted(w))
		have_sc = !open_session(&sc, x, n, &stale, why, sizeof(why));
	for (size_t i = 0; w->count == IOLENS_COUNT_SEPARATE && i < n; i++) {
		x[i].run.sc = have_sc ? &sc : NULL;
		x[i].run.stale_threads = stale;
		if (x[i].r->status == IOLENS_STATUS_OK && !x[i].r->interrupted && !iolens__interrupted(w)) {
			if (w->on_pass)
				w->on_pass(w->on_pass_arg, specs[i], 1);
			iolens__counting_pass(x[i].r, &x[i].fresh, &x[i].run);
		}
	}
	if (have_sc)
		iolens__syscount_close(&sc);
	for (size_t i = 0; i < n; i++) {
		struct iolens_syscalls *s = &x[i].r->syscalls;

		struct iolens_model *m = &x[i].r->model;

		if (!s->measured && !s->why[0])
			snprintf(s->why, sizeof(s->why), "%s",
				 w->count == IOLENS_COUNT_OFF ? "not counted (--count off)"
				 : why[0]		       ? why
				 : iolens__interrupted(w)	       ? "not counted: interrupted"
							       : "not counted");
		/*
		 * A window that ran its course with no operation completed has no
		 * figure to give (a peer that accepts and never answers, a --delay
		 * longer than --time): that is a failed run, not a rate of 0.
		 */
		if (x[i].r->status == IOLENS_STATUS_OK && !x[i].r->interrupted && !x[i].r->ops)
			iolens__set_status(x[i].r, IOLENS_STATUS_ERROR, -ETIMEDOUT, "%s",
					   IOLENS_WL_IS_SOCKET(w->kind)
					   ? "no request completed in the measured window (is the peer answering? is --delay longer than --time?)"
					   : "no operation completed in the measured window");
		if (!m->measured[0] && !m->why[0])
			snprintf(m->why, sizeof(m->why), "not measured: %s", s->why);
		if (x[i].r->status == IOLENS_STATUS_OK && x[i].r->ops)
			m->concurrency = iolens__model_concurrency(x[i].r->iops, x[i].r->lat.mean);
		out[i] = x[i].r;
	}
	free(x);
	return 0;
}

/* Whether t can serve w: the file or peer was set up for this kind of workload. */
static int check_target(const struct iolens_target *t, const struct iolens_workload *w, char *err,
			size_t errlen)
{
	if (!t || !w)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "%s: NULL (open a target with iolens_target_open)",
					   t ? "workload" : "target");
	if (w->kind < 0 || w->kind >= IOLENS_WL__COUNT)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "workload kind: %d is not one of enum iolens_workload_kind",
					   w->kind);
	if (!IOLENS_WL_IS_SOCKET(w->kind) != !t->net)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "target: opened for a %s workload, run with %s",
					   t->net ? "socket" : "disk", iolens_workload_name(w->kind));
	if (w->kind == IOLENS_WL_SERVE && !w->loadgen && t->peer_proc.pid < 0)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "loadgen: the target was opened for the caller's load generator "
					   "(run serve with it, or open the target without it)");
	if (!t->net && (w->bs == 0 || w->bs > t->size))
		return iolens__target_fail(err, errlen, -EINVAL,
					   "bs: %u does not fit the target's %llu bytes", w->bs,
					   (unsigned long long)t->size);
	return 0;
}

int iolens_run_many(struct iolens_target *t, const struct iolens_workload *w,
		    const char *const *specs, size_t n, struct iolens_result **out, char *err,
		    size_t errlen)
{
	/* A run measures the process: two at once would count each other. */
	static atomic_flag busy = ATOMIC_FLAG_INIT;
	int e = check_target(t, w, err, errlen);

	if (e)
		return e;
	if (atomic_flag_test_and_set(&busy))
		return iolens__target_fail(err, errlen, -EBUSY,
					   "another run is in progress in this process");
	if (w->verify && !t->net && iolens__target_track(t, w->bs))
		e = iolens__target_fail(err, errlen, -ENOMEM, "verify: out of memory for the written blocks' map");
	if (!e)
		e = run_many(t, w, specs, n, out, err, errlen);
	atomic_flag_clear(&busy);
	return e;
}

int iolens_run(struct iolens_target *t, const struct iolens_workload *w, const char *spec,
	       struct iolens_result **out, char *err, size_t errlen)
{
	*out = NULL;
	return iolens_run_many(t, w, &spec, 1, out, err, errlen);
}

void iolens_result_free(struct iolens_result *r)
{
	if (!r)
		return;
	iolens_hist_free((struct iolens_hist *)r->hist);
	free((void *)r->trace);
	free(r);
}
