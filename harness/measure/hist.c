#include <stdlib.h>
#include <string.h>

#include "hist.h"

_Static_assert(IOLENS_HIST_NBUCKETS == IOLENS_HIST_BUCKETS,
	       "the public bucket count is the histogram's");

static void bucket_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
	unsigned shift;

	if (i < IOLENS_HIST_SUB) {
		*lo = *hi = i;
		return;
	}
	shift = (i - IOLENS_HIST_SUB) / IOLENS_HIST_SUB;
	*lo = ((uint64_t)IOLENS_HIST_SUB + (i % IOLENS_HIST_SUB)) << shift;
	*hi = *lo + ((uint64_t)1 << shift) - 1;
}

void iolens__hist_reset(struct iolens_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

struct iolens_hist *iolens_hist_new(void)
{
	struct iolens_hist *h = malloc(sizeof(*h));

	if (h)
		iolens__hist_reset(h);
	return h;
}

void iolens_hist_free(struct iolens_hist *h)
{
	free(h);
}

void iolens_hist_add(struct iolens_hist *h, uint64_t ns)
{
	iolens__hist_record(h, ns);
}

void iolens_hist_add_n(struct iolens_hist *h, uint64_t ns, uint64_t count)
{
	if (!count)
		return;
	h->bucket[iolens__hist_index(ns)] += count;
	h->count += count;
	h->sum += ns * count;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void iolens_hist_merge(struct iolens_hist *dst, const struct iolens_hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < IOLENS_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t iolens_hist_count(const struct iolens_hist *h)
{
	return h->count;
}

/*
 * The value of rank ceil(p/100 * count) in sorted order, as the midpoint of
 * the bucket holding it, clamped to the exact min and max.
 */
uint64_t iolens_hist_percentile(const struct iolens_hist *h, double p)
{
	uint64_t rank, seen = 0, lo, hi, mid;
	double x;

	if (!h->count || !(p > 0))
		return h->count ? h->min : 0;
	if (p >= 100)
		return h->max;
	/*
	 * ceil(p/100 * count), forgiving the last bits of floating point:
	 * 99.9/100 * 1000 is 999.0000000000001, and its rank is 999.
	 */
	x = p / 100.0 * (double)h->count;
	rank = (uint64_t)x;
	if ((double)rank < x - x * 1e-12)
		rank++;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < IOLENS_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen < rank)
			continue;
		bucket_bounds(i, &lo, &hi);
		mid = lo + (hi - lo) / 2;
		if (mid < h->min)
			mid = h->min;
		if (mid > h->max)
			mid = h->max;
		return mid;
	}
	return h->max;
}

int iolens_hist_next_bucket(const struct iolens_hist *h, size_t *cursor, uint64_t *lo,
			    uint64_t *hi, uint64_t *count)
{
	for (size_t i = *cursor; i < IOLENS_HIST_BUCKETS; i++) {
		if (!h->bucket[i])
			continue;
		bucket_bounds((unsigned)i, lo, hi);
		*count = h->bucket[i];
		*cursor = i + 1;
		return 1;
	}
	*cursor = IOLENS_HIST_BUCKETS;
	return 0;
}

void iolens__hist_summary(const struct iolens_hist *h, struct iolens_latency *out)
{
	memset(out, 0, sizeof(*out));
	if (!h->count)
		return;
	out->min = h->min;
	out->max = h->max;
	out->mean = (double)h->sum / (double)h->count;
	out->p50 = iolens_hist_percentile(h, 50);
	out->p90 = iolens_hist_percentile(h, 90);
	out->p99 = iolens_hist_percentile(h, 99);
	out->p99_9 = iolens_hist_percentile(h, 99.9);
	out->p99_99 = iolens_hist_percentile(h, 99.99);
}
