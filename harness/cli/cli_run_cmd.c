/*
 * iolens run: the options parsed and checked (cli_run.c) before anything is
 * opened, the target opened, the library run on every spec, and the table,
 * JSON and CSV written, even when the run was interrupted (marked so).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_output.h"
#include "cli_results.h"
#include "cli_run.h"
#include "cli_usage.h"
#include "hdrlog.h"
#include "iolens/iolens.h"
#include "store.h"

static volatile int stop_flag;
static struct iolens__output json_out, csv_out, hdr_out;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* A result for each spec, none of them started: the run was stopped before its file was ready. */
static size_t not_run(const struct iolens__run_args *a, struct iolens_result **out)
{
	size_t n = 0;

	for (size_t i = 0; i < a->nspecs; i++) {
		if (iolens_result_not_run(a->specs[i], &a->w, -EINTR,
					  "interrupted while the file was being prepared", &out[n]))
			continue;
		n++;
	}
	return n;
}

/* The library's target errors that are the user's input, not a failure of the run. */
static int is_usage_errno(int e)
{
	static const int usage[] = { EINVAL, ENOENT, EACCES, EEXIST, ENOTBLK, ENAMETOOLONG, EPERM,
				     EROFS, EADDRINUSE, EISDIR, ENOTDIR, ELOOP };

	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
		if (e == -usage[i])
			return 1;
	return 0;
}

/* Write the table and the files; 1 when any of them failed (said on stderr). */
static int write_outputs(struct iolens_result **res, size_t n, const struct iolens_meta *meta,
			 const struct iolens__run_args *a)
{
	int shown = json_out.f != stdout && csv_out.f != stdout && hdr_out.f != stdout, failed = 0;
	struct iolens__store_run run = { .kind = "run", .label = a->store.label };
	char *table = iolens__table_show(res, n, a->notes ? IOLENS_TABLE_NOTES : 0,
					  shown ? stdout : NULL);

	errno = 0;
	if (json_out.f && iolens_json_document(json_out.f, meta, res, n))
		failed = iolens__output_abandon(&json_out);
	if (csv_out.f)
		iolens__csv_write(csv_out.f, res, n);
	errno = 0;
	if (hdr_out.f && iolens__hdrlog_write(hdr_out.f, meta, res, n))
		failed |= iolens__output_abandon(&hdr_out);
	/* Each on its own: a JSON that could not be written does not cost the CSV. */
	failed |= iolens__output_finish(&json_out);
	failed |= iolens__output_finish(&csv_out);
	failed |= iolens__output_finish(&hdr_out);
	run.table = table;
	iolens__store_save(&a->store, &run, meta, res, n, shown ? stdout : stderr);
	free(table);
	return failed;
}

/*
 * Every spec, --repeat times over: repeat r's results follow repeat r-1's,
 * so each backend's repeats are spread over the run. A stop ends the
 * repeats after the one it interrupted. 0 with *n results, or the error
 * of iolens_run_many (the results so far freed).
 */
static int run_repeats(struct iolens_target *t, const struct iolens__run_args *a,
		       struct iolens_result **out, size_t *n, char *err, size_t errlen)
{
	int r = 0;

	*n = 0;
	for (unsigned k = 0; k < a->repeat && !r && !(k && stop_flag); k++) {
		r = iolens_run_many(t, &a->w, (const char *const *)a->specs, a->nspecs, out + *n, err,
				    errlen);
		if (!r)
			*n += a->nspecs;
	}
	if (r) {
		for (size_t i = 0; i < *n; i++)
			iolens_result_free(out[i]);
		*n = 0;
	}
	return r;
}

int iolens__cli_run(int argc, char **argv, const char *cmdline)
{
	struct iolens_result *results[IOLENS__MAX_RESULTS];
	struct iolens__run_args a;
	struct iolens_target *t = NULL;
	struct iolens_meta meta;
	struct sigaction sa;
	char err[512];
	size_t nres = 0;
	int r, failed = 0, made;

	r = iolens__run_parse(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	r = iolens__output_open(&json_out, "--json", a.json);
	if (!r)
		r = iolens__output_open(&csv_out, "--csv", a.csv);
	if (!r)
		r = iolens__output_open(&hdr_out, "--hdr-log", a.hdr_log);
	if (!r && iolens__output_same(&json_out, &csv_out))
		r = iolens__usage("--json/--csv: both name '%s' (give each its own file)", a.csv);
	if (!r && hdr_out.f && ((json_out.f && iolens__output_same(&json_out, &hdr_out)) ||
				(csv_out.f && iolens__output_same(&csv_out, &hdr_out))))
		r = iolens__usage("--hdr-log: names the same file as --%s (give each its own file)",
				  json_out.f && iolens__output_same(&json_out, &hdr_out) ? "json" : "csv");
	if (r)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a.w.stop = &stop_flag;
	iolens_meta_collect(&meta, cmdline);
	made = a.w.file && !IOLENS_WL_IS_SOCKET(a.w.kind) && access(a.w.file, F_OK) && errno == ENOENT;
	r = iolens_target_open(&t, &a.w, err, sizeof(err));
	if (!r && made && !stop_flag)
		fprintf(stderr, "iolens: --file: made '%s' and laid out %llu bytes of it; it is kept\n",
			a.w.file, (unsigned long long)(a.w.size - a.w.size % a.w.bs));
	if (r == -EINTR || (!r && stop_flag)) {
		fprintf(stderr, "iolens: interrupted while preparing the %s\n",
			IOLENS_WL_IS_SOCKET(a.w.kind) ? "peer" : "file");
		nres = not_run(&a, results);
	} else if (r && is_usage_errno(r)) {
		r = iolens__usage("%s", err);
		goto out;
	} else if (r) {
		fprintf(stderr, "iolens: %s\n", err);
		r = 1;
		goto out;
	} else {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "iolens: running %zu backend%s...", a.nspecs,
				a.nspecs == 1 ? "" : "s");
		r = run_repeats(t, &a, results, &nres, err, sizeof(err));
		if (isatty(STDERR_FILENO))
			fputs("\r\033[K", stderr);
		if (r) {
			fprintf(stderr, "iolens: %s\n", r == -EINVAL ? err : iolens_strerror(r));
			r = r == -EINVAL ? 2 : 1;
			goto out;
		}
	}
	for (size_t i = 0; i < nres; i++)
		failed |= results[i]->status == IOLENS_STATUS_ERROR;
	meta.interrupted = stop_flag;
	failed |= write_outputs(results, nres, &meta, &a);
	for (size_t i = 0; i < nres; i++)
		iolens_result_free(results[i]);
	r = stop_flag ? 130 : failed;
out:
	iolens__output_discard(&json_out);
	iolens__output_discard(&csv_out);
	iolens__output_discard(&hdr_out);
	iolens_target_close(t);
	iolens__run_args_free(&a);
	return r;
}
