/*
 * iolens import: fio's JSON output recorded in the results database as a
 * run of tool fio, so that history, show, export and diff hold fio's
 * figures beside iolens's. The file is checked whole before the store is
 * opened: a file that is not fio's JSON records nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_import.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "import_fio.h"
#include "iolens/iolens.h"
#include "store.h"

#define MAX_FILE (1ull << 30) /* a json+ file of many jobs is megabytes; a GiB is not fio's */

static const char help[] =
	"usage: iolens import FILE [--label TEXT] [--db PATH]\n"
	"\n"
	"Records fio's JSON output (fio --output-format=json or json+; FILE - reads\n"
	"stdin) in the results database as a run of tool fio: one result per job,\n"
	"its workload in iolens's terms, so iolens diff pairs it with iolens's\n"
	"results of the same workload, and with json+ its latency histogram. The\n"
	"file is kept as it is (iolens export RUN --json gives it back).\n"
	"\n"
	"  --label TEXT   name the run in the database, for history and diff\n"
	"  --db PATH      the results database (default $IOLENS_DB, else\n"
	"                 $XDG_DATA_HOME/iolens/results.db)\n"
	"\n"
	"Exit status: 0 recorded, 1 the database could not record it, 2 bad usage\n"
	"or a file that is not fio's JSON (nothing is recorded).\n";

/* The whole of path ("-": stdin) as a string, or NULL with the reason in err. */
static char *slurp(const char *path, char *err, size_t errlen)
{
	int own = strcmp(path, "-") != 0;
	int fd = own ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t len = 0, cap = 1 << 16;
	char *buf = NULL, *more;
	struct stat st;
	ssize_t got = 1;

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "is a directory (accepts a file of fio's JSON output)");
		goto fail;
	}
	while (got > 0) {
		if (len + 1 >= cap || !buf) {
			cap = buf ? 2 * cap : cap;
			more = cap > MAX_FILE ? NULL : realloc(buf, cap);
			if (!more) {
				snprintf(err, errlen, "%s", cap > MAX_FILE ? "larger than 1 GiB: not fio's JSON output"
									   : "out of memory");
				goto fail;
			}
			buf = more;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			got = 1;
		else if (got < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto fail;
		} else
			len += (size_t)got;
	}
	buf[len] = '\0';
	if (own)
		close(fd);
	if (strlen(buf) != len) {
		snprintf(err, errlen, "not JSON (it holds a NUL byte)");
		free(buf);
		return NULL;
	}
	return buf;
fail:
	if (own && fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Record doc at the store a names; 0, or 1 after saying why on stderr. */
static int record(const struct iolens__store_args *a, const struct iolens__fio_info *info,
		  const char *doc, const char *file, const char *cmdline)
{
	struct iolens__store_run run = { .kind = "import", .label = a->label, .tool = "fio",
					 .version = info->version[0] ? info->version : "fio",
					 .results_sql = iolens__fio_results_sql };
	struct iolens__store *s;
	struct iolens_meta meta;
	char path[4096], err[1024];
	long long id = 0;
	int e = iolens__store_path(a, path, sizeof(path));

	if (e) {
		fprintf(stderr, "iolens: results database: %s (set IOLENS_DB or give --db); nothing recorded\n",
			e == -ENOENT ? "no HOME to put it under" : "its path is too long");
		return 1;
	}
	iolens_meta_collect(&meta, cmdline);
	if (info->time[0])
		snprintf(meta.start_time, sizeof(meta.start_time), "%s", info->time);
	e = iolens__store_open(&s, path, 0, err, sizeof(err));
	if (!e) {
		if (iolens__fio_functions(iolens__store_db(s)) != 0) {
			snprintf(err, sizeof(err), "%.900s: out of memory", path);
			e = -ENOMEM;
		} else {
			e = iolens__store_record_text(s, &run, &meta, doc, NULL, &id, err, sizeof(err));
		}
		iolens__store_close(s);
	}
	if (e) {
		fprintf(stderr, "iolens: results database %s; nothing recorded\n", err);
		return 1;
	}
	printf("recorded: run %lld in %s (%zu job%s from %s)\n", id, path, info->njobs,
	       info->njobs == 1 ? "" : "s", file);
	return 0;
}

int iolens__cli_import(int argc, char **argv, const char *cmdline)
{
	enum { OPT_LABEL = 256, OPT_DB, OPT_NO_DB };
	static const struct option longopts[] = {
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "db", required_argument, NULL, OPT_DB },
		{ "no-db", no_argument, NULL, OPT_NO_DB },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct iolens__store_args a = { 0 };
	struct iolens__fio_info info;
	char err[1024];
	const char *file;
	char *text;
	int c, r;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help, stdout);
			return 0;
		case OPT_LABEL:
			if ((r = iolens__store_check_label(optarg)))
				return r;
			a.label = optarg;
			break;
		case OPT_DB:
			if (!*optarg)
				return iolens__usage("--db: empty (accepts a file path)");
			a.db = optarg;
			break;
		case OPT_NO_DB:
			return iolens__usage("--no-db: not accepted by import (recording is all it does)");
		case ':':
			return iolens__usage("%s: needs a value (see iolens import --help)", argv[optind - 1]);
		default:
			return iolens__usage("import: unknown option '%s' (accepts --label, --db; see iolens import --help)",
					     argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return iolens__usage("import: no FILE given (accepts a file of fio's JSON output, or - for stdin)");
	if (optind + 1 < argc)
		return iolens__usage("import: unexpected argument '%s' (it takes one FILE)", argv[optind + 1]);
	file = argv[optind];
	text = slurp(file, err, sizeof(err));
	if (!text)
		return iolens__usage("%s: %s", file, err);
	if (iolens__fio_check(text, &info, err, sizeof(err))) {
		free(text);
		return iolens__usage("%s: %s", file, err);
	}
	r = record(&a, &info, text + info.json_at, file, cmdline);
	free(text);
	return r;
}
