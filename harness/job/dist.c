/*
 * Where random offsets fall (--distribution, fio's random_distribution):
 * uniform, or skewed so some blocks are hot. Each draw is a block index in
 * [0, n) of the job's region; the hot blocks are the first ones, so a
 * histogram of offsets shows the shape as asked.
 *
 *   zipf:S      block k-1 drawn with weight 1/k^S (S > 0), by rejection-
 *               inversion: no table, any n (Hormann and Derflinger, 1996)
 *   pareto:H    a share H of the draws in the first 1-H of the blocks
 *               (pareto:0.8 is the 80/20 rule), as fio's pareto is
 *   normal:DEV  Gaussian around the middle block, DEV percent of the blocks
 *               one standard deviation; draws outside are drawn again
 *   zoned:A/R:..  A percent of the draws uniform in the next R percent of
 *               the blocks, zone after zone (the A and the R each sum to 100)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

/* log1p(x)/x and expm1(x)/x, continuous at 0 (where both are 1). */
static double log1p_x(double x)
{
	return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x / 2;
}

static double expm1_x(double x)
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x / 2;
}

/* H(x) = (x^(1-s) - 1) / (1-s), an integral of x^-s; log x when s = 1. */
static double zipf_h_integral(double s, double x)
{
	double lx = log(x);

	return expm1_x((1 - s) * lx) * lx;
}

static double zipf_h(double s, double x)
{
	return exp(-s * log(x));
}

static double zipf_h_inverse(double s, double x)
{
	double t = x * (1 - s);

	if (t < -1) /* rounding at the edge of the domain */
		t = -1;
	return exp(log1p_x(t) * x);
}

static int fail(char *err, size_t errlen, const char *spec, const char *why)
{
	snprintf(err, errlen, "--distribution: '%s' %s (accepts random, zipf:S, pareto:H, normal:DEV or "
		 "zoned:A/R:A/R..., as fio's random_distribution)", spec, why);
	return -EINVAL;
}

/* A number in (lo, hi] from s, the rest of s in *end; NaN when there is none. */
static double number(const char *s, char **end, double lo, double hi)
{
	double v;

	errno = 0;
	v = strtod(s, end);
	if (*end == s || errno || !(v > lo) || v > hi)
		return NAN;
	return v;
}

static int parse_zones(const char *spec, const char *p, struct iolens__dist *d, char *err,
		       size_t errlen)
{
	double acc = 0, range = 0;
	char *end;

	for (;;) {
		double a = number(p, &end, 0, 100), r;

		if (isnan(a) || *end != '/')
			return fail(err, errlen, spec, "has a zone that is not A/R percentages");
		r = number(end + 1, &end, 0, 100);
		if (isnan(r) || (*end && *end != ':'))
			return fail(err, errlen, spec, "has a zone that is not A/R percentages");
		if (d->nzones == IOLENS__DIST_ZONES)
			return fail(err, errlen, spec, "has more than 16 zones");
		acc += a;
		range += r;
		d->zone_acc[d->nzones] = acc / 100;
		d->zone_end[d->nzones] = range / 100;
		d->nzones++;
		if (!*end)
			break;
		p = end + 1;
	}
	if (fabs(acc - 100) > 1e-9 || fabs(range - 100) > 1e-9)
		return fail(err, errlen, spec, "has zones whose accesses or ranges do not sum to 100");
	d->zone_acc[d->nzones - 1] = d->zone_end[d->nzones - 1] = 1;
	return 0;
}

int iolens__dist_parse(const char *spec, struct iolens__dist *d, char *err, size_t errlen)
{
	const char *colon;
	char *end;

	memset(d, 0, sizeof(*d));
	if (!spec || !strcmp(spec, "random"))
		return 0;
	colon = strchr(spec, ':');
	if (!colon)
		return fail(err, errlen, spec, "is not a distribution");
	if (!strncmp(spec, "zoned:", 6)) {
		d->kind = IOLENS__DIST_ZONED;
		return parse_zones(spec, colon + 1, d, err, errlen);
	}
	if (!strncmp(spec, "zipf:", 5)) {
		d->kind = IOLENS__DIST_ZIPF;
		d->a = number(colon + 1, &end, 0, 100);
	} else if (!strncmp(spec, "pareto:", 7)) {
		d->kind = IOLENS__DIST_PARETO;
		d->a = number(colon + 1, &end, 0, 1);
		if (d->a == 1)
			d->a = NAN;
	} else if (!strncmp(spec, "normal:", 7)) {
		d->kind = IOLENS__DIST_NORMAL;
		d->a = number(colon + 1, &end, 0, 1000);
	} else {
		return fail(err, errlen, spec, "is not a distribution");
	}
	if (isnan(d->a) || *end)
		return fail(err, errlen, spec,
			    d->kind == IOLENS__DIST_ZIPF ? "needs an exponent S above 0"
			    : d->kind == IOLENS__DIST_PARETO ? "needs a share H between 0 and 1"
							      : "needs a deviation DEV above 0 (percent)");
	return 0;
}

void iolens__dist_size(struct iolens__dist *d, uint64_t n)
{
	double s = d->a;

	d->n = n;
	if (d->kind == IOLENS__DIST_ZIPF) {
		d->h_x1 = zipf_h_integral(s, 1.5) - 1;
		d->h_n = zipf_h_integral(s, (double)n + 0.5);
		d->s2 = 2 - zipf_h_inverse(s, zipf_h_integral(s, 2.5) - zipf_h(s, 2));
	} else if (d->kind == IOLENS__DIST_PARETO) {
		/* u^p with p = log H / log(1-H) exceeds 1-H with probability H. */
		d->p = log(d->a) / log(1 - d->a);
	}
}

static double unit(uint64_t *rng)
{
	return ((double)(next_rand(rng) >> 11) + 0.5) / 9007199254740992.0;
}

static uint64_t zipf_next(const struct iolens__dist *d, uint64_t *rng)
{
	double s = d->a;

	for (;;) {
		double u = d->h_n + unit(rng) * (d->h_x1 - d->h_n);
		double x = zipf_h_inverse(s, u);
		double k = floor(x + 0.5);

		if (k < 1)
			k = 1;
		else if (k > (double)d->n)
			k = (double)d->n;
		if (k - x <= d->s2 || u >= zipf_h_integral(s, k + 0.5) - zipf_h(s, k))
			return (uint64_t)k - 1;
	}
}

uint64_t iolens__dist_next(const struct iolens__dist *d, uint64_t *rng)
{
	double x;

	switch (d->kind) {
	case IOLENS__DIST_ZIPF:
		return zipf_next(d, rng);
	case IOLENS__DIST_PARETO:
		x = 1 - pow(unit(rng), d->p); /* the hot share near 0 */
		break;
	case IOLENS__DIST_NORMAL:
		do { /* Box-Muller, one of the pair */
			double r = sqrt(-2 * log(unit(rng)));

			x = 0.5 + r * cos(2 * M_PI * unit(rng)) * d->a / 100;
		} while (x < 0 || x >= 1);
		break;
	case IOLENS__DIST_ZONED: {
		double u = unit(rng), from = 0;
		unsigned z = 0;

		while (z + 1 < d->nzones && u >= d->zone_acc[z])
			from = d->zone_end[z++];
		x = from + unit(rng) * (d->zone_end[z] - from);
		break;
	}
	default:
		return below(rng, d->n);
	}
	if (x < 0)
		x = 0;
	return x * (double)d->n >= (double)d->n ? d->n - 1 : (uint64_t)(x * (double)d->n);
}
