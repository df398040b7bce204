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
 *    "sites":[{"file":S,"line":N,"function":S,"module":S,"bytes":N,
 *              "count":N,"growth_bytes":N,"growth_streak":N,"new":B,
 *              "alloc_bytes":N,"alloc_count":N,
 *              "stack":[{"function":S,"file":S,"line":N,"module":S,
 *                        "addr":"0x..","inlined":B}]}]}
 *
 * Unknown strings are null, an unknown line is 0. "groups" counts the
 * groups before --top, "sites" holds the rows shown. Strings are escaped
 * per RFC 8259: '"' and '\\' with a backslash, control characters (C0,
 * DEL and C1: a terminal acts on them) as \u00xx; valid UTF-8 passes
 * through, any byte that is not part of a valid UTF-8 sequence becomes
 * U+FFFD so the output is always valid JSON.
 */
#include <errno.h>
#include <math.h>
#include "lib/printable.h"
#include "output/output.h"

/* A JSON string of at most n bytes of s (stopping at NUL), or null for NULL. */
static void json_strn(FILE *f, const char *s, size_t n)
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
		} else if (c < 0x20 || c == 0x7f) {
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
			fwrite(p + i, 1, len, f);
			i += len;
		} else {
			fputs("\\ufffd", f);
			i++;
		}
	}
	fputc('"', f);
}

static void json_str(FILE *f, const char *s)
{
	json_strn(f, s, (size_t)-1);
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

static void json_frame(FILE *f, const struct mt_frame *fr)
{
	fputs("{\"function\":", f);
	json_str(f, fr->function);
	fputs(",\"file\":", f);
	json_str(f, fr->file);
	fprintf(f, ",\"line\":%d,\"module\":", fr->line);
	json_str(f, fr->module);
	fprintf(f, ",\"addr\":\"0x%llx\",\"inlined\":%s}", (unsigned long long)fr->addr,
		json_bool(fr->inlined));
}

static void json_row(FILE *f, const struct mt_row *row)
{
	fputs("{\"file\":", f);
	json_str(f, row->file);
	fprintf(f, ",\"line\":%d,\"function\":", row->line);
	json_str(f, row->function);
	fputs(",\"module\":", f);
	json_str(f, row->module);
	fprintf(f,
		",\"bytes\":%lld,\"count\":%lld,\"growth_bytes\":%lld,\"growth_streak\":%u"
		",\"new\":%s,\"alloc_bytes\":%llu,\"alloc_count\":%llu,\"stack\":[",
		(long long)row->bytes, (long long)row->count, (long long)row->growth_bytes,
		row->growth_streak, json_bool(row->is_new), (unsigned long long)row->alloc_bytes,
		(unsigned long long)row->alloc_count);
	for (size_t i = 0; i < row->nr_stack; i++) {
		if (i)
			fputc(',', f);
		json_frame(f, &row->stack[i]);
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
