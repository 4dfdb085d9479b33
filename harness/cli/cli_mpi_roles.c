/*
 * Roles for socket workloads: --responder-rank R makes rank R serve the
 * iolens responder while every other rank runs echo against it, so the
 * echo clients are a fleet. The data goes over iolens's own sockets; MPI
 * carries only the responder's address and the barriers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_mpi.h"
#include "cli_opts.h"

MPI_Comm iolens__mpi_comm = MPI_COMM_WORLD;
int iolens__mpi_world_rank;
struct iolens__mpi_role iolens__mpi_role = { "ranks", NULL, -1 };

/* Remove argv[i] and, when two, the word after it. */
static void drop(int *argc, char **argv, int i, int two)
{
	int k = two ? 2 : 1;

	memmove(&argv[i], &argv[i + k], (size_t)(*argc - i - k + 1) * sizeof(*argv));
	*argc -= k;
}

/* "--name VALUE" or "--name=VALUE" at argv[i]: the value, or NULL when it is not that option. */
static const char *value_of(int argc, char **argv, int i, const char *name, int *two)
{
	size_t n = strlen(name);

	if (strncmp(argv[i], name, n))
		return NULL;
	if (argv[i][n] == '=') {
		*two = 0;
		return argv[i] + n + 1;
	}
	if (argv[i][n] || i + 1 >= argc)
		return argv[i][n] ? NULL : "";
	*two = 1;
	return argv[i + 1];
}

int iolens__mpi_take_roles(int *argc, char **argv, int world_size, struct iolens__mpi_roles *ro,
			   char *err, size_t errlen)
{
	memset(ro, 0, sizeof(*ro));
	ro->responder = -1;
	for (int i = 1; i < *argc;) {
		int two = 0;
		const char *rank = value_of(*argc, argv, i, "--responder-rank", &two);
		const char *listen = rank ? NULL : value_of(*argc, argv, i, "--responder-listen", &two);
		const char *netns = rank || listen ? NULL : value_of(*argc, argv, i, "--rank-netns", &two);
		const char *timeout = rank || listen || netns ? NULL
					: value_of(*argc, argv, i, "--rank-timeout", &two);
		char *end;
		long v;

		if (!rank && !listen && !netns && !timeout) {
			i++;
			continue;
		}
		if (timeout) {
			if (iolens__parse_duration(timeout, &iolens__mpi_timeout_s) ||
			    iolens__mpi_timeout_s < 0.1 || iolens__mpi_timeout_s > 3600) {
				snprintf(err, errlen, "--rank-timeout: '%.60s' (accepts a duration from "
					 "100ms to 1h, like 30s)", timeout);
				return 2;
			}
		} else if (netns) {
			const char *pct = strchr(netns, '%');

			if (!pct || pct[1] != 'd' || strchr(pct + 2, '%')) {
				snprintf(err, errlen, "--rank-netns: '%.100s' (accepts a name or path with one "
					 "%%d for the rank, e.g. iolens%%d for /var/run/netns/iolens0, ...)",
					 netns);
				return 2;
			}
			ro->netns = netns;
		} else if (listen) {
			if (!*listen) {
				snprintf(err, errlen, "--responder-listen: empty (accepts HOST:PORT, the "
					 "responder rank's address the others can reach)");
				return 2;
			}
			ro->listen = listen;
		} else {
			errno = 0;
			v = strtol(rank, &end, 10);
			if (!*rank || *end || errno || v < 0 || v >= world_size || world_size < 2) {
				snprintf(err, errlen, "--responder-rank: '%s' (accepts a rank 0 to %d of "
					 "a job of 2 or more ranks)", rank, world_size - 1);
				return 2;
			}
			ro->responder = (int)v;
		}
		drop(argc, argv, i, two);
	}
	if (ro->listen && ro->responder < 0) {
		snprintf(err, errlen, "--responder-listen: only with --responder-rank");
		return 2;
	}
	return 0;
}

int iolens__mpi_enter_netns(const struct iolens__mpi_roles *ro, int world_rank, char *err,
			    size_t errlen)
{
	char name[256], path[512];
	int fd;

	if (!ro->netns)
		return 0;
	/* The pattern was checked to hold one %d and nothing else to format. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(name, sizeof(name), ro->netns, world_rank);
#pragma GCC diagnostic pop
	snprintf(path, sizeof(path), "%s%s", strchr(name, '/') ? "" : "/var/run/netns/", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		snprintf(err, errlen, "--rank-netns: rank %d: %s: %s", world_rank, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	close(fd);
	return 0;
}

/*
 * Collective over every rank: rank R starts the responder and tells the
 * others where it listens; the others become iolens__mpi_comm. 0 with
 * *connect set on the clients, or 1 on every rank (said by rank R).
 */
int iolens__mpi_roles_start(struct iolens__mpi_roles *ro, int world_rank, char *connect,
			    size_t len)
{
	struct iolens_responder_opts o;
	char addr[256] = "", err[512];
	int ok = 1;

	if (world_rank == ro->responder) {
		iolens_responder_opts_init(&o);
		o.listen = ro->listen;
		if (iolens_responder_start(&ro->server, &o, err, sizeof(err))) {
			fprintf(stderr, "iolens-mpi: rank %d: the responder: %s\n", world_rank, err);
			ok = 0;
		} else {
			iolens_responder_address(ro->server, addr, sizeof(addr));
		}
	}
	MPI_Bcast(&ok, 1, MPI_INT, ro->responder, MPI_COMM_WORLD);
	MPI_Bcast(addr, (int)sizeof(addr), MPI_CHAR, ro->responder, MPI_COMM_WORLD);
	if (!ok)
		return 1;
	snprintf(connect, len, "%s", addr);
	MPI_Comm_split(MPI_COMM_WORLD, world_rank == ro->responder, world_rank, &ro->clients);
	if (world_rank != ro->responder)
		iolens__mpi_comm = ro->clients;
	iolens__mpi_role = (struct iolens__mpi_role){ "echo", "responder_rank", ro->responder };
	ro->started = 1;
	return 0;
}

void iolens__mpi_roles_end(struct iolens__mpi_roles *ro)
{
	if (!ro->started)
		return;
	/* The responder serves until every client has finished. */
	MPI_Barrier(MPI_COMM_WORLD);
	if (ro->server)
		iolens_responder_stop(ro->server);
	iolens__mpi_comm = MPI_COMM_WORLD;
	MPI_Comm_free(&ro->clients);
	ro->started = 0;
}
