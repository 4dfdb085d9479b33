/* A backend spec: "name" or "name:opt+opt", e.g. "io_uring:sqpoll+fixed-bufs". */
#ifndef IOLENS_SPEC_H
#define IOLENS_SPEC_H

#include "iolens/iolens.h"

struct iolens__spec {
	const struct iolens_backend_info *info;
	uint32_t flags;          /* IOLENS_BOPT_* */
	uint32_t given;          /* which options were named (internal order) */
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

/* The workload kinds of a mask of (1 << kind) bits, as "echo, serve" or "disk workloads". */
void iolens__workloads_named(unsigned mask, char *buf, size_t len);

/*
 * Whether every option named in sp changes a workload of this kind: 0, or
 * -EINVAL with a line naming --backend, the option and where it applies
 * (io_uring:fixed-bufs on sockets, io_uring:ms-recv on a disk workload).
 */
int iolens__spec_fits(const struct iolens__spec *sp, int kind, char *err, size_t errlen);

/*
 * A new result for sp on w (file: the path or peer it runs on), status ok and
 * nothing measured yet: every figure reads as not measured until a pass
 * fills it. NULL when out of memory; free with iolens_result_free.
 */
struct iolens_result *iolens__spec_result(const struct iolens__spec *sp, const struct iolens_workload *w,
					  const char *file);

#endif
