// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cfi: the translation of libdw's CFA and %rbp rules into what BPF
 * applies, on synthetic DWARF expressions; then one real lookup in this
 * test binary's own .eh_frame (not the host's C library).
 */
#include <dwarf.h>
#include "probe/cfi.h"
#include "dwarf_op.h"
#include "test.h"

static const Dwarf_Op rsp_8[] = {OP(DW_OP_bregx, 7, 8)};
static const Dwarf_Op rsp_16[] = {OP(DW_OP_bregx, 7, 16)};
static const Dwarf_Op rbp_16[] = {OP(DW_OP_bregx, 6, 16)};
static const Dwarf_Op rsp_neg[] = {OP(DW_OP_bregx, 7, -8)};
static const Dwarf_Op two_ops[] = {OP(DW_OP_bregx, 7, 8), OP(DW_OP_deref, 0, 0)};
/* %rbp saved at CFA - 16, both ways libdw writes it */
static const Dwarf_Op saved_consts[] = {OP(DW_OP_call_frame_cfa, 0, 0), OP(DW_OP_consts, -16, 0),
					OP(DW_OP_plus, 0, 0)};
static const Dwarf_Op saved_uconst[] = {OP(DW_OP_call_frame_cfa, 0, 0),
					OP(DW_OP_plus_uconst, 24, 0)};
static const Dwarf_Op saved_deref[] = {OP(DW_OP_call_frame_cfa, 0, 0), OP(DW_OP_deref, 0, 0)};
static const Dwarf_Op same_value[] = {OP(DW_OP_bregx, 6, 0)};

struct cfi_case {
	const char *what;
	const Dwarf_Op *cfa, *rbp;
	size_t ncfa, nrbp;
	bool ok;
	__s32 cfa_off, rbp_off;
};

MT_TEST(cfi_rule_from_ops)
{
	const struct cfi_case cases[] = {
	    {"entry: CFA = rsp + 8", rsp_8, NULL, 1, 0, true, 8, 0},
	    {"after push: CFA = rsp + 16, rbp saved", rsp_16, saved_consts, 1, 3, true, 16, -16},
	    {"rbp at CFA + uconst", rsp_16, saved_uconst, 1, 2, true, 16, 24},
	    {"rbp kept in a register", rsp_8, same_value, 1, 1, true, 8, 0},
	    {"CFA from rbp: not for BPF", rbp_16, NULL, 1, 0, false, 0, 0},
	    {"CFA below SP", rsp_neg, NULL, 1, 0, false, 0, 0},
	    {"CFA expression", two_ops, NULL, 2, 0, false, 0, 0},
	    {"no CFA", rsp_8, NULL, 0, 0, false, 0, 0},
	    {"rbp behind a deref", rsp_16, saved_deref, 1, 2, false, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cfi_case *c = &cases[i];
		struct mt_frame_rule r = {.cfa = 12345, .rbp = 12345};
		bool ok = mt_cfi__rule_from_ops(c->cfa, c->ncfa, c->rbp, c->nrbp, &r);

		if (!ASSERT_EQ(ok, c->ok, c->what) || !ok)
			continue;
		ASSERT_EQ(r.cfa, c->cfa_off, c->what);
		ASSERT_EQ(r.rbp, c->rbp_off, c->what);
	}
}

MT_TEST(cfi_rule_own_binary)
{
	struct mt_elf_sym sym = {.name = "main"};
	struct mt_frame_rule r = {-1, -1};
	struct mt_elf e;
	Dwarf_CFI *cfi;

	ASSERT_FALSE(mt_cfi__rule(NULL, 0, &r), "no CFI");
	if (!ASSERT_OK(mt_elf__open(&e, "/proc/self/exe"), "open"))
		return;
	cfi = dwarf_getcfi_elf(e.elf);
	if (ASSERT_TRUE(cfi != NULL, "the binary has CFI") &&
	    ASSERT_EQ(mt_elf__find_syms(&e, &sym, 1, MT_ELF_FUNC, MT_ELF_SYMTAB_FIRST), 1,
		      "main")) {
		/* at a function's first instruction the return address is at [SP] */
		if (ASSERT_TRUE(mt_cfi__rule(cfi, sym.value, &r), "rule at main"))
			ASSERT_TRUE(r.cfa == 8 && r.rbp == 0, "CFA = SP + 8");
		ASSERT_FALSE(mt_cfi__rule(cfi, 1, &r), "no FDE at address 1");
	}
	if (cfi)
		dwarf_cfi_end(cfi);
	mt_elf__close(&e);
}
