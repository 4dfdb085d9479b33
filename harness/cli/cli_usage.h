/* The commands' one-line usage errors (CLI only: the library never prints). */
#ifndef IOLENS_CLI_USAGE_H
#define IOLENS_CLI_USAGE_H

#include <stdarg.h>

/* Print "iolens: " and the message on one line to stderr; return 2, the usage exit status. */
int iolens__usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int iolens__vusage(const char *fmt, va_list ap);

/* The command line as one string, words joined by spaces (for meta.command_line); NULL if out of memory. */
char *iolens__join_args(int argc, char **argv);

#endif
