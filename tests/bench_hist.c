/*
 * What recording one latency sample costs: iolens_hist_add() through the
 * library, and the runner's whole per-completion record (a clock read, the
 * histogram, the op and byte counters). A benchmark, not a test: built with
 * the tests but not run by ctest, because it measures speed.
 *
 *   bench_hist [--samples N] [--repeats R]
 *
 * The samples are drawn before any timing starts (log-normal around 50 us,
 * clamped to 1 us .. 10 ms, a fixed seed), so the generator is not timed.
 * Each repeat times one pass over all of them; the lines printed are
 * "name median min max" in nanoseconds per sample over the repeats:
 * hist_add (the library call), record (clock read + histogram + counters,
 * one op per reaped batch), record_b32 (the same, 32 ops per reaped batch:
 * one clock read per batch, as the runner does) and clock (the read alone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "job.h"

#define LO_NS 1000.0
#define HI_NS 10000000.0

static double uniform01(uint64_t *s)
{
	return ((double)(next_rand(s) >> 11) + 0.5) * 0x1p-53;
}

/* Log-normal: median 50 us, sigma 1.5 in ln, clamped to [1 us, 10 ms]. */
static void draw(uint64_t *v, size_t n)
{
	uint64_t seed = 42;

	for (size_t i = 0; i < n; i++) {
		double z = sqrt(-2 * log(uniform01(&seed))) * cos(2 * M_PI * uniform01(&seed));
		double x = exp(log(50000.0) + 1.5 * z);

		v[i] = (uint64_t)(x < LO_NS ? LO_NS : x > HI_NS ? HI_NS : x);
	}
}

/* What the runner keeps per job for a completion, reduced to the recording. */
struct rec_job {
	struct iolens_hist *hist;
	uint64_t ops, bytes;
};

static double pass_hist_add(struct iolens_hist *h, const uint64_t *v, size_t n)
{
	uint64_t t0 = now_ns();

	for (size_t i = 0; i < n; i++)
		iolens_hist_add(h, v[i]);
	return (double)(now_ns() - t0) / (double)n;
}

/*
 * One completion as the runner records it with one op per reaped batch: a
 * clock read, the latency into the histogram, the counters. The submit
 * time is made up from the sample so the latency has the drawn spread.
 */
static double pass_record(struct rec_job *j, const uint64_t *v, size_t n)
{
	uint64_t t0 = now_ns();

	for (size_t i = 0; i < n; i++) {
		uint64_t now = now_ns();

		iolens__hist_record(j->hist, v[i] + (now & 0xff));
		j->ops++;
		j->bytes += 4096;
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* The same with 32 ops per reaped batch: the runner reads the clock once per batch. */
static double pass_record_batch(struct rec_job *j, const uint64_t *v, size_t n)
{
	uint64_t t0 = now_ns(), now = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 32 == 0)
			now = now_ns();
		iolens__hist_record(j->hist, v[i] + (now & 0xff));
		j->ops++;
		j->bytes += 4096;
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* The clock read alone, for the breakdown. */
static double pass_clock(const uint64_t *v, size_t n, uint64_t *sink)
{
	uint64_t t0 = now_ns(), acc = 0;

	for (size_t i = 0; i < n; i++)
		acc += now_ns() ^ v[i];
	*sink += acc;
	return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *name, double *t, unsigned r)
{
	qsort(t, r, sizeof(*t), cmp_double);
	printf("%-12s %8.2f %8.2f %8.2f\n", name, r % 2 ? t[r / 2] : (t[r / 2 - 1] + t[r / 2]) / 2,
	       t[0], t[r - 1]);
}

static int parse(const char *opt, const char *s, unsigned long lo, unsigned long hi,
		 unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s ? s : "", &end, 10);
	if (!s || errno || end == s || *end || *out < lo || *out > hi) {
		fprintf(stderr, "bench_hist: %s accepts %lu to %lu\n", opt, lo, hi);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 4000000, r = 7;
	struct rec_job j = { 0 };
	struct iolens_hist *h;
	double *t[4];
	uint64_t *v, sink = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--samples")) {
			if (parse("--samples", i + 1 < argc ? argv[++i] : NULL, 1000, 1000000000,
				  &n))
				return 2;
		} else if (!strcmp(argv[i], "--repeats")) {
			if (parse("--repeats", i + 1 < argc ? argv[++i] : NULL, 1, 1000, &r))
				return 2;
		} else {
			fprintf(stderr, "bench_hist: unknown option '%s' (accepts --samples N, --repeats R)\n",
				argv[i]);
			return 2;
		}
	}
	v = malloc(n * sizeof(*v));
	h = iolens_hist_new();
	j.hist = iolens_hist_new();
	for (unsigned k = 0; k < 4; k++)
		t[k] = calloc(r, sizeof(double));
	if (!v || !h || !j.hist || !t[0] || !t[1] || !t[2] || !t[3]) {
		fprintf(stderr, "bench_hist: out of memory\n");
		return 1;
	}
	draw(v, n);
	/* One untimed pass each: page in the histograms, warm the caches. */
	pass_hist_add(h, v, n);
	pass_record(&j, v, n);
	for (unsigned i = 0; i < r; i++) {
		t[0][i] = pass_hist_add(h, v, n);
		t[1][i] = pass_record(&j, v, n);
		t[2][i] = pass_record_batch(&j, v, n);
		t[3][i] = pass_clock(v, n, &sink);
	}
	printf("# ns per sample over %lu samples (1 us..10 ms, log-normal), %lu repeats\n", n, r);
	printf("# name        median      min      max\n");
	report("hist_add", t[0], (unsigned)r);
	report("record", t[1], (unsigned)r);
	report("record_b32", t[2], (unsigned)r);
	report("clock", t[3], (unsigned)r);
	printf("# p50 of the samples %llu ns, checksum %llu\n",
	       (unsigned long long)iolens_hist_percentile(h, 50),
	       (unsigned long long)(sink + j.ops + j.bytes) % 1000);
	iolens_hist_free(h);
	iolens_hist_free(j.hist);
	for (unsigned k = 0; k < 4; k++)
		free(t[k]);
	free(v);
	return 0;
}
