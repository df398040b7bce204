/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which frame of a symbolized stack is "the line" of an allocation, and
 * whether the allocation is the runtime's rather than the program's.
 * Pure: frames in, an index out; unit-tested on plain structs.
 */
#ifndef MT_SITE_H
#define MT_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include "symbolize/symbolize.h"

struct mt_site_rules {
	/* basenames of the files probed for allocations: their frames are never the line */
	const char *const *alloc_mods;
	size_t nr_alloc_mods;
	/* --alloc-fn: the program's own wrappers, glob patterns on function names */
	const char *const *alloc_fns;
	size_t nr_alloc_fns;
};

/*
 * The line of frames[0..n) (innermost first, inlines expanded): the
 * innermost frame that is not in an allocator's file, not a function
 * --alloc-fn names, not code of the C++ standard library's headers (a
 * vector growing inside push_back is the line that called push_back) and
 * not in the C and C++ runtimes' libraries (std::string's out-of-line
 * growth over jemalloc's operator new is the line that appended).
 * When every frame is one of those: the first frame outside the
 * allocators' files, else 0. *runtime: the row is the runtime's, not the
 * program's: no frame is in the program's own code (only the allocators',
 * the C and C++ runtimes' and the dynamic linker's: libstdc++'s emergency
 * pool), or a function of the runtimes that allocates their own state
 * (stdio's buffers, ld.so's link maps and TLS blocks, time-zone, locale
 * and NSS data, atexit lists, C++ exception objects) comes before any
 * frame of the program; that function is then the line, so a complete
 * stack and one cut inside the runtime give the same row.
 */
size_t mt_site__choose(const struct mt_frame *frames, size_t n, const struct mt_site_rules *r,
		       bool *runtime);

/* Is frame f skipped on the way to the line (mt_site__choose)? */
bool mt_site__skipped(const struct mt_frame *f, const struct mt_site_rules *r);

#endif
