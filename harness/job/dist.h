/* Where random offsets fall: --distribution (dist.c). */
#ifndef IOLENS_DIST_H
#define IOLENS_DIST_H

#include <stddef.h>
#include <stdint.h>

enum { IOLENS__DIST_UNIFORM, IOLENS__DIST_ZIPF, IOLENS__DIST_PARETO, IOLENS__DIST_NORMAL,
       IOLENS__DIST_ZONED };
#define IOLENS__DIST_ZONES 16

struct iolens__dist {
	int kind;
	double a;  /* zipf: S; pareto: H; normal: DEV (percent) */
	uint64_t n; /* blocks drawn from */
	double h_x1, h_n, s2; /* zipf: the rejection-inversion constants for n */
	double p;             /* pareto: the exponent for H */
	unsigned nzones;
	double zone_acc[IOLENS__DIST_ZONES], zone_end[IOLENS__DIST_ZONES]; /* cumulative, 0..1 */
};

/* spec (NULL or "random": uniform) into d: 0, or -EINVAL with a one-line reason in err. */
int iolens__dist_parse(const char *spec, struct iolens__dist *d, char *err, size_t errlen);
/* Draw from n blocks (n >= 1) from now on. */
void iolens__dist_size(struct iolens__dist *d, uint64_t n);
/* The next block, in [0, n). */
uint64_t iolens__dist_next(const struct iolens__dist *d, uint64_t *rng);

#endif
