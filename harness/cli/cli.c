/*
 * The iolens command: thin on purpose, and on the public API only. main
 * hands each subcommand to its own file (cli_run_cmd.c, cli_compare.c,
 * cli_demo.c, cli_responder.c, cli_doctor.c, cli_list.c, cli_history.c,
 * cli_diff.c). Exit status: 0
 * ok, 1 a run failed, 2 bad usage, 130 interrupted (output still written,
 * marked interrupted).
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
#include "cli_doctor.h"
#include "cli_import.h"
#include "cli_list.h"
#include "cli_responder.h"
#include "cli_run.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

static const char main_help[] =
	"usage: iolens COMMAND [options]\n"
	"\n"
	"  iolens list         every backend, available or not, with its declared model\n"
	"  iolens doctor       what this machine lets iolens measure, and how to enable the rest\n"
	"  iolens run [opts]   run a workload on backends (iolens run --help)\n"
	"  iolens fio FILE     run the jobs of a fio job file: iolens run --fio-job FILE\n"
	"  iolens compare      the default comparison: disk and sockets, every backend\n"
	"  iolens demo         five lessons around real measurements (iolens demo --help)\n"
	"  iolens responder    serve echo, sink and source sockets (iolens responder --help)\n"
	"  iolens history      the runs recorded in the results database\n"
	"  iolens show RUN     a recorded run as it printed\n"
	"  iolens export RUN   a recorded run's JSON or CSV, as written\n"
	"  iolens diff A B     what changed between two runs, labels or JSON files, and\n"
	"                      whether it is significant (iolens diff --help)\n"
	"  iolens import FILE  record fio's JSON output in the results database\n"
	"  iolens --version    print the version\n";

/*
 * iolens fio FILE [options]: iolens run --fio-job FILE [options], the
 * command line recorded as typed.
 */
static int fio_command(int argc, char **argv)
{
	char **args, *cmdline;
	int r;

	if (argc < 3)
		return iolens__usage("fio: needs a job file (iolens fio FILE [iolens run options])");
	if (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
		fputs(iolens__run_help, stdout);
		return 0;
	}
	args = calloc((size_t)argc + 2, sizeof(*args));
	cmdline = iolens__join_args(argc, argv);
	if (!args || !cmdline) {
		free(args);
		free(cmdline);
		return iolens__usage("out of memory");
	}
	args[0] = "run";
	args[1] = "--fio-job";
	for (int i = 2; i < argc; i++)
		args[i] = argv[i];
	r = iolens__cli_run(argc, args, cmdline);
	free(args);
	free(cmdline);
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
		return no_arguments(argc, argv) ? 2 : iolens__cli_list();
	if (!strcmp(argv[1], "doctor"))
		return no_arguments(argc, argv) ? 2 : iolens__cli_doctor();
	if (!strcmp(argv[1], "responder"))
		return iolens__cli_responder(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare")) {
		cmdline = iolens__join_args(argc, argv);
		r = iolens__cli_compare(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (!strcmp(argv[1], "demo")) {
		cmdline = iolens__join_args(argc, argv);
		r = iolens__cli_demo(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (!strcmp(argv[1], "history"))
		return iolens__cli_history(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return iolens__cli_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return iolens__cli_export(argc - 1, argv + 1);
	if (!strcmp(argv[1], "diff"))
		return iolens__cli_diff(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import")) {
		cmdline = iolens__join_args(argc, argv);
		r = iolens__cli_import(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (!strcmp(argv[1], "fio"))
		return fio_command(argc, argv);
	if (strcmp(argv[1], "run") != 0) {
		return iolens__usage("unknown command '%s' (accepts list, doctor, run, fio, compare, demo, responder, history, show, export, diff, import; see iolens --help)",
				     argv[1]);
	}
	cmdline = iolens__join_args(argc, argv);
	r = iolens__cli_run(argc - 1, argv + 1, cmdline);
	free(cmdline);
	return r;
}
