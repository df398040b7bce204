// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The dynamic linker's lookup order, rebuilt from the mapped modules. A
 * needed name matches a module by its DT_SONAME or its file name (maps
 * show the file a symbolic link such as libstdc++.so.6 resolves to); a
 * preloaded path by its last component, the same way.
 */
#include <string.h>
#include "probe/binding.h"

static const char *base_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* The module named name (len bytes), not yet placed, or -1. */
static long find(const struct mt_bind_mod *mods, size_t n, const bool *placed, const char *name,
		 size_t len)
{
	const char *slash = memrchr(name, '/', len);

	if (slash) {
		len -= (size_t)(slash + 1 - name);
		name = slash + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *b = base_of(mods[i].path);
		const char *so = mods[i].soname ? mods[i].soname : "";

		if ((strlen(b) == len && !memcmp(b, name, len)) ||
		    (strlen(so) == len && !memcmp(so, name, len)))
			return placed[i] ? -2 : (long)i;
	}
	return -1;
}

size_t mt_bind__order(const struct mt_bind_mod *mods, size_t n, const char *preload, size_t *order,
		      bool *complete)
{
	bool placed_buf[256], *placed = placed_buf;
	size_t nr = 0, head = 0, scope, all = n;

	*complete = true;
	if (n > sizeof(placed_buf))
		n = sizeof(placed_buf); /* more modules than any program maps: the rest unordered */
	memset(placed, 0, n);
	for (size_t i = 0; i < n; i++) {
		if (mods[i].is_exe && !placed[i]) {
			placed[i] = true;
			order[nr++] = i;
		}
	}
	while (preload && *preload) {
		size_t len = strcspn(preload, " :");
		long i = len ? find(mods, n, placed, preload, len) : -1;

		if (i >= 0) {
			placed[i] = true;
			order[nr++] = (size_t)i;
		}
		preload += len + (preload[len] ? 1 : 0);
	}
	/* breadth first over DT_NEEDED, from the executable and the preloaded objects */
	for (head = 0; head < nr; head++) {
		const struct mt_bind_mod *m = &mods[order[head]];
		const char *s = m->needed;

		for (size_t k = 0; s && k < m->nr_needed; k++) {
			size_t len = strlen(s);
			long i = find(mods, n, placed, s, len);

			if (i >= 0) {
				placed[i] = true;
				order[nr++] = (size_t)i;
			} else if (i == -1) {
				*complete = false;
			}
			s += len + 1;
		}
	}
	scope = nr;
	for (size_t i = 0; i < all; i++)
		if (i >= n || !placed[i])
			order[nr++] = i;
	return scope;
}
