// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * unwind_deep: leaks on paths that only a CFI unwinder walks, built
 * -O2 -fomit-frame-pointer (unwind_deep) and again with frame pointers
 * (unwind_deep_fp). tests/e2e/unwind.py compares each stack memtrace
 * reports (--group-by stack) with gdb's backtrace at the same malloc, by
 * return address, and the two builds with each other, by line.
 *
 * Each path leaks blocks of its own size (1001..1006 bytes), so a stack
 * is told by its bytes; every leak goes through two wrappers (xmalloc <-
 * new_block), as a program's own allocation functions do:
 *	wrappers	five calls deep, then the wrappers, a loop of 3
 *	qsort		from the comparison function libc's qsort calls
 *	recursion	from the bottom of a 7-deep recursion
 *	signal		from a signal handler (raise: the stack crosses the
 *			kernel's signal frame, __restore_rt)
 *	vla		below a function with a variable-length array (its
 *			CFA is %rbp-based even without frame pointers)
 *	twice		a second call site of the same wrappers
 * Markers count one round. `unwind_deep N` does the rounds N times,
 * 200 ms apart (so the later rounds find the rules the first one taught
 * BPF). Output through write(2); exits 0 after "unwind_deep done".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
/* the compiler must assume p escapes and memory changed: no call is elided */
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

noinline static void *xmalloc(size_t n)
{
	void *p = malloc(n); /* @leak bytes=8023 count=8 */

	if (!p)
		abort();
	KEEP(p);
	return p;
}

/* a second wrapper: the leak's site is two frames above malloc */
noinline static void *new_block(size_t n)
{
	void *p = xmalloc(n);

	memset(p, 0, 8);
	KEEP(p);
	return p;
}

noinline static int level5(int k)
{
	for (int i = 0; i < 3; i++)
		KEEP(new_block(1001));
	return k + 1;
}

noinline static int level4(int k)
{
	int r = level5(k + 1);

	KEEP(&r);
	return r * 2;
}

noinline static int level3(int k)
{
	int r = level4(k + 1);

	KEEP(&r);
	return r - 1;
}

noinline static int level2(int k)
{
	int r = level3(k + 1);

	KEEP(&r);
	return r + 3;
}

noinline static int level1(int k)
{
	int r = level2(k + 1);

	KEEP(&r);
	return r;
}

static int compared;

noinline static int cmp_leak(const void *a, const void *b)
{
	if (!compared++)
		KEEP(new_block(1002));
	return *(const int *)a - *(const int *)b;
}

noinline static void sort_leak(void)
{
	int v[8] = {5, 3, 7, 1, 8, 2, 6, 4};

	qsort(v, 8, sizeof(v[0]), cmp_leak);
	KEEP(v);
}

noinline static int recurse(int depth)
{
	int r;

	if (depth > 0)
		r = recurse(depth - 1);
	else
		r = (int)(long)new_block(1003);
	KEEP(&r);
	return r + depth;
}

static void on_signal(int sig)
{
	KEEP(new_block(1004));
	(void)sig;
}

noinline static void signal_leak(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
}

noinline static int vla_leak(int n)
{
	char buf[n];

	memset(buf, n, (size_t)n);
	KEEP(buf);
	KEEP(new_block(1005));
	return buf[n / 2];
}

noinline static void twice(void)
{
	KEEP(new_block(1006));
}

int main(int argc, char **argv)
{
	static const char done[] = "unwind_deep done\n";
	int rounds = argc > 1 ? atoi(argv[1]) : 1;

	for (int i = 0; i < rounds; i++) {
		if (i)
			usleep(200 * 1000);
		compared = 0;
		KEEP((void *)(long)level1(0));
		sort_leak();
		KEEP((void *)(long)recurse(6));
		signal_leak();
		KEEP((void *)(long)vla_leak(100));
		twice();
	}
	if (write(1, done, sizeof(done) - 1) < 0)
		return 1;
	return 0;
}
