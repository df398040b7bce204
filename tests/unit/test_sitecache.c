// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include "test.h"
#include "symbolize/sitecache.h"

static struct mt_frame frame(const char *fn, int line, __u64 addr)
{
	struct mt_frame f = {
	    .function = fn, .file = "a.c", .module = "m", .addr = addr, .line = line};

	return f;
}

/* The frames of the site key at slot, copied out (at most max); 0 when not cached. */
static size_t get(struct mt_site_cache *c, const struct mt_site_key *key, __u32 slot,
		  struct mt_frame *out, size_t max, size_t *site)
{
	const struct mt_frame *table;
	const __u32 *ids;
	size_t n = mt_site_cache__ref(c, key, slot, &table, &ids, site);

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = table[ids[i]];
	return n;
}

MT_TEST(sitecache_put_get_forget)
{
	struct mt_site_cache *c = mt_site_cache__new();
	struct mt_site_key k1 = {.tgid = 1, .caller = 0x100, .stack = 7};
	struct mt_site_key k2 = {.tgid = 2, .caller = 0x100, .stack = 7};
	struct mt_frame in[3] = {frame("f", 10, 0x100), frame("g", 20, 0x200),
				 frame("h", 30, 0x300)};
	struct mt_frame out[8];
	size_t site = 99;

	if (!ASSERT_TRUE(c != NULL, "new"))
		return;
	ASSERT_EQ(get(c, &k1, 1, out, 8, &site), 0, "miss before put");
	ASSERT_OK(mt_site_cache__put(c, &k1, 1, in, 3, 1), "put k1");
	ASSERT_OK(mt_site_cache__put(c, &k2, 2, in, 2, 0), "put k2");
	ASSERT_EQ(get(c, &k1, 1, out, 8, &site), 3, "k1 frames");
	ASSERT_EQ(site, 1, "k1 site");
	ASSERT_STREQ(out[2].function, "h", "k1 frame 2");
	ASSERT_EQ(out[1].line, 20, "k1 frame 1 line");
	ASSERT_EQ(get(c, &k1, 1, out, 2, &site), 2, "truncated to max");
	ASSERT_EQ(get(c, &k2, 2, out, 8, &site), 2, "k2 frames");
	mt_site_cache__forget(c, 1);
	ASSERT_EQ(get(c, &k1, 1, out, 8, &site), 0, "k1 forgotten");
	ASSERT_EQ(get(c, &k2, 2, out, 8, &site), 2, "k2 kept");
	mt_site_cache__free(c);
	mt_site_cache__free(NULL);
}

MT_TEST(sitecache_many)
{
	struct mt_site_cache *c = mt_site_cache__new();
	struct mt_frame in[2], out[4];
	size_t site;

	if (!ASSERT_TRUE(c != NULL, "new"))
		return;
	/* enough sites and frames to grow every table several times */
	for (__u64 i = 0; i < 20000; i++) {
		struct mt_site_key k = {.tgid = 5, .caller = i, .stack = i * 3 + 1};

		in[0] = frame("leaf", (int)(i % 100), 0x1000 + i % 100);
		in[1] = frame("main", 1, 0x9000);
		if (!ASSERT_OK(mt_site_cache__put(c, &k, (__u32)i, in, 2, 0), "put"))
			break;
	}
	for (__u64 i = 0; i < 20000; i += 997) {
		struct mt_site_key k = {.tgid = 5, .caller = i, .stack = i * 3 + 1};

		ASSERT_EQ(get(c, &k, (__u32)i, out, 4, &site), 2, "get");
		ASSERT_EQ(out[0].line, (int)(i % 100), "leaf line");
		ASSERT_EQ(out[0].addr, 0x1000 + i % 100, "leaf addr");
	}
	mt_site_cache__free(c);
}

MT_TEST(sitecache_slot_reuse)
{
	struct mt_site_cache *c = mt_site_cache__new();
	struct mt_site_key k1 = {.tgid = 3, .caller = 0x10, .stack = 1};
	struct mt_site_key k2 = {.tgid = 4, .caller = 0x20, .stack = 3};
	struct mt_frame in[2] = {frame("a", 1, 0x10), frame("b", 2, 0x20)}, out[4];
	size_t site;

	if (!ASSERT_TRUE(c != NULL, "new"))
		return;
	ASSERT_EQ(mt_site_cache__put(c, &k1, MT_NO_SITE, in, 2, 1), -EINVAL, "no slot");
	ASSERT_OK(mt_site_cache__put(c, &k1, 5000, in, 2, 1), "put k1 at slot 5000");
	ASSERT_EQ(get(c, &k1, 5000, out, 4, &site), 2, "k1 at its slot");
	ASSERT_EQ(site, 1, "k1 site");
	ASSERT_EQ(get(c, &k1, 7, out, 4, &site), 0, "k1 not at another slot");
	/* BPF hands the slot to another site: the old entry must not answer for it */
	ASSERT_EQ(get(c, &k2, 5000, out, 4, &site), 0, "k2 not cached yet");
	ASSERT_OK(mt_site_cache__put(c, &k2, 5000, in + 1, 1, 0), "put k2 at slot 5000");
	ASSERT_EQ(get(c, &k2, 5000, out, 4, &site), 1, "k2 at the slot");
	ASSERT_STREQ(out[0].function, "b", "k2 frame");
	ASSERT_EQ(get(c, &k1, 5000, out, 4, &site), 0, "k1 replaced");
	mt_site_cache__forget(c, 4);
	ASSERT_EQ(get(c, &k2, 5000, out, 4, &site), 0, "k2 forgotten");
	mt_site_cache__free(c);
}
