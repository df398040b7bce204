// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pprof output: a golden report encoded, then decoded again by the small
 * profile.proto reader below (written from the .proto, not from our
 * encoder) and compared field by field; gzip; the atomic file replacement.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "output/output.h"
#include "test.h"

#define MAXN 64

/* ---- a tiny profile.proto reader ---------------------------------------- */

struct field {
	__u32 num;
	int wire;
	__u64 v;		   /* wire 0 */
	const unsigned char *data; /* wire 2 */
	size_t len;
};

static bool rd_varint(const unsigned char **p, const unsigned char *end, __u64 *v)
{
	*v = 0;
	for (int shift = 0; shift < 70 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;

		*v |= (__u64)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* The next field of [*p, end); false at the end or on a malformed field. */
static bool rd_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
	__u64 key;

	if (*p >= end || !rd_varint(p, end, &key))
		return false;
	f->num = key >> 3;
	f->wire = key & 7;
	if (f->wire == 0)
		return rd_varint(p, end, &f->v);
	if (f->wire != 2 || !rd_varint(p, end, &f->v) || f->v > (__u64)(end - *p))
		return false;
	f->data = *p;
	f->len = f->v;
	*p += f->len;
	return true;
}

/* A repeated uint64 field, packed (wire 2) or not (wire 0), appended to v. */
static void rd_repeated(const struct field *f, __u64 *v, size_t *n)
{
	const unsigned char *p = f->data, *end = f->data + f->len;

	if (f->wire == 0) {
		if (*n < MAXN)
			v[(*n)++] = f->v;
		return;
	}
	while (p < end && *n < MAXN)
		if (!rd_varint(&p, end, &v[(*n)++]))
			break;
}

struct profile {
	char *strs[256];
	size_t nr_strs;
	__u64 st_type[8], st_unit[8];
	size_t nr_st;
	struct {
		__u64 loc[MAXN], val[MAXN];
		size_t nr_loc, nr_val;
		__u64 label_key, label_str; /* the last label: string indexes */
	} samples[16];
	size_t nr_samples;
	struct {
		__u64 id, mapping, addr, fn[8], line[8];
		size_t nr_lines;
	} locs[MAXN];
	size_t nr_locs;
	struct {
		__u64 id, name, system_name, file;
	} fns[MAXN];
	size_t nr_fns;
	struct {
		__u64 id, start, limit, file, flags; /* flags: bit k for field 7 + k */
	} maps[16];
	size_t nr_maps;
	__u64 time_nanos, period, period_type[2], default_type, comments[4];
	size_t nr_comments;
	bool bad; /* a field we could not read */
};

/* fn(ctx, field) for every field of a message. */
#define FOR_FIELDS(data, len, f)                                         \
	for (const unsigned char *___p = (data), *___e = (data) + (len); \
	     rd_field(&___p, ___e, &(f));)

static void rd_profile(struct profile *pr, const unsigned char *buf, size_t len)
{
	struct field f, g, h;
	const unsigned char *p = buf, *end = buf + len;

	memset(pr, 0, sizeof(*pr));
	while (p < end) {
		if (!rd_field(&p, end, &f)) {
			pr->bad = true;
			return;
		}
		switch (f.num) {
		case 1:
			FOR_FIELDS(f.data, f.len, g)
			{
				if (g.num == 1)
					pr->st_type[pr->nr_st] = g.v;
				else if (g.num == 2)
					pr->st_unit[pr->nr_st] = g.v;
			}
			pr->nr_st++;
			break;
		case 2:
			FOR_FIELDS(f.data, f.len, g)
			{
				if (g.num == 1)
					rd_repeated(&g, pr->samples[pr->nr_samples].loc,
						    &pr->samples[pr->nr_samples].nr_loc);
				else if (g.num == 2)
					rd_repeated(&g, pr->samples[pr->nr_samples].val,
						    &pr->samples[pr->nr_samples].nr_val);
				else if (g.num == 3)
					FOR_FIELDS(g.data, g.len, h)
					{
						if (h.num == 1)
							pr->samples[pr->nr_samples].label_key = h.v;
						else if (h.num == 2)
							pr->samples[pr->nr_samples].label_str = h.v;
					}
			}
			pr->nr_samples++;
			break;
		case 3:
			FOR_FIELDS(f.data, f.len, g)
			{
				if (g.num == 1)
					pr->maps[pr->nr_maps].id = g.v;
				else if (g.num == 2)
					pr->maps[pr->nr_maps].start = g.v;
				else if (g.num == 3)
					pr->maps[pr->nr_maps].limit = g.v;
				else if (g.num == 5)
					pr->maps[pr->nr_maps].file = g.v;
				else if (g.num >= 7 && g.num <= 10 && g.v)
					pr->maps[pr->nr_maps].flags |= 1 << (g.num - 7);
			}
			pr->nr_maps++;
			break;
		case 4:
			FOR_FIELDS(f.data, f.len, g)
			{
				typeof(pr->locs[0]) *l = &pr->locs[pr->nr_locs];

				if (g.num == 1)
					l->id = g.v;
				else if (g.num == 2)
					l->mapping = g.v;
				else if (g.num == 3)
					l->addr = g.v;
				else if (g.num == 4) {
					FOR_FIELDS(g.data, g.len, h)
					{
						if (h.num == 1)
							l->fn[l->nr_lines] = h.v;
						else if (h.num == 2)
							l->line[l->nr_lines] = h.v;
					}
					l->nr_lines++;
				}
			}
			pr->nr_locs++;
			break;
		case 5:
			FOR_FIELDS(f.data, f.len, g)
			{
				if (g.num == 1)
					pr->fns[pr->nr_fns].id = g.v;
				else if (g.num == 2)
					pr->fns[pr->nr_fns].name = g.v;
				else if (g.num == 3)
					pr->fns[pr->nr_fns].system_name = g.v;
				else if (g.num == 4)
					pr->fns[pr->nr_fns].file = g.v;
			}
			pr->nr_fns++;
			break;
		case 6:
			pr->strs[pr->nr_strs++] = strndup((const char *)f.data, f.len);
			break;
		case 9:
			pr->time_nanos = f.v;
			break;
		case 11:
			FOR_FIELDS(f.data, f.len, g)
			{
				if (g.num == 1 || g.num == 2)
					pr->period_type[g.num - 1] = g.v;
			}
			break;
		case 12:
			pr->period = f.v;
			break;
		case 13:
			pr->comments[pr->nr_comments++] = f.v;
			break;
		case 14:
			pr->default_type = f.v;
			break;
		}
	}
}

static void profile__free(struct profile *pr)
{
	for (size_t i = 0; i < pr->nr_strs; i++)
		free(pr->strs[i]);
}

static const char *S(const struct profile *pr, __u64 i)
{
	return i < pr->nr_strs ? pr->strs[i] : "<bad string index>";
}

/*
 * A location as text: "[mapping] 0xaddr fn file:line | fn file:line",
 * lines innermost first; "?" for a bad id.
 */
static const char *loc_text(const struct profile *pr, __u64 id, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < pr->nr_locs; i++) {
		if (pr->locs[i].id != id)
			continue;
		if (pr->locs[i].mapping) {
			for (size_t k = 0; k < pr->nr_maps; k++)
				if (pr->maps[k].id == pr->locs[i].mapping)
					n += snprintf(buf + n, size - n, "[%s] ",
						      S(pr, pr->maps[k].file));
		}
		n += snprintf(buf + n, size - n, "%#llx", (unsigned long long)pr->locs[i].addr);
		for (size_t l = 0; l < pr->locs[i].nr_lines; l++) {
			const char *fn = "?", *file = "?";

			for (size_t k = 0; k < pr->nr_fns; k++)
				if (pr->fns[k].id == pr->locs[i].fn[l]) {
					fn = S(pr, pr->fns[k].name);
					file = S(pr, pr->fns[k].file);
				}
			n += snprintf(buf + n, size - n, "%s %s %s:%llu", l ? " |" : "", fn, file,
				      (unsigned long long)pr->locs[i].line[l]);
		}
		return buf;
	}
	return "?";
}

/* ---- the golden report --------------------------------------------------- */

static struct mt_frame st_inline[] = {
    /* one address: xmalloc inlined into make_buffer; then main */
    {.function = "xmalloc",
     .file = "util.h",
     .line = 7,
     .module = "app",
     .addr = 0x401000,
     .inlined = true},
    {.function = "make_buffer", .file = "app.c", .line = 42, .module = "app", .addr = 0x401000},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static struct mt_frame st_alloc[] = {
    /* the allocator's own frame comes first and is not a frame of the sample */
    {.function = "__strdup",
     .file = "strdup.c",
     .line = 41,
     .module = "libc.so.6",
     .addr = 0x7f0000002000},
    {.function = "xstrdup", .file = "util.c", .line = 10, .module = "app", .addr = 0x402000},
    {.function = "main", .file = "app.c", .line = 90, .module = "app", .addr = 0x401200},
};
static struct mt_frame st_python[] = {
    {.function = "PyObject_Malloc", .module = "libpython3.12.so", .addr = 0x7f0000003000},
    {.function = "load",
     .file = "app.py",
     .line = 12,
     .addr = 0x7f00aa000000,
     .kind = MT_FRAME_PYTHON},
    {.function = "<module>",
     .file = "app.py",
     .line = 30,
     .addr = 0x7f00bb000000,
     .kind = MT_FRAME_PYTHON},
};
static struct mt_frame st_unknown[] = {
    {.module = "libbar.so", .addr = 0x7f0012345678},
    {.file = "gen.c", .line = 5, .module = "libbar.so", .addr = 0x7f0012345000},
};

static void golden(struct mt_report *r, struct mt_row *rows)
{
	const struct mt_row w[4] = {
	    {.file = "app.c",
	     .line = 42,
	     .function = "make_buffer",
	     .module = "app",
	     .bytes = 1572864,
	     .count = 1536,
	     .alloc_bytes = 2097152,
	     .alloc_count = 2048,
	     .stack = st_inline,
	     .nr_stack = 3,
	     .site = 0},
	    {.file = "util.c",
	     .line = 10,
	     .function = "xstrdup",
	     .module = "app",
	     .bytes = 4000,
	     .count = 1,
	     .alloc_bytes = 4000,
	     .alloc_count = 1,
	     .stack = st_alloc,
	     .nr_stack = 3,
	     .site = 1},
	    {.file = "app.py",
	     .line = 12,
	     .function = "load",
	     .bytes = 512,
	     .count = 2,
	     .alloc_bytes = 1024,
	     .alloc_count = 4,
	     .stack = st_python,
	     .nr_stack = 3,
	     .site = 1},
	    {.module = "libbar.so",
	     .bytes = 0,
	     .count = 0,
	     .alloc_bytes = 77,
	     .alloc_count = 1,
	     .stack = st_unknown,
	     .nr_stack = 2},
	};

	memset(r, 0, sizeof(*r));
	memcpy(rows, w, sizeof(w));
	r->pid = 4242;
	memcpy(r->comm, "app", 4);
	r->time = 1764000000.5;
	r->seq = 3;
	r->rows = rows;
	r->nr_rows = 4;
}

MT_TEST(pprof_golden)
{
	static const char *const want_types[4][2] = {{"alloc_objects", "count"},
						     {"alloc_space", "bytes"},
						     {"inuse_objects", "count"},
						     {"inuse_space", "bytes"}};
	static const char *const want_samples[4] = {
	    "2048 2097152 1536 1572864: [app] 0x401000 xmalloc util.h:7 | make_buffer app.c:42;"
	    " [app] 0x401200 main app.c:90;",
	    "1 4000 1 4000: [app] 0x402000 xstrdup util.c:10; [app] 0x401200 main app.c:90;",
	    "4 1024 2 512: 0 load app.py:12; 0 <module> app.py:30;",
	    "1 77 0 0: [libbar.so] 0x7f0012345678; [libbar.so] 0x7f0012345000 ?? gen.c:5;",
	};
	struct mt_output_cfg cfg = {.format = MT_FORMAT_PPROF};
	struct mt_row rows[4];
	struct profile pr;
	struct mt_report r;
	unsigned char *buf;
	size_t len;
	char line[1024], lb[256];

	golden(&r, rows);
	rows[2].kind = MT_SITE_PYOBJ;
	if (!ASSERT_OK(mt_out_pprof__encode(&cfg, &r, &buf, &len), "encode"))
		return;
	rd_profile(&pr, buf, len);
	free(buf);
	/* the Python row's kind as a label; the heap's none */
	if (pr.nr_samples == 4) {
		ASSERT_STREQ(S(&pr, pr.samples[2].label_key), "kind", "label key");
		ASSERT_STREQ(S(&pr, pr.samples[2].label_str), "pyobj", "label value");
		ASSERT_EQ(pr.samples[0].label_key, 0, "no label on a heap row");
	}
	if (!ASSERT_FALSE(pr.bad, "decodes"))
		goto out;
	ASSERT_TRUE(pr.nr_strs > 0 && !strcmp(pr.strs[0], ""), "string_table[0] is \"\"");
	for (size_t i = 1; i < pr.nr_strs; i++)
		for (size_t k = 0; k < i; k++)
			ASSERT_TRUE(strcmp(pr.strs[i], pr.strs[k]), "strings interned once");
	if (!ASSERT_EQ(pr.nr_st, 4, "sample types"))
		goto out;
	for (size_t i = 0; i < 4; i++) {
		ASSERT_STREQ(S(&pr, pr.st_type[i]), want_types[i][0], "sample type");
		ASSERT_STREQ(S(&pr, pr.st_unit[i]), want_types[i][1], "sample unit");
	}
	ASSERT_STREQ(S(&pr, pr.default_type), "inuse_space", "default_sample_type");
	ASSERT_STREQ(S(&pr, pr.period_type[0]), "space", "period type");
	ASSERT_STREQ(S(&pr, pr.period_type[1]), "bytes", "period unit");
	ASSERT_EQ(pr.period, 1, "period when exact");
	ASSERT_EQ(pr.time_nanos, 1764000000500000000ULL, "time_nanos");
	if (ASSERT_EQ(pr.nr_comments, 1, "comments"))
		ASSERT_STREQ(S(&pr, pr.comments[0]), "memtrace pid 4242 (app) report #3",
			     "comment");

	/* ids: non-zero and unique; main's location shared by two samples */
	ASSERT_EQ(pr.nr_locs, 7, "locations");
	ASSERT_EQ(pr.nr_fns, 7, "functions (?? included, the allocator not)");
	ASSERT_EQ(pr.nr_maps, 2, "mappings (app, libbar.so; libc.so.6 not)");
	for (size_t i = 0; i < pr.nr_locs; i++)
		ASSERT_EQ(pr.locs[i].id, i + 1, "location ids 1, 2, ...");
	for (size_t i = 0; i < pr.nr_fns; i++) {
		ASSERT_EQ(pr.fns[i].id, i + 1, "function ids 1, 2, ...");
		ASSERT_EQ(pr.fns[i].system_name, pr.fns[i].name, "system_name");
	}
	for (size_t i = 0; i < pr.nr_maps; i++) {
		ASSERT_EQ(pr.maps[i].id, i + 1, "mapping ids 1, 2, ...");
		ASSERT_EQ(pr.maps[i].flags, 0xf, "has_functions .. has_inline_frames");
	}
	ASSERT_STREQ(S(&pr, pr.maps[0].file), "app", "mapping 1");
	ASSERT_EQ(pr.maps[0].start, 0x401000, "app start");
	ASSERT_EQ(pr.maps[0].limit, 0x402001, "app limit: past its highest address");

	if (!ASSERT_EQ(pr.nr_samples, 4, "one sample a row"))
		goto out;
	for (size_t i = 0; i < 4; i++) {
		size_t n = 0;

		ASSERT_EQ(pr.samples[i].nr_val, 4, "values a sample");
		for (size_t k = 0; k < pr.samples[i].nr_val; k++)
			n += snprintf(line + n, sizeof(line) - n, "%s%lld", k ? " " : "",
				      (long long)pr.samples[i].val[k]);
		n += snprintf(line + n, sizeof(line) - n, ":");
		for (size_t k = 0; k < pr.samples[i].nr_loc; k++)
			n += snprintf(line + n, sizeof(line) - n, " %s;",
				      loc_text(&pr, pr.samples[i].loc[k], lb, sizeof(lb)));
		ASSERT_STREQ(line, want_samples[i], "sample");
	}
out:
	profile__free(&pr);
}

MT_TEST(pprof_sampled_negative)
{
	struct mt_output_cfg cfg = {.format = MT_FORMAT_PPROF,
				    .sample_rate = 524288,
				    .sampling_note = "sampled: one allocation per 524288 bytes"};
	struct mt_row rows[4];
	struct profile pr;
	struct mt_report r;
	unsigned char *buf;
	size_t len;

	golden(&r, rows);
	rows[0].bytes = -4096; /* int64: a 10-byte varint in a packed field */
	r.final = true;
	r.nr_rows = 1;
	if (!ASSERT_OK(mt_out_pprof__encode(&cfg, &r, &buf, &len), "encode"))
		return;
	rd_profile(&pr, buf, len);
	free(buf);
	ASSERT_FALSE(pr.bad, "decodes");
	ASSERT_EQ(pr.period, 524288, "period: the sampling rate");
	if (ASSERT_EQ(pr.nr_comments, 2, "comments")) {
		ASSERT_STREQ(S(&pr, pr.comments[0]), "memtrace pid 4242 (app) report #3, final",
			     "comment");
		ASSERT_STREQ(S(&pr, pr.comments[1]), cfg.sampling_note, "sampling note");
	}
	if (ASSERT_EQ(pr.nr_samples, 1, "samples") && ASSERT_EQ(pr.samples[0].nr_val, 4, "values"))
		ASSERT_EQ((__s64)pr.samples[0].val[3], -4096, "negative inuse_space");
	profile__free(&pr);

	/* no rows: still a valid profile with its four sample types */
	r.nr_rows = 0;
	if (!ASSERT_OK(mt_out_pprof__encode(&cfg, &r, &buf, &len), "encode empty"))
		return;
	rd_profile(&pr, buf, len);
	free(buf);
	ASSERT_FALSE(pr.bad, "decodes");
	ASSERT_EQ(pr.nr_st, 4, "sample types");
	ASSERT_EQ(pr.nr_samples + pr.nr_locs + pr.nr_maps, 0, "nothing else");
	profile__free(&pr);
}

/* Inflate a gzip stream (windowBits 15 + 16: gzip only, not zlib). */
static int gunzip(const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
	z_stream zs = {};
	int zerr;

	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -ENOMEM;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = len;
	zs.next_out = out;
	zs.avail_out = *out_len;
	zerr = inflate(&zs, Z_FINISH);
	*out_len = *out_len - zs.avail_out;
	inflateEnd(&zs);
	return zerr == Z_STREAM_END ? 0 : -EIO;
}

MT_TEST(pprof_gzip_stream)
{
	struct mt_output_cfg cfg = {.format = MT_FORMAT_PPROF};
	unsigned char *raw = NULL, out[65536];
	struct mt_row rows[4];
	struct mt_report r;
	char *gz = NULL;
	size_t raw_len, gz_len = 0, out_len = sizeof(out);
	FILE *f;

	golden(&r, rows);
	f = open_memstream(&gz, &gz_len);
	if (!ASSERT_TRUE(f != NULL, "open_memstream"))
		return;
	ASSERT_OK(mt_output__report(f, &cfg, &r), "report to a stream");
	fclose(f);
	if (!ASSERT_OK(mt_out_pprof__encode(&cfg, &r, &raw, &raw_len), "encode"))
		goto out;
	if (!ASSERT_TRUE(gz_len > 10, "written"))
		goto out;
	ASSERT_EQ((unsigned char)gz[0], 0x1f, "gzip magic");
	ASSERT_EQ((unsigned char)gz[1], 0x8b, "gzip magic");
	if (ASSERT_OK(gunzip((unsigned char *)gz, gz_len, out, &out_len), "gunzip") &&
	    ASSERT_EQ(out_len, raw_len, "length"))
		ASSERT_TRUE(!memcmp(out, raw, raw_len), "same bytes");
out:
	free(raw);
	free(gz);
}

/* The whole content of path into buf (NUL-terminated); its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

MT_TEST(pprof_replace_file)
{
	char dir[] = "/tmp/mt-pprof-XXXXXX", path[64], tmp[80], buf[64];
	struct mt_output_cfg cfg = {.format = MT_FORMAT_PPROF};
	struct mt_row rows[4];
	struct mt_report r;
	struct stat st;
	int old;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/heap.pb.gz", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	ASSERT_OK(mt_output__replace_file(path, "first", 5), "create");
	ASSERT_EQ(slurp(path, buf, sizeof(buf)), 5, "first size");
	ASSERT_STREQ(buf, "first", "first content");
	/* a reader that has the old file open keeps reading the old file */
	old = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_OK(mt_output__replace_file(path, "second!", 7), "replace");
	ASSERT_EQ(slurp(path, buf, sizeof(buf)), 7, "second size");
	ASSERT_STREQ(buf, "second!", "second content");
	if (ASSERT_TRUE(old >= 0, "open old")) {
		ASSERT_EQ(read(old, buf, sizeof(buf) - 1), 5, "old file unchanged");
		close(old);
	}
	ASSERT_TRUE(stat(tmp, &st) && errno == ENOENT, "no .tmp left");

	/* the report itself: written to cfg->path, the stream untouched */
	golden(&r, rows);
	cfg.path = path;
	ASSERT_OK(mt_output__report(stdin, &cfg, &r), "report to a path");
	ASSERT_TRUE(!stat(path, &st) && st.st_size > 10, "profile written");
	ASSERT_TRUE(slurp(path, buf, sizeof(buf)) > 2 && (unsigned char)buf[0] == 0x1f &&
			(unsigned char)buf[1] == 0x8b,
		    "gzip");

	/* a directory that does not exist: the error, and nothing left behind */
	snprintf(tmp, sizeof(tmp), "%s/nodir/heap.pb.gz", dir);
	ASSERT_EQ(mt_output__replace_file(tmp, "x", 1), -ENOENT, "missing directory");
	unlink(path);
	rmdir(dir);
}

MT_TEST(pprof_many_rows)
{
	/* enough rows to grow every table and buffer: each row its own leaf, one shared caller */
	enum { N = 3000 };
	struct mt_output_cfg cfg = {.format = MT_FORMAT_PPROF};
	struct mt_frame *fr = calloc(2 * N, sizeof(*fr));
	struct mt_row *rows = calloc(N, sizeof(*rows));
	char(*names)[16] = calloc(N, sizeof(*names));
	size_t nr[16] = {}, len;
	struct mt_report r = {.rows = rows, .nr_rows = N};
	unsigned char *buf = NULL;
	const unsigned char *p, *end;
	struct field f;

	if (!ASSERT_TRUE(fr && rows && names, "calloc"))
		goto out;
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "f%zu", i);
		fr[2 * i] = (struct mt_frame){.function = names[i],
					      .file = "a.c",
					      .line = (int)i + 1,
					      .module = "app",
					      .addr = 0x400000 + 16 * i};
		fr[2 * i + 1] = st_inline[2]; /* main */
		rows[i] = (struct mt_row){.stack = &fr[2 * i],
					  .nr_stack = 2,
					  .bytes = (__s64)i,
					  .count = 1,
					  .alloc_bytes = i,
					  .alloc_count = 1};
	}
	if (!ASSERT_OK(mt_out_pprof__encode(&cfg, &r, &buf, &len), "encode"))
		goto out;
	for (p = buf, end = buf + len; p < end;) {
		if (!ASSERT_TRUE(rd_field(&p, end, &f), "field"))
			goto out;
		if (f.num < 16)
			nr[f.num]++;
	}
	ASSERT_EQ(nr[2], N, "samples");
	ASSERT_EQ(nr[4], N + 1, "locations: one a row, main's shared");
	ASSERT_EQ(nr[5], N + 1, "functions");
	ASSERT_EQ(nr[3], 1, "mappings");
	/* "", 4 types, 2 units, N names, a.c, main, app.c, app, the comment, space */
	ASSERT_EQ(nr[6], 7 + N + 6, "strings, each once");
out:
	free(buf);
	free(fr);
	free(rows);
	free(names);
}
