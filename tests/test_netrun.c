/*
 * Socket workloads end to end through the level-1 API, on every available
 * backend: echo at 1 and 64 connections, serve at 64, stream, partial reads
 * and writes (requests far larger than a Unix socket's buffer), TCP, TCP6
 * and Unix; and the faults: a peer that resets mid-run, a peer that
 * corrupts a byte (echo, and a stream checked and not checked), a port
 * nothing listens on.
 *
 * IOLENS_TEST_FILTER selects cases by a glob on "backend/case".
 *
 * One piece, ~710 lines, because it is the suite of one API level on
 * sockets, its cases sharing the faulty peers and the backend loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "peer.h"

struct tcase {
	const char *spec;
};

static void base(struct iolens_workload *w, int kind)
{
	iolens_workload_init(w);
	w->kind = kind;
	w->count = IOLENS_COUNT_OFF;
	w->time_s = 0;
	w->ops = 0;
}

/* Run one spec on a workload; the result, never NULL. */
static struct iolens_result *run1(const struct iolens_workload *w, const char *spec)
{
	struct iolens_target *t = NULL;
	struct iolens_result *r = NULL;
	char err[256] = "", fit[96];
	const char *ms = strstr(spec, "ms-accept+");
	int e;

	/* Only serve accepts: the other workloads take the same spec without ms-accept. */
	if (ms && w->kind != IOLENS_WL_SERVE) {
		snprintf(fit, sizeof(fit), "%.*s%s", (int)(ms - spec), spec, ms + strlen("ms-accept+"));
		spec = fit;
	}
	e = iolens_target_open(&t, w, err, sizeof(err));

	if (e)
		fail_msg("target: %s", err);
	e = iolens_run(t, w, spec, &r, err, sizeof(err));
	iolens_target_close(t);
	if (e || !r)
		fail_msg("run: %d %s", e, err);
	return r;
}

static int is_null(const char *spec)
{
	return strncmp(spec, "null", 4) == 0;
}

static void expect_ok(const struct iolens_result *r)
{
	if (r->status != IOLENS_STATUS_OK)
		fail_msg("%s: status %d: %s", r->backend, r->status, r->reason);
}

static void echo_one(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_ECHO);
	w.msg = 100;
	w.ops = 2000;
	r = run1(&w, tc->spec);
	expect_ok(r);
	assert_int_equal(r->ops, 2000);
	assert_int_equal(r->net.requests, 2000);
	assert_int_equal(r->bytes, 2000 * 100);
	assert_int_equal(r->net.conns_open, 1);
	assert_int_equal(iolens_hist_count(r->hist), 2000);
	if (!is_null(tc->spec)) {
		/* Every request went out and came back whole (each byte was checked). */
		assert_true(r->net.send_calls >= 2000);
		assert_true(r->net.recv_calls >= 2000);
		assert_int_equal(r->net.data_check, IOLENS_CHECK_VERIFIED);
	} else {
		assert_int_equal(r->net.data_check, IOLENS_CHECK_NONE);
	}
	iolens_result_free(r);
}

static void echo_64(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_ECHO);
	w.conns = 64;
	w.depth = 2;
	w.msg = 333;
	w.ops = 6400;
	r = run1(&w, tc->spec);
	expect_ok(r);
	assert_true(r->ops >= 6400);
	assert_int_equal(r->bytes, r->ops * 333);
	assert_int_equal(r->net.conns_open, 64);
	assert_int_equal(r->threads, strcmp(tc->spec, "blocking") ? 1 : 64);
	iolens_result_free(r);
}

static void serve_on(void **state, int transport)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_SERVE);
	w.transport = transport;
	w.conns = 64;
	w.time_s = 0.3;
	r = run1(&w, tc->spec);
	if (is_null(tc->spec)) {
		/* null cannot accept: a skip with the reason, not a failure. */
		assert_int_equal(r->status, IOLENS_STATUS_SKIPPED);
		assert_non_null(strstr(r->reason, "accept"));
		iolens_result_free(r);
		return;
	}
	expect_ok(r);
	assert_int_equal(r->net.conns_open, 64);
	assert_true(r->ops > 0);
	assert_int_equal(r->bytes, r->ops * 64);
	assert_int_equal(iolens_hist_count(r->hist), r->ops);
	assert_int_equal(r->net.latency_from, 1);
	iolens_result_free(r);
}

static void serve_64(void **state)
{
	serve_on(state, IOLENS_TRANSPORT_TCP);
}

static void serve_unix(void **state)
{
	serve_on(state, IOLENS_TRANSPORT_UNIX);
}

static void stream_on(void **state, int transport)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_STREAM);
	w.transport = transport;
	w.msg = 200000; /* not a power of two: offsets wander over the pattern */
	w.conns = 2;
	w.ops = 300;
	r = run1(&w, tc->spec);
	/* ok means the sink's trailer matched every byte sent. */
	expect_ok(r);
	assert_true(r->ops >= 300);
	if (!is_null(tc->spec)) {
		assert_true(r->bytes > 0);
		assert_true(r->net.bytes_per_send <= 200000);
		assert_true(r->net.gbit_s > 0);
		assert_int_equal(r->net.data_check, IOLENS_CHECK_VERIFIED);
		assert_true(r->net.sink_bytes >= r->bytes);
	} else {
		/* null moves no bytes: no claim either way. */
		assert_int_equal(r->net.data_check, IOLENS_CHECK_NONE);
	}
	iolens_result_free(r);
}

static void stream_intact(void **state)
{
	stream_on(state, IOLENS_TRANSPORT_TCP);
}

static void stream_unix(void **state)
{
	stream_on(state, IOLENS_TRANSPORT_UNIX);
}

/* Requests of 1 MiB over a Unix socket (buffers ~200 KiB): partial calls both ways. */
static void partial_unix(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_ECHO);
	w.transport = IOLENS_TRANSPORT_UNIX;
	w.msg = 1u << 20;
	w.ops = 20;
	r = run1(&w, tc->spec);
	expect_ok(r);
	assert_int_equal(r->ops, 20);
	assert_int_equal(r->bytes, 20ull << 20);
	if (!is_null(tc->spec))
		assert_true(r->net.recv_calls > 20); /* no single receive held a whole reply */
	iolens_result_free(r);
}

static void echo_tcp6(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	if (!ok)
		skip();
	base(&w, IOLENS_WL_ECHO);
	w.transport = IOLENS_TRANSPORT_TCP6;
	w.conns = 4;
	w.ops = 400;
	r = run1(&w, tc->spec);
	expect_ok(r);
	assert_true(r->ops >= 400);
	assert_non_null(strstr(r->net.peer, "[::1]"));
	iolens_result_free(r);
}

/* ---- faulty peers: a responder of our own that misbehaves on purpose ---- */

enum { BAD_RESET, BAD_CORRUPT };

struct bad_peer {
	pthread_t tid;
	int lfd, how;
	size_t good; /* bytes echoed faithfully first */
	char addr[64];
};

static void *bad_main(void *arg)
{
	struct bad_peer *b = arg;
	int fd = accept(b->lfd, NULL, NULL);
	char hello[32], buf[4096];
	size_t got = 0, echoed = 0;

	if (fd < 0)
		return NULL;
	while (got < sizeof(hello)) {
		ssize_t n = read(fd, hello + got, sizeof(hello) - got);

		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (echoed + (size_t)n > b->good) {
			if (b->how == BAD_RESET) {
				struct linger l = { 1, 0 };

				setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				break;
			}
			buf[b->good - echoed] ^= 0x5a;
		}
		if (write(fd, buf, (size_t)n) != n)
			break;
		echoed += (size_t)n;
		if (echoed > b->good)
			b->good = SIZE_MAX; /* one bad byte is enough */
	}
out:
	close(fd);
	return NULL;
}

static void bad_start(struct bad_peer *b, int how, size_t good)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	b->how = how;
	b->good = good;
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(b->lfd >= 0);
	assert_int_equal(bind(b->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(b->lfd, 4), 0);
	assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&a, &len), 0);
	snprintf(b->addr, sizeof(b->addr), "127.0.0.1:%u", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&b->tid, NULL, bad_main, b), 0);
}

static void bad_stop(struct bad_peer *b)
{
	shutdown(b->lfd, SHUT_RDWR);
	pthread_join(b->tid, NULL);
	close(b->lfd);
}

static void peer_resets(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;
	struct bad_peer b;

	if (is_null(tc->spec))
		skip(); /* null never reads what comes back */
	bad_start(&b, BAD_RESET, 64 * 500);
	base(&w, IOLENS_WL_ECHO);
	w.connect = b.addr;
	w.time_s = 30; /* ends at the reset, long before */
	r = run1(&w, tc->spec);
	bad_stop(&b);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	if (r->error != -ECONNRESET && r->error != -EPIPE)
		fail_msg("error %d (%s)", r->error, r->reason);
	assert_non_null(strstr(r->reason, "connection 0"));
	/* The figures gathered before the reset are kept. */
	assert_true(r->ops >= 400 && r->ops <= 500);
	assert_true(r->seconds < 29);
	iolens_result_free(r);
}

static void peer_corrupts(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;
	struct bad_peer b;

	if (is_null(tc->spec))
		skip();
	bad_start(&b, BAD_CORRUPT, 64 * 300 + 17);
	base(&w, IOLENS_WL_ECHO);
	w.connect = b.addr;
	w.time_s = 30;
	r = run1(&w, tc->spec);
	bad_stop(&b);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	assert_int_equal(r->error, -EILSEQ);
	assert_non_null(strstr(r->reason, "stream offset 19217"));
	assert_int_equal(r->ops, 300);
	assert_int_equal(r->net.data_check, IOLENS_CHECK_MISMATCH);
	iolens_result_free(r);
}

/*
 * A stream through a relay that flips one byte on its way to the real
 * responder's sink, and counts what it passed on.
 */
struct relay {
	pthread_t tid;
	int lfd;
	struct iolens__responder *sink;
	uint64_t corrupt_at; /* index among the bytes after the hello */
	uint64_t relayed;    /* bytes after the hello passed on to the sink */
	char addr[64];
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t s = send(fd, p, n, MSG_NOSIGNAL);

		if (s <= 0)
			return -1;
		p += s;
		n -= (size_t)s;
	}
	return 0;
}

static void *relay_main(void *arg)
{
	struct relay *x = arg;
	const struct iolens__addr *a = iolens__responder_addr(x->sink);
	int cfd = accept(x->lfd, NULL, NULL), sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p[2] = { { .fd = cfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	static char buf[256 << 10];
	size_t hello = 0;

	if (cfd < 0 || sfd < 0 || connect(sfd, (const struct sockaddr *)&a->ss, a->len))
		goto out;
	for (;;) {
		if (poll(p, 2, 30000) <= 0)
			break;
		if (p[0].revents) {
			ssize_t n = recv(cfd, buf, sizeof(buf), 0);

			if (n <= 0) {
				shutdown(sfd, SHUT_WR); /* the client is done: the sink answers */
				p[0].fd = -1;
			} else {
				size_t skip = hello < 32 ? (32 - hello < (size_t)n ? 32 - hello : (size_t)n) : 0;
				uint64_t at = x->relayed;

				hello += skip;
				if (x->corrupt_at >= at && x->corrupt_at < at + (uint64_t)n - skip)
					buf[skip + (x->corrupt_at - at)] ^= 0x40;
				x->relayed += (uint64_t)n - skip;
				if (send_all(sfd, buf, (size_t)n))
					break;
			}
		}
		if (p[1].revents) {
			ssize_t n = recv(sfd, buf, sizeof(buf), 0);

			if (n <= 0 || send_all(cfd, buf, (size_t)n))
				break; /* the trailer went back and the sink closed */
		}
	}
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	return NULL;
}

static void relay_start(struct relay *x, uint64_t corrupt_at)
{
	struct iolens__responder_opts o = { .transport = IOLENS_TR_TCP, .threads = 1, .cpu = -1 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char err[256] = "";

	memset(x, 0, sizeof(*x));
	x->corrupt_at = corrupt_at;
	if (iolens__responder_start(&x->sink, &o, err, sizeof(err)))
		fail_msg("responder: %s", err);
	x->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(x->lfd >= 0);
	assert_int_equal(bind(x->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(x->lfd, 4), 0);
	assert_int_equal(getsockname(x->lfd, (struct sockaddr *)&a, &len), 0);
	snprintf(x->addr, sizeof(x->addr), "127.0.0.1:%u", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&x->tid, NULL, relay_main, x), 0);
}

static void relay_stop(struct relay *x)
{
	shutdown(x->lfd, SHUT_RDWR);
	pthread_join(x->tid, NULL);
	close(x->lfd);
	iolens__responder_stop(x->sink);
}

/*
 * The same corrupted byte, checked then not: caught at its offset, then
 * counted without a word about it, every byte accounted for, and the
 * result says "not checked" (never "verified").
 */
static void stream_nocheck(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;
	struct relay x;
	char *json = NULL;

	if (is_null(tc->spec))
		skip(); /* null sends nothing */
	base(&w, IOLENS_WL_STREAM);
	w.msg = 200000;
	w.ops = 300;
	relay_start(&x, 1000003);
	w.connect = x.addr;
	r = run1(&w, tc->spec);
	relay_stop(&x);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	assert_int_equal(r->error, -EILSEQ);
	if (!strstr(r->reason, "stream offset 1000003"))
		fail_msg("reason: %s", r->reason);
	assert_int_equal(r->net.data_check, IOLENS_CHECK_MISMATCH);
	iolens_result_free(r);

	w.stream_nocheck = 1;
	relay_start(&x, 1000003);
	w.connect = x.addr;
	r = run1(&w, tc->spec);
	relay_stop(&x);
	expect_ok(r);
	assert_true(x.relayed > 1000003);
	assert_int_equal(r->net.data_check, IOLENS_CHECK_OFF);
	assert_int_equal(r->net.sink_bytes, x.relayed);
	assert_true(r->net.sink_bytes >= r->bytes);
	assert_int_equal(iolens_result_json_text(r, &json, NULL), 0);
	assert_non_null(strstr(json, "\"not checked\""));
	assert_null(strstr(json, "verified"));
	free(json);
	iolens_result_free(r);
}

static void nobody_listens(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;
	struct bad_peer b;

	/* A port that was just free: bind, read it, close. */
	bad_start(&b, BAD_RESET, 0);
	bad_stop(&b);
	base(&w, IOLENS_WL_ECHO);
	w.connect = b.addr;
	w.ops = 10;
	r = run1(&w, tc->spec);
	assert_int_equal(r->status, IOLENS_STATUS_ERROR);
	assert_int_equal(r->error, -ECONNREFUSED);
	assert_non_null(strstr(r->reason, "could open 0 of 1 connections"));
	iolens_result_free(r);
}

/*
 * --ops N over more connections than N: the first answers all come back
 * together, 20 ms after their requests, often in one reap, and the run
 * still measures exactly N of them.
 */
static void ops_exact_many_conns(void **state)
{
	const struct tcase *tc = *state;
	struct iolens_workload w;
	struct iolens_result *r;

	base(&w, IOLENS_WL_ECHO);
	w.conns = 16;
	w.ops = 5;
	w.delay_ns = 20000000;
	r = run1(&w, tc->spec);
	expect_ok(r);
	assert_int_equal(r->ops, 5);
	assert_int_equal(iolens_hist_count(r->hist), 5);
	assert_int_equal(r->bytes, 5 * 64);
	iolens_result_free(r);
}

/*
 * The slow-remote lesson: 20 requests to a responder that answers each after
 * 50 ms. One blocking connection waits for each in turn (at least 1 s, by
 * construction); an event loop with 20 connections waits for all at once.
 */
static double slow_remote(const char *spec, unsigned conns)
{
	struct iolens_workload w;
	struct iolens_result *r;
	double s;

	base(&w, IOLENS_WL_ECHO);
	w.delay_ns = 50000000;
	w.conns = conns;
	w.ops = 20;
	r = run1(&w, spec);
	expect_ok(r);
	assert_int_equal(r->ops, 20);
	/* Every request waited out the delay. */
	if (r->lat.min < 50000000)
		fail_msg("%s, %u connections: a request took %llu ns, less than the 50 ms delay", spec,
			 conns, (unsigned long long)r->lat.min);
	s = r->seconds;
	iolens_result_free(r);
	return s;
}

static void slow_remote_lesson(void **state)
{
	static const char *const loops[] = { "poll", "epoll", "io_uring" };
	double one = slow_remote("blocking", 1);

	(void)state;
	assert_true(one >= 20 * 0.050);
	for (unsigned i = 0; i < 3; i++) {
		const struct iolens_backend_info *b = iolens_backend_find(loops[i]);
		double all;

		if (!b || !b->available)
			continue;
		all = slow_remote(loops[i], 20);
		if (!(all < one / 3))
			fail_msg("%s: 20 connections took %.3f s, one blocking connection %.3f s",
				 loops[i], all, one);
	}
}

/* ---- bad input: refused before anything starts ---- */

static void bad_input(void **state)
{
	struct iolens_workload w;
	struct iolens_target *t = NULL;
	char err[256];

	(void)state;
	base(&w, IOLENS_WL_ECHO);
	w.ops = 10;
	w.conns = 0;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--conns"));
	w.conns = 1;
	w.connect = "127.0.0.1:70000";
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--connect"));
	w.connect = NULL;
	w.kind = IOLENS_WL_STREAM;
	w.depth = 4;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--depth"));
	w.depth = 1;
	w.kind = IOLENS_WL_SERVE;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--ops"));
	/* Only a stream's sink check can be turned off. */
	w.kind = IOLENS_WL_ECHO;
	w.stream_nocheck = 1;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--no-check"));
	w.kind = IOLENS_WL_RANDREAD;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--no-check"));
	assert_null(t);
}

static const struct {
	const char *name;
	CMUnitTestFunction fn;
} cases[] = {
	{ "echo_one", echo_one },	  { "echo_64", echo_64 },
	{ "serve_64", serve_64 },	  { "stream_intact", stream_intact },
	{ "serve_unix", serve_unix },	  { "stream_unix", stream_unix },
	{ "partial_unix", partial_unix }, { "echo_tcp6", echo_tcp6 },
	{ "peer_resets", peer_resets },	  { "peer_corrupts", peer_corrupts },
	{ "nobody_listens", nobody_listens }, { "stream_nocheck", stream_nocheck },
	{ "ops_exact_many_conns", ops_exact_many_conns },
};

int main(void)
{
	static const char *const extra[] = { "epoll:et", "io_uring:ms-accept+ms-recv",
					     "io_uring:fixed-files", "io_uring:sqpoll" };
	const size_t nextra = sizeof(extra) / sizeof(extra[0]);
	const struct iolens_backend_info *b;
	size_t nb = iolens_backends(&b), ncases = sizeof(cases) / sizeof(cases[0]);
	size_t cap = (nb + nextra) * ncases + 2, nt = 0;
	struct CMUnitTest *tests = calloc(cap, sizeof(*tests));
	struct tcase *tc = calloc(cap, sizeof(*tc));
	char **names = calloc(cap, sizeof(*names));
	const char *filter = getenv("IOLENS_TEST_FILTER");
	int rc;

	if (!tests || !tc || !names)
		return 1;
	for (size_t i = 0; i < nb + nextra; i++) {
		const char *spec = i < nb ? b[i].name : extra[i - nb];
		const struct iolens_backend_info *bi = iolens_backend_find(i < nb ? spec : "io_uring");

		if (i < nb ? !b[i].available : (strncmp(spec, "io_uring", 8) == 0 && !bi->available))
			continue;
		for (size_t k = 0; k < ncases; k++) {
			size_t len = strlen(spec) + strlen(cases[k].name) + 2;

			names[nt] = malloc(len);
			if (!names[nt])
				return 1;
			snprintf(names[nt], len, "%s/%s", spec, cases[k].name);
			if (filter && fnmatch(filter, names[nt], 0)) {
				free(names[nt]);
				continue;
			}
			tc[nt].spec = spec;
			tests[nt] = (struct CMUnitTest){ .name = names[nt], .test_func = cases[k].fn,
							 .initial_state = &tc[nt] };
			nt++;
		}
	}
	if (!filter || !fnmatch(filter, "bad_input", 0))
		tests[nt++] = (struct CMUnitTest){ .name = "bad_input", .test_func = bad_input };
	if (!filter || !fnmatch(filter, "slow_remote_lesson", 0))
		tests[nt++] = (struct CMUnitTest){ .name = "slow_remote_lesson",
						   .test_func = slow_remote_lesson };
	rc = _cmocka_run_group_tests("netrun", tests, nt, NULL, NULL);
	for (size_t i = 0; i < nt; i++)
		if (tests[i].test_func != bad_input && tests[i].test_func != slow_remote_lesson)
			free(names[i]);
	free(names);
	free(tests);
	free(tc);
	return rc;
}
