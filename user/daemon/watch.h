/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's watch: every process's RSS and anonymous memory, sampled
 * from /proc/PID/statm (no probe), over a sliding window; and the
 * decisions, pure and unit-tested, of which process to escalate to a
 * closer tier (growth profiling, exact tracing) and when to let it go.
 *
 * A process is a candidate when its RSS now is at least rss_growth bytes
 * above its lowest sample of the last window seconds. Candidates are
 * taken largest growth first while fewer than max_escalated processes
 * are escalated; the others are refused (counted) and stay candidates.
 * A candidate goes to growth profiling (to exact tracing with exact_now,
 * or when the growth tier is missing); with exact, a process still
 * growing (a new peak within settle) after window seconds at growth goes
 * on to exact tracing. An escalated process goes back to the watch when
 * it has not reached a new RSS peak for settle seconds ("growth
 * stopped"), and exact tracing ends after exact_for seconds (back to
 * growth when there is a growth tier, else to the watch). A process let go starts a new window: it
 * must grow by rss_growth again to come back.
 *
 * The samples of a process are a ring of MT_WATCH_SAMPLES kept at least
 * window / MT_WATCH_SAMPLES apart: bounded memory whatever the poll rate.
 */
#ifndef MT_DAEMON_WATCH_H
#define MT_DAEMON_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "session/control.h"

#define MT_WATCH_SAMPLES 32
#define MT_WATCH_MAX_MATCH 16
#define MT_WATCH_REREAD 8

/* --match: which processes are watched (none: all) */
enum mt_match_kind {
	MT_MATCH_COMM = 0, /* comm=GLOB */
	MT_MATCH_CGROUP,   /* cgroup=GLOB, on the cgroup v2 path */
	MT_MATCH_UNIT,	   /* unit=NAME: the last component of the cgroup path */
};

struct mt_match {
	enum mt_match_kind kind;
	char pattern[128];
};

struct mt_watch_opts {
	__u64 rss_growth;     /* bytes within window to escalate */
	double window;	      /* seconds */
	double settle;	      /* seconds without a new RSS peak to de-escalate */
	double exact_for;     /* seconds of exact tracing; 0: until settled */
	size_t max_escalated; /* processes escalated at once */
	bool growth_tier;     /* the growth tier exists (escalate to it first) */
	bool exact;	      /* --escalate exact: on to exact tracing */
	bool exact_now;	      /* --escalate exact-now: straight to exact tracing */
	struct mt_match match[MT_WATCH_MAX_MATCH];
	size_t nr_match;
};

struct mt_watch_sample {
	double t;
	__s64 rss, anon;
};

struct mt_watch_proc {
	pid_t pid;
	__u64 start; /* start time (clock ticks since boot): a reused pid is another process */
	char comm[16];
	char cgroup[128];
	bool matched; /* selected by --match (or no --match) */
	bool kernel;  /* a kernel thread: no memory of its own, never sampled again */
	bool seen;    /* in the scan under way */
	enum mt_tier tier;
	struct mt_watch_sample s[MT_WATCH_SAMPLES];
	size_t head, nr; /* ring: s[head] is the newest */
	__s64 rss, anon; /* newest sample, bytes */
	__s64 peak;	 /* highest RSS since escalated */
	double peak_t;	 /* when it was reached */
	double tier_t;	 /* when the tier was entered */
	__u64 escalations;
	unsigned int
	    scans; /* scans that sampled it (comm and cgroup are read again now and then) */
};

struct mt_watch {
	struct mt_watch_opts opts;
	struct mt_watch_proc **v; /* sorted by pid */
	size_t nr, cap;
	size_t nr_escalated;
	__u64 refused;	   /* candidates over --max-escalated (counted at each decision) */
	__u64 escalations; /* escalations made */
	__u64 read_errors; /* statm lines that did not parse */
	long page_size;
};

/* An action the daemon carries out, then reports with mt_watch__applied. */
struct mt_watch_action {
	pid_t pid;
	enum mt_tier from, to;
	const char *why; /* "rss grew", "growth stopped", "exact-for ended" */
	__s64 growth;	 /* bytes in the window when escalated */
};

void mt_watch__init(struct mt_watch *w, const struct mt_watch_opts *opts);
void mt_watch__free(struct mt_watch *w);
/* New options (SIGHUP): processes, samples and tiers are kept. */
void mt_watch__set_opts(struct mt_watch *w, const struct mt_watch_opts *opts);

/*
 * "comm=GLOB", "cgroup=GLOB" or "unit=NAME" into m. 0 or -EINVAL.
 */
int mt_match__parse(const char *s, struct mt_match *m);
/* Does a process of this comm and cgroup path pass the rules (none: all do)? */
bool mt_match__any(const struct mt_match *m, size_t nr, const char *comm, const char *cgroup);

/*
 * /proc/PID/statm's text (len bytes) -> resident and anonymous bytes
 * (resident - shared, the file-backed and shmem pages). 0 or -EINVAL.
 */
int mt_watch__parse_statm(const char *text, size_t len, long page_size, __s64 *rss, __s64 *anon);

/* The process of pid, or NULL. */
struct mt_watch_proc *mt_watch__find(const struct mt_watch *w, pid_t pid);
/*
 * A sample of pid at time now (seconds, monotonic). A new pid, or a pid
 * whose start time changed, is a new process (comm and cgroup given).
 * Marks it seen. NULL on -ENOMEM.
 */
struct mt_watch_proc *mt_watch__sample(struct mt_watch *w, pid_t pid, __u64 start, const char *comm,
				       const char *cgroup, __s64 rss, __s64 anon, double now);
/*
 * Scan /proc: every process sampled (its start time read once; its comm
 * and cgroup at its first three scans, then every MT_WATCH_REREAD: an exec
 * changes them), those gone removed (an escalated one's pid into gone[], at most
 * max_gone; the count is returned). -errno when /proc cannot be read.
 */
int mt_watch__scan(struct mt_watch *w, double now, pid_t *gone, size_t max_gone);
/* Start a scan by hand (tests): every process unseen. */
void mt_watch__begin(struct mt_watch *w);
/* End it: unseen processes removed, as mt_watch__scan does. */
size_t mt_watch__end(struct mt_watch *w, pid_t *gone, size_t max_gone);

/* RSS growth of p over the window ending now: newest - lowest sample in it. */
__s64 mt_watch__growth(const struct mt_watch *w, const struct mt_watch_proc *p, double now);

/*
 * What to do now: at most max actions into out (de-escalations first,
 * then escalations, largest growth first, within the budget). Count.
 */
size_t mt_watch__decide(struct mt_watch *w, double now, struct mt_watch_action *out, size_t max);
/*
 * The daemon carried out an action (ok) or could not (the process stays
 * where it was; an escalation that failed starts a new window).
 */
void mt_watch__applied(struct mt_watch *w, const struct mt_watch_action *a, bool ok, double now);

#endif
