/* iolens list (see cli_list.c). */
#ifndef IOLENS_CLI_LIST_H
#define IOLENS_CLI_LIST_H

/* Print the backends; returns the exit status. */
int iolens__cli_list(void);

#endif
