// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Every format at 100,000 sites of 8 frames (each site a function of its
 * own, at a line of one of 50 files; callers shared as a server's are,
 * each code location one address):
 * each renders in under a second of CPU, the HTML page stays under 5 MB.
 * Prints one line per format ("render: FMT: N bytes, M ms of CPU"), which
 * `make bench` puts in its table. MT_RENDER_KEEP=DIR keeps the files (the
 * page for a browser: DIR/page.html); MT_RENDER_ONLY=FMT renders one (to
 * profile it).
 */
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
#include "output/output.h"
#include "test.h"

enum { N = 100000, DEPTH = 8 };

struct big {
	struct mt_frame *fr;
	struct mt_row *rows;
	char (*names)[24];
	char files[50][24];
	struct mt_report r;
};

static bool big__make(struct big *b)
{
	static const char *const fixed[] = {"malloc",	NULL,	 NULL,	 "handle_request",
					    "dispatch", "serve", "main", "_start"};

	memset(b, 0, sizeof(*b));
	b->fr = calloc((size_t)N * DEPTH, sizeof(*b->fr));
	b->rows = calloc(N, sizeof(*b->rows));
	b->names = calloc((size_t)N * 3, sizeof(*b->names));
	if (!b->fr || !b->rows || !b->names)
		return false;
	b->r = (struct mt_report){.pid = 1, .time = 1764000000, .group_by = MT_GROUP_LINE};
	for (int i = 0; i < 50; i++)
		snprintf(b->files[i], sizeof(b->files[i]), "src/module_%02d.c", i);
	for (size_t i = 0; i < N; i++) {
		struct mt_frame *s = &b->fr[i * DEPTH];

		snprintf(b->names[3 * i], 24, "site_fn_%zu", i);
		snprintf(b->names[3 * i + 1], 24, "worker_%zu", i % 10000);
		snprintf(b->names[3 * i + 2], 24, "stage_%zu", i % 1000);
		/* a caller frame is its function's: file and line follow from which it is */
		for (int d = 0; d < DEPTH; d++)
			s[d] = (struct mt_frame){.function = fixed[d],
						 .file = b->files[d],
						 .line = 10 * d + 1,
						 .module = "server"};
		s[0].file = NULL;
		s[0].module = "libc.so.6";
		s[1].function = b->names[3 * i];
		s[1].file = b->files[i % 50];
		s[1].line = (int)(i % 4999) + 1;
		s[2].function = b->names[3 * i + 1];
		s[2].file = b->files[i % 10000 % 50];
		s[2].line = (int)(i % 10000 % 3000) + 1;
		s[3].function = b->names[3 * i + 2];
		s[3].line = (int)(i % 1000) + 1;
		s[4].line = (int)(i % 100) + 1;
		s[5].line = (int)(i % 10) + 1;
		/* one address per code location: a caller's frame is shared by its callees */
		s[0].addr = 0x7f0000001000;
		s[1].addr = 0x10000000 + i * 0x2000 + (__u64)s[1].line;
		s[2].addr = 0x20000000 + (i % 10000) * 0x2000 + (__u64)s[2].line;
		s[3].addr = 0x30000000 + (i % 1000) * 0x2000 + (__u64)s[3].line;
		for (int d = 4; d < DEPTH; d++)
			s[d].addr = 0x40000000 + (__u64)d * 0x100000 + (__u64)s[d].line;
		b->rows[i] = (struct mt_row){.file = s[1].file,
					     .line = s[1].line,
					     .function = s[1].function,
					     .bytes = 64 + (__s64)(i % 4096),
					     .count = 1 + (__s64)(i % 7),
					     .stack = s,
					     .nr_stack = DEPTH,
					     .site = 1};
		b->r.total_bytes += b->rows[i].bytes;
		b->r.total_count += b->rows[i].count;
	}
	b->r.rows = b->rows;
	b->r.nr_rows = N;
	return true;
}

static void big__free(struct big *b)
{
	free(b->names);
	free(b->rows);
	free(b->fr);
}

static double cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "re");
	long n = -1;

	if (f && !fseek(f, 0, SEEK_END))
		n = ftell(f);
	if (f)
		fclose(f);
	return n;
}

MT_TEST(render_100k_sites)
{
	static const struct {
		enum mt_format fmt;
		const char *name, *file;
	} fmts[] = {
	    {MT_FORMAT_TEXT, "text", "report.txt"},	   {MT_FORMAT_JSON, "json", "report.json"},
	    {MT_FORMAT_FOLDED, "folded", "report.folded"}, {MT_FORMAT_PPROF, "pprof", "heap.pb.gz"},
	    {MT_FORMAT_HTML, "html", "page.html"},
	};
	const char *keep = getenv("MT_RENDER_KEEP"), *only = getenv("MT_RENDER_ONLY");
	char dir[] = "/tmp/mt-render-XXXXXX", path[512];
	struct big b;

	if (!ASSERT_TRUE(big__make(&b), "alloc") || !ASSERT_TRUE(mkdtemp(dir), "mkdtemp"))
		goto out;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct mt_output_cfg cfg = {.format = fmts[i].fmt, .path = path};
		double t0, ms;
		FILE *f;
		long len;

		if (only && strcmp(only, fmts[i].name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", keep ? keep : dir, fmts[i].file);
		f = fopen(path, "we");
		if (!ASSERT_TRUE(f, "open"))
			break;
		t0 = cpu_ms();
		ASSERT_OK(mt_output__report(f, &cfg, &b.r), fmts[i].name);
		ms = cpu_ms() - t0;
		fclose(f);
		len = file_size(path);
		printf("     render: %s: %ld bytes, %.0f ms of CPU\n", fmts[i].name, len, ms);
		if (!keep)
			unlink(path);
		if (fmts[i].fmt == MT_FORMAT_HTML)
			ASSERT_TRUE(len > 1000000 && len < 5 * 1000 * 1000, "page under 5 MB");
#if !defined(__SANITIZE_ADDRESS__)
		ASSERT_TRUE(ms < 1000, "rendered in under a second of CPU");
#endif
	}
	rmdir(dir);
out:
	big__free(&b);
}
