// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * x86-64 instruction forms for probe placement.
 *
 * Placement: a uprobe on an instruction the kernel emulates (push, nop)
 * costs ~0.7 us per hit here, one it must single-step ~10 us. glibc's free
 * starts with `test %rdi,%rdi; je ...; push %rbp`: probing the push at +9
 * misses only free(NULL), which is a no-op, and still sees %rdi and the
 * return address at [SP]. The bytes are checked before the probe moves.
 */
#include <string.h>
#include "probe/insn_x86.h"

unsigned int mt_insn__args_read(enum mt_kind kind)
{
	switch (kind) {
	case MT_KIND_CALLOC:
	case MT_KIND_REALLOC:
	case MT_KIND_XALLOCX:
		return MT_INSN_RDI | MT_INSN_RSI;
	case MT_KIND_REALLOCARRAY:
		return MT_INSN_RDI | MT_INSN_RSI | MT_INSN_RDX;
	case MT_KIND_POSIX_MEMALIGN:
		return MT_INSN_RDI | MT_INSN_RDX;
	case MT_KIND_ALIGNED_ALLOC:
	case MT_KIND_MEMALIGN:
		return MT_INSN_RSI;
	case MT_KIND_MMAP:
		return MT_INSN_RSI | MT_INSN_RCX;
	case MT_KIND_MREMAP:
		return MT_INSN_RDI | MT_INSN_RDX;
	default:
		return MT_INSN_RDI;
	}
}

/* The MT_INSN_* bit of register number r (REX bit included); 0 for one no probe reads. */
static unsigned int reg_bit(unsigned int r)
{
	switch (r) {
	case 1:
		return MT_INSN_RCX;
	case 2:
		return MT_INSN_RDX;
	case 4:
		return MT_INSN_RSP;
	case 5:
		return MT_INSN_RBP;
	case 6:
		return MT_INSN_RSI;
	case 7:
		return MT_INSN_RDI;
	default:
		return 0;
	}
}

/*
 * Bytes of a ModRM operand (the ModRM byte, a SIB byte, a displacement)
 * at b[0..n), 0 when cut short.
 */
static size_t modrm_len(const unsigned char *b, size_t n)
{
	unsigned int mod, rm;
	size_t len = 1;

	if (n < 1)
		return 0;
	mod = b[0] >> 6;
	rm = b[0] & 7;
	if (mod != 3 && rm == 4) {
		if (n < 2)
			return 0;
		len++;
		if (mod == 0 && (b[1] & 7) == 5)
			len += 4; /* SIB with no base: disp32 */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len <= n ? len : 0;
}

/*
 * Register-to-register and load forms of the integer ALU and mov opcodes,
 * with a REX prefix or none (and a %fs/%gs prefix on a load): the
 * register written (as a MT_INSN_* bit) or, for cmp and test, none.
 * Memory destinations are UNKNOWN: a store could hit the return address.
 */
static enum mt_insn_class decode_alu(const unsigned char *b, size_t n, size_t *len,
				     unsigned int *writes)
{
	size_t i = 0, m, imm = 0;
	unsigned int rex = 0, op, mod, reg, rm;
	bool to_rm, flags_only = false;

	if (i < n && (b[i] == 0x64 || b[i] == 0x65))
		i++;
	if (i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 1 >= n)
		return MT_INSN_UNKNOWN;
	op = b[i++];
	mod = b[i] >> 6;
	reg = ((b[i] >> 3) & 7) | (rex & 4 ? 8 : 0);
	rm = (b[i] & 7) | (rex & 1 ? 8 : 0);
	switch (op) {
	case 0x01: /* add, or, and, sub, xor, mov: r/m <- reg */
	case 0x09:
	case 0x21:
	case 0x29:
	case 0x31:
	case 0x89:
		to_rm = true;
		break;
	case 0x03: /* the same: reg <- r/m */
	case 0x0b:
	case 0x23:
	case 0x2b:
	case 0x33:
	case 0x8b:
	case 0x8d: /* lea: reads no memory */
		to_rm = false;
		break;
	case 0x39: /* cmp, test */
	case 0x3b:
	case 0x85:
		to_rm = false;
		flags_only = true;
		break;
	case 0x81: /* group 1 with imm32 / imm8: /7 is cmp */
	case 0x83:
		to_rm = true;
		imm = op == 0x81 ? 4 : 1;
		flags_only = ((reg & 7) == 7);
		break;
	case 0xc7: /* mov $imm32,r/m (/0) */
		if ((reg & 7) != 0)
			return MT_INSN_UNKNOWN;
		to_rm = true;
		imm = 4;
		break;
	case 0xc1: /* shifts by imm8 */
		to_rm = true;
		imm = 1;
		break;
	case 0xf7: /* mul r/m (glibc 2.43's calloc: mov %rdi,%rax; mul %rsi; jo) */
		if ((reg & 7) != 4 || mod != 3)
			return MT_INSN_UNKNOWN;
		m = modrm_len(b + i, n - i);
		*len = i + m;
		*writes = MT_INSN_RDX; /* and %rax */
		return MT_INSN_FLAGS;
	default:
		return MT_INSN_UNKNOWN;
	}
	m = modrm_len(b + i, n - i);
	if (!m || i + m + imm > n)
		return MT_INSN_UNKNOWN;
	if (to_rm && mod != 3 && !flags_only)
		return MT_INSN_UNKNOWN; /* a store */
	*len = i + m + imm;
	if (!flags_only)
		*writes = reg_bit(to_rm ? rm : reg);
	return MT_INSN_FLAGS;
}

enum mt_insn_class mt_insn__decode(const unsigned char *b, size_t n, size_t *len,
				   unsigned int *writes)
{
	enum mt_insn_class cls;

	*writes = 0;
	if (n < 1)
		return MT_INSN_UNKNOWN;
	/* push %reg, nop */
	if ((b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90) {
		*len = 1;
		return MT_INSN_EMULATED;
	}
	/* jcc rel8, jmp rel8 */
	if (n >= 2 && ((b[0] >= 0x70 && b[0] <= 0x7f) || b[0] == 0xeb)) {
		*len = 2;
		return MT_INSN_EMULATED;
	}
	/* jmp rel32 */
	if (n >= 5 && b[0] == 0xe9) {
		*len = 5;
		return MT_INSN_EMULATED;
	}
	/* push %r8..%r15 */
	if (n >= 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) {
		*len = 2;
		return MT_INSN_EMULATED;
	}
	/* jcc rel32 */
	if (n >= 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f) {
		*len = 6;
		return MT_INSN_EMULATED;
	}
	/* endbr64: a no-op to everything but indirect branches */
	if (n >= 4 && !memcmp(b, "\xf3\x0f\x1e\xfa", 4)) {
		*len = 4;
		return MT_INSN_FLAGS;
	}
	/* cmpb $imm8, disp32(%rip): flags */
	if (n >= 7 && b[0] == 0x80 && b[1] == 0x3d) {
		*len = 7;
		return MT_INSN_FLAGS;
	}
	/* cmpb $imm8, %fs:disp8(%reg) (tcmalloc's calloc): flags */
	if (n >= 5 && b[0] == 0x64 && b[1] == 0x80 && (b[2] & 0xf8) == 0x78 && (b[2] & 7) != 4) {
		*len = 5;
		return MT_INSN_FLAGS;
	}
	/* test $imm32, %r9d: flags */
	if (n >= 7 && b[0] == 0x41 && b[1] == 0xf7 && b[2] == 0xc1) {
		*len = 7;
		return MT_INSN_FLAGS;
	}
	/* cmp $imm32,%rax: flags */
	if (n >= 6 && b[0] == 0x48 && b[1] == 0x3d) {
		*len = 6;
		return MT_INSN_FLAGS;
	}
	/* and $imm32,%eax: writes %rax */
	if (n >= 5 && b[0] == 0x25) {
		*len = 5;
		return MT_INSN_FLAGS;
	}
	/* syscall: writes %rax, %rcx, %r11 */
	if (n >= 2 && b[0] == 0x0f && b[1] == 0x05) {
		*len = 2;
		*writes = MT_INSN_RCX;
		return MT_INSN_SYSCALL;
	}
	/* mov $imm32,%r32: writes the register */
	if (n >= 5 && b[0] >= 0xb8 && b[0] <= 0xbf) {
		*len = 5;
		*writes = reg_bit(b[0] - 0xb8u);
		cls = MT_INSN_FLAGS;
	} else {
		cls = decode_alu(b, n, len, writes);
	}
	if (*writes & MT_INSN_RSP)
		cls = MT_INSN_UNKNOWN;
	if (cls == MT_INSN_UNKNOWN)
		*writes = 0;
	return cls;
}

/*
 * glibc examples: posix_memalign/valloc/pvalloc "cmpb $0,x(%rip); push"
 * -> +7, memalign "cmpb; je" -> +7, mmap "mov %ecx,%r10d; test
 * $0xfff,%r9d; jne" -> +10, munmap "mov $11,%eax; syscall; cmp; jae" ->
 * +13 (after the system call: a release needs nothing from before it).
 */
size_t mt_insn__probe_site(const unsigned char *b, size_t n, enum mt_kind kind, bool *slow,
			   __u64 *flags)
{
	size_t off = 0, len;
	unsigned int writes;

	*slow = true;
	*flags = 0;
	if (n < MT_INSN_ENTRY_BYTES)
		return 0;
	/* glibc free: test %rdi,%rdi; je rel32; push %rbp (validated: free(NULL) is a no-op) */
	if (kind == MT_KIND_FREE && !memcmp(b, "\x48\x85\xff\x0f\x84", 5) && b[9] == 0x55) {
		*slow = false;
		return 9;
	}
	/*
	 * glibc reallocarray: mov %rsi,%rax; mul %rdx; mov %rax,%rsi; jo fail;
	 * jmp realloc. Every call reaches the jo (+9, emulated) with %rdi and
	 * [SP] intact, %rsi = nmemb * size and OF set when that overflowed (the
	 * call then fails with ENOMEM and the block stays): the probe there
	 * reads those instead (MT_COOKIE_PRODUCT) and skips nothing that
	 * allocates or frees. Its arguments are not intact there, so the
	 * general rule below would keep it at +0, single-stepped.
	 */
	if (kind == MT_KIND_REALLOCARRAY &&
	    !memcmp(b, "\x48\x89\xf0\x48\xf7\xe2\x48\x89\xc6\x70", 10)) {
		*slow = false;
		*flags = MT_COOKIE_PRODUCT;
		return 9;
	}
	while (off < n) { /* one cut short by the end of b is UNKNOWN */
		switch (mt_insn__decode(b + off, n - off, &len, &writes)) {
		case MT_INSN_EMULATED:
			*slow = false;
			return off;
		case MT_INSN_SYSCALL:
			/*
			 * munmap's probe only releases what it unmapped: seeing
			 * the call just after the syscall (arguments and [SP]
			 * intact, both outcomes pass there) loses nothing.
			 */
			if (kind != MT_KIND_MUNMAP)
				return 0;
			/* fall through */
		case MT_INSN_FLAGS:
			/* %rbp too: the frame-pointer walk starts from it */
			if (writes & (mt_insn__args_read(kind) | MT_INSN_RBP))
				return 0;
			off += len;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

size_t mt_insn__stub_start(const unsigned char *b, size_t at)
{
	if (at >= 1 && b[at - 1] == 0xf2)
		at--;
	if (at >= 4 && !memcmp(b + at - 4, "\xf3\x0f\x1e\xfa", 4))
		at -= 4;
	return at;
}

bool mt_insn__pymalloc_inlined(const unsigned char *b, size_t n)
{
	bool load = false, cmp = false;

	for (size_t i = 0; i + 6 <= n; i++) {
		load |= b[i] == 0x48 && b[i + 1] == 0x8b && b[i + 2] == 0x05;
		cmp |= load && b[i] == 0x48 && b[i + 1] == 0x3d;
	}
	return cmp;
}
