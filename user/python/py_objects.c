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
 *
 * Untracked objects, one level down (x86-64, GIL builds, SOURCE: CPython's
 * Include/cpython/ and Include/internal/ headers of each version, sizes
 * checked against sys.getsizeof() by tests/e2e/python.py):
 * - list: ob_size +16, ob_item +24, allocated +32;
 * - tuple: ob_size +16, items inline after the header: +24, +32 on 3.14+
 *   (the cached hash);
 * - set/frozenset: mask +32, table +40 of mask + 1 {key, hash} entries
 *   (a deleted key is the dummy object, whose type is no str/int/...);
 * - dict: ma_keys +32, ma_values +40. Keys on 3.10: dk_size +8,
 *   dk_nentries +32, indices at +40 (1, 2, 4 or 8 bytes each by dk_size),
 *   then {hash, key, value} entries. On 3.11+: dk_log2_size +8,
 *   dk_log2_index_bytes +9, dk_kind +10, dk_nentries +24, indices at +32,
 *   entries after 1 << dk_log2_index_bytes bytes: {hash, key, value} for
 *   the general kind, {key, value} for the str-keyed and split kinds. A
 *   split dict's values are an array at ma_values (+8 on 3.13+, after
 *   capacity/size/embedded/valid bytes); a key counts where its value is
 *   set;
 * - str: length +16, state +32 (kind bits 2-4, compact bit 5, ascii bit 6;
 *   bit 7 "ready" before 3.12). 3.12+: ASCII header 40 bytes, compact 56
 *   (utf8_length +40, utf8 +48), legacy 64 (data +56); before 3.12 the
 *   wstr pointer +40 grows them to 48, 72 (utf8_length +48, utf8 +56,
 *   wstr_length +64), 80 (data +72). sys.getsizeof adds the UTF-8 copy and
 *   the wchar_t copy when they are separate blocks;
 * - int: digit count |ob_size| (+16) before 3.12, lv_tag >> 3 after;
 *   24 + digits x 4 bytes, at least one digit from 3.11 on;
 * - bytes: 33 + ob_size; float: 24 (tp_basicsize and tp_itemsize).
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
#define TYPE_READ 264
#define ATYPE_SLOTS 256 /* untracked-type cache */
#define STR_READ 80	/* the longest str header: legacy, before 3.12 */

/* PyTypeObject (stable from 3.10 to 3.15) */
#define TP_NAME 24
#define TP_BASICSIZE 32
#define TP_ITEMSIZE 40
#define TP_FLAGS 168
#define TPFLAGS_MANAGED_WEAKREF (1UL << 3) /* 3.12+ */
#define TPFLAGS_MANAGED_DICT (1UL << 4)	   /* 3.11+ */
#define TPFLAGS_HEAPTYPE (1UL << 9)
#define TPFLAGS_HAVE_GC (1UL << 14)
#define TPFLAGS_LONG_SUBCLASS (1UL << 24)
#define TPFLAGS_LIST_SUBCLASS (1UL << 25)
#define TPFLAGS_TUPLE_SUBCLASS (1UL << 26)
#define TPFLAGS_BYTES_SUBCLASS (1UL << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define TPFLAGS_DICT_SUBCLASS (1UL << 29)
#define TPFLAGS_TYPE_SUBCLASS (1UL << 31)
#define TP_BASE 256
#define OB_TYPE 8
#define OB_SIZE 16

/* what a type's objects are to the walk (kinds[] beside o->types) */
enum kind {
	K_PLAIN,
	K_LIST, /* containers whose items are looked into */
	K_TUPLE,
	K_DICT,
	K_SET,
	K_STR, /* untracked objects counted through them */
	K_BYTES,
	K_INT,
	K_FLOAT,
};

struct atype {
	__u64 tp;
	__u64 basic, item; /* its tp_basicsize, tp_itemsize */
	int idx;	   /* in o->types, -1: not an untracked kind */
};

struct walk {
	__u32 version;
	mt_py_read_fn read;
	void *ctx;
	__u64 *tag; /* page address | 1 when the slot holds it */
	unsigned char *data;
	int *slot; /* type hash: index in types + 1, 0 empty */
	size_t nslot, cap;
	unsigned char *kinds; /* enum kind of each o->types entry */
	struct mt_py_objects *o;
	__u64 walked;
	struct atype atype[ATYPE_SLOTS]; /* non-GC types seen in containers */
	__u64 *seen;			 /* untracked objects counted: open addressing */
	size_t nseen, seen_cap;		 /* seen_cap: a power of two, or 0 */
	unsigned char buf[PAGE];	 /* container items being read */
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

/* The entry of type tp in o->types, added on first sight (name at name_at); NULL: full */
static struct mt_py_type_count *entry(struct walk *w, __u64 tp, __u64 name_at, enum kind kind)
{
	size_t h = (tp >> 4) * 0x9E3779B97F4A7C15ULL % w->nslot;
	struct mt_py_type_count *e;

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
		n = realloc(w->kinds, cap);
		if (!n)
			return NULL;
		w->kinds = n;
		w->cap = cap;
	}
	w->kinds[w->o->nr_types] = kind;
	e = &w->o->types[w->o->nr_types++];
	memset(e, 0, sizeof(*e));
	e->type = tp;
	type_name(w, name_at, e->name);
	w->slot[h] = (int)w->o->nr_types;
	return e;
}

static enum kind kind_of(const struct walk *w, const struct mt_py_type_count *e)
{
	return w->kinds[e - w->o->types];
}

/* Whether tp or one of its first bases is the built-in type named name */
static bool derives_from(struct walk *w, __u64 tp, const char *name)
{
	for (int depth = 0; depth < 8 && plausible(tp); depth++) {
		unsigned char t[TYPE_READ];
		char got[MT_PY_TYPE_NAME];

		if (cread(w, tp, t, sizeof(t), false))
			return false;
		if (!(u64_at(t + TP_FLAGS) & TPFLAGS_HEAPTYPE)) {
			type_name(w, u64_at(t + TP_NAME), got);
			if (!strcmp(got, name))
				return true;
		}
		tp = u64_at(t + TP_BASE);
	}
	return false;
}

/* A GC type's kind: a container whose items are read, or plain */
static enum kind container_kind(struct walk *w, __u64 tp, __u64 flags)
{
	if (flags & TPFLAGS_LIST_SUBCLASS)
		return K_LIST;
	if (flags & TPFLAGS_TUPLE_SUBCLASS)
		return K_TUPLE;
	if (flags & TPFLAGS_DICT_SUBCLASS)
		return K_DICT;
	if (derives_from(w, tp, "set") || derives_from(w, tp, "frozenset"))
		return K_SET;
	return K_PLAIN;
}

/*
 * The entry of the type at tp, added on first sight; NULL when tp is not a
 * GC type object (or the table is full: counted in dropped_types).
 */
static struct mt_py_type_count *type_of(struct walk *w, __u64 tp, __u64 *basic, __u64 *item,
					__u64 *extra)
{
	unsigned char t[TYPE_READ], meta[8];
	__u64 flags, mflags;
	size_t h = (tp >> 4) * 0x9E3779B97F4A7C15ULL % w->nslot;

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
	/* known already: no kind to work out */
	for (size_t i = 0; i < w->nslot && w->slot[h]; i++, h = (h + 1) % w->nslot)
		if (w->o->types[w->slot[h] - 1].type == tp)
			return &w->o->types[w->slot[h] - 1];
	return entry(w, tp, u64_at(t + TP_NAME), container_kind(w, tp, flags));
}

/*
 * The entry of an untracked type (str, bytes, int, float: built-in, not
 * GC, its subclass flag where it has one), with its sizes; NULL for any
 * other type.
 */
static struct mt_py_type_count *atom_type(struct walk *w, __u64 tp, __u64 *basic, __u64 *item)
{
	struct atype *a = &w->atype[(tp >> 4) % ATYPE_SLOTS];
	struct mt_py_type_count *e;
	unsigned char t[TYPE_READ];
	char name[MT_PY_TYPE_NAME];
	enum kind kind = K_PLAIN;
	__u64 flags;

	if (a->tp == tp) {
		*basic = a->basic;
		*item = a->item;
		return a->idx < 0 ? NULL : &w->o->types[a->idx];
	}
	if (!plausible(tp) || cread(w, tp, t, sizeof(t), false))
		return NULL;
	*basic = a->basic = u64_at(t + TP_BASICSIZE);
	*item = a->item = u64_at(t + TP_ITEMSIZE);
	a->tp = tp;
	a->idx = -1;
	flags = u64_at(t + TP_FLAGS);
	if (flags & (TPFLAGS_HEAPTYPE | TPFLAGS_HAVE_GC) || *basic > 128 || *item > 8)
		return NULL;
	type_name(w, u64_at(t + TP_NAME), name);
	if (!strcmp(name, "str") && (flags & TPFLAGS_UNICODE_SUBCLASS))
		kind = K_STR;
	else if (!strcmp(name, "bytes") && (flags & TPFLAGS_BYTES_SUBCLASS))
		kind = K_BYTES;
	else if (!strcmp(name, "int") && (flags & TPFLAGS_LONG_SUBCLASS))
		kind = K_INT;
	else if (!strcmp(name, "float") && *basic == 24)
		kind = K_FLOAT;
	if (kind == K_PLAIN)
		return NULL;
	e = entry(w, tp, u64_at(t + TP_NAME), kind);
	if (e)
		a->idx = (int)(e - w->o->types);
	return e;
}

static __u64 magnitude(__u64 v)
{
	return (__s64)v < 0 ? -v : v;
}

/*
 * sys.getsizeof() of the str at p (h: its first n bytes, at most STR_READ,
 * n >= 40); 0 when the header read is too short for its form
 */
static __u64 str_size(struct walk *w, __u64 p, const unsigned char *h, size_t n)
{
	bool old = w->version < 0x030c0000; /* the wstr fields */
	__u64 len = u64_at(h + 16), size, data, utf8 = 0, utf8_len = 0, wstr = 0, wlen = len;
	__u32 state;
	unsigned int kind;
	size_t ascii = old ? 48 : 40, compact = old ? 72 : 56;

	memcpy(&state, h + 32, sizeof(state));
	kind = (state >> 2) & 7;
	if (len > (1ULL << 40) || (kind != 1 && kind != 2 && kind != 4) || n < ascii)
		return 0;
	if (old)
		wstr = u64_at(h + 40);
	if ((state & (1 << 5)) && (state & (1 << 6))) { /* compact ASCII */
		size = ascii + len + 1;
		data = p + ascii;
	} else {
		/* compact: the UTF-8 fields (and wstr_length); legacy: the data pointer too */
		if (n < compact + (state & (1 << 5) ? 0 : 8))
			return 0;
		utf8_len = u64_at(h + ascii);
		utf8 = u64_at(h + ascii + 8);
		if (old)
			wlen = u64_at(h + 64);
		if (state & (1 << 5)) {
			size = compact + (len + 1) * kind;
			data = p + compact;
		} else {
			data = u64_at(h + compact);
			size = compact + 8 + (data ? (len + 1) * kind : 0);
		}
		if (utf8 && utf8 != data && utf8_len < (1ULL << 40))
			size += utf8_len + 1;
	}
	/* the wchar_t copy before 3.12 (not ready: always separate) */
	if (wstr && (!(state & (1 << 7)) || wstr != data) && wlen < (1ULL << 40))
		size += (wlen + 1) * 4;
	return size;
}

/* sys.getsizeof() of the untracked object at p of kind; 0: implausible */
static __u64 atom_size(struct walk *w, enum kind kind, __u64 p, __u64 basic, __u64 item)
{
	unsigned char h[STR_READ];
	size_t n = kind == K_STR ? sizeof(h) : 24;
	__u64 m;

	/* a shorter str at the end of a mapping: as much of its header as is there */
	while (cread(w, p, h, n, false))
		if (kind != K_STR || (n -= 8) < 40)
			return 0;
	switch (kind) {
	case K_STR:
		return str_size(w, p, h, n);
	case K_INT:
		m = u64_at(h + OB_SIZE);
		m = w->version >= 0x030c0000 ? m >> 3 : magnitude(m);
		if (!m && w->version >= 0x030b0000)
			m = 1;
		return m > (1ULL << 36) ? 0 : basic + m * item;
	case K_BYTES:
		m = u64_at(h + OB_SIZE);
		return m > (1ULL << 40) ? 0 : basic + m * item;
	default:
		return basic;
	}
}

/* Record p in the set of untracked objects counted; false: it was there (or no room) */
static bool first_sight(struct walk *w, __u64 p, bool *full)
{
	size_t mask, i;

	if (w->nseen * 2 >= w->seen_cap) {
		size_t cap = w->seen_cap ? w->seen_cap * 2 : 1 << 16;
		__u64 *n;

		if (w->nseen >= MT_PY_MAX_UNTRACKED || !(n = calloc(cap, sizeof(*n)))) {
			/* still counted when it is there already */
			*full = true;
		} else {
			for (size_t j = 0; j < w->seen_cap; j++) {
				if (!w->seen[j])
					continue;
				for (i = (w->seen[j] >> 4) * 0x9E3779B97F4A7C15ULL & (cap - 1);
				     n[i]; i = (i + 1) & (cap - 1))
					;
				n[i] = w->seen[j];
			}
			free(w->seen);
			w->seen = n;
			w->seen_cap = cap;
		}
	}
	if (!w->seen_cap)
		return false;
	mask = w->seen_cap - 1;
	for (i = (p >> 4) * 0x9E3779B97F4A7C15ULL & mask; w->seen[i]; i = (i + 1) & mask)
		if (w->seen[i] == p)
			return false;
	if (*full)
		return false;
	w->seen[i] = p;
	w->nseen++;
	return true;
}

/* An item of a container: counted when it is an untracked object seen for the first time */
static void item(struct walk *w, __u64 p)
{
	struct mt_py_type_count *e;
	unsigned char h[16];
	__u64 basic, isz, size;
	bool full = false;

	if (!plausible(p) || cread(w, p, h, sizeof(h), false))
		return;
	e = atom_type(w, u64_at(h + OB_TYPE), &basic, &isz);
	if (!e || !first_sight(w, p, &full)) {
		if (full)
			w->o->untracked_dropped++;
		return;
	}
	size = atom_size(w, kind_of(w, e), p, basic, isz);
	if (!size) {
		w->o->untracked_dropped++;
		return;
	}
	e->count++;
	e->bytes += size;
	w->o->objects++;
	w->o->bytes += size;
	w->o->untracked++;
	w->o->untracked_bytes += size;
}

/*
 * The items of n entries of stride bytes at at: the pointers at +key and
 * +val of each (-1: none); with values, a split dict's value array (the
 * key counts where its value is set). false: a part could not be read.
 */
static bool items(struct walk *w, __u64 at, __u64 n, size_t stride, int key, int val, __u64 values)
{
	size_t per = sizeof(w->buf) / stride;
	__u64 vals[PAGE / 8];

	if (n > MT_PY_MAX_ITEMS)
		return false;
	for (__u64 i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;

		if (cread(w, at + i * stride, w->buf, k * stride, false) ||
		    (values && cread(w, values + i * 8, vals, k * 8, false)))
			return false;
		for (size_t j = 0; j < k; j++) {
			const unsigned char *b = w->buf + j * stride;
			__u64 v;

			if (val < 0 && !values) {
				item(w, u64_at(b + key));
				continue;
			}
			v = values ? vals[j] : u64_at(b + val);
			if (!v)
				continue; /* a deleted entry, or a split key without a value here */
			item(w, u64_at(b + key));
			item(w, v);
		}
	}
	return true;
}

/* A dict's keys and values (d: its first 48 bytes) */
static bool dict_items(struct walk *w, const unsigned char *d)
{
	__u64 keys = u64_at(d + 32), values = u64_at(d + 40), n, at;
	unsigned char k[40];
	size_t stride = 24;
	int key = 8, val = 16;

	if (!plausible(keys) || cread(w, keys, k, sizeof(k), false))
		return false;
	if (w->version < 0x030b0000) {
		__u64 size = u64_at(k + 8);
		size_t ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;

		n = u64_at(k + 32);
		if (size > MT_PY_MAX_ITEMS * 2 || n > size)
			return false;
		at = keys + 40 + size * ix;
	} else {
		unsigned int log2 = k[8], log2_ix = k[9], kind = k[10];

		n = u64_at(k + 24);
		if (log2 > 40 || log2_ix > log2 + 3 || kind > 2 || n > (1ULL << log2))
			return false;
		at = keys + 32 + (1ULL << log2_ix);
		if (kind) {
			stride = 16;
			key = 0;
			val = 8;
		}
	}
	if (values && w->version >= 0x030d0000) {
		unsigned char cap;

		if (cread(w, values, &cap, 1, false))
			return false;
		if (n > cap)
			n = cap;
		values += 8;
	}
	if (values && !plausible(values))
		return false;
	return items(w, at, n, stride, key, values ? -1 : val, values);
}

/* The untracked objects among the items of the container at obj */
static void container(struct walk *w, __u64 obj, enum kind kind)
{
	unsigned char c[48];
	__u64 n;
	bool ok;

	if (cread(w, obj, c, sizeof(c), false)) {
		w->o->containers_cut++;
		return;
	}
	n = u64_at(c + OB_SIZE);
	switch (kind) {
	case K_LIST:
		ok = n <= u64_at(c + 32) && (!n || plausible(u64_at(c + 24))) &&
		     items(w, u64_at(c + 24), n, 8, 0, -1, 0);
		break;
	case K_TUPLE:
		ok = items(w, obj + (w->version >= 0x030e0000 ? 32 : 24), n, 8, 0, -1, 0);
		break;
	case K_SET:
		n = u64_at(c + 32) + 1; /* mask + 1 entries of {key, hash} */
		ok = n && plausible(u64_at(c + 40)) && items(w, u64_at(c + 40), n, 16, 0, -1, 0);
		break;
	case K_DICT:
		ok = dict_items(w, c);
		break;
	default:
		return;
	}
	if (!ok)
		w->o->containers_cut++;
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
	if (kind_of(w, e) != K_PLAIN)
		container(w, node + MT_PY_GC_HEAD, kind_of(w, e));
	return true;
}

/* Walk the list whose head is at head; returns its length */
static __u64 walk_list(struct walk *w, __u64 head)
{
	unsigned char n[32], h[16];
	__u64 prev = head, cur, len = 0, tortoise = 0, power = 1, steps = 0;

	if (cread(w, head, h, sizeof(h), false))
		return 0;
	cur = u64_at(h) & PTR_MASK;
	while (cur != head) {
		bool ok;

		/*
		 * Brent's cycle check: a racy read can close a ring that does
		 * not pass through our head, with consistent back links
		 */
		if (cur == tortoise) {
			w->o->failures++;
			break;
		}
		ok = plausible(cur) && !cread(w, cur, n, sizeof(n), false) &&
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
		if (++steps == power) {
			tortoise = cur;
			power <<= 1;
			steps = 0;
		}
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
	free(w.kinds);
	free(w.seen);
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
