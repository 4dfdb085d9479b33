/*
 * iolens — one workload, many Linux I/O interfaces, measured.
 *
 * This header is the whole public surface of libiolens. It has two levels:
 *
 *  1. Drive a backend directly: open a context on a named backend, submit
 *     operations on your own descriptors and buffers, reap their completions,
 *     read the backend's counters (iolens_ctx_*).
 *  2. Run a described workload on a backend and get a result
 *     (iolens_workload_*, iolens_run, iolens_result_*).
 *
 * Conventions:
 *  - Every function that can fail returns a negative errno value (-EINVAL,
 *    -ENOMEM, ...) and never sets errno for the caller to read. 0 or a
 *    non-negative count means success. iolens_strerror() turns either kind
 *    of code into text. Pointers the caller passes must be valid unless a
 *    function says NULL is accepted.
 *  - The library never prints, exits, aborts or installs signal handlers.
 *  - No liburing or libaio header is needed: those are private to the
 *    library (iolens.pc lists them as private requirements for static links).
 *
 * Thread safety, object by object:
 *  - struct iolens_ctx: used only by the thread that opened it, from open to
 *    close (io_uring ties its ring to that thread: SINGLE_ISSUER,
 *    DEFER_TASKRUN, the registered ring descriptor). Different contexts may
 *    be used from different threads at the same time.
 *  - struct iolens_backend_info: static and immutable; any thread.
 *  - struct iolens_workload: the caller's; only read by the library, never
 *    kept after the call returns (its `stop` flag is read while it runs).
 *  - struct iolens_target: one run at a time; any thread.
 *  - iolens_run(), iolens_run_many(): one at a time per process, because a
 *    run measures the process (CPU time, context switches, syscall counters
 *    inherited by the threads it starts). A call made while another runs
 *    returns -EBUSY. Other threads of the program may keep running; their
 *    CPU time is counted in the result's cpu_* figures, their syscalls are not.
 *  - struct iolens_result: immutable once returned; any number of threads
 *    may read it at once. Free it once.
 *  - struct iolens_hist: not locked; one thread at a time per histogram.
 *  - iolens_version(), iolens_strerror(), iolens_backends(),
 *    iolens_backend_find(), iolens_workload_name(), iolens_workload_parse(),
 *    iolens_syscall_name(): any thread, any time.
 *
 * Symbols: only the functions declared here are exported from the shared
 * library (soname libiolens.so.IOLENS_VERSION_MAJOR); everything else is
 * hidden.
 */
#ifndef IOLENS_IOLENS_H
#define IOLENS_IOLENS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOLENS_VERSION_MAJOR 0
#define IOLENS_VERSION_MINOR 6
#define IOLENS_VERSION_PATCH 0
#define IOLENS_VERSION_STRING "0.6.0"
/*
 * Bumped whenever a public struct layout or a function signature changes;
 * compare it with iolens_abi_version() to catch a header/library mismatch.
 */
#define IOLENS_ABI_VERSION 13

#if defined(IOLENS_BUILDING) && defined(__GNUC__)
#define IOLENS_EXPORT __attribute__((visibility("default")))
#else
#define IOLENS_EXPORT
#endif

/* Version of the library linked in, "MAJOR.MINOR.PATCH". Never NULL. */
IOLENS_EXPORT const char *iolens_version(void);

/* IOLENS_ABI_VERSION of the library linked in (the header's may differ). */
IOLENS_EXPORT int iolens_abi_version(void);

/* What this machine lets iolens measure (what `iolens doctor` reports). */
struct iolens_machine {
	char tracefs[128];  /* where syscall tracepoint ids are read, "" when tracefs is not
			     * mounted or not readable by this user */
	int can_count;      /* 1: syscalls are counted by the kernel (results carry them) */
	char why_not[192];  /* can_count 0: why, one line; "" otherwise */
};

/*
 * Probe this machine: opens and closes one syscall counter to see whether
 * counting works. 0 with *m filled, or -EINVAL when m is NULL. Any thread,
 * but not while a run is counting (it competes for nothing, yet reads as
 * that run's syscalls).
 */
IOLENS_EXPORT int iolens_machine_probe(struct iolens_machine *m);

/*
 * Text for an iolens return code: a negative errno (or a positive one) gives
 * the C library's strerror text. Never NULL; the string is static.
 */
IOLENS_EXPORT const char *iolens_strerror(int err);

/* ---------------------------------------------------------------------------
 * Operations
 */

/*
 * Socket operations ignore offset. The caller creates the sockets, with
 * O_NONBLOCK when the backend has IOLENS_CAP_NONBLOCK_FD. Their results:
 *  - SEND: bytes sent, 1..len (a partial send is a result, not an error;
 *    MSG_NOSIGNAL: a gone peer is -EPIPE, never SIGPIPE), or -errno.
 *  - RECV: bytes received, 1..len; 0 when the peer shut down; or -errno
 *    (-ECONNRESET for a reset).
 *  - ACCEPT: the new connection's fd (close-on-exec, and O_NONBLOCK for a
 *    NONBLOCK_FD backend), or -errno. The caller owns and closes it.
 *  - CONNECT: buf = struct sockaddr, len = its length; 0 or -errno
 *    (-ECONNREFUSED).
 * -EAGAIN and -EINPROGRESS are never results: a backend that meets them
 * waits for readiness and completes the operation later.
 */
enum iolens_op_kind {
	IOLENS_OP_READ = 0, /* pread-like: len bytes at offset into buf */
	IOLENS_OP_WRITE,    /* pwrite-like: len bytes from buf at offset */
	IOLENS_OP_FSYNC,    /* fsync(fd); buf, len and offset unused */
	IOLENS_OP_SEND,     /* send on a connected socket */
	IOLENS_OP_RECV,     /* recv on a connected socket */
	IOLENS_OP_ACCEPT,   /* accept on a listening socket; result = new fd */
	IOLENS_OP_CONNECT,  /* connect; buf = sockaddr, len = its length */
	IOLENS_OP__COUNT
};

/* Set by the backend on a completed operation (iolens_op.flags). */
#define IOLENS_OPF_INLINE 0x1u   /* completed inside the submit call */
#define IOLENS_OPF_FALLBACK 0x2u /* readiness API refused the fd: plain call */
#define IOLENS_OPF_WOULDBLOCK 0x4u /* RWF_NOWAIT said it would block first */

/*
 * One I/O operation. The caller fills kind, fd, buf, len, offset (and
 * buf_index when the backend was given registered buffers, else -1) and
 * keeps the struct alive and unmoved until it is reaped. The backend sets
 * result and flags. user_data and t_submit are the caller's: backends never
 * touch them.
 */
struct iolens_op {
	uint16_t kind;     /* enum iolens_op_kind */
	uint16_t flags;    /* IOLENS_OPF_*, set by the backend */
	int32_t fd;
	uint32_t len;
	int32_t buf_index; /* index into iolens_backend_opts.bufs, or -1 */
	uint64_t offset;
	void *buf;
	int64_t result;    /* bytes transferred (or new fd), or -errno */
	uint64_t t_submit; /* caller's timestamp, ns */
	void *user_data;
};

/* ---------------------------------------------------------------------------
 * Backends
 */

/* Capability bits (iolens_backend_info.caps). */
#define IOLENS_CAP_OP(kind) (1u << (kind)) /* supports that operation kind */
#define IOLENS_CAP_THREAD_PER_OP (1u << 16) /* depth D means D threads of depth 1 */
#define IOLENS_CAP_NONBLOCK_FD (1u << 17)   /* wants descriptors opened O_NONBLOCK */
#define IOLENS_CAP_ASYNC_NEEDS_DIRECT (1u << 18) /* async only with O_DIRECT */

/* Backend options (iolens_backend_opts.flags, iolens_backend_info.options). */
#define IOLENS_BOPT_SQPOLL (1u << 0)      /* io_uring: kernel submission thread */
#define IOLENS_BOPT_FIXED_FILES (1u << 1) /* io_uring: register opts.files and sockets */
#define IOLENS_BOPT_FIXED_BUFS (1u << 2)  /* io_uring: register opts.bufs */
#define IOLENS_BOPT_NOWAIT (1u << 3)      /* poll: try preadv2(RWF_NOWAIT) first */
#define IOLENS_BOPT_THREADS (1u << 4)     /* posix-aio, threadpool: opts.aio_threads is set */
#define IOLENS_BOPT_EDGE (1u << 5)        /* epoll: edge-triggered registration */
#define IOLENS_BOPT_MS_ACCEPT (1u << 6)   /* io_uring: one multishot accept per listener */
#define IOLENS_BOPT_MS_RECV (1u << 7)     /* io_uring: multishot recv, provided-buffer ring */
#define IOLENS_BOPT_SQPOLL_CPU (1u << 8)  /* io_uring: SQPOLL thread on opts.sqpoll_cpu (needs SQPOLL) */
#define IOLENS_BOPT_CQ_SPIN (1u << 9)     /* io_uring: reap by polling the CQ, never entering (needs SQPOLL) */
#define IOLENS_BOPT_ONESHOT (1u << 10)    /* epoll: EPOLLONESHOT, re-armed for every wait */
#define IOLENS_BOPT_SEND_ZC (1u << 11)    /* io_uring: zero-copy send (IORING_OP_SEND_ZC) */
#define IOLENS_BOPT_IOPOLL (1u << 12)     /* io_uring: polled completions (O_DIRECT, poll queues) */
#define IOLENS_BOPT_UCONTEXT (1u << 13)   /* coro, coro-epoll: switch with glibc swapcontext */
#define IOLENS_BOPT_BARE (1u << 14)       /* coro, coro-epoll: the same loop, callbacks, no coroutines */
#define IOLENS_BOPT_PROCS (1u << 15)      /* blocking: depth D = D processes, not threads */

/*
 * The I/O models, declared by each backend and measured by a run (the
 * result's model.measured). Two axes decide them (docs/model.md, "The
 * measured model", defines each from the evidence a run measures):
 *  - who moved the data: the submitting thread, inside a call of its own
 *    that returned the op's result (sync), or the kernel or another thread,
 *    collected later (async);
 *  - where the submitting thread waited: asleep inside a data call
 *    (blocking), only in a readiness or completion wait, with data calls
 *    made so they could not sleep (non-blocking), or nowhere: the data was
 *    ready (no wait needed).
 * An async model names who completed the op; its wait is in model.wait.
 * "no I/O" is the null backend's.
 */
#define IOLENS_MODEL_SYNC_BLOCKING "sync blocking"
#define IOLENS_MODEL_SYNC_READINESS "sync non-blocking (readiness)"
#define IOLENS_MODEL_SYNC_NO_WAIT "sync, no wait needed"
#define IOLENS_MODEL_ASYNC_KERNEL "async (kernel completion)"
#define IOLENS_MODEL_ASYNC_THREADS "async (emulated with threads)"
#define IOLENS_MODEL_NO_IO "no I/O"

struct iolens_backend_info {
	const char *name;    /* e.g. "io_uring" */
	const char *model;   /* declared model: one of IOLENS_MODEL_* */
	const char *summary; /* one line: what the backend does */
	int available;       /* 1 if it can run on this build and kernel */
	const char *reason;  /* why not, when available == 0; else NULL */
	uint32_t caps;       /* IOLENS_CAP_* */
	uint32_t options;    /* IOLENS_BOPT_* it accepts */
};

/*
 * The backends this library knows, available or not, in a fixed order.
 * Stores a pointer to a static array in *out and returns its length (never
 * fails). An unavailable backend says why in `reason`: left out of the
 * build (and how to get it), or what the kernel answered when probed. The first call probes the kernel
 * (io_uring_setup, io_setup); later calls return the cached answer.
 */
IOLENS_EXPORT size_t iolens_backends(const struct iolens_backend_info **out);

/* The info of backend `name` (available or not), or NULL if no backend has that name or name is NULL. */
IOLENS_EXPORT const struct iolens_backend_info *iolens_backend_find(const char *name);

struct iolens_backend_opts {
	unsigned depth;            /* most operations in flight, >= 1 */
	uint32_t flags;            /* IOLENS_BOPT_* */
	unsigned aio_threads;      /* posix-aio: aio_init() thread count, 0 = default; */
				   /* threadpool: pool size (with THREADS, >= 1) */
	unsigned sqpoll_idle_ms;   /* io_uring SQPOLL idle time, 0 = default */
	const int *files;          /* IOLENS_BOPT_FIXED_FILES: descriptors to register, */
	unsigned nfiles;           /* or NULL and 0: sockets only, each on its first op; */
				   /* IOLENS_BOPT_IOPOLL: the disk files, checked at open */
	const struct iovec *bufs;  /* IOLENS_BOPT_FIXED_BUFS: buffers to register */
	unsigned nbufs;
	unsigned sqpoll_cpu;       /* IOLENS_BOPT_SQPOLL_CPU: CPU of the SQPOLL thread */
};

/* Counters a backend keeps; read them with iolens_ctx_stats(). */
struct iolens_backend_stats {
	uint64_t submit_calls;     /* calls of submit */
	uint64_t reap_calls;       /* calls of reap */
	uint64_t submitted;        /* operations accepted */
	uint64_t completed;        /* operations returned by reap */
	uint64_t completed_inline; /* of those, completed inside submit */
	uint64_t fallbacks;        /* done by a plain call: readiness API refused the fd */
	uint64_t ready_at_once;    /* readiness checks that found work without waiting */
	uint64_t waits;            /* readiness/completion waits that had to sleep */
	uint64_t nowait_tries;     /* data calls made so they cannot sleep: RWF_NOWAIT, */
				   /* an O_NONBLOCK socket, MSG_DONTWAIT */
	uint64_t nowait_eagain;    /* of those, EAGAIN: would have blocked */
	uint64_t user_switches;    /* coro*: user-space context switches (in and out count one each) */
	uint64_t switch_probe_n;   /* coro*: switches timed at init, and the time they took, */
	uint64_t switch_probe_ns;  /* so one switch costs switch_probe_ns / switch_probe_n */
	uint64_t zc_sends;         /* io_uring send-zc: sends whose notification arrived */
	uint64_t zc_copied;        /* of those, the kernel copied the data after all */
	char setup[128];           /* what was in effect, e.g. io_uring setup flags */
};

struct iolens_ctx;

/*
 * Open a context on backend `name` with `opts` (NULL: depth 1, no options).
 * Returns 0 and stores the context in *out, or (with *out = NULL):
 *   -EINVAL      out or name is NULL
 *   -ENOENT      no backend has that name
 *   -ENOSYS      the backend is not built in or the kernel lacks it
 *   -EOPNOTSUPP  the kernel lacks what an option needs (io_uring ms-accept,
 *                ms-recv, send-zc), or the files cannot do it (io_uring
 *                iopoll: a file without O_DIRECT, or on a device without
 *                poll queues)
 *   -EINVAL      bad opts (depth 0, an option the backend does not accept,
 *                files without nfiles or the reverse, FIXED_BUFS without bufs,
 *                SQPOLL_CPU without SQPOLL or on a CPU this system lacks,
 *                CQ_SPIN without SQPOLL, IOPOLL without files or with
 *                SEND_ZC, MS_ACCEPT or MS_RECV)
 *   -ENOMEM      out of memory
 *   other        the errno of the kernel call that set the backend up
 * When the backend says why it refused (io_uring:iopoll on a device without
 * poll queues), iolens_ctx_open_reason() returns that sentence.
 */
IOLENS_EXPORT int iolens_ctx_open(struct iolens_ctx **out, const char *name,
				  const struct iolens_backend_opts *opts);

/*
 * Why the last iolens_ctx_open of the calling thread failed, in the
 * backend's words (e.g. "iopoll needs O_DIRECT: run with --direct"), or ""
 * when it succeeded or the backend gave only the errno. Never NULL; valid
 * until that thread's next iolens_ctx_open.
 */
IOLENS_EXPORT const char *iolens_ctx_open_reason(void);

/*
 * Hand n operations to the backend. Returns how many of them, from the
 * front, were accepted (0..n); busy is not an error, resubmit the rest after
 * reaping. A synchronous backend performs them before it returns; an
 * asynchronous one may hold them until the next iolens_ctx_reap, which
 * hands them to the kernel with its wait (io_uring does so with socket
 * operations: one system call for both), so reap, even with min 0, is what
 * makes progress. Returns
 * -EOPNOTSUPP if an op kind is not supported (no op of the batch accepted;
 * io_uring:iopoll takes only READ and WRITE although io_uring's caps list
 * more), or another negative errno if the backend itself failed. Failures of a
 * single operation are not returned here: they land in that op's result.
 */
IOLENS_EXPORT int iolens_ctx_submit(struct iolens_ctx *ctx,
				    struct iolens_op *const *ops, unsigned n);

/*
 * Store up to `max` completed operations in out[] and return their number.
 * Waits until at least `min` are complete or `timeout_ns` passes (< 0: no
 * limit, 0: do not wait). Returns fewer than min only on timeout, or when
 * fewer than min are in flight. Negative errno if the wait itself failed.
 */
IOLENS_EXPORT int iolens_ctx_reap(struct iolens_ctx *ctx, struct iolens_op **out,
				  unsigned min, unsigned max, int64_t timeout_ns);

/* Copy the context's counters (struct iolens_backend_stats) into *out. Never fails. */
IOLENS_EXPORT void iolens_ctx_stats(const struct iolens_ctx *ctx,
				    struct iolens_backend_stats *out);

/* Info of the backend behind ctx. Never NULL. */
IOLENS_EXPORT const struct iolens_backend_info *iolens_ctx_backend(const struct iolens_ctx *ctx);

/*
 * Tell the context that `fd` is about to be closed, so it drops what it keeps
 * for that descriptor: an epoll registration, per-descriptor queues, an
 * io_uring multishot request or registered-file slot (both hold a reference
 * to the socket: without forget, close(fd) would not close it). Call it
 * when no operation on `fd` is in flight (submitted and not yet reaped),
 * then close(fd); a descriptor that later gets the same number starts
 * afresh. What the context received on fd ahead of any operation is
 * dropped: io_uring:ms-recv data, and the connections io_uring:ms-accept
 * accepted on a listener, which are closed. It may wait for the kernel to
 * confirm a cancellation; completions of other descriptors that arrive
 * meanwhile are kept for reap. Returns 0 (also for a descriptor the context
 * never saw, and on backends that keep nothing per descriptor), or:
 *   -EBUSY      an operation on fd is in flight; nothing was dropped
 *   other       the errno of a kernel call that failed; the state is dropped
 */
IOLENS_EXPORT int iolens_ctx_forget(struct iolens_ctx *ctx, int fd);

/*
 * Close a context and free it. NULL is ignored. Operations still in flight
 * are waited for first (their buffers are in use until then), for as long
 * as they keep completing: close gives up once a whole second passes with
 * no completion, so it never waits forever. What is still in flight then
 * is cancelled where the kernel holds it (io_uring, libaio, posix-aio),
 * with another second at most for the cancellations to land, and abandoned
 * after that (a readiness backend's queued ops were never in the kernel).
 * A socket op waits on its peer, which may never answer: shutdown(2) the
 * sockets first and every backend completes their ops at once (-EPIPE,
 * 0 or -ECONNRESET). A disk op is abandoned only if the device holds it
 * past both seconds; its buffer may then still be written by the kernel.
 */
IOLENS_EXPORT void iolens_ctx_close(struct iolens_ctx *ctx);

#ifdef __cplusplus
}
#endif

#include "iolens/workload.h"
#include "iolens/report.h"
#include "iolens/responder.h"

#endif
