/* iolens compare: the default comparison (see cli_compare.c). */
#ifndef IOLENS_CLI_COMPARE_H
#define IOLENS_CLI_COMPARE_H

/* argv[0] is "compare"; returns the exit status. */
int iolens__cli_compare(int argc, char **argv, const char *cmdline);

#endif
