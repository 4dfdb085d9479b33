/*
 * The statistics iolens diff stands on, against values worked out by hand:
 * the exact Mann-Whitney distribution for small samples without ties
 * (counting arrangements), the normal approximation with ties, the median.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stats.h"

static void assert_near(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

/* Every a below every b: U = 0, and one arrangement of C(m+n, m) is that extreme. */
static void separated_samples(void **state)
{
	const double a3[] = { 1, 2, 3 }, b3[] = { 4, 5, 6 };
	const double a5[] = { 5, 1, 4, 2, 3 }, b5[] = { 10, 6, 9, 7, 8 };
	double u;

	(void)state;
	assert_near(iolens__mwu_p(a3, 3, b3, 3, &u), 2.0 / 20, 1e-12); /* C(6,3) = 20 */
	assert_near(u, 0, 0);
	assert_near(iolens__mwu_p(a5, 5, b5, 5, &u), 2.0 / 252, 1e-12); /* C(10,5) = 252 */
	assert_near(u, 0, 0);
	/* The other way round: U of a is m*n, the p-value the same. */
	assert_near(iolens__mwu_p(b5, 5, a5, 5, &u), 2.0 / 252, 1e-12);
	assert_near(u, 25, 0);
}

/*
 * a = {1,3,5}, b = {2,4,6}: U of a = 3 (3>2, 5>2, 5>4). Of the 20
 * arrangements, U = 0,1,2,3 occur 1,1,2,3 times: P(U <= 3) = 7/20, two-sided 0.7.
 */
static void interleaved_samples(void **state)
{
	const double a[] = { 1, 3, 5 }, b[] = { 2, 4, 6 };
	double u;

	(void)state;
	assert_near(iolens__mwu_p(a, 3, b, 3, &u), 0.7, 1e-12);
	assert_near(u, 3, 0);
}

/*
 * a = {1,2,2,3}, b = {2,3,3,4}: ranks 1 | 3 3 3 | 6 6 6 | 8, R(a) = 13, U = 3;
 * mean 8, ties of 3 and 3: var = 16/12 * (9 - 48/56) = 10.857142857;
 * z = (5 - 0.5) / sqrt(var) = 1.365698202, p = erfc(z / sqrt 2) = 0.172033709.
 */
static void ties_use_the_normal_approximation(void **state)
{
	const double a[] = { 1, 2, 2, 3 }, b[] = { 2, 3, 3, 4 };
	double u;

	(void)state;
	assert_near(iolens__mwu_p(a, 4, b, 4, &u), 0.172033709, 1e-8);
	assert_near(u, 3, 0);
}

/* 21 and 21 without ties is past the exact table: z = (220.5 - 0.5) / sqrt(1655.5). */
static void large_samples_use_the_normal_approximation(void **state)
{
	double a[21], b[21];

	(void)state;
	for (int i = 0; i < 21; i++) {
		a[i] = i + 1;
		b[i] = i + 22;
	}
	assert_near(iolens__mwu_p(a, 21, b, 21, NULL), 3.1253999984e-08, 1e-15);
}

static void degenerate_input(void **state)
{
	const double one[] = { 1 }, same[] = { 2, 2, 2 }, nan_[] = { NAN, 1 };

	(void)state;
	assert_true(isnan(iolens__mwu_p(one, 0, one, 1, NULL)));
	assert_true(isnan(iolens__mwu_p(nan_, 2, one, 1, NULL)));
	/* All equal: no evidence of a difference. */
	assert_near(iolens__mwu_p(same, 3, same, 3, NULL), 1, 0);
}

static void medians(void **state)
{
	const double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };

	(void)state;
	assert_near(iolens__median(odd, 3), 3, 0);
	assert_near(iolens__median(even, 4), 2.5, 0);
	assert_near(odd[0], 5, 0); /* not reordered */
	assert_true(isnan(iolens__median(odd, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(separated_samples),
		cmocka_unit_test(interleaved_samples),
		cmocka_unit_test(ties_use_the_normal_approximation),
		cmocka_unit_test(large_samples_use_the_normal_approximation),
		cmocka_unit_test(degenerate_input),
		cmocka_unit_test(medians),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
