/*
 * The HdrHistogram log (harness/store/hdrlog.c): the index mapping against
 * iolens's own, and a log decoded back here — base64, inflate, the V2
 * header, the ZigZag LEB128 counts — to the very counts that were encoded.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "hdrlog.h"
#include "hist.h"
#include "iolens/iolens.h"

#define LOG_MAX (1u << 20)

/* ---- a decoder of our own, written from the format, not from hdrlog.c ---- */

static size_t unbase64(const char *s, uint8_t *out)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (; *s && *s != '='; s++) {
		const char *d = strchr(digits, *s);

		assert_non_null(d);
		acc = (acc << 6) | (uint32_t)(d - digits);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

static uint64_t be(const uint8_t *p, unsigned bytes)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < bytes; i++)
		x = x << 8 | p[i];
	return x;
}

static int64_t word(const uint8_t **p)
{
	uint64_t z = 0;
	unsigned i;

	for (i = 0; i < 8; i++) {
		z |= (uint64_t)(**p & 0x7f) << (7 * i);
		if (!(*(*p)++ & 0x80))
			return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	}
	z |= (uint64_t) * (*p)++ << 56;
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

struct interval {
	char tag[256];
	double start, length, max;
	uint64_t highest;
	uint64_t counts[IOLENS_HIST_BUCKETS];
	size_t ncounts; /* indices the payload covered */
};

/* One interval line, decoded and its headers checked. */
static void decode(const char *line, struct interval *iv)
{
	const char *comma = strchr(line, ',');
	uint8_t *z = malloc(LOG_MAX), *raw = malloc(LOG_MAX);
	uLongf rawlen = LOG_MAX;
	const uint8_t *p, *end;
	double ratio;
	uint64_t bits;
	size_t zlen;

	assert_non_null(z);
	assert_non_null(raw);
	assert_memory_equal(line, "Tag=", 4);
	assert_non_null(comma);
	snprintf(iv->tag, sizeof(iv->tag), "%.*s", (int)(comma - line - 4), line + 4);
	assert_int_equal(sscanf(comma + 1, "%lf,%lf,%lf,", &iv->start, &iv->length, &iv->max), 3);
	zlen = unbase64(strrchr(line, ',') + 1, z);
	assert_int_equal(be(z, 4), 0x1c849314);
	assert_int_equal(be(z + 4, 4), zlen - 8);
	assert_int_equal(uncompress(raw, &rawlen, z + 8, zlen - 8), Z_OK);
	assert_true(rawlen >= 40);
	assert_int_equal(be(raw, 4), 0x1c849313);
	assert_int_equal(be(raw + 4, 4), rawlen - 40); /* payload length */
	assert_int_equal(be(raw + 8, 4), 0);	       /* normalizing index offset */
	assert_int_equal(be(raw + 12, 4), 2);	       /* significant digits */
	assert_int_equal(be(raw + 16, 8), 1);	       /* lowest discernible value */
	iv->highest = be(raw + 24, 8);
	bits = be(raw + 32, 8);
	memcpy(&ratio, &bits, sizeof(ratio));
	assert_true(ratio == 1.0);
	memset(iv->counts, 0, sizeof(iv->counts));
	iv->ncounts = 0;
	for (p = raw + 40, end = raw + rawlen; p < end;) {
		int64_t w = word(&p);

		if (w < 0) {
			iv->ncounts += (size_t)-w;
			continue;
		}
		assert_true(iv->ncounts < IOLENS_HIST_BUCKETS);
		iv->counts[iv->ncounts++] = (uint64_t)w;
	}
	assert_true(p == end);
	free(z);
	free(raw);
}

/* ---- results and logs to decode ---- */

static struct iolens_result *result(const char *backend, const char *variant, int status,
				    struct iolens_hist *h, double window_start)
{
	struct iolens_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	snprintf(r->backend, sizeof(r->backend), "%s", backend);
	snprintf(r->variant, sizeof(r->variant), "%s", variant);
	r->status = status;
	r->workload.kind = IOLENS_WL_RANDREAD;
	r->hist = h;
	r->seconds = 0.1;
	r->window_start = window_start;
	return r;
}

/*
 * The log of n results, with BaseTime base, in a string to free; its
 * interval lines in lines[].
 */
static char *write_log(struct iolens_result **res, size_t n, const char *base, char **lines,
		       size_t *nlines)
{
	char base_line[80];
	struct iolens_meta meta = {.start_time = "2024-01-02T03:04:05Z"};
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(iolens__hdrlog_write(f, &meta, res, n), 0);
	fclose(f);
	assert_non_null(strstr(text, "#[StartTime: 1704164645.000 (seconds since epoch), "
				     "2024-01-02T03:04:05Z]\n"));
	snprintf(base_line, sizeof(base_line), "\n#[BaseTime: %s (seconds since epoch)]\n", base);
	assert_non_null(strstr(text, base_line));
	assert_non_null(strstr(text, "\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
				     "\"Interval_Compressed_Histogram\"\n"));
	*nlines = 0;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "Tag=", 4))
			lines[(*nlines)++] = l;
	return text;
}

static void free_results(struct iolens_result **res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		iolens_hist_free((struct iolens_hist *)res[i]->hist);
		free(res[i]);
	}
}

/* ---- the tests ---- */

static void check_index(uint64_t v)
{
	if (iolens__hdrlog_index(v) != iolens__hist_index(v))
		fail_msg("value %llu: HdrHistogram index %u, iolens bucket %u",
			 (unsigned long long)v, iolens__hdrlog_index(v), iolens__hist_index(v));
}

static void index_is_iolens_bucket(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (uint64_t v = 0; v < 4096; v++)
		check_index(v);
	/* Every bucket's first and last value, up to the top HdrHistogram holds. */
	for (unsigned k = 7; k < 63; k++)
		for (uint64_t sub = 128; sub < 256; sub++) {
			uint64_t lo = sub << (k - 7), hi = lo + (1ull << (k - 7)) - 1;

			check_index(lo);
			check_index(hi);
			check_index(lo - 1);
		}
	check_index(INT64_MAX);
	for (unsigned i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		check_index((x >> 1) >> (x & 63)); /* every magnitude */
	}
}

static void counts_round_trip(void **state)
{
	/* Runs of zeros of one and of many, both ends of the unit range, wide buckets. */
	static const uint64_t values[] = {0,	 1,	1,     10,	12,	   127,
					  128,	 255,	256,   257,	258,	   1000,
					  12345, 12345, 12399, 1000000, 999999999, 1ull << 40};
	struct iolens_hist *h = iolens_hist_new(), *huge = iolens_hist_new();
	struct iolens_result *res[2];
	struct interval *iv = malloc(sizeof(*iv));
	char *lines[4];
	size_t nlines, cur = 0;
	uint64_t lo, hi, count, top = 0;
	char *text;

	(void)state;
	assert_non_null(iv);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		iolens_hist_add(h, values[i]);
	/* A count past 2^56 needs the ninth byte of a word. */
	iolens_hist_add(huge, 5000);
	huge->bucket[iolens__hist_index(5000)] = huge->count = (1ull << 62) + 3;
	res[0] = result("io_uring", "sqpoll", IOLENS_STATUS_OK, h, 1000.5);
	res[1] = result("epoll", "", IOLENS_STATUS_OK, huge, 1000.25);
	text = write_log(res, 2, "1000.250", lines, &nlines);
	assert_int_equal(nlines, 2);

	decode(lines[0], iv);
	assert_string_equal(iv->tag, "io_uring:sqpoll/randread");
	assert_true(fabs(iv->start - 0.25) < 1e-9);
	assert_true(fabs(iv->length - 0.1) < 1e-9);
	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count))
		top = hi;
	assert_true(iv->max == (double)top); /* the decoded histogram's max */
	assert_int_equal(iv->highest, top);
	assert_int_equal(iv->ncounts, iolens__hist_index(1ull << 40) + 1);
	for (size_t i = 0; i < IOLENS_HIST_BUCKETS; i++)
		if (iv->counts[i] != h->bucket[i])
			fail_msg("bucket %zu: decoded %llu, encoded %llu", i,
				 (unsigned long long)iv->counts[i],
				 (unsigned long long)h->bucket[i]);

	decode(lines[1], iv);
	assert_string_equal(iv->tag, "epoll/randread");
	assert_true(iv->start == 0);
	assert_int_equal(iv->ncounts, iolens__hist_index(5000) + 1);
	assert_int_equal(iv->counts[iolens__hist_index(5000)], (1ull << 62) + 3);
	free(text);
	free(iv);
	free_results(res, 2);
}

static void only_measured_results(void **state)
{
	struct iolens_result *res[5];
	char *lines[8], *text;
	size_t nlines;

	(void)state;
	res[0] = result("null", "", IOLENS_STATUS_SKIPPED, NULL, NAN);
	res[1] = result("epoll", "", IOLENS_STATUS_ERROR, iolens_hist_new(), 5.0);
	iolens_hist_add((struct iolens_hist *)res[1]->hist, 4000);
	res[2] = result("poll", "", IOLENS_STATUS_OK, iolens_hist_new(), 6.0); /* empty */
	res[3] = result("select", "", IOLENS_STATUS_OK, NULL, 7.0);	       /* not measured */
	res[4] = result("blocking", "", IOLENS_STATUS_NOT_RUN, NULL, NAN);
	/* Nothing logged: the run's start is the base. */
	text = write_log(res, 5, "1704164645.000", lines, &nlines);
	assert_int_equal(nlines, 0);
	free(text);
	free_results(res, 5);
}

static void tag_is_one_field(void **state)
{
	struct iolens_hist *h = iolens_hist_new();
	struct iolens_result *res[1];
	char *lines[2], *text;
	size_t nlines;

	(void)state;
	iolens_hist_add(h, 300);
	res[0] = result("io_uring", "sqpoll+fixed files,x\t\xc3\xa9", IOLENS_STATUS_OK, h, NAN);
	text = write_log(res, 1, "1704164645.000", lines, &nlines);
	assert_int_equal(nlines, 1);
	assert_memory_equal(lines[0], "Tag=io_uring:sqpoll+fixed_files_x___/randread,0.000,",
			    strlen("Tag=io_uring:sqpoll+fixed_files_x___/randread,0.000,"));
	free(text);
	free_results(res, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(index_is_iolens_bucket),
	    cmocka_unit_test(counts_round_trip),
	    cmocka_unit_test(only_measured_results),
	    cmocka_unit_test(tag_is_one_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
