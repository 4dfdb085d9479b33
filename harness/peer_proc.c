/*
 * The built-in peers run in a child process of their own, started when the
 * target opens. Three reasons: their CPU time, context switches and
 * syscalls are then not the process's that runs the backend (getrusage and
 * the counters see only the backend's side); 10,000 connections need
 * 20,000 descriptors when both ends share one RLIMIT_NOFILE; and a child
 * forked before any counter opens is never counted.
 *
 * The child ignores SIGINT (the run stops, not its peer) and dies with its
 * parent. Commands go over a SOCK_SEQPACKET pair, one message each way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hist.h"
#include "peer_proc.h"

enum { CMD_START = 1, CMD_MEASURE, CMD_FINISH };

struct cmd {
	int op;
	int on;
	struct iolens__loadgen_opts o;
};

struct reply {
	int err;
	char msg[256];
	struct iolens__addr addr;
	unsigned connected;
	uint64_t requests, bytes;
	int have_hist;
	struct iolens_hist hist;
};

static int xfer(int fd, void *buf, size_t len, int sending)
{
	ssize_t n;

	do
		n = sending ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 && !sending ? -EPIPE : 0;
}

/* The child: serve commands until the parent hangs up. */
static void child_main(int ctl, int kind, const struct iolens__responder_opts *ro)
{
	struct iolens__responder *resp = NULL;
	struct iolens__loadgen *lg = NULL;
	struct reply *rep = calloc(1, sizeof(*rep));
	struct cmd c;

	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!rep)
		_exit(1);
	if (ro && ro->cpu >= 0) {
		cpu_set_t set;

		/* The whole child, so every thread of it is where it was asked to be. */
		CPU_ZERO(&set);
		CPU_SET((unsigned)ro->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	iolens__raise_nofile();
	if (kind == IOLENS_PEER_PROC_RESPONDER) {
		rep->err = iolens__responder_start(&resp, ro, rep->msg, sizeof(rep->msg));
		if (!rep->err)
			rep->addr = *iolens__responder_addr(resp);
	} else {
		rep->err = iolens__loadgen_create(&lg, 1, ro ? ro->cpu : -1);
		if (rep->err)
			snprintf(rep->msg, sizeof(rep->msg), "load generator: %s",
				 iolens_strerror(rep->err));
	}
	if (xfer(ctl, rep, offsetof(struct reply, hist), 1) || rep->err)
		goto out;
	while (xfer(ctl, &c, sizeof(c), 0) == 0) {
		struct iolens__loadgen_result g = { 0 };
		size_t len = offsetof(struct reply, hist);

		memset(rep, 0, len);
		if (!lg) {
			rep->err = -EINVAL;
		} else if (c.op == CMD_START) {
			rep->err = iolens__loadgen_start(lg, &c.o, rep->msg, sizeof(rep->msg));
		} else if (c.op == CMD_MEASURE) {
			iolens__loadgen_measure(lg, c.on);
		} else if (c.op == CMD_FINISH) {
			iolens__loadgen_finish(lg, &g);
			rep->err = g.err;
			memcpy(rep->msg, g.errmsg, sizeof(rep->msg));
			rep->connected = g.connected;
			rep->requests = g.requests;
			rep->bytes = g.bytes;
			if (g.hist) {
				rep->have_hist = 1;
				rep->hist = *g.hist;
				len = sizeof(*rep);
				iolens_hist_free(g.hist);
			}
		}
		if (xfer(ctl, rep, len, 1))
			break;
	}
out:
	if (resp)
		iolens__responder_stop(resp);
	if (lg)
		iolens__loadgen_destroy(lg);
	free(rep);
	_exit(0);
}

int iolens__peer_proc_start(struct iolens__peer_proc *p, int kind,
			    const struct iolens__responder_opts *ro, char *err, size_t errlen)
{
	struct reply *rep = calloc(1, sizeof(*rep));
	int sv[2], e, buf = (int)sizeof(*rep) * 2;

	p->pid = -1;
	p->ctl = -1;
	if (!rep)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		e = -errno;
		goto fail;
	}
	/* A finished load generator's histogram travels as one message. */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	p->pid = fork();
	if (p->pid < 0) {
		e = -errno;
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (p->pid == 0) {
		close(sv[0]);
		child_main(sv[1], kind, ro);
	}
	close(sv[1]);
	p->ctl = sv[0];
	e = xfer(p->ctl, rep, offsetof(struct reply, hist), 0);
	if (!e && rep->err) {
		e = rep->err;
		snprintf(err, errlen, "%s", rep->msg);
		iolens__peer_proc_stop(p);
		free(rep);
		return e;
	}
	if (e) {
		iolens__peer_proc_stop(p);
		goto fail;
	}
	p->addr = rep->addr;
	free(rep);
	return 0;
fail:
	snprintf(err, errlen, "starting the peer process: %s", iolens_strerror(e));
	free(rep);
	return e;
}

void iolens__peer_proc_stop(struct iolens__peer_proc *p)
{
	if (p->ctl >= 0)
		close(p->ctl);
	if (p->pid > 0)
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	p->ctl = -1;
	p->pid = -1;
}

static int call(struct iolens__peer_proc *p, struct cmd *c, struct reply *rep)
{
	int e = xfer(p->ctl, c, sizeof(*c), 1);

	if (!e)
		e = xfer(p->ctl, rep, sizeof(*rep), 0);
	if (e)
		snprintf(rep->msg, sizeof(rep->msg), "the peer process is gone: %s",
			 iolens_strerror(e));
	return e ? e : rep->err;
}

int iolens__peer_proc_lg_start(struct iolens__peer_proc *p, const struct iolens__loadgen_opts *o,
			       char *err, size_t errlen)
{
	struct cmd c = { .op = CMD_START, .o = *o };
	struct reply *rep = calloc(1, sizeof(*rep));
	int e;

	if (!rep)
		return -ENOMEM;
	e = call(p, &c, rep);
	if (e)
		snprintf(err, errlen, "%s", rep->msg);
	free(rep);
	return e;
}

int iolens__peer_proc_lg_measure(struct iolens__peer_proc *p, int on)
{
	struct cmd c = { .op = CMD_MEASURE, .on = on };
	struct reply *rep = calloc(1, sizeof(*rep));
	int e;

	if (!rep)
		return -ENOMEM;
	e = call(p, &c, rep);
	free(rep);
	return e;
}

int iolens__peer_proc_lg_finish(struct iolens__peer_proc *p, struct iolens__loadgen_result *res)
{
	struct cmd c = { .op = CMD_FINISH };
	struct reply *rep = calloc(1, sizeof(*rep));
	int e;

	memset(res, 0, sizeof(*res));
	if (!rep)
		return -ENOMEM;
	e = call(p, &c, rep);
	res->err = e;
	snprintf(res->errmsg, sizeof(res->errmsg), "%s", rep->msg);
	res->connected = rep->connected;
	res->requests = rep->requests;
	res->bytes = rep->bytes;
	if (rep->have_hist && (res->hist = iolens_hist_new()))
		*res->hist = rep->hist;
	free(rep);
	return e;
}
