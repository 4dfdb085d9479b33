/*
 * One fio job as one iolens workload: each option the job takes (from its
 * section and the [global]s above it) onto the field of struct
 * iolens_workload that does what fio would, starting from the command
 * line's values. docs/fio.md is the table of this file; where fio and
 * iolens differ, the choice is said there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fio_job.h"
#include "cli_usage.h"

struct job {
	struct iolens__fio_ctx *c;
	const struct iolens__fio_section *sec;
	const struct iolens__fio_settings *s;
	struct iolens__fio_job *out;
	unsigned kb_base;
	const char *engine; /* fio's name, and whether it does one I/O at a time */
	int sync_engine;
	int named;          /* the job runs on an existing file (filename=, or --file) */
	uint64_t avail;     /* its bytes; 0 for a device whose size could not be read */
	int device;         /* it is a block device */
	const char *where;  /* what named it, for a message: "FILE:LINE: filename" or "--file" */
	char where_buf[4200];
};

#define OPT(j, k) ((j)->s->opt[k])

static int bad(const struct iolens__fio_opt *o, const char *accepts)
{
	return iolens__usage("%s:%u: %s: '%s' is not accepted (accepts %s)", o->file, o->line, o->key,
			     o->value, accepts);
}

static int not_yet(const struct iolens__fio_opt *o, const char *why)
{
	return iolens__usage("%s:%u: %s=%s: not supported yet (%s)", o->file, o->line, o->key,
			     o->value, why);
}

/* fio's bool: 0 or 1 (a flag alone on its line is 1). */
static int flag(const struct iolens__fio_opt *o, int *on)
{
	uint64_t v;

	if (iolens__fio_uint(o->value, 0, 1, &v))
		return bad(o, "0 or 1");
	*on = (int)v;
	return 0;
}

static int is_write_kind(int kind)
{
	return kind == IOLENS_WL_WRITE || kind == IOLENS_WL_RANDWRITE || kind == IOLENS_WL_RANDRW;
}

/* The later of two options that set one thing (direct and buffered), or NULL. */
static const struct iolens__fio_opt *later(const struct job *j, int a, int b)
{
	if (!OPT(j, b) || (OPT(j, a) && j->s->seq[a] > j->s->seq[b]))
		return OPT(j, a);
	return OPT(j, b);
}

/* Options the job sets that the command line gives too, and options iolens cannot run yet. */
static int refusals(const struct job *j)
{
	const struct iolens__run_args *a = j->c->a;

	for (int k = 0; k < K__COUNT; k++) {
		const struct iolens__fio_opt *o = OPT(j, k);
		const struct iolens__fio_key *key = &iolens__fio_keys[k];

		if (!o)
			continue;
		for (int i = 0; i < 3 && key->cli[i]; i++) {
			const char *cli = key->cli[i];

			if (!iolens__run_given(a, cli))
				continue;
			if (!strcmp(cli, "time") || !strcmp(cli, "ops"))
				return iolens__usage("--%s: the job file says when its job stops (%s=%s at %s:%u); leave --%s out (--fio-scale shortens a run)",
						     cli, o->key, o->value, o->file, o->line, cli);
			return iolens__usage("--%s: the job file sets it too (%s=%s at %s:%u); give it in one place",
					     cli, o->key, o->value, o->file, o->line);
		}
		/* 0 is fio's "off" for the rates, the sync and the think time. */
		if (key->not_yet && strspn(o->value, "0") != strlen(o->value))
			return not_yet(o, key->not_yet);
	}
	return 0;
}

static int map_rw(struct job *j)
{
	static const char *const names[] = { "read", "write", "randread", "randwrite", "randrw" };
	static const int kinds[] = { IOLENS_WL_READ, IOLENS_WL_WRITE, IOLENS_WL_RANDREAD,
				     IOLENS_WL_RANDWRITE, IOLENS_WL_RANDRW };
	const struct iolens__fio_opt *o = OPT(j, K_RW);

	j->out->w.kind = IOLENS_WL_READ; /* fio's default */
	if (!o)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(o->value, names[i])) {
			j->out->w.kind = kinds[i];
			return 0;
		}
	}
	if (strchr(o->value, ':'))
		return not_yet(o, "an offset modifier: iolens moves on by one block after each");
	if (!strcmp(o->value, "rw") || !strcmp(o->value, "readwrite"))
		return not_yet(o, "iolens mixes reads and writes at random offsets only: randrw");
	if (strstr(o->value, "trim"))
		return iolens__usage("%s:%u: %s: '%s': iolens does not trim (accepts read, write, randread, randwrite, randrw)",
				     o->file, o->line, o->key, o->value);
	return bad(o, "read, write, randread, randwrite, randrw");
}

static int map_bs(struct job *j)
{
	const struct iolens__fio_opt *o = OPT(j, K_BS);
	uint64_t v;

	if (!o)
		return 0;
	if (strchr(o->value, ','))
		return not_yet(o, "a block size per direction: iolens runs one block size per job");
	if (strpbrk(o->value, "-:"))
		return not_yet(o, "a range of block sizes: iolens runs one block size per job");
	if (iolens__fio_size(o->value, j->kb_base, &v) || v < 512 || v > 64ull << 20)
		return bad(o, "a block size from 512 to 64m, e.g. 4k");
	j->out->w.bs = (uint32_t)v;
	return 0;
}

/* ioengine picks the backend; a synchronous engine does one I/O at a time whatever iodepth says. */
static int map_engine(struct job *j)
{
	static const struct {
		const char *engine, *spec;
		int sync;
	} engines[] = {
		{ "psync", "blocking", 1 },  { "sync", "blocking", 1 },   { "pvsync", "blocking", 1 },
		{ "pvsync2", "blocking", 1 }, { "libaio", "libaio", 0 },  { "io_uring", "io_uring", 0 },
		{ "posixaio", "posix-aio", 0 },
	};
	const struct iolens__fio_opt *o = OPT(j, K_IOENGINE);
	const char *name = o ? o->value : "psync"; /* fio's default on Linux */

	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
		if (strcmp(name, engines[i].engine))
			continue;
		j->engine = engines[i].engine;
		j->sync_engine = engines[i].sync;
		j->out->specs[0] = strdup(engines[i].spec);
		return j->out->specs[0] ? 0 : iolens__usage("out of memory");
	}
	return iolens__usage("%s:%u: ioengine: '%s' has no iolens backend (accepts psync, sync, pvsync, pvsync2, libaio, io_uring, posixaio)",
			     o->file, o->line, name);
}

/* iodepth, numjobs, rwmixread/rwmixwrite, direct/buffered: numbers and flags. */
static int map_shape(struct job *j)
{
	struct iolens_workload *w = &j->out->w;
	const struct iolens__fio_opt *o;
	uint64_t v;
	int on = 0;

	if ((o = OPT(j, K_IODEPTH))) {
		if (iolens__fio_uint(o->value, 1, 4096, &v))
			return bad(o, "a whole number from 1 to 4096");
		if (j->sync_engine && v > 1)
			fprintf(stderr, "iolens: note: %s:%u: iodepth=%s with ioengine %s: fio does one I/O at a time with a synchronous engine, and so does iolens (depth 1)\n",
				o->file, o->line, o->value, j->engine);
		w->depth = j->sync_engine ? 1 : (unsigned)v;
	}
	if ((o = OPT(j, K_NUMJOBS))) {
		if (iolens__fio_uint(o->value, 1, 256, &v))
			return bad(o, "a whole number from 1 to 256");
		w->jobs = (unsigned)v;
	}
	if ((o = later(j, K_RWMIXREAD, K_RWMIXWRITE))) {
		if (iolens__fio_uint(o->value, 0, 100, &v))
			return bad(o, "a percentage from 0 to 100");
		w->rwmix = (unsigned)(o == OPT(j, K_RWMIXREAD) ? v : 100 - v);
	}
	if ((o = later(j, K_DIRECT, K_BUFFERED))) {
		if (flag(o, &on))
			return 2;
		w->direct = o == OPT(j, K_DIRECT) ? on : !on;
	}
	if ((o = OPT(j, K_NRFILES))) {
		if (iolens__fio_uint(o->value, 1, UINT32_MAX, &v))
			return bad(o, "a whole number of files, at least 1");
		if (v > 1)
			return not_yet(o, "iolens runs a job on one file");
	}
	return 0;
}

/*
 * rate_iops or rate (bytes/s, one block size: ops/s), per job in fio and so
 * times numjobs for iolens's --rate over all jobs; rate_process.
 */
static int map_rate(struct job *j)
{
	struct iolens_workload *w = &j->out->w;
	const struct iolens__fio_opt *iops = OPT(j, K_RATE_IOPS), *bw = OPT(j, K_RATE), *o;
	uint64_t v;

	o = iops ? iops : bw;
	if (o && strchr(o->value, ','))
		return not_yet(o, "iolens paces reads and writes together, at one rate");
	if (iops && iolens__fio_uint(iops->value, 0, 1000000000, &v))
		return bad(iops, "operations per second, a whole number");
	if (!iops && bw && (iolens__fio_size(bw->value, j->kb_base, &v) || v / w->bs > 1000000000))
		return bad(bw, "bytes per second, e.g. 4m");
	if (o)
		w->rate = (double)(iops ? v : v / w->bs) * w->jobs;
	if (o && v && !(w->rate > 0))
		return bad(o, "a rate of at least one block per second");
	if ((o = OPT(j, K_RATE_PROCESS))) {
		if (strcmp(o->value, "linear") && strcmp(o->value, "poisson"))
			return bad(o, "linear or poisson");
		w->poisson = w->rate > 0 && !strcmp(o->value, "poisson");
	}
	return 0;
}

/* verify, randseed, fsync, random_distribution. */
static int map_data(struct job *j)
{
	static const char *const sums[] = { "md5", "crc64", "crc32c", "crc32c-intel", "crc32",
					    "crc16", "crc7", "xxhash", "sha512", "sha256", "sha1",
					    "sha3-224", "sha3-256", "sha3-384", "sha3-512", "meta" };
	struct iolens_workload *w = &j->out->w;
	const struct iolens__fio_opt *o;
	uint64_t v;

	if ((o = OPT(j, K_VERIFY))) {
		/* iolens's own check of every block stands in for fio's checksum. */
		w->verify = 0;
		for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
			w->verify |= !strcmp(o->value, sums[i]);
		if (!strcmp(o->value, "pattern"))
			return not_yet(o, "iolens checks its own block format, not a pattern of yours");
		if (!w->verify && strcmp(o->value, "0") && strcmp(o->value, "null"))
			return bad(o, "0, null, or a checksum such as crc32c, md5, sha256, xxhash");
	}
	if ((o = OPT(j, K_RANDSEED))) {
		if (iolens__fio_uint(o->value, 0, UINT64_MAX, &w->seed))
			return bad(o, "a whole number");
	}
	if ((o = OPT(j, K_FSYNC))) {
		if (iolens__fio_uint(o->value, 0, 1u << 30, &v))
			return bad(o, "a whole number of writes, 0 for never");
		w->fsync_every = (unsigned)v;
	}
	/* iolens takes fio's own spelling; the forms it does not have are said here. */
	if ((o = OPT(j, K_RANDOM_DISTRIBUTION))) {
		if (strcmp(o->value, "random") && strncmp(o->value, "zipf:", 5) &&
		    strncmp(o->value, "pareto:", 7) && strncmp(o->value, "normal:", 7) &&
		    strncmp(o->value, "zoned:", 6))
			return not_yet(o, "iolens has random, zipf, pareto, normal and zoned");
		/* The file's lines are gone when the job runs: its own copy. */
		free(j->out->distribution);
		j->out->distribution = strdup(o->value);
		if (!j->out->distribution)
			return iolens__usage("out of memory");
		w->distribution = j->out->distribution;
	}
	return map_rate(j);
}

/* s with fio's "\:" made ':'; 1 if it has a ':' that is not escaped (a list), -1 out of memory. */
static int unescape(const char *s, char **out)
{
	char *d = malloc(strlen(s) + 1);
	int list = 0;

	*out = d;
	if (!d)
		return -1;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == ':')
			s++;
		else if (*s == ':')
			list = 1;
		*d++ = *s;
	}
	*d = '\0';
	return list;
}

/* The existing file a job names: its size in j->avail. 0, or 2 after the usage error. */
static int existing(struct job *j, const struct iolens__fio_opt *o, const char *path)
{
	uint64_t *avail = &j->avail;
	struct stat st;
	int fd;

	if (stat(path, &st))
		return iolens__usage("%s:%u: filename: '%s' %s here (iolens runs a job on an existing file, or on a temporary one when filename is left out)",
				     o->file, o->line, path,
				     errno == ENOENT ? "does not exist" : strerror(errno));
	if (S_ISREG(st.st_mode)) {
		*avail = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return iolens__usage("%s:%u: filename: '%s' is not a regular file or block device",
				     o->file, o->line, path);
	if (!j->c->a->w.allow_device)
		return iolens__usage("%s:%u: filename: '%s' is a block device (accepted only with --allow-device)",
				     o->file, o->line, path);
	j->device = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, avail))
		*avail = 0; /* the target says why when it opens the device */
	if (fd >= 0)
		close(fd);
	return 0;
}

/* filename and directory: an existing file, or where the temporary file goes. */
static int map_file(struct job *j)
{
	const struct iolens__fio_opt *dir = OPT(j, K_DIRECTORY), *name = OPT(j, K_FILENAME);
	char *d = NULL, *n = NULL, *path = NULL;
	struct stat st;
	int r = 0;

	if (dir && (r = unescape(dir->value, &d)) != 0) {
		r = r < 0 ? iolens__usage("out of memory")
			  : not_yet(dir, "several directories: iolens runs a job on one file");
	} else if (dir && (stat(d, &st) || !S_ISDIR(st.st_mode))) {
		r = iolens__usage("%s:%u: directory: '%s' is not a directory here (iolens writes nowhere else)",
				  dir->file, dir->line, d);
	} else if (name && (r = unescape(name->value, &n)) != 0) {
		r = r < 0 ? iolens__usage("out of memory")
			  : not_yet(name, "several files: iolens runs a job on one file");
	} else if (name && !strcmp(n, "-")) {
		r = bad(name, "the path of an existing file, not - for stdin or stdout");
	} else if (name) {
		/* fio puts directory before any filename, an absolute one too. */
		if (!d)
			path = strdup(n);
		else if (asprintf(&path, "%s/%s", d, n) < 0)
			path = NULL;
		r = !path ? iolens__usage("out of memory") : existing(j, name, path);
		j->named = 1;
		snprintf(j->where_buf, sizeof(j->where_buf), "%s:%u: filename", name->file, name->line);
		j->where = j->where_buf;
		j->out->file = path;
		j->out->w.file = path;
		/* A job that writes to the file it names is the user asking for it. */
		j->out->w.overwrite |= is_write_kind(j->out->w.kind);
	} else if (d) {
		j->out->tmpdir = d;
		d = NULL;
	} else if (j->out->w.file) {
		/* --file for a job that names none: its size is the job's default size */
		if (stat(j->out->w.file, &st))
			r = iolens__usage("--file: cannot use '%s': %s (accepts an existing file)",
					  j->out->w.file, strerror(errno));
		j->named = 1;
		j->where = "--file";
		j->device = !r && !S_ISREG(st.st_mode); /* the target checks it is one */
		j->avail = r || j->device ? 0 : (uint64_t)st.st_size;
	}
	free(d);
	free(n);
	return r;
}

/* The bytes the job covers: size (scaled), within its file, at least one block. */
static int map_size(struct job *j)
{
	const struct iolens__fio_opt *o = OPT(j, K_SIZE);
	struct iolens_workload *w = &j->out->w;
	double scale = j->c->a->fio_scale;
	uint64_t size;

	if (o) {
		if (strchr(o->value, '%'))
			return not_yet(o, "a share of the file: give size in bytes");
		if (iolens__fio_size(o->value, j->kb_base, &size) || !size)
			return bad(o, "a size of at least one byte, e.g. 64m");
	} else if (iolens__run_given(j->c->a, "size")) {
		scale = 1; /* --fio-scale scales the file's sizes, not the command line's */
		size = w->size;
	} else if (j->named) {
		size = j->avail; /* fio's default: the whole file */
	} else {
		return iolens__usage("%s:%u: [%s]: no size (fio needs size= for a job on a file it makes, or a filename= that exists)",
				     j->sec->file, j->sec->line, j->sec->name);
	}
	if (j->named && j->avail && size > j->avail)
		size = j->avail;
	if (j->named && !j->device && j->avail < w->bs)
		return iolens__usage("%s: '%s' holds %llu bytes, less than one block of %u (accepts a file of at least one block)",
				     j->where, w->file, (unsigned long long)j->avail, w->bs);
	if (scale < 1)
		size = (uint64_t)((double)size * scale);
	size -= size % w->bs;
	w->size = size < w->bs ? w->bs : size;
	return 0;
}

/*
 * When the job stops. time_based runs for runtime; otherwise fio stops at
 * size or runtime, whichever comes first, and iolens has one stop
 * condition: the size (its blocks, for each of numjobs), as fio's jobs
 * without runtime do. The command line's --time or --ops, given for a
 * file that sets none of size, runtime and time_based, stands.
 */
static int map_stop(struct job *j)
{
	const struct iolens__fio_opt *tb = OPT(j, K_TIME_BASED), *rt = OPT(j, K_RUNTIME);
	const struct iolens__fio_opt *ramp = OPT(j, K_RAMP_TIME);
	struct iolens_workload *w = &j->out->w;
	double scale = j->c->a->fio_scale, runtime = 0, warmup;
	int time_based = 0;

	if (tb && flag(tb, &time_based))
		return 2;
	if (rt && (iolens__fio_time(rt->value, 1, &runtime) || runtime > 7 * 86400))
		return bad(rt, "a whole number of seconds, or with a unit d, h, m, s, ms or us; at most 7 days");
	if (ramp && (iolens__fio_time(ramp->value, 1, &warmup) || warmup > 3600))
		return bad(ramp, "a whole number of seconds, or with a unit h, m, s, ms or us; at most 1h");
	if (ramp)
		w->warmup_s = warmup * scale;
	if (time_based) {
		if (!(runtime > 0))
			return iolens__usage("%s:%u: time_based: needs runtime (how long fio loops over the job)",
					     tb->file, tb->line);
		w->time_s = runtime * scale < 1e-3 ? 1e-3 : runtime * scale;
		w->ops = 0;
		return 0;
	}
	if (iolens__run_given(j->c->a, "time") || iolens__run_given(j->c->a, "ops"))
		return 0;
	w->time_s = 0;
	w->ops = w->size / w->bs * w->jobs;
	if (runtime > 0)
		fprintf(stderr, "iolens: note: %s:%u: runtime=%s without time_based: iolens stops [%s] after its size (%llu ops), not at whichever of size and runtime comes first\n",
			rt->file, rt->line, rt->value, j->sec->name, (unsigned long long)w->ops);
	return 0;
}

/* The backends the job runs on: its ioengine's, or --backend's, each fit for its workload. */
static int map_specs(struct job *j)
{
	const struct iolens__run_args *a = j->c->a;
	struct iolens__fio_job *out = j->out;
	char err[256];

	out->use_specs = iolens__run_given(a, "backend") ? a->specs : out->specs;
	out->nspecs = iolens__run_given(a, "backend") ? a->nspecs : 1;
	for (size_t i = 0; i < out->nspecs; i++)
		if (iolens_spec_check(out->use_specs[i], out->w.kind, err, sizeof(err)))
			return iolens__usage("%s (job [%s] of %s)", err, j->sec->name,
					     j->c->plan->path);
	return 0;
}

int iolens__fio_job_map(struct iolens__fio_ctx *c, const struct iolens__fio_section *sec,
			const struct iolens__fio_settings *s, struct iolens__fio_job *out)
{
	struct job j = { .c = c, .sec = sec, .s = s, .out = out, .kb_base = 1024 };
	const struct iolens__fio_opt *o;
	struct iolens__fio_plan *p = c->plan;
	int stonewall = 0, r;
	uint64_t v;

	out->w = c->a->w;
	out->line = sec->line;
	out->section = strdup(sec->name);
	if (!out->section)
		return iolens__usage("out of memory");
	out->w.job_file = p->path;
	out->w.job_section = out->section;
	if ((r = refusals(&j)))
		return r;
	if ((o = OPT(&j, K_KB_BASE))) {
		if (iolens__fio_uint(o->value, 1000, 1024, &v) || (v != 1000 && v != 1024))
			return bad(o, "1024 or 1000");
		j.kb_base = (unsigned)v;
	}
	if ((r = map_rw(&j)) || (r = map_bs(&j)) || (r = map_engine(&j)) || (r = map_shape(&j)) ||
	    (r = map_data(&j)) || (r = map_file(&j)) || (r = map_size(&j)) || (r = map_stop(&j)))
		return r;
	if ((o = OPT(&j, K_STONEWALL)) && flag(o, &stonewall))
		return 2;
	out->group = out == &p->jobs[0] || stonewall ? ++p->ngroups : p->ngroups;
	if (!is_write_kind(out->w.kind)) {
		/* fio syncs only what it writes; the command line's value stays with the writers */
		out->w.fsync_every = 0;
		out->w.overwrite = 0;
	}
	return map_specs(&j);
}
