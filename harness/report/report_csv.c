#include <errno.h>
#include <math.h>
#include <string.h>

#include "report.h"

/* Column names are the JSON keys joined by '_': latency_ns_p50, cpu_user_s, ... */
struct csv {
	FILE *f;
	int header;
	int first;
	char prefix[128];
	size_t mark[8]; /* prefix length before each open object */
	int depth;
};

static void cell(struct csv *c, const char *k)
{
	if (!c->first)
		fputc(',', c->f);
	c->first = 0;
	if (c->header)
		fprintf(c->f, "%s%s", c->prefix, k);
}

static void c_begin(void *v, const char *k)
{
	struct csv *c = v;
	size_t len = strlen(c->prefix);

	c->mark[c->depth++] = len;
	snprintf(c->prefix + len, sizeof(c->prefix) - len, "%s_", k);
}

static void c_end(void *v)
{
	struct csv *c = v;

	c->prefix[c->mark[--c->depth]] = '\0';
}

static void c_num(void *v, const char *k, double x)
{
	struct csv *c = v;

	cell(c, k);
	if (c->header || isnan(x))
		return;
	iolens__report_number(c->f, x);
}

static void c_str(void *v, const char *k, const char *s)
{
	struct csv *c = v;

	cell(c, k);
	if (c->header || !s)
		return;
	if (strpbrk(s, ",\"\n")) {
		fputc('"', c->f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', c->f);
			fputc(*s, c->f);
		}
		fputc('"', c->f);
	} else {
		fputs(s, c->f);
	}
}

static void c_bool(void *v, const char *k, int b)
{
	struct csv *c = v;

	cell(c, k);
	if (!c->header)
		fputs(b ? "true" : "false", c->f);
}

static const struct iolens__visitor csv_visitor = {
	.begin = c_begin,
	.end = c_end,
	.num = c_num,
	.str = c_str,
	.boolean = c_bool,
};

static int line(FILE *f, const struct iolens_result *r, int header)
{
	struct csv c = { .f = f, .header = header, .first = 1 };

	iolens__report_walk(r, &csv_visitor, &c);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

int iolens_csv_header(FILE *f)
{
	static const struct iolens_result blank;

	return line(f, &blank, 1);
}

int iolens_csv_row(FILE *f, const struct iolens_result *r)
{
	return line(f, r, 0);
}
