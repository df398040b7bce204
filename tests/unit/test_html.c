// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * HTML output: the JSON embedded in the page (golden), hostile names that
 * must not end the script element or become markup, several processes in
 * one page. Its size and speed at 100,000 sites: test_render.c.
 */
#include <stdlib.h>
#include "output/output.h"
#include "test.h"

static const char DATA_OPEN[] = "<script type=\"application/json\" id=\"mt-data\">";

/* The page of r (with h: of every report added to h) in a malloc'd string. */
static char *render(const struct mt_report *r, struct mt_out_html *h)
{
	struct mt_output_cfg cfg = {.format = MT_FORMAT_HTML, .html = h};
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int err;

	if (!m)
		return NULL;
	err = mt_output__report(m, &cfg, r);
	fclose(m);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The embedded JSON of a page, copied out (NULL when the page has none). */
static char *data_of(const char *page)
{
	const char *a = strstr(page, DATA_OPEN), *e;

	if (!a)
		return NULL;
	a += sizeof(DATA_OPEN) - 1;
	e = strstr(a, "</script>");
	return e ? strndup(a, (size_t)(e - a)) : NULL;
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strcasestr(s, what)); s++)
		n++;
	return n;
}

static struct mt_frame st_a[] = {
    {.function = "malloc", .module = "libc.so.6", .addr = 0x7f0000001000},
    {.function = "make_buffer", .file = "app.c", .line = 42, .module = "app", .addr = 0x401000},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static struct mt_frame st_b[] = {
    {.function = "malloc", .module = "libc.so.6", .addr = 0x7f0000001000},
    {.function = "xstrdup",
     .file = "util.h",
     .line = 7,
     .module = "app",
     .addr = 0x402000,
     .inlined = true},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static struct mt_frame st_py[] = {
    {.function = "PyObject_Malloc", .module = "libpython3.12.so", .addr = 0x7f0000003000},
    {.function = "load", .file = "app.py", .line = 12, .kind = MT_FRAME_PYTHON},
    {.module = "libbar.so", .addr = 0x7f0012345678},
};

static void golden(struct mt_report *r, struct mt_row *rows, struct mt_row_stack *stacks)
{
	stacks[0] = (struct mt_row_stack){st_a, 3, 1, 1000, 10};
	stacks[1] = (struct mt_row_stack){st_b, 3, 1, 24, 1};
	memset(r, 0, sizeof(*r));
	memset(rows, 0, 2 * sizeof(*rows));
	rows[0] = (struct mt_row){.file = "app.c",
				  .line = 42,
				  .function = "make_buffer",
				  .bytes = 1024,
				  .count = 11,
				  .stack = st_a,
				  .nr_stack = 3,
				  .site = 1,
				  .stacks = stacks,
				  .nr_stacks = 2};
	/* saved without its stacks: the representative one with the row's numbers */
	rows[1] = (struct mt_row){.file = "app.py",
				  .line = 12,
				  .function = "load",
				  .bytes = 512,
				  .count = 2,
				  .stack = st_py,
				  .nr_stack = 3,
				  .site = 1};
	r->pid = 4242;
	memcpy(r->comm, "app", 4);
	r->time = 1764000000.5;
	r->seq = 3;
	r->final = true;
	r->total_bytes = 1536;
	r->total_count = 13;
	r->rows = rows;
	r->nr_rows = 2;
}

MT_TEST(html_golden)
{
	static const char want[] =
	    "{\"version\":1,\"generator\":\"memtrace\",\"processes\":[\n"
	    "{\"pid\":4242,\"comm\":\"app\",\"seq\":3,\"time\":1764000000.500,\"final\":true,"
	    "\"exited\":false,\"group_by\":\"line\",\"total_bytes\":1536,\"total_count\":13,"
	    "\"note\":null,\n"
	    /* files and modules first, then functions, in the order the tree meets them */
	    "\"strings\":[\"\",\"app.c\",\"app\",\"util.h\",\"libbar.so\",\"app.py\",\"main\","
	    "\"make_buffer\",\"xstrdup\",\"libbar.so 0x7f0012345678\",\"load\"],\n"
	    /* main, make_buffer, xstrdup (inlined), the address, load (Python) */
	    "\"frames\":[7,1,90,8,1,1,42,8,1,3,7,10,1,0,0,16,1,5,12,1],\n"
	    /* root; main: make_buffer, xstrdup; the address: load */
	    "\"nodes\":[0,2,0,0,1,2,0,0,1,0,1000,10,1,0,24,1,1,1,0,0,1,0,512,2]}]}";
	struct mt_row_stack stacks[2];
	struct mt_row rows[2];
	struct mt_report r;
	char *page, *data;

	golden(&r, rows, stacks);
	page = render(&r, NULL);
	if (!ASSERT_TRUE(page, "rendered"))
		return;
	data = data_of(page);
	ASSERT_STREQ(data, want, "embedded JSON");
	ASSERT_TRUE(!strncmp(page, "<!DOCTYPE html>", 15), "a page");
	ASSERT_TRUE(strstr(page, "data-render-ms"), "the script embedded");
	ASSERT_EQ(count_of(page, "http:") + count_of(page, "https:") + count_of(page, "src="), 1,
		  "nothing fetched (the SVG namespace the one URL)");
	free(data);
	free(page);

	/* a row of another kind: one more leaf, its kind */
	rows[1].kind = MT_SITE_ARENA;
	page = render(&r, NULL);
	data = page ? data_of(page) : NULL;
	ASSERT_TRUE(data && strstr(data, "\"load\",\"[arena]\"]"), "the kind's leaf");
	free(data);
	free(page);
}

MT_TEST(html_hostile_names)
{
	static struct mt_frame st[] = {
	    {.function = "malloc", .module = "libc.so.6"},
	    {.function = "</script><img src=x onerror=alert(1)>",
	     .file = "a\xe2\x80\xa8"
		     "b\xe2\x80\xa9"
		     "c\"\\<!--&\x01\xff.c",
	     .line = 1,
	     .module = "</SCRIPT>"},
	};
	struct mt_row row = {.function = st[1].function,
			     .bytes = 8,
			     .count = 1,
			     .stack = st,
			     .nr_stack = 2,
			     .site = 1};
	struct mt_report r = {.pid = 1, .rows = &row, .nr_rows = 1, .total_bytes = 8};
	char *page, *data;

	memcpy(r.comm, "</script>x", 11);
	page = render(&r, NULL);
	if (!ASSERT_TRUE(page, "rendered"))
		return;
	/* the data's end and the script's: no name closes an element */
	ASSERT_EQ(count_of(page, "</script"), 2, "</script> only where the page has it");
	ASSERT_EQ(count_of(page, "<img"), 0, "no markup from names");
	ASSERT_EQ(count_of(page, "<!--"), 0, "no comment opened by a name");
	ASSERT_FALSE(strstr(page, "\xe2\x80\xa8") || strstr(page, "\xe2\x80\xa9"),
		     "U+2028/2029 escaped");
	ASSERT_FALSE(strchr(page, '\x01') || strchr(page, '\xff'), "control, invalid bytes");
	data = data_of(page);
	ASSERT_TRUE(data && strstr(data, "\"\\u003c/script\\u003e\\u003cimg src=x "
					 "onerror=alert(1)\\u003e\""),
		    "the name escaped in the JSON");
	ASSERT_TRUE(data && strstr(data, "\"a\\u2028b\\u2029c\\\"\\\\\\u003c!--\\u0026\\u0001"
					 "\\ufffd.c\""),
		    "the file escaped");
	ASSERT_TRUE(data && strstr(data, "\"comm\":\"\\u003c/script\\u003ex\""), "comm escaped");
	free(data);
	free(page);
}

MT_TEST(html_processes)
{
	struct mt_out_html *h = mt_out_html__new();
	struct mt_row_stack stacks[2];
	struct mt_row rows[2];
	struct mt_report r;
	char *page = NULL, *data = NULL;

	if (!ASSERT_TRUE(h, "new"))
		return;
	golden(&r, rows, stacks);
	free(render(&r, h));
	r.pid = 7;
	memcpy(r.comm, "other", 6);
	free(render(&r, h));
	r.pid = 4242;
	memcpy(r.comm, "app", 4);
	r.seq = 4;
	page = render(&r, h); /* pid 4242 again: replaced, still first */
	data = page ? data_of(page) : NULL;
	if (!ASSERT_TRUE(data, "rendered"))
		goto out;
	ASSERT_EQ(count_of(data, "\"pid\":"), 2, "one entry a process");
	ASSERT_TRUE(strstr(data, "\"pid\":4242,\"comm\":\"app\",\"seq\":4") &&
			strstr(data, "\"pid\":4242") < strstr(data, "\"pid\":7,\"comm\":\"other\""),
		    "latest report, order first seen");
out:
	free(data);
	free(page);
	mt_out_html__free(h);
	mt_out_html__free(NULL);
}
