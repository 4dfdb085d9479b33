/*
 * What the demo's lessons share: the run's state, the paragraph printer and
 * the helpers that run a backend and say how it went. Each lesson is a file
 * of its own (cli_demo_calls.c, cli_demo_cpu.c, cli_demo_files.c,
 * cli_demo_procs.c, cli_demo_coro.c); the command (cli_demo.c) runs them in
 * order.
 */
#ifndef IOLENS_CLI_DEMO_KIT_H
#define IOLENS_CLI_DEMO_KIT_H

#include <stddef.h>

#include "iolens/iolens.h"

#define MAX_RESULTS 64
#define WIDTH 78 /* the narrative is wrapped at this column */

struct demo {
	volatile int *stopped; /* set by SIGINT or SIGTERM (iolens__catch_stop) */
	int quick;
	unsigned cores;
	int failed;
	struct iolens_result *res[MAX_RESULTS];
	size_t nres;
};

/* A paragraph wrapped at WIDTH: the first line starts with `first`, the others with `next`. */
void iolens__demo_say(const char *first, const char *next, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A table cell: v printed with fmt (which starts with a space), or "-" in width when NaN. */
void iolens__demo_cell(double v, const char *fmt, int width);
/* A duration for people: "1.012 s", "50.3 ms", "4.1 us". */
const char *iolens__demo_dur(char *buf, size_t len, double s);
/* An expectation "about X" held when the measured value is within -10% / +50% of it. */
int iolens__demo_held(double measured, double expected);
const char *iolens__demo_errname(int e);
/* The result ran its window and completed operations. */
int iolens__demo_ok(const struct iolens_result *r);
int iolens__demo_open_target(struct demo *d, struct iolens_target **t,
			     const struct iolens_workload *w);
/* A lesson's echo workload: a 1 s window (200 ms with --quick), stopped with the demo. */
void iolens__demo_echo(const struct demo *d, struct iolens_workload *w, int count);
/* Run specs; the results join the run's list and are also stored in out[]. */
int iolens__demo_run(struct demo *d, struct iolens_target *t, const struct iolens_workload *w,
		     const char *const *specs, size_t n, struct iolens_result **out);
/* One line for a result that did not run, or NULL when it did. */
const char *iolens__demo_not_ok(const struct iolens_result *r, char *buf, size_t len);

/* The lessons. */
void iolens__demo_calls(struct demo *d); /* 1: slow remote calls */
void iolens__demo_cpu(struct demo *d);   /* 2: I/O-bound versus CPU-bound */
void iolens__demo_files(struct demo *d); /* 3: what non-blocking means for files */
void iolens__demo_procs(struct demo *d); /* 4: threads or processes? */
void iolens__demo_coro(struct demo *d);  /* 5: what async/await costs */

#endif
