// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -a, the whole host: one link per C library file (containers bring their
 * own) for every process, current and future; a process becomes a target
 * when the maps hold allocations of it, and stops being one when it exits
 * (a lifecycle event), so a pid reused later is a new target.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"
#include "probe/plan.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "session/internal.h"
#include "symbolize/sym_native.h"

struct host_seen {
	__u64 inode;
	dev_t dev;
};

/*
 * Attach one planned file for every process, unless seen already (then
 * only where pid maps it). 0 attached, 1 seen or not attachable (warned),
 * negative errno.
 */
static int host__attach(struct memtrace *mt, struct mt_plan *plan, pid_t pid,
			struct host_seen *seen, size_t *nr_seen)
{
	static const char *const sanitizers[] = {"libasan", "libtsan", "libmsan", "liblsan",
						 "libhwasan"};
	const char *b = strrchr(plan->shown, '/');
	bool dup = false;
	int err;

	/*
	 * A sanitizer's allocator (a test build's) is not probed for the whole
	 * host: it keeps its own books (LeakSanitizer), and its processes are
	 * slow enough already. -p on such a process probes it.
	 */
	for (size_t i = 0; i < sizeof(sanitizers) / sizeof(sanitizers[0]); i++)
		if (strstr(plan->shown, sanitizers[i]))
			return 1;

	for (size_t i = 0; i < *nr_seen; i++)
		dup |= seen[i].inode == plan->inode && seen[i].dev == plan->dev;
	mt_loader__prepare(mt->loader, plan);
	mt_loader__locate(mt->loader, plan, pid);
	if (dup)
		return 1;
	seen[*nr_seen].inode = plan->inode;
	seen[(*nr_seen)++].dev = plan->dev;
	if (mt->opts->verbose && !mt->opts->growth)
		mt_plan__log(plan);
	/* --growth: no allocator probe; the plan still names the allocator's frames */
	err = mt->opts->growth ? 0 : mt_loader__attach(mt->loader, plan, 0);
	if (err) {
		/* one library we cannot probe does not stop the others */
		pr_warn("not probing %s (as seen by pid %d): %s", plan->shown, pid, strerror(-err));
		return 1;
	}
	/* its frames are never a row's line (each target's alloc_mods) */
	b = b ? b + 1 : plan->shown;
	if (mt->nr_host_alloc_mods < sizeof(mt->host_alloc_mods) / sizeof(mt->host_alloc_mods[0]))
		snprintf(mt->host_alloc_mods[mt->nr_host_alloc_mods++],
			 sizeof(mt->host_alloc_mods[0]), "%.255s", b);
	if (!mt->opts->growth)
		pr_info("probing %s (as seen by pid %d) for every process", plan->shown, pid);
	return 0;
}

/*
 * -a: one link per distinct C library file on the host (containers bring
 * their own), for every process (pid 0), current and future.
 */
int mt_host__start(struct memtrace *mt)
{
	struct host_seen seen[64];
	size_t nr_seen = 0, nr_slow = 0, nr_probes = 0, nr_libs = 0, nr_tps = 0;
	struct mt_plan *plans = malloc(MT_MAX_PLANS * sizeof(*plans)), *plan;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int err = 0, nr = 0;
	char costs[2][64] = {"", ""};
	double emulated, stepped;

	if (!d || !plans) {
		err = d ? -ENOMEM : -errno;
		goto out;
	}
	while (!mt_session__stopping() && (de = readdir(d)) && nr_seen < 64) {
		pid_t pid = (pid_t)atoi(de->d_name);
		struct mt_maps maps;

		for (int k = 0; k < nr; k++)
			mt_plan__close(&plans[k]); /* the previous process's */
		nr = 0;
		mt_session__progress();
		if (pid <= 0 || pid == getpid() || mt_maps__read(pid, &maps))
			continue;
		/* its allocator, C library, C++ runtime, GLib: each file once for the host */
		nr = mt_plan__process(plans, MT_MAX_PLANS, pid, &maps, false);
		mt_maps__free(&maps);
		for (int k = 0; k < nr && nr_seen < 64; k++) {
			plan = &plans[k];
			err = host__attach(mt, plan, pid, seen, &nr_seen);
			if (err < 0)
				goto out;
			if (err)
				continue;
			for (size_t i = 0; i < plan->nr_probes; i++) {
				nr_tps += plan->probes[i].syscall_tp;
				nr_slow += plan->probes[i].slow && !plan->probes[i].syscall_tp;
			}
			nr_probes += plan->nr_probes;
			nr_libs++;
		}
		err = 0; /* none there (a kernel thread, a static binary) */
	}
	if (!err && !nr_libs) {
		pr_err("no C library could be probed in any process");
		err = -ENOENT;
	}
	if (err)
		goto out;
	if (mt->opts->growth)
		pr_info("whole host: --growth, no allocator probe (%zu C librar%s found, its "
			"frames skipped); every process's new anonymous pages are recorded, and "
			"munmap, madvise, brk and mremap take the traced system call path",
			nr_libs, nr_libs == 1 ? "y" : "ies");
	if (mt->opts->growth)
		goto out;
	/* measured at start (memtrace__new), never a constant */
	if (mt_plan__costs(&emulated, &stepped)) {
		snprintf(costs[0], sizeof(costs[0]), " (~%.1f us a call here, measured now)",
			 emulated);
		snprintf(costs[1], sizeof(costs[1]), " (~%.1f us)", stepped);
	}
	pr_info("whole host: %zu C librar%s, %zu probes; every allocator call of every process "
		"pays a trap%s, a second exception on the %zu single-stepped entries%s (-v "
		"lists them)%s; sampling every %llu bytes (the trap comes first, sampled or "
		"not); --growth costs nothing per allocator call",
		nr_libs, nr_libs == 1 ? "y" : "ies", nr_probes - nr_tps, costs[0], nr_slow,
		costs[1],
		nr_tps ? "; mmap, munmap and mremap by system call tracepoints, no trap, but "
			 "every system call on the host takes the traced path (tens of ns)"
		       : "",
		(unsigned long long)mt->opts->sample_rate);
out:
	if (d)
		closedir(d);
	for (int k = 0; k < nr; k++)
		mt_plan__close(&plans[k]);
	free(plans);
	return err;
}
int mt_host__discover(struct memtrace *mt, const struct mt_snapshot *snap)
{
	int err = 0;

	/* sites are sorted by tgid: one check per process */
	for (size_t i = 0; i < snap->nr_sites && !err; i++) {
		pid_t pid = (pid_t)snap->sites[i].key.tgid;
		struct target *t;
		__u64 start;

		if (i && snap->sites[i - 1].key.tgid == (__u32)pid)
			continue;
		if (mt_targets__find(&mt->targets, pid, 0))
			continue;
		if (mt_proc__start_time(pid, &start)) {
			/* exited before it was seen: its entries go */
			err = mt_session__gone(mt, pid);
			continue;
		}
		t = mt_target__new(mt, pid, start);
		if (!t) {
			err = -ENOMEM;
			break;
		}
		mt_session__progress();
		mt_proc__cgroup(pid, t->cgroup, sizeof(t->cgroup));
		memcpy(t->alloc_mods, mt->host_alloc_mods, sizeof(t->alloc_mods));
		t->nr_alloc_mods = mt->nr_host_alloc_mods;
		mt_sym_native__add_pid(mt->sym, pid);
		/* stopped at an exec, so the new image's allocations are not purged with the old */
		mt_loader__follow(mt->loader, pid, MT_PROC_STOP);
	}
	/* one pass for the processes that exited (lifecycle events) and these */
	if (mt->nr_gone) {
		/* their stacks go too (a --min-age snapshot does not show every site) */
		if (!mt->opts->min_age &&
		    mt_reclaim__gc_stacks(&mt->bpf, snap, mt->gone, mt->nr_gone) > 0)
			mt_stack_cache__clear(mt->stacks);
		mt_session__purge(mt);
	}
	return err;
}

static int cmp_row(const void *a, const void *b)
{
	const struct mt_host_row *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->t->pid - y->t->pid;
}

int mt_host__rank(struct memtrace *mt, const struct mt_snapshot *snap, struct mt_host_row **rows,
		  size_t *nr)
{
	struct mt_host_row *tot = calloc(mt->targets.nr ? mt->targets.nr : 1, sizeof(*tot));
	const struct mt_raw_site *sites;
	struct target *t;
	size_t n = 0, nr_sites;

	if (!tot)
		return -ENOMEM;
	mt_targets__for_each(&mt->targets, i, t)
	{
		__s64 bytes = 0;

		if (t->done)
			continue;
		sites = mt_snapshot__process(snap, (__u32)t->pid, &nr_sites);
		for (size_t j = 0; j < nr_sites; j++)
			bytes += sites[j].stats.bytes;
		if (!bytes)
			continue; /* nothing outstanding: nothing to report */
		tot[n].t = t;
		tot[n++].bytes = bytes;
	}
	qsort(tot, n, sizeof(*tot), cmp_row);
	if (mt->opts->top_processes && n > mt->opts->top_processes)
		n = mt->opts->top_processes;
	*rows = tot;
	*nr = n;
	return 0;
}
