#include "backend.h"
#include "cq.h"

int iolens__cq_backend_init(struct iolens_ctx *ctx)
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

void iolens__cq_backend_destroy(struct iolens_ctx *ctx)
{
	iolens__cq_free(ctx->priv);
	free(ctx->priv);
}

/* Everything was completed in submit: never waits. */
int iolens__cq_backend_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			    unsigned max, int64_t timeout_ns)
{
	(void)min;
	(void)timeout_ns;
	return (int)iolens__cq_pop(ctx->priv, out, max);
}
