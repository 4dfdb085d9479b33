/*
 * Perform one operation with a plain system call in the calling thread.
 * Files: pread / pwrite / fsync, retried on EINTR, continued on a short
 * transfer until len bytes or end of file. Sockets: one send (MSG_NOSIGNAL),
 * recv, accept4 (close-on-exec) or connect, retried on EINTR; a short
 * transfer is the result. Stores bytes, the new fd, 0 or -errno in
 * op->result. On a non-blocking socket the result can be -EAGAIN or
 * -EINPROGRESS: the caller waits for readiness and calls again (for
 * connect: asks iolens__sock_error).
 */
#ifndef IOLENS_SYNCOP_H
#define IOLENS_SYNCOP_H

#include "iolens/iolens.h"

void iolens__syncop(struct iolens_op *op);
/* The same, but an accepted connection is O_NONBLOCK. */
void iolens__syncop_nonblock(struct iolens_op *op);
/* A socket's pending error (SO_ERROR) as 0 or -errno: how a connect ended. */
int iolens__sock_error(int fd);

/* True if the backend can run every op kind in ops[0..n) according to caps. */
int iolens__ops_supported(uint32_t caps, struct iolens_op *const *ops, unsigned n);

#endif
