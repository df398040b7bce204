// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-version CPython layouts (x86-64, GIL builds): data only.
 * Values from DWARF of pyenv 3.10.13, 3.11.7, 3.12.1, 3.13.0 and Debian's
 * 3.11.2, checked against live processes (shared/notes/cpython.md sections
 * 2-5); 3.14 and 3.15 from the headers, checked against Debian sid's
 * 3.14.10 and 3.15.2. Walker offsets for 3.13+ are not here: they are read
 * from the target's _Py_DebugOffsets.
 */
#include "python/py_offsets.h"

const struct mt_py_offsets mt_py__offsets_tab[] = {
    {
	.version = 0x030a0000,
	.code_mask = ~0ULL,
	.flags = MT_PY_LASTI_INDEX,
	.rt_interp_head = 32,
	.is_next = 0,
	.is_threads_head = 8, /* tstate_head */
	.ts_next = 8,
	.ts_thread_id = 176,
	.ts_frame = 24, /* PyFrameObject *frame */
	.ts_cframe_frame = -1,
	.fr_code = 32,	   /* f_code */
	.fr_previous = 24, /* f_back */
	.fr_instr = 96,	   /* int f_lasti */
	.fr_owner = -1,
	.owner_skip = 3,
	.code_adaptive = 0,
	.co_firstlineno = 40,
    },
    {
	.version = 0x030b0000,
	.code_mask = ~0ULL,
	.rt_interp_head = 40,
	.is_next = 0,
	.is_threads_head = 16,
	.ts_next = 8,
	.ts_thread_id = 152,
	.ts_frame = 56,	      /* _PyCFrame *cframe */
	.ts_cframe_frame = 8, /* cframe->current_frame */
	.fr_code = 32,
	.fr_previous = 48,
	.fr_instr = 56, /* prev_instr */
	.fr_owner = -1, /* owner @69 exists, but 3.11 has no shim frames */
	.owner_skip = 3,
	.code_adaptive = 184,
	.co_firstlineno = 72,
    },
    {
	.version = 0x030c0000,
	.code_mask = ~0ULL,
	.rt_interp_head = 40,
	.is_next = 0,
	.is_threads_head = 72,
	.ts_next = 8,
	.ts_thread_id = 136,
	.ts_frame = 56,	      /* _PyCFrame *cframe */
	.ts_cframe_frame = 0, /* cframe->current_frame */
	.fr_code = 0,
	.fr_previous = 8,
	.fr_instr = 56, /* prev_instr */
	.fr_owner = 70,
	.owner_skip = 3,
	.code_adaptive = 192,
	.co_firstlineno = 68,
    },
};
const size_t mt_py__offsets_tab_nr = sizeof(mt_py__offsets_tab) / sizeof(mt_py__offsets_tab[0]);

const struct mt_py_code_layout mt_py__code_tab[] = {
    {
	.version = 0x030a0000,
	.code_basicsize = 176,
	.co_firstlineno = 40,
	.co_filename = 104,
	.co_name = 112,
	.co_qualname = 0,
	.co_linetable = 120,
	.ascii_size = 48,
	.compact_size = 72,
	.bytes_size = 16,
	.bytes_sval = 32,
    },
    {
	.version = 0x030b0000,
	.code_basicsize = 184,
	.co_firstlineno = 72,
	.co_filename = 112,
	.co_name = 120,
	.co_qualname = 128,
	.co_linetable = 136,
	.ascii_size = 48,
	.compact_size = 72,
	.bytes_size = 16,
	.bytes_sval = 32,
    },
    {
	.version = 0x030c0000,
	.code_basicsize = 192,
	.co_firstlineno = 68,
	.co_filename = 112,
	.co_name = 120,
	.co_qualname = 128,
	.co_linetable = 136,
	.ascii_size = 40,
	.compact_size = 56,
	.bytes_size = 16,
	.bytes_sval = 32,
    },
    {
	.version = 0x030d0000,
	.code_basicsize = 200,
	.co_firstlineno = 68,
	.co_filename = 112,
	.co_name = 120,
	.co_qualname = 128,
	.co_linetable = 136,
	.ascii_size = 40,
	.compact_size = 56,
	.bytes_size = 16,
	.bytes_sval = 32,
    },
    {
	.version = 0x030e0000,
	.last = 0x030f0000, /* 3.15: the same */
	.code_basicsize = 208,
	.co_firstlineno = 68,
	.co_filename = 112,
	.co_name = 120,
	.co_qualname = 128,
	.co_linetable = 136,
	.ascii_size = 40,
	.compact_size = 56,
	.bytes_size = 16,
	.bytes_sval = 32,
    },
};
const size_t mt_py__code_tab_nr = sizeof(mt_py__code_tab) / sizeof(mt_py__code_tab[0]);

/*
 * _Py_DebugOffsets: a 24-byte header (cookie "xdebugpy", version,
 * free_threaded) then groups of uint64 fields; 3.14 added fields inside
 * groups (interpreter_state, interpreter_frame, code_object) and new groups;
 * 3.15 grew thread_state from 9 to 16 fields, added err_stackitem,
 * type_object.tp_basicsize/tp_dictoffset, heap_type_object,
 * unicode_object.compactunicodeobject_size and gc generation stats (888
 * bytes; the 3.15.0 betas differ: only final releases are accepted).
 * A field at position 0 is absent in that version.
 */
const struct mt_py_debug_layout mt_py__debug_tab[] = {
    {
	.version = 0x030d0000,
	.total = 584,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 152,
	.ts_next = 168,
	.ts_current_frame = 184,
	.ts_thread_id = 192,
	.fr_size = 224,
	.fr_previous = 232,
	.fr_executable = 240,
	.fr_instr_ptr = 248,
	.fr_owner = 264,
	.co_size = 272,
	.co_filename = 280,
	.co_name = 288,
	.co_qualname = 296,
	.co_linetable = 304,
	.co_firstlineno = 312,
	.co_code_adaptive = 344,
	.bytes_ob_size = 520,
	.bytes_ob_sval = 528,
	.uni_state = 544,
	.uni_length = 552,
	.uni_ascii_size = 560,
    },
    {
	.version = 0x030e0000,
	.total = 760,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 176,
	.ts_next = 192,
	.ts_current_frame = 208,
	.ts_thread_id = 216,
	.fr_size = 248,
	.fr_previous = 256,
	.fr_executable = 264,
	.fr_instr_ptr = 272,
	.fr_owner = 288,
	.co_size = 312,
	.co_filename = 320,
	.co_name = 328,
	.co_qualname = 336,
	.co_linetable = 344,
	.co_firstlineno = 352,
	.co_code_adaptive = 384,
	.bytes_ob_size = 600,
	.bytes_ob_sval = 608,
	.uni_state = 624,
	.uni_length = 632,
	.uni_ascii_size = 640,
    },
    {
	.version = 0x030f0000,
	.first = 0x030f00f0,
	.total = 888,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 176,
	.ts_next = 192,
	.ts_current_frame = 208,
	.ts_thread_id = 240,
	.fr_size = 312,
	.fr_previous = 320,
	.fr_executable = 328,
	.fr_instr_ptr = 336,
	.fr_owner = 352,
	.co_size = 376,
	.co_filename = 384,
	.co_name = 392,
	.co_qualname = 400,
	.co_linetable = 408,
	.co_firstlineno = 416,
	.co_code_adaptive = 448,
	.tp_basicsize = 512,
	.bytes_ob_size = 696,
	.bytes_ob_sval = 704,
	.uni_state = 720,
	.uni_length = 728,
	.uni_ascii_size = 736,
	.uni_compact_size = 744,
    },
};
const size_t mt_py__debug_tab_nr = sizeof(mt_py__debug_tab) / sizeof(mt_py__debug_tab[0]);
