/*
 * The conformance suite: the same cases against every backend through the
 * level-2 API (iolens_ctx_*). Reads return exactly the file's bytes, writes
 * read back equal, fsync succeeds, errors land in the operation's result
 * with the right errno, two contexts work from two threads at once, and the
 * counters agree with what happened. A backend that cannot run here skips
 * with its reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"

#define FILE_SIZE (4u << 20)
#define BS 4096u
#define NBLOCKS (FILE_SIZE / BS)

struct tcase {
	const struct iolens_backend_info *b;
	char name[64];
};

static char path[] = "/tmp/iolens-conformance-XXXXXX";

static unsigned char pattern(uint64_t off)
{
	return (unsigned char)(((off * 2654435761u) >> 13) ^ (off >> 12));
}

static void fill_file(void)
{
	unsigned char *buf = malloc(FILE_SIZE);
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (uint64_t i = 0; i < FILE_SIZE; i++)
		buf[i] = pattern(i);
	assert_int_equal(pwrite(fd, buf, FILE_SIZE, 0), (ssize_t)FILE_SIZE);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	free(buf);
}

static int open_for(const struct iolens_backend_info *b, int flags)
{
	if (b->caps & IOLENS_CAP_NONBLOCK_FD)
		flags |= O_NONBLOCK;
	return open(path, flags | O_CLOEXEC);
}

static int is_null(const struct iolens_backend_info *b)
{
	return strcmp(b->name, "null") == 0;
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Run ops[0..n) through ctx keeping up to depth in flight; each op is
 * checked by `check` as it completes. Fails the test on a submit/reap error.
 */
static void drive(struct iolens_ctx *ctx, struct iolens_op *ops, unsigned n, unsigned depth,
		  void (*check)(const struct iolens_op *op, void *arg), void *arg)
{
	struct iolens_op **queue = calloc(depth, sizeof(*queue)), **done = calloc(depth, sizeof(*done));
	unsigned next = 0, completed = 0, inflight = 0, queued = 0;

	assert_non_null(queue);
	assert_non_null(done);
	while (completed < n) {
		int r;

		while (queued + inflight < depth && next < n)
			queue[queued++] = &ops[next++];
		if (queued) {
			r = iolens_ctx_submit(ctx, queue, queued);
			if (r < 0)
				fail_msg("submit returned %d (%s): per-op errors belong in op->result", r,
					 iolens_strerror(r));
			inflight += (unsigned)r;
			queued -= (unsigned)r;
			memmove(queue, queue + r, queued * sizeof(*queue));
		}
		r = iolens_ctx_reap(ctx, done, 1, depth, 5000000000LL);
		if (r < 0)
			fail_msg("reap returned %d (%s)", r, iolens_strerror(r));
		if (r == 0 && inflight)
			fail_msg("reap timed out with %u in flight", inflight);
		for (int i = 0; i < r; i++)
			check(done[i], arg);
		inflight -= (unsigned)r;
		completed += (unsigned)r;
	}
	free(queue);
	free(done);
}

static void check_read(const struct iolens_op *op, void *arg)
{
	const struct iolens_backend_info *b = arg;
	const unsigned char *p = op->buf;

	if (op->result != (int64_t)op->len)
		fail_msg("%s: read at %llu returned %lld", b->name, (unsigned long long)op->offset,
			 (long long)op->result);
	if (is_null(b))
		return;
	for (uint32_t i = 0; i < op->len; i++)
		if (p[i] != pattern(op->offset + i))
			fail_msg("%s: byte %u of the read at %llu differs from the file", b->name, i,
				 (unsigned long long)op->offset);
}

static void check_len(const struct iolens_op *op, void *arg)
{
	const struct iolens_backend_info *b = arg;
	int64_t want = op->kind == IOLENS_OP_FSYNC ? 0 : (int64_t)op->len;

	if (op->result != want)
		fail_msg("%s: %s returned %lld, expected %lld", b->name,
			 op->kind == IOLENS_OP_FSYNC ? "fsync" : "write", (long long)op->result,
			 (long long)want);
}

static struct iolens_ctx *open_ctx(const struct iolens_backend_info *b, unsigned depth)
{
	struct iolens_backend_opts o = { .depth = depth };
	struct iolens_ctx *ctx;
	int r = iolens_ctx_open(&ctx, b->name, &o);

	if (r)
		fail_msg("%s: iolens_ctx_open: %s", b->name, iolens_strerror(r));
	return ctx;
}

static int skip_unavailable(const struct iolens_backend_info *b)
{
	if (b->available)
		return 0;
	print_message("%s unavailable here: %s\n", b->name, b->reason);
	return 1;
}

/* Random-offset reads of `count` blocks at `depth`; flags adds e.g. O_DIRECT. */
static void randread(const struct iolens_backend_info *b, unsigned depth, unsigned count,
		     int flags, uint64_t seed, struct iolens_backend_stats *stats)
{
	struct iolens_op *ops = calloc(count, sizeof(*ops));
	unsigned char *bufs = NULL;
	struct iolens_ctx *ctx;
	int fd = open_for(b, O_RDONLY | flags);

	assert_true(fd >= 0);
	assert_non_null(ops);
	assert_int_equal(posix_memalign((void **)&bufs, 4096, (size_t)count * BS), 0);
	for (unsigned i = 0; i < count; i++) {
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_READ, .fd = fd, .len = BS,
					     .buf_index = -1, .buf = bufs + (size_t)i * BS,
					     .offset = (rng(&seed) % NBLOCKS) * BS };
		memset(ops[i].buf, 0xee, BS);
	}
	ctx = open_ctx(b, depth);
	drive(ctx, ops, count, depth, check_read, (void *)b);
	if (stats)
		iolens_ctx_stats(ctx, stats);
	iolens_ctx_close(ctx);
	close(fd);
	free(bufs);
	free(ops);
}

static void randread_depth1(void **state)
{
	struct tcase *t = *state;

	if (skip_unavailable(t->b))
		skip();
	randread(t->b, 1, 2000, 0, 1, NULL);
}

static void randread_depth32(void **state)
{
	struct tcase *t = *state;

	if (skip_unavailable(t->b))
		skip();
	randread(t->b, 32, 2000, 0, 2, NULL);
}

static void direct_randread_depth32(void **state)
{
	struct tcase *t = *state;
	int fd;

	if (skip_unavailable(t->b))
		skip();
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		print_message("O_DIRECT not supported here: %s\n", strerror(errno));
		skip();
	}
	close(fd);
	randread(t->b, 32, 2000, O_DIRECT, 3, NULL);
}

static void write_readback_and_fsync(void **state)
{
	struct tcase *t = *state;
	const struct iolens_backend_info *b = t->b;
	enum { COUNT = 1000, FSYNCS = 4 };
	struct iolens_op *ops = calloc(COUNT + FSYNCS, sizeof(*ops));
	unsigned char *bufs = malloc((size_t)COUNT * BS), *back = malloc(BS);
	uint64_t seed = 4;
	struct iolens_ctx *ctx;
	int fd;

	if (skip_unavailable(b))
		skip();
	assert_non_null(ops);
	assert_non_null(bufs);
	assert_non_null(back);
	fd = open_for(b, O_RDWR);
	assert_true(fd >= 0);
	/* Distinct offsets: a permutation walk over the blocks. */
	for (unsigned i = 0; i < COUNT; i++) {
		unsigned char *p = bufs + (size_t)i * BS;

		for (unsigned k = 0; k < BS; k += 8) {
			uint64_t w = rng(&seed);

			memcpy(p + k, &w, 8);
		}
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_WRITE, .fd = fd, .len = BS,
					     .buf_index = -1, .buf = p,
					     .offset = ((uint64_t)i * 389 % NBLOCKS) * BS };
	}
	ctx = open_ctx(b, 32);
	drive(ctx, ops, COUNT, 32, check_len, (void *)b);
	for (unsigned i = 0; i < FSYNCS; i++)
		ops[COUNT + i] = (struct iolens_op){ .kind = IOLENS_OP_FSYNC, .fd = fd, .buf_index = -1 };
	drive(ctx, ops + COUNT, FSYNCS, 32, check_len, (void *)b);
	iolens_ctx_close(ctx);
	if (!is_null(b)) {
		for (unsigned i = 0; i < COUNT; i++) {
			assert_int_equal(pread(fd, back, BS, (off_t)ops[i].offset), (ssize_t)BS);
			if (memcmp(back, ops[i].buf, BS))
				fail_msg("%s: block written at %llu reads back different", b->name,
					 (unsigned long long)ops[i].offset);
		}
	}
	close(fd);
	free(back);
	free(bufs);
	free(ops);
	fill_file();
}

static void check_ebadf(const struct iolens_op *op, void *arg)
{
	const struct iolens_backend_info *b = arg;

	if (op->result != -EBADF)
		fail_msg("%s: op on a closed descriptor completed with %lld, expected -EBADF (%d)",
			 b->name, (long long)op->result, -EBADF);
}

static void closed_fd_gives_ebadf(void **state)
{
	struct tcase *t = *state;
	static char buf[BS] __attribute__((aligned(4096)));
	struct iolens_op ops[3];
	struct iolens_ctx *ctx;
	int fd;

	if (skip_unavailable(t->b))
		skip();
	if (is_null(t->b)) {
		print_message("null does no I/O: no errno to propagate\n");
		skip();
	}
	/*
	 * A descriptor number nothing holds (a closed fd's number would be
	 * taken again by the context's own epoll or ring descriptor).
	 */
	fd = 900;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	ops[0] = (struct iolens_op){ .kind = IOLENS_OP_READ, .fd = fd, .len = BS, .buf = buf,
				     .buf_index = -1 };
	ops[1] = (struct iolens_op){ .kind = IOLENS_OP_WRITE, .fd = fd, .len = BS, .buf = buf,
				     .buf_index = -1, .offset = BS };
	ops[2] = (struct iolens_op){ .kind = IOLENS_OP_FSYNC, .fd = fd, .buf_index = -1 };
	ctx = open_ctx(t->b, 4);
	drive(ctx, ops, 3, 4, check_ebadf, (void *)t->b);
	iolens_ctx_close(ctx);
}

struct thread_arg {
	const struct iolens_backend_info *b;
	uint64_t seed;
};

static void *reader_thread(void *p)
{
	struct thread_arg *a = p;

	randread(a->b, 8, 1500, 0, a->seed, NULL);
	return NULL;
}

/* Two contexts of one backend, one per thread, at the same time (the jobs 2 case). */
static void two_threads(void **state)
{
	struct tcase *t = *state;
	struct thread_arg args[2] = { { t->b, 11 }, { t->b, 12 } };
	pthread_t th[2];

	if (skip_unavailable(t->b))
		skip();
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void counters(void **state)
{
	struct tcase *t = *state;
	const struct iolens_backend_info *b = t->b;
	struct iolens_backend_stats s;
	const unsigned count = 1000;

	if (skip_unavailable(b))
		skip();
	randread(b, 16, count, 0, 5, &s);
	assert_int_equal(s.submitted, count);
	assert_int_equal(s.completed, count);
	if (is_null(b) || strcmp(b->name, "blocking") == 0)
		assert_int_equal(s.completed_inline, count);
	if (strcmp(b->name, "epoll") == 0) {
		/* epoll_ctl refuses regular files: every op is a counted fallback. */
		assert_int_equal(s.fallbacks, count);
		assert_int_equal(s.completed_inline, count);
	}
	if (strcmp(b->name, "poll") == 0) {
		/* A regular file is always ready: poll never has to wait. */
		assert_true(s.ready_at_once > 0);
		assert_int_equal(s.waits, 0);
		assert_int_equal(s.completed_inline, 0);
	}
	if (strcmp(b->name, "io_uring") == 0 || strcmp(b->name, "libaio") == 0 ||
	    strcmp(b->name, "posix-aio") == 0) {
		assert_int_equal(s.fallbacks, 0);
		assert_true(s.setup[0] != '\0');
	}
}

static void open_errors(void **state)
{
	const struct iolens_backend_info *all;
	size_t n = iolens_backends(&all);
	struct iolens_backend_opts o = { .depth = 0 };
	struct iolens_ctx *ctx = (void *)1;

	(void)state;
	assert_int_equal(n, 7);
	assert_int_equal(iolens_ctx_open(&ctx, "nosuch", NULL), -ENOENT);
	assert_null(ctx);
	assert_int_equal(iolens_ctx_open(&ctx, "null", &o), -EINVAL);
	o.depth = 4;
	o.flags = IOLENS_BOPT_SQPOLL;
	assert_int_equal(iolens_ctx_open(&ctx, "null", &o), -EINVAL);
	o.flags = IOLENS_BOPT_FIXED_FILES; /* accepted by io_uring, but no files given */
	if (iolens_backend_find("io_uring")->available)
		assert_int_equal(iolens_ctx_open(&ctx, "io_uring", &o), -EINVAL);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(all[i].name);
		assert_non_null(all[i].model);
		assert_true(all[i].available || (all[i].reason && all[i].reason[0]));
	}
}

static int setup_file(void **state)
{
	(void)state;
	fill_file();
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} cases[] = {
		{ "randread_depth1", randread_depth1 },
		{ "randread_depth32", randread_depth32 },
		{ "direct_randread_depth32", direct_randread_depth32 },
		{ "write_readback_and_fsync", write_readback_and_fsync },
		{ "closed_fd_gives_ebadf", closed_fd_gives_ebadf },
		{ "two_threads", two_threads },
		{ "counters", counters },
	};
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	const struct iolens_backend_info *b;
	size_t nb = iolens_backends(&b), n = 0;
	struct tcase *tc = calloc(nb * NCASES, sizeof(*tc));
	struct CMUnitTest *tests = calloc(nb * NCASES + 1, sizeof(*tests));
	int fd, rc;

	if (!tc || !tests)
		return 1;
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	for (size_t i = 0; i < nb; i++) {
		for (size_t k = 0; k < NCASES; k++, n++) {
			tc[n].b = &b[i];
			snprintf(tc[n].name, sizeof(tc[n].name), "%s/%s", b[i].name, cases[k].name);
			tests[n].name = tc[n].name;
			tests[n].test_func = cases[k].fn;
			tests[n].initial_state = &tc[n];
		}
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(open_errors);
	rc = _cmocka_run_group_tests("conformance", tests, n, setup_file, NULL);
	unlink(path);
	free(tests);
	free(tc);
	return rc;
}
