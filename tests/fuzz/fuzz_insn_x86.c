// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: the x86-64 decoder over a library's bytes (the target's file). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "mt_abi.h"
#include "probe/insn_x86.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0, len;
	unsigned int writes;
	bool slow;
	__u64 flags;

	while (at < size) {
		if (mt_insn__decode(data + at, size - at, &len, &writes) == MT_INSN_UNKNOWN || !len)
			len = 1;
		at += len;
	}
	for (int k = 0; k < MT_KIND__MAX; k++)
		mt_insn__probe_site(data, size, (enum mt_kind)k, &slow, &flags);
	if (size)
		mt_insn__stub_start(data, size - 1);
	mt_insn__pymalloc_inlined(data, size);
	return 0;
}
