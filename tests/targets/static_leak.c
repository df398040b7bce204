// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * static_leak: a statically linked program (its allocator is in the
 * executable, no C library is mapped) that leaks at a marked line, prints
 * "done <pid>" and waits for "end" (or EOF) on stdin; "exec" executes its
 * arguments instead (a static image that becomes a dynamic one). Built
 * with -static; tests/e2e/lifecycle.py executes it from a traced process
 * and has it execute a dynamic program.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define noinline __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

static noinline void leak_static(void)
{
	for (int i = 0; i < 6; i++) {
		void *volatile p = malloc(600); /* @leak bytes=3600 count=6 proc=static */

		KEEP(p);
	}
}

int main(int argc, char **argv)
{
	char line[64];

	leak_static();
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("done %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin))
		if (!strncmp(line, "end", 3))
			break;
		else if (!strncmp(line, "exec", 4) && argc > 1)
			return execv(argv[1], argv + 1) ? 5 : 0;
	return 0;
}
