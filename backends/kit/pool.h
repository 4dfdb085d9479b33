/*
 * A pool of worker threads that perform operations with plain blocking
 * calls (iolens__syncop), for backends that emulate asynchronous I/O with
 * threads: submit queues ops in a FIFO, a worker takes the oldest, makes
 * the call and queues the op as completed, reap returns completed ops and
 * sleeps until enough are there. Results as iolens__syncop gives them; ops
 * are never flagged INLINE (another thread moved the data).
 *
 * One pool belongs to one owner thread: start, submit, reap and stop are
 * called by it alone. It never holds more than depth ops (queued, running
 * or completed and not reaped): the caller keeps to that.
 *
 * Sockets: a worker inside a blocking socket call may wait for an op still
 * queued behind it (a RECV whose answer needs our own SEND), so a fixed pool
 * can deadlock. The pool grows when it stalls: if ops are queued, every
 * worker is inside a socket call and no op has started or finished for
 * IOLENS__POOL_STALL_NS, it starts one more worker for each queued op (never
 * more than depth workers in all, so every op in flight can have one). reap
 * applies the rule, waking at least that often while the pool holds a
 * socket op. File calls always return, so they never grow the pool.
 */
#ifndef IOLENS_POOL_H
#define IOLENS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "iolens/iolens.h"

#define IOLENS__POOL_STALL_NS 100000000LL

struct iolens__pool;

/*
 * Start `threads` workers (1..depth) for at most depth ops, every signal
 * blocked in them. 0 and *out, or -ENOMEM / the pthread_create error.
 */
int iolens__pool_start(struct iolens__pool **out, unsigned threads, unsigned depth);

/* Queue n ops, oldest first, and wake idle workers for them. Never fails. */
void iolens__pool_submit(struct iolens__pool *p, struct iolens_op *const *ops, unsigned n);

/*
 * Store up to max completed ops in out, waiting until min are there or
 * timeout_ns passes (< 0: no limit, 0: no wait); each sleep entered adds
 * one to *waits. Returns how many were stored.
 */
unsigned iolens__pool_reap(struct iolens__pool *p, struct iolens_op **out, unsigned min,
			   unsigned max, int64_t timeout_ns, uint64_t *waits);

/* Workers started so far: the initial ones and those the stall rule added. */
unsigned iolens__pool_threads(const struct iolens__pool *p);

/*
 * The setup line of a backend built on the pool, into buf: "threads=N",
 * "threads=N, S started (depth D)" when depth capped the start, or
 * "threads=N, grew to M (...)" once the stall rule added workers.
 */
void iolens__pool_setup_line(const struct iolens__pool *p, unsigned asked, unsigned started,
			     unsigned depth, char *buf, size_t len);

/*
 * Stop the pool and free it. Queued ops are dropped unstarted; workers
 * inside a call get a second to return. A worker still inside one then
 * (a socket nobody shut down) is abandoned: it frees the pool when its call
 * returns, and drops that op's result (an accepted connection is closed)
 * without touching the op, which the caller may have freed.
 */
void iolens__pool_stop(struct iolens__pool *p);

#endif
