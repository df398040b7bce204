/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Symbolized sites, remembered: a site (process, call site, stacks) always
 * symbolizes to the same frames, so each is symbolized once and later
 * reports read the result in place. Sites are kept by their BPF slot (an
 * array index, visited in slot order by every report) with their key: a
 * slot BPF hands to another site is told by the key and replaced. Frames
 * are stored once each in a table and sites hold their indices, so 100k
 * sites of 16 frames cost a few MB.
 */
#ifndef MT_SITECACHE_H
#define MT_SITECACHE_H

#include <stddef.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "symbolize/symbolize.h"

struct mt_site_cache;

/* Or'ed into a site index: the site is the runtime's (report/site.h), not the program's. */
#define MT_SITE_RUNTIME ((size_t)1 << 31)

struct mt_site_cache *mt_site_cache__new(void);
void mt_site_cache__free(struct mt_site_cache *c);

/*
 * The site key at slot, read in place: returns its frame count and sets
 * *site (the frame that is the line); its frames are (*table)[(*ids)[i]]
 * for i below the count, valid until the next mt_site_cache__put or
 * __forget. 0 when the slot does not hold that site.
 */
size_t mt_site_cache__ref(struct mt_site_cache *c, const struct mt_site_key *key, __u32 slot,
			  const struct mt_frame **table, const __u32 **ids, size_t *site);
/*
 * Remember a site's frames at its slot (site may carry MT_SITE_RUNTIME,
 * which __ref gives back). 0, -EINVAL (MT_NO_SITE) or -ENOMEM.
 */
int mt_site_cache__put(struct mt_site_cache *c, const struct mt_site_key *key, __u32 slot,
		       const struct mt_frame *frames, size_t n, size_t site);
/* Forget every site of a process. */
void mt_site_cache__forget(struct mt_site_cache *c, __u32 tgid);

#endif
