/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Runtime control of a session, for the daemon (user/daemon/): a session
 * made with nothing to trace (mt_opts__defaults), then processes added and
 * removed while it runs, each at a tier, and their reports handed to a
 * sink as report models instead of being written to the output.
 *
 * The daemon drives the loop itself: it polls mt_session__events_fd and
 * calls mt_session__tick when it is readable (forks, execs and exits of the
 * traced processes; a traced process that exits gets its final report
 * through the sink, then is gone).
 */
#ifndef MT_SESSION_CONTROL_H
#define MT_SESSION_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "mt_abi.h"

struct memtrace;
struct mt_report;

/*
 * Tiers (enum mt_tier, mt_abi.h), each closer and costlier than the one
 * before: NONE (not traced: the daemon watches its RSS from /proc, no
 * probe), GROWTH (new anonymous pages attributed to lines, no allocator
 * probe; needs the session's --growth programs), EXACT (every allocation
 * and free probed).
 */
/* "watch", "growth", "exact"; NULL outside the list. */
const char *mt_tier__name(enum mt_tier t);
/* Were the growth programs loaded (the session's opts.growth), so GROWTH can be given? */
bool mt_session__can_grow(const struct memtrace *mt);

/* A report model: the sink's; it must not keep r past the call. 0 or -errno. */
typedef int (*mt_report_fn)(void *ctx, const struct mt_report *r);

/* Every report from now on goes to fn (NULL: back to the output). */
void mt_session__set_sink(struct memtrace *mt, mt_report_fn fn, void *ctx);

/*
 * Put pid at tier: NONE removes its probes and what the maps hold for it
 * (no report); GROWTH and EXACT start it afresh at that tier (what it
 * held at the tier before goes: records of one tier are not released
 * under another), its followed children at GROWTH (or EXACT without
 * --growth); allocations and pages before now are not seen. 0,
 * -EOPNOTSUPP for GROWTH without the growth programs, or -errno after a
 * message (-ESRCH: it exited).
 */
int mt_session__set_tier(struct memtrace *mt, pid_t pid, enum mt_tier tier);
/* The tier pid is traced at (NONE when not traced). */
enum mt_tier mt_session__tier(const struct memtrace *mt, pid_t pid);

/* Has SIGINT or SIGTERM asked memtrace to stop? Long loops end early (session.c). */
bool mt_session__stopping(void);

/*
 * A traced process the kernel's OOM killer chose as its victim: fn(ctx,
 * pid) is called when the event is read (mt_session__tick), before its
 * exit is handled; the process is being killed, its memory taken away:
 * fn should take its report at once (mt_session__report_of). Without a
 * hook the process's final report is written. NULL: back to that.
 */
typedef void (*mt_oom_fn)(void *ctx, pid_t pid);
void mt_session__set_oom_hook(struct memtrace *mt, mt_oom_fn fn, void *ctx);
/* Does this kernel announce OOM victims (the oom/mark_victim tracepoint)? */
bool mt_session__announces_oom(const struct memtrace *mt);

/* The descriptor to poll for BPF's events; then mt_session__tick. */
int mt_session__events_fd(const struct memtrace *mt);
/* Read the events and carry out the lifecycle actions. 0 or -errno. */
int mt_session__tick(struct memtrace *mt);

/* A report of every traced process, each to the sink. 0 or -errno. */
int mt_session__report_all(struct memtrace *mt);
/*
 * The report model of pid now, to fn (not the sink), marked final when
 * final; fast: the maps read once, sites already symbolized taken from
 * the cache. 0, -ESRCH (not traced) or -errno.
 */
int mt_session__report_of(struct memtrace *mt, pid_t pid, bool final, mt_report_fn fn, void *ctx);

#endif
