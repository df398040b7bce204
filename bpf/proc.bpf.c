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
 * place. An exec is stopped the same way, so the new image's allocations
 * are not purged with the old image's and a static image is probed before
 * its first instruction. A dynamic image maps its allocator later: until
 * memtrace has found and probed it (MT_PROC_AWAIT_LIB), the process is
 * stopped at each new mapping it makes, before ld.so runs any of
 * it. A stop is only sent when its event is on the ring buffer: memtrace
 * always learns of it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "proc.bpf.h"

extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				__u64 value) __ksym;

/* Stop the current process, announced as an event of type: a stop always has its event. */
static __always_inline void mt_proc_stop_self(__u32 type, __u32 tgid)
{
	struct mt_proc_event *e = mt_proc_event_new(type, tgid);

	if (!e)
		return;
	e->start_ns = mt_start_of(bpf_get_current_task_btf());
	e->stopped = !bpf_send_signal(MT_SIGSTOP);
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(mt_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid, flags;
	struct mt_tier_val *tier;
	struct mt_proc_event *e;
	__u32 *f;

	if (ptgid == ctgid)
		return 0; /* a new thread */
	f = mt_procs_all ? NULL : bpf_map_lookup_elem(&mt_procs, &ptgid);
	/* a followed child has its parent's tier */
	if (mt_tiers_nr && (mt_procs_all || (f && (*f & MT_PROC_FOLLOW))) &&
	    (tier = bpf_map_lookup_elem(&mt_tiers, &ptgid)))
		bpf_map_update_elem(&mt_tiers, &ctgid, tier, BPF_ANY);
	if (!f || !(*f & MT_PROC_FOLLOW))
		return 0;
	flags = *f & ~MT_PROC_AWAIT_LIB;
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
	if (flags & MT_PROC_STOP)
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
	if (mt_tiers_nr)
		bpf_map_delete_elem(&mt_tiers, &tgid);
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

/*
 * A process awaiting its allocator (MT_PROC_AWAIT_LIB) chose an address for
 * a new mapping: ld.so maps each library so before it places its segments.
 * The stop comes on the way back to user space, when the mapping is made,
 * and before ld.so runs any of the file.
 */
SEC("tp_btf/vm_unmapped_area")
int BPF_PROG(mt_proc_mapped, unsigned long addr, struct vm_unmapped_area_info *info)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, *f;

	f = bpf_map_lookup_elem(&mt_procs, &tgid);
	if (f && (*f & MT_PROC_AWAIT_LIB))
		mt_proc_stop_self(MT_PROC_MAPPED, tgid);
	return 0;
}

/*
 * A stop probe (mt_loader__attach_stop): the process is stopped (SIGSTOP)
 * and announced with the event type its cookie holds: MT_PROC_FINALIZE at
 * Py_FinalizeEx (the final report before the interpreter's teardown),
 * MT_PROC_MAPPED at an interpreter's start (its layout can be read now),
 * MT_PROC_UNMAPPING at dlclose() and MT_PROC_EXITING at exit() (its
 * mappings are read while they are there).
 * memtrace sends SIGCONT when done. Only sent with its event on the ring
 * buffer.
 */
SEC("uprobe")
int mt_proc_stop(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_lookup_elem(&mt_procs, &tgid))
		mt_proc_stop_self((__u32)bpf_get_attach_cookie(ctx), tgid);
	return 0;
}
