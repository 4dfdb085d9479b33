/*
 * iolens compare: the main job. A fixed matrix of disk and socket workloads
 * over every available backend, on a temporary file and the built-in peers,
 * in about a minute; prints a table and a verdict per workload and writes
 * results/<timestamp>/ with results.json, results.csv and the plots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_compare.h"
#include "cli_results.h"
#include "store.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

#define MAX_RESULTS 256

struct cell {
	const char *title;
	int kind;
	uint32_t bs;
	unsigned depth, conns;
	int direct;
};

static const struct cell cells[] = {
	{ "page-cached 4 KiB random read, depth 1", IOLENS_WL_RANDREAD, 4096, 1, 0, 0 },
	{ "page-cached 4 KiB random read, depth 32", IOLENS_WL_RANDREAD, 4096, 32, 0, 0 },
	{ "O_DIRECT 4 KiB random read, depth 32", IOLENS_WL_RANDREAD, 4096, 32, 0, 1 },
	{ "page-cached 128 KiB sequential read, depth 1", IOLENS_WL_READ, 131072, 1, 0, 0 },
	/* Socket cells: the title gets the connections as run (--quick runs fewer). */
	{ "echo", IOLENS_WL_ECHO, 0, 1, 1, 0 },
	{ "echo", IOLENS_WL_ECHO, 0, 1, 64, 0 },
	{ "serve", IOLENS_WL_SERVE, 0, 1, 1000, 0 },
	{ "stream", IOLENS_WL_STREAM, 0, 1, 1, 0 },
};
#define NCELLS (sizeof(cells) / sizeof(cells[0]))

static volatile int *stopped; /* set by SIGINT or SIGTERM (iolens__catch_stop) */

static const char help[] =
	"usage: iolens compare [--quick] [--out DIR] [--notes] [--db PATH | --no-db]\n"
	"                      [--label TEXT]\n"
	"\n"
	"Runs the default comparison: page-cached 4 KiB random reads at depth 1 and\n"
	"32, O_DIRECT 4 KiB random reads at depth 32, 128 KiB sequential reads, and\n"
	"echo at 1 and 64 connections, serve at 1,000 and a stream, each on every\n"
	"available backend, on a temporary file and the built-in peers. Prints a\n"
	"table and a verdict per workload and writes results.json, results.csv and\n"
	"the plots.\n"
	"Each backend runs a 300 ms window after 100 ms of warmup on a 256 MiB file,\n"
	"then a second, counted pass for the syscalls and the measured model.\n"
	"\n"
	"  --quick     a short version: 100 ms windows, no warmup, a 32 MiB file,\n"
	"              serve with 100 connections\n"
	"  --out DIR   where to write (default results/<UTC time>)\n"
	"  --db PATH   record the run in this results database (default $IOLENS_DB,\n"
	"              else $XDG_DATA_HOME/iolens/results.db); --no-db: record nothing\n"
	"  --label TEXT name the run in the database, for history and diff\n"
	"  -v, --notes print each backend's notes under each table and verdict:\n"
	"              counters, syscalls by name, the model's evidence (always in\n"
	"              results.json)\n";

/* The progress line on stderr: cell, backend, pass, elapsed, time left. */
struct progress {
	size_t cell, done, total; /* passes */
	const char *title;
	double t_start;
};

static void on_pass(void *arg, const char *spec, int pass)
{
	struct progress *p = arg;
	double el = iolens__now_s() - p->t_start;

	fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s%s, %.0f s elapsed", p->cell + 1, NCELLS,
		p->title, spec, pass ? " (counting syscalls)" : "", el);
	if (p->done)
		fprintf(stderr, ", about %.0f s left",
			el / (double)p->done * (double)(p->total - p->done));
	p->done++;
}

int iolens__cli_compare(int argc, char **argv, const char *cmdline)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "notes", no_argument, NULL, 'v' },
		{ "db", required_argument, NULL, 'd' },
		{ "no-db", no_argument, NULL, 'n' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct iolens_result *res[MAX_RESULTS];
	const struct iolens_backend_info *b;
	const char *specs[32];
	size_t nb = iolens_backends(&b), nspecs = 0, nres = 0;
	const char *out = NULL;
	struct iolens__results rd;
	char err[512];
	struct iolens_meta meta;
	struct progress prog = { 0 };
	struct iolens__store_args store = { 0 };
	struct iolens__store_run run = { .kind = "compare" };
	char *table_text = NULL;
	size_t table_len;
	FILE *tables;
	int quick = 0, notes = 0, c, failed = 0, tty = isatty(STDERR_FILENO);

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:hv", opts, NULL)) != -1) {
		if (c == 'q')
			quick = 1;
		else if (c == 'o')
			out = optarg;
		else if (c == 'v')
			notes = 1;
		else if (c == 'd' || c == 'n' || c == 'l') {
			if (iolens__store_opt(&store, c == 'd' ? "db" : c == 'n' ? "no-db" : "label", optarg))
				return 2;
		}
		else if (c == 'h')
			return fputs(help, stdout), 0;
		else if (c == ':')
			return iolens__usage("%s needs a value (accepts --quick, --out DIR, --notes, --db PATH, --no-db, --label TEXT)", argv[optind - 1]);
		else
			return iolens__usage("compare: unknown option '%s' (accepts --quick, --out DIR, --notes, --db PATH, --no-db, --label TEXT)",
				     argv[optind - 1]);
	}
	if (optind < argc)
		return iolens__usage("compare: unexpected argument '%s' (accepts --quick, --out DIR, --notes, --db PATH, --no-db, --label TEXT)",
			     argv[optind]);
	if (iolens__store_opt_check(&store) || iolens__results_open(&rd, out, ""))
		return 2;
	tables = open_memstream(&table_text, &table_len);
	for (size_t i = 0; i < nb && nspecs < 32; i++)
		if (b[i].available)
			specs[nspecs++] = b[i].name;
	stopped = iolens__catch_stop();
	iolens_meta_collect(&meta, cmdline);
	prog.t_start = iolens__now_s();
	prog.total = NCELLS * nspecs * 2;
	for (size_t k = 0; k < NCELLS && !*stopped; k++) {
		const struct cell *cl = &cells[k];
		struct iolens_workload w;
		struct iolens_target *t = NULL;
		size_t first = nres;
		char title[96], *text;
		int r;

		iolens_workload_init(&w);
		w.kind = cl->kind;
		w.depth = cl->depth;
		w.time_s = quick ? 0.1 : 0.3;
		w.warmup_s = quick ? 0 : 0.1;
		w.stop = stopped;
		w.trace = 200; /* the timeline plot */
		if (tty) {
			prog.cell = k;
			prog.title = title;
			w.on_pass = on_pass;
			w.on_pass_arg = &prog;
		}
		if (cl->bs)
			w.bs = cl->bs;
		w.size = quick ? 32ull << 20 : 256ull << 20;
		w.direct = cl->direct;
		if (cl->conns)
			w.conns = quick && cl->conns > 100 ? 100 : cl->conns;
		if (w.conns >= 1000)
			snprintf(title, sizeof(title), "%s, %u,%03u connections", cl->title,
				 w.conns / 1000, w.conns % 1000);
		else if (cl->conns)
			snprintf(title, sizeof(title), "%s, %u connection%s", cl->title, w.conns,
				 w.conns == 1 ? "" : "s");
		else
			snprintf(title, sizeof(title), "%s", cl->title);
		r = iolens_target_open(&t, &w, err, sizeof(err));
		if (r) {
			fprintf(stderr, "%siolens: %s: %s\n", tty ? "\r\033[K" : "", title, err);
			failed = 1;
			continue;
		}
		if (nres + nspecs > MAX_RESULTS ||
		    iolens_run_many(t, &w, specs, nspecs, res + nres, err, sizeof(err))) {
			fprintf(stderr, "%siolens: %s: %s\n", tty ? "\r\033[K" : "", title, err);
			iolens_target_close(t);
			failed = 1;
			continue;
		}
		for (size_t i = 0; i < nspecs; i++)
			failed |= res[nres++]->status == IOLENS_STATUS_ERROR;
		iolens_target_close(t);
		if (tty)
			fputs("\r\033[K", stderr);
		printf("\n== %s\n", title);
		text = iolens__table_show(res + first, nres - first, notes ? IOLENS_TABLE_NOTES : 0, stdout);
		if (tables)
			fprintf(tables, "\n== %s\n%s", title, text ? text : "");
		free(text);
		fflush(stdout);
	}
	if (tty)
		fputs("\r\033[K", stderr);
	meta.interrupted = *stopped;
	failed |= iolens__results_write(&rd, &meta, res, nres, iolens__now_s() - prog.t_start);
	if (tables && !fclose(tables))
		run.table = table_text;
	run.label = store.label;
	iolens__store_save(&store, &run, &meta, res, nres, stdout);
	free(table_text);
	if (nres && rd.json_written)
		iolens__plots(rd.dir);
	for (size_t i = 0; i < nres; i++)
		iolens_result_free(res[i]);
	/* The status the results tell: a signal during the plots does not unsay them. */
	return meta.interrupted ? 130 : failed;
}
