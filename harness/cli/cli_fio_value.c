/*
 * fio's value syntax, as its HOWTO defines the int and time types: what a
 * job file says, in bytes and seconds. Deliberately narrower than fio where
 * fio's reading is surprising: no decimals in times (fio truncates them),
 * no arithmetic in parentheses, no ranges (the mapping refuses those with
 * their own message).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_fio_int.h"

/* Leading decimal digits of s as a whole number; the rest in *end. -EINVAL on none or overflow. */
static int whole(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	*end = p;
	return 0;
}

int iolens__fio_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *end;

	if (whole(s, out, &end) || *end || *out < lo || *out > hi)
		return -EINVAL;
	return 0;
}

int iolens__fio_size(const char *s, unsigned kb_base, uint64_t *out)
{
	static const char prefixes[] = "kmgtp";
	const char *end, *at;
	uint64_t v, mul = 1, base;
	int power = 0, iec = 0;

	if (!strncasecmp(s, "0x", 2)) {
		char *hex_end;

		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
		errno = 0;
		*out = strtoull(s + 2, &hex_end, 16);
		return errno || *hex_end ? -EINVAL : 0;
	}
	if (whole(s, &v, &end))
		return -EINVAL;
	if (*end && (at = strchr(prefixes, tolower((unsigned char)*end)))) {
		power = (int)(at - prefixes) + 1;
		end++;
		if (tolower((unsigned char)*end) == 'i') {
			iec = 1;
			end++;
		}
	}
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end)
		return -EINVAL;
	/* kb_base 1024 is fio's compatibility mode: k is 1024 and ki 1000. */
	base = (kb_base == 1000) == !iec ? 1000 : 1024;
	for (int i = 0; i < power; i++)
		mul *= base;
	if (v && mul > UINT64_MAX / v)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

int iolens__fio_time(const char *s, double unit_s, double *out)
{
	static const struct {
		const char *unit;
		double s;
	} units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 },     { "s", 1 },      { "sec", 1 },
		      { "ms", 1e-3 }, { "msec", 1e-3 }, { "us", 1e-6 }, { "usec", 1e-6 } };
	const char *end;
	uint64_t v;

	if (whole(s, &v, &end) || v > (uint64_t)1 << 40)
		return -EINVAL;
	if (!*end) {
		*out = (double)v * unit_s;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(end, units[i].unit)) {
			*out = (double)v * units[i].s;
			return 0;
		}
	}
	return -EINVAL;
}
