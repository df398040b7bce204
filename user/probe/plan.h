/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Probe planning: which file of a process holds its allocator, where each
 * allocator function starts in that file, and at which instruction to put
 * the probe. Pure ELF work, no BPF: the loader turns a plan into links.
 */
#ifndef MT_PLAN_H
#define MT_PLAN_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "probe/cfi.h"
#include "probe/syscall_scan.h"
#include "proc/elf.h"
#include "proc/files.h"
#include "proc/procmaps.h"

/* most probes in one file: the allocator's functions, their aliases skipped */
#define MT_MAX_PLAN_PROBES 96

struct mt_probe {
	enum mt_kind kind;
	const char *name;  /* symbol probed */
	__u64 offset;	   /* file offset of the probed instruction */
	__u64 func_offset; /* file offset of the function */
	__u64 cookie;	   /* MT_COOKIE_MAKE(kind, ...) */
	bool needs_return; /* the result must be seen (not free/munmap) */
	bool slow;	   /* the probed instruction is single-stepped (~10 us/hit here) */
	bool syscall_tp;   /* seen by system call tracepoints instead: no trap */
};

/*
 * A plan holds the descriptor of the file it checked and parsed: probes are
 * attached through it (path is "/proc/self/fd/N"), never by a path a target
 * could swap for another file in between. -1 when the plan holds none.
 */
struct mt_plan {
	int fd;		      /* the file checked and parsed; the plan's to close */
	char path[PATH_MAX];  /* "/proc/self/fd/N" of fd: the path attached to */
	char shown[PATH_MAX]; /* the file as the target names it */
	__u64 inode;
	dev_t dev;
	__u64 exec_start, exec_end, exec_offset; /* its code in the process planned for */
	struct mt_probe probes[MT_MAX_PLAN_PROBES];
	size_t nr_probes;
	/* CFI steps out of the library's own allocating functions (strdup, ...) */
	struct mt_plan_rule rules[MT_MAX_FRAME_RULES];
	size_t nr_rules;
	/* the system calls of the probes marked syscall_tp */
	struct mt_plan_syscall syscalls[MT_MAX_PLAN_SYSCALLS];
	size_t nr_syscalls;
	const char *syscall_note; /* why the file's wrappers keep uprobes, or NULL */
};

/*
 * Plan the libc probes for a file. path is the file to read; the plan
 * keeps it open (plan->fd). Returns 0, -ENOENT when the file defines no
 * malloc/free, or another negative errno (then plan->fd is -1).
 */
int mt_plan__from_file(struct mt_plan *plan, const char *path);

/* Close the plan's file (plan->fd becomes -1). Accepts NULL. */
void mt_plan__close(struct mt_plan *plan);

/*
 * Is the file at plan->path still the one planned (device and inode)?
 * Checked after attaching: 0 or -ESTALE (or what stat(2) said).
 */
int mt_plan__verify(const struct mt_plan *plan);

/*
 * Find the module of a running process that holds its allocator (the
 * first in the dynamic linker's lookup order that defines malloc and
 * free: the executable, LD_PRELOAD objects, DT_NEEDED order) and plan it,
 * reading the file through /proc/PID/root (or map_files) with an inode
 * check so containers work: the file mapped, never another one at its path.
 * -ESRCH: gone; -ENOENT: no allocator found. plan->fd is -1 on failure.
 */
int mt_plan__for_pid(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps);

/* most plans of one process (mt_plan__process) */
#define MT_MAX_PLANS 5
/* bytes of a process's environment read for LD_PRELOAD */
#define MT_PLAN_ENV_MAX (256 * 1024)

/*
 * Every probe set of a running process, each in the file the dynamic
 * linker binds it to (the executable, the LD_PRELOAD objects, then the
 * DT_NEEDED tree breadth first; probe/binding.h): plans[0] the allocator
 * malloc and free bind to (the C library, jemalloc, tcmalloc, mimalloc, or
 * one linked into the executable) with its extended API and its own
 * operator new/delete; then, each only when it is another file: the C
 * library (its mmap family), the C++ runtime whose operator new the
 * program binds to, GLib's g_malloc family. Returns how many plans (at
 * least 1; at most max, each's fd is the caller's to close), or -ESRCH,
 * -ENOENT (no allocator), -EAGAIN (wait: a needed library is not mapped
 * yet, ld.so is still loading), another negative errno.
 */
int mt_plan__process(struct mt_plan *plans, size_t max, pid_t pid, const struct mt_maps *maps,
		     bool wait);

/*
 * --prefix: mt_plan__process also plans jemalloc's API under these
 * prefixed names (je_malloc...) in the first module that defines
 * PREFIXmalloc and PREFIXfree. NULL or "": none. 0 or -EINVAL.
 */
int mt_plan__set_prefix(const char *prefix);

/*
 * Plan probes on CPython's allocator domains (PyMem_Raw*, PyMem_*,
 * PyObject_*) in the file that holds the interpreter (the module mapping
 * runtime, the address of _PyRuntime). *inlined: the build inlines pymalloc
 * at its call sites (LTO+PGO), so PyObject_* probes would miss most calls.
 */
int mt_plan__python(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps, __u64 runtime,
		    bool *inlined);

/* Probe with uprobes what the plan gives to system call tracepoints. */
void mt_plan__no_syscall_tps(struct mt_plan *plan);

/*
 * The cost of a probe hit measured at start (microseconds per call, where
 * the kernel emulates the probed instruction and where it single-steps
 * it), printed by mt_plan__log from now on.
 */
void mt_plan__set_costs(double emulated_us, double stepped_us);
/* Those costs; false (nothing set) when they were not measured. */
bool mt_plan__costs(double *emulated_us, double *stepped_us);

/* Print the plan at info level (-v): each probe, its offset and cost. */
void mt_plan__log(const struct mt_plan *plan);

#endif
