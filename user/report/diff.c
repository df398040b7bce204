// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Difference of two sets of reports; see diff.h.
 *
 * Each stack of each row of each report is folded into an entry keyed by
 * its group (a byte string as the aggregator's keys: strings with a tag
 * byte and their NUL, numbers as 8 raw bytes) in a hash table; the side
 * (A or B) says which sums it adds to. The entries become the rows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/htab.h"
#include "report/diff.h"

struct diff_ent {
	struct mt_hnode node;
	struct mt_diff_row row;
	size_t key_len;
	unsigned char key[];
};

struct keybuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void kb_put(struct keybuf *k, const void *p, size_t n)
{
	if (k->err)
		return;
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		unsigned char *np;

		while (cap < k->len + n)
			cap *= 2;
		np = realloc(k->p, cap);
		if (!np) {
			k->err = -ENOMEM;
			return;
		}
		k->p = np;
		k->cap = cap;
	}
	memcpy(k->p + k->len, p, n);
	k->len += n;
}

static void kb_str(struct keybuf *k, const char *s)
{
	unsigned char tag = s ? 1 : 0;

	kb_put(k, &tag, 1);
	if (s)
		kb_put(k, s, strlen(s) + 1);
}

static void kb_u64(struct keybuf *k, __u64 v)
{
	kb_put(k, &v, sizeof(v));
}

/* The key of one frame as a line: file and line, else function, else address. */
static void kb_frame(struct keybuf *k, const char *file, int line, const char *function,
		     const char *module, __u64 addr)
{
	if (file) {
		kb_put(k, "L", 1);
		kb_str(k, file);
		kb_u64(k, (__u64)(__s64)line);
		kb_str(k, function);
		kb_str(k, module);
	} else if (function) {
		kb_put(k, "F", 1);
		kb_str(k, function);
		kb_str(k, module);
	} else {
		kb_put(k, "A", 1);
		kb_str(k, module);
		kb_u64(k, addr);
	}
}

struct diff_build {
	struct mt_htab h;
	struct diff_ent **v;
	size_t nr, cap;
	struct keybuf k;
};

/* Add bytes and count of one stack (frames, site) to side b (else a). */
static int diff_add(struct diff_build *db, enum mt_group_by by, const struct mt_row *row,
		    const struct mt_frame *frames, size_t nr, size_t site, __s64 bytes, __s64 count,
		    bool side_b)
{
	struct mt_diff_row loc = {.kind = row->kind};
	unsigned char kind = (unsigned char)row->kind;
	struct diff_ent *e;
	struct mt_hnode *n;
	__u64 hash;

	if (site < nr) {
		loc.file = frames[site].file;
		loc.line = frames[site].line;
		loc.function = frames[site].function;
		loc.module = frames[site].module;
		loc.addr = frames[site].addr;
	} else { /* a row without stacks */
		loc.file = row->file;
		loc.line = row->line;
		loc.function = row->function;
		loc.module = row->module;
	}
	db->k.len = 0;
	kb_put(&db->k, &kind, 1);
	if (by == MT_GROUP_LINE) {
		kb_frame(&db->k, loc.file, loc.line, loc.function, loc.module, loc.addr);
	} else {
		loc.frames = frames;
		loc.nr_frames = nr;
		kb_u64(&db->k, nr);
		for (size_t i = 0; i < nr; i++)
			kb_frame(&db->k, frames[i].file, frames[i].line, frames[i].function,
				 frames[i].module, frames[i].addr);
	}
	if (db->k.err)
		return db->k.err;
	hash = mt_hash_bytes(db->k.p, db->k.len);
	for (n = mt_htab__first(&db->h, hash); n; n = mt_htab__next(n)) {
		e = (struct diff_ent *)n;
		if (e->key_len == db->k.len && !memcmp(e->key, db->k.p, db->k.len))
			goto found;
	}
	if (db->nr == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 64;
		struct diff_ent **nv = realloc(db->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		db->v = nv;
		db->cap = cap;
	}
	e = calloc(1, sizeof(*e) + db->k.len);
	if (!e)
		return -ENOMEM;
	e->row = loc;
	e->key_len = db->k.len;
	memcpy(e->key, db->k.p, db->k.len);
	if (mt_htab__add(&db->h, &e->node, hash)) {
		free(e);
		return -ENOMEM;
	}
	db->v[db->nr++] = e;
found:
	if (side_b) {
		e->row.bytes_b += bytes;
		e->row.count_b += count;
	} else {
		e->row.bytes_a += bytes;
		e->row.count_a += count;
	}
	return 0;
}

static int diff_side(struct diff_build *db, enum mt_group_by by, const struct mt_report *r,
		     size_t nr, bool side_b)
{
	int err = 0;

	for (size_t i = 0; i < nr && !err; i++) {
		for (size_t j = 0; j < r[i].nr_rows && !err; j++) {
			const struct mt_row *row = &r[i].rows[j];

			if (!row->nr_stacks) {
				/* line: the row's own location; stack: its representative */
				size_t site = by == MT_GROUP_LINE ? (size_t)-1 : row->site;

				err = diff_add(db, by, row, row->stack, row->nr_stack, site,
					       row->bytes, row->count, side_b);
			}
			for (size_t k = 0; k < row->nr_stacks && !err; k++) {
				const struct mt_row_stack *st = &row->stacks[k];

				err = diff_add(db, by, row, st->frames, st->nr_frames, st->site,
					       st->bytes, st->count, side_b);
			}
		}
	}
	return err;
}

static int str_cmp(const char *x, const char *y)
{
	if (x == y)
		return 0;
	if (!x || !y)
		return x ? -1 : 1;
	return strcmp(x, y);
}

/* Largest growth first, then bytes in B, then count growth, then the key. */
static int ent_cmp(const void *pa, const void *pb)
{
	const struct diff_ent *a = *(struct diff_ent *const *)pa;
	const struct diff_ent *b = *(struct diff_ent *const *)pb;
	int c;

	if (a->row.growth_bytes != b->row.growth_bytes)
		return a->row.growth_bytes > b->row.growth_bytes ? -1 : 1;
	if (a->row.bytes_b != b->row.bytes_b)
		return a->row.bytes_b > b->row.bytes_b ? -1 : 1;
	if (a->row.growth_count != b->row.growth_count)
		return a->row.growth_count > b->row.growth_count ? -1 : 1;
	c = str_cmp(a->row.file, b->row.file);
	if (c)
		return c;
	if (a->row.line != b->row.line)
		return a->row.line < b->row.line ? -1 : 1;
	c = memcmp(a->key, b->key, a->key_len < b->key_len ? a->key_len : b->key_len);
	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static void ent_free(struct mt_hnode *n)
{
	free(n);
}

int mt_diff__build(struct mt_diff *d, const struct mt_report *a, size_t na,
		   const struct mt_report *b, size_t nb, enum mt_group_by by)
{
	struct diff_build db = {0};
	int err;

	memset(d, 0, sizeof(*d));
	if (by != MT_GROUP_LINE && by != MT_GROUP_STACK)
		return -EINVAL;
	err = diff_side(&db, by, a, na, false);
	if (!err)
		err = diff_side(&db, by, b, nb, true);
	if (!err && db.nr && !(d->rows = calloc(db.nr, sizeof(*d->rows))))
		err = -ENOMEM;
	if (err)
		goto out;
	for (size_t i = 0; i < db.nr; i++) {
		struct mt_diff_row *r = &db.v[i]->row;
		bool in_a = r->bytes_a || r->count_a, in_b = r->bytes_b || r->count_b;

		if (!in_a && !in_b) { /* nothing outstanding on either side */
			db.v[i--] = db.v[--db.nr];
			continue;
		}

		r->growth_bytes = r->bytes_b - r->bytes_a;
		r->growth_count = r->count_b - r->count_a;
		r->state =
		    in_a && !in_b ? MT_DIFF_GONE : (!in_a && in_b ? MT_DIFF_NEW : MT_DIFF_BOTH);
		d->bytes_a += r->bytes_a;
		d->bytes_b += r->bytes_b;
		d->count_a += r->count_a;
		d->count_b += r->count_b;
	}
	if (db.nr)
		qsort(db.v, db.nr, sizeof(*db.v), ent_cmp);
	for (size_t i = 0; i < db.nr; i++)
		d->rows[i] = db.v[i]->row;
	d->nr_rows = db.nr;
	d->group_by = by;
	d->nr_a = na;
	d->nr_b = nb;
out:
	mt_htab__clear(&db.h, ent_free);
	free(db.v);
	free(db.k.p);
	return err;
}

void mt_diff__free(struct mt_diff *d)
{
	if (!d)
		return;
	free(d->rows);
	d->rows = NULL;
	d->nr_rows = 0;
}
