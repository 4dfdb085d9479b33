#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"

static int whole_with_suffix(const char *s, uint64_t *out, uint64_t base)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 't':
		if (base != 1024) /* a count stops at g */
			return -EINVAL;
		mul *= base;
		/* fall through */
	case 'g':
		mul *= base;
		/* fall through */
	case 'm':
		mul *= base;
		/* fall through */
	case 'k':
		mul *= base;
		end++;
		break;
	default:
		return -EINVAL;
	}
	/* Accept "4k", "4K", "4KiB", "4kb". */
	if (mul > 1 && base == 1024 && (*end == 'i' || *end == 'I'))
		end++;
	if (mul > 1 && base == 1024 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || (v && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

int iolens__parse_size(const char *s, uint64_t *out)
{
	return whole_with_suffix(s, out, 1024);
}

int iolens__parse_count(const char *s, uint64_t *out)
{
	return whole_with_suffix(s, out, 1000);
}

/*
 * A plain decimal at the start of s: digits with at most one '.'. strtod
 * alone would also take a sign, 0x10, 1e3, inf and nan, none of which the
 * options document. The end of the number, or NULL.
 */
static const char *decimal(const char *s, double *out)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;
	char buf[64];

	if (s[whole] == '.')
		frac = strspn(s + whole + 1, "0123456789") + 1;
	if ((whole == 0 && frac <= 1) || whole + frac >= sizeof(buf))
		return NULL;
	memcpy(buf, s, whole + frac);
	buf[whole + frac] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out) ? s + whole + frac : NULL;
}

int iolens__parse_decimal(const char *s, double *out)
{
	const char *end = s ? decimal(s, out) : NULL;

	return end && !*end ? 0 : -EINVAL;
}

int iolens__parse_duration(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double scale;
	} units[] = { { "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "m", 60 }, { "h", 3600 } };
	const char *end;
	double v;

	if (!s || !(end = decimal(s, &v)))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*out = v * units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}
