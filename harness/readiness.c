#include "backend.h"
#include "readiness.h"

int iolens__readiness_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			   unsigned max, int64_t timeout_ns)
{
	struct iolens__readiness *rd = ctx->priv;
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	int r;

	if (rd->npending) {
		r = rd->check(ctx, 0);
		if (r < 0)
			return r;
		if (r > 0)
			ctx->stats.ready_at_once++;
	}
	while (iolens__cq_len(&rd->done) < min && rd->npending) {
		ctx->stats.waits++;
		r = rd->check(ctx, ms);
		if (r < 0)
			return r;
		if (r == 0 && timeout_ns >= 0)
			break;
	}
	return (int)iolens__cq_pop(&rd->done, out, max);
}
