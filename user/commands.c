// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Subcommands on saved reports (see commands.h): load the NDJSON files
 * (report/load), pick the reports, render them through output/ like a
 * live run would. Exit codes: 0, 64 usage, 1 any other error.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "daemon/daemon.h"
#include "output/output.h"
#include "report/diff.h"
#include "report/load.h"

#define EX_USAGE_ 64

struct cmd_opts {
	const char *files[2];
	size_t nr_files, want_files;
	enum mt_format format;
	bool format_set;
	const char *output;
	bool all;
	bool stacks;
	enum mt_group_by group_by;
};

enum { OPT_FORMAT = 1000, OPT_ALL, OPT_GROUP_BY, OPT_STACKS };

static error_t cmd_parse(int key, char *arg, struct argp_state *st)
{
	struct cmd_opts *o = st->input;

	switch (key) {
	case OPT_FORMAT:
		if (mt_format__parse(arg, &o->format)) {
			char names[128];

			argp_error(st, "invalid --format '%s': %s", arg,
				   mt_format__list(names, sizeof(names)));
		}
		o->format_set = true;
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_ALL:
		o->all = true;
		break;
	case OPT_STACKS:
		o->stacks = true;
		break;
	case OPT_GROUP_BY:
		if (!strcmp(arg, "line"))
			o->group_by = MT_GROUP_LINE;
		else if (!strcmp(arg, "stack"))
			o->group_by = MT_GROUP_STACK;
		else
			argp_error(st, "invalid --group-by '%s': line or stack", arg);
		break;
	case ARGP_KEY_ARG:
		if (o->nr_files == o->want_files)
			argp_error(st, "too many arguments");
		o->files[o->nr_files++] = arg;
		break;
	case ARGP_KEY_END:
		if (o->nr_files < o->want_files)
			argp_error(st, "expected %zu saved report file%s", o->want_files,
				   o->want_files > 1 ? "s" : "");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* argp exits on its own errors (status 64 is set below); help exits 0. */
static int cmd_args(const struct argp_option *options, const char *args_doc, const char *doc,
		    int argc, char **argv, struct cmd_opts *o)
{
	const struct argp argp = {options, cmd_parse, args_doc, doc};
	char name[64];

	/* usage lines name the subcommand: "memtrace report" */
	snprintf(name, sizeof(name), "memtrace %s", argv[0]);
	argv[0] = name;
	argp_err_exit_status = EX_USAGE_;
	return argp_parse(&argp, argc, argv, 0, NULL, o) ? EX_USAGE_ : 0;
}

static int load_file(const char *path, struct mt_report_set *set)
{
	char err[512] = "";
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int rc;

	if (!f) {
		fprintf(stderr, "memtrace: error: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	rc = mt_report_set__load(set, f, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (rc)
		fprintf(stderr, "memtrace: error: %s: %s\n", path, err);
	else if (!set->nr)
		fprintf(stderr, "memtrace: warning: %s: no reports\n", path);
	return rc;
}

/*
 * The reports to render: every one (all), else the last of each process,
 * in the order the processes first appear. Indexes into set, *nr of them.
 */
static size_t *pick_last(const struct mt_report_set *set, bool all, size_t *nr)
{
	size_t *v = calloc(set->nr ? set->nr : 1, sizeof(*v)), n = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < set->nr; i++) {
		size_t k;

		if (all) {
			v[n++] = i;
			continue;
		}
		for (k = 0; k < n && set->reports[v[k]].pid != set->reports[i].pid; k++)
			;
		v[k] = i; /* a later report of a process replaces its earlier one */
		n += k == n;
	}
	*nr = n;
	return v;
}

static FILE *open_output(const char *path)
{
	int fd;
	FILE *f;

	if (!path || !strcmp(path, "-"))
		return stdout;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "memtrace: error: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return f;
}

static int close_output(FILE *f, const char *path)
{
	if (f == stdout)
		return fflush(f) ? -EIO : 0;
	if (fclose(f)) {
		fprintf(stderr, "memtrace: error: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static const struct argp_option report_options[] = {
    {"format", OPT_FORMAT, "FMT", 0,
     "text (default), json, folded, pprof (with -o FILE) or html (one page, every process)", 0},
    {"output", 'o', "FILE", 0, "Write to FILE instead of standard output", 0},
    {"all", OPT_ALL, NULL, 0, "Every report of the file, not only the last of each process", 0},
    {"stacks", OPT_STACKS, NULL, 0, "text: each row's stack (always with --group-by stack)", 0},
    {0},
};

static int cmd_report(int argc, char **argv)
{
	struct cmd_opts o = {.want_files = 1};
	struct mt_report_set set = {0};
	size_t *pick = NULL, nr = 0;
	struct mt_out_html *html = NULL;
	FILE *out = NULL;
	int rc;

	rc = cmd_args(report_options, "FILE",
		      "Render a saved report (memtrace --format json -o FILE) again, in any "
		      "format; no root needed. FILE - is standard input.",
		      argc, argv, &o);
	if (rc)
		return rc;
	rc = load_file(o.files[0], &set);
	if (rc)
		goto out;
	if (o.format == MT_FORMAT_PPROF && !o.output) {
		fprintf(stderr, "memtrace: error: report: --format pprof needs -o FILE\n");
		rc = -EINVAL;
		goto out;
	}
	pick = pick_last(&set, o.all, &nr);
	if (o.format == MT_FORMAT_HTML && !(html = mt_out_html__new()))
		pick = NULL;
	out = pick ? open_output(o.output) : NULL;
	if (!out) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nr && !rc; i++) {
		const struct mt_report *r = &set.reports[pick[i]];
		struct mt_output_cfg cfg = {
		    .format = o.format,
		    .show_stacks = o.stacks || r->group_by == MT_GROUP_STACK,
		    .sampling_note = set.sampling[pick[i]],
		    .path = o.output,
		    .html = html,
		};
		unsigned long long rate;

		/* pprof's period: the rate the note names, as memtrace wrote it */
		if (cfg.sampling_note &&
		    sscanf(cfg.sampling_note, "sampled: one allocation per %llu", &rate) == 1)
			cfg.sample_rate = rate;

		/* html: one page with every process, written once */
		rc = html ? mt_out_html__add(html, &cfg, r) : mt_output__report(out, &cfg, r);
	}
	if (html && !rc)
		rc = mt_out_html__write(html, out, o.output);
	if (rc)
		fprintf(stderr, "memtrace: error: writing the report: %s\n", strerror(-rc));
	if (close_output(out, o.output) && !rc)
		rc = -EIO;
out:
	free(pick);
	mt_out_html__free(html);
	mt_report_set__free(&set);
	return rc ? 1 : 0;
}

static const struct argp_option diff_options[] = {
    {"format", OPT_FORMAT, "FMT", 0, "text (default) or json", 0},
    {"group-by", OPT_GROUP_BY, "KEY", 0, "line (default) or stack", 0},
    {"output", 'o', "FILE", 0, "Write to FILE instead of standard output", 0},
    {0},
};

/* The reports a diff compares: the last of each process, copied out of set. */
static struct mt_report *diff_side(const struct mt_report_set *set, size_t *nr)
{
	size_t *pick = pick_last(set, false, nr);
	struct mt_report *v = pick ? calloc(*nr ? *nr : 1, sizeof(*v)) : NULL;

	for (size_t i = 0; v && i < *nr; i++)
		v[i] = set->reports[pick[i]]; /* shallow: set owns the rows */
	free(pick);
	return v;
}

static int cmd_diff(int argc, char **argv)
{
	struct cmd_opts o = {.want_files = 2};
	struct mt_report_set a = {0}, b = {0};
	struct mt_report *ra = NULL, *rb = NULL;
	struct mt_output_cfg cfg = {0};
	struct mt_diff d = {0};
	size_t na = 0, nb = 0;
	FILE *out = NULL;
	int rc;

	rc = cmd_args(diff_options, "A B",
		      "What changed from saved report A to saved report B: bytes and count "
		      "in B minus A per line (or stack), largest growth first, lines new in B "
		      "and gone from B marked. Each side is the last report of each process "
		      "in its file (processes added up). Record with --top 0 for a complete diff.",
		      argc, argv, &o);
	if (rc)
		return rc;
	if (o.format != MT_FORMAT_TEXT && o.format != MT_FORMAT_JSON) {
		fprintf(stderr, "memtrace: error: diff: --format text or json\n");
		return EX_USAGE_;
	}
	rc = load_file(o.files[0], &a);
	if (!rc)
		rc = load_file(o.files[1], &b);
	if (rc)
		goto out;
	ra = diff_side(&a, &na);
	rb = diff_side(&b, &nb);
	rc = ra && rb ? mt_diff__build(&d, ra, na, rb, nb, o.group_by) : -ENOMEM;
	if (rc) {
		fprintf(stderr, "memtrace: error: diff: %s\n", strerror(-rc));
		goto out;
	}
	d.name_a = o.files[0];
	d.name_b = o.files[1];
	out = open_output(o.output);
	if (!out) {
		rc = -EIO;
		goto out;
	}
	cfg.format = o.format;
	rc = mt_output__diff(out, &cfg, &d);
	if (rc)
		fprintf(stderr, "memtrace: error: writing the diff: %s\n", strerror(-rc));
	if (close_output(out, o.output) && !rc)
		rc = -EIO;
out:
	mt_diff__free(&d);
	free(ra);
	free(rb);
	mt_report_set__free(&a);
	mt_report_set__free(&b);
	return rc ? 1 : 0;
}

static const struct mt_command commands[] = {
    {"report", "render a saved report again (text, json, folded, pprof, html)", cmd_report},
    {"diff", "what changed between two saved reports", cmd_diff},
    {"daemon", "watch every process; escalate the growing ones to leak tracing", mt_daemon__main},
};

const struct mt_command *mt_command__find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}
