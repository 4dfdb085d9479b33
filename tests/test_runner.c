/*
 * The level-1 API end to end on every available backend: described
 * workloads run with several jobs, data verified, exact operation counts,
 * failures carried into the result, bad input refused with nothing left on
 * disk.
 *
 * One piece, ~750 lines, because it is the suite of one API level, its
 * cases sharing the workload fixture and the leftover-file checks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"

static char tmpdir[] = "/tmp/iolens-test-runner-XXXXXX";

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void small_workload(struct iolens_workload *w, int kind)
{
	iolens_workload_init(w);
	w->kind = kind;
	w->size = 8 << 20;
	w->depth = 8;
	w->jobs = 2;
	w->time_s = 0;
	w->ops = 4000;
	w->verify = 1;
	w->count = IOLENS_COUNT_OFF; /* syscall counting has its own test */
}

/* Run w on backend `name`; returns the result (never NULL). */
static struct iolens_result *run_one(const struct iolens_workload *w, const char *name,
				     struct iolens_target **keep)
{
	struct iolens_target *t;
	struct iolens_result *r;
	char err[256];

	assert_int_equal(iolens_target_open(&t, w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(t, w, name, &r, err, sizeof(err)), 0);
	assert_non_null(r);
	if (keep)
		*keep = t;
	else
		iolens_target_close(t);
	return r;
}

static void check_ok(const struct iolens_result *r, const struct iolens_workload *w)
{
	if (r->status != IOLENS_STATUS_OK)
		fail_msg("%s: status %d: %s", r->backend, r->status, r->reason);
	assert_int_equal(r->ops, w->ops);
	assert_int_equal(r->bytes, r->ops * w->bs);
	assert_int_equal(iolens_hist_count(r->hist), r->ops);
	assert_true(r->seconds > 0);
	assert_true(r->lat.min <= r->lat.p50 && r->lat.p50 <= r->lat.p99 && r->lat.p99 <= r->lat.max);
	assert_true(r->stats.completed >= r->ops);
	assert_int_equal(r->stats.submitted, r->stats.completed);
}

static int skip_unavailable(const char *spec)
{
	char name[32];
	const struct iolens_backend_info *b;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(spec, ":"), spec);
	b = iolens_backend_find(name);

	if (!b->available) {
		print_message("%s unavailable: %s\n", name, b->reason);
		return 1;
	}
	return 0;
}

static void verified_randread(void **state)
{
	const char *name = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	if (skip_unavailable(name) || strcmp(name, "null") == 0)
		skip();
	small_workload(&w, IOLENS_WL_RANDREAD);
	r = run_one(&w, name, NULL);
	check_ok(r, &w);
	assert_int_equal(r->by_kind[IOLENS_OP_READ].ops, w.ops);
	assert_int_equal(r->by_kind[IOLENS_OP_WRITE].ops, 0);
	assert_true(r->threads >= 2);
	iolens_result_free(r);
}

static void verified_randwrite(void **state)
{
	const char *name = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	if (skip_unavailable(name) || strcmp(name, "null") == 0)
		skip();
	small_workload(&w, IOLENS_WL_RANDWRITE);
	r = run_one(&w, name, NULL);
	check_ok(r, &w);
	assert_int_equal(r->by_kind[IOLENS_OP_WRITE].ops, w.ops);
	iolens_result_free(r);
}

static void mixed_with_fsync(void **state)
{
	const char *name = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	if (skip_unavailable(name) || strcmp(name, "null") == 0)
		skip();
	small_workload(&w, IOLENS_WL_RANDRW);
	w.rwmix = 30;
	w.fsync_every = 16;
	r = run_one(&w, name, NULL);
	check_ok(r, &w);
	assert_int_equal(r->by_kind[IOLENS_OP_READ].ops + r->by_kind[IOLENS_OP_WRITE].ops, w.ops);
	assert_true(r->by_kind[IOLENS_OP_READ].ops > 0 && r->by_kind[IOLENS_OP_WRITE].ops > 0);
	assert_true(r->by_kind[IOLENS_OP_FSYNC].ops > 0);
	iolens_result_free(r);
}

/*
 * --submit-batch 3 at depth 8: refills go in calls of 3, 3 and 2, and every
 * op still completes once, reads checked, on every backend.
 */
static void submit_batch_keeps_every_op(void **state)
{
	const struct iolens_backend_info *b;
	size_t nb = iolens_backends(&b);

	(void)state;
	for (size_t i = 0; i < nb; i++) {
		for (int kind = IOLENS_WL_RANDREAD; kind <= IOLENS_WL_RANDWRITE; kind++) {
			struct iolens_workload w;
			struct iolens_result *r;

			if (!b[i].available || strcmp(b[i].name, "null") == 0)
				continue;
			small_workload(&w, kind);
			w.jobs = 1;
			w.submit_batch = 3;
			r = run_one(&w, b[i].name, NULL);
			check_ok(r, &w);
			assert_int_equal(r->workload.submit_batch, 3);
			iolens_result_free(r);
		}
	}
}

static void null_counts_exactly(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.verify = 0;
	w.depth = 32;
	w.ops = 100000;
	r = run_one(&w, "null", NULL);
	check_ok(r, &w);
	assert_int_equal(r->stats.completed_inline, r->stats.completed);
	iolens_result_free(r);
}

/*
 * The runner reads getrusage(RUSAGE_SELF) on the main thread at each edge
 * of the window. This definition, ahead of the C library's, can make each
 * of those reads take 200 ms: a main thread held up after the window's end
 * on a loaded machine, made certain.
 */
static volatile int stall_self_usage;

int getrusage(int who, struct rusage *ru)
{
	if (stall_self_usage && who == RUSAGE_SELF)
		nanosleep(&(struct timespec){ .tv_nsec = 200000000 }, NULL);
	return (int)syscall(SYS_getrusage, who, ru);
}

/*
 * An op a job starts after the window's end is not measured, however long
 * the main thread takes to finish the run: the trace holds every op
 * counted, and all but at most the one at the edge were submitted inside
 * the window.
 */
static void window_shuts_at_its_end(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;
	size_t late = 0;

	(void)state;
	small_workload(&w, IOLENS_WL_READ);
	w.jobs = 1;
	w.depth = 1;
	w.bs = 1 << 20; /* page-cached, some 100 us each: the trace holds them all */
	w.verify = 0;
	w.ops = 0;
	w.time_s = 0.1;
	w.trace = 100000;
	stall_self_usage = 1;
	r = run_one(&w, "blocking", NULL);
	stall_self_usage = 0;
	if (r->status != IOLENS_STATUS_OK)
		fail_msg("status %d: %s", r->status, r->reason);
	assert_true(r->ops > 0);
	assert_int_equal(r->ntrace, r->ops);
	for (size_t i = 0; i < r->ntrace; i++)
		late += r->trace[i].submit_ns > (uint64_t)(r->seconds * 1e9);
	/* One op may race the edge: the job read the phase just before it shut. */
	if (late > 1)
		fail_msg("%zu of %zu ops submitted after the %.3f ms window", late, r->ntrace,
			 r->seconds * 1e3);
	iolens_result_free(r);
}

/* on_pass is called before each pass of each backend: timed ones first, then counted. */
struct pass_log {
	unsigned n;
	char spec[8][32];
	int pass[8];
};

static void log_pass(void *arg, const char *spec, int pass)
{
	struct pass_log *l = arg;

	assert_true(l->n < 8);
	snprintf(l->spec[l->n], sizeof(l->spec[0]), "%s", spec);
	l->pass[l->n++] = pass;
}

static void on_pass_reports_every_pass(void **state)
{
	static const char *const specs[] = { "null", "blocking" };
	struct iolens_result *r[2];
	struct iolens_workload w;
	struct iolens_target *t;
	struct pass_log log = { 0 };
	char err[256];
	int counted;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.ops = 2000;
	w.verify = 0; /* null can run */
	w.count = IOLENS_COUNT_SEPARATE;
	w.on_pass = log_pass;
	w.on_pass_arg = &log;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run_many(t, &w, specs, 2, r, err, sizeof(err)), 0);
	counted = r[1]->syscalls.measured; /* not where tracefs or perf is refused */
	assert_int_equal(log.n, counted ? 4 : 2);
	for (unsigned i = 0; i < log.n; i++) {
		assert_string_equal(log.spec[i], specs[i % 2]);
		assert_int_equal(log.pass[i], i / 2);
	}
	iolens_result_free(r[0]);
	iolens_result_free(r[1]);
	iolens_target_close(t);
}

/* A run measures the whole process: a second one while the first runs is refused. */
struct nested {
	struct iolens_target *t;
	const struct iolens_workload *w;
	int rc;
	char err[256];
};

static void run_again(void *arg, const char *spec, int pass)
{
	struct nested *x = arg;
	struct iolens_result *r = (struct iolens_result *)1;

	(void)spec;
	(void)pass;
	x->rc = iolens_run(x->t, x->w, "null", &r, x->err, sizeof(x->err));
	assert_null(r);
}

static void second_run_is_busy(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;
	struct nested x = { .rc = 1 };
	char err[256];

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.verify = 0;
	w.on_pass = run_again;
	w.on_pass_arg = &x;
	x.w = &w;
	assert_int_equal(iolens_target_open(&x.t, &w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(x.t, &w, "null", &r, err, sizeof(err)), 0);
	assert_int_equal(x.rc, -EBUSY);
	assert_string_equal(x.err, "another run is in progress in this process");
	assert_int_equal(r->status, IOLENS_STATUS_OK);
	iolens_result_free(r);
	/* Once the first run returned, the next may start. */
	w.on_pass = NULL;
	assert_int_equal(iolens_run(x.t, &w, "null", &r, err, sizeof(err)), 0);
	iolens_result_free(r);
	iolens_target_close(x.t);
}

/* A run refuses a target that cannot serve its workload, with a message. */
static void run_checks_target(void **state)
{
	struct iolens_workload w;
	struct iolens_target *t;
	struct iolens_result *r = (struct iolens_result *)1;
	char err[256];

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	assert_int_equal(iolens_run(NULL, &w, "null", &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	assert_string_equal(err, "target: NULL (open a target with iolens_target_open)");
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	w.kind = IOLENS_WL_ECHO;
	assert_int_equal(iolens_run(t, &w, "null", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target: opened for a disk workload, run with echo");
	w.kind = 99;
	assert_int_equal(iolens_run(t, &w, "null", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "workload kind: 99 is not one of enum iolens_workload_kind");
	w.kind = IOLENS_WL_RANDREAD;
	w.bs = 16 << 20;
	assert_int_equal(iolens_run(t, &w, "null", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bs: 16777216 does not fit the target's 8388608 bytes");
	iolens_target_close(t);
}

/* The JSON text of a result is what iolens_result_json writes, and one object. */
static void result_json_text(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;
	char *text, *streamed = NULL;
	size_t len = 0, slen = 0;
	FILE *f;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.verify = 0;
	r = run_one(&w, "null", NULL);
	assert_int_equal(iolens_result_json_text(r, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_true(len > 2);
	assert_int_equal(text[0], '{');
	assert_string_equal(text + len - 2, "}\n");
	assert_non_null(strstr(text, "\n  \"backend\": \"null\",\n"));
	f = open_memstream(&streamed, &slen);
	assert_non_null(f);
	assert_int_equal(iolens_result_json(f, r), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(streamed, text);
	free(streamed);
	free(text);
	iolens_result_free(r);
}

/* A file that shrinks under the run: reads past the new end come back short. */
static void short_read_is_an_error(void **state)
{
	const char *name = *state;
	struct iolens_workload w;
	struct iolens_target *t;
	struct iolens_result *r;
	char err[256];

	if (skip_unavailable(name) || strcmp(name, "null") == 0)
		skip();
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.verify = 0;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	assert_int_equal(truncate(iolens_target_path(t), 1 << 20), 0);
	assert_int_equal(iolens_run(t, &w, name, &r, err, sizeof(err)), 0);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	assert_int_equal(r->error, -EIO);
	assert_non_null(strstr(r->reason, "short read"));
	iolens_result_free(r);
	iolens_target_close(t);
}

/* A corrupted block is found and named by its offset. */
static void corruption_is_found(void **state)
{
	const char *name = *state;
	struct iolens_workload w;
	struct iolens_target *t;
	struct iolens_result *r;
	char err[256], junk[4096];
	int fd;

	if (skip_unavailable(name) || strcmp(name, "null") == 0)
		skip();
	small_workload(&w, IOLENS_WL_READ);
	w.jobs = 1;
	w.ops = (8 << 20) / 4096;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(iolens_target_path(t), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096 * 77), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(iolens_run(t, &w, name, &r, err, sizeof(err)), 0);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	assert_int_equal(r->error, -EILSEQ);
	assert_non_null(strstr(r->reason, "offset 315392"));
	iolens_result_free(r);
	iolens_target_close(t);
}

/* Case i of the bad-input table: change w, return the option the message must name. */
static const char *bad_case(size_t i, struct iolens_workload *w)
{
	switch (i) {
	case 0: w->bs = 0; return "--bs";
	case 1: w->bs = 128u << 20; return "--bs";
	case 2: w->depth = 0; return "--depth";
	case 3: w->depth = 1000000; return "--depth";
	case 4: w->jobs = 0; return "--jobs";
	case 5: w->size = 1024; return "--size";
	case 6: w->rwmix = 101; return "--rwmix";
	case 7: w->ops = 10; return "--time/--ops";
	case 8: w->time_s = 0; return "--time/--ops";
	case 9: w->batch = 2; return "--batch";
	case 10: w->fsync_every = 4; return "--fsync";
	case 11: w->kind = 99; return "--workload";
	case 12: w->file = "/nonexistent/iolens-file"; return "--file";
	case 13: w->file = "/"; return "--file";
	case 14: w->direct = 1; w->bs = 1000; return "--bs";
	case 15: w->cpus = "0-4096"; return "--cpus";
	case 16: w->cpus = "1-0"; return "--cpus";
	case 17: w->cpus = "0,,0"; return "--cpus";
	case 18: w->cpus = ""; return "--cpus";
	case 19: w->cpus = "0-1:2"; return "--cpus";
	case 20: w->cpus = "0"; w->cpu = 0; return "--cpus";
	case 21: w->submit_batch = 2; return "--submit-batch";
	case 22: w->kind = IOLENS_WL_ECHO; w->submit_batch = 1; return "--submit-batch";
	default: return NULL;
	}
}

static void bad_input_leaves_nothing(void **state)
{
	(void)state;
	for (size_t i = 0;; i++) {
		struct iolens_workload w;
		struct iolens_target *t = (void *)1;
		const char *option;
		char err[256] = "";

		iolens_workload_init(&w);
		w.size = 1 << 20;
		option = bad_case(i, &w);
		if (!option)
			break;
		if (iolens_target_open(&t, &w, err, sizeof(err)) >= 0)
			fail_msg("case %zu (%s) was accepted", i, option);
		assert_null(t);
		if (!strstr(err, option))
			fail_msg("case %zu: message '%s' does not name %s", i, err, option);
		assert_null(strchr(err, '\n'));
		assert_int_equal(dir_entries(tmpdir), 0);
	}
}

static void bad_spec(void **state)
{
	struct iolens_workload w;
	struct iolens_target *t;
	struct iolens_result *r = (void *)1;
	char err[256];

	(void)state;
	iolens_workload_init(&w);
	w.size = 1 << 20;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(t, &w, "nosuch", &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "--backend"));
	assert_int_equal(iolens_run(t, &w, "poll:sqpoll", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nowait"));
	assert_int_equal(iolens_run(t, &w, "posix-aio:threads=0", &r, err, sizeof(err)), -EINVAL);
	/* An option the workload cannot use: the library refuses it as the CLI does. */
	assert_int_equal(iolens_run(t, &w, "epoll:et", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "epoll:et does not apply to --workload randread"));
	if (iolens_backend_find("io_uring")->options & IOLENS_BOPT_CQ_SPIN) {
		char want[128], spec[64];

		assert_int_equal(iolens_run(t, &w, "io_uring:cq-spin", &r, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "needs sqpoll (e.g. io_uring:sqpoll+cq-spin)"));
		snprintf(want, sizeof(want), "CPU 0 to %ld)", sysconf(_SC_NPROCESSORS_CONF) - 1);
		snprintf(spec, sizeof(spec), "io_uring:sqpoll-cpu=%ld", sysconf(_SC_NPROCESSORS_CONF));
		assert_int_equal(iolens_run(t, &w, spec, &r, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, want));
	}
	iolens_target_close(t);
	assert_int_equal(dir_entries(tmpdir), 0);
}

/* Write w's workload to a fresh target and return a copy of the file's bytes. */
static char *written_file(const struct iolens_workload *w)
{
	struct iolens_target *t;
	struct iolens_result *r;
	char err[256], *buf = malloc(w->size);
	int fd;

	assert_non_null(buf);
	assert_int_equal(iolens_target_open(&t, w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(t, w, "blocking", &r, err, sizeof(err)), 0);
	assert_int_equal(r->status, IOLENS_STATUS_OK);
	fd = open(iolens_target_path(t), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, w->size, 0), (ssize_t)w->size);
	close(fd);
	iolens_result_free(r);
	iolens_target_close(t);
	return buf;
}

/*
 * One job at depth 1 issues its writes in order, so the file after a
 * verified random-write run is a function of the seed alone.
 */
static void seed_reproduces_offsets(void **state)
{
	struct iolens_workload w;
	char *a, *b, *c;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDWRITE);
	w.size = 4 << 20;
	w.jobs = 1;
	w.depth = 1;
	w.ops = 300;
	w.seed = 7;
	a = written_file(&w);
	b = written_file(&w);
	w.seed = 8;
	c = written_file(&w);
	assert_memory_equal(a, b, w.size);
	assert_memory_not_equal(a, c, w.size);
	free(a);
	free(b);
	free(c);
}

/* A sequential write of every block, checked block by block afterwards. */
static void sequential_write_then_read(void **state)
{
	struct iolens_workload w;
	struct iolens_target *t;
	struct iolens_result *r;
	char err[256];

	(void)state;
	small_workload(&w, IOLENS_WL_WRITE);
	w.jobs = 1;
	w.ops = (8 << 20) / 4096;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	assert_int_equal(iolens_run(t, &w, "io_uring", &r, err, sizeof(err)), 0);
	if (r->status == IOLENS_STATUS_SKIPPED) {
		iolens_result_free(r);
		assert_int_equal(iolens_run(t, &w, "libaio", &r, err, sizeof(err)), 0);
	}
	check_ok(r, &w);
	iolens_result_free(r);
	w.kind = IOLENS_WL_READ;
	assert_int_equal(iolens_run(t, &w, "blocking", &r, err, sizeof(err)), 0);
	check_ok(r, &w);
	iolens_result_free(r);
	iolens_target_close(t);
}

static void cold_cache_and_warmup(void **state)
{
	struct iolens_workload w;
	struct iolens_result *r;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.size = 32 << 20;
	w.jobs = 1;
	w.ops = 200;
	w.cache = IOLENS_CACHE_COLD;
	r = run_one(&w, "blocking", NULL);
	check_ok(r, &w);
	/* Dropped just before the run: at most what the first reads pulled back in. */
	assert_true(r->resident_before >= 0 && r->resident_before < 0.5);
	iolens_result_free(r);
	w.cache = IOLENS_CACHE_WARM;
	w.warmup_s = 0.2;
	w.ops = 0;
	w.verify = 0;
	w.time_s = 0.2;
	r = run_one(&w, "null", NULL);
	assert_int_equal(r->status, IOLENS_STATUS_OK);
	assert_true(r->resident_before > 0.9);
	/* The window is the 0.2 s after the warm-up, not the whole run. */
	assert_true(r->seconds >= 0.2 && r->seconds < 1.0);
	iolens_result_free(r);
}

/*
 * --cpus: job thread i runs on the (i mod n)-th CPU of the list, in
 * ascending order, whatever order the list is written in. Checked through
 * the CPUs the threads last ran on (placement) and the JSON.
 */
static void cpus_pin_job_threads(void **state)
{
	long last = sysconf(_SC_NPROCESSORS_CONF) - 1;
	struct iolens_workload w;
	struct iolens_result *r;
	char list[32], want[64], *json;
	size_t len;

	(void)state;
	small_workload(&w, IOLENS_WL_RANDREAD);
	w.jobs = 1;
	w.ops = 400;
	/* One thread: the first CPU of the list, here the last CPU. */
	snprintf(list, sizeof(list), "%ld", last);
	w.cpus = list;
	r = run_one(&w, "blocking", NULL);
	check_ok(r, &w);
	snprintf(want, sizeof(want), "jobs pinned, on CPU %ld;", last);
	if (strncmp(r->placement, want, strlen(want)))
		fail_msg("placement '%s', expected it to start '%s'", r->placement, want);
	assert_string_equal(r->cpus, list);
	assert_null(r->workload.cpus);
	assert_int_equal(iolens_result_json_text(r, &json, &len), 0);
	snprintf(want, sizeof(want), "\"cpus\": \"%ld\"", last);
	if (!strstr(json, want))
		fail_msg("JSON has no %s", want);
	free(json);
	iolens_result_free(r);
	if (last < 1)
		return;
	/* Two threads (blocking at depth 2), the list written backwards: CPUs 0 and 1. */
	w.cpus = "1,0";
	w.depth = 2;
	r = run_one(&w, "blocking", NULL);
	check_ok(r, &w);
	if (strncmp(r->placement, "jobs pinned, on CPU 0,1;", 24))
		fail_msg("placement '%s', expected both CPUs", r->placement);
	iolens_result_free(r);
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} per_backend[] = {
		{ "verified_randread", verified_randread },
		{ "verified_randwrite", verified_randwrite },
		{ "mixed_with_fsync", mixed_with_fsync },
		{ "short_read_is_an_error", short_read_is_an_error },
		{ "corruption_is_found", corruption_is_found },
	};
	/*
	 * Backend options run the same cases as the plain backends: those that
	 * change a disk workload (epoll:et is refused here, as files never
	 * enter an epoll set; bad_spec checks that).
	 */
	static const char *const variants[] = {
		"io_uring:sqpoll", "io_uring:sqpoll+cq-spin", "io_uring:fixed-files+fixed-bufs",
		"io_uring:sqpoll+fixed-files+fixed-bufs", "poll:nowait", "posix-aio:threads=4",
	};
	const size_t nvariants = sizeof(variants) / sizeof(variants[0]);
	const struct iolens_backend_info *b;
	size_t nb = iolens_backends(&b), n = 0;
	size_t cap = (nb + nvariants) * 5 + 16;
	struct CMUnitTest *tests = calloc(cap, sizeof(*tests));
	char **names = calloc(cap, sizeof(*names));
	int rc;

	if (!mkdtemp(tmpdir) || !tests || !names)
		return 1;
	setenv("TMPDIR", tmpdir, 1);
	for (size_t i = 0; i < nb + nvariants; i++) {
		const char *spec = i < nb ? b[i].name : variants[i - nb];

		for (size_t k = 0; k < 5; k++) {
			if (asprintf(&names[n], "%s/%s", spec, per_backend[k].name) < 0)
				return 1;
			tests[n].name = names[n];
			tests[n].test_func = per_backend[k].fn;
			tests[n].initial_state = (void *)spec;
			n++;
		}
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(null_counts_exactly);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(bad_input_leaves_nothing);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(bad_spec);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(seed_reproduces_offsets);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(sequential_write_then_read);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(cold_cache_and_warmup);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(on_pass_reports_every_pass);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(second_run_is_busy);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(run_checks_target);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(result_json_text);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(cpus_pin_job_threads);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(submit_batch_keeps_every_op);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(window_shuts_at_its_end);
	rc = _cmocka_run_group_tests("runner", tests, n, NULL, NULL);
	if (dir_entries(tmpdir) != 0) {
		fprintf(stderr, "files left behind in %s\n", tmpdir);
		rc = 1;
	}
	rmdir(tmpdir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return rc;
}
