// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * growth: the target of tests/e2e/growth.py (--growth: resident growth by
 * line, from page faults, no allocator probe).
 *
 *	growth leak ROUNDS	each round: 1 MiB more kept at the marked line
 *				(malloc above the mmap threshold, written whole:
 *				257 pages), and 1000 mallocs of 32 KiB written
 *				and freed at the churn line (the same heap memory
 *				again and again: no growth after the first); a
 *				round every 200 ms
 *	growth cycle ROUNDS	memory given back and faulted in again, each
 *				round: an mmap of 4 MiB written and unmapped; a
 *				1 MiB malloc served by mmap, written and freed;
 *				a 4 MiB malloc from the brk heap, written and
 *				freed (the heap shrinks: brk); 1000 blocks of
 *				4 KiB written and freed, then malloc_trim(0)
 *				(madvise(MADV_DONTNEED) of the free heap); a
 *				round every 100 ms. Nothing is kept.
 *	growth wait		print "ready PID", wait for SIGUSR1, then "leak 40"
 *
 * The marker gives the bytes the leak line keeps after ROUNDS rounds per
 * round (page-rounded: 1 MiB + 16 bytes of malloc header = 257 pages).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")
#define MIB (1 << 20)

static noinline void leak(void)
{
	/* one line: the pages are written (grown) where they are allocated */
	char *p = memset(malloc(MIB), 1, MIB); /* @growth bytes_per_round=1052672 */

	KEEP(p);
}

static noinline void churn(void)
{
	char *p = memset(malloc(32768), 2, 32768); /* @churn */

	KEEP(p);
	free(p);
}

static noinline void cycle(void)
{
	char *p, *blocks[1000];

	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(3);
	memset(p, 3, 4 * MIB);
	munmap(p, 4 * MIB);

	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	p = malloc(MIB);
	memset(p, 4, MIB);
	KEEP(p);
	free(p);

	mallopt(M_MMAP_THRESHOLD, 64 * MIB);
	p = malloc(4 * MIB);
	memset(p, 5, 4 * MIB);
	KEEP(p);
	free(p); /* the top chunk is over M_TRIM_THRESHOLD: brk shrinks */

	for (int i = 0; i < 1000; i++) {
		blocks[i] = malloc(4096);
		memset(blocks[i], 6, 4096);
	}
	for (int i = 999; i >= 0; i -= 2)
		free(blocks[i]);
	for (int i = 998; i >= 0; i -= 2)
		free(blocks[i]);
	malloc_trim(0);
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 10;
	char line[64];

	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	if (argc > 1 && !strcmp(argv[1], "wait")) {
		signal(SIGUSR1, on_usr1);
		snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
		if (write(1, line, strlen(line)) < 0)
			return 2;
		while (!go)
			pause();
		argv[1] = "leak";
		rounds = 40;
	}
	if (argc > 1 && !strcmp(argv[1], "cycle")) {
		for (int r = 0; r < rounds; r++) {
			cycle();
			usleep(100000);
		}
		return 0;
	}
	for (int r = 0; r < rounds; r++) {
		leak();
		for (int i = 0; i < 1000; i++)
			churn();
		usleep(200000);
	}
	return 0;
}
