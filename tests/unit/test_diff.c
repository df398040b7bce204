// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* memtrace diff: per line and per stack, order, new and gone, text and JSON. */
#include <errno.h>
#include <stdlib.h>
#include "report/diff.h"
#include "output/output.h"
#include "test.h"

static struct mt_frame f_make[] = {
    {.function = "make", .file = "app.c", .line = 42, .module = "app", .addr = 0x10},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x20},
};
static struct mt_frame f_make2[] = {
    {.function = "make", .file = "app.c", .line = 42, .module = "app", .addr = 0x10},
    {.function = "worker", .file = "app.c", .line = 70, .module = "app", .addr = 0x30},
};
static struct mt_frame f_dup[] = {
    {.function = "xstrdup", .file = "util.c", .line = 10, .module = "app", .addr = 0x40},
};
static struct mt_frame f_bar[] = {{.module = "libbar.so", .addr = 0x7f0012345678}};

/* A: make via main 1000 B / 10, xstrdup 160 B / 2, libbar 64 B / 1 (a row without stacks) */
static struct mt_row_stack a_make[] = {
    {.frames = f_make, .nr_frames = 2, .bytes = 1000, .count = 10}};
static struct mt_row_stack a_dup[] = {{.frames = f_dup, .nr_frames = 1, .bytes = 160, .count = 2}};
/* B: make via main 3000 / 30 and via worker 500 / 5; a new libbar address; xstrdup gone */
static struct mt_row_stack b_make[] = {
    {.frames = f_make, .nr_frames = 2, .bytes = 3000, .count = 30},
    {.frames = f_make2, .nr_frames = 2, .bytes = 500, .count = 5},
};

static void reports(struct mt_report *a, struct mt_row *ra, struct mt_report *b, struct mt_row *rb)
{
	memset(ra, 0, 3 * sizeof(*ra));
	memset(rb, 0, 2 * sizeof(*rb));
	ra[0] = (struct mt_row){.file = "app.c",
				.line = 42,
				.function = "make",
				.module = "app",
				.bytes = 1000,
				.count = 10,
				.stacks = a_make,
				.nr_stacks = 1};
	ra[1] = (struct mt_row){.file = "util.c",
				.line = 10,
				.function = "xstrdup",
				.module = "app",
				.bytes = 160,
				.count = 2,
				.stacks = a_dup,
				.nr_stacks = 1};
	ra[2] = (struct mt_row){
	    .module = "libbar.so", .bytes = 64, .count = 1, .stack = f_bar, .nr_stack = 1};
	rb[0] = (struct mt_row){.file = "app.c",
				.line = 42,
				.function = "make",
				.module = "app",
				.bytes = 3500,
				.count = 35,
				.stacks = b_make,
				.nr_stacks = 2};
	rb[1] = (struct mt_row){
	    .module = "libbar.so", .bytes = 64, .count = 1, .stack = f_bar, .nr_stack = 1};
	*a = (struct mt_report){.pid = 1, .rows = ra, .nr_rows = 3};
	*b = (struct mt_report){.pid = 2, .rows = rb, .nr_rows = 2};
}

static bool row_is(const struct mt_diff_row *r, const char *function, __s64 ba, __s64 bb, __s64 ca,
		   __s64 cb, enum mt_diff_state st, const char *what)
{
	return ASSERT_STREQ(r->function, function, what) && ASSERT_EQ(r->bytes_a, ba, what) &&
	       ASSERT_EQ(r->bytes_b, bb, what) && ASSERT_EQ(r->count_a, ca, what) &&
	       ASSERT_EQ(r->count_b, cb, what) && ASSERT_EQ(r->growth_bytes, bb - ba, what) &&
	       ASSERT_EQ(r->growth_count, cb - ca, what) && ASSERT_EQ(r->state, st, what);
}

static char *render_diff(enum mt_format fmt, const struct mt_diff *d, int *rc)
{
	struct mt_output_cfg cfg = {.format = fmt};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*rc = mt_output__diff(f, &cfg, d);
	fclose(f);
	return buf;
}

/* A line's pymalloc arena and its heap blocks: two diff rows, as in the reports. */
MT_TEST(diff_kinds)
{
	static const struct mt_frame f[] = {{.function = "load", .file = "app.py", .line = 7}};
	struct mt_row ra[1] = {{.file = "app.py",
				.line = 7,
				.function = "load",
				.bytes = 100,
				.count = 1,
				.stack = (struct mt_frame *)f,
				.nr_stack = 1}};
	struct mt_row rb[2] = {ra[0], ra[0]};
	struct mt_report a = {.pid = 1, .rows = ra, .nr_rows = 1};
	struct mt_report b = {.pid = 1, .rows = rb, .nr_rows = 2};
	struct mt_diff d;
	char *out;
	int rc;

	rb[0].kind = MT_SITE_ARENA;
	rb[0].bytes = 1 << 20;
	if (!ASSERT_OK(mt_diff__build(&d, &a, 1, &b, 1, MT_GROUP_LINE), "build") ||
	    !ASSERT_EQ(d.nr_rows, 2, "rows"))
		goto out;
	ASSERT_EQ(d.rows[0].kind, MT_SITE_ARENA, "the arena first (grew)");
	row_is(&d.rows[0], "load", 0, 1 << 20, 0, 1, MT_DIFF_NEW, "arena new");
	ASSERT_EQ(d.rows[1].kind, MT_SITE_HEAP, "heap row");
	row_is(&d.rows[1], "load", 100, 100, 1, 1, MT_DIFF_BOTH, "heap unchanged");
	out = render_diff(MT_FORMAT_TEXT, &d, &rc);
	ASSERT_TRUE(out && strstr(out, "pymalloc arena, first needed at app.py:7 load\n"), "text");
	free(out);
	out = render_diff(MT_FORMAT_JSON, &d, &rc);
	ASSERT_TRUE(out && strstr(out, "\"function\":\"load\",\"module\":null,\"kind\":\"arena\""),
		    "json");
	free(out);
out:
	mt_diff__free(&d);
}

MT_TEST(diff_by_line)
{
	struct mt_row ra[3], rb[2];
	struct mt_report a, b;
	struct mt_diff d;
	char *out;
	int rc;

	reports(&a, ra, &b, rb);
	if (!ASSERT_OK(mt_diff__build(&d, &a, 1, &b, 1, MT_GROUP_LINE), "build") ||
	    !ASSERT_EQ(d.nr_rows, 3, "rows"))
		goto out;
	row_is(&d.rows[0], "make", 1000, 3500, 10, 35, MT_DIFF_BOTH, "both stacks summed");
	row_is(&d.rows[1], NULL, 64, 64, 1, 1, MT_DIFF_BOTH, "row without stacks, unchanged");
	ASSERT_EQ(d.rows[1].addr, 0, "no address for a row's own location");
	row_is(&d.rows[2], "xstrdup", 160, 0, 2, 0, MT_DIFF_GONE, "gone last");
	ASSERT_TRUE(d.rows[0].frames == NULL, "no stack by line");
	ASSERT_EQ(d.bytes_a, 1224, "bytes a");
	ASSERT_EQ(d.bytes_b, 3564, "bytes b");
	d.name_a = "a.ndjson";
	d.name_b = "b.ndjson";
	out = render_diff(MT_FORMAT_TEXT, &d, &rc);
	ASSERT_OK(rc, "text");
	ASSERT_STREQ(out,
		     "memtrace diff: a.ndjson (1 report) -> b.ndjson (1 report), by line\n"
		     "          growth     count     bytes A     bytes B  site\n"
		     "         +2500 B       +25      1000 B      3500 B  app.c:42 make [app]\n"
		     "             0 B        +0        64 B        64 B  [libbar.so 0x0]\n"
		     "gone      -160 B        -2       160 B         0 B  util.c:10 xstrdup [app]\n"
		     "total: A 1224 B in 13, B 3564 B in 36, growth +2340 B, +23 allocations; "
		     "0 new, 1 gone, 2 in both\n",
		     "text diff");
	free(out);
	out = render_diff(MT_FORMAT_JSON, &d, &rc);
	ASSERT_OK(rc, "json");
	ASSERT_STREQ(
	    out,
	    "{\"diff\":{\"a\":\"a.ndjson\",\"b\":\"b.ndjson\"},\"reports_a\":1,"
	    "\"reports_b\":1,\"group_by\":\"line\",\"bytes_a\":1224,\"bytes_b\":3564,"
	    "\"count_a\":13,\"count_b\":36,\"growth_bytes\":2340,\"growth_count\":23,"
	    "\"rows\":[{\"state\":\"both\",\"file\":\"app.c\",\"line\":42,\"function\":"
	    "\"make\",\"module\":\"app\",\"kind\":\"heap\",\"addr\":\"0x10\",\"bytes_a\":1000,"
	    "\"bytes_b\":3500,"
	    "\"count_a\":10,\"count_b\":35,\"growth_bytes\":2500,\"growth_count\":25,"
	    "\"stack\":[]},{\"state\":\"both\",\"file\":null,\"line\":0,\"function\":null,"
	    "\"module\":\"libbar.so\",\"kind\":\"heap\",\"addr\":\"0x0\",\"bytes_a\":64,\"bytes_"
	    "b\":64,"
	    "\"count_a\":1,\"count_b\":1,\"growth_bytes\":0,\"growth_count\":0,\"stack\":[]},"
	    "{\"state\":\"gone\",\"file\":\"util.c\",\"line\":10,\"function\":\"xstrdup\","
	    "\"module\":\"app\",\"kind\":\"heap\",\"addr\":\"0x40\",\"bytes_a\":160,\"bytes_b\":0,"
	    "\"count_a\":2,"
	    "\"count_b\":0,\"growth_bytes\":-160,\"growth_count\":-2,\"stack\":[]}]}\n",
	    "json diff");
	free(out);
	out = render_diff(MT_FORMAT_FOLDED, &d, &rc);
	ASSERT_EQ(rc, -EOPNOTSUPP, "folded has no diff");
	free(out);
out:
	mt_diff__free(&d);
}

MT_TEST(diff_by_stack)
{
	struct mt_row ra[3], rb[2];
	struct mt_report a, b, b2[2];
	struct mt_diff d;
	char *out;
	int rc;

	reports(&a, ra, &b, rb);
	if (!ASSERT_OK(mt_diff__build(&d, &a, 1, &b, 1, MT_GROUP_STACK), "build") ||
	    !ASSERT_EQ(d.nr_rows, 4, "rows"))
		goto out;
	row_is(&d.rows[0], "make", 1000, 3000, 10, 30, MT_DIFF_BOTH, "via main");
	row_is(&d.rows[1], "make", 0, 500, 0, 5, MT_DIFF_NEW, "via worker: new");
	ASSERT_STREQ(d.rows[1].frames[1].function, "worker", "its stack");
	row_is(&d.rows[2], NULL, 64, 64, 1, 1, MT_DIFF_BOTH, "representative stack");
	ASSERT_EQ(d.rows[2].addr, 0x7f0012345678, "its address");
	row_is(&d.rows[3], "xstrdup", 160, 0, 2, 0, MT_DIFF_GONE, "gone");
	out = render_diff(MT_FORMAT_TEXT, &d, &rc);
	ASSERT_TRUE(out && strstr(out, "new       +500 B        +5         0 B       500 B  "
				       "app.c:42 make [app]\n"
				       "    at make (app.c:42) [app]\n"
				       "    at worker (app.c:70) [app]\n"),
		    "stack under its row");
	free(out);
	mt_diff__free(&d);

	/* several processes on one side add up; empty sides are fine */
	b2[0] = b;
	b2[1] = b;
	if (ASSERT_OK(mt_diff__build(&d, NULL, 0, b2, 2, MT_GROUP_LINE), "two processes")) {
		ASSERT_EQ(d.nr_rows, 2, "rows");
		row_is(&d.rows[0], "make", 0, 7000, 0, 70, MT_DIFF_NEW, "summed");
	}
	mt_diff__free(&d);
	ASSERT_OK(mt_diff__build(&d, NULL, 0, NULL, 0, MT_GROUP_LINE), "nothing");
	ASSERT_EQ(d.nr_rows, 0, "no rows");
	ASSERT_EQ(mt_diff__build(&d, &a, 1, &b, 1, MT_GROUP_FILE), -EINVAL, "by file");
out:
	mt_diff__free(&d);
}
