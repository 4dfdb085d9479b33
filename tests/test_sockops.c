/*
 * The socket half of the backend contract, on every backend that does I/O:
 * send, recv, accept and connect through the level-2 API against a plain
 * peer thread, over Unix and TCP sockets. Bytes come back equal to what was
 * sent, partial transfers add up, a shut-down peer reads as 0, a reset one
 * as -ECONNRESET, a gone one as -EPIPE (never SIGPIPE), a closed port as
 * -ECONNREFUSED, and -EAGAIN never leaks out as a result.
 *
 * One piece, ~1,100 lines, because it is one suite over the socket half of
 * one contract, its cases sharing the peer thread and the socket pairs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"

#define OP_TIMEOUT_NS (10LL * 1000000000LL)

static const uint32_t SOCK_CAPS = IOLENS_CAP_OP(IOLENS_OP_SEND) | IOLENS_CAP_OP(IOLENS_OP_RECV) |
				  IOLENS_CAP_OP(IOLENS_OP_ACCEPT) |
				  IOLENS_CAP_OP(IOLENS_OP_CONNECT);

struct tcase {
	const struct iolens_backend_info *b;
	const char *spec; /* backend name, or name:option */
	uint32_t flags;   /* IOLENS_BOPT_* */
};

static int nonblocking(const struct tcase *t)
{
	return !!(t->b->caps & IOLENS_CAP_NONBLOCK_FD);
}

static struct iolens_ctx *open_ctx(const struct tcase *t, unsigned depth)
{
	struct iolens_backend_opts o = { .depth = depth, .flags = t->flags };
	struct iolens_ctx *ctx = NULL;
	int r = iolens_ctx_open(&ctx, t->b->name, &o);

	if (r == -EOPNOTSUPP && t->flags) {
		/* An option this kernel cannot do is a skip, not a failure. */
		print_message("%s: not supported here\n", t->spec);
		skip();
	}
	if (r)
		fail_msg("%s: iolens_ctx_open(depth %u): %s", t->spec, depth, iolens_strerror(r));
	return ctx;
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 0);
}

/* Submit every op, then reap until all are back; fails the test on a stall. */
static void run_ops(const struct tcase *t, struct iolens_ctx *ctx, struct iolens_op **ops,
		    unsigned n)
{
	struct iolens_op *done[256];
	unsigned sent = 0, got = 0;

	assert_true(n <= 256);
	for (unsigned i = 0; i < n; i++)
		ops[i]->result = INT64_MIN;
	while (got < n) {
		int r;

		if (sent < n) {
			r = iolens_ctx_submit(ctx, ops + sent, n - sent);
			if (r < 0)
				fail_msg("%s: submit: %s", t->spec, iolens_strerror(r));
			sent += (unsigned)r;
		}
		if (got == sent)
			continue;
		r = iolens_ctx_reap(ctx, done, 1, 256, OP_TIMEOUT_NS);
		if (r < 0)
			fail_msg("%s: reap: %s", t->spec, iolens_strerror(r));
		if (r == 0)
			fail_msg("%s: no completion in %lld s (%u of %u done)", t->spec,
				 OP_TIMEOUT_NS / 1000000000LL, got, n);
		got += (unsigned)r;
	}
	for (unsigned i = 0; i < n; i++) {
		if (ops[i]->result == INT64_MIN)
			fail_msg("%s: op %u never completed", t->spec, i);
		if (ops[i]->result == -EAGAIN || ops[i]->result == -EINPROGRESS)
			fail_msg("%s: op %u leaked %s", t->spec, i, iolens_strerror((int)ops[i]->result));
	}
}

static int64_t one_op(const struct tcase *t, struct iolens_ctx *ctx, int kind, int fd, void *buf,
		      uint32_t len)
{
	struct iolens_op op = { .kind = (uint16_t)kind, .fd = fd, .buf = buf, .len = len,
				.buf_index = -1 };
	struct iolens_op *p = &op;

	run_ops(t, ctx, &p, 1);
	if ((kind == IOLENS_OP_SEND || kind == IOLENS_OP_RECV) && op.result > (int64_t)len)
		fail_msg("%s: %s returned %lld for %u bytes", t->spec,
			 kind == IOLENS_OP_SEND ? "send" : "recv", (long long)op.result, len);
	return op.result;
}

/* Send all of buf through the backend; returns the number of SEND ops it took. */
static unsigned send_all(const struct tcase *t, struct iolens_ctx *ctx, int fd, const char *buf,
			 size_t len)
{
	unsigned calls = 0;

	for (size_t off = 0; off < len; calls++) {
		size_t chunk = len - off > (1u << 20) ? (1u << 20) : len - off;
		int64_t r = one_op(t, ctx, IOLENS_OP_SEND, fd, (char *)buf + off, (uint32_t)chunk);

		if (r <= 0)
			fail_msg("%s: send at byte %zu of %zu: %lld (%s)", t->spec, off, len,
				 (long long)r, r < 0 ? iolens_strerror((int)r) : "nothing sent");
		off += (size_t)r;
	}
	return calls;
}

/* Receive exactly len bytes; returns how many RECV ops came back short. */
static unsigned recv_all(const struct tcase *t, struct iolens_ctx *ctx, int fd, char *buf,
			 size_t len)
{
	unsigned partial = 0;

	for (size_t off = 0; off < len;) {
		size_t want = len - off > (1u << 20) ? (1u << 20) : len - off;
		int64_t r = one_op(t, ctx, IOLENS_OP_RECV, fd, buf + off, (uint32_t)want);

		if (r <= 0)
			fail_msg("%s: recv at byte %zu of %zu: %lld (%s)", t->spec, off, len,
				 (long long)r, r < 0 ? iolens_strerror((int)r) : "peer shut down");
		partial += (size_t)r < want;
		off += (size_t)r;
	}
	return partial;
}

static void pattern(char *buf, size_t len, unsigned seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)x;
	}
}

/* ---- peers: plain blocking code on their own threads ---- */

struct peer {
	pthread_t tid;
	int fd;           /* the peer's end (or the listener for acceptors) */
	int conn;         /* acceptor/connector: the connection it made */
	size_t expect;    /* sink: bytes to read and check */
	unsigned seed;
	int slow;         /* sink: read in small bites with pauses */
	int ok;
	struct sockaddr_in addr;
	struct peer *live; /* the pool copy its thread runs on */
	int joined;
};

/*
 * Peer threads run on copies in this pool, not on the case's stack: a case
 * that fails jumps out without joining them, and the teardown then wakes
 * and joins whatever is still running before the next case starts.
 */
#define MAX_PEERS 64
static struct peer pool[MAX_PEERS];
static unsigned npool;

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Echo everything back until EOF. */
static void echo_loop(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w <= 0)
				return;
			off += w;
		}
	}
}

static void *echo_main(void *arg)
{
	struct peer *p = arg;

	echo_loop(p->fd);
	return NULL;
}

/* Accept one connection on p->fd, then echo on it. */
static void *accept_echo_main(void *arg)
{
	struct peer *p = arg;

	int conn = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);

	__atomic_store_n(&p->conn, conn, __ATOMIC_RELEASE);
	if (conn >= 0)
		echo_loop(conn);
	return NULL;
}

/* Connect to p->addr after a pause (so an accept is waiting first), then echo. */
static void *connect_echo_main(void *arg)
{
	struct peer *p = arg;

	pause_ms(30);
	int conn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	__atomic_store_n(&p->conn, conn, __ATOMIC_RELEASE);
	if (conn >= 0 && connect(conn, (struct sockaddr *)&p->addr, sizeof(p->addr)) == 0)
		echo_loop(conn);
	return NULL;
}

/* Read p->expect bytes, check them against the pattern, slowly if asked. */
static void *sink_main(void *arg)
{
	struct peer *p = arg;
	char *want = malloc(p->expect), buf[4096];
	size_t got = 0;

	p->ok = want != NULL;
	if (want)
		pattern(want, p->expect, p->seed);
	while (p->ok && got < p->expect) {
		ssize_t n = read(p->fd, buf, p->slow ? 512 : sizeof(buf));

		if (n <= 0 || memcmp(buf, want + got, (size_t)n) != 0)
			p->ok = 0;
		else
			got += (size_t)n;
		if (p->slow && (got & 0xffff) < 512)
			pause_ms(1);
	}
	free(want);
	return NULL;
}

/* Write p->expect bytes of the pattern after a pause of p->slow ms, then stop. */
static void *writer_main(void *arg)
{
	struct peer *p = arg;
	char *buf = malloc(p->expect);

	p->ok = buf != NULL;
	if (!buf)
		return NULL;
	pattern(buf, p->expect, p->seed);
	pause_ms(p->slow);
	for (size_t off = 0; off < p->expect;) {
		ssize_t w = send(p->fd, buf + off, p->expect - off, MSG_NOSIGNAL);

		if (w <= 0) {
			p->ok = 0;
			break;
		}
		off += (size_t)w;
	}
	free(buf);
	return NULL;
}

static void start(struct peer *p, void *(*fn)(void *))
{
	assert_true(npool < MAX_PEERS);
	p->live = &pool[npool++];
	*p->live = *p;
	assert_int_equal(pthread_create(&p->live->tid, NULL, fn, p->live), 0);
}

static void join(struct peer *p)
{
	struct peer *live = p->live;

	pthread_join(live->tid, NULL);
	live->joined = 1;
	*p = *live;
}

/* After every case: unblock and join the peers a failed case left running. */
static int reap_peers(void **state)
{
	(void)state;
	for (unsigned i = 0; i < npool; i++) {
		struct timespec until;

		/*
		 * A peer may still be pausing before it connects, so its socket
		 * appears later: shut down what exists, wait a little, repeat.
		 */
		while (!pool[i].joined) {
			int fd = __atomic_load_n(&pool[i].fd, __ATOMIC_ACQUIRE);
			int conn = __atomic_load_n(&pool[i].conn, __ATOMIC_ACQUIRE);

			if (fd > 0)
				shutdown(fd, SHUT_RDWR);
			if (conn > 0)
				shutdown(conn, SHUT_RDWR);
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(pool[i].tid, NULL, &until) == 0)
				pool[i].joined = 1;
		}
	}
	memset(pool, 0, sizeof(pool));
	npool = 0;
	return 0;
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel. */
static int listener(struct sockaddr_in *addr, int small_bufs)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, small = 4096;
	socklen_t len = sizeof(*addr);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (small_bufs) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/*
 * A connected TCP pair: [0] for the backend (blocking mode per backend), [1]
 * plain. small_bufs: 1 gives both ends 4 KiB buffers, 2 only the backend's.
 */
static void tcp_pair(const struct tcase *t, int fds[2], int small_bufs)
{
	struct sockaddr_in a;
	int l = listener(&a, small_bufs == 1), small = 4096;

	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0);
	if (small_bufs) {
		setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	assert_int_equal(connect(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fds[1] >= 0);
	close(l);
	set_nonblock(fds[0], nonblocking(t));
}

static void unix_pair(const struct tcase *t, int fds[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	set_nonblock(fds[0], nonblocking(t));
}

/* ---- the cases ---- */

/* The contract: forget a descriptor the context used before closing it. */
static void forget_close(const struct tcase *t, struct iolens_ctx *ctx, int fd)
{
	int r = iolens_ctx_forget(ctx, fd);

	if (r)
		fail_msg("%s: forget(%d): %s", t->spec, fd, iolens_strerror(r));
	close(fd);
}

static void echo_over(const struct tcase *t, int fds[2], size_t len)
{
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer p = { .fd = fds[1] };
	char *out = malloc(len), *in = malloc(len);

	assert_non_null(out);
	assert_non_null(in);
	pattern(out, len, 7);
	start(&p, echo_main);
	/* Echoed in pieces no larger than the socket buffers: send a piece, read it back. */
	for (size_t off = 0; off < len; off += 16384) {
		size_t n = len - off < 16384 ? len - off : 16384;

		send_all(t, ctx, fds[0], out + off, n);
		recv_all(t, ctx, fds[0], in + off, n);
	}
	assert_memory_equal(in, out, len);
	shutdown(fds[0], SHUT_WR);
	join(&p);
	iolens_ctx_close(ctx);
	close(fds[0]);
	close(fds[1]);
	free(out);
	free(in);
}

static void echo_unix(void **state)
{
	int fds[2];

	unix_pair(*state, fds);
	echo_over(*state, fds, 256 << 10);
}

static void echo_tcp(void **state)
{
	int fds[2];

	tcp_pair(*state, fds, 0);
	echo_over(*state, fds, 256 << 10);
}

/* The backend accepts while a client is on its way, then echoes through it. */
static void accept_then_echo(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer p = { .conn = -1 };
	int l = listener(&p.addr, 0), fd, fl;
	char out[1000], in[1000];

	set_nonblock(l, nonblocking(t));
	start(&p, connect_echo_main);
	fd = (int)one_op(t, ctx, IOLENS_OP_ACCEPT, l, NULL, 0);
	if (fd < 0)
		fail_msg("%s: accept: %s", t->spec, iolens_strerror(fd));
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(!!(fl & O_NONBLOCK), nonblocking(t));
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	pattern(out, sizeof(out), 11);
	send_all(t, ctx, fd, out, sizeof(out));
	recv_all(t, ctx, fd, in, sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	forget_close(t, ctx, fd);
	join(&p);
	close(p.conn);
	forget_close(t, ctx, l);
	iolens_ctx_close(ctx);
}

/* The backend connects to a listener, then echoes through the connection. */
static void connect_then_echo(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer p = { .conn = -1 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int64_t r;
	char out[1000], in[1000];

	p.fd = listener(&p.addr, 0);
	assert_true(fd >= 0);
	set_nonblock(fd, nonblocking(t));
	start(&p, accept_echo_main);
	r = one_op(t, ctx, IOLENS_OP_CONNECT, fd, &p.addr, sizeof(p.addr));
	if (r != 0)
		fail_msg("%s: connect: %lld (%s)", t->spec, (long long)r, iolens_strerror((int)r));
	pattern(out, sizeof(out), 13);
	send_all(t, ctx, fd, out, sizeof(out));
	recv_all(t, ctx, fd, in, sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	forget_close(t, ctx, fd);
	join(&p);
	close(p.conn);
	close(p.fd);
	iolens_ctx_close(ctx);
}

static void connect_refused(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct sockaddr_in a;
	int l = listener(&a, 0), fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	close(l); /* nothing listens on that port now */
	set_nonblock(fd, nonblocking(t));
	assert_int_equal(one_op(t, ctx, IOLENS_OP_CONNECT, fd, &a, sizeof(a)), -ECONNREFUSED);
	forget_close(t, ctx, fd);
	iolens_ctx_close(ctx);
}

/* Many connections with a request each in flight at once, answered out of order. */
static void many_connections(void **state)
{
	enum { N = 16, MSG = 700 };
	const struct tcase *t = *state;
	int fds[N][2];
	struct peer peers[N];
	struct iolens_op ops[N], *p[N];
	char out[N][MSG], in[N][MSG];
	struct iolens_ctx *ctx = open_ctx(t, N);

	memset(peers, 0, sizeof(peers));
	for (int i = 0; i < N; i++) {
		if (i % 2)
			tcp_pair(t, fds[i], 0);
		else
			unix_pair(t, fds[i]);
		pattern(out[i], MSG, 100 + (unsigned)i);
		peers[i].fd = fds[i][1];
	}
	for (int i = 0; i < N; i++) {
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_SEND, .fd = fds[i][0], .buf = out[i],
					     .len = MSG, .buf_index = -1 };
		p[i] = &ops[i];
	}
	run_ops(t, ctx, p, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(ops[i].result, MSG); /* fits any socket buffer at once */
	/* The peers echo from the last connection to the first. */
	for (int i = N - 1; i >= 0; i--)
		start(&peers[i], echo_main);
	for (int i = 0; i < N; i++)
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_RECV, .fd = fds[i][0], .buf = in[i],
					     .len = MSG, .buf_index = -1 };
	run_ops(t, ctx, p, N);
	for (int i = 0; i < N; i++) {
		int64_t r = ops[i].result;

		if (r <= 0)
			fail_msg("%s: recv on connection %d: %lld", t->spec, i, (long long)r);
		if (r < MSG)
			recv_all(t, ctx, fds[i][0], in[i] + r, (size_t)(MSG - r));
		assert_memory_equal(in[i], out[i], MSG);
		shutdown(fds[i][0], SHUT_WR);
	}
	for (int i = 0; i < N; i++) {
		join(&peers[i]);
		forget_close(t, ctx, fds[i][0]);
		close(fds[i][1]);
	}
	iolens_ctx_close(ctx);
}

/* Tiny socket buffers: 4 MiB goes through in pieces, in order, and reads come back short. */
static void partial_transfers(void **state)
{
	enum { LEN = 4 << 20 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer sink = { .expect = LEN, .seed = 21, .slow = 1 };
	char *buf = malloc(LEN);
	int fds[2];
	unsigned short_reads;

	assert_non_null(buf);
	/*
	 * Zero-copy skbs delivered on loopback are copied into a page per
	 * fragment: a 4 KiB receive buffer then holds less than one segment,
	 * its window drops below the MSS and the sender crawls on window
	 * probes (the kernel's TCP, plain sends do not meet it). The peer
	 * keeps its default buffers; the backend's end is as small as ever.
	 */
	tcp_pair(t, fds, (t->flags & IOLENS_BOPT_SEND_ZC) ? 2 : 1);
	pattern(buf, LEN, 21);
	sink.fd = fds[1];
	start(&sink, sink_main);
	send_all(t, ctx, fds[0], buf, LEN);
	join(&sink);
	assert_true(sink.ok);
	/* The other way: the peer writes 4 MiB, the backend asks for 1 MiB at a time. */
	{
		struct peer src = { .fd = fds[1], .expect = LEN, .seed = 22 };
		char *in = malloc(LEN);

		assert_non_null(in);
		pattern(buf, LEN, 22);
		start(&src, writer_main);
		short_reads = recv_all(t, ctx, fds[0], in, LEN);
		join(&src);
		assert_true(src.ok);
		assert_memory_equal(in, buf, LEN);
		free(in);
	}
	/* A 4 KiB receive buffer cannot hold 1 MiB: some reads were short. */
	assert_true(short_reads > 0);
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	free(buf);
	iolens_ctx_close(ctx);
}

/* A pending receive sees the peer's shutdown as 0. */
static void peer_shutdown_reads_zero(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	char buf[100];
	int fds[2];

	unix_pair(t, fds);
	shutdown(fds[1], SHUT_WR);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), 0);
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/* A peer that resets: the receive fails with ECONNRESET. */
static void peer_reset(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct linger lg = { 1, 0 };
	char buf[100];
	int fds[2];

	tcp_pair(t, fds, 0);
	assert_int_equal(setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fds[1]); /* linger 0: RST */
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), -ECONNRESET);
	forget_close(t, ctx, fds[0]);
	iolens_ctx_close(ctx);
}

/* Sending to a closed peer fails with EPIPE or ECONNRESET, and no SIGPIPE kills us. */
static void send_to_gone_peer(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	char buf[4096] = { 0 };
	int fds[2];
	int64_t r = 0;

	unix_pair(t, fds);
	close(fds[1]);
	for (int i = 0; i < 100 && r >= 0; i++)
		r = one_op(t, ctx, IOLENS_OP_SEND, fds[0], buf, sizeof(buf));
	if (r != -EPIPE && r != -ECONNRESET)
		fail_msg("%s: send to a gone peer: %lld (%s)", t->spec, (long long)r,
			 iolens_strerror((int)r));
	forget_close(t, ctx, fds[0]);
	iolens_ctx_close(ctx);
}

/* A receive with nothing to read stays pending, then completes when data comes. */
static void recv_waits_for_data(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	char buf[64] = { 0 }, late[4];
	struct iolens_op op = { .kind = IOLENS_OP_RECV, .buf = buf, .len = sizeof(buf),
				.buf_index = -1 };
	struct iolens_op *p = &op, *done[1];
	int fds[2];

	unix_pair(t, fds);
	op.fd = fds[0];
	if (t->b->caps & IOLENS_CAP_THREAD_PER_OP) {
		/* A blocking backend waits inside submit: a peer writes after a pause. */
		struct peer w = { .fd = fds[1], .expect = 4, .seed = 5, .slow = 50 };

		start(&w, writer_main);
		run_ops(t, ctx, &p, 1);
		join(&w);
		assert_true(w.ok);
		pattern(late, 4, 5);
	} else {
		assert_int_equal(iolens_ctx_submit(ctx, &p, 1), 1);
		assert_int_equal(iolens_ctx_reap(ctx, done, 0, 1, 0), 0);
		assert_int_equal(iolens_ctx_reap(ctx, done, 1, 1, 50000000), 0);
		memcpy(late, "late", 4);
		assert_int_equal(write(fds[1], late, 4), 4);
		assert_int_equal(iolens_ctx_reap(ctx, done, 1, 1, OP_TIMEOUT_NS), 1);
		assert_ptr_equal(done[0], &op);
	}
	assert_int_equal(op.result, 4);
	assert_memory_equal(buf, late, 4);
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/*
 * RECVs submitted before the SENDs that feed them, in one context: more of
 * them than a thread pool has workers, so a pool whose workers all block in
 * the RECVs must still get the SENDs going (threadpool grows, and says so).
 * A thread-per-op backend does one op per submit call and cannot be asked.
 */
static void recvs_before_their_sends(void **state)
{
	enum { N = 8 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx;
	struct iolens_op ops[2 * N], *p[2 * N];
	struct iolens_backend_stats st;
	char out[N][32], in[N][32];
	int fds[N][2];

	if (t->b->caps & IOLENS_CAP_THREAD_PER_OP)
		skip();
	ctx = open_ctx(t, 2 * N);
	for (int i = 0; i < N; i++) {
		unix_pair(t, fds[i]);
		set_nonblock(fds[i][1], nonblocking(t));
		pattern(out[i], sizeof(out[i]), 40 + (unsigned)i);
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_RECV, .fd = fds[i][0], .buf = in[i],
					     .len = sizeof(in[i]), .buf_index = -1 };
		ops[N + i] = (struct iolens_op){ .kind = IOLENS_OP_SEND, .fd = fds[i][1],
						 .buf = out[i], .len = sizeof(out[i]),
						 .buf_index = -1 };
	}
	for (int i = 0; i < 2 * N; i++)
		p[i] = &ops[i];
	run_ops(t, ctx, p, 2 * N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[N + i].result, sizeof(out[i]));
		if (ops[i].result < (int64_t)sizeof(in[i]))
			recv_all(t, ctx, fds[i][0], in[i] + ops[i].result,
				 sizeof(in[i]) - (size_t)ops[i].result);
		assert_memory_equal(in[i], out[i], sizeof(out[i]));
	}
	iolens_ctx_stats(ctx, &st);
	if (strcmp(t->b->name, "threadpool") == 0 && !strstr(st.setup, "grew to"))
		fail_msg("%s: the pool did not say it grew: \"%s\"", t->spec, st.setup);
	for (int i = 0; i < N; i++) {
		forget_close(t, ctx, fds[i][0]);
		forget_close(t, ctx, fds[i][1]);
	}
	iolens_ctx_close(ctx);
}

/* Backends (and options) that keep per-descriptor state, so forget sees ops in flight. */
static int keeps_fd_state(const struct tcase *t)
{
	if (strcmp(t->b->name, "epoll") == 0 || strcmp(t->b->name, "poll") == 0 ||
	    strcmp(t->b->name, "coro-epoll") == 0)
		return 1;
	return strcmp(t->b->name, "io_uring") == 0 &&
	       (t->flags & (IOLENS_BOPT_MS_ACCEPT | IOLENS_BOPT_MS_RECV | IOLENS_BOPT_FIXED_FILES));
}

/*
 * Forget, close, and get the same number back for a new socket: the context
 * treats it as new. Forget refuses while an op on the descriptor is in flight.
 */
static void forget_then_reuse(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 2);
	char buf[64], msg[5] = "hello";
	int a[2], b[2];

	unix_pair(t, a);
	assert_int_equal(write(a[1], msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, a[0], buf, sizeof(buf)), sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	if (!(t->b->caps & IOLENS_CAP_THREAD_PER_OP)) {
		struct iolens_op op = { .kind = IOLENS_OP_RECV, .fd = a[0], .buf = buf,
					.len = sizeof(buf), .buf_index = -1 };
		struct iolens_op *p = &op, *done[1];
		int r;

		assert_int_equal(iolens_ctx_submit(ctx, &p, 1), 1);
		r = iolens_ctx_forget(ctx, a[0]);
		if (keeps_fd_state(t))
			assert_int_equal(r, -EBUSY);
		else
			assert_true(r == 0 || r == -EBUSY);
		assert_int_equal(write(a[1], "x", 1), 1);
		assert_int_equal(iolens_ctx_reap(ctx, done, 1, 1, OP_TIMEOUT_NS), 1);
		assert_int_equal(op.result, 1);
	}
	assert_int_equal(iolens_ctx_forget(ctx, a[0]), 0);
	close(a[0]);
	close(a[1]);
	unix_pair(t, b);
	if (b[0] != a[0] && b[1] == a[0]) {
		/* Keep the backend on the reused number. */
		int tmp = b[0];

		b[0] = b[1];
		b[1] = tmp;
		set_nonblock(b[0], nonblocking(t));
	}
	assert_int_equal(b[0], a[0]);
	memcpy(msg, "again", sizeof(msg));
	assert_int_equal(write(b[1], msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, b[0], buf, sizeof(buf)), sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(one_op(t, ctx, IOLENS_OP_SEND, b[0], msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(read(b[1], buf, sizeof(buf)), sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(iolens_ctx_forget(ctx, b[0]), 0);
	/* A descriptor the context never saw. */
	assert_int_equal(iolens_ctx_forget(ctx, b[1]), 0);
	close(b[0]);
	close(b[1]);
	iolens_ctx_close(ctx);
}

/*
 * After forget and close, the socket is really closed: nothing the backend
 * keeps (a multishot request, a registered slot) holds it open, so the peer
 * reads EOF.
 */
static void forget_closes_socket(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct pollfd pfd;
	char buf[16];
	int fds[2];

	unix_pair(t, fds);
	assert_int_equal(write(fds[1], "ping", 4), 4);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), 4);
	forget_close(t, ctx, fds[0]);
	pfd = (struct pollfd){ .fd = fds[1], .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1)
		fail_msg("%s: the peer saw no EOF after forget and close", t->spec);
	assert_int_equal(read(fds[1], buf, sizeof(buf)), 0);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/* Wait a little for the kernel, letting the backend take what came (nothing is in flight). */
static void settle(struct iolens_ctx *ctx)
{
	struct iolens_op *done[1];

	for (int i = 0; i < 10; i++) {
		assert_int_equal(iolens_ctx_reap(ctx, done, 0, 1, 0), 0);
		pause_ms(5);
	}
}

/* ms-accept: connections that came before any ACCEPT complete the next ACCEPTs inline. */
static void ms_accepts_queued(void **state)
{
	enum { N = 5 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, N);
	struct sockaddr_in a;
	int l = listener(&a, 0), first, cli[N + 1];
	struct iolens_op ops[N], *p[N];

	/* The first ACCEPT arms the multishot. */
	cli[N] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(cli[N], (struct sockaddr *)&a, sizeof(a)), 0);
	first = (int)one_op(t, ctx, IOLENS_OP_ACCEPT, l, NULL, 0);
	assert_true(first >= 0);
	for (int i = 0; i < N; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(cli[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	settle(ctx);
	for (int i = 0; i < N; i++) {
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_ACCEPT, .fd = l, .buf_index = -1 };
		p[i] = &ops[i];
	}
	run_ops(t, ctx, p, N);
	for (int i = 0; i < N; i++) {
		if (ops[i].result < 0)
			fail_msg("%s: accept %d: %s", t->spec, i, iolens_strerror((int)ops[i].result));
		assert_true(ops[i].flags & IOLENS_OPF_INLINE);
		assert_true(fcntl((int)ops[i].result, F_GETFD) & FD_CLOEXEC);
		/* In the order the clients connected: send on client i, read on accepted i. */
		assert_int_equal(write(cli[i], "A", 1), 1);
	}
	for (int i = 0; i < N; i++) {
		char c = 0;

		assert_int_equal(read((int)ops[i].result, &c, 1), 1);
		assert_int_equal(c, 'A');
		close((int)ops[i].result);
		close(cli[i]);
	}
	close(first);
	close(cli[N]);
	forget_close(t, ctx, l);
	iolens_ctx_close(ctx);
}

/* ms-recv: one buffer's 100 bytes go out 7 at a time, in order, the rest inline. */
static void ms_recv_small_ops(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	char out[100], in[100];
	size_t got = 0;
	int fds[2], n = 0;

	unix_pair(t, fds);
	pattern(out, sizeof(out), 31);
	assert_int_equal(write(fds[1], out, sizeof(out)), sizeof(out));
	while (got < sizeof(out)) {
		struct iolens_op op = { .kind = IOLENS_OP_RECV, .fd = fds[0], .buf = in + got,
					.len = 7, .buf_index = -1 };
		struct iolens_op *p = &op;
		size_t want = sizeof(out) - got < 7 ? sizeof(out) - got : 7;

		run_ops(t, ctx, &p, 1);
		assert_int_equal(op.result, want);
		if (n++)
			assert_true(op.flags & IOLENS_OPF_INLINE);
		got += (size_t)op.result;
	}
	assert_int_equal(n, 15);
	assert_memory_equal(in, out, sizeof(out));
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/* ms-recv: the data first, then EOF, and EOF again. */
static void ms_recv_eof_after_data(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	char buf[64];
	int fds[2];

	unix_pair(t, fds);
	assert_int_equal(write(fds[1], "0123456789", 10), 10);
	shutdown(fds[1], SHUT_WR);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, 4), 4);
	assert_memory_equal(buf, "0123", 4);
	settle(ctx);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "456789", 6);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), 0);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, fds[0], buf, sizeof(buf)), 0);
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/*
 * ms-recv: a socket whose data nobody reads takes every provided buffer;
 * a RECV on another socket then meets -ENOBUFS and is done as a plain
 * recv instead of waiting for a buffer that may never come back.
 */
static void ms_recv_starved_falls_back(void **state)
{
	enum { FLOOD = 16 << 20 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer w = { .expect = FLOOD, .seed = 3 };
	struct iolens_op op = { .kind = IOLENS_OP_RECV, .len = 16, .buf_index = -1 };
	struct iolens_op *p = &op;
	char buf[16];
	int a[2], b[2];

	unix_pair(t, a);
	unix_pair(t, b);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, a[0], buf, 1), 1);
	w.fd = a[1];
	start(&w, writer_main);
	for (int i = 0; i < 40; i++)
		settle(ctx);
	op.fd = b[0];
	op.buf = buf;
	assert_int_equal(write(b[1], "hi", 2), 2);
	run_ops(t, ctx, &p, 1);
	assert_int_equal(op.result, 2);
	assert_memory_equal(buf, "hi", 2);
	assert_true(op.flags & IOLENS_OPF_FALLBACK);
	/* Forget gives a's buffers back: b's multishot works again. */
	forget_close(t, ctx, a[0]);
	join(&w);
	close(a[1]);
	assert_int_equal(write(b[1], "again", 5), 5);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_RECV, b[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "again", 5);
	forget_close(t, ctx, b[0]);
	close(b[1]);
	iolens_ctx_close(ctx);
}

/* ms-accept: forget cancels the multishot, so the closed listener refuses connections. */
static void ms_accept_forget_closes(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct sockaddr_in a;
	int l = listener(&a, 0), c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	fd = (int)one_op(t, ctx, IOLENS_OP_ACCEPT, l, NULL, 0);
	assert_true(fd >= 0);
	close(fd);
	close(c);
	forget_close(t, ctx, l);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(c);
	iolens_ctx_close(ctx);
}

#define PUBLIC_OPF (IOLENS_OPF_INLINE | IOLENS_OPF_FALLBACK | IOLENS_OPF_WOULDBLOCK)

/*
 * send-zc: a zero-copy send is reaped only once its notification is in,
 * so after each one zc_sends equals the sends completed. On loopback the
 * kernel copies every zero-copy skb it delivers to the local socket, and
 * every notification says so: zc_copied == zc_sends here (it would be
 * less on a NIC that takes the pages). A Unix socket cannot send
 * zero-copy: its SEND goes out plain, flagged and counted as a fallback.
 */
static void send_zc_counts(void **state)
{
	enum { N = 32, MSG = 1000 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct peer sink = { .expect = N * MSG, .seed = 51 };
	struct iolens_backend_stats st;
	char *buf = malloc(N * MSG);
	int fds[2], u[2];

	assert_non_null(buf);
	tcp_pair(t, fds, 0);
	pattern(buf, N * MSG, 51);
	sink.fd = fds[1];
	start(&sink, sink_main);
	for (int i = 0; i < N; i++) {
		struct iolens_op op = { .kind = IOLENS_OP_SEND, .fd = fds[0], .buf = buf + i * MSG,
					.len = MSG, .buf_index = -1 };
		struct iolens_op *p = &op;

		run_ops(t, ctx, &p, 1);
		assert_int_equal(op.result, MSG);
		assert_int_equal(op.flags & ~PUBLIC_OPF, 0);
		iolens_ctx_stats(ctx, &st);
		if (st.zc_sends != (uint64_t)i + 1)
			fail_msg("%s: send %d reaped with %llu notifications in", t->spec, i + 1,
				 (unsigned long long)st.zc_sends);
	}
	join(&sink);
	assert_true(sink.ok);
	assert_int_equal(st.zc_copied, st.zc_sends);
	assert_int_equal(st.fallbacks, 0);
	unix_pair(t, u);
	assert_int_equal(one_op(t, ctx, IOLENS_OP_SEND, u[0], buf, 10), 10);
	assert_int_equal(read(u[1], buf, 10), 10);
	iolens_ctx_stats(ctx, &st);
	assert_int_equal(st.zc_sends, N);
	assert_int_equal(st.fallbacks, 1);
	forget_close(t, ctx, u[0]);
	close(u[1]);
	forget_close(t, ctx, fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
	free(buf);
}

/*
 * send-zc: close with zero-copy sends in flight that the peer never takes
 * (one with its data queued, its notification held until the data is
 * acknowledged; the rest waiting for room): close returns, cancelling what
 * waits and abandoning the notification it cannot have.
 */
static void send_zc_close_in_flight(void **state)
{
	enum { N = 4, LEN = 256 << 10 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, N);
	struct iolens_op ops[N], *p[N];
	struct timespec t0, t1;
	char *buf = calloc(N, LEN);
	int fds[2];

	assert_non_null(buf);
	tcp_pair(t, fds, 1);
	for (int i = 0; i < N; i++) {
		ops[i] = (struct iolens_op){ .kind = IOLENS_OP_SEND, .fd = fds[0],
					     .buf = buf + (size_t)i * LEN, .len = LEN,
					     .buf_index = -1 };
		p[i] = &ops[i];
	}
	assert_int_equal(iolens_ctx_submit(ctx, p, N), N);
	/* Reap starts held socket ops: let them reach the kernel. */
	(void)iolens_ctx_reap(ctx, p, 0, N, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	iolens_ctx_close(ctx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* One second without a completion in close, at most another in destroy. */
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	close(fds[0]);
	close(fds[1]);
	free(buf);
}

/* null completes sends and receives at once, touching nothing: the harness floor. */
static void null_completes_without_io(void **state)
{
	struct tcase t = { .b = iolens_backend_find("null"), .spec = "null" };
	struct iolens_ctx *ctx;
	char buf[100];

	(void)state;
	assert_non_null(t.b);
	assert_true(t.b->caps & IOLENS_CAP_OP(IOLENS_OP_SEND));
	assert_true(t.b->caps & IOLENS_CAP_OP(IOLENS_OP_RECV));
	ctx = open_ctx(&t, 1);
	/* fd -1: a backend that touched it would fail with EBADF. */
	assert_int_equal(one_op(&t, ctx, IOLENS_OP_SEND, -1, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(one_op(&t, ctx, IOLENS_OP_RECV, -1, buf, sizeof(buf)), sizeof(buf));
	iolens_ctx_close(ctx);
}

/* Every backend that does I/O says it can do all four socket operations. */
static void advertises_socket_ops(void **state)
{
	const struct tcase *t = *state;

	if ((t->b->caps & SOCK_CAPS) != SOCK_CAPS)
		fail_msg("%s: caps 0x%x lack socket operations", t->spec, t->b->caps);
}

struct ucase {
	const char *name;
	CMUnitTestFunction fn;
	uint32_t needs; /* IOLENS_BOPT_* a spec must have for the case to run on it */
};

static const struct ucase cases[] = {
	{ "advertises_socket_ops", advertises_socket_ops, 0 },
	{ "echo_unix", echo_unix, 0 },
	{ "echo_tcp", echo_tcp, 0 },
	{ "accept_then_echo", accept_then_echo, 0 },
	{ "connect_then_echo", connect_then_echo, 0 },
	{ "connect_refused", connect_refused, 0 },
	{ "many_connections", many_connections, 0 },
	{ "partial_transfers", partial_transfers, 0 },
	{ "peer_shutdown_reads_zero", peer_shutdown_reads_zero, 0 },
	{ "peer_reset", peer_reset, 0 },
	{ "send_to_gone_peer", send_to_gone_peer, 0 },
	{ "recv_waits_for_data", recv_waits_for_data, 0 },
	{ "forget_then_reuse", forget_then_reuse, 0 },
	{ "forget_closes_socket", forget_closes_socket, 0 },
	{ "recvs_before_their_sends", recvs_before_their_sends, 0 },
	{ "ms_accepts_queued", ms_accepts_queued, IOLENS_BOPT_MS_ACCEPT },
	{ "ms_accept_forget_closes", ms_accept_forget_closes, IOLENS_BOPT_MS_ACCEPT },
	{ "ms_recv_small_ops", ms_recv_small_ops, IOLENS_BOPT_MS_RECV },
	{ "ms_recv_eof_after_data", ms_recv_eof_after_data, IOLENS_BOPT_MS_RECV },
	{ "ms_recv_starved_falls_back", ms_recv_starved_falls_back, IOLENS_BOPT_MS_RECV },
	{ "send_zc_counts", send_zc_counts, IOLENS_BOPT_SEND_ZC },
	{ "send_zc_close_in_flight", send_zc_close_in_flight, IOLENS_BOPT_SEND_ZC },
};

/* Variants run besides each backend's plain form. */
static const struct {
	const char *backend, *spec;
	uint32_t flags;
} variants[] = {
	{ "io_uring", "io_uring:sqpoll", IOLENS_BOPT_SQPOLL },
	{ "io_uring", "io_uring:ms-accept", IOLENS_BOPT_MS_ACCEPT },
	{ "io_uring", "io_uring:ms-recv", IOLENS_BOPT_MS_RECV },
	{ "io_uring", "io_uring:ms-accept+ms-recv", IOLENS_BOPT_MS_ACCEPT | IOLENS_BOPT_MS_RECV },
	{ "io_uring", "io_uring:fixed-files", IOLENS_BOPT_FIXED_FILES },
	{ "io_uring", "io_uring:send-zc", IOLENS_BOPT_SEND_ZC },
	/* The per-descriptor path: zero-copy sends beside registered slots and multishot recv. */
	{ "io_uring", "io_uring:send-zc+fixed-files+ms-recv",
	  IOLENS_BOPT_SEND_ZC | IOLENS_BOPT_FIXED_FILES | IOLENS_BOPT_MS_RECV },
	{ "epoll", "epoll:et", IOLENS_BOPT_EDGE },
	{ "coro", "coro:ucontext", IOLENS_BOPT_UCONTEXT },
	{ "coro", "coro:bare", IOLENS_BOPT_BARE },
	{ "coro-epoll", "coro-epoll:ucontext", IOLENS_BOPT_UCONTEXT },
	{ "coro-epoll", "coro-epoll:bare", IOLENS_BOPT_BARE },
};

int main(void)
{
	const struct iolens_backend_info *bs;
	size_t nb = iolens_backends(&bs), nt = 0, ncases = sizeof(cases) / sizeof(cases[0]);
	size_t cap = (nb + sizeof(variants) / sizeof(variants[0])) * ncases + 1;
	struct CMUnitTest *tests = calloc(cap, sizeof(*tests));
	struct tcase *tc = calloc(cap, sizeof(*tc));
	char **names = calloc(cap, sizeof(*names));
	int rc;

	signal(SIGPIPE, SIG_DFL); /* a backend that forgets MSG_NOSIGNAL kills the test */
	if (!tests || !tc || !names)
		return 1;
	tests[nt++] = (struct CMUnitTest){ .name = "null/completes_without_io",
					   .test_func = null_completes_without_io };
	for (size_t i = 0; i < nb + sizeof(variants) / sizeof(variants[0]); i++) {
		struct tcase t;

		if (i < nb) {
			t = (struct tcase){ .b = &bs[i], .spec = bs[i].name };
		} else {
			size_t v = i - nb;

			t = (struct tcase){ .b = iolens_backend_find(variants[v].backend),
					    .spec = variants[v].spec, .flags = variants[v].flags };
		}
		if (!t.b || !t.b->available || strcmp(t.b->name, "null") == 0)
			continue;
		for (size_t k = 0; k < ncases; k++) {
			size_t len = strlen(t.spec) + strlen(cases[k].name) + 2;

			if ((t.flags & cases[k].needs) != cases[k].needs)
				continue;
			tc[nt] = t;
			names[nt] = malloc(len);
			if (!names[nt])
				return 1;
			snprintf(names[nt], len, "%s/%s", t.spec, cases[k].name);
			tests[nt] = (struct CMUnitTest){ .name = names[nt], .test_func = cases[k].fn,
							 .teardown_func = reap_peers,
							 .initial_state = &tc[nt] };
			nt++;
		}
	}
	/* IOLENS_TEST_FILTER="epoll/..." (a glob) runs one backend's cases. */
	if (getenv("IOLENS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("IOLENS_TEST_FILTER"));
	rc = _cmocka_run_group_tests("sockops", tests, nt, NULL, NULL);
	for (size_t i = 0; i < nt; i++)
		free(names[i]);
	free(names);
	free(tests);
	free(tc);
	return rc;
}
