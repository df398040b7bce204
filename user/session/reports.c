// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reports: a snapshot of the maps, each site symbolized (once: the site
 * cache), aggregated per target and rendered by the output formats.
 * A report reads the session: it never attaches, detaches, purges or
 * adds targets (session/attach.c and session/host.c do, before a round).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>
#include "lib/log.h"
#include "lib/printable.h"
#include "mt_python.h"
#include "proc/procinfo.h"
#include "report/aggregate.h"
#include "report/site.h"
#include "session/internal.h"
#include "symbolize/sitecache.h"
#include "symbolize/sym_native.h"
#include "symbolize/sym_python.h"

static double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A Python frame of t. A forked child that is gone (or whose frame was
 * never read while it lived) shares its code objects with its parent,
 * at the same addresses, from before the fork: the parent can tell (a
 * code object freed and reused since fails the co_firstlineno check).
 */
static int resolve_py(struct memtrace *mt, const struct target *t, const struct mt_py_frame *py,
		      struct mt_frame *f)
{
	int err = mt_sym_python__resolve(mt->pysym, t->pid, py, f);
	const struct target *parent;

	if (err && t->ppid && (parent = mt_targets__find(&mt->targets, t->ppid, 0)) &&
	    parent->py_module[0])
		err = mt_sym_python__resolve(mt->pysym, parent->pid, py, f);
	return err;
}

/* Python's import machinery: <frozen importlib._bootstrap> and _bootstrap_external */
#define IMPORTLIB "<frozen importlib._bootstrap"

/*
 * Symbolize one site into frames, innermost first: the call site ([SP] at
 * entry), then the frame-pointer stack above it, cut at the first address
 * in no module (what a function without frame pointers left in %rbp).
 * For a Python process the native frames stop at the first one inside the
 * interpreter and the Python frames follow; the innermost Python frame
 * outside the import machinery is then the line (import-time allocations
 * land on the line that imported), unless that importer's code object was
 * gone before it could be read; else the innermost Python frame.
 * Otherwise report/site.h chooses it (*runtime too): above the allocators'
 * files, --alloc-fn wrappers and C++ standard headers.
 */
static size_t site_frames(struct memtrace *mt, const struct target *t, const struct mt_raw_site *s,
			  struct mt_frame *frames, size_t max, size_t *site_idx, bool *complete,
			  bool *runtime)
{
	const char *mods[sizeof(t->alloc_mods) / sizeof(t->alloc_mods[0])];
	struct mt_site_rules rules = {
	    .alloc_mods = mods,
	    .nr_alloc_mods = t->nr_alloc_mods,
	    .alloc_fns = (const char *const *)mt->opts->alloc_fns,
	    .nr_alloc_fns = mt->opts->nr_alloc_fns,
	};
	__u64 ips[MT_MAX_STACK_DEPTH + 1];
	struct mt_py_frame py[MT_PY_MAX_DEPTH];
	int n = 1, m, npy = 0;
	size_t nf = 0;
	bool site_set = false, site_py_import = false;

	if (s->key.py_stack && t->py_module[0])
		npy = mt_stack_cache__python(mt->stacks, &mt->bpf, s->key.py_stack, py,
					     MT_PY_MAX_DEPTH);
	for (size_t i = 0; i < t->nr_alloc_mods; i++)
		mods[i] = t->alloc_mods[i];
	*complete = true;
	*runtime = false;
	ips[0] = s->key.caller;
	m = mt_stack_cache__native(mt->stacks, &mt->bpf, s->key.stack, ips + 1, MT_MAX_STACK_DEPTH);
	if (m > 0)
		n += m;
	*site_idx = 0;
	for (int i = 0; i < n && nf < max; i++) {
		int k = mt_sym_native__resolve(mt->sym, t->pid, ips[i], true, frames + nf,
					       (int)(max - nf));
		bool in_interp;

		if (k <= 0) {
			*complete = false;
			continue;
		}
		if (i > 0 && !frames[nf].module)
			break;
		if (!frames[nf].module)
			*complete = false; /* the maps may know it next time */
		in_interp =
		    npy > 0 && frames[nf].module && !strcmp(frames[nf].module, t->py_module);
		nf += k;
		if (in_interp)
			break;
	}
	if (!npy)
		*site_idx = mt_site__choose(frames, nf, &rules, runtime);
	for (int i = 0; i < npy && nf < max; i++) {
		struct mt_frame *f = &frames[nf];
		bool importing;

		if (resolve_py(mt, t, &py[i], f)) {
			/* freed (and maybe reused) before memtrace could read it */
			memset(f, 0, sizeof(*f));
			f->kind = MT_FRAME_PYTHON;
			f->addr = py[i].code;
			f->function = "<python code object gone before it was read>";
		}
		importing = f->file && !strncmp(f->file, IMPORTLIB, sizeof(IMPORTLIB) - 1);
		if (!site_set || (site_py_import && !importing && f->file)) {
			*site_idx = nf;
			site_set = true;
			site_py_import = importing;
		} else if (site_py_import && !importing) {
			site_py_import = false; /* an importer gone unread: keep importlib's line */
		}
		nf++;
	}
	return nf;
}

/*
 * The process's RSS beside the traced bytes (not once it exited: its pid
 * may name another process by now), and whether RSS grows without them.
 */
static void report_memory(struct target *t, struct mt_report *r)
{
	struct mt_proc_mem m;

	if (!r->exited && !mt_proc__mem(t->pid, &m)) {
		r->has_mem = true;
		r->rss_bytes = m.rss;
		r->rss_anon_bytes = m.rss_anon;
		r->swap_bytes = m.swap;
	}
	r->untraced_growth_bytes =
	    mt_untraced__update(&t->untraced, r->has_mem, r->rss_bytes, r->total_bytes);
}

/*
 * A report could not be written (err, from the renderer: -EIO when a write
 * failed, then errno says why): one error line. Returns -EIO. A format
 * that replaces a whole file (cfg.path: pprof, html) has said which file
 * failed already.
 */
static int write_error(struct memtrace *mt, int err)
{
	int why = err == -EIO && errno ? errno : -err;

	if (mt->out_cfg.path)
		return -EIO;
	pr_err("writing the report to %s: %s", mt->opts->output ? mt->opts->output : "stdout",
	       strerror(why));
	return -EIO;
}
/*
 * Drops are said where the user looks: a text report on the terminal
 * carries them; JSON, pprof, a file or the live view get them on stderr,
 * once each time a counter grew.
 */
static void say_drops(struct memtrace *mt, const struct mt_report *r)
{
	if (mt->opts->format == MT_FORMAT_TEXT && !mt->out_cfg.path && !mt->live)
		return;
	for (int c = 0; c < MT_CNT__MAX; c++) {
		if (!mt_counter__is_drop(c) || r->counters[c] <= mt->drops_said[c])
			continue;
		mt->drops_said[c] = r->counters[c];
		pr_warn("%s=%llu: %s", mt_counter__name(c), (unsigned long long)r->counters[c],
			mt_counter__help(c));
	}
}

/* A site's frames (MT_MAX_STACK_DEPTH * 4 of room), remembered when complete. */
static size_t site_symbolize(struct memtrace *mt, const struct target *t,
			     const struct mt_raw_site *s, struct mt_frame *frames, size_t *site,
			     bool *runtime)
{
	bool complete;
	size_t n = site_frames(mt, t, s, frames, MT_MAX_STACK_DEPTH * 4, site, &complete, runtime);

	if (complete && n)
		mt_site_cache__put(mt->sites, &s->key, s->slot, frames, n,
				   *site | (*runtime ? MT_SITE_RUNTIME : 0));
	return n;
}

int mt_target__symbolize_now(struct memtrace *mt, struct target *t)
{
	struct mt_frame frames[MT_MAX_STACK_DEPTH * 4];
	const struct mt_raw_site *sites;
	struct mt_snapshot snap;
	size_t nr_sites, site;
	const struct mt_frame *table;
	const __u32 *ids;
	bool runtime;
	int err;

	mt_sym_native__add_pid(mt->sym, t->pid);
	err = mt_session__snapshot(mt, &snap);
	if (err)
		return err;
	sites = mt_snapshot__process(&snap, (__u32)t->pid, &nr_sites);
	for (size_t i = 0; i < nr_sites; i++) {
		if (!mt_site_cache__ref(mt->sites, &sites[i].key, sites[i].slot, &table, &ids,
					&site))
			site_symbolize(mt, t, &sites[i], frames, &site, &runtime);
	}
	mt_snapshot__free(&snap);
	return 0;
}

/*
 * A row's line is a native frame without file: once per module, say what
 * would give it (its build-id is what debuginfod and the -dbgsym packages
 * are found by).
 */
static void say_no_lines(struct memtrace *mt, const struct mt_report *r)
{
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];
		const struct mt_frame *fr =
		    row->site < row->nr_stack ? &row->stack[row->site] : NULL;
		char mod[256], id[128];
		const char **said;
		size_t k;

		if (!fr || fr->file || fr->kind != MT_FRAME_NATIVE || !fr->module)
			continue;
		for (k = 0; k < mt->nr_no_lines_said && mt->no_lines_said[k] != fr->module; k++)
			;
		if (k < mt->nr_no_lines_said)
			continue;
		said = realloc(mt->no_lines_said, (k + 1) * sizeof(*said));
		if (!said)
			return;
		mt->no_lines_said = said;
		said[mt->nr_no_lines_said++] = fr->module;
		mt_printable__str(mod, sizeof(mod), fr->module);
		mt_printable__str(id, sizeof(id), fr->build_id ? fr->build_id : "none");
		pr_info("no line information for %s (build-id %s): install its debug symbols "
			"(Debian: its -dbgsym package) or set DEBUGINFOD_URLS; `addr2line -e FILE "
			"ADDR` takes the +0x addresses shown",
			mod, id);
	}
}

static int report_target(struct memtrace *mt, struct target *t, const struct mt_snapshot *snap,
			 bool final, bool exited)
{
	struct mt_frame frames[MT_MAX_STACK_DEPTH * 4];
	const struct mt_raw_site *sites;
	struct mt_report r;
	size_t nr_sites;
	int err = 0;

	memset(&r, 0, sizeof(r));
	/* stacks still waiting to be read; lifecycle events are only queued */
	mt_events__consume(mt->events);
	mt_agg__begin(t->agg);
	sites = mt_snapshot__process(snap, (__u32)t->pid, &nr_sites);
	for (size_t i = 0; i < nr_sites; i++) {
		const struct mt_raw_site *s = &sites[i];
		struct mt_sample smp = {};

		mt_session__progress();
		if (!s->stats.bytes && !s->stats.count && !s->stats.alloc_count)
			continue;
		smp.kind = s->key.kind;
		smp.bytes = s->stats.bytes;
		smp.count_q = s->stats.count;
		smp.alloc_bytes = s->stats.alloc_bytes;
		smp.alloc_count_q = s->stats.alloc_count;
		smp.nr_frames = mt_site_cache__ref(mt->sites, &s->key, s->slot, &smp.frames,
						   &smp.ids, &smp.site);
		smp.runtime = smp.site & MT_SITE_RUNTIME;
		smp.site &= ~MT_SITE_RUNTIME;
		if (!smp.nr_frames) {
			smp.frames = frames;
			smp.ids = NULL;
			smp.nr_frames = site_symbolize(mt, t, s, frames, &smp.site, &smp.runtime);
		}
		if (!smp.nr_frames)
			continue;
		err = mt_agg__add(t->agg, &smp);
		if (err)
			return err;
	}
	err = mt_agg__end(t->agg, &r);
	if (err)
		return err;
	r.pid = t->pid;
	memcpy(r.comm, t->comm, sizeof(r.comm));
	r.cgroup = t->cgroup[0] ? t->cgroup : NULL;
	r.time = now_realtime();
	r.seq = ++t->seq;
	r.final = final;
	r.exited = exited;
	memcpy(r.counters, snap->counters, sizeof(r.counters));
	report_memory(t, &r);
	err = mt_session__py_objects(mt, t, &r);
	if (err) {
		mt_report__free(&r);
		return err;
	}
	errno = 0;
	if (mt->sink) {
		err = mt->sink(mt->sink_ctx, &r);
		mt_report__free(&r);
		return err;
	}
	if (mt->out) {
		err = mt_output__report(mt->out, &mt->out_cfg, &r);
		if (!err && (fflush(mt->out) || ferror(mt->out)))
			err = -EIO;
	}
	if (mt->live && !err)
		err = mt_live__report(mt->live, &r);
	say_drops(mt, &r);
	say_no_lines(mt, &r);
	mt_report__free(&r);
	return err ? write_error(mt, err) : 0;
}

int mt_session__report_host(struct memtrace *mt, const struct mt_snapshot *snap,
			    const struct mt_host_row *tot, size_t nr, bool final)
{
	int err = 0;

	if (mt->out && mt->opts->format == MT_FORMAT_TEXT) {
		fprintf(mt->out, "memtrace: whole host, %zu processes with live allocations%s\n",
			nr, final ? ", final" : "");
		fprintf(mt->out, "%8s  %-16s %14s  %s\n", "pid", "comm", "bytes", "cgroup");
		for (size_t i = 0; i < nr; i++) {
			char comm[4 * sizeof(tot[i].t->comm)];

			fprintf(mt->out, "%8d  %-16s %14lld  ", tot[i].t->pid,
				mt_printable__str(comm, sizeof(comm), tot[i].t->comm),
				(long long)tot[i].bytes);
			mt_printable__put(mt->out, tot[i].t->cgroup, sizeof(tot[i].t->cgroup));
			fputc('\n', mt->out);
		}
		fputc('\n', mt->out);
		if (fflush(mt->out) || ferror(mt->out))
			return write_error(mt, -EIO);
	}
	for (size_t i = 0; i < nr && !err; i++)
		err = report_target(mt, tot[i].t, snap, final, false);
	return err;
}

int mt_session__snapshot(struct memtrace *mt, struct mt_snapshot *snap)
{
	int err = mt_reader__snapshot(&mt->bpf, (__u64)(mt->opts->min_age * 1e9), snap);

	if (err)
		pr_err("reading BPF maps: %s", strerror(-err));
	return err;
}

int mt_session__report_target(struct memtrace *mt, struct target *t, const struct mt_snapshot *snap,
			      bool final)
{
	return report_target(mt, t, snap, final, false);
}

int mt_session__report_round(struct memtrace *mt, const struct mt_snapshot *snap, bool final)
{
	struct target *t;
	int err = 0;

	mt_targets__for_each(&mt->targets, i, t)
	{
		if (t->done)
			continue;
		err = report_target(mt, t, snap, final, false);
		if (err)
			break;
		if (final)
			t->done = true;
	}
	return err;
}

int mt_target__final_report(struct memtrace *mt, struct target *t, bool exited)
{
	struct mt_snapshot snap;
	int err;

	if (t->done)
		return 0;
	err = mt_session__snapshot(mt, &snap);
	if (err)
		return err;
	err = report_target(mt, t, &snap, true, exited);
	mt_snapshot__free(&snap);
	t->done = true;
	return err;
}

/*
 * A new Python stack: read its code objects now, while they exist (a
 * module's top-level code is freed as soon as its import is done).
 */
void mt_session__on_py_stack(void *ctx, __u32 tgid, __u64 py_stack)
{
	struct memtrace *mt = ctx;
	struct mt_py_frame py[MT_PY_MAX_DEPTH];
	struct target *t = mt_targets__find(&mt->targets, (pid_t)tgid, 0);
	struct mt_frame f;
	int n;

	if (!t || !t->py_module[0])
		return;
	n = mt_stack_cache__python(mt->stacks, &mt->bpf, py_stack, py, MT_PY_MAX_DEPTH);
	for (int i = 0; i < n; i++)
		resolve_py(mt, t, &py[i], &f);
}
