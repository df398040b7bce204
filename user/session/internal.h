/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The session's inside, shared by its files and by nothing else:
 *   session.c  owner: new, free, the event loop, signals
 *   attach.c   the one place that attaches and retires: targets' probes,
 *              Python, lifecycle actions (adopt, replan, retire)
 *   host.c     -a: links for every process, targets found in the maps
 *   reports.c  report rounds: read maps, symbolize, aggregate, render
 *              (reads the session, never changes what is traced)
 *   targets.c, lifecycle.c   the target table and the lifecycle decisions
 *   spawn.c    running the command under ptrace until it is probed, then letting it go
 */
#ifndef MT_SESSION_INTERNAL_H
#define MT_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "kernel/events.h"
#include "kernel/loader.h"
#include "kernel/reader.h"
#include "kernel/reclaim.h"
#include "kernel/stackcache.h"
#include "kernel/unwinder.h"
#include "opts.h"
#include "output/live.h"
#include "output/output.h"
#include "session/control.h"
#include "session/lifecycle.h"
#include "session/targets.h"

struct memtrace {
	const struct mt_opts *opts;
	__u32 spill_max;	       /* records the spill map takes */
	bool capacity_said;	       /* the live-allocation table's size was said */
	__u64 drops_said[MT_CNT__MAX]; /* drop counters as last said on stderr */
	const char **no_lines_said;    /* modules said to have no line information */
	size_t nr_no_lines_said;
	struct mt_loader *loader;
	struct mt_bpf_maps bpf;
	struct mt_events *events;
	struct mt_unwinder *unwinder; /* stacks BPF could not unwind yet */
	struct mt_sym_native *sym;
	struct mt_sym_python *pysym;
	struct mt_stack_cache *stacks;
	struct mt_site_cache *sites; /* symbolized sites */
	struct mt_targets targets;
	/* -a: basenames of the files probed for every process (each target's alloc_mods) */
	char host_alloc_mods[5][NAME_MAX + 1];
	size_t nr_host_alloc_mods;
	struct mt_lc_policy policy;
	__u32 follow_flags; /* MT_PROC_* for the targets memtrace attaches to */
	/* lifecycle events, queued by the ring buffer callback, applied by the loop */
	struct mt_proc_event *pending;
	size_t nr_pending, cap_pending;
	/* processes whose map entries go at the next purge */
	__u32 *gone;
	size_t nr_gone, cap_gone;
	FILE *out; /* NULL: --live without -o */
	struct mt_output_cfg out_cfg;
	/* --live: the view (an output sink beside out), its q presses, nothing left to trace */
	struct mt_live *live;
	unsigned int live_quits;
	bool live_idle;
	long reports;  /* report rounds written */
	bool collect;  /* targets went: collect their stacks at the next round */
	pid_t cmd_pid; /* -- mode: the command, until reaped (0 then) */
	int child_status;
	int sfd; /* signalfd */
	/* the daemon (session/control.h): reports go here instead of the output */
	int (*sink)(void *ctx, const struct mt_report *r);
	void *sink_ctx;
	mt_oom_fn oom_hook; /* OOM victims among the targets (NULL: a final report) */
	void *oom_ctx;
};

/* ---- session.c ---- */

/*
 * A step of a long loop is done (a site, a process, an event): after a
 * signal, memtrace that makes progress is given time for its final
 * reports; one that makes none for a second is ended (session.c).
 */
void mt_session__progress(void);

/* ---- attach.c ---- */

/* A new target (its name read, its aggregator made); NULL after a message. */
struct target *mt_target__new(struct memtrace *mt, pid_t pid, __u64 start);
/* Attach every target the options name (-p, --; -a: host.c). 0 or -errno. */
int mt_session__start(struct memtrace *mt);
/* Before a report round: mt_target__refresh of every target (not -a). */
void mt_session__refresh(struct memtrace *mt);
/* Carry out the queued lifecycle events. 0 or -errno. */
int mt_session__lifecycle(struct memtrace *mt);
/* A target exited: its final report (unless made, or -a), then drop it. */
int mt_target__retire(struct memtrace *mt, struct target *t, bool report);
/* Targets still to report on. */
size_t mt_session__live(const struct memtrace *mt);
/* Drop the map entries of the processes queued in mt->gone, in one pass. */
void mt_session__purge(struct memtrace *mt);
/* Queue a process's map entries for the next purge. */
int mt_session__gone(struct memtrace *mt, pid_t pid);
/* Resume everything memtrace stopped and has not resumed (at exit). */
void mt_session__resume_all(struct memtrace *mt);

/*
 * Attach a running process (and its children when forks are followed);
 * exact: traced exactly even under --growth (not its children). 0 or -errno.
 */
int mt_session__attach_pid(struct memtrace *mt, pid_t pid, bool exact);

/*
 * The OOM killer chose task tid: when its process is a target, the hook
 * (control.h), else its final report now, while its maps are there (control.c).
 */
void mt_session__oom(struct memtrace *mt, pid_t tid);

/* Before a report of t: new mappings, Python found late, an image to plan again. */
void mt_target__refresh(struct memtrace *mt, struct target *t);

/* ---- host.c ---- */

/* -a: a process to report and its outstanding bytes. */
struct mt_host_row {
	struct target *t;
	__s64 bytes;
};

/* -a: one link per C library on the host. 0 or -errno. */
int mt_host__start(struct memtrace *mt);
/* -a: targets for the processes with sites in snap; the dead ones' entries go. */
int mt_host__discover(struct memtrace *mt, const struct mt_snapshot *snap);
/*
 * -a: the --top-processes targets with the most outstanding bytes in snap,
 * largest first, into *rows (malloc'd, the caller frees). 0 or -ENOMEM.
 */
int mt_host__rank(struct memtrace *mt, const struct mt_snapshot *snap, struct mt_host_row **rows,
		  size_t *nr);

/* ---- reports.c ---- */

/* A report round of every target (-a: of the ranked processes). 0 or -errno (session.c). */
int mt_session__round(struct memtrace *mt, bool final);

/* Read the maps (--min-age applied). 0 or -errno after a message. */
int mt_session__snapshot(struct memtrace *mt, struct mt_snapshot *snap);
/* One report for each live target of snap (final ones where asked). 0 or -errno. */
int mt_session__report_round(struct memtrace *mt, const struct mt_snapshot *snap, bool final);
/* One report of a live target t from snap (final: marked so). 0 or -errno. */
int mt_session__report_target(struct memtrace *mt, struct target *t, const struct mt_snapshot *snap,
			      bool final);
/* -a: a summary of the ranked processes (text), then a report of each. */
int mt_session__report_host(struct memtrace *mt, const struct mt_snapshot *snap,
			    const struct mt_host_row *rows, size_t nr, bool final);
/*
 * Before t unmaps code (a dlclose() or exit() stop): its mappings read
 * again and every site not yet symbolized symbolized now, while the code
 * is there; a library mapped later at the same addresses does not rename
 * them. 0 or -errno.
 */
int mt_target__symbolize_now(struct memtrace *mt, struct target *t);
/* The final report of one target (alive: Py_FinalizeEx, exit stop; or exited). */
int mt_target__final_report(struct memtrace *mt, struct target *t, bool exited);
/* Ring buffer callback: a new Python stack, read its code objects now. */
void mt_session__on_py_stack(void *ctx, __u32 tgid, __u64 py_stack);

/* --py-objects: fill r's objects by type for a Python target t (session/pyobjects.c) */
int mt_session__py_objects(struct memtrace *mt, struct target *t, struct mt_report *r);

/* Says once, before the first "attached" line, what the live-allocation table reserves. */
void mt_session__say_capacity(struct memtrace *mt);

#endif
