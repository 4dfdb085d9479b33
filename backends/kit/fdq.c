#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdq.h"

#define FDQ_MIN_ENTRIES 64

int iolens__fdq_init(struct iolens__fdq *q, unsigned depth, size_t esize)
{
	memset(q, 0, sizeof(*q));
	q->esize = esize;
	q->slot = calloc(depth, sizeof(*q->slot));
	q->busy = calloc(depth, sizeof(*q->busy));
	if (!q->slot || !q->busy) {
		iolens__fdq_free(q);
		return -ENOMEM;
	}
	/* Every slot free, chained in order. */
	for (unsigned i = 0; i + 1 < depth; i++)
		q->slot[i].next = i + 2;
	q->free = 1;
	return 0;
}

void iolens__fdq_free(struct iolens__fdq *q)
{
	free(q->tab);
	free(q->slot);
	free(q->busy);
	q->tab = NULL;
	q->slot = NULL;
	q->busy = NULL;
	q->ntab = 0;
}

void *iolens__fdq_get(struct iolens__fdq *q, int fd)
{
	size_t n = q->ntab ? q->ntab : FDQ_MIN_ENTRIES;
	unsigned char *tab;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < q->ntab)
		return q->tab + (size_t)fd * q->esize;
	while (n <= (size_t)fd)
		n *= 2;
	if (n > SIZE_MAX / q->esize)
		return NULL;
	tab = realloc(q->tab, n * q->esize);
	if (!tab)
		return NULL;
	memset(tab + q->ntab * q->esize, 0, (n - q->ntab) * q->esize);
	q->tab = tab;
	q->ntab = n;
	return q->tab + (size_t)fd * q->esize;
}

int iolens__fdq_push(struct iolens__fdq *q, struct iolens_op *op)
{
	struct iolens__fdq_fd *e = iolens__fdq_find(q, op->fd);
	int dir = iolens__fdq_dir(op);
	unsigned s = q->free;

	q->free = q->slot[s - 1].next;
	q->slot[s - 1] = (struct iolens__fdq_slot){ .op = op };
	if (e->tail[dir])
		q->slot[e->tail[dir] - 1].next = s;
	else
		e->head[dir] = s;
	e->tail[dir] = s;
	if (e->npending++)
		return 0;
	q->busy[q->nbusy++] = op->fd;
	e->busy = q->nbusy;
	return 1;
}

struct iolens_op *iolens__fdq_pop(struct iolens__fdq *q, int fd, int dir)
{
	struct iolens__fdq_fd *e = iolens__fdq_find(q, fd);
	unsigned s = e->head[dir];
	struct iolens__fdq_slot *sl = &q->slot[s - 1];
	struct iolens_op *op = sl->op;

	e->head[dir] = sl->next;
	if (!sl->next)
		e->tail[dir] = 0;
	sl->op = NULL;
	sl->next = q->free;
	q->free = s;
	if (--e->npending)
		return op;
	/* Idle: leave the busy set, moving its last member into the gap. */
	if (e->busy != q->nbusy) {
		int last = q->busy[q->nbusy - 1];
		struct iolens__fdq_fd *m = iolens__fdq_find(q, last);

		q->busy[e->busy - 1] = last;
		m->busy = e->busy;
	}
	q->nbusy--;
	e->busy = 0;
	return op;
}

int iolens__fdq_forget(struct iolens__fdq *q, int fd)
{
	struct iolens__fdq_fd *e = iolens__fdq_find(q, fd);

	if (!e)
		return 0;
	if (e->npending)
		return -EBUSY;
	memset(e, 0, q->esize);
	return 0;
}
