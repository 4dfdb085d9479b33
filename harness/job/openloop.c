/*
 * The open loop (--rate), the disk and the socket loops alike: each
 * operation's intended start (constant gaps, or Poisson arrivals), the
 * generator's own lateness, and the wait that keeps that lateness small.
 * Latency counts from the intended start (coordinated omission corrected);
 * the service time from the actual start is kept beside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <time.h>

#include "job.h"

int iolens__ol_setup(struct job *j, unsigned share)
{
	const struct iolens_workload *w = j->run->w;

	if (!(w->rate > 0))
		return 0;
	j->ol_unc = iolens__pass_hist(j->run);
	j->ol_late = iolens__pass_hist(j->run);
	if (!j->ol_unc || !j->ol_late)
		return -ENOMEM;
	/* Each job thread takes its share of the rate. */
	j->ol_gap = (uint64_t)(1e9 * (share ? share : 1) / w->rate);
	j->ol_next = now_ns();
	return 0;
}

void iolens__ol_free(struct job *j)
{
	iolens__pass_hist_free(j->run, j->ol_unc);
	iolens__pass_hist_free(j->run, j->ol_late);
	j->ol_unc = j->ol_late = NULL;
}

uint64_t iolens__ol_take(struct job *j)
{
	uint64_t due = j->ol_next;

	if (j->run->w->poisson) {
		double u = ((double)(next_rand(&j->rng) >> 11) + 0.5) / 9007199254740992.0;

		j->ol_next += (uint64_t)(-log(u) * (double)j->ol_gap);
	} else {
		j->ol_next += j->ol_gap;
	}
	return due;
}

void iolens__ol_done(struct job *j, uint64_t intended, uint64_t started, uint64_t now)
{
	iolens__hist_record(j->ol_unc, now - started);
	iolens__hist_record(j->ol_late, started - intended);
	j->ol_late_n += started - intended > j->ol_gap;
}

/*
 * Nothing that could complete is in flight: sleep until shortly before
 * due, then spin to it. A sleep alone wakes late (timer slack, then the
 * scheduler and, on a VM, the hypervisor: 30 to 90 us here), and the
 * corrected latency would charge that to the backend. The job threads of
 * an open loop run with 1 ns of timer slack, and the spin is as long as
 * this thread's own wake-ups have been late: a moving average of how late
 * each sleep woke, twice it plus 5 us, between 5 and 250 us. Waits are at
 * most a reap timeout, so a stop or the window's end is seen within one.
 */
#define OL_SPIN_MIN_NS 5000ull
#define OL_SPIN_MAX_NS 250000ull
void iolens__ol_wait(struct job *j, uint64_t due, uint64_t now)
{
	uint64_t margin = 2 * (uint64_t)j->ol_wake_ns + OL_SPIN_MIN_NS, from;

	if (margin > OL_SPIN_MAX_NS)
		margin = OL_SPIN_MAX_NS;
	if (due > now + (uint64_t)REAP_TIMEOUT_NS)
		due = now + (uint64_t)REAP_TIMEOUT_NS;
	if (due > now + margin) {
		uint64_t until = due - margin;
		struct timespec ts = { (time_t)(until / 1000000000ull), (long)(until % 1000000000ull) };
		uint64_t woke;
		int64_t late;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		woke = now_ns();
		/* How late this sleep woke, into the average (weight 1/8); a stall counts as the cap. */
		late = woke > until ? (int64_t)(woke - until) : 0;
		if (late > (int64_t)OL_SPIN_MAX_NS)
			late = (int64_t)OL_SPIN_MAX_NS;
		j->ol_wake_ns += (late - j->ol_wake_ns) / 8;
	}
	from = now_ns();
	while (now_ns() < due)
		;
	/* The spin is CPU the window's figures hold: said, so it can be told apart. */
	if (atomic_load_explicit(&j->run->phase, memory_order_relaxed) == PHASE_MEASURE &&
	    due > from)
		j->ol_spin_ns += due - from;
}
