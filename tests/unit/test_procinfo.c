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
