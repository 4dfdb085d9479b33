/*
 * iolens run: the options parsed and checked (cli_run.c) before anything is
 * opened, the target opened, the library run on every spec, and the table,
 * JSON and CSV written, even when the run was interrupted (marked so).
 * With --fio-job the workloads are a job file's (cli_fio.h), all mapped and
 * checked first, then run one after the other, each on a target of its own,
 * into one set of outputs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fio.h"
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
static size_t not_run(const struct iolens_workload *w, char *const *specs, size_t nspecs,
		      const char *why, struct iolens_result **out)
{
	size_t n = 0;

	for (size_t i = 0; i < nspecs; i++) {
		if (iolens_result_not_run(specs[i], w, -EINTR, why, &out[n]))
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

/*
 * The tables of a job file's run: one per job, under a line naming the
 * job, in the order they ran. The text as printed, or NULL.
 */
static char *fio_tables(struct iolens_result **res, size_t n, const struct iolens__fio_plan *p,
			unsigned flags, FILE *show)
{
	char *text = NULL, heading[4400];
	size_t len, at = 0;
	FILE *f = open_memstream(&text, &len);

	for (size_t i = 0; f && i < p->njobs && at < n; i++) {
		size_t k = p->jobs[i].nresults < n - at ? p->jobs[i].nresults : n - at;
		char *table;

		iolens__fio_heading(p, &p->jobs[i], heading, sizeof(heading));
		fprintf(f, "%s%s\n", i ? "\n" : "", heading);
		table = iolens__table_show(res + at, k, flags, NULL);
		fputs(table ? table : "", f);
		free(table);
		at += k;
	}
	if (f && fclose(f)) {
		free(text);
		text = NULL;
	}
	if (show && text)
		fputs(text, show);
	return text;
}

/* Write the table and the files; 1 when any of them failed (said on stderr). */
static int write_outputs(struct iolens_result **res, size_t n, const struct iolens_meta *meta,
			 const struct iolens__run_args *a, const struct iolens__fio_plan *plan)
{
	int shown = json_out.f != stdout && csv_out.f != stdout && hdr_out.f != stdout, failed = 0;
	struct iolens__store_run run = { .kind = "run", .label = a->store.label };
	unsigned flags = a->notes ? IOLENS_TABLE_NOTES : 0;
	char *table = plan ? fio_tables(res, n, plan, flags, shown ? stdout : NULL)
			   : iolens__table_show(res, n, flags, shown ? stdout : NULL);

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
static int run_repeats(struct iolens_target *t, const struct iolens_workload *w,
		       char *const *specs, size_t nspecs, unsigned repeat,
		       struct iolens_result **out, size_t *n, char *err, size_t errlen)
{
	int r = 0;

	*n = 0;
	for (unsigned k = 0; k < repeat && !r && !(k && stop_flag); k++) {
		r = iolens_run_many(t, w, (const char *const *)specs, nspecs, out + *n, err, errlen);
		if (!r)
			*n += nspecs;
	}
	if (r) {
		for (size_t i = 0; i < *n; i++)
			iolens_result_free(out[i]);
		*n = 0;
	}
	return r;
}

/*
 * One workload on its specs, --repeat times, on a target of its own; its
 * results after the *n in out. 0 (a stop before the file was ready gives
 * results that did not run), or 1 or 2 after the error was said, the
 * message led by `what` (the fio job, or "").
 */
static int run_workload(const struct iolens__run_args *a, const struct iolens_workload *w,
			char *const *specs, size_t nspecs, const char *what,
			struct iolens_result **out, size_t *n)
{
	struct iolens_target *t = NULL;
	char err[512];
	size_t got = 0;
	int made = w->file && w->create && access(w->file, F_OK) && errno == ENOENT;
	int r = iolens_target_open(&t, w, err, sizeof(err));

	if (!r && made && !stop_flag)
		fprintf(stderr, "iolens: %s--file: made '%s' and laid out %llu bytes of it; it is kept\n",
			what, w->file, (unsigned long long)(w->size - w->size % w->bs));
	if (r == -EINTR || (!r && stop_flag)) {
		fprintf(stderr, "iolens: %sinterrupted while preparing the %s\n", what,
			IOLENS_WL_IS_SOCKET(w->kind) ? "peer" : "file");
		*n += not_run(w, specs, nspecs, "interrupted while the file was being prepared", out + *n);
		r = 0;
	} else if (r && is_usage_errno(r)) {
		r = iolens__usage("%s%s", what, err);
	} else if (r) {
		fprintf(stderr, "iolens: %s%s\n", what, err);
		r = 1;
	} else {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "iolens: %srunning %zu backend%s...", what, nspecs,
				nspecs == 1 ? "" : "s");
		r = run_repeats(t, w, specs, nspecs, a->repeat, out + *n, &got, err, sizeof(err));
		if (isatty(STDERR_FILENO))
			fputs("\r\033[K", stderr);
		if (r) {
			fprintf(stderr, "iolens: %s%s\n", what, r == -EINVAL ? err : iolens_strerror(r));
			r = r == -EINVAL ? 2 : 1;
		}
		*n += got;
	}
	iolens_target_close(t);
	return r;
}

/*
 * A job file's jobs one after the other, in its order. A job with a
 * directory and no filename has its temporary file made there: TMPDIR is
 * where the library makes it, and only this thread runs while it does.
 * Jobs a stop kept from starting are results that did not run.
 */
static int run_fio(const struct iolens__run_args *a, struct iolens__fio_plan *p,
		   struct iolens_result **out, size_t *n)
{
	char what[4400], *tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	int r = 0;

	for (size_t i = 0; i < p->njobs && !r; i++) {
		struct iolens__fio_job *j = &p->jobs[i];
		size_t before = *n;

		if (stop_flag) {
			*n += not_run(&j->w, j->use_specs, j->nspecs,
				      "interrupted before this job started", out + *n);
			j->nresults = *n - before;
			continue;
		}
		j->w.stop = &stop_flag;
		snprintf(what, sizeof(what), "%s [%s]: ", p->path, j->section);
		if (j->tmpdir)
			setenv("TMPDIR", j->tmpdir, 1);
		r = run_workload(a, &j->w, j->use_specs, j->nspecs, what, out, n);
		if (j->tmpdir && tmpdir)
			setenv("TMPDIR", tmpdir, 1);
		else if (j->tmpdir)
			unsetenv("TMPDIR");
		j->nresults = *n - before;
	}
	free(tmpdir);
	return r;
}

int iolens__cli_run(int argc, char **argv, const char *cmdline)
{
	struct iolens_result *results[IOLENS__MAX_RESULTS];
	struct iolens__fio_plan plan = { 0 };
	struct iolens__run_args a;
	struct iolens_meta meta;
	struct sigaction sa;
	size_t nres = 0;
	int r, failed = 0;

	r = iolens__run_parse(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	/* Every job of the file mapped and checked before any output is opened. */
	if (a.fio_job && (r = iolens__fio_plan(&a, &plan))) {
		iolens__fio_plan_free(&plan);
		iolens__run_args_free(&a);
		return r;
	}
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
	if (a.fio_job)
		r = run_fio(&a, &plan, results, &nres);
	else
		r = run_workload(&a, &a.w, a.specs, a.nspecs, "", results, &nres);
	if (r)
		goto out;
	for (size_t i = 0; i < nres; i++)
		failed |= results[i]->status == IOLENS_STATUS_ERROR;
	meta.interrupted = stop_flag;
	failed |= write_outputs(results, nres, &meta, &a, a.fio_job ? &plan : NULL);
	r = stop_flag ? 130 : failed;
out:
	for (size_t i = 0; i < nres; i++)
		iolens_result_free(results[i]);
	iolens__output_discard(&json_out);
	iolens__output_discard(&csv_out);
	iolens__output_discard(&hdr_out);
	iolens__fio_plan_free(&plan);
	iolens__run_args_free(&a);
	return r;
}
