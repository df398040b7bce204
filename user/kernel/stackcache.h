/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Stacks never change once in their map (the key is a hash of the
 * content), so each is read from the kernel once (kernel/reader.h) and then
 * served from this cache. Keys are (map, hash).
 */
#ifndef MT_STACKCACHE_H
#define MT_STACKCACHE_H

#include <linux/types.h>

struct mt_bpf_maps;
struct mt_py_frame;
struct mt_stack_cache;

struct mt_stack_cache *mt_stack_cache__new(void);
void mt_stack_cache__free(struct mt_stack_cache *c);
/* Drop every cached stack (after their maps were collected); they refill on use. */
void mt_stack_cache__clear(struct mt_stack_cache *c);
/* Native stack frames; count or negative errno. */
int mt_stack_cache__native(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 stack,
			   __u64 *ips, int max);
/* Python stack frames; count or negative errno. */
int mt_stack_cache__python(struct mt_stack_cache *c, const struct mt_bpf_maps *maps, __u64 py_stack,
			   struct mt_py_frame *frames, int max);

#endif
