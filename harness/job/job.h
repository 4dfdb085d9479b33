/*
 * The layer both job loops stand on (not installed): a pass's shared state
 * (struct run), a job thread's (struct job) with its slots, the clock and
 * the random stream, and the per-call bookkeeping of job.c. The disk loop
 * (run/disk.c) and the socket loop (net/) use it alike; neither reaches
 * into the other or up into the pass that drives them.
 */
#ifndef IOLENS_JOB_H
#define IOLENS_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "clock.h"
#include "dist.h"
#include "hist.h"
#include "spec.h"
#include "syscount.h"
#include "target.h"

/*
 * HALT ends the job loops but keeps contexts open, so a counting pass can
 * read its end snapshot with no job thread inside a call; STOP lets them
 * drain and close.
 */
enum { PHASE_WAIT, PHASE_WARMUP, PHASE_MEASURE, PHASE_HALT, PHASE_STOP, PHASE_ABORT };
enum { K_READ = IOLENS_OP_READ, K_WRITE = IOLENS_OP_WRITE, K_FSYNC = IOLENS_OP_FSYNC, K__COUNT };
_Static_assert(K__COUNT == 3 && IOLENS_OP_FSYNC == 2, "hist index is the op kind");

#define MAX_THREADS 4096
#define REAP_TIMEOUT_NS 200000000LL
#define TPO_STACK (256u << 10)
#define NET_TPO_STACK (128u << 10) /* a thread per connection: keep it small */

struct slot {
	struct iolens_op op; /* first: a slot is found from its op */
	uint64_t t_intended; /* open loop: when the op was due (disk) */
	int measured;        /* submitted inside the window */
	int busy;            /* in flight (verify mode offset collision check) */
	uint64_t sync_ns;    /* counting pass: time inside the submit call that took it */
	uint64_t instr_mark; /* counting pass: the job's instrumentation time at submit */
};

struct run;
struct netjob;

struct job {
	pthread_t tid;
	pid_t pid;                 /* a job process (blocking:procs), else 0 */
	int pid_reaped;            /* ... and it has been waited for */
	_Atomic int said_ready, said_finished; /* what the job told the pass */
	struct run *run;
	unsigned depth;
	uint64_t quota;      /* ops to measure in ops mode */
	int fd;
	struct slot *slots;
	struct iolens_op **freelist, **batch, **done;
	unsigned nfree, npending;
	char *bufs;
	struct iovec *iov;
	struct iolens_hist *hist[K__COUNT]; /* NULL for kinds the workload never issues */
	uint64_t rng;
	uint64_t region_start, region_blocks, seq_next;
	struct iolens__dist dist; /* random offsets: where in the region they fall */
	uint64_t writes_since_fsync, stamp;
	uint64_t ops, bytes;
	uint64_t unchecked_reads; /* --verify: measured reads of foreign blocks (not ours to check) */
	uint64_t t_end;
	int err;
	char errmsg[256];
	struct iolens_backend_stats stats;
	int sc_fd;              /* this thread's syscalls, counting pass only */
	uint64_t sc_start, sc_end;
	int io_fd;              /* this thread's I/O calls, counting pass only */
	uint64_t io_start, io_end;
	int enter_fd;           /* this thread's io_uring_enter calls, counting pass only */
	uint64_t enter_start, enter_end;
	double cpu_start, cpu_end; /* this thread's CPU seconds at the window's edges */
	/* Per-call instrumentation of the counting pass, inside the window only. */
	uint64_t sync_ns, lat_ns;  /* over measured ops: time in their submit call, latency */
	uint64_t vcsw_submit, vcsw_wait;
	uint64_t reaps, reaps_slept; /* reap calls, and those that slept at least once */
	uint64_t reaps_waited, reaps_waited_slept; /* ... that entered a wait, and slept in it */
	uint64_t submits, submits_slept; /* submit calls, and those that slept */
	uint64_t instr_ns;         /* time spent instrumenting, kept out of latencies */
	uint64_t instr_calls;      /* getrusage calls made, kept out of the counts */
	struct netjob *net;        /* socket workloads: this job's connections */
	/* Open loop (--rate): openloop.c. */
	struct iolens_hist *ol_unc;  /* latency from the actual start */
	struct iolens_hist *ol_late; /* actual start - intended start */
	uint64_t ol_late_n;          /* measured ops started over an interval late */
	uint64_t ol_next, ol_gap;    /* the next op's intended start; the mean interval */
	uint64_t ol_spin_ns;         /* spun waiting for due times inside the window */
	int64_t ol_wake_ns;          /* how late its sleeps woke, on average (the spin's length) */
	struct iolens_trace_op *trace; /* the first ops of the window (timing pass only) */
	unsigned ntrace;
	unsigned index;            /* among the pass's job threads */
	_Atomic int os_tid;        /* the thread's kernel id, once it runs */
};

struct run {
	const struct iolens_workload *w;
	const struct iolens_target *t;
	const struct iolens__spec *spec;
	int ops_mode;
	int writes;
	int issues[K__COUNT]; /* op kinds the workload issues */
	struct iolens__syscount *sc; /* open counters when this pass counts, else NULL */
	int stale_threads;           /* user threads older than the counters existed */
	int counting;                /* this pass counts syscalls */
	int net;                     /* a socket workload */
	unsigned trace_cap;          /* ops each job traces: workload.trace, 0 when counting */
	atomic_uint accepted;        /* serve: connections the jobs have accepted */
	int listen_fd;               /* serve: the listener of this pass */
	struct iolens__unix_id listen_id; /* serve over unix: the socket file it bound */
	struct iolens__peer_proc *peer; /* the target's built-in peer */
	int lg_started;              /* serve: the load generator is running */
	uint64_t lg_requests, lg_bytes; /* serve: its figures of the window */
	struct iolens_hist *lg_hist;    /* serve: its round trips */
	_Atomic int phase;
	atomic_uint ready, finished;
	pthread_mutex_t lock; /* process-shared, as cond: job processes use them */
	pthread_cond_t cond;
	int procs;            /* the jobs are processes (blocking:procs) */
	char *arena;          /* procs: the shared mapping the pass's job memory comes from */
	size_t arena_used;
};

static inline uint64_t now_ns(void)
{
	return (uint64_t)iolens__mono_ns();
}

static inline uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without division. */
static inline uint64_t below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)next_rand(s) * n) >> 64);
}


/* The stop flag of the workload (SIGINT) is up: the run and both loops ask it. */
static inline int iolens__interrupted(const struct iolens_workload *w)
{
	return w->stop && *w->stop;
}

void iolens__job_fail(struct job *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep a completed, measured op in the job's trace while there is room. */
static inline void iolens__trace_op(struct job *j, const struct iolens_op *op, uint64_t now)
{
	if (j->ntrace < j->run->trace_cap)
		j->trace[j->ntrace++] = (struct iolens_trace_op){ op->t_submit, now, op->kind,
								  op->flags, j->index,
								  j->net ? 0 : op->offset, op->len };
}

/*
 * Submit j->batch[0..n) / reap into j->done, each call timed and bracketed
 * by the thread's switch count when `probing` (counting pass, inside the
 * window), so the measured model sees both loops alike. Return as the
 * iolens_ctx_* call; a failure also fails the job.
 */
int iolens__job_submit(struct job *j, struct iolens_ctx *ctx, struct iolens_op **ops, unsigned n,
		       int probing);
int iolens__job_reap(struct job *j, struct iolens_ctx *ctx, unsigned min, int64_t timeout_ns,
		     int probing);

/* Pin the calling job thread as the workload asks; 0 or -errno. */
int iolens__pin_job(const struct job *j);

/*
 * Jobs as threads or as processes (worker.c). Memory for a pass's jobs:
 * zeroed, from the shared arena when run->procs (freed with the arena; the
 * free calls do nothing then), else from the heap. NULL when out of memory.
 */
int iolens__arena_open(struct run *run);
void iolens__arena_close(struct run *run);
void *iolens__pass_alloc(struct run *run, size_t n, size_t align);
void iolens__pass_free(struct run *run, void *p);
struct iolens_hist *iolens__pass_hist(struct run *run);
void iolens__pass_hist_free(struct run *run, struct iolens_hist *h);
/* Start j running fn(j) as a thread (attr) or a process. 0 or -errno. */
int iolens__job_spawn(struct job *j, const pthread_attr_t *attr, void *(*fn)(void *));
/* Wait for j to end, until deadline (CLOCK_MONOTONIC; NULL: no limit). 0 or ETIMEDOUT. */
int iolens__job_join(struct job *j, const struct timespec *deadline);
/*
 * Job processes that died without saying they finished: each fails its job
 * and is counted ready and finished, so no wait of the pass hangs on it.
 * Call with run->lock held, and broadcast run->cond when it returns > 0.
 */
unsigned iolens__jobs_lost(struct run *run, struct job *jobs, unsigned n);

/*
 * The open loop (openloop.c), with w->rate > 0; nothing without. setup: the
 * job's histograms and its share of the rate (share: the job threads that
 * split it), 0 or -ENOMEM; free undoes it. take: the next op's intended
 * start. done: a measured op that was due at intended, started at started,
 * ended now. wait: until due (at most a reap timeout), with nothing in
 * flight that could complete meanwhile (the spin in the window is added to
 * the job's ol_spin_ns).
 */
int iolens__ol_setup(struct job *j, unsigned share);
void iolens__ol_free(struct job *j);
uint64_t iolens__ol_take(struct job *j);
void iolens__ol_done(struct job *j, uint64_t intended, uint64_t started, uint64_t now);
void iolens__ol_wait(struct job *j, uint64_t due, uint64_t now);

#endif
