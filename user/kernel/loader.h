/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The BPF side: the only module that includes the skeleton. Opens and
 * configures the programs and maps, loads them, and turns probe plans into
 * links (uprobe sessions, uprobe_multi links through raw BPF_LINK_CREATE
 * since libbpf 1.1 has no API for them, or classic perf-event uprobes).
 */
#ifndef MT_LOADER_H
#define MT_LOADER_H

#include <stdbool.h>
#include <sys/types.h>
#include "probe/plan.h"
#include "mt_abi.h"

struct mt_loader;

enum mt_attach_mode {
	MT_ATTACH_AUTO = 0, /* session, else uprobe_multi, else perf-event */
	MT_ATTACH_SESSION,
	MT_ATTACH_MULTI,
	MT_ATTACH_PERF,
};

/* Benchmark floors: the same probes doing no work. */
enum mt_floor {
	MT_FLOOR_NONE = 0,
	MT_FLOOR_RETURN, /* entry + return traps where full tracing has them */
	MT_FLOOR_ENTRY,	 /* entry traps only */
};

/* What the BPF side is loaded with: knobs and capacities, nothing else. */
struct mt_loader_opts {
	__u64 min_size, max_size; /* bytes recorded; max 0 = no limit */
	bool stacks;		  /* walk native stacks */
	bool unwind_cfi;	  /* by CFI rules (else frame pointers) */
	bool ages;		  /* timestamps, for --min-age */
	__u32 python_depth;	  /* Python frames walked per allocation */
	__u64 sample_rate;	  /* bytes, 0 = record everything */
	__u64 seed;		  /* sampling PRNG seed, 0 = random */
	__u32 max_allocs, max_sites, stack_storage;
	enum mt_floor floor;
	bool syscall_tps; /* mmap, munmap, mremap by system call tracepoints */
	bool verbose;	  /* say which mechanisms were chosen */
	bool procs_all;	  /* lifecycle events of every process (-a), not only mt_loader__follow's */
	/*
	 * --growth: load and attach the growth programs (tracepoints on page
	 * faults, rss_stat, mm_page_alloc, and on munmap, madvise, brk,
	 * mremap); without them no process can be under MT_TIER_GROWTH
	 */
	bool growth;
	/* the tier of a process mt_loader__set_tier was not told about (0: MT_TIER_NONE) */
	enum mt_tier default_tier;
	/* mt_loader__set_tier may give processes sample rates (sample_rate 0 here) */
	bool sampling;
};

/*
 * The maps the reader reads: file descriptors, and the arrays user space
 * maps (mmap) to read without a copy. Owned by the loader.
 */
struct mt_bpf_maps {
	int allocs, allocs_spill, site_index, site_free, stacks, counters, py_stacks, py_events;
	int proc_events; /* ring buffer of struct mt_proc_event */
	/* the CFI unwinder: addresses asked about, requests (struct mt_unwind_event) */
	int unwind_asked, unwind_events;
	/* its rules: MT_UNWIND_BUCKETS * MT_UNWIND_WAYS entries (mt_abi.h) */
	struct mt_unwind_entry *unwind_rules;
	__u64 nr_allocs; /* entries of the allocs table (the reader maps a window at a time) */
	volatile __s64 *spill_nr;	  /* records in allocs_spill */
	struct mt_site_key *site_keys;	  /* nr_sites slots */
	struct mt_site_stats *site_stats; /* nr_stripes * nr_sites, stripe-major */
	__u32 nr_sites, nr_stripes;
	const volatile __u32 *site_next; /* slots handed out by counting */
	volatile __u64 *sampled;	 /* sampled mode: mt_sampled (else NULL) */
	/* sampling: the weight of an allocation, as BPF computes it */
	__u64 sample_rate, sample_exact;
	const volatile __u32 *g_tab;
};

/*
 * Open, configure and load. mode AUTO picks the cheapest mode this kernel
 * supports; the mode used is mt_loader__mode(). NULL + errno on failure,
 * after an error message naming the cause (e.g. a missing capability).
 */
struct mt_loader *mt_loader__new(const struct mt_loader_opts *opts, enum mt_attach_mode mode);
void mt_loader__free(struct mt_loader *l);
enum mt_attach_mode mt_loader__mode(const struct mt_loader *l);

/*
 * What one probe hit costs on this machine, measured now on two functions
 * of memtrace itself: one whose entry the kernel emulates (push), one it
 * single-steps (mov), with probes that do nothing, attached as the
 * loader attaches its own. Microseconds per call over an unprobed call.
 * 0 or -errno (then nothing is known).
 */
int mt_loader__probe_costs(struct mt_loader *l, double *emulated_us, double *stepped_us);
const char *mt_attach_mode__name(enum mt_attach_mode m);

/*
 * Fit a plan to this loader before it is logged and attached: the probes
 * marked for system call tracepoints keep their uprobes when the
 * tracepoints are not attached.
 */
void mt_loader__prepare(const struct mt_loader *l, struct mt_plan *plan);

/*
 * Attach the plan's probes for one process (pid 0: every process), through
 * the plan's descriptor (plan->path is /proc/self/fd/N); device and inode
 * are checked again after attaching, and a mismatch detaches (-ESTALE).
 * Returns 0 or a negative errno after an error message naming the symbol.
 * -EOPNOTSUPP: this link type is not supported here (try another mode).
 */
int mt_loader__attach(struct mt_loader *l, const struct mt_plan *plan, pid_t pid);
/*
 * Tell the system call tracepoints where pid maps the plan's library (as
 * its maps said when the plan was made), so that its first calls need not
 * ask the kernel. mt_loader__attach does it for the pid it attaches to.
 */
void mt_loader__locate(struct mt_loader *l, const struct mt_plan *plan, pid_t pid);
/*
 * Before the end: the lifecycle tracepoints and every process's links go,
 * so nothing is stopped for memtrace any more; the events already sent
 * stay readable (the caller consumes them and resumes what they stopped).
 */
void mt_loader__quiesce(struct mt_loader *l);
/* Close the links of one process (its allocations stay in the maps). */
void mt_loader__detach(struct mt_loader *l, pid_t pid);

/*
 * Follow pid's lifecycle (forks, execs, exits as struct mt_proc_event on
 * proc_events) with MT_PROC_* flags; its children followed by BPF inherit
 * them. 0 or -errno. The entry goes when the process exits (BPF) or here.
 */
int mt_loader__follow(struct mt_loader *l, pid_t pid, __u32 flags);
void mt_loader__unfollow(struct mt_loader *l, pid_t pid);
/*
 * Can a process be stopped as it maps files (MT_PROC_AWAIT_LIB)? The
 * vm_unmapped_area tracepoint attached; without it a new image's allocator
 * is probed at the next report round.
 */
bool mt_loader__can_await_lib(const struct mt_loader *l);
/* Are OOM victims announced (MT_PROC_OOM: the oom/mark_victim tracepoint attached)? */
bool mt_loader__announces_oom(const struct mt_loader *l);

/* Tell BPF a process runs CPython with this layout (NULL: forget it). 0 or -errno. */
struct mt_py_offsets;
int mt_loader__set_python(struct mt_loader *l, pid_t pid, const struct mt_py_offsets *off);

/*
 * A stop probe: pid is stopped (SIGSTOP) and announced as an event of
 * type (enum mt_proc_event_type) when it runs file offset off of path;
 * the session sends SIGCONT when done. MT_PROC_FINALIZE at Py_FinalizeEx
 * (the final report before the interpreter's teardown), MT_PROC_MAPPED at
 * an interpreter's start, MT_PROC_UNMAPPING at dlclose(), MT_PROC_EXITING at exit(). The link is
 * one of pid's. 0 or -errno.
 */
int mt_loader__attach_stop(struct mt_loader *l, const char *path, __u64 off, pid_t pid, __u32 type);

/*
 * Per-process tiers (enum mt_tier, include/mt_abi.h), changed while
 * tracing, nothing reloaded: the BPF programs read pid's tier and sample
 * rate from a map at every event (a child inherits its parent's at fork;
 * the entry goes at exit). A process without an entry has
 * opts.default_tier and opts.sample_rate.
 *
 * What each tier needs besides: GROWTH needs opts.growth (the growth
 * programs are attached for the whole run and cost a process under
 * another tier one map lookup per new anonymous page); EXACT needs the
 * process's allocator probes, which are per process: mt_loader__attach
 * with its plan when it enters EXACT, mt_loader__detach when it leaves
 * (which also closes its stop probes: attach those again if it is
 * followed). So escalating growth -> exact -> growth is
 *   set_tier(EXACT, R); attach(plan, pid)   ...   set_tier(GROWTH, 0); detach(pid)
 * A sample rate needs opts.sampling or opts.sample_rate (-EOPNOTSUPP).
 *
 * What a change leaves behind: records stay until released, and a record
 * is released with the weight of the process's tier at that moment. A
 * process's exact (heap) records made before it left EXACT are not freed
 * any more (no probes): purge its records (mt_reclaim__purge, with the
 * process stopped) when it leaves EXACT, or give it a new tier only while
 * it has none; likewise before changing a nonzero sample rate. Growth
 * records (MT_SITE_GROWTH) weigh their size under any tier. --min-age
 * reports weigh sampled records with opts.sample_rate.
 * 0 or -errno.
 */
int mt_loader__set_tier(struct mt_loader *l, pid_t pid, enum mt_tier tier, __u64 sample_rate);
/* Back to the default tier. */
void mt_loader__clear_tier(struct mt_loader *l, pid_t pid);
/* Were the growth programs attached (opts.growth)? */
bool mt_loader__can_grow(const struct mt_loader *l);
/*
 * What one growth event costs on this machine, measured now: a child of
 * memtrace faults in fresh pages under MT_TIER_NONE and MT_TIER_GROWTH (and
 * gives them back), the least of four rounds each (the first round of the
 * path copies its stacks for an unwinder that does not answer yet);
 * *event_us: microseconds per page over a page no one records (which pays
 * the tracepoints and one map lookup), *fault_us: such a page's fault.
 * 0 or -errno (-EOPNOTSUPP without the growth programs).
 */
int mt_loader__growth_cost(struct mt_loader *l, double *event_us, double *fault_us);

/* The maps, mapped where they can be: 0 or a negative errno. Valid until mt_loader__free. */
int mt_loader__maps(struct mt_loader *l, struct mt_bpf_maps *m);

#endif
