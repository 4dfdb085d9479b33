/*
 * The measured I/O model: from the counting pass's figures to one of the
 * IOLENS_MODEL_* names, with a one-line reason built from those figures.
 * Pure arithmetic, so the rules are tested on figures made up to sit on
 * each side of every threshold.
 */
#ifndef IOLENS_MODEL_H
#define IOLENS_MODEL_H

#include <stdint.h>

#include "iolens/iolens.h"

/* What the counting pass measured, summed over its job threads. */
struct iolens__model_in {
	const char *declared;
	const struct iolens_syscalls *sc; /* counted, measured == 1 */
	int have_io_own;      /* the per-thread I/O-call counters opened */
	uint64_t io_own;      /* I/O calls issued by the job threads */
	uint64_t enter_own;   /* ... of which io_uring_enter */
	uint64_t sync_ns;     /* each op's time inside the submit call that took it, summed */
	uint64_t lat_ns;      /* the same ops' latencies, instrumentation removed, summed */
	uint64_t vcsw_submit; /* voluntary switches inside submit calls */
	uint64_t vcsw_wait;   /* ... inside reap calls */
	uint64_t reaps;       /* reap calls */
	uint64_t reaps_slept; /* ... that slept at least once */
	uint64_t reaps_waited;       /* ... that entered a wait (readiness or completion) */
	uint64_t reaps_waited_slept; /* ... and slept */
	uint64_t submits;       /* submit calls */
	uint64_t submits_slept; /* ... that slept at least once */
	double cpu_all;       /* CPU seconds of every thread but the harness's main one */
	double cpu_jobs;      /* ... of the job threads alone; NaN when unknown */
	double resident;      /* buffered disk: page-cache share of the file before the pass; < 0 unknown */
	/* Backend counters over the whole pass (warm-up and drain too): ratios only. */
	uint64_t completed;   /* ops completed */
	uint64_t completed_inline; /* ... inside the submit call */
	uint64_t fallbacks;   /* ... by a readiness backend as a plain call */
	uint64_t ready_waits; /* waits entered (readiness or completion) */
	uint64_t ready_now;   /* readiness checks that found work ready at once */
	uint64_t nowait_tries;  /* data calls made so they could not sleep */
	uint64_t nowait_eagain; /* ... that said EAGAIN */
};

/* Thresholds, documented with the model in docs/model.md. */
#define IOLENS_MODEL_MAJORITY 0.5 /* the sync axis: async share, offload share */
#define IOLENS_MODEL_SOME 0.05    /* the wait axis: blocked share, non-blocking share */

/* The two axes from their coordinates: the only place the regions are decided. */
const char *iolens__model_who(double async_share, double offload_share);
const char *iolens__model_wait(double blocked_share, double nonblock_share);
/* The label of (who, wait); NULL for an unknown pair. */
const char *iolens__model_label(const char *who, const char *wait);

/* Fill every measured field of m (declared and concurrency are left alone). */
void iolens__model_measure(struct iolens_model *m, const struct iolens__model_in *in);

/* Mark every measured field of m as not measured, for the reason given. */
void iolens__model_unmeasured(struct iolens_model *m, const char *why);

/* Little's law: operations in flight from IOPS and mean latency (ns). */
double iolens__model_concurrency(double iops, double mean_ns);

#endif
