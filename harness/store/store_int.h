/* What the store's own files share (store.c, record.c, and the commands that read it). */
#ifndef IOLENS_STORE_INT_H
#define IOLENS_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

struct iolens__store {
	sqlite3 *db;
	char path[]; /* as opened, for messages */
};

/* rc as a negative errno: SQLITE_FULL -ENOSPC, READONLY -EROFS, CORRUPT/NOTADB -EIO, ... */
int iolens__store_errno(int rc);

/* One line in err naming the file and what failed ("corrupt ... refused" for a bad file). */
int iolens__store_fail(struct iolens__store *s, int rc, char *err, size_t errlen, const char *what);

/* sqlite3_exec, the failure said as iolens__store_fail says it. */
int iolens__store_exec(struct iolens__store *s, const char *sql, char *err, size_t errlen,
		       const char *what);

#endif
