// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "kernel/loader.h"
#include "kernel/unwinder.h"
#include "lib/log.h"
#include "probe/unwind.h"

/* processes whose modules stay open; the least recently used one goes first */
#define MAX_PROCS 32

struct proc_slot {
	__u32 tgid;
	__u64 used;
	struct mt_unwind_proc *proc;
};

struct mt_unwinder {
	struct mt_unwind_entry *rules; /* mapped: MT_UNWIND_BUCKETS * MT_UNWIND_WAYS */
	int stacks_fd;
	struct proc_slot procs[MAX_PROCS];
	__u64 clock;
	__u64 window_ns, spent_ns; /* the current second of the time budget, and what it spent */
	struct mt_unwinder_stats stats;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* May a request be handled now? (The time budget of this second is not spent.) */
static bool in_budget(struct mt_unwinder *u, __u64 now)
{
	if (now - u->window_ns >= 1000000000ULL) {
		u->window_ns = now;
		u->spent_ns = 0;
	}
	return u->spent_ns < MT_UNWINDER_BUDGET_MS * 1000000ULL;
}

struct mt_unwinder *mt_unwinder__new(const struct mt_bpf_maps *maps)
{
	struct mt_unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->rules = maps->unwind_rules;
	u->stacks_fd = maps->stacks;
	return u;
}

void mt_unwinder__forget(struct mt_unwinder *u, __u32 tgid)
{
	for (size_t i = 0; u && i < MAX_PROCS; i++) {
		if (u->procs[i].proc && u->procs[i].tgid == tgid) {
			mt_unwind_proc__free(u->procs[i].proc);
			memset(&u->procs[i], 0, sizeof(u->procs[i]));
		}
	}
}

void mt_unwinder__free(struct mt_unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < MAX_PROCS; i++)
		mt_unwind_proc__free(u->procs[i].proc);
	free(u);
}

const struct mt_unwinder_stats *mt_unwinder__stats(const struct mt_unwinder *u)
{
	return &u->stats;
}

/* The process's modules, opened now if they were not. */
static struct proc_slot *proc_get(struct mt_unwinder *u, __u32 tgid)
{
	struct proc_slot *s = &u->procs[0];

	for (size_t i = 0; i < MAX_PROCS; i++) {
		if (u->procs[i].proc && u->procs[i].tgid == tgid) {
			u->procs[i].used = ++u->clock;
			return &u->procs[i];
		}
		if (!u->procs[i].proc || u->procs[i].used < s->used)
			s = &u->procs[i];
	}
	mt_unwind_proc__free(s->proc);
	s->proc = mt_unwind_proc__new((pid_t)tgid);
	s->tgid = tgid;
	s->used = ++u->clock;
	return s->proc ? s : NULL;
}

/*
 * Set the rule of (tgid, addr) in its bucket: its own entry, else a free
 * one, else one evicted by the address. In the order BPF reads: a changed
 * entry loses its address first, gets its rule, then its key.
 */
static void rule_set(struct mt_unwinder *u, __u32 tgid, __u64 addr,
		     const struct mt_unwind_rule *rule)
{
	struct mt_unwind_entry *b;
	volatile struct mt_unwind_entry *e = NULL;

	if (!u->rules || !addr)
		return;
	b = &u->rules[(size_t)MT_UNWIND_BUCKET(tgid, addr) * MT_UNWIND_WAYS];
	for (int i = 0; i < MT_UNWIND_WAYS && !e; i++)
		if (b[i].addr == addr && b[i].tgid == tgid)
			e = &b[i];
	if (e && e->rule.kind == rule->kind && e->rule.cfa == rule->cfa && e->rule.rbp == rule->rbp)
		return; /* known: not cleared for a moment under a walker's feet */
	for (int i = 0; i < MT_UNWIND_WAYS && !e; i++)
		if (!b[i].addr)
			e = &b[i];
	if (!e) {
		e = &b[addr % MT_UNWIND_WAYS];
		u->stats.evicted++;
	}
	e->addr = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e->rule.kind = rule->kind;
	e->rule.cfa = rule->cfa;
	e->rule.rbp = rule->rbp;
	e->rule.pad = 0;
	e->tgid = tgid;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->addr = addr;
	u->stats.rules++;
}

int mt_unwinder__prepare(struct mt_unwinder *u, __u32 tgid)
{
	struct proc_slot *s;

	if (!u)
		return 0;
	s = proc_get(u, tgid);
	if (!s)
		return -errno;
	mt_unwind_proc__load(s->proc);
	return 0;
}

static size_t walk(struct mt_unwind_proc *p, const struct mt_unwind_event *e,
		   struct mt_unwind_frame *fr, enum mt_unwind_end *end)
{
	struct mt_unwind_copy mem = {e->sp, e->data, e->len};

	return mt_unwind__walk_from(e->pc, e->flags & MT_UNWIND_F_EXACT, e->sp, e->bp, &mem,
				    mt_unwind_proc__rule, p, fr, MT_MAX_STACK_DEPTH, end);
}

static int handle(struct mt_unwinder *u, const struct mt_unwind_event *e);

int mt_unwinder__handle(struct mt_unwinder *u, const void *data, size_t size)
{
	const struct mt_unwind_event *e = data;
	__u64 t0 = now_ns();
	int err;

	if (size < sizeof(*e) || e->nr > MT_MAX_STACK_DEPTH || e->len > MT_UNWIND_COPY)
		return -EINVAL;
	u->stats.requests++;
	if (!in_budget(u, t0)) {
		u->stats.skipped++;
		return -EBUSY;
	}
	err = handle(u, e);
	u->spent_ns += now_ns() - t0;
	return err;
}

static int handle(struct mt_unwinder *u, const struct mt_unwind_event *e)
{
	struct mt_unwind_frame fr[MT_MAX_STACK_DEPTH];
	struct mt_stack stack = {};
	enum mt_unwind_end end;
	struct proc_slot *s;
	size_t n, depth;

	s = proc_get(u, e->tgid);
	if (!s) {
		u->stats.bad++;
		return -ESRCH;
	}
	n = walk(s->proc, e, fr, &end);
	if (end == MT_UNWIND_ENDED_NO_CFI && !fr[n - 1].rule.kind &&
	    !mt_unwind_proc__refresh(s->proc)) {
		/* no module at a pc: the process mapped a library since */
		n = walk(s->proc, e, fr, &end);
	}
	for (size_t i = 0; i < n; i++) {
		struct mt_unwind_rule rule = fr[i].rule;

		if (!rule.kind && end == MT_UNWIND_ENDED_NO_CFI && i == n - 1)
			rule.kind = MT_UNWIND_STOP; /* no module there: stop, not ask again */
		if (rule.kind)
			rule_set(u, e->tgid, fr[i].pc, &rule);
	}
	switch (end) {
	case MT_UNWIND_ENDED_OUTERMOST:
	case MT_UNWIND_ENDED_DEPTH:
		u->stats.completed++;
		break;
	case MT_UNWIND_ENDED_NO_CFI:
		u->stats.no_cfi++;
		break;
	case MT_UNWIND_ENDED_MEMORY:
		u->stats.short_copy++;
		break;
	default:
		u->stats.bad++;
	}
	/* that allocation's stack: what BPF found, then what the copy gave */
	memcpy(stack.ips, e->ips, e->nr * sizeof(__u64));
	depth = e->nr;
	for (size_t i = 1; i < n && depth < MT_MAX_STACK_DEPTH; i++)
		stack.ips[depth++] = fr[i].pc;
	if (depth > e->nr && bpf_map_update_elem(u->stacks_fd, &e->stack, &stack, BPF_EXIST))
		pr_debug("unwind: completing stack %llx of %u: %s", (unsigned long long)e->stack,
			 e->tgid, strerror(errno));
	return 0;
}
