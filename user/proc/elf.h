/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ELF files a target maps, read with libelf: symbols, where a virtual
 * address is in the file, the PT_LOAD segments and the load bias of a
 * mapping, bytes at a virtual address.
 *
 * Files are attacker-controlled (a process can map a crafted ELF): counts,
 * sizes and offsets read from one are bounded by what libelf read and by
 * the file's size, never trusted to size an allocation or a loop.
 * Elf is opened with ELF_C_READ (pread, no mmap), so a file truncated under
 * us gives read errors, not SIGBUS.
 */
#ifndef MT_ELF_H
#define MT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/types.h>

#define MT_ELF_MAX_LOADS 64 /* more PT_LOAD headers: not a file we read (-ENOEXEC) */

/* One PT_LOAD program header. */
struct mt_elf_load {
	__u64 vaddr, offset, filesz, memsz, align;
	__u32 flags; /* PF_X | PF_W | PF_R */
};

/*
 * An open ELF executable or shared object (ET_EXEC or ET_DYN) with at
 * least one PT_LOAD. fd and elf are owned; a user that hands them to
 * another owner (libdwfl) sets them to -1 and NULL.
 */
struct mt_elf {
	int fd;
	Elf *elf;
	__u64 file_size;
	dev_t dev; /* of the file opened (fstat) */
	ino_t ino;
	__u16 type;    /* e_type */
	__u16 machine; /* e_machine */
	struct mt_elf_load loads[MT_ELF_MAX_LOADS];
	size_t nr_loads;
};

/*
 * Open the ELF file at path (proc/files.h mt_files__open: regular files
 * only, never blocks). 0, -ENOEXEC (not an ELF file this reads) or another
 * negative errno; on failure *e is closed.
 */
int mt_elf__open(struct mt_elf *e, const char *path);
/* Same for an open descriptor, which is e's from now on (closed on failure). */
int mt_elf__open_fd(struct mt_elf *e, int fd);
/* Close what e still owns; accepts NULL and a closed or half-opened e. */
void mt_elf__close(struct mt_elf *e);

/* ---- symbols ---- */

/* Symbol types to accept, as a mask of (1 << STT_x). */
#define MT_ELF_FUNC (1u << STT_FUNC)
#define MT_ELF_IFUNC (1u << STT_GNU_IFUNC)
#define MT_ELF_OBJECT (1u << STT_OBJECT)
#define MT_ELF_ANY (~0u)

/* Which symbol table is searched first (the other one fills the gaps). */
enum mt_elf_order {
	MT_ELF_SYMTAB_FIRST, /* .symtab has local aliases too */
	MT_ELF_DYNSYM_FIRST, /* what the dynamic linker sees; .symtab may be stripped */
};

/* A symbol looked up by name; name is the caller's, the rest is filled. */
struct mt_elf_sym {
	const char *name;
	__u64 value; /* st_value: the ELF virtual address */
	__u64 size;  /* st_size, 0 = unknown */
	bool found;
	unsigned char skipped; /* STT_ type of a definition refused by the mask, or 0 */
};

/*
 * Look up syms[0..n) by name among defined symbols with a non-zero value
 * whose type is in types; the first definition found wins. Entries not
 * found keep found = false. Returns how many were found.
 */
size_t mt_elf__find_syms(const struct mt_elf *e, struct mt_elf_sym *syms, size_t n,
			 unsigned int types, enum mt_elf_order order);

/* The section named name: 0 and *sh filled, or -ENOENT. */
int mt_elf__section(const struct mt_elf *e, const char *name, GElf_Shdr *sh);

/*
 * The file's dynamic section: its DT_SONAME into soname ("" when none)
 * and its DT_NEEDED entries, in order, as NUL-terminated names one after
 * another in buf (the last ones dropped when buf is full; names longer
 * than 255 bytes skipped). Returns how many needed names were written;
 * 0 for a file with no dynamic section (a static executable).
 */
size_t mt_elf__needed(const struct mt_elf *e, char *soname, size_t soname_size, char *buf,
		      size_t size);

/* ---- addresses ---- */

/* File offset of vaddr, from the PT_LOAD holding it in the file. 0 or -ENOENT. */
int mt_elf__offset(const struct mt_elf *e, __u64 vaddr, __u64 *offset);

/*
 * Read len bytes at vaddr from the file: the whole range must be file
 * data of one PT_LOAD. 0, -ENOENT (not there) or -EIO.
 */
int mt_elf__read(const struct mt_elf *e, __u64 vaddr, void *buf, size_t len);

/* The largest executable PT_LOAD, or NULL. */
const struct mt_elf_load *mt_elf__exec_load(const struct mt_elf *e);

/*
 * Load bias (process address - ELF vaddr) of a mapping of e at start with
 * file offset offset, from the PT_LOAD holding that offset: executable
 * segments first, then (unless exec_only) any. 0 or -ENOENT.
 */
int mt_elf__bias(const struct mt_elf *e, __u64 start, __u64 offset, __u64 page_size, bool exec_only,
		 __u64 *bias);

/*
 * Link-time address range of the file: from the first PT_LOAD's vaddr
 * aligned down to its p_align (as libdwfl computes a module's start) to
 * the end of the highest segment; never empty.
 */
void mt_elf__range(const struct mt_elf *e, __u64 *low, __u64 *high);

/*
 * File offset of function name in the ELF file at path (.symtab, then
 * .dynsym). 0, -ENOENT or another negative errno.
 */
int mt_elf__func_offset(const char *path, const char *name, __u64 *offset);

#endif
