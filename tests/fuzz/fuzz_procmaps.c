// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: /proc/PID/maps text (a target's file names are its own choice). */
#include <stddef.h>
#include <stdint.h>
#include "proc/procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_maps m;

	if (!mt_maps__parse((const char *)data, size, &m)) {
		for (size_t i = 0; i < m.nr_mods; i++)
			mt_maps__find(&m, m.mods[i].exec_start);
		mt_maps__find_name(&m, "libc");
	}
	mt_maps__free(&m);
	return 0;
}
