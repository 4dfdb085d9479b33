/*
 * HdrHistogram V2 interval logs. An interval's histogram is encoded as
 * HdrHistogram encodes one (a 40-byte big-endian header, then the counts as
 * ZigZag LEB128 words with runs of zeros as one negative word), deflated
 * with zlib behind an 8-byte header of its own, and written as base64.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "hdrlog.h"
#include "iolens/iolens.h"

/* The V2 cookies; 0x10 marks counts stored as ZigZag LEB128 words. */
#define V2_ENCODING_COOKIE (0x1c849303u | 0x10u)
#define V2_COMPRESSED_COOKIE (0x1c849304u | 0x10u)
#define ENCODING_HEADER 40   /* cookie, length, offset, digits, lowest, highest, ratio */
#define COMPRESSED_HEADER 8  /* cookie, length */
#define WORD_MAX 9	     /* a LEB128-64b9B word: 8 bytes of 7 bits, one of 8 */
#define SIGNIFICANT_DIGITS 2 /* 256 sub-buckets, half of them per power of two above 255 */
#define HALF_MAGNITUDE 7     /* log2 of those 128 */
#define TAG_LEN 192

unsigned iolens__hdrlog_index(uint64_t v)
{
	/* The power of two past 255 holding v; 0 for the unit-resolution values. */
	unsigned bucket = 64 - HALF_MAGNITUDE - 1 - (unsigned)__builtin_clzll(v | 255);
	unsigned sub = (unsigned)(v >> bucket); /* 128..255, or v itself below 256 */

	return ((bucket + 1) << HALF_MAGNITUDE) + sub - (1u << HALF_MAGNITUDE);
}

static uint8_t *put_be(uint8_t *p, uint64_t x, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(x >> (8 * (bytes - 1 - i)));
	return p + bytes;
}

/* One word: ZigZag, then 7 bits a byte, the ninth byte taking the last 8 whole. */
static uint8_t *put_word(uint8_t *p, int64_t x)
{
	uint64_t z = ((uint64_t)x << 1) ^ -(uint64_t)(x < 0);

	for (unsigned i = 0; i < WORD_MAX - 1; i++) {
		if (z < 0x80) {
			*p++ = (uint8_t)z;
			return p;
		}
		*p++ = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	*p++ = (uint8_t)z;
	return p;
}

/*
 * The counts from index 0 up to the highest non-empty bucket. Each iolens
 * bucket is one HdrHistogram index (see hdrlog.h): the gaps between the
 * non-empty ones become zero runs. *top_hi is the last bucket's upper end,
 * the max a reader of the log will see.
 */
static uint8_t *put_counts(uint8_t *p, const struct iolens_hist *h, uint64_t *top_hi)
{
	uint64_t lo, hi, count;
	unsigned next = 0;
	size_t cur = 0;

	while (iolens_hist_next_bucket(h, &cur, &lo, &hi, &count)) {
		unsigned i = iolens__hdrlog_index(lo);

		if (i > next + 1)
			p = put_word(p, -(int64_t)(i - next));
		else if (i == next + 1)
			p = put_word(p, 0);
		p = put_word(p, (int64_t)count);
		next = i + 1;
		*top_hi = hi;
	}
	return p;
}

/* The uncompressed encoding into buf; its length. */
static size_t encode(uint8_t *buf, const struct iolens_hist *h, uint64_t *top_hi)
{
	uint8_t *end = put_counts(buf + ENCODING_HEADER, h, top_hi);
	double ratio = 1.0; /* integerToDoubleValueConversionRatio: integer values */
	uint64_t ratio_bits, highest = *top_hi < 2 ? 2 : *top_hi;
	uint8_t *p = buf;

	memcpy(&ratio_bits, &ratio, sizeof(ratio_bits));
	p = put_be(p, V2_ENCODING_COOKIE, 4);
	p = put_be(p, (uint64_t)(end - buf - ENCODING_HEADER), 4);
	p = put_be(p, 0, 4); /* normalizingIndexOffset */
	p = put_be(p, SIGNIFICANT_DIGITS, 4);
	p = put_be(p, 1, 8); /* lowestDiscernibleValue: 1 ns */
	p = put_be(p, highest, 8);
	put_be(p, ratio_bits, 8);
	return (size_t)(end - buf);
}

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t b = (uint32_t)in[i] << 16;

		b |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
		b |= i + 2 < n ? in[i + 2] : 0;
		*out++ = digits[b >> 18];
		*out++ = digits[(b >> 12) & 63];
		*out++ = i + 1 < n ? digits[(b >> 6) & 63] : '=';
		*out++ = i + 2 < n ? digits[b & 63] : '=';
	}
	*out = '\0';
}

/* The histogram as an interval's last field, in a string to free; NULL when out of memory. */
static char *compressed_base64(const struct iolens_hist *h, uint64_t *top_hi)
{
	size_t cap = ENCODING_HEADER +
		     WORD_MAX * ((size_t)iolens__hdrlog_index(iolens_hist_percentile(h, 100)) + 1);
	uint8_t *raw = malloc(cap);
	uLongf zlen = compressBound(cap);
	uint8_t *z = malloc(COMPRESSED_HEADER + zlen);
	char *text = NULL;
	size_t len;

	if (!raw || !z)
		goto out;
	len = encode(raw, h, top_hi);
	if (compress2(z + COMPRESSED_HEADER, &zlen, raw, len, Z_BEST_COMPRESSION) != Z_OK)
		goto out;
	put_be(put_be(z, V2_COMPRESSED_COOKIE, 4), zlen, 4);
	len = COMPRESSED_HEADER + zlen;
	text = malloc(4 * ((len + 2) / 3) + 1);
	if (text)
		base64(z, len, text);
out:
	free(raw);
	free(z);
	return text;
}

/*
 * "backend[:variant]/workload". Readers split a line at commas (and the Java
 * one at spaces too), so anything but printable ASCII other than those
 * becomes '_'.
 */
static void make_tag(const struct iolens_result *r, char *tag, size_t len)
{
	snprintf(tag, len, "%s%s%s/%s", r->backend, r->variant[0] ? ":" : "", r->variant,
		 iolens_workload_name(r->workload.kind));
	for (char *c = tag; *c; c++)
		if (*c <= ' ' || *c > '~' || *c == ',')
			*c = '_';
}

/* A histogram with counts that fit HdrHistogram's signed 64-bit values. */
static int loggable(const struct iolens_result *r)
{
	return r->status == IOLENS_STATUS_OK && r->hist && iolens_hist_count(r->hist) &&
	       iolens_hist_percentile(r->hist, 100) <= INT64_MAX;
}

/* meta's start time, ISO 8601 UTC, in seconds since the epoch; NaN if unknown. */
static double meta_time(const struct iolens_meta *meta)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = meta ? strptime(meta->start_time, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end && !*end ? (double)timegm(&tm) : NAN;
}

/*
 * StartTime is when the run began (meta's start time, or base when that is
 * unknown); BaseTime is base, the zero of the intervals' timestamps.
 */
static void write_header(FILE *f, const struct iolens_meta *meta, double base)
{
	double start = meta_time(meta);

	fprintf(f, "#[Histogram log format version 1.3]\n");
	fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s]\n", isnan(start) ? base : start,
		meta && meta->start_time[0] ? meta->start_time : "unknown");
	fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", base);
	fprintf(f, "#[iolens: latency of reads and writes (sockets: requests), ns; "
		   "Interval_Max in ns]\n");
	fprintf(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
		   "\"Interval_Compressed_Histogram\"\n");
}

static int write_interval(FILE *f, const struct iolens_result *r, double base)
{
	char tag[TAG_LEN];
	uint64_t top_hi = 0;
	char *text = compressed_base64(r->hist, &top_hi);

	if (!text)
		return -ENOMEM;
	make_tag(r, tag, sizeof(tag));
	fprintf(f, "Tag=%s,%.3f,%.3f,%llu.0,%s\n", tag,
		isnan(r->window_start) ? 0 : r->window_start - base, r->seconds,
		(unsigned long long)top_hi, text);
	free(text);
	return 0;
}

int iolens__hdrlog_write(FILE *f, const struct iolens_meta *meta, struct iolens_result *const *res,
			 size_t n)
{
	double base = NAN;
	int err = 0;

	/* The earliest window, else the run's start, else the epoch itself. */
	for (size_t i = 0; i < n; i++)
		if (loggable(res[i]) && !isnan(res[i]->window_start) &&
		    !(res[i]->window_start >= base))
			base = res[i]->window_start;
	if (isnan(base))
		base = meta_time(meta);
	if (isnan(base))
		base = 0;
	write_header(f, meta, base);
	for (size_t i = 0; i < n && !err; i++)
		if (loggable(res[i]))
			err = write_interval(f, res[i], base);
	if (!err && (fflush(f) || ferror(f)))
		err = -EIO;
	return err;
}
