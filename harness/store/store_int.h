/* What the store's own files share (store.c, record.c, and the commands that read it). */
#ifndef IOLENS_STORE_INT_H
#define IOLENS_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

struct iolens__store {
	sqlite3 *db;
	char path[]; /* as opened, for messages */
};

/*
 * The parameters two results must share to be paired by diff, whatever tool
 * or option set made them: an SQL expression over a workload object p (the
 * JSON "workload" of a result, or an import's equivalent with the same key
 * names). The pair hash is iolens_hash(this || '|' || backend); the
 * comparison hash covers the tool, every parameter and the options.
 */
#define IOLENS__PAIR_KEY_SQL(p) \
	"json_object(" \
	"'name', json_extract(" p ", '$.name'), " \
	"'rwmix', json_extract(" p ", '$.rwmix'), " \
	"'bs', json_extract(" p ", '$.bs'), " \
	"'size', json_extract(" p ", '$.size'), " \
	"'direct', json_extract(" p ", '$.direct'), " \
	"'depth', json_extract(" p ", '$.depth'), " \
	"'jobs', json_extract(" p ", '$.jobs'), " \
	"'conns', json_extract(" p ", '$.conns'), " \
	"'msg', json_extract(" p ", '$.msg'), " \
	"'transport', json_extract(" p ", '$.transport'), " \
	"'rate', json_extract(" p ", '$.rate'))"

/* rc as a negative errno: SQLITE_FULL -ENOSPC, READONLY -EROFS, CORRUPT/NOTADB -EIO, ... */
int iolens__store_errno(int rc);

/* One line in err naming the file and what failed ("corrupt ... refused" for a bad file). */
int iolens__store_fail(struct iolens__store *s, int rc, char *err, size_t errlen, const char *what);

/* sqlite3_exec, the failure said as iolens__store_fail says it. */
int iolens__store_exec(struct iolens__store *s, const char *sql, char *err, size_t errlen,
		       const char *what);

#endif
