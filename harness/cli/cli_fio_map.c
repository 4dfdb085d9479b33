/*
 * A fio job file as iolens workloads: the options fio applies to each job
 * (every [global] above it, then its own section, later lines winning), the
 * groups stonewall makes, and what iolens refuses. The options are known by
 * name in one table; an option fio has that iolens cannot run yet has its
 * reason there, so lifting one is a matter of deleting the reason and
 * mapping the value (cli_fio_job.c maps one job).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fio.h"
#include "cli_fio_job.h"
#include "cli_usage.h"

const struct iolens__fio_key iolens__fio_keys[K__COUNT] = {
	[K_RW] = { "rw", "readwrite", 0, { NULL }, NULL },
	[K_RWMIXREAD] = { "rwmixread", NULL, 0, { "rwmix" }, NULL },
	[K_RWMIXWRITE] = { "rwmixwrite", NULL, 0, { "rwmix" }, NULL },
	[K_BS] = { "bs", "blocksize", 0, { "bs" }, NULL },
	[K_BSRANGE] = { "bsrange", "blocksize_range", 0, { "bs" },
			"iolens runs one block size per job" },
	[K_BSSPLIT] = { "bssplit", NULL, 0, { "bs" }, "iolens runs one block size per job" },
	[K_SIZE] = { "size", NULL, 0, { "size", "time", "ops" }, NULL },
	[K_FILENAME] = { "filename", NULL, 0, { "file" }, NULL },
	[K_DIRECTORY] = { "directory", NULL, 0, { "file" }, NULL },
	[K_NRFILES] = { "nrfiles", NULL, 0, { NULL }, NULL },
	[K_DIRECT] = { "direct", NULL, 0, { "direct" }, NULL },
	[K_BUFFERED] = { "buffered", NULL, 0, { "direct" }, NULL },
	[K_IODEPTH] = { "iodepth", NULL, 0, { "depth" }, NULL },
	[K_NUMJOBS] = { "numjobs", NULL, 0, { "jobs" }, NULL },
	[K_RUNTIME] = { "runtime", NULL, 0, { "time", "ops" }, NULL },
	[K_TIME_BASED] = { "time_based", NULL, 1, { "time", "ops" }, NULL },
	[K_RAMP_TIME] = { "ramp_time", NULL, 0, { "warmup" }, NULL },
	[K_RATE] = { "rate", NULL, 0, { "rate" }, NULL },
	[K_RATE_IOPS] = { "rate_iops", NULL, 0, { "rate" }, NULL },
	[K_RATE_PROCESS] = { "rate_process", NULL, 0, { "rate" }, NULL },
	[K_FSYNC] = { "fsync", NULL, 0, { "fsync" }, NULL },
	[K_FDATASYNC] = { "fdatasync", NULL, 0, { NULL },
			  "iolens syncs with fsync=N, not fdatasync" },
	[K_VERIFY] = { "verify", NULL, 0, { "verify" }, NULL },
	[K_RANDSEED] = { "randseed", NULL, 0, { "seed" }, NULL },
	[K_RANDOM_DISTRIBUTION] = { "random_distribution", NULL, 0, { "distribution" }, NULL },
	[K_THINKTIME] = { "thinktime", NULL, 0, { NULL },
			  "iolens thinks only in the socket workloads, with --think" },
	[K_STONEWALL] = { "stonewall", "wait_for_previous", 1, { NULL }, NULL },
	[K_IOENGINE] = { "ioengine", NULL, 0, { NULL }, NULL },
	[K_KB_BASE] = { "kb_base", NULL, 0, { NULL }, NULL },
};

/* The key an option line names, or -1 for one iolens does not know. */
static int key_of(const char *name)
{
	for (int k = 0; k < K__COUNT; k++)
		if (!strcmp(name, iolens__fio_keys[k].name) ||
		    (iolens__fio_keys[k].alias && !strcmp(name, iolens__fio_keys[k].alias)))
			return k;
	return -1;
}

/* An option iolens does not know: refused, or with --fio-lenient listed for the warning. */
static int unknown(struct iolens__fio_ctx *c, const struct iolens__fio_opt *o)
{
	size_t used = strlen(c->skipped);

	if (!c->a->fio_lenient)
		return iolens__usage("%s:%u: unknown option '%s' (docs/fio.md lists the fio options iolens takes; --fio-lenient skips the others with a warning)",
				     o->file, o->line, o->key);
	snprintf(c->skipped + used, sizeof(c->skipped) - used, "%s%s (%s:%u)", used ? ", " : "",
		 o->key, o->file, o->line);
	return 0;
}

/* One option line onto a job's (or the defaults') settings: the later line wins. */
static int apply(struct iolens__fio_ctx *c, struct iolens__fio_settings *s,
		 const struct iolens__fio_opt *o)
{
	int k = key_of(o->key);

	if (k < 0)
		return unknown(c, o);
	if (o->bare && !iolens__fio_keys[k].flag)
		return iolens__usage("%s:%u: %s: needs a value (%s=VALUE), as in fio", o->file, o->line,
				     o->key, o->key);
	s->opt[k] = o;
	s->seq[k] = ++c->seq;
	return 0;
}

/* "[a], [b] and [c]": the sections of a group, for the message that refuses it. */
static void group_names(const struct iolens__fio_plan *p, unsigned group, char *out, size_t len)
{
	size_t used = 0, n = 0, total = 0;

	for (size_t i = 0; i < p->njobs; i++)
		total += p->jobs[i].group == group;
	out[0] = '\0';
	for (size_t i = 0; i < p->njobs && used < len; i++) {
		if (p->jobs[i].group != group)
			continue;
		n++;
		used += (size_t)snprintf(out + used, len - used, "%s[%s]",
					 n == 1 ? "" : n == total ? " and " : ", ", p->jobs[i].section);
	}
}

/* fio runs the jobs of a group at once; iolens runs one at a time, so only when told to. */
static int check_groups(const struct iolens__fio_ctx *c, const struct iolens__fio_plan *p)
{
	char names[512];

	for (size_t i = 0; i < p->njobs; i++) {
		unsigned n = 0;

		for (size_t j = 0; j < p->njobs; j++)
			n += p->jobs[j].group == p->jobs[i].group;
		p->jobs[i].in_group = n;
	}
	for (size_t i = 1; i < p->njobs && !c->a->fio_serial; i++) {
		if (p->jobs[i].group != p->jobs[i - 1].group)
			continue;
		group_names(p, p->jobs[i].group, names, sizeof(names));
		return iolens__usage("%s:%u: %s run at once in fio (no stonewall between them) and iolens runs one job at a time: put stonewall in [%s], or give --fio-serial to run them one after the other",
				     p->path, p->jobs[i].line, names, p->jobs[i].section);
	}
	return 0;
}

/* The command line's own options against every job: each must apply to one of them. */
static int check_command_line(const struct iolens__fio_ctx *c, const struct iolens__fio_plan *p)
{
	unsigned kinds = 0;
	char names[96], with[4200];
	size_t results = 0;

	for (size_t i = 0; i < p->njobs; i++) {
		kinds |= 1u << p->jobs[i].w.kind;
		results += p->jobs[i].nspecs * c->a->repeat;
	}
	iolens_workload_names(kinds, names, sizeof(names));
	snprintf(with, sizeof(with), "%s, whose jobs are %s", p->path, names);
	if (iolens__run_fits(c->a, kinds, with))
		return 2;
	if (results > IOLENS__MAX_RESULTS)
		return iolens__usage("--fio-job: %zu results (jobs x backends x --repeat) is more than %d (accepts fewer)",
				     results, IOLENS__MAX_RESULTS);
	return 0;
}

/* Every section in order: [global] changes the defaults of the jobs after it. */
static int walk(struct iolens__fio_ctx *c, const struct iolens__fio_doc *doc,
		struct iolens__fio_plan *p)
{
	struct iolens__fio_settings defaults, job;
	int r = 0;

	memset(&defaults, 0, sizeof(defaults));
	for (size_t i = 0; i < doc->nsecs && !r; i++) {
		const struct iolens__fio_section *sec = &doc->secs[i];
		struct iolens__fio_settings *s = sec->global ? &defaults : &job;

		if (!sec->global)
			job = defaults;
		for (size_t j = 0; j < sec->nopts && !r; j++)
			r = apply(c, s, &sec->opts[j]);
		if (!r && !sec->global)
			r = iolens__fio_job_map(c, sec, &job, &p->jobs[p->njobs++]);
	}
	return r;
}

int iolens__fio_plan(const struct iolens__run_args *a, struct iolens__fio_plan *p)
{
	struct iolens__fio_ctx c = { .a = a, .plan = p };
	size_t njobs = 0;
	int r;

	memset(p, 0, sizeof(*p));
	p->path = a->fio_job;
	r = iolens__fio_read(a->fio_job, &c.doc);
	for (size_t i = 0; !r && i < c.doc.nsecs; i++)
		njobs += !c.doc.secs[i].global;
	if (!r && !njobs)
		r = iolens__usage("%s: no job in it, only [global] (accepts a job file with a [name] section)",
				  a->fio_job);
	if (!r && !(p->jobs = calloc(njobs, sizeof(*p->jobs))))
		r = iolens__usage("out of memory reading the job file");
	if (!r)
		r = walk(&c, &c.doc, p);
	if (!r)
		r = check_groups(&c, p);
	if (!r)
		r = check_command_line(&c, p);
	if (!r && c.skipped[0])
		fprintf(stderr, "iolens: warning: skipped options iolens does not know (--fio-lenient): %s\n",
			c.skipped);
	iolens__fio_doc_free(&c.doc);
	return r;
}

void iolens__fio_heading(const struct iolens__fio_plan *p, const struct iolens__fio_job *job,
			 char *out, size_t len)
{
	if (job->in_group > 1)
		snprintf(out, len, "job %s [%s] (group %u of %u: its %u jobs ran one after the other, --fio-serial; fio runs them at once)",
			 p->path, job->section, job->group, p->ngroups, job->in_group);
	else
		snprintf(out, len, "job %s [%s] (group %u of %u)", p->path, job->section, job->group,
			 p->ngroups);
}

void iolens__fio_plan_free(struct iolens__fio_plan *p)
{
	for (size_t i = 0; i < p->njobs; i++) {
		free(p->jobs[i].section);
		free(p->jobs[i].distribution);
		free(p->jobs[i].file);
		free(p->jobs[i].tmpdir);
		free(p->jobs[i].specs[0]);
	}
	free(p->jobs);
	memset(p, 0, sizeof(*p));
}
