#include <stdio.h>

#include "cli_usage.h"

int iolens__vusage(const char *fmt, va_list ap)
{
	fputs("iolens: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return 2;
}

int iolens__usage(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = iolens__vusage(fmt, ap);
	va_end(ap);
	return r;
}
