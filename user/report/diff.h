/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The difference of two sets of reports (A, then B), per line or per
 * stack: bytes and count in B minus A, largest growth first, groups new in
 * B and gone from B marked. Pure: it reads report models (typically the
 * last report of each process of two saved files) and renders nothing.
 *
 * Groups are rebuilt from the stacks of the reports, so two files
 * recorded with different --group-by still compare: a line is the
 * stack's site frame (file and line; without a file function and module;
 * without either module and address), a stack all its frames. A row
 * saved without its stacks counts as its location (line) or its
 * representative stack (stack). A line's rows of different kinds (its
 * heap blocks, the pymalloc arenas it first needed) stay apart, as in the
 * reports. Only the rows a report shows take part:
 * record with --top 0 for a complete diff.
 */
#ifndef MT_DIFF_H
#define MT_DIFF_H

#include "report/report.h"

enum mt_diff_state {
	MT_DIFF_BOTH = 0, /* in A and B */
	MT_DIFF_NEW,	  /* only in B */
	MT_DIFF_GONE,	  /* only in A */
};

struct mt_diff_row {
	enum mt_site_kind kind; /* of the rows it comes from: kinds never share a row */
	/* line: the location; stack: the site frame's */
	const char *file, *function, *module;
	int line;
	__u64 addr; /* the site frame's address (shown when nothing else is known) */
	/* stack: its frames, innermost first (pointing into the reports); line: NULL */
	const struct mt_frame *frames;
	size_t nr_frames;
	__s64 bytes_a, bytes_b, count_a, count_b;
	__s64 growth_bytes, growth_count; /* b - a */
	enum mt_diff_state state;
};

struct mt_diff {
	enum mt_group_by group_by;		  /* MT_GROUP_LINE or MT_GROUP_STACK */
	const char *name_a, *name_b;		  /* labels (file names), the caller's */
	size_t nr_a, nr_b;			  /* reports on each side */
	__s64 bytes_a, bytes_b, count_a, count_b; /* over the groups */
	struct mt_diff_row *rows; /* largest growth first; then bytes in B, then location */
	size_t nr_rows;
};

/*
 * Build the difference of reports a[0..na) and b[0..nb) grouped by by
 * (MT_GROUP_LINE or MT_GROUP_STACK). Strings and frames point into the
 * reports, which must outlive d. 0, -EINVAL (another by) or -ENOMEM.
 */
int mt_diff__build(struct mt_diff *d, const struct mt_report *a, size_t na,
		   const struct mt_report *b, size_t nb, enum mt_group_by by);
/* Free d's rows; NULL-safe. */
void mt_diff__free(struct mt_diff *d);

#endif
