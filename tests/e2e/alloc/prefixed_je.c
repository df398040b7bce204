// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A stand-in for a jemalloc built with --with-jemalloc-prefix=je_: the
 * same API under prefixed names, over malloc (tests/e2e/alloc.py).
 */
#include <stdlib.h>

static void *keep(void *p)
{
	asm volatile("" : "+r"(p)); /* a call, not a tail jump */
	return p;
}

void *je_malloc(size_t n)
{
	return keep(malloc(n));
}

void je_free(void *p)
{
	free(p);
	asm volatile("");
}

void *je_mallocx(size_t n, int flags)
{
	(void)flags;
	return keep(malloc(n));
}

void je_dallocx(void *p, int flags)
{
	(void)flags;
	free(p);
	asm volatile("");
}
