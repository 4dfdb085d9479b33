/*
 * fio's JSON output as a stored run. The document is stored as fio wrote
 * it and every figure is read out of it by SQL, as record.c does for
 * iolens's own: one result per job (a mixed job is one result, as an
 * iolens randrw result is), its workload in iolens's key names so that
 * diff pairs it with iolens's results of the same workload, and with json+
 * its histogram, bucket by bucket with fio's own bucket bounds.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_fio.h"
#include "store_int.h"

/*
 * Each job of the document d from doc (a subquery), with its options (the
 * global ones under its own), its workload (NULL: none of iolens's) and
 * the latency object its figures come from: lat_ns (submission to
 * completion, as iolens measures) when the job ran with lat_percentiles,
 * else clat_ns (the same for synchronous engines; without the submission
 * call for asynchronous ones).
 */
#define FIO_JOBS_SQL(doc) \
	"opts AS (SELECT j.key AS idx, j.value AS v," \
	"  json_patch(coalesce(json_extract(d, '$.\"global options\"'), '{}')," \
	"             coalesce(json_extract(j.value, '$.\"job options\"'), '{}')) AS o" \
	"  FROM " doc ", json_each(d, '$.jobs') AS j)," \
	" rws AS (SELECT *, lower(coalesce(o ->> 'rw', o ->> 'readwrite', 'read')) AS rw_opt," \
	"  lower(coalesce(o ->> 'ioengine', 'psync')) AS engine FROM opts)," \
	" job AS (SELECT *," \
	"  CASE substr(rw_opt, 1, instr(rw_opt || ':', ':') - 1)" \
	"   WHEN 'read' THEN 'read' WHEN 'write' THEN 'write' WHEN 'randread' THEN 'randread'" \
	"   WHEN 'randwrite' THEN 'randwrite' WHEN 'randrw' THEN 'randrw'" \
	"   WHEN 'readwrite' THEN 'readwrite' WHEN 'rw' THEN 'readwrite' END AS name," \
	"  CASE WHEN json_type(v, '$.read.lat_ns.percentile') IS NOT NULL" \
	"        OR json_type(v, '$.write.lat_ns.percentile') IS NOT NULL" \
	"   THEN 'lat_ns' ELSE 'clat_ns' END AS lat FROM rws)"

/* The directions each job moved data in, their latency objects, and their bins summed. */
#define FIO_BINS_SQL \
	" dir AS (SELECT job.idx, json_extract(job.v, '$.' || dn.value || '.' || job.lat) AS l" \
	"  FROM job, json_each('[\"read\", \"write\"]') AS dn" \
	"  WHERE json_extract(job.v, '$.' || dn.value || '.total_ios') > 0)," \
	" bin AS (SELECT dir.idx, CAST(b.key AS INTEGER) AS val, sum(b.value) AS cnt" \
	"  FROM dir, json_each(dir.l, '$.bins') AS b GROUP BY dir.idx, val)"

/* An option that is on: given, and not 0. */
#define FLAG(k) "coalesce(o ->> '" k "' NOT IN ('0', 'false'), 0)"

/*
 * Percentile x of a job: fio's own with one direction; with two, the
 * value of the first bin whose running count reaches x% of all (fio's
 * rule, over the bins of both summed), and none without bins.
 */
#define PCT(col, x) \
	"CASE WHEN lat.ndir = 1 THEN lat." col " WHEN lat.nbins = 2 THEN (SELECT min(val)" \
	" FROM cum WHERE cum.idx = job.idx AND c >= " x " / 100.0 * tot) END"

#define FIO_SYNC_ENGINES "('sync', 'psync', 'vsync', 'pvsync', 'pvsync2')"

const char iolens__fio_results_sql[] =
	"WITH " FIO_JOBS_SQL("(SELECT document AS d FROM runs WHERE id = ?1)") ","
	FIO_BINS_SQL ","
	" cum AS (SELECT idx, val, sum(cnt) OVER (PARTITION BY idx ORDER BY val) AS c,"
	"  sum(cnt) OVER (PARTITION BY idx) AS tot FROM bin),"
	" lat AS (SELECT idx, count(*) AS ndir, count(json_extract(l, '$.bins')) AS nbins,"
	"  max(l ->> 'max') AS max, min(l ->> 'mean') AS mean1,"
	"  sum((l ->> 'mean') * (l ->> 'N')) / nullif(sum(l ->> 'N'), 0) AS mean2,"
	"  min(json_extract(l, '$.percentile.\"50.000000\"')) AS p50,"
	"  min(json_extract(l, '$.percentile.\"90.000000\"')) AS p90,"
	"  min(json_extract(l, '$.percentile.\"99.000000\"')) AS p99,"
	"  min(json_extract(l, '$.percentile.\"99.900000\"')) AS p99_9 FROM dir GROUP BY idx),"
	" res AS (SELECT job.idx, job.v, lat.*,"
	"  CASE WHEN engine IN " FIO_SYNC_ENGINES " THEN 'blocking'"
	"   WHEN engine IN ('libaio', 'io_uring') THEN engine"
	"   WHEN engine = 'posixaio' THEN 'posix-aio' ELSE 'fio-' || engine END AS b,"
	"  CASE WHEN engine = 'io_uring' THEN ltrim("
	"   CASE WHEN " FLAG("sqthread_poll") " THEN '+sqpoll' ELSE '' END ||"
	"   CASE WHEN " FLAG("registerfiles") " THEN '+fixed-files' ELSE '' END ||"
	"   CASE WHEN " FLAG("fixedbufs") " THEN '+fixed-bufs' ELSE '' END ||"
	"   CASE WHEN " FLAG("hipri") " THEN '+iopoll' ELSE '' END, '+') ELSE '' END AS vr,"
	"  json_object('name', name,"
	"   'rwmix', CASE WHEN name IN ('randrw', 'readwrite') THEN coalesce("
	"    CAST(o ->> 'rwmixread' AS INTEGER), 100 - CAST(o ->> 'rwmixwrite' AS INTEGER), 50) END,"
	"   'bs', CASE WHEN o ->> 'bsrange' IS NULL AND o ->> 'bssplit' IS NULL"
	"    THEN iolens_fio_bytes(coalesce(o ->> 'bs', o ->> 'blocksize', '4k')) END,"
	"   'size', iolens_fio_bytes(o ->> 'size'),"
	"   'direct', json(CASE WHEN CAST(o ->> 'direct' AS INTEGER) = 1"
	"    OR CAST(o ->> 'buffered' AS INTEGER) = 0 THEN 'true' ELSE 'false' END),"
	"   'depth', CASE WHEN engine IN " FIO_SYNC_ENGINES " THEN 1"
	"    ELSE coalesce(CAST(o ->> 'iodepth' AS INTEGER), 1) END,"
	"   'jobs', coalesce(CAST(o ->> 'numjobs' AS INTEGER), 1),"
	"   'conns', NULL, 'msg', NULL, 'transport', NULL,"
	"   'rate', nullif(CAST(o ->> 'rate_iops' AS INTEGER), 0)"
	"    * coalesce(CAST(o ->> 'numjobs' AS INTEGER), 1),"
	"   'cache', CASE WHEN CAST(o ->> 'direct' AS INTEGER) = 1"
	"    OR CAST(o ->> 'buffered' AS INTEGER) = 0 THEN 'direct'"
	"    WHEN coalesce(CAST(o ->> 'invalidate' AS INTEGER), 1) = 1 THEN 'cold' END,"
	"   'ioengine', engine, 'latency', replace(job.lat, '_ns', '')) AS p,"
	"  " PCT("p50", "50") " AS q50, " PCT("p90", "90") " AS q90,"
	"  " PCT("p99", "99") " AS q99, " PCT("p99_9", "99.9") " AS q99_9"
	"  FROM job LEFT JOIN lat ON lat.idx = job.idx)"
	" INSERT INTO results (run_id, idx, params, comparison_hash, pair_hash, workload, backend,"
	"  variant, status, reason, ops, seconds, iops, mib_s, p50_ns, p90_ns, p99_ns, p99_9_ns,"
	"  max_ns, mean_ns, cpu_per_op_ns, spec)"
	" SELECT ?1, idx, p, iolens_hash('fio|' || p || '|' || b || ':' || vr),"
	"  iolens_hash(" IOLENS__PAIR_KEY_SQL("p") " || '|' || b),"
	"  p ->> 'name', b, vr,"
	"  CASE WHEN v ->> 'error' != 0 THEN 'error' ELSE 'ok' END,"
	"  CASE WHEN v ->> 'error' != 0 THEN 'fio reported error ' || (v ->> 'error') END,"
	"  (v ->> '$.read.total_ios') + (v ->> '$.write.total_ios'),"
	"  coalesce(nullif(max(v ->> '$.read.runtime', v ->> '$.write.runtime'), 0),"
	"   v ->> 'job_runtime') / 1000.0,"
	"  (v ->> '$.read.iops') + (v ->> '$.write.iops'),"
	"  ((v ->> '$.read.bw_bytes') + (v ->> '$.write.bw_bytes')) / 1048576.0,"
	"  q50, q90, q99, q99_9, max, CASE WHEN ndir = 1 THEN mean1 ELSE mean2 END,"
	"  (v ->> 'usr_cpu' + (v ->> 'sys_cpu')) * (v ->> 'job_runtime') * 1e4"
	"   / nullif((v ->> '$.read.total_ios') + (v ->> '$.write.total_ios'), 0),"
	"  b || CASE WHEN vr <> '' THEN ':' || vr ELSE '' END"
	" FROM res;"
	/* json+: fio's bins, each as the bucket of fio's histogram it stands for. */
	"WITH " FIO_JOBS_SQL("(SELECT document AS d FROM runs WHERE id = ?1)") ","
	FIO_BINS_SQL
	" INSERT INTO hist_buckets (result_id, lo_ns, hi_ns, count)"
	" SELECT r.id, iolens_fio_bin(bin.val, 0), iolens_fio_bin(bin.val, 1), bin.cnt"
	" FROM bin JOIN results AS r ON r.run_id = ?1 AND r.idx = bin.idx;"
	/* What the import holds, a line per job, for iolens show. */
	"UPDATE runs SET table_text = (SELECT"
	"  printf('%-16s %-9s %6s %5s %-10s %12s %10s %10s', 'job', 'rw', 'bs', 'depth', 'engine',"
	"   'IOPS', 'p50 us', 'p99 us') || char(10) || group_concat(line, char(10)) || char(10)"
	" FROM (SELECT printf('%-16s %-9s %6s %5s %-10s %12s %10s %10s%s',"
	"   substr(j.value ->> 'jobname', 1, 16), r.workload,"
	"   coalesce(r.params ->> 'bs', '-'), r.params ->> 'depth', r.params ->> 'ioengine',"
	"   printf('%.0f', r.iops),"
	"   CASE WHEN r.p50_ns IS NULL THEN '-' ELSE printf('%.1f', r.p50_ns / 1e3) END,"
	"   CASE WHEN r.p99_ns IS NULL THEN '-' ELSE printf('%.1f', r.p99_ns / 1e3) END,"
	"   CASE WHEN r.status = 'ok' THEN '' ELSE '  ' || r.reason END) AS line"
	"  FROM results AS r JOIN json_each(runs.document, '$.jobs') AS j ON j.key = r.idx"
	"  WHERE r.run_id = ?1 ORDER BY r.idx))"
	" WHERE id = ?1";

/* fio's sizes: a whole number with k, m, g, t or p (KiB, kB and K alike: fio's kb_base 1024). */
static void sql_fio_bytes(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	const char *units = "kmgtp", *u;
	unsigned long long v = 0;
	unsigned shift = 0;

	(void)argc;
	if (!s || *s < '0' || *s > '9')
		goto none;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (~0ull - 9) / 10)
			goto none;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (*s && (u = strchr(units, *s | 0x20)) != NULL)
		shift = 10 * (unsigned)(u - units + 1), s++;
	if (shift && (*s | 0x20) == 'i')
		s++;
	if ((*s | 0x20) == 'b')
		s++;
	if (*s || (shift && v > (~0ull >> 1) >> shift))
		goto none;
	sqlite3_result_int64(ctx, (sqlite3_int64)(v << shift));
	return;
none:
	sqlite3_result_null(ctx);
}

/*
 * The bounds of the bucket of fio's histogram that a json+ bin stands for.
 * fio's buckets are exact below 128 ns; above, each power of two 2^b is cut
 * into 64 buckets of 2^(b-6) ns, and a bin is named by its bucket's middle.
 * iolens_fio_bin(value, 0) is the lowest value, (value, 1) the highest.
 */
static void sql_fio_bin(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlite3_int64 v = sqlite3_value_int64(argv[0]);
	int hi = sqlite3_value_int(argv[1]);
	sqlite3_int64 half;

	(void)argc;
	if (v < 128) {
		sqlite3_result_int64(ctx, v);
		return;
	}
	half = (sqlite3_int64)1 << (63 - __builtin_clzll((unsigned long long)v) - 7);
	sqlite3_result_int64(ctx, hi ? v + half - 1 : v - half);
}

int iolens__fio_functions(sqlite3 *db)
{
	int rc = sqlite3_create_function(db, "iolens_fio_bytes", 1,
					 SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_fio_bytes,
					 NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "iolens_fio_bin", 2,
					     SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_fio_bin,
					     NULL, NULL);
	return rc;
}

/* The first row of sql over ?1 = json: its columns as text into the outs (NULL: "") . */
static int first_row(sqlite3 *db, const char *sql, const char *json, char **outs, size_t *lens,
		     int n)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	for (int i = 0; i < n; i++)
		outs[i][0] = '\0';
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	for (int i = 0; rc == SQLITE_ROW && i < n; i++) {
		const unsigned char *t = sqlite3_column_text(st, i);

		snprintf(outs[i], lens[i], "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? rc : -1;
}

/* Where the JSON starts: at once, or at the first line that opens an object after fio's notes. */
static int json_start(const char *text, size_t *at)
{
	const char *p = text + strspn(text, " \t\r\n");

	if (*p != '{') {
		p = strstr(text, "\n{");
		if (!p)
			return -1;
		p++;
	}
	*at = (size_t)(p - text);
	return 0;
}

int iolens__fio_check(const char *text, struct iolens__fio_info *info, char *err, size_t errlen)
{
	static const char about_sql[] =
		"SELECT json_valid(?1), CASE WHEN json_valid(?1) THEN json_type(?1, '$.jobs') END,"
		" CASE WHEN json_valid(?1) THEN json_array_length(?1, '$.jobs') END,"
		" CASE WHEN json_valid(?1) THEN json_extract(?1, '$.\"fio version\"') END,"
		" CASE WHEN json_valid(?1) THEN strftime('%Y-%m-%dT%H:%M:%SZ',"
		"  json_extract(?1, '$.timestamp'), 'unixepoch') END";
	static const char refused_sql[] =
		"WITH " FIO_JOBS_SQL("(SELECT ?1 AS d)")
		" SELECT coalesce(v ->> 'jobname', '#' || idx), rw_opt FROM job WHERE name IS NULL"
		" ORDER BY idx LIMIT 1";
	char valid[8], type[16], njobs[24], job[80], rw[64];
	char *outs[5] = { valid, type, njobs, info->version, info->time };
	size_t lens[5] = { sizeof(valid), sizeof(type), sizeof(njobs), sizeof(info->version),
			   sizeof(info->time) };
	char *bad[2] = { job, rw };
	size_t badlens[2] = { sizeof(job), sizeof(rw) };
	sqlite3 *db;
	int rc, e = -EINVAL;

	memset(info, 0, sizeof(*info));
	if (json_start(text, &info->json_at)) {
		snprintf(err, errlen, "not JSON (fio writes it with --output-format=json or json+)");
		return -EINVAL;
	}
	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		sqlite3_close(db);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	text += info->json_at;
	rc = first_row(db, about_sql, text, outs, lens, 5);
	if (rc < 0) {
		snprintf(err, errlen, "cannot be read as JSON: %s", sqlite3_errmsg(db));
	} else if (strcmp(valid, "1")) {
		snprintf(err, errlen, "not JSON (fio writes it with --output-format=json or json+)");
	} else if (strcmp(type, "array")) {
		snprintf(err, errlen, "no 'jobs' array: not fio's JSON output");
	} else if (!strcmp(njobs, "0")) {
		snprintf(err, errlen, "its 'jobs' array is empty: fio ran no job");
	} else if ((rc = first_row(db, refused_sql, text, bad, badlens, 2)) < 0) {
		snprintf(err, errlen, "cannot be read as fio's JSON: %s", sqlite3_errmsg(db));
	} else if (rc == SQLITE_ROW) {
		snprintf(err, errlen, "job '%s' has rw=%s, which iolens has no workload for "
			 "(imports read, write, randread, randwrite, randrw, readwrite)", job, rw);
	} else {
		info->njobs = (size_t)strtoull(njobs, NULL, 10);
		e = 0;
	}
	sqlite3_close(db);
	return e;
}
