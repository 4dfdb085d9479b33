/*
 * One walk over a result's fields feeds every machine format: JSON nests the
 * objects, CSV flattens them into column names joined by '_'. A field added
 * here appears in both.
 */
#ifndef IOLENS_REPORT_WALK_H
#define IOLENS_REPORT_WALK_H

#include <stdio.h>

#include "iolens/iolens.h"

struct iolens__visitor {
	void (*begin)(void *v, const char *key); /* nested object */
	void (*end)(void *v);
	void (*num)(void *v, const char *key, double val); /* NaN = null */
	void (*str)(void *v, const char *key, const char *s); /* NULL = null */
	void (*boolean)(void *v, const char *key, int b);
	void (*hist)(void *v, const char *key, const struct iolens_hist *h); /* optional */
	void (*trace)(void *v, const char *key, const struct iolens_result *r); /* optional */
};

void iolens__report_walk(const struct iolens_result *r, const struct iolens__visitor *vis, void *v);

/* A result's spec as the reports name it: "io_uring:sqpoll", or the backend alone. */
void iolens__result_label(const struct iolens_result *r, char *out, size_t len);

/* Whether rs[0..n) can be reported: rs non-NULL when n > 0, no entry NULL. */
int iolens__results_valid(struct iolens_result *const *rs, size_t n);

/*
 * A finite number as both formats write it: integers exactly, others to 6
 * significant digits, except from a million up, where 6 digits would lose
 * a wall-clock timestamp's seconds: those keep 3 decimals.
 */
void iolens__report_number(FILE *f, double x);

/* JSON string literal with escapes. */
void iolens__json_string(FILE *f, const char *s);

#endif
