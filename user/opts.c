// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"
#include "opts.h"
#include "mt_python.h"

/* the git description at build time (the Makefile passes it), else "unknown" */
#ifndef MT_VERSION
#define MT_VERSION "unknown"
#endif
const char *argp_program_version = "memtrace " MT_VERSION;
const char *argp_program_bug_address = NULL;

static const char doc[] =
    "Find memory leaks in running processes, from eBPF uprobes on their\n"
    "allocators. Reports the bytes still outstanding per source line, growing\n"
    "lines first, every interval and once more when the targets exit.\n"
    "No restart, no injection.\n"
    "\v"
    "EXAMPLES:\n"
    "  memtrace -p 1234               pid 1234 every 5 s until it exits\n"
    "  memtrace -p 1234,5678 10 3     two processes, every 10 s, 3 reports\n"
    "  memtrace -- ./server -p 80     a command, traced from its first insn\n"
    "  memtrace --group-by stack -p 1234    whole call stacks\n"
    "  memtrace --min-age 60 -p 1234  only allocations a minute old or more\n"
    "  memtrace -a 30                 every process on the host: resident growth\n"
    "  memtrace --growth -p 1234      growth by line, no allocator probe (production)\n"
    "  memtrace -a --exact 30         every process's allocator calls, sampled\n"
    "  memtrace --format json -o out.ndjson -p 1234   one JSON object a report\n"
    "  memtrace --format pprof -o heap.pb.gz -p 1234  for go tool pprof\n"
    "  memtrace --pymalloc off -- python3 app.py   every Python object\n"
    "  memtrace --format folded -o app.folded -p 1234   stacks for flame graphs\n"
    "  memtrace --format html -o app.html -p 1234   a flame graph to open in a browser\n"
    "  memtrace report out.ndjson --format folded   a saved report, again (no root)\n"
    "  memtrace diff before.ndjson after.ndjson     what grew between two saved reports\n"
    "  memtrace --live -p 1234        a top-like view: b/c/g sort, space pause, q quit\n"
    "  memtrace --alloc-fn xmalloc -p 1234  the lines that call xmalloc\n"
    "  memtrace daemon     watch every process; trace the ones that grow\n"
    "\n"
    "Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE). Exit status: with --,\n"
    "the command's; else 0; 64 for a usage error, 1 for any other error.";

static const char args_doc[] =
    "-p PID[,PID...] [interval [count]]\n-a [interval [count]]\n-- COMMAND [ARGS...]\n"
    "report FILE [--format FMT] [-o OUT] [--all]\n"
    "diff A B [--format FMT] [--group-by KEY]\n"
    "daemon [OPTIONS] (see memtrace daemon --help)";

enum {
	OPT_INTERVAL = 1000,
	OPT_COUNT,
	OPT_TOP,
	OPT_GROUP_BY,
	OPT_MIN_AGE,
	OPT_MIN_SIZE,
	OPT_MAX_SIZE,
	OPT_FORMAT,
	OPT_MAX_ALLOCS,
	OPT_MAX_STACKS,
	OPT_STACK_STORAGE,
	OPT_NO_STACKS,
	OPT_UNWIND,
	OPT_ATTACH_MODE,
	OPT_FLOOR,
	OPT_SAMPLE_RATE,
	OPT_SEED,
	OPT_TOP_PROCESSES,
	OPT_PYTHON_ALLOCATORS,
	OPT_PYMALLOC,
	OPT_PY_OBJECTS,
	OPT_PYTHON_DEPTH,
	OPT_SYSCALL_TPS,
	OPT_NO_FOLLOW_FORKS,
	OPT_LIVE,
	OPT_ALLOC_FN,
	OPT_PREFIX,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_GROWTH,
	OPT_EXACT,
};

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Targets:", 1},
    {"pid", 'p', "PID[,PID...]", 0, "Trace these running processes", 1},
    {"all", 'a', NULL, 0,
     "Trace every process on the host (--growth by default; with --exact: those that map a "
     "C library, sampled by default: --sample-rate 512K)",
     1},
    {"growth", OPT_GROWTH, NULL, 0,
     "Attribute resident memory growth (new anonymous pages, their releases) to lines, "
     "with no allocator probe: cost follows growth, not allocation rate (the -a default)",
     1},
    {"exact", OPT_EXACT, "PID[,PID...]", OPTION_ARG_OPTIONAL,
     "Probe the allocators: every allocation (or one per --sample-rate bytes); the -p and "
     "-- default. With --growth and PIDs: those -p targets exact, the others growth (one "
     "memtrace, per-process tiers)",
     1},
    {"top-processes", OPT_TOP_PROCESSES, "N", 0,
     "With -a: processes reported per interval, largest first (default 10, 0 = all)", 1},
    {"no-follow-forks", OPT_NO_FOLLOW_FORKS, NULL, 0,
     "Trace only the processes named, not the children they fork (followed by default: "
     "each child is traced from its first instruction and reported under its own pid)",
     1},
    {NULL, 0, NULL, 0, "Reports:", 2},
    {"interval", OPT_INTERVAL, "SEC", 0, "Seconds between reports (default 5)", 2},
    {"count", OPT_COUNT, "N", 0, "Exit after N reports (default: when the targets exit)", 2},
    {"top", OPT_TOP, "N", 0, "Rows per report (default 10, 0 = all)", 2},
    {"group-by", OPT_GROUP_BY, "KEY", 0, "line (default), function, file or stack", 2},
    {"format", OPT_FORMAT, "FMT", 0,
     "text (default), json (one object per line), folded (stacks for flame graphs), "
     "pprof (-o FILE: gzipped profile.proto) or html (-o FILE: a flame graph page)",
     2},
    {"output", 'o', "FILE", 0, "Write reports to FILE instead of stdout", 2},
    {"live", OPT_LIVE, NULL, 0,
     "A top-like view in the terminal (keys: b/c/g sort, space pause, </> process, q quit); "
     "reports go to -o FILE only; --interval 1 and --top 0 unless given",
     2},
    {"verbose", 'v', NULL, 0, "Show stacks and attach details (-vv: libbpf too)", 2},
    {"alloc-fn", OPT_ALLOC_FN, "NAME", 0,
     "The program's own allocation wrapper (xmalloc, zmalloc...; a glob pattern, "
     "repeatable): its caller is the line",
     2},
    {"prefix", OPT_PREFIX, "PFX", 0,
     "Also probe a jemalloc built with prefixed names (PFXmalloc, PFXfree, PFXmallocx...)", 2},
    {NULL, 0, NULL, 0, "Filters:", 3},
    {"min-age", OPT_MIN_AGE, "SEC", 0, "Only allocations at least SEC old", 3},
    {"min-size", OPT_MIN_SIZE, "BYTES", 0, "Ignore allocations smaller than BYTES (K/M/G)", 3},
    {"max-size", OPT_MAX_SIZE, "BYTES", 0, "Ignore allocations larger than BYTES (K/M/G)", 3},
    {"include", OPT_INCLUDE, "GLOB", 0,
     "Report only allocations whose line is in a file matching GLOB (fnmatch, as "
     "tracemalloc's Filter; repeatable: any matches)",
     3},
    {"exclude", OPT_EXCLUDE, "GLOB", 0,
     "Leave out allocations whose line is in a file matching GLOB (repeatable)", 3},
    {NULL, 0, NULL, 0, "Python:", 4},
    {"python-allocators", OPT_PYTHON_ALLOCATORS, NULL, 0,
     "Also probe CPython's PyMem_Raw, PyMem and PyObject domains (small objects; costly "
     "where their entries are single-stepped)",
     4},
    {"python-depth", OPT_PYTHON_DEPTH, "N", 0,
     "Python frames walked per allocation (default and most 32; fewer is cheaper)", 4},
    {"pymalloc", OPT_PYMALLOC, "on|off", 0,
     "With --: off runs the command with PYTHONMALLOC=malloc, so every object reaches "
     "libc (complete, also on LTO builds)",
     4},
    {"py-objects", OPT_PY_OBJECTS, "stop", OPTION_ARG_OPTIONAL,
     "Add live Python objects by type (count, bytes, growth) to each report, read from "
     "the interpreter's GC lists while it runs; =stop stops the process for the walk "
     "(exact counts; the pause is stated)",
     4},
    {NULL, 0, NULL, 0, "Sampling (production):", 5},
    {"sample-rate", OPT_SAMPLE_RATE, "BYTES", 0,
     "Record one allocation per BYTES allocated on average (Poisson over bytes, "
     "K/M suffixes; 0 = every allocation, the default); estimates are unbiased",
     5},
    {"seed", OPT_SEED, "N", 0, "Seed the sampling draws (reproducible runs)", 5},
    {NULL, 0, NULL, 0, "Capacity and tuning:", 6},
    {"max-allocs", OPT_MAX_ALLOCS, "N", 0,
     "Live allocations tracked (default: sized from the -p targets and the host's memory, "
     "at least 1048576 (a 32 MiB table); memtrace says at start what it reserves)",
     6},
    {"max-stacks", OPT_MAX_STACKS, "N", 0, "Distinct allocation sites (default 65536)", 6},
    {"stack-storage", OPT_STACK_STORAGE, "N", 0,
     "Entries of each stack map, native and Python (default 65536)", 6},
    {"no-stacks", OPT_NO_STACKS, NULL, 0, "Record only the calling line, no deeper stack", 6},
    {"unwind", OPT_UNWIND, "HOW", 0,
     "Native stacks by cfi (DWARF CFI rules, learned lazily; code without frame pointers "
     "too; the default but with -a) or fp (frame pointers only; the -a default)",
     6},
    {"attach-mode", OPT_ATTACH_MODE, "MODE", 0,
     "auto (default), session, multi or perf: how probes attach", 6},
    {"syscall-tracepoints", OPT_SYSCALL_TPS, "WHEN", 0,
     "auto (default: on with -a), on or off: see mmap, munmap and mremap at their system "
     "calls instead of with uprobes (no trap for the target, but while attached every "
     "system call of every process takes the kernel's slower, traced path)",
     6},
    {"floor", OPT_FLOOR, "KIND", 0,
     "Benchmarking: attach empty probes at the same places (return: entry and return "
     "traps as full tracing has them; entry: entry traps only); session mode only",
     6},
    {},
};

int mt_parse_size(const char *s, __u64 *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024, end++;
		break;
	case 'm':
	case 'M':
		v *= 1024 * 1024, end++;
		break;
	case 'g':
	case 'G':
		v *= 1024.0 * 1024 * 1024, end++;
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' ? 1 : 0;
	if (*end == 'B')
		end++;
	if (*end || v > 18e18)
		return -EINVAL;
	*out = (__u64)v;
	return 0;
}

/* the longest interval or age the command line takes */
#define MAX_SECONDS 1e7

int mt_parse_seconds(const char *s, double *out, bool allow_zero, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || (!allow_zero && v == 0) ||
	    v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int mt_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "PID[,PID...]" appended to pids (*nr of them, at most MT_MAX_PIDS). */
static int parse_pids(pid_t *pids, size_t *nr, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long pid;

		if (mt_parse_ulong(tok, INT_MAX, &pid) || pid == 0) {
			pr_err("invalid pid '%s'", tok);
			err = -EINVAL;
			goto cleanup;
		}
		if (*nr == MT_MAX_PIDS) {
			pr_err("too many pids (at most %d)", MT_MAX_PIDS);
			err = -E2BIG;
			goto cleanup;
		}
		pids[(*nr)++] = (pid_t)pid;
	}
	if (!*nr) {
		pr_err("no pid in '%s'", arg);
		err = -EINVAL;
	}
cleanup:
	free(copy);
	return err;
}

struct parse_state {
	struct mt_opts *opts;
	int nr_positional;
	int err;
	bool rate_set;
	bool interval_set, top_set;
	bool growth_set, exact_set;
};

#define BAD(fmt, ...)                       \
	do {                                \
		pr_err(fmt, ##__VA_ARGS__); \
		ps->err = -EINVAL;          \
		return -EINVAL;             \
	} while (0)

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct mt_opts *o = ps->opts;
	unsigned long v;
	int err;

	switch (key) {
	case 'p':
		err = parse_pids(o->pids, &o->nr_pids, arg);
		if (err) {
			ps->err = err;
			return err;
		}
		break;
	case 'a':
		o->all = true;
		break;
	case OPT_GROWTH:
		o->growth = true;
		ps->growth_set = true;
		break;
	case OPT_EXACT:
		if (arg) {
			err = parse_pids(o->exact_pids, &o->nr_exact_pids, arg);
			if (err) {
				ps->err = err;
				return err;
			}
			break;
		}
		ps->exact_set = true;
		break;
	case OPT_TOP_PROCESSES:
		if (mt_parse_ulong(arg, 1UL << 20, &v))
			BAD("invalid --top-processes '%s': a non-negative integer", arg);
		o->top_processes = v;
		break;
	case OPT_INTERVAL:
		if (mt_parse_seconds(arg, &o->interval, false, MAX_SECONDS))
			BAD("invalid --interval '%s': a positive number of seconds", arg);
		ps->interval_set = true;
		break;
	case OPT_COUNT:
		if (mt_parse_ulong(arg, LONG_MAX, &v) || !v)
			BAD("invalid --count '%s': a positive integer", arg);
		o->count = (long)v;
		break;
	case OPT_TOP:
		if (mt_parse_ulong(arg, 1UL << 30, &v))
			BAD("invalid --top '%s': a non-negative integer", arg);
		o->top = v;
		ps->top_set = true;
		break;
	case OPT_GROUP_BY:
		if (!strcmp(arg, "line"))
			o->group_by = MT_GROUP_LINE;
		else if (!strcmp(arg, "function"))
			o->group_by = MT_GROUP_FUNCTION;
		else if (!strcmp(arg, "file"))
			o->group_by = MT_GROUP_FILE;
		else if (!strcmp(arg, "stack"))
			o->group_by = MT_GROUP_STACK;
		else
			BAD("invalid --group-by '%s': line, function, file or stack", arg);
		break;
	case OPT_MIN_AGE:
		if (mt_parse_seconds(arg, &o->min_age, true, MAX_SECONDS))
			BAD("invalid --min-age '%s': seconds", arg);
		break;
	case OPT_MIN_SIZE:
		if (mt_parse_size(arg, &o->min_size))
			BAD("invalid --min-size '%s': bytes, K/M/G suffixes allowed", arg);
		break;
	case OPT_MAX_SIZE:
		if (mt_parse_size(arg, &o->max_size) || !o->max_size)
			BAD("invalid --max-size '%s': positive bytes, K/M/G suffixes allowed", arg);
		break;
	case OPT_FORMAT:
		if (mt_format__parse(arg, &o->format)) {
			char names[128];

			BAD("invalid --format '%s': %s", arg,
			    mt_format__list(names, sizeof(names)));
		}
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_LIVE:
		o->live = true;
		break;
	case OPT_INCLUDE:
		if (o->nr_include == MT_AGG_MAX_FILTERS)
			BAD("too many --include patterns (at most %d)", MT_AGG_MAX_FILTERS);
		o->include[o->nr_include++] = arg;
		break;
	case OPT_EXCLUDE:
		if (o->nr_exclude == MT_AGG_MAX_FILTERS)
			BAD("too many --exclude patterns (at most %d)", MT_AGG_MAX_FILTERS);
		o->exclude[o->nr_exclude++] = arg;
		break;
	case 'v':
		o->verbose++;
		break;
	case OPT_MAX_ALLOCS:
		if (mt_parse_ulong(arg, 1UL << 26, &v) || v < 1024)
			BAD("invalid --max-allocs '%s': 1024 to 67108864", arg);
		o->max_allocs = v;
		break;
	case OPT_MAX_STACKS:
		if (mt_parse_ulong(arg, 1UL << 24, &v) || v < 64)
			BAD("invalid --max-stacks '%s': 64 to 16777216", arg);
		o->max_sites = v;
		break;
	case OPT_STACK_STORAGE:
		if (mt_parse_ulong(arg, 1UL << 22, &v) || v < 64)
			BAD("invalid --stack-storage '%s': 64 to 4194304", arg);
		o->stack_storage = v;
		break;
	case OPT_NO_STACKS:
		o->no_stacks = true;
		break;
	case OPT_ALLOC_FN:
		if (!*arg || o->nr_alloc_fns == MT_MAX_ALLOC_FNS)
			BAD("invalid --alloc-fn '%s': a function name or glob pattern, at most %d",
			    arg, MT_MAX_ALLOC_FNS);
		o->alloc_fns[o->nr_alloc_fns++] = arg;
		break;
	case OPT_PREFIX:
		if (!*arg || strlen(arg) > 32 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(arg))
			BAD("invalid --prefix '%s': letters, digits and _ (at most 32)", arg);
		o->prefix = arg;
		break;
	case OPT_UNWIND:
		if (!strcmp(arg, "cfi"))
			o->unwind_cfi = MT_WHEN_ON;
		else if (!strcmp(arg, "fp"))
			o->unwind_cfi = MT_WHEN_OFF;
		else
			BAD("invalid --unwind '%s': cfi or fp", arg);
		break;
	case OPT_NO_FOLLOW_FORKS:
		o->no_follow_forks = true;
		break;
	case OPT_ATTACH_MODE:
		if (!strcmp(arg, "auto"))
			o->attach_mode = MT_ATTACH_AUTO;
		else if (!strcmp(arg, "session"))
			o->attach_mode = MT_ATTACH_SESSION;
		else if (!strcmp(arg, "multi"))
			o->attach_mode = MT_ATTACH_MULTI;
		else if (!strcmp(arg, "perf"))
			o->attach_mode = MT_ATTACH_PERF;
		else
			BAD("invalid --attach-mode '%s': auto, session, multi or perf", arg);
		break;
	case OPT_SYSCALL_TPS:
		if (!strcmp(arg, "auto"))
			o->syscall_tps = MT_WHEN_AUTO;
		else if (!strcmp(arg, "on"))
			o->syscall_tps = MT_WHEN_ON;
		else if (!strcmp(arg, "off"))
			o->syscall_tps = MT_WHEN_OFF;
		else
			BAD("invalid --syscall-tracepoints '%s': auto, on or off", arg);
		break;
	case OPT_PYTHON_ALLOCATORS:
		o->python_allocators = true;
		break;
	case OPT_PYTHON_DEPTH:
		if (mt_parse_ulong(arg, MT_PY_MAX_DEPTH, &v) || !v)
			BAD("invalid --python-depth '%s': 1 to %d", arg, MT_PY_MAX_DEPTH);
		o->python_depth = v;
		break;
	case OPT_PYMALLOC:
		if (!strcmp(arg, "off"))
			o->pymalloc_off = true;
		else if (!strcmp(arg, "on"))
			o->pymalloc_off = false;
		else
			BAD("invalid --pymalloc '%s': on or off", arg);
		break;
	case OPT_PY_OBJECTS:
		if (!arg)
			o->py_objects = 1;
		else if (!strcmp(arg, "stop"))
			o->py_objects = 2;
		else
			BAD("invalid --py-objects='%s': nothing or stop", arg);
		break;
	case OPT_SAMPLE_RATE:
		if (mt_parse_size(arg, &o->sample_rate) || o->sample_rate > (1ULL << 40))
			BAD("invalid --sample-rate '%s': bytes (K/M/G suffixes), 0 to 1T", arg);
		ps->rate_set = true;
		break;
	case OPT_SEED:
		if (mt_parse_ulong(arg, ULONG_MAX, &v))
			BAD("invalid --seed '%s'", arg);
		o->seed = v;
		break;
	case OPT_FLOOR:
		if (!strcmp(arg, "return"))
			o->floor = MT_FLOOR_RETURN;
		else if (!strcmp(arg, "entry"))
			o->floor = MT_FLOOR_ENTRY;
		else
			BAD("invalid --floor '%s': return or entry", arg);
		break;
	case ARGP_KEY_ARG:
		/* everything after "--" is the command */
		if (state->quoted && state->next - 1 >= state->quoted) {
			o->cmd = &state->argv[state->next - 1];
			state->next = state->argc;
			break;
		}
		if (ps->nr_positional == 0) {
			if (mt_parse_seconds(arg, &o->interval, false, MAX_SECONDS))
				BAD("invalid interval '%s': a positive number of seconds", arg);
			ps->interval_set = true;
		} else if (ps->nr_positional == 1) {
			if (mt_parse_ulong(arg, LONG_MAX, &v) || !v)
				BAD("invalid count '%s': a positive integer", arg);
			o->count = (long)v;
		} else {
			BAD("unexpected argument '%s' (a command goes after --)", arg);
		}
		ps->nr_positional++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

void mt_opts__defaults(struct mt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->interval = 5;
	o->top = 10;
	o->top_processes = 10;
	o->python_depth = MT_PY_MAX_DEPTH;
	o->max_allocs = 0; /* sized at start (session.c) */
	o->max_sites = 1 << 16;
	o->stack_storage = 1 << 16;
}

int mt_opts__parse(struct mt_opts *o, int argc, char **argv)
{
	static const struct argp argp = {options, parse_arg, args_doc, doc};
	struct parse_state ps = {.opts = o};
	int err;

	mt_opts__defaults(o);

	err = argp_parse(&argp, argc, argv, 0, NULL, &ps);
	if (ps.err)
		return ps.err;
	if (err) {
		/* argp printed its usage message already */
		return -EINVAL;
	}
	if (!o->nr_pids && !o->cmd && !o->all) {
		pr_err("nothing to trace: give -p PID, -a or -- COMMAND (see --help)");
		return -EINVAL;
	}
	if (!!o->nr_pids + !!o->cmd + o->all > 1) {
		pr_err("give one of -p, -a or a command");
		return -EINVAL;
	}
	if (o->pymalloc_off && !o->cmd) {
		pr_err("--pymalloc=off works only when memtrace starts the command (--)");
		return -EINVAL;
	}
	if (ps.growth_set && ps.exact_set) {
		pr_err("give one of --growth and --exact");
		return -EINVAL;
	}
	if (o->all && !ps.exact_set && !ps.rate_set)
		o->growth = true;
	for (size_t i = 0; i < o->nr_exact_pids; i++) {
		bool listed = false;

		for (size_t k = 0; k < o->nr_pids; k++)
			listed |= o->pids[k] == o->exact_pids[i];
		if (!o->growth || !listed) {
			pr_err("--exact=PIDS names -p targets to trace exactly under --growth");
			return -EINVAL;
		}
	}
	if (o->growth &&
	    (ps.rate_set || o->floor || o->python_allocators || o->min_size || o->max_size)) {
		pr_err("--growth records pages, not allocator calls: --sample-rate, --floor, "
		       "--python-allocators, --min-size and --max-size need --exact");
		return -EINVAL;
	}
	if (o->all && !o->growth && !ps.rate_set)
		o->sample_rate = 512 * 1024;
	if (o->syscall_tps == MT_WHEN_AUTO)
		o->syscall_tps = o->all && !o->growth ? MT_WHEN_ON : MT_WHEN_OFF;
	/*
	 * -a --exact: every process's new paths would ask the unwinder at allocation
	 * rate; frame pointers unless asked. Growth events are rare: CFI
	 */
	if (o->unwind_cfi == MT_WHEN_AUTO)
		o->unwind_cfi = o->all && !o->growth ? MT_WHEN_OFF : MT_WHEN_ON;
	if (o->floor && o->attach_mode != MT_ATTACH_AUTO && o->attach_mode != MT_ATTACH_SESSION) {
		pr_err("--floor needs session links (--attach-mode session)");
		return -EINVAL;
	}
	if (o->format == MT_FORMAT_PPROF && !o->output) {
		pr_err(
		    "--format pprof writes a binary file: give -o FILE (replaced at each report)");
		return -EINVAL;
	}
	if (o->format == MT_FORMAT_HTML && !o->output) {
		pr_err("--format html writes a page: give -o FILE (replaced at each report)");
		return -EINVAL;
	}
	if (o->live && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		pr_err("--live draws on a terminal: stdin and stdout must be one (to save reports "
		       "instead: -o FILE)");
		return -EINVAL;
	}
	if (o->live && !ps.interval_set)
		o->interval = 1;
	if (o->live && !ps.top_set)
		o->top = 0; /* every row: the view sorts and scrolls them */
	if (o->max_size && o->min_size > o->max_size) {
		pr_err("--min-size is larger than --max-size");
		return -EINVAL;
	}
	return 0;
}
