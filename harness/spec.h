/* A backend spec: "name" or "name:opt+opt", e.g. "io_uring:sqpoll+fixed-bufs". */
#ifndef IOLENS_SPEC_H
#define IOLENS_SPEC_H

#include "iolens/iolens.h"

struct iolens__spec {
	const struct iolens_backend_info *info;
	uint32_t flags;          /* IOLENS_BOPT_* */
	unsigned aio_threads;
	unsigned sqpoll_idle_ms;
	unsigned sqpoll_cpu;
	char variant[96];        /* the options as given, normalised */
};

/*
 * Parse one spec. 0, or -EINVAL with a one-line message naming --backend and
 * what it accepts.
 */
int iolens__spec_parse(const char *spec, struct iolens__spec *out, char *err, size_t errlen);

#endif
