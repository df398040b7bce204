/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Aggregation: symbolized sites of one process -> groups (line, function,
 * file or stack) -> a report, with growth against the previous report.
 * Pure: no I/O, no BPF; unit-tested on plain structs.
 */
#ifndef MT_AGGREGATE_H
#define MT_AGGREGATE_H

#include "report/report.h"

/* One BPF site after symbolization. */
struct mt_sample {
	enum mt_site_kind kind; /* samples of different kinds never share a group */
	__s64 bytes;
	__s64 count_q; /* MT_COUNT_ONE units */
	__u64 alloc_bytes;
	__u64 alloc_count_q;
	/*
	 * The stack, innermost first, inlines expanded: frames[i], or with
	 * ids, frames[ids[i]] (a table of shared frames, such as the site
	 * cache's, read in place instead of copied).
	 */
	const struct mt_frame *frames;
	const __u32 *ids;
	size_t nr_frames;
	size_t site;  /* index of the frame that is "the line" */
	bool runtime; /* no frame in the program's own code (report/site.h) */
};

/* --include / --exclude patterns kept at most (each) */
#define MT_AGG_MAX_FILTERS 16

struct mt_agg_opts {
	enum mt_group_by group_by;
	size_t top; /* rows kept; 0 = all */
	/*
	 * File filters, as tracemalloc's Filter on the most recent frame:
	 * fnmatch(3) patterns on the file of a sample's line (its site frame).
	 * A sample whose file matches an exclude pattern, or (with include
	 * patterns) matches none of them, is left out of the report, totals
	 * included; a site without a file matches no pattern. The strings
	 * must outlive the aggregator.
	 */
	const char *include[MT_AGG_MAX_FILTERS], *exclude[MT_AGG_MAX_FILTERS];
	size_t nr_include, nr_exclude;
	/*
	 * Ignored: every row gets its representative stack and all its
	 * stacks (JSON always prints them); only the rows shown keep them
	 * after mt_agg__end.
	 */
	bool keep_stacks;
};

struct mt_agg;

struct mt_agg *mt_agg__new(const struct mt_agg_opts *opts);
void mt_agg__free(struct mt_agg *a);

/* Start a report: drops the samples of the previous one (keeps history). */
void mt_agg__begin(struct mt_agg *a);
/*
 * Add one sample (or leave it out: the file filters); frames are copied as
 * needed. 0, -ENOMEM, or -EINVAL when
 * site is not an index into frames (nr_frames == 0 is an unknown site) or
 * kind is not a site kind.
 */
int mt_agg__add(struct mt_agg *a, const struct mt_sample *s);
/*
 * Build the report (rows, totals, growth against the previous report) and
 * remember this report's per-group bytes for the next. Fills seq (1, 2, ...),
 * group_by, the totals, nr_groups and rows, which out must not hold yet
 * (mt_report__free them first); the caller fills pid, comm, time, final,
 * exited, counters. 0 or -ENOMEM (then nothing changed: out untouched, the
 * samples and history kept).
 */
int mt_agg__end(struct mt_agg *a, struct mt_report *out);

#endif
