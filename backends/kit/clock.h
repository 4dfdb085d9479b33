/* The monotonic clock in nanoseconds: every timestamp and deadline of the library. */
#ifndef IOLENS_CLOCK_H
#define IOLENS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t iolens__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
