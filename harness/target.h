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

/* Socket workloads (net_target.c): check the socket options, start the peers. */
int iolens__net_target_open(struct iolens_target *t, const struct iolens_workload *w, char *err,
			    size_t errlen);
void iolens__net_target_close(struct iolens_target *t);

/* Apply the workload's cache mode to the file: read it in (warm) or drop it (cold). */
int iolens__target_prepare_cache(struct iolens_target *t, int mode);

/* Share of the target's pages in the page cache, 0..1, or -1 if it cannot be measured. */
double iolens__target_residency(const struct iolens_target *t);

/* Read every block back and check it; 0, -EILSEQ (offset in *bad_off, *what) or -errno. */
int iolens__target_verify(const struct iolens_target *t, uint64_t *bad_off, const char **what);

#endif
