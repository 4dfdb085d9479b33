/*
 * iolens responder: serves echo, sink and source connections (see peer.h
 * for the hello that picks one) until SIGINT or SIGTERM, so another machine
 * or another tool can talk to the same peer the harness uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_responder.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

#define MAX_DELAY_US 60000000ULL
#define MAX_THREADS 256

static const char help[] =
	"usage: iolens responder [options]\n"
	"\n"
	"Answers connections that open with an iolens hello: echo (optionally after\n"
	"a delay), sink (check and count; count only when the hello asks, as\n"
	"iolens run --no-check does) or source (send the pattern), until SIGINT or\n"
	"SIGTERM.\n"
	"\n"
	"  --listen ADDR          tcp: HOST:PORT, tcp6: [ADDR]:PORT, unix: a path;\n"
	"                         default: loopback, a port (or path) picked for it\n"
	"  --transport T          tcp (default), tcp6 or unix\n"
	"  --delay USEC           answer each echo request this long after it arrived,\n"
	"                         0..60000000 (default 0; a hello may ask for its own)\n"
	"  --threads N            event loops, 1..256 (default 1)\n"
	"  --cpu N                pin the event loops to this CPU\n"
	"\n"
	"Exit status: 0 stopped by a signal, 1 cannot listen, 2 bad usage.\n";

/* A whole number in [lo, hi], digits only. */
static int parse_whole(const char *s, unsigned long long lo, unsigned long long hi,
		       unsigned long long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out < lo || *out > hi)
		return -EINVAL;
	return 0;
}

enum { OPT_LISTEN = 256, OPT_TRANSPORT, OPT_DELAY, OPT_THREADS, OPT_CPU };

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int iolens__cli_responder(int argc, char **argv)
{
	struct iolens_responder_opts o;
	struct iolens_responder *r;
	unsigned long long v, cpus;
	char err[256], where[128];
	uint64_t accepted;
	sigset_t stop;
	int c, sig;

	iolens_responder_opts_init(&o);
	cpus = (unsigned long long)sysconf(_SC_NPROCESSORS_CONF);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o.listen = optarg;
			break;
		case OPT_TRANSPORT:
			o.transport = iolens_transport_parse(optarg);
			if (o.transport < 0)
				return iolens__usage("--transport: '%s' is not a transport (accepts tcp, tcp6 or unix)",
						   optarg);
			break;
		case OPT_DELAY:
			if (parse_whole(optarg, 0, MAX_DELAY_US, &v))
				return iolens__usage("--delay: '%s' is not accepted (accepts a whole number of microseconds from 0 to %llu)",
						   optarg, MAX_DELAY_US);
			o.delay_ns = v * 1000;
			break;
		case OPT_THREADS:
			if (parse_whole(optarg, 1, MAX_THREADS, &v))
				return iolens__usage("--threads: '%s' is not accepted (accepts a whole number from 1 to %d)",
						   optarg, MAX_THREADS);
			o.threads = (unsigned)v;
			break;
		case OPT_CPU:
			if (parse_whole(optarg, 0, cpus - 1, &v))
				return iolens__usage("--cpu: '%s' is not accepted (accepts a CPU number from 0 to %llu)",
						   optarg, cpus - 1);
			o.cpu = (int)v;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		case ':':
			return iolens__usage("%s needs a value (see iolens responder --help)",
					   argv[optind - 1]);
		default: /* optopt: the long option short of its value, or 0, or an unknown letter */
			if (optopt >= OPT_LISTEN)
				return iolens__usage("%s needs a value (see iolens responder --help)",
						   argv[optind - 1]);
			return iolens__usage("unknown option '%s' (see iolens responder --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return iolens__usage("unexpected argument '%s' (see iolens responder --help)",
				   argv[optind]);

	/* The loops block every signal; this thread takes SIGINT and SIGTERM with sigwait. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	c = iolens_responder_start(&r, &o, err, sizeof(err));
	if (c == -EINVAL)
		return iolens__usage("%s", err);
	if (c) {
		fprintf(stderr, "iolens: %s\n", err);
		return 1;
	}
	iolens_responder_address(r, where, sizeof(where));
	printf("iolens responder: listening on %s (%s, delay %llu us, %u threads)\n", where,
	       iolens_transport_name(o.transport), (unsigned long long)(o.delay_ns / 1000),
	       o.threads);
	fflush(stdout);
	while (sigwait(&stop, &sig))
		;
	iolens_responder_counts(r, NULL, &accepted);
	iolens_responder_stop(r);
	printf("iolens responder: stopped by %s after %llu connections accepted\n",
	       sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)accepted);
	fflush(stdout);
	return 0;
}
