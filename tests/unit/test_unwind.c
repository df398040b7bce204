// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * unwind: libdw's CFI rules in the shape BPF applies (synthetic
 * expressions), the walk over a copied stack (synthetic rules and bytes,
 * hostile ones too), then this process's own stack: copied as BPF copies
 * it, unwound with the rules of its modules' CFI, compared with glibc's
 * backtrace() (libgcc's DWARF unwinder) frame for frame, through a qsort
 * callback and recursion in code built without frame pointers.
 */
#include <dwarf.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "probe/unwind.h"
#include "dwarf_op.h"
#include "test.h"

static const Dwarf_Op rsp_16[] = {OP(DW_OP_bregx, 7, 16)};
static const Dwarf_Op rbp_16[] = {OP(DW_OP_bregx, 6, 16)};
static const Dwarf_Op rsp_4[] = {OP(DW_OP_bregx, 7, 4)};
static const Dwarf_Op cfa_expr[] = {OP(DW_OP_bregx, 7, 8), OP(DW_OP_deref, 0, 0)};
static const Dwarf_Op ra_at_8[] = {OP(DW_OP_call_frame_cfa, 0, 0), OP(DW_OP_consts, -8, 0),
				   OP(DW_OP_plus, 0, 0)};
static const Dwarf_Op ra_at_16[] = {OP(DW_OP_call_frame_cfa, 0, 0), OP(DW_OP_consts, -16, 0),
				    OP(DW_OP_plus, 0, 0)};
static const Dwarf_Op rbp_at_16[] = {OP(DW_OP_call_frame_cfa, 0, 0), OP(DW_OP_consts, -16, 0),
				     OP(DW_OP_plus, 0, 0)};
static const Dwarf_Op rbp_in_reg[] = {OP(DW_OP_bregx, 3, 0)};
static Dwarf_Op undefined_mem[3];

struct rule_case {
	const char *what;
	const Dwarf_Op *cfa, *ra, *rbp;
	size_t ncfa, nra, nrbp;
	__u32 kind;
	__s32 cfa_off, rbp_off;
};

MT_TEST(unwind_rule_from_ops)
{
	const struct rule_case cases[] = {
	    {"SP-based, rbp kept", rsp_16, ra_at_8, NULL, 1, 3, 0, MT_UNWIND_SP, 16, 0},
	    {"SP-based, rbp saved", rsp_16, ra_at_8, rbp_at_16, 1, 3, 3, MT_UNWIND_SP, 16, -16},
	    {"frame pointer", rbp_16, ra_at_8, rbp_at_16, 1, 3, 3, MT_UNWIND_BP, 16, -16},
	    {"rbp undefined: left alone", rsp_16, ra_at_8, undefined_mem, 1, 3, 0, MT_UNWIND_SP, 16,
	     0},
	    {"return address undefined", rsp_16, undefined_mem, NULL, 1, 0, 0, MT_UNWIND_END, 0, 0},
	    {"return address elsewhere", rsp_16, ra_at_16, NULL, 1, 3, 0, MT_UNWIND_STOP, 0, 0},
	    {"CFA expression (PLT, realigned stack)", cfa_expr, ra_at_8, NULL, 2, 3, 0,
	     MT_UNWIND_STOP, 0, 0},
	    {"CFA below the return address", rsp_4, ra_at_8, NULL, 1, 3, 0, MT_UNWIND_STOP, 0, 0},
	    {"rbp in another register", rsp_16, ra_at_8, rbp_in_reg, 1, 3, 1, MT_UNWIND_STOP, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		struct mt_unwind_rule r;

		mt_unwind__rule_from_ops(c->cfa, c->ncfa, c->ra, c->nra, c->rbp, c->nrbp, &r);
		ASSERT_EQ(r.kind, c->kind, c->what);
		if (c->kind == MT_UNWIND_SP || c->kind == MT_UNWIND_BP) {
			ASSERT_EQ(r.cfa, c->cfa_off, c->what);
			ASSERT_EQ(r.rbp, c->rbp_off, c->what);
		}
	}
}

/* ---- the walk over synthetic rules ---- */

struct fake_rule {
	__u64 pc;
	struct mt_unwind_rule rule;
};

struct fake_rules {
	const struct fake_rule *r;
	size_t n;
	int exact_seen; /* lookups made with exact */
};

static bool fake_rule_fn(void *ctx, __u64 pc, bool exact, struct mt_unwind_rule *rule)
{
	struct fake_rules *f = ctx;

	f->exact_seen += exact;
	for (size_t i = 0; i < f->n; i++)
		if (f->r[i].pc == pc) {
			*rule = f->r[i].rule;
			return true;
		}
	return false;
}

#define BASE 0x7ff000000000ULL
#define WORD(buf, addr, v) (buf)[((addr)-BASE) / 8] = (v)

/* A faulting instruction (--growth) is looked up exactly; the frames above it at ra - 1. */
MT_TEST(unwind_walk_from_fault)
{
	const struct fake_rule rules[] = {
	    {0x1000, {MT_UNWIND_SP, 8, 0, 0}},
	    {0x2000, {MT_UNWIND_END, 0, 0, 0}},
	};
	struct fake_rules f = {rules, 2, 0};
	__u64 stack[8] = {0x2000};
	struct mt_unwind_copy mem = {BASE, (const __u8 *)stack, sizeof(stack)};
	struct mt_unwind_frame fr[4];
	enum mt_unwind_end end;
	size_t n;

	n = mt_unwind__walk_from(0x1000, true, BASE, 0, &mem, fake_rule_fn, &f, fr, 4, &end);
	ASSERT_EQ(n, 2, "frames");
	ASSERT_EQ(fr[1].pc, 0x2000, "caller");
	ASSERT_EQ(f.exact_seen, 1, "only the faulting pc exactly");
	f.exact_seen = 0;
	n = mt_unwind__walk(0x1000, BASE, 0, &mem, fake_rule_fn, &f, fr, 4, &end);
	ASSERT_EQ(n, 2, "frames from a return address");
	ASSERT_EQ(f.exact_seen, 0, "a return address at ra - 1");
}

MT_TEST(unwind_walk_synthetic)
{
	/* frame A (SP+16, saves rbp at CFA-16) -> B (BP+16) -> C (signal) -> D (END) */
	const struct fake_rule rules[] = {
	    {0x1000, {MT_UNWIND_SP, 16, -16, 0}},
	    {0x2000, {MT_UNWIND_BP, 16, -16, 0}},
	    {0x3000, {MT_UNWIND_SIGNAL, 0, 0, 0}},
	    {0x4000, {MT_UNWIND_END, 0, 0, 0}},
	};
	struct fake_rules f = {rules, 4, 0};
	__u64 stack[256] = {0};
	struct mt_unwind_copy mem = {BASE, (const __u8 *)stack, sizeof(stack)};
	struct mt_unwind_frame fr[8];
	enum mt_unwind_end end;
	size_t n;

	/* A at sp = BASE: CFA = BASE + 16, ra at BASE + 8, rbp at BASE */
	WORD(stack, BASE + 8, 0x2000);
	WORD(stack, BASE, BASE + 0x100); /* the caller's %rbp */
	/* B: CFA = rbp + 16 = BASE + 0x110, ra at BASE + 0x108 */
	WORD(stack, BASE + 0x108, 0x3000);
	WORD(stack, BASE + 0x100, 0x5555);
	/* C at sp = BASE + 0x110: the interrupted state in its ucontext */
	WORD(stack, BASE + 0x110 + MT_SIGFRAME_RIP, 0x4000);
	WORD(stack, BASE + 0x110 + MT_SIGFRAME_RSP, BASE + 0x400);
	WORD(stack, BASE + 0x110 + MT_SIGFRAME_RBP, 0);

	n = mt_unwind__walk(0x1000, BASE, 0x1234, &mem, fake_rule_fn, &f, fr, 8, &end);
	if (!ASSERT_EQ(n, 4, "frames"))
		return;
	ASSERT_EQ(fr[0].pc, 0x1000, "A");
	ASSERT_EQ(fr[1].pc, 0x2000, "B");
	ASSERT_EQ(fr[2].pc, 0x3000, "C");
	ASSERT_EQ(fr[3].pc, 0x4000, "D");
	ASSERT_EQ(fr[3].rule.kind, MT_UNWIND_END, "D's rule kept");
	ASSERT_EQ(end, MT_UNWIND_ENDED_OUTERMOST, "end");
	ASSERT_EQ(f.exact_seen, 1, "the interrupted pc is looked up exactly");

	/* the copy ends before B's return address: B keeps its rule, no C */
	mem.len = 0x100;
	n = mt_unwind__walk(0x1000, BASE, 0x1234, &mem, fake_rule_fn, &f, fr, 8, &end);
	ASSERT_EQ(n, 2, "frames in a short copy");
	ASSERT_EQ(fr[1].rule.kind, MT_UNWIND_BP, "B's rule");
	ASSERT_EQ(end, MT_UNWIND_ENDED_MEMORY, "short copy");

	/* no module at B: B has no rule */
	f.n = 1;
	mem.len = sizeof(stack);
	n = mt_unwind__walk(0x1000, BASE, 0x1234, &mem, fake_rule_fn, &f, fr, 8, &end);
	ASSERT_EQ(n, 2, "frames to an unknown pc");
	ASSERT_EQ(fr[1].rule.kind, 0, "no rule");
	ASSERT_EQ(end, MT_UNWIND_ENDED_NO_CFI, "unknown pc");

	/* max frames */
	f.n = 4;
	n = mt_unwind__walk(0x1000, BASE, 0x1234, &mem, fake_rule_fn, &f, fr, 2, &end);
	ASSERT_EQ(n, 2, "max");
	ASSERT_EQ(end, MT_UNWIND_ENDED_DEPTH, "depth");
}

/* Every rule steps, over random bytes: bounded, never outside the copy. */
MT_TEST(unwind_walk_hostile)
{
	static __u64 stack[2048];
	struct fake_rule rules[64];
	struct fake_rules f = {rules, 64, 0};
	struct mt_unwind_copy mem = {BASE, (const __u8 *)stack, sizeof(stack)};
	struct mt_unwind_frame fr[64];
	enum mt_unwind_end end;
	unsigned int seed = 1;

	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(stack) / 8; i++) {
			__u64 v = (__u64)rand_r(&seed) << 32 | (__u64)rand_r(&seed);

			/* many words look like pcs with rules, or like stack addresses */
			stack[i] = (v & 3) == 0	  ? rules[v % 64].pc
				   : (v & 3) == 1 ? BASE + (v >> 8) % (sizeof(stack) + 64)
						  : v;
		}
		for (int i = 0; i < 64; i++) {
			rules[i].pc = 0x1000 + (__u64)i * 16;
			rules[i].rule.kind = 1 + (__u32)rand_r(&seed) % 5;
			rules[i].rule.cfa = rand_r(&seed) % 4096 - 64;
			rules[i].rule.rbp = -(rand_r(&seed) % 256);
		}
		size_t n = mt_unwind__walk(rules[0].pc, BASE + (__u64)(rand_r(&seed) % 512) * 8,
					   BASE + (__u64)(rand_r(&seed) % 2048) * 8, &mem,
					   fake_rule_fn, &f, fr, 64, &end);
		ASSERT_TRUE(n >= 1 && n <= 64, "bounded");
	}
}

/* ---- this process's own stack ---- */

/*
 * What BPF sees at an allocator's entry, taken at this function's entry:
 * regs[0] = the return address ([rsp]), regs[1] = the CFA (rsp + 8),
 * regs[2] = %rbp.
 */
void unwind_capture(__u64 *regs);
__asm__(".text\n"
	".globl unwind_capture\n"
	".type unwind_capture, @function\n"
	"unwind_capture:\n"
	".cfi_startproc\n"
	"\tmov (%rsp), %rax\n"
	"\tmov %rax, (%rdi)\n"
	"\tlea 8(%rsp), %rax\n"
	"\tmov %rax, 8(%rdi)\n"
	"\tmov %rbp, 16(%rdi)\n"
	"\tret\n"
	".cfi_endproc\n"
	".size unwind_capture, .-unwind_capture\n");

struct capture {
	__u64 regs[3];
	__u8 *copy;
	size_t len;
	void *bt[64];
	int nbt;
	__u64 stack_top;
};

static struct capture cap;

/* Copy raw stack, red zones and all, as BPF copies it: not for AddressSanitizer to judge. */
__attribute__((no_sanitize_address, noinline)) static void copy_stack(__u8 *dst, __u64 src,
								      size_t len)
{
	const volatile __u8 *s = (const volatile __u8 *)src;

	for (size_t i = 0; i < len; i++)
		dst[i] = s[i];
}

__attribute__((noinline)) static int cmp_capture(const void *a, const void *b)
{
	if (!cap.nbt) {
		size_t len;

		/* BPF's state at an allocator entry, and the truth right beside it */
		unwind_capture(cap.regs);
		cap.nbt = backtrace(cap.bt, 64);
		len = cap.stack_top - cap.regs[1];
		cap.len = len < MT_UNWIND_COPY ? len : MT_UNWIND_COPY;
		copy_stack(cap.copy, cap.regs[1], cap.len);
	}
	return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) static int recurse(int depth)
{
	int v[4] = {3, 1, 2, depth}, r;

	if (depth > 0)
		r = recurse(depth - 1);
	else
		qsort(v, 4, sizeof(v[0]), cmp_capture);
	r = v[0] + depth;
	asm volatile("" : "+r"(r)::"memory");
	return r;
}

static void *capture_thread(void *arg)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (!pthread_getattr_np(pthread_self(), &attr)) {
		pthread_attr_getstack(&attr, &addr, &size);
		cap.stack_top = (__u64)addr + size;
		pthread_attr_destroy(&attr);
	}
	recurse(5);
	return arg;
}

MT_TEST(unwind_own_stack)
{
	struct mt_unwind_frame fr[64];
	struct mt_unwind_proc *p;
	struct mt_unwind_copy mem;
	enum mt_unwind_end end;
	pthread_t t;
	size_t n;
	int off;

	memset(&cap, 0, sizeof(cap));
	cap.copy = malloc(MT_UNWIND_COPY);
	if (!ASSERT_TRUE(cap.copy, "malloc") ||
	    !ASSERT_EQ(pthread_create(&t, NULL, capture_thread, NULL), 0, "thread"))
		goto out;
	pthread_join(t, NULL);
	if (!ASSERT_TRUE(cap.nbt > 10, "backtrace saw the recursion"))
		goto out;
	p = mt_unwind_proc__new(getpid());
	if (!ASSERT_TRUE(p, "rules of this process"))
		goto out;
	mem.sp = cap.regs[1];
	mem.data = cap.copy;
	mem.len = cap.len;
	n = mt_unwind__walk(cap.regs[0], cap.regs[1], cap.regs[2], &mem, mt_unwind_proc__rule, p,
			    fr, 64, &end);
	/*
	 * frame 0: after unwind_capture, bt[0]: after backtrace, both in
	 * cmp_capture; under AddressSanitizer backtrace() is its interceptor,
	 * one frame more: the frames after cmp_capture's start at bt[off]
	 */
	for (off = 1; off < cap.nbt && n > 1 && (__u64)cap.bt[off] != fr[1].pc; off++)
		;
	if (!ASSERT_TRUE(off <= 2, "cmp_capture's caller in backtrace()"))
		off = 1;
	ASSERT_EQ(n, cap.nbt - off + 1, "as many frames as backtrace()");
	for (size_t i = 1; i < n && i - 1 + off < (size_t)cap.nbt; i++)
		if (!ASSERT_EQ(fr[i].pc, (__u64)cap.bt[i - 1 + off], "frame's return address"))
			fprintf(stderr, "  frame %zu of %d\n", i, cap.nbt);
	ASSERT_EQ(end, MT_UNWIND_ENDED_OUTERMOST, "ended at the thread's first frame");
	ASSERT_EQ(fr[n - 1].rule.kind, MT_UNWIND_END, "clone's undefined return address");
	mt_unwind_proc__free(p);
out:
	free(cap.copy);
}
