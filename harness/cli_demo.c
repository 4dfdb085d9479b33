/*
 * iolens demo: three lessons, each a few sentences around figures measured
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
 *     on a temporary file, then the poll backend on a cold file.
 *
 * All runs go into one results.json and results.csv, then the plots.
 *
 * Why one file of ~1,000 lines: the three lessons share one results list
 * and printing helpers; issue 18 (the wing layout) splits it into one file
 * per lesson under the CLI's wing.
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
#include "cli_results.h"
#include "cli_usage.h"
#include "iolens/iolens.h"
#include "report.h"

#define MAX_RESULTS 64
#define L3_BLOCKS_MAX 64
#define L3_BS 4096
#define WIDTH 78 /* the narrative is wrapped at this column */

static volatile int *stopped; /* set by SIGINT or SIGTERM (iolens__catch_stop) */

static const char help[] =
    "usage: iolens demo [--quick] [--out DIR] [--lesson 1|2|3]\n"
    "\n"
    "A guided run: three lessons, each a few sentences around figures measured\n"
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
    "\n"
    "  --quick       a short version (a few seconds; still real measurements)\n"
    "  --out DIR     where to write results.json, results.csv and the plots\n"
    "                (default results/demo-<UTC time>)\n"
    "  --lesson N    run lesson N only (1, 2 or 3)\n"
    "\n"
    "Exit status: 0 ok, 1 a run failed, 2 bad usage, 130 interrupted.\n";

struct demo {
	int quick;
	unsigned cores;
	int failed;
	struct iolens_result *res[MAX_RESULTS];
	size_t nres;
};

static void say(const char *first, const char *next, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A paragraph wrapped at WIDTH: the first line starts with `first`, the others with `next`. */
static void say(const char *first, const char *next, const char *fmt, ...)
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
static const char *dur(char *buf, size_t len, double s)
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
static int held(double measured, double expected)
{
	return measured >= 0.9 * expected && measured <= 1.5 * expected;
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static int ok(const struct iolens_result *r)
{
	return r && r->status == IOLENS_STATUS_OK && r->ops > 0 && !r->interrupted;
}

static int open_target(struct demo *d, struct iolens_target **t, const struct iolens_workload *w)
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
static int run(struct demo *d, struct iolens_target *t, const struct iolens_workload *w,
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
static const char *not_ok(const struct iolens_result *r, char *buf, size_t len)
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

/* ------------------------------------------------------------------ lesson 1 */

static void l1_row(const struct iolens_result *r)
{
	char why[300], a[32], b[32];
	const char *no = not_ok(r, why, sizeof(why));

	if (!r) /* not run: interrupted before it, or the run could not start (said above) */
		return;
	if (no) {
		printf("  %-9s %s\n", r->backend, no);
		return;
	}
	printf("  %-9s %5u %8llu %11s %12s %9.1f   %s\n", r->backend, r->workload.conns,
	       (unsigned long long)r->ops, dur(a, sizeof(a), r->seconds),
	       dur(b, sizeof(b), (double)r->lat.p50 / 1e9), r->model.concurrency,
	       r->model.measured[0] ? r->model.measured : "not measured");
}

static void lesson1(struct demo *d)
{
	static const char *const blocking[] = {"blocking"};
	static const char *const async[] = {"poll", "epoll", "io_uring"};
	unsigned n = d->quick ? 10 : 20;
	double delay = d->quick ? 0.020 : 0.050;
	struct iolens_result *rb = NULL, *ra[3] = {NULL, NULL, NULL};
	struct iolens_target *t;
	struct iolens_workload w;
	char x[32], y[32], list[256] = "";
	double lo = INFINITY, hi = 0;
	const char *fastest = NULL;
	int nok = 0, all_held = 1;

	printf("\n== Lesson 1: slow remote calls\n\n");
	say("", "",
	    "A program needs %u answers from a service that takes %.0f ms to reply to each. "
	    "Asked one after another on one blocking connection, it waits %u times in a row: "
	    "about %u x %.0f ms = %s. With all %u requests in flight at once (%u connections "
	    "on one thread; poll, epoll or io_uring tell it which answer has come), it waits "
	    "once: about %.0f ms. No request gets faster; the program just stops waiting in "
	    "line. (A thread per request would overlap the waits too: that is the blocking "
	    "backend with more connections.)",
	    n, delay * 1e3, n, n, delay * 1e3, dur(x, sizeof(x), n * delay), n, n, delay * 1e3);
	printf("\n");
	fflush(stdout);
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.delay_ns = (uint64_t)(delay * 1e9);
	w.time_s = 0;
	w.ops = n;
	w.conns = 1;
	w.trace = 4 * n; /* a send and a receive per request, with room: all of them */
	w.stop = stopped;
	if (open_target(d, &t, &w))
		return;
	run(d, t, &w, blocking, 1, &rb);
	w.conns = n;
	if (!*stopped)
		run(d, t, &w, async, 3, ra);
	iolens_target_close(t);
	printf("  %-9s %5s %8s %11s %12s %9s   %s\n", "backend", "conns", "requests", "total time",
	       "per request", "in flight", "model (measured)");
	l1_row(rb);
	for (int i = 0; i < 3; i++)
		l1_row(ra[i]);
	printf("\n");
	if (*stopped)
		return;
	if (ok(rb))
		say("  ", "    ", "expected about %s one at a time: measured %s (%s)",
		    dur(x, sizeof(x), n * delay), dur(y, sizeof(y), rb->seconds),
		    held(rb->seconds, n * delay) ? "held" : "did NOT hold");
	for (int i = 0; i < 3; i++) {
		size_t used = strlen(list);

		if (!ok(ra[i]))
			continue;
		snprintf(list + used, sizeof(list) - used, "%s %s %s", nok ? "," : "",
			 ra[i]->backend, dur(y, sizeof(y), ra[i]->seconds));
		all_held &= held(ra[i]->seconds, delay);
		nok++;
		if (ok(rb)) {
			double s = rb->seconds / ra[i]->seconds;

			if (s > hi) {
				hi = s;
				fastest = ra[i]->backend;
			}
			lo = s < lo ? s : lo;
		}
	}
	if (nok)
		say("  ", "    ", "expected about %s all in flight:%s (%s)",
		    dur(x, sizeof(x), delay), list, all_held ? "held" : "did NOT hold for all");
	printf("\n");
	if (!ok(rb)) {
		char why[300];

		say("  ", "  ", "Conclusion: none: one at a time did not run (%s).",
		    not_ok(rb, why, sizeof(why)));
	} else if (!nok)
		say("  ", "  ", "Conclusion: none: no backend ran with all %u in flight.", n);
	else if (lo >= 2)
		say("  ", "  ",
		    "Conclusion: all %u in flight: %.1fx faster than one at a time (%s); every "
		    "backend at least %.1fx. The wait was paid once, not %u times.",
		    n, hi, fastest, lo, n);
	else if (hi >= 2)
		say("  ", "  ",
		    "Conclusion: mixed: all %u in flight was %.1fx faster on %s, but only %.1fx on "
		    "another, which contradicts the lesson there.",
		    n, hi, fastest, lo);
	else
		say("  ", "  ",
		    "Conclusion: the measurement contradicts the lesson: all %u in flight was at "
		    "best %.1fx faster than one at a time.",
		    n, hi);
}

/* ------------------------------------------------------------------ lesson 2 */

/* One think time: one request at a time, epoll and io_uring at 64, the second job. */
struct l2row {
	uint64_t think_ns;
	struct iolens_result *base, *ep, *ur, *par;
	struct iolens_result *one; /* the 1-job run of the backend that also runs 2 jobs */
	double busy_par;	   /* cores busy on the whole machine during the 2-job run */
};

/* CPU time of the whole machine from /proc/stat, in clock ticks: busy and all. */
static int machine_cpu(unsigned long long *busy, unsigned long long *all)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "re");
	int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7])
		  : 0;

	if (f)
		fclose(f);
	if (n < 5)
		return -1;
	*all = 0;
	for (int i = 0; i < 8; i++)
		*all += v[i];
	*busy = *all - v[3] - v[4]; /* idle and iowait */
	return 0;
}

static void gain_cell(double g, const char *fmt)
{
	if (isnan(g))
		printf(" %8s", "-");
	else
		printf(fmt, g);
}

static void rate_cell(const struct iolens_result *r)
{
	if (ok(r))
		printf(" %10.0f", r->iops);
	else
		printf(" %10s", r && r->status == IOLENS_STATUS_SKIPPED ? "skipped" : "-");
}

static double ratio(const struct iolens_result *a, const struct iolens_result *b)
{
	return ok(a) && ok(b) ? a->iops / b->iops : NAN;
}

/* Cores busy in the process (not the responder: a child) over a result's window. */
static double cores_used(const struct iolens_result *r)
{
	return r->seconds > 0 ? (r->cpu_user_s + r->cpu_sys_s) / r->seconds : NAN;
}

/* A gain under this is within what one run's noise and a short wait can give: no help. */
#define HELPS 1.25

static void l2_conclude(const struct demo *d, const struct l2row *first, const struct l2row *last,
			const char *par)
{
	double g0 = ratio(first->one, first->base), gL = ratio(last->one, last->base);
	double j0 = ratio(first->par, first->one), jL = ratio(last->par, last->one);
	double ceil = 1e9 / (double)last->think_ns;
	unsigned tl = (unsigned)(last->think_ns / 1000);
	char a[400], b[400], c[400];
	double use;

	if (first == last || isnan(g0) || isnan(gL) || isnan(jL)) {
		printf("\n");
		say("  ", "  ",
		    "Conclusion: none: not every run at the first and the last think time "
		    "completed.");
		return;
	}
	use = last->one->iops / ceil;
	say("  ", "    ",
	    "expected one job at think %u us to come near its ceiling of %.0f req/s: measured "
	    "%.0f (%.0f%% of it; %s)",
	    tl, ceil, last->one->iops, use * 100,
	    use >= 0.6 && use <= 1.05 ? "held" : "did NOT hold");
	say("  ", "    ",
	    "expected a second job to about double that with %u cores: measured %.2fx (%s)",
	    d->cores, jL,
	    d->cores < 2 ? "one core: it cannot"
	    : jL >= 1.5	 ? "held"
			 : "did NOT hold");
	if (g0 >= HELPS)
		snprintf(a, sizeof(a),
			 "async helped while the work was waiting (%.1fx over one at "
			 "a time at think 0)",
			 g0);
	else
		snprintf(a, sizeof(a),
			 "async did not help even at think 0 (%.1fx over one at a "
			 "time), which contradicts the lesson",
			 g0);
	if (gL < g0 && gL < HELPS)
		snprintf(b, sizeof(b),
			 "it stopped helping once the job computed (%.1fx at think %u us, one job "
			 "at %.0f%% of its ceiling)",
			 gL, tl, use * 100);
	else if (gL <= g0 / 2)
		snprintf(b, sizeof(b),
			 "it helped less once the job computed (%.1fx at think %u us, one job at "
			 "%.0f%% of its ceiling; what is left is the waiting it still hides)",
			 gL, tl, use * 100);
	else
		snprintf(b, sizeof(b),
			 "it still helped at think %u us (%.1fx), which contradicts the lesson", tl,
			 gL);
	if (jL >= 1.3)
		snprintf(c, sizeof(c),
			 "a second %s job helped then: %.2fx (at think 0 it gave "
			 "%.2fx)",
			 par, jL, j0);
	else if (d->cores < 2)
		snprintf(c, sizeof(c), "a second job could not help on one core (%.2fx)", jL);
	else if (!isnan(last->busy_par))
		snprintf(
		    c, sizeof(c),
		    "a second job helped only %.2fx, which is not what the "
		    "lesson says: the two jobs got %.2f cores between them while the machine's "
		    "%u cores were %.2f busy (the responder and other processes took the rest)",
		    jL, cores_used(last->par), d->cores, last->busy_par);
	else
		snprintf(c, sizeof(c),
			 "a second job helped only %.2fx, which is not what the "
			 "lesson says: the two jobs got %.2f cores between them",
			 jL, cores_used(last->par));
	printf("\n");
	say("  ", "  ", "Conclusion: %s; %s; %s.", a, b, c);
}

static void lesson2(struct demo *d)
{
	static const char *const base[] = {"blocking"};
	static const char *const multi[] = {"epoll", "io_uring"};
	static const uint64_t full[] = {0, 20000, 100000}, quick[] = {0, 50000};
	const struct iolens_backend_info *uring = iolens_backend_find("io_uring");
	const char *par = uring && uring->available ? "io_uring" : "epoll";
	const uint64_t *thinks = d->quick ? quick : full;
	size_t nt = d->quick ? 2 : 3;
	unsigned conns = 64;
	struct l2row rows[3];
	struct iolens_target *t;
	struct iolens_workload w;
	char why[300], cpu[256] = "";
	int nrows = 0;

	printf("\n== Lesson 2: I/O-bound versus CPU-bound\n\n");
	say("", "",
	    "The same echo workload against the responder, now with a think time: T us of "
	    "computing (a spin) after each answer. While a request is on the wire the thread "
	    "has nothing to do, so keeping %u requests in flight on one thread (epoll, "
	    "io_uring) overlaps the waiting: async helps while the work is waiting. Here the "
	    "only waiting is a loopback round trip (its length is measured below), so there is "
	    "not much of it to hide. Once a request costs more computing than waiting, one "
	    "thread can finish at most 1 s / T of them however many are in flight: async stops "
	    "helping. Then a second thread on another core helps (parallelism, --jobs 2). This "
	    "machine has %u core%s, and the responder runs on them too. Each cell is requests "
	    "per second over a %.0f ms window.",
	    conns, d->cores, d->cores == 1 ? "" : "s", d->quick ? 200.0 : 1000.0);
	printf("\n");
	fflush(stdout);
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.time_s = d->quick ? 0.2 : 1.0;
	w.ops = 0;
	w.count = IOLENS_COUNT_OFF; /* the lesson is in the rates; no counting pass */
	w.stop = stopped;
	if (open_target(d, &t, &w))
		return;
	for (size_t i = 0; i < nt && !*stopped; i++) {
		struct l2row *r = &rows[nrows++];
		struct iolens_result *m[2];

		memset(r, 0, sizeof(*r));
		r->think_ns = thinks[i];
		w.think_ns = thinks[i];
		w.conns = 1;
		w.jobs = 1;
		run(d, t, &w, base, 1, &r->base);
		w.conns = conns;
		if (!*stopped && !run(d, t, &w, multi, 2, m)) {
			r->ep = m[0];
			r->ur = m[1];
		}
		w.jobs = 2;
		r->busy_par = NAN;
		if (!*stopped) {
			unsigned long long b0, a0, b1, a1;
			int have = !machine_cpu(&b0, &a0);

			run(d, t, &w, &par, 1, &r->par);
			if (have && !machine_cpu(&b1, &a1) && a1 > a0)
				r->busy_par = (double)(b1 - b0) / (double)(a1 - a0) * d->cores;
		}
		r->one = strcmp(par, "io_uring") ? r->ep : r->ur;
	}
	iolens_target_close(t);
	printf("  %8s %10s %10s %10s %11s %8s %8s %10s\n", "", "one at a", "epoll", "io_uring", par,
	       "async", "2nd job", "1-job CPU");
	printf("  %8s %10s %10s %10s %11s %8s %8s %10s\n", "think", "time", "64 conns", "64 conns",
	       "64, 2 jobs", "gain", "gain", "ceiling");
	for (int i = 0; i < nrows; i++) {
		struct l2row *r = &rows[i];
		size_t used = strlen(cpu);

		printf("  %5llu us", (unsigned long long)(r->think_ns / 1000));
		rate_cell(r->base);
		rate_cell(r->ep);
		rate_cell(r->ur);
		printf(" ");
		rate_cell(r->par);
		gain_cell(ratio(r->one, r->base), " %7.1fx");
		gain_cell(ratio(r->par, r->one), " %7.2fx");
		if (r->think_ns)
			printf(" %10.0f\n", 1e9 / (double)r->think_ns);
		else
			printf(" %10s\n", "none");
		if (ok(r->one) && ok(r->par))
			snprintf(cpu + used, sizeof(cpu) - used,
				 "%sthink %llu us: 1 job %.2f, 2 jobs %.2f", i ? "; " : "",
				 (unsigned long long)(r->think_ns / 1000), cores_used(r->one),
				 cores_used(r->par));
	}
	for (int i = 0; i < nrows; i++) {
		struct iolens_result *all[4] = {rows[i].base, rows[i].ep, rows[i].ur, rows[i].par};

		for (int k = 0; k < 4; k++)
			if (all[k] && not_ok(all[k], why, sizeof(why)))
				say("  ", "    ", "think %llu us, %s: %s",
				    (unsigned long long)(rows[i].think_ns / 1000), all[k]->backend,
				    why);
	}
	printf("\n");
	say("  ", "  ",
	    "async gain: %s with 64 connections over one request at a time (blocking, 1 "
	    "connection); 2nd job gain: %s with 2 jobs over 1 job; the ceiling is 1 s / think.",
	    par, par);
	if (nrows && ok(rows[0].base) && !rows[0].think_ns)
		say("  ", "  ",
		    "one request at a time with no think time: %.1f us per round trip on loopback; "
		    "that is all the waiting there is to hide.",
		    1e6 / rows[0].base->iops);
	if (cpu[0])
		say("  ", "  ", "CPU iolens used over each window, in cores: %s.", cpu);
	if (*stopped || !nrows)
		return;
	l2_conclude(d, &rows[0], &rows[nrows - 1], par);
}

/* ------------------------------------------------------------------ lesson 3 */

/* Share of the file's pages in the page cache (mincore), or -1. */
static double resident(int fd, size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t npages = (size + (size_t)pg - 1) / (size_t)pg, in = 0;
	unsigned char *vec = malloc(npages);
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int r = -1;

	if (vec && p != MAP_FAILED)
		r = mincore(p, size, vec);
	if (p != MAP_FAILED)
		munmap(p, size);
	for (size_t i = 0; r == 0 && i < npages; i++)
		in += vec[i] & 1;
	free(vec);
	return r ? -1 : (double)in / (double)npages;
}

/* Write back and drop the file's pages: 0 or an errno. */
static int drop(int fd)
{
	if (fdatasync(fd))
		return errno;
	return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static long vcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static void pct(char *buf, size_t len, double share)
{
	if (share < 0)
		snprintf(buf, len, "unknown (mincore failed)");
	else
		snprintf(buf, len, "%.1f%%", share * 100);
}

struct l3 {
	unsigned n;		  /* blocks probed */
	double res_cold, res_end; /* residency just before the cold probes, at the end */
	unsigned poll_ready;	  /* poll returned POLLIN at once */
	short revents;
	double poll_s; /* time in poll, all probes */
	long poll_vcsw;
	double cold_s, warm_s; /* time in the preads */
	long cold_vcsw, warm_vcsw;
	int read_err;
	int epoll_ret, epoll_err;
	double res_nowait; /* residency before the RWF_NOWAIT probes */
	unsigned nw_eagain, nw_read, nw_other, nw_cached_read;
	double nw_s;  /* time in the RWF_NOWAIT calls on cold pages */
	long nw_vcsw; /* voluntary switches in them */
	int nw_err;   /* the first other errno */
};

static void l3_probe(int fd, size_t size, struct l3 *f)
{
	char *buf = aligned_alloc(L3_BS, L3_BS);
	struct iovec iov = {buf, L3_BS};
	size_t step = size / f->n;
	int ep;

	/* poll, then the read it called ready: cold pages */
	f->res_cold = resident(fd, size);
	for (unsigned i = 0; i < f->n && buf; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long v = vcsw();
		double t = iolens__now_s();
		ssize_t got;

		if (poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN))
			f->poll_ready++;
		f->revents |= pfd.revents;
		f->poll_s += iolens__now_s() - t;
		f->poll_vcsw += vcsw() - v;
		v = vcsw();
		t = iolens__now_s();
		got = pread(fd, buf, L3_BS, (off_t)(i * step));
		f->cold_s += iolens__now_s() - t;
		f->cold_vcsw += vcsw() - v;
		if (got != L3_BS && !f->read_err)
			f->read_err = got < 0 ? errno : EIO;
	}
	/* the same reads again: now cached */
	for (unsigned i = 0; i < f->n && buf; i++) {
		long v = vcsw();
		double t = iolens__now_s();

		if (pread(fd, buf, L3_BS, (off_t)(i * step)) != L3_BS && !f->read_err)
			f->read_err = errno ? errno : EIO;
		f->warm_s += iolens__now_s() - t;
		f->warm_vcsw += vcsw() - v;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep >= 0) {
		struct epoll_event ev = {.events = EPOLLIN};

		f->epoll_ret = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		f->epoll_err = f->epoll_ret ? errno : 0;
		close(ep);
	} else {
		f->epoll_ret = -2;
		f->epoll_err = errno;
	}
	/* RWF_NOWAIT on cold pages, then on the same pages once cached */
	drop(fd);
	f->res_nowait = resident(fd, size);
	for (unsigned i = 0; i < f->n && buf; i++) {
		long v = vcsw();
		double t = iolens__now_s();
		ssize_t got = preadv2(fd, &iov, 1, (off_t)(i * step), RWF_NOWAIT);

		f->nw_s += iolens__now_s() - t;
		f->nw_vcsw += vcsw() - v;

		if (got == L3_BS)
			f->nw_read++;
		else if (got < 0 && errno == EAGAIN)
			f->nw_eagain++;
		else if (f->nw_other++ == 0)
			f->nw_err = got < 0 ? errno : EIO;
	}
	for (unsigned i = 0; i < f->n && buf; i++)
		if (pread(fd, buf, L3_BS, (off_t)(i * step)) == L3_BS &&
		    preadv2(fd, &iov, 1, (off_t)(i * step), RWF_NOWAIT) == L3_BS)
			f->nw_cached_read++;
	f->res_end = resident(fd, size);
	free(buf);
}

/* The temporary file: size bytes of a non-zero pattern, written back to disk. fd or -errno. */
static int l3_file(size_t size, char *path, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char *chunk = malloc(1 << 20);
	int fd, e = 0;

	snprintf(path, len, "%s/iolens-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = chunk ? mkostemp(path, O_CLOEXEC) : -1;
	if (fd < 0) {
		e = chunk ? errno : ENOMEM;
		free(chunk);
		return -e;
	}
	unlink(path); /* nothing is left behind, whatever happens next */
	for (size_t i = 0; i < (1u << 20); i++)
		chunk[i] = (char)(i * 131 + 7);
	for (size_t off = 0; off < size && !e; off += 1u << 20)
		if (pwrite(fd, chunk, 1u << 20, (off_t)off) != 1 << 20)
			e = errno ? errno : EIO;
	free(chunk);
	if (!e && fsync(fd))
		e = errno;
	/* no readahead: each probe reads its own block, nothing more */
	if (!e)
		e = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (!e)
		e = drop(fd);
	if (e) {
		close(fd);
		return -e;
	}
	return fd;
}

static void lesson3(struct demo *d)
{
	static const char *const poll_spec[] = {"poll"};
	size_t size = d->quick ? 4u << 20 : 16u << 20;
	struct l3 f = {.n = d->quick ? 16 : L3_BLOCKS_MAX};
	struct iolens_result *rp = NULL;
	struct iolens_target *t;
	struct iolens_workload w;
	char path[4096], a[32], b[32], c[32], why[300], s1[600], s2[300], s3[200], s4[300];
	char s5[300];
	int fd;
	double per_cold, per_warm;

	printf("\n== Lesson 3: what \"non-blocking\" means for files\n\n");
	say("", "",
	    "Readiness is a promise about pipes and sockets, where data comes from outside and "
	    "may not be there yet. A regular file has no \"not ready\": poll reports it readable "
	    "at once, epoll refuses to watch it (EPERM), and a read of pages that are not in "
	    "memory puts the thread to sleep until the disk answers, O_NONBLOCK or not. The one "
	    "way to ask a file \"would this wait?\" is preadv2 with RWF_NOWAIT: it fails with "
	    "EAGAIN instead of sleeping. Measured on a %zu MiB temporary file in $TMPDIR, "
	    "written back and dropped from the page cache, %u blocks of 4 KiB %zu KiB apart:",
	    size >> 20, f.n, size / f.n >> 10);
	printf("\n");
	fflush(stdout);
	fd = l3_file(size, path, sizeof(path));
	if (fd < 0) {
		say("  ", "    ", "could not prepare the file %s: %s", path, strerror(-fd));
		d->failed = 1;
		return;
	}
	l3_probe(fd, size, &f);
	close(fd);
	per_cold = f.cold_s / f.n;
	per_warm = f.warm_s / f.n;
	pct(a, sizeof(a), f.res_cold);
	say("  ", "    ", "page cache before the cold reads: %s of the file resident (mincore)%s",
	    a, f.res_cold > 0.05 ? "; the kernel kept pages, so these reads are not all cold" : "");
	say("  ", "    ",
	    "poll(POLLIN), %u times: ready at once %u of %u (revents%s%s%s), %s each, %ld "
	    "voluntary switches",
	    f.n, f.poll_ready, f.n, f.revents & POLLIN ? " POLLIN" : "",
	    f.revents & POLLOUT ? " POLLOUT" : "", f.revents ? "" : " none",
	    dur(b, sizeof(b), f.poll_s / f.n), f.poll_vcsw);
	if (f.read_err)
		say("  ", "    ", "pread: failed: %s (%s)", errname(f.read_err),
		    strerror(f.read_err));
	say("  ", "    ",
	    "then pread of that block: %s each, %ld voluntary switches (%.2f per read)%s",
	    dur(b, sizeof(b), per_cold), f.cold_vcsw, (double)f.cold_vcsw / f.n,
	    f.cold_vcsw ? ": the thread slept" : "");
	say("  ", "    ",
	    "the same reads, now cached: %s each, %ld voluntary switches (%.2f per read)",
	    dur(b, sizeof(b), per_warm), f.warm_vcsw, (double)f.warm_vcsw / f.n);
	if (f.epoll_ret == -2)
		say("  ", "    ", "epoll_create1: failed: %s", errname(f.epoll_err));
	else if (f.epoll_ret)
		say("  ", "    ", "epoll_ctl(EPOLL_CTL_ADD) on the file: -1, %s (%s)",
		    errname(f.epoll_err), strerror(f.epoll_err));
	else
		say("  ", "    ", "epoll_ctl(EPOLL_CTL_ADD) on the file: accepted");
	pct(a, sizeof(a), f.res_nowait);
	if (f.nw_other && (f.nw_err == EOPNOTSUPP || f.nw_err == EINVAL)) {
		say("  ", "    ",
		    "preadv2(RWF_NOWAIT): not supported on this filesystem (%s): no figures",
		    errname(f.nw_err));
	} else {
		say("  ", "    ",
		    "preadv2(RWF_NOWAIT), pages dropped again (%s resident): EAGAIN %u of %u, read "
		    "%u%s%s, %s each, %ld voluntary switches",
		    a, f.nw_eagain, f.n, f.nw_read, f.nw_other ? ", other errors " : "",
		    f.nw_other ? errname(f.nw_err) : "", dur(b, sizeof(b), f.nw_s / f.n),
		    f.nw_vcsw);
		say("  ", "    ", "preadv2(RWF_NOWAIT) once each block was read: read %u of %u",
		    f.nw_cached_read, f.n);
	}
	pct(a, sizeof(a), f.res_end);
	say("  ", "    ", "page cache at the end: %s resident", a);
	printf("\n");
	fflush(stdout);

	/* The same question through the poll backend, figures into the results. */
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_RANDREAD;
	w.size = d->quick ? 8u << 20 : 32u << 20;
	w.cache = IOLENS_CACHE_COLD;
	w.time_s = 0;
	w.ops = d->quick ? 200 : 1000;
	w.stop = stopped;
	if (!*stopped && !open_target(d, &t, &w)) {
		run(d, t, &w, poll_spec, 1, &rp);
		iolens_target_close(t);
	}
	if (*stopped)
		return;
	if (!rp || not_ok(rp, why, sizeof(why))) {
		say("  ", "    ", "the iolens poll backend on a cold file: %s",
		    rp ? why : "not run");
	} else {
		const struct iolens_model *m = &rp->model;

		pct(a, sizeof(a), rp->resident_before);
		pct(b, sizeof(b), rp->resident_after);
		if (m->measured[0])
			snprintf(s1, sizeof(s1),
				 "%.2f voluntary switches per op inside its calls; "
				 "model: measured %s, declared %s%s%s%s",
				 m->vcsw_per_op_submit + m->vcsw_per_op_wait, m->measured,
				 m->declared, m->mismatch ? " (mismatch" : "",
				 m->mismatch && m->flags[0] ? ": " : "",
				 !m->mismatch ? "" : m->flags[0] ? m->flags : ")");
		if (m->measured[0] && m->mismatch && m->flags[0])
			snprintf(s1 + strlen(s1), sizeof(s1) - strlen(s1), ")");
		else
			snprintf(s1, sizeof(s1),
				 "%.2f voluntary switches per op (whole process); "
				 "model: %s",
				 (double)rp->vcsw / (double)rp->ops, m->why);
		say("  ", "  ",
		    "the iolens poll backend, %llu random 4 KiB reads of a cold %llu MiB file "
		    "(cache %s -> %s): %.0f IOPS, p50 %s, poll ready at once in %llu of %llu "
		    "checks, %s.",
		    (unsigned long long)rp->ops, (unsigned long long)(w.size >> 20), a, b, rp->iops,
		    dur(c, sizeof(c), (double)rp->lat.p50 / 1e9),
		    (unsigned long long)rp->stats.ready_at_once,
		    (unsigned long long)(rp->stats.ready_at_once + rp->stats.waits), s1);
	}
	if (f.poll_ready == f.n)
		snprintf(s1, sizeof(s1), "poll said ready %u of %u times", f.poll_ready, f.n);
	else
		snprintf(s1, sizeof(s1),
			 "poll said ready only %u of %u times, which contradicts "
			 "the lesson",
			 f.poll_ready, f.n);
	pct(a, sizeof(a), f.res_cold);
	if (f.cold_vcsw * 2 >= (long)f.n)
		snprintf(s2, sizeof(s2),
			 "the read after it slept anyway (%.2f switches per read, %.0fx the cached "
			 "time%s%s)",
			 (double)f.cold_vcsw / f.n, per_warm > 0 ? per_cold / per_warm : 0.0,
			 f.res_cold > 0.05 ? ", with " : "", f.res_cold > 0.05 ? a : "");
	else if (per_cold >= 10 * per_warm)
		snprintf(s2, sizeof(s2),
			 "the read after it still waited inside the call (%.0fx the cached time) "
			 "but slept in only %ld of %u reads (on a virtual machine the host can "
			 "serve a request before the guest thread gets to sleep)",
			 per_warm > 0 ? per_cold / per_warm : 0.0, f.cold_vcsw, f.n);
	else
		snprintf(s2, sizeof(s2),
			 "the read after it neither slept nor waited (%ld switches, %.1fx the "
			 "cached time, %s of the file resident), so a cold read was not shown here",
			 f.cold_vcsw, per_warm > 0 ? per_cold / per_warm : 0.0, a);
	if (f.epoll_ret == -1 && f.epoll_err == EPERM)
		snprintf(s3, sizeof(s3), "epoll refused the file (EPERM)");
	else
		snprintf(s3, sizeof(s3),
			 "epoll did not refuse the file with EPERM, which "
			 "contradicts the lesson");
	pct(b, sizeof(b), f.res_nowait);
	if (f.nw_other)
		snprintf(s4, sizeof(s4), "RWF_NOWAIT could not be shown (%s)", errname(f.nw_err));
	else if (f.nw_eagain == f.n && f.nw_cached_read == f.n)
		snprintf(s4, sizeof(s4),
			 "only RWF_NOWAIT said it would wait (EAGAIN %u of %u cold, in %s each; "
			 "read %u of %u once cached)",
			 f.nw_eagain, f.n, dur(c, sizeof(c), f.nw_s / f.n), f.nw_cached_read, f.n);
	else if (!f.nw_eagain)
		snprintf(s4, sizeof(s4),
			 "RWF_NOWAIT refused none of the cold blocks (%s resident just before): it "
			 "read all %u inside the call, %s each, with %ld voluntary switches (not "
			 "sleeping is all it promises)",
			 b, f.n, dur(c, sizeof(c), f.nw_s / f.n), f.nw_vcsw);
	else
		snprintf(s4, sizeof(s4),
			 "RWF_NOWAIT gave EAGAIN for %u of %u cold blocks and read the other %u "
			 "inside the call (%s each on average, %s resident just before); %u of %u "
			 "read once cached",
			 f.nw_eagain, f.n, f.n - f.nw_eagain, dur(c, sizeof(c), f.nw_s / f.n), b,
			 f.nw_cached_read, f.n);
	s5[0] = '\0';
	if (ok(rp) && rp->model.measured[0]) {
		double v = rp->model.vcsw_per_op_submit + rp->model.vcsw_per_op_wait;

		snprintf(s5, sizeof(s5),
			 "; the iolens poll backend, declared %s, measured %s with %.2f switches "
			 "per op%s",
			 rp->model.declared, rp->model.measured, v,
			 v < 0.5 ? " (most of its cold reads finished without the thread sleeping)"
				 : "");
	}
	printf("\n");
	say("  ", "  ", "Conclusion: %s and %s; %s%s; %s.", s1, s2, s3, s5, s4);
}

/* ------------------------------------------------------------------ command */

int iolens__cli_demo(int argc, char **argv, const char *cmdline)
{
	static const struct option opts[] = {
	    {"quick", no_argument, NULL, 'q'},
	    {"out", required_argument, NULL, 'o'},
	    {"lesson", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char accepts[] = "accepts --quick, --out DIR, --lesson 1|2|3";
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
			if (strlen(optarg) != 1 || optarg[0] < '1' || optarg[0] > '3')
				return iolens__usage(
				    "--lesson: '%s' is not a lesson (accepts 1, 2 or 3)", optarg);
			lesson = optarg[0] - '0';
		} else if (c == 'h') {
			return fputs(help, stdout), 0;
		} else if (optopt == 'l') {
			return iolens__usage("--lesson needs a value (accepts 1, 2 or 3)");
		} else if (optopt == 'o') {
			return iolens__usage("--out needs a value (accepts a directory)");
		} else {
			return iolens__usage("demo: unknown option '%s' (%s)", argv[optind - 1],
					     accepts);
		}
	}
	if (optind < argc)
		return iolens__usage("demo: unexpected argument '%s' (%s)", argv[optind], accepts);
	if (iolens__results_open(&rd, out, "demo-"))
		return 2;
	stopped = iolens__catch_stop();
	iolens__meta_collect(&meta, cmdline);
	d.cores = meta.cores;
	t_start = iolens__now_s();
	printf("iolens demo%s: every figure below was measured in this run, on this machine\n"
	       "(%s, %u cores, kernel %s).\n",
	       d.quick ? " --quick" : "", meta.hostname, meta.cores, meta.kernel);
	if (!*stopped && (!lesson || lesson == 1))
		lesson1(&d);
	fflush(stdout);
	if (!*stopped && (!lesson || lesson == 2))
		lesson2(&d);
	fflush(stdout);
	if (!*stopped && (!lesson || lesson == 3))
		lesson3(&d);
	if (*stopped)
		printf("\n(interrupted: the results so far are written, marked interrupted)\n");
	meta.interrupted = *stopped;
	d.failed |= iolens__results_write(&rd, &meta, d.res, d.nres, iolens__now_s() - t_start);
	if (d.nres && !*stopped && rd.json_written) {
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
