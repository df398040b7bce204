// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Python symbolizer.
 *
 * What BPF records. At each allocation the frame walker (bpf/python.bpf.c)
 * follows the current thread's frames using struct mt_py_offsets:
 *
 *   3.10      PyFrameObject chain: tstate->frame, f_back; code f_code;
 *             position f_lasti, an instruction index (byte offset = 2x)
 *   3.11      _PyInterpreterFrame chain: tstate->cframe->current_frame,
 *             previous; code f_code; position prev_instr, a pointer into
 *             the code object's inline bytecode (co_code_adaptive):
 *             byte offset = prev_instr - (code + offsetof(co_code_adaptive))
 *   3.12      as 3.11, code at offset 0; shim frames (owner >= 3) skipped
 *   3.13/14   tstate->current_frame; f_executable (3.14: a tagged
 *             reference, low 2 bits masked); instr_ptr points at the
 *             current instruction instead of the previous one
 *
 * and emits per frame (code object address, byte offset, co_firstlineno)
 * (struct mt_py_frame). Lines are not computed in BPF: line tables are
 * unbounded and compressed. Instead this file reads, once per code object:
 *
 *   PyCodeObject      co_firstlineno (int), co_filename, co_name,
 *                     co_qualname (3.11+) (str*), co_linetable (bytes*);
 *                     offsets per version in py_offsets_tab.c
 *   str               compact objects only (what code objects hold):
 *                     length @16, state @32 (kind = bits 2-4, compact = bit
 *                     5, ascii = bit 6); the characters follow the header:
 *                     sizeof(PyASCIIObject) (48, 3.12+: 40) for ASCII,
 *                     sizeof(PyCompactUnicodeObject) (72, 3.12+: 56) for
 *                     others, kind (1, 2 or 4) bytes per code point. They
 *                     are converted to UTF-8; lone surrogates and NULs
 *                     become U+FFFD.
 *   bytes             ob_size @16, data @32
 *
 * and decodes lines with py_linetable.c.
 *
 * Code object reuse. A code object can be freed after BPF saw it and its
 * memory reused, by another code object or anything else. BPF records
 * co_firstlineno with each frame and we compare it with the object now at
 * that address; we also check that the object's type (ob_type @8) is the
 * interpreter's code type, learned per process from the first object whose
 * type is a static type named "code" with the expected tp_basicsize (str and
 * bytes the same way). A mismatch is -ESTALE. A reused address with the
 * same first line and type is indistinguishable: such a frame resolves to
 * the newer code object.
 *
 * Caches. Per process: code objects by (address, co_firstlineno) with
 * interned file and function and a copy of the line table; lines by (code
 * object, offset). Failures are not cached (the next attempt reads again).
 *
 * Bounds against a corrupted or hostile target: every read has a size
 * known in advance (no scanning for NULs in the target); strings are
 * capped at STR_MAX code points (longer ones are cut, with "..."), line
 * tables at TAB_MAX bytes (-EBADMSG beyond), and the line tables cached
 * per process at CACHE_MAX bytes (beyond that frames resolve uncached).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "lib/htab.h"
#include "proc/procmem.h"
#include "python/py_linetable.h"
#include "python/py_offsets.h"
#include "symbolize/sym_python.h"

#define STR_MAX 4096	       /* code points kept of a string */
#define TAB_MAX (1u << 20)     /* bytes of a line table */
#define CACHE_MAX (128u << 20) /* bytes of line tables cached per process */
#define TYPE_NAME_MAX 16

/* PyObject, PyTypeObject, PyASCIIObject (x86-64, GIL builds, 3.10-3.15) */
#define OB_TYPE 8
#define TP_NAME 24
#define TP_BASICSIZE 32
#define TP_FLAGS 168
#define TP_HEAD 176 /* bytes of a type object read */
#define TPFLAGS_HEAPTYPE (1ULL << 9)
#define UNI_LENGTH 16
#define UNI_STATE 32
#define CODE_READ_MAX 256 /* bytes of a code object read */

/* ---- entries ---- */

struct py_code {
	struct mt_hnode node; /* in proc->codes, by (addr, firstlineno) */
	__u64 addr;
	int firstlineno;
	const char *file, *function; /* interned */
	unsigned char *tab;	     /* co_linetable */
	size_t tab_len;
};

struct py_line {
	struct mt_hnode node; /* in proc->lines, by (code, offset) */
	const struct py_code *code;
	__u32 offset;
	int line;
};

struct py_proc {
	struct mt_hnode node; /* in procs */
	pid_t pid;
	struct mt_py_offsets off;
	const struct mt_py_code_layout *lay;
	/* type objects, learned from the first object of each kind */
	__u64 code_type, str_type, bytes_type;
	struct mt_htab codes, lines;
	size_t cached_bytes; /* line tables held by codes */
};

struct mt_sym_python {
	struct mt_htab procs;
	struct mt_strtab strs;
	unsigned char *raw; /* a string's characters as read */
	char *utf8;	    /* ... converted */
};

/* ---- strings ---- */

static const char *intern(struct mt_sym_python *s, const char *str)
{
	return mt_strtab__intern(&s->strs, str);
}

/* Append code point c as UTF-8; U+FFFD for NUL, surrogates, out of range. */
static size_t utf8_put(char *out, __u32 c)
{
	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		c = 0xfffd;
	if (c < 0x80) {
		out[0] = c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = 0xc0 | c >> 6;
		out[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		out[0] = 0xe0 | c >> 12;
		out[1] = 0x80 | ((c >> 6) & 0x3f);
		out[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | c >> 18;
	out[1] = 0x80 | ((c >> 12) & 0x3f);
	out[2] = 0x80 | ((c >> 6) & 0x3f);
	out[3] = 0x80 | (c & 0x3f);
	return 4;
}

/* ---- reading objects ---- */

static __u64 get_u64(const unsigned char *raw, size_t pos)
{
	__u64 v;

	memcpy(&v, raw + pos, sizeof(v));
	return v;
}

/*
 * Check that type is the type called name: the one learned before (*known),
 * or, the first time, a static type of that name (and of tp_basicsize
 * basicsize unless 0), which is then learned. 0 or -ESTALE (another type),
 * or a read error.
 */
static int check_type(const struct py_proc *p, __u64 type, __u64 *known, const char *name,
		      __u64 basicsize)
{
	unsigned char head[TP_HEAD];
	char tp_name[TYPE_NAME_MAX];
	__u64 name_ptr;
	size_t len = strlen(name) + 1;
	int err;

	if (*known)
		return type == *known ? 0 : -ESTALE;
	if (!type)
		return -ESTALE;
	err = mt_procmem__read(p->pid, type, head, sizeof(head));
	if (err)
		return err == -EFAULT ? -ESTALE : err; /* not a pointer to a type */
	if ((get_u64(head, TP_FLAGS) & TPFLAGS_HEAPTYPE) ||
	    (basicsize && get_u64(head, TP_BASICSIZE) != basicsize))
		return -ESTALE;
	name_ptr = get_u64(head, TP_NAME);
	/* exactly strlen(name) + 1 bytes: the name and its NUL */
	err = mt_procmem__read(p->pid, name_ptr, tp_name, len);
	if (err)
		return err == -EFAULT ? -ESTALE : err;
	if (memcmp(tp_name, name, len))
		return -ESTALE;
	*known = type;
	return 0;
}

/* Read the str object at addr and intern it as UTF-8 into *out. */
static int read_str(struct mt_sym_python *s, struct py_proc *p, __u64 addr, const char **out)
{
	const struct mt_py_code_layout *lay = p->lay;
	unsigned char head[64];
	unsigned int kind, compact, ascii, state;
	size_t n, i, o = 0;
	__u64 data;
	__s64 length;
	int err;

	if (!addr)
		return -EBADMSG;
	err = mt_procmem__read(p->pid, addr, head, lay->ascii_size);
	if (err)
		return err;
	err = check_type(p, get_u64(head, OB_TYPE), &p->str_type, "str", 0);
	if (err)
		return err == -ESTALE ? -EBADMSG : err;
	memcpy(&length, head + UNI_LENGTH, sizeof(length));
	memcpy(&state, head + UNI_STATE, sizeof(state));
	kind = (state >> 2) & 7;
	compact = (state >> 5) & 1;
	ascii = (state >> 6) & 1;
	if (!compact || length < 0 || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1))
		return -EBADMSG;
	data = addr + (ascii ? lay->ascii_size : lay->compact_size);
	n = length > STR_MAX ? STR_MAX : (size_t)length;
	err = mt_procmem__read(p->pid, data, s->raw, n * kind);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		__u32 c;

		if (kind == 1) {
			c = s->raw[i];
		} else if (kind == 2) {
			__u16 c16;

			memcpy(&c16, s->raw + 2 * i, sizeof(c16));
			c = c16;
		} else {
			memcpy(&c, s->raw + 4 * i, sizeof(c));
		}
		o += utf8_put(s->utf8 + o, c);
	}
	if ((size_t)length > n) {
		memcpy(s->utf8 + o, "...", 3);
		o += 3;
	}
	s->utf8[o] = 0;
	*out = intern(s, s->utf8);
	return *out ? 0 : -ENOMEM;
}

/* Read the bytes object at addr into a new buffer *out of *len bytes. */
static int read_bytes(struct py_proc *p, __u64 addr, unsigned char **out, size_t *len)
{
	const struct mt_py_code_layout *lay = p->lay;
	unsigned char head[64], *buf;
	__s64 size;
	int err;

	if (!addr || lay->bytes_sval > sizeof(head))
		return -EBADMSG;
	err = mt_procmem__read(p->pid, addr, head, lay->bytes_sval);
	if (err)
		return err;
	err = check_type(p, get_u64(head, OB_TYPE), &p->bytes_type, "bytes", 0);
	if (err)
		return err == -ESTALE ? -EBADMSG : err;
	memcpy(&size, head + lay->bytes_size, sizeof(size));
	if (size < 0 || size > TAB_MAX)
		return -EBADMSG;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	err = mt_procmem__read(p->pid, addr + lay->bytes_sval, buf, size);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = size;
	return 0;
}

static void code__free(struct py_code *c)
{
	if (!c)
		return;
	free(c->tab);
	free(c);
}

/* Read the code object at addr; -ESTALE unless its co_firstlineno is firstlineno. */
static int code__read(struct mt_sym_python *s, struct py_proc *p, __u64 addr, int firstlineno,
		      struct py_code **out)
{
	const struct mt_py_code_layout *lay = p->lay;
	unsigned char raw[CODE_READ_MAX];
	struct py_code *c = NULL;
	__u32 need = lay->co_linetable + 8;
	__u64 func_ptr;
	__s32 first;
	int err;

	/* the fields we read all lie before co_linetable's end */
	err = mt_procmem__read(p->pid, addr, raw, need);
	if (err)
		return err;
	err = check_type(p, get_u64(raw, OB_TYPE), &p->code_type, "code", lay->code_basicsize);
	if (err)
		return err;
	memcpy(&first, raw + lay->co_firstlineno, sizeof(first));
	if (first != firstlineno)
		return -ESTALE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->addr = addr;
	c->firstlineno = first;
	err = read_str(s, p, get_u64(raw, lay->co_filename), &c->file);
	if (err)
		goto err_out;
	func_ptr = get_u64(raw, lay->co_qualname ? lay->co_qualname : lay->co_name);
	err = read_str(s, p, func_ptr, &c->function);
	if (err)
		goto err_out;
	err = read_bytes(p, get_u64(raw, lay->co_linetable), &c->tab, &c->tab_len);
	if (err)
		goto err_out;
	*out = c;
	return 0;
err_out:
	code__free(c);
	return err;
}

/* ---- processes ---- */

static __u64 code_hash(__u64 addr, int firstlineno)
{
	return mt_hash_u64(addr ^ (__u64)(__u32)firstlineno << 48 ^ (__u64)(__u32)firstlineno);
}

static __u64 line_hash(const struct py_code *c, __u32 offset)
{
	return mt_hash_u64((unsigned long)c ^ (__u64)offset << 40 ^ offset);
}

static struct py_proc *proc__find(struct mt_sym_python *s, pid_t pid)
{
	struct mt_hnode *n;

	for (n = mt_htab__first(&s->procs, mt_hash_u64(pid)); n; n = mt_htab__next(n))
		if (((struct py_proc *)n)->pid == pid)
			return (struct py_proc *)n;
	return NULL;
}

static void code_node__free(struct mt_hnode *n)
{
	code__free((struct py_code *)n);
}

static void node__free(struct mt_hnode *n)
{
	free(n);
}

static void proc__flush(struct py_proc *p)
{
	mt_htab__clear(&p->lines, node__free);
	mt_htab__clear(&p->codes, code_node__free);
	p->cached_bytes = 0;
	p->code_type = p->str_type = p->bytes_type = 0;
}

static void proc__free(struct mt_hnode *n)
{
	struct py_proc *p = (struct py_proc *)n;

	proc__flush(p);
	free(p);
}

int mt_sym_python__add_pid(struct mt_sym_python *s, pid_t pid, const struct mt_py_offsets *off)
{
	const struct mt_py_code_layout *lay;
	struct py_proc *p;

	if (!s || !off || pid <= 0)
		return -EINVAL;
	lay = mt_py__code_layout(off->version);
	if (!lay || lay->co_linetable + 8 > CODE_READ_MAX || lay->ascii_size > 64)
		return -EOPNOTSUPP;
	p = proc__find(s, pid);
	if (p) {
		if (!memcmp(&p->off, off, sizeof(*off)))
			return 0;
		proc__flush(p); /* a new program in the same process */
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		if (mt_htab__add(&s->procs, &p->node, mt_hash_u64(pid))) {
			free(p);
			return -ENOMEM;
		}
		p->pid = pid;
	}
	p->off = *off;
	p->lay = lay;
	return 0;
}

void mt_sym_python__forget_pid(struct mt_sym_python *s, pid_t pid)
{
	struct py_proc *p;

	if (!s)
		return;
	p = proc__find(s, pid);
	if (!p)
		return;
	mt_htab__del(&s->procs, &p->node);
	proc__free(&p->node);
}

/* ---- resolving ---- */

static int code__line(const struct py_proc *p, const struct py_code *c, __u32 offset)
{
	int line;

	if (mt_py_linetable__line(p->off.version, c->tab, c->tab_len, c->firstlineno, offset,
				  &line))
		return 0; /* no line, or a malformed table: unknown */
	return line;
}

int mt_sym_python__resolve(struct mt_sym_python *s, pid_t pid, const struct mt_py_frame *f,
			   struct mt_frame *out)
{
	struct py_code *c = NULL, *uncached = NULL;
	struct py_line *l = NULL;
	struct py_proc *p;
	struct mt_hnode *n;
	__u64 addr, hash;
	int err, line;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = MT_FRAME_PYTHON;
	if (!s || !f)
		return -EINVAL;
	out->addr = f->code;
	p = proc__find(s, pid);
	if (!p)
		return -ENOENT;
	addr = f->code & p->off.code_mask;
	if (!addr)
		return -EINVAL;

	hash = code_hash(addr, f->firstlineno);
	for (n = mt_htab__first(&p->codes, hash); n; n = mt_htab__next(n)) {
		struct py_code *e = (struct py_code *)n;

		if (e->addr == addr && e->firstlineno == f->firstlineno) {
			c = e;
			break;
		}
	}
	if (!c) {
		err = code__read(s, p, addr, f->firstlineno, &c);
		if (err)
			return err;
		if (p->cached_bytes + c->tab_len > CACHE_MAX ||
		    mt_htab__add(&p->codes, &c->node, hash)) {
			uncached = c; /* over budget or out of memory: use it once */
		} else {
			p->cached_bytes += c->tab_len;
		}
	}

	hash = line_hash(c, f->offset);
	for (n = uncached ? NULL : mt_htab__first(&p->lines, hash); n; n = mt_htab__next(n)) {
		struct py_line *e = (struct py_line *)n;

		if (e->code == c && e->offset == f->offset) {
			l = e;
			break;
		}
	}
	if (l) {
		line = l->line;
	} else {
		line = code__line(p, c, f->offset);
		l = uncached ? NULL : malloc(sizeof(*l));
		if (l) {
			l->code = c;
			l->offset = f->offset;
			l->line = line;
			if (mt_htab__add(&p->lines, &l->node, hash))
				free(l);
		}
	}
	out->file = c->file;
	out->function = c->function;
	out->line = line > 0 ? line : 0;
	code__free(uncached);
	return 0;
}

/* ---- lifetime ---- */

struct mt_sym_python *mt_sym_python__new(void)
{
	struct mt_sym_python *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto err_out;
	s->raw = malloc(STR_MAX * 4);
	/* 4 bytes of UTF-8 per code point, "..." and the NUL */
	s->utf8 = malloc(STR_MAX * 4 + 4);
	if (!s->raw || !s->utf8)
		goto err_out;
	return s;
err_out:
	mt_sym_python__free(s);
	errno = ENOMEM;
	return NULL;
}

void mt_sym_python__free(struct mt_sym_python *s)
{
	if (!s)
		return;
	mt_htab__clear(&s->procs, proc__free);
	mt_strtab__clear(&s->strs);
	free(s->raw);
	free(s->utf8);
	free(s);
}
