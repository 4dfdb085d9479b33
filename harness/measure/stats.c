#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define EXACT_MAX 40 /* na + nb up to this: exact; the counts stay in a double */

struct obs {
	double v;
	int from_a;
};

static int by_value(const void *x, const void *y)
{
	double a = ((const struct obs *)x)->v, b = ((const struct obs *)y)->v;

	return (a > b) - (a < b);
}

/*
 * P(U <= u) for samples of m and n without ties: the number of arrangements
 * with U = k over all C(m+n, m), built up one sample size at a time
 * (f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k)).
 */
static double exact_cdf(size_t m, size_t n, double u)
{
	size_t kmax = m * n, w = kmax + 1;
	double *f = calloc((m + 1) * (n + 1) * w, sizeof(*f)), total = 0, below = 0;

	if (!f)
		return NAN;
#define F(i, j, k) f[((i) * (n + 1) + (j)) * w + (k)]
	for (size_t i = 0; i <= m; i++)
		for (size_t j = 0; j <= n; j++)
			for (size_t k = 0; k <= i * j; k++) {
				if (!i || !j) {
					F(i, j, k) = k == 0;
					continue;
				}
				F(i, j, k) = (k >= j ? F(i - 1, j, k - j) : 0) + F(i, j - 1, k);
			}
	for (size_t k = 0; k <= kmax; k++) {
		total += F(m, n, k);
		if ((double)k <= u + 1e-9)
			below += F(m, n, k);
	}
#undef F
	free(f);
	return below / total;
}

double iolens__mwu_p(const double *a, size_t na, const double *b, size_t nb, double *u_a)
{
	size_t n = na + nb, ties = 0;
	struct obs *o;
	double ra = 0, tie_sum = 0, ua, umin, mean, var, z, p;

	if (u_a)
		*u_a = NAN;
	if (!na || !nb || !(o = malloc(n * sizeof(*o))))
		return NAN;
	for (size_t i = 0; i < n; i++) {
		o[i].v = i < na ? a[i] : b[i - na];
		o[i].from_a = i < na;
		if (isnan(o[i].v)) {
			free(o);
			return NAN;
		}
	}
	qsort(o, n, sizeof(*o), by_value);
	/* Ranks from 1, a run of equal values sharing the mean of its ranks. */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double rank;

		while (j + 1 < n && o[j + 1].v == o[i].v)
			j++;
		rank = (double)(i + j + 2) / 2;
		for (size_t k = i; k <= j; k++)
			ra += o[k].from_a ? rank : 0;
		if (j > i) {
			double t = (double)(j - i + 1);

			tie_sum += t * t * t - t;
			ties++;
		}
		i = j + 1;
	}
	free(o);
	ua = ra - (double)na * (double)(na + 1) / 2;
	if (u_a)
		*u_a = ua;
	umin = fmin(ua, (double)na * (double)nb - ua);
	if (!ties && n <= EXACT_MAX) {
		p = 2 * exact_cdf(na, nb, umin);
		return p > 1 ? 1 : p;
	}
	mean = (double)na * (double)nb / 2;
	var = (double)na * (double)nb / 12 * ((double)(n + 1) - tie_sum / ((double)n * (double)(n - 1)));
	if (var <= 0)
		return 1; /* every value equal: no evidence of a difference */
	z = (fabs(ua - mean) - 0.5) / sqrt(var);
	if (z < 0)
		z = 0;
	return erfc(z / sqrt(2));
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

double iolens__median(const double *v, size_t n)
{
	double *c, m;

	if (!n || !(c = malloc(n * sizeof(*c))))
		return NAN;
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}
