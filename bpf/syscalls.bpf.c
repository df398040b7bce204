// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mmap, munmap and mremap seen by system call tracepoints where they attach
 * (mt_sys_enter, mt_sys_exit): no trap. Those see every process's calls; a
 * call counts when its process is traced and the `syscall` instruction it
 * came from is one of a probed wrapper (struct mt_sys_site). The wrapper's
 * entry registers are then rebuilt (arguments from the system call's, the
 * stack pointer at its entry by the wrapper's CFI) and the call goes
 * through the same mt_entry and mt_finish (call.bpf.h) as with a uprobe.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"
#include "call.bpf.h"

#define MT_NR_MMAP 9
#define MT_NR_MUNMAP 11
#define MT_NR_MREMAP 25
#define MT_PAGE_SHIFT 12
#define MT_EBUSY 16

/* The kind of the wrapper of system call nr; MT_KIND__MAX for others. */
static __always_inline __u32 mt_sys_kind(__s32 nr)
{
	switch (nr) {
	case MT_NR_MMAP:
		return MT_KIND_MMAP;
	case MT_NR_MUNMAP:
		return MT_KIND_MUNMAP;
	case MT_NR_MREMAP:
		return MT_KIND_MREMAP;
	default:
		return MT_KIND__MAX;
	}
}

/* Are the system calls of process tgid traced? */
static __always_inline bool mt_sys_traced(__u32 tgid)
{
	return tgid != mt_self_tgid && (mt_sys_every || bpf_map_lookup_elem(&mt_sys_tgids, &tgid));
}

/* bpf_find_vma callback: where the mapping at ip lies and which file it maps. */
static long mt_vma_of(struct task_struct *task, struct vm_area_struct *vma, struct mt_sys_proc *p)
{
	struct file *f = vma->vm_file;

	if (!f)
		return 0;
	p->lo = vma->vm_start;
	p->hi = vma->vm_end;
	p->bias = vma->vm_start - (vma->vm_pgoff << MT_PAGE_SHIFT);
	p->file.ino = f->f_inode->i_ino;
	p->file.dev = f->f_inode->i_sb->s_dev;
	return 0;
}

/* The site at ip of the library p says is mapped there, if it is one of this kind. */
static __always_inline struct mt_sys_site *mt_sys_site_in(const struct mt_sys_proc *p, __u64 ip,
							  __u32 kind)
{
	struct mt_sys_key k = p->file;
	struct mt_sys_site *s;

	if (ip < p->lo || ip >= p->hi || ip - p->bias > 0xffffffffULL)
		return NULL;
	k.off = ip - p->bias;
	s = bpf_map_lookup_elem(&mt_sys_sites, &k);
	return s && s->kind == kind ? s : NULL;
}

/*
 * The wrapper site of a system call of this kind whose user IP (the
 * instruction after it) is ip; NULL when it is not one of a probed wrapper.
 * Where the process maps its probed library is remembered (mt_sys_procs);
 * the kernel is asked only while that is not known.
 */
static __always_inline struct mt_sys_site *mt_sys_site_at(__u32 tgid, __u64 ip, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 mm = (__u64)task->mm, start_ns = task->group_leader->start_time;
	struct mt_sys_proc *p = bpf_map_lookup_elem(&mt_sys_procs, &tgid), found = {};
	struct mt_sys_site *s;
	long err;

	if (p && p->mm == mm && p->start_ns == start_ns)
		return mt_sys_site_in(p, ip, kind);
	if (p && !p->mm) {
		/* from the loader: a site there confirms it */
		s = mt_sys_site_in(p, ip, kind);
		if (s) {
			p->start_ns = start_ns;
			p->mm = mm;
			return s;
		}
	}
	err = bpf_find_vma(task, ip, mt_vma_of, &found, 0);
	if (err) {
		if (err == -MT_EBUSY)
			mt_count(MT_CNT_SYSCALL_BUSY);
		return NULL;
	}
	s = mt_sys_site_in(&found, ip, kind);
	if (s) {
		found.mm = mm;
		found.start_ns = start_ns;
		bpf_map_update_elem(&mt_sys_procs, &tgid, &found, BPF_ANY);
	}
	return s;
}

/* syscalls:sys_enter_mmap, sys_enter_munmap and sys_enter_mremap */
SEC("tracepoint")
int mt_sys_enter(struct mt_sys_enter_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, kind = mt_sys_kind(ctx->nr);
	struct mt_sys_site *s;
	struct pt_regs *regs;
	struct mt_regs r;

	if (kind == MT_KIND__MAX || !mt_sys_traced(tgid))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	/* the system call's arguments: %rdi, %rsi, %rdx, %r10 */
	r.arg[0] = regs->di;
	r.arg[1] = regs->si;
	r.arg[2] = regs->dx;
	r.arg[3] = regs->r10;
	r.flags = 0;
	/* a mapping of a file: the entry ignores it, spare the lookup */
	if (kind == MT_KIND_MMAP && !(r.arg[3] & MAP_ANONYMOUS))
		return 0;
	r.ip = regs->ip;
	s = mt_sys_site_at(tgid, r.ip, kind);
	if (!s)
		return 0;
	/* the wrapper's entry: its CFA less the return address */
	r.fp = regs->bp;
	r.sp = mt_frame_cfa(&s->rule, regs->sp, &r.fp) - 8;
	mt_entry(&r, MT_COOKIE_MAKE(kind, s->seg_off, s->seg_size), true);
	return 0;
}

SEC("tracepoint")
int mt_sys_exit(struct mt_sys_exit_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_thread *t;

	if (!mt_sys_traced(tgid))
		return 0;
	t = bpf_task_storage_get(&mt_threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->active || !t->sys || t->kind != mt_sys_kind(ctx->nr))
		return 0;
	t->sys = 0;
	mt_finish(t, ctx->ret);
	return 0;
}
