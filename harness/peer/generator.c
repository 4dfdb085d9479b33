/*
 * The load generator as a library object (iolens/responder.h): the one
 * serve's child process runs, for a program (or another host) that drives
 * a serve run through struct iolens_loadgen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "peer_kit.h"

struct iolens_generator {
	struct iolens__loadgen *lg;
	int running;
};

int iolens_generator_new(struct iolens_generator **out, unsigned threads, int cpu, char *err,
			 size_t errlen)
{
	struct iolens_generator *g;
	int e;

	*out = NULL;
	if (threads > 256)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "threads: %u is out of range (accepts 0 to 256)", threads);
	g = calloc(1, sizeof(*g));
	if (!g)
		return iolens__peer_fail(err, errlen, -ENOMEM, "load generator: out of memory");
	iolens__raise_nofile();
	e = iolens__loadgen_create(&g->lg, threads, cpu);
	if (e) {
		free(g);
		return iolens__peer_fail(err, errlen, e, "load generator: %s", iolens_strerror(e));
	}
	*out = g;
	return 0;
}

int iolens_generator_start(struct iolens_generator *g, const char *addr, int transport,
			   unsigned conns, uint32_t msg, unsigned depth, char *err, size_t errlen)
{
	struct iolens__loadgen_opts o = { .conns = conns, .msg = msg, .depth = depth };
	int e;

	if (g->running)
		return iolens__peer_fail(err, errlen, -EBUSY, "load generator: already running");
	if (!conns || conns > 100000)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "conns: %u is out of range (accepts 1 to 100000)", conns);
	if (!msg || msg > IOLENS_MSG_MAX)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "msg: %u is out of range (accepts 1 to 4m)", msg);
	if (!depth || depth > 4096)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "depth: %u is out of range (accepts 1 to 4096)", depth);
	e = iolens__addr_parse(addr ? addr : "", transport, "addr", 0, &o.addr, err, errlen);
	if (e)
		return e;
	e = iolens__loadgen_start(g->lg, &o, err, errlen);
	g->running = !e;
	return e;
}

void iolens_generator_measure(struct iolens_generator *g, int on)
{
	if (g->running)
		iolens__loadgen_measure(g->lg, on);
}

void iolens_generator_finish(struct iolens_generator *g, struct iolens_loadgen_figures *out)
{
	memset(out, 0, sizeof(*out));
	if (!g->running)
		return;
	iolens__loadgen_finish(g->lg, out);
	g->running = 0;
}

void iolens_generator_free(struct iolens_generator *g)
{
	if (!g)
		return;
	iolens__loadgen_destroy(g->lg);
	free(g);
}
