// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "mt_python.h"
#include "kernel/reader.h"
#include "kernel/stackcache.h"

struct cache_entry {
	__u64 key; /* stack hash with bit 0 cleared for native, set for Python (hashes are odd) */
	void *frames; /* __u64[] or struct mt_py_frame[] */
	int n;
};

struct mt_stack_cache {
	struct cache_entry *tab;
	size_t cap, used; /* cap: a power of two */
};

struct mt_stack_cache *mt_stack_cache__new(void)
{
	struct mt_stack_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = 1024;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return NULL;
	}
	return c;
}

void mt_stack_cache__free(struct mt_stack_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->tab[i].frames);
	free(c->tab);
	free(c);
}

void mt_stack_cache__clear(struct mt_stack_cache *c)
{
	for (size_t i = 0; i < c->cap; i++) {
		free(c->tab[i].frames);
		c->tab[i].frames = NULL;
		c->tab[i].key = 0;
	}
	c->used = 0;
}

static struct cache_entry *cache_slot(struct cache_entry *tab, size_t cap, __u64 key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);

	while (tab[i].key && tab[i].key != key)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int cache_grow(struct mt_stack_cache *c)
{
	size_t cap = c->cap * 2;
	struct cache_entry *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->tab[i].key)
			*cache_slot(tab, cap, c->tab[i].key) = c->tab[i];
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

/* The cached frames of key, reading them with fetch on a miss. */
static int cache_get(struct mt_stack_cache *c, __u64 key, size_t frame_size,
		     int (*fetch)(const struct mt_bpf_maps *, __u64, void *, int),
		     const struct mt_bpf_maps *maps, __u64 stack, void *out, int max)
{
	struct cache_entry *e;
	int n;

	if (c->used * 2 >= c->cap && cache_grow(c))
		return -ENOMEM;
	e = cache_slot(c->tab, c->cap, key);
	if (!e->key) {
		char buf[sizeof(struct mt_py_frame) * MT_MAX_STACK_DEPTH];
		void *copy;

		n = fetch(maps, stack, buf, MT_MAX_STACK_DEPTH);
		if (n < 0)
			return n; /* not cached: may appear later */
		/* keep only the frames the stack has */
		copy = malloc(n ? (size_t)n * frame_size : 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, buf, (size_t)n * frame_size);
		e->key = key;
		e->frames = copy;
		e->n = n;
		c->used++;
	}
	n = e->n < max ? e->n : max;
	memcpy(out, e->frames, (size_t)n * frame_size);
	return n;
}

static int fetch_native(const struct mt_bpf_maps *maps, __u64 stack, void *out, int max)
{
	return mt_reader__stack(maps, stack, out, max);
}

static int fetch_python(const struct mt_bpf_maps *maps, __u64 stack, void *out, int max)
{
	return mt_reader__py_stack(maps, stack, out, max < MT_PY_MAX_DEPTH ? max : MT_PY_MAX_DEPTH);
}

int mt_stack_cache__native(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 stack,
			   __u64 *ips, int max)
{
	if (!stack)
		return 0;
	return cache_get(c, stack & ~1ULL, sizeof(__u64), fetch_native, maps, stack, ips, max);
}

int mt_stack_cache__python(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 py_stack,
			   struct mt_py_frame *frames, int max)
{
	if (!py_stack)
		return 0;
	return cache_get(c, py_stack | 1, sizeof(struct mt_py_frame), fetch_python, maps, py_stack,
			 frames, max);
}
