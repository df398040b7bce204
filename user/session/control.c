// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Runtime control of a session (control.h): the daemon's seam. Adding a
 * process is attach.c's start of a -p pid; removing one is its retirement
 * without a report; reports are the usual rounds with the sink in place
 * of the output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"
#include "session/control.h"
#include "session/internal.h"

static const char *const tier_names[] = {
    [MT_TIER_NONE] = "watch",
    [MT_TIER_GROWTH] = "growth",
    [MT_TIER_EXACT] = "exact",
};

const char *mt_tier__name(enum mt_tier t)
{
	return (unsigned int)t < sizeof(tier_names) / sizeof(tier_names[0]) ? tier_names[t] : NULL;
}

bool mt_session__can_grow(const struct memtrace *mt)
{
	return mt->opts->growth && mt_loader__can_grow(mt->loader);
}

void mt_session__set_sink(struct memtrace *mt, mt_report_fn fn, void *ctx)
{
	mt->sink = fn;
	mt->sink_ctx = ctx;
}

enum mt_tier mt_session__tier(const struct memtrace *mt, pid_t pid)
{
	const struct target *t = mt_targets__find(&mt->targets, pid, 0);

	if (!t || t->done)
		return MT_TIER_NONE;
	return t->exact || !mt->opts->growth ? MT_TIER_EXACT : MT_TIER_GROWTH;
}

/* pid and the children memtrace followed from it: their probes and entries go. */
static void remove_tree(struct memtrace *mt, pid_t pid)
{
	struct target *t;

	for (size_t i = 0; i < mt->targets.nr;) {
		t = mt->targets.v[i];
		if (t->pid == pid || t->ppid == pid) {
			mt_target__retire(mt, t, false);
			continue; /* the table moved the next one here */
		}
		i++;
	}
	mt_session__purge(mt);
}

int mt_session__set_tier(struct memtrace *mt, pid_t pid, enum mt_tier tier)
{
	if (tier == MT_TIER_GROWTH && !mt_session__can_grow(mt))
		return -EOPNOTSUPP;
	if (tier != MT_TIER_NONE && tier != MT_TIER_GROWTH && tier != MT_TIER_EXACT)
		return -EINVAL;
	if (tier != MT_TIER_NONE && mt_session__tier(mt, pid) == tier)
		return 0;
	remove_tree(mt, pid); /* also a target with its final report made, not yet gone */
	if (tier == MT_TIER_NONE)
		return 0;
	return mt_session__attach_pid(mt, pid, tier == MT_TIER_EXACT);
}

int mt_session__events_fd(const struct memtrace *mt)
{
	return mt_events__fd(mt->events);
}

int mt_session__tick(struct memtrace *mt)
{
	mt_events__consume(mt->events);
	return mt_session__lifecycle(mt);
}

int mt_session__report_all(struct memtrace *mt)
{
	if (!mt->targets.nr)
		return 0;
	return mt_session__round(mt, false);
}

int mt_session__report_of(struct memtrace *mt, pid_t pid, bool final, mt_report_fn fn, void *ctx)
{
	struct target *t = mt_targets__find(&mt->targets, pid, 0);
	int (*sink)(void *, const struct mt_report *) = mt->sink;
	void *sink_ctx = mt->sink_ctx;
	struct mt_snapshot snap;
	int err;

	if (!t)
		return -ESRCH;
	err = mt_session__snapshot(mt, &snap);
	if (err)
		return err;
	mt->sink = fn;
	mt->sink_ctx = ctx;
	err = mt_session__report_target(mt, t, &snap, final);
	mt->sink = sink;
	mt->sink_ctx = sink_ctx;
	mt_snapshot__free(&snap);
	return err;
}

void mt_session__set_oom_hook(struct memtrace *mt, mt_oom_fn fn, void *ctx)
{
	mt->oom_hook = fn;
	mt->oom_ctx = ctx;
}

bool mt_session__announces_oom(const struct memtrace *mt)
{
	return mt_loader__announces_oom(mt->loader);
}

/* The process of thread tid (/proc/TID/status, Tgid:), or tid itself when it cannot be read. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = 0;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : tid;
}

void mt_session__oom(struct memtrace *mt, pid_t tid)
{
	pid_t pid = mt_targets__find(&mt->targets, tid, 0) ? tid : tgid_of(tid);
	struct target *t = mt_targets__find(&mt->targets, pid, 0);

	if (!t || t->done) {
		pr_debug("pid %d: chosen by the OOM killer (not traced)", tid);
		return;
	}
	if (mt->oom_hook) {
		mt->oom_hook(mt->oom_ctx, pid);
		return;
	}
	pr_warn("pid %d (%s): chosen by the OOM killer: its final report now", pid, t->comm);
	mt_target__final_report(mt, t, false);
}
