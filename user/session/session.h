/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A memtrace session: the traced processes (targets) and the stages that
 * serve them. main.c runs the event loop; targets.c finds, probes and
 * follows processes; reports.c turns map snapshots into reports. Private
 * to these three files.
 */
#ifndef MT_SESSION_H
#define MT_SESSION_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "report/aggregate.h"
#include "kernel/loader.h"
#include "opts.h"
#include "output/output.h"
#include "kernel/reader.h"
#include "kernel/reclaim.h"
#include "kernel/stackcache.h"
#include "kernel/pyfeed.h"

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
	struct mt_bpf_maps bpf;
	struct target *targets;
	size_t nr_targets, cap_targets;
	FILE *out;
	struct mt_output_cfg out_cfg;
	long reports; /* report rounds written */
	int child_status;
};

/* ---- targets.c ---- */

/* A new target for pid (not attached yet); NULL on -ENOMEM. */
struct target *mt_target__add(struct memtrace *mt, pid_t pid);
struct target *mt_target__find(struct memtrace *mt, pid_t pid);
/* Attach every target the options name (-p, --, -a). 0 or -errno after a message. */
int mt_session__start(struct memtrace *mt);
/* Look for CPython in a target (a few tries); 0, -EAGAIN (not yet relocated) or -errno. */
int mt_target__detect_python(struct memtrace *mt, struct target *t);
/* -- mode: the command executed a new program; probe it before it runs. */
int mt_target__exec(struct memtrace *mt, struct target *t);
/* Targets still to report on (and commands still running). */
size_t mt_session__live(const struct memtrace *mt);
/*
 * Drop what memtrace holds for a process image (symbols, symbolized sites,
 * the interpreter layout in BPF); its maps' entries are purged separately
 * (mt_reclaim__purge), in one batch where several go at once.
 */
void mt_target__forget(struct memtrace *mt, struct target *t);
/* The cgroup of pid (its container), for -a reports. */
void mt_proc__read_cgroup(pid_t pid, char *buf, size_t len);

/* ---- reports.c ---- */

/* One report for each live target (final ones where asked). 0 or -errno. */
int mt_session__report_round(struct memtrace *mt, bool final);
/* The final report of a target still alive (-- mode, at Py_FinalizeEx). */
int mt_target__final_report(struct memtrace *mt, struct target *t);
/* A target exited: its final report (unless made already), then forget it. */
int mt_target__finish(struct memtrace *mt, struct target *t);
/* Ring buffer callback: a new Python stack, read its code objects now. */
void mt_session__on_py_stack(void *ctx, __u32 tgid, __u64 py_stack);

#endif
