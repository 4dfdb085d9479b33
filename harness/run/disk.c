/*
 * The disk job loop: keep `depth` operations in flight on the job's file,
 * choosing each one's kind and offset as the workload asks, and account
 * each completion (latency, bytes, the check of what a read brought back).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blockfmt.h"
#include "run.h"
static const char *op_name(int kind)
{
	return kind == IOLENS_OP_READ ? "read" : kind == IOLENS_OP_WRITE ? "write" : "fsync";
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
		block = iolens__dist_next(&j->dist, &j->rng);
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
	int bad;

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
	if (w->verify && op->kind == IOLENS_OP_WRITE)
		iolens__target_wrote(j->run->t, op->offset);
	bad = w->verify && op->kind == IOLENS_OP_READ
		      ? iolens__block_check(op->buf, op->len, op->offset, &what)
		      : 0;
	/*
	 * A block without a header in an existing file that this target never
	 * wrote is the file's own data, not a failure: it is counted, unchecked.
	 */
	if (bad == -ENODATA && !iolens__target_ours(j->run->t, op->offset)) {
		j->unchecked_reads += s->measured;
		bad = 0;
	}
	if (bad) {
		iolens__job_fail(j, -EILSEQ, "verify: block at offset %llu: %s",
			 (unsigned long long)op->offset, what);
		return -1;
	}
	if (!s->measured)
		return 0;
	iolens__trace_op(j, op, now);
	if (j->ol_unc) { /* open loop: from when it was due */
		iolens__hist_record(j->hist[op->kind], now - s->t_intended);
		iolens__ol_done(j, s->t_intended, op->t_submit, now);
	} else {
		iolens__hist_record(j->hist[op->kind], now - op->t_submit);
	}
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

void iolens__disk_loop(struct job *j, struct iolens_ctx *ctx)
{
	struct run *run = j->run;
	const unsigned batch = run->w->batch < j->depth ? run->w->batch : j->depth;
	const unsigned per_call = run->w->submit_batch;
	uint64_t submitted = 0, measured_done = 0;
	unsigned inflight = 0;
	const int ol = run->w->rate > 0;

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
		/*
		 * Closed loop: refill every free slot once a batch is free. Open
		 * loop: start every op that is due, as slots allow.
		 */
		if (quota_left && j->nfree && (ol || inflight == 0 || j->nfree >= batch)) {
			unsigned first = n;
			uint64_t t = ol ? now_ns() : 0;

			while (j->nfree && (!run->ops_mode || !measuring || submitted < j->quota) &&
			       (!ol || j->ol_next <= t)) {
				struct slot *s = (struct slot *)j->freelist[--j->nfree];

				prepare(j, s, measuring);
				if (ol)
					s->t_intended = iolens__ol_take(j);
				j->batch[n++] = &s->op;
				/* --ops counts reads and writes; fsyncs ride along. */
				submitted += (uint64_t)(measuring && s->op.kind != IOLENS_OP_FSYNC);
			}
			/*
			 * Stamped once the batch is ready: filling --verify's
			 * blocks is the harness's work, not the backend's.
			 */
			now = now_ns();
			for (unsigned i = first; i < n; i++) {
				struct slot *s = (struct slot *)j->batch[i];

				s->op.t_submit = now;
				s->instr_mark = j->instr_ns;
				s->sync_ns = 0;
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
			if (ol && quota_left) { /* nothing that could complete: wait on the clock */
				now = now_ns();
				if (j->ol_next > now)
					iolens__ol_wait(j, j->ol_next, now);
			}
			continue;
		}
		if (ol) {
			/*
			 * Wait for a completion no later than the next op is due;
			 * one due with no free slot waits for a completion to
			 * free one. Never a loop of looks.
			 */
			int64_t timeout = REAP_TIMEOUT_NS;

			now = now_ns();
			if (j->ol_next <= now)
				timeout = j->nfree && quota_left ? 0 : REAP_TIMEOUT_NS;
			else if (j->ol_next - now < (uint64_t)REAP_TIMEOUT_NS)
				timeout = (int64_t)(j->ol_next - now);
			got = iolens__job_reap(j, ctx, timeout ? 1 : 0, timeout, probing);
		} else {
			got = iolens__job_reap(j, ctx, batch < inflight ? batch : inflight, REAP_TIMEOUT_NS,
					       probing);
		}
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
