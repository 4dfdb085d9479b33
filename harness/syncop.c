#include <errno.h>
#include <unistd.h>

#include "syncop.h"

static int64_t transfer(struct iolens_op *op)
{
	char *p = op->buf;
	uint64_t done = 0;

	while (done < op->len) {
		ssize_t r;

		if (op->kind == IOLENS_OP_READ)
			r = pread(op->fd, p + done, op->len - done, (off_t)(op->offset + done));
		else
			r = pwrite(op->fd, p + done, op->len - done, (off_t)(op->offset + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return done ? (int64_t)done : -errno;
		}
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return (int64_t)done;
}

void iolens__syncop(struct iolens_op *op)
{
	switch (op->kind) {
	case IOLENS_OP_READ:
	case IOLENS_OP_WRITE:
		op->result = transfer(op);
		break;
	case IOLENS_OP_FSYNC:
		op->result = fsync(op->fd) ? -errno : 0;
		break;
	default:
		op->result = -EOPNOTSUPP;
		break;
	}
}

int iolens__ops_supported(uint32_t caps, struct iolens_op *const *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ops[i]->kind >= IOLENS_OP__COUNT || !(caps & IOLENS_CAP_OP(ops[i]->kind)))
			return 0;
	return 1;
}
