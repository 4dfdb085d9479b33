#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "spec.h"

#define WL(k) (1u << IOLENS_WL_##k)
#define WL_DISK (WL(READ) | WL(WRITE) | WL(RANDREAD) | WL(RANDWRITE) | WL(RANDRW))
#define WL_NET (WL(ECHO) | WL(SERVE) | WL(STREAM))

static const struct {
	const char *name;
	uint32_t flag;
	int takes_value;    /* 1: a count 1..100000, 2: a CPU number */
	unsigned workloads; /* the workload kinds it can change */
} known[] = {
	{ "sqpoll", IOLENS_BOPT_SQPOLL, 0, WL_DISK | WL_NET },
	{ "sqpoll-idle", IOLENS_BOPT_SQPOLL, 1, WL_DISK | WL_NET },
	{ "sqpoll-cpu", IOLENS_BOPT_SQPOLL | IOLENS_BOPT_SQPOLL_CPU, 2, WL_DISK | WL_NET },
	{ "cq-spin", IOLENS_BOPT_CQ_SPIN, 0, WL_DISK | WL_NET },
	{ "fixed-files", IOLENS_BOPT_FIXED_FILES, 0, WL_DISK | WL_NET },
	/* The harness registers its disk buffers; socket buffers are the backend's own. */
	{ "fixed-bufs", IOLENS_BOPT_FIXED_BUFS, 0, WL_DISK },
	{ "nowait", IOLENS_BOPT_NOWAIT, 0, WL_DISK },
	{ "threads", IOLENS_BOPT_THREADS, 1, WL_DISK | WL_NET },
	/* Regular files never enter an epoll set. */
	{ "et", IOLENS_BOPT_EDGE, 0, WL_NET },
	{ "oneshot", IOLENS_BOPT_ONESHOT, 0, WL_NET },
	{ "ms-accept", IOLENS_BOPT_MS_ACCEPT, 0, WL(SERVE) },
	{ "ms-recv", IOLENS_BOPT_MS_RECV, 0, WL_NET }, /* a stream receives its trailer */
	{ "send-zc", IOLENS_BOPT_SEND_ZC, 0, WL_NET },
	{ "iopoll", IOLENS_BOPT_IOPOLL, 0, WL_DISK },
	{ "ucontext", IOLENS_BOPT_UCONTEXT, 0, WL_DISK | WL_NET },
	{ "bare", IOLENS_BOPT_BARE, 0, WL_DISK | WL_NET },
	{ "procs", IOLENS_BOPT_PROCS, 0, WL_DISK | WL_NET },
};

#define NKNOWN (sizeof(known) / sizeof(known[0]))

static void list_accepted(uint32_t options, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < NKNOWN; i++) {
		if (!(options & known[i].flag))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s%s", used ? ", " : "",
					 known[i].name,
					 known[i].takes_value == 2 ? "=CPU"
					 : known[i].takes_value ? "=N"
								: "");
		if (used >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "no options");
}

static void list_backends(char *buf, size_t len)
{
	const struct iolens_backend_info *all;
	size_t n = iolens_backends(&all), used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s, ", all[i].name);
	snprintf(buf + (used < len ? used : len - 1), len - (used < len ? used : len - 1), "all");
}

/* A count 1..100000, or (cpu) a CPU number of this system. */
static int parse_value(const char *s, int cpu, unsigned *out)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || (cpu ? v >= (unsigned long)ncpu : v == 0 || v > 100000))
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int iolens__spec_parse(const char *spec, struct iolens__spec *out, char *err, size_t errlen)
{
	char name[64], opts[128], accepted[160];
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	char *save = NULL;

	memset(out, 0, sizeof(*out));
	if (nlen >= sizeof(name) || (colon && strlen(colon + 1) >= sizeof(opts))) {
		snprintf(err, errlen, "--backend: '%s' is too long", spec);
		return -EINVAL;
	}
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	out->info = iolens_backend_find(name);
	if (!out->info) {
		list_backends(accepted, sizeof(accepted));
		snprintf(err, errlen, "--backend: '%s' is not a backend (accepts %s)", name,
			 accepted);
		return -EINVAL;
	}
	if (!colon)
		return 0;
	if (!colon[1] || colon[1] == '+' || colon[strlen(colon) - 1] == '+' || strstr(colon, "++")) {
		list_accepted(out->info->options, accepted, sizeof(accepted));
		if (out->info->options)
			snprintf(err, errlen, "--backend: '%s' has an empty option (accepts %s, joined by +)",
				 spec, accepted);
		else
			snprintf(err, errlen, "--backend: '%s' has an empty option (%s takes no options)",
				 spec, name);
		return -EINVAL;
	}
	strcpy(opts, colon + 1);
	list_accepted(out->info->options, accepted, sizeof(accepted));
	for (char *tok = strtok_r(opts, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		char *eq = strchr(tok, '=');
		unsigned i, value = 0;

		if (eq)
			*eq++ = '\0';
		for (i = 0; i < NKNOWN; i++)
			if (strcmp(known[i].name, tok) == 0)
				break;
		if (i == NKNOWN || (out->info->options & known[i].flag) != known[i].flag ||
		    !known[i].takes_value != !eq ||
		    (eq && parse_value(eq, known[i].takes_value == 2, &value))) {
			snprintf(err, errlen,
				 "--backend: '%s%s%s' is not an option of %s (accepts %s; N is 1 to 100000, CPU 0 to %ld)",
				 tok, eq ? "=" : "", eq ? eq : "", name, accepted,
				 sysconf(_SC_NPROCESSORS_CONF) - 1);
			return -EINVAL;
		}
		if (out->given & (1u << i)) {
			snprintf(err, errlen, "--backend: '%s' names %s twice", spec, known[i].name);
			return -EINVAL;
		}
		out->flags |= known[i].flag;
		out->given |= 1u << i;
		if (known[i].flag == IOLENS_BOPT_THREADS)
			out->aio_threads = value;
		else if (known[i].takes_value == 2)
			out->sqpoll_cpu = value;
		else if (eq)
			out->sqpoll_idle_ms = value;
	}
	if ((out->flags & IOLENS_BOPT_CQ_SPIN) && !(out->flags & IOLENS_BOPT_SQPOLL)) {
		snprintf(err, errlen, "--backend: '%s': cq-spin polls for what the SQPOLL thread completes, so it needs sqpoll (e.g. %s:sqpoll+cq-spin)",
			 spec, name);
		return -EINVAL;
	}
	if ((out->flags & IOLENS_BOPT_EDGE) && (out->flags & IOLENS_BOPT_ONESHOT)) {
		snprintf(err, errlen, "--backend: '%s': et and oneshot are two ways to register a socket (accepts one of them: %s:et or %s:oneshot)",
			 spec, name, name);
		return -EINVAL;
	}
	if ((out->flags & IOLENS_BOPT_BARE) && (out->flags & IOLENS_BOPT_UCONTEXT)) {
		snprintf(err, errlen, "--backend: '%s': bare runs no coroutines, so there is nothing to switch with ucontext (accepts one of them: %s:bare or %s:ucontext)",
			 spec, name, name);
		return -EINVAL;
	}
	snprintf(out->variant, sizeof(out->variant), "%s", colon + 1);
	return 0;
}

void iolens__workloads_named(unsigned mask, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (mask == WL_DISK || mask == WL_NET) {
		snprintf(buf, len, "%s workloads", mask == WL_DISK ? "disk" : "socket");
		return;
	}
	for (int k = 0; k < IOLENS_WL__COUNT && used < len; k++)
		if (mask & (1u << k))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
						 iolens_workload_name(k));
}

int iolens__spec_fits(const struct iolens__spec *sp, int kind, char *err, size_t errlen)
{
	char where[96];

	for (unsigned i = 0; i < NKNOWN; i++) {
		if (!(sp->given & (1u << i)) || kind < 0 || kind >= IOLENS_WL__COUNT ||
		    (known[i].workloads & (1u << kind)))
			continue;
		iolens__workloads_named(known[i].workloads, where, sizeof(where));
		snprintf(err, errlen, "--backend: %s:%s does not apply to --workload %s (applies to %s)",
			 sp->info->name, known[i].name, iolens_workload_name(kind), where);
		return -EINVAL;
	}
	return 0;
}

struct iolens_result *iolens__spec_result(const struct iolens__spec *sp, const struct iolens_workload *w,
					  const char *file)
{
	struct iolens_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->backend, sizeof(r->backend), "%s", sp->info->name);
	snprintf(r->variant, sizeof(r->variant), "%s", sp->variant);
	snprintf(r->file, sizeof(r->file), "%s", file ? file : "");
	r->workload = *w;
	r->workload.file = NULL;
	r->workload.stop = NULL;
	r->workload.cpus = NULL;
	r->workload.connect = NULL;
	r->workload.listen = NULL;
	r->workload.on_pass = NULL;
	r->workload.on_pass_arg = NULL;
	snprintf(r->cpus, sizeof(r->cpus), "%s", w->cpus ? w->cpus : "");
	r->workload.job_file = NULL;
	r->workload.job_section = NULL;
	snprintf(r->job_file, sizeof(r->job_file), "%s", w->job_file ? w->job_file : "");
	snprintf(r->job_section, sizeof(r->job_section), "%s", w->job_section ? w->job_section : "");
	r->model.declared = sp->info->model;
	iolens__model_unmeasured(&r->model, "");
	r->model.concurrency = NAN;
	r->resident_before = r->resident_after = -1;
	r->job_start_us = r->job_mem_kib = r->window_start = NAN;
	return r;
}

int iolens_spec_check(const char *spec, int kind, char *err, size_t errlen)
{
	struct iolens__spec sp;
	int e;

	if (!spec) {
		if (err && errlen)
			snprintf(err, errlen, "--backend: no spec given (accepts a backend name, e.g. io_uring:sqpoll)");
		return -EINVAL;
	}
	e = iolens__spec_parse(spec, &sp, err, errlen);
	if (!e && kind >= 0)
		e = iolens__spec_fits(&sp, kind, err, errlen);
	return e;
}

int iolens_result_not_run(const char *spec, const struct iolens_workload *w, int error,
			  const char *reason, struct iolens_result **out)
{
	struct iolens__spec sp;
	char err[256];

	if (!spec || !w || !out || iolens__spec_parse(spec, &sp, err, sizeof(err)))
		return -EINVAL;
	*out = iolens__spec_result(&sp, w, w->file);
	if (!*out)
		return -ENOMEM;
	(*out)->status = IOLENS_STATUS_NOT_RUN;
	(*out)->error = error;
	snprintf((*out)->reason, sizeof((*out)->reason), "%s", reason ? reason : "");
	return 0;
}

const char *iolens_workload_names(unsigned mask, char *buf, size_t len)
{
	if (buf && len)
		iolens__workloads_named(mask, buf, len);
	return buf;
}
