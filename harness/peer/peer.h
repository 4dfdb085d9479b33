/*
 * The harness's socket peers, plain epoll code on their own threads:
 *  - the responder: echoes requests (optionally after a delay, kept by a
 *    timer queue, never by a sleep per connection), or is a stream sink
 *    (checks and counts, or only counts when the hello asks) or source
 *    (sends the pattern);
 *  - the load generator: drives a server under test with C connections,
 *    each keeping `depth` requests outstanding, checks every echoed byte
 *    and records each request's round trip.
 * Both create their threads when made, before any syscall counter opens,
 * so their calls are never counted as the backend's.
 *
 * Wire protocol towards the responder: a client's first 32 bytes are a
 * struct iolens__hello (little-endian). Every stream, both ways, carries
 * the shared pattern from the connection's start offset, so any byte can be
 * checked with a memcmp against iolens__pattern().
 */
#ifndef IOLENS_PEER_H
#define IOLENS_PEER_H

#include <stdint.h>
#include <sys/socket.h>

#include "iolens/iolens.h"

enum iolens__transport { IOLENS_TR_TCP = 0, IOLENS_TR_TCP6, IOLENS_TR_UNIX, IOLENS_TR__COUNT };


struct iolens__addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int transport;
};

/*
 * Parse an address for `transport`: "HOST:PORT" for tcp (numeric or a
 * name), "[V6]:PORT" or "V6:PORT"-free forms for tcp6, a filesystem path
 * for unix. Port 0 is allowed only when `listening`. 0, or -EINVAL with a
 * one-line message naming `opt` and what it accepts in err.
 */
int iolens__addr_parse(const char *s, int transport, const char *opt, int listening,
		       struct iolens__addr *out, char *err, size_t errlen);
void iolens__addr_format(const struct iolens__addr *a, char *buf, size_t len);
/*
 * The loopback address of a transport with port 0 (unix: a fresh path in a
 * directory of its own in $TMPDIR, or in /tmp when $TMPDIR is unset or too
 * long for the 108-byte sun_path).
 */
int iolens__addr_loopback(int transport, struct iolens__addr *out);
/* Remove a loopback unix socket and its directory, made by another process's iolens__addr_loopback. */
void iolens__addr_loopback_cleanup(const struct iolens__addr *a);
/* 1 when "$tmp/" plus `tail` bytes (with its NUL) fits a sun_path; 0 for an unset or empty tmp. */
int iolens__tmpdir_fits(const char *tmp, size_t tail);

/*
 * Unix socket paths. iolens binds a path only where nothing is, or where a
 * socket nobody listens on is left (stale: removed first when remove_stale),
 * and removes afterwards only the socket it bound. 0, or with a message
 * naming `opt` in err: -EADDRINUSE a process listens there; -EEXIST it is
 * not a socket (a file, directory, FIFO, device, symlink: never touched) or
 * a socket connect cannot judge; another -errno from lstat or unlink.
 */
int iolens__unix_claim(const char *path, int remove_stale, const char *opt, char *err,
		       size_t errlen);
struct iolens__unix_id {
	int set;
	uint64_t dev, ino;
};
/* What bind just made at path (set = 0 if it is not a socket there). */
void iolens__unix_bound(const char *path, struct iolens__unix_id *id);
/* Unlink path if it is still that socket; 1 if removed. */
int iolens__unix_release(const char *path, const struct iolens__unix_id *id);

/* Raise RLIMIT_NOFILE as far as allowed; returns the soft limit now in effect. */
uint64_t iolens__raise_nofile(void);

/* ---- the pattern every stream carries ---- */
#define IOLENS_PATTERN_PERIOD 1048573u /* prime: a shifted stream never lines up */
#define IOLENS_MSG_MAX (4u << 20)      /* largest --msg */
/* PERIOD + MSG_MAX bytes; the byte at stream offset o is pattern[o % PERIOD]. */
const unsigned char *iolens__pattern(void);
/* Where connection number i's stream starts. */
uint64_t iolens__stream_start(uint64_t i);

/* ---- the hello ---- */
#define IOLENS_HELLO_MAGIC 0x316f6c6c65686c69ULL /* "ilhello1" little-endian */
enum { IOLENS_PEER_ECHO = 1, IOLENS_PEER_SINK = 2, IOLENS_PEER_SOURCE = 3 };
/*
 * The sink's flags share the echo delay's field: every client before them
 * sent 0 there for a sink (a delay is refused for anything but echo), and a
 * responder before them ignores the field for a sink, so it checks every
 * byte and its trailer says so.
 */
#define IOLENS_SINK_NOCHECK 1u /* count the bytes, do not compare them */
struct iolens__hello {
	uint64_t magic;
	uint32_t mode;     /* IOLENS_PEER_* */
	uint32_t msg;      /* echo: request size in bytes (1..IOLENS_MSG_MAX) */
	union {
		uint64_t delay_ns; /* echo: answer this long after a request's last byte; 0 = responder's own */
		uint64_t flags;    /* sink: IOLENS_SINK_*; 0 = check every byte */
	};
	uint64_t start;    /* stream start offset, both directions */
};
_Static_assert(sizeof(struct iolens__hello) == 32, "hello is 32 bytes on the wire");
/*
 * Sink: once the client shuts down its write side, the responder sends this
 * (little-endian) and closes. bytes counts what followed the hello;
 * bad_offset is the first mismatching byte's index among them (0 = the
 * first byte after the hello), UINT64_MAX when every byte matched, or
 * IOLENS_TRAILER_UNCHECKED when the hello asked for IOLENS_SINK_NOCHECK.
 */
#define IOLENS_TRAILER_UNCHECKED (UINT64_MAX - 1)
struct iolens__trailer {
	uint64_t bytes;
	uint64_t bad_offset;
};

/* ---- responder ---- */
struct iolens__responder_opts {
	int transport;
	const struct iolens__addr *listen; /* NULL: loopback, port chosen by the kernel */
	uint64_t delay_ns;                 /* echo delay (a hello may override) */
	unsigned threads;                  /* event loops, 0 = 1 */
	int cpu;                           /* pin the threads to this CPU, -1 = do not */
	unsigned backlog;                  /* 0 = SOMAXCONN */
};
struct iolens__responder;

/*
 * Bind, listen and start the threads. 0, or -errno with a one-line message
 * (address in use, port out of range, permission) in err.
 */
int iolens__responder_start(struct iolens__responder **out,
			    const struct iolens__responder_opts *o, char *err, size_t errlen);
/* Where it listens (port filled in). */
const struct iolens__addr *iolens__responder_addr(const struct iolens__responder *r);
/* Connections open now, and accepted so far. */
void iolens__responder_counts(const struct iolens__responder *r, uint64_t *open, uint64_t *accepted);
/*
 * Close every connection and the listener, join the threads. A unix path is
 * removed, with its directory when iolens__addr_loopback made it.
 */
void iolens__responder_stop(struct iolens__responder *r);

/* ---- load generator ---- */
struct iolens__loadgen;

/* Make the generator with its threads idle (before counters open). 0 or -errno. */
int iolens__loadgen_create(struct iolens__loadgen **out, unsigned threads, int cpu);

struct iolens__loadgen_opts {
	struct iolens__addr addr; /* the server under test */
	unsigned conns;
	uint32_t msg;             /* request size */
	unsigned depth;           /* outstanding requests per connection */
};

/*
 * Start connecting and, as each connection is up, sending: returns at once
 * (the server under test is accepting meanwhile). Connection i's stream
 * starts at iolens__stream_start(i). 0 or -errno with a message.
 */
int iolens__loadgen_start(struct iolens__loadgen *lg, const struct iolens__loadgen_opts *o,
			  char *err, size_t errlen);
/* Record round trips completed from now on (1) or stop recording (0). */
void iolens__loadgen_measure(struct iolens__loadgen *lg, int on);

/*
 * What a run of the generator measured, in struct iolens_loadgen_figures
 * (iolens/workload.h), the public form serve's caller-given generators
 * fill too. Its err is the first error (negative errno), 0 if none:
 * -EILSEQ a byte came back wrong, -EPIPE the server closed a connection,
 * -EPROTO it sent more than asked, else the socket's own (-ECONNREFUSED,
 * -ECONNRESET, ...); hist is owned by the caller after finish.
 * Stop sending, close every connection, and hand over the figures.
 */
int iolens__loadgen_finish(struct iolens__loadgen *lg, struct iolens_loadgen_figures *res);
void iolens__loadgen_destroy(struct iolens__loadgen *lg);

#endif
