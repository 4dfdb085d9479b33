/*
 * A program that uses an installed libiolens the way a user would: only
 * <iolens/iolens.h>, linked through find_package(iolens) or pkg-config.
 *
 *  1. Level 2: drive io_uring and blocking directly on a file this program
 *     wrote, and check that every byte read back is the byte written.
 *  2. Level 1: run a described workload on both and check the result.
 *
 * Prints what failed and exits 1; prints "consumer: ok" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iolens/iolens.h>

#define BS 4096u
#define NBLOCKS 256u /* 1 MiB */
#define DEPTH 8u

static int failures;

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "consumer: %s:%d: ", __FILE__, \
				__LINE__);                            \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			failures++;                                   \
		}                                                     \
	} while (0)

/* Byte i of block b: differs between blocks and within one. */
static unsigned char pattern(unsigned b, unsigned i)
{
	return (unsigned char)(b * 131u + i * 7u + 1u);
}

static int make_file(char *path)
{
	unsigned char *blk = malloc(BS);
	int fd = mkstemp(path);

	if (fd < 0 || !blk) {
		free(blk);
		return -1;
	}
	for (unsigned b = 0; b < NBLOCKS; b++) {
		for (unsigned i = 0; i < BS; i++)
			blk[i] = pattern(b, i);
		if (pwrite(fd, blk, BS, (off_t)b * BS) != (ssize_t)BS) {
			close(fd);
			free(blk);
			return -1;
		}
	}
	free(blk);
	fsync(fd);
	return fd;
}

/* Read every block of the file through `backend`, DEPTH at a time, and compare. */
static void drive(const char *backend, int fd)
{
	struct iolens_backend_opts opts = { .depth = DEPTH };
	struct iolens_op ops[DEPTH] = { { 0 } }, *sub[DEPTH], *done[DEPTH];
	struct iolens_backend_stats st;
	struct iolens_ctx *ctx;
	unsigned char *bufs;
	unsigned next = 0, finished = 0, bad = 0;
	int r = iolens_ctx_open(&ctx, backend, &opts);

	CHECK(r == 0, "iolens_ctx_open(%s): %s", backend, iolens_strerror(r));
	if (r)
		return;
	CHECK(strcmp(iolens_ctx_backend(ctx)->name, backend) == 0, "ctx backend is %s",
	      iolens_ctx_backend(ctx)->name);
	bufs = aligned_alloc(4096, (size_t)DEPTH * BS);
	while (finished < NBLOCKS && bufs) {
		unsigned n = 0;
		int got;

		/* Fill every free slot; blocks in a scrambled order, not sequential. */
		for (unsigned i = 0; i < DEPTH && next < NBLOCKS; i++) {
			if (ops[i].user_data == (void *)1)
				continue;
			unsigned b = (next * 97u) % NBLOCKS;

			ops[i] = (struct iolens_op){ .kind = IOLENS_OP_READ, .fd = fd, .len = BS,
						     .buf_index = -1, .offset = (uint64_t)b * BS,
						     .buf = bufs + (size_t)i * BS,
						     .user_data = (void *)1 };
			sub[n++] = &ops[i];
			next++;
		}
		if (n) {
			r = iolens_ctx_submit(ctx, sub, n);
			CHECK(r == (int)n, "%s: submit of %u returned %d", backend, n, r);
			if (r != (int)n)
				break;
		}
		got = iolens_ctx_reap(ctx, done, 1, DEPTH, -1);
		CHECK(got >= 1, "%s: reap returned %d", backend, got);
		if (got < 1)
			break;
		for (int k = 0; k < got; k++) {
			struct iolens_op *op = done[k];
			unsigned b = (unsigned)(op->offset / BS);
			const unsigned char *p = op->buf;

			CHECK(op->result == BS, "%s: read of block %u returned %lld", backend, b,
			      (long long)op->result);
			for (unsigned i = 0; i < BS && op->result == BS; i++)
				if (p[i] != pattern(b, i)) {
					bad++;
					break;
				}
			op->user_data = NULL;
			finished++;
		}
	}
	CHECK(bufs != NULL, "out of memory");
	CHECK(finished == NBLOCKS, "%s: %u of %u blocks read", backend, finished, NBLOCKS);
	CHECK(bad == 0, "%s: %u blocks read back differ from what was written", backend, bad);
	iolens_ctx_stats(ctx, &st);
	CHECK(st.submitted == NBLOCKS && st.completed == NBLOCKS,
	      "%s: stats say %llu submitted, %llu completed", backend,
	      (unsigned long long)st.submitted, (unsigned long long)st.completed);
	iolens_ctx_close(ctx);
	free(bufs);
	if (!bad && finished == NBLOCKS)
		printf("consumer: %s read %u blocks back intact (%llu submit calls, %llu reap calls)\n",
		       backend, NBLOCKS, (unsigned long long)st.submit_calls,
		       (unsigned long long)st.reap_calls);
}

static unsigned syscall_index(const char *name)
{
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES; i++)
		if (iolens_syscall_name(i) && strcmp(iolens_syscall_name(i), name) == 0)
			return i;
	return IOLENS_SYSCALL_NAMES;
}

/* Level 1: 2,000 random 4 KiB reads of a temporary 8 MiB file on each backend. */
static void run_workload(void)
{
	static const char *const specs[] = { "blocking", "io_uring" };
	static const char *const per_op_call[] = { "pread64", "io_uring_enter" };
	struct iolens_result *res[2] = { NULL, NULL };
	struct iolens_target *t;
	struct iolens_workload w;
	char err[256] = "";
	int r;

	iolens_workload_init(&w);
	w.kind = IOLENS_WL_RANDREAD;
	w.size = 8u << 20;
	w.time_s = 0;
	w.ops = 2000;
	r = iolens_target_open(&t, &w, err, sizeof(err));
	CHECK(r == 0, "iolens_target_open: %s (%s)", err, iolens_strerror(r));
	if (r)
		return;
	r = iolens_run_many(t, &w, specs, 2, res, err, sizeof(err));
	CHECK(r == 0, "iolens_run_many: %s (%s)", err, iolens_strerror(r));
	for (unsigned i = 0; r == 0 && i < 2; i++) {
		const struct iolens_result *x = res[i];
		const struct iolens_syscalls *s = &x->syscalls;
		char *json = NULL, want[64];
		size_t len = 0;

		CHECK(strcmp(x->backend, specs[i]) == 0, "result %u is %s", i, x->backend);
		CHECK(x->status == IOLENS_STATUS_OK, "%s: status %d: %s", specs[i], x->status,
		      x->reason);
		CHECK(x->ops == 2000 && x->bytes == 2000ull * 4096, "%s: %llu ops, %llu bytes",
		      specs[i], (unsigned long long)x->ops, (unsigned long long)x->bytes);
		CHECK(iolens_hist_count(x->hist) == x->ops, "%s: histogram holds %llu samples",
		      specs[i], (unsigned long long)iolens_hist_count(x->hist));
		CHECK(x->lat.min > 0 && x->lat.min <= x->lat.p50 && x->lat.p50 <= x->lat.p99 &&
			      x->lat.p99 <= x->lat.max,
		      "%s: latency out of order", specs[i]);
		CHECK(strcmp(x->file, iolens_target_path(t)) == 0, "%s: ran on %s", specs[i],
		      x->file);
		CHECK(strcmp(x->model.declared, iolens_backend_find(specs[i])->model) == 0,
		      "%s: declared model %s", specs[i], x->model.declared);
		/* Counted by the kernel when it lets us; otherwise the result says why. */
		if (s->measured) {
			unsigned k = syscall_index(per_op_call[i]);

			CHECK(k < IOLENS_SYSCALL_NAMES && s->by_name[k] == s->ops,
			      "%s: %llu %s for %llu ops", specs[i],
			      (unsigned long long)(k < IOLENS_SYSCALL_NAMES ? s->by_name[k] : 0),
			      per_op_call[i], (unsigned long long)s->ops);
		} else {
			CHECK(s->why[0] != '\0', "%s: syscalls not counted and no reason", specs[i]);
			printf("consumer: %s: syscalls not counted: %s\n", specs[i], s->why);
		}
		r = iolens_result_json_text(x, &json, &len);
		snprintf(want, sizeof(want), "\"backend\": \"%s\"", specs[i]);
		CHECK(r == 0 && json && len == strlen(json) && json[0] == '{' &&
			      strstr(json, want),
		      "%s: JSON text (%d) lacks %s", specs[i], r, want);
		free(json);
		r = 0;
		printf("consumer: %s ran 2000 reads: p50 %llu ns, %.0f IOPS, %s %s\n", specs[i],
		       (unsigned long long)x->lat.p50, x->iops,
		       s->measured ? "measured model" : "model not measured:",
		       s->measured ? x->model.measured : x->model.why);
	}
	iolens_result_free(res[0]);
	iolens_result_free(res[1]);
	iolens_target_close(t);
}

int main(void)
{
	const struct iolens_backend_info *all;
	size_t n = iolens_backends(&all);
	char path[] = "/tmp/iolens-consumer-XXXXXX";
	struct iolens_ctx *ctx = NULL;
	int fd, r;

	printf("consumer: libiolens %s, ABI %d (header %s, ABI %d)\n", iolens_version(),
	       iolens_abi_version(), IOLENS_VERSION_STRING, IOLENS_ABI_VERSION);
	CHECK(iolens_abi_version() == IOLENS_ABI_VERSION, "header and library ABIs differ");
	CHECK(strcmp(iolens_version(), IOLENS_VERSION_STRING) == 0, "version mismatch");
	CHECK(n >= 7, "only %zu backends listed", n);
	for (size_t i = 0; i < n; i++)
		CHECK(all[i].available || (all[i].reason && all[i].reason[0]),
		      "%s unavailable without a reason", all[i].name);
	CHECK(iolens_backend_find("io_uring") && iolens_backend_find("io_uring")->available,
	      "io_uring is not available: %s",
	      iolens_backend_find("io_uring") ? iolens_backend_find("io_uring")->reason : "absent");

	/* Errors are negative errno values with text. */
	r = iolens_ctx_open(&ctx, "no-such-backend", NULL);
	CHECK(r == -ENOENT && ctx == NULL, "open of an unknown backend returned %d", r);
	CHECK(strcmp(iolens_strerror(r), strerror(ENOENT)) == 0, "strerror(-ENOENT) is '%s'",
	      iolens_strerror(r));
	r = iolens_ctx_open(&ctx, "blocking", &(struct iolens_backend_opts){ .depth = 0 });
	CHECK(r == -EINVAL, "depth 0 returned %d", r);

	fd = make_file(path);
	CHECK(fd >= 0, "cannot create %s: %s", path, strerror(errno));
	if (fd >= 0) {
		drive("io_uring", fd);
		drive("blocking", fd);
		close(fd);
		unlink(path);
	}
	run_workload();
	if (failures) {
		fprintf(stderr, "consumer: %d check(s) failed\n", failures);
		return 1;
	}
	printf("consumer: ok\n");
	return 0;
}
