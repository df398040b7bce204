// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mt_python.h"
#include "kernel/reader.h"

/* Snapshot order: by process only (reports go process by process). */
static int cmp_site_tgid(const void *a, const void *b)
{
	const struct mt_raw_site *x = a, *y = b;

	return x->key.tgid < y->key.tgid ? -1 : x->key.tgid > y->key.tgid;
}

static int push_site(struct mt_snapshot *s, size_t *cap, __u32 slot, const struct mt_site_key *k,
		     const struct mt_site_stats *v)
{
	if (s->nr_sites == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct mt_raw_site *t = realloc(s->sites, ncap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		s->sites = t;
		*cap = ncap;
	}
	s->sites[s->nr_sites].key = *k;
	s->sites[s->nr_sites].stats = *v;
	s->sites[s->nr_sites].slot = slot;
	s->nr_sites++;
	return 0;
}

/*
 * Site slots handed out so far. A slot's key is written before the slot is
 * published, its tgid last; a slot with tgid 0 is unused (or being rolled
 * back).
 */
static __u32 slots_used(const struct mt_bpf_maps *m)
{
	__u32 n = *m->site_next;

	return n < m->nr_sites ? n : m->nr_sites;
}

/* The key at a slot; false when the slot is unused. */
static bool slot_key(const struct mt_bpf_maps *m, __u32 slot, struct mt_site_key *k)
{
	const volatile struct mt_site_key *v = &m->site_keys[slot];

	k->tgid = v->tgid;
	if (!k->tgid)
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the rest was written before tgid */
	k->flags = v->flags;
	k->caller = v->caller;
	k->stack = v->stack;
	k->py_stack = v->py_stack;
	return true;
}

/* Every site in use, its stripes summed; read through the mapped arrays. */
static int read_sites(const struct mt_bpf_maps *m, struct mt_snapshot *s, size_t *cap)
{
	__u32 n = slots_used(m);
	struct mt_site_key k;

	for (__u32 slot = 0; slot < n; slot++) {
		struct mt_site_stats sum = {};

		if (!slot_key(m, slot, &k))
			continue;
		for (__u32 i = 0; i < m->nr_stripes; i++) {
			const volatile struct mt_site_stats *v =
			    &m->site_stats[(size_t)i * m->nr_sites + slot];

			sum.bytes += v->bytes;
			sum.count += v->count;
			sum.alloc_bytes += v->alloc_bytes;
			sum.alloc_count += v->alloc_count;
		}
		if (push_site(s, cap, slot, &k, &sum))
			return -ENOMEM;
	}
	return 0;
}

bool mt_reader__has_sites(const struct mt_bpf_maps *maps, __u32 tgid)
{
	__u32 n = slots_used(maps);

	for (__u32 slot = 0; slot < n; slot++)
		if (maps->site_keys[slot].tgid == tgid)
			return true;
	return false;
}

/* The weight BPF gave an allocation of size bytes (mt_weight in core.bpf.h). */
static void weight(const struct mt_bpf_maps *m, __u64 size, __u64 *w_bytes, __u64 *w_count)
{
	__u64 s = size ? size : 1, pos, g;
	__u32 i, frac;

	*w_bytes = size;
	*w_count = MT_COUNT_ONE;
	if (!m->sample_rate || size >= m->sample_exact)
		return;
	pos = (s << 16) * MT_G_BINS / m->sample_exact;
	i = (pos >> 16) & (MT_G_BINS - 1);
	frac = pos & 0xffff;
	g = m->g_tab[i] + (((__u64)(m->g_tab[i + 1] - m->g_tab[i]) * frac) >> 16);
	*w_bytes = (m->sample_rate * g) >> 16;
	*w_count = (*w_bytes << MT_COUNT_SHIFT) / s;
}

/*
 * Call fn on every entry of the allocation table, mapping it a window at a
 * time so memtrace's RSS never holds the whole table. 0, fn's first error,
 * or a negative errno.
 */
static int for_each_alloc(const struct mt_bpf_maps *m,
			  int (*fn)(volatile struct mt_alloc *e, void *ctx), void *ctx)
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

struct aged {
	__u32 site;
	__u64 bytes, count;
};

struct aged_set {
	const struct mt_bpf_maps *m;
	__u64 min_age_ns, now;
	struct aged *v;
	size_t n, cap;
};

static int aged_add(struct aged_set *a, const struct mt_alloc *e)
{
	struct aged *t;

	if (!e->tgid || e->site >= a->m->nr_sites || e->ts_ns + a->min_age_ns > a->now)
		return 0;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		t = realloc(a->v, a->cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		a->v = t;
	}
	a->v[a->n].site = e->site;
	weight(a->m, e->size, &a->v[a->n].bytes, &a->v[a->n].count);
	a->n++;
	return 0;
}

/* A table entry, read owner first: the rest was written before it. */
static int aged_entry(volatile struct mt_alloc *v, void *ctx)
{
	struct mt_alloc e = {.tgid = v->tgid};

	if (!e.tgid)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	e.site = v->site;
	e.size = v->size;
	e.ts_ns = v->ts_ns;
	return aged_add(ctx, &e);
}

static int cmp_aged(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	return x->site < y->site ? -1 : x->site > y->site;
}

/* Sites rebuilt from the allocations older than min_age_ns. */
static int read_aged(const struct mt_bpf_maps *m, __u64 min_age_ns, struct mt_snapshot *s,
		     size_t *cap)
{
	struct aged_set a = {.m = m, .min_age_ns = min_age_ns};
	struct mt_alloc_key k, next;
	struct mt_site_key key;
	struct mt_alloc e;
	struct timespec ts;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns() clock */
	a.now = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	err = for_each_alloc(m, aged_entry, &a);
	for (int r = bpf_map_get_next_key(m->allocs_spill, NULL, &next); !r && !err;
	     r = bpf_map_get_next_key(m->allocs_spill, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(m->allocs_spill, &k, &e))
			err = aged_add(&a, &e);
	}
	if (err)
		goto cleanup;
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), cmp_aged);
	for (size_t i = 0; i < a.n;) {
		struct mt_site_stats st = {};
		size_t j = i;

		for (; j < a.n && a.v[j].site == a.v[i].site; j++) {
			st.bytes += (__s64)a.v[j].bytes;
			st.count += (__s64)a.v[j].count;
		}
		if (slot_key(m, a.v[i].site, &key)) {
			err = push_site(s, cap, a.v[i].site, &key, &st);
			if (err)
				goto cleanup;
		}
		i = j;
	}
cleanup:
	free(a.v);
	return err;
}

static void read_counters(int fd, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(out, 0, sizeof(__u64) * MT_CNT__MAX);
	if (ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 c = 0; c < MT_CNT__MAX; c++) {
		if (bpf_map_lookup_elem(fd, &c, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			out[c] += vals[i];
	}
	free(vals);
}

int mt_reader__snapshot(const struct mt_bpf_maps *maps, __u64 min_age_ns, struct mt_snapshot *out)
{
	size_t cap = 0;
	int err;

	memset(out, 0, sizeof(*out));
	/* counters first: a drop that happens while we read shows up next time */
	read_counters(maps->counters, out->counters);
	if (min_age_ns)
		err = read_aged(maps, min_age_ns, out, &cap);
	else
		err = read_sites(maps, out, &cap);
	if (err) {
		mt_snapshot__free(out);
		return err;
	}
	for (size_t i = 1; i < out->nr_sites; i++) {
		if (out->sites[i].key.tgid != out->sites[0].key.tgid) {
			qsort(out->sites, out->nr_sites, sizeof(*out->sites), cmp_site_tgid);
			break;
		}
	}
	return 0;
}

const struct mt_raw_site *mt_snapshot__process(const struct mt_snapshot *s, __u32 tgid, size_t *n)
{
	size_t lo = 0, hi = s->nr_sites, end;

	while (lo < hi) { /* first site with key.tgid >= tgid */
		size_t mid = lo + (hi - lo) / 2;

		if (s->sites[mid].key.tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < s->nr_sites && s->sites[end].key.tgid == tgid; end++)
		;
	*n = end - lo;
	return s->sites + lo;
}

void mt_snapshot__free(struct mt_snapshot *s)
{
	if (!s)
		return;
	free(s->sites);
	s->sites = NULL;
	s->nr_sites = 0;
}

int mt_reader__stack(const struct mt_bpf_maps *maps, __u64 stack, __u64 *ips, int max)
{
	struct mt_stack s;
	int n = 0;

	if (!stack)
		return 0;
	if (bpf_map_lookup_elem(maps->stacks, &stack, &s))
		return -errno;
	while (n < MT_MAX_STACK_DEPTH && n < max && s.ips[n]) {
		ips[n] = s.ips[n];
		n++;
	}
	return n;
}

int mt_reader__py_stack(const struct mt_bpf_maps *maps, __u64 py_stack, struct mt_py_frame *frames,
			int max)
{
	struct mt_py_stack s;
	int n = 0;

	if (!py_stack)
		return 0;
	if (bpf_map_lookup_elem(maps->py_stacks, &py_stack, &s))
		return -errno;
	while (n < MT_PY_MAX_DEPTH && n < max && s.frames[n].code) {
		frames[n] = s.frames[n];
		n++;
	}
	return n;
}

static bool tgid_in(__u32 tgid, const __u32 *tgids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tgids[i] == tgid)
			return true;
	return false;
}

static void delete_keys(int fd, const char *keys, size_t n, size_t key_size)
{
	__u32 cnt = n;

	if (!n || !bpf_map_delete_batch(fd, keys, &cnt, NULL))
		return;
	for (size_t j = 0; j < n; j++) /* no batch delete: one by one */
		bpf_map_delete_elem(fd, keys + j * key_size);
}

/*
 * Delete every entry of a hash map whose key doomed() picks, walking the map
 * a batch at a time and deleting each batch's picks before the next (they
 * sit in buckets already returned, so the walk stays valid): memory stays
 * bounded by one batch whatever the map holds. Count deleted, or -errno.
 */
static int delete_matching(int fd, size_t key_size, size_t value_size,
			   bool (*doomed)(const void *key, const void *ctx), const void *ctx)
{
	enum { BATCH = 1024 };
	char *keys = malloc(BATCH * key_size), *vals = malloc(BATCH * value_size);
	char *picked = malloc(BATCH * key_size);
	__u64 in = 0, out;
	bool first = true;
	int err = 0, deleted = 0;

	if (!keys || !vals || !picked) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		__u32 cnt = BATCH, np = 0;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, NULL);

		if (r && errno != ENOENT) {
			err = -errno;
			goto cleanup;
		}
		for (__u32 i = 0; i < cnt; i++)
			if (doomed(keys + i * key_size, ctx))
				memcpy(picked + np++ * key_size, keys + i * key_size, key_size);
		delete_keys(fd, picked, np, key_size);
		deleted += np;
		if (r)
			break; /* ENOENT: the end */
		in = out;
		first = false;
	}
cleanup:
	free(keys);
	free(vals);
	free(picked);
	return err ? err : deleted;
}

struct tgid_set {
	const __u32 *tgids;
	size_t n;
	volatile __u64 *sampled; /* sampled mode: live records per address hash */
};

/* Sampled mode: a record of addr goes; its filter count with it. */
static void unsample(const struct tgid_set *set, __u64 addr)
{
	if (set->sampled)
		__atomic_fetch_sub(&set->sampled[MT_SAMPLED_SLOT(addr)], 1, __ATOMIC_RELAXED);
}

/* A key that begins with __u32 tgid (sites, spilled allocations) of the set? */
static bool key_of_tgids(const void *key, const void *ctx)
{
	const struct tgid_set *set = ctx;
	__u32 tgid;

	memcpy(&tgid, key, sizeof(tgid));
	return tgid_in(tgid, set->tgids, set->n);
}

/*
 * A spilled record of a process in the set: deleted right after the walk
 * returns it (struct mt_alloc_key), so its filter count goes now.
 */
static bool spilled_of_tgids(const void *key, const void *ctx)
{
	struct mt_alloc_key k;

	if (!key_of_tgids(key, ctx))
		return false;
	memcpy(&k, key, sizeof(k));
	unsample(ctx, k.addr);
	return true;
}

/* Free a table entry of a process in the set, owner first as BPF does. */
static int clear_entry(volatile struct mt_alloc *e, void *ctx)
{
	const struct tgid_set *set = ctx;
	__u64 addr = e->addr;

	if (e->tgid && tgid_in(e->tgid, set->tgids, set->n)) {
		e->tgid = 0;
		__atomic_store_n(&e->addr, 0, __ATOMIC_RELEASE);
		unsample(set, addr);
	}
	return 0;
}

/*
 * Forget processes. Their allocations go first (table entries cleared
 * owner first, as BPF does; spilled records deleted), so no record points
 * to their site slots any more; then the slots are unpublished, zeroed and
 * handed back to BPF through the free-slot queue. The processes must be
 * gone or stopped (exec): nothing may allocate for them meanwhile.
 */
int mt_reader__purge(const struct mt_bpf_maps *maps, const __u32 *tgids, size_t n)
{
	struct tgid_set set = {tgids, n, maps->sampled};
	__u32 used = slots_used(maps);
	int err, spilled;

	if (!n)
		return 0;
	err = for_each_alloc(maps, clear_entry, &set);
	if (err)
		return err;
	spilled = delete_matching(maps->allocs_spill, sizeof(struct mt_alloc_key),
				  sizeof(struct mt_alloc), spilled_of_tgids, &set);
	if (spilled > 0)
		__atomic_fetch_sub(maps->spill_nr, spilled, __ATOMIC_RELAXED);
	err = delete_matching(maps->site_index, sizeof(struct mt_site_key), sizeof(__u32),
			      key_of_tgids, &set);
	for (__u32 slot = 0; slot < used; slot++) {
		volatile struct mt_site_key *k = &maps->site_keys[slot];

		if (!k->tgid || !tgid_in(k->tgid, tgids, n))
			continue;
		k->tgid = 0;
		for (__u32 i = 0; i < maps->nr_stripes; i++)
			memset((void *)&maps->site_stats[(size_t)i * maps->nr_sites + slot], 0,
			       sizeof(struct mt_site_stats));
		if (bpf_map_update_elem(maps->site_free, NULL, &slot, 0) && !err)
			err = -errno;
	}
	if (spilled < 0)
		err = spilled;
	return err < 0 ? err : 0;
}

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

struct mt_py_feed {
	struct ring_buffer *rb;
	mt_py_feed_fn fn;
	void *ctx;
};

static int py_feed_sample(void *ctx, void *data, size_t size)
{
	struct mt_py_feed *f = ctx;
	struct mt_py_event ev;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	f->fn(f->ctx, ev.tgid, ev.py_stack);
	return 0;
}

struct mt_py_feed *mt_py_feed__new(const struct mt_bpf_maps *maps, mt_py_feed_fn fn, void *ctx)
{
	struct mt_py_feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fn = fn;
	f->ctx = ctx;
	f->rb = ring_buffer__new(maps->py_events, py_feed_sample, f, NULL);
	if (!f->rb) {
		int err = errno;

		free(f);
		errno = err;
		return NULL;
	}
	return f;
}

void mt_py_feed__free(struct mt_py_feed *f)
{
	if (!f)
		return;
	ring_buffer__free(f->rb);
	free(f);
}

int mt_py_feed__fd(const struct mt_py_feed *f)
{
	return ring_buffer__epoll_fd(f->rb);
}

int mt_py_feed__consume(struct mt_py_feed *f)
{
	return ring_buffer__consume(f->rb);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

struct hash_set {
	const __u64 *keep; /* sorted */
	size_t n;
};

/* Stack maps (key: __u64 hash): doomed unless in the set kept. */
static bool key_not_kept(const void *key, const void *ctx)
{
	const struct hash_set *set = ctx;

	return !bsearch(key, set->keep, set->n, sizeof(*set->keep), cmp_u64);
}

int mt_reader__gc_stacks(const struct mt_bpf_maps *maps, const struct mt_snapshot *snap,
			 const __u32 *gone, size_t nr_gone)
{
	__u64 *keep = calloc(snap->nr_sites * 2 + 1, sizeof(*keep));
	struct hash_set set;
	size_t n = 0;
	int a, b;

	if (!keep)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nr_sites; i++) {
		if (tgid_in(snap->sites[i].key.tgid, gone, nr_gone))
			continue;
		if (snap->sites[i].key.stack)
			keep[n++] = snap->sites[i].key.stack;
		if (snap->sites[i].key.py_stack)
			keep[n++] = snap->sites[i].key.py_stack;
	}
	qsort(keep, n, sizeof(*keep), cmp_u64);
	set.keep = keep;
	set.n = n;
	a = delete_matching(maps->stacks, sizeof(__u64), sizeof(struct mt_stack), key_not_kept,
			    &set);
	b = delete_matching(maps->py_stacks, sizeof(__u64), sizeof(struct mt_py_stack),
			    key_not_kept, &set);
	free(keep);
	return a < 0 ? a : b < 0 ? b : a + b;
}
