/*
 * io_uring:send-zc: SEND ops go out as IORING_OP_SEND_ZC (6.0) with
 * IORING_SEND_ZC_REPORT_USAGE (6.2); init refuses the option, with the
 * reason, on a kernel without either.
 *
 * The kernel pins the op's pages and hands them to the socket instead of
 * copying them, so the buffer is the kernel's until the request's second
 * CQE, the notification (IORING_CQE_F_NOTIF), says nothing refers to it
 * any more; for TCP that is when the peer has acknowledged the data. The
 * first CQE, the send's result, carries IORING_CQE_F_MORE when a
 * notification follows. The op completes, with that result, only once
 * both are in: reap never hands back a buffer the kernel may still read.
 * zc_sends counts notifications, zc_copied those whose res says
 * IORING_NOTIF_USAGE_ZC_COPIED: the kernel copied after all, as it does
 * for every skb delivered to a local socket (loopback, veth).
 *
 * Only TCP and UDP sockets can send zero-copy (the kernel answers
 * -EOPNOTSUPP for the rest). A socket's first SEND asks which it is, two
 * getsockopt calls once per descriptor (until forget); a SEND on any other
 * socket goes out as a plain send, flagged and counted as a fallback.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "uring_state.h"

enum { ZCFD_UNKNOWN, ZCFD_YES, ZCFD_NO };

/* One SEND_ZC the kernel can only fail: its result, once its CQEs are in (0 on no answer). */
static int probe_send(struct uring_state *s)
{
	static char byte;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
	struct __kernel_timespec ts = { .tv_sec = 1 };
	int res = 0, more = 1;

	if (!sqe)
		return 0;
	io_uring_prep_send_zc(sqe, -1, &byte, 1, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
	io_uring_sqe_set_data64(sqe, udata(0, TAG_CANCEL));
	if (io_uring_submit(&s->ring) != 1)
		return 0;
	/* Every request ends with one CQE without F_MORE: the notification, if there is one. */
	while (more) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return res;
		if (!(cqe->flags & IORING_CQE_F_NOTIF))
			res = cqe->res;
		more = !!(cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(&s->ring, cqe);
	}
	return res;
}

/*
 * The kernel has IORING_OP_SEND_ZC (the opcode probe) and knows the usage
 * report: a send on no descriptor fails with -EBADF when it issues, but an
 * unknown zc flag fails its preparation first, with -EINVAL.
 */
int iolens__uring_zc_probe(struct iolens_ctx *ctx, struct uring_state *s)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&s->ring);
	int has = p && io_uring_opcode_supported(p, IORING_OP_SEND_ZC);

	if (p)
		io_uring_free_probe(p);
	if (!has) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "not supported: send-zc needs Linux 6.0 (IORING_OP_SEND_ZC)");
		return -EOPNOTSUPP;
	}
	if (probe_send(s) == -EINVAL) {
		snprintf(ctx->stats.setup, sizeof(ctx->stats.setup),
			 "not supported: send-zc needs Linux 6.2 to tell copied sends "
			 "(IORING_SEND_ZC_REPORT_USAGE)");
		return -EOPNOTSUPP;
	}
	s->zc = 1;
	return 0;
}

static int sock_can_zc(int fd)
{
	int proto = 0, type = 0;
	socklen_t plen = sizeof(proto), tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen))
		return 0;
	return (proto == IPPROTO_TCP && type == SOCK_STREAM) ||
	       (proto == IPPROTO_UDP && type == SOCK_DGRAM);
}

/* Whether fd's SENDs go zero-copy, asked once; 0 when the table cannot grow. */
static int fd_zc(struct uring_state *s, int fd)
{
	if (fd < 0)
		return 0;
	if ((unsigned)fd >= s->nzcfd) {
		unsigned n = s->nzcfd ? s->nzcfd : 64;
		uint8_t *t;

		while (n <= (unsigned)fd)
			n *= 2;
		t = realloc(s->zcfd, n);
		if (!t)
			return sock_can_zc(fd);
		memset(t + s->nzcfd, ZCFD_UNKNOWN, n - s->nzcfd);
		s->zcfd = t;
		s->nzcfd = n;
	}
	if (s->zcfd[fd] == ZCFD_UNKNOWN)
		s->zcfd[fd] = sock_can_zc(fd) ? ZCFD_YES : ZCFD_NO;
	return s->zcfd[fd] == ZCFD_YES;
}

/* A SEND about to be prepared: zero-copy (OPF_ZC), or a plain send counted as a fallback. */
void iolens__uring_zc_choose(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op)
{
	if (!s->zc || op->kind != IOLENS_OP_SEND)
		return;
	if (fd_zc(s, op->fd)) {
		op->flags |= OPF_ZC;
	} else {
		op->flags |= IOLENS_OPF_FALLBACK;
		ctx->stats.fallbacks++;
	}
}

/*
 * A CQE of a zero-copy send: 1 when it was the op's last (the op is
 * complete), 0 while the other is still to come. A result without F_MORE
 * has no notification after it (the request failed before it had one).
 */
int iolens__uring_zc_cqe(struct iolens_ctx *ctx, struct uring_state *s, struct iolens_op *op,
			 const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		ctx->stats.zc_sends++;
		if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			ctx->stats.zc_copied++;
		if (!(op->flags & OPF_ZC_HALF))
			s->zc_early++;
	} else {
		op->result = cqe->res;
		if (op->flags & OPF_ZC_HALF)
			s->zc_early--;
		else if (!(cqe->flags & IORING_CQE_F_MORE))
			goto done;
	}
	if (!(op->flags & OPF_ZC_HALF)) {
		op->flags |= OPF_ZC_HALF;
		return 0;
	}
done:
	op->flags &= (uint16_t)~(OPF_ZC | OPF_ZC_HALF);
	return 1;
}

/* fd is about to be closed: a socket that later gets its number is asked afresh. */
void iolens__uring_zc_forget(struct uring_state *s, int fd)
{
	if (fd >= 0 && (unsigned)fd < s->nzcfd)
		s->zcfd[fd] = ZCFD_UNKNOWN;
}
