// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Probe planning for the C library's allocator.
 *
 * Symbols come from .symtab, else .dynsym; a symbol's file offset is taken
 * from the PT_LOAD segment that holds it. Functions that are aliases at one
 * address (glibc's aligned_alloc and memalign) are probed once.
 *
 * Placement: a uprobe on an instruction the kernel emulates (push, nop)
 * costs ~0.7 us per hit here, one it must single-step ~10 us. glibc's free
 * starts with `test %rdi,%rdi; je ...; push %rbp`: probing the push at +9
 * misses only free(NULL), which is a no-op, and still sees %rdi and the
 * return address at [SP]. The bytes are checked before the probe moves.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "probe/attach.h"
#include "proc/elf.h"
#include "proc/files.h"
#include "lib/log.h"
#include "mt_abi.h"

struct kind_desc {
	enum mt_kind kind;
	const char *name;
	bool needs_return;
	bool required;
};

/* Order matters for aliases: the first kind at an address wins. */
static const struct kind_desc kinds[] = {
    {MT_KIND_MALLOC, "malloc", true, true},
    {MT_KIND_CALLOC, "calloc", true, false},
    {MT_KIND_REALLOC, "realloc", true, false},
    {MT_KIND_REALLOCARRAY, "reallocarray", true, false},
    {MT_KIND_POSIX_MEMALIGN, "posix_memalign", true, false},
    {MT_KIND_MEMALIGN, "memalign", true, false},
    {MT_KIND_ALIGNED_ALLOC, "aligned_alloc", true, false},
    {MT_KIND_VALLOC, "valloc", true, false},
    {MT_KIND_PVALLOC, "pvalloc", true, false},
    {MT_KIND_MMAP, "mmap", true, false},
    {MT_KIND_MREMAP, "mremap", true, false},
    {MT_KIND_FREE, "free", false, true},
    {MT_KIND_MUNMAP, "munmap", false, false},
    {MT_KIND_FREE_SIZED, "free_sized", false, false},
    {MT_KIND_FREE_ALIGNED_SIZED, "free_aligned_sized", false, false},
};

#define NR_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/*
 * CPython's allocator domains (--python-allocators). Same argument layouts
 * as malloc/calloc/realloc/free; a call that reaches libc underneath is
 * nested and counts once, here.
 */
static const struct kind_desc py_kinds[] = {
    {MT_KIND_MALLOC, "PyMem_RawMalloc", true, true},
    {MT_KIND_CALLOC, "PyMem_RawCalloc", true, false},
    {MT_KIND_REALLOC, "PyMem_RawRealloc", true, false},
    {MT_KIND_FREE, "PyMem_RawFree", false, true},
    {MT_KIND_MALLOC, "PyMem_Malloc", true, false},
    {MT_KIND_CALLOC, "PyMem_Calloc", true, false},
    {MT_KIND_REALLOC, "PyMem_Realloc", true, false},
    {MT_KIND_FREE, "PyMem_Free", false, false},
    {MT_KIND_MALLOC, "PyObject_Malloc", true, false},
    {MT_KIND_CALLOC, "PyObject_Calloc", true, false},
    {MT_KIND_REALLOC, "PyObject_Realloc", true, false},
    {MT_KIND_FREE, "PyObject_Free", false, false},
};

#define MAX_KINDS 32

struct elf_file {
	struct mt_elf e;
	const struct kind_desc *tab;
	size_t ntab;
	GElf_Addr sym[MAX_KINDS];   /* 0 = not found */
	GElf_Xword size[MAX_KINDS]; /* the symbol's size, 0 = unknown */
	GElf_Addr exec_vaddr, exec_memsz;
};

static void elf_file__close(struct elf_file *f)
{
	mt_elf__close(&f->e);
}

static int elf_file__open(struct elf_file *f, const char *path, const struct kind_desc *tab,
			  size_t ntab)
{
	struct mt_elf_sym syms[MAX_KINDS];
	const struct mt_elf_load *exec;
	int err;

	memset(f, 0, sizeof(*f));
	f->tab = tab;
	f->ntab = ntab < MAX_KINDS ? ntab : MAX_KINDS;
	err = mt_elf__open(&f->e, path);
	if (err)
		return err;
	exec = mt_elf__exec_load(&f->e);
	if (exec) {
		f->exec_vaddr = exec->vaddr;
		f->exec_memsz = exec->memsz;
	}
	for (size_t k = 0; k < f->ntab; k++)
		syms[k] = (struct mt_elf_sym){.name = tab[k].name};
	/* .symtab first: it also has local aliases; .dynsym fills the gaps */
	mt_elf__find_syms(&f->e, syms, f->ntab, MT_ELF_FUNC, MT_ELF_SYMTAB_FIRST);
	for (size_t k = 0; k < f->ntab; k++) {
		f->sym[k] = syms[k].value;
		f->size[k] = syms[k].size;
		if (!syms[k].found && syms[k].skipped == STT_GNU_IFUNC)
			pr_warn("%s is an IFUNC resolver: not probed", syms[k].name);
	}
	return 0;
}

/* Argument registers each kind's probe reads (bit 0 = %rdi, 1 = %rsi, 2 = %rdx, 3 = %rcx). */
static unsigned int args_read(enum mt_kind kind)
{
	switch (kind) {
	case MT_KIND_CALLOC:
	case MT_KIND_REALLOC:
		return 0x3;
	case MT_KIND_REALLOCARRAY:
		return 0x7;
	case MT_KIND_POSIX_MEMALIGN:
		return 0x5;
	case MT_KIND_ALIGNED_ALLOC:
	case MT_KIND_MEMALIGN:
		return 0x2;
	case MT_KIND_MMAP:
		return 0xa;
	case MT_KIND_MREMAP:
		return 0x5;
	default:
		return 0x1;
	}
}

enum insn_class {
	INSN_UNKNOWN = 0, /* stop: stay where we are */
	INSN_EMULATED,	  /* the kernel emulates it: probe here */
	INSN_FLAGS,	  /* writes only flags, or a register no probe reads */
	INSN_SYSCALL,	  /* the system call itself: only an entry-only release may pass it */
};

/*
 * A decoder for the few instruction forms found at allocator entries.
 * Anything else is INSN_UNKNOWN, which keeps the probe where it is.
 * Sets *len and, for INSN_FLAGS, *writes (argument registers written,
 * bits as in args_read()).
 */
static enum insn_class decode(const unsigned char *b, size_t n, size_t *len, unsigned int *writes)
{
	*writes = 0;
	if (n < 1)
		return INSN_UNKNOWN;
	/* push %reg, push %r8..%r15, nop, jmp/jcc rel8, jmp rel32 */
	if ((b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90 || (b[0] >= 0x70 && b[0] <= 0x7f) ||
	    b[0] == 0xeb || b[0] == 0xe9) {
		*len = 1;
		return INSN_EMULATED;
	}
	if (n >= 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) {
		*len = 2;
		return INSN_EMULATED;
	}
	/* jcc rel32 */
	if (n >= 2 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f) {
		*len = 6;
		return INSN_EMULATED;
	}
	/* cmpb $imm8, disp32(%rip): flags */
	if (n >= 7 && b[0] == 0x80 && b[1] == 0x3d) {
		*len = 7;
		return INSN_FLAGS;
	}
	/* test %rdi,%rdi / test %rsi,%rsi: flags */
	if (n >= 3 && b[0] == 0x48 && b[1] == 0x85 && (b[2] == 0xff || b[2] == 0xf6)) {
		*len = 3;
		return INSN_FLAGS;
	}
	/* test $imm32, %r9d: flags */
	if (n >= 7 && b[0] == 0x41 && b[1] == 0xf7 && b[2] == 0xc1) {
		*len = 7;
		return INSN_FLAGS;
	}
	/* mov %ecx,%r10d: writes %r10 */
	if (n >= 3 && b[0] == 0x41 && b[1] == 0x89 && b[2] == 0xca) {
		*len = 3;
		return INSN_FLAGS;
	}
	/* cmp $imm32,%rax: flags */
	if (n >= 6 && b[0] == 0x48 && b[1] == 0x3d) {
		*len = 6;
		return INSN_FLAGS;
	}
	/* syscall: writes %rax, %rcx, %r11 */
	if (n >= 2 && b[0] == 0x0f && b[1] == 0x05) {
		*len = 2;
		*writes = 0x8;
		return INSN_SYSCALL;
	}
	/* mov $imm32,%eax: writes %rax */
	if (n >= 5 && b[0] == 0xb8) {
		*len = 5;
		return INSN_FLAGS;
	}
	return INSN_UNKNOWN;
}

/*
 * Where to put the probe of a function: returns the byte distance from the
 * function start, sets *slow when the probed instruction is not one the
 * kernel emulates and *flags to what the probe's cookie must tell BPF. The probe moves past leading
 * instructions only while they touch nothing the probe reads (the argument registers of this kind,
 * %rsp and the return address at [SP]) and cannot branch, so every call
 * still reaches it with its arguments intact; it stops at the first
 * instruction the kernel emulates (push, nop, jmp, jcc). glibc examples:
 * posix_memalign/valloc/pvalloc "cmpb $0,x(%rip); push" -> +7,
 * memalign "cmpb; je" -> +7, mmap "mov %ecx,%r10d; test $0xfff,%r9d; jne"
 * -> +10, munmap "mov $11,%eax; syscall; cmp; jae" -> +13 (after the
 * system call: a release needs nothing from before it).
 */
static __u64 place_probe(int fd, enum mt_kind kind, __u64 func_off, bool *slow, __u64 *flags)
{
	unsigned char b[32];
	size_t off = 0, len;
	unsigned int writes;

	*slow = true;
	*flags = 0;
	if (pread(fd, b, sizeof(b), (off_t)func_off) != (ssize_t)sizeof(b))
		return 0;
	/* glibc free: test %rdi,%rdi; je rel32; push %rbp (validated: free(NULL) is a no-op) */
	if (kind == MT_KIND_FREE && b[0] == 0x48 && b[1] == 0x85 && b[2] == 0xff && b[3] == 0x0f &&
	    b[4] == 0x84 && b[9] == 0x55) {
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
	while (off < 24) {
		switch (decode(b + off, sizeof(b) - off, &len, &writes)) {
		case INSN_EMULATED:
			*slow = false;
			return off;
		case INSN_SYSCALL:
			/*
			 * munmap's probe only releases what it unmapped: seeing
			 * the call just after the syscall (arguments and [SP]
			 * intact, both outcomes pass there) loses nothing.
			 */
			if (kind != MT_KIND_MUNMAP)
				return 0;
			/* fall through */
		case INSN_FLAGS:
			if (writes & args_read(kind))
				return 0;
			off += len;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* Is d an allocating function (one whose caller becomes a site)? */
static bool allocating(const struct kind_desc *d)
{
	return d->needs_return && d->kind != MT_KIND_MMAP && d->kind != MT_KIND_MREMAP;
}

/*
 * GOT slots of the allocating functions, from the PLT and GOT relocations:
 * calls inside a shared C library go through its own PLT (malloc@plt) so
 * that another malloc can be interposed.
 */
static size_t plt_slots(struct elf_file *f, GElf_Addr *slots, size_t max)
{
	Elf_Scn *scn = NULL;
	size_t n = 0;

	while ((scn = elf_nextscn(f->e.elf, scn))) {
		GElf_Shdr sh, symsh;
		Elf_Data *data, *syms;
		Elf_Scn *symscn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		symscn = elf_getscn(f->e.elf, sh.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symsh))
			continue;
		data = elf_getdata(scn, NULL);
		syms = elf_getdata(symscn, NULL);
		if (!data || !syms)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && n < max; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			if (!gelf_getrela(data, i, &r) ||
			    (GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT &&
			     GELF_R_TYPE(r.r_info) != R_X86_64_GLOB_DAT) ||
			    !gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym))
				continue;
			name = elf_strptr(f->e.elf, symsh.sh_link, sym.st_name);
			for (size_t k = 0; name && k < f->ntab; k++)
				if (allocating(&f->tab[k]) && !strcmp(name, f->tab[k].name))
					slots[n++] = r.r_offset;
		}
	}
	return n;
}

/* Read a section's bytes; NULL if it has none. */
static const unsigned char *section_bytes(Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *d;

	if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS ||
	    !(sh->sh_flags & SHF_EXECINSTR))
		return NULL;
	d = elf_getdata(scn, NULL);
	return d && d->d_size == sh->sh_size ? d->d_buf : NULL;
}

static int rel32(const unsigned char *p)
{
	int v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Caller's CFA offset and saved %rbp at pc, from the CFI; false when not simple. */
static bool cfi_rule(Dwarf_CFI *cfi, GElf_Addr pc, struct mt_frame_rule *rule)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;
	bool ok = false;

	if (dwarf_cfi_addrframe(cfi, pc, &frame))
		return false;
	/* CFA = %rsp + N */
	if (dwarf_frame_cfa(frame, &ops, &nops) || nops != 1 || ops[0].atom != DW_OP_bregx ||
	    ops[0].number != 7)
		goto out;
	rule->cfa = (__s32)ops[0].number2;
	rule->rbp = 0;
	if (dwarf_frame_register(frame, 6, ops_mem, &ops, &nops))
		goto out;
	if (nops >= 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		if (nops == 2 && ops[1].atom == DW_OP_plus_uconst)
			rule->rbp = (__s32)(__s64)ops[1].number;
		else if (nops == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus)
			rule->rbp = (__s32)(__s64)ops[1].number;
		else
			goto out;
	}
	ok = rule->cfa >= 0;
out:
	free(frame);
	return ok;
}

/*
 * Every call from inside the library to one of its allocating functions
 * (directly or through its PLT), with the CFI rule that steps from that
 * call's return address to the function that made it.
 */
static void plan_rules(struct mt_plan *plan, struct elf_file *f, Dwarf_CFI *cfi)
{
	GElf_Addr slots[64], stubs[64], targets[MAX_KINDS + 64];
	size_t nslots, nstubs = 0, ntargets = 0;
	Elf_Scn *scn = NULL;

	if (!cfi || !f->exec_memsz)
		return;
	nslots = plt_slots(f, slots, 64);
	/*
	 * PLT stubs jump through a slot: jmp *disp32(%rip) (ff 25), maybe
	 * after bnd (f2) and endbr64 (f3 0f 1e fa) in .plt.sec entries.
	 */
	while ((scn = elf_nextscn(f->e.elf, scn))) {
		GElf_Shdr sh;
		const unsigned char *b = section_bytes(scn, &sh);
		if (!b || sh.sh_size < 6)
			continue;
		for (size_t i = 0; i + 6 <= sh.sh_size && nstubs < 64; i++) {
			GElf_Addr got;

			if (b[i] != 0xff || b[i + 1] != 0x25)
				continue;
			got = sh.sh_addr + i + 6 + rel32(b + i + 2);
			for (size_t j = 0; j < nslots && nstubs < 64; j++) {
				size_t at = i;

				if (got != slots[j])
					continue;
				if (at >= 1 && b[at - 1] == 0xf2)
					at--;
				if (at >= 4 && !memcmp(b + at - 4, "\xf3\x0f\x1e\xfa", 4))
					at -= 4;
				stubs[nstubs++] = sh.sh_addr + at;
			}
		}
	}
	for (size_t k = 0; k < f->ntab; k++)
		if (f->sym[k] && allocating(&f->tab[k]))
			targets[ntargets++] = f->sym[k];
	for (size_t i = 0; i < nstubs; i++)
		targets[ntargets++] = stubs[i];

	/* call rel32 (e8) to any target; a stray e8 byte only adds an unused rule */
	scn = NULL;
	while ((scn = elf_nextscn(f->e.elf, scn))) {
		GElf_Shdr sh;
		const unsigned char *b = section_bytes(scn, &sh);

		if (!b || sh.sh_size < 5)
			continue;
		for (size_t i = 0; i + 5 <= sh.sh_size; i++) {
			GElf_Addr at = sh.sh_addr + i, to;
			struct mt_plan_rule *r;

			if (b[i] != 0xe8)
				continue;
			to = at + 5 + rel32(b + i + 1);
			for (size_t j = 0; j < ntargets; j++) {
				if (to != targets[j] || plan->nr_rules == MT_MAX_FRAME_RULES)
					continue;
				if (at + 5 < f->exec_vaddr ||
				    at + 5 - f->exec_vaddr >= f->exec_memsz)
					continue;
				r = &plan->rules[plan->nr_rules];
				if (!cfi_rule(cfi, at + 4, &r->rule))
					continue;
				r->key.seg_size = (__u32)f->exec_memsz;
				r->key.off = (__u32)(at + 5 - f->exec_vaddr);
				plan->nr_rules++;
			}
		}
	}
}

/*
 * Where the kernel's view of a mapped file may not be (st_dev, st_ino) of
 * the file opened here: overlayfs maps the layer's file, btrfs numbers
 * devices per subvolume. System call sites are keyed by that identity.
 */
static const char *identity_unsure(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return "its file system is unknown";
	if (sfs.f_type == 0x794c7630) /* OVERLAYFS_SUPER_MAGIC */
		return "on overlayfs the kernel maps another inode than the one seen here";
	if (sfs.f_type == 0x9123683e) /* BTRFS_SUPER_MAGIC */
		return "on btrfs the kernel names the file's device differently";
	return NULL;
}

static bool by_syscall(enum mt_kind kind)
{
	return kind == MT_KIND_MMAP || kind == MT_KIND_MUNMAP || kind == MT_KIND_MREMAP;
}

/*
 * The system calls in the body of p (symbol k), for the system call
 * tracepoints that replace its uprobe (struct mt_sys_site). The body (the
 * symbol's size) is scanned for the bytes of `syscall`, 0f 05: a pair that
 * is really part of a longer instruction only adds a site no system call
 * can return to, so no decoder is needed. Each needs a simple CFI rule
 * (CFA = %rsp + N) to step out of the function; false, and nothing added,
 * when one has none or the body has no system call.
 */
static bool plan_syscalls(struct mt_plan *plan, struct elf_file *f, Dwarf_CFI *cfi, size_t k,
			  const struct mt_probe *p)
{
	unsigned char b[512];
	size_t n = f->size[k], first = plan->nr_syscalls;

	if (!cfi || !f->exec_memsz || n < 2 || n > sizeof(b) ||
	    pread(f->e.fd, b, n, (off_t)p->func_offset) != (ssize_t)n)
		return false;
	for (size_t i = 0; i + 2 <= n; i++) {
		GElf_Addr at = f->sym[k] + i, ip = at + 2;
		struct mt_plan_syscall *sc;
		struct mt_frame_rule rule;

		if (b[i] != 0x0f || b[i + 1] != 0x05)
			continue;
		if (plan->nr_syscalls == MT_MAX_PLAN_SYSCALLS || ip < f->exec_vaddr ||
		    ip - f->exec_vaddr >= f->exec_memsz || !cfi_rule(cfi, at, &rule) ||
		    rule.cfa < 8)
			goto fail;
		sc = &plan->syscalls[plan->nr_syscalls++];
		sc->offset = p->func_offset + i + 2;
		sc->site.kind = p->kind;
		sc->site.seg_off = (__u32)(ip - f->exec_vaddr);
		sc->site.seg_size = (__u32)f->exec_memsz;
		sc->site.rule = rule;
		sc->site.rule.cfa -= 8; /* CFA = SP at the system call + 8 + cfa */
	}
	if (plan->nr_syscalls > first)
		return true;
fail:
	plan->nr_syscalls = first;
	return false;
}

static int plan_file(struct mt_plan *plan, const char *path, const struct kind_desc *tab,
		     size_t ntab)
{
	struct elf_file f;
	Dwarf_CFI *cfi = NULL;
	int err;

	memset(plan, 0, sizeof(*plan));
	snprintf(plan->path, sizeof(plan->path), "%s", path);
	snprintf(plan->shown, sizeof(plan->shown), "%s", path);
	err = elf_file__open(&f, path, tab, ntab);
	if (err)
		return err;
	plan->inode = f.e.ino;
	plan->dev = f.e.dev;
	for (size_t k = 0; k < f.ntab; k++) {
		if (!f.sym[k] && f.tab[k].required) {
			err = -ENOENT;
			goto out;
		}
	}
	if (f.exec_memsz <= MT_COOKIE_FIELD_MAX)
		cfi = dwarf_getcfi_elf(f.e.elf);
	if (tab == kinds)
		plan->syscall_note = identity_unsure(f.e.fd);
	for (size_t k = 0; k < f.ntab; k++) {
		struct mt_probe *p;
		__u64 off, seg_off = 0, seg_size = 0, where, flags;
		bool dup = false;

		if (!f.sym[k])
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= f.sym[j] == f.sym[k];
		if (dup) {
			pr_debug("%s is an alias of an already probed function", f.tab[k].name);
			continue;
		}
		if (mt_elf__offset(&f.e, f.sym[k], &off))
			continue;
		p = &plan->probes[plan->nr_probes++];
		p->kind = f.tab[k].kind;
		p->name = f.tab[k].name;
		p->func_offset = off;
		where = place_probe(f.e.fd, p->kind, off, &p->slow, &flags);
		p->offset = off + where;
		p->needs_return = f.tab[k].needs_return;
		if (f.exec_memsz && f.sym[k] >= f.exec_vaddr &&
		    f.sym[k] + where - f.exec_vaddr <= MT_COOKIE_FIELD_MAX &&
		    f.exec_memsz <= MT_COOKIE_FIELD_MAX) {
			seg_off = f.sym[k] + where - f.exec_vaddr;
			seg_size = f.exec_memsz;
		}
		p->cookie = MT_COOKIE_MAKE(p->kind, seg_off, seg_size) | flags;
		if (tab == kinds && by_syscall(p->kind) && !plan->syscall_note)
			p->syscall_tp = plan_syscalls(plan, &f, cfi, k, p);
	}
	if (tab == kinds && cfi)
		plan_rules(plan, &f, cfi);
out:
	if (cfi)
		dwarf_cfi_end(cfi);
	elf_file__close(&f);
	return err;
}

int mt_plan__from_file(struct mt_plan *plan, const char *path)
{
	return plan_file(plan, path, kinds, NR_KINDS);
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl", 7);
}

int mt_plan__for_pid(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps)
{
	char path[PATH_MAX], exe[PATH_MAX] = "";
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	/*
	 * The executable first (a static binary, or one with its own malloc),
	 * then the C library by name, then any module: the first file that
	 * defines malloc and free is planned. Each file is read once.
	 */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < maps->nr_mods; i++) {
			const struct mt_module *m = &maps->mods[i];
			bool is_exe = !strcmp(m->path, exe), is_libc = is_libc_name(m->path);

			if ((pass == 0 && !is_exe) || (pass == 1 && (is_exe || !is_libc)) ||
			    (pass == 2 && (is_exe || is_libc)))
				continue;
			if (mt_maps__module_path(pid, maps, m->start, path, sizeof(path)) ||
			    mt_plan__from_file(plan, path))
				continue;
			snprintf(plan->shown, sizeof(plan->shown), "%s", m->path);
			plan->exec_start = m->exec_start;
			plan->exec_end = m->exec_end;
			plan->exec_offset = m->exec_offset;
			return 0;
		}
	}
	return kill(pid, 0) && errno == ESRCH ? -ESRCH : -ENOENT;
}

void mt_plan__no_syscall_tps(struct mt_plan *plan)
{
	for (size_t i = 0; i < plan->nr_probes; i++)
		plan->probes[i].syscall_tp = false;
	plan->nr_syscalls = 0;
}

void mt_plan__log(const struct mt_plan *plan)
{
	pr_info("probing %s (%zu functions; %zu calls to them from inside it stepped over "
		"with CFI)",
		plan->shown, plan->nr_probes, plan->nr_rules);
	if (plan->syscall_note)
		pr_info("  mmap, munmap, mremap keep uprobes, not system call tracepoints: %s",
			plan->syscall_note);
	for (size_t i = 0; i < plan->nr_probes; i++) {
		const struct mt_probe *p = &plan->probes[i];

		if (p->syscall_tp) {
			pr_info("  %-18s syscall tracepoint  no trap", p->name);
			continue;
		}

		pr_info("  %-18s at 0x%llx%s  %s", p->name, (unsigned long long)p->offset,
			p->offset != p->func_offset ? " (moved past a single-stepped entry)" : "",
			p->slow ? "single-stepped: ~10 us per call on VMs"
				: "emulated: ~0.7 us per call");
	}
}

/*
 * LTO+PGO builds (Debian's python3.11) devirtualise the object allocator:
 * call sites load the _PyObject.malloc slot, compare it with the default
 * (cmp $imm32,%rax) and run an inlined copy of pymalloc, so the exported
 * PyObject_Malloc sees almost no calls. Its own thunk shows the pattern:
 * a RIP-relative load into %rax (48 8b 05) followed by 48 3d imm32.
 */
static bool pymalloc_inlined(const char *path)
{
	static const struct kind_desc obj[] = {
	    {MT_KIND_MALLOC, "PyObject_Malloc", true, true},
	};
	struct elf_file f;
	unsigned char b[48];
	bool load = false, cmp = false;
	__u64 off;

	if (elf_file__open(&f, path, obj, 1))
		return false;
	if (f.sym[0] && !mt_elf__offset(&f.e, f.sym[0], &off) &&
	    pread(f.e.fd, b, sizeof(b), (off_t)off) == (ssize_t)sizeof(b)) {
		for (size_t i = 0; i + 6 <= sizeof(b); i++) {
			load |= b[i] == 0x48 && b[i + 1] == 0x8b && b[i + 2] == 0x05;
			cmp |= load && b[i] == 0x48 && b[i + 1] == 0x3d;
		}
	}
	elf_file__close(&f);
	return cmp;
}

int mt_plan__python(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps, __u64 runtime,
		    bool *inlined)
{
	const struct mt_module *mod = mt_maps__find(maps, runtime);
	char path[PATH_MAX];
	int err;

	*inlined = false;
	if (!mod)
		return -ENOENT;
	err = mt_maps__module_path(pid, maps, mod->start, path, sizeof(path));
	if (err)
		return err;
	err = plan_file(plan, path, py_kinds, sizeof(py_kinds) / sizeof(py_kinds[0]));
	if (err)
		return err;
	snprintf(plan->shown, sizeof(plan->shown), "%s", mod->path);
	*inlined = pymalloc_inlined(path);
	return 0;
}
