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
#include "maps.bpf.h"

/*
 * The Python stack of the current thread of tgid, or 0 (not Python, no
 * thread state, or a read failed: counted). A global function
 * (python.bpf.c): the verifier checks it once, not at every call site.
 */
__u64 mt_py_stack_get(__u32 tgid, __u64 last);

#define MT_PROT_RW 3		 /* PROT_READ | PROT_WRITE */
#define MT_MAP_TYPE_ANON 0x23	 /* MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS */
#define MT_MAP_PRIVATE_ANON 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */

/*
 * The kind of memory (enum mt_site_kind, include/mt_kinds.h) a call of
 * allocator kind makes: ip is the probed address, caller the call site,
 * prot and flags mmap's arguments. In a Python process a probe inside the
 * interpreter's code is one of its allocator domains, and a mapping the
 * interpreter makes is a pymalloc arena (anonymous, private, read-write,
 * of the arena size) or the runtime's own (a frame data stack).
 */
static __always_inline __u32 mt_site_kind(__u32 tgid, __u32 kind, __u64 ip, __u64 caller,
					  __u64 size, __u64 prot, __u64 flags)
{
	bool mapping = kind == MT_KIND_MMAP || kind == MT_KIND_MREMAP;
	const struct mt_py_offsets *o;

	if (!mt_py_procs_nr || !(o = bpf_map_lookup_elem(&mt_py_procs, &tgid)))
		return mapping ? MT_SITE_MMAP : MT_SITE_HEAP;
	if (!mapping)
		return ip - o->text_lo < o->text_hi - o->text_lo ? MT_SITE_PYOBJ : MT_SITE_HEAP;
	if (caller - o->text_lo >= o->text_hi - o->text_lo)
		return MT_SITE_MMAP;
	if (kind == MT_KIND_MMAP && size == o->arena_size && prot == MT_PROT_RW &&
	    (flags & MT_MAP_TYPE_ANON) == MT_MAP_PRIVATE_ANON)
		return MT_SITE_ARENA;
	return MT_SITE_RUNTIME;
}

#endif
