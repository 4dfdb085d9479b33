/*
 * Inside the fio job-file reader: the file as read (cli_fio_read.c), before
 * its options mean anything, and the value parsers the mapping uses
 * (cli_fio_value.c). cli_fio.h is what the rest of the command line sees.
 */
#ifndef IOLENS_CLI_FIO_INT_H
#define IOLENS_CLI_FIO_INT_H

#include <stddef.h>
#include <stdint.h>

/* One option line: key=value, or a key alone on its line (bare, value "1"). */
struct iolens__fio_opt {
	char *key, *value;
	const char *file; /* the file it was read from (the job file or an include) */
	unsigned line;
	int bare;
};

/* One [section]: a job, or [global] (defaults for the jobs after it). */
struct iolens__fio_section {
	char *name;
	const char *file;
	unsigned line;
	int global;
	struct iolens__fio_opt *opts;
	size_t nopts, cap;
};

/* A job file with its includes expanded, sections in the order written. */
struct iolens__fio_doc {
	char **files; /* every file read, owned here: the opts' and sections' file */
	size_t nfiles;
	struct iolens__fio_section *secs;
	size_t nsecs, cap;
};

/*
 * Read the job file at path (includes relative to the file that names
 * them, 16 deep at most, no cycles). 0 with *doc filled (free it with
 * iolens__fio_doc_free, also after an error), or 2 after a one-line usage
 * error naming FILE:LINE.
 */
int iolens__fio_read(const char *path, struct iolens__fio_doc *doc);
void iolens__fio_doc_free(struct iolens__fio_doc *doc);

/*
 * fio's values (HOWTO, "Parameter types"). Each returns 0 or -EINVAL.
 * A size: a whole number (or 0x hex) with an optional unit k, m, g, t, p,
 * with or without i and b; kb_base 1024 (fio's default) makes k 1024 and
 * ki 1000, kb_base 1000 the other way round. Case does not matter.
 */
int iolens__fio_size(const char *s, unsigned kb_base, uint64_t *out);
/* A time: a whole number with an optional unit d, h, m, s, ms (msec), us
 * (usec), any case; unit_s is the unit of a bare number, in seconds. */
int iolens__fio_time(const char *s, double unit_s, double *out);
/* A whole number (decimal digits only) within [lo, hi]. */
int iolens__fio_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif
