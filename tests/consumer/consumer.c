/*
 * A program that uses an installed libiolens the way a user would: only
 * <iolens/iolens.h>, linked through find_package(iolens) or pkg-config.
 *
 *  1. Level 2: drive io_uring and blocking directly on a file this program
 *     wrote, and check that every byte read back is the byte written.
 *  2. Level 1: run a described workload on both and check the result.
 *  3. What the iolens command itself uses, through the same header: the
 *     table, JSON document and CSV of those results; a responder that an
 *     echo workload then talks to; the machine probe; spec checks and a
 *     result that never ran.
 *  4. A backend's refusal with its reason: io_uring:iopoll on a file
 *     opened without O_DIRECT.
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

/* Read back what a writer put in a stream; NULL-terminated, free() it. */
static char *written(FILE *f)
{
	long n = ftell(f);
	char *s = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;

	rewind(f);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static unsigned count_char(const char *s, char c)
{
	unsigned n = 0;

	for (; s && *s; s++)
		n += *s == c;
	return n;
}

/* Fields of each CSV line (quotes respected) equal `want`; how many lines. */
static unsigned csv_lines(const char *s, unsigned want, int *same)
{
	unsigned lines = 0, fields = 1;
	int quoted = 0;

	*same = 1;
	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == ',' && !quoted)
			fields++;
		else if (*s == '\n' && !quoted) {
			*same &= fields == want;
			lines++;
			fields = 1;
		}
	}
	return lines;
}

/* 3a. The reports of two results: table (with and without notes), JSON document, CSV. */
static void reports(struct iolens_result *const *res, size_t n)
{
	struct iolens_meta m;
	FILE *f;
	char *s, *nl;

	iolens_meta_collect(&m, "consumer reports");
	CHECK(m.kernel[0] && m.hostname[0] && m.cores > 0 && strlen(m.start_time) == 20,
	      "meta: kernel '%s', host '%s', %u cores, start '%s'", m.kernel, m.hostname, m.cores,
	      m.start_time);

	f = tmpfile();
	CHECK(f && iolens_table(f, res, n, 0) == 0, "iolens_table failed");
	s = f ? written(f) : NULL;
	CHECK(s && strncmp(s, "workload randread, bs 4096", 26) == 0, "table starts '%.40s'",
	      s ? s : "");
	CHECK(s && strstr(s, "\nblocking ") && strstr(s, "\nio_uring ") && strstr(s, "model (measured)"),
	      "table lacks a row or the header:\n%s", s ? s : "");
	CHECK(s && !strstr(s, "notes:"), "table without IOLENS_TABLE_NOTES has notes");
	free(s);
	f = tmpfile();
	CHECK(f && iolens_table(f, res, n, IOLENS_TABLE_NOTES) == 0, "iolens_table (notes) failed");
	s = f ? written(f) : NULL;
	CHECK(s && strstr(s, "\nnotes:\n"), "table with IOLENS_TABLE_NOTES has no notes");
	free(s);
	CHECK(iolens_table(NULL, res, n, 0) == -EINVAL, "iolens_table(NULL) is not -EINVAL");
	CHECK(iolens_table(stdout, res, n, 2) == -EINVAL, "an unknown table flag is not -EINVAL");

	f = tmpfile();
	CHECK(f && iolens_json_document(f, &m, res, n) == 0, "iolens_json_document failed");
	s = f ? written(f) : NULL;
	CHECK(s && s[0] == '{' && strstr(s, "\"schema\": \"iolens/1\"") &&
		      strstr(s, "\"command_line\": \"consumer reports\"") && strstr(s, "\"verdict\": [") &&
		      strstr(s, "\"backend\": \"blocking\"") && strstr(s, "\"backend\": \"io_uring\""),
	      "JSON document lacks schema, meta, verdict or a result");
	free(s);
	CHECK(iolens_json_document(stdout, NULL, res, n) == -EINVAL,
	      "iolens_json_document without meta is not -EINVAL");

	f = tmpfile();
	CHECK(f && iolens_csv_header(f) == 0, "iolens_csv_header failed");
	for (size_t i = 0; f && i < n; i++)
		CHECK(iolens_csv_row(f, res[i]) == 0, "iolens_csv_row failed");
	s = f ? written(f) : NULL;
	nl = s ? strchr(s, '\n') : NULL;
	if (nl) {
		unsigned head, lines;
		int same;

		*nl = '\0';
		head = count_char(s, ',') + 1;
		*nl = '\n';
		lines = csv_lines(s, head, &same);
		CHECK(head > 50 && lines == n + 1 && same,
		      "CSV: %u lines for %zu results, not all of the header's %u columns", lines, n,
		      head);
	} else {
		CHECK(0, "no CSV written");
	}
	free(s);
}

/* 3b. A responder on loopback, and an echo workload against it through iolens_run. */
static void responder(void)
{
	struct iolens_responder_opts o;
	struct iolens_responder *r = NULL, *again = NULL;
	struct iolens_result *res = NULL;
	struct iolens_target *t = NULL;
	struct iolens_workload w;
	char where[128], err[256] = "";
	uint64_t open = 1, accepted = 0;
	int e;

	iolens_responder_opts_init(&o);
	o.listen = "127.0.0.1:99999";
	e = iolens_responder_start(&r, &o, err, sizeof(err));
	CHECK(e == -EINVAL && !r && strncmp(err, "--listen: ", 10) == 0,
	      "a port out of range: %d, '%s'", e, err);
	o.listen = NULL;
	e = iolens_responder_start(&r, &o, err, sizeof(err));
	CHECK(e == 0 && r, "iolens_responder_start: %s (%s)", err, iolens_strerror(e));
	if (e)
		return;
	iolens_responder_address(r, where, sizeof(where));
	CHECK(strncmp(where, "127.0.0.1:", 10) == 0 && atoi(where + 10) > 0,
	      "the responder listens on '%s'", where);
	o.listen = where;
	e = iolens_responder_start(&again, &o, err, sizeof(err));
	CHECK(e == -EADDRINUSE && !again, "a second responder on %s: %d, '%s'", where, e, err);

	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.connect = where;
	w.conns = 2;
	w.time_s = 0;
	w.ops = 500;
	e = iolens_target_open(&t, &w, err, sizeof(err));
	CHECK(e == 0, "echo target on %s: %s", where, err);
	if (!e) {
		e = iolens_run(t, &w, "epoll", &res, err, sizeof(err));
		CHECK(e == 0 && res && res->status == IOLENS_STATUS_OK && res->ops == 500,
		      "echo through the responder: %d, status %d, %llu requests: %s %s", e,
		      res ? res->status : -1, res ? (unsigned long long)res->ops : 0ull, err,
		      res ? res->reason : "");
		iolens_result_free(res);
		iolens_target_close(t);
	}
	iolens_responder_counts(r, &open, &accepted);
	CHECK(accepted >= 2, "the responder accepted %llu connections", (unsigned long long)accepted);
	iolens_responder_stop(r);
	iolens_responder_stop(NULL);
	printf("consumer: responder on %s answered an echo run (%llu connections)\n", where,
	       (unsigned long long)accepted);
}

/* 3c. The machine probe, spec checks and a result that never ran. */
static void probe_and_specs(void)
{
	struct iolens_machine m;
	struct iolens_result *r = NULL;
	struct iolens_workload w;
	char err[256] = "", names[64];

	CHECK(iolens_machine_probe(&m) == 0, "iolens_machine_probe failed");
	CHECK(m.can_count ? m.why_not[0] == '\0' && m.tracefs[0] == '/' : m.why_not[0] != '\0',
	      "probe: can_count %d, tracefs '%s', why_not '%s'", m.can_count, m.tracefs, m.why_not);
	CHECK(iolens_machine_probe(NULL) == -EINVAL, "iolens_machine_probe(NULL) is not -EINVAL");
	printf("consumer: syscall counting here: %s\n", m.can_count ? "yes" : m.why_not);

	CHECK(iolens_spec_check("io_uring:sqpoll", IOLENS_WL_RANDREAD, err, sizeof(err)) == 0,
	      "io_uring:sqpoll refused: %s", err);
	CHECK(iolens_spec_check("io_uring:bogus", -1, err, sizeof(err)) == -EINVAL &&
		      strncmp(err, "--backend: ", 11) == 0,
	      "an unknown option: '%s'", err);
	CHECK(iolens_spec_check("io_uring:fixed-bufs", IOLENS_WL_ECHO, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "echo"),
	      "fixed-bufs on echo: '%s'", err);
	CHECK(strcmp(iolens_workload_names((1u << IOLENS_WL_ECHO) | (1u << IOLENS_WL_SERVE), names,
					   sizeof(names)),
		     "echo, serve") == 0,
	      "workload names: '%s'", names);

	iolens_workload_init(&w);
	CHECK(iolens_result_not_run("libaio", &w, -EINTR, "stopped", &r) == 0 && r &&
		      r->status == IOLENS_STATUS_NOT_RUN && r->error == -EINTR &&
		      strcmp(r->reason, "stopped") == 0 && strcmp(r->backend, "libaio") == 0 &&
		      r->ops == 0,
	      "a not-run result");
	iolens_result_free(r);
	r = NULL;
	CHECK(iolens_result_not_run("nope", &w, 0, NULL, &r) == -EINVAL && !r,
	      "a not-run result of an unknown backend");
}

/* io_uring:iopoll polls O_DIRECT I/O only: a buffered descriptor is refused, and says why. */
static void refusal_with_reason(int fd)
{
	struct iolens_backend_opts o = { .depth = 1, .flags = IOLENS_BOPT_IOPOLL, .files = &fd,
					 .nfiles = 1 };
	struct iolens_ctx *ctx = NULL;
	int r = iolens_ctx_open(&ctx, "io_uring", &o);

	CHECK(r == -EOPNOTSUPP && ctx == NULL, "io_uring:iopoll on a buffered file returned %d", r);
	CHECK(strstr(iolens_ctx_open_reason(), "O_DIRECT") != NULL,
	      "io_uring:iopoll refused without naming O_DIRECT: '%s'", iolens_ctx_open_reason());
	printf("consumer: io_uring:iopoll refused: %s\n", iolens_ctx_open_reason());
	/* The reason is the last open's: a successful one clears it. */
	r = iolens_ctx_open(&ctx, "io_uring", NULL);
	CHECK(r == 0 && !iolens_ctx_open_reason()[0], "open after a refusal: %d, reason '%s'", r,
	      iolens_ctx_open_reason());
	iolens_ctx_close(ctx);
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
	if (r == 0)
		reports(res, 2);
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
	CHECK(iolens_ctx_open_reason() && !iolens_ctx_open_reason()[0],
	      "a refusal without a backend's word has reason '%s'", iolens_ctx_open_reason());
	CHECK(strcmp(iolens_strerror(r), strerror(ENOENT)) == 0, "strerror(-ENOENT) is '%s'",
	      iolens_strerror(r));
	r = iolens_ctx_open(&ctx, "blocking", &(struct iolens_backend_opts){ .depth = 0 });
	CHECK(r == -EINVAL, "depth 0 returned %d", r);

	fd = make_file(path);
	CHECK(fd >= 0, "cannot create %s: %s", path, strerror(errno));
	if (fd >= 0) {
		drive("io_uring", fd);
		drive("blocking", fd);
		refusal_with_reason(fd);
		close(fd);
		unlink(path);
	}
	run_workload();
	responder();
	probe_and_specs();
	if (failures) {
		fprintf(stderr, "consumer: %d check(s) failed\n", failures);
		return 1;
	}
	printf("consumer: ok\n");
	return 0;
}
