// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * leak_jex: jemalloc's extended API (linked with -ljemalloc): mallocx,
 * rallocx, xallocx (in place: grown within its size class, and refused),
 * sdallocx and dallocx. Markers as in leak_apis.c, checked by
 * tests/e2e/alloc.py: a block xallocx() resized is the xallocx line's, at
 * the size asked for; one it could not resize stays where it was made.
 *	leak_jex		do the work, print "leak_jex done"
 *	leak_jex --wait		print "ready <pid>", wait for SIGUSR1, work,
 *				print "done", wait for SIGUSR2
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <jemalloc/jemalloc.h>
#include "waiting.h"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

NOINLINE static void work(void)
{
	void *p;

	sink = mallocx(100, 0); /* @leak bytes=100 count=1 */
	p = mallocx(64, 0);
	sink = rallocx(p, 200, 0); /* @leak bytes=200 count=1 */
	/* 4000 bytes sit in jemalloc's 4096-byte class: grown in place */
	p = mallocx(4000, 0);
	if (xallocx(p, 4096, 0, 0) < 4096) /* @leak bytes=4096 count=1 */
		abort();
	sink = p;
	/* a small block cannot grow to 1 MiB in place: it stays 48 bytes here */
	p = mallocx(48, 0); /* @leak bytes=48 count=1 */
	if (xallocx(p, 1 << 20, 0, 0) >= (1 << 20))
		abort();
	sink = p;
	p = mallocx(32, 0);
	sdallocx(p, 32, 0);
	p = mallocx(16, 0);
	dallocx(p, 0);
	asm volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	int wait = waiting_start(argc, argv);

	work();
	waiting_end(wait, "leak_jex done\n");
	return 0;
}
