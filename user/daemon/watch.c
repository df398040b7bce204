// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's watch (watch.h): /proc/PID/statm of every process at each
 * poll, one small read each (statm, not status: three numbers, no text to
 * search), comm, cgroup and start time once per process; the decisions
 * work on the samples alone.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/watch.h"
#include "proc/procinfo.h"

void mt_watch__init(struct mt_watch *w, const struct mt_watch_opts *opts)
{
	memset(w, 0, sizeof(*w));
	w->opts = *opts;
	w->page_size = sysconf(_SC_PAGESIZE);
	if (w->page_size <= 0)
		w->page_size = 4096;
}

void mt_watch__set_opts(struct mt_watch *w, const struct mt_watch_opts *opts)
{
	w->opts = *opts;
	for (size_t i = 0; i < w->nr; i++)
		w->v[i]->matched =
		    mt_match__any(opts->match, opts->nr_match, w->v[i]->comm, w->v[i]->cgroup);
}

void mt_watch__free(struct mt_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->nr = w->cap = 0;
}

int mt_match__parse(const char *s, struct mt_match *m)
{
	static const struct {
		const char *prefix;
		enum mt_match_kind kind;
	} kinds[] = {
	    {"comm=", MT_MATCH_COMM}, {"cgroup=", MT_MATCH_CGROUP}, {"unit=", MT_MATCH_UNIT}};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncmp(s, kinds[i].prefix, n))
			continue;
		if (!s[n] || strlen(s + n) >= sizeof(m->pattern))
			return -EINVAL;
		m->kind = kinds[i].kind;
		strcpy(m->pattern, s + n);
		return 0;
	}
	return -EINVAL;
}

bool mt_match__any(const struct mt_match *m, size_t nr, const char *comm, const char *cgroup)
{
	const char *last = strrchr(cgroup, '/');

	if (!nr)
		return true;
	last = last ? last + 1 : cgroup;
	for (size_t i = 0; i < nr; i++) {
		switch (m[i].kind) {
		case MT_MATCH_COMM:
			if (!fnmatch(m[i].pattern, comm, 0))
				return true;
			break;
		case MT_MATCH_CGROUP:
			if (!fnmatch(m[i].pattern, cgroup, 0))
				return true;
			break;
		case MT_MATCH_UNIT:
			if (!strcmp(m[i].pattern, last))
				return true;
			break;
		}
	}
	return false;
}

/* The next unsigned decimal of [*p, end), *p moved past it. 0 or -EINVAL. */
static int next_num(const char **p, const char *end, unsigned long long *v)
{
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	if (s == end || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (*v = 0; s < end && isdigit((unsigned char)*s); s++) {
		if (*v > (~0ULL - 9) / 10)
			return -EINVAL;
		*v = *v * 10 + (unsigned long long)(*s - '0');
	}
	*p = s;
	return 0;
}

int mt_watch__parse_statm(const char *text, size_t len, long page_size, __s64 *rss, __s64 *anon)
{
	const char *p = text, *end = text + len;
	unsigned long long size, res, shared;

	if (next_num(&p, end, &size) || next_num(&p, end, &res) || next_num(&p, end, &shared))
		return -EINVAL;
	if (res > (1ULL << 40) || shared > (1ULL << 40))
		return -EINVAL; /* 4 PiB of pages: not a number a kernel gives */
	*rss = (__s64)res * page_size;
	*anon = res > shared ? (__s64)(res - shared) * page_size : 0;
	return 0;
}

static size_t find_idx(const struct mt_watch *w, pid_t pid, bool *found)
{
	size_t lo = 0, hi = w->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->v[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < w->nr && w->v[lo]->pid == pid;
	return lo;
}

struct mt_watch_proc *mt_watch__find(const struct mt_watch *w, pid_t pid)
{
	bool found;
	size_t i = find_idx(w, pid, &found);

	return found ? w->v[i] : NULL;
}

static void proc_reset(struct mt_watch_proc *p)
{
	p->head = p->nr = 0;
}

static void push_sample(const struct mt_watch *w, struct mt_watch_proc *p, double now, __s64 rss,
			__s64 anon)
{
	double spacing = w->opts.window / MT_WATCH_SAMPLES;

	p->rss = rss;
	p->anon = anon;
	/* closer than spacing to the newest: it replaces the newest (the oldest stays) */
	if (p->nr > 1 &&
	    now - p->s[(p->head + MT_WATCH_SAMPLES - 1) % MT_WATCH_SAMPLES].t < spacing) {
		p->s[p->head] = (struct mt_watch_sample){now, rss, anon};
		goto peak;
	}
	p->head = p->nr ? (p->head + 1) % MT_WATCH_SAMPLES : 0;
	p->s[p->head] = (struct mt_watch_sample){now, rss, anon};
	if (p->nr < MT_WATCH_SAMPLES)
		p->nr++;
peak:
	/* a new peak is one above the last by a sixteenth of --rss-growth: not a page's noise */
	if (rss > p->peak + (__s64)(w->opts.rss_growth / 16)) {
		p->peak = rss;
		p->peak_t = now;
	}
}

struct mt_watch_proc *mt_watch__sample(struct mt_watch *w, pid_t pid, __u64 start, const char *comm,
				       const char *cgroup, __s64 rss, __s64 anon, double now)
{
	bool found;
	size_t i = find_idx(w, pid, &found);
	struct mt_watch_proc *p;

	if (found && w->v[i]->start != start) {
		/* the pid names another process now: the old one is gone */
		if (w->v[i]->tier > MT_TIER_NONE)
			w->nr_escalated--;
		free(w->v[i]);
		memmove(&w->v[i], &w->v[i + 1], (w->nr - i - 1) * sizeof(*w->v));
		w->nr--;
		found = false;
	}
	if (!found) {
		if (w->nr == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 256;
			struct mt_watch_proc **n = realloc(w->v, cap * sizeof(*n));

			if (!n)
				return NULL;
			w->v = n;
			w->cap = cap;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		p->start = start;
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
		snprintf(p->cgroup, sizeof(p->cgroup), "%s", cgroup);
		p->matched = mt_match__any(w->opts.match, w->opts.nr_match, comm, cgroup);
		memmove(&w->v[i + 1], &w->v[i], (w->nr - i) * sizeof(*w->v));
		w->v[i] = p;
		w->nr++;
	}
	p = w->v[i];
	p->seen = true;
	if (!p->kernel)
		push_sample(w, p, now, rss, anon);
	return p;
}

void mt_watch__begin(struct mt_watch *w)
{
	for (size_t i = 0; i < w->nr; i++)
		w->v[i]->seen = false;
}

size_t mt_watch__end(struct mt_watch *w, pid_t *gone, size_t max_gone)
{
	size_t j = 0, nr_gone = 0;

	for (size_t i = 0; i < w->nr; i++) {
		struct mt_watch_proc *p = w->v[i];

		if (p->seen) {
			w->v[j++] = p;
			continue;
		}
		if (p->tier > MT_TIER_NONE) {
			w->nr_escalated--;
			if (nr_gone < max_gone)
				gone[nr_gone++] = p->pid;
		}
		free(p);
	}
	w->nr = j;
	return nr_gone;
}

/* A small file of /proc into buf (NUL-terminated). Length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

int mt_watch__scan(struct mt_watch *w, double now, pid_t *gone, size_t max_gone)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (!d)
		return -errno;
	mt_watch__begin(w);
	while ((de = readdir(d))) {
		char path[64], buf[128], comm[16] = "", cgroup[128] = "";
		struct mt_watch_proc *p;
		__s64 rss = 0, anon = 0;
		__u64 start = 0;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		ssize_t n;

		if (*end || pid <= 0 || pid == self)
			continue;
		p = mt_watch__find(w, (pid_t)pid);
		if (p && p->kernel) {
			p->seen = true;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/statm", pid);
		n = read_small(path, buf, sizeof(buf));
		if (n < 0)
			continue; /* gone meanwhile */
		if (mt_watch__parse_statm(buf, (size_t)n, w->page_size, &rss, &anon)) {
			w->read_errors++;
			continue;
		}
		if (p && p->nr && rss) {
			start = p->start; /* the start time once: a reuse comes as another entry */
			/* an exec renames it (a process seen between fork and exec above all) */
			if (p->scans < 3 || p->scans % MT_WATCH_REREAD == 0) {
				mt_proc__comm((pid_t)pid, p->comm);
				mt_proc__cgroup((pid_t)pid, p->cgroup, sizeof(p->cgroup));
				p->matched = mt_match__any(w->opts.match, w->opts.nr_match, p->comm,
							   p->cgroup);
			}
		} else {
			if (mt_proc__start_time((pid_t)pid, &start))
				continue;
			mt_proc__comm((pid_t)pid, comm);
			mt_proc__cgroup((pid_t)pid, cgroup, sizeof(cgroup));
		}
		p = mt_watch__sample(w, (pid_t)pid, start, comm, cgroup, rss, anon, now);
		if (p && !rss && !p->nr)
			p->kernel = true;
		if (p)
			p->scans++;
	}
	closedir(d);
	return (int)mt_watch__end(w, gone, max_gone);
}

__s64 mt_watch__growth(const struct mt_watch *w, const struct mt_watch_proc *p, double now)
{
	__s64 low = p->rss;

	for (size_t k = 0; k < p->nr; k++) {
		const struct mt_watch_sample *s =
		    &p->s[(p->head + MT_WATCH_SAMPLES - k) % MT_WATCH_SAMPLES];

		if (now - s->t > w->opts.window)
			break;
		if (s->rss < low)
			low = s->rss;
	}
	return p->rss - low;
}

static int by_growth(const void *a, const void *b)
{
	const struct mt_watch_action *x = a, *y = b;

	return x->growth < y->growth ? 1 : x->growth > y->growth ? -1 : x->pid - y->pid;
}

size_t mt_watch__decide(struct mt_watch *w, double now, struct mt_watch_action *out, size_t max)
{
	const struct mt_watch_opts *o = &w->opts;
	enum mt_tier first = o->growth_tier && !o->exact_now ? MT_TIER_GROWTH : MT_TIER_EXACT;
	size_t n = 0, nr_cand, budget, escalated = w->nr_escalated;

	/* de-escalations and moves between tiers first: they free the budget */
	for (size_t i = 0; i < w->nr && n < max; i++) {
		struct mt_watch_proc *p = w->v[i];
		struct mt_watch_action a = {.pid = p->pid, .from = p->tier};

		if (p->tier == MT_TIER_NONE)
			continue;
		if (now - p->peak_t >= o->settle) {
			a.to = MT_TIER_NONE;
			a.why = "growth stopped";
		} else if (p->tier == MT_TIER_EXACT && o->exact_for > 0 &&
			   now - p->tier_t >= o->exact_for) {
			a.to = o->growth_tier && !o->exact_now ? MT_TIER_GROWTH : MT_TIER_NONE;
			a.why = "exact-for ended";
		} else if (p->tier == MT_TIER_GROWTH && o->exact && now - p->tier_t >= o->window) {
			a.to = MT_TIER_EXACT;
			a.why = "still growing";
		} else {
			continue;
		}
		if (a.to == MT_TIER_NONE)
			escalated--;
		out[n++] = a;
	}
	/* candidates: largest growth first */
	nr_cand = n;
	for (size_t i = 0; i < w->nr && n < max; i++) {
		struct mt_watch_proc *p = w->v[i];
		__s64 g;

		if (p->tier != MT_TIER_NONE || !p->matched || p->kernel)
			continue;
		g = mt_watch__growth(w, p, now);
		if (g < 0 || (__u64)g < o->rss_growth)
			continue;
		out[n++] = (struct mt_watch_action){.pid = p->pid,
						    .from = MT_TIER_NONE,
						    .to = first,
						    .why = "rss grew",
						    .growth = g};
	}
	qsort(out + nr_cand, n - nr_cand, sizeof(*out), by_growth);
	budget = o->max_escalated > escalated ? o->max_escalated - escalated : 0;
	if (n - nr_cand > budget) {
		w->refused += n - nr_cand - budget;
		n = nr_cand + budget;
	}
	return n;
}

void mt_watch__applied(struct mt_watch *w, const struct mt_watch_action *a, bool ok, double now)
{
	struct mt_watch_proc *p = mt_watch__find(w, a->pid);

	if (!p)
		return;
	if (!ok) {
		if (a->from == MT_TIER_NONE)
			proc_reset(p); /* a new window before trying again */
		return;
	}
	if (a->from == MT_TIER_NONE && a->to != MT_TIER_NONE) {
		w->nr_escalated++;
		w->escalations++;
		p->escalations++;
		p->peak = p->rss;
		p->peak_t = now;
	} else if (a->from != MT_TIER_NONE && a->to == MT_TIER_NONE) {
		w->nr_escalated--;
		proc_reset(p);
	}
	p->tier = a->to;
	p->tier_t = now;
}
