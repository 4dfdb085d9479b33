/* The results directory the commands that write one share (compare, demo). */
#ifndef IOLENS_CLI_RESULTS_H
#define IOLENS_CLI_RESULTS_H

/* mkdir -p for a relative or absolute path: 0 or -errno (errno is left set). */
int iolens__mkdirs(const char *path);

/*
 * Draw the plots of DIR/results.json into DIR with the repository's
 * scripts/plot.py, if this build can find it and Debian's python3; prints
 * one line saying where they are, or why there are none.
 */
void iolens__plots(const char *dir);

#endif
