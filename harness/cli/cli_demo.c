/*
 * iolens demo: five lessons, each a few sentences around figures measured
 * in this run. Nothing printed is canned: every expectation in the text is
 * printed beside the measured value, and each conclusion is computed from
 * the figures, so a machine that contradicts a lesson says so.
 *
 *  1. slow remote calls: N requests to a responder that answers after D,
 *     one at a time on a blocking connection (about N x D) against all in
 *     flight on poll, epoll and io_uring (about D), traced for the timeline;
 *  2. I/O-bound against CPU-bound: echo with growing think time; async
 *     helps while the job waits, a second job helps once it computes;
 *  3. what non-blocking means for files, from the system calls themselves
 *     on a temporary file, then the poll backend on a cold file;
 *  4. threads or processes: blocking against blocking:procs, waiting and
 *     computing, with what one worker costs to start and to keep;
 *  5. what async/await costs: coroutines against the same loop with
 *     callbacks, on io_uring and on epoll, and threads.
 *
 * All runs go into one results.json and results.csv, then the plots.
 * This file is the command and the helpers the lessons share
 * (cli_demo_kit.h); each lesson is a file of its own: cli_demo_calls.c,
 * cli_demo_cpu.c, cli_demo_files.c, cli_demo_procs.c, cli_demo_coro.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli_demo.h"
#include "cli_demo_kit.h"
#include "cli_results.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "iolens/iolens.h"
#include "store.h"

static const char help[] =
    "usage: iolens demo [--quick] [--out DIR] [--lesson 1-5]\n"
    "\n"
    "A guided run: five lessons, each a few sentences around figures measured\n"
    "now, on this machine, and a conclusion computed from them.\n"
    "\n"
    "  1  slow remote calls: 20 requests to a responder that answers after\n"
    "     50 ms, one at a time on a blocking connection, then all in flight\n"
    "     on poll, epoll and io_uring (traced, for the timeline plot)\n"
    "  2  I/O-bound versus CPU-bound: echo on 64 connections with 0, 20 and\n"
    "     100 us of computing per request, one request at a time, on epoll\n"
    "     and io_uring, and io_uring with a second job\n"
    "  3  what non-blocking means for files: poll, epoll, a cold read and\n"
    "     RWF_NOWAIT on a temporary file, then the poll backend on a cold file\n"
    "  4  threads or processes: blocking and blocking:procs with 16 workers\n"
    "     that wait on a responder, then 1 and 2 workers that compute; what a\n"
    "     worker costs to start and to keep\n"
    "  5  what async/await costs: coroutines on io_uring and on epoll against\n"
    "     the same loops with callbacks, and a thread per connection\n"
    "\n"
    "  --quick       a short version (a few seconds; still real measurements)\n"
    "  --out DIR     where to write results.json, results.csv and the plots\n"
    "                (default results/demo-<UTC time>)\n"
    "  --lesson N    run lesson N only (1 to 5)\n"
    "  --db PATH     record the results in this results database (default\n"
    "                $IOLENS_DB, else $XDG_DATA_HOME/iolens/results.db)\n"
    "  --no-db       record nothing\n"
    "  --label TEXT  name the run in the database, for history and diff\n"
    "\n"
    "Exit status: 0 ok, 1 a run failed, 2 bad usage, 130 interrupted.\n";


/* A paragraph wrapped at WIDTH: the first line starts with `first`, the others with `next`. */
void iolens__demo_say(const char *first, const char *next, const char *fmt, ...)
{
	const char *ind = first, *p;
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (p = text; *p;) {
		size_t room = WIDTH - strlen(ind), cut = strlen(p);

		if (cut > room) {
			for (cut = room; cut > 0 && p[cut] != ' '; cut--)
				;
			if (!cut) /* one word longer than the line */
				for (cut = room; p[cut] && p[cut] != ' '; cut++)
					;
		}
		printf("%s%.*s\n", ind, (int)cut, p);
		for (p += cut; *p == ' '; p++)
			;
		ind = next;
	}
}

/* A duration for people: "1.012 s", "50.3 ms", "4.1 us". */
const char *iolens__demo_dur(char *buf, size_t len, double s)
{
	if (s >= 1)
		snprintf(buf, len, "%.3f s", s);
	else if (s >= 1e-3)
		snprintf(buf, len, "%.1f ms", s * 1e3);
	else
		snprintf(buf, len, "%.1f us", s * 1e6);
	return buf;
}

/* An expectation "about X" held when the measured value is within -10% / +50% of it. */
int iolens__demo_held(double measured, double expected)
{
	return measured >= 0.9 * expected && measured <= 1.5 * expected;
}

const char *iolens__demo_errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

int iolens__demo_ok(const struct iolens_result *r)
{
	return r && r->status == IOLENS_STATUS_OK && r->ops > 0 && !r->interrupted;
}

int iolens__demo_open_target(struct demo *d, struct iolens_target **t,
			     const struct iolens_workload *w)
{
	char err[512];

	if (iolens_target_open(t, w, err, sizeof(err))) {
		printf("  could not prepare the workload: %s\n", err);
		d->failed = 1;
		*t = NULL;
		return -1;
	}
	return 0;
}

/* Run specs; the results join the run's list and are also stored in out[]. */
void iolens__demo_cell(double v, const char *fmt, int width)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else
		printf(fmt, v);
}

void iolens__demo_echo(const struct demo *d, struct iolens_workload *w, int count)
{
	iolens_workload_init(w);
	w->kind = IOLENS_WL_ECHO;
	w->time_s = d->quick ? 0.2 : 1.0;
	w->ops = 0;
	w->count = count;
	w->stop = d->stopped;
}

int iolens__demo_run(struct demo *d, struct iolens_target *t, const struct iolens_workload *w,
	       const char *const *specs, size_t n, struct iolens_result **out)
{
	char err[512];

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (d->nres + n > MAX_RESULTS) {
		printf("  not run: more than %d results in one demo\n", MAX_RESULTS);
		d->failed = 1;
		return -1;
	}
	if (iolens_run_many(t, w, specs, n, d->res + d->nres, err, sizeof(err))) {
		printf("  not run: %s\n", err[0] ? err : "out of memory");
		d->failed = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = d->res[d->nres + i];
		d->failed |= out[i]->status == IOLENS_STATUS_ERROR;
	}
	d->nres += n;
	return 0;
}

/* One line for a result that did not run, or NULL when it did. */
const char *iolens__demo_not_ok(const struct iolens_result *r, char *buf, size_t len)
{
	if (!r)
		return "not run";
	if (r->status == IOLENS_STATUS_SKIPPED)
		snprintf(buf, len, "skipped: %s", r->reason);
	else if (r->status == IOLENS_STATUS_ERROR)
		snprintf(buf, len, "error: %s", r->reason);
	else if (r->status == IOLENS_STATUS_NOT_RUN)
		snprintf(buf, len, "%s", r->reason);
	else if (r->interrupted)
		snprintf(buf, len, "interrupted after %llu operations", (unsigned long long)r->ops);
	else if (!r->ops)
		snprintf(buf, len, "no operations completed");
	else
		return NULL;
	return buf;
}

/* ------------------------------------------------------------------ command */

/*
 * Into the results database: the lessons are prose, so what it keeps as
 * the printed table is the table of each lesson's results, as run prints it.
 */
static void record(const struct iolens__store_args *store, const struct iolens_meta *meta,
		   const struct demo *d)
{
	struct iolens__store_run run = {.kind = "demo", .label = store->label};
	char *text = NULL;
	size_t len;
	FILE *f = store->no_db ? NULL : open_memstream(&text, &len);

	for (size_t i = 0, j; f && i < d->nres; i = j) {
		char *t;

		for (j = i + 1; j < d->nres && d->res[j]->workload.kind == d->res[i]->workload.kind; j++)
			;
		t = iolens__table_show(d->res + i, j - i, 0, NULL);
		fprintf(f, "%s%s", i ? "\n" : "", t ? t : "");
		free(t);
	}
	if (f && !fclose(f))
		run.table = text;
	iolens__store_save(store, &run, meta, d->res, d->nres, stdout);
	free(text);
}

int iolens__cli_demo(int argc, char **argv, const char *cmdline)
{
	static const struct option opts[] = {
	    {"quick", no_argument, NULL, 'q'},
	    {"out", required_argument, NULL, 'o'},
	    {"lesson", required_argument, NULL, 'l'},
	    {"db", required_argument, NULL, 'd'},
	    {"no-db", no_argument, NULL, 'n'},
	    {"label", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char accepts[] =
	    "accepts --quick, --out DIR, --lesson 1-5, --db PATH, --no-db, --label TEXT";
	struct iolens__store_args store = {0};
	struct demo d = {0};
	struct iolens_meta meta;
	const char *out = NULL;
	struct iolens__results rd;
	int c, lesson = 0;
	double t_start;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'q') {
			d.quick = 1;
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'l') {
			if (strlen(optarg) != 1 || optarg[0] < '1' || optarg[0] > '5')
				return iolens__usage(
				    "--lesson: '%s' is not a lesson (accepts 1 to 5)", optarg);
			lesson = optarg[0] - '0';
		} else if (c == 'd' || c == 'n' || c == 'L') {
			if (iolens__store_opt(&store, c == 'd' ? "db" : c == 'n' ? "no-db" : "label",
					      optarg))
				return 2;
		} else if (c == 'h') {
			return fputs(help, stdout), 0;
		} else if (optopt == 'd' || optopt == 'L') {
			return iolens__usage("--%s needs a value (accepts %s)",
					     optopt == 'd' ? "db" : "label",
					     optopt == 'd' ? "a file path" : "text");
		} else if (optopt == 'l') {
			return iolens__usage("--lesson needs a value (accepts 1 to 5)");
		} else if (optopt == 'o') {
			return iolens__usage("--out needs a value (accepts a directory)");
		} else {
			return iolens__usage("demo: unknown option '%s' (%s)", argv[optind - 1],
					     accepts);
		}
	}
	if (optind < argc)
		return iolens__usage("demo: unexpected argument '%s' (%s)", argv[optind], accepts);
	if (iolens__store_opt_check(&store) || iolens__results_open(&rd, out, "demo-"))
		return 2;
	d.stopped = iolens__catch_stop();
	iolens_meta_collect(&meta, cmdline);
	d.cores = meta.cores;
	t_start = iolens__now_s();
	printf("iolens demo%s: every figure below was measured in this run, on this machine\n"
	       "(%s, %u cores, kernel %s).\n",
	       d.quick ? " --quick" : "", meta.hostname, meta.cores, meta.kernel);
	if (!*d.stopped && (!lesson || lesson == 1))
		iolens__demo_calls(&d);
	fflush(stdout);
	if (!*d.stopped && (!lesson || lesson == 2))
		iolens__demo_cpu(&d);
	fflush(stdout);
	if (!*d.stopped && (!lesson || lesson == 3))
		iolens__demo_files(&d);
	fflush(stdout);
	if (!*d.stopped && (!lesson || lesson == 4))
		iolens__demo_procs(&d);
	fflush(stdout);
	if (!*d.stopped && (!lesson || lesson == 5))
		iolens__demo_coro(&d);
	if (*d.stopped)
		printf("\n(interrupted: the results so far are written, marked interrupted)\n");
	meta.interrupted = *d.stopped;
	d.failed |= iolens__results_write(&rd, &meta, d.res, d.nres, iolens__now_s() - t_start);
	record(&store, &meta, &d);
	if (d.nres && !*d.stopped && rd.json_written) {
		char png[4200];

		iolens__plots(rd.dir);
		snprintf(png, sizeof(png), "%s/6-timeline-echo.png", rd.dir);
		if ((!lesson || lesson == 1) && !access(png, R_OK))
			printf(
			    "lesson 1's timeline: %s (one request at a time, then all in flight)\n",
			    png);
	}
	for (size_t i = 0; i < d.nres; i++)
		iolens_result_free(d.res[i]);
	/* The status the results tell: a signal during the plots does not unsay them. */
	return meta.interrupted ? 130 : d.failed;
}
