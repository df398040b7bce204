// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace daemon (daemon.h): the loop.
 *
 * One thread polls four things: the session's BPF events (forks, execs
 * and exits of escalated processes; OOM victims), the metrics server's
 * connections, SIGHUP (a signalfd) and the next timer (a /proc scan every
 * --poll, reports every --interval). A scan samples every process
 * (watch.c), the watch decides, and the decisions go to the session as
 * tier changes (session/control.h): the one seam where a tier is given
 * or taken. Reports of escalated processes come back as report models
 * through the sink: rendered once as metric series, written and pushed
 * as pprof. A scrape renders the watch and those series, nothing more.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/config.h"
#include "daemon/profiles.h"
#include "daemon/server.h"
#include "daemon/watch.h"
#include "lib/log.h"
#include "opts.h"
#include "proc/procinfo.h"
#include "report/report.h"
#include "session/control.h"
#include "session/session.h"

/* drops the daemon counts, by reason */
#define MT_DAEMON_DROPS(X)                                                   \
	X(BUDGET, "budget")   /* a candidate over --max-escalated */         \
	X(ATTACH, "attach")   /* an escalation the session could not make */ \
	X(REPORT, "report")   /* a report of an escalated process failed */  \
	X(PROFILE, "profile") /* a profile not written */                    \
	X(PUSH, "push")	      /* a push that failed */                       \
	X(OOM, "oom")	      /* an OOM victim whose snapshot could not be made */

#define X(e, s) DROP_##e,
enum { MT_DAEMON_DROPS(X) DROP__MAX };
#undef X
#define X(e, s) s,
static const char *const drop_names[] = {MT_DAEMON_DROPS(X)};
#undef X

/* An escalated process: its latest site series and when it was last reported. */
struct esc {
	pid_t pid;
	struct mt_metrics_sites sites;
	double last; /* realtime of its previous report (0: none yet) */
};

struct daemon {
	struct mt_daemon_opts o;
	int argc;
	char **argv;
	struct mt_opts sopts; /* the session's */
	struct memtrace *mt;
	struct mt_watch w;
	struct mt_server *srv;
	struct mt_profiles_opts prof;
	struct esc *esc;
	size_t nr_esc, cap_esc;
	__u64 deescalations, oom_snapshots, scrapes;
	__u64 drops[DROP__MAX];
	__u64 counters[MT_CNT__MAX]; /* BPF's, as the latest report had them (run-wide) */
	int hup_fd;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct esc *esc_find(struct daemon *d, pid_t pid)
{
	for (size_t i = 0; i < d->nr_esc; i++)
		if (d->esc[i].pid == pid)
			return &d->esc[i];
	return NULL;
}

static struct esc *esc_get(struct daemon *d, pid_t pid)
{
	struct esc *e = esc_find(d, pid);

	if (e)
		return e;
	if (d->nr_esc == d->cap_esc) {
		size_t cap = d->cap_esc ? d->cap_esc * 2 : 8;
		struct esc *n = realloc(d->esc, cap * sizeof(*n));

		if (!n)
			return NULL;
		d->esc = n;
		d->cap_esc = cap;
	}
	e = &d->esc[d->nr_esc++];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	return e;
}

static void esc_drop(struct daemon *d, pid_t pid)
{
	struct esc *e = esc_find(d, pid);

	if (!e)
		return;
	mt_metrics__sites_free(&e->sites);
	*e = d->esc[--d->nr_esc];
}

static void profiles_opts(struct daemon *d)
{
	d->prof.dir = d->o.profile_dir;
	d->prof.keep = d->o.keep;
	d->prof.push_url = d->o.push_url;
	d->prof.app = d->o.app;
	d->prof.out.format = MT_FORMAT_PPROF;
	d->prof.out.sample_rate = d->o.sample_rate;
}

/* A profile of r to the directory and the push URL (tag: the OOM names). */
static void write_profile(struct daemon *d, const struct mt_report *r, double span, const char *tag)
{
	unsigned char *gz = NULL;
	size_t len = 0;

	if (!d->prof.dir && !d->prof.push_url)
		return;
	if (mt_profiles__encode(&d->prof, r, &gz, &len)) {
		d->drops[DROP_PROFILE]++;
		return;
	}
	if (mt_profiles__write(&d->prof, r, gz, len, tag))
		d->drops[DROP_PROFILE]++;
	if (mt_profiles__push(&d->prof, r, span, gz, len))
		d->drops[d->prof.push_url ? DROP_PUSH : DROP_PROFILE]++;
	free(gz);
}

/* The session's sink: every report of an escalated process. */
static int on_report(void *ctx, const struct mt_report *r)
{
	struct daemon *d = ctx;
	struct esc *e = esc_get(d, (pid_t)r->pid);
	double span;

	if (!e)
		return -ENOMEM;
	if (mt_metrics__sites(r, d->o.max_sites, &e->sites))
		d->drops[DROP_REPORT]++;
	memcpy(d->counters, r->counters, sizeof(d->counters));
	span = e->last ? r->time - e->last : d->o.interval;
	e->last = r->time;
	write_profile(d, r, span, NULL);
	pr_debug("pid %u (%s): report %u, %lld bytes outstanding in %zu groups", r->pid, r->comm,
		 r->seq, (long long)r->total_bytes, r->nr_groups);
	if (r->exited)
		esc_drop(d, (pid_t)r->pid);
	return 0;
}

/* ---- OOM ---- */

/* The report of an OOM victim: its profile and JSON report under the OOM names, a log line. */
static int on_oom_report(void *ctx, const struct mt_report *r)
{
	struct daemon *d = ctx;
	const struct mt_row *top = r->nr_rows ? &r->rows[0] : NULL;
	char bytes[32], where[96];

	write_profile(d, r, d->o.interval, "oom");
	if (d->prof.dir && mt_profiles__write_json(&d->prof, r, "oom"))
		d->drops[DROP_PROFILE]++;
	mt_bytes__format(bytes, sizeof(bytes), r->total_bytes, false);
	if (top && top->file)
		snprintf(where, sizeof(where), "%s:%d", top->file, top->line);
	else if (top && top->function)
		snprintf(where, sizeof(where), "%s", top->function);
	else
		snprintf(where, sizeof(where), "none");
	pr_warn(
	    "pid %u (%s): chosen by the OOM killer: %s outstanding, first line %s; last "
	    "profile and report %s%s%s",
	    r->pid, r->comm, bytes, where, d->prof.dir ? "in " : "not written (no --profile-dir)",
	    d->prof.dir ? d->prof.dir : "", d->prof.dir ? "/memtrace-PID-oom.{pb.gz,json}" : "");
	return 0;
}

static void on_oom(void *ctx, pid_t pid)
{
	struct daemon *d = ctx;

	if (mt_session__report_of(d->mt, pid, true, on_oom_report, d)) {
		d->drops[DROP_OOM]++;
		pr_warn("pid %d: chosen by the OOM killer: its report could not be made", pid);
		return;
	}
	d->oom_snapshots++;
}

/* ---- metrics ---- */

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int render(void *ctx, char **buf, size_t *len)
{
	struct daemon *d = ctx;
	struct mt_metrics_proc *procs = calloc(d->w.nr ? d->w.nr : 1, sizeof(*procs));
	struct mt_metrics_drop drops[DROP__MAX + MT_CNT__MAX];
	struct mt_metrics_view v = {
	    .procs = procs,
	    .top_rss = d->o.top_rss,
	    .escalations = d->w.escalations,
	    .deescalations = d->deescalations,
	    .escalated = d->w.nr_escalated,
	    .oom_snapshots = d->oom_snapshots,
	    .drops = drops,
	    .scrapes = ++d->scrapes,
	};
	int err;

	if (!procs)
		return -ENOMEM;
	for (size_t i = 0; i < d->w.nr; i++) {
		const struct mt_watch_proc *p = d->w.v[i];
		const struct esc *e = esc_find(d, p->pid);

		if (p->kernel || !p->nr || (!p->matched && p->tier == MT_TIER_NONE))
			continue;
		procs[v.nr_procs++] = (struct mt_metrics_proc){
		    .pid = p->pid,
		    .comm = p->comm,
		    .rss = p->rss,
		    .anon = p->anon,
		    .tier = mt_tier__name(p->tier),
		    .sites = e && p->tier > MT_TIER_NONE ? &e->sites : NULL,
		};
	}
	d->drops[DROP_BUDGET] = d->w.refused;
	for (int i = 0; i < DROP__MAX; i++)
		drops[v.nr_drops++] = (struct mt_metrics_drop){drop_names[i], d->drops[i]};
	/* BPF's drops (full maps, lost events...) by their counters' names */
	for (int c = 0; c < MT_CNT__MAX; c++)
		if (mt_counter__is_drop(c))
			drops[v.nr_drops++] =
			    (struct mt_metrics_drop){mt_counter__name(c), d->counters[c]};
	v.overhead_seconds = cpu_seconds();
	err = mt_metrics__render_buf(&v, buf, len);
	free(procs);
	return err;
}

/* ---- escalation ---- */

/* The last report of pid before its probes go, to its profile. */
static void last_report(struct daemon *d, pid_t pid)
{
	if (mt_session__report_of(d->mt, pid, true, on_report, d) && d->nr_esc)
		d->drops[DROP_REPORT]++;
}

static void apply(struct daemon *d, const struct mt_watch_action *a, double now)
{
	const struct mt_watch_proc *p = mt_watch__find(&d->w, a->pid);
	char growth[32];
	int err;

	if (a->from == MT_TIER_NONE && p) {
		__u64 start;

		/* the start time is read once per process: a pid reused since is not this one */
		if (mt_proc__start_time(a->pid, &start) || start != p->start) {
			pr_debug("pid %d: not the process watched (exited, or its pid reused)",
				 a->pid);
			mt_watch__applied(&d->w, a, false, now);
			return;
		}
	}
	if (a->to == MT_TIER_NONE)
		last_report(d, a->pid);
	err = mt_session__set_tier(d->mt, a->pid, a->to);
	mt_watch__applied(&d->w, a, !err, now);
	if (err) {
		if (a->from == MT_TIER_NONE)
			d->drops[DROP_ATTACH]++;
		pr_warn("pid %d: escalation to %s failed: %s", a->pid, mt_tier__name(a->to),
			strerror(-err));
		return;
	}
	if (a->to == MT_TIER_NONE) {
		d->deescalations++;
		esc_drop(d, a->pid);
	}
	mt_bytes__format(growth, sizeof(growth), a->growth, false);
	pr_info("pid %d (%s): %s -> %s: %s%s%s", a->pid, p ? p->comm : "?", mt_tier__name(a->from),
		mt_tier__name(a->to), a->why, a->growth ? ", RSS +" : "", a->growth ? growth : "");
}

static void scan(struct daemon *d, double now)
{
	struct mt_watch_action acts[64];
	pid_t gone[64];
	int nr_gone = mt_watch__scan(&d->w, now, gone, 64);
	size_t n;

	for (int i = 0; i < nr_gone; i++) {
		mt_session__set_tier(d->mt, gone[i], MT_TIER_NONE);
		esc_drop(d, gone[i]);
	}
	n = mt_watch__decide(&d->w, now, acts, 64);
	for (size_t i = 0; i < n && !mt_session__stopping(); i++)
		apply(d, &acts[i], now);
}

/* ---- options, SIGHUP ---- */

static void session_opts(struct daemon *d)
{
	mt_opts__defaults(&d->sopts);
	d->sopts.top = 0; /* every group: the metrics take the top and sum the rest */
	d->sopts.interval = d->o.interval;
	d->sopts.unwind_cfi = MT_WHEN_ON;
	d->sopts.syscall_tps = MT_WHEN_OFF;
	d->sopts.sample_rate = d->o.sample_rate;
	d->sopts.verbose = d->o.verbose > 1;
	/* the growth programs: only when escalations go through growth (they see every process) */
	d->sopts.growth = !d->o.watch.exact_now;
}

static void reload(struct daemon *d)
{
	struct mt_daemon_opts n;
	bool growth_tier = d->w.opts.growth_tier;

	if (mt_daemon_opts__parse(&n, d->argc, d->argv)) {
		pr_warn("SIGHUP: the options did not parse: the old ones stay");
		mt_daemon_opts__free(&n);
		return;
	}
	if ((n.listen || d->o.listen) &&
	    (!n.listen || !d->o.listen || strcmp(n.listen, d->o.listen)))
		pr_warn("SIGHUP: --listen changes at a restart only");
	if (n.sample_rate != d->o.sample_rate)
		pr_warn("SIGHUP: --sample-rate changes at a restart only");
	n.listen = d->o.listen;
	n.sample_rate = d->o.sample_rate;
	n.watch.growth_tier = growth_tier;
	mt_daemon_opts__free(&d->o);
	d->o = n;
	mt_watch__set_opts(&d->w, &d->o.watch);
	profiles_opts(d);
	mt_log__set_level(MT_LOG_INFO + d->o.verbose);
	pr_info("SIGHUP: options read again: --rss-growth %llu --window %g --max-escalated %zu "
		"--poll %g --interval %g",
		(unsigned long long)d->o.watch.rss_growth, d->o.watch.window,
		d->o.watch.max_escalated, d->o.poll, d->o.interval);
}

static int hup_signalfd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* ---- the loop ---- */

static int run(struct daemon *d)
{
	double next_scan = now_mono(), next_report = now_mono() + d->o.interval;
	int err = 0;

	while (!mt_session__stopping()) {
		struct pollfd pfds[3] = {
		    {.fd = mt_session__events_fd(d->mt), .events = POLLIN},
		    {.fd = d->srv ? mt_server__fd(d->srv) : -1, .events = POLLIN},
		    {.fd = d->hup_fd, .events = POLLIN},
		};
		double now = now_mono(), next = fmin(next_scan, next_report);
		int timeout = next > now ? (int)ceil((next - now) * 1000) : 0;
		struct signalfd_siginfo si;

		if (d->srv) {
			int st = mt_server__timeout_ms(d->srv);

			if (st >= 0 && st < timeout)
				timeout = st;
		}
		if (poll(pfds, 3, timeout) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (mt_session__stopping())
			break;
		err = mt_session__tick(d->mt);
		if (err)
			break;
		if (d->srv)
			mt_server__run(d->srv);
		if (read(d->hup_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			reload(d);
		now = now_mono();
		if (now >= next_scan) {
			scan(d, now);
			next_scan = fmax(next_scan + d->o.poll, now);
		}
		if (now >= next_report) {
			if (mt_session__report_all(d->mt))
				d->drops[DROP_REPORT]++;
			next_report = fmax(next_report + d->o.interval, now_mono());
		}
	}
	return err;
}

int mt_daemon__main(int argc, char **argv)
{
	struct daemon d = {.argc = argc, .argv = argv, .hup_fd = -1};
	char name[] = "memtrace daemon";
	int err;

	argv[0] = name;
	err = mt_daemon_opts__parse(&d.o, argc, argv);
	if (err) {
		mt_daemon_opts__free(&d.o);
		return 64;
	}
	mt_log__set_level(MT_LOG_INFO + d.o.verbose);
	mt_log__hook_libbpf();
	if (d.o.profile_dir && mkdir(d.o.profile_dir, 0700) && errno != EEXIST) {
		pr_err("--profile-dir %s: %s", d.o.profile_dir, strerror(errno));
		mt_daemon_opts__free(&d.o);
		return 1;
	}
	session_opts(&d);
	profiles_opts(&d);
	mt_watch__init(&d.w, &d.o.watch);
	d.hup_fd = hup_signalfd();
	d.mt = memtrace__new(&d.sopts);
	if (!d.mt && d.sopts.growth) {
		pr_warn("the growth programs did not load: escalating to exact tracing");
		d.sopts.growth = false;
		d.mt = memtrace__new(&d.sopts);
	}
	if (!d.mt) {
		err = -errno;
		goto out;
	}
	d.o.watch.growth_tier = d.w.opts.growth_tier = mt_session__can_grow(d.mt);
	mt_session__set_sink(d.mt, on_report, &d);
	mt_session__set_oom_hook(d.mt, on_oom, &d);
	if (!mt_session__announces_oom(d.mt))
		pr_warn(
		    "this kernel does not announce OOM victims (tracepoint oom/mark_victim): no "
		    "OOM snapshots");
	if (d.o.listen) {
		d.srv = mt_server__new(d.o.listen, render, &d);
		if (!d.srv) {
			err = -errno;
			goto out;
		}
	}
	pr_info("daemon: watching processes%s (RSS +%llu bytes within %g s escalates to %s, at "
		"most %zu at once); metrics on %s",
		d.o.watch.nr_match ? " that --match" : "", (unsigned long long)d.o.watch.rss_growth,
		d.o.watch.window,
		!d.w.opts.growth_tier || d.o.watch.exact_now ? "exact tracing"
		: d.o.watch.exact ? "growth profiling, then exact tracing"
				  : "growth profiling",
		d.o.watch.max_escalated, d.o.listen ? d.o.listen : "none");
	err = run(&d);
	pr_info("daemon: stopping: every probe removed");
out:
	mt_server__free(d.srv);
	memtrace__free(d.mt);
	for (size_t i = 0; i < d.nr_esc; i++)
		mt_metrics__sites_free(&d.esc[i].sites);
	free(d.esc);
	mt_watch__free(&d.w);
	if (d.hup_fd >= 0)
		close(d.hup_fd);
	mt_daemon_opts__free(&d.o);
	return err ? 1 : 0;
}
