/*
 * What the kernel counted must match what each backend really does: one
 * pread64 per blocking read, no I/O syscalls for null, batched io_uring
 * entering the kernel rarely, glibc AIO doing its reads on helper threads,
 * epoll never adding a regular file; and what one echo request costs on
 * blocking, epoll, poll and io_uring. Skips with the reason where this
 * machine cannot open tracepoint counters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "syscount.h"

static struct iolens_target *target;

static unsigned name_index(const char *name)
{
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (strcmp(iolens_syscall_name(i), name) == 0)
			return i;
	fail_msg("no counter for %s", name);
	return 0;
}

static uint64_t count(const struct iolens_result *r, const char *name)
{
	return r->syscalls.by_name[name_index(name)];
}

static void assert_model(const struct iolens_result *r, const char *measured, int mismatch,
			 const char *why_has)
{
	const struct iolens_model *m = &r->model;

	if (strcmp(m->measured, measured) != 0 || m->mismatch != mismatch ||
	    !strstr(m->why, why_has))
		fail_msg("%s: measured \"%s\" mismatch %d, want \"%s\" mismatch %d with \"%s\" (why: %s)",
			 r->backend, m->measured, m->mismatch, measured, mismatch, why_has, m->why);
}

static struct iolens_result *run_w_on(struct iolens_target *t, const char *spec,
				      struct iolens_workload *w)
{
	struct iolens_result *r;
	char err[256];

	assert_int_equal(iolens_run(t, w, spec, &r, err, sizeof(err)), 0);
	if (r->status != IOLENS_STATUS_OK)
		fail_msg("%s: %s", spec, r->reason);
	if (!r->syscalls.measured)
		fail_msg("%s: syscalls not counted: %s", spec, r->syscalls.why);
	assert_int_equal(r->syscalls.ops, w->ops);
	assert_int_equal(r->syscalls.pass, IOLENS_COUNT_SEPARATE);
	return r;
}

static struct iolens_result *run_w(const char *spec, struct iolens_workload *w)
{
	return run_w_on(target, spec, w);
}

static struct iolens_result *run(const char *spec, unsigned depth, unsigned batch, uint64_t ops)
{
	struct iolens_workload w;

	iolens_workload_init(&w);
	w.size = 16 << 20;
	w.depth = depth;
	w.batch = batch;
	w.time_s = 0;
	w.ops = ops;
	return run_w(spec, &w);
}

static int have(const char *backend)
{
	const struct iolens_backend_info *b = iolens_backend_find(backend);

	return b && b->available;
}

/* Page-cached reads through pread: exactly one pread64 each, little else. */
static void blocking_one_pread_per_op(void **state)
{
	struct iolens_result *r = run("blocking", 1, 1, 20000);

	(void)state;
	assert_int_equal(count(r, "pread64"), 20000);
	/*
	 * Parking and waking the job thread at the window's edges: a few futex
	 * calls. The four getrusage calls per op that measured the model are
	 * not there: they are subtracted exactly.
	 */
	assert_true(r->syscalls.total - 20000 <= 8);
	assert_true(r->syscalls.other <= 8);
	assert_int_equal(r->syscalls.offloaded, 0);
	assert_model(r, IOLENS_MODEL_SYNC_NO_WAIT, 0, "own pread64 moved the data (1.00/op)");
	assert_true(r->model.offload_share == 0);
	assert_true(r->model.io_per_op == 1.0);
	iolens_result_free(r);
}

static void blocking_threads_each_pread(void **state)
{
	struct iolens_result *r = run("blocking", 8, 1, 20000);

	(void)state;
	assert_int_equal(count(r, "pread64"), 20000);
	assert_int_equal(r->syscalls.offloaded, 0);
	iolens_result_free(r);
}

static void null_no_io_syscalls(void **state)
{
	static const char *const io[] = { "read", "write", "pread64", "pwrite64", "preadv2",
					  "io_uring_enter", "io_submit", "io_getevents", "poll",
					  "epoll_wait", "fsync" };
	struct iolens_result *r = run("null", 32, 1, 200000);

	(void)state;
	for (unsigned i = 0; i < sizeof(io) / sizeof(io[0]); i++)
		assert_int_equal(count(r, io[i]), 0);
	assert_true(r->syscalls.total <= 8);
	assert_model(r, IOLENS_MODEL_NO_IO, 0, "no I/O syscall");
	iolens_result_free(r);
}

static void io_uring_batched_enters_rarely(void **state)
{
	struct iolens_result *r = run("io_uring", 32, 32, 64000);

	(void)state;
	assert_int_equal(count(r, "pread64"), 0);
	assert_true((double)count(r, "io_uring_enter") / 64000.0 <= 0.2);
	assert_true(r->syscalls.io_uring);
	assert_int_equal(r->syscalls.iou_completed, 64000);
	iolens_result_free(r);
}

static void io_uring_sqpoll_submits_without_entering(void **state)
{
	struct iolens_result *r = run("io_uring:sqpoll", 32, 32, 64000);

	(void)state;
	/* The kernel thread submits; the job thread only enters to wait. */
	assert_true((double)count(r, "io_uring_enter") / 64000.0 <= 0.05);
	assert_true(r->syscalls.helper_threads >= 1);
	/* Submitting only fills the ring: the op is queued, the kernel thread does it. */
	assert_model(r, IOLENS_MODEL_ASYNC_KERNEL, 0, "io_uring kernel thread took requests from the ring");
	assert_true(r->model.sync_share < 0.5);
	assert_true(r->model.offload_share == 0);
	iolens_result_free(r);
}

static void posix_aio_reads_on_helper_threads(void **state)
{
	struct iolens_result *r = run("posix-aio", 8, 1, 20000);
	uint64_t preads = count(r, "pread64");

	(void)state;
	assert_int_equal(preads, 20000);
	/* Every pread64 came from a glibc thread, not the job thread. */
	assert_true(r->syscalls.offloaded >= preads);
	assert_true(count(r, "futex") > 0);
	assert_model(r, IOLENS_MODEL_ASYNC_THREADS, 0, "100% of the I/O calls (pread64 1.00/op)");
	assert_true(r->model.offload_share == 1.0);
	iolens_result_free(r);
}

static void epoll_regular_file_falls_back(void **state)
{
	struct iolens_result *r = run("epoll", 8, 1, 20000);

	(void)state;
	assert_int_equal(count(r, "pread64"), 20000);
	assert_int_equal(count(r, "epoll_wait"), 0);
	assert_int_equal(r->stats.fallbacks, r->stats.completed);
	assert_model(r, IOLENS_MODEL_SYNC_NO_WAIT, 1, "own pread64 moved the data");
	assert_non_null(strstr(r->model.flags, "refused the descriptor (EPERM) for 100% of ops"));
	iolens_result_free(r);
}

static void poll_regular_file_never_waits(void **state)
{
	struct iolens_result *r = run("poll", 8, 1, 20000);

	(void)state;
	assert_int_equal(count(r, "pread64"), 20000);
	assert_true(count(r, "poll") > 0);
	assert_int_equal(r->stats.waits, 0);
	assert_model(r, IOLENS_MODEL_SYNC_NO_WAIT, 1, "own pread64 moved the data");
	assert_non_null(strstr(r->model.flags, "ready at once in 100% of checks"));
	iolens_result_free(r);
}

/*
 * --submit-batch N splits each refill into calls of at most N ops (fio's
 * iodepth_batch_submit); without it a refill of 32 is one call. Page-cached
 * reads complete inside the submit, so every reap finds all 32 done.
 */
static struct iolens_result *run_split(const char *spec, unsigned submit_batch)
{
	struct iolens_workload w;

	iolens_workload_init(&w);
	w.size = 16 << 20;
	w.depth = 32;
	w.batch = 32;
	w.submit_batch = submit_batch;
	w.time_s = 0;
	w.ops = 64000;
	return run_w(spec, &w);
}

static void libaio_submit_batch_splits_calls(void **state)
{
	struct iolens_result *r;
	uint64_t n;

	(void)state;
	if (!have("libaio"))
		skip();
	r = run_split("libaio", 0);
	n = count(r, "io_submit");
	assert_true(n >= 64000 / 32 - 2 && n <= 64000 / 32 + 2);
	assert_int_equal(r->workload.submit_batch, 0);
	iolens_result_free(r);
	r = run_split("libaio", 4);
	n = count(r, "io_submit");
	assert_true(n >= 64000 / 4 - 16 && n <= 64000 / 4 + 16);
	assert_int_equal(r->workload.submit_batch, 4);
	iolens_result_free(r);
}

/* One SQE per io_uring_enter, plus at most one enter per reaped batch. */
static void io_uring_submit_batch_one_per_enter(void **state)
{
	struct iolens_result *r;
	uint64_t n;

	(void)state;
	if (!have("io_uring"))
		skip();
	r = run_split("io_uring", 1);
	n = count(r, "io_uring_enter");
	assert_true(n >= 64000 - 32 && n <= 64000 + 64000 / 32 + 32);
	assert_int_equal(r->syscalls.iou_completed, 64000);
	iolens_result_free(r);
}

/* libaio on a page-cached file: io_submit copies the data before it returns. */
static void libaio_buffered_is_sync(void **state)
{
	struct iolens_result *r;

	(void)state;
	if (!have("libaio"))
		skip();
	r = run("libaio", 32, 32, 64000);
	assert_model(r, IOLENS_MODEL_SYNC_NO_WAIT, 1, "completed inside the io_submit that submitted them");
	assert_true(r->model.sync_share >= 0.5);
	assert_true(r->model.offload_share == 0);
	/* The completions are in the ring when io_submit returns: reap reads them there. */
	assert_int_equal(count(r, "io_submit"), 64000 / 32);
	assert_int_equal(count(r, "io_getevents"), 0);
	iolens_result_free(r);
}

/* With O_DIRECT the request goes to the device: queued, and waited for in io_getevents. */
static void libaio_direct_is_async(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;
	char err[256];

	(void)state;
	if (!have("libaio"))
		skip();
	iolens_workload_init(&w);
	w.size = 16 << 20;
	w.direct = 1;
	/*
	 * Depth 8: with one request in flight a virtual disk may finish it
	 * inside io_submit now and then (the host does it during the notify),
	 * and the run is then rightly measured synchronous; with several
	 * queued, each waits in the queue after its submit returned.
	 */
	w.depth = 8;
	w.time_s = 0;
	w.ops = 4000;
	assert_int_equal(iolens_run(target, &w, "libaio", &r, err, sizeof(err)), 0);
	if (r->status != IOLENS_STATUS_OK && r->error == -EINVAL) {
		printf("skipping: this file system refuses O_DIRECT: %s\n", r->reason);
		iolens_result_free(r);
		skip();
	}
	iolens_result_free(r);
	/*
	 * Now and then the host serves a whole batch during io_submit's
	 * notify, and the run is then rightly measured synchronous; a device
	 * that queues shows in one of three runs.
	 */
	for (int tries = 1;; tries++) {
		r = run_w("libaio", &w);
		if (tries == 3 || strcmp(r->model.who, "submitter") != 0)
			break;
		printf("run %d measured synchronous, run again: %s\n", tries, r->model.why);
		iolens_result_free(r);
	}
	assert_model(r, IOLENS_MODEL_ASYNC_KERNEL, 0, "after the submitting io_submit");
	/* Refills after each reap go in one io_submit: at most one per op. */
	assert_true(count(r, "io_submit") > 0 && count(r, "io_submit") <= r->syscalls.ops);
	assert_true(count(r, "io_getevents") > 0);
	/*
	 * The thread sleeps waiting for the completion, not inside the submit
	 * call. (On a virtual disk the submit call can still take half of the
	 * latency: the host may do the request during the notify.)
	 */
	assert_true(r->model.wait_sleep_share >= 0.05);
	assert_true(r->model.vcsw_per_op_submit < r->model.vcsw_per_op_wait);
	iolens_result_free(r);
}

/*
 * One-connection echo of 64-byte requests, both ends pinned to CPU 0 (the
 * responder can answer only while the client is off the CPU), counted in
 * the job thread: the calls each request costs.
 */
#define ECHO_OPS 5000u
static struct iolens_result *echo(const char *spec)
{
	struct iolens_target *t = NULL;
	struct iolens_workload w;
	struct iolens_result *r;
	char err[256];

	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.msg = 64;
	w.time_s = 0;
	w.ops = ECHO_OPS;
	w.cpu = 0;
	w.peer_cpu = 0;
	if (iolens_target_open(&t, &w, err, sizeof(err)))
		fail_msg("target: %s", err);
	r = run_w_on(t, spec, &w);
	iolens_target_close(t);
	return r;
}

/* Within a few of n: the window opens and closes between requests, give or take one. */
static void assert_about(const struct iolens_result *r, const char *name, uint64_t n)
{
	uint64_t c = count(r, name);

	if (c + 3 < n || c > n + 3)
		fail_msg("%s: %llu %s for %llu requests", r->backend, (unsigned long long)c, name,
			 (unsigned long long)n);
}

/* Same calls as sockperf's client: send and recv, nothing else. */
static void blocking_echo_send_recv(void **state)
{
	struct iolens_result *r = echo("blocking");

	(void)state;
	assert_about(r, "sendto", ECHO_OPS);
	assert_about(r, "recvfrom", ECHO_OPS);
	assert_true(r->syscalls.total <= 2 * ECHO_OPS + 8);
	iolens_result_free(r);
}

/*
 * The SEND goes at once in submit and EPOLLIN stays registered: a request is
 * send, epoll_wait, recv when the answer is there at the first look (no
 * epoll_ctl); a wait that has to block first confirms the registration
 * (one epoll_ctl) and waits again. So every epoll_ctl comes with an
 * epoll_wait beyond the first of its request (before: 2 epoll_ctl and 2 or
 * 3 epoll_wait each).
 */
static void epoll_echo_send_wait_recv(void **state)
{
	struct iolens_result *r = echo("epoll");
	uint64_t waits = count(r, "epoll_wait"), ctls = count(r, "epoll_ctl");

	(void)state;
	assert_about(r, "sendto", ECHO_OPS);
	assert_about(r, "recvfrom", ECHO_OPS);
	if (waits + 3 < ECHO_OPS || waits > 2 * ECHO_OPS + 3 || ctls > waits - ECHO_OPS + 3)
		fail_msg("epoll: %llu epoll_wait and %llu epoll_ctl for %u requests",
			 (unsigned long long)waits, (unsigned long long)ctls, ECHO_OPS);
	assert_true(r->stats.completed_inline >= ECHO_OPS);
	iolens_result_free(r);
}

/* poll: send at once, then poll and recv; a second poll only when the first found nothing. */
static void poll_echo_send_poll_recv(void **state)
{
	struct iolens_result *r = echo("poll");
	uint64_t polls = count(r, "poll");

	(void)state;
	assert_about(r, "sendto", ECHO_OPS);
	assert_about(r, "recvfrom", ECHO_OPS);
	if (polls + 3 < ECHO_OPS || polls > 2 * ECHO_OPS + 3)
		fail_msg("poll: %llu polls for %u requests", (unsigned long long)polls, ECHO_OPS);
	iolens_result_free(r);
}

/*
 * io_uring: the SEND and RECV SQEs wait in the SQ until the reap, which
 * submits them and waits for both in one io_uring_enter (before: one to
 * submit, one to wait). The job thread makes no send or recv itself, and
 * submit no longer holds the request: the wait does, sleeping while the
 * responder answers.
 */
static void io_uring_echo_one_enter(void **state)
{
	struct iolens_result *r = echo("io_uring");

	(void)state;
	assert_about(r, "io_uring_enter", ECHO_OPS);
	assert_int_equal(count(r, "sendto"), 0);
	assert_int_equal(count(r, "recvfrom"), 0);
	assert_model(r, IOLENS_MODEL_ASYNC_KERNEL, 0, "waited only in completion waits");
	iolens_result_free(r);
}

static void count_off_reports_null(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;
	char err[256];

	(void)state;
	iolens_workload_init(&w);
	w.size = 16 << 20;
	w.time_s = 0;
	w.ops = 1000;
	w.count = IOLENS_COUNT_OFF;
	assert_int_equal(iolens_run(target, &w, "blocking", &r, err, sizeof(err)), 0);
	assert_int_equal(r->syscalls.measured, 0);
	assert_non_null(strstr(r->syscalls.why, "--count off"));
	iolens_result_free(r);
}

static int setup(void **state)
{
	struct iolens_workload w;
	char err[256];

	(void)state;
	iolens_workload_init(&w);
	w.size = 16 << 20;
	w.time_s = 0;
	w.ops = 1;
	return iolens_target_open(&target, &w, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	iolens_target_close(target);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blocking_one_pread_per_op),
		cmocka_unit_test(blocking_threads_each_pread),
		cmocka_unit_test(null_no_io_syscalls),
		cmocka_unit_test(io_uring_batched_enters_rarely),
		cmocka_unit_test(io_uring_sqpoll_submits_without_entering),
		cmocka_unit_test(posix_aio_reads_on_helper_threads),
		cmocka_unit_test(epoll_regular_file_falls_back),
		cmocka_unit_test(poll_regular_file_never_waits),
		cmocka_unit_test(libaio_buffered_is_sync),
		cmocka_unit_test(libaio_submit_batch_splits_calls),
		cmocka_unit_test(io_uring_submit_batch_one_per_enter),
		cmocka_unit_test(libaio_direct_is_async),
		cmocka_unit_test(blocking_echo_send_recv),
		cmocka_unit_test(epoll_echo_send_wait_recv),
		cmocka_unit_test(poll_echo_send_poll_recv),
		cmocka_unit_test(io_uring_echo_one_enter),
		cmocka_unit_test(count_off_reports_null),
	};
	char why[192];

	if (iolens__syscount_probe(why, sizeof(why))) {
		printf("skipping: syscall counters unavailable here: %s\n", why);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
