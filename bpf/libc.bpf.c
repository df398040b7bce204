// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Probes on the C library's allocator entry points.
 *
 * One program serves every function: the probe cookie says which function
 * (enum mt_kind) and where the library's code lies (include/mt_abi.h).
 * Three attachment flavours share the same entry/return code:
 *  - mt_libc_session: a uprobe session (entry + return in one program);
 *    the entry returns 1 to skip the return probe when there is nothing to
 *    finish (free, nested or filtered calls);
 *  - mt_libc_entry + mt_libc_return: uprobe_multi entry and return links,
 *    or classic perf-event uprobes/uretprobes, on older kernels.
 * The entry/return code itself is in call.bpf.h; mmap, munmap and mremap
 * may be seen by system call tracepoints instead (syscalls.bpf.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"
#include "call.bpf.h"

extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

/* Return of an outermost call whose entry returned 0. */
static __always_inline void mt_exit(struct pt_regs *ctx)
{
	struct mt_thread *t = mt_thread_get();

	/* nested returns (seen only without sessions) sit below the outer frame */
	if (!t || !t->active || t->sys || PT_REGS_SP(ctx) <= t->outer_sp)
		return;
	mt_finish(t, PT_REGS_RC(ctx));
}

/* The registers a uprobe at an allocator's entry sees. */
static __always_inline void mt_regs_of(struct pt_regs *ctx, struct mt_regs *r)
{
	r->arg[0] = PT_REGS_PARM1(ctx);
	r->arg[1] = PT_REGS_PARM2(ctx);
	r->arg[2] = PT_REGS_PARM3(ctx);
	r->arg[3] = PT_REGS_PARM4(ctx);
	r->sp = PT_REGS_SP(ctx);
	r->fp = PT_REGS_FP(ctx);
	r->ip = PT_REGS_IP(ctx);
	r->flags = ctx->flags;
}

/* Functions whose entry always returns 1: a session never runs for their return. */
static __always_inline bool mt_entry_only(__u32 kind)
{
	return kind == MT_KIND_FREE || kind == MT_KIND_FREE_SIZED ||
	       kind == MT_KIND_FREE_ALIGNED_SIZED || kind == MT_KIND_MUNMAP;
}

SEC("uprobe")
int mt_libc_session(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct mt_regs r;

	/* frees are half the calls: they skip asking whether this is a return */
	if (!mt_entry_only(MT_COOKIE_KIND(cookie)) && bpf_session_is_return()) {
		mt_exit(ctx);
		return 0;
	}
	mt_regs_of(ctx, &r);
	return mt_entry(&r, cookie, false);
}

SEC("uprobe")
int mt_libc_entry(struct pt_regs *ctx)
{
	struct mt_regs r;

	mt_regs_of(ctx, &r);
	mt_entry(&r, bpf_get_attach_cookie(ctx), false);
	return 0;
}

SEC("uretprobe")
int mt_libc_return(struct pt_regs *ctx)
{
	mt_exit(ctx);
	return 0;
}

/*
 * Benchmark floors (--floor): the same traps at the same places as full
 * tracing, with no work in them. "return" keeps the return probe of the
 * allocating functions, "entry" skips every return probe.
 */
SEC("uprobe")
int mt_floor_return(struct pt_regs *ctx)
{
	if (bpf_session_is_return())
		return 0;
	switch (MT_COOKIE_KIND(bpf_get_attach_cookie(ctx))) {
	case MT_KIND_FREE:
	case MT_KIND_MUNMAP:
	case MT_KIND_FREE_SIZED:
	case MT_KIND_FREE_ALIGNED_SIZED:
		return 1;
	default:
		return 0;
	}
}

SEC("uprobe")
int mt_floor_entry(struct pt_regs *ctx)
{
	return 1;
}
