/* Command-line value parsers: sizes, counts, durations, and what they refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_opts.h"

static void sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(iolens__parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(iolens__parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(iolens__parse_size("4KiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(iolens__parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(iolens__parse_size("2T", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(iolens__parse_size("4q", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("-4k", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("k", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("4kk", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(iolens__parse_size("17000000t", &v), -EINVAL); /* overflows 64 bits */
}

static void counts(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(iolens__parse_count("100k", &v), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(iolens__parse_count("2m", &v), 0);
	assert_int_equal(v, 2000000);
	assert_int_equal(iolens__parse_count("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(iolens__parse_count("1.5k", &v), -EINVAL);
	assert_int_equal(iolens__parse_count("x", &v), -EINVAL);
	/* COUNT takes k, m, g only: no t, no byte suffixes. */
	assert_int_equal(iolens__parse_count("1t", &v), -EINVAL);
	assert_int_equal(iolens__parse_count("1kb", &v), -EINVAL);
	assert_int_equal(iolens__parse_count("1ki", &v), -EINVAL);
}

static void durations(void **state)
{
	double v;

	(void)state;
	assert_int_equal(iolens__parse_duration("5", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(iolens__parse_duration("5s", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(iolens__parse_duration("250ms", &v), 0);
	assert_true(v > 0.2499 && v < 0.2501);
	assert_int_equal(iolens__parse_duration("2m", &v), 0);
	assert_true(v == 120.0);
	assert_int_equal(iolens__parse_duration("1.5h", &v), 0);
	assert_true(v == 5400.0);
	assert_int_equal(iolens__parse_duration("10us", &v), 0);
	assert_true(v > 9.99e-6 && v < 1.001e-5);
	assert_int_equal(iolens__parse_duration("5 s", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration("5d", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration("-1s", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration("inf", &v), -EINVAL);
	/* A plain decimal: strtod's hex, exponents and signs are not durations. */
	assert_int_equal(iolens__parse_duration("0x10", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration("1e3", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration("+1s", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration(".", &v), -EINVAL);
	assert_int_equal(iolens__parse_duration(".5s", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(iolens__parse_duration("2.", &v), 0);
	assert_true(v == 2.0);
	assert_int_equal(iolens__parse_decimal("12.25", &v), 0);
	assert_true(v == 12.25);
	assert_int_equal(iolens__parse_decimal("1.2.3", &v), -EINVAL);
	assert_int_equal(iolens__parse_decimal("nan", &v), -EINVAL);
	assert_int_equal(iolens__parse_decimal("", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(counts),
		cmocka_unit_test(durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
