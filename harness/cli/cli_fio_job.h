/*
 * Between the job file's walk (cli_fio_map.c) and one job's mapping
 * (cli_fio_job.c): the fio options iolens knows, and a job's settings.
 */
#ifndef IOLENS_CLI_FIO_JOB_H
#define IOLENS_CLI_FIO_JOB_H

#include "cli_fio.h"
#include "cli_fio_int.h"

enum iolens__fio_key_id {
	K_RW, K_RWMIXREAD, K_RWMIXWRITE, K_BS, K_BSRANGE, K_BSSPLIT, K_SIZE, K_FILENAME,
	K_DIRECTORY, K_NRFILES, K_DIRECT, K_BUFFERED, K_IODEPTH, K_NUMJOBS, K_RUNTIME,
	K_TIME_BASED, K_RAMP_TIME, K_RATE, K_RATE_IOPS, K_RATE_PROCESS, K_FSYNC, K_FDATASYNC,
	K_VERIFY, K_RANDSEED, K_RANDOM_DISTRIBUTION, K_THINKTIME, K_STONEWALL, K_IOENGINE,
	K_KB_BASE, K__COUNT
};

struct iolens__fio_key {
	const char *name, *alias;
	int flag;            /* fio takes it alone on a line (time_based, stonewall) */
	const char *cli[3];  /* the iolens run options it stands for: both given is a usage error */
	const char *not_yet; /* set (to anything but 0), why iolens cannot run it yet; NULL: it can */
};

extern const struct iolens__fio_key iolens__fio_keys[K__COUNT];

/* The option lines a job takes, by key (NULL: not set), and the order they came in. */
struct iolens__fio_settings {
	const struct iolens__fio_opt *opt[K__COUNT];
	unsigned seq[K__COUNT];
};

struct iolens__fio_ctx {
	const struct iolens__run_args *a;
	struct iolens__fio_plan *plan;
	struct iolens__fio_doc doc;
	unsigned seq;        /* option lines applied so far: later lines win */
	char skipped[1024];  /* --fio-lenient: the unknown options, for one warning */
};

/* Map one job section with its settings onto *out; 0, or 2 after the usage error. */
int iolens__fio_job_map(struct iolens__fio_ctx *c, const struct iolens__fio_section *sec,
			const struct iolens__fio_settings *s, struct iolens__fio_job *out);

#endif
