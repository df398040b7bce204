// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit-test runner: runs every registered test (or those named on the command line). */
#include <stdlib.h>
#include "test.h"

static struct mt_test *tests;
int mt_test__failed;

void mt_test__register(struct mt_test *t)
{
	struct mt_test **p = &tests;

	/* keep registration order stable: append */
	while (*p)
		p = &(*p)->next;
	*p = t;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (struct mt_test *t = tests; t; t = t->next) {
		if (!selected(t->name, argc, argv))
			continue;
		mt_test__failed = 0;
		t->fn();
		if (mt_test__failed) {
			printf("FAIL %s\n", t->name);
			failed++;
		} else {
			printf("ok   %s\n", t->name);
			passed++;
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
