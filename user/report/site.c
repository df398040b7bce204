// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The line of an allocation. Standard-library header code is told by its
 * file: libstdc++'s headers sit in .../include/c++/VERSION/, libc++'s in
 * .../include/c++/v1/. Runtime files are told by their names.
 *
 * The C++ standard library's own compiled code (std::string's _M_mutate,
 * _M_create...) is skipped too, wherever operator new is: with glibc it is
 * libstdc++'s (an allocator module already), but jemalloc, tcmalloc and
 * mimalloc define their own, and the frame above theirs is libstdc++'s.
 */
#include <fnmatch.h>
#include <string.h>
#include "report/site.h"

static bool in_alloc_mod(const struct mt_frame *f, const struct mt_site_rules *r)
{
	for (size_t i = 0; f->module && i < r->nr_alloc_mods; i++)
		if (!strcmp(f->module, r->alloc_mods[i]))
			return true;
	return false;
}

static bool is_alloc_fn(const struct mt_frame *f, const struct mt_site_rules *r)
{
	for (size_t i = 0; f->function && i < r->nr_alloc_fns; i++)
		if (!fnmatch(r->alloc_fns[i], f->function, 0))
			return true;
	return false;
}

static bool std_header(const struct mt_frame *f)
{
	return f->kind == MT_FRAME_NATIVE && f->file && strstr(f->file, "/include/c++/");
}

static bool std_library(const struct mt_frame *f)
{
	return f->kind == MT_FRAME_NATIVE && f->module &&
	       (!strncmp(f->module, "libstdc++", 9) || !strncmp(f->module, "libc++.", 7) ||
		!strncmp(f->module, "libc++abi", 9));
}

/* The C and C++ runtimes and the dynamic linker: never the program's own code. */
static bool runtime_module(const char *m)
{
	static const char *const prefixes[] = {
	    "libc.so", "libc-",	      "ld-linux",    "ld-musl",	    "ld-2.",	   "libstdc++",
	    "libc++",  "libgcc_s",    "libm.so",     "libm-",	    "libpthread",  "libdl.so",
	    "libdl-",  "libjemalloc", "libtcmalloc", "libmimalloc", "libglib-2.0",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(m, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

bool mt_site__skipped(const struct mt_frame *f, const struct mt_site_rules *r)
{
	return in_alloc_mod(f, r) || is_alloc_fn(f, r) || std_header(f) || std_library(f);
}

size_t mt_site__choose(const struct mt_frame *frames, size_t n, const struct mt_site_rules *r,
		       bool *runtime)
{
	size_t site = n, outside = n;

	*runtime = true;
	for (size_t i = 0; i < n; i++) {
		const struct mt_frame *f = &frames[i];

		/* an unknown module may be the program's (a JIT): not the runtime's */
		if (f->kind != MT_FRAME_NATIVE || !f->module ||
		    (!in_alloc_mod(f, r) && !runtime_module(f->module)))
			*runtime = false;
		if (outside == n && !in_alloc_mod(f, r))
			outside = i;
		if (site == n && !mt_site__skipped(f, r))
			site = i;
	}
	if (site < n)
		return site;
	return outside < n ? outside : 0;
}
