/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal unit-test harness in the style of selftests/bpf test_progs:
 * MT_TEST(name) { ... } registers a test; ASSERT_* macros report the
 * failing expression with both values and return false from the check so
 * a test can bail out with `if (!ASSERT_...) return;`.
 */
#ifndef MT_TEST_H
#define MT_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct mt_test {
	const char *name;
	void (*fn)(void);
	struct mt_test *next;
};

void mt_test__register(struct mt_test *t);
extern int mt_test__failed; /* assertions failed in the running test */

#define MT_TEST(tname)                                                        \
	static void test_##tname(void);                                       \
	static struct mt_test mt_test_##tname = {#tname, test_##tname, NULL}; \
	__attribute__((constructor)) static void mt_test_reg_##tname(void)    \
	{                                                                     \
		mt_test__register(&mt_test_##tname);                          \
	}                                                                     \
	static void test_##tname(void)

#define MT_FAIL(fmt, ...)                                                               \
	({                                                                              \
		fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
		mt_test__failed++;                                                      \
		false;                                                                  \
	})

#define ASSERT_TRUE(cond, what)                                               \
	({                                                                    \
		bool ___ok = (cond);                                          \
		___ok ? true : MT_FAIL("%s: expected true: %s", what, #cond); \
	})
#define ASSERT_FALSE(cond, what) ASSERT_TRUE(!(cond), what)

#define ASSERT_EQ(actual, expected, what)                                                          \
	({                                                                                         \
		long long ___a = (long long)(actual), ___e = (long long)(expected);                \
		___a == ___e ? true                                                                \
			     : MT_FAIL("%s: %s = %lld, expected %lld", what, #actual, ___a, ___e); \
	})

#define ASSERT_STREQ(actual, expected, what)                                     \
	({                                                                       \
		const char *___a = (actual), *___e = (expected);                 \
		(___a && ___e && !strcmp(___a, ___e)) || (!___a && !___e)        \
		    ? true                                                       \
		    : MT_FAIL("%s: %s = \"%s\", expected \"%s\"", what, #actual, \
			      ___a ? ___a : "(null)", ___e ? ___e : "(null)");   \
	})

#define ASSERT_OK(err, what) ASSERT_EQ(err, 0, what)

#endif
