/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Command line -> struct mt_opts. No globals: the struct is passed down. */
#ifndef MT_OPTS_H
#define MT_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "report/aggregate.h"
#include "report/report.h"
#include "output/output.h"
#include "kernel/loader.h"

#define MT_MAX_PIDS 64

/*
 * System call tracepoints for mmap, munmap and mremap: no trap for the
 * traced process, but while attached every system call on the host takes
 * the kernel's traced path. auto: on with -a (the whole host is traced
 * anyway), off for -p and --.
 */
enum mt_when {
	MT_WHEN_AUTO = 0,
	MT_WHEN_ON,
	MT_WHEN_OFF,
};

#define MT_MAX_ALLOC_FNS 32

struct mt_opts {
	pid_t pids[MT_MAX_PIDS];
	size_t nr_pids;
	char **cmd; /* argv of the command to run, NULL-terminated, or NULL */
	bool all;   /* -a: every process on the host */
	/*
	 * --growth: resident anonymous growth by page faults, no allocator
	 * probe (the -a default; --exact turns it off)
	 */
	bool growth;
	/* --exact=PIDS with --growth: these -p targets are traced exactly */
	pid_t exact_pids[MT_MAX_PIDS];
	size_t nr_exact_pids;
	bool no_follow_forks; /* children of targets are not targets */
	size_t top_processes; /* -a: processes reported per interval */
	double interval;      /* seconds between reports */
	long count;	      /* reports before exiting, 0 = until the targets exit */
	size_t top;	      /* rows per report, 0 = all */
	enum mt_group_by group_by;
	double min_age;		  /* seconds; 0 = off */
	__u64 min_size, max_size; /* bytes; max 0 = no limit */
	enum mt_format format;
	const char *output; /* -o FILE, NULL = stdout */
	bool live;	    /* --live: the terminal view; reports to -o FILE only */
	int verbose;
	__u32 max_allocs, max_sites, stack_storage;
	bool no_stacks;
	enum mt_when unwind_cfi; /* --unwind: CFI rules (ON), frame pointers (OFF); AUTO resolved */
	enum mt_attach_mode attach_mode;
	enum mt_floor floor;
	__u64 sample_rate;	  /* bytes, 0 = record everything */
	__u64 seed;		  /* sampling PRNG seed, 0 = random */
	bool python_allocators;	  /* probe PyMem_Raw / PyMem / PyObject too */
	__u32 python_depth;	  /* Python frames walked per allocation */
	bool pymalloc_off;	  /* -- mode: run with PYTHONMALLOC=malloc */
	int py_objects;		  /* --py-objects: 0 off, 1 racy walk, 2 stop the process */
	enum mt_when syscall_tps; /* mmap, munmap, mremap by tracepoints (else uprobes) */
	/* --alloc-fn: the program's own allocation wrappers (glob patterns), skipped to their
	 * caller */
	char *alloc_fns[MT_MAX_ALLOC_FNS];
	size_t nr_alloc_fns;
	const char *prefix; /* --prefix: a jemalloc built with prefixed names (je_malloc...) */
	/* --include / --exclude GLOB: file filters of the reports (report/aggregate.h) */
	const char *include[MT_AGG_MAX_FILTERS], *exclude[MT_AGG_MAX_FILTERS];
	size_t nr_include, nr_exclude;
};

/* Every option at its default (nothing to trace yet). */
void mt_opts__defaults(struct mt_opts *o);

/*
 * Parse argv into opts. --syscall-tracepoints auto is resolved here: on
 * with -a, off otherwise. Returns 0, or a negative errno after printing one
 * "memtrace: error: ..." line; argp itself exits for --help/--usage.
 */
int mt_opts__parse(struct mt_opts *opts, int argc, char **argv);

/* "4096", "4K", "1.5M", "2G" -> bytes. 0 or -EINVAL. */
int mt_parse_size(const char *s, __u64 *out);
/* Seconds, a finite decimal in 0..max (0 only with allow_zero). 0 or -EINVAL. */
int mt_parse_seconds(const char *s, double *out, bool allow_zero, double max);
/* A decimal count in 0..max, no sign. 0 or -EINVAL. */
int mt_parse_ulong(const char *s, unsigned long max, unsigned long *out);

#endif
