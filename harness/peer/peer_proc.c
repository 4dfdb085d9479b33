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
 *
 * Every wait on the child is bounded: a child that is stopped (SIGSTOP,
 * a debugger) or wedged answers nothing, so a command waits CALL_WAIT_NS
 * for its reply and the stop STOP_WAIT_NS for the child to exit; past
 * either the child is killed (SIGKILL ends a stopped process too), and the
 * unix socket its responder made is removed on its behalf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "peer_proc.h"

enum { CMD_START = 1, CMD_MEASURE, CMD_FINISH };

#define CALL_WAIT_NS 3000000000LL
#define STOP_WAIT_NS 2000000000LL

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

/* Wait for fd to be ready for `events` until deadline (< 0: none); 0 or -ETIMEDOUT. */
static int ready_by(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - iolens__mono_ns();
		int r;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left < 0 ? -1 : (int)((left + 999999) / 1000000));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* One message each way; the parent passes a deadline (the child waits as long as it takes). */
static int xfer_by(int fd, void *buf, size_t len, int sending, int64_t deadline)
{
	ssize_t n;
	int e = ready_by(fd, sending ? POLLOUT : POLLIN, deadline);

	if (e)
		return e;
	do
		n = sending ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 && !sending ? -EPIPE : 0;
}

static int xfer(int fd, void *buf, size_t len, int sending)
{
	return xfer_by(fd, buf, len, sending, -1);
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
		struct iolens_loadgen_figures g = { 0 };
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
	memset(&p->addr, 0, sizeof(p->addr));
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
	e = xfer_by(p->ctl, rep, offsetof(struct reply, hist), 0, iolens__mono_ns() + CALL_WAIT_NS);
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

/* A stopped process ('T' stopped, 't' traced) will not exit on its own. */
static int is_stopped(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && (p[2] == 'T' || p[2] == 't');
}

/*
 * Reap the child: it exits once it sees the hang-up; one that is stopped,
 * or still running after STOP_WAIT_NS, is killed. 1 if it had to be.
 */
static int reap_child(pid_t pid)
{
	int64_t deadline = iolens__mono_ns() + STOP_WAIT_NS;
	const struct timespec step = { 0, 5000000 };
	int killed = 0;

	for (;;) {
		pid_t r = waitpid(pid, NULL, killed ? 0 : WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return killed;
		if (r < 0 || killed)
			continue;
		if (is_stopped(pid) || iolens__mono_ns() >= deadline) {
			kill(pid, SIGKILL);
			killed = 1;
			continue;
		}
		nanosleep(&step, NULL);
	}
}

void iolens__peer_proc_stop(struct iolens__peer_proc *p)
{
	if (p->ctl >= 0)
		close(p->ctl);
	/* A killed responder left its socket behind (the responder removes only what it made). */
	if (p->pid > 0 && reap_child(p->pid) && p->addr.ss.ss_family == AF_UNIX)
		iolens__addr_loopback_cleanup(&p->addr);
	p->ctl = -1;
	p->pid = -1;
}

static int call(struct iolens__peer_proc *p, struct cmd *c, struct reply *rep)
{
	int64_t deadline = iolens__mono_ns() + CALL_WAIT_NS;
	int e = p->ctl < 0 ? -EPIPE : xfer_by(p->ctl, c, sizeof(*c), 1, deadline);

	if (!e)
		e = xfer_by(p->ctl, rep, sizeof(*rep), 0, deadline);
	if (e == -ETIMEDOUT) {
		/* Stopped or wedged: a late answer would be taken for the next call's. */
		iolens__peer_proc_stop(p);
		snprintf(rep->msg, sizeof(rep->msg),
			 "the peer process did not answer within 3 s (is it stopped?): killed");
	} else if (e) {
		snprintf(rep->msg, sizeof(rep->msg), "the peer process is gone: %s",
			 iolens_strerror(e));
	}
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

int iolens__peer_proc_lg_finish(struct iolens__peer_proc *p, struct iolens_loadgen_figures *res)
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
