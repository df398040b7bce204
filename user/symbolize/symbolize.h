/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Frame model shared by every symbolizer backend and everything after it
 * (aggregation, report, output formats). Plain data; no libbpf, no libdw.
 */
#ifndef MT_SYMBOLIZE_H
#define MT_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum mt_frame_kind {
	MT_FRAME_NATIVE = 0,
	MT_FRAME_PYTHON = 1,
};

/*
 * One source-level frame. Strings are interned by the symbolizer that
 * produced them and live as long as it does; NULL means unknown.
 * A machine address with inlined calls expands into several frames,
 * innermost first: all but the last have inlined = true.
 */
struct mt_frame {
	const char *function;
	const char *file;
	const char *module;   /* basename of the ELF file */
	const char *build_id; /* its GNU build-id in lower-case hex; NULL when unknown */
	__u64 addr;	      /* address in the process */
	/*
	 * The address as its ELF file numbers it, what `addr2line -e FILE`
	 * takes; for a return address, the call's last byte (so the line is
	 * the call's). 0 = unknown.
	 */
	__u64 elf_addr;
	int line; /* 0 = unknown */
	enum mt_frame_kind kind;
	bool inlined;
};

#endif
