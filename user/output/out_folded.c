// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Folded stacks, the input of flamegraph.pl, speedscope, inferno and most
 * flame-graph tools: one line per stack of every group,
 *
 *   root;caller;...;leaf BYTES
 *
 * root (outermost frame) first, the leaf the innermost frame (the call
 * into the allocator), BYTES the stack's outstanding bytes as an integer,
 * exactly one space before it, nothing after it. The grammar is the
 * intersection of what flamegraph.pl (which also takes decimals and runs
 * of spaces) and speedscope (one space, an integer) accept.
 *
 * A frame is "function (file:line)" (native and Python alike; ":line"
 * only when known), "function [module]" without a file, "?? (file:line)"
 * without a function, "[module] 0xADDR" when only the address is known
 * ("[unknown]" without a module). Inlined frames are frames of their own.
 * ';' inside a name, control characters and DEL become '?', so a name
 * never splits a frame or a line. Stacks with no outstanding bytes are
 * left out. A row saved without its stacks (an older report) folds as
 * its representative stack with the row's bytes. A row of pymalloc
 * arenas or of the interpreter's own mappings gets one more leaf, its kind
 * in brackets ("[arena]", "[runtime]"), so a flame graph keeps what a line
 * made the runtime hold apart from the line's own blocks.
 */
#include <errno.h>
#include <limits.h>
#include "output/output.h"

static void put_name(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		fputc(c == ';' || c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

static void put_frame(FILE *f, const struct mt_frame *fr)
{
	if (!fr->function && !fr->file) {
		char where[PATH_MAX + 32];

		fputc('[', f);
		put_name(f, mt_frame__where(fr, where, sizeof(where)));
		fputc(']', f);
		return;
	}
	put_name(f, fr->function ? fr->function : "??");
	if (fr->file) {
		fputs(" (", f);
		put_name(f, fr->file);
		if (fr->line)
			fprintf(f, ":%d", fr->line);
		fputc(')', f);
	} else if (fr->module) {
		fputs(" [", f);
		put_name(f, fr->module);
		fputc(']', f);
	}
}

static void put_stack(FILE *f, enum mt_site_kind kind, const struct mt_frame *frames, size_t n,
		      __s64 bytes)
{
	if (bytes <= 0)
		return;
	if (!n) {
		fputs("[unknown]", f);
	} else {
		for (size_t i = n; i-- > 0;) {
			put_frame(f, &frames[i]);
			if (i)
				fputc(';', f);
		}
	}
	if (mt_site_kind__is_runtime(kind))
		fprintf(f, ";[%s]", mt_site_kind__name(kind));
	fprintf(f, " %lld\n", (long long)bytes);
}

int mt_out_folded__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];

		if (!row->nr_stacks)
			put_stack(f, row->kind, row->stack, row->nr_stack, row->bytes);
		for (size_t j = 0; j < row->nr_stacks; j++)
			put_stack(f, row->kind, row->stacks[j].frames, row->stacks[j].nr_frames,
				  row->stacks[j].bytes);
	}
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
