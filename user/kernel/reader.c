// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mt_python.h"
#include "kernel/allocs.h"
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

/* The key at a slot; false when the slot is unused. */
static bool slot_key(const struct mt_bpf_maps *m, __u32 slot, struct mt_site_key *k)
{
	const volatile struct mt_site_key *v = &m->site_keys[slot];

	k->tgid = v->tgid;
	if (!k->tgid)
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the rest was written before tgid */
	k->kind = v->kind < MT_SITE__MAX ? v->kind : MT_SITE_HEAP;
	k->caller = v->caller;
	k->stack = v->stack;
	k->py_stack = v->py_stack;
	return true;
}

/* Every site in use, its stripes summed; read through the mapped arrays. */
static int read_sites(const struct mt_bpf_maps *m, struct mt_snapshot *s, size_t *cap)
{
	__u32 n = mt_site_slots__used(m);
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
	__u32 n = mt_site_slots__used(maps);

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
	err = mt_allocs__for_each(m, aged_entry, &a);
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
