#include <errno.h>
#include <math.h>
#include <string.h>

#include "report.h"
#include "verdict.h"

static const char *const status_names[] = { "ok", "skipped", "error", "not run" };


/*
 * Which pass a figure comes from, where there were two: the backend's
 * counters and the rates are the timed pass's, the syscalls and the model
 * the counting pass's. "" when one pass gave them all.
 */
static const char *timed_pass(const struct iolens_result *r)
{
	return r->syscalls.measured && r->syscalls.pass == IOLENS_COUNT_SEPARATE ? " (timed pass)"
										 : "";
}

static const char *counting_pass(const struct iolens_result *r)
{
	return r->syscalls.measured && r->syscalls.pass == IOLENS_COUNT_SEPARATE ? " (counting pass)"
										 : "";
}

static void us(FILE *f, uint64_t ns)
{
	fprintf(f, " %9.1f", (double)ns / 1000.0);
}

static void cache_cell(FILE *f, const struct iolens_result *r)
{
	char cell[24];

	if (r->workload.direct)
		snprintf(cell, sizeof(cell), "direct");
	else if (r->resident_before < 0 || r->resident_after < 0)
		snprintf(cell, sizeof(cell), "n/a");
	else
		snprintf(cell, sizeof(cell), "%.0f%%->%.0f%%", r->resident_before * 100,
			 r->resident_after * 100);
	fprintf(f, " %-11s", cell);
}

static void row(FILE *f, const struct iolens_result *r, int width)
{
	const struct iolens_model *m = &r->model;
	char name[160];

	iolens__result_label(r, name, sizeof(name));
	fprintf(f, "%-*s %-7s", width, name, status_names[r->status]);
	if (r->status != IOLENS_STATUS_OK || !r->ops) {
		fprintf(f, " %10s %9s %9s %9s %9s %9s %11s %10s %-11s %s\n", "-", "-", "-", "-", "-",
			"-", "-", "-", "-", "-");
		return;
	}
	if (IOLENS_WL_IS_SOCKET(r->workload.kind))
		fprintf(f, " %10.0f %9.3f", r->iops, r->net.gbit_s);
	else
		fprintf(f, " %10.0f %9.1f", r->iops, r->mib_s);
	us(f, r->lat.p50);
	us(f, r->lat.p99);
	us(f, r->lat.max);
	fprintf(f, " %9.2f", r->cpu_per_op_ns / 1000.0);
	if (m->measured[0] && !isnan(m->vcsw_per_op_submit) && !isnan(m->vcsw_per_op_wait)) {
		char sw[32];

		snprintf(sw, sizeof(sw), "%.2f|%.2f", m->vcsw_per_op_submit, m->vcsw_per_op_wait);
		fprintf(f, " %11s", sw);
	} else {
		fprintf(f, " %11s", "n/a");
	}
	if (r->syscalls.measured && r->syscalls.ops)
		fprintf(f, " %10.3f", r->syscalls.per_op);
	else
		fprintf(f, " %10s", "n/a");
	cache_cell(f, r);
	if (m->measured[0])
		fprintf(f, " %s%s\n", m->measured, m->mismatch ? " (!)" : "");
	else
		fprintf(f, " n/a\n");
}

/* The syscalls that make up most of the count, and where the count came from. */
static void notes_syscalls(FILE *f, const struct iolens_result *r, const char *b)
{
	const struct iolens_syscalls *sc = &r->syscalls;
	char list[256] = "";
	size_t used = 0;

	if (!sc->measured) {
		fprintf(f, "  %s: syscalls: %s\n", b, sc->why[0] ? sc->why : "not counted");
		return;
	}
	if (!sc->ops)
		return;
	for (unsigned i = 0; i < IOLENS_SYSCALL_NAMES && used < sizeof(list); i++)
		if ((double)sc->by_name[i] / (double)sc->ops >= 0.01)
			used += (size_t)snprintf(list + used, sizeof(list) - used, " %s %.3f",
						 iolens_syscall_name(i),
						 (double)sc->by_name[i] / (double)sc->ops);
	fprintf(f, "  %s: syscalls/op (%s pass):%s other %.3f; offloaded %.3f\n", b,
		sc->pass == IOLENS_COUNT_SEPARATE ? "separate counting" : "timed",
		list, (double)sc->other / (double)sc->ops, (double)sc->offloaded / (double)sc->ops);
	if (sc->io_uring)
		fprintf(f, "  %s: io_uring requests%s: %llu issued inline, %llu punted to io-wq, %llu completed\n",
			b, counting_pass(r), (unsigned long long)(sc->iou_submitted - sc->iou_punted),
			(unsigned long long)sc->iou_punted, (unsigned long long)sc->iou_completed);
	if (sc->helper_threads)
		fprintf(f, "  %s: io_uring kernel helper threads%s: %u, %.2f s CPU\n", b,
			counting_pass(r), sc->helper_threads, sc->helper_cpu_s);
}

/* Declared against measured model, and why; concurrency against the depth asked for. */
static void notes_model(FILE *f, const struct iolens_result *r, const char *b)
{
	const struct iolens_model *m = &r->model;
	char mm[sizeof(m->flags) + 16] = "";

	if (m->mismatch)
		snprintf(mm, sizeof(mm), " (MISMATCH%s%s)", m->flags[0] ? ": " : "", m->flags);
	if (m->measured[0])
		fprintf(f, "  %s: model%s: measured %s, declared %s%s: %s\n", b, counting_pass(r),
			m->measured, m->declared, mm, m->why);
	else
		fprintf(f, "  %s: model: declared %s; %s\n", b, m->declared, m->why);
	if (!isnan(m->concurrency))
		fprintf(f, "  %s: %.1f ops in flight on average (Little's law%s) of %u requested\n", b,
			m->concurrency, timed_pass(r)[0] ? ", timed pass" : "",
			IOLENS_WL_IS_SOCKET(r->workload.kind) ? r->workload.depth * r->workload.conns
							      : r->workload.depth * r->workload.jobs);
}

/* Connections, per-call sizes and where latencies were taken. */
static void notes_net(FILE *f, const struct iolens_result *r, const char *b)
{
	const struct iolens_net_result *x = &r->net;

	fprintf(f, "  %s: %u of %u connections open (RLIMIT_NOFILE %llu), %u %s\n", b,
		x->conns_open, x->conns, (unsigned long long)x->nofile_limit, r->threads,
		r->job_procs ? "processes" : "threads");
	if (x->send_calls)
		fprintf(f, "  %s: %llu sends of %.0f bytes on average\n", b,
			(unsigned long long)x->send_calls, x->bytes_per_send);
	if (x->recv_calls)
		fprintf(f, "  %s: %llu receives of %.0f bytes on average\n", b,
			(unsigned long long)x->recv_calls, x->bytes_per_recv);
	if (x->placement[0])
		fprintf(f, "  %s: placement: %s\n", b, x->placement);
	if (r->workload.kind == IOLENS_WL_STREAM && x->data_check == IOLENS_CHECK_VERIFIED)
		fprintf(f, "  %s: data verified: the sink compared all %llu bytes with the pattern\n", b,
			(unsigned long long)x->sink_bytes);
	else if (x->data_check == IOLENS_CHECK_OFF)
		fprintf(f, "  %s: data not checked: the sink counted %llu bytes without comparing them\n",
			b, (unsigned long long)x->sink_bytes);
	if (x->latency_from)
		fprintf(f, "  %s: latencies are the load generator's round trips\n", b);
}

/* The open loop, any workload: what the generator did beside what the backend did. */
static void notes_open_loop(FILE *f, const struct iolens_result *r, const char *b)
{
	const struct iolens_open_loop *o = &r->open_loop;
	const char *what = IOLENS_WL_IS_SOCKET(r->workload.kind) ? "requests" : "ops";

	if (!o->on)
		return;
	fprintf(f, "  %s: open loop: latency from the intended start; from the actual start: p50 %.1f us, p99 %.1f us\n",
		b, (double)o->uncorrected.p50 / 1e3, (double)o->uncorrected.p99 / 1e3);
	fprintf(f, "  %s: open loop: %.0f %s/s asked, %.0f achieved; the generator started them late "
		"by p50 %.1f us, p99 %.1f us, max %.1f us; %llu over an interval late\n",
		b, o->rate_target, what, r->iops, (double)o->lateness.p50 / 1e3,
		(double)o->lateness.p99 / 1e3, (double)o->lateness.max / 1e3,
		(unsigned long long)o->late);
	if (o->spin_s > 0 && r->ops)
		fprintf(f, "  %s: open loop: the generator spun %.1f us per op to start them on time "
			"(in CPU/op)\n", b, o->spin_s * 1e6 / (double)r->ops);
}

/*
 * Completion waits. With cq-spin the job thread polls the completion queue
 * and never enters the kernel to wait: its waits were spins, not sleeps.
 */
static void notes_waits(FILE *f, const struct iolens_result *r, const char *b)
{
	const struct iolens_backend_stats *s = &r->stats;

	if (!strstr(r->variant, "cq-spin")) {
		fprintf(f, "  %s: %llu waits for completions over %llu reap calls%s\n", b,
			(unsigned long long)s->waits, (unsigned long long)s->reap_calls, timed_pass(r));
		return;
	}
	fprintf(f, "  %s: %llu waits for completions over %llu reap calls%s, each a spin on the completion queue, not a wait in the kernel",
		b, (unsigned long long)s->waits, (unsigned long long)s->reap_calls, timed_pass(r));
	if (r->syscalls_job.measured)
		fprintf(f, " (the job threads made %llu io_uring_enter%s)",
			(unsigned long long)r->syscalls_job.io_uring_enter,
			counting_pass(r)[0] ? " in the counting pass" : "");
	fputc('\n', f);
}

/*
 * Ops done by a plain call: a readiness backend's, where the API refused
 * the file; io_uring's, where an option of the variant could not take the
 * request (those it names).
 */
static void notes_fallbacks(FILE *f, const struct iolens_result *r, const char *b)
{
	static const struct {
		const char *opt, *what;
	} why[] = {
		{ "send-zc", "send-zc on a socket other than TCP or UDP" },
		{ "ms-recv", "ms-recv out of provided buffers" },
		{ "fixed-files", "fixed-files out of registered slots" },
	};
	const struct iolens_backend_stats *s = &r->stats;
	char list[160] = "";
	size_t used = 0;

	if (strcmp(r->backend, "io_uring")) {
		fprintf(f, "  %s: %llu of %llu ops%s %s\n", b, (unsigned long long)s->fallbacks,
			(unsigned long long)s->completed, timed_pass(r),
			!strcmp(r->backend, "libaio")
				? "were connects made with a plain blocking call (the listener's backlog was full)"
				: "fell back to a plain call (the readiness API refused the file)");
		return;
	}
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]) && used < sizeof(list); i++)
		if (strstr(r->variant, why[i].opt))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 used ? "; " : "", why[i].what);
	fprintf(f, "  %s: %llu of %llu ops%s went as plain requests (%s)\n", b,
		(unsigned long long)s->fallbacks, (unsigned long long)s->completed, timed_pass(r),
		list);
}

/* Why a result has no figures, or only some: said whether or not the notes are asked for. */
static void status_note(FILE *f, const struct iolens_result *r)
{
	char b[160];

	iolens__result_label(r, b, sizeof(b));
	if (r->reason[0])
		fprintf(f, "  %s: %s: %s\n", b, status_names[r->status], r->reason);
	if (r->status == IOLENS_STATUS_OK && r->interrupted)
		fprintf(f, "  %s: interrupted: figures cover the window up to the signal\n", b);
	if (r->status == IOLENS_STATUS_OK && r->unchecked_reads)
		fprintf(f, "  %s: verify: %llu of the reads found the file's own data (no iolens header, "
			"in blocks this run never wrote): not checked\n", b,
			(unsigned long long)r->unchecked_reads);
}

/* Depth as threads or processes, and what one of them cost. */
static void notes_workers(FILE *f, const struct iolens_result *r, const char *b)
{
	const char *kind = r->job_procs ? "processes" : "threads";
	char what[96], cost[160];

	if (IOLENS_WL_IS_SOCKET(r->workload.kind))
		snprintf(what, sizeof(what), "%u connections ran on %u %s, one each", r->workload.conns,
			 r->threads, kind);
	else
		snprintf(what, sizeof(what), "depth %u ran as %u %s at depth 1", r->workload.depth,
			 r->threads, kind);
	snprintf(cost, sizeof(cost), "; one took %.0f us to start (%s)", r->job_start_us,
		 r->job_procs ? "fork" : "pthread_create");
	if (!isnan(r->job_mem_kib))
		snprintf(cost + strlen(cost), sizeof(cost) - strlen(cost), " and kept %.0f KiB (%s)",
			 r->job_mem_kib,
			 r->job_procs ? "private pages and page tables" : "resident stack");
	fprintf(f, "  %s: %s (%s)%s\n", b, what,
		r->job_procs ? "prefork" : "thread per request", isnan(r->job_start_us) ? "" : cost);
}

static void notes(FILE *f, const struct iolens_result *r)
{
	const struct iolens_backend_stats *s = &r->stats;
	char b[160];

	iolens__result_label(r, b, sizeof(b));
	status_note(f, r);
	if (r->status != IOLENS_STATUS_OK)
		return;
	if (r->thread_per_op || r->job_procs)
		notes_workers(f, r, b);
	if (s->fallbacks)
		notes_fallbacks(f, r, b);
	/* Zero-copy that the kernel turned into a copy: loopback and veth always do. */
	if (strstr(r->variant, "send-zc"))
		fprintf(f, "  %s: send-zc: %llu of %llu sends copied by the kernel after all%s\n",
			b, (unsigned long long)s->zc_copied, (unsigned long long)s->zc_sends,
			timed_pass(r));
	if (r->model.declared && !strcmp(r->model.declared, IOLENS_MODEL_SYNC_READINESS) &&
	    (s->ready_at_once || s->waits))
		fprintf(f, "  %s: readiness checks%s: %llu found work ready at once, %llu had to wait\n",
			b, timed_pass(r), (unsigned long long)s->ready_at_once,
			(unsigned long long)s->waits);
	else if (s->waits)
		notes_waits(f, r, b);
	if (s->nowait_tries)
		fprintf(f, "  %s: %s would have blocked %llu of %llu %s%s\n", b,
			IOLENS_WL_IS_SOCKET(r->workload.kind) ? "a non-blocking try (MSG_DONTWAIT, O_NONBLOCK)"
								: "RWF_NOWAIT",
			(unsigned long long)s->nowait_eagain, (unsigned long long)s->nowait_tries,
			IOLENS_WL_IS_SOCKET(r->workload.kind) ? "sends and receives" : "reads and writes",
			timed_pass(r));
	if (s->setup[0])
		fprintf(f, "  %s: setup: %s\n", b, s->setup);
	if (!strncmp(r->backend, "coro", 4) && s->completed) {
		/* Every switch into a coroutine and out of it counts one. */
		if (s->switch_probe_n)
			fprintf(f, "  %s: %.2f user-space switches per op, %.0f ns each (timed at init)%s\n",
				b, (double)s->user_switches / (double)s->completed,
				(double)s->switch_probe_ns / (double)s->switch_probe_n, timed_pass(r));
		else
			fprintf(f, "  %s: no user-space switches: callbacks, no coroutines\n", b);
	}
	if (IOLENS_WL_IS_SOCKET(r->workload.kind))
		notes_net(f, r, b);
	notes_open_loop(f, r, b);
	notes_syscalls(f, r, b);
	notes_model(f, r, b);
}

/* The verdict under the table: nothing when there is nothing to say. */
static void verdict(FILE *f, struct iolens_result *const *rs, size_t n)
{
	struct iolens_verdict v;

	if (iolens_verdict(rs, n, &v) || !v.nsentences)
		return;
	fprintf(f, "verdict:\n");
	for (unsigned i = 0; i < v.nsentences; i++)
		fprintf(f, "  - %s\n", v.sentences[i]);
}

int iolens_table(FILE *f, struct iolens_result *const *rs, size_t n, unsigned flags)
{
	int width = 7, net = 0, show_notes = (flags & IOLENS_TABLE_NOTES) != 0;

	if (!f || !iolens__results_valid(rs, n) || (flags & ~IOLENS_TABLE_NOTES))
		return -EINVAL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char name[160];

		iolens__result_label(rs[i], name, sizeof(name));
		if ((int)strlen(name) > width)
			width = (int)strlen(name);
	}
	if (IOLENS_WL_IS_SOCKET(rs[0]->workload.kind)) {
		const struct iolens_workload *w = &rs[0]->workload;

		net = 1;
		fprintf(f, "workload %s, msg %u, conns %u, depth %u per connection, jobs %u, %s, %s\n",
			iolens_workload_name(w->kind), rs[0]->net.msg, w->conns, w->depth, w->jobs,
			iolens_transport_name(w->transport), rs[0]->file);
	} else {
		fprintf(f, "workload %s, bs %u, depth %u, jobs %u, %s\n",
			iolens_workload_name(rs[0]->workload.kind), rs[0]->workload.bs,
			rs[0]->workload.depth, rs[0]->workload.jobs,
			rs[0]->workload.direct ? "O_DIRECT" : "buffered");
	}
	fprintf(f, "%-*s %-7s %10s %9s %9s %9s %9s %9s %11s %10s %-11s %s\n", width, "backend", "status",
		!net ? "IOPS" : rs[0]->workload.kind == IOLENS_WL_STREAM ? "sends/s" : "req/s",
		net ? "Gbit/s" : "MiB/s", "p50 us", "p99 us", "max us", "CPU/op us", "vcsw/op s|w",
		"syscall/op", "cache", "model (measured)");
	for (size_t i = 0; i < n; i++)
		row(f, rs[i], width);
	for (size_t i = 0; i < n && !show_notes; i++)
		status_note(f, rs[i]);
	verdict(f, rs, n);
	if (show_notes) {
		fprintf(f, "notes:\n");
		for (size_t i = 0; i < n; i++)
			notes(f, rs[i]);
	}
	return ferror(f) ? -EIO : 0;
}
