/*
 * A socket pass's figures into its result: per-call sizes, the open-loop
 * histogram, the data check, and for serve the load generator's figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "netjob.h"

/*
 * What became of the bytes received. A stream is verified only when every
 * connection's trailer came back clean and said it checked; echo and serve
 * compare every byte as it arrives, so a result that ended well, with bytes
 * moved, is verified.
 */
static void data_check(struct iolens_result *r, const struct run *run, struct job *jobs,
		       unsigned n)
{
	struct iolens_net_result *x = &r->net;
	unsigned conns = 0, trailers = 0, unchecked = 0;
	int fake = 0, mismatch = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		struct netjob *nj = jobs[i].net;

		if (!nj)
			continue;
		conns += nj->nconns;
		trailers += nj->trailers;
		unchecked += nj->unchecked;
		bytes += nj->sink_bytes;
		mismatch |= nj->mismatch;
		fake |= nj->fake;
	}
	if (mismatch || r->error == -EILSEQ)
		x->data_check = IOLENS_CHECK_MISMATCH;
	else if (fake)
		x->data_check = IOLENS_CHECK_NONE;
	else if (run->w->kind != IOLENS_WL_STREAM)
		x->data_check = r->status == IOLENS_STATUS_OK && r->bytes ? IOLENS_CHECK_VERIFIED
									    : IOLENS_CHECK_NONE;
	else if (conns && trailers == conns)
		x->data_check = unchecked ? IOLENS_CHECK_OFF : IOLENS_CHECK_VERIFIED;
	else
		x->data_check = IOLENS_CHECK_NONE;
	if (run->w->kind == IOLENS_WL_STREAM && conns && trailers == conns)
		x->sink_bytes = bytes;
}

void iolens__net_summarise(struct iolens_result *r, const struct run *run, struct job *jobs,
			   unsigned n, struct iolens_hist *all)
{
	struct iolens_net_result *x = &r->net;

	uint64_t sent = 0, received = 0;

	for (unsigned i = 0; i < n; i++) {
		struct netjob *nj = jobs[i].net;

		if (!nj)
			continue;
		x->send_calls += nj->send_calls;
		x->recv_calls += nj->recv_calls;
		sent += nj->sent;
		received += nj->received;

	}
	x->bytes_per_send = x->send_calls ? (double)sent / (double)x->send_calls : NAN;
	x->bytes_per_recv = x->recv_calls ? (double)received / (double)x->recv_calls : NAN;
	/* Kept under net as before: the open loop's own figures are the result's. */
	x->open_loop = r->open_loop.on;
	x->lat_uncorrected = r->open_loop.uncorrected;
	memset(r->by_kind, 0, sizeof(r->by_kind));
	if (run->w->kind == IOLENS_WL_SERVE) {
		x->latency_from = 1;
		r->ops = run->lg_requests;
		r->bytes = run->lg_bytes;
		iolens__hist_reset(all);
		if (run->lg_hist)
			iolens_hist_merge(all, run->lg_hist);
		iolens__hist_summary(all, &r->lat);
	} else {
		x->conns_open = x->conns;
	}
	x->requests = run->w->kind == IOLENS_WL_STREAM ? 0 : r->ops;
	x->gbit_s = r->seconds > 0 ? (double)r->bytes * 8 / r->seconds / 1e9 : 0;
	data_check(r, run, jobs, n);
}
