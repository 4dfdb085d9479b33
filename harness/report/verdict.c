/*
 * The verdict on one workload: the best backend for throughput, p99 and CPU
 * per op with its margin over the runner-up, then why, from the measured
 * model's coordinates (model.h). Every sentence is built from the figures
 * of the results given; a NaN or an unmeasured model leaves its sentence
 * out rather than guessed.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "report.h"
#include "verdict.h"

/* One sentence being written into a verdict slot; a sentence too long ends in "...". */
struct text {
	char *buf;
	size_t len, used;
	int full;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (t->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= t->len - t->used) {
		t->full = 1;
		t->used = t->len - 1;
		memcpy(t->buf + t->len - 4, "...", 4);
		return;
	}
	t->used += (size_t)k;
}

static int begin(struct iolens_verdict *v, struct text *t)
{
	if (v->nsentences == IOLENS_VERDICT_SENTENCES)
		return 0;
	*t = (struct text){ .buf = v->sentences[v->nsentences],
			    .len = IOLENS_VERDICT_SENTENCE_LEN };
	t->buf[0] = '\0';
	return 1;
}

static void end(struct iolens_verdict *v, const struct text *t)
{
	if (t->used)
		v->nsentences++;
}

int iolens__verdict_same_workload(const struct iolens_result *a, const struct iolens_result *b)
{
	const struct iolens_workload *x = &a->workload, *y = &b->workload;

	return x->kind == y->kind && x->rwmix == y->rwmix && x->bs == y->bs && x->size == y->size &&
	       x->direct == y->direct && x->depth == y->depth && x->jobs == y->jobs &&
	       x->batch == y->batch && x->submit_batch == y->submit_batch && x->cache == y->cache &&
	       x->fsync_every == y->fsync_every && x->verify == y->verify && x->conns == y->conns &&
	       x->msg == y->msg && x->transport == y->transport && x->rate == y->rate &&
	       x->poisson == y->poisson && x->think_ns == y->think_ns && x->delay_ns == y->delay_ns &&
	       /* two jobs of a job file are two workloads, however alike */
	       !strcmp(a->job_file, b->job_file) && !strcmp(a->job_section, b->job_section);
}

/* A result with figures to compare: ok, something done, and not the harness's floor. */
static int usable(const struct iolens_result *r)
{
	return r->status == IOLENS_STATUS_OK && r->ops && strcmp(r->backend, "null") != 0;
}

/* ... whose model the classifier decided (both axes). */
static int modelled(const struct iolens_result *r)
{
	return usable(r) && r->model.measured[0] && r->model.who[0];
}

static int declared(const struct iolens_result *r, const char *model)
{
	return r->model.declared && !strcmp(r->model.declared, model);
}

static int who(const struct iolens_result *r, const char *w)
{
	return !strcmp(r->model.who, w);
}

static int at_least(double share, double threshold)
{
	return !isnan(share) && share >= threshold;
}

/* ---- the rankings ---- */

/* A figure of r, NaN when r has none; lower says which way is better. */
struct figure {
	double (*get)(const struct iolens_result *r);
	int lower;
};

static double iops(const struct iolens_result *r)
{
	if (r->workload.kind == IOLENS_WL_STREAM)
		return r->net.gbit_s > 0 ? r->net.gbit_s : NAN;
	return r->iops > 0 ? r->iops : NAN;
}

static double p99(const struct iolens_result *r)
{
	return (double)r->lat.p99;
}

static double p50(const struct iolens_result *r)
{
	return (double)r->lat.p50;
}

static double cpu_per_op(const struct iolens_result *r)
{
	return r->cpu_per_op_ns >= 0 ? r->cpu_per_op_ns : NAN;
}

static int better(const struct figure *f, double a, double b)
{
	return f->lower ? a < b : a > b;
}

/* The best and the runner-up by f; -1 for a place nobody has. */
static void rank(struct iolens_result *const *rs, size_t n, const struct figure *f, int *best,
		 int *second)
{
	*best = *second = -1;
	for (size_t i = 0; i < n; i++) {
		double x = usable(rs[i]) ? f->get(rs[i]) : NAN;

		if (isnan(x))
			continue;
		if (*best < 0 || better(f, x, f->get(rs[*best]))) {
			*second = *best;
			*best = (int)i;
		} else if (*second < 0 || better(f, x, f->get(rs[*second]))) {
			*second = (int)i;
		}
	}
	if (*second < 0)
		*best = -1;
}

/* 412k, 1.23M, 9.5: three significant digits, no unit past G. */
static void count_text(double x, char *out, size_t len)
{
	static const char *const unit[] = { "", "k", "M", "G" };
	unsigned u = 0;

	while (u < 3 && x >= 999.5) {
		x /= 1000;
		u++;
	}
	snprintf(out, len, "%.3g%s", x, unit[u]);
}

/* Nanoseconds as us, ms or s, three significant digits. */
static void time_text(double ns, char *out, size_t len)
{
	static const char *const unit[] = { "us", "ms", "s" };
	double x = ns / 1000;
	unsigned u = 0;

	while (u < 2 && x >= 999.5) {
		x /= 1000;
		u++;
	}
	snprintf(out, len, "%.3g %s", x, unit[u]);
}

static void ranking(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n,
		    const char *what, const struct figure *f, int *slot)
{
	char a[160], b[160], fa[32], fb[32];
	const char *unit = "";
	struct text t;
	double x, y, ratio;
	int best, second;

	rank(rs, n, f, &best, &second);
	*slot = best;
	if (best < 0 || !begin(v, &t))
		return;
	x = f->get(rs[best]);
	y = f->get(rs[second]);
	iolens__result_label(rs[best], a, sizeof(a));
	iolens__result_label(rs[second], b, sizeof(b));
	if (f->get == iops) {
		int kind = rs[best]->workload.kind;

		if (kind == IOLENS_WL_STREAM) {
			snprintf(fa, sizeof(fa), "%.3g", x);
			snprintf(fb, sizeof(fb), "%.3g", y);
			unit = " Gbit/s";
		} else {
			count_text(x, fa, sizeof(fa));
			count_text(y, fb, sizeof(fb));
			unit = IOLENS_WL_IS_SOCKET(kind) ? " req/s" : " IOPS";
		}
	} else {
		time_text(x, fa, sizeof(fa));
		time_text(y, fb, sizeof(fb));
	}
	ratio = f->lower ? (x > 0 ? y / x : NAN) : (y > 0 ? x / y : NAN);
	add(&t, "%s: %s, %s%s, ", what, a, fa, unit);
	if (isnan(ratio))
		add(&t, "next %s (%s)", b, fb);
	else if (ratio < 1.005)
		add(&t, "level with %s (%s)", b, fb);
	else
		add(&t, "%.2fx %s%s (%s)", ratio, f->lower ? "better than " : "", b, fb);
	end(v, &t);
}

/* ---- why: sentences over the results a predicate picks ---- */

typedef int (*pick_fn)(const struct iolens_result *r);

static int refused(const struct iolens_result *r)
{
	return at_least(r->model.fallback_share, IOLENS_MODEL_MAJORITY);
}

/*
 * Readiness that did nothing: the thread did not wait the non-blocking way
 * (on sockets it does, even when every check finds one ready: readiness
 * is what picks the connection), and the API refused the descriptor or
 * found it ready in all but a few checks.
 */
static int readiness_idle(const struct iolens_result *r)
{
	return modelled(r) && declared(r, IOLENS_MODEL_SYNC_READINESS) && who(r, "submitter") &&
	       strcmp(r->model.wait, "non-blocking") != 0 &&
	       (refused(r) || at_least(r->model.ready_share, 1 - IOLENS_MODEL_SOME));
}

/* A queue backend whose ops completed inside the submit call. */
static int inline_sync(const struct iolens_result *r)
{
	return modelled(r) && declared(r, IOLENS_MODEL_ASYNC_KERNEL) && who(r, "submitter") &&
	       at_least(r->model.inline_share, IOLENS_MODEL_MAJORITY);
}

static int async_kernel(const struct iolens_result *r)
{
	return modelled(r) && who(r, "kernel") && !isnan(r->model.async_share) &&
	       !isnan(r->model.waited_share);
}

static int async_waited(const struct iolens_result *r)
{
	return async_kernel(r) && r->model.waited_share >= IOLENS_MODEL_SOME;
}

static int async_no_sleep(const struct iolens_result *r)
{
	return async_kernel(r) && r->model.waited_share < IOLENS_MODEL_SOME;
}

static int threaded(const struct iolens_result *r)
{
	return modelled(r) && who(r, "threads") && !isnan(r->model.offload_share);
}

/*
 * The hybrid's split: a non-blocking try first, threads for what would have
 * blocked, with both sides taking a real share of the ops.
 */
static int hybrid_split(const struct iolens_result *r)
{
	const struct iolens_model *m = &r->model;

	return modelled(r) && declared(r, IOLENS_MODEL_ASYNC_THREADS) && r->stats.nowait_tries &&
	       !isnan(m->inline_share) && at_least(m->nowait_eagain_share, IOLENS_MODEL_SOME) &&
	       m->nowait_eagain_share <= 1 - IOLENS_MODEL_SOME;
}

/* A modelled result none of the sentences above explains. */
static int unexplained(const struct iolens_result *r)
{
	return modelled(r) && !readiness_idle(r) && !inline_sync(r) && !async_kernel(r) &&
	       !threaded(r);
}

static int as_declared(const struct iolens_result *r)
{
	return r->model.declared && !strcmp(r->model.declared, r->model.measured);
}

static size_t count(struct iolens_result *const *rs, size_t n, pick_fn pick)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += pick(rs[i]) != 0;
	return k;
}

/* "a", "a and b", "a, b and c". */
static void names(struct text *t, struct iolens_result *const *rs, size_t n, pick_fn pick)
{
	size_t k = count(rs, n, pick), j = 0;
	char name[160];

	for (size_t i = 0; i < n; i++) {
		if (!pick(rs[i]))
			continue;
		iolens__result_label(rs[i], name, sizeof(name));
		add(t, "%s%s", j == 0 ? "" : j + 1 == k ? " and " : ", ", name);
		j++;
	}
}

/* "99%, 100%": one share per picked result, in their order. */
static void shares(struct text *t, struct iolens_result *const *rs, size_t n, pick_fn pick,
		   double (*get)(const struct iolens_result *r), const char *fmt, double scale)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (!pick(rs[i]))
			continue;
		add(t, "%s", j++ ? ", " : "");
		add(t, fmt, get(rs[i]) * scale);
	}
}

static double inline_share(const struct iolens_result *r)
{
	return r->model.inline_share;
}

static double eagain_share(const struct iolens_result *r)
{
	return r->model.nowait_eagain_share;
}

static double async_share(const struct iolens_result *r)
{
	return r->model.async_share;
}

static double waited_share(const struct iolens_result *r)
{
	return r->model.waited_share;
}

static double offload_share(const struct iolens_result *r)
{
	return r->model.offload_share;
}

/* "poll and epoll gain nothing on files: poll found the file ready at once in 100% of checks" */
static void why_readiness(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	size_t k = count(rs, n, readiness_idle), j = 0;
	int disk = !IOLENS_WL_IS_SOCKET(rs[0]->workload.kind);
	char name[160];
	struct text t;

	if (!k || !begin(v, &t))
		return;
	names(&t, rs, n, readiness_idle);
	add(&t, " gain%s nothing %s: ", k == 1 ? "s" : "", disk ? "on files" : "at this load");
	for (size_t i = 0; i < n; i++) {
		const struct iolens_model *m = &rs[i]->model;

		if (!readiness_idle(rs[i]))
			continue;
		iolens__result_label(rs[i], name, sizeof(name));
		add(&t, "%s", j++ ? "; " : "");
		if (refused(rs[i]))
			add(&t, "%s was refused%s for %.0f%% of ops", name,
			    strstr(m->flags, "EPERM") ? " (EPERM)" : "", m->fallback_share * 100);
		else
			add(&t, "%s found the %s ready at once in %.0f%% of checks", name,
			    disk ? "file" : "sockets", m->ready_share * 100);
	}
	end(v, &t);
}

/* "io_uring and libaio completed inside submit (99%, 100%): the page cache made them sync" */
static void why_inline(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	size_t k = count(rs, n, inline_sync);
	const struct iolens_workload *w = &rs[0]->workload;
	double cached = INFINITY;
	struct text t;

	if (!k || !begin(v, &t))
		return;
	/* The least cached of them; NaN (no evidence) if any was not measured. */
	for (size_t i = 0; i < n; i++)
		if (inline_sync(rs[i]) && !isnan(cached))
			cached = isnan(rs[i]->model.resident_share)
					 ? NAN
					 : fmin(cached, rs[i]->model.resident_share);
	names(&t, rs, n, inline_sync);
	add(&t, " completed inside submit (");
	shares(&t, rs, n, inline_sync, inline_share, "%.0f%%", 100);
	if (!IOLENS_WL_IS_SOCKET(w->kind) && !w->direct && at_least(cached, IOLENS_MODEL_MAJORITY))
		add(&t, "): the page cache made %s sync (%.0f%% of the file was cached)",
		    k == 1 ? "it" : "them", cached * 100);
	else
		add(&t, "), so %s measured sync", k == 1 ? "it" : "they");
	end(v, &t);
}

/* Async completion, with or without sleeping for it. */
static void why_async(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n,
		      pick_fn pick)
{
	size_t k = count(rs, n, pick);
	struct text t;

	if (!k || !begin(v, &t))
		return;
	names(&t, rs, n, pick);
	if (pick == async_waited) {
		add(&t, " ran async and had to wait: the kernel completed ");
		shares(&t, rs, n, pick, async_share, "%.0f%%", 100);
		add(&t, " of ops after submit, and the submitting thread slept for them in ");
		shares(&t, rs, n, pick, waited_share, "%.0f%%", 100);
		add(&t, " of its reap calls");
	} else {
		add(&t, " ran async without sleeping for completions (");
		shares(&t, rs, n, pick, waited_share, "%.0f%%", 100);
		add(&t, " of reap calls slept): the kernel completed ");
		shares(&t, rs, n, pick, async_share, "%.0f%%", 100);
		add(&t, " of ops after submit");
	}
	end(v, &t);
}

/* "posix-aio used other threads for 100% of its I/O calls" */
static void why_threads(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	size_t k = count(rs, n, threaded);
	struct text t;

	if (!k || !begin(v, &t))
		return;
	names(&t, rs, n, threaded);
	add(&t, " used other threads for ");
	shares(&t, rs, n, threaded, offload_share, "%.0f%%", 100);
	add(&t, " of %s I/O calls", k == 1 ? "its" : "their");
	end(v, &t);
}

/* "nowait split the work: 48% of ops completed inline, 52% of its tries said EAGAIN ..." */
static void why_split(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	int disk = !IOLENS_WL_IS_SOCKET(rs[0]->workload.kind);
	struct text t;

	if (!count(rs, n, hybrid_split) || !begin(v, &t))
		return;
	names(&t, rs, n, hybrid_split);
	add(&t, " split the work: ");
	shares(&t, rs, n, hybrid_split, inline_share, "%.0f%%", 100);
	add(&t, " of ops completed inline (the non-blocking try found the %s), and ",
	    disk ? "data in the page cache" : "socket ready");
	shares(&t, rs, n, hybrid_split, eagain_share, "%.0f%%", 100);
	add(&t, " of the tries said EAGAIN (they would have blocked) and went to the pool");
	end(v, &t);
}

/*
 * Each remaining model that differs from the declared one, with what
 * contradicts it; one that is as declared only when it is the one result
 * there is (then it is the whole explanation).
 */
static void why_others(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	int alone = count(rs, n, usable) == 1;
	char name[160];
	struct text t;
	size_t j = 0;

	if (!begin(v, &t))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct iolens_model *m = &rs[i]->model;

		if (!unexplained(rs[i]) || (as_declared(rs[i]) && !alone))
			continue;
		iolens__result_label(rs[i], name, sizeof(name));
		add(&t, "%s%s measured \"%s\"", j++ ? "; " : "", name, m->measured);
		if (as_declared(rs[i]))
			add(&t, ", as declared");
		else if (m->declared)
			add(&t, " (declared \"%s\"%s%s)", m->declared, m->flags[0] ? ": " : "",
			    m->flags);
	}
	end(v, &t);
}

static unsigned requested(const struct iolens_result *r)
{
	const struct iolens_workload *w = &r->workload;

	return w->depth * (IOLENS_WL_IS_SOCKET(w->kind) ? w->conns : w->jobs);
}

static int has_load(const struct iolens_result *r)
{
	return usable(r) && !isnan(r->model.concurrency);
}

static int below_half(const struct iolens_result *r)
{
	return has_load(r) && r->model.concurrency < requested(r) * IOLENS_MODEL_MAJORITY;
}

static double concurrency(const struct iolens_result *r)
{
	return r->model.concurrency;
}

/* The load every figure above was measured at: ops in flight against those asked for. */
static void load(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	double lo = INFINITY, hi = -INFINITY;
	struct text t;
	char a[16], b[16];

	for (size_t i = 0; i < n; i++) {
		if (!has_load(rs[i]))
			continue;
		lo = fmin(lo, rs[i]->model.concurrency);
		hi = fmax(hi, rs[i]->model.concurrency);
	}
	if (lo > hi || !begin(v, &t))
		return;
	snprintf(a, sizeof(a), "%.1f", lo);
	snprintf(b, sizeof(b), "%.1f", hi);
	add(&t, "measured at %s%s%s ops in flight on average (Little's law) of %u requested", a,
	    strcmp(a, b) ? " to " : "", strcmp(a, b) ? b : "", requested(rs[0]));
	/* Those far below the others: the labels that depend on load saw less of it. */
	if (count(rs, n, below_half) && count(rs, n, below_half) < count(rs, n, has_load)) {
		add(&t, "; under half of it: ");
		names(&t, rs, n, below_half);
		add(&t, " (");
		shares(&t, rs, n, below_half, concurrency, "%.1f", 1);
		add(&t, ")");
	}
	end(v, &t);
}

/*
 * An open loop sets the throughput: there is no most of it to name, only
 * what was asked and what the backends achieved of it.
 */
static void open_loop_rate(struct iolens_verdict *v, struct iolens_result *const *rs, size_t n)
{
	double lo = INFINITY, hi = -INFINITY;
	char want[32], a[32], b[32];
	uint64_t late = 0;
	struct text t;

	for (size_t i = 0; i < n; i++) {
		if (rs[i]->status != IOLENS_STATUS_OK || !(rs[i]->iops > 0))
			continue;
		lo = fmin(lo, rs[i]->iops);
		hi = fmax(hi, rs[i]->iops);
		late += rs[i]->open_loop.late;
	}
	if (!(hi >= lo) || !begin(v, &t))
		return;
	count_text(rs[0]->workload.rate, want, sizeof(want));
	count_text(lo, a, sizeof(a));
	count_text(hi, b, sizeof(b));
	add(&t, "throughput is the open loop's: %s/s asked, %s%s%s achieved", want, a,
	    hi > lo ? " to " : "", hi > lo ? b : "");
	if (late)
		add(&t, "; %llu %s started over an interval late (open_loop.late)",
		    (unsigned long long)late, IOLENS_WL_IS_SOCKET(rs[0]->workload.kind) ? "requests" : "ops");
	end(v, &t);
}

int iolens_verdict(struct iolens_result *const *rs, size_t n, struct iolens_verdict *out)
{
	static const struct figure f_iops = { iops, 0 }, f_p99 = { p99, 1 },
				   f_cpu = { cpu_per_op, 1 }, f_p50 = { p50, 1 };
	unsigned before;
	int lowest_p50;

	if (!out || (!rs && n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!rs[i] || !iolens__verdict_same_workload(rs[0], rs[i]))
			return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->most_iops = out->lowest_p99 = out->least_cpu_per_op = -1;
	if (!n)
		return 0;
	if (rs[0]->workload.rate > 0) { /* the latency at the rate asked is the figure */
		open_loop_rate(out, rs, n);
		ranking(out, rs, n, "lowest p50", &f_p50, &lowest_p50);
	} else {
		ranking(out, rs, n, "most throughput", &f_iops, &out->most_iops);
	}
	ranking(out, rs, n, "lowest p99", &f_p99, &out->lowest_p99);
	ranking(out, rs, n, "least CPU per op", &f_cpu, &out->least_cpu_per_op);
	before = out->nsentences;
	why_readiness(out, rs, n);
	why_inline(out, rs, n);
	why_async(out, rs, n, async_waited);
	why_async(out, rs, n, async_no_sleep);
	why_threads(out, rs, n);
	why_split(out, rs, n);
	why_others(out, rs, n);
	/* The load says what the sentences above saw; alone it explains nothing. */
	if (out->nsentences > before)
		load(out, rs, n);
	return 0;
}
