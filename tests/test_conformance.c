/*
 * The conformance suite: one set of cases run against every backend the
 * library lists, through the public level-2 API only (iolens_ctx_*).
 *
 * Every case drives a context the way the harness does: keep `depth`
 * operations in flight, resubmit what submit did not accept, reap at least
 * one at a time. Reads must return the file's bytes, writes must read back
 * equal with plain pread, fsync must succeed, a bad descriptor's errno must
 * land in the operation's result, two contexts must work from two threads at
 * once, and the counters must agree with what happened and with the
 * backend's declared model. Whatever a backend hands back from reap is
 * checked too: an operation that was in flight, returned once, with the
 * caller's fields untouched. Each option a backend accepts (io_uring+sqpoll,
 * poll+nowait, ...) runs the same cases as a variant of it.
 *
 * The null backend does no I/O: its data comparisons are skipped (its
 * results and counters are still checked, and the file must stay as it was).
 * A backend that cannot run here skips with its reason.
 *
 * One piece, ~1,550 lines, because it is one suite over one contract: every
 * case runs against every backend through one fixture (the file, the
 * context loop, the checks on what reap hands back).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"

#define BS 4096u
#define FILE_SIZE (4u << 20)
#define NBLOCKS (FILE_SIZE / BS)
#define REAP_TIMEOUT_NS (10LL * 1000000000LL)
#define RESULT_UNSET ((int64_t)0x7eadbeef7eadbeefLL)
#define POISON 0xa5

/* ---------------------------------------------------------------------------
 * Seeded generator and the file's contents.
 */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 8 bytes of the initial file at a multiple of 8: a function of the offset. */
static uint64_t pattern_word(uint64_t off)
{
	uint64_t x = off ^ 0x1f2e3d4c5b6a7988ULL;

	return splitmix64(&x);
}

/* The initial contents of block `block`. */
static void pattern_block(uint64_t block, unsigned char *out)
{
	for (unsigned i = 0; i < BS; i += 8) {
		uint64_t w = pattern_word(block * BS + i);

		memcpy(out + i, &w, 8);
	}
}

/* Contents written by a case: a function of a tag and a sequence number. */
static void written_block(uint64_t tag, uint64_t seq, unsigned char *out)
{
	uint64_t x = (tag << 40) ^ (seq * 0x100000001b3ULL) ^ 0xc0ffee;

	for (unsigned i = 0; i < BS; i += 8) {
		uint64_t w = splitmix64(&x);

		memcpy(out + i, &w, 8);
	}
}

/* ---------------------------------------------------------------------------
 * The driver. Thread-safe: it never calls cmocka, it returns -1 with a
 * message in r->err, and the calling thread turns that into a failure.
 */
/*
 * A backend with some of its options switched on, e.g. "io_uring+sqpoll".
 * Every backend also runs plain (flags 0).
 */
struct variant {
	const struct iolens_backend_info *b;
	uint32_t flags; /* IOLENS_BOPT_* */
	char label[64];
};

struct run;
typedef void (*prep_fn)(struct run *r, struct iolens_op *op, unsigned seq);
typedef int (*check_fn)(struct run *r, const struct iolens_op *op, unsigned seq);

struct run {
	const struct iolens_backend_info *b;
	const struct variant *v;
	struct iolens_ctx *ctx;
	unsigned depth;
	int verify; /* compare data (not for null) */

	/* What the ops do. */
	prep_fn prep;
	check_fn check;
	int fd;
	uint64_t rng;
	unsigned first_block, nblocks; /* region for random offsets */
	const unsigned *perm;          /* block of each seq, for writes */
	const unsigned *seq_of;        /* seq that wrote each block, for reads back */
	uint64_t tag;                  /* for written_block() */
	uint32_t op_len;

	/* How reap is called: min (default 1), max (default depth), timeout (0 polls). */
	unsigned reap_min, reap_max;
	int64_t reap_timeout;

	/*
	 * One op struct per operation of the current drive() (so a completion
	 * delivered twice is caught even after its buffer was reused), and
	 * depth 4 KiB-aligned buffers that are reused as ops complete.
	 */
	struct iolens_op *ops;
	struct iolens_op *shadow; /* each op as submitted, to compare on reap */
	unsigned char *op_state;  /* OP_NEW, OP_INFLIGHT, OP_DONE */
	unsigned *op_buf;         /* buffer slot of each op */
	unsigned nops;
	unsigned *free_bufs;
	struct iolens_op **pend, **done;
	unsigned char *bufs, *expect;
	struct iovec *iov; /* the buffers, registered under IOLENS_BOPT_FIXED_BUFS */
	int files[1];      /* registered under IOLENS_BOPT_FIXED_FILES */

	/* What happened. */
	unsigned completed;
	unsigned n_inline, n_fallback;
	char err[512];
};

static int run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int run_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (r->err[0])
		return -1;
	len = snprintf(r->err, sizeof(r->err), "%s: ", r->v ? r->v->label : r->b->name);
	va_start(ap, fmt);
	vsnprintf(r->err + len, sizeof(r->err) - (size_t)len, fmt, ap);
	va_end(ap);
	return -1;
}

static int is_null(const struct iolens_backend_info *b)
{
	return strcmp(b->name, "null") == 0;
}

enum { OP_NEW, OP_INFLIGHT, OP_DONE };

static void free_ops(struct run *r)
{
	free(r->ops);
	free(r->shadow);
	free(r->op_state);
	free(r->op_buf);
	r->ops = r->shadow = NULL;
	r->op_state = NULL;
	r->op_buf = NULL;
	r->nops = 0;
}

static void run_free(struct run *r)
{
	/* The context first: it waits for ops still writing into the buffers. */
	iolens_ctx_close(r->ctx);
	r->ctx = NULL;
	free_ops(r);
	free(r->free_bufs);
	free(r->pend);
	free(r->done);
	free(r->bufs);
	free(r->expect);
	free(r->iov);
	r->free_bufs = NULL;
	r->pend = r->done = NULL;
	r->bufs = r->expect = NULL;
	r->iov = NULL;
}

/*
 * Allocate buffers for `depth` and open a context of that depth with the
 * variant's options, on descriptor fd (registered when the variant has
 * FIXED_FILES; the ops of the run use r->fd, which starts as fd).
 */
static int run_init(struct run *r, const struct variant *v, unsigned depth, int fd)
{
	struct iolens_backend_opts o = { .depth = depth, .flags = v->flags };
	void *bufs = NULL, *expect = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	r->b = v->b;
	r->v = v;
	r->depth = depth;
	r->verify = !is_null(v->b);
	r->fd = fd;
	r->files[0] = fd;
	r->op_len = BS;
	r->reap_timeout = REAP_TIMEOUT_NS;
	r->free_bufs = calloc(depth, sizeof(*r->free_bufs));
	r->pend = calloc(depth, sizeof(*r->pend));
	r->done = calloc(depth, sizeof(*r->done));
	r->iov = calloc(depth, sizeof(*r->iov));
	if (posix_memalign(&bufs, 4096, (size_t)depth * BS) == 0)
		r->bufs = bufs;
	if (posix_memalign(&expect, 4096, BS) == 0)
		r->expect = expect;
	if (!r->free_bufs || !r->pend || !r->done || !r->iov || !r->bufs || !r->expect)
		return run_fail(r, "out of memory for depth %u", depth);
	for (unsigned i = 0; i < depth; i++)
		r->iov[i] = (struct iovec){ r->bufs + (size_t)i * BS, BS };
	if (v->flags & IOLENS_BOPT_FIXED_BUFS) {
		o.bufs = r->iov;
		o.nbufs = depth;
	}
	if (v->flags & IOLENS_BOPT_FIXED_FILES) {
		o.files = r->files;
		o.nfiles = 1;
	}
	if (v->flags & IOLENS_BOPT_THREADS)
		o.aio_threads = 4;
	err = iolens_ctx_open(&r->ctx, v->b->name, &o);
	if (err)
		return run_fail(r, "iolens_ctx_open(depth %u, options 0x%x): %d (%s)", depth,
				v->flags, err, iolens_strerror(err));
	return 0;
}

static int same_request(const struct iolens_op *a, const struct iolens_op *b)
{
	return a->kind == b->kind && a->fd == b->fd && a->len == b->len &&
	       a->buf_index == b->buf_index && a->offset == b->offset && a->buf == b->buf &&
	       a->t_submit == b->t_submit && a->user_data == b->user_data;
}

/* Account for one op returned by reap; 0 if it is one we had in flight. */
static int take_back(struct run *r, struct iolens_op *op, unsigned *nfree)
{
	unsigned seq;

	if (op < r->ops || op >= r->ops + r->nops)
		return run_fail(r, "reap returned %p, which is not one of the submitted ops",
				(void *)op);
	seq = (unsigned)(op - r->ops);
	if (r->op_state[seq] == OP_DONE)
		return run_fail(r, "reap returned op #%u a second time", seq);
	if (r->op_state[seq] != OP_INFLIGHT)
		return run_fail(r, "reap returned op #%u, which submit had not accepted", seq);
	if (!same_request(op, &r->shadow[seq]))
		return run_fail(r, "op #%u came back with caller-owned fields changed "
				"(kind/fd/len/offset/buf/buf_index/user_data/t_submit)", seq);
	if (op->result == RESULT_UNSET)
		return run_fail(r, "op #%u was reaped without a result", seq);
	if (op->flags & IOLENS_OPF_INLINE)
		r->n_inline++;
	if (op->flags & IOLENS_OPF_FALLBACK)
		r->n_fallback++;
	r->op_state[seq] = OP_DONE;
	r->completed++;
	if (r->check && r->check(r, op, seq))
		return -1;
	/* Checked: its buffer may be reused. */
	r->free_bufs[(*nfree)++] = r->op_buf[seq];
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * One reap as the run asks for it. Returns how many came back, or -1 with
 * r->err set: on an error, on more than max or than were in flight, on
 * fewer than min before the timeout passed, or after 10 s without progress.
 * A polling run (timeout 0) may get nothing back; 0 then means "again".
 */
static int reap_some(struct run *r, unsigned inflight, int64_t *last_progress)
{
	unsigned max = r->reap_max ? r->reap_max : r->depth;
	unsigned min = r->reap_min ? r->reap_min : 1;
	unsigned must = min < inflight ? min : inflight;
	int64_t t0 = now_ns(), waited;
	int n = iolens_ctx_reap(r->ctx, r->done, min, max, r->reap_timeout);

	waited = now_ns() - t0;
	if (n < 0)
		return run_fail(r, "reap returned %d (%s) with %u in flight", n,
				iolens_strerror(n), inflight);
	if ((unsigned)n > max)
		return run_fail(r, "reap(max %u) returned %d", max, n);
	if ((unsigned)n > inflight)
		return run_fail(r, "reap returned %d ops with only %u in flight", n, inflight);
	if (r->reap_timeout > 0 && waited < r->reap_timeout && (unsigned)n < must)
		return run_fail(r, "reap(min %u, max %u, timeout %lld ns) returned %d after %lld ns "
				"with %u in flight", min, max, (long long)r->reap_timeout, n,
				(long long)waited, inflight);
	if (n > 0) {
		*last_progress = t0 + waited;
		return n;
	}
	if (now_ns() - *last_progress > REAP_TIMEOUT_NS)
		return run_fail(r, "no completion in 10 s with %u in flight (reap min %u, max %u, "
				"timeout %lld ns)", inflight, min, max,
				(long long)r->reap_timeout);
	return 0;
}

/*
 * Run `total` ops, keeping up to depth in flight: prepare ops while there are
 * free buffers, submit what is pending (what is not accepted stays pending,
 * in order), reap at least one, repeat. Afterwards nothing more may come out
 * of reap.
 */
static int drive(struct run *r, unsigned total)
{
	unsigned issued = 0, inflight = 0, npend = 0, nfree = 0, start = r->completed;
	int64_t last_progress = now_ns();
	int n;

	/* The previous drive() completed all of its ops: their structs can go. */
	free_ops(r);
	r->ops = calloc(total, sizeof(*r->ops));
	r->shadow = calloc(total, sizeof(*r->shadow));
	r->op_state = calloc(total, 1);
	r->op_buf = calloc(total, sizeof(*r->op_buf));
	if (!r->ops || !r->shadow || !r->op_state || !r->op_buf)
		return run_fail(r, "out of memory for %u ops", total);
	r->nops = total;
	for (unsigned i = 0; i < r->depth; i++)
		r->free_bufs[nfree++] = r->depth - 1 - i;
	while (r->completed - start < total) {
		while (nfree && issued < total) {
			unsigned seq = issued++, slot = r->free_bufs[--nfree];
			struct iolens_op *op = &r->ops[seq];

			op->buf = r->bufs + (size_t)slot * BS;
			op->buf_index = (r->v->flags & IOLENS_BOPT_FIXED_BUFS) ? (int32_t)slot : -1;
			r->prep(r, op, seq);
			op->result = RESULT_UNSET;
			op->flags = 0;
			op->user_data = (void *)(uintptr_t)(0x1000 + seq);
			op->t_submit = 0xabcdef00ULL + seq;
			r->shadow[seq] = *op;
			r->op_buf[seq] = slot;
			r->pend[npend++] = op;
		}
		if (npend) {
			n = iolens_ctx_submit(r->ctx, r->pend, npend);
			if (n < 0)
				return run_fail(r, "submit of %u ops returned %d (%s); per-op "
						"failures belong in op->result", npend, n,
						iolens_strerror(n));
			if ((unsigned)n > npend)
				return run_fail(r, "submit of %u ops said it accepted %d", npend, n);
			for (int k = 0; k < n; k++)
				r->op_state[r->pend[k] - r->ops] = OP_INFLIGHT;
			npend -= (unsigned)n;
			memmove(r->pend, r->pend + n, npend * sizeof(*r->pend));
			inflight += (unsigned)n;
		}
		if (!inflight)
			return run_fail(r, "submit accepted none of %u ops with nothing in flight",
					npend);
		n = reap_some(r, inflight, &last_progress);
		if (n < 0)
			return -1;
		inflight -= (unsigned)n;
		for (int k = 0; k < n; k++)
			if (take_back(r, r->done[k], &nfree))
				return -1;
	}
	n = iolens_ctx_reap(r->ctx, r->done, 0, r->depth, 0);
	if (n != 0)
		return run_fail(r, "reap returned %d after every op had completed", n);
	return 0;
}

/* Random 4 KiB-aligned reads in [first_block, first_block + nblocks). */
static void prep_randread(struct run *r, struct iolens_op *op, unsigned seq)
{
	(void)seq;
	op->kind = IOLENS_OP_READ;
	op->fd = r->fd;
	op->len = r->op_len;
	op->offset = (r->first_block + splitmix64(&r->rng) % r->nblocks) * (uint64_t)BS;
	memset(op->buf, POISON, op->len);
}

static int check_result(struct run *r, const struct iolens_op *op, unsigned seq, int64_t want)
{
	if (op->result != want)
		return run_fail(r, "op #%u (kind %u, offset %llu) completed with %lld, expected %lld",
				seq, op->kind, (unsigned long long)op->offset,
				(long long)op->result, (long long)want);
	return 0;
}

/* A read of the initial file: full length, the file's bytes. */
static int check_pattern_read(struct run *r, const struct iolens_op *op, unsigned seq)
{
	if (check_result(r, op, seq, op->len))
		return -1;
	if (!r->verify)
		return 0;
	pattern_block(op->offset / BS, r->expect);
	if (memcmp(op->buf, r->expect, op->len)) {
		const unsigned char *p = op->buf;
		unsigned at = 0;

		while (p[at] == r->expect[at])
			at++;
		return run_fail(r, "read #%u at offset %llu: byte %u is 0x%02x, the file has 0x%02x",
				seq, (unsigned long long)op->offset, at, p[at], r->expect[at]);
	}
	return 0;
}

/* Writes: seq goes to block perm[seq] with written_block(tag, seq). */
static void prep_write(struct run *r, struct iolens_op *op, unsigned seq)
{
	op->kind = IOLENS_OP_WRITE;
	op->fd = r->fd;
	op->len = BS;
	op->offset = (uint64_t)r->perm[seq] * BS;
	written_block(r->tag, seq, op->buf);
}

static int check_full_len(struct run *r, const struct iolens_op *op, unsigned seq)
{
	return check_result(r, op, seq, op->len);
}

static void prep_fsync(struct run *r, struct iolens_op *op, unsigned seq)
{
	(void)seq;
	op->kind = IOLENS_OP_FSYNC;
	op->fd = r->fd;
}

static int check_zero(struct run *r, const struct iolens_op *op, unsigned seq)
{
	return check_result(r, op, seq, 0);
}

/* A random permutation of n block numbers, starting at first. */
static unsigned *permutation(unsigned first, unsigned n, uint64_t seed)
{
	unsigned *p = malloc(n * sizeof(*p));

	if (!p)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		p[i] = first + i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)(splitmix64(&seed) % (i + 1));
		unsigned t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	return p;
}

/* ---------------------------------------------------------------------------
 * Per-test state: the backend, the case, and what teardown must release.
 */
struct tcase {
	const struct iolens_backend_info *b;
	const struct variant *v;
	char name[96];
	char path[PATH_MAX];
	int fd[4];
	struct run run;
	void *mem[4];
};

static int tc_setup(void **state)
{
	struct tcase *t = *state;

	memset(&t->run, 0, sizeof(t->run));
	t->run.fd = -1;
	t->path[0] = '\0';
	for (int i = 0; i < 4; i++) {
		t->fd[i] = -1;
		t->mem[i] = NULL;
	}
	return 0;
}

static int tc_teardown(void **state)
{
	struct tcase *t = *state;

	run_free(&t->run);
	for (int i = 0; i < 4; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
		free(t->mem[i]);
		t->mem[i] = NULL;
	}
	if (t->path[0])
		unlink(t->path);
	t->path[0] = '\0';
	return 0;
}

static void skip_unavailable(const struct tcase *t)
{
	if (t->b->available)
		return;
	print_message("%s unavailable here: %s\n", t->b->name,
		      t->b->reason ? t->b->reason : "(no reason given)");
	skip();
}

static void keep_mem(struct tcase *t, void *p)
{
	for (int i = 0; i < 4; i++) {
		if (!t->mem[i]) {
			t->mem[i] = p;
			return;
		}
	}
	fail_msg("test keeps too many allocations");
}

/* Open the test file as the harness would for this backend; closed at teardown. */
static int open_file(struct tcase *t, int flags)
{
	int fd;

	if (t->b->caps & IOLENS_CAP_NONBLOCK_FD)
		flags |= O_NONBLOCK;
	fd = open(t->path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < 4; i++) {
		if (t->fd[i] < 0) {
			t->fd[i] = fd;
			return fd;
		}
	}
	close(fd);
	fail_msg("test keeps too many descriptors");
	return -EMFILE;
}

static int open_file_or_fail(struct tcase *t, int flags)
{
	int fd = open_file(t, flags);

	if (fd < 0)
		fail_msg("open(%s): %s", t->path, strerror(-fd));
	return fd;
}

/* A 4 MiB file of pattern_block()s in $TMPDIR (or /tmp), removed at teardown. */
static void make_file(struct tcase *t)
{
	const char *dir = getenv("TMPDIR");
	unsigned char *buf = malloc(1u << 20);
	int fd;

	if (!dir || !dir[0])
		dir = "/tmp";
	assert_non_null(buf);
	snprintf(t->path, sizeof(t->path), "%s/iolens-conformance-XXXXXX", dir);
	fd = mkstemp(t->path);
	if (fd < 0) {
		t->path[0] = '\0';
		free(buf);
		fail_msg("mkstemp in %s: %s", dir, strerror(errno));
	}
	for (unsigned chunk = 0; chunk < FILE_SIZE; chunk += 1u << 20) {
		for (unsigned off = 0; off < (1u << 20); off += BS)
			pattern_block((chunk + off) / BS, buf + off);
		if (pwrite(fd, buf, 1u << 20, chunk) != (ssize_t)(1u << 20)) {
			close(fd);
			free(buf);
			fail_msg("filling %s: %s", t->path, strerror(errno));
		}
	}
	close(fd);
	free(buf);
}

/*
 * Read the whole file with pread: a block with written_seq[blk] != UINT_MAX
 * holds written_block(tag, seq) (tag + 1 in the second half when per_half),
 * every other block (all of them when written_seq is NULL) the pattern.
 */
static void verify_file(struct tcase *t, const unsigned *written_seq, uint64_t tag, int per_half)
{
	unsigned char *got = malloc(BS), *want = malloc(BS);
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);

	assert_non_null(got);
	assert_non_null(want);
	assert_true(fd >= 0);
	for (unsigned blk = 0; blk < NBLOCKS; blk++) {
		ssize_t n = pread(fd, got, BS, (off_t)blk * BS);
		int written = written_seq && written_seq[blk] != UINT_MAX;

		if (written)
			written_block(tag + (per_half ? blk / (NBLOCKS / 2) : 0), written_seq[blk],
				      want);
		else
			pattern_block(blk, want);
		if (n != (ssize_t)BS || memcmp(got, want, BS)) {
			close(fd);
			free(got);
			free(want);
			fail_msg("%s: block %u of the file %s (pread returned %zd)", t->v->label, blk,
				 written ? "is not what was written there" : "changed though no "
				 "write was aimed at it", n);
		}
	}
	close(fd);
	free(got);
	free(want);
}

static void run_or_fail(struct run *r, unsigned total)
{
	if (drive(r, total))
		fail_msg("%s", r->err);
}

static void start_run(struct tcase *t, unsigned depth, int fd)
{
	if (run_init(&t->run, t->v, depth, fd))
		fail_msg("%s", t->run.err);
}

/* ---------------------------------------------------------------------------
 * Cases.
 */
struct reap_mode {
	unsigned min, max; /* 0: 1 and depth */
	int64_t timeout;   /* 0: poll without waiting */
};

static const struct reap_mode reap_default = { 0, 0, REAP_TIMEOUT_NS };

static void randread_case(struct tcase *t, unsigned depth, int extra_flags, uint64_t seed,
			  const struct reap_mode *mode)
{
	struct run *r = &t->run;

	start_run(t, depth, open_file_or_fail(t, O_RDONLY | extra_flags));
	r->prep = prep_randread;
	r->check = check_pattern_read;
	r->rng = seed;
	r->first_block = 0;
	r->nblocks = NBLOCKS;
	r->reap_min = mode->min;
	r->reap_max = mode->max;
	r->reap_timeout = mode->timeout;
	run_or_fail(r, 2000);
	assert_int_equal(r->completed, 2000);
}

static void randread_depth1(void **state)
{
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 1, 0, 101, &reap_default);
}

static void randread_depth32(void **state)
{
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 32, 0, 102, &reap_default);
}

/* Deep queue: more in flight than a backend's helper threads or first guess of a ring. */
static void randread_depth256(void **state)
{
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 256, 0, 105, &reap_default);
}

/* Reap one completion per call while 32 are in flight. */
static void randread_depth32_reap1(void **state)
{
	static const struct reap_mode one = { 1, 1, REAP_TIMEOUT_NS };
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 32, 0, 106, &one);
}

/* Batched reaping: at least 8 per call (the workload's batch option). */
static void randread_depth32_batch8(void **state)
{
	static const struct reap_mode batch = { 8, 32, REAP_TIMEOUT_NS };
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 32, 0, 107, &batch);
}

/* Polling: reap never waits (timeout 0); completions must still show up. */
static void randread_depth32_polling(void **state)
{
	static const struct reap_mode polling = { 1, 32, 0 };
	struct tcase *t = *state;

	skip_unavailable(t);
	make_file(t);
	randread_case(t, 32, 0, 108, &polling);
}

/* O_DIRECT reads (where io_uring and libaio are truly asynchronous); skipped where refused. */
static void direct_randread(struct tcase *t, const struct reap_mode *mode, uint64_t seed)
{
	int fd;

	skip_unavailable(t);
	make_file(t);
	fd = open(t->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		print_message("O_DIRECT refused by the file system of %s: %s\n", t->path,
			      strerror(errno));
		skip();
	}
	if (fd < 0)
		fail_msg("open(O_DIRECT): %s", strerror(errno));
	close(fd);
	randread_case(t, 32, O_DIRECT, seed, mode);
}

static void direct_randread_depth32(void **state)
{
	direct_randread(*state, &reap_default, 103);
}

static void direct_randread_depth32_polling(void **state)
{
	static const struct reap_mode polling = { 1, 32, 0 };

	direct_randread(*state, &polling, 109);
}

static void direct_randread_depth32_batch8(void **state)
{
	static const struct reap_mode batch = { 8, 32, REAP_TIMEOUT_NS };

	direct_randread(*state, &batch, 110);
}

/* 1,000 distinct random blocks at distinct offsets, read back with pread. */
static void write_depth32(void **state)
{
	struct tcase *t = *state;
	struct run *r = &t->run;
	enum { COUNT = 1000 };
	unsigned *perm, *seq_of = malloc(NBLOCKS * sizeof(*seq_of));

	skip_unavailable(t);
	assert_non_null(seq_of);
	keep_mem(t, seq_of);
	make_file(t);
	perm = permutation(0, NBLOCKS, 7);
	assert_non_null(perm);
	keep_mem(t, perm);
	start_run(t, 32, open_file_or_fail(t, O_RDWR));
	r->prep = prep_write;
	r->check = check_full_len;
	r->perm = perm;
	r->tag = 1;
	run_or_fail(r, COUNT);
	assert_int_equal(r->completed, COUNT);
	for (unsigned i = 0; i < NBLOCKS; i++)
		seq_of[i] = UINT_MAX;
	for (unsigned i = 0; i < COUNT; i++)
		seq_of[perm[i]] = i;
	/* null writes nothing: the file must still be the pattern. */
	verify_file(t, r->verify ? seq_of : NULL, r->tag, 0);
}

/* Writes, then several fsyncs in flight at once: each completes with 0. */
static void fsync_after_writes(void **state)
{
	struct tcase *t = *state;
	struct run *r = &t->run;
	enum { WRITES = 64, FSYNCS = 4 };
	unsigned *perm, *seq_of = malloc(NBLOCKS * sizeof(*seq_of));

	skip_unavailable(t);
	assert_non_null(seq_of);
	keep_mem(t, seq_of);
	make_file(t);
	perm = permutation(0, NBLOCKS, 8);
	assert_non_null(perm);
	keep_mem(t, perm);
	start_run(t, 8, open_file_or_fail(t, O_RDWR));
	r->perm = perm;
	r->tag = 2;
	r->prep = prep_write;
	r->check = check_full_len;
	run_or_fail(r, WRITES);
	r->prep = prep_fsync;
	r->check = check_zero;
	run_or_fail(r, FSYNCS);
	assert_int_equal(r->completed, WRITES + FSYNCS);
	for (unsigned i = 0; i < NBLOCKS; i++)
		seq_of[i] = UINT_MAX;
	for (unsigned i = 0; i < WRITES; i++)
		seq_of[perm[i]] = i;
	verify_file(t, r->verify ? seq_of : NULL, r->tag, 0);
}

static int check_ebadf(struct run *r, const struct iolens_op *op, unsigned seq)
{
	/* null performs nothing: it reports success for every op it is handed. */
	if (!r->verify)
		return check_result(r, op, seq, op->kind == IOLENS_OP_FSYNC ? 0 : op->len);
	return check_result(r, op, seq, -EBADF);
}

static void prep_on_closed_fd(struct run *r, struct iolens_op *op, unsigned seq)
{
	static const uint16_t kinds[] = { IOLENS_OP_READ, IOLENS_OP_WRITE, IOLENS_OP_FSYNC };

	op->kind = kinds[seq % 3];
	op->fd = r->fd;
	op->len = op->kind == IOLENS_OP_FSYNC ? 0 : BS;
	op->offset = (uint64_t)(seq % NBLOCKS) * BS;
}

/*
 * A read (and a write and an fsync) on a descriptor that was open and is
 * now closed completes through reap with -EBADF; submit must not fail.
 */
static void closed_fd_ebadf(void **state)
{
	struct tcase *t = *state;
	struct run *r = &t->run;
	int fd;

	skip_unavailable(t);
	make_file(t);
	/*
	 * The context first, so its own descriptors cannot take the number. It
	 * gets the open file, for variants that register one; the ops use the
	 * closed number, which is in no table.
	 */
	start_run(t, 4, open_file_or_fail(t, O_RDWR));
	fd = open(t->path, O_RDWR | O_CLOEXEC |
			   ((t->b->caps & IOLENS_CAP_NONBLOCK_FD) ? O_NONBLOCK : 0));
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	r->fd = fd;
	r->prep = prep_on_closed_fd;
	r->check = check_ebadf;
	run_or_fail(r, 6);
	assert_int_equal(r->completed, 6);
}

/* Reads at and past the end of the file: short, then empty. */
static const struct {
	uint64_t offset;
	int64_t result;
} eof_reads[] = {
	{ FILE_SIZE - BS / 2, BS / 2 }, /* straddles the end */
	{ FILE_SIZE, 0 },               /* at the end */
	{ FILE_SIZE + 2 * BS, 0 },      /* past it */
	{ FILE_SIZE - BS, BS },         /* the last whole block */
};

static void prep_eof(struct run *r, struct iolens_op *op, unsigned seq)
{
	op->kind = IOLENS_OP_READ;
	op->fd = r->fd;
	op->len = BS;
	op->offset = eof_reads[seq % 4].offset;
	memset(op->buf, POISON, BS);
}

static int check_eof(struct run *r, const struct iolens_op *op, unsigned seq)
{
	int64_t want = eof_reads[seq % 4].result;

	if (!r->verify)
		return check_result(r, op, seq, op->len);
	if (check_result(r, op, seq, want))
		return -1;
	if (want > 0) {
		unsigned char *p = op->buf;
		uint64_t blk = op->offset / BS, in = op->offset % BS;

		pattern_block(blk, r->expect);
		if (memcmp(p, r->expect + in, (size_t)want))
			return run_fail(r, "read #%u at %llu: the bytes before the end differ from "
					"the file", seq, (unsigned long long)op->offset);
	}
	return 0;
}

/* A read that reaches the end of the file transfers what is there, then 0. */
static void eof_short_reads(void **state)
{
	struct tcase *t = *state;
	struct run *r = &t->run;

	skip_unavailable(t);
	make_file(t);
	start_run(t, 4, open_file_or_fail(t, O_RDONLY));
	r->prep = prep_eof;
	r->check = check_eof;
	run_or_fail(r, 8);
	assert_int_equal(r->completed, 8);
}

/*
 * Closing a context with operations in flight waits for them: afterwards
 * every accepted op has its result and its data. Submit also never takes
 * more than depth at once.
 */
static void close_with_ops_in_flight(void **state)
{
	enum { DEPTH = 32 };
	struct tcase *t = *state;
	struct run *r = &t->run;
	struct iolens_op *ops = calloc(2 * DEPTH, sizeof(*ops)), *list[2 * DEPTH];
	unsigned accepted = 0;
	int fd, n;

	skip_unavailable(t);
	assert_non_null(ops);
	keep_mem(t, ops);
	make_file(t);
	/* O_DIRECT where it works, so asynchronous backends really have them in flight. */
	fd = open_file(t, O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = open_file_or_fail(t, O_RDONLY);
	start_run(t, DEPTH, fd);
	r->rng = 111;
	r->nblocks = NBLOCKS;
	for (unsigned i = 0; i < 2 * DEPTH; i++) {
		ops[i].buf = r->bufs + (size_t)(i % DEPTH) * BS;
		ops[i].buf_index = (t->v->flags & IOLENS_BOPT_FIXED_BUFS) ? (int32_t)(i % DEPTH) : -1;
		prep_randread(r, &ops[i], i);
		ops[i].result = RESULT_UNSET;
		list[i] = &ops[i];
	}
	n = iolens_ctx_submit(r->ctx, list, 2 * DEPTH);
	if (n < 0 || n > DEPTH)
		fail_msg("%s: submit of %u ops at depth %u returned %d", t->v->label, 2 * DEPTH,
			 DEPTH, n);
	accepted = (unsigned)n;
	/* Fill the queue; a backend that stays busy with nothing reaped may refuse more. */
	while (accepted < DEPTH) {
		n = iolens_ctx_submit(r->ctx, list + accepted, DEPTH - accepted);
		if (n < 0)
			fail_msg("%s: submit returned %d", t->v->label, n);
		if (n == 0)
			break;
		accepted += (unsigned)n;
	}
	assert_true(accepted > 0);
	iolens_ctx_close(r->ctx);
	r->ctx = NULL;
	for (unsigned i = 0; i < accepted; i++) {
		if (ops[i].result != BS)
			fail_msg("%s: op #%u of %u in flight at close has result %lld after close",
				 t->v->label, i, accepted, (long long)ops[i].result);
		pattern_block(ops[i].offset / BS, r->expect);
		if (r->verify && memcmp(ops[i].buf, r->expect, BS))
			fail_msg("%s: op #%u in flight at close: buffer differs from the file",
				 t->v->label, i);
	}
	for (unsigned i = accepted; i < 2 * DEPTH; i++)
		if (ops[i].result != RESULT_UNSET)
			fail_msg("%s: op #%u was never accepted but has a result", t->v->label, i);
}

/* A read of a block this run wrote: full length, what was written. */
static int check_written_read(struct run *r, const struct iolens_op *op, unsigned seq)
{
	if (check_result(r, op, seq, op->len))
		return -1;
	if (!r->verify)
		return 0;
	written_block(r->tag, r->seq_of[op->offset / BS], r->expect);
	if (memcmp(op->buf, r->expect, op->len))
		return run_fail(r, "read #%u at offset %llu is not what was written there", seq,
				(unsigned long long)op->offset);
	return 0;
}

/* Two contexts of one backend, one per thread, at the same time (jobs 2). */
struct job {
	const struct variant *v;
	const char *path;
	pthread_barrier_t *start;
	unsigned index;
	char err[512];
};

#define HALF (NBLOCKS / 2)
#define JOB_TAG(i) (100u + (i))
#define JOB_SEED(i) (20u + (i))

/*
 * Each job writes every block of its own half of the file through its own
 * context, then reads 1,000 random blocks of that half back through it.
 */
static void *job_main(void *p)
{
	struct job *j = p;
	unsigned *perm = permutation(j->index * HALF, HALF, JOB_SEED(j->index));
	unsigned *seq_of = malloc(NBLOCKS * sizeof(*seq_of));
	struct run r;
	int fd = open(j->path, O_RDWR | O_CLOEXEC |
				       ((j->v->b->caps & IOLENS_CAP_NONBLOCK_FD) ? O_NONBLOCK : 0));
	int open_errno = errno;

	/* Opened in this thread: some backends bind a context to the opening task. */
	run_init(&r, j->v, 8, fd);
	if (fd < 0)
		run_fail(&r, "job %u: open: %s", j->index, strerror(open_errno));
	if (!perm || !seq_of)
		run_fail(&r, "job %u: out of memory", j->index);
	pthread_barrier_wait(j->start);
	if (r.err[0])
		goto out;
	for (unsigned i = 0; i < HALF; i++)
		seq_of[perm[i]] = i;
	r.perm = perm;
	r.seq_of = seq_of;
	r.tag = JOB_TAG(j->index);
	r.prep = prep_write;
	r.check = check_full_len;
	if (drive(&r, HALF))
		goto out;
	r.prep = prep_randread;
	r.check = check_written_read;
	r.rng = 300 + j->index;
	r.first_block = j->index * HALF;
	r.nblocks = HALF;
	if (drive(&r, 1000))
		goto out;
	if (r.completed != HALF + 1000)
		run_fail(&r, "job %u: %u ops completed, expected %u", j->index, r.completed,
			 HALF + 1000);
out:
	snprintf(j->err, sizeof(j->err), "%s", r.err);
	run_free(&r);
	if (fd >= 0)
		close(fd);
	free(perm);
	free(seq_of);
	return NULL;
}

static void two_contexts_two_threads(void **state)
{
	struct tcase *t = *state;
	struct job jobs[2];
	pthread_barrier_t start;
	pthread_t th[2];
	unsigned *seq_of = malloc(NBLOCKS * sizeof(*seq_of));

	skip_unavailable(t);
	assert_non_null(seq_of);
	keep_mem(t, seq_of);
	make_file(t);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	for (unsigned i = 0; i < 2; i++) {
		jobs[i] = (struct job){ .v = t->v, .path = t->path, .start = &start, .index = i };
		assert_int_equal(pthread_create(&th[i], NULL, job_main, &jobs[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (unsigned i = 0; i < 2; i++)
		if (jobs[i].err[0])
			fail_msg("%s", jobs[i].err);
	/* Each half holds exactly what its own job wrote (null: the pattern). */
	for (unsigned i = 0; i < 2; i++) {
		unsigned *perm = permutation(i * HALF, HALF, JOB_SEED(i));

		assert_non_null(perm);
		for (unsigned k = 0; k < HALF; k++)
			seq_of[perm[k]] = k;
		free(perm);
	}
	verify_file(t, is_null(t->b) ? NULL : seq_of, JOB_TAG(0), 1);
}

/*
 * The counters after a run of reads and writes on a regular file: exact
 * submitted/completed, per-op flags matching the counters, and the figures
 * the backend's model implies.
 */
static void prep_mixed(struct run *r, struct iolens_op *op, unsigned seq)
{
	if (seq % 6 != 5) {
		prep_randread(r, op, seq);
		return;
	}
	/* Writes go past the patterned 4 MiB, so reads keep checking the pattern. */
	op->kind = IOLENS_OP_WRITE;
	op->fd = r->fd;
	op->len = BS;
	op->offset = FILE_SIZE + (uint64_t)(seq % 64) * BS;
	written_block(3, seq, op->buf);
}

static int check_mixed(struct run *r, const struct iolens_op *op, unsigned seq)
{
	if (op->kind == IOLENS_OP_WRITE)
		return check_full_len(r, op, seq);
	return check_pattern_read(r, op, seq);
}

static void stats_match_model(void **state)
{
	struct tcase *t = *state;
	struct run *r = &t->run;
	const struct iolens_backend_info *b = t->b;
	const char *label = t->v->label;
	enum { OPS = 1200 };
	struct iolens_backend_stats s;

	skip_unavailable(t);
	make_file(t);
	start_run(t, 16, open_file_or_fail(t, O_RDWR));
	r->prep = prep_mixed;
	r->check = check_mixed;
	r->rng = 104;
	r->nblocks = NBLOCKS;
	run_or_fail(r, OPS);
	memset(&s, 0xee, sizeof(s));
	iolens_ctx_stats(r->ctx, &s);
	print_message("%s: submit_calls %llu reap_calls %llu inline %llu fallbacks %llu "
		      "ready_at_once %llu waits %llu nowait %llu/%llu setup \"%.*s\"\n",
		      label, (unsigned long long)s.submit_calls,
		      (unsigned long long)s.reap_calls, (unsigned long long)s.completed_inline,
		      (unsigned long long)s.fallbacks, (unsigned long long)s.ready_at_once,
		      (unsigned long long)s.waits, (unsigned long long)s.nowait_eagain,
		      (unsigned long long)s.nowait_tries, (int)sizeof(s.setup), s.setup);
	assert_int_equal(s.submitted, OPS);
	assert_int_equal(s.completed, OPS);
	assert_true(s.submit_calls >= 1);
	assert_true(s.reap_calls >= 1);
	assert_true(s.completed_inline <= s.completed);
	assert_true(s.fallbacks <= s.completed);
	/* RWF_NOWAIT is tried only when asked for (or by nowait, built on it), at most once per op. */
	if (!(t->v->flags & IOLENS_BOPT_NOWAIT) && strcmp(b->name, "nowait") != 0)
		assert_int_equal(s.nowait_tries, 0);
	assert_true(s.nowait_tries <= OPS);
	assert_true(s.nowait_eagain <= s.nowait_tries);
	/* The per-op flags and the counters describe the same ops. */
	if (r->n_inline != s.completed_inline)
		fail_msg("%s: %u ops carried IOLENS_OPF_INLINE but completed_inline is %llu",
			 label, r->n_inline, (unsigned long long)s.completed_inline);
	if (r->n_fallback != s.fallbacks)
		fail_msg("%s: %u ops carried IOLENS_OPF_FALLBACK but fallbacks is %llu", label,
			 r->n_fallback, (unsigned long long)s.fallbacks);
	/* A synchronous model on a regular file never has to sleep for readiness. */
	if (strncmp(b->model, "sync", 4) == 0)
		assert_int_equal(s.waits, 0);
	if (is_null(b) || strcmp(b->name, "blocking") == 0) {
		assert_int_equal(s.completed_inline, OPS);
		assert_int_equal(s.fallbacks, 0);
	}
	if (strcmp(b->name, "epoll") == 0)
		/* epoll_ctl refuses regular files: every op is a plain-call fallback. */
		assert_int_equal(s.fallbacks, OPS);
	if (strcmp(b->name, "poll") == 0) {
		/* A regular file is always ready. */
		assert_true(s.ready_at_once > 0);
		assert_int_equal(s.waits, 0);
		assert_int_equal(s.fallbacks, 0);
	}
}

/* ctx_open's errors, submit's refusal of an unsupported kind, and -ENOSYS when unavailable. */
static void api_errors(void **state)
{
	static const uint32_t known_opts[] = { IOLENS_BOPT_SQPOLL, IOLENS_BOPT_FIXED_FILES,
					       IOLENS_BOPT_FIXED_BUFS, IOLENS_BOPT_NOWAIT,
					       IOLENS_BOPT_THREADS, IOLENS_BOPT_EDGE,
					       IOLENS_BOPT_MS_ACCEPT, IOLENS_BOPT_MS_RECV,
					       IOLENS_BOPT_SQPOLL_CPU, IOLENS_BOPT_CQ_SPIN, 1u << 30 };
	struct tcase *t = *state;
	const struct iolens_backend_info *b = t->b;
	struct iolens_backend_opts o = { .depth = 0 };
	struct iolens_ctx *ctx = (struct iolens_ctx *)&o;
	struct iolens_backend_stats s;
	/* Static: teardown closes the context, which may still hold them, after a failure. */
	static struct iolens_op ops[2];
	static char buf[BS];
	struct iolens_op *list[2] = { &ops[0], &ops[1] }, *out[2];
	int r, fd, bad_kind = -1;

	if (!b->available) {
		r = iolens_ctx_open(&ctx, b->name, NULL);
		if (r != -ENOSYS)
			fail_msg("%s is unavailable (%s) but ctx_open returned %d, not -ENOSYS",
				 b->name, b->reason, r);
		assert_null(ctx);
		skip_unavailable(t);
	}

	r = iolens_ctx_open(&ctx, b->name, &o);
	if (r != -EINVAL)
		fail_msg("%s: depth 0 gave %d, expected -EINVAL", b->name, r);
	assert_null(ctx);

	o.depth = 4;
	for (size_t i = 0; i < sizeof(known_opts) / sizeof(known_opts[0]); i++) {
		if (b->options & known_opts[i])
			continue;
		o.flags = known_opts[i];
		ctx = (struct iolens_ctx *)&o;
		r = iolens_ctx_open(&ctx, b->name, &o);
		if (r != -EINVAL)
			fail_msg("%s: option 0x%x it does not accept gave %d, expected -EINVAL",
				 b->name, known_opts[i], r);
		assert_null(ctx);
	}
	if (b->options & IOLENS_BOPT_FIXED_FILES) {
		/* No files is sockets only; a count without the files is an error. */
		o.flags = IOLENS_BOPT_FIXED_FILES;
		o.nfiles = 1;
		assert_int_equal(iolens_ctx_open(&ctx, b->name, &o), -EINVAL);
		assert_null(ctx);
		o.nfiles = 0;
	}
	if ((b->options & (IOLENS_BOPT_UCONTEXT | IOLENS_BOPT_BARE)) ==
	    (IOLENS_BOPT_UCONTEXT | IOLENS_BOPT_BARE)) {
		/* bare runs no coroutine: there is nothing to switch with ucontext. */
		o.flags = IOLENS_BOPT_UCONTEXT | IOLENS_BOPT_BARE;
		assert_int_equal(iolens_ctx_open(&ctx, b->name, &o), -EINVAL);
		assert_null(ctx);
	}
	if (b->options & IOLENS_BOPT_FIXED_BUFS) {
		o.flags = IOLENS_BOPT_FIXED_BUFS;
		assert_int_equal(iolens_ctx_open(&ctx, b->name, &o), -EINVAL);
		assert_null(ctx);
	}

	/* NULL opts: depth 1, no options. */
	r = iolens_ctx_open(&ctx, b->name, NULL);
	if (r)
		fail_msg("%s: ctx_open with NULL opts: %d (%s)", b->name, r, iolens_strerror(r));
	assert_ptr_equal(iolens_ctx_backend(ctx), iolens_backend_find(b->name));
	iolens_ctx_close(ctx);

	/* A batch holding a kind outside caps is refused whole, before anything is accepted. */
	for (int k = 0; k < IOLENS_OP__COUNT; k++) {
		if (!(b->caps & IOLENS_CAP_OP(k))) {
			bad_kind = k;
			break;
		}
	}
	if (bad_kind < 0)
		return;
	/* A real file, so that wrongly accepted ops still complete when the context closes. */
	make_file(t);
	fd = open_file_or_fail(t, O_RDWR);
	o.flags = 0;
	assert_int_equal(iolens_ctx_open(&t->run.ctx, b->name, &o), 0);
	ops[0] = (struct iolens_op){ .kind = IOLENS_OP_READ, .fd = fd, .len = BS, .buf = buf,
				     .buf_index = -1, .result = RESULT_UNSET };
	ops[1] = (struct iolens_op){ .kind = (uint16_t)bad_kind, .fd = fd, .len = BS,
				     .buf = buf, .buf_index = -1, .result = RESULT_UNSET };
	r = iolens_ctx_submit(t->run.ctx, list, 2);
	if (r != -EOPNOTSUPP)
		fail_msg("%s: a batch with op kind %d (not in caps) gave %d, expected -EOPNOTSUPP",
			 b->name, bad_kind, r);
	iolens_ctx_stats(t->run.ctx, &s);
	assert_int_equal(s.submitted, 0);
	assert_int_equal(iolens_ctx_reap(t->run.ctx, out, 0, 2, 0), 0);
	/* Nothing of the batch was performed. */
	assert_true(ops[0].result == RESULT_UNSET);
	assert_true(ops[1].result == RESULT_UNSET);
}

/* Not per backend: the list itself and names nobody has. */
static void backend_list_and_unknown_name(void **state)
{
	const struct iolens_backend_info *all;
	size_t n = iolens_backends(&all);
	struct iolens_ctx *ctx = (struct iolens_ctx *)&n;

	(void)state;
	assert_true(n >= 1);
	assert_int_equal(iolens_backends(NULL), n);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(all[i].name);
		assert_non_null(all[i].model);
		assert_ptr_equal(iolens_backend_find(all[i].name), &all[i]);
		if (!all[i].available && !(all[i].reason && all[i].reason[0]))
			fail_msg("%s is unavailable without a reason", all[i].name);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(all[i].name, all[k].name);
	}
	assert_non_null(iolens_backend_find("null"));
	assert_null(iolens_backend_find("no-such-backend"));
	assert_int_equal(iolens_ctx_open(&ctx, "no-such-backend", NULL), -ENOENT);
	assert_null(ctx);
	ctx = (struct iolens_ctx *)&n;
	assert_int_equal(iolens_ctx_open(&ctx, "", NULL), -ENOENT);
	assert_null(ctx);
	assert_null(iolens_backend_find(NULL));
	assert_int_equal(iolens_ctx_open(&ctx, NULL, NULL), -EINVAL);
	assert_int_equal(iolens_ctx_open(NULL, "null", NULL), -EINVAL);
	assert_int_equal(iolens_abi_version(), IOLENS_ABI_VERSION);
	assert_string_equal(iolens_version(), IOLENS_VERSION_STRING);
}

/*
 * The variants of one backend: plain, then each option that needs nothing
 * but the flag (and the descriptor and buffers every run has) on its own.
 */
static size_t variants_of(const struct iolens_backend_info *b, struct variant *out)
{
	static const struct {
		uint32_t flags;
		const char *suffix;
	} opts[] = {
		{ IOLENS_BOPT_SQPOLL, "+sqpoll" },
		{ IOLENS_BOPT_SQPOLL | IOLENS_BOPT_CQ_SPIN, "+sqpoll+cq-spin" },
		{ IOLENS_BOPT_FIXED_FILES | IOLENS_BOPT_FIXED_BUFS, "+fixed-files+fixed-bufs" },
		{ IOLENS_BOPT_NOWAIT, "+nowait" },
		{ IOLENS_BOPT_THREADS, "+threads=4" },
		{ IOLENS_BOPT_EDGE, "+et" },
		{ IOLENS_BOPT_UCONTEXT, "+ucontext" },
		{ IOLENS_BOPT_BARE, "+bare" },
	};
	size_t n = 0;

	out[n] = (struct variant){ .b = b };
	snprintf(out[n++].label, sizeof(out[0].label), "%s", b->name);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if ((b->options & opts[i].flags) != opts[i].flags)
			continue;
		out[n] = (struct variant){ .b = b, .flags = opts[i].flags };
		snprintf(out[n++].label, sizeof(out[0].label), "%s%s", b->name, opts[i].suffix);
	}
	return n;
}

#define MAX_VARIANTS 5

/* Cpus_allowed_list of this process's io_uring SQPOLL thread into got; 1 if found. */
static int sqpoll_thread_cpus(char *got, size_t len)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int found = 0;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[300], line[128], name[32] = "", cpus[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Name:\t%31s", name);
			sscanf(line, "Cpus_allowed_list:\t%63s", cpus);
		}
		fclose(f);
		if (strncmp(name, "iou-sqp-", 8) == 0) {
			snprintf(got, len, "%s", cpus);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* io_uring:sqpoll-cpu puts the kernel's SQPOLL thread on that CPU alone. */
static void sqpoll_cpu_pins_the_thread(void **state)
{
	const struct iolens_backend_info *b = iolens_backend_find("io_uring");
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct iolens_backend_opts o = { .depth = 4, .flags = IOLENS_BOPT_SQPOLL_CPU };
	struct iolens_backend_stats st;
	struct iolens_ctx *ctx;
	char want[16], got[64] = "", text[32];
	int r;

	(void)state;
	if (!b || !b->available)
		skip();
	assert_int_equal(iolens_ctx_open(&ctx, "io_uring", &o), -EINVAL); /* needs SQPOLL */
	o.flags |= IOLENS_BOPT_SQPOLL;
	o.sqpoll_cpu = (unsigned)ncpu;
	assert_int_equal(iolens_ctx_open(&ctx, "io_uring", &o), -EINVAL);
	o.sqpoll_cpu = (unsigned)(ncpu - 1);
	r = iolens_ctx_open(&ctx, "io_uring", &o);
	if (r)
		fail_msg("sqpoll-cpu=%u: %s", o.sqpoll_cpu, iolens_strerror(r));
	snprintf(want, sizeof(want), "%u", o.sqpoll_cpu);
	/* The thread names itself once it runs: give it a second. */
	for (int i = 0; i < 100 && !sqpoll_thread_cpus(got, sizeof(got)); i++)
		usleep(10000);
	assert_string_equal(got, want);
	iolens_ctx_stats(ctx, &st);
	snprintf(text, sizeof(text), ",cpu=%s)", want);
	if (!strstr(st.setup, text))
		fail_msg("setup '%s' does not say %s", st.setup, text);
	iolens_ctx_close(ctx);
}

/*
 * posix-aio waits for a batch of in-order file requests, but READs on a
 * pipe may wait for the caller: with 4 in flight and data for one, a reap
 * for one must return it, not wait for three (the test would hang).
 */
static void posix_aio_pipe_reads_return_one(void **state)
{
	const struct iolens_backend_info *b = iolens_backend_find("posix-aio");
	struct iolens_backend_opts o = { .depth = 4 };
	struct iolens_op ops[4], *sub[4], *done[4];
	char bufs[4][16];
	struct iolens_ctx *ctx;
	int p[2], n;

	(void)state;
	if (!b || !b->available)
		skip();
	assert_int_equal(pipe(p), 0);
	assert_int_equal(iolens_ctx_open(&ctx, "posix-aio", &o), 0);
	for (int i = 0; i < 4; i++) {
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_READ, .fd = p[0], .buf = bufs[i],
					     .len = sizeof(bufs[i]), .buf_index = -1 };
		sub[i] = &ops[i];
	}
	assert_int_equal(iolens_ctx_submit(ctx, sub, 4), 4);
	assert_int_equal(write(p[1], "sixteen bytes..", 16), 16);
	n = iolens_ctx_reap(ctx, done, 1, 4, -1);
	assert_int_equal(n, 1);
	assert_int_equal(done[0]->result, 16);
	assert_memory_equal(done[0]->buf, "sixteen bytes..", 16);
	/* EOF for the rest, which close then waits out. */
	close(p[1]);
	for (int got = 1; got < 4; got += n) {
		n = iolens_ctx_reap(ctx, done, 1, 4, -1);
		assert_true(n >= 1);
		for (int i = 0; i < n; i++)
			assert_int_equal(done[i]->result, 0);
	}
	iolens_ctx_close(ctx);
	close(p[0]);
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
		int plain_only; /* about the backend, not its options */
	} cases[] = {
		{ "randread_depth1", randread_depth1, 0 },
		{ "randread_depth32", randread_depth32, 0 },
		{ "randread_depth256", randread_depth256, 0 },
		{ "randread_depth32_reap1", randread_depth32_reap1, 0 },
		{ "randread_depth32_batch8", randread_depth32_batch8, 0 },
		{ "randread_depth32_polling", randread_depth32_polling, 0 },
		{ "write_depth32", write_depth32, 0 },
		{ "fsync", fsync_after_writes, 0 },
		{ "direct_randread_depth32", direct_randread_depth32, 0 },
		{ "direct_randread_depth32_polling", direct_randread_depth32_polling, 0 },
		{ "direct_randread_depth32_batch8", direct_randread_depth32_batch8, 0 },
		{ "eof_short_reads", eof_short_reads, 0 },
		{ "close_with_ops_in_flight", close_with_ops_in_flight, 0 },
		{ "closed_fd_ebadf", closed_fd_ebadf, 0 },
		{ "two_contexts_two_threads", two_contexts_two_threads, 0 },
		{ "stats", stats_match_model, 0 },
		{ "api_errors", api_errors, 1 },
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	const struct iolens_backend_info *all;
	size_t nb = iolens_backends(&all), nv = 0, n = 0;
	struct variant *vs = calloc(nb * MAX_VARIANTS, sizeof(*vs));
	struct tcase *tc = calloc(nb * MAX_VARIANTS * ncases, sizeof(*tc));
	struct CMUnitTest *tests = calloc(nb * MAX_VARIANTS * ncases + 2, sizeof(*tests));
	int rc;

	if (!vs || !tc || !tests) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < nb; i++)
		nv += variants_of(&all[i], vs + nv);
	for (size_t i = 0; i < nv; i++) {
		for (size_t k = 0; k < ncases; k++) {
			if (cases[k].plain_only && vs[i].flags)
				continue;
			tc[n].b = vs[i].b;
			tc[n].v = &vs[i];
			snprintf(tc[n].name, sizeof(tc[n].name), "%s/%s", vs[i].label,
				 cases[k].name);
			tests[n] = (struct CMUnitTest){ .name = tc[n].name,
							.test_func = cases[k].fn,
							.setup_func = tc_setup,
							.teardown_func = tc_teardown,
							.initial_state = &tc[n] };
			n++;
		}
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(backend_list_and_unknown_name);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(sqpoll_cpu_pins_the_thread);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(posix_aio_pipe_reads_return_one);
	rc = _cmocka_run_group_tests("conformance", tests, n, NULL, NULL);
	free(tests);
	free(tc);
	free(vs);
	return rc;
}
