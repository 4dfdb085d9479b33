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
	const char *fio_job;             /* --fio-job: the workloads are this fio job file's */
	int fio_lenient, fio_serial;     /* --fio-lenient, --fio-serial */
	double fio_scale;                /* --fio-scale: sizes and times times this (1 without) */
	unsigned char given[64];         /* which options the command line gave (see run_given) */
};

extern const char iolens__run_help[];

/*
 * Parse argv (argv[0] is "run"). 0: a is filled (free it with
 * iolens__run_args_free); -1: --help was printed; 2: a one-line usage error
 * naming the option was printed to stderr. Nothing else is printed.
 */
int iolens__run_parse(int argc, char **argv, struct iolens__run_args *a);

void iolens__run_args_free(struct iolens__run_args *a);

/* Whether the command line gave option `name` ("bs", without dashes). */
int iolens__run_given(const struct iolens__run_args *a, const char *name);

/*
 * 0 when every option given applies to one of the workload kinds in
 * `kinds` (bit 1 << kind), else 2 after the usage error, which names the
 * option and says it is not accepted "with <with>".
 */
int iolens__run_fits(const struct iolens__run_args *a, unsigned kinds, const char *with);

/* iolens run (cli_run_cmd.c): argv[0] is "run"; returns the exit status. */
int iolens__cli_run(int argc, char **argv, const char *cmdline);

#endif
