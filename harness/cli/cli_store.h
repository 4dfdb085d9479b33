/* The commands that read the results database: history, show, export, diff. */
#ifndef IOLENS_CLI_STORE_H
#define IOLENS_CLI_STORE_H

struct iolens__store;

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
