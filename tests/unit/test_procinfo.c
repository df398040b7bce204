// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <sys/prctl.h>
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
