/*
 * The iolens command: thin on purpose. It parses options, validates them
 * before anything touches the disk, runs the library, and writes the
 * formats asked for. Exit status: 0 ok, 1 a run failed, 2 bad usage,
 * 130 interrupted (output still written, marked interrupted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_compare.h"
#include "cli_demo.h"
#include "cli_output.h"
#include "cli_responder.h"
#include "cli_run.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

static volatile int stop_flag;
static struct iolens__output json_out, csv_out;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char main_help[] =
	"usage: iolens COMMAND [options]\n"
	"\n"
	"  iolens list         every backend, available or not, with its declared model\n"
	"  iolens doctor       what this machine lets iolens measure, and how to enable the rest\n"
	"  iolens run [opts]   run a workload on backends (iolens run --help)\n"
	"  iolens compare      the default comparison: disk and sockets, every backend\n"
	"  iolens demo         three lessons around real measurements (iolens demo --help)\n"
	"  iolens responder    serve echo, sink and source sockets (iolens responder --help)\n"
	"  iolens --version    print the version\n";

static int cmd_list(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);

	printf("%-10s %-10s %-32s %s\n", "backend", "available", "model (declared)", "notes");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %-10s %-32s %s\n", b[i].name, b[i].available ? "yes" : "no",
		       b[i].model, b[i].available ? b[i].summary : b[i].reason);
	return 0;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "unknown");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

static int cmd_doctor(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);
	struct iolens_machine m;
	char paranoid[32], aio_nr[32], aio_max[32], uring[32];
	const char *tracefs;
	int counters;

	iolens_machine_probe(&m);
	tracefs = m.tracefs[0] ? m.tracefs : NULL;
	counters = m.can_count;

	read_line("/proc/sys/kernel/perf_event_paranoid", paranoid, sizeof(paranoid));
	read_line("/proc/sys/fs/aio-nr", aio_nr, sizeof(aio_nr));
	read_line("/proc/sys/fs/aio-max-nr", aio_max, sizeof(aio_max));
	read_line("/proc/sys/kernel/io_uring_disabled", uring, sizeof(uring));
	printf("running as:           %s\n", geteuid() == 0 ? "root" : "an unprivileged user");
	printf("tracefs:              %s\n", tracefs ? tracefs : "not mounted, or not readable by this user");
	printf("perf_event_paranoid:  %s\n", paranoid);
	printf("syscall counters:     %s\n", counters ? "available (syscalls are counted)" : m.why_not);
	printf("io_uring_disabled:    %s\n", uring);
	printf("aio-nr / aio-max-nr:  %s / %s\n", aio_nr, aio_max);
	for (size_t i = 0; i < n; i++)
		printf("backend %-12s  %s%s\n", b[i].name, b[i].available ? "available" : "unavailable: ",
		       b[i].available ? "" : b[i].reason);
	printf("hardware counters:    not used (iolens counts syscalls with tracepoints only)\n");
	if (!counters) {
		printf("\nTo count syscalls:\n");
		if (!tracefs && geteuid() == 0)
			printf("  mount -t tracefs nodev /sys/kernel/tracing\n");
		if (geteuid() != 0)
			printf("  run iolens as root (tracefs event ids are readable by root only),\n"
			       "  or as root: sysctl -w kernel.perf_event_paranoid=-1 and make\n"
			       "  /sys/kernel/tracing/events readable to this user\n");
	}
	return 0;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	for (int i = 0; s && i < argc; i++) {
		strcat(s, argv[i]);
		if (i + 1 < argc)
			strcat(s, " ");
	}
	return s;
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
			 int notes)
{
	int failed = 0;

	if (json_out.f != stdout && csv_out.f != stdout)
		iolens_table(stdout, res, n, notes ? IOLENS_TABLE_NOTES : 0);
	errno = 0;
	if (json_out.f && iolens_json_document(json_out.f, meta, res, n))
		failed = iolens__output_abandon(&json_out);
	if (csv_out.f) {
		iolens_csv_header(csv_out.f);
		for (size_t i = 0; i < n; i++)
			iolens_csv_row(csv_out.f, res[i]);
	}
	/* Each on its own: a JSON that could not be written does not cost the CSV. */
	failed |= iolens__output_finish(&json_out);
	failed |= iolens__output_finish(&csv_out);
	return failed;
}

static int cmd_run(int argc, char **argv, char *cmdline)
{
	struct iolens_result *results[IOLENS__MAX_SPECS];
	struct iolens__run_args a;
	struct iolens_target *t = NULL;
	struct iolens_meta meta;
	struct sigaction sa;
	char err[512];
	size_t nres = 0;
	int r, failed = 0;

	r = iolens__run_parse(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	r = iolens__output_open(&json_out, "--json", a.json);
	if (!r)
		r = iolens__output_open(&csv_out, "--csv", a.csv);
	if (!r && iolens__output_same(&json_out, &csv_out))
		r = iolens__usage("--json/--csv: both name '%s' (give each its own file)", a.csv);
	if (r)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a.w.stop = &stop_flag;
	iolens_meta_collect(&meta, cmdline);
	r = iolens_target_open(&t, &a.w, err, sizeof(err));
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
		r = iolens_run_many(t, &a.w, (const char *const *)a.specs, a.nspecs, results, err,
				    sizeof(err));
		if (isatty(STDERR_FILENO))
			fputs("\r\033[K", stderr);
		if (r) {
			fprintf(stderr, "iolens: %s\n", r == -EINVAL ? err : iolens_strerror(r));
			r = r == -EINVAL ? 2 : 1;
			goto out;
		}
		nres = a.nspecs;
	}
	for (size_t i = 0; i < nres; i++)
		failed |= results[i]->status == IOLENS_STATUS_ERROR;
	meta.interrupted = stop_flag;
	failed |= write_outputs(results, nres, &meta, a.notes);
	for (size_t i = 0; i < nres; i++)
		iolens_result_free(results[i]);
	r = stop_flag ? 130 : failed;
out:
	iolens__output_discard(&json_out);
	iolens__output_discard(&csv_out);
	iolens_target_close(t);
	iolens__run_args_free(&a);
	return r;
}

/* A command that takes no arguments: 0 when there are none, else the usage status. */
static int no_arguments(int argc, char **argv)
{
	if (argc > 2)
		return iolens__usage("%s: unexpected argument '%s' (it takes none)", argv[1], argv[2]);
	return 0;
}

int main(int argc, char **argv)
{
	char *cmdline;
	int r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(main_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error to report, not a kill */
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		if ((r = no_arguments(argc, argv)))
			return r;
		printf("iolens %s\n", iolens_version());
		return 0;
	}
	if (!strcmp(argv[1], "list"))
		return no_arguments(argc, argv) ? 2 : cmd_list();
	if (!strcmp(argv[1], "doctor"))
		return no_arguments(argc, argv) ? 2 : cmd_doctor();
	if (!strcmp(argv[1], "responder"))
		return iolens__cli_responder(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare")) {
		cmdline = join_args(argc, argv);
		r = iolens__cli_compare(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (!strcmp(argv[1], "demo")) {
		cmdline = join_args(argc, argv);
		r = iolens__cli_demo(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (strcmp(argv[1], "run") != 0) {
		return iolens__usage("unknown command '%s' (accepts list, doctor, run, compare, demo, responder; see iolens --help)",
				     argv[1]);
	}
	cmdline = join_args(argc, argv);
	r = cmd_run(argc - 1, argv + 1, cmdline);
	free(cmdline);
	return r;
}
