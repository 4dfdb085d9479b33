/*
 * serve at fleet scale: rank 0 runs `--workload serve` with the backend
 * under test; every other rank is a load generator (iolens's own, the one
 * `iolens run --workload serve` starts in a child process, one thread per
 * rank) that rank 0's run drives through struct iolens_loadgen. MPI
 * carries the commands (start, measure on and off, finish) and the
 * figures; the requests go over iolens's own sockets, rank to rank.
 *
 * The connections are shared out over the generator ranks (the first
 * conns % G take one more); a generator left without any sits the pass
 * out. Each pass's figures come back as every generator's counts and
 * histogram buckets: rank 0 sums them into the pass's histogram (exact,
 * bucket by bucket) and keeps each generator's row for the table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_mpi.h"

enum { GC_START = 1, GC_MEASURE, GC_FINISH, GC_END };

struct gen_cmd {
	int op, on, transport;
	unsigned conns, msg, depth;
	char addr[192];
};

struct gen_reply {
	int err;
	int cpu;
	double busy; /* the rank's CPU time over its measuring time (1.0: one CPU's worth) */
	unsigned conns, connected;
	uint64_t requests, bytes;
	char host[64];
	char msg[200];
};

/* One timed pass of one spec: each generator's reply and histogram. */
struct slot {
	const char *spec;
	unsigned repeat;
	int filled;
	struct gen_reply *rep;	   /* by world rank (0 unused) */
	struct iolens_hist **hist; /* likewise */
};

struct iolens__mpi_serve {
	int world;	/* ranks: 1 server + world - 1 generators */
	unsigned repeat; /* the repeat running */
	int pass;	/* the pass running: 0 timed, 1 counted */
	struct slot *slots;
	size_t nslots;
	int ended;
	struct iolens_loadgen hooks;
	/* Buffers a pending collective may still read after a rank is lost. */
	struct gen_cmd cmd;
	struct gen_reply mine, *replies;
	uint64_t *counts, *mids, *all_counts, *all_mids;
};

void iolens__mpi_serve_split(MPI_Comm *own)
{
	MPI_Comm_split(MPI_COMM_WORLD, iolens__mpi_world_rank == 0 ? 0 : 1,
		       iolens__mpi_world_rank, own);
	if (iolens__mpi_world_rank == 0)
		iolens__mpi_comm = *own;
	iolens__mpi_role = (struct iolens__mpi_role){ "serve", "server_rank", 0 };
}

/* This generator's share of conns: conns / g, the first conns % g one more. */
static unsigned share_of(unsigned conns, int world, int rank)
{
	unsigned g = (unsigned)(world - 1), k = (unsigned)(rank - 1);

	return conns / g + (k < conns % g);
}

/* ---- a generator rank ---- */

/* This process's CPU time and the monotonic clock, in seconds. */
static void cpu_and_clock(double *cpu, double *now)
{
	struct rusage ru;
	struct timespec ts;

	getrusage(RUSAGE_SELF, &ru);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	*now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply_self(struct gen_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->cpu = sched_getcpu();
	if (gethostname(rep->host, sizeof(rep->host) - 1))
		strcpy(rep->host, "unknown");
}

int iolens__mpi_generate(const struct iolens_workload *w)
{
	/* Between two commands rank 0 may accept every connection, warm up and run a window. */
	double patience = iolens__mpi_timeout_s + w->warmup_s + w->time_s + 30 + w->conns / 500.0;
	uint64_t *counts = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*counts)));
	uint64_t *mids = iolens__mpi_or_abort(calloc(IOLENS_HIST_NBUCKETS, sizeof(*mids)));
	static struct gen_cmd cmd; /* a lost server leaves requests pending on these */
	static struct gen_reply rep;
	struct iolens_generator *g = NULL;
	char err[256];
	unsigned share = 0; /* this pass's connections */
	double cpu0 = 0, t0 = 0, busy = NAN; /* the rank's CPU while measuring */
	int world, failed = 0;

	MPI_Comm_size(MPI_COMM_WORLD, &world);
	if (iolens_generator_new(&g, 1, -1, err, sizeof(err))) {
		fprintf(stderr, "iolens-mpi: rank %d: %s\n", iolens__mpi_world_rank, err);
		failed = 1; /* every start is then answered with the error */
	}
	for (;;) {
		MPI_Request req[3];
		struct iolens_loadgen_figures f;

		MPI_Ibcast(&cmd, (int)sizeof(cmd), MPI_BYTE, 0, MPI_COMM_WORLD, &req[0]);
		if (iolens__mpi_wait_for(&req[0], patience)) {
			fprintf(stderr, "iolens-mpi: rank %d: rank 0 (the server) said nothing for %g s: "
				"it is lost; this load generator ends\n", iolens__mpi_world_rank, patience);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
		if (cmd.op == GC_END)
			break;
		if (cmd.op == GC_MEASURE) {
			double cpu, now;

			if (g)
				iolens_generator_measure(g, cmd.on);
			cpu_and_clock(&cpu, &now);
			if (cmd.on) {
				cpu0 = cpu;
				t0 = now;
			} else {
				busy = now > t0 ? (cpu - cpu0) / (now - t0) : NAN;
			}
			continue;
		}
		reply_self(&rep);
		if (cmd.op == GC_START) {
			rep.conns = share = share_of(cmd.conns, world, iolens__mpi_world_rank);
			busy = NAN;
			if (!g) {
				rep.err = -ENOMEM;
				snprintf(rep.msg, sizeof(rep.msg), "%.199s", err);
			} else if (rep.conns) {
				rep.err = iolens_generator_start(g, cmd.addr, cmd.transport, rep.conns,
								 cmd.msg, cmd.depth, rep.msg,
								 sizeof(rep.msg));
			}
			MPI_Igather(&rep, (int)sizeof(rep), MPI_BYTE, NULL, 0, MPI_BYTE, 0,
				    MPI_COMM_WORLD, &req[0]);
			if (iolens__mpi_wait_for(&req[0], patience))
				MPI_Abort(MPI_COMM_WORLD, 1);
			continue;
		}
		/* GC_FINISH */
		memset(&f, 0, sizeof(f));
		if (g)
			iolens_generator_finish(g, &f);
		rep.conns = share;
		rep.busy = busy;
		rep.connected = f.connected;
		rep.requests = f.requests;
		rep.bytes = f.bytes;
		rep.err = f.err;
		snprintf(rep.msg, sizeof(rep.msg), "%.199s", f.errmsg);
		iolens__mpi_buckets(f.hist, counts, mids);
		iolens_hist_free(f.hist);
		MPI_Igather(&rep, (int)sizeof(rep), MPI_BYTE, NULL, 0, MPI_BYTE, 0, MPI_COMM_WORLD,
			    &req[0]);
		MPI_Igather(counts, IOLENS_HIST_NBUCKETS, MPI_UINT64_T, NULL, 0, MPI_UINT64_T, 0,
			    MPI_COMM_WORLD, &req[1]);
		MPI_Igather(mids, IOLENS_HIST_NBUCKETS, MPI_UINT64_T, NULL, 0, MPI_UINT64_T, 0,
			    MPI_COMM_WORLD, &req[2]);
		for (int i = 0; i < 3; i++)
			if (iolens__mpi_wait_for(&req[i], patience))
				MPI_Abort(MPI_COMM_WORLD, 1);
	}
	iolens_generator_free(g);
	free(counts);
	free(mids);
	return failed;
}

/* ---- rank 0: the hooks ---- */

/* Send cmd to every generator; 0, or -ETIMEDOUT (a rank is lost). */
static int command(struct iolens__mpi_serve *s)
{
	MPI_Request req;

	if (iolens__mpi_lost)
		return -ETIMEDOUT;
	MPI_Ibcast(&s->cmd, (int)sizeof(s->cmd), MPI_BYTE, 0, MPI_COMM_WORLD, &req);
	return iolens__mpi_wait(&req);
}

/* Every generator's reply into s->replies; 0 or -ETIMEDOUT. */
static int gather_replies(struct iolens__mpi_serve *s)
{
	MPI_Request req;

	reply_self(&s->mine);
	MPI_Igather(&s->mine, (int)sizeof(s->mine), MPI_BYTE, s->replies, (int)sizeof(s->mine),
		    MPI_BYTE, 0, MPI_COMM_WORLD, &req);
	return iolens__mpi_wait(&req);
}

static int lost(char *err, size_t errlen)
{
	snprintf(err, errlen, "a generator rank was lost (no answer within %g s, --rank-timeout)",
		 iolens__mpi_timeout_s);
	return -ETIMEDOUT;
}

static int hook_start(void *arg, const char *addr, int transport, unsigned conns, uint32_t msg,
		      unsigned depth, char *err, size_t errlen)
{
	struct iolens__mpi_serve *s = arg;
	char host[64];
	int port;

	s->cmd = (struct gen_cmd){ .op = GC_START, .transport = transport, .conns = conns,
				   .msg = msg, .depth = depth };
	/* A wildcard listener: the generators connect to this host by name. */
	if (sscanf(addr, "0.0.0.0:%d", &port) == 1 && !gethostname(host, sizeof(host) - 1)) {
		host[sizeof(host) - 1] = '\0';
		snprintf(s->cmd.addr, sizeof(s->cmd.addr), "%s:%d", host, port);
	} else {
		snprintf(s->cmd.addr, sizeof(s->cmd.addr), "%s", addr);
	}
	if (command(s) || gather_replies(s))
		return lost(err, errlen);
	for (int i = 1; i < s->world; i++)
		if (s->replies[i].err) {
			snprintf(err, errlen, "rank %d (%s): %s", i, s->replies[i].host,
				 s->replies[i].msg);
			return s->replies[i].err;
		}
	return 0;
}

static void hook_measure(void *arg, int on)
{
	struct iolens__mpi_serve *s = arg;

	memset(&s->cmd, 0, sizeof(s->cmd));
	s->cmd.op = GC_MEASURE;
	s->cmd.on = on;
	command(s);
}

/* The slot of the timed pass running now, or NULL. */
static struct slot *current(struct iolens__mpi_serve *s)
{
	return s->pass == 0 && s->nslots ? &s->slots[s->nslots - 1] : NULL;
}

static void hook_finish(void *arg, struct iolens_loadgen_figures *out)
{
	struct iolens__mpi_serve *s = arg;
	size_t nb = IOLENS_HIST_NBUCKETS;
	struct slot *sl = current(s);
	MPI_Request req[2];

	memset(&s->cmd, 0, sizeof(s->cmd));
	s->cmd.op = GC_FINISH;
	if (command(s) || gather_replies(s)) {
		out->err = lost(out->errmsg, sizeof(out->errmsg));
		return;
	}
	/* Rank 0's own part of the gathers: zeros (calloc), it generates nothing. */
	MPI_Igather(s->counts, (int)nb, MPI_UINT64_T, s->all_counts, (int)nb, MPI_UINT64_T, 0,
		    MPI_COMM_WORLD, &req[0]);
	MPI_Igather(s->mids, (int)nb, MPI_UINT64_T, s->all_mids, (int)nb, MPI_UINT64_T, 0,
		    MPI_COMM_WORLD, &req[1]);
	if (iolens__mpi_wait(&req[0]) || iolens__mpi_wait(&req[1])) {
		out->err = lost(out->errmsg, sizeof(out->errmsg));
		return;
	}
	out->hist = iolens__mpi_or_abort(iolens_hist_new());
	for (int i = 1; i < s->world; i++) {
		const struct gen_reply *rp = &s->replies[i];
		const uint64_t *c = s->all_counts + (size_t)i * nb, *m = s->all_mids + (size_t)i * nb;
		struct iolens_hist *own = iolens__mpi_or_abort(iolens_hist_new());

		out->connected += rp->connected;
		out->requests += rp->requests;
		out->bytes += rp->bytes;
		if (rp->err && !out->err) {
			out->err = rp->err;
			snprintf(out->errmsg, sizeof(out->errmsg), "rank %d (%.50s): %.170s", i, rp->host,
				 rp->msg);
		}
		for (size_t b = 0; b < nb; b++)
			iolens_hist_add_n(own, m[b], c[b]); /* count 0 adds nothing */
		iolens_hist_merge(out->hist, own);
		if (sl) {
			sl->rep[i] = *rp;
			iolens_hist_free(sl->hist[i]);
			sl->hist[i] = own;
		} else {
			iolens_hist_free(own);
		}
	}
	if (sl)
		sl->filled = 1;
}

struct iolens__mpi_serve *iolens__mpi_serve_new(int world_size)
{
	struct iolens__mpi_serve *s = iolens__mpi_or_abort(calloc(1, sizeof(*s)));
	size_t nb = IOLENS_HIST_NBUCKETS, w = (size_t)world_size;

	s->world = world_size;
	s->replies = iolens__mpi_or_abort(calloc(w, sizeof(*s->replies)));
	s->counts = iolens__mpi_or_abort(calloc(nb, sizeof(*s->counts)));
	s->mids = iolens__mpi_or_abort(calloc(nb, sizeof(*s->mids)));
	s->all_counts = iolens__mpi_or_abort(calloc(nb * w, sizeof(*s->all_counts)));
	s->all_mids = iolens__mpi_or_abort(calloc(nb * w, sizeof(*s->all_mids)));
	s->hooks = (struct iolens_loadgen){ hook_start, hook_measure, hook_finish, s };
	return s;
}

const struct iolens_loadgen *iolens__mpi_serve_hooks(struct iolens__mpi_serve *s)
{
	return &s->hooks;
}

void iolens__mpi_serve_repeat(struct iolens__mpi_serve *s, unsigned repeat)
{
	s->repeat = repeat;
}

void iolens__mpi_serve_on_pass(void *arg, const char *spec, int pass)
{
	struct iolens__mpi_serve *s = arg;
	struct slot *sl;

	s->pass = pass;
	if (pass != 0)
		return;
	s->slots = iolens__mpi_or_abort(realloc(s->slots, (s->nslots + 1) * sizeof(*s->slots)));
	sl = &s->slots[s->nslots++];
	memset(sl, 0, sizeof(*sl));
	sl->spec = spec;
	sl->repeat = s->repeat;
	sl->rep = iolens__mpi_or_abort(calloc((size_t)s->world, sizeof(*sl->rep)));
	sl->hist = iolens__mpi_or_abort(calloc((size_t)s->world, sizeof(*sl->hist)));
}

int iolens__mpi_serve_merged(struct iolens__mpi_serve *s, const struct iolens_result *res,
			     const char *spec, unsigned repeat, struct iolens__mpi_merged *m)
{
	const struct slot *sl = NULL;
	int ngen = s->world - 1;
	struct iolens__mpi_clock *none;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < s->nslots && !sl; i++)
		if (s->slots[i].spec == spec && s->slots[i].repeat == repeat && s->slots[i].filled)
			sl = &s->slots[i];
	m->rows = calloc((size_t)ngen, sizeof(*m->rows));
	m->skew_us = calloc((size_t)ngen, sizeof(*m->skew_us));
	m->hist = iolens_hist_new();
	none = calloc((size_t)ngen, sizeof(*none));
	if (!m->rows || !m->skew_us || !m->hist || !none) {
		free(none);
		return -ENOMEM;
	}
	for (int i = 0; i < ngen; i++) {
		struct iolens__mpi_row *row = &m->rows[i];
		const struct gen_reply *rp = sl ? &sl->rep[i + 1] : NULL;
		const struct iolens_hist *h = sl ? sl->hist[i + 1] : NULL;

		none[i].offset_us = none[i].rtt_us = NAN; /* no window of their own to line up */
		row->rank = i + 1;
		row->cpu = rp ? rp->cpu : -1;
		row->window_start = row->seconds = row->busy = row->cpu_s = NAN;
		snprintf(row->host, sizeof(row->host), "%s", rp ? rp->host : "unknown");
		if (!rp)
			continue;
		row->conns = rp->conns;
		/* A generator that ran this pass and ended well, in a window that was measured. */
		row->ok = rp->conns && !rp->err && res->status == IOLENS_STATUS_OK && h;
		if (!row->ok)
			continue;
		row->ops = rp->requests;
		row->bytes = rp->bytes;
		row->iops = res->seconds > 0 ? (double)rp->requests / res->seconds : NAN;
		row->seconds = res->seconds; /* the server's window: the generators count inside it */
		row->busy = rp->busy;
		row->p50 = iolens_hist_percentile(h, 50);
		row->p99 = iolens_hist_percentile(h, 99);
		row->max = iolens_hist_percentile(h, 100);
		iolens_hist_merge(m->hist, h);
	}
	iolens__mpi_merge_rows(m, ngen, none);
	free(none);
	return 0;
}

void iolens__mpi_serve_table(FILE *f, struct iolens_result *const *res,
			     const struct iolens__mpi_merged *m, size_t n, int ngen)
{
	char host[64] = "unknown";

	gethostname(host, sizeof(host) - 1);
	if (ngen == 1)
		fprintf(f, "serve: rank 0 (%s) runs the backend under test; rank 1 generates the "
			"load (one thread)\n", host);
	else
		fprintf(f, "serve: rank 0 (%s) runs the backend under test; ranks 1-%d generate "
			"the load (one thread each)\n", host, ngen);
	for (size_t k = 0; k < n; k++) {
		const struct iolens_result *r = res[k];
		const struct iolens__mpi_merged *x = &m[k];

		fprintf(f, "\n%s%s%s, %d generator rank%s\n", r->backend, r->variant[0] ? ":" : "",
			r->variant, ngen, ngen == 1 ? "" : "s");
		fprintf(f, "  %4s  %-16s %4s %7s %12s %10s %10s %6s\n", "rank", "host", "cpu", "conns",
			"req/s", "p50 us", "p99 us", "busy");
		for (int i = 0; i < ngen; i++) {
			const struct iolens__mpi_row *row = &x->rows[i];

			if (!row->ok) {
				fprintf(f, "  %4d  %-16s %4d %7u  %s\n", row->rank, row->host, row->cpu,
					row->conns,
					!row->conns ? "no connections this pass"
					: r->reason[0] ? r->reason : "no result (see the JSON)");
				continue;
			}
			fprintf(f, "  %4d  %-16s %4d %7u %12.0f %10.2f %10.2f %5.0f%%%s\n", row->rank,
				row->host, row->cpu, row->conns, row->iops, (double)row->p50 / 1e3,
				(double)row->p99 / 1e3, row->busy * 100,
				iolens__mpi_is_straggler(x, ngen, i) ? "  (straggler)" : "");
		}
		if (r->status != IOLENS_STATUS_OK) {
			fprintf(f, "  the server: %s\n", r->reason[0] ? r->reason : "no result");
			continue;
		}
		fprintf(f, "  merged, %u generator rank%s: %.0f req/s, p50 %.2f us, p99 %.2f us, max "
			"%.2f us\n", x->ok_ranks, x->ok_ranks == 1 ? "" : "s", x->iops,
			(double)iolens_hist_percentile(x->hist, 50) / 1e3,
			(double)iolens_hist_percentile(x->hist, 99) / 1e3, (double)x->max / 1e3);
		fprintf(f, "  the server (rank 0): %u connections, CPU/op %.2f us (busy %.0f%%), ",
			r->net.conns_open, r->cpu_per_op_ns / 1e3,
			r->seconds > 0 ? (r->cpu_user_s + r->cpu_sys_s) / r->seconds * 100 : NAN);
		if (r->syscalls.measured)
			fprintf(f, "%.3f syscalls/op, ", r->syscalls.per_op);
		else
			fputs("syscalls not counted, ", f);
		fprintf(f, "model (measured): %s\n",
			r->model.measured[0] ? r->model.measured : "not measured");
	}
}

void iolens__mpi_serve_end(struct iolens__mpi_serve *s)
{
	if (!s || s->ended || iolens__mpi_lost)
		return;
	memset(&s->cmd, 0, sizeof(s->cmd));
	s->cmd.op = GC_END;
	command(s);
	s->ended = 1;
}

void iolens__mpi_serve_free(struct iolens__mpi_serve *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++) {
		for (int k = 0; k < s->world; k++)
			iolens_hist_free(s->slots[i].hist[k]);
		free(s->slots[i].hist);
		free(s->slots[i].rep);
	}
	free(s->slots);
	free(s->replies);
	free(s->counts);
	free(s->mids);
	free(s->all_counts);
	free(s->all_mids);
	free(s);
}
