/*
 * A job runs as a thread, or (blocking:procs) as a process of its own:
 * depth D as D processes, the prefork model. Both run the same job loop;
 * what differs is here.
 *
 *  - Memory: a job process writes its figures (the struct job, its
 *    histograms, its trace, its connections' counts) where the main thread
 *    reads them, so everything a pass allocates for its jobs comes from one
 *    shared mapping (the arena), handed out in order before the fork and
 *    unmapped at once after the pass. struct run itself is a shared copy
 *    during the pass (pass.c), its lock and condition process-shared.
 *  - Start: pthread_create, or fork; the child runs the job and _exit()s,
 *    so nothing of the parent's (atexit handlers, stdio buffers) runs twice.
 *  - End: pthread_clockjoin_np, or waitpid polled until the deadline. A
 *    job process that died without saying it finished (a signal, a crash)
 *    is found by iolens__jobs_lost and fails its job rather than hang the
 *    pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job.h"

/* Virtual room only: pages exist once touched. */
#define ARENA_SIZE (16ull << 30)

int iolens__arena_open(struct run *run)
{
	void *p = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	run->arena = p;
	run->arena_used = 0;
	return 0;
}

void iolens__arena_close(struct run *run)
{
	if (run->arena)
		munmap(run->arena, ARENA_SIZE);
	run->arena = NULL;
	run->arena_used = 0;
}

void *iolens__pass_alloc(struct run *run, size_t n, size_t align)
{
	size_t at;
	void *p;

	if (!run->arena) {
		if (align <= 16)
			return calloc(1, n ? n : 1);
		if (posix_memalign(&p, align, n ? n : 1))
			return NULL;
		return memset(p, 0, n);
	}
	if (align < 64)
		align = 64;
	at = (run->arena_used + align - 1) & ~(align - 1);
	if (at > ARENA_SIZE || n > ARENA_SIZE - at)
		return NULL;
	run->arena_used = at + n;
	return run->arena + at; /* a fresh shared mapping reads as zeros */
}

void iolens__pass_free(struct run *run, void *p)
{
	if (!run->arena)
		free(p);
}

struct iolens_hist *iolens__pass_hist(struct run *run)
{
	struct iolens_hist *h;

	if (!run->arena)
		return iolens_hist_new();
	h = iolens__pass_alloc(run, sizeof(*h), 64);
	if (h)
		iolens__hist_reset(h);
	return h;
}

void iolens__pass_hist_free(struct run *run, struct iolens_hist *h)
{
	if (!run->arena)
		iolens_hist_free(h);
}

int iolens__job_spawn(struct job *j, const pthread_attr_t *attr, void *(*fn)(void *))
{
	pid_t pid;

	if (!j->run->procs)
		return -pthread_create(&j->tid, attr, fn, j);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fn(j);
		_exit(0);
	}
	j->pid = pid;
	return 0;
}

/* A job process that ended: fail its job if it died before finishing. */
static void reaped(struct job *j, int status)
{
	j->pid_reaped = 1;
	if (atomic_load(&j->said_finished) || j->err)
		return;
	if (WIFSIGNALED(status))
		iolens__job_fail(j, -ECHILD, "job process %u (pid %d) was killed by signal %d (%s)",
				 j->index, (int)j->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		iolens__job_fail(j, -ECHILD, "job process %u (pid %d) exited with status %d before it finished",
				 j->index, (int)j->pid, WEXITSTATUS(status));
}

int iolens__job_join(struct job *j, const struct timespec *deadline)
{
	int status;

	if (!j->run->procs) {
		if (!deadline)
			return pthread_join(j->tid, NULL);
		return pthread_clockjoin_np(j->tid, NULL, CLOCK_MONOTONIC, deadline);
	}
	if (j->pid_reaped)
		return 0;
	for (;;) {
		pid_t got = waitpid(j->pid, &status, deadline ? WNOHANG : 0);
		struct timespec now, step = { 0, 1000000 };

		if (got == j->pid) {
			reaped(j, status);
			return 0;
		}
		if (got < 0 && errno != EINTR) {
			j->pid_reaped = 1;
			return 0;
		}
		if (!deadline || got < 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline->tv_sec ||
		    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
			return ETIMEDOUT;
		nanosleep(&step, NULL);
	}
}

unsigned iolens__jobs_lost(struct run *run, struct job *jobs, unsigned n)
{
	unsigned lost = 0;

	if (!run->procs)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		int status;

		if (!j->pid || j->pid_reaped || waitpid(j->pid, &status, WNOHANG) != j->pid)
			continue;
		reaped(j, status);
		if (j->err && !atomic_load(&j->said_finished)) {
			/* Say for it what it never said, so no wait of the pass hangs on it. */
			if (!atomic_exchange(&j->said_ready, 1))
				atomic_fetch_add(&run->ready, 1);
			atomic_store(&j->said_finished, 1);
			atomic_fetch_add(&run->finished, 1);
			lost++;
		}
	}
	return lost;
}
