/*
 * libFuzzer target over the parsers that take the user's words: the whole
 * `iolens run` option parser, backend specs, sizes, counts, durations,
 * decimals, socket addresses and CPU lists. The first byte picks the parser,
 * the rest is its input. Besides the sanitizers, each parser's documented
 * contract is checked, and a violation aborts (a crash to libFuzzer).
 *
 * Nothing here touches the filesystem or the network: name resolution is
 * replaced below by a stub that knows only "localhost".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_opts.h"
#include "cli_run.h"
#include "iolens/iolens.h"
#include "peer.h"
#include "spec.h"
#include "target.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a reason: libFuzzer reports it and keeps the input. */
#define require(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_opts: %s:%d: contract broken: %s\n", __FILE__,       \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * Resolution without DNS: a fuzzer must be fast and give the same answer
 * every time. The harness's own calls bind to these definitions.
 */
static struct sockaddr_in lo4 = {.sin_family = AF_INET};
static struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6};
static struct addrinfo lo4_ai = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM,
				 .ai_addrlen = sizeof(lo4),
				 .ai_addr = (struct sockaddr *)&lo4};
static struct addrinfo lo6_ai = {.ai_family = AF_INET6,
				 .ai_socktype = SOCK_STREAM,
				 .ai_addrlen = sizeof(lo6),
				 .ai_addr = (struct sockaddr *)&lo6};

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	(void)service;
	if (!node || strcmp(node, "localhost") != 0)
		return EAI_NONAME;
	lo4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lo6.sin6_addr = in6addr_loopback;
	*res = hints && hints->ai_family == AF_INET6 ? &lo6_ai : &lo4_ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	(void)res; /* static */
}

/* The input as a NUL-terminated string (it may hold NULs of its own). */
static char *cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static int all_in(const char *s, size_t n, const char *set)
{
	return strspn(s, set) >= n;
}

/* ---- iolens run's options ---- */

static void check_spec_fits(const char *spec, int kind)
{
	struct iolens__spec sp;
	char err[256];

	require(iolens__spec_parse(spec, &sp, err, sizeof(err)) == 0);
	require(iolens__spec_fits(&sp, kind, err, sizeof(err)) == 0);
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct iolens__run_args a;
	int argc = 1, r;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "run";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;

	r = iolens__run_parse(argc, argv, &a);
	require(r == 0 || r == -1 || r == 2);
	if (r == 0) {
		const struct iolens_workload *w = &a.w;

		require(a.nspecs >= 1 && a.nspecs <= IOLENS__MAX_SPECS);
		require(w->kind >= 0 && w->kind < IOLENS_WL__COUNT);
		for (size_t i = 0; i < a.nspecs; i++)
			check_spec_fits(a.specs[i], w->kind);
		/* Exactly one of --time and --ops, each within its range. */
		require((w->time_s > 0) != (w->ops > 0));
		require(isfinite(w->time_s) && w->time_s <= 7 * 86400.0);
		require(w->time_s == 0 || w->time_s >= 1e-3);
		require(isfinite(w->warmup_s) && w->warmup_s >= 0 && w->warmup_s <= 3600);
		require(w->bs >= 512 && w->bs <= 64u << 20);
		require(w->depth >= 1 && w->depth <= 4096);
		require(w->jobs >= 1 && w->jobs <= 256);
		require(w->rwmix <= 100);
		require(w->conns >= 1 && w->conns <= 100000);
		require(w->msg <= 4u << 20);
		require(!w->rate || (w->rate >= 1 && w->rate <= 1e9));
		require(w->transport >= 0 && w->transport < IOLENS_TR__COUNT);
		require(!(a.json && a.csv && !strcmp(a.json, "-") && !strcmp(a.csv, "-")));
		require(!a.json || a.json[0]);
		require(!a.csv || a.csv[0]);
		iolens__run_args_free(&a);
		require(a.nspecs == 0);
	} else {
		/* Nothing to free after help or a usage error. */
		require(a.nspecs == 0);
	}
	free(buf);
}

/* ---- backend specs ---- */

static void fuzz_spec(const uint8_t *data, size_t size)
{
	char *s = cstring(data, size), err[256], again[256];
	struct iolens__spec sp, sp2;
	const char *colon;

	memset(err, 'x', sizeof(err));
	if (iolens__spec_parse(s, &sp, err, sizeof(err))) {
		require(memchr(err, '\0', sizeof(err)) && !strncmp(err, "--backend: ", 11));
		free(s);
		return;
	}
	require(sp.info && sp.info->name && sp.info->name[0]);
	require(memchr(sp.variant, '\0', sizeof(sp.variant)));
	require((sp.flags & ~sp.info->options) == 0);
	require(!(sp.flags & IOLENS_BOPT_CQ_SPIN) || (sp.flags & IOLENS_BOPT_SQPOLL));
	require(!(sp.flags & IOLENS_BOPT_SQPOLL_CPU) || (sp.flags & IOLENS_BOPT_SQPOLL));
	require(!(sp.flags & IOLENS_BOPT_THREADS) ||
		(sp.aio_threads >= 1 && sp.aio_threads <= 100000));
	require(sp.sqpoll_idle_ms <= 100000);
	require((long)sp.sqpoll_cpu < sysconf(_SC_NPROCESSORS_CONF));
	/* The variant as reported parses back to the same spec. */
	colon = strchr(s, ':');
	if (colon && strlen(colon + 1) < sizeof(sp.variant)) {
		snprintf(again, sizeof(again), "%s:%s", sp.info->name, sp.variant);
		require(iolens__spec_parse(again, &sp2, err, sizeof(err)) == 0);
		require(sp2.info == sp.info && sp2.flags == sp.flags && sp2.given == sp.given);
	}
	for (int kind = -1; kind <= IOLENS_WL__COUNT; kind++) {
		memset(err, 'x', sizeof(err));
		if (iolens__spec_fits(&sp, kind, err, sizeof(err)))
			require(kind >= 0 && kind < IOLENS_WL__COUNT &&
				memchr(err, '\0', sizeof(err)) &&
				!strncmp(err, "--backend: ", 11) && !strchr(err, '\n'));
	}
	free(s);
}

/* ---- sizes and counts, against a plain reading of their grammar ---- */

static int reference_whole(const char *s, uint64_t base, uint64_t *out)
{
	static const char suffixes[] = "kmgt";
	uint64_t v = 0, mul = 1;
	const char *p = s, *suf;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p && (suf = strchr(suffixes, *p | 0x20))) {
		if (base == 1000 && *suf == 't')
			return -1;
		for (const char *q = suffixes; q <= suf; q++)
			mul *= base;
		p++;
		if (base == 1024 && (*p | 0x20) == 'i')
			p++;
		if (base == 1024 && (*p | 0x20) == 'b')
			p++;
	}
	if (*p || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

static void fuzz_whole(const uint8_t *data, size_t size, int count)
{
	char *s = cstring(data, size);
	uint64_t got = 0, want = 0;
	int r = count ? iolens__parse_count(s, &got) : iolens__parse_size(s, &got);
	int ref = reference_whole(s, count ? 1000 : 1024, &want);

	require((r == 0) == (ref == 0));
	require(r != 0 || got == want);
	free(s);
}

/* ---- decimals and durations ---- */

/* digits, at most one '.', at least one digit: how long, or 0. */
static size_t decimal_span(const char *s)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;

	if (s[whole] == '.')
		frac = strspn(s + whole + 1, "0123456789") + 1;
	if (whole == 0 && frac <= 1)
		return 0;
	return whole + frac;
}

static void fuzz_decimal(const uint8_t *data, size_t size)
{
	char *s = cstring(data, size);
	size_t n = decimal_span(s), len = strlen(s);
	double v = -1;

	if (!iolens__parse_decimal(s, &v)) {
		require(n > 0 && n == len);
		require(all_in(s, len, "0123456789."));
		require(isfinite(v) && v >= 0);
	} else {
		/* Short, well-formed decimals are never refused. */
		require(!(n > 0 && n == len && len < 32));
	}
	free(s);
}

static void fuzz_duration(const uint8_t *data, size_t size)
{
	static const char *const units[] = {"", "s", "ms", "us", "m", "h"};
	char *s = cstring(data, size);
	size_t n = decimal_span(s);
	double v = -1;
	int unit_ok = 0;

	for (size_t i = 0; n && i < sizeof(units) / sizeof(units[0]); i++)
		unit_ok |= !strcmp(s + n, units[i]);
	if (!iolens__parse_duration(s, &v)) {
		require(unit_ok);
		require(isfinite(v) && v >= 0);
	} else {
		require(!(unit_ok && n < 32));
	}
	free(s);
}

/* ---- socket addresses ---- */

static void fuzz_addr(const uint8_t *data, size_t size)
{
	struct iolens__addr a;
	char *s, err[256], text[256];
	int transport, listening;

	if (size < 1)
		return;
	/* '0'-'2' tcp, tcp6, unix; '4'-'6' the same, listening; 3 and 7: no transport */
	transport = (data[0] & 3) == 3 ? -1 : data[0] & 3;
	listening = (data[0] >> 2) & 1;
	s = cstring(data + 1, size - 1);
	memset(err, 'x', sizeof(err));
	if (iolens__addr_parse(s, transport, "--listen", listening, &a, err, sizeof(err))) {
		require(memchr(err, '\0', sizeof(err)) && !strncmp(err, "--listen: ", 10));
		free(s);
		return;
	}
	require(a.transport == transport);
	require(a.len > 0 && a.len <= sizeof(a.ss));
	switch (transport) {
	case IOLENS_TR_TCP: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a.ss;

		require(a.ss.ss_family == AF_INET && a.len == sizeof(*in));
		require(listening || in->sin_port != 0);
		break;
	}
	case IOLENS_TR_TCP6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.ss;

		require(a.ss.ss_family == AF_INET6 && a.len == sizeof(*in6));
		require(listening || in6->sin6_port != 0);
		break;
	}
	case IOLENS_TR_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&a.ss;

		require(a.ss.ss_family == AF_UNIX && !strcmp(un->sun_path, s));
		break;
	}
	default:
		require(!"an unknown transport parsed");
	}
	memset(text, 'x', sizeof(text));
	iolens__addr_format(&a, text, sizeof(text));
	require(memchr(text, '\0', sizeof(text)));
	free(s);
}

/* ---- CPU lists ---- */

static void fuzz_cpulist(const uint8_t *data, size_t size)
{
	cpu_set_t set;
	long ncpu;
	char *s;
	int n;

	if (size < 1)
		return;
	ncpu = 1 + data[0] * 5; /* 1 to 1276: above CPU_SETSIZE too */
	s = cstring(data + 1, size - 1);
	n = iolens__cpulist(s, ncpu, &set);
	if (n >= 0) {
		require(n >= 1 && n == CPU_COUNT(&set));
		require(all_in(s, strlen(s), "0123456789,-"));
		for (long c = ncpu; c < CPU_SETSIZE; c++)
			require(!CPU_ISSET((size_t)c, &set));
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* '0'..'9' pick parsers 0..9, so seed inputs can be plain text */
	switch ((data[0] + 2u) % 10) {
	case 0:
	case 1:
	case 2:
		fuzz_run(data + 1, size - 1);
		break;
	case 3:
		fuzz_spec(data + 1, size - 1);
		break;
	case 4:
		fuzz_whole(data + 1, size - 1, 0);
		break;
	case 5:
		fuzz_whole(data + 1, size - 1, 1);
		break;
	case 6:
		fuzz_decimal(data + 1, size - 1);
		break;
	case 7:
		fuzz_duration(data + 1, size - 1);
		break;
	case 8:
		fuzz_addr(data + 1, size - 1);
		break;
	case 9:
		fuzz_cpulist(data + 1, size - 1);
		break;
	}
	return 0;
}
