#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscount.h"

const char *const iolens__sc_names[] = {
	"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv2", "pwritev2",
	"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_ctl",
	"io_uring_enter", "io_submit", "io_getevents", "io_pgetevents", "futex", "recvfrom",
	"sendto", "recvmsg", "sendmsg", "accept4", "connect", "fsync", "fdatasync", "clone",
	"clone3", "nanosleep", "clock_nanosleep", "rt_sigprocmask",
};
/* Their numbers on the architecture this was built for, in the same order. */
static const long sc_nrs[] = {
	SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_preadv2,
	SYS_pwritev2, SYS_poll, SYS_ppoll, SYS_select, SYS_pselect6, SYS_epoll_wait,
	SYS_epoll_pwait, SYS_epoll_ctl, SYS_io_uring_enter, SYS_io_submit, SYS_io_getevents,
	SYS_io_pgetevents, SYS_futex, SYS_recvfrom, SYS_sendto, SYS_recvmsg, SYS_sendmsg,
	SYS_accept4, SYS_connect, SYS_fsync, SYS_fdatasync, SYS_clone, SYS_clone3, SYS_nanosleep,
	SYS_clock_nanosleep, SYS_rt_sigprocmask,
};
_Static_assert(sizeof(sc_nrs) / sizeof(sc_nrs[0]) == IOLENS_SYSCALL_NAMES, "one number per name");
const unsigned iolens__sc_nnames = sizeof(iolens__sc_names) / sizeof(iolens__sc_names[0]);
_Static_assert(sizeof(iolens__sc_names) / sizeof(iolens__sc_names[0]) == IOLENS_SYSCALL_NAMES,
	       "public count of syscall names");

const char *iolens_syscall_name(unsigned i)
{
	return i < IOLENS_SYSCALL_NAMES ? iolens__sc_names[i] : NULL;
}

/*
 * The calls that move data or hand I/O to the kernel, with their numbers on
 * the architecture this was built for: offload is measured on these.
 */
static const struct {
	const char *name;
	long nr;
} io_calls[] = {
	{ "read", SYS_read },		{ "write", SYS_write },
	{ "pread64", SYS_pread64 },	{ "pwrite64", SYS_pwrite64 },
	{ "readv", SYS_readv },		{ "writev", SYS_writev },
	{ "preadv2", SYS_preadv2 },	{ "pwritev2", SYS_pwritev2 },
	{ "recvfrom", SYS_recvfrom },	{ "sendto", SYS_sendto },
	{ "recvmsg", SYS_recvmsg },	{ "sendmsg", SYS_sendmsg },
	{ "accept4", SYS_accept4 },	{ "connect", SYS_connect },
	{ "fsync", SYS_fsync },		{ "fdatasync", SYS_fdatasync },
	{ "io_submit", SYS_io_submit }, { "io_uring_enter", SYS_io_uring_enter },
};

int iolens__sc_class(unsigned i)
{
	static const char *const readiness[] = { "poll", "ppoll", "select", "pselect6",
						 "epoll_wait", "epoll_pwait" };
	const char *n = i < iolens__sc_nnames ? iolens__sc_names[i] : "";

	if (!strcmp(n, "io_submit") || !strcmp(n, "io_uring_enter"))
		return IOLENS_SC_QUEUE;
	for (unsigned k = 0; k < sizeof(io_calls) / sizeof(io_calls[0]); k++)
		if (!strcmp(n, io_calls[k].name))
			return IOLENS_SC_DATA;
	for (unsigned k = 0; k < sizeof(readiness) / sizeof(readiness[0]); k++)
		if (!strcmp(n, readiness[k]))
			return IOLENS_SC_READINESS;
	return IOLENS_SC_OTHER;
}

static const char *const iou_events[IOLENS_IOU__COUNT] = {
	"io_uring/io_uring_submit_req", "io_uring/io_uring_queue_async_work",
	"io_uring/io_uring_complete",
};

const char *iolens__tracefs(void)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	for (unsigned i = 0; i < 2; i++) {
		char p[96];

		snprintf(p, sizeof(p), "%s/events/raw_syscalls/sys_enter/id", roots[i]);
		if (access(p, R_OK) == 0)
			return roots[i];
	}
	return NULL;
}

/* Tracepoint id of "group/event", or -errno. */
static long tracepoint_id(const char *root, const char *event)
{
	char p[256], buf[32];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/events/%s/id", root, event);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* A counter on task `tid` (0: the calling thread), with its children when inherit. */
static int open_counter(long id, int inherit, pid_t tid)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.inherit = (unsigned)inherit;
	fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

uint64_t iolens__counter_value(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int explain(int err, char *why, size_t len)
{
	if (!iolens__tracefs())
		snprintf(why, len, access("/sys/kernel/tracing", F_OK) == 0 && geteuid() != 0
				   ? "tracefs is not readable by this user: run as root (iolens doctor)"
				   : "no tracefs: mount it (mount -t tracefs nodev /sys/kernel/tracing)");
	else if (err == -EACCES || err == -EPERM)
		snprintf(why, len,
			 "perf_event_open refused tracepoint counters (%s): run as root or lower kernel.perf_event_paranoid",
			 strerror(-err));
	else
		snprintf(why, len, "perf_event_open failed: %s", strerror(-err));
	return err;
}

int iolens__syscount_probe(char *why, size_t len)
{
	const char *root = iolens__tracefs();
	long id;
	int fd;

	if (!root)
		return explain(-ENOENT, why, len);
	id = tracepoint_id(root, "raw_syscalls/sys_enter");
	if (id < 0)
		return explain((int)id, why, len);
	fd = open_counter(id, 1, 0);
	if (fd < 0)
		return explain(fd, why, len);
	close(fd);
	return 0;
}

int iolens__syscount_thread(pid_t tid)
{
	const char *root = iolens__tracefs();
	long id = root ? tracepoint_id(root, "raw_syscalls/sys_enter") : -ENOENT;

	return id < 0 ? (int)id : open_counter(id, 0, tid);
}

/* fd with the tracepoint filter set, or -errno with fd closed. */
static int filtered(int fd, const char *filter, size_t used, size_t cap)
{
	int err;

	if (fd < 0)
		return fd;
	if (used < cap && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) == 0)
		return fd;
	err = used >= cap ? -ENAMETOOLONG : -errno;
	close(fd);
	return err;
}

int iolens__syscount_thread_io(pid_t tid)
{
	char filter[512];
	size_t used = 0;

	for (unsigned k = 0; k < sizeof(io_calls) / sizeof(io_calls[0]); k++)
		used += (size_t)snprintf(filter + used, sizeof(filter) - used, "%sid == %ld",
					 k ? " || " : "", io_calls[k].nr);
	return filtered(iolens__syscount_thread(tid), filter, used, sizeof(filter));
}

int iolens__syscount_thread_named(pid_t tid, const char *name)
{
	for (unsigned i = 0; i < iolens__sc_nnames; i++) {
		char f[32];

		if (strcmp(name, iolens__sc_names[i]))
			continue;
		return filtered(iolens__syscount_thread(tid), f,
				(size_t)snprintf(f, sizeof(f), "id == %ld", sc_nrs[i]), sizeof(f));
	}
	return -EINVAL;
}

void iolens__syscount_close(struct iolens__syscount *sc)
{
	int *fds[] = { &sc->fd_total, &sc->main_total };

	for (unsigned i = 0; i < 2; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	for (unsigned i = 0; i < iolens__sc_nnames; i++) {
		if (sc->fd_name[i] >= 0)
			close(sc->fd_name[i]);
		if (sc->main_name[i] >= 0)
			close(sc->main_name[i]);
	}
	for (unsigned i = 0; i < IOLENS_IOU__COUNT; i++)
		if (sc->fd_iou[i] >= 0)
			close(sc->fd_iou[i]);
	memset(sc, 0xff, sizeof(*sc)); /* every fd -1 */
}

int iolens__syscount_open(struct iolens__syscount *sc, char *why, size_t len)
{
	const char *root = iolens__tracefs();
	long id;
	int err;

	memset(sc, 0xff, sizeof(*sc));
	if (!root)
		return explain(-ENOENT, why, len);
	id = tracepoint_id(root, "raw_syscalls/sys_enter");
	if (id < 0)
		return explain((int)id, why, len);
	sc->fd_total = open_counter(id, 1, 0);
	sc->main_total = open_counter(id, 0, 0);
	if (sc->fd_total < 0 || sc->main_total < 0) {
		err = sc->fd_total < 0 ? sc->fd_total : sc->main_total;
		iolens__syscount_close(sc);
		return explain(err, why, len);
	}
	/*
	 * One counter per name on raw_syscalls:sys_enter, filtered on the
	 * number, rather than on each syscalls:sys_enter_<name> event: every
	 * event's last close costs the kernel an RCU grace period (tens of ms
	 * here), and these all share one.
	 */
	for (unsigned i = 0; i < iolens__sc_nnames; i++) {
		char f[32];
		size_t used = (size_t)snprintf(f, sizeof(f), "id == %ld", sc_nrs[i]);

		sc->fd_name[i] = filtered(open_counter(id, 1, 0), f, used, sizeof(f));
		sc->main_name[i] = filtered(open_counter(id, 0, 0), f, used, sizeof(f));
		if (sc->fd_name[i] < 0 || sc->main_name[i] < 0) {
			err = sc->fd_name[i] < 0 ? sc->fd_name[i] : sc->main_name[i];
			iolens__syscount_close(sc);
			return explain(err, why, len);
		}
	}
	for (unsigned i = 0; i < IOLENS_IOU__COUNT; i++) {
		id = tracepoint_id(root, iou_events[i]);
		if (id >= 0)
			sc->fd_iou[i] = open_counter(id, 1, 0);
	}
	return 0;
}

void iolens__syscount_read(const struct iolens__syscount *sc, struct iolens__sc_snap *out)
{
	uint64_t all[IOLENS_SC_MAX_NAMES], all_total;

	/* Every inherited counter first, then every main-only one, in the same order each time. */
	all_total = iolens__counter_value(sc->fd_total);
	for (unsigned i = 0; i < iolens__sc_nnames; i++)
		all[i] = iolens__counter_value(sc->fd_name[i]);
	for (unsigned i = 0; i < IOLENS_IOU__COUNT; i++)
		out->iou[i] = iolens__counter_value(sc->fd_iou[i]);
	out->total = all_total - iolens__counter_value(sc->main_total);
	for (unsigned i = 0; i < iolens__sc_nnames; i++)
		out->name[i] = all[i] - iolens__counter_value(sc->main_name[i]);
}

/* Read /proc/self/task/<tid>/<file> into buf as a string; its length, or 0. */
static size_t read_task_file(const char *tid, const char *file, char *buf, size_t len)
{
	char p[300];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/self/task/%s/%s", tid, file);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

void iolens__helpers_scan(struct iolens__helpers *h)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	h->n = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && h->n < IOLENS_MAX_HELPERS) {
		char buf[512], *close_paren;
		unsigned long ut, st;

		if (e->d_name[0] == '.' || !read_task_file(e->d_name, "stat", buf, sizeof(buf)))
			continue;
		/* "tid (comm) state ..." with utime and stime the 14th and 15th fields. */
		close_paren = strrchr(buf, ')');
		if (!strstr(buf, "(iou-") || !close_paren ||
		    sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) != 2)
			continue;
		h->tid[h->n] = atoi(e->d_name);
		h->ticks[h->n++] = ut + st;
	}
	closedir(d);
}

double iolens__helpers_cpu(const struct iolens__helpers *start, const struct iolens__helpers *end)
{
	uint64_t ticks = 0;

	for (unsigned i = 0; i < end->n; i++) {
		uint64_t before = 0;

		for (unsigned k = 0; k < start->n; k++)
			if (start->tid[k] == end->tid[i])
				before = start->ticks[k];
		ticks += end->ticks[i] - before;
	}
	return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* Threads of this process other than the caller, io_uring's kernel helpers aside. */
static int other_user_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int self = gettid(), n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char comm[32];

		if (e->d_name[0] == '.' || atoi(e->d_name) == self)
			continue;
		if (read_task_file(e->d_name, "comm", comm, sizeof(comm)) &&
		    strncmp(comm, "iou-", 4) == 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

int iolens__wait_single_thread(unsigned ms)
{
	for (unsigned waited = 0;; waited += 10) {
		if (other_user_threads() == 0)
			return 1;
		if (waited >= ms)
			return 0;
		usleep(10000);
	}
}

int iolens_machine_probe(struct iolens_machine *m)
{
	const char *root;

	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	root = iolens__tracefs();
	snprintf(m->tracefs, sizeof(m->tracefs), "%s", root ? root : "");
	m->can_count = iolens__syscount_probe(m->why_not, sizeof(m->why_not)) == 0;
	if (m->can_count)
		m->why_not[0] = '\0';
	return 0;
}
