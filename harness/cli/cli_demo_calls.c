/* Lesson 1 of the demo: slow remote calls, one at a time and all in flight. */
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

static void l1_row(const struct iolens_result *r)
{
	char why[300], a[32], b[32];
	const char *no = iolens__demo_not_ok(r, why, sizeof(why));

	if (!r) /* not run: interrupted before it, or the run could not start (said above) */
		return;
	if (no) {
		printf("  %-9s %s\n", r->backend, no);
		return;
	}
	printf("  %-9s %5u %8llu %11s %12s %9.1f   %s\n", r->backend, r->workload.conns,
	       (unsigned long long)r->ops, iolens__demo_dur(a, sizeof(a), r->seconds),
	       iolens__demo_dur(b, sizeof(b), (double)r->lat.p50 / 1e9), r->model.concurrency,
	       r->model.measured[0] ? r->model.measured : "not measured");
}

void iolens__demo_calls(struct demo *d)
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
	iolens__demo_say("", "",
	    "A program needs %u answers from a service that takes %.0f ms to reply to each. "
	    "Asked one after another on one blocking connection, it waits %u times in a row: "
	    "about %u x %.0f ms = %s. With all %u requests in flight at once (%u connections "
	    "on one thread; poll, epoll or io_uring tell it which answer has come), it waits "
	    "once: about %.0f ms. No request gets faster; the program just stops waiting in "
	    "line. (A thread per request would overlap the waits too: that is the blocking "
	    "backend with more connections.)",
	    n, delay * 1e3, n, n, delay * 1e3, iolens__demo_dur(x, sizeof(x), n * delay), n, n,
	    delay * 1e3);
	printf("\n");
	fflush(stdout);
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.delay_ns = (uint64_t)(delay * 1e9);
	w.time_s = 0;
	w.ops = n;
	w.conns = 1;
	w.trace = 4 * n; /* a send and a receive per request, with room: all of them */
	w.stop = d->stopped;
	if (iolens__demo_open_target(d, &t, &w))
		return;
	iolens__demo_run(d, t, &w, blocking, 1, &rb);
	w.conns = n;
	if (!*d->stopped)
		iolens__demo_run(d, t, &w, async, 3, ra);
	iolens_target_close(t);
	printf("  %-9s %5s %8s %11s %12s %9s   %s\n", "backend", "conns", "requests", "total time",
	       "per request", "in flight", "model (measured)");
	l1_row(rb);
	for (int i = 0; i < 3; i++)
		l1_row(ra[i]);
	printf("\n");
	if (*d->stopped)
		return;
	if (iolens__demo_ok(rb))
		iolens__demo_say("  ", "    ", "expected about %s one at a time: measured %s (%s)",
		    iolens__demo_dur(x, sizeof(x), n * delay), iolens__demo_dur(y, sizeof(y), rb->seconds),
		    iolens__demo_held(rb->seconds, n * delay) ? "held" : "did NOT hold");
	for (int i = 0; i < 3; i++) {
		size_t used = strlen(list);

		if (!iolens__demo_ok(ra[i]))
			continue;
		snprintf(list + used, sizeof(list) - used, "%s %s %s", nok ? "," : "",
			 ra[i]->backend, iolens__demo_dur(y, sizeof(y), ra[i]->seconds));
		all_held &= iolens__demo_held(ra[i]->seconds, delay);
		nok++;
		if (iolens__demo_ok(rb)) {
			double s = rb->seconds / ra[i]->seconds;

			if (s > hi) {
				hi = s;
				fastest = ra[i]->backend;
			}
			lo = s < lo ? s : lo;
		}
	}
	if (nok)
		iolens__demo_say("  ", "    ", "expected about %s all in flight:%s (%s)",
		    iolens__demo_dur(x, sizeof(x), delay), list, all_held ? "held" : "did NOT hold for all");
	printf("\n");
	if (!iolens__demo_ok(rb)) {
		char why[300];

		iolens__demo_say("  ", "  ", "Conclusion: none: one at a time did not run (%s).",
		    iolens__demo_not_ok(rb, why, sizeof(why)));
	} else if (!nok)
		iolens__demo_say("  ", "  ", "Conclusion: none: no backend ran with all %u in flight.", n);
	else if (lo >= 2)
		iolens__demo_say("  ", "  ",
		    "Conclusion: all %u in flight: %.1fx faster than one at a time (%s); every "
		    "backend at least %.1fx. The wait was paid once, not %u times.",
		    n, hi, fastest, lo, n);
	else if (hi >= 2)
		iolens__demo_say("  ", "  ",
		    "Conclusion: mixed: all %u in flight was %.1fx faster on %s, but only %.1fx on "
		    "another, which contradicts the lesson there.",
		    n, hi, fastest, lo);
	else
		iolens__demo_say("  ", "  ",
		    "Conclusion: the measurement contradicts the lesson: all %u in flight was at "
		    "best %.1fx faster than one at a time.",
		    n, hi);
}

