/*
 * The socket side as the run drives it (not installed): the target's peers
 * started and stopped, and a pass's socket jobs set up, run, drained,
 * joined and summed up.
 */
#ifndef IOLENS_NET_H
#define IOLENS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* Socket workloads (net_target.c): check the socket options, start the peers. */
int iolens__net_target_open(struct iolens_target *t, const struct iolens_workload *w, char *err,
			    size_t errlen);
void iolens__net_target_close(struct iolens_target *t);

/* A pass's socket jobs: their connections (setup.c), the loop (loop.c), after it (end.c). */
int iolens__net_setup(struct run *run, struct job *jobs, unsigned nthreads, char *msg, size_t len);
void iolens__net_loop(struct job *j, struct iolens_ctx *ctx);
void iolens__net_end(struct job *j, struct iolens_ctx *ctx);
void iolens__net_free(struct job *j);
/* Close the serve listener; a unix path is removed only if it is still the socket bound. */
void iolens__net_unlisten(struct run *run);
/*
 * The main thread's waits on socket jobs, bounded (end.c, DRAIN_NS):
 * with run->lock held, until every job is out of its loop; and the join.
 * A job still inside a call when the bound passes (a blocking call on a
 * peer that stopped) has its connections shut down, which ends the call.
 */
void iolens__net_wait_loops(struct run *run, struct job *jobs, unsigned n);
void iolens__net_join(struct run *run, struct job *jobs, unsigned n);
/* Threads a socket run needs (one per connection for thread-per-op backends). */
unsigned iolens__net_threads(const struct run *run);
/* Request size (echo, serve) or bytes per send (stream), defaults applied. */
uint32_t iolens__net_msg(const struct iolens_workload *w);
/*
 * Socket figures into r, before the rates are derived: per-call sizes, the
 * open-loop histogram, and for serve the load generator's requests and
 * round trips in place of the jobs' (all is the result's histogram).
 */
void iolens__net_summarise(struct iolens_result *r, const struct run *run, struct job *jobs,
			   unsigned n, struct iolens_hist *all);

#endif
