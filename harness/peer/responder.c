/*
 * The responder: one listener shared by its event loops (see responder_state.h),
 * started and stopped; each loop accepts, waits on its epoll set (or, for a
 * lone echo connection, in recv itself) and hands events to its connections.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "responder_state.h"

/* What an epoll event is, when it is not a connection. */
static char listen_tag, wake_tag;

static void accept_some(struct rloop *l, uint64_t now)
{
	struct iolens__responder *r = l->r;

	for (int i = 0; i < 64; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct rconn *c;
		int one = 1;
		/* Blocking mode, for iolens__rc_solo_echo; every other call passes MSG_DONTWAIT. */
		int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: step back a moment, do not spin. */
				epoll_ctl(l->ep, EPOLL_CTL_DEL, r->lfd, NULL);
				l->accept_resume = now + 50000000u;
			}
			return; /* EAGAIN, or a connection that failed before accept */
		}
		if (r->addr.transport != IOLENS_TR_UNIX)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->state = RC_HELLO;
		c->events = EPOLLIN;
		c->heap_idx = UINT32_MAX;
		ev.data.ptr = c;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			return;
		}
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		atomic_fetch_add_explicit(&r->open, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->accepted, 1, memory_order_relaxed);
	}
}

static int listen_register(struct rloop *l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, l->r->lfd, &ev) ? -errno : 0;
}

static void *rloop_main(void *arg)
{
	struct rloop *l = arg;
	struct iolens__responder *r = l->r;
	struct epoll_event evs[MAX_EVENTS];

	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		int timeout = -1, n;
		struct rconn *solo = iolens__rc_solo(l);

		if (solo && now - l->polled < SOLO_WAIT_NS) {
			if (!iolens__rc_solo_echo(l, solo))
				l->polled = 0; /* nothing came: look at the epoll set now */
			continue;
		}
		l->polled = now;
		if (solo)
			next = now; /* look, do not sleep: the lone connection waits in recv */
		if (l->nheap)
			next = iolens__rc_heap_key(l->heap[0]);
		if (l->accept_resume && l->accept_resume < next)
			next = l->accept_resume;
		if (next != UINT64_MAX)
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &wake_tag)
				continue;
			if (p == &listen_tag)
				accept_some(l, now);
			else
				iolens__rc_event(l, p, evs[i].events);
		}
		while (l->nheap && iolens__rc_heap_key(l->heap[0]) <= now)
			iolens__rc_release(l, l->heap[0], now);
		if (l->accept_resume && l->accept_resume <= now && !listen_register(l))
			l->accept_resume = 0;
	}
	return NULL;
}

static int listen_socket(struct iolens__responder *r, const struct iolens__responder_opts *o,
			 char *err, size_t errlen)
{
	char where[128];
	int one = 1, fd;
	int family = r->addr.ss.ss_family;

	iolens__addr_format(&r->addr, where, sizeof(where));
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return iolens__peer_fail(err, errlen, -errno, "cannot listen on %s: %s", where,
					 strerror(errno));
	if (family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (family == AF_UNIX) {
		/* The caller names the option (iolens responder --listen). */
		int e = iolens__unix_claim(((const struct sockaddr_un *)&r->addr.ss)->sun_path, 1,
					   NULL, err, errlen);

		if (e) {
			close(fd);
			return e;
		}
	}
	if (bind(fd, (struct sockaddr *)&r->addr.ss, r->addr.len)) {
		int e = errno;

		close(fd);
		if (e == EADDRINUSE)
			return iolens__peer_fail(err, errlen, -e, "%s is already in use", where);
		return iolens__peer_fail(err, errlen, -e, "cannot listen on %s: %s", where, strerror(e));
	}
	if (listen(fd, o->backlog ? (int)o->backlog : SOMAXCONN)) {
		int e = errno;

		if (family == AF_UNIX) {
			iolens__unix_bound(((const struct sockaddr_un *)&r->addr.ss)->sun_path, &r->bound);
			iolens__unix_cleanup(&r->addr, &r->bound);
		}
		close(fd);
		return iolens__peer_fail(err, errlen, -e, "cannot listen on %s: %s", where, strerror(e));
	}
	if (family == AF_UNIX)
		iolens__unix_bound(((const struct sockaddr_un *)&r->addr.ss)->sun_path, &r->bound);
	if (family != AF_UNIX) {
		r->addr.len = sizeof(r->addr.ss);
		getsockname(fd, (struct sockaddr *)&r->addr.ss, &r->addr.len);
	}
	r->lfd = fd;
	return 0;
}

int iolens__responder_start(struct iolens__responder **out,
			    const struct iolens__responder_opts *o, char *err, size_t errlen)
{
	struct iolens__responder *r;
	struct epoll_event wake = { .events = EPOLLIN, .data.ptr = &wake_tag };
	int e;

	*out = NULL;
	if (o->transport < 0 || o->transport >= IOLENS_TR__COUNT)
		return iolens__peer_fail(err, errlen, -EINVAL, "unknown transport %d", o->transport);
	if (!iolens__pattern())
		return iolens__peer_fail(err, errlen, -ENOMEM, "out of memory for the pattern");
	r = calloc(1, sizeof(*r));
	if (!r)
		return iolens__peer_fail(err, errlen, -ENOMEM, "out of memory");
	r->lfd = r->wfd = -1;
	r->delay_ns = o->delay_ns;
	r->nloops = o->threads ? o->threads : 1;
	if (o->listen) {
		r->addr = *o->listen;
		r->addr.transport = o->transport;
	} else if ((e = iolens__addr_loopback(o->transport, &r->addr))) {
		free(r);
		return iolens__peer_fail(err, errlen, e, "cannot make a loopback address: %s", strerror(-e));
	}
	iolens__raise_nofile();
	e = listen_socket(r, o, err, errlen);
	if (e) {
		if (!o->listen && o->transport == IOLENS_TR_UNIX)
			iolens__loopback_rmdir(((const struct sockaddr_un *)&r->addr.ss)->sun_path);
		free(r);
		return e;
	}
	r->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->loops = calloc(r->nloops, sizeof(*r->loops));
	for (unsigned i = 0; r->loops && i < r->nloops; i++)
		r->loops[i].ep = -1;
	if (r->wfd < 0 || !r->loops) {
		e = iolens__peer_fail(err, errlen, r->wfd < 0 ? -errno : -ENOMEM, "responder: %s",
				      strerror(r->wfd < 0 ? errno : ENOMEM));
		goto fail;
	}
	for (unsigned i = 0; i < r->nloops; i++) {
		struct rloop *l = &r->loops[i];

		l->r = r;
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->scratch = malloc(SCRATCH_SIZE);
		if (l->ep < 0 || !l->scratch) {
			e = iolens__peer_fail(err, errlen, l->ep < 0 ? -errno : -ENOMEM, "responder: %s",
					      strerror(l->ep < 0 ? errno : ENOMEM));
			goto fail;
		}
		e = epoll_ctl(l->ep, EPOLL_CTL_ADD, r->wfd, &wake) ? -errno : listen_register(l);
		if (e) {
			e = iolens__peer_fail(err, errlen, e, "responder: epoll: %s", strerror(-e));
			goto fail;
		}
	}
	for (unsigned i = 0; i < r->nloops; i++) {
		e = iolens__peer_spawn(&r->loops[i].th, rloop_main, &r->loops[i], o->cpu, &r->loops[i].started);
		if (e) {
			e = iolens__peer_fail(err, errlen, e, "responder: thread %u on cpu %d: %s", i, o->cpu,
					      strerror(-e));
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	iolens__responder_stop(r);
	return e;
}

const struct iolens__addr *iolens__responder_addr(const struct iolens__responder *r)
{
	return &r->addr;
}

void iolens__responder_counts(const struct iolens__responder *r, uint64_t *open, uint64_t *accepted)
{
	if (open)
		*open = atomic_load_explicit(&r->open, memory_order_relaxed);
	if (accepted)
		*accepted = atomic_load_explicit(&r->accepted, memory_order_relaxed);
}

void iolens__responder_stop(struct iolens__responder *r)
{
	uint64_t one = 1;

	if (!r)
		return;
	atomic_store_explicit(&r->stop, 1, memory_order_release);
	if (r->wfd >= 0 && write(r->wfd, &one, sizeof(one)) < 0) {
		/* an eventfd write of 1 cannot fail short of overflow */
	}
	for (unsigned i = 0; r->loops && i < r->nloops; i++) {
		struct rloop *l = &r->loops[i];

		struct rconn *c, *next;

		if (l->started)
			pthread_join(l->th, NULL);
		for (c = l->conns; c; c = next) {
			next = c->next;
			iolens__rc_close(l, c);
		}
		if (l->ep >= 0)
			close(l->ep);
		free(l->heap);
		free(l->scratch);
	}
	free(r->loops);
	if (r->lfd >= 0) {
		close(r->lfd);
		if (r->addr.transport == IOLENS_TR_UNIX)
			iolens__unix_cleanup(&r->addr, &r->bound);
	}
	if (r->wfd >= 0)
		close(r->wfd);
	free(r);
}

/* ---- the public face (iolens/responder.h) ---- */

struct iolens_responder {
	struct iolens__responder *r;
};

void iolens_responder_opts_init(struct iolens_responder_opts *o)
{
	*o = (struct iolens_responder_opts){ .transport = IOLENS_TRANSPORT_TCP, .threads = 1,
					     .cpu = -1 };
}

int iolens_responder_start(struct iolens_responder **out, const struct iolens_responder_opts *o,
			   char *err, size_t errlen)
{
	struct iolens__responder_opts ro;
	struct iolens__addr addr;
	char why[256];
	int e;

	if (!out || !o)
		return iolens__peer_fail(err, errlen, -EINVAL, "responder: no %s given",
					 out ? "options" : "place for the responder");
	*out = NULL;
	if (o->transport < 0 || o->transport >= IOLENS_TR__COUNT)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "--transport: %d is not a transport (accepts tcp, tcp6 or unix)",
					 o->transport);
	if (o->threads > 256)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "--threads: %u is out of range (accepts 1 to 256)", o->threads);
	if (o->cpu < -1 || o->cpu >= CPU_SETSIZE)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "--cpu: %d is out of range (accepts -1 to %d)", o->cpu,
					 CPU_SETSIZE - 1);
	ro = (struct iolens__responder_opts){ .transport = o->transport, .delay_ns = o->delay_ns,
					     .threads = o->threads ? o->threads : 1, .cpu = o->cpu,
					     .backlog = o->backlog };
	if (o->listen) {
		e = iolens__addr_parse(o->listen, o->transport, "--listen", 1, &addr, err, errlen);
		if (e)
			return e;
		ro.listen = &addr;
	}
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return iolens__peer_fail(err, errlen, -ENOMEM, "responder: out of memory");
	e = iolens__responder_start(&(*out)->r, &ro, why, sizeof(why));
	if (e) {
		free(*out);
		*out = NULL;
		return iolens__peer_fail(err, errlen, e, "--listen: %s", why);
	}
	return 0;
}

void iolens_responder_address(const struct iolens_responder *r, char *buf, size_t len)
{
	iolens__addr_format(iolens__responder_addr(r->r), buf, len);
}

void iolens_responder_counts(const struct iolens_responder *r, uint64_t *open, uint64_t *accepted)
{
	iolens__responder_counts(r->r, open, accepted);
}

void iolens_responder_stop(struct iolens_responder *r)
{
	if (!r)
		return;
	iolens__responder_stop(r->r);
	free(r);
}
