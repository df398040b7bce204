// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Aggregation of symbolized sites into groups, with growth tracking.
 *
 * Design:
 * - A group is identified by a key: a byte string that encodes the
 *   attributes of the --group-by mode (strings by content, so frames from
 *   different symbolizers, or re-symbolized ones, still match). Strings are
 *   written as a tag byte (0 = NULL, 1 = present) followed by the text and
 *   its NUL; numbers as 8 raw bytes; each key starts with the site kind
 *   (enum mt_site_kind, one byte: a line's arena and its heap blocks are
 *   two groups), then a letter for the form of the key.
 *   When the attribute a mode groups by is unknown, the key falls back to
 *   function + module, then to module + address:
 *     line:     'L' file line function module
 *     function: (fallback only)
 *     file:     'f' file
 *     stack:    'S' nr_frames, then per frame 'K' function file line module,
 *               or 'A' module addr when neither function nor file is known
 *     fallback: 'F' function module, or 'A' module addr
 * - One open-addressing hash table (linear probing, power-of-two size,
 *   FNV-1a hash of the key) maps keys to groups, so adding a sample costs
 *   O(key length + frames). A group lives across reports: its current sums
 *   are reset by each report, its history (bytes and growth streak at the
 *   previous report) is what growth is computed from. A group without
 *   samples in a report is dropped when that report ends: a vanished group
 *   is forgotten after one report and is "new" if it comes back.
 * - Each group keeps a copy of the frame array of its largest-bytes sample
 *   (first one on ties; the strings are not copied). At the end of a report
 *   the rows shown take over these copies; the others are freed, so between
 *   reports only keys and history remain (keep_stacks is therefore not
 *   needed and ignored).
 * - Each group also keeps every distinct stack of its samples (samples
 *   whose frames compare equal share one, their bytes and counts summed):
 *   one node per stack in a hash table of the aggregator keyed by the
 *   group and the frames' contents, chained per group. The rows shown
 *   take them over as arrays; the rest is freed when the report ends.
 * - Counts are summed in MT_COUNT_ONE fixed point and rounded half up only
 *   when a row is built; total_count is the rounded sum over all groups.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "lib/htab.h"
#include "report/aggregate.h"

struct mt_group;

/* One distinct stack of a group in this report; see the design comment. */
struct agg_stack {
	struct mt_hnode node; /* in mt_agg.stacks */
	const struct mt_group *g;
	struct agg_stack *next; /* the group's next stack */
	size_t seq;		/* order of arrival, for a stable sort */
	struct mt_frame *frames;
	size_t nr_frames, site;
	__s64 bytes, count_q;
};

struct mt_group {
	__u64 hash;
	enum mt_site_kind kind;
	/* this report */
	__s64 bytes;
	__s64 count_q;
	__u64 alloc_bytes;
	__u64 alloc_count_q;
	__s64 rep_bytes;      /* bytes of the sample rep was copied from */
	struct mt_frame *rep; /* representative stack, owned */
	size_t nr_rep, rep_cap, rep_site;
	struct agg_stack *stacks; /* this report's, nodes owned by mt_agg.stacks */
	size_t nr_stacks;
	unsigned int streak; /* growth streak, computed by mt_agg__end */
	bool seen;	     /* has a sample in this report */
	bool program;	     /* one of this report's samples is the program's (not runtime) */
	/* the previous report */
	bool in_prev;
	__s64 prev_bytes;
	unsigned int prev_streak;
	size_t key_len;
	unsigned char key[];
};

/*
 * The group of a site frame seen in this report, by the frame's strings'
 * addresses: symbolizers intern their strings, so the same addresses mean
 * the same key, and a hit skips encoding and hashing it. Only for the
 * modes whose key comes from the site frame alone (not stack).
 */
#define AGG_MEMO 256

struct agg_memo {
	const char *file, *function, *module;
	__u64 addr;
	int line;
	enum mt_site_kind kind;
	struct mt_group *g; /* NULL: empty */
};

struct mt_agg {
	struct mt_agg_opts opts;
	struct agg_memo memo[AGG_MEMO]; /* cleared by mt_agg__begin */
	struct mt_group **groups;	/* every group, in insertion order */
	size_t nr_groups, groups_cap;
	struct mt_group **slots; /* hash table, NULL = empty slot */
	size_t nr_slots;	 /* 0 or a power of two */
	unsigned char *kbuf;	 /* key of the sample being added */
	size_t kbuf_len, kbuf_cap;
	int kbuf_err;
	__s64 prev_total;
	unsigned int seq;
	struct mt_htab stacks; /* struct agg_stack of this report's groups */
};

/* A group on its way to becoming a row. */
struct agg_ent {
	struct mt_row row;
	__s64 count_q;
	struct mt_group *g;
};

#define AGG_MIN_SLOTS 64

static const struct mt_frame unknown_frame;

/* Frame i of a sample's stack. */
static const struct mt_frame *sample__frame(const struct mt_sample *s, size_t i)
{
	return &s->frames[s->ids ? s->ids[i] : i];
}

static __u64 key_hash(const unsigned char *p, size_t n)
{
	__u64 h = 0xcbf29ce484222325ULL; /* FNV-1a offset basis and prime */

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Round a fixed-point count half up (towards +inf on .5), also below zero. */
static __s64 count_round(__s64 q)
{
	__s64 t = q + (__s64)(MT_COUNT_ONE / 2);

	/* floor division: C division truncates towards zero */
	return t >= 0 ? t / (__s64)MT_COUNT_ONE
		      : -((-t + (__s64)MT_COUNT_ONE - 1) / (__s64)MT_COUNT_ONE);
}

static __u64 ucount_round(__u64 q)
{
	return (q + MT_COUNT_ONE / 2) >> MT_COUNT_SHIFT;
}

static void key__put(struct mt_agg *a, const void *p, size_t n)
{
	if (a->kbuf_err)
		return;
	if (a->kbuf_len + n > a->kbuf_cap) {
		size_t cap = a->kbuf_cap ? a->kbuf_cap * 2 : 256;
		unsigned char *nb;

		while (cap < a->kbuf_len + n)
			cap *= 2;
		nb = realloc(a->kbuf, cap);
		if (!nb) {
			a->kbuf_err = -ENOMEM;
			return;
		}
		a->kbuf = nb;
		a->kbuf_cap = cap;
	}
	memcpy(a->kbuf + a->kbuf_len, p, n);
	a->kbuf_len += n;
}

static void key__tag(struct mt_agg *a, char tag)
{
	key__put(a, &tag, 1);
}

static void key__str(struct mt_agg *a, const char *s)
{
	key__tag(a, s ? 1 : 0);
	if (s)
		key__put(a, s, strlen(s) + 1);
}

static void key__u64(struct mt_agg *a, __u64 v)
{
	key__put(a, &v, sizeof(v));
}

static void key__fallback(struct mt_agg *a, const struct mt_frame *f)
{
	if (f->function) {
		key__tag(a, 'F');
		key__str(a, f->function);
		key__str(a, f->module);
	} else {
		key__tag(a, 'A');
		key__str(a, f->module);
		key__u64(a, f->addr);
	}
}

/* Encode the key of sample s into a->kbuf; see the design comment. */
static int agg__make_key(struct mt_agg *a, const struct mt_sample *s, const struct mt_frame *site)
{
	unsigned char kind = (unsigned char)s->kind;

	a->kbuf_len = 0;
	a->kbuf_err = 0;
	key__put(a, &kind, 1);
	switch (a->opts.group_by) {
	case MT_GROUP_LINE:
		if (!site->file) {
			key__fallback(a, site);
			break;
		}
		key__tag(a, 'L');
		key__str(a, site->file);
		key__u64(a, (__u64)(__s64)site->line);
		key__str(a, site->function);
		key__str(a, site->module);
		break;
	case MT_GROUP_FUNCTION:
		key__fallback(a, site);
		break;
	case MT_GROUP_FILE:
		if (!site->file) {
			key__fallback(a, site);
			break;
		}
		key__tag(a, 'f');
		key__str(a, site->file);
		break;
	case MT_GROUP_STACK:
		key__tag(a, 'S');
		key__u64(a, s->nr_frames);
		for (size_t i = 0; i < s->nr_frames; i++) {
			const struct mt_frame *f = sample__frame(s, i);

			if (!f->function && !f->file) {
				key__tag(a, 'A');
				key__str(a, f->module);
				key__u64(a, f->addr);
				continue;
			}
			key__tag(a, 'K');
			key__str(a, f->function);
			key__str(a, f->file);
			key__u64(a, (__u64)(__s64)f->line);
			key__str(a, f->module);
		}
		break;
	}
	return a->kbuf_err;
}

static struct mt_group **agg__slot(struct mt_agg *a, __u64 hash, const unsigned char *key,
				   size_t len)
{
	size_t mask = a->nr_slots - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct mt_group *g = a->slots[i];

		if (!g || (g->hash == hash && g->key_len == len && !memcmp(g->key, key, len)))
			return &a->slots[i];
	}
}

static void agg__rehash(struct mt_agg *a)
{
	memset(a->slots, 0, a->nr_slots * sizeof(*a->slots));
	for (size_t i = 0; i < a->nr_groups; i++) {
		struct mt_group *g = a->groups[i];

		*agg__slot(a, g->hash, g->key, g->key_len) = g;
	}
}

/* Make room for one more group: the group list and a table at most 70% full. */
static int agg__reserve(struct mt_agg *a)
{
	if (a->nr_groups == a->groups_cap) {
		size_t cap = a->groups_cap ? a->groups_cap * 2 : AGG_MIN_SLOTS;
		struct mt_group **ng = realloc(a->groups, cap * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		a->groups = ng;
		a->groups_cap = cap;
	}
	if ((a->nr_groups + 1) * 10 > a->nr_slots * 7) {
		size_t n = a->nr_slots ? a->nr_slots * 2 : AGG_MIN_SLOTS;
		struct mt_group **ns = calloc(n, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		free(a->slots);
		a->slots = ns;
		a->nr_slots = n;
		agg__rehash(a);
	}
	return 0;
}

static void stack__free(struct mt_hnode *n)
{
	struct agg_stack *st = (struct agg_stack *)n;

	free(st->frames);
	free(st);
}

/* Free every group's stacks: before groups are reset or freed. */
static void agg__drop_stacks(struct mt_agg *a)
{
	mt_htab__clear(&a->stacks, stack__free);
	for (size_t i = 0; i < a->nr_groups; i++) {
		a->groups[i]->stacks = NULL;
		a->groups[i]->nr_stacks = 0;
	}
}

static void group__reset(struct mt_group *g)
{
	free(g->rep);
	g->rep = NULL;
	g->nr_rep = g->rep_cap = g->rep_site = 0;
	g->bytes = g->count_q = g->rep_bytes = 0;
	g->alloc_bytes = g->alloc_count_q = 0;
	g->streak = 0;
	g->seen = false;
}

static void group__free(struct mt_group *g)
{
	if (!g)
		return;
	free(g->rep);
	free(g);
}

/* Copy the frame array of s as g's representative stack. */
static int group__set_rep(struct mt_group *g, const struct mt_sample *s)
{
	if (s->nr_frames > g->rep_cap) {
		struct mt_frame *nf = realloc(g->rep, s->nr_frames * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		g->rep = nf;
		g->rep_cap = s->nr_frames;
	}
	for (size_t i = 0; i < s->nr_frames; i++)
		g->rep[i] = *sample__frame(s, i);
	g->nr_rep = s->nr_frames;
	g->rep_site = s->site;
	g->rep_bytes = s->bytes;
	return 0;
}

/*
 * Forget groups that have no history (keep_seen: nor samples of this report),
 * and rebuild the table. Frees what the dropped groups own.
 */
static void agg__prune(struct mt_agg *a, bool keep_seen)
{
	size_t n = 0;

	for (size_t i = 0; i < a->nr_groups; i++) {
		struct mt_group *g = a->groups[i];

		if (g->in_prev || (keep_seen && g->seen))
			a->groups[n++] = g;
		else
			group__free(g);
	}
	a->nr_groups = n;
	if (a->nr_slots)
		agg__rehash(a);
}

struct mt_agg *mt_agg__new(const struct mt_agg_opts *opts)
{
	struct mt_agg *a;

	if (!opts || opts->group_by < MT_GROUP_LINE || opts->group_by > MT_GROUP_STACK ||
	    opts->nr_include > MT_AGG_MAX_FILTERS || opts->nr_exclude > MT_AGG_MAX_FILTERS) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->opts = *opts;
	return a;
}

void mt_agg__free(struct mt_agg *a)
{
	if (!a)
		return;
	agg__drop_stacks(a);
	for (size_t i = 0; i < a->nr_groups; i++)
		group__free(a->groups[i]);
	free(a->groups);
	free(a->slots);
	free(a->kbuf);
	free(a);
}

void mt_agg__begin(struct mt_agg *a)
{
	/* groups that only samples of an unfinished report created go away */
	agg__drop_stacks(a);
	agg__prune(a, false);
	for (size_t i = 0; i < a->nr_groups; i++)
		group__reset(a->groups[i]);
	memset(a->memo, 0, sizeof(a->memo));
}

/* What of sample s's frame f the key of a (non-stack) mode depends on; the rest zeroed. */
static struct agg_memo memo__of(enum mt_group_by by, const struct mt_sample *s,
				const struct mt_frame *f)
{
	struct agg_memo t = {.kind = s->kind};

	if (f->file && by == MT_GROUP_LINE) {
		t.file = f->file;
		t.line = f->line;
		t.function = f->function;
		t.module = f->module;
	} else if (f->file && by == MT_GROUP_FILE) {
		t.file = f->file;
	} else if (f->function) { /* the fallback key */
		t.function = f->function;
		t.module = f->module;
	} else {
		t.module = f->module;
		t.addr = f->addr;
	}
	return t;
}

static struct agg_memo *agg__memo(struct mt_agg *a, const struct agg_memo *t)
{
	__u64 h = (__u64)(unsigned long)t->file * 0x9e3779b97f4a7c15ULL;

	h ^= (__u64)(unsigned long)t->function * 0xc2b2ae3d27d4eb4fULL;
	h ^= ((__u64)(unsigned long)t->module ^ t->addr) * 0x165667b19e3779f9ULL;
	h ^= ((__u64)(unsigned int)t->line ^ (__u64)t->kind << 32) * 0x27d4eb2f165667c5ULL;
	return &a->memo[(h ^ h >> 29 ^ h >> 47) & (AGG_MEMO - 1)];
}

static bool memo__is(const struct agg_memo *m, const struct agg_memo *t)
{
	return m->g && m->file == t->file && m->function == t->function && m->module == t->module &&
	       m->addr == t->addr && m->line == t->line && m->kind == t->kind;
}

/* The group of sample s (site: its line frame), created if new. */
static int agg__group(struct mt_agg *a, const struct mt_sample *s, const struct mt_frame *site,
		      struct mt_group **out)
{
	struct mt_group **slot, *g;
	__u64 hash;
	int err;

	err = agg__make_key(a, s, site);
	if (err)
		return err;
	err = agg__reserve(a);
	if (err)
		return err;
	hash = key_hash(a->kbuf, a->kbuf_len);
	slot = agg__slot(a, hash, a->kbuf, a->kbuf_len);
	g = *slot;
	if (!g) {
		g = calloc(1, sizeof(*g) + a->kbuf_len);
		if (!g)
			return -ENOMEM;
		g->hash = hash;
		g->kind = s->kind;
		g->key_len = a->kbuf_len;
		memcpy(g->key, a->kbuf, a->kbuf_len);
		/* room was reserved above */
		a->groups[a->nr_groups++] = g;
		*slot = g;
	}
	*out = g;
	return 0;
}

static int str_eq(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

/* Frames that make the same stack; the address counts only when nothing else is known. */
static bool frame__same(const struct mt_frame *x, const struct mt_frame *y)
{
	if (x->line != y->line || x->kind != y->kind || x->inlined != y->inlined ||
	    !str_eq(x->function, y->function) || !str_eq(x->file, y->file) ||
	    !str_eq(x->module, y->module))
		return false;
	return x->function || x->file || x->addr == y->addr;
}

static __u64 str_hash(__u64 h, const char *s)
{
	return mt_hash_u64(h ^ (s ? mt_hash_bytes(s, strlen(s)) : 0x5bd1e995));
}

static __u64 stack__hash(const struct mt_group *g, const struct mt_sample *s)
{
	__u64 h = mt_hash_u64((__u64)(unsigned long)g ^ s->site);

	for (size_t i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *f = sample__frame(s, i);

		h = str_hash(h, f->function);
		h = str_hash(h, f->file);
		h = str_hash(h, f->module);
		h = mt_hash_u64(h ^ (__u64)(unsigned int)f->line ^ (__u64)f->kind << 32 ^
				(__u64)f->inlined << 40);
		if (!f->function && !f->file)
			h = mt_hash_u64(h ^ f->addr);
	}
	return h;
}

static bool stack__is(const struct agg_stack *st, const struct mt_group *g,
		      const struct mt_sample *s)
{
	if (st->g != g || st->nr_frames != s->nr_frames || st->site != s->site)
		return false;
	for (size_t i = 0; i < s->nr_frames; i++) {
		if (!frame__same(&st->frames[i], sample__frame(s, i)))
			return false;
	}
	return true;
}

/* Add sample s to the stacks of group g. 0 or -ENOMEM. */
static int group__add_stack(struct mt_agg *a, struct mt_group *g, const struct mt_sample *s)
{
	__u64 hash = stack__hash(g, s);
	struct agg_stack *st;
	struct mt_hnode *n;

	for (n = mt_htab__first(&a->stacks, hash); n; n = mt_htab__next(n)) {
		st = (struct agg_stack *)n;
		if (stack__is(st, g, s)) {
			st->bytes += s->bytes;
			st->count_q += s->count_q;
			return 0;
		}
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (s->nr_frames) {
		st->frames = malloc(s->nr_frames * sizeof(*st->frames));
		if (!st->frames) {
			free(st);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < s->nr_frames; i++)
		st->frames[i] = *sample__frame(s, i);
	st->g = g;
	st->nr_frames = s->nr_frames;
	st->site = s->site;
	st->bytes = s->bytes;
	st->count_q = s->count_q;
	st->seq = g->nr_stacks;
	if (mt_htab__add(&a->stacks, &st->node, hash)) {
		stack__free(&st->node);
		return -ENOMEM;
	}
	st->next = g->stacks;
	g->stacks = st;
	g->nr_stacks++;
	return 0;
}

static bool any_match(const char *const *pats, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (file && !fnmatch(pats[i], file, 0))
			return true;
	return false;
}

/* The file filters of the options: is a sample whose line is in file kept? */
static bool agg__keep(const struct mt_agg *a, const char *file)
{
	const struct mt_agg_opts *o = &a->opts;

	if (any_match(o->exclude, o->nr_exclude, file))
		return false;
	return !o->nr_include || any_match(o->include, o->nr_include, file);
}

int mt_agg__add(struct mt_agg *a, const struct mt_sample *s)
{
	const struct mt_frame *site = &unknown_frame;
	struct agg_memo *m = NULL, t;
	struct mt_group *g;
	int err;

	if ((unsigned int)s->kind >= MT_SITE__MAX)
		return -EINVAL;
	if (s->nr_frames) {
		if (!s->frames || s->site >= s->nr_frames)
			return -EINVAL;
		site = sample__frame(s, s->site);
	}
	if (!agg__keep(a, site->file))
		return 0;
	if (a->opts.group_by != MT_GROUP_STACK) {
		t = memo__of(a->opts.group_by, s, site);
		m = agg__memo(a, &t);
	}
	if (m && memo__is(m, &t)) {
		g = m->g;
	} else {
		err = agg__group(a, s, site, &g);
		if (err)
			return err;
		if (m) {
			*m = t;
			m->g = g;
		}
	}
	/* a new group without samples is pruned later if this fails */
	if (!g->seen || s->bytes > g->rep_bytes) {
		err = group__set_rep(g, s);
		if (err)
			return err;
	}
	err = group__add_stack(a, g, s);
	if (err)
		return err;
	g->program = (g->seen && g->program) || !s->runtime;
	g->seen = true;
	g->bytes += s->bytes;
	g->count_q += s->count_q;
	g->alloc_bytes += s->alloc_bytes;
	g->alloc_count_q += s->alloc_count_q;
	return 0;
}

/* Fill the location fields of a row from its group's representative site frame. */
static void row__set_location(struct mt_row *row, enum mt_group_by by, const struct mt_frame *f)
{
	bool fallback = false;

	switch (by) {
	case MT_GROUP_LINE:
		if (f->file) {
			row->file = f->file;
			row->line = f->line;
			row->function = f->function;
			row->module = f->module;
		} else {
			fallback = true;
		}
		break;
	case MT_GROUP_FUNCTION:
		fallback = true;
		break;
	case MT_GROUP_FILE:
		if (f->file)
			row->file = f->file;
		else
			fallback = true;
		break;
	case MT_GROUP_STACK:
		row->file = f->file;
		row->line = f->line;
		row->function = f->function;
		row->module = f->module;
		break;
	}
	if (fallback) {
		row->function = f->function;
		row->module = f->module;
	}
}

static int str_cmp_null_last(const char *x, const char *y)
{
	if (x == y)
		return 0;
	if (!x)
		return 1;
	if (!y)
		return -1;
	return strcmp(x, y);
}

/* Growing groups first, then bytes and count descending, then the key. */
static int ent_cmp(const void *pa, const void *pb)
{
	const struct agg_ent *ea = pa, *eb = pb;
	const struct mt_row *a = &ea->row, *b = &eb->row;
	bool ga = a->growth_streak >= MT_GROWTH_STREAK_MIN;
	bool gb = b->growth_streak >= MT_GROWTH_STREAK_MIN;
	size_t la = ea->g->key_len, lb = eb->g->key_len;
	int c;

	/* the runtime's own rows after the program's */
	if (a->runtime != b->runtime)
		return a->runtime ? 1 : -1;
	if (ga != gb)
		return ga ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (ea->count_q != eb->count_q)
		return ea->count_q > eb->count_q ? -1 : 1;
	c = str_cmp_null_last(a->file, b->file);
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	c = str_cmp_null_last(a->function, b->function);
	if (c)
		return c;
	c = str_cmp_null_last(a->module, b->module);
	if (c)
		return c;
	/* keys are unique: a total order */
	c = memcmp(ea->g->key, eb->g->key, la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

/* Largest bytes first, then count, then order of arrival. */
static int stack_cmp(const void *pa, const void *pb)
{
	const struct agg_stack *x = *(struct agg_stack *const *)pa;
	const struct agg_stack *y = *(struct agg_stack *const *)pb;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count_q != y->count_q)
		return x->count_q > y->count_q ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Move g's stacks into out (room for g->nr_stacks), sorted; v: scratch of that size. */
static void group__take_stacks(struct mt_group *g, struct agg_stack **v, struct mt_row_stack *out)
{
	size_t n = 0;

	for (struct agg_stack *st = g->stacks; st; st = st->next)
		v[n++] = st;
	qsort(v, n, sizeof(*v), stack_cmp);
	for (size_t i = 0; i < n; i++) {
		out[i].frames = v[i]->frames;
		out[i].nr_frames = v[i]->nr_frames;
		out[i].site = v[i]->site;
		out[i].bytes = v[i]->bytes;
		out[i].count = count_round(v[i]->count_q);
		v[i]->frames = NULL;
	}
}

int mt_agg__end(struct mt_agg *a, struct mt_report *out)
{
	struct mt_row *rows = NULL;
	struct agg_ent *ents = NULL;
	struct agg_stack **scratch = NULL;
	size_t nr_ents = 0, nr_rows, n = 0, max_stacks = 0;
	__s64 total_bytes = 0, total_count_q = 0;
	__s64 kind_bytes[MT_SITE__MAX] = {0}, kind_count_q[MT_SITE__MAX] = {0};

	/* allocate first: past this point nothing can fail */
	for (size_t i = 0; i < a->nr_groups; i++)
		n += a->groups[i]->seen;
	nr_rows = a->opts.top && a->opts.top < n ? a->opts.top : n;
	ents = calloc(n ? n : 1, sizeof(*ents));
	if (nr_rows)
		rows = calloc(nr_rows, sizeof(*rows));
	if (!ents || (nr_rows && !rows)) {
		free(ents);
		free(rows);
		return -ENOMEM;
	}

	for (size_t i = 0; i < a->nr_groups; i++) {
		struct mt_group *g = a->groups[i];
		__s64 prev = g->in_prev ? g->prev_bytes : 0;
		struct agg_ent *e = &ents[nr_ents];
		struct mt_row *row = &e->row;

		if (!g->seen)
			continue;
		total_bytes += g->bytes;
		total_count_q += g->count_q;
		kind_bytes[g->kind] += g->bytes;
		kind_count_q[g->kind] += g->count_q;
		g->streak = g->bytes > prev ? (g->in_prev ? g->prev_streak : 0) + 1 : 0;

		memset(e, 0, sizeof(*e));
		row->kind = g->kind;
		row->bytes = g->bytes;
		row->count = count_round(g->count_q);
		if (row->bytes == 0 && row->count == 0)
			continue; /* not a row, but remembered below */
		row->growth_bytes = g->bytes - prev;
		row->alloc_bytes = g->alloc_bytes;
		row->alloc_count = ucount_round(g->alloc_count_q);
		row->growth_streak = g->streak;
		row->is_new = !g->in_prev;
		row->runtime = !g->program;
		row->site = g->rep_site;
		row__set_location(row, a->opts.group_by,
				  g->rep_site < g->nr_rep ? &g->rep[g->rep_site] : &unknown_frame);
		e->count_q = g->count_q;
		e->g = g;
		nr_ents++;
	}
	if (nr_rows > nr_ents)
		nr_rows = nr_ents;
	qsort(ents, nr_ents, sizeof(*ents), ent_cmp);

	/* the last allocations: the stack arrays of the rows shown */
	for (size_t i = 0; i < nr_rows; i++) {
		size_t k = ents[i].g->nr_stacks;

		max_stacks = k > max_stacks ? k : max_stacks;
		if (k && !(ents[i].row.stacks = calloc(k, sizeof(struct mt_row_stack))))
			goto nomem;
	}
	scratch = malloc((max_stacks ? max_stacks : 1) * sizeof(*scratch));
	if (!scratch)
		goto nomem;
	for (size_t i = 0; i < nr_rows; i++) {
		if (ents[i].row.stacks)
			group__take_stacks(ents[i].g, scratch, ents[i].row.stacks);
		ents[i].row.nr_stacks = ents[i].g->nr_stacks;
	}
	free(scratch);

	/* the rows shown take over their group's representative stack */
	for (size_t i = 0; i < nr_rows; i++) {
		struct mt_group *g = ents[i].g;

		rows[i] = ents[i].row;
		rows[i].stack = g->rep;
		rows[i].nr_stack = g->nr_rep;
		g->rep = NULL;
	}
	free(ents);

	/* history for the next report: exactly the groups of this one */
	agg__drop_stacks(a);
	for (size_t i = 0; i < a->nr_groups; i++) {
		struct mt_group *g = a->groups[i];

		g->in_prev = g->seen;
		g->prev_bytes = g->bytes;
		g->prev_streak = g->streak;
		group__reset(g);
	}
	agg__prune(a, false);

	out->seq = ++a->seq;
	out->group_by = a->opts.group_by;
	out->total_bytes = total_bytes;
	out->total_count = count_round(total_count_q);
	for (int k = 0; k < MT_SITE__MAX; k++) {
		out->kinds[k].bytes = kind_bytes[k];
		out->kinds[k].count = count_round(kind_count_q[k]);
	}
	out->total_growth_bytes = total_bytes - a->prev_total;
	out->nr_groups = nr_ents;
	out->rows = nr_rows ? rows : NULL;
	out->nr_rows = nr_rows;
	if (!nr_rows)
		free(rows);
	a->prev_total = total_bytes;
	return 0;

nomem:
	for (size_t i = 0; i < nr_rows; i++)
		free(ents[i].row.stacks);
	free(ents);
	free(rows);
	return -ENOMEM;
}
