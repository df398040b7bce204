// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mt_python.h"
#include "kernel/allocs.h"
#include "kernel/reader.h"
#include "kernel/reclaim.h"

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
 * handed back to BPF through the free-slot queue.
 */
/* Do the sites of these processes count any live allocation? */
static bool live_records(const struct mt_bpf_maps *maps, const __u32 *tgids, size_t n, __u32 used)
{
	for (__u32 slot = 0; slot < used; slot++) {
		__s64 count = 0;

		if (!maps->site_keys[slot].tgid || !tgid_in(maps->site_keys[slot].tgid, tgids, n))
			continue;
		for (__u32 i = 0; i < maps->nr_stripes; i++)
			count += maps->site_stats[(size_t)i * maps->nr_sites + slot].count;
		if (count)
			return true;
	}
	return false;
}

int mt_reclaim__purge(const struct mt_bpf_maps *maps, const __u32 *tgids, size_t n)
{
	struct tgid_set set = {tgids, n, maps->sampled};
	__u32 used = mt_site_slots__used(maps);
	int err, spilled;

	if (!n)
		return 0;
	/* every live record counts at its site: none there, none in the table */
	if (live_records(maps, tgids, n, used)) {
		err = mt_allocs__for_each(maps, clear_entry, &set);
		if (err)
			return err;
		spilled = delete_matching(maps->allocs_spill, sizeof(struct mt_alloc_key),
					  sizeof(struct mt_alloc), spilled_of_tgids, &set);
		if (spilled > 0)
			__atomic_fetch_sub(maps->spill_nr, spilled, __ATOMIC_RELAXED);
	} else {
		spilled = 0;
	}
	err = delete_matching(maps->site_index, sizeof(struct mt_site_key), sizeof(__u32),
			      key_of_tgids, &set);
	/* the CFI rules of a process are its addresses: not another's, nor a new image's */
	if (maps->unwind_rules) {
		for (size_t i = 0; i < (size_t)MT_UNWIND_BUCKETS * MT_UNWIND_WAYS; i++) {
			volatile struct mt_unwind_entry *e = &maps->unwind_rules[i];

			if (e->addr && tgid_in(e->tgid, tgids, n))
				e->addr = 0; /* BPF matches none from now */
		}
		delete_matching(maps->unwind_asked, sizeof(struct mt_unwind_key), 2 * sizeof(__u64),
				key_of_tgids, &set);
	}
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

int mt_reclaim__gc_stacks(const struct mt_bpf_maps *maps, const struct mt_snapshot *snap,
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
