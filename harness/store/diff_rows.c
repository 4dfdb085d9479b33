/*
 * One pair of diff: the medians of each figure, their change, the
 * Mann-Whitney U test of each, and the verdict on the deciding one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "stats.h"

const char *const iolens__diff_verdict_name[] = {
	"faster", "slower", "no significant change", "not tested (needs 2+ repeats a side)",
	"only in base", "only in new",
};

/* The values of v that were measured, into out; their count. */
static size_t measured(const double *v, size_t n, double *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			out[k++] = v[i];
	return k;
}

void iolens__diff_row(const struct diff_group *g, double alpha, double fail_pct, struct diff_row *r)
{
	size_t cap = g->n[0] > g->n[1] ? g->n[0] : g->n[1];
	double *a = calloc(cap + 1, sizeof(double)), *b = calloc(cap + 1, sizeof(double));

	memset(r, 0, sizeof(*r));
	r->decide = g->rate ? M_P50 : M_IOPS;
	for (int m = 0; m < M__N; m++) {
		size_t na = a ? measured(g->v[0][m], g->n[0], a) : 0;
		size_t nb = b ? measured(g->v[1][m], g->n[1], b) : 0;

		r->med[0][m] = iolens__median(a, na);
		r->med[1][m] = iolens__median(b, nb);
		r->change[m] = r->med[0][m] != 0 ? r->med[1][m] / r->med[0][m] - 1 : NAN;
		r->p[m] = na >= 2 && nb >= 2 ? iolens__mwu_p(a, na, b, nb, NULL) : NAN;
	}
	free(a);
	free(b);
	if (!g->n[0] || !g->n[1]) {
		r->v = g->n[0] ? V_ONLY_BASE : V_ONLY_NEW;
	} else if (isnan(r->p[r->decide])) {
		r->v = V_UNTESTED;
	} else if (r->p[r->decide] >= alpha) {
		r->v = V_SAME;
	} else {
		/* More IOPS is better; less latency is. */
		int up = r->med[1][r->decide] > r->med[0][r->decide];

		r->v = (r->decide == M_IOPS) == up ? V_FASTER : V_SLOWER;
	}
	if (r->v == V_SLOWER && fail_pct >= 0)
		r->regression = fabs(r->change[r->decide]) * 100 >= fail_pct;
}

double iolens__diff_min_p(size_t na, size_t nb)
{
	double c = 1;

	for (size_t i = 1; i <= nb; i++)
		c = c * (double)(na + i) / (double)i;
	return 2 / c;
}
