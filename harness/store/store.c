/*
 * Opening the results database: where it is, what may open it, and the
 * rules that keep a user's results safe. A file that is not an iolens
 * database, a corrupt one, or one from a newer iolens is refused with its
 * name and left as it is; an older one is migrated in one transaction.
 * Writers share the file through WAL and wait for each other (busy timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "schema.h"
#include "store.h"
#include "store_int.h"

#define BUSY_TIMEOUT_MS 10000

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

/*
 * A missing file needs a directory it can be made in, and so do the WAL and
 * shared-memory files beside it: SQLite's own message for that would not
 * say why (a read-only filesystem, a directory not ours).
 */
static int can_create(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return access(dir, W_OK) ? -errno : 0;
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
 * Whether the file is one this iolens may use: 0 with its version in *version
 * (0 for a new, empty file), or a negative errno with the reason in err.
 * Only reads: a refused file is left exactly as it was.
 */
static int check_file(struct iolens__store *s, int readonly, long long *version, char *err,
		      size_t errlen)
{
	long long app = pragma_int(s, "PRAGMA application_id", err, errlen), tables;

	*version = app < 0 ? app : pragma_int(s, "PRAGMA user_version", err, errlen);
	tables = *version < 0 ? *version : pragma_int(s, "SELECT count(*) FROM sqlite_master", err,
						      errlen);
	if (tables < 0)
		return (int)tables;
	if (tables && app != IOLENS__STORE_APP_ID) {
		snprintf(err, errlen, "%s: not an iolens results database (refused; the file is left as it is)",
			 s->path);
		return -ENOTSUP;
	}
	if (*version > (long long)iolens__schema_nsteps) {
		snprintf(err, errlen, "%s: schema version %lld is newer than this iolens's (%u): refused; "
			 "use a newer iolens or another --db", s->path, *version, iolens__schema_nsteps);
		return -ENOTSUP;
	}
	if (readonly && *version < (long long)iolens__schema_nsteps) {
		snprintf(err, errlen, "%s: %s", s->path,
			 tables ? "an older schema: record a run with this iolens to migrate it"
				: "no results recorded yet");
		return tables ? -ENOTSUP : -ENOENT;
	}
	return 0;
}

/*
 * Create or migrate to our version, under BEGIN IMMEDIATE and checked again
 * there, so two first runs at once do not both create the tables.
 */
static int settle_schema(struct iolens__store *s, char *err, size_t errlen)
{
	long long version;
	char sql[96];
	int e = iolens__store_exec(s, "BEGIN IMMEDIATE", err, errlen, "cannot lock it");

	if (!e)
		e = check_file(s, 0, &version, err, errlen);
	for (unsigned v = (unsigned)(version < 0 ? 0 : version); !e && v < iolens__schema_nsteps; v++)
		e = iolens__store_exec(s, iolens__schema_steps[v], err, errlen, "cannot create its tables");
	if (!e && version < (long long)iolens__schema_nsteps) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %u",
			 IOLENS__STORE_APP_ID, iolens__schema_nsteps);
		e = iolens__store_exec(s, sql, err, errlen, "cannot set its version");
	}
	if (e)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else
		e = iolens__store_exec(s, "COMMIT", err, errlen, "cannot write it");
	return e;
}

/* Whether the file is in WAL mode already (asking takes no lock of its own). */
static int in_wal(struct iolens__store *s)
{
	sqlite3_stmt *st;
	int wal = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	return wal;
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

/* Before SQLite sees the path: a file of ours, or one we may create, and its directory. */
static int check_path(const char *path, int readonly, char *err, size_t errlen)
{
	int ok = looks_like_sqlite(path), e;

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
	if (readonly)
		return 0;
	if ((e = make_parent(path))) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-e));
		return e;
	}
	if ((e = can_create(path)))
		snprintf(err, errlen, "%s: cannot create it: %s", path, strerror(-e));
	return e;
}

/*
 * Check the file, switch it to WAL and create or migrate its schema: 0, or a
 * negative errno with err (-EBUSY: another process had it, try again).
 */
static int set_up(struct iolens__store *s, int readonly, char *err, size_t errlen)
{
	long long version = 0;
	int e;

	/*
	 * Checked before anything is written: WAL mode alone rewrites the file's
	 * header. One read transaction, so the three reads see one state of a file
	 * another first run may be creating at this moment.
	 */
	e = iolens__store_exec(s, "BEGIN", err, errlen, "cannot read it");
	if (!e) {
		e = check_file(s, readonly, &version, err, errlen);
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	}
	/* Once in WAL mode a file stays so: only a new one needs the switch. */
	if (!e && !readonly && !in_wal(s))
		e = iolens__store_exec(s, "PRAGMA journal_mode = WAL", err, errlen, "cannot open it");
	if (!e)
		e = iolens__store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err,
				       errlen, "cannot open it");
	if (!e && !readonly && version < (long long)iolens__schema_nsteps)
		e = settle_schema(s, err, errlen);
	return e;
}

int iolens__store_open(struct iolens__store **out, const char *path, int readonly, char *err,
		       size_t errlen)
{
	struct iolens__store *s;
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int e, rc;

	*out = NULL;
	if (strcmp(path, ":memory:") && (e = check_path(path, readonly, err, errlen)))
		return e;
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
	/*
	 * Several first runs at once on a new file: the switch to WAL needs the
	 * file to itself, and SQLite answers it "busy" at once rather than
	 * waiting, so the set-up is tried again within the busy timeout.
	 */
	for (int waited_ms = 0;; waited_ms += 20) {
		e = set_up(s, readonly, err, errlen);
		if (e != -EBUSY || waited_ms >= BUSY_TIMEOUT_MS)
			break;
		usleep(20000);
	}
	if (e) {
		iolens__store_close(s);
		return e;
	}
	*out = s;
	return 0;
}

int iolens__store_open_at(const char *db, int readonly, struct iolens__store **s, char *path,
			  size_t len, char *err, size_t errlen)
{
	struct iolens__store_args a = { .db = db };
	int e = iolens__store_path(&a, path, len);

	*s = NULL;
	if (e) {
		snprintf(err, errlen, "%s (give --db or set IOLENS_DB)",
			 e == -ENOENT ? "no HOME to find it under" : "its path is too long");
		return e;
	}
	return iolens__store_open(s, path, readonly, err, errlen);
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
