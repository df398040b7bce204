// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace: outstanding bytes per source line of running processes.
 *
 * Data flows one way:
 *   probes (bpf/) -> maps -> reader -> symbolizer -> aggregator -> report
 *   model -> output format.
 * This file only orchestrates: options, targets, the event loop, and the
 * hand-over from each stage to the next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "aggregate.h"
#include "mt_python.h"
#include "attach.h"
#include "loader.h"
#include "log.h"
#include "opts.h"
#include "output.h"
#include "procmaps.h"
#include "py_offsets.h"
#include "reader.h"
#include "spawn.h"
#include "sitecache.h"
#include "sym_native.h"
#include "sym_python.h"

struct target {
	pid_t pid;
	char comm[16];
	int pidfd;		     /* -p mode: readable when the process exits */
	bool child;		     /* started by us (-- mode) */
	bool done;		     /* final report written */
	bool final_reported;	     /* -- mode: reported at Py_FinalizeEx, before teardown */
	char alloc_module[PATH_MAX]; /* basename of the allocator's file */
	char py_module[PATH_MAX];    /* basename of the interpreter's file, "" if not Python */
	int py_checks;		     /* Python detection attempts left */
	char cgroup[128];	     /* -a: the process's cgroup (its container) */
	struct {
		__u64 inode;
		dev_t dev;
	} probed[8]; /* files probed for this process (-- mode follows execs) */
	size_t nr_probed;
	struct mt_agg *agg;
	unsigned int seq;
};

struct memtrace {
	const struct mt_opts *opts;
	struct mt_loader *loader;
	struct mt_sym_native *sym;
	struct mt_sym_python *pysym;
	struct mt_stack_cache *stacks;
	struct mt_py_feed *py_feed;
	struct mt_site_cache *sites; /* symbolized sites */
	struct mt_map_fds fds;
	struct target *targets;
	size_t nr_targets, cap_targets;
	FILE *out;
	struct mt_output_cfg out_cfg;
	long reports; /* report rounds written */
	int child_status;
};

static double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's cgroup v2 path, or the v1 memory controller's, for -a reports. */
static void read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *q = p ? strchr(p + 1, ':') : NULL;

		if (!q)
			continue;
		*q = 0;
		/* "0::/path" (v2), or the memory controller's line (v1) */
		if (!strcmp(p + 1, "") || strstr(p + 1, "memory")) {
			q[1 + strcspn(q + 1, "\n")] = 0;
			snprintf(buf, len, "%s", q + 1);
			break;
		}
	}
	fclose(f);
}

static void read_comm(pid_t pid, char *comm)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, 16, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

static const char *basename_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* Attach a planned set of probes to one process. */
static int target__attach_plan(struct memtrace *mt, struct target *t, const struct mt_plan *plan)
{
	int err;

	/* probed already (the same libc after an exec): twice would count twice */
	for (size_t i = 0; i < t->nr_probed; i++)
		if (t->probed[i].inode == plan->inode && t->probed[i].dev == plan->dev)
			return 0;
	snprintf(t->alloc_module, sizeof(t->alloc_module), "%s", basename_of(plan->shown));
	if (mt->opts->verbose)
		mt_plan__log(plan);
	err = mt_loader__attach(mt->loader, plan, t->pid);
	if (!err && t->nr_probed < sizeof(t->probed) / sizeof(t->probed[0])) {
		t->probed[t->nr_probed].inode = plan->inode;
		t->probed[t->nr_probed++].dev = plan->dev;
	}
	return err;
}

/* Plan and attach the probes of one process. */
static int target__attach(struct memtrace *mt, struct target *t, const struct mt_maps *maps)
{
	struct mt_plan plan;
	int err;

	err = mt_plan__for_pid(&plan, t->pid, maps);
	if (err == -ESRCH) {
		pr_err("pid %d exited", t->pid);
		return err;
	}
	if (err == -ENOENT) {
		pr_err("pid %d (%s) has no C library allocator to probe (a static binary "
		       "without libc?)",
		       t->pid, t->comm);
		return err;
	}
	if (err) {
		pr_err("pid %d: reading its allocator's ELF file: %s", t->pid, strerror(-err));
		return err;
	}
	return target__attach_plan(mt, t, &plan);
}

static struct target *target__add(struct memtrace *mt, pid_t pid)
{
	struct mt_agg_opts ao = {
	    .group_by = mt->opts->group_by,
	    .top = mt->opts->top,
	    .keep_stacks = true,
	};
	struct target *t;

	if (mt->nr_targets == mt->cap_targets) {
		size_t cap = mt->cap_targets ? mt->cap_targets * 2 : 16;
		struct target *n = realloc(mt->targets, cap * sizeof(*n));

		if (!n)
			return NULL;
		mt->targets = n;
		mt->cap_targets = cap;
	}
	t = &mt->targets[mt->nr_targets];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pidfd = -1;
	t->py_checks = 3;
	snprintf(t->comm, sizeof(t->comm), "?");
	read_comm(pid, t->comm);
	t->agg = mt_agg__new(&ao);
	if (!t->agg)
		return NULL;
	mt->nr_targets++;
	return t;
}

/* --python-allocators: probes on the interpreter's allocator domains. */
static void target__attach_python_allocators(struct memtrace *mt, struct target *t,
					     const struct mt_maps *maps,
					     const struct mt_py_offsets *off)
{
	struct mt_plan plan;
	bool inlined;
	int err;

	err = mt_plan__python(&plan, t->pid, maps, off->runtime, &inlined);
	if (err) {
		pr_warn("pid %d: no Python allocator functions to probe (%s)", t->pid,
			strerror(-err));
		return;
	}
	if (inlined) {
		pr_warn(
		    "pid %d: %s inlines pymalloc at its call sites (an LTO+PGO build): probes "
		    "on PyObject_Malloc would miss nearly every call, so none are attached. Run "
		    "it as 'memtrace --pymalloc=off -- CMD' (PYTHONMALLOC=malloc) to see every "
		    "object through libc",
		    t->pid, plan.shown);
		return;
	}
	if (mt->opts->verbose)
		mt_plan__log(&plan);
	err = mt_loader__attach(mt->loader, &plan, t->pid);
	if (err)
		pr_warn("pid %d: attaching Python allocator probes: %s", t->pid, strerror(-err));
	else
		pr_info("pid %d: probing the PyMem_Raw, PyMem and PyObject domains", t->pid);
}

/*
 * Find CPython in a target and hand its layout to BPF. Not Python: quiet;
 * an unsupported version: one warning, native attribution goes on.
 */
static int target__detect_python(struct memtrace *mt, struct target *t, const struct mt_maps *maps)
{
	struct mt_py_offsets off;
	const struct mt_module *mod;
	char desc[512] = "";
	int err;

	if (t->py_module[0] || t->py_checks <= 0)
		return 0;
	err = mt_py__detect(t->pid, maps, &off, desc, sizeof(desc));
	if (err == -EAGAIN) /* mapped, not yet relocated: later */
		return err;
	t->py_checks--;
	if (err == -ENOENT)
		return err;
	t->py_checks = 0;
	if (err) {
		pr_warn("pid %d: %s: Python lines unavailable, native attribution goes on", t->pid,
			desc[0] ? desc : strerror(-err));
		return err;
	}
	err = mt_loader__set_python(mt->loader, t->pid, &off);
	if (!err)
		err = mt_sym_python__add_pid(mt->pysym, t->pid, &off);
	if (err) {
		pr_warn("pid %d: %s: %s", t->pid, desc, strerror(-err));
		return err;
	}
	mod = mt_maps__find(maps, off.runtime);
	snprintf(t->py_module, sizeof(t->py_module), "%s", mod ? basename_of(mod->path) : "?");
	pr_info("pid %d runs %s: reporting Python lines", t->pid, desc);
	if (mt->opts->python_allocators)
		target__attach_python_allocators(mt, t, maps, &off);
	if (t->child) {
		/* the final report is what was outstanding when finalization began */
		char path[PATH_MAX];
		__u64 fin;

		if (mt_maps__module_path(t->pid, maps, off.runtime, path, sizeof(path)) ||
		    mt_elf__func_offset(path, "Py_FinalizeEx", &fin) ||
		    mt_loader__attach_finalize(mt->loader, path, fin, t->pid))
			pr_warn("pid %d: no probe on Py_FinalizeEx: the final report shows what "
				"is left after the interpreter's teardown",
				t->pid);
	}
	return 0;
}

static int target__detect_python_pid(struct memtrace *mt, struct target *t)
{
	struct mt_maps maps;
	int err;

	if (t->py_module[0] || t->py_checks <= 0)
		return 0;
	err = mt_maps__read(t->pid, &maps);
	if (err)
		return err;
	err = target__detect_python(mt, t, &maps);
	mt_maps__free(&maps);
	return err;
}

/* Is pid a user process we can trace? Prints the reason when not. */
static int check_pid(pid_t pid)
{
	char path[64], buf[16];
	ssize_t n;

	if (kill(pid, 0) && errno == ESRCH) {
		pr_err("no process with pid %d", pid);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf));
	if (n < 0 && errno == ENOENT) {
		pr_err("pid %d is a kernel thread (or a zombie): nothing to trace", pid);
		return -EINVAL;
	}
	if (n < 0 && (errno == EACCES || errno == EPERM)) {
		pr_err("pid %d: %s: memtrace needs root (CAP_SYS_PTRACE to read other "
		       "processes)",
		       pid, strerror(errno));
		return -EPERM;
	}
	return 0;
}

struct spawn_ctx {
	struct memtrace *mt;
	struct target *t;
	size_t last_nr_maps;
	bool attached; /* libc probes in place */
	int py_waits;  /* syscall stops left to wait for libpython's relocation */
};

/* Called at each syscall stop of a new child until its allocator is mapped. */
static int spawn_ready(pid_t pid, void *arg)
{
	struct spawn_ctx *c = arg;
	struct mt_maps maps;
	struct mt_plan plan;
	int err;

	if (c->attached) {
		/*
		 * Python's layout is read once ld.so has relocated libpython,
		 * which it does before running any of its code.
		 */
		if (target__detect_python_pid(c->mt, c->t) != -EAGAIN || --c->py_waits <= 0)
			return 1;
		return 0;
	}
	if (mt_maps__read(pid, &maps))
		return 0;
	if (maps.nr_maps == c->last_nr_maps) {
		mt_maps__free(&maps);
		return 0;
	}
	c->last_nr_maps = maps.nr_maps;
	err = mt_plan__for_pid(&plan, pid, &maps);
	if (err == -ENOENT) {
		/* a static binary without libc never maps one: say so at once */
		if (maps.nr_mods && !mt_maps__find_name(&maps, "ld-")) {
			mt_maps__free(&maps);
			pr_err("'%s' has no C library allocator to probe (a static binary "
			       "without libc?)",
			       c->mt->opts->cmd[0]);
			return -ENOENT;
		}
		mt_maps__free(&maps);
		return 0;
	}
	mt_maps__free(&maps);
	if (err) {
		pr_err("'%s': reading its allocator's ELF file: %s", c->mt->opts->cmd[0],
		       strerror(-err));
		return err;
	}
	c->t->pid = pid;
	read_comm(pid, c->t->comm);
	err = target__attach_plan(c->mt, c->t, &plan);
	if (err)
		return err;
	c->attached = true;
	c->py_waits = 100000;
	return target__detect_python_pid(c->mt, c->t) == -EAGAIN ? 0 : 1;
}

/*
 * -a: one link per distinct C library file on the host (containers bring
 * their own), for every process (pid 0), current and future.
 */
static int start_host(struct memtrace *mt)
{
	struct {
		__u64 inode;
		dev_t dev;
	} seen[64];
	size_t nr_seen = 0, nr_slow = 0, nr_probes = 0, nr_libs = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && nr_seen < 64) {
		pid_t pid = (pid_t)atoi(de->d_name);
		struct mt_maps maps;
		struct mt_plan plan;
		bool dup = false;

		if (pid <= 0 || pid == getpid() || mt_maps__read(pid, &maps))
			continue;
		err = mt_plan__for_pid(&plan, pid, &maps);
		mt_maps__free(&maps);
		if (err) {
			err = 0; /* no libc there (a kernel thread, a static binary) */
			continue;
		}
		for (size_t i = 0; i < nr_seen; i++)
			dup |= seen[i].inode == plan.inode && seen[i].dev == plan.dev;
		if (dup)
			continue;
		seen[nr_seen].inode = plan.inode;
		seen[nr_seen++].dev = plan.dev;
		if (mt->opts->verbose)
			mt_plan__log(&plan);
		err = mt_loader__attach(mt->loader, &plan, 0);
		if (err) {
			/* one library we cannot probe does not stop the others */
			pr_warn("not probing %s (as seen by pid %d): %s", plan.shown, pid,
				strerror(-err));
			err = 0;
			continue;
		}
		for (size_t i = 0; i < plan.nr_probes; i++)
			nr_slow += plan.probes[i].slow;
		nr_probes += plan.nr_probes;
		nr_libs++;
		pr_info("probing %s (as seen by pid %d) for every process", plan.shown, pid);
	}
	closedir(d);
	if (err)
		return err;
	if (!nr_libs) {
		pr_err("no C library could be probed in any process");
		return -ENOENT;
	}
	pr_info("whole host: %zu C librar%s, %zu probes; every allocator call of every process "
		"pays a trap: ~0.7 us where emulated, ~10 us on the %zu single-stepped entries "
		"(-v lists them); sampling every %llu bytes",
		nr_libs, nr_libs == 1 ? "y" : "ies", nr_probes, nr_slow,
		(unsigned long long)mt->opts->sample_rate);
	return 0;
}

static int start_targets(struct memtrace *mt)
{
	const struct mt_opts *o = mt->opts;
	int err;

	if (o->all)
		return start_host(mt);

	if (o->cmd) {
		struct target *t = target__add(mt, 0);
		struct spawn_ctx c = {.mt = mt, .t = t};

		/* PyMem probes and the Py_FinalizeEx stop need pid set early */
		pid_t pid;

		if (!t)
			return -ENOMEM;
		t->child = true;
		pid = mt_spawn__start(o->cmd, spawn_ready, &c);
		if (pid < 0)
			return pid;
		t->pid = pid;
		mt_sym_native__add_pid(mt->sym, pid);
		pr_info("attached to pid %d (%s), %s mode", pid, t->comm,
			mt_attach_mode__name(mt_loader__mode(mt->loader)));
		return 0;
	}
	for (size_t i = 0; i < o->nr_pids; i++) {
		pid_t pid = o->pids[i];
		struct mt_maps maps;
		struct target *t;

		err = check_pid(pid);
		if (err)
			return err;
		t = target__add(mt, pid);
		if (!t)
			return -ENOMEM;
		err = mt_maps__read(pid, &maps);
		if (err) {
			pr_err("pid %d: reading its memory map: %s", pid, strerror(-err));
			return err;
		}
		err = target__attach(mt, t, &maps);
		if (!err)
			target__detect_python(mt, t, &maps);
		mt_maps__free(&maps);
		if (err)
			return err;
		t->pidfd = syscall(SYS_pidfd_open, pid, 0);
		mt_sym_native__add_pid(mt->sym, pid);
		pr_info("attached to pid %d (%s), %s mode", pid, t->comm,
			mt_attach_mode__name(mt_loader__mode(mt->loader)));
	}
	return 0;
}

/*
 * Symbolize one site into frames, innermost first: the call site ([SP] at
 * entry), then the frame-pointer stack above it, cut at the first address
 * in no module (what a function without frame pointers left in %rbp).
 * For a Python process the native frames stop at the first one inside the
 * interpreter and the Python frames follow; the innermost Python frame is
 * then the line. Otherwise the line is the first frame outside the
 * allocator's own library.
 */
static size_t site_frames(struct memtrace *mt, const struct target *t, const struct mt_raw_site *s,
			  struct mt_frame *frames, size_t max, size_t *site_idx, bool *complete)
{
	__u64 ips[MT_MAX_STACK_DEPTH + 1];
	struct mt_py_frame py[MT_PY_MAX_DEPTH];
	int n = 1, m, npy = 0;
	size_t nf = 0;
	bool site_set = false;

	if (s->key.py_stack && t->py_module[0])
		npy = mt_stack_cache__python(mt->stacks, &mt->fds, s->key.py_stack, py,
					     MT_PY_MAX_DEPTH);
	*complete = true;
	ips[0] = s->key.caller;
	m = mt_stack_cache__native(mt->stacks, &mt->fds, s->key.stack, ips + 1, MT_MAX_STACK_DEPTH);
	if (m > 0)
		n += m;
	*site_idx = 0;
	for (int i = 0; i < n && nf < max; i++) {
		int k = mt_sym_native__resolve(mt->sym, t->pid, ips[i], true, frames + nf,
					       (int)(max - nf));
		bool in_interp;

		if (k <= 0) {
			*complete = false;
			continue;
		}
		if (i > 0 && !frames[nf].module)
			break;
		if (!frames[nf].module)
			*complete = false; /* the maps may know it next time */
		in_interp =
		    npy > 0 && frames[nf].module && !strcmp(frames[nf].module, t->py_module);
		if (!site_set && !npy &&
		    !(frames[nf].module && !strcmp(frames[nf].module, t->alloc_module))) {
			*site_idx = nf;
			site_set = true;
		}
		nf += k;
		if (in_interp)
			break;
	}
	for (int i = 0; i < npy && nf < max; i++) {
		struct mt_frame *f = &frames[nf];

		if (mt_sym_python__resolve(mt->pysym, t->pid, &py[i], f)) {
			/* freed (and maybe reused) before memtrace could read it */
			memset(f, 0, sizeof(*f));
			f->kind = MT_FRAME_PYTHON;
			f->addr = py[i].code;
			f->function = "<python code object gone before it was read>";
		}
		if (!site_set) {
			*site_idx = nf;
			site_set = true;
		}
		nf++;
	}
	return nf;
}

static int report_target(struct memtrace *mt, struct target *t, const struct mt_snapshot *snap,
			 bool final, bool exited)
{
	struct mt_frame frames[MT_MAX_STACK_DEPTH * 4];
	struct mt_report r;
	int err = 0;

	memset(&r, 0, sizeof(r));
	if (mt->py_feed)
		mt_py_feed__consume(mt->py_feed); /* stacks still waiting to be read */
	if (!exited) {
		mt_sym_native__add_pid(mt->sym, t->pid); /* pick up new mappings */
		target__detect_python_pid(mt, t);
	}
	mt_agg__begin(t->agg);
	for (size_t i = 0; i < snap->nr_sites; i++) {
		const struct mt_raw_site *s = &snap->sites[i];
		struct mt_sample smp = {};

		if (s->key.tgid != (__u32)t->pid)
			continue;
		if (!s->stats.bytes && !s->stats.count && !s->stats.alloc_count)
			continue;
		smp.bytes = s->stats.bytes;
		smp.count_q = s->stats.count;
		smp.alloc_bytes = s->stats.alloc_bytes;
		smp.alloc_count_q = s->stats.alloc_count;
		smp.frames = frames;
		smp.nr_frames = mt_site_cache__get(mt->sites, &s->key, frames,
						   sizeof(frames) / sizeof(frames[0]), &smp.site);
		if (!smp.nr_frames) {
			bool complete;

			smp.nr_frames =
			    site_frames(mt, t, s, frames, sizeof(frames) / sizeof(frames[0]),
					&smp.site, &complete);
			if (complete && smp.nr_frames)
				mt_site_cache__put(mt->sites, &s->key, frames, smp.nr_frames,
						   smp.site);
		}
		if (!smp.nr_frames)
			continue;
		err = mt_agg__add(t->agg, &smp);
		if (err)
			return err;
	}
	err = mt_agg__end(t->agg, &r);
	if (err)
		return err;
	r.pid = t->pid;
	memcpy(r.comm, t->comm, sizeof(r.comm));
	r.cgroup = t->cgroup[0] ? t->cgroup : NULL;
	r.time = now_realtime();
	r.seq = ++t->seq;
	r.final = final;
	r.exited = exited;
	memcpy(r.counters, snap->counters, sizeof(r.counters));
	err = mt_output__report(mt->out, &mt->out_cfg, &r);
	fflush(mt->out);
	mt_report__free(&r);
	return err;
}

static struct target *target__find(struct memtrace *mt, pid_t pid)
{
	for (size_t i = 0; i < mt->nr_targets; i++)
		if (mt->targets[i].pid == pid)
			return &mt->targets[i];
	return NULL;
}

struct proc_total {
	struct target *t;
	__s64 bytes;
};

static int cmp_proc_total(const void *a, const void *b)
{
	const struct proc_total *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->t->pid - y->t->pid;
}

/*
 * -a: every process with live allocations is a target, found in the maps
 * themselves. Processes that are gone are forgotten; the largest
 * --top-processes get a report each, after a summary table (text).
 */
static int host_round(struct memtrace *mt, const struct mt_snapshot *snap, bool final)
{
	struct proc_total *tot = NULL;
	__u32 *dead = NULL;
	size_t nr = 0, nr_dead = 0;
	int err = 0;

	/* sites are sorted by tgid: one check per process */
	dead = calloc(snap->nr_sites + mt->nr_targets + 1, sizeof(*dead));
	if (!dead)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nr_sites; i++) {
		pid_t pid = (pid_t)snap->sites[i].key.tgid;
		struct target *t;

		if (i && snap->sites[i - 1].key.tgid == (__u32)pid)
			continue;
		t = target__find(mt, pid);
		if (!t) {
			if (kill(pid, 0) && errno == ESRCH) {
				dead[nr_dead++] = pid;
				continue;
			}
			t = target__add(mt, pid);
			if (!t) {
				free(dead);
				return -ENOMEM;
			}
			read_cgroup(pid, t->cgroup, sizeof(t->cgroup));
			mt_sym_native__add_pid(mt->sym, pid);
		}
	}
	tot = calloc(mt->nr_targets ? mt->nr_targets : 1, sizeof(*tot));
	if (!tot) {
		free(dead);
		return -ENOMEM;
	}
	for (size_t i = 0; i < mt->nr_targets; i++) {
		struct target *t = &mt->targets[i];
		__s64 bytes = 0;

		if (t->done)
			continue;
		if (kill(t->pid, 0) && errno == ESRCH) {
			/* gone: its leaks went with it */
			t->done = true;
			dead[nr_dead++] = t->pid;
			mt_sym_native__forget_pid(mt->sym, t->pid);
			mt_sym_python__forget_pid(mt->pysym, t->pid);
			mt_site_cache__forget(mt->sites, t->pid);
			if (t->py_module[0])
				mt_loader__set_python(mt->loader, t->pid, NULL);
			continue;
		}
		for (size_t j = 0; j < snap->nr_sites; j++)
			if (snap->sites[j].key.tgid == (__u32)t->pid)
				bytes += snap->sites[j].stats.bytes;
		if (!bytes)
			continue; /* nothing outstanding: nothing to report */
		tot[nr].t = t;
		tot[nr++].bytes = bytes;
	}
	mt_reader__purge(&mt->fds, dead, nr_dead);
	free(dead);
	qsort(tot, nr, sizeof(*tot), cmp_proc_total);
	if (mt->opts->top_processes && nr > mt->opts->top_processes)
		nr = mt->opts->top_processes;
	if (mt->opts->format == MT_FORMAT_TEXT) {
		fprintf(mt->out, "memtrace: whole host, %zu processes with live allocations%s\n",
			nr, final ? ", final" : "");
		fprintf(mt->out, "%8s  %-16s %14s  %s\n", "pid", "comm", "bytes", "cgroup");
		for (size_t i = 0; i < nr; i++)
			fprintf(mt->out, "%8d  %-16s %14lld  %s\n", tot[i].t->pid, tot[i].t->comm,
				(long long)tot[i].bytes, tot[i].t->cgroup);
		fputc('\n', mt->out);
	}
	for (size_t i = 0; i < nr && !err; i++)
		err = report_target(mt, tot[i].t, snap, final, false);
	free(tot);
	return err;
}

/* One report for each live target (and final ones where asked). */
static int report_round(struct memtrace *mt, bool final)
{
	struct mt_snapshot snap;
	int err;

	err = mt_reader__snapshot(&mt->fds, (__u64)(mt->opts->min_age * 1e9), &snap);
	if (err) {
		pr_err("reading BPF maps: %s", strerror(-err));
		return err;
	}
	if (mt->opts->all) {
		err = host_round(mt, &snap, final);
		goto out;
	}
	for (size_t i = 0; i < mt->nr_targets; i++) {
		struct target *t = &mt->targets[i];

		if (t->done)
			continue;
		err = report_target(mt, t, &snap, final, false);
		if (err)
			break;
		if (final)
			t->done = true;
	}
out:
	mt_snapshot__free(&snap);
	mt->reports++;
	return err;
}

/* The final report of a target that is still alive (-- mode, Py_FinalizeEx). */
static int final_report(struct memtrace *mt, struct target *t)
{
	struct mt_snapshot snap;
	int err;

	if (t->done)
		return 0;
	err = mt_reader__snapshot(&mt->fds, (__u64)(mt->opts->min_age * 1e9), &snap);
	if (err)
		return err;
	err = report_target(mt, t, &snap, true, false);
	mt_snapshot__free(&snap);
	t->done = true;
	t->final_reported = true;
	return err;
}

/* A target exited: its final report, then forget it. */
static int target__finish(struct memtrace *mt, struct target *t)
{
	struct mt_snapshot snap;
	int err = 0;

	if (t->done && !t->final_reported)
		return 0;
	t->done = true;
	mt_loader__detach(mt->loader, t->pid);
	if (!t->final_reported) {
		err = mt_reader__snapshot(&mt->fds, (__u64)(mt->opts->min_age * 1e9), &snap);
		if (err)
			return err;
		err = report_target(mt, t, &snap, true, true);
		mt_snapshot__free(&snap);
	}
	t->final_reported = false;
	mt_reader__purge(&mt->fds, &(__u32){(__u32)t->pid}, 1);
	mt_sym_native__forget_pid(mt->sym, t->pid);
	mt_sym_python__forget_pid(mt->pysym, t->pid);
	mt_site_cache__forget(mt->sites, t->pid);
	if (t->py_module[0])
		mt_loader__set_python(mt->loader, t->pid, NULL);
	return err;
}

static size_t live_targets(const struct memtrace *mt)
{
	size_t n = 0;

	/* a command reported at Py_FinalizeEx is still running: wait for it */
	for (size_t i = 0; i < mt->nr_targets; i++)
		n += !mt->targets[i].done || mt->targets[i].final_reported;
	return n;
}

/*
 * -- mode: the command executed another program (env, a shell script):
 * what the old image allocated went with it; find the new image's
 * allocator and interpreter before it runs, as at the start.
 */
static int target__exec(struct memtrace *mt, struct target *t)
{
	struct spawn_ctx c = {.mt = mt, .t = t};
	int err;

	mt_reader__purge(&mt->fds, &(__u32){(__u32)t->pid}, 1);
	mt_site_cache__forget(mt->sites, t->pid);
	mt_sym_native__forget_pid(mt->sym, t->pid);
	mt_sym_python__forget_pid(mt->pysym, t->pid);
	if (t->py_module[0])
		mt_loader__set_python(mt->loader, t->pid, NULL);
	t->py_module[0] = 0;
	t->py_checks = 3;
	read_comm(t->pid, t->comm);
	err = mt_spawn__follow_exec(t->pid, spawn_ready, &c);
	if (err)
		return err;
	mt_sym_native__add_pid(mt->sym, t->pid);
	pr_info("pid %d executed %s", t->pid, t->comm);
	return 0;
}

/*
 * A new Python stack: read its code objects now, while they exist (a
 * module's top-level code is freed as soon as its import is done).
 */
static void on_py_stack(void *ctx, __u32 tgid, __u64 py_stack)
{
	struct memtrace *mt = ctx;
	struct mt_py_frame py[MT_PY_MAX_DEPTH];
	struct target *t = target__find(mt, (pid_t)tgid);
	struct mt_frame f;
	int n;

	if (!t || !t->py_module[0])
		return;
	n = mt_stack_cache__python(mt->stacks, &mt->fds, py_stack, py, MT_PY_MAX_DEPTH);
	for (int i = 0; i < n; i++)
		mt_sym_python__resolve(mt->pysym, t->pid, &py[i], &f);
}

static int event_loop(struct memtrace *mt, int sfd)
{
	const struct mt_opts *o = mt->opts;
	double next = now_mono() + o->interval;
	sigset_t intercept;
	int err = 0;

	sigemptyset(&intercept);
	sigaddset(&intercept, SIGURG);

	while (o->all || live_targets(mt)) {
		struct pollfd pfds[MT_MAX_PIDS + 2];
		size_t map[MT_MAX_PIDS + 2], np = 0;
		double wait = next - now_mono();
		int timeout = wait > 0 ? (int)ceil(wait * 1000) : 0;
		int n;

		pfds[np].fd = sfd;
		pfds[np++].events = POLLIN;
		pfds[np].fd = mt->py_feed ? mt_py_feed__fd(mt->py_feed) : -1;
		pfds[np++].events = POLLIN;
		for (size_t i = 0; i < mt->nr_targets; i++) {
			if (mt->targets[i].done || mt->targets[i].pidfd < 0)
				continue;
			map[np] = i;
			pfds[np].fd = mt->targets[i].pidfd;
			pfds[np++].events = POLLIN;
		}
		/* without pidfds (old kernels) poll for exits at least every second */
		n = poll(pfds, np, timeout > 1000 ? 1000 : timeout);
		if (n < 0 && errno != EINTR)
			return -errno;

		if (n > 0 && (pfds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				/* SIGINT/SIGTERM: the final word, then stop */
				if (mt->nr_targets && mt->targets[0].child &&
				    !mt->targets[0].done) {
					/*
					 * -- mode: the command decides. A signal from
					 * the terminal reached it already; one sent to
					 * memtrace alone is passed on.
					 */
					if (si.ssi_code == SI_USER)
						kill(mt->targets[0].pid, (int)si.ssi_signo);
					continue;
				}
				return report_round(mt, true);
			}
		}
		if (mt->py_feed)
			mt_py_feed__consume(mt->py_feed);
		for (size_t i = 2; n > 0 && i < np; i++) {
			if (pfds[i].revents & (POLLIN | POLLHUP)) {
				err = target__finish(mt, &mt->targets[map[i]]);
				if (err)
					return err;
			}
		}
		for (size_t i = 0; i < mt->nr_targets; i++) {
			struct target *t = &mt->targets[i];
			int status;

			if (t->done && !t->final_reported)
				continue;
			if (t->child) {
				switch (mt_spawn__poll(t->pid, &intercept, &status)) {
				case MT_CHILD_EXEC:
					err = target__exec(mt, t);
					if (err)
						return err;
					break;
				case MT_CHILD_SIGNAL:
					if (status == SIGURG &&
					    mt_loader__finalizing(mt->loader, t->pid)) {
						/* Py_FinalizeEx: the final report, before teardown
						 */
						err = final_report(mt, t);
						mt_spawn__resume_signal(t->pid, 0);
						if (err)
							return err;
					} else {
						mt_spawn__resume_signal(t->pid, status);
					}
					break;
				case MT_CHILD_EXITING:
					/*
					 * Stopped in exit with its memory still there:
					 * the final report now, then let it go.
					 */
					mt_sym_native__add_pid(mt->sym, t->pid);
					err = target__finish(mt, t);
					mt_spawn__resume(t->pid);
					if (err)
						return err;
					break;
				case MT_CHILD_GONE:
					mt->child_status = status;
					err = target__finish(mt, t);
					if (err)
						return err;
					break;
				default:
					break;
				}
			} else if (t->pidfd < 0 && kill(t->pid, 0) && errno == ESRCH) {
				err = target__finish(mt, t);
				if (err)
					return err;
			}
		}
		if (!o->all && !live_targets(mt))
			break;
		if (now_mono() >= next) {
			bool last = o->count && mt->reports + 1 >= o->count;

			err = report_round(mt, last);
			if (err || last)
				return err;
			next += o->interval;
			if (next < now_mono())
				next = now_mono() + o->interval;
		}
	}
	return err;
}

int main(int argc, char **argv)
{
	struct memtrace mt = {.child_status = -1};
	struct mt_opts opts;
	sigset_t mask;
	int err, sfd = -1;

	err = mt_opts__parse(&opts, argc, argv);
	if (err)
		return 64; /* EX_USAGE, as argp's own usage errors */
	mt.opts = &opts;
	mt_log__set_level(MT_LOG_INFO + opts.verbose);
	mt_log__hook_libbpf();

	/* the symbolizer keeps every module file open */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	/* debug files come from the local disk: never stall a report on the network */
	unsetenv("DEBUGINFOD_URLS");

	mt.out = stdout;
	if (opts.output) {
		mt.out = fopen(opts.output, "we");
		if (!mt.out) {
			pr_err("cannot open '%s': %s", opts.output, strerror(errno));
			return 1;
		}
	}
	mt.out_cfg.format = opts.format;
	mt.out_cfg.show_stacks = opts.verbose || opts.group_by == MT_GROUP_STACK;
	if (opts.sample_rate) {
		static char note[96];

		snprintf(note, sizeof(note), "sampled: one allocation per %llu bytes on average",
			 (unsigned long long)opts.sample_rate);
		mt.out_cfg.sampling_note = note;
	}

	/* signals arrive through a signalfd; the child gets the default dispositions back */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	mt.loader = mt_loader__new(&opts, opts.attach_mode);
	if (!mt.loader) {
		err = -errno;
		goto cleanup;
	}
	mt_loader__map_fds(mt.loader, &mt.fds);
	mt.sym = mt_sym_native__new();
	mt.pysym = mt_sym_python__new();
	mt.stacks = mt_stack_cache__new();
	mt.py_feed = mt_py_feed__new(&mt.fds, on_py_stack, &mt);
	mt.sites = mt_site_cache__new();
	if (!mt.sym || !mt.pysym || !mt.stacks || !mt.py_feed || !mt.sites) {
		err = -errno;
		pr_err("symbolizer: %s", strerror(errno));
		goto cleanup;
	}
	if (opts.pymalloc_off)
		setenv("PYTHONMALLOC", "malloc", 1); /* the command inherits it */
	err = start_targets(&mt);
	if (err)
		goto cleanup;
	err = event_loop(&mt, sfd);
	/* -- mode: the command's exit status, after its final report */
	if (opts.cmd && mt.nr_targets && mt.child_status < 0) {
		int st;

		if (waitpid(mt.targets[0].pid, &st, 0) == mt.targets[0].pid)
			mt.child_status = st;
	}
cleanup:
	for (size_t i = 0; i < mt.nr_targets; i++) {
		if (mt.targets[i].pidfd >= 0)
			close(mt.targets[i].pidfd);
		mt_agg__free(mt.targets[i].agg);
	}
	mt_sym_native__free(mt.sym);
	mt_sym_python__free(mt.pysym);
	mt_stack_cache__free(mt.stacks);
	mt_py_feed__free(mt.py_feed);
	mt_site_cache__free(mt.sites);
	mt_loader__free(mt.loader);
	if (sfd >= 0)
		close(sfd);
	if (mt.out && mt.out != stdout)
		fclose(mt.out);
	if (err)
		return 1;
	if (opts.cmd && mt.child_status >= 0)
		return mt_spawn__exit_code(mt.child_status);
	return 0;
}
