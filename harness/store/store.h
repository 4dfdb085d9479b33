/*
 * The results database: every run, compare, demo and bench cell recorded in
 * an embedded SQLite file, beside (never instead of) the JSON and CSV. Schema
 * and migrations: docs/store.md. CLI only: the library does not link SQLite.
 */
#ifndef IOLENS_STORE_H
#define IOLENS_STORE_H

#include <stddef.h>
#include <stdio.h>

struct iolens_meta;
struct iolens_result;
struct iolens__store;
struct iolens__host;

/* The options every recording command shares: --db PATH, --no-db, --label TEXT. */
struct iolens__store_args {
	const char *db;    /* --db, else $IOLENS_DB, else $XDG_DATA_HOME/iolens/results.db */
	const char *label; /* --label: a name for the run, for history and diff */
	int no_db;         /* --no-db: record nothing */
};

/*
 * The path the store is at: a->db, $IOLENS_DB, or $XDG_DATA_HOME (default
 * ~/.local/share)/iolens/results.db. 0, or -ENAMETOOLONG / -ENOENT (no
 * HOME to put it under).
 */
int iolens__store_path(const struct iolens__store_args *a, char *out, size_t len);

/*
 * Open (creating it and its directory if missing) the store at path. 0, or
 * a negative errno with a one-line reason in err naming the file: -ENOTSUP
 * (a newer schema, or not an iolens database), -EIO (corrupt: refused,
 * never overwritten), -EROFS, -ENOSPC, -EACCES. readonly: never create or
 * migrate (history, show, export, diff).
 */
int iolens__store_open(struct iolens__store **out, const char *path, int readonly, char *err,
		       size_t errlen);
void iolens__store_close(struct iolens__store *s);

/* The same at --db (NULL: the default path, into path): 0 or a negative errno with err. */
int iolens__store_open_at(const char *db, int readonly, struct iolens__store **s, char *path,
			  size_t len, char *err, size_t errlen);

/* The SQLite handle of an open store (sqlite3 *), for the commands that read it. */
void *iolens__store_db(struct iolens__store *s);

/* What one recorded run was, besides its results. */
struct iolens__store_run {
	const char *kind;  /* "run", "compare", "demo", "import" */
	const char *label; /* or NULL */
	const char *tool;  /* "iolens", or "fio" for an import */
	const char *table; /* the table as printed, or NULL */
	const char *version; /* the tool's version; NULL: this iolens's */
	const struct iolens__host *host; /* NULL: this machine, now (host.h) */
	const char *results_sql; /* imports: the statements (';' between) that record */
				 /* their results, buckets and table from run ?1's */
				 /* document, ?1 bound in each; NULL: iolens's own */
};

/*
 * Record one run from the document and CSV it wrote: its meta, its results
 * (figures, histogram buckets, syscalls by name, measured model; for an
 * iolens-mpi document, the fleet's merged figures and its ranks' rows) and
 * this host. *run_id gets the new run's id. 0, or a negative errno with a
 * one-line reason in err (-EINVAL: a fleet with no merge); nothing is half
 * written (one transaction).
 */
int iolens__store_record_text(struct iolens__store *s, const struct iolens__store_run *run,
			      const struct iolens_meta *meta, const char *doc, const char *csv,
			      long long *run_id, char *err, size_t errlen);

/*
 * What a recording command does at its end: unless a->no_db, open the store,
 * record, close; a failure is a one-line warning on stderr ("iolens: results
 * database PATH: ...; the run is not recorded") and never changes the exit
 * status. On success, "recorded: run N in PATH" goes to say (unless NULL).
 */
void iolens__store_save(const struct iolens__store_args *a, const struct iolens__store_run *run,
			const struct iolens_meta *meta, struct iolens_result *const *res, size_t n,
			FILE *say);

/* The same from the document and CSV already written (iolens-mpi's; NULL: out of memory). */
void iolens__store_save_text(const struct iolens__store_args *a, const struct iolens__store_run *run,
			     const struct iolens_meta *meta, const char *doc, const char *csv,
			     FILE *say);

#endif
