/*
 * The target of a socket workload: the other end. echo and stream talk to a
 * responder (built in, on loopback, unless --connect names a remote one);
 * serve is driven by the built-in load generator. Both run in a child
 * process forked here, before any pass opens a syscall counter, so none of
 * their calls, CPU time or descriptors is ever counted as the backend's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

_Static_assert((int)IOLENS_TRANSPORT_TCP == (int)IOLENS_TR_TCP &&
		       (int)IOLENS_TRANSPORT_TCP6 == (int)IOLENS_TR_TCP6 &&
		       (int)IOLENS_TRANSPORT_UNIX == (int)IOLENS_TR_UNIX,
	       "public and internal transport numbers agree");

#define MAX_CONNS 100000u

static int check(const struct iolens_workload *w, char *err, size_t errlen)
{
	const char *name = iolens_workload_name(w->kind);

	if (w->conns < 1 || w->conns > MAX_CONNS)
		return iolens__target_fail(err, errlen, -EINVAL, "--conns: %u is out of range (accepts 1 to %u)",
			    w->conns, MAX_CONNS);
	if (w->msg > IOLENS_MSG_MAX)
		return iolens__target_fail(err, errlen, -EINVAL, "--msg: %u is out of range (accepts 1 to 4m)",
			    w->msg);
	if (w->transport < IOLENS_TRANSPORT_TCP || w->transport > IOLENS_TRANSPORT_UNIX)
		return iolens__target_fail(err, errlen, -EINVAL, "--transport: accepts tcp, tcp6 or unix");
	if (w->connect && w->kind == IOLENS_WL_SERVE)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--connect: serve is driven by the built-in load generator (accepted with echo and stream)");
	if (w->loadgen && (w->kind != IOLENS_WL_SERVE || !w->loadgen->start ||
			   !w->loadgen->measure || !w->loadgen->finish))
		return iolens__target_fail(err, errlen, -EINVAL,
			    "loadgen: drives serve (not %s), with start, measure and finish all set", name);
	if (w->loadgen && w->peer_cpu >= 0)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--peer-cpu: pins the built-in load generator (not with the caller's)");
	if (w->listen && w->kind != IOLENS_WL_SERVE)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--listen: %s connects to a responder (accepted with serve; start a remote one with 'iolens responder --listen')",
			    name);
	if (!(w->rate >= 0) || w->rate > 1e9)
		return iolens__target_fail(err, errlen, -EINVAL, "--rate: accepts 0 to 1e9 requests per second");
	if (w->rate > 0 && w->kind != IOLENS_WL_ECHO)
		return iolens__target_fail(err, errlen, -EINVAL, "--rate: open loop is for echo and the disk workloads (not %s)", name);
	if (w->poisson && !(w->rate > 0))
		return iolens__target_fail(err, errlen, -EINVAL, "--rate: poisson needs a rate (e.g. poisson:1000)");
	if (w->think_ns > 1000000000ull)
		return iolens__target_fail(err, errlen, -EINVAL, "--think: accepts 0 to 1s");
	if (w->delay_ns > 60000000000ull)
		return iolens__target_fail(err, errlen, -EINVAL, "--delay: accepts 0 to 60s");
	if (w->delay_ns && w->kind != IOLENS_WL_ECHO)
		return iolens__target_fail(err, errlen, -EINVAL, "--delay: the responder delays echo replies (not %s)",
			    name);
	if (w->kind == IOLENS_WL_SERVE && w->ops)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--ops: serve counts the load generator's requests over --time (accepts --time)");
	if (w->kind == IOLENS_WL_STREAM && w->depth != 1)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--depth: stream keeps one send in flight per connection (accepts 1; use --conns)");
	if (w->peer_cpu >= 0 && w->connect)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--peer-cpu: pins the built-in responder (not accepted with --connect)");
	if (w->direct || w->file || w->fsync_every || w->verify)
		return iolens__target_fail(err, errlen, -EINVAL,
			    "--%s: a disk option (not accepted with %s)",
			    w->direct ? "direct" : w->file ? "file" : w->fsync_every ? "fsync" : "verify",
			    name);
	return 0;
}

/* serve's default listening address: loopback, or a socket in a directory of ours. */
static int serve_loopback(struct iolens_target *t, int transport, struct iolens__addr *a,
			  char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
	int r;

	if (transport != IOLENS_TRANSPORT_UNIX) {
		r = iolens__addr_loopback(transport, a);
		return r ? iolens__target_fail(err, errlen, r, "--transport: no loopback address: %s",
				iolens_strerror(r))
			 : 0;
	}
	/* A $TMPDIR too long for the 108-byte sun_path: /tmp (serve.sock inside it). */
	if (!iolens__tmpdir_fits(tmp, sizeof("iolens-serve-XXXXXX/serve.sock")) ||
	    strlen(tmp) + sizeof("/iolens-serve-XXXXXX") > sizeof(t->unix_dir))
		tmp = "/tmp";
	snprintf(t->unix_dir, sizeof(t->unix_dir), "%s/iolens-serve-XXXXXX", tmp);
	if (!mkdtemp(t->unix_dir)) {
		r = -errno;
		t->unix_dir[0] = '\0';
		return iolens__target_fail(err, errlen, r, "--transport unix: cannot make a directory for the socket: %s",
			    iolens_strerror(r));
	}
	memset(a, 0, sizeof(*a));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s/serve.sock", t->unix_dir);
	a->len = sizeof(*un);
	a->transport = transport;
	return 0;
}

int iolens__net_target_open(struct iolens_target *t, const struct iolens_workload *w, char *err,
			    size_t errlen)
{
	struct iolens__addr a;
	char where[112];
	int r = check(w, err, errlen);

	if (r)
		return r;
	t->net = 1;
	t->transport = w->transport;
	t->peer_proc.pid = -1;
	t->peer_proc.ctl = -1;
	t->nofile = iolens__raise_nofile();
	if (w->kind == IOLENS_WL_SERVE) {
		if (w->listen)
			r = iolens__addr_parse(w->listen, w->transport, "--listen", 1, &a, err, errlen);
		else
			r = serve_loopback(t, w->transport, &a, err, errlen);
		/* Refused here, before any run: a file in the way, or a live listener. */
		if (!r && w->listen && a.ss.ss_family == AF_UNIX)
			r = iolens__unix_claim(((const struct sockaddr_un *)&a.ss)->sun_path, 0,
					       "--listen", err, errlen);
		if (r)
			return r;
		struct iolens__responder_opts o = { .cpu = w->peer_cpu };

		/* The caller's own load generator needs no child. */
		r = w->loadgen ? 0
			       : iolens__peer_proc_start(&t->peer_proc, IOLENS_PEER_PROC_LOADGEN, &o,
							 err, errlen);
		if (r) {
			iolens__net_target_close(t);
			return r;
		}
		iolens__addr_format(&a, where, sizeof(where));
		snprintf(t->path, sizeof(t->path), "listen %s, %s", where,
			 w->loadgen ? "the caller's load generator"
				    : "built-in load generator (child process)");
	} else if (w->connect) {
		r = iolens__addr_parse(w->connect, w->transport, "--connect", 0, &a, err, errlen);
		if (r)
			return r;
		iolens__addr_format(&a, where, sizeof(where));
		snprintf(t->path, sizeof(t->path), "%s, remote responder", where);
	} else {
		struct iolens__responder_opts o = {
			.transport = w->transport,
			.delay_ns = w->delay_ns,
			.threads = 1,
			.cpu = w->peer_cpu,
		};

		r = iolens__peer_proc_start(&t->peer_proc, IOLENS_PEER_PROC_RESPONDER, &o, err, errlen);
		if (r)
			return r;
		a = t->peer_proc.addr;
		iolens__addr_format(&a, where, sizeof(where));
		snprintf(t->path, sizeof(t->path), "%s, built-in responder (child process)", where);
	}
	memcpy(&t->peer, &a.ss, sizeof(t->peer));
	t->peer_len = a.len;
	return 0;
}

void iolens__net_target_close(struct iolens_target *t)
{
	iolens__peer_proc_stop(&t->peer_proc);
	if (t->unix_dir[0]) {
		char path[sizeof(t->unix_dir) + sizeof("/serve.sock")];

		struct stat st;

		/* Our own mkdtemp directory: a socket left in it is a pass's. */
		snprintf(path, sizeof(path), "%s/serve.sock", t->unix_dir);
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
		rmdir(t->unix_dir);
		t->unix_dir[0] = '\0';
	}
}
