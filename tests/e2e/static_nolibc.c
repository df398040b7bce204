// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * static_nolibc: a static program with no C library at all, for memtrace's
 * bad-input tests (there is no allocator to probe). Not built by the
 * Makefile's target rule (it has its own _start); run.py compiles it with
 *	cc -static -nostdlib -fno-stack-protector -O1 static_nolibc.c
 * Without arguments it exits 0 at once; with any argument it sleeps for up
 * to 60 s (so memtrace can be pointed at its pid), then exits 0.
 */
#if !defined(__x86_64__) && !defined(__aarch64__)
#error "static_nolibc: x86_64 or aarch64 only"
#endif

#if defined(__x86_64__)
#define NR_NANOSLEEP 35
#define NR_EXIT_GROUP 231

static long sys2(long nr, long a, long b)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b)
		     : "rcx", "r11", "memory");
	return ret;
}

__attribute__((used)) void c_start(long argc);

/* the kernel leaves argc at (%rsp) */
__attribute__((naked, noreturn)) void _start(void)
{
	asm volatile("mov (%rsp), %rdi\n\t"
		     "and $-16, %rsp\n\t"
		     "call c_start\n\t"
		     "ud2");
}
#else
#define NR_NANOSLEEP 101
#define NR_EXIT_GROUP 94

static long sys2(long nr, long a, long b)
{
	register long x8 asm("x8") = nr;
	register long x0 asm("x0") = a;
	register long x1 asm("x1") = b;

	asm volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
	return x0;
}

__attribute__((used)) void c_start(long argc);

__attribute__((naked, noreturn)) void _start(void)
{
	asm volatile("ldr x0, [sp]\n\t"
		     "bl c_start\n\t"
		     "brk #0");
}
#endif

struct ts {
	long sec, nsec;
};

__attribute__((used, noreturn)) void c_start(long argc)
{
	if (argc > 1) {
		for (int i = 0; i < 600; i++) {
			struct ts t = { 0, 100 * 1000 * 1000 };

			sys2(NR_NANOSLEEP, (long)&t, 0);
		}
	}
	for (;;)
		sys2(NR_EXIT_GROUP, 0, 0);
}
