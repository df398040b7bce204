// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * site: the line of an allocation above the allocator, --alloc-fn
 * wrappers and C++ standard headers; runtime rows; the dynamic linker's
 * lookup order (probe/binding.h).
 */
#include <string.h>
#include "probe/binding.h"
#include "report/site.h"
#include "test.h"

static const char *const mods[] = {"libc.so.6", "libstdc++.so.6.0.30"};
static const char *const fns[] = {"xmalloc", "zm*"};
static const struct mt_site_rules rules = {mods, 2, fns, 2};

MT_TEST(site_cxx_header)
{
	/* vector growth: operator new <- inlined allocator code <- _M_realloc_insert <- user */
	const struct mt_frame f[] = {
	    {.function = "_ZNSt15__new_allocatorIiE8allocateEmPKv",
	     .file = "/usr/include/c++/12/bits/new_allocator.h",
	     .module = "app",
	     .inlined = true},
	    {.function = "_ZNSt6vectorIiSaIiEE17_M_realloc_insert",
	     .file = "/usr/include/c++/12/bits/vector.tcc",
	     .module = "app"},
	    {.function = "push_back",
	     .file = "/usr/include/c++/12/bits/stl_vector.h",
	     .module = "app",
	     .inlined = true},
	    {.function = "fill", .file = "app.cc", .line = 9, .module = "app"},
	    {.function = "__libc_start_call_main", .module = "libc.so.6"},
	};
	bool runtime = true;

	ASSERT_EQ(mt_site__choose(f, 5, &rules, &runtime), 3, "the user's push_back line");
	ASSERT_FALSE(runtime, "the program's row");
}

MT_TEST(site_alloc_fn_and_runtime)
{
	const struct mt_frame wrapped[] = {
	    {.function = "malloc", .module = "libc.so.6"},
	    {.function = "zmalloc", .file = "z.c", .module = "app"},
	    {.function = "xmalloc", .file = "x.c", .module = "app"},
	    {.function = "caller", .file = "c.c", .line = 3, .module = "app"},
	};
	const struct mt_frame pool[] = {
	    {.module = "libstdc++.so.6.0.30"},
	    {.function = "_dl_init", .module = "ld-linux-x86-64.so.2"},
	};
	const struct mt_frame only_alloc[] = {
	    {.function = "malloc", .module = "libc.so.6"},
	};
	const struct mt_frame unknown[] = {{.addr = 0x1234}};
	bool runtime = false;

	ASSERT_EQ(mt_site__choose(wrapped, 4, &rules, &runtime), 3, "above two wrappers");
	ASSERT_FALSE(runtime, "wrappers are the program's");
	ASSERT_EQ(mt_site__choose(pool, 2, &rules, &runtime), 1, "first outside the allocators");
	ASSERT_TRUE(runtime, "libstdc++'s emergency pool is the runtime's");
	ASSERT_EQ(mt_site__choose(only_alloc, 1, &rules, &runtime), 0, "nothing else: 0");
	ASSERT_EQ(mt_site__choose(unknown, 1, &rules, &runtime), 0, "unknown");
	ASSERT_FALSE(runtime, "an unknown module may be the program's");
	ASSERT_FALSE(
	    mt_site__skipped(&(struct mt_frame){.function = "zstrdup", .module = "app"}, &rules),
	    "zm* does not match zstrdup");
}

MT_TEST(site_runtime_libraries)
{
	/* jemalloc is the allocator: libstdc++ and libc are not probed, still not the line */
	static const char *const je[] = {"libjemalloc.so.2"};
	const struct mt_site_rules jrules = {je, 1, NULL, 0};
	const struct mt_frame str[] = {
	    {.function = "_Znwm", .module = "libjemalloc.so.2"},
	    {.function = "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE9_M_mutateEmmPKcm",
	     .module = "libstdc++.so.6.0.30"},
	    {.function = "grow", .file = "app.cc", .line = 5, .module = "app"},
	};
	const struct mt_frame dup[] = {
	    {.function = "malloc", .module = "libjemalloc.so.2"},
	    {.function = "strdup", .module = "libc.so.6"},
	    {.function = "main", .file = "app.c", .line = 8, .module = "app"},
	};
	bool runtime = true;

	ASSERT_EQ(mt_site__choose(str, 3, &jrules, &runtime), 2, "std::string's user line");
	ASSERT_FALSE(runtime, "the program's string");
	ASSERT_EQ(mt_site__choose(dup, 3, &jrules, &runtime), 2, "strdup's caller");
	ASSERT_FALSE(runtime, "the program's strdup");
}

MT_TEST(site_runtime_state)
{
	/* printf's stdout buffer: the same row whether the walk reached main or not */
	const struct mt_frame stdio[] = {
	    {.function = "malloc", .module = "libc.so.6"},
	    {.function = "_IO_file_doallocate", .file = "filedoalloc.c", .module = "libc.so.6"},
	    {.function = "_IO_doallocbuf", .module = "libc.so.6"},
	    {.function = "printf", .module = "libc.so.6"},
	    {.function = "main", .file = "app.c", .line = 7, .module = "app"},
	};
	/* a thread's TLS block: the dynamic linker's, under pthread_create */
	const struct mt_frame tls[] = {
	    {.function = "calloc", .module = "ld-linux-x86-64.so.2"},
	    {.function = "allocate_dtv", .module = "ld-linux-x86-64.so.2"},
	    {.function = "_dl_allocate_tls", .module = "ld-linux-x86-64.so.2"},
	    {.function = "pthread_create", .module = "libc.so.6"},
	    {.function = "main", .file = "app.c", .line = 9, .module = "app"},
	};
	/* the program's own strdup: its line; _dl_* above the program is not the row's */
	const struct mt_frame dup[] = {
	    {.function = "malloc", .module = "libc.so.6"},
	    {.function = "strdup", .module = "libc.so.6"},
	    {.function = "main", .file = "app.c", .line = 11, .module = "app"},
	    {.function = "_dl_start_user", .module = "ld-linux-x86-64.so.2"},
	};
	bool runtime = false;

	ASSERT_EQ(mt_site__choose(stdio, 5, &rules, &runtime), 1, "stdio's buffer");
	ASSERT_TRUE(runtime, "stdio's buffer is the runtime's");
	ASSERT_EQ(mt_site__choose(stdio, 3, &rules, &runtime), 1, "cut inside libc: the same");
	ASSERT_TRUE(runtime, "cut: runtime too");
	ASSERT_EQ(mt_site__choose(tls, 5, &rules, &runtime), 1, "ld.so's TLS block");
	ASSERT_TRUE(runtime, "TLS is the runtime's");
	ASSERT_EQ(mt_site__choose(dup, 4, &rules, &runtime), 2, "strdup's caller");
	ASSERT_FALSE(runtime, "the program's strdup");
}

MT_TEST(binding_order)
{
	/* app needs libfoo, libc; libfoo needs libjemalloc; tcmalloc preloaded by path */
	const struct mt_bind_mod m[] = {
	    {.path = "/usr/lib/libc.so.6",
	     .soname = "libc.so.6",
	     .needed = "ld-linux-x86-64.so.2",
	     .nr_needed = 1},
	    {.path = "/usr/lib/libjemalloc.so.2", .soname = "libjemalloc.so.2"},
	    {.path = "/usr/lib/libtcmalloc.so.4.5.9", .soname = "libtcmalloc.so.4"},
	    {.path = "/opt/app", .needed = "libfoo.so\0libc.so.6", .nr_needed = 2, .is_exe = true},
	    {.path = "/usr/lib/libfoo.so.1.2",
	     .soname = "libfoo.so",
	     .needed = "libjemalloc.so.2",
	     .nr_needed = 1},
	    {.path = "/usr/lib/ld-linux-x86-64.so.2"},
	    {.path = "/usr/lib/plugin.so"},
	};
	size_t order[7], want[] = {3, 2, 4, 0, 1, 5, 6};
	bool complete = false;

	ASSERT_EQ(mt_bind__order(m, 7, "/usr/lib/libtcmalloc.so.4", order, &complete), 6,
		  "six in the global scope");
	ASSERT_TRUE(complete, "every needed library mapped");
	ASSERT_TRUE(!memcmp(order, want, sizeof(want)), "exe, preload, breadth first, dlopen'ed");
	ASSERT_EQ(mt_bind__order(m, 4, "", order, &complete), 2, "libfoo not mapped yet");
	ASSERT_FALSE(complete, "ld.so is still loading");
}
