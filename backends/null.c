/* null: completes every operation inside submit without touching the kernel. */
#include <stdlib.h>

#include "backend.h"
#include "cq.h"

static int null_init(struct iolens_ctx *ctx)
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

static void null_destroy(struct iolens_ctx *ctx)
{
	iolens__cq_free(ctx->priv);
	free(ctx->priv);
}

static int null_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct iolens__cq *q = ctx->priv;

	for (unsigned i = 0; i < n; i++) {
		struct iolens_op *op = ops[i];

		op->result = op->kind == IOLENS_OP_FSYNC ? 0 : (int64_t)op->len;
		op->flags = IOLENS_OPF_INLINE;
		iolens__cq_push(q, op);
	}
	ctx->stats.completed_inline += n;
	return (int)n;
}

static int null_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		     unsigned max, int64_t timeout_ns)
{
	(void)min;
	(void)timeout_ns;
	return (int)iolens__cq_pop(ctx->priv, out, max);
}

const struct iolens_backend iolens_backend_null = {
	.name = "null",
	.model = "sync, no I/O (harness floor)",
	.summary = "completes every operation at once: the harness's own cost",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC),
	.init = null_init,
	.destroy = null_destroy,
	.submit = null_submit,
	.reap = null_reap,
};
