/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * New Python stacks as BPF stores them (a ring buffer), so their code
 * objects can be read while they still exist.
 */
#ifndef MT_PYFEED_H
#define MT_PYFEED_H

#include <linux/types.h>

struct mt_bpf_maps;
struct mt_py_feed;
typedef void (*mt_py_feed_fn)(void *ctx, __u32 tgid, __u64 py_stack);

/* NULL + errno on failure. */
struct mt_py_feed *mt_py_feed__new(const struct mt_bpf_maps *maps, mt_py_feed_fn fn, void *ctx);
void mt_py_feed__free(struct mt_py_feed *f);
/* A file descriptor that polls readable when there is something to consume. */
int mt_py_feed__fd(const struct mt_py_feed *f);
/* Hand every pending stack to the callback. Count or negative errno. */
int mt_py_feed__consume(struct mt_py_feed *f);

#endif
