/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython frame walk at an allocation (layouts: include/mt_python.h).
 *
 * Thread state: the interpreter's thread list, matched on
 * tstate->thread_id == this thread's fsbase (pthread_self() on glibc
 * x86-64). That works with the GIL released and inside PID namespaces,
 * where the GIL holder and native thread ids both mislead. The match is
 * cached per thread and revalidated with one read on every use.
 *
 * Frames: one read of the frame and one of its code object's
 * co_firstlineno each; entry/shim frames are skipped. Recorded are the
 * code object address, the instruction's byte offset and co_firstlineno;
 * file, function and line are read and decoded in user space.
 */
#ifndef MT_PYTHON_BPF_H
#define MT_PYTHON_BPF_H

#include "mt_python.h"

/*
 * The Python stack of the current thread of tgid, or 0 (not Python, no
 * thread state, or a read failed: counted). A global function
 * (python.bpf.c): the verifier checks it once, not at every call site.
 */
__u64 mt_py_stack_get(__u32 tgid, __u64 last);

#endif
