/*
 * iolens reports: the forms the iolens command writes, for any program that
 * has results — the table people read (with the verdict), the JSON document
 * (schema iolens/1) and CSV. Part of iolens/iolens.h, which includes it.
 *
 * Each writer takes the results of one workload in the order they should be
 * shown (iolens_run_many's out[]), writes to a stream the caller opened and
 * returns 0, or -EIO when the stream reported an error (ferror). Nothing is
 * kept between calls; any thread, one stream at a time.
 */
#ifndef IOLENS_REPORT_H
#define IOLENS_REPORT_H

#include "iolens/iolens.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iolens_result; /* iolens/workload.h */

/* What the results were measured on: the "meta" object of the JSON document. */
struct iolens_meta {
	char kernel[128];     /* uname release */
	char cpu_model[128];  /* /proc/cpuinfo's model name, or "unknown" */
	unsigned cores;       /* online CPUs */
	char hostname[256];
	char start_time[40];  /* ISO 8601 UTC, when iolens_meta_collect ran */
	const char *command_line; /* as given (not copied), or NULL: written as null */
	int interrupted;      /* the run was stopped early (SIGINT): set it yourself */
};

/* Fill m for this machine and now; command_line is kept as given. Never fails. */
IOLENS_EXPORT void iolens_meta_collect(struct iolens_meta *m, const char *command_line);

/*
 * The whole JSON document: {"schema": "iolens/1", "meta": {...}, "verdict":
 * [...], "results": [...]}, each result as iolens_result_json writes it. 0,
 * -EIO, or -EINVAL when f or m is NULL, or rs is NULL with n > 0.
 */
IOLENS_EXPORT int iolens_json_document(FILE *f, const struct iolens_meta *m,
				       struct iolens_result *const *rs, size_t n);

/*
 * s as a JSON string, quoted and escaped as the document writes its own
 * strings, for a program that adds JSON of its own beside iolens's.
 */
IOLENS_EXPORT void iolens_json_string(FILE *f, const char *s);

/* The CSV header line (every column name), then one line per result. 0 or -EIO. */
IOLENS_EXPORT int iolens_csv_header(FILE *f);
IOLENS_EXPORT int iolens_csv_row(FILE *f, const struct iolens_result *r);

#define IOLENS_TABLE_NOTES 1u /* add the per-backend notes (the CLI's --notes) */

/*
 * The table of one workload's results as `iolens run` prints it: a header
 * line naming the workload, a line per result (throughput, latency, CPU,
 * switches, syscalls per op, cache residency, measured model), the reason
 * of each that failed or was skipped, the verdict (iolens_verdict), and
 * with IOLENS_TABLE_NOTES the notes on each result. n = 0 writes nothing.
 * 0, -EIO, or -EINVAL for a NULL f, rs NULL with n > 0, or an unknown flag.
 */
IOLENS_EXPORT int iolens_table(FILE *f, struct iolens_result *const *rs, size_t n,
			       unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
