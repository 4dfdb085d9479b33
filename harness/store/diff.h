/*
 * What iolens diff compares: diff_load.c gathers both sides' results into
 * one in-memory database and pairs them, diff_rows.c tests each pair; the
 * command (cli_diff.c) prints the table, Markdown or JSON.
 */
#ifndef IOLENS_DIFF_H
#define IOLENS_DIFF_H

#include <stddef.h>

struct iolens__store;

enum { M_IOPS, M_P50, M_P99, M_CPU, M_SC, M__N };

/* One side of the diff as the user named it, and what it turned out to hold. */
struct diff_side {
	const char *arg;  /* as given: a run id, a label, or a JSON file */
	char what[256];   /* "run 12", "label base (runs 3-7, 5 runs)", "file a.json" */
	size_t results;   /* ok results */
	size_t interrupted; /* results of runs a signal stopped: left out */
};

/* The results of both sides that pair on one pair hash. */
struct diff_group {
	char key[300];         /* what the row's results share (diff_load.c's gkey) */
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
	char err[1024];            /* why loading failed */
};

enum diff_verdict { V_FASTER, V_SLOWER, V_SAME, V_UNTESTED, V_ONLY_BASE, V_ONLY_NEW };
extern const char *const iolens__diff_verdict_name[];

/* A pair's figures: medians, their change (new / base - 1), p-values, verdict. */
struct diff_row {
	double med[2][M__N], change[M__N], p[M__N];
	int decide;      /* the metric the verdict stands on: IOPS, or p50 for an open loop */
	enum diff_verdict v;
	int regression;  /* significantly slower by at least fail_pct */
};

/* Test one pair at alpha; fail_pct < 0: no regression threshold. */
void iolens__diff_row(const struct diff_group *g, double alpha, double fail_pct, struct diff_row *r);

/* The smallest two-sided p-value na against nb repeats can reach (exact test, no ties). */
double iolens__diff_min_p(size_t na, size_t nb);

/*
 * Load both sides (db: --db or NULL for the default, needed only for run ids
 * and labels) and group them. 0, or with the reason in d->err: 1 (the
 * database cannot be read) or 2 (a usage error: no such run, label or file,
 * not an iolens file).
 */
int iolens__diff_load(struct diff *d, const char *db);

void iolens__diff_free(struct diff *d);

#endif
