/*
 * The reap loop shared by readiness backends (poll, epoll): unless min (> 0)
 * ops are done already (a SEND done inside submit), look once without
 * waiting (counted as ready_at_once when it finds work), then wait
 * while fewer than min operations are done (each wait counted) and the
 * timeout, counted from the first wait, has time left. A backend's private
 * state starts with this struct; check() waits up to timeout_ms for
 * readiness, performs what is ready into `done`, and returns how many
 * descriptors it found ready for queued ops (0 on timeout, or when it only
 * woke for descriptors with nothing queued) or -errno.
 */
#ifndef IOLENS_READINESS_H
#define IOLENS_READINESS_H

#include "cq.h"
#include "fdq.h"

struct iolens__readiness {
	struct iolens__cq done;
	unsigned npending; /* queued, waiting for readiness */
	int (*check)(struct iolens_ctx *ctx, int timeout_ms);
};

/* A backend's .reap: ctx->priv points at a struct iolens__readiness. */
int iolens__readiness_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			   unsigned max, int64_t timeout_ns);

static inline int iolens__is_sockop(const struct iolens_op *op)
{
	return op->kind == IOLENS_OP_SEND || op->kind == IOLENS_OP_RECV ||
	       op->kind == IOLENS_OP_ACCEPT || op->kind == IOLENS_OP_CONNECT;
}

/*
 * Try a socket op once on a non-blocking descriptor that was reported ready
 * for it. Returns 1 when the op is done (op->result set), 0 when it has to
 * wait for readiness again: the call said EAGAIN, or a CONNECT is under
 * way. Each call but a CONNECT's counts in ctx's nowait_tries (and
 * nowait_eagain when it said EAGAIN). *connecting starts at 0 and is the CONNECT's memory between calls:
 * connect() is issued once, and after EINPROGRESS the next try reads the
 * outcome (SO_ERROR) instead.
 */
int iolens__readiness_sockop(struct iolens_ctx *ctx, struct iolens_op *op, int *connecting);

/*
 * A SEND with no SEND queued ahead of it on its descriptor is tried at once
 * in submit, as event loops write (libuv's uv_try_write); so is an ACCEPT
 * with no ACCEPT ahead of it (a loaded server's loop looks at readiness
 * seldom, and its listener would wait for each look). Returns 1 when it
 * is done (flagged INLINE and counted; the caller queues it for reap), 0
 * when the call said EAGAIN and it has to wait for readiness.
 */
int iolens__readiness_try_now(struct iolens_ctx *ctx, struct iolens_op *op);

/*
 * The common part of a set-based readiness backend's init (poll, select):
 * q for depth ops with entries of esize bytes, the done queue, check, and,
 * when nowait is given, whether RWF_NOWAIT was asked for (stats.setup then
 * says "nowait"). 0 or -ENOMEM; teardown frees what it made, also after a
 * failure.
 */
int iolens__readiness_setup(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			    struct iolens__fdq *q, size_t esize,
			    int (*check)(struct iolens_ctx *ctx, int timeout_ms), int *nowait);
void iolens__readiness_teardown(struct iolens__readiness *rd, struct iolens__fdq *q);

/*
 * Queue op on q, or complete it at once: a negative descriptor with -EBADF
 * (poll would skip it and wait forever), a SEND with none queued ahead of
 * it that the socket took (iolens__readiness_try_now). 0, or -ENOMEM when
 * q cannot grow for the descriptor (nothing queued).
 */
int iolens__readiness_queue(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			    struct iolens__fdq *q, struct iolens_op *op);

/*
 * Serve fd's ops waiting in direction dir of q, oldest first, until one
 * would block: file ops with a plain call (a READ with RWF_NOWAIT first
 * while *nowait, which drops to 0 when the filesystem cannot say; nowait
 * may be NULL), socket ops tried once each. Done ops go to rd->done.
 */
void iolens__readiness_serve(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			     struct iolens__fdq *q, int fd, int dir, int *nowait);

#endif
