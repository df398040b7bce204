// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reports: a snapshot of the maps, each site symbolized (once: the site
 * cache), aggregated per target and rendered by the output formats.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "probe/plan.h"
#include "lib/log.h"
#include "mt_python.h"
#include "proc/procmaps.h"
#include "python/py_offsets.h"
#include "session/session.h"
#include "symbolize/sitecache.h"
#include "session/spawn.h"
#include "symbolize/sym_native.h"
#include "symbolize/sym_python.h"

static double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Symbolize one site into frames, innermost first: the call site ([SP] at
 * entry), then the frame-pointer stack above it, cut at the first address
 * in no module (what a function without frame pointers left in %rbp).
 * For a Python process the native frames stop at the first one inside the
 * interpreter and the Python frames follow; the innermost Python frame is
 * then the line. Otherwise the line is the first frame outside the
 * allocator's own library.
 */
static size_t site_frames(struct memtrace *mt, const struct target *t, const struct mt_raw_site *s,
			  struct mt_frame *frames, size_t max, size_t *site_idx, bool *complete)
{
	__u64 ips[MT_MAX_STACK_DEPTH + 1];
	struct mt_py_frame py[MT_PY_MAX_DEPTH];
	int n = 1, m, npy = 0;
	size_t nf = 0;
	bool site_set = false;

	if (s->key.py_stack && t->py_module[0])
		npy = mt_stack_cache__python(mt->stacks, &mt->bpf, s->key.py_stack, py,
					     MT_PY_MAX_DEPTH);
	*complete = true;
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
		if (!site_set && !npy &&
		    !(frames[nf].module && !strcmp(frames[nf].module, t->alloc_module))) {
			*site_idx = nf;
			site_set = true;
		}
		nf += k;
		if (in_interp)
			break;
	}
	for (int i = 0; i < npy && nf < max; i++) {
		struct mt_frame *f = &frames[nf];

		if (mt_sym_python__resolve(mt->pysym, t->pid, &py[i], f)) {
			/* freed (and maybe reused) before memtrace could read it */
			memset(f, 0, sizeof(*f));
			f->kind = MT_FRAME_PYTHON;
			f->addr = py[i].code;
			f->function = "<python code object gone before it was read>";
		}
		if (!site_set) {
			*site_idx = nf;
			site_set = true;
		}
		nf++;
	}
	return nf;
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
	if (mt->py_feed)
		mt_py_feed__consume(mt->py_feed); /* stacks still waiting to be read */
	if (!exited) {
		mt_sym_native__add_pid(mt->sym, t->pid); /* pick up new mappings */
		mt_target__detect_python(mt, t);
	}
	mt_agg__begin(t->agg);
	sites = mt_snapshot__process(snap, (__u32)t->pid, &nr_sites);
	for (size_t i = 0; i < nr_sites; i++) {
		const struct mt_raw_site *s = &sites[i];
		struct mt_sample smp = {};

		if (!s->stats.bytes && !s->stats.count && !s->stats.alloc_count)
			continue;
		smp.bytes = s->stats.bytes;
		smp.count_q = s->stats.count;
		smp.alloc_bytes = s->stats.alloc_bytes;
		smp.alloc_count_q = s->stats.alloc_count;
		smp.nr_frames = mt_site_cache__ref(mt->sites, &s->key, s->slot, &smp.frames,
						   &smp.ids, &smp.site);
		if (!smp.nr_frames) {
			bool complete;

			smp.frames = frames;
			smp.ids = NULL;
			smp.nr_frames =
			    site_frames(mt, t, s, frames, sizeof(frames) / sizeof(frames[0]),
					&smp.site, &complete);
			if (complete && smp.nr_frames)
				mt_site_cache__put(mt->sites, &s->key, s->slot, frames,
						   smp.nr_frames, smp.site);
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
	err = mt_output__report(mt->out, &mt->out_cfg, &r);
	fflush(mt->out);
	mt_report__free(&r);
	return err;
}

struct proc_total {
	struct target *t;
	__s64 bytes;
};

static int cmp_proc_total(const void *a, const void *b)
{
	const struct proc_total *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->t->pid - y->t->pid;
}

/*
 * -a: every process with live allocations is a target, found in the maps
 * themselves. Processes that are gone are forgotten; the largest
 * --top-processes get a report each, after a summary table (text).
 */
static int host_round(struct memtrace *mt, const struct mt_snapshot *snap, bool final)
{
	struct proc_total *tot = NULL;
	const struct mt_raw_site *sites;
	__u32 *dead = NULL;
	size_t nr = 0, nr_dead = 0, nr_sites;
	int err = 0;

	/* sites are sorted by tgid: one check per process */
	dead = calloc(snap->nr_sites + mt->nr_targets + 1, sizeof(*dead));
	if (!dead)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nr_sites; i++) {
		pid_t pid = (pid_t)snap->sites[i].key.tgid;
		struct target *t;

		if (i && snap->sites[i - 1].key.tgid == (__u32)pid)
			continue;
		t = mt_target__find(mt, pid);
		if (!t) {
			if (kill(pid, 0) && errno == ESRCH) {
				dead[nr_dead++] = pid;
				continue;
			}
			t = mt_target__add(mt, pid);
			if (!t) {
				free(dead);
				return -ENOMEM;
			}
			mt_proc__read_cgroup(pid, t->cgroup, sizeof(t->cgroup));
			mt_sym_native__add_pid(mt->sym, pid);
		}
	}
	tot = calloc(mt->nr_targets ? mt->nr_targets : 1, sizeof(*tot));
	if (!tot) {
		free(dead);
		return -ENOMEM;
	}
	for (size_t i = 0; i < mt->nr_targets; i++) {
		struct target *t = &mt->targets[i];
		__s64 bytes = 0;

		if (t->done)
			continue;
		if (kill(t->pid, 0) && errno == ESRCH) {
			/* gone: its leaks went with it */
			t->done = true;
			dead[nr_dead++] = t->pid;
			mt_target__forget(mt, t);
			continue;
		}
		sites = mt_snapshot__process(snap, (__u32)t->pid, &nr_sites);
		for (size_t j = 0; j < nr_sites; j++)
			bytes += sites[j].stats.bytes;
		if (!bytes)
			continue; /* nothing outstanding: nothing to report */
		tot[nr].t = t;
		tot[nr++].bytes = bytes;
	}
	mt_reader__purge(&mt->bpf, dead, nr_dead);
	/* their stacks go too (a --min-age snapshot does not show every site) */
	if (nr_dead && !mt->opts->min_age)
		if (mt_reader__gc_stacks(&mt->bpf, snap, dead, nr_dead) > 0)
			mt_stack_cache__clear(mt->stacks);
	free(dead);
	qsort(tot, nr, sizeof(*tot), cmp_proc_total);
	if (mt->opts->top_processes && nr > mt->opts->top_processes)
		nr = mt->opts->top_processes;
	if (mt->opts->format == MT_FORMAT_TEXT) {
		fprintf(mt->out, "memtrace: whole host, %zu processes with live allocations%s\n",
			nr, final ? ", final" : "");
		fprintf(mt->out, "%8s  %-16s %14s  %s\n", "pid", "comm", "bytes", "cgroup");
		for (size_t i = 0; i < nr; i++)
			fprintf(mt->out, "%8d  %-16s %14lld  %s\n", tot[i].t->pid, tot[i].t->comm,
				(long long)tot[i].bytes, tot[i].t->cgroup);
		fputc('\n', mt->out);
	}
	for (size_t i = 0; i < nr && !err; i++)
		err = report_target(mt, tot[i].t, snap, final, false);
	free(tot);
	return err;
}

/* One report for each live target (and final ones where asked). */
int mt_session__report_round(struct memtrace *mt, bool final)
{
	struct mt_snapshot snap;
	int err;

	err = mt_reader__snapshot(&mt->bpf, (__u64)(mt->opts->min_age * 1e9), &snap);
	if (err) {
		pr_err("reading BPF maps: %s", strerror(-err));
		return err;
	}
	if (mt->opts->all) {
		err = host_round(mt, &snap, final);
		goto out;
	}
	for (size_t i = 0; i < mt->nr_targets; i++) {
		struct target *t = &mt->targets[i];

		if (t->done)
			continue;
		err = report_target(mt, t, &snap, final, false);
		if (err)
			break;
		if (final)
			t->done = true;
	}
out:
	mt_snapshot__free(&snap);
	mt->reports++;
	return err;
}

/* The final report of a target that is still alive (-- mode, Py_FinalizeEx). */
int mt_target__final_report(struct memtrace *mt, struct target *t)
{
	struct mt_snapshot snap;
	int err;

	if (t->done)
		return 0;
	err = mt_reader__snapshot(&mt->bpf, (__u64)(mt->opts->min_age * 1e9), &snap);
	if (err)
		return err;
	err = report_target(mt, t, &snap, true, false);
	mt_snapshot__free(&snap);
	t->done = true;
	t->final_reported = true;
	return err;
}

/* A target exited: its final report, then forget it. */
int mt_target__finish(struct memtrace *mt, struct target *t)
{
	struct mt_snapshot snap;
	int err = 0;

	if (t->done && !t->final_reported)
		return 0;
	t->done = true;
	mt_loader__detach(mt->loader, t->pid);
	if (!t->final_reported) {
		err = mt_reader__snapshot(&mt->bpf, (__u64)(mt->opts->min_age * 1e9), &snap);
		if (err)
			return err;
		err = report_target(mt, t, &snap, true, true);
		mt_snapshot__free(&snap);
	}
	t->final_reported = false;
	mt_reader__purge(&mt->bpf, &(__u32){(__u32)t->pid}, 1);
	mt_target__forget(mt, t);
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
	struct target *t = mt_target__find(mt, (pid_t)tgid);
	struct mt_frame f;
	int n;

	if (!t || !t->py_module[0])
		return;
	n = mt_stack_cache__python(mt->stacks, &mt->bpf, py_stack, py, MT_PY_MAX_DEPTH);
	for (int i = 0; i < n; i++)
		mt_sym_python__resolve(mt->pysym, t->pid, &py[i], &f);
}
