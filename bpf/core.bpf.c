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
		frame[0] = mt_load_u64(&sc->chunk[idx]);
		frame[1] = mt_load_u64(&sc->chunk[idx + 8]);
		if (!frame[1] || n >= MT_MAX_STACK_DEPTH)
			break;
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = frame[1];
		n++;
		h = (h ^ frame[1]) * 0x100000001b3ULL;
		lo = fp;
		fp = frame[0];
	}
	return mt_stack_store(s, n, h, last);
}

/* The user stack's 8-byte word at addr, through the scratch window st->base..st->end. */
static __always_inline bool mt_stack_word(struct mt_stack_scratch *sc, struct mt_unwind_state *st,
					  __u64 addr, __u64 *out)
{
	if (addr < st->base || addr + 8 > st->end) {
		if (!bpf_probe_read_user(sc->chunk, MT_STACK_CHUNK, (void *)addr)) {
			st->base = addr;
			st->end = addr + MT_STACK_CHUNK;
		} else if (!bpf_probe_read_user(sc->chunk, 8, (void *)addr)) {
			st->base = addr;
			st->end = addr + 8;
		} else {
			return false;
		}
	}
	*out = mt_load_u64(&sc->chunk[(addr - st->base) & (MT_STACK_CHUNK - 1)]);
	return true;
}

/*
 * The rule of (tgid, addr): its entry, NULL when there is none. The rule
 * is read from the entry and holds only while *(volatile)&e->addr is still
 * addr afterwards (user space clears the address before it changes a
 * rule). mix is MT_UNWIND_TGID_MIX(tgid), worked out once per stack.
 */
static __always_inline const struct mt_unwind_entry *mt_unwind_find(__u32 tgid, __u64 mix,
								    __u64 addr)
{
	__u32 b = MT_UNWIND_BUCKET_MIXED(mix, addr) * MT_UNWIND_WAYS;

	for (__u32 i = 0; i < MT_UNWIND_WAYS; i++) {
		__u32 idx = b + i;
		const struct mt_unwind_entry *e = bpf_map_lookup_elem(&mt_unwind_rules, &idx);

		if (e && e->addr == addr && e->tgid == tgid)
			return e;
	}
	return NULL;
}

/*
 * One step of the walk in st (at st->pc) by rule (kind, cfa, rbp): the
 * caller's return address into st->ra, its %rsp and %rbp into st. 1 when
 * there is a caller to go on with, 0 at the end (END, STOP: counted, a
 * failed read, a frame not above the last).
 */
static __always_inline int mt_unwind_step(struct mt_stack_scratch *sc, struct mt_unwind_state *st,
					  __u32 kind, __s64 cfa_off, __s64 rbp_off)
{
	__u64 cfa, sp = st->sp;

	/* the common rules first: tests, not a switch's chain of compares */
	if (kind == MT_UNWIND_SP || kind == MT_UNWIND_BP) {
		cfa = (kind == MT_UNWIND_SP ? sp : st->fp) + cfa_off;
		/* the caller's frame lies above this one, on the same stack */
		if (cfa <= sp || cfa - sp > MT_MAX_FRAME_SPAN ||
		    !mt_stack_word(sc, st, cfa - 8, &st->ra))
			return 0;
		if (rbp_off && !mt_stack_word(sc, st, cfa + rbp_off, &st->fp))
			return 0;
		st->sp = cfa;
		return st->ra != 0;
	}
	if (kind == MT_UNWIND_SIGNAL) {
		if (!mt_stack_word(sc, st, sp + MT_SIGFRAME_RIP, &st->ra) ||
		    !mt_stack_word(sc, st, sp + MT_SIGFRAME_RSP, &st->rsp) ||
		    !mt_stack_word(sc, st, sp + MT_SIGFRAME_RBP, &st->rbp))
			return 0;
		st->sp = st->rsp;
		st->fp = st->rbp;
		return st->ra != 0;
	}
	if (kind == MT_UNWIND_STOP)
		mt_count(MT_CNT_UNWIND_STOP);
	return 0; /* STOP, or MT_UNWIND_END: the outermost frame */
}

/* May the stack stopped at key's address be copied for user space (rate limit)? */
static __always_inline bool mt_unwind_may_ask(const struct mt_unwind_key *key)
{
	struct mt_unwind_asked *a = bpf_map_lookup_elem(&mt_unwind_asked, key), fresh;
	__u64 now = bpf_ktime_get_ns();

	if (!a) {
		fresh.ts_ns = now;
		fresh.n = 1;
		bpf_map_update_elem(&mt_unwind_asked, key, &fresh, BPF_ANY);
		return true;
	}
	if (now - a->ts_ns > 1000000000ULL) {
		a->ts_ns = now;
		a->n = 0;
	}
	return __sync_fetch_and_add(&a->n, 1) < MT_UNWIND_ASKS;
}

/*
 * Copy the stack from st->sp for user space: as much of MT_UNWIND_COPY
 * bytes as lies below the stack's top. Returns the key of the stack
 * (stored partial here, completed by user space), 0 when nothing was sent.
 */
static __always_inline __u64 mt_unwind_ask(const struct mt_unwind_state *st, struct mt_stack *s,
					   __u32 n, __u64 h)
{
	struct mt_unwind_event *e;
	__u32 len = MT_UNWIND_COPY;

	e = bpf_ringbuf_reserve(&mt_unwind_events, sizeof(*e), 0);
	if (!e)
		return 0;
	for (int i = 0; i < 6; i++) {
		if (!bpf_probe_read_user(e->data, len & (MT_UNWIND_COPY * 2 - 1), (void *)st->sp))
			break;
		len >>= 1;
	}
	if (len < MT_UNWIND_COPY >> 5) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	/* a key of its own: user space completes this stack, not another's */
	h = (h ^ (__sync_fetch_and_add(&mt_unwind_seq, 1) * 0x9e3779b97f4a7c15ULL)) | 1;
	e->tgid = st->tgid;
	e->nr = n;
	e->stack = h;
	e->pc = st->pc;
	e->sp = st->sp;
	e->bp = st->fp;
	e->len = len;
	/* only the first frame's pc is an interrupted instruction */
	e->flags = st->exact && !n ? MT_UNWIND_F_EXACT : 0;
	if (n < MT_MAX_STACK_DEPTH)
		s->ips[n & (MT_MAX_STACK_DEPTH - 1)] = 0;
	__builtin_memcpy(e->ips, s->ips, sizeof(e->ips));
	/* stored as far as it goes (maybe no frame yet), completed by user space */
	if (bpf_map_update_elem(&mt_stacks, &h, s, BPF_NOEXIST)) {
		mt_count(MT_CNT_STACKS_FULL);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return h;
}

__noinline __u64 mt_stack_unwind(__u64 pc, __u64 sp, __u64 fp, __u64 win, __u64 last)
{
	__u64 h = 0xcbf29ce484222325ULL, key_h;
	struct mt_stack_scratch *sc;
	struct mt_unwind_state *st;
	__u32 zero = 0, n = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 mix = MT_UNWIND_TGID_MIX(tgid);
	bool miss = false;

	sc = bpf_map_lookup_elem(&mt_stack_scratch, &zero);
	if (!sc)
		return 0;
	st = &sc->st;
	st->tgid = tgid;
	/* st->exact: set by the caller for this walk only (cleared below) */
	st->pc = pc;
	st->sp = sp;
	st->fp = fp;
	st->base = win;
	st->end = win ? win + MT_STACK_CHUNK : 0;
	for (__u32 i = 0; i < MT_MAX_STACK_DEPTH; i++) {
		const struct mt_unwind_entry *e = mt_unwind_find(tgid, mix, st->pc);
		__u32 kind;
		__s32 cfa_off, rbp_off;

		if (e) {
			kind = e->rule.kind;
			cfa_off = e->rule.cfa;
			rbp_off = e->rule.rbp;
		}
		if (!e || *(volatile __u64 *)&e->addr != st->pc) {
			miss = true;
			break;
		}
		if (!mt_unwind_step(sc, st, kind, cfa_off, rbp_off))
			break;
		sc->stack.ips[n & (MT_MAX_STACK_DEPTH - 1)] = st->ra;
		n++;
		h = (h ^ st->ra) * 0x100000001b3ULL;
		st->pc = st->ra;
	}
	if (!miss) {
		st->exact = 0;
		return mt_stack_store(&sc->stack, n, h, last);
	}
	key_h = 0;
	st->key.tgid = tgid;
	st->key.pad = 0;
	st->key.addr = st->pc;
	if (mt_unwind_may_ask(&st->key))
		key_h = mt_unwind_ask(st, &sc->stack, n, h);
	st->exact = 0;
	if (key_h) {
		mt_count(MT_CNT_UNWIND_COPIES);
		return key_h;
	}
	mt_count(MT_CNT_UNWIND_PARTIAL);
	return mt_stack_store(&sc->stack, n, h, last);
}
