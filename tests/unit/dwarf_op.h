/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* OP(atom, number, number2): one synthetic Dwarf_Op, for the CFI tests. */
#ifndef MT_TEST_DWARF_OP_H
#define MT_TEST_DWARF_OP_H

#include <dwarf.h>
#include <elfutils/libdw.h>

#define OP(a, n1, n2)                                                                \
	{                                                                            \
		.atom = (a), .number = (Dwarf_Word)(n1), .number2 = (Dwarf_Word)(n2) \
	}

#endif
