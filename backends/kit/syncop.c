#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
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

int iolens__sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* connect(); a signal does not cancel it, so wait for the outcome instead of retrying. */
static int64_t do_connect(const struct iolens_op *op)
{
	struct pollfd p = { .fd = op->fd, .events = POLLOUT };

	if (connect(op->fd, op->buf, op->len) == 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return iolens__sock_error(op->fd);
}

/* One call; a non-blocking socket may answer -EAGAIN / -EINPROGRESS. */
static int64_t sock_call(const struct iolens_op *op, int accept_flags)
{
	ssize_t r;

	do {
		switch (op->kind) {
		case IOLENS_OP_SEND:
			r = send(op->fd, op->buf, op->len, MSG_NOSIGNAL);
			break;
		case IOLENS_OP_RECV:
			r = recv(op->fd, op->buf, op->len, 0);
			break;
		case IOLENS_OP_ACCEPT:
			r = accept4(op->fd, NULL, NULL, SOCK_CLOEXEC | accept_flags);
			break;
		default:
			return do_connect(op);
		}
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void syncop(struct iolens_op *op, int accept_flags)
{
	switch (op->kind) {
	case IOLENS_OP_READ:
	case IOLENS_OP_WRITE:
		op->result = transfer(op);
		break;
	case IOLENS_OP_FSYNC:
		op->result = fsync(op->fd) ? -errno : 0;
		break;
	case IOLENS_OP_SEND:
	case IOLENS_OP_RECV:
	case IOLENS_OP_ACCEPT:
	case IOLENS_OP_CONNECT:
		op->result = sock_call(op, accept_flags);
		break;
	default:
		op->result = -EOPNOTSUPP;
		break;
	}
}

void iolens__syncop(struct iolens_op *op)
{
	syncop(op, 0);
}

void iolens__syncop_nonblock(struct iolens_op *op)
{
	syncop(op, SOCK_NONBLOCK);
}

int iolens__ops_supported(uint32_t caps, struct iolens_op *const *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ops[i]->kind >= IOLENS_OP__COUNT || !(caps & IOLENS_CAP_OP(ops[i]->kind)))
			return 0;
	return 1;
}
