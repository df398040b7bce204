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
	MT_FORMAT_PPROF, /* binary: needs a file (cfg->path) or a non-terminal stream */
	MT_FORMAT_FOLDED,
	MT_FORMAT_HTML, /* a self-contained page: needs a file (cfg->path) or a stream */
	MT_FORMAT__MAX,
};

struct mt_out_html;

struct mt_output_cfg {
	enum mt_format format;
	bool show_stacks;	   /* text: print each row's stack (--group-by stack or -v) */
	const char *sampling_note; /* NULL = exact; else e.g. "sampled every 512 KiB" */
	__u64 sample_rate;	   /* bytes per sample, 0 = exact (pprof's period) */
	const char *path;	   /* pprof, html: -o FILE, replaced whole at each report */
	struct mt_out_html *html;  /* html: every process's latest report; NULL = this one only */
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
/*
 * One row as the text table prints it: growth mark, bytes, count, growth
 * and site, without a newline, into buf (truncated to size, always
 * terminated). The live view shows these strings. Returns buf.
 */
const char *mt_out_text__row(char *buf, size_t size, const struct mt_row *row);
/* The text table's column header for those rows, without a newline. Returns buf. */
const char *mt_out_text__columns(char *buf, size_t size);
/* One JSON object on one line (NDJSON); see out_json.c for the keys. 0 or -EIO. */
int mt_out_json__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
/* Folded stacks, one line a stack; see out_folded.c. 0 or -EIO. */
int mt_out_folded__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);

/*
 * pprof: the report as a gzipped profile.proto (see out_pprof.c for the
 * layout). With cfg->path the file is replaced atomically (written to
 * PATH.tmp in the same directory, fsync'd, renamed over PATH) and f is not
 * used; otherwise the bytes go to f, refused with -ENOTTY when f is a
 * terminal. 0, -ENOMEM, -ENOTTY, or the -errno of the failed write.
 */
int mt_out_pprof__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
/*
 * The uncompressed profile.proto of one report into a malloc'd *buf of
 * *len bytes (the caller frees it). 0 or -ENOMEM (*buf NULL then).
 */
int mt_out_pprof__encode(const struct mt_output_cfg *cfg, const struct mt_report *r,
			 unsigned char **buf, size_t *len);
/* gzip (deflate, gzip header) of in into a malloc'd *out. 0, -ENOMEM, -EFBIG or -EIO. */
int mt_out_pprof__gzip(const unsigned char *in, size_t len, unsigned char **out, size_t *out_len);
/*
 * HTML: a self-contained page with a flame graph (see out_html.c). With
 * cfg->html the page holds the latest report of every process given to
 * it so far (a process picker), else this report only. With cfg->path the
 * file is replaced atomically as pprof's is and f is not used; else the
 * page goes to f. 0, -ENOMEM, -EIO or the -errno of the failed write.
 */
int mt_out_html__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r);
/* The processes of one page: new (NULL on -ENOMEM), free (NULL-safe). */
struct mt_out_html *mt_out_html__new(void);
void mt_out_html__free(struct mt_out_html *h);
/* Keep r as its process's latest report (replacing an earlier one). 0 or -ENOMEM. */
int mt_out_html__add(struct mt_out_html *h, const struct mt_output_cfg *cfg,
		     const struct mt_report *r);
/* The page of every process kept, to path (atomically) or, without path, to f. */
int mt_out_html__write(const struct mt_out_html *h, FILE *f, const char *path);
/*
 * s as a JSON string (null for NULL); invalid UTF-8 becomes U+FFFD. script:
 * also safe inside an HTML <script> element: '<', '>', '&', U+2028 and
 * U+2029 escaped as \uXXXX, so no name can close the element.
 */
void mt_json__str(FILE *f, const char *s, bool script);

/*
 * Replace path with len bytes of data atomically: PATH.tmp is written,
 * fsync'd and renamed over path, so a reader sees the old file or the new
 * one, never a part. 0 or -errno (PATH.tmp removed on failure).
 */
int mt_output__replace_file(const char *path, const void *data, size_t len);

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
