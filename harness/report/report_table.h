/* The table people read: a line per result, the verdict, and the notes on request. */
#ifndef IOLENS_REPORT_TABLE_H
#define IOLENS_REPORT_TABLE_H

#include <stdio.h>

#include "iolens/iolens.h"

/*
 * The table of one workload's results, the reason of each that failed or
 * was skipped, the verdict (iolens_verdict), then, when asked for, the notes.
 */
void iolens__table(FILE *f, struct iolens_result *const *rs, size_t n);

/* Whether iolens__table prints the per-backend notes (default 0: only with --notes). */
void iolens__table_notes(int on);

#endif
