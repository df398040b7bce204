// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: planning probes in an ELF file a target chose (symbols,
 * program headers, CFI, the system-call scan), from a memfd.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "probe/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mt_plan plan;
	char path[64];
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		mt_plan__from_file(&plan, path);
	}
	close(fd);
	return 0;
}
