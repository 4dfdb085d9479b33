/*
 * Runs one workload on one backend: job threads, each with its own backend
 * context, keep `depth` operations in flight; the main thread opens and
 * closes the measured window and reads CPU and context-switch counters at
 * its edges. The per-operation path allocates nothing, takes no lock and
 * makes no system call of its own: one clock read per submitted batch and
 * one per reaped batch.
 *
 * One piece, ~1,370 lines, because job threads, passes and the disk loop
 * share struct run and struct job, which netrun.c reaches into as well;
 * issue 18 (the wing layout) splits them into run/ files once that knot
 * is untangled.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "blockfmt.h"
#include "model.h"
#include "peer.h"
#include "runner.h"

static const char *op_name(int kind)
{
	return kind == IOLENS_OP_READ ? "read" : kind == IOLENS_OP_WRITE ? "write" : "fsync";
}

void iolens__job_fail(struct job *j, int err, const char *fmt, ...)
{
	va_list ap;

	if (j->err)
		return;
	j->err = err;
	va_start(ap, fmt);
	vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
	va_end(ap);
}

static int op_kind_for(struct job *j)
{
	const struct iolens_workload *w = j->run->w;

	if (w->fsync_every && j->writes_since_fsync >= w->fsync_every) {
		j->writes_since_fsync = 0;
		return IOLENS_OP_FSYNC;
	}
	switch (w->kind) {
	case IOLENS_WL_READ:
	case IOLENS_WL_RANDREAD:
		return IOLENS_OP_READ;
	case IOLENS_WL_RANDRW:
		return below(&j->rng, 100) < w->rwmix ? IOLENS_OP_READ : IOLENS_OP_WRITE;
	default:
		return IOLENS_OP_WRITE;
	}
}

static int offset_in_flight(const struct job *j, uint64_t off)
{
	for (unsigned i = 0; i < j->depth; i++)
		if (j->slots[i].busy && j->slots[i].op.offset == off &&
		    j->slots[i].op.kind != IOLENS_OP_FSYNC)
			return 1;
	return 0;
}

static uint64_t next_offset(struct job *j)
{
	const struct iolens_workload *w = j->run->w;
	uint64_t block;

	if (w->kind == IOLENS_WL_READ || w->kind == IOLENS_WL_WRITE) {
		block = j->seq_next;
		if (++j->seq_next == j->region_blocks)
			j->seq_next = 0;
	} else {
		block = below(&j->rng, j->region_blocks);
	}
	return (j->region_start + block) * w->bs;
}

static void prepare(struct job *j, struct slot *s, int measured)
{
	const struct iolens_workload *w = j->run->w;
	struct iolens_op *op = &s->op;
	int tries = 0;

	op->kind = (uint16_t)op_kind_for(j);
	op->flags = 0;
	op->result = 0;
	op->len = op->kind == IOLENS_OP_FSYNC ? 0 : w->bs;
	op->offset = op->kind == IOLENS_OP_FSYNC ? 0 : next_offset(j);
	/*
	 * With verification, two in-flight operations on one block could tear
	 * it; draw again (a handful of tries covers any depth below the file's
	 * block count).
	 */
	if (w->verify && op->kind != IOLENS_OP_FSYNC && j->region_blocks > j->depth)
		while (offset_in_flight(j, op->offset) && tries++ < 64)
			op->offset = next_offset(j);
	if (op->kind == IOLENS_OP_WRITE) {
		j->writes_since_fsync++;
		if (w->verify)
			iolens__block_fill(op->buf, w->bs, op->offset, ++j->stamp);
	}
	s->measured = measured;
	s->busy = 1;
}

static int complete(struct job *j, struct iolens_op *op, uint64_t now)
{
	const struct iolens_workload *w = j->run->w;
	struct slot *s = (struct slot *)op;
	int64_t want = op->kind == IOLENS_OP_FSYNC ? 0 : (int64_t)op->len;
	const char *what;

	s->busy = 0;
	j->freelist[j->nfree++] = op;
	if (op->result != want) {
		if (op->result < 0)
			iolens__job_fail(j, (int)op->result, "%s at offset %llu: %s", op_name(op->kind),
				 (unsigned long long)op->offset, iolens_strerror((int)op->result));
		else
			iolens__job_fail(j, -EIO, "short %s at offset %llu: %lld of %u bytes",
				 op_name(op->kind), (unsigned long long)op->offset,
				 (long long)op->result, op->len);
		return -1;
	}
	if (w->verify && op->kind == IOLENS_OP_READ &&
	    iolens__block_check(op->buf, op->len, op->offset, &what)) {
		iolens__job_fail(j, -EILSEQ, "verify: block at offset %llu: %s",
			 (unsigned long long)op->offset, what);
		return -1;
	}
	if (!s->measured)
		return 0;
	iolens__trace_op(j, op, now);
	iolens__hist_record(j->hist[op->kind], now - op->t_submit);
	if (j->run->counting) {
		j->sync_ns += s->sync_ns;
		j->lat_ns += now - op->t_submit - (j->instr_ns - s->instr_mark);
	}
	if (op->kind != IOLENS_OP_FSYNC) {
		j->ops++;
		j->bytes += (uint64_t)op->result;
	}
	return 0;
}

/* Voluntary context switches of the calling thread so far. */
static uint64_t thread_vcsw(struct job *j)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	j->instr_calls++;
	return (uint64_t)ru.ru_nvcsw;
}

/* One call into the backend, its time and the switches inside it. */
struct probe {
	uint64_t v0, t0, t_in;
};

static void probe_begin(struct job *j, struct probe *p)
{
	p->t0 = now_ns();
	p->v0 = thread_vcsw(j);
	p->t_in = now_ns();
	j->instr_ns += p->t_in - p->t0;
}

/* Time inside the call; adds its switches to *vcsw. */
static uint64_t probe_end(struct job *j, const struct probe *p, uint64_t *vcsw)
{
	uint64_t t_out = now_ns(), v1 = thread_vcsw(j);

	*vcsw += v1 - p->v0;
	j->instr_ns += now_ns() - t_out;
	return t_out - p->t_in;
}

int iolens__job_submit(struct job *j, struct iolens_ctx *ctx, struct iolens_op **ops, unsigned n,
		       int probing)
{
	struct probe pr;
	int r;

	if (probing)
		probe_begin(j, &pr);
	r = iolens_ctx_submit(ctx, ops, n);
	if (probing) {
		uint64_t before = j->vcsw_submit, in_call = probe_end(j, &pr, &j->vcsw_submit);

		j->submits++;
		j->submits_slept += j->vcsw_submit != before;
		for (int i = 0; i < r; i++)
			((struct slot *)ops[i])->sync_ns = in_call;
	}
	if (r < 0)
		iolens__job_fail(j, r, "submit: %s", iolens_strerror(r));
	return r;
}

/* The backend's count of waits it entered: what tells a wait from a data call. */
static uint64_t ctx_waits(const struct iolens_ctx *ctx)
{
	struct iolens_backend_stats st;

	iolens_ctx_stats(ctx, &st);
	return st.waits;
}

int iolens__job_reap(struct job *j, struct iolens_ctx *ctx, unsigned min, int64_t timeout_ns,
		     int probing)
{
	struct probe pr;
	uint64_t waits = 0;
	int got;

	if (probing) {
		waits = ctx_waits(ctx);
		probe_begin(j, &pr);
	}
	got = iolens_ctx_reap(ctx, j->done, min, j->depth, timeout_ns);
	if (probing) {
		uint64_t v = 0;

		probe_end(j, &pr, &v);
		j->vcsw_wait += v;
		/*
		 * A reap that entered no wait (the backend counts each one)
		 * slept, if at all, in the data calls it made: a readiness
		 * backend's pread after a poll that found the file ready.
		 */
		if (ctx_waits(ctx) != waits) {
			j->reaps_waited++;
			j->reaps_waited_slept += v != 0;
		}
		j->reaps++;
		j->reaps_slept += v != 0;
	}
	if (got < 0)
		iolens__job_fail(j, got, "reap: %s", iolens_strerror(got));
	return got;
}

static void job_loop(struct job *j, struct iolens_ctx *ctx)
{
	struct run *run = j->run;
	const unsigned batch = run->w->batch < j->depth ? run->w->batch : j->depth;
	const unsigned per_call = run->w->submit_batch;
	uint64_t submitted = 0, measured_done = 0;
	unsigned inflight = 0;

	for (;;) {
		int ph = atomic_load_explicit(&run->phase, memory_order_relaxed);
		int measuring = ph == PHASE_MEASURE;
		int quota_left = !(run->ops_mode && measuring && submitted >= j->quota);
		int probing = measuring && run->counting;
		unsigned n = j->npending;
		int r, got;
		uint64_t now;
		if (ph >= PHASE_HALT)
			return;
		if (run->ops_mode && measuring && measured_done >= j->quota) {
			j->t_end = now_ns();
			return;
		}
		if (quota_left && j->nfree && (inflight == 0 || j->nfree >= batch)) {
			now = now_ns();
			while (j->nfree && (!run->ops_mode || !measuring || submitted < j->quota)) {
				struct slot *s = (struct slot *)j->freelist[--j->nfree];

				prepare(j, s, measuring);
				s->op.t_submit = now;
				s->instr_mark = j->instr_ns;
				s->sync_ns = 0;
				j->batch[n++] = &s->op;
				/* --ops counts reads and writes; fsyncs ride along. */
				submitted += (uint64_t)(measuring && s->op.kind != IOLENS_OP_FSYNC);
			}
		}
		if (n) {
			unsigned sent = 0, k;

			/*
			 * --submit-batch: the ready ops go in calls of at most
			 * per_call; each call after the first stamps its ops
			 * anew, its own submitted batch, and the harness's own
			 * time is taken out of their latency from there on.
			 */
			do {
				k = per_call && n - sent > per_call ? per_call : n - sent;
				if (sent) {
					now = now_ns();
					for (unsigned i = sent; i < sent + k; i++) {
						j->batch[i]->t_submit = now;
						((struct slot *)j->batch[i])->instr_mark = j->instr_ns;
					}
				}
				r = iolens__job_submit(j, ctx, j->batch + sent, k, probing);
				if (r < 0)
					return;
				sent += (unsigned)r;
			} while ((unsigned)r == k && sent < n);
			inflight += sent;
			j->npending = n - sent;
			if (sent && j->npending)
				memmove(j->batch, j->batch + sent, j->npending * sizeof(*j->batch));
		}
		if (!inflight) {
			if (j->npending) {
				iolens__job_fail(j, -EAGAIN, "submit: backend accepted nothing with nothing in flight");
				return;
			}
			continue;
		}
		got = iolens__job_reap(j, ctx, batch < inflight ? batch : inflight, REAP_TIMEOUT_NS,
				       probing);
		if (got < 0)
			return;
		now = now_ns();
		inflight -= (unsigned)got;
		for (int i = 0; i < got; i++) {
			if (complete(j, j->done[i], now))
				return;
			measured_done += (uint64_t)(((struct slot *)j->done[i])->measured &&
						    j->done[i]->kind != IOLENS_OP_FSYNC);
		}
	}
}

static void *job_main(void *arg)
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
	if (run->counting) {
		j->sc_fd = iolens__syscount_thread();
		j->io_fd = iolens__syscount_thread_io();
		j->enter_fd = iolens__syscount_thread_named("io_uring_enter");
	}
	r = iolens__pin_job(j);
	if (r)
		iolens__job_fail(j, r, "--cpu: cannot pin job thread %u: %s", j->index,
				 iolens_strerror(r));
	else
		r = iolens_ctx_open(&ctx, spec->info->name, &o);
	if (r && !j->err)
		iolens__job_fail(j, r, "%s init: %s", spec->info->name, iolens_strerror(r));
	pthread_mutex_lock(&run->lock);
	atomic_fetch_add(&run->ready, 1);
	pthread_cond_broadcast(&run->cond);
	while (atomic_load(&run->phase) == PHASE_WAIT)
		pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	if (!r && atomic_load(&run->phase) != PHASE_ABORT) {
		if (run->net)
			iolens__net_loop(j, ctx);
		else
			job_loop(j, ctx);
	}
	if (!j->t_end)
		j->t_end = now_ns();
	/* Tear nothing down inside the window: wait for the main thread's end snapshot. */
	pthread_mutex_lock(&run->lock);
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

static int job_setup(struct job *j, struct run *run, unsigned index, unsigned nthreads,
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
	j->slots = calloc(depth, sizeof(*j->slots));
	j->freelist = calloc(depth, sizeof(*j->freelist));
	j->batch = calloc(depth, sizeof(*j->batch));
	j->done = calloc(depth, sizeof(*j->done));
	j->iov = calloc(depth, sizeof(*j->iov));
	if (!j->slots || !j->freelist || !j->batch || !j->done || !j->iov ||
	    posix_memalign((void **)&j->bufs, align, (size_t)depth * w->bs))
		return -ENOMEM;
	for (unsigned k = 0; k < K__COUNT; k++)
		if (run->issues[k] && !(j->hist[k] = iolens_hist_new()))
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

static void job_free(struct job *j)
{
	/* A job the setup loop never reached is all zeros, descriptors too: nothing of its own. */
	if (!j->run)
		return;
	iolens__net_free(j);
	free(j->trace);
	if (j->fd >= 0)
		close(j->fd);
	if (j->sc_fd >= 0)
		close(j->sc_fd);
	if (j->io_fd >= 0)
		close(j->io_fd);
	if (j->enter_fd >= 0)
		close(j->enter_fd);
	for (unsigned k = 0; k < K__COUNT; k++)
		iolens_hist_free(j->hist[k]);
	free(j->slots);
	free(j->freelist);
	free(j->batch);
	free(j->done);
	free(j->iov);
	free(j->bufs);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void add_stats(struct iolens_backend_stats *dst, const struct iolens_backend_stats *src)
{
	dst->submit_calls += src->submit_calls;
	dst->reap_calls += src->reap_calls;
	dst->submitted += src->submitted;
	dst->completed += src->completed;
	dst->completed_inline += src->completed_inline;
	dst->fallbacks += src->fallbacks;
	dst->ready_at_once += src->ready_at_once;
	dst->waits += src->waits;
	dst->nowait_tries += src->nowait_tries;
	dst->nowait_eagain += src->nowait_eagain;
	if (!dst->setup[0])
		memcpy(dst->setup, src->setup, sizeof(dst->setup));
}

static void set_status(struct iolens_result *r, int status, int err, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->error = err;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Sleep until `deadline` (ns) or until the stop flag or all jobs finished. */
static int wait_until(struct run *run, uint64_t deadline, unsigned nthreads)
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

static const char *unsupported_need(const struct run *run, uint32_t caps)
{
	static const char *const what[K__COUNT] = { "file reads", "file writes", "fsync" };

	for (unsigned k = 0; k < K__COUNT; k++)
		if (run->issues[k] && !(caps & IOLENS_CAP_OP(k)))
			return what[k];
	return NULL;
}

static void summarise(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n,
		      struct iolens_hist *all)
{
	for (unsigned k = 0; k < K__COUNT; k++) {
		struct iolens_hist *h = NULL;

		for (unsigned i = 0; i < n; i++) {
			if (!jobs[i].hist[k])
				continue;
			if (!h)
				h = iolens_hist_new();
			if (!h)
				break;
			iolens_hist_merge(h, jobs[i].hist[k]);
		}
		if (!h)
			continue;
		r->by_kind[k].ops = h->count;
		iolens__hist_summary(h, &r->by_kind[k].lat);
		if (k != K_FSYNC)
			iolens_hist_merge(all, h);
		iolens_hist_free(h);
	}
	iolens__hist_summary(all, &r->lat);
	for (unsigned i = 0; i < n; i++) {
		r->ops += jobs[i].ops;
		r->bytes += jobs[i].bytes;
		add_stats(&r->stats, &jobs[i].stats);
		if (jobs[i].err && r->status == IOLENS_STATUS_OK)
			set_status(r, IOLENS_STATUS_ERROR, jobs[i].err, "%s", jobs[i].errmsg);
	}
	if (run->net)
		iolens__net_summarise(r, run, jobs, n, all);
	if (r->seconds > 0) {
		r->iops = (double)r->ops / r->seconds;
		r->mib_s = (double)r->bytes / r->seconds / (1024.0 * 1024.0);
	}
	if (r->ops)
		r->cpu_per_op_ns = (r->cpu_user_s + r->cpu_sys_s) * 1e9 / (double)r->ops;
}

/*
 * The closing snapshot of a counting pass. The jobs have left their loops
 * but may still be on their way into the wait that parks them, so take the
 * process-wide counts between two reads of every job's own counter and
 * retry until no job made a call in between: then the job threads' share
 * of the total is exact, and offloaded holds only other threads' calls.
 */
static void snapshot_end(struct run *run, struct job *jobs, unsigned n, struct iolens__sc_snap *sc1)
{
	for (unsigned tries = 0;; tries++) {
		int still = 1;

		for (unsigned i = 0; i < n; i++)
			jobs[i].sc_end = iolens__counter_value(jobs[i].sc_fd);
		iolens__syscount_read(run->sc, sc1);
		for (unsigned i = 0; i < n && still; i++)
			still = iolens__counter_value(jobs[i].sc_fd) == jobs[i].sc_end;
		if (still || tries == 200)
			return;
		usleep(500);
	}
}

/* CPU seconds a thread has used, or NaN. */
static double thread_cpu(pthread_t t)
{
	struct timespec ts;
	clockid_t c;

	if (pthread_getcpuclockid(t, &c) || clock_gettime(c, &ts))
		return NAN;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The measured model from the counting pass's figures (see model.h). */
static void measure_model(struct iolens_result *r, const struct job *jobs, unsigned n,
			  double cpu_all)
{
	struct iolens__model_in in = {
		.declared = r->model.declared,
		.sc = &r->syscalls,
		.have_io_own = 1,
		.cpu_all = cpu_all,
		.resident = r->workload.direct ? -1 : r->resident_before,
		.completed = r->stats.completed,
		.completed_inline = r->stats.completed_inline,
		.fallbacks = r->stats.fallbacks,
		.ready_waits = r->stats.waits,
		.ready_now = r->stats.ready_at_once,
		.nowait_tries = r->stats.nowait_tries,
		.nowait_eagain = r->stats.nowait_eagain,
	};

	for (unsigned i = 0; i < n; i++) {
		in.have_io_own &= jobs[i].io_fd >= 0;
		in.io_own += jobs[i].io_end - jobs[i].io_start;
		if (jobs[i].enter_fd >= 0)
			in.enter_own += jobs[i].enter_end - jobs[i].enter_start;
		in.sync_ns += jobs[i].sync_ns;
		in.lat_ns += jobs[i].lat_ns;
		in.vcsw_submit += jobs[i].vcsw_submit;
		in.vcsw_wait += jobs[i].vcsw_wait;
		in.reaps += jobs[i].reaps;
		in.reaps_slept += jobs[i].reaps_slept;
		in.reaps_waited += jobs[i].reaps_waited;
		in.reaps_waited_slept += jobs[i].reaps_waited_slept;
		in.submits += jobs[i].submits;
		in.submits_slept += jobs[i].submits_slept;
		in.cpu_jobs += jobs[i].cpu_end - jobs[i].cpu_start;
	}
	iolens__model_measure(&r->model, &in);
}

static void account_syscalls(struct iolens_result *r, const struct run *run, const struct job *jobs,
			     unsigned n, const struct iolens__sc_snap *a, const struct iolens__sc_snap *b,
			     const struct iolens__helpers *h0, const struct iolens__helpers *h1)
{
	struct iolens_syscalls *s = &r->syscalls;
	uint64_t named = 0, own = 0, instr = 0;

	s->measured = 1;
	snprintf(s->method, sizeof(s->method), "perf raw_syscalls:sys_enter, filtered by number");
	s->ops = r->ops;
	/* The per-call getrusage brackets are the job threads' only calls of the harness's own. */
	for (unsigned i = 0; i < n; i++)
		instr += jobs[i].instr_calls;
	s->total = b->total - a->total;
	s->total = s->total > instr ? s->total - instr : 0;
	for (unsigned i = 0; i < iolens__sc_nnames; i++) {
		s->by_name[i] = b->name[i] - a->name[i];
		named += s->by_name[i];
	}
	/* Counters are read one after another while jobs run: clamp the skew. */
	s->other = s->total > named ? s->total - named : 0;
	for (unsigned i = 0; i < n; i++)
		own += jobs[i].sc_end - jobs[i].sc_start;
	own = own > instr ? own - instr : 0;
	s->offloaded = s->total > own ? s->total - own : 0;
	r->syscalls_job.total = own;
	r->syscalls_job.io = r->syscalls_job.io_uring_enter = 0;
	r->syscalls_job.measured = 1;
	for (unsigned i = 0; i < n; i++) {
		r->syscalls_job.measured &=
		    jobs[i].sc_fd >= 0 && jobs[i].io_fd >= 0 && jobs[i].enter_fd >= 0;
		r->syscalls_job.io += jobs[i].io_end - jobs[i].io_start;
		r->syscalls_job.io_uring_enter += jobs[i].enter_end - jobs[i].enter_start;
	}
	s->per_op = s->ops ? (double)s->total / (double)s->ops : 0;
	s->io_uring = strcmp(run->spec->info->name, "io_uring") == 0 && run->sc->fd_iou[0] >= 0;
	if (s->io_uring) {
		s->iou_submitted = b->iou[IOLENS_IOU_SUBMIT] - a->iou[IOLENS_IOU_SUBMIT];
		s->iou_punted = b->iou[IOLENS_IOU_PUNT] - a->iou[IOLENS_IOU_PUNT];
		s->iou_completed = b->iou[IOLENS_IOU_COMPLETE] - a->iou[IOLENS_IOU_COMPLETE];
	}
	s->helper_threads = h1->n;
	s->helper_cpu_s = iolens__helpers_cpu(h0, h1);
}

/* Whether this pass can count; if not, the result says why. */
static int can_count(struct iolens_result *r, const struct run *run)
{
	/*
	 * glibc keeps idle AIO threads for a second; one created before the
	 * counters would serve this pass's requests unseen. Other leftover
	 * threads do no work for us.
	 */
	if (run->stale_threads && strcmp(run->spec->info->name, "posix-aio") == 0) {
		snprintf(r->syscalls.why, sizeof(r->syscalls.why),
			 "helper threads older than the counters were still alive: their syscalls could not be counted");
		return 0;
	}
	return run->sc != NULL;
}

/*
 * serve: start the load generator on this pass's listener, let the jobs run
 * (their accepts are setup, outside the window) and wait until every
 * connection is accepted. 0, or -errno with the result's status set.
 */
static int serve_start(struct iolens_result *r, struct run *run, struct job *jobs, unsigned n)
{
	const struct iolens_workload *w = run->w;
	struct iolens__loadgen_opts o = {
		.conns = w->conns,
		.msg = iolens__net_msg(w),
		.depth = w->depth,
	};
	uint64_t deadline = now_ns() + (30ull + w->conns / 500) * 1000000000ull;
	char why[256] = "";
	int e;

	o.addr.len = sizeof(o.addr.ss);
	o.addr.transport = w->transport;
	if (getsockname(run->listen_fd, (struct sockaddr *)&o.addr.ss, &o.addr.len)) {
		e = -errno;
		set_status(r, IOLENS_STATUS_ERROR, e, "getsockname: %s", iolens_strerror(e));
		return e;
	}
	e = iolens__peer_proc_lg_start(run->peer, &o, why,
				       sizeof(why));
	if (e) {
		set_status(r, IOLENS_STATUS_ERROR, e, "load generator: %s", why);
		return e;
	}
	run->lg_started = 1;
	for (;;) {
		unsigned got = atomic_load(&run->accepted);
		struct timespec ts = { 0, 2000000 };

		if (got == w->conns)
			return 0;
		for (unsigned i = 0; i < n; i++)
			if (jobs[i].err) {
				set_status(r, IOLENS_STATUS_ERROR, jobs[i].err,
					   "accepted %u of %u connections: %s", got, w->conns,
					   jobs[i].errmsg);
				return jobs[i].err;
			}
		if (now_ns() > deadline || (w->stop && *w->stop)) {
			e = w->stop && *w->stop ? -EINTR : -ETIMEDOUT;
			set_status(r, IOLENS_STATUS_ERROR, e,
				   "accepted only %u of %u connections (RLIMIT_NOFILE %llu): %s", got,
				   w->conns, (unsigned long long)run->t->nofile,
				   e == -EINTR ? "interrupted" : "timed out waiting for the rest");
			r->interrupted = e == -EINTR;
			return e;
		}
		nanosleep(&ts, NULL);
	}
}

/* The load generator's figures, taken before the jobs hang up. */
static void serve_finish(struct iolens_result *r, struct run *run)
{
	struct iolens__loadgen_result g = { 0 };

	if (!run->lg_started)
		return;
	iolens__peer_proc_lg_finish(run->peer, &g);
	run->lg_started = 0;
	run->lg_requests = g.requests;
	run->lg_bytes = g.bytes;
	run->lg_hist = g.hist;
	r->net.conns_open = g.connected;
	if (g.err && r->status == IOLENS_STATUS_OK)
		set_status(r, IOLENS_STATUS_ERROR, g.err, "load generator: %s", g.errmsg);
}

/* A serve pass that could not start: wake every blocked accept and stop. */
static void serve_abort(struct run *run)
{
	struct iolens__loadgen_result g = { 0 };

	if (run->lg_started) {
		iolens__peer_proc_lg_finish(run->peer, &g);
		iolens_hist_free(g.hist);
		run->lg_started = 0;
	}
	shutdown(run->listen_fd, SHUT_RDWR);
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_ABORT);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
}

static int by_submit(const void *a, const void *b)
{
	const struct iolens_trace_op *x = a, *y = b;

	return x->submit_ns < y->submit_ns ? -1 : x->submit_ns > y->submit_ns;
}

/* Every job's traced ops, in submission order, from the window's start. */
static void gather_trace(struct iolens_result *r, struct job *jobs, unsigned n, uint64_t t0)
{
	struct iolens_trace_op *all;
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += jobs[i].ntrace;
	if (!total || !(all = malloc(total * sizeof(*all))))
		return;
	total = 0;
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < jobs[i].ntrace; k++) {
			all[total] = jobs[i].trace[k];
			all[total].submit_ns = all[total].submit_ns > t0 ? all[total].submit_ns - t0 : 0;
			all[total++].complete_ns -= t0;
		}
	qsort(all, total, sizeof(*all), by_submit);
	r->trace = all;
	r->ntrace = total;
}

static void execute(struct iolens_result *r, struct run *run, struct iolens_hist *all)
{
	const struct iolens_workload *w = run->w;
	uint32_t caps = run->spec->info->caps;
	int tpo = (caps & IOLENS_CAP_THREAD_PER_OP) && (run->net || w->depth > 1);
	unsigned nthreads = run->net ? iolens__net_threads(run) : w->jobs * (tpo ? w->depth : 1);
	unsigned created = 0;
	int flags = O_CLOEXEC | (run->writes ? O_RDWR : O_RDONLY) | (w->direct ? O_DIRECT : 0) |
		    ((caps & IOLENS_CAP_NONBLOCK_FD) ? O_NONBLOCK : 0);
	struct rusage ru0, ru1;
	struct iolens__sc_snap sc0, sc1;
	struct iolens__helpers h0 = { 0 }, h1 = { 0 };
	double main_cpu0 = 0, main_cpu1 = 0;
	struct job *jobs;
	pthread_attr_t attr;
	uint64_t t0, t1 = 0;
	int err = 0, interrupted = 0, serving = 0;
	char why[256] = "";

	r->thread_per_op = tpo;
	run->counting = can_count(r, run);
	if (nthreads > MAX_THREADS) {
		set_status(r, IOLENS_STATUS_ERROR, -EINVAL,
			   run->net ? "%u threads (one per connection) is over the limit of %u"
				    : "%u threads (--jobs x --depth, thread per request) is over the limit of %u",
			   nthreads, MAX_THREADS);
		return;
	}
	jobs = calloc(nthreads, sizeof(*jobs));
	if (!jobs) {
		set_status(r, IOLENS_STATUS_ERROR, -ENOMEM, "out of memory");
		return;
	}
	if (run->net) {
		err = iolens__net_setup(run, jobs, nthreads, why, sizeof(why));
		if (err) {
			set_status(r, IOLENS_STATUS_ERROR, err, "%s", why);
			goto out;
		}
		goto threads;
	}
	for (unsigned i = 0; i < nthreads && !err; i++)
		err = job_setup(&jobs[i], run, i, nthreads, tpo ? 1 : w->depth, flags);
	if (err) {
		set_status(r, IOLENS_STATUS_ERROR, err, "setting up jobs on '%s': %s", run->t->path,
			   iolens_strerror(err));
		goto out;
	}
	if (!w->direct) {
		err = iolens__target_prepare_cache((struct iolens_target *)run->t, w->cache);
		if (err) {
			set_status(r, IOLENS_STATUS_ERROR, err, "preparing the page cache: %s",
				   iolens_strerror(err));
			goto out;
		}
	}
	r->resident_before = iolens__target_residency(run->t);
threads:
	run->trace_cap = run->counting ? 0 : w->trace;
	for (unsigned i = 0; i < nthreads && run->trace_cap; i++)
		if (!(jobs[i].trace = calloc(run->trace_cap, sizeof(*jobs[i].trace)))) {
			set_status(r, IOLENS_STATUS_ERROR, -ENOMEM, "out of memory for --trace");
			goto out;
		}
	pthread_attr_init(&attr);
	if (tpo)
		pthread_attr_setstacksize(&attr, run->net ? NET_TPO_STACK : TPO_STACK);
	for (; created < nthreads; created++) {
		err = pthread_create(&jobs[created].tid, &attr, job_main, &jobs[created]);
		if (err) {
			err = -err;
			break;
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&run->lock);
	while (atomic_load(&run->ready) < created)
		pthread_cond_wait(&run->cond, &run->lock);
	for (unsigned i = 0; i < created && !err; i++)
		err = jobs[i].err;
	/*
	 * Without a warm-up the jobs stay parked until the window opens: no op
	 * escapes it. A server must accept its connections before that.
	 */
	serving = !err && w->kind == IOLENS_WL_SERVE;
	if (err || w->warmup_s > 0 || serving) {
		atomic_store(&run->phase, err ? PHASE_ABORT : PHASE_WARMUP);
		pthread_cond_broadcast(&run->cond);
	}
	pthread_mutex_unlock(&run->lock);
	if (serving && (err = serve_start(r, run, jobs, nthreads))) {
		serve_abort(run);
		for (unsigned i = 0; i < created; i++)
			pthread_join(jobs[i].tid, NULL);
		goto out;
	}
	if (err) {
		for (unsigned i = 0; i < created; i++)
			pthread_join(jobs[i].tid, NULL);
		if (created < nthreads)
			set_status(r, IOLENS_STATUS_ERROR, err,
				   "could start only %u of %u threads: %s", created, nthreads,
				   iolens_strerror(err));
		else
			for (unsigned i = 0; i < nthreads; i++)
				if (jobs[i].err) {
					set_status(r, jobs[i].err == -ENOSYS || jobs[i].err == -EOPNOTSUPP
							      ? IOLENS_STATUS_SKIPPED
							      : IOLENS_STATUS_ERROR,
						   jobs[i].err, "%s", jobs[i].errmsg);
					break;
				}
		goto out;
	}
	interrupted = wait_until(run, now_ns() + (uint64_t)(w->warmup_s * 1e9), nthreads);
	/*
	 * The edges read the same counters in the same order, so the main
	 * thread's own reads cancel out of the deltas (see syscount.h).
	 */
	getrusage(RUSAGE_SELF, &ru0);
	if (run->counting) {
		main_cpu0 = thread_cpu(pthread_self());
		iolens__helpers_scan(&h0);
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].cpu_start = thread_cpu(jobs[i].tid);
			jobs[i].io_start = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_start = iolens__counter_value(jobs[i].enter_fd);
			jobs[i].sc_start = iolens__counter_value(jobs[i].sc_fd);
		}
		iolens__syscount_read(run->sc, &sc0);
	}
	pthread_mutex_lock(&run->lock);
	t0 = now_ns();
	atomic_store(&run->phase, PHASE_MEASURE);
	if (serving)
		iolens__peer_proc_lg_measure(run->peer, 1);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	if (!interrupted)
		interrupted = wait_until(run, run->ops_mode ? UINT64_MAX : t0 + (uint64_t)(w->time_s * 1e9),
					 nthreads);
	if (run->ops_mode && !interrupted) {
		for (unsigned i = 0; i < nthreads; i++)
			if (jobs[i].t_end > t1)
				t1 = jobs[i].t_end;
	} else {
		t1 = now_ns();
	}
	if (serving)
		iolens__peer_proc_lg_measure(run->peer, 0);
	/*
	 * The window is shut: a job measures no op it starts after t1, however
	 * long the main thread takes from here to the end snapshot. Counting
	 * (or serving) waits for every job out of its loop, so no call is half
	 * counted at the edge and no server sees the load generator hang up
	 * while it still counts.
	 */
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_HALT);
	pthread_cond_broadcast(&run->cond);
	if (run->net && (run->counting || serving))
		iolens__net_wait_loops(run, jobs, nthreads); /* bounded: a peer may have stopped */
	else
		while ((run->counting || serving) && atomic_load(&run->finished) < nthreads)
			pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	iolens__placement(r, run, jobs, nthreads);
	if (run->counting) {
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i].io_end = iolens__counter_value(jobs[i].io_fd);
			jobs[i].enter_end = iolens__counter_value(jobs[i].enter_fd);
		}
		snapshot_end(run, jobs, nthreads, &sc1);
		for (unsigned i = 0; i < nthreads; i++)
			jobs[i].cpu_end = thread_cpu(jobs[i].tid);
	}
	getrusage(RUSAGE_SELF, &ru1);
	if (run->counting) {
		main_cpu1 = thread_cpu(pthread_self());
		iolens__helpers_scan(&h1);
	}
	if (serving)
		serve_finish(r, run);
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->phase, PHASE_STOP);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	if (run->net)
		iolens__net_join(run, jobs, nthreads); /* bounded, as above */
	else
		for (unsigned i = 0; i < nthreads; i++)
			pthread_join(jobs[i].tid, NULL);
	if (!run->net)
		r->resident_after = iolens__target_residency(run->t);
	r->interrupted = interrupted;
	r->seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	r->cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	r->cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	r->vcsw = (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw);
	r->ivcsw = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
	summarise(r, run, jobs, nthreads, all);
	if (run->trace_cap)
		gather_trace(r, jobs, nthreads, t0);
	if (run->counting) {
		account_syscalls(r, run, jobs, nthreads, &sc0, &sc1, &h0, &h1);
		measure_model(r, jobs, nthreads,
			      r->cpu_user_s + r->cpu_sys_s - (main_cpu1 - main_cpu0));
	}
	if (w->verify && run->writes && r->status == IOLENS_STATUS_OK) {
		uint64_t bad = 0;
		const char *what = "";
		int v = iolens__target_verify(run->t, &bad, &what);

		if (v)
			set_status(r, IOLENS_STATUS_ERROR, v, "verify after writing: block at offset %llu: %s",
				   (unsigned long long)bad, what);
	}
out:
	for (unsigned i = 0; i < nthreads; i++)
		job_free(&jobs[i]);
	free(jobs);
	if (run->net)
		iolens__net_unlisten(run);
	run->listen_fd = -1;
	iolens_hist_free(run->lg_hist);
	run->lg_hist = NULL;
}

static void one_pass(struct iolens_result *r, struct run *run, struct iolens_hist *all)
{
	atomic_store(&run->phase, PHASE_WAIT);
	atomic_store(&run->ready, 0);
	atomic_store(&run->finished, 0);
	atomic_store(&run->accepted, 0);
	pthread_mutex_init(&run->lock, NULL);
	pthread_cond_init(&run->cond, NULL);
	execute(r, run, all);
	r->threads = run->net	       ? iolens__net_threads(run)
		     : r->thread_per_op ? run->w->jobs * run->w->depth
					 : run->w->jobs;
	pthread_cond_destroy(&run->cond);
	pthread_mutex_destroy(&run->lock);
}

/*
 * The counting pass: the same workload again with the counters on. Only its
 * syscall figures are kept (with the ops of its own window); a failure in it
 * fails the result as any pass would.
 */
static void counting_pass(struct iolens_result *r, const struct iolens_result *fresh,
			  struct run *run)
{
	struct iolens_result *c = malloc(sizeof(*c));
	struct iolens_hist *scratch = iolens_hist_new();

	if (!c || !scratch) {
		free(c);
		iolens_hist_free(scratch);
		snprintf(r->syscalls.why, sizeof(r->syscalls.why), "counting pass: out of memory");
		return;
	}
	*c = *fresh;
	c->hist = scratch;
	one_pass(c, run, scratch);
	if (c->interrupted) {
		/* Interrupted while counting: keep the timing figures, say so. */
		snprintf(r->syscalls.why, sizeof(r->syscalls.why), "not counted: interrupted");
		r->interrupted = 1;
	} else {
		r->syscalls = c->syscalls;
		r->syscalls.pass = IOLENS_COUNT_SEPARATE;
		r->syscalls_job = c->syscalls_job;
		r->model = c->model;
		if (c->status != IOLENS_STATUS_OK) {
			r->status = c->status;
			r->error = c->error;
			snprintf(r->reason, sizeof(r->reason), "counting pass: %.200s", c->reason);
			if (c->net.data_check == IOLENS_CHECK_MISMATCH)
				r->net.data_check = IOLENS_CHECK_MISMATCH;
		}
	}
	free(c);
	iolens_hist_free(scratch);
}

/* One spec's run: its parsed spec, its run state and its result. */
struct spec_run {
	struct iolens__spec sp;
	struct run run;
	struct iolens_result *r;
	struct iolens_result fresh; /* r before any pass: the counting pass starts from it */
	struct iolens_hist *all;
};

/* What a socket workload needs that the backend cannot do, or NULL. */
static const char *net_need(int kind, uint32_t caps)
{
	if (!(caps & IOLENS_CAP_OP(IOLENS_OP_SEND)))
		return "socket sends";
	if (kind != IOLENS_WL_STREAM && !(caps & IOLENS_CAP_OP(IOLENS_OP_RECV)))
		return "socket receives";
	if (kind == IOLENS_WL_SERVE && !(caps & IOLENS_CAP_OP(IOLENS_OP_ACCEPT)))
		return "accept";
	return NULL;
}

/* Parse the spec and set up the result; skips are decided here. */
static int prepare_spec(struct spec_run *x, struct iolens_target *t, const struct iolens_workload *w,
		   const char *spec, char *err, size_t errlen)
{
	struct run *run = &x->run;
	struct iolens_result *r;
	const char *need;
	int e = iolens__spec_parse(spec, &x->sp, err, errlen);

	if (!e)
		e = iolens__spec_fits(&x->sp, w->kind, err, errlen);
	if (e)
		return e;
	r = x->r = iolens__spec_result(&x->sp, w, t->path);
	x->all = iolens_hist_new();
	if (!r || !x->all) {
		free(r);
		iolens_hist_free(x->all);
		x->r = NULL;
		return -ENOMEM;
	}
	r->hist = x->all;
	*run = (struct run){ .w = w, .t = t, .spec = &x->sp, .listen_fd = -1 };
	run->ops_mode = w->ops > 0;
	run->net = t->net;
	run->peer = &t->peer_proc;
	if (run->net) {
		r->net.msg = iolens__net_msg(w);
		r->net.conns = w->conns;
		r->net.nofile_limit = t->nofile;
		snprintf(r->net.peer, sizeof(r->net.peer), "%.127s", t->path);
		r->resident_before = r->resident_after = -1;
		need = net_need(w->kind, x->sp.info->caps);
		goto decide;
	}
	run->writes = w->kind == IOLENS_WL_WRITE || w->kind == IOLENS_WL_RANDWRITE ||
		      w->kind == IOLENS_WL_RANDRW;
	run->issues[K_READ] = w->kind != IOLENS_WL_WRITE && w->kind != IOLENS_WL_RANDWRITE;
	run->issues[K_WRITE] = run->writes;
	run->issues[K_FSYNC] = w->fsync_every != 0;
	need = unsupported_need(run, x->sp.info->caps);
decide:
	if (!x->sp.info->available)
		set_status(r, IOLENS_STATUS_SKIPPED, -ENOSYS, "unavailable: %s", x->sp.info->reason);
	else if (need)
		set_status(r, IOLENS_STATUS_SKIPPED, -EOPNOTSUPP, "%s cannot do %s",
			   x->sp.info->name, need);
	else if (w->verify && strcmp(x->sp.info->name, "null") == 0)
		set_status(r, IOLENS_STATUS_SKIPPED, -EOPNOTSUPP,
			   "null does no I/O: nothing to verify");
	x->fresh = *r;
	return 0;
}

/* Open one set of counters for every counting pass; 0 or -errno with why. */
/*
 * Open one set of counters for the passes of x[0..n). glibc keeps idle AIO
 * threads for a second and counters only follow threads created after them,
 * so with posix-aio in the batch wait for those to go first; nothing else
 * is counted on threads that existed before (a program's own threads).
 */
static int open_session(struct iolens__syscount *sc, const struct spec_run *x, size_t n,
			int *stale, char *why, size_t len)
{
	*stale = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(x[i].sp.info->name, "posix-aio") == 0) {
			*stale = !iolens__wait_single_thread(3000);
			break;
		}
	return iolens__syscount_open(sc, why, len);
}

static int interrupted(const struct iolens_workload *w)
{
	return w->stop && *w->stop;
}

/*
 * Every timing pass runs first, with no counter open anywhere (a perf
 * tracepoint slows every syscall of the process while it exists); then one
 * set of counters serves every counting pass, because closing them costs
 * the kernel a grace period per counter.
 */
static int run_many(struct iolens_target *t, const struct iolens_workload *w,
		    const char *const *specs, size_t n, struct iolens_result **out, char *err,
		    size_t errlen)
{
	struct spec_run *x = calloc(n ? n : 1, sizeof(*x));
	struct iolens__syscount sc;
	char why[192] = "";
	int e = 0, stale = 0, have_sc = 0;

	if (!x)
		return -ENOMEM;
	for (size_t i = 0; i < n && !e; i++)
		e = prepare_spec(&x[i], t, w, specs[i], err, errlen);
	if (e) {
		for (size_t i = 0; i < n; i++)
			iolens_result_free(x[i].r);
		free(x);
		return e;
	}
	if (w->count == IOLENS_COUNT_INLINE)
		have_sc = !open_session(&sc, x, n, &stale, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		x[i].run.sc = have_sc ? &sc : NULL;
		x[i].run.stale_threads = stale;
		if (x[i].r->status == IOLENS_STATUS_OK && interrupted(w)) {
			set_status(x[i].r, IOLENS_STATUS_NOT_RUN, -EINTR,
				   "interrupted before it started");
		} else if (x[i].r->status == IOLENS_STATUS_OK) {
			if (w->on_pass)
				w->on_pass(w->on_pass_arg, specs[i], 0);
			one_pass(x[i].r, &x[i].run, x[i].all);
		}
		x[i].r->syscalls.pass = w->count;
	}
	if (w->count == IOLENS_COUNT_SEPARATE && !interrupted(w))
		have_sc = !open_session(&sc, x, n, &stale, why, sizeof(why));
	for (size_t i = 0; w->count == IOLENS_COUNT_SEPARATE && i < n; i++) {
		x[i].run.sc = have_sc ? &sc : NULL;
		x[i].run.stale_threads = stale;
		if (x[i].r->status == IOLENS_STATUS_OK && !x[i].r->interrupted && !interrupted(w)) {
			if (w->on_pass)
				w->on_pass(w->on_pass_arg, specs[i], 1);
			counting_pass(x[i].r, &x[i].fresh, &x[i].run);
		}
	}
	if (have_sc)
		iolens__syscount_close(&sc);
	for (size_t i = 0; i < n; i++) {
		struct iolens_syscalls *s = &x[i].r->syscalls;

		struct iolens_model *m = &x[i].r->model;

		if (!s->measured && !s->why[0])
			snprintf(s->why, sizeof(s->why), "%s",
				 w->count == IOLENS_COUNT_OFF ? "not counted (--count off)"
				 : why[0]		       ? why
				 : interrupted(w)	       ? "not counted: interrupted"
							       : "not counted");
		/*
		 * A window that ran its course with no operation completed has no
		 * figure to give (a peer that accepts and never answers, a --delay
		 * longer than --time): that is a failed run, not a rate of 0.
		 */
		if (x[i].r->status == IOLENS_STATUS_OK && !x[i].r->interrupted && !x[i].r->ops)
			set_status(x[i].r, IOLENS_STATUS_ERROR, -ETIMEDOUT, "%s",
				   IOLENS_WL_IS_SOCKET(w->kind)
					   ? "no request completed in the measured window (is the peer answering? is --delay longer than --time?)"
					   : "no operation completed in the measured window");
		if (!m->measured[0] && !m->why[0])
			snprintf(m->why, sizeof(m->why), "not measured: %s", s->why);
		if (x[i].r->status == IOLENS_STATUS_OK && x[i].r->ops)
			m->concurrency = iolens__model_concurrency(x[i].r->iops, x[i].r->lat.mean);
		out[i] = x[i].r;
	}
	free(x);
	return 0;
}

/* Whether t can serve w: the file or peer was set up for this kind of workload. */
static int check_target(const struct iolens_target *t, const struct iolens_workload *w, char *err,
			size_t errlen)
{
	if (!t || !w)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "%s: NULL (open a target with iolens_target_open)",
					   t ? "workload" : "target");
	if (w->kind < 0 || w->kind >= IOLENS_WL__COUNT)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "workload kind: %d is not one of enum iolens_workload_kind",
					   w->kind);
	if (!IOLENS_WL_IS_SOCKET(w->kind) != !t->net)
		return iolens__target_fail(err, errlen, -EINVAL,
					   "target: opened for a %s workload, run with %s",
					   t->net ? "socket" : "disk", iolens_workload_name(w->kind));
	if (!t->net && (w->bs == 0 || w->bs > t->size))
		return iolens__target_fail(err, errlen, -EINVAL,
					   "bs: %u does not fit the target's %llu bytes", w->bs,
					   (unsigned long long)t->size);
	return 0;
}

int iolens_run_many(struct iolens_target *t, const struct iolens_workload *w,
		    const char *const *specs, size_t n, struct iolens_result **out, char *err,
		    size_t errlen)
{
	/* A run measures the process: two at once would count each other. */
	static atomic_flag busy = ATOMIC_FLAG_INIT;
	int e = check_target(t, w, err, errlen);

	if (e)
		return e;
	if (atomic_flag_test_and_set(&busy))
		return iolens__target_fail(err, errlen, -EBUSY,
					   "another run is in progress in this process");
	e = run_many(t, w, specs, n, out, err, errlen);
	atomic_flag_clear(&busy);
	return e;
}

int iolens_run(struct iolens_target *t, const struct iolens_workload *w, const char *spec,
	       struct iolens_result **out, char *err, size_t errlen)
{
	*out = NULL;
	return iolens_run_many(t, w, &spec, 1, out, err, errlen);
}

void iolens_result_free(struct iolens_result *r)
{
	if (!r)
		return;
	iolens_hist_free((struct iolens_hist *)r->hist);
	free((void *)r->trace);
	free(r);
}
