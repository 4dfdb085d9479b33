/* The results directory: creating it, and drawing the plots into it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_results.h"
#include "cli_usage.h"
#include "iolens_config.h"
#include "report.h"

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

int iolens__results_dir(char *dir, size_t len, const char *prefix)
{
	if (!dir[0]) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(dir, len, "results/%s%s", prefix, stamp);
	}
	if (iolens__mkdirs(dir))
		return iolens__usage("--out: cannot create '%s': %s", dir, strerror(errno));
	return 0;
}

int iolens__write_results(const char *dir, const struct iolens_meta *meta,
			  struct iolens_result *const *res, size_t n)
{
	char path[4200];
	int failed = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	f = fopen(path, "we");
	if (!f || iolens__json_document(f, meta, res, n) || fclose(f)) {
		fprintf(stderr, "iolens: writing %s: %s\n", path, strerror(errno));
		failed = 1;
	}
	snprintf(path, sizeof(path), "%s/results.csv", dir);
	f = fopen(path, "we");
	if (f) {
		iolens__csv_header(f);
		for (size_t i = 0; i < n; i++)
			iolens__csv_row(f, res[i]);
	}
	if (!f || fclose(f)) {
		fprintf(stderr, "iolens: writing %s: %s\n", path, strerror(errno));
		failed = 1;
	}
	return failed;
}

static volatile int stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile int *iolens__catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_flag;
}
