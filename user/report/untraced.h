/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Memory no probe sees: a process whose RSS keeps growing while the
 * traced outstanding bytes do not allocates somewhere memtrace does not
 * look (another allocator, direct mmap or brk system calls, a JIT, a
 * runtime with its own heap). Pure: fed one report at a time.
 *
 * The rule: a step from one report to the next is "untraced growth" when
 * RSS grew and the traced bytes grew by less than half as much. After
 * MT_UNTRACED_STEPS such steps in a row whose RSS growth beyond the
 * traced growth (traced shrinking counts as 0) sums to at least
 * MT_UNTRACED_MIN_BYTES, the report says so, with that sum; any other
 * step, or a report without RSS, starts over.
 */
#ifndef MT_UNTRACED_H
#define MT_UNTRACED_H

#include <stdbool.h>
#include <linux/types.h>

#define MT_UNTRACED_STEPS 3
#define MT_UNTRACED_MIN_BYTES (1LL << 20)

struct mt_untraced {
	bool has_prev;
	__s64 prev_rss, prev_traced;
	unsigned int steps; /* untraced-growth steps in a row */
	__s64 excess;	    /* their RSS growth beyond the traced growth */
};

/*
 * Feed one report: its RSS (known: rss_known) and traced bytes. Returns
 * the untraced growth to report (> 0) or 0. u starts zeroed.
 */
__s64 mt_untraced__update(struct mt_untraced *u, bool rss_known, __s64 rss, __s64 traced);

#endif
