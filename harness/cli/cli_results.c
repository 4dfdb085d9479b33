/* The results directory: creating it, and drawing the plots into it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_results.h"
#include "cli_output.h"
#include "cli_usage.h"
#include "iolens/iolens.h"
#include "iolens_config.h"

/*
 * mkdir -p: 0 or -errno. made gets the topmost directory it created ("" when
 * none), so a run that ends with nothing to show can take them away again.
 */
static int mkdirs(const char *path, char *made, size_t len)
{
	char buf[4096];

	made[0] = '\0';
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		int last = !*p;

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (!mkdir(buf, 0777)) {
			if (!made[0])
				snprintf(made, len, "%s", buf);
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

/* Remove the directories mkdirs made for dir, deepest first, if they are still empty. */
static void unmake(const char *dir, const char *made)
{
	char buf[4096];
	size_t top = strlen(made);

	if (!made[0])
		return;
	snprintf(buf, sizeof(buf), "%s", dir);
	while (strlen(buf) >= top) {
		char *slash = strrchr(buf, '/');

		if (rmdir(buf) || !slash)
			break;
		*slash = '\0';
	}
}

static volatile int stop_flag;

void iolens__plots(const char *dir)
{
	char script[4096], json[4200];
	int st = 0, stopped_child = 0;
	pid_t pid;

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
	/* A stop asked for while it draws stops it too: nothing outlives iolens. */
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		if (stop_flag && !stopped_child) {
			kill(pid, SIGTERM);
			stopped_child = 1;
		}
	}
	if (stopped_child)
		printf("plots: stopped by the signal (the results are complete; some plots may be missing)\n");
	else if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		printf("plots: plot.py failed; the results are there without them\n");
	else
		printf("plots: %s\n", dir);
}

/* results/<prefix><UTC time>, made new: a second run in the same second gets -2, -3, ... */
static int default_dir(struct iolens__results *r, const char *prefix)
{
	char stamp[32], base[96];
	time_t now = time(NULL);
	struct tm tm;
	int e;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(base, sizeof(base), "results/%s%s", prefix, stamp);
	e = mkdirs("results", r->made, sizeof(r->made));
	for (unsigned i = 1; !e && i < 1000; i++) {
		if (i == 1)
			snprintf(r->dir, sizeof(r->dir), "%s", base);
		else
			snprintf(r->dir, sizeof(r->dir), "%s-%u", base, i);
		if (!mkdir(r->dir, 0777)) {
			if (!r->made[0])
				snprintf(r->made, sizeof(r->made), "%s", r->dir);
			return 0;
		}
		if (errno != EEXIST)
			e = -errno;
	}
	return e ? e : -EEXIST;
}

int iolens__results_open(struct iolens__results *r, const char *given, const char *prefix)
{
	struct stat st;
	int e;

	memset(r, 0, sizeof(*r));
	if (given && !*given)
		return iolens__usage("--out: empty path (accepts a directory)");
	if (given && (size_t)snprintf(r->dir, sizeof(r->dir), "%s", given) >= sizeof(r->dir))
		return iolens__usage("--out: '%s' is too long (accepts a directory)", given);
	if (given && !stat(given, &st) && !S_ISDIR(st.st_mode))
		return iolens__usage("--out: '%s' exists and is not a directory (accepts a directory)", given);
	e = given ? mkdirs(given, r->made, sizeof(r->made)) : default_dir(r, prefix);
	if (e) {
		unmake(r->dir, r->made);
		return iolens__usage("--out: cannot create '%s': %s (accepts a directory)",
				     given ? given : "results/", strerror(-e));
	}
	r->json.no_replace = r->csv.no_replace = 1;
	snprintf(r->json_path, sizeof(r->json_path), "%s/results.json", r->dir);
	snprintf(r->csv_path, sizeof(r->csv_path), "%s/results.csv", r->dir);
	e = iolens__output_open(&r->json, "--out", r->json_path);
	if (!e)
		e = iolens__output_open(&r->csv, "--out", r->csv_path);
	if (e)
		iolens__results_discard(r);
	return e;
}

void iolens__results_discard(struct iolens__results *r)
{
	iolens__output_discard(&r->json);
	iolens__output_discard(&r->csv);
	unmake(r->dir, r->made);
	r->made[0] = '\0';
}

int iolens__results_write(struct iolens__results *r, const struct iolens_meta *meta,
			  struct iolens_result *const *res, size_t n, double seconds)
{
	int jf = 0, cf;

	errno = 0;
	if (iolens_json_document(r->json.f, meta, res, n))
		jf = iolens__output_abandon(&r->json);
	jf |= iolens__output_finish(&r->json);
	iolens__csv_write(r->csv.f, res, n);
	cf = iolens__output_finish(&r->csv);
	if (jf && cf)
		printf("\nresults: none written (see above)\n");
	else
		printf("\nresults: %s%s%s (%.0f s)\n", jf ? "" : r->json.path, jf || cf ? "" : ", ",
		       cf ? "" : r->csv.path, seconds);
	r->json_written = !jf;
	if (jf && cf)
		unmake(r->dir, r->made);
	return jf || cf;
}

char *iolens__table_show(struct iolens_result *const *res, size_t n, unsigned flags, FILE *show)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		iolens_table(f, res, n, flags);
		if (fclose(f)) {
			free(text);
			text = NULL;
		}
	}
	if (show && text)
		fputs(text, show);
	else if (show)
		iolens_table(show, res, n, flags);
	return text;
}

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
