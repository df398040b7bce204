// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Aggregator: grouping per mode, fixed-point counts, growth, order, top. */
#include <errno.h>
#include <stdlib.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "report/aggregate.h"
#include "test.h"

#define FR(fn, fl, ln, mod, ad)                                                             \
	{                                                                                   \
		.function = (fn), .file = (fl), .line = (ln), .module = (mod), .addr = (ad) \
	}
#define FR_INL(fn, fl, ln, mod, ad)                                                          \
	{                                                                                    \
		.function = (fn), .file = (fl), .line = (ln), .module = (mod), .addr = (ad), \
		.inlined = true                                                              \
	}
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#define ONE ((__s64)MT_COUNT_ONE)

/* Stacks used by most tests, innermost first. */
static const struct mt_frame st_buf_main[] = {FR("make_buf", "app.c", 10, "app", 0x1010),
					      FR("main", "app.c", 50, "app", 0x1050)};
static const struct mt_frame st_buf_other[] = {FR("make_buf", "app.c", 10, "app", 0x1010),
					       FR("other", "app.c", 60, "app", 0x1060)};
static const struct mt_frame st_buf12[] = {FR("make_buf", "app.c", 12, "app", 0x1012)};
static const struct mt_frame st_helper10[] = {FR("helper", "app.c", 10, "app", 0x1110)};
static const struct mt_frame st_parse_a[] = {FR("parse", NULL, 0, "libfoo.so", 0x7000)};
static const struct mt_frame st_parse_b[] = {FR("parse", NULL, 0, "libfoo.so", 0x7010)};
static const struct mt_frame st_bar_a[] = {FR(NULL, NULL, 0, "libbar.so", 0x9000),
					   FR("main", "app.c", 50, "app", 0x1050)};
static const struct mt_frame st_bar_b[] = {FR(NULL, NULL, 0, "libbar.so", 0x9010),
					   FR("main", "app.c", 50, "app", 0x1050)};
static const struct mt_frame st_buf_libx[] = {FR("make_buf", "x.c", 3, "libx.so", 0x5000)};

/* A sample of whole allocations; alloc_* are twice the outstanding numbers. */
#define SMPX(st, nr, st_site, b, c)                                                                \
	{                                                                                          \
		.bytes = (b), .count_q = (c)*ONE, .alloc_bytes = (b)*2,                            \
		.alloc_count_q = (c)*2 * ONE, .frames = (st), .nr_frames = (nr), .site = (st_site) \
	}
#define SMP(st, b, c) SMPX(st, ARRAY_SIZE(st), 0, b, c)

static struct mt_sample smp(const struct mt_frame *frames, size_t nr, size_t site, __s64 bytes,
			    __s64 count)
{
	return (struct mt_sample)SMPX(frames, nr, site, bytes, count);
}

/* One report: begin, add every sample, end. */
static bool report(struct mt_agg *a, const struct mt_sample *s, size_t n, struct mt_report *r)
{
	memset(r, 0, sizeof(*r));
	mt_agg__begin(a);
	for (size_t i = 0; i < n; i++) {
		if (!ASSERT_OK(mt_agg__add(a, &s[i]), "mt_agg__add"))
			return false;
	}
	return ASSERT_OK(mt_agg__end(a, r), "mt_agg__end");
}

static struct mt_agg *agg_new(enum mt_group_by by, size_t top)
{
	struct mt_agg_opts o = {.group_by = by, .top = top, .keep_stacks = false};

	return mt_agg__new(&o);
}

/* Row with this location, or NULL (strings compared by content, NULL = NULL). */
static const struct mt_row *find(const struct mt_report *r, const char *file, int line,
				 const char *function, const char *module)
{
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *w = &r->rows[i];

		if (w->line == line &&
		    ((!w->file && !file) || (w->file && file && !strcmp(w->file, file))) &&
		    ((!w->function && !function) ||
		     (w->function && function && !strcmp(w->function, function))) &&
		    ((!w->module && !module) ||
		     (w->module && module && !strcmp(w->module, module))))
			return w;
	}
	return NULL;
}

static bool row_is(const struct mt_row *w, __s64 bytes, __s64 count, const char *what)
{
	if (!ASSERT_TRUE(w != NULL, what))
		return false;
	return ASSERT_EQ(w->bytes, bytes, what) && ASSERT_EQ(w->count, count, what) &&
	       ASSERT_EQ(w->alloc_bytes, 2 * bytes, what) &&
	       ASSERT_EQ(w->alloc_count, 2 * count, what);
}

static const struct mt_sample mixed[] = {
    SMP(st_buf_main, 100, 1), SMP(st_buf_other, 200, 2), SMP(st_buf12, 50, 1),
    SMP(st_helper10, 1, 1),   SMP(st_parse_a, 30, 1),	 SMP(st_parse_b, 40, 1),
    SMP(st_bar_a, 8, 1),      SMP(st_bar_a, 8, 1),	 SMP(st_bar_b, 4, 1),
    SMP(st_buf_libx, 7, 1),
};

MT_TEST(agg_group_line)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_report r;

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, mixed, ARRAY_SIZE(mixed), &r))
		goto out;
	ASSERT_EQ(r.seq, 1, "seq");
	ASSERT_EQ(r.group_by, MT_GROUP_LINE, "group_by");
	ASSERT_EQ(r.nr_groups, 7, "nr_groups");
	ASSERT_EQ(r.nr_rows, 7, "nr_rows");
	ASSERT_EQ(r.total_bytes, 448, "total_bytes");
	ASSERT_EQ(r.total_count, 11, "total_count");
	/* same line, different callers: one group */
	row_is(find(&r, "app.c", 10, "make_buf", "app"), 300, 3, "app.c:10 make_buf");
	row_is(find(&r, "app.c", 12, "make_buf", "app"), 50, 1, "app.c:12");
	/* same file:line, other function (an inlined callee): its own group */
	row_is(find(&r, "app.c", 10, "helper", "app"), 1, 1, "app.c:10 helper");
	/* no file: function + module, whatever the address */
	row_is(find(&r, NULL, 0, "parse", "libfoo.so"), 70, 2, "parse");
	row_is(find(&r, "x.c", 3, "make_buf", "libx.so"), 7, 1, "libx");
	/* nothing but a module: module + address */
	ASSERT_EQ(r.rows[3].bytes, 16, "bar a bytes");
	ASSERT_TRUE(!r.rows[3].file && !r.rows[3].function, "bar a unknown");
	ASSERT_STREQ(r.rows[3].module, "libbar.so", "bar a module");
	ASSERT_EQ(r.rows[3].stack[r.rows[3].site].addr, 0x9000, "bar a addr");
	ASSERT_EQ(r.rows[3].count, 2, "bar a count");
	ASSERT_EQ(r.rows[5].bytes, 4, "bar b bytes");
	ASSERT_EQ(r.rows[5].stack[r.rows[5].site].addr, 0x9010, "bar b addr");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

/* A line's pymalloc arenas and its heap blocks: two groups, and the totals by kind. */
MT_TEST(agg_kinds)
{
	static const struct mt_frame st_py[] = {FR("load", "app.py", 7, NULL, 0x100)};
	struct mt_sample s[] = {
	    SMP(st_py, 5000, 2),
	    SMP(st_py, 2 << 20, 2),
	    SMP(st_py, 3000, 1),
	    SMP(st_buf12, 16384, 1),
	};
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_report r;

	s[1].kind = MT_SITE_ARENA;
	s[3].kind = MT_SITE_RUNTIME;
	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, s, ARRAY_SIZE(s), &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 3, "heap and arena rows of one line, a runtime row");
	ASSERT_EQ(r.rows[0].kind, MT_SITE_ARENA, "the arena row first (largest)");
	ASSERT_STREQ(r.rows[0].file, "app.py", "arena row line");
	ASSERT_EQ(r.rows[0].bytes, 2 << 20, "arena bytes");
	ASSERT_EQ(r.rows[1].kind, MT_SITE_RUNTIME, "runtime row");
	ASSERT_EQ(r.rows[2].kind, MT_SITE_HEAP, "heap row");
	ASSERT_EQ(r.rows[2].bytes, 8000, "heap bytes: the arena not merged in");
	ASSERT_EQ(r.rows[2].count, 3, "heap count");
	ASSERT_EQ(r.kinds[MT_SITE_HEAP].bytes, 8000, "heap total");
	ASSERT_EQ(r.kinds[MT_SITE_ARENA].bytes, 2 << 20, "arena total");
	ASSERT_EQ(r.kinds[MT_SITE_ARENA].count, 2, "arena count");
	ASSERT_EQ(r.kinds[MT_SITE_RUNTIME].bytes, 16384, "runtime total");
	ASSERT_EQ(r.kinds[MT_SITE_MMAP].bytes, 0, "no mappings");
	mt_report__free(&r);
	/* an out-of-range kind is refused */
	s[0].kind = MT_SITE__MAX;
	mt_agg__begin(a);
	ASSERT_EQ(mt_agg__add(a, &s[0]), -EINVAL, "bad kind");
	memset(&r, 0, sizeof(r));
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

/* --include / --exclude: fnmatch on the file of the sample's line, as tracemalloc's Filter. */
MT_TEST(agg_file_filters)
{
	static const struct mt_frame st_py[] = {FR("load", "/srv/app/views.py", 7, NULL, 0x100),
						FR("run", "/srv/app/main.py", 3, NULL, 0x200)};
	static const struct mt_frame st_lib[] = {
	    FR("dumps", "/usr/lib/python3/json/enc.py", 9, NULL, 0x300)};
	const struct mt_sample s[] = {SMP(st_py, 100, 1), SMP(st_lib, 20, 1),
				      SMP(st_parse_a, 3, 1)};
	struct mt_agg_opts o = {.group_by = MT_GROUP_LINE};
	struct mt_agg *a;
	struct mt_report r = {};

	/* include: only the app's files; a native row without a file goes too */
	o.include[o.nr_include++] = "/srv/app/*";
	a = mt_agg__new(&o);
	if (ASSERT_TRUE(a != NULL, "new") && report(a, s, ARRAY_SIZE(s), &r)) {
		ASSERT_EQ(r.nr_rows, 1, "include: one row");
		ASSERT_EQ(r.total_bytes, 100, "include: totals of what is kept");
		ASSERT_STREQ(r.rows[0].file, "/srv/app/views.py", "include: the app's line");
	}
	mt_report__free(&r);
	mt_agg__free(a);

	/* exclude: only the line's own file counts (views.py is called from main.py) */
	o.nr_include = 0;
	o.exclude[o.nr_exclude++] = "*/main.py";
	o.exclude[o.nr_exclude++] = "*/json/*";
	a = mt_agg__new(&o);
	if (ASSERT_TRUE(a != NULL, "new") && report(a, s, ARRAY_SIZE(s), &r)) {
		ASSERT_EQ(r.nr_rows, 2, "exclude: views.py and the native row");
		ASSERT_EQ(r.total_bytes, 103, "exclude: totals");
	}
	mt_report__free(&r);
	mt_agg__free(a);

	o.nr_exclude = MT_AGG_MAX_FILTERS + 1;
	ASSERT_TRUE(mt_agg__new(&o) == NULL, "too many patterns");
}

MT_TEST(agg_group_function)
{
	struct mt_agg *a = agg_new(MT_GROUP_FUNCTION, 0);
	struct mt_report r;

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, mixed, ARRAY_SIZE(mixed), &r))
		goto out;
	ASSERT_EQ(r.group_by, MT_GROUP_FUNCTION, "group_by");
	ASSERT_EQ(r.nr_groups, 6, "nr_groups");
	ASSERT_EQ(r.total_bytes, 448, "total_bytes");
	/* every line of make_buf in app; file and line are not part of the key */
	row_is(find(&r, NULL, 0, "make_buf", "app"), 350, 4, "make_buf app");
	/* same name in another module: another function */
	row_is(find(&r, NULL, 0, "make_buf", "libx.so"), 7, 1, "make_buf libx");
	row_is(find(&r, NULL, 0, "helper", "app"), 1, 1, "helper");
	row_is(find(&r, NULL, 0, "parse", "libfoo.so"), 70, 2, "parse");
	ASSERT_EQ(r.rows[2].bytes, 16, "unknown function, by address");
	ASSERT_EQ(r.rows[3].bytes, 7, "order");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_group_file)
{
	struct mt_agg *a = agg_new(MT_GROUP_FILE, 0);
	struct mt_report r;

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, mixed, ARRAY_SIZE(mixed), &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 5, "nr_groups");
	row_is(find(&r, "app.c", 0, NULL, NULL), 351, 5, "app.c");
	row_is(find(&r, "x.c", 0, NULL, NULL), 7, 1, "x.c");
	/* unknown file: same fallback as the line mode */
	row_is(find(&r, NULL, 0, "parse", "libfoo.so"), 70, 2, "parse");
	ASSERT_EQ(r.rows[0].bytes, 351, "largest first");
	ASSERT_EQ(r.rows[0].nr_stack, 2, "representative stack kept");
	ASSERT_STREQ(r.rows[0].stack[1].function, "other", "largest sample's stack");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_group_stack)
{
	struct mt_agg *a = agg_new(MT_GROUP_STACK, 0);
	const struct mt_sample s[] = {
	    SMP(st_buf_main, 100, 1), SMP(st_buf_main, 100, 1), SMP(st_buf_other, 250, 2),
	    SMP(st_bar_a, 8, 1),      SMP(st_bar_b, 4, 1),	SMP(st_bar_a, 8, 1),
	};
	struct mt_report r;

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, s, ARRAY_SIZE(s), &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 4, "nr_groups");
	/* same site, different callers: different stacks */
	ASSERT_EQ(r.rows[0].bytes, 250, "other stack");
	ASSERT_STREQ(r.rows[0].stack[1].function, "other", "other caller");
	ASSERT_EQ(r.rows[1].bytes, 200, "main stack");
	ASSERT_EQ(r.rows[1].count, 2, "main stack count");
	ASSERT_STREQ(r.rows[1].file, "app.c", "site file");
	ASSERT_EQ(r.rows[1].line, 10, "site line");
	ASSERT_STREQ(r.rows[1].stack[1].function, "main", "main caller");
	/* unknown frames are told apart by address */
	ASSERT_EQ(r.rows[2].bytes, 16, "bar a");
	ASSERT_EQ(r.rows[3].bytes, 4, "bar b");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_fixed_point_rounding)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	const struct mt_frame ra[] = {FR("a", "r.c", 1, "app", 1)};
	const struct mt_frame rb[] = {FR("b", "r.c", 2, "app", 2)};
	const struct mt_frame rc[] = {FR("c", "r.c", 3, "app", 3)};
	const struct mt_frame rd[] = {FR("d", "r.c", 4, "app", 4)};
	struct mt_sample s[] = {
	    /* 0.4 three times: 1.2 -> 1 (rounding each sample would give 0) */
	    {.bytes = 40, .count_q = ONE * 2 / 5, .alloc_count_q = MT_COUNT_ONE / 2},
	    {.bytes = 40, .count_q = ONE * 2 / 5},
	    {.bytes = 40, .count_q = ONE * 2 / 5},
	    /* exactly 1.5 -> 2 (half up) */
	    {.bytes = 30, .count_q = ONE + ONE / 2},
	    /* just below 2.5 -> 2 */
	    {.bytes = 20, .count_q = 2 * ONE + ONE / 2 - 1},
	    /* -1.5 -> -1 (half up, not away from zero) */
	    {.bytes = 10, .count_q = -(ONE + ONE / 2)},
	};
	const struct mt_frame *fr[] = {ra, ra, ra, rb, rc, rd};
	struct mt_report r;

	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		s[i].frames = fr[i];
		s[i].nr_frames = 1;
	}
	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, s, ARRAY_SIZE(s), &r))
		goto out;
	if (!ASSERT_EQ(r.nr_rows, 4, "nr_rows"))
		goto out;
	ASSERT_EQ(r.rows[0].count, 1, "1.2");
	ASSERT_EQ(r.rows[0].alloc_count, 1, "alloc 0.5");
	ASSERT_EQ(r.rows[1].count, 2, "1.5");
	ASSERT_EQ(r.rows[2].count, 2, "2.49998");
	ASSERT_EQ(r.rows[3].count, -1, "-1.5");
	/* total: round(1.2 + 1.5 + 2.49998 - 1.5) = round(3.69998) */
	ASSERT_EQ(r.total_count, 4, "total_count");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_inline_frames)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_agg *as = agg_new(MT_GROUP_STACK, 0);
	/* one return address, expanded: helper inlined into caller */
	const struct mt_frame inl[] = {FR_INL("helper", "util.h", 5, "app", 0x1100),
				       FR("caller", "app.c", 20, "app", 0x1100),
				       FR("main", "app.c", 50, "app", 0x1200)};
	/* same address without inline information */
	const struct mt_frame flat[] = {FR("caller", "app.c", 20, "app", 0x1100),
					FR("main", "app.c", 50, "app", 0x1200)};
	const struct mt_sample s[] = {
	    smp(inl, 3, 0, 64, 1),  /* the inlined line is the site */
	    smp(inl, 3, 1, 32, 1),  /* the symbolizer chose the caller */
	    smp(flat, 2, 0, 16, 1), /* same line as the previous one */
	};
	const struct mt_row *w;
	struct mt_report r = {}, rs = {};

	if (!ASSERT_TRUE(a && as, "mt_agg__new") || !report(a, s, ARRAY_SIZE(s), &r) ||
	    !report(as, s, ARRAY_SIZE(s), &rs))
		goto out;
	ASSERT_EQ(r.nr_rows, 2, "nr_rows");
	w = find(&r, "util.h", 5, "helper", "app");
	if (row_is(w, 64, 1, "inlined site")) {
		ASSERT_EQ(w->site, 0, "site");
		ASSERT_EQ(w->nr_stack, 3, "nr_stack");
		ASSERT_TRUE(w->stack[0].inlined, "inlined frame kept");
		ASSERT_FALSE(w->stack[1].inlined, "caller not inlined");
	}
	w = find(&r, "app.c", 20, "caller", "app");
	if (row_is(w, 48, 2, "caller site")) {
		/* the largest sample's stack, with the site index into it */
		ASSERT_EQ(w->nr_stack, 3, "nr_stack");
		ASSERT_EQ(w->site, 1, "site");
		ASSERT_STREQ(w->stack[w->site].function, "caller", "site frame");
	}
	/* by stack, inline expansion is part of the stack */
	ASSERT_EQ(rs.nr_rows, 2, "stack rows");
	ASSERT_EQ(rs.rows[0].bytes, 96, "inlined stack");
	ASSERT_EQ(rs.rows[1].bytes, 16, "flat stack");
out:
	mt_report__free(&r);
	mt_report__free(&rs);
	mt_agg__free(a);
	mt_agg__free(as);
}

MT_TEST(agg_growth)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	const struct mt_frame fa[] = {FR("a", "g.c", 1, "app", 1)};
	const struct mt_frame fb[] = {FR("b", "g.c", 2, "app", 2)};
	const struct mt_frame fc[] = {FR("c", "g.c", 3, "app", 3)};
	const struct mt_frame fd[] = {FR("d", "g.c", 4, "app", 4)};
	const struct mt_sample r1[] = {SMP(fa, 100, 1), SMP(fb, 50, 1), SMP(fc, 0, 0)};
	const struct mt_sample r2[] = {SMP(fa, 200, 2), SMP(fc, 0, 0), SMP(fd, 10, 1)};
	const struct mt_sample r3[] = {SMP(fa, 300, 3), SMP(fb, 50, 1), SMP(fc, 10, 1),
				       SMP(fd, 10, 1)};
	const struct mt_sample r4[] = {SMP(fa, 250, 2)};
	const struct mt_row *w;
	struct mt_report r = {};

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, r1, ARRAY_SIZE(r1), &r))
		goto out;
	/* report 1: everything is new; an empty group is no row */
	ASSERT_EQ(r.nr_groups, 2, "r1 groups");
	ASSERT_EQ(r.total_bytes, 150, "r1 total");
	ASSERT_EQ(r.total_growth_bytes, 150, "r1 total growth");
	w = find(&r, "g.c", 1, "a", "app");
	if (ASSERT_TRUE(w != NULL, "r1 a")) {
		ASSERT_TRUE(w->is_new, "r1 a new");
		ASSERT_EQ(w->growth_bytes, 100, "r1 a growth");
		ASSERT_EQ(w->growth_streak, 1, "r1 a streak");
	}
	ASSERT_TRUE(find(&r, "g.c", 3, "c", "app") == NULL, "r1 empty group");
	mt_report__free(&r);

	/* report 2: a keeps growing, b vanished, c still empty, d new */
	if (!report(a, r2, ARRAY_SIZE(r2), &r))
		goto out;
	ASSERT_EQ(r.seq, 2, "r2 seq");
	ASSERT_EQ(r.nr_groups, 2, "r2 groups");
	ASSERT_EQ(r.total_bytes, 210, "r2 total");
	ASSERT_EQ(r.total_growth_bytes, 60, "r2 total growth");
	w = &r.rows[0];
	ASSERT_STREQ(w->function, "a", "r2 a first");
	ASSERT_FALSE(w->is_new, "r2 a not new");
	ASSERT_EQ(w->growth_bytes, 100, "r2 a growth");
	ASSERT_EQ(w->growth_streak, 2, "r2 a streak");
	ASSERT_TRUE(find(&r, "g.c", 2, "b", "app") == NULL, "r2 b vanished");
	w = find(&r, "g.c", 4, "d", "app");
	if (ASSERT_TRUE(w != NULL, "r2 d"))
		ASSERT_TRUE(w->is_new && w->growth_streak == 1, "r2 d new");
	mt_report__free(&r);

	/* report 3: b is back (forgotten, so new), c grew from its empty state */
	if (!report(a, r3, ARRAY_SIZE(r3), &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 4, "r3 groups");
	ASSERT_EQ(r.total_bytes, 370, "r3 total");
	ASSERT_EQ(r.total_growth_bytes, 160, "r3 total growth");
	ASSERT_EQ(r.rows[0].growth_streak, 3, "r3 a streak");
	ASSERT_EQ(r.rows[0].growth_bytes, 100, "r3 a growth");
	w = find(&r, "g.c", 2, "b", "app");
	if (ASSERT_TRUE(w != NULL, "r3 b")) {
		ASSERT_TRUE(w->is_new, "r3 b new again");
		ASSERT_EQ(w->growth_bytes, 50, "r3 b growth");
		ASSERT_EQ(w->growth_streak, 1, "r3 b streak");
	}
	w = find(&r, "g.c", 3, "c", "app");
	if (ASSERT_TRUE(w != NULL, "r3 c")) {
		ASSERT_FALSE(w->is_new, "r3 c was there (empty)");
		ASSERT_EQ(w->growth_bytes, 10, "r3 c growth");
		ASSERT_EQ(w->growth_streak, 1, "r3 c streak");
	}
	w = find(&r, "g.c", 4, "d", "app");
	if (ASSERT_TRUE(w != NULL, "r3 d")) {
		ASSERT_FALSE(w->is_new, "r3 d not new");
		ASSERT_EQ(w->growth_bytes, 0, "r3 d unchanged");
		ASSERT_EQ(w->growth_streak, 0, "r3 d streak reset");
	}
	mt_report__free(&r);

	/* report 4: a shrinks, the streak ends */
	if (!report(a, r4, ARRAY_SIZE(r4), &r))
		goto out;
	ASSERT_EQ(r.nr_rows, 1, "r4 rows");
	ASSERT_EQ(r.rows[0].growth_bytes, -50, "r4 a growth");
	ASSERT_EQ(r.rows[0].growth_streak, 0, "r4 a streak");
	ASSERT_EQ(r.total_growth_bytes, 250 - 370, "r4 total growth");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

static const struct mt_frame so_g1[] = {FR("g1", "c.c", 1, "app", 1)};
static const struct mt_frame so_g2[] = {FR("g2", "z.c", 1, "app", 2)};
static const struct mt_frame so_g3[] = {FR("g3", "0.c", 1, "app", 3)};
static const struct mt_frame so_g4[] = {FR("g4", "b.c", 1, "app", 4)};
static const struct mt_frame so_g5[] = {FR("g5", "a.c", 2, "app", 5)};
static const struct mt_frame so_g6[] = {FR("g6", "a.c", 1, "app", 6)};
static const struct mt_frame so_g7[] = {FR("g7", NULL, 0, "app", 7)};
static const struct mt_frame so_g8[] = {FR("g8", "a.c", 1, "app", 8)};

MT_TEST(agg_sort_and_top)
{
	const struct mt_sample r1[] = {
	    SMP(so_g1, 5, 1),	SMP(so_g2, 1000, 1), SMP(so_g3, 500, 5), SMP(so_g4, 500, 7),
	    SMP(so_g5, 500, 7), SMP(so_g6, 500, 7),  SMP(so_g7, 500, 7), SMP(so_g8, 500, 7),
	};
	struct mt_sample r2[ARRAY_SIZE(r1)];
	static const char *const order[] = {"g1", "g2", "g6", "g8", "g5", "g4", "g7", "g3"};
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0), *t = agg_new(MT_GROUP_LINE, 3);
	struct mt_report r = {}, rt = {};

	/* report 2: only g1 grows again, so only g1 "keeps growing" */
	memcpy(r2, r1, sizeof(r1));
	r2[0].bytes = 10;
	if (!ASSERT_TRUE(a && t, "mt_agg__new") || !report(a, r1, ARRAY_SIZE(r1), &r))
		goto out;
	/* first report: bytes, count, then file, line, function; NULL file last */
	ASSERT_STREQ(r.rows[0].function, "g2", "r1 first");
	ASSERT_STREQ(r.rows[7].function, "g1", "r1 last");
	mt_report__free(&r);
	if (!report(a, r2, ARRAY_SIZE(r2), &r) || !ASSERT_EQ(r.nr_rows, 8, "nr_rows"))
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		ASSERT_STREQ(r.rows[i].function, order[i], "order");
	ASSERT_EQ(r.rows[0].growth_streak, 2, "g1 streak");

	/* top 3 of the same: the first three, nr_groups counts all */
	if (!report(t, r1, ARRAY_SIZE(r1), &rt))
		goto out;
	mt_report__free(&rt);
	if (!report(t, r2, ARRAY_SIZE(r2), &rt))
		goto out;
	ASSERT_EQ(rt.nr_rows, 3, "top rows");
	ASSERT_EQ(rt.nr_groups, 8, "top nr_groups");
	ASSERT_EQ(rt.total_bytes, 4010, "top total over every group");
	for (size_t i = 0; i < rt.nr_rows; i++)
		ASSERT_STREQ(rt.rows[i].function, order[i], "top order");
out:
	mt_report__free(&r);
	mt_report__free(&rt);
	mt_agg__free(a);
	mt_agg__free(t);
}

MT_TEST(agg_representative_stack)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_frame buf[2];
	const struct mt_frame third[] = {FR("make_buf", "app.c", 10, "app", 0x1010),
					 FR("third", "app.c", 70, "app", 0x1070)};
	struct mt_sample s = SMP(st_buf_main, 100, 1), s3 = SMP(third, 300, 1);
	struct mt_report r = {};

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new"))
		return;
	mt_agg__begin(a);
	ASSERT_OK(mt_agg__add(a, &s), "add main");
	/* the caller's frame array may be reused right after mt_agg__add */
	memcpy(buf, st_buf_other, sizeof(buf));
	s = smp(buf, 2, 0, 300, 1);
	ASSERT_OK(mt_agg__add(a, &s), "add other");
	memcpy(buf, st_buf_main, sizeof(buf));
	/* a tie keeps the first largest sample */
	ASSERT_OK(mt_agg__add(a, &s3), "add third");
	if (!ASSERT_OK(mt_agg__end(a, &r), "end") || !ASSERT_EQ(r.nr_rows, 1, "rows"))
		goto out;
	ASSERT_EQ(r.rows[0].bytes, 700, "bytes");
	ASSERT_EQ(r.rows[0].nr_stack, 2, "nr_stack");
	ASSERT_STREQ(r.rows[0].stack[1].function, "other", "largest sample's stack");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_begin_drops_samples)
{
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_sample s1 = SMP(st_buf_main, 100, 1), s2 = SMP(st_buf12, 5, 1);
	struct mt_sample s3 = SMP(st_buf_main, 30, 1);
	struct mt_report r = {};

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new"))
		return;
	mt_agg__begin(a);
	ASSERT_OK(mt_agg__add(a, &s1), "add");
	ASSERT_OK(mt_agg__add(a, &s2), "add");
	/* an abandoned report leaves nothing behind */
	mt_agg__begin(a);
	ASSERT_OK(mt_agg__add(a, &s3), "add");
	if (!ASSERT_OK(mt_agg__end(a, &r), "end") || !ASSERT_EQ(r.nr_rows, 1, "rows"))
		goto out;
	ASSERT_EQ(r.seq, 1, "seq");
	ASSERT_EQ(r.rows[0].bytes, 30, "bytes");
	ASSERT_TRUE(r.rows[0].is_new, "new");
	ASSERT_EQ(r.total_growth_bytes, 30, "total growth");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(agg_many_groups)
{
	/* enough groups to grow the table several times; each added twice */
	enum { N = 5000 };
	struct mt_agg *a = agg_new(MT_GROUP_STACK, 10);
	struct mt_frame *fr = calloc(N, sizeof(*fr));
	struct mt_report r = {};
	bool ok = true;

	if (!ASSERT_TRUE(a && fr, "alloc"))
		goto out;
	mt_agg__begin(a);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < N && ok; i++) {
			struct mt_sample s;

			fr[i] = (struct mt_frame)FR(NULL, NULL, 0, "m", 0x1000 + i);
			s = smp(&fr[i], 1, 0, i + 1, 1);
			ok = ASSERT_OK(mt_agg__add(a, &s), "add");
		}
	}
	if (!ok || !ASSERT_OK(mt_agg__end(a, &r), "end"))
		goto out;
	ASSERT_EQ(r.nr_groups, N, "nr_groups");
	ASSERT_EQ(r.nr_rows, 10, "nr_rows");
	ASSERT_EQ(r.rows[0].bytes, 2 * N, "largest");
	ASSERT_EQ(r.rows[0].count, 2, "count");
	ASSERT_EQ(r.total_bytes, (long long)N * (N + 1), "total");
out:
	mt_report__free(&r);
	mt_agg__free(a);
	free(fr);
}

MT_TEST(agg_errors)
{
	struct mt_agg_opts bad = {.group_by = (enum mt_group_by)42};
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_sample s = smp(st_buf_main, 2, 2, 1, 1);
	struct mt_sample none = {.bytes = 3, .count_q = ONE};
	struct mt_report r = {};

	errno = 0;
	ASSERT_TRUE(mt_agg__new(NULL) == NULL && errno == EINVAL, "NULL opts");
	errno = 0;
	ASSERT_TRUE(mt_agg__new(&bad) == NULL && errno == EINVAL, "bad group_by");
	mt_agg__free(NULL);
	mt_report__free(NULL);
	if (!ASSERT_TRUE(a != NULL, "mt_agg__new"))
		return;
	mt_agg__begin(a);
	ASSERT_EQ(mt_agg__add(a, &s), -EINVAL, "site out of range");
	/* no frames at all: one unknown site */
	ASSERT_OK(mt_agg__add(a, &none), "no frames");
	if (ASSERT_OK(mt_agg__end(a, &r), "end") && ASSERT_EQ(r.nr_rows, 1, "rows")) {
		ASSERT_EQ(r.rows[0].bytes, 3, "bytes");
		ASSERT_EQ(r.rows[0].nr_stack, 0, "nr_stack");
		ASSERT_TRUE(!r.rows[0].file && !r.rows[0].function && !r.rows[0].module, "unknown");
	}
	mt_report__free(&r);
	ASSERT_TRUE(r.rows == NULL && r.nr_rows == 0, "freed report is empty");
	mt_report__free(&r);
	mt_agg__free(a);
}

/*
 * Samples that name their frames through a shared table (the site cache's
 * layout), and the memo of site frames: equal strings at other addresses
 * still meet in one group, and the memo never outlives a report.
 */
MT_TEST(agg_shared_frames_and_memo)
{
	static const struct mt_frame table[] = {
	    FR("main", "app.c", 50, "app", 0x1050), FR("make_buf", "app.c", 10, "app", 0x1010),
	    FR("make_buf", "app.c", 10, "app", 0x1018), FR("free_buf", "app.c", 20, "app", 0x1020)};
	static const __u32 ids_a[] = {1, 0}, ids_b[] = {2, 0}, ids_c[] = {3, 0};
	char file2[] = "app.c", fn2[] = "make_buf"; /* same text, other addresses */
	struct mt_frame copy[] = {FR(fn2, file2, 10, "app", 0x1030)};
	struct mt_sample s[4] = {SMPX(table, 2, 0, 100, 1), SMPX(table, 2, 0, 300, 1),
				 SMPX(copy, 1, 0, 5, 1), SMPX(table, 2, 0, 7, 1)};
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	struct mt_report r;
	const struct mt_row *row;

	s[0].ids = ids_a;
	s[1].ids = ids_b;
	s[3].ids = ids_c;
	if (!ASSERT_TRUE(a != NULL, "mt_agg__new") || !report(a, s, 4, &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 2, "two lines");
	row = find(&r, "app.c", 10, "make_buf", "app");
	row_is(row, 405, 3, "app.c:10 from three addresses");
	if (row) {
		/* the representative stack is the largest sample's, read through its ids */
		ASSERT_EQ(row->nr_stack, 2, "rep frames");
		ASSERT_EQ(row->stack[0].addr, 0x1018, "rep is the 300-byte sample");
		ASSERT_STREQ(row->stack[1].function, "main", "rep outer frame");
	}
	row_is(find(&r, "app.c", 20, "free_buf", "app"), 7, 1, "app.c:20");
	mt_report__free(&r);
	/* the next report: free_buf's group is gone; its memo entry must not answer */
	if (!report(a, s, 2, &r))
		goto out;
	ASSERT_EQ(r.nr_groups, 1, "one line left");
	row_is(find(&r, "app.c", 10, "make_buf", "app"), 400, 2, "app.c:10 again");
	mt_report__free(&r);
	if (!report(a, s + 3, 1, &r))
		goto out;
	row_is(find(&r, "app.c", 20, "free_buf", "app"), 7, 1, "app.c:20 back");
out:
	mt_report__free(&r);
	mt_agg__free(a);
}

/* Every stack of a group, merged when the frames are the same, largest first. */
MT_TEST(agg_all_stacks)
{
	/* the same frames as st_buf_main at another address: the same stack */
	static const struct mt_frame buf_main_moved[] = {FR("make_buf", "app.c", 10, "app", 0x2010),
							 FR("main", "app.c", 50, "app", 0x2050)};
	const struct mt_sample s[] = {
	    SMP(st_buf_main, 100, 1), SMP(st_buf_other, 200, 2), SMP(buf_main_moved, 150, 3),
	    SMP(st_bar_a, 8, 1),      SMP(st_bar_b, 4, 1),	 SMP(st_bar_a, 8, 1),
	};
	struct mt_agg *a = agg_new(MT_GROUP_LINE, 0);
	const struct mt_row *w;
	struct mt_report r;

	if (!ASSERT_TRUE(a != NULL, "agg_new") || !report(a, s, ARRAY_SIZE(s), &r))
		goto out;
	w = find(&r, "app.c", 10, "make_buf", "app");
	if (row_is(w, 450, 6, "app.c:10") && ASSERT_EQ(w->nr_stacks, 2, "two stacks")) {
		ASSERT_EQ(w->stacks[0].bytes, 250, "merged stack first");
		ASSERT_EQ(w->stacks[0].count, 4, "merged count");
		ASSERT_EQ(w->stacks[0].nr_frames, 2, "frames");
		ASSERT_STREQ(w->stacks[0].frames[1].function, "main", "caller");
		ASSERT_EQ(w->stacks[0].frames[0].addr, 0x1010, "first sample's address");
		ASSERT_EQ(w->stacks[1].bytes, 200, "other");
		ASSERT_STREQ(w->stacks[1].frames[1].function, "other", "other caller");
	}
	/* frames known by address only differ by address: two stacks */
	w = find(&r, NULL, 0, NULL, "libbar.so");
	if (ASSERT_TRUE(w != NULL, "libbar row") && ASSERT_EQ(w->nr_stacks, 1, "one per row")) {
		ASSERT_EQ(w->stacks[0].bytes, w->bytes, "row is its one stack");
		ASSERT_EQ(w->stacks[0].frames[0].addr, w->stack[w->site].addr, "same address");
	}
	mt_report__free(&r);
	/* the next report starts from nothing */
	if (report(a, s, 1, &r)) {
		ASSERT_EQ(r.nr_rows, 1, "one row");
		ASSERT_EQ(r.rows[0].nr_stacks, 1, "one stack");
		ASSERT_EQ(r.rows[0].stacks[0].bytes, 100, "bytes");
	}
	mt_report__free(&r);
out:
	mt_agg__free(a);
}
