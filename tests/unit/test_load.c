// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Saved reports: model -> JSON -> load -> JSON byte-identical; malformed input refused by line. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "report/aggregate.h"
#include "report/load.h"
#include "output/output.h"
#include "test.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#define ONE ((__s64)MT_COUNT_ONE)

/* an inlined helper, its caller (the line), main */
static const struct mt_frame lst_a[] = {
    {.function = "xmalloc", .file = "util.h", .line = 7, .addr = 0x401000, .inlined = true},
    {.function = "make_buffer", .file = "app.c", .line = 42, .module = "app", .addr = 0x401000},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static const struct mt_frame lst_b[] = {
    {.function = "make_buffer",
     .file = "app.c",
     .line = 42,
     .module = "app",
     .addr = 0x401008,
     .build_id = "0123456789abcdef0123456789abcdef01234567"},
    {.function = "caf\xc3\xa9 \"q\" \\ \x01\t;",
     .file = "d/\xe2\x82\xac.c",
     .line = 3,
     .module = "app",
     .addr = 0x401300},
};
static const struct mt_frame lst_py[] = {
    {.function = "_PyObject_Malloc", .module = "libpython3.11.so.1.0", .addr = 0x7f0000001000},
    {.function = "handler",
     .file = "svc/\xf0\x9f\x98\x80.py",
     .line = 12,
     .kind = MT_FRAME_PYTHON,
     .addr = 0x7f1000},
    {.function = "<module>",
     .file = "svc/main.py",
     .line = 1,
     .kind = MT_FRAME_PYTHON,
     .addr = 0x7f2000},
};
static const struct mt_frame lst_unknown[] = {{.module = "libbar.so", .addr = 0x7f0012345678}};

static char *json_of(const struct mt_report *r, const char *note)
{
	struct mt_output_cfg cfg = {.format = MT_FORMAT_JSON, .sampling_note = note};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (mt_output__report(f, &cfg, r)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Two reports of one process by the aggregator, rendered to NDJSON. */
static char *make_saved(enum mt_group_by by)
{
	const struct mt_sample s1[] = {
	    {.bytes = 4096,
	     .count_q = 2 * ONE,
	     .alloc_bytes = 8192,
	     .alloc_count_q = 4 * ONE,
	     .frames = lst_a,
	     .nr_frames = 3,
	     .site = 1},
	    {.bytes = 100, .count_q = ONE, .frames = lst_b, .nr_frames = 2},
	    {.bytes = 64, .count_q = ONE, .frames = lst_py, .nr_frames = 3, .site = 1},
	    {.bytes = 24, .count_q = ONE, .frames = lst_unknown, .nr_frames = 1},
	    {.kind = MT_SITE_ARENA,
	     .bytes = 20,
	     .count_q = ONE,
	     .frames = lst_py,
	     .nr_frames = 3,
	     .site = 1},
	};
	struct mt_agg_opts o = {.group_by = by};
	struct mt_agg *a = mt_agg__new(&o);
	char *out = NULL, *j1 = NULL, *j2 = NULL;
	struct mt_report r = {};

	if (!a)
		return NULL;
	for (int round = 0; round < 2; round++) {
		memset(&r, 0, sizeof(r));
		mt_agg__begin(a);
		for (size_t i = 0; i < ARRAY_SIZE(s1) - (size_t)round; i++)
			mt_agg__add(a, &s1[i]);
		if (mt_agg__end(a, &r))
			goto out;
		r.pid = 4242;
		strcpy(r.comm, round ? "0123456789abcde" : "app");
		r.cgroup = round ? "/sys/fs/x\"y" : NULL;
		r.time = 1700000000.125 + round;
		r.counters[MT_CNT_ALLOCS_FULL] = 12;
		r.counters[MT_CNT_FILTERED] = 9;
		if (round) {
			r.final = r.exited = true;
		} else {
			r.has_mem = true;
			r.rss_bytes = 25165824;
			r.rss_anon_bytes = 21495808;
			r.swap_bytes = -1;
			r.untraced_growth_bytes = 3 << 20;
			/* --py-objects */
			r.objects = calloc(2, sizeof(*r.objects));
			if (!r.objects)
				goto out;
			r.nr_objects = 2;
			r.has_objects = true;
			r.objects[0] =
			    (struct mt_obj_row){strdup("Foo"), 12345, 592560, 12000, 576000};
			r.objects[1] = (struct mt_obj_row){strdup("we\"ird\x01"), 3, 120, -2, -80};
			r.objects_count = 12348;
			r.objects_bytes = 592680;
			r.objects_permanent = 1111;
			r.objects_untracked = 345;
			r.objects_untracked_bytes = 17280;
			r.objects_untracked_dropped = 7;
			r.objects_failures = 1;
			r.objects_walk_us = 2900;
			r.objects_pause_us = 2900;
		}
		if (round)
			j2 = json_of(&r, "sampled every 512 KiB");
		else
			j1 = json_of(&r, NULL);
		mt_report__free(&r);
	}
	if (j1 && j2 && asprintf(&out, "%s%s", j1, j2) < 0)
		out = NULL;
out:
	free(j1);
	free(j2);
	mt_agg__free(a);
	return out;
}

static int load_str(struct mt_report_set *set, const char *text, char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!f)
		return -errno;
	rc = mt_report_set__load(set, f, err, len);
	fclose(f);
	return rc;
}

MT_TEST(load_round_trip)
{
	static const enum mt_group_by modes[] = {MT_GROUP_LINE, MT_GROUP_STACK, MT_GROUP_FUNCTION,
						 MT_GROUP_FILE};

	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		struct mt_report_set set = {};
		char *saved = make_saved(modes[m]), *again = NULL, err[256] = "";
		size_t len = 0;
		FILE *f;

		if (!ASSERT_TRUE(saved != NULL, "saved"))
			continue;
		if (!ASSERT_OK(load_str(&set, saved, err, sizeof(err)), err) ||
		    !ASSERT_EQ(set.nr, 2, "two reports"))
			goto next;
		f = open_memstream(&again, &len);
		for (size_t i = 0; f && i < set.nr; i++) {
			struct mt_output_cfg cfg = {.format = MT_FORMAT_JSON,
						    .sampling_note = set.sampling[i]};

			ASSERT_OK(mt_output__report(f, &cfg, &set.reports[i]), "render");
		}
		if (f)
			fclose(f);
		ASSERT_STREQ(again, saved, "model -> json -> load -> json");
		/* the model itself, not only its text */
		/* lst_a and lst_b share their line; the arena is a row of its own */
		ASSERT_EQ(set.reports[0].nr_rows, modes[m] == MT_GROUP_STACK ? 5 : 4, "rows");
		ASSERT_TRUE(set.reports[0].has_mem, "mem");
		ASSERT_EQ(set.reports[0].swap_bytes, -1, "swap unknown");
		ASSERT_FALSE(set.reports[1].has_mem, "no mem after exit");
		ASSERT_TRUE(isfinite(set.reports[1].time), "time");
		ASSERT_STREQ(set.sampling[1], "sampled every 512 KiB", "note");
	next:
		free(again);
		free(saved);
		mt_report_set__free(&set);
	}
}

MT_TEST(load_model_fields)
{
	struct mt_report_set set = {};
	char *saved = make_saved(MT_GROUP_LINE), err[256] = "";
	const struct mt_row *row;

	if (!ASSERT_TRUE(saved != NULL, "saved") ||
	    !ASSERT_OK(load_str(&set, saved, err, sizeof(err)), err))
		goto out;
	row = &set.reports[0].rows[0];
	ASSERT_STREQ(row->file, "app.c", "file");
	ASSERT_EQ(row->line, 42, "line");
	ASSERT_EQ(row->bytes, 4196, "bytes");
	ASSERT_EQ(row->count, 3, "count");
	ASSERT_EQ(row->alloc_bytes, 8192, "alloc bytes");
	ASSERT_EQ(row->site, 1, "site");
	ASSERT_EQ(row->nr_stacks, 2, "both stacks");
	if (row->nr_stacks == 2) {
		ASSERT_EQ(row->stacks[1].bytes, 100, "second stack");
		ASSERT_STREQ(row->stacks[1].frames[1].function, "caf\xc3\xa9 \"q\" \\ \x01\t;",
			     "escapes decoded");
		ASSERT_TRUE(row->stacks[0].frames[0].inlined, "inlined");
	}
	row = &set.reports[0].rows[1];
	ASSERT_STREQ(row->file, "svc/\xf0\x9f\x98\x80.py", "python row");
	ASSERT_EQ(row->stack[1].kind, MT_FRAME_PYTHON, "python kind");
	ASSERT_EQ(set.reports[0].counters[MT_CNT_ALLOCS_FULL], 12, "drop counter");
	ASSERT_EQ(set.reports[0].counters[MT_CNT_FILTERED], 9, "event counter");
	ASSERT_EQ(set.reports[0].kinds[MT_SITE_ARENA].bytes, 20, "arena total");
	ASSERT_EQ(set.reports[0].kinds[MT_SITE_HEAP].count, 5, "heap count");
	ASSERT_EQ(set.reports[0].nr_rows, 4, "rows");
	if (set.reports[0].nr_rows == 4) {
		ASSERT_EQ(set.reports[0].rows[3].kind, MT_SITE_ARENA, "arena row");
		ASSERT_EQ(set.reports[0].rows[0].kind, MT_SITE_HEAP, "heap row");
	}
	ASSERT_TRUE(set.reports[0].has_objects, "objects");
	ASSERT_FALSE(set.reports[1].has_objects, "no objects");
	if (ASSERT_EQ(set.reports[0].nr_objects, 2, "object types")) {
		ASSERT_STREQ(set.reports[0].objects[1].type, "we\"ird\x01", "type escapes");
		ASSERT_EQ(set.reports[0].objects[1].growth, -2, "growth");
		ASSERT_EQ(set.reports[0].objects[0].bytes, 592560, "object bytes");
	}
	ASSERT_EQ(set.reports[0].objects_pause_us, 2900, "pause");
	ASSERT_EQ(set.reports[0].objects_untracked, 345, "untracked");
	ASSERT_EQ(set.reports[0].objects_untracked_bytes, 17280, "untracked bytes");
	ASSERT_EQ(set.reports[0].objects_untracked_dropped, 7, "untracked dropped");
	ASSERT_STREQ(set.reports[1].comm, "0123456789abcde", "comm");
	ASSERT_STREQ(set.reports[1].cgroup, "/sys/fs/x\"y", "cgroup");
out:
	free(saved);
	mt_report_set__free(&set);
}

/* Every strict prefix of a valid report is refused, never read past its end. */
MT_TEST(load_truncated)
{
	char *saved = make_saved(MT_GROUP_STACK), *nl;
	size_t n;

	if (!ASSERT_TRUE(saved != NULL, "saved"))
		return;
	nl = strchr(saved, '\n');
	n = (size_t)(nl - saved);
	for (size_t k = 0; k < n; k++) {
		struct mt_strtab strs = {};
		struct mt_report r;
		const char *note;
		char err[256] = "", *copy = malloc(k ? k : 1);
		int rc;

		/* an exact-size copy: ASan sees any read past the end */
		memcpy(copy, saved, k);
		rc = mt_report__parse(&r, &note, &strs, copy, k, err, sizeof(err));
		if (!ASSERT_EQ(rc, -EINVAL, "prefix refused"))
			fprintf(stderr, "  prefix of %zu bytes\n", k);
		if (!rc)
			mt_report__free(&r);
		free(copy);
		mt_strtab__clear(&strs);
	}
	free(saved);
}

/* Deterministic byte mutations: parsed or refused, never a crash or a leak. */
MT_TEST(load_mutations)
{
	char *saved = make_saved(MT_GROUP_LINE), *nl;
	unsigned int seed = 12345, refused = 0;
	size_t n;

	if (!ASSERT_TRUE(saved != NULL, "saved"))
		return;
	nl = strchr(saved, '\n');
	n = (size_t)(nl - saved);
	for (int run = 0; run < 3000; run++) {
		struct mt_strtab strs = {};
		struct mt_report r;
		const char *note;
		char err[256], *copy = malloc(n);

		memcpy(copy, saved, n);
		for (int k = 0; k < 1 + run % 4; k++) {
			seed = seed * 1103515245 + 12345;
			copy[(seed >> 8) % n] = (char)(seed >> 20);
		}
		if (mt_report__parse(&r, &note, &strs, copy, n, err, sizeof(err)))
			refused++;
		else
			mt_report__free(&r);
		free(copy);
		mt_strtab__clear(&strs);
	}
	ASSERT_TRUE(refused > 100, "most mutations refused");
	free(saved);
}

MT_TEST(load_errors)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
	    {"garbage\n", "line 1: byte 1: expected '{'"},
	    {"\n{\"pid\":1,\"sites\":[]}\n{\"pid\":1,\"sites\":[\n", "line 3: byte 19: truncated"},
	    {"{\"pid\":1}\n", "line 1: byte 10: not a memtrace report: no \"sites\""},
	    {"{\"sites\":[]}\n", "line 1: byte 13: not a memtrace report: no \"pid\""},
	    {"{\"pid\":-1,\"sites\":[]}", "line 1: byte 10: number out of range"},
	    {"{\"pid\":4294967296,\"sites\":[]}", "line 1: byte 18: number out of range"},
	    {"{\"pid\":1,\"total_bytes\":99999999999999999999,\"sites\":[]}",
	     "number out of range"},
	    {"{\"pid\":1.5,\"sites\":[]}", "expected an integer"},
	    {"{\"pid\":01,\"sites\":[]}", "expected an integer"},
	    {"{\"pid\":1,\"sites\":[]} x", "text after the report"},
	    {"{\"pid\":1,\"comm\":\"a\\u0000b\",\"sites\":[]}", "NUL in a string"},
	    {"{\"pid\":1,\"comm\":\"\\ud800\",\"sites\":[]}", "unpaired surrogate"},
	    {"{\"pid\":1,\"comm\":\"\\q\",\"sites\":[]}", "bad escape"},
	    {"{\"pid\":1,\"comm\":\"a\tb\",\"sites\":[]}", "control character"},
	    {"{\"pid\":1,\"group_by\":\"color\",\"sites\":[]}", "bad group_by"},
	    {"{\"pid\":1,\"sites\":[{\"stack\":[],\"site\":3}]}", "site 3 outside"},
	    {"{\"pid\":1,\"sites\":[{\"stacks\":[{\"site\":1,\"frames\":[{}]}]}]}",
	     "stack site 1 outside"},
	    {"{\"pid\":1,\"sites\":[{\"stack\":[{\"addr\":\"0xg\"}]}]}", "bad addr"},
	    {"{\"pid\":1,\"sites\":[{\"stack\":[{\"addr\":\"0x12345678901234567\"}]}]}",
	     "bad addr"},
	    {"{\"pid\":1,\"sites\":[{\"stack\":[{\"kind\":\"java\"}]}]}", "bad kind"},
	    {"{\"pid\":1,\"swap_bytes\":5,\"sites\":[]}", "without rss_bytes"},
	    {"{\"pid\":1,\"rss_bytes\":-5,\"sites\":[]}", "negative memory size"},
	    {"{\"pid\":1,\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	     "]]]]]]]],"
	     "\"sites\":[]}",
	     "nested too deep"},
	    {"{\"pid\":1,\"sites\":[]}\n\0{}", "line 2: NUL byte"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mt_report_set set = {};
		char err[256] = "";
		const char *t = cases[i].text;
		size_t len = strlen(t);
		FILE *f;
		int rc;

		if (strstr(cases[i].err, "NUL byte"))
			len += 3; /* the case holds a NUL */
		f = fmemopen((void *)t, len, "r");
		if (!ASSERT_TRUE(f != NULL, "fmemopen"))
			continue;
		rc = mt_report_set__load(&set, f, err, sizeof(err));
		fclose(f);
		ASSERT_EQ(rc, -EINVAL, cases[i].text);
		if (!ASSERT_TRUE(strstr(err, cases[i].err) != NULL, cases[i].err))
			fprintf(stderr, "  got: %s\n", err);
		mt_report_set__free(&set);
	}
}

MT_TEST(load_lenient)
{
	/* an older report (no stacks, site, kind or rss), unknown keys, blank lines */
	static const char text[] =
	    "\n  \n{\"pid\":7,\"comm\":\"old\",\"time\":1.5,\"future\":{\"a\":[1,2.5e3,null,true]},"
	    "\"drops\":{\"allocs_map_full\":1,\"gone_counter\":3},"
	    "\"sites\":[{\"file\":\"a.c\",\"line\":3,\"bytes\":10,\"count\":1,"
	    "\"stack\":[{\"function\":\"f\",\"file\":\"a.c\",\"line\":3,\"addr\":\"0x10\"}]}]}";
	struct mt_report_set set = {};
	char err[256] = "";

	if (!ASSERT_OK(load_str(&set, text, err, sizeof(err)), err) ||
	    !ASSERT_EQ(set.nr, 1, "one report"))
		goto out;
	ASSERT_EQ(set.reports[0].pid, 7, "pid");
	ASSERT_EQ(set.reports[0].counters[MT_CNT_ALLOCS_FULL], 1, "known counter");
	ASSERT_FALSE(set.reports[0].has_mem, "no mem");
	ASSERT_EQ(set.reports[0].rows[0].nr_stacks, 0, "no stacks");
	ASSERT_EQ(set.reports[0].rows[0].stack[0].addr, 0x10, "addr");
out:
	mt_report_set__free(&set);
}
