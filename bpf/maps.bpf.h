/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maps and settings shared by every probe family. Defined in maps.bpf.c
 * (MT_DEFINE_MAPS); the other BPF objects see them as extern and bpftool's
 * linker joins them. Capacities are set by the loader before load.
 */
#ifndef MT_MAPS_BPF_H
#define MT_MAPS_BPF_H

#include "mt_python.h"

#ifdef MT_DEFINE_MAPS
#define MT_MAP
#else
#define MT_MAP extern
#endif

/*
 * Settings, defined in maps.bpf.c. rodata (const volatile): set by the
 * loader before load. .bss (volatile): change while tracing, set by the
 * loader (mt_sys_every, mt_py_procs_nr) or counted by BPF.
 */
extern const volatile __u64 mt_min_size;
extern const volatile __u64 mt_max_size;
extern const volatile __u32 mt_self_tgid;
extern const volatile bool mt_want_stacks;
extern const volatile bool mt_want_age; /* timestamps for --min-age */
/* native stacks by the CFI rules in mt_unwind_rules (else the frame-pointer walk) */
extern const volatile bool mt_unwind_cfi;
extern const volatile __u64 mt_sample_rate;  /* R bytes, 0 = record everything */
extern const volatile __u64 mt_sample_exact; /* R * ln(100): recorded exactly from here */
extern const volatile __u64 mt_seed;	     /* 0 = random */
/* the sampled-records filter (mt_sampled) is kept: some process may be sampled */
extern const volatile bool mt_sampling;
/* tier of a process with no mt_tiers entry (enum mt_tier) */
extern volatile __u32 mt_default_tier;
/* entries in mt_tiers, kept by the loader: 0 spares the lookup */
extern volatile __u32 mt_tiers_nr;
extern const volatile __u32 mt_g_tab[MT_G_BINS + 1];
extern const volatile __u32 mt_ln_tab[MT_LN_BINS + 1];
extern const volatile __u32 mt_alloc_mask;  /* buckets in mt_allocs - 1 */
extern const volatile __u32 mt_site_max;    /* slots */
extern const volatile __u32 mt_stripe_mask; /* stripes of site totals - 1 */
extern volatile __u32 mt_site_next;	    /* slots handed out by counting */
extern volatile __u64 mt_unwind_seq;	    /* unwind requests sent */
extern volatile __s64 mt_spill_nr;	    /* records in mt_allocs_spill */
extern volatile __u32 mt_sys_every;	    /* -a: the system calls of every process but ours */
extern const volatile bool mt_procs_all;    /* -a: lifecycle events of every process */
/* --python-depth: Python frames kept per stack (1..MT_PY_MAX_DEPTH) */
extern const volatile __u32 mt_py_depth;
/* processes in mt_py_procs, kept by the loader */
extern volatile __u32 mt_py_procs_nr;

/* Poisson countdown over bytes */
struct mt_sampler {
	__s64 left; /* bytes until the next sample */
	__u64 rng;  /* xorshift64* state, 0 = not seeded */
};

/* entry -> return state of the outermost allocator call of a thread */
struct mt_thread {
	__u64 outer_sp;		   /* stack pointer at the outermost entry */
	__u64 size;		   /* requested bytes */
	__u64 aux;		   /* realloc/mremap: old block; posix_memalign: out-pointer */
	__u64 caller;		   /* [SP] at entry: the call site's return address */
	__u64 stack;		   /* key in mt_stacks, 0 = none */
	__u64 py_stack;		   /* key in mt_py_stacks, 0 = none */
	__u64 w_bytes, w_count;	   /* weight of the allocation in flight */
	struct mt_sampler sampler; /* with --seed: per thread, so runs repeat */
	__u32 kind;		   /* enum mt_kind */
	__u32 active;		   /* an outermost call is in flight */
	__u32 release_only;	   /* not sampled: the return only releases the old block */
	__u32 site;		   /* slot of the thread's last site: likely the next one too */
	__u32 sys;		   /* the call in flight is a system call (tracepoints) */
	__u32 site_kind;	   /* enum mt_site_kind of the call in flight */
	__u64 rate;   /* the process's sample rate (mt_tier_of) for the call in flight */
	__u64 handed; /* a block a MT_COOKIE_HANDS_ON free released: its next free is the same */
};

/*
 * Live allocations: an open-addressed table of MT_ALLOC_WAYS-entry buckets,
 * two candidate buckets per (tgid, address). An allocation claims a free
 * entry with a compare-and-swap, a free clears it: no lock, no memory
 * allocation, no helper call on the path every malloc and free takes. Its
 * size is a power of two set by the loader; the loader maps it to rebuild
 * --min-age reports and to drop processes that went.
 */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 20);
	__type(key, __u32);
	__type(value, struct mt_alloc);
} mt_allocs SEC(".maps");

/* allocations whose two buckets were full: (tgid, address) -> record */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 18);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_alloc);
} mt_allocs_spill SEC(".maps");

/*
 * Sites: a key gets a slot on its first allocation (mt_site_index), its
 * key is stored at that slot (mt_site_keys), its totals at that slot of
 * each stripe (mt_site_stats, stripe-major). Slots come from a counter,
 * then from mt_site_free, where the loader returns the slots of processes
 * that went. User space reads both arrays through mmap: no copy.
 */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, struct mt_site_key);
	__type(value, __u32);
} mt_site_index SEC(".maps");

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 16);
	__type(key, __u32);
	__type(value, struct mt_site_key);
} mt_site_keys SEC(".maps");

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 16);
	__type(key, __u32);
	__type(value, struct mt_site_stats);
} mt_site_stats SEC(".maps");

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 1 << 16);
	__type(value, __u32);
} mt_site_free SEC(".maps");

/*
 * Frame-pointer stacks by content hash. Unlike a STACK_TRACE map, a
 * different stack never replaces or is refused a bucket: it gets its own
 * entry until the map is full.
 */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 14);
	__type(key, __u64);
	__type(value, struct mt_stack);
} mt_stacks SEC(".maps");

/* CFI steps out of allocator wrappers in the probed library (strdup, ...) */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mt_frame_key);
	__type(value, struct mt_frame_rule);
} mt_frame_rules SEC(".maps");

/* the CFI unwinder's rules by (process, return address): buckets written by user space */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_UNWIND_BUCKETS *MT_UNWIND_WAYS);
	__type(key, __u32);
	__type(value, struct mt_unwind_entry);
} mt_unwind_rules SEC(".maps");

/*
 * Return addresses whose stack was copied for user space while it has not
 * answered yet: at most MT_UNWIND_ASKS copies per address and second, so
 * that a loop allocating on a new path in the ~ms user space takes to
 * answer gets each of its stacks completed, and an address user space
 * cannot answer for does not copy at allocation rate.
 */
struct mt_unwind_asked {
	__u64 ts_ns; /* start of the current second */
	__u64 n;     /* copies sent in it */
};
#define MT_UNWIND_ASKS 1024

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct mt_unwind_key);
	__type(value, struct mt_unwind_asked);
} mt_unwind_asked SEC(".maps");

/* stack copies for user space to unwind (struct mt_unwind_event): ~990 of them */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} mt_unwind_events SEC(".maps");

/* system calls in probed libraries' mmap, munmap and mremap (filled by the loader) */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct mt_sys_key);
	__type(value, struct mt_sys_site);
} mt_sys_sites SEC(".maps");

/* tgid -> where it maps its probed library */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct mt_sys_proc);
} mt_sys_procs SEC(".maps");

/* processes whose system calls the tracepoints trace (-p, --); -a: mt_sys_every */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} mt_sys_tgids SEC(".maps");

/*
 * Without --seed the countdown is per CPU: as memoryless as a per-thread
 * one (every byte is sampled with probability 1/R), and an unsampled call
 * then touches no per-thread state at all.
 */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_sampler);
} mt_samplers SEC(".maps");

/*
 * Sampled mode: how many live records hash to each slot (MT_SAMPLED_SLOT).
 * Counted up when a block is recorded, down when its record goes, so the
 * filter stays as sharp as the live set is small however long the run; a
 * collision only costs a lookup, and a release is never lost.
 */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_SAMPLED_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} mt_sampled SEC(".maps");

/* Where the CFI walk (core.bpf.c mt_stack_unwind) stands: at pc, with these %rsp and %rbp. */
struct mt_unwind_state {
	__u32 tgid;
	__u32 exact; /* set before mt_stack_unwind: its pc is an interrupted instruction */
	__u64 pc, sp, fp;
	__u64 base, end;	  /* what the scratch window holds now */
	__u64 ra;		  /* the return address the rule found */
	__u64 rsp, rbp;		  /* a signal frame's, being read */
	struct mt_unwind_key key; /* the rule's key (not on the BPF stack either) */
};

/* scratch space for building a stack (too large for the BPF stack) */
#define MT_STACK_CHUNK 512
struct mt_stack_scratch {
	struct mt_stack stack;
	struct mt_unwind_state st;
	__u8 chunk[MT_STACK_CHUNK + 16]; /* a window of the user stack */
};

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_stack_scratch);
} mt_stack_scratch SEC(".maps");

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} mt_counters SEC(".maps");

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mt_thread);
} mt_threads SEC(".maps");

/* interpreter layout of each Python process, by tgid (filled by the loader) */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct mt_py_offsets);
} mt_py_procs SEC(".maps");

/* thread id -> its PyThreadState, validated on every use */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} mt_py_tstates SEC(".maps");

/* Python stacks by content hash */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 14);
	__type(key, __u64);
	__type(value, struct mt_py_stack);
} mt_py_stacks SEC(".maps");

/* new Python stacks, for user space to resolve while their code lives */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} mt_py_events SEC(".maps");

/* scratch: a Python stack being built and the frame being read */
struct mt_py_scratch {
	struct mt_py_stack stack;
	__u8 frame[136];
};

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_py_scratch);
} mt_py_scratch SEC(".maps");

/* per-process tiers: tgid -> struct mt_tier_val (set by the loader, inherited at fork) */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct mt_tier_val);
} mt_tiers SEC(".maps");

/*
 * --growth releases: what a thread's munmap, madvise, brk or mremap asked
 * for, from its entry to its exit (pid_tgid -> struct mt_growth_call)
 */
struct mt_growth_call {
	__s64 nr;      /* system call number */
	__u64 arg[3];  /* its first arguments */
	__u64 old_brk; /* brk: the break before the call */
};

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct mt_growth_call);
} mt_growth_calls SEC(".maps");

/*
 * A page fault of a thread of a growth process, from its start
 * (page_fault_user, page_fault_kernel) to the anonymous page it installs
 * (rss_stat): at most one growth event per fault.
 */
struct mt_growth_fault {
	__u64 addr;    /* the faulting address */
	__u32 order;   /* of the largest movable (user) page allocated in the fault */
	__u32 pending; /* a fault is under way and has recorded nothing yet */
};

MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mt_growth_fault);
} mt_growth_faults SEC(".maps");

/* scratch: a growth event's site, as mt_record takes it */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_thread);
} mt_growth_scratch SEC(".maps");

/* processes whose forks, execs and exits are followed: tgid -> MT_PROC_* flags */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} mt_procs SEC(".maps");

/* their lifecycle events (struct mt_proc_event), in order */
MT_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} mt_proc_events SEC(".maps");

#endif
