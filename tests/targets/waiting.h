/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The --wait protocol of the small test targets (C and C++): "ready PID",
 * work after SIGUSR1, "done", exit after SIGUSR2. Output by write(2): no
 * stdio buffer is allocated behind the test's back.
 */
#ifndef MT_TARGET_WAITING_H
#define MT_TARGET_WAITING_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t waiting_go, waiting_bye;

static void waiting_say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

static void waiting_on_usr1(int sig)
{
	(void)sig;
	waiting_go = 1;
}

static void waiting_on_usr2(int sig)
{
	(void)sig;
	waiting_bye = 1;
}

/* With --wait: say ready and wait for SIGUSR1. Returns whether --wait was given. */
static int waiting_start(int argc, char **argv)
{
	int wait = argc > 1 && !strcmp(argv[1], "--wait");
	char buf[64];

	if (!wait)
		return 0;
	signal(SIGUSR1, waiting_on_usr1);
	signal(SIGUSR2, waiting_on_usr2);
	snprintf(buf, sizeof(buf), "ready %d\n", (int)getpid());
	waiting_say(buf);
	while (!waiting_go)
		pause();
	return 1;
}

/* After the work: "NAME done", or with --wait "done" and wait for SIGUSR2. */
static void waiting_end(int wait, const char *done)
{
	waiting_say(wait ? "done\n" : done);
	while (wait && !waiting_bye)
		pause();
}

#endif
