// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "lib/printable.h"

size_t mt_utf8__seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : lo;
		hi = c == 0xed ? 0x9f : hi;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : lo;
		hi = c == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (len > avail || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

/*
 * How many bytes at p are printed as they are: 1 for a printable ASCII
 * character, the sequence's length for UTF-8 outside C1, 0 for a byte to
 * escape.
 */
static size_t plain_len(const unsigned char *p, size_t avail)
{
	size_t len;

	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] != 0x7f && p[0] != '\\';
	len = mt_utf8__seq_len(p, avail);
	/* U+0080..U+009F: C1 controls (CSI is U+009B) */
	if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0)
		return 0;
	return len;
}

void mt_printable__put(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; s && i < n && p[i];) {
		size_t len = plain_len(p + i, n - i);

		if (len) {
			fwrite(p + i, 1, len, f);
			i += len;
		} else {
			fprintf(f, "\\x%02x", p[i++]);
		}
	}
}

char *mt_printable__str(char *buf, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, n = s ? strlen(s) : 0;

	if (!size)
		return buf;
	for (size_t i = 0; i < n;) {
		size_t len = plain_len(p + i, n - i);

		if (len) {
			if (o + len >= size)
				break;
			memcpy(buf + o, p + i, len);
			i += len;
			o += len;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(buf + o, 5, "\\x%02x", p[i++]);
			o += 4;
		}
	}
	buf[o] = 0;
	return buf;
}
