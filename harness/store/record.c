/*
 * Recording a run: the JSON document and CSV exactly as iolens writes them,
 * the table as printed, the host, and each result's figures, histogram
 * buckets and syscalls by name. The figures are read out of the document by
 * SQL (json_each), so the store holds what the JSON says and nothing else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "iolens/iolens.h"
#include "store.h"
#include "store_int.h"

/*
 * Each result of run ?1 as res(key, value, p): its object in the document
 * and its parameters. An iolens-mpi document whose ranks all ran the
 * workload (fleet role "ranks", "echo" or "stream") has its fleet's merged figures
 * put in place of the first rank's: the run's figures are the fleet's. A
 * fleet's parameters name its role and size (serve's too, whose results are
 * already the server's), so it compares only with fleets like it. Where a
 * workload was described (the file, a job file and its section) is not a
 * parameter: a job file's workload compares with the same one typed out.
 */
#define M(x) "json_extract(fr, '$.merged." x "')"
#define RESULTS_CTE \
	"WITH doc(d) AS (SELECT document FROM runs WHERE id = ?1)," \
	" raw(key, value, p0, role, ranks, fr) AS (" \
	"  SELECT r.key, r.value, json_remove(json_extract(r.value, '$.workload'), '$.time_s'," \
	"    '$.warmup_s', '$.file', '$.ops', '$.job_file', '$.job_section'), json_extract(d, '$.fleet.role')," \
	"    json_extract(d, '$.fleet.ranks'), json_extract(d, '$.fleet.results[' || r.key || ']')" \
	"  FROM doc, json_each(d, '$.results') AS r)," \
	" res(key, value, p) AS (" \
	"  SELECT key, CASE WHEN role IN ('ranks', 'echo', 'stream') THEN json_remove(json_set(value," \
	"     '$.ops', " M("ops") ", '$.iops', " M("iops") ", '$.mib_s', " M("mib_s") "," \
	"     '$.latency_ns', json(" M("latency_ns") "), '$.histogram', json(" M("histogram") ")," \
	"     '$.cpu.per_op_ns', " M("cpu_per_op_ns") ", '$.syscalls.per_op', " M("syscalls_per_op") "," \
	"     '$.ctx_switches.voluntary', " M("vcsw") ", '$.ctx_switches.involuntary', " M("ivcsw") "," \
	"     '$.model.measured', " M("model") ", '$.model.mismatch', CASE WHEN " M("model") \
	"      IS json_extract(value, '$.model.measured') THEN json_extract(value, '$.model.mismatch')" \
	"      END), '$.syscalls.by_name')" \
	"   ELSE value END," \
	"   CASE WHEN role IS NULL THEN p0" \
	"   ELSE json_set(p0, '$.fleet', json_object('role', role, 'ranks', ranks)) END" \
	"  FROM raw)"

/* The figures of every result of run ?1. */
static const char results_sql[] =
	RESULTS_CTE
	" INSERT INTO results (run_id, idx, params, comparison_hash, pair_hash, workload, backend,"
	" variant, status, reason, ops, seconds, iops, mib_s, p50_ns, p90_ns, p99_ns, p99_9_ns,"
	" max_ns, mean_ns, cpu_per_op_ns, syscalls_per_op, vcsw, ivcsw, model_declared,"
	" model_measured, model_mismatch, spec)"
	" SELECT ?1, key, p, iolens_hash('iolens|' || p || '|' || b || ':' || v),"
	"  iolens_hash(" IOLENS__PAIR_KEY_SQL("p") " || coalesce('|fleet:' ||"
	"   json_extract(p, '$.fleet.role') || ':' || json_extract(p, '$.fleet.ranks'), '') || '|' || b),"
	"  json_extract(value, '$.workload.name'), b, v, json_extract(value, '$.status'),"
	"  json_extract(value, '$.reason'), json_extract(value, '$.ops'),"
	"  json_extract(value, '$.seconds'), json_extract(value, '$.iops'),"
	"  json_extract(value, '$.mib_s'), json_extract(value, '$.latency_ns.p50'),"
	"  json_extract(value, '$.latency_ns.p90'), json_extract(value, '$.latency_ns.p99'),"
	"  json_extract(value, '$.latency_ns.p99_9'), json_extract(value, '$.latency_ns.max'),"
	"  json_extract(value, '$.latency_ns.mean'), json_extract(value, '$.cpu.per_op_ns'),"
	"  json_extract(value, '$.syscalls.per_op'), json_extract(value, '$.ctx_switches.voluntary'),"
	"  json_extract(value, '$.ctx_switches.involuntary'), json_extract(value, '$.model.declared'),"
	"  json_extract(value, '$.model.measured'), json_extract(value, '$.model.mismatch'),"
	"  b || CASE WHEN v <> '' THEN ':' || v ELSE '' END"
	" FROM (SELECT key, value, p, json_extract(value, '$.backend') AS b,"
	"        coalesce(json_extract(value, '$.variant'), '') AS v FROM res)";

static const char buckets_sql[] =
	RESULTS_CTE
	" INSERT INTO hist_buckets (result_id, lo_ns, hi_ns, count)"
	" SELECT r.id, json_extract(b.value, '$[0]'), json_extract(b.value, '$[1]'),"
	"  json_extract(b.value, '$[2]')"
	" FROM res AS j JOIN results AS r ON r.run_id = ?1 AND r.idx = j.key,"
	"  json_each(j.value, '$.histogram.buckets') AS b";

static const char syscalls_sql[] =
	RESULTS_CTE
	" INSERT INTO syscalls (result_id, name, count)"
	" SELECT r.id, s.key, s.value"
	" FROM res AS j JOIN results AS r ON r.run_id = ?1 AND r.idx = j.key,"
	"  json_each(j.value, '$.syscalls.by_name') AS s"
	" WHERE s.value IS NOT NULL";

/* A fleet's rows: each rank's (each generator's, for serve) figures of each result. */
static const char fleet_ranks_sql[] =
	"INSERT INTO fleet_ranks (result_id, rank, host, cpu, ok, ops, iops, p50_ns, p99_ns, seconds,"
	" cpu_s, model, conns, busy, skew_us, straggler)"
	" SELECT r.id, json_extract(k.value, '$.rank'), json_extract(k.value, '$.host'),"
	"  json_extract(k.value, '$.cpu'), json_extract(k.value, '$.ok'),"
	"  json_extract(k.value, '$.ops'), json_extract(k.value, '$.iops'),"
	"  json_extract(k.value, '$.p50_ns'), json_extract(k.value, '$.p99_ns'),"
	"  json_extract(k.value, '$.seconds'), json_extract(k.value, '$.cpu_s'),"
	"  json_extract(k.value, '$.model'), json_extract(k.value, '$.conns'),"
	"  json_extract(k.value, '$.busy'), json_extract(k.value, '$.window_start_skew_us'),"
	"  json_extract(k.value, '$.straggler')"
	" FROM runs AS run, json_each(run.document, '$.fleet.results') AS f"
	" JOIN results AS r ON r.run_id = run.id AND r.idx = f.key,"
	"  json_each(f.value, '$.ranks') AS k"
	" WHERE run.id = ?1";

/*
 * The statements of sql one after the other, each with the same text
 * bindings (NULL binds SQL NULL) and id after them, each stepped to its end.
 */
static int run_stmt(struct iolens__store *s, const char *sql, long long id, const char *const *texts,
		    int ntexts, char *err, size_t errlen, const char *what)
{
	int rc = SQLITE_DONE;

	while (rc == SQLITE_DONE && *sql) {
		sqlite3_stmt *st;

		rc = sqlite3_prepare_v2(s->db, sql, -1, &st, &sql);
		if (rc == SQLITE_OK && !st) /* only blanks or comments were left */
			return 0;
		for (int i = 0; rc == SQLITE_OK && i < ntexts; i++)
			rc = sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
		if (rc == SQLITE_OK && id >= 0)
			rc = sqlite3_bind_int64(st, ntexts + 1, id);
		while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
	}
	return rc == SQLITE_DONE ? 0 : iolens__store_fail(s, rc, err, errlen, what);
}

/* The host row for h (one per environment hash), its id in *id. */
static int host_row(struct iolens__store *s, const struct iolens__host *h, long long *id, char *err,
		    size_t errlen)
{
	char cores[16], mem[24], hash[17], all[4096];
	const char *t[14];
	sqlite3_stmt *st;
	int rc, e;

	snprintf(cores, sizeof(cores), "%u", h->cores);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)h->mem_kib);
	snprintf(all, sizeof(all), "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", h->hostname, h->kernel,
		 h->cpu_model, cores, h->smt, h->governor, h->mitigations, mem, h->cpuset, h->cgroup,
		 h->liburing, h->glibc, h->uring_features);
	snprintf(hash, sizeof(hash), "%016llx",
		 (unsigned long long)iolens__hash64(all, IOLENS__HASH64_SEED));
	t[0] = hash, t[1] = h->hostname, t[2] = h->kernel, t[3] = h->cpu_model;
	t[4] = h->cores ? cores : "", t[5] = h->smt, t[6] = h->governor, t[7] = h->mitigations;
	t[8] = h->mem_kib ? mem : "", t[9] = h->cpuset, t[10] = h->cgroup, t[11] = h->liburing;
	t[12] = h->glibc, t[13] = h->uring_features;
	for (int i = 1; i < 14; i++) /* unknown is NULL, never "" */
		t[i] = t[i][0] ? t[i] : NULL;
	e = run_stmt(s, "INSERT OR IGNORE INTO hosts (env_hash, hostname, kernel, cpu_model, cores,"
		     " smt, governor, mitigations, mem_kib, cpuset, cgroup, liburing, glibc,"
		     " uring_features) VALUES (?1, ?2, ?3, ?4, CAST(?5 AS INTEGER), ?6, ?7, ?8,"
		     " CAST(?9 AS INTEGER), ?10, ?11, ?12, ?13, ?14)",
		     -1, t, 14, err, errlen, "cannot record the host");
	if (e)
		return e;
	rc = sqlite3_prepare_v2(s->db, "SELECT id FROM hosts WHERE env_hash = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0), rc = SQLITE_DONE;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : iolens__store_fail(s, rc, err, errlen, "cannot record the host");
}

/*
 * An iolens-mpi document whose fleet has no merge (a rank was lost) holds
 * one rank's results, not the fleet's: refused, -EINVAL with why in err.
 */
static int check_fleet(struct iolens__store *s, const char *doc, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "SELECT json_extract(?1, '$.fleet.error')", -1, &st, NULL);
	int e = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
			snprintf(err, errlen, "%s: the fleet has no merged results (%s)", s->path,
				 (const char *)sqlite3_column_text(st, 0));
			e = -EINVAL;
		}
	}
	sqlite3_finalize(st);
	/* A document SQLite cannot read as JSON is left for the recording to refuse. */
	return rc == SQLITE_OK || (rc & 0xff) == SQLITE_ERROR ? e
							      : iolens__store_fail(s, rc, err, errlen,
										   "cannot read the run");
}

int iolens__store_record_text(struct iolens__store *s, const struct iolens__store_run *run,
			      const struct iolens_meta *meta, const char *doc, const char *csv,
			      long long *run_id, char *err, size_t errlen)
{
	struct iolens__host h;
	long long host = 0;
	char hostid[24];
	const char *t[12];
	int e;

	if (!run->results_sql && (e = check_fleet(s, doc, err, errlen)))
		return e;
	if (run->host)
		h = *run->host;
	else
		iolens__host_collect(&h, meta);
	e = iolens__store_exec(s, "BEGIN IMMEDIATE", err, errlen, "cannot lock it");
	if (e)
		return e;
	e = host_row(s, &h, &host, err, errlen);
	snprintf(hostid, sizeof(hostid), "%lld", host);
	t[0] = meta->start_time, t[1] = run->kind, t[2] = run->tool ? run->tool : "iolens";
	t[3] = run->label, t[4] = meta->command_line, t[5] = run->version ? run->version
							  : IOLENS_VERSION_STRING;
	t[6] = hostid, t[7] = h.boot_id[0] ? h.boot_id : NULL, t[8] = meta->interrupted ? "1" : "0";
	t[9] = doc, t[10] = csv, t[11] = run->table;
	if (!e)
		e = run_stmt(s, "INSERT INTO runs (time, kind, tool, label, command_line, version,"
			     " host_id, boot_id, interrupted, document, csv, table_text) VALUES (?1, ?2,"
			     " ?3, ?4, ?5, ?6, CAST(?7 AS INTEGER), ?8, CAST(?9 AS INTEGER), ?10, ?11,"
			     " ?12)", -1, t, 12, err, errlen, "cannot record the run");
	*run_id = sqlite3_last_insert_rowid(s->db);
	if (!e && run->results_sql)
		e = run_stmt(s, run->results_sql, *run_id, NULL, 0, err, errlen,
			     "cannot record the results");
	if (!e && !run->results_sql) {
		e = run_stmt(s, results_sql, *run_id, NULL, 0, err, errlen, "cannot record the results");
		if (!e)
			e = run_stmt(s, buckets_sql, *run_id, NULL, 0, err, errlen,
				     "cannot record the histograms");
		if (!e)
			e = run_stmt(s, syscalls_sql, *run_id, NULL, 0, err, errlen,
				     "cannot record the syscalls");
		if (!e)
			e = run_stmt(s, fleet_ranks_sql, *run_id, NULL, 0, err, errlen,
				     "cannot record the fleet's ranks");
	}
	if (!e)
		e = iolens__store_exec(s, "COMMIT", err, errlen, "cannot write it");
	if (e)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

/* What f wrote into a memory stream, as a string (NULL when out of memory or failed). */
static char *drain(FILE *f, char **buf, int failed)
{
	if (fclose(f) || failed) {
		free(*buf);
		*buf = NULL;
	}
	return *buf;
}

/* The document and CSV of res as iolens run writes them, into *doc and *csv: 0 or -ENOMEM. */
static int render(const struct iolens_meta *meta, struct iolens_result *const *res, size_t n,
		  char **doc, char **csv)
{
	size_t dl, cl;
	FILE *df = open_memstream(doc, &dl), *cf = open_memstream(csv, &cl);
	int failed = 0;

	if (df)
		failed = iolens_json_document(df, meta, res, n) != 0;
	if (cf) {
		int cfail = iolens_csv_header(cf) != 0;

		for (size_t i = 0; i < n; i++)
			cfail |= iolens_csv_row(cf, res[i]) != 0;
		drain(cf, csv, cfail);
	}
	if (df)
		drain(df, doc, failed);
	if (*doc && *csv)
		return 0;
	free(*doc);
	free(*csv);
	*doc = *csv = NULL;
	return -ENOMEM;
}

void iolens__store_save_text(const struct iolens__store_args *a, const struct iolens__store_run *run,
			     const struct iolens_meta *meta, const char *doc, const char *csv,
			     FILE *say)
{
	struct iolens__store *s;
	char path[4096], err[1024];
	long long id = 0;
	int e;

	if (a->no_db)
		return;
	e = iolens__store_open_at(a->db, 0, &s, path, sizeof(path), err, sizeof(err));
	if (!e && (!doc || !csv)) {
		snprintf(err, sizeof(err), "%.900s: out of memory for the run's document", path);
		e = -ENOMEM;
	}
	if (!e)
		e = iolens__store_record_text(s, run, meta, doc, csv, &id, err, sizeof(err));
	if (s)
		iolens__store_close(s);
	if (e)
		fprintf(stderr, "iolens: results database %s; the run is not recorded\n", err);
	else if (say)
		fprintf(say, "recorded: run %lld in %s\n", id, path);
}

void iolens__store_save(const struct iolens__store_args *a, const struct iolens__store_run *run,
			const struct iolens_meta *meta, struct iolens_result *const *res, size_t n,
			FILE *say)
{
	char *doc = NULL, *csv = NULL;

	if (a->no_db)
		return;
	render(meta, res, n, &doc, &csv);
	iolens__store_save_text(a, run, meta, doc, csv, say);
	free(doc);
	free(csv);
}
