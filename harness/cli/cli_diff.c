/*
 * iolens diff BASE NEW: one row per pair of results (same workload
 * parameters, same backend), with the relative change of the median IOPS,
 * p50, p99, CPU/op and syscalls/op and, with repeats on both sides, the
 * Mann-Whitney U test of the deciding figure (IOPS; p50 for an open loop,
 * whose rate the generator sets). Environment and parameter differences
 * come first, as they decide whether the rest means anything.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "cli_opts.h"
#include "cli_output.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

#define MIN_REPEATS 5

static const char *const metric_key[M__N] = { "iops", "p50_ns", "p99_ns", "cpu_per_op_ns",
					      "syscalls_per_op" };

struct diff_opts {
	double alpha, fail_pct; /* fail_pct < 0: not asked */
	int format;             /* 0 table, 1 markdown, 2 json */
};

static void fmt_change(char *out, size_t len, double c)
{
	if (isnan(c))
		snprintf(out, len, "n/a");
	else
		snprintf(out, len, "%+.1f%%", c * 100);
}

static void fmt_iops(char *out, size_t len, double v)
{
	if (isnan(v))
		snprintf(out, len, "n/a");
	else if (v >= 1e6)
		snprintf(out, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, len, "%.1fk", v / 1e3);
	else
		snprintf(out, len, "%.0f", v);
}

static void fmt_p(char *out, size_t len, double p)
{
	if (isnan(p))
		snprintf(out, len, "-");
	else if (p < 0.001)
		snprintf(out, len, "<0.001");
	else
		snprintf(out, len, "%.3f", p);
}

static void spec_pair(const struct diff_group *g, char *out, size_t len)
{
	if (!g->n[0] || !g->n[1] || !strcmp(g->spec[0], g->spec[1]))
		snprintf(out, len, "%s", g->n[0] ? g->spec[0] : g->spec[1]);
	else
		snprintf(out, len, "%s -> %s", g->spec[0], g->spec[1]);
}

/* The lines that come before the rows, as text or Markdown. */
static void preamble(const struct diff *d, int md)
{
	const char *item = md ? "- " : "  ";

	for (int s = 0; s < 2; s++) {
		printf("%s%s %s, %zu results", md ? "- " : "", s ? "new: " : "base:", d->side[s].what,
		       d->side[s].results);
		if (d->side[s].interrupted)
			printf(" (and %zu of interrupted runs, left out)", d->side[s].interrupted);
		printf("\n");
	}
	printf("\n%s\n", md ? "**Environment differences**" : "environment differences:");
	if (!d->nenv)
		printf("%snone\n", item);
	for (size_t i = 0; i < d->nenv; i++)
		printf("%s%s\n", item, d->env[i]);
	printf("\n%s\n", md ? "**Parameter differences**" : "parameter differences:");
	if (!d->npar)
		printf("%snone: every pair ran the same comparison\n", item);
	for (size_t i = 0; i < d->npar; i++)
		printf("%s%s\n", item, d->par[i]);
	printf("\n");
}

static void print_rows(const struct diff *d, const struct diff_row *rows, int md, double alpha)
{
	const char *hfmt = md ? "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n"
			      : "%-26s %-30s %5s %9s %9s %8s %8s %8s %8s %8s %7s  %s\n";

	printf(hfmt, "workload", "backend", "n", "IOPS base", "IOPS new", "IOPS", "p50", "p99",
	       "CPU/op", "sc/op", "p", "verdict");
	if (md)
		printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < d->ng; i++) {
		const struct diff_group *g = &d->g[i];
		const struct diff_row *r = &rows[i];
		char spec[260], n[24], ib[16], in[16], c[M__N][16], p[16];

		spec_pair(g, spec, sizeof(spec));
		snprintf(n, sizeof(n), "%zu/%zu", g->n[0], g->n[1]);
		fmt_iops(ib, sizeof(ib), r->med[0][M_IOPS]);
		fmt_iops(in, sizeof(in), r->med[1][M_IOPS]);
		for (int m = 0; m < M__N; m++)
			fmt_change(c[m], sizeof(c[m]), r->change[m]);
		fmt_p(p, sizeof(p), r->p[r->decide]);
		printf(hfmt, g->title, spec, n, ib, in, c[M_IOPS], c[M_P50], c[M_P99], c[M_CPU],
		       c[M_SC], p, iolens__diff_verdict_name[r->v]);
	}
	printf("\nChanges are of the medians, new against base; p is the two-sided Mann-Whitney U\n"
	       "test of IOPS (of p50 for an open loop, whose rate is set); verdicts at alpha %g.\n",
	       alpha);
}

/* A JSON number, or null for what was not measured. */
static void jnum(double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", stdout);
	else
		printf("%.6g", v);
}

static void jlist(const char *name, char **items, size_t n)
{
	printf(",\n  \"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		printf(i ? ", " : "");
		iolens_json_string(stdout, items[i]);
	}
	printf("]");
}

static void print_json(const struct diff *d, const struct diff_row *rows, const struct diff_opts *o,
		       char **warn, size_t nwarn, int regression)
{
	printf("{\n  \"schema\": \"iolens-diff/1\",\n  \"alpha\": ");
	jnum(o->alpha);
	printf(",\n  \"fail_if_slower_pct\": ");
	jnum(o->fail_pct < 0 ? NAN : o->fail_pct);
	for (int s = 0; s < 2; s++) {
		printf(",\n  \"%s\": {\"what\": ", s ? "new" : "base");
		iolens_json_string(stdout, d->side[s].what);
		printf(", \"results\": %zu, \"interrupted_left_out\": %zu}", d->side[s].results,
		       d->side[s].interrupted);
	}
	jlist("environment", d->env, d->nenv);
	jlist("parameters", d->par, d->npar);
	jlist("warnings", warn, nwarn);
	printf(",\n  \"regression\": %s,\n  \"rows\": [", regression ? "true" : "false");
	for (size_t i = 0; i < d->ng; i++) {
		const struct diff_group *g = &d->g[i];
		const struct diff_row *r = &rows[i];

		printf("%s\n    {\"workload\": ", i ? "," : "");
		iolens_json_string(stdout, g->title);
		printf(", \"base_spec\": ");
		g->n[0] ? iolens_json_string(stdout, g->spec[0]) : (void)fputs("null", stdout);
		printf(", \"new_spec\": ");
		g->n[1] ? iolens_json_string(stdout, g->spec[1]) : (void)fputs("null", stdout);
		printf(", \"n_base\": %zu, \"n_new\": %zu, \"same_comparison\": %s, \"decided_by\": \"%s\","
		       " \"verdict\": \"%s\", \"regression\": %s, \"figures\": {", g->n[0], g->n[1],
		       g->n[0] && g->n[1] && !strcmp(g->chash[0], g->chash[1]) ? "true" : "false",
		       metric_key[r->decide], iolens__diff_verdict_name[r->v], r->regression ? "true" : "false");
		for (int m = 0; m < M__N; m++) {
			printf("%s\"%s\": {\"base\": ", m ? ", " : "", metric_key[m]);
			jnum(r->med[0][m]);
			printf(", \"new\": ");
			jnum(r->med[1][m]);
			printf(", \"change\": ");
			jnum(r->change[m]);
			printf(", \"p\": ");
			jnum(r->p[m]);
			printf("}");
		}
		printf("}}");
	}
	printf("\n  ]\n}\n");
}

static const char diff_help[] =
	"Usage: iolens diff BASE NEW [--alpha A] [--fail-if-slower PCT] [--strict]\n"
	"                   [--json | --markdown] [--db PATH]\n"
	"What changed from BASE to NEW. Each is a run id, a label (every run with it:\n"
	"the repeats of bench.sh --repeats N or run --repeat N) or an iolens JSON file.\n"
	"One row per workload and backend found on both sides, with the change of the\n"
	"median IOPS, p50, p99, CPU/op and syscalls/op and, with 2 or more repeats a\n"
	"side, the Mann-Whitney U p-value and a verdict: faster, slower or no\n"
	"significant change. Results pair when their workload parameters and backend\n"
	"match; differences in backend options or other parameters are listed first.\n"
	"  --alpha A            significance level, 0 < A < 1 (default 0.05)\n"
	"  --fail-if-slower PCT exit 1 when a row is significantly slower by PCT%% or\n"
	"                       more (0..1000)\n"
	"  --strict             pair only identical comparisons (same comparison hash:\n"
	"                       tool, every parameter, backend options); the rest unpaired\n"
	"  --json, --markdown   the report as JSON or as Markdown instead of a table\n"
	"Exit status: 0, 1 a regression beyond --fail-if-slower (or a database that\n"
	"cannot be read), 2 bad usage or nothing to pair.\n";

static int parse(int argc, char **argv, struct diff_opts *o, struct diff *d, const char **db)
{
	static const struct option opts[] = {
		{ "alpha", required_argument, NULL, 'a' }, { "fail-if-slower", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "markdown", no_argument, NULL, 'm' }, { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (iolens__parse_decimal(optarg, &o->alpha) || o->alpha <= 0 || o->alpha >= 1)
				return iolens__usage("--alpha: '%s' (accepts a number between 0 and 1, like 0.05)",
						     optarg);
			break;
		case 'f':
			if (iolens__parse_decimal(optarg, &o->fail_pct) || o->fail_pct > 1000)
				return iolens__usage("--fail-if-slower: '%s' (accepts a percentage 0 to 1000, like 5)",
						     optarg);
			break;
		case 's': d->strict = 1; break;
		case 'd': *db = optarg; break;
		case 'j':
		case 'm':
			if (o->format)
				return iolens__usage("diff: --json and --markdown: give one of them");
			o->format = c == 'j' ? 2 : 1;
			break;
		case 'h':
			fputs(diff_help, stdout);
			return -1;
		case ':':
			return iolens__usage("%s needs a value (see iolens diff --help)", argv[optind - 1]);
		default:
			return iolens__usage("diff: unknown option '%s' (see iolens diff --help)",
					     argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return iolens__usage("diff: needs BASE and NEW, %s (each a run id, a label or an iolens JSON file)",
				     argc - optind < 2 ? "got fewer" : "got more");
	d->side[0].arg = argv[optind];
	d->side[1].arg = argv[optind + 1];
	return 0;
}

/* Warnings the rows earn: too few repeats for the test to say much. */
static size_t warnings(const struct diff *d, char **warn, size_t max)
{
	size_t n = 0, lo[2] = { (size_t)-1, (size_t)-1 };

	for (size_t i = 0; i < d->ng; i++)
		for (int s = 0; s < 2 && d->g[i].n[0] && d->g[i].n[1]; s++)
			if (d->g[i].n[s] < lo[s])
				lo[s] = d->g[i].n[s];
	if (lo[0] == (size_t)-1 || (lo[0] >= MIN_REPEATS && lo[1] >= MIN_REPEATS) || n >= max)
		return n;
	if (lo[0] < 2 || lo[1] < 2) {
		if (asprintf(&warn[n], "fewer than 2 repeats a side: no significance test (use "
			     "bench.sh --repeats %d or run --repeat %d)", MIN_REPEATS, MIN_REPEATS) >= 0)
			n++;
	} else if (asprintf(&warn[n], "only %zu and %zu repeats: the smallest p-value they can give "
			    "is %.3f; use %d or more a side", lo[0], lo[1], iolens__diff_min_p(lo[0], lo[1]),
			    MIN_REPEATS) >= 0) {
		n++;
	}
	return n;
}

int iolens__cli_diff(int argc, char **argv)
{
	struct diff_opts o = { .alpha = 0.05, .fail_pct = -1 };
	struct diff d;
	struct diff_row *rows = NULL;
	const char *db = NULL;
	char *warn[4];
	size_t nwarn = 0, paired = 0;
	int r, regression = 0;

	memset(&d, 0, sizeof(d));
	r = parse(argc, argv, &o, &d, &db);
	if (r)
		return r < 0 ? 0 : r;
	r = iolens__diff_load(&d, db);
	if (r == 2)
		iolens__usage("diff: %s", d.err);
	else if (r)
		fprintf(stderr, "iolens: diff: %s\n", d.err);
	if (!r && !(rows = calloc(d.ng + 1, sizeof(*rows))))
		r = 1;
	for (size_t i = 0; !r && i < d.ng; i++) {
		iolens__diff_row(&d.g[i], o.alpha, o.fail_pct, &rows[i]);
		paired += d.g[i].n[0] && d.g[i].n[1];
		regression |= rows[i].regression;
	}
	if (!r && !paired)
		r = iolens__usage("diff: no result of %s pairs with one of %s (same workload parameters and backend)",
				  d.side[0].what, d.side[1].what);
	if (!r) {
		nwarn = warnings(&d, warn, 4);
		if (o.format == 2) {
			print_json(&d, rows, &o, warn, nwarn, regression);
		} else {
			preamble(&d, o.format == 1);
			print_rows(&d, rows, o.format == 1, o.alpha);
			for (size_t i = 0; i < nwarn; i++)
				printf("%s%s\n", o.format == 1 ? "\n> **warning:** " : "warning: ", warn[i]);
			if (regression)
				printf("%sregression: significantly slower by %g%% or more (--fail-if-slower)\n",
				       o.format == 1 ? "\n" : "", o.fail_pct);
		}
		r = regression;
	}
	for (size_t i = 0; i < nwarn; i++)
		free(warn[i]);
	free(rows);
	iolens__diff_free(&d);
	return r;
}
