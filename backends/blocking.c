/*
 * blocking: pread/pwrite/fsync, send/recv/accept/connect in the calling
 * thread, on blocking descriptors. The harness realises depth D as D threads
 * at depth 1 each (the thread-per-request model; one thread per connection
 * for sockets).
 */
#include "backend.h"
#include "cq.h"
#include "syncop.h"

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

const struct iolens_backend iolens_backend_blocking = {
	.name = "blocking",
	.model = IOLENS_MODEL_SYNC_BLOCKING,
	.summary = "plain blocking calls in the calling thread; depth D = D threads (procs: D processes)",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT) | IOLENS_CAP_THREAD_PER_OP,
	.options = IOLENS_BOPT_PROCS,
	.init = iolens__cq_backend_init,
	.destroy = iolens__cq_backend_destroy,
	.submit = blocking_submit,
	.reap = iolens__cq_backend_reap,
};
