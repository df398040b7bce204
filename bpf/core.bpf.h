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

/*
 * The 8 bytes at p as one load. clang splits a load through a cast byte
 * pointer into eight byte loads and shifts (it cannot prove the alignment);
 * the verifier allows unaligned map value loads on x86, so say it in asm.
 */
static __always_inline __u64 mt_load_u64(const void *p)
{
	__u64 v;

	asm volatile("%[v] = *(u64 *)(%[p] + 0)" : [v] "=r"(v) : [p] "r"(p));
	return v;
}

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

/* Sampled mode: the count of live records whose address hashes as addr's. */
static __always_inline __u64 *mt_sampled_count(__u64 addr)
{
	__u32 idx = MT_SAMPLED_SLOT(addr);

	return bpf_map_lookup_elem(&mt_sampled, &idx);
}

/* Sampled mode: could addr be a recorded block? (No false "no".) */
static __always_inline bool mt_maybe_recorded(__u64 addr)
{
	__u64 *c;

	if (!mt_sampling)
		return true;
	c = mt_sampled_count(addr);
	return !c || *c;
}

/* Sampled mode: a record of addr was made (+1) or dropped (-1). */
static __always_inline void mt_sampled_add(__u64 addr, __s64 delta)
{
	__u64 *c;

	if (!mt_sampling)
		return;
	c = mt_sampled_count(addr);
	if (c)
		__sync_fetch_and_add(c, delta);
}

/* R * ln(100): from this size on an allocation sampled at rate R is recorded exactly */
static __always_inline __u64 mt_exact_from(__u64 rate)
{
	return rate == mt_sample_rate ? mt_sample_exact : MT_SAMPLE_EXACT(rate);
}

/*
 * The weight of a recorded allocation of size bytes in a process sampled
 * at rate (its tier's, mt_tier_of): size and one without sampling or from
 * mt_exact_from(rate) on, else R * g(S/R) bytes and that over S allocations
 * (S = size, at least 1). A function of size and rate alone, so a free can
 * subtract what the allocation added without storing it.
 */
static __always_inline void mt_weight(__u64 size, __u64 rate, __u64 *w_bytes, __u64 *w_count)
{
	__u64 s = size ? size : 1, pos, g, exact = mt_exact_from(rate);
	__u32 i, frac;

	*w_bytes = size;
	*w_count = MT_COUNT_ONE;
	if (!rate || size >= exact || !exact)
		return;
	/* x = s / R on the table: s * BINS / (R ln 100), Q16 */
	pos = (s << 16) * MT_G_BINS / exact;
	i = (pos >> 16) & (MT_G_BINS - 1);
	frac = pos & 0xffff;
	g = mt_g_tab[i] + (((__u64)(mt_g_tab[i + 1] - mt_g_tab[i]) * frac) >> 16);
	*w_bytes = (rate * g) >> 16;
	*w_count = (*w_bytes << MT_COUNT_SHIFT) / s;
}

/*
 * The tier of process tgid (enum mt_tier) and, for EXACT, its sample rate
 * into *rate (0 otherwise): its mt_tiers entry, else the loader's default.
 */
static __always_inline __u32 mt_tier_of(__u32 tgid, __u64 *rate)
{
	struct mt_tier_val *v = mt_tiers_nr ? bpf_map_lookup_elem(&mt_tiers, &tgid) : NULL;
	__u32 tier = v ? v->tier : mt_default_tier;

	*rate = tier != MT_TIER_EXACT ? 0 : v ? v->sample_rate : mt_sample_rate;
	return tier;
}

/* This CPU's stripe of a site's totals. */
static __always_inline struct mt_site_stats *mt_site_stats_get(__u32 slot)
{
	__u32 idx = (bpf_get_smp_processor_id() & mt_stripe_mask) * mt_site_max + slot;

	return bpf_map_lookup_elem(&mt_site_stats, &idx);
}

/* Take an allocation of size bytes (sampled at rate) off the totals of its site. */
static __always_inline void mt_site_sub(__u32 slot, __u64 size, __u64 rate)
{
	struct mt_site_stats *st = mt_site_stats_get(slot);
	__u64 w_bytes, w_count;

	if (!st)
		return;
	mt_weight(size, rate, &w_bytes, &w_count);
	__sync_fetch_and_add(&st->bytes, -(__s64)w_bytes);
	__sync_fetch_and_add(&st->count, -(__s64)w_count);
}

/* The two candidate buckets of (tgid, addr), as entry indexes. */
static __always_inline void mt_alloc_buckets(__u32 tgid, __u64 addr, __u32 *b0, __u32 *b1)
{
	__u64 x = addr ^ ((__u64)tgid << 48 | tgid);

	*b0 = (((x * 0x9e3779b97f4a7c15ULL) >> 40) & mt_alloc_mask) * MT_ALLOC_WAYS;
	*b1 = (((x * 0xc2b2ae3d27d4eb4fULL) >> 40) & mt_alloc_mask) * MT_ALLOC_WAYS;
}

/* Entry i (0 .. 2 * MT_ALLOC_WAYS - 1) of the two candidate buckets b. */
static __always_inline struct mt_alloc *mt_alloc_entry(const __u32 *b, __u32 i)
{
	__u32 idx = b[i / MT_ALLOC_WAYS] + i % MT_ALLOC_WAYS;

	return bpf_map_lookup_elem(&mt_allocs, &idx);
}

/* The entry of (tgid, addr) in its candidate buckets b, NULL when it has none. */
static __always_inline struct mt_alloc *mt_alloc_find_in(const __u32 *b, __u32 tgid, __u64 addr)
{
	for (__u32 i = 0; i < 2 * MT_ALLOC_WAYS; i++) {
		struct mt_alloc *e = mt_alloc_entry(b, i);

		if (e && e->addr == addr && e->tgid == tgid)
			return e;
	}
	return NULL;
}

/* The table entry of (tgid, addr), NULL when it has none. */
static __always_inline struct mt_alloc *mt_alloc_find(__u32 tgid, __u64 addr)
{
	__u32 b[2];

	mt_alloc_buckets(tgid, addr, &b[0], &b[1]);
	return mt_alloc_find_in(b, tgid, addr);
}

/*
 * Claim a free entry for (tgid, addr) in its candidate buckets b and fill
 * it; false when both are full. The owner is written last and cleared first (mt_forget), so an
 * entry half claimed or half freed matches no lookup.
 */
static __always_inline bool mt_alloc_claim(const __u32 *b, __u32 tgid, __u64 addr, __u32 site,
					   __u64 size, __u64 ts)
{
	for (__u32 i = 0; i < 2 * MT_ALLOC_WAYS; i++) {
		struct mt_alloc *e = mt_alloc_entry(b, i);

		if (!e || e->addr || __sync_val_compare_and_swap(&e->addr, 0, addr))
			continue;
		e->site = site;
		e->size = size;
		e->ts_ns = ts;
		*(volatile __u32 *)&e->tgid = tgid;
		return true;
	}
	return false;
}

/* Forget a table entry (of a process sampled at rate): off its site's totals, then free for reuse.
 */
static __always_inline void mt_forget(struct mt_alloc *e, __u64 rate)
{
	__u32 site = e->site;
	__u64 size = e->size, addr = e->addr;

	*(volatile __u32 *)&e->tgid = 0;
	*(volatile __u64 *)&e->addr = 0;
	mt_site_sub(site, size, rate);
	mt_sampled_add(addr, -1);
}

/* Forget the spilled record of (tgid, addr); false when there is none. */
static __always_inline bool mt_forget_spilled(__u32 tgid, __u64 addr, __u64 rate)
{
	struct mt_alloc_key key = {.tgid = tgid, .addr = addr};
	struct mt_alloc *a;
	__u32 site;
	__u64 size;

	if (mt_spill_nr <= 0)
		return false;
	a = bpf_map_lookup_elem(&mt_allocs_spill, &key);
	if (!a)
		return false;
	site = a->site;
	size = a->size;
	if (bpf_map_delete_elem(&mt_allocs_spill, &key))
		return false; /* a racing release took it */
	__sync_fetch_and_add(&mt_spill_nr, -1);
	mt_site_sub(site, size, rate);
	mt_sampled_add(addr, -1);
	return true;
}

/*
 * Release the block at addr of this process (sampled at rate); false if it
 * was not tracked (counted when count_untracked: with sampling, untracked
 * is the norm).
 */
static __always_inline bool mt_release(__u32 tgid, __u64 addr, __u64 rate, bool count_untracked)
{
	struct mt_alloc *e;

	if (!mt_maybe_recorded(addr))
		return false; /* sampled mode: never recorded */
	e = mt_alloc_find(tgid, addr);
	if (e) {
		mt_forget(e, rate);
		return true;
	}
	if (mt_forget_spilled(tgid, addr, rate))
		return true;
	if (count_untracked)
		mt_count(MT_CNT_UNTRACKED_FREE);
	return false;
}

static __always_inline bool mt_site_key_eq(const struct mt_site_key *a, const struct mt_site_key *b)
{
	return a->tgid == b->tgid && a->kind == b->kind && a->caller == b->caller &&
	       a->stack == b->stack && a->py_stack == b->py_stack;
}

/*
 * A slot for a site seen for the first time: from the counter while it
 * lasts, then from the slots the loader returned. The key is stored before
 * the slot is published, its tgid last (a reader skips tgid 0). A global
 * function (core.bpf.c): verified once. MT_NO_SITE when every slot is taken.
 */
__u32 mt_site_new(const struct mt_site_key *k);

/* The slot of site k; the thread's last slot is tried first. */
static __always_inline __u32 mt_site_slot(const struct mt_site_key *k, __u32 *last)
{
	__u32 slot = *last, *found;
	struct mt_site_key *sk = bpf_map_lookup_elem(&mt_site_keys, &slot);

	if (sk && mt_site_key_eq(sk, k))
		return slot;
	found = bpf_map_lookup_elem(&mt_site_index, k);
	slot = found ? *found : mt_site_new(k);
	if (slot != MT_NO_SITE)
		*last = slot;
	return slot;
}

static __always_inline void mt_record(__u32 tgid, __u64 addr, __u64 size, struct mt_thread *t)
{
	struct mt_site_key k = {.tgid = tgid,
				.kind = t->site_kind,
				.caller = t->caller,
				.stack = t->stack,
				.py_stack = t->py_stack};
	struct mt_alloc_key key = {.tgid = tgid, .addr = addr};
	struct mt_alloc rec = {};
	struct mt_site_stats *st;
	struct mt_alloc *e;
	__u64 ts = mt_want_age ? bpf_ktime_get_ns() : 0;
	__u32 slot, b[2];

	if (!addr)
		return; /* 0 marks a free table entry; no allocator returns it */
	slot = mt_site_slot(&k, &t->site);
	if (slot == MT_NO_SITE)
		return;
	st = mt_site_stats_get(slot);
	if (!st)
		return;
	/* an address handed out again without a free we saw: drop the stale record */
	mt_alloc_buckets(tgid, addr, &b[0], &b[1]);
	e = mt_alloc_find_in(b, tgid, addr);
	if (e)
		mt_forget(e, t->rate);
	else
		mt_forget_spilled(tgid, addr, t->rate);
	if (!mt_alloc_claim(b, tgid, addr, slot, size, ts)) {
		rec.addr = addr;
		rec.tgid = tgid;
		rec.site = slot;
		rec.size = size;
		rec.ts_ns = ts;
		if (bpf_map_update_elem(&mt_allocs_spill, &key, &rec, BPF_NOEXIST)) {
			mt_count(MT_CNT_ALLOCS_FULL);
			return;
		}
		__sync_fetch_and_add(&mt_spill_nr, 1);
		mt_count(MT_CNT_SPILLED);
	}
	mt_sampled_add(addr, 1);
	__sync_fetch_and_add(&st->bytes, (__s64)t->w_bytes);
	__sync_fetch_and_add(&st->count, (__s64)t->w_count);
	__sync_fetch_and_add(&st->alloc_bytes, t->w_bytes);
	__sync_fetch_and_add(&st->alloc_count, t->w_count);
}

/*
 * Read the user stack from sp into the scratch window, and the return
 * address at sp into *ret: one read serves the call site and the first
 * frames of the walk. Returns sp when the window holds MT_STACK_CHUNK bytes
 * from sp, 1 when only *ret could be read, 0 on a fault. A global function
 * (core.bpf.c).
 */
__u64 mt_stack_window(__u64 sp, __u64 *ret);

/*
 * Walk the frame-pointer chain from fp, after an optional first return
 * address. Each frame must lie above the previous one (starting above lo)
 * on the same stack, within MT_MAX_FRAME_SPAN: code built without frame
 * pointers uses %rbp for data, and that must end the walk instead of
 * producing a stack of garbage. win: the user stack address the scratch
 * window already holds (mt_stack_window), 0 = none. Returns the stack's
 * key in mt_stacks, 0 when there is none. A global function (core.bpf.c):
 * verified once.
 */
__u64 mt_stack_walk(__u64 first, __u64 fp, __u64 lo, __u64 last, __u64 win);

/*
 * Store the stack s of n frames whose running hash is h (mt_stack_walk's
 * FNV-1a) under its key; last: the thread's previous key, stored already.
 * Returns the key, 0 when the map is full (counted) or n is 0.
 */
static __always_inline __u64 mt_stack_store(struct mt_stack *s, __u32 n, __u64 h, __u64 last)
{
	if (!n)
		return 0;
	if (n < MT_MAX_STACK_DEPTH)
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = 0;
	h ^= n;
	h |= 1; /* never 0 */
	if (h == last)
		return h; /* the thread's previous stack: stored already */
	if (!bpf_map_lookup_elem(&mt_stacks, &h) &&
	    bpf_map_update_elem(&mt_stacks, &h, s, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&mt_stacks, &h)) {
		mt_count(MT_CNT_STACKS_FULL);
		return 0;
	}
	return h;
}

/*
 * Walk the stack by the CFI rules of mt_unwind_rules from pc (the
 * allocator's return address) with sp (the CFA of the allocator's frame)
 * and fp there; win: the user stack address the scratch window holds,
 * 0 = none. Its state lives in the scratch map, not on the BPF stack
 * (the tracepoint programs that call it have little left);
 * one hash lookup and one or two reads a frame. At a return address with
 * no rule the walk stops: the stack is copied for user space (rate
 * limited per address), which completes it under a key of its own;
 * without a copy the partial stack is kept, counted. Returns the stack's
 * key in mt_stacks, 0 when there is none. A global function (core.bpf.c).
 */
__u64 mt_stack_unwind(__u64 pc, __u64 sp, __u64 fp, __u64 win, __u64 last);

/*
 * A syscalls:sys_enter_* record as BPF sees it: its first 8 bytes are not
 * readable, and a program may read no further than the event's arguments
 * go, so one program serving several events reads them from the user
 * registers instead.
 */
struct mt_sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
};

/* A syscalls:sys_exit_* record. */
struct mt_sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/*
 * What an allocator's entry is judged by: its argument registers, the stack
 * pointer at entry ([sp] is the return address), %rbp there (still the
 * caller's frame pointer) and the probed address. A uprobe reads them from
 * its registers; a system call tracepoint rebuilds them for the entry of the
 * wrapper that made the call (bpf/syscalls.bpf.c).
 */
struct mt_regs {
	__u64 arg[4]; /* %rdi, %rsi, %rdx, %rcx */
	__u64 sp, fp, ip;
	__u64 flags; /* %rflags (uprobes only) */
};

/*
 * Step out of a frame in the probed library with its CFI rule: returns the
 * frame's CFA (sp + 8 + r->cfa, its return address just below), and sets *fp
 * to the caller's %rbp where the frame saved it (0 when that read fails).
 */
static __always_inline __u64 mt_frame_cfa(const struct mt_frame_rule *r, __u64 sp, __u64 *fp)
{
	__u64 cfa = sp + 8 + r->cfa;

	if (r->rbp && bpf_probe_read_user(fp, sizeof(*fp), (void *)(cfa + r->rbp)))
		*fp = 0;
	return cfa;
}

/*
 * The stack above an allocator call made at caller. At the allocator's
 * entry %rbp is still the caller's frame pointer, so the walk's first
 * return address is the caller's caller. A caller inside the probed
 * library itself (strdup, fopen, ...) is stepped over with its CFI rule
 * first, so the program's own line comes right after it.
 */
static __always_inline __u64 mt_stack_get(const struct mt_regs *regs, __u64 caller, bool in_library,
					  __u64 seg_lo, __u64 seg_size, __u64 last, __u64 win)
{
	__u64 sp = regs->sp, fp = regs->fp, cfa, ret = 0, s;
	struct mt_frame_key k;
	struct mt_frame_rule *r;
	bool cut = false;

	/*
	 * CFI rules, but in a Python process: the interpreter's native paths
	 * are too many to learn at allocation rate, and its Python frames are
	 * walked on their own (python.bpf.c)
	 */
	if (mt_unwind_cfi) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!mt_py_procs_nr || !bpf_map_lookup_elem(&mt_py_procs, &tgid)) {
			s = mt_stack_unwind(caller, sp + 8, fp, win, last);
			/*
			 * Nothing learned at the caller yet and no copy taken
			 * (the copies' rate limit, a full ring): a caller in
			 * the probed library (strndup, fopen...) is stepped
			 * out of with the library's own rule below, so the
			 * row still has the program's line: one frame, no
			 * frame-pointer walk above it (code without them)
			 */
			if (s || !in_library)
				return s;
			cut = true;
		}
	}
	if (!in_library)
		return mt_stack_walk(0, fp, sp, last, win);
	k.seg_size = seg_size;
	k.off = caller - seg_lo;
	r = bpf_map_lookup_elem(&mt_frame_rules, &k);
	if (!r)
		return cut ? 0 : mt_stack_walk(0, fp, sp, last, win);
	cfa = mt_frame_cfa(r, sp, &fp);
	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)(cfa - 8))) {
		mt_count(MT_CNT_READ_FAULT);
		return 0;
	}
	return mt_stack_walk(ret, cut ? 0 : fp, cfa - 8, last, win);
}

/*
 * Is a call at sp, returning to caller, nested in the thread's call in
 * flight? Deeper on the stack, or at the same depth as a tail call from it
 * (glibc's realloc(NULL, n) jumps to malloc): then the return address at
 * [SP] is the in-flight call's, replaced by the uretprobe trampoline, not
 * the caller it had. A system call in flight holds nothing: while it is,
 * its thread makes no other call, so one seen means its exit was missed.
 */
static __always_inline bool mt_in_flight(struct mt_thread *t, __u64 sp, __u64 caller)
{
	return t->active && !t->sys &&
	       (sp < t->outer_sp || (sp == t->outer_sp && caller != t->caller));
}

/*
 * Begin an outermost call on a thread with a call in flight: false when
 * this call is nested in it and must be ignored; else the in-flight call's
 * return was missed: counted, state reset.
 */
static __always_inline bool mt_call_begin(struct mt_thread *t, __u64 sp, __u64 caller)
{
	if (mt_in_flight(t, sp, caller)) {
		mt_count(MT_CNT_NESTED);
		return false;
	}
	if (t->active) {
		mt_count(MT_CNT_MISSED_RETURN);
		t->active = 0;
	}
	return true;
}

/* xorshift64*: reproducible draws when the loader sets a seed */
static __always_inline __u64 mt_rand(struct mt_sampler *t)
{
	__u64 x = t->rng;

	if (!x) {
		/* seeded: the main thread's draws repeat run after run (tid - tgid = 0) */
		__u64 id = bpf_get_current_pid_tgid();
		__u64 idx = (__u32)((__u32)id - (__u32)(id >> 32));

		x = mt_seed ? mt_seed ^ (idx * 0x9e3779b97f4a7c15ULL)
			    : ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32());
		x |= 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Bytes to the next sample: R * -ln(u), u uniform in (0, 1]. */
static __always_inline __s64 mt_draw(struct mt_sampler *t, __u64 rate)
{
	__u32 u = mt_rand(t) >> 32, k = 0, i, frac;
	__u64 nl;

	if (!u)
		u = 1;
	/* u = 2^-k * m with m in [0.5, 1): normalize the top bit */
	if (!(u & 0xffff0000)) {
		u <<= 16;
		k += 16;
	}
	if (!(u & 0xff000000)) {
		u <<= 8;
		k += 8;
	}
	if (!(u & 0xf0000000)) {
		u <<= 4;
		k += 4;
	}
	if (!(u & 0xc0000000)) {
		u <<= 2;
		k += 2;
	}
	if (!(u & 0x80000000)) {
		u <<= 1;
		k += 1;
	}
	/* position of m in [0.5, 1) on the table: (m - 0.5) * 2 * BINS, Q16 */
	{
		__u64 pos = ((__u64)(u - 0x80000000U) * (2 * MT_LN_BINS)) >> 16;

		i = (pos >> 16) & (MT_LN_BINS - 1);
		frac = pos & 0xffff;
	}
	nl = (__u64)k * MT_LN2_Q16 + mt_ln_tab[i] -
	     (((__u64)(mt_ln_tab[i] - mt_ln_tab[i + 1]) * frac) >> 16);
	return (__s64)((rate * nl) >> 16) + 1;
}

/*
 * Decide whether an allocation of size bytes is recorded at rate, and with
 * which weight (*w_bytes, *w_count), from countdown st. Without sampling
 * every allocation is, with weight 1.
 */
static __always_inline bool mt_sample(struct mt_sampler *st, __u64 size, __u64 rate, __u64 *w_bytes,
				      __u64 *w_count)
{
	__u64 s = size ? size : 1;

	if (!rate || size >= mt_exact_from(rate)) {
		*w_bytes = size;
		*w_count = MT_COUNT_ONE;
		return true;
	}
	if (st->left <= 0 && !st->rng)
		st->left = mt_draw(st, rate);
	if (st->left > (__s64)s) {
		st->left -= s;
		return false;
	}
	st->left = mt_draw(st, rate);
	mt_weight(size, rate, w_bytes, w_count);
	return true;
}

/* Is a tracked block at addr (so a call that may release it needs its return)? */
static __always_inline bool mt_tracked(__u32 tgid, __u64 addr)
{
	struct mt_alloc_key key = {.tgid = tgid, .addr = addr};

	if (!addr || !mt_maybe_recorded(addr))
		return false;
	return mt_alloc_find(tgid, addr) ||
	       (mt_spill_nr > 0 && bpf_map_lookup_elem(&mt_allocs_spill, &key));
}

/* Is a release (munmap) at sp, returning to caller, nested in a call in flight? */
static __always_inline bool mt_call_nested(__u64 sp, __u64 caller)
{
	struct mt_thread *t = mt_thread_get();

	if (t && mt_in_flight(t, sp, caller)) {
		mt_count(MT_CNT_NESTED);
		return true;
	}
	return false;
}

#endif
