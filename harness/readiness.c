#include <errno.h>

#include "backend.h"
#include "readiness.h"
#include "syncop.h"

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

int iolens__readiness_sockop(struct iolens_op *op, int *connecting)
{
	if (op->kind == IOLENS_OP_CONNECT && *connecting) {
		op->result = iolens__sock_error(op->fd);
		return 1;
	}
	iolens__syncop_nonblock(op);
	if (op->kind == IOLENS_OP_CONNECT && op->result == -EINPROGRESS) {
		*connecting = 1;
		return 0;
	}
	return op->result != -EAGAIN;
}
