// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython detection.
 *
 * 1. The interpreter's ELF file: a mapped libpython<maj>.<min>*.so, else the
 *    executable (found by /proc/PID/exe) if it carries the interpreter: a
 *    .PyRuntime section or a _PyRuntime, Py_Version or Py_GetVersion
 *    symbol (static builds such as Debian's /usr/bin/python3.11).
 * 2. Load bias: from the r-x mapping and the PT_LOAD holding its file
 *    offset (0 for a non-PIE ET_EXEC).
 * 3. Version: Py_Version (3.11+, exported even by stripped binaries), read
 *    from the target, else from the file. Without it (3.10 and older): the
 *    minor version from the file name (libpython3.10.so, python3.10), else
 *    3.10 if there is a .PyRuntime section (3.9 has none); the micro
 *    version from a "3.10.N" string in .rodata (PY_VERSION), if found.
 * 4. _PyRuntime: the symbol (.dynsym, then .symtab), else the start of the
 *    .PyRuntime section.
 * 5. Offsets: 3.13+ from _Py_DebugOffsets at _PyRuntime (cookie, version,
 *    free_threaded and plausibility checked; layout per minor version);
 *    3.10-3.12 from the table in py_offsets_tab.c.
 * 6. Cross-check against the live interpreter: PyCode_Type.tp_basicsize is
 *    the code object's fixed size (= offsetof(co_code_adaptive) on 3.11+)
 *    and PyCode_Type.tp_members lists co_firstlineno, co_filename, co_name,
 *    co_qualname and co_linetable with their offsets. Any disagreement with
 *    the tables (or with _Py_DebugOffsets) refuses the process: wrong
 *    offsets would make BPF read garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "proc/elf.h"
#include "proc/files.h"
#include "proc/procmem.h"
#include "python/py_offsets.h"

#define PY_VER(maj, min) ((__u32)(maj) << 24 | (__u32)(min) << 16)
#define PY_MINOR(v) ((v)&0xffff0000u)
#define MIN_SUPPORTED PY_VER(3, 10)
#define MAX_SUPPORTED PY_VER(3, 15)
#define SUPPORTED_TEXT "supported: CPython 3.10-3.15, GIL builds"
#define FREE_THREADED_TEXT \
	"CPython %s (%s): a free-threaded build, not supported (" SUPPORTED_TEXT ")"

/* pymalloc's arena: 1 MiB from 3.10 on (ARENA_BITS 20 with the radix tree) */
#define ARENA_SIZE (1u << 20)
#define RODATA_MAX (64u << 20)	       /* .rodata scanned for a version string */
#define DEBUG_MAX 1024		       /* bytes of _Py_DebugOffsets read */
#define SIZE_MAX_PLAUSIBLE (16u << 20) /* of any struct in _Py_DebugOffsets */
#define MEMBERS_MAX 64		       /* PyMemberDef entries examined */

/* PyTypeObject and PyMemberDef (x86-64, GIL builds, 3.10-3.15) */
#define TP_BASICSIZE 32
#define TP_MEMBERS 240
#define MEMBERDEF_SIZE 40
#define MEMBERDEF_NAME 0
#define MEMBERDEF_OFFSET 16

/* PyASCIIObject fields our string reader assumes (sym_python.c) */
#define UNI_LENGTH 16
#define UNI_STATE 32

/* ---- target memory ---- */

/* Read a NUL-terminated string of at most sz - 1 bytes, page by page. */
static int read_cstr(pid_t pid, __u64 addr, char *buf, size_t sz)
{
	size_t done = 0;
	int err;

	while (done < sz - 1) {
		size_t chunk = 4096 - ((addr + done) & 4095);

		if (chunk > sz - 1 - done)
			chunk = sz - 1 - done;
		err = mt_procmem__read(pid, addr + done, buf + done, chunk);
		if (err)
			return err;
		if (memchr(buf + done, 0, chunk))
			return 0;
		done += chunk;
	}
	buf[sz - 1] = 0;
	return 0;
}

static int read_u64(pid_t pid, __u64 addr, __u64 *val)
{
	return mt_procmem__read(pid, addr, val, sizeof(*val));
}

/* ---- the interpreter's ELF file ---- */

enum { SYM_RUNTIME, SYM_VERSION, SYM_CODE_TYPE, SYM_GET_VERSION, NR_SYMS };
static const char *const sym_names[NR_SYMS] = {
    [SYM_RUNTIME] = "_PyRuntime",
    [SYM_VERSION] = "Py_Version",
    [SYM_CODE_TYPE] = "PyCode_Type",
    [SYM_GET_VERSION] = "Py_GetVersion",
};

struct py_elf {
	struct mt_elf file;
	__u64 bias; /* process address - ELF vaddr */
	struct mt_elf_sym sym[NR_SYMS];
	__u64 runtime_sec; /* .PyRuntime sh_addr */
	bool has_runtime_sec;
	__u64 rodata_off, rodata_size; /* .rodata file range */
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Bias of module m: from its r-x mapping, else its lowest mapping. */
static int elf__bias(struct py_elf *e, const struct mt_module *m)
{
	const struct mt_elf_load *first = &e->file.loads[0];
	__u64 align = first->align ? first->align : 4096;

	if (m->exec_end > m->exec_start &&
	    !mt_elf__bias(&e->file, m->exec_start, m->exec_offset, 4096, true, &e->bias))
		return 0;
	e->bias = m->start - (first->vaddr & ~(align - 1));
	return 0;
}

static int py_elf__open(pid_t pid, const struct mt_maps *maps, const struct mt_module *m,
			struct py_elf *e)
{
	GElf_Shdr sh;
	int fd, err;

	memset(e, 0, sizeof(*e));
	e->file.fd = -1;
	fd = mt_files__open_module(pid, maps, m, NULL, MT_FILES_LIVE, NULL, 0);
	if (fd < 0)
		return fd;
	err = mt_elf__open_fd(&e->file, fd);
	if (err)
		return err;
	if (e->file.machine != EM_X86_64) {
		mt_elf__close(&e->file);
		return -ENOEXEC;
	}
	for (size_t k = 0; k < NR_SYMS; k++)
		e->sym[k].name = sym_names[k];
	mt_elf__find_syms(&e->file, e->sym, NR_SYMS, MT_ELF_ANY, MT_ELF_DYNSYM_FIRST);
	if (!mt_elf__section(&e->file, ".PyRuntime", &sh) && sh.sh_addr) {
		e->runtime_sec = sh.sh_addr;
		e->has_runtime_sec = true;
	}
	if (!mt_elf__section(&e->file, ".rodata", &sh) && sh.sh_type == SHT_PROGBITS) {
		e->rodata_off = sh.sh_offset;
		e->rodata_size = sh.sh_size;
	}
	return elf__bias(e, m);
}

/* ---- versions ---- */

/*
 * Parse "libpython3.12.so.1.0", "libpython3.13t.so", "python3.10" (with
 * prefix "libpython" or "python"): major, minor and whether the ABI flags
 * say free-threaded ('t').
 */
static bool parse_py_name(const char *base, const char *prefix, unsigned int *maj,
			  unsigned int *min, bool *ft)
{
	const char *p;
	char *end;
	unsigned long a, b;

	if (strncmp(base, prefix, strlen(prefix)))
		return false;
	p = base + strlen(prefix);
	if (*p < '0' || *p > '9')
		return false;
	a = strtoul(p, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	b = strtoul(end + 1, &end, 10);
	*ft = false;
	for (; *end >= 'a' && *end <= 'z'; end++) /* ABI flags: d, m, t, u */
		if (*end == 't')
			*ft = true;
	if (*end && *end != '.')
		return false;
	if (a > 9 || b > 99)
		return false;
	*maj = a;
	*min = b;
	return true;
}

/*
 * Find PY_VERSION of maj.min ("3.10.13", "3.10.0rc2") in .rodata; the
 * string may be the tail of a longer one (the linker merges string tails).
 */
static int scan_version(struct py_elf *e, unsigned int maj, unsigned int min, __u32 *version)
{
	char needle[16];
	size_t nlen, size = e->rodata_size, i;
	char *buf;
	int err = -ENOENT;

	if (!size)
		return -ENOENT;
	if (size > RODATA_MAX)
		size = RODATA_MAX;
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	if (pread(e->file.fd, buf, size, e->rodata_off) != (ssize_t)size) {
		free(buf);
		return -EIO;
	}
	buf[size] = 0;
	nlen = snprintf(needle, sizeof(needle), "%u.%u.", maj, min);
	for (i = 0; i + nlen < size; i++) {
		const char *p = buf + i + nlen;
		unsigned int micro = 0, level = 0xf, serial = 0, nd = 0;

		if (memcmp(buf + i, needle, nlen))
			continue;
		if (i > 0 && ((buf[i - 1] >= '0' && buf[i - 1] <= '9') || buf[i - 1] == '.'))
			continue;
		for (; *p >= '0' && *p <= '9' && nd < 3; p++, nd++)
			micro = micro * 10 + (*p - '0');
		if (!nd || micro > 255)
			continue;
		if (*p == 'a' || *p == 'b' || (p[0] == 'r' && p[1] == 'c')) {
			level = *p == 'a' ? 0xa : *p == 'b' ? 0xb : 0xc;
			p += level == 0xc ? 2 : 1;
			if (*p < '0' || *p > '9')
				continue;
			serial = *p++ - '0';
		}
		if (*p == '+')
			p++;
		if (*p)
			continue;
		*version = PY_VER(maj, min) | micro << 8 | level << 4 | serial;
		err = 0;
		break;
	}
	free(buf);
	return err;
}

static void version_str(__u32 v, char *buf, size_t sz)
{
	unsigned int level = (v >> 4) & 0xf;
	const char *lv = level == 0xa ? "a" : level == 0xb ? "b" : level == 0xc ? "rc" : "";

	if (!(v & 0xffff)) /* micro unknown */
		snprintf(buf, sz, "%u.%u", v >> 24, (v >> 16) & 0xff);
	else if (*lv)
		snprintf(buf, sz, "%u.%u.%u%s%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, lv,
			 v & 0xf);
	else
		snprintf(buf, sz, "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
}

/* ---- tables ---- */

const struct mt_py_code_layout *mt_py__code_layout(__u32 version)
{
	size_t i;

	for (i = 0; i < mt_py__code_tab_nr; i++) {
		const struct mt_py_code_layout *l = &mt_py__code_tab[i];

		if (PY_MINOR(version) >= l->version &&
		    PY_MINOR(version) <= (l->last ? l->last : l->version))
			return l;
	}
	return NULL;
}

static const struct mt_py_offsets *offsets_entry(__u32 version)
{
	size_t i;

	for (i = 0; i < mt_py__offsets_tab_nr; i++)
		if (mt_py__offsets_tab[i].version == PY_MINOR(version))
			return &mt_py__offsets_tab[i];
	return NULL;
}

static const struct mt_py_debug_layout *debug_layout(__u32 version)
{
	size_t i;

	for (i = 0; i < mt_py__debug_tab_nr; i++)
		if (mt_py__debug_tab[i].version == PY_MINOR(version))
			return &mt_py__debug_tab[i];
	return NULL;
}

/* ---- detection ---- */

struct detect {
	pid_t pid;
	char *desc;
	size_t desclen;
	char ver[32]; /* "3.12.1" */
	const char *path;
};

__attribute__((format(printf, 3, 4))) static int fail(struct detect *d, int err, const char *fmt,
						      ...)
{
	va_list ap;

	if (d->desclen) {
		va_start(ap, fmt);
		vsnprintf(d->desc, d->desclen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static __u64 dbg_field(const unsigned char *raw, __u32 pos)
{
	__u64 v;

	memcpy(&v, raw + pos, sizeof(v));
	return v;
}

/* Fill the 3.13+ walker offsets from _Py_DebugOffsets in the target. */
static int from_debug_offsets(struct detect *d, __u32 version, const struct mt_py_code_layout *lay,
			      struct mt_py_offsets *off)
{
	const struct mt_py_debug_layout *dl = debug_layout(version);
	unsigned char raw[DEBUG_MAX];
	__u64 rt_size, is_size, ts_size, fr_size, co_size, v;
	int err;

	if (!dl)
		return fail(d, -EOPNOTSUPP, "CPython %s: unknown _Py_DebugOffsets layout (%s)",
			    d->ver, SUPPORTED_TEXT);
	err = mt_procmem__read(d->pid, off->runtime, raw, dl->total);
	if (err)
		return fail(d, err, "CPython %s: cannot read _Py_DebugOffsets at 0x%llx: %s",
			    d->ver, (unsigned long long)off->runtime, strerror(-err));
	if (memcmp(raw, "xdebugpy", 8))
		return fail(d, -EPROTO, "CPython %s: no _Py_DebugOffsets cookie at _PyRuntime",
			    d->ver);
	v = dbg_field(raw, 8);
	if (v != version)
		return fail(d, -EPROTO,
			    "CPython %s: _Py_DebugOffsets is for version 0x%llx, Py_Version 0x%x",
			    d->ver, (unsigned long long)v, version);
	if (dbg_field(raw, 16))
		return fail(d, -EOPNOTSUPP, FREE_THREADED_TEXT, d->ver, d->path);

	if (version < dl->first)
		return fail(
		    d, -EOPNOTSUPP,
		    "CPython %s: a pre-release whose _Py_DebugOffsets layout is unknown (%s)",
		    d->ver, SUPPORTED_TEXT);

	rt_size = dbg_field(raw, dl->rt_size);
	is_size = dbg_field(raw, dl->is_size);
	ts_size = dbg_field(raw, dl->ts_size);
	fr_size = dbg_field(raw, dl->fr_size);
	co_size = dbg_field(raw, dl->co_size);
	/*
	 * Every offset comes from the target: it must lie inside its struct,
	 * be aligned for its width (BPF rounds a frame field down to it), and
	 * frame fields must lie in the bytes BPF copies of a frame.
	 */
#define FITS(pos, width, size)                                                                   \
	(dbg_field(raw, pos) <= SIZE_MAX_PLAUSIBLE && dbg_field(raw, pos) + (width) <= (size) && \
	 !(dbg_field(raw, pos) & ((width) ? (width)-1 : 0)))
#define IN_FRAME(pos, width) \
	(FITS(pos, width, fr_size) && dbg_field(raw, pos) + (width) <= MT_PY_FRAME_READ)
	if (rt_size > SIZE_MAX_PLAUSIBLE || is_size > SIZE_MAX_PLAUSIBLE ||
	    ts_size > SIZE_MAX_PLAUSIBLE || fr_size > SIZE_MAX_PLAUSIBLE ||
	    co_size > SIZE_MAX_PLAUSIBLE || !FITS(dl->rt_interp_head, 8, rt_size) ||
	    !FITS(dl->is_next, 8, is_size) || !FITS(dl->is_threads_head, 8, is_size) ||
	    !FITS(dl->ts_next, 8, ts_size) || !FITS(dl->ts_current_frame, 8, ts_size) ||
	    !FITS(dl->ts_thread_id, 8, ts_size) || !IN_FRAME(dl->fr_previous, 8) ||
	    !IN_FRAME(dl->fr_executable, 8) || !IN_FRAME(dl->fr_instr_ptr, 8) ||
	    !IN_FRAME(dl->fr_owner, 1) || !FITS(dl->co_firstlineno, 4, co_size) ||
	    !FITS(dl->co_code_adaptive, 0, co_size))
		return fail(d, -EPROTO, "CPython %s: implausible _Py_DebugOffsets", d->ver);
#undef IN_FRAME
#undef FITS

	/* what user space reads from code objects and strings must agree */
	if (dbg_field(raw, dl->co_filename) != lay->co_filename ||
	    dbg_field(raw, dl->co_name) != lay->co_name ||
	    dbg_field(raw, dl->co_qualname) != lay->co_qualname ||
	    dbg_field(raw, dl->co_linetable) != lay->co_linetable ||
	    dbg_field(raw, dl->co_firstlineno) != lay->co_firstlineno ||
	    dbg_field(raw, dl->co_code_adaptive) != lay->code_basicsize ||
	    dbg_field(raw, dl->bytes_ob_size) != lay->bytes_size ||
	    dbg_field(raw, dl->bytes_ob_sval) != lay->bytes_sval ||
	    dbg_field(raw, dl->uni_state) != UNI_STATE ||
	    dbg_field(raw, dl->uni_length) != UNI_LENGTH ||
	    dbg_field(raw, dl->uni_ascii_size) != lay->ascii_size ||
	    (dl->uni_compact_size && dbg_field(raw, dl->uni_compact_size) != lay->compact_size) ||
	    (dl->tp_basicsize && dbg_field(raw, dl->tp_basicsize) != TP_BASICSIZE))
		return fail(d, -EPROTO,
			    "CPython %s: _Py_DebugOffsets code/type/str/bytes layout differs from "
			    "the %u.%u table",
			    d->ver, version >> 24, (version >> 16) & 0xff);

	off->rt_interp_head = dbg_field(raw, dl->rt_interp_head);
	off->is_next = dbg_field(raw, dl->is_next);
	off->is_threads_head = dbg_field(raw, dl->is_threads_head);
	off->ts_next = dbg_field(raw, dl->ts_next);
	off->ts_thread_id = dbg_field(raw, dl->ts_thread_id);
	off->ts_frame = dbg_field(raw, dl->ts_current_frame);
	off->ts_cframe_frame = -1;
	off->fr_code = dbg_field(raw, dl->fr_executable);
	off->fr_previous = dbg_field(raw, dl->fr_previous);
	off->fr_instr = dbg_field(raw, dl->fr_instr_ptr);
	off->fr_owner = dbg_field(raw, dl->fr_owner);
	/* FRAME_OWNED_BY_CSTACK (3.13), _INTERPRETER (3.14, 3.15; CSTACK 4 went in 3.15) */
	off->owner_skip = 3;
	off->code_adaptive = dbg_field(raw, dl->co_code_adaptive);
	off->co_firstlineno = dbg_field(raw, dl->co_firstlineno);
	return 0;
}

/*
 * Compare the tables with the interpreter's PyCode_Type: tp_basicsize and
 * the offsets tp_members gives for the code-object fields we read.
 */
static int check_code_type(struct detect *d, __u64 type, __u32 version,
			   const struct mt_py_code_layout *lay, const struct mt_py_offsets *off)
{
	static const struct {
		const char *name;
		size_t pos; /* in struct mt_py_code_layout */
	} fields[] = {
	    {"co_firstlineno", offsetof(struct mt_py_code_layout, co_firstlineno)},
	    {"co_filename", offsetof(struct mt_py_code_layout, co_filename)},
	    {"co_name", offsetof(struct mt_py_code_layout, co_name)},
	    {"co_qualname", offsetof(struct mt_py_code_layout, co_qualname)},
	    {"co_linetable", offsetof(struct mt_py_code_layout, co_linetable)},
	};
	unsigned int found = 0, want = 0;
	__u64 basicsize, members;
	size_t i, k;
	int err;

	err = read_u64(d->pid, type + TP_BASICSIZE, &basicsize);
	if (!err)
		err = read_u64(d->pid, type + TP_MEMBERS, &members);
	if (err)
		return fail(d, err, "CPython %s: cannot read PyCode_Type: %s", d->ver,
			    strerror(-err));
	/* a pointer: still 0 before the dynamic linker has relocated libpython */
	if (!members)
		return fail(d, -EAGAIN, "CPython %s: PyCode_Type not initialised yet", d->ver);
	if (basicsize != lay->code_basicsize ||
	    (version >= PY_VER(3, 11) && basicsize != off->code_adaptive))
		return fail(d, -EPROTO,
			    "CPython %s: PyCode_Type.tp_basicsize is %llu, the %u.%u table says %u",
			    d->ver, (unsigned long long)basicsize, version >> 24,
			    (version >> 16) & 0xff, lay->code_basicsize);

	for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		__u32 expect;

		memcpy(&expect, (const char *)lay + fields[k].pos, sizeof(expect));
		if (expect)
			want |= 1u << k;
	}
	for (i = 0; i < MEMBERS_MAX; i++) {
		unsigned char def[MEMBERDEF_SIZE];
		__u64 name_ptr, offset;
		char name[32];

		err = mt_procmem__read(d->pid, members + i * MEMBERDEF_SIZE, def, sizeof(def));
		/*
		 * Before relocation the pointer holds its link-time value
		 * (the addend), which points nowhere in a relocated library.
		 */
		if (err && i == 0)
			return fail(d, -EAGAIN, "CPython %s: PyCode_Type not relocated yet",
				    d->ver);
		if (err)
			return fail(d, err, "CPython %s: cannot read PyCode_Type.tp_members: %s",
				    d->ver, strerror(-err));
		memcpy(&name_ptr, def + MEMBERDEF_NAME, sizeof(name_ptr));
		memcpy(&offset, def + MEMBERDEF_OFFSET, sizeof(offset));
		if (!name_ptr)
			break;
		err = read_cstr(d->pid, name_ptr, name, sizeof(name));
		if (err)
			return fail(d, err, "CPython %s: cannot read a PyCode_Type member name: %s",
				    d->ver, strerror(-err));
		for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			__u32 expect;

			if (strcmp(name, fields[k].name))
				continue;
			memcpy(&expect, (const char *)lay + fields[k].pos, sizeof(expect));
			if (offset != expect)
				return fail(d, -EPROTO,
					    "CPython %s: PyCode_Type says %s is at %llu, the %u.%u "
					    "table says %u",
					    d->ver, name, (unsigned long long)offset, version >> 24,
					    (version >> 16) & 0xff, expect);
			found |= 1u << k;
		}
	}
	if ((found & want) != want)
		return fail(d, -EPROTO, "CPython %s: PyCode_Type.tp_members lacks a code field",
			    d->ver);
	if (off->co_firstlineno != lay->co_firstlineno)
		return fail(d, -EPROTO, "CPython %s: co_firstlineno at %u, PyCode_Type says %u",
			    d->ver, off->co_firstlineno, lay->co_firstlineno);
	return 0;
}

static __u32 span_end(__u32 span, __s64 off, __u32 size)
{
	return off >= 0 && (__u64)off + size > span ? (__u32)off + size : span;
}

/* The end of the last frame field BPF uses, 8-byte aligned (fr_span). */
static __u32 frame_span(const struct mt_py_offsets *o)
{
	__u32 span = 0;

	span = span_end(span, o->fr_code, 8);
	span = span_end(span, o->fr_previous, 8);
	span = span_end(span, o->fr_instr, o->flags & MT_PY_LASTI_INDEX ? 4 : 8);
	span = span_end(span, o->fr_owner, 1);
	return (span + 7) & ~7U;
}

/* The module of the process's executable, by identity, else by path. */
static const struct mt_module *exe_module(pid_t pid, const struct mt_maps *maps)
{
	char link[64], exe[PATH_MAX];
	struct stat st;
	ssize_t n;
	size_t i;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	if (!stat(link, &st)) {
		for (i = 0; i < maps->nr_mods; i++)
			if (maps->mods[i].dev == st.st_dev && maps->mods[i].inode == st.st_ino)
				return &maps->mods[i];
	}
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	for (i = 0; i < maps->nr_mods; i++)
		if (!strcmp(maps->mods[i].path, exe))
			return &maps->mods[i];
	return NULL;
}

int mt_py__detect(pid_t pid, const struct mt_maps *maps, struct mt_py_offsets *off, char *desc,
		  size_t desclen)
{
	struct detect d = {.pid = pid, .desc = desc, .desclen = desclen};
	struct py_elf e = {.file.fd = -1};
	const struct mt_module *mod = NULL;
	const struct mt_py_code_layout *lay;
	const struct mt_py_offsets *tab;
	unsigned int maj = 0, min = 0;
	bool named = false, ft = false, guessed = false;
	__u32 version = 0;
	__u64 runtime;
	size_t i;
	int err;

	if (desclen && !desc)
		return -EINVAL;
	if (desclen)
		desc[0] = 0;
	if (pid <= 0 || !maps || !off)
		return fail(&d, -EINVAL, "invalid arguments");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(&d, -ENOSYS, "libelf: %s", elf_errmsg(-1));

	/* 1. the interpreter's file */
	for (i = 0; i < maps->nr_mods && !mod; i++) {
		if (parse_py_name(base_name(maps->mods[i].path), "libpython", &maj, &min, &ft)) {
			mod = &maps->mods[i];
			named = true;
		}
	}
	if (!mod) {
		mod = exe_module(pid, maps);
		if (!mod)
			return fail(&d, -ENOENT, "no libpython and no executable mapping");
	}
	d.path = mod->path;
	err = py_elf__open(pid, maps, mod, &e);
	if (err) {
		if (!named && err == -ENOEXEC)
			return fail(&d, -ENOENT, "%s: not an ELF file we can read", d.path);
		return fail(&d, err, "cannot open %s: %s", d.path, strerror(-err));
	}
	if (!named) {
		if (!e.has_runtime_sec && !e.sym[SYM_RUNTIME].found && !e.sym[SYM_VERSION].found &&
		    !e.sym[SYM_GET_VERSION].found) {
			err = fail(&d, -ENOENT, "%s: not a Python interpreter", d.path);
			goto cleanup;
		}
		named = parse_py_name(base_name(d.path), "python", &maj, &min, &ft);
	}

	/* 2. version */
	if (e.sym[SYM_VERSION].found) {
		err = mt_procmem__read(pid, e.sym[SYM_VERSION].value + e.bias, &version,
				       sizeof(version));
		if (err && err != -ESRCH)
			err = mt_elf__read(&e.file, e.sym[SYM_VERSION].value, &version,
					   sizeof(version));
		if (err) {
			err =
			    fail(&d, err, "%s: cannot read Py_Version: %s", d.path, strerror(-err));
			goto cleanup;
		}
	} else {
		/*
		 * Py_Version is 3.11+: this is 3.10 or older. Without a usable
		 * name, .PyRuntime tells 3.10 (it has one) from older versions.
		 */
		if (!named || (maj == 3 && min > 10)) {
			maj = 3;
			min = e.has_runtime_sec ? 10 : 9;
			guessed = true;
		}
		version = PY_VER(maj, min);
		if (scan_version(&e, maj, min, &version) == -ENOMEM) {
			err = fail(&d, -ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	version_str(version, d.ver, sizeof(d.ver));
	if (version >> 24 != 3 || PY_MINOR(version) < MIN_SUPPORTED ||
	    PY_MINOR(version) > MAX_SUPPORTED) {
		err = fail(&d, -EOPNOTSUPP, "CPython %s%s (%s) is not supported (%s)", d.ver,
			   guessed && min < 10 ? " or older" : "", d.path, SUPPORTED_TEXT);
		goto cleanup;
	}
	if (ft) {
		err = fail(&d, -EOPNOTSUPP, FREE_THREADED_TEXT, d.ver, d.path);
		goto cleanup;
	}
	lay = mt_py__code_layout(version);
	if (!lay) {
		err =
		    fail(&d, -EOPNOTSUPP, "CPython %s: no code layout (%s)", d.ver, SUPPORTED_TEXT);
		goto cleanup;
	}

	/* 3. _PyRuntime */
	if (e.sym[SYM_RUNTIME].found) {
		runtime = e.sym[SYM_RUNTIME].value + e.bias;
	} else if (e.has_runtime_sec) {
		runtime = e.runtime_sec + e.bias;
	} else {
		err = fail(&d, -ENOENT, "CPython %s (%s): no _PyRuntime symbol or section", d.ver,
			   d.path);
		goto cleanup;
	}

	/* 4. offsets */
	memset(off, 0, sizeof(*off));
	if (PY_MINOR(version) >= PY_VER(3, 13)) {
		off->runtime = runtime;
		err = from_debug_offsets(&d, version, lay, off);
		if (err)
			goto cleanup;
	} else {
		tab = offsets_entry(version);
		if (!tab) {
			err = fail(&d, -EOPNOTSUPP, "CPython %s: no offsets table (%s)", d.ver,
				   SUPPORTED_TEXT);
			goto cleanup;
		}
		*off = *tab;
	}
	off->runtime = runtime;
	off->version = version;
	off->code_mask = PY_MINOR(version) >= PY_VER(3, 14) ? ~3ULL : ~0ULL;
	off->text_lo = mod->exec_start;
	off->text_hi = mod->exec_end;
	off->arena_size = ARENA_SIZE;
	off->fr_span = frame_span(off);
	if (off->fr_span > MT_PY_FRAME_READ) {
		err = fail(&d, -EPROTO, "CPython %s: frame fields beyond %u bytes", d.ver,
			   MT_PY_FRAME_READ);
		goto cleanup;
	}

	/* 5. cross-check */
	if (e.sym[SYM_CODE_TYPE].found) {
		err = check_code_type(&d, e.sym[SYM_CODE_TYPE].value + e.bias, version, lay, off);
		if (err)
			goto cleanup;
	}
	if (desclen)
		snprintf(desc, desclen, "CPython %s, %s", d.ver, d.path);
	err = 0;
cleanup:
	mt_elf__close(&e.file);
	if (err)
		memset(off, 0, sizeof(*off));
	return err;
}
