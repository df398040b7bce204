/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Output formats: each renders the report model, nothing else. */
#ifndef MT_OUTPUT_H
#define MT_OUTPUT_H

#include <stdio.h>
#include "report/diff.h"
#include "report/report.h"

enum mt_format {
	MT_FORMAT_TEXT = 0,
	MT_FORMAT_JSON,
	MT_FORMAT_FOLDED,
	MT_FORMAT__MAX,
};

struct mt_output_cfg {
	enum mt_format format;
	bool show_stacks;	   /* text: print each row's stack (--group-by stack or -v) */
	const char *sampling_note; /* NULL = exact; else e.g. "sampled every 512 KiB" */
};

/*
 * Render one report in cfg->format and flush f. Returns 0, -EIO on a write
 * error, or -EINVAL for an unknown format.
 */
int mt_output__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);

/*
 * The formats by name, one table entry each (output.c): a new format is
 * an enum value, an entry and its renderer.
 */
struct mt_format_desc {
	const char *name; /* as --format takes it */
	const char *help; /* a few words for --help */
	int (*report)(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
	/* memtrace diff's rendering; NULL when the format has none */
	int (*diff)(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d);
};

/* The entry of a format; NULL for a value outside the table. */
const struct mt_format_desc *mt_format__desc(enum mt_format fmt);
/* A format by name: 0 or -EINVAL. */
int mt_format__parse(const char *name, enum mt_format *fmt);
/* "text, json or folded": the names for a usage message, into buf. */
const char *mt_format__list(char *buf, size_t size);

/*
 * Render a diff of two sets of reports in cfg->format and flush f: 0, -EIO
 * on a write error, -EOPNOTSUPP for a format without one, -EINVAL for an
 * unknown format.
 */
int mt_output__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d);
int mt_out_text__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d);
int mt_out_json__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d);

/* Human-readable table; see out_text.c for the layout. 0 or -EIO. */
int mt_out_text__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
/* One JSON object on one line (NDJSON); see out_json.c for the keys. 0 or -EIO. */
int mt_out_json__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
/* Folded stacks, one line a stack; see out_folded.c. 0 or -EIO. */
int mt_out_folded__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);

/*
 * Human-readable byte count into buf: exact below 10 KiB ("9999 B"), else
 * KiB, MiB, GiB or TiB with one decimal, rounded half up ("1.5 MiB").
 * sign: prefix positive values with '+'. Returns buf.
 */
const char *mt_bytes__format(char *buf, size_t size, __s64 bytes, bool sign);

/*
 * Counters, from the X-macro list: help text for warnings, and whether it
 * is a drop (names: mt_counter__name in report.h). NULL (false) for a
 * value outside the list.
 */
const char *mt_counter__help(enum mt_counter c);
bool mt_counter__is_drop(enum mt_counter c);

#endif
