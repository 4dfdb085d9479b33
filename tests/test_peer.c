/*
 * The socket peers: address parsing, the responder in each mode over each
 * transport (driven by plain blocking sockets here), its timer queue, its
 * 10,000-connection footprint, and the load generator against small echo
 * servers of this file, honest or not.
 *
 * One piece, ~1,150 lines, because it is the suite of one unit, the peers,
 * whose cases share the plain-socket client and the small echo servers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hist.h"
#include "iolens/workload.h"
#include "peer.h"

#define IO_TIMEOUT_S 20

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* xorshift for sizes; the data itself is always the pattern. */
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* The stream bytes at offset off of a stream, copied out (wrapping the period). */
static void pattern_copy(unsigned char *dst, uint64_t off, size_t n)
{
	const unsigned char *pat = iolens__pattern();

	while (n) {
		size_t at = (size_t)(off % IOLENS_PATTERN_PERIOD);
		size_t k = IOLENS_PATTERN_PERIOD - at < n ? IOLENS_PATTERN_PERIOD - at : n;

		memcpy(dst, pat + at, k);
		dst += k;
		off += k;
		n -= k;
	}
}

static int stream_equal(const unsigned char *p, uint64_t off, size_t n)
{
	unsigned char *want = malloc(n ? n : 1);
	int eq;

	assert_non_null(want);
	pattern_copy(want, off, n);
	eq = memcmp(p, want, n) == 0;
	free(want);
	return eq;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_to(const struct iolens__addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail_msg("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len))
		fail_msg("connect: %s", strerror(errno));
	set_timeouts(fd);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t s = send(fd, p, n, MSG_NOSIGNAL);

		if (s < 0 && errno == EINTR)
			continue;
		if (s <= 0)
			fail_msg("send: %s", s < 0 ? strerror(errno) : "sent nothing");
		p = (const char *)p + s;
		n -= (size_t)s;
	}
}

static void read_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t s = recv(fd, p, n, 0);

		if (s < 0 && errno == EINTR)
			continue;
		if (s <= 0)
			fail_msg("recv: %s", s < 0 ? strerror(errno) : "end of stream");
		p = (char *)p + s;
		n -= (size_t)s;
	}
}

static void send_hello(int fd, uint32_t mode, uint32_t msg, uint64_t delay_ns, uint64_t start)
{
	struct iolens__hello h = {
		.magic = htole64(IOLENS_HELLO_MAGIC),
		.mode = htole32(mode),
		.msg = htole32(msg),
		.delay_ns = htole64(delay_ns),
		.start = htole64(start),
	};

	write_all(fd, &h, sizeof(h));
}

static struct iolens__responder *responder(int transport, uint64_t delay_ns, unsigned threads)
{
	struct iolens__responder_opts o = {
		.transport = transport, .delay_ns = delay_ns, .threads = threads, .cpu = -1
	};
	struct iolens__responder *r = NULL;
	char err[256] = "";
	int e = iolens__responder_start(&r, &o, err, sizeof(err));

	if (e)
		fail_msg("responder_start(%s): %d %s", iolens_transport_name(transport), e, err);
	return r;
}

/* Wait until the responder has `open` connections open (false after 20 s). */
static int wait_open(struct iolens__responder *r, uint64_t want)
{
	uint64_t open = 0, end = now_ns() + 20000000000ULL;

	while (now_ns() < end) {
		iolens__responder_counts(r, &open, NULL);
		if (open == want)
			return 1;
		sleep_ms(5);
	}
	print_error("open connections: %llu, want %llu\n", (unsigned long long)open,
		    (unsigned long long)want);
	return 0;
}

static int have_ipv6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* ---- addresses, pattern ---- */

static void expect_parse(const char *s, int tr, int listening, const char *formatted)
{
	struct iolens__addr a;
	char err[256] = "", out[128];
	int e = iolens__addr_parse(s, tr, "--connect", listening, &a, err, sizeof(err));

	if (e)
		fail_msg("'%s': %d %s", s, e, err);
	assert_int_equal(a.transport, tr);
	iolens__addr_format(&a, out, sizeof(out));
	assert_string_equal(out, formatted);
}

static void expect_reject(const char *s, int tr, int listening, const char *words)
{
	struct iolens__addr a;
	char err[256] = "";
	int e = iolens__addr_parse(s, tr, "--connect", listening, &a, err, sizeof(err));

	assert_int_equal(e, -EINVAL);
	if (!strstr(err, "--connect") || !strstr(err, words) || strchr(err, '\n'))
		fail_msg("'%s': message '%s' lacks the option or '%s'", s, err, words);
}

static void test_addr_parse(void **state)
{
	(void)state;
	expect_parse("127.0.0.1:5000", IOLENS_TR_TCP, 0, "127.0.0.1:5000");
	expect_parse("localhost:80", IOLENS_TR_TCP, 0, "127.0.0.1:80");
	expect_parse("127.0.0.1:0", IOLENS_TR_TCP, 1, "127.0.0.1:0");
	expect_parse("[::1]:5000", IOLENS_TR_TCP6, 0, "[::1]:5000");
	expect_parse("[::]:65535", IOLENS_TR_TCP6, 1, "[::]:65535");
	expect_parse("/tmp/iolens-test.sock", IOLENS_TR_UNIX, 0, "/tmp/iolens-test.sock");

	expect_reject("127.0.0.1:0", IOLENS_TR_TCP, 0, "port");
	expect_reject("1.2.3.4:99999", IOLENS_TR_TCP, 0, "port out of range");
	expect_reject("1.2.3.4:70000", IOLENS_TR_TCP, 1, "port out of range");
	expect_reject("[::1]:70000", IOLENS_TR_TCP6, 0, "port out of range");
	expect_reject("127.0.0.1", IOLENS_TR_TCP, 0, "no port");
	expect_reject("127.0.0.1:http", IOLENS_TR_TCP, 0, "not a port");
	expect_reject("127.0.0.1:-1", IOLENS_TR_TCP, 0, "not a port");
	expect_reject(":5000", IOLENS_TR_TCP, 0, "no host");
	expect_reject("no-such-host.invalid:80", IOLENS_TR_TCP, 0, "cannot resolve");
	expect_reject("::1:5000", IOLENS_TR_TCP6, 0, "brackets");
	expect_reject("[::1]5000", IOLENS_TR_TCP6, 0, "[ADDR]:PORT");
	expect_reject("[zz::1]:5000", IOLENS_TR_TCP6, 0, "cannot resolve");
	expect_reject("", IOLENS_TR_UNIX, 1, "empty path");
	{
		char longpath[200];

		memset(longpath, 'a', sizeof(longpath) - 1);
		longpath[sizeof(longpath) - 1] = '\0';
		expect_reject(longpath, IOLENS_TR_UNIX, 1, "too long");
	}

	for (int t = 0; t < IOLENS_TR__COUNT; t++)
		assert_int_equal(iolens_transport_parse(iolens_transport_name(t)), t);
	assert_int_equal(iolens_transport_parse("udp"), -EINVAL);
	assert_int_equal(iolens_transport_parse("TCP"), -EINVAL);
}

static void test_loopback_and_pattern(void **state)
{
	const unsigned char *pat = iolens__pattern();
	struct iolens__addr a, b;
	struct rlimit rl;
	char pa[128], pb[128];
	struct stat st;

	(void)state;
	assert_non_null(pat);
	assert_ptr_equal(pat, iolens__pattern());
	assert_memory_equal(pat + IOLENS_PATTERN_PERIOD, pat, IOLENS_MSG_MAX);
	assert_memory_not_equal(pat, pat + 1, 64); /* not a constant fill */
	for (uint64_t i = 0; i < 1000; i++)
		assert_true(iolens__stream_start(i) < IOLENS_PATTERN_PERIOD);
	assert_int_not_equal(iolens__stream_start(0), iolens__stream_start(1));

	/* Two unix loopbacks are two fresh paths whose directories exist. */
	assert_int_equal(iolens__addr_loopback(IOLENS_TR_UNIX, &a), 0);
	assert_int_equal(iolens__addr_loopback(IOLENS_TR_UNIX, &b), 0);
	iolens__addr_format(&a, pa, sizeof(pa));
	iolens__addr_format(&b, pb, sizeof(pb));
	assert_string_not_equal(pa, pb);
	*strrchr(pa, '/') = '\0';
	*strrchr(pb, '/') = '\0';
	assert_int_equal(stat(pa, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(pa);
	rmdir(pb);
	assert_int_equal(iolens__addr_loopback(IOLENS_TR_TCP, &a), 0);
	iolens__addr_format(&a, pa, sizeof(pa));
	assert_string_equal(pa, "127.0.0.1:0");

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(iolens__raise_nofile() >= rl.rlim_cur);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(rl.rlim_cur, rl.rlim_max);
}

/* ---- responder: echo ---- */

struct streamer {
	int fd;
	uint64_t start;
	size_t total;
};

static void *stream_writer(void *arg)
{
	struct streamer *s = arg;
	unsigned char *buf = malloc(1 << 17);
	size_t sent = 0;

	while (buf && sent < s->total) {
		size_t n = 1 + (size_t)rnd(1 << 17);

		if (n > s->total - sent)
			n = s->total - sent;
		pattern_copy(buf, s->start + sent, n);
		write_all(s->fd, buf, n);
		sent += n;
	}
	free(buf);
	return NULL;
}

static void echo_case(int transport)
{
	struct iolens__responder *r = responder(transport, 0, 2);
	const struct iolens__addr *a = iolens__responder_addr(r);
	size_t cap = 300000;
	unsigned char *out = malloc(cap), *in = malloc(8 << 20);
	uint64_t open, accepted;

	assert_non_null(out);
	assert_non_null(in);
	/* Round trips of random sizes, each one whole before the next. */
	for (int conn = 0; conn < 8; conn++) {
		int fd = connect_to(a);
		uint32_t msg = 1 + (uint32_t)rnd(100000);
		uint64_t start = iolens__stream_start((uint64_t)conn), off = 0;

		send_hello(fd, IOLENS_PEER_ECHO, msg, 0, start);
		for (int k = 0; k < 20; k++) {
			size_t n = 1 + (size_t)rnd(cap);

			pattern_copy(out, start + off, n);
			write_all(fd, out, n);
			memset(in, 0, n);
			read_all(fd, in, n);
			assert_true(stream_equal(in, start + off, n));
			off += n;
		}
		close(fd);
	}
	/* One stream far beyond the socket buffers, written while read: backpressure. */
	{
		struct streamer s = { .fd = connect_to(a), .start = 777, .total = 8 << 20 };
		pthread_t th;

		send_hello(s.fd, IOLENS_PEER_ECHO, 4096, 0, s.start);
		assert_int_equal(pthread_create(&th, NULL, stream_writer, &s), 0);
		read_all(s.fd, in, s.total);
		pthread_join(th, NULL);
		assert_true(stream_equal(in, s.start, s.total));
		close(s.fd);
	}
	assert_true(wait_open(r, 0));
	iolens__responder_counts(r, &open, &accepted);
	assert_int_equal(accepted, 9);
	free(out);
	free(in);
	iolens__responder_stop(r);
}

static void test_echo_tcp(void **state)
{
	(void)state;
	echo_case(IOLENS_TR_TCP);
}

static void test_echo_tcp6(void **state)
{
	(void)state;
	if (!have_ipv6())
		skip();
	echo_case(IOLENS_TR_TCP6);
}

static void test_echo_unix(void **state)
{
	struct iolens__addr a;
	char path[128];
	struct stat st;

	(void)state;
	echo_case(IOLENS_TR_UNIX);
	/* A listener on a path it was given leaves no path behind either. */
	assert_int_equal(iolens__addr_loopback(IOLENS_TR_UNIX, &a), 0);
	{
		struct iolens__responder_opts o = {
			.transport = IOLENS_TR_UNIX, .listen = &a, .cpu = -1
		};
		struct iolens__responder *r;
		char err[256];

		assert_int_equal(iolens__responder_start(&r, &o, err, sizeof(err)), 0);
		iolens__addr_format(iolens__responder_addr(r), path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		iolens__responder_stop(r);
	}
	assert_int_equal(stat(path, &st), -1);
	*strrchr(path, '/') = '\0';
	assert_int_equal(stat(path, &st), -1);
}

/* A bad hello closes the connection; the responder goes on serving the next one. */
static void test_bad_hello(void **state)
{
	struct iolens__responder *r = responder(IOLENS_TR_TCP, 0, 1);
	const struct iolens__addr *a = iolens__responder_addr(r);
	char c;
	int fd;

	(void)state;
	fd = connect_to(a);
	send_hello(fd, IOLENS_PEER_ECHO, 0, 0, 0); /* msg 0 */
	assert_true(recv(fd, &c, 1, 0) <= 0);
	close(fd);
	fd = connect_to(a);
	send_hello(fd, 9, 100, 0, 0); /* no such mode */
	assert_true(recv(fd, &c, 1, 0) <= 0);
	close(fd);
	fd = connect_to(a);
	{
		char junk[sizeof(struct iolens__hello)];

		memset(junk, ' ', sizeof(junk));
		memcpy(junk, "GET / HTTP/1.0\r\n\r\n", 18);
		write_all(fd, junk, sizeof(junk));
	}
	assert_true(recv(fd, &c, 1, 0) <= 0);
	close(fd);
	fd = connect_to(a);
	send_hello(fd, IOLENS_PEER_ECHO, 1, 0, 5);
	c = 'x';
	write_all(fd, &c, 1);
	c = 0;
	read_all(fd, &c, 1);
	assert_int_equal(c, 'x');
	close(fd);
	assert_true(wait_open(r, 0));
	iolens__responder_stop(r);
}

/* ---- responder: delay ---- */

#define DELAY_CONNS 20
#define DELAY_NS 50000000ULL

static void delay_case(uint64_t responder_delay, uint64_t hello_delay)
{
	struct iolens__responder *r = responder(IOLENS_TR_TCP, responder_delay, 1);
	const struct iolens__addr *a = iolens__responder_addr(r);
	struct pollfd pfd[DELAY_CONNS];
	uint64_t sent_at[DELAY_CONNS], t0;
	unsigned char req[100], rep[100];
	int left = DELAY_CONNS;

	for (int i = 0; i < DELAY_CONNS; i++) {
		pfd[i].fd = connect_to(a);
		pfd[i].events = POLLIN;
		send_hello(pfd[i].fd, IOLENS_PEER_ECHO, sizeof(req), hello_delay, (uint64_t)i);
	}
	t0 = now_ns();
	for (int i = 0; i < DELAY_CONNS; i++) {
		pattern_copy(req, (uint64_t)i, sizeof(req));
		sent_at[i] = now_ns();
		write_all(pfd[i].fd, req, sizeof(req));
	}
	while (left) {
		int n = poll(pfd, DELAY_CONNS, IO_TIMEOUT_S * 1000);

		assert_true(n > 0);
		for (int i = 0; i < DELAY_CONNS; i++) {
			uint64_t at;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			at = now_ns();
			read_all(pfd[i].fd, rep, sizeof(rep));
			if (at - sent_at[i] < DELAY_NS)
				fail_msg("connection %d answered after %llu ns, too soon", i,
					 (unsigned long long)(at - sent_at[i]));
			assert_true(stream_equal(rep, (uint64_t)i, sizeof(rep)));
			close(pfd[i].fd);
			pfd[i].fd = -1;
			left--;
		}
	}
	/* All at once, not one after another (20 x 50 ms = 1 s). */
	assert_true(now_ns() - t0 < 1000000000ULL);
	assert_true(wait_open(r, 0));
	iolens__responder_stop(r);
}

static void test_delay(void **state)
{
	(void)state;
	delay_case(DELAY_NS, 0);      /* the responder's own delay */
	delay_case(1000000, DELAY_NS); /* a hello's delay wins */
}

/* Pipelined requests on one connection: each answered a delay after its own arrival. */
static void test_delay_pipelined(void **state)
{
	struct iolens__responder *r = responder(IOLENS_TR_UNIX, 30000000ULL, 1);
	int fd = connect_to(iolens__responder_addr(r));
	unsigned char out[3000], in[3000];
	uint64_t t0;

	(void)state;
	send_hello(fd, IOLENS_PEER_ECHO, 1000, 0, 42);
	pattern_copy(out, 42, sizeof(out));
	t0 = now_ns();
	write_all(fd, out, 1000);
	sleep_ms(10);
	write_all(fd, out + 1000, 1500); /* one and a half */
	read_all(fd, in, 1000);
	assert_true(now_ns() - t0 >= 30000000ULL);
	read_all(fd, in + 1000, 1000);
	assert_true(now_ns() - t0 >= 40000000ULL);
	/* The half request waits for its other half, however long. */
	sleep_ms(60);
	assert_int_equal(recv(fd, in + 2000, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	write_all(fd, out + 2500, 500);
	read_all(fd, in + 2000, 1000);
	assert_memory_equal(in, out, sizeof(out));
	close(fd);
	assert_true(wait_open(r, 0));
	iolens__responder_stop(r);
}

/* ---- responder: sink and source ---- */

/* A sink connection: the hello's flags field is the echo delay's (0 from older clients). */
static struct iolens__trailer sink_flags_case(const struct iolens__addr *a, uint64_t start,
					     size_t n, int64_t corrupt_at, uint64_t flags)
{
	unsigned char *buf = malloc(n);
	struct iolens__trailer tr;
	int fd = connect_to(a);
	size_t off = 0;

	assert_non_null(buf);
	pattern_copy(buf, start, n);
	if (corrupt_at >= 0)
		buf[corrupt_at] ^= 0x20;
	send_hello(fd, IOLENS_PEER_SINK, 0, flags, start);
	while (off < n) {
		size_t k = 1 + (size_t)rnd(200000);

		if (k > n - off)
			k = n - off;
		write_all(fd, buf + off, k);
		off += k;
	}
	shutdown(fd, SHUT_WR);
	read_all(fd, &tr, sizeof(tr));
	assert_int_equal(recv(fd, buf, 1, 0), 0); /* and then it closes */
	close(fd);
	free(buf);
	tr.bytes = le64toh(tr.bytes);
	tr.bad_offset = le64toh(tr.bad_offset);
	return tr;
}

static struct iolens__trailer sink_case(const struct iolens__addr *a, uint64_t start, size_t n,
				       int64_t corrupt_at)
{
	return sink_flags_case(a, start, n, corrupt_at, 0);
}

static void test_sink(void **state)
{
	struct iolens__responder *r = responder(IOLENS_TR_TCP, 0, 2);
	const struct iolens__addr *a = iolens__responder_addr(r);
	struct iolens__trailer tr;

	(void)state;
	tr = sink_case(a, 1000, 3000001, -1);
	assert_int_equal(tr.bytes, 3000001);
	assert_true(tr.bad_offset == UINT64_MAX);
	/* Across the period's end. */
	tr = sink_case(a, IOLENS_PATTERN_PERIOD - 10, 100, -1);
	assert_int_equal(tr.bytes, 100);
	assert_true(tr.bad_offset == UINT64_MAX);
	tr = sink_case(a, 5, 3000001, 1234567);
	assert_int_equal(tr.bytes, 3000001);
	assert_int_equal(tr.bad_offset, 1234567);
	tr = sink_case(a, 5, 10, 0);
	assert_int_equal(tr.bad_offset, 0);
	tr = sink_case(a, 5, 0, -1);
	assert_int_equal(tr.bytes, 0);
	assert_true(tr.bad_offset == UINT64_MAX);
	iolens__responder_stop(r);
}

/*
 * Asked not to check, the sink still counts every byte and says in the
 * trailer that it did not check, never that all matched: a corrupted byte
 * goes unreported. The next connection, from an older client (flags 0),
 * is checked again.
 */
static void test_sink_nocheck(void **state)
{
	struct iolens__responder *r = responder(IOLENS_TR_TCP, 0, 1);
	const struct iolens__addr *a = iolens__responder_addr(r);
	struct iolens__trailer tr;

	(void)state;
	tr = sink_flags_case(a, 5, 3000001, 1234567, IOLENS_SINK_NOCHECK);
	assert_int_equal(tr.bytes, 3000001);
	assert_true(tr.bad_offset == IOLENS_TRAILER_UNCHECKED);
	tr = sink_flags_case(a, 5, 0, -1, IOLENS_SINK_NOCHECK);
	assert_int_equal(tr.bytes, 0);
	assert_true(tr.bad_offset == IOLENS_TRAILER_UNCHECKED);
	tr = sink_case(a, 5, 3000001, 1234567);
	assert_int_equal(tr.bytes, 3000001);
	assert_int_equal(tr.bad_offset, 1234567);
	iolens__responder_stop(r);
}

static void test_source(void **state)
{
	struct iolens__responder *r = responder(IOLENS_TR_UNIX, 0, 1);
	size_t n = 10 << 20;
	unsigned char *buf = malloc(n);
	uint64_t start = iolens__stream_start(3);
	int fd = connect_to(iolens__responder_addr(r));

	(void)state;
	assert_non_null(buf);
	send_hello(fd, IOLENS_PEER_SOURCE, 0, 0, start);
	read_all(fd, buf, n);
	assert_true(stream_equal(buf, start, n));
	close(fd);
	assert_true(wait_open(r, 0));
	free(buf);
	iolens__responder_stop(r);
}

/* ---- responder: 10,000 connections ---- */

#define MANY 10000

/*
 * The clients live in a child process, so that each side needs only
 * MANY + a few descriptors. The child reports each step on a pipe with one
 * byte ('c' connected and echoed, or 'e' failed) and closes everything when
 * the parent writes a byte back.
 */
static int many_clients(const struct iolens__addr *a, int up, int down)
{
	unsigned char req[16], rep[16];
	int *fds = malloc(MANY * sizeof(*fds));
	char c;

	if (!fds)
		return 1;
	for (int i = 0; i < MANY; i++) {
		struct iolens__hello h = {
			.magic = htole64(IOLENS_HELLO_MAGIC),
			.mode = htole32(IOLENS_PEER_ECHO),
			.msg = htole32(sizeof(req)),
			.start = htole64((uint64_t)i),
		};

		fds[i] = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (const struct sockaddr *)&a->ss, a->len))
			return 2;
		set_timeouts(fds[i]);
		if (send(fds[i], &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
			return 3;
	}
	for (int i = 0; i < MANY; i++) {
		pattern_copy(req, (uint64_t)i, sizeof(req));
		if (send(fds[i], req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
			return 4;
	}
	for (int i = 0; i < MANY; i++) {
		if (recv(fds[i], rep, sizeof(rep), MSG_WAITALL) != sizeof(rep))
			return 5;
		pattern_copy(req, (uint64_t)i, sizeof(req));
		if (memcmp(req, rep, sizeof(rep)))
			return 6;
	}
	c = 'c';
	if (write(up, &c, 1) != 1 || read(down, &c, 1) != 1)
		return 7;
	for (int i = 0; i < MANY; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

static void test_many_connections(void **state)
{
	struct iolens__responder *r;
	uint64_t open, accepted;
	int up[2], down[2], status;
	pid_t pid;
	char c = 0;

	(void)state;
	if (iolens__raise_nofile() < MANY + 100) {
		print_message("skipped: RLIMIT_NOFILE cannot reach %d here\n", MANY + 100);
		skip();
	}
	r = responder(IOLENS_TR_TCP, 0, 2);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		_exit(many_clients(iolens__responder_addr(r), up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &c, 1) != 1 || c != 'c') {
		waitpid(pid, &status, 0);
		fail_msg("the clients failed: exit status %d", WEXITSTATUS(status));
	}
	iolens__responder_counts(r, &open, &accepted);
	assert_int_equal(open, MANY);
	assert_int_equal(accepted, MANY);
	assert_int_equal(write(down[1], &c, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(wait_open(r, 0));
	close(up[0]);
	close(down[1]);
	iolens__responder_stop(r);
}

static void test_address_in_use(void **state)
{
	struct iolens__responder *r1 = responder(IOLENS_TR_TCP, 0, 1), *r2 = NULL;
	struct iolens__responder_opts o = { .transport = IOLENS_TR_TCP, .cpu = -1 };
	char err[256] = "", where[128];
	struct iolens__addr a = *iolens__responder_addr(r1);
	int fd;

	(void)state;
	iolens__addr_format(&a, where, sizeof(where));
	o.listen = &a;
	assert_int_equal(iolens__responder_start(&r2, &o, err, sizeof(err)), -EADDRINUSE);
	assert_null(r2);
	if (!strstr(err, where) || !strstr(err, "in use"))
		fail_msg("message '%s' does not name %s", err, where);
	/* The first one is unharmed. */
	fd = connect_to(&a);
	close(fd);
	iolens__responder_stop(r1);

	/* A unix path in use is reported the same way, and left alone. */
	r1 = responder(IOLENS_TR_UNIX, 0, 1);
	a = *iolens__responder_addr(r1);
	iolens__addr_format(&a, where, sizeof(where));
	o.transport = IOLENS_TR_UNIX;
	assert_int_equal(iolens__responder_start(&r2, &o, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, where));
	fd = connect_to(&a);
	close(fd);
	iolens__responder_stop(r1);
}

/* ---- load generator against echo servers of this file ---- */

struct echo_srv {
	struct iolens__addr addr;
	int lfd, efd, ep;
	pthread_t th;
	int64_t corrupt_at; /* flip the byte at this offset of all bytes echoed, -1: never */
	int reset_first;    /* reset the first accepted connection at its first request */
	uint64_t echoed;
	unsigned accepted;
	struct echo_conn *conns[256]; /* by accept order, to close what is left */
};

struct echo_conn {
	struct echo_srv *s;
	int fd;
	unsigned no;
	size_t off, len;
	unsigned char buf[65536];
};

static void echo_conn_close(struct echo_conn *c, int reset)
{
	if (reset) {
		struct linger lg = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	c->s->conns[c->no] = NULL;
	free(c);
}

static void *echo_srv_main(void *arg)
{
	struct echo_srv *s = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(s->ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;

			if (!c) {
				return NULL;
			} else if (c == (void *)s) {
				int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK);
				struct epoll_event ev = { .events = EPOLLIN };

				if (fd < 0)
					continue;
				if (s->accepted == 256) {
					close(fd);
					continue;
				}
				c = calloc(1, sizeof(*c));
				c->s = s;
				c->fd = fd;
				c->no = s->accepted++;
				s->conns[c->no] = c;
				ev.data.ptr = c;
				epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			if (c->len == 0) {
				ssize_t k = recv(c->fd, c->buf, sizeof(c->buf), 0);

				if (k <= 0 || (s->reset_first && c->no == 0)) {
					echo_conn_close(c, k > 0);
					continue;
				}
				if (s->corrupt_at >= 0 && (uint64_t)s->corrupt_at >= s->echoed &&
				    (uint64_t)s->corrupt_at < s->echoed + (uint64_t)k)
					c->buf[(uint64_t)s->corrupt_at - s->echoed] ^= 1;
				s->echoed += (uint64_t)k;
				c->off = 0;
				c->len = (size_t)k;
			}
			{
				ssize_t k = send(c->fd, c->buf + c->off, c->len, MSG_NOSIGNAL);
				struct epoll_event ev = { .data.ptr = c };

				if (k < 0 && errno != EAGAIN) {
					echo_conn_close(c, 0);
					continue;
				}
				if (k > 0) {
					c->off += (size_t)k;
					c->len -= (size_t)k;
				}
				ev.events = c->len ? EPOLLOUT : EPOLLIN;
				epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
}

static struct echo_srv *echo_srv_start(int transport, int backlog)
{
	struct echo_srv *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };

	assert_non_null(s);
	s->corrupt_at = -1;
	assert_int_equal(iolens__addr_loopback(transport, &s->addr), 0);
	s->lfd = socket(s->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&s->addr.ss, s->addr.len), 0);
	assert_int_equal(listen(s->lfd, backlog), 0);
	if (transport != IOLENS_TR_UNIX) {
		s->addr.len = sizeof(s->addr.ss);
		getsockname(s->lfd, (struct sockaddr *)&s->addr.ss, &s->addr.len);
	}
	s->ep = epoll_create1(0);
	s->efd = eventfd(0, 0);
	ev.data.ptr = s;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
	ev.data.ptr = NULL;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &ev);
	return s;
}

static void echo_srv_run(struct echo_srv *s)
{
	assert_int_equal(pthread_create(&s->th, NULL, echo_srv_main, s), 0);
}

/* Stop the server and close the connections it still holds. */
static void echo_srv_stop(struct echo_srv *s)
{
	uint64_t one = 1;
	char path[128];

	assert_int_equal(write(s->efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(s->th, NULL);
	for (unsigned i = 0; i < s->accepted; i++)
		if (s->conns[i])
			echo_conn_close(s->conns[i], 0);
	close(s->lfd);
	close(s->ep);
	close(s->efd);
	if (s->addr.transport == IOLENS_TR_UNIX) {
		iolens__addr_format(&s->addr, path, sizeof(path));
		unlink(path);
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
	free(s);
}

static void lg_run(struct iolens__loadgen *lg, const struct iolens__addr *a, unsigned conns,
		   unsigned depth, unsigned measure_ms, struct iolens_loadgen_figures *res)
{
	struct iolens__loadgen_opts o = { .addr = *a, .conns = conns, .msg = 100, .depth = depth };
	char err[256] = "";

	if (iolens__loadgen_start(lg, &o, err, sizeof(err)))
		fail_msg("loadgen_start: %s", err);
	sleep_ms(100);
	iolens__loadgen_measure(lg, 1);
	sleep_ms(measure_ms);
	iolens__loadgen_measure(lg, 0);
	sleep_ms(20);
	assert_int_equal(iolens__loadgen_finish(lg, res), 0);
	assert_non_null(res->hist);
}

static void loadgen_case(int transport, int backlog)
{
	struct echo_srv *s = echo_srv_start(transport, backlog);
	struct iolens__loadgen *lg;

	echo_srv_run(s);
	assert_int_equal(iolens__loadgen_create(&lg, 2, -1), 0);
	/* The same generator runs twice, deeper the second time. */
	for (unsigned depth = 1; depth <= 4; depth += 3) {
		struct iolens_loadgen_figures res;

		lg_run(lg, &s->addr, 64, depth, 300, &res);
		if (res.err)
			fail_msg("depth %u: %d %s", depth, res.err, res.errmsg);
		assert_int_equal(res.connected, 64);
		assert_true(res.requests > 0);
		assert_int_equal(iolens_hist_count(res.hist), res.requests);
		assert_true(res.bytes >= res.requests * 100 - 64 * 100 * depth);
		assert_true(res.bytes <= res.requests * 100 + 64 * 100 * depth);
		assert_true(res.hist->min > 0);
		iolens_hist_free(res.hist);
	}
	iolens__loadgen_destroy(lg);
	echo_srv_stop(s);
}

static void test_loadgen_tcp(void **state)
{
	(void)state;
	loadgen_case(IOLENS_TR_TCP, 128);
}

/* A unix listener with a tiny backlog: connects beyond it are retried, not failed. */
static void test_loadgen_unix(void **state)
{
	(void)state;
	loadgen_case(IOLENS_TR_UNIX, 2);
}

static void test_loadgen_not_measuring(void **state)
{
	struct echo_srv *s = echo_srv_start(IOLENS_TR_TCP, 128);
	struct iolens__loadgen_opts o = { .addr = s->addr, .conns = 3, .msg = 1000, .depth = 2 };
	struct iolens_loadgen_figures res;
	struct iolens__loadgen *lg;
	char err[256];

	(void)state;
	echo_srv_run(s);
	assert_int_equal(iolens__loadgen_create(&lg, 0, -1), 0);
	assert_int_equal(iolens__loadgen_finish(lg, &res), -EINVAL); /* nothing started */
	assert_int_equal(iolens__loadgen_start(lg, &o, err, sizeof(err)), 0);
	assert_int_equal(iolens__loadgen_start(lg, &o, err, sizeof(err)), -EBUSY);
	sleep_ms(200);
	assert_int_equal(iolens__loadgen_finish(lg, &res), 0);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.connected, 3);
	assert_int_equal(res.requests, 0);
	assert_int_equal(res.bytes, 0);
	assert_int_equal(iolens_hist_count(res.hist), 0);
	assert_true(s->echoed > 0); /* it did run */
	iolens_hist_free(res.hist);
	o.msg = 0;
	assert_int_equal(iolens__loadgen_start(lg, &o, err, sizeof(err)), -EINVAL);
	o.msg = 10;
	o.depth = 0;
	assert_int_equal(iolens__loadgen_start(lg, &o, err, sizeof(err)), -EINVAL);
	/* Destroyed while running: it stops first. */
	o.depth = 1;
	assert_int_equal(iolens__loadgen_start(lg, &o, err, sizeof(err)), 0);
	iolens__loadgen_destroy(lg);
	echo_srv_stop(s);
}

static void test_loadgen_corrupt(void **state)
{
	struct echo_srv *s = echo_srv_start(IOLENS_TR_TCP, 128);
	struct iolens_loadgen_figures res;
	struct iolens__loadgen *lg;

	(void)state;
	s->corrupt_at = 5000;
	echo_srv_run(s);
	assert_int_equal(iolens__loadgen_create(&lg, 1, -1), 0);
	lg_run(lg, &s->addr, 8, 2, 100, &res);
	assert_int_equal(res.err, -EILSEQ);
	if (!strstr(res.errmsg, "connection ") || !strstr(res.errmsg, "offset"))
		fail_msg("message: %s", res.errmsg);
	assert_true(res.requests > 0); /* the others went on */
	iolens_hist_free(res.hist);
	iolens__loadgen_destroy(lg);
	echo_srv_stop(s);
}

static void test_loadgen_reset(void **state)
{
	struct echo_srv *s = echo_srv_start(IOLENS_TR_TCP, 128);
	struct iolens_loadgen_figures res;
	struct iolens__loadgen *lg;

	(void)state;
	s->reset_first = 1;
	echo_srv_run(s);
	assert_int_equal(iolens__loadgen_create(&lg, 2, -1), 0);
	lg_run(lg, &s->addr, 16, 1, 200, &res);
	if (res.err != -ECONNRESET && res.err != -EPIPE)
		fail_msg("err %d: %s", res.err, res.errmsg);
	assert_non_null(strstr(res.errmsg, "connection "));
	assert_int_equal(res.connected, 16);
	assert_true(res.requests > 0);
	iolens_hist_free(res.hist);
	iolens__loadgen_destroy(lg);
	echo_srv_stop(s);
}

static void test_loadgen_refused(void **state)
{
	struct echo_srv *s = echo_srv_start(IOLENS_TR_TCP, 128);
	struct iolens__addr a = s->addr;
	struct iolens_loadgen_figures res;
	struct iolens__loadgen *lg;

	(void)state;
	echo_srv_run(s);
	echo_srv_stop(s); /* nothing listens there now */
	assert_int_equal(iolens__loadgen_create(&lg, 1, -1), 0);
	lg_run(lg, &a, 4, 1, 50, &res);
	assert_int_equal(res.err, -ECONNREFUSED);
	assert_int_equal(res.connected, 0);
	assert_int_equal(res.requests, 0);
	iolens_hist_free(res.hist);
	iolens__loadgen_destroy(lg);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int fds_at_start;

static int fds_setup(void **state)
{
	(void)state;
	iolens__pattern(); /* built once for the process: not a leak of any test */
	fds_at_start = count_fds();
	return 0;
}

/* Every responder, generator and client is gone: so must be every descriptor. */
static int fds_teardown(void **state)
{
	int now = count_fds();

	(void)state;
	if (now != fds_at_start) {
		print_error("%d descriptors open at the end, %d at the start\n", now, fds_at_start);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_loopback_and_pattern),
		cmocka_unit_test(test_echo_tcp),
		cmocka_unit_test(test_echo_tcp6),
		cmocka_unit_test(test_echo_unix),
		cmocka_unit_test(test_bad_hello),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_delay_pipelined),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_sink_nocheck),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_address_in_use),
		cmocka_unit_test(test_loadgen_tcp),
		cmocka_unit_test(test_loadgen_unix),
		cmocka_unit_test(test_loadgen_not_measuring),
		cmocka_unit_test(test_loadgen_corrupt),
		cmocka_unit_test(test_loadgen_reset),
		cmocka_unit_test(test_loadgen_refused),
	};

	return cmocka_run_group_tests(tests, fds_setup, fds_teardown);
}
