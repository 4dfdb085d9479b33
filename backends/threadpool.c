/*
 * threadpool: plain blocking calls (pread/pwrite/fsync, send with
 * MSG_NOSIGNAL, recv, accept4, connect) made by a pool of N user threads,
 * `threads=N` (default 4; no more are started than depth, which is all
 * that can be busy). submit queues the ops, a worker performs each, reap
 * collects them, sleeping on a futex the finishing worker wakes (the
 * hand-off, backends/kit/pool.c). This is async I/O emulated in user
 * space: libuv's and Node's file operations, tokio's blocking pool,
 * Python's ThreadPoolExecutor. No op is flagged INLINE: another thread
 * moved its data, whenever it finished.
 *
 * Sockets: blocking descriptors, one plain call per op. A fixed pool can
 * deadlock on them (every worker blocked in a RECV whose answer waits on a
 * SEND queued behind it), so the pool grows: when ops are queued, every
 * worker is inside a socket call and nothing has started or finished for
 * 100 ms, one worker more per queued op, up to depth in all (pool.h). The
 * setup line says so ("threads=4, grew to 130"); until then the pool is the
 * fixed one asked for, queueing included. A slow peer (a responder delay
 * past 100 ms) looks the same as a deadlock and grows it too.
 *
 * Close: in-flight ops are waited for (iolens_ctx_close); destroy drops
 * what is still queued, gives running calls a second (a shutdown(2) ends
 * a blocked socket call at once) and abandons the workers still inside
 * one: they never write into an op after that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "pool.h"

#define DEFAULT_THREADS 4u

struct tp_state {
	struct iolens__pool *pool;
	unsigned asked;   /* threads=N */
	unsigned started; /* workers at init */
	unsigned shown;   /* workers the setup line names */
};

static void describe(struct iolens_ctx *ctx, const struct tp_state *s)
{
	iolens__pool_setup_line(s->pool, s->asked, s->started, ctx->opts.depth, ctx->stats.setup,
				sizeof(ctx->stats.setup));
}

static int tp_init(struct iolens_ctx *ctx)
{
	struct tp_state *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->asked = (ctx->opts.flags & IOLENS_BOPT_THREADS) ? ctx->opts.aio_threads : DEFAULT_THREADS;
	if (!s->asked) {
		free(s);
		return -EINVAL;
	}
	s->started = s->asked < ctx->opts.depth ? s->asked : ctx->opts.depth;
	err = iolens__pool_start(&s->pool, s->started, ctx->opts.depth);
	if (err) {
		free(s);
		return err;
	}
	s->shown = s->started;
	describe(ctx, s);
	ctx->priv = s;
	return 0;
}

static void tp_destroy(struct iolens_ctx *ctx)
{
	struct tp_state *s = ctx->priv;

	iolens__pool_stop(s->pool);
	free(s);
}

static int tp_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	struct tp_state *s = ctx->priv;

	iolens__pool_submit(s->pool, ops, n);
	return (int)n;
}

static int tp_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min, unsigned max,
		   int64_t timeout_ns)
{
	struct tp_state *s = ctx->priv;
	unsigned got = iolens__pool_reap(s->pool, out, min, max, timeout_ns, &ctx->stats.waits);

	if (iolens__pool_threads(s->pool) != s->shown) {
		s->shown = iolens__pool_threads(s->pool);
		describe(ctx, s);
	}
	return (int)got;
}

const struct iolens_backend iolens_backend_threadpool = {
	.name = "threadpool",
	.model = IOLENS_MODEL_ASYNC_THREADS,
	.summary = "blocking calls on a pool of N threads (threads=N, default 4); futex hand-off",
	.caps = IOLENS_CAP_OP(IOLENS_OP_READ) | IOLENS_CAP_OP(IOLENS_OP_WRITE) |
		IOLENS_CAP_OP(IOLENS_OP_FSYNC) | IOLENS_CAP_OP(IOLENS_OP_SEND) |
		IOLENS_CAP_OP(IOLENS_OP_RECV) | IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
		IOLENS_CAP_OP(IOLENS_OP_CONNECT),
	.options = IOLENS_BOPT_THREADS,
	.init = tp_init,
	.destroy = tp_destroy,
	.submit = tp_submit,
	.reap = tp_reap,
};
