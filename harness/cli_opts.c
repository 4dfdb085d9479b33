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
	if (mul > 1 && (*end == 'b' || *end == 'B'))
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

int iolens__parse_duration(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double scale;
	} units[] = { { "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "m", 60 }, { "h", 3600 } };
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*out = v * units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}
