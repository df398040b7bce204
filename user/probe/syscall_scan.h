/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The system calls inside a C library's mmap, munmap and mremap wrappers.
 * System call tracepoints see those calls without a uprobe's trap; one
 * counts only when the user IP after it is one of these sites (struct
 * mt_sys_site), and BPF steps out of the wrapper with the site's CFI rule
 * to find the caller.
 */
#ifndef MT_SYSCALL_SCAN_H
#define MT_SYSCALL_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "proc/elf.h"

#define MT_MAX_PLAN_SYSCALLS 8
#define MT_SYSCALL_BODY_MAX 512 /* bytes of a wrapper scanned; larger ones keep their uprobe */

/* A system call in the library's mmap, munmap or mremap (see mt_sys_site). */
struct mt_plan_syscall {
	__u64 offset; /* file offset of the instruction after it */
	struct mt_sys_site site;
};

/* Can calls of kind be seen by system call tracepoints (mmap, munmap, mremap)? */
bool mt_syscall_scan__by_syscall(enum mt_kind kind);

/*
 * Offsets in body[0..n) of the bytes of `syscall` (0f 05). A pair that is
 * really part of a longer instruction only adds a site no system call can
 * return to, so no decoder is needed. Stores at most max offsets; returns
 * how many pairs there are (which may be more).
 */
size_t mt_syscall_scan__find(const unsigned char *body, size_t n, size_t *at, size_t max);

/* The CFI rule at ELF vaddr pc (mt_cfi__rule, or a table in tests). */
typedef bool (*mt_syscall_rule_fn)(void *ctx, __u64 pc, struct mt_frame_rule *rule);

/* A function whose system calls are wanted. */
struct mt_syscall_func {
	enum mt_kind kind;
	__u64 vaddr;  /* ELF vaddr of its first byte */
	__u64 offset; /* file offset of its first byte */
	const unsigned char *body;
	size_t size; /* bytes in body (the symbol's size) */
};

/*
 * The sites of f's system calls, written to out[0..max). Each needs its IP
 * inside exec (the code segment) and a rule (CFA = %rsp + N, N >= 8, at the
 * syscall instruction); the rule stored is relative to SP at the system
 * call (cfa - 8). Returns how many, or 0, writing nothing usable, when f
 * has no system call, one lacks a rule, or there are more than max.
 */
size_t mt_syscall_scan__sites(const struct mt_syscall_func *f, const struct mt_elf_load *exec,
			      mt_syscall_rule_fn rule, void *ctx, struct mt_plan_syscall *out,
			      size_t max);

#endif
