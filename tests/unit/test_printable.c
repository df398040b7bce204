// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/printable.h"
#include "test.h"

/* s printed by mt_printable__put, in a malloc'd string */
static char *put(const char *s, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	mt_printable__put(f, s, n);
	fclose(f);
	return out;
}

MT_TEST(printable_escapes)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
	    {"libc.so.6", "libc.so.6", "plain ASCII kept"},
	    {"\033[31mred", "\\x1b[31mred", "ESC"},
	    {"a\nb\tc\rd\x7f", "a\\x0ab\\x09c\\x0dd\\x7f", "C0 and DEL"},
	    {"x\xc2\x9b"
	     "2J",
	     "x\\xc2\\x9b2J", "C1 CSI in UTF-8"},
	    {"x\x9b"
	     "2J",
	     "x\\x9b2J", "a lone C1 byte (not UTF-8)"},
	    {"t\xc3\xabst_\xce\xbb_\xf0\x9f\x98\x80.py", "t\xc3\xabst_\xce\xbb_\xf0\x9f\x98\x80.py",
	     "valid UTF-8 kept"},
	    {"\xc0\xaf", "\\xc0\\xaf", "an overlong form"},
	    {"a\\x1b", "a\\x5cx1b", "a backslash is escaped too: no look-alike escapes"},
	    {"\xe2\x82", "\\xe2\\x82", "a cut sequence"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = put(cases[i].in, (size_t)-1), buf[64];

		ASSERT_STREQ(out, cases[i].want, cases[i].what);
		ASSERT_STREQ(mt_printable__str(buf, sizeof(buf), cases[i].in), cases[i].want,
			     cases[i].what);
		free(out);
	}
}

MT_TEST(printable_bounds)
{
	char buf[8], *out;

	/* at most n bytes; a sequence cut by n is not printed as text */
	out = put("abc\033def", 4);
	ASSERT_STREQ(out, "abc\\x1b", "n bytes");
	free(out);
	out = put("\xce\xbb", 1);
	ASSERT_STREQ(out, "\\xce", "a sequence cut by n");
	free(out);
	out = put(NULL, 10);
	ASSERT_STREQ(out, "", "NULL");
	free(out);
	/* cut short, never inside an escape */
	ASSERT_STREQ(mt_printable__str(buf, sizeof(buf), "abcd\033xyz"), "abcd", "no half escape");
	ASSERT_STREQ(mt_printable__str(buf, sizeof(buf), "abcdefghij"), "abcdefg", "cut short");
	ASSERT_STREQ(mt_printable__str(buf, 1, "abc"), "", "room for the NUL only");
}
