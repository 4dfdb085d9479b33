/*
 * The iolens responder: the socket peer that echo and stream workloads talk
 * to, as a library object. `iolens responder` runs one on a machine for
 * another machine's `iolens run --peer`; a program can run its own the same
 * way. Part of iolens/iolens.h, which includes it.
 *
 * It serves the iolens wire protocol: each connection opens with a 32-byte
 * hello that picks echo (answer every request of `msg` bytes, optionally
 * after a delay), sink (receive and check a stream, then report) or source
 * (send the stream). Its event loops run on threads of their own with every
 * signal blocked; it never prints. start and stop may be called from any
 * thread; one responder is stopped once.
 */
#ifndef IOLENS_RESPONDER_H
#define IOLENS_RESPONDER_H

#include "iolens/iolens.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iolens_responder;

struct iolens_responder_opts {
	int transport;      /* enum iolens_transport */
	const char *listen; /* tcp "HOST:PORT", tcp6 "[ADDR]:PORT", unix a path; port 0 picks a
			     * free one. NULL: loopback, port picked (unix: a fresh path in a
			     * directory of its own under $TMPDIR, removed at stop) */
	uint64_t delay_ns;  /* echo: answer this long after a request's last byte (a client's
			     * hello may ask its own) */
	unsigned threads;   /* event loops, 1 to 256; 0 means 1 */
	int cpu;            /* pin the loops to this CPU, or -1 */
	unsigned backlog;   /* listen backlog; 0 means SOMAXCONN */
};

/* Defaults: tcp, loopback with a picked port, no delay, one loop, not pinned. */
IOLENS_EXPORT void iolens_responder_opts_init(struct iolens_responder_opts *o);

/*
 * Bind, listen and start the loops. 0 with *out set, or a negative errno
 * with *out = NULL and a one-line message in err (errlen bytes):
 *   -EINVAL      a bad option: transport, listen (the message names
 *                --listen and what it accepts), threads, cpu
 *   -EADDRINUSE  something listens there already (tcp, or a live unix socket)
 *   -EEXIST      the unix path is a file, directory or other non-socket: never touched
 *   -EACCES, -EADDRNOTAVAIL, ...  from socket, bind or listen
 *   -ENOMEM      out of memory
 * A unix socket path is bound only where nothing is or a stale socket
 * (nobody listening) was left; stop removes only the socket it bound.
 */
IOLENS_EXPORT int iolens_responder_start(struct iolens_responder **out,
					 const struct iolens_responder_opts *o, char *err,
					 size_t errlen);

/* Where it listens, with the port it got: "127.0.0.1:40123", "[::1]:40123", a path. */
IOLENS_EXPORT void iolens_responder_address(const struct iolens_responder *r, char *buf,
					    size_t len);

/* Connections open now, and accepted since start; either pointer may be NULL. */
IOLENS_EXPORT void iolens_responder_counts(const struct iolens_responder *r, uint64_t *open,
					   uint64_t *accepted);

/* Close every connection and the listener, join the loops, free. NULL is ignored. */
IOLENS_EXPORT void iolens_responder_stop(struct iolens_responder *r);

/*
 * The load generator serve's built-in one is, as an object: connections
 * that keep requests outstanding against an echo server, every echoed byte
 * checked, every round trip recorded while measuring. A program (or another
 * host) drives a serve run with it through struct iolens_loadgen
 * (iolens/workload.h), whose calls these are. Its loops run on threads of
 * their own, made in new, idle until start; it never prints. One thread at
 * a time per generator.
 */
struct iolens_generator;
struct iolens_loadgen_figures; /* iolens/workload.h */

/*
 * threads event loops (0 means 1, at most 256), pinned to cpu or -1. 0 with
 * *out set, or a negative errno with a one-line message in err.
 */
IOLENS_EXPORT int iolens_generator_new(struct iolens_generator **out, unsigned threads, int cpu,
				       char *err, size_t errlen);
/*
 * Connect conns connections to addr (as struct iolens_responder_opts's
 * listen, port not 0), each keeping depth requests of msg bytes
 * outstanding; returns at once. 0, or a negative errno with err set
 * (-EINVAL a bad argument, -EBUSY already started).
 */
IOLENS_EXPORT int iolens_generator_start(struct iolens_generator *g, const char *addr,
					 int transport, unsigned conns, uint32_t msg,
					 unsigned depth, char *err, size_t errlen);
/* Count the round trips completed from now on (1), or stop counting (0). */
IOLENS_EXPORT void iolens_generator_measure(struct iolens_generator *g, int on);
/* Stop, hang up, and fill *out (all zero when it was not started). */
IOLENS_EXPORT void iolens_generator_finish(struct iolens_generator *g,
					   struct iolens_loadgen_figures *out);
/* Stop if running, join the loops, free. NULL is ignored. */
IOLENS_EXPORT void iolens_generator_free(struct iolens_generator *g);

#ifdef __cplusplus
}
#endif

#endif
