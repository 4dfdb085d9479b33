/*
 * What the reports say of a result that has no figures: an error, a backend
 * a signal kept from starting, a skip. Every figure is null in the JSON and
 * empty in the CSV, whatever the struct still holds.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "report.h"
#include "spec.h"

/* A result that ran 100 ops at 288997 IOPS before its status was decided. */
static struct iolens_result *with_figures(int status)
{
	struct iolens__spec sp;
	char err[256];
	struct iolens_workload w;
	struct iolens_result *r;

	iolens_workload_init(&w);
	assert_int_equal(iolens__spec_parse("null", &sp, err, sizeof(err)), 0);
	r = iolens__spec_result(&sp, &w, "/tmp/x");
	assert_non_null(r);
	r->status = status;
	snprintf(r->reason, sizeof(r->reason), "verify: block at offset 4096: bad checksum");
	r->ops = 100;
	r->bytes = 409600;
	r->seconds = 0.000346;
	r->iops = 288997;
	r->mib_s = 1128.9;
	r->lat.p50 = 2000;
	r->lat.mean = 2100;
	r->cpu_user_s = 0.001;
	r->vcsw = 3;
	r->threads = 1;
	return r;
}

static char *json_of(struct iolens_result *r)
{
	struct iolens_meta m = { .command_line = "test" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(iolens_json_document(f, &m, &r, 1), 0);
	fclose(f);
	return buf;
}

static void assert_has(const char *doc, const char *what)
{
	if (!strstr(doc, what))
		fail_msg("'%s' not in:\n%s", what, doc);
}

static void no_figures(int status, const char *name)
{
	struct iolens_result *r = with_figures(status);
	char *doc = json_of(r), want[64], *csv = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(want, sizeof(want), "\"status\": \"%s\"", name);
	assert_has(doc, want);
	assert_has(doc, "\"ops\": null");
	assert_has(doc, "\"iops\": null");
	assert_has(doc, "\"mib_s\": null");
	assert_has(doc, "\"seconds\": null");
	assert_has(doc, "\"p50\": null");
	assert_has(doc, "\"user_s\": null");
	assert_has(doc, "\"voluntary\": null");
	assert_null(strstr(doc, "288997"));
	assert_null(strstr(doc, "409600"));
	free(doc);
	f = open_memstream(&csv, &len);
	assert_non_null(f);
	iolens_csv_row(f, r);
	fclose(f);
	assert_null(strstr(csv, "288997"));
	assert_null(strstr(csv, ",100,"));
	free(csv);
	iolens_result_free(r);
}

static void error_has_no_figures(void **state)
{
	(void)state;
	no_figures(IOLENS_STATUS_ERROR, "error");
}

static void not_run_has_no_figures(void **state)
{
	(void)state;
	no_figures(IOLENS_STATUS_NOT_RUN, "not run");
}

static void skipped_has_no_figures(void **state)
{
	(void)state;
	no_figures(IOLENS_STATUS_SKIPPED, "skipped");
}

static void ok_has_its_figures(void **state)
{
	struct iolens_result *r = with_figures(IOLENS_STATUS_OK);
	char *doc;

	(void)state;
	r->reason[0] = '\0';
	doc = json_of(r);
	assert_has(doc, "\"ops\": 100");
	assert_has(doc, "\"iops\": 288997");
	free(doc);
	iolens_result_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_has_no_figures),
		cmocka_unit_test(not_run_has_no_figures),
		cmocka_unit_test(skipped_has_no_figures),
		cmocka_unit_test(ok_has_its_figures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
