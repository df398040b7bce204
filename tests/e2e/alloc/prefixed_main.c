// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* leaks through a prefixed allocator API (je_*): memtrace --prefix je_ (tests/e2e/alloc.py) */
#include <stddef.h>

void *je_malloc(size_t n);
void je_free(void *p);
void *je_mallocx(size_t n, int flags);
void je_dallocx(void *p, int flags);

static void *volatile sink;

int main(void)
{
	sink = je_malloc(111); /* @leak bytes=111 count=1 */
	sink = je_mallocx(222, 0); /* @leak bytes=222 count=1 */
	je_dallocx(je_mallocx(333, 0), 0);
	je_free(je_malloc(444));
	sink = NULL;
	return 0;
}
