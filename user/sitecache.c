// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sitecache.h"

struct site_entry {
	struct mt_site_key key;
	__u32 *ids; /* NULL: empty slot */
	__u32 n, site;
};

struct frame_slot {
	__u32 id_plus_1; /* 0: empty */
};

struct mt_site_cache {
	struct site_entry *sites;
	size_t sites_cap, sites_used; /* cap: power of two */
	struct mt_frame *frames;      /* the frame table */
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

static __u64 key_hash(const struct mt_site_key *k)
{
	return fmix(mix(mix(mix(mix(k->tgid, k->caller), k->stack), k->py_stack), k->flags));
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
	c->sites_cap = 1024;
	c->fidx_cap = 1024;
	c->sites = calloc(c->sites_cap, sizeof(*c->sites));
	c->fidx = calloc(c->fidx_cap, sizeof(*c->fidx));
	if (!c->sites || !c->fidx) {
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

static struct site_entry *site_slot(struct site_entry *tab, size_t cap, const struct mt_site_key *k)
{
	size_t i = key_hash(k) & (cap - 1);

	while (tab[i].ids && memcmp(&tab[i].key, k, sizeof(*k)))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

size_t mt_site_cache__get(struct mt_site_cache *c, const struct mt_site_key *key,
			  struct mt_frame *frames, size_t max, size_t *site)
{
	struct site_entry *e = site_slot(c->sites, c->sites_cap, key);
	size_t n;

	if (!e->ids)
		return 0;
	n = e->n < max ? e->n : max;
	for (size_t i = 0; i < n; i++)
		frames[i] = c->frames[e->ids[i]];
	*site = e->site < n ? e->site : 0;
	return n;
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

static int sites_grow(struct mt_site_cache *c)
{
	size_t cap = c->sites_cap * 2;
	struct site_entry *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < c->sites_cap; i++)
		if (c->sites[i].ids)
			*site_slot(t, cap, &c->sites[i].key) = c->sites[i];
	free(c->sites);
	c->sites = t;
	c->sites_cap = cap;
	return 0;
}

int mt_site_cache__put(struct mt_site_cache *c, const struct mt_site_key *key,
		       const struct mt_frame *frames, size_t n, size_t site)
{
	struct site_entry *e;
	__u32 *ids;

	if (c->sites_used * 2 >= c->sites_cap && sites_grow(c))
		return -ENOMEM;
	e = site_slot(c->sites, c->sites_cap, key);
	if (e->ids)
		return 0;
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
	e->key = *key;
	e->ids = ids;
	e->n = n;
	e->site = site;
	c->sites_used++;
	return 0;
}

void mt_site_cache__forget(struct mt_site_cache *c, __u32 tgid)
{
	struct site_entry *old = c->sites, *t;
	size_t cap = c->sites_cap;

	t = calloc(cap, sizeof(*t));
	if (!t)
		return; /* keep them: only memory */
	c->sites = t;
	c->sites_used = 0;
	for (size_t i = 0; i < cap; i++) {
		if (!old[i].ids)
			continue;
		if (old[i].key.tgid == (__u32)tgid) {
			free(old[i].ids);
			continue;
		}
		*site_slot(t, cap, &old[i].key) = old[i];
		c->sites_used++;
	}
	free(old);
}
