// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython line-table decoder: hand-made tables for each entry form, golden
 * fixtures recorded from real interpreters (tests/unit/fixtures, written by
 * gen_linetable_fixtures.py from code.co_lines()), and a fuzz run over
 * random and mutated tables held in exact-size heap buffers, so that a read
 * past the end shows up under `make sanitize`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "python/py_linetable.h"
#include "test.h"

#define V310 0x030a0df0u
#define V311 0x030b07f0u
#define V313 0x030d00f0u

static int line_of(unsigned int ver, const unsigned char *tab, size_t len, int first,
		   unsigned int off)
{
	int line = -12345, err;

	err = mt_py_linetable__line(ver, tab, len, first, off, &line);
	return err ? err : line;
}

MT_TEST(py_linetable_310_forms)
{
	/* [0,4) +1; [4,6) no line; [6,6) +127 (line only); [6,10) +3; odd tail */
	static const unsigned char t[] = {4, 1, 2, 0x80, 0, 127, 4, 3, 9};

	ASSERT_EQ(line_of(V310, t, 8, 10, 0), 11, "first range");
	ASSERT_EQ(line_of(V310, t, 8, 10, 3), 11, "first range, last byte");
	ASSERT_EQ(line_of(V310, t, 8, 10, 4), -ENOENT, "no-line range");
	ASSERT_EQ(line_of(V310, t, 8, 10, 6), 141, "after a zero-length pair");
	ASSERT_EQ(line_of(V310, t, 8, 10, 10), -ENOENT, "past the end");
	ASSERT_EQ(line_of(V310, t, 9, 10, 10), -EINVAL, "odd trailing byte");
	ASSERT_EQ(line_of(V310, t, 9, 10, 6), 141, "odd byte not reached");
	ASSERT_EQ(line_of(V310, t, 0, 10, 0), -ENOENT, "empty table");
	ASSERT_EQ(line_of(0x03090000, t, 8, 10, 0), -EOPNOTSUPP, "3.9");
	ASSERT_EQ(mt_py_linetable__line(V310, t, 8, 1, 0, NULL), -EINVAL, "NULL line");
	ASSERT_EQ(line_of(V310, NULL, 4, 1, 0), -EINVAL, "NULL table");
}

MT_TEST(py_linetable_311_forms)
{
	static const unsigned char t[] = {
	    0x80 | 13 << 3 | 0, 0x04,		     /* no columns, +2, 1 unit: [0,2) line 12 */
	    0x80 | 5 << 3 | 1,	0x12,		     /* short form, 2 units: [2,6) line 12 */
	    0x80 | 11 << 3 | 0, 3,    9,	     /* one line +1: [6,8) line 13 */
	    0x80 | 15 << 3 | 2,			     /* no location, 3 units: [8,14) */
	    0x80 | 14 << 3 | 0, 0x47, 0x01, 0, 1, 2, /* long, -(0x47&63|1<<6)>>1: */
	    0x80 | 10 << 3 | 7, 1,    2,	     /* one line +0, 8 units: [16,32) */
	};
	/* 0x47, 0x01: v = 7 | 1 << 6 = 71, odd: delta -35 -> line 13 - 35 = -22 */
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 0), 12, "no columns");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 4), 12, "short form");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 6), 13, "one-line form");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 8), -ENOENT, "no location");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 12), -ENOENT, "no location, last unit");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 14), -22, "long form, negative delta");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 30), -22, "one-line +0");
	ASSERT_EQ(line_of(V311, t, sizeof(t), 10, 32), -ENOENT, "past the end");
	ASSERT_EQ(line_of(V313, t, sizeof(t), 10, 6), 13, "3.13 same format");

	/* malformed */
	static const unsigned char nostart[] = {0x04, 0x80};
	static const unsigned char unterminated[] = {0x80 | 13 << 3, 0x44};
	static const unsigned char cut[] = {0x80 | 13 << 3};
	static const unsigned char huge[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f,
					     0x7f,	     0x7f, 0x7f, 0x01};

	ASSERT_EQ(line_of(V311, nostart, 2, 1, 0), -EINVAL, "entry without bit 7");
	ASSERT_EQ(line_of(V311, unterminated, 2, 1, 0), -EINVAL, "varint runs off the end");
	ASSERT_EQ(line_of(V311, cut, 1, 1, 0), -EINVAL, "varint missing");
	ASSERT_EQ(line_of(V311, huge, sizeof(huge), 1, 0), -EINVAL, "varint above 32 bits");
	/* an unterminated varint in a later entry is never reached */
	static const unsigned char late[] = {0x80 | 13 << 3, 0x02, 0x80 | 13 << 3, 0x44};

	ASSERT_EQ(line_of(V311, late, sizeof(late), 1, 0), 2, "later garbage ignored");
	ASSERT_EQ(line_of(V311, late, sizeof(late), 1, 2), -EINVAL, "later garbage reached");
}

/* ---- golden fixtures ---- */

/* The fixture directory: $MT_FIXTURES, else relative to the repository root or to this file. */
static const char *fixtures_dir(char *buf, size_t sz)
{
	const char *env = getenv("MT_FIXTURES"), *slash;
	DIR *d;

	if (env)
		return env;
	d = opendir("tests/unit/fixtures");
	if (d) {
		closedir(d);
		return "tests/unit/fixtures";
	}
	slash = strrchr(__FILE__, '/');
	snprintf(buf, sz, "%.*sfixtures", slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Check one fixture line "firstlineno hex off:line ..." against the decoder;
 * the table is copied into an exact-size buffer. Returns the number of
 * offsets checked, or -1 after reporting a failure.
 */
static int check_line(const char *name, int lineno, unsigned int ver, char *text)
{
	char *save = NULL, *tok, *hex, *end;
	unsigned char *tab = NULL;
	size_t len, i;
	int first, n = 0, bad = 0;

	tok = strtok_r(text, " \n", &save);
	hex = strtok_r(NULL, " \n", &save);
	if (!tok || !hex || strlen(hex) % 2) {
		MT_FAIL("%s:%d: malformed fixture line", name, lineno);
		return -1;
	}
	first = strtol(tok, NULL, 10);
	len = strlen(hex) / 2;
	tab = malloc(len ? len : 1);
	if (!tab)
		return -1;
	for (i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(tab);
			MT_FAIL("%s:%d: bad hex", name, lineno);
			return -1;
		}
		tab[i] = hi << 4 | lo;
	}
	while ((tok = strtok_r(NULL, " \n", &save))) {
		unsigned long off = strtoul(tok, &end, 10);
		int want, got, err;

		if (*end != ':') {
			MT_FAIL("%s:%d: bad pair %s", name, lineno, tok);
			bad++;
			break;
		}
		want = end[1] == '-' ? -ENOENT : (int)strtol(end + 1, NULL, 10);
		err = mt_py_linetable__line(ver, tab, len, first, off, &got);
		if (err)
			got = err;
		if (got != want && bad++ < 5)
			MT_FAIL("%s:%d: offset %lu: got %d, expected %d", name, lineno, off, got,
				want);
		n++;
	}
	free(tab);
	return bad ? -1 : n;
}

MT_TEST(py_linetable_golden)
{
	char dirbuf[4096], path[4608], *text = NULL;
	const char *dir = fixtures_dir(dirbuf, sizeof(dirbuf));
	int files = 0, minors = 0;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	d = opendir(dir);
	if (!ASSERT_TRUE(d != NULL, "open fixture directory"))
		return;
	while ((de = readdir(d))) {
		unsigned int ver = 0, maj, min, mic;
		long objs = 0, offs = 0;
		int lineno = 0, n;
		ssize_t got;
		FILE *f;

		if (strncmp(de->d_name, "linetable-", 10))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		if (!ASSERT_TRUE(f != NULL, path))
			continue;
		while ((got = getline(&text, &cap, f)) > 0) {
			lineno++;
			if (text[0] == '#') {
				if (sscanf(text, "# python %u.%u.%u %x", &maj, &min, &mic, &ver) !=
				    4)
					MT_FAIL("%s: bad header", path);
				continue;
			}
			if (!ver) {
				MT_FAIL("%s: no version header", path);
				break;
			}
			n = check_line(de->d_name, lineno, ver, text);
			if (n < 0)
				break;
			objs++;
			offs += n;
		}
		fclose(f);
		ASSERT_TRUE(objs >= 100, "fixture has at least 100 code objects");
		printf("     %s: %ld code objects, %ld offsets\n", de->d_name, objs, offs);
		files++;
		minors |= 1 << ((ver >> 16) & 0xff);
	}
	closedir(d);
	free(text);
	ASSERT_TRUE(files >= 4, "fixture files found");
	ASSERT_EQ(minors & (1 << 10 | 1 << 11 | 1 << 12 | 1 << 13),
		  1 << 10 | 1 << 11 | 1 << 12 | 1 << 13, "3.10-3.13 covered");
}

/* ---- fuzz ---- */

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Real tables to mutate: a few hand-made ones covering every form. */
static const unsigned char seed311[] = {
    0x80 | 13 << 3,
    0x04,
    0x80 | 5 << 3 | 1,
    0x12,
    0x80 | 11 << 3,
    3,
    9,
    0x80 | 15 << 3 | 2,
    0x80 | 14 << 3,
    0x47,
    0x01,
    0,
    1,
    2,
    0x80 | 10 << 3 | 7,
    1,
    2,
};
static const unsigned char seed310[] = {4, 1, 2, 0x80, 0, 127, 4, 3, 254, 0, 6, 0x81};

MT_TEST(py_linetable_fuzz)
{
	static const unsigned int vers[] = {V310, V311, 0x030c01f0, V313, 0x030e00f0};
	unsigned char buf[96];
	long ok = 0, noent = 0, inval = 0;
	int i, bad = 0;

	for (i = 0; i < 200000 && bad < 5; i++) {
		unsigned int ver = vers[rnd() % 5], off;
		size_t len, j;
		unsigned char *tab;
		int line, err;

		switch (rnd() % 3) {
		case 0: /* random bytes */
			len = rnd() % sizeof(buf);
			for (j = 0; j < len; j++)
				buf[j] = rnd();
			break;
		case 1: /* random bytes biased to entry starts and continuation bits */
			len = rnd() % sizeof(buf);
			for (j = 0; j < len; j++)
				buf[j] = (rnd() & 1 ? 0x80 : 0) | (rnd() & 1 ? 0x40 : 0) |
					 (rnd() & 0x3f);
			break;
		default: /* a valid table, mutated and truncated */
			if (ver >= 0x030b0000) {
				len = sizeof(seed311);
				memcpy(buf, seed311, len);
			} else {
				len = sizeof(seed310);
				memcpy(buf, seed310, len);
			}
			for (j = rnd() % 4; j > 0; j--)
				buf[rnd() % len] ^= 1 << (rnd() % 8);
			len -= rnd() % (len + 1) / 2;
			break;
		}
		switch (rnd() % 4) {
		case 0:
			off = rnd();
			break;
		case 1:
			off = 0xffffffffu - rnd() % 4;
			break;
		default:
			off = rnd() % 128;
			break;
		}
		/* exact-size copy: ASan sees any read past the end */
		tab = malloc(len ? len : 1);
		if (!ASSERT_TRUE(tab != NULL, "malloc"))
			return;
		memcpy(tab, buf, len);
		err = mt_py_linetable__line(ver, len ? tab : NULL, len, (int)(rnd() % 2000) - 1000,
					    off, &line);
		free(tab);
		if (err == 0)
			ok++;
		else if (err == -ENOENT)
			noent++;
		else if (err == -EINVAL)
			inval++;
		else if (bad++ < 5)
			MT_FAIL("unexpected error %d", err);
	}
	printf("     fuzz: %d runs: %ld lines, %ld no line, %ld malformed\n", i, ok, noent, inval);
	ASSERT_EQ(bad, 0, "fuzz failures");
	ASSERT_TRUE(ok > 1000 && noent > 1000 && inval > 1000, "every outcome exercised");
}
