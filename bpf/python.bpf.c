// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Python: the frame walk every allocation probe makes (python.bpf.h
 * documents it) and the programs for Python processes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"
#include "core.bpf.h"
#include "python.bpf.h"
#include "proc.bpf.h"

static __always_inline int mt_py_read(void *dst, __u32 size, __u64 addr)
{
	return bpf_probe_read_user(dst, size, (void *)addr);
}

/* A field of the frame copy at a runtime offset: bounded and aligned. */
#define MT_FRAME_FIELD(type, buf, off) \
	(*(type *)&(buf)[(off) & (MT_PY_FRAME_READ - 1) & ~(sizeof(type) - 1)])

static __always_inline __u64 mt_py_tstate(const struct mt_py_offsets *o, __u32 tid, __u64 fsbase)
{
	__u64 ts = 0, *cached, id = 0, interp = 0;

	cached = bpf_map_lookup_elem(&mt_py_tstates, &tid);
	if (cached) {
		ts = *cached;
		if (!mt_py_read(&id, sizeof(id), ts + o->ts_thread_id) && id == fsbase)
			return ts;
		bpf_map_delete_elem(&mt_py_tstates, &tid);
	}
	if (mt_py_read(&interp, sizeof(interp), o->runtime + o->rt_interp_head))
		return 0;
	for (int i = 0; i < MT_PY_MAX_INTERPS && interp; i++) {
		if (mt_py_read(&ts, sizeof(ts), interp + o->is_threads_head))
			return 0;
		for (int j = 0; j < MT_PY_MAX_THREADS && ts; j++) {
			if (mt_py_read(&id, sizeof(id), ts + o->ts_thread_id))
				return 0;
			if (id == fsbase) {
				bpf_map_update_elem(&mt_py_tstates, &tid, &ts, BPF_ANY);
				return ts;
			}
			if (mt_py_read(&ts, sizeof(ts), ts + o->ts_next))
				return 0;
		}
		if (mt_py_read(&interp, sizeof(interp), interp + o->is_next))
			return 0;
	}
	return 0;
}

struct mt_py_walk {
	const struct mt_py_offsets *o;
	struct mt_py_scratch *sc;
	__u64 frame;
	__u64 hash;
	__u32 n;
	__u32 fault;
};

/* One frame of the walk (a bpf_loop callback: verified once). */
static long mt_py_walk_frame(__u32 i, void *arg)
{
	struct mt_py_walk *w = arg;
	const struct mt_py_offsets *o = w->o;
	struct mt_py_scratch *sc = w->sc;
	__u64 code, off, frame = w->frame;
	__s32 first = 0;
	__u32 n = w->n;

	__u32 span = o->fr_span;

	if (!frame || n >= MT_PY_MAX_DEPTH || n >= mt_py_depth)
		return 1;
	if (span < 8 || span > MT_PY_FRAME_READ)
		span = MT_PY_FRAME_READ;
	if (mt_py_read(sc->frame, span, frame)) {
		w->fault = 1;
		return 1;
	}
	w->frame = MT_FRAME_FIELD(__u64, sc->frame, o->fr_previous);
	code = MT_FRAME_FIELD(__u64, sc->frame, o->fr_code) & o->code_mask;
	if (!code)
		return 0;
	if (o->fr_owner >= 0 && MT_FRAME_FIELD(__u8, sc->frame, o->fr_owner) >= o->owner_skip)
		return 0; /* entry or shim frame */
	if (o->flags & MT_PY_LASTI_INDEX) {
		__s32 lasti = MT_FRAME_FIELD(__s32, sc->frame, o->fr_instr);

		off = lasti > 0 ? (__u64)lasti * 2 : 0;
	} else {
		off = MT_FRAME_FIELD(__u64, sc->frame, o->fr_instr) - (code + o->code_adaptive);
	}
	if (mt_py_read(&first, sizeof(first), code + o->co_firstlineno)) {
		w->fault = 1;
		return 1;
	}
	n &= MT_PY_MAX_DEPTH - 1;
	sc->stack.frames[n].code = code;
	sc->stack.frames[n].offset = (__u32)off;
	sc->stack.frames[n].firstlineno = first;
	w->hash = (w->hash ^ code) * 0x100000001b3ULL;
	w->hash = (w->hash ^ (__u32)off) * 0x100000001b3ULL;
	w->n = n + 1;
	return 0;
}

__noinline __u64 mt_py_stack_get(__u32 tgid, __u64 last)
{
	const struct mt_py_offsets *o;
	/*
	 * The process is part of the key: a forked child runs the same code at
	 * the same addresses, and its own event is what makes memtrace read
	 * them in that child while it lives.
	 */
	struct mt_py_walk w = {.hash = (0xcbf29ce484222325ULL ^ tgid) * 0x100000001b3ULL};
	struct task_struct *task;
	__u64 ts, frame = 0, h;
	__u32 zero = 0, tid;

	if (!mt_py_procs_nr)
		return 0; /* no Python process: skip the lookup */
	o = bpf_map_lookup_elem(&mt_py_procs, &tgid);
	if (!o)
		return 0;
	w.o = o;
	w.sc = bpf_map_lookup_elem(&mt_py_scratch, &zero);
	if (!w.sc)
		return 0;
	task = bpf_get_current_task_btf();
	tid = (__u32)bpf_get_current_pid_tgid();
	ts = mt_py_tstate(o, tid, BPF_CORE_READ(task, thread.fsbase));
	if (!ts) {
		mt_count(MT_CNT_PY_NO_THREAD);
		return 0;
	}
	if (mt_py_read(&frame, sizeof(frame), ts + o->ts_frame))
		goto fault;
	if (o->ts_cframe_frame >= 0 && frame &&
	    mt_py_read(&frame, sizeof(frame), frame + (__u32)o->ts_cframe_frame))
		goto fault;
	w.frame = frame;
	/* twice the depth: shim and entry frames are walked but not kept */
	bpf_loop(MT_PY_MAX_DEPTH * 2, mt_py_walk_frame, &w, 0);
	if (w.fault)
		goto fault;
	if (!w.n)
		return 0;
	if (w.n < MT_PY_MAX_DEPTH)
		w.sc->stack.frames[w.n & (MT_PY_MAX_DEPTH - 1)].code = 0;
	h = (w.hash ^ w.n) | 1;
	if (h == last)
		return h; /* the thread's previous Python stack: stored already */
	if (!bpf_map_lookup_elem(&mt_py_stacks, &h)) {
		struct mt_py_event ev = {.py_stack = h, .tgid = tgid};

		if (!bpf_map_update_elem(&mt_py_stacks, &h, &w.sc->stack, BPF_NOEXIST)) {
			if (bpf_ringbuf_output(&mt_py_events, &ev, sizeof(ev), 0))
				mt_count(MT_CNT_PY_EVENTS_LOST);
		} else if (!bpf_map_lookup_elem(&mt_py_stacks, &h)) {
			mt_count(MT_CNT_PY_STACKS_FULL);
			return 0;
		}
	}
	return h;
fault:
	mt_count(MT_CNT_PY_READ_FAULT);
	return 0;
}
