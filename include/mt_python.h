/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython frame walking shared by BPF and the loader: the per-process
 * interpreter layout (offsets are data, filled by user space from
 * _Py_DebugOffsets on 3.13+ or a per-version table on 3.10-3.12) and the
 * frames BPF records. Line numbers are computed in user space.
 */
#ifndef MT_PYTHON_H
#define MT_PYTHON_H

#define MT_PY_MAX_DEPTH 32   /* Python frames kept per stack */
#define MT_PY_MAX_THREADS 64 /* thread states examined per interpreter */
#define MT_PY_MAX_INTERPS 4  /* interpreters examined */
#define MT_PY_FRAME_READ 128 /* the most of a frame BPF reads (fr_span) */

/* mt_py_offsets.flags */
#define MT_PY_LASTI_INDEX 1 /* 3.10: fr_instr is int f_lasti, an instruction index */

struct mt_py_offsets {
	__u64 runtime;	 /* address of _PyRuntime in the target */
	__u64 code_mask; /* applied to frame code pointers (~3 on 3.14: tagged refs) */
	__u32 version;	 /* PY_VERSION_HEX */
	__u32 flags;
	/* _PyRuntimeState */
	__u32 rt_interp_head; /* interpreters.head */
	/* PyInterpreterState */
	__u32 is_next;
	__u32 is_threads_head;
	/* PyThreadState */
	__u32 ts_next;
	__u32 ts_thread_id;    /* == pthread_self() == fsbase on glibc x86-64 */
	__u32 ts_frame;	       /* offset of the frame pointer, or of the cframe pointer */
	__s32 ts_cframe_frame; /* >= 0: ts_frame holds a CFrame*, current frame at this offset */
	/* frames: PyFrameObject (3.10) or _PyInterpreterFrame (3.11+) */
	__u32 fr_code;
	__u32 fr_previous;
	__u32 fr_instr;	  /* 3.10: f_lasti (int); 3.11+: prev_instr / instr_ptr */
	__s32 fr_owner;	  /* -1: no owner field */
	__u32 owner_skip; /* owner >= this: an entry/shim frame, not Python code */
	/*
	 * Bytes of a frame BPF reads: the end of its last field used, never
	 * more. A frame can end just below a page never touched (the top of a
	 * fresh data-stack chunk), and a probe cannot fault one in.
	 */
	__u32 fr_span;
	/* code objects */
	__u32 code_adaptive;  /* offsetof(PyCodeObject, co_code_adaptive), 3.11+ */
	__u32 co_firstlineno; /* int, used as a fingerprint against address reuse */
	/*
	 * The interpreter's code in the target: a probe there is one of
	 * CPython's allocator domains, an anonymous private read-write
	 * mapping of arena_size bytes made from there is a pymalloc arena.
	 */
	__u32 arena_size;
	__u64 text_lo, text_hi;
};

/* One Python frame as BPF records it. */
struct mt_py_frame {
	__u64 code;	   /* PyCodeObject address; 0 ends a stack */
	__u32 offset;	   /* byte offset of the current instruction in the bytecode */
	__s32 firstlineno; /* co_firstlineno when recorded (code object reuse check) */
};

/*
 * Sent through a ring buffer when BPF stores a Python stack it had not seen:
 * code objects can be freed soon after (a module's top-level code once the
 * import is done), so user space reads them at once, while they live.
 */
struct mt_py_event {
	__u64 py_stack;
	__u32 tgid;
	__u32 pad;
};

/* A Python stack, innermost frame first. */
struct mt_py_stack {
	struct mt_py_frame frames[MT_PY_MAX_DEPTH];
};

_Static_assert(sizeof(struct mt_py_offsets) == 104, "mt_py_offsets size");
_Static_assert(sizeof(struct mt_py_frame) == 16, "mt_py_frame size");
_Static_assert(sizeof(struct mt_py_event) == 16, "mt_py_event size");

#endif /* MT_PYTHON_H */
