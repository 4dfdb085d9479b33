/*
 * The pending operations of a readiness backend (poll, epoll), queued by
 * descriptor: each fd has one FIFO of ops waiting for it to be readable
 * (RECV, ACCEPT, READ) and one for writable (SEND, CONNECT, WRITE, FSYNC),
 * so two ops on one socket are served in order and a wakeup costs in the
 * number of ready descriptors, not in depth. The descriptors with something
 * queued form a dense set (busy[]) that poll builds its pollfd array from.
 *
 * Slots for depth ops are allocated at init. The table is indexed by
 * descriptor number and grows, when a higher number shows up, to the next
 * power of two: an allocation per new highest descriptor, never per op.
 * A backend keeps its own per-descriptor fields by making its entries
 * `esize` bytes long, starting with struct iolens__fdq_fd. Entry pointers
 * stay valid until the next iolens__fdq_get.
 */
#ifndef IOLENS_FDQ_H
#define IOLENS_FDQ_H

#include <stddef.h>

#include "iolens/iolens.h"

enum { IOLENS__FDQ_IN, IOLENS__FDQ_OUT };

struct iolens__fdq_fd {
	unsigned head[2];  /* per direction: oldest slot + 1, 0 when empty */
	unsigned tail[2];  /* newest slot + 1 */
	unsigned npending; /* ops queued in both directions */
	unsigned busy;     /* index + 1 in busy[], 0 when nothing is queued */
};

struct iolens__fdq_slot {
	struct iolens_op *op;
	unsigned next;  /* the next slot + 1 of the same fd and direction */
	int connecting; /* CONNECT: connect() said EINPROGRESS, the outcome is awaited */
};

struct iolens__fdq {
	unsigned char *tab; /* entries of esize bytes, indexed by descriptor */
	size_t esize;
	size_t ntab;
	struct iolens__fdq_slot *slot; /* depth of them */
	unsigned free;                 /* first free slot + 1 */
	int *busy;                     /* descriptors with ops queued, in no order */
	unsigned nbusy;
};

int iolens__fdq_init(struct iolens__fdq *q, unsigned depth, size_t esize);
void iolens__fdq_free(struct iolens__fdq *q);

/* The entry of fd (>= 0), zeroed on first sight; NULL when the table cannot grow. */
void *iolens__fdq_get(struct iolens__fdq *q, int fd);

/* The entry of fd if the table has one, else NULL. Never grows. */
static inline void *iolens__fdq_find(const struct iolens__fdq *q, int fd)
{
	return fd >= 0 && (size_t)fd < q->ntab ? q->tab + (size_t)fd * q->esize : NULL;
}

/* The direction an op waits in: IOLENS__FDQ_IN or IOLENS__FDQ_OUT. */
static inline int iolens__fdq_dir(const struct iolens_op *op)
{
	return op->kind == IOLENS_OP_READ || op->kind == IOLENS_OP_RECV ||
	       op->kind == IOLENS_OP_ACCEPT ? IOLENS__FDQ_IN : IOLENS__FDQ_OUT;
}

/*
 * Queue op behind the others of its fd and direction; fd's entry must exist
 * (iolens__fdq_get) and fewer than depth ops may be queued. Returns 1 when
 * the fd had nothing queued before, else 0.
 */
int iolens__fdq_push(struct iolens__fdq *q, struct iolens_op *op);

/* The oldest slot of fd in direction dir, or NULL. */
static inline struct iolens__fdq_slot *iolens__fdq_peek(const struct iolens__fdq *q, int fd,
							 int dir)
{
	const struct iolens__fdq_fd *e = iolens__fdq_find(q, fd);

	return e && e->head[dir] ? &q->slot[e->head[dir] - 1] : NULL;
}

/* Unqueue the oldest op of fd in direction dir (there is one) and return it. */
struct iolens_op *iolens__fdq_pop(struct iolens__fdq *q, int fd, int dir);

/*
 * Zero fd's entry, the backend's fields included, so a descriptor that gets
 * the number next starts afresh. 0, or -EBUSY while ops are queued on fd.
 */
int iolens__fdq_forget(struct iolens__fdq *q, int fd);

#endif
