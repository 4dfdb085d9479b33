#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/uio.h>
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

int iolens__readiness_try_now(struct iolens_ctx *ctx, struct iolens_op *op)
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

int iolens__readiness_setup(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			    struct iolens__fdq *q, size_t esize,
			    int (*check)(struct iolens_ctx *ctx, int timeout_ms), int *nowait)
{
	if (iolens__fdq_init(q, ctx->opts.depth, esize) || iolens__cq_init(&rd->done, ctx->opts.depth))
		return -ENOMEM;
	rd->check = check;
	if (nowait) {
		*nowait = !!(ctx->opts.flags & IOLENS_BOPT_NOWAIT);
		if (*nowait)
			snprintf(ctx->stats.setup, sizeof(ctx->stats.setup), "nowait");
	}
	return 0;
}

void iolens__readiness_teardown(struct iolens__readiness *rd, struct iolens__fdq *q)
{
	iolens__cq_free(&rd->done);
	iolens__fdq_free(q);
}

int iolens__readiness_queue(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			    struct iolens__fdq *q, struct iolens_op *op)
{
	struct iolens__fdq_fd *e;

	op->flags = 0;
	if (op->fd < 0) {
		/* poll() skips negative descriptors: it would wait forever. */
		op->result = -EBADF;
		op->flags = IOLENS_OPF_INLINE;
		ctx->stats.completed_inline++;
		iolens__cq_push(&rd->done, op);
		return 0;
	}
	e = iolens__fdq_get(q, op->fd);
	if (!e)
		return -ENOMEM;
	/*
	 * A SEND, and an ACCEPT, are tried at once. An ACCEPT waiting its turn
	 * for readiness may wait long: while the calls tried at once keep
	 * completing, a loaded server's loop seldom looks at readiness, and a
	 * listener would be served a few connections per look.
	 */
	if ((op->kind == IOLENS_OP_SEND || op->kind == IOLENS_OP_ACCEPT) &&
	    !e->head[op->kind == IOLENS_OP_SEND ? IOLENS__FDQ_OUT : IOLENS__FDQ_IN] &&
	    iolens__readiness_try_now(ctx, op)) {
		iolens__cq_push(&rd->done, op);
		return 0;
	}
	iolens__fdq_push(q, op);
	rd->npending++;
	return 0;
}

/* Try the read without blocking first; on "would block" fall back to a plain pread. */
static void nowait_read(struct iolens_ctx *ctx, int *nowait, struct iolens_op *op)
{
	struct iovec iov = { op->buf, op->len };
	ssize_t r;

	do
		r = preadv2(op->fd, &iov, 1, (off_t)op->offset, RWF_NOWAIT);
	while (r < 0 && errno == EINTR);
	ctx->stats.nowait_tries++;
	if (r < 0 && errno == EOPNOTSUPP) {
		*nowait = 0; /* the filesystem cannot say: stop asking */
		ctx->stats.nowait_tries--;
	} else if (r < 0 && errno == EAGAIN) {
		op->flags |= IOLENS_OPF_WOULDBLOCK;
		ctx->stats.nowait_eagain++;
	} else if (r >= 0 && (uint32_t)r == op->len) {
		op->result = r;
		return;
	} else if (r > 0) {
		/* Part was cached; read the rest the ordinary way. */
		struct iolens_op rest = *op;

		rest.buf = (char *)op->buf + r;
		rest.len = op->len - (uint32_t)r;
		rest.offset = op->offset + (uint64_t)r;
		iolens__syncop(&rest);
		op->result = rest.result < 0 ? rest.result : r + rest.result;
		return;
	} else if (r < 0) {
		op->result = -errno;
		return;
	}
	iolens__syncop(op);
}

void iolens__readiness_serve(struct iolens_ctx *ctx, struct iolens__readiness *rd,
			     struct iolens__fdq *q, int fd, int dir, int *nowait)
{
	struct iolens__fdq_slot *sl;

	while ((sl = iolens__fdq_peek(q, fd, dir))) {
		struct iolens_op *op = sl->op;

		if (iolens__is_sockop(op)) {
			if (!iolens__readiness_sockop(ctx, op, &sl->connecting))
				return;
		} else if (nowait && *nowait && op->kind == IOLENS_OP_READ) {
			nowait_read(ctx, nowait, op);
		} else {
			iolens__syncop(op);
		}
		iolens__fdq_pop(q, fd, dir);
		rd->npending--;
		iolens__cq_push(&rd->done, op);
	}
}
