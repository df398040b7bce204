/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF programs and the loader: map keys and values,
 * limits and the probe cookie layout. Types and constants only. BPF files
 * include vmlinux.h before this file, user files <linux/types.h>.
 *
 * Invariants:
 * - every struct is padded explicitly and its size pinned below;
 * - counts are fixed point (MT_COUNT_ONE = one allocation) so that sampled
 *   allocations can carry fractional weights without a format change;
 * - an allocation's record holds its site's slot and its size, and a
 *   site's slot is never reused while a record can point to it, so a free
 *   subtracts exactly what the allocation added.
 */
#ifndef MT_ABI_H
#define MT_ABI_H

#include "mt_kinds.h"

#define MT_MAX_STACK_DEPTH 64 /* frames kept per stack map entry */
#define MT_COUNT_SHIFT 16
#define MT_COUNT_ONE (1ULL << MT_COUNT_SHIFT)

/* largest distance between two frame pointers the stack walk accepts */
#define MT_MAX_FRAME_SPAN (64ULL << 20)

/*
 * Probe cookie: which allocator the probe sits on, and where the probed
 * module's executable segment lies relative to the probe address, so the
 * BPF side can tell calls made from inside the C library (allocator
 * internals, thread stacks) from calls made by the program.
 *   bits  0..6   enum mt_kind
 *   bit   7      MT_COOKIE_PRODUCT: the probe sits where the function has
 *                multiplied its count by its size (glibc's reallocarray):
 *                %rsi holds the product, the overflow flag says it overflowed;
 *                on a free, MT_COOKIE_HANDS_ON: the function may hand the
 *                block on to another probed free (tcmalloc's sized delete
 *                jumps to free on its slow path), whose probe sees it again
 *   bits  8..35  probe address - start of the executable segment
 *   bits 36..63  size of the executable segment (0: unknown)
 */
#define MT_COOKIE_KIND(c) ((c)&0x7f)
#define MT_COOKIE_PRODUCT 0x80ULL
#define MT_COOKIE_HANDS_ON MT_COOKIE_PRODUCT
#define MT_COOKIE_OFF(c) (((c) >> 8) & 0xfffffffULL)
#define MT_COOKIE_SIZE(c) ((c) >> 36)
#define MT_COOKIE_MAKE(kind, off, size) \
	((__u64)(kind) | ((__u64)(off) << 8) | ((__u64)(size) << 36))
#define MT_COOKIE_FIELD_MAX 0xfffffffULL

/*
 * Where an allocation was made: the call site, and the stacks above it by
 * the hash that keys them in their maps. Extensible: a DWARF-unwound or a
 * Python frame stack gets a field of its own; zero means "none".
 */
struct mt_site_key {
	__u32 tgid;
	__u32 kind;	/* enum mt_site_kind */
	__u64 caller;	/* return address at allocator entry ([SP]) */
	__u64 stack;	/* frame-pointer stack: key in the stacks map, 0 = none */
	__u64 py_stack; /* reserved for Python frames, 0 = none */
};

/* A stack: return addresses, outermost last, ended by 0 when shorter. */
struct mt_stack {
	__u64 ips[MT_MAX_STACK_DEPTH];
};

/*
 * Outstanding and cumulative totals of one site, in one stripe. Each site
 * has a slot: its key sits in an array at that index, and its totals in
 * one array per stripe (CPU % stripes), so CPUs allocating at one hot site
 * do not fight over a cache line. A block freed on another stripe than the
 * one it was allocated on makes one stripe's share negative; the sum is
 * what counts. Updated atomically.
 */
struct mt_site_stats {
	__s64 bytes;	   /* outstanding bytes (weighted when sampled) */
	__s64 count;	   /* outstanding allocations, in MT_COUNT_ONE units */
	__u64 alloc_bytes; /* bytes allocated since attach */
	__u64 alloc_count; /* allocations since attach, MT_COUNT_ONE units */
};

/*
 * How to step from a return address inside the allocator's library (a
 * wrapper such as strdup calling malloc) to its caller, from the library's
 * CFI: the wrapper's CFA is (SP at the allocator's entry) + 8 + cfa, its
 * return address sits at CFA - 8, and the caller's %rbp at CFA + rbp
 * (rbp == 0: the wrapper leaves %rbp alone). In a struct mt_sys_site, SP
 * is the stack pointer at the system call instead.
 */
struct mt_frame_key {
	__u32 seg_size; /* size of the library's executable segment */
	__u32 off;	/* return address - start of that segment */
};

struct mt_frame_rule {
	__s32 cfa;
	__s32 rbp;
};

/*
 * The CFI unwinder's rules, learned lazily (README "Stacks without frame
 * pointers"): per process and return address (absolute: a process's
 * libraries do not move while it runs, and fork children share them), how
 * to step from the frame that address returns into to its caller:
 *   MT_UNWIND_SP, MT_UNWIND_BP: CFA = %rsp (or %rbp) + cfa, the caller's
 *     return address at CFA - 8, its %rbp at CFA + rbp (rbp == 0: the
 *     frame leaves %rbp alone), its %rsp = CFA;
 *   MT_UNWIND_SIGNAL: the frame is a signal trampoline (__restore_rt): the
 *     interrupted %rip, %rsp and %rbp are in the ucontext at %rsp;
 *   MT_UNWIND_END: the outermost frame (CFI leaves the return address
 *     undefined, as _start's does): the stack is complete;
 *   MT_UNWIND_STOP: no usable CFI here (no unwind table, a rule BPF cannot
 *     apply): the stack ends here, counted.
 * A return address with no rule yet stops the walk: BPF copies the stack
 * (struct mt_unwind_event) for user space to unwind, which inserts a rule
 * for every return address it crosses and completes that stack.
 *
 * The rules sit in an array of MT_UNWIND_WAYS-entry buckets, one bucket per
 * (tgid, address) by MT_UNWIND_BUCKET: a step costs BPF an inlined array
 * index and a compare, not a hash map lookup. Only user space writes it
 * (mapped): an entry's rule first, then its tgid and address; a changed or
 * dropped entry loses its address first. A full bucket evicts (the evicted
 * address is asked about again).
 */
enum mt_unwind_kind {
	MT_UNWIND_SP = 1,
	MT_UNWIND_BP,
	MT_UNWIND_SIGNAL,
	MT_UNWIND_END,
	MT_UNWIND_STOP,
};

struct mt_unwind_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr; /* a return address (or an interrupted IP after a signal frame) */
};

struct mt_unwind_rule {
	__u32 kind; /* enum mt_unwind_kind */
	__s32 cfa;
	__s32 rbp;
	__u32 pad;
};

struct mt_unwind_entry {
	struct mt_unwind_rule rule;
	__u32 tgid;
	__u32 pad;
	__u64 addr; /* 0: a free entry */
};

#define MT_UNWIND_WAYS 4
#define MT_UNWIND_BUCKETS (1U << 15) /* 131072 entries, 4 MiB */
#define MT_UNWIND_TGID_MIX(tgid) ((__u64)(tgid) << 47 | (tgid))
#define MT_UNWIND_BUCKET_MIXED(mix, addr) \
	((__u32)((((__u64)(addr) ^ (mix)) * 0x9e3779b97f4a7c15ULL) >> 40) & (MT_UNWIND_BUCKETS - 1))
#define MT_UNWIND_BUCKET(tgid, addr) MT_UNWIND_BUCKET_MIXED(MT_UNWIND_TGID_MIX(tgid), addr)

/* Offsets of the interrupted registers in a signal frame, from %rsp in __restore_rt. */
#define MT_SIGFRAME_RBP 120
#define MT_SIGFRAME_RSP 160
#define MT_SIGFRAME_RIP 168

/*
 * An unwind request's pc is an interrupted instruction (a page fault,
 * --growth), not a return address: its rule is looked up at pc itself, not
 * at pc - 1 (where a push just before it would give the wrong CFA)
 */
#define MT_UNWIND_F_EXACT 0x1

/* bytes of stack an unwind request copies, from the first frame without a rule */
#define MT_UNWIND_COPY 16384

/*
 * An unwind request: the stack stopped at pc (a return address with no
 * rule) with %rsp and %rbp as the walk computed them there. ips[0..nr) are
 * the return addresses found before (the stack as stored under key stack,
 * which user space completes); data holds len bytes of the stack from sp.
 */
struct mt_unwind_event {
	__u32 tgid;
	__u32 nr;
	__u64 stack; /* key in the stacks map of this allocation's stack */
	__u64 pc, sp, bp;
	__u32 len;
	__u32 flags; /* MT_UNWIND_F_* */
	__u64 ips[MT_MAX_STACK_DEPTH];
	__u8 data[MT_UNWIND_COPY];
};

/*
 * System call tracepoints (syscalls:sys_enter_mmap, ...) see the calls of
 * every process; one counts only when the mmap, munmap or mremap wrapper of
 * a probed library made it. The user IP after the `syscall` instruction
 * tells: the file mapped there and the IP's offset in it key the site.
 */
struct mt_sys_key {
	__u64 ino;
	__u32 dev; /* the kernel's encoding: major << 20 | minor */
	__u32 off; /* file offset of the instruction after the system call */
};

/*
 * A system call in a probed library's wrapper: which wrapper, where the IP
 * after it lies in the library's executable segment (as in a probe cookie:
 * calls from inside the library are told apart by it), and the CFI rule
 * that steps out of the wrapper to its caller.
 */
struct mt_sys_site {
	__u32 kind;	/* MT_KIND_MMAP, MT_KIND_MUNMAP or MT_KIND_MREMAP */
	__u32 seg_off;	/* IP - start of the executable segment */
	__u32 seg_size; /* size of the executable segment */
	__u32 pad;
	struct mt_frame_rule rule;
};

/*
 * Where a traced process maps a probed library's code, so the tracepoints
 * need not ask the kernel at every call: bpf_find_vma only try-locks the
 * process's memory map and fails while another thread maps or unmaps.
 * Filled by BPF after a lookup, or by the loader from the process's maps
 * (mm 0: not yet confirmed by a system call from one of its sites).
 */
struct mt_sys_proc {
	__u64 mm;		/* the address space it holds for, 0 = from the loader */
	__u64 start_ns;		/* start time of the process: tgids are reused */
	__u64 lo, hi;		/* the executable mapping */
	__u64 bias;		/* lo - its file offset: an IP's file offset is ip - bias */
	struct mt_sys_key file; /* off unused */
};

/*
 * Poisson sampling over bytes (mean distance R = the sample rate). Tables
 * computed by the loader, in Q16 fixed point (BPF has no floating point):
 *   MT_G: g(x) = x / (1 - e^-x) at x = i * ln(100) / MT_G_BINS, i = 0..BINS;
 *         a sampled allocation of S bytes weighs R * g(S/R) bytes and
 *         R * g(S/R) / S allocations. S >= R * ln(100) (sampled with
 *         probability >= 99%) is recorded exactly instead.
 *   MT_LN: -ln(m) at m = 0.5 + i / (2 * MT_LN_BINS), i = 0..BINS, for the
 *         exponential draws -ln(u) = k ln 2 - ln(m), u = 2^-k m.
 */
#define MT_G_BINS 512
/* R * ln(100), rounded up: ln(100) = 4.60517 = 301805 / 65536 (+1 covers the rounding) */
#define MT_SAMPLE_EXACT(rate) ((((__u64)(rate)) * 301805ULL >> 16) + 1)
#define MT_LN_BINS 256
#define MT_Q16 65536ULL
#define MT_LN2_Q16 45426ULL /* ln 2 * 65536 */

/* Key of an allocation in the spill map (struct mt_alloc is the value). */
struct mt_alloc_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

/*
 * One live allocation: an entry of the open-addressed allocation table
 * (addr 0: free entry), or a value in its spill map. Its weight is a
 * function of size alone (see the sampling tables above), so it is not
 * stored: a free subtracts what the allocation added, computed again.
 */
struct mt_alloc {
	__u64 addr;  /* block address; 0 = free entry */
	__u32 tgid;  /* owning process; 0 while the entry is being claimed or freed */
	__u32 site;  /* slot of the allocation's site */
	__u64 size;  /* requested bytes */
	__u64 ts_ns; /* bpf_ktime_get_ns() at allocation (--min-age) */
};

/* live-allocation table: entries per bucket; each block has two candidate buckets */
#define MT_ALLOC_WAYS 4
/* the slot of no site */
#define MT_NO_SITE 0xffffffffU
/*
 * Sampled mode: live records per hash of their address (the process left
 * out), in an array of MT_SAMPLED_SLOTS 64-bit counters (a BPF array's
 * elements are 8-byte aligned: user space maps them). A free whose counter
 * is 0 was never recorded and costs no lookup. Shared so that the loader,
 * which drops the records of processes that went, can take them off too.
 */
#define MT_SAMPLED_SLOTS (1U << 19)
#define MT_SAMPLED_SLOT(addr) \
	((__u32)(((__u64)(addr)*0x9e3779b97f4a7c15ULL) >> 40) & (MT_SAMPLED_SLOTS - 1))
/* most stripes of per-site totals (at most one per CPU) */
#define MT_MAX_STRIPES 8

/*
 * Process lifecycle, as the sched_process_{fork,exec,exit} tracepoints see
 * it, for the processes memtrace follows (mt_procs; -a: every process).
 * A process is named by its tgid and its start time (start_boottime, ns):
 * a pid reused later is another process.
 */
enum mt_proc_event_type {
	MT_PROC_FORK = 1,  /* pid is a new child of ppid (threads are not processes) */
	MT_PROC_EXEC,	   /* pid runs a new program */
	MT_PROC_EXIT,	   /* pid's last thread exited */
	MT_PROC_FINALIZE,  /* pid's Python interpreter began to finalize (Py_FinalizeEx) */
	MT_PROC_MAPPED,	   /* stopped: pid (MT_PROC_AWAIT_LIB) mapped, or its interpreter starts */
	MT_PROC_UNMAPPING, /* stopped: pid is about to unmap a library (dlclose()) */
	MT_PROC_EXITING,   /* stopped: pid called exit(), its mappings still there */
	MT_PROC_OOM,	   /* the OOM killer chose task pid (a thread id) as its victim */
};

/*
 * mt_procs value: what to do at the process's lifecycle events. A child
 * inherits its parent's flags but MT_PROC_AWAIT_LIB.
 */
#define MT_PROC_FOLLOW 0x1 /* its children are followed */
#define MT_PROC_STOP                                                      \
	0x2 /* links are per process: stop each new child, and each exec, \
	     * until memtrace has attached to it (SIGCONT) */
/*
 * Its new image's allocator is not mapped yet: stop it after each
 * new mapping (MT_PROC_MAPPED) until memtrace has probed it.
 */
#define MT_PROC_AWAIT_LIB 0x4

struct mt_proc_event {
	__u32 type;	     /* enum mt_proc_event_type */
	__u32 pid;	     /* tgid */
	__u32 ppid;	     /* MT_PROC_FORK: the parent's tgid */
	__u32 stopped;	     /* 1: the process was sent SIGSTOP and waits for SIGCONT */
	__u64 start_ns;	     /* the process's start time (boot-time clock) */
	__u64 ppid_start_ns; /* MT_PROC_FORK: the parent's */
	__s32 exit_code;     /* MT_PROC_EXIT: wait status as the parent will see it */
	__u32 pad;
};

/*
 * Per-process tiers (mt_tiers, keyed by tgid): what memtrace does for a
 * process, changed at run time without reloading (mt_loader__set_tier).
 *   NONE    nothing is recorded (its allocator probes, if any, return at once)
 *   GROWTH  new anonymous pages faulted in are recorded (struct mt_site_key
 *           kind MT_SITE_GROWTH, one page or folio a record) and released
 *           where munmap, madvise, brk and mremap give them back; no uprobe
 *   EXACT   the allocator's calls are recorded by its uprobes (attached per
 *           process), every call or one per sample_rate bytes
 * A process with no entry has the loader's default tier and sample rate.
 */
enum mt_tier {
	MT_TIER_NONE = 0,
	MT_TIER_GROWTH,
	MT_TIER_EXACT,
};

struct mt_tier_val {
	__u32 tier; /* enum mt_tier */
	__u32 pad;
	__u64 sample_rate; /* EXACT: bytes per sample, 0 = every allocation */
};

/* pages one release (munmap, madvise, brk, mremap) looks at: 4 GiB of 4 KiB pages */
#define MT_GROWTH_MAX_PAGES (1U << 20)

_Static_assert(MT_KIND__MAX <= MT_COOKIE_PRODUCT, "kinds fit the cookie");
_Static_assert(sizeof(struct mt_site_key) == 32, "mt_site_key size");
_Static_assert(sizeof(struct mt_site_stats) == 32, "mt_site_stats size");
_Static_assert(sizeof(struct mt_alloc_key) == 16, "mt_alloc_key size");
_Static_assert(sizeof(struct mt_frame_key) == 8, "mt_frame_key size");
_Static_assert(sizeof(struct mt_frame_rule) == 8, "mt_frame_rule size");
_Static_assert(sizeof(struct mt_alloc) == 32, "mt_alloc size");
_Static_assert(sizeof(struct mt_sys_key) == 16, "mt_sys_key size");
_Static_assert(sizeof(struct mt_unwind_key) == 16, "mt_unwind_key size");
_Static_assert(sizeof(struct mt_unwind_rule) == 16, "mt_unwind_rule size");
_Static_assert(sizeof(struct mt_unwind_entry) == 32, "mt_unwind_entry size");
_Static_assert(sizeof(struct mt_unwind_event) == 48 + 8 * MT_MAX_STACK_DEPTH + MT_UNWIND_COPY,
	       "mt_unwind_event size");
_Static_assert(sizeof(struct mt_sys_site) == 24, "mt_sys_site size");
_Static_assert(sizeof(struct mt_sys_proc) == 56, "mt_sys_proc size");
_Static_assert(sizeof(struct mt_stack) == MT_MAX_STACK_DEPTH * 8, "mt_stack size");
_Static_assert(sizeof(struct mt_proc_event) == 40, "mt_proc_event size");
_Static_assert(sizeof(struct mt_tier_val) == 16, "mt_tier_val size");

#endif /* MT_ABI_H */
