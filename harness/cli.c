/*
 * The iolens command: thin on purpose. It parses options, validates them
 * before anything touches the disk, runs the library, and writes the
 * formats asked for. Exit status: 0 ok, 1 a run failed, 2 bad usage,
 * 130 interrupted (output still written, marked interrupted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_compare.h"
#include "cli_demo.h"
#include "cli_opts.h"
#include "cli_usage.h"
#include "cli_responder.h"
#include "iolens/iolens.h"
#include "peer.h"
#include "report.h"
#include "report_table.h"
#include "spec.h"
#include "syscount.h"

#define MAX_SPECS 64

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* An output file: written to a temporary name beside it, renamed when complete. */
struct output {
	const char *path; /* NULL: not asked; "-": stdout */
	char tmp[PATH_MAX];
	FILE *f;
};

static struct output json_out, csv_out;

static void discard(struct output *o)
{
	if (o->f && o->f != stdout) {
		fclose(o->f);
		unlink(o->tmp);
	}
	o->f = NULL;
}

static void cleanup_outputs(void)
{
	discard(&json_out);
	discard(&csv_out);
}

/* A usage error also removes the half-made output files. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	int r;

	cleanup_outputs();
	va_start(ap, fmt);
	r = iolens__vusage(fmt, ap);
	va_end(ap);
	return r;
}

static int open_output(struct output *o, const char *opt)
{
	char dir[PATH_MAX];
	mode_t mask;
	int fd;

	if (!o->path || strcmp(o->path, "-") == 0) {
		o->f = o->path ? stdout : NULL;
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", o->path);
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%s/.iolens-out-XXXXXX", dirname(dir)) >=
	    sizeof(o->tmp))
		return usage_error("%s: path too long", opt);
	fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0)
		return usage_error("%s: cannot write '%s': %s (accepts a writable path or -)", opt,
				   o->path, strerror(errno));
	/* mkostemp makes it 0600; results are for others to read, as a plain create would be. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		close(fd);
		unlink(o->tmp);
		return usage_error("%s: %s", opt, strerror(errno));
	}
	return 0;
}

static int finish_output(struct output *o)
{
	int err;

	if (!o->f || o->f == stdout) {
		if (o->f)
			fflush(stdout);
		return 0;
	}
	err = ferror(o->f) | fflush(o->f) | fsync(fileno(o->f));
	err |= fclose(o->f);
	o->f = NULL;
	if (err || rename(o->tmp, o->path)) {
		fprintf(stderr, "iolens: writing '%s': %s\n", o->path, strerror(errno));
		unlink(o->tmp);
		return -1;
	}
	return 0;
}

static const char run_help[] =
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
	"  --size SIZE        file size covered (default 1g)\n"
	"  --file PATH        existing file or (with --allow-device) block device;\n"
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
	"  --cpu N            pin job thread i to CPU N+i (mod CPUs); default unpinned\n"
	"  --cpus LIST        pin job thread i to the i-th CPU of LIST (0,2-3), cycling\n"
	"  --trace N          keep submit and completion times of the first N ops of\n"
	"                     each job in the window (JSON \"trace\"), 0..100000\n"
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
	"  --rate N           echo open loop: N requests/s over all jobs, or poisson:N;\n"
	"                     latency counts from each request's intended send time\n"
	"  --think USEC       CPU work (a spin) after each completed request\n"
	"  --delay USEC       the responder answers each request after this delay\n"
	"  --peer-cpu N       pin the built-in responder or load generator to CPU N\n"
	"                     (default unpinned; where it ran is reported either way)\n"
	"\n"
	"  --json PATH|-      write JSON (schema iolens/1)\n"
	"  --csv PATH|-       write CSV, one row per backend\n"
	"\n"
	"SIZE takes k, m, g, t (powers of 1024); COUNT takes k, m, g (powers of 1000).\n"
	"Exit status: 0 ok, 1 a backend failed, 2 bad usage, 130 interrupted.\n";

static const char main_help[] =
	"usage: iolens COMMAND [options]\n"
	"\n"
	"  iolens list         every backend, available or not, with its declared model\n"
	"  iolens doctor       what this machine lets iolens measure, and how to enable the rest\n"
	"  iolens run [opts]   run a workload on backends (iolens run --help)\n"
	"  iolens compare      the default comparison: disk and sockets, every backend\n"
	"  iolens demo         three lessons around real measurements (iolens demo --help)\n"
	"  iolens responder    serve echo, sink and source sockets (iolens responder --help)\n"
	"  iolens --version    print the version\n";

static int cmd_list(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);

	printf("%-10s %-10s %-32s %s\n", "backend", "available", "model (declared)", "notes");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %-10s %-32s %s\n", b[i].name, b[i].available ? "yes" : "no",
		       b[i].model, b[i].available ? b[i].summary : b[i].reason);
	return 0;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "unknown");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

static int cmd_doctor(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);
	const char *tracefs = iolens__tracefs();
	char why[192], paranoid[32], aio_nr[32], aio_max[32], uring[32];
	int counters = iolens__syscount_probe(why, sizeof(why)) == 0;

	read_line("/proc/sys/kernel/perf_event_paranoid", paranoid, sizeof(paranoid));
	read_line("/proc/sys/fs/aio-nr", aio_nr, sizeof(aio_nr));
	read_line("/proc/sys/fs/aio-max-nr", aio_max, sizeof(aio_max));
	read_line("/proc/sys/kernel/io_uring_disabled", uring, sizeof(uring));
	printf("running as:           %s\n", geteuid() == 0 ? "root" : "an unprivileged user");
	printf("tracefs:              %s\n", tracefs ? tracefs : "not mounted, or not readable by this user");
	printf("perf_event_paranoid:  %s\n", paranoid);
	printf("syscall counters:     %s\n", counters ? "available (syscalls are counted)" : why);
	printf("io_uring_disabled:    %s\n", uring);
	printf("aio-nr / aio-max-nr:  %s / %s\n", aio_nr, aio_max);
	for (size_t i = 0; i < n; i++)
		printf("backend %-12s  %s%s\n", b[i].name, b[i].available ? "available" : "unavailable: ",
		       b[i].available ? "" : b[i].reason);
	printf("hardware counters:    not used (iolens counts syscalls with tracepoints only)\n");
	if (!counters) {
		printf("\nTo count syscalls:\n");
		if (!tracefs && geteuid() == 0)
			printf("  mount -t tracefs nodev /sys/kernel/tracing\n");
		if (geteuid() != 0)
			printf("  run iolens as root (tracefs event ids are readable by root only),\n"
			       "  or as root: sysctl -w kernel.perf_event_paranoid=-1 and make\n"
			       "  /sys/kernel/tracing/events readable to this user\n");
	}
	return 0;
}

enum {
	OPT_BACKEND = 256, OPT_WORKLOAD, OPT_RWMIX, OPT_BS, OPT_SIZE, OPT_FILE, OPT_OVERWRITE, OPT_DEVICE,
	OPT_DIRECT, OPT_DEPTH, OPT_JOBS, OPT_BATCH, OPT_SUBMIT_BATCH, OPT_TIME, OPT_OPS, OPT_WARMUP, OPT_CACHE, OPT_FSYNC,
	OPT_VERIFY, OPT_NO_CHECK, OPT_SEED, OPT_COUNT, OPT_JSON, OPT_CSV, OPT_HELP, OPT_CONNS, OPT_MSG,
	OPT_TRANSPORT, OPT_CONNECT, OPT_LISTEN, OPT_RATE, OPT_THINK, OPT_DELAY, OPT_CPU, OPT_CPUS, OPT_PEER_CPU,
	OPT_TRACE,
};

static const struct option run_options[] = {
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "rwmix", required_argument, NULL, OPT_RWMIX },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "allow-device", no_argument, NULL, OPT_DEVICE },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "submit-batch", required_argument, NULL, OPT_SUBMIT_BATCH },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "fsync", required_argument, NULL, OPT_FSYNC },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "no-check", no_argument, NULL, OPT_NO_CHECK },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "conns", required_argument, NULL, OPT_CONNS },
	{ "msg", required_argument, NULL, OPT_MSG },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "think", required_argument, NULL, OPT_THINK },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "peer-cpu", required_argument, NULL, OPT_PEER_CPU },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A whole number for --NAME within [lo, hi]. */
static int parse_uint_opt(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (iolens__parse_count(s, out) || *out < lo || *out > hi)
		return usage_error("--%s: '%s' is not accepted (accepts a whole number from %llu to %llu)",
				   name, s, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int parse_size_opt(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (iolens__parse_size(s, out))
		return usage_error("--%s: '%s' is not a size (accepts a number with an optional k, m, g or t suffix, e.g. 4k)",
				   name, s);
	if (*out < lo || *out > hi)
		return usage_error("--%s: '%s' is out of range (accepts %llu to %llu bytes)", name, s,
				   (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int parse_duration_opt(const char *name, const char *s, double *out)
{
	if (iolens__parse_duration(s, out))
		return usage_error("--%s: '%s' is not a duration (accepts a number with an optional unit us, ms, s, m or h, e.g. 5s)",
				   name, s);
	return 0;
}

struct run_args {
	struct iolens_workload w;
	const char *backends;
	int time_given, ops_given;
};

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
	return usage_error("--%s: '%s' is not a delay (accepts microseconds 0 to %llu, or a duration like 50ms)",
			   name, s, (unsigned long long)max_us);
}

/* Requests per second: N (constant gaps) or poisson:N. */
static int parse_rate(const char *s, struct iolens_workload *w)
{
	const char *num = s;
	char *end;
	double v;

	w->poisson = strncmp(s, "poisson:", 8) == 0;
	if (w->poisson)
		num = s + 8;
	errno = 0;
	v = strtod(num, &end);
	if (errno || end == num || *end || !(v > 0) || v > 1e9)
		return usage_error("--rate: '%s' is not a rate (accepts requests per second, 1 to 1e9, optionally poisson:N)",
				   s);
	w->rate = v;
	return 0;
}

static int parse_run(int argc, char **argv, struct run_args *a)
{
	uint64_t v;
	int c, r = 0;

	iolens_workload_init(&a->w);
	a->w.time_s = 0;
	a->backends = "all";
	opterr = 0;
	optind = 1;
	while (!r && (c = getopt_long(argc, argv, "h", run_options, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			a->backends = optarg;
			break;
		case OPT_WORKLOAD:
			a->w.kind = iolens_workload_parse(optarg);
			if (a->w.kind < 0)
				r = usage_error("--workload: '%s' is not a workload (accepts read, write, randread, randwrite, randrw, echo, serve, stream)",
						optarg);
			break;
		case OPT_RWMIX:
			r = parse_uint_opt("rwmix", optarg, 0, 100, &v);
			a->w.rwmix = (unsigned)v;
			break;
		case OPT_BS:
			r = parse_size_opt("bs", optarg, 512, 64ull << 20, &v);
			a->w.bs = (uint32_t)v;
			break;
		case OPT_SIZE:
			r = parse_size_opt("size", optarg, 1, UINT64_MAX, &a->w.size);
			break;
		case OPT_FILE:
			a->w.file = optarg;
			break;
		case OPT_OVERWRITE:
			a->w.overwrite = 1;
			break;
		case OPT_DEVICE:
			a->w.allow_device = 1;
			break;
		case OPT_DIRECT:
			a->w.direct = 1;
			break;
		case OPT_DEPTH:
			r = parse_uint_opt("depth", optarg, 1, 4096, &v);
			a->w.depth = (unsigned)v;
			break;
		case OPT_JOBS:
			r = parse_uint_opt("jobs", optarg, 1, 256, &v);
			a->w.jobs = (unsigned)v;
			break;
		case OPT_BATCH:
			r = parse_uint_opt("batch", optarg, 1, 4096, &v);
			a->w.batch = (unsigned)v;
			break;
		case OPT_SUBMIT_BATCH:
			r = parse_uint_opt("submit-batch", optarg, 0, 4096, &v);
			a->w.submit_batch = (unsigned)v;
			break;
		case OPT_TIME:
			r = parse_duration_opt("time", optarg, &a->w.time_s);
			if (!r && (a->w.time_s < 1e-3 || a->w.time_s > 7 * 86400.0))
				r = usage_error("--time: '%s' is out of range (accepts 1ms to 7 days)", optarg);
			a->time_given = 1;
			break;
		case OPT_OPS:
			r = parse_uint_opt("ops", optarg, 1, UINT64_MAX / 2, &a->w.ops);
			a->ops_given = 1;
			break;
		case OPT_WARMUP:
			r = parse_duration_opt("warmup", optarg, &a->w.warmup_s);
			if (!r && a->w.warmup_s > 3600)
				r = usage_error("--warmup: '%s' is out of range (accepts 0 to 1h)", optarg);
			break;
		case OPT_CACHE:
			if (strcmp(optarg, "warm") == 0)
				a->w.cache = IOLENS_CACHE_WARM;
			else if (strcmp(optarg, "cold") == 0)
				a->w.cache = IOLENS_CACHE_COLD;
			else
				r = usage_error("--cache: '%s' is not a cache mode (accepts warm or cold)", optarg);
			break;
		case OPT_FSYNC:
			r = parse_uint_opt("fsync", optarg, 0, 1u << 30, &v);
			a->w.fsync_every = (unsigned)v;
			break;
		case OPT_VERIFY:
			a->w.verify = 1;
			break;
		case OPT_NO_CHECK:
			a->w.stream_nocheck = 1;
			break;
		case OPT_SEED:
			r = parse_uint_opt("seed", optarg, 0, UINT64_MAX, &a->w.seed);
			break;
		case OPT_COUNT:
			if (strcmp(optarg, "separate") == 0)
				a->w.count = IOLENS_COUNT_SEPARATE;
			else if (strcmp(optarg, "inline") == 0)
				a->w.count = IOLENS_COUNT_INLINE;
			else if (strcmp(optarg, "off") == 0)
				a->w.count = IOLENS_COUNT_OFF;
			else
				r = usage_error("--count: '%s' is not a counting mode (accepts separate, inline or off)", optarg);
			break;
		case OPT_CONNS:
			r = parse_uint_opt("conns", optarg, 1, 100000, &v);
			a->w.conns = (unsigned)v;
			break;
		case OPT_MSG:
			r = parse_size_opt("msg", optarg, 1, 4u << 20, &v);
			a->w.msg = (uint32_t)v;
			break;
		case OPT_TRANSPORT:
			a->w.transport = iolens__transport_parse(optarg);
			if (a->w.transport < 0)
				r = usage_error("--transport: '%s' is not a transport (accepts tcp, tcp6 or unix)", optarg);
			break;
		case OPT_CONNECT:
			a->w.connect = optarg;
			break;
		case OPT_LISTEN:
			a->w.listen = optarg;
			break;
		case OPT_RATE:
			r = parse_rate(optarg, &a->w);
			break;
		case OPT_THINK:
			r = parse_usec_opt("think", optarg, 1000000, &a->w.think_ns);
			break;
		case OPT_DELAY:
			r = parse_usec_opt("delay", optarg, 60000000, &a->w.delay_ns);
			break;
		case OPT_CPU:
		case OPT_PEER_CPU:
			r = parse_uint_opt(c == OPT_CPU ? "cpu" : "peer-cpu", optarg, 0, 4095, &v);
			*(c == OPT_CPU ? &a->w.cpu : &a->w.peer_cpu) = (int)v;
			break;
		case OPT_CPUS:
			a->w.cpus = optarg;
			break;
		case OPT_TRACE:
			r = parse_uint_opt("trace", optarg, 0, 100000, &v);
			a->w.trace = (unsigned)v;
			break;
		case OPT_JSON:
			json_out.path = optarg;
			break;
		case OPT_CSV:
			csv_out.path = optarg;
			break;
		case 'h':
			fputs(run_help, stdout);
			return -1;
		case ':':
			r = usage_error("%s needs a value (see iolens run --help)", argv[optind - 1]);
			break;
		default:
			if (optopt)
				r = usage_error("%s needs a value (see iolens run --help)", argv[optind - 1]);
			else
				r = usage_error("unknown option '%s' (see iolens run --help)", argv[optind - 1]);
			break;
		}
	}
	if (r)
		return r;
	if (optind < argc)
		return usage_error("unexpected argument '%s' (see iolens run --help)", argv[optind]);
	if (a->time_given && a->ops_given)
		return usage_error("--time/--ops: give one of them, not both");
	if (!a->time_given && !a->ops_given)
		return usage_error("--time/--ops: one of them is required (a duration like 5s, or a count like 100k)");
	if (json_out.path && csv_out.path && !strcmp(json_out.path, "-") && !strcmp(csv_out.path, "-"))
		return usage_error("--json/--csv: only one of them can go to stdout (-)");
	return 0;
}

static int add_spec(char **specs, size_t *n, const char *spec)
{
	if (*n == MAX_SPECS)
		return usage_error("--backend: at most %d backends in one run", MAX_SPECS);
	specs[*n] = strdup(spec);
	if (!specs[*n])
		return usage_error("out of memory");
	(*n)++;
	return 0;
}

/* Split the --backend list into specs, checking each; "all" stands for every backend. */
static int parse_specs(const char *list, char **specs, size_t *n)
{
	const struct iolens_backend_info *all;
	size_t count = iolens_backends(&all);
	char err[256], *copy = strdup(list), *save = NULL;
	struct iolens__spec sp;
	int r = 0;

	*n = 0;
	if (!copy)
		return usage_error("out of memory");
	if (!*list || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
		free(copy);
		return usage_error("--backend: '%s' has an empty name (accepts names separated by commas, or all)",
				   list);
	}
	for (char *tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			for (size_t i = 0; i < count && !r; i++)
				r = add_spec(specs, n, all[i].name);
		} else if (iolens__spec_parse(tok, &sp, err, sizeof(err))) {
			r = usage_error("%s", err);
		} else {
			r = add_spec(specs, n, tok);
		}
	}
	free(copy);
	if (!r && !*n)
		r = usage_error("--backend: empty list (accepts names separated by commas, or all)");
	return r;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	for (int i = 0; s && i < argc; i++) {
		strcat(s, argv[i]);
		if (i + 1 < argc)
			strcat(s, " ");
	}
	return s;
}

static int cmd_run(int argc, char **argv, char *cmdline)
{
	struct iolens_result *results[MAX_SPECS];
	char *specs[MAX_SPECS];
	size_t nspecs = 0, nres = 0;
	struct run_args a = { 0 };
	struct iolens_target *t = NULL;
	struct iolens_meta meta;
	struct sigaction sa;
	char err[512];
	int r, failed = 0, to_stdout;

	r = parse_run(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	r = parse_specs(a.backends, specs, &nspecs);
	if (!r)
		r = open_output(&json_out, "--json");
	if (!r)
		r = open_output(&csv_out, "--csv");
	if (r)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a.w.stop = &stop_flag;
	iolens__meta_collect(&meta, cmdline);
	r = iolens_target_open(&t, &a.w, err, sizeof(err));
	if (r) {
		if (r == -EINTR) {
			fprintf(stderr, "iolens: interrupted while preparing the file\n");
			cleanup_outputs();
			r = 130;
		} else if (r == -EINVAL || r == -ENOENT || r == -EACCES || r == -EEXIST ||
			   r == -ENOTBLK || r == -ENAMETOOLONG || r == -EPERM) {
			r = usage_error("%s", err);
		} else {
			fprintf(stderr, "iolens: %s\n", err);
			cleanup_outputs();
			r = 1;
		}
		goto out;
	}
	to_stdout = json_out.f == stdout || csv_out.f == stdout;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "iolens: running %zu backend%s...", nspecs, nspecs == 1 ? "" : "s");
	r = iolens_run_many(t, &a.w, (const char *const *)specs, nspecs, results, err, sizeof(err));
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	if (r) {
		fprintf(stderr, "iolens: %s\n", r == -EINVAL ? err : iolens_strerror(r));
		cleanup_outputs();
		r = 1;
		goto out;
	}
	nres = nspecs;
	for (size_t i = 0; i < nres; i++)
		failed |= results[i]->status == IOLENS_STATUS_ERROR;
	meta.interrupted = stop_flag;
	if (!to_stdout)
		iolens__table(stdout, results, nres);
	if (json_out.f && iolens__json_document(json_out.f, &meta, results, nres))
		failed = 1;
	if (csv_out.f) {
		iolens__csv_header(csv_out.f);
		for (size_t i = 0; i < nres; i++)
			iolens__csv_row(csv_out.f, results[i]);
	}
	if (finish_output(&json_out) || finish_output(&csv_out))
		failed = 1;
	for (size_t i = 0; i < nres; i++)
		iolens_result_free(results[i]);
	r = stop_flag ? 130 : failed;
out:
	iolens_target_close(t);
	for (size_t i = 0; i < nspecs; i++)
		free(specs[i]);
	return r;
}

int main(int argc, char **argv)
{
	char *cmdline;
	int r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(main_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("iolens %s\n", iolens_version());
		return 0;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list();
	if (!strcmp(argv[1], "doctor"))
		return cmd_doctor();
	if (!strcmp(argv[1], "responder"))
		return iolens__cli_responder(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare")) {
		cmdline = join_args(argc, argv);
		r = iolens__cli_compare(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (!strcmp(argv[1], "demo")) {
		cmdline = join_args(argc, argv);
		r = iolens__cli_demo(argc - 1, argv + 1, cmdline);
		free(cmdline);
		return r;
	}
	if (strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "iolens: unknown command '%s' (accepts list, doctor, run, compare, demo, responder; see iolens --help)\n",
			argv[1]);
		return 2;
	}
	cmdline = join_args(argc, argv);
	r = cmd_run(argc - 1, argv + 1, cmdline);
	free(cmdline);
	return r;
}
