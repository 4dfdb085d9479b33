/*
 * What a pass measures of its jobs as workers, threads or processes alike:
 * the CPU clock of each, the counters a job process cannot open for the
 * main thread, the usage of job processes (getrusage of the main process
 * does not see them), and what one worker costs to start and to keep.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

double iolens__job_cpu(const struct job *j)
{
	struct timespec ts;
	clockid_t c;

	if (j->pid ? clock_getcpuclockid(j->pid, &c) : pthread_getcpuclockid(j->tid, &c))
		return NAN;
	if (clock_gettime(c, &ts))
		return NAN;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void iolens__procs_counters(struct run *run, struct job *jobs, unsigned n)
{
	if (!run->procs || !run->counting)
		return;
	for (unsigned i = 0; i < n; i++) {
		jobs[i].sc_fd = iolens__syscount_thread(jobs[i].pid);
		jobs[i].io_fd = iolens__syscount_thread_io(jobs[i].pid);
		jobs[i].enter_fd = iolens__syscount_thread_named(jobs[i].pid, "io_uring_enter");
	}
}

/* The first line of /proc/<pid>/<file> that starts with key, its number; -1 if none. */
static long long proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen)) {
			v = strtoll(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * One process's CPU and switches: the scheduler's exact run time
 * (schedstat), split between user and system as the tick samples of
 * /proc/<pid>/stat split it (what getrusage does too). 0 or -1.
 */
static int proc_usage(pid_t pid, struct iolens__usage *u)
{
	char path[64], buf[1024], *p;
	unsigned long long run_ns = 0, ut = 0, st = 0;
	double total;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	ok = fscanf(f, "%llu", &run_ns) == 1;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!ok || !(f = fopen(path, "re")))
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* After the command's closing parenthesis: state is field 3, utime 14, stime 15. */
	if (!p || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	total = (double)run_ns / 1e9;
	u->user_s += ut + st ? total * (double)ut / (double)(ut + st) : total;
	u->sys_s += ut + st ? total * (double)st / (double)(ut + st) : 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	/* Both switch counts from one read; either missing leaves the process unread. */
	ok = 0;
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long v;

		if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1)
			u->vcsw += v, ok |= 1;
		else if (sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			u->ivcsw += v, ok |= 2;
	}
	fclose(f);
	return ok == 3 ? 0 : -1;
}

void iolens__procs_usage(const struct run *run, const struct job *jobs, unsigned n,
			 struct iolens__usage *u)
{
	memset(u, 0, sizeof(*u));
	for (unsigned i = 0; run->procs && i < n; i++)
		if (jobs[i].pid && !jobs[i].pid_reaped && proc_usage(jobs[i].pid, u))
			u->missed++;
}

/* Resident bytes of a job thread's stack (its TLS and thread block live there too). */
static double thread_stack_kib(pthread_t t)
{
	long page = sysconf(_SC_PAGESIZE);
	pthread_attr_t a;
	unsigned char *vec;
	void *addr;
	size_t size, pages, resident = 0;

	if (pthread_getattr_np(t, &a))
		return NAN;
	if (pthread_attr_getstack(&a, &addr, &size)) {
		pthread_attr_destroy(&a);
		return NAN;
	}
	pthread_attr_destroy(&a);
	pages = (size + (size_t)page - 1) / (size_t)page;
	if (!(vec = malloc(pages)))
		return NAN;
	if (mincore(addr, size, vec)) {
		free(vec);
		return NAN;
	}
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	return (double)resident * (double)page / 1024;
}

/* A job process's own memory: pages only it maps (copied on write or its own) and its page tables. */
static double proc_private_kib(pid_t pid)
{
	long long clean = proc_field(pid, "smaps_rollup", "Private_Clean:"),
		  dirty = proc_field(pid, "smaps_rollup", "Private_Dirty:"),
		  pte = proc_field(pid, "status", "VmPTE:");

	if (clean < 0 || dirty < 0 || pte < 0)
		return NAN;
	return (double)(clean + dirty + pte);
}

void iolens__workers_memory(struct iolens_result *r, const struct run *run, const struct job *jobs,
			    unsigned n)
{
	double sum = 0;
	unsigned got = 0;

	for (unsigned i = 0; i < n; i++) {
		double kib = run->procs ? (jobs[i].pid_reaped ? NAN : proc_private_kib(jobs[i].pid))
					: thread_stack_kib(jobs[i].tid);

		if (!isnan(kib)) {
			sum += kib;
			got++;
		}
	}
	r->job_mem_kib = got == n && n ? sum / n : NAN;
}
