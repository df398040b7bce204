/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Symbol binding: which mapped module a call to malloc, free or operator
 * new really reaches. The dynamic linker looks a symbol up in the
 * program's global scope: the executable, the LD_PRELOAD objects, then
 * the DT_NEEDED tree breadth first; the first definition wins. Pure: the
 * modules' names come from the caller.
 */
#ifndef MT_BINDING_H
#define MT_BINDING_H

#include <stdbool.h>
#include <stddef.h>

/* One mapped module as the lookup order needs it. */
struct mt_bind_mod {
	const char *path;   /* as mapped (the file's real name) */
	const char *soname; /* DT_SONAME, "" or NULL when none */
	const char *needed; /* its DT_NEEDED names, each NUL-terminated, one after another */
	size_t nr_needed;
	bool is_exe;
};

/*
 * The global scope's lookup order over mods[0..n): indices into mods in
 * order[0..n), the modules outside the scope (dlopen'ed) last in the
 * order given. preload: LD_PRELOAD's value (names or paths separated by
 * spaces or colons), NULL or "". *complete: every needed name reached
 * from the executable is mapped (false while ld.so is still loading).
 * Returns how many modules are in the scope (they come first).
 */
size_t mt_bind__order(const struct mt_bind_mod *mods, size_t n, const char *preload, size_t *order,
		      bool *complete);

#endif
