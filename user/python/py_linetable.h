/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython line tables (co_linetable) -> source line of a bytecode offset.
 * Pure decoders: no I/O, no allocation; every read is bounded by len, so
 * a corrupted or hostile table yields -EINVAL, never a crash.
 *
 * Two formats:
 *   3.10    byte pairs (address delta, signed line delta; -128 = no line)
 *   3.11+   variable-length location entries (Objects/locations.md)
 * The answer for an offset is that of the entry whose address range holds
 * it, exactly as code.co_lines() reports.
 */
#ifndef MT_PY_LINETABLE_H
#define MT_PY_LINETABLE_H

#include <stddef.h>

/*
 * Line of the instruction at byte_offset in a code object's bytecode.
 * version_hex: PY_VERSION_HEX of the interpreter (selects the format; only
 * its major and minor numbers matter). firstlineno: the code object's
 * co_firstlineno. 3.10 frames record f_lasti, an instruction index: pass
 * byte_offset = 2 * f_lasti.
 *
 * Returns 0 with *line set; -ENOENT when the offset has no line (an
 * artificial instruction, or an offset past the table's end); -EINVAL on
 * a malformed table (or NULL arguments); -EOPNOTSUPP for a version before
 * 3.10 (co_lnotab).
 */
int mt_py_linetable__line(unsigned int version_hex, const unsigned char *tab, size_t len,
			  int firstlineno, unsigned int byte_offset, int *line);

#endif
