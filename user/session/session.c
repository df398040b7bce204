// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The session's owner and its event loop.
 *
 * One loop waits on three things: signals (a signalfd), BPF's events
 * (new Python stacks, and forks, execs and exits of followed processes)
 * and the next report's time. Lifecycle events are queued as they arrive
 * and carried out between reports, never inside one. In -- mode the
 * command, memtrace's child, is also reaped here when it ends (its exit
 * status becomes memtrace's).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "proc/procinfo.h"
#include "probe/plan.h"
#include "session/internal.h"
#include "session/session.h"
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

/* Ring buffer callback: queue a lifecycle event for the loop. */
static void on_proc_event(void *ctx, const struct mt_proc_event *e)
{
	struct memtrace *mt = ctx;

	if (mt->nr_pending == mt->cap_pending) {
		size_t cap = mt->cap_pending ? mt->cap_pending * 2 : 64;
		struct mt_proc_event *n = realloc(mt->pending, cap * sizeof(*n));

		if (!n) {
			/* never leave a process stopped */
			if (e->stopped)
				kill((pid_t)e->pid, SIGCONT);
			return;
		}
		mt->pending = n;
		mt->cap_pending = cap;
	}
	mt->pending[mt->nr_pending++] = *e;
}

/* A stack copy from BPF: unwind it now, while the process and its files are there. */
static void on_unwind_event(void *ctx, const void *data, size_t size)
{
	struct memtrace *mt = ctx;

	if (mt->unwinder)
		mt_unwinder__handle(mt->unwinder, data, size);
}

/* -v: what the user-space unwinder did. */
static void log_unwinder(const struct mt_unwinder *u)
{
	const struct mt_unwinder_stats *s;

	if (!u)
		return;
	s = mt_unwinder__stats(u);
	if (s->requests)
		pr_info("unwinder: %llu stack copies: %llu unwound to the outermost frame, %llu "
			"ended at code without usable CFI, %llu at the end of the copy, %llu "
			"failed, %llu skipped (time budget); %llu rules learned",
			(unsigned long long)s->requests, (unsigned long long)s->completed,
			(unsigned long long)s->no_cfi, (unsigned long long)s->short_copy,
			(unsigned long long)s->bad, (unsigned long long)s->skipped,
			(unsigned long long)s->rules);
}

#define ALLOCS_MIN (1U << 20)	/* the least table: 32 MiB */
#define ALLOC_ENTRY 32ULL	/* bytes of an entry (struct mt_alloc) */
#define ALLOC_BLOCK_GUESS 64ULL /* bytes of anonymous memory per live block, at least */

/* MemTotal of /proc/meminfo in bytes, 0 when unknown */
static __u64 host_memory(void)
{
	unsigned long long kib = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

static __u32 pow2_floor(__u64 v)
{
	__u32 p = 1;

	while ((__u64)p * 2 <= v && p < (1U << 26))
		p *= 2;
	return p;
}

/*
 * --max-allocs by default. A table too small loses records (counted as
 * allocs_map_full) and makes every line short; one too large costs kernel
 * memory for nothing. The most: 1/64 of the host's memory (8 M entries,
 * 256 MiB, on a 24 GiB host), what -- and -a take (nothing is known of
 * their processes yet). -p: room for twice the blocks the targets'
 * anonymous memory can hold now (one per 64 bytes of RssAnon), rounded up
 * to a power of two, so a process can grow. Always at least 1 M entries
 * (32 MiB).
 */
static __u32 auto_max_allocs(const struct mt_opts *o)
{
	__u64 host = host_memory(), want = 0, cap;

	cap = host ? pow2_floor(host / 64 / ALLOC_ENTRY) : ALLOCS_MIN;
	if (o->nr_pids) {
		for (size_t i = 0; i < o->nr_pids; i++) {
			struct mt_proc_mem m;

			if (!mt_proc__mem(o->pids[i], &m) && m.rss_anon > 0)
				want += 2 * (__u64)m.rss_anon / ALLOC_BLOCK_GUESS;
		}
		/* the power of two at least want */
		want = want > ALLOCS_MIN ? 2ULL * pow2_floor(want - 1) : ALLOCS_MIN;
	} else {
		want = cap;
	}
	if (want > cap)
		want = cap;
	return want < ALLOCS_MIN ? ALLOCS_MIN : (__u32)want;
}

void mt_session__say_capacity(struct memtrace *mt)
{
	const struct mt_opts *o = mt->opts;

	if (mt->capacity_said)
		return;
	mt->capacity_said = true;
	/* the spill map's bucket array (16 bytes a bucket) is allocated at once, its records on
	 * demand */
	pr_info("live-allocation table: %llu entries, %llu MiB of kernel memory (%s); spill map: "
		"up to %u more records on demand, its index %u MiB",
		(unsigned long long)mt->bpf.nr_allocs,
		(unsigned long long)(mt->bpf.nr_allocs * ALLOC_ENTRY >> 20),
		o->max_allocs ? "--max-allocs"
		: o->nr_pids  ? "sized from the targets' memory"
			      : "sized from the host's memory",
		mt->spill_max, (pow2_floor(2ULL * mt->spill_max - 1) * 16) >> 20);
}

static struct mt_loader_opts loader_opts(const struct mt_opts *o)
{
	struct mt_loader_opts lo = {
	    .min_size = o->min_size,
	    .max_size = o->max_size,
	    .stacks = !o->no_stacks,
	    .unwind_cfi = o->unwind_cfi == MT_WHEN_ON,
	    .ages = o->min_age > 0,
	    .python_depth = o->python_depth,
	    .sample_rate = o->sample_rate,
	    .seed = o->seed,
	    .max_allocs = o->max_allocs ? o->max_allocs : auto_max_allocs(o),
	    .max_sites = o->max_sites,
	    .stack_storage = o->stack_storage,
	    .floor = o->floor,
	    .syscall_tps = o->syscall_tps == MT_WHEN_ON,
	    .verbose = o->verbose > 0,
	    .procs_all = o->all,
	    .growth = o->growth,
	    /* -p, --: the growth programs see every process; only targets are set to growth */
	    .default_tier = !o->growth ? MT_TIER_EXACT
			    : o->all   ? MT_TIER_GROWTH
				       : MT_TIER_NONE,
	};

	return lo;
}

/*
 * SIGINT and SIGTERM are caught wherever memtrace is, not only in the loop:
 * a step that blocks or runs long (a file a target controls, a big debug
 * file) cannot keep memtrace from ending. The handler notes the signal and
 * gives the loop STOP_GRACE seconds to take it, or more while memtrace
 * makes progress (mt_session__progress: a site symbolized, a process
 * attached, an event handled; a busy -a round on a loaded host), up to
 * FINAL_GRACE seconds in all, the final reports included. A step that
 * makes no progress for STOP_GRACE seconds (a blocked open or read), the
 * end of FINAL_GRACE, or a second signal end memtrace at once with an
 * error line (its links go with its descriptors). In -- mode a signal sent to memtrace alone is
 * passed on to the command, which decides (one from the terminal reached it already).
 */
#define STOP_GRACE 1
#define FINAL_GRACE 10

static volatile sig_atomic_t stop_signo; /* the signal that ends the run, or 0 */
static volatile sig_atomic_t signal_cmd; /* -- mode: the command, while it runs */
static volatile sig_atomic_t progress;	 /* bumped by mt_session__progress */
static volatile sig_atomic_t progress_seen, grace_spent;

void mt_session__progress(void)
{
	progress++;
}

static void say(const char *msg)
{
	ssize_t n = write(STDERR_FILENO, msg, strlen(msg));

	(void)n;
}

static void on_stop_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (signal_cmd) {
		if (si->si_code == SI_USER)
			kill((pid_t)signal_cmd, sig);
	} else if (stop_signo) {
		say("memtrace: error: signalled again: exiting without a final report\n");
		_exit(1);
	} else {
		stop_signo = sig;
		progress_seen = progress;
		alarm(STOP_GRACE);
	}
	errno = saved;
}

static void on_alarm(int sig)
{
	if (!stop_signo)
		return;
	grace_spent += STOP_GRACE;
	if (progress != progress_seen && grace_spent < FINAL_GRACE) {
		progress_seen = progress;
		alarm(STOP_GRACE);
		return;
	}
	say("memtrace: error: a signal asked memtrace to stop and a step did not end in time: "
	    "exiting without a final report\n");
	_exit(1);
}

bool mt_session__stopping(void)
{
	return stop_signo != 0;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sa.sa_sigaction = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

/*
 * A closed standard descriptor stays unusable: a descriptor opened later
 * (a BPF map, a target's file) must not take its number and receive the
 * reports. /dev/null read-only makes writes fail (EBADF) as on a closed
 * one; close-on-exec, so a command still starts with it closed.
 */
static void hold_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nfd >= 0 && nfd != fd) {
			dup3(nfd, fd, O_CLOEXEC);
			close(nfd);
		}
	}
}

/*
 * -o FILE: never through a symbolic link (refused), never a file another
 * user can read. A regular file (or none yet) is replaced by a new file,
 * mode 0600, created under a temporary name in the same directory and
 * renamed over it, so no existing file is written through and a reader
 * never sees a half-made one; reports are then appended to it. A device
 * or a FIFO that exists is written as it is (a FIFO waits for a reader;
 * a signal still ends memtrace), and so are memtrace's own descriptors
 * (/dev/fd/N, /proc/self/fd/N, /dev/stdout, /dev/stderr: links, but to
 * what its caller gave it). NULL with errno set.
 */
static FILE *open_output(const char *path)
{
	/* our own descriptors: a shell's >(cmd), /dev/stdout */
	bool own_fd = !strncmp(path, "/dev/fd/", 8) || !strncmp(path, "/proc/self/fd/", 14) ||
		      !strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/stderr");
	char tmp[PATH_MAX];
	struct stat st;
	FILE *f;
	int fd;

	if (own_fd) {
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	} else if (!lstat(path, &st) && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return NULL;
	} else if (!lstat(path, &st) && !S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	} else {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
		if (fd >= 0 && rename(tmp, path)) {
			int err = errno;

			unlink(tmp);
			close(fd);
			errno = err;
			return NULL;
		}
	}
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return f;
}

struct memtrace *memtrace__new(const struct mt_opts *opts)
{
	struct mt_events_ops ops = {
	    .py_stack = mt_session__on_py_stack, .proc = on_proc_event, .unwind = on_unwind_event};
	struct mt_loader_opts lo = loader_opts(opts);
	struct memtrace *mt = calloc(1, sizeof(*mt));
	char *urls = NULL;
	struct rlimit rl;
	sigset_t mask;
	int err;

	if (!mt)
		return NULL;
	mt->opts = opts;
	mt->child_status = -1;
	mt->sfd = -1;
	mt->policy.all = opts->all;
	mt->policy.follow_forks = !opts->no_follow_forks;
	mt->follow_flags = MT_PROC_STOP | (opts->no_follow_forks ? 0 : MT_PROC_FOLLOW);
	hold_std_fds();

	/* the symbolizer keeps every module file open */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* debuginfod only through the symbolizer, each request bounded in time */
	if (getenv("DEBUGINFOD_URLS"))
		urls = strdup(getenv("DEBUGINFOD_URLS"));
	unsetenv("DEBUGINFOD_URLS");

	/* before anything that can block (a FIFO as -o) */
	catch_stop_signals();
	mt->out = opts->live ? NULL : stdout; /* --live: reports go to -o FILE only */
	if (opts->output) {
		mt->out = open_output(opts->output);
		if (!mt->out) {
			err = -errno;
			pr_err("cannot open '%s': %s", opts->output,
			       errno == ELOOP ? "it is a symbolic link" : strerror(errno));
			goto err_out;
		}
	}
	mt->out_cfg.format = opts->format;
	mt->out_cfg.sample_rate = opts->sample_rate;
	if (opts->format == MT_FORMAT_PPROF || opts->format == MT_FORMAT_HTML)
		mt->out_cfg.path = opts->output; /* replaced whole at each report */
	if (opts->format == MT_FORMAT_HTML) {
		/* the page holds every process's latest report */
		mt->out_cfg.html = mt_out_html__new();
		if (!mt->out_cfg.html) {
			err = -ENOMEM;
			goto err_out;
		}
	}
	mt->out_cfg.show_stacks = opts->verbose || opts->group_by == MT_GROUP_STACK;
	if (opts->sample_rate) {
		static char note[96];

		snprintf(note, sizeof(note), "sampled: one allocation per %llu bytes on average",
			 (unsigned long long)opts->sample_rate);
		mt->out_cfg.sampling_note = note;
	}

	/* --live: the view takes the terminal before anything is loaded or spawned */
	if (opts->live) {
		mt->live = mt_live__new();
		err = mt->live ? mt_live__start(mt->live) : -errno;
		if (err) {
			pr_err("--live: cannot use the terminal: %s", strerror(-err));
			goto err_out;
		}
	}

	/*
	 * SIGCHLD arrives through a signalfd, SIGINT and SIGTERM through a
	 * handler (catch_stop_signals); the command gets the default
	 * dispositions and an empty mask back
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	mt->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	err = mt_plan__set_prefix(opts->prefix);
	if (err)
		goto err_out;
	mt->loader = mt_loader__new(&lo, opts->attach_mode);
	if (!mt->loader) {
		err = -errno;
		goto err_out;
	}
	/* -a without --growth: the host statement says what a call costs (mt_host__plan) */
	if (opts->verbose || opts->growth || opts->all) {
		double emulated = 0, stepped, event = 0, fault = 0;

		/* each probe's cost: measured on this machine, never a constant */
		if (!mt_loader__probe_costs(mt->loader, &emulated, &stepped)) {
			mt_plan__set_costs(emulated, stepped);
			if (!opts->growth && opts->verbose)
				pr_info("a probe hit costs ~%.1f us here where the kernel emulates "
					"the probed instruction, ~%.1f us where it single-steps it "
					"(measured now)",
					emulated, stepped);
		}
		if (opts->growth && !mt_loader__growth_cost(mt->loader, &event, &fault))
			pr_info("--growth: no allocator probe (an allocator call costs nothing; "
				"exact tracing would trap on each, ~%.1f us here); a new page of a "
				"traced process costs ~%.1f us more to record than its fault "
				"(~%.1f us) (measured now)",
				emulated, event > 0 ? event : 0, fault);
	}
	err = mt_loader__maps(mt->loader, &mt->bpf);
	if (err) {
		pr_err("mapping BPF maps: %s", strerror(-err));
		goto err_out;
	}
	mt->spill_max = lo.max_allocs / 4 < 1024 ? 1024 : lo.max_allocs / 4;
	mt->sym = mt_sym_native__new();
	mt_sym_native__use_debuginfod(mt->sym, urls);
	free(urls);
	urls = NULL;
	mt->pysym = mt_sym_python__new();
	mt->stacks = mt_stack_cache__new();
	mt->unwinder = mt_unwinder__new(&mt->bpf);
	mt->events = mt_events__new(&mt->bpf, &ops, mt);
	mt->sites = mt_site_cache__new();
	if (!mt->sym || !mt->pysym || !mt->stacks || !mt->unwinder || !mt->events || !mt->sites) {
		err = -errno;
		pr_err("symbolizer: %s", strerror(errno));
		goto err_out;
	}
	if (opts->pymalloc_off)
		setenv("PYTHONMALLOC", "malloc", 1); /* the command inherits it */
	err = mt_session__start(mt);
	if (err)
		goto err_out;
	return mt;
err_out:
	free(urls);
	memtrace__free(mt);
	errno = -err;
	return NULL;
}

/* -- mode: has the command ended? Its status kept, its target retired. 0 or -errno. */
static int poll_command(struct memtrace *mt)
{
	struct target *t = mt_targets__find(&mt->targets, mt->cmd_pid, 0);
	int status;

	if (t && !t->command)
		t = NULL; /* a reused pid: the command is gone */
	if (!mt_spawn__reap(mt->cmd_pid, &status))
		return 0;
	mt->child_status = status;
	mt->cmd_pid = signal_cmd = 0;
	/* its exit event may be on its way: do not wait for it */
	return t ? mt_target__retire(mt, t, true) : 0;
}

/* --live: the view stays up after the targets went, until q. */
static bool live_holds(const struct memtrace *mt)
{
	return mt->live && !mt->live_quits;
}

/*
 * --live: the keys the terminal has. q ends the run as SIGINT does:
 * returns 1 to end it now (after a final report). In -- mode the command
 * decides, as with ^C: it gets SIGINT (a second q: SIGKILL).
 */
static int on_live_keys(struct memtrace *mt)
{
	if (mt_live__input(mt->live) != MT_LIVE_QUIT)
		return 0;
	if (!mt->cmd_pid)
		return ++mt->live_quits;
	kill(mt->cmd_pid, mt->live_quits++ ? SIGKILL : SIGINT);
	mt_live__status(mt->live, "memtrace: waiting for the command to exit (q again kills it)");
	return 0;
}

/* -a: the processes to report on, brought up to date, then their reports. */
static int host_round(struct memtrace *mt, const struct mt_snapshot *snap, bool final)
{
	struct mt_host_row *rows = NULL;
	size_t nr = 0;
	int err;

	err = mt_host__discover(mt, snap);
	if (!err)
		err = mt_host__rank(mt, snap, &rows, &nr);
	for (size_t i = 0; i < nr; i++)
		mt_target__refresh(mt, rows[i].t);
	if (!err)
		err = mt_session__report_host(mt, snap, rows, nr, final);
	free(rows);
	return err;
}

int mt_session__round(struct memtrace *mt, bool final)
{
	struct mt_snapshot snap;
	int err;

	if (!mt->opts->all)
		mt_session__refresh(mt);
	err = mt_session__snapshot(mt, &snap);
	if (err)
		return err;
	if (mt->opts->all) {
		err = host_round(mt, &snap, final);
	} else {
		/* the stacks of targets that went (a --min-age snapshot has not every site) */
		if (mt->collect && !mt->opts->min_age &&
		    mt_reclaim__gc_stacks(&mt->bpf, &snap, mt->gone, mt->nr_gone) > 0)
			mt_stack_cache__clear(mt->stacks);
		mt->collect = false;
		mt_session__purge(mt); /* and their entries */
		err = mt_session__report_round(mt, &snap, final);
	}
	mt_snapshot__free(&snap);
	mt->reports++;
	return err;
}

/*
 * -- mode once memtrace stops reporting (the last report of --count, or an
 * error): the probes and the lifecycle tracepoints go, processes stopped
 * for memtrace are let go, and the command runs to its end, its signals and
 * stops passed through (a signal sent to memtrace alone is passed on). Its
 * wait status is kept for the exit code.
 */
static void wait_command(struct memtrace *mt)
{
	mt_loader__quiesce(mt->loader); /* then nothing stops after the last read */
	if (mt->events)
		mt_events__consume(mt->events);
	mt_session__resume_all(mt);
	mt_events__free(mt->events);
	mt->events = NULL;
	mt_loader__free(mt->loader);
	mt->loader = NULL;
	while (mt->cmd_pid) {
		struct pollfd pfd = {.fd = mt->sfd, .events = POLLIN};
		struct signalfd_siginfo si;
		int status;

		signal_cmd = mt->cmd_pid; /* signals sent to memtrace go to it */
		/* its exit comes as SIGCHLD; poll at least every 100 ms */
		poll(&pfd, 1, 100);
		while (read(mt->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		if (mt_spawn__reap(mt->cmd_pid, &status)) {
			mt->child_status = status;
			mt->cmd_pid = signal_cmd = 0;
		}
	}
}

int memtrace__run(struct memtrace *mt)
{
	const struct mt_opts *o = mt->opts;
	double next = now_mono() + o->interval;
	int err = 0;

	while (o->all || mt_session__live(mt) || mt->cmd_pid || live_holds(mt)) {
		struct pollfd pfds[3] = {
		    {.fd = mt->sfd, .events = POLLIN},
		    {.fd = mt_events__fd(mt->events), .events = POLLIN},
		    {.fd = mt_live__fd(mt->live), .events = POLLIN}, /* -1 (ignored) but --live */
		};
		double wait = next - now_mono();
		int timeout = wait > 0 ? (int)ceil(wait * 1000) : 0;
		struct signalfd_siginfo si;
		int n;

		/* the command's exit comes as SIGCHLD; poll it at least every 100 ms */
		if (mt->cmd_pid && timeout > 100)
			timeout = 100;
		signal_cmd = mt->cmd_pid;
		if (stop_signo && mt->cmd_pid) {
			/* came before the command ran: it is the command's to take */
			alarm(0);
			kill(mt->cmd_pid, (int)stop_signo);
			stop_signo = 0;
		}
		if (stop_signo) {
			/* the loop took it: the final reports (on_alarm bounds them) */
			mt_session__progress();
			return mt_session__round(mt, true);
		}
		n = poll(pfds, 3, timeout);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		while (read(mt->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			; /* SIGCHLD: the command is polled below */
		mt_session__progress();
		if (stop_signo)
			continue;
		if (pfds[2].revents && on_live_keys(mt))
			return mt_session__round(mt, true);
		mt_events__consume(mt->events);
		err = mt_session__lifecycle(mt);
		if (!err && mt->cmd_pid)
			err = poll_command(mt);
		if (err)
			break;
		if (!o->all && !mt_session__live(mt) && !mt->cmd_pid) {
			if (!live_holds(mt))
				break;
			if (!mt->live_idle)
				mt_live__status(mt->live, "memtrace: every target exited; q quits");
			mt->live_idle = true;
			next = now_mono() + o->interval; /* nothing to report on */
			continue;
		}
		if (now_mono() >= next) {
			bool last = o->count && mt->reports + 1 >= o->count;

			err = mt_session__round(mt, last);
			if (err || last)
				break;
			next += o->interval;
			if (next < now_mono())
				next = now_mono() + o->interval;
		}
	}
	/* the command is not memtrace's to end: it runs to its end */
	if (mt->cmd_pid)
		wait_command(mt);
	return err;
}

int memtrace__exit_code(const struct memtrace *mt)
{
	if (mt->opts->cmd && mt->child_status >= 0)
		return mt_spawn__exit_code(mt->child_status);
	return 0;
}

void memtrace__free(struct memtrace *mt)
{
	if (!mt)
		return;
	/* the terminal back first (messages held while the view was up follow) */
	mt_live__free(mt->live);
	/* -- mode: the command's exit status, after its final report */
	if (mt->cmd_pid && mt->child_status < 0) {
		int st;

		if (waitpid(mt->cmd_pid, &st, 0) == mt->cmd_pid)
			mt->child_status = st;
	}
	/* processes stopped at a fork or exec memtrace has not handled */
	mt_loader__quiesce(mt->loader);
	if (mt->events)
		mt_events__consume(mt->events);
	mt_session__resume_all(mt);
	mt_targets__free(&mt->targets);
	mt_events__free(mt->events);
	log_unwinder(mt->unwinder);
	mt_unwinder__free(mt->unwinder);
	mt_sym_native__free(mt->sym);
	mt_sym_python__free(mt->pysym);
	mt_stack_cache__free(mt->stacks);
	mt_site_cache__free(mt->sites);
	mt_loader__free(mt->loader);
	free(mt->pending);
	free(mt->gone);
	free(mt->no_lines_said);
	if (mt->sfd >= 0)
		close(mt->sfd);
	if (mt->out && mt->out != stdout)
		fclose(mt->out);
	mt_out_html__free(mt->out_cfg.html);
	free(mt);
}
