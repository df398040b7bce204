// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The line of an allocation. Standard-library header code is told by its
 * file: libstdc++'s headers sit in .../include/c++/VERSION/, libc++'s in
 * .../include/c++/v1/. Runtime files are told by their names.
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

/*
 * Functions of the runtimes that allocate the runtime's own state, whoever
 * called them: stdio's buffers, the dynamic linker's link maps and TLS
 * blocks, time-zone and locale data, NSS caches, atexit lists, C++
 * exception objects and the iostreams' and locales' state.
 */
static bool runtime_fn(const struct mt_frame *f)
{
	static const char *const patterns[] = {
	    /* stdio */
	    "_IO_file_doallocate", "_IO_wfile_doallocate",
	    /* the dynamic linker's link maps, search paths and TLS (not _dl_init: constructors) */
	    "_dl_new_object", "_dl_map_*", "_dl_allocate_tls*", "allocate_dtv", "_dl_resize_dtv",
	    "_dl_*slotinfo", "_dl_important_hwcaps", "_dl_init_paths", "_dl_exception_create*",
	    "_dl_find_object*", "_dl_scope_free", "__tls_get_addr", "tls_get_addr_tail",
	    "__libc_dlopen*",
	    /* time zones, locales, character sets, NSS, atexit */
	    "__tzfile_read", "tzset_internal", "__tzset_parse_tz", "__tzstring*", "_nl_*",
	    "new_composite_name", "__gconv_*", "__nss_*", "nss_*", "__new_exitfn",
	    /* C++: exception objects, locales, iostreams */
	    "__cxa_*", "_ZNSt6locale*", "_ZNSt8ios_base*"};

	if (f->kind != MT_FRAME_NATIVE || !f->function || !f->module || !runtime_module(f->module))
		return false;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (!fnmatch(patterns[i], f->function, 0))
			return true;
	return false;
}

bool mt_site__skipped(const struct mt_frame *f, const struct mt_site_rules *r)
{
	/*
	 * The C and C++ runtimes' code too, when another library is the
	 * allocator: std::string's _M_mutate calling jemalloc's operator new,
	 * libc's strdup calling tcmalloc's malloc are the program's line
	 * that called them.
	 */
	return in_alloc_mod(f, r) || is_alloc_fn(f, r) || std_header(f) ||
	       (f->kind == MT_FRAME_NATIVE && f->module && runtime_module(f->module));
}

size_t mt_site__choose(const struct mt_frame *frames, size_t n, const struct mt_site_rules *r,
		       bool *runtime)
{
	size_t site = n, outside = n;
	bool program = false;

	*runtime = true;
	for (size_t i = 0; i < n; i++) {
		const struct mt_frame *f = &frames[i];

		/* the runtime's own state, reached before any code of the program */
		if (!program && runtime_fn(f))
			return i;
		/* an unknown module may be the program's (a JIT): not the runtime's */
		if (f->kind != MT_FRAME_NATIVE || !f->module ||
		    (!in_alloc_mod(f, r) && !runtime_module(f->module))) {
			*runtime = false;
			program = true;
		}
		if (outside == n && !in_alloc_mod(f, r))
			outside = i;
		if (site == n && !mt_site__skipped(f, r))
			site = i;
	}
	if (site < n)
		return site;
	return outside < n ? outside : 0;
}
