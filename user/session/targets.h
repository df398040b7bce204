/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The traced processes. A target is one process for its whole life: its
 * pid and its start time (clock ticks since boot, as /proc/PID/stat has
 * it). A pid reused by a later process is another target. Targets are
 * allocated one by one, so a pointer to one stays valid until
 * mt_targets__remove, whatever is added meanwhile.
 *
 * Pure bookkeeping: no BPF, no /proc. The session decides what a target
 * needs; this table only holds it.
 */
#ifndef MT_TARGETS_H
#define MT_TARGETS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "mt_python.h"
#include "report/report.h"
#include "report/untraced.h"

struct mt_agg;

struct target {
	pid_t pid;
	__u64 start;	     /* start time, clock ticks since boot; 0 = not known yet */
	pid_t ppid;	     /* a followed child: its parent's pid; else 0 */
	char comm[16];	     /* printable */
	bool command;	     /* the command memtrace runs (-- mode), its parent */
	bool done;	     /* final report written */
	bool final_reported; /* reported at Py_FinalizeEx, still running */
	bool replan;	     /* exec'd before its allocator was mapped: look for it again */
	bool awaiting;	     /* stopped at each new mapping until replan and Python are done */
	bool py_start;	     /* a stop probe waits for its interpreter's start */
	bool exact;	     /* --growth: this one traced exactly (the daemon escalated it) */
	char alloc_module[PATH_MAX]; /* basename of the allocator's file */
	/* basenames of every file probed for allocations (the allocator, libc, libstdc++...) */
	char alloc_mods[5][NAME_MAX + 1];
	size_t nr_alloc_mods;
	char py_module[PATH_MAX]; /* basename of the interpreter's file, "" if not Python */
	struct mt_py_offsets py;  /* the interpreter's layout, when py_module is set */
	int py_checks;		  /* Python detection attempts left */
	char cgroup[128];	  /* -a: the process's cgroup (its container) */
	struct {
		__u64 inode;
		dev_t dev;
	} probed[8]; /* files probed for this process (the same after an exec is not probed twice)
		      */
	size_t nr_probed;
	struct mt_agg *agg;	     /* owned */
	unsigned int seq;	     /* reports written */
	struct mt_untraced untraced; /* RSS against traced bytes across its reports */
	struct mt_obj_row *py_prev;  /* --py-objects at the previous report, by type name; owned */
	size_t nr_py_prev;
};

struct mt_targets {
	struct target **v;
	size_t nr, cap;
};

/*
 * A new target (zeroed but pid, start, py_checks; agg is the caller's to
 * set). NULL on -ENOMEM. The table owns it.
 */
struct target *mt_targets__add(struct mt_targets *tt, pid_t pid, __u64 start);
/* The target of (pid, start); start 0 matches any target of pid. NULL when none. */
struct target *mt_targets__find(const struct mt_targets *tt, pid_t pid, __u64 start);
/* Remove and free a target (its agg too). */
void mt_targets__remove(struct mt_targets *tt, struct target *t);
/* Free every target and the table's storage; the table is then empty. */
/* Frees t->py_prev. */
void mt_target__free_py_prev(struct target *t);
void mt_targets__free(struct mt_targets *tt);

#define mt_targets__for_each(tt, i, t) \
	for (size_t i = 0; i < (tt)->nr && ((t) = (tt)->v[i], 1); i++)

#endif
