/*
 * blocking: pread/pwrite/fsync in the calling thread. The harness realises
 * depth D as D threads at depth 1 each (the thread-per-request model).
 */
#include <stdlib.h>

#include "backend.h"
#include "cq.h"
#include "syncop.h"

static int blocking_init(struct iolens_ctx *ctx)
{
	struct iolens__cq *q = malloc(sizeof(*q));
	int err;

	if (!q)
		return -ENOMEM;
	err = iolens__cq_init(q, ctx->opts.depth);
	if (err) {
		free(q);
		return err;
	}
	ctx->priv = q;
	return 0;
}

static void blocking_destroy(struct iolens_ctx *ctx)
{
	iolens__cq_free(ctx->priv);
	free(ctx->priv);
}

static int blocking_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		iolens__syncop(ops[i]);
		ops[i]->flags = IOLENS_OPF_INLINE;
		iolens__cq_push(ctx->priv, ops[i]);
	}
	ctx->stats.completed_inline += n;
	return (int)n;
}

static int blocking_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			 unsigned max, int64_t timeout_ns)
{
	(void)min;
	(void)timeout_ns;
	return (int)iolens__cq_pop(ctx->priv, out, max);
}

const struct iolens_backend iolens_backend_blocking = {
	.name = "blocking",
	.model = "sync, blocking",
	.summary = "pread/pwrite/fsync in the calling thread; depth D = D threads",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_THREAD_PER_OP,
	.init = blocking_init,
	.destroy = blocking_destroy,
	.submit = blocking_submit,
	.reap = blocking_reap,
};
