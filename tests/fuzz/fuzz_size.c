// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: sizes on the command line ("4K", "1.5M"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	__u64 v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	mt_parse_size(s, &v);
	free(s);
	return 0;
}
