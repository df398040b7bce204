/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The x86-64 instructions probe planning has to understand, from bytes:
 * the few forms found at allocator entries (to move a probe past them),
 * calls and jumps with 32-bit displacements (to find call sites and PLT
 * stubs), and CPython's inlined-allocator test. Not a general decoder:
 * anything it does not know is MT_INSN_UNKNOWN, which keeps a probe where
 * it is. Pure functions, no I/O; the ones called for every byte of a
 * library's code are inline.
 */
#ifndef MT_INSN_X86_H
#define MT_INSN_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include "mt_abi.h"

/* Argument registers, as bits of args_read/writes. */
#define MT_INSN_RDI 0x1u
#define MT_INSN_RSI 0x2u
#define MT_INSN_RDX 0x4u
#define MT_INSN_RCX 0x8u
#define MT_INSN_RBP 0x10u /* where the frame-pointer walk starts */
#define MT_INSN_RSP 0x20u /* never passed: [SP] is the return address */

enum mt_insn_class {
	MT_INSN_UNKNOWN = 0, /* stop: stay where we are */
	MT_INSN_EMULATED,    /* the kernel emulates it (push, nop, jmp, jcc): probe here */
	MT_INSN_FLAGS,	     /* writes only flags, or a register no probe reads */
	MT_INSN_SYSCALL,     /* the system call itself: only an entry-only release may pass it */
};

/*
 * Decode the instruction at b[0..n). Sets *len (bytes) unless UNKNOWN and
 * *writes (argument registers it writes, MT_INSN_*). An instruction longer
 * than n bytes is UNKNOWN.
 */
enum mt_insn_class mt_insn__decode(const unsigned char *b, size_t n, size_t *len,
				   unsigned int *writes);

/* Argument registers the probe of kind reads (MT_INSN_*). */
unsigned int mt_insn__args_read(enum mt_kind kind);

/* The little-endian 32-bit displacement at p. */
static inline __s32 mt_insn__rel32(const unsigned char *p)
{
	__s32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bytes of a function's entry mt_insn__probe_site needs. */
#define MT_INSN_ENTRY_BYTES 64

/*
 * Where to probe a function of kind whose first n bytes are b: the byte
 * distance from its start. *slow: the probed instruction is single-stepped
 * (not emulated); *flags: cookie flags BPF needs there (MT_COOKIE_PRODUCT).
 * The probe moves past leading instructions only while they touch nothing
 * the probe reads (its argument registers, %rsp, the return address at
 * [SP]) and cannot branch, and stops at the first emulated one. Fewer than
 * MT_INSN_ENTRY_BYTES bytes: 0, slow.
 */
size_t mt_insn__probe_site(const unsigned char *b, size_t n, enum mt_kind kind, bool *slow,
			   __u64 *flags);

/*
 * A `call rel32` (e8) at b[0..n): true and *rel set. Any e8 byte matches;
 * callers accept that a stray one only yields a call nobody makes.
 */
static inline bool mt_insn__call_rel32(const unsigned char *b, size_t n, __s32 *rel)
{
	if (n < 5 || b[0] != 0xe8)
		return false;
	*rel = mt_insn__rel32(b + 1);
	return true;
}

/* A `jmp *disp32(%rip)` (ff 25) at b[0..n): true and *disp set (from the next insn). */
static inline bool mt_insn__jmp_rip(const unsigned char *b, size_t n, __s32 *disp)
{
	if (n < 6 || b[0] != 0xff || b[1] != 0x25)
		return false;
	*disp = mt_insn__rel32(b + 2);
	return true;
}

/*
 * Start of the PLT stub whose jmp is at b + at: back over a bnd prefix (f2)
 * and an endbr64 (f3 0f 1e fa) before it, as in .plt.sec entries.
 */
size_t mt_insn__stub_start(const unsigned char *b, size_t at);

/*
 * CPython built with LTO+PGO inlines pymalloc at call sites; its own
 * PyObject_Malloc thunk shows the pattern: a RIP-relative load into %rax
 * (48 8b 05) followed by cmp $imm32,%rax (48 3d). True when the first n
 * bytes of the function have it.
 */
bool mt_insn__pymalloc_inlined(const unsigned char *b, size_t n);

#endif
