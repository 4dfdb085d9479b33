/*
 * The two context switches of switch.h, and the probe that times them.
 *
 * The asm switch (x86-64, System V): push the six callee-saved registers,
 * store MXCSR and the x87 control word (the ABI makes their control bits
 * callee-saved too), save the stack pointer, load the other fiber's, and
 * undo the same in reverse. What a switch leaves on a stack, from the saved
 * stack pointer up:
 *
 *   +0 MXCSR, +4 x87 control word, +8 r15, r14, r13, r12, rbx, rbp,
 *   +56 the address the final ret jumps to
 *
 * A new fiber's stack is made to look like one that switched away: its
 * ret goes to fiber_trampoline, which finds the C start function in r12
 * and the fiber in r13 and calls it with the stack 16-byte aligned, as a
 * call requires. No signal mask is touched: that is the difference from
 * swapcontext, which is a system call per switch for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "switch.h"

#if defined(__SANITIZE_ADDRESS__)
#define IOLENS_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOLENS_FIBER_ASAN 1
#endif
#endif

#ifdef IOLENS_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/*
 * Built with shadow stacks enabled (-fcf-protection marks __CET__ bit 2),
 * the ret into a new fiber would be refused: the asm switch is left out.
 */
#if defined(__x86_64__) && !(defined(__CET__) && (__CET__ & 2))
#define IOLENS_FIBER_ASM 1
#endif

#ifdef IOLENS_FIBER_ASM
void iolens__fiber_swap(void **save_sp, void *load_sp);
void iolens__fiber_trampoline(void);

__asm__(".text\n"
	".globl iolens__fiber_swap\n"
	".hidden iolens__fiber_swap\n"
	".type iolens__fiber_swap, @function\n"
	".p2align 4\n"
	"iolens__fiber_swap:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size iolens__fiber_swap, .-iolens__fiber_swap\n"
	".globl iolens__fiber_trampoline\n"
	".hidden iolens__fiber_trampoline\n"
	".type iolens__fiber_trampoline, @function\n"
	".p2align 4\n"
	"iolens__fiber_trampoline:\n"
	"	movq %r13, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size iolens__fiber_trampoline, .-iolens__fiber_trampoline\n");

int iolens__fiber_asm_works(void)
{
	return 1;
}
#else
int iolens__fiber_asm_works(void)
{
	return 0;
}
#endif

void iolens__switcher_init(struct iolens__switcher *sw, int ucontext)
{
	memset(sw, 0, sizeof(*sw));
	sw->ucontext = ucontext;
	sw->main.uc = &sw->main_uc;
	sw->main.sw = sw;
}

/* Every fiber starts here, on its own stack. */
static void fiber_start(struct iolens__fiber *f)
{
#ifdef IOLENS_FIBER_ASAN
	/* The stack we came from is the thread's own: now its bounds are known. */
	__sanitizer_finish_switch_fiber(NULL, &f->sw->main.bottom, &f->sw->main.size);
#endif
	f->entry(f->arg);
}

/* makecontext passes int arguments: the fiber's address in two halves. */
static void uc_start(unsigned hi, unsigned lo)
{
	fiber_start((struct iolens__fiber *)(((uintptr_t)hi << 32) | lo));
}

int iolens__fiber_make(struct iolens__switcher *sw, struct iolens__fiber *f, void *stack,
		       size_t size, void (*entry)(void *), void *arg)
{
	f->bottom = stack;
	f->size = size;
	f->sw = sw;
	f->entry = entry;
	f->arg = arg;
	/* A fiber abandoned on this stack may have left its frames' redzones marked. */
	iolens__fiber_forget_stack(stack, size);
	if (sw->ucontext) {
		uintptr_t p = (uintptr_t)f;

		if (getcontext(f->uc))
			return -errno;
		f->uc->uc_stack.ss_sp = stack;
		f->uc->uc_stack.ss_size = size;
		f->uc->uc_link = NULL;
		makecontext(f->uc, (void (*)(void))uc_start, 2, (unsigned)(p >> 32), (unsigned)p);
		return 0;
	}
#ifdef IOLENS_FIBER_ASM
	{
		uint64_t *top = (uint64_t *)((uintptr_t)((char *)stack + size) & ~(uintptr_t)15);
		uint64_t *frame = top - 8;
		uint32_t mxcsr;
		uint16_t fpucw;

		/* The new fiber starts with this thread's floating-point control state. */
		__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
		__asm__ volatile("fnstcw %0" : "=m"(fpucw));
		memset(frame, 0, 8 * sizeof(*frame));
		memcpy(frame, &mxcsr, sizeof(mxcsr));
		memcpy((char *)frame + 4, &fpucw, sizeof(fpucw));
		frame[4] = (uint64_t)(uintptr_t)fiber_start; /* r12 */
		frame[3] = (uint64_t)(uintptr_t)f;           /* r13 */
		frame[7] = (uint64_t)(uintptr_t)iolens__fiber_trampoline;
		f->sp = frame;
		return 0;
	}
#else
	return -EOPNOTSUPP;
#endif
}

void iolens__fiber_switch(struct iolens__switcher *sw, struct iolens__fiber *from,
			  struct iolens__fiber *to)
{
#ifdef IOLENS_FIBER_ASAN
	void *fake = NULL;
	const void *bottom;
	size_t size;

	__sanitizer_start_switch_fiber(&fake, to->bottom, to->size);
#endif
	if (sw->ucontext)
		swapcontext(from->uc, to->uc);
#ifdef IOLENS_FIBER_ASM
	else
		iolens__fiber_swap(&from->sp, to->sp);
#endif
#ifdef IOLENS_FIBER_ASAN
	__sanitizer_finish_switch_fiber(fake, &bottom, &size);
	if (from != &sw->main) {
		sw->main.bottom = bottom;
		sw->main.size = size;
	}
#endif
}

struct probe {
	struct iolens__fiber f;
	ucontext_t uc;
};

static void probe_main(void *arg)
{
	struct probe *p = arg;

	for (;;)
		iolens__fiber_switch(p->f.sw, &p->f, &p->f.sw->main);
}

int iolens__fiber_probe(struct iolens__switcher *sw, void *stack, size_t size, unsigned rounds,
			uint64_t *n, uint64_t *ns)
{
	struct probe p = { .f.uc = NULL };
	int64_t t0;
	int err;

	p.f.uc = &p.uc;
	err = iolens__fiber_make(sw, &p.f, stack, size, probe_main, &p);
	if (err)
		return err;
	/* A few untimed trips first: the first touches the stack's pages. */
	for (unsigned i = 0; i < 16; i++)
		iolens__fiber_switch(sw, &sw->main, &p.f);
	t0 = iolens__mono_ns();
	for (unsigned i = 0; i < rounds; i++)
		iolens__fiber_switch(sw, &sw->main, &p.f);
	*ns = (uint64_t)(iolens__mono_ns() - t0);
	*n = 2ull * rounds;
	/* The probe stays suspended in its loop: its stack is the caller's again. */
	iolens__fiber_forget_stack(stack, size);
	return 0;
}

void iolens__fiber_forget_stack(void *stack, size_t size)
{
#ifdef IOLENS_FIBER_ASAN
	__asan_unpoison_memory_region(stack, size);
#else
	(void)stack;
	(void)size;
#endif
}
