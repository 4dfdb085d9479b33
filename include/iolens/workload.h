/*
 * iolens level 1: describe a workload, run it on a backend, read the result.
 * Part of iolens/iolens.h, which includes it (and which it includes).
 */
#ifndef IOLENS_WORKLOAD_H
#define IOLENS_WORKLOAD_H

#include "iolens/iolens.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iolens_workload_kind {
	IOLENS_WL_READ = 0,  /* sequential read */
	IOLENS_WL_WRITE,     /* sequential write */
	IOLENS_WL_RANDREAD,  /* uniform random read */
	IOLENS_WL_RANDWRITE, /* uniform random write */
	IOLENS_WL_RANDRW,    /* uniform random, rwmix percent reads */
	IOLENS_WL_ECHO,      /* sockets: the backend is the client of an echo responder */
	IOLENS_WL_SERVE,     /* sockets: the backend is the echo server of a load generator */
	IOLENS_WL_STREAM,    /* sockets: the backend sends a one-way stream to a sink */
	IOLENS_WL__COUNT
};

/* Whether a kind is a socket workload. */
#define IOLENS_WL_IS_SOCKET(kind) ((kind) >= IOLENS_WL_ECHO && (kind) <= IOLENS_WL_STREAM)

enum iolens_transport {
	IOLENS_TRANSPORT_TCP = 0, /* IPv4 */
	IOLENS_TRANSPORT_TCP6,
	IOLENS_TRANSPORT_UNIX,    /* stream Unix-domain sockets */
};

enum iolens_cache_mode {
	IOLENS_CACHE_WARM = 0, /* read the file into the page cache before each run */
	IOLENS_CACHE_COLD,     /* drop the file's cached pages before each run */
	IOLENS_CACHE_HALF,     /* drop them, then read every other MiB back in: half cached */
};

/* Name of a workload kind ("randread"), or NULL for a kind out of range. */
IOLENS_EXPORT const char *iolens_workload_name(int kind);
/* Kind (enum iolens_workload_kind) for a name, or -EINVAL. */
IOLENS_EXPORT int iolens_workload_parse(const char *name);
/* Name of a transport ("tcp", "tcp6", "unix"), or "?" for one out of range. */
IOLENS_EXPORT const char *iolens_transport_name(int transport);
/* Transport (enum iolens_transport) for a name, or -EINVAL. */
IOLENS_EXPORT int iolens_transport_parse(const char *name);

/*
 * A disk workload. Fill it with iolens_workload_init() and change what you
 * need. Strings are borrowed: they must outlive every call that uses them.
 */
struct iolens_workload {
	int kind;             /* enum iolens_workload_kind */
	unsigned rwmix;       /* randrw: percent of reads, 0..100 (default 50) */
	uint32_t bs;          /* block size in bytes (default 4096) */
	uint64_t size;        /* bytes covered (default 1 GiB); with an existing file, 0 covers */
			      /* the whole file, and more than it holds is refused */
	const char *file;     /* NULL: a temporary file in $TMPDIR, removed after */
	int direct;           /* open with O_DIRECT */
	unsigned depth;       /* operations in flight per job (default 1) */
	unsigned jobs;        /* threads, each with its own backend context (default 1) */
	unsigned batch;       /* reap at least this many before refilling (default 1) */
	double time_s;        /* measured window in seconds; 0 = count ops instead */
	uint64_t ops;         /* operations to measure over all jobs; 0 = use time_s */
	double warmup_s;      /* run this long before the window opens (default 0) */
	int cache;            /* enum iolens_cache_mode (default warm) */
	unsigned fsync_every; /* an fsync after every N writes of a job, 0 = never */
	int verify;           /* check every block read; write checkable blocks */
	uint64_t seed;        /* random offsets are a function of this (default 1) */
	int overwrite;        /* allow writes to an existing `file` */
	int allow_device;     /* allow `file` to be a block device */
	const char *distribution; /* random workloads: where offsets fall, as fio's */
			      /* random_distribution: NULL or "random" (uniform), "zipf:S", */
			      /* "pareto:H", "normal:DEV", "zoned:A/R:A/R..." (the hot blocks first) */
	int create;           /* a missing `file` is made (its directory must exist), laid out */
			      /* to `size` with verifiable blocks and kept; else -ENOENT */
	int count;            /* enum iolens_count_mode (default separate) */
	/* Socket workloads (echo, serve, stream); the disk fields above but
	 * depth, jobs, batch, time_s, ops, warmup_s and seed are ignored. */
	unsigned conns;       /* connections over all jobs (default 1) */
	uint32_t msg;         /* echo/serve: request size; stream: bytes per send (default 64 / 128k) */
	int transport;        /* enum iolens_transport (default tcp) */
	const char *connect;  /* echo/stream: a remote responder, "HOST:PORT"; NULL = in-process */
	const char *listen;   /* serve: where the backend listens; responder: where it listens */
	double rate;          /* open loop: operations (echo: requests) per second over all */
			      /* jobs, each from its intended start; 0 = closed loop (not serve */
			      /* or stream) */
	int poisson;          /* open loop with exponential gaps instead of constant ones */
	uint64_t think_ns;    /* CPU work (a spin) after each request the backend completes */
	uint64_t delay_ns;    /* the responder answers each request this long after it arrived */
	int cpu;              /* pin job thread i to CPU cpu + i (mod CPUs); -1 = unpinned (default) */
	int peer_cpu;         /* pin the built-in responder or load generator; -1 = unpinned */
	unsigned trace;       /* keep the first N operations of each job in the window (0 = none) */
	volatile int *stop;   /* optional: set non-zero (e.g. from SIGINT) to stop early */
	/* Optional: called on the calling thread before each pass of each backend
	 * (pass 0 timed, 1 counted), e.g. for a progress line; arg is on_pass_arg. */
	void (*on_pass)(void *arg, const char *spec, int pass);
	void *on_pass_arg;
	/* Pin job thread i to the (i mod n)-th of the n CPUs in this list, in
	 * ascending order: "0,2-3" (what taskset -c accepts, without strides).
	 * NULL = as cpu says. Give cpu or cpus, not both. */
	const char *cpus;
	int stream_nocheck;   /* stream: the sink counts bytes without checking them (default 0) */
	/* Disk: submit at most this many operations per call, as fio's
	 * iodepth_batch_submit; 0 = all that are ready in one call (default). */
	unsigned submit_batch;
	/* Optional: called on the calling thread right before each measured
	 * window opens, after the warm-up (with a warm-up the jobs keep
	 * warming meanwhile), e.g. to open the windows of several processes
	 * together; arg is on_pass_arg. */
	void (*on_window)(void *arg);
	/* serve: the load generator that drives the backend, or NULL for the
	 * built-in one in a child process (see struct iolens_loadgen). */
	const struct iolens_loadgen *loadgen;
	/* Where the workload was described, for the report: a job file (fio's
	 * format: `iolens run --fio-job`) and the section in it; NULL for
	 * neither. The result keeps copies (job_file, job_section). */
	const char *job_file;
	const char *job_section;
};

struct iolens_hist;

/*
 * What a load generator of serve measured in one pass. hist (latencies in
 * ns, NULL for none) passes to iolens, which frees it.
 */
struct iolens_loadgen_figures {
	unsigned connected;       /* connections that came up */
	uint64_t requests, bytes; /* round trips completed while measuring, and their bytes */
	struct iolens_hist *hist; /* their round trips */
	int err;                  /* first error, negative errno; 0 if none */
	char errmsg[256];         /* what it was, one line */
};

/*
 * A load generator of your own for serve (e.g. on other hosts), called on
 * the calling thread of iolens_run*, in this order each pass:
 *  - start: connect `conns` connections to the backend's listener at
 *    `addr`, each keeping `depth` requests of `msg` bytes outstanding and
 *    checking what comes back; return at once (the backend accepts
 *    meanwhile). 0, or a negative errno with one line in err;
 *  - measure(1) as the window opens, measure(0) as it shuts: count only
 *    the round trips completed between them;
 *  - finish: stop, hang up and fill *out (zeroed by the caller). Called
 *    after every start, also when the pass fails.
 */
struct iolens_loadgen {
	int (*start)(void *arg, const char *addr, int transport, unsigned conns, uint32_t msg,
		     unsigned depth, char *err, size_t errlen);
	void (*measure)(void *arg, int on);
	void (*finish)(void *arg, struct iolens_loadgen_figures *out);
	void *arg;
};

/* Fill *w with the defaults: randread, 4 KiB blocks, 1 GiB temporary file,
 * depth 1, 1 job, 5 s, syscalls counted in a separate pass, unpinned. */
IOLENS_EXPORT void iolens_workload_init(struct iolens_workload *w);

/*
 * The file a workload runs on: created and filled (temporary) or opened and
 * checked (user's). Open it once, run any number of backends on it, close it.
 */
struct iolens_target;

/*
 * Check `w`, then create (or open) its file. On bad input returns -EINVAL,
 * -ENOENT, -EACCES, -EEXIST or -ENOTBLK and writes a one-line message naming
 * the option and what it accepts into err (errlen bytes, may be 0); nothing
 * is left on disk. Other negative errno: the failing system call's.
 */
IOLENS_EXPORT int iolens_target_open(struct iolens_target **out,
				     const struct iolens_workload *w,
				     char *err, size_t errlen);
/* Close the file; a temporary file is removed. NULL is ignored. */
IOLENS_EXPORT void iolens_target_close(struct iolens_target *t);
/* Path of the target's file (valid until close). Never NULL. */
IOLENS_EXPORT const char *iolens_target_path(const struct iolens_target *t);

enum iolens_count_mode {
	IOLENS_COUNT_SEPARATE = 0, /* count syscalls in a second pass; time the other */
	IOLENS_COUNT_INLINE,       /* count while timing (counting slows every syscall) */
	IOLENS_COUNT_OFF,          /* no syscall counting */
};

/* Names of the syscalls counted one by one (the rest are "other"): the name
 * of iolens_syscalls.by_name[i], or NULL for i >= IOLENS_SYSCALL_NAMES. */
#define IOLENS_SYSCALL_NAMES 33
IOLENS_EXPORT const char *iolens_syscall_name(unsigned i);

/* Syscalls counted by the kernel over the measured window of the counting pass. */
struct iolens_syscalls {
	int measured;         /* 0: not counted; why says so */
	char why[192];
	char method[64];      /* how they were counted */
	int pass;             /* enum iolens_count_mode that produced them */
	uint64_t ops;         /* operations in the counted window (per_op divides by it) */
	uint64_t total;       /* every thread but the harness's main thread */
	double per_op;
	uint64_t by_name[IOLENS_SYSCALL_NAMES];
	uint64_t other;       /* total minus the named ones */
	uint64_t offloaded;   /* issued by threads other than the job threads */
	int io_uring;         /* the io_uring figures below were counted */
	uint64_t iou_submitted, iou_punted, iou_completed;
	unsigned helper_threads; /* io_uring kernel helpers (iou-sqp-*, iou-wrk-*) seen */
	double helper_cpu_s;     /* their CPU time in the window */
};

/*
 * The I/O model a run showed, from the counting pass (docs/model.md defines
 * each figure; docs/json.md names them as the JSON writes them). Figures are NaN where they were not measured.
 * `measured` is one of IOLENS_MODEL_* (iolens.h) or "" when the pass could not tell.
 */

struct iolens_model {
	const char *declared;      /* the backend's declared model, one of the above */
	char measured[40];         /* "" when not measured: why says so */
	int mismatch;              /* measured differs from declared */
	char why[320];             /* one line built from the figures */
	double sync_share;         /* share of op latency inside the submit call */
	double vcsw_per_op_submit; /* voluntary switches inside submit calls, per op */
	double vcsw_per_op_wait;   /* ... inside reap (wait) calls, per op */
	double wait_sleep_share;   /* share of reap calls that slept */
	double offload_share;      /* I/O syscalls issued by threads other than the job threads */
	double offload_cpu_share;  /* CPU of threads other than the job threads */
	double concurrency;        /* ops in flight by Little's law: IOPS x mean latency */
	double io_per_op;          /* I/O syscalls per op (data calls, io_submit, io_uring_enter) */
	/*
	 * The two axes (iolens.h) and the coordinates that decide them, each
	 * in [0, 1]; measured, mismatch and why are built from these alone.
	 */
	char who[16];              /* "submitter", "kernel", "threads"; "" for no I/O or unmeasured */
	char wait[16];             /* "blocking", "non-blocking", "no wait needed"; "" likewise */
	double async_share;        /* ops the submitting thread did not complete in a call of its own */
	double blocked_share;      /* share of the calls that moved the data that slept: of the
				    * submit calls or of the reaps that entered no wait, the larger */
	double nonblock_share;     /* max(waited_share, non-blocking data calls per op), at most 1 */
	double waited_share;       /* share of the reap calls that entered a wait and slept in it */
	double own_data_per_op;    /* data calls the job threads made themselves, per op */
	double inline_share;       /* ops completed inside the submit call (backend counter) */
	double nowait_eagain_share; /* non-blocking data calls that said EAGAIN; NaN without any */
	double ready_share;        /* readiness checks that found work at once; NaN without any */
	double fallback_share;     /* ops a readiness API refused, done by a plain call */
	double resident_share;     /* buffered disk: page-cache share of the file before the run */
	char flags[192];           /* "; "-separated: what contradicts the declared model */
};

enum iolens_status {
	IOLENS_STATUS_OK = 0,
	IOLENS_STATUS_SKIPPED, /* backend unavailable or cannot run this workload */
	IOLENS_STATUS_ERROR,   /* an operation or the backend failed: see reason; no figures */
	IOLENS_STATUS_NOT_RUN, /* never started: the run was stopped (workload.stop) before it */
};

struct iolens_latency {
	uint64_t min, p50, p90, p99, p99_9, p99_99, max; /* ns */
	double mean;                                     /* ns */
};

struct iolens_kind_result {
	uint64_t ops;
	struct iolens_latency lat;
};

struct iolens_hist;

/*
 * Whether the received bytes of a socket workload were compared with the
 * pattern they carry: echo's client and serve's load generator compare every
 * byte; a stream's sink does unless the workload set stream_nocheck (and a
 * responder older than that field compares anyway: the result says which).
 */
enum iolens_data_check {
	IOLENS_CHECK_NONE = 0, /* nothing to say: skipped, failed first, or no bytes moved (null) */
	IOLENS_CHECK_VERIFIED, /* every byte received was compared and matched */
	IOLENS_CHECK_OFF,      /* the sink counted the bytes without comparing them */
	IOLENS_CHECK_MISMATCH, /* a byte differed: the result is an error naming its offset */
};

/* What a socket workload did beyond the common figures. */
struct iolens_net_result {
	char peer[128];          /* address of the other end, and who it was */
	unsigned conns;          /* connections asked for */
	uint32_t msg;            /* request size, or bytes per send of a stream, as run */
	unsigned conns_open;     /* connections that were open when the window opened */
	uint64_t nofile_limit;   /* RLIMIT_NOFILE in effect */
	uint64_t requests;       /* echo/serve: round trips in the window (= ops) */
	double gbit_s;           /* payload throughput, both directions of echo counted once */
	uint64_t send_calls, recv_calls;       /* completed send/recv operations in the window */
	double bytes_per_send, bytes_per_recv; /* their mean size */
	int open_loop;           /* --rate given: lat is from each request's intended time */
	struct iolens_latency lat_uncorrected; /* open loop: from the actual send time (the
						  same as the result's open_loop.uncorrected) */
	int latency_from;        /* serve: latencies are the load generator's round trips */
	char placement[160];     /* where the job threads and the peer ran (pinned or last seen) */
	int data_check;          /* enum iolens_data_check: what became of the bytes received */
	uint64_t sink_bytes;     /* stream: bytes the sink counted (warm-up included), by its trailers */
};

/* One traced operation: when it was submitted and completed, from the window's start. */
struct iolens_trace_op {
	uint64_t submit_ns, complete_ns;
	uint16_t kind;  /* enum iolens_op_kind */
	uint16_t flags; /* IOLENS_OPF_* the backend set */
	uint32_t job;   /* job thread index */
	uint64_t offset; /* disk: the op's file offset; sockets: 0 */
	uint32_t len;    /* bytes it asked for */
};

/* The job (submitting) threads' own syscalls over the counting pass's window. */
struct iolens_job_syscalls {
	int measured;            /* 0: not counted (the result's syscalls.why says why) */
	uint64_t total;          /* every syscall of the job threads */
	uint64_t io;             /* their I/O calls: data calls, io_submit, io_uring_enter */
	uint64_t io_uring_enter; /* their io_uring_enter calls */
};

/* What one backend did on one workload. Read-only once returned. */
/*
 * An open loop (workload.rate > 0, any workload): each operation has an
 * intended start and lat counts from it; these say what the generator did.
 */
struct iolens_open_loop {
	int on;                            /* workload.rate > 0 */
	double rate_target;                /* operations (requests) per second asked for; */
					   /* the achieved is the result's iops */
	struct iolens_latency uncorrected; /* from each measured op's actual start */
	struct iolens_latency lateness;    /* the generator's own: actual - intended start */
	uint64_t late;                     /* measured ops started more than one interval */
					   /* (1/rate per job thread) after their intended start */
	double spin_s;                     /* CPU seconds the job threads spun in the window */
					   /* to start ops on time: part of cpu_user_s */
};

struct iolens_result {
	char backend[32];      /* backend name */
	char variant[96];      /* options, e.g. "sqpoll+fixed-files"; "" for none */
	int status;            /* enum iolens_status */
	int error;             /* negative errno when status is ERROR, else 0 */
	char reason[256];      /* why skipped or failed; "" when ok */
	int interrupted;       /* stopped early through workload.stop */
	struct iolens_workload workload; /* as run (file = the real path) */
	char file[4096];       /* path the workload ran on */
	struct iolens_model model;
	unsigned threads;      /* job threads that ran */
	int thread_per_op;     /* depth was realised as threads of depth 1 */
	int job_procs;         /* the jobs were processes (blocking:procs), not threads */
	double job_start_us;   /* mean time of the call that started one job (pthread_create or */
			       /* fork), NaN if none started */
	double job_mem_kib;    /* mean memory one job kept at the window's end: its stack's */
			       /* resident pages (a thread), or its private pages and page */
			       /* tables (a process); NaN if not measured */
	uint64_t ops, bytes;   /* in the measured window */
	double seconds, iops, mib_s;
	struct iolens_latency lat;                   /* reads and writes */
	struct iolens_kind_result by_kind[3];        /* read, write, fsync */
	double cpu_user_s, cpu_sys_s, cpu_per_op_ns; /* whole process, window */
	uint64_t vcsw, ivcsw;  /* voluntary/involuntary context switches, window */
	double resident_before, resident_after; /* page-cache share of the file, -1 = not measured */
	struct iolens_backend_stats stats;      /* summed over jobs */
	struct iolens_syscalls syscalls;
	const struct iolens_hist *hist;         /* latency of reads and writes (sockets: requests) */
	struct iolens_net_result net;           /* socket workloads only */
	const struct iolens_trace_op *trace;    /* workload.trace > 0: in submission order */
	size_t ntrace;
	char placement[192];   /* CPUs the job threads and the backend's or peer's threads ran on */
	struct iolens_job_syscalls syscalls_job; /* syscalls of the job threads alone */
	char cpus[128];        /* workload.cpus as run ("" = none); workload.cpus is NULL here */
	double window_start;   /* when the measured window opened, CLOCK_REALTIME seconds since */
			       /* the epoch; NaN if it never opened */
	uint64_t unchecked_reads; /* --verify on an existing file: measured reads of blocks */
				  /* without iolens's header that this target never wrote */
	struct iolens_open_loop open_loop;
	char job_file[4096];   /* workload.job_file as run ("" = none); workload.job_file is NULL here */
	char job_section[256]; /* workload.job_section likewise */
};

/*
 * Run workload `w` on the target with backend `spec`: a name, optionally
 * followed by ':' and '+'-separated options — "io_uring:sqpoll+fixed-bufs",
 * "poll:nowait", "posix-aio:threads=4". The target must have been opened
 * with the same disk fields of `w` (file, size, bs, direct); t is NULL for a
 * socket workload. A failed or skipped backend is a result, not an error:
 * the return value is 0, *out is set (free it with iolens_result_free) and
 * (*out)->status says which. Otherwise *out = NULL and it returns:
 *   -EINVAL   a bad spec or workload field (a one-line message in err,
 *             errlen bytes, naming what was wrong and what is accepted)
 *   -EBUSY    another iolens_run or iolens_run_many is running in this process
 *   -ENOMEM   out of memory
 * A run takes time_s plus warmup_s (twice with syscall counting "separate"),
 * starts `jobs` threads and joins them before it returns. Set *w->stop to
 * end it early: the result is then marked interrupted.
 */
IOLENS_EXPORT int iolens_run(struct iolens_target *t, const struct iolens_workload *w,
			     const char *spec, struct iolens_result **out,
			     char *err, size_t errlen);

/*
 * iolens_run for n specs at once, results in out[0..n). With syscall
 * counting "separate" this is the efficient form: every timing pass runs
 * first with no counter open, then one set of counters serves every counting
 * pass (opening and closing tracepoint counters costs the kernel a grace
 * period each). Returns 0 with all n results stored, or the errors of
 * iolens_run with none stored.
 */
IOLENS_EXPORT int iolens_run_many(struct iolens_target *t, const struct iolens_workload *w,
				  const char *const *specs, size_t n, struct iolens_result **out,
				  char *err, size_t errlen);

/*
 * Check a backend spec ("name" or "name:opt+opt", as iolens_run takes it)
 * and, for kind >= 0, whether every option it names changes a workload of
 * that kind. 0, or -EINVAL with a one-line message naming --backend and
 * what it accepts: an unknown backend or option, a bad option value, or an
 * option that does nothing here (io_uring:fixed-bufs on a socket workload,
 * io_uring:ms-recv on a disk one). kind -1 checks the spec alone.
 */
IOLENS_EXPORT int iolens_spec_check(const char *spec, int kind, char *err, size_t errlen);

/*
 * A result for spec on w that never ran: status IOLENS_STATUS_NOT_RUN with
 * `error` (a negative errno, or 0) and `reason` (NULL: ""), every figure
 * unmeasured (NaN, model "not measured"), the workload and file as w gives
 * them. For reporting specs a stopped run never reached. 0 with *out set
 * (free it with iolens_result_free), or -EINVAL (a bad spec, w or out
 * NULL: *out untouched) or -ENOMEM (*out = NULL).
 */
IOLENS_EXPORT int iolens_result_not_run(const char *spec, const struct iolens_workload *w,
					int error, const char *reason, struct iolens_result **out);

/* Free a result and what it points to (hist, trace). NULL is ignored. */
IOLENS_EXPORT void iolens_result_free(struct iolens_result *r);

/*
 * Write one result as a JSON object and a newline (the items of "results"
 * in the CLI's iolens/1 document). 0, or -EIO if the stream reported an error.
 */
IOLENS_EXPORT int iolens_result_json(FILE *f, const struct iolens_result *r);

/*
 * The same JSON object as a string: stores a NUL-terminated copy in *text
 * (release it with free()) and its length, without the NUL, in *len unless
 * len is NULL. 0, or -ENOMEM with *text = NULL.
 */
IOLENS_EXPORT int iolens_result_json_text(const struct iolens_result *r, char **text,
					  size_t *len);

/*
 * The names of the workload kinds in mask (bit 1 << kind), comma-separated
 * ("echo, serve"), or "disk workloads" / "socket workloads" for exactly those
 * sets; truncated to len bytes with a NUL. Returns buf. Never fails.
 */
IOLENS_EXPORT const char *iolens_workload_names(unsigned mask, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Latency histogram: log-linear, relative error <= 1/256, constant memory,
 * no allocation after new. Not locked: one thread at a time per histogram.
 */
/* A new, empty histogram, or NULL when out of memory. */
IOLENS_EXPORT struct iolens_hist *iolens_hist_new(void);
/* Free a histogram from iolens_hist_new. NULL is ignored. */
IOLENS_EXPORT void iolens_hist_free(struct iolens_hist *h);
/* Record one sample of ns nanoseconds. Never fails. */
IOLENS_EXPORT void iolens_hist_add(struct iolens_hist *h, uint64_t ns);
/*
 * Record count samples of ns nanoseconds at once: what rebuilds a histogram
 * from bucket counts read elsewhere (another process's, another host's).
 * The sum grows by ns * count, so the mean is that of the values given.
 * Never fails; count 0 does nothing.
 */
IOLENS_EXPORT void iolens_hist_add_n(struct iolens_hist *h, uint64_t ns, uint64_t count);
/* Add every sample of src to dst. Never fails. */
IOLENS_EXPORT void iolens_hist_merge(struct iolens_hist *dst, const struct iolens_hist *src);
/* Number of samples recorded. */
IOLENS_EXPORT uint64_t iolens_hist_count(const struct iolens_hist *h);
/* Value at percentile p (0 < p <= 100), 0 if empty. */
IOLENS_EXPORT uint64_t iolens_hist_percentile(const struct iolens_hist *h, double p);
/*
 * Walk the non-empty buckets: start with *cursor = 0; each call stores one
 * bucket [lo, hi] and its count and returns 1, or returns 0 at the end.
 * After a call that returned 1, *cursor - 1 is that bucket's index, below
 * IOLENS_HIST_NBUCKETS and the same for the same bounds in every histogram:
 * arrays of counts indexed so add up bucket by bucket.
 */
#define IOLENS_HIST_NBUCKETS 7424
IOLENS_EXPORT int iolens_hist_next_bucket(const struct iolens_hist *h, size_t *cursor,
					  uint64_t *lo, uint64_t *hi, uint64_t *count);

/* ---------------------------------------------------------------------------
 * The verdict: which backend did best on one workload, and why, in a few
 * sentences built from the results' own figures and measured models.
 */
#define IOLENS_VERDICT_SENTENCES 10    /* at most this many sentences */
#define IOLENS_VERDICT_SENTENCE_LEN 400 /* bytes of each, NUL included */

struct iolens_verdict {
	/* Indices into the results given, or -1 when fewer than two results
	 * have that figure (ranked: status ok, ops > 0, backend not "null"). */
	int most_iops;        /* operations (sockets: requests) per second; stream: Gbit/s */
	int lowest_p99;       /* latency_ns p99 */
	int least_cpu_per_op; /* cpu_per_op_ns */
	unsigned nsentences;
	char sentences[IOLENS_VERDICT_SENTENCES][IOLENS_VERDICT_SENTENCE_LEN];
};

/*
 * The verdict on n results of one workload, such as one iolens_run_many
 * call returns. Only results with status ok and ops > 0 count; the "null"
 * backend (the harness's floor) is never ranked nor named. Each ranking
 * sentence names the best backend, its figure and its margin over the
 * runner-up ("most throughput: io_uring, 412k IOPS, 1.31x libaio (315k)");
 * the others explain the figures from model fields only: readiness that
 * found everything ready, queue backends that completed inside submit,
 * async completion that had to wait or not, I/O done by other threads, the
 * load (ops in flight) the figures were measured at. A NaN figure is not
 * used and a sentence without its evidence is left out; with a single
 * result to rank there is no ranking sentence. Returns 0 with *out filled,
 * or -EINVAL (out untouched) when out is NULL, rs is NULL with n > 0, an
 * entry is NULL, or the results are of different workloads (kind, sizes,
 * depth, jobs, connections, cache or other shape fields differ, or they
 * came from different jobs of a job file: job_file, job_section).
 */
IOLENS_EXPORT int iolens_verdict(struct iolens_result *const *rs, size_t n,
				 struct iolens_verdict *out);

#ifdef __cplusplus
}
#endif

#endif
