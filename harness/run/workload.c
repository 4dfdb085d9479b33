#include <errno.h>
#include <string.h>

#include "iolens/iolens.h"

static const char *const names[IOLENS_WL__COUNT] = {
	[IOLENS_WL_READ] = "read",
	[IOLENS_WL_WRITE] = "write",
	[IOLENS_WL_RANDREAD] = "randread",
	[IOLENS_WL_RANDWRITE] = "randwrite",
	[IOLENS_WL_RANDRW] = "randrw",
	[IOLENS_WL_ECHO] = "echo",
	[IOLENS_WL_SERVE] = "serve",
	[IOLENS_WL_STREAM] = "stream",
};

const char *iolens_workload_name(int kind)
{
	return kind >= 0 && kind < IOLENS_WL__COUNT ? names[kind] : NULL;
}

int iolens_workload_parse(const char *name)
{
	for (int i = 0; i < IOLENS_WL__COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -EINVAL;
}

static const char *const transports[] = {
	[IOLENS_TRANSPORT_TCP] = "tcp",
	[IOLENS_TRANSPORT_TCP6] = "tcp6",
	[IOLENS_TRANSPORT_UNIX] = "unix",
};
#define NTRANSPORTS (int)(sizeof(transports) / sizeof(transports[0]))

const char *iolens_transport_name(int transport)
{
	return transport >= 0 && transport < NTRANSPORTS ? transports[transport] : "?";
}

int iolens_transport_parse(const char *name)
{
	for (int i = 0; i < NTRANSPORTS; i++)
		if (name && strcmp(transports[i], name) == 0)
			return i;
	return -EINVAL;
}

void iolens_workload_init(struct iolens_workload *w)
{
	memset(w, 0, sizeof(*w));
	w->kind = IOLENS_WL_RANDREAD;
	w->rwmix = 50;
	w->bs = 4096;
	w->size = 1ull << 30;
	w->depth = 1;
	w->jobs = 1;
	w->batch = 1;
	w->time_s = 5;
	w->cache = IOLENS_CACHE_WARM;
	w->seed = 1;
	w->conns = 1;
	w->transport = IOLENS_TRANSPORT_TCP;
	w->stream_nocheck = 0; /* the sink checks every byte */
	w->cpu = -1;
	w->peer_cpu = -1;
}
