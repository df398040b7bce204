// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CFI rules and the call sites they are needed at. Call sites are found by
 * scanning executable sections for e8 rel32 to a target; a stray e8 byte
 * only adds a rule no return address will ever look up.
 */
#include <dwarf.h>
#include <gelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "probe/cfi.h"
#include "probe/insn_x86.h"

#define MAX_STUBS 64

bool mt_cfi__rule_from_ops(const Dwarf_Op *cfa, size_t ncfa, const Dwarf_Op *rbp, size_t nrbp,
			   struct mt_frame_rule *rule)
{
	/* CFA = %rsp + N */
	if (ncfa != 1 || cfa[0].atom != DW_OP_bregx || cfa[0].number != 7)
		return false;
	rule->cfa = (__s32)cfa[0].number2;
	rule->rbp = 0;
	if (nrbp >= 1 && rbp[0].atom == DW_OP_call_frame_cfa) {
		if (nrbp == 2 && rbp[1].atom == DW_OP_plus_uconst)
			rule->rbp = (__s32)(__s64)rbp[1].number;
		else if (nrbp == 3 && rbp[1].atom == DW_OP_consts && rbp[2].atom == DW_OP_plus)
			rule->rbp = (__s32)(__s64)rbp[1].number;
		else
			return false;
	}
	return rule->cfa >= 0;
}

bool mt_cfi__rule(Dwarf_CFI *cfi, __u64 pc, struct mt_frame_rule *rule)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_Op rbp_mem[3], *cfa, *rbp;
	size_t ncfa, nrbp;
	bool ok;

	if (!cfi || dwarf_cfi_addrframe(cfi, pc, &frame))
		return false;
	ok = !dwarf_frame_cfa(frame, &cfa, &ncfa) &&
	     !dwarf_frame_register(frame, 6, rbp_mem, &rbp, &nrbp) &&
	     mt_cfi__rule_from_ops(cfa, ncfa, rbp, nrbp, rule);
	free(frame);
	return ok;
}

/* The bytes of an executable PROGBITS section, all of them; NULL otherwise. */
static const unsigned char *section_bytes(Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *d;

	if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS ||
	    !(sh->sh_flags & SHF_EXECINSTR))
		return NULL;
	d = elf_getdata(scn, NULL);
	return d && d->d_buf && d->d_size == sh->sh_size ? d->d_buf : NULL;
}

static bool named(const char *name, const char *const *names, size_t n)
{
	for (size_t k = 0; name && k < n; k++)
		if (!strcmp(name, names[k]))
			return true;
	return false;
}

/* GOT slots that JUMP_SLOT or GLOB_DAT relocations of the names fill. */
static size_t plt_slots(Elf *elf, const char *const *names, size_t n, GElf_Addr *slots, size_t max)
{
	Elf_Scn *scn = NULL;
	size_t nslots = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh, symsh;
		Elf_Data *data, *syms;
		Elf_Scn *symscn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		symscn = elf_getscn(elf, sh.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symsh))
			continue;
		data = elf_getdata(scn, NULL);
		syms = elf_getdata(symscn, NULL);
		if (!data || !syms)
			continue;
		/* bounded by what was read, not by the header */
		for (size_t i = 0; i < data->d_size / sh.sh_entsize && nslots < max; i++) {
			GElf_Rela r;
			GElf_Sym sym;

			if (!gelf_getrela(data, i, &r) ||
			    (GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT &&
			     GELF_R_TYPE(r.r_info) != R_X86_64_GLOB_DAT) ||
			    !gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym))
				continue;
			if (named(elf_strptr(elf, symsh.sh_link, sym.st_name), names, n))
				slots[nslots++] = r.r_offset;
		}
	}
	return nslots;
}

/* PLT stubs that jump through one of the slots: jmp *disp32(%rip). */
static size_t plt_stubs(Elf *elf, const GElf_Addr *slots, size_t nslots, GElf_Addr *stubs,
			size_t max)
{
	Elf_Scn *scn = NULL;
	size_t nstubs = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const unsigned char *b = section_bytes(scn, &sh);

		for (size_t i = 0; b && i + 6 <= sh.sh_size && nstubs < max; i++) {
			GElf_Addr got;
			__s32 disp;

			if (!mt_insn__jmp_rip(b + i, sh.sh_size - i, &disp))
				continue;
			got = sh.sh_addr + i + 6 + disp;
			for (size_t j = 0; j < nslots && nstubs < max; j++)
				if (got == slots[j])
					stubs[nstubs++] = sh.sh_addr + mt_insn__stub_start(b, i);
		}
	}
	return nstubs;
}

size_t mt_cfi__call_rules(const struct mt_elf *elf, Dwarf_CFI *cfi, const struct mt_elf_load *exec,
			  const char *const *names, const __u64 *addrs, size_t n,
			  struct mt_plan_rule *rules, size_t max)
{
	GElf_Addr slots[MAX_STUBS], targets[2 * MAX_STUBS];
	size_t nslots, ntargets = 0, nrules = 0;
	Elf_Scn *scn = NULL;

	if (!cfi || !exec || !exec->memsz || exec->memsz > UINT32_MAX)
		return 0;
	for (size_t k = 0; k < n && ntargets < MAX_STUBS; k++)
		if (addrs[k])
			targets[ntargets++] = addrs[k];
	nslots = plt_slots(elf->elf, names, n, slots, MAX_STUBS);
	ntargets += plt_stubs(elf->elf, slots, nslots, targets + ntargets, MAX_STUBS);

	while ((scn = elf_nextscn(elf->elf, scn))) {
		GElf_Shdr sh;
		const unsigned char *b = section_bytes(scn, &sh);

		for (size_t i = 0; b && i + 5 <= sh.sh_size; i++) {
			GElf_Addr at = sh.sh_addr + i, ret = at + 5;
			__s32 rel;

			if (!mt_insn__call_rel32(b + i, sh.sh_size - i, &rel))
				continue;
			for (size_t j = 0; j < ntargets && nrules < max; j++) {
				struct mt_plan_rule *r = &rules[nrules];

				if (ret + rel != targets[j] || ret < exec->vaddr ||
				    ret - exec->vaddr >= exec->memsz)
					continue;
				if (!mt_cfi__rule(cfi, at + 4, &r->rule))
					continue;
				r->key.seg_size = (__u32)exec->memsz;
				r->key.off = (__u32)(ret - exec->vaddr);
				nrules++;
			}
		}
	}
	return nrules;
}
