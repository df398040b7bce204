/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The accounting core every probe family calls: record an allocation,
 * release one, track the outermost allocator call of each thread.
 *
 * Nesting: a thread's outermost allocator call owns the per-thread state
 * (struct mt_thread); a call made while it is in flight, deeper on the same
 * stack (reallocarray -> realloc, malloc -> mmap, free -> munmap), is
 * skipped, so every allocation counts once, at the call the program made.
 * A new entry at or above the recorded stack pointer means the previous
 * call's return was never seen: counted as missed_return, state reset.
 */
#ifndef MT_CORE_BPF_H
#define MT_CORE_BPF_H

#include "maps.bpf.h"

/* loader-set knobs (rodata) */
extern const volatile __u64 mt_min_size;
extern const volatile __u64 mt_max_size;
extern const volatile __u32 mt_self_tgid;
extern const volatile bool mt_want_stacks;

static __always_inline void mt_count(enum mt_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&mt_counters, &key);

	if (v)
		*v += 1; /* per-CPU: no atomics needed */
}

static __always_inline struct mt_thread *mt_thread_get(void)
{
	struct mt_thread *t;

	t = bpf_task_storage_get(&mt_threads, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		mt_count(MT_CNT_THREAD_STATE);
	return t;
}

static __always_inline bool mt_size_filtered(__u64 size)
{
	return size < mt_min_size || (mt_max_size && size > mt_max_size);
}

/* Subtract an allocation's contribution from its site and forget it. */
static __always_inline void mt_forget(struct mt_alloc_key *key, struct mt_alloc *a)
{
	struct mt_site_stats *st = bpf_map_lookup_elem(&mt_sites, &a->site);

	if (st) {
		__sync_fetch_and_add(&st->bytes, -(__s64)a->w_bytes);
		__sync_fetch_and_add(&st->count, -(__s64)a->w_count);
	} else {
		mt_count(MT_CNT_SITE_MISSING);
	}
	bpf_map_delete_elem(&mt_allocs, key);
}

/* Release the block at addr of this process; false if it was not tracked. */
static __always_inline bool mt_release(__u32 tgid, __u64 addr)
{
	struct mt_alloc_key key = { .tgid = tgid, .addr = addr };
	struct mt_alloc *a = bpf_map_lookup_elem(&mt_allocs, &key);

	if (!a) {
		mt_count(MT_CNT_UNTRACKED_FREE);
		return false;
	}
	mt_forget(&key, a);
	return true;
}

static __always_inline void mt_record(__u32 tgid, __u64 addr, __u64 size, struct mt_thread *t)
{
	struct mt_alloc_key key = { .tgid = tgid, .addr = addr };
	struct mt_alloc rec = {};
	struct mt_site_stats zero = {}, *st;
	struct mt_alloc *old;

	if (mt_size_filtered(size)) {
		mt_count(MT_CNT_FILTERED);
		return;
	}
	rec.size = size;
	rec.w_bytes = size;
	rec.w_count = MT_COUNT_ONE;
	rec.ts_ns = bpf_ktime_get_ns();
	rec.site.tgid = tgid;
	rec.site.stack = t->stack;
	rec.site.caller = t->caller;

	st = bpf_map_lookup_elem(&mt_sites, &rec.site);
	if (!st) {
		bpf_map_update_elem(&mt_sites, &rec.site, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&mt_sites, &rec.site);
		if (!st) {
			mt_count(MT_CNT_SITES_FULL);
			return;
		}
	}
	/* an address handed out again without a free we saw: drop the stale record */
	old = bpf_map_lookup_elem(&mt_allocs, &key);
	if (old)
		mt_forget(&key, old);
	if (bpf_map_update_elem(&mt_allocs, &key, &rec, BPF_ANY)) {
		mt_count(MT_CNT_ALLOCS_FULL);
		return;
	}
	__sync_fetch_and_add(&st->bytes, (__s64)rec.w_bytes);
	__sync_fetch_and_add(&st->count, (__s64)rec.w_count);
	__sync_fetch_and_add(&st->alloc_bytes, rec.w_bytes);
	__sync_fetch_and_add(&st->alloc_count, rec.w_count);
}

/*
 * Walk the frame-pointer chain from fp, after an optional first return
 * address. Each frame must lie above the previous one (starting above lo)
 * on the same stack, within MT_MAX_FRAME_SPAN: code built without frame
 * pointers uses %rbp for data, and that must end the walk instead of
 * producing a stack of garbage. Returns the stack's key in mt_stacks, 0
 * when there is none.
 */
static __always_inline __u64 mt_stack_walk(__u64 first, __u64 fp, __u64 lo)
{
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 zero = 0, n = 0;
	struct mt_stack *s = bpf_map_lookup_elem(&mt_stack_scratch, &zero);

	if (!s)
		return 0;
	if (first) {
		s->ips[0] = first;
		h = (h ^ first) * 0x100000001b3ULL;
		n = 1;
	}
	for (__u32 i = 1; i < MT_MAX_STACK_DEPTH; i++) {
		__u64 frame[2]; /* saved %rbp, return address */

		if (fp <= lo || fp - lo > MT_MAX_FRAME_SPAN || (fp & 7))
			break;
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) || !frame[1])
			break;
		if (n >= MT_MAX_STACK_DEPTH)
			break;
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = frame[1];
		n++;
		h = (h ^ frame[1]) * 0x100000001b3ULL;
		lo = fp;
		fp = frame[0];
	}
	if (!n)
		return 0;
	if (n < MT_MAX_STACK_DEPTH)
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = 0;
	h ^= n;
	h |= 1; /* never 0 */
	if (!bpf_map_lookup_elem(&mt_stacks, &h) &&
	    bpf_map_update_elem(&mt_stacks, &h, s, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&mt_stacks, &h)) {
		mt_count(MT_CNT_STACKS_FULL);
		return 0;
	}
	return h;
}

/*
 * The stack above an allocator call made at caller. At the allocator's
 * entry %rbp is still the caller's frame pointer, so the walk's first
 * return address is the caller's caller. A caller inside the probed
 * library itself (strdup, fopen, ...) is stepped over with its CFI rule
 * first, so the program's own line comes right after it.
 */
static __always_inline __u64 mt_stack_get(struct pt_regs *ctx, __u64 caller, bool in_library,
					  __u64 seg_lo, __u64 seg_size)
{
	__u64 sp = PT_REGS_SP(ctx), fp = PT_REGS_FP(ctx), cfa, ret = 0;
	struct mt_frame_key k;
	struct mt_frame_rule *r;

	if (!in_library)
		return mt_stack_walk(0, fp, sp);
	k.seg_size = seg_size;
	k.off = caller - seg_lo;
	r = bpf_map_lookup_elem(&mt_frame_rules, &k);
	if (!r)
		return mt_stack_walk(0, fp, sp);
	cfa = sp + 8 + r->cfa;
	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)(cfa - 8))) {
		mt_count(MT_CNT_READ_FAULT);
		return 0;
	}
	if (r->rbp && bpf_probe_read_user(&fp, sizeof(fp), (void *)(cfa + r->rbp)))
		fp = 0;
	return mt_stack_walk(ret, fp, cfa - 8);
}

/*
 * Begin an outermost call: returns the thread state, or NULL when the call
 * is nested (or state is unavailable) and must be ignored.
 */
static __always_inline struct mt_thread *mt_call_begin(__u64 sp)
{
	struct mt_thread *t = mt_thread_get();

	if (!t)
		return NULL;
	if (t->active) {
		if (sp < t->outer_sp) {
			mt_count(MT_CNT_NESTED);
			return NULL;
		}
		mt_count(MT_CNT_MISSED_RETURN);
		t->active = 0;
	}
	return t;
}

/* Is a free-type call at sp nested inside an allocator call in flight? */
static __always_inline bool mt_call_nested(__u64 sp)
{
	struct mt_thread *t = mt_thread_get();

	if (t && t->active && sp < t->outer_sp) {
		mt_count(MT_CNT_NESTED);
		return true;
	}
	return false;
}

#endif
