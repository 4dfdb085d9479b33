/* Lesson 2 of the demo: I/O-bound versus CPU-bound, with and without a second job. */
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
#include "cli_usage.h"
#include "iolens/iolens.h"

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
	if (iolens__demo_ok(r))
		printf(" %10.0f", r->iops);
	else
		printf(" %10s", r && r->status == IOLENS_STATUS_SKIPPED ? "skipped" : "-");
}

static double ratio(const struct iolens_result *a, const struct iolens_result *b)
{
	return iolens__demo_ok(a) && iolens__demo_ok(b) ? a->iops / b->iops : NAN;
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
		iolens__demo_say("  ", "  ",
		    "Conclusion: none: not every run at the first and the last think time "
		    "completed.");
		return;
	}
	use = last->one->iops / ceil;
	iolens__demo_say("  ", "    ",
	    "expected one job at think %u us to come near its ceiling of %.0f req/s: measured "
	    "%.0f (%.0f%% of it; %s)",
	    tl, ceil, last->one->iops, use * 100,
	    use >= 0.6 && use <= 1.05 ? "held" : "did NOT hold");
	iolens__demo_say("  ", "    ",
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
	iolens__demo_say("  ", "  ", "Conclusion: %s; %s; %s.", a, b, c);
}

void iolens__demo_cpu(struct demo *d)
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
	iolens__demo_say("", "",
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
	iolens__demo_echo(d, &w, IOLENS_COUNT_OFF); /* the lesson is in the rates */
	if (iolens__demo_open_target(d, &t, &w))
		return;
	for (size_t i = 0; i < nt && !*d->stopped; i++) {
		struct l2row *r = &rows[nrows++];
		struct iolens_result *m[2];

		memset(r, 0, sizeof(*r));
		r->think_ns = thinks[i];
		w.think_ns = thinks[i];
		w.conns = 1;
		w.jobs = 1;
		iolens__demo_run(d, t, &w, base, 1, &r->base);
		w.conns = conns;
		if (!*d->stopped && !iolens__demo_run(d, t, &w, multi, 2, m)) {
			r->ep = m[0];
			r->ur = m[1];
		}
		w.jobs = 2;
		r->busy_par = NAN;
		if (!*d->stopped) {
			unsigned long long b0, a0, b1, a1;
			int have = !machine_cpu(&b0, &a0);

			iolens__demo_run(d, t, &w, &par, 1, &r->par);
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
		if (iolens__demo_ok(r->one) && iolens__demo_ok(r->par))
			snprintf(cpu + used, sizeof(cpu) - used,
				 "%sthink %llu us: 1 job %.2f, 2 jobs %.2f", i ? "; " : "",
				 (unsigned long long)(r->think_ns / 1000), cores_used(r->one),
				 cores_used(r->par));
	}
	for (int i = 0; i < nrows; i++) {
		struct iolens_result *all[4] = {rows[i].base, rows[i].ep, rows[i].ur, rows[i].par};

		for (int k = 0; k < 4; k++)
			if (all[k] && iolens__demo_not_ok(all[k], why, sizeof(why)))
				iolens__demo_say("  ", "    ", "think %llu us, %s: %s",
				    (unsigned long long)(rows[i].think_ns / 1000), all[k]->backend,
				    why);
	}
	printf("\n");
	iolens__demo_say("  ", "  ",
	    "async gain: %s with 64 connections over one request at a time (blocking, 1 "
	    "connection); 2nd job gain: %s with 2 jobs over 1 job; the ceiling is 1 s / think.",
	    par, par);
	if (nrows && iolens__demo_ok(rows[0].base) && !rows[0].think_ns)
		iolens__demo_say("  ", "  ",
		    "one request at a time with no think time: %.1f us per round trip on loopback; "
		    "that is all the waiting there is to hide.",
		    1e6 / rows[0].base->iops);
	if (cpu[0])
		iolens__demo_say("  ", "  ", "CPU iolens used over each window, in cores: %s.", cpu);
	if (*d->stopped || !nrows)
		return;
	l2_conclude(d, &rows[0], &rows[nrows - 1], par);
}

