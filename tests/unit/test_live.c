// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live view's pure parts, without a terminal: sorting, sparklines, the
 * rows (the text report's strings), keys, pause and the process picker.
 */
#include <curses.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "output/live.h"
#include "output/output.h"
#include "test.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

MT_TEST(live_sort)
{
	struct mt_live_row rows[] = {
	    {.bytes = 100, .count = 1, .growth = 0, .order = 0},
	    {.bytes = 300, .count = 1, .growth = -5, .order = 1},
	    {.bytes = 200, .count = 9, .growth = 50, .order = 2},
	    {.bytes = 300, .count = 4, .growth = 7, .order = 3},
	};
	static const size_t by_bytes[] = {1, 3, 2, 0}, by_count[] = {2, 3, 0, 1},
			    by_growth[] = {2, 3, 0, 1};

	mt_live__sort(rows, ARRAY_SIZE(rows), MT_LIVE_SORT_BYTES);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		ASSERT_EQ(rows[i].order, by_bytes[i], "bytes, ties in report order");
	mt_live__sort(rows, ARRAY_SIZE(rows), MT_LIVE_SORT_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		ASSERT_EQ(rows[i].order, by_count[i], "count");
	mt_live__sort(rows, ARRAY_SIZE(rows), MT_LIVE_SORT_GROWTH);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		ASSERT_EQ(rows[i].order, by_growth[i], "growth, negative last");
	mt_live__sort(NULL, 0, MT_LIVE_SORT_BYTES); /* nothing to do */
}

MT_TEST(live_sparkline)
{
	const __s64 up[] = {0, 1, 2, 3, 4, 5, 6, 7}, flat[] = {5, 5, 5}, holes[] = {-1, 10, -1, 20},
		    big[] = {0, INT64_MAX};
	char buf[64];

	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), up, 8, false), "_.-:=+*#", "ascii");
	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), up, 8, true),
		     "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588", "utf-8");
	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), flat, 3, false), "___", "all equal");
	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), holes, 4, false), " _ #",
		     "unknown values are spaces");
	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), big, 2, false), "_#", "no overflow");
	ASSERT_STREQ(mt_live__sparkline(buf, sizeof(buf), up, 0, true), "", "empty");
	/* truncated to whole glyphs: 7 bytes hold two 3-byte glyphs */
	ASSERT_STREQ(mt_live__sparkline(buf, 7, up, 8, true), "\u2581\u2582", "whole glyphs");
	ASSERT_STREQ(mt_live__sparkline(buf, 4, up, 8, false), "_.-", "ascii truncated");
}

static struct mt_frame g_frames[] = {
    {.function = "make_buffer", .file = "app.c", .line = 42, .module = "app"},
    {.function = "xstrdup", .file = "util.c", .line = 10, .module = "app"},
    {.module = "libbar.so", .addr = 0x7f0012345678},
};

static void sample_report(struct mt_report *r, struct mt_row *rows, __u32 pid, unsigned int seq)
{
	const struct mt_row w[3] = {
	    {.file = "app.c",
	     .line = 42,
	     .function = "make_buffer",
	     .module = "app",
	     .bytes = 1572864,
	     .count = 1536,
	     .growth_bytes = 524288,
	     .growth_streak = 3,
	     .stack = &g_frames[0],
	     .nr_stack = 1},
	    {.file = "util.c",
	     .line = 10,
	     .function = "xstrdup",
	     .module = "app",
	     .bytes = 4000,
	     .count = 2000,
	     .growth_bytes = 4000,
	     .is_new = true,
	     .stack = &g_frames[1],
	     .nr_stack = 1},
	    {.module = "libbar.so",
	     .bytes = 160,
	     .count = 2,
	     .growth_bytes = -32,
	     .stack = &g_frames[2],
	     .nr_stack = 1},
	};

	memcpy(rows, w, sizeof(w));
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	snprintf(r->comm, sizeof(r->comm), "app%u", pid);
	r->time = 1700000000;
	r->seq = seq;
	r->total_bytes = 1577024;
	r->total_count = 3538;
	r->has_mem = true;
	r->rss_bytes = 8 << 20;
	r->rows = rows;
	r->nr_rows = 3;
	r->nr_groups = 3;
}

MT_TEST(live_rows_as_text)
{
	struct mt_row rows[3];
	struct mt_report r;
	char buf[256], small[12];

	sample_report(&r, rows, 1, 1);
	ASSERT_STREQ(mt_out_text__row(buf, sizeof(buf), &rows[0]),
		     "^    1.5 MiB      1536  +512.0 KiB  app.c:42 make_buffer [app]", "growing");
	ASSERT_STREQ(mt_out_text__row(buf, sizeof(buf), &rows[1]),
		     "      4000 B      2000         new  util.c:10 xstrdup [app]", "new");
	ASSERT_STREQ(mt_out_text__row(buf, sizeof(buf), &rows[2]),
		     "       160 B         2       -32 B  [libbar.so 0x7f0012345678]", "address");
	ASSERT_STREQ(mt_out_text__row(small, sizeof(small), &rows[0]), "^    1.5 Mi",
		     "truncated, terminated");
	ASSERT_STREQ(mt_out_text__columns(buf, sizeof(buf)),
		     "       bytes     count      growth  site", "columns");
}

MT_TEST(live_model)
{
	struct mt_live *lv = mt_live__new();
	const struct mt_live_row *v;
	struct mt_row rows[3];
	struct mt_report r;
	size_t n;

	if (!ASSERT_TRUE(lv != NULL, "mt_live__new"))
		return;
	ASSERT_EQ(mt_live__fd(lv), -1, "no terminal");
	ASSERT_EQ(mt_live__pid(lv), 0, "no report yet");
	ASSERT_EQ(mt_live__key(lv, KEY_RIGHT), MT_LIVE_NONE, "a key without targets");

	sample_report(&r, rows, 100, 1);
	ASSERT_OK(mt_live__report(lv, &r), "report 100");
	sample_report(&r, rows, 200, 1);
	rows[0].bytes = 1; /* pid 200: the bytes order differs */
	ASSERT_OK(mt_live__report(lv, &r), "report 200");
	ASSERT_EQ(mt_live__pid(lv), 100, "the first target shown");

	n = mt_live__rows(lv, &v);
	if (!ASSERT_EQ(n, 3, "rows"))
		goto out;
	ASSERT_TRUE(strstr(v[0].text, "app.c:42") != NULL, "sorted by bytes: app.c:42 first");
	ASSERT_EQ(mt_live__key(lv, 'c'), MT_LIVE_NONE, "c");
	n = mt_live__rows(lv, &v);
	ASSERT_TRUE(strstr(v[0].text, "util.c:10") != NULL, "by count: util.c:10 first");
	mt_live__key(lv, 'g');
	n = mt_live__rows(lv, &v);
	ASSERT_EQ(v[0].growth, 524288, "by growth");
	ASSERT_EQ(v[2].growth, -32, "by growth: shrinking last");

	/* the picker: right, left, wrap-around */
	mt_live__key(lv, '>');
	ASSERT_EQ(mt_live__pid(lv), 200, ">");
	mt_live__key(lv, KEY_RIGHT);
	ASSERT_EQ(mt_live__pid(lv), 100, "wraps");
	mt_live__key(lv, '<');
	ASSERT_EQ(mt_live__pid(lv), 200, "<");
	mt_live__key(lv, 'b');
	n = mt_live__rows(lv, &v);
	ASSERT_TRUE(strstr(v[0].text, "util.c:10") != NULL, "pid 200 by bytes");

	/* paused: a new report is kept, not shown */
	mt_live__key(lv, ' ');
	ASSERT_TRUE(mt_live__paused(lv), "paused");
	sample_report(&r, rows, 200, 2);
	r.nr_rows = 1;
	ASSERT_OK(mt_live__report(lv, &r), "report while paused");
	ASSERT_EQ(mt_live__rows(lv, &v), 3, "the paused view still has 3 rows");
	mt_live__key(lv, ' ');
	ASSERT_FALSE(mt_live__paused(lv), "resumed");
	ASSERT_EQ(mt_live__rows(lv, &v), 1, "resumed: the newest report");

	/* an empty report */
	r.nr_rows = 0;
	r.rows = NULL;
	ASSERT_OK(mt_live__report(lv, &r), "empty report");
	ASSERT_EQ(mt_live__rows(lv, &v), 0, "no rows");
	mt_live__status(lv, "every target exited");
	ASSERT_EQ(mt_live__key(lv, 'q'), MT_LIVE_QUIT, "q quits");
	ASSERT_EQ(mt_live__key(lv, 'Q'), MT_LIVE_QUIT, "Q quits");
out:
	mt_live__free(lv);
	mt_live__free(NULL);
}

MT_TEST(live_start_needs_terminal)
{
	struct mt_live *lv = mt_live__new();
	FILE *f;
	int fd;

	if (!ASSERT_TRUE(lv != NULL, "mt_live__new"))
		return;
	/* stdout on a regular file: refused, fds left as they were */
	fflush(stdout);
	fd = dup(1);
	f = tmpfile();
	if (ASSERT_TRUE(fd >= 0 && f, "dup, tmpfile")) {
		dup2(fileno(f), 1);
		ASSERT_EQ(mt_live__start(lv), -ENOTTY, "stdout not a terminal");
		ASSERT_EQ(mt_live__fd(lv), -1, "not started");
		dup2(fd, 1);
	}
	if (fd >= 0)
		close(fd);
	if (f)
		fclose(f);
	mt_live__free(lv);
}
