// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CFI rules for BPF's unwinder, and the walk over a copied stack that
 * finds them (unwind.h). A module's CFI is its .eh_frame, else its
 * .debug_frame, else the .debug_frame of its separate debug file under
 * /usr/lib/debug/.build-id (root's, never the target's).
 */
#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include "probe/unwind.h"
#include "proc/elf.h"
#include "proc/files.h"
#include "proc/procmaps.h"

#define DWARF_RBP 6
#define DWARF_RSP 7
#define DWARF_RA 16
#define DEBUG_DIR "/usr/lib/debug"

/* Is ops "the value at CFA + *off" (DW_OP_call_frame_cfa [+ N])? */
static bool at_cfa(const Dwarf_Op *ops, size_t n, __s64 *off)
{
	if (n < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (n == 1) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (__s64)ops[1].number;
		return true;
	}
	if (n == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus) {
		*off = (__s64)ops[1].number;
		return true;
	}
	return false;
}

void mt_unwind__rule_from_ops(const Dwarf_Op *cfa, size_t ncfa, const Dwarf_Op *ra, size_t nra,
			      const Dwarf_Op *rbp, size_t nrbp, struct mt_unwind_rule *rule)
{
	__s64 off;

	memset(rule, 0, sizeof(*rule));
	rule->kind = MT_UNWIND_STOP;
	if (!nra && ra) {
		rule->kind = MT_UNWIND_END; /* return address undefined: outermost */
		return;
	}
	if (ncfa != 1 || cfa[0].atom != DW_OP_bregx ||
	    (cfa[0].number != DWARF_RSP && cfa[0].number != DWARF_RBP))
		return;
	if ((__s64)cfa[0].number2 < 8 || (__s64)cfa[0].number2 > (1 << 20))
		return;
	if (!at_cfa(ra, nra, &off) || off != -8)
		return;
	if (nrbp) {
		/* saved in the frame, below the CFA */
		if (!at_cfa(rbp, nrbp, &off) || off >= 0 || off < -(1 << 20))
			return;
		rule->rbp = (__s32)off;
	}
	/* "undefined" %rbp (nrbp 0, rbp non-NULL) is left as it is */
	rule->cfa = (__s32)cfa[0].number2;
	rule->kind = cfa[0].number == DWARF_RSP ? MT_UNWIND_SP : MT_UNWIND_BP;
}

void mt_unwind__rule(Dwarf_CFI *cfi, __u64 vaddr, bool exact, struct mt_unwind_rule *rule)
{
	Dwarf_Op ra_mem[3], rbp_mem[3], *cfa, *ra, *rbp;
	size_t ncfa, nra, nrbp;
	Dwarf_Frame *frame = NULL;
	Dwarf_Addr start, end;
	bool signal = false;

	memset(rule, 0, sizeof(*rule));
	rule->kind = MT_UNWIND_STOP;
	if (!cfi || (!exact && !vaddr) ||
	    dwarf_cfi_addrframe(cfi, exact ? vaddr : vaddr - 1, &frame))
		return;
	if (dwarf_frame_info(frame, &start, &end, &signal) >= 0 && signal) {
		/* a signal trampoline (__restore_rt): registers from the ucontext */
		rule->kind = MT_UNWIND_SIGNAL;
	} else if (!dwarf_frame_cfa(frame, &cfa, &ncfa) &&
		   !dwarf_frame_register(frame, DWARF_RA, ra_mem, &ra, &nra) &&
		   !dwarf_frame_register(frame, DWARF_RBP, rbp_mem, &rbp, &nrbp)) {
		mt_unwind__rule_from_ops(cfa, ncfa, ra, nra, rbp, nrbp, rule);
	}
	free(frame);
}

/* The 8-byte word at addr in the copy; false when it is not all there. */
static bool copy_word(const struct mt_unwind_copy *mem, __u64 addr, __u64 *out)
{
	if (addr < mem->sp || addr - mem->sp > mem->len || mem->len - (addr - mem->sp) < 8)
		return false;
	memcpy(out, mem->data + (addr - mem->sp), 8);
	return true;
}

/* Apply frame f's rule to (sp, bp): the next frame's pc, sp and bp. */
static enum mt_unwind_end step(const struct mt_unwind_frame *f, const struct mt_unwind_copy *mem,
			       __u64 *pc, __u64 *sp, __u64 *bp)
{
	const struct mt_unwind_rule *r = &f->rule;
	__u64 cfa, ra, rbp = *bp;

	switch (r->kind) {
	case MT_UNWIND_SIGNAL:
		if (!copy_word(mem, *sp + MT_SIGFRAME_RIP, &ra) ||
		    !copy_word(mem, *sp + MT_SIGFRAME_RSP, &cfa) ||
		    !copy_word(mem, *sp + MT_SIGFRAME_RBP, &rbp))
			return MT_UNWIND_ENDED_MEMORY;
		break;
	case MT_UNWIND_SP:
	case MT_UNWIND_BP:
		cfa = (r->kind == MT_UNWIND_SP ? *sp : *bp) + (__s64)r->cfa;
		if (cfa <= *sp || cfa - *sp > MT_MAX_FRAME_SPAN)
			return MT_UNWIND_ENDED_BAD_FRAME;
		if (!copy_word(mem, cfa - 8, &ra) ||
		    (r->rbp && !copy_word(mem, cfa + (__s64)r->rbp, &rbp)))
			return MT_UNWIND_ENDED_MEMORY;
		break;
	case MT_UNWIND_END:
		return MT_UNWIND_ENDED_OUTERMOST;
	default:
		return MT_UNWIND_ENDED_NO_CFI;
	}
	if (!ra)
		return MT_UNWIND_ENDED_OUTERMOST;
	*pc = ra;
	*sp = cfa;
	*bp = rbp;
	return MT_UNWIND_ENDED_DEPTH; /* "go on" */
}

size_t mt_unwind__walk(__u64 pc, __u64 sp, __u64 bp, const struct mt_unwind_copy *mem,
		       mt_unwind_rule_fn rule_fn, void *ctx, struct mt_unwind_frame *frames,
		       size_t max, enum mt_unwind_end *end)
{
	return mt_unwind__walk_from(pc, false, sp, bp, mem, rule_fn, ctx, frames, max, end);
}

size_t mt_unwind__walk_from(__u64 pc, bool exact_pc, __u64 sp, __u64 bp,
			    const struct mt_unwind_copy *mem, mt_unwind_rule_fn rule_fn, void *ctx,
			    struct mt_unwind_frame *frames, size_t max, enum mt_unwind_end *end)
{
	bool exact = exact_pc;
	size_t n = 0;

	*end = MT_UNWIND_ENDED_DEPTH;
	while (n < max) {
		struct mt_unwind_frame *f = &frames[n++];
		enum mt_unwind_end e;

		f->pc = pc;
		memset(&f->rule, 0, sizeof(f->rule));
		if (!rule_fn(ctx, pc, exact, &f->rule)) {
			memset(&f->rule, 0, sizeof(f->rule));
			*end = MT_UNWIND_ENDED_NO_CFI;
			return n;
		}
		e = step(f, mem, &pc, &sp, &bp);
		if (e != MT_UNWIND_ENDED_DEPTH) {
			if (e == MT_UNWIND_ENDED_BAD_FRAME)
				memset(&f->rule, 0, sizeof(f->rule));
			*end = e;
			return n;
		}
		exact = f->rule.kind == MT_UNWIND_SIGNAL;
	}
	return n;
}

/* ---- rules of a live process ---- */

/* A module's CFI, loaded on first use (the .debug_frame ones only when .eh_frame has no rule). */
struct unwind_mod {
	bool tried, tried_debug;
	struct mt_elf elf;
	Dwarf *dwarf;	     /* the file's own DWARF, for .debug_frame */
	struct mt_elf debug; /* the separate debug file */
	Dwarf *debug_dwarf;
	Dwarf_CFI *cfi[3]; /* .eh_frame, .debug_frame, the debug file's .debug_frame */
	__u64 bias;
};

struct mt_unwind_proc {
	pid_t pid;
	struct mt_maps maps;
	struct unwind_mod *mods; /* parallel to maps.mods */
};

static void mod__close(struct unwind_mod *m)
{
	if (m->cfi[0])
		dwarf_cfi_end(m->cfi[0]);
	if (m->dwarf)
		dwarf_end(m->dwarf);
	if (m->debug_dwarf)
		dwarf_end(m->debug_dwarf);
	mt_elf__close(&m->debug);
	mt_elf__close(&m->elf);
	memset(m, 0, sizeof(*m));
	m->elf.fd = m->debug.fd = -1;
}

/* Open /usr/lib/debug/.build-id/xx/rest.debug of e into *debug. */
static int open_debug_file(const struct mt_elf *e, struct mt_elf *debug)
{
	const void *id;
	char path[256];
	ssize_t len = dwelf_elf_gnu_build_id(e->elf, &id);
	const __u8 *b = id;
	size_t n;

	if (len < 2 || len > 64)
		return -ENOENT;
	n = (size_t)snprintf(path, sizeof(path), DEBUG_DIR "/.build-id/%02x/", b[0]);
	for (ssize_t i = 1; i < len && n + 3 < sizeof(path); i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%02x", b[i]);
	if (n + 7 >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(path + n, ".debug");
	return mt_elf__open(debug, path);
}

static void mod__load(struct mt_unwind_proc *p, size_t i)
{
	const struct mt_module *mm = &p->maps.mods[i];
	struct unwind_mod *m = &p->mods[i];
	int fd;

	m->tried = true;
	fd = mt_files__open_module(p->pid, &p->maps, mm, NULL, MT_FILES_LIVE, NULL, 0);
	if (fd < 0 || mt_elf__open_fd(&m->elf, fd) ||
	    mt_elf__bias(&m->elf, mm->exec_start, mm->exec_offset, 4096, true, &m->bias))
		return;
	m->cfi[0] = dwarf_getcfi_elf(m->elf.elf);
}

/* The .debug_frame of the file, then of its separate debug file: large, so only when needed. */
static void mod__load_debug(struct unwind_mod *m)
{
	m->tried_debug = true;
	if (!m->elf.elf)
		return;
	m->dwarf = dwarf_begin_elf(m->elf.elf, DWARF_C_READ, NULL);
	if (m->dwarf)
		m->cfi[1] = dwarf_getcfi(m->dwarf);
	if (!open_debug_file(&m->elf, &m->debug)) {
		m->debug_dwarf = dwarf_begin_elf(m->debug.elf, DWARF_C_READ, NULL);
		if (m->debug_dwarf)
			m->cfi[2] = dwarf_getcfi(m->debug_dwarf);
	}
}

bool mt_unwind_proc__rule(void *proc, __u64 pc, bool exact, struct mt_unwind_rule *rule)
{
	struct mt_unwind_proc *p = proc;
	const struct mt_module *mm = mt_maps__find(&p->maps, pc);
	struct unwind_mod *m;

	if (!mm || pc < mm->exec_start || pc >= mm->exec_end)
		return false;
	m = &p->mods[mm - p->maps.mods];
	if (!m->tried)
		mod__load(p, (size_t)(mm - p->maps.mods));
	rule->kind = MT_UNWIND_STOP;
	for (int k = 0; k < 3 && rule->kind == MT_UNWIND_STOP; k++) {
		if (k == 1 && !m->tried_debug)
			mod__load_debug(m);
		if (m->cfi[k])
			mt_unwind__rule(m->cfi[k], pc - m->bias, exact, rule);
	}
	return true;
}

void mt_unwind_proc__load(struct mt_unwind_proc *p)
{
	for (size_t i = 0; i < p->maps.nr_mods; i++)
		if (!p->mods[i].tried)
			mod__load(p, i);
}

static void proc__close_mods(struct mt_unwind_proc *p)
{
	for (size_t i = 0; p->mods && i < p->maps.nr_mods; i++)
		mod__close(&p->mods[i]);
	free(p->mods);
	p->mods = NULL;
	mt_maps__free(&p->maps);
}

int mt_unwind_proc__refresh(struct mt_unwind_proc *p)
{
	int err;

	proc__close_mods(p);
	err = mt_maps__read(p->pid, &p->maps);
	if (err)
		return err;
	p->mods = calloc(p->maps.nr_mods ? p->maps.nr_mods : 1, sizeof(*p->mods));
	if (!p->mods)
		return -ENOMEM;
	for (size_t i = 0; i < p->maps.nr_mods; i++)
		p->mods[i].elf.fd = p->mods[i].debug.fd = -1;
	return 0;
}

struct mt_unwind_proc *mt_unwind_proc__new(pid_t pid)
{
	struct mt_unwind_proc *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->pid = pid;
	err = mt_unwind_proc__refresh(p);
	if (err) {
		mt_unwind_proc__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void mt_unwind_proc__free(struct mt_unwind_proc *p)
{
	if (!p)
		return;
	proc__close_mods(p);
	free(p);
}
