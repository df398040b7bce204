// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * livemany SITES PER_SITE HOLD_SECONDS: holds SITES * PER_SITE live heap
 * blocks made from SITES distinct allocation sites (distinct (call site,
 * stack) pairs), for the loader-cost benchmark in tests/bench/run.py.
 *
 * Protocol (one JSON line each on stdout):
 *   {"state":"waiting","pid":PID}   then reads one line from stdin ("go"),
 *                                   so a tracer can attach first;
 *   {"state":"holding",...}          all blocks allocated; sleeps
 *                                   HOLD_SECONDS, then exits without freeing.
 *
 * Site i (0 <= i < SITES <= 1000 * 2^LEVELS):
 *   main -> top()  : one of 1000 distinct call instructions (i % 1000)
 *        -> walk() : LEVELS recursive calls, each from one of two distinct
 *                    call instructions (the bits of i / 1000)
 *        -> leaf() : one of 1000 distinct malloc calls (i % 1000).
 * So the immediate caller takes 1000 values (1000 source lines) and the
 * frame-pointer stack above it is different for every i. Every site has
 * the same depth. Sizes are 16..256 bytes (16 + 16 * (i % 16)).
 *
 * Built with -O2 -fno-omit-frame-pointer -fno-builtin-malloc; the asm
 * statements after each call (distinct per case) keep gcc from merging the
 * call instructions or turning the calls into tail calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NCALL 1000
#define LEVELS 10 /* up to 1000 * 1024 sites */

#define L1(m, a, b)                                                                              \
	m(a, b, 0) m(a, b, 1) m(a, b, 2) m(a, b, 3) m(a, b, 4) m(a, b, 5) m(a, b, 6) m(a, b, 7) \
		m(a, b, 8) m(a, b, 9)
#define L2(m, a)                                                                                 \
	L1(m, a, 0) L1(m, a, 1) L1(m, a, 2) L1(m, a, 3) L1(m, a, 4) L1(m, a, 5) L1(m, a, 6)     \
		L1(m, a, 7) L1(m, a, 8) L1(m, a, 9)
#define L3(m)                                                                                    \
	L2(m, 0) L2(m, 1) L2(m, 2) L2(m, 3) L2(m, 4) L2(m, 5) L2(m, 6) L2(m, 7) L2(m, 8) L2(m, 9)

#define CASE_LEAF(a, b, c)                                                                       \
	case a * 100 + b * 10 + c:                                                               \
		p = malloc(n);                                                                   \
		asm volatile("# leaf %0" ::"i"(a * 100 + b * 10 + c), "r"(p) : "memory");       \
		break;

#define CASE_TOP(a, b, c)                                                                        \
	case a * 100 + b * 10 + c:                                                               \
		p = walk(LEVELS, i / NCALL, i, n);                                               \
		asm volatile("# top %0" ::"i"(a * 100 + b * 10 + c), "r"(p) : "memory");        \
		break;

static __attribute__((noinline)) void *leaf(unsigned i, size_t n)
{
	void *p = NULL;

	switch (i % NCALL) {
		L3(CASE_LEAF)
	}
	return p;
}

static __attribute__((noinline)) void *walk(int lvl, unsigned bits, unsigned i, size_t n)
{
	void *p;

	if (!lvl) {
		p = leaf(i, n);
		asm volatile("# walk leaf" ::"r"(p) : "memory");
	} else if (bits & 1) {
		p = walk(lvl - 1, bits >> 1, i, n);
		asm volatile("# walk one" ::"r"(p) : "memory");
	} else {
		p = walk(lvl - 1, bits >> 1, i, n);
		asm volatile("# walk zero" ::"r"(p) : "memory");
	}
	return p;
}

static __attribute__((noinline)) void *top(unsigned i, size_t n)
{
	void *p = NULL;

	switch (i % NCALL) {
		L3(CASE_TOP)
	}
	return p;
}

static long parse(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "livemany: invalid %s '%s' (%ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long sites, per_site, hold, n;
	char line[64];
	void **ptrs;
	double t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: livemany SITES PER_SITE HOLD_SECONDS\n");
		return 2;
	}
	sites = parse(argv[1], 1, (long)NCALL << LEVELS, "SITES");
	per_site = parse(argv[2], 1, 1000, "PER_SITE");
	hold = parse(argv[3], 0, 86400, "HOLD_SECONDS");
	n = sites * per_site;
	ptrs = calloc(n, sizeof(*ptrs));
	if (!ptrs) {
		fprintf(stderr, "livemany: out of memory\n");
		return 1;
	}
	printf("{\"state\":\"waiting\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	t0 = now();
	for (long r = 0; r < per_site; r++)
		for (long i = 0; i < sites; i++) {
			void *p = top((unsigned)i, 16 + 16 * (i % 16));

			if (!p) {
				fprintf(stderr, "livemany: malloc failed\n");
				return 1;
			}
			ptrs[r * sites + i] = p;
		}
	t1 = now();
	printf("{\"state\":\"holding\",\"pid\":%d,\"sites\":%ld,\"live\":%ld,"
	       "\"alloc_seconds\":%.3f,\"hold\":%ld}\n",
	       (int)getpid(), sites, n, t1 - t0, hold);
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
}
