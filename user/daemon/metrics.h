/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus metrics: the text exposition format (version 0.0.4) of what
 * the daemon knows, rendered from the report model and the watch, never
 * computed here. Every family has HELP and TYPE; counters end in _total;
 * label values are valid UTF-8 (a target's names made printable) with
 * backslash, double quote and newline escaped.
 *
 * Cardinality is bounded: the site families carry at most max_sites
 * series per escalated process plus one "other" series (file="[other]")
 * holding the rest; memtrace_process_rss_bytes covers the top_rss
 * processes by RSS (0: every watched process).
 *
 * A report's site series are rendered once, when the report is made
 * (mt_metrics__sites), and kept as text: a scrape only concatenates.
 */
#ifndef MT_DAEMON_METRICS_H
#define MT_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

struct mt_report;

/* One escalated process's site series: two fragments of exposition text. */
struct mt_metrics_sites {
	char *outstanding; /* memtrace_site_outstanding_bytes lines; malloc'd */
	size_t outstanding_len;
	char *growth; /* memtrace_site_growth_bytes lines; malloc'd */
	size_t growth_len;
	size_t nr_series; /* per family */
};

/*
 * r's rows (in the model's order) as series, at most max_sites (0: all)
 * plus "other" when rows or groups were left out; rows that would give
 * the same labels are summed. Replaces what out held. 0 or -ENOMEM.
 */
int mt_metrics__sites(const struct mt_report *r, size_t max_sites, struct mt_metrics_sites *out);
void mt_metrics__sites_free(struct mt_metrics_sites *s);

/* A watched process as the metrics show it. */
struct mt_metrics_proc {
	pid_t pid;
	const char *comm;
	__s64 rss, anon;
	const char *tier;		      /* "watch", "growth", "exact" */
	const struct mt_metrics_sites *sites; /* NULL: not escalated, or no report yet */
};

/* A drop the daemon counts, by reason. */
struct mt_metrics_drop {
	const char *reason;
	__u64 count;
};

/* Everything one scrape shows. */
struct mt_metrics_view {
	const struct mt_metrics_proc *procs;
	size_t nr_procs;
	size_t top_rss;	   /* RSS series for the largest top_rss processes; 0: all */
	__u64 escalations; /* memtrace_escalations_total */
	__u64 deescalations;
	size_t escalated; /* now */
	__u64 oom_snapshots;
	const struct mt_metrics_drop *drops;
	size_t nr_drops;
	double overhead_seconds; /* the daemon's own CPU time (user + system) */
	__u64 scrapes;
};

/* The exposition of v to f. 0 or -EIO. */
int mt_metrics__render(FILE *f, const struct mt_metrics_view *v);
/* The same into a malloc'd *buf of *len bytes. 0 or -ENOMEM. */
int mt_metrics__render_buf(const struct mt_metrics_view *v, char **buf, size_t *len);
/* A label value: printable UTF-8, '\\', '"' and newline escaped. */
void mt_metrics__label(FILE *f, const char *s);

#endif
