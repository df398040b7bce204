/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What a process's fork, exec or exit means for the session: pure
 * decisions over the target table, so they can be tested with made-up
 * events. The session carries them out (session/attach.c).
 *
 *   event  target found (pid and start time)      action
 *   FORK   -                                      ADOPT the child (per-process links)
 *   FORK   (-a, or not following)                 RESUME it if it was stopped, nothing else
 *   EXEC   yes                                    REPLAN: the old image's allocations went
 *   EXEC   no                                     RESUME if stopped
 *   EXIT   yes                                    RETIRE: final report (not -a), then forget
 *   EXIT   no                                     IGNORE (-a: FORGET the pid's records)
 *   FINALIZE yes                                  FINAL: its final report, then SIGCONT
 *   FINALIZE no                                   RESUME
 *   MAPPED yes                                    MAPPED: probe what it mapped, SIGCONT
 *   MAPPED no                                     RESUME
 *   UNMAPPING yes                                 SYMBOLIZE: its sites, now, SIGCONT
 *   EXITING yes                                   REFRESH: read its mappings, SIGCONT
 *   UNMAPPING, EXITING no                         RESUME
 *
 * A start time that differs from the target's means another process that
 * reuses the pid: it is not that target.
 *
 * -a: a process is a target once the maps hold its allocations, and is
 * then stopped at its execs like any target. The exec of a process that
 * is none yet (a child between fork and exec, which seldom allocates) is
 * left alone: it is not stopped, so a purge would take the new image's
 * first allocations too.
 */
#ifndef MT_LIFECYCLE_H
#define MT_LIFECYCLE_H

#include <stdbool.h>
#include "mt_abi.h"
#include "session/targets.h"

enum mt_lc_action {
	MT_LC_IGNORE = 0,
	MT_LC_RESUME,	 /* only send SIGCONT where the event says it was stopped */
	MT_LC_ADOPT,	 /* a new target for the child (stopped: attach, then SIGCONT) */
	MT_LC_REPLAN,	 /* drop the old image of *t, plan the new one, SIGCONT */
	MT_LC_RETIRE,	 /* *t exited: its last report, then drop it */
	MT_LC_FORGET,	 /* -a: drop whatever the maps hold for the pid */
	MT_LC_FINAL,	 /* *t's interpreter is finalizing: its final report now (stopped) */
	MT_LC_MAPPED,	 /* *t mapped code after an exec: its allocator or interpreter (stopped) */
	MT_LC_REFRESH,	 /* *t is exiting: its mappings while they are there (stopped) */
	MT_LC_SYMBOLIZE, /* *t is about to unmap a library: its sites symbolized now (stopped) */
};

struct mt_lc_policy {
	bool all;	   /* -a: every process, links for every process */
	bool follow_forks; /* children of targets become targets */
};

/*
 * Decide for one event. *t is set to the target the action is about
 * (MT_LC_REPLAN, MT_LC_RETIRE, MT_LC_FINAL; MT_LC_ADOPT: the parent's target if any),
 * else NULL. start times in the event are BPF's (ns); targets hold ticks.
 */
enum mt_lc_action mt_lifecycle__decide(const struct mt_targets *tt, const struct mt_lc_policy *p,
				       const struct mt_proc_event *e, struct target **t);

/* "adopt", "retire", ...: for -vv logs and tests. */
const char *mt_lc_action__name(enum mt_lc_action a);

#endif
