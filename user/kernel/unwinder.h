/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The user-space side of the CFI unwinder: BPF copies a stack when it
 * meets a return address it has no rule for (struct mt_unwind_event);
 * this unwinds the copy (probe/unwind.h), inserts the rule of every frame
 * it crossed into mt_unwind_rules, so later allocations on that path
 * unwind in BPF, and completes that allocation's stack in mt_stacks. The
 * one writer of mt_unwind_rules (mapped; the purge of gone processes clears).
 */
#ifndef MT_UNWINDER_H
#define MT_UNWINDER_H

#include <stddef.h>
#include <linux/types.h>

struct mt_bpf_maps;
struct mt_unwinder;

/*
 * CPU time the unwinder may spend per second of wall time: beyond it (-a
 * on a busy host, where every process's new paths ask) requests are
 * skipped, their stacks left as BPF found them, so the event loop and the
 * reports keep their pace.
 */
#define MT_UNWINDER_BUDGET_MS 200

struct mt_unwinder_stats {
	__u64 requests;	  /* copies handled */
	__u64 completed;  /* stacks unwound to their outermost frame */
	__u64 no_cfi;	  /* ended at code with no usable CFI (a STOP rule was inserted) */
	__u64 short_copy; /* ended where the copy did (BPF asks again from there) */
	__u64 bad;	  /* ended at a frame that was not a stack frame, or a process gone */
	__u64 skipped;	  /* not unwound: over the time budget (MT_UNWINDER_BUDGET_MS a second) */
	__u64 rules;	  /* rules inserted */
	__u64 evicted;	  /* rules that took the entry of another (a full bucket) */
};

/* NULL with errno set on failure. maps must outlive it. */
struct mt_unwinder *mt_unwinder__new(const struct mt_bpf_maps *maps);
/* Accepts NULL. */
void mt_unwinder__free(struct mt_unwinder *u);
/*
 * Handle one request as BPF sent it (size bytes at data): 0 or a negative
 * errno (-EINVAL: malformed, -ESRCH: the process went).
 */
int mt_unwinder__handle(struct mt_unwinder *u, const void *data, size_t size);
/*
 * Open a new target's modules and their CFI now, while it waits for
 * memtrace, so its first stack copy is answered at once. 0 or -errno.
 */
int mt_unwinder__prepare(struct mt_unwinder *u, __u32 tgid);
/* Drop what is cached for a process that went or exec'd (its rules go with the purge). */
void mt_unwinder__forget(struct mt_unwinder *u, __u32 tgid);
const struct mt_unwinder_stats *mt_unwinder__stats(const struct mt_unwinder *u);

#endif
