// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Growth profiling (--growth): no allocator probe at all. What is recorded
 * is resident anonymous memory as the kernel hands it out and takes it back.
 *
 * Growth: a page fault (tracepoints page_fault_user, page_fault_kernel for
 * a user address) that raises the process's anonymous page count
 * (tracepoint rss_stat, in the faulting thread: first touches, THP faults,
 * a private copy of a file page, the zero page written, swap-ins) has
 * installed a new anonymous page, or a large folio of the order the fault
 * allocated (mm_page_alloc). A copy on write of an anonymous page after
 * fork does not change the count and is not growth: the child's count
 * began with its parent's pages. (BPF trampolines, so fentry on
 * folio_add_new_anon_rmap, are not allowed on this project's kernel: only
 * tracepoints are used.) For a process whose tier is MT_TIER_GROWTH
 * (mt_tier_of) the page is recorded through mt_record as an "allocation"
 * of its size at its address, site kind
 * MT_SITE_GROWTH, with the native stack of the user registers (a fault in
 * user mode: the faulting instruction, usually inside malloc called from
 * the growing line; a fault on a user buffer inside a system call: the
 * system call's) and the Python stack. Everything after the maps (reader,
 * aggregation, reports) works unchanged: a line's outstanding bytes are
 * the resident growth it made and the process still holds.
 *
 * Releases: at the exit of a successful munmap, madvise (DONTNEED, FREE,
 * REMOVE, DONTNEED_LOCKED), brk that shrinks and mremap (shrinks and
 * moves; a moved page keeps its record at its new address), each page of
 * the range is released (bpf_loop, at most MT_GROWTH_MAX_PAGES a call:
 * counted when cut). Memory given back and touched again nets to zero;
 * memory freed to the allocator's free lists and reused faults nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"
#include "core.bpf.h"
#include "python.bpf.h"

#define MT_USER_END (1ULL << 47)
#define MT_GFP_MOVABLE 0x08
#define MT_MAX_FOLIO_ORDER 9 /* a PMD: 2 MiB */
#define MT_MM_ANONPAGES 1
#define MT_PAGE_SIZE 4096ULL
#define MT_PAGE_MASK (~(MT_PAGE_SIZE - 1))
#define MT_NR_MUNMAP 11
#define MT_NR_BRK 12
#define MT_NR_MREMAP 25
#define MT_NR_MADVISE 28
#define MT_MADV_DONTNEED 4
#define MT_MADV_FREE 8
#define MT_MADV_REMOVE 9
#define MT_MADV_DONTNEED_LOCKED 24

/* A fault at addr begins in the current thread: noted if its process is under growth. */
static __always_inline void mt_growth_fault_begin(__u64 addr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_growth_fault *f;
	__u64 rate;

	if (tgid == mt_self_tgid || mt_tier_of(tgid, &rate) != MT_TIER_GROWTH)
		return;
	f = bpf_task_storage_get(&mt_growth_faults, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!f) {
		mt_count(MT_CNT_THREAD_STATE);
		return;
	}
	f->addr = addr;
	f->order = 0;
	f->pending = 1;
}

/* The current thread's fault under way, NULL when there is none. */
static __always_inline struct mt_growth_fault *mt_growth_fault_now(void)
{
	struct mt_growth_fault *f =
	    bpf_task_storage_get(&mt_growth_faults, bpf_get_current_task_btf(), 0, 0);

	return f && f->pending ? f : NULL;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(mt_growth_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	mt_growth_fault_begin(address);
	return 0;
}

/* a fault on a user address inside a system call (read() into a new buffer) */
SEC("tp_btf/page_fault_kernel")
int BPF_PROG(mt_growth_fault_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	if (address < MT_USER_END)
		mt_growth_fault_begin(address);
	return 0;
}

/* the page the fault allocates for user memory (a large folio: its order) */
SEC("tp_btf/mm_page_alloc")
int BPF_PROG(mt_growth_page_alloc, struct page *page, unsigned int order, gfp_t gfp,
	     int migratetype)
{
	struct mt_growth_fault *f;

	/*
	 * anonymous large folios are at least order 2 (16 KiB); a movable
	 * order-1 page allocated in the fault is something else's (seen here:
	 * its order put a page's record 4 KiB below its mapping)
	 */
	if (!(gfp & MT_GFP_MOVABLE) || order < 2)
		return 0;
	f = mt_growth_fault_now();
	if (f && order > f->order && order <= MT_MAX_FOLIO_ORDER)
		f->order = order;
	return 0;
}

/*
 * The process's anonymous page count changed while a fault of its thread
 * was under way: the fault installed a new anonymous page (or folio). A
 * system call that gives pages back ends the fault's turn first
 * (mt_growth_sys_enter), so a decrease is not taken for growth.
 */
SEC("tp_btf/rss_stat")
int BPF_PROG(mt_growth_rss, struct mm_struct *mm, int member)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid, zero = 0;
	__u64 size, addr, prev_stack, prev_py;
	struct mt_growth_fault *f;
	struct mt_thread *t;
	struct pt_regs *regs;

	if (member != MT_MM_ANONPAGES || task->mm != mm)
		return 0;
	f = mt_growth_fault_now();
	if (!f)
		return 0;
	f->pending = 0;
	t = bpf_map_lookup_elem(&mt_growth_scratch, &zero);
	if (!t)
		return 0;
	size = MT_PAGE_SIZE << (f->order & 31);
	addr = f->addr & ~(size - 1);
	mt_count(MT_CNT_GROWTH_PAGES);
	/* the user registers: the faulting instruction, or the system call's */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	t->caller = regs->ip;
	prev_stack = t->stack;
	prev_py = t->py_stack;
	t->stack = 0;
	t->py_stack = 0;
	if (mt_want_stacks) {
		if (mt_unwind_cfi &&
		    !(mt_py_procs_nr && bpf_map_lookup_elem(&mt_py_procs, &tgid))) {
			struct mt_stack_scratch *sc = bpf_map_lookup_elem(&mt_stack_scratch, &zero);

			/* the faulting instruction: its rule is the one at it, not before it */
			if (sc)
				sc->st.exact = 1;
			t->stack = mt_stack_unwind(regs->ip, regs->sp, regs->bp, 0, prev_stack);
		} else
			t->stack = mt_stack_walk(0, regs->bp, regs->sp, prev_stack, 0);
		t->py_stack = mt_py_stack_get(tgid, prev_py);
	}
	t->site_kind = MT_SITE_GROWTH;
	t->rate = 0;
	t->w_bytes = size;
	t->w_count = MT_COUNT_ONE;
	mt_record(tgid, addr, size, t);
	return 0;
}

/* A range of one process's pages to release, or to move by delta (mremap). */
struct mt_growth_range {
	__u32 tgid;
	__u32 pad;
	__u64 lo;
	__u64 delta; /* 0: release; else the page's new address is its old one + delta */
};

/*
 * Move the record of (tgid, from) to address to, on the same site and
 * totals; false when there is none. When no entry is free at the new
 * address the record is dropped, counted.
 */
static __always_inline bool mt_move(__u32 tgid, __u64 from, __u64 to)
{
	struct mt_alloc_key key = {.tgid = tgid, .addr = from};
	struct mt_alloc *e = mt_alloc_find(tgid, from), rec = {};
	__u32 b[2];

	if (e) {
		rec = *e;
		*(volatile __u32 *)&e->tgid = 0;
		*(volatile __u64 *)&e->addr = 0;
	} else {
		if (mt_spill_nr <= 0)
			return false;
		e = bpf_map_lookup_elem(&mt_allocs_spill, &key);
		if (!e)
			return false;
		rec = *e;
		if (bpf_map_delete_elem(&mt_allocs_spill, &key))
			return false;
		__sync_fetch_and_add(&mt_spill_nr, -1);
	}
	mt_sampled_add(from, -1);
	mt_alloc_buckets(tgid, to, &b[0], &b[1]);
	if (mt_alloc_claim(b, tgid, to, rec.site, rec.size, rec.ts_ns)) {
		mt_sampled_add(to, 1);
		return true;
	}
	key.addr = to;
	rec.addr = to;
	rec.tgid = tgid;
	if (!bpf_map_update_elem(&mt_allocs_spill, &key, &rec, BPF_NOEXIST)) {
		__sync_fetch_and_add(&mt_spill_nr, 1);
		mt_sampled_add(to, 1);
		mt_count(MT_CNT_SPILLED);
		return true;
	}
	mt_count(MT_CNT_ALLOCS_FULL);
	mt_site_sub(rec.site, rec.size, 0);
	return true;
}

static long mt_growth_page(__u64 i, struct mt_growth_range *r)
{
	__u64 addr = r->lo + i * MT_PAGE_SIZE;

	if (r->delta)
		mt_move(r->tgid, addr, addr + r->delta);
	else
		mt_release(r->tgid, addr, 0, false);
	return 0;
}

/* Release (delta 0) or move the pages of [lo, hi) of tgid. */
static __always_inline void mt_growth_pages(__u32 tgid, __u64 lo, __u64 hi, __u64 delta)
{
	struct mt_growth_range r = {.tgid = tgid, .lo = lo & MT_PAGE_MASK, .delta = delta};
	__u64 n;

	hi = (hi + MT_PAGE_SIZE - 1) & MT_PAGE_MASK;
	if (hi <= r.lo)
		return;
	n = (hi - r.lo) / MT_PAGE_SIZE;
	if (n > MT_GROWTH_MAX_PAGES) {
		n = MT_GROWTH_MAX_PAGES;
		mt_count(MT_CNT_GROWTH_CUT);
	}
	bpf_loop(n, mt_growth_page, &r, 0);
}

/* syscalls:sys_enter_{munmap,madvise,brk,mremap}: note what a growth process asks for */
SEC("tracepoint")
int mt_growth_sys_enter(struct mt_sys_enter_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid(), rate;
	struct mt_growth_call c = {};
	struct mt_growth_fault *f;
	struct pt_regs *regs;

	if ((__u32)(id >> 32) == mt_self_tgid || mt_tier_of(id >> 32, &rate) != MT_TIER_GROWTH)
		return 0;
	/* no fault's turn any more: what this call takes back is not growth */
	f = bpf_task_storage_get(&mt_growth_faults, task, 0, 0);
	if (f)
		f->pending = 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	c.nr = ctx->nr;
	c.arg[0] = regs->di;
	c.arg[1] = regs->si;
	c.arg[2] = regs->dx;
	if (c.nr == MT_NR_MADVISE && c.arg[2] != MT_MADV_DONTNEED && c.arg[2] != MT_MADV_FREE &&
	    c.arg[2] != MT_MADV_REMOVE && c.arg[2] != MT_MADV_DONTNEED_LOCKED)
		return 0;
	if (c.nr == MT_NR_BRK)
		c.old_brk = BPF_CORE_READ(task, mm, brk);
	bpf_map_update_elem(&mt_growth_calls, &id, &c, BPF_ANY);
	return 0;
}

/* syscalls:sys_exit_{munmap,madvise,brk,mremap}: release what a successful call gave back */
SEC("tracepoint")
int mt_growth_sys_exit(struct mt_sys_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ret = ctx->ret, keep;
	__u32 tgid = id >> 32;
	struct mt_growth_call *cp = bpf_map_lookup_elem(&mt_growth_calls, &id), c;

	if (!cp)
		return 0;
	c = *cp;
	bpf_map_delete_elem(&mt_growth_calls, &id);
	if (c.nr != ctx->nr)
		return 0;
	switch (c.nr) {
	case MT_NR_MUNMAP:
	case MT_NR_MADVISE:
		if (!ret)
			mt_growth_pages(tgid, c.arg[0], c.arg[0] + c.arg[1], 0);
		return 0;
	case MT_NR_BRK:
		/* brk returns the new break; below the old one, the rest went */
		if (ret < c.old_brk)
			mt_growth_pages(tgid, (ret + MT_PAGE_SIZE - 1) & MT_PAGE_MASK, c.old_brk,
					0);
		return 0;
	case MT_NR_MREMAP:
		if ((__s64)ret < 0 && (__s64)ret > -4096)
			return 0;
		/* arg: old address, old size, new size */
		keep = c.arg[2] < c.arg[1] ? c.arg[2] : c.arg[1];
		if (c.arg[2] < c.arg[1])
			mt_growth_pages(tgid, c.arg[0] + c.arg[2], c.arg[0] + c.arg[1], 0);
		if (ret != c.arg[0] && keep)
			mt_growth_pages(tgid, c.arg[0], c.arg[0] + keep, ret - c.arg[0]);
		return 0;
	default:
		return 0;
	}
}
