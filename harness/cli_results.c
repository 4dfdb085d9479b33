/* The results directory: creating it, and drawing the plots into it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_results.h"
#include "iolens_config.h"

int iolens__mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0777) && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(buf, 0777) && errno != EEXIST ? -errno : 0;
}

void iolens__plots(const char *dir)
{
	char script[4096], json[4200];
	pid_t pid;
	int st;

	snprintf(script, sizeof(script), "%s/scripts/plot.py", IOLENS_SOURCE_DIR);
	snprintf(json, sizeof(json), "%s/results.json", dir);
	if (access(script, R_OK) || access("/usr/bin/python3", X_OK)) {
		printf("plots: not drawn (needs %s and /usr/bin/python3)\n", script);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--out", dir, json, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		printf("plots: plot.py failed; the results are there without them\n");
	else
		printf("plots: %s\n", dir);
}
