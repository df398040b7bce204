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
	struct mt_probe probes[MT_KIND__MAX];
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
 * executable if it defines malloc, else its C library) and plan it,
 * reading the file through /proc/PID/root (or map_files) with an inode
 * check so containers work: the file mapped, never another one at its path.
 * -ESRCH: gone; -ENOENT: no allocator found. plan->fd is -1 on failure.
 */
int mt_plan__for_pid(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps);

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

/* Print the plan at info level (-v): each probe, its offset and cost. */
void mt_plan__log(const struct mt_plan *plan);

#endif
