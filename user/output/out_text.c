// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Text output: one human-readable table per report, for example
 *
 *   memtrace: pid 1234 (app) report #3 at 12:00:05, final
 *   note: sampled every 512 KiB; bytes and counts are estimates
 *          bytes     count      growth  site
 *   ^    1.5 MiB      1536  +512.0 KiB  app.c:42 make_buffer [app]
 *         4000 B         1         new  util.c:10 xstrdup [app]
 *       12.0 KiB         3           =  parse [libfoo.so]
 *          160 B         2       -32 B  [libbar.so] 0x7f0012345678
 *   ^ = kept growing: grew in 2 or more reports in a row
 *   total: bytes 1.5 MiB, count 1542, growth +515.9 KiB; 4 of 9 groups shown
 *   drops: allocs_map_full=12 sites_map_full=0 ...
 *   events: alloc_failed=0 untracked_free=3 ...
 *   warning: allocs_map_full=12: live-allocation map full: raise --max-allocs
 *   (an empty line ends the report)
 *
 * Columns: bytes and count outstanding, growth since the previous report
 * ("new": the group was not there, "=": unchanged), and the site:
 * "file:line function [module]"; without a file "function [module]";
 * without either "[module] 0xADDR" (such a group is one address;
 * "[unknown]" without a module). Byte counts are exact below 10 KiB
 * ("9999 B": small sizes, such as a leaked struct's, stay recognizable)
 * and have one decimal in the largest unit that keeps the value below
 * 1024 above ("10.0 KiB", "1.5 MiB"; see mt_bytes__format). The widths
 * are fixed (a wider value pushes the rest of its row right) so that
 * successive reports line up. The time is local time.
 * With show_stacks each row is followed by its representative stack,
 * innermost frame first: "    at function (file:line) [module] (inlined)".
 * Names come from targets: control characters, bytes that are not UTF-8
 * and backslashes in them are printed as \xNN (lib/printable.h).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "lib/printable.h"
#include "output/output.h"

#define TEXT_ROW_FMT "%c %10s %9lld %11s  "
#define TEXT_HDR_FMT "  %10s %9s %11s  %s\n"

const char *mt_bytes__format(char *buf, size_t size, __s64 bytes, bool sign)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	const char *pfx = bytes < 0 ? "-" : (sign && bytes > 0 ? "+" : "");
	/* magnitude without overflow for INT64_MIN */
	__u64 mag = bytes < 0 ? (__u64)(-(bytes + 1)) + 1 : (__u64)bytes;

	if (mag < 10 * 1024) {
		snprintf(buf, size, "%s%llu B", pfx, (unsigned long long)mag);
		return buf;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		__u64 div = 1ULL << (10 * (u + 1));
		/* tenths of the unit, rounded half up; (mag % div) * 10 < 2^44 */
		__u64 tenths = mag / div * 10 + (mag % div * 10 + div / 2) / div;

		if (tenths < 1024 * 10 || u + 1 == sizeof(units) / sizeof(units[0])) {
			snprintf(buf, size, "%s%llu.%llu %s", pfx,
				 (unsigned long long)(tenths / 10),
				 (unsigned long long)(tenths % 10), units[u]);
			break;
		}
	}
	return buf;
}

/* Print at most n bytes of s, a target's string (lib/printable.h). */
static void put_safe_n(FILE *f, const char *s, size_t n)
{
	mt_printable__put(f, s, n);
}

static void put_safe(FILE *f, const char *s)
{
	put_safe_n(f, s, (size_t)-1);
}

static void put_site(FILE *f, const struct mt_row *row)
{
	if (!row->file && !row->function) {
		fputc('[', f);
		put_safe(f, row->module ? row->module : "unknown");
		fputc(']', f);
		if (row->site < row->nr_stack)
			fprintf(f, " 0x%llx", (unsigned long long)row->stack[row->site].addr);
		return;
	}
	if (row->file) {
		put_safe(f, row->file);
		if (row->line)
			fprintf(f, ":%d", row->line);
	}
	if (row->function) {
		if (row->file)
			fputc(' ', f);
		put_safe(f, row->function);
	}
	if (row->module) {
		fputs(" [", f);
		put_safe(f, row->module);
		fputc(']', f);
	}
}

static void put_frame(FILE *f, const struct mt_frame *fr)
{
	fputs("    at ", f);
	put_safe(f, fr->function ? fr->function : "??");
	if (fr->file) {
		fputs(" (", f);
		put_safe(f, fr->file);
		if (fr->line)
			fprintf(f, ":%d", fr->line);
		fputc(')', f);
	} else {
		fprintf(f, " (0x%llx)", (unsigned long long)fr->addr);
	}
	if (fr->module) {
		fputs(" [", f);
		put_safe(f, fr->module);
		fputc(']', f);
	}
	fputs(fr->inlined ? " (inlined)\n" : "\n", f);
}

static void put_header(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	char tbuf[32] = "??:??:??";
	time_t t = (time_t)r->time;
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	fprintf(f, "memtrace: pid %u (", r->pid);
	put_safe_n(f, r->comm, sizeof(r->comm));
	fputc(')', f);
	if (r->cgroup && r->cgroup[0]) {
		fputs(" cgroup ", f);
		put_safe(f, r->cgroup);
	}
	fprintf(f, " report #%u at %s%s\n", r->seq, tbuf,
		r->exited ? ", process exited" : (r->final ? ", final" : ""));
	if (cfg->sampling_note) {
		fputs("note: ", f);
		put_safe(f, cfg->sampling_note);
		fputs("; bytes and counts are estimates\n", f);
	}
}

static void put_rows(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	bool growing = false;

	if (!r->nr_rows) {
		fputs("no outstanding allocations\n", f);
		return;
	}
	fprintf(f, TEXT_HDR_FMT, "bytes", "count", "growth", "site");
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];
		bool mark = row->growth_streak >= MT_GROWTH_STREAK_MIN;
		char bytes[32], growth[32];

		if (row->is_new)
			strcpy(growth, "new");
		else if (!row->growth_bytes)
			strcpy(growth, "=");
		else
			mt_bytes__format(growth, sizeof(growth), row->growth_bytes, true);
		mt_bytes__format(bytes, sizeof(bytes), row->bytes, false);
		fprintf(f, TEXT_ROW_FMT, mark ? '^' : ' ', bytes, (long long)row->count, growth);
		put_site(f, row);
		fputc('\n', f);
		if (cfg->show_stacks) {
			for (size_t j = 0; j < row->nr_stack; j++)
				put_frame(f, &row->stack[j]);
		}
		growing |= mark;
	}
	if (growing)
		fprintf(f, "^ = kept growing: grew in %d or more reports in a row\n",
			MT_GROWTH_STREAK_MIN);
}

static void put_counters(FILE *f, const struct mt_report *r, bool drops)
{
	fputs(drops ? "drops:" : "events:", f);
	for (int c = 0; c < MT_CNT__MAX; c++) {
		if (mt_counter__is_drop(c) == drops)
			fprintf(f, " %s=%llu", mt_counter__name(c),
				(unsigned long long)r->counters[c]);
	}
	fputc('\n', f);
}

int mt_out_text__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	char bytes[32], growth[32];

	put_header(f, cfg, r);
	put_rows(f, cfg, r);
	fprintf(f, "total: bytes %s, count %lld, growth %s; %zu of %zu groups shown\n",
		mt_bytes__format(bytes, sizeof(bytes), r->total_bytes, false),
		(long long)r->total_count,
		mt_bytes__format(growth, sizeof(growth), r->total_growth_bytes, true), r->nr_rows,
		r->nr_groups);
	put_counters(f, r, true);
	put_counters(f, r, false);
	for (int c = 0; c < MT_CNT__MAX; c++) {
		if (mt_counter__is_drop(c) && r->counters[c])
			fprintf(f, "warning: %s=%llu: %s\n", mt_counter__name(c),
				(unsigned long long)r->counters[c], mt_counter__help(c));
	}
	fputc('\n', f);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
