// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * leak_jeapi: leaks through jemalloc's extended API (linked with
 * -ljemalloc): mallocx, rallocx (moves the block: its bytes at the rallocx
 * line), xallocx (resizes in place: grown, the block is at the xallocx
 * line with the size asked for; refused, it stays where it was), dallocx
 * and sdallocx (freed: nothing). Markers as in leak_apis.c; the e2e
 * runner tests/e2e/alloc.py checks them.
 *	leak_jeapi		do the work, print "leak_jeapi done"
 *	leak_jeapi --wait	print "ready <pid>", wait for SIGUSR1, work,
 *				print "done", wait for SIGUSR2
 */
#include <stdlib.h>
#include <jemalloc/jemalloc.h>
#include "waiting.h"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;
static volatile size_t got;

NOINLINE static void work(void)
{
	void *p, *q, *r;

	sink = mallocx(100, 0); /* @leak bytes=100 count=1 */
	p = mallocx(200, 0);
	sink = rallocx(p, 3000, 0); /* @leak bytes=3000 count=1 */
	q = mallocx(100, 0);	    /* size class 112: grows in place */
	got = xallocx(q, 112, 0, 0); /* @leak bytes=112 count=1 */
	sink = q;
	r = mallocx(64, 0); /* @leak bytes=64 count=1 */
	got = xallocx(r, 1 << 20, 0, 0); /* refused: a small block does not become 1 MiB */
	sink = r;
	dallocx(mallocx(50, 0), 0);
	sdallocx(mallocx(60, 0), 60, 0);
	asm volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	int wait = waiting_start(argc, argv);

	work();
	sink = NULL;
	waiting_end(wait, "leak_jeapi done\n");
	return 0;
}
