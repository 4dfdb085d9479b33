/*
 * The run wing's own calls (not installed): what its files — the passes
 * (pass.c), the job threads (jobs.c), the disk loop (disk.c), the figures
 * (figures.c, placement.c), serve (serve.c), the target (target.c) — hand
 * each other. The state they share, struct run and struct job, is job.h's,
 * one wing down, where the socket loop reads it too.
 */
#ifndef IOLENS_RUN_H
#define IOLENS_RUN_H

#include <stdint.h>

#include "job.h"

/* ---- the target (target.c) ---- */
/* Apply the workload's cache mode to the file: read it in (warm) or drop it (cold). */
int iolens__target_prepare_cache(struct iolens_target *t, int mode);
/* Share of the target's pages in the page cache, 0..1, or -1 if it cannot be measured. */
double iolens__target_residency(const struct iolens_target *t);
/* Read every block back and check it; 0, -EILSEQ (offset in *bad_off, *what) or -errno. */
int iolens__target_verify(const struct iolens_target *t, uint64_t *bad_off, const char **what);

/* ---- job threads (jobs.c) and the disk loop (disk.c) ---- */
/* A job's buffers, slots and file for a pass; 0 or -errno with the job failed. */
int iolens__job_setup(struct job *j, struct run *run, unsigned index, unsigned nthreads,
		      unsigned depth, int open_flags);
void iolens__job_free(struct job *j);
/* The job thread: its context, the loop of its workload, the drain. */
void *iolens__job_main(void *arg);
/* Wait (run->lock held) until the deadline, a stop, or every job out of its loop. */
int iolens__wait_until(struct run *run, uint64_t deadline, unsigned nthreads);
/* Keep the job's depth in flight on its file until the window closes. */
void iolens__disk_loop(struct job *j, struct iolens_ctx *ctx);

/* ---- passes (pass.c) ---- */
void iolens__one_pass(struct iolens_result *r, struct run *run, struct iolens_hist *all);
/* The counting pass: a fresh result from `fresh`, its counts copied into r. */
void iolens__counting_pass(struct iolens_result *r, const struct iolens_result *fresh,
			   struct run *run);

/* ---- figures (figures.c, placement.c) ---- */
void iolens__set_status(struct iolens_result *r, int status, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void iolens__summarise(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n,
		       struct iolens_hist *all);
void iolens__snapshot_end(struct run *run, struct job *jobs, unsigned n,
			  struct iolens__sc_snap *sc1);
void iolens__measure_model(struct iolens_result *r, const struct job *jobs, unsigned n,
			   double cpu_all);
void iolens__account_syscalls(struct iolens_result *r, const struct run *run,
			      const struct job *jobs, unsigned n, const struct iolens__sc_snap *a,
			      const struct iolens__sc_snap *b, const struct iolens__helpers *h0,
			      const struct iolens__helpers *h1);
/* Whether this pass can count syscalls; 0 with the result's counts marked why not. */
int iolens__can_count(struct iolens_result *r, const struct run *run);
void iolens__gather_trace(struct iolens_result *r, struct job *jobs, unsigned n, uint64_t t0);
/* Where the job threads and the peer or the backend's threads ran, into r->placement
 * (and r->net.placement for sockets). */
void iolens__placement(struct iolens_result *r, const struct run *run, struct job *jobs,
		       unsigned n);

/* ---- jobs as workers, threads or processes (workers.c) ---- */
/* CPU seconds a job's thread or process has used, or NaN. */
double iolens__job_cpu(const struct job *j);
/* Counting pass with job processes: open each one's counters for the main thread. */
void iolens__procs_counters(struct run *run, struct job *jobs, unsigned n);
/* CPU and context switches so far, summed over the job processes (none with threads). */
struct iolens__usage {
	double user_s, sys_s;
	uint64_t vcsw, ivcsw;
	unsigned missed; /* processes whose figures could not be read */
};
void iolens__procs_usage(const struct run *run, const struct job *jobs, unsigned n,
			 struct iolens__usage *u);
/* r->job_mem_kib: the memory one job keeps (read while they are all alive). */
void iolens__workers_memory(struct iolens_result *r, const struct run *run, const struct job *jobs,
			    unsigned n);

/* ---- serve (serve.c) ---- */
int iolens__serve_start(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n);
void iolens__serve_finish(struct iolens_result *r, struct run *run);
/* The window opens (1) or shuts (0): the generator counts round trips only in it. */
void iolens__serve_measure(struct run *run, int on);
void iolens__serve_abort(struct iolens_result *r, struct run *run);

#endif
