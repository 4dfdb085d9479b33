/*
 * The verdict on one workload's results (iolens_verdict in workload.h), and
 * what the reports need to group a document's results by workload.
 */
#ifndef IOLENS_VERDICT_H
#define IOLENS_VERDICT_H

#include <stddef.h>

#include "iolens/iolens.h"

/*
 * Whether a and b ran the same workload: every field that shapes the work
 * (kind, sizes, depth, jobs, connections, cache, rate, delays) is equal;
 * the window's length and the backend's options may differ.
 */
int iolens__verdict_same_workload(const struct iolens_result *a, const struct iolens_result *b);

#endif
