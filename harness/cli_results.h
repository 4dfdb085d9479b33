/* The results directory the commands that write one share (compare, demo). */
#ifndef IOLENS_CLI_RESULTS_H
#define IOLENS_CLI_RESULTS_H

#include <stddef.h>
#include <time.h>

struct iolens_meta;
struct iolens_result;

/* mkdir -p for a relative or absolute path: 0 or -errno (errno is left set). */
int iolens__mkdirs(const char *path);

/*
 * The results directory: dir as given, or when empty
 * results/<prefix><UTC yyyymmddTHHMMSSZ>; created. 0, or a usage error
 * printed naming --out (exit status 2).
 */
int iolens__results_dir(char *dir, size_t len, const char *prefix);

/* DIR/results.json (one document) and DIR/results.csv; 1 if either failed (said on stderr). */
int iolens__write_results(const char *dir, const struct iolens_meta *meta,
			  struct iolens_result *const *res, size_t n);

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
