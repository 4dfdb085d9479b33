/* iolens list: every backend, available or not, with its declared model. */
#include <stdio.h>

#include "cli_list.h"
#include "iolens/iolens.h"

int iolens__cli_list(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);

	printf("%-10s %-10s %-32s %s\n", "backend", "available", "model (declared)", "notes");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %-10s %-32s %s\n", b[i].name, b[i].available ? "yes" : "no",
		       b[i].model, b[i].available ? b[i].summary : b[i].reason);
	return 0;
}
