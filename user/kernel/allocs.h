/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Internal to kernel/: the mapped arrays as both the reader (which reads
 * them) and reclaim (which clears their entries) walk them. Not for other
 * layers.
 */
#ifndef MT_ALLOCS_H
#define MT_ALLOCS_H

#include <linux/types.h>
#include "mt_abi.h"
#include "kernel/loader.h"

/*
 * Site slots handed out so far. A slot's key is written before the slot is
 * published, its tgid last; a slot with tgid 0 is unused (or being rolled
 * back).
 */
__u32 mt_site_slots__used(const struct mt_bpf_maps *m);

/* Called on an allocation table entry; 0 to go on, else an error that stops the walk. */
typedef int (*mt_alloc_fn)(volatile struct mt_alloc *e, void *ctx);

/*
 * Call fn on every entry of the allocation table, mapping it a window at a
 * time so memtrace's RSS never holds the whole table. 0, fn's first error,
 * or a negative errno.
 */
int mt_allocs__for_each(const struct mt_bpf_maps *m, mt_alloc_fn fn, void *ctx);

#endif
