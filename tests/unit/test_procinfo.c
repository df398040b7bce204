// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "test.h"
#include "proc/procinfo.h"

MT_TEST(procinfo_start_time)
{
	__u64 t0 = 0;

	if (!ASSERT_EQ(mt_proc__start_time(getpid(), &t0), 0, "own start time"))
		return;
	ASSERT_TRUE(t0 > 0, "after boot");
	ASSERT_TRUE(mt_proc__alive(getpid(), t0), "alive with its start time");
	ASSERT_FALSE(mt_proc__alive(getpid(), t0 + 1), "another start time: another process");
	ASSERT_EQ(mt_proc__start_time(0x7ffffff0, &t0), -ESRCH, "no such process");
}

MT_TEST(procinfo_comm_printable)
{
	char old[16] = "", comm[16];

	prctl(PR_GET_NAME, old);
	/* a process names itself: escapes must not reach a terminal */
	prctl(PR_SET_NAME, "\033[31mred\tx");
	mt_proc__comm(getpid(), comm);
	ASSERT_STREQ(comm, "?[31mred?x", "non-printable bytes replaced");
	prctl(PR_SET_NAME, old);
	mt_proc__comm(0x7ffffff0, comm);
	ASSERT_STREQ(comm, "?", "no such process");
}

MT_TEST(procinfo_status_mem)
{
	static const char status[] = "Name:\tapp\n"
				     "VmPeak:\t   99999 kB\n"
				     "VmRSS:\t    2048 kB\n"
				     "RssAnon:\t     512 kB\n"
				     "RssFile:\t    1536 kB\n"
				     "VmSwap:\t       4 kB\n"
				     "Threads:\t1\n";
	static const char old[] = "VmRSS:\t 100 kB\nVmSwap:\t0 kB"; /* no RssAnon, no final \n */
	static const char bad[] = "VmRSS:\t 12x kB\nRssAnon: kB\nVmSwap:\t99999999999999999 kB\n";
	struct mt_proc_mem m;

	ASSERT_OK(mt_proc__parse_status_mem(status, sizeof(status) - 1, &m), "status");
	ASSERT_EQ(m.rss, 2048 * 1024, "rss");
	ASSERT_EQ(m.rss_anon, 512 * 1024, "anon");
	ASSERT_EQ(m.swap, 4096, "swap");
	ASSERT_OK(mt_proc__parse_status_mem(old, sizeof(old) - 1, &m), "old kernel");
	ASSERT_EQ(m.rss, 100 * 1024, "rss");
	ASSERT_EQ(m.rss_anon, -1, "no anon");
	ASSERT_EQ(m.swap, 0, "swap at the end");
	ASSERT_EQ(mt_proc__parse_status_mem(bad, sizeof(bad) - 1, &m), -ENOENT, "garbage");
	ASSERT_EQ(m.rss_anon, -1, "no number");
	ASSERT_EQ(m.swap, -1, "too large");
	ASSERT_EQ(mt_proc__parse_status_mem("Name:\tkthreadd\n", 15, &m), -ENOENT, "no VmRSS");
	/* the length bounds the read: the cut line is "VmRSS:\t 1" without " kB" */
	ASSERT_EQ(mt_proc__parse_status_mem(old, 9, &m), -ENOENT, "cut");

	ASSERT_OK(mt_proc__mem(getpid(), &m), "own status");
	ASSERT_TRUE(m.rss > 0 && m.rss_anon > 0 && m.rss_anon <= m.rss, "plausible");
	ASSERT_TRUE(m.swap >= 0, "swap known");
	ASSERT_EQ(mt_proc__mem(0x7ffffff0, &m), -ESRCH, "no such process");
}

MT_TEST(procinfo_exited)
{
	pid_t child;
	int st;

	ASSERT_FALSE(mt_proc__exited(getpid()), "we run");
	child = fork();
	if (child == 0)
		_exit(0);
	if (!ASSERT_TRUE(child > 0, "fork"))
		return;
	/* a zombie until reaped: exited all the same */
	for (int i = 0; i < 200 && !mt_proc__exited(child); i++)
		usleep(5000);
	ASSERT_TRUE(mt_proc__exited(child), "a zombie has exited");
	ASSERT_EQ(waitpid(child, &st, 0), child, "reaped");
	ASSERT_TRUE(mt_proc__exited(child), "a reaped process has exited");
}
