// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --py-objects: live Python objects by type in each report of a Python
 * target, read from the interpreter's GC lists (python/py_objects.h), with
 * their growth since the target's previous report. With =stop the process
 * is stopped (SIGSTOP, every thread seen stopped) for the walk and
 * continued after; a process found stopped already is left stopped. A
 * racy walk that cut lists short is made once more, and the one with fewer
 * failures kept.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "proc/procinfo.h"
#include "proc/procmem.h"
#include "python/py_objects.h"
#include "session/internal.h"

static int read_target(void *ctx, __u64 addr, void *buf, size_t len)
{
	return mt_procmem__read(*(pid_t *)ctx, addr, buf, len);
}

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* Stop pid and wait (at most 2 s) until every thread is; *stopped: we stopped it */
static int stop_target(pid_t pid, bool *stopped)
{
	int n = mt_proc__running_threads(pid);

	*stopped = false;
	if (n <= 0)
		return n;
	if (kill(pid, SIGSTOP))
		return -errno;
	*stopped = true;
	for (int i = 0; i < 2000; i++) {
		n = mt_proc__running_threads(pid);
		if (n <= 0)
			return n;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct mt_py_type_count *)a)->name,
		      ((const struct mt_py_type_count *)b)->name);
}

static int by_growth(const void *a, const void *b)
{
	const struct mt_obj_row *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth < y->growth ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->type, y->type);
}

static void free_rows(struct mt_obj_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].type);
	free(v);
}

/* Rows by type name (types of the same name merged), sorted by name */
static int to_rows(struct mt_py_objects *o, struct mt_obj_row **rows, size_t *nr)
{
	struct mt_obj_row *v = calloc(o->nr_types ? o->nr_types : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	if (o->nr_types)
		qsort(o->types, o->nr_types, sizeof(*o->types), by_name);
	for (size_t i = 0; i < o->nr_types; i++) {
		if (n && !strcmp(v[n - 1].type, o->types[i].name)) {
			v[n - 1].count += o->types[i].count;
			v[n - 1].bytes += o->types[i].bytes;
			continue;
		}
		v[n].type = strdup(o->types[i].name);
		if (!v[n].type)
			goto nomem;
		v[n].count = o->types[i].count;
		v[n].bytes = o->types[i].bytes;
		n++;
	}
	*rows = v;
	*nr = n;
	return 0;
nomem:
	free_rows(v, n);
	return -ENOMEM;
}

/* r->objects: cur (sorted by name) against t->py_prev, plus types gone since */
static int with_growth(struct target *t, struct mt_obj_row *cur, size_t nr, struct mt_report *r)
{
	size_t cap = nr + t->nr_py_prev, n = 0, i = 0, j = 0;
	struct mt_obj_row *v = calloc(cap ? cap : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	while (i < nr || j < t->nr_py_prev) {
		int c = i >= nr		     ? 1
			: j >= t->nr_py_prev ? -1
					     : strcmp(cur[i].type, t->py_prev[j].type);
		struct mt_obj_row *w = &v[n];

		if (c <= 0) {
			*w = cur[i];
			w->growth = cur[i].count;
			w->growth_bytes = cur[i].bytes;
		} else {
			w->type = strdup(t->py_prev[j].type);
		}
		if (c >= 0) {
			w->growth -= t->py_prev[j].count;
			w->growth_bytes -= t->py_prev[j].bytes;
			j++;
		}
		if (c <= 0)
			i++;
		if (!w->type || (c <= 0 && !(w->type = strdup(cur[i - 1].type))))
			goto nomem;
		n++;
	}
	qsort(v, n, sizeof(*v), by_growth);
	r->objects = v;
	r->nr_objects = n < MT_OBJ_ROWS_MAX ? n : MT_OBJ_ROWS_MAX;
	for (size_t k = r->nr_objects; k < n; k++)
		free(v[k].type);
	return 0;
nomem:
	free_rows(v, n);
	return -ENOMEM;
}

int mt_session__py_objects(struct memtrace *mt, struct target *t, struct mt_report *r)
{
	struct mt_py_objects o = {};
	struct mt_obj_row *cur = NULL;
	bool stopped = false;
	__u64 gc, t0, t1;
	size_t nr = 0;
	pid_t pid = t->pid;
	int err;

	if (!mt->opts->py_objects || !t->py_module[0] || r->exited)
		return 0;
	err = mt_py_objects__gc_state(&t->py, read_target, &pid, &gc);
	if (err)
		goto out;
	t0 = now_us();
	if (mt->opts->py_objects == 2) {
		err = stop_target(pid, &stopped);
		if (err)
			goto cont;
	}
	err = mt_py_objects__walk(t->py.version, gc, read_target, &pid, &o);
	if (!err && o.failures) {
		/* a racy walk that lost lists (say, to a collection): once more */
		struct mt_py_objects again;

		if (!mt_py_objects__walk(t->py.version, gc, read_target, &pid, &again)) {
			if (again.failures < o.failures) {
				mt_py_objects__free(&o);
				o = again;
			} else {
				mt_py_objects__free(&again);
			}
		}
	}
cont:
	if (stopped)
		kill(pid, SIGCONT);
	t1 = now_us();
	if (err)
		goto out;
	err = to_rows(&o, &cur, &nr);
	if (err)
		goto out;
	err = with_growth(t, cur, nr, r);
	if (err)
		goto out;
	r->has_objects = true;
	r->objects_count = o.objects;
	r->objects_bytes = o.bytes;
	r->objects_permanent = o.permanent;
	r->objects_untracked = o.untracked;
	r->objects_untracked_bytes = o.untracked_bytes;
	r->objects_untracked_dropped = o.untracked_dropped + o.containers_cut;
	r->objects_failures = o.failures;
	r->objects_walk_us = t1 - t0;
	r->objects_pause_us = stopped ? t1 - t0 : 0;
	mt_target__free_py_prev(t);
	t->py_prev = cur;
	t->nr_py_prev = nr;
	cur = NULL;
out:
	if (cur)
		free_rows(cur, nr);
	mt_py_objects__free(&o);
	if (err)
		pr_warn("pid %d: Python objects not read: %s", pid, strerror(-err));
	return err == -ENOMEM ? err : 0;
}
