/*
 * One walk over a result's fields feeds every machine format: JSON nests the
 * objects, CSV flattens them into column names joined by '_'. A field added
 * here appears in both.
 */
#ifndef IOLENS_REPORT_H
#define IOLENS_REPORT_H

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

/* Run metadata. */
struct iolens_meta {
	char kernel[128];
	char cpu_model[128];
	unsigned cores;
	char hostname[256];
	char start_time[40]; /* ISO 8601 UTC */
	const char *command_line;
	int interrupted;
};

void iolens__meta_collect(struct iolens_meta *m, const char *command_line);

/* The whole JSON document: schema, meta, results. */
int iolens__json_document(FILE *f, const struct iolens_meta *m, struct iolens_result *const *rs,
			  size_t n);

/* CSV header line, and one row per result. */
int iolens__csv_header(FILE *f);
int iolens__csv_row(FILE *f, const struct iolens_result *r);

/* JSON string literal with escapes. */
void iolens__json_string(FILE *f, const char *s);

#endif
