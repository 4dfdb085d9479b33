#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockfmt.h"
#include "dist.h"
#include "net.h"
#include "run.h"

#define CHUNK (1u << 20)
#define MAX_BS (64u << 20)

static int is_write_kind(int kind)
{
	return kind == IOLENS_WL_WRITE || kind == IOLENS_WL_RANDWRITE || kind == IOLENS_WL_RANDRW;
}

static int check_workload(const struct iolens_workload *w, char *err, size_t errlen)
{
	cpu_set_t set;

	if (w->kind < 0 || w->kind >= IOLENS_WL__COUNT)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--workload: accepts read, write, randread, randwrite, randrw, echo, serve, stream");
	if (IOLENS_WL_IS_SOCKET(w->kind))
		goto common;
	if (w->bs < IOLENS_BLOCK_MIN || w->bs > MAX_BS)
		return iolens__target_fail(err, errlen, -EINVAL, "--bs: %u is out of range (accepts 512 to 64m)",
			    w->bs);
	if (w->size < w->bs && !(w->file && w->size == 0)) /* 0: all of an existing file */
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--size: %llu is smaller than --bs %u (accepts a size of at least one block)",
			    (unsigned long long)w->size, w->bs);
common:
	if (w->depth < 1 || w->depth > 4096)
		return iolens__target_fail(err, errlen, -EINVAL, "--depth: %u is out of range (accepts 1 to 4096)",
			    w->depth);
	if (w->jobs < 1 || w->jobs > 256)
		return iolens__target_fail(err, errlen, -EINVAL, "--jobs: %u is out of range (accepts 1 to 256)",
			    w->jobs);
	if (w->batch < 1 || w->batch > w->depth)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--batch: %u is out of range (accepts 1 to --depth, here %u)", w->batch,
			    w->depth);
	if (w->submit_batch > w->depth)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--submit-batch: %u is out of range (accepts 0 to --depth, here %u; 0 = all ready)",
			    w->submit_batch, w->depth);
	if (w->rwmix > 100)
		return iolens__target_fail(err, errlen, -EINVAL, "--rwmix: %u is out of range (accepts 0 to 100)",
			    w->rwmix);
	if ((w->time_s > 0) == (w->ops > 0))
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--time/--ops: give exactly one of them (a duration like 5s, or a count)");
	if (!(w->time_s >= 0) || w->time_s > 86400 * 7)
		return iolens__target_fail(err, errlen, -EINVAL, "--time: accepts 1ms to 7 days");
	if (!(w->warmup_s >= 0) || w->warmup_s > 3600)
		return iolens__target_fail(err, errlen, -EINVAL, "--warmup: accepts 0 to 1 hour");
	if (w->cache != IOLENS_CACHE_WARM && w->cache != IOLENS_CACHE_COLD &&
	    w->cache != IOLENS_CACHE_HALF)
		return iolens__target_fail(err, errlen, -EINVAL, "--cache: accepts warm, cold or half");
	if (w->cpu < -1 || w->cpu >= sysconf(_SC_NPROCESSORS_CONF))
		return iolens__target_fail(err, errlen, -EINVAL, "--cpu: %d is out of range (accepts 0 to %ld)", w->cpu,
			    sysconf(_SC_NPROCESSORS_CONF) - 1);
	if (w->cpus && w->cpu >= 0)
		return iolens__target_fail(err, errlen, -EINVAL, "--cpus: give --cpu or --cpus, not both");
	if (w->cpus && iolens__cpulist(w->cpus, sysconf(_SC_NPROCESSORS_CONF), &set) < 0)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--cpus: '%.64s' is not accepted (accepts CPUs from 0 to %ld, listed and ranged like 0,2-3)",
			    w->cpus, sysconf(_SC_NPROCESSORS_CONF) - 1);
	if (w->peer_cpu < -1 || w->peer_cpu >= sysconf(_SC_NPROCESSORS_CONF))
		return iolens__target_fail(err, errlen, -EINVAL, "--peer-cpu: %d is out of range (accepts 0 to %ld)",
			    w->peer_cpu, sysconf(_SC_NPROCESSORS_CONF) - 1);
	if (w->peer_cpu >= 0 && !IOLENS_WL_IS_SOCKET(w->kind))
		return iolens__target_fail(err, errlen, -EINVAL, "--peer-cpu: a socket option (echo, serve, stream)");
	if (w->submit_batch && IOLENS_WL_IS_SOCKET(w->kind))
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--submit-batch: a disk option (read, write, randread, randwrite, randrw)");
	if (w->stream_nocheck && w->kind != IOLENS_WL_STREAM)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--no-check: turns off the stream sink's byte check (accepted with stream only, not %s)",
			    iolens_workload_name(w->kind));
	if (!IOLENS_WL_IS_SOCKET(w->kind) && (!(w->rate >= 0) || w->rate > 1e9))
		return iolens__target_fail(err, errlen, -EINVAL, "--rate: accepts 0 to 1e9 operations per second");
	if (!IOLENS_WL_IS_SOCKET(w->kind) && w->poisson && !(w->rate > 0))
		return iolens__target_fail(err, errlen, -EINVAL, "--rate: poisson needs a rate (e.g. poisson:1000)");
	if (w->distribution && strcmp(w->distribution, "random") &&
	    w->kind != IOLENS_WL_RANDREAD && w->kind != IOLENS_WL_RANDWRITE && w->kind != IOLENS_WL_RANDRW)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--distribution: for the random workloads (randread, randwrite, randrw), not %s",
			    iolens_workload_name(w->kind));
	if (!IOLENS_WL_IS_SOCKET(w->kind)) {
		struct iolens__dist d;
		int e = iolens__dist_parse(w->distribution, &d, err, errlen);

		if (e)
			return e;
	}
	if (w->fsync_every && !is_write_kind(w->kind))
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--fsync: needs a workload that writes (write, randwrite, randrw)");
	if (!IOLENS_WL_IS_SOCKET(w->kind) &&
	    (w->connect || w->listen || w->think_ns || w->delay_ns || w->msg ||
	     w->conns != 1 || w->transport != IOLENS_TRANSPORT_TCP))
		return iolens__target_fail(err, errlen, -EINVAL, "--%s: a socket option (not accepted with %s)",
			    w->connect ? "connect" : w->listen ? "listen"
			    : w->think_ns ? "think" : w->delay_ns ? "delay" : w->msg ? "msg"
			    : w->conns != 1 ? "conns" : "transport",
			    iolens_workload_name(w->kind));
	return 0;
}

static uint32_t direct_alignment(int fd, const struct stat *st)
{
	struct statx sx;
	int lbs;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align)
		return sx.stx_dio_offset_align;
	if (S_ISBLK(st->st_mode) && ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
		return (uint32_t)lbs;
	return 512;
}

/* Write the verifiable blocks of [0, size) into fd. */
static int fill(int fd, uint64_t size, uint32_t bs, volatile int *stop)
{
	uint32_t chunk = bs > CHUNK ? bs : CHUNK - CHUNK % bs;
	char *buf = malloc(chunk);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size && !err; off += chunk) {
		uint64_t len = size - off < chunk ? size - off : chunk;

		if (stop && *stop) {
			err = -EINTR;
			break;
		}
		for (uint64_t b = 0; b < len; b += bs)
			iolens__block_fill(buf + b, bs, off + b, 0);
		for (uint64_t done = 0; done < len;) {
			ssize_t r = pwrite(fd, buf + done, len - done, (off_t)(off + done));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				err = r < 0 ? -errno : -EIO;
				break;
			}
			done += (uint64_t)r;
		}
	}
	if (!err && fsync(fd))
		err = -errno;
	free(buf);
	return err;
}

/*
 * Lay a new file out: size bytes of verifiable blocks, allocated first.
 * where names it in messages. On failure the caller removes the file.
 */
static int lay_out(struct iolens_target *t, int fd, const struct iolens_workload *w, const char *where,
		   char *err, size_t errlen)
{
	struct stat st;
	int r;

	t->laid_out = 1;
	t->size = w->size - w->size % w->bs;
	r = fstat(fd, &st) ? -errno : 0;
	t->dio_align = r ? 512 : direct_alignment(fd, &st);
	/* Refuse a misaligned --direct before spending time on the fill. */
	if (w->direct && w->bs % t->dio_align)
		return -EINVAL;
	r = posix_fallocate(fd, 0, (off_t)t->size);
	if (r && r != EOPNOTSUPP)
		return iolens__target_fail(err, errlen, -r, "--size: cannot allocate %llu bytes in '%s': %s",
			 (unsigned long long)t->size, where, strerror(r));
	r = fill(fd, t->size, w->bs, w->stop);
	if (r)
		iolens__target_fail(err, errlen, r, "filling '%s': %s", t->path, strerror(-r));
	return r;
}

static int open_temporary(struct iolens_target *t, const struct iolens_workload *w, char *err,
			  size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	int fd, r;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(t->path, sizeof(t->path), "%s/iolens-XXXXXX", dir) >= sizeof(t->path))
		return iolens__target_fail(err, errlen, -ENAMETOOLONG, "TMPDIR: path too long");
	fd = mkostemp(t->path, O_CLOEXEC);
	if (fd < 0)
		return iolens__target_fail(err, errlen, -errno, "TMPDIR: cannot create a file in '%s': %s", dir,
			    strerror(errno));
	t->temporary = 1;
	r = lay_out(t, fd, w, dir, err, errlen);
	close(fd);
	if (r)
		unlink(t->path);
	return r;
}

/*
 * A --file that does not exist, with workload.create: made (never over
 * anything: O_EXCL), laid out to --size and kept, as fio does. Its
 * directory must exist; a failure removes what was made.
 */
static int open_created(struct iolens_target *t, const struct iolens_workload *w, char *err,
			size_t errlen)
{
	int fd, r;

	if (!w->size)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--size: needed to create '%s' (a missing --file is laid out to --size)", w->file);
	fd = open(w->file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return iolens__target_fail(err, errlen, -errno,
			    "--file: cannot create '%s': %s (accepts a file to create in an existing "
			    "directory, or an existing file)", w->file, strerror(errno));
	t->created = 1;
	r = lay_out(t, fd, w, w->file, err, errlen);
	close(fd);
	if (r)
		unlink(t->path);
	return r;
}

static int open_existing(struct iolens_target *t, const struct iolens_workload *w, char *err,
			 size_t errlen)
{
	int writes = is_write_kind(w->kind);
	struct stat st;
	uint64_t avail;
	int fd;

	if (strlen(w->file) >= sizeof(t->path))
		return iolens__target_fail(err, errlen, -ENAMETOOLONG, "--file: path too long");
	strcpy(t->path, w->file);
	if (stat(w->file, &st) && errno == ENOENT && w->create)
		return open_created(t, w, err, errlen);
	if (stat(w->file, &st))
		return iolens__target_fail(err, errlen, -errno,
			    "--file: cannot use '%s': %s (accepts an existing file; leave it out for a temporary one)",
			    w->file, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (!w->allow_device)
			return iolens__target_fail(err, errlen, -ENOTBLK,
				    "--file: '%s' is a block device (accepted only with --allow-device)",
				    w->file);
		t->device = 1;
	} else if (!S_ISREG(st.st_mode)) {
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--file: '%s' is not a regular file or block device", w->file);
	}
	if (writes && !w->overwrite)
		return iolens__target_fail(err, errlen, -EEXIST,
			    "--file: '%s' exists and %s writes (accepted only with --overwrite)",
			    w->file, iolens_workload_name(w->kind));
	fd = open(w->file, (writes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return iolens__target_fail(err, errlen, -errno, "--file: cannot open '%s': %s", w->file,
			    strerror(errno));
	avail = (uint64_t)st.st_size;
	if (t->device && ioctl(fd, BLKGETSIZE64, &avail))
		avail = 0;
	t->dio_align = direct_alignment(fd, &st);
	close(fd);
	if (avail < w->bs)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--file: '%s' holds %llu bytes, less than one --bs block", w->file,
			    (unsigned long long)avail);
	/* Never less than was asked for, said as if it were what was asked. */
	if (w->size > avail)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--size: %llu bytes is more than '%s' holds (%llu bytes; accepts up to that, "
			    "or leave --size out to cover the file)", (unsigned long long)w->size,
			    w->file, (unsigned long long)avail);
	t->size = w->size ? w->size : avail;
	t->size -= t->size % w->bs;
	return 0;
}

int iolens_target_open(struct iolens_target **out, const struct iolens_workload *w, char *err,
		       size_t errlen)
{
	struct iolens_target *t;
	int r;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	r = check_workload(w, err, errlen);
	if (r)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (IOLENS_WL_IS_SOCKET(w->kind)) {
		r = iolens__net_target_open(t, w, err, errlen);
		if (r)
			free(t);
		else
			*out = t;
		return r;
	}
	t->bs = w->bs;
	r = w->file ? open_existing(t, w, err, errlen) : open_temporary(t, w, err, errlen);
	if ((!r || r == -EINVAL) && w->direct && t->dio_align && (w->bs % t->dio_align)) {
		r = iolens__target_fail(err, errlen, -EINVAL,
			 "--bs: %u is not a multiple of the logical block size (%u) that --direct needs",
			 w->bs, t->dio_align);
		if ((t->temporary || t->created) && !access(t->path, F_OK))
			unlink(t->path);
	}
	if (r) {
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

void iolens_target_close(struct iolens_target *t)
{
	if (!t)
		return;
	if (t->net)
		iolens__net_target_close(t);
	if (t->temporary)
		unlink(t->path);
	free(t->written);
	free(t);
}

const char *iolens_target_path(const struct iolens_target *t)
{
	return t->path;
}

int iolens__target_prepare_cache(struct iolens_target *t, int mode)
{
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (mode != IOLENS_CACHE_WARM) {
		/* Dirty pages are not dropped: write them back first. */
		if (fdatasync(fd) && errno != EINVAL)
			err = -errno;
		posix_fadvise(fd, 0, (off_t)t->size, POSIX_FADV_DONTNEED);
	}
	if (mode != IOLENS_CACHE_COLD && !err) {
		/* Warm: every chunk; half: every other one, spread over the whole file. */
		uint64_t step = mode == IOLENS_CACHE_HALF ? 2ull * CHUNK : CHUNK;
		char *buf = malloc(CHUNK);

		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		if (mode == IOLENS_CACHE_WARM)
			posix_fadvise(fd, 0, (off_t)t->size, POSIX_FADV_WILLNEED);
		for (uint64_t off = 0; off < t->size; off += step) {
			if (pread(fd, buf, CHUNK, (off_t)off) < 0 && errno != EINTR) {
				err = -errno;
				break;
			}
		}
		free(buf);
	}
	close(fd);
	return err;
}

double iolens__target_residency(const struct iolens_target *t)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((t->size + (uint64_t)page - 1) / (uint64_t)page);
	unsigned char *vec;
	uint64_t resident = 0;
	double share = -1;
	void *map;
	int fd;

	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	map = mmap(NULL, t->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	vec = malloc(pages);
	if (vec && mincore(map, t->size, vec) == 0) {
		for (size_t i = 0; i < pages; i++)
			resident += vec[i] & 1;
		share = (double)resident / (double)pages;
	}
	free(vec);
	munmap(map, t->size);
	return share;
}

int iolens__target_track(struct iolens_target *t, uint32_t bs)
{
	if (t->laid_out || (t->written && t->written_bs == bs))
		return 0;
	free(t->written);
	t->written_bs = bs;
	t->written = calloc((size_t)((t->size / bs + 7) / 8) + 1, 1);
	return t->written ? 0 : -ENOMEM;
}

/* An existing file: the blocks written since it was opened, each checked. */
static int verify_written(const struct iolens_target *t, int fd, uint64_t *bad_off, const char **what)
{
	uint32_t bs = t->written_bs;
	char *buf = malloc(bs);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off + bs <= t->size && !err; off += bs) {
		if (!iolens__target_ours(t, off))
			continue;
		if (pread(fd, buf, bs, (off_t)off) != (ssize_t)bs) {
			*what = "short read";
			err = -EIO;
		} else if (iolens__block_check(buf, bs, off, what)) {
			err = -EILSEQ;
		}
		if (err)
			*bad_off = off;
	}
	free(buf);
	return err;
}

int iolens__target_verify(const struct iolens_target *t, uint64_t *bad_off, const char **what)
{
	uint32_t chunk = t->bs > CHUNK ? t->bs : CHUNK - CHUNK % t->bs;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	char *buf;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (!t->laid_out) {
		err = t->written ? verify_written(t, fd, bad_off, what) : 0;
		close(fd);
		return err;
	}
	buf = malloc(chunk);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (uint64_t off = 0; off < t->size && !err; off += chunk) {
		uint64_t len = t->size - off < chunk ? t->size - off : chunk;
		ssize_t r = pread(fd, buf, len, (off_t)off);

		if (r != (ssize_t)len) {
			err = r < 0 ? -errno : -EIO;
			*bad_off = off;
			*what = "short read";
			break;
		}
		for (uint64_t b = 0; b < len; b += t->bs) {
			if (iolens__block_check(buf + b, t->bs, off + b, what)) {
				*bad_off = off + b;
				err = -EILSEQ;
				break;
			}
		}
	}
	free(buf);
	close(fd);
	return err;
}
