/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Saved reports read back: the NDJSON that --format json writes (see
 * output/out_json.c for the keys) -> the report model, so that a saved
 * report renders again in every format (memtrace report, memtrace diff).
 *
 * The input is untrusted: every line is parsed against the schema with
 * bounds (line length, nesting, integer ranges, site indexes inside their
 * stacks); malformed input is an error naming its line, never a crash.
 * Unknown keys are skipped (a newer memtrace may add some); keys a older
 *  one did not write ("stacks", "site", "kind", "kinds", the rss fields) are
 * optional (a row without "kind" is of the C heap).
 * Empty lines are skipped; so is a last line without its newline that
 * is empty. "pid" and "sites" are required.
 */
#ifndef MT_LOAD_H
#define MT_LOAD_H

#include <stdio.h>
#include "lib/htab.h"
#include "report/report.h"

/* The longest line read (a report is one line). */
#define MT_LOAD_MAX_LINE (256u << 20)

struct mt_report_set {
	struct mt_report *reports; /* in file order */
	const char **sampling;	   /* per report: its "sampling" note, NULL = exact */
	size_t nr;
	struct mt_strtab strs; /* every string of the reports */
};

/*
 * Append the reports of the NDJSON stream f to set (zeroed, or holding
 * reports of an earlier load). 0; -EINVAL for malformed input, with
 * "line N: what" in err (err_len bytes); -ENOMEM; -EIO on a read error.
 * On error set holds the reports of the lines before the bad one.
 */
int mt_report_set__load(struct mt_report_set *set, FILE *f, char *err, size_t err_len);
/* Parse one line (len bytes, no newline) into *r and its note. 0, -EINVAL (err set) or -ENOMEM. */
int mt_report__parse(struct mt_report *r, const char **sampling, struct mt_strtab *strs,
		     const char *line, size_t len, char *err, size_t err_len);
/* Free every report and string; set is then empty. NULL-safe. */
void mt_report_set__free(struct mt_report_set *set);

#endif
