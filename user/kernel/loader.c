// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading and attaching.
 *
 * Link flavours, cheapest first (costs measured on this project's VM):
 *  - session (BPF_TRACE_UPROBE_SESSION, kernel 6.13+): one program sees
 *    entry and return; an entry that returns 1 skips the return probe;
 *  - multi (BPF_TRACE_UPROBE_MULTI, 6.6+): one entry link and one return
 *    link per process, every function in each;
 *  - perf: one perf-event uprobe (and uretprobe) per function via libbpf.
 * The expected attach type is fixed at load time, so falling back means
 * loading again.
 *
 * mmap, munmap and mremap: system call tracepoints, attached once for the
 * whole run; each process's calls count once its pid is in mt_sys_tgids
 * (or mt_sys_every is set, -a) and its library's sites in mt_sys_sites.
 * When their programs do not load or the tracepoints do not attach, those
 * functions keep their uprobes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/loader.h"
#include "lib/log.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "mt_python.h"
#include "kernel/tracefs.h"
#include "memtrace.skel.h"

#define MT_BPF_TRACE_UPROBE_MULTI 48
#define MT_BPF_TRACE_UPROBE_SESSION 57
#define MT_BPF_F_UPROBE_MULTI_RETURN 1
#define MT_BPF_LINK_CREATE 28
/* the table's bucket index has 24 bits (core.bpf.h) */
#define MT_MAX_ALLOC_TABLE (MT_ALLOC_WAYS << 24)

/* union bpf_attr's link_create member for uprobe_multi (kernel 6.6+) */
struct mt_link_create_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 um_flags;
	__u32 pid;
	__u32 pad;
	__u8 rest[144 - 64];
};

struct mt_pid_links {
	pid_t pid;
	int fds[2];		 /* raw link fds, -1 when unused */
	struct bpf_link **links; /* perf mode, and stop probes where multi links are not there */
	size_t nr_links;
	int *stop_fds; /* stop probes: raw uprobe_multi link fds */
	size_t nr_stop_fds;
};

/* the exit tracepoints first: every call entered can be finished */
static const char *const sys_events[] = {
    "syscalls/sys_exit_mmap",	 "syscalls/sys_exit_mremap",  "syscalls/sys_enter_mmap",
    "syscalls/sys_enter_mremap", "syscalls/sys_enter_munmap",
};
#define NR_SYS_EVENTS (sizeof(sys_events) / sizeof(sys_events[0]))

/* --growth releases: the exits first, as above */
static const char *const growth_events[] = {
    "syscalls/sys_exit_munmap", "syscalls/sys_exit_madvise", "syscalls/sys_exit_brk",
    "syscalls/sys_exit_mremap", "syscalls/sys_enter_munmap", "syscalls/sys_enter_madvise",
    "syscalls/sys_enter_brk",	"syscalls/sys_enter_mremap",
};
#define NR_GROWTH_EVENTS (sizeof(growth_events) / sizeof(growth_events[0]))
#define NR_GROWTH_FAULT 4 /* page_fault_user, page_fault_kernel, mm_page_alloc, rss_stat */

struct mt_loader {
	struct memtrace_bpf *skel;
	struct bpf_link *proc_links[4]; /* fork, exec, exit, code mapped (optional) */
	struct bpf_link *oom_link;	/* OOM victims (optional) */
	struct bpf_program *session;	/* the session program attached */
	enum mt_attach_mode mode;
	struct bpf_link *sys_links[NR_SYS_EVENTS]; /* all set, or none */
	/* --growth: the fault tracepoints first; all or none */
	struct bpf_link *growth_links[NR_GROWTH_FAULT + NR_GROWTH_EVENTS];
	struct mt_pid_links *pids;
	size_t nr_pids;
	__u64 nr_allocs;	    /* entries of the allocation table */
	__u32 nr_sites, nr_stripes; /* site slots, stripes of their totals */
	void *mem[4]; /* mapped arrays: site keys, site totals, sampled counts, unwind rules */
	size_t mem_len[4];
};

const char *mt_attach_mode__name(enum mt_attach_mode m)
{
	switch (m) {
	case MT_ATTACH_SESSION:
		return "session";
	case MT_ATTACH_MULTI:
		return "uprobe_multi";
	case MT_ATTACH_PERF:
		return "perf-event uprobes";
	default:
		return "auto";
	}
}

enum mt_attach_mode mt_loader__mode(const struct mt_loader *l)
{
	return l->mode;
}

/* Sampling tables and thresholds (see include/mt_abi.h). */
static void set_sampling(struct memtrace_bpf *skel, __u64 rate, __u64 seed)
{
	const double xmax = log(100.0);

	skel->rodata->mt_sample_rate = rate;
	skel->rodata->mt_sample_exact = (__u64)ceil((double)rate * xmax);
	skel->rodata->mt_seed = seed;
	for (int i = 0; i <= MT_G_BINS; i++) {
		double x = xmax * i / MT_G_BINS;
		double g = i ? x / -expm1(-x) : 1.0;

		skel->rodata->mt_g_tab[i] = (__u32)llround(g * MT_Q16);
	}
	for (int i = 0; i <= MT_LN_BINS; i++) {
		double m = 0.5 + (double)i / (2 * MT_LN_BINS);

		skel->rodata->mt_ln_tab[i] = (__u32)llround(-log(m) * MT_Q16);
	}
}

static __u64 pow2_at_least(__u64 n)
{
	__u64 p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Map sizes. The allocation table holds --max-allocs rounded up to a power
 * of two (two candidate buckets keep it usable to about 90 % full), its
 * spill map a quarter more. Site totals get one stripe per CPU, at most
 * MT_MAX_STRIPES.
 */
static void set_capacities(struct mt_loader *l, const struct mt_loader_opts *opts)
{
	struct memtrace_bpf *skel = l->skel;
	int ncpu = libbpf_num_possible_cpus();
	__u64 n = pow2_at_least(opts->max_allocs < 1024 ? 1024 : opts->max_allocs);

	if (n > MT_MAX_ALLOC_TABLE)
		n = MT_MAX_ALLOC_TABLE;
	l->nr_allocs = n;
	l->nr_sites = opts->max_sites;
	l->nr_stripes = 1;
	while (l->nr_stripes * 2 <= (__u32)(ncpu > 0 ? ncpu : 1) && l->nr_stripes < MT_MAX_STRIPES)
		l->nr_stripes *= 2;
	skel->rodata->mt_alloc_mask = n / MT_ALLOC_WAYS - 1;
	skel->rodata->mt_site_max = l->nr_sites;
	skel->rodata->mt_stripe_mask = l->nr_stripes - 1;
	bpf_map__set_max_entries(skel->maps.mt_allocs, n);
	bpf_map__set_max_entries(skel->maps.mt_allocs_spill,
				 opts->max_allocs / 4 < 1024 ? 1024 : opts->max_allocs / 4);
	bpf_map__set_max_entries(skel->maps.mt_site_index, l->nr_sites);
	bpf_map__set_max_entries(skel->maps.mt_site_keys, l->nr_sites);
	bpf_map__set_max_entries(skel->maps.mt_site_free, l->nr_sites);
	bpf_map__set_max_entries(skel->maps.mt_site_stats, l->nr_sites * l->nr_stripes);
}

/* sys: load the system call tracepoint programs too */
static struct mt_loader *load_mode(const struct mt_loader_opts *opts, enum mt_attach_mode mode,
				   bool sys, int *errp)
{
	struct mt_loader *l = calloc(1, sizeof(*l));
	struct memtrace_bpf *skel;
	int err;

	if (!l) {
		*errp = -ENOMEM;
		return NULL;
	}
	l->mode = mode;
	skel = memtrace_bpf__open();
	if (!skel) {
		err = -errno;
		goto err_out;
	}
	l->skel = skel;
	skel->rodata->mt_min_size = opts->min_size;
	skel->rodata->mt_max_size = opts->max_size;
	skel->rodata->mt_self_tgid = getpid();
	skel->rodata->mt_want_stacks = opts->stacks;
	skel->rodata->mt_unwind_cfi = opts->unwind_cfi;
	skel->rodata->mt_want_age = opts->ages;
	skel->rodata->mt_py_depth = opts->python_depth;
	skel->rodata->mt_procs_all = opts->procs_all;
	skel->rodata->mt_sampling = opts->sample_rate || opts->sampling;
	skel->data->mt_default_tier = opts->default_tier;
	set_sampling(skel, opts->sample_rate, opts->seed);
	set_capacities(l, opts);
	bpf_map__set_max_entries(skel->maps.mt_stacks, opts->stack_storage);
	bpf_map__set_max_entries(skel->maps.mt_py_stacks, opts->stack_storage);

	l->session = skel->progs.mt_libc_session;
	if (opts->floor == MT_FLOOR_RETURN)
		l->session = skel->progs.mt_floor_return;
	else if (opts->floor == MT_FLOOR_ENTRY)
		l->session = skel->progs.mt_floor_entry;
	bpf_program__set_autoload(skel->progs.mt_libc_session, false);
	bpf_program__set_autoload(skel->progs.mt_floor_return, false);
	bpf_program__set_autoload(skel->progs.mt_floor_entry, false);
	bpf_program__set_autoload(skel->progs.mt_sys_enter, sys);
	bpf_program__set_autoload(skel->progs.mt_sys_exit, sys);
	bpf_program__set_autoload(skel->progs.mt_growth_fault_user, opts->growth);
	bpf_program__set_autoload(skel->progs.mt_growth_fault_kernel, opts->growth);
	bpf_program__set_autoload(skel->progs.mt_growth_page_alloc, opts->growth);
	bpf_program__set_autoload(skel->progs.mt_growth_rss, opts->growth);
	bpf_program__set_autoload(skel->progs.mt_growth_sys_enter, opts->growth);
	bpf_program__set_autoload(skel->progs.mt_growth_sys_exit, opts->growth);
	switch (mode) {
	case MT_ATTACH_SESSION:
		bpf_program__set_expected_attach_type(skel->progs.mt_proc_stop,
						      MT_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_autoload(l->session, true);
		bpf_program__set_expected_attach_type(l->session, MT_BPF_TRACE_UPROBE_SESSION);
		bpf_program__set_autoload(skel->progs.mt_libc_entry, false);
		bpf_program__set_autoload(skel->progs.mt_libc_return, false);
		break;
	case MT_ATTACH_MULTI:
		bpf_program__set_expected_attach_type(skel->progs.mt_proc_stop,
						      MT_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(skel->progs.mt_libc_entry,
						      MT_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(skel->progs.mt_libc_return,
						      MT_BPF_TRACE_UPROBE_MULTI);
		break;
	default:
		break;
	}
	err = memtrace_bpf__load(skel);
	if (err)
		goto err_out;
	return l;
err_out:
	mt_loader__free(l);
	*errp = err;
	return NULL;
}

static void links_destroy(struct bpf_link **links, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

static void sys_detach(struct mt_loader *l)
{
	links_destroy(l->sys_links, NR_SYS_EVENTS);
}

/*
 * Tracepoints events[0..n), for every process: the first nr_exit to
 * prog_exit, the others to prog_enter, into links. 0 or -errno (then none).
 */
static int tp_attach(const char *const *events, size_t n, size_t nr_exit,
		     struct bpf_program *prog_exit, struct bpf_program *prog_enter,
		     struct bpf_link **links)
{
	__u64 ids[NR_GROWTH_EVENTS > NR_SYS_EVENTS ? NR_GROWTH_EVENTS : NR_SYS_EVENTS];
	int err;

	if (n > sizeof(ids) / sizeof(ids[0]))
		return -EINVAL;
	err = mt_tracefs__event_ids(events, n, ids);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct perf_event_attr attr = {
		    .type = PERF_TYPE_TRACEPOINT,
		    .size = sizeof(attr),
		    .config = ids[i],
		    .sample_period = 1,
		    .wakeup_events = 1,
		};
		struct bpf_program *prog = i < nr_exit ? prog_exit : prog_enter;
		/* a tracepoint's programs run on every CPU, whichever the event is opened on */
		int pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

		if (pfd < 0) {
			err = -errno;
			goto fail;
		}
		links[i] = bpf_program__attach_perf_event(prog, pfd);
		if (!links[i]) {
			err = -errno;
			close(pfd);
			goto fail;
		}
	}
	return 0;
fail:
	links_destroy(links, n);
	return err;
}

/* The system call tracepoints of mmap, munmap, mremap: 0 or -errno. */
static int sys_attach(struct mt_loader *l)
{
	return tp_attach(sys_events, NR_SYS_EVENTS, 2, l->skel->progs.mt_sys_exit,
			 l->skel->progs.mt_sys_enter, l->sys_links);
}

/* --growth: the fault tracepoints and the release tracepoints, all or none: 0 or -errno. */
static int growth_attach(struct mt_loader *l)
{
	struct bpf_program *faults[NR_GROWTH_FAULT] = {
	    l->skel->progs.mt_growth_fault_user, l->skel->progs.mt_growth_fault_kernel,
	    l->skel->progs.mt_growth_page_alloc, l->skel->progs.mt_growth_rss};
	int err = 0;

	for (size_t i = 0; i < NR_GROWTH_FAULT && !err; i++) {
		l->growth_links[i] = bpf_program__attach(faults[i]);
		if (!l->growth_links[i])
			err = -errno;
	}
	if (!err)
		err =
		    tp_attach(growth_events, NR_GROWTH_EVENTS, NR_GROWTH_EVENTS / 2,
			      l->skel->progs.mt_growth_sys_exit, l->skel->progs.mt_growth_sys_enter,
			      l->growth_links + NR_GROWTH_FAULT);
	if (err)
		links_destroy(l->growth_links, NR_GROWTH_FAULT);
	return err;
}

/*
 * Load for mode, with the system call tracepoint programs unless they are
 * not wanted or do not load, and attach those.
 */
static struct mt_loader *load_with_sys(const struct mt_loader_opts *opts, enum mt_attach_mode mode,
				       int *errp)
{
	bool sys = !opts->floor && opts->syscall_tps;
	struct mt_loader *l = load_mode(opts, mode, sys, errp);
	int load_err = 0, err;

	if (!l && sys && *errp != -EPERM && *errp != -EACCES) {
		load_err = *errp;
		l = load_mode(opts, mode, false, errp);
	}
	if (l && !sys && !opts->floor && opts->verbose)
		pr_info("mmap, munmap, mremap by uprobes (--syscall-tracepoints on: no trap for "
			"the target, but every system call on the host takes the traced path)");
	if (!l || !sys)
		return l;
	err = load_err ? load_err : sys_attach(l);
	if (err && opts->verbose)
		pr_info("mmap, munmap, mremap keep uprobes: system call tracepoints %s (%s)",
			load_err ? "did not load" : "did not attach", strerror(-err));
	else if (opts->verbose)
		pr_info("mmap, munmap, mremap by system call tracepoints: no trap; while they are "
			"attached every system call of every process takes the kernel's traced "
			"path (tens of ns each)");
	return l;
}

/* The lifecycle tracepoints, for the whole run: 0 or -errno. */
static int procs_attach(struct mt_loader *l)
{
	struct bpf_program *progs[] = {l->skel->progs.mt_proc_fork, l->skel->progs.mt_proc_exec,
				       l->skel->progs.mt_proc_exit};

	for (size_t i = 0; i < 3; i++) {
		l->proc_links[i] = bpf_program__attach(progs[i]);
		if (!l->proc_links[i])
			return -errno;
	}
	l->proc_links[3] = bpf_program__attach(l->skel->progs.mt_proc_mapped);
	if (!l->proc_links[3])
		pr_debug("tracepoint vm_unmapped_area: %s: a new image's allocator is probed at "
			 "the next report",
			 strerror(errno));
	l->oom_link = bpf_program__attach(l->skel->progs.mt_oom_victim);
	if (!l->oom_link)
		pr_debug("tracepoint oom/mark_victim: %s: OOM victims are not announced",
			 strerror(errno));
	return 0;
}

struct mt_loader *mt_loader__new(const struct mt_loader_opts *opts, enum mt_attach_mode mode)
{
	static const enum mt_attach_mode order[] = {MT_ATTACH_SESSION, MT_ATTACH_MULTI,
						    MT_ATTACH_PERF};
	struct mt_loader *l = NULL;
	int err = -EINVAL;

	if (mode != MT_ATTACH_AUTO) {
		l = load_with_sys(opts, mode, &err);
	} else {
		for (size_t i = 0; i < (opts->floor ? 1 : 3) && !l; i++) {
			l = load_with_sys(opts, order[i], &err);
			if (!l && (err == -EPERM || err == -EACCES))
				break;
			if (!l)
				pr_debug("%s programs did not load (%s), trying the next kind",
					 mt_attach_mode__name(order[i]), strerror(-err));
			else if (i > 0)
				pr_warn("uprobe session links are not available on this kernel "
					"(6.13+): using %s, so every allocation also pays a return "
					"probe (~0.55 us), sampled or not",
					mt_attach_mode__name(order[i]));
		}
	}
	if (!l) {
		if (err == -EACCES && geteuid() == 0)
			pr_err(
			    "loading BPF programs: the kernel's verifier rejected them (run with "
			    "-vv for its log)");
		else if (err == -EPERM || err == -EACCES)
			pr_err("loading BPF programs: %s: memtrace needs root, or CAP_BPF, "
			       "CAP_PERFMON and CAP_SYS_PTRACE",
			       strerror(-err));
		else
			pr_err("loading BPF programs (%s mode): %s (run with -vv for details)",
			       mt_attach_mode__name(mode), strerror(-err));
		errno = -err;
		return NULL;
	}
	err = procs_attach(l);
	if (err) {
		pr_err("attaching to the sched_process_fork/exec/exit tracepoints: %s",
		       strerror(-err));
		mt_loader__free(l);
		errno = -err;
		return NULL;
	}
	err = opts->growth ? growth_attach(l) : 0;
	if (err) {
		pr_err("--growth: attaching to the page fault, rss_stat, mm_page_alloc and the "
		       "munmap, madvise, brk, mremap tracepoints: %s",
		       strerror(-err));
		mt_loader__free(l);
		errno = -err;
		return NULL;
	}
	return l;
}

static int raw_link(int prog_fd, __u32 type, __u32 flags, const char *path, const __u64 *offsets,
		    const __u64 *cookies, __u32 cnt, pid_t pid)
{
	struct mt_link_create_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = type;
	attr.path = (__u64)(unsigned long)path;
	attr.offsets = (__u64)(unsigned long)offsets;
	attr.cookies = (__u64)(unsigned long)cookies;
	attr.cnt = cnt;
	attr.um_flags = flags;
	attr.pid = pid;
	fd = syscall(__NR_bpf, MT_BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

/* Functions whose first instruction the kernel emulates, or single-steps. */
__asm__(".pushsection .text\n"
	".globl mt_calib_emulated\n"
	".type mt_calib_emulated, @function\n"
	"mt_calib_emulated:\n\tpush %rbp\n\tpop %rbp\n\tret\n"
	".size mt_calib_emulated, .-mt_calib_emulated\n"
	".globl mt_calib_stepped\n"
	".type mt_calib_stepped, @function\n"
	"mt_calib_stepped:\n\tmov %rdi, %rax\n\tret\n"
	".size mt_calib_stepped, .-mt_calib_stepped\n"
	".popsection\n");
void mt_calib_emulated(void);
void mt_calib_stepped(void);

#define MT_CALIB_CALLS 2000

/* Seconds that n calls of fn take. */
static double calib_time(void (*volatile fn)(void), int n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		fn();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/* File offset of our own code at addr, from /proc/self/maps. */
static int self_offset(__u64 addr, __u64 *off)
{
	struct mt_maps maps;
	int err = mt_maps__read(getpid(), &maps);

	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < maps.nr_maps; i++) {
		if (addr >= maps.maps[i].start && addr < maps.maps[i].end) {
			*off = addr - maps.maps[i].start + maps.maps[i].offset;
			err = 0;
			break;
		}
	}
	mt_maps__free(&maps);
	return err;
}

int mt_loader__probe_costs(struct mt_loader *l, double *emulated_us, double *stepped_us)
{
	void (*fns[2])(void) = {mt_calib_emulated, mt_calib_stepped};
	__u64 offs[2], cookies[2] = {MT_KIND__MAX, MT_KIND__MAX}; /* a kind no probe acts on */
	double base[2], traced[2];
	struct bpf_link *links[2] = {};
	int fd = -1, err = 0;

	for (int i = 0; i < 2 && !err; i++) {
		err = self_offset((__u64)(unsigned long)fns[i], &offs[i]);
		base[i] = calib_time(fns[i], MT_CALIB_CALLS);
	}
	if (err)
		return err;
	if (l->mode == MT_ATTACH_PERF) {
		for (int i = 0; i < 2 && !err; i++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookies[i]);

			links[i] = bpf_program__attach_uprobe_opts(
			    l->skel->progs.mt_libc_entry, getpid(), "/proc/self/exe", offs[i], &o);
			err = links[i] ? 0 : -errno;
		}
	} else {
		fd = raw_link(l->mode == MT_ATTACH_SESSION
				  ? bpf_program__fd(l->session)
				  : bpf_program__fd(l->skel->progs.mt_libc_entry),
			      l->mode == MT_ATTACH_SESSION ? MT_BPF_TRACE_UPROBE_SESSION
							   : MT_BPF_TRACE_UPROBE_MULTI,
			      0, "/proc/self/exe", offs, cookies, 2, getpid());
		err = fd < 0 ? fd : 0;
	}
	for (int i = 0; i < 2 && !err; i++)
		traced[i] = calib_time(fns[i], MT_CALIB_CALLS);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(links[i]);
	if (err)
		return err;
	*emulated_us = (traced[0] - base[0]) * 1e6 / MT_CALIB_CALLS;
	*stepped_us = (traced[1] - base[1]) * 1e6 / MT_CALIB_CALLS;
	return 0;
}

int mt_loader__set_tier(struct mt_loader *l, pid_t pid, enum mt_tier tier, __u64 sample_rate)
{
	struct mt_tier_val v = {.tier = tier,
				.sample_rate = tier == MT_TIER_EXACT ? sample_rate : 0};
	__u32 key = pid;

	if (pid <= 0 || tier > MT_TIER_EXACT)
		return -EINVAL;
	if (sample_rate && !l->skel->rodata->mt_sampling)
		return -EOPNOTSUPP;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.mt_tiers), &key, &v, BPF_ANY))
		return -errno;
	/* never taken back: BPF asks the map once there has been an entry */
	l->skel->bss->mt_tiers_nr = 1;
	return 0;
}

void mt_loader__clear_tier(struct mt_loader *l, pid_t pid)
{
	__u32 key = pid;

	if (l)
		bpf_map_delete_elem(bpf_map__fd(l->skel->maps.mt_tiers), &key);
}

bool mt_loader__can_grow(const struct mt_loader *l)
{
	return l->growth_links[0];
}

/*
 * The first round of a new path copies each page's stack for the unwinder
 * (up to MT_UNWIND_ASKS a second, nobody answers here): the least of the
 * later rounds is a path BPF walks alone
 */
#define MT_GROWTH_CALIB_PAGES 1024
#define MT_GROWTH_CALIB_ROUNDS 4

/* Seconds to fault in n fresh anonymous pages (and give them back), under tier. */
static double growth_round(int tiers_fd, enum mt_tier tier, int n)
{
	struct mt_tier_val v = {.tier = tier};
	__u32 key = getpid();
	struct timespec a, b;
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	if (bpf_map_update_elem(tiers_fd, &key, &v, BPF_ANY))
		return -1;
	p = mmap(NULL, (size_t)n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		((volatile char *)p)[(size_t)i * page] = 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	munmap(p, (size_t)n * page);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/* The child of mt_loader__growth_cost: the least of each tier's rounds, on fd. */
static void growth_child(int tiers_fd, int fd)
{
	double best[2] = {1e9, 1e9};

	for (int r = 0; r < MT_GROWTH_CALIB_ROUNDS; r++) {
		for (int i = 0; i < 2; i++) {
			double t = growth_round(tiers_fd, i ? MT_TIER_GROWTH : MT_TIER_NONE,
						MT_GROWTH_CALIB_PAGES);

			if (t < 0)
				_exit(1);
			if (t < best[i])
				best[i] = t;
		}
	}
	_exit(write(fd, best, sizeof(best)) == sizeof(best) ? 0 : 1);
}

static int drop_event(void *ctx, void *data, size_t size)
{
	return 0;
}

/* Drop the stack copies the calibration child sent: its stacks are nobody's. */
static void drain_unwind_events(struct mt_loader *l)
{
	struct ring_buffer *rb =
	    ring_buffer__new(bpf_map__fd(l->skel->maps.mt_unwind_events), drop_event, NULL, NULL);

	if (rb)
		ring_buffer__consume(rb);
	ring_buffer__free(rb);
}

int mt_loader__growth_cost(struct mt_loader *l, double *event_us, double *fault_us)
{
	int tiers_fd = bpf_map__fd(l->skel->maps.mt_tiers), fds[2], status = 0;
	double best[2];
	ssize_t got;
	pid_t pid;

	if (!mt_loader__can_grow(l))
		return -EOPNOTSUPP;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	/* a child: BPF never records memtrace itself */
	l->skel->bss->mt_tiers_nr = 1;
	pid = fork();
	if (pid == 0)
		growth_child(tiers_fd, fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -errno;
	}
	got = read(fds[0], best, sizeof(best));
	close(fds[0]);
	waitpid(pid, &status, 0);
	mt_loader__clear_tier(l, pid);
	drain_unwind_events(l);
	if (got != sizeof(best))
		return -EIO;
	*event_us = (best[1] - best[0]) * 1e6 / MT_GROWTH_CALIB_PAGES;
	*fault_us = best[0] * 1e6 / MT_GROWTH_CALIB_PAGES;
	return 0;
}

static void pid_links__close(struct mt_pid_links *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		p->fds[i] = -1;
	}
	for (size_t i = 0; i < p->nr_links; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	p->links = NULL;
	p->nr_links = 0;
	for (size_t i = 0; i < p->nr_stop_fds; i++)
		close(p->stop_fds[i]);
	free(p->stop_fds);
	p->stop_fds = NULL;
	p->nr_stop_fds = 0;
}

static const char *attach_hint(int err)
{
	switch (err) {
	case -EINVAL:
		return " (another tracer may hold a probe at this address with a different "
		       "reference counter)";
	case -EPERM:
	case -EACCES:
		return " (needs CAP_BPF and CAP_PERFMON; perf-event uprobes also CAP_SYS_ADMIN)";
	case -ESRCH:
		return " (the process is gone)";
	default:
		return "";
	}
}

/* Did pid (> 0) exit (the usual reason an attach to it fails)? */
static bool exited(pid_t pid)
{
	return pid > 0 && mt_proc__exited(pid);
}

static int attach_perf(struct mt_loader *l, struct mt_pid_links *pl, const struct mt_plan *plan,
		       pid_t pid)
{
	pl->links = calloc(plan->nr_probes * 2, sizeof(*pl->links));
	if (!pl->links)
		return -ENOMEM;
	for (size_t i = 0; i < plan->nr_probes; i++) {
		const struct mt_probe *p = &plan->probes[i];

		for (int ret = 0; ret < 2; ret++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = p->cookie, .retprobe = ret);
			struct bpf_program *prog =
			    ret ? l->skel->progs.mt_libc_return : l->skel->progs.mt_libc_entry;
			struct bpf_link *link;

			if (p->syscall_tp || (ret && !p->needs_return))
				continue;
			/*
			 * The return probe sits with the entry probe: placement
			 * keeps the return address at [SP] there, and a return
			 * probe at +0 would hijack it before a moved entry reads it.
			 */
			link = bpf_program__attach_uprobe_opts(prog, pid ? pid : -1, plan->path,
							       p->offset, &o);
			if (!link) {
				int err = -errno;

				if (exited(pid)) {
					pr_err("pid %d exited while memtrace attached to it", pid);
					return -ESRCH;
				}
				pr_err("attaching %s%s in %s: %s%s", p->name,
				       ret ? " (return)" : "", plan->shown, strerror(-err),
				       attach_hint(err));
				return err;
			}
			pl->links[pl->nr_links++] = link;
		}
	}
	return 0;
}

static int attach_multi(struct mt_loader *l, struct mt_pid_links *pl, const struct mt_plan *plan,
			pid_t pid)
{
	__u64 offs[MT_MAX_PLAN_PROBES], cookies[MT_MAX_PLAN_PROBES], roffs[MT_MAX_PLAN_PROBES],
	    rcookies[MT_MAX_PLAN_PROBES];
	__u32 n = 0, rn = 0;
	int fd;

	for (size_t i = 0; i < plan->nr_probes; i++) {
		const struct mt_probe *p = &plan->probes[i];

		if (p->syscall_tp)
			continue;
		offs[n] = p->offset;
		cookies[n++] = p->cookie;
		if (p->needs_return) {
			roffs[rn] = p->offset; /* with the entry: see attach_perf() */
			rcookies[rn++] = p->cookie;
		}
	}
	if (l->mode == MT_ATTACH_SESSION) {
		fd = raw_link(bpf_program__fd(l->session), MT_BPF_TRACE_UPROBE_SESSION, 0,
			      plan->path, offs, cookies, n, pid);
		if (fd < 0)
			goto fail;
		pl->fds[0] = fd;
		return 0;
	}
	fd = raw_link(bpf_program__fd(l->skel->progs.mt_libc_entry), MT_BPF_TRACE_UPROBE_MULTI, 0,
		      plan->path, offs, cookies, n, pid);
	if (fd < 0)
		goto fail;
	pl->fds[0] = fd;
	fd = raw_link(bpf_program__fd(l->skel->progs.mt_libc_return), MT_BPF_TRACE_UPROBE_MULTI,
		      MT_BPF_F_UPROBE_MULTI_RETURN, plan->path, roffs, rcookies, rn, pid);
	if (fd < 0)
		goto fail;
	pl->fds[1] = fd;
	return 0;
fail:
	if (exited(pid)) {
		pr_err("pid %d exited while memtrace attached to it", pid);
		return -ESRCH;
	}
	if (fd == -EINVAL || fd == -EOPNOTSUPP || fd == -ENOSYS)
		pr_debug("%s link on %s: %s", mt_attach_mode__name(l->mode), plan->shown,
			 strerror(-fd));
	else
		pr_err("attaching %s probes to %s for pid %d: %s%s", mt_attach_mode__name(l->mode),
		       plan->shown, pid, strerror(-fd), attach_hint(fd));
	return fd;
}

void mt_loader__prepare(const struct mt_loader *l, struct mt_plan *plan)
{
	if (!l->sys_links[0])
		mt_plan__no_syscall_tps(plan);
}

/* The kernel's encoding of a device number (struct mt_sys_key). */
static __u32 kernel_dev(dev_t dev)
{
	return (__u32)(major(dev) << 20 | minor(dev));
}

/* The plan's file as BPF names it (struct mt_sys_key, at offset off). */
static struct mt_sys_key sys_key(const struct mt_plan *plan, __u32 off)
{
	return (struct mt_sys_key){.ino = plan->inode, .dev = kernel_dev(plan->dev), .off = off};
}

void mt_loader__locate(struct mt_loader *l, const struct mt_plan *plan, pid_t pid)
{
	struct mt_sys_proc p = {
	    .lo = plan->exec_start,
	    .hi = plan->exec_end,
	    .bias = plan->exec_start - plan->exec_offset,
	    .file = sys_key(plan, 0),
	};
	__u32 key = pid;

	if (l->sys_links[0] && plan->nr_syscalls && pid > 0 && p.hi > p.lo)
		bpf_map_update_elem(bpf_map__fd(l->skel->maps.mt_sys_procs), &key, &p, BPF_ANY);
}

/*
 * Let the tracepoints see pid's calls to the plan's wrappers: their
 * sites, where pid has them, then the process (pid 0: every process).
 * 0 or -errno.
 */
static int sys_trace(struct mt_loader *l, const struct mt_plan *plan, pid_t pid)
{
	int sites = bpf_map__fd(l->skel->maps.mt_sys_sites);
	__u32 key = pid, one = 1;

	for (size_t i = 0; i < plan->nr_syscalls; i++) {
		struct mt_sys_key k = sys_key(plan, (__u32)plan->syscalls[i].offset);

		if (bpf_map_update_elem(sites, &k, &plan->syscalls[i].site, BPF_ANY))
			return -errno;
	}
	if (!pid) {
		l->skel->bss->mt_sys_every = 1;
		return 0;
	}
	mt_loader__locate(l, plan, pid);
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.mt_sys_tgids), &key, &one, BPF_ANY))
		return -errno;
	return 0;
}

int mt_loader__attach(struct mt_loader *l, const struct mt_plan *plan, pid_t pid)
{
	int rules_fd = bpf_map__fd(l->skel->maps.mt_frame_rules);
	struct mt_pid_links *pl, *tmp;
	int err;

	/* rules are per library file and shared by every process that maps it */
	for (size_t i = 0; i < plan->nr_rules; i++)
		bpf_map_update_elem(rules_fd, &plan->rules[i].key, &plan->rules[i].rule, BPF_ANY);

	tmp = realloc(l->pids, (l->nr_pids + 1) * sizeof(*l->pids));
	if (!tmp)
		return -ENOMEM;
	l->pids = tmp;
	pl = &l->pids[l->nr_pids];
	memset(pl, 0, sizeof(*pl));
	pl->pid = pid;
	pl->fds[0] = pl->fds[1] = -1;
	if (l->mode == MT_ATTACH_PERF)
		err = attach_perf(l, pl, plan, pid);
	else
		err = attach_multi(l, pl, plan, pid);
	/* the kernel resolved plan->path to the file planned, or nothing stays */
	if (!err) {
		err = mt_plan__verify(plan);
		if (err)
			pr_err("refusing to probe %s: the file attached to is not the one "
			       "checked and read (%s)",
			       plan->shown, strerror(-err));
	}
	if (!err && plan->nr_syscalls && l->sys_links[0]) {
		err = sys_trace(l, plan, pid);
		if (err)
			pr_err("tracing the system calls of pid %d: %s", pid, strerror(-err));
	}
	if (err) {
		pid_links__close(pl);
		return err;
	}
	l->nr_pids++;
	return 0;
}

void mt_loader__quiesce(struct mt_loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < 4; i++) {
		bpf_link__destroy(l->proc_links[i]);
		l->proc_links[i] = NULL;
	}
	bpf_link__destroy(l->oom_link);
	l->oom_link = NULL;
	for (size_t i = 0; i < l->nr_pids; i++)
		pid_links__close(&l->pids[i]);
	l->nr_pids = 0;
}

void mt_loader__detach(struct mt_loader *l, pid_t pid)
{
	__u32 key = pid;

	if (l && l->sys_links[0]) {
		bpf_map_delete_elem(bpf_map__fd(l->skel->maps.mt_sys_tgids), &key);
		bpf_map_delete_elem(bpf_map__fd(l->skel->maps.mt_sys_procs), &key);
	}
	for (size_t i = 0; l && i < l->nr_pids; i++) {
		if (l->pids[i].pid != pid)
			continue;
		pid_links__close(&l->pids[i]);
		l->pids[i] = l->pids[--l->nr_pids];
		i--;
	}
}

int mt_loader__attach_stop(struct mt_loader *l, const char *path, __u64 off, pid_t pid, __u32 type)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = type);
	struct mt_pid_links *pl = NULL;
	__u64 cookie = type;
	struct bpf_link *link;
	int fd, *fds;
	void *tmp;

	for (size_t i = 0; i < l->nr_pids; i++)
		if (l->pids[i].pid == pid)
			pl = &l->pids[i];
	if (!pl)
		return -ENOENT;
	if (l->mode != MT_ATTACH_PERF) {
		/* a BPF link, as the allocator probes: no perf event (CAP_SYS_ADMIN) needed */
		fds = realloc(pl->stop_fds, (pl->nr_stop_fds + 1) * sizeof(*fds));
		if (!fds)
			return -ENOMEM;
		pl->stop_fds = fds;
		fd = raw_link(bpf_program__fd(l->skel->progs.mt_proc_stop),
			      MT_BPF_TRACE_UPROBE_MULTI, 0, path, &off, &cookie, 1, pid);
		if (fd < 0)
			return fd;
		pl->stop_fds[pl->nr_stop_fds++] = fd;
		return 0;
	}
	tmp = realloc(pl->links, (pl->nr_links + 1) * sizeof(*pl->links));
	if (!tmp)
		return -ENOMEM;
	pl->links = tmp;
	link = bpf_program__attach_uprobe_opts(l->skel->progs.mt_proc_stop, pid, path, off, &o);
	if (!link)
		return -errno;
	pl->links[pl->nr_links++] = link;
	return 0;
}

bool mt_loader__announces_oom(const struct mt_loader *l)
{
	return l && l->oom_link;
}

bool mt_loader__can_await_lib(const struct mt_loader *l)
{
	return l && l->proc_links[3];
}

int mt_loader__follow(struct mt_loader *l, pid_t pid, __u32 flags)
{
	__u32 key = pid;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.mt_procs), &key, &flags, BPF_ANY))
		return -errno;
	return 0;
}

void mt_loader__unfollow(struct mt_loader *l, pid_t pid)
{
	__u32 key = pid;

	if (l)
		bpf_map_delete_elem(bpf_map__fd(l->skel->maps.mt_procs), &key);
}

int mt_loader__set_python(struct mt_loader *l, pid_t pid, const struct mt_py_offsets *off)
{
	int fd = bpf_map__fd(l->skel->maps.mt_py_procs);
	__u32 key = pid;

	struct mt_py_offsets cur;
	bool had = !bpf_map_lookup_elem(fd, &key, &cur);
	int err;

	if (!off) {
		err = bpf_map_delete_elem(fd, &key) ? -errno : 0;
		if (!err && had)
			l->skel->bss->mt_py_procs_nr--;
		return err;
	}
	err = bpf_map_update_elem(fd, &key, off, BPF_ANY) ? -errno : 0;
	if (!err && !had)
		l->skel->bss->mt_py_procs_nr++;
	return err;
}

/*
 * Map a BPF_F_MMAPABLE array read-write (the reader clears what processes
 * leave). The allocation table is not mapped here: mapping charges all of
 * it to memtrace's RSS at once, and only --min-age and purges read it, a
 * window at a time (the reader).
 */
static int map_array(struct mt_loader *l, int i, const struct bpf_map *map, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	len = (len + page - 1) / page * page;
	l->mem[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (l->mem[i] == MAP_FAILED) {
		l->mem[i] = NULL;
		return -errno;
	}
	l->mem_len[i] = len;
	return 0;
}

int mt_loader__maps(struct mt_loader *l, struct mt_bpf_maps *m)
{
	struct memtrace_bpf *skel = l->skel;
	int err;

	memset(m, 0, sizeof(*m));
	if (!l->mem[0]) {
		err = map_array(l, 0, skel->maps.mt_site_keys,
				(size_t)l->nr_sites * sizeof(struct mt_site_key));
		if (!err)
			err = map_array(l, 1, skel->maps.mt_site_stats,
					(size_t)l->nr_sites * l->nr_stripes *
					    sizeof(struct mt_site_stats));
		if (!err)
			err = map_array(l, 3, skel->maps.mt_unwind_rules,
					(size_t)MT_UNWIND_BUCKETS * MT_UNWIND_WAYS *
					    sizeof(struct mt_unwind_entry));
		if (!err && skel->rodata->mt_sampling)
			err = map_array(l, 2, skel->maps.mt_sampled,
					MT_SAMPLED_SLOTS * sizeof(__u64));
		if (err)
			return err;
	}
	m->allocs = bpf_map__fd(skel->maps.mt_allocs);
	m->allocs_spill = bpf_map__fd(skel->maps.mt_allocs_spill);
	m->site_index = bpf_map__fd(skel->maps.mt_site_index);
	m->site_free = bpf_map__fd(skel->maps.mt_site_free);
	m->stacks = bpf_map__fd(skel->maps.mt_stacks);
	m->counters = bpf_map__fd(skel->maps.mt_counters);
	m->py_stacks = bpf_map__fd(skel->maps.mt_py_stacks);
	m->py_events = bpf_map__fd(skel->maps.mt_py_events);
	m->proc_events = bpf_map__fd(skel->maps.mt_proc_events);
	m->unwind_asked = bpf_map__fd(skel->maps.mt_unwind_asked);
	m->unwind_events = bpf_map__fd(skel->maps.mt_unwind_events);
	m->nr_allocs = l->nr_allocs;
	m->spill_nr = &skel->bss->mt_spill_nr;
	m->site_keys = l->mem[0];
	m->unwind_rules = l->mem[3];
	m->site_stats = l->mem[1];
	m->nr_sites = l->nr_sites;
	m->nr_stripes = l->nr_stripes;
	m->site_next = &skel->bss->mt_site_next;
	m->sampled = l->mem[2];
	m->sample_rate = skel->rodata->mt_sample_rate;
	m->sample_exact = skel->rodata->mt_sample_exact;
	m->g_tab = skel->rodata->mt_g_tab;
	return 0;
}

void mt_loader__free(struct mt_loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < 4; i++)
		bpf_link__destroy(l->proc_links[i]);
	links_destroy(l->growth_links, NR_GROWTH_FAULT + NR_GROWTH_EVENTS);
	bpf_link__destroy(l->oom_link);
	sys_detach(l);
	for (size_t i = 0; i < l->nr_pids; i++)
		pid_links__close(&l->pids[i]);
	free(l->pids);
	for (int i = 0; i < 4; i++)
		if (l->mem[i])
			munmap(l->mem[i], l->mem_len[i]);
	memtrace_bpf__destroy(l->skel);
	free(l);
}
