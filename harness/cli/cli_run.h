/*
 * The options of `iolens run`: parsed, and checked against the workload and
 * against each other, before anything is opened, created or started.
 */
#ifndef IOLENS_CLI_RUN_H
#define IOLENS_CLI_RUN_H

#include <stddef.h>

#include "iolens/iolens.h"
#include "store.h"

#define IOLENS__MAX_SPECS 64
#define IOLENS__MAX_RESULTS 4096 /* specs x repeats */

struct iolens__run_args {
	struct iolens_workload w;
	const char *json, *csv;          /* NULL: not asked; "-": stdout */
	char *specs[IOLENS__MAX_SPECS];  /* backend specs, "all" expanded */
	size_t nspecs;
	int notes;                       /* --notes: the table prints each backend's notes */
	unsigned repeat;                 /* --repeat: every backend this many times (1..1000) */
	const char *hdr_log;             /* --hdr-log: HdrHistogram interval log, or NULL */
	struct iolens__store_args store; /* --db, --no-db, --label */
};

extern const char iolens__run_help[];

/*
 * Parse argv (argv[0] is "run"). 0: a is filled (free it with
 * iolens__run_args_free); -1: --help was printed; 2: a one-line usage error
 * naming the option was printed to stderr. Nothing else is printed.
 */
int iolens__run_parse(int argc, char **argv, struct iolens__run_args *a);

void iolens__run_args_free(struct iolens__run_args *a);

/* iolens run (cli_run_cmd.c): argv[0] is "run"; returns the exit status. */
int iolens__cli_run(int argc, char **argv, const char *cmdline);

#endif
