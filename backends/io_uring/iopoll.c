/*
 * io_uring:iopoll: IORING_SETUP_IOPOLL. The ring finds completions by
 * polling the device's completion queue from io_uring_enter(GETEVENTS)
 * instead of waiting for its interrupt, so reap enters the kernel even to
 * peek (a look at the CQ alone finds nothing), and a wait is a spin in the
 * kernel, not a sleep.
 *
 * Only O_DIRECT reads and writes on a device with poll queues can be
 * polled: without O_DIRECT, or on any other device, the kernel fails every
 * request with -EOPNOTSUPP (the block layer refuses a polled bio to a queue
 * that cannot poll). So init checks each of opts.files first and refuses,
 * with the reason, what cannot be polled: a descriptor without O_DIRECT, a
 * file on no block device, a device whose queue/io_poll is 0 (NVMe has
 * poll queues only with nvme.poll_queues > 0).
 * The other ops (fsync, sockets) are refused by submit with -EOPNOTSUPP:
 * the kernel takes nothing else on an IOPOLL ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "uring_state.h"

static int refuse(struct iolens_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->stats.setup, sizeof(ctx->stats.setup), fmt, ap);
	va_end(ap);
	return err;
}

/* The device's queue/io_poll, from its disk's directory: a partition has no queue of its own. */
static int device_polls(struct iolens_ctx *ctx, dev_t dev)
{
	char link[48], dir[PATH_MAX], path[PATH_MAX + 32], val[16] = "";
	const char *name;
	ssize_t n;
	int fd;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (!realpath(link, dir))
		return refuse(ctx, -EOPNOTSUPP,
			      "iopoll needs a file on a block device: its device %u:%u is none "
			      "(tmpfs, btrfs, a network file system?)",
			      major(dev), minor(dev));
	snprintf(path, sizeof(path), "%s/partition", dir);
	if (access(path, F_OK) == 0)
		*strrchr(dir, '/') = '\0';
	name = strrchr(dir, '/') + 1;
	snprintf(path, sizeof(path), "%s/queue/io_poll", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return refuse(ctx, -EOPNOTSUPP,
			      "iopoll cannot tell whether %.32s polls: queue/io_poll: %s", name,
			      iolens_strerror(errno));
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	if (n <= 0 || atoi(val) == 0)
		return refuse(ctx, -EOPNOTSUPP,
			      "%.32s has no poll queues (queue/io_poll is 0): iopoll needs an NVMe "
			      "device with poll_queues",
			      name);
	return 0;
}

/* 0 when every file in opts.files can be polled, else -errno with the reason in stats.setup. */
int iolens__uring_iopoll_check(struct iolens_ctx *ctx)
{
	const struct iolens_backend_opts *o = &ctx->opts;

	if (o->flags & (IOLENS_BOPT_SEND_ZC | IOLENS_BOPT_MS_ACCEPT | IOLENS_BOPT_MS_RECV))
		return refuse(ctx, -EINVAL,
			      "iopoll polls disk reads and writes: "
			      "not with send-zc, ms-accept or ms-recv");
	if (!o->files || !o->nfiles)
		return refuse(ctx, -EINVAL,
			      "iopoll checks the files it will poll: give them in opts.files");
	for (unsigned i = 0; i < o->nfiles; i++) {
		int fl = fcntl(o->files[i], F_GETFL);
		struct stat st;
		int r;

		if (fl < 0 || fstat(o->files[i], &st))
			return refuse(ctx, -EBADF, "iopoll: opts.files[%u] is no open file", i);
		if (!(fl & O_DIRECT))
			return refuse(ctx, -EOPNOTSUPP, "iopoll needs O_DIRECT: run with --direct");
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return refuse(ctx, -EOPNOTSUPP,
				      "iopoll needs a regular file or a block device");
		r = device_polls(ctx, S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev);
		if (r)
			return r;
	}
	return 0;
}
