/*
 * Scale: echo and serve with 10,000 connections on the event-loop backends
 * (poll, epoll, io_uring), and 1,000 on blocking (a thread per connection).
 * Each must finish without error with every connection open; where the
 * descriptor limit cannot hold them the case skips and says so.
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
#include <sys/resource.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "peer.h"

struct scase {
	const char *spec;
	int kind;
	unsigned conns;
};

static void scale(void **state)
{
	const struct scase *c = *state;
	const struct iolens_backend_info *b = iolens_backend_find(c->spec);
	struct iolens_workload w;
	struct iolens_target *t = NULL;
	struct iolens_result *r = NULL;
	char err[256] = "";

	if (!b || !b->available)
		skip();
	/* The backend's process holds one end of each connection (the peer is a child). */
	if (iolens__raise_nofile() < c->conns + 100) {
		print_message("RLIMIT_NOFILE below %u: cannot hold the connections\n", c->conns + 100);
		skip();
	}
	iolens_workload_init(&w);
	w.kind = c->kind;
	w.conns = c->conns;
	w.time_s = 0.5;
	w.count = IOLENS_COUNT_OFF;
	if (iolens_target_open(&t, &w, err, sizeof(err)))
		fail_msg("target: %s", err);
	if (iolens_run(t, &w, c->spec, &r, err, sizeof(err)))
		fail_msg("run: %s", err);
	iolens_target_close(t);
	if (r->status != IOLENS_STATUS_OK)
		fail_msg("%s: %s", c->spec, r->reason);
	assert_int_equal(r->net.conns_open, c->conns);
	assert_true(r->ops > 0);
	assert_int_equal(r->bytes, r->ops * 64);
	if (!strcmp(c->spec, "blocking"))
		assert_int_equal(r->threads, c->conns);
	iolens_result_free(r);
}

int main(void)
{
	static const struct scase cases[] = {
		{ "epoll", IOLENS_WL_ECHO, 10000 },    { "epoll", IOLENS_WL_SERVE, 10000 },
		{ "io_uring", IOLENS_WL_ECHO, 10000 }, { "io_uring", IOLENS_WL_SERVE, 10000 },
		{ "poll", IOLENS_WL_ECHO, 10000 },     { "poll", IOLENS_WL_SERVE, 10000 },
		{ "blocking", IOLENS_WL_ECHO, 1000 },  { "blocking", IOLENS_WL_SERVE, 1000 },
	};
	static char names[8][48];
	struct CMUnitTest tests[8];

	for (unsigned i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "%s/%s/%u", cases[i].spec,
			 iolens_workload_name(cases[i].kind), cases[i].conns);
		tests[i] = (struct CMUnitTest){ .name = names[i], .test_func = scale,
						.initial_state = (void *)&cases[i] };
	}
	return _cmocka_run_group_tests("netscale", tests, 8, NULL, NULL);
}
