// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * System call sites of the mmap family: every 0f 05 in the wrapper's body,
 * each with the rule that steps out of the wrapper. All or nothing: a
 * wrapper with one site BPF could not attribute keeps its uprobe.
 */
#include "probe/syscall_scan.h"

bool mt_syscall_scan__by_syscall(enum mt_kind kind)
{
	return kind == MT_KIND_MMAP || kind == MT_KIND_MUNMAP || kind == MT_KIND_MREMAP;
}

size_t mt_syscall_scan__find(const unsigned char *body, size_t n, size_t *at, size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i + 2 <= n; i++) {
		if (body[i] != 0x0f || body[i + 1] != 0x05)
			continue;
		if (found < max)
			at[found] = i;
		found++;
	}
	return found;
}

size_t mt_syscall_scan__sites(const struct mt_syscall_func *f, const struct mt_elf_load *exec,
			      mt_syscall_rule_fn rule, void *ctx, struct mt_plan_syscall *out,
			      size_t max)
{
	size_t at[MT_MAX_PLAN_SYSCALLS], n;

	if (!exec || !exec->memsz || f->size < 2 || f->size > MT_SYSCALL_BODY_MAX)
		return 0;
	n = mt_syscall_scan__find(f->body, f->size, at, MT_MAX_PLAN_SYSCALLS);
	if (n > max || n > MT_MAX_PLAN_SYSCALLS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		__u64 pc = f->vaddr + at[i], ip = pc + 2;
		struct mt_plan_syscall *sc = &out[i];

		if (ip < exec->vaddr || ip - exec->vaddr >= exec->memsz ||
		    !rule(ctx, pc, &sc->site.rule) || sc->site.rule.cfa < 8)
			return 0;
		sc->offset = f->offset + at[i] + 2;
		sc->site.kind = f->kind;
		sc->site.seg_off = (__u32)(ip - exec->vaddr);
		sc->site.seg_size = (__u32)exec->memsz;
		sc->site.pad = 0;
		sc->site.rule.cfa -= 8; /* CFA = SP at the system call + 8 + cfa */
	}
	return n;
}
