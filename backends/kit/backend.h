/*
 * The backend contract. A backend is one file backends/<name>.c whose
 * functions are all static, or, when one file cannot stay readable, a
 * folder backends/<name>/ whose files share a private header and name
 * what they share iolens__<name>_* (backends/io_uring/). Either way it
 * exports exactly one `const struct iolens_backend iolens_backend_<name>`,
 * listed in backends/registry.c; a folder may hold two backends that share
 * all but their event loop (backends/coro/: coro and coro-epoll).
 *
 * The contract is completion-shaped:
 *  - init(ctx): ctx->opts is filled and checked (depth >= 1, only options
 *    listed in .options). Allocate private state into ctx->priv. Return 0 or
 *    a negative errno; -ENOSYS / -EOPNOTSUPP mean "cannot run here". A
 *    refusal with a reason writes it into ctx->stats.setup as one sentence
 *    (iolens_ctx_open_reason() hands it on).
 *  - destroy(ctx): free ctx->priv. Ops may still be in flight when close gave
 *    up on them (a second without a completion): cancel what the kernel holds,
 *    wait a bounded time for the cancellations, and abandon the rest rather
 *    than free memory the kernel or a helper thread may still write.
 *  - submit(ctx, ops, n): take ops from the front; return how many were
 *    accepted (busy is not an error). A synchronous backend performs each op
 *    before returning, sets op->result and IOLENS_OPF_INLINE, and queues it
 *    for reap. An asynchronous backend may hold accepted ops until the next
 *    reap and start them with its wait (io_uring's socket ops); reap then
 *    starts them even when it does not wait. An op kind the backend cannot
 *    do is refused with -EOPNOTSUPP before anything of the batch is
 *    accepted (the caller checks caps first).
 *    Per-op failures go into op->result as -errno, never into the return.
 *    An asynchronous backend whose op completed inside the call that
 *    submitted it (its completion is there as the call returns: io_uring
 *    and libaio on page-cached data) flags it IOLENS_OPF_INLINE and counts
 *    it in completed_inline as well; reap still returns it with its result.
 *  - reap(ctx, out, min, max, timeout_ns): store up to max completed ops,
 *    waiting for min (timeout_ns < 0: forever; 0: no wait). Never wait for
 *    more than are in flight. EINTR is retried inside the backend.
 *  - Counters: bump ctx->stats fields that mean something for the backend
 *    (completed_inline, fallbacks, ready_at_once, waits, nowait_*); the
 *    wrapper counts submit_calls, reap_calls, submitted and completed.
 *    Write what was in effect into ctx->stats.setup during init.
 *
 * Backends never print, exit, or allocate per operation.
 */
#ifndef IOLENS_BACKEND_H
#define IOLENS_BACKEND_H

/* Backend-private op flag: in the batch being submitted (cleared before submit returns). */
#define IOLENS__OPF_SUBMITTING 0x8000u

#include "iolens/iolens.h"

struct iolens_ctx {
	const struct iolens_backend *be;
	const struct iolens_backend_info *info;
	void *priv;
	struct iolens_backend_opts opts;
	struct iolens_backend_stats stats;
	unsigned inflight; /* kept by the wrapper: submitted - completed */
};

struct iolens_backend {
	const char *name;
	const char *model;   /* declared model */
	const char *summary; /* one line */
	uint32_t caps;       /* IOLENS_CAP_* */
	uint32_t options;    /* IOLENS_BOPT_* accepted */
	/* Optional: 0 if the kernel can run this backend, else -errno and *why. */
	int (*probe)(const char **why);
	int (*init)(struct iolens_ctx *ctx);
	void (*destroy)(struct iolens_ctx *ctx);
	int (*submit)(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n);
	int (*reap)(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		    unsigned max, int64_t timeout_ns);
	/* Optional: drop per-descriptor state before the caller closes fd. 0 or -errno. */
	int (*forget)(struct iolens_ctx *ctx, int fd);
};

/* One registry row: a backend, or a name the build left out and why. */
struct iolens__registry_entry {
	const struct iolens_backend *be; /* NULL when not built */
	const char *name;
	const char *model;
	const char *missing; /* why it is not built, when be is NULL */
};

extern const struct iolens__registry_entry iolens__registry[];
extern const unsigned iolens__registry_len;

#endif
