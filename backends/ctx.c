/* The level-2 API: backend list, contexts, and the checks every backend relies on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "syncop.h"

#define MAX_BACKENDS 16

static struct iolens_backend_info infos[MAX_BACKENDS];
static size_t ninfos;
static pthread_once_t infos_once = PTHREAD_ONCE_INIT;

static void probe_all(void)
{
	for (unsigned i = 0; i < iolens__registry_len && i < MAX_BACKENDS; i++) {
		const struct iolens__registry_entry *e = &iolens__registry[i];
		struct iolens_backend_info *in = &infos[ninfos++];

		if (!e->be) {
			in->name = e->name;
			in->model = e->model;
			in->summary = "not built";
			in->reason = e->missing;
			continue;
		}
		in->name = e->be->name;
		in->model = e->be->model;
		in->summary = e->be->summary;
		in->caps = e->be->caps;
		in->options = e->be->options;
		in->available = 1;
		if (e->be->probe && e->be->probe(&in->reason) < 0)
			in->available = 0;
	}
}

size_t iolens_backends(const struct iolens_backend_info **out)
{
	pthread_once(&infos_once, probe_all);
	if (out)
		*out = infos;
	return ninfos;
}

const struct iolens_backend_info *iolens_backend_find(const char *name)
{
	const struct iolens_backend_info *all;
	size_t n = iolens_backends(&all);

	for (size_t i = 0; name && i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			return &all[i];
	return NULL;
}

static const struct iolens_backend *backend_impl(const char *name)
{
	for (unsigned i = 0; i < iolens__registry_len; i++)
		if (iolens__registry[i].be && strcmp(iolens__registry[i].be->name, name) == 0)
			return iolens__registry[i].be;
	return NULL;
}

static int check_opts(const struct iolens_backend *be, const struct iolens_backend_opts *o)
{
	if (o->depth < 1 || o->depth > 65536)
		return -EINVAL;
	if (o->flags & ~be->options)
		return -EINVAL;
	/* FIXED_FILES without files registers sockets only. */
	if ((o->flags & IOLENS_BOPT_FIXED_FILES) && !o->files != !o->nfiles)
		return -EINVAL;
	if ((o->flags & IOLENS_BOPT_FIXED_BUFS) && (!o->bufs || !o->nbufs))
		return -EINVAL;
	if ((o->flags & IOLENS_BOPT_CQ_SPIN) && !(o->flags & IOLENS_BOPT_SQPOLL))
		return -EINVAL;
	if ((o->flags & IOLENS_BOPT_SQPOLL_CPU) &&
	    (!(o->flags & IOLENS_BOPT_SQPOLL) || o->sqpoll_cpu >= (unsigned)sysconf(_SC_NPROCESSORS_CONF)))
		return -EINVAL;
	return 0;
}

static _Thread_local char open_reason[sizeof(((struct iolens_backend_stats *)0)->setup)];

const char *iolens_ctx_open_reason(void)
{
	return open_reason;
}

int iolens_ctx_open(struct iolens_ctx **out, const char *name,
		    const struct iolens_backend_opts *opts)
{
	static const struct iolens_backend_opts defaults = { .depth = 1 };
	const struct iolens_backend_info *info = iolens_backend_find(name);
	const struct iolens_backend *be;
	struct iolens_ctx *ctx;
	int err;

	open_reason[0] = '\0';
	if (!out || !name)
		return -EINVAL;
	*out = NULL;
	if (!info)
		return -ENOENT;
	be = backend_impl(name);
	if (!be || !info->available)
		return -ENOSYS;
	if (!opts)
		opts = &defaults;
	err = check_opts(be, opts);
	if (err)
		return err;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->be = be;
	ctx->info = info;
	ctx->opts = *opts;
	err = be->init(ctx);
	if (err) {
		memcpy(open_reason, ctx->stats.setup, sizeof(open_reason));
		open_reason[sizeof(open_reason) - 1] = '\0';
		free(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

int iolens_ctx_submit(struct iolens_ctx *ctx, struct iolens_op *const *ops, unsigned n)
{
	int r;

	if (n == 0)
		return 0;
	if (!iolens__ops_supported(ctx->be->caps, ops, n))
		return -EOPNOTSUPP;
	if (n > ctx->opts.depth - ctx->inflight)
		n = ctx->opts.depth - ctx->inflight;
	if (n == 0)
		return 0;
	ctx->stats.submit_calls++;
	r = ctx->be->submit(ctx, ops, n);
	if (r > 0) {
		ctx->stats.submitted += (unsigned)r;
		ctx->inflight += (unsigned)r;
	}
	return r;
}

int iolens_ctx_reap(struct iolens_ctx *ctx, struct iolens_op **out, unsigned min,
		    unsigned max, int64_t timeout_ns)
{
	int r;

	if (min > ctx->inflight)
		min = ctx->inflight;
	if (max == 0)
		return 0;
	if (min > max)
		min = max;
	ctx->stats.reap_calls++;
	r = ctx->be->reap(ctx, out, min, max, timeout_ns);
	if (r > 0) {
		ctx->stats.completed += (unsigned)r;
		ctx->inflight -= (unsigned)r;
	}
	return r;
}

void iolens_ctx_stats(const struct iolens_ctx *ctx, struct iolens_backend_stats *out)
{
	*out = ctx->stats;
}

const struct iolens_backend_info *iolens_ctx_backend(const struct iolens_ctx *ctx)
{
	return ctx->info;
}

int iolens_ctx_forget(struct iolens_ctx *ctx, int fd)
{
	return ctx->be->forget ? ctx->be->forget(ctx, fd) : 0;
}

/*
 * How long close waits for the next completion before it gives up on what
 * is still in flight. A socket op whose peer stopped reading (or never
 * writes) would otherwise hold close, and the caller's exit with it, for as
 * long as the peer likes; ops that keep completing (a deep disk queue
 * draining) are waited for.
 */
#define CLOSE_STALL_NS 1000000000LL

void iolens_ctx_close(struct iolens_ctx *ctx)
{
	struct iolens_op *done[64];
	int64_t deadline;

	if (!ctx)
		return;
	deadline = iolens__mono_ns() + CLOSE_STALL_NS;
	while (ctx->inflight) {
		unsigned want = ctx->inflight < 64 ? ctx->inflight : 64;
		int64_t left = deadline - iolens__mono_ns();
		int r;

		if (left <= 0)
			break;
		r = iolens_ctx_reap(ctx, done, 1, want, left);
		if (r <= 0)
			break; /* nothing in a whole stall period, or the wait failed */
		deadline = iolens__mono_ns() + CLOSE_STALL_NS;
	}
	/* What is left is the backend's to cancel or abandon (backend.h, destroy). */
	ctx->be->destroy(ctx);
	free(ctx);
}

const char *iolens_version(void)
{
	return IOLENS_VERSION_STRING;
}

int iolens_abi_version(void)
{
	return IOLENS_ABI_VERSION;
}

const char *iolens_strerror(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}
