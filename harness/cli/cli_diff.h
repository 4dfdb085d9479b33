/*
 * iolens diff, between its two files: cli_diff_load.c gathers both sides'
 * results into one in-memory database and pairs them; cli_diff.c tests
 * each pair and prints the table, Markdown or JSON.
 */
#ifndef IOLENS_CLI_DIFF_H
#define IOLENS_CLI_DIFF_H

#include <stddef.h>

struct iolens__store;

enum { M_IOPS, M_P50, M_P99, M_CPU, M_SC, M__N };

/* One side of the diff as the user named it, and what it turned out to hold. */
struct diff_side {
	const char *arg;  /* as given: a run id, a label, or a JSON file */
	char what[256];   /* "run 12", "label base (runs 3-7, 5 runs)", "file a.json" */
	size_t results;   /* ok results */
};

/* The results of both sides that pair on one pair hash. */
struct diff_group {
	char key[17];          /* the pair hash */
	char title[160];       /* "randread 4k d32 direct" */
	char spec[2][128];     /* the first spec of each side */
	char chash[2][17];     /* the first comparison hash of each side */
	char *params[2];       /* the first params object of each side */
	int mixed;             /* a side's comparison hashes differ among its own rows */
	int rate;              /* open loop: the generator sets the rate; p50 decides */
	double *v[2][M__N];    /* samples, NaN where not measured */
	size_t n[2], cap[2];
};

struct diff {
	struct iolens__store *mem; /* both sides' rows: temp.rows */
	int strict;                /* --strict: pair only identical comparisons */
	struct diff_side side[2];
	struct diff_group *g;
	size_t ng;
	char **env;                /* "kernel: a → b" lines */
	size_t nenv;
	char **par;                /* parameter differences */
	size_t npar;
};

/*
 * Load both sides (db: --db or NULL for the default, needed only for run ids
 * and labels) and group them. 0, 1 (store unreadable, said), or 2 after a
 * one-line usage error (no such run, label or file; not an iolens file).
 */
int iolens__diff_load(struct diff *d, const char *db);

void iolens__diff_free(struct diff *d);

#endif
