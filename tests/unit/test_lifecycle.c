// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The lifecycle decisions and the target table, fed made-up events: what a
 * fork, exec or exit means for the session, with pid reuse and start times
 * that do not match.
 */
#include <unistd.h>
#include "test.h"
#include "proc/procinfo.h"
#include "session/lifecycle.h"
#include "session/targets.h"

/* start times: BPF gives ns, targets hold clock ticks */
static __u64 ns_of_ticks(__u64 ticks)
{
	return ticks * (1000000000ULL / (__u64)sysconf(_SC_CLK_TCK));
}

static struct mt_proc_event ev(__u32 type, __u32 pid, __u64 start_ticks)
{
	struct mt_proc_event e = {.type = type, .pid = pid, .start_ns = ns_of_ticks(start_ticks)};

	return e;
}

MT_TEST(proc_ticks_of_ns)
{
	/* as /proc/PID/stat: whole ticks, rounded down */
	ASSERT_EQ(mt_proc__ticks_of_ns(ns_of_ticks(123456)), 123456, "exact");
	ASSERT_EQ(mt_proc__ticks_of_ns(ns_of_ticks(7) + ns_of_ticks(1) - 1), 7, "rounded down");
}

MT_TEST(targets_table)
{
	struct mt_targets tt = {};
	struct target *a, *b, *c;

	a = mt_targets__add(&tt, 100, 5);
	b = mt_targets__add(&tt, 200, 6);
	if (!ASSERT_TRUE(a && b, "add"))
		return;
	/* pointers stay valid however many are added */
	for (int i = 0; i < 100; i++)
		ASSERT_TRUE(mt_targets__add(&tt, 1000 + i, 1) != NULL, "add many");
	ASSERT_EQ(a->pid, 100, "first still valid");
	ASSERT_TRUE(mt_targets__find(&tt, 100, 5) == a, "find by pid and start");
	ASSERT_TRUE(mt_targets__find(&tt, 100, 0) == a, "find by pid");
	ASSERT_TRUE(mt_targets__find(&tt, 100, 9) == NULL, "another start: another process");
	mt_targets__remove(&tt, a);
	ASSERT_TRUE(mt_targets__find(&tt, 100, 0) == NULL, "removed");
	/* a reused pid is a new target */
	c = mt_targets__add(&tt, 100, 50);
	ASSERT_TRUE(mt_targets__find(&tt, 100, 50) == c, "reused pid");
	ASSERT_TRUE(mt_targets__find(&tt, 200, 6) == b, "others stay");
	ASSERT_EQ(tt.nr, 102, "count");
	ASSERT_EQ(tt.v[0]->pid, 200, "order kept");
	mt_targets__free(&tt);
	ASSERT_EQ(tt.nr, 0, "freed");
}

MT_TEST(lifecycle_fork)
{
	struct mt_targets tt = {};
	struct mt_lc_policy follow = {.follow_forks = true}, nofollow = {}, all = {.all = true};
	struct target *parent = mt_targets__add(&tt, 10, 100), *t;
	struct mt_proc_event e = ev(MT_PROC_FORK, 11, 200);

	e.ppid = 10;
	e.ppid_start_ns = ns_of_ticks(100);
	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &follow, &e, &t), MT_LC_ADOPT, "followed");
	ASSERT_TRUE(t == parent, "with its parent");
	e.ppid_start_ns = ns_of_ticks(99);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &follow, &e, &t), MT_LC_ADOPT, "parent unknown");
	ASSERT_TRUE(t == NULL, "no parent to inherit from");
	ASSERT_EQ(mt_lifecycle__decide(&tt, &nofollow, &e, &t), MT_LC_RESUME,
		  "not following: only resumed");
	e.stopped = 0;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &all, &e, &t), MT_LC_IGNORE, "-a: host links");
	mt_targets__free(&tt);
}

MT_TEST(lifecycle_exec)
{
	struct mt_targets tt = {};
	struct mt_lc_policy p = {.follow_forks = true};
	struct target *a = mt_targets__add(&tt, 10, 100), *cmd = mt_targets__add(&tt, 20, 100), *t;
	struct mt_proc_event e = ev(MT_PROC_EXEC, 10, 100);

	cmd->command = true;
	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_REPLAN, "new image");
	ASSERT_TRUE(t == a, "of a");
	e.pid = 20;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_REPLAN, "the command: the same");
	ASSERT_TRUE(t == cmd, "of the command");
	e = ev(MT_PROC_EXEC, 30, 100);
	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RESUME, "unknown: resumed");
	e.stopped = 0;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_IGNORE, "unknown, running");
	mt_targets__free(&tt);
}

MT_TEST(lifecycle_mapped)
{
	struct mt_targets tt = {};
	struct mt_lc_policy p = {.follow_forks = true};
	struct target *a = mt_targets__add(&tt, 10, 100), *t;
	struct mt_proc_event e = ev(MT_PROC_MAPPED, 10, 100);

	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_MAPPED, "look at its maps");
	ASSERT_TRUE(t == a, "of a");
	e = ev(MT_PROC_MAPPED, 10, 200);
	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RESUME, "another process");
	ASSERT_TRUE(t == NULL, "no target");
	ASSERT_STREQ(mt_lc_action__name(MT_LC_MAPPED), "mapped", "name");
	e = ev(MT_PROC_EXITING, 10, 100);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_REFRESH, "exit(): mappings");
	e = ev(MT_PROC_UNMAPPING, 10, 100);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_SYMBOLIZE, "dlclose(): sites");
	ASSERT_TRUE(t == a, "of a");
	mt_targets__free(&tt);
}

MT_TEST(lifecycle_exit_and_pid_reuse)
{
	struct mt_targets tt = {};
	struct mt_lc_policy p = {.follow_forks = true}, all = {.all = true};
	struct target *old = mt_targets__add(&tt, 10, 100), *t, *reuse;
	struct mt_proc_event e = ev(MT_PROC_EXIT, 10, 100);

	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RETIRE, "exit");
	ASSERT_TRUE(t == old, "of the target");
	mt_targets__remove(&tt, old);
	/* the pid comes back as another process: a new target */
	reuse = mt_targets__add(&tt, 10, 300);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_IGNORE, "the old exit again");
	e = ev(MT_PROC_EXIT, 10, 300);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RETIRE, "the new one's exit");
	ASSERT_TRUE(t == reuse, "the new target");
	e = ev(MT_PROC_EXIT, 77, 1);
	ASSERT_EQ(mt_lifecycle__decide(&tt, &all, &e, &t), MT_LC_FORGET, "-a: not a target");
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_IGNORE, "not -a: nothing");
	ASSERT_STREQ(mt_lc_action__name(MT_LC_RETIRE), "retire", "name");
	ASSERT_STREQ(mt_lc_action__name((enum mt_lc_action)99), "?", "out of range");
	mt_targets__free(&tt);
}

MT_TEST(lifecycle_finalize)
{
	struct mt_targets tt = {};
	struct mt_lc_policy p = {.follow_forks = true};
	struct target *py = mt_targets__add(&tt, 10, 100), *t;
	struct mt_proc_event e = ev(MT_PROC_FINALIZE, 10, 100);

	e.stopped = 1;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_FINAL, "final report");
	ASSERT_TRUE(t == py, "of the target");
	py->done = true;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RESUME, "reported already");
	e.pid = 11;
	ASSERT_EQ(mt_lifecycle__decide(&tt, &p, &e, &t), MT_LC_RESUME, "not a target");
	mt_targets__free(&tt);
}
