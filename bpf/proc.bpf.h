/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Lifecycle events (struct mt_proc_event) as every program that sends one
 * makes them: the tracepoints of proc.bpf.c and the Py_FinalizeEx probe.
 */
#ifndef MT_PROC_BPF_H
#define MT_PROC_BPF_H

#include "core.bpf.h"

#define MT_SIGSTOP 19

/* Start time of task's process (its group leader's boot-time start). */
static __always_inline __u64 mt_start_of(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

/* Reserve an event; NULL (counted) when the ring buffer is full. */
static __always_inline struct mt_proc_event *mt_proc_event_new(__u32 type, __u32 pid)
{
	struct mt_proc_event *e = bpf_ringbuf_reserve(&mt_proc_events, sizeof(*e), 0);

	if (!e) {
		mt_count(MT_CNT_PROC_EVENTS_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->pid = pid;
	return e;
}

#endif
