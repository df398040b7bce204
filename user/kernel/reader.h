/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The reader: the only module that reads BPF maps. Turns them into plain
 * structs (sites with their totals, stack address arrays, counters) that
 * everything after it works on.
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
 * Stacks never change once in their map (the key is a hash of the
 * content), so each is read from the kernel once and then served from
 * this cache. Keys are (map, hash).
 */
struct mt_stack_cache;

struct mt_stack_cache *mt_stack_cache__new(void);
void mt_stack_cache__free(struct mt_stack_cache *c);
/* Drop every cached stack (after their maps were collected); they refill on use. */
void mt_stack_cache__clear(struct mt_stack_cache *c);
/* Native stack frames; count or negative errno. */
int mt_stack_cache__native(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 stack,
			   __u64 *ips, int max);
/* Python stack frames; count or negative errno. */
struct mt_py_frame;
int mt_stack_cache__python(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 py_stack,
			   struct mt_py_frame *frames, int max);

/*
 * New Python stacks as BPF stores them (a ring buffer), so their code
 * objects can be read while they still exist.
 */
struct mt_py_feed;
typedef void (*mt_py_feed_fn)(void *ctx, __u32 tgid, __u64 py_stack);

struct mt_py_feed *mt_py_feed__new(const struct mt_bpf_maps *maps, mt_py_feed_fn fn, void *ctx);
void mt_py_feed__free(struct mt_py_feed *f);
/* A file descriptor that polls readable when there is something to consume. */
int mt_py_feed__fd(const struct mt_py_feed *f);
/* Hand every pending stack to the callback. Count or negative errno. */
int mt_py_feed__consume(struct mt_py_feed *f);

/*
 * Delete the stacks no site of snap refers to (snap must hold every site,
 * not a --min-age selection) other than those of the nr_gone processes in
 * gone: processes that went take theirs along. A
 * stack BPF stores between the snapshot and this call can be deleted too;
 * its site then shows only its call site. Count deleted or negative errno.
 */
int mt_reader__gc_stacks(const struct mt_bpf_maps *maps, const struct mt_snapshot *snap,
			 const __u32 *gone, size_t nr_gone);

/* Frames of a stack (return addresses, innermost first); count or negative errno. */
int mt_reader__stack(const struct mt_bpf_maps *maps, __u64 stack, __u64 *ips, int max);

/* Frames of a Python stack, innermost first; count or negative errno. */
struct mt_py_frame;
int mt_reader__py_stack(const struct mt_bpf_maps *maps, __u64 py_stack, struct mt_py_frame *frames,
			int max);

/*
 * Forget processes: their live allocations and sites, in one batched pass
 * over each map however many processes go. 0 or a negative errno.
 */
int mt_reader__purge(const struct mt_bpf_maps *maps, const __u32 *tgids, size_t n);

#endif
