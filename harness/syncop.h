/*
 * Perform one file operation with a plain system call in the calling thread:
 * pread / pwrite / fsync, retried on EINTR, continued on a short transfer
 * until len bytes or end of file. Stores bytes or -errno in op->result.
 * Socket kinds return -EOPNOTSUPP here.
 */
#ifndef IOLENS_SYNCOP_H
#define IOLENS_SYNCOP_H

#include "iolens/iolens.h"

void iolens__syncop(struct iolens_op *op);

/* True if the backend can run every op kind in ops[0..n) according to caps. */
int iolens__ops_supported(uint32_t caps, struct iolens_op *const *ops, unsigned n);

#endif
