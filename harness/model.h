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
	uint64_t sync_ns;     /* each op's time inside the submit call that took it, summed */
	uint64_t lat_ns;      /* the same ops' latencies, instrumentation removed, summed */
	uint64_t vcsw_submit; /* voluntary switches inside submit calls */
	uint64_t vcsw_wait;   /* ... inside reap calls */
	uint64_t reaps;       /* reap calls */
	uint64_t reaps_slept; /* ... that slept at least once */
	double cpu_all;       /* CPU seconds of every thread but the harness's main one */
	double cpu_jobs;      /* ... of the job threads alone; NaN when unknown */
	/* Backend counters over the whole pass (warm-up and drain too): ratios only. */
	uint64_t completed;   /* ops completed */
	uint64_t fallbacks;   /* ... by a readiness backend as a plain call */
	uint64_t ready_waits; /* readiness checks that had to wait */
	uint64_t ready_now;   /* ... that found work ready at once */
};

/* Thresholds, documented with the model in the README. */
#define IOLENS_MODEL_MAJORITY 0.5 /* offload share, sync share, data calls per op */
#define IOLENS_MODEL_SOME 0.05    /* share of readiness checks that waited, to count */

/* Fill every measured field of m (declared and concurrency are left alone). */
void iolens__model_measure(struct iolens_model *m, const struct iolens__model_in *in);

/* Mark every measured field of m as not measured, for the reason given. */
void iolens__model_unmeasured(struct iolens_model *m, const char *why);

/* Little's law: operations in flight from IOPS and mean latency (ns). */
double iolens__model_concurrency(double iops, double mean_ns);

#endif
