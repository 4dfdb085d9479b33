/* The file a workload runs on (internal view of struct iolens_target). */
#ifndef IOLENS_TARGET_H
#define IOLENS_TARGET_H

#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <sys/socket.h>

#include "iolens/iolens.h"

#include "peer_proc.h"

struct iolens_target {
	char path[PATH_MAX];
	int temporary;    /* created by iolens, removed at close */
	int created;      /* a missing --file, created and laid out by iolens, kept */
	int device;       /* a block device */
	uint64_t size;    /* bytes the workload covers, a multiple of bs */
	uint32_t bs;
	uint32_t dio_align; /* O_DIRECT offset/length alignment */
	/*
	 * --verify. A temporary file is laid out: every block is iolens's.
	 * In an existing file only the blocks written since it was opened are
	 * known to be: one bit each, in blocks of written_bs, set atomically
	 * by the jobs as their writes complete.
	 */
	int laid_out;
	uint8_t *written;
	uint32_t written_bs;
	/* Socket workloads: path holds a description of the peer. */
	int net;
	int transport;                /* enum iolens_transport */
	struct sockaddr_storage peer; /* echo/stream: the responder; serve: where to listen */
	socklen_t peer_len;
	struct iolens__peer_proc peer_proc; /* the built-in responder or load generator */
	char unix_dir[96];              /* serve over unix: our directory for the socket */
	uint64_t nofile;                /* RLIMIT_NOFILE in effect */
};

/*
 * Before a --verify run of blocks of bs: track the blocks it writes (a new
 * map when bs differs from the last one's). 0, or -ENOMEM.
 */
int iolens__target_track(struct iolens_target *t, uint32_t bs);

/* A write of the block at off completed. */
static inline void iolens__target_wrote(const struct iolens_target *t, uint64_t off)
{
	uint64_t b;

	if (!t->written)
		return;
	b = off / t->written_bs;
	__atomic_fetch_or(&t->written[b / 8], (uint8_t)(1u << (b % 8)), __ATOMIC_RELAXED);
}

/* Whether the block at off must hold iolens's pattern: laid out, or written here. */
static inline int iolens__target_ours(const struct iolens_target *t, uint64_t off)
{
	uint64_t b;

	if (t->laid_out)
		return 1;
	if (!t->written)
		return 0;
	b = off / t->written_bs;
	return (__atomic_load_n(&t->written[b / 8], __ATOMIC_RELAXED) >> (b % 8)) & 1;
}

/* Store a one-line message in err (if errlen) and return code. */
int iolens__target_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The CPUs of a list like "0,2-3" (each below ncpu) into *set; how many, or
 * -EINVAL for anything else (empty, a stride, a range upside down, a CPU
 * out of range).
 */
int iolens__cpulist(const char *s, long ncpu, cpu_set_t *set);

#endif
