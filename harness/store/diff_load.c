/*
 * diff's two sides in one in-memory database. A JSON file is
 * recorded into it as a run would be (its host from the file's meta); run
 * ids and labels are read from the results database, attached. Every result
 * lands in temp.rows with its side, then rows are grouped on the pair hash
 * (--strict: the comparison hash) and the environment and parameter
 * differences are listed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diff.h"
#include "host.h"
#include "iolens/iolens.h"
#include "store.h"

#define MAX_FILE (512u << 20)

static const char rows_ddl[] =
	"CREATE TEMP TABLE rows (side INTEGER, run_id INTEGER, tool TEXT, version TEXT, spec TEXT,"
	" workload TEXT, params TEXT, pair_hash TEXT, chash TEXT, status TEXT, iops REAL, p50 REAL,"
	" p99 REAL, cpu REAL, sc REAL, env TEXT, gkey TEXT)";

/* Each result of the runs chosen in schema %s (main or store): ?1 side, ?2 run id, ?3 label. */
static const char rows_sql[] =
	"INSERT INTO temp.rows (side, run_id, tool, version, spec, workload, params, pair_hash, chash,"
	" status, iops, p50, p99, cpu, sc, env) SELECT ?1, r.id, r.tool, r.version, x.spec, x.workload, x.params,"
	" x.pair_hash, x.comparison_hash,"
	" CASE WHEN r.interrupted THEN 'interrupted' ELSE x.status END, x.iops, x.p50_ns, x.p99_ns, x.cpu_per_op_ns,"
	" x.syscalls_per_op, (SELECT json_object('host', h.hostname, 'kernel', h.kernel,"
	"  'CPU', h.cpu_model, 'cores', h.cores, 'SMT', h.smt, 'governor', h.governor,"
	"  'mitigations', h.mitigations, 'memory KiB', h.mem_kib, 'cpuset', h.cpuset,"
	"  'cgroup', h.cgroup, 'liburing', h.liburing, 'glibc', h.glibc,"
	"  'io_uring features', h.uring_features, 'tool', r.tool, 'version', r.version)"
	"  FROM %s.hosts AS h WHERE h.id = r.host_id)"
	" FROM %s.runs AS r JOIN %s.results AS x ON x.run_id = r.id"
	" WHERE r.id = ?2 OR r.label = ?3 ORDER BY r.id, x.idx";

/* The one-line reason a side cannot be read, for the command to print as a usage error: 2. */
static int said(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int said(struct diff *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return 2;
}

static sqlite3 *db_of(struct diff *d)
{
	return iolens__store_db(d->mem);
}

/* The file's whole text, NUL-terminated, or NULL with errno. */
static char *slurp(const char *path)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	char *buf = NULL;

	if (!f)
		return NULL;
	if (!fstat(fileno(f), &st) && (uint64_t)st.st_size <= MAX_FILE &&
	    (buf = malloc((size_t)st.st_size + 1))) {
		size_t got = fread(buf, 1, (size_t)st.st_size, f);

		buf[got] = '\0';
		if (got != (size_t)st.st_size || strlen(buf) != got) {
			free(buf);
			buf = NULL;
			errno = EINVAL;
		}
	} else if (!buf) {
		errno = errno ? errno : EFBIG;
	}
	fclose(f);
	return buf;
}

/* The text of column i of a meta row into out ("" for NULL). */
static void col(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

/*
 * Record an iolens JSON document into the in-memory store, its host from its
 * meta. 0 with *id, or 2 after the usage error.
 */
static int load_file(struct diff *d, int side, long long *id)
{
	const char *path = d->side[side].arg;
	static const char meta_sql[] =
		"SELECT json_valid(?1), json_extract(?1, '$.schema'), json_type(?1, '$.\"fio version\"'),"
		" json_extract(?1, '$.meta.start_time'), json_extract(?1, '$.meta.kernel'),"
		" json_extract(?1, '$.meta.cpu_model'), json_extract(?1, '$.meta.cores'),"
		" json_extract(?1, '$.meta.hostname'), json_extract(?1, '$.meta.command_line'),"
		" json_extract(?1, '$.meta.interrupted'), json_extract(?1, '$.meta.iolens_version'),"
		" json_extract(?1, '$.meta.liburing_version')";
	struct iolens__store_run run = { .kind = "file", .tool = "iolens" };
	struct iolens_meta meta;
	struct iolens__host h;
	char version[32], cmd[4096], err[1024];
	sqlite3_stmt *st = NULL;
	char *doc = slurp(path);
	int r = 2, valid = 0, fio = 0;

	if (!doc)
		return said(d, "'%s': %s (accepts a run id, a label, or an iolens JSON file)",
				     path, strerror(errno));
	memset(&meta, 0, sizeof(meta));
	memset(&h, 0, sizeof(h));
	if (sqlite3_prepare_v2(db_of(d), meta_sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *schema = sqlite3_column_text(st, 1);

		valid = sqlite3_column_int(st, 0) && schema && !strcmp((const char *)schema, "iolens/1");
		fio = sqlite3_column_type(st, 2) != SQLITE_NULL;
		col(st, 3, meta.start_time, sizeof(meta.start_time));
		col(st, 4, h.kernel, sizeof(h.kernel));
		col(st, 5, h.cpu_model, sizeof(h.cpu_model));
		h.cores = (unsigned)sqlite3_column_int(st, 6);
		col(st, 7, h.hostname, sizeof(h.hostname));
		col(st, 8, cmd, sizeof(cmd));
		meta.interrupted = sqlite3_column_int(st, 9);
		col(st, 10, version, sizeof(version));
		col(st, 11, h.liburing, sizeof(h.liburing));
	}
	sqlite3_finalize(st);
	if (!valid) {
		r = said(d, "'%s' is not an iolens results file (schema iolens/1)%s", path,
				  fio ? ": it is fio's; record it with iolens import, then diff its run id" : "");
		goto out;
	}
	meta.command_line = cmd;
	run.version = version;
	run.host = &h;
	if (iolens__store_record_text(d->mem, &run, &meta, doc, NULL, id, err, sizeof(err))) {
		r = said(d, "'%s': %s", path, err);
		goto out;
	}
	r = 0;
out:
	free(doc);
	return r;
}

/* Attach the results database as "store" once, for run ids and labels. */
static int attach_store(struct diff *d, const char *dbpath, const char *arg, int *attached)
{
	struct iolens__store *s;
	char path[4096];
	sqlite3_stmt *st;
	int rc;

	if (*attached)
		return 0;
	if (!iolens__store_path(&(struct iolens__store_args){ .db = dbpath }, path, sizeof(path)) &&
	    access(path, F_OK))
		return said(d, "'%s' is no file, and there is no results database (%s) to "
				     "find it in as a run id or label", arg, path);
	/* Opened once on its own: a missing, foreign, corrupt or newer file is refused here. */
	if (iolens__store_open_at(dbpath, 1, &s, path, sizeof(path), d->err, sizeof(d->err)))
		return 1;
	iolens__store_close(s);
	rc = sqlite3_prepare_v2(db_of(d), "ATTACH DATABASE ?1 AS store", -1, &st, NULL);
	if (rc == SQLITE_OK)
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC), rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(d->err, sizeof(d->err), "%.512s: %s", path, sqlite3_errmsg(db_of(d)));
		return 1;
	}
	*attached = 1;
	return 0;
}

/* Copy side's results into temp.rows from schema (main or store), by run id or label. */
static int take_rows(struct diff *d, int side, const char *schema, long long id, const char *label)
{
	char sql[sizeof(rows_sql) + 32];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), rows_sql, schema, schema, schema);
	rc = sqlite3_prepare_v2(db_of(d), sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, side);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(d->err, sizeof(d->err), "%s", sqlite3_errmsg(db_of(d)));
		return 1;
	}
	return 0;
}

/* "run 12", "label base (runs 3-7, 5 runs)", "file a.json": from what side holds. */
static void describe(struct diff *d, int side, int is_file, int is_id)
{
	struct diff_side *s = &d->side[side];
	sqlite3_stmt *st;
	long long runs = 0, lo = 0, hi = 0;

	if (sqlite3_prepare_v2(db_of(d), "SELECT count(DISTINCT run_id), min(run_id), max(run_id),"
			       " sum(status = 'ok'), sum(status = 'interrupted') FROM temp.rows"
			       " WHERE side = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, side);
		if (sqlite3_step(st) == SQLITE_ROW) {
			runs = sqlite3_column_int64(st, 0);
			lo = sqlite3_column_int64(st, 1);
			hi = sqlite3_column_int64(st, 2);
			s->results = (size_t)sqlite3_column_int64(st, 3);
			s->interrupted = (size_t)sqlite3_column_int64(st, 4);
		}
	}
	sqlite3_finalize(st);
	if (is_file)
		snprintf(s->what, sizeof(s->what), "file %s", s->arg);
	else if (is_id)
		snprintf(s->what, sizeof(s->what), "run %s", s->arg);
	else if (runs == 1)
		snprintf(s->what, sizeof(s->what), "label %s (run %lld)", s->arg, lo);
	else
		snprintf(s->what, sizeof(s->what), "label %s (%lld runs, %lld to %lld)", s->arg, runs,
			 lo, hi);
}

static int load_side(struct diff *d, int side, const char *dbpath, int *attached)
{
	const char *arg = d->side[side].arg;
	int is_id = arg[0] && strspn(arg, "0123456789") == strlen(arg);
	struct stat st;
	long long id = -1;
	int r, n;

	if (!stat(arg, &st) && S_ISREG(st.st_mode)) {
		r = load_file(d, side, &id);
		if (!r)
			r = take_rows(d, side, "main", id, NULL);
		describe(d, side, 1, 0);
		return r;
	}
	if (!*arg)
		return said(d, "an empty argument (accepts a run id, a label, or an iolens JSON file)");
	if ((r = attach_store(d, dbpath, arg, attached)))
		return r;
	r = take_rows(d, side, "store", is_id ? strtoll(arg, NULL, 10) : -1, is_id ? NULL : arg);
	if (r)
		return r;
	describe(d, side, 0, is_id);
	n = sqlite3_changes(db_of(d));
	if (!n)
		return said(d, "no %s '%s' in the results database, and no such file "
				     "(accepts a run id, a label, or an iolens JSON file; see iolens history)",
				     is_id ? "run with id" : "run labelled", arg);
	return 0;
}

/* Append a copy of line to a list of lines, unless it is there already. */
static void add_line(char ***list, size_t *n, const char *line)
{
	char **grown;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], line))
			return;
	grown = realloc(*list, (*n + 1) * sizeof(**list));
	if (!grown)
		return;
	*list = grown;
	if (((*list)[*n] = strdup(line)))
		(*n)++;
}

/*
 * One parameter difference and a pair it holds for. While gathering, an
 * entry is "line\t; pair; pair; ": finish_diffs() makes it the line with
 * its pairs in brackets, or "(every pair)".
 */
static void add_diff(char ***list, size_t *n, const char *line, const char *pair)
{
	size_t len = strlen(line);
	char *entry, **grown, *mark;

	if (asprintf(&mark, "; %s; ", pair) < 0)
		return;
	for (size_t i = 0; i < *n; i++) {
		char *have = (*list)[i];

		if (strncmp(have, line, len) || have[len] != '\t')
			continue;
		if (!strstr(have + len, mark) && asprintf(&entry, "%s%s", have, mark + 2) >= 0) {
			free(have);
			(*list)[i] = entry;
		}
		free(mark);
		return;
	}
	grown = realloc(*list, (*n + 1) * sizeof(**list));
	if (grown && asprintf(&entry, "%s\t%s", line, mark) >= 0) {
		*list = grown;
		(*list)[(*n)++] = entry;
	} else if (grown) {
		*list = grown;
	}
	free(mark);
}

/* Each gathered difference as "line (pair; pair)", or "line (every pair)". */
static void finish_diffs(struct diff *d, size_t pairs)
{
	for (size_t i = 0; i < d->npar; i++) {
		char *tab = strchr(d->par[i], '\t'), *done, *list;
		size_t count = 0;

		if (!tab)
			continue;
		*tab = '\0';
		list = tab + 3; /* past "\t; " */
		for (char *p = list; (p = strstr(p, "; ")); p += 2)
			count++;
		list[strlen(list) - 2] = '\0';
		if ((count == pairs ? asprintf(&done, "%s (every pair)", d->par[i])
				    : asprintf(&done, "%s (%s)", d->par[i], list)) >= 0) {
			free(d->par[i]);
			d->par[i] = done;
		}
	}
}

/*
 * "kernel: 6.1.0 -> 6.18.4" for every environment key whose values differ,
 * and one line naming the keys a side does not know (a JSON file records
 * only its meta): those are not differences, and not sameness either.
 */
static void env_lines(struct diff *d)
{
	static const char sql[] =
		"WITH e AS (SELECT DISTINCT side, j.key AS k, CAST(j.value AS TEXT) AS v"
		"  FROM temp.rows, json_each(temp.rows.env) AS j WHERE j.value IS NOT NULL),"
		" s AS (SELECT side, k, group_concat(v, ', ') AS vs FROM (SELECT * FROM e ORDER BY v)"
		"  GROUP BY side, k),"
		" keys AS (SELECT DISTINCT j.key AS k FROM temp.rows, json_each(temp.rows.env) AS j)"
		" SELECT a.k || ': ' || a.vs || ' -> ' || b.vs FROM s AS a JOIN s AS b"
		"  ON a.k = b.k AND a.side = 0 AND b.side = 1 WHERE a.vs <> b.vs"
		" UNION ALL"
		" SELECT 'not recorded for ' || CASE side WHEN 0 THEN 'base' ELSE 'new' END || ': ' ||"
		"  group_concat(k, ', ') FROM (SELECT sd.side, keys.k FROM (SELECT 0 AS side UNION"
		"  SELECT 1) AS sd, keys WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.side = sd.side"
		"  AND s.k = keys.k) AND EXISTS (SELECT 1 FROM s WHERE s.side <> sd.side"
		"  AND s.k = keys.k) ORDER BY keys.k) GROUP BY side";
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db_of(d), sql, -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		add_line(&d->env, &d->nenv, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/*
 * What differs between the first results of each pair that is not the same
 * comparison, said once per difference with the pairs it holds for, as warp
 * does: "backend posix-aio -> posix-aio:threads=1 (randread 4k d8)",
 * "cache: warm -> cold (every pair)". A parameter one tool does not state
 * (fio has no batch) is "(not stated)", not a value.
 */
static void param_lines(struct diff *d)
{
	static const char sql[] =
		"WITH p AS (SELECT key AS k, '$.\"' || key || '\"' AS at FROM (SELECT key FROM json_each(?1)"
		"  UNION SELECT key FROM json_each(?2)))"
		" SELECT k, json_type(?1, at) IS NULL, coalesce(CAST(json_extract(?1, at) AS TEXT), 'null'),"
		"  json_type(?2, at) IS NULL, coalesce(CAST(json_extract(?2, at) AS TEXT), 'null')"
		" FROM p WHERE (json_type(?1, at) IS NOT json_type(?2, at)"
		"  OR json_extract(?1, at) IS NOT json_extract(?2, at))"
		" AND NOT (json_type(?1, at) IS NULL AND json_type(?2, at) = 'null')"
		" AND NOT (json_type(?2, at) IS NULL AND json_type(?1, at) = 'null')";
	size_t pairs = 0;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db_of(d), sql, -1, &st, NULL) != SQLITE_OK)
		return;
	for (size_t i = 0; i < d->ng; i++) {
		const struct diff_group *g = &d->g[i];
		char line[1100], pair[300], only[2][1024];

		if (!g->n[0] || !g->n[1])
			continue;
		pairs++;
		snprintf(pair, sizeof(pair), "%s %s", g->title, g->spec[0]);
		if (!strcmp(g->chash[0], g->chash[1]))
			continue;
		if (strcmp(g->spec[0], g->spec[1])) {
			snprintf(line, sizeof(line), "backend %s -> %s", g->spec[0], g->spec[1]);
			add_diff(&d->par, &d->npar, line, pair);
		}
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, g->params[0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, g->params[1], -1, SQLITE_STATIC);
		only[0][0] = only[1][0] = '\0';
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(st, 0);
			int unstated = sqlite3_column_int(st, 1) ? 0 : sqlite3_column_int(st, 3) ? 1 : -1;

			if (unstated < 0) {
				snprintf(line, sizeof(line), "%s: %s -> %s", k, sqlite3_column_text(st, 2),
					 sqlite3_column_text(st, 4));
				add_diff(&d->par, &d->npar, line, pair);
				continue;
			}
			/* Stated by one side only: gathered into one line per side. */
			size_t used = strlen(only[!unstated]);

			snprintf(only[!unstated] + used, sizeof(only[0]) - used, "%s%s=%s", used ? ", " : "",
				 k, sqlite3_column_text(st, unstated ? 2 : 4));
		}
		for (int side = 0; side < 2; side++) {
			if (!only[side][0])
				continue;
			snprintf(line, sizeof(line), "stated by %s only: %s", side ? "new" : "base", only[side]);
			add_diff(&d->par, &d->npar, line, pair);
		}
	}
	sqlite3_finalize(st);
	finish_diffs(d, pairs);
}

/* "randread 4k d32 direct", "echo 64B c64 d1": the parameters a reader tells rows apart by. */
static void title(sqlite3_stmt *st, char *out, size_t len)
{
	const char *name = (const char *)sqlite3_column_text(st, 10);
	long long bs = sqlite3_column_int64(st, 11), msg = sqlite3_column_int64(st, 16);
	int used = snprintf(out, len, "%s", name ? name : "?");

	if (sqlite3_column_type(st, 11) != SQLITE_NULL)
		used += snprintf(out + used, len - (size_t)used, bs % 1024 ? " %lldB" : " %lldk",
				 bs % 1024 ? bs : bs / 1024);
	if (sqlite3_column_type(st, 16) != SQLITE_NULL)
		used += snprintf(out + used, len - (size_t)used, " %lldB", msg);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL)
		used += snprintf(out + used, len - (size_t)used, " c%lld", sqlite3_column_int64(st, 13));
	used += snprintf(out + used, len - (size_t)used, " d%lld", sqlite3_column_int64(st, 12));
	if (sqlite3_column_int(st, 14))
		used += snprintf(out + used, len - (size_t)used, " direct");
	if (sqlite3_column_type(st, 15) != SQLITE_NULL)
		used += snprintf(out + used, len - (size_t)used, " rw%d", sqlite3_column_int(st, 15));
	if (sqlite3_column_int64(st, 18) > 1)
		used += snprintf(out + used, len - (size_t)used, " j%lld", sqlite3_column_int64(st, 18));
	if (sqlite3_column_type(st, 17) != SQLITE_NULL)
		snprintf(out + used, len - (size_t)used, " rate %s", sqlite3_column_text(st, 17));
}

static int add_sample(struct diff_group *g, int side, sqlite3_stmt *st)
{
	if (g->n[side] == g->cap[side]) {
		size_t cap = g->cap[side] ? 2 * g->cap[side] : 8;

		for (int m = 0; m < M__N; m++) {
			double *v = realloc(g->v[side][m], cap * sizeof(double));

			if (!v)
				return -ENOMEM;
			g->v[side][m] = v;
		}
		g->cap[side] = cap;
	}
	for (int m = 0; m < M__N; m++)
		g->v[side][m][g->n[side]] = sqlite3_column_type(st, 5 + m) == SQLITE_NULL
						    ? NAN : sqlite3_column_double(st, 5 + m);
	g->n[side]++;
	return 0;
}

/*
 * Which results are one row: the same spec on both sides of a pair hash
 * pairs spec with spec (repeats of different variants are never pooled);
 * what is left of a pair hash pairs when each side has one spec left
 * (posix-aio against posix-aio:threads=1); anything else stays unpaired.
 */
static const char gkey_sql[] =
	"UPDATE temp.rows SET gkey = pair_hash || '|' || spec WHERE status = 'ok' AND EXISTS"
	" (SELECT 1 FROM temp.rows AS o WHERE o.status = 'ok' AND o.side <> rows.side"
	"  AND o.pair_hash = rows.pair_hash AND o.spec = rows.spec);"
	"CREATE TEMP TABLE lone AS SELECT pair_hash FROM temp.rows WHERE status = 'ok' AND gkey IS NULL"
	" GROUP BY pair_hash HAVING count(DISTINCT CASE WHEN side = 0 THEN spec END) = 1"
	" AND count(DISTINCT CASE WHEN side = 1 THEN spec END) = 1;"
	"UPDATE temp.rows SET gkey = pair_hash || '|*' WHERE status = 'ok' AND gkey IS NULL"
	" AND pair_hash IN (SELECT pair_hash FROM temp.lone);"
	"UPDATE temp.rows SET gkey = pair_hash || '|' || side || '|' || spec WHERE gkey IS NULL";

/* The ok results grouped into rows (gkey, or --strict the comparison hash), in the base's order. */
static int group_rows(struct diff *d, int strict)
{
	static const char sql[] =
		"SELECT %s, side, spec, chash, params, iops, p50, p99, cpu, sc,"
		" json_extract(params, '$.name'), json_extract(params, '$.bs'),"
		" json_extract(params, '$.depth'), json_extract(params, '$.conns'),"
		" json_extract(params, '$.direct'), json_extract(params, '$.rwmix'),"
		" json_extract(params, '$.msg'), json_extract(params, '$.rate'),"
		" json_extract(params, '$.jobs')"
		" FROM temp.rows AS o WHERE status = 'ok'"
		" ORDER BY (SELECT min(side * 1000000000 + rowid) FROM temp.rows AS r"
		"  WHERE r.%s = o.%s AND r.status = 'ok'), side, rowid";
	const char *key = strict ? "chash" : "gkey";
	char q[sizeof(sql) + 32];
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_exec(db_of(d), gkey_sql, NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	snprintf(q, sizeof(q), sql, key, key, key);
	if (sqlite3_prepare_v2(db_of(d), q, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int side = sqlite3_column_int(st, 1);
		struct diff_group *g = d->ng ? &d->g[d->ng - 1] : NULL;

		if (!g || strcmp(g->key, k)) {
			g = realloc(d->g, (d->ng + 1) * sizeof(*d->g));
			if (!g)
				break;
			d->g = g;
			g = &d->g[d->ng++];
			memset(g, 0, sizeof(*g));
			snprintf(g->key, sizeof(g->key), "%s", k);
			title(st, g->title, sizeof(g->title));
			g->rate = sqlite3_column_type(st, 17) != SQLITE_NULL;
		}
		if (!g->n[side]) {
			snprintf(g->spec[side], sizeof(g->spec[side]), "%s", sqlite3_column_text(st, 2));
			snprintf(g->chash[side], sizeof(g->chash[side]), "%s", sqlite3_column_text(st, 3));
			g->params[side] = strdup((const char *)sqlite3_column_text(st, 4));
		} else if (strcmp(g->chash[side], (const char *)sqlite3_column_text(st, 3))) {
			g->mixed = 1;
		}
		if (add_sample(g, side, st))
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -ENOMEM;
}

int iolens__diff_load(struct diff *d, const char *dbpath)
{
	char err[1024];
	int attached = 0, r;

	if (iolens__store_open(&d->mem, ":memory:", 0, err, sizeof(err)) ||
	    sqlite3_exec(db_of(d), rows_ddl, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(d->err, sizeof(d->err), "%s", d->mem ? sqlite3_errmsg(db_of(d)) : err);
		return 1;
	}
	for (int side = 0; side < 2; side++)
		if ((r = load_side(d, side, dbpath, &attached)))
			return r;
	env_lines(d);
	if (group_rows(d, d->strict)) {
		snprintf(d->err, sizeof(d->err), "out of memory");
		return 1;
	}
	param_lines(d);
	return 0;
}

void iolens__diff_free(struct diff *d)
{
	for (size_t i = 0; i < d->ng; i++)
		for (int s = 0; s < 2; s++) {
			free(d->g[i].params[s]);
			for (int m = 0; m < M__N; m++)
				free(d->g[i].v[s][m]);
		}
	free(d->g);
	for (size_t i = 0; i < d->nenv; i++)
		free(d->env[i]);
	free(d->env);
	for (size_t i = 0; i < d->npar; i++)
		free(d->par[i]);
	free(d->par);
	iolens__store_close(d->mem);
	memset(d, 0, sizeof(*d));
}
