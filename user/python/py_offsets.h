/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython detection: finds the interpreter in a process, its version and
 * _PyRuntime, and fills struct mt_py_offsets (include/mt_python.h) for the
 * BPF frame walker. Supported: CPython 3.10-3.15, GIL builds, x86-64;
 * free-threaded builds are refused.
 *
 *   3.13+       offsets read from _Py_DebugOffsets at the start of the
 *               target's _PyRuntime (layout chosen by minor version)
 *   3.10-3.12   a const table, one entry per minor version
 *               (py_offsets_tab.c), cross-checked against the running
 *               interpreter's PyCode_Type (tp_basicsize, tp_members)
 *
 * The code-object layout user space needs to read file, function and line
 * table (struct mt_py_code_layout) is a per-version table too; detection
 * verifies it against PyCode_Type and, on 3.13+, _Py_DebugOffsets.
 */
#ifndef MT_PY_OFFSETS_H
#define MT_PY_OFFSETS_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "mt_python.h"
#include "proc/procmaps.h"

/* What user space reads from code objects and the strings they point to. */
struct mt_py_code_layout {
	__u32 version;	      /* PY_VERSION_HEX of the minor version: 0x030c0000 */
	__u32 last;	      /* last minor version with this layout; 0: only .version */
	__u32 code_basicsize; /* PyCode_Type.tp_basicsize */
	__u32 co_firstlineno; /* int */
	__u32 co_filename;    /* str* */
	__u32 co_name;	      /* str* */
	__u32 co_qualname;    /* str*; 0: none (3.10) */
	__u32 co_linetable;   /* bytes* */
	__u32 ascii_size;     /* sizeof(PyASCIIObject): compact ASCII data follows */
	__u32 compact_size;   /* sizeof(PyCompactUnicodeObject): other compact data follows */
	__u32 bytes_size;     /* PyBytesObject.ob_size (Py_ssize_t) */
	__u32 bytes_sval;     /* PyBytesObject.ob_sval */
};

/*
 * Byte positions, inside _Py_DebugOffsets (3.13+), of the fields detection
 * uses. The struct grows between minor versions, so its layout is data too.
 */
struct mt_py_debug_layout {
	__u32 version; /* minor version: 0x030d0000 */
	__u32 first;   /* first release with this layout (0x030f00f0: 3.15.0 final) */
	__u32 total;   /* sizeof(_Py_DebugOffsets) */
	__u32 rt_size, rt_interp_head;
	__u32 is_size, is_next, is_threads_head;
	__u32 ts_size, ts_next, ts_current_frame, ts_thread_id;
	__u32 fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	__u32 co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
	    co_code_adaptive;
	__u32 tp_basicsize; /* 0: not in this version's table (3.15+) */
	__u32 bytes_ob_size, bytes_ob_sval;
	__u32 uni_state, uni_length, uni_ascii_size;
	__u32 uni_compact_size; /* 0: not in this version's table (3.15+) */
};

/*
 * Detect CPython in process pid whose maps are *maps (mt_maps__read).
 * On success fills *off and writes e.g. "CPython 3.12.1, /usr/lib/libpython3.12.so.1.0"
 * to desc; on failure desc says why. Returns:
 *   0            detected, *off filled
 *   -ENOENT      not a Python process (no libpython, executable not Python)
 *   -EOPNOTSUPP  a CPython this code does not support (version, free-threaded)
 *   -EPROTO      the interpreter's own layout disagrees with what we expect
 *   -EAGAIN      libpython is mapped but not relocated yet (process just
 *                started): try again later
 *   -ESRCH       the process is gone; other negative errno on failure
 * desc may be NULL when desclen is 0.
 */
int mt_py__detect(pid_t pid, const struct mt_maps *maps, struct mt_py_offsets *off, char *desc,
		  size_t desclen);

/* Code-object layout of a version (any micro), or NULL when unsupported. */
const struct mt_py_code_layout *mt_py__code_layout(__u32 version);

/* ---- data (py_offsets_tab.c) ---- */

/* 3.10-3.12 walker offsets; .version is the minor version (0x030a0000), .runtime 0 */
extern const struct mt_py_offsets mt_py__offsets_tab[];
extern const size_t mt_py__offsets_tab_nr;
/* 3.10-3.15 code-object layouts */
extern const struct mt_py_code_layout mt_py__code_tab[];
extern const size_t mt_py__code_tab_nr;
/* 3.13+ _Py_DebugOffsets layouts */
extern const struct mt_py_debug_layout mt_py__debug_tab[];
extern const size_t mt_py__debug_tab_nr;

#endif
