/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's options: the command line, and a config file (--config) of
 * the same long options one a line ("rss-growth 64M", "match comm=nginx";
 * '#' starts a comment), read first so the command line wins. SIGHUP reads
 * both again.
 */
#ifndef MT_DAEMON_CONFIG_H
#define MT_DAEMON_CONFIG_H

#include <stdbool.h>
#include "daemon/watch.h"

struct mt_daemon_opts {
	struct mt_watch_opts watch;
	double poll;	    /* seconds between /proc scans */
	double interval;    /* seconds between reports of escalated processes */
	const char *listen; /* NULL: no metrics endpoint */
	size_t max_sites;   /* site series per process */
	size_t top_rss;	    /* RSS series (0: every watched process) */
	const char *profile_dir;
	unsigned int keep;
	const char *push_url;
	const char *app;
	const char *config;
	__u64 sample_rate; /* exact tracing's sampling (0: every allocation) */
	int verbose;
	char *strings; /* the config file's text: the option values point into it */
};

/*
 * Defaults, the config file (when the command line names one), then the
 * command line. 0, or -EINVAL after a message. Free with mt_daemon_opts__free.
 */
int mt_daemon_opts__parse(struct mt_daemon_opts *o, int argc, char **argv);
void mt_daemon_opts__free(struct mt_daemon_opts *o);

#endif
