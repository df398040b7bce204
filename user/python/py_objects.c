// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Python objects by type from the GC lists (see py_objects.h).
 *
 * Layout facts (x86-64, GIL builds): a GC-tracked object has a 16-byte
 * PyGC_Head {_gc_next, _gc_prev} in front of it; the low bits of both are
 * flags (collecting/finalized in _gc_prev, "unreachable" during a collection
 * and 3.14's old-space bit in _gc_next), so pointers are masked to 8-byte
 * alignment. The list heads live in the interpreter's GC state: three
 * generations and the permanent one on 3.10-3.13 (+24, +48, +72, +104),
 * young + two old spaces and the permanent one on 3.14 (+24 ... +96) and
 * 3.15 (+8 ... +80): the permanent generation's head is the last.
 * Rather than pin every head's offset, the first bytes of the GC state are
 * scanned for 16-byte list heads: an empty head links to itself, a
 * non-empty one is linked back by both neighbours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/py_objects.h"

#define PAGE 4096ULL
#define CACHE_SLOTS 4096 /* 16 MiB of target pages cached during one walk */
#define PTR_MASK (~7ULL)
#define USER_MAX (1ULL << 47)
#define GC_SCAN 192 /* bytes of the GC state searched for list heads */
#define TYPE_READ 176

/* PyTypeObject (stable from 3.10 to 3.15) */
#define TP_NAME 24
#define TP_BASICSIZE 32
#define TP_ITEMSIZE 40
#define TP_FLAGS 168
#define TPFLAGS_MANAGED_WEAKREF (1UL << 3) /* 3.12+ */
#define TPFLAGS_MANAGED_DICT (1UL << 4)	   /* 3.11+ */
#define TPFLAGS_HAVE_GC (1UL << 14)
#define TPFLAGS_TYPE_SUBCLASS (1UL << 31)
#define OB_TYPE 8
#define OB_SIZE 16

struct walk {
	__u32 version;
	mt_py_read_fn read;
	void *ctx;
	__u64 *tag; /* page address | 1 when the slot holds it */
	unsigned char *data;
	int *slot; /* type hash: index in types + 1, 0 empty */
	size_t nslot, cap;
	struct mt_py_objects *o;
	__u64 walked;
};

static unsigned char *page(struct walk *w, __u64 pg, bool fresh)
{
	size_t i = (pg / PAGE) % CACHE_SLOTS;
	unsigned char *d = w->data + i * PAGE;

	if (!fresh && w->tag[i] == (pg | 1))
		return d;
	w->tag[i] = 0;
	if (w->read(w->ctx, pg, d, PAGE))
		return NULL;
	w->tag[i] = pg | 1;
	return d;
}

/* Read through the page cache; fresh: read the pages again */
static int cread(struct walk *w, __u64 addr, void *buf, size_t len, bool fresh)
{
	unsigned char *out = buf;

	if (!addr || addr >= USER_MAX || len > PAGE || addr + len > USER_MAX)
		return -EFAULT;
	while (len) {
		__u64 pg = addr & ~(PAGE - 1);
		size_t n = PAGE - (addr - pg);
		unsigned char *d;

		if (n > len)
			n = len;
		d = page(w, pg, fresh);
		if (d)
			memcpy(out, d + (addr - pg), n);
		else if (w->read(w->ctx, addr, out, n)) /* a partly mapped page (fake targets) */
			return -EFAULT;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

static __u64 u64_at(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool plausible(__u64 p)
{
	return p && p < USER_MAX && !(p & 7);
}

/* Type name: up to MT_PY_TYPE_NAME - 1 bytes, printable ASCII, never empty */
static void type_name(struct walk *w, __u64 at, char *name)
{
	char raw[MT_PY_TYPE_NAME];
	size_t n = sizeof(raw) - 1, i;

	memset(raw, 0, sizeof(raw));
	while (n && cread(w, at, raw, n, false))
		n /= 2;
	for (i = 0; i < n && raw[i]; i++)
		name[i] = raw[i] > 0x20 && raw[i] < 0x7f ? raw[i] : '?';
	name[i] = 0;
	if (!i)
		strcpy(name, "?");
}

/*
 * The entry of the type at tp, added on first sight; NULL when tp is not a
 * GC type object (or the table is full: counted in dropped_types).
 */
static struct mt_py_type_count *type_of(struct walk *w, __u64 tp, __u64 *basic, __u64 *item,
					__u64 *extra)
{
	unsigned char t[TYPE_READ], meta[8];
	size_t h = (tp >> 4) * 0x9E3779B97F4A7C15ULL % w->nslot;
	struct mt_py_type_count *e;
	__u64 flags, mflags;

	if (!plausible(tp) || cread(w, tp, t, sizeof(t), false))
		return NULL;
	flags = u64_at(t + TP_FLAGS);
	*basic = u64_at(t + TP_BASICSIZE);
	*item = u64_at(t + TP_ITEMSIZE);
	if (!(flags & TPFLAGS_HAVE_GC) || *basic < 16 || *basic > (1 << 20) || *item > (1 << 16) ||
	    !plausible(u64_at(t + OB_TYPE)) ||
	    cread(w, u64_at(t + OB_TYPE) + TP_FLAGS, meta, sizeof(meta), false))
		return NULL;
	mflags = u64_at(meta);
	if (!(mflags & TPFLAGS_TYPE_SUBCLASS))
		return NULL;
	*extra = MT_PY_GC_HEAD;
	/* the pre-header in front of the GC head: managed dict/weakref pointers */
	if ((w->version >= 0x030c0000 &&
	     (flags & (TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF))) ||
	    (w->version >= 0x030b0000 && (flags & TPFLAGS_MANAGED_DICT)))
		*extra += 16;

	for (size_t i = 0; i < w->nslot; i++, h = (h + 1) % w->nslot) {
		if (!w->slot[h])
			break;
		e = &w->o->types[w->slot[h] - 1];
		if (e->type == tp)
			return e;
	}
	if (w->o->nr_types >= MT_PY_MAX_TYPES)
		return NULL;
	if (w->o->nr_types == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		void *n = realloc(w->o->types, cap * sizeof(*w->o->types));

		if (!n)
			return NULL;
		w->o->types = n;
		w->cap = cap;
	}
	e = &w->o->types[w->o->nr_types++];
	memset(e, 0, sizeof(*e));
	e->type = tp;
	type_name(w, u64_at(t + TP_NAME), e->name);
	w->slot[h] = (int)w->o->nr_types;
	return e;
}

/*
 * Count the object whose GC head is at node (its first 32 bytes in n).
 * false: its type pointer is not a GC type object.
 */
static bool count(struct walk *w, __u64 node, const unsigned char *n)
{
	__u64 basic, item, extra, size;
	struct mt_py_type_count *e;
	unsigned char sz[8];

	e = type_of(w, u64_at(n + MT_PY_GC_HEAD + OB_TYPE), &basic, &item, &extra);
	if (!e) {
		if (w->o->nr_types < MT_PY_MAX_TYPES)
			return false;
		w->o->dropped_types++;
		return true;
	}
	size = basic + extra;
	if (item && !cread(w, node + MT_PY_GC_HEAD + OB_SIZE, sz, sizeof(sz), false)) {
		__s64 s = (__s64)u64_at(sz);
		__u64 m = s < 0 ? -(__u64)s : (__u64)s;

		if (m <= (1ULL << 40) / item)
			size += m * item;
	}
	e->count++;
	e->bytes += size;
	w->o->objects++;
	w->o->bytes += size;
	return true;
}

/* Walk the list whose head is at head; returns its length */
static __u64 walk_list(struct walk *w, __u64 head)
{
	unsigned char n[32], h[16];
	__u64 prev = head, cur, len = 0;

	if (cread(w, head, h, sizeof(h), false))
		return 0;
	cur = u64_at(h) & PTR_MASK;
	while (cur != head) {
		bool ok = plausible(cur) && !cread(w, cur, n, sizeof(n), false) &&
			  (u64_at(n + 8) & PTR_MASK) == prev;

		if (!ok) {
			/* racy: read the link again from memory, once */
			w->o->retries++;
			ok = !cread(w, prev, h, sizeof(h), true) &&
			     plausible(cur = u64_at(h) & PTR_MASK) &&
			     (cur == head || (!cread(w, cur, n, sizeof(n), true) &&
					      (u64_at(n + 8) & PTR_MASK) == prev));
			if (!ok) {
				w->o->failures++;
				break;
			}
			if (cur == head)
				break;
		}
		if (++w->walked > MT_PY_MAX_OBJECTS) {
			w->o->failures++;
			break;
		}
		/*
		 * Not an object: a list head the walk ran into, as when a
		 * collection moved this list onto another (its head in the GC
		 * state or on the collector's stack) while it was read. Every
		 * circular list passes through its head, so this also ends
		 * any walk that will not come back to ours.
		 */
		if (!count(w, cur, n)) {
			w->o->retries++;
			if (cread(w, cur, n, sizeof(n), true) ||
			    (u64_at(n + 8) & PTR_MASK) != prev || !count(w, cur, n)) {
				w->o->bad_types++;
				w->o->failures++;
				break;
			}
		}
		len++;
		prev = cur;
		cur = u64_at(n) & PTR_MASK;
	}
	return len;
}

static bool is_head(struct walk *w, __u64 gc, __u64 at, const unsigned char *raw)
{
	__u64 next = u64_at(raw) & PTR_MASK, prev = u64_at(raw + 8) & PTR_MASK;
	unsigned char a[16], b[16];

	if (next == at && prev == at)
		return true;
	if (!plausible(next) || !plausible(prev) || (next >= gc && next < gc + GC_SCAN) ||
	    (prev >= gc && prev < gc + GC_SCAN))
		return false;
	return !cread(w, next, a, sizeof(a), false) && !cread(w, prev, b, sizeof(b), false) &&
	       (u64_at(a + 8) & PTR_MASK) == at && (u64_at(b) & PTR_MASK) == at;
}

int mt_py_objects__walk(__u32 version, __u64 gc, mt_py_read_fn read, void *ctx,
			struct mt_py_objects *out)
{
	struct walk w = {.version = version, .read = read, .ctx = ctx, .o = out};
	unsigned char raw[GC_SCAN];
	int err = 0;

	memset(out, 0, sizeof(*out));
	w.nslot = 2 * MT_PY_MAX_TYPES;
	w.tag = calloc(CACHE_SLOTS, sizeof(*w.tag));
	w.data = malloc(CACHE_SLOTS * PAGE);
	w.slot = calloc(w.nslot, sizeof(*w.slot));
	if (!w.tag || !w.data || !w.slot) {
		err = -ENOMEM;
		goto out;
	}
	if (!plausible(gc) || cread(&w, gc, raw, sizeof(raw), true)) {
		err = -ENOENT;
		goto out;
	}
	for (size_t pos = 0; pos + 16 <= sizeof(raw); pos += 8) {
		__u64 len;

		if (!is_head(&w, gc, gc + pos, raw + pos))
			continue;
		out->lists++;
		len = walk_list(&w, gc + pos);
		/* the last head is the permanent generation's (+104, +96, +80) */
		out->permanent = len;
		pos += 8; /* a head is 16 bytes */
	}
	if (!out->lists)
		err = -ENOENT;
out:
	free(w.tag);
	free(w.data);
	free(w.slot);
	if (err)
		mt_py_objects__free(out);
	return err;
}

static int by_bytes(const void *a, const void *b)
{
	const struct mt_py_type_count *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

void mt_py_objects__sort(struct mt_py_objects *o)
{
	if (o->nr_types)
		qsort(o->types, o->nr_types, sizeof(*o->types), by_bytes);
}

void mt_py_objects__free(struct mt_py_objects *o)
{
	if (!o)
		return;
	free(o->types);
	o->types = NULL;
	o->nr_types = 0;
}

int mt_py_objects__gc_state(const struct mt_py_offsets *off, mt_py_read_fn read, void *ctx,
			    __u64 *gc)
{
	unsigned char b[8];
	__u64 interp, gcoff;
	int err;

	/* interp->gc: per-version tables before 3.13, _Py_DebugOffsets after */
	switch (off->version >> 16) {
	case 0x030a:
		gcoff = 616;
		break;
	case 0x030b:
		gcoff = 648;
		break;
	case 0x030c:
		gcoff = 112;
		break;
	case 0x030d:
	case 0x030e:
	case 0x030f:
		/* interpreter_state.gc in _Py_DebugOffsets: after threads_head (+ threads_main) */
		err = read(ctx, off->runtime + ((off->version >> 16) == 0x030d ? 80 : 88), b,
			   sizeof(b));
		if (err)
			return err;
		gcoff = u64_at(b);
		if (gcoff > (1 << 20) || (gcoff & 7))
			return -EPROTO;
		break;
	default:
		return -EOPNOTSUPP;
	}
	/*
	 * interpreters.main follows interpreters.head on 3.10-3.15: the main
	 * interpreter, where head is the newest (a subinterpreter's)
	 */
	err = read(ctx, off->runtime + off->rt_interp_head + 8, b, sizeof(b));
	if (!err && !plausible(u64_at(b)))
		err = read(ctx, off->runtime + off->rt_interp_head, b, sizeof(b));
	if (err)
		return err;
	interp = u64_at(b);
	if (!plausible(interp))
		return -EPROTO;
	*gc = interp + gcoff;
	return 0;
}
