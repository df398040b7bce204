/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CFI rules for BPF's frame stepping: the caller's CFA and saved %rbp at
 * an instruction, from the file's .eh_frame/.debug_frame (libdw), in the
 * one shape BPF can apply (struct mt_frame_rule: CFA = %rsp + cfa, %rbp
 * saved at CFA + rbp or not saved).
 *
 * Used for the calls a C library makes to its own allocating functions
 * (strdup -> malloc): the site BPF sees is inside the library, so it steps
 * out one frame with the rule at that call's return address.
 */
#ifndef MT_CFI_H
#define MT_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "proc/elf.h"

#define MT_MAX_FRAME_RULES 4096

/* The rule at one return address, keyed as BPF looks it up. */
struct mt_plan_rule {
	struct mt_frame_key key;
	struct mt_frame_rule rule;
};

/*
 * Translate CFA and %rbp rules as libdw gives them (dwarf_frame_cfa,
 * dwarf_frame_register for DWARF register 6) to *rule. The CFA must be
 * DW_OP_bregx 7 (%rsp) + N with N >= 0; %rbp either has no CFA-based rule
 * (rbp = 0: not saved) or is DW_OP_call_frame_cfa followed by
 * DW_OP_plus_uconst N or DW_OP_consts N, DW_OP_plus. False otherwise.
 */
bool mt_cfi__rule_from_ops(const Dwarf_Op *cfa, size_t ncfa, const Dwarf_Op *rbp, size_t nrbp,
			   struct mt_frame_rule *rule);

/* The rule at ELF vaddr pc, from cfi. False when there is none or it is not simple. */
bool mt_cfi__rule(Dwarf_CFI *cfi, __u64 pc, struct mt_frame_rule *rule);

/*
 * The rules of every call in elf to one of the functions (names[i] at ELF
 * vaddr addrs[i], 0 when the file does not define it), directly (call
 * rel32) or through the file's own PLT (a jmp through the GOT slot that a
 * JUMP_SLOT or GLOB_DAT relocation of names[i] fills). Keys are relative
 * to exec, the file's code segment (its memsz must fit a __u32). Writes at
 * most max rules; returns how many.
 */
size_t mt_cfi__call_rules(const struct mt_elf *elf, Dwarf_CFI *cfi, const struct mt_elf_load *exec,
			  const char *const *names, const __u64 *addrs, size_t n,
			  struct mt_plan_rule *rules, size_t max);

#endif
