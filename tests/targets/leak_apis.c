// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * leak_apis: every allocator entry point memtrace traces, called at known
 * lines with known sizes. tests/e2e/run.py parses the markers in this file
 * and compares them with memtrace's report, exactly.
 *
 * Marker grammar (a comment on the line of the allocator call):
 *	@leak bytes=B count=C [kind=heap|mmap] [vg=skip]
 * B and C are what must still be live at that line when the program has done
 * its work (a loop's marker totals the loop). bytes=0 means every allocation
 * made on that line was freed, failed or moved away (the line is absent from
 * the report or shows 0 bytes). kind=mmap marks lines valgrind cannot see
 * (mmap markers assume 4 KiB pages); vg=skip marks a line left out of the
 * valgrind comparison (pvalloc: valgrind 3.19 aborts the program on it).
 *
 * Every malloc-family leak is made unreachable (its only pointer dies with
 * the function's frame), so valgrind reports it "definitely lost" at the
 * same line. Each function holds its own set of leaks, so --group-by
 * function totals are known. Output goes through write(2): no stdio buffer
 * is allocated behind the test's back.
 *
 * Modes:
 *	leak_apis		do the work, print "leak_apis done", exit 0
 *	leak_apis --wait	print "ready <pid>", wait for SIGUSR1, do the
 *				work, print "done", wait for SIGUSR2 (or EOF on
 *				a stdin pipe/tty), exit 0
 *	leak_apis --exit N	exit with status N at the end
 *	leak_apis --kill SIG	kill itself with signal SIG at the end
 *	leak_apis --echo ...	also print the arguments, $LEAK_APIS_ENV and
 *				stdin (pass-through checks)
 *	leak_apis --pre		malloc 100 blocks before "ready", free them
 *				first after SIGUSR1 (frees of blocks allocated
 *				before memtrace attached)
 *	leak_apis --no-pvalloc	skip the pvalloc line (valgrind 3.19 aborts the
 *				program on pvalloc)
 * A stdout line and a stderr line are always written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
/* the compiler must assume p escapes and memory changed: no call is elided */
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

#define NTHREADS 4
#define PER_THREAD 250
#define LOOP_N 50
#define CHURN_N 200

static pthread_barrier_t start_line;
static int no_pvalloc; /* valgrind 3.19 aborts the program on pvalloc */
/* sizes no allocator can satisfy, hidden from -Walloc-size-larger-than */
static volatile size_t huge = SIZE_MAX / 2, huger = SIZE_MAX - 4096;

static void say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += w;
	}
}

/* write the block (no stale pointer-like bytes for valgrind) and forget it */
static noinline void touch(void *p, size_t n)
{
	if (p)
		memset(p, 0xa5, n);
	KEEP(p);
}

static noinline void basic_leaks(void)
{
	void *volatile p;

	p = malloc(1000); /* @leak bytes=1000 count=1 */
	touch(p, 1000);
	p = calloc(12, 100); /* @leak bytes=1200 count=1 */
	touch(p, 1200);
	p = malloc(24); /* @leak bytes=0 */
	free(p);
	free(NULL);
	p = NULL;
	free(p);
}

static noinline void loop_leaks(void)
{
	for (int i = 0; i < LOOP_N; i++) {
		void *volatile p = malloc(64); /* @leak bytes=3200 count=50 */
		touch(p, 64);
	}
}

static noinline void churn(void)
{
	for (int i = 0; i < CHURN_N; i++) {
		void *volatile p = malloc(8 * i + 1); /* @leak bytes=0 */
		void *volatile q = calloc(i + 1, 16); /* @leak bytes=0 */
		void *volatile r = realloc(NULL, 32); /* @leak bytes=0 */

		r = realloc(r, 4000); /* @leak bytes=0 */
		free(p);
		free(q);
		free(r);
		free(NULL);
	}
}

static noinline void realloc_leaks(void)
{
	void *volatile p, *volatile guard;

	/* realloc(NULL, n) is an allocation at the realloc's line */
	p = realloc(NULL, 300); /* @leak bytes=300 count=1 */
	touch(p, 300);

	/* a realloc that must move: the next chunk is in use */
	p = malloc(16); /* @leak bytes=0 */
	guard = malloc(32); /* @leak bytes=32 count=1 */
	touch(guard, 32);
	p = realloc(p, 100000); /* @leak bytes=100000 count=1 */
	touch(p, 100000);

	/* a shrinking realloc returns the same pointer: new size, new line */
	p = malloc(500); /* @leak bytes=0 */
	p = realloc(p, 50); /* @leak bytes=50 count=1 */
	touch(p, 50);

	/* a mmapped chunk grown by realloc (glibc mremaps inside) */
	p = malloc(256 * 1024); /* @leak bytes=0 */
	p = realloc(p, 640 * 1024); /* @leak bytes=655360 count=1 */
	touch(p, 640 * 1024);

	/* reallocarray on a live block */
	p = malloc(40); /* @leak bytes=0 */
	p = reallocarray(p, 20, 50); /* @leak bytes=1000 count=1 */
	touch(p, 1000);
}

static noinline void realloc_fail(void)
{
	void *volatile p, *volatile q;

	/* failed realloc: the old block stays live at its own line */
	p = malloc(777); /* @leak bytes=777 count=1 */
	q = realloc(p, huge); /* @leak bytes=0 */
	KEEP(q);
	touch(p, 777);

	/* reallocarray whose n*size overflows fails; the block stays */
	p = malloc(333); /* @leak bytes=333 count=1 */
	q = reallocarray(p, huge / 2, 8); /* @leak bytes=0 */
	KEEP(q);
	touch(p, 333);
}

static noinline void realloc_zero(void)
{
	void *volatile p, *volatile q;

	/* glibc 2.36: realloc(p, 0) frees p and returns NULL */
	p = malloc(444); /* @leak bytes=0 */
	q = realloc(p, 0); /* @leak bytes=0 */
	free(q);
}

static noinline void failed_allocs(void)
{
	void *volatile p;
	int rc;

	p = malloc(huger); /* @leak bytes=0 */
	KEEP(p);
	p = malloc(huge); /* @leak bytes=0 */
	KEEP(p);
	p = calloc(huge, 4); /* @leak bytes=0 */
	KEEP(p);
	rc = posix_memalign((void **)&p, 3, 100); /* @leak bytes=0 */
	KEEP(rc);
	p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=0 kind=mmap */
	KEEP(p);
}

static noinline void aligned_leaks(void)
{
	void *p;
	void *volatile v;

	if (posix_memalign(&p, 64, 500) == 0) /* @leak bytes=500 count=1 */
		touch(p, 500);
	p = NULL;
	v = aligned_alloc(256, 512); /* @leak bytes=512 count=1 */
	touch(v, 512);
	v = memalign(128, 700); /* @leak bytes=700 count=1 */
	touch(v, 700);
	v = valloc(3000); /* @leak bytes=3000 count=1 */
	touch(v, 3000);
	if (!no_pvalloc) {
		v = pvalloc(5000); /* @leak bytes=5000 count=1 vg=skip */
		touch(v, 5000);
	}
}

static noinline void big_leaks(void)
{
	void *volatile p;

	/* glibc serves these with mmap internally: counted once, here */
	p = malloc(1024 * 1024); /* @leak bytes=1048576 count=1 */
	touch(p, 1024 * 1024);
	p = calloc(512, 1024); /* @leak bytes=524288 count=1 */
	touch(p, 512 * 1024);
	p = malloc(2 * 1024 * 1024); /* @leak bytes=0 */
	touch(p, 2 * 1024 * 1024);
	free(p);
}

static noinline void mmap_leaks(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *volatile p;
	int fd;

	p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=12288 count=1 kind=mmap */
	touch(p, 3 * pg);
	p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0); /* @leak bytes=8192 count=1 kind=mmap */
	touch(p, 2 * pg);
	p = mmap(NULL, 5 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=0 kind=mmap */
	touch(p, 5 * pg);
	munmap(p, 5 * pg);

	/* a file mapping is not an allocation; it stays mapped */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0); /* @leak bytes=0 kind=mmap */
		KEEP(p);
		close(fd);
	}

	/* mremap moves/grows a mapping: the result belongs to the mremap line */
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=0 kind=mmap */
	touch(p, pg);
	p = mremap(p, pg, 16 * pg, MREMAP_MAYMOVE); /* @leak bytes=65536 count=1 kind=mmap */
	touch(p, 16 * pg);
}

static noinline void *thread_worker(void *arg)
{
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < PER_THREAD; i++) {
		void *volatile p = malloc(48); /* @leak bytes=48000 count=1000 */
		touch(p, 48);
	}
	return NULL;
}

static noinline void thread_leaks(void)
{
	pthread_t t[NTHREADS];

	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_worker, NULL) != 0)
			abort();
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start_line);
}

/* --pre: blocks allocated before the tracer attaches, freed after it did */
#define PRE_N 100
static void *volatile pre_blocks[PRE_N];

static noinline void pre_alloc(void)
{
	for (int i = 0; i < PRE_N; i++)
		pre_blocks[i] = malloc(100); /* @leak bytes=0 */
}

static noinline void pre_free(void)
{
	for (int i = 0; i < PRE_N; i++) {
		free(pre_blocks[i]);
		pre_blocks[i] = NULL;
	}
}

static void run_all(void)
{
	basic_leaks();
	loop_leaks();
	churn();
	realloc_leaks();
	realloc_fail();
	realloc_zero();
	failed_allocs();
	aligned_leaks();
	big_leaks();
	mmap_leaks();
	thread_leaks();
}

/*
 * Wait for one of the signals in the (blocked) set; EOF on a stdin pipe or
 * terminal also ends the wait so a dead test runner does not leave us behind.
 * Returns the signal number, or 0 on EOF.
 */
static int wait_signal(int sfd)
{
	struct stat st;
	int watch_stdin = fstat(0, &st) == 0 &&
			  (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0));

	for (;;) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
					 { .fd = 0, .events = POLLIN } };
		struct signalfd_siginfo si;
		char buf[256];

		if (poll(pfd, watch_stdin ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				return si.ssi_signo;
		}
		if (watch_stdin && pfd[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				return 0;
		}
	}
}

static void echo(int argc, char **argv)
{
	const char *env = getenv("LEAK_APIS_ENV");
	char buf[4096];
	ssize_t n;

	for (int i = 0; i < argc; i++)
		say(1, "arg[%d]=%s\n", i, argv[i]);
	say(1, "env=%s\n", env ? env : "(unset)");
	while ((n = read(0, buf, sizeof(buf))) > 0)
		say(1, "stdin=%.*s\n", (int)n, buf);
}

int main(int argc, char **argv)
{
	int wait_mode = 0, exit_code = 0, kill_sig = 0, do_echo = 0, pre = 0;
	sigset_t set;
	int sfd = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait_mode = 1;
		else if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			exit_code = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--kill") && i + 1 < argc)
			kill_sig = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pre"))
			pre = 1;
		else if (!strcmp(argv[i], "--no-pvalloc"))
			no_pvalloc = 1;
		else if (!strcmp(argv[i], "--echo"))
			do_echo = 1;
	}

	/* block before any thread exists: every thread inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return 100;

	if (do_echo)
		echo(argc, argv);

	if (pre)
		pre_alloc();
	if (wait_mode) {
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
		if (sfd < 0)
			return 101;
		say(1, "ready %d\n", (int)getpid());
		for (;;) { /* only SIGUSR1 starts the work */
			int sig = wait_signal(sfd);

			if (sig == SIGUSR1)
				break;
			if (sig == 0)
				return 2; /* stdin closed: nobody is driving us */
		}
	}

	if (pre)
		pre_free();
	run_all();

	if (wait_mode) {
		say(1, "done\n");
		while (wait_signal(sfd) == SIGUSR1)
			;
	} else {
		say(1, "leak_apis done\n");
	}
	say(2, "leak_apis: this line goes to stderr\n");
	if (kill_sig) {
		signal(kill_sig, SIG_DFL);
		raise(kill_sig);
	}
	return exit_code;
}
