/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reclaim: every write user space makes to the BPF maps. Entries of
 * processes that went are cleared and deleted, their site slots handed back
 * to BPF, and stacks no site refers to any more are deleted, so the maps
 * never fill up with the dead.
 */
#ifndef MT_RECLAIM_H
#define MT_RECLAIM_H

#include <stddef.h>
#include <linux/types.h>

struct mt_bpf_maps;
struct mt_snapshot;

/*
 * Forget processes: their live allocations and sites, in one batched pass
 * over each map however many processes go. The processes must be gone or
 * stopped (exec): nothing may allocate for them meanwhile. 0 or a negative
 * errno.
 */
int mt_reclaim__purge(const struct mt_bpf_maps *maps, const __u32 *tgids, size_t n);

/*
 * Delete the stacks no site of snap refers to (snap must hold every site,
 * not a --min-age selection) other than those of the nr_gone processes in
 * gone: processes that went take theirs along. A
 * stack BPF stores between the snapshot and this call can be deleted too;
 * its site then shows only its call site. Count deleted or negative errno.
 */
int mt_reclaim__gc_stacks(const struct mt_bpf_maps *maps, const struct mt_snapshot *snap,
			  const __u32 *gone, size_t nr_gone);

#endif
