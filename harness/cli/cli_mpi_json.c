/*
 * iolens-mpi's JSON: rank 0's iolens/1 document as iolens run writes it,
 * with a top-level "fleet" object added before its closing brace (docs/json.md,
 * "The fleet").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_mpi.h"
#include "cli_output.h"

/* A string, or null when empty (not measured). */
static void put_text(FILE *f, const char *s)
{
	if (s[0])
		iolens_json_string(f, s);
	else
		fputs("null", f);
}

/* A number, or null when it was not measured. */
static void put_number(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
	else
		fputs("null", f);
}

static void put_clock(FILE *f, const struct iolens__mpi_merged *m0, int nranks,
		      const struct iolens__mpi_clock *clk)
{
	fputs("    \"clock\": [", f);
	for (int i = 0; i < nranks; i++) {
		fprintf(f, "%s\n      {\"rank\": %d, \"host\": ", i ? "," : "", m0 ? m0->rows[i].rank : i);
		iolens_json_string(f, m0 ? m0->rows[i].host : "");
		fputs(", \"offset_us\": ", f);
		put_number(f, clk[i].offset_us);
		fputs(", \"rtt_us\": ", f);
		put_number(f, clk[i].rtt_us);
		fputc('}', f);
	}
	fputs("\n    ]", f);
}

static void put_ranks(FILE *f, const struct iolens__mpi_merged *m, int nranks)
{
	fputs("\"ranks\": [", f);
	for (int i = 0; i < nranks; i++) {
		const struct iolens__mpi_row *row = &m->rows[i];

		fprintf(f, "%s\n        {\"rank\": %d, \"host\": ", i ? "," : "", row->rank);
		iolens_json_string(f, row->host);
		fprintf(f, ", \"cpu\": %d, \"ok\": %s, \"ops\": %llu, \"iops\": ", row->cpu,
			row->ok ? "true" : "false", (unsigned long long)row->ops);
		put_number(f, row->ok ? row->iops : NAN);
		fprintf(f, ", \"p50_ns\": %llu, \"p99_ns\": %llu, \"seconds\": ",
			(unsigned long long)row->p50, (unsigned long long)row->p99);
		put_number(f, row->seconds);
		fputs(", \"cpu_s\": ", f);
		put_number(f, row->cpu_s);
		fputs(", \"gbit_s\": ", f);
		put_number(f, row->gbit_s);
		fputs(", \"model\": ", f);
		put_text(f, row->model);
		if (iolens__mpi_role.peer_key && !strcmp(iolens__mpi_role.name, "serve"))
		{
			fprintf(f, ", \"conns\": %u, \"busy\": ", row->conns);
			put_number(f, row->busy);
		}
		fputs(", \"window_start\": ", f);
		put_number(f, row->window_start);
		fputs(", \"window_start_skew_us\": ", f);
		put_number(f, m->skew_us[i]);
		fprintf(f, ", \"straggler\": %s}",
			iolens__mpi_is_straggler(m, nranks, i) ? "true" : "false");
	}
	fputs("\n      ]", f);
}

static void put_merged(FILE *f, const struct iolens__mpi_merged *m)
{
	uint64_t lo, hi, count;
	size_t cur = 0;
	int first = 1, has, exact;

	fprintf(f, "\"merged\": {\"ranks\": %u, \"ops\": %llu, \"bytes\": %llu, \"syscalls\": ",
		m->ok_ranks, (unsigned long long)m->ops, (unsigned long long)m->bytes);
	/* Summed only when every rank that ran counted them: a part is not the fleet's. */
	if (m->ok_ranks && m->counted_ranks == m->ok_ranks)
		fprintf(f, "%llu", (unsigned long long)m->syscalls);
	else
		fputs("null", f);
	fputs(", \"syscalls_per_op\": ", f);
	put_number(f, m->ok_ranks && m->counted_ranks == m->ok_ranks && m->sc_ops
			      ? (double)m->syscalls / (double)m->sc_ops
			      : NAN);
	fputs(", \"iops\": ", f);
	put_number(f, m->ok_ranks ? m->iops : NAN);
	fputs(", \"mib_s\": ", f);
	put_number(f, m->ok_ranks ? m->mib_s : NAN);
	fputs(", \"gbit_s\": ", f);
	put_number(f, m->ok_ranks ? m->gbit_s : NAN);
	/* CPU and switches of the ranks that ran the workload, in their windows. */
	fputs(", \"cpu_s\": ", f);
	put_number(f, m->ok_ranks ? m->cpu_s : NAN);
	fputs(", \"cpu_per_op_ns\": ", f);
	put_number(f, m->ok_ranks && m->ops ? m->cpu_s * 1e9 / (double)m->ops : NAN);
	if (m->ok_ranks && isfinite(m->cpu_s)) /* measured with the CPU, or not at all */
		fprintf(f, ", \"vcsw\": %llu, \"ivcsw\": %llu", (unsigned long long)m->vcsw,
			(unsigned long long)m->ivcsw);
	else
		fputs(", \"vcsw\": null, \"ivcsw\": null", f);
	/*
	 * Percentiles from the summed histogram; null when no rank measured a
	 * latency (never 0). The mean and min are exact only when every sample
	 * came with its rank's own (serve's generators give neither).
	 */
	has = iolens_hist_count(m->hist) != 0;
	exact = has && m->lat_n == iolens_hist_count(m->hist) && m->min != UINT64_MAX;
	fputs(", \"latency_ns\": {\"p50\": ", f);
	put_number(f, has ? (double)iolens_hist_percentile(m->hist, 50) : NAN);
	fputs(", \"p90\": ", f);
	put_number(f, has ? (double)iolens_hist_percentile(m->hist, 90) : NAN);
	fputs(", \"p99\": ", f);
	put_number(f, has ? (double)iolens_hist_percentile(m->hist, 99) : NAN);
	fputs(", \"p99_9\": ", f);
	put_number(f, has ? (double)iolens_hist_percentile(m->hist, 99.9) : NAN);
	fputs(", \"max\": ", f);
	put_number(f, has ? (double)m->max : NAN);
	fputs(", \"min\": ", f);
	put_number(f, exact ? (double)m->min : NAN);
	fputs(", \"mean\": ", f);
	put_number(f, exact ? m->lat_sum / (double)m->lat_n : NAN);
	fputc('}', f);
	fprintf(f, ", \"histogram\": {\"count\": %llu, \"buckets\": [",
		(unsigned long long)iolens_hist_count(m->hist));
	while (iolens_hist_next_bucket(m->hist, &cur, &lo, &hi, &count)) {
		fprintf(f, "%s[%llu, %llu, %llu]", first ? "" : ", ", (unsigned long long)lo,
			(unsigned long long)hi, (unsigned long long)count);
		first = 0;
	}
	fputs("]}, \"window_spread_us\": ", f);
	put_number(f, m->spread_us);
	fputs(", \"window_length_spread_us\": ", f);
	put_number(f, m->len_spread_s * 1e6);
	fputs(", \"model\": ", f);
	put_text(f, m->model);
	fputc('}', f);
}

static void put_fleet(FILE *f, struct iolens_result *const *res, const struct iolens__mpi_merged *m,
		      size_t n, int nranks, const struct iolens__mpi_clock *clk)
{
	fprintf(f, "  \"fleet\": {\n    \"ranks\": %d,\n    \"role\": ", nranks);
	iolens_json_string(f, iolens__mpi_role.name);
	if (iolens__mpi_role.peer_key)
		fprintf(f, ", \"%s\": %d", iolens__mpi_role.peer_key, iolens__mpi_role.peer_rank);
	fputs(",\n", f);
	put_clock(f, n ? &m[0] : NULL, nranks, clk);
	fputs(",\n    \"results\": [", f);
	for (size_t k = 0; k < n; k++) {
		fprintf(f, "%s\n      {\"backend\": ", k ? "," : "");
		iolens_json_string(f, res[k]->backend);
		fputs(", \"variant\": ", f);
		iolens_json_string(f, res[k]->variant);
		fputs(", ", f);
		put_ranks(f, &m[k], nranks);
		fputs(",\n      ", f);
		put_merged(f, &m[k]);
		fputc('}', f);
	}
	fputs("\n    ]\n  }\n}\n", f);
}

int iolens__mpi_json(FILE *f, const struct iolens_meta *meta, struct iolens_result *const *res,
		     const struct iolens__mpi_merged *m, size_t n, int nranks,
		     const struct iolens__mpi_clock *clk, const char *lost)
{
	char *doc = NULL, *end;
	size_t len = 0;
	FILE *mem = open_memstream(&doc, &len);
	int r;

	if (!mem)
		return -ENOMEM;
	r = iolens_json_document(mem, meta, res, n);
	if (fclose(mem) && !r)
		r = -ENOMEM;
	end = r ? NULL : strrchr(doc, '}');
	if (!end) {
		free(doc);
		return r ? r : -EIO;
	}
	/* The document up to its closing brace, then the fleet as its last member. */
	while (end > doc && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	fwrite(doc, 1, (size_t)(end - doc), f);
	fputs(",\n", f);
	if (lost) { /* no merge: this rank's own results above, and why there is no fleet */
		fprintf(f, "  \"fleet\": {\n    \"ranks\": %d,\n    \"error\": ", nranks);
		iolens_json_string(f, lost);
		fputs("\n  }\n}\n", f);
	} else {
		put_fleet(f, res, m, n, nranks, clk);
	}
	free(doc);
	return ferror(f) ? -EIO : 0;
}
