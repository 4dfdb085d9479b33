/*
 * serve driven by the caller's load generator (struct iolens_loadgen),
 * through the public generator object (iolens_generator_*): two generators
 * share the connections as iolens-mpi's generator ranks do, the hooks are
 * called in order, and the result's figures are the generators' summed;
 * bad hooks and bad generator arguments are refused with -EINVAL and a
 * message naming what is wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iolens/iolens.h"

/* Two generators behind one set of hooks, and what the hooks saw. */
struct pair {
	struct iolens_generator *g[2];
	unsigned conns[2];
	char log[64];	/* one letter per call: s(tart) m(easure on) o(ff) f(inish) */
	uint64_t requests; /* their requests of the last finish, summed */
	unsigned connected;
};

static void note(struct pair *p, char c)
{
	size_t n = strlen(p->log);

	if (n + 1 < sizeof(p->log))
		p->log[n] = c;
}

static int start(void *arg, const char *addr, int transport, unsigned conns, uint32_t msg,
		 unsigned depth, char *err, size_t errlen)
{
	struct pair *p = arg;
	int e = 0;

	note(p, 's');
	p->conns[0] = conns - conns / 2;
	p->conns[1] = conns / 2;
	for (int i = 0; i < 2 && !e; i++)
		e = iolens_generator_start(p->g[i], addr, transport, p->conns[i], msg, depth, err,
					   errlen);
	return e;
}

static void measure(void *arg, int on)
{
	struct pair *p = arg;

	note(p, on ? 'm' : 'o');
	for (int i = 0; i < 2; i++)
		iolens_generator_measure(p->g[i], on);
}

static void finish(void *arg, struct iolens_loadgen_figures *out)
{
	struct pair *p = arg;

	note(p, 'f');
	out->hist = iolens_hist_new();
	assert_non_null(out->hist);
	for (int i = 0; i < 2; i++) {
		struct iolens_loadgen_figures f;

		iolens_generator_finish(p->g[i], &f);
		assert_int_equal(f.err, 0);
		assert_int_equal(f.connected, p->conns[i]);
		assert_true(f.requests > 0);
		assert_int_equal(iolens_hist_count(f.hist), f.requests);
		out->connected += f.connected;
		out->requests += f.requests;
		out->bytes += f.bytes;
		iolens_hist_merge(out->hist, f.hist);
		iolens_hist_free(f.hist);
	}
	p->requests = out->requests;
	p->connected = out->connected;
}

static void serve_by_the_callers_generators(void **state)
{
	struct pair p = { .log = "" };
	const struct iolens_loadgen lg = { start, measure, finish, &p };
	struct iolens_target *t = NULL;
	struct iolens_result *r = NULL;
	struct iolens_workload w;
	char err[256] = "";

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(iolens_generator_new(&p.g[i], 1, -1, err, sizeof(err)), 0);
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_SERVE;
	w.conns = 9;
	w.time_s = 0.2;
	w.count = IOLENS_COUNT_OFF;
	w.loadgen = &lg;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(t, &w, "epoll", &r, err, sizeof(err)), 0);
	assert_int_equal(r->status, IOLENS_STATUS_OK);
	/* One pass: started, measured over the window, finished. */
	assert_string_equal(p.log, "smof");
	assert_int_equal(r->net.conns_open, 9);
	assert_int_equal(p.connected, 9);
	assert_int_equal(r->ops, p.requests);
	assert_int_equal(r->bytes, r->ops * 64);
	assert_int_equal(iolens_hist_count(r->hist), r->ops);
	assert_int_equal(r->net.data_check, IOLENS_CHECK_VERIFIED);
	assert_non_null(strstr(r->net.peer, "the caller's load generator"));
	iolens_result_free(r);
	/* A target opened for the caller's generator has no built-in one. */
	w.loadgen = NULL;
	r = NULL;
	assert_int_equal(iolens_run(t, &w, "epoll", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "loadgen"));
	iolens_target_close(t);
	for (int i = 0; i < 2; i++)
		iolens_generator_free(p.g[i]);
}

static void refused(void **state)
{
	struct pair p = { .log = "" };
	struct iolens_loadgen lg = { start, measure, finish, &p };
	struct iolens_generator *g = NULL;
	struct iolens_target *t = NULL;
	struct iolens_workload w;
	char err[256] = "";

	(void)state;
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.loadgen = &lg;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "loadgen: drives serve (not echo)"));
	w.kind = IOLENS_WL_SERVE;
	lg.measure = NULL;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "start, measure and finish"));
	assert_null(t);

	assert_int_equal(iolens_generator_new(&g, 999, -1, err, sizeof(err)), -EINVAL);
	assert_null(g);
	assert_non_null(strstr(err, "threads"));
	assert_int_equal(iolens_generator_new(&g, 1, -1, err, sizeof(err)), 0);
	assert_int_equal(iolens_generator_start(g, "127.0.0.1:1", IOLENS_TRANSPORT_TCP, 0, 64, 1,
						err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "conns"));
	assert_int_equal(iolens_generator_start(g, "127.0.0.1:1", IOLENS_TRANSPORT_TCP, 1, 0, 1,
						err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "msg"));
	assert_int_equal(iolens_generator_start(g, "nowhere", IOLENS_TRANSPORT_TCP, 1, 64, 1, err,
						sizeof(err)),
			 -EINVAL);
	/* Never started: finish gives nothing and free is clean. */
	{
		struct iolens_loadgen_figures f;

		iolens_generator_finish(g, &f);
		assert_int_equal(f.requests, 0);
		assert_null(f.hist);
	}
	iolens_generator_free(g);
	iolens_generator_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serve_by_the_callers_generators),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
