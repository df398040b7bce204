// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Targets: finding the processes to trace, probing their allocator (and
 * their interpreter), following a command through its execs, and the
 * whole-host mode's one link per C library.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "probe/plan.h"
#include "lib/log.h"
#include "mt_python.h"
#include "proc/procmaps.h"
#include "python/py_offsets.h"
#include "session/session.h"
#include "symbolize/sitecache.h"
#include "session/spawn.h"
#include "symbolize/sym_native.h"
#include "symbolize/sym_python.h"

/* The process's cgroup v2 path, or the v1 memory controller's, for -a reports. */
void mt_proc__read_cgroup(pid_t pid, char *buf, size_t len)
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
static int target__attach_plan(struct memtrace *mt, struct target *t, struct mt_plan *plan)
{
	int err;

	mt_loader__prepare(mt->loader, plan);
	/* probed already (the same libc after an exec): twice would count twice */
	for (size_t i = 0; i < t->nr_probed; i++) {
		if (t->probed[i].inode == plan->inode && t->probed[i].dev == plan->dev) {
			mt_loader__locate(mt->loader, plan, t->pid); /* mapped elsewhere now */
			return 0;
		}
	}
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

struct target *mt_target__add(struct memtrace *mt, pid_t pid)
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

int mt_target__detect_python(struct memtrace *mt, struct target *t)
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
		if (mt_target__detect_python(c->mt, c->t) != -EAGAIN || --c->py_waits <= 0)
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
	return mt_target__detect_python(c->mt, c->t) == -EAGAIN ? 0 : 1;
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
	size_t nr_seen = 0, nr_slow = 0, nr_probes = 0, nr_libs = 0, nr_tps = 0;
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
		mt_loader__prepare(mt->loader, &plan);
		mt_loader__locate(mt->loader, &plan, pid);
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
		for (size_t i = 0; i < plan.nr_probes; i++) {
			nr_tps += plan.probes[i].syscall_tp;
			nr_slow += plan.probes[i].slow && !plan.probes[i].syscall_tp;
		}
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
		"(-v lists them)%s; sampling every %llu bytes",
		nr_libs, nr_libs == 1 ? "y" : "ies", nr_probes - nr_tps, nr_slow,
		nr_tps ? "; mmap, munmap and mremap by system call tracepoints, no trap, but "
			 "every system call on the host takes the traced path (tens of ns)"
		       : "",
		(unsigned long long)mt->opts->sample_rate);
	return 0;
}

int mt_session__start(struct memtrace *mt)
{
	const struct mt_opts *o = mt->opts;
	int err;

	if (o->all)
		return start_host(mt);

	if (o->cmd) {
		struct target *t = mt_target__add(mt, 0);
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
		t = mt_target__add(mt, pid);
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

struct target *mt_target__find(struct memtrace *mt, pid_t pid)
{
	for (size_t i = 0; i < mt->nr_targets; i++)
		if (mt->targets[i].pid == pid)
			return &mt->targets[i];
	return NULL;
}

size_t mt_session__live(const struct memtrace *mt)
{
	size_t n = 0;

	/* a command reported at Py_FinalizeEx is still running: wait for it */
	for (size_t i = 0; i < mt->nr_targets; i++)
		n += !mt->targets[i].done || mt->targets[i].final_reported;
	return n;
}

void mt_target__forget(struct memtrace *mt, struct target *t)
{
	mt_site_cache__forget(mt->sites, t->pid);
	mt_sym_native__forget_pid(mt->sym, t->pid);
	mt_sym_python__forget_pid(mt->pysym, t->pid);
	if (t->py_module[0])
		mt_loader__set_python(mt->loader, t->pid, NULL);
	t->py_module[0] = 0;
}

/*
 * -- mode: the command executed another program (env, a shell script):
 * what the old image allocated went with it; find the new image's
 * allocator and interpreter before it runs, as at the start.
 */
int mt_target__exec(struct memtrace *mt, struct target *t)
{
	struct spawn_ctx c = {.mt = mt, .t = t};
	int err;

	mt_reader__purge(&mt->bpf, &(__u32){(__u32)t->pid}, 1);
	mt_target__forget(mt, t);
	t->py_checks = 3;
	read_comm(t->pid, t->comm);
	err = mt_spawn__follow_exec(t->pid, spawn_ready, &c);
	if (err)
		return err;
	mt_sym_native__add_pid(mt->sym, t->pid);
	pr_info("pid %d executed %s", t->pid, t->comm);
	return 0;
}
