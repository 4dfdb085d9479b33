/*
 * `iolens run --fio-job FILE`: a fio job file read (cli_fio_read.c) and
 * mapped onto iolens workloads (cli_fio_map.c), one per job section, all
 * checked before anything runs. docs/fio.md says what maps to what and
 * what is refused.
 */
#ifndef IOLENS_CLI_FIO_H
#define IOLENS_CLI_FIO_H

#include <stddef.h>

#include "cli_run.h"
#include "iolens/iolens.h"

/* One job section as the workload iolens runs. */
struct iolens__fio_job {
	struct iolens_workload w; /* its strings point into this job and the plan */
	char *section;            /* the section's name */
	char *distribution;       /* random_distribution as written (w.distribution), or NULL */
	char *file;               /* w.file: the job's filename, with directory before it */
	char *tmpdir;             /* directory without filename: where the temporary file goes */
	char *specs[1];           /* the backend its ioengine maps to (--backend not given) */
	char *const *use_specs;   /* the specs it runs on: specs, or the command line's */
	size_t nspecs;
	unsigned line;            /* the line of its [section] */
	unsigned group;           /* fio's group, from 1: stonewall starts the next one */
	unsigned in_group;        /* jobs in its group: more than 1 runs only with --fio-serial */
	size_t nresults;          /* the results it gave, once run */
};

struct iolens__fio_plan {
	const char *path; /* the job file, as given */
	struct iolens__fio_job *jobs;
	size_t njobs;
	unsigned ngroups;
};

/*
 * Read the job file a->fio_job names and map each job onto a workload,
 * a->w (the command line's values and iolens's defaults) under the file's.
 * 0 with *plan filled, or 2 after a one-line usage error (FILE:LINE and the
 * option, or the option of the command line that the file also sets).
 * Warnings (--fio-lenient's skipped options) go to stderr.
 * iolens__fio_plan_free frees the plan either way.
 */
int iolens__fio_plan(const struct iolens__run_args *a, struct iolens__fio_plan *plan);
void iolens__fio_plan_free(struct iolens__fio_plan *plan);

/* The line over a job's table: the file, the section, its group and how the group ran. */
void iolens__fio_heading(const struct iolens__fio_plan *plan, const struct iolens__fio_job *job,
			 char *out, size_t len);

#endif
