/*
 * Opening the results database: where it is, what may open it, and the
 * rules that keep a user's results safe. A file that is not an iolens
 * database, a corrupt one, or one from a newer iolens is refused with its
 * name and left as it is; an older one is migrated in one transaction.
 * Writers share the file through WAL and wait for each other (busy timeout).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_usage.h"
#include "host.h"
#include "schema.h"
#include "store.h"
#include "store_int.h"

#define BUSY_TIMEOUT_MS 10000

int iolens__store_path(const struct iolens__store_args *a, char *out, size_t len)
{
	const char *env = getenv("IOLENS_DB"), *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (a && a->db)
		n = snprintf(out, len, "%s", a->db);
	else if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/iolens/results.db", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.local/share/iolens/results.db", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int iolens__store_check_label(const char *label)
{
	size_t n = strlen(label), digits = strspn(label, "0123456789");

	if (!n || n > 128)
		return iolens__usage("--label: '%.40s' is %s (accepts 1 to 128 printable characters)",
				     label, n ? "too long" : "empty");
	for (const char *p = label; *p; p++)
		if (!isprint((unsigned char)*p))
			return iolens__usage("--label: has a control character (accepts 1 to 128 printable characters)");
	if (digits == n)
		return iolens__usage("--label: '%s' is a number, which names a run id (accepts text with a non-digit)",
				     label);
	return 0;
}

int iolens__store_opt(struct iolens__store_args *a, const char *name, const char *arg)
{
	if (!strcmp(name, "no-db")) {
		a->no_db = 1;
		return 0;
	}
	if (!strcmp(name, "label")) {
		a->label = arg;
		return iolens__store_check_label(arg);
	}
	a->db = arg;
	return *arg ? 0 : iolens__usage("--db: empty (accepts a file path)");
}

int iolens__store_opt_check(const struct iolens__store_args *a)
{
	if (a->no_db && (a->db || a->label))
		return iolens__usage("--no-db: not with --%s (nothing is recorded)",
				     a->db ? "db" : "label");
	return 0;
}

/* The SQLite error as an errno, for the callers' messages and tests. */
int iolens__store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EIO;
	case SQLITE_CANTOPEN:
		return errno ? -errno : -EACCES;
	default:
		return -EIO;
	}
}

int iolens__store_fail(struct iolens__store *s, int rc, char *err, size_t errlen, const char *what)
{
	int code = rc & 0xff;

	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		snprintf(err, errlen, "%s: %s: %s (refused; the file is left as it is)", s->path, what,
			 code == SQLITE_NOTADB ? "not a database" : "corrupt");
	else
		snprintf(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return iolens__store_errno(rc);
}

/* mkdir -p of path's directory (a new one only for the user: results are private). */
static int make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A file that exists must start as every SQLite database does; an empty one is ours to fill. */
static int looks_like_sqlite(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	got = read(fd, head, sizeof(head));
	close(fd);
	if (got == 0)
		return 1;
	return got == (ssize_t)sizeof(head) && !memcmp(head, magic, sizeof(magic));
}

int iolens__store_exec(struct iolens__store *s, const char *sql, char *err, size_t errlen,
		       const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : iolens__store_fail(s, rc, err, errlen, what);
}

/* The integer a one-value PRAGMA returns, or a negative errno. */
static long long pragma_int(struct iolens__store *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long v = 0;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0), rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? v : iolens__store_fail(s, rc, err, errlen, "cannot read it");
}

/*
 * The file's version against ours: create, migrate or refuse. Under BEGIN
 * IMMEDIATE, so two first runs at once do not both create the tables.
 */
static int settle_schema(struct iolens__store *s, int readonly, char *err, size_t errlen)
{
	long long app, version, tables;
	int e;

	if (!readonly && (e = iolens__store_exec(s, "BEGIN IMMEDIATE", err, errlen, "cannot lock it")))
		return e;
	app = pragma_int(s, "PRAGMA application_id", err, errlen);
	version = app < 0 ? app : pragma_int(s, "PRAGMA user_version", err, errlen);
	tables = version < 0 ? version
			     : pragma_int(s, "SELECT count(*) FROM sqlite_master", err, errlen);
	e = tables < 0 ? (int)tables : 0;
	if (!e && (tables ? app != IOLENS__STORE_APP_ID : 0)) {
		snprintf(err, errlen, "%s: not an iolens results database (refused; the file is left as it is)",
			 s->path);
		e = -ENOTSUP;
	} else if (!e && version > (long long)iolens__schema_nsteps) {
		snprintf(err, errlen, "%s: schema version %lld is newer than this iolens's (%u): refused; "
			 "use a newer iolens or another --db", s->path, version, iolens__schema_nsteps);
		e = -ENOTSUP;
	} else if (!e && readonly && version < (long long)iolens__schema_nsteps) {
		snprintf(err, errlen, "%s: %s", s->path,
			 tables ? "an older schema: record a run with this iolens to migrate it"
				: "no results recorded yet");
		e = tables ? -ENOTSUP : -ENOENT;
	}
	for (unsigned v = (unsigned)(version < 0 ? 0 : version);
	     !e && !readonly && v < iolens__schema_nsteps; v++)
		e = iolens__store_exec(s, iolens__schema_steps[v], err, errlen, "cannot create its tables");
	if (!e && !readonly && version < (long long)iolens__schema_nsteps) {
		char sql[96];

		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %u",
			 IOLENS__STORE_APP_ID, iolens__schema_nsteps);
		e = iolens__store_exec(s, sql, err, errlen, "cannot set its version");
	}
	if (!readonly)
		e = e ? (sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL), e)
		      : iolens__store_exec(s, "COMMIT", err, errlen, "cannot write it");
	return e;
}

/* Byte-for-byte the same as FNV-1a in C: the comparison hashes SQL computes. */
static void sql_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *text = sqlite3_value_text(argv[0]);
	char hex[17];

	(void)argc;
	if (!text) {
		sqlite3_result_null(ctx);
		return;
	}
	snprintf(hex, sizeof(hex), "%016llx",
		 (unsigned long long)iolens__hash64((const char *)text, IOLENS__HASH64_SEED));
	sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

int iolens__store_open(struct iolens__store **out, const char *path, int readonly, char *err,
		       size_t errlen)
{
	struct iolens__store *s;
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int e, rc, ok;

	*out = NULL;
	ok = looks_like_sqlite(path);
	if (ok < 0 && !(readonly && ok == -ENOENT)) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ok));
		return ok;
	}
	if (!ok) {
		snprintf(err, errlen, "%s: not a SQLite database (refused; the file is left as it is)", path);
		return -EIO;
	}
	if (readonly && access(path, F_OK)) {
		snprintf(err, errlen, "%s: no results recorded yet (no such file)", path);
		return -ENOENT;
	}
	if (!readonly && (e = make_parent(path))) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-e));
		return e;
	}
	s = calloc(1, sizeof(*s) + strlen(path) + 1);
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	strcpy(s->path, path);
	errno = 0;
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		e = s->db ? iolens__store_fail(s, rc, err, errlen, "cannot open it")
			  : (snprintf(err, errlen, "%s: out of memory", path), -ENOMEM);
		iolens__store_close(s);
		return e;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_create_function(s->db, "iolens_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				sql_hash, NULL, NULL);
	e = readonly ? 0 : iolens__store_exec(s, "PRAGMA journal_mode = WAL", err, errlen, "cannot open it");
	if (!e)
		e = iolens__store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err,
				       errlen, "cannot open it");
	if (!e)
		e = settle_schema(s, readonly, err, errlen);
	if (e) {
		iolens__store_close(s);
		return e;
	}
	*out = s;
	return 0;
}

void iolens__store_close(struct iolens__store *s)
{
	if (!s)
		return;
	sqlite3_close_v2(s->db);
	free(s);
}

void *iolens__store_db(struct iolens__store *s)
{
	return s->db;
}
