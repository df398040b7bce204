// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's targets: one program, several behaviours.
 *   daemon_leak idle              allocate nothing, sleep
 *   daemon_leak leak MIB MS [MORE] after 0.5 s, leak 1 MiB (touched) every MS ms, MIB MiB in all, then
 *                                 idle; each SIGUSR1 then leaks MORE MiB (default 1) at once
 *   daemon_leak oom MS            leak 1 MiB every MS ms until the kernel kills it
 * Each leak is one malloc of 1 MiB at one line.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void *leak_one(void)
{
	void *p = malloc(1 << 20); /* @leak bytes=1048576 */

	asm volatile("" ::: "memory");
	if (p)
		memset(p, 1, 1 << 20); /* resident: RSS grows */
	return p;
}

static volatile sig_atomic_t more_asked;

static void on_usr1(int sig)
{
	more_asked++;
}

int main(int argc, char **argv)
{
	long mib = argc > 2 ? atol(argv[2]) : 0;
	long ms = argc > 3 ? atol(argv[3]) : 100;
	long more = argc > 4 ? atol(argv[4]) : 1;
	sig_atomic_t done = 0;

	signal(SIGUSR1, on_usr1);

	if (argc > 1 && !strcmp(argv[1], "oom")) {
		ms = argc > 2 ? atol(argv[2]) : 20;
		for (;;) {
			leak_one();
			nap(ms);
		}
	}
	if (argc > 1 && !strcmp(argv[1], "leak")) {
		nap(500); /* a watcher's first sample: the size it starts at */
		for (long i = 0; i < mib; i++) {
			leak_one();
			nap(ms);
		}
	}
	for (;;) {
		while (done == more_asked)
			nap(10);
		done++;
		for (long i = 0; i < more; i++)
			leak_one();
	}
	return 0;
}
