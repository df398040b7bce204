// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: saved reports read back (memtrace report, memtrace diff):
 * a file anyone may hand to memtrace. Each input is an NDJSON stream.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "report/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_report_set set = {0};
	char err[256];
	FILE *f = fmemopen((void *)data, size, "r");

	if (!f)
		return 0;
	mt_report_set__load(&set, f, err, sizeof(err));
	fclose(f);
	mt_report_set__free(&set);
	return 0;
}
