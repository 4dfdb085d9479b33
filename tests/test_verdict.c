/*
 * The verdict on results made up by hand: each sentence names the backends
 * and figures it rests on, follows them when they change, is left out when
 * its evidence is NaN, and ranks nothing with a single backend to rank.
 * The null backend is the harness's floor: never ranked, never named.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "report.h"

enum { NUL, BLOCKING, POLL, EPOLL, URING, LIBAIO, PAIO, N };

static struct iolens_result res[N];
static struct iolens_result *rs[N];

/* An ok result of randread at depth 1 with the given figures and nothing measured yet. */
static void make(int i, const char *backend, const char *declared, double iops, uint64_t p99,
		 double cpu_ns)
{
	struct iolens_result *r = &res[i];
	struct iolens_model *m = &r->model;

	memset(r, 0, sizeof(*r));
	iolens_workload_init(&r->workload);
	snprintf(r->backend, sizeof(r->backend), "%s", backend);
	r->status = IOLENS_STATUS_OK;
	r->ops = 100000;
	r->seconds = 1;
	r->iops = iops;
	r->lat.p99 = p99;
	r->cpu_per_op_ns = cpu_ns;
	r->resident_before = r->resident_after = 1;
	m->declared = declared;
	m->sync_share = m->vcsw_per_op_submit = m->vcsw_per_op_wait = m->wait_sleep_share = NAN;
	m->offload_share = m->offload_cpu_share = m->concurrency = m->io_per_op = NAN;
	m->async_share = m->blocked_share = m->nonblock_share = m->waited_share = NAN;
	m->own_data_per_op = m->inline_share = m->nowait_eagain_share = m->ready_share = NAN;
	m->fallback_share = m->resident_share = NAN;
	rs[i] = r;
}

static void measured(int i, const char *label, const char *who, const char *wait)
{
	struct iolens_model *m = &res[i].model;

	snprintf(m->measured, sizeof(m->measured), "%s", label);
	snprintf(m->who, sizeof(m->who), "%s", who);
	snprintf(m->wait, sizeof(m->wait), "%s", wait);
	m->mismatch = strcmp(label, m->declared) != 0;
	m->concurrency = 1;
	m->resident_share = 1;
}

/*
 * A page-cached randread on seven backends, as a run shows it: the floor far
 * ahead, readiness that did nothing, queue backends done inside submit,
 * posix-aio on its threads.
 */
static void page_cached(void)
{
	make(NUL, "null", IOLENS_MODEL_NO_IO, 15e6, 100, 60);
	make(BLOCKING, "blocking", IOLENS_MODEL_SYNC_BLOCKING, 200000, 5000, 3000);
	make(POLL, "poll", IOLENS_MODEL_SYNC_READINESS, 150000, 6000, 4000);
	make(EPOLL, "epoll", IOLENS_MODEL_SYNC_READINESS, 190000, 5200, 3100);
	make(URING, "io_uring", IOLENS_MODEL_ASYNC_KERNEL, 412000, 3000, 1900);
	make(LIBAIO, "libaio", IOLENS_MODEL_ASYNC_KERNEL, 315000, 4200, 2700);
	make(PAIO, "posix-aio", IOLENS_MODEL_ASYNC_THREADS, 40000, 45000, 24000);
	measured(NUL, IOLENS_MODEL_NO_IO, "", "");
	res[NUL].model.who[0] = '\0';
	measured(BLOCKING, IOLENS_MODEL_SYNC_NO_WAIT, "submitter", "no wait needed");
	measured(POLL, IOLENS_MODEL_SYNC_NO_WAIT, "submitter", "no wait needed");
	res[POLL].model.ready_share = 1;
	snprintf(res[POLL].model.flags, sizeof(res[POLL].model.flags),
		 "readiness did nothing: poll found the descriptor ready at once in 100%% of "
		 "checks");
	measured(EPOLL, IOLENS_MODEL_SYNC_NO_WAIT, "submitter", "no wait needed");
	res[EPOLL].model.fallback_share = 1;
	snprintf(res[EPOLL].model.flags, sizeof(res[EPOLL].model.flags),
		 "the readiness API refused the descriptor (EPERM) for 100%% of ops");
	measured(URING, IOLENS_MODEL_SYNC_NO_WAIT, "submitter", "no wait needed");
	res[URING].model.inline_share = 0.99;
	measured(LIBAIO, IOLENS_MODEL_SYNC_NO_WAIT, "submitter", "no wait needed");
	res[LIBAIO].model.inline_share = 1;
	measured(PAIO, IOLENS_MODEL_ASYNC_THREADS, "threads", "non-blocking");
	res[PAIO].model.offload_share = 1;
	res[PAIO].model.async_share = 1;
	res[PAIO].model.concurrency = 0.9;
}

static void verdict_of(struct iolens_verdict *v)
{
	assert_int_equal(iolens_verdict(rs, N, v), 0);
	for (unsigned i = 0; i < v->nsentences; i++)
		if (strstr(v->sentences[i], "null"))
			fail_msg("the floor is named: %s", v->sentences[i]);
}

/* The sentence that starts with prefix, or NULL. */
static const char *starting(const struct iolens_verdict *v, const char *prefix)
{
	for (unsigned i = 0; i < v->nsentences; i++)
		if (!strncmp(v->sentences[i], prefix, strlen(prefix)))
			return v->sentences[i];
	return NULL;
}

static const char *containing(const struct iolens_verdict *v, const char *part)
{
	for (unsigned i = 0; i < v->nsentences; i++)
		if (strstr(v->sentences[i], part))
			return v->sentences[i];
	return NULL;
}

static void has(const struct iolens_verdict *v, const char *sentence)
{
	for (unsigned i = 0; i < v->nsentences; i++)
		if (!strcmp(v->sentences[i], sentence))
			return;
	fprintf(stderr, "verdict:\n");
	for (unsigned i = 0; i < v->nsentences; i++)
		fprintf(stderr, "  %s\n", v->sentences[i]);
	fail_msg("no sentence '%s'", sentence);
}

static void rankings_name_the_best_and_the_margin(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	verdict_of(&v);
	assert_int_equal(v.most_iops, URING);
	assert_int_equal(v.lowest_p99, URING);
	assert_int_equal(v.least_cpu_per_op, URING);
	assert_string_equal(v.sentences[0],
			    "most throughput: io_uring, 412k IOPS, 1.31x libaio (315k)");
	assert_string_equal(v.sentences[1],
			    "lowest p99: io_uring, 3 us, 1.40x better than libaio (4.2 us)");
	assert_string_equal(v.sentences[2], "least CPU per op: io_uring, 1.9 us, "
					    "1.42x better than libaio (2.7 us)");
}

static void rankings_follow_the_figures(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	res[URING].iops = 315000;
	res[LIBAIO].iops = 412000;
	res[BLOCKING].lat.p99 = 1000;
	res[PAIO].cpu_per_op_ns = 950;
	verdict_of(&v);
	assert_int_equal(v.most_iops, LIBAIO);
	assert_int_equal(v.lowest_p99, BLOCKING);
	assert_int_equal(v.least_cpu_per_op, PAIO);
	has(&v, "most throughput: libaio, 412k IOPS, 1.31x io_uring (315k)");
	has(&v, "lowest p99: blocking, 1 us, 3.00x better than io_uring (3 us)");
	has(&v, "least CPU per op: posix-aio, 0.95 us, 2.00x better than io_uring (1.9 us)");

	/* Within half a percent is a tie, said as one. */
	res[URING].iops = 411000;
	verdict_of(&v);
	has(&v, "most throughput: libaio, 412k IOPS, level with io_uring (411k)");
}

static void nan_figures_are_left_out(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	res[URING].cpu_per_op_ns = NAN;
	verdict_of(&v);
	has(&v, "least CPU per op: libaio, 2.7 us, 1.11x better than blocking (3 us)");

	for (int i = 0; i < N; i++)
		res[i].cpu_per_op_ns = NAN;
	verdict_of(&v);
	assert_int_equal(v.least_cpu_per_op, -1);
	assert_null(starting(&v, "least CPU per op"));
	assert_non_null(starting(&v, "most throughput"));

	/* An unmeasured share: that backend leaves the sentence, the others stay. */
	page_cached();
	res[URING].model.inline_share = NAN;
	verdict_of(&v);
	has(&v, "libaio completed inside submit (100%): the page cache made it sync (100% of the file was cached)");
	res[LIBAIO].model.inline_share = NAN;
	verdict_of(&v);
	assert_null(containing(&v, "inside submit"));

	/* Without the page cache's share the cache is not named as the cause. */
	page_cached();
	res[URING].model.resident_share = NAN;
	verdict_of(&v);
	has(&v, "io_uring and libaio completed inside submit (99%, 100%), so they measured sync");

	/* No concurrency anywhere: no load sentence. */
	page_cached();
	for (int i = 0; i < N; i++)
		res[i].model.concurrency = NAN;
	verdict_of(&v);
	assert_null(starting(&v, "measured at"));
}

static void model_sentences_follow_the_model(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	verdict_of(&v);
	has(&v, "poll and epoll gain nothing on files: poll found the file ready at once in 100% of checks; epoll was refused (EPERM) for 100% of ops");
	has(&v, "io_uring and libaio completed inside submit (99%, 100%): the page cache made them sync (100% of the file was cached)");
	has(&v, "posix-aio used other threads for 100% of its I/O calls");
	has(&v, "blocking measured \"sync, no wait needed\" (declared \"sync blocking\")");
	has(&v, "measured at 0.9 to 1.0 ops in flight on average (Little's law) of 1 requested");

	/* poll waited in 40% of its checks: readiness did something, poll leaves the sentence. */
	res[POLL].model.ready_share = 0.6;
	res[POLL].model.flags[0] = '\0';
	snprintf(res[POLL].model.measured, sizeof(res[POLL].model.measured), "%s",
		 IOLENS_MODEL_SYNC_READINESS);
	snprintf(res[POLL].model.wait, sizeof(res[POLL].model.wait), "non-blocking");
	/* io_uring went to the kernel and slept for it; libaio did not complete inline. */
	snprintf(res[URING].model.who, sizeof(res[URING].model.who), "kernel");
	snprintf(res[URING].model.measured, sizeof(res[URING].model.measured), "%s",
		 IOLENS_MODEL_ASYNC_KERNEL);
	res[URING].model.inline_share = 0.01;
	res[URING].model.async_share = 0.99;
	res[URING].model.waited_share = 0.9;
	res[LIBAIO].model.inline_share = 0.3;
	/* posix-aio's calls were made by other threads only 80% of the time. */
	res[PAIO].model.offload_share = 0.8;
	verdict_of(&v);
	has(&v, "epoll gains nothing on files: epoll was refused (EPERM) for 100% of ops");
	has(&v, "io_uring ran async and had to wait: the kernel completed 99% of ops after submit, and the submitting thread slept for them in 90% of its reap calls");
	has(&v, "posix-aio used other threads for 80% of its I/O calls");
	/* Models as declared go unsaid; those that differ are named with what contradicts them. */
	has(&v, "blocking measured \"sync, no wait needed\" (declared \"sync blocking\"); libaio measured \"sync, no wait needed\" (declared \"async (kernel completion)\")");
	assert_null(starting(&v, "poll"));
	assert_null(containing(&v, " poll"));
	assert_null(containing(&v, "inside submit"));

	/* Completions that never needed a sleep (a spinning reaper) are said apart. */
	res[URING].model.waited_share = 0;
	verdict_of(&v);
	has(&v, "io_uring ran async without sleeping for completions (0% of reap calls slept): the kernel completed 99% of ops after submit");
	assert_null(containing(&v, "had to wait"));

	/* A backend far below the load asked for is named with its figure. */
	page_cached();
	for (int i = 0; i < N; i++)
		res[i].workload.depth = 32;
	for (int i = 0; i < N; i++)
		res[i].model.concurrency = 31;
	res[PAIO].model.concurrency = 12.5;
	verdict_of(&v);
	has(&v, "measured at 12.5 to 31.0 ops in flight on average (Little's law) of 32 requested; under half of it: posix-aio (12.5)");
}

static void one_backend_has_no_ranking(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	for (int i = 0; i < N; i++)
		if (i != NUL && i != URING)
			res[i].status = i == PAIO ? IOLENS_STATUS_SKIPPED : IOLENS_STATUS_ERROR;
	verdict_of(&v);
	assert_int_equal(v.most_iops, -1);
	assert_int_equal(v.lowest_p99, -1);
	assert_int_equal(v.least_cpu_per_op, -1);
	assert_null(starting(&v, "most throughput"));
	assert_null(starting(&v, "lowest p99"));
	assert_null(starting(&v, "least CPU per op"));
	has(&v, "io_uring completed inside submit (99%): the page cache made it sync (100% of the file was cached)");
	assert_null(containing(&v, "libaio"));

	/* A model as declared is said when it is the only one. */
	res[URING].status = IOLENS_STATUS_ERROR;
	res[BLOCKING].status = IOLENS_STATUS_OK;
	snprintf(res[BLOCKING].model.measured, sizeof(res[BLOCKING].model.measured), "%s",
		 IOLENS_MODEL_SYNC_BLOCKING);
	verdict_of(&v);
	assert_int_equal(v.most_iops, -1);
	has(&v, "blocking measured \"sync blocking\", as declared");
	has(&v, "measured at 1.0 ops in flight on average (Little's law) of 1 requested");
	assert_int_equal(v.nsentences, 2);

	/* Only the floor ran: nothing to say at all. */
	res[BLOCKING].status = IOLENS_STATUS_ERROR;
	res[URING].status = IOLENS_STATUS_ERROR;
	verdict_of(&v);
	assert_int_equal(v.nsentences, 0);
}

static void sockets_and_streams(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	for (int i = 0; i < N; i++) {
		res[i].workload.kind = IOLENS_WL_ECHO;
		res[i].workload.conns = 64;
	}
	verdict_of(&v);
	has(&v, "most throughput: io_uring, 412k req/s, 1.31x libaio (315k)");
	has(&v, "poll and epoll gain nothing at this load: poll found the sockets ready at once in 100% of checks; epoll was refused (EPERM) for 100% of ops");
	has(&v, "io_uring and libaio completed inside submit (99%, 100%), so they measured sync");
	/* All far below the load asked for: the range says so, no list of everyone. */
	has(&v, "measured at 0.9 to 1.0 ops in flight on average (Little's law) of 64 requested");
	/* Readiness that waited the non-blocking way did its job, ready at once or not. */
	snprintf(res[POLL].model.wait, sizeof(res[POLL].model.wait), "non-blocking");
	snprintf(res[POLL].model.measured, sizeof(res[POLL].model.measured), "%s",
		 IOLENS_MODEL_SYNC_READINESS);
	verdict_of(&v);
	has(&v, "epoll gains nothing at this load: epoll was refused (EPERM) for 100% of ops");
	assert_null(starting(&v, "poll"));
	assert_null(containing(&v, " poll"));
	for (int i = 0; i < N; i++)
		res[i].workload.kind = IOLENS_WL_STREAM;
	res[EPOLL].net.gbit_s = 11.2;
	res[URING].net.gbit_s = 10.7;
	verdict_of(&v);
	assert_int_equal(v.most_iops, EPOLL);
	has(&v, "most throughput: epoll, 11.2 Gbit/s, 1.05x io_uring (10.7)");
}

static void bad_arguments(void **state)
{
	struct iolens_verdict v;

	(void)state;
	page_cached();
	assert_int_equal(iolens_verdict(rs, N, NULL), -EINVAL);
	assert_int_equal(iolens_verdict(NULL, 1, &v), -EINVAL);
	assert_int_equal(iolens_verdict(NULL, 0, &v), 0);
	assert_int_equal(v.nsentences, 0);
	assert_int_equal(v.most_iops, -1);
	res[LIBAIO].workload.depth = 32;
	assert_int_equal(iolens_verdict(rs, N, &v), -EINVAL);
}

/* The JSON document: one verdict per run of results of the same workload. */
static void json_groups_by_workload(void **state)
{
	struct iolens_meta m = { .command_line = "test" };
	char *doc = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	page_cached();
	for (int i = PAIO - 1; i < N; i++)
		res[i].workload.depth = 32;
	f = open_memstream(&doc, &len);
	assert_non_null(f);
	assert_int_equal(iolens_json_document(f, &m, rs, N), 0);
	fclose(f);
	if (!strstr(doc, "\"workload\": \"randread\",\n      \"result_indices\": [0, 1, 2, 3, 4],\n      \"most_iops\": \"io_uring\",\n      \"lowest_p99\": \"io_uring\",\n      \"least_cpu_per_op\": \"io_uring\",\n      \"sentences\": [\n        \"most throughput: io_uring, 412k IOPS, 2.06x blocking (200k)\""))
		fail_msg("no first verdict in:\n%s", doc);
	if (!strstr(doc, "\"result_indices\": [5, 6],\n      \"most_iops\": \"libaio\",\n      \"lowest_p99\": \"libaio\",\n      \"least_cpu_per_op\": \"libaio\""))
		fail_msg("no second verdict in:\n%s", doc);
	if (!strstr(doc, "\"blocking measured \\\"sync, no wait needed\\\" (declared \\\"sync blocking\\\")\""))
		fail_msg("quotes not escaped in:\n%s", doc);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rankings_name_the_best_and_the_margin),
		cmocka_unit_test(rankings_follow_the_figures),
		cmocka_unit_test(nan_figures_are_left_out),
		cmocka_unit_test(model_sentences_follow_the_model),
		cmocka_unit_test(one_backend_has_no_ranking),
		cmocka_unit_test(sockets_and_streams),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(json_groups_by_workload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
