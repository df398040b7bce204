// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The daemon's options (daemon/config.h): one argp table for the command line and the file. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/config.h"
#include "lib/log.h"
#include "opts.h"

enum {
	OPT_RSS_GROWTH = 1000,
	OPT_WINDOW,
	OPT_SETTLE,
	OPT_POLL,
	OPT_ESCALATE,
	OPT_EXACT_FOR,
	OPT_MAX_ESCALATED,
	OPT_MATCH,
	OPT_LISTEN,
	OPT_MAX_SITES,
	OPT_TOP_RSS,
	OPT_INTERVAL,
	OPT_PROFILE_DIR,
	OPT_KEEP,
	OPT_PUSH,
	OPT_APP,
	OPT_CONFIG,
	OPT_SAMPLE_RATE,
};

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Watch and escalate:", 1},
    {"rss-growth", OPT_RSS_GROWTH, "SIZE", 0,
     "escalate a process whose RSS grew by SIZE within the window (default 64M)", 1},
    {"window", OPT_WINDOW, "SEC", 0, "the window of --rss-growth (default 600)", 1},
    {"settle", OPT_SETTLE, "SEC", 0,
     "de-escalate a process without a new RSS peak for SEC (default: the window)", 1},
    {"poll", OPT_POLL, "SEC", 0, "seconds between reads of /proc (default 10)", 1},
    {"escalate", OPT_ESCALATE, "TIER", 0,
     "growth (default: growth profiling, no allocator probe), exact (growth, then exact "
     "tracing while it still grows) or exact-now (straight to exact tracing; no growth "
     "programs loaded)",
     1},
    {"exact-for", OPT_EXACT_FOR, "SEC", 0,
     "exact tracing of a process ends after SEC, its probes removed (default 300; 0: until "
     "its growth stops)",
     1},
    {"max-escalated", OPT_MAX_ESCALATED, "N", 0, "processes escalated at once (default 4)", 1},
    {"match", OPT_MATCH, "RULE", 0,
     "watch only processes matching comm=GLOB, cgroup=GLOB or unit=NAME (repeatable; "
     "default: all)",
     1},
    {"sample-rate", OPT_SAMPLE_RATE, "SIZE", 0,
     "exact tracing samples one allocation per SIZE bytes (default 0: every one)", 1},
    {NULL, 0, NULL, 0, "Outputs:", 2},
    {"listen", OPT_LISTEN, "ADDR", 0,
     "Prometheus metrics on ADDR/metrics (default 127.0.0.1:9464; \"none\": off)", 2},
    {"max-sites", OPT_MAX_SITES, "N", 0, "site series per escalated process (default 20)", 2},
    {"top-rss", OPT_TOP_RSS, "N", 0,
     "RSS series for the N largest processes (default 0: every watched process)", 2},
    {"interval", OPT_INTERVAL, "SEC", 0,
     "seconds between reports of escalated processes (default 30)", 2},
    {"profile-dir", OPT_PROFILE_DIR, "DIR", 0, "pprof profiles of escalated processes to DIR", 2},
    {"keep", OPT_KEEP, "N", 0, "profiles kept per process in DIR (default 10; 0: all)", 2},
    {"push", OPT_PUSH, "URL", 0, "push profiles to a Pyroscope-compatible server (URL/ingest)", 2},
    {"app", OPT_APP, "NAME", 0, "application name of pushed profiles (default memtrace)", 2},
    {NULL, 0, NULL, 0, "Operation:", 3},
    {"config", OPT_CONFIG, "FILE", 0,
     "options from FILE, one a line (\"rss-growth 64M\"), read again on SIGHUP; a file that "
     "does not exist is no options",
     3},
    {"verbose", 'v', NULL, 0, "say more (repeat for more)", 3},
    {NULL},
};

static const char doc[] =
    "memtrace daemon: watch every process's RSS; escalate the ones that grow to leak tracing "
    "and show their lines as Prometheus metrics and pprof profiles."
    "\v"
    "EXAMPLES:\n"
    "  memtrace daemon\n"
    "  memtrace daemon --rss-growth 32M --window 300 --escalate exact --exact-for 120\n"
    "  memtrace daemon --match unit=nginx.service --profile-dir /var/lib/memtrace --keep 5\n"
    "  memtrace daemon --push http://pyroscope:4040\n";

struct state {
	struct mt_daemon_opts *o;
	bool in_file;
	int err;
};

/* the longest window, settle, poll, exact-for or interval taken: a year */
#define MAX_SECONDS (86400.0 * 365)

/* A count into a size_t option (opts.c's parser) */
static int parse_count(const char *arg, size_t *out, size_t max)
{
	unsigned long v;
	int err = mt_parse_ulong(arg, max, &v);

	if (!err)
		*out = v;
	return err;
}

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	struct state *s = st->input;
	struct mt_daemon_opts *o = s->o;
	struct mt_watch_opts *w = &o->watch;
	size_t n = 0;
	int err = 0;

	switch (key) {
	case OPT_RSS_GROWTH:
		err = mt_parse_size(arg, &w->rss_growth);
		break;
	case OPT_WINDOW:
		err = mt_parse_seconds(arg, &w->window, false, MAX_SECONDS);
		break;
	case OPT_SETTLE:
		err = mt_parse_seconds(arg, &w->settle, false, MAX_SECONDS);
		break;
	case OPT_POLL:
		err = mt_parse_seconds(arg, &o->poll, false, MAX_SECONDS);
		break;
	case OPT_ESCALATE:
		w->exact = !strcmp(arg, "exact");
		w->exact_now = !strcmp(arg, "exact-now");
		if (!w->exact && !w->exact_now && strcmp(arg, "growth"))
			err = -EINVAL;
		break;
	case OPT_EXACT_FOR:
		err = mt_parse_seconds(arg, &w->exact_for, true, MAX_SECONDS);
		break;
	case OPT_MAX_ESCALATED:
		err = parse_count(arg, &w->max_escalated, 4096);
		break;
	case OPT_MATCH:
		if (w->nr_match == MT_WATCH_MAX_MATCH)
			err = -E2BIG;
		else
			err = mt_match__parse(arg, &w->match[w->nr_match++]);
		break;
	case OPT_SAMPLE_RATE:
		err = mt_parse_size(arg, &o->sample_rate);
		break;
	case OPT_LISTEN:
		o->listen = strcmp(arg, "none") ? arg : NULL;
		break;
	case OPT_MAX_SITES:
		err = parse_count(arg, &o->max_sites, 10000);
		break;
	case OPT_TOP_RSS:
		err = parse_count(arg, &o->top_rss, 1 << 22);
		break;
	case OPT_INTERVAL:
		err = mt_parse_seconds(arg, &o->interval, false, MAX_SECONDS);
		break;
	case OPT_PROFILE_DIR:
		o->profile_dir = arg;
		break;
	case OPT_KEEP:
		err = parse_count(arg, &n, 1 << 20);
		o->keep = (unsigned int)n;
		break;
	case OPT_PUSH:
		o->push_url = arg;
		break;
	case OPT_APP:
		o->app = arg;
		break;
	case OPT_CONFIG:
		if (s->in_file)
			err = -EINVAL;
		o->config = arg;
		break;
	case 'v':
		o->verbose++;
		break;
	case ARGP_KEY_ARG:
		err = -EINVAL;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	if (err) {
		const struct argp_option *opt = options;

		while (opt->name && opt->key != key)
			opt++;
		pr_err("%s: invalid %s%s '%s'", s->in_file ? o->config : "daemon",
		       opt->name ? "--" : "argument", opt->name ? opt->name : "", arg);
		s->err = -EINVAL;
		return EINVAL;
	}
	return 0;
}

static const struct argp argp = {options, parse_arg, NULL, doc};

static void defaults(struct mt_daemon_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->watch.rss_growth = 64 << 20;
	o->watch.window = 600;
	o->watch.exact_for = 300;
	o->watch.max_escalated = 4;
	o->poll = 10;
	o->interval = 30;
	o->listen = "127.0.0.1:9464";
	o->max_sites = 20;
	o->keep = 10;
	o->app = "memtrace";
}

/* The config file as "--key value" arguments, parsed with the same table. */
static int parse_file(struct mt_daemon_opts *o, const char *path)
{
	char *args[256], *text, *line, *save = NULL, *out;
	struct state s = {.o = o, .in_file = true};
	size_t nr = 0, len;
	FILE *f = fopen(path, "re");
	int err;

	if (!f && errno == ENOENT) {
		pr_debug("--config %s: no such file: no options from it", path);
		return 0;
	}
	if (!f) {
		pr_err("--config %s: %s", path, strerror(errno));
		return -errno;
	}
	text = calloc(1, 65536);
	free(o->strings);
	o->strings = calloc(1, 2 * 65536); /* each line's key gets "--" and a NUL */
	if (!text || !o->strings) {
		free(text);
		fclose(f);
		return -ENOMEM;
	}
	len = fread(text, 1, 65535, f);
	err = feof(f) ? 0 : -EFBIG;
	fclose(f);
	if (err) {
		pr_err("--config %s: larger than 64 KiB", path);
		goto out;
	}
	text[len] = 0;
	out = o->strings;
	args[nr++] = "config";
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key = line + strspn(line, " \t"), *val;

		if (!*key || *key == '#')
			continue;
		if (nr + 3 >= sizeof(args) / sizeof(args[0])) {
			pr_err("--config %s: too many lines", path);
			err = -E2BIG;
			goto out;
		}
		val = key + strcspn(key, " \t=");
		if (*val)
			*val++ = 0;
		val += strspn(val, " \t=");
		for (char *e = val + strlen(val); e > val && strchr(" \t\r", e[-1]); e--)
			e[-1] = 0;
		args[nr++] = out;
		out += sprintf(out, "--%s", key) + 1;
		if (*val) {
			args[nr++] = out;
			out += sprintf(out, "%s", val) + 1;
		}
	}
	args[nr] = NULL;
	err = argp_parse(&argp, (int)nr, args, ARGP_NO_EXIT | ARGP_NO_HELP | ARGP_SILENT, NULL, &s);
	if (!s.err && err)
		pr_err("--config %s: an option it names is unknown", path);
	err = s.err ? s.err : err ? -EINVAL : 0;
out:
	free(text);
	return err;
}

int mt_daemon_opts__parse(struct mt_daemon_opts *o, int argc, char **argv)
{
	struct state s = {.o = o};
	int err;

	defaults(o);
	argp_err_exit_status = 64;
	/* the file first (its name from the command line), then the command line over it */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--config") && i + 1 < argc)
			o->config = argv[i + 1];
		else if (!strncmp(a, "--config=", 9))
			o->config = a + 9;
	}
	if (o->config) {
		const char *path = o->config;

		err = parse_file(o, path);
		if (err)
			return err;
		o->config = path;
	}
	err = argp_parse(&argp, argc, argv, 0, NULL, &s);
	if (s.err || err)
		return s.err ? s.err : -EINVAL;
	if (!o->watch.settle)
		o->watch.settle = o->watch.window;
	if (o->poll > o->watch.window / 2)
		o->poll = o->watch.window / 2;
	return 0;
}

void mt_daemon_opts__free(struct mt_daemon_opts *o)
{
	free(o->strings);
	o->strings = NULL;
}
