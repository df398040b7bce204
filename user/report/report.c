// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The report model: only ownership lives here; see report.h. */
#include <stdlib.h>
#include "report/report.h"

void mt_report__free(struct mt_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_rows; i++)
		free(r->rows[i].stack);
	free(r->rows);
	r->rows = NULL;
	r->nr_rows = 0;
}
