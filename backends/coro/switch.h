/*
 * User-space context switches for the coro backends: a fiber is a stack and
 * the registers a switch saves on it. Two ways to switch:
 *
 *  - asm (the default): a hand-written switch that saves the callee-saved
 *    registers, the SSE and x87 control words and the stack pointer, and
 *    loads another's: no system call. x86-64 only, and not in a build with
 *    shadow stacks; elsewhere iolens__fiber_asm_works() is 0 and the
 *    backend refuses the default.
 *  - ucontext: glibc's getcontext/makecontext/swapcontext, which also
 *    saves and restores the signal mask, so every switch is an
 *    rt_sigprocmask system call.
 *
 * Under AddressSanitizer every switch tells it which stack is about to run
 * (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), so
 * its checks follow the stack pointer onto the fiber and back.
 *
 * A fiber's entry function never returns: it switches away for the last
 * time instead. All fibers of one switcher run on the thread that made it,
 * and are only ever switched to from the thread's own stack (`main`) and
 * back.
 */
#ifndef IOLENS_CORO_SWITCH_H
#define IOLENS_CORO_SWITCH_H

#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

struct iolens__switcher;

struct iolens__fiber {
	void *sp;           /* asm: the saved stack pointer */
	ucontext_t *uc;     /* ucontext: the saved context */
	const void *bottom; /* the stack, for AddressSanitizer; the thread's own is */
	size_t size;        /* learned at the first switch away from it */
	struct iolens__switcher *sw;
	void (*entry)(void *);
	void *arg;
};

struct iolens__switcher {
	int ucontext;              /* 1: swapcontext, 0: the asm switch */
	struct iolens__fiber main; /* the thread's own stack (main.uc = &main_uc) */
	ucontext_t main_uc;
};

/* 1 when this build has the hand-written switch (x86-64, no shadow stacks). */
int iolens__fiber_asm_works(void);

/* Set sw up for the calling thread: the asm switch, or swapcontext when ucontext. */
void iolens__switcher_init(struct iolens__switcher *sw, int ucontext);

/*
 * Make f a fiber on [stack, stack + size) (16-byte aligned) that will run
 * entry(arg) when first switched to. f->uc must point at a ucontext_t when
 * sw->ucontext. 0, or -errno from getcontext.
 */
int iolens__fiber_make(struct iolens__switcher *sw, struct iolens__fiber *f, void *stack,
		       size_t size, void (*entry)(void *), void *arg);

/* Switch from the running fiber `from` to `to`; returns when something switches back. */
void iolens__fiber_switch(struct iolens__switcher *sw, struct iolens__fiber *from,
			  struct iolens__fiber *to);

/*
 * Time `rounds` round trips (two switches each) between the thread's stack
 * and a fiber that does nothing but switch back, made on [stack, stack +
 * size), which is free again afterwards. Stores the switches timed and
 * their total time.
 */
int iolens__fiber_probe(struct iolens__switcher *sw, void *stack, size_t size, unsigned rounds,
			uint64_t *n, uint64_t *ns);

/* The stack is about to be unmapped: drop what AddressSanitizer marked on it. */
void iolens__fiber_forget_stack(void *stack, size_t size);

#endif
