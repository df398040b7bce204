/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Symbolized sites, remembered: a site (process, call site, stacks) always
 * symbolizes to the same frames, so each is symbolized once and later
 * reports copy the result. Frames are stored once each in a table and
 * sites hold their indices, so 100k sites of 16 frames cost a few MB.
 */
#ifndef MT_SITECACHE_H
#define MT_SITECACHE_H

#include <stddef.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "symbolize.h"

struct mt_site_cache;

struct mt_site_cache *mt_site_cache__new(void);
void mt_site_cache__free(struct mt_site_cache *c);

/*
 * Frames of a remembered site into frames (at most max); returns the count
 * and sets *site, or 0 when the site is not remembered.
 */
size_t mt_site_cache__get(struct mt_site_cache *c, const struct mt_site_key *key,
			  struct mt_frame *frames, size_t max, size_t *site);
/* Remember a site's frames. 0 or -ENOMEM. */
int mt_site_cache__put(struct mt_site_cache *c, const struct mt_site_key *key,
		       const struct mt_frame *frames, size_t n, size_t site);
/* Forget every site of a process. */
void mt_site_cache__forget(struct mt_site_cache *c, __u32 tgid);

#endif
