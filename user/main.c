// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace: outstanding bytes per source line of running processes.
 *
 * Data flows one way:
 *   probes (bpf/) -> maps -> reader -> symbolizer -> aggregator -> report
 *   model -> output format.
 * This file only orchestrates: options, targets, the event loop, and the
 * hand-over from each stage to the next.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "session/session.h"
#include "lib/log.h"
#include "session/spawn.h"
#include "symbolize/sitecache.h"
#include "symbolize/sym_native.h"
#include "symbolize/sym_python.h"

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int event_loop(struct memtrace *mt, int sfd)
{
	const struct mt_opts *o = mt->opts;
	double next = now_mono() + o->interval;
	sigset_t intercept;
	int err = 0;

	sigemptyset(&intercept);
	sigaddset(&intercept, SIGURG);

	while (o->all || mt_session__live(mt)) {
		struct pollfd pfds[MT_MAX_PIDS + 2];
		size_t map[MT_MAX_PIDS + 2], np = 0;
		double wait = next - now_mono();
		int timeout = wait > 0 ? (int)ceil(wait * 1000) : 0;
		int n;

		pfds[np].fd = sfd;
		pfds[np++].events = POLLIN;
		pfds[np].fd = mt->py_feed ? mt_py_feed__fd(mt->py_feed) : -1;
		pfds[np++].events = POLLIN;
		for (size_t i = 0; i < mt->nr_targets; i++) {
			if (mt->targets[i].done || mt->targets[i].pidfd < 0)
				continue;
			map[np] = i;
			pfds[np].fd = mt->targets[i].pidfd;
			pfds[np++].events = POLLIN;
		}
		/* without pidfds (old kernels) poll for exits at least every second */
		n = poll(pfds, np, timeout > 1000 ? 1000 : timeout);
		if (n < 0 && errno != EINTR)
			return -errno;

		if (n > 0 && (pfds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				/* SIGINT/SIGTERM: the final word, then stop */
				if (mt->nr_targets && mt->targets[0].child &&
				    !mt->targets[0].done) {
					/*
					 * -- mode: the command decides. A signal from
					 * the terminal reached it already; one sent to
					 * memtrace alone is passed on.
					 */
					if (si.ssi_code == SI_USER)
						kill(mt->targets[0].pid, (int)si.ssi_signo);
					continue;
				}
				return mt_session__report_round(mt, true);
			}
		}
		if (mt->py_feed)
			mt_py_feed__consume(mt->py_feed);
		for (size_t i = 2; n > 0 && i < np; i++) {
			if (pfds[i].revents & (POLLIN | POLLHUP)) {
				err = mt_target__finish(mt, &mt->targets[map[i]]);
				if (err)
					return err;
			}
		}
		for (size_t i = 0; i < mt->nr_targets; i++) {
			struct target *t = &mt->targets[i];
			int status;

			if (t->done && !t->final_reported)
				continue;
			if (t->child) {
				switch (mt_spawn__poll(t->pid, &intercept, &status)) {
				case MT_CHILD_EXEC:
					err = mt_target__exec(mt, t);
					if (err)
						return err;
					break;
				case MT_CHILD_SIGNAL:
					if (status == SIGURG &&
					    mt_loader__finalizing(mt->loader, t->pid)) {
						/* Py_FinalizeEx: the final report, before teardown
						 */
						err = mt_target__final_report(mt, t);
						mt_spawn__resume_signal(t->pid, 0);
						if (err)
							return err;
					} else {
						mt_spawn__resume_signal(t->pid, status);
					}
					break;
				case MT_CHILD_EXITING:
					/*
					 * Stopped in exit with its memory still there:
					 * the final report now, then let it go.
					 */
					mt_sym_native__add_pid(mt->sym, t->pid);
					err = mt_target__finish(mt, t);
					mt_spawn__resume(t->pid);
					if (err)
						return err;
					break;
				case MT_CHILD_GONE:
					mt->child_status = status;
					err = mt_target__finish(mt, t);
					if (err)
						return err;
					break;
				default:
					break;
				}
			} else if (t->pidfd < 0 && kill(t->pid, 0) && errno == ESRCH) {
				err = mt_target__finish(mt, t);
				if (err)
					return err;
			}
		}
		if (!o->all && !mt_session__live(mt))
			break;
		if (now_mono() >= next) {
			bool last = o->count && mt->reports + 1 >= o->count;

			err = mt_session__report_round(mt, last);
			if (err || last)
				return err;
			next += o->interval;
			if (next < now_mono())
				next = now_mono() + o->interval;
		}
	}
	return err;
}

int main(int argc, char **argv)
{
	struct memtrace mt = {.child_status = -1};
	struct mt_opts opts;
	sigset_t mask;
	int err, sfd = -1;

	err = mt_opts__parse(&opts, argc, argv);
	if (err)
		return 64; /* EX_USAGE, as argp's own usage errors */
	mt.opts = &opts;
	mt_log__set_level(MT_LOG_INFO + opts.verbose);
	mt_log__hook_libbpf();

	/* the symbolizer keeps every module file open */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	/* debug files come from the local disk: never stall a report on the network */
	unsetenv("DEBUGINFOD_URLS");

	mt.out = stdout;
	if (opts.output) {
		mt.out = fopen(opts.output, "we");
		if (!mt.out) {
			pr_err("cannot open '%s': %s", opts.output, strerror(errno));
			return 1;
		}
	}
	mt.out_cfg.format = opts.format;
	mt.out_cfg.show_stacks = opts.verbose || opts.group_by == MT_GROUP_STACK;
	if (opts.sample_rate) {
		static char note[96];

		snprintf(note, sizeof(note), "sampled: one allocation per %llu bytes on average",
			 (unsigned long long)opts.sample_rate);
		mt.out_cfg.sampling_note = note;
	}

	/* signals arrive through a signalfd; the child gets the default dispositions back */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	struct mt_loader_opts lo = {
	    .min_size = opts.min_size,
	    .max_size = opts.max_size,
	    .stacks = !opts.no_stacks,
	    .ages = opts.min_age > 0,
	    .python_depth = opts.python_depth,
	    .sample_rate = opts.sample_rate,
	    .seed = opts.seed,
	    .max_allocs = opts.max_allocs,
	    .max_sites = opts.max_sites,
	    .stack_storage = opts.stack_storage,
	    .floor = opts.floor,
	    .syscall_tps = opts.syscall_tps == MT_WHEN_ON,
	    .verbose = opts.verbose > 0,
	};
	mt.loader = mt_loader__new(&lo, opts.attach_mode);
	if (!mt.loader) {
		err = -errno;
		goto cleanup;
	}
	err = mt_loader__maps(mt.loader, &mt.bpf);
	if (err) {
		pr_err("mapping BPF maps: %s", strerror(-err));
		goto cleanup;
	}
	mt.sym = mt_sym_native__new();
	mt.pysym = mt_sym_python__new();
	mt.stacks = mt_stack_cache__new();
	mt.py_feed = mt_py_feed__new(&mt.bpf, mt_session__on_py_stack, &mt);
	mt.sites = mt_site_cache__new();
	if (!mt.sym || !mt.pysym || !mt.stacks || !mt.py_feed || !mt.sites) {
		err = -errno;
		pr_err("symbolizer: %s", strerror(errno));
		goto cleanup;
	}
	if (opts.pymalloc_off)
		setenv("PYTHONMALLOC", "malloc", 1); /* the command inherits it */
	err = mt_session__start(&mt);
	if (err)
		goto cleanup;
	err = event_loop(&mt, sfd);
	/* -- mode: the command's exit status, after its final report */
	if (opts.cmd && mt.nr_targets && mt.child_status < 0) {
		int st;

		if (waitpid(mt.targets[0].pid, &st, 0) == mt.targets[0].pid)
			mt.child_status = st;
	}
cleanup:
	for (size_t i = 0; i < mt.nr_targets; i++) {
		if (mt.targets[i].pidfd >= 0)
			close(mt.targets[i].pidfd);
		mt_agg__free(mt.targets[i].agg);
	}
	mt_sym_native__free(mt.sym);
	mt_sym_python__free(mt.pysym);
	mt_stack_cache__free(mt.stacks);
	mt_py_feed__free(mt.py_feed);
	mt_site_cache__free(mt.sites);
	mt_loader__free(mt.loader);
	if (sfd >= 0)
		close(sfd);
	if (mt.out && mt.out != stdout)
		fclose(mt.out);
	if (err)
		return 1;
	if (opts.cmd && mt.child_status >= 0)
		return mt_spawn__exit_code(mt.child_status);
	return 0;
}
