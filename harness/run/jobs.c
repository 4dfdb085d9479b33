/*
 * A pass's job threads: each opens its own backend context, waits for the
 * window to open, runs the disk or the socket loop, and closes its context
 * only after the main thread has read the end of the window.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "blockfmt.h"
#include "net.h"
#include "run.h"

void *iolens__job_main(void *arg)
{
	struct job *j = arg;
	struct run *run = j->run;
	const struct iolens__spec *spec = run->spec;
	struct iolens_backend_opts o = {
		.depth = j->depth,
		.flags = spec->flags,
		.aio_threads = spec->aio_threads,
		.sqpoll_idle_ms = spec->sqpoll_idle_ms,
		.sqpoll_cpu = spec->sqpoll_cpu,
		.files = run->net ? NULL : &j->fd,
		.nfiles = run->net ? 0 : 1,
		.bufs = run->net ? NULL : j->iov,
		.nbufs = run->net ? 0 : j->depth,
	};
	struct iolens_ctx *ctx = NULL;
	int r;

	atomic_store(&j->os_tid, gettid());
	/* An open loop's waits end when asked: no timer slack added (openloop.c). */
	if (run->w->rate > 0)
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* A job process's counters are the main thread's to open: it reads them. */
	if (run->counting && !run->procs) {
		j->sc_fd = iolens__syscount_thread(0);
		j->io_fd = iolens__syscount_thread_io(0);
		j->enter_fd = iolens__syscount_thread_named(0, "io_uring_enter");
	}
	r = iolens__pin_job(j);
	if (r)
		iolens__job_fail(j, r, "--cpu: cannot pin job thread %u: %s", j->index,
				 iolens_strerror(r));
	else
		r = iolens_ctx_open(&ctx, spec->info->name, &o);
	if (r && !j->err && *iolens_ctx_open_reason())
		iolens__job_fail(j, r, "%s init: %s", spec->info->name, iolens_ctx_open_reason());
	else if (r && !j->err)
		iolens__job_fail(j, r, "%s init: %s", spec->info->name, iolens_strerror(r));
	pthread_mutex_lock(&run->lock);
	atomic_store(&j->said_ready, 1);
	atomic_fetch_add(&run->ready, 1);
	pthread_cond_broadcast(&run->cond);
	while (atomic_load(&run->phase) == PHASE_WAIT)
		pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	if (!r && atomic_load(&run->phase) != PHASE_ABORT) {
		if (run->net)
			iolens__net_loop(j, ctx);
		else
			iolens__disk_loop(j, ctx);
	}
	if (!j->t_end)
		j->t_end = now_ns();
	/* Tear nothing down inside the window: wait for the main thread's end snapshot. */
	pthread_mutex_lock(&run->lock);
	atomic_store(&j->said_finished, 1);
	atomic_fetch_add(&run->finished, 1);
	pthread_cond_broadcast(&run->cond);
	while (atomic_load(&run->phase) < PHASE_STOP)
		pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	if (ctx && run->net) {
		iolens__net_end(j, ctx);
	} else if (ctx) {
		/* Drain (outside the window) so the counters describe whole operations. */
		while (iolens_ctx_reap(ctx, j->done, j->depth, j->depth, REAP_TIMEOUT_NS) > 0)
			;
	}
	if (ctx) {
		iolens_ctx_stats(ctx, &j->stats);
		iolens_ctx_close(ctx);
	}
	return NULL;
}

int iolens__job_setup(struct job *j, struct run *run, unsigned index, unsigned nthreads,
		      unsigned depth, int open_flags)
{
	const struct iolens_workload *w = run->w;
	uint64_t nblocks = run->t->size / w->bs;
	size_t align = run->t->dio_align > 4096 ? run->t->dio_align : 4096;

	j->run = run;
	j->index = index;
	j->depth = depth;
	j->fd = -1;
	j->sc_fd = -1;
	j->io_fd = -1;
	j->enter_fd = -1;
	j->rng = w->seed * 0x2545f4914f6cdd1dULL + index + 1;
	if (run->ops_mode)
		j->quota = w->ops / nthreads + (index < w->ops % nthreads);
	if (w->verify && run->writes && nblocks >= nthreads) {
		/* Writers with verification own disjoint regions: no torn blocks. */
		j->region_start = nblocks * index / nthreads;
		j->region_blocks = nblocks * (index + 1) / nthreads - j->region_start;
	} else {
		j->region_blocks = nblocks;
		j->seq_next = nblocks * index / nthreads;
	}
	/* Checked when the target opened: parsed again for this job's region. */
	if (iolens__dist_parse(w->distribution, &j->dist, NULL, 0))
		return -EINVAL;
	iolens__dist_size(&j->dist, j->region_blocks);
	j->slots = iolens__pass_alloc(run, depth * sizeof(*j->slots), 0);
	j->freelist = iolens__pass_alloc(run, depth * sizeof(*j->freelist), 0);
	j->batch = iolens__pass_alloc(run, depth * sizeof(*j->batch), 0);
	j->done = iolens__pass_alloc(run, depth * sizeof(*j->done), 0);
	j->iov = iolens__pass_alloc(run, depth * sizeof(*j->iov), 0);
	j->bufs = iolens__pass_alloc(run, (size_t)depth * w->bs, align);
	if (!j->slots || !j->freelist || !j->batch || !j->done || !j->iov || !j->bufs)
		return -ENOMEM;
	for (unsigned k = 0; k < K__COUNT; k++)
		if (run->issues[k] && !(j->hist[k] = iolens__pass_hist(run)))
			return -ENOMEM;
	if (iolens__ol_setup(j, nthreads))
		return -ENOMEM;
	for (unsigned i = 0; i < depth; i++) {
		char *buf = j->bufs + (size_t)i * w->bs;

		/* Any valid block: writes without --verify carry recognisable data. */
		iolens__block_fill(buf, w->bs, 0, i);
		j->slots[i].op.buf = buf;
		j->slots[i].op.buf_index = (int32_t)i;
		j->iov[i].iov_base = buf;
		j->iov[i].iov_len = w->bs;
		j->freelist[j->nfree++] = &j->slots[i].op;
	}
	j->fd = open(run->t->path, open_flags);
	if (j->fd < 0)
		return -errno;
	for (unsigned i = 0; i < depth; i++)
		j->slots[i].op.fd = j->fd;
	return 0;
}

void iolens__job_free(struct job *j)
{
	/* A job the setup loop never reached is all zeros, descriptors too: nothing of its own. */
	if (!j->run)
		return;
	iolens__net_free(j);
	iolens__pass_free(j->run, j->trace);
	if (j->fd >= 0)
		close(j->fd);
	if (j->sc_fd >= 0)
		close(j->sc_fd);
	if (j->io_fd >= 0)
		close(j->io_fd);
	if (j->enter_fd >= 0)
		close(j->enter_fd);
	for (unsigned k = 0; k < K__COUNT; k++)
		iolens__pass_hist_free(j->run, j->hist[k]);
	iolens__ol_free(j);
	iolens__pass_free(j->run, j->slots);
	iolens__pass_free(j->run, j->freelist);
	iolens__pass_free(j->run, j->batch);
	iolens__pass_free(j->run, j->done);
	iolens__pass_free(j->run, j->iov);
	iolens__pass_free(j->run, j->bufs);
}

/* Sleep until `deadline` (ns) or until the stop flag or all jobs finished. */
int iolens__wait_until(struct run *run, uint64_t deadline, unsigned nthreads)
{
	volatile int *stop = run->w->stop;

	for (;;) {
		uint64_t now = now_ns(), until;
		struct timespec ts;

		if (stop && *stop)
			return 1;
		if (atomic_load(&run->finished) == nthreads || now >= deadline)
			return 0;
		until = deadline - now > 20000000ull ? now + 20000000ull : deadline;
		ts.tv_sec = (time_t)(until / 1000000000ull);
		ts.tv_nsec = (long)(until % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}
