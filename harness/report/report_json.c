#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist.h"
#include "iolens/iolens.h"
#include "iolens_config.h"
#include "report.h"
#include "verdict.h"

struct json {
	FILE *f;
	int depth;
	int outdent;   /* 2 for a result on its own: its braces start the line */
	int first[16]; /* no member written yet at this depth */
};

void iolens__json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void iolens_json_string(FILE *f, const char *s)
{
	iolens__json_string(f, s);
}

static void key(struct json *j, const char *k)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	if (j->depth || !j->outdent)
		fprintf(j->f, "\n%*s", 2 * (j->depth + 1) - j->outdent, "");
	if (k) {
		iolens__json_string(j->f, k);
		fputs(": ", j->f);
	}
}

static void number(FILE *f, double x)
{
	if (isnan(x) || isinf(x))
		fputs("null", f);
	else
		iolens__report_number(f, x);
}

static void j_begin(void *v, const char *k)
{
	struct json *j = v;

	key(j, k);
	fputc('{', j->f);
	j->first[++j->depth] = 1;
}

static void j_end(void *v)
{
	struct json *j = v;

	j->depth--;
	fprintf(j->f, "\n%*s}", 2 * (j->depth + 1) - j->outdent, "");
}

static void j_num(void *v, const char *k, double x)
{
	struct json *j = v;

	key(j, k);
	number(j->f, x);
}

static void j_str(void *v, const char *k, const char *s)
{
	struct json *j = v;

	key(j, k);
	if (s)
		iolens__json_string(j->f, s);
	else
		fputs("null", j->f);
}

static void j_bool(void *v, const char *k, int b)
{
	struct json *j = v;

	key(j, k);
	fputs(b ? "true" : "false", j->f);
}

static void j_hist(void *v, const char *k, const struct iolens_hist *h)
{
	struct json *j = v;
	uint64_t lo, hi, count;
	size_t cur = 0;
	int first = 1;

	key(j, k);
	if (!h) {
		fputs("null", j->f);
		return;
	}
	fprintf(j->f, "{\"unit\": \"ns\", \"relative_error\": %.6g, \"buckets\": [",
		IOLENS_HIST_REL_ERROR);
	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		fprintf(j->f, "%s[%llu, %llu, %llu]", first ? "" : ", ", (unsigned long long)lo,
			(unsigned long long)hi, (unsigned long long)count);
		first = 0;
	}
	fputs("]}", j->f);
}

/* [submit_ns, complete_ns, kind, inline, job] per traced op; null when not asked. */
static void j_trace(void *v, const char *k, const struct iolens_result *r)
{
	static const char *const kinds[] = { "read", "write", "fsync", "send", "recv", "accept",
					     "connect" };
	struct json *j = v;

	key(j, k);
	if (!r->workload.trace) {
		fputs("null", j->f);
		return;
	}
	fputs("{\"unit\": \"ns from the window's start\", \"fields\": [\"submit\", \"complete\", \"kind\", \"inline\", \"job\", \"offset\", \"len\"], \"ops\": [",
	      j->f);
	for (size_t i = 0; i < r->ntrace; i++) {
		const struct iolens_trace_op *t = &r->trace[i];

		fprintf(j->f, "%s[%llu, %llu, \"%s\", %s, %u, ", i ? ", " : "",
			(unsigned long long)t->submit_ns, (unsigned long long)t->complete_ns,
			t->kind < IOLENS_OP__COUNT ? kinds[t->kind] : "?",
			(t->flags & IOLENS_OPF_INLINE) ? "true" : "false", t->job);
		if (IOLENS_WL_IS_SOCKET(r->workload.kind)) /* no offset on a socket */
			fprintf(j->f, "null, %u]", t->len);
		else
			fprintf(j->f, "%llu, %u]", (unsigned long long)t->offset, t->len);
	}
	fputs("]}", j->f);
}

static const struct iolens__visitor json_visitor = {
	.trace = j_trace,
	.begin = j_begin,
	.end = j_end,
	.num = j_num,
	.str = j_str,
	.boolean = j_bool,
	.hist = j_hist,
};

static void result_object(struct json *j, const struct iolens_result *r)
{
	j_begin(j, NULL);
	iolens__report_walk(r, &json_visitor, j);
	j_end(j);
}

int iolens_result_json(FILE *f, const struct iolens_result *r)
{
	struct json j = { .f = f, .depth = 0, .outdent = 2, .first = { 1 } };

	result_object(&j, r);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

int iolens_result_json_text(const struct iolens_result *r, char **text, size_t *len)
{
	size_t n = 0;
	FILE *f = open_memstream(text, &n);
	int err;

	if (!f) {
		*text = NULL;
		return -ENOMEM;
	}
	err = iolens_result_json(f, r);
	if (fclose(f) || err) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	if (len)
		*len = n;
	return 0;
}

/*
 * "verdict": one object per run of consecutive results of the same
 * workload (a compare cell, a run): the best backends' labels and the
 * sentences, with the indices of its results in "results" (result_indices).
 */
static void verdict_array(struct json *j, struct iolens_result *const *rs, size_t n)
{
	struct iolens_verdict v;
	char label[160];
	const int *best[3] = { &v.most_iops, &v.lowest_p99, &v.least_cpu_per_op };
	static const char *const keys[3] = { "most_iops", "lowest_p99", "least_cpu_per_op" };

	key(j, "verdict");
	fputc('[', j->f);
	j->first[++j->depth] = 1;
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && iolens__verdict_same_workload(rs[a], rs[b]); b++)
			;
		if (iolens_verdict(rs + a, b - a, &v))
			continue;
		j_begin(j, NULL);
		j_str(j, "workload", iolens_workload_name(rs[a]->workload.kind));
		key(j, "result_indices");
		for (size_t i = a; i < b; i++)
			fprintf(j->f, "%s%zu", i == a ? "[" : ", ", i);
		fputc(']', j->f);
		for (int k = 0; k < 3; k++) {
			if (*best[k] >= 0)
				iolens__result_label(rs[a + (size_t)*best[k]], label,
						      sizeof(label));
			j_str(j, keys[k], *best[k] >= 0 ? label : NULL);
		}
		key(j, "sentences");
		fputc('[', j->f);
		j->first[++j->depth] = 1;
		for (unsigned i = 0; i < v.nsentences; i++) {
			key(j, NULL);
			iolens__json_string(j->f, v.sentences[i]);
		}
		j->depth--;
		fprintf(j->f, "\n%*s]", 2 * (j->depth + 1), "");
		j_end(j);
	}
	j->depth--;
	fprintf(j->f, "\n%*s]", 2 * (j->depth + 1), "");
}

int iolens_json_document(FILE *f, const struct iolens_meta *m, struct iolens_result *const *rs,
			 size_t n)
{
	struct json j = { .f = f, .depth = 0, .first = { 1 } };

	if (!f || !m || !iolens__results_valid(rs, n))
		return -EINVAL;
	fputc('{', f);
	j_str(&j, "schema", "iolens/1");
	j_begin(&j, "meta");
	j_str(&j, "iolens_version", iolens_version());
	j_str(&j, "kernel", m->kernel);
	j_str(&j, "cpu_model", m->cpu_model);
	j_num(&j, "cores", m->cores);
	j_str(&j, "hostname", m->hostname);
	j_str(&j, "liburing_version", IOLENS_HAVE_LIBURING ? IOLENS_LIBURING_VERSION : NULL);
	j_str(&j, "libaio_version", IOLENS_HAVE_LIBAIO ? IOLENS_LIBAIO_VERSION : NULL);
	j_str(&j, "command_line", m->command_line);
	j_str(&j, "start_time", m->start_time);
	j_bool(&j, "interrupted", m->interrupted);
	j_end(&j);
	verdict_array(&j, rs, n);
	key(&j, "results");
	fputc('[', f);
	j.first[++j.depth] = 1;
	for (size_t i = 0; i < n; i++)
		result_object(&j, rs[i]);
	j.depth--;
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -EIO : 0;
}
