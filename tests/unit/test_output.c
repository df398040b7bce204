// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Output formats: golden text and JSON, escaping, same numbers in both, errors. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "report/aggregate.h"
#include "output/output.h"
#include "test.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

/* Render r into a malloc'd string; NULL on error. */
static char *render(enum mt_format fmt, bool stacks, const char *note, const struct mt_report *r)
{
	struct mt_output_cfg cfg = {.format = fmt, .show_stacks = stacks, .sampling_note = note};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!ASSERT_TRUE(f != NULL, "open_memstream"))
		return NULL;
	err = mt_output__report(f, &cfg, r);
	fclose(f);
	if (!ASSERT_OK(err, "mt_output__report")) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Times are printed in local time: pin the zone. */
static void use_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* Concatenate NULL-terminated arguments into a malloc'd string. */
static char *cat(const char *first, ...)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	va_list ap;

	if (!f)
		return NULL;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		fputs(s, f);
	va_end(ap);
	fclose(f);
	return buf;
}

/*
 * The counter part of a report, written straight from the MT_COUNTERS list
 * so the golden tests follow its changes: the text "drops:" and "events:"
 * lines plus a warning per non-zero drop (json: the two JSON objects).
 */
static char *counter_lines(const __u64 *v, bool json)
{
	char drops[2048] = "", events[2048] = "", warn[2048] = "";
	size_t nd = 0, ne = 0, nw = 0;
	char *out;

#define X(id, name, drop, help)                                                                    \
	if (drop)                                                                                  \
		nd += snprintf(drops + nd, sizeof(drops) - nd,                                     \
			       json ? "%s\"%s\":%llu" : "%s%s=%llu", json ? (nd ? "," : "") : " ", \
			       name, (unsigned long long)v[MT_CNT_##id]);                          \
	else                                                                                       \
		ne += snprintf(events + ne, sizeof(events) - ne,                                   \
			       json ? "%s\"%s\":%llu" : "%s%s=%llu", json ? (ne ? "," : "") : " ", \
			       name, (unsigned long long)v[MT_CNT_##id]);                          \
	if (drop && v[MT_CNT_##id])                                                                \
		nw += snprintf(warn + nw, sizeof(warn) - nw, "warning: %s=%llu: %s\n", name,       \
			       (unsigned long long)v[MT_CNT_##id], help);
	MT_COUNTERS(X)
#undef X
	if (json)
		out = cat("\"drops\":{", drops, "},\"events\":{", events, "}", NULL);
	else
		out = cat("drops:", drops, "\nevents:", events, "\n", warn, NULL);
	ASSERT_TRUE(out != NULL, "counter_lines");
	return out;
}

MT_TEST(out_bytes_format)
{
	static const struct {
		__s64 v;
		bool sign;
		const char *s;
	} cases[] = {
	    {0, false, "0 B"},
	    {0, true, "0 B"},
	    {24, false, "24 B"},
	    {10239, false, "10239 B"},
	    {10240, false, "10.0 KiB"},
	    {10291, false, "10.0 KiB"},
	    {10292, false, "10.1 KiB"}, /* 10.05 KiB: half up */
	    {1536 * 1024, false, "1.5 MiB"},
	    {1048575, false, "1.0 MiB"}, /* never "1024.0 KiB" */
	    {5LL << 30, false, "5.0 GiB"},
	    {3LL << 40, false, "3.0 TiB"},
	    {1LL << 52, false, "4096.0 TiB"},
	    {-512, true, "-512 B"},
	    {512, true, "+512 B"},
	    {12288, true, "+12.0 KiB"},
	    {-12288, false, "-12.0 KiB"},
	    {INT64_MIN, true, "-8388608.0 TiB"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ASSERT_STREQ(mt_bytes__format(buf, sizeof(buf), cases[i].v, cases[i].sign),
			     cases[i].s, "mt_bytes__format");
}

MT_TEST(out_counter_names)
{
	ASSERT_STREQ(mt_counter__name(MT_CNT_ALLOCS_FULL), "allocs_map_full", "name");
	ASSERT_STREQ(mt_counter__help(MT_CNT_ALLOCS_FULL),
		     "live-allocation map full: raise --max-allocs", "help");
	ASSERT_TRUE(mt_counter__is_drop(MT_CNT_ALLOCS_FULL), "drop");
	ASSERT_STREQ(mt_counter__name(MT_CNT_FILTERED), "filtered", "last name");
	ASSERT_FALSE(mt_counter__is_drop(MT_CNT_FILTERED), "not a drop");
	ASSERT_TRUE(mt_counter__name(MT_CNT__MAX) == NULL, "out of range name");
	ASSERT_TRUE(mt_counter__help((enum mt_counter) - 1) == NULL, "out of range help");
	ASSERT_FALSE(mt_counter__is_drop(MT_CNT__MAX), "out of range drop");
	for (int c = 0; c < MT_CNT__MAX; c++)
		ASSERT_TRUE(mt_counter__name(c) && mt_counter__help(c), "every counter named");
	ASSERT_STREQ(mt_group_by__name(MT_GROUP_LINE), "line", "line");
	ASSERT_STREQ(mt_group_by__name(MT_GROUP_FUNCTION), "function", "function");
	ASSERT_STREQ(mt_group_by__name(MT_GROUP_FILE), "file", "file");
	ASSERT_STREQ(mt_group_by__name(MT_GROUP_STACK), "stack", "stack");
	ASSERT_TRUE(mt_group_by__name((enum mt_group_by)7) == NULL, "bad group_by");
}

static struct mt_frame g_st0[] = {
    {.function = "xmalloc",
     .file = "util.h",
     .line = 7,
     .module = "app",
     .addr = 0x401000,
     .inlined = true},
    {.function = "make_buffer", .file = "app.c", .line = 42, .module = "app", .addr = 0x401000},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static struct mt_frame g_st1[] = {
    {.function = "xstrdup", .file = "util.c", .line = 10, .module = "app", .addr = 0x402000},
};
static struct mt_frame g_st2[] = {
    {.function = "parse", .module = "libfoo.so", .addr = 0x7f0000001000},
};
static struct mt_frame g_st3[] = {
    {.module = "libbar.so", .addr = 0x7f0012345678},
};

/* A report as the aggregator would build it, four kinds of rows. */
static void golden_report(struct mt_report *r, struct mt_row *rows)
{
	const struct mt_row w[4] = {
	    {.file = "app.c",
	     .line = 42,
	     .function = "make_buffer",
	     .module = "app",
	     .bytes = 1572864,
	     .count = 1536,
	     .growth_bytes = 524288,
	     .alloc_bytes = 2097152,
	     .alloc_count = 2048,
	     .growth_streak = 3,
	     .stack = g_st0,
	     .nr_stack = 3,
	     .site = 1},
	    {.file = "util.c",
	     .line = 10,
	     .function = "xstrdup",
	     .module = "app",
	     .bytes = 4000,
	     .count = 1,
	     .growth_bytes = 4000,
	     .alloc_bytes = 4000,
	     .alloc_count = 1,
	     .growth_streak = 1,
	     .is_new = true,
	     .stack = g_st1,
	     .nr_stack = 1},
	    {.function = "parse",
	     .module = "libfoo.so",
	     .bytes = 12288,
	     .count = 3,
	     .alloc_bytes = 12288,
	     .alloc_count = 3,
	     .stack = g_st2,
	     .nr_stack = 1},
	    {.module = "libbar.so",
	     .bytes = 160,
	     .count = 2,
	     .growth_bytes = -32,
	     .alloc_bytes = 960,
	     .alloc_count = 12,
	     .stack = g_st3,
	     .nr_stack = 1},
	};

	memcpy(rows, w, sizeof(w));
	memset(r, 0, sizeof(*r));
	r->pid = 4242;
	strcpy(r->comm, "app");
	r->time = 1700000000.123;
	r->seq = 3;
	r->group_by = MT_GROUP_LINE;
	r->total_bytes = 1589312;
	r->total_count = 1542;
	r->total_growth_bytes = 528256;
	r->nr_groups = 9;
	r->counters[MT_CNT_ALLOCS_FULL] = 12;
	r->counters[MT_CNT_UNTRACKED_FREE] = 3;
	r->rows = rows;
	r->nr_rows = 4;
}

MT_TEST(out_text_golden)
{
	static const char head[] =
	    "memtrace: pid 4242 (app) report #3 at 22:13:20\n"
	    "note: sampled every 512 KiB; bytes and counts are estimates\n"
	    "       bytes     count      growth  site\n"
	    "^    1.5 MiB      1536  +512.0 KiB  app.c:42 make_buffer [app]\n"
	    "  - at xmalloc (util.h:7) [app] (inlined)\n"
	    "    at make_buffer (app.c:42) [app]\n"
	    "    at main (app.c:90) [app]\n"
	    "      4000 B         1         new  util.c:10 xstrdup [app]\n"
	    "    at xstrdup (util.c:10) [app]\n"
	    "    12.0 KiB         3           =  parse [libfoo.so]\n"
	    "    at parse [libfoo.so 0x7f0000001000]\n"
	    "       160 B         2       -32 B  [libbar.so 0x7f0012345678]\n"
	    "    at ?? [libbar.so 0x7f0012345678]\n"
	    "^ = kept growing: grew in 2 or more reports in a row\n"
	    "total: bytes 1.5 MiB, count 1542, growth +515.9 KiB; 4 of 9 groups shown\n";
	static const char head_short[] =
	    "memtrace: pid 4242 (app) report #4 at 22:13:20, process exited\n"
	    "       bytes     count      growth  site\n"
	    "      4000 B         1         new  util.c:10 xstrdup [app]\n"
	    "total: bytes 1.5 MiB, count 1542, growth +515.9 KiB; 1 of 9 groups shown\n";
	struct mt_row rows[4];
	struct mt_report r;
	char *out, *cnt, *expected;

	use_utc();
	golden_report(&r, rows);
	cnt = counter_lines(r.counters, false);
	/* the warning names the counter, its value and what to change */
	ASSERT_TRUE(cnt && strstr(cnt, "\nwarning: allocs_map_full=12: live-allocation map full: "
				       "raise --max-allocs\n"),
		    "warning line");
	ASSERT_TRUE(cnt && strstr(cnt, " untracked_free=3"), "events line");
	expected = cat(head, cnt ? cnt : "", "\n", NULL);
	out = render(MT_FORMAT_TEXT, true, "sampled every 512 KiB", &r);
	ASSERT_STREQ(out, expected, "text report");
	free(out);
	free(expected);
	free(cnt);

	/* no stacks, no note, no growing row, no drops; exited wins over final */
	r.rows = &rows[1];
	r.nr_rows = 1;
	r.seq = 4;
	r.final = r.exited = true;
	memset(r.counters, 0, sizeof(r.counters));
	cnt = counter_lines(r.counters, false);
	ASSERT_TRUE(cnt && !strstr(cnt, "warning"), "no warning");
	expected = cat(head_short, cnt ? cnt : "", "\n", NULL);
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_STREQ(out, expected, "short text report");
	free(out);
	free(expected);
	free(cnt);
}

MT_TEST(out_text_empty_and_hostile)
{
	static const char head[] =
	    "memtrace: pid 1 (a\\x1bb) report #1 at 22:13:20, final\n"
	    "no outstanding allocations\n"
	    "total: bytes 0 B, count 0, growth -1.0 MiB; 0 of 0 groups shown\n";
	struct mt_report r = {.pid = 1,
			      .time = 1700000000,
			      .seq = 1,
			      .final = true,
			      .total_growth_bytes = -(1 << 20)};
	char *out, *cnt = counter_lines(r.counters, false), *expected;

	use_utc();
	/* an escape sequence in comm */
	strcpy(r.comm, "a\033b");
	expected = cat(head, cnt ? cnt : "", "\n", NULL);
	out = render(MT_FORMAT_TEXT, true, NULL, &r);
	ASSERT_STREQ(out, expected, "empty report");
	free(out);
	free(expected);
	free(cnt);
	/* 16 bytes of comm without a NUL */
	memcpy(r.comm, "0123456789abcdef", sizeof(r.comm));
	out = render(MT_FORMAT_JSON, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, "\"comm\":\"0123456789abcdef\","), "comm without NUL");
	ASSERT_TRUE(out && strstr(out, "\"sites\":[]}\n"), "no sites");
	free(out);
}

MT_TEST(out_json_golden)
{
	struct mt_frame st[] = {
	    {.function = "caf\xc3\xa9",
	     .file = "we\"ird\\dir/a\x01"
		     "b\tc.c",
	     .line = 5,
	     .module = "m\xffod",
	     .build_id = "5eed00ba11",
	     .addr = 0x1234,
	     .inlined = true},
	    {.addr = 0xdeadbeef},
	};
	struct mt_frame py[] = {
	    {.function = "handler", .file = "app.py", .line = 3, .kind = MT_FRAME_PYTHON},
	};
	struct mt_row_stack stacks[] = {
	    {.frames = st, .nr_frames = 2, .site = 0, .bytes = 4000, .count = 1},
	    {.frames = py, .nr_frames = 1, .site = 0, .bytes = 96, .count = 1},
	};
	struct mt_row rows[] = {
	    {.file = st[0].file,
	     .line = 5,
	     .function = st[0].function,
	     .module = st[0].module,
	     .bytes = 4096,
	     .count = 2,
	     .growth_bytes = -100,
	     .alloc_bytes = 8192,
	     .alloc_count = 4,
	     .growth_streak = 0,
	     .stack = st,
	     .nr_stack = 2,
	     .stacks = stacks,
	     .nr_stacks = 2},
	    {.kind = MT_SITE_ARENA,
	     .bytes = 1,
	     .count = 1,
	     .growth_bytes = 1,
	     .alloc_bytes = 1,
	     .alloc_count = 1,
	     .growth_streak = 1,
	     .is_new = true},
	};
	struct mt_report r = {
	    .kinds = {[MT_SITE_HEAP] = {4096, 2}, [MT_SITE_ARENA] = {1, 1}},
	    .pid = 77,
	    .time = 1700000000.125,
	    .seq = 2,
	    .final = true,
	    .group_by = MT_GROUP_STACK,
	    .total_bytes = 4097,
	    .total_count = 3,
	    .total_growth_bytes = -99,
	    .nr_groups = 2,
	    .rows = rows,
	    .nr_rows = 2,
	    .has_mem = true,
	    .rss_bytes = 8388608,
	    .rss_anon_bytes = 4194304,
	    .swap_bytes = -1,
	    .untraced_growth_bytes = 2097152,
	};
	static const char head[] =
	    "{\"pid\":77,\"comm\":\"my "
	    "\\\"app\\\"\",\"cgroup\":null,\"time\":1700000000.125,\"seq\":2,"
	    "\"final\":true,\"exited\":false,\"group_by\":\"stack\",\"sampling\":null,"
	    "\"total_bytes\":4097,\"total_count\":3,\"total_growth_bytes\":-99,\"groups\":2,";
	static const char tail[] =
	    ",\"rss_bytes\":8388608,\"rss_anon_bytes\":4194304,\"swap_bytes\":null,"
	    "\"untraced_growth_bytes\":2097152"
	    ",\"kinds\":{\"heap\":{\"bytes\":4096,\"count\":2},\"mmap\":{\"bytes\":0,\"count\":0},"
	    "\"pyobj\":{\"bytes\":0,\"count\":0},\"arena\":{\"bytes\":1,\"count\":1},"
	    "\"runtime\":{\"bytes\":0,\"count\":0},\"growth\":{\"bytes\":0,\"count\":0}}"
	    ",\"sites\":["
	    "{\"file\":\"we\\\"ird\\\\dir/a\\u0001b\\u0009c.c\",\"line\":5,"
	    "\"function\":\"caf\xc3\xa9\",\"module\":\"m\\ufffdod\",\"kind\":\"heap\","
	    "\"bytes\":4096,\"count\":2,"
	    "\"growth_bytes\":-100,\"growth_streak\":0,\"new\":false,\"runtime\":false,\"alloc_"
	    "bytes\":8192,"
	    "\"alloc_count\":4,\"stack\":["
	    "{\"function\":\"caf\xc3\xa9\",\"file\":\"we\\\"ird\\\\dir/a\\u0001b\\u0009c.c\","
	    "\"line\":5,\"module\":\"m\\ufffdod\",\"addr\":\"0x1234\",\"inlined\":true,"
	    "\"kind\":\"native\",\"build_id\":\"5eed00ba11\",\"elf_addr\":null},"
	    "{\"function\":null,\"file\":null,\"line\":0,\"module\":null,"
	    "\"addr\":\"0xdeadbeef\",\"inlined\":false,\"kind\":\"native\",\"build_id\":null,\"elf_"
	    "addr\":null}],"
	    "\"site\":0,"
	    "\"stacks\":[{\"bytes\":4000,\"count\":1,\"site\":0,\"frames\":["
	    "{\"function\":\"caf\xc3\xa9\",\"file\":\"we\\\"ird\\\\dir/a\\u0001b\\u0009c.c\","
	    "\"line\":5,\"module\":\"m\\ufffdod\",\"addr\":\"0x1234\",\"inlined\":true,"
	    "\"kind\":\"native\",\"build_id\":\"5eed00ba11\",\"elf_addr\":null},"
	    "{\"function\":null,\"file\":null,\"line\":0,\"module\":null,"
	    "\"addr\":\"0xdeadbeef\",\"inlined\":false,\"kind\":\"native\",\"build_id\":null,\"elf_"
	    "addr\":null}]},"
	    "{\"bytes\":96,\"count\":1,\"site\":0,\"frames\":["
	    "{\"function\":\"handler\",\"file\":\"app.py\",\"line\":3,\"module\":null,"
	    "\"addr\":\"0x0\",\"inlined\":false,\"kind\":\"python\",\"build_id\":null,\"elf_addr\":"
	    "null}]}]},"
	    "{\"file\":null,\"line\":0,\"function\":null,\"module\":null,\"kind\":\"arena\","
	    "\"bytes\":1,"
	    "\"count\":1,\"growth_bytes\":1,\"growth_streak\":1,\"new\":true,\"runtime\":false,"
	    "\"alloc_bytes\":1,\"alloc_count\":1,\"stack\":[],\"site\":0,\"stacks\":[]}"
	    "]}\n";
	char *out, *cnt, *expected;

	strcpy(r.comm, "my \"app\"");
	r.counters[MT_CNT_ALLOCS_FULL] = 5;
	r.counters[MT_CNT_FILTERED] = 9;
	cnt = counter_lines(r.counters, true);
	ASSERT_TRUE(cnt && strstr(cnt, "\"drops\":{\"allocs_map_full\":5,"), "drops object");
	ASSERT_TRUE(cnt && strstr(cnt, ",\"filtered\":9"), "events object");
	expected = cat(head, cnt ? cnt : "", tail, NULL);
	out = render(MT_FORMAT_JSON, true, NULL, &r);
	ASSERT_STREQ(out, expected, "json report");
	free(out);
	free(expected);
	free(cnt);

	/* the note, and nothing but one line per report */
	out = render(MT_FORMAT_JSON, false, "sampled every 512 KiB", &r);
	ASSERT_TRUE(out && strstr(out, ",\"sampling\":\"sampled every 512 KiB\","), "sampling");
	ASSERT_TRUE(out && strchr(out, '\n') == out + strlen(out) - 1, "one line");
	free(out);
}

MT_TEST(out_json_utf8)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\xe2\x82\xac", "\"\xe2\x82\xac\""},		      /* U+20AC */
	    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},	      /* U+1F600 */
	    {"\xc0\xaf", "\"\\ufffd\\ufffd\""},			      /* overlong '/' */
	    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},	      /* surrogate */
	    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
	    {"a\xe2\x82", "\"a\\ufffd\\ufffd\""},		      /* truncated */
	    {"\x7f\x1f", "\"\\u007f\\u001f\""},
	    {"\xc2\x9b"
	     "2J\xc2\xa0",
	     "\"\\u009b2J\xc2\xa0\""}, /* C1 CSI; U+00A0 kept */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mt_frame fr = {.file = cases[i].in};
		struct mt_row row = {.file = cases[i].in, .bytes = 1, .stack = &fr, .nr_stack = 1};
		struct mt_report r = {.rows = &row, .nr_rows = 1};
		char *out = render(MT_FORMAT_JSON, false, NULL, &r), *p;
		size_t n = strlen(cases[i].out);

		if (!ASSERT_TRUE(out != NULL, "render"))
			continue;
		p = strstr(out, "{\"file\":");
		ASSERT_TRUE(p && !strncmp(p + 8, cases[i].out, n) && p[8 + n] == ',', cases[i].out);
		free(out);
	}
}

/* Values of the text table's rows: bytes (exact, < 10 KiB), count, growth. */
static size_t parse_text(const char *s, long long (*v)[3], size_t max, long long *tot)
{
	size_t n = 0;

	for (const char *l = s; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		long long b, c, g = 0;
		char gs[32];

		if (sscanf(l, "total: bytes %lld B, count %lld, growth %lld", &tot[0], &tot[1],
			   &tot[2]) == 3)
			continue;
		if (strlen(l) < 2 || sscanf(l + 2, "%lld B %lld %31s", &b, &c, gs) != 3 || n == max)
			continue;
		if (!strcmp(gs, "new"))
			g = LLONG_MIN;
		else if (strcmp(gs, "="))
			g = strtoll(gs, NULL, 10);
		v[n][0] = b;
		v[n][1] = c;
		v[n][2] = g;
		n++;
	}
	return n;
}

static long long json_num(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : LLONG_MAX;
}

/* The same numbers from the JSON sites, growth as LLONG_MIN when new. */
static size_t parse_json(const char *s, long long (*v)[3], size_t max, long long *tot)
{
	size_t n = 0;

	tot[0] = json_num(s, "\"total_bytes\":");
	tot[1] = json_num(s, "\"total_count\":");
	tot[2] = json_num(s, "\"total_growth_bytes\":");
	for (const char *p = strstr(s, "{\"file\":"); p && n < max;
	     p = strstr(p + 1, "{\"file\":")) {
		v[n][0] = json_num(p, "\"bytes\":");
		v[n][1] = json_num(p, "\"count\":");
		v[n][2] = strstr(p, "\"new\":") == strstr(p, "\"new\":true")
			      ? LLONG_MIN
			      : json_num(p, "\"growth_bytes\":");
		n++;
	}
	return n;
}

MT_TEST(out_same_numbers)
{
	static const struct mt_frame fa[] = {{.function = "a", .file = "s.c", .line = 1}};
	static const struct mt_frame fb[] = {{.function = "b", .file = "s.c", .line = 2}};
	static const struct mt_frame fc[] = {{.function = "c", .file = "s.c", .line = 3}};
	const __s64 one = MT_COUNT_ONE;
	const struct mt_sample r1[] = {
	    {.bytes = 100, .count_q = one, .frames = fa, .nr_frames = 1},
	    {.bytes = 900, .count_q = 3 * one, .frames = fb, .nr_frames = 1},
	};
	const struct mt_sample r2[] = {
	    {.bytes = 300, .count_q = 2 * one + one / 2, .frames = fa, .nr_frames = 1},
	    {.bytes = 900, .count_q = 3 * one, .frames = fb, .nr_frames = 1},
	    {.bytes = 7000, .count_q = one / 3, .frames = fc, .nr_frames = 1},
	};
	struct mt_agg_opts o = {.group_by = MT_GROUP_LINE};
	struct mt_agg *a = mt_agg__new(&o);
	long long tv[8][3], jv[8][3], tt[3], jt[3];
	struct mt_report r = {};
	char *text = NULL, *json = NULL;
	size_t nt, nj;

	if (!ASSERT_TRUE(a != NULL, "mt_agg__new"))
		return;
	mt_agg__begin(a);
	for (size_t i = 0; i < ARRAY_SIZE(r1); i++)
		ASSERT_OK(mt_agg__add(a, &r1[i]), "add");
	ASSERT_OK(mt_agg__end(a, &r), "end");
	mt_report__free(&r);
	mt_agg__begin(a);
	for (size_t i = 0; i < ARRAY_SIZE(r2); i++)
		ASSERT_OK(mt_agg__add(a, &r2[i]), "add");
	if (!ASSERT_OK(mt_agg__end(a, &r), "end"))
		goto out;
	text = render(MT_FORMAT_TEXT, true, NULL, &r);
	json = render(MT_FORMAT_JSON, true, NULL, &r);
	if (!ASSERT_TRUE(text && json, "render"))
		goto out;
	nt = parse_text(text, tv, 8, tt);
	nj = parse_json(json, jv, 8, jt);
	ASSERT_EQ(nt, 3, "text rows");
	ASSERT_EQ(nj, 3, "json rows");
	for (size_t i = 0; i < nt && i < nj; i++) {
		ASSERT_EQ(tv[i][0], jv[i][0], "bytes");
		ASSERT_EQ(tv[i][1], jv[i][1], "count");
		ASSERT_EQ(tv[i][2], jv[i][2], "growth");
		ASSERT_EQ(tv[i][0], r.rows[i].bytes, "bytes from the model");
		ASSERT_EQ(tv[i][1], r.rows[i].count, "count from the model");
	}
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(tt[i], jt[i], "totals");
	/* a keeps growing, so first; counts rounded in the model: 2.5 -> 3, 1/3 -> 0 */
	ASSERT_EQ(jv[0][1], 3, "a count");
	ASSERT_EQ(jv[0][2], 200, "a growth");
	ASSERT_EQ(jv[1][1], 0, "c count");
	ASSERT_EQ(jv[1][2], LLONG_MIN, "c new");
	ASSERT_EQ(jv[2][1], 3, "b count");
	ASSERT_EQ(jv[2][2], 0, "b unchanged");
out:
	free(text);
	free(json);
	mt_report__free(&r);
	mt_agg__free(a);
}

MT_TEST(out_write_errors)
{
	struct mt_output_cfg cfg = {.format = MT_FORMAT_TEXT};
	struct mt_row rows[4];
	struct mt_report r;
	FILE *f = fopen("/dev/full", "w");

	if (!f) {
		printf("skip out_write_errors: no /dev/full\n");
		return;
	}
	golden_report(&r, rows);
	ASSERT_EQ(mt_output__report(f, &cfg, &r), -EIO, "text to a full device");
	clearerr(f);
	cfg.format = MT_FORMAT_JSON;
	ASSERT_EQ(mt_output__report(f, &cfg, &r), -EIO, "json to a full device");
	clearerr(f);
	cfg.format = (enum mt_format)9;
	ASSERT_EQ(mt_output__report(f, &cfg, &r), -EINVAL, "unknown format");
	fclose(f);
}

MT_TEST(out_text_memory)
{
	struct mt_row rows[4];
	struct mt_report r;
	char *out;

	use_utc();
	golden_report(&r, rows);
	r.has_mem = true;
	r.rss_bytes = 25165824;
	r.rss_anon_bytes = 21495808;
	r.swap_bytes = 0;
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out,
				  "report #3 at 22:13:20\n"
				  "memory: rss 24.0 MiB, anon 20.5 MiB, swap 0 B; traced 1.5 MiB\n"
				  "       bytes"),
		    "memory line after the header");
	ASSERT_TRUE(out && !strstr(out, "RSS kept growing"), "no note");
	free(out);

	/* a kernel without RssAnon; RSS growing beyond the traced bytes */
	r.rss_anon_bytes = -1;
	r.untraced_growth_bytes = 6 << 20;
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, "memory: rss 24.0 MiB, anon ?, swap 0 B; traced 1.5 MiB\n"),
		    "unknown anon");
	ASSERT_TRUE(out && strstr(out, "groups shown\nnote: RSS kept growing, 6.0 MiB more than "
				       "the traced bytes: memory no probe sees (another allocator, "
				       "direct system calls such as mmap or brk, a JIT)\ndrops:"),
		    "untraced note");
	free(out);

	/* unknown (the process exited): no line at all */
	r.has_mem = false;
	r.untraced_growth_bytes = 0;
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && !strstr(out, "memory:"), "no memory line");
	free(out);
}

/* Kinds: a prefix on rows not of the C heap, the summary when there are such rows. */
MT_TEST(out_text_kinds)
{
	struct mt_row rows[4];
	struct mt_report r;
	char *out;

	use_utc();
	golden_report(&r, rows);
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && !strstr(out, "by kind:"), "all heap: no summary");
	free(out);

	r.has_mem = true;
	r.rss_bytes = 25165824;
	r.rss_anon_bytes = 21495808;
	r.swap_bytes = 0;
	rows[0].kind = MT_SITE_ARENA;
	rows[1].kind = MT_SITE_MMAP;
	r.kinds[MT_SITE_HEAP] = (struct mt_kind_total){12000, 5};
	r.kinds[MT_SITE_ARENA] = (struct mt_kind_total){2 << 20, 2};
	r.kinds[MT_SITE_MMAP] = (struct mt_kind_total){4000, 1};
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, "traced 1.5 MiB\n"
				       "by kind: native heap 11.7 KiB in 5, mappings 4000 B in 1, "
				       "pymalloc arenas 2.0 MiB in 2\n"
				       "       bytes"),
		    "summary after the memory line");
	ASSERT_TRUE(
	    out && strstr(out, "  pymalloc arena, first needed at app.c:42 make_buffer [app]\n"),
	    "arena row");
	ASSERT_TRUE(out && strstr(out, "  mmap at util.c:10 xstrdup [app]\n"), "mmap row");
	free(out);

	/* a growth row that gave pages back says what it grew and released */
	rows[1].kind = MT_SITE_GROWTH;
	rows[1].bytes = 8192;
	rows[1].alloc_bytes = 40960;
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, "growth at util.c:10 xstrdup [app] (grew 40.0 KiB since "
				       "start, 32.0 KiB released)\n"),
		    "growth row");
	free(out);
}

MT_TEST(out_folded_golden)
{
	/* rows saved without stacks fold as their representative stack */
	static const char fallback[] = "main (app.c:90);make_buffer (app.c:42);xmalloc (util.h:7) "
				       "1572864\n"
				       "xstrdup (util.c:10) 4000\n"
				       "parse [libfoo.so] 12288\n"
				       "[libbar.so 0x7f0012345678] 160\n";
	struct mt_frame nat[] = {
	    {.function = "operator new(unsigned long)", .module = "libstdc++.so.6", .addr = 1},
	    {.function = "a;b\nc", .file = "we;ird\r.cc", .module = "app", .addr = 2},
	    {.file = "nofunc.c", .line = 0, .module = "app", .addr = 3},
	    {.addr = 0xabc},
	};
	struct mt_frame py[] = {
	    {.function = "PyObject_Malloc", .module = "libpython3.11.so.1.0", .addr = 9},
	    {.function = "handler", .file = "svc/app.py", .line = 12, .kind = MT_FRAME_PYTHON},
	    {.function = "<module>", .file = "svc/main.py", .line = 1, .kind = MT_FRAME_PYTHON},
	};
	struct mt_row_stack stacks[] = {
	    {.frames = nat, .nr_frames = 4, .site = 1, .bytes = 4096, .count = 1},
	    {.frames = nat + 1, .nr_frames = 1, .bytes = 0, .count = 0}, /* freed: left out */
	    {.frames = py, .nr_frames = 3, .site = 1, .bytes = 96, .count = 2},
	};
	struct mt_row row = {.bytes = 4192, .count = 3, .stacks = stacks, .nr_stacks = 3};
	struct mt_report r2 = {.rows = &row, .nr_rows = 1};
	static const char expected[] =
	    "[unknown 0xabc];?? (nofunc.c);a?b?c (we?ird?.cc);operator new(unsigned long) "
	    "[libstdc++.so.6] 4096\n"
	    "<module> (svc/main.py:1);handler (svc/app.py:12);PyObject_Malloc "
	    "[libpython3.11.so.1.0] 96\n";
	struct mt_row rows[4];
	struct mt_report r;
	char *out;

	golden_report(&r, rows);
	out = render(MT_FORMAT_FOLDED, false, NULL, &r);
	ASSERT_STREQ(out, fallback, "folded from representative stacks");
	free(out);
	out = render(MT_FORMAT_FOLDED, false, NULL, &r2);
	ASSERT_STREQ(out, expected, "folded stacks");
	free(out);

	/* another kind than the heap: one more leaf */
	row.kind = MT_SITE_ARENA;
	stacks[0].bytes = 0;
	out = render(MT_FORMAT_FOLDED, false, NULL, &r2);
	ASSERT_STREQ(out,
		     "<module> (svc/main.py:1);handler (svc/app.py:12);PyObject_Malloc "
		     "[libpython3.11.so.1.0];[arena] 96\n",
		     "kind leaf");
	free(out);
}

MT_TEST(out_format_table)
{
	enum mt_format f = MT_FORMAT_TEXT;
	char buf[128];

	ASSERT_OK(mt_format__parse("folded", &f), "folded");
	ASSERT_EQ(f, MT_FORMAT_FOLDED, "folded value");
	ASSERT_OK(mt_format__parse("json", &f), "json");
	ASSERT_EQ(f, MT_FORMAT_JSON, "json value");
	ASSERT_EQ(mt_format__parse("xml", &f), -EINVAL, "unknown");
	ASSERT_STREQ(mt_format__desc(MT_FORMAT_TEXT)->name, "text", "name");
	ASSERT_TRUE(mt_format__desc(MT_FORMAT__MAX) == NULL, "out of range");
	ASSERT_OK(mt_format__parse("pprof", &f), "pprof");
	ASSERT_EQ(f, MT_FORMAT_PPROF, "pprof value");
	ASSERT_STREQ(mt_format__list(buf, sizeof(buf)), "text, json, pprof, folded or html",
		     "list");
}

/* --py-objects: the text table (types escaped, top 20) and the JSON arrays */
MT_TEST(out_objects)
{
	struct mt_obj_row rows[25];
	struct mt_report r = {.pid = 1, .time = 1700000000, .seq = 2, .has_objects = true};
	char names[25][16];
	char *out;

	use_utc();
	for (int i = 0; i < 25; i++) {
		snprintf(names[i], sizeof(names[i]), i ? "T%d" : "a\033b", i);
		rows[i] = (struct mt_obj_row){names[i], 100 - i, 4096, 25 - i, 1024};
	}
	r.objects = rows;
	r.nr_objects = 25;
	r.objects_count = 2000;
	r.objects_bytes = 102400;
	r.objects_walk_us = 1500;
	r.objects_pause_us = 1500;
	r.objects_failures = 2;
	out = render(MT_FORMAT_TEXT, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, "\npython objects: 2000, 100.0 KiB in 25 types (read in "
				       "0.002 s, process stopped 0.002 s, 2 lists cut short by "
				       "racy links)\n"),
		    "objects line");
	ASSERT_TRUE(out && strstr(out, "\n           100       4096 B          +25  a\\x1bb\n"),
		    "escaped row");
	ASSERT_TRUE(out && strstr(out, "  T19\n") && !strstr(out, "  T20\n"), "top 20");
	free(out);
	out = render(MT_FORMAT_JSON, false, NULL, &r);
	ASSERT_TRUE(out && strstr(out, ",\"objects\":[{\"type\":\"a\\u001bb\",\"count\":100,"
				       "\"bytes\":4096,\"growth\":25,\"growth_bytes\":1024},"),
		    "json objects");
	ASSERT_TRUE(
	    out &&
		strstr(out,
		       "],\"objects_total\":{\"count\":2000,\"bytes\":102400,"
		       "\"permanent\":0,\"untracked\":0,\"untracked_bytes\":0,"
		       "\"untracked_dropped\":0,\"failures\":2,\"walk_us\":1500,\"pause_us\":1500},"
		       "\"sites\":[]}\n"),
	    "json objects_total");
	free(out);
}
