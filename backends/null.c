/*
 * null: completes every operation inside submit without touching the
 * kernel: reads, writes, sends and receives as if len bytes moved. It cannot
 * make a descriptor, so it does not accept or connect.
 */
#include "backend.h"
#include "cq.h"

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

const struct iolens_backend iolens_backend_null = {
	.name = "null",
	.model = IOLENS_MODEL_NO_IO,
	.summary = "completes every operation at once: the harness's own cost",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV),
	.init = iolens__cq_backend_init,
	.destroy = iolens__cq_backend_destroy,
	.submit = null_submit,
	.reap = iolens__cq_backend_reap,
};
