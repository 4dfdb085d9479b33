/*
 * Syscalls counted by the kernel: perf tracepoint counters on
 * raw_syscalls:sys_enter, unfiltered for the total and filtered on the
 * syscall number for each call that matters to I/O backends, plus
 * io_uring's own tracepoints.
 *
 * The counters are opened on the main thread with `inherit`, before a pass
 * creates any thread, so every thread the pass creates — job threads, glibc
 * AIO helpers, io_uring SQPOLL and io-wq threads — is counted. The main
 * thread's own syscalls (sleeping, reading these counters) are counted by a
 * second, non-inherited set and subtracted exactly: both edges read the same
 * counters in the same order, so the reads cancel out.
 */
#ifndef IOLENS_SYSCOUNT_H
#define IOLENS_SYSCOUNT_H

#include <stdint.h>
#include <sys/types.h>

#include "iolens/iolens.h"

#define IOLENS_SC_MAX_NAMES IOLENS_SYSCALL_NAMES

enum { IOLENS_IOU_SUBMIT, IOLENS_IOU_PUNT, IOLENS_IOU_COMPLETE, IOLENS_IOU__COUNT };

/* The syscall names counted one by one; the rest are "other". */
extern const char *const iolens__sc_names[];
extern const unsigned iolens__sc_nnames;

struct iolens__sc_snap {
	uint64_t total;
	uint64_t name[IOLENS_SC_MAX_NAMES];
	uint64_t iou[IOLENS_IOU__COUNT];
};

struct iolens__syscount {
	int fd_total, fd_name[IOLENS_SC_MAX_NAMES], fd_iou[IOLENS_IOU__COUNT];
	int main_total, main_name[IOLENS_SC_MAX_NAMES]; /* main thread only */
};

/*
 * Where tracepoint ids come from, or NULL; and whether a counter can be
 * opened at all here. 0, or -errno with a one-line reason in why.
 */
const char *iolens__tracefs(void);
int iolens__syscount_probe(char *why, size_t len);

/* Open every counter on the calling (main) thread. 0 or -errno + reason. */
int iolens__syscount_open(struct iolens__syscount *sc, char *why, size_t len);
void iolens__syscount_close(struct iolens__syscount *sc);

/* Counts of everything but the main thread so far. */
void iolens__syscount_read(const struct iolens__syscount *sc, struct iolens__sc_snap *out);

/*
 * A raw_syscalls counter on one task alone, or -errno: tid 0 is the calling
 * thread (a job thread), else a job process's pid (blocking:procs: its
 * counters are opened by the main thread, which reads them).
 */
int iolens__syscount_thread(pid_t tid);
uint64_t iolens__counter_value(int fd);
/*
 * The same, counting only the I/O calls (data movers, io_submit,
 * io_uring_enter) through a tracepoint filter on the syscall number.
 */
int iolens__syscount_thread_io(pid_t tid);
/* The same, counting only the named call (one of iolens__sc_names), or -errno. */
int iolens__syscount_thread_named(pid_t tid, const char *name);

/* What the i-th counted name is, for the measured model. */
enum { IOLENS_SC_OTHER, IOLENS_SC_DATA, IOLENS_SC_QUEUE, IOLENS_SC_READINESS };
int iolens__sc_class(unsigned i);


/* io_uring's kernel helper threads (iou-sqp-*, iou-wrk-*) and their CPU ticks. */
#define IOLENS_MAX_HELPERS 64
struct iolens__helpers {
	unsigned n;
	int tid[IOLENS_MAX_HELPERS];
	uint64_t ticks[IOLENS_MAX_HELPERS];
};
void iolens__helpers_scan(struct iolens__helpers *h);
/* Threads seen at the end, and their CPU seconds since the start scan. */
double iolens__helpers_cpu(const struct iolens__helpers *start, const struct iolens__helpers *end);

/* Wait up to ms until the caller is this process's only user thread; 1 if it is. */
int iolens__wait_single_thread(unsigned ms);

#endif
