/*
 * Every wait of the library has a bound: an open loop at a very low rate
 * ends with its window, iolens_ctx_close returns with a socket op that will
 * never complete still in flight, and the unix-path rule of the listeners
 * (peer.h, iolens__unix_claim) refuses what is not a stale socket.
 * The bounds asserted are the documented ones plus a wide margin: a hang,
 * not a speed, is what fails here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iolens/iolens.h"
#include "peer.h"

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request every 50 s, a 200 ms window: the run ends with the window, not the next send. */
static void open_loop_low_rate(void **state)
{
	struct iolens_workload w;
	struct iolens_target *t = NULL;
	struct iolens_result *r = NULL;
	char err[256] = "";
	double t0;

	(void)state;
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_ECHO;
	w.count = IOLENS_COUNT_OFF;
	w.time_s = 0.2;
	w.rate = 0.02;
	assert_int_equal(iolens_target_open(&t, &w, err, sizeof(err)), 0);
	t0 = mono_s();
	assert_int_equal(iolens_run(t, &w, "epoll", &r, err, sizeof(err)), 0);
	assert_true(mono_s() - t0 < 5.0);
	assert_int_equal(r->status, IOLENS_STATUS_OK);
	iolens_result_free(r);
	iolens_target_close(t);
}

/*
 * A RECV on a socket whose peer never writes: close gives up after its
 * stall bound (1 s, then up to 1 s of cancellation) instead of waiting for
 * ever. posix-aio is left out: its glibc thread stays inside recv until the
 * socket is shut down, so its state is left allocated on purpose.
 */
static void close_with_stalled_op(void **state)
{
	static const char *const names[] = { "poll", "epoll", "io_uring", "libaio" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct iolens_backend_info *info = iolens_backend_find(names[i]);
		struct iolens_backend_opts o = { .depth = 2 };
		struct iolens_ctx *ctx = NULL;
		struct iolens_op op = { .kind = IOLENS_OP_RECV, .buf_index = -1 };
		struct iolens_op *p = &op;
		char buf[64];
		int sv[2];
		double t0;

		if (!info || !info->available)
			continue;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(iolens_ctx_open(&ctx, names[i], &o), 0);
		op.fd = sv[0];
		op.buf = buf;
		op.len = sizeof(buf);
		assert_int_equal(iolens_ctx_submit(ctx, &p, 1), 1);
		/* Let an asynchronous backend hand it to the kernel. */
		assert_int_equal(iolens_ctx_reap(ctx, &p, 0, 1, 0), 0);
		t0 = mono_s();
		iolens_ctx_close(ctx);
		print_message("%s: close took %.2f s\n", names[i], mono_s() - t0);
		assert_true(mono_s() - t0 < 5.0);
		close(sv[0]);
		close(sv[1]);
	}
}

static void unix_claim_rule(void **state)
{
	char dir[] = "/tmp/iolens-bounds-XXXXXX", path[64], err[256];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct iolens__unix_id id;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(iolens__unix_claim(path, 1, "--listen", err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "--listen: "));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	/* Absent: fine. */
	assert_int_equal(iolens__unix_claim(path, 1, "--listen", err, sizeof(err)), 0);
	/* Listening: in use, left alone. */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(iolens__unix_claim(path, 1, "--listen", err, sizeof(err)), -EADDRINUSE);
	assert_int_equal(access(path, F_OK), 0);
	/* Stale (nobody listens): removed when asked. */
	close(fd);
	assert_int_equal(iolens__unix_claim(path, 0, "--listen", err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(iolens__unix_claim(path, 1, "--listen", err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* Release removes only the socket that was bound. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	iolens__unix_bound(path, &id);
	close(fd);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(iolens__unix_release(path, &id), 0);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	rmdir(dir);
}

/* A TMPDIR too long for sun_path: the loopback socket goes to /tmp instead of failing. */
static void long_tmpdir_loopback(void **state)
{
	char dir[] = "/tmp/iolens-bounds-XXXXXX", deep[256];
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	struct iolens__addr a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(deep, sizeof(deep), "%s/%0*d", dir, 90, 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	setenv("TMPDIR", deep, 1);
	assert_int_equal(iolens__addr_loopback(IOLENS_TR_UNIX, &a), 0);
	assert_int_equal(strncmp(((struct sockaddr_un *)&a.ss)->sun_path, "/tmp/", 5), 0);
	iolens__addr_loopback_cleanup(&a);
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	rmdir(deep);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_loop_low_rate),
		cmocka_unit_test(close_with_stalled_op),
		cmocka_unit_test(unix_claim_rule),
		cmocka_unit_test(long_tmpdir_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
