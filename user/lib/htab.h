/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small chained hash table with nodes embedded in their entries (as the
 * kernel's hlist): the table never allocates entries, only its buckets.
 * Lookups walk the chain of one hash: mt_htab__first, then mt_htab__next.
 */
#ifndef MT_HTAB_H
#define MT_HTAB_H

#include <stddef.h>
#include <linux/types.h>

struct mt_hnode {
	struct mt_hnode *next;
	__u64 hash;
};

struct mt_htab {
	struct mt_hnode **buckets;
	size_t nr_buckets; /* 0 or a power of two */
	size_t nr;
};

/* murmur3's 64-bit finalizer */
__u64 mt_hash_u64(__u64 x);
/* FNV-1a over len bytes */
__u64 mt_hash_bytes(const void *data, size_t len);

/* First node with this hash; walk on with mt_htab__next. NULL when none. */
struct mt_hnode *mt_htab__first(const struct mt_htab *h, __u64 hash);
struct mt_hnode *mt_htab__next(struct mt_hnode *n);
/* Add a node under hash (the table grows as needed). 0 or -ENOMEM. */
int mt_htab__add(struct mt_htab *h, struct mt_hnode *node, __u64 hash);
void mt_htab__del(struct mt_htab *h, struct mt_hnode *node);
/* Unlink every node and pass it to fn (which may free it); the table is then empty. */
void mt_htab__clear(struct mt_htab *h, void (*fn)(struct mt_hnode *));

/*
 * Interned strings: one copy of each, valid until the table is cleared,
 * so equal strings are equal pointers.
 */
struct mt_strtab {
	struct mt_htab h;
};

/* The table's copy of str (NULL for NULL, or on -ENOMEM). */
const char *mt_strtab__intern(struct mt_strtab *t, const char *str);
void mt_strtab__clear(struct mt_strtab *t);

#endif
