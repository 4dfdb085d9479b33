/*
 * The task pool both coro backends share: depth tasks made at init, each
 * with (unless bare) a stack of CO_STACK_SIZE below which a guard page
 * turns an overflow into a fault instead of a neighbour's corruption. All
 * stacks are one mapping, reserved without committing memory: a stack
 * costs the pages its coroutine touched. Nothing is allocated per op.
 *
 * A task's coroutine runs task_main for its whole life: the body of the op
 * it was given, the completion, then a switch back to the loop, from which
 * the next start resumes it with another op.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro_state.h"

/* Round trips timed at init: 4,000 switches, a few ms even with swapcontext. */
#define PROBE_ROUNDS 2000u

void iolens__coro_resume(struct coro *s, struct co_task *t)
{
	s->ctx->stats.user_switches++;
	iolens__fiber_switch(&s->sw, &s->sw.main, &t->fiber);
}

void iolens__coro_suspend(struct coro *s, struct co_task *t)
{
	s->ctx->stats.user_switches++;
	iolens__fiber_switch(&s->sw, &t->fiber, &s->sw.main);
}

void iolens__coro_complete(struct coro *s, struct co_task *t, int64_t result)
{
	struct iolens_op *op = t->op;

	op->result = result;
	if (s->in_submit) {
		op->flags |= IOLENS_OPF_INLINE;
		s->ctx->stats.completed_inline++;
	}
	iolens__cq_push(&s->rd.done, op);
	t->op = NULL;
	t->next = s->free;
	s->free = t;
}

static void task_main(void *arg)
{
	struct co_task *t = arg;
	struct coro *s = t->s;

	for (;;) {
		iolens__coro_complete(s, t, s->body(t));
		iolens__coro_suspend(s, t);
	}
}

/*
 * The caller (submit) keeps to depth ops in flight, and a task is busy only
 * while its op is, so a free one is always there.
 */
void iolens__coro_start(struct coro *s, struct iolens_op *op)
{
	struct co_task *t = s->free;
	int64_t r;

	s->free = t->next;
	t->next = NULL;
	t->op = op;
	t->res = 0;
	t->connecting = 0;
	if (!s->bare) {
		iolens__coro_resume(s, t);
		return;
	}
	r = s->body(t);
	if (r != CO_PENDING)
		iolens__coro_complete(s, t, r);
}

/* One mapping for every stack, a guard page below each. */
static int stacks_map(struct iolens_ctx *ctx, struct coro *s, size_t page)
{
	size_t slot = CO_STACK_SIZE + page;
	void *m;

	s->stacks_len = slot * s->ntasks;
	m = mmap(NULL, s->stacks_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED) {
		s->stacks = NULL;
		return -errno;
	}
	s->stacks = m;
	for (unsigned i = 0; i < s->ntasks; i++) {
		if (mprotect(s->stacks + i * slot, page, PROT_NONE)) {
			/* Each guard splits the mapping: 2 x depth areas against vm.max_map_count. */
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
				 "cannot guard %u coroutine stacks (%s): vm.max_map_count?", s->ntasks,
				 strerror(errno));
			return -ENOMEM;
		}
	}
	return 0;
}

static int coroutines_make(struct iolens_ctx *ctx, struct coro *s, int uc)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), slot = CO_STACK_SIZE + page;
	int err;

	iolens__switcher_init(&s->sw, uc);
	if (uc) {
		s->ucs = calloc(s->ntasks, sizeof(*s->ucs));
		if (!s->ucs)
			return -ENOMEM;
	}
	err = stacks_map(ctx, s, page);
	if (err)
		return err;
	/* The first task's stack hosts the probe before its own coroutine is made. */
	err = iolens__fiber_probe(&s->sw, s->stacks + page, CO_STACK_SIZE, PROBE_ROUNDS,
				  &ctx->stats.switch_probe_n, &ctx->stats.switch_probe_ns);
	for (unsigned i = 0; i < s->ntasks && !err; i++) {
		struct co_task *t = &s->tasks[i];

		t->fiber.uc = uc ? &s->ucs[i] : NULL;
		err = iolens__fiber_make(&s->sw, &t->fiber, s->stacks + i * slot + page,
					 CO_STACK_SIZE, task_main, t);
	}
	return err;
}

int iolens__coro_init(struct iolens_ctx *ctx, struct coro *s, const char *loop,
		      int64_t (*body)(struct co_task *t))
{
	int uc = !!(ctx->opts.flags & IOLENS_BOPT_UCONTEXT);
	unsigned depth = ctx->opts.depth;
	int err;

	s->ctx = ctx;
	s->body = body;
	s->bare = !!(ctx->opts.flags & IOLENS_BOPT_BARE);
	if (s->bare && uc)
		return -EINVAL; /* bare has nothing to switch */
	s->tasks = calloc(depth, sizeof(*s->tasks));
	if (!s->tasks || iolens__cq_init(&s->rd.done, depth))
		return -ENOMEM;
	s->ntasks = depth;
	for (unsigned i = depth; i-- > 0;) {
		s->tasks[i].s = s;
		s->tasks[i].next = s->free;
		s->free = &s->tasks[i];
	}
	if (s->bare) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "%s, bare: callbacks, no coroutines", loop);
		return 0;
	}
	if (!uc && !iolens__fiber_asm_works()) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "the hand-written switch is x86-64 only (without shadow stacks): use the ucontext option here");
		return -EOPNOTSUPP;
	}
	err = coroutines_make(ctx, s, uc);
	if (err)
		return err;
	snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "%s, %s, %u KiB stacks", loop,
		 uc ? "ucontext (swapcontext: rt_sigprocmask per switch)" : "asm switch",
		 CO_STACK_SIZE >> 10);
	return 0;
}

/*
 * Tasks still suspended are abandoned with their stacks: nothing resumes
 * them after this, and the kernel was never given a pointer into a stack.
 */
void iolens__coro_free(struct coro *s)
{
	if (s->stacks) {
		iolens__fiber_forget_stack(s->stacks, s->stacks_len);
		munmap(s->stacks, s->stacks_len);
	}
	iolens__cq_free(&s->rd.done);
	free(s->ucs);
	free(s->tasks);
}
