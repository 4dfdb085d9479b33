/*
 * The results database on the command line: the options of the commands
 * that record, and the commands that read it (history, show, export, diff).
 */
#ifndef IOLENS_CLI_STORE_H
#define IOLENS_CLI_STORE_H

#include <stddef.h>

struct iolens__store;
struct iolens__store_args;

/* One of --db, --no-db, --label (name without dashes) into a: 0, or 2 after the usage error. */
int iolens__store_opt(struct iolens__store_args *a, const char *name, const char *arg);

/* The three together: --no-db with --db or --label is refused. 0, or 2. */
int iolens__store_opt_check(const struct iolens__store_args *a);

/*
 * Check --label: printable, 1..128 bytes, not all digits (a run id is). 0
 * or 2 after the one-line usage error.
 */
int iolens__store_check_label(const char *label);

/* argv[0] is the command's name; each returns the exit status. */
int iolens__cli_history(int argc, char **argv);
int iolens__cli_show(int argc, char **argv);
int iolens__cli_export(int argc, char **argv);
int iolens__cli_diff(int argc, char **argv);

/*
 * Open the store at --db (or the default) read-only for a reading command:
 * 0, or 1 after one line on stderr naming the file (missing, refused).
 */
int iolens__store_open_reading(const char *db, struct iolens__store **s, char *path, size_t len);

/*
 * The run RUN names: a run id, or a label (its latest run). 0 with *id, 2
 * after a one-line usage error naming opt when no run matches.
 */
int iolens__store_find_run(struct iolens__store *s, const char *opt, const char *arg,
			   long long *id);

#endif
