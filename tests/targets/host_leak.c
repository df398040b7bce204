// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_leak: a process for the whole-host (-a) tests in tests/e2e/run.py.
 *
 *	host_leak	print "ready <pid>", wait for SIGUSR1, leak 512 MiB in
 *			64 KiB blocks at the marked line, print "done", wait
 *			for SIGUSR2, exit 0
 *
 * EOF on a stdin pipe or terminal ends either wait (exit 2 before the work,
 * 0 after it), so a dead test runner does not leave us behind. The marker
 * (same grammar as leak_apis.c) gives what is live at that line after the
 * work. The blocks are below glibc's mmap threshold: they come from the brk
 * heap and are never written, so the 512 MiB cost little real memory.
 * Output goes through write(2) only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

#define BLOCK (64 * 1024)
#define NBLOCKS 8192

static noinline void leak(void)
{
	for (int i = 0; i < NBLOCKS; i++) {
		void *volatile p = malloc(BLOCK); /* @leak bytes=536870912 count=8192 */

		KEEP(p);
	}
}

static void say(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

/* the next of the blocked signals, or 0 on EOF of a stdin pipe/tty */
static int wait_signal(int sfd)
{
	struct stat st;
	int watch_stdin = fstat(0, &st) == 0 &&
			  (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0));

	for (;;) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
					 { .fd = 0, .events = POLLIN } };
		struct signalfd_siginfo si;
		char buf[256];

		if (poll(pfd, watch_stdin ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if ((pfd[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si))
			return si.ssi_signo;
		if (watch_stdin && pfd[1].revents && read(0, buf, sizeof(buf)) <= 0)
			return 0;
	}
}

int main(void)
{
	char line[64];
	sigset_t set;
	int sfd, n, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return 100;
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return 101;
	n = snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
	say(line, n);
	while ((sig = wait_signal(sfd)) != SIGUSR1)
		if (sig == 0)
			return 2;
	leak();
	say("done\n", 5);
	while ((sig = wait_signal(sfd)) != SIGUSR2)
		if (sig == 0)
			break;
	return 0;
}
