// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/htab.h"

__u64 mt_hash_u64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

__u64 mt_hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	__u64 h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

struct mt_hnode *mt_htab__first(const struct mt_htab *h, __u64 hash)
{
	struct mt_hnode *n;

	if (!h->nr_buckets)
		return NULL;
	for (n = h->buckets[hash & (h->nr_buckets - 1)]; n; n = n->next)
		if (n->hash == hash)
			return n;
	return NULL;
}

struct mt_hnode *mt_htab__next(struct mt_hnode *n)
{
	__u64 hash = n->hash;

	for (n = n->next; n; n = n->next)
		if (n->hash == hash)
			return n;
	return NULL;
}

int mt_htab__add(struct mt_htab *h, struct mt_hnode *node, __u64 hash)
{
	struct mt_hnode **b, *n, *next;
	size_t i, nb;

	if (h->nr >= h->nr_buckets) {
		nb = h->nr_buckets ? h->nr_buckets * 2 : 64;
		b = calloc(nb, sizeof(*b));
		if (!b)
			return -ENOMEM;
		for (i = 0; i < h->nr_buckets; i++) {
			for (n = h->buckets[i]; n; n = next) {
				next = n->next;
				n->next = b[n->hash & (nb - 1)];
				b[n->hash & (nb - 1)] = n;
			}
		}
		free(h->buckets);
		h->buckets = b;
		h->nr_buckets = nb;
	}
	node->hash = hash;
	b = &h->buckets[hash & (h->nr_buckets - 1)];
	node->next = *b;
	*b = node;
	h->nr++;
	return 0;
}

void mt_htab__del(struct mt_htab *h, struct mt_hnode *node)
{
	struct mt_hnode **p;

	if (!h->nr_buckets)
		return;
	for (p = &h->buckets[node->hash & (h->nr_buckets - 1)]; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			h->nr--;
			return;
		}
	}
}

void mt_htab__clear(struct mt_htab *h, void (*fn)(struct mt_hnode *))
{
	struct mt_hnode *n, *next;

	for (size_t i = 0; i < h->nr_buckets; i++) {
		for (n = h->buckets[i]; n; n = next) {
			next = n->next;
			fn(n);
		}
	}
	free(h->buckets);
	memset(h, 0, sizeof(*h));
}

struct mt_str {
	struct mt_hnode node;
	char s[];
};

const char *mt_strtab__intern(struct mt_strtab *t, const char *str)
{
	struct mt_hnode *n;
	struct mt_str *e;
	size_t len;
	__u64 hash;

	if (!str)
		return NULL;
	len = strlen(str);
	hash = mt_hash_bytes(str, len);
	for (n = mt_htab__first(&t->h, hash); n; n = mt_htab__next(n)) {
		e = (struct mt_str *)n;
		if (!strcmp(e->s, str))
			return e->s;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->s, str, len + 1);
	if (mt_htab__add(&t->h, &e->node, hash)) {
		free(e);
		return NULL;
	}
	return e->s;
}

static void str_free(struct mt_hnode *n)
{
	free(n);
}

void mt_strtab__clear(struct mt_strtab *t)
{
	mt_htab__clear(&t->h, str_free);
}
