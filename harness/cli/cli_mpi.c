/*
 * iolens-mpi: `mpirun -n N iolens-mpi run [iolens run options]`. Every rank
 * parses the same options, opens its own target and runs every spec, each
 * pass started at a barrier so every rank's window is the same phase; rank
 * 0 merges (cli_mpi_merge.c), prints the per-rank table and writes the
 * files and records the run (docs/mpi.md). Socket roles: cli_mpi_roles.c
 * (a responder rank) and cli_mpi_serve.c (generator ranks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_mpi.h"
#include "cli_output.h"
#include "cli_run.h"
#include "cli_usage.h"
#include "hdrlog.h"
#include "iolens/iolens.h"
#include "store.h"

static const char mpi_help[] =
    "usage: mpirun [--allow-run-as-root] --bind-to none -n N [--host a,b] iolens-mpi run "
    "[options]\n"
    "\n"
    "Runs the same `iolens run` on every rank. Each pass (warm-up and window, the\n"
    "counting pass) starts at an MPI barrier and each window opens at another, so\n"
    "every rank measures the same phase; rank 0 prints where each rank ran, a\n"
    "per-rank table with stragglers marked (IOPS below 0.8 x the median) and one\n"
    "merged line per backend: IOPS summed, percentiles from the histograms summed\n"
    "bucket by bucket, the ranks' measured model.\n"
    "\n"
    "The options are those of `iolens run` (iolens-mpi run --help), with these limits:\n"
    "  disk workloads on every rank; echo and stream with --responder-rank; serve\n"
    "  with rank 0 the server and every other rank a load generator (one thread\n"
    "  each, the connections shared out)\n"
    "  --json PATH and --csv PATH are written by rank 0 (rank 0's results, and for\n"
    "  --json a \"fleet\" object with every rank's figures); '-' is refused\n"
    "  --hdr-log PATH: one interval per result, the fleet's merged histogram\n"
    "  (serve: the server's, which holds every generator's samples)\n"
    "  rank 0 records the run in the results database as kind \"fleet\", its\n"
    "  figures the merged ones (--db, --no-db, --label as for iolens run)\n"
    "  with --file every rank uses that path (on one host, the same file)\n"
    "\n"
    "  --responder-rank R      rank R serves the iolens responder; every other rank\n"
    "                          runs --workload echo or stream against it\n"
    "  --responder-listen ADDR where rank R listens, HOST:PORT the others can reach\n"
    "                          (default loopback with a free port: one host only)\n"
    "  --rank-timeout DURATION how long a rank waits for the others at a barrier or\n"
    "                          merge (default 30s); past it a rank counts as lost:\n"
    "                          the first rank writes its own results, marked, and\n"
    "                          the job ends (give Open MPI --mca orte_enable_recovery 1\n"
    "                          so it does not end the job itself when a rank dies)\n"
    "  --rank-netns PATTERN    each rank enters the network namespace PATTERN with\n"
    "                          %d its rank (a name under /var/run/netns, or a path)\n"
    "                          after MPI has set up: ranks as hosts on one machine\n"
    "  serve: --listen ADDR is where rank 0 listens (default loopback: one host\n"
    "  only); a wildcard 0.0.0.0:PORT has the generators connect to rank 0's host name\n"
    "\n"
    "Give Open MPI --bind-to none: its default core binding distorts latency.\n";

static volatile int stop_flag;
static int my_rank, n_ranks; /* in iolens__mpi_comm: every rank, or the echo clients */
static struct iolens__mpi_roles roles;
static struct iolens__mpi_serve *serving; /* rank 0 of a serve run */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int iolens__mpi_lost;
double iolens__mpi_timeout_s = 30;

int iolens__mpi_wait(MPI_Request *req)
{
	return iolens__mpi_wait_for(req, iolens__mpi_timeout_s);
}

int iolens__mpi_wait_for(MPI_Request *req, double seconds)
{
	struct timespec nap = {0, 20000};
	struct timespec now;
	double deadline;
	int done = 0;

	if (iolens__mpi_lost)
		return -ETIMEDOUT;
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (double)now.tv_sec + (double)now.tv_nsec / 1e9 + seconds;
	for (;;) {
		if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done)
			return done ? 0 : -EIO;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)now.tv_sec + (double)now.tv_nsec / 1e9 > deadline)
			break;
		nanosleep(&nap, NULL);
		/*
		 * A quick answer is met within tens of microseconds; a long wait (a
		 * generator through the server's window) polls every millisecond,
		 * taking next to no CPU from the load it generates.
		 */
		if (nap.tv_nsec < 1000000)
			nap.tv_nsec *= 2;
	}
	iolens__mpi_lost = 1;
	stop_flag = 1; /* what is still running ends now, marked interrupted */
	return -ETIMEDOUT;
}

/* on_pass: every rank starts each pass of each backend together (or learns one is lost). */
static void pass_barrier(void *arg, const char *spec, int pass)
{
	MPI_Request req;

	(void)arg;
	(void)spec;
	(void)pass;
	if (iolens__mpi_lost)
		return;
	MPI_Ibarrier(iolens__mpi_comm, &req);
	iolens__mpi_wait(&req);
}

/*
 * on_window: the windows open together. Each rank comes here after its own
 * warm-up and set-up; the barrier takes their differences out of the
 * window starts (what is left is the barrier's own release skew).
 */
static void window_barrier(void *arg)
{
	MPI_Request req;

	(void)arg;
	if (iolens__mpi_lost)
		return;
	MPI_Ibarrier(iolens__mpi_comm, &req);
	iolens__mpi_wait(&req);
}

/* A one-line usage error; returns 2. Said by rank 0 only. */
__attribute__((format(printf, 1, 2))) static int mpi_usage(const char *fmt, ...)
{
	va_list ap;

	if (my_rank != 0)
		return 2;
	fputs("iolens-mpi: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/*
 * Every rank parses the same options; only rank 0 says what they lack
 * (its --help, its usage errors). 0, -1 after --help, or 2.
 */
static int parse_quietly(int argc, char **argv, struct iolens__run_args *a)
{
	int out = -1, err = -1, null = -1, r;

	if (my_rank != 0) {
		fflush(stdout);
		fflush(stderr);
		out = dup(STDOUT_FILENO);
		err = dup(STDERR_FILENO);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out >= 0 && err >= 0 && null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
	}
	r = iolens__run_parse(argc, argv, a);
	if (my_rank != 0) {
		fflush(stdout);
		fflush(stderr);
		if (out >= 0 && err >= 0 && null >= 0) {
			dup2(out, STDOUT_FILENO);
			dup2(err, STDERR_FILENO);
		}
		if (out >= 0)
			close(out);
		if (err >= 0)
			close(err);
		if (null >= 0)
			close(null);
	}
	return r;
}

/* The limits of this first version; 0, or 2 with one line said (rank 0). */
static int check_supported(const struct iolens__run_args *a)
{
	char name[64];

	if (a->fio_job)
		return mpi_usage("--fio-job: not supported under iolens-mpi yet (run the job file with iolens run)");
	if (roles.responder >= 0 && a->w.kind != IOLENS_WL_ECHO && a->w.kind != IOLENS_WL_STREAM)
		return mpi_usage("--responder-rank: for --workload echo or stream only");
	if (roles.responder >= 0 && a->w.connect)
		return mpi_usage("--connect: not with --responder-rank (the responder rank is the peer)");
	if ((a->w.kind == IOLENS_WL_ECHO || a->w.kind == IOLENS_WL_STREAM) && roles.responder < 0) {
		iolens_workload_names(1u << a->w.kind, name, sizeof(name));
		return mpi_usage("--workload %s: needs --responder-rank R (the rank the others %s)",
				 name, a->w.kind == IOLENS_WL_ECHO ? "echo against" : "stream to");
	}
	if (a->w.kind == IOLENS_WL_SERVE && n_ranks < 2)
		return mpi_usage("--workload serve: needs 2 or more ranks (rank 0 serves, the others "
				 "generate the load)");
	if (a->w.kind == IOLENS_WL_SERVE && a->w.peer_cpu >= 0)
		return mpi_usage("--peer-cpu: pins the built-in load generator; under iolens-mpi the "
				 "generator ranks run where mpirun starts them");
	if ((a->json && !strcmp(a->json, "-")) || (a->csv && !strcmp(a->csv, "-")))
		return mpi_usage(
		    "--%s -: not supported (rank 0 writes files; the table is on stdout)",
		    a->json && !strcmp(a->json, "-") ? "json" : "csv");
	if (a->hdr_log && !strcmp(a->hdr_log, "-"))
		return mpi_usage("--hdr-log -: not supported (rank 0 writes files; the table is on "
				 "stdout)");
	return 0;
}

/* Every rank of comm agrees: the worst (largest) of the ranks' r; 1 when a rank is lost. */
static int agree_in(MPI_Comm comm, int r)
{
	static int mine, worst; /* a lost rank leaves the request pending on them */
	MPI_Request req;

	if (iolens__mpi_lost)
		return 1;
	mine = worst = r;
	MPI_Iallreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm, &req);
	return iolens__mpi_wait(&req) ? 1 : worst;
}

static int agree(int r)
{
	return agree_in(iolens__mpi_comm, r);
}

/* Rank 0's output files, opened (and so checked) before anything runs. */
static struct iolens__output json_out, csv_out, hdr_out;
static const struct iolens__store_args *store_args; /* --db, --no-db, --label */
static struct iolens_meta run_meta; /* collected as the run starts: its start time */

/* Rank 0: --json, --csv and --hdr-log, checked and opened. 0, or 2 after the usage error. */
static int open_outputs(const struct iolens__run_args *a)
{
	struct iolens__output *out[] = { &json_out, &csv_out, &hdr_out };
	int r = iolens__output_open(&json_out, "--json", a->json);

	if (!r)
		r = iolens__output_open(&csv_out, "--csv", a->csv);
	if (!r)
		r = iolens__output_open(&hdr_out, "--hdr-log", a->hdr_log);
	for (int i = 0; !r && i < 3; i++)
		for (int j = i + 1; !r && j < 3; j++)
			if (out[i]->f && out[j]->f && iolens__output_same(out[i], out[j]))
				r = mpi_usage("%s/%s: both name '%s' (give each its own file)",
					      out[i]->opt, out[j]->opt, out[j]->path);
	store_args = &a->store;
	return r;
}

/* What f wrote into memory, as a string; NULL when it failed or ran out of memory. */
static char *drained(FILE *f, char **buf, int failed)
{
	if (!f || fclose(f) || failed) {
		free(*buf);
		*buf = NULL;
	}
	return *buf;
}

/*
 * The hdr log: one interval per result of the fleet's merged histogram (for
 * serve, the server's result holds the generators' samples already).
 */
static int write_hdr(const struct iolens_meta *meta, struct iolens_result **res,
		     const struct iolens__mpi_merged *m, size_t n)
{
	struct iolens_result *merged[IOLENS__MAX_RESULTS], *copy;
	int r = 0;

	if (serving)
		return iolens__hdrlog_write(hdr_out.f, meta, res, n);
	copy = calloc(n ? n : 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) { /* the result as it was, with the fleet's histogram */
		copy[i] = *res[i];
		copy[i].hist = m[i].hist;
		merged[i] = &copy[i];
	}
	r = iolens__hdrlog_write(hdr_out.f, meta, merged, n);
	free(copy);
	return r;
}

/*
 * The files, on the rank that opened them: the document with its fleet
 * (or, when a rank was lost, with why there is none), the CSV and the hdr
 * log (none without a merge); then the run is recorded (a fleet without a
 * merge is refused there, with why). 1 when a file could not be written.
 */
static int write_files(struct iolens_result **res, const struct iolens__mpi_merged *m, size_t n,
		       const struct iolens__mpi_clock *clk, const char *cmdline, const char *lost,
		       const char *table)
{
	struct iolens__store_run run = { .kind = "fleet", .table = table };
	struct iolens_meta meta = run_meta;
	char *doc = NULL, *csv = NULL;
	size_t dl = 0, cl = 0;
	FILE *df = open_memstream(&doc, &dl), *cf = open_memstream(&csv, &cl);
	int failed = 0;

	meta.command_line = cmdline;
	meta.interrupted = stop_flag || lost;
	drained(df, &doc, !df || iolens__mpi_json(df, &meta, res, m, n, n_ranks, clk, lost));
	drained(cf, &csv, !cf || iolens__csv_write(cf, res, n));
	errno = ENOMEM;
	if (json_out.f && (!doc || fputs(doc, json_out.f) == EOF))
		failed |= iolens__output_abandon(&json_out);
	errno = ENOMEM;
	if (csv_out.f && (!csv || fputs(csv, csv_out.f) == EOF))
		failed |= iolens__output_abandon(&csv_out);
	if (hdr_out.f && lost) {
		fprintf(stderr, "iolens-mpi: --hdr-log: not written: %s\n", lost);
		iolens__output_discard(&hdr_out);
	} else if (hdr_out.f && (errno = -write_hdr(&meta, res, m, n))) {
		failed |= iolens__output_abandon(&hdr_out);
	}
	failed |= iolens__output_finish(&json_out);
	failed |= iolens__output_finish(&csv_out);
	failed |= iolens__output_finish(&hdr_out);
	if (store_args) {
		run.label = store_args->label;
		iolens__store_save_text(store_args, &run, &meta, doc, csv, stdout);
	}
	free(doc);
	free(csv);
	return failed;
}

/* The table as printed, kept for the results database; NULL when out of memory. */
static char *show_table(struct iolens_result **res, const struct iolens__mpi_merged *m, size_t n,
			const struct iolens__mpi_clock *clk)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f && serving)
		iolens__mpi_serve_table(f, res, m, n, n_ranks);
	else if (f)
		iolens__mpi_table(f, res, m, n, n_ranks, clk);
	if (drained(f, &text, 0))
		fputs(text, stdout);
	return text;
}

/* Rank 0: the table, the files and the record. 1 when a file could not be written. */
static int report(struct iolens_result **res, const struct iolens__mpi_merged *m, size_t n,
		  const struct iolens__mpi_clock *clk, const char *cmdline)
{
	char *table = show_table(res, m, n, clk);
	int failed = write_files(res, m, n, clk, cmdline, NULL, table);

	free(table);
	return failed;
}

/*
 * A rank is lost (a collective did not complete within --rank-timeout):
 * the rank that writes the files writes its own results, marked
 * interrupted, with a fleet that says why there is no merge; every rank
 * still here says so and the job ends (MPI_Abort: MPI cannot go on
 * without the rank). Never returns.
 */
static void lost_end(struct iolens_result **res, size_t n, const char *cmdline)
{
	char why[256];

	snprintf(why, sizeof(why), "a rank was lost: a collective with it did not complete within "
		 "%g s (--rank-timeout); these are rank %d's own results", iolens__mpi_timeout_s,
		 iolens__mpi_world_rank);
	fprintf(stderr, "iolens-mpi: rank %d: %s\n", iolens__mpi_world_rank, why);
	if (store_args && !store_args->no_db)
		fprintf(stderr, "iolens-mpi: the run is not recorded in the results database: "
			"without the lost rank there is no fleet to record\n");
	store_args = NULL;
	write_files(res, NULL, n, NULL, cmdline, why, NULL);
	fflush(stdout);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, 1);
	_exit(1);
}

/* Run every spec --repeat times on this rank; 0 with *n results, or an exit status. */
static int run_all(struct iolens__run_args *a, struct iolens_result **res, size_t *n)
{
	struct iolens_target *t = NULL;
	char err[512];
	int r;

	*n = 0;
	r = iolens_target_open(&t, &a->w, err, sizeof(err));
	if (r)
		fprintf(stderr, "iolens-mpi: rank %d: %s\n", my_rank, err);
	r = agree(r ? (r == -EINVAL || r == -ENOENT || r == -EACCES ? 2 : 1) : 0);
	for (unsigned k = 0; !r && k < a->repeat && !(k && stop_flag); k++) {
		if (serving)
			iolens__mpi_serve_repeat(serving, k);
		r = iolens_run_many(t, &a->w, (const char *const *)a->specs, a->nspecs, res + *n,
				    err, sizeof(err));
		if (r) {
			fprintf(stderr, "iolens-mpi: rank %d: %s\n", my_rank,
				r == -EINVAL ? err : iolens_strerror(r));
			r = r == -EINVAL ? 2 : 1;
		} else {
			*n += a->nspecs;
		}
		/* A rank that failed has left the barriers: the others must stop too. */
		r = agree(r);
	}
	iolens_target_close(t);
	return r;
}

/*
 * serve: every rank but rank 0 becomes a load generator and obeys rank 0
 * until it ends (1 returned: this rank is done, *r its status); rank 0
 * drives them through w->loadgen.
 */
static int serve_roles(struct iolens__run_args *a, MPI_Comm *own, int *r)
{
	int world;

	MPI_Comm_size(MPI_COMM_WORLD, &world);
	iolens__mpi_serve_split(own);
	if (iolens__mpi_world_rank != 0) {
		*r = iolens__mpi_generate(&a->w);
		return 1;
	}
	serving = iolens__mpi_serve_new(world);
	a->w.loadgen = iolens__mpi_serve_hooks(serving);
	MPI_Comm_rank(iolens__mpi_comm, &my_rank);
	MPI_Comm_size(iolens__mpi_comm, &n_ranks);
	return 0;
}

/* Rank 0 of serve: each result as the generators' rows. 0, or 1 when out of memory. */
static int serve_merge(const struct iolens__run_args *a, struct iolens_result **res, size_t n,
		       struct iolens__mpi_merged *m)
{
	for (size_t i = 0; i < n; i++)
		if (iolens__mpi_serve_merged(serving, res[i], a->specs[i % a->nspecs],
					     (unsigned)(i / a->nspecs), &m[i]))
			return 1;
	return 0;
}

static int cmd_run(int argc, char **argv, const char *cmdline)
{
	struct iolens_result *res[IOLENS__MAX_RESULTS];
	struct iolens__mpi_merged *m = NULL;
	struct iolens__mpi_clock *clk = NULL;
	struct iolens__run_args a;
	MPI_Comm own = MPI_COMM_NULL;
	char peer[256];
	size_t n = 0;
	int r, failed = 0;

	r = parse_quietly(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	r = check_supported(&a);
	/* The first rank that runs the workload writes the files. */
	if (!r && my_rank == (roles.responder == 0 ? 1 : 0))
		r = open_outputs(&a);
	/* That rank alone knows whether its files can be written: every rank learns it. */
	r = agree_in(MPI_COMM_WORLD, r);
	if (!r && roles.responder >= 0) {
		r = iolens__mpi_roles_start(&roles, iolens__mpi_world_rank, peer, sizeof(peer));
		if (!r && iolens__mpi_world_rank == roles.responder)
			goto out_args; /* it serves until the clients are done (main) */
		if (a.w.kind == IOLENS_WL_STREAM)
			iolens__mpi_role.name = "stream"; /* the clients stream to its sink */
		MPI_Comm_rank(iolens__mpi_comm, &my_rank);
		MPI_Comm_size(iolens__mpi_comm, &n_ranks);
		a.w.connect = peer;
	}
	if (!r && a.w.kind == IOLENS_WL_SERVE && serve_roles(&a, &own, &r))
		goto out_args;
	if (r)
		goto out_args;
	a.w.stop = &stop_flag;
	a.w.on_pass = serving ? iolens__mpi_serve_on_pass : pass_barrier;
	a.w.on_pass_arg = serving;
	a.w.on_window = window_barrier;
	clk = calloc((size_t)n_ranks, sizeof(*clk));
	r = agree(clk ? 0 : 1);
	if (!r)
		r = agree(iolens__mpi_clock_sync(my_rank, n_ranks, clk) ? 1 : 0);
	iolens_meta_collect(&run_meta, cmdline);
	if (!r)
		r = run_all(&a, res, &n);
	if (iolens__mpi_lost)
		lost_end(res, n, cmdline);
	if (r)
		goto out;
	m = calloc(n ? n : 1, sizeof(*m));
	failed = agree(m ? 0 : 1);
	if (!failed && serving) {
		MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
		n_ranks--; /* the fleet's rows are the generators' */
		failed = serve_merge(&a, res, n, m);
		free(clk);
		clk = calloc((size_t)n_ranks, sizeof(*clk));
		for (int i = 0; clk && i < n_ranks; i++)
			clk[i].offset_us = clk[i].rtt_us = NAN; /* their clocks were not compared */
		if (!failed)
			failed = !clk || report(res, m, n, clk, cmdline);
	} else if (!failed) {
		for (size_t i = 0; i < n; i++)
			iolens__mpi_merge(res[i], my_rank, n_ranks, clk, &m[i]);
		if (iolens__mpi_lost)
			lost_end(res, n, cmdline);
		if (my_rank == 0)
			failed = report(res, m, n, clk, cmdline);
	}
	for (size_t i = 0; i < n; i++)
		failed |= res[i]->status == IOLENS_STATUS_ERROR;
	r = stop_flag ? 130 : failed;
out:
	for (size_t i = 0; m && i < n; i++)
		iolens__mpi_merged_free(&m[i]);
	free(m);
	for (size_t i = 0; i < n; i++)
		iolens_result_free(res[i]);
	free(clk);
out_args:
	if (serving) {
		iolens__mpi_serve_end(serving);
		iolens__mpi_serve_free(serving);
		serving = NULL;
	}
	if (own != MPI_COMM_NULL) {
		iolens__mpi_comm = MPI_COMM_WORLD;
		MPI_Comm_free(&own);
	}
	iolens__output_discard(&json_out);
	iolens__output_discard(&csv_out);
	iolens__output_discard(&hdr_out);
	store_args = NULL;
	iolens__run_args_free(&a);
	return r;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	char *cmdline;
	int r;

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
		fputs("iolens-mpi: MPI_Init failed\n", stderr);
		return 1;
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
	iolens__mpi_world_rank = my_rank;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (my_rank == 0)
			fputs(mpi_help, argc < 2 ? stderr : stdout);
		r = argc < 2 ? 2 : 0;
	} else if (strcmp(argv[1], "run")) {
		r = mpi_usage("'%s': iolens-mpi has one command, run", argv[1]);
	} else {
		char err[256];

		cmdline = iolens__join_args(argc, argv);
		r = iolens__mpi_take_roles(&argc, argv, n_ranks, &roles, err, sizeof(err));
		if (r) {
			mpi_usage("%s", err);
		} else if (iolens__mpi_enter_netns(&roles, my_rank, err, sizeof(err))) {
			/* Only the rank that failed knows why: it says so itself. */
			fprintf(stderr, "iolens-mpi: %s\n", err);
			r = 2;
		}
		r = agree_in(MPI_COMM_WORLD, r);
		if (!r)
			r = cmd_run(argc - 1, argv + 1, cmdline);
		iolens__mpi_roles_end(&roles);
		free(cmdline);
	}
	MPI_Finalize();
	return r;
}
