// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: the GC-list walker (python/py_objects.h) over a hostile
 * target: the input is the target's memory at 0x10000000 (its GC state at
 * +0x800, as tests/unit/test_py_objects.c lays it out), the first byte
 * picks the interpreter version.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "python/py_objects.h"

#define BASE 0x10000000ULL

struct image {
	const uint8_t *data;
	size_t size;
};

static int image_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	const struct image *m = ctx;

	if (addr < BASE || addr - BASE > m->size || len > m->size - (addr - BASE))
		return -EFAULT;
	memcpy(buf, m->data + (addr - BASE), len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image m = {data, size};
	struct mt_py_offsets off = {.runtime = BASE, .rt_interp_head = 40};
	struct mt_py_objects o;
	__u64 gc;

	if (!size)
		return 0;
	off.version = (0x030a0000 + ((__u32)(data[0] % 6) << 16)) | data[0];
	if (!mt_py_objects__walk(off.version, BASE + 0x800, image_read, &m, &o)) {
		mt_py_objects__sort(&o);
		mt_py_objects__free(&o);
	}
	mt_py_objects__gc_state(&off, image_read, &m, &gc);
	return 0;
}
