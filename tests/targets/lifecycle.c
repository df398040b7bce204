// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lifecycle: processes that fork and exec, for tests/e2e/lifecycle.py.
 *
 *	lifecycle fork		print "ready <pid>", wait for "go" on stdin;
 *				leak (parent), fork two children that leak at
 *				once and exit, wait for them, print
 *				"children <pid1> <pid2>", wait for "end" (or
 *				EOF), exit 0
 *	lifecycle prefork	fork two children first (a prefork server's
 *				workers), print "ready <pid>", wait for "go",
 *				then as fork, but the children leak only when
 *				told to (SIGUSR1)
 *	lifecycle exec PATH	print "ready <pid>", wait for "go"; leak, then
 *				execute PATH (its leaks are the ones that stay)
 *	lifecycle leak-a	print "ready <pid>", wait for "go"; leak (a),
 *	lifecycle leak-b	or (b); print "done", wait for "end"; exit 0
 *
 * Markers (the grammar of leak_apis.c, plus proc=) give what is live at
 * each line when the process is done: proc= names the process that made
 * it (parent, child1, child2, pre-exec: gone with the exec, a, b).
 * A child allocates right after fork returns: a follower that attaches
 * late misses it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

static noinline void leak_parent(void)
{
	for (int i = 0; i < 4; i++) {
		void *volatile p = malloc(1000); /* @leak bytes=4000 count=4 proc=parent */

		KEEP(p);
	}
}

static noinline void leak_child1(void)
{
	for (int i = 0; i < 3; i++) {
		void *volatile p = malloc(2000); /* @leak bytes=6000 count=3 proc=child1 */

		KEEP(p);
	}
}

static noinline void leak_child2(void)
{
	for (int i = 0; i < 5; i++) {
		void *volatile p = calloc(1, 3000); /* @leak bytes=15000 count=5 proc=child2 */

		KEEP(p);
	}
}

static noinline void leak_pre_exec(void)
{
	for (int i = 0; i < 7; i++) {
		void *volatile p = malloc(700); /* @leak bytes=4900 count=7 proc=pre-exec */

		KEEP(p);
	}
}

static noinline void leak_a(void)
{
	for (int i = 0; i < 9; i++) {
		void *volatile p = malloc(9000); /* @leak bytes=81000 count=9 proc=a */

		KEEP(p);
	}
}

static noinline void leak_b(void)
{
	for (int i = 0; i < 11; i++) {
		void *volatile p = malloc(1100); /* @leak bytes=12100 count=11 proc=b */

		KEEP(p);
	}
}

/* Wait for a line starting with word on stdin; 0 on it, -1 on EOF. */
static int wait_word(const char *word)
{
	char line[64];

	while (fgets(line, sizeof(line), stdin))
		if (!strncmp(line, word, strlen(word)))
			return 0;
	return -1;
}

/* A child that leaks at once, or (wait) once it gets SIGUSR1. */
static pid_t fork_child(void (*leak)(void), bool wait)
{
	pid_t pid;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid = fork();
	if (pid == 0) {
		if (wait)
			sigwait(&set, &sig);
		leak();
		_exit(0);
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	bool prefork = !strcmp(mode, "prefork");
	pid_t c1 = 0, c2 = 0;
	int st;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "leak-a-now")) {
		/* at once: an exec'd image whose first allocations must be seen */
		leak_a();
		printf("done %d\n", (int)getpid());
		wait_word("end");
		return 0;
	}
	if (prefork) {
		c1 = fork_child(leak_child1, true);
		c2 = fork_child(leak_child2, true);
	}
	printf("ready %d\n", (int)getpid());
	if (wait_word("go"))
		return 2;
	if (!strcmp(mode, "fork") || prefork) {
		leak_parent();
		if (prefork) {
			kill(c1, SIGUSR1);
			kill(c2, SIGUSR1);
		} else {
			c1 = fork_child(leak_child1, false);
			c2 = fork_child(leak_child2, false);
		}
		if (c1 < 0 || c2 < 0)
			return 3;
		if (waitpid(c1, &st, 0) != c1 || st || waitpid(c2, &st, 0) != c2 || st)
			return 4;
		printf("children %d %d\n", (int)c1, (int)c2);
	} else if (!strcmp(mode, "exec") && argc > 2) {
		leak_pre_exec();
		execv(argv[2], argv + 2);
		return 5;
	} else if (!strcmp(mode, "leak-a")) {
		leak_a();
		printf("done\n");
	} else if (!strcmp(mode, "leak-b")) {
		leak_b();
		printf("done\n");
	} else {
		return 64;
	}
	wait_word("end");
	return 0;
}
