// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Native symbolizer on elfutils libdwfl.
 *
 * Three layers of state, each in its own hash table:
 *
 *   sym_elf   one per distinct ELF file, keyed by its GNU build-id, or by
 *             (st_dev, st_ino) of the opened file when it has none. It owns
 *             a Dwfl with the file reported at its link-time addresses
 *             (Dwfl address = ELF virtual address, checked at load), so one
 *             entry serves every process that maps the file, wherever it is
 *             mapped. sym_inode entries map the (dev, inode) a maps line
 *             names to the sym_elf, so a file is opened once, not once per
 *             process or per add_pid call.
 *   sym_proc  one per pid: its modules sorted by start, each with the
 *             sym_elf and the bias (process address - ELF vaddr).
 *   sym_hit   resolved frames per (sym_elf, vaddr): a stack seen in every
 *             interval is symbolized once.
 *
 * Files are opened through /proc/PID/root/<path> and checked against the
 * maps line's device and inode; a file replaced or deleted since it was
 * mapped is opened through /proc/PID/map_files/<start>-<end> instead. The
 * descriptor and its Elf (ELF_C_READ: read with pread, never mmap, so a file
 * truncated later yields read errors rather than SIGBUS) are handed to libdwfl
 * through our find_elf callback and live as long as the Dwfl, so addresses
 * of a process that has exited still resolve. Separate debug files are looked
 * up when the file is added, under /usr/lib/debug only (root's): by build-id,
 * then by .gnu_debuglink next to the file's path there. Never next to the
 * file itself, where a target could put a FIFO (libdwfl's standard lookup
 * would block opening it) or another file; opened as proc/files.h does.
 *
 * Strings (function and file names, module basenames) are interned in a
 * table owned by the symbolizer and are valid until mt_sym_native__free.
 * Nothing is freed before that except per-pid module lists. Not thread-safe.
 *
 * Inline chains: from the CU DIE of the address (dwfl_module_addrdie) we
 * descend through the scopes holding it (subprogram, lexical blocks,
 * inlined instances); every DW_TAG_inlined_subroutine on that path is one
 * inlined frame. The innermost frame's file:line is the line table's; each
 * outer frame's file:line is the DW_AT_call_file/DW_AT_call_line of the
 * inlined DIE just inside it (call_file indexes the CU's file table).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/debuginfod.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include "lib/htab.h"
#include "proc/elf.h"
#include "proc/files.h"
#include "symbolize/sym_native.h"

#define MAX_INLINE 64 /* frames kept per address */

/* ---- entries ---- */

struct mt_sym_native;

struct sym_elf {
	struct mt_hnode node;	 /* in elfs */
	struct mt_sym_native *s; /* its symbolizer (debuginfod) */
	unsigned char *build_id;
	size_t build_id_len;	  /* 0: keyed by dev/ino */
	const char *build_id_hex; /* interned, for frames; NULL without one */
	dev_t dev;
	ino_t ino;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	__u64 dwfl_bias; /* Dwfl address - ELF vaddr; 0 in practice */
	/* its fd and Elf are handed over to libdwfl by find_elf, then -1/NULL */
	struct mt_elf file;
	char *path;    /* in the target's namespace; debuglink search */
	bool dwarf_ok; /* has DWARF whose strings are bounded (dwarf__strings_bounded) */
};

struct sym_inode {
	struct mt_hnode node; /* in inodes */
	dev_t dev;
	__u64 ino;
	struct sym_elf *elf; /* NULL: not a usable ELF file */
};

struct sym_mod {
	__u64 start, end, bias;
	struct sym_elf *elf; /* NULL: not opened or no ELF */
	const char *name;    /* interned basename */
};

struct sym_proc {
	struct mt_hnode node; /* in procs */
	pid_t pid;
	struct sym_mod *mods;
	size_t nr_mods;
};

struct sym_line {
	const char *function, *file;
	int line;
	bool inlined;
};

struct sym_hit {
	struct mt_hnode node; /* in hits */
	const struct sym_elf *elf;
	__u64 vaddr;
	int nr;
	struct sym_line lines[];
};

/* debuginfod (mt_sym_native__use_debuginfod): one client for the run */
struct dbginfod {
	debuginfod_client *client;
	char *urls; /* NULL: not used */
	bool tried;
	struct timespec start; /* of the request under way */
};

struct mt_sym_native {
	struct mt_htab elfs, inodes, procs, hits;
	struct mt_strtab strs;
	__u64 page_size;
	struct dbginfod dbginfod;
};

/* ---- strings ---- */

static const char *intern(struct mt_sym_native *s, const char *str)
{
	return mt_strtab__intern(&s->strs, str);
}

/* A build-id as interned lower-case hex (NULL if longer than 64 bytes or on -ENOMEM). */
static const char *build_id_hex(struct mt_sym_native *s, const void *id, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = id;
	char hex[129];

	if (len > 64)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[2 * len] = 0;
	return intern(s, hex);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* ---- ELF files ---- */

static int find_elf_cb(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	struct sym_elf *e = *userdata;
	int fd;

	if (!e || e->file.fd < 0)
		return -1;
	*file_name = e->path ? strdup(e->path) : NULL;
	*elfp = e->file.elf;
	fd = e->file.fd;
	e->file.elf = NULL;
	e->file.fd = -1;
	return fd;
}

#define DEBUG_DIR "/usr/lib/debug"

/*
 * debuginfod, when DEBUGINFOD_URLS names servers (root's setting): one
 * client for the run, its cache root's (~/.cache/debuginfod_client or
 * DEBUGINFOD_CACHE_PATH). A request gives up after DEBUGINFOD_BUDGET_S.
 */
#define DEBUGINFOD_BUDGET_S 10

static int dbginfod_progress(debuginfod_client *c, long a, long b)
{
	const struct dbginfod *d = debuginfod_get_user_data(c);
	struct timespec now;

	(void)a;
	(void)b;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - d->start.tv_sec > DEBUGINFOD_BUDGET_S; /* non-zero: give up */
}

/* A debug file for build-id id from debuginfod: an fd (its path in *path), or -1. */
static int dbginfod_find(struct dbginfod *d, const unsigned char *id, int len, char **path)
{
	int fd;

	if (!d->urls)
		return -1;
	if (!d->tried) {
		d->tried = true;
		d->client = debuginfod_begin();
		if (d->client) {
			debuginfod_set_user_data(d->client, d);
			debuginfod_set_progressfn(d->client, dbginfod_progress);
		}
	}
	if (!d->client)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &d->start);
	/* the client reads its servers from the environment, set for this call only */
	setenv("DEBUGINFOD_URLS", d->urls, 1);
	fd = debuginfod_find_debuginfo(d->client, id, len, path);
	unsetenv("DEBUGINFOD_URLS");
	return fd < 0 ? -1 : fd;
}

static void dbginfod__free(struct dbginfod *d)
{
	if (d->client)
		debuginfod_end(d->client);
	free(d->urls);
	memset(d, 0, sizeof(*d));
}

void mt_sym_native__use_debuginfod(struct mt_sym_native *s, const char *urls)
{
	if (!s)
		return;
	free(s->dbginfod.urls);
	s->dbginfod.urls = urls && *urls ? strdup(urls) : NULL;
}

/* The separate debug file of mod (see the top of the file): fd or -1. */
static int find_debuginfo_cb(Dwfl_Module *mod, void **userdata, const char *modname,
			     Dwarf_Addr base, const char *file_name, const char *debuglink,
			     GElf_Word crc, char **debuginfo_file_name)
{
	struct sym_elf *e = *userdata;
	const unsigned char *id;
	char path[PATH_MAX];
	const char *dir_end;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &id, &vaddr), fd = -1;
	size_t n;

	if (len > 1 && len <= 64) {
		n = (size_t)snprintf(path, sizeof(path), DEBUG_DIR "/.build-id/%02x/", id[0]);
		for (int i = 1; i < len; i++)
			n += (size_t)snprintf(path + n, sizeof(path) - n, "%02x", id[i]);
		snprintf(path + n, sizeof(path) - n, ".debug");
		fd = mt_files__open(path);
	}
	/* a debuglink is a file name: nothing with a '/' (no "..") */
	if (fd < 0 && debuglink && *debuglink && !strchr(debuglink, '/') && e && e->path &&
	    e->path[0] == '/') {
		dir_end = strrchr(e->path, '/');
		if ((size_t)snprintf(path, sizeof(path), DEBUG_DIR "%.*s/%s",
				     (int)(dir_end - e->path), e->path, debuglink) < sizeof(path))
			fd = mt_files__open(path);
	}
	if (fd < 0 && len > 1 && len <= 64 && e)
		return dbginfod_find(&e->s->dbginfod, id, len, debuginfo_file_name);
	if (fd < 0)
		return -1;
	*debuginfo_file_name = strdup(path);
	return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = find_elf_cb,
    .find_debuginfo = find_debuginfo_cb,
    .section_address = dwfl_offline_section_address,
};

static void sym_elf__free(struct sym_elf *e)
{
	if (!e)
		return;
	if (e->dwfl)
		dwfl_end(e->dwfl);
	mt_elf__close(&e->file);
	free(e->build_id);
	free(e->path);
	free(e);
}

static __u64 elf_key_hash(const unsigned char *id, size_t id_len, dev_t dev, ino_t ino)
{
	if (id_len)
		return mt_hash_bytes(id, id_len);
	return mt_hash_u64((__u64)dev * 0x9e3779b97f4a7c15ULL ^ ino);
}

static struct sym_elf *elf__find(struct mt_sym_native *s, const unsigned char *id, size_t id_len,
				 dev_t dev, ino_t ino)
{
	struct mt_hnode *n;

	for (n = mt_htab__first(&s->elfs, elf_key_hash(id, id_len, dev, ino)); n;
	     n = mt_htab__next(n)) {
		struct sym_elf *e = (struct sym_elf *)n;

		if (e->build_id_len != id_len)
			continue;
		if (id_len ? !memcmp(e->build_id, id, id_len) : e->dev == dev && e->ino == ino)
			return e;
	}
	return NULL;
}

/*
 * libdw hands out strings as pointers into their sections and they are read
 * up to their NUL: a string section (or .debug_info, whose inline strings
 * are read alike) that does not end in a NUL would be read past its end.
 * A well-formed one always does (.debug_info ends with a null entry).
 */
static bool dwarf__strings_bounded(Dwarf *dw)
{
	static const char *const names[] = {".debug_str", ".debug_line_str", ".debug_info"};
	Elf *elf = dwarf_getelf(dw);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;
		bool str = false;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
			str |= !strcmp(name, names[i]);
		if (!str)
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_size && ((const char *)d->d_buf)[d->d_size - 1])
			return false;
	}
	return true;
}

/*
 * Take an open file (fd) and make it a sym_elf, or return the existing one
 * with the same build-id or identity. Consumes fd in all cases. NULL with
 * errno set when the file is not a usable ELF file (ENOEXEC) or on ENOMEM.
 */
static struct sym_elf *elf__get(struct mt_sym_native *s, int fd, const char *path)
{
	Dwarf *dw;
	struct sym_elf *e, *old;
	Dwarf_Addr bias = 0;
	__u64 low, high;
	const void *id;
	void **slot;
	ssize_t id_len;
	int err;

	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	e->s = s;
	err = mt_elf__open_fd(&e->file, fd);
	if (err == -ENXIO)
		err = -ENOEXEC;
	if (err)
		goto err_out;
	e->dev = e->file.dev;
	e->ino = e->file.ino;

	id_len = dwelf_elf_gnu_build_id(e->file.elf, &id);
	if (id_len > 0) {
		err = -ENOMEM;
		e->build_id = malloc(id_len);
		if (!e->build_id)
			goto err_out;
		memcpy(e->build_id, id, id_len);
		e->build_id_len = id_len;
		e->build_id_hex = build_id_hex(s, id, (size_t)id_len);
	}
	old = elf__find(s, e->build_id, e->build_id_len, e->dev, e->ino);
	if (old) {
		sym_elf__free(e);
		return old;
	}

	err = -ENOMEM;
	if (path) {
		e->path = strdup(path);
		if (!e->path)
			goto err_out;
	}
	e->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!e->dwfl)
		goto err_out;
	mt_elf__range(&e->file, &low, &high);
	dwfl_report_begin(e->dwfl);
	e->mod = dwfl_report_module(e->dwfl, path ? base_name(path) : "?", low, high);
	err = -ENOEXEC;
	if (!e->mod || dwfl_report_end(e->dwfl, NULL, NULL))
		goto err_out;
	dwfl_module_info(e->mod, &slot, NULL, NULL, NULL, NULL, NULL, NULL);
	*slot = e;
	/* opens the file (find_elf_cb) and checks the address layout */
	if (!dwfl_module_getelf(e->mod, &bias))
		goto err_out;
	e->dwfl_bias = bias;
	/* find debug info now, while /proc/PID/root still resolves */
	dw = dwfl_module_getdwarf(e->mod, &bias);
	/* corrupt DWARF: function names from the symbol table, no lines */
	e->dwarf_ok = dw && dwarf__strings_bounded(dw);

	err = mt_htab__add(&s->elfs, &e->node,
			   elf_key_hash(e->build_id, e->build_id_len, e->dev, e->ino));
	if (err)
		goto err_out;
	return e;
err_out:
	sym_elf__free(e);
	errno = -err;
	return NULL;
}

static __u64 inode_hash(dev_t dev, __u64 ino)
{
	return mt_hash_u64((__u64)dev * 0x9e3779b97f4a7c15ULL ^ ino);
}

static struct sym_inode *inode__find(struct mt_sym_native *s, dev_t dev, __u64 ino)
{
	struct mt_hnode *n;

	for (n = mt_htab__first(&s->inodes, inode_hash(dev, ino)); n; n = mt_htab__next(n)) {
		struct sym_inode *i = (struct sym_inode *)n;

		if (i->dev == dev && i->ino == ino)
			return i;
	}
	return NULL;
}

/*
 * The sym_elf of module m: known by its (dev, inode), or opened now. NULL
 * when it cannot be opened (not remembered: may work next time), is not an
 * ELF file (remembered), or on ENOMEM (errno).
 */
static struct sym_elf *module__elf(struct mt_sym_native *s, pid_t pid, const struct mt_maps *maps,
				   const struct mt_module *m, const char *root)
{
	struct sym_inode *ino;
	struct sym_elf *e;
	char path[PATH_MAX];
	int fd;

	errno = 0;
	ino = inode__find(s, m->dev, m->inode);
	if (ino)
		return ino->elf;
	fd = mt_files__open_module(pid, maps, m, root, MT_FILES_LIVE, path, sizeof(path));
	if (fd < 0)
		return NULL;
	e = elf__get(s, fd, m->path);
	if (!e && errno != ENOEXEC)
		return NULL;
	ino = calloc(1, sizeof(*ino));
	if (!ino || mt_htab__add(&s->inodes, &ino->node, inode_hash(m->dev, m->inode))) {
		free(ino);
		errno = ENOMEM;
		return NULL;
	}
	ino->dev = m->dev;
	ino->ino = m->inode;
	ino->elf = e;
	errno = 0;
	return e;
}

/* ---- processes ---- */

static struct sym_proc *proc__find(struct mt_sym_native *s, pid_t pid)
{
	struct mt_hnode *n;

	for (n = mt_htab__first(&s->procs, mt_hash_u64(pid)); n; n = mt_htab__next(n))
		if (((struct sym_proc *)n)->pid == pid)
			return (struct sym_proc *)n;
	return NULL;
}

static const struct sym_mod *proc__module(const struct sym_proc *p, __u64 addr)
{
	size_t lo = 0, hi = p->nr_mods;

	/* last module with start <= addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->mods[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= p->mods[lo - 1].end)
		return NULL;
	return &p->mods[lo - 1];
}

static void proc__free(struct mt_hnode *n)
{
	struct sym_proc *p = (struct sym_proc *)n;

	free(p->mods);
	free(p);
}

static int cmp_mod_start(const void *a, const void *b)
{
	const struct sym_mod *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * A module the process no longer maps (dlclose) is kept, as it was at first
 * sight, while nothing else is mapped over its range: the sites recorded
 * in it still name it. One that something now overlaps goes.
 */
static bool mod__overlaps(const struct sym_mod *m, const struct sym_mod *mods, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (m->start < mods[j].end && mods[j].start < m->end)
			return true;
	return false;
}

static int proc__keep_unmapped(const struct sym_proc *p, struct sym_mod **mods, size_t *nr)
{
	size_t keep = 0, n = *nr, k = n;
	struct sym_mod *all;

	for (size_t i = 0; i < p->nr_mods; i++)
		keep += !mod__overlaps(&p->mods[i], *mods, n);
	if (!keep)
		return 0;
	all = realloc(*mods, (n + keep) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr_mods; i++)
		if (!mod__overlaps(&p->mods[i], all, n))
			all[k++] = p->mods[i];
	qsort(all, k, sizeof(*all), cmp_mod_start);
	*mods = all;
	*nr = k;
	return 0;
}

int mt_sym_native__add_maps(struct mt_sym_native *s, pid_t pid, const struct mt_maps *maps,
			    const char *root)
{
	struct sym_mod *mods = NULL;
	struct sym_proc *p;
	size_t i, nr = 0;
	int err = 0;

	if (!s || !maps)
		return -EINVAL;
	if (!root)
		root = "";
	mods = calloc(maps->nr_mods ? maps->nr_mods : 1, sizeof(*mods));
	if (!mods)
		return -ENOMEM;
	for (i = 0; i < maps->nr_mods; i++) {
		const struct mt_module *m = &maps->mods[i];
		struct sym_mod *sm = &mods[nr];

		sm->start = m->start;
		sm->end = m->end;
		sm->name = intern(s, base_name(m->path));
		if (!sm->name) {
			err = -ENOMEM;
			goto cleanup;
		}
		/* only files with code are worth opening */
		if (m->exec_end > m->exec_start) {
			sm->elf = module__elf(s, pid, maps, m, root);
			if (!sm->elf && errno == ENOMEM) {
				err = -ENOMEM;
				goto cleanup;
			}
			if (sm->elf && mt_elf__bias(&sm->elf->file, m->exec_start, m->exec_offset,
						    s->page_size, false, &sm->bias))
				sm->elf = NULL; /* the file does not match the mapping */
		}
		nr++;
	}
	p = proc__find(s, pid);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || mt_htab__add(&s->procs, &p->node, mt_hash_u64(pid))) {
			free(p);
			err = -ENOMEM;
			goto cleanup;
		}
		p->pid = pid;
	}
	err = proc__keep_unmapped(p, &mods, &nr);
	if (err)
		goto cleanup;
	free(p->mods);
	p->mods = mods;
	p->nr_mods = nr;
	mods = NULL;
cleanup:
	free(mods);
	return err;
}

int mt_sym_native__add_pid(struct mt_sym_native *s, pid_t pid)
{
	struct mt_maps maps;
	char root[64];
	int err;

	if (!s)
		return -EINVAL;
	err = mt_maps__read(pid, &maps);
	if (err)
		return err;
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	err = mt_sym_native__add_maps(s, pid, &maps, root);
	mt_maps__free(&maps);
	return err;
}

void mt_sym_native__forget_pid(struct mt_sym_native *s, pid_t pid)
{
	struct sym_proc *p;

	if (!s)
		return;
	p = proc__find(s, pid);
	if (!p)
		return;
	mt_htab__del(&s->procs, &p->node);
	proc__free(&p->node);
}

/* ---- resolving ---- */

/*
 * Raw name of a subprogram or inlined instance (follows abstract origins):
 * the mangled linkage name for C++ and Rust, else DW_AT_name. A C linkage
 * name is an asm label (glibc's __GI___libc_malloc), not what users know.
 */
static const char *die__name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (name && (!strncmp(name, "_Z", 2) || !strncmp(name, "_R", 2)))
		return name;
	return dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr)) ?: name;
}

#define MAX_DIE_DEPTH 64 /* nesting of scopes and namespaces followed */

/*
 * Find the child of parent that is a code scope holding pc: a subprogram,
 * inlined instance or lexical block. Namespaces, classes and the like have
 * no addresses and are searched through. Returns 1 and sets *out if found.
 */
static int die__child_at(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *out, int depth)
{
	Dwarf_Die child;

	if (depth > MAX_DIE_DEPTH || dwarf_child(parent, &child) != 0)
		return 0;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_lexical_block:
		case DW_TAG_entry_point:
			if (dwarf_haspc(&child, pc) > 0) {
				*out = child;
				return 1;
			}
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			if (die__child_at(&child, pc, out, depth + 1))
				return 1;
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

/*
 * Fill lines[] for Dwfl address pc of module mod, innermost first, from
 * the DIE tree. Returns how many were written (0: no subprogram DIE).
 * file/line is the line table's answer for pc.
 *
 * The walk goes down from the CU, one level per containing scope, and
 * skips sibling subtrees: cheaper than dwarf_getscopes and then
 * dwarf_getscopes_die, which both visit the CU's whole tree.
 */
static int scopes__lines(Dwfl_Module *mod, Dwarf_Addr pc, const char *file, int line,
			 struct sym_line *lines, int max)
{
	Dwarf_Die *cudie, path[MAX_DIE_DEPTH], die;
	Dwarf_Files *files = NULL;
	Dwarf_Addr cubias = 0;
	int depth = 0, i, n = 0;

	cudie = dwfl_module_addrdie(mod, pc, &cubias);
	if (!cudie)
		return 0;
	die = *cudie;
	while (depth < MAX_DIE_DEPTH && die__child_at(&die, pc - cubias, &path[depth], 0)) {
		die = path[depth];
		depth++;
	}
	/* innermost first: every inlined instance is a frame, up to the real function */
	for (i = depth - 1; i >= 0 && n < max; i--) {
		int tag = dwarf_tag(&path[i]);
		Dwarf_Attribute attr;
		Dwarf_Word w;

		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine &&
		    tag != DW_TAG_entry_point)
			continue;
		lines[n].function = die__name(&path[i]);
		lines[n].file = file;
		lines[n].line = line;
		lines[n].inlined = tag == DW_TAG_inlined_subroutine;
		n++;
		if (tag != DW_TAG_inlined_subroutine)
			return n;
		/* the caller's position is this instance's call site */
		file = NULL;
		line = 0;
		if (!files) {
			size_t nr_files;

			if (dwarf_getsrcfiles(cudie, &files, &nr_files))
				files = NULL;
		}
		if (files && !dwarf_formudata(dwarf_attr(&path[i], DW_AT_call_file, &attr), &w))
			file = dwarf_filesrc(files, w, NULL, NULL);
		if (!dwarf_formudata(dwarf_attr(&path[i], DW_AT_call_line, &attr), &w) &&
		    w <= INT_MAX)
			line = w;
	}
	/* inlined instances outside any subprogram (broken DWARF): add the caller */
	if (n && n < max) {
		lines[n] = (struct sym_line){.file = file, .line = line};
		n++;
	}
	return n;
}

/* Symbolize vaddr of e (uncached) into a new sym_hit; NULL on ENOMEM. */
static struct sym_hit *symbolize(struct mt_sym_native *s, const struct sym_elf *e, __u64 vaddr)
{
	struct sym_line lines[MAX_INLINE];
	Dwarf_Addr pc = vaddr + e->dwfl_bias;
	const char *symname, *file = NULL;
	GElf_Off sym_off;
	GElf_Sym sym;
	struct sym_hit *hit;
	Dwfl_Line *dl;
	int i, n, line = 0;

	symname = dwfl_module_addrinfo(e->mod, pc, &sym_off, &sym, NULL, NULL, NULL);
	dl = e->dwarf_ok ? dwfl_module_getsrc(e->mod, pc) : NULL;
	if (dl)
		file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	if (!file || line < 0)
		line = 0;
	n = e->dwarf_ok ? scopes__lines(e->mod, pc, file, line, lines, MAX_INLINE) : 0;
	if (n == 0 && (symname || file)) {
		lines[0] = (struct sym_line){.file = file, .line = line};
		n = 1;
	}
	/* the real function: its DWARF name, else the symbol table's */
	if (n && !lines[n - 1].function)
		lines[n - 1].function = symname;

	hit = malloc(sizeof(*hit) + n * sizeof(hit->lines[0]));
	if (!hit)
		return NULL;
	hit->elf = e;
	hit->vaddr = vaddr;
	hit->nr = n;
	for (i = 0; i < n; i++) {
		hit->lines[i] = lines[i];
		hit->lines[i].function = intern(s, lines[i].function);
		hit->lines[i].file = intern(s, lines[i].file);
		if ((lines[i].function && !hit->lines[i].function) ||
		    (lines[i].file && !hit->lines[i].file)) {
			free(hit);
			return NULL;
		}
	}
	return hit;
}

static __u64 hit_hash(const struct sym_elf *e, __u64 vaddr)
{
	return mt_hash_u64(vaddr ^ mt_hash_u64((unsigned long)e));
}

int mt_sym_native__resolve(struct mt_sym_native *s, pid_t pid, __u64 addr, bool is_return,
			   struct mt_frame *frames, int max)
{
	const struct sym_proc *p;
	const struct sym_mod *m;
	struct sym_hit *hit = NULL;
	struct mt_hnode *node;
	__u64 vaddr, hash;
	int i;

	if (!s || !frames || max < 1)
		return -EINVAL;
	memset(&frames[0], 0, sizeof(frames[0]));
	frames[0].addr = addr;
	frames[0].kind = MT_FRAME_NATIVE;
	p = proc__find(s, pid);
	m = p ? proc__module(p, addr) : NULL;
	if (!m)
		return 1;
	frames[0].module = m->name;
	if (!m->elf)
		return 1;
	frames[0].build_id = m->elf->build_id_hex;
	vaddr = addr - (is_return ? 1 : 0) - m->bias;
	frames[0].elf_addr = vaddr;

	hash = hit_hash(m->elf, vaddr);
	for (node = mt_htab__first(&s->hits, hash); node; node = mt_htab__next(node)) {
		struct sym_hit *h = (struct sym_hit *)node;

		if (h->elf == m->elf && h->vaddr == vaddr) {
			hit = h;
			break;
		}
	}
	if (!hit) {
		hit = symbolize(s, m->elf, vaddr);
		if (!hit)
			return -ENOMEM;
		if (mt_htab__add(&s->hits, &hit->node, hash)) {
			free(hit);
			return -ENOMEM;
		}
	}
	for (i = 0; i < hit->nr && i < max; i++) {
		frames[i] = (struct mt_frame){
		    .function = hit->lines[i].function,
		    .file = hit->lines[i].file,
		    .module = m->name,
		    .build_id = m->elf->build_id_hex,
		    .addr = addr,
		    .elf_addr = vaddr,
		    .line = hit->lines[i].line,
		    .kind = MT_FRAME_NATIVE,
		    .inlined = hit->lines[i].inlined,
		};
	}
	return i ? i : 1;
}

const char *mt_sym_native__module(struct mt_sym_native *s, pid_t pid, __u64 addr)
{
	const struct sym_proc *p;
	const struct sym_mod *m;

	if (!s)
		return NULL;
	p = proc__find(s, pid);
	m = p ? proc__module(p, addr) : NULL;
	return m ? m->name : NULL;
}

/* ---- lifetime ---- */

struct mt_sym_native *mt_sym_native__new(void)
{
	struct mt_sym_native *s;
	long pg;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	pg = sysconf(_SC_PAGESIZE);
	s->page_size = pg > 0 ? pg : 4096;
	return s;
}

static void elf_node__free(struct mt_hnode *n)
{
	sym_elf__free((struct sym_elf *)n);
}

static void node__free(struct mt_hnode *n)
{
	free(n);
}

void mt_sym_native__free(struct mt_sym_native *s)
{
	if (!s)
		return;
	mt_htab__clear(&s->procs, proc__free);
	mt_htab__clear(&s->hits, node__free);
	mt_htab__clear(&s->inodes, node__free);
	dbginfod__free(&s->dbginfod);
	mt_htab__clear(&s->elfs, elf_node__free);
	mt_strtab__clear(&s->strs);
	free(s);
}
