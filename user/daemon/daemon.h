/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * memtrace daemon: fleet-wide leak hunting on one host.
 *
 * Every process's RSS is watched from /proc, no probe (watch.h); one that
 * grows by --rss-growth within --window is escalated to a closer tier
 * through the session's runtime control (session/control.h): growth
 * profiling where this build has it, exact tracing (--escalate exact, or
 * when the growth tier is missing) for at most --exact-for seconds, at
 * most --max-escalated processes at once; it goes back to the watch when
 * its growth stops. Escalated processes are reported every --interval:
 * their lines as Prometheus metrics on --listen (metrics.h, server.h),
 * pprof files in --profile-dir, pushes to --push (profiles.h). An
 * escalated process the kernel picks as an OOM victim gets its last
 * profile and report written before it is gone. SIGHUP reads the options
 * again (--config FILE, then the command line); SIGTERM and SIGINT end it,
 * every probe removed.
 */
#ifndef MT_DAEMON_H
#define MT_DAEMON_H

/* `memtrace daemon [options]`: argv[0] is "daemon". Returns the exit code. */
int mt_daemon__main(int argc, char **argv);

#endif
