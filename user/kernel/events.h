/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Events BPF sends as they happen, on ring buffers: new Python stacks
 * (their code objects must be read while they exist), the lifecycle of
 * followed processes (struct mt_proc_event: fork, exec, exit) and stack
 * copies for the CFI unwinder. One file descriptor polls readable when
 * any has something.
 *
 * The callbacks run inside mt_events__consume. A consumer that must not
 * change its state at that moment (a report in progress) queues what it
 * is told and acts on it later.
 */
#ifndef MT_EVENTS_H
#define MT_EVENTS_H

#include <linux/types.h>
#include "kernel/loader.h"

struct mt_events;

struct mt_events_ops {
	/* a Python stack BPF stored for the first time */
	void (*py_stack)(void *ctx, __u32 tgid, __u64 py_stack);
	/* a fork, exec or exit of a followed process, in the order they happened */
	void (*proc)(void *ctx, const struct mt_proc_event *e);
	/* a stack BPF could not unwind: struct mt_unwind_event, size bytes */
	void (*unwind)(void *ctx, const void *data, size_t size);
};

/* NULL with errno set on failure. ops is copied. */
struct mt_events *mt_events__new(const struct mt_bpf_maps *maps, const struct mt_events_ops *ops,
				 void *ctx);
/* Accepts NULL. */
void mt_events__free(struct mt_events *ev);
/* Polls readable when there is something to consume. */
int mt_events__fd(const struct mt_events *ev);
/* Hand every pending event to its callback. Count or negative errno. */
int mt_events__consume(struct mt_events *ev);

#endif
