/*
 * A fixed ring of completed operations, for backends that complete work
 * before reap asks for it (null, blocking, poll, epoll). Capacity is a power
 * of two >= depth, allocated once at init.
 */
#ifndef IOLENS_CQ_H
#define IOLENS_CQ_H

#include <errno.h>
#include <stdlib.h>

#include "iolens/iolens.h"

struct iolens__cq {
	struct iolens_op **slot;
	unsigned mask;
	unsigned head; /* next to pop */
	unsigned tail; /* next to push */
};

static inline int iolens__cq_init(struct iolens__cq *q, unsigned depth)
{
	unsigned cap = 1;

	while (cap < depth)
		cap <<= 1;
	q->slot = calloc(cap, sizeof(*q->slot));
	if (!q->slot)
		return -ENOMEM;
	q->mask = cap - 1;
	q->head = q->tail = 0;
	return 0;
}

static inline void iolens__cq_free(struct iolens__cq *q)
{
	free(q->slot);
	q->slot = NULL;
}

static inline unsigned iolens__cq_len(const struct iolens__cq *q)
{
	return q->tail - q->head;
}

/* The caller never has more than depth ops in flight, so push cannot overflow. */
static inline void iolens__cq_push(struct iolens__cq *q, struct iolens_op *op)
{
	q->slot[q->tail++ & q->mask] = op;
}

/* Move up to max ops to out[]; returns how many. */
static inline unsigned iolens__cq_pop(struct iolens__cq *q, struct iolens_op **out,
				      unsigned max)
{
	unsigned n = 0;

	while (n < max && q->head != q->tail)
		out[n++] = q->slot[q->head++ & q->mask];
	return n;
}


/*
 * Hooks for backends whose whole state is one completion ring (null,
 * blocking): init allocates it into ctx->priv, reap pops it, destroy frees it.
 */
struct iolens_ctx;
int iolens__cq_backend_init(struct iolens_ctx *ctx);
void iolens__cq_backend_destroy(struct iolens_ctx *ctx);
int iolens__cq_backend_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
			    unsigned max, int64_t timeout_ns);

#endif
