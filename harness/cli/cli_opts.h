/* Parsers for command-line values. Each returns 0 or -EINVAL. */
#ifndef IOLENS_CLI_OPTS_H
#define IOLENS_CLI_OPTS_H

#include <stdint.h>

/* Bytes: a whole number with an optional k, m, g or t suffix (powers of 1024). */
int iolens__parse_size(const char *s, uint64_t *out);
/* Seconds: a number with an optional unit us, ms, s, m or h (default s);
 * the number is a plain decimal. */
int iolens__parse_duration(const char *s, double *out);
/* A plain decimal: digits with at most one '.' (no sign, exponent, hex, inf or nan). */
int iolens__parse_decimal(const char *s, double *out);
/* A count: a whole number with an optional k, m or g suffix (powers of 1000). */
int iolens__parse_count(const char *s, uint64_t *out);

#endif
