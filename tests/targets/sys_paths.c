// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sys_paths: mmap family calls memtrace must count, and calls it must not,
 * by the path they take to the kernel. Markers as in leak_apis.c
 * (@leak bytes=B count=C on the line of the call; 4 KiB pages).
 *
 * Counted: mmap, munmap and mremap through the C library's wrappers, and a
 * failed mremap (alloc_failed; the block stays). Not counted: anonymous
 * mmaps made with syscall(2) and with a `syscall` instruction of the
 * program's own (no wrapper ran: a uprobe on it never saw them either);
 * they stay mapped, RAW_PAGES and ASM_PAGES long, so a report that counted
 * them would show those sizes. Also a reallocarray whose nmemb * size wraps
 * to 0: it fails (alloc_failed) and its block stays.
 *
 * Prints "sys_paths done"; exit 0.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

#define PG 4096
#define RAW_PAGES 37 /* syscall(2): must not be counted */
#define ASM_PAGES 41 /* the program's own syscall instruction: must not be counted */

/* sizes no product fits, hidden from -Walloc-size-larger-than */
static volatile size_t half_word = (size_t)1 << 32;

static noinline void wrapped(void)
{
	void *volatile p, *volatile q;

	p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=12288 count=1 */
	KEEP(p);
	p = mmap(NULL, 7 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=0 */
	munmap(p, 7 * PG);
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=0 */
	p = mremap(p, 2 * PG, 9 * PG, MREMAP_MAYMOVE); /* @leak bytes=36864 count=1 */
	KEEP(p);
	/* growing the first page in place fails: the rest of the mapping is there */
	q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* @leak bytes=16384 count=1 */
	p = mremap(q, PG, 2 * PG, 0); /* @leak bytes=0 */
	KEEP(p);
}

static noinline void raw(void)
{
	void *volatile p;
	long ret;

	p = (void *)syscall(SYS_mmap, NULL, RAW_PAGES * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KEEP(p);
	{
		register long r10 asm("r10") = MAP_PRIVATE | MAP_ANONYMOUS;
		register long r8 asm("r8") = -1;
		register long r9 asm("r9") = 0;

		asm volatile("syscall"
			     : "=a"(ret)
			     : "0"((long)SYS_mmap), "D"(0L), "S"((long)ASM_PAGES * PG),
			       "d"((long)(PROT_READ | PROT_WRITE)), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	}
	KEEP(ret);
}

static noinline void wrapping_product(void)
{
	void *volatile p, *volatile q;

	p = malloc(24); /* @leak bytes=24 count=1 */
	q = reallocarray(p, half_word, half_word); /* @leak bytes=0 */
	KEEP(q);
}

int main(void)
{
	wrapped();
	raw();
	wrapping_product();
	/* write(2), not stdio: no buffer allocated behind the markers' back */
	if (write(1, "sys_paths done\n", 15) != 15)
		return 1;
	return 0;
}
