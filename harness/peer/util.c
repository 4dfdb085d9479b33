/*
 * What the peers share: a one-line failure message, and a thread started
 * with every signal blocked and pinned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "peer_kit.h"

int iolens__peer_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * Start a thread with every signal blocked, so signals stay with the
 * caller's threads, and pin it. *started says whether it must be joined,
 * even when pinning failed.
 */
int iolens__peer_spawn(pthread_t *th, void *(*fn)(void *), void *arg, int cpu, int *started)
{
	sigset_t all, old;
	cpu_set_t set;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*started = !r;
	if (r)
		return -r;
	if (cpu >= 0) {
		if (cpu >= CPU_SETSIZE)
			return -EINVAL;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		r = pthread_setaffinity_np(*th, sizeof(set), &set);
		if (r)
			return -r;
	}
	return 0;
}
