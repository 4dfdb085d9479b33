/*
 * The measured-model rules on made-up figures: each model from the figures
 * that define it, each threshold from both sides, the mismatch flag, and the
 * one-line reason naming the figures it rests on.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "model.h"

static unsigned name_index(const char *name)
{
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (strcmp(iolens_syscall_name(i), name) == 0)
			return i;
	fail_msg("no counter for %s", name);
	return 0;
}

struct fixture {
	struct iolens_syscalls sc;
	struct iolens__model_in in;
	struct iolens_model m;
};

/* 1000 ops; no syscalls, no time, no switches until a test adds them. */
static void reset(struct fixture *f, const char *declared)
{
	memset(f, 0, sizeof(*f));
	f->sc.measured = 1;
	f->sc.ops = 1000;
	f->in.declared = declared;
	f->in.sc = &f->sc;
	f->in.have_io_own = 1;
	f->in.cpu_jobs = NAN;
	f->in.lat_ns = 1000 * 10000; /* 10 us an op */
}

static void calls(struct fixture *f, const char *name, uint64_t n)
{
	f->sc.by_name[name_index(name)] = n;
	f->sc.total += n;
}

static void measure(struct fixture *f)
{
	iolens__model_measure(&f->m, &f->in);
}

static void assert_model(const struct fixture *f, const char *measured, int mismatch)
{
	if (strcmp(f->m.measured, measured) != 0)
		fail_msg("measured \"%s\", want \"%s\" (why: %s)", f->m.measured, measured, f->m.why);
	assert_int_equal(f->m.mismatch, mismatch);
}

static void assert_why_has(const struct fixture *f, const char *text)
{
	if (!strstr(f->m.why, text))
		fail_msg("why \"%s\" lacks \"%s\"", f->m.why, text);
}

static void plain_call_in_submit_is_sync_blocking(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_BLOCKING);
	calls(&f, "pread64", 1000);
	f.in.io_own = 1000;
	f.in.sync_ns = 1000 * 9000;
	f.in.vcsw_submit = 950;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 0);
	assert_true(fabs(f.m.sync_share - 0.9) < 1e-9);
	assert_true(fabs(f.m.vcsw_per_op_submit - 0.95) < 1e-9);
	assert_true(f.m.vcsw_per_op_wait == 0);
	assert_true(f.m.offload_share == 0);
	assert_true(fabs(f.m.io_per_op - 1.0) < 1e-9);
	assert_why_has(&f, "pread64 did the I/O (1.00/op)");
	assert_why_has(&f, "90%");
	assert_why_has(&f, "0.95 switches/op");
}

static void queue_call_holding_the_op_is_sync(void **state)
{
	struct fixture f;

	(void)state;
	/* libaio on a buffered file: io_submit copies the data before returning. */
	reset(&f, IOLENS_MODEL_ASYNC_KERNEL);
	calls(&f, "io_submit", 32);
	calls(&f, "io_getevents", 32);
	f.in.io_own = 32;
	f.in.sync_ns = f.in.lat_ns / 2; /* exactly the threshold */
	f.in.reaps = 1000;
	f.in.reaps_slept = 49; /* just under 5% of the waits slept */
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "io_submit (0.03/op) held each op for 50% of its latency");
	/* Just under it: queued, completed later. */
	f.in.sync_ns = f.in.lat_ns / 2 - 1;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_why_has(&f, "to complete it");
	/*
	 * A submit call that costs most of the latency (a virtual disk whose
	 * host does the request during the notify) but waits that sleep for the
	 * completion: still async.
	 */
	f.in.sync_ns = f.in.lat_ns * 6 / 10;
	f.in.reaps_slept = 50;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_why_has(&f, "5% of the waits slept");
	assert_true(fabs(f.m.wait_sleep_share - 0.05) < 1e-9);
}

static void io_uring_reason_names_punts(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_ASYNC_KERNEL);
	calls(&f, "io_uring_enter", 100);
	f.in.io_own = 100;
	f.sc.io_uring = 1;
	f.sc.iou_submitted = 1000;
	f.sc.iou_punted = 250;
	f.in.sync_ns = f.in.lat_ns / 10;
	f.in.vcsw_wait = 400;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_why_has(&f, "0.40 switches/op in wait");
	f.in.sync_ns = f.in.lat_ns;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "punted 25% of requests to io-wq");
}

static void sqpoll_without_enters_is_still_io(void **state)
{
	struct fixture f;

	(void)state;
	/* No syscall at all, but the kernel thread took requests: not "no I/O". */
	reset(&f, IOLENS_MODEL_ASYNC_KERNEL);
	f.sc.io_uring = 1;
	f.sc.iou_submitted = 1000;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_true(isnan(f.m.offload_share)); /* no I/O call to share out */
}

static void helper_threads_doing_the_calls_is_emulation(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_ASYNC_THREADS);
	calls(&f, "pread64", 1000);
	calls(&f, "futex", 1900);
	f.in.io_own = 500; /* half from the job thread: the threshold */
	f.in.cpu_all = 2.0;
	f.in.cpu_jobs = 0.5;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_THREADS, 0);
	assert_true(fabs(f.m.offload_share - 0.5) < 1e-9);
	assert_true(fabs(f.m.offload_cpu_share - 0.75) < 1e-9);
	assert_why_has(&f, "50% of the I/O calls (pread64 1.00/op)");
	assert_why_has(&f, "futex 1.90/op");
	f.in.io_own = 501;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
}

static void readiness_that_waits(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	calls(&f, "poll", 1000);
	calls(&f, "recvfrom", 1000);
	f.in.io_own = 1000;
	f.in.vcsw_wait = 800;
	f.in.ready_waits = 50; /* 5% of checks waited: the threshold */
	f.in.ready_now = 950;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_READINESS, 0);
	assert_why_has(&f, "poll had to wait in 5% of readiness checks");
	assert_why_has(&f, "recvfrom moved the data");
	/* A regular file: every check ready at once, so the plain call did the work. */
	f.in.ready_waits = 0;
	f.in.ready_now = 1000;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "ready at once in 100% of checks");
}

static void readiness_refused_falls_back(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	calls(&f, "pread64", 1000);
	f.in.io_own = 1000;
	/* Counted over the whole pass, warm-up included: more than the window's ops. */
	f.in.completed = 1500;
	f.in.fallbacks = 1500;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "refused the descriptor for 100% of ops");
	/* Fewer than half refused: the plain-call reason instead. */
	f.in.fallbacks = 749;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "pread64 did the I/O (1.00/op)");
}

static void no_io_calls_is_no_io(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_NO_IO);
	calls(&f, "futex", 3);
	measure(&f);
	assert_model(&f, IOLENS_MODEL_NO_IO, 0);
	assert_true(isnan(f.m.offload_share));
	assert_why_has(&f, "no I/O syscall in 1000 ops");
}

static void figures_missing_stay_nan(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_BLOCKING);
	calls(&f, "pread64", 1000);
	f.in.have_io_own = 0; /* the per-thread counters did not open */
	f.in.lat_ns = 0;
	measure(&f);
	assert_true(isnan(f.m.offload_share));
	assert_true(isnan(f.m.sync_share));
	assert_true(isnan(f.m.offload_cpu_share));
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 0);
	/* No ops: nothing measured, and the reason says so. */
	f.sc.ops = 0;
	measure(&f);
	assert_string_equal(f.m.measured, "");
	assert_true(isnan(f.m.vcsw_per_op_wait));
	assert_why_has(&f, "no operation completed");
}

static void littles_law(void **state)
{
	(void)state;
	assert_true(fabs(iolens__model_concurrency(100000, 320000) - 32.0) < 1e-9);
	assert_true(isnan(iolens__model_concurrency(0, 320000)));
	assert_true(isnan(iolens__model_concurrency(100000, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_call_in_submit_is_sync_blocking),
		cmocka_unit_test(queue_call_holding_the_op_is_sync),
		cmocka_unit_test(io_uring_reason_names_punts),
		cmocka_unit_test(sqpoll_without_enters_is_still_io),
		cmocka_unit_test(helper_threads_doing_the_calls_is_emulation),
		cmocka_unit_test(readiness_that_waits),
		cmocka_unit_test(readiness_refused_falls_back),
		cmocka_unit_test(no_io_calls_is_no_io),
		cmocka_unit_test(figures_missing_stay_nan),
		cmocka_unit_test(littles_law),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
