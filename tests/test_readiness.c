/*
 * What the readiness backends (select, poll, epoll, epoll:et, epoll:oneshot)
 * and the event loops of the coro backends (coro-epoll, its bare form, and
 * coro on io_uring) owe sockets beyond the contract test: several ops on one descriptor each served, in order; a
 * descriptor closed and its number reused inside one context (socket after
 * socket, file after socket, socket after file) still waited on correctly;
 * an idle socket that is writable or hung up, or that got data no RECV
 * asked for, does not keep the wait awake; a SEND, and an ACCEPT, go at
 * once unless one waits ahead; many connections at once; a descriptor above
 * FD_SETSIZE served by poll and epoll and refused by select, never written
 * past its sets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"

#define LONG_NS (10LL * 1000000000LL)

struct tcase {
	const char *backend, *spec;
	uint32_t flags;
	/*
	 * The loop is io_uring's: a SEND is never done inside submit (it goes
	 * in with the reap's wait), and the kernel's poll wakes two RECVs of
	 * one socket in an order of its own, as for the io_uring backend.
	 */
	int completion;
};

static const struct tcase tcases[] = {
	{ "select", "select", 0, 0 },
	{ "poll", "poll", 0, 0 },
	{ "epoll", "epoll", 0, 0 },
	{ "epoll", "epoll:et", IOLENS_BOPT_EDGE, 0 },
	{ "epoll", "epoll:oneshot", IOLENS_BOPT_ONESHOT, 0 },
	{ "coro-epoll", "coro-epoll", 0, 0 },
	{ "coro-epoll", "coro-epoll:bare", IOLENS_BOPT_BARE, 0 },
	{ "coro", "coro", 0, 1 },
};

/* A case about what only a readiness loop owes. */
static void readiness_only(const struct tcase *t)
{
	if (!t->completion)
		return;
	print_message("%s: not a readiness loop: io_uring completes its socket ops\n", t->spec);
	skip();
}

static struct iolens_ctx *open_ctx(const struct tcase *t, unsigned depth)
{
	struct iolens_backend_opts o = { .depth = depth, .flags = t->flags };
	const struct iolens_backend_info *b = iolens_backend_find(t->backend);
	struct iolens_ctx *ctx = NULL;
	int r;

	if (!b || !b->available) {
		print_message("%s unavailable here: %s\n", t->backend, b ? b->reason : "unknown");
		skip();
	}
	r = iolens_ctx_open(&ctx, t->backend, &o);
	if (r)
		fail_msg("%s: iolens_ctx_open: %s", t->spec, iolens_strerror(r));
	return ctx;
}

static void pair(int fds[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0);
}

static struct iolens_op mkop(int kind, int fd, void *buf, uint32_t len)
{
	return (struct iolens_op){ .kind = (uint16_t)kind, .fd = fd, .buf = buf, .len = len,
				   .buf_index = -1, .result = INT64_MIN };
}

static void submit(const struct tcase *t, struct iolens_ctx *ctx, struct iolens_op *op)
{
	int r = iolens_ctx_submit(ctx, &op, 1);

	if (r != 1)
		fail_msg("%s: submit: %d", t->spec, r);
}

/* Reap exactly n ops (any order) within LONG_NS each. */
static void reap_n(const struct tcase *t, struct iolens_ctx *ctx, unsigned n)
{
	struct iolens_op *done[64];

	while (n) {
		int r = iolens_ctx_reap(ctx, done, 1, n < 64 ? n : 64, LONG_NS);

		if (r <= 0)
			fail_msg("%s: reap: %d with %u ops outstanding", t->spec, r, n);
		for (int i = 0; i < r; i++)
			if (done[i]->result == -EAGAIN || done[i]->result == -EINPROGRESS)
				fail_msg("%s: an op leaked %s", t->spec,
					 iolens_strerror((int)done[i]->result));
		n -= (unsigned)r;
	}
}

static int64_t one(const struct tcase *t, struct iolens_ctx *ctx, int kind, int fd, void *buf,
		   uint32_t len)
{
	struct iolens_op op = mkop(kind, fd, buf, len);

	submit(t, ctx, &op);
	reap_n(t, ctx, 1);
	return op.result;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct late_write {
	pthread_t tid;
	int fd;
	long ms;
	const char *data;
};

static void *late_write_main(void *arg)
{
	struct late_write *w = arg;

	pause_ms(w->ms);
	if (write(w->fd, w->data, strlen(w->data)) < 0)
		w->fd = -1;
	return NULL;
}

/* Two RECVs and then a SEND on one socket: the SEND is not held up, the RECVs come in order. */
static void ops_share_a_descriptor(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx;
	char a[4] = { 0 }, b[4] = { 0 }, got[8];
	struct iolens_op r1, r2, s1;
	int fds[2];

	readiness_only(t);
	ctx = open_ctx(t, 4);
	pair(fds);
	r1 = mkop(IOLENS_OP_RECV, fds[0], a, 4);
	r2 = mkop(IOLENS_OP_RECV, fds[0], b, 4);
	s1 = mkop(IOLENS_OP_SEND, fds[0], "ping", 4);
	submit(t, ctx, &r1);
	submit(t, ctx, &r2);
	submit(t, ctx, &s1);
	reap_n(t, ctx, 1);
	assert_int_equal(s1.result, 4);
	assert_int_equal(read(fds[1], got, sizeof(got)), 4);
	assert_memory_equal(got, "ping", 4);
	assert_int_equal(write(fds[1], "abcdefgh", 8), 8);
	reap_n(t, ctx, 2);
	assert_int_equal(r1.result, 4);
	assert_int_equal(r2.result, 4);
	assert_memory_equal(a, "abcd", 4);
	assert_memory_equal(b, "efgh", 4);
	close(fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/*
 * Close a socket and get its number back for a new one, many times in one
 * context, with the same direction and the other, data there before the
 * op and data that comes later.
 */
static void reused_numbers(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 2);
	int first[2] = { -1, -1 };

	for (int i = 0; i < 40; i++) {
		struct late_write w = { .ms = 5, .data = "late" };
		char buf[8] = { 0 };
		int fds[2];

		pair(fds);
		if (i == 0)
			memcpy(first, fds, sizeof(first));
		else if (fds[0] != first[0])
			fail_msg("%s: fd %d instead of %d: the test needs the numbers reused",
				 t->spec, fds[0], first[0]);
		switch (i % 4) {
		case 0: /* a RECV that waits for data */
			w.fd = fds[1];
			assert_int_equal(pthread_create(&w.tid, NULL, late_write_main, &w), 0);
			assert_int_equal(one(t, ctx, IOLENS_OP_RECV, fds[0], buf, 8), 4);
			pthread_join(w.tid, NULL);
			assert_memory_equal(buf, "late", 4);
			break;
		case 1: /* a RECV with its data already there */
			assert_int_equal(write(fds[1], "soon", 4), 4);
			assert_int_equal(one(t, ctx, IOLENS_OP_RECV, fds[0], buf, 8), 4);
			assert_memory_equal(buf, "soon", 4);
			break;
		case 2: /* a SEND, then a RECV that waits */
			assert_int_equal(one(t, ctx, IOLENS_OP_SEND, fds[0], "out", 3), 3);
			w.fd = fds[1];
			assert_int_equal(pthread_create(&w.tid, NULL, late_write_main, &w), 0);
			assert_int_equal(one(t, ctx, IOLENS_OP_RECV, fds[0], buf, 8), 4);
			pthread_join(w.tid, NULL);
			break;
		default: /* a SEND alone */
			assert_int_equal(one(t, ctx, IOLENS_OP_SEND, fds[0], "out", 3), 3);
			break;
		}
		close(fds[0]);
		close(fds[1]);
	}
	iolens_ctx_close(ctx);
}

/* A socket's number reused by a regular file, and the other way round. */
static void reused_by_a_file(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 2);
	char path[] = "/tmp/iolens-readiness-XXXXXX", buf[8] = { 0 };
	int tmp = mkstemp(path), fds[2], fd;

	assert_true(tmp >= 0);
	assert_int_equal(write(tmp, "filedata", 8), 8);
	close(tmp);
	pair(fds);
	assert_int_equal(write(fds[1], "sock", 4), 4);
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, fds[0], buf, 8), 4);
	close(fds[0]);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	assert_int_equal(fd, fds[0]);
	assert_int_equal(one(t, ctx, IOLENS_OP_READ, fd, buf, 8), 8);
	assert_memory_equal(buf, "filedata", 8);
	close(fd);
	close(fds[1]);
	/* Now the file had the number first: a socket gets it back. */
	pair(fds);
	assert_int_equal(fds[0], fd);
	assert_int_equal(write(fds[1], "back", 4), 4);
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, fds[0], buf, 8), 4);
	assert_memory_equal(buf, "back", 4);
	close(fds[0]);
	close(fds[1]);
	unlink(path);
	iolens_ctx_close(ctx);
}

/*
 * A RECV on busy[0] whose data a thread writes 300 ms later: fail with why
 * if the backend's wait woke more than 5 times meanwhile.
 */
static void one_late_recv_waits_little(const struct tcase *t, struct iolens_ctx *ctx,
				       const int busy[2], const char *why)
{
	struct late_write w = { .fd = busy[1], .ms = 300, .data = "done" };
	struct iolens_backend_stats st;
	char buf[8] = { 0 };
	uint64_t waits;

	iolens_ctx_stats(ctx, &st);
	waits = st.waits;
	assert_int_equal(pthread_create(&w.tid, NULL, late_write_main, &w), 0);
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, busy[0], buf, sizeof(buf)), 4);
	pthread_join(w.tid, NULL);
	iolens_ctx_stats(ctx, &st);
	if (st.waits - waits > 5)
		fail_msg("%s: %llu waits for one RECV: %s", t->spec,
			 (unsigned long long)(st.waits - waits), why);
}

/*
 * While a RECV waits on one socket, another that is writable and idle, and
 * a third whose peer hung up, must not wake the wait over and over.
 */
static void idle_sockets_stay_quiet(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 4);
	int busy[2], writable[2], gone[2];

	pair(busy);
	pair(writable);
	pair(gone);
	/* Each idle socket has had an op, so the backend knows it. */
	assert_int_equal(one(t, ctx, IOLENS_OP_SEND, writable[0], "x", 1), 1);
	assert_int_equal(one(t, ctx, IOLENS_OP_SEND, gone[0], "x", 1), 1);
	close(gone[1]);
	one_late_recv_waits_little(t, ctx, busy, "idle sockets keep waking the wait");
	close(busy[0]);
	close(busy[1]);
	close(writable[0]);
	close(writable[1]);
	close(gone[0]);
	iolens_ctx_close(ctx);
}

/*
 * A socket whose RECV is done keeps its read interest (epoll): data that
 * comes next with no RECV queued must not keep the wait awake while another
 * socket's RECV waits, and the next RECV on it still gets that data.
 */
static void unasked_data_stays_quiet(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 4);
	int busy[2], talker[2];
	char buf[8] = { 0 };

	pair(busy);
	pair(talker);
	assert_int_equal(write(talker[1], "a", 1), 1);
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, talker[0], buf, sizeof(buf)), 1);
	assert_int_equal(write(talker[1], "more", 4), 4);
	one_late_recv_waits_little(t, ctx, busy, "data nobody asked for keeps waking the wait");
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, talker[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "more", 4);
	close(busy[0]);
	close(busy[1]);
	close(talker[0]);
	close(talker[1]);
	iolens_ctx_close(ctx);
}

/* Read a socket until its peer closes. */
static void *drain_main(void *arg)
{
	static char sink[1 << 16];
	int fd = *(int *)arg;

	while (read(fd, sink, sizeof(sink)) > 0)
		;
	return NULL;
}

/*
 * A SEND with nothing queued ahead of it goes at once, inside submit; one
 * behind a SEND that waits for room stays queued behind it, in order.
 */
static void send_goes_at_once(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx;
	static char big[1 << 20];
	struct iolens_op first, held, next, *done[4];
	int fds[2], got = 0;
	char in[64];
	pthread_t drainer;

	readiness_only(t);
	ctx = open_ctx(t, 4);
	pair(fds);
	first = mkop(IOLENS_OP_SEND, fds[0], "now", 3);
	submit(t, ctx, &first);
	assert_int_equal(first.result, 3);
	assert_true(first.flags & IOLENS_OPF_INLINE);
	assert_int_equal(iolens_ctx_reap(ctx, done, 0, 4, 0), 1);
	assert_ptr_equal(done[0], &first);
	assert_int_equal(read(fds[1], in, sizeof(in)), 3);
	/* Fill the socket until a SEND has to wait; the next one queues behind it. */
	memset(big, 'x', sizeof(big));
	do {
		held = mkop(IOLENS_OP_SEND, fds[0], big, sizeof(big));
		submit(t, ctx, &held);
		if (held.flags & IOLENS_OPF_INLINE)
			assert_int_equal(iolens_ctx_reap(ctx, done, 1, 4, LONG_NS), 1);
	} while (held.flags & IOLENS_OPF_INLINE);
	next = mkop(IOLENS_OP_SEND, fds[0], "end", 3);
	submit(t, ctx, &next);
	assert_false(next.flags & IOLENS_OPF_INLINE);
	assert_int_equal(pthread_create(&drainer, NULL, drain_main, &fds[1]), 0);
	while (got < 2) {
		int r = iolens_ctx_reap(ctx, done, 1, 4, LONG_NS);

		assert_true(r > 0);
		for (int i = 0; i < r; i++)
			assert_ptr_equal(done[i], got + i ? &next : &held);
		got += r;
	}
	assert_true(held.result > 0);
	assert_int_equal(next.result, 3);
	close(fds[0]);
	pthread_join(drainer, NULL);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

/*
 * An ACCEPT with a connection waiting and none queued ahead goes at once,
 * inside submit, as a SEND does: a loaded server's loop looks at readiness
 * seldom, and its listener would get a few connections per look. With
 * nothing to accept it waits, and the next connection completes it.
 */
static void accept_goes_at_once(void **state)
{
	const struct tcase *t = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct iolens_op first, later;
	struct iolens_ctx *ctx;
	int lfd, c1, c2;

	readiness_only(t);
	ctx = open_ctx(t, 4);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	/* An abstract name: nothing on disk to clean up. */
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "iolens-accept-%d", (int)getpid());
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&a, sizeof(a)), 0);
	first = mkop(IOLENS_OP_ACCEPT, lfd, NULL, 0);
	submit(t, ctx, &first);
	assert_true(first.result >= 0);
	assert_true(first.flags & IOLENS_OPF_INLINE);
	reap_n(t, ctx, 1);
	later = mkop(IOLENS_OP_ACCEPT, lfd, NULL, 0);
	submit(t, ctx, &later);
	assert_false(later.flags & IOLENS_OPF_INLINE);
	c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c2, (struct sockaddr *)&a, sizeof(a)), 0);
	reap_n(t, ctx, 1);
	assert_true(later.result >= 0);
	close((int)first.result);
	close((int)later.result);
	close(c1);
	close(c2);
	close(lfd);
	iolens_ctx_close(ctx);
}

struct chatter {
	pthread_t tid;
	int fd;
	int writes;
};

static void *chatter_main(void *arg)
{
	struct chatter *c = arg;

	for (int i = 0; i < c->writes; i++) {
		if (write(c->fd, "x", 1) != 1)
			break;
		pause_ms(5);
	}
	return NULL;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A reap's timeout holds while another, idle socket keeps receiving data. */
static void timeout_holds_under_chatter(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 2);
	struct chatter c = { .writes = 200 };
	struct iolens_op op, *done[1];
	int quiet[2], noisy[2];
	char buf[8];
	int64_t t0, took;

	pair(quiet);
	pair(noisy);
	/* The noisy socket is known to the backend, then idle. */
	assert_int_equal(one(t, ctx, IOLENS_OP_SEND, noisy[0], "x", 1), 1);
	c.fd = noisy[1];
	assert_int_equal(pthread_create(&c.tid, NULL, chatter_main, &c), 0);
	op = mkop(IOLENS_OP_RECV, quiet[0], buf, sizeof(buf));
	submit(t, ctx, &op);
	t0 = mono_ms();
	assert_int_equal(iolens_ctx_reap(ctx, done, 1, 1, 200 * 1000000LL), 0);
	took = mono_ms() - t0;
	if (took > 600)
		fail_msg("%s: a 200 ms reap took %lld ms", t->spec, (long long)took);
	assert_int_equal(write(quiet[1], "end", 3), 3);
	reap_n(t, ctx, 1);
	assert_int_equal(op.result, 3);
	pthread_join(c.tid, NULL);
	close(quiet[0]);
	close(quiet[1]);
	close(noisy[0]);
	close(noisy[1]);
	iolens_ctx_close(ctx);
}

/* Many connections, a RECV on each, answered from the last to the first. */
static void many_at_once(void **state)
{
	enum { N = 300 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, N);
	static int fds[N][2];
	static struct iolens_op ops[N];
	static uint32_t in[N];

	for (int i = 0; i < N; i++) {
		pair(fds[i]);
		ops[i] = mkop(IOLENS_OP_RECV, fds[i][0], &in[i], sizeof(in[i]));
		submit(t, ctx, &ops[i]);
	}
	for (int i = N - 1; i >= 0; i--) {
		uint32_t v = (uint32_t)i * 7919u;

		assert_int_equal(write(fds[i][1], &v, sizeof(v)), sizeof(v));
	}
	reap_n(t, ctx, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].result, sizeof(uint32_t));
		assert_int_equal(in[i], (uint32_t)i * 7919u);
		close(fds[i][0]);
		close(fds[i][1]);
	}
	iolens_ctx_close(ctx);
}

/*
 * A socket numbered above FD_SETSIZE (1024): poll and epoll wait on it like
 * any other; select refuses it with EMFILE at once, and a socket below the
 * limit in the same context still works.
 */
static void high_descriptor(void **state)
{
	enum { HIGH = 1500 };
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 4);
	struct rlimit rl;
	int fds[2], low[2];
	char c = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max <= HIGH) {
		iolens_ctx_close(ctx);
		skip();
	}
	if (rl.rlim_cur <= HIGH) {
		rl.rlim_cur = HIGH + 1;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	pair(fds);
	assert_int_equal(dup2(fds[0], HIGH), HIGH);
	close(fds[0]);
	assert_int_equal(write(fds[1], "h", 1), 1);
	if (strcmp(t->backend, "select") == 0) {
		assert_int_equal(one(t, ctx, IOLENS_OP_RECV, HIGH, &c, 1), -EMFILE);
		assert_int_equal(c, 0); /* nothing read, nothing written past a set */
	} else {
		assert_int_equal(one(t, ctx, IOLENS_OP_RECV, HIGH, &c, 1), 1);
		assert_int_equal(c, 'h');
	}
	pair(low);
	assert_int_equal(write(low[1], "l", 1), 1);
	assert_int_equal(one(t, ctx, IOLENS_OP_RECV, low[0], &c, 1), 1);
	assert_int_equal(c, 'l');
	iolens_ctx_close(ctx);
	close(HIGH);
	close(fds[1]);
	close(low[0]);
	close(low[1]);
}

/* epoll names its registration mode once it has registered a socket. */
static void setup_names_the_mode(void **state)
{
	const struct tcase *t = *state;
	struct iolens_ctx *ctx = open_ctx(t, 1);
	struct iolens_backend_stats st;
	int fds[2];

	if (strcmp(t->backend, "epoll") != 0) {
		iolens_ctx_close(ctx);
		skip();
	}
	pair(fds);
	assert_int_equal(one(t, ctx, IOLENS_OP_SEND, fds[0], "x", 1), 1);
	iolens_ctx_stats(ctx, &st);
	assert_string_equal(st.setup, t->flags & IOLENS_BOPT_EDGE      ? "edge-triggered"
				      : t->flags & IOLENS_BOPT_ONESHOT ? "one-shot"
								       : "level-triggered");
	assert_int_equal(st.fallbacks, 0);
	close(fds[0]);
	close(fds[1]);
	iolens_ctx_close(ctx);
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} cases[] = {
		{ "ops_share_a_descriptor", ops_share_a_descriptor },
		{ "reused_numbers", reused_numbers },
		{ "reused_by_a_file", reused_by_a_file },
		{ "idle_sockets_stay_quiet", idle_sockets_stay_quiet },
		{ "unasked_data_stays_quiet", unasked_data_stays_quiet },
		{ "send_goes_at_once", send_goes_at_once },
		{ "accept_goes_at_once", accept_goes_at_once },
		{ "timeout_holds_under_chatter", timeout_holds_under_chatter },
		{ "many_at_once", many_at_once },
		{ "setup_names_the_mode", setup_names_the_mode },
		{ "high_descriptor", high_descriptor },
	};
	enum { NT = sizeof(tcases) / sizeof(tcases[0]), NC = sizeof(cases) / sizeof(cases[0]) };
	static struct CMUnitTest tests[NT * NC];
	static char names[NT * NC][64];
	size_t n = 0;

	for (size_t i = 0; i < NT; i++) {
		for (size_t k = 0; k < NC; k++) {
			snprintf(names[n], sizeof(names[n]), "%s/%s", tcases[i].spec,
				 cases[k].name);
			tests[n] = (struct CMUnitTest){ .name = names[n], .test_func = cases[k].fn,
							.initial_state = (void *)&tcases[i] };
			n++;
		}
	}
	if (getenv("IOLENS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("IOLENS_TEST_FILTER"));
	return _cmocka_run_group_tests("readiness", tests, n, NULL, NULL);
}
