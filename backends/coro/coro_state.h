/*
 * Private to backends/coro/: the state the coro backends share and the
 * functions one file calls in another (iolens__coro_*).
 *
 *   switch.c      the context switches (asm, ucontext) and their probe
 *   coro.c        the task pool, the stacks, start / suspend / resume,
 *                 completion, the common init and teardown
 *   loop_uring.c  `coro`: the event loop is an io_uring
 *   loop_epoll.c  `coro-epoll`: the event loop is epoll
 *
 * Every op in flight is a task. With coroutines (the default, or ucontext)
 * a task is a coroutine on a stack of its own whose body is the op written
 * as a blocking program would write it; where it would block, it hands the
 * request to the loop and suspends, and the loop resumes it when the
 * request is done. With `bare` the same loop and the same submission code
 * run without coroutines: the body is called on the thread's stack, its
 * waits return at once (CO_PENDING) and the loop finishes the op from its
 * completion (a CQE's result, a retry on readiness): a little state
 * machine, the baseline that isolates what the coroutines cost.
 *
 * user_switches counts every transfer of control between the thread's own
 * stack and a coroutine, each way: an op whose body ends without waiting
 * costs 2 (in at submit, out at its end), one that waits once 4 (in, out at
 * the wait, in at the completion, out at its end). bare counts none.
 */
#ifndef IOLENS_CORO_STATE_H
#define IOLENS_CORO_STATE_H

#include <stdint.h>

#include "backend.h"
#include "readiness.h"
#include "switch.h"

#define CO_STACK_SIZE (64u << 10)
/* What a wait returns under bare: the loop finishes the op later. */
#define CO_PENDING INT64_MIN

struct coro;

struct co_task {
	struct iolens__fiber fiber; /* with coroutines: its stack and saved registers */
	struct coro *s;
	struct iolens_op *op;  /* the op it runs; NULL when free */
	struct co_task *next;  /* the free list, or a descriptor's wait list */
	int64_t res;           /* handed in on resume: a CQE's result, or a wait's error */
	uint8_t connecting;    /* coro-epoll CONNECT: connect() said EINPROGRESS */
};

/*
 * The shared part of both backends' state, first in it. It starts with the
 * readiness kit's struct, so coro-epoll reaps with iolens__readiness_reap;
 * coro uses its `done` queue only.
 */
struct coro {
	struct iolens__readiness rd; /* done: completed ops for reap */
	struct iolens_ctx *ctx;
	int bare;
	int in_submit; /* an op completed now completed inside submit */
	/* The op's body: its result, or CO_PENDING (bare, still waiting). */
	int64_t (*body)(struct co_task *t);
	struct iolens__switcher sw;
	struct co_task *tasks;
	unsigned ntasks;
	struct co_task *free;
	ucontext_t *ucs;   /* ucontext: one per task */
	char *stacks;      /* one mapping: per task a guard page, then its stack */
	size_t stacks_len;
};

/*
 * Set up the part of s that both loops share for ctx (depth tasks; with
 * coroutines their stacks and the switch, timed into the stats), and write
 * "<loop>, <switch>, <stacks>" into stats.setup. Options: bare or ucontext,
 * not both (-EINVAL). -EOPNOTSUPP with the reason in stats.setup where the
 * default switch does not exist. 0 or -errno; iolens__coro_free undoes it
 * either way.
 */
int iolens__coro_init(struct iolens_ctx *ctx, struct coro *s, const char *loop,
		      int64_t (*body)(struct co_task *t));
void iolens__coro_free(struct coro *s);

/* Run op on a free task: its body starts now (under bare: its first step). */
void iolens__coro_start(struct coro *s, struct iolens_op *op);

/* From the loop: switch into t's coroutine until it waits again or ends. */
void iolens__coro_resume(struct coro *s, struct co_task *t);

/* From t's body: give the thread back to the loop until resumed. */
void iolens__coro_suspend(struct coro *s, struct co_task *t);

/* t's op is done with `result`: queue it for reap and free t. */
void iolens__coro_complete(struct coro *s, struct co_task *t, int64_t result);

#endif
