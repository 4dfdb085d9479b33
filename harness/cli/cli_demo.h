/* iolens demo: three lessons around real measurements (see cli_demo.c). */
#ifndef IOLENS_CLI_DEMO_H
#define IOLENS_CLI_DEMO_H

/* argv[0] is "demo"; returns the exit status. */
int iolens__cli_demo(int argc, char **argv, const char *cmdline);

#endif
