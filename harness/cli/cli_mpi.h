/*
 * iolens-mpi: one `iolens run` on every rank of an MPI job, started pass by
 * pass together, merged on rank 0 (docs/mpi.md). The functions marked
 * collective must be called by every rank, in the same order.
 */
#ifndef IOLENS_CLI_MPI_H
#define IOLENS_CLI_MPI_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "iolens/iolens.h"

/* A rank's clock against rank 0's, both CLOCK_REALTIME (rank 0's: 0, 0). */
struct iolens__mpi_clock {
	double offset_us; /* the rank's clock minus rank 0's, at the fastest round trip */
	double rtt_us;	  /* that round trip */
};

/*
 * The ranks that run the workload: every rank, or all but the responder
 * rank (--responder-rank). The collectives below are over it; "rank 0"
 * is its first. Rows name ranks as mpirun does (iolens__mpi_world_rank).
 */
extern MPI_Comm iolens__mpi_comm;
extern int iolens__mpi_world_rank;

/* --responder-rank R [--responder-listen ADDR]: rank R serves, the others run echo at it. */
struct iolens__mpi_roles {
	int responder;                   /* its rank, or -1: every rank runs the workload */
	const char *listen;              /* where it listens (default loopback) */
	const char *netns;               /* --rank-netns: a name or path with %d for the rank */
	struct iolens_responder *server; /* on the responder rank, once started */
	MPI_Comm clients;                /* every rank but the responder */
	int started;
};

/*
 * Take the role options out of argv (the rest is iolens run's). 0, or 2
 * with the one-line reason in err.
 */
int iolens__mpi_take_roles(int *argc, char **argv, int world_size, struct iolens__mpi_roles *ro,
			   char *err, size_t errlen);
/*
 * --rank-netns: this rank's thread enters its network namespace (after
 * MPI_Init, so MPI's own connections stay where they were made; every
 * thread iolens starts afterwards inherits it). 0, or 2 with err.
 */
int iolens__mpi_enter_netns(const struct iolens__mpi_roles *ro, int world_rank, char *err,
			    size_t errlen);
int iolens__mpi_roles_start(struct iolens__mpi_roles *ro, int world_rank, char *connect,
			    size_t len);
/* Collective over every rank: the responder stops once every client is done. */
void iolens__mpi_roles_end(struct iolens__mpi_roles *ro);

/* What the ranks do, as the fleet object says it ("role"). */
struct iolens__mpi_role {
	const char *name; /* "ranks": every rank runs the workload; "echo"; "serve" */
	const char *peer_key; /* "responder_rank", "server_rank", or NULL */
	int peer_rank;
};
extern struct iolens__mpi_role iolens__mpi_role;

/*
 * serve at fleet scale (cli_mpi_serve.c): rank 0 runs serve with the
 * backend under test, every other rank is a load generator that rank 0's
 * run drives through struct iolens_loadgen.
 */
struct iolens__mpi_serve;
struct iolens__mpi_merged;
/* Collective over every rank: rank 0 alone becomes iolens__mpi_comm. */
void iolens__mpi_serve_split(MPI_Comm *own);
/* A generator rank: obey rank 0 until it ends; 0, or 1 after a failure said. */
int iolens__mpi_generate(const struct iolens_workload *w);
/* Rank 0: the hooks for w->loadgen, and the run's bookkeeping. */
struct iolens__mpi_serve *iolens__mpi_serve_new(int world_size);
const struct iolens_loadgen *iolens__mpi_serve_hooks(struct iolens__mpi_serve *s);
/* Rank 0: the repeat about to run, for the rows of its passes. */
void iolens__mpi_serve_repeat(struct iolens__mpi_serve *s, unsigned repeat);
/* on_pass on rank 0 (arg: the struct iolens__mpi_serve). */
void iolens__mpi_serve_on_pass(void *arg, const char *spec, int pass);
/*
 * Rank 0: result res (spec `spec`, repeat `repeat`) as a merged row set of
 * the generators, each row a generator rank. 0, or -ENOMEM.
 */
int iolens__mpi_serve_merged(struct iolens__mpi_serve *s, const struct iolens_result *res,
			     const char *spec, unsigned repeat, struct iolens__mpi_merged *m);
/* Rank 0: the per-generator table and the merged line of each result. */
void iolens__mpi_serve_table(FILE *f, struct iolens_result *const *res,
			     const struct iolens__mpi_merged *m, size_t n, int ngen);
/* Rank 0: the generators end (every path, once). */
void iolens__mpi_serve_end(struct iolens__mpi_serve *s);
void iolens__mpi_serve_free(struct iolens__mpi_serve *s);

/* One rank's figures of one result, as rank 0 gathers them. */
struct iolens__mpi_row {
	char host[64];
	int rank;
	int cpu; /* the CPU the rank's main thread last ran on, -1 unknown */
	int ok;	 /* the result's status was IOLENS_STATUS_OK */
	int counted; /* its syscalls were counted (syscalls is meaningless otherwise) */
	unsigned conns; /* serve: the generator's connections (0: it sat this pass out) */
	uint64_t ops, bytes, syscalls, min, p50, p99, max;
	uint64_t sc_ops; /* the operations its syscalls were counted over (the counting pass's) */
	double iops, mib_s;
	double gbit_s;	     /* sockets: payload Gbit/s; NaN for a disk workload */
	double mean;	     /* its mean latency, ns (exact: every sample's sum over their count) */
	uint64_t lat_count;  /* the samples its histogram holds */
	double seconds;	     /* the window's length on the rank's own monotonic clock; NaN none */
	double busy;	     /* serve generators: CPU seconds per second while measuring; else NaN */
	double cpu_s;	     /* the rank's CPU (user + system) in its window; NaN not measured */
	uint64_t vcsw, ivcsw; /* its context switches in the window */
	double window_start; /* CLOCK_REALTIME seconds on the rank's own clock */
	char model[40];	     /* the rank's measured model, "" when not measured */
};

/* One result merged over every rank: filled on rank 0 only. */
struct iolens__mpi_merged {
	struct iolens__mpi_row *rows; /* one per rank, by rank */
	double *skew_us;	      /* each rank's window start after rank 0's first, corrected */
	struct iolens_hist *hist;     /* every rank's samples, bucket by bucket */
	uint64_t ops, bytes, syscalls, max;
	uint64_t min;	      /* the smallest of the ranks' minima (UINT64_MAX: none) */
	uint64_t vcsw, ivcsw; /* summed */
	uint64_t sc_ops;      /* the counted operations, summed (syscalls / sc_ops per op) */
	double cpu_s;	   /* summed; NaN when a rank did not measure it */
	double iops, mib_s; /* the sums of the ranks' */
	double gbit_s;	   /* sockets: the ranks' Gbit/s summed; NaN for disk */
	double lat_sum;	   /* sum over the ranks of mean x samples: the exact mean's numerator */
	uint64_t lat_n;	   /* the samples that sum is over (the histogram's count, or not exact) */
	double spread_us;  /* max - min of the corrected window starts */
	double len_spread_s; /* max - min of the window lengths (each rank's monotonic clock) */
	char model[40];	   /* the ranks' measured model when they agree, "mixed", or "" */
	unsigned ok_ranks; /* ranks whose result was OK */
	unsigned counted_ranks; /* of those, the ranks that counted syscalls */
};

/*
 * Collective: rank 0 times a few round trips with every other rank and
 * keeps, per rank, the offset of the fastest. clk (nranks entries) is
 * filled on rank 0. 0, or a negative errno.
 */
int iolens__mpi_clock_sync(int rank, int nranks, struct iolens__mpi_clock *clk);

/*
 * Collective: r (this rank's result of one spec) summed into m on rank 0;
 * other ranks leave m zeroed. Out of memory aborts the MPI job (the other
 * ranks are inside the same collective).
 */
void iolens__mpi_merge(const struct iolens_result *r, int rank, int nranks,
		       const struct iolens__mpi_clock *clk, struct iolens__mpi_merged *m);
void iolens__mpi_merged_free(struct iolens__mpi_merged *m);

/*
 * A histogram's bucket counts, indexed as the bucket walk gives them, and
 * each non-empty bucket's midpoint at the same index (IOLENS_HIST_NBUCKETS
 * each, zeroed first; h NULL: all zero): summed over ranks, the counts are
 * the merged histogram, and a midpoint names a bucket any rank filled.
 */
void iolens__mpi_buckets(const struct iolens_hist *h, uint64_t *counts, uint64_t *mids);
/* p, or, when NULL (out of memory mid-job, the other ranks waiting), end the whole job. */
void *iolens__mpi_or_abort(void *p);

/* Rank 0: m's totals from its rows (ok_ranks, sums, max, spread, model). */
void iolens__mpi_merge_rows(struct iolens__mpi_merged *m, int nranks,
			    const struct iolens__mpi_clock *clk);

/* Below 0.8 times the median IOPS of the ranks. */
int iolens__mpi_is_straggler(const struct iolens__mpi_merged *m, int nranks, int rank);

/* Rank 0: the per-rank table and the merged line of each result. */
void iolens__mpi_table(FILE *f, struct iolens_result *const *res,
		       const struct iolens__mpi_merged *m, size_t n, int nranks,
		       const struct iolens__mpi_clock *clk);

/*
 * Rank 0: rank 0's iolens/1 document with a "fleet" object added; with
 * lost (why a rank was lost), the fleet is only {"ranks", "error"} and m,
 * clk are not read. 0, or -EIO / -ENOMEM.
 */
int iolens__mpi_json(FILE *f, const struct iolens_meta *meta, struct iolens_result *const *res,
		     const struct iolens__mpi_merged *m, size_t n, int nranks,
		     const struct iolens__mpi_clock *clk, const char *lost);

/*
 * Wait for a non-blocking collective, at most the rank timeout (--rank-timeout).
 * 0, or -ETIMEDOUT: a rank is lost (iolens__mpi_lost says so from then on).
 */
int iolens__mpi_wait(MPI_Request *req);
/* The same, at most `seconds` (a generator waits out the server's whole pass). */
int iolens__mpi_wait_for(MPI_Request *req, double seconds);
extern int iolens__mpi_lost;
extern double iolens__mpi_timeout_s;

#endif
