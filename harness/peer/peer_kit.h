/*
 * What the built-in peers share among their files (not installed): the
 * clock, a one-line failure, a thread started with every signal blocked,
 * the pattern check, unix socket cleanup, and the sizes they agree on.
 */
#ifndef IOLENS_PEER_KIT_H
#define IOLENS_PEER_KIT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "peer.h"

#define SCRATCH_SIZE (256u << 10) /* per-thread receive buffer */
#define SOURCE_CHUNK (1u << 20)   /* one send of the source stream */
#define MAX_EVENTS 256
#define SOLO_WAIT_NS 10000000ull /* a lone echo connection's blocking wait, at most */
#define LOOPBACK_DIR_PREFIX "iolens-peer-"
#define LOOPBACK_SOCK_NAME "sock"

static inline uint64_t now_ns(void)
{
	return (uint64_t)iolens__mono_ns();
}

/* Store a one-line message in err (if any) and return code (util.c). */
int iolens__peer_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Start a thread with every signal blocked, so signals stay with the
 * caller's threads, and pin it. *started says whether it must be joined,
 * even when pinning failed.
 */
int iolens__peer_spawn(pthread_t *th, void *(*fn)(void *), void *arg, int cpu, int *started);

/* Index of the first byte of p[0..n) that differs from the stream at `off`, or n (pattern.c). */
size_t iolens__pattern_mismatch(const unsigned char *pat, const unsigned char *p, size_t n,
				uint64_t off);

/* The directory iolens__addr_loopback made for path, if path is in one, removed (addr.c). */
void iolens__loopback_rmdir(const char *path);
/* Remove a unix listener's path if it is still the socket bound, and a loopback directory. */
void iolens__unix_cleanup(const struct iolens__addr *a, const struct iolens__unix_id *id);

#endif
