// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The one place that attaches and retires. A target's probes go in when
 * it is found (-p), when the command maps its allocator (--), when a
 * followed process forks (the child waits, stopped, until its probes are
 * in place) or executes a new image (the same); they go, with what the
 * maps hold for it, when it exits.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "lib/log.h"
#include "mt_python.h"
#include "probe/plan.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "python/py_offsets.h"
#include "report/aggregate.h"
#include "session/internal.h"
#include "session/spawn.h"
#include "symbolize/sitecache.h"
#include "symbolize/sym_native.h"
#include "symbolize/sym_python.h"

static const char *basename_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

struct target *mt_target__new(struct memtrace *mt, pid_t pid, __u64 start)
{
	struct mt_agg_opts ao = {
	    .group_by = mt->opts->group_by,
	    .top = mt->opts->top,
	    .keep_stacks = true,
	    .nr_include = mt->opts->nr_include,
	    .nr_exclude = mt->opts->nr_exclude,
	};
	struct target *t = mt_targets__add(&mt->targets, pid, start);

	memcpy(ao.include, mt->opts->include, sizeof(ao.include));
	memcpy(ao.exclude, mt->opts->exclude, sizeof(ao.exclude));
	if (!t) {
		pr_err("pid %d: %s", pid, strerror(ENOMEM));
		return NULL;
	}
	t->agg = mt_agg__new(&ao);
	if (!t->agg) {
		pr_err("pid %d: %s", pid, strerror(ENOMEM));
		mt_targets__remove(&mt->targets, t);
		return NULL;
	}
	mt_proc__comm(pid, t->comm);
	if (mt->opts->unwind_cfi == MT_WHEN_ON)
		mt_unwinder__prepare(mt->unwinder, (__u32)pid);
	return t;
}

static bool target__probed(const struct target *t, const struct mt_plan *plan)
{
	for (size_t i = 0; i < t->nr_probed; i++)
		if (t->probed[i].inode == plan->inode && t->probed[i].dev == plan->dev)
			return true;
	return false;
}

/*
 * Remember the basename of a file probed for t's allocations (the site is
 * above it): not the executable's, where the program's own code is too (an
 * allocator linked statically: its entries' callers are the lines).
 */
static void target__add_alloc_mod(struct target *t, const char *path)
{
	const char *b = basename_of(path);
	char link[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", t->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0 && (exe[n] = 0, !strcmp(exe, path)))
		return;

	for (size_t i = 0; i < t->nr_alloc_mods; i++)
		if (!strcmp(t->alloc_mods[i], b))
			return;
	if (t->nr_alloc_mods < sizeof(t->alloc_mods) / sizeof(t->alloc_mods[0]))
		snprintf(t->alloc_mods[t->nr_alloc_mods++], sizeof(t->alloc_mods[0]), "%.255s", b);
}

/*
 * Stops where a process is about to unmap code: libc's exit() (its
 * mappings, dlopen()ed libraries too, are read while they are there, for
 * its last report) and dlclose() (its sites are symbolized too, before
 * another library can take the addresses).
 */
static void target__probe_unmaps(struct memtrace *mt, struct target *t, const struct mt_plan *plan)
{
	static const struct {
		const char *func;
		__u32 type;
	} stops[] = {{"exit", MT_PROC_EXITING}, {"dlclose", MT_PROC_UNMAPPING}};

	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		__u64 off;
		int err = mt_elf__func_offset(plan->path, stops[i].func, &off);

		if (!err)
			err = mt_loader__attach_stop(mt->loader, plan->path, off, t->pid,
						     stops[i].type);
		if (err)
			pr_debug("pid %d: no stop at %s() in %s: %s", t->pid, stops[i].func,
				 plan->shown, strerror(-err));
	}
}

/*
 * Is t under --growth (no allocator probe)? Not a pid --exact=PIDS names,
 * nor a child of one (its tier was inherited in BPF).
 */
static bool target__growth(const struct memtrace *mt, const struct target *t)
{
	const struct mt_opts *o = mt->opts;

	if (t->exact)
		return false;
	for (size_t i = 0; o->growth && i < o->nr_exact_pids; i++)
		if (o->exact_pids[i] == t->pid || (t->ppid && o->exact_pids[i] == t->ppid))
			return false;
	return o->growth;
}

/*
 * -p, -- with --growth: the target's tier (the run's default is none), before
 * its probes are attached so that none of their calls is skipped.
 */
static int target__set_tier(struct memtrace *mt, struct target *t)
{
	int err;

	if (!mt->opts->growth || mt->opts->all)
		return 0;
	err = mt_loader__set_tier(mt->loader, t->pid,
				  target__growth(mt, t) ? MT_TIER_GROWTH : MT_TIER_EXACT, 0);
	if (err)
		pr_err("pid %d: setting its tier: %s", t->pid, strerror(-err));
	return err;
}

/* Attach a planned set of probes to one process. 1: probed already. */
static int target__attach_plan(struct memtrace *mt, struct target *t, struct mt_plan *plan)
{
	int err;

	mt_loader__prepare(mt->loader, plan);
	target__add_alloc_mod(t, plan->shown);
	/* probed already (the same libc after an exec): twice would count twice */
	if (target__probed(t, plan)) {
		mt_loader__locate(mt->loader, plan, t->pid); /* mapped elsewhere now */
		return 1;
	}
	if (mt->opts->verbose && !target__growth(mt, t))
		mt_plan__log(plan);
	/* --growth: no allocator probe; the plan still names the allocator's frames */
	err = target__set_tier(mt, t);
	if (!err && !target__growth(mt, t))
		err = mt_loader__attach(mt->loader, plan, t->pid);
	if (!err)
		target__probe_unmaps(mt, t, plan);
	if (!err && t->nr_probed < sizeof(t->probed) / sizeof(t->probed[0])) {
		t->probed[t->nr_probed].inode = plan->inode;
		t->probed[t->nr_probed++].dev = plan->dev;
	}
	return err;
}

/* Allocators memtrace knows by their file names, but probes only where malloc binds. */
static const char *const known_allocators[] = {
    "libjemalloc", "libtcmalloc", "libmimalloc",  "libhoard", "libsnmalloc",
    "librpmalloc", "libscudo",	  "libtbbmalloc", "libumem",  "libnedmalloc",
};

/* Warn about an allocator t maps but no probe covers (dlopen'ed, or a prefixed build). */
static void target__warn_unprobed(const struct target *t, const struct mt_maps *maps,
				  const struct mt_plan *plans, size_t nr)
{
	for (size_t i = 0; i < maps->nr_mods; i++) {
		const char *b = basename_of(maps->mods[i].path);
		bool probed = false;

		for (size_t k = 0; k < nr; k++)
			probed |= plans[k].inode == maps->mods[i].inode;
		for (size_t k = 0;
		     !probed && k < sizeof(known_allocators) / sizeof(known_allocators[0]); k++) {
			if (strncmp(b, known_allocators[k], strlen(known_allocators[k])))
				continue;
			pr_warn(
			    "pid %d maps %s, an allocator memtrace does not probe (malloc binds to "
			    "%s): its allocations are not seen%s",
			    t->pid, b, t->alloc_module,
			    !strcmp(known_allocators[k], "libjemalloc")
				? "; a build with prefixed names takes --prefix"
				: "");
			break;
		}
	}
}

/*
 * Plan and attach the probes of one process. 0, 1 when its allocator's
 * file is probed already, -ENOENT (quietly) when none is mapped, -EAGAIN
 * (wait set: ld.so is still mapping its libraries), or -errno after a
 * message.
 */
static int target__attach_wait(struct memtrace *mt, struct target *t, const struct mt_maps *maps,
			       bool wait)
{
	struct mt_plan *plans = malloc(MT_MAX_PLANS * sizeof(*plans));
	int err, nr, done = 1;

	if (!plans)
		return -ENOMEM;
	nr = mt_plan__process(plans, MT_MAX_PLANS, t->pid, maps, wait);
	err = nr < 0 ? nr : 0;
	if (nr > 0)
		snprintf(t->alloc_module, sizeof(t->alloc_module), "%s",
			 basename_of(plans[0].shown));
	for (int i = 0; i < nr && !err; i++) {
		err = target__attach_plan(mt, t, &plans[i]);
		if (err == 1)
			err = 0;
		else if (!err)
			done = 0;
	}
	if (nr > 0 && !err) {
		target__warn_unprobed(t, maps, plans, (size_t)nr);
		err = done;
	}
	if (err == -ESRCH)
		pr_err("pid %d exited", t->pid);
	else if (err < 0 && err != -ENOENT && err != -EAGAIN)
		pr_err("pid %d: reading its allocator's ELF file: %s", t->pid, strerror(-err));
	for (int i = 0; i < nr; i++)
		mt_plan__close(&plans[i]);
	free(plans);
	return err;
}

static int target__attach(struct memtrace *mt, struct target *t, const struct mt_maps *maps)
{
	return target__attach_wait(mt, t, maps, false);
}

/* --python-allocators: probes on the interpreter's allocator domains. */
static void target__attach_python_allocators(struct memtrace *mt, struct target *t,
					     const struct mt_maps *maps)
{
	struct mt_plan *plan = malloc(sizeof(*plan));
	bool inlined;
	int err;

	if (!plan)
		return;
	err = mt_plan__python(plan, t->pid, maps, t->py.runtime, &inlined);
	if (err) {
		pr_warn("pid %d: no Python allocator functions to probe (%s)", t->pid,
			strerror(-err));
		goto out;
	}
	if (inlined) {
		pr_warn(
		    "pid %d: %s inlines pymalloc at its call sites (an LTO+PGO build): probes "
		    "on PyObject_Malloc would miss nearly every call, so none are attached. Run "
		    "it as 'memtrace --pymalloc=off -- CMD' (PYTHONMALLOC=malloc) to see every "
		    "object through libc",
		    t->pid, plan->shown);
		goto out;
	}
	if (mt->opts->verbose)
		mt_plan__log(plan);
	err = mt_loader__attach(mt->loader, plan, t->pid);
	if (err)
		pr_warn("pid %d: attaching Python allocator probes: %s", t->pid, strerror(-err));
	else
		pr_info("pid %d: probing the PyMem_Raw, PyMem and PyObject domains", t->pid);
out:
	mt_plan__close(plan);
	free(plan);
}

/* Hand a known interpreter layout (t->py) to BPF and the Python symbolizer. */
static int target__use_python(struct memtrace *mt, struct target *t)
{
	int err = mt_loader__set_python(mt->loader, t->pid, &t->py);

	if (!err)
		err = mt_sym_python__add_pid(mt->pysym, t->pid, &t->py);
	return err;
}

/* The final report is what was outstanding when finalization began. */
static void target__probe_finalize(struct memtrace *mt, struct target *t,
				   const struct mt_maps *maps)
{
	int fd = mt_maps__module_open(t->pid, maps, t->py.runtime);
	char path[32];
	__u64 fin;

	/* through the descriptor checked (mt_maps__module_open), not a path */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fd < 0 || mt_elf__func_offset(path, "Py_FinalizeEx", &fin) ||
	    mt_loader__attach_stop(mt->loader, path, fin, t->pid, MT_PROC_FINALIZE))
		pr_warn("pid %d: no probe on Py_FinalizeEx: the final report shows what "
			"is left after the interpreter's teardown",
			t->pid);
	if (fd >= 0)
		close(fd);
}

/*
 * Find CPython in a target and hand its layout to BPF. Not Python: quiet;
 * an unsupported version: one warning, native attribution goes on.
 */
static int target__detect_python(struct memtrace *mt, struct target *t, const struct mt_maps *maps)
{
	const struct mt_module *mod;
	char desc[512] = "";
	int err;

	if (t->py_module[0] || t->py_checks <= 0)
		return 0;
	err = mt_py__detect(t->pid, maps, &t->py, desc, sizeof(desc));
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
	err = target__use_python(mt, t);
	if (err) {
		pr_warn("pid %d: %s: %s", t->pid, desc, strerror(-err));
		return err;
	}
	mod = mt_maps__find(maps, t->py.runtime);
	snprintf(t->py_module, sizeof(t->py_module), "%s", mod ? basename_of(mod->path) : "?");
	pr_info("pid %d runs %s: reporting Python lines", t->pid, desc);
	if (mt->opts->python_allocators)
		target__attach_python_allocators(mt, t, maps);
	target__probe_finalize(mt, t, maps);
	return 0;
}

static int target__detect_python_now(struct memtrace *mt, struct target *t)
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

	if (pid == getpid()) {
		pr_err("pid %d is memtrace itself", pid);
		return -EINVAL;
	}
	if (kill(pid, 0) && errno == ESRCH) {
		pr_err("no process with pid %d", pid);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf));
	if (n < 0 && errno == ENOENT && mt_proc__exited(pid)) {
		pr_err("pid %d has exited", pid);
		return -ESRCH;
	}
	if (n < 0 && errno == ENOENT) {
		pr_err("pid %d is a kernel thread: nothing to trace", pid);
		return -EINVAL;
	}
	if (n < 0 && (errno == EACCES || errno == EPERM) && geteuid()) {
		pr_err("pid %d: %s: memtrace needs root (CAP_SYS_PTRACE to read other "
		       "processes)",
		       pid, strerror(errno));
		return -EPERM;
	}
	if (n < 0 && (errno == EACCES || errno == EPERM)) {
		pr_err("pid %d: %s: the kernel does not let even root read this process (it is "
		       "in another user namespace's care, or Yama or a security module protects "
		       "it)",
		       pid, strerror(errno));
		return -EPERM;
	}
	return 0;
}

/* Follow the target's forks, execs and exit from now on. */
static int target__follow(struct memtrace *mt, struct target *t)
{
	__u32 flags = mt->follow_flags | (t->awaiting ? MT_PROC_AWAIT_LIB : 0);
	int err = mt_loader__follow(mt->loader, t->pid, flags);

	if (err)
		pr_err("pid %d: following its lifecycle: %s", t->pid, strerror(-err));
	/* --growth: its new pages from now on (its followed children inherit the tier) */
	return err ? err : target__set_tier(mt, t);
}

struct spawn_ctx {
	struct memtrace *mt;
	struct target *t;
	const char *cmd;
	size_t last_nr_maps;
	bool attached; /* libc probes in place */
	int py_waits;  /* syscall stops left to wait for libpython's relocation */
};

/* Is the code of the file named base mapped in pid? */
static bool alloc_code_mapped(pid_t pid, const char *base)
{
	const struct mt_module *m;
	struct mt_maps maps;
	bool mapped;

	if (mt_maps__read(pid, &maps))
		return true; /* nothing to wait for */
	m = mt_maps__find_name(&maps, base);
	mapped = m && m->exec_end > m->exec_start;
	mt_maps__free(&maps);
	return mapped;
}

/* Called at each syscall stop of the command until its allocator is mapped. */
static int spawn_ready(pid_t pid, void *arg)
{
	struct spawn_ctx *c = arg;
	struct mt_maps maps;
	int err;

	if (c->attached) {
		/*
		 * Python's layout is read once ld.so has relocated libpython,
		 * which it does before running any of its code; the modules
		 * once the allocator's code is mapped (its first mapping, with
		 * which it was probed, holds none).
		 */
		if (target__detect_python_now(c->mt, c->t) == -EAGAIN && --c->py_waits > 0)
			return 0;
		return alloc_code_mapped(pid, c->t->alloc_module) || --c->py_waits <= 0;
	}
	if (mt_maps__read(pid, &maps))
		return 0;
	if (maps.nr_maps == c->last_nr_maps) {
		mt_maps__free(&maps);
		return 0;
	}
	c->last_nr_maps = maps.nr_maps;
	c->t->pid = pid;
	err = target__attach_wait(c->mt, c->t, &maps, true);
	if (err == -EAGAIN) {
		/* every library the program needs comes before its first instruction */
		mt_maps__free(&maps);
		return 0;
	}
	if (err == -ENOENT) {
		/* a static binary without libc never maps one: say so at once */
		bool no_ld = maps.nr_mods && !mt_maps__find_name(&maps, "ld-");

		mt_maps__free(&maps);
		if (!no_ld)
			return 0;
		pr_err("'%s' has no C library allocator to probe (a static binary "
		       "without libc?)",
		       c->cmd);
		return -ENOENT;
	}
	mt_maps__free(&maps);
	if (err < 0)
		return err;
	mt_proc__comm(pid, c->t->comm);
	c->attached = true;
	c->py_waits = 100000;
	return spawn_ready(pid, arg);
}

static int start_command(struct memtrace *mt)
{
	struct target *t = mt_target__new(mt, 0, 0);
	struct spawn_ctx c = {.mt = mt, .t = t, .cmd = mt->opts->cmd[0]};
	pid_t pid;
	int err;

	if (!t)
		return -ENOMEM;
	t->command = true;
	pid = mt_spawn__start(mt->opts->cmd, spawn_ready, &c);
	if (pid < 0)
		return pid;
	t->pid = mt->cmd_pid = pid;
	/* ptrace holds it at its syscalls: it has not forked yet */
	err = mt_proc__start_time(pid, &t->start);
	if (!err)
		err = target__follow(mt, t);
	if (err)
		return err;
	mt_sym_native__add_pid(mt->sym, pid);
	mt_session__say_capacity(mt);
	pr_info("attached to pid %d (%s), %s mode", pid, t->comm,
		mt_attach_mode__name(mt_loader__mode(mt->loader)));
	return 0;
}

/* Attach to a running process (ppid: the target it is a child of, or 0). */
static int start_pid(struct memtrace *mt, pid_t pid, pid_t ppid, bool exact)
{
	struct mt_maps maps;
	struct target *t;
	__u64 start;
	int err;

	err = check_pid(pid);
	if (err)
		return err;
	if (mt_targets__find(&mt->targets, pid, 0)) {
		pr_warn("pid %d named twice: traced once", pid);
		return 0;
	}
	err = mt_proc__start_time(pid, &start);
	if (err) {
		pr_err("pid %d exited", pid);
		return err;
	}
	t = mt_target__new(mt, pid, start);
	if (!t)
		return -ENOMEM;
	t->ppid = ppid;
	t->exact = exact;
	err = mt_maps__read(pid, &maps);
	if (err && mt_proc__exited(pid)) {
		pr_err("pid %d exited", pid);
		return -ESRCH;
	}
	if (err) {
		pr_err("pid %d: reading its memory map: %s", pid, strerror(-err));
		goto err_out;
	}
	err = target__attach(mt, t, &maps);
	if (err == -ENOENT)
		pr_err("pid %d (%s) has no C library allocator to probe (a static binary "
		       "without libc?)",
		       pid, t->comm);
	if (err > 0)
		err = 0;
	if (!err)
		target__detect_python(mt, t, &maps);
	mt_maps__free(&maps);
	if (!err)
		err = target__follow(mt, t);
	if (err)
		goto err_out;
	/* it may have exited before BPF followed it: then no exit event comes */
	if (!mt_proc__alive(pid, start)) {
		pr_err("pid %d exited", pid);
		err = -ESRCH;
		goto err_out;
	}
	mt_sym_native__add_pid(mt->sym, pid);
	mt_session__say_capacity(mt);
	pr_info("attached to pid %d (%s), %s mode", pid, t->comm,
		mt_attach_mode__name(mt_loader__mode(mt->loader)));
	return 0;
err_out:
	/* nothing of it stays: no report, no links, no map entries */
	mt_target__retire(mt, t, false);
	return err;
}

/*
 * The children pid has already forked (a prefork server's workers) are
 * targets too, and theirs: what it forks from now on is followed by BPF.
 * One that cannot be traced is said and skipped.
 */
static void start_children(struct memtrace *mt, pid_t pid, int depth)
{
	pid_t kids[256];
	int n = mt_proc__children(pid, kids, sizeof(kids) / sizeof(kids[0]));

	for (int i = 0; i < n; i++) {
		if (mt_targets__find(&mt->targets, kids[i], 0))
			continue;
		if (start_pid(mt, kids[i], pid, false)) {
			pr_warn("pid %d (child of %d): not traced", kids[i], pid);
			continue;
		}
		if (depth < 16)
			start_children(mt, kids[i], depth + 1);
	}
}

int mt_session__attach_pid(struct memtrace *mt, pid_t pid, bool exact)
{
	int err = start_pid(mt, pid, 0, exact);

	if (!err && mt->policy.follow_forks)
		start_children(mt, pid, 0);
	return err;
}

int mt_session__start(struct memtrace *mt)
{
	const struct mt_opts *o = mt->opts;
	int err;

	if (o->all)
		return mt_host__start(mt);
	if (o->cmd)
		return start_command(mt);
	for (size_t i = 0; i < o->nr_pids && !mt_session__stopping(); i++) {
		mt_session__progress();
		err = mt_session__attach_pid(mt, o->pids[i], false);
		if (err)
			return err;
	}
	return 0;
}

size_t mt_session__live(const struct memtrace *mt)
{
	size_t n = 0;

	/* a command reported at Py_FinalizeEx is still running: wait for it */
	for (size_t i = 0; i < mt->targets.nr; i++)
		n += !mt->targets.v[i]->done || mt->targets.v[i]->final_reported;
	return n;
}

int mt_session__gone(struct memtrace *mt, pid_t pid)
{
	if (mt->nr_gone == mt->cap_gone) {
		size_t cap = mt->cap_gone ? mt->cap_gone * 2 : 16;
		__u32 *n = realloc(mt->gone, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		mt->gone = n;
		mt->cap_gone = cap;
	}
	mt->gone[mt->nr_gone++] = (__u32)pid;
	return 0;
}

void mt_session__purge(struct memtrace *mt)
{
	if (!mt->nr_gone)
		return;
	mt_reclaim__purge(&mt->bpf, mt->gone, mt->nr_gone);
	mt->nr_gone = 0;
}

/*
 * Drop what memtrace holds for a process image (symbols, symbolized sites,
 * the interpreter layout in BPF). Its map entries go with the next purge.
 */
static void target__forget(struct memtrace *mt, struct target *t)
{
	mt_site_cache__forget(mt->sites, t->pid);
	mt_unwinder__forget(mt->unwinder, (__u32)t->pid);
	mt_sym_native__forget_pid(mt->sym, t->pid);
	mt_sym_python__forget_pid(mt->pysym, t->pid);
	if (t->py_module[0])
		mt_loader__set_python(mt->loader, t->pid, NULL);
	t->py_module[0] = 0;
	mt_session__gone(mt, t->pid);
}

int mt_target__retire(struct memtrace *mt, struct target *t, bool report)
{
	int err = 0;

	if (report && !t->done)
		err = mt_target__final_report(mt, t, true);
	mt_loader__detach(mt->loader, t->pid);
	mt_loader__unfollow(mt->loader, t->pid);
	target__forget(mt, t);
	mt_targets__remove(&mt->targets, t);
	mt->collect = true;
	return err;
}

/* After an exec: the old image's state goes; the new image is planned as new. */
static void target__new_image(struct memtrace *mt, struct target *t)
{
	target__forget(mt, t);
	t->nr_alloc_mods = 0;  /* the new image's are planned again */
	mt_session__purge(mt); /* now: the new image's first allocations must stay */
	t->py_checks = 3;
	memset(&t->py, 0, sizeof(t->py));
	mt_proc__comm(t->pid, t->comm);
}

/*
 * Stop a target at each new mapping (MT_PROC_AWAIT_LIB) while
 * its allocator or its interpreter is yet to be found; or no more.
 */
static void target__await(struct memtrace *mt, struct target *t, bool on)
{
	if (on && !mt_loader__can_await_lib(mt->loader))
		on = false;
	if (t->awaiting == on)
		return;
	t->awaiting = on;
	target__follow(mt, t);
}

/*
 * Python found mapped but not relocated yet (ld.so is still at work): a
 * probe on the interpreter's start stops the process again, once it is
 * relocated and before it runs any Python code.
 */
static void target__probe_py_start(struct memtrace *mt, struct target *t,
				   const struct mt_maps *maps)
{
	static const char *const starts[] = {"_PyRuntime_Initialize", "Py_InitializeFromConfig",
					     "Py_BytesMain"};
	const struct mt_module *m = mt_maps__find_name(maps, "libpython");
	char path[32];
	__u64 off;
	int fd;

	if (t->py_start)
		return;
	if (!m)
		m = mt_maps__find_name(maps, "python");
	fd = m ? mt_maps__module_open(t->pid, maps, m->start) : -1;
	if (fd < 0)
		return;
	/* through the descriptor checked (mt_maps__module_open), not a path */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]) && !t->py_start; i++)
		t->py_start =
		    !mt_elf__func_offset(path, starts[i], &off) &&
		    !mt_loader__attach_stop(mt->loader, path, off, t->pid, MT_PROC_MAPPED);
	close(fd);
}

/*
 * A target stopped after an exec or at a new mapping (MT_PROC_MAPPED): its
 * allocator once the new image maps it, then its interpreter; it is
 * stopped again at its next new mapping until both are found.
 */
static void target__mapped(struct memtrace *mt, struct target *t)
{
	struct mt_maps maps;
	int err = 0;

	if (mt_maps__read(t->pid, &maps))
		return;
	if (t->replan) {
		err = target__attach(mt, t, &maps);
		t->replan = err == -ENOENT;
		if (err < 0 && !t->replan)
			pr_warn("pid %d (%s): not traced: %s", t->pid, t->comm, strerror(-err));
		else if (!err)
			pr_info("pid %d executed %s: probing %s", t->pid, t->comm, t->alloc_module);
	}
	err = t->replan ? 0 : target__detect_python(mt, t, &maps);
	if (err == -EAGAIN)
		target__probe_py_start(mt, t, &maps);
	target__await(mt, t, t->replan || (err == -EAGAIN && !t->py_start));
	mt_maps__free(&maps);
	mt_sym_native__add_pid(mt->sym, t->pid);
}

/*
 * Per-process links: the new image of a process stopped at its exec. A
 * static image (its executable holds the allocator) is probed now, before
 * its first instruction. A dynamic one maps its C library later: the same
 * library file is probed already (the links follow the process); another
 * one is probed when the process maps it (target__mapped), or, where the
 * kernel cannot stop it there, when a report round finds it mapped.
 */
static void target__replan(struct memtrace *mt, struct target *t)
{
	target__new_image(mt, t);
	if (mt->opts->all) {
		memcpy(t->alloc_mods, mt->host_alloc_mods, sizeof(t->alloc_mods));
		t->nr_alloc_mods = mt->nr_host_alloc_mods;
		mt_sym_native__add_pid(mt->sym, t->pid);
		return; /* whole-host links see every image */
	}
	t->replan = true;
	t->py_start = false;
	target__mapped(mt, t);
	if (t->replan)
		pr_debug("pid %d executed %s: probing it once its C library is mapped", t->pid,
			 t->comm);
	else
		pr_debug("pid %d executed %s", t->pid, t->comm);
}

/*
 * A followed process forked: the child is a new target with what its
 * parent had (the same mappings, the same interpreter), probed before it
 * runs (it is stopped until the caller resumes it).
 */
static void target__adopt(struct memtrace *mt, const struct mt_proc_event *e, struct target *parent)
{
	__u64 start = mt_proc__ticks_of_ns(e->start_ns);
	struct mt_maps maps;
	struct target *t;
	int err;

	if (mt_targets__find(&mt->targets, (pid_t)e->pid, start))
		return;
	for (size_t i = 0; i < mt->nr_gone; i++)
		if (mt->gone[i] == e->pid)
			mt_session__purge(mt); /* a pid that went comes back */
	t = mt_target__new(mt, (pid_t)e->pid, start);
	if (!t) {
		mt_loader__unfollow(mt->loader, (pid_t)e->pid);
		return;
	}
	t->ppid = (pid_t)e->ppid;
	err = mt_maps__read(t->pid, &maps);
	if (err) {
		mt_target__retire(mt, t, false); /* gone already */
		return;
	}
	err = target__attach(mt, t, &maps);
	if (err < 0 && err != -ENOENT)
		pr_warn("pid %d (child of %d): not traced: %s", t->pid, t->ppid, strerror(-err));
	t->replan = err == -ENOENT;
	if (parent && parent->py_module[0]) {
		t->py = parent->py;
		t->py_checks = 0;
		if (!target__use_python(mt, t)) {
			snprintf(t->py_module, sizeof(t->py_module), "%s", parent->py_module);
			if (t->replan == false)
				target__probe_finalize(mt, t, &maps);
		}
	} else {
		target__detect_python(mt, t, &maps);
	}
	mt_maps__free(&maps);
	mt_sym_native__add_pid(mt->sym, t->pid);
	pr_debug("pid %d (%s) forked pid %d: following it", t->ppid, parent ? parent->comm : "?",
		 t->pid);
}

static void resume(const struct mt_proc_event *e)
{
	if (e->stopped)
		kill((pid_t)e->pid, SIGCONT);
}

int mt_session__lifecycle(struct memtrace *mt)
{
	bool retired = false;
	int err = 0;
	size_t i;

	/* an action may queue more (a report consumes the ring buffer): by index */
	for (i = 0; i < mt->nr_pending && !err; i++) {
		struct mt_proc_event e = mt->pending[i];
		struct target *t;
		enum mt_lc_action a = mt_lifecycle__decide(&mt->targets, &mt->policy, &e, &t);

		mt_session__progress();
		if (e.type == MT_PROC_OOM) {
			mt_session__oom(mt, (pid_t)e.pid); /* before its exit is handled */
			continue;
		}
		if (a != MT_LC_IGNORE && a != MT_LC_FORGET)
			pr_debug("pid %d: %s event: %s", e.pid,
				 e.type == MT_PROC_FORK	       ? "fork"
				 : e.type == MT_PROC_EXEC      ? "exec"
				 : e.type == MT_PROC_FINALIZE  ? "finalize"
				 : e.type == MT_PROC_MAPPED    ? "mapped"
				 : e.type == MT_PROC_UNMAPPING ? "unmapping"
				 : e.type == MT_PROC_EXITING   ? "exiting"
							       : "exit",
				 mt_lc_action__name(a));
		switch (a) {
		case MT_LC_ADOPT:
			target__adopt(mt, &e, t);
			break;
		case MT_LC_REPLAN:
			target__replan(mt, t);
			break;
		case MT_LC_MAPPED:
			target__mapped(mt, t);
			break;
		case MT_LC_REFRESH:
			mt_sym_native__add_pid(mt->sym, t->pid);
			break;
		case MT_LC_SYMBOLIZE:
			mt_target__symbolize_now(mt, t); /* a failed read said so */
			break;
		case MT_LC_RETIRE:
			err = mt_target__retire(mt, t, !mt->opts->all);
			retired = true;
			break;
		case MT_LC_FINAL:
			/* what was outstanding before the interpreter's teardown */
			err = mt_target__final_report(mt, t, false);
			t->final_reported = true;
			/*
			 * nothing after it is reported: the teardown's frees
			 * (every object the program held) need not trap
			 */
			mt_loader__detach(mt->loader, t->pid);
			break;
		case MT_LC_FORGET:
			/* -a: most processes that come and go never had a sampled allocation */
			if (mt_reader__has_sites(&mt->bpf, e.pid)) {
				mt_session__gone(mt, (pid_t)e.pid);
				retired = true;
			}
			break;
		default:
			break;
		}
		resume(&e);
	}
	/* after an error: nothing memtrace stopped stays stopped */
	for (; i < mt->nr_pending; i++)
		resume(&mt->pending[i]);
	mt->nr_pending = 0;
	/*
	 * The entries of processes that went are purged in one pass over the
	 * allocation table for many of them: at the next report, when many
	 * have gone, or before a new process takes one of their pids (adopt).
	 * -a: now, as a process that reuses the pid is not announced.
	 */
	if (retired && (mt->opts->all || mt->nr_gone >= 64))
		mt_session__purge(mt);
	return err;
}

void mt_target__refresh(struct memtrace *mt, struct target *t)
{
	struct mt_maps maps;
	int err;

	if (t->done)
		return;
	mt_sym_native__add_pid(mt->sym, t->pid); /* pick up new mappings */
	target__detect_python_now(mt, t);
	if (!t->replan || mt->opts->all || mt_maps__read(t->pid, &maps))
		return;
	err = target__attach(mt, t, &maps);
	if (err >= 0)
		t->replan = false;
	if (!err)
		pr_info("pid %d (%s): probing %s (allocations before now are not seen)", t->pid,
			t->comm, t->alloc_module);
	mt_maps__free(&maps);
}

void mt_session__refresh(struct memtrace *mt)
{
	struct target *t;

	mt_targets__for_each(&mt->targets, i, t) mt_target__refresh(mt, t);
}

void mt_session__resume_all(struct memtrace *mt)
{
	for (size_t i = 0; i < mt->nr_pending; i++)
		resume(&mt->pending[i]);
	mt->nr_pending = 0;
}
