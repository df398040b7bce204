// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython line-table decoders.
 *
 * 3.10: a sequence of byte pairs (sdelta: unsigned, ldelta: signed). With
 * line = co_firstlineno and end = 0, each pair covers [end, end + sdelta)
 * and then end += sdelta; ldelta == -128 means the range has no line,
 * otherwise line += ldelta first and the range has that line. Pairs with
 * sdelta == 0 only move the line.
 *
 * 3.11+: a sequence of entries; an entry starts with a byte that has bit 7
 * set, and every other byte of it is below 0x80 (this is how CPython itself
 * finds the next entry). In the first byte, bits 3-6 are a code and bits
 * 0-2 the entry's length in code units minus one (a code unit is 2 bytes).
 * The line starts at co_firstlineno and changes per code:
 *   15      no location: the range has no line, the running line stays
 *   14      long form: line += svarint, then end line, column, end column
 *   13      no columns: line += svarint
 *   10..12  one-line form: line += code - 10, then two column bytes
 *   0..9    short form: line unchanged, then one column byte
 * varint: 6-bit little-endian chunks, bit 6 set = another chunk follows.
 * svarint: varint v, value -(v >> 1) if v & 1, else v >> 1.
 *
 * Only what is needed to reach byte_offset is decoded; whatever follows is
 * not validated.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include "python/py_linetable.h"

#define PY_3_10 0x030a0000u
#define PY_3_11 0x030b0000u

static int line_ok(long long line, int *out)
{
	if (line < INT_MIN || line > INT_MAX)
		return -EINVAL;
	*out = (int)line;
	return 0;
}

static int decode_310(const unsigned char *tab, size_t len, int firstlineno, unsigned int offset,
		      int *line)
{
	unsigned long long end = 0;
	long long cur = firstlineno;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		unsigned long long start = end;
		int ldelta = (signed char)tab[i + 1];
		bool has_line = ldelta != -128;

		end += tab[i];
		if (has_line)
			cur += ldelta; /* at most 127 per pair: no overflow, checked on use */
		if (offset >= start && offset < end) {
			if (!has_line)
				return -ENOENT;
			return line_ok(cur, line);
		}
	}
	/* an odd byte left over is a truncated pair */
	return i < len ? -EINVAL : -ENOENT;
}

/*
 * Read a varint at tab[*pos] that must end before lim (the next entry).
 * Values above 32 bits are rejected: CPython writes ints.
 */
static int read_varint(const unsigned char *tab, size_t lim, size_t *pos, unsigned long long *val)
{
	unsigned long long v = 0;
	unsigned int shift = 0;
	unsigned char b;

	do {
		if (*pos >= lim || shift > 30)
			return -EINVAL;
		b = tab[(*pos)++];
		v |= (unsigned long long)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	if (v > UINT_MAX)
		return -EINVAL;
	*val = v;
	return 0;
}

static int decode_311(const unsigned char *tab, size_t len, int firstlineno, unsigned int offset,
		      int *line)
{
	unsigned long long end = 0;
	long long cur = firstlineno;
	size_t pos = 0;

	while (pos < len) {
		unsigned char b = tab[pos];
		unsigned int code = (b >> 3) & 15;
		unsigned long long start = end, v;
		size_t next = pos + 1, p = pos + 1;
		int err;

		if (!(b & 0x80))
			return -EINVAL; /* not at an entry start */
		while (next < len && !(tab[next] & 0x80))
			next++;
		end += 2 * ((b & 7) + 1);
		if (code == 13 || code == 14) {
			err = read_varint(tab, next, &p, &v);
			if (err)
				return err;
			cur += (v & 1) ? -(long long)(v >> 1) : (long long)(v >> 1);
		} else if (code >= 10 && code <= 12) {
			cur += code - 10;
		}
		if (cur < INT_MIN || cur > INT_MAX)
			return -EINVAL;
		if (offset >= start && offset < end) {
			if (code == 15)
				return -ENOENT;
			return line_ok(cur, line);
		}
		pos = next;
	}
	return -ENOENT;
}

int mt_py_linetable__line(unsigned int version_hex, const unsigned char *tab, size_t len,
			  int firstlineno, unsigned int byte_offset, int *line)
{
	if (!line || (!tab && len))
		return -EINVAL;
	if ((version_hex & 0xffff0000u) < PY_3_10)
		return -EOPNOTSUPP;
	if ((version_hex & 0xffff0000u) < PY_3_11)
		return decode_310(tab, len, firstlineno, byte_offset, line);
	return decode_311(tab, len, firstlineno, byte_offset, line);
}
