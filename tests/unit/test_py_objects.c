// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The GC-list walker (python/py_objects.h) against a fake target: type
 * objects, a GC state with list heads and objects laid out in a buffer of
 * our own at a made-up address, read through the callback. Counts and
 * bytes are exact; broken links, garbage type pointers and cycles are
 * counted, never followed.
 */
#include <errno.h>
#include <string.h>
#include <linux/types.h>
#include "python/py_objects.h"
#include "test.h"

#define BASE 0x10000000ULL
#define SIZE 0x4000

static unsigned char mem[SIZE];
/* a racing target: after the first read of it, the word at race_at becomes race_val */
static __u64 race_at, race_val;

static void put(__u64 addr, __u64 v)
{
	memcpy(mem + (addr - BASE), &v, sizeof(v));
}

static int fake_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	(void)ctx;
	if (addr < BASE || addr + len > BASE + SIZE || addr + len < addr)
		return -EFAULT;
	memcpy(buf, mem + (addr - BASE), len);
	if (race_at && race_at >= addr && race_at < addr + len) {
		put(race_at, race_val);
		race_at = 0;
	}
	return 0;
}

#define META (BASE + 0x100)
#define FOO (BASE + 0x200)
#define TUP (BASE + 0x300)
#define NAMES (BASE + 0x400)
#define GC (BASE + 0x800)
#define OBJS (BASE + 0x1000) /* 64 bytes per node */
#define NODE(i) (OBJS + 64 * (i))

static void make_type(__u64 t, __u64 name, const char *s, __u64 basic, __u64 item, __u64 flags)
{
	put(t + 8, META);
	put(t + 24, name);
	put(t + 32, basic);
	put(t + 40, item);
	put(t + 168, flags);
	memcpy(mem + (name - BASE), s, strlen(s) + 1);
}

/* a list at head through nodes idx[0..n) */
static void make_list(__u64 head, const int *idx, int n)
{
	__u64 prev = head;

	for (int i = 0; i < n; i++) {
		put(prev, NODE(idx[i]));
		put(NODE(idx[i]) + 8, prev | (i & 1 ? 2 : 0)); /* a flag bit in _gc_prev */
		prev = NODE(idx[i]);
	}
	put(prev, head);
	put(head + 8, prev);
}

static void make_obj(int i, __u64 type, __s64 size)
{
	put(NODE(i) + 16, 1);	 /* ob_refcnt */
	put(NODE(i) + 24, type); /* ob_type */
	put(NODE(i) + 32, size); /* ob_size */
}

static void make_fake(void)
{
	static const int gen0[] = {0, 1, 2}, gen2[] = {3, 4}, perm[] = {5};

	memset(mem, 0, sizeof(mem));
	make_type(META, NAMES, "type", 400, 40, (1UL << 31) | (1UL << 14));
	make_type(FOO, NAMES + 16, "Foo", 32, 0, 1UL << 14);
	make_type(TUP, NAMES + 32, "tu\x01ple", 24, 8, 1UL << 14);
	for (int i = 0; i < 3; i++)
		make_obj(i, FOO, 0);
	make_obj(3, TUP, 3);
	make_obj(4, TUP, -2);
	make_obj(5, FOO, 0);
	make_list(GC + 24, gen0, 3);
	make_list(GC + 48, NULL, 0);
	make_list(GC + 72, gen2, 2);
	make_list(GC + 104, perm, 1);
}

static const struct mt_py_type_count *find(const struct mt_py_objects *o, const char *name)
{
	for (size_t i = 0; i < o->nr_types; i++)
		if (!strcmp(o->types[i].name, name))
			return &o->types[i];
	return NULL;
}

MT_TEST(py_objects_fake)
{
	const struct mt_py_type_count *foo, *tup;
	struct mt_py_objects o;

	make_fake();
	if (!ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "walk"))
		return;
	ASSERT_EQ(o.lists, 4, "lists");
	ASSERT_EQ(o.objects, 6, "objects");
	ASSERT_EQ(o.permanent, 1, "permanent");
	ASSERT_EQ(o.failures + o.bad_types + o.retries, 0, "no failures");
	foo = find(&o, "Foo");
	tup = find(&o, "tu?ple"); /* sanitized */
	if (ASSERT_TRUE(foo && tup, "types")) {
		ASSERT_EQ(foo->count, 4, "Foo count");
		ASSERT_EQ(foo->bytes, 4 * (32 + 16), "Foo bytes");
		ASSERT_EQ(tup->count, 2, "tuple count");
		ASSERT_EQ(tup->bytes, (24 + 16 + 24) + (24 + 16 + 16), "tuple bytes");
	}
	ASSERT_EQ(o.bytes, 4 * 48 + 120, "bytes");
	mt_py_objects__sort(&o);
	ASSERT_STREQ(o.types[0].name, "Foo", "largest first");
	mt_py_objects__free(&o);
	mt_py_objects__free(&o); /* twice: safe */
	mt_py_objects__free(NULL);
}

MT_TEST(py_objects_hostile)
{
	struct mt_py_objects o;

	/* a broken back link: the rest of that list is dropped and counted */
	make_fake();
	put(NODE(1) + 8, NODE(4));
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "broken link");
	ASSERT_EQ(o.failures, 1, "failures");
	ASSERT_EQ(o.retries, 1, "retried once");
	ASSERT_EQ(o.objects, 1 + 2 + 1, "gen0 cut after its first object");
	mt_py_objects__free(&o);

	/* a cycle that never returns to its head */
	make_fake();
	put(NODE(1), NODE(0));
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "cycle");
	ASSERT_EQ(o.failures, 1, "cycle failures");
	mt_py_objects__free(&o);

	/*
	 * a ring that misses the head, its back links consistent once read
	 * again (the target moved the first node meanwhile): Brent's check
	 * ends the walk, not the 64 M-node cap
	 */
	make_fake();
	put(NODE(2), NODE(0)); /* gen0: head -> 0 -> 1 -> 2 -> 0 ... */
	put(NODE(6), GC + 24); /* and a node 6 that is the head's prev */
	put(GC + 32, NODE(6));
	race_at = NODE(0) + 8;
	race_val = NODE(2);
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "racy ring");
	ASSERT_EQ(race_at, 0, "the target moved");
	ASSERT_TRUE(o.failures >= 1, "ring counted as a failure");
	ASSERT_TRUE(o.objects < 20, "ring not walked round and round");
	mt_py_objects__free(&o);

	/* garbage type pointers (not a type, not GC): the list is cut there */
	make_fake();
	put(NODE(0) + 24, NODE(1));
	put(NODE(1) + 24, 0xdeadbeef0);
	put(TUP + 168, 0);
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "bad types");
	ASSERT_EQ(o.bad_types, 2, "bad_types: gen0 at its first node, gen2 at its tuple");
	ASSERT_EQ(o.failures, 2, "two lists cut");
	ASSERT_EQ(o.objects, 1, "the permanent Foo left");
	mt_py_objects__free(&o);

	/* huge ob_size: bytes stay bounded */
	make_fake();
	make_obj(3, TUP, (__s64)(1ULL << 62));
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "huge size");
	ASSERT_TRUE(o.bytes < (1ULL << 41), "bounded bytes");
	mt_py_objects__free(&o);

	/* no heads at all, unreadable state */
	memset(mem, 0, sizeof(mem));
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), -ENOENT, "no heads");
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, 0x1234560, fake_read, NULL, &o), -ENOENT,
		  "unmapped");
}

/*
 * Untracked objects one level down: a list and a str-keyed dict (3.12
 * layouts); type objects are read 264 bytes long
 */
#define LISTT (BASE + 0x2800)
#define DICTT (BASE + 0x2900)
#define STRT (BASE + 0x2a00)
#define INTT (BASE + 0x2b00)
#define FLOATT (BASE + 0x2c00)
#define BYTEST (BASE + 0x2d00)
#define STR1 (BASE + 0x3400)
#define INT1 (BASE + 0x3480)
#define INT0 (BASE + 0x34c0)
#define FLT (BASE + 0x3500)
#define BYT (BASE + 0x3540)
#define ITEMS (BASE + 0x3600)
#define KEYS (BASE + 0x3700)

static void make_containers(void)
{
	__u64 list = NODE(5) + 16, dict = NODE(4) + 16;
	const __u64 items[] = {STR1, STR1, INT1, FLT, BYT, NODE(0) + 16, 0};

	make_fake();
	make_type(LISTT, NAMES + 48, "list", 40, 0, (1UL << 14) | (1UL << 25));
	make_type(DICTT, NAMES + 64, "dict", 48, 0, (1UL << 14) | (1UL << 29));
	make_type(STRT, NAMES + 80, "str", 64, 0, 1UL << 28);
	make_type(INTT, NAMES + 96, "int", 24, 4, 1UL << 24);
	make_type(FLOATT, NAMES + 112, "float", 24, 0, 0);
	make_type(BYTEST, NAMES + 128, "bytes", 33, 1, 1UL << 27);
	/* "abc": compact ASCII, 40 + 4 bytes */
	put(STR1 + 8, STRT);
	put(STR1 + 16, 3);
	put(STR1 + 32, (1 << 2) | (1 << 5) | (1 << 6));
	put(INT1 + 8, INTT);
	put(INT1 + 16, 2 << 3); /* two digits: 32 bytes */
	put(INT0 + 8, INTT);	/* zero: one digit, 28 bytes */
	put(FLT + 8, FLOATT);
	put(BYT + 8, BYTEST);
	put(BYT + 16, 5); /* 38 bytes */
	/* the permanent Foo becomes a list of 7 items, the str twice */
	put(list + 8, LISTT);
	put(list + 16, 7);
	put(list + 24, ITEMS);
	put(list + 32, 8);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		put(ITEMS + 8 * i, items[i]);
	/* a gen2 tuple becomes {"abc": 0, <deleted>} */
	put(dict + 8, DICTT);
	put(dict + 16, 1);
	put(dict + 32, KEYS);
	put(dict + 40, 0);
	mem[KEYS + 8 - BASE] = 3;  /* 8 slots */
	mem[KEYS + 9 - BASE] = 3;  /* 8 index bytes */
	mem[KEYS + 10 - BASE] = 1; /* str keys: {key, value} entries */
	put(KEYS + 24, 2);
	put(KEYS + 40, STR1);
	put(KEYS + 48, INT0);
}

MT_TEST(py_objects_untracked)
{
	const struct mt_py_type_count *str, *in, *by;
	struct mt_py_objects o;

	make_containers();
	if (!ASSERT_EQ(mt_py_objects__walk(0x030c0000, GC, fake_read, NULL, &o), 0, "walk"))
		return;
	ASSERT_EQ(o.untracked, 5, "str once, two ints, a float, bytes");
	ASSERT_EQ(o.untracked_bytes, 44 + 32 + 28 + 24 + 38, "untracked bytes");
	ASSERT_EQ(o.objects, 6 + 5, "tracked and untracked");
	ASSERT_EQ(o.untracked_dropped + o.containers_cut, 0, "nothing dropped");
	str = find(&o, "str");
	in = find(&o, "int");
	by = find(&o, "bytes");
	if (ASSERT_TRUE(str && in && by, "atom types")) {
		ASSERT_EQ(str->count, 1, "str deduplicated");
		ASSERT_EQ(str->bytes, 44, "str bytes");
		ASSERT_EQ(in->count, 2, "ints");
		ASSERT_EQ(by->bytes, 38, "bytes bytes");
	}
	mt_py_objects__free(&o);

	/* hostile sizes: a list longer than its storage, keys past any bound */
	make_containers();
	put(NODE(5) + 16 + 16, 1ULL << 40);
	put(KEYS + 24, 1ULL << 50);
	ASSERT_EQ(mt_py_objects__walk(0x030c0000, GC, fake_read, NULL, &o), 0, "hostile");
	ASSERT_EQ(o.containers_cut, 2, "both cut");
	ASSERT_EQ(o.untracked, 0, "nothing counted");
	mt_py_objects__free(&o);

	/* a legacy (non-compact) str whose header runs past the mapped memory */
	make_containers();
	put(ITEMS + 8 * 6, BASE + SIZE - 48);
	put(BASE + SIZE - 48 + 8, STRT);
	put(BASE + SIZE - 48 + 16, 3);
	put(BASE + SIZE - 48 + 32, 1 << 2);
	ASSERT_EQ(mt_py_objects__walk(0x030b0000, GC, fake_read, NULL, &o), 0, "short str");
	ASSERT_EQ(o.untracked_dropped, 1, "the short str dropped");
	mt_py_objects__free(&o);
}

MT_TEST(py_objects_gc_state)
{
	struct mt_py_offsets off = {.runtime = BASE, .rt_interp_head = 40, .version = 0x030c0100};
	__u64 gc = 0;

	memset(mem, 0, sizeof(mem));
	put(BASE + 40, BASE + 0x1000);
	ASSERT_EQ(mt_py_objects__gc_state(&off, fake_read, NULL, &gc), 0, "3.12");
	ASSERT_EQ(gc, BASE + 0x1000 + 112, "3.12 gc (head: no main)");
	put(BASE + 48, BASE + 0x2000); /* interpreters.main, not head (a subinterpreter) */
	ASSERT_EQ(mt_py_objects__gc_state(&off, fake_read, NULL, &gc), 0, "3.12 main");
	ASSERT_EQ(gc, BASE + 0x2000 + 112, "3.12 main gc");
	put(BASE + 48, 0);
	off.version = 0x030e0a00;
	put(BASE + 88, 7400);
	ASSERT_EQ(mt_py_objects__gc_state(&off, fake_read, NULL, &gc), 0, "3.14");
	ASSERT_EQ(gc, BASE + 0x1000 + 7400, "3.14 gc");
	put(BASE + 88, 7401);
	ASSERT_EQ(mt_py_objects__gc_state(&off, fake_read, NULL, &gc), -EPROTO, "misaligned");
	off.version = 0x03090000;
	ASSERT_EQ(mt_py_objects__gc_state(&off, fake_read, NULL, &gc), -EOPNOTSUPP, "3.9");
}
