// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's pure parts: statm parsing, --match rules, the watch's
 * escalation decisions on synthetic samples (window, budget, settle,
 * exact-for, a reused pid), the metrics exposition of a synthetic report
 * model (exact text, escaping, the "other" series, bounded cardinality),
 * profile rotation and the push's query string, the config file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/profiles.h"
#include "daemon/server.h"
#include "daemon/watch.h"
#include "report/report.h"
#include "test.h"

#define MIB (1LL << 20)

MT_TEST(daemon_statm)
{
	__s64 rss = -1, anon = -1;

	ASSERT_OK(mt_watch__parse_statm("5000 300 100 10 0 250 0\n", 25, 4096, &rss, &anon), "ok");
	ASSERT_EQ(rss, 300 * 4096, "rss");
	ASSERT_EQ(anon, 200 * 4096, "anon");
	ASSERT_OK(mt_watch__parse_statm("0 0 0 0 0 0 0", 13, 4096, &rss, &anon), "kthread");
	ASSERT_EQ(rss, 0, "kthread rss");
	ASSERT_EQ(mt_watch__parse_statm("12 x 3", 6, 4096, &rss, &anon), -EINVAL, "junk");
	ASSERT_EQ(mt_watch__parse_statm("12 34", 5, 4096, &rss, &anon), -EINVAL, "short");
	ASSERT_EQ(mt_watch__parse_statm("1 99999999999999999999 1", 24, 4096, &rss, &anon), -EINVAL,
		  "overflow");
	/* not NUL-terminated: the length bounds the read */
	ASSERT_EQ(mt_watch__parse_statm("1 2 3", 3, 4096, &rss, &anon), -EINVAL, "bounded");
}

MT_TEST(daemon_match)
{
	struct mt_match m[3];

	ASSERT_OK(mt_match__parse("comm=nginx*", &m[0]), "comm");
	ASSERT_OK(mt_match__parse("cgroup=/system.slice/*", &m[1]), "cgroup");
	ASSERT_OK(mt_match__parse("unit=redis.service", &m[2]), "unit");
	ASSERT_EQ(mt_match__parse("pid=1", &m[0]), -EINVAL, "unknown kind");
	ASSERT_EQ(mt_match__parse("comm=", &m[0]), -EINVAL, "empty");
	ASSERT_OK(mt_match__parse("comm=nginx*", &m[0]), "comm again");
	ASSERT_TRUE(mt_match__any(m, 0, "anything", ""), "no rules: all");
	ASSERT_TRUE(mt_match__any(m, 1, "nginx-worker", ""), "comm glob");
	ASSERT_FALSE(mt_match__any(m, 1, "apache", "/system.slice/apache.service"), "comm only");
	ASSERT_TRUE(mt_match__any(m, 2, "apache", "/system.slice/apache.service"), "cgroup glob");
	ASSERT_TRUE(mt_match__any(m + 2, 1, "redis-server", "/system.slice/redis.service"), "unit");
	ASSERT_FALSE(mt_match__any(m + 2, 1, "x", "/system.slice/redis.service/sub"), "unit last");
}

static const struct mt_watch_opts wopts = {
    .rss_growth = 8 * MIB,
    .window = 10,
    .settle = 5,
    .exact_for = 30,
    .max_escalated = 2,
};

/* one scan at t: pid i has rss[i] MiB (start time 1000 + pid) */
static void scan(struct mt_watch *w, double t, const __s64 *rss, size_t n)
{
	pid_t gone[8];

	mt_watch__begin(w);
	for (size_t i = 0; i < n; i++)
		if (rss[i] >= 0)
			mt_watch__sample(w, (pid_t)(100 + i), 1000 + i, "p", "", rss[i] * MIB,
					 rss[i] * MIB, t);
	mt_watch__end(w, gone, 8);
}

static size_t decide_apply(struct mt_watch *w, double t, struct mt_watch_action *a)
{
	size_t n = mt_watch__decide(w, t, a, 16);

	for (size_t i = 0; i < n; i++)
		mt_watch__applied(w, &a[i], true, t);
	return n;
}

MT_TEST(daemon_watch_window)
{
	struct mt_watch w;
	struct mt_watch_action a[16];
	__s64 r[3] = {100, 100, 100};

	mt_watch__init(&w, &wopts);
	scan(&w, 0, r, 3);
	ASSERT_EQ(decide_apply(&w, 0, a), 0, "first sample: no growth");
	/* pid 101 grows 6 MiB, then 9 within the window: escalated at 9 */
	r[1] = 106;
	scan(&w, 4, r, 3);
	ASSERT_EQ(decide_apply(&w, 4, a), 0, "6 MiB: below the threshold");
	r[1] = 109;
	scan(&w, 8, r, 3);
	ASSERT_EQ(decide_apply(&w, 8, a), 1, "9 MiB within 10 s");
	ASSERT_EQ(a[0].pid, 101, "the grower");
	ASSERT_EQ(a[0].to, MT_TIER_EXACT, "no growth tier: exact");
	ASSERT_EQ(a[0].growth, 9 * MIB, "growth");
	ASSERT_EQ(w.nr_escalated, 1, "escalated");
	/* pid 102 grows slowly: 9 MiB over 20 s is not 8 within 10 */
	for (int k = 1; k <= 4; k++) {
		r[2] = 100 + 9 * k / 4;
		r[1] = 109 + k; /* keeps growing: stays escalated */
		scan(&w, 8 + 5 * k, r, 3);
		ASSERT_EQ(decide_apply(&w, 8 + 5 * k, a), 0, "slow growth");
	}
	/* 101 stops growing: de-escalated settle seconds after its last peak */
	scan(&w, 31, r, 3);
	ASSERT_EQ(decide_apply(&w, 31, a), 0, "4 s after the peak");
	scan(&w, 33.5, r, 3);
	ASSERT_EQ(decide_apply(&w, 33.5, a), 1, "settled");
	ASSERT_EQ(a[0].to, MT_TIER_NONE, "back to the watch");
	ASSERT_STREQ(a[0].why, "growth stopped", "why");
	ASSERT_EQ(w.nr_escalated, 0, "none escalated");
	/* a new window: its old growth does not bring it back */
	scan(&w, 34, r, 3);
	ASSERT_EQ(decide_apply(&w, 34, a), 0, "new window");
	mt_watch__free(&w);
}

MT_TEST(daemon_watch_budget_and_exact_for)
{
	struct mt_watch w;
	struct mt_watch_action a[16];
	__s64 r[4] = {10, 10, 10, 10};

	mt_watch__init(&w, &wopts);
	scan(&w, 0, r, 4);
	r[0] = 30, r[1] = 50, r[2] = 40, r[3] = 19;
	scan(&w, 1, r, 4);
	ASSERT_EQ(decide_apply(&w, 1, a), 2, "budget of 2");
	ASSERT_EQ(a[0].pid, 101, "largest growth first");
	ASSERT_EQ(a[1].pid, 102, "then the next");
	ASSERT_EQ(w.refused, 2, "two refused");
	/* still growing (new peaks each 2 s) until exact-for ends */
	for (int t = 3; t < 31; t += 2) {
		r[1] += 2, r[2] += 2;
		scan(&w, t, r, 4);
		decide_apply(&w, t, a);
	}
	ASSERT_EQ(w.nr_escalated, 2, "still two");
	r[1] += 2, r[2] += 2;
	scan(&w, 31.5, r, 4);
	ASSERT_EQ(decide_apply(&w, 31.5, a), 2, "exact-for ended for both");
	ASSERT_STREQ(a[0].why, "exact-for ended", "why");
	ASSERT_EQ(a[0].to, MT_TIER_NONE, "no growth tier: the watch");
	/* a failed escalation is not counted and starts a new window */
	mt_watch__free(&w);
	mt_watch__init(&w, &wopts);
	r[0] = 10;
	scan(&w, 0, r, 1);
	r[0] = 30;
	scan(&w, 1, r, 1);
	ASSERT_EQ(mt_watch__decide(&w, 1, a, 16), 1, "candidate");
	mt_watch__applied(&w, &a[0], false, 1);
	ASSERT_EQ(w.nr_escalated, 0, "not escalated");
	ASSERT_EQ(mt_watch__decide(&w, 1, a, 16), 0, "new window after a failure");
	mt_watch__free(&w);
}

MT_TEST(daemon_watch_growth_tier)
{
	struct mt_watch_opts o = wopts;
	struct mt_watch w;
	struct mt_watch_action a[16];
	__s64 r[1] = {10};

	o.growth_tier = true;
	o.exact = true;
	mt_watch__init(&w, &o);
	scan(&w, 0, r, 1);
	r[0] = 30;
	scan(&w, 1, r, 1);
	ASSERT_EQ(decide_apply(&w, 1, a), 1, "escalated");
	ASSERT_EQ(a[0].to, MT_TIER_GROWTH, "growth first");
	for (int t = 2; t <= 11; t++) {
		r[0] += 2;
		scan(&w, t, r, 1);
		decide_apply(&w, t, a);
	}
	ASSERT_EQ(w.v[0]->tier, MT_TIER_EXACT, "then exact, still growing a window later");
	mt_watch__free(&w);
}

MT_TEST(daemon_watch_pid_reuse)
{
	struct mt_watch w;
	struct mt_watch_action a[16];
	pid_t gone[4];

	mt_watch__init(&w, &wopts);
	mt_watch__sample(&w, 7, 1, "a", "", 10 * MIB, 0, 0);
	mt_watch__sample(&w, 7, 1, "a", "", 30 * MIB, 0, 1);
	ASSERT_EQ(decide_apply(&w, 1, a), 1, "escalated");
	/* pid 7 is another process now: new, not escalated, no growth */
	mt_watch__begin(&w);
	mt_watch__sample(&w, 7, 2, "b", "", 40 * MIB, 0, 2);
	ASSERT_EQ(mt_watch__end(&w, gone, 4), 0, "none gone");
	ASSERT_EQ(w.nr_escalated, 0, "the old one's escalation went with it");
	ASSERT_STREQ(w.v[0]->comm, "b", "the new process");
	ASSERT_EQ(decide_apply(&w, 2, a), 0, "no growth of its own yet");
	mt_watch__free(&w);
}

MT_TEST(daemon_watch_many)
{
	struct mt_watch w;
	pid_t gone[4];

	/* the samples of one process are bounded whatever the poll rate */
	mt_watch__init(&w, &wopts);
	for (int i = 0; i < 1000; i++)
		mt_watch__sample(&w, 5, 1, "x", "", (10 + i % 3) * MIB, 0, i * 0.01);
	ASSERT_TRUE(w.v[0]->nr <= MT_WATCH_SAMPLES, "bounded");
	/* a process gone from a scan: removed; an escalated one's pid is given back */
	w.v[0]->tier = MT_TIER_EXACT;
	w.nr_escalated = 1;
	mt_watch__begin(&w);
	ASSERT_EQ(mt_watch__end(&w, gone, 4), 1, "gone");
	ASSERT_EQ(gone[0], 5, "its pid");
	ASSERT_EQ(w.nr, 0, "empty");
	ASSERT_EQ(w.nr_escalated, 0, "none escalated");
	mt_watch__free(&w);
}

/* a report of pid 42 with n rows at file.c lines 1..n, 1000 bytes each */
static void fake_report(struct mt_report *r, struct mt_row *rows, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->pid = 42;
	strcpy(r->comm, "le\"ak\\y");
	r->rows = rows;
	r->nr_rows = n;
	r->nr_groups = n;
	r->time = 1700000000;
	r->seq = 3;
	for (size_t i = 0; i < n; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].file = "file.c";
		rows[i].function = "f";
		rows[i].line = (int)i + 1;
		rows[i].bytes = 1000;
		rows[i].growth_bytes = 10;
		r->total_bytes += 1000;
		r->total_growth_bytes += 10;
	}
}

MT_TEST(daemon_metrics_sites)
{
	struct mt_metrics_sites s = {};
	struct mt_report r;
	struct mt_row rows[4];

	fake_report(&r, rows, 4);
	rows[3].line = 1; /* same labels as row 0: summed */
	ASSERT_OK(mt_metrics__sites(&r, 0, &s), "all");
	ASSERT_EQ(s.nr_series, 3, "3 distinct series");
	ASSERT_STREQ(
	    s.outstanding,
	    "memtrace_site_outstanding_bytes{pid=\"42\",comm=\"le\\\"ak\\\\x5cy\",file=\"file."
	    "c\",line=\"1\",function=\"f\",kind=\"heap\"} 2000\n"
	    "memtrace_site_outstanding_bytes{pid=\"42\",comm=\"le\\\"ak\\\\x5cy\",file=\"file."
	    "c\",line=\"2\",function=\"f\",kind=\"heap\"} 1000\n"
	    "memtrace_site_outstanding_bytes{pid=\"42\",comm=\"le\\\"ak\\\\x5cy\",file=\"file."
	    "c\",line=\"3\",function=\"f\",kind=\"heap\"} 1000\n",
	    "exposition lines");
	/* --max-sites 2: two series and "other" with the rest, over every group */
	r.nr_groups = 10;
	r.total_bytes = 9000;
	ASSERT_OK(mt_metrics__sites(&r, 2, &s), "top 2");
	ASSERT_EQ(s.nr_series, 3, "2 + other");
	ASSERT_TRUE(strstr(s.outstanding, "file=\"[other]\",line=\"0\",function=\"\",kind=\"\"} "
					  "7000\n") != NULL,
		    "other = total - shown");
	ASSERT_TRUE(strstr(s.growth, "memtrace_site_growth_bytes{") == s.growth, "growth family");
	mt_metrics__sites_free(&s);
	mt_metrics__sites_free(NULL);
}

MT_TEST(daemon_metrics_render)
{
	struct mt_metrics_sites s = {};
	struct mt_report r;
	struct mt_row rows[1];
	struct mt_metrics_proc procs[3] = {
	    {.pid = 1, .comm = "small", .rss = 10, .anon = 5, .tier = "watch"},
	    {.pid = 42, .comm = "leaky", .rss = 300, .anon = 200, .tier = "exact", .sites = &s},
	    {.pid = 3, .comm = "mid", .rss = 100, .anon = 50, .tier = "watch"},
	};
	struct mt_metrics_drop drops[] = {{"budget", 2}, {"push", 0}};
	struct mt_metrics_view v = {.procs = procs,
				    .nr_procs = 3,
				    .top_rss = 2,
				    .escalations = 1,
				    .escalated = 1,
				    .drops = drops,
				    .nr_drops = 2,
				    .overhead_seconds = 0.5,
				    .scrapes = 7};
	char *buf = NULL;
	size_t len = 0;

	fake_report(&r, rows, 1);
	ASSERT_OK(mt_metrics__sites(&r, 20, &s), "sites");
	ASSERT_OK(mt_metrics__render_buf(&v, &buf, &len), "render");
	ASSERT_EQ(len, strlen(buf), "length");
	/* top 2 by RSS: pids 42 and 3, not 1 */
	ASSERT_TRUE(strstr(buf, "memtrace_process_rss_bytes{pid=\"42\",comm=\"leaky\"} 300\n"
				"memtrace_process_rss_bytes{pid=\"3\",comm=\"mid\"} 100\n# HELP") !=
			NULL,
		    "top rss");
	ASSERT_TRUE(!strstr(buf, "pid=\"1\""), "the smallest left out");
	ASSERT_TRUE(strstr(buf, "memtrace_process_tier{pid=\"42\",comm=\"leaky\",tier=\"exact\"} "
				"1\n") != NULL,
		    "tier");
	ASSERT_TRUE(strstr(buf, "# HELP memtrace_escalations_total ") &&
			strstr(buf, "# TYPE memtrace_escalations_total counter\n"
				    "memtrace_escalations_total 1\n"),
		    "counter");
	ASSERT_TRUE(strstr(buf, "memtrace_drops_total{reason=\"budget\"} 2\n") != NULL, "drops");
	ASSERT_TRUE(strstr(buf, "memtrace_overhead_seconds_total 0.500000\n") != NULL, "cpu");
	/* every family has HELP and TYPE; every counter ends in _total */
	for (char *p = buf; (p = strstr(p, "# TYPE ")); p++) {
		char name[64], type[16];

		if (sscanf(p, "# TYPE %63s %15s", name, type) != 2)
			break;
		if (!strcmp(type, "counter"))
			ASSERT_TRUE(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
				    name);
	}
	free(buf);
	mt_metrics__sites_free(&s);
}

MT_TEST(daemon_profiles_rotate_and_query)
{
	char dir[] = "/tmp/mt-unit-prof-XXXXXX", path[256], q[512];
	struct mt_report r;
	struct mt_row rows[1];

	ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp");
	for (int i = 1; i <= 5; i++) {
		snprintf(path, sizeof(path), "%s/memtrace-9-%08d.pb.gz", dir, i);
		fclose(fopen(path, "w"));
	}
	snprintf(path, sizeof(path), "%s/memtrace-9-oom.pb.gz", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/memtrace-99-00000001.pb.gz", dir);
	fclose(fopen(path, "w"));
	ASSERT_EQ(mt_profiles__rotate(dir, 9, 2), 3, "three oldest removed");
	snprintf(path, sizeof(path), "%s/memtrace-9-00000004.pb.gz", dir);
	ASSERT_OK(access(path, F_OK), "4 kept");
	snprintf(path, sizeof(path), "%s/memtrace-9-00000003.pb.gz", dir);
	ASSERT_TRUE(access(path, F_OK) != 0, "3 removed");
	snprintf(path, sizeof(path), "%s/memtrace-9-oom.pb.gz", dir);
	ASSERT_OK(access(path, F_OK), "the OOM one stays");
	snprintf(path, sizeof(path), "%s/memtrace-99-00000001.pb.gz", dir);
	ASSERT_OK(access(path, F_OK), "another pid's stays");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ASSERT_OK(system(path), "cleanup");

	fake_report(&r, rows, 1);
	strcpy(r.comm, "a{b}=c d");
	ASSERT_STREQ(mt_profiles__push_query(q, sizeof(q), "app", &r, 30),
		     "name=app%7Bpid%3D42%2Ccomm%3Da_b__c%20d%7D&from=1699999970&until=1700000000&"
		     "format=pprof",
		     "query");
	ASSERT_TRUE(mt_profiles__push_query(q, 20, "app", &r, 30) == NULL, "too small");
}

MT_TEST(daemon_listen_addr)
{
	struct sockaddr_storage ss;

	ASSERT_OK(mt_server__parse_addr("127.0.0.1:9464", &ss), "v4");
	ASSERT_OK(mt_server__parse_addr("[::1]:9464", &ss), "v6");
	ASSERT_OK(mt_server__parse_addr(":9464", &ss), "any");
	ASSERT_EQ(mt_server__parse_addr("127.0.0.1", &ss), -EINVAL, "no port");
	ASSERT_EQ(mt_server__parse_addr("127.0.0.1:99999", &ss), -EINVAL, "port range");
	ASSERT_EQ(mt_server__parse_addr("host:80", &ss), -EINVAL, "names are not resolved");
}

MT_TEST(daemon_config_file)
{
	char path[] = "/tmp/mt-unit-conf-XXXXXX";
	int fd = mkstemp(path);
	char *argv[] = {"daemon", "--config", path, "--window", "20", NULL};
	struct mt_daemon_opts o;
	FILE *f;

	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	f = fdopen(fd, "w");
	fputs("# comment\n\nrss-growth 16M\nwindow = 300\n  match comm=nginx*\nkeep=3\n", f);
	fclose(f);
	ASSERT_OK(mt_daemon_opts__parse(&o, 5, argv), "parse");
	ASSERT_EQ(o.watch.rss_growth, 16 * MIB, "from the file");
	ASSERT_EQ((long long)o.watch.window, 20, "the command line wins");
	ASSERT_EQ(o.watch.nr_match, 1, "match");
	ASSERT_STREQ(o.watch.match[0].pattern, "nginx*", "pattern");
	ASSERT_EQ(o.keep, 3, "keep");
	ASSERT_EQ((long long)o.watch.settle, 20, "settle defaults to the window");
	mt_daemon_opts__free(&o);
	f = fopen(path, "w");
	fputs("no-such-option 1\n", f);
	fclose(f);
	ASSERT_EQ(mt_daemon_opts__parse(&o, 3, argv), -EINVAL, "unknown option");
	mt_daemon_opts__free(&o);
	unlink(path);
}
