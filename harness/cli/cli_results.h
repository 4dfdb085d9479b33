/* The results directory the commands that write one share (compare, demo). */
#ifndef IOLENS_CLI_RESULTS_H
#define IOLENS_CLI_RESULTS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "cli_output.h"

struct iolens_meta;
struct iolens_result;

/* The results directory of compare and demo, and its two files. */
struct iolens__results {
	char dir[4096];
	char made[4096]; /* the topmost directory this run created, "" if none */
	char json_path[4200], csv_path[4200];
	struct iolens__output json, csv;
	int json_written;
};

/*
 * The results directory: given (--out DIR, made if missing) or, when NULL,
 * a new results/<prefix><UTC yyyymmddTHHMMSSZ>; then results.json and
 * results.csv opened in it, refused if they already exist (earlier results
 * are never replaced). 0, or 2 after a usage error naming --out, with
 * nothing left behind.
 */
int iolens__results_open(struct iolens__results *r, const char *given, const char *prefix);

/*
 * Write both files, each finished or discarded on its own, and print the
 * "results:" line naming those written. 0, or 1 (the failure said on stderr).
 * The directory goes again when neither could be written and it was made here.
 */
int iolens__results_write(struct iolens__results *r, const struct iolens_meta *meta,
			  struct iolens_result *const *res, size_t n, double seconds);

/* Nothing written: the files' temporaries and the directories made here go. */
void iolens__results_discard(struct iolens__results *r);

/*
 * The table iolens_table prints for res, as a string (free it), written to
 * show as well unless show is NULL: what the results database keeps as the
 * run's table. NULL when out of memory (the table is still shown).
 */
char *iolens__table_show(struct iolens_result *const *res, size_t n, unsigned flags, FILE *show);

/* SIGINT and SIGTERM set the returned flag (for workload.stop) instead of killing. */
volatile int *iolens__catch_stop(void);

/*
 * Draw the plots of DIR/results.json into DIR with the repository's
 * scripts/plot.py, if this build can find it and Debian's python3; prints
 * one line saying where they are, or why there are none.
 */
void iolens__plots(const char *dir);

/* Seconds on the monotonic clock, for the commands' elapsed times. */
static inline double iolens__now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
