// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * HTML output: one self-contained page, a flame graph of the outstanding
 * bytes drawn by our own small script (user/output/flame.js, embedded at
 * build time), nothing fetched from the network.
 *
 * The page is a fixed shell, the data as one JSON object inside
 * <script type="application/json" id="mt-data">, then the script:
 *
 *   {"version":1,"generator":"memtrace","processes":[P, ...]}
 *
 * P, one per process, its latest report:
 *
 *   pid comm seq time final exited group_by total_bytes total_count note
 *   strings  ["", s1, ...]  every name once; 0 is "unknown"
 *   frames   [function, file, line, module * 4 + flags, ...] four
 *            numbers a frame: string indexes, the function's as the
 *            difference to the previous frame's (the first's to -1);
 *            flags: 1 = Python, 2 = inlined. A frame known by neither
 *            function nor file has "0xADDR" as its function
 *   nodes    [frame, children, bytes, count, ...] four numbers a node, the
 *            call tree in pre-order, root first (frame -1); the frame as
 *            the difference to the previous node's (the root's to -1);
 *            bytes and count are the node's own (stacks that end there)
 *
 * The differences keep the numbers short: a page of 100,000 sites stays
 * under 5 MB (README, "HTML flame graph").
 *
 * The tree holds every stack of every row with outstanding bytes, from
 * its outermost frame to the site frame (the allocator and what it
 * called are not frames, as in pprof), so a node's total is the bytes
 * allocated by its callees that are still live. A row saved without its
 * stacks contributes its representative stack with the row's numbers.
 *
 * Names come from the traced program and are hostile until escaped: the
 * JSON escapes '<', '>', '&', control characters, U+2028 and U+2029 and
 * replaces invalid UTF-8 (mt_json__str), so no name can end the script
 * element; the script puts names into the page only as text nodes.
 *
 * Several processes: a struct mt_out_html keeps the JSON of each
 * process's latest report; the page holds all of them and a picker.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/htab.h"
#include "lib/log.h"
#include "output/output.h"
#include "output/flame_js.gen.h" /* flame_js[]: user/output/flame.js, generated */

struct html_proc {
	__u32 pid;
	char *json; /* P above */
	size_t len;
};

struct mt_out_html {
	struct html_proc *procs; /* in the order first seen */
	size_t nr, cap;
};

/* Open addressing over indexes into one of the builder's arrays. */
struct ixtab {
	struct ix_slot {
		__u64 hash;
		size_t idx1; /* index + 1; 0 = empty */
	} * slots;
	size_t cap, nr; /* cap: 0 or a power of two */
};

struct frame_key {
	size_t fn, file, mod; /* string indexes */
	int line;
	unsigned int flags;
};

struct tree_node {
	size_t parent, frame;
	size_t first, last, next; /* children in the order added; 0 = none (0 is the root) */
	size_t nr_children;
	__s64 bytes, count;
};

/* A model frame's names by pointer: most repeat, and a pointer is cheaper to hash than a name. */
struct frame_ptrs {
	const char *fn, *file, *mod;
	int line;
	unsigned int flags;
	size_t idx; /* into frames */
};

/* What one report's P is built from: tables indexed as the JSON has them. */
struct builder {
	const char **strs;
	size_t nr_strs, cap_strs;
	struct frame_key *frames;
	size_t nr_frames, cap_frames;
	struct tree_node *nodes;
	size_t nr_nodes, cap_nodes;
	char **owned; /* "0xADDR" names */
	size_t nr_owned, cap_owned;
	struct frame_ptrs *ptrs;
	size_t nr_ptrs, cap_ptrs;
	struct ixtab strs_ix, frames_ix, nodes_ix, ptrs_ix;
};

static int grow(void *vp, size_t *cap, size_t need, size_t size)
{
	void **v = vp, *p;
	size_t n = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*v, n * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

/*
 * The slot for hash in t: an entry eq() accepts, or the empty slot where
 * a new one goes. NULL on -ENOMEM (the table grows at half full).
 */
static struct ix_slot *ix_slot(struct ixtab *t, __u64 hash,
			       bool (*eq)(const struct builder *, size_t, const void *),
			       const struct builder *b, const void *key)
{
	size_t i;

	if (2 * (t->nr + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 1024;
		struct ix_slot *s = calloc(cap, sizeof(*s));

		if (!s)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->slots[k].idx1)
				continue;
			for (i = t->slots[k].hash & (cap - 1); s[i].idx1; i = (i + 1) & (cap - 1))
				;
			s[i] = t->slots[k];
		}
		free(t->slots);
		t->slots = s;
		t->cap = cap;
	}
	for (i = hash & (t->cap - 1); t->slots[i].idx1; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].hash == hash && eq(b, t->slots[i].idx1 - 1, key))
			break;
	}
	return &t->slots[i];
}

static bool str_eq(const struct builder *b, size_t idx, const void *key)
{
	return !strcmp(b->strs[idx], key);
}

static bool frame_eq(const struct builder *b, size_t idx, const void *key)
{
	const struct frame_key *a = &b->frames[idx], *k = key;

	return a->fn == k->fn && a->file == k->file && a->mod == k->mod && a->line == k->line &&
	       a->flags == k->flags;
}

static bool ptrs_eq(const struct builder *b, size_t idx, const void *key)
{
	const struct frame_ptrs *a = &b->ptrs[idx], *k = key;

	return a->fn == k->fn && a->file == k->file && a->mod == k->mod && a->line == k->line &&
	       a->flags == k->flags;
}

static bool node_eq(const struct builder *b, size_t idx, const void *key)
{
	const struct tree_node *k = key;

	return b->nodes[idx].parent == k->parent && b->nodes[idx].frame == k->frame;
}

/* Index of s in the string table (0 for NULL or ""); -ENOMEM. */
static long str_idx(struct builder *b, const char *s)
{
	__u64 h;
	struct ix_slot *slot;

	if (!s || !*s)
		return 0;
	h = mt_hash_bytes(s, strlen(s));
	slot = ix_slot(&b->strs_ix, h, str_eq, b, s);
	if (!slot || grow(&b->strs, &b->cap_strs, b->nr_strs + 1, sizeof(*b->strs)))
		return -ENOMEM;
	if (!slot->idx1) {
		b->strs[b->nr_strs++] = s;
		*slot = (struct ix_slot){h, b->nr_strs};
		b->strs_ix.nr++;
	}
	return (long)slot->idx1 - 1;
}

/* Index of fr in the frame table, by its names; -ENOMEM. */
static long frame_idx_slow(struct builder *b, const struct mt_frame *fr)
{
	struct frame_key k = {.line = fr->line,
			      .flags = (fr->kind == MT_FRAME_PYTHON) | (fr->inlined ? 2 : 0)};
	const char *fn = fr->function;
	long ifn, ifile, imod;
	struct ix_slot *slot;
	__u64 h;

	if (!fn && !fr->file) {
		char where[PATH_MAX + 32], *a;

		if (grow(&b->owned, &b->cap_owned, b->nr_owned + 1, sizeof(*b->owned)) ||
		    asprintf(&a, "%s", mt_frame__where(fr, where, sizeof(where))) < 0)
			return -ENOMEM;
		b->owned[b->nr_owned++] = a;
		fn = a;
	}
	ifn = str_idx(b, fn);
	ifile = str_idx(b, fr->file);
	imod = str_idx(b, fr->module);
	if (ifn < 0 || ifile < 0 || imod < 0)
		return -ENOMEM;
	k.fn = (size_t)ifn;
	k.file = (size_t)ifile;
	k.mod = (size_t)imod;
	h = mt_hash_u64(mt_hash_u64(((__u64)k.fn << 32) ^ k.file) ^
			((__u64)k.mod << 34 ^ (__u64)(unsigned int)k.line << 2 ^ k.flags));
	slot = ix_slot(&b->frames_ix, h, frame_eq, b, &k);
	if (!slot || grow(&b->frames, &b->cap_frames, b->nr_frames + 1, sizeof(k)))
		return -ENOMEM;
	if (!slot->idx1) {
		b->frames[b->nr_frames++] = k;
		*slot = (struct ix_slot){h, b->nr_frames};
		b->frames_ix.nr++;
	}
	return (long)slot->idx1 - 1;
}

/* Index of fr in the frame table, by the pointers to its names when seen before; -ENOMEM. */
static long frame_idx(struct builder *b, const struct mt_frame *fr)
{
	struct frame_ptrs k = {fr->function, fr->file, fr->module, fr->line,
			       (fr->kind == MT_FRAME_PYTHON) | (fr->inlined ? 2 : 0)};
	struct ix_slot *slot;
	long idx;
	__u64 h;

	if (!fr->function && !fr->file) /* named by its address */
		return frame_idx_slow(b, fr);
	h = mt_hash_u64(
	    mt_hash_u64((__u64)(unsigned long)k.fn ^ (__u64)(unsigned long)k.file << 1) ^
	    (__u64)(unsigned long)k.mod ^ (__u64)(unsigned int)k.line << 3 ^ k.flags);
	slot = ix_slot(&b->ptrs_ix, h, ptrs_eq, b, &k);
	if (!slot || grow(&b->ptrs, &b->cap_ptrs, b->nr_ptrs + 1, sizeof(k)))
		return -ENOMEM;
	if (slot->idx1)
		return (long)b->ptrs[slot->idx1 - 1].idx;
	idx = frame_idx_slow(b, fr);
	if (idx < 0)
		return idx;
	k.idx = (size_t)idx;
	b->ptrs[b->nr_ptrs++] = k;
	*slot = (struct ix_slot){h, b->nr_ptrs};
	b->ptrs_ix.nr++;
	return idx;
}

/* The child of parent for frame, added when new; -ENOMEM. */
static long child(struct builder *b, size_t parent, size_t frame)
{
	struct tree_node k = {.parent = parent, .frame = frame};
	__u64 h = mt_hash_u64(((__u64)parent << 24) ^ frame);
	struct ix_slot *slot = ix_slot(&b->nodes_ix, h, node_eq, b, &k);
	struct tree_node *p;

	if (!slot || grow(&b->nodes, &b->cap_nodes, b->nr_nodes + 1, sizeof(k)))
		return -ENOMEM;
	if (slot->idx1)
		return (long)slot->idx1 - 1;
	b->nodes[b->nr_nodes++] = k;
	*slot = (struct ix_slot){h, b->nr_nodes};
	b->nodes_ix.nr++;
	p = &b->nodes[parent];
	if (p->last)
		b->nodes[p->last].next = b->nr_nodes - 1;
	else
		p->first = b->nr_nodes - 1;
	p->last = b->nr_nodes - 1;
	p->nr_children++;
	return (long)b->nr_nodes - 1;
}

#define MT_SITE_LEAF(id, name, summary) [MT_SITE_##id] = "[" name "]",
static const char *const kind_leaf[MT_SITE__MAX] = {MT_SITE_KINDS(MT_SITE_LEAF)};
#undef MT_SITE_LEAF

/*
 * One stack into the tree, outermost frame first, down to the site frame;
 * a row of pymalloc arenas or interpreter mappings gets one more leaf,
 * its kind ("[arena]", "[runtime]"), as in the folded output.
 */
static int add_stack(struct builder *b, enum mt_site_kind kind, const struct mt_frame *frames,
		     size_t n, size_t site, __s64 bytes, __s64 count)
{
	size_t at = 0;

	if (bytes <= 0)
		return 0;
	if (site >= n)
		site = 0;
	for (size_t i = n; i-- > site;) {
		long f = frame_idx(b, &frames[i]);
		long c = f < 0 ? f : child(b, at, (size_t)f);

		if (c < 0)
			return -ENOMEM;
		at = (size_t)c;
	}
	if (mt_site_kind__is_runtime(kind)) {
		const struct mt_frame leaf = {.function = kind_leaf[kind]};
		long f = frame_idx(b, &leaf);
		long c = f < 0 ? f : child(b, at, (size_t)f);

		if (c < 0)
			return -ENOMEM;
		at = (size_t)c;
	}
	b->nodes[at].bytes += bytes;
	b->nodes[at].count += count;
	return 0;
}

static void builder__free(struct builder *b)
{
	for (size_t i = 0; i < b->nr_owned; i++)
		free(b->owned[i]);
	free(b->owned);
	free(b->strs);
	free(b->frames);
	free(b->nodes);
	free(b->strs_ix.slots);
	free(b->frames_ix.slots);
	free(b->nodes_ix.slots);
	free(b->ptrs);
	free(b->ptrs_ix.slots);
}

/* The nodes in pre-order into a malloc'd array; an explicit stack, for stacks of any depth. */
static size_t *preorder(const struct builder *b)
{
	size_t *todo = malloc(b->nr_nodes * sizeof(*todo)), nr = 0;
	size_t *out = malloc(b->nr_nodes * sizeof(*out)), n = 0;

	if (!todo || !out) {
		free(todo);
		free(out);
		return NULL;
	}
	todo[nr++] = 0;
	while (nr) {
		size_t at = todo[--nr], k = nr;

		out[n++] = at;
		/* children pushed in reverse, so the first added comes out first */
		for (size_t c = b->nodes[at].first; c; c = b->nodes[c].next)
			todo[nr++] = c;
		for (size_t i = k, j = nr; j > i + 1; i++, j--) {
			size_t tmp = todo[i];

			todo[i] = todo[j - 1];
			todo[j - 1] = tmp;
		}
	}
	free(todo);
	return out;
}

/* new index of old in map (SIZE_MAX: none yet), numbered in order of first use */
static size_t renumber(size_t *map, size_t old, size_t *next)
{
	if (map[old] == SIZE_MAX)
		map[old] = (*next)++;
	return map[old];
}

/*
 * strings, frames and nodes, frames numbered as the pre-order first meets
 * them, strings as those frames first use them (files and modules before
 * functions), so the differences written are mostly 1.
 */
static int put_tables(FILE *f, const struct builder *b)
{
	size_t *order = preorder(b), *fmap = malloc((b->nr_frames + 1) * sizeof(size_t));
	size_t *smap = malloc(b->nr_strs * sizeof(size_t)), *fnew = NULL, *snew = NULL;
	size_t nf = 0, ns = 0;
	long prev = -1;
	int err = -ENOMEM;

	if (!order || !fmap || !smap)
		goto cleanup;
	fnew = malloc((b->nr_frames + 1) * sizeof(size_t)); /* new frame index -> old */
	snew = malloc(b->nr_strs * sizeof(size_t));
	if (!fnew || !snew)
		goto cleanup;
	memset(fmap, 0xff, (b->nr_frames + 1) * sizeof(size_t));
	memset(smap, 0xff, b->nr_strs * sizeof(size_t));
	renumber(smap, 0, &ns); /* "" stays 0 */
	for (size_t i = 1; i < b->nr_nodes; i++) {
		size_t old = b->nodes[order[i]].frame;

		if (fmap[old] == SIZE_MAX)
			fnew[nf] = old;
		renumber(fmap, old, &nf);
	}
	/* files and modules first: there are few of them, their indexes stay short */
	for (size_t i = 0; i < nf; i++) {
		const struct frame_key *k = &b->frames[fnew[i]];

		snew[renumber(smap, k->file, &ns)] = k->file;
		snew[renumber(smap, k->mod, &ns)] = k->mod;
	}
	for (size_t i = 0; i < nf; i++)
		snew[renumber(smap, b->frames[fnew[i]].fn, &ns)] = b->frames[fnew[i]].fn;
	fputs(",\n\"strings\":[", f);
	for (size_t i = 0; i < ns; i++) {
		if (i)
			fputc(',', f);
		mt_json__str(f, i ? b->strs[snew[i]] : "", true);
	}
	fputs("],\n\"frames\":[", f);
	for (size_t i = 0; i < nf; i++) {
		const struct frame_key *k = &b->frames[fnew[i]];
		long fn = (long)smap[k->fn];

		fprintf(f, "%s%ld,%zu,%d,%zu", i ? "," : "", fn - prev, smap[k->file], k->line,
			smap[k->mod] * 4 + k->flags);
		prev = fn;
	}
	fputs("],\n\"nodes\":[", f);
	prev = -1;
	for (size_t i = 0; i < b->nr_nodes; i++) {
		const struct tree_node *t = &b->nodes[order[i]];
		long frame = i ? (long)fmap[t->frame] : -1;

		fprintf(f, "%s%ld,%zu,%lld,%lld", i ? "," : "", frame - prev, t->nr_children,
			(long long)t->bytes, (long long)t->count);
		prev = frame;
	}
	fputc(']', f);
	err = 0;
cleanup:
	free(order);
	free(fmap);
	free(smap);
	free(fnew);
	free(snew);
	return err;
}

static int put_process(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	struct builder b = {0};
	int err = -ENOMEM;

	if (grow(&b.nodes, &b.cap_nodes, 1, sizeof(*b.nodes)) ||
	    grow(&b.strs, &b.cap_strs, 1, sizeof(*b.strs)))
		goto cleanup;
	b.nodes[b.nr_nodes++] = (struct tree_node){0};
	b.strs[b.nr_strs++] = "";
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];

		if (!row->nr_stacks && add_stack(&b, row->kind, row->stack, row->nr_stack,
						 row->site, row->bytes, row->count))
			goto cleanup;
		for (size_t j = 0; j < row->nr_stacks; j++) {
			const struct mt_row_stack *s = &row->stacks[j];

			if (add_stack(&b, row->kind, s->frames, s->nr_frames, s->site, s->bytes,
				      s->count))
				goto cleanup;
		}
	}
	fprintf(f, "{\"pid\":%u,\"comm\":", r->pid);
	mt_json__str(f, r->comm, true);
	fprintf(f, ",\"seq\":%u,\"time\":%.3f,\"final\":%s,\"exited\":%s,\"group_by\":\"%s\"",
		r->seq, r->time, r->final ? "true" : "false", r->exited ? "true" : "false",
		mt_group_by__name(r->group_by));
	fprintf(f,
		",\"total_bytes\":%lld,\"total_count\":%lld,\"note\":", (long long)r->total_bytes,
		(long long)r->total_count);
	mt_json__str(f, cfg->sampling_note, true);
	err = put_tables(f, &b);
	fputc('}', f);
cleanup:
	builder__free(&b);
	return err;
}

struct mt_out_html *mt_out_html__new(void)
{
	return calloc(1, sizeof(struct mt_out_html));
}

void mt_out_html__free(struct mt_out_html *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nr; i++)
		free(h->procs[i].json);
	free(h->procs);
	free(h);
}

int mt_out_html__add(struct mt_out_html *h, const struct mt_output_cfg *cfg,
		     const struct mt_report *r)
{
	struct html_proc p = {.pid = r->pid};
	FILE *m = open_memstream(&p.json, &p.len);
	size_t i;
	int err;

	if (!m)
		return -ENOMEM;
	err = put_process(m, cfg, r);
	if (fclose(m) && !err)
		err = -ENOMEM;
	if (err) {
		free(p.json);
		return err;
	}
	for (i = 0; i < h->nr && h->procs[i].pid != r->pid; i++)
		;
	if (i == h->nr) {
		if (grow(&h->procs, &h->cap, h->nr + 1, sizeof(*h->procs))) {
			free(p.json);
			return -ENOMEM;
		}
		h->nr++;
	} else {
		free(h->procs[i].json);
	}
	h->procs[i] = p;
	return 0;
}

/* The page around the data: no external resource, the script inline. */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
    "<title>memtrace</title>\n<style>\n"
    "body{font:13px system-ui,sans-serif;margin:0;color:#222;background:#fff}\n"
    "header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:8px 12px;"
    "background:#f3f3f6;border-bottom:1px solid #ccc}\n"
    "header h1{font-size:15px;margin:0}\n#mt-info{color:#555}\n"
    "#mt-match{color:#a0a}\n#mt-graph{padding:4px 12px}\n"
    "svg text{font:11px monospace;pointer-events:none}\n"
    "svg rect{stroke:#fff;stroke-width:.5;cursor:pointer}\n"
    "#mt-tip{position:fixed;display:none;background:#ffffe8;border:1px solid #999;"
    "padding:4px 6px;white-space:pre;font:12px monospace;pointer-events:none}\n"
    "#mt-sites p{margin:8px 12px 0}table{border-collapse:collapse;margin:8px 12px}"
    "td,th{padding:2px 8px;"
    "text-align:left;border-bottom:1px solid #eee}td.n{text-align:right}\n"
    ".legend span{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px}\n"
    "</style></head><body>\n"
    "<header><h1>memtrace: outstanding bytes</h1>"
    "<select id=\"mt-proc\" hidden></select><span id=\"mt-info\"></span>"
    "<label><input type=\"checkbox\" id=\"mt-icicle\"> icicle</label>"
    "<button id=\"mt-reset\">reset zoom</button>"
    "<input id=\"mt-search\" type=\"search\" placeholder=\"search (regexp)\">"
    "<span id=\"mt-match\"></span><span class=\"legend\"><span style=\"background:#e8743b\">"
    "</span>native<span style=\"background:#3b8be8\"></span>Python</span></header>\n"
    "<div id=\"mt-graph\"></div><div id=\"mt-tip\"></div><div id=\"mt-sites\"></div>\n"
    "<noscript>This page draws its flame graph with JavaScript.</noscript>\n"
    "<script type=\"application/json\" id=\"mt-data\">"
    "{\"version\":1,\"generator\":\"memtrace\",\"processes\":[\n";
static const char page_mid[] = "]}</script>\n<script>\n";
static const char page_tail[] = "</script>\n</body></html>\n";

int mt_out_html__write(const struct mt_out_html *h, FILE *f, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = path ? open_memstream(&buf, &len) : f;
	int err = 0;

	if (!m)
		return -ENOMEM;
	fputs(page_head, m);
	for (size_t i = 0; i < h->nr; i++) {
		if (i)
			fputs(",\n", m);
		fwrite(h->procs[i].json, 1, h->procs[i].len, m);
	}
	fputs(page_mid, m);
	fwrite(flame_js, 1, sizeof(flame_js), m);
	fputs(page_tail, m);
	if (!path)
		return fflush(f) || ferror(f) ? -EIO : 0;
	if (fclose(m))
		err = -ENOMEM;
	if (!err) {
		err = mt_output__replace_file(path, buf, len);
		if (err)
			pr_err("writing '%s' (through '%s.tmp'): %s", path, path, strerror(-err));
	}
	free(buf);
	return err;
}

int mt_out_html__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	struct mt_out_html *own = NULL, *h = cfg->html;
	int err;

	if (!h && !(h = own = mt_out_html__new()))
		return -ENOMEM;
	err = mt_out_html__add(h, cfg, r);
	if (!err)
		err = mt_out_html__write(h, f, cfg->path);
	mt_out_html__free(own);
	return err;
}
