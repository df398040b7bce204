// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "symbolize/sitecache.h"

struct site_entry {
	struct mt_site_key key;
	__u32 *ids; /* NULL: empty slot */
	__u32 n, site;
	bool runtime;
};

struct frame_slot {
	__u32 id_plus_1; /* 0: empty */
};

struct mt_site_cache {
	struct site_entry *sites; /* by BPF slot */
	size_t sites_cap;
	struct mt_frame *frames; /* the frame table */
	size_t nr_frames, frames_cap;
	struct frame_slot *fidx; /* open-addressing index into frames */
	size_t fidx_cap;
};

static __u64 mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

/* murmur3's finalizer: every input bit reaches the low bits the tables index with */
static __u64 fmix(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static __u64 frame_hash(const struct mt_frame *f)
{
	__u64 h =
	    mix(mix(f->addr, (__u64)(unsigned long)f->function), (__u64)(unsigned long)f->file);

	return fmix(mix(mix(h, (__u64)(unsigned long)f->module),
			(__u64)f->line << 8 | f->kind << 1 | f->inlined));
}

static bool frame_eq(const struct mt_frame *a, const struct mt_frame *b)
{
	return a->addr == b->addr && a->function == b->function && a->file == b->file &&
	       a->module == b->module && a->line == b->line && a->kind == b->kind &&
	       a->inlined == b->inlined;
}

struct mt_site_cache *mt_site_cache__new(void)
{
	struct mt_site_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fidx_cap = 1024;
	c->fidx = calloc(c->fidx_cap, sizeof(*c->fidx));
	if (!c->fidx) {
		mt_site_cache__free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void mt_site_cache__free(struct mt_site_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->sites && i < c->sites_cap; i++)
		free(c->sites[i].ids);
	free(c->sites);
	free(c->frames);
	free(c->fidx);
	free(c);
}

/* The entry at slot if it holds key, else NULL. */
static struct site_entry *site_at(struct mt_site_cache *c, __u32 slot, const struct mt_site_key *k)
{
	struct site_entry *e;

	if (slot >= c->sites_cap)
		return NULL;
	e = &c->sites[slot];
	return e->ids && !memcmp(&e->key, k, sizeof(*k)) ? e : NULL;
}

size_t mt_site_cache__ref(struct mt_site_cache *c, const struct mt_site_key *key, __u32 slot,
			  const struct mt_frame **table, const __u32 **ids, size_t *site)
{
	struct site_entry *e = site_at(c, slot, key);

	if (!e)
		return 0;
	*table = c->frames;
	*ids = e->ids;
	*site = (e->site < e->n ? e->site : 0) | (e->runtime ? MT_SITE_RUNTIME : 0);
	return e->n;
}

static int fidx_grow(struct mt_site_cache *c)
{
	size_t cap = c->fidx_cap * 2;
	struct frame_slot *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t id = 0; id < c->nr_frames; id++) {
		size_t i = frame_hash(&c->frames[id]) & (cap - 1);

		while (t[i].id_plus_1)
			i = (i + 1) & (cap - 1);
		t[i].id_plus_1 = id + 1;
	}
	free(c->fidx);
	c->fidx = t;
	c->fidx_cap = cap;
	return 0;
}

/* Index of frame f in the table, added if new; -ENOMEM. */
static long frame_id(struct mt_site_cache *c, const struct mt_frame *f)
{
	size_t i;

	if (c->nr_frames * 2 >= c->fidx_cap && fidx_grow(c))
		return -ENOMEM;
	i = frame_hash(f) & (c->fidx_cap - 1);
	while (c->fidx[i].id_plus_1) {
		if (frame_eq(&c->frames[c->fidx[i].id_plus_1 - 1], f))
			return c->fidx[i].id_plus_1 - 1;
		i = (i + 1) & (c->fidx_cap - 1);
	}
	if (c->nr_frames == c->frames_cap) {
		size_t cap = c->frames_cap ? c->frames_cap * 2 : 1024;
		struct mt_frame *t = realloc(c->frames, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		c->frames = t;
		c->frames_cap = cap;
	}
	c->frames[c->nr_frames] = *f;
	c->fidx[i].id_plus_1 = ++c->nr_frames;
	return c->nr_frames - 1;
}

/* Make room for slot. 0 or -ENOMEM. */
static int sites_grow(struct mt_site_cache *c, __u32 slot)
{
	size_t cap = c->sites_cap ? c->sites_cap : 1024;
	struct site_entry *t;

	while (cap <= slot)
		cap *= 2;
	t = realloc(c->sites, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + c->sites_cap, 0, (cap - c->sites_cap) * sizeof(*t));
	c->sites = t;
	c->sites_cap = cap;
	return 0;
}

int mt_site_cache__put(struct mt_site_cache *c, const struct mt_site_key *key, __u32 slot,
		       const struct mt_frame *frames, size_t n, size_t site)
{
	struct site_entry *e;
	__u32 *ids;

	if (slot == MT_NO_SITE)
		return -EINVAL;
	if (site_at(c, slot, key))
		return 0;
	if (slot >= c->sites_cap && sites_grow(c, slot))
		return -ENOMEM;
	e = &c->sites[slot];
	ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		long id = frame_id(c, &frames[i]);

		if (id < 0) {
			free(ids);
			return -ENOMEM;
		}
		ids[i] = (__u32)id;
	}
	free(e->ids); /* BPF gave the slot to another site */
	e->key = *key;
	e->ids = ids;
	e->n = n;
	e->site = (__u32)(site & ~MT_SITE_RUNTIME);
	e->runtime = site & MT_SITE_RUNTIME;
	return 0;
}

void mt_site_cache__forget(struct mt_site_cache *c, __u32 tgid)
{
	for (size_t i = 0; i < c->sites_cap; i++) {
		struct site_entry *e = &c->sites[i];

		if (e->ids && e->key.tgid == tgid) {
			free(e->ids);
			e->ids = NULL;
		}
	}
}
