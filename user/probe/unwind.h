/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The user-space half of the CFI unwinder (README "Stacks without frame
 * pointers"): BPF walks a native stack by rules keyed by return address
 * (struct mt_unwind_rule) and, at an address it has no rule for, copies
 * the stack. This module unwinds such a copy and yields the rule of every
 * frame it crosses, in the one shape BPF applies:
 *
 *   mt_unwind__rule   the rule at a code address, from a file's CFI (libdw:
 *                     .eh_frame or .debug_frame);
 *   mt_unwind__walk   the frames of a copied stack, given the rules: pure,
 *                     no file and no libdw, so every byte it reads comes
 *                     from the copy and is bounds-checked;
 *   mt_unwind_proc    where a process's rules come from: its modules
 *                     (/proc/PID/maps), their files and CFI, opened once.
 *
 * Applying the same rules in both halves means a stack unwound here is the
 * stack BPF finds on that path later, frame for frame.
 */
#ifndef MT_UNWIND_H
#define MT_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <elfutils/libdw.h>
#include <linux/types.h>
#include "mt_abi.h"

/*
 * The rule of the frame executing at ELF vaddr in cfi. exact: vaddr is an
 * interrupted instruction (after a signal frame), not a return address
 * (looked up at vaddr - 1, inside the call). Always fills *rule: SP or BP
 * (CFA = register + offset, return address at CFA - 8, %rbp saved at a
 * CFA offset or left alone), SIGNAL (a signal trampoline: the CIE's 'S'),
 * END (the return address is undefined: the outermost frame) or STOP (no
 * FDE, or a rule BPF cannot apply: a DWARF expression, a return address
 * elsewhere than CFA - 8, %rbp in another register).
 */
void mt_unwind__rule(Dwarf_CFI *cfi, __u64 vaddr, bool exact, struct mt_unwind_rule *rule);

/*
 * Translate the CFA and the return-address and %rbp rules, as
 * dwarf_frame_cfa and dwarf_frame_register give them, to *rule (SP, BP,
 * END or STOP). ra_ops/rbp_ops NULL with n 0: "same value"; non-NULL with
 * n 0: "undefined".
 */
void mt_unwind__rule_from_ops(const Dwarf_Op *cfa, size_t ncfa, const Dwarf_Op *ra, size_t nra,
			      const Dwarf_Op *rbp, size_t nrbp, struct mt_unwind_rule *rule);

/*
 * The rule at process address pc (exact as above); false when nothing is
 * known about pc (no module there): the walk ends without a rule.
 */
typedef bool (*mt_unwind_rule_fn)(void *ctx, __u64 pc, bool exact, struct mt_unwind_rule *rule);

/* len bytes of a stack that lay at sp..sp+len in the process. */
struct mt_unwind_copy {
	__u64 sp;
	const __u8 *data;
	size_t len;
};

/* One frame: where it executes and the rule that steps out of it (kind 0: none). */
struct mt_unwind_frame {
	__u64 pc;
	struct mt_unwind_rule rule;
};

/* Why a walk ended. */
enum mt_unwind_end {
	MT_UNWIND_ENDED_OUTERMOST, /* an END rule, or a zero return address */
	MT_UNWIND_ENDED_NO_CFI,	   /* a STOP rule, or no module at pc */
	MT_UNWIND_ENDED_MEMORY,	   /* the next read lies outside the copy */
	MT_UNWIND_ENDED_BAD_FRAME, /* a CFA at or below the frame's %rsp: not a stack */
	MT_UNWIND_ENDED_DEPTH,	   /* max frames */
};

/*
 * Walk the copied stack from pc (a return address) with %rsp = sp and
 * %rbp = bp there. frames[0].pc = pc; frames[i + 1].pc is the address
 * frames[i]'s rule steps to (a return address, or after a SIGNAL rule the
 * interrupted instruction). Every frame but maybe the last has its rule;
 * the last has one when it ended the walk (END, STOP) or when only the
 * memory was missing. Writes at most max frames; returns how many.
 */
size_t mt_unwind__walk(__u64 pc, __u64 sp, __u64 bp, const struct mt_unwind_copy *mem,
		       mt_unwind_rule_fn rule_fn, void *ctx, struct mt_unwind_frame *frames,
		       size_t max, enum mt_unwind_end *end);
/*
 * The same from pc, an interrupted instruction (a page fault) when
 * exact_pc: its rule is looked up at pc, not at pc - 1.
 */
size_t mt_unwind__walk_from(__u64 pc, bool exact_pc, __u64 sp, __u64 bp,
			    const struct mt_unwind_copy *mem, mt_unwind_rule_fn rule_fn, void *ctx,
			    struct mt_unwind_frame *frames, size_t max, enum mt_unwind_end *end);

/* ---- rules of a live process ---- */

struct mt_unwind_proc;

/*
 * The modules pid maps now, as rules are asked for: a module's file is
 * opened (proc/files.h: its mount namespace, its inode) and its CFI loaded
 * the first time an address in it is. NULL with errno set on failure
 * (-ESRCH: gone).
 */
struct mt_unwind_proc *mt_unwind_proc__new(pid_t pid);
/* Accepts NULL. */
void mt_unwind_proc__free(struct mt_unwind_proc *p);
/* Load the .eh_frame of every module now (before the process runs: no wait at its first stack). */
void mt_unwind_proc__load(struct mt_unwind_proc *p);
/* Read the process's maps again (new libraries); 0 or a negative errno. */
int mt_unwind_proc__refresh(struct mt_unwind_proc *p);
/* An mt_unwind_rule_fn over a struct mt_unwind_proc. */
bool mt_unwind_proc__rule(void *proc, __u64 pc, bool exact, struct mt_unwind_rule *rule);

#endif
