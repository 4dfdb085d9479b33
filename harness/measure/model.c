/*
 * The measured model. Two axes, each decided by thresholds on coordinates
 * in [0, 1] that are computed once here from the counting pass; the table,
 * the JSON and CSV, the notes and the plots' model map all read the result.
 *
 * Who moved the data (sync or async). Sync: the op's data moved inside a
 * call the submitting thread made and that returned the op's result: its
 * own data call (pread64, recv, ...), or a completion produced inside the
 * very io_submit / io_uring_enter that submitted it (the backend marks
 * those ops inline when the completion is there as the call returns).
 * Async: the kernel or another thread completed it and the submitter
 * collected it later.
 *   sync evidence = max(min(1, own data calls per op), inline share)
 *   async_share   = max(1 - sync evidence, offload share)
 *   who = submitter below MAJORITY, else threads when the offload share
 *         (I/O calls made by threads other than the job threads) reaches
 *         MAJORITY, else kernel.
 *   A non-blocking try that said EAGAIN (the backend counts them,
 *   nowait_eagain) moved no data: it is left out of the own data calls and
 *   of the I/O calls the offload share is taken over.
 *
 * Where the submitting thread waited (blocking or not). Blocking: it slept
 * inside a data call (or the submit call) that could not return without
 * the data. Non-blocking: such calls did not sleep, and waiting happened in
 * a readiness or completion wait, or the data calls were made so that they
 * could not sleep (RWF_NOWAIT, an O_NONBLOCK socket, MSG_DONTWAIT). No wait
 * needed: nothing slept and nothing was made non-blocking: the data was
 * there (a page-cached pread64).
 *   blocked_share  = the share of the calls that moved the data which slept:
 *                    submit calls, or reap calls that entered no wait (their
 *                    data calls), whichever share is larger
 *   waited_share   = the share of reap calls that slept in a wait they entered
 *   nonblock_share = max(waited_share, non-blocking data calls per op)
 *   wait = blocking when blocked_share reaches SOME, else non-blocking when
 *          nonblock_share reaches SOME, else no wait needed.
 * Shares are clamped to [0, 1].
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "syscount.h"

#define WHO_SUBMITTER "submitter"
#define WHO_KERNEL "kernel"
#define WHO_THREADS "threads"
#define WAIT_BLOCKING "blocking"
#define WAIT_NONBLOCKING "non-blocking"
#define WAIT_NONE "no wait needed"

/* Per-class totals, and the most frequent name of each class. */
struct classes {
	uint64_t total[4];
	int top[4]; /* name index, -1 if none */
};

static void classify(const struct iolens_syscalls *sc, struct classes *c, int skip)
{
	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < 4; k++)
		c->top[k] = -1;
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++) {
		int k = iolens__sc_class(i);

		c->total[k] += sc->by_name[i];
		if (sc->by_name[i] && (int)i != skip &&
		    (c->top[k] < 0 || sc->by_name[i] > sc->by_name[c->top[k]]))
			c->top[k] = (int)i;
	}
}

static const char *top_name(const struct classes *c, int k, const char *none)
{
	return c->top[k] >= 0 ? iolens_syscall_name((unsigned)c->top[k]) : none;
}

static int name_index(const char *name)
{
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (!strcmp(iolens_syscall_name(i), name))
			return (int)i;
	return -1;
}

/* Calls of one name per op; 0 for a name not counted. */
static double per_name(const struct iolens_syscalls *sc, const char *name, double ops)
{
	int i = name_index(name);

	return i >= 0 ? (double)sc->by_name[i] / ops : 0;
}

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/*
 * A coordinate as the JSON writes it (6 decimals at most, within its
 * significant digits): the regions are decided on that value, so a reader
 * of the file places every point where its label says.
 */
static double coord(double x)
{
	return round(clamp01(x) * 1e6) / 1e6;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? clamp01((double)part / (double)whole) : NAN;
}

const char *iolens__model_who(double async_share, double offload_share)
{
	if (!(async_share >= IOLENS_MODEL_MAJORITY))
		return WHO_SUBMITTER;
	return offload_share >= IOLENS_MODEL_MAJORITY ? WHO_THREADS : WHO_KERNEL;
}

const char *iolens__model_wait(double blocked_share, double nonblock_share)
{
	if (blocked_share >= IOLENS_MODEL_SOME)
		return WAIT_BLOCKING;
	return nonblock_share >= IOLENS_MODEL_SOME ? WAIT_NONBLOCKING : WAIT_NONE;
}

const char *iolens__model_label(const char *who, const char *wait)
{
	if (!strcmp(who, WHO_THREADS))
		return IOLENS_MODEL_ASYNC_THREADS;
	if (!strcmp(who, WHO_KERNEL))
		return IOLENS_MODEL_ASYNC_KERNEL;
	if (strcmp(who, WHO_SUBMITTER))
		return NULL;
	if (!strcmp(wait, WAIT_BLOCKING))
		return IOLENS_MODEL_SYNC_BLOCKING;
	if (!strcmp(wait, WAIT_NONBLOCKING))
		return IOLENS_MODEL_SYNC_READINESS;
	return !strcmp(wait, WAIT_NONE) ? IOLENS_MODEL_SYNC_NO_WAIT : NULL;
}

/* A blocking call whose data was ready is still the blocking model. */
static int mismatch(const char *declared, const char *measured)
{
	return declared && strcmp(declared, measured) != 0 &&
	       !(!strcmp(declared, IOLENS_MODEL_SYNC_BLOCKING) &&
		 !strcmp(measured, IOLENS_MODEL_SYNC_NO_WAIT));
}

void iolens__model_unmeasured(struct iolens_model *m, const char *why)
{
	m->measured[0] = m->who[0] = m->wait[0] = m->flags[0] = '\0';
	m->mismatch = 0;
	snprintf(m->why, sizeof(m->why), "%s", why);
	m->sync_share = m->vcsw_per_op_submit = m->vcsw_per_op_wait = NAN;
	m->offload_share = m->offload_cpu_share = m->io_per_op = m->wait_sleep_share = NAN;
	m->async_share = m->blocked_share = m->nonblock_share = m->waited_share = NAN;
	m->own_data_per_op = m->inline_share = m->nowait_eagain_share = NAN;
	m->ready_share = m->fallback_share = m->resident_share = NAN;
}

double iolens__model_concurrency(double iops, double mean_ns)
{
	return iops > 0 && mean_ns > 0 ? iops * mean_ns / 1e9 : NAN;
}

/* Appends to a bounded line; what does not fit is cut, never overrun. */
struct line {
	char *buf;
	size_t len, used;
};

static void vadd(struct line *l, const char *fmt, va_list ap)
{
	int n;

	if (l->used + 1 >= l->len)
		return;
	n = vsnprintf(l->buf + l->used, l->len - l->used, fmt, ap);
	if (n > 0)
		l->used += (size_t)n < l->len - l->used ? (size_t)n : l->len - l->used - 1;
}

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

/* One more item of a "; "-separated list. */
static void flag(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void flag(struct line *l, const char *fmt, ...)
{
	va_list ap;

	if (l->used)
		add(l, "; ");
	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

/* Everything the sentences need, beside the model's own fields. */
struct evidence {
	double ops;
	const char *d_name, *q_name, *r_name;
	double ready_calls, queue_calls, nb_per_op, own_io_per_op;
	int declared_readiness, declared_async;
};

/* The first half of why: who moved the data, and by which evidence. */
static void why_who(struct line *l, const struct iolens_model *m, const struct evidence *e,
		    const struct iolens_syscalls *sc)
{
	if (!strcmp(m->who, WHO_THREADS)) {
		add(l, "%.0f%% of the I/O calls (%s %.2f/op) came from threads other than the submitting one; futex %.2f/op",
		    m->offload_share * 100, e->d_name, per_name(sc, e->d_name, e->ops),
		    per_name(sc, "futex", e->ops));
	} else if (!strcmp(m->who, WHO_KERNEL)) {
		if (e->queue_calls > 0)
			add(l, "the kernel completed %.0f%% of ops after the submitting %s (%.3f/op) returned",
			    m->async_share * 100, e->q_name, e->queue_calls);
		else
			add(l, "the kernel completed %.0f%% of ops; the submitting thread made %.3f I/O calls/op",
			    m->async_share * 100, e->own_io_per_op);
		if (sc->helper_threads && sc->io_uring)
			add(l, " (%u io_uring kernel thread%s took requests from the ring)", sc->helper_threads,
			    sc->helper_threads == 1 ? "" : "s");
		if (sc->io_uring && sc->iou_submitted)
			add(l, "; io_uring punted %.0f%% of requests to io-wq",
			    (double)sc->iou_punted * 100 / (double)sc->iou_submitted);
	} else if (m->inline_share >= m->own_data_per_op && m->inline_share > 0 && e->queue_calls > 0) {
		add(l, "%.0f%% of ops completed inside the %s that submitted them (%.2f/op)",
		    m->inline_share * 100, e->q_name, e->queue_calls);
	} else {
		add(l, "the submitting thread's own %s moved the data (%.2f/op)", e->d_name,
		    per_name(sc, e->d_name, e->ops));
	}
}

/* The second half: where the submitting thread waited. */
static void why_wait(struct line *l, const struct iolens_model *m, const struct evidence *e)
{
	double sw = m->vcsw_per_op_submit + m->vcsw_per_op_wait;

	if (!strcmp(m->wait, WAIT_BLOCKING)) {
		add(l, "; it slept in %.0f%% of the %s calls that moved the data (%.2f switches/op)",
		    m->blocked_share * 100,
		    m->own_data_per_op >= IOLENS_MODEL_MAJORITY ? e->d_name : e->q_name, sw);
	} else if (!strcmp(m->wait, WAIT_NONBLOCKING)) {
		if (m->waited_share >= IOLENS_MODEL_SOME)
			add(l, "; it waited only in %s: %.0f%% of reap calls slept there, %.0f%% of the calls that moved the data (%.2f switches/op)",
			    e->ready_calls > 0 ? e->r_name : "completion waits", m->waited_share * 100,
			    m->blocked_share * 100, sw);
		else
			add(l, "; no call slept (%.2f switches/op)", sw);
		if (e->nb_per_op > 0)
			add(l, "; %.2f data calls/op were made non-blocking, %.0f%% said EAGAIN", e->nb_per_op,
			    m->nowait_eagain_share * 100);
	} else {
		add(l, "; nothing had to wait (%.2f switches/op)", sw);
		if (!isnan(m->resident_share))
			add(l, ": the page cache held %.0f%% of the file", m->resident_share * 100);
	}
}

/* What contradicts the declared model, each with its figure. */
static void flags(struct line *l, const struct iolens_model *m, const struct evidence *e)
{
	if (e->declared_readiness) {
		if (m->fallback_share >= IOLENS_MODEL_MAJORITY)
			flag(l, "the readiness API refused the descriptor (EPERM) for %.0f%% of ops",
			     m->fallback_share * 100);
		else if (e->ready_calls > 0 && m->ready_share >= 1 - IOLENS_MODEL_SOME &&
			 strcmp(m->wait, WAIT_NONBLOCKING))
			flag(l, "readiness did nothing: %s found the descriptor ready at once in %.0f%% of checks",
			     e->r_name, m->ready_share * 100);
		else if (e->ready_calls == 0 && m->inline_share >= IOLENS_MODEL_MAJORITY &&
			 strcmp(m->wait, WAIT_NONBLOCKING))
			/* coro-epoll on a file: it never asks, it cannot poll one. */
			flag(l, "no readiness call: %.0f%% of ops were plain calls completed inside submit",
			     m->inline_share * 100);
		if (!strcmp(m->wait, WAIT_BLOCKING))
			flag(l, "the data call slept after readiness in %.0f%% of calls", m->blocked_share * 100);
	}
	if (m->nowait_eagain_share >= IOLENS_MODEL_MAJORITY && !strcmp(m->who, WHO_SUBMITTER) &&
	    !strcmp(m->wait, WAIT_BLOCKING))
		flag(l, "non-blocking tries said EAGAIN for %.0f%%: %s did the I/O", m->nowait_eagain_share * 100,
		     e->d_name);
	if (e->declared_async && !strcmp(m->who, WHO_SUBMITTER)) {
		if (m->inline_share >= IOLENS_MODEL_MAJORITY)
			flag(l, "completed inside submit for %.0f%% of ops", m->inline_share * 100);
		else
			flag(l, "the submitting thread's own %s moved the data (%.2f/op)", e->d_name,
			     m->own_data_per_op);
	}
}

void iolens__model_measure(struct iolens_model *m, const struct iolens__model_in *in)
{
	const struct iolens_syscalls *sc = in->sc;
	struct evidence e = { .ops = (double)sc->ops };
	struct classes c;
	struct line why = { m->why, sizeof(m->why), 0 }, fl = { m->flags, sizeof(m->flags), 0 };
	uint64_t io, own_data, io_submit, eagain, io_own, io_moved;
	int iq = name_index("io_submit"), skip = -1;
	double offload, sync_ev, blocked, waited;
	const char *label;

	if (!sc->ops) {
		iolens__model_unmeasured(m, "no operation completed in the counting window");
		return;
	}
	m->why[0] = m->flags[0] = '\0';
	/* A non-blocking try that said EAGAIN was not the call that did the I/O. */
	if (in->nowait_tries && in->nowait_eagain * 2 >= in->nowait_tries)
		skip = name_index("preadv2");
	classify(sc, &c, skip);
	io = c.total[IOLENS_SC_DATA] + c.total[IOLENS_SC_QUEUE];
	e.queue_calls = (double)c.total[IOLENS_SC_QUEUE] / e.ops;
	e.ready_calls = (double)c.total[IOLENS_SC_READINESS] / e.ops;
	e.d_name = top_name(&c, IOLENS_SC_DATA, "data call");
	e.q_name = top_name(&c, IOLENS_SC_QUEUE, "submit call");
	e.r_name = top_name(&c, IOLENS_SC_READINESS, "readiness call");
	e.declared_readiness = in->declared && !strcmp(in->declared, IOLENS_MODEL_SYNC_READINESS);
	e.declared_async = in->declared && (!strcmp(in->declared, IOLENS_MODEL_ASYNC_KERNEL) ||
					    !strcmp(in->declared, IOLENS_MODEL_ASYNC_THREADS));
	e.own_io_per_op = (double)in->io_own / e.ops;
	e.nb_per_op = (double)in->nowait_tries / (double)(in->completed ? in->completed : 1);

	/* The figures, each a measurement whatever the verdict. */
	m->vcsw_per_op_submit = (double)in->vcsw_submit / e.ops;
	m->vcsw_per_op_wait = (double)in->vcsw_wait / e.ops;
	m->io_per_op = (double)io / e.ops;
	m->sync_share = in->lat_ns ? clamp01((double)in->sync_ns / (double)in->lat_ns) : NAN;
	m->wait_sleep_share = in->reaps ? (double)in->reaps_slept / (double)in->reaps : NAN;
	/* Tries that said EAGAIN moved nothing: neither side of the offload share counts them. */
	eagain = in->nowait_eagain;
	io_own = in->io_own > eagain ? in->io_own - eagain : 0;
	io_moved = io > eagain ? io - eagain : 0;
	m->offload_share = in->have_io_own && io_moved
				   ? (double)(io_moved - (io_own < io_moved ? io_own : io_moved)) /
					     (double)io_moved
				   : NAN;
	m->offload_cpu_share = in->cpu_all > 0 && !isnan(in->cpu_jobs)
				       ? clamp01((in->cpu_all - in->cpu_jobs) / in->cpu_all)
				       : NAN;
	io_submit = iq >= 0 ? sc->by_name[iq] : 0;
	own_data = io_own > in->enter_own + io_submit ? io_own - in->enter_own - io_submit : 0;
	m->own_data_per_op = in->have_io_own ? (double)own_data / e.ops : NAN;
	m->inline_share = share(in->completed_inline, in->completed);
	m->nowait_eagain_share = share(in->nowait_eagain, in->nowait_tries);
	m->ready_share = e.ready_calls > 0 ? share(in->ready_now, in->ready_now + in->ready_waits) : NAN;
	m->fallback_share = share(in->fallbacks, in->completed);
	m->resident_share = in->resident >= 0 ? clamp01(in->resident) : NAN;

	if (!io && !(sc->io_uring && sc->iou_submitted)) {
		/* No axis to place it on: its coordinates stay unmeasured, its figures stand. */
		m->async_share = m->blocked_share = m->nonblock_share = m->waited_share = NAN;
		m->who[0] = m->wait[0] = '\0';
		snprintf(m->measured, sizeof(m->measured), "%s", IOLENS_MODEL_NO_IO);
		snprintf(m->why, sizeof(m->why), "no I/O syscall in %llu ops",
			 (unsigned long long)sc->ops);
		m->mismatch = mismatch(in->declared, m->measured);
		return;
	}

	/* The two axes' coordinates, then the regions they fall in. */
	offload = isnan(m->offload_share) ? 0 : m->offload_share;
	sync_ev = isnan(m->own_data_per_op) ? 0 : clamp01(m->own_data_per_op);
	if (!isnan(m->inline_share) && m->inline_share > sync_ev)
		sync_ev = m->inline_share;
	offload = coord(offload);
	m->async_share = coord(fmax(1 - sync_ev, offload));
	blocked = fmax(share(in->submits_slept, in->submits),
		       share(in->reaps_slept - in->reaps_waited_slept, in->reaps - in->reaps_waited));
	m->blocked_share = coord(isnan(blocked) ? 0 : blocked);
	waited = share(in->reaps_waited_slept, in->reaps);
	m->waited_share = coord(isnan(waited) ? 0 : waited);
	m->nonblock_share = coord(fmax(m->waited_share, e.nb_per_op));
	snprintf(m->who, sizeof(m->who), "%s", iolens__model_who(m->async_share, offload));
	snprintf(m->wait, sizeof(m->wait), "%s",
		 iolens__model_wait(m->blocked_share, m->nonblock_share));
	label = iolens__model_label(m->who, m->wait);
	snprintf(m->measured, sizeof(m->measured), "%s", label ? label : "");

	why_who(&why, m, &e, sc);
	why_wait(&why, m, &e);
	flags(&fl, m, &e);
	m->mismatch = mismatch(in->declared, m->measured);
}
