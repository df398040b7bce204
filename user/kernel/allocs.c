// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <sys/mman.h>
#include "kernel/allocs.h"

__u32 mt_site_slots__used(const struct mt_bpf_maps *m)
{
	__u32 n = *m->site_next;

	return n < m->nr_sites ? n : m->nr_sites;
}

int mt_allocs__for_each(const struct mt_bpf_maps *m, mt_alloc_fn fn, void *ctx)
{
	enum { WINDOW = 2 << 20 }; /* bytes, a multiple of the page size */
	const __u64 per = WINDOW / sizeof(struct mt_alloc);
	int err = 0;

	for (__u64 first = 0; first < m->nr_allocs && !err; first += per) {
		__u64 n = m->nr_allocs - first < per ? m->nr_allocs - first : per;
		size_t len = n * sizeof(struct mt_alloc);
		volatile struct mt_alloc *w;

		w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->allocs,
			 (off_t)(first * sizeof(struct mt_alloc)));
		if (w == MAP_FAILED)
			return -errno;
		for (__u64 i = 0; i < n && !err; i++)
			if (w[i].tgid)
				err = fn(&w[i], ctx);
		munmap((void *)w, len);
	}
	return err;
}
