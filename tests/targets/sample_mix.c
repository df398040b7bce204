// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sample_mix: one thread leaks a fixed, deterministic mix of allocation
 * sizes at distinct lines, for the sampling tests in tests/e2e/run.py
 * (which reads the markers below, same grammar as leak_apis.c:
 * `@leak bytes=B count=C` = what is still live at that line at the end).
 *
 * The calls are interleaved in one loop, so the per-thread countdown to the
 * next sample carries over from one size to another as in a real program.
 * With R = 512 KiB (R ln 100 = 2414434 bytes):
 *	tiny	64 B, the most frequent call (p = 1.2e-4 per call)
 *	medium	4000 B (p = 0.0076)
 *	large	300000 B, served by mmap inside glibc (p = 0.44)
 *	huge	3 MiB > R ln 100: recorded exactly, never sampled
 *	churn	1000 B blocks kept in a small ring and all freed: nothing left
 * Every sampled site holds > 30 MiB so that the mean of 20 sampled runs is
 * within a few percent of the truth (see run.py, sampling-unbiased).
 *
 * Output goes through write(2) only (no stdio buffer allocated behind the
 * test's back). Prints "sample_mix done" and exits 0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
/* the compiler must assume p escapes and memory changed: no call is elided */
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

#define ITERS 524288 /* one tiny allocation per iteration */
#define MEDIUM_EVERY 64 /* 8192 medium */
#define LARGE_EVERY 4096 /* 128 large */
#define HUGE_EVERY 131072 /* 4 huge */
#define CHURN_EVERY 16 /* 32768 churned blocks */
#define RING 64

static void *volatile ring[RING];

static noinline void tiny(void)
{
	void *volatile p = malloc(64); /* @leak bytes=33554432 count=524288 */

	KEEP(p);
}

static noinline void medium(void)
{
	void *volatile p = malloc(4000); /* @leak bytes=32768000 count=8192 */

	KEEP(p);
}

static noinline void large(void)
{
	void *volatile p = malloc(300000); /* @leak bytes=38400000 count=128 */

	KEEP(p);
}

static noinline void huge(void)
{
	void *volatile p = malloc(3 * 1024 * 1024); /* @leak bytes=12582912 count=4 */

	KEEP(p);
}

/* a block that lives for RING churn calls, then is freed */
static noinline void churn(unsigned int n)
{
	void *volatile p;

	free(ring[n % RING]);
	p = malloc(1000); /* @leak bytes=0 */
	memset(p, 0x5a, 1000);
	ring[n % RING] = p;
}

static noinline void churn_end(void)
{
	for (int i = 0; i < RING; i++) {
		free(ring[i]);
		ring[i] = NULL;
	}
}

int main(void)
{
	static const char msg[] = "sample_mix done\n";
	unsigned int churned = 0;

	for (unsigned int i = 0; i < ITERS; i++) {
		tiny();
		if (i % MEDIUM_EVERY == 0)
			medium();
		if (i % LARGE_EVERY == LARGE_EVERY / 2)
			large();
		if (i % HUGE_EVERY == HUGE_EVERY / 3)
			huge();
		if (i % CHURN_EVERY == 1)
			churn(churned++);
	}
	churn_end();
	if (write(1, msg, sizeof(msg) - 1) < 0)
		return 1;
	return 0;
}
