/* iolens import: another tool's results recorded in the results database (see cli_import.c). */
#ifndef IOLENS_CLI_IMPORT_H
#define IOLENS_CLI_IMPORT_H

/* argv[0] is "import"; returns the exit status. */
int iolens__cli_import(int argc, char **argv, const char *cmdline);

#endif
