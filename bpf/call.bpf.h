/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One allocator call, however it is seen: mt_entry at the entry of the
 * function (a uprobe, or a system call tracepoint that rebuilt the
 * wrapper's entry registers), mt_finish at its return. Shared by
 * libc.bpf.c and syscalls.bpf.c; each inlines its own copy.
 */
#ifndef MT_CALL_BPF_H
#define MT_CALL_BPF_H

#include "core.bpf.h"
#include "python.bpf.h"

#define MAP_ANONYMOUS 0x20
#define MT_X86_EFLAGS_OF 0x800

/* Start of the probed library's executable segment in this process. */
static __always_inline __u64 mt_library_lo(const struct mt_regs *r, __u64 cookie)
{
	return r->ip - MT_COOKIE_OFF(cookie);
}

/* Was the call made from inside the probed library itself? */
static __always_inline bool mt_from_library(const struct mt_regs *r, __u64 cookie, __u64 caller)
{
	__u64 size = MT_COOKIE_SIZE(cookie);
	__u64 lo = mt_library_lo(r, cookie);

	return size && caller >= lo && caller < lo + size;
}

/* n * size; *overflow set when it does not fit (the call will fail). */
static __always_inline __u64 mt_mul(__u64 n, __u64 size, bool *overflow)
{
	__u64 p = n * size;

	/* the barrier keeps clang from turning this into a 128-bit multiply */
	asm volatile("" : "+r"(p));
	*overflow = size && p / size != n;
	return p;
}

/* Did a system call fail? (A wrapper's -1, or the system call's -errno.) */
static __always_inline bool mt_map_failed(__u64 ret)
{
	return ret >= (__u64)-4095;
}

/*
 * Entry of any probed function. Returns 0 when the return must be seen,
 * 1 when the call is finished (or ignored) here. sys: seen by a system call
 * tracepoint, whose exit tracepoint sees the return.
 */
static __always_inline int mt_entry(const struct mt_regs *r, __u64 cookie, bool sys)
{
	__u32 kind = MT_COOKIE_KIND(cookie);
	__u32 tgid;
	__u64 sp = r->sp;
	__u64 caller = 0, size = 0, aux = 0, w_bytes = 0, w_count = 0, prev_stack, prev_py, win = 0;
	bool overflow = false, filtered, decided, record = false;
	struct mt_thread *t;
	__u32 zero = 0;
	/* read once, as plain loads: clang must not turn a choice among them into arithmetic */
	__u64 p1 = r->arg[0], p2 = r->arg[1], p3 = r->arg[2], p4 = r->arg[3];

	asm volatile("" : "+r"(p1), "+r"(p2), "+r"(p3), "+r"(p4));
	/* frees are uprobes only: sys leaves this out of the tracepoints' copies (stack) */
	if (!sys && (kind == MT_KIND_FREE || kind == MT_KIND_FREE_SIZED ||
		     kind == MT_KIND_FREE_ALIGNED_SIZED)) {
		/*
		 * No nesting check: no allocator calls the public free. With
		 * sampling most frees stop at the filter, before anything else.
		 */
		if (!p1 || !mt_maybe_recorded(p1))
			return 1;
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid == mt_self_tgid)
			return 1;
		if (mt_release(tgid, p1, false)) {
			if ((cookie & MT_COOKIE_HANDS_ON) && (t = mt_thread_get()))
				t->handed = p1;
			return 1;
		}
		if (mt_sample_rate)
			return 1;
		t = mt_thread_get();
		if (t && t->handed == p1) {
			t->handed = 0; /* the free it was handed on to: seen once already */
			mt_count(MT_CNT_NESTED);
			return 1;
		}
		/*
		 * Not tracked: a block the allocator's library made for itself
		 * without a probed call (glibc's tcache, tcmalloc's own state)
		 * when it frees it; one made and freed inside another allocator
		 * call (nested: neither is counted); else one allocated before
		 * tracing began.
		 */
		if (bpf_probe_read_user(&caller, sizeof(caller), (void *)sp))
			mt_count(MT_CNT_UNTRACKED_FREE);
		else if (mt_from_library(r, cookie, caller))
			mt_count(MT_CNT_INTERNAL_FREE);
		else if (!mt_call_nested(sp, caller))
			mt_count(MT_CNT_UNTRACKED_FREE);
		return 1;
	}
	switch (kind) {
	case MT_KIND_MUNMAP:
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid == mt_self_tgid)
			return 1;
		if (bpf_probe_read_user(&caller, sizeof(caller), (void *)sp)) {
			mt_count(MT_CNT_READ_FAULT);
			return 1;
		}
		if (mt_call_nested(sp, caller))
			return 1;
		if (mt_from_library(r, cookie, caller)) {
			mt_count(MT_CNT_INTERNAL_MMAP);
			return 1;
		}
		/* a whole mapping: partial unmaps of tracked maps are rare */
		mt_release(tgid, p1, true);
		return 1;
	case MT_KIND_MALLOC:
	case MT_KIND_VALLOC:
	case MT_KIND_PVALLOC:
		size = p1;
		break;
	case MT_KIND_CALLOC:
		size = mt_mul(p1, p2, &overflow);
		break;
	case MT_KIND_REALLOC:
	case MT_KIND_XALLOCX:
		aux = p1;
		size = p2;
		break;
	case MT_KIND_REALLOCARRAY:
		aux = p1;
		if (cookie & MT_COOKIE_PRODUCT) {
			/* probed after the multiply: %rsi is the product, OF its overflow */
			size = p2;
			overflow = r->flags & MT_X86_EFLAGS_OF;
		} else {
			size = mt_mul(p2, p3, &overflow);
		}
		break;
	case MT_KIND_POSIX_MEMALIGN:
		aux = p1;
		size = p3;
		break;
	case MT_KIND_ALIGNED_ALLOC:
	case MT_KIND_MEMALIGN:
		size = p2;
		break;
	case MT_KIND_MMAP:
		if (!(p4 & MAP_ANONYMOUS))
			return 1;
		size = p2;
		break;
	case MT_KIND_MREMAP:
		aux = p1;
		size = p3;
		break;
	default:
		return 1;
	}

	if (overflow) {
		/* calloc/reallocarray fail with ENOMEM; the old block stays */
		mt_count(MT_CNT_ALLOC_FAILED);
		return 1;
	}
	filtered = mt_size_filtered(size);
	if (filtered)
		mt_count(MT_CNT_FILTERED);
	/*
	 * Sampling without a seed: decided on the CPU's countdown before any
	 * per-thread state, so an unsampled call costs a per-CPU lookup (and,
	 * for realloc, a filter test) and returns.
	 */
	decided = mt_sample_rate && !mt_seed && kind != MT_KIND_MMAP && kind != MT_KIND_MREMAP;
	if (decided && !filtered) {
		struct mt_sampler *st = bpf_map_lookup_elem(&mt_samplers, &zero);

		record = st && mt_sample(st, size, &w_bytes, &w_count);
	}
	if (decided && !record && !aux)
		return 1; /* the common unsampled call: not even the process is asked */
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == mt_self_tgid)
		return 1;
	if (decided && !record && !mt_tracked(tgid, aux))
		return 1;

	/*
	 * The return address is needed to tell a nested call (only when a
	 * call is in flight), for mmap's library check, and for a recorded
	 * allocation: an unsampled call on an idle thread never reads it.
	 */
	t = mt_thread_get();
	if (!t)
		return 1;
	if (t->active || kind == MT_KIND_MMAP || kind == MT_KIND_MREMAP) {
		if (bpf_probe_read_user(&caller, sizeof(caller), (void *)sp)) {
			mt_count(MT_CNT_READ_FAULT);
			return 1;
		}
		if (!mt_call_begin(t, sp, caller))
			return 1;
	}
	if ((kind == MT_KIND_MMAP || kind == MT_KIND_MREMAP) &&
	    mt_from_library(r, cookie, caller)) {
		mt_count(MT_CNT_INTERNAL_MMAP);
		return 1;
	}
	if (!decided && !filtered)
		record = mt_sample(&t->sampler, size, &w_bytes, &w_count);
	t->w_bytes = w_bytes;
	t->w_count = w_count;
	t->release_only = 0;
	if (!record) {
		/* not recorded: the return matters only if it releases a tracked block */
		if (!mt_tracked(tgid, aux))
			return 1;
		t->release_only = 1;
	}
	if (!caller) {
		/* with stacks, one read of the stack serves the call site and the walk */
		if (mt_want_stacks && !t->release_only)
			win = mt_stack_window(sp, &caller);
		else
			win = bpf_probe_read_user(&caller, sizeof(caller), (void *)sp) ? 0 : 1;
		if (!win) {
			mt_count(MT_CNT_READ_FAULT);
			return 1;
		}
	}
	prev_stack = t->stack; /* the thread's last stacks: likely these again */
	prev_py = t->py_stack;
	t->stack = 0;
	t->py_stack = 0;
	if (mt_want_stacks && !t->release_only) {
		t->stack = mt_stack_get(r, caller, mt_from_library(r, cookie, caller),
					mt_library_lo(r, cookie), MT_COOKIE_SIZE(cookie),
					prev_stack, win == sp ? win : 0);
		t->py_stack = mt_py_stack_get(tgid, prev_py);
	}
	t->outer_sp = sp;
	t->size = size;
	t->aux = aux;
	t->caller = caller;
	t->kind = kind;
	t->site_kind = mt_site_kind(tgid, kind, r->ip, caller, size, p3, p4);
	t->active = 1;
	t->sys = sys;
	return 0;
}

/* Finish the thread's outermost call, which returned ret. */
static __always_inline void mt_finish(struct mt_thread *t, __u64 ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 ptr = 0;

	t->active = 0;

	if (t->release_only) {
		/* realloc/mremap of a tracked block whose result is not recorded */
		/* realloc(p, 0) frees p through free(), which is probed */
		if (ret && !mt_map_failed(ret))
			mt_release(tgid, t->aux, true);
		return;
	}
	switch (t->kind) {
	case MT_KIND_POSIX_MEMALIGN:
		if ((int)ret != 0) {
			mt_count(MT_CNT_ALLOC_FAILED);
			return;
		}
		if (bpf_probe_read_user(&ptr, sizeof(ptr), (void *)t->aux)) {
			mt_count(MT_CNT_READ_FAULT);
			return;
		}
		mt_record(tgid, ptr, t->size, t);
		return;
	case MT_KIND_REALLOC:
	case MT_KIND_REALLOCARRAY:
		if (ret) {
			if (t->aux)
				mt_release(tgid, t->aux, true);
			mt_record(tgid, ret, t->size, t);
		} else if (!(t->size == 0 && t->aux)) {
			/* glibc's realloc(p, 0) frees p through free(), probed */
			mt_count(MT_CNT_ALLOC_FAILED);
		}
		return;
	case MT_KIND_XALLOCX:
		/*
		 * jemalloc's in-place resize returns the block's real size:
		 * at least the size asked for, the block now has it (at the
		 * caller's line, as realloc); less, it kept its old size
		 */
		if (ret >= t->size) {
			mt_release(tgid, t->aux, true);
			mt_record(tgid, t->aux, t->size, t);
		}
		return;
	case MT_KIND_MMAP:
		if (mt_map_failed(ret)) {
			mt_count(MT_CNT_ALLOC_FAILED);
			return;
		}
		mt_record(tgid, ret, t->size, t);
		return;
	case MT_KIND_MREMAP:
		if (mt_map_failed(ret)) {
			mt_count(MT_CNT_ALLOC_FAILED);
			return;
		}
		mt_release(tgid, t->aux, true);
		mt_record(tgid, ret, t->size, t);
		return;
	default:
		if (!ret) {
			mt_count(MT_CNT_ALLOC_FAILED);
			return;
		}
		mt_record(tgid, ret, t->size, t);
		return;
	}
}

#endif
