// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus text exposition (metrics.h). Families, in this order:
 *
 *   memtrace_process_rss_bytes{pid,comm}             gauge
 *   memtrace_process_anon_bytes{pid,comm}            gauge
 *   memtrace_process_tier{pid,comm,tier}             gauge (1; escalated processes only)
 *   memtrace_site_outstanding_bytes{pid,comm,file,line,function,kind}   gauge
 *   memtrace_site_growth_bytes{pid,comm,file,line,function,kind}        gauge (since the
 *                                                    previous report of the process)
 *   memtrace_escalated_processes                     gauge
 *   memtrace_escalations_total, memtrace_deescalations_total, memtrace_oom_snapshots_total,
 *   memtrace_drops_total{reason}, memtrace_overhead_seconds_total,
 *   memtrace_scrapes_total                           counters
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/metrics.h"
#include "lib/printable.h"
#include "report/report.h"

void mt_metrics__label(FILE *f, const char *s)
{
	char buf[1024];

	mt_printable__str(buf, sizeof(buf), s ? s : "");
	for (const char *p = buf; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*p, f);
	}
}

struct series {
	const char *file, *function, *kind;
	char where[96]; /* the function when unknown: module+0xADDR */
	int line;
	__s64 bytes, growth;
};

static void series_of(const struct mt_row *row, struct series *s)
{
	const struct mt_frame *fr = row->site < row->nr_stack ? &row->stack[row->site] : NULL;

	memset(s, 0, sizeof(*s));
	s->file = row->file ? row->file : "";
	s->line = row->line;
	s->function = row->function;
	if (!s->function && fr)
		s->function = mt_frame__where(fr, s->where, sizeof(s->where));
	if (!s->function)
		s->function = "";
	s->kind = mt_site_kind__name(row->kind);
	if (!s->kind)
		s->kind = "";
	s->bytes = row->bytes;
	s->growth = row->growth_bytes;
}

static bool same_labels(const struct series *a, const struct series *b)
{
	return a->line == b->line && !strcmp(a->file, b->file) &&
	       !strcmp(a->function, b->function) && !strcmp(a->kind, b->kind);
}

static void series_labels(FILE *f, const struct mt_report *r, const struct series *s)
{
	fprintf(f, "{pid=\"%u\",comm=\"", r->pid);
	mt_metrics__label(f, r->comm);
	fputs("\",file=\"", f);
	mt_metrics__label(f, s->file);
	fprintf(f, "\",line=\"%d\",function=\"", s->line);
	mt_metrics__label(f, s->function);
	fputs("\",kind=\"", f);
	mt_metrics__label(f, s->kind);
	fputs("\"}", f);
}

void mt_metrics__sites_free(struct mt_metrics_sites *s)
{
	if (!s)
		return;
	free(s->outstanding);
	free(s->growth);
	memset(s, 0, sizeof(*s));
}

int mt_metrics__sites(const struct mt_report *r, size_t max_sites, struct mt_metrics_sites *out)
{
	size_t n = r->nr_rows, nr = 0;
	struct series *v, other = {.file = "[other]", .function = "", .kind = ""};
	FILE *fo = NULL, *fg = NULL;
	struct mt_metrics_sites s = {};
	__s64 shown = 0, shown_growth = 0;
	int err = -ENOMEM;

	if (max_sites && n > max_sites)
		n = max_sites;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct series cur;
		size_t k;

		series_of(&r->rows[i], &cur);
		for (k = 0; k < nr && !same_labels(&v[k], &cur); k++)
			;
		if (k < nr) {
			v[k].bytes += cur.bytes;
			v[k].growth += cur.growth;
		} else {
			v[nr++] = cur;
			if (cur.function == cur.where) /* moved: point at the copy */
				v[nr - 1].function = v[nr - 1].where;
		}
		shown += cur.bytes;
		shown_growth += cur.growth;
	}
	fo = open_memstream(&s.outstanding, &s.outstanding_len);
	fg = open_memstream(&s.growth, &s.growth_len);
	if (!fo || !fg)
		goto out;
	for (size_t k = 0; k < nr; k++) {
		fputs("memtrace_site_outstanding_bytes", fo);
		series_labels(fo, r, &v[k]);
		fprintf(fo, " %lld\n", (long long)v[k].bytes);
		fputs("memtrace_site_growth_bytes", fg);
		series_labels(fg, r, &v[k]);
		fprintf(fg, " %lld\n", (long long)v[k].growth);
	}
	s.nr_series = nr;
	if (n < r->nr_rows || r->nr_groups > r->nr_rows) {
		fputs("memtrace_site_outstanding_bytes", fo);
		series_labels(fo, r, &other);
		fprintf(fo, " %lld\n", (long long)(r->total_bytes - shown));
		fputs("memtrace_site_growth_bytes", fg);
		series_labels(fg, r, &other);
		fprintf(fg, " %lld\n", (long long)(r->total_growth_bytes - shown_growth));
		s.nr_series++;
	}
	if (ferror(fo) || ferror(fg))
		goto out;
	err = 0;
out:
	if (fo && fclose(fo))
		err = -ENOMEM;
	if (fg && fclose(fg))
		err = -ENOMEM;
	free(v);
	if (err) {
		mt_metrics__sites_free(&s);
		return err;
	}
	mt_metrics__sites_free(out);
	*out = s;
	return 0;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void proc_labels(FILE *f, const struct mt_metrics_proc *p)
{
	fprintf(f, "{pid=\"%d\",comm=\"", p->pid);
	mt_metrics__label(f, p->comm);
	fputs("\"", f);
}

/* A gauge of every process in top: its RSS, or its anonymous part. */
static void proc_gauge(FILE *f, const char *name, const char *help,
		       const struct mt_metrics_proc **top, size_t nr, bool anon)
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < nr; i++) {
		fputs(name, f);
		proc_labels(f, top[i]);
		fprintf(f, "} %lld\n", (long long)(anon ? top[i]->anon : top[i]->rss));
	}
}

static int by_rss(const void *a, const void *b)
{
	const struct mt_metrics_proc *x = *(const struct mt_metrics_proc *const *)a;
	const struct mt_metrics_proc *y = *(const struct mt_metrics_proc *const *)b;

	return x->rss < y->rss ? 1 : x->rss > y->rss ? -1 : x->pid - y->pid;
}

int mt_metrics__render(FILE *f, const struct mt_metrics_view *v)
{
	const struct mt_metrics_proc **top = calloc(v->nr_procs ? v->nr_procs : 1, sizeof(*top));
	size_t nr_top = v->nr_procs;

	if (!top)
		return -ENOMEM;
	for (size_t i = 0; i < v->nr_procs; i++)
		top[i] = &v->procs[i];
	if (v->top_rss && v->top_rss < nr_top) {
		qsort(top, nr_top, sizeof(*top), by_rss);
		nr_top = v->top_rss;
	}
	proc_gauge(f, "memtrace_process_rss_bytes",
		   "Resident set size of a watched process (VmRSS)", top, nr_top, false);
	proc_gauge(f, "memtrace_process_anon_bytes",
		   "Anonymous resident memory of a watched process (resident minus file and shmem)",
		   top, nr_top, true);
	free(top);
	family(f, "memtrace_process_tier", "gauge",
	       "1 for each escalated process, labelled with its tier (growth or exact)");
	for (size_t i = 0; i < v->nr_procs; i++) {
		if (!strcmp(v->procs[i].tier, "watch"))
			continue;
		fputs("memtrace_process_tier", f);
		proc_labels(f, &v->procs[i]);
		fprintf(f, ",tier=\"%s\"} 1\n", v->procs[i].tier);
	}
	family(f, "memtrace_site_outstanding_bytes", "gauge",
	       "Bytes allocated at a line and not freed, since the process was escalated");
	for (size_t i = 0; i < v->nr_procs; i++)
		if (v->procs[i].sites && v->procs[i].sites->outstanding)
			fwrite(v->procs[i].sites->outstanding, 1,
			       v->procs[i].sites->outstanding_len, f);
	family(f, "memtrace_site_growth_bytes", "gauge",
	       "Change of a line's outstanding bytes since the previous report of its process");
	for (size_t i = 0; i < v->nr_procs; i++)
		if (v->procs[i].sites && v->procs[i].sites->growth)
			fwrite(v->procs[i].sites->growth, 1, v->procs[i].sites->growth_len, f);
	family(f, "memtrace_escalated_processes", "gauge", "Processes escalated now");
	fprintf(f, "memtrace_escalated_processes %zu\n", v->escalated);
	family(f, "memtrace_escalations_total", "counter",
	       "Processes escalated from the watch to a tier with probes");
	fprintf(f, "memtrace_escalations_total %llu\n", (unsigned long long)v->escalations);
	family(f, "memtrace_deescalations_total", "counter",
	       "Escalated processes let go back to the watch");
	fprintf(f, "memtrace_deescalations_total %llu\n", (unsigned long long)v->deescalations);
	family(f, "memtrace_oom_snapshots_total", "counter",
	       "Profiles written for an escalated process the kernel chose as an OOM victim");
	fprintf(f, "memtrace_oom_snapshots_total %llu\n", (unsigned long long)v->oom_snapshots);
	family(f, "memtrace_drops_total", "counter",
	       "Things the daemon could not do, by reason (budget: over --max-escalated; "
	       "BPF's own drops by their counter's name)");
	for (size_t i = 0; i < v->nr_drops; i++)
		fprintf(f, "memtrace_drops_total{reason=\"%s\"} %llu\n", v->drops[i].reason,
			(unsigned long long)v->drops[i].count);
	family(f, "memtrace_overhead_seconds_total", "counter",
	       "CPU time the daemon itself used (user and system)");
	fprintf(f, "memtrace_overhead_seconds_total %.6f\n", v->overhead_seconds);
	family(f, "memtrace_scrapes_total", "counter", "Metrics requests served");
	fprintf(f, "memtrace_scrapes_total %llu\n", (unsigned long long)v->scrapes);
	return ferror(f) ? -EIO : 0;
}

int mt_metrics__render_buf(const struct mt_metrics_view *v, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int err;

	if (!f)
		return -ENOMEM;
	err = mt_metrics__render(f, v);
	if (fclose(f) || err) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}
