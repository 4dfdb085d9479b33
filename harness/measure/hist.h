/*
 * Log-linear latency histogram. Values below 2^SUB_BITS nanoseconds get a
 * bucket each; above, each power of two is split into 2^SUB_BITS equal
 * buckets, so a bucket is at most 1/128 of its lower bound wide and its
 * midpoint is within 1/256 of any value in it. Fixed size, no allocation
 * after creation, mergeable by adding counts.
 */
#ifndef IOLENS_HIST_H
#define IOLENS_HIST_H

#include <stdint.h>

#include "iolens/iolens.h"

#define IOLENS_HIST_SUB_BITS 7
#define IOLENS_HIST_SUB (1u << IOLENS_HIST_SUB_BITS)
#define IOLENS_HIST_BUCKETS (IOLENS_HIST_SUB + (64 - IOLENS_HIST_SUB_BITS) * IOLENS_HIST_SUB)
#define IOLENS_HIST_REL_ERROR (1.0 / (2 * IOLENS_HIST_SUB))

struct iolens_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[IOLENS_HIST_BUCKETS];
};

void iolens__hist_reset(struct iolens_hist *h);

static inline unsigned iolens__hist_index(uint64_t v)
{
	unsigned k, shift;

	if (v < IOLENS_HIST_SUB)
		return (unsigned)v;
	k = 63u - (unsigned)__builtin_clzll(v);
	shift = k - IOLENS_HIST_SUB_BITS;
	return IOLENS_HIST_SUB + shift * IOLENS_HIST_SUB +
	       (unsigned)((v >> shift) - IOLENS_HIST_SUB);
}

static inline void iolens__hist_record(struct iolens_hist *h, uint64_t v)
{
	h->bucket[iolens__hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Summary figures of a histogram (all zero if empty). */
void iolens__hist_summary(const struct iolens_hist *h, struct iolens_latency *out);

#endif
