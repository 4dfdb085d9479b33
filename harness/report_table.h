/* The table people read: one line per result, then the notes behind the figures. */
#ifndef IOLENS_REPORT_TABLE_H
#define IOLENS_REPORT_TABLE_H

#include <stdio.h>

#include "iolens/iolens.h"

void iolens__table(FILE *f, struct iolens_result *const *rs, size_t n);

#endif
