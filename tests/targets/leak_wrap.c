// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * leak_wrap: leaks through the program's own allocation wrappers, two
 * levels deep (xmalloc -> xmalloc_raw -> malloc, xcalloc -> xmalloc_raw,
 * xstrdup -> xmalloc -> ...), each six calls below main. With
 * `--alloc-fn 'xmalloc*' --alloc-fn xcalloc --alloc-fn xstrdup` every
 * leak is the line that called a wrapper (markers as in leak_apis.c; the
 * e2e runner tests/e2e/alloc.py checks them, and valgrind too). Without
 * it, every leak is xmalloc_raw's malloc line.
 *	leak_wrap		do the work, print "leak_wrap done"
 *	leak_wrap --wait	print "ready <pid>", wait for SIGUSR1, work,
 *				print "done", wait for SIGUSR2
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "waiting.h"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

NOINLINE static void *xmalloc_raw(size_t n)
{
	void *p = malloc(n);

	asm volatile("" ::: "memory");
	if (!p)
		abort();
	return p;
}

NOINLINE static void *xmalloc(size_t n)
{
	void *p = xmalloc_raw(n);

	asm volatile("" ::: "memory");
	return p;
}

NOINLINE static void *xcalloc(size_t n, size_t size)
{
	void *p = xmalloc_raw(n * size);

	memset(p, 0, n * size);
	return p;
}

NOINLINE static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

NOINLINE static void level3(int i)
{
	sink = xmalloc(100 + i); /* @leak bytes=100 count=1 */
	sink = xcalloc(4, 8); /* @leak bytes=32 count=1 */
	sink = xstrdup("twelve bytes"); /* @leak bytes=13 count=1 */
	free(xmalloc(77));
	asm volatile("" ::: "memory");
}

NOINLINE static void level2(void)
{
	level3(0);
	for (int i = 0; i < 5; i++)
		sink = xmalloc(64); /* @leak bytes=320 count=5 */
	asm volatile("" ::: "memory");
}

/* Overwrite the stack below: no stale copy of a leaked pointer keeps it "still reachable". */
NOINLINE static void clobber(void)
{
	volatile char junk[1024];

	memset((char *)junk, 0, sizeof(junk));
}

NOINLINE static void level1(void)
{
	level2();
	sink = NULL; /* the last block is lost too (valgrind: not "still reachable") */
	clobber();
	asm volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	int wait = waiting_start(argc, argv);

	level1();
	waiting_end(wait, "leak_wrap done\n");
	return 0;
}
