// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: CPython line tables (co_linetable, read from the target's
 * memory). The first bytes choose the version, co_firstlineno and the
 * offset asked for; the rest is the table.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "python/py_linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int versions[] = {0x03090000, 0x030a0000, 0x030b0000,
						0x030c0000, 0x030d0000, 0x030e0000,
						0x030f0000};
	unsigned int off;
	int first, line;

	if (size < 9)
		return 0;
	memcpy(&first, data + 1, sizeof(first));
	memcpy(&off, data + 5, sizeof(off));
	mt_py_linetable__line(versions[data[0] % 7], data + 9, size - 9, first, off % 65536,
			      &line);
	return 0;
}
