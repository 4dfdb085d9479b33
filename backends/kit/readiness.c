#include <errno.h>
#include <limits.h>
#include <time.h>

#include "backend.h"
#include "clock.h"
#include "readiness.h"
#include "syncop.h"

/* Whole milliseconds covering ns, at most INT_MAX. */
static int ceil_ms(int64_t ns)
{
	int64_t ms = ns / 1000000 + (ns % 1000000 != 0);

	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int iolens__readiness_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			   unsigned max, int64_t timeout_ns)
{
	struct iolens__readiness *rd = ctx->priv;
	int64_t deadline = 0; /* read from the clock at the first wait: none when there is none */
	int r;

	/* A caller that has its min already gets it without another look. */
	if (rd->npending && !(min && iolens__cq_len(&rd->done) >= min)) {
		r = rd->check(ctx, 0);
		if (r < 0)
			return r;
		if (r > 0)
			ctx->stats.ready_at_once++;
	}
	while (iolens__cq_len(&rd->done) < min && rd->npending) {
		int ms = timeout_ns < 0 ? -1 : 0;

		/*
		 * Wake-ups that serve nothing (an edge on an idle socket) must
		 * not stretch the wait: what is left of the timeout is measured.
		 */
		if (timeout_ns > 0) {
			int64_t left = timeout_ns;

			if (!deadline)
				deadline = iolens__mono_ns() + timeout_ns;
			else
				left = deadline - iolens__mono_ns();
			if (left <= 0)
				break;
			ms = ceil_ms(left);
		}
		ctx->stats.waits++;
		r = rd->check(ctx, ms);
		if (r < 0)
			return r;
		if (r == 0 && timeout_ns == 0)
			break;
	}
	return (int)iolens__cq_pop(&rd->done, out, max);
}

/* A data call on an O_NONBLOCK socket: counted as one that could not sleep. */
static void count_try(struct iolens_ctx *ctx, const struct iolens_op *op)
{
	if (op->kind == IOLENS_OP_CONNECT)
		return;
	ctx->stats.nowait_tries++;
	ctx->stats.nowait_eagain += op->result == -EAGAIN;
}

int iolens__readiness_try_send(struct iolens_ctx *ctx, struct iolens_op *op)
{
	iolens__syncop_nonblock(op);
	count_try(ctx, op);
	if (op->result == -EAGAIN)
		return 0;
	op->flags |= IOLENS_OPF_INLINE;
	ctx->stats.completed_inline++;
	return 1;
}

int iolens__readiness_sockop(struct iolens_ctx *ctx, struct iolens_op *op, int *connecting)
{
	if (op->kind == IOLENS_OP_CONNECT && *connecting) {
		op->result = iolens__sock_error(op->fd);
		return 1;
	}
	iolens__syncop_nonblock(op);
	count_try(ctx, op);
	if (op->kind == IOLENS_OP_CONNECT && op->result == -EINPROGRESS) {
		*connecting = 1;
		return 0;
	}
	return op->result != -EAGAIN;
}
