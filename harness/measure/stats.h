/*
 * Statistics for comparing two sets of repeated runs (iolens diff): the
 * Mann-Whitney U test, as google/benchmark's compare tool uses, because a
 * benchmark's repeats are neither normal nor of equal variance.
 */
#ifndef IOLENS_STATS_H
#define IOLENS_STATS_H

#include <stddef.h>

/*
 * Two-sided p-value of the Mann-Whitney U test of samples a (na values) and
 * b (nb values), and U of a (pairs with a above b, ties counting one half)
 * in *u_a when u_a is not NULL. Exact, from the distribution of U over
 * every arrangement, when neither sample has ties and na + nb <= 40; else
 * the normal approximation with the tie correction and a continuity
 * correction of one half. NaN when either sample is empty or a value is
 * NaN, or out of memory.
 */
double iolens__mwu_p(const double *a, size_t na, const double *b, size_t nb, double *u_a);

/* Median of n values (copied, not reordered), NaN for n == 0. */
double iolens__median(const double *v, size_t n);

#endif
