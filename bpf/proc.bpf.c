// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Process lifecycle: fork, exec and exit of the processes memtrace
 * follows reach user space as events (struct mt_proc_event), in order, on
 * one ring buffer.
 *
 * A followed process's new child enters mt_procs here, in the parent's
 * fork, before the child has run: nothing the child does is missed. Where
 * links are per process (-p, --), the child cannot be traced until memtrace
 * has attached to it, so it is sent SIGSTOP before it first runs
 * (MT_PROC_STOP) and memtrace sends SIGCONT once its probes are in
 * place. An exec is stopped the same way (unless memtrace is the
 * process's tracer and sees it by ptrace), so the new
 * image's allocations are not purged with the old image's and a static
 * image is probed before its first instruction. A stop is only sent when
 * its event is on the ring buffer: memtrace always learns of it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "proc.bpf.h"

extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				__u64 value) __ksym;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(mt_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid, flags;
	struct mt_proc_event *e;
	__u32 *f;

	if (ptgid == ctgid || mt_procs_all)
		return 0; /* a new thread */
	f = bpf_map_lookup_elem(&mt_procs, &ptgid);
	if (!f || !(*f & MT_PROC_FOLLOW))
		return 0;
	flags = *f & ~MT_PROC_PTRACED;
	e = mt_proc_event_new(MT_PROC_FORK, ctgid);
	if (!e)
		return 0;
	if (bpf_map_update_elem(&mt_procs, &ctgid, &flags, BPF_ANY)) {
		mt_count(MT_CNT_PROC_EVENTS_LOST);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->ppid = ptgid;
	e->start_ns = BPF_CORE_READ(child, start_boottime);
	e->ppid_start_ns = mt_start_of(parent);
	/* not yet woken up: the signal is pending before its first instruction */
	if (flags & MT_PROC_STOP)
		e->stopped = !bpf_send_signal_task(child, MT_SIGSTOP, PIDTYPE_TGID, 0);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(mt_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid, flags = 0;
	struct mt_proc_event *e;
	__u32 *f;

	if (tgid == mt_self_tgid)
		return 0;
	f = bpf_map_lookup_elem(&mt_procs, &tgid);
	if (f)
		flags = *f;
	else if (!mt_procs_all)
		return 0;
	e = mt_proc_event_new(MT_PROC_EXEC, tgid);
	if (!e)
		return 0;
	e->start_ns = mt_start_of(p);
	/* the new image runs nothing before the return to user space */
	if ((flags & MT_PROC_STOP) && !(flags & MT_PROC_PTRACED))
		e->stopped = !bpf_send_signal(MT_SIGSTOP);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(mt_proc_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	struct mt_proc_event *e;

	/* the last thread: the live count was taken down before the tracepoint */
	if (BPF_CORE_READ(p, signal, live.counter) || tgid == mt_self_tgid)
		return 0;
	if (bpf_map_delete_elem(&mt_procs, &tgid) && !mt_procs_all)
		return 0;
	e = mt_proc_event_new(MT_PROC_EXIT, tgid);
	if (!e)
		return 0;
	e->start_ns = mt_start_of(p);
	e->exit_code = BPF_CORE_READ(p, signal, group_exit_code);
	if (!e->exit_code)
		e->exit_code = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
