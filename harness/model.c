#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "syscount.h"

/* Per-class totals, and the most frequent name of each class. */
struct classes {
	uint64_t total[4];
	int top[4]; /* name index, -1 if none */
};

static void classify(const struct iolens_syscalls *sc, struct classes *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < 4; k++)
		c->top[k] = -1;
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++) {
		int k = iolens__sc_class(i);

		c->total[k] += sc->by_name[i];
		if (sc->by_name[i] && (c->top[k] < 0 || sc->by_name[i] > sc->by_name[c->top[k]]))
			c->top[k] = (int)i;
	}
}

static const char *top_name(const struct classes *c, int k, const char *none)
{
	return c->top[k] >= 0 ? iolens_syscall_name((unsigned)c->top[k]) : none;
}

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void iolens__model_unmeasured(struct iolens_model *m, const char *why)
{
	m->measured[0] = '\0';
	m->mismatch = 0;
	snprintf(m->why, sizeof(m->why), "%s", why);
	m->sync_share = m->vcsw_per_op_submit = m->vcsw_per_op_wait = NAN;
	m->offload_share = m->offload_cpu_share = m->io_per_op = m->wait_sleep_share = NAN;
}

double iolens__model_concurrency(double iops, double mean_ns)
{
	return iops > 0 && mean_ns > 0 ? iops * mean_ns / 1e9 : NAN;
}

/* Calls of one name per op; 0 for a name not counted. */
static double per_name(const struct iolens_syscalls *sc, const char *name, double ops)
{
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (!strcmp(iolens_syscall_name(i), name))
			return (double)sc->by_name[i] / ops;
	return 0;
}

static void set(struct iolens_model *m, const char *measured)
{
	snprintf(m->measured, sizeof(m->measured), "%s", measured);
}

void iolens__model_measure(struct iolens_model *m, const struct iolens__model_in *in)
{
	const struct iolens_syscalls *sc = in->sc;
	double ops = (double)sc->ops;
	struct classes c;
	uint64_t io;
	double data, ready, queue, sub, wait;
	const char *d_name, *q_name, *r_name;
	char note[80] = "";
	uint64_t checks = in->ready_waits + in->ready_now;

	if (!sc->ops) {
		iolens__model_unmeasured(m, "no operation completed in the counting window");
		return;
	}
	classify(sc, &c);
	io = c.total[IOLENS_SC_DATA] + c.total[IOLENS_SC_QUEUE];
	data = (double)c.total[IOLENS_SC_DATA] / ops;
	queue = (double)c.total[IOLENS_SC_QUEUE] / ops;
	ready = (double)c.total[IOLENS_SC_READINESS] / ops;
	d_name = top_name(&c, IOLENS_SC_DATA, "data call");
	q_name = top_name(&c, IOLENS_SC_QUEUE, "submit call");
	r_name = top_name(&c, IOLENS_SC_READINESS, "readiness call");
	sub = m->vcsw_per_op_submit = (double)in->vcsw_submit / ops;
	wait = m->vcsw_per_op_wait = (double)in->vcsw_wait / ops;
	m->io_per_op = (double)io / ops;
	m->sync_share = in->lat_ns ? clamp01((double)in->sync_ns / (double)in->lat_ns) : NAN;
	m->wait_sleep_share = in->reaps ? (double)in->reaps_slept / (double)in->reaps : NAN;
	m->offload_share = in->have_io_own && io
				   ? (double)(io - (in->io_own < io ? in->io_own : io)) / (double)io
				   : NAN;
	m->offload_cpu_share = in->cpu_all > 0 && !isnan(in->cpu_jobs)
				       ? clamp01((in->cpu_all - in->cpu_jobs) / in->cpu_all)
				       : NAN;

	if (sc->io_uring && sc->iou_submitted)
		snprintf(note, sizeof(note), "; io_uring punted %.0f%% of requests to io-wq",
			 (double)sc->iou_punted * 100 / (double)sc->iou_submitted);
	if (!io && !(sc->io_uring && sc->iou_submitted)) {
		set(m, IOLENS_MODEL_NO_IO);
		snprintf(m->why, sizeof(m->why), "no I/O syscall in %llu ops",
			 (unsigned long long)sc->ops);
	} else if (!isnan(m->offload_share) && m->offload_share >= IOLENS_MODEL_MAJORITY) {
		set(m, IOLENS_MODEL_ASYNC_THREADS);
		snprintf(m->why, sizeof(m->why),
			 "%.0f%% of the I/O calls (%s %.2f/op) came from threads other than the submitting one; futex %.2f/op",
			 m->offload_share * 100, d_name, per_name(sc, d_name, ops),
			 per_name(sc, "futex", ops));
	} else if (data >= IOLENS_MODEL_MAJORITY && ready > 0 && checks &&
		   (double)in->ready_waits >= (double)checks * IOLENS_MODEL_SOME) {
		set(m, IOLENS_MODEL_SYNC_READINESS);
		snprintf(m->why, sizeof(m->why),
			 "%s had to wait in %.0f%% of readiness checks (%.2f/op, %.2f switches/op in wait), then the submitting thread's own %s moved the data (%.2f/op)",
			 r_name, (double)in->ready_waits * 100 / (double)checks, ready, wait, d_name,
			 per_name(sc, d_name, ops));
	} else if (data >= IOLENS_MODEL_MAJORITY) {
		set(m, IOLENS_MODEL_SYNC_BLOCKING);
		if (ready > 0)
			snprintf(m->why, sizeof(m->why),
				 "%s found the descriptor ready at once in %.0f%% of checks (%.2f/op): the submitting thread's own %s did the I/O as a plain call (%.2f/op, %.2f switches/op)",
				 r_name, checks ? (double)in->ready_now * 100 / (double)checks : 0.0, ready,
				 d_name, per_name(sc, d_name, ops), sub + wait);
		else if (in->completed &&
			 (double)in->fallbacks >= (double)in->completed * IOLENS_MODEL_MAJORITY)
			snprintf(m->why, sizeof(m->why),
				 "the readiness API refused the descriptor for %.0f%% of ops: the submitting thread's own %s did the I/O as a plain call (%.2f/op, %.2f switches/op)",
				 (double)in->fallbacks * 100 / (double)in->completed, d_name,
				 per_name(sc, d_name, ops),
				 sub + wait);
		else
			snprintf(m->why, sizeof(m->why),
				 "the submitting thread's own %s did the I/O (%.2f/op); the submit call held each op for %.0f%% of its latency, %.2f switches/op there",
				 d_name, per_name(sc, d_name, ops), m->sync_share * 100, sub);
	} else if (!isnan(m->sync_share) && m->sync_share >= IOLENS_MODEL_MAJORITY &&
		   !(m->wait_sleep_share >= IOLENS_MODEL_SOME)) {
		set(m, IOLENS_MODEL_SYNC_BLOCKING);
		snprintf(m->why, sizeof(m->why),
			 "%s (%.2f/op) held each op for %.0f%% of its latency and the waits never had to sleep: the I/O was done inside the call that submitted it (%.2f switches/op there)%s",
			 q_name, queue, m->sync_share * 100, sub, note);
	} else {
		set(m, IOLENS_MODEL_ASYNC_KERNEL);
		snprintf(m->why, sizeof(m->why),
			 "the submit call took %.0f%% of each op's latency and %.0f%% of the waits slept for the kernel to complete it (%s %.2f/op; %.2f switches/op in wait, %.2f in submit)",
			 isnan(m->sync_share) ? 0.0 : m->sync_share * 100,
			 isnan(m->wait_sleep_share) ? 0.0 : m->wait_sleep_share * 100, q_name, queue,
			 wait, sub);
	}
	m->mismatch = in->declared && strcmp(in->declared, m->measured) != 0;
}
