/* Placeholder until the encoder lands: the option is refused as not supported. */
#include <errno.h>
#include <stdio.h>

#include "hdrlog.h"

int iolens__hdrlog_write(FILE *f, const struct iolens_meta *meta,
			 struct iolens_result *const *res, size_t n)
{
	(void)f, (void)meta, (void)res, (void)n;
	fprintf(stderr, "iolens: --hdr-log: not supported by this build\n");
	errno = ENOTSUP;
	return -ENOTSUP;
}
