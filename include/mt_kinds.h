/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * X-macro lists shared by the BPF programs and the loader. BPF uses the
 * enum values; user space generates names and help texts from the same
 * list, so a new kind or counter is a one-line change.
 */
#ifndef MT_KINDS_H
#define MT_KINDS_H

/*
 * Allocator entry points. X(ID, name, args): args documents which
 * argument registers the BPF side reads.
 */
#define MT_ALLOC_KINDS(X)                           \
	X(MALLOC, "malloc")                         \
	X(CALLOC, "calloc")                         \
	X(REALLOC, "realloc")                       \
	X(REALLOCARRAY, "reallocarray")             \
	X(POSIX_MEMALIGN, "posix_memalign")         \
	X(ALIGNED_ALLOC, "aligned_alloc")           \
	X(MEMALIGN, "memalign")                     \
	X(VALLOC, "valloc")                         \
	X(PVALLOC, "pvalloc")                       \
	X(MMAP, "mmap")                             \
	X(MREMAP, "mremap")                         \
	X(FREE, "free")                             \
	X(MUNMAP, "munmap")                         \
	X(FREE_SIZED, "free_sized")                 \
	X(FREE_ALIGNED_SIZED, "free_aligned_sized") \
	X(XALLOCX, "xallocx")

#define MT_KIND_ENUM(id, name) MT_KIND_##id,
enum mt_kind { MT_ALLOC_KINDS(MT_KIND_ENUM) MT_KIND__MAX };
#undef MT_KIND_ENUM

/*
 * What memory a site's allocations are: every site carries one, so one
 * line can have a row of each. X(ID, name, summary): name is the JSON and
 * text name, summary the label of the report's summary by kind.
 *   heap     the C heap (malloc family), the default
 *   mmap     anonymous mappings the program asked for
 *   pyobj    CPython's PyMem_Raw/PyMem/PyObject domains, where probed
 *            (--python-allocators): the allocations of Python objects
 *   arena    a pymalloc arena: an anonymous private read-write mapping of
 *            the arena size made by the interpreter itself; its line is
 *            the line that first needed it
 *   runtime  the interpreter's other mappings (its frames' data stack)
 */
#define MT_SITE_KINDS(X)                          \
	X(HEAP, "heap", "native heap")            \
	X(MMAP, "mmap", "mappings")               \
	X(PYOBJ, "pyobj", "Python object domain") \
	X(ARENA, "arena", "pymalloc arenas")      \
	X(RUNTIME, "runtime", "interpreter runtime")

#define MT_SITE_ENUM(id, name, summary) MT_SITE_##id,
enum mt_site_kind { MT_SITE_KINDS(MT_SITE_ENUM) MT_SITE__MAX };
#undef MT_SITE_ENUM

/*
 * Per-CPU counters. X(ID, name, is_drop, help). A drop means an event that
 * memtrace could not account for exactly; the report shows every drop
 * counter, and warns when one is non-zero, naming what to change.
 */
#define MT_COUNTERS(X)                                                                           \
	X(ALLOCS_FULL, "allocs_map_full", 1, "live-allocation map full: raise --max-allocs")     \
	X(SITES_FULL, "sites_map_full", 1, "per-stack map full: raise --max-stacks")             \
	X(STACKS_FULL, "stacks_map_full", 1,                                                     \
	  "stack map full: call site kept, deeper frames lost; "                                 \
	  "raise --stack-storage")                                                               \
	X(MISSED_RETURN, "missed_return", 1, "an allocator call's return was never seen")        \
	X(READ_FAULT, "read_fault", 1, "reading target memory failed")                           \
	X(THREAD_STATE, "thread_state", 1, "per-thread state could not be created")              \
	X(ALLOC_FAILED, "alloc_failed", 0, "allocations that failed")                            \
	X(UNTRACKED_FREE, "untracked_free", 0, "frees of blocks allocated before tracing began") \
	X(NESTED, "nested", 0, "allocator calls made inside another allocator call")             \
	X(INTERNAL_FREE, "internal_free", 0,                                                     \
	  "frees by the allocator's own library of blocks it made for itself")                   \
	X(INTERNAL_MMAP, "internal_mmap", 0, "mmap family calls made by the C library itself")   \
	X(FILTERED, "filtered", 0, "allocations outside --min/--max-size")                       \
	X(SPILLED, "spilled", 0,                                                                 \
	  "allocations kept in the spill map (table buckets full): raise --max-allocs")          \
	X(PY_READ_FAULT, "py_read_fault", 1,                                                     \
	  "reading the interpreter's frames failed: native line kept")                           \
	X(PY_STACKS_FULL, "py_stacks_map_full", 1,                                               \
	  "Python stack map full: native line kept; raise --stack-storage")                      \
	X(PY_NO_THREAD, "py_no_thread", 0, "allocations on threads with no Python thread state") \
	X(PY_EVENTS_LOST, "py_events_lost", 0,                                                   \
	  "new Python stacks not announced at once (ring buffer full)")                          \
	X(SYSCALL_BUSY, "syscall_busy", 1,                                                       \
	  "mmap family system calls not told apart (the process's memory map was locked)")       \
	X(PROC_EVENTS_LOST, "proc_events_lost", 1,                                               \
	  "forks, execs or exits not announced (ring buffer full)")                              \
	X(UNWIND_COPIES, "unwind_copies", 0,                                                     \
	  "stacks copied for user space to unwind (a return address with no rule yet)")          \
	X(UNWIND_PARTIAL, "unwind_partial", 0,                                                   \
	  "stacks cut at a return address with no rule yet and not copied (a burst on a new "    \
	  "path before user space answered, ring buffer full); lines and bytes stay exact")      \
	X(UNWIND_STOP, "unwind_stop", 0, "stacks ended at code with no usable CFI")

#define MT_CNT_ENUM(id, name, drop, help) MT_CNT_##id,
enum mt_counter { MT_COUNTERS(MT_CNT_ENUM) MT_CNT__MAX };
#undef MT_CNT_ENUM

#endif /* MT_KINDS_H */
