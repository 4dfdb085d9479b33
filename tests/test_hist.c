/*
 * The latency histogram against exactly computed percentiles: several
 * distributions, merging, and the edges. The exact percentile p of n sorted
 * samples is the sample of 1-based rank ceil(p/100 * n).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"

#define N 200000

static const double percentiles[] = { 1, 50, 90, 99, 99.9, 99.99 };

static uint64_t rng_state;

static uint64_t next_u64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform01(void)
{
	return ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
	return sqrt(-2 * log(uniform01())) * cos(2 * M_PI * uniform01());
}

enum dist { UNIFORM, EXPONENTIAL, LOGNORMAL, BIMODAL, TINY, DIST__COUNT };

static uint64_t sample(enum dist d)
{
	switch (d) {
	case UNIFORM:
		return 1000 + next_u64() % 10000000;
	case EXPONENTIAL:
		return (uint64_t)(-log(uniform01()) * 50000.0);
	case LOGNORMAL:
		return (uint64_t)exp(10.0 + 1.5 * normal());
	case BIMODAL:
		return next_u64() % 10 ? 800 + next_u64() % 400 : 9000000 + next_u64() % 2000000;
	default:
		return next_u64() % 127;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t exact(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

static void check_against_exact(uint64_t *v, size_t n, const struct iolens_hist *h)
{
	long double sum = 0;
	struct iolens_latency lat;

	qsort(v, n, sizeof(*v), cmp_u64);
	assert_int_equal(iolens_hist_count(h), n);
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
		double want = (double)exact(v, n, percentiles[i]);
		double got = (double)iolens_hist_percentile(h, percentiles[i]);
		double err = fabs(got - want);

		if (err > want * IOLENS_HIST_REL_ERROR + 1)
			fail_msg("p%g: histogram %.0f, exact %.0f (error %.4f%%)", percentiles[i], got,
				 want, 100 * err / want);
		assert_true(err <= want * 0.01 + 1);
	}
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	iolens__hist_summary(h, &lat);
	assert_int_equal(lat.min, v[0]);
	assert_int_equal(lat.max, v[n - 1]);
	assert_true(fabs(lat.mean - (double)(sum / n)) <= 1e-9 * (double)(sum / n) + 1e-9);
}

static void accuracy(void **state)
{
	uint64_t *v = malloc(N * sizeof(*v));
	struct iolens_hist *h = iolens_hist_new();

	(void)state;
	assert_non_null(v);
	assert_non_null(h);
	for (int d = 0; d < DIST__COUNT; d++) {
		rng_state = 42 + (uint64_t)d;
		iolens__hist_reset(h);
		for (size_t i = 0; i < N; i++) {
			v[i] = sample((enum dist)d);
			iolens_hist_add(h, v[i]);
		}
		check_against_exact(v, N, h);
	}
	free(v);
	iolens_hist_free(h);
}

static void merge(void **state)
{
	struct iolens_hist *all = iolens_hist_new(), *parts[3], *merged = iolens_hist_new();
	uint64_t lo1, hi1, c1, lo2, hi2, c2;
	size_t cur1 = 0, cur2 = 0;
	int more1, more2;

	(void)state;
	rng_state = 7;
	for (int k = 0; k < 3; k++)
		parts[k] = iolens_hist_new();
	for (size_t i = 0; i < N; i++) {
		uint64_t x = sample((enum dist)(i % DIST__COUNT));

		iolens_hist_add(all, x);
		iolens_hist_add(parts[next_u64() % 3], x);
	}
	for (int k = 0; k < 3; k++)
		iolens_hist_merge(merged, parts[k]);
	assert_int_equal(merged->count, all->count);
	assert_int_equal(merged->sum, all->sum);
	assert_int_equal(merged->min, all->min);
	assert_int_equal(merged->max, all->max);
	do {
		more1 = iolens_hist_next_bucket(all, &cur1, &lo1, &hi1, &c1);
		more2 = iolens_hist_next_bucket(merged, &cur2, &lo2, &hi2, &c2);
		assert_int_equal(more1, more2);
		if (more1) {
			assert_int_equal(lo1, lo2);
			assert_int_equal(hi1, hi2);
			assert_int_equal(c1, c2);
		}
	} while (more1);
	for (int k = 0; k < 3; k++)
		iolens_hist_free(parts[k]);
	iolens_hist_free(all);
	iolens_hist_free(merged);
}

static void edges(void **state)
{
	struct iolens_hist *h = iolens_hist_new();
	uint64_t lo, hi, count, prev_hi = 0, total = 0;
	size_t cur = 0;
	int first = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		assert_int_equal(iolens_hist_percentile(h, percentiles[i]), 0);
	assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 0);

	iolens_hist_add(h, 123456789);
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		assert_int_equal(iolens_hist_percentile(h, percentiles[i]), 123456789);
	assert_int_equal(iolens_hist_percentile(h, 100), 123456789);

	iolens__hist_reset(h);
	iolens_hist_add(h, UINT64_MAX / 2);
	iolens_hist_add(h, UINT64_MAX / 2 - 12345);
	assert_true(fabs((double)iolens_hist_percentile(h, 50) - (double)(UINT64_MAX / 2)) <=
		    (double)(UINT64_MAX / 2) * IOLENS_HIST_REL_ERROR);

	iolens__hist_reset(h);
	rng_state = 99;
	for (size_t i = 0; i < 50000; i++)
		iolens_hist_add(h, sample((enum dist)(i % DIST__COUNT)));
	cur = 0;
	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		assert_true(lo <= hi);
		assert_true(count > 0);
		if (!first)
			assert_true(lo > prev_hi);
		/* The bucket is narrow enough for the stated error. */
		assert_true((double)(hi - lo) <= (double)lo / (IOLENS_HIST_SUB - 1) + 1);
		first = 0;
		prev_hi = hi;
		total += count;
	}
	assert_int_equal(total, iolens_hist_count(h));
	iolens_hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accuracy),
		cmocka_unit_test(merge),
		cmocka_unit_test(edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
