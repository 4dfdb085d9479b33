/*
 * The latency histogram against percentiles computed exactly by sorting.
 *
 * The exact percentile p of n samples is the sample of 1-based rank
 * ceil(p/100 * n) in sorted order; the histogram must be within its stated
 * relative error (1/256, plus 1 ns of integer rounding) of it, and well
 * inside the 1% the design promises. Count, min and max must be exact, the
 * mean exact to floating rounding, a merge must equal the histogram of all
 * samples bucket for bucket, and the edges (empty, one value, huge values)
 * must behave.
 *
 * One piece, ~680 lines, because it is the suite of one unit, its cases
 * sharing the exact-percentile oracle.
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Percentiles in hundredths of a percent, so exact ranks need no floating point. */
static const unsigned pct_hundredths[] = { 100, 5000, 9000, 9900, 9990, 9999 };

/* The design's promise: every reported percentile within 1%. */
#define STATED_BOUND 0.01

/* ---------------------------------------------------------------------------
 * A seeded generator (xoshiro256**, seeded through splitmix64).
 */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [lo, hi], inclusive. */
static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rng_next(r) % (hi - lo + 1);
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double rng_open01(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(struct rng *r)
{
	return sqrt(-2.0 * log(rng_open01(r))) * cos(2.0 * M_PI * rng_open01(r));
}

static uint64_t to_ns(double x)
{
	if (x < 0)
		return 0;
	if (x > 1e18)
		return (uint64_t)1e18;
	return (uint64_t)x;
}

/* ---------------------------------------------------------------------------
 * Distributions.
 */
enum dist {
	D_UNIFORM_WIDE, /* 1 ns .. 10 s, uniform */
	D_EXPONENTIAL,  /* mean 100 µs */
	D_LOGNORMAL,    /* median 50 µs, heavy right tail */
	D_BIMODAL,      /* ~1 µs (cache hit) and ~10 ms (device) */
	D_TINY,         /* mostly below 128 ns: the exact buckets */
	D_PARETO,       /* very heavy tail: p99.99 far from p50 */
	D__COUNT
};

static const char *const dist_names[D__COUNT] = {
	"uniform 1ns..10s", "exponential", "log-normal", "bimodal 1us/10ms", "tiny", "pareto",
};

static uint64_t draw(struct rng *r, enum dist d)
{
	switch (d) {
	case D_UNIFORM_WIDE:
		return rng_range(r, 1, 10000000000ULL);
	case D_EXPONENTIAL:
		return to_ns(-log(rng_open01(r)) * 100000.0);
	case D_LOGNORMAL:
		return to_ns(exp(log(50000.0) + 1.5 * rng_normal(r)));
	case D_BIMODAL:
		if (rng_next(r) % 100 < 70)
			return to_ns(1000.0 + 60.0 * rng_normal(r));
		return to_ns(10000000.0 + 500000.0 * rng_normal(r));
	case D_TINY:
		if (rng_next(r) % 100 < 90)
			return rng_range(r, 0, 127);
		return rng_range(r, 128, 5000);
	case D_PARETO:
		return to_ns(2000.0 / pow(rng_open01(r), 1.0 / 1.2));
	default:
		return 0;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * What a test allocates is released by the teardown, so a failing assertion
 * (which leaves the test function at once) leaks nothing.
 */
#define MAX_OWNED 64
static void *owned_mem[MAX_OWNED];
static struct iolens_hist *owned_hist[MAX_OWNED];

static void *own(void *p)
{
	assert_non_null(p);
	for (int i = 0; i < MAX_OWNED; i++) {
		if (!owned_mem[i]) {
			owned_mem[i] = p;
			return p;
		}
	}
	free(p);
	fail_msg("a test owns too many allocations");
	return NULL;
}

static struct iolens_hist *own_hist(struct iolens_hist *h)
{
	assert_non_null(h);
	for (int i = 0; i < MAX_OWNED; i++) {
		if (!owned_hist[i]) {
			owned_hist[i] = h;
			return h;
		}
	}
	iolens_hist_free(h);
	fail_msg("a test owns too many histograms");
	return NULL;
}

static struct iolens_hist *new_hist(void)
{
	return own_hist(iolens_hist_new());
}

static int release_owned(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_OWNED; i++) {
		free(owned_mem[i]);
		owned_mem[i] = NULL;
		iolens_hist_free(owned_hist[i]);
		owned_hist[i] = NULL;
	}
	return 0;
}

/* The sample of rank ceil(hundredths/10000 * n), computed in integers. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, unsigned hundredths)
{
	uint64_t rank = ((uint64_t)hundredths * n + 9999) / 10000;

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

static struct iolens_hist *hist_of(const uint64_t *v, size_t n)
{
	struct iolens_hist *h = new_hist();

	for (size_t i = 0; i < n; i++)
		iolens_hist_add(h, v[i]);
	return h;
}

/*
 * Check every percentile of h against the exact one of the sorted samples,
 * printing each miss. Returns the number of misses; *worst is raised to the
 * largest relative error seen on values of 1 µs and more.
 */
static unsigned check_percentiles(const char *what, const struct iolens_hist *h,
				  const uint64_t *sorted, size_t n, double *worst)
{
	unsigned misses = 0;

	for (size_t i = 0; i < ARRAY_LEN(pct_hundredths); i++) {
		double p = pct_hundredths[i] / 100.0;
		uint64_t want = exact_percentile(sorted, n, pct_hundredths[i]);
		uint64_t got = iolens_hist_percentile(h, p);
		double err = fabs((double)got - (double)want);
		double rel = want ? err / (double)want : err;

		if (err > (double)want * IOLENS_HIST_REL_ERROR + 1.0) {
			int over = err > (double)want * STATED_BOUND + 1.0;

			print_error("%s, n=%zu, p%g: histogram says %llu, exact is %llu: "
				    "error %.4f%% > 1/256%s\n", what, n, p, (unsigned long long)got,
				    (unsigned long long)want, 100.0 * rel,
				    over ? ", and > the stated 1%" : "");
			misses++;
		}
		if (want >= 1000 && rel > *worst)
			*worst = rel;
	}
	return misses;
}

static void check_summary(const char *what, const struct iolens_hist *h, const uint64_t *sorted,
			  size_t n)
{
	struct iolens_latency lat;
	uint64_t sum = 0;
	double mean;

	for (size_t i = 0; i < n; i++)
		sum += sorted[i];
	mean = (double)sum / (double)n;
	iolens__hist_summary(h, &lat);
	assert_int_equal(iolens_hist_count(h), n);
	if (lat.min != sorted[0] || lat.max != sorted[n - 1])
		fail_msg("%s: min/max %llu/%llu, exact %llu/%llu", what,
			 (unsigned long long)lat.min, (unsigned long long)lat.max,
			 (unsigned long long)sorted[0], (unsigned long long)sorted[n - 1]);
	if (fabs(lat.mean - mean) > mean * 1e-12 + 1e-9)
		fail_msg("%s: mean %.6f, exact %.6f", what, lat.mean, mean);
	/* The summary's percentiles are the histogram's own. */
	assert_int_equal(lat.p50, iolens_hist_percentile(h, 50));
	assert_int_equal(lat.p90, iolens_hist_percentile(h, 90));
	assert_int_equal(lat.p99, iolens_hist_percentile(h, 99));
	assert_int_equal(lat.p99_9, iolens_hist_percentile(h, 99.9));
	assert_int_equal(lat.p99_99, iolens_hist_percentile(h, 99.99));
	assert_int_equal(iolens_hist_percentile(h, 100), sorted[n - 1]);
}

/* ---------------------------------------------------------------------------
 * Accuracy against exact percentiles.
 */
static unsigned accuracy_one(enum dist d, size_t n, uint64_t seed, double *worst)
{
	uint64_t *v = own(malloc(n * sizeof(*v)));
	struct iolens_hist *h;
	unsigned misses;
	struct rng r;

	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		v[i] = draw(&r, d);
	h = hist_of(v, n);
	qsort(v, n, sizeof(*v), cmp_u64);
	misses = check_percentiles(dist_names[d], h, v, n, worst);
	check_summary(dist_names[d], h, v, n);
	return misses;
}

static void accuracy_against_exact(void **state)
{
	double worst = 0;
	unsigned misses = 0;

	(void)state;
	for (int d = 0; d < D__COUNT; d++) {
		/* A round and an odd sample count: ranks fall on and between integers. */
		misses += accuracy_one((enum dist)d, 200000, 1000 + (uint64_t)d, &worst);
		misses += accuracy_one((enum dist)d, 123457, 2000 + (uint64_t)d, &worst);
	}
	print_message("worst relative error at or above 1 us: %.4f%% (bound %.4f%%)\n",
		      100 * worst, 100 * IOLENS_HIST_REL_ERROR);
	if (misses)
		fail_msg("%u percentiles outside the histogram's error bound", misses);
	/* Comfortably inside the stated bound, not just at its edge. */
	assert_true(worst <= STATED_BOUND / 2);
}

/*
 * The rank itself, isolated: samples 2% apart each sit in a bucket of their
 * own, so a percentile taken from the neighbouring rank is off by ~2% and
 * cannot hide inside the bucket error. Every sample count from 1 to 1000,
 * including those where p/100 * n is a whole number (n a multiple of 1000
 * for p99.9), where the ceiling must not step up to the next rank.
 */
static void percentile_rank_exact(void **state)
{
	enum { MAXN = 1000 };
	uint64_t v[MAXN];
	struct iolens_hist *h = new_hist();
	unsigned misses = 0;

	(void)state;
	for (size_t i = 0; i < MAXN; i++)
		v[i] = (uint64_t)(1000.0 * pow(1.02, (double)i));
	for (size_t n = 1; n <= MAXN; n++) {
		iolens_hist_add(h, v[n - 1]);
		for (size_t i = 0; i < ARRAY_LEN(pct_hundredths); i++) {
			uint64_t rank = ((uint64_t)pct_hundredths[i] * n + 9999) / 10000;
			uint64_t want = v[rank - 1];
			uint64_t got = iolens_hist_percentile(h, pct_hundredths[i] / 100.0);
			size_t used = 0;

			if (fabs((double)got - (double)want) <= (double)want * IOLENS_HIST_REL_ERROR + 1)
				continue;
			/* Which rank did the histogram report? */
			while (used < n && fabs((double)got - (double)v[used]) >
						   (double)v[used] * IOLENS_HIST_REL_ERROR + 1)
				used++;
			if (misses++ < 5)
				print_error("n=%zu p%g: histogram says %llu, the sample of rank %llu "
					    "is %llu; it reported the bucket of rank %zu\n", n,
					    pct_hundredths[i] / 100.0, (unsigned long long)got,
					    (unsigned long long)rank, (unsigned long long)want, used + 1);
		}
	}
	if (misses)
		fail_msg("%u of %u (n, p) pairs report the wrong rank", misses,
			 (unsigned)(MAXN * ARRAY_LEN(pct_hundredths)));
}

/*
 * The rank at larger counts, from both sides: with r = ceil(p/100 * n)
 * copies of a small value A and the rest a far larger B, percentile p is A;
 * with r - 1 copies of A it is B. Counts where p/100 * n is whole (round
 * numbers) and where it is not.
 */
static void percentile_rank_large_counts(void **state)
{
	static const uint64_t counts[] = { 10000, 100000, 1000000, 123457, 999999, 1000001 };
	const uint64_t a = 1000, b = 1000000;
	struct iolens_hist *h = new_hist();
	unsigned misses = 0;

	(void)state;
	for (size_t c = 0; c < ARRAY_LEN(counts); c++) {
		uint64_t n = counts[c];

		for (size_t i = 0; i < ARRAY_LEN(pct_hundredths); i++) {
			uint64_t r = (pct_hundredths[i] * n + 9999) / 10000;
			double p = pct_hundredths[i] / 100.0;

			for (int below = 0; below <= 1; below++) {
				uint64_t na = r - (uint64_t)below, want = below ? b : a, got;

				iolens__hist_reset(h);
				for (uint64_t k = 0; k < n; k++)
					iolens_hist_add(h, k < na ? a : b);
				got = iolens_hist_percentile(h, p);
				if (fabs((double)got - (double)want) <=
				    (double)want * IOLENS_HIST_REL_ERROR + 1)
					continue;
				print_error("n=%llu p%g with %llu samples of %llu below %llu: "
					    "histogram says %llu, expected %llu\n",
					    (unsigned long long)n, p, (unsigned long long)na,
					    (unsigned long long)a, (unsigned long long)b,
					    (unsigned long long)got, (unsigned long long)want);
				misses++;
			}
		}
	}
	if (misses)
		fail_msg("%u (n, p) cases report the wrong rank", misses);
}

/* Percentiles never decrease as p grows. */
static void percentile_monotonic(void **state)
{
	struct iolens_hist *h = new_hist();
	struct rng r;
	uint64_t prev = 0;

	(void)state;
	rng_seed(&r, 77);
	for (int i = 0; i < 100000; i++)
		iolens_hist_add(h, draw(&r, (enum dist)(i % D__COUNT)));
	for (double p = 0.01; p <= 100.0; p += 0.01) {
		uint64_t v = iolens_hist_percentile(h, p);

		if (v < prev)
			fail_msg("percentile(%g) = %llu < percentile just below = %llu", p,
				 (unsigned long long)v, (unsigned long long)prev);
		prev = v;
	}
}

/* ---------------------------------------------------------------------------
 * Merge.
 */
static void assert_hist_equal(const struct iolens_hist *a, const struct iolens_hist *b)
{
	uint64_t alo, ahi, acount, blo, bhi, bcount;
	size_t ac = 0, bc = 0;
	unsigned nb = 0;

	assert_int_equal(iolens_hist_count(a), iolens_hist_count(b));
	assert_int_equal(a->sum, b->sum);
	assert_int_equal(a->min, b->min);
	assert_int_equal(a->max, b->max);
	for (;;) {
		int more_a = iolens_hist_next_bucket(a, &ac, &alo, &ahi, &acount);
		int more_b = iolens_hist_next_bucket(b, &bc, &blo, &bhi, &bcount);

		if (more_a != more_b)
			fail_msg("bucket walks end at different places (after %u buckets)", nb);
		if (!more_a)
			break;
		if (alo != blo || ahi != bhi || acount != bcount)
			fail_msg("bucket %u: [%llu, %llu] x%llu vs [%llu, %llu] x%llu", nb,
				 (unsigned long long)alo, (unsigned long long)ahi,
				 (unsigned long long)acount, (unsigned long long)blo,
				 (unsigned long long)bhi, (unsigned long long)bcount);
		nb++;
	}
	assert_true(nb > 0 || iolens_hist_count(a) == 0);
	for (size_t i = 0; i < ARRAY_LEN(pct_hundredths); i++) {
		double p = pct_hundredths[i] / 100.0;

		assert_int_equal(iolens_hist_percentile(a, p), iolens_hist_percentile(b, p));
	}
}

static void merge_equals_whole(void **state)
{
	enum { N = 150000, PARTS = 5 };
	/* Uneven shares, and one part that stays empty. */
	static const unsigned share[PARTS] = { 50, 30, 0, 15, 5 };
	struct iolens_hist *all, *part[PARTS], *merged, *into_part;
	double worst = 0;
	uint64_t *v = own(malloc(N * sizeof(*v)));
	struct rng r;

	(void)state;
	rng_seed(&r, 4242);
	for (int k = 0; k < PARTS; k++)
		part[k] = new_hist();
	for (size_t i = 0; i < N; i++) {
		unsigned pick = (unsigned)(rng_next(&r) % 100), k = 0, acc = share[0];

		v[i] = draw(&r, (enum dist)(i % D__COUNT));
		while (pick >= acc)
			acc += share[++k];
		iolens_hist_add(part[k], v[i]);
	}
	assert_int_equal(iolens_hist_count(part[2]), 0);
	all = hist_of(v, N);

	/* Into a fresh histogram. */
	merged = new_hist();
	for (int k = 0; k < PARTS; k++)
		iolens_hist_merge(merged, part[k]);
	assert_hist_equal(merged, all);

	/* Into one of the parts, in another order. */
	into_part = part[3];
	for (int k = PARTS - 1; k >= 0; k--)
		if (part[k] != into_part)
			iolens_hist_merge(into_part, part[k]);
	assert_hist_equal(into_part, all);

	/* Merging an empty histogram changes nothing. */
	iolens_hist_merge(merged, part[2]);
	assert_hist_equal(merged, all);

	qsort(v, N, sizeof(*v), cmp_u64);
	assert_int_equal(check_percentiles("merged", merged, v, N, &worst), 0);
	check_summary("merged", merged, v, N);
}

/* ---------------------------------------------------------------------------
 * Edges.
 */
static void empty_histogram(void **state)
{
	struct iolens_hist *h = new_hist(), *other = new_hist();
	struct iolens_latency lat;
	uint64_t lo = 1, hi = 1, count = 1;
	size_t cur = 0;

	(void)state;
	assert_int_equal(iolens_hist_count(h), 0);
	for (size_t i = 0; i < ARRAY_LEN(pct_hundredths); i++)
		assert_int_equal(iolens_hist_percentile(h, pct_hundredths[i] / 100.0), 0);
	assert_int_equal(iolens_hist_percentile(h, 100), 0);
	assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 0);
	/* A finished walk stays finished. */
	assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 0);
	memset(&lat, 0xa5, sizeof(lat));
	iolens__hist_summary(h, &lat);
	assert_int_equal(lat.min, 0);
	assert_int_equal(lat.max, 0);
	assert_int_equal(lat.p50, 0);
	assert_int_equal(lat.p99_99, 0);
	assert_true(lat.mean == 0.0);
	/* Empty into empty is still empty (min must not leak out as UINT64_MAX). */
	iolens_hist_merge(h, other);
	iolens__hist_summary(h, &lat);
	assert_int_equal(iolens_hist_count(h), 0);
	assert_int_equal(lat.min, 0);
}

static void single_value_is_every_percentile(void **state)
{
	static const uint64_t values[] = {
		0, 1, 127, 128, 129, 255, 256, 1000, 4097, 123456789, 10000000000ULL,
		(UINT64_MAX / 2) - 12345, UINT64_MAX / 2, UINT64_MAX,
	};
	static const double ps[] = { 0.001, 1, 25, 50, 90, 99, 99.9, 99.99, 100 };
	struct iolens_hist *h = new_hist();
	struct iolens_latency lat;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		uint64_t lo, hi, count;
		size_t cur = 0;

		iolens__hist_reset(h);
		iolens_hist_add(h, values[i]);
		for (size_t k = 0; k < ARRAY_LEN(ps); k++)
			if (iolens_hist_percentile(h, ps[k]) != values[i])
				fail_msg("one value %llu: percentile(%g) = %llu",
					 (unsigned long long)values[i], ps[k],
					 (unsigned long long)iolens_hist_percentile(h, ps[k]));
		iolens__hist_summary(h, &lat);
		assert_int_equal(lat.min, values[i]);
		assert_int_equal(lat.max, values[i]);
		assert_true(lat.mean == (double)values[i]);
		/* Exactly one bucket, and it holds the value. */
		assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 1);
		assert_true(lo <= values[i] && values[i] <= hi);
		assert_int_equal(count, 1);
		assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 0);
	}
}

/*
 * Values near UINT64_MAX / 2 land in the right buckets and within the bound.
 * Few enough of them that the running sum cannot wrap (3 of them would).
 */
static void very_large_values(void **state)
{
	enum { N = 2 };
	uint64_t v[N] = { UINT64_MAX / 2 - 1000000007ULL, UINT64_MAX / 2 };
	struct iolens_hist *h = hist_of(v, N);
	uint64_t big[1000];
	double worst = 0;
	struct rng r;

	(void)state;
	assert_int_equal(check_percentiles("two huge", h, v, N, &worst), 0);
	check_summary("two huge", h, v, N);

	/* Many huge values spread over the top octaves: percentiles only (the sum wraps). */
	rng_seed(&r, 9);
	for (size_t i = 0; i < ARRAY_LEN(big); i++)
		big[i] = rng_range(&r, UINT64_MAX / 8, UINT64_MAX / 2);
	h = hist_of(big, ARRAY_LEN(big));
	qsort(big, ARRAY_LEN(big), sizeof(big[0]), cmp_u64);
	assert_int_equal(check_percentiles("huge spread", h, big, ARRAY_LEN(big), &worst), 0);
	assert_int_equal(iolens_hist_count(h), ARRAY_LEN(big));
	assert_int_equal(iolens_hist_percentile(h, 100), big[ARRAY_LEN(big) - 1]);
}

/*
 * The bucket walk: increasing, non-overlapping buckets with lo <= hi, each no
 * wider than the error bound allows, counts summing to the total, and each
 * bucket's count equal to the number of samples that fall inside it.
 */
/*
 * Counts indexed by the walk's cursor, added back at each bucket's midpoint,
 * rebuild the same buckets: what iolens-mpi sums over ranks.
 */
static void rebuild_from_indexed_counts(void **state)
{
	enum { N = 50000 };
	uint64_t *v = own(malloc(N * sizeof(*v)));
	uint64_t *counts = own(calloc(IOLENS_HIST_NBUCKETS, sizeof(*counts)));
	struct iolens_hist *h, *back = own(iolens_hist_new());
	uint64_t lo, hi, count;
	size_t cur = 0;
	struct rng r;

	(void)state;
	rng_seed(&r, 4242);
	for (size_t i = 0; i < N; i++)
		v[i] = draw(&r, (enum dist)(i % D__COUNT));
	h = hist_of(v, N);
	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		assert_true(cur >= 1 && cur <= IOLENS_HIST_NBUCKETS);
		assert_int_equal(counts[cur - 1], 0);
		counts[cur - 1] = count;
		iolens_hist_add_n(back, lo + (hi - lo) / 2, count);
	}
	iolens_hist_add_n(back, 12345, 0);
	assert_int_equal(iolens_hist_count(back), N);
	for (unsigned i = 0; i < IOLENS_HIST_NBUCKETS; i++)
		assert_int_equal(back->bucket[i], counts[i]);
	assert_memory_equal(back->bucket, h->bucket, sizeof(h->bucket));
	assert_int_equal(iolens_hist_percentile(back, 50), iolens_hist_percentile(h, 50));
}

static void bucket_walk(void **state)
{
	enum { N = 100000 };
	uint64_t *v = own(malloc(N * sizeof(*v)));
	struct iolens_hist *h;
	uint64_t lo, hi, count, prev_hi = 0, total = 0;
	size_t cur = 0, at = 0;
	unsigned nb = 0;
	struct rng r;

	(void)state;
	rng_seed(&r, 31337);
	for (size_t i = 0; i < N; i++)
		v[i] = draw(&r, (enum dist)(i % D__COUNT));
	v[0] = 0;
	v[1] = UINT64_MAX;
	h = hist_of(v, N);
	qsort(v, N, sizeof(*v), cmp_u64);
	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		size_t inside = 0;

		if (lo > hi)
			fail_msg("bucket %u: lo %llu > hi %llu", nb, (unsigned long long)lo,
				 (unsigned long long)hi);
		if (nb && lo <= prev_hi)
			fail_msg("bucket %u starts at %llu, not after the previous end %llu", nb,
				 (unsigned long long)lo, (unsigned long long)prev_hi);
		/* Width at most 1/128 of lo: midpoint within 1/256 of anything inside. */
		if ((double)(hi - lo) > (double)lo / IOLENS_HIST_SUB)
			fail_msg("bucket [%llu, %llu] is too wide for the stated error",
				 (unsigned long long)lo, (unsigned long long)hi);
		assert_true(count > 0);
		/* Samples below this bucket must all have been counted by earlier ones. */
		if (at < N && v[at] < lo)
			fail_msg("sample %llu falls in no bucket", (unsigned long long)v[at]);
		while (at < N && v[at] <= hi) {
			inside++;
			at++;
		}
		if (inside != count)
			fail_msg("bucket [%llu, %llu] counts %llu, %zu samples fall in it",
				 (unsigned long long)lo, (unsigned long long)hi,
				 (unsigned long long)count, inside);
		total += count;
		prev_hi = hi;
		nb++;
	}
	assert_int_equal(at, N);
	assert_int_equal(total, iolens_hist_count(h));
	assert_int_equal(prev_hi, UINT64_MAX);
	assert_int_equal(iolens_hist_next_bucket(h, &cur, &lo, &hi, &count), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(accuracy_against_exact, release_owned),
		cmocka_unit_test_teardown(percentile_rank_exact, release_owned),
		cmocka_unit_test_teardown(percentile_rank_large_counts, release_owned),
		cmocka_unit_test_teardown(percentile_monotonic, release_owned),
		cmocka_unit_test_teardown(merge_equals_whole, release_owned),
		cmocka_unit_test_teardown(empty_histogram, release_owned),
		cmocka_unit_test_teardown(single_value_is_every_percentile, release_owned),
		cmocka_unit_test_teardown(very_large_values, release_owned),
		cmocka_unit_test_teardown(bucket_walk, release_owned),
		cmocka_unit_test_teardown(rebuild_from_indexed_counts, release_owned),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
