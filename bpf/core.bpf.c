// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The global functions of the accounting core (core.bpf.h documents them).
 * Global, not static, so that the verifier checks each once rather than at
 * every call site; defined here once, as the linker wants, for every
 * program file that calls them. Not __hidden: libbpf would verify a hidden
 * function as a static one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "mt_abi.h"
#include "mt_python.h"
#include "core.bpf.h"

__noinline __u32 mt_site_new(const struct mt_site_key *k)
{
	struct mt_site_key *sk;
	__u32 slot = mt_site_next, *found;

	if (!k)
		return MT_NO_SITE;
	if (slot < mt_site_max)
		slot = __sync_fetch_and_add(&mt_site_next, 1);
	if (slot >= mt_site_max && bpf_map_pop_elem(&mt_site_free, &slot))
		goto full;
	sk = bpf_map_lookup_elem(&mt_site_keys, &slot);
	if (!sk)
		goto full;
	sk->kind = k->kind;
	sk->caller = k->caller;
	sk->stack = k->stack;
	sk->py_stack = k->py_stack;
	*(volatile __u32 *)&sk->tgid = k->tgid;
	if (!bpf_map_update_elem(&mt_site_index, k, &slot, BPF_NOEXIST))
		return slot;
	/* another CPU published this site first, or the index is full */
	*(volatile __u32 *)&sk->tgid = 0;
	bpf_map_push_elem(&mt_site_free, &slot, 0);
	found = bpf_map_lookup_elem(&mt_site_index, k);
	if (found)
		return *found;
full:
	mt_count(MT_CNT_SITES_FULL);
	return MT_NO_SITE;
}

__noinline __u64 mt_stack_window(__u64 sp, __u64 *ret)
{
	__u32 zero = 0;
	struct mt_stack_scratch *sc = bpf_map_lookup_elem(&mt_stack_scratch, &zero);

	if (!ret)
		return 0;
	if (sc && !bpf_probe_read_user(sc->chunk, MT_STACK_CHUNK, (void *)sp)) {
		__builtin_memcpy(ret, sc->chunk, sizeof(*ret));
		return sp;
	}
	return bpf_probe_read_user(ret, sizeof(*ret), (void *)sp) ? 0 : 1;
}

__noinline __u64 mt_stack_walk(__u64 first, __u64 fp, __u64 lo, __u64 last, __u64 win)
{
	__u64 h = 0xcbf29ce484222325ULL, base = win, end = win ? win + MT_STACK_CHUNK : 0;
	__u32 zero = 0, n = 0;
	struct mt_stack_scratch *sc = bpf_map_lookup_elem(&mt_stack_scratch, &zero);
	struct mt_stack *s;

	if (!sc)
		return 0;
	s = &sc->stack;
	if (first) {
		s->ips[0] = first;
		h = (h ^ first) * 0x100000001b3ULL;
		n = 1;
	}
	for (__u32 i = 1; i < MT_MAX_STACK_DEPTH; i++) {
		__u64 frame[2], idx; /* saved %rbp, return address */

		if (fp <= lo || fp - lo > MT_MAX_FRAME_SPAN || (fp & 7))
			break;
		/*
		 * Frames are close together: read the stack a window at a
		 * time, and a frame alone where the window would not fit.
		 */
		if (fp < base || fp + 16 > end) {
			if (!bpf_probe_read_user(sc->chunk, MT_STACK_CHUNK, (void *)fp)) {
				base = fp;
				end = fp + MT_STACK_CHUNK;
			} else if (!bpf_probe_read_user(sc->chunk, 16, (void *)fp)) {
				base = fp;
				end = fp + 16;
			} else {
				break;
			}
		}
		idx = (fp - base) & (MT_STACK_CHUNK - 1);
		__builtin_memcpy(frame, &sc->chunk[idx], sizeof(frame));
		if (!frame[1] || n >= MT_MAX_STACK_DEPTH)
			break;
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = frame[1];
		n++;
		h = (h ^ frame[1]) * 0x100000001b3ULL;
		lo = fp;
		fp = frame[0];
	}
	if (!n)
		return 0;
	if (n < MT_MAX_STACK_DEPTH)
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = 0;
	h ^= n;
	h |= 1; /* never 0 */
	if (h == last)
		return h; /* the thread's previous stack: stored already */
	if (!bpf_map_lookup_elem(&mt_stacks, &h) &&
	    bpf_map_update_elem(&mt_stacks, &h, s, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&mt_stacks, &h)) {
		mt_count(MT_CNT_STACKS_FULL);
		return 0;
	}
	return h;
}
