/* The options of the commands that record (--db, --no-db, --label), parsed and checked. */
#include <ctype.h>
#include <string.h>

#include "cli_store.h"
#include "cli_usage.h"
#include "store.h"

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
