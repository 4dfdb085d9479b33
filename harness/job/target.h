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
	int device;       /* a block device */
	uint64_t size;    /* bytes the workload covers, a multiple of bs */
	uint32_t bs;
	uint32_t dio_align; /* O_DIRECT offset/length alignment */
	/* Socket workloads: path holds a description of the peer. */
	int net;
	int transport;                /* enum iolens_transport */
	struct sockaddr_storage peer; /* echo/stream: the responder; serve: where to listen */
	socklen_t peer_len;
	struct iolens__peer_proc peer_proc; /* the built-in responder or load generator */
	char unix_dir[96];              /* serve over unix: our directory for the socket */
	uint64_t nofile;                /* RLIMIT_NOFILE in effect */
};

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
