// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON output: exactly one object per report, on one line (NDJSON), keys
 * always present and in this order:
 *
 *   {"pid":N,"comm":S,"cgroup":S|null,"time":SECONDS.MMM,"seq":N,"final":B,"exited":B,
 *    "group_by":"line"|"function"|"file"|"stack","sampling":null|S,
 *    "total_bytes":N,"total_count":N,"total_growth_bytes":N,"groups":N,
 *    "drops":{NAME:N for every drop counter},
 *    "events":{NAME:N for every other counter},
 *    "rss_bytes":N|null,"rss_anon_bytes":N|null,"swap_bytes":N|null,
 *    "untraced_growth_bytes":N,
 *    "kinds":{KIND:{"bytes":N,"count":N} for every kind},
 *    ["objects":[{"type":S,"count":N,"bytes":N,"growth":N,"growth_bytes":N}],
 *     "objects_total":{"count":N,"bytes":N,"permanent":N,"untracked":N,
 *                      "untracked_bytes":N,"untracked_dropped":N,"failures":N,
 *                      "walk_us":N,"pause_us":N},]
 *    "sites":[{"file":S,"line":N,"function":S,"module":S,"kind":KIND,"bytes":N,
 *              "count":N,"growth_bytes":N,"growth_streak":N,"new":B,"runtime":B,
 *              "alloc_bytes":N,"alloc_count":N,
 *              "stack":[FRAME...],"site":N,
 *              "stacks":[{"bytes":N,"count":N,"site":N,"frames":[FRAME...]}]}]}
 *
 *   FRAME: {"function":S,"file":S,"line":N,"module":S,"addr":"0x..","inlined":B,
 *           "elf_addr":"0x.."|null (the address in the ELF file: addr2line -e FILE),
 *           "kind":"native"|"python","build_id":S}
 *   KIND: "heap"|"mmap"|"pyobj"|"arena"|"runtime" (include/mt_kinds.h): the
 *         C heap, anonymous mappings, CPython's allocator domains, pymalloc
 *         arenas (the row's line first needed them), the interpreter's own
 *         mappings. "kinds" sums every group (not only the rows shown).
 *
 * "objects" and "objects_total" are there only with --py-objects for a
 * Python process: live objects by type (tp_name), largest growth (count
 * since the previous report) first: every GC-tracked object, and the str,
 * bytes, int and float objects the items of tracked lists, tuples, dicts
 * and sets point to ("untracked" and "untracked_bytes" of the totals;
 * "untracked_dropped": those not counted, past the limit or in containers
 * that could not be read); "permanent" is how many of the tracked ones
 * are in the permanent generation (gc.freeze()); "failures" counts GC
 * lists cut short by racy links, "pause_us" how long the process was
 * stopped for the walk (0 without =stop).
 *
 * A frame's "build_id" is its module's GNU build-id in hex (null when the
 * module has none or is unknown, and for Python frames).
 *
 * Unknown strings are null, an unknown line is 0. "groups" counts the
 * groups before --top, "sites" holds the rows shown. "stack" is the
 * representative stack (the largest contributor's), "site" the index in
 * it of the frame the location comes from; "stacks" are all the group's
 * stacks, largest first, each with its own bytes, count and site index:
 * with them a saved report can be rendered again in every format
 * (report/load.h reads it back). The rss fields are the process's memory
 * from /proc/PID/status at the report (null when unknown, e.g. after it
 * exited); "untraced_growth_bytes" > 0 says RSS kept growing by that much
 * more than the traced bytes (report/untraced.h), 0 otherwise. Strings are escaped
 * per RFC 8259: '"' and '\\' with a backslash, control characters (C0,
 * DEL and C1: a terminal acts on them) as \u00xx; valid UTF-8 passes through, any byte that is not
 * part of a valid UTF-8 sequence becomes U+FFFD so the output is always valid JSON.
 *
 * A diff (memtrace diff) is one object on one line:
 *
 *   {"diff":{"a":S,"b":S},"reports_a":N,"reports_b":N,"group_by":"line"|"stack",
 *    "bytes_a":N,"bytes_b":N,"count_a":N,"count_b":N,"growth_bytes":N,"growth_count":N,
 *    "rows":[{"state":"new"|"gone"|"both","file":S,"line":N,"function":S,"module":S,
 *             "kind":KIND,"addr":"0x..","bytes_a":N,"bytes_b":N,"count_a":N,"count_b":N,
 *             "growth_bytes":N,"growth_count":N,"stack":[FRAME...]}]}
 *
 * rows largest growth first; "stack" is empty by line; "addr" is the site
 * frame's (meaningful when file and function are null).
 */
#include <errno.h>
#include <math.h>
#include "lib/printable.h"
#include "output/output.h"

/*
 * A JSON string of at most n bytes of s (stopping at NUL), or null for
 * NULL; script: also safe inside an HTML <script> element (see output.h).
 */
static void json_strn_in(FILE *f, const char *s, size_t n, bool script)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (i < n && p[i]) {
		unsigned char c = p[i];
		size_t len;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c < 0x20 || c == 0x7f ||
			   (script && (c == '<' || c == '>' || c == '&'))) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] < 0xa0) {
			/* C1 controls (U+0080..U+009F; CSI is U+009B) escaped as well */
			fprintf(f, "\\u%04x", p[i + 1]);
			i += 2;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else if ((len = mt_utf8__seq_len(p + i, n - i))) {
			/* U+2028 and U+2029 end a line in older JavaScript */
			if (script && len == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
				fprintf(f, "\\u20%02x", p[i + 2] - 0x80);
			else
				fwrite(p + i, 1, len, f);
			i += len;
		} else {
			fputs("\\ufffd", f);
			i++;
		}
	}
	fputc('"', f);
}

static void json_strn(FILE *f, const char *s, size_t n)
{
	json_strn_in(f, s, n, false);
}

static void json_str(FILE *f, const char *s)
{
	json_strn(f, s, (size_t)-1);
}

void mt_json__str(FILE *f, const char *s, bool script)
{
	json_strn_in(f, s, (size_t)-1, script);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

static void json_counters(FILE *f, const struct mt_report *r, bool drops)
{
	bool first = true;

	fputc('{', f);
	for (int c = 0; c < MT_CNT__MAX; c++) {
		if (mt_counter__is_drop(c) != drops)
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", mt_counter__name(c),
			(unsigned long long)r->counters[c]);
		first = false;
	}
	fputc('}', f);
}

static void json_objects(FILE *f, const struct mt_report *r)
{
	fputs(",\"objects\":[", f);
	for (size_t i = 0; i < r->nr_objects; i++) {
		const struct mt_obj_row *o = &r->objects[i];

		fputs(i ? ",{\"type\":" : "{\"type\":", f);
		json_str(f, o->type);
		fprintf(f, ",\"count\":%lld,\"bytes\":%lld,\"growth\":%lld,\"growth_bytes\":%lld}",
			(long long)o->count, (long long)o->bytes, (long long)o->growth,
			(long long)o->growth_bytes);
	}
	fprintf(f,
		"],\"objects_total\":{\"count\":%lld,\"bytes\":%lld,\"permanent\":%lld,"
		"\"untracked\":%lld,\"untracked_bytes\":%lld,\"untracked_dropped\":%llu,"
		"\"failures\":%llu,\"walk_us\":%llu,\"pause_us\":%llu}",
		(long long)r->objects_count, (long long)r->objects_bytes,
		(long long)r->objects_permanent, (long long)r->objects_untracked,
		(long long)r->objects_untracked_bytes,
		(unsigned long long)r->objects_untracked_dropped,
		(unsigned long long)r->objects_failures, (unsigned long long)r->objects_walk_us,
		(unsigned long long)r->objects_pause_us);
}

static void json_frame(FILE *f, const struct mt_frame *fr)
{
	fputs("{\"function\":", f);
	json_str(f, fr->function);
	fputs(",\"file\":", f);
	json_str(f, fr->file);
	fprintf(f, ",\"line\":%d,\"module\":", fr->line);
	json_str(f, fr->module);
	fprintf(f, ",\"addr\":\"0x%llx\",\"inlined\":%s,\"kind\":\"%s\",\"build_id\":",
		(unsigned long long)fr->addr, json_bool(fr->inlined),
		fr->kind == MT_FRAME_PYTHON ? "python" : "native");
	json_str(f, fr->build_id);
	if (fr->elf_addr)
		fprintf(f, ",\"elf_addr\":\"0x%llx\"", (unsigned long long)fr->elf_addr);
	else
		fputs(",\"elf_addr\":null", f);
	fputc('}', f);
}

static void json_frames(FILE *f, const struct mt_frame *frames, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_frame(f, &frames[i]);
	}
	fputc(']', f);
}

static void json_mem(FILE *f, const char *key, bool known, __s64 v)
{
	if (known && v >= 0)
		fprintf(f, ",\"%s\":%lld", key, (long long)v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static void json_row(FILE *f, const struct mt_row *row)
{
	fputs("{\"file\":", f);
	json_str(f, row->file);
	fprintf(f, ",\"line\":%d,\"function\":", row->line);
	json_str(f, row->function);
	fputs(",\"module\":", f);
	json_str(f, row->module);
	fputs(",\"kind\":", f);
	json_str(f, mt_site_kind__name(row->kind));
	fprintf(f,
		",\"bytes\":%lld,\"count\":%lld,\"growth_bytes\":%lld,\"growth_streak\":%u"
		",\"new\":%s,\"runtime\":%s,\"alloc_bytes\":%llu,\"alloc_count\":%llu,\"stack\":",
		(long long)row->bytes, (long long)row->count, (long long)row->growth_bytes,
		row->growth_streak, json_bool(row->is_new), json_bool(row->runtime),
		(unsigned long long)row->alloc_bytes, (unsigned long long)row->alloc_count);
	json_frames(f, row->stack, row->nr_stack);
	fprintf(f, ",\"site\":%zu,\"stacks\":[", row->site);
	for (size_t i = 0; i < row->nr_stacks; i++) {
		const struct mt_row_stack *st = &row->stacks[i];

		fprintf(f,
			"%s{\"bytes\":%lld,\"count\":%lld,\"site\":%zu,\"frames\":", i ? "," : "",
			(long long)st->bytes, (long long)st->count, st->site);
		json_frames(f, st->frames, st->nr_frames);
		fputc('}', f);
	}
	fputs("]}", f);
}

int mt_out_json__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	const char *group_by = mt_group_by__name(r->group_by);

	fprintf(f, "{\"pid\":%u,\"comm\":", r->pid);
	json_strn(f, r->comm, sizeof(r->comm));
	fputs(",\"cgroup\":", f);
	json_str(f, r->cgroup);
	if (isfinite(r->time))
		fprintf(f, ",\"time\":%.3f", r->time);
	else
		fputs(",\"time\":null", f);
	fprintf(f, ",\"seq\":%u,\"final\":%s,\"exited\":%s,\"group_by\":", r->seq,
		json_bool(r->final), json_bool(r->exited));
	json_str(f, group_by);
	fputs(",\"sampling\":", f);
	json_str(f, cfg->sampling_note);
	fprintf(f, ",\"total_bytes\":%lld,\"total_count\":%lld,\"total_growth_bytes\":%lld",
		(long long)r->total_bytes, (long long)r->total_count,
		(long long)r->total_growth_bytes);
	fprintf(f, ",\"groups\":%zu,\"drops\":", r->nr_groups);
	json_counters(f, r, true);
	fputs(",\"events\":", f);
	json_counters(f, r, false);
	json_mem(f, "rss_bytes", r->has_mem, r->rss_bytes);
	json_mem(f, "rss_anon_bytes", r->has_mem, r->rss_anon_bytes);
	json_mem(f, "swap_bytes", r->has_mem, r->swap_bytes);
	fprintf(f, ",\"untraced_growth_bytes\":%lld", (long long)r->untraced_growth_bytes);
	fputs(",\"kinds\":{", f);
	for (int k = 0; k < MT_SITE__MAX; k++)
		fprintf(f, "%s\"%s\":{\"bytes\":%lld,\"count\":%lld}", k ? "," : "",
			mt_site_kind__name(k), (long long)r->kinds[k].bytes,
			(long long)r->kinds[k].count);
	fputc('}', f);
	if (r->has_objects)
		json_objects(f, r);
	fputs(",\"sites\":[", f);
	for (size_t i = 0; i < r->nr_rows; i++) {
		if (i)
			fputc(',', f);
		json_row(f, &r->rows[i]);
	}
	fputs("]}\n", f);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}

int mt_out_json__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d)
{
	static const char *const states[] = {
	    [MT_DIFF_BOTH] = "both", [MT_DIFF_NEW] = "new", [MT_DIFF_GONE] = "gone"};

	fputs("{\"diff\":{\"a\":", f);
	json_str(f, d->name_a);
	fputs(",\"b\":", f);
	json_str(f, d->name_b);
	fprintf(f,
		"},\"reports_a\":%zu,\"reports_b\":%zu,\"group_by\":\"%s\",\"bytes_a\":%lld,"
		"\"bytes_b\":%lld,\"count_a\":%lld,\"count_b\":%lld,\"growth_bytes\":%lld,"
		"\"growth_count\":%lld,\"rows\":[",
		d->nr_a, d->nr_b, d->group_by == MT_GROUP_STACK ? "stack" : "line",
		(long long)d->bytes_a, (long long)d->bytes_b, (long long)d->count_a,
		(long long)d->count_b, (long long)(d->bytes_b - d->bytes_a),
		(long long)(d->count_b - d->count_a));
	for (size_t i = 0; i < d->nr_rows; i++) {
		const struct mt_diff_row *r = &d->rows[i];

		fprintf(f, "%s{\"state\":\"%s\",\"file\":", i ? "," : "", states[r->state]);
		json_str(f, r->file);
		fprintf(f, ",\"line\":%d,\"function\":", r->line);
		json_str(f, r->function);
		fputs(",\"module\":", f);
		json_str(f, r->module);
		fputs(",\"kind\":", f);
		json_str(f, mt_site_kind__name(r->kind));
		fprintf(f,
			",\"addr\":\"0x%llx\",\"bytes_a\":%lld,\"bytes_b\":%lld,\"count_a\":%lld,"
			"\"count_b\":%lld,\"growth_bytes\":%lld,\"growth_count\":%lld,\"stack\":",
			(unsigned long long)r->addr, (long long)r->bytes_a, (long long)r->bytes_b,
			(long long)r->count_a, (long long)r->count_b, (long long)r->growth_bytes,
			(long long)r->growth_count);
		json_frames(f, r->frames, r->nr_frames);
		fputc('}', f);
	}
	fputs("]}\n", f);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
