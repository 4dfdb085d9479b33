/*
 * The pattern every stream carries, built once, and the check of received
 * bytes against it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer_kit.h"

static unsigned char *pattern;
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

/* splitmix64 from a fixed seed; the tail repeats the head. */
static void pattern_build(void)
{
	uint64_t x = 0x696f6c656e73ULL; /* "iolens" */
	unsigned char *p = malloc((size_t)IOLENS_PATTERN_PERIOD + IOLENS_MSG_MAX);

	if (!p)
		return;
	for (size_t i = 0; i < IOLENS_PATTERN_PERIOD; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		for (size_t k = 0; k < 8 && i + k < IOLENS_PATTERN_PERIOD; k++)
			p[i + k] = (unsigned char)(z >> (8 * k));
	}
	/* MSG_MAX is several periods: repeat the head period by period. */
	for (size_t done = 0; done < IOLENS_MSG_MAX; done += IOLENS_PATTERN_PERIOD) {
		size_t k = IOLENS_MSG_MAX - done < IOLENS_PATTERN_PERIOD ? IOLENS_MSG_MAX - done
									   : IOLENS_PATTERN_PERIOD;

		memcpy(p + IOLENS_PATTERN_PERIOD + done, p, k);
	}
	pattern = p;
}

/*
 * Built once and kept for the life of the process (PERIOD + MSG_MAX, about
 * 5 MiB); NULL only if that first allocation failed.
 */
const unsigned char *iolens__pattern(void)
{
	pthread_once(&pattern_once, pattern_build);
	return pattern;
}

uint64_t iolens__stream_start(uint64_t i)
{
	return (i * 2654435761u + 12345) % IOLENS_PATTERN_PERIOD;
}

/* Index of the first byte of p[0..n) that differs from the stream at `off`, or n. */
size_t iolens__pattern_mismatch(const unsigned char *pat, const unsigned char *p, size_t n,
				uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		const unsigned char *q = pat + (off + done) % IOLENS_PATTERN_PERIOD;
		size_t k = n - done < IOLENS_MSG_MAX ? n - done : IOLENS_MSG_MAX;

		if (memcmp(p + done, q, k)) {
			for (size_t i = 0; i < k; i++)
				if (p[done + i] != q[i])
					return done + i;
		}
		done += k;
	}
	return n;
}
