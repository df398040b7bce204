// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * churn ITER THREADS SIZE [DEPTH [leak]]: each of THREADS threads (1 or 2) does
 * ITER iterations of malloc(SIZE) + free() and times its own loop with
 * CLOCK_THREAD_CPUTIME_ID, after a short untimed warm-up. With DEPTH, the
 * loop runs DEPTH calls deep (a chain of functions that are not inlined),
 * so every allocation's stack has about DEPTH + 4 frames (the stack
 * walk's cost; Makefile builds churn with frame pointers and churn-nofp
 * without). Prints one JSON
 * line: {"ns_per_pair":MEAN_OVER_THREADS,"threads":N,"iter":N,
 * "per_thread":[NS,...]}. Built with -fno-builtin-malloc -fno-builtin-free;
 * the asm barrier keeps the pair from being optimised away. With "leak",
 * the last iteration of each loop keeps its block: one row whose stack is
 * the churn's (the bench counts the frames each unwinder records).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARMUP 500

static long iter;
static size_t size;
static int depth;
static int leak;

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void churn(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(size);
		asm volatile("" ::"r"(p) : "memory");
		if (!leak || i + 1 < n)
			free(p);
	}
}

/* churn(n) d calls below this one; not a tail call, so every level keeps a frame */
__attribute__((noinline)) static long deep(long n, int d)
{
	long r;

	if (d > 0)
		r = deep(n, d - 1);
	else
		r = n, churn(n);
	asm volatile("" : "+r"(r)::"memory");
	return r + d;
}

static void *worker(void *arg)
{
	double *ns_per_pair = arg;
	double t0;

	deep(WARMUP, depth);
	t0 = thread_cpu_ns();
	deep(iter, depth);
	*ns_per_pair = (thread_cpu_ns() - t0) / iter;
	return NULL;
}

static long parse(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "churn: invalid %s '%s' (%ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	pthread_t tid[2];
	double ns[2], sum = 0;
	int threads, err;

	if (argc < 4 || argc > 6 || (argc == 6 && strcmp(argv[5], "leak"))) {
		fprintf(stderr, "usage: churn ITER THREADS SIZE [DEPTH [leak]]\n");
		return 2;
	}
	iter = parse(argv[1], 1, 1L << 40, "ITER");
	threads = (int)parse(argv[2], 1, 2, "THREADS");
	size = (size_t)parse(argv[3], 0, 1L << 30, "SIZE");
	depth = argc > 4 ? (int)parse(argv[4], 0, 200, "DEPTH") : 0;
	leak = argc > 5;

	for (int t = 0; t < threads; t++) {
		err = pthread_create(&tid[t], NULL, worker, &ns[t]);
		if (err) {
			fprintf(stderr, "churn: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);

	for (int t = 0; t < threads; t++)
		sum += ns[t];
	printf("{\"ns_per_pair\":%.2f,\"threads\":%d,\"iter\":%ld,\"per_thread\":[", sum / threads,
	       threads, iter);
	for (int t = 0; t < threads; t++)
		printf("%s%.2f", t ? "," : "", ns[t]);
	printf("]}\n");
	return 0;
}
