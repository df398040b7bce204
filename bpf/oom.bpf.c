// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * OOM victims: the kernel's OOM killer (global or a memory cgroup's) chose
 * a task and is killing it. Every victim is announced (MT_PROC_OOM, pid =
 * the victim task's id, a thread of the process): OOM kills are rare, and
 * user space decides whether the process is one it traces, while its
 * memory is being taken away, to write what it knows before it is gone.
 *
 * The classic tracepoint, not tp_btf: its arguments changed (Linux 6.x
 * passes the task, older kernels the pid) but the event's pid field has
 * been at offset 8 of the record since the tracepoint exists.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "proc.bpf.h"

struct mt_mark_victim_ctx {
	__u64 common; /* common_type, common_flags, common_preempt_count, common_pid */
	int pid;
};

SEC("tracepoint/oom/mark_victim")
int mt_oom_victim(struct mt_mark_victim_ctx *ctx)
{
	struct mt_proc_event *e = mt_proc_event_new(MT_PROC_OOM, (__u32)ctx->pid);

	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}
