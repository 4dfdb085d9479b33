/*
 * HdrHistogram V2 interval logs (--hdr-log): each result's latency histogram
 * as one interval line, in the compressed, base64 form HdrHistogram's own
 * tools read and merge. iolens's histogram has the bucket layout of an
 * HdrHistogram with 2 significant digits, so every bucket maps exactly.
 */
#ifndef IOLENS_HDRLOG_H
#define IOLENS_HDRLOG_H

#include <stddef.h>
#include <stdio.h>

struct iolens_meta;
struct iolens_result;

/*
 * Write the log to f: the header comments and column line, then one
 * interval per result that has a histogram (tagged with its backend spec and
 * workload; skipped, failed and empty results are left out), in order. Values
 * are nanoseconds. 0, or -EIO (the stream failed) / -ENOMEM.
 */
int iolens__hdrlog_write(FILE *f, const struct iolens_meta *meta,
			 struct iolens_result *const *res, size_t n);

#endif
