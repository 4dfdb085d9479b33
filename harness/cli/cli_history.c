/*
 * iolens history, show and export: the runs the results database holds,
 * one of them as the table it printed, and its JSON or CSV given back byte
 * for byte. All three only read the database.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_opts.h"
#include "cli_output.h"
#include "cli_store.h"
#include "cli_usage.h"
#include "store.h"

int iolens__store_open_reading(const char *db, struct iolens__store **s, char *path, size_t len)
{
	char err[1024];

	if (iolens__store_open_at(db, 1, s, path, len, err, sizeof(err))) {
		fprintf(stderr, "iolens: results database %s\n", err);
		return 1;
	}
	return 0;
}

/* A statement of the store, or NULL after saying why on stderr. */
static sqlite3_stmt *prepare(struct iolens__store *s, const char *sql)
{
	sqlite3 *db = iolens__store_db(s);
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
		return st;
	fprintf(stderr, "iolens: results database: %s\n", sqlite3_errmsg(db));
	return NULL;
}

int iolens__store_find_run(struct iolens__store *s, const char *opt, const char *arg,
			   long long *id)
{
	int is_id = arg[0] && strspn(arg, "0123456789") == strlen(arg);
	sqlite3_stmt *st = prepare(s, is_id ? "SELECT id FROM runs WHERE id = CAST(?1 AS INTEGER)"
					    : "SELECT max(id) FROM runs WHERE label = ?1");
	int found = 0;

	if (!st)
		return 1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*id = sqlite3_column_int64(st, 0);
		found = 1;
	}
	sqlite3_finalize(st);
	if (!found)
		return iolens__usage("%s: no run %s '%s' in the results database (see iolens history)",
				     opt, is_id ? "with id" : "labelled", arg);
	return 0;
}

/* --since: an ISO date or time, or a duration back from now (30m, 12h, 7d). */
static int parse_since(const char *arg, char *out, size_t len)
{
	struct tm tm;
	double secs;
	char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(arg, "%Y-%m-%d", &tm);
	if (end && (!*end || strptime(end, "T%H:%M:%SZ", &tm) == end + strlen(end))) {
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return 0;
	}
	if (arg[0] && arg[strlen(arg) - 1] == 'd') { /* days, which durations elsewhere never need */
		char num[32];

		snprintf(num, sizeof(num), "%.*s", (int)strlen(arg) - 1, arg);
		if (!iolens__parse_decimal(num, &secs))
			secs *= 86400;
		else
			secs = 0;
	} else if (iolens__parse_duration(arg, &secs)) {
		secs = 0;
	}
	if (secs > 0) {
		t = time(NULL) - (time_t)secs;
		gmtime_r(&t, &tm);
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return 0;
	}
	return iolens__usage("--since: '%s' is not a date or a duration (accepts 2026-12-01, "
			     "2026-12-01T08:00:00Z, or a duration back from now like 12h or 7d)", arg);
}

/* Columns 0-11 as listed; column 12 the same row as a JSON object (SQLite escapes it). */
static const char history_sql[] =
	"SELECT *, json_object('id', id, 'time', time, 'kind', kind, 'tool', tool, 'label', label,"
	" 'host', host, 'kernel', kernel, 'results', results, 'workloads', workloads,"
	" 'backends', backends, 'interrupted', json(CASE WHEN interrupted THEN 'true' ELSE 'false' END))"
	" FROM (SELECT r.id AS id, r.time AS time, r.kind AS kind, r.tool AS tool, r.label AS label,"
	" h.hostname AS host, h.kernel AS kernel, (SELECT count(*) FROM results x WHERE x.run_id = r.id)"
	" AS results,"
	" (SELECT group_concat(w, ',') FROM (SELECT DISTINCT workload AS w FROM results x"
	"   WHERE x.run_id = r.id)) AS workloads,"
	" (SELECT group_concat(b, ',') FROM (SELECT DISTINCT spec AS b FROM results x"
	"   WHERE x.run_id = r.id)) AS backends,"
	" r.interrupted AS interrupted, r.version AS version"
	" FROM runs AS r LEFT JOIN hosts AS h ON h.id = r.host_id"
	" WHERE (?1 IS NULL OR r.label = ?1)"
	" AND (?2 IS NULL OR EXISTS (SELECT 1 FROM results x WHERE x.run_id = r.id AND x.workload = ?2))"
	" AND (?3 IS NULL OR EXISTS (SELECT 1 FROM results x WHERE x.run_id = r.id"
	"      AND (x.backend = ?3 OR x.spec = ?3)))"
	" AND (?4 IS NULL OR h.hostname = ?4)"
	" AND (?5 IS NULL OR r.time >= ?5)"
	" ORDER BY r.id DESC LIMIT ?6)";

static const char *text(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return t ? t : "";
}

/* The selected runs, oldest first, as a table or (--json) an array of objects. */
static int list_runs(sqlite3_stmt *st, int json)
{
	char **lines = NULL;
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *line = NULL, **grown = realloc(lines, (n + 1) * sizeof(*lines));
		int ok;

		if (!grown)
			break;
		lines = grown;
		if (json)
			ok = (line = strdup(text(st, 12))) ? 0 : -1;
		else
			ok = asprintf(&line, "%5lld  %-20s  %-7s  %-16.16s  %-10.10s  %-18.18s  %4d  %s  %s%s",
				      sqlite3_column_int64(st, 0), text(st, 1),
				      strcmp(text(st, 3), "iolens") ? text(st, 3) : text(st, 2),
				      text(st, 4), text(st, 5), text(st, 6), sqlite3_column_int(st, 7),
				      text(st, 8), text(st, 9),
				      sqlite3_column_int(st, 10) ? " (interrupted)" : "");
		if (ok < 0)
			break;
		lines[n++] = line;
	}
	if (json)
		fputs("[", stdout);
	else if (n)
		printf("%5s  %-20s  %-7s  %-16s  %-10s  %-18s  %4s  %s\n", "run", "time (UTC)", "kind",
		       "label", "host", "kernel", "res", "workloads  backends");
	for (size_t i = n; i-- > 0;) {
		if (json)
			printf("%s%s", i + 1 < n ? ",\n " : "", lines[i]);
		else
			printf("%s\n", lines[i]);
		free(lines[i]);
	}
	if (json)
		fputs("]\n", stdout);
	else if (!n)
		printf("no runs match\n");
	free(lines);
	return rc == SQLITE_DONE ? 0 : 1;
}

static const char history_help[] =
	"Usage: iolens history [--label TEXT] [--workload W] [--backend B] [--host NAME]\n"
	"                      [--since WHEN] [--limit N] [--json] [--db PATH]\n"
	"The runs in the results database, oldest first (the latest --limit, default 50).\n"
	"  --since WHEN   a date (2026-12-01), a time (2026-12-01T08:00:00Z) or a\n"
	"                 duration back from now (12h, 7d)\n"
	"  --backend B    a backend name (io_uring) or spec (io_uring:sqpoll)\n";

int iolens__cli_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' }, { "workload", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' }, { "host", required_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' }, { "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' }, { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *f[4] = { NULL }, *db = NULL;
	char since[32] = "", path[4096];
	struct iolens__store *s;
	sqlite3_stmt *st;
	uint64_t limit = 50;
	int c, json = 0, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': f[0] = optarg; break;
		case 'w': f[1] = optarg; break;
		case 'b': f[2] = optarg; break;
		case 'H': f[3] = optarg; break;
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 's':
			if (parse_since(optarg, since, sizeof(since)))
				return 2;
			break;
		case 'n':
			if (iolens__parse_count(optarg, &limit) || !limit || limit > 1000000)
				return iolens__usage("--limit: '%s' (accepts a whole number 1 to 1000000)", optarg);
			break;
		case 'h':
			return fputs(history_help, stdout), 0;
		case ':':
			return iolens__usage("%s needs a value (see iolens history --help)", argv[optind - 1]);
		default:
			return iolens__usage("history: unknown option '%s' (see iolens history --help)",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return iolens__usage("history: unexpected argument '%s' (see iolens history --help)",
				     argv[optind]);
	if (iolens__store_open_reading(db, &s, path, sizeof(path)))
		return 1;
	st = prepare(s, history_sql);
	r = 1;
	if (st) {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(st, i + 1, f[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, since[0] ? since : NULL, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
		r = list_runs(st, json);
		sqlite3_finalize(st);
	}
	iolens__store_close(s);
	return r;
}

/* show and export: the one column of run id (NULL when the run has none). */
static char *run_column(struct iolens__store *s, long long id, const char *col)
{
	sqlite3_stmt *st;
	char *out = NULL, *sql;

	if (asprintf(&sql, "SELECT %s FROM runs WHERE id = ?1", col) < 0)
		return NULL;
	st = prepare(s, sql);
	free(sql);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* The one RUN argument of show and export, after their options. */
static int one_run(int argc, char **argv, const char *cmd, const char **arg)
{
	if (optind >= argc)
		return iolens__usage("%s: needs RUN (a run id or a label; see iolens history)", cmd);
	if (optind + 1 < argc)
		return iolens__usage("%s: unexpected argument '%s' (takes one RUN)", cmd, argv[optind + 1]);
	*arg = argv[optind];
	return 0;
}

static const char show_help[] =
	"Usage: iolens show RUN [--db PATH]\n"
	"A stored run as it printed: its table and verdict. RUN is a run id or a\n"
	"label (its latest run).\n";

int iolens__cli_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *arg = NULL;
	char path[4096], *head, *table;
	struct iolens__store *s;
	long long id;
	int c, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'd')
			db = optarg;
		else if (c == 'h')
			return fputs(show_help, stdout), 0;
		else if (c == ':')
			return iolens__usage("%s needs a value (see iolens show --help)", argv[optind - 1]);
		else
			return iolens__usage("show: unknown option '%s' (accepts --db PATH)", argv[optind - 1]);
	}
	if ((r = one_run(argc, argv, "show", &arg)))
		return r;
	if (iolens__store_open_reading(db, &s, path, sizeof(path)))
		return 1;
	r = iolens__store_find_run(s, "show", arg, &id);
	if (r) {
		iolens__store_close(s);
		return r;
	}
	head = run_column(s, id, "'run ' || id || ' of ' || time || ', ' || kind ||"
			  " coalesce(', label ' || label, '') || ', ' || tool || ' ' || coalesce(version, '') ||"
			  " coalesce(', on ' || (SELECT hostname || ' (' || kernel || ')' FROM hosts"
			  " WHERE hosts.id = host_id), '') || char(10) || coalesce(command_line, '')");
	table = run_column(s, id, "table_text");
	printf("%s\n\n%s", head ? head : "", table ? table : "(no table was printed: an import)\n");
	free(head);
	free(table);
	iolens__store_close(s);
	return 0;
}

static const char export_help[] =
	"Usage: iolens export RUN --json|--csv [--out FILE] [--db PATH]\n"
	"A stored run's results.json or results.csv as it was written, byte for\n"
	"byte, to stdout or FILE. RUN is a run id or a label (its latest run).\n";

int iolens__cli_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "csv", no_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' }, { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *arg = NULL, *out = "-", *col = NULL;
	struct iolens__output o = { 0 };
	struct iolens__store *s;
	char path[4096], *body;
	long long id;
	int c, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'j' || c == 'c') {
			if (col)
				return iolens__usage("export: --json and --csv: give one of them");
			col = c == 'j' ? "document" : "csv";
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'd') {
			db = optarg;
		} else if (c == 'h') {
			return fputs(export_help, stdout), 0;
		} else if (c == ':') {
			return iolens__usage("%s needs a value (see iolens export --help)", argv[optind - 1]);
		} else {
			return iolens__usage("export: unknown option '%s' (accepts --json, --csv, --out FILE, --db PATH)",
					     argv[optind - 1]);
		}
	}
	if ((r = one_run(argc, argv, "export", &arg)))
		return r;
	if (!col)
		return iolens__usage("export: needs --json or --csv (which file to give back)");
	if (iolens__store_open_reading(db, &s, path, sizeof(path)))
		return 1;
	r = iolens__store_find_run(s, "export", arg, &id);
	body = r ? NULL : run_column(s, id, col);
	iolens__store_close(s);
	if (!r && !body) {
		fprintf(stderr, "iolens: export: run %lld has no %s (an import keeps only the file it was)\n",
			id, col[0] == 'd' ? "JSON" : "CSV");
		return 1;
	}
	if (!r)
		r = iolens__output_open(&o, "--out", out);
	if (!r) {
		errno = 0;
		if (fputs(body, o.f) == EOF)
			r = iolens__output_abandon(&o);
		r |= iolens__output_finish(&o);
	}
	iolens__output_discard(&o);
	free(body);
	return r;
}
