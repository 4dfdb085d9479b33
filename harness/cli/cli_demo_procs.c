/* Lesson 4 of the demo: threads or processes? */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_demo_kit.h"
#include "iolens/iolens.h"

#define WAIT_WORKERS 16
#define WAIT_DELAY_NS 200000ull
#define THINK_NS 200000ull
#define LEVEL 0.10 /* within this of each other: the same, for one run on a noisy machine */

/* The same workload on blocking (threads) and blocking:procs (processes). */
struct pair {
	struct iolens_result *r[2];
};

static const char *const specs[2] = { "blocking", "blocking:procs" };

static double rate(const struct iolens_result *r)
{
	return iolens__demo_ok(r) ? r->iops : NAN;
}

/* "level with", "1.32x more than" ... of a against b. */
static const char *compare_words(double a, double b, char *buf, size_t len)
{
	if (isnan(a) || isnan(b) || b <= 0)
		snprintf(buf, len, "(not measured)");
	else if (fabs(a / b - 1) <= LEVEL)
		snprintf(buf, len, "level (%.2fx)", a / b);
	else
		snprintf(buf, len, "%.2fx", a / b);
	return buf;
}

static void conclude(const struct demo *d, const struct pair *wait, const struct pair *one,
		     const struct pair *two)
{
	const struct iolens_result *tw = wait->r[0], *pw = wait->r[1];
	double start = pw && tw ? pw->job_start_us / tw->job_start_us : NAN;
	double mem = pw && tw ? pw->job_mem_kib / tw->job_mem_kib : NAN;
	double tput = rate(pw) / rate(tw);
	double cpu_t = iolens__demo_ok(tw) ? tw->cpu_per_op_ns : NAN;
	double cpu_p = iolens__demo_ok(pw) ? pw->cpu_per_op_ns : NAN;
	double gain_t = rate(two->r[0]) / rate(one->r[0]);
	double gain_p = rate(two->r[1]) / rate(one->r[1]);
	char a[400], b[400], c[400], w1[64];

	if (isnan(start) || isnan(mem) || isnan(tput) || isnan(gain_t) || isnan(gain_p)) {
		printf("\n");
		iolens__demo_say("  ", "  ", "Conclusion: none: not every run completed.");
		return;
	}
	snprintf(a, sizeof(a),
		 "a process cost %.1fx a thread to start (%.0f us against %.0f: fork copies the "
		 "page tables of the whole process) and kept %.1fx its memory (%.0f KiB against "
		 "%.0f)",
		 start, pw->job_start_us, tw->job_start_us, mem, pw->job_mem_kib, tw->job_mem_kib);
	if (fabs(tput - 1) <= LEVEL)
		snprintf(b, sizeof(b),
			 "while %d workers waited, processes moved as many requests as threads "
			 "(%s), at %.1f us of CPU per request against %.1f",
			 WAIT_WORKERS, compare_words(rate(pw), rate(tw), w1, sizeof(w1)), cpu_p / 1e3,
			 cpu_t / 1e3);
	else
		snprintf(b, sizeof(b),
			 "while %d workers waited, processes moved %.2fx the requests of threads, "
			 "at %.1f us of CPU per request against %.1f (a switch between processes "
			 "also changes the address space)",
			 WAIT_WORKERS, tput, cpu_p / 1e3, cpu_t / 1e3);
	if (d->cores < 2)
		snprintf(c, sizeof(c),
			 "with one core a second worker cannot compute beside the first (threads "
			 "%.2fx, processes %.2fx)",
			 gain_t, gain_p);
	else if (gain_t >= 1.5 && gain_p >= 1.5)
		snprintf(c, sizeof(c),
			 "computing, a second worker used the second core either way (threads "
			 "%.2fx, processes %.2fx): in C nothing serialises threads, so processes buy "
			 "isolation, not parallelism",
			 gain_t, gain_p);
	else
		snprintf(c, sizeof(c),
			 "computing, a second worker gained threads %.2fx and processes %.2fx, less "
			 "than the second core should give: the responder and the rest of the "
			 "machine share those %u cores",
			 gain_t, gain_p, d->cores);
	printf("\n");
	iolens__demo_say("  ", "  ", "Conclusion: %s; %s; %s.", a, b, c);
}

void iolens__demo_procs(struct demo *d)
{
	struct pair wait = { { 0 } }, one = { { 0 } }, two = { { 0 } };
	struct iolens_target *t;
	struct iolens_workload w;
	char why[300];

	printf("\n== Lesson 4: threads or processes?\n\n");
	iolens__demo_say("", "",
	    "blocking keeps D requests in flight with D threads, one per request; "
	    "blocking:procs with D processes (prefork: Apache's prefork, inetd, Python's "
	    "multiprocessing). Both make the same system calls; what differs is what each "
	    "worker costs to start and to keep, and what a switch between workers costs. "
	    "First %d workers that mostly wait (echo, the responder answering after %llu us), "
	    "then 1 and 2 workers that mostly compute (%llu us of spinning per request). "
	    "Start is the time of the call that made one worker (pthread_create or fork); "
	    "memory is what one worker kept at the end of the window: a thread's resident "
	    "stack, a process's private pages and page tables.",
	    WAIT_WORKERS, WAIT_DELAY_NS / 1000, THINK_NS / 1000);
	printf("\n");
	fflush(stdout);
	iolens__demo_echo(d, &w, IOLENS_COUNT_OFF); /* the lesson is in rates, clocks and /proc */
	if (iolens__demo_open_target(d, &t, &w))
		return;
	w.conns = WAIT_WORKERS;
	w.delay_ns = WAIT_DELAY_NS;
	iolens__demo_run(d, t, &w, specs, 2, wait.r);
	w.delay_ns = 0;
	w.think_ns = THINK_NS;
	w.conns = 1;
	if (!*d->stopped)
		iolens__demo_run(d, t, &w, specs, 2, one.r);
	w.conns = 2;
	if (!*d->stopped)
		iolens__demo_run(d, t, &w, specs, 2, two.r);
	iolens_target_close(t);
	printf("  %-10s %9s %9s | %9s %9s %9s | %9s %9s\n", "", "start", "memory", "waiting",
	       "p99", "CPU/req", "computing", "");
	printf("  %-10s %9s %9s | %9s %9s %9s | %9s %9s\n", "workers", "us", "KiB", "req/s", "us",
	       "us", "1 worker", "2 workers");
	for (int k = 0; k < 2; k++) {
		const struct iolens_result *r = wait.r[k];
		int ok = iolens__demo_ok(r);

		printf("  %-10s", k ? "processes" : "threads");
		iolens__demo_cell(ok ? r->job_start_us : NAN, " %9.0f", 9);
		iolens__demo_cell(ok ? r->job_mem_kib : NAN, " %9.0f", 9);
		printf(" |");
		iolens__demo_cell(rate(r), " %9.0f", 9);
		iolens__demo_cell(ok ? (double)r->lat.p99 / 1e3 : NAN, " %9.0f", 9);
		iolens__demo_cell(ok ? r->cpu_per_op_ns / 1e3 : NAN, " %9.1f", 9);
		printf(" |");
		iolens__demo_cell(rate(one.r[k]), " %9.0f", 9);
		iolens__demo_cell(rate(two.r[k]), " %9.0f", 9);
		printf("\n");
	}
	for (int k = 0; k < 2; k++) {
		const struct iolens_result *all[3] = { wait.r[k], one.r[k], two.r[k] };

		for (int i = 0; i < 3; i++)
			if (all[i] && iolens__demo_not_ok(all[i], why, sizeof(why)))
				iolens__demo_say("  ", "    ", "%s: %s", specs[k], why);
	}
	if (*d->stopped)
		return;
	conclude(d, &wait, &one, &two);
}
