/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The report model: what one report of one process says, independent of
 * how it is rendered. Built by the aggregator, rendered by every output
 * format (text, JSON, ...); formats never compute numbers of their own.
 */
#ifndef MT_REPORT_H
#define MT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "mt_kinds.h"
#include "symbolize/symbolize.h"

enum mt_group_by {
	MT_GROUP_LINE = 0, /* file:line of the site frame (default) */
	MT_GROUP_FUNCTION, /* function (+ module) of the site frame */
	MT_GROUP_FILE,	   /* file of the site frame */
	MT_GROUP_STACK,	   /* the whole symbolized stack */
};

/* A row whose growth_streak is at least this "keeps growing": sorted first, marked. */
#define MT_GROWTH_STREAK_MIN 2

/*
 * One stack of a group: every symbolized site of the group whose frames
 * are the same (function, file, line, module, inlined, kind; the address
 * only for a frame known by neither function nor file) is one stack.
 */
struct mt_row_stack {
	struct mt_frame *frames; /* innermost first; owned by the row */
	size_t nr_frames;
	size_t site; /* index in frames of the group's location frame */
	__s64 bytes; /* outstanding */
	__s64 count;
};

/*
 * One group: a line, function, file or stack. The location fields are
 * those the group is keyed by; a group whose key attribute is unknown
 * falls back to function + module, then to module + the site address
 * (stack[site].addr), so file and function may both be NULL.
 */
struct mt_row {
	enum mt_site_kind kind; /* a group holds sites of one kind */
	const char *file;	/* NULL when unknown */
	const char *function;
	const char *module;
	int line;	    /* 0 when unknown or grouped by function/file */
	__s64 bytes;	    /* outstanding bytes */
	__s64 count;	    /* outstanding allocations */
	__s64 growth_bytes; /* bytes - bytes at the previous report */
	__u64 alloc_bytes;  /* allocated since tracing began (freed or not) */
	__u64 alloc_count;
	unsigned int growth_streak; /* consecutive reports in which bytes grew */
	bool is_new;		    /* not present at the previous report */
	/*
	 * No frame of the group is in the program's own code: the C or C++
	 * runtime's or the dynamic linker's own blocks (libstdc++'s emergency
	 * pool, ld.so's TLS, stdio buffers). Sorted after the program's rows.
	 */
	bool runtime;
	/* representative stack (the largest contributor's), innermost first */
	struct mt_frame *stack;
	size_t nr_stack;
	size_t site; /* index in stack of the frame the location comes from */
	/* every stack of the group, largest bytes first (the representative among them) */
	struct mt_row_stack *stacks;
	size_t nr_stacks;
};

/* Live Python objects of one type (--py-objects), from the interpreter's GC lists */
struct mt_obj_row {
	char *type;	    /* tp_name, printable; owned */
	__s64 count, bytes; /* objects and their bytes (basic + items + GC header) */
	__s64 growth;	    /* count - count at the previous report */
	__s64 growth_bytes; /* bytes - bytes at the previous report */
};

struct mt_report {
	__u32 pid;
	char comm[16];
	const char *cgroup; /* the process's cgroup (-a), or NULL */
	double time;	    /* seconds since the epoch */
	unsigned int seq;   /* 1, 2, ... per process */
	bool final;
	bool exited; /* the process exited (final report) */
	enum mt_group_by group_by;
	__s64 total_bytes; /* over every group, not just the rows shown */
	__s64 total_count;
	__s64 total_growth_bytes;
	/* outstanding bytes and allocations by kind, over every group */
	struct mt_kind_total {
		__s64 bytes, count;
	} kinds[MT_SITE__MAX];
	size_t nr_groups; /* groups before --top */
	__u64 counters[MT_CNT__MAX];
	struct mt_row *rows; /* sorted: growing groups first, then by bytes */
	size_t nr_rows;
	/*
	 * The process's memory as /proc/PID/status had it when the report was
	 * made (filled by the session, never by an output format): known only
	 * with has_mem (not after the process exited); a field its kernel does
	 * not show is -1.
	 */
	bool has_mem;
	__s64 rss_bytes;      /* VmRSS */
	__s64 rss_anon_bytes; /* RssAnon */
	__s64 swap_bytes;     /* VmSwap */
	/*
	 * > 0: RSS kept growing over the last reports while the traced bytes
	 * did not, by this many bytes more than they (see untraced.h); 0 = no.
	 */
	__s64 untraced_growth_bytes;
	/*
	 * --py-objects: live objects by type (GC-tracked, and untracked ones
	 * one level down), largest growth first,
	 * then bytes (at most MT_OBJ_ROWS_MAX); the totals are over every type.
	 * objects_failures: GC lists cut short by links that failed their check
	 * twice (racy walk); objects_pause_us: how long the process was
	 * stopped for the walk (--py-objects=stop), else 0.
	 */
	bool has_objects;
	struct mt_obj_row *objects;
	size_t nr_objects;
	__s64 objects_count, objects_bytes;
	__s64 objects_permanent; /* of objects_count, in the permanent generation (gc.freeze()) */
	/*
	 * of objects_count/_bytes: str, bytes, int and float the collector
	 * does not track, reached through the containers that hold them; and
	 * those not counted (too many, unreadable containers)
	 */
	__s64 objects_untracked, objects_untracked_bytes;
	__u64 objects_untracked_dropped;
	__u64 objects_failures;
	__u64 objects_walk_us, objects_pause_us;
};

#define MT_OBJ_ROWS_MAX 4096

/*
 * Names as the JSON and the text have them (and the loader reads back):
 * a counter's from the X-macro list, "line", "function", "file" or
 * "stack"; NULL for a value outside the list.
 */
const char *mt_counter__name(enum mt_counter c);
const char *mt_group_by__name(enum mt_group_by g);
/*
 * Where a frame without function and file is, for people and addr2line:
 * "module+0xELFADDR" when its ELF address is known (`addr2line -e FILE
 * 0xELFADDR` names the line once debug symbols are there), else
 * "module 0xADDR" ("unknown" for no module). Returns buf.
 */
const char *mt_frame__where(const struct mt_frame *fr, char *buf, size_t len);

/* A site kind's name ("heap", "arena", ...) and its summary label ("pymalloc arenas") */
const char *mt_site_kind__name(enum mt_site_kind k);
const char *mt_site_kind__summary(enum mt_site_kind k);
/*
 * Memory the runtime holds for itself at a line, not the line's own
 * blocks (pymalloc arenas, the interpreter's mappings): flame graphs give
 * it a leaf of its own, "[arena]", under the line.
 */
bool mt_site_kind__is_runtime(enum mt_site_kind k);

/* Frees rows, their stacks and frames; r itself not. NULL-safe. */
void mt_report__free(struct mt_report *r);

#endif
