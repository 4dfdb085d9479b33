/*
 * `iolens run`'s options. Every value is checked here, and so is every
 * option against the workload it was given with: an option the workload
 * cannot use is a usage error, never silently ignored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "cli_run.h"
#include "cli_store.h"
#include "cli_usage.h"

const char iolens__run_help[] =
	"usage: iolens run [options]\n"
	"\n"
	"Runs one disk or socket workload on each backend in turn and reports what\n"
	"each did.\n"
	"\n"
	"  --backend LIST     comma-separated backends, or all (default). Options\n"
	"                     follow a colon, joined by '+': io_uring:sqpoll+fixed-files,\n"
	"                     io_uring:fixed-bufs, io_uring:sqpoll-idle=MS,\n"
	"                     io_uring:sqpoll-cpu=CPU (the SQPOLL thread's CPU),\n"
	"                     io_uring:sqpoll+cq-spin (reap polls the CQ, no enter),\n"
	"                     io_uring:ms-accept, io_uring:ms-recv (multishot, sockets),\n"
	"                     poll:nowait, epoll:et, posix-aio:threads=N\n"
	"  --workload W       disk: read, write, randread (default), randwrite, randrw;\n"
	"                     sockets: echo (the backend is the client), serve (the\n"
	"                     backend is the server), stream (one-way bulk send)\n"
	"  --rwmix PCT        randrw: percent of reads, 0..100 (default 50)\n"
	"  --bs SIZE          block size, 512 to 64m (default 4k)\n"
	"  --size SIZE        file size covered (default 1g; with --file, all of it:\n"
	"                     more than the file holds is refused)\n"
	"  --file PATH        a file, made and laid out to --size when missing (and\n"
	"                     kept), or (with --allow-device) a block device;\n"
	"                     default: a temporary file in $TMPDIR, removed after\n"
	"  --overwrite        allow a write workload on an existing --file\n"
	"  --allow-device     allow --file to be a block device\n"
	"  --direct           O_DIRECT\n"
	"  --depth N          operations in flight per job, 1..4096 (default 1)\n"
	"  --jobs N           threads, each with its own backend context, 1..256 (default 1)\n"
	"  --batch N          reap at least N completions before refilling (default 1)\n"
	"  --submit-batch N   submit at most N operations per call (default 0: all ready)\n"
	"  --time DURATION    measured window, e.g. 5s, 500ms, 2m  } exactly one\n"
	"  --ops COUNT        operations to measure, e.g. 100k     } of these\n"
	"  --warmup DURATION  run before the window opens (default 0)\n"
	"  --cache MODE       warm (default: read the file in first) or cold (drop it)\n"
	"  --fsync N          an fsync after every N writes of a job\n"
	"  --verify           check every block read; write checkable blocks\n"
	"  --seed N           seed of the random offsets (default 1)\n"
	"  --distribution D   where random offsets fall: random (default), zipf:S,\n"
	"                     pareto:H, normal:DEV or zoned:A/R:A/R... (as fio's\n"
	"                     random_distribution; the hot blocks first)\n"
	"  --cpu N            pin job thread i to CPU N+i (mod CPUs); default unpinned\n"
	"  --cpus LIST        pin job thread i to the i-th CPU of LIST (0,2-3), cycling\n"
	"  --trace N          keep submit and completion times of the first N ops of\n"
	"                     each job in the window (JSON \"trace\"), 0..100000\n"
	"  --rate N           open loop (disk workloads, echo): N operations (echo:\n"
	"                     requests) per second over all jobs, or poisson:N;\n"
	"                     latency counts from each one's intended start\n"
	"  --count MODE       syscall counting: separate (default: a second pass with\n"
	"                     kernel counters; the timed pass runs without them),\n"
	"                     inline (count while timing), off\n"
	"Sockets (echo, serve, stream); --depth is requests in flight per connection:\n"
	"  --conns N          connections over all jobs, 1..100000 (default 1)\n"
	"  --msg SIZE         request size (echo, serve; default 64) or bytes per send\n"
	"                     (stream; default 128k), up to 4m\n"
	"  --no-check         stream: the sink counts the bytes without comparing them\n"
	"                     with the pattern (for throughput against tools that do not\n"
	"                     check); the result says \"not checked\"\n"
	"  --transport T      tcp (default), tcp6 or unix\n"
	"  --connect ADDR     a responder started with 'iolens responder' (default: one\n"
	"                     in this process on loopback)\n"
	"  --listen ADDR      serve: where the backend listens (default loopback)\n"

	"  --think USEC       CPU work (a spin) after each completed request\n"
	"  --delay USEC       the responder answers each request after this delay\n"
	"  --peer-cpu N       pin the built-in responder or load generator to CPU N\n"
	"                     (default unpinned; where it ran is reported either way)\n"
	"\n"
	"  --json PATH|-      write JSON (schema iolens/1)\n"
	"  --csv PATH|-       write CSV, one row per backend\n"
	"  -v, --notes        print each backend's notes under the table and verdict:\n"
	"                     counters, syscalls by name, the model's evidence (always\n"
	"                     in the JSON)\n"
	"  --repeat N         run every backend N times, 1..1000 (default 1), one after\n"
	"                     the other: the repeats iolens diff tests for significance\n"
	"  --hdr-log PATH     write the latency histograms as an HdrHistogram V2\n"
	"                     interval log (one interval per backend and repeat)\n"
	"  --db PATH          record the run in this results database (default\n"
	"                     $IOLENS_DB, else $XDG_DATA_HOME/iolens/results.db)\n"
	"  --no-db            record nothing\n"
	"  --label TEXT       name the run in the database, for history and diff\n"
	"\n"
	"fio job files (docs/fio.md): each job section is a workload, run in turn:\n"
	"  --fio-job FILE     run the jobs of FILE; its ioengine picks the backend unless\n"
	"                     --backend is given; options the file sets are not given\n"
	"                     again here (also: iolens fio FILE [options])\n"
	"  --fio-lenient      skip options iolens does not know, with a warning\n"
	"  --fio-serial       run the jobs of a group (no stonewall between them) one\n"
	"                     after the other; fio runs them at once\n"
	"  --fio-scale F      multiply every size and time of the file by F (0 < F <= 1),\n"
	"                     keeping at least one block per job\n"
	"\n"
	"SIZE takes k, m, g, t (powers of 1024); COUNT takes k, m, g (powers of 1000).\n"
	"Exit status: 0 ok, 1 a backend failed, 2 bad usage, 130 interrupted.\n";

enum {
	OPT_BACKEND = 256, OPT_WORKLOAD, OPT_RWMIX, OPT_BS, OPT_SIZE, OPT_FILE, OPT_OVERWRITE, OPT_DEVICE,
	OPT_DIRECT, OPT_DEPTH, OPT_JOBS, OPT_BATCH, OPT_SUBMIT_BATCH, OPT_TIME, OPT_OPS, OPT_WARMUP, OPT_CACHE, OPT_FSYNC,
	OPT_VERIFY, OPT_NO_CHECK, OPT_SEED, OPT_COUNT, OPT_JSON, OPT_CSV, OPT_CONNS, OPT_MSG,
	OPT_TRANSPORT, OPT_CONNECT, OPT_LISTEN, OPT_RATE, OPT_THINK, OPT_DELAY, OPT_CPU, OPT_CPUS, OPT_PEER_CPU,
	OPT_TRACE, OPT_NOTES, OPT_REPEAT, OPT_HDR_LOG, OPT_DB, OPT_NO_DB, OPT_LABEL, OPT_DISTRIBUTION,
	OPT_FIO_JOB, OPT_FIO_LENIENT, OPT_FIO_SERIAL, OPT_FIO_SCALE, OPT__END
};

_Static_assert(OPT__END - OPT_BACKEND <= sizeof(((struct iolens__run_args *)0)->given),
	       "iolens__run_args.given holds every option");

#define WL(k) (1u << IOLENS_WL_##k)
#define WL_WRITES (WL(WRITE) | WL(RANDWRITE) | WL(RANDRW))
#define WL_RANDOM (WL(RANDREAD) | WL(RANDWRITE) | WL(RANDRW))
#define WL_DISK (WL(READ) | WL(WRITE) | WL_RANDOM)
#define WL_NET (WL(ECHO) | WL(SERVE) | WL(STREAM))
#define WL_ANY (WL_DISK | WL_NET)

/* Each option, and the workloads that can use it. */
static const struct {
	struct option o;
	unsigned workloads;
} run_options[] = {
	{ { "backend", required_argument, NULL, OPT_BACKEND }, WL_ANY },
	{ { "workload", required_argument, NULL, OPT_WORKLOAD }, WL_ANY },
	{ { "rwmix", required_argument, NULL, OPT_RWMIX }, WL(RANDRW) },
	{ { "bs", required_argument, NULL, OPT_BS }, WL_DISK },
	{ { "size", required_argument, NULL, OPT_SIZE }, WL_DISK },
	{ { "file", required_argument, NULL, OPT_FILE }, WL_DISK },
	{ { "overwrite", no_argument, NULL, OPT_OVERWRITE }, WL_WRITES },
	{ { "allow-device", no_argument, NULL, OPT_DEVICE }, WL_DISK },
	{ { "direct", no_argument, NULL, OPT_DIRECT }, WL_DISK },
	{ { "depth", required_argument, NULL, OPT_DEPTH }, WL_ANY },
	{ { "jobs", required_argument, NULL, OPT_JOBS }, WL_ANY },
	{ { "batch", required_argument, NULL, OPT_BATCH }, WL_DISK },
	{ { "submit-batch", required_argument, NULL, OPT_SUBMIT_BATCH }, WL_DISK },
	{ { "time", required_argument, NULL, OPT_TIME }, WL_ANY },
	{ { "ops", required_argument, NULL, OPT_OPS }, WL_ANY },
	{ { "warmup", required_argument, NULL, OPT_WARMUP }, WL_ANY },
	{ { "cache", required_argument, NULL, OPT_CACHE }, WL_DISK },
	{ { "fsync", required_argument, NULL, OPT_FSYNC }, WL_WRITES },
	{ { "verify", no_argument, NULL, OPT_VERIFY }, WL_DISK },
	{ { "no-check", no_argument, NULL, OPT_NO_CHECK }, WL(STREAM) },
	{ { "seed", required_argument, NULL, OPT_SEED }, WL_RANDOM },
	{ { "distribution", required_argument, NULL, OPT_DISTRIBUTION }, WL_RANDOM },
	{ { "count", required_argument, NULL, OPT_COUNT }, WL_ANY },
	{ { "json", required_argument, NULL, OPT_JSON }, WL_ANY },
	{ { "csv", required_argument, NULL, OPT_CSV }, WL_ANY },
	{ { "conns", required_argument, NULL, OPT_CONNS }, WL_NET },
	{ { "msg", required_argument, NULL, OPT_MSG }, WL_NET },
	{ { "transport", required_argument, NULL, OPT_TRANSPORT }, WL_NET },
	{ { "connect", required_argument, NULL, OPT_CONNECT }, WL(ECHO) | WL(STREAM) },
	{ { "listen", required_argument, NULL, OPT_LISTEN }, WL(SERVE) },
	{ { "rate", required_argument, NULL, OPT_RATE }, WL(ECHO) | WL_DISK },
	{ { "think", required_argument, NULL, OPT_THINK }, WL(ECHO) | WL(SERVE) },
	{ { "delay", required_argument, NULL, OPT_DELAY }, WL(ECHO) },
	{ { "cpu", required_argument, NULL, OPT_CPU }, WL_ANY },
	{ { "cpus", required_argument, NULL, OPT_CPUS }, WL_ANY },
	{ { "peer-cpu", required_argument, NULL, OPT_PEER_CPU }, WL_NET },
	{ { "trace", required_argument, NULL, OPT_TRACE }, WL_ANY },
	{ { "notes", no_argument, NULL, OPT_NOTES }, WL_ANY },
	{ { "repeat", required_argument, NULL, OPT_REPEAT }, WL_ANY },
	{ { "hdr-log", required_argument, NULL, OPT_HDR_LOG }, WL_ANY },
	{ { "db", required_argument, NULL, OPT_DB }, WL_ANY },
	{ { "no-db", no_argument, NULL, OPT_NO_DB }, WL_ANY },
	{ { "label", required_argument, NULL, OPT_LABEL }, WL_ANY },
	{ { "fio-job", required_argument, NULL, OPT_FIO_JOB }, WL_DISK },
	{ { "fio-lenient", no_argument, NULL, OPT_FIO_LENIENT }, WL_DISK },
	{ { "fio-serial", no_argument, NULL, OPT_FIO_SERIAL }, WL_DISK },
	{ { "fio-scale", required_argument, NULL, OPT_FIO_SCALE }, WL_DISK },
	{ { "help", no_argument, NULL, 'h' }, WL_ANY },
};

#define NOPTIONS (sizeof(run_options) / sizeof(run_options[0]))

/* The name of the option whose getopt value is val, or NULL. */
static const char *option_name(int val)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (run_options[i].o.val == val)
			return run_options[i].o.name;
	return NULL;
}

/* A whole number for --NAME within [lo, hi]. */
static int parse_uint_opt(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (iolens__parse_count(s, out) || *out < lo || *out > hi)
		return iolens__usage("--%s: '%s' is not accepted (accepts a whole number from %llu to %llu)",
				     name, s, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int parse_size_opt(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (iolens__parse_size(s, out))
		return iolens__usage("--%s: '%s' is not a size (accepts a number with an optional k, m, g or t suffix, e.g. 4k)",
				     name, s);
	if (*out < lo || *out > hi)
		return iolens__usage("--%s: '%s' is out of range (accepts %llu to %llu bytes)", name, s,
				     (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int parse_duration_opt(const char *name, const char *s, double lo, double hi,
			      const char *range, double *out)
{
	if (iolens__parse_duration(s, out))
		return iolens__usage("--%s: '%s' is not a duration (accepts a number with an optional unit us, ms, s, m or h, e.g. 5s)",
				     name, s);
	if (*out < lo || *out > hi)
		return iolens__usage("--%s: '%s' is out of range (accepts %s)", name, s, range);
	return 0;
}

/* Microseconds: a plain number, or a duration with a unit (50ms). */
static int parse_usec_opt(const char *name, const char *s, uint64_t max_us, uint64_t *ns)
{
	double sec;
	uint64_t us;

	if (s[0] && strspn(s, "0123456789") == strlen(s)) {
		if (iolens__parse_count(s, &us) || us > max_us)
			goto bad;
		*ns = us * 1000;
		return 0;
	}
	if (iolens__parse_duration(s, &sec) || sec < 0 || sec * 1e6 > (double)max_us)
		goto bad;
	*ns = (uint64_t)(sec * 1e9 + 0.5);
	return 0;
bad:
	return iolens__usage("--%s: '%s' is not a delay (accepts microseconds 0 to %llu, or a duration like 50ms)",
			     name, s, (unsigned long long)max_us);
}

/* Requests per second: N (constant gaps) or poisson:N, 1 to 1e9. */
static int parse_rate(const char *s, struct iolens_workload *w)
{
	const char *num = s;
	double v;

	w->poisson = strncmp(s, "poisson:", 8) == 0;
	if (w->poisson)
		num = s + 8;
	if (iolens__parse_decimal(num, &v) || !(v >= 1) || v > 1e9)
		return iolens__usage("--rate: '%s' is not a rate (accepts requests per second from 1 to 1000000000, optionally poisson:N)",
				     s);
	w->rate = v;
	return 0;
}

static int parse_cpu(int c, const char *s, struct iolens_workload *w)
{
	uint64_t v;
	int r = parse_uint_opt(c == OPT_CPU ? "cpu" : "peer-cpu", s, 0, 4095, &v);

	if (!r)
		*(c == OPT_CPU ? &w->cpu : &w->peer_cpu) = (int)v;
	return r;
}

/* One option's value into a; 0 or the usage status. */
static int take(int c, const char *arg, struct iolens__run_args *a)
{
	struct iolens_workload *w = &a->w;
	uint64_t v = 0;
	int r = 0;

	switch (c) {
	case OPT_WORKLOAD:
		w->kind = iolens_workload_parse(arg);
		if (w->kind < 0)
			r = iolens__usage("--workload: '%s' is not a workload (accepts read, write, randread, randwrite, randrw, echo, serve, stream)",
					  arg);
		break;
	case OPT_RWMIX:
		r = parse_uint_opt("rwmix", arg, 0, 100, &v);
		w->rwmix = (unsigned)v;
		break;
	case OPT_BS:
		r = parse_size_opt("bs", arg, 512, 64ull << 20, &v);
		w->bs = (uint32_t)v;
		break;
	case OPT_SIZE:
		r = parse_size_opt("size", arg, 1, UINT64_MAX, &w->size);
		break;
	case OPT_DEPTH:
		r = parse_uint_opt("depth", arg, 1, 4096, &v);
		w->depth = (unsigned)v;
		break;
	case OPT_JOBS:
		r = parse_uint_opt("jobs", arg, 1, 256, &v);
		w->jobs = (unsigned)v;
		break;
	case OPT_BATCH:
		r = parse_uint_opt("batch", arg, 1, 4096, &v);
		w->batch = (unsigned)v;
		break;
	case OPT_SUBMIT_BATCH:
		r = parse_uint_opt("submit-batch", arg, 0, 4096, &v);
		w->submit_batch = (unsigned)v;
		break;
	case OPT_TIME:
		r = parse_duration_opt("time", arg, 1e-3, 7 * 86400.0, "1ms to 7 days", &w->time_s);
		break;
	case OPT_OPS:
		r = parse_uint_opt("ops", arg, 1, UINT64_MAX / 2, &w->ops);
		break;
	case OPT_WARMUP:
		r = parse_duration_opt("warmup", arg, 0, 3600, "0 to 1h", &w->warmup_s);
		break;
	case OPT_CACHE:
		if (strcmp(arg, "warm") == 0)
			w->cache = IOLENS_CACHE_WARM;
		else if (strcmp(arg, "cold") == 0)
			w->cache = IOLENS_CACHE_COLD;
		else if (strcmp(arg, "half") == 0)
			w->cache = IOLENS_CACHE_HALF;
		else
			r = iolens__usage("--cache: '%s' is not a cache mode (accepts warm, cold or half)", arg);
		break;
	case OPT_FSYNC:
		r = parse_uint_opt("fsync", arg, 0, 1u << 30, &v);
		w->fsync_every = (unsigned)v;
		break;
	case OPT_SEED:
		r = parse_uint_opt("seed", arg, 0, UINT64_MAX, &w->seed);
		break;
	case OPT_DISTRIBUTION: /* checked where the target opens, as the library's callers are */
		w->distribution = arg;
		break;
	case OPT_COUNT:
		if (strcmp(arg, "separate") == 0)
			w->count = IOLENS_COUNT_SEPARATE;
		else if (strcmp(arg, "inline") == 0)
			w->count = IOLENS_COUNT_INLINE;
		else if (strcmp(arg, "off") == 0)
			w->count = IOLENS_COUNT_OFF;
		else
			r = iolens__usage("--count: '%s' is not a counting mode (accepts separate, inline or off)", arg);
		break;
	case OPT_CONNS:
		r = parse_uint_opt("conns", arg, 1, 100000, &v);
		w->conns = (unsigned)v;
		break;
	case OPT_MSG:
		r = parse_size_opt("msg", arg, 1, 4u << 20, &v);
		w->msg = (uint32_t)v;
		break;
	case OPT_TRANSPORT:
		w->transport = iolens_transport_parse(arg);
		if (w->transport < 0)
			r = iolens__usage("--transport: '%s' is not a transport (accepts tcp, tcp6 or unix)", arg);
		break;
	case OPT_RATE:
		r = parse_rate(arg, w);
		break;
	case OPT_THINK:
		r = parse_usec_opt("think", arg, 1000000, &w->think_ns);
		break;
	case OPT_DELAY:
		r = parse_usec_opt("delay", arg, 60000000, &w->delay_ns);
		break;
	case OPT_CPU:
	case OPT_PEER_CPU:
		r = parse_cpu(c, arg, w);
		break;
	case OPT_TRACE:
		r = parse_uint_opt("trace", arg, 0, 100000, &v);
		w->trace = (unsigned)v;
		break;
	case OPT_BACKEND: /* checked once the workload is known */
		break;
	case OPT_FILE:
		if (!*arg)
			r = iolens__usage("--file: empty (accepts the path of an existing file or block device)");
		w->file = arg;
		break;
	case OPT_CONNECT:
	case OPT_LISTEN:
		if (!*arg)
			r = iolens__usage("--%s: empty (accepts HOST:PORT, [V6]:PORT or a Unix socket path)",
					  c == OPT_CONNECT ? "connect" : "listen");
		*(c == OPT_CONNECT ? &w->connect : &w->listen) = arg;
		break;
	case OPT_CPUS:
		w->cpus = arg;
		break;
	case OPT_JSON:
	case OPT_CSV:
		if (!*arg)
			r = iolens__usage("--%s: empty (accepts a file path, or - for stdout)",
					  c == OPT_JSON ? "json" : "csv");
		*(c == OPT_JSON ? &a->json : &a->csv) = arg;
		break;
	case OPT_OVERWRITE:
		w->overwrite = 1;
		break;
	case OPT_DEVICE:
		w->allow_device = 1;
		break;
	case OPT_DIRECT:
		w->direct = 1;
		break;
	case OPT_VERIFY:
		w->verify = 1;
		break;
	case OPT_NOTES: /* how the table prints, not what runs */
		a->notes = 1;
		break;
	case OPT_NO_CHECK:
		w->stream_nocheck = 1;
		break;
	case OPT_REPEAT:
		r = parse_uint_opt("repeat", arg, 1, 1000, &v);
		a->repeat = (unsigned)v;
		break;
	case OPT_HDR_LOG:
		if (!*arg)
			r = iolens__usage("--hdr-log: empty (accepts a file path)");
		a->hdr_log = arg;
		break;
	case OPT_DB:
	case OPT_NO_DB:
	case OPT_LABEL:
		r = iolens__store_opt(&a->store, option_name(c), arg);
		break;
	case OPT_FIO_JOB:
		if (!*arg)
			r = iolens__usage("--fio-job: empty (accepts the path of a fio job file)");
		a->fio_job = arg;
		break;
	case OPT_FIO_LENIENT:
		a->fio_lenient = 1;
		break;
	case OPT_FIO_SERIAL:
		a->fio_serial = 1;
		break;
	case OPT_FIO_SCALE:
		if (iolens__parse_decimal(arg, &a->fio_scale) || !(a->fio_scale > 0) ||
		    a->fio_scale > 1)
			r = iolens__usage("--fio-scale: '%s' is not accepted (accepts a factor above 0 and at most 1, e.g. 0.01)",
					  arg);
		break;
	}
	return r;
}

/* getopt's complaint, said with the option's name. */
static int bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];
	const char *name = option_name(optopt);

	if (c == ':')
		return iolens__usage("%s needs a value (see iolens run --help)", arg);
	if (optopt && name && (optopt >= OPT_BACKEND || !strncmp(arg, "--", 2)))
		return iolens__usage("--%s takes no value (see iolens run --help)", name);
	if (optopt)
		return iolens__usage("unknown option '-%c' (see iolens run --help)", optopt);
	return iolens__usage("unknown option '%s' (see iolens run --help)", arg);
}

static int add_spec(struct iolens__run_args *a, const char *spec)
{
	if (a->nspecs == IOLENS__MAX_SPECS)
		return iolens__usage("--backend: at most %d backends in one run", IOLENS__MAX_SPECS);
	a->specs[a->nspecs] = strdup(spec);
	if (!a->specs[a->nspecs])
		return iolens__usage("out of memory");
	a->nspecs++;
	return 0;
}

/*
 * Split the --backend list into specs, checking each and whether its options
 * fit the workload; "all" stands for every backend.
 */
static int parse_specs(const char *list, struct iolens__run_args *a)
{
	const struct iolens_backend_info *all;
	size_t count = iolens_backends(&all);
	char err[256], *copy, *save = NULL;
	int r = 0;

	if (!*list || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,"))
		return iolens__usage("--backend: '%s' has an empty name (accepts names separated by commas, or all)",
				     list);
	copy = strdup(list);
	if (!copy)
		return iolens__usage("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			for (size_t i = 0; i < count && !r; i++)
				r = add_spec(a, all[i].name);
		} else if (iolens_spec_check(tok, a->fio_job ? -1 : a->w.kind, err, sizeof(err))) {
			r = iolens__usage("%s", err);
		} else {
			r = add_spec(a, tok);
		}
	}
	free(copy);
	return r;
}

int iolens__run_given(const struct iolens__run_args *a, const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		int val = run_options[i].o.val;

		if (val >= OPT_BACKEND && !strcmp(run_options[i].o.name, name))
			return a->given[val - OPT_BACKEND];
	}
	return 0;
}

int iolens__run_fits(const struct iolens__run_args *a, unsigned kinds, const char *with)
{
	char accepts[128];

	for (size_t i = 0; i < NOPTIONS; i++) {
		int val = run_options[i].o.val;

		if (val < OPT_BACKEND || !a->given[val - OPT_BACKEND] ||
		    (run_options[i].workloads & kinds))
			continue;
		iolens_workload_names(run_options[i].workloads, accepts, sizeof(accepts));
		return iolens__usage("--%s: not accepted with %s (applies to %s)",
				     run_options[i].o.name, with, accepts);
	}
	return 0;
}

/*
 * The fio options given without --fio-job, and what --fio-job rules out
 * before the file is read: the workload is the file's. The rest is
 * checked against the file's jobs when it has been read (cli_fio_map.c).
 */
static int check_fio(const struct iolens__run_args *a)
{
	static const int fio_only[] = { OPT_FIO_LENIENT, OPT_FIO_SERIAL, OPT_FIO_SCALE };

	if (!a->fio_job) {
		for (size_t i = 0; i < sizeof(fio_only) / sizeof(fio_only[0]); i++)
			if (a->given[fio_only[i] - OPT_BACKEND])
				return iolens__usage("--%s: only with --fio-job FILE",
						     option_name(fio_only[i]));
		return 0;
	}
	if (a->given[OPT_WORKLOAD - OPT_BACKEND])
		return iolens__usage("--workload: not with --fio-job (each job's rw in the file is its workload; fio's default is read)");
	return 0;
}

/* Options given that the workload cannot use, and pairs that exclude each other. */
static int check_combination(const struct iolens__run_args *a)
{
	const unsigned char *given = a->given;
	char with[64];
	int r = check_fio(a);

	if (r)
		return r;
	snprintf(with, sizeof(with), "--workload %s", iolens_workload_name(a->w.kind));
	r = a->fio_job ? 0 : iolens__run_fits(a, 1u << a->w.kind, with);
	if (r)
		return r;
	if (given[OPT_TIME - OPT_BACKEND] && given[OPT_OPS - OPT_BACKEND])
		return iolens__usage("--time/--ops: give one of them, not both");
	if (!given[OPT_TIME - OPT_BACKEND] && !given[OPT_OPS - OPT_BACKEND] && !a->fio_job)
		return iolens__usage("--time/--ops: one of them is required (a duration like 5s, or a count like 100k)");
	if (a->json && a->csv && !strcmp(a->json, "-") && !strcmp(a->csv, "-"))
		return iolens__usage("--json/--csv: only one of them can go to stdout (-)");
	return iolens__store_opt_check(&a->store);
}

int iolens__run_parse(int argc, char **argv, struct iolens__run_args *a)
{
	struct option longopts[NOPTIONS + 1];
	const char *backends = "all";
	int c, r = 0;

	memset(a, 0, sizeof(*a));
	iolens_workload_init(&a->w);
	a->w.time_s = 0;
	a->repeat = 1;
	a->fio_scale = 1;
	for (size_t i = 0; i < NOPTIONS; i++)
		longopts[i] = run_options[i].o;
	memset(&longopts[NOPTIONS], 0, sizeof(longopts[NOPTIONS]));
	opterr = 0;
	optind = 0; /* a full restart of getopt, for callers that parse more than once */
	while (!r && (c = getopt_long(argc, argv, "+:hv", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(iolens__run_help, stdout);
			return -1;
		}
		if (c == 'v')
			c = OPT_NOTES;
		if (c == '?' || c == ':')
			return bad_option(c, argv);
		a->given[c - OPT_BACKEND] = 1;
		if (c == OPT_BACKEND)
			backends = optarg;
		r = take(c, optarg, a);
	}
	if (r)
		return r;
	if (optind < argc)
		return iolens__usage("unexpected argument '%s' (see iolens run --help)", argv[optind]);
	r = check_combination(a);
	/*
	 * --file: made when missing (as fio does; then --size says how big);
	 * an existing one without --size is covered whole, not the default 1g.
	 */
	if (!r && a->w.file) {
		a->w.create = 1;
		if (!a->given[OPT_SIZE - OPT_BACKEND])
			a->w.size = 0;
	}
	/* A job file's ioengine picks each job's backend unless --backend is given. */
	if (!r && (!a->fio_job || a->given[OPT_BACKEND - OPT_BACKEND]))
		r = parse_specs(backends, a);
	if (!r && (uint64_t)a->repeat * a->nspecs > IOLENS__MAX_RESULTS)
		r = iolens__usage("--repeat: %u repeats of %zu backends is more than %d results (accepts fewer)",
				  a->repeat, a->nspecs, IOLENS__MAX_RESULTS);
	if (r)
		iolens__run_args_free(a);
	return r;
}

void iolens__run_args_free(struct iolens__run_args *a)
{
	for (size_t i = 0; i < a->nspecs; i++)
		free(a->specs[i]);
	a->nspecs = 0;
}
