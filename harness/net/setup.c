/*
 * Before and after the socket loop: a job's connections dialled (with the
 * hello the responder reads) or, for serve, the listener they are accepted
 * from; and everything freed afterwards.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netjob.h"

/* Threads of a socket run: one per connection for thread-per-op backends. */
unsigned iolens__net_threads(const struct run *run)
{
	const struct iolens_workload *w = run->w;

	if (run->spec->info->caps & IOLENS_CAP_THREAD_PER_OP)
		return w->conns;
	return w->jobs < w->conns ? w->jobs : w->conns;
}

uint32_t iolens__net_msg(const struct iolens_workload *w)
{
	if (w->msg)
		return w->msg;
	return w->kind == IOLENS_WL_STREAM ? 128u << 10 : 64u;
}

/* A plain blocking connect with a timeout, then the hello. */
static int dial(const struct run *run, unsigned index, int mode, uint32_t msg, char *why,
		size_t len)
{
	const struct iolens_target *t = run->t;
	struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
	/* Little-endian on the wire, as the responder reads it. */
	struct iolens__hello h = {
		.magic = htole64(IOLENS_HELLO_MAGIC),
		.mode = htole32((uint32_t)mode),
		.msg = htole32(msg),
		.delay_ns = htole64(mode == IOLENS_PEER_SINK
					    ? (run->w->stream_nocheck ? IOLENS_SINK_NOCHECK : 0)
					    : run->w->delay_ns),
		.start = htole64(iolens__stream_start(index)),
	};
	int fd = socket(t->peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		snprintf(why, len, "socket: %s", iolens_strerror(-errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&t->peer, t->peer_len) ||
	    send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		int e = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;

		snprintf(why, len, "connect to %s: %s", run->t->path, iolens_strerror(-e));
		close(fd);
		return -e;
	}
	if (t->peer.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int listen_on(struct run *run, char *why, size_t len)
{
	const struct iolens_target *t = run->t;
	const char *path = ((const struct sockaddr_un *)&t->peer)->sun_path;
	int fd = socket(t->peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		snprintf(why, len, "socket: %s", iolens_strerror(-errno));
		return -errno;
	}
	memset(&run->listen_id, 0, sizeof(run->listen_id));
	if (t->peer.ss_family == AF_UNIX) {
		/* A stale socket is replaced; anything else there is refused, never removed. */
		int e = iolens__unix_claim(path, 1, "--listen", why, len);

		if (e) {
			close(fd);
			return e;
		}
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&t->peer, t->peer_len)) {
		int e = errno;

		snprintf(why, len, "--listen: %s: %s", t->path, iolens_strerror(-e));
		close(fd);
		return -e;
	}
	if (t->peer.ss_family == AF_UNIX)
		iolens__unix_bound(path, &run->listen_id);
	if (listen(fd, (int)(run->w->conns < 65535 ? run->w->conns : 65535))) {
		int e = errno;

		snprintf(why, len, "--listen: %s: %s", t->path, iolens_strerror(-e));
		close(fd);
		iolens__unix_release(path, &run->listen_id);
		return -e;
	}
	return fd;
}

void iolens__net_unlisten(struct run *run)
{
	if (run->listen_fd < 0)
		return;
	close(run->listen_fd);
	run->listen_fd = -1;
	if (run->t->peer.ss_family == AF_UNIX)
		iolens__unix_release(((const struct sockaddr_un *)&run->t->peer)->sun_path,
				     &run->listen_id);
}

static int job_alloc(struct job *j, struct run *run, unsigned nconns, unsigned ctx_depth)
{
	const struct iolens_workload *w = run->w;
	struct netjob *n = iolens__pass_alloc(run, sizeof(*n), 0);
	unsigned nslots = 2 * nconns;

	j->net = n;
	j->run = run;
	j->fd = j->sc_fd = j->io_fd = j->enter_fd = -1;
	if (!n)
		return -ENOMEM;
	n->nconns = nconns;
	n->fake = strcmp(run->spec->info->model, IOLENS_MODEL_NO_IO) == 0;
	n->pat = iolens__pattern();
	n->msg = iolens__net_msg(w);
	n->reqdepth = w->depth;
	n->rbuf_size = w->kind == IOLENS_WL_STREAM ? 0
		       : (uint64_t)n->msg * w->depth < RBUF_MAX ? n->msg * w->depth
							       : RBUF_MAX;
	n->conns = iolens__pass_alloc(run, nconns * sizeof(*n->conns), 0);
	n->queue = iolens__pass_alloc(run, nconns * sizeof(*n->queue), 0);
	n->ring = iolens__pass_alloc(run, (size_t)nconns * w->depth * 2 * sizeof(*n->ring), 0);
	n->rbufs = n->rbuf_size ? iolens__pass_alloc(run, (size_t)nconns * n->rbuf_size, 0) : NULL;
	j->depth = ctx_depth;
	j->slots = iolens__pass_alloc(run, nslots * sizeof(*j->slots), 0);
	j->batch = iolens__pass_alloc(run, (ctx_depth + nslots) * sizeof(*j->batch), 0);
	j->done = iolens__pass_alloc(run, ctx_depth * sizeof(*j->done), 0);
	if (!n->conns || !n->queue || !n->ring || (n->rbuf_size && !n->rbufs) || !j->slots ||
	    !j->batch || !j->done)
		return -ENOMEM;
	if (w->kind == IOLENS_WL_SERVE) {
		n->accepts = iolens__pass_alloc(run, ACCEPTS_IN_FLIGHT * sizeof(*n->accepts), 0);
		if (!n->accepts)
			return -ENOMEM;
	}
	if (!(j->hist[K_READ] = iolens__pass_hist(run)))
		return -ENOMEM;
	if (iolens__ol_setup(j, iolens__net_threads(run)))
		return -ENOMEM;
	for (unsigned c = 0; c < nconns; c++) {
		n->conns[c].fd = -1;
		n->conns[c].rbuf = n->rbufs ? n->rbufs + (size_t)c * n->rbuf_size : NULL;
		j->slots[2 * c].op.kind = IOLENS_OP_SEND;
		j->slots[2 * c + 1].op.kind = IOLENS_OP_RECV;
		j->slots[2 * c].op.user_data = j->slots[2 * c + 1].op.user_data = &n->conns[c];
		j->slots[2 * c].op.buf_index = j->slots[2 * c + 1].op.buf_index = -1;
	}
	return 0;
}

/*
 * Set up every job of a pass: allocate, then (echo, stream) open the
 * connections and say hello, or (serve) open the listener. Runs on the main
 * thread before the job threads exist, outside every measured window.
 */
int iolens__net_setup(struct run *run, struct job *jobs, unsigned nthreads, char *why, size_t len)
{
	const struct iolens_workload *w = run->w;
	int tpo = (run->spec->info->caps & IOLENS_CAP_THREAD_PER_OP) != 0;
	int nb = (run->spec->info->caps & IOLENS_CAP_NONBLOCK_FD) != 0;
	int mode = w->kind == IOLENS_WL_STREAM ? IOLENS_PEER_SINK : IOLENS_PEER_ECHO;
	unsigned index = 0;
	int r;

	run->listen_fd = -1;
	for (unsigned i = 0; i < nthreads; i++) {
		unsigned nconns = w->conns / nthreads + (i < w->conns % nthreads);
		unsigned depth = tpo ? 1 : 2 * nconns +
			(w->kind == IOLENS_WL_SERVE ? ACCEPTS_IN_FLIGHT : 0);

		jobs[i].index = i;
		r = job_alloc(&jobs[i], run, nconns, depth);
		if (r) {
			snprintf(why, len, "out of memory for %u connections", w->conns);
			return r;
		}
		if (run->ops_mode)
			jobs[i].quota = w->ops / nthreads + (i < w->ops % nthreads);
		for (unsigned c = 0; c < nconns; c++)
			jobs[i].net->conns[c].index = index + c;
		index += nconns;
	}
	if (w->kind == IOLENS_WL_SERVE) {
		r = listen_on(run, why, len);
		if (r < 0)
			return r;
		run->listen_fd = r;
		return nb ? nonblock(run->listen_fd) : 0;
	}
	for (unsigned i = 0, opened = 0; i < nthreads; i++) {
		struct netjob *n = jobs[i].net;

		for (unsigned c = 0; c < n->nconns; c++, opened++) {
			struct conn *k = &n->conns[c];
			size_t at;

			if (stopped(run)) {
				snprintf(why, len, "interrupted while connecting (%u of %u connections open)",
					 opened, w->conns);
				return -EINTR;
			}
			k->fd = dial(run, k->index, mode, n->msg, why, len);
			if (k->fd < 0) {
				r = k->fd;
				at = strlen(why);
				snprintf(why + at, len - at,
					 " (could open %u of %u connections; RLIMIT_NOFILE %llu)", opened,
					 w->conns, (unsigned long long)run->t->nofile);
				return r;
			}
			k->start = iolens__stream_start(k->index);
			if (nb && (r = nonblock(k->fd))) {
				snprintf(why, len, "fcntl O_NONBLOCK: %s", iolens_strerror(r));
				return r;
			}
		}
	}
	return 0;
}

void iolens__net_free(struct job *j)
{
	struct netjob *n = j->net;

	if (!n)
		return;
	for (unsigned c = 0; n->conns && c < n->nconns; c++)
		if (n->conns[c].fd >= 0)
			close(n->conns[c].fd);
	iolens__pass_free(j->run, n->conns);
	iolens__pass_free(j->run, n->queue);
	iolens__pass_free(j->run, n->ring);
	iolens__pass_free(j->run, n->rbufs);
	iolens__pass_free(j->run, n->accepts);
	iolens__pass_free(j->run, n);
	j->net = NULL;
}
