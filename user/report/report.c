// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The report model: only ownership lives here; see report.h. */
#include <stdlib.h>
#include "report/report.h"

void mt_report__free(struct mt_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_rows; i++) {
		struct mt_row *row = &r->rows[i];

		for (size_t j = 0; j < row->nr_stacks; j++)
			free(row->stacks[j].frames);
		free(row->stacks);
		free(row->stack);
	}
	free(r->rows);
	r->rows = NULL;
	r->nr_rows = 0;
}
