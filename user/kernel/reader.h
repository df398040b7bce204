/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The reader: reads BPF maps, and never writes them (kernel/reclaim.h
 * deletes). Turns them into plain structs (sites with their totals, stack
 * address arrays, counters) that everything after it works on.
 */
#ifndef MT_READER_H
#define MT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "kernel/loader.h"

struct mt_raw_site {
	struct mt_site_key key;
	struct mt_site_stats stats;
	__u32 slot; /* where BPF keeps it: stable while the site lives */
};

struct mt_snapshot {
	struct mt_raw_site *sites; /* sorted by key.tgid */
	size_t nr_sites;
	__u64 counters[MT_CNT__MAX]; /* summed over CPUs */
};

/*
 * Read every site. min_age_ns > 0: build the sites from the live
 * allocations at least that old instead (alloc_* totals are then 0).
 * Returns 0 or a negative errno.
 */
int mt_reader__snapshot(const struct mt_bpf_maps *maps, __u64 min_age_ns, struct mt_snapshot *out);
void mt_snapshot__free(struct mt_snapshot *s);
/* Does any site belong to tgid? (A scan of the mapped keys, no copy.) */
bool mt_reader__has_sites(const struct mt_bpf_maps *maps, __u32 tgid);
/* The sites of one process (sites are sorted by tgid): first one, *n of them. */
const struct mt_raw_site *mt_snapshot__process(const struct mt_snapshot *s, __u32 tgid, size_t *n);

/*
 * Frames of a stack (return addresses, innermost first), read from the
 * kernel on every call (kernel/stackcache.h keeps them); count or negative
 * errno.
 */
int mt_reader__stack(const struct mt_bpf_maps *maps, __u64 stack, __u64 *ips, int max);

/* Frames of a Python stack, innermost first; count or negative errno. */
struct mt_py_frame;
int mt_reader__py_stack(const struct mt_bpf_maps *maps, __u64 py_stack, struct mt_py_frame *frames,
			int max);

#endif
