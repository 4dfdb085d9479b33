/*
 * One result merged over the ranks on rank 0: each rank's figures gathered,
 * the histograms summed bucket by bucket (never percentiles averaged), the
 * window starts compared on rank 0's clock, and the per-rank table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_mpi.h"

static void fill_row(struct iolens__mpi_row *row, const struct iolens_result *r, int rank)
{
	memset(row, 0, sizeof(*row));
	if (gethostname(row->host, sizeof(row->host) - 1))
		strcpy(row->host, "unknown");
	row->rank = iolens__mpi_world_rank;
	(void)rank;
	row->cpu = sched_getcpu();
	row->ok = r->status == IOLENS_STATUS_OK;
	row->window_start = NAN;
	row->seconds = NAN;
	row->busy = NAN;
	row->cpu_s = NAN;
	row->gbit_s = NAN;
	if (!row->ok)
		return;
	row->ops = r->ops;
	row->bytes = r->bytes;
	row->counted = r->syscalls.measured;
	row->syscalls = r->syscalls.measured ? r->syscalls.total : 0;
	row->sc_ops = r->syscalls.measured ? r->syscalls.ops : 0;
	row->min = r->lat.min;
	row->p50 = r->lat.p50;
	row->p99 = r->lat.p99;
	row->max = r->lat.max;
	row->iops = r->iops;
	row->mib_s = r->mib_s;
	if (r->workload.kind == IOLENS_WL_ECHO || r->workload.kind == IOLENS_WL_STREAM ||
	    r->workload.kind == IOLENS_WL_SERVE)
		row->gbit_s = r->net.gbit_s;
	row->lat_count = r->hist ? iolens_hist_count(r->hist) : 0;
	row->mean = r->lat.mean;
	row->seconds = r->seconds;
	row->window_start = r->window_start;
	row->cpu_s = r->cpu_user_s + r->cpu_sys_s;
	row->vcsw = r->vcsw;
	row->ivcsw = r->ivcsw;
	snprintf(row->model, sizeof(row->model), "%s", r->model.measured);
}

void iolens__mpi_buckets(const struct iolens_hist *h, uint64_t *counts, uint64_t *mids)
{
	uint64_t lo, hi, count;
	size_t cur = 0;

	memset(counts, 0, IOLENS_HIST_NBUCKETS * sizeof(*counts));
	memset(mids, 0, IOLENS_HIST_NBUCKETS * sizeof(*mids));
	while (h && iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		counts[cur - 1] = count;
		mids[cur - 1] = lo + (hi - lo) / 2;
	}
}

void iolens__mpi_merge_rows(struct iolens__mpi_merged *m, int nranks,
			    const struct iolens__mpi_clock *clk)
{
	double first = INFINITY, last = -INFINITY, *start = m->skew_us;
	double shortest = INFINITY, longest = -INFINITY;
	int mixed = 0, measured = 0;

	m->model[0] = '\0';
	m->min = UINT64_MAX;
	for (int i = 0; i < nranks; i++) {
		const struct iolens__mpi_row *row = &m->rows[i];

		start[i] = NAN;
		if (!row->ok)
			continue;
		m->ok_ranks++;
		m->ops += row->ops;
		m->bytes += row->bytes;
		m->syscalls += row->syscalls;
		m->sc_ops += row->sc_ops;
		m->counted_ranks += row->counted != 0;
		m->iops += row->iops;
		m->mib_s += row->mib_s;
		m->gbit_s += row->gbit_s; /* NaN for disk, from every rank */
		if (row->lat_count) {
			m->lat_sum += row->mean * (double)row->lat_count;
			m->lat_n += row->lat_count;
		}
		m->cpu_s += row->cpu_s; /* NaN from one rank leaves the fleet's unmeasured */
		m->vcsw += row->vcsw;
		m->ivcsw += row->ivcsw;
		if (row->max > m->max)
			m->max = row->max;
		if (row->lat_count && row->min < m->min)
			m->min = row->min;
		/* The fleet's model: the ranks' when every rank measured the same one. */
		if (row->model[0])
			measured++;
		if (!row->model[0] || (m->model[0] && strcmp(m->model, row->model)))
			mixed = 1;
		else
			snprintf(m->model, sizeof(m->model), "%s", row->model);
		if (isfinite(row->seconds)) {
			shortest = fmin(shortest, row->seconds);
			longest = fmax(longest, row->seconds);
		}
		if (!isfinite(row->window_start) || !isfinite(clk[i].offset_us))
			continue;
		/* On rank 0's clock, in microseconds after the epoch. */
		start[i] = row->window_start * 1e6 - clk[i].offset_us;
		first = fmin(first, start[i]);
		last = fmax(last, start[i]);
	}
	/* None measured: not measured; some, or different ones: mixed. */
	if (mixed)
		snprintf(m->model, sizeof(m->model), "%s", measured ? "mixed" : "");
	m->spread_us = last >= first ? last - first : NAN;
	m->len_spread_s = longest >= shortest ? longest - shortest : NAN;
	for (int i = 0; i < nranks; i++)
		m->skew_us[i] = isfinite(start[i]) ? start[i] - first : NAN;
}

void *iolens__mpi_or_abort(void *p)
{
	if (!p) {
		fputs("iolens-mpi: out of memory\n", stderr);
		MPI_Abort(MPI_COMM_WORLD, 1); /* every rank: the job ends */
	}
	return p;
}

void iolens__mpi_merge(const struct iolens_result *r, int rank, int nranks,
		       const struct iolens__mpi_clock *clk, struct iolens__mpi_merged *m)
{
	uint64_t *counts = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*counts)));
	uint64_t *mids = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*mids)));
	uint64_t *sum = NULL, *mid = NULL;
	static struct iolens__mpi_row row; /* a pending request may still read it */
	MPI_Request req[3];
	int lost = iolens__mpi_lost;

	memset(m, 0, sizeof(*m));
	if (lost) {
		free(counts);
		free(mids);
		return;
	}
	if (rank == 0) {
		m->rows = iolens__mpi_or_abort(calloc((size_t)nranks, sizeof(*m->rows)));
		m->skew_us = iolens__mpi_or_abort(calloc((size_t)nranks, sizeof(*m->skew_us)));
		m->hist = iolens__mpi_or_abort(iolens_hist_new());
		sum = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*sum)));
		mid = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*mid)));
	}
	iolens__mpi_buckets(r->status == IOLENS_STATUS_OK ? r->hist : NULL, counts, mids);
	fill_row(&row, r, rank);
	MPI_Igather(&row, (int)sizeof(row), MPI_BYTE, m->rows, (int)sizeof(row), MPI_BYTE, 0,
		    iolens__mpi_comm, &req[0]);
	MPI_Ireduce(counts, sum, IOLENS_HIST_NBUCKETS, MPI_UINT64_T, MPI_SUM, 0, iolens__mpi_comm,
		    &req[1]);
	MPI_Ireduce(mids, mid, IOLENS_HIST_NBUCKETS, MPI_UINT64_T, MPI_MAX, 0, iolens__mpi_comm,
		    &req[2]);
	/*
	 * A lost rank leaves the requests pending: their buffers are left to
	 * them, and the caller ends the job (iolens__mpi_lost) without freeing m.
	 */
	for (int i = 0; i < 3 && !lost; i++)
		lost = iolens__mpi_wait(&req[i]) != 0;
	if (lost)
		return;
	if (rank == 0) {
		for (size_t i = 0; i < IOLENS_HIST_NBUCKETS; i++)
			iolens_hist_add_n(m->hist, mid[i], sum[i]);
		iolens__mpi_merge_rows(m, nranks, clk);
	}
	free(counts);
	free(mids);
	free(sum);
	free(mid);
}

void iolens__mpi_merged_free(struct iolens__mpi_merged *m)
{
	free(m->rows);
	free(m->skew_us);
	iolens_hist_free(m->hist);
	memset(m, 0, sizeof(*m));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int iolens__mpi_is_straggler(const struct iolens__mpi_merged *m, int nranks, int rank)
{
	double v[nranks > 0 ? nranks : 1], median;
	int n = 0;

	if (!m->rows[rank].ok)
		return 0;
	for (int i = 0; i < nranks; i++)
		if (m->rows[i].ok)
			v[n++] = m->rows[i].iops;
	if (n < 2)
		return 0;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return m->rows[rank].iops < 0.8 * median;
}

void iolens__mpi_table(FILE *f, struct iolens_result *const *res,
		       const struct iolens__mpi_merged *m, size_t n, int nranks,
		       const struct iolens__mpi_clock *clk)
{
	for (int i = 1; i < nranks && n; i++)
		fprintf(f, "clock: rank %d (%s) is %+.1f us from rank %d (round trip %.1f us)\n",
			m[0].rows[i].rank, m[0].rows[i].host, clk[i].offset_us, m[0].rows[0].rank,
			clk[i].rtt_us);
	for (size_t k = 0; k < n; k++) {
		const struct iolens_result *r = res[k];
		const struct iolens__mpi_merged *x = &m[k];
		char gbit[32] = "";

		if (x->ok_ranks && isfinite(x->gbit_s))
			snprintf(gbit, sizeof(gbit), " (%.2f Gbit/s)", x->gbit_s);

		fprintf(f, "\n%s%s%s, %d rank%s\n", r->backend, r->variant[0] ? ":" : "",
			r->variant, nranks, nranks == 1 ? "" : "s");
		fprintf(f, "  %4s  %-16s %4s %12s %10s %10s %12s  %s\n", "rank", "host", "cpu", "IOPS",
			"p50 us", "p99 us", "skew us", "model (measured)");
		for (int i = 0; i < nranks; i++) {
			const struct iolens__mpi_row *row = &x->rows[i];

			if (!row->ok) {
				fprintf(f, "  %4d  %-16s %4d  no result (%s on rank %d)\n", row->rank,
					row->host, row->cpu,
					r->reason[0] ? r->reason : "see the JSON", x->rows[0].rank);
				continue;
			}
			fprintf(f, "  %4d  %-16s %4d %12.0f %10.2f %10.2f %12.1f  %s%s\n", row->rank,
				row->host, row->cpu, row->iops, (double)row->p50 / 1e3,
				(double)row->p99 / 1e3, x->skew_us[i],
				row->model[0] ? row->model : "not measured",
				iolens__mpi_is_straggler(x, nranks, i) ? "  (straggler)" : "");
		}
		fprintf(f,
			"  merged, %u rank%s: %.0f %s%s, p50 %.2f us, p99 %.2f us, max %.2f us, "
			"window starts spread %.1f us, lengths spread %.1f us\n",
			x->ok_ranks, x->ok_ranks == 1 ? "" : "s", x->iops,
			r->workload.kind == IOLENS_WL_ECHO ? "requests/s"
			: r->workload.kind == IOLENS_WL_STREAM ? "send calls/s" : "IOPS",
			gbit, (double)iolens_hist_percentile(x->hist, 50) / 1e3,
			(double)iolens_hist_percentile(x->hist, 99) / 1e3, (double)x->max / 1e3,
			x->spread_us, x->len_spread_s * 1e6);
		if (x->ok_ranks && x->ops && isfinite(x->cpu_s)) {
			fprintf(f, "  the ranks together: CPU/op %.2f us", x->cpu_s * 1e6 / (double)x->ops);
			/* Counted over the counting pass's operations, not the window's. */
			if (x->counted_ranks == x->ok_ranks && x->sc_ops)
				fprintf(f, ", %.3f syscalls/op",
					(double)x->syscalls / (double)x->sc_ops);
			fprintf(f, ", %llu+%llu context switches\n", (unsigned long long)x->vcsw,
				(unsigned long long)x->ivcsw);
		}
		fprintf(f, "  model (measured): %s\n",
			!x->model[0] ? "not measured"
			: strcmp(x->model, "mixed") ? x->model
						     : "mixed: the ranks measured different models (see the rows)");
	}
}
