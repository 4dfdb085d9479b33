/*
 * The socket peers: addresses, the shared pattern, the responder and the
 * load generator. Everything here runs on threads of its own, level-
 * triggered epoll, non-blocking sockets; nothing prints and nothing exits.
 *
 * One piece, ~1,850 lines, because addresses, the pattern, the responder and
 * the load generator share the peer thread and its epoll loop today; issue
 * 18 (the wing layout) splits them (addr.c, pattern.c, responder.c,
 * loadgen.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "iolens/workload.h"
#include "peer.h"

#define SCRATCH_SIZE (256u << 10) /* per-thread receive buffer */
#define SOURCE_CHUNK (1u << 20)   /* one send of the source stream */
#define MAX_EVENTS 256
#define SOLO_WAIT_NS 10000000ull /* a lone echo connection's blocking wait, at most */
#define LOOPBACK_DIR_PREFIX "iolens-peer-"
#define LOOPBACK_SOCK_NAME "sock"

static uint64_t now_ns(void)
{
	return (uint64_t)iolens__mono_ns();
}

static int fail_msg(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_msg(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * Start a thread with every signal blocked, so signals stay with the
 * caller's threads, and pin it. *started says whether it must be joined,
 * even when pinning failed.
 */
static int spawn(pthread_t *th, void *(*fn)(void *), void *arg, int cpu, int *started)
{
	sigset_t all, old;
	cpu_set_t set;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*started = !r;
	if (r)
		return -r;
	if (cpu >= 0) {
		if (cpu >= CPU_SETSIZE)
			return -EINVAL;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		r = pthread_setaffinity_np(*th, sizeof(set), &set);
		if (r)
			return -r;
	}
	return 0;
}

/* ---- addresses ---- */

/* PORT: decimal digits only. 0 ok, -ERANGE (too big or 0 when not listening), -EINVAL. */
static int parse_port(const char *s, int listening, unsigned *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -ERANGE;
	}
	if (v == 0 && !listening)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

static int resolve(const char *host, int family, void *addr, const char *opt, char *err,
		   size_t errlen)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM }, *res;
	int r;

	if (inet_pton(family, host, addr) == 1)
		return 0;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r)
		return fail_msg(err, errlen, -EINVAL, "%s: cannot resolve '%s' (%s)", opt, host,
				r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	if (family == AF_INET)
		memcpy(addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
		       sizeof(struct in_addr));
	else
		memcpy(addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
		       sizeof(struct in6_addr));
	freeaddrinfo(res);
	return 0;
}

int iolens__addr_parse(const char *s, int transport, const char *opt, int listening,
		       struct iolens__addr *out, char *err, size_t errlen)
{
	const char *form = transport == IOLENS_TR_TCP6 ? "[ADDR]:PORT" : "HOST:PORT";
	const char *lo = listening ? "0" : "1";
	char host[256];
	const char *colon, *port;
	unsigned p;
	size_t hl;
	int r;

	memset(out, 0, sizeof(*out));
	out->transport = transport;
	if (!s)
		s = "";
	if (transport == IOLENS_TR_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;

		if (!*s)
			return fail_msg(err, errlen, -EINVAL,
					"%s: empty path (accepts a filesystem path for a unix socket)",
					opt);
		if (strlen(s) >= sizeof(un->sun_path))
			return fail_msg(err, errlen, -EINVAL,
					"%s: '%s': path too long (accepts a path of at most %zu bytes)",
					opt, s, sizeof(un->sun_path) - 1);
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, s);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(s) + 1);
		return 0;
	}
	if (transport != IOLENS_TR_TCP && transport != IOLENS_TR_TCP6)
		return fail_msg(err, errlen, -EINVAL, "%s: unknown transport %d", opt, transport);

	if (transport == IOLENS_TR_TCP6 && s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return fail_msg(err, errlen, -EINVAL,
					"%s: '%s' is not an address (accepts %s with a port %s..65535)",
					opt, s, form, lo);
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail_msg(err, errlen, -EINVAL,
					"%s: '%s' has no port (accepts %s with a port %s..65535)", opt,
					s, form, lo);
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
		if (transport == IOLENS_TR_TCP6 && strchr(host, ':'))
			return fail_msg(err, errlen, -EINVAL,
					"%s: '%s': put an IPv6 address in brackets (accepts %s with a port %s..65535)",
					opt, s, form, lo);
	}
	if (!host[0])
		return fail_msg(err, errlen, -EINVAL,
				"%s: '%s' has no host (accepts %s with a port %s..65535)", opt, s,
				form, lo);
	r = parse_port(port, listening, &p);
	if (r == -ERANGE)
		return fail_msg(err, errlen, -EINVAL,
				"%s: '%s': port out of range (accepts %s with a port %s..65535)", opt,
				s, form, lo);
	if (r)
		return fail_msg(err, errlen, -EINVAL,
				"%s: '%s': '%s' is not a port (accepts %s with a port %s..65535)", opt,
				s, port, form, lo);
	if (transport == IOLENS_TR_TCP) {
		struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;

		r = resolve(host, AF_INET, &in->sin_addr, opt, err, errlen);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		out->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

		r = resolve(host, AF_INET6, &in6->sin6_addr, opt, err, errlen);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		out->len = sizeof(*in6);
	}
	return r;
}

void iolens__addr_format(const struct iolens__addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (a->ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(buf, len, "%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
		break;
	default:
		snprintf(buf, len, "(no address)");
	}
}

int iolens__addr_loopback(int transport, struct iolens__addr *out)
{
	memset(out, 0, sizeof(*out));
	out->transport = transport;
	switch (transport) {
	case IOLENS_TR_TCP: {
		struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out->len = sizeof(*in);
		return 0;
	}
	case IOLENS_TR_TCP6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		out->len = sizeof(*in6);
		return 0;
	}
	case IOLENS_TR_UNIX: {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
		const char *tmp = getenv("TMPDIR");
		char dir[sizeof(un->sun_path)];
		int n;

		if (!iolens__tmpdir_fits(tmp, sizeof(LOOPBACK_DIR_PREFIX "XXXXXX/" LOOPBACK_SOCK_NAME)))
			tmp = "/tmp";
		n = snprintf(dir, sizeof(dir), "%s/" LOOPBACK_DIR_PREFIX "XXXXXX", tmp);
		if (n < 0 || (size_t)n + sizeof("/" LOOPBACK_SOCK_NAME) > sizeof(un->sun_path))
			return -ENAMETOOLONG;
		if (!mkdtemp(dir))
			return -errno;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, dir, (size_t)n);
		memcpy(un->sun_path + n, "/" LOOPBACK_SOCK_NAME, sizeof("/" LOOPBACK_SOCK_NAME));
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				       strlen(un->sun_path) + 1);
		return 0;
	}
	}
	return -EINVAL;
}

int iolens__tmpdir_fits(const char *tmp, size_t tail)
{
	return tmp && *tmp && strlen(tmp) + 1 + tail <= sizeof(((struct sockaddr_un *)0)->sun_path);
}

int iolens__unix_claim(const char *path, int remove_stale, const char *opt, char *err,
		       size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	const char *sep = opt && *opt ? ": " : "";
	struct stat st;
	int fd, e;

	if (!opt)
		opt = "";

	if (lstat(path, &st))
		return errno == ENOENT ? 0
				       : fail_msg(err, errlen, -errno, "%s%s'%s': %s", opt, sep, path,
						  strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fail_msg(err, errlen, -EEXIST,
				"%s%s'%s' exists and is not a socket (iolens never replaces it)", opt,
				sep, path);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	/* Non-blocking: a listener with a full backlog answers EAGAIN, not a wait. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_msg(err, errlen, -errno, "%s%s'%s': %s", opt, sep, path, strerror(errno));
	e = connect(fd, (struct sockaddr *)&un, sizeof(un)) ? errno : 0;
	close(fd);
	if (!e || e == EAGAIN || e == EINPROGRESS)
		return fail_msg(err, errlen, -EADDRINUSE,
				"%s%s'%s' is in use: a process is listening on it", opt, sep, path);
	if (e != ECONNREFUSED)
		return fail_msg(err, errlen, -EEXIST,
				"%s%s'%s' is a socket iolens cannot tell is stale (connect: %s); iolens never replaces it",
				opt, sep, path, strerror(e));
	if (remove_stale && unlink(path) && errno != ENOENT)
		return fail_msg(err, errlen, -errno, "%s%s'%s': stale socket: %s", opt, sep, path,
				strerror(errno));
	return 0;
}

void iolens__unix_bound(const char *path, struct iolens__unix_id *id)
{
	struct stat st;

	id->set = !lstat(path, &st) && S_ISSOCK(st.st_mode);
	id->dev = id->set ? (uint64_t)st.st_dev : 0;
	id->ino = id->set ? (uint64_t)st.st_ino : 0;
}

int iolens__unix_release(const char *path, const struct iolens__unix_id *id)
{
	struct stat st;

	if (!id->set || lstat(path, &st) || !S_ISSOCK(st.st_mode) || (uint64_t)st.st_dev != id->dev ||
	    (uint64_t)st.st_ino != id->ino)
		return 0;
	return !unlink(path);
}

/* The directory iolens__addr_loopback made for path, if path is in one, removed. */
static void loopback_rmdir(const char *path)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *dir, *name;

	snprintf(copy, sizeof(copy), "%s", path);
	name = strrchr(copy, '/');
	if (!name || strcmp(name + 1, LOOPBACK_SOCK_NAME))
		return;
	*name = '\0';
	dir = strrchr(copy, '/');
	dir = dir ? dir + 1 : copy;
	if (!strncmp(dir, LOOPBACK_DIR_PREFIX, strlen(LOOPBACK_DIR_PREFIX)))
		rmdir(copy);
}

/* Remove a unix listener's path if it is still the socket bound, and a loopback directory. */
static void unix_cleanup(const struct iolens__addr *a, const struct iolens__unix_id *id)
{
	const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;

	iolens__unix_release(path, id);
	loopback_rmdir(path);
}

void iolens__addr_loopback_cleanup(const struct iolens__addr *a)
{
	const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
	const char *slash = strrchr(path, '/'), *dir;
	struct stat st;

	if (a->ss.ss_family != AF_UNIX || !slash || strcmp(slash + 1, LOOPBACK_SOCK_NAME))
		return;
	for (dir = slash; dir > path && dir[-1] != '/'; dir--)
		;
	/* Only in a directory of mkdtemp's making: a unique name, nobody else's socket. */
	if (strncmp(dir, LOOPBACK_DIR_PREFIX, strlen(LOOPBACK_DIR_PREFIX)))
		return;
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	loopback_rmdir(path);
}

uint64_t iolens__raise_nofile(void)
{
	struct rlimit rl;
	FILE *f;
	unsigned long long nr_open;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (geteuid() == 0 && (f = fopen("/proc/sys/fs/nr_open", "re"))) {
		if (fscanf(f, "%llu", &nr_open) == 1 && nr_open > rl.rlim_max) {
			struct rlimit want = { .rlim_cur = nr_open, .rlim_max = nr_open };

			if (!setrlimit(RLIMIT_NOFILE, &want))
				rl = want;
		}
		fclose(f);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* ---- the pattern ---- */

static unsigned char *pattern;
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

/* splitmix64 from a fixed seed; the tail repeats the head. */
static void pattern_build(void)
{
	uint64_t x = 0x696f6c656e73ULL; /* "iolens" */
	unsigned char *p = malloc((size_t)IOLENS_PATTERN_PERIOD + IOLENS_MSG_MAX);

	if (!p)
		return;
	for (size_t i = 0; i < IOLENS_PATTERN_PERIOD; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		for (size_t k = 0; k < 8 && i + k < IOLENS_PATTERN_PERIOD; k++)
			p[i + k] = (unsigned char)(z >> (8 * k));
	}
	/* MSG_MAX is several periods: repeat the head period by period. */
	for (size_t done = 0; done < IOLENS_MSG_MAX; done += IOLENS_PATTERN_PERIOD) {
		size_t k = IOLENS_MSG_MAX - done < IOLENS_PATTERN_PERIOD ? IOLENS_MSG_MAX - done
									   : IOLENS_PATTERN_PERIOD;

		memcpy(p + IOLENS_PATTERN_PERIOD + done, p, k);
	}
	pattern = p;
}

/*
 * Built once and kept for the life of the process (PERIOD + MSG_MAX, about
 * 5 MiB); NULL only if that first allocation failed.
 */
const unsigned char *iolens__pattern(void)
{
	pthread_once(&pattern_once, pattern_build);
	return pattern;
}

uint64_t iolens__stream_start(uint64_t i)
{
	return (i * 2654435761u + 12345) % IOLENS_PATTERN_PERIOD;
}

/* Index of the first byte of p[0..n) that differs from the stream at `off`, or n. */
static size_t pattern_mismatch(const unsigned char *pat, const unsigned char *p, size_t n,
			       uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		const unsigned char *q = pat + (off + done) % IOLENS_PATTERN_PERIOD;
		size_t k = n - done < IOLENS_MSG_MAX ? n - done : IOLENS_MSG_MAX;

		if (memcmp(p + done, q, k)) {
			for (size_t i = 0; i < k; i++)
				if (p[done + i] != q[i])
					return done + i;
		}
		done += k;
	}
	return n;
}

/* ---- responder ---- */

/*
 * One listener shared by every event loop, each registering it with
 * EPOLLEXCLUSIVE so a new connection wakes one loop, not all. SO_REUSEPORT
 * listeners would need one bind per loop (racy with port 0, and not
 * available for unix paths); with a shared listener a loop that wakes and
 * finds the queue empty just gets EAGAIN.
 *
 * Per connection: struct rconn below (176 bytes with malloc's rounding on
 * x86-64), nothing else while idle. An echo connection holds a buffer only
 * while bytes wait to be sent, a delayed one also a small ring of due times;
 * both are freed once it has sent everything. Beyond kernel socket buffers
 * and the epoll item, an idle connection costs under 200 bytes.
 *
 * Sockets stay in blocking mode and every call passes MSG_DONTWAIT, so a
 * loop whose only connection is an echo with nothing pending can wait for
 * the next request in recv itself: one wakeup and two calls per request
 * (recv, send) instead of three (epoll_wait, recv, send), as a blocking
 * server does. That wait lasts at most SOLO_WAIT_NS, and the loop looks at
 * its epoll set at least that often, so accepts and the stop are not held.
 */
enum { RC_HELLO, RC_ECHO, RC_SINK, RC_SOURCE, RC_TRAILER };

struct due {
	uint64_t end; /* stream offset the request ends at */
	uint64_t at;  /* when it may be sent back */
};

struct rconn {
	struct rconn *prev, *next;
	int fd;
	uint8_t state;
	uint8_t solo;      /* SO_RCVTIMEO set: 1, refused: 2 */
	uint32_t events;   /* registered with epoll */
	uint32_t msg;
	uint32_t heap_idx; /* UINT32_MAX: not waiting on a timer */
	uint64_t delay_ns;
	uint64_t start;
	uint64_t rx, tx;   /* stream bytes received, sent */
	uint64_t released; /* echo: may send up to here */
	uint64_t marked;   /* echo: requests up to here have a due time */
	unsigned char *buf; /* echo: stream bytes [tx, rx) at buf + off */
	uint32_t cap, off, len;
	uint32_t due_head, due_n, due_cap;
	struct due *due;
	union {
		unsigned char hello[sizeof(struct iolens__hello)];
		uint64_t bad; /* sink: first bad offset, UINT64_MAX or IOLENS_TRAILER_UNCHECKED */
		struct iolens__trailer tr;
	} u;
};

#define DUE_MAX 4096u /* a delayed connection stops reading with this many answers pending */

struct rloop {
	struct iolens__responder *r;
	pthread_t th;
	int started;
	int ep;
	struct rconn *conns;
	struct rconn **heap; /* connections by their earliest due time */
	uint32_t nheap, heap_cap;
	unsigned char *scratch;
	uint64_t accept_resume; /* 0: listener registered; else when to register it again */
	uint64_t polled;        /* when the epoll set was last looked at */
};

struct iolens__responder {
	struct iolens__addr addr;
	int lfd, wfd;
	uint64_t delay_ns;
	unsigned nloops;
	struct rloop *loops;
	atomic_int stop;
	atomic_uint_fast64_t open, accepted;
	struct iolens__unix_id bound; /* unix: the socket file bind made */
};

static char listen_tag, wake_tag;

static uint64_t heap_key(const struct rconn *c)
{
	return c->due[c->due_head].at;
}

static void heap_swap(struct rloop *l, uint32_t a, uint32_t b)
{
	struct rconn *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_fix(struct rloop *l, uint32_t i)
{
	while (i > 0 && heap_key(l->heap[i]) < heap_key(l->heap[(i - 1) / 2])) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t m = i, a = 2 * i + 1, b = a + 1;

		if (a < l->nheap && heap_key(l->heap[a]) < heap_key(l->heap[m]))
			m = a;
		if (b < l->nheap && heap_key(l->heap[b]) < heap_key(l->heap[m]))
			m = b;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

static int heap_add(struct rloop *l, struct rconn *c)
{
	if (l->nheap == l->heap_cap) {
		uint32_t n = l->heap_cap ? 2 * l->heap_cap : 64;
		struct rconn **h = realloc(l->heap, n * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = n;
	}
	c->heap_idx = l->nheap;
	l->heap[l->nheap++] = c;
	heap_fix(l, c->heap_idx);
	return 0;
}

static void heap_del(struct rloop *l, struct rconn *c)
{
	uint32_t i = c->heap_idx;

	if (i == UINT32_MAX)
		return;
	c->heap_idx = UINT32_MAX;
	if (i != --l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = i;
		heap_fix(l, i);
	}
}

static void rconn_close(struct rloop *l, struct rconn *c)
{
	heap_del(l, c);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c->due);
	free(c);
	atomic_fetch_sub_explicit(&l->r->open, 1, memory_order_relaxed);
}

/* Register what the connection waits for; -1 (closed) if epoll refuses. */
static int rconn_want(struct rloop *l, struct rconn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		rconn_close(l, c);
		return -1;
	}
	c->events = events;
	return 0;
}

/* An echo connection's buffer holds at most this much unsent: then it stops reading. */
static uint32_t echo_cap(uint32_t msg)
{
	return 2 * msg > (64u << 10) ? 2 * msg : 64u << 10;
}

/* Send what is released, drop the buffer once empty, and wait for the right events. */
static int echo_flush(struct rloop *l, struct rconn *c)
{
	uint32_t want = 0;

	while (c->tx < c->released) {
		ssize_t s = send(c->fd, c->buf + c->off, (size_t)(c->released - c->tx),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			rconn_close(l, c);
			return -1;
		}
		c->tx += (uint64_t)s;
		c->off += (uint32_t)s;
		c->len -= (uint32_t)s;
	}
	if (!c->len) {
		free(c->buf);
		c->buf = NULL;
		c->off = 0;
		if (!c->due_n) {
			free(c->due);
			c->due = NULL;
			c->due_cap = c->due_head = 0;
		}
	}
	if ((!c->buf || c->len < c->cap) && c->due_n < DUE_MAX)
		want |= EPOLLIN;
	if (c->tx < c->released)
		want |= EPOLLOUT;
	return rconn_want(l, c, want);
}

static int due_push(struct rloop *l, struct rconn *c, uint64_t end, uint64_t at)
{
	if (c->due_n == c->due_cap) {
		uint32_t n = c->due_cap ? 2 * c->due_cap : 4;
		struct due *d = malloc(n * sizeof(*d));

		if (!d)
			return -ENOMEM;
		for (uint32_t i = 0; i < c->due_n; i++)
			d[i] = c->due[(c->due_head + i) % c->due_cap];
		free(c->due);
		c->due = d;
		c->due_cap = n;
		c->due_head = 0;
	}
	c->due[(c->due_head + c->due_n++) % c->due_cap] = (struct due){ end, at };
	if (c->due_n == 1)
		return heap_add(l, c);
	return 0;
}

/* Release every answer of c due by `now`. */
static int echo_release(struct rloop *l, struct rconn *c, uint64_t now)
{
	while (c->due_n && c->due[c->due_head].at <= now) {
		c->released = c->due[c->due_head].end;
		c->due_head = (c->due_head + 1) % c->due_cap;
		c->due_n--;
	}
	if (!c->due_n)
		heap_del(l, c);
	else
		heap_fix(l, c->heap_idx);
	return echo_flush(l, c);
}

/* Nothing queued: answer n bytes straight from the scratch buffer, keep only the rest. */
static int echo_answer(struct rloop *l, struct rconn *c, ssize_t n)
{
	ssize_t s;

	c->rx += (uint64_t)n;
	c->released = c->rx;
	do
		s = send(c->fd, l->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (s < 0 && errno == EINTR);
	if (s < 0 && errno != EAGAIN) {
		rconn_close(l, c);
		return -1;
	}
	if (s < 0)
		s = 0;
	c->tx += (uint64_t)s;
	if (s < n) {
		c->buf = malloc(c->cap);
		if (!c->buf) {
			rconn_close(l, c);
			return -1;
		}
		c->len = (uint32_t)(n - s);
		memcpy(c->buf, l->scratch + s, c->len);
	}
	return echo_flush(l, c);
}

/* The loop's only connection, an echo with nothing pending: this loop may wait in its recv. */
static struct rconn *solo_echo(struct rloop *l)
{
	struct rconn *c = l->conns;

	if (!c || c->next || c->state != RC_ECHO || c->delay_ns || c->len || c->solo == 2 ||
	    l->nheap || l->accept_resume)
		return NULL;
	if (!c->solo) {
		struct timeval tv = { 0, (long)(SOLO_WAIT_NS / 1000) };

		c->solo = setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ? 2 : 1;
		if (c->solo == 2)
			return NULL;
	}
	return c;
}

/* Wait for c's next request in recv and answer it; 0 when none came in time. */
static int echo_solo(struct rloop *l, struct rconn *c)
{
	ssize_t n = recv(c->fd, l->scratch, 64u << 10, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		/* EOF or an error: the client is done. */
		rconn_close(l, c);
		return 0;
	}
	echo_answer(l, c, n);
	return 1;
}

static int echo_in(struct rloop *l, struct rconn *c)
{
	ssize_t n;

	if (!c->delay_ns && !c->len) {
		n = recv(c->fd, l->scratch, 64u << 10, MSG_DONTWAIT);
		if (n <= 0)
			goto ended;
		return echo_answer(l, c, n);
	}
	if (!c->buf) {
		c->buf = malloc(c->cap);
		if (!c->buf) {
			rconn_close(l, c);
			return -1;
		}
	}
	if (c->off && c->off + c->len == c->cap) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	if (c->off + c->len == c->cap)
		return echo_flush(l, c); /* full: stop reading until something is sent */
	n = recv(c->fd, c->buf + c->off + c->len, c->cap - c->off - c->len, MSG_DONTWAIT);
	if (n <= 0)
		goto ended;
	c->len += (uint32_t)n;
	c->rx += (uint64_t)n;
	if (!c->delay_ns) {
		c->released = c->rx;
	} else if (c->rx - c->rx % c->msg > c->marked) {
		c->marked = c->rx - c->rx % c->msg;
		/*
		 * From this read, not from the loop's clock: a request that came
		 * after epoll_wait returned (read on another event of this
		 * connection) would otherwise be answered before its delay.
		 */
		if (due_push(l, c, c->marked, now_ns() + c->delay_ns)) {
			rconn_close(l, c);
			return -1;
		}
	}
	return echo_flush(l, c);
ended:
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (!c->len) { /* woken for nothing: an idle connection keeps no buffer */
			free(c->buf);
			c->buf = NULL;
			c->off = 0;
		}
		return 0;
	}
	/* EOF or an error: the client is done; what it has not read is lost anyway. */
	rconn_close(l, c);
	return -1;
}

static int sink_in(struct rloop *l, struct rconn *c)
{
	const unsigned char *pat = iolens__pattern();
	ssize_t n = recv(c->fd, l->scratch, SCRATCH_SIZE, MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		rconn_close(l, c);
		return -1;
	}
	if (n > 0) {
		/* Only while all matched: not after a mismatch, nor when told not to check. */
		if (c->u.bad == UINT64_MAX) {
			size_t i = pattern_mismatch(pat, l->scratch, (size_t)n, c->start + c->rx);

			if (i < (size_t)n)
				c->u.bad = c->rx + i;
		}
		c->rx += (uint64_t)n;
		return 0;
	}
	/* EOF: answer with the trailer, then close. */
	{
		struct iolens__trailer tr = { htole64(c->rx), htole64(c->u.bad) };

		c->u.tr = tr;
		c->state = RC_TRAILER;
		c->tx = 0;
	}
	return -2; /* the caller sends it */
}

static int trailer_out(struct rloop *l, struct rconn *c)
{
	while (c->tx < sizeof(c->u.tr)) {
		ssize_t s = send(c->fd, (char *)&c->u.tr + c->tx, sizeof(c->u.tr) - c->tx,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && errno == EAGAIN)
			return rconn_want(l, c, EPOLLOUT);
		if (s < 0)
			break;
		c->tx += (uint64_t)s;
	}
	rconn_close(l, c);
	return -1;
}

static int source_out(struct rloop *l, struct rconn *c)
{
	const unsigned char *pat = iolens__pattern();

	for (int i = 0; i < 4; i++) {
		ssize_t s = send(c->fd, pat + (c->start + c->tx) % IOLENS_PATTERN_PERIOD,
				 SOURCE_CHUNK, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && errno == EAGAIN)
			return 0;
		if (s < 0) {
			rconn_close(l, c);
			return -1;
		}
		c->tx += (uint64_t)s;
	}
	return 0;
}

static int hello_in(struct rloop *l, struct rconn *c)
{
	struct iolens__hello h;
	ssize_t n = recv(c->fd, c->u.hello + c->rx, sizeof(c->u.hello) - c->rx, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		rconn_close(l, c);
		return -1;
	}
	c->rx += (uint64_t)n;
	if (c->rx < sizeof(c->u.hello))
		return 0;
	memcpy(&h, c->u.hello, sizeof(h));
	h.magic = le64toh(h.magic);
	h.mode = le32toh(h.mode);
	h.msg = le32toh(h.msg);
	h.delay_ns = le64toh(h.delay_ns);
	h.start = le64toh(h.start);
	if (h.magic != IOLENS_HELLO_MAGIC ||
	    (h.mode == IOLENS_PEER_ECHO && (h.msg < 1 || h.msg > IOLENS_MSG_MAX))) {
		rconn_close(l, c);
		return -1;
	}
	c->rx = 0;
	c->start = h.start;
	switch (h.mode) {
	case IOLENS_PEER_ECHO:
		c->state = RC_ECHO;
		c->msg = h.msg;
		c->cap = echo_cap(h.msg);
		c->delay_ns = h.delay_ns ? h.delay_ns : l->r->delay_ns;
		return 0;
	case IOLENS_PEER_SINK:
		c->state = RC_SINK;
		c->u.bad = h.flags & IOLENS_SINK_NOCHECK ? IOLENS_TRAILER_UNCHECKED : UINT64_MAX;
		return 0;
	case IOLENS_PEER_SOURCE:
		if (!iolens__pattern())
			break;
		c->state = RC_SOURCE;
		return rconn_want(l, c, EPOLLIN | EPOLLOUT);
	}
	rconn_close(l, c);
	return -1;
}

static void rconn_event(struct rloop *l, struct rconn *c, uint32_t ev)
{
	if (ev & (EPOLLERR | EPOLLHUP)) {
		/* Reset, or gone both ways: nothing more can reach the client. */
		rconn_close(l, c);
		return;
	}
	switch (c->state) {
	case RC_HELLO:
		if (hello_in(l, c) || c->state == RC_HELLO)
			return;
		if (c->state != RC_ECHO && c->state != RC_SINK)
			return;
		/* Bytes may follow the hello in the same segment: fall through to them. */
		if (c->state == RC_SINK)
			goto sink;
		echo_in(l, c);
		return;
	case RC_ECHO:
		if ((ev & EPOLLOUT) && echo_flush(l, c))
			return;
		if (ev & EPOLLIN)
			echo_in(l, c);
		return;
	case RC_SINK:
	sink:
		if (sink_in(l, c) == -2)
			trailer_out(l, c);
		return;
	case RC_TRAILER:
		trailer_out(l, c);
		return;
	case RC_SOURCE:
		if (ev & EPOLLIN) {
			ssize_t n = recv(c->fd, l->scratch, SCRATCH_SIZE, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				rconn_close(l, c);
				return;
			}
		}
		if (ev & EPOLLOUT)
			source_out(l, c);
		return;
	}
}

static void accept_some(struct rloop *l, uint64_t now)
{
	struct iolens__responder *r = l->r;

	for (int i = 0; i < 64; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct rconn *c;
		int one = 1;
		/* Blocking mode, for echo_solo; every other call passes MSG_DONTWAIT. */
		int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: step back a moment, do not spin. */
				epoll_ctl(l->ep, EPOLL_CTL_DEL, r->lfd, NULL);
				l->accept_resume = now + 50000000u;
			}
			return; /* EAGAIN, or a connection that failed before accept */
		}
		if (r->addr.transport != IOLENS_TR_UNIX)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->state = RC_HELLO;
		c->events = EPOLLIN;
		c->heap_idx = UINT32_MAX;
		ev.data.ptr = c;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			return;
		}
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		atomic_fetch_add_explicit(&r->open, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->accepted, 1, memory_order_relaxed);
	}
}

static int listen_register(struct rloop *l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, l->r->lfd, &ev) ? -errno : 0;
}

static void *rloop_main(void *arg)
{
	struct rloop *l = arg;
	struct iolens__responder *r = l->r;
	struct epoll_event evs[MAX_EVENTS];

	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		int timeout = -1, n;
		struct rconn *solo = solo_echo(l);

		if (solo && now - l->polled < SOLO_WAIT_NS) {
			if (!echo_solo(l, solo))
				l->polled = 0; /* nothing came: look at the epoll set now */
			continue;
		}
		l->polled = now;
		if (solo)
			next = now; /* look, do not sleep: the lone connection waits in recv */
		if (l->nheap)
			next = heap_key(l->heap[0]);
		if (l->accept_resume && l->accept_resume < next)
			next = l->accept_resume;
		if (next != UINT64_MAX)
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &wake_tag)
				continue;
			if (p == &listen_tag)
				accept_some(l, now);
			else
				rconn_event(l, p, evs[i].events);
		}
		while (l->nheap && heap_key(l->heap[0]) <= now)
			echo_release(l, l->heap[0], now);
		if (l->accept_resume && l->accept_resume <= now && !listen_register(l))
			l->accept_resume = 0;
	}
	return NULL;
}

static int listen_socket(struct iolens__responder *r, const struct iolens__responder_opts *o,
			 char *err, size_t errlen)
{
	char where[128];
	int one = 1, fd;
	int family = r->addr.ss.ss_family;

	iolens__addr_format(&r->addr, where, sizeof(where));
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_msg(err, errlen, -errno, "cannot listen on %s: %s", where,
				strerror(errno));
	if (family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (family == AF_UNIX) {
		/* The caller names the option (iolens responder --listen). */
		int e = iolens__unix_claim(((const struct sockaddr_un *)&r->addr.ss)->sun_path, 1,
					   NULL, err, errlen);

		if (e) {
			close(fd);
			return e;
		}
	}
	if (bind(fd, (struct sockaddr *)&r->addr.ss, r->addr.len)) {
		int e = errno;

		close(fd);
		if (e == EADDRINUSE)
			return fail_msg(err, errlen, -e, "%s is already in use", where);
		return fail_msg(err, errlen, -e, "cannot listen on %s: %s", where, strerror(e));
	}
	if (listen(fd, o->backlog ? (int)o->backlog : SOMAXCONN)) {
		int e = errno;

		if (family == AF_UNIX) {
			iolens__unix_bound(((const struct sockaddr_un *)&r->addr.ss)->sun_path, &r->bound);
			unix_cleanup(&r->addr, &r->bound);
		}
		close(fd);
		return fail_msg(err, errlen, -e, "cannot listen on %s: %s", where, strerror(e));
	}
	if (family == AF_UNIX)
		iolens__unix_bound(((const struct sockaddr_un *)&r->addr.ss)->sun_path, &r->bound);
	if (family != AF_UNIX) {
		r->addr.len = sizeof(r->addr.ss);
		getsockname(fd, (struct sockaddr *)&r->addr.ss, &r->addr.len);
	}
	r->lfd = fd;
	return 0;
}

int iolens__responder_start(struct iolens__responder **out,
			    const struct iolens__responder_opts *o, char *err, size_t errlen)
{
	struct iolens__responder *r;
	struct epoll_event wake = { .events = EPOLLIN, .data.ptr = &wake_tag };
	int e;

	*out = NULL;
	if (o->transport < 0 || o->transport >= IOLENS_TR__COUNT)
		return fail_msg(err, errlen, -EINVAL, "unknown transport %d", o->transport);
	if (!iolens__pattern())
		return fail_msg(err, errlen, -ENOMEM, "out of memory for the pattern");
	r = calloc(1, sizeof(*r));
	if (!r)
		return fail_msg(err, errlen, -ENOMEM, "out of memory");
	r->lfd = r->wfd = -1;
	r->delay_ns = o->delay_ns;
	r->nloops = o->threads ? o->threads : 1;
	if (o->listen) {
		r->addr = *o->listen;
		r->addr.transport = o->transport;
	} else if ((e = iolens__addr_loopback(o->transport, &r->addr))) {
		free(r);
		return fail_msg(err, errlen, e, "cannot make a loopback address: %s", strerror(-e));
	}
	iolens__raise_nofile();
	e = listen_socket(r, o, err, errlen);
	if (e) {
		if (!o->listen && o->transport == IOLENS_TR_UNIX)
			loopback_rmdir(((const struct sockaddr_un *)&r->addr.ss)->sun_path);
		free(r);
		return e;
	}
	r->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->loops = calloc(r->nloops, sizeof(*r->loops));
	for (unsigned i = 0; r->loops && i < r->nloops; i++)
		r->loops[i].ep = -1;
	if (r->wfd < 0 || !r->loops) {
		e = fail_msg(err, errlen, r->wfd < 0 ? -errno : -ENOMEM, "responder: %s",
			     strerror(r->wfd < 0 ? errno : ENOMEM));
		goto fail;
	}
	for (unsigned i = 0; i < r->nloops; i++) {
		struct rloop *l = &r->loops[i];

		l->r = r;
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->scratch = malloc(SCRATCH_SIZE);
		if (l->ep < 0 || !l->scratch) {
			e = fail_msg(err, errlen, l->ep < 0 ? -errno : -ENOMEM, "responder: %s",
				     strerror(l->ep < 0 ? errno : ENOMEM));
			goto fail;
		}
		e = epoll_ctl(l->ep, EPOLL_CTL_ADD, r->wfd, &wake) ? -errno : listen_register(l);
		if (e) {
			e = fail_msg(err, errlen, e, "responder: epoll: %s", strerror(-e));
			goto fail;
		}
	}
	for (unsigned i = 0; i < r->nloops; i++) {
		e = spawn(&r->loops[i].th, rloop_main, &r->loops[i], o->cpu, &r->loops[i].started);
		if (e) {
			e = fail_msg(err, errlen, e, "responder: thread %u on cpu %d: %s", i, o->cpu,
				     strerror(-e));
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	iolens__responder_stop(r);
	return e;
}

const struct iolens__addr *iolens__responder_addr(const struct iolens__responder *r)
{
	return &r->addr;
}

void iolens__responder_counts(const struct iolens__responder *r, uint64_t *open, uint64_t *accepted)
{
	if (open)
		*open = atomic_load_explicit(&r->open, memory_order_relaxed);
	if (accepted)
		*accepted = atomic_load_explicit(&r->accepted, memory_order_relaxed);
}

void iolens__responder_stop(struct iolens__responder *r)
{
	uint64_t one = 1;

	if (!r)
		return;
	atomic_store_explicit(&r->stop, 1, memory_order_release);
	if (r->wfd >= 0 && write(r->wfd, &one, sizeof(one)) < 0) {
		/* an eventfd write of 1 cannot fail short of overflow */
	}
	for (unsigned i = 0; r->loops && i < r->nloops; i++) {
		struct rloop *l = &r->loops[i];

		struct rconn *c, *next;

		if (l->started)
			pthread_join(l->th, NULL);
		for (c = l->conns; c; c = next) {
			next = c->next;
			rconn_close(l, c);
		}
		if (l->ep >= 0)
			close(l->ep);
		free(l->heap);
		free(l->scratch);
	}
	free(r->loops);
	if (r->lfd >= 0) {
		close(r->lfd);
		if (r->addr.transport == IOLENS_TR_UNIX)
			unix_cleanup(&r->addr, &r->bound);
	}
	if (r->wfd >= 0)
		close(r->wfd);
	free(r);
}

/* ---- load generator ---- */

enum { LC_IDLE, LC_RETRY, LC_CONNECTING, LC_UP, LC_DEAD };

struct lconn {
	int fd;
	uint8_t state;
	uint32_t events;
	unsigned idx;     /* connection number */
	uint64_t start;   /* stream start */
	uint64_t tx, rx;  /* stream bytes sent, received back */
	uint64_t *ts;     /* send time of request k at ts[k % depth] */
};

struct lthread {
	struct iolens__loadgen *lg;
	unsigned id;
	pthread_t th;
	int started;
	int ep, wfd;
	unsigned char *scratch;
	struct iolens_hist *hist;
	/* one run */
	struct lconn *c;
	uint64_t *ts;
	unsigned n;
	unsigned *retry, nretry;
	unsigned connected;
	uint64_t requests, bytes;
	int err;
	uint64_t err_at;
	char errmsg[256];
};

enum { LG_IDLE, LG_RUN, LG_EXIT };

struct iolens__loadgen {
	unsigned nthreads;
	struct lthread *t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned gen, done;
	int cmd;
	int running;
	struct iolens__loadgen_opts o;
	atomic_int stop, measure;
	_Atomic uint64_t since; /* when measuring began: requests sent before are not counted */
};

static void lg_fail(struct lthread *t, struct lconn *c, int err, uint64_t now, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));

/* The connection failed: keep the thread's first error, close it, the others go on. */
static void lg_fail(struct lthread *t, struct lconn *c, int err, uint64_t now, const char *fmt,
		    ...)
{
	va_list ap;

	if (!t->err) {
		t->err = err;
		t->err_at = now;
		va_start(ap, fmt);
		vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
		va_end(ap);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = LC_DEAD;
}

static void lg_fail_errno(struct lthread *t, struct lconn *c, int e, uint64_t now)
{
	lg_fail(t, c, -e, now, "connection %u: %s", c->idx, strerror(e));
}

static int lg_want(struct lthread *t, struct lconn *c, uint32_t events, uint64_t now)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		lg_fail_errno(t, c, errno, now);
		return -1;
	}
	c->events = events;
	return 0;
}

/* Keep `depth` requests outstanding; stamp each request as its first byte goes. */
static void lg_send(struct lthread *t, struct lconn *c, uint64_t now)
{
	const struct iolens__loadgen_opts *o = &t->lg->o;
	const unsigned char *pat = iolens__pattern();
	uint64_t limit = (c->rx / o->msg + o->depth) * o->msg;

	while (c->tx < limit) {
		uint64_t len = limit - c->tx;
		ssize_t s;

		if (len > IOLENS_MSG_MAX)
			len = IOLENS_MSG_MAX;
		s = send(c->fd, pat + (c->start + c->tx) % IOLENS_PATTERN_PERIOD, (size_t)len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			lg_fail_errno(t, c, errno, now);
			return;
		}
		for (uint64_t k = (c->tx + o->msg - 1) / o->msg; k * o->msg < c->tx + (uint64_t)s;
		     k++)
			c->ts[k % o->depth] = now;
		c->tx += (uint64_t)s;
	}
	lg_want(t, c, EPOLLIN | (c->tx < limit ? EPOLLOUT : 0), now);
}

static void lg_recv(struct lthread *t, struct lconn *c, uint64_t now, int measuring)
{
	const struct iolens__loadgen_opts *o = &t->lg->o;
	const unsigned char *pat = iolens__pattern();

	for (int iter = 0; iter < 4; iter++) {
		ssize_t n = recv(c->fd, t->scratch, SCRATCH_SIZE, MSG_DONTWAIT);
		uint64_t k, done;
		size_t bad;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			lg_fail_errno(t, c, errno, now);
			return;
		}
		if (n == 0) {
			lg_fail(t, c, -EPIPE, now,
				"connection %u: the server closed it after echoing %llu of %llu bytes",
				c->idx, (unsigned long long)c->rx, (unsigned long long)c->tx);
			return;
		}
		if (c->rx + (uint64_t)n > c->tx) {
			lg_fail(t, c, -EPROTO, now,
				"connection %u: the server sent %llu bytes, more than the %llu sent to it",
				c->idx, (unsigned long long)(c->rx + (uint64_t)n),
				(unsigned long long)c->tx);
			return;
		}
		bad = pattern_mismatch(pat, t->scratch, (size_t)n, c->start + c->rx);
		if (bad < (size_t)n) {
			lg_fail(t, c, -EILSEQ, now,
				"connection %u: echoed byte at stream offset %llu differs from what was sent",
				c->idx, (unsigned long long)(c->rx + bad));
			return;
		}
		k = c->rx / o->msg;
		c->rx += (uint64_t)n;
		done = c->rx / o->msg;
		if (measuring) {
			uint64_t since = atomic_load_explicit(&t->lg->since, memory_order_relaxed);

			/* Only requests sent inside the window: none carries warm-up queueing. */
			for (; k < done; k++) {
				if (c->ts[k % o->depth] < since)
					continue;
				iolens__hist_record(t->hist, now - c->ts[k % o->depth]);
				t->requests++;
				t->bytes += o->msg;
			}
		}
		if ((size_t)n < SCRATCH_SIZE)
			break;
	}
	lg_send(t, c, now);
}

static void lg_connect(struct lthread *t, struct lconn *c, uint64_t now)
{
	const struct iolens__addr *a = &t->lg->o.addr;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	if (c->fd < 0) {
		c->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			lg_fail_errno(t, c, errno, now);
			return;
		}
		if (a->ss.ss_family != AF_UNIX)
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(c->fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
		c->state = LC_CONNECTING; /* the EPOLLOUT below reports it up */
	} else if (errno == EINPROGRESS) {
		c->state = LC_CONNECTING;
	} else if (errno == EAGAIN) {
		/* A unix listener's backlog is full: try again shortly. */
		c->state = LC_RETRY;
		t->retry[t->nretry++] = (unsigned)(c - t->c);
		return;
	} else {
		lg_fail_errno(t, c, errno, now);
		return;
	}
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		lg_fail_errno(t, c, errno, now);
		return;
	}
	c->events = EPOLLOUT;
}

static void lg_event(struct lthread *t, struct lconn *c, uint32_t ev, uint64_t now, int measuring)
{
	if (c->state == LC_CONNECTING) {
		int e = 0;
		socklen_t len = sizeof(e);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len))
			e = errno;
		if (!e && (ev & (EPOLLERR | EPOLLHUP)))
			e = ECONNREFUSED;
		if (e) {
			lg_fail_errno(t, c, e, now);
			return;
		}
		c->state = LC_UP;
		t->connected++;
		lg_send(t, c, now);
		return;
	}
	if (c->state != LC_UP)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		lg_recv(t, c, now, measuring);
	else if (ev & EPOLLOUT)
		lg_send(t, c, now);
}

static void lg_run(struct lthread *t)
{
	struct iolens__loadgen *lg = t->lg;
	const struct iolens__loadgen_opts *o = &lg->o;
	struct epoll_event evs[MAX_EVENTS];
	uint64_t now = now_ns();
	unsigned i;

	t->n = o->conns / lg->nthreads + (t->id < o->conns % lg->nthreads);
	t->connected = 0;
	t->requests = t->bytes = 0;
	t->err = 0;
	t->errmsg[0] = '\0';
	t->nretry = 0;
	iolens__hist_reset(t->hist);
	if (!t->n)
		return;
	t->c = calloc(t->n, sizeof(*t->c));
	t->ts = calloc((size_t)t->n * o->depth, sizeof(*t->ts));
	t->retry = calloc(t->n, sizeof(*t->retry));
	if (!t->c || !t->ts || !t->retry) {
		t->err = -ENOMEM;
		t->err_at = now;
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "load generator: out of memory for %u connections", t->n);
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		struct lconn *c = &t->c[i];

		c->fd = -1;
		c->idx = t->id + i * lg->nthreads;
		c->start = iolens__stream_start(c->idx);
		c->ts = t->ts + (size_t)i * o->depth;
		lg_connect(t, c, now);
	}
	while (!atomic_load_explicit(&lg->stop, memory_order_acquire)) {
		int n = epoll_wait(t->ep, evs, MAX_EVENTS, t->nretry ? 2 : -1);
		int measuring = atomic_load_explicit(&lg->measure, memory_order_relaxed);

		now = now_ns();
		for (int k = 0; k < n; k++) {
			if (evs[k].data.ptr)
				lg_event(t, evs[k].data.ptr, evs[k].events, now, measuring);
		}
		if (t->nretry) {
			unsigned m = t->nretry;

			t->nretry = 0;
			for (i = 0; i < m; i++)
				lg_connect(t, &t->c[t->retry[i]], now);
		}
	}
out:
	for (i = 0; t->c && i < t->n; i++)
		if (t->c[i].fd >= 0)
			close(t->c[i].fd);
	free(t->c);
	free(t->ts);
	free(t->retry);
	t->c = NULL;
	t->ts = NULL;
	t->retry = NULL;
}

static void *lthread_main(void *arg)
{
	struct lthread *t = arg;
	struct iolens__loadgen *lg = t->lg;
	unsigned seen = 0;

	for (;;) {
		int cmd;

		pthread_mutex_lock(&lg->mu);
		while (lg->gen == seen)
			pthread_cond_wait(&lg->cv, &lg->mu);
		seen = lg->gen;
		cmd = lg->cmd;
		pthread_mutex_unlock(&lg->mu);
		if (cmd == LG_EXIT)
			return NULL;
		if (cmd != LG_RUN)
			continue;
		lg_run(t);
		/* Wait for the stop (a run that had nothing to do), then take it. */
		while (!atomic_load_explicit(&lg->stop, memory_order_acquire)) {
			struct epoll_event ev;

			epoll_wait(t->ep, &ev, 1, -1);
		}
		pthread_mutex_lock(&lg->mu);
		lg->done++;
		pthread_cond_broadcast(&lg->cv);
		pthread_mutex_unlock(&lg->mu);
	}
}

int iolens__loadgen_create(struct iolens__loadgen **out, unsigned threads, int cpu)
{
	struct iolens__loadgen *lg;
	int e = 0;

	*out = NULL;
	if (!iolens__pattern())
		return -ENOMEM;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	lg->nthreads = threads ? threads : 1;
	pthread_mutex_init(&lg->mu, NULL);
	pthread_cond_init(&lg->cv, NULL);
	lg->t = calloc(lg->nthreads, sizeof(*lg->t));
	if (!lg->t) {
		free(lg);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < lg->nthreads; i++)
		lg->t[i].ep = lg->t[i].wfd = -1;
	for (unsigned i = 0; i < lg->nthreads; i++) {
		struct lthread *t = &lg->t[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		t->lg = lg;
		t->id = i;
		t->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		t->scratch = malloc(SCRATCH_SIZE);
		t->hist = iolens_hist_new();
		if (t->wfd < 0 || t->ep < 0)
			e = -errno;
		else if (!t->scratch || !t->hist)
			e = -ENOMEM;
		else if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->wfd, &ev))
			e = -errno;
		if (e)
			break;
	}
	for (unsigned i = 0; !e && i < lg->nthreads; i++)
		e = spawn(&lg->t[i].th, lthread_main, &lg->t[i], cpu, &lg->t[i].started);
	if (e) {
		iolens__loadgen_destroy(lg);
		return e;
	}
	*out = lg;
	return 0;
}

int iolens__loadgen_start(struct iolens__loadgen *lg, const struct iolens__loadgen_opts *o,
			  char *err, size_t errlen)
{
	if (lg->running)
		return fail_msg(err, errlen, -EBUSY, "load generator: already running");
	if (!o->conns)
		return fail_msg(err, errlen, -EINVAL, "load generator: no connections");
	if (o->msg < 1 || o->msg > IOLENS_MSG_MAX)
		return fail_msg(err, errlen, -EINVAL,
				"load generator: request size %u (accepts 1 to %u bytes)", o->msg,
				IOLENS_MSG_MAX);
	if (o->depth < 1 || o->depth > 65536)
		return fail_msg(err, errlen, -EINVAL,
				"load generator: depth %u (accepts 1 to 65536)", o->depth);
	if (o->addr.ss.ss_family != AF_INET && o->addr.ss.ss_family != AF_INET6 &&
	    o->addr.ss.ss_family != AF_UNIX)
		return fail_msg(err, errlen, -EINVAL, "load generator: no address to connect to");
	pthread_mutex_lock(&lg->mu);
	lg->o = *o;
	lg->done = 0;
	atomic_store(&lg->stop, 0);
	lg->cmd = LG_RUN;
	lg->gen++;
	lg->running = 1;
	pthread_cond_broadcast(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	return 0;
}

void iolens__loadgen_measure(struct iolens__loadgen *lg, int on)
{
	if (on)
		atomic_store_explicit(&lg->since, now_ns(), memory_order_relaxed);
	atomic_store_explicit(&lg->measure, !!on, memory_order_relaxed);
}

/* Stop a run and wait until every thread has closed its connections. */
static void lg_halt(struct iolens__loadgen *lg)
{
	uint64_t one = 1;

	atomic_store_explicit(&lg->stop, 1, memory_order_release);
	for (unsigned i = 0; i < lg->nthreads; i++)
		if (write(lg->t[i].wfd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail short of overflow */
		}
	pthread_mutex_lock(&lg->mu);
	while (lg->done < lg->nthreads)
		pthread_cond_wait(&lg->cv, &lg->mu);
	lg->running = 0;
	pthread_mutex_unlock(&lg->mu);
	/* Every thread is idle now: take the wake-ups back so the next run starts quiet. */
	for (unsigned i = 0; i < lg->nthreads; i++)
		if (read(lg->t[i].wfd, &one, sizeof(one)) < 0) {
			/* already taken */
		}
}

int iolens__loadgen_finish(struct iolens__loadgen *lg, struct iolens__loadgen_result *res)
{
	const struct lthread *first = NULL;

	memset(res, 0, sizeof(*res));
	if (!lg->running)
		return -EINVAL;
	lg_halt(lg);
	res->hist = iolens_hist_new();
	if (!res->hist)
		return -ENOMEM;
	for (unsigned i = 0; i < lg->nthreads; i++) {
		const struct lthread *t = &lg->t[i];

		res->connected += t->connected;
		res->requests += t->requests;
		res->bytes += t->bytes;
		iolens_hist_merge(res->hist, t->hist);
		if (t->err && (!first || t->err_at < first->err_at))
			first = t;
	}
	if (first) {
		res->err = first->err;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s", first->errmsg);
	}
	return 0;
}

void iolens__loadgen_destroy(struct iolens__loadgen *lg)
{
	if (!lg)
		return;
	if (lg->running)
		lg_halt(lg);
	pthread_mutex_lock(&lg->mu);
	lg->cmd = LG_EXIT;
	lg->gen++;
	pthread_cond_broadcast(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	for (unsigned i = 0; i < lg->nthreads; i++) {
		struct lthread *t = &lg->t[i];

		if (t->started)
			pthread_join(t->th, NULL);
		if (t->ep >= 0)
			close(t->ep);
		if (t->wfd >= 0)
			close(t->wfd);
		free(t->scratch);
		iolens_hist_free(t->hist);
	}
	pthread_mutex_destroy(&lg->mu);
	pthread_cond_destroy(&lg->cv);
	free(lg->t);
	free(lg);
}
