/* Where the results database is: apart from the database, so the option parsers need no SQLite. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

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
