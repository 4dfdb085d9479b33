/*
 * Where a pass ran: the CPUs of the job threads, of the built-in peer's
 * threads and of the backend's own threads, read from /proc after the window.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* The CPU a task last ran on (field 39 of its stat), or -1. */
static int last_cpu(int pid, int tid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int cpu = -1, field = 2;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces */
	for (; p && *p; p++)
		if (*p == ' ' && ++field == 39) {
			cpu = atoi(p + 1);
			break;
		}
	return cpu;
}

/* CPUs in a bit mask as "0,1", or "?" when none was seen. */
static void cpu_list(uint64_t mask, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned c = 0; c < 64 && used < len; c++)
		if (mask >> c & 1)
			used += (size_t)snprintf(out + used, len - used, "%s%u", used ? "," : "", c);
	if (!used)
		snprintf(out, len, "?");
}

/* CPUs the process's threads other than the caller and the jobs were last on. */
static uint64_t others_cpus(const struct job *jobs, unsigned n, unsigned *count)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t mask = 0;

	*count = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name), c, job = 0;

		if (e->d_name[0] == '.' || tid == gettid())
			continue;
		for (unsigned i = 0; i < n && !job; i++)
			job = tid == atomic_load(&jobs[i].os_tid);
		if (job)
			continue;
		(*count)++;
		c = last_cpu(getpid(), tid);
		if (c >= 0 && c < 64)
			mask |= 1ull << c;
	}
	closedir(d);
	return mask;
}

/*
 * Where the threads ran: pinned CPUs as asked, or, unpinned, the CPUs each
 * was last seen on at the window's end (a loopback round trip costs several
 * times more across CPUs than on one). Disk runs name the threads the backend
 * started (glibc's AIO threads, io_uring's workers and SQPOLL thread); socket
 * runs the peer process.
 */
void iolens__placement(struct iolens_result *r, const struct run *run, struct job *jobs,
		       unsigned n)
{
	const struct iolens_workload *w = run->w;
	uint64_t jm = 0, pm = 0;
	char js[48], ps[48], dir[48];
	DIR *d;
	struct dirent *e;

	for (unsigned i = 0; i < n; i++) {
		int tid = atomic_load(&jobs[i].os_tid);
		int c = last_cpu(jobs[i].pid ? tid : getpid(), tid); /* a job process is its own */

		if (c >= 0 && c < 64)
			jm |= 1ull << c;
	}
	if (!run->net) {
		unsigned others;

		pm = others_cpus(jobs, n, &others);
		cpu_list(jm, js, sizeof(js));
		cpu_list(pm, ps, sizeof(ps));
		snprintf(r->placement, sizeof(r->placement),
			 "jobs %s CPU %s; %u other thread%s (the backend's)%s%s",
			 w->cpu >= 0 || w->cpus ? "pinned, on" : "unpinned, last on", js, others,
			 others == 1 ? "" : "s", others ? " last on CPU " : "", others ? ps : "");
		return;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)run->t->peer_proc.pid);
	if (run->t->peer_proc.pid > 0 && (d = opendir(dir))) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				int c = last_cpu(run->t->peer_proc.pid, atoi(e->d_name));

				if (c >= 0 && c < 64)
					pm |= 1ull << c;
			}
		closedir(d);
	}
	cpu_list(jm, js, sizeof(js));
	cpu_list(pm, ps, sizeof(ps));
	snprintf(r->net.placement, sizeof(r->net.placement), "jobs %s CPU %s; %s",
		 w->cpu >= 0 || w->cpus ? "pinned, on" : "unpinned, last on", js,
		 run->t->peer_proc.pid <= 0 ? "peer remote"
		 : w->peer_cpu >= 0	    ? "peer pinned, on CPU "
					    : "peer unpinned, last on CPU ");
	if (run->t->peer_proc.pid > 0) {
		size_t at = strlen(r->net.placement);

		snprintf(r->net.placement + at, sizeof(r->net.placement) - at, "%s", ps);
	}
	snprintf(r->placement, sizeof(r->placement), "%s", r->net.placement);
}
