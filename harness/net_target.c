/*
 * The target of a socket workload: the other end. echo and stream talk to a
 * responder (in-process on loopback unless --connect names a remote one);
 * serve is driven by the in-process load generator. Both peers create their
 * threads here, before any pass opens a syscall counter, so none of their
 * calls is ever counted as the backend's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "target.h"

_Static_assert((int)IOLENS_TRANSPORT_TCP == (int)IOLENS_TR_TCP &&
		       (int)IOLENS_TRANSPORT_TCP6 == (int)IOLENS_TR_TCP6 &&
		       (int)IOLENS_TRANSPORT_UNIX == (int)IOLENS_TR_UNIX,
	       "public and internal transport numbers agree");

#define MAX_CONNS 100000u

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int check(const struct iolens_workload *w, char *err, size_t errlen)
{
	const char *name = iolens_workload_name(w->kind);

	if (w->conns < 1 || w->conns > MAX_CONNS)
		return fail(err, errlen, -EINVAL, "--conns: %u is out of range (accepts 1 to %u)",
			    w->conns, MAX_CONNS);
	if (w->msg > IOLENS_MSG_MAX)
		return fail(err, errlen, -EINVAL, "--msg: %u is out of range (accepts 1 to 4m)",
			    w->msg);
	if (w->transport < IOLENS_TRANSPORT_TCP || w->transport > IOLENS_TRANSPORT_UNIX)
		return fail(err, errlen, -EINVAL, "--transport: accepts tcp, tcp6 or unix");
	if (w->connect && w->kind == IOLENS_WL_SERVE)
		return fail(err, errlen, -EINVAL,
			    "--connect: serve is driven by the built-in load generator (accepted with echo and stream)");
	if (w->listen && w->kind != IOLENS_WL_SERVE)
		return fail(err, errlen, -EINVAL,
			    "--listen: %s connects to a responder (accepted with serve; start a remote one with 'iolens responder --listen')",
			    name);
	if (!(w->rate >= 0) || w->rate > 1e9)
		return fail(err, errlen, -EINVAL, "--rate: accepts 0 to 1e9 requests per second");
	if (w->rate > 0 && w->kind != IOLENS_WL_ECHO)
		return fail(err, errlen, -EINVAL, "--rate: open loop is for echo (not %s)", name);
	if (w->poisson && !(w->rate > 0))
		return fail(err, errlen, -EINVAL, "--rate: poisson needs a rate (e.g. poisson:1000)");
	if (w->think_ns > 1000000000ull)
		return fail(err, errlen, -EINVAL, "--think: accepts 0 to 1s");
	if (w->delay_ns > 60000000000ull)
		return fail(err, errlen, -EINVAL, "--delay: accepts 0 to 60s");
	if (w->delay_ns && w->kind != IOLENS_WL_ECHO)
		return fail(err, errlen, -EINVAL, "--delay: the responder delays echo replies (not %s)",
			    name);
	if (w->kind == IOLENS_WL_SERVE && w->ops)
		return fail(err, errlen, -EINVAL,
			    "--ops: serve counts the load generator's requests over --time (accepts --time)");
	if (w->kind == IOLENS_WL_STREAM && w->depth != 1)
		return fail(err, errlen, -EINVAL,
			    "--depth: stream keeps one send in flight per connection (accepts 1; use --conns)");
	if (w->direct || w->file || w->fsync_every || w->verify)
		return fail(err, errlen, -EINVAL,
			    "--%s: a disk option (not accepted with %s)",
			    w->direct ? "direct" : w->file ? "file" : w->fsync_every ? "fsync" : "verify",
			    name);
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
	t->nofile = iolens__raise_nofile();
	if (w->kind == IOLENS_WL_SERVE) {
		if (w->listen)
			r = iolens__addr_parse(w->listen, w->transport, "--listen", 1, &a, err, errlen);
		else
			r = iolens__addr_loopback(w->transport, &a);
		if (r)
			return r < 0 && !w->listen ? fail(err, errlen, r, "--transport: %s",
							   iolens_strerror(r))
						   : r;
		r = iolens__loadgen_create(&t->lg, 1, -1);
		if (r)
			return fail(err, errlen, r, "starting the load generator: %s",
				    iolens_strerror(r));
		t->peer_threads = 1;
		iolens__addr_format(&a, where, sizeof(where));
		snprintf(t->path, sizeof(t->path), "listen %s, in-process load generator", where);
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
			.cpu = -1,
		};

		r = iolens__responder_start(&t->resp, &o, err, errlen);
		if (r)
			return r;
		a = *iolens__responder_addr(t->resp);
		t->peer_threads = 1;
		iolens__addr_format(&a, where, sizeof(where));
		snprintf(t->path, sizeof(t->path), "%s, in-process responder", where);
	}
	memcpy(&t->peer, &a.ss, sizeof(t->peer));
	t->peer_len = a.len;
	return 0;
}

void iolens__net_target_close(struct iolens_target *t)
{
	if (t->resp)
		iolens__responder_stop(t->resp);
	if (t->lg)
		iolens__loadgen_destroy(t->lg);
	t->resp = NULL;
	t->lg = NULL;
}
