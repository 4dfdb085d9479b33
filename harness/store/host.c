/* The host facts a stored run keeps (host.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"
#include "iolens/iolens.h"
#include "iolens_config.h"

uint64_t iolens__hash64(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The first line of a file, without its newline; "" when unreadable. */
static void first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Each vulnerability file as name=first word of its state ("Mitigation", "Vulnerable", ...). */
static void mitigations(char *out, size_t len)
{
	const char *dir = "/sys/devices/system/cpu/vulnerabilities";
	struct dirent **names;
	size_t used = 0;
	int n = scandir(dir, &names, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char path[512], state[256];

		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			first_line(path, state, sizeof(state));
			state[strcspn(state, ":;,")] = '\0';
			if (used < len)
				used += (size_t)snprintf(out + used, len - used, "%s%s=%s",
							 used ? ";" : "", names[i]->d_name, state);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static uint64_t mem_total_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The affinity mask as a list of ranges. */
static void cpuset(char *out, size_t len)
{
	cpu_set_t set;
	size_t used = 0;

	out[0] = '\0';
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		int end = c;

		if (!CPU_ISSET(c, &set))
			continue;
		while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, &set))
			end++;
		if (used < len)
			used += (size_t)(end > c ? snprintf(out + used, len - used, "%s%d-%d",
							    used ? "," : "", c, end)
						 : snprintf(out + used, len - used, "%s%d",
							    used ? "," : "", c));
		c = end;
	}
}

/* The whole of /proc/self/cgroup on one line ("0::/user.slice/..." on cgroup v2). */
static void cgroup(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];
	size_t used = 0;

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && used < len) {
		line[strcspn(line, "\n")] = '\0';
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ";" : "", line);
	}
	fclose(f);
}

/* The feature bits a 1-entry ring reports, set up and closed again at once. */
static void uring_features(char *out, size_t len)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 1, &p);
	if (fd < 0) {
		snprintf(out, len, "unavailable: %s", strerror(errno));
		return;
	}
	close((int)fd);
	snprintf(out, len, "0x%x", p.features);
}

void iolens__host_collect(struct iolens__host *h, const struct iolens_meta *meta)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->hostname, sizeof(h->hostname), "%s", meta->hostname);
	snprintf(h->kernel, sizeof(h->kernel), "%s", meta->kernel);
	snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", meta->cpu_model);
	h->cores = meta->cores;
	first_line("/sys/devices/system/cpu/smt/control", h->smt, sizeof(h->smt));
	first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", h->governor,
		   sizeof(h->governor));
	if (!h->governor[0] && access("/sys/devices/system/cpu/cpu0/cpufreq", F_OK))
		snprintf(h->governor, sizeof(h->governor), "none (no cpufreq)");
	mitigations(h->mitigations, sizeof(h->mitigations));
	h->mem_kib = mem_total_kib();
	cpuset(h->cpuset, sizeof(h->cpuset));
	cgroup(h->cgroup, sizeof(h->cgroup));
	snprintf(h->liburing, sizeof(h->liburing), "%s", IOLENS_LIBURING_VERSION);
	snprintf(h->glibc, sizeof(h->glibc), "%s", gnu_get_libc_version());
	uring_features(h->uring_features, sizeof(h->uring_features));
	first_line("/proc/sys/kernel/random/boot_id", h->boot_id, sizeof(h->boot_id));
}
