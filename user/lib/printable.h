/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Strings from a target (paths, module, function and file names, process
 * and cgroup names) on their way to a terminal or a file: whatever bytes a
 * target put there, what is printed cannot move the cursor, change colours
 * or hide text. Valid UTF-8 is kept as it is; control characters (C0, DEL,
 * C1), bytes that are not UTF-8 and the backslash are printed as \xNN.
 */
#ifndef MT_PRINTABLE_H
#define MT_PRINTABLE_H

#include <stddef.h>
#include <stdio.h>

/*
 * The length of the UTF-8 sequence at p (at most avail bytes), or 0 when it
 * is not a valid one: overlong forms, surrogates and code points above
 * U+10FFFF are not (RFC 3629). A NUL ends every sequence.
 */
size_t mt_utf8__seq_len(const unsigned char *p, size_t avail);

/* Print at most n bytes of s (up to its NUL) as described above. */
void mt_printable__put(FILE *f, const char *s, size_t n);

/*
 * The same into buf (always NUL-terminated, cut short rather than cut in
 * an escape). Returns buf.
 */
char *mt_printable__str(char *buf, size_t size, const char *s);

#endif
