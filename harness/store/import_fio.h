/*
 * fio's JSON output (--output-format=json or json+) as a stored run: what
 * the import checks before anything is recorded, and the SQL that records
 * its jobs as results from the stored document. docs/cli.md, "iolens
 * import", says how fio's figures map onto iolens's.
 */
#ifndef IOLENS_STORE_IMPORT_FIO_H
#define IOLENS_STORE_IMPORT_FIO_H

#include <sqlite3.h>
#include <stddef.h>

/* What a checked fio document says about itself. */
struct iolens__fio_info {
	size_t json_at;     /* where the JSON starts: fio may print notes before it */
	size_t njobs;
	char version[64];   /* "fio version", or "" */
	char time[40];      /* "timestamp" as ISO 8601 UTC, or "" */
};

/*
 * Check text (the file's whole content) as fio's JSON: valid JSON after
 * any lines of notes, a non-empty "jobs" array, every job's rw one that
 * iolens has a workload for. 0 and info filled, or -EINVAL with one line
 * in err saying what is wrong (without the file's name), or -ENOMEM.
 */
int iolens__fio_check(const char *text, struct iolens__fio_info *info, char *err, size_t errlen);

/* Register the SQL functions iolens__fio_results_sql uses on db. 0 or an SQLite error code. */
int iolens__fio_functions(sqlite3 *db);

/*
 * The statements that record run ?1's document (fio's JSON) as results,
 * one per job, their histogram buckets (json+ only) and the run's table.
 */
extern const char iolens__fio_results_sql[];

#endif
