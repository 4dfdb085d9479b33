/*
 * HdrHistogram V2 interval logs (--hdr-log): each result's latency histogram
 * as one interval line, in the compressed, base64 form HdrHistogram's own
 * tools read and merge. iolens's histogram has the bucket layout of an
 * HdrHistogram with lowest discernible value 1 and 2 significant digits
 * (256 sub-buckets: unit resolution below 256, then 128 buckets per power of
 * two), so every bucket maps to exactly one HdrHistogram index and a reader
 * sees the counts iolens saw, not an approximation of them.
 *
 * The log, as HdrHistogram's Java and C writers lay it out:
 *   #[Histogram log format version 1.3]
 *   #[StartTime: <s since the epoch> (seconds since epoch), <meta start_time>]
 *   #[BaseTime: <s since the epoch> (seconds since epoch)]
 *   #[iolens: ...]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=<tag>,<start>,<length>,<max>,<histogram>
 * BaseTime is the earliest window_start among the logged results (else the
 * run's start time from meta); <start> is a result's window_start minus
 * BaseTime and <length> its window, both in seconds to the millisecond.
 * Values are nanoseconds. <max> uses a unit ratio of 1: it is in
 * nanoseconds, like the values, and is the upper end of the bucket holding
 * iolens's exact max, which is the max a reader gets from the decoded
 * histogram (HdrHistogram_c writes the same; the Java writer's default
 * divides by 10^6 instead, and no reader parses the field). <tag> is
 * "backend[:variant]/workload", e.g. io_uring:sqpoll+fixed-files/randread,
 * with any comma, space, control or non-ASCII byte turned into '_'.
 */
#ifndef IOLENS_HDRLOG_H
#define IOLENS_HDRLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct iolens_meta;
struct iolens_result;

/*
 * Write the log to f: the header comments and column line, then one
 * interval per result that has a histogram (tagged with its backend spec and
 * workload; skipped, failed and empty results are left out, and so is one
 * whose max does not fit HdrHistogram's signed 64-bit values), in order.
 * meta may be NULL. 0, or -EIO (the stream failed) / -ENOMEM.
 */
int iolens__hdrlog_write(FILE *f, const struct iolens_meta *meta, struct iolens_result *const *res,
			 size_t n);

/* HdrHistogram's counts index of value v (lowest discernible 1, 2 digits). */
unsigned iolens__hdrlog_index(uint64_t v);

#endif
