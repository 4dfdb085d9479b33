/* Output files the user named: checked first, replaced atomically or written into. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_output.h"
#include "iolens/iolens.h"
#include "cli_usage.h"

static const char accepts[] = "accepts a file path, or - for stdout";

/* Whether o names what our stdout is (/dev/stdout, or the file it was redirected to). */
static int is_stdout(const struct iolens__output *o)
{
	struct stat out;

	return !fstat(STDOUT_FILENO, &out) && out.st_dev == o->st.st_dev && out.st_ino == o->st.st_ino;
}

/* A FIFO or character device: written into, never replaced. */
static int open_in_place(struct iolens__output *o)
{
	int fd = open(o->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return iolens__usage("%s: cannot write '%s': %s (%s)", o->opt, o->path, strerror(e),
				     accepts);
	}
	return 0;
}

/* o->target for a file that does not exist yet: its directory resolved, then its name. */
static int new_target(struct iolens__output *o)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(o->path, '/'), *name = slash ? slash + 1 : o->path;

	if (slash == o->path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - o->path) : 1,
			 slash ? o->path : ".");
	if (!realpath(dir, real))
		return iolens__usage("%s: cannot write '%s': %s (%s)", o->opt, o->path, strerror(errno),
				     accepts);
	if ((size_t)snprintf(o->target, sizeof(o->target), "%s/%s", strcmp(real, "/") ? real : "",
			     name) >= sizeof(o->target))
		return iolens__usage("%s: '%s' is too long (%s)", o->opt, o->path, accepts);
	return 0;
}

/* The temporary file beside o->target, with the mode a plain create (or the old file) has. */
static int open_temporary(struct iolens__output *o)
{
	const char *slash = strrchr(o->target, '/');
	mode_t mask = umask(0);
	int fd;

	umask(mask);
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%.*s.iolens-out-XXXXXX",
			     (int)(slash - o->target + 1), o->target) >= sizeof(o->tmp)) {
		o->tmp[0] = '\0';
		return iolens__usage("%s: '%s' is too long (%s)", o->opt, o->path, accepts);
	}
	fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		o->tmp[0] = '\0';
		return iolens__usage("%s: cannot write '%s': %s (%s)", o->opt, o->path, strerror(e),
				     accepts);
	}
	fchmod(fd, o->existed ? o->st.st_mode & 07777 : 0666 & ~mask);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		close(fd);
		unlink(o->tmp);
		o->tmp[0] = '\0';
		return iolens__usage("%s: %s", o->opt, strerror(ENOMEM));
	}
	return 0;
}

int iolens__output_open(struct iolens__output *o, const char *opt, const char *path)
{
	struct stat lst;
	int r;

	o->opt = opt;
	o->path = path;
	o->target[0] = o->tmp[0] = '\0';
	o->existed = 0;
	o->f = NULL;
	if (!path)
		return 0;
	if (!*path)
		return iolens__usage("%s: empty path (%s)", opt, accepts);
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (path[strlen(path) - 1] == '/')
		return iolens__usage("%s: '%s' names a directory (%s)", opt, path, accepts);
	if (!stat(path, &o->st)) {
		o->existed = 1;
		if (S_ISDIR(o->st.st_mode))
			return iolens__usage("%s: '%s' is a directory (%s)", opt, path, accepts);
		if (S_ISBLK(o->st.st_mode))
			return iolens__usage("%s: '%s' is a block device, not written over (%s)", opt,
					     path, accepts);
		if (is_stdout(o)) {
			o->f = stdout;
			return 0;
		}
		if (!S_ISREG(o->st.st_mode))
			return open_in_place(o);
		if (o->no_replace)
			return iolens__usage("%s: '%s' already exists (earlier results are never replaced; accepts a new directory)",
					     opt, path);
		if (access(path, W_OK) || !realpath(path, o->target))
			return iolens__usage("%s: cannot write '%s': %s (%s)", opt, path,
					     strerror(errno), accepts);
	} else if (errno != ENOENT) {
		return iolens__usage("%s: cannot write '%s': %s (%s)", opt, path, strerror(errno),
				     accepts);
	} else if (!lstat(path, &lst)) {
		return iolens__usage("%s: '%s' is a symbolic link to nothing (%s)", opt, path, accepts);
	} else if ((r = new_target(o))) {
		return r;
	}
	return open_temporary(o);
}

int iolens__output_same(const struct iolens__output *a, const struct iolens__output *b)
{
	if (!a->f || !b->f)
		return 0;
	if (a->f == stdout || b->f == stdout)
		return a->f == b->f;
	if (a->existed && b->existed)
		return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
	return a->target[0] && !strcmp(a->target, b->target);
}

int iolens__output_finish(struct iolens__output *o)
{
	int e = 0;

	if (!o->f)
		return 0;
	errno = 0;
	if (o->f == stdout) {
		if (fflush(stdout) || ferror(stdout))
			e = errno ? errno : EIO;
	} else if (!o->tmp[0]) {
		if (ferror(o->f))
			e = EIO;
		if (fclose(o->f) && !e)
			e = errno;
	} else {
		struct stat now;

		if (fflush(o->f) || ferror(o->f) || fsync(fileno(o->f)))
			e = errno ? errno : EIO;
		/* The file as it is now: its owner and mode carry over to the new one. */
		if (!e && o->existed && !stat(o->target, &now)) {
			fchmod(fileno(o->f), now.st_mode & 07777);
			if (fchown(fileno(o->f), now.st_uid, now.st_gid) && errno != EPERM)
				e = errno;
		}
		if (fclose(o->f) && !e)
			e = errno;
		if (!e && rename(o->tmp, o->target))
			e = errno;
		if (e)
			unlink(o->tmp);
		o->tmp[0] = '\0';
	}
	o->f = NULL;
	if (e)
		fprintf(stderr, "iolens: %s: writing '%s': %s\n", o->opt, o->path, strerror(e));
	return e ? 1 : 0;
}

void iolens__output_discard(struct iolens__output *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = '\0';
	o->f = NULL;
}

int iolens__output_abandon(struct iolens__output *o)
{
	int e = errno ? errno : EIO;

	fprintf(stderr, "iolens: %s: writing '%s': %s\n", o->opt, o->path, strerror(e));
	iolens__output_discard(o);
	return 1;
}

int iolens__csv_write(FILE *f, struct iolens_result *const *res, size_t n)
{
	int r = iolens_csv_header(f);

	for (size_t i = 0; i < n; i++)
		r |= iolens_csv_row(f, res[i]);
	return r ? -EIO : 0;
}
