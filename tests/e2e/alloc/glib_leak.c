// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Leaks through GLib's g_malloc family (tests/e2e/alloc.py): each at the
 * line that called GLib, not inside it. Declared here, linked against
 * libglib-2.0.so.0 (no development headers needed).
 */
#include <stddef.h>

void *g_malloc(size_t n);
void *g_malloc0(size_t n);
void *g_malloc_n(size_t n, size_t size);
void *g_realloc(void *p, size_t n);
void g_free(void *p);
char *g_strdup(const char *s);

static void *volatile sink;

int main(void)
{
	sink = g_malloc(100); /* @leak bytes=100 count=1 */
	sink = g_malloc0(200); /* @leak bytes=200 count=1 */
	sink = g_malloc_n(3, 100); /* @leak bytes=300 count=1 */
	sink = g_realloc(g_malloc(10), 400); /* @leak bytes=400 count=1 */
	g_free(g_malloc(500));
	sink = g_strdup("abc"); /* @leak bytes=4 count=1 */
	sink = NULL;
	return 0;
}
