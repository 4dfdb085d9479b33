/*
 * The measured-model rules on made-up figures: each axis from the figures
 * that define it, each threshold from both sides, the label of every pair,
 * the mismatch flag, the flags, and the one-line reason naming the figures
 * it rests on.
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
	f->in.resident = -1;
	f->in.lat_ns = 1000 * 10000; /* 10 us an op */
	f->in.completed = 1000;
	f->in.submits = f->in.reaps = 1000; /* a call of each per op */
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

static void assert_flags_have(const struct fixture *f, const char *text)
{
	if (!strstr(f->m.flags, text))
		fail_msg("flags \"%s\" lack \"%s\"", f->m.flags, text);
}

static void assert_axes(const struct fixture *f, const char *who, const char *wait)
{
	assert_string_equal(f->m.who, who);
	assert_string_equal(f->m.wait, wait);
}

/* The job thread's own data calls, as the per-thread counter sees them. */
static void own_data(struct fixture *f, const char *name, uint64_t n)
{
	calls(f, name, n);
	f->in.io_own += n;
}

static void regions_are_the_thresholds(void **state)
{
	(void)state;
	assert_string_equal(iolens__model_who(0.4999, 0), "submitter");
	assert_string_equal(iolens__model_who(0.5, 0.4999), "kernel");
	assert_string_equal(iolens__model_who(0.5, 0.5), "threads");
	assert_string_equal(iolens__model_who(NAN, 1), "submitter");
	assert_string_equal(iolens__model_wait(0.05, 0), "blocking");
	assert_string_equal(iolens__model_wait(0.0499, 0.05), "non-blocking");
	assert_string_equal(iolens__model_wait(0.0499, 0.0499), "no wait needed");
	assert_string_equal(iolens__model_label("submitter", "blocking"), IOLENS_MODEL_SYNC_BLOCKING);
	assert_string_equal(iolens__model_label("submitter", "non-blocking"),
			    IOLENS_MODEL_SYNC_READINESS);
	assert_string_equal(iolens__model_label("submitter", "no wait needed"),
			    IOLENS_MODEL_SYNC_NO_WAIT);
	assert_string_equal(iolens__model_label("kernel", "blocking"), IOLENS_MODEL_ASYNC_KERNEL);
	assert_string_equal(iolens__model_label("threads", "no wait needed"),
			    IOLENS_MODEL_ASYNC_THREADS);
	assert_null(iolens__model_label("nobody", "blocking"));
}

static void own_call_that_slept_is_blocking(void **state)
{
	struct fixture f;

	(void)state;
	/* blocking on a cold file: its own pread64 slept in 5% of ops (the threshold). */
	reset(&f, IOLENS_MODEL_SYNC_BLOCKING);
	own_data(&f, "pread64", 1000);
	f.in.completed_inline = 1000;
	f.in.sync_ns = 1000 * 9000;
	f.in.vcsw_submit = f.in.submits_slept = 50;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 0);
	assert_axes(&f, "submitter", "blocking");
	assert_true(fabs(f.m.blocked_share - 0.05) < 1e-9);
	assert_true(f.m.async_share == 0);
	assert_true(fabs(f.m.sync_share - 0.9) < 1e-9);
	assert_why_has(&f, "own pread64 moved the data (1.00/op)");
	assert_why_has(&f, "slept in 5% of the pread64 calls that moved the data (0.05 switches/op)");
	assert_string_equal(f.m.flags, "");
	/* Just under: the data was there; not a mismatch for a blocking backend. */
	f.in.vcsw_submit = f.in.submits_slept = 49;
	f.in.resident = 1.0;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 0);
	assert_axes(&f, "submitter", "no wait needed");
	assert_why_has(&f, "nothing had to wait (0.05 switches/op): the page cache held 100% of the file");
}

static void completion_inside_submit_is_sync(void **state)
{
	struct fixture f;

	(void)state;
	/* libaio on a cached file: io_submit finished the ops before it returned. */
	reset(&f, IOLENS_MODEL_ASYNC_KERNEL);
	calls(&f, "io_submit", 32);
	f.in.io_own = 32;
	f.in.completed_inline = 501;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_axes(&f, "submitter", "no wait needed");
	assert_true(fabs(f.m.async_share - 0.499) < 1e-9);
	assert_true(f.m.own_data_per_op == 0); /* io_submit is no data call */
	assert_why_has(&f, "50% of ops completed inside the io_submit that submitted them");
	assert_flags_have(&f, "completed inside submit for 50% of ops");
	/* Half or more completed later: async, whatever the submit call cost. */
	f.in.completed_inline = 500;
	f.in.sync_ns = f.in.lat_ns;
	f.in.submits = f.in.reaps = f.in.reaps_waited = 32;
	f.in.vcsw_wait = f.in.reaps_slept = f.in.reaps_waited_slept = 32;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_axes(&f, "kernel", "non-blocking");
	assert_why_has(&f, "the kernel completed 50% of ops after the submitting io_submit (0.032/op) returned");
	assert_why_has(&f, "waited only in completion waits: 100% of reap calls slept there");
	/* A submit call that slept: async still, blocking submit on the wait axis. */
	f.in.vcsw_submit = f.in.submits_slept = 2; /* 2 of 32: over 5% */
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_axes(&f, "kernel", "blocking");
	assert_why_has(&f, "slept in 6% of the io_submit calls that moved the data");
}

static void io_uring_reason_names_punts(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_ASYNC_KERNEL);
	calls(&f, "io_uring_enter", 100);
	f.in.io_own = f.in.enter_own = 100;
	f.sc.io_uring = 1;
	f.sc.iou_submitted = 1000;
	f.sc.iou_punted = 250;
	f.in.vcsw_wait = f.in.reaps_slept = f.in.reaps_waited = f.in.reaps_waited_slept = 400;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_ASYNC_KERNEL, 0);
	assert_why_has(&f, "punted 25% of requests to io-wq");
	assert_true(f.m.own_data_per_op == 0); /* io_uring_enter is no data call */
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
	assert_axes(&f, "kernel", "no wait needed");
	assert_true(isnan(f.m.offload_share)); /* no I/O call to share out */
	assert_why_has(&f, "the submitting thread made 0.000 I/O calls/op");
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
	assert_axes(&f, "threads", "no wait needed");
	assert_true(fabs(f.m.offload_share - 0.5) < 1e-9);
	assert_true(fabs(f.m.offload_cpu_share - 0.75) < 1e-9);
	assert_why_has(&f, "50% of the I/O calls (pread64 1.00/op)");
	assert_why_has(&f, "futex 1.90/op");
	/* Just under half offloaded, and the job thread's own calls do the rest. */
	f.in.io_own = 501;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_axes(&f, "submitter", "no wait needed");
	assert_flags_have(&f, "own pread64 moved the data (0.50/op)");
}

static void readiness_that_waits(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	calls(&f, "poll", 1000);
	own_data(&f, "recvfrom", 1000);
	/* Waits that slept in 5% of ops; the data calls made blocking (no tries). */
	f.in.vcsw_wait = f.in.reaps_slept = f.in.reaps_waited_slept = 50;
	f.in.reaps_waited = 300;
	f.in.ready_waits = 300;
	f.in.ready_now = 700;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_READINESS, 0);
	assert_axes(&f, "submitter", "non-blocking");
	assert_true(fabs(f.m.ready_share - 0.7) < 1e-9);
	assert_why_has(&f, "recvfrom moved the data");
	assert_why_has(&f, "waited only in poll: 5% of reap calls slept there, 0% of the calls that moved the data (0.05 switches/op)");
	/* No wait slept, but the data calls were O_NONBLOCK: non-blocking still. */
	f.in.vcsw_wait = f.in.reaps_slept = f.in.reaps_waited_slept = 0;
	f.in.nowait_tries = 1000;
	f.in.nowait_eagain = 100;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_READINESS, 0);
	assert_why_has(&f, "1.00 data calls/op were made non-blocking, 10% said EAGAIN");
	assert_string_equal(f.m.flags, "");
}

static void readiness_on_a_file(void **state)
{
	struct fixture f;

	(void)state;
	/* poll on a cached file: ready at once every time, nothing slept. */
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	calls(&f, "poll", 1000);
	own_data(&f, "pread64", 1000);
	f.in.ready_now = 1000;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_flags_have(&f, "readiness did nothing: poll found the descriptor ready at once in 100% of checks");
	/* Cold: the pread64 after a ready poll slept, in reaps that entered no wait. */
	f.in.vcsw_wait = f.in.reaps_slept = 900;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_axes(&f, "submitter", "blocking");
	assert_flags_have(&f, "the data call slept after readiness in 90% of calls");
	/* The same switches inside reaps that waited are readiness waits. */
	f.in.reaps_waited = f.in.reaps_waited_slept = 900;
	measure(&f);
	assert_axes(&f, "submitter", "non-blocking");
}

static void nowait_that_said_eagain_names_the_call_that_did_it(void **state)
{
	struct fixture f;

	(void)state;
	/* poll:nowait on a cold file: preadv2 said EAGAIN for most, pread64 did them. */
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	calls(&f, "poll", 1000);
	own_data(&f, "preadv2", 1000);
	own_data(&f, "pread64", 966);
	f.in.nowait_tries = 1000;
	f.in.nowait_eagain = 966;
	f.in.vcsw_wait = f.in.reaps_slept = 800;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_BLOCKING, 1);
	assert_why_has(&f, "own pread64 moved the data");
	assert_flags_have(&f, "non-blocking tries said EAGAIN for 97%: pread64 did the I/O");
}

static void readiness_refused_falls_back(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	own_data(&f, "pread64", 1000);
	/* Counted over the whole pass, warm-up included: more than the window's ops. */
	f.in.completed = 1500;
	f.in.fallbacks = 1500;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_flags_have(&f, "refused the descriptor (EPERM) for 100% of ops");
	f.in.fallbacks = 749;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_true(strstr(f.m.flags, "refused") == NULL);
}

/* A readiness loop that never waits on a file (coro-epoll): plain calls inside submit. */
static void readiness_never_asked(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_SYNC_READINESS);
	own_data(&f, "pread64", 1000);
	f.in.completed = f.in.completed_inline = 1000;
	measure(&f);
	assert_model(&f, IOLENS_MODEL_SYNC_NO_WAIT, 1);
	assert_flags_have(&f, "no readiness call: 100% of ops were plain calls completed inside submit");
	assert_true(strstr(f.m.flags, "refused") == NULL);
}

static void no_io_calls_is_no_io(void **state)
{
	struct fixture f;

	(void)state;
	reset(&f, IOLENS_MODEL_NO_IO);
	calls(&f, "futex", 3);
	measure(&f);
	assert_model(&f, IOLENS_MODEL_NO_IO, 0);
	assert_string_equal(f.m.who, "");
	assert_true(isnan(f.m.offload_share));
	assert_true(isnan(f.m.async_share));
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
	f.in.completed = 0;
	measure(&f);
	assert_true(isnan(f.m.offload_share));
	assert_true(isnan(f.m.sync_share));
	assert_true(isnan(f.m.offload_cpu_share));
	assert_true(isnan(f.m.own_data_per_op));
	assert_true(isnan(f.m.inline_share));
	assert_true(isnan(f.m.nowait_eagain_share));
	/* Without the own-call evidence nothing says the submitter did it. */
	assert_axes(&f, "kernel", "no wait needed");
	/* No ops: nothing measured, and the reason says so. */
	f.sc.ops = 0;
	measure(&f);
	assert_string_equal(f.m.measured, "");
	assert_true(isnan(f.m.vcsw_per_op_wait));
	assert_true(isnan(f.m.blocked_share));
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
		cmocka_unit_test(regions_are_the_thresholds),
		cmocka_unit_test(own_call_that_slept_is_blocking),
		cmocka_unit_test(completion_inside_submit_is_sync),
		cmocka_unit_test(io_uring_reason_names_punts),
		cmocka_unit_test(sqpoll_without_enters_is_still_io),
		cmocka_unit_test(helper_threads_doing_the_calls_is_emulation),
		cmocka_unit_test(readiness_that_waits),
		cmocka_unit_test(readiness_on_a_file),
		cmocka_unit_test(nowait_that_said_eagain_names_the_call_that_did_it),
		cmocka_unit_test(readiness_refused_falls_back),
		cmocka_unit_test(readiness_never_asked),
		cmocka_unit_test(no_io_calls_is_no_io),
		cmocka_unit_test(figures_missing_stay_nan),
		cmocka_unit_test(littles_law),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
