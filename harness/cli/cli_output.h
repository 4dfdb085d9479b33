/*
 * An output file the user named (--json, --csv, or DIR/results.json under
 * --out). The rules, the same for every command:
 *  - checked before the run: a usable target or a usage error naming the
 *    option (exit 2), with nothing created;
 *  - a regular file (new, or existing and replaced on purpose) is written to
 *    a temporary file beside it and renamed over it when complete, keeping
 *    the mode and owner it had; a symbolic link to one replaces its target;
 *  - anything else (-, /dev/stdout, a FIFO, a character device) is written
 *    into, never replaced; a block device or a directory is refused;
 *  - each output is finished or discarded on its own, and no temporary file
 *    survives any exit but SIGKILL.
 */
#ifndef IOLENS_CLI_OUTPUT_H
#define IOLENS_CLI_OUTPUT_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

struct iolens__output {
	const char *opt;       /* the option that named it, for messages */
	const char *path;      /* as given; NULL: not asked */
	char target[PATH_MAX]; /* the file replaced at the end (symlinks resolved) */
	char tmp[PATH_MAX];    /* the temporary beside it; "" when written in place */
	int no_replace;        /* refuse an existing file (results under --out) */
	struct stat st;        /* the node written into, or the file replaced */
	int existed;
	FILE *f;               /* NULL until opened; stdout for - */
};

/*
 * Check path and open it for writing (temporary or in place). 0, or 2 after
 * a one-line usage error naming opt; nothing is left behind on error.
 */
int iolens__output_open(struct iolens__output *o, const char *opt, const char *path);

/* Whether a and b (both opened) would write the same file. */
int iolens__output_same(const struct iolens__output *a, const struct iolens__output *b);

/*
 * Complete the file: flush, sync, rename over the target. 0, or 1 with one
 * line on stderr naming the option and the error; the temporary is removed
 * either way. A no-op for an output never opened.
 */
int iolens__output_finish(struct iolens__output *o);

/* Writing failed (errno says why): say so naming the option, discard, return 1. */
int iolens__output_abandon(struct iolens__output *o);

/* Close without writing: the temporary is removed, the target untouched. */
void iolens__output_discard(struct iolens__output *o);

struct iolens_result;

/* The CSV header and one row per result (the CLI's results.csv). 0, or -EIO. */
int iolens__csv_write(FILE *f, struct iolens_result *const *res, size_t n);

#endif
