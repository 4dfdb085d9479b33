/*
 * Reading a fio job file: inih (Debian's libinih) splits each line into
 * section, key and value, fed through ini_parse_stream by a line reader of
 * our own, because fio's format is INI with three differences inih does
 * not know: `include FILE` lines, keys alone on a line (time_based), and
 * comments that start anywhere on a line (fio cuts a line at its first ';'
 * or '#'). The reader expands includes, cuts comments, trims each line and
 * serves a bare key as key=1, so inih sees plain INI whatever options its
 * build was compiled with (no continuation lines: nothing it is served
 * starts with a blank). It also keeps, for every line it served, the file
 * and line it came from: inih numbers only the lines it was served, and a
 * message must name the line the user wrote.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_fio_int.h"
#include "cli_usage.h"

#define INCLUDE_DEPTH 16 /* files open at once: the job file and 15 nested includes */

/* One file being read: the job file, or an include it (or an include) names. */
struct source {
	FILE *f;
	const char *path; /* owned by the doc */
	unsigned line;
	dev_t dev;
	ino_t ino;
};

/* Where the n-th line served to inih came from (served[n - 1]). */
struct served {
	const char *file;
	unsigned line;
	int bare;
};

struct reader {
	struct iolens__fio_doc *doc;
	struct source stack[INCLUDE_DEPTH];
	int depth;
	struct served *served;
	size_t nserved, cap;
	char *raw;
	size_t rawcap;
	int err; /* 2 once a usage error was said: serve nothing more */
};

static int fail(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *rd, const char *fmt, ...)
{
	va_list ap;

	if (rd->err)
		return rd->err;
	va_start(ap, fmt);
	rd->err = iolens__vusage(fmt, ap);
	va_end(ap);
	return rd->err;
}

static int oom(struct reader *rd)
{
	return fail(rd, "out of memory reading the job file");
}

/* A path the doc keeps for as long as its options name it; NULL out of memory. */
static const char *keep_path(struct iolens__fio_doc *doc, const char *path)
{
	char **files = realloc(doc->files, (doc->nfiles + 1) * sizeof(*files));

	if (!files)
		return NULL;
	doc->files = files;
	files[doc->nfiles] = strdup(path);
	return files[doc->nfiles] ? files[doc->nfiles++] : NULL;
}

/* Open path as the next file to read; 0 or the usage status (said). */
static int push(struct reader *rd, const char *path, const char *named_by, unsigned line)
{
	struct source *s = &rd->stack[rd->depth];
	struct stat st;
	int e = 0;

	if (rd->depth == INCLUDE_DEPTH)
		return fail(rd, "%s:%u: include: nested more than %d deep (accepts %d files open at once)",
			    named_by, line, INCLUDE_DEPTH - 1, INCLUDE_DEPTH);
	s->f = fopen(path, "re");
	if (!s->f || fstat(fileno(s->f), &st))
		e = errno ? errno : EIO;
	else if (!S_ISREG(st.st_mode)) /* a fifo or a device could hang or never end */
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (e) {
		if (s->f)
			fclose(s->f);
		s->f = NULL;
		if (!named_by)
			return fail(rd, "--fio-job: cannot read '%s': %s (accepts a fio job file)", path,
				    strerror(e));
		return fail(rd, "%s:%u: include: cannot read '%s': %s", named_by, line, path,
			    strerror(e));
	}
	for (int i = 0; i < rd->depth; i++) {
		if (rd->stack[i].dev == st.st_dev && rd->stack[i].ino == st.st_ino) {
			fclose(s->f);
			s->f = NULL;
			return fail(rd, "%s:%u: include: '%s' is already being read (an include cycle through %s)",
				    named_by, line, path, rd->stack[i].path);
		}
	}
	s->path = keep_path(rd->doc, path);
	if (!s->path) {
		fclose(s->f);
		s->f = NULL;
		return oom(rd);
	}
	s->line = 0;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	rd->depth++;
	return 0;
}

static void pop(struct reader *rd)
{
	fclose(rd->stack[--rd->depth].f);
	rd->stack[rd->depth].f = NULL;
}

/* `include NAME`: NAME relative to the directory of the file that names it, as fio does. */
static int include(struct reader *rd, const char *name)
{
	const struct source *s = &rd->stack[rd->depth - 1];
	const char *slash = strrchr(s->path, '/');
	char *path;
	int r;

	if (!*name)
		return fail(rd, "%s:%u: include: no file named (accepts include FILE)", s->path, s->line);
	if (name[0] == '/' || !slash)
		path = strdup(name);
	else if (asprintf(&path, "%.*s/%s", (int)(slash - s->path), s->path, name) < 0)
		path = NULL;
	if (!path)
		return oom(rd);
	r = push(rd, path, s->path, s->line);
	free(path);
	return r;
}

/* A new [section]; its options follow until the next. */
static int section(struct reader *rd, const char *line, size_t len)
{
	const struct source *s = &rd->stack[rd->depth - 1];
	struct iolens__fio_doc *doc = rd->doc;
	struct iolens__fio_section *sec;

	if (rd->depth > 1)
		return fail(rd, "%s:%u: %s: a section in an included file (fio takes options only there)",
			    s->path, s->line, line);
	if (len < 3 || line[len - 1] != ']' || memchr(line + 1, ']', len - 2) ||
	    memchr(line + 1, '[', len - 2))
		return fail(rd, "%s:%u: '%s' is not a section (accepts [name], the name not empty)",
			    s->path, s->line, line);
	if (len - 2 > 255)
		return fail(rd, "%s:%u: a section name longer than 255 characters", s->path, s->line);
	if (doc->nsecs == doc->cap) {
		size_t cap = doc->cap ? 2 * doc->cap : 8;
		struct iolens__fio_section *secs = realloc(doc->secs, cap * sizeof(*secs));

		if (!secs)
			return oom(rd);
		doc->secs = secs;
		doc->cap = cap;
	}
	sec = &doc->secs[doc->nsecs];
	memset(sec, 0, sizeof(*sec));
	sec->name = strndup(line + 1, len - 2);
	if (!sec->name)
		return oom(rd);
	sec->file = s->path;
	sec->line = s->line;
	sec->global = !strcmp(sec->name, "global");
	doc->nsecs++;
	return 0;
}

/* fio's option names: letters, digits and '_'. */
static int is_key(const char *s, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/*
 * One raw line, cut at its comment and trimmed, made what inih is to see:
 * into out (num bytes) and 1, or 0 when there is nothing to serve (blank,
 * an include, an error said).
 */
static int make_line(struct reader *rd, char *line, char *out, int num, int *bare)
{
	const struct source *s = &rd->stack[rd->depth - 1];
	size_t len, key;
	char *eq;

	if (s->line == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
		line += 3; /* a UTF-8 byte order mark */
	line[strcspn(line, ";#")] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	len = strlen(line);
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r' ||
		       line[len - 1] == '\n'))
		line[--len] = '\0';
	if (!len)
		return 0;
	if (line[0] == '[') {
		if (section(rd, line, len))
			return 0;
	} else if (!strncmp(line, "include", 7) && (line[7] == ' ' || line[7] == '\t')) {
		include(rd, line + 8 + strspn(line + 8, " \t"));
		return 0;
	} else {
		eq = strchr(line, '=');
		key = eq ? (size_t)(eq - line) : len;
		while (key && (line[key - 1] == ' ' || line[key - 1] == '\t'))
			key--;
		if (!is_key(line, key)) {
			fail(rd, "%s:%u: '%s' is not an option line (accepts [section], key=value, a flag alone, include FILE)",
			     s->path, s->line, line);
			return 0;
		}
		if (!rd->doc->nsecs) {
			fail(rd, "%s:%u: %.*s: outside any section (fio options go under [global] or a job's [name])",
			     s->path, s->line, (int)key, line);
			return 0;
		}
		*bare = !eq;
	}
	/* inih needs room for "\r\n" and the NUL beyond the longest line. */
	if ((int)len + (*bare ? 2 : 0) > num - 3) {
		fail(rd, "%s:%u: longer than %d characters without its comment (the most the INI parser takes)",
		     s->path, s->line, num - 3);
		return 0;
	}
	snprintf(out, (size_t)num, "%s%s\n", line, *bare ? "=1" : "");
	return 1;
}

/* inih's reader: the next line to parse, or NULL at the end of the job file or after an error. */
static char *serve(char *out, int num, void *stream)
{
	struct reader *rd = stream;

	while (!rd->err && rd->depth) {
		struct source *s = &rd->stack[rd->depth - 1];
		ssize_t n = getline(&rd->raw, &rd->rawcap, s->f);
		int bare = 0;

		if (n < 0) {
			if (ferror(s->f)) {
				fail(rd, "%s: cannot read: %s", s->path, strerror(errno));
				break;
			}
			pop(rd);
			continue;
		}
		s->line++;
		if (memchr(rd->raw, '\0', (size_t)n)) {
			fail(rd, "%s:%u: a NUL byte (accepts a text file)", s->path, s->line);
			break;
		}
		if (!make_line(rd, rd->raw, out, num, &bare))
			continue;
		if (rd->nserved == rd->cap) {
			size_t cap = rd->cap ? 2 * rd->cap : 64;
			struct served *sv = realloc(rd->served, cap * sizeof(*sv));

			if (!sv) {
				oom(rd);
				break;
			}
			rd->served = sv;
			rd->cap = cap;
		}
		rd->served[rd->nserved++] = (struct served){ s->path, s->line, bare };
		return out;
	}
	return NULL;
}

/* inih's handler: one key=value of the section last served. 1 to go on, 0 on an error. */
static int take(void *user, const char *section_name, const char *name, const char *value)
{
	struct reader *rd = user;
	const struct served *at = &rd->served[rd->nserved - 1];
	struct iolens__fio_section *sec = &rd->doc->secs[rd->doc->nsecs - 1];
	struct iolens__fio_opt *o;

	(void)section_name; /* the reader keeps the sections: inih skips empty ones */
	if (strchr(value, '$')) {
		fail(rd, "%s:%u: %s: '%s' names a variable ($VAR, ${VAR}, $ncpus...): not supported yet (write the value out)",
		     at->file, at->line, name, value);
		return 0;
	}
	if (sec->nopts == sec->cap) {
		size_t cap = sec->cap ? 2 * sec->cap : 8;
		struct iolens__fio_opt *opts = realloc(sec->opts, cap * sizeof(*opts));

		if (!opts)
			return oom(rd), 0;
		sec->opts = opts;
		sec->cap = cap;
	}
	o = &sec->opts[sec->nopts];
	o->key = strdup(name);
	o->value = strdup(value);
	o->file = at->file;
	o->line = at->line;
	o->bare = at->bare;
	if (!o->key || !o->value) {
		free(o->key);
		free(o->value);
		return oom(rd), 0;
	}
	sec->nopts++;
	return 1;
}

int iolens__fio_read(const char *path, struct iolens__fio_doc *doc)
{
	struct reader rd = { .doc = doc };
	int r;

	memset(doc, 0, sizeof(*doc));
	if (strlen(path) >= 4096)
		return iolens__usage("--fio-job: a path longer than 4095 characters");
	if (push(&rd, path, NULL, 0))
		return rd.err;
	r = ini_parse_stream(serve, &rd, take, &rd);
	while (rd.depth)
		pop(&rd);
	if (!rd.err && r > 0 && (size_t)r <= rd.nserved)
		fail(&rd, "%s:%u: not a line of a job file", rd.served[r - 1].file,
		     rd.served[r - 1].line);
	else if (!rd.err && r)
		oom(&rd);
	else if (!rd.err && !doc->nsecs)
		fail(&rd, "%s: no job in it (accepts a fio job file: [name] sections of key=value lines)",
		     path);
	free(rd.served);
	free(rd.raw);
	return rd.err;
}

void iolens__fio_doc_free(struct iolens__fio_doc *doc)
{
	for (size_t i = 0; i < doc->nsecs; i++) {
		for (size_t j = 0; j < doc->secs[i].nopts; j++) {
			free(doc->secs[i].opts[j].key);
			free(doc->secs[i].opts[j].value);
		}
		free(doc->secs[i].opts);
		free(doc->secs[i].name);
	}
	free(doc->secs);
	for (size_t i = 0; i < doc->nfiles; i++)
		free(doc->files[i]);
	free(doc->files);
	memset(doc, 0, sizeof(*doc));
}
