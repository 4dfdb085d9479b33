/*
 * What a stored run ran on, beyond the JSON's meta: the facts that make two
 * runs comparable or not (kernel, CPU, SMT, governor, mitigations, memory,
 * cpuset and cgroup, library versions, io_uring features), and the boot.
 */
#ifndef IOLENS_STORE_HOST_H
#define IOLENS_STORE_HOST_H

#include <stdint.h>

struct iolens_meta;

struct iolens__host {
	char hostname[256], kernel[128], cpu_model[128];
	unsigned cores;
	char smt[32];           /* /sys's SMT state: "on", "off", "notsupported"; "" unknown */
	char governor[32];      /* cpu0's cpufreq governor; "" when there is no cpufreq */
	char mitigations[1024]; /* "name=state;..." from /sys/.../vulnerabilities; "" unknown */
	uint64_t mem_kib;       /* MemTotal */
	char cpuset[256];       /* CPUs this process may run on, as a list "0-3,6" */
	char cgroup[512];       /* this process's cgroup (v2 path, or the v1 lines) */
	char liburing[32], glibc[32];
	char uring_features[64]; /* io_uring_setup's feature bits "0x...", or why none */
	char boot_id[40];
};

/* Fill h from meta (hostname, kernel, CPU, cores) and this machine now. */
void iolens__host_collect(struct iolens__host *h, const struct iolens_meta *meta);

/* FNV-1a 64 of a string: the comparison and environment hashes, as 16 hex digits. */
uint64_t iolens__hash64(const char *s, uint64_t h);
#define IOLENS__HASH64_SEED 0xcbf29ce484222325ull

#endif
