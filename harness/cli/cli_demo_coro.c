/* Lesson 5 of the demo: what does async/await cost over the loop it runs on? */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_demo_kit.h"
#include "iolens/iolens.h"

#define CONNS 64
#define NOISE 0.10 /* a CPU difference under this share of the loop's own is not a cost */

enum { BARE, CORO, UCTX, EBARE, ECORO, THREADS, NSPEC };

static const char *const specs[NSPEC] = {
	"coro:bare", "coro", "coro:ucontext", "coro-epoll:bare", "coro-epoll", "blocking",
};
static const char *const what[NSPEC] = {
	"io_uring loop, callbacks", "io_uring loop, coroutines", "the same, glibc swapcontext",
	"epoll loop, callbacks", "epoll loop, coroutines", "a thread per connection",
};

static double cpu_op(const struct iolens_result *r)
{
	return iolens__demo_ok(r) ? r->cpu_per_op_ns / 1e3 : NAN;
}

static double switches_op(const struct iolens_result *r)
{
	return iolens__demo_ok(r) && r->ops ? (double)r->stats.user_switches / (double)r->ops : NAN;
}

static double switch_ns(const struct iolens_result *r)
{
	return iolens__demo_ok(r) && r->stats.switch_probe_n
		       ? (double)r->stats.switch_probe_ns / (double)r->stats.switch_probe_n
		       : NAN;
}

/* System calls of one name per op in the counting pass, or NaN. */
static double calls_op(const struct iolens_result *r, const char *name)
{
	if (!iolens__demo_ok(r) || !r->syscalls.measured || !r->syscalls.ops)
		return NAN;
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (!strcmp(iolens_syscall_name(i), name))
			return (double)r->syscalls.by_name[i] / (double)r->syscalls.ops;
	return NAN;
}

/* "coroutines cost 0.41 us of CPU per request over the same loop with callbacks (+6%) ..." */
static void cost_of(char *buf, size_t len, const char *loop, const struct iolens_result *bare,
		    const struct iolens_result *coro)
{
	double b = cpu_op(bare), c = cpu_op(coro), sw = switches_op(coro), ns = switch_ns(coro);

	if (isnan(b) || isnan(c)) {
		snprintf(buf, len, "over %s: not measured", loop);
		return;
	}
	if (fabs(c - b) <= NOISE * b)
		snprintf(buf, len,
			 "over %s, coroutines cost no CPU per request this run could tell from the "
			 "loop with callbacks (%.2f us against %.2f, within %.0f%%), though they "
			 "switched %.1f times per request at %.0f ns each (%.2f us)",
			 loop, c, b, NOISE * 100, sw, ns, sw * ns / 1e3);
	else if (c > b)
		snprintf(buf, len,
			 "over %s, coroutines cost %.2f us of CPU per request over the loop with "
			 "callbacks (%.2f against %.2f, %+.0f%%); their %.1f switches per request at "
			 "%.0f ns each account for %.2f us of that",
			 loop, c - b, c, b, (c / b - 1) * 100, sw, ns, sw * ns / 1e3);
	else
		snprintf(buf, len,
			 "over %s, coroutines used %.2f us less CPU per request than the loop with "
			 "callbacks (%.2f against %.2f, %+.0f%%), a difference their switches (%.1f per "
			 "request at %.0f ns each: %.2f us) cannot explain",
			 loop, b - c, c, b, (c / b - 1) * 100, sw, ns, sw * ns / 1e3);
}

static void conclude(const struct iolens_result *const *r)
{
	char a[400], b[400], c[300], t[300];
	double sig = calls_op(r[UCTX], "rt_sigprocmask");

	cost_of(a, sizeof(a), "io_uring", r[BARE], r[CORO]);
	cost_of(b, sizeof(b), "epoll", r[EBARE], r[ECORO]);
	if (isnan(switch_ns(r[UCTX])) || isnan(switch_ns(r[CORO])))
		snprintf(c, sizeof(c), "the two switches were not both timed");
	else if (!isnan(sig) && sig >= 0.5)
		snprintf(c, sizeof(c),
			 "glibc's swapcontext took %.0f ns a switch against %.0f for the hand-written "
			 "one, and made a system call at each: %.1f rt_sigprocmask per request",
			 switch_ns(r[UCTX]), switch_ns(r[CORO]), sig);
	else
		snprintf(c, sizeof(c),
			 "glibc's swapcontext took %.0f ns a switch against %.0f for the hand-written "
			 "one",
			 switch_ns(r[UCTX]), switch_ns(r[CORO]));
	if (isnan(cpu_op(r[THREADS])) || isnan(cpu_op(r[CORO])))
		snprintf(t, sizeof(t), "threads were not measured");
	else
		snprintf(t, sizeof(t),
			 "%d threads, one per connection, used %.2f us per request: %.1fx the "
			 "coroutines on io_uring",
			 CONNS, cpu_op(r[THREADS]), cpu_op(r[THREADS]) / cpu_op(r[CORO]));
	printf("\n");
	iolens__demo_say("  ", "  ", "Conclusion: %s; %s; %s; %s.", a, b, c, t);
}

void iolens__demo_coro(struct demo *d)
{
	struct iolens_result *r[NSPEC] = { 0 };
	struct iolens_target *t;
	struct iolens_workload w;
	char why[300];

	printf("\n== Lesson 5: what does async/await cost over the loop it runs on?\n\n");
	iolens__demo_say("", "",
	    "async/await (Python's asyncio, C++20 coroutines, Rust's async) is straight-line "
	    "code on an event loop: each request is a coroutine that suspends when it "
	    "submits and is resumed by the loop when its completion arrives. The coro "
	    "backends run exactly that on an io_uring loop and on an epoll loop; with "
	    ":bare the same loop completes the same requests through callbacks, with no "
	    "coroutine. The difference is what the coroutines cost: user-space switches "
	    "(counted, and timed when the context opened) and their stacks. Echo on %d "
	    "connections, with the system calls counted in a second pass; a thread per "
	    "connection (blocking) for comparison.",
	    CONNS);
	printf("\n");
	fflush(stdout);
	iolens__demo_echo(d, &w, IOLENS_COUNT_SEPARATE); /* switches and system calls per request */
	w.conns = CONNS;
	if (iolens__demo_open_target(d, &t, &w))
		return;
	iolens__demo_run(d, t, &w, specs, NSPEC, r);
	iolens_target_close(t);
	printf("  %-16s %-28s %9s %8s %8s %8s %9s %7s\n", "", "", "", "p99", "CPU/req",
	       "syscalls", "switches", "ns per");
	printf("  %-16s %-28s %9s %8s %8s %8s %9s %7s\n", "backend", "what", "req/s", "us", "us",
	       "/req", "/req", "switch");
	for (int k = 0; k < NSPEC; k++) {
		int ok = iolens__demo_ok(r[k]);

		printf("  %-16s %-28s", specs[k], what[k]);
		iolens__demo_cell(ok ? r[k]->iops : NAN, " %9.0f", 9);
		iolens__demo_cell(ok ? (double)r[k]->lat.p99 / 1e3 : NAN, " %8.0f", 8);
		iolens__demo_cell(cpu_op(r[k]), " %8.2f", 8);
		iolens__demo_cell(ok && r[k]->syscalls.measured ? r[k]->syscalls.per_op : NAN, " %8.2f", 8);
		iolens__demo_cell(k == THREADS ? NAN : switches_op(r[k]), " %9.2f", 9);
		iolens__demo_cell(switch_ns(r[k]), " %7.0f", 7);
		printf("\n");
	}
	for (int k = 0; k < NSPEC; k++)
		if (r[k] && iolens__demo_not_ok(r[k], why, sizeof(why)))
			iolens__demo_say("  ", "    ", "%s: %s", specs[k], why);
	if (*d->stopped)
		return;
	conclude((const struct iolens_result *const *)r);
}
