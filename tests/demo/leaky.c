// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A small "service" with a leak: each request allocates a buffer and
 * frees it, but the session cache keeps a copy of every request's header
 * and never evicts anything. memtrace shows cache_put's line growing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
	struct entry *next;
	char *header;
};

static struct entry *cache;

static __attribute__((noinline)) void cache_put(const char *header)
{
	struct entry *e = malloc(sizeof(*e));

	e->header = strndup(header, 200);
	e->next = cache;
	cache = e; /* never evicted: the leak */
}

static __attribute__((noinline)) void handle_request(int id)
{
	char *buf = malloc(4096); /* freed below: no leak */

	snprintf(buf, 4096, "GET /item/%d HTTP/1.1", id);
	if (id % 4 == 0)
		cache_put(buf);
	free(buf);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 4;
	struct timespec start, now, pause = { 0, 1000000 };
	int id = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 100; i++)
			handle_request(id++);
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
	printf("leaky: handled %d requests\n", id);
	return 0;
}
