/*
 * The clock offset between rank 0 and each other rank, NTP's way: rank 0
 * sends, the rank answers with its CLOCK_REALTIME, and the offset is that
 * reading minus the midpoint of rank 0's send and receive, kept from the
 * fastest of a few round trips (the least room for asymmetry).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mpi.h>
#include <stdint.h>
#include <time.h>

#include "cli_mpi.h"

#define ROUND_TRIPS 8

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int iolens__mpi_clock_sync(int rank, int nranks, struct iolens__mpi_clock *clk)
{
	int64_t t0, t1, remote, best_rtt;

	if (rank != 0) {
		for (int k = 0; k < ROUND_TRIPS; k++) {
			if (MPI_Recv(&remote, 1, MPI_INT64_T, 0, k, iolens__mpi_comm,
				     MPI_STATUS_IGNORE) != MPI_SUCCESS)
				return -EIO;
			remote = realtime_ns();
			if (MPI_Send(&remote, 1, MPI_INT64_T, 0, k, iolens__mpi_comm) != MPI_SUCCESS)
				return -EIO;
		}
		return 0;
	}
	clk[0].offset_us = clk[0].rtt_us = 0;
	for (int r = 1; r < nranks; r++) {
		best_rtt = INT64_MAX;
		for (int k = 0; k < ROUND_TRIPS; k++) {
			t0 = realtime_ns();
			if (MPI_Send(&t0, 1, MPI_INT64_T, r, k, iolens__mpi_comm) != MPI_SUCCESS ||
			    MPI_Recv(&remote, 1, MPI_INT64_T, r, k, iolens__mpi_comm,
				     MPI_STATUS_IGNORE) != MPI_SUCCESS)
				return -EIO;
			t1 = realtime_ns();
			if (t1 - t0 >= best_rtt)
				continue;
			best_rtt = t1 - t0;
			clk[r].rtt_us = (double)best_rtt / 1e3;
			clk[r].offset_us = (double)(remote - (t0 + (t1 - t0) / 2)) / 1e3;
		}
	}
	return 0;
}
