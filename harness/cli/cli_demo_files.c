/* Lesson 3 of the demo: what non-blocking means for files (poll, epoll, RWF_NOWAIT). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli_demo.h"
#include "cli_demo_kit.h"
#include "cli_results.h"
#include "cli_usage.h"
#include "iolens/iolens.h"

#define L3_BLOCKS_MAX 64
#define L3_BS 4096

/* Share of the file's pages in the page cache (mincore), or -1. */
static double resident(int fd, size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t npages = (size + (size_t)pg - 1) / (size_t)pg, in = 0;
	unsigned char *vec = malloc(npages);
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int r = -1;

	if (vec && p != MAP_FAILED)
		r = mincore(p, size, vec);
	if (p != MAP_FAILED)
		munmap(p, size);
	for (size_t i = 0; r == 0 && i < npages; i++)
		in += vec[i] & 1;
	free(vec);
	return r ? -1 : (double)in / (double)npages;
}

/* Write back and drop the file's pages: 0 or an errno. */
static int drop(int fd)
{
	if (fdatasync(fd))
		return errno;
	return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static long vcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static void pct(char *buf, size_t len, double share)
{
	if (share < 0)
		snprintf(buf, len, "unknown (mincore failed)");
	else
		snprintf(buf, len, "%.1f%%", share * 100);
}

struct l3 {
	unsigned n;		  /* blocks probed */
	double res_cold, res_end; /* residency just before the cold probes, at the end */
	unsigned poll_ready;	  /* poll returned POLLIN at once */
	short revents;
	double poll_s; /* time in poll, all probes */
	long poll_vcsw;
	double cold_s, warm_s; /* time in the preads */
	long cold_vcsw, warm_vcsw;
	int read_err;
	int epoll_ret, epoll_err;
	double res_nowait; /* residency before the RWF_NOWAIT probes */
	unsigned nw_eagain, nw_read, nw_other, nw_cached_read;
	double nw_s;  /* time in the RWF_NOWAIT calls on cold pages */
	long nw_vcsw; /* voluntary switches in them */
	int nw_err;   /* the first other errno */
};

static void l3_probe(int fd, size_t size, struct l3 *f)
{
	char *buf = aligned_alloc(L3_BS, L3_BS);
	struct iovec iov = {buf, L3_BS};
	size_t step = size / f->n;
	int ep;

	/* poll, then the read it called ready: cold pages */
	f->res_cold = resident(fd, size);
	for (unsigned i = 0; i < f->n && buf; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long v = vcsw();
		double t = iolens__now_s();
		ssize_t got;

		if (poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN))
			f->poll_ready++;
		f->revents |= pfd.revents;
		f->poll_s += iolens__now_s() - t;
		f->poll_vcsw += vcsw() - v;
		v = vcsw();
		t = iolens__now_s();
		got = pread(fd, buf, L3_BS, (off_t)(i * step));
		f->cold_s += iolens__now_s() - t;
		f->cold_vcsw += vcsw() - v;
		if (got != L3_BS && !f->read_err)
			f->read_err = got < 0 ? errno : EIO;
	}
	/* the same reads again: now cached */
	for (unsigned i = 0; i < f->n && buf; i++) {
		long v = vcsw();
		double t = iolens__now_s();

		if (pread(fd, buf, L3_BS, (off_t)(i * step)) != L3_BS && !f->read_err)
			f->read_err = errno ? errno : EIO;
		f->warm_s += iolens__now_s() - t;
		f->warm_vcsw += vcsw() - v;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep >= 0) {
		struct epoll_event ev = {.events = EPOLLIN};

		f->epoll_ret = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		f->epoll_err = f->epoll_ret ? errno : 0;
		close(ep);
	} else {
		f->epoll_ret = -2;
		f->epoll_err = errno;
	}
	/* RWF_NOWAIT on cold pages, then on the same pages once cached */
	drop(fd);
	f->res_nowait = resident(fd, size);
	for (unsigned i = 0; i < f->n && buf; i++) {
		long v = vcsw();
		double t = iolens__now_s();
		ssize_t got = preadv2(fd, &iov, 1, (off_t)(i * step), RWF_NOWAIT);

		f->nw_s += iolens__now_s() - t;
		f->nw_vcsw += vcsw() - v;

		if (got == L3_BS)
			f->nw_read++;
		else if (got < 0 && errno == EAGAIN)
			f->nw_eagain++;
		else if (f->nw_other++ == 0)
			f->nw_err = got < 0 ? errno : EIO;
	}
	for (unsigned i = 0; i < f->n && buf; i++)
		if (pread(fd, buf, L3_BS, (off_t)(i * step)) == L3_BS &&
		    preadv2(fd, &iov, 1, (off_t)(i * step), RWF_NOWAIT) == L3_BS)
			f->nw_cached_read++;
	f->res_end = resident(fd, size);
	free(buf);
}

/* The temporary file: size bytes of a non-zero pattern, written back to disk. fd or -errno. */
static int l3_file(size_t size, char *path, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char *chunk = malloc(1 << 20);
	int fd, e = 0;

	snprintf(path, len, "%s/iolens-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = chunk ? mkostemp(path, O_CLOEXEC) : -1;
	if (fd < 0) {
		e = chunk ? errno : ENOMEM;
		free(chunk);
		return -e;
	}
	unlink(path); /* nothing is left behind, whatever happens next */
	for (size_t i = 0; i < (1u << 20); i++)
		chunk[i] = (char)(i * 131 + 7);
	for (size_t off = 0; off < size && !e; off += 1u << 20)
		if (pwrite(fd, chunk, 1u << 20, (off_t)off) != 1 << 20)
			e = errno ? errno : EIO;
	free(chunk);
	if (!e && fsync(fd))
		e = errno;
	/* no readahead: each probe reads its own block, nothing more */
	if (!e)
		e = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (!e)
		e = drop(fd);
	if (e) {
		close(fd);
		return -e;
	}
	return fd;
}

void iolens__demo_files(struct demo *d)
{
	static const char *const poll_spec[] = {"poll"};
	size_t size = d->quick ? 4u << 20 : 16u << 20;
	struct l3 f = {.n = d->quick ? 16 : L3_BLOCKS_MAX};
	struct iolens_result *rp = NULL;
	struct iolens_target *t;
	struct iolens_workload w;
	char path[4096], a[32], b[32], c[32], why[300], s1[600], s2[300], s3[200], s4[300];
	char s5[300];
	int fd;
	double per_cold, per_warm;

	printf("\n== Lesson 3: what \"non-blocking\" means for files\n\n");
	iolens__demo_say("", "",
	    "Readiness is a promise about pipes and sockets, where data comes from outside and "
	    "may not be there yet. A regular file has no \"not ready\": poll reports it readable "
	    "at once, epoll refuses to watch it (EPERM), and a read of pages that are not in "
	    "memory puts the thread to sleep until the disk answers, O_NONBLOCK or not. The one "
	    "way to ask a file \"would this wait?\" is preadv2 with RWF_NOWAIT: it fails with "
	    "EAGAIN instead of sleeping. Measured on a %zu MiB temporary file in $TMPDIR, "
	    "written back and dropped from the page cache, %u blocks of 4 KiB %zu KiB apart:",
	    size >> 20, f.n, size / f.n >> 10);
	printf("\n");
	fflush(stdout);
	fd = l3_file(size, path, sizeof(path));
	if (fd < 0) {
		iolens__demo_say("  ", "    ", "could not prepare the file %s: %s", path, strerror(-fd));
		d->failed = 1;
		return;
	}
	l3_probe(fd, size, &f);
	close(fd);
	per_cold = f.cold_s / f.n;
	per_warm = f.warm_s / f.n;
	pct(a, sizeof(a), f.res_cold);
	iolens__demo_say("  ", "    ",
			 "page cache before the cold reads: %s of the file resident (mincore)%s",
	    a, f.res_cold > 0.05 ? "; the kernel kept pages, so these reads are not all cold" : "");
	iolens__demo_say("  ", "    ",
	    "poll(POLLIN), %u times: ready at once %u of %u (revents%s%s%s), %s each, %ld "
	    "voluntary switches",
	    f.n, f.poll_ready, f.n, f.revents & POLLIN ? " POLLIN" : "",
	    f.revents & POLLOUT ? " POLLOUT" : "", f.revents ? "" : " none",
	    iolens__demo_dur(b, sizeof(b), f.poll_s / f.n), f.poll_vcsw);
	if (f.read_err)
		iolens__demo_say("  ", "    ", "pread: failed: %s (%s)", iolens__demo_errname(f.read_err),
		    strerror(f.read_err));
	iolens__demo_say("  ", "    ",
	    "then pread of that block: %s each, %ld voluntary switches (%.2f per read)%s",
	    iolens__demo_dur(b, sizeof(b), per_cold), f.cold_vcsw, (double)f.cold_vcsw / f.n,
	    f.cold_vcsw ? ": the thread slept" : "");
	iolens__demo_say("  ", "    ",
	    "the same reads, now cached: %s each, %ld voluntary switches (%.2f per read)",
	    iolens__demo_dur(b, sizeof(b), per_warm), f.warm_vcsw, (double)f.warm_vcsw / f.n);
	if (f.epoll_ret == -2)
		iolens__demo_say("  ", "    ", "epoll_create1: failed: %s", iolens__demo_errname(f.epoll_err));
	else if (f.epoll_ret)
		iolens__demo_say("  ", "    ", "epoll_ctl(EPOLL_CTL_ADD) on the file: -1, %s (%s)",
		    iolens__demo_errname(f.epoll_err), strerror(f.epoll_err));
	else
		iolens__demo_say("  ", "    ", "epoll_ctl(EPOLL_CTL_ADD) on the file: accepted");
	pct(a, sizeof(a), f.res_nowait);
	if (f.nw_other && (f.nw_err == EOPNOTSUPP || f.nw_err == EINVAL)) {
		iolens__demo_say("  ", "    ",
		    "preadv2(RWF_NOWAIT): not supported on this filesystem (%s): no figures",
		    iolens__demo_errname(f.nw_err));
	} else {
		iolens__demo_say("  ", "    ",
		    "preadv2(RWF_NOWAIT), pages dropped again (%s resident): EAGAIN %u of %u, read "
		    "%u%s%s, %s each, %ld voluntary switches",
		    a, f.nw_eagain, f.n, f.nw_read, f.nw_other ? ", other errors " : "",
		    f.nw_other ? iolens__demo_errname(f.nw_err) : "",
		    iolens__demo_dur(b, sizeof(b), f.nw_s / f.n),
		    f.nw_vcsw);
		iolens__demo_say("  ", "    ", "preadv2(RWF_NOWAIT) once each block was read: read %u of %u",
		    f.nw_cached_read, f.n);
	}
	pct(a, sizeof(a), f.res_end);
	iolens__demo_say("  ", "    ", "page cache at the end: %s resident", a);
	printf("\n");
	fflush(stdout);

	/* The same question through the poll backend, figures into the results. */
	iolens_workload_init(&w);
	w.kind = IOLENS_WL_RANDREAD;
	w.size = d->quick ? 8u << 20 : 32u << 20;
	w.cache = IOLENS_CACHE_COLD;
	w.time_s = 0;
	w.ops = d->quick ? 200 : 1000;
	w.stop = d->stopped;
	if (!*d->stopped && !iolens__demo_open_target(d, &t, &w)) {
		iolens__demo_run(d, t, &w, poll_spec, 1, &rp);
		iolens_target_close(t);
	}
	if (*d->stopped)
		return;
	if (!rp || iolens__demo_not_ok(rp, why, sizeof(why))) {
		iolens__demo_say("  ", "    ", "the iolens poll backend on a cold file: %s",
		    rp ? why : "not run");
	} else {
		const struct iolens_model *m = &rp->model;

		pct(a, sizeof(a), rp->resident_before);
		pct(b, sizeof(b), rp->resident_after);
		if (m->measured[0])
			snprintf(s1, sizeof(s1),
				 "%.2f voluntary switches per op inside its calls; "
				 "model: measured %s, declared %s%s%s%s",
				 m->vcsw_per_op_submit + m->vcsw_per_op_wait, m->measured,
				 m->declared, m->mismatch ? " (mismatch" : "",
				 m->mismatch && m->flags[0] ? ": " : "",
				 !m->mismatch ? "" : m->flags[0] ? m->flags : ")");
		if (m->measured[0] && m->mismatch && m->flags[0])
			snprintf(s1 + strlen(s1), sizeof(s1) - strlen(s1), ")");
		else
			snprintf(s1, sizeof(s1),
				 "%.2f voluntary switches per op (whole process); "
				 "model: %s",
				 (double)rp->vcsw / (double)rp->ops, m->why);
		iolens__demo_say("  ", "  ",
		    "the iolens poll backend, %llu random 4 KiB reads of a cold %llu MiB file "
		    "(cache %s -> %s): %.0f IOPS, p50 %s, poll ready at once in %llu of %llu "
		    "checks, %s.",
		    (unsigned long long)rp->ops, (unsigned long long)(w.size >> 20), a, b, rp->iops,
		    iolens__demo_dur(c, sizeof(c), (double)rp->lat.p50 / 1e9),
		    (unsigned long long)rp->stats.ready_at_once,
		    (unsigned long long)(rp->stats.ready_at_once + rp->stats.waits), s1);
	}
	if (f.poll_ready == f.n)
		snprintf(s1, sizeof(s1), "poll said ready %u of %u times", f.poll_ready, f.n);
	else
		snprintf(s1, sizeof(s1),
			 "poll said ready only %u of %u times, which contradicts "
			 "the lesson",
			 f.poll_ready, f.n);
	pct(a, sizeof(a), f.res_cold);
	if (f.cold_vcsw * 2 >= (long)f.n)
		snprintf(s2, sizeof(s2),
			 "the read after it slept anyway (%.2f switches per read, %.0fx the cached "
			 "time%s%s)",
			 (double)f.cold_vcsw / f.n, per_warm > 0 ? per_cold / per_warm : 0.0,
			 f.res_cold > 0.05 ? ", with " : "", f.res_cold > 0.05 ? a : "");
	else if (per_cold >= 10 * per_warm)
		snprintf(s2, sizeof(s2),
			 "the read after it still waited inside the call (%.0fx the cached time) "
			 "but slept in only %ld of %u reads (on a virtual machine the host can "
			 "serve a request before the guest thread gets to sleep)",
			 per_warm > 0 ? per_cold / per_warm : 0.0, f.cold_vcsw, f.n);
	else
		snprintf(s2, sizeof(s2),
			 "the read after it neither slept nor waited (%ld switches, %.1fx the "
			 "cached time, %s of the file resident), so a cold read was not shown here",
			 f.cold_vcsw, per_warm > 0 ? per_cold / per_warm : 0.0, a);
	if (f.epoll_ret == -1 && f.epoll_err == EPERM)
		snprintf(s3, sizeof(s3), "epoll refused the file (EPERM)");
	else
		snprintf(s3, sizeof(s3),
			 "epoll did not refuse the file with EPERM, which "
			 "contradicts the lesson");
	pct(b, sizeof(b), f.res_nowait);
	if (f.nw_other)
		snprintf(s4, sizeof(s4), "RWF_NOWAIT could not be shown (%s)", iolens__demo_errname(f.nw_err));
	else if (f.nw_eagain == f.n && f.nw_cached_read == f.n)
		snprintf(s4, sizeof(s4),
			 "only RWF_NOWAIT said it would wait (EAGAIN %u of %u cold, in %s each; "
			 "read %u of %u once cached)",
			 f.nw_eagain, f.n, iolens__demo_dur(c, sizeof(c), f.nw_s / f.n), f.nw_cached_read, f.n);
	else if (!f.nw_eagain)
		snprintf(s4, sizeof(s4),
			 "RWF_NOWAIT refused none of the cold blocks (%s resident just before): it "
			 "read all %u inside the call, %s each, with %ld voluntary switches (not "
			 "sleeping is all it promises)",
			 b, f.n, iolens__demo_dur(c, sizeof(c), f.nw_s / f.n), f.nw_vcsw);
	else
		snprintf(s4, sizeof(s4),
			 "RWF_NOWAIT gave EAGAIN for %u of %u cold blocks and read the other %u "
			 "inside the call (%s each on average, %s resident just before); %u of %u "
			 "read once cached",
			 f.nw_eagain, f.n, f.n - f.nw_eagain, iolens__demo_dur(c, sizeof(c), f.nw_s / f.n), b,
			 f.nw_cached_read, f.n);
	s5[0] = '\0';
	if (iolens__demo_ok(rp) && rp->model.measured[0]) {
		double v = rp->model.vcsw_per_op_submit + rp->model.vcsw_per_op_wait;

		snprintf(s5, sizeof(s5),
			 "; the iolens poll backend, declared %s, measured %s with %.2f switches "
			 "per op%s",
			 rp->model.declared, rp->model.measured, v,
			 v < 0.5 ? " (most of its cold reads finished without the thread sleeping)"
				 : "");
	}
	printf("\n");
	iolens__demo_say("  ", "  ", "Conclusion: %s and %s; %s%s; %s.", s1, s2, s3, s5, s4);
}

