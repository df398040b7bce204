// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Probes on the C library's allocator entry points.
 *
 * One program serves every function: the probe cookie says which function
 * (enum mt_kind) and where the library's code lies (include/mt_abi.h).
 * Three attachment flavours share the same entry/return code:
 *  - mt_libc_session: a uprobe session (entry + return in one program);
 *    the entry returns 1 to skip the return probe when there is nothing to
 *    finish (free, nested or filtered calls);
 *  - mt_libc_entry + mt_libc_return: uprobe_multi entry and return links,
 *    or classic perf-event uprobes/uretprobes, on older kernels.
 * mmap, munmap and mremap are seen by system call tracepoints instead where
 * they attach (mt_sys_enter, mt_sys_exit): no trap. Those see every
 * process's calls; a call counts when its process is traced and the `syscall`
 * instruction it came from is one of a probed wrapper (struct mt_sys_site).
 * The wrapper's entry registers are then rebuilt (arguments from the system
 * call's, the stack pointer at its entry by the wrapper's CFI) and the call
 * goes through the same mt_entry and mt_finish as with a uprobe.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"

#define MT_DEFINE_MAPS
#include "core.bpf.h"
#include "python.bpf.h"

#define MAP_ANONYMOUS 0x20
#define MT_X86_EFLAGS_OF 0x800

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 mt_min_size = 0;
const volatile __u64 mt_max_size = 0;
const volatile __u32 mt_self_tgid = 0;
const volatile bool mt_want_stacks = true;
const volatile bool mt_want_age = false;
volatile __u32 mt_py_procs_nr = 0;
const volatile __u32 mt_py_depth = MT_PY_MAX_DEPTH;
const volatile __u64 mt_sample_rate = 0;
const volatile __u64 mt_sample_exact = 0;
const volatile __u64 mt_seed = 0;
volatile __u32 mt_sys_every = 0; /* -a: the system calls of every process but ours */
const volatile __u32 mt_g_tab[MT_G_BINS + 1] = {};
const volatile __u32 mt_ln_tab[MT_LN_BINS + 1] = {};
const volatile __u32 mt_alloc_mask = 0;
const volatile __u32 mt_site_max = 1;
const volatile __u32 mt_stripe_mask = 0;
volatile __u32 mt_site_next = 0;
volatile __s64 mt_spill_nr = 0;

extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

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
	if (kind == MT_KIND_FREE || kind == MT_KIND_FREE_SIZED ||
	    kind == MT_KIND_FREE_ALIGNED_SIZED) {
		/*
		 * No nesting check: no allocator calls the public free. With
		 * sampling most frees stop at the filter, before anything else.
		 */
		if (!p1 || !mt_maybe_recorded(p1))
			return 1;
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid != mt_self_tgid)
			mt_release(tgid, p1, !mt_sample_rate);
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

/* Return of an outermost call whose entry returned 0. */
static __always_inline void mt_exit(struct pt_regs *ctx)
{
	struct mt_thread *t = mt_thread_get();

	/* nested returns (seen only without sessions) sit below the outer frame */
	if (!t || !t->active || t->sys || PT_REGS_SP(ctx) <= t->outer_sp)
		return;
	mt_finish(t, PT_REGS_RC(ctx));
}

/* The registers a uprobe at an allocator's entry sees. */
static __always_inline void mt_regs_of(struct pt_regs *ctx, struct mt_regs *r)
{
	r->arg[0] = PT_REGS_PARM1(ctx);
	r->arg[1] = PT_REGS_PARM2(ctx);
	r->arg[2] = PT_REGS_PARM3(ctx);
	r->arg[3] = PT_REGS_PARM4(ctx);
	r->sp = PT_REGS_SP(ctx);
	r->fp = PT_REGS_FP(ctx);
	r->ip = PT_REGS_IP(ctx);
	r->flags = ctx->flags;
}

/* Functions whose entry always returns 1: a session never runs for their return. */
static __always_inline bool mt_entry_only(__u32 kind)
{
	return kind == MT_KIND_FREE || kind == MT_KIND_FREE_SIZED ||
	       kind == MT_KIND_FREE_ALIGNED_SIZED || kind == MT_KIND_MUNMAP;
}

SEC("uprobe")
int mt_libc_session(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct mt_regs r;

	/* frees are half the calls: they skip asking whether this is a return */
	if (!mt_entry_only(MT_COOKIE_KIND(cookie)) && bpf_session_is_return()) {
		mt_exit(ctx);
		return 0;
	}
	mt_regs_of(ctx, &r);
	return mt_entry(&r, cookie, false);
}

SEC("uprobe")
int mt_libc_entry(struct pt_regs *ctx)
{
	struct mt_regs r;

	mt_regs_of(ctx, &r);
	mt_entry(&r, bpf_get_attach_cookie(ctx), false);
	return 0;
}

SEC("uretprobe")
int mt_libc_return(struct pt_regs *ctx)
{
	mt_exit(ctx);
	return 0;
}

#define MT_NR_MMAP 9
#define MT_NR_MUNMAP 11
#define MT_NR_MREMAP 25
#define MT_PAGE_SHIFT 12
#define MT_EBUSY 16

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

/* The kind of the wrapper of system call nr; MT_KIND__MAX for others. */
static __always_inline __u32 mt_sys_kind(__s32 nr)
{
	switch (nr) {
	case MT_NR_MMAP:
		return MT_KIND_MMAP;
	case MT_NR_MUNMAP:
		return MT_KIND_MUNMAP;
	case MT_NR_MREMAP:
		return MT_KIND_MREMAP;
	default:
		return MT_KIND__MAX;
	}
}

/* Are the system calls of process tgid traced? */
static __always_inline bool mt_sys_traced(__u32 tgid)
{
	return tgid != mt_self_tgid && (mt_sys_every || bpf_map_lookup_elem(&mt_sys_tgids, &tgid));
}

/* bpf_find_vma callback: where the mapping at ip lies and which file it maps. */
static long mt_vma_of(struct task_struct *task, struct vm_area_struct *vma, struct mt_sys_proc *p)
{
	struct file *f = vma->vm_file;

	if (!f)
		return 0;
	p->lo = vma->vm_start;
	p->hi = vma->vm_end;
	p->bias = vma->vm_start - (vma->vm_pgoff << MT_PAGE_SHIFT);
	p->file.ino = f->f_inode->i_ino;
	p->file.dev = f->f_inode->i_sb->s_dev;
	return 0;
}

/* The site at ip of the library p says is mapped there, if it is one of this kind. */
static __always_inline struct mt_sys_site *mt_sys_site_in(const struct mt_sys_proc *p, __u64 ip,
							  __u32 kind)
{
	struct mt_sys_key k = p->file;
	struct mt_sys_site *s;

	if (ip < p->lo || ip >= p->hi || ip - p->bias > 0xffffffffULL)
		return NULL;
	k.off = ip - p->bias;
	s = bpf_map_lookup_elem(&mt_sys_sites, &k);
	return s && s->kind == kind ? s : NULL;
}

/*
 * The wrapper site of a system call of this kind whose user IP (the
 * instruction after it) is ip; NULL when it is not one of a probed wrapper.
 * Where the process maps its probed library is remembered (mt_sys_procs);
 * the kernel is asked only while that is not known.
 */
static __always_inline struct mt_sys_site *mt_sys_site_at(__u32 tgid, __u64 ip, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 mm = (__u64)task->mm, start_ns = task->group_leader->start_time;
	struct mt_sys_proc *p = bpf_map_lookup_elem(&mt_sys_procs, &tgid), found = {};
	struct mt_sys_site *s;
	long err;

	if (p && p->mm == mm && p->start_ns == start_ns)
		return mt_sys_site_in(p, ip, kind);
	if (p && !p->mm) {
		/* from the loader: a site there confirms it */
		s = mt_sys_site_in(p, ip, kind);
		if (s) {
			p->start_ns = start_ns;
			p->mm = mm;
			return s;
		}
	}
	err = bpf_find_vma(task, ip, mt_vma_of, &found, 0);
	if (err) {
		if (err == -MT_EBUSY)
			mt_count(MT_CNT_SYSCALL_BUSY);
		return NULL;
	}
	s = mt_sys_site_in(&found, ip, kind);
	if (s) {
		found.mm = mm;
		found.start_ns = start_ns;
		bpf_map_update_elem(&mt_sys_procs, &tgid, &found, BPF_ANY);
	}
	return s;
}

/* syscalls:sys_enter_mmap, sys_enter_munmap and sys_enter_mremap */
SEC("tracepoint")
int mt_sys_enter(struct mt_sys_enter_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, kind = mt_sys_kind(ctx->nr);
	struct mt_sys_site *s;
	struct pt_regs *regs;
	struct mt_regs r;

	if (kind == MT_KIND__MAX || !mt_sys_traced(tgid))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	/* the system call's arguments: %rdi, %rsi, %rdx, %r10 */
	r.arg[0] = regs->di;
	r.arg[1] = regs->si;
	r.arg[2] = regs->dx;
	r.arg[3] = regs->r10;
	r.flags = 0;
	/* a mapping of a file: the entry ignores it, spare the lookup */
	if (kind == MT_KIND_MMAP && !(r.arg[3] & MAP_ANONYMOUS))
		return 0;
	r.ip = regs->ip;
	s = mt_sys_site_at(tgid, r.ip, kind);
	if (!s)
		return 0;
	/* the wrapper's entry: its CFA less the return address */
	r.fp = regs->bp;
	r.sp = mt_frame_cfa(&s->rule, regs->sp, &r.fp) - 8;
	mt_entry(&r, MT_COOKIE_MAKE(kind, s->seg_off, s->seg_size), true);
	return 0;
}

SEC("tracepoint")
int mt_sys_exit(struct mt_sys_exit_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_thread *t;

	if (!mt_sys_traced(tgid))
		return 0;
	t = bpf_task_storage_get(&mt_threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->active || !t->sys || t->kind != mt_sys_kind(ctx->nr))
		return 0;
	t->sys = 0;
	mt_finish(t, ctx->ret);
	return 0;
}

/*
 * Benchmark floors (--floor): the same traps at the same places as full
 * tracing, with no work in them. "return" keeps the return probe of the
 * allocating functions, "entry" skips every return probe.
 */
SEC("uprobe")
int mt_floor_return(struct pt_regs *ctx)
{
	if (bpf_session_is_return())
		return 0;
	switch (MT_COOKIE_KIND(bpf_get_attach_cookie(ctx))) {
	case MT_KIND_FREE:
	case MT_KIND_MUNMAP:
	case MT_KIND_FREE_SIZED:
	case MT_KIND_FREE_ALIGNED_SIZED:
		return 1;
	default:
		return 0;
	}
}

SEC("uprobe")
int mt_floor_entry(struct pt_regs *ctx)
{
	return 1;
}

#define MT_SIGURG 23

/*
 * Py_FinalizeEx entry, in -- mode: the final report must show what was
 * outstanding before the interpreter tears itself down. Mark the process
 * and stop its main thread with a signal memtrace (its tracer) intercepts
 * and suppresses.
 */
SEC("uprobe")
int mt_py_finalize(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, one = 1;

	if ((__u32)id != tgid)
		return 0; /* only the traced main thread can be stopped for us */
	bpf_map_update_elem(&mt_py_finalizing, &tgid, &one, BPF_ANY);
	bpf_send_signal_thread(MT_SIGURG);
	return 0;
}
