// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Text output: one human-readable table per report, for example
 *
 *   memtrace: pid 1234 (app) report #3 at 12:00:05, final
 *   note: sampled every 512 KiB; bytes and counts are estimates
 *   memory: rss 24.0 MiB, anon 20.5 MiB, swap 0 B; traced 1.5 MiB
 *   by kind: native heap 1.5 MiB in 1541, mappings 4000 B in 1
 *          bytes     count      growth  site
 *   ^    1.5 MiB      1536  +512.0 KiB  app.c:42 make_buffer [app]
 *         4000 B         1         new  mmap at util.c:10 map_it [app]
 *       12.0 KiB         3           =  parse [libfoo.so]
 *          160 B         2       -32 B  [libbar.so] 0x7f0012345678
 *       71.0 KiB         1           =  [libstdc++.so.6.0.30] 0x7f0012345678 (runtime)
 *   ^ = kept growing: grew in 2 or more reports in a row
 *   total: bytes 1.5 MiB, count 1542, growth +515.9 KiB; 4 of 9 groups shown
 *   note: RSS kept growing, 6.0 MiB more than the traced bytes: memory no probe sees ...
 *   drops: allocs_map_full=12 sites_map_full=0 ...
 *   events: alloc_failed=0 untracked_free=3 ...
 *   warning: allocs_map_full=12: live-allocation map full: raise --max-allocs
 *   (an empty line ends the report)
 *
 * Columns: bytes and count outstanding, growth since the previous report
 * ("new": the group was not there, "=": unchanged), and the site:
 * "file:line function [module]"; without a file "function [module]";
 * without either "[module] 0xADDR" (such a group is one address;
 * "[unknown]" without a module). A row of another kind than the C heap
 * says so first: "mmap at SITE", "pyobj at SITE" (CPython's allocator
 * domains), "runtime at SITE" (the interpreter's own mappings) and
 * "pymalloc arena, first needed at SITE", "growth at SITE" (--growth:
 * resident pages; a row that gave some back ends with "(grew X since
 * start, Y released)"). The "by kind:" line sums every
 * group per kind (with count); it is printed when some memory is not of
 * the C heap. Byte counts are exact below 10 KiB
 * ("9999 B": small sizes, such as a leaked struct's, stay recognizable)
 * and have one decimal in the largest unit that keeps the value below
 * 1024 above ("10.0 KiB", "1.5 MiB"; see mt_bytes__format). The widths
 * are fixed (a wider value pushes the rest of its row right) so that
 * successive reports line up. The time is local time. "(runtime)" marks
 * a group with no frame in the program's own code (sorted last).
 * With show_stacks each row is followed by its representative stack,
 * innermost frame first: "    at function (file:line) [module] (inlined)";
 * frames below the row's line (the allocator, --alloc-fn wrappers, C++
 * standard library code) start with "  - at" instead.
 * The "memory:" line is the process's RSS, anonymous RSS and swap at the
 * report ("?" for one its kernel does not show) next to the traced
 * outstanding bytes; there is none when they are unknown (the process
 * exited). The "RSS kept growing" note comes with a report whose
 * untraced_growth_bytes is set (see report/untraced.h).
 * Names come from targets: control characters, bytes that are not UTF-8
 * and backslashes in them are printed as \xNN (lib/printable.h).
 *
 * A diff (memtrace diff) is one table in the same columns' spirit:
 *
 *   memtrace diff: a.ndjson (1 report) -> b.ndjson (1 report), by line
 *             growth     count     bytes A     bytes B  site
 *          +1.0 MiB     +1024   512.0 KiB     1.5 MiB  app.c:42 make_buffer [app]
 *   new     +4000 B        +1         0 B      4000 B  util.c:10 xstrdup [app]
 *   gone     -160 B        -2       160 B         0 B  [libbar.so] 0x7f0012345678
 *   total: A 512.2 KiB in 514, B 1.5 MiB in 1537, growth +1.0 MiB, +1023 allocations;
 *   1 new, 1 gone, 1 in both
 *
 * (the total is one line) growth first; with --group-by stack each row is
 * followed by its stack as above.
 */
#include <errno.h>
#include <limits.h>
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
	if (row->kind == MT_SITE_ARENA)
		fputs("pymalloc arena, first needed at ", f);
	else if (row->kind != MT_SITE_HEAP && mt_site_kind__name(row->kind))
		fprintf(f, "%s at ", mt_site_kind__name(row->kind));
	if (!row->file && !row->function) {
		struct mt_frame fr =
		    row->site < row->nr_stack ? row->stack[row->site] : (struct mt_frame){0};
		char where[PATH_MAX + 32];

		fr.module = row->module ? row->module : fr.module;
		fputc('[', f);
		put_safe(f, mt_frame__where(&fr, where, sizeof(where)));
		fputc(']', f);
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

/* One frame of a stack; skipped: below the row's line (the allocator, a wrapper). */
static void put_frame(FILE *f, const struct mt_frame *fr, bool skipped)
{
	fputs(skipped ? "  - at " : "    at ", f);
	put_safe(f, fr->function ? fr->function : "??");
	if (fr->file) {
		fputs(" (", f);
		put_safe(f, fr->file);
		if (fr->line)
			fprintf(f, ":%d", fr->line);
		fputc(')', f);
	} else if (!fr->function || fr->kind != MT_FRAME_PYTHON) {
		char where[PATH_MAX + 32];

		fputs(" [", f);
		put_safe(f, mt_frame__where(fr, where, sizeof(where)));
		fputs(fr->inlined ? "] (inlined)\n" : "]\n", f);
		return;
	}
	if (fr->module) {
		fputs(" [", f);
		put_safe(f, fr->module);
		fputc(']', f);
	}
	fputs(fr->inlined ? " (inlined)\n" : "\n", f);
}

/* One row of the table: mark, bytes, count, growth, site (no newline). */
static void put_row(FILE *f, const struct mt_row *row)
{
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
	if (row->runtime)
		fputs(" (runtime)", f);
	/* growth rows: what the line grew since the start and what was given back */
	if (row->kind == MT_SITE_GROWTH && row->alloc_bytes > (__u64)row->bytes) {
		char grew[32], released[32];

		mt_bytes__format(grew, sizeof(grew), (__s64)row->alloc_bytes, false);
		mt_bytes__format(released, sizeof(released),
				 (__s64)row->alloc_bytes - (row->bytes > 0 ? row->bytes : 0),
				 false);
		fprintf(f, " (grew %s since start, %s released)", grew, released);
	}
}

/* What fn writes to a stream, into buf (truncated, always terminated). */
static const char *to_buf(char *buf, size_t size, void (*fn)(FILE *, const void *), const void *arg)
{
	FILE *f;

	if (!size)
		return buf;
	buf[0] = 0;
	buf[size - 1] = 0;
	if (size < 2 || !(f = fmemopen(buf, size, "w")))
		return buf;
	fn(f, arg);
	fclose(f); /* glibc keeps the last byte for the terminating NUL */
	buf[size - 1] = 0;
	return buf;
}

static void put_row_cb(FILE *f, const void *row)
{
	put_row(f, row);
}

static void put_columns_cb(FILE *f, const void *unused)
{
	fprintf(f, TEXT_HDR_FMT, "bytes", "count", "growth", "site");
}

const char *mt_out_text__row(char *buf, size_t size, const struct mt_row *row)
{
	return to_buf(buf, size, put_row_cb, row);
}

const char *mt_out_text__columns(char *buf, size_t size)
{
	to_buf(buf, size, put_columns_cb, NULL);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* The summary by kind, when some memory is not of the C heap. */
static void put_kinds(FILE *f, const struct mt_report *r)
{
	bool first = true;
	char bytes[32];
	int k;

	for (k = MT_SITE_HEAP + 1; k < MT_SITE__MAX; k++)
		if (r->kinds[k].bytes || r->kinds[k].count)
			break;
	if (k == MT_SITE__MAX)
		return;
	fputs("by kind:", f);
	for (k = 0; k < MT_SITE__MAX; k++) {
		if (!r->kinds[k].bytes && !r->kinds[k].count)
			continue;
		fprintf(f, "%s %s %s in %lld", first ? "" : ",", mt_site_kind__summary(k),
			mt_bytes__format(bytes, sizeof(bytes), r->kinds[k].bytes, false),
			(long long)r->kinds[k].count);
		first = false;
	}
	fputc('\n', f);
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
	if (r->has_mem) {
		char rss[32] = "?", anon[32] = "?", swap[32] = "?", traced[32];

		if (r->rss_bytes >= 0)
			mt_bytes__format(rss, sizeof(rss), r->rss_bytes, false);
		if (r->rss_anon_bytes >= 0)
			mt_bytes__format(anon, sizeof(anon), r->rss_anon_bytes, false);
		if (r->swap_bytes >= 0)
			mt_bytes__format(swap, sizeof(swap), r->swap_bytes, false);
		fprintf(f, "memory: rss %s, anon %s, swap %s; traced %s\n", rss, anon, swap,
			mt_bytes__format(traced, sizeof(traced), r->total_bytes, false));
	}
	put_kinds(f, r);
}

static void put_rows(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	bool growing = false;

	if (!r->nr_rows) {
		fputs("no outstanding allocations\n", f);
		return;
	}
	put_columns_cb(f, NULL);
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];
		bool mark = row->growth_streak >= MT_GROWTH_STREAK_MIN;

		put_row(f, row);
		fputc('\n', f);
		if (cfg->show_stacks) {
			for (size_t j = 0; j < row->nr_stack; j++)
				put_frame(f, &row->stack[j], j < row->site);
		}
		growing |= mark;
	}
	if (growing)
		fprintf(f, "^ = kept growing: grew in %d or more reports in a row\n",
			MT_GROWTH_STREAK_MIN);
}

#define OBJ_ROWS_TEXT 20 /* types the text shows */

/* --py-objects: the types that grew most, then the largest */
static void put_objects(FILE *f, const struct mt_report *r)
{
	size_t n = r->nr_objects < OBJ_ROWS_TEXT ? r->nr_objects : OBJ_ROWS_TEXT;
	char bytes[32];

	if (!r->has_objects)
		return;
	fprintf(f, "python objects: %lld, %s in %zu types (read in %.3f s",
		(long long)r->objects_count,
		mt_bytes__format(bytes, sizeof(bytes), r->objects_bytes, false), r->nr_objects,
		r->objects_walk_us / 1e6);
	if (r->objects_pause_us)
		fprintf(f, ", process stopped %.3f s", r->objects_pause_us / 1e6);
	if (r->objects_untracked_dropped)
		fprintf(f, ", %llu untracked not counted",
			(unsigned long long)r->objects_untracked_dropped);
	if (r->objects_failures)
		fprintf(f, ", %llu list%s cut short by racy links",
			(unsigned long long)r->objects_failures,
			r->objects_failures == 1 ? "" : "s");
	fputs(")\n", f);
	if (r->objects_untracked)
		fprintf(f,
			"  of which %lld str, bytes, int and float (%s) held by lists, tuples, "
			"dicts and sets\n",
			(long long)r->objects_untracked,
			mt_bytes__format(bytes, sizeof(bytes), r->objects_untracked_bytes, false));
	fprintf(f, "  %12s %12s %12s  %s\n", "count", "bytes", "growth", "type");
	for (size_t i = 0; i < n; i++) {
		const struct mt_obj_row *o = &r->objects[i];

		fprintf(f, "  %12lld %12s %+12lld  ", (long long)o->count,
			mt_bytes__format(bytes, sizeof(bytes), o->bytes, false),
			(long long)o->growth);
		put_safe(f, o->type);
		fputc('\n', f);
	}
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
	if (r->untraced_growth_bytes > 0)
		fprintf(
		    f,
		    "note: RSS kept growing, %s more than the traced bytes: memory no probe "
		    "sees (another allocator, direct system calls such as mmap or brk, a JIT)\n",
		    mt_bytes__format(growth, sizeof(growth), r->untraced_growth_bytes, false));
	put_objects(f, r);
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

int mt_out_text__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d)
{
	static const char *const marks[] = {
	    [MT_DIFF_BOTH] = "", [MT_DIFF_NEW] = "new", [MT_DIFF_GONE] = "gone"};
	size_t nr[3] = {0};
	char b1[32], b2[32], b3[32];

	fputs("memtrace diff: ", f);
	put_safe(f, d->name_a ? d->name_a : "A");
	fprintf(f, " (%zu report%s) -> ", d->nr_a, d->nr_a == 1 ? "" : "s");
	put_safe(f, d->name_b ? d->name_b : "B");
	fprintf(f, " (%zu report%s), by %s\n", d->nr_b, d->nr_b == 1 ? "" : "s",
		d->group_by == MT_GROUP_STACK ? "stack" : "line");
	if (!d->nr_rows)
		fputs("no outstanding allocations on either side\n", f);
	else
		fprintf(f, "%-4s %11s %9s %11s %11s  %s\n", "", "growth", "count", "bytes A",
			"bytes B", "site");
	for (size_t i = 0; i < d->nr_rows; i++) {
		const struct mt_diff_row *dr = &d->rows[i];
		struct mt_frame site = {.addr = dr->addr};
		struct mt_row row = {.kind = dr->kind,
				     .file = dr->file,
				     .line = dr->line,
				     .function = dr->function,
				     .module = dr->module,
				     .stack = &site,
				     .nr_stack = 1};

		nr[dr->state]++;
		fprintf(f, "%-4s %11s %+9lld %11s %11s  ", marks[dr->state],
			mt_bytes__format(b1, sizeof(b1), dr->growth_bytes, true),
			(long long)dr->growth_count,
			mt_bytes__format(b2, sizeof(b2), dr->bytes_a, false),
			mt_bytes__format(b3, sizeof(b3), dr->bytes_b, false));
		put_site(f, &row);
		fputc('\n', f);
		for (size_t j = 0; j < dr->nr_frames; j++)
			put_frame(f, &dr->frames[j], false);
	}
	fprintf(f, "total: A %s in %lld, B %s in %lld, growth %s, %+lld allocations; ",
		mt_bytes__format(b1, sizeof(b1), d->bytes_a, false), (long long)d->count_a,
		mt_bytes__format(b2, sizeof(b2), d->bytes_b, false), (long long)d->count_b,
		mt_bytes__format(b3, sizeof(b3), d->bytes_b - d->bytes_a, true),
		(long long)(d->count_b - d->count_a));
	fprintf(f, "%zu new, %zu gone, %zu in both\n", nr[MT_DIFF_NEW], nr[MT_DIFF_GONE],
		nr[MT_DIFF_BOTH]);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
