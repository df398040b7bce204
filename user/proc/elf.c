// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ELF reader. Program headers are copied once at open (bounded count);
 * symbol and section walks are bounded by the data libelf actually read
 * (d_size), not by header fields, so a crafted sh_size cannot make a walk
 * run for ever.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "proc/elf.h"
#include "proc/files.h"

void mt_elf__close(struct mt_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	e->elf = NULL;
	e->fd = -1;
}

static int read_loads(struct mt_elf *e)
{
	size_t phnum;

	if (elf_getphdrnum(e->elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (e->nr_loads == MT_ELF_MAX_LOADS || ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
		    ph.p_offset + ph.p_filesz < ph.p_offset)
			return -ENOEXEC;
		e->loads[e->nr_loads++] = (struct mt_elf_load){
		    .vaddr = ph.p_vaddr,
		    .offset = ph.p_offset,
		    .filesz = ph.p_filesz,
		    .memsz = ph.p_memsz,
		    .align = ph.p_align,
		    .flags = ph.p_flags,
		};
	}
	return e->nr_loads ? 0 : -ENOEXEC;
}

int mt_elf__open_fd(struct mt_elf *e, int fd)
{
	GElf_Ehdr ehdr;
	struct stat st;
	int err = -ENOEXEC;

	memset(e, 0, sizeof(*e));
	e->fd = fd;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -ENXIO;
		goto err_out;
	}
	e->file_size = st.st_size;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	if (elf_version(EV_CURRENT) == EV_NONE)
		goto err_out;
	e->elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &ehdr) ||
	    (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN))
		goto err_out;
	e->type = ehdr.e_type;
	e->machine = ehdr.e_machine;
	err = read_loads(e);
	if (err)
		goto err_out;
	return 0;
err_out:
	mt_elf__close(e);
	return err;
}

int mt_elf__open(struct mt_elf *e, const char *path)
{
	int fd = mt_files__open(path);

	if (fd < 0) {
		memset(e, 0, sizeof(*e));
		e->fd = -1;
		return fd;
	}
	return mt_elf__open_fd(e, fd);
}

/* ---- symbols ---- */

static void scan_symtab(const struct mt_elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			struct mt_elf_sym *syms, size_t n, unsigned int types)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count;

	if (!data || !sh->sh_entsize)
		return;
	/* what was read, not what the header claims */
	count = data->d_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(data, i, &s) || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		name = elf_strptr(e->elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		type = GELF_ST_TYPE(s.st_info);
		for (size_t k = 0; k < n; k++) {
			if (syms[k].found || strcmp(name, syms[k].name))
				continue;
			if (!(types & (1u << type))) {
				syms[k].skipped = type;
				continue;
			}
			syms[k].value = s.st_value;
			syms[k].size = s.st_size;
			syms[k].found = true;
		}
	}
}

size_t mt_elf__find_syms(const struct mt_elf *e, struct mt_elf_sym *syms, size_t n,
			 unsigned int types, enum mt_elf_order order)
{
	size_t found = 0;

	for (size_t k = 0; k < n; k++) {
		syms[k].value = syms[k].size = 0;
		syms[k].found = false;
		syms[k].skipped = 0;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool symtab = (pass == 0) == (order == MT_ELF_SYMTAB_FIRST);
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(e->elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) &&
			    sh.sh_type == (symtab ? SHT_SYMTAB : SHT_DYNSYM))
				scan_symtab(e, scn, &sh, syms, n, types);
		}
	}
	for (size_t k = 0; k < n; k++)
		found += syms[k].found;
	return found;
}

int mt_elf__section(const struct mt_elf *e, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(e->elf, scn))) {
		const char *s;

		if (!gelf_getshdr(scn, sh))
			continue;
		s = elf_strptr(e->elf, shstrndx, sh->sh_name);
		if (s && !strcmp(s, name))
			return 0;
	}
	return -ENOENT;
}

size_t mt_elf__needed(const struct mt_elf *e, char *soname, size_t soname_size, char *buf,
		      size_t size)
{
	Elf_Scn *scn = NULL;
	size_t n = 0, used = 0;
	GElf_Shdr sh;

	if (soname_size)
		soname[0] = 0;
	while ((scn = elf_nextscn(e->elf, scn))) {
		Elf_Data *d;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		d = elf_getdata(scn, NULL);
		/* libelf bounds the data by the section's size in the file */
		for (int i = 0; d && gelf_getdyn(d, i, &dyn) && dyn.d_tag != DT_NULL; i++) {
			const char *s;
			size_t len;

			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME)
				continue;
			s = elf_strptr(e->elf, sh.sh_link, dyn.d_un.d_val);
			len = s ? strnlen(s, 256) : 256;
			if (len > 255)
				continue;
			if (dyn.d_tag == DT_SONAME) {
				if (len < soname_size)
					memcpy(soname, s, len + 1);
				continue;
			}
			if (used + len + 1 > size)
				continue;
			memcpy(buf + used, s, len);
			buf[used + len] = 0;
			used += len + 1;
			n++;
		}
		break;
	}
	return n;
}

/* ---- addresses ---- */

/* The PT_LOAD whose file data holds [vaddr, vaddr + len), or NULL. */
static const struct mt_elf_load *file_load(const struct mt_elf *e, __u64 vaddr, __u64 len)
{
	for (size_t i = 0; i < e->nr_loads; i++) {
		const struct mt_elf_load *l = &e->loads[i];

		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz ||
		    len > l->filesz - (vaddr - l->vaddr))
			continue;
		if (l->offset + (vaddr - l->vaddr) + len > e->file_size)
			continue; /* beyond the end of the file */
		return l;
	}
	return NULL;
}

int mt_elf__offset(const struct mt_elf *e, __u64 vaddr, __u64 *offset)
{
	const struct mt_elf_load *l = file_load(e, vaddr, 1);

	if (!l)
		return -ENOENT;
	*offset = l->offset + (vaddr - l->vaddr);
	return 0;
}

int mt_elf__read(const struct mt_elf *e, __u64 vaddr, void *buf, size_t len)
{
	const struct mt_elf_load *l = file_load(e, vaddr, len);

	if (!l)
		return -ENOENT;
	if (pread(e->fd, buf, len, (off_t)(l->offset + (vaddr - l->vaddr))) != (ssize_t)len)
		return -EIO;
	return 0;
}

const struct mt_elf_load *mt_elf__exec_load(const struct mt_elf *e)
{
	const struct mt_elf_load *best = NULL;

	for (size_t i = 0; i < e->nr_loads; i++)
		if ((e->loads[i].flags & PF_X) && (!best || e->loads[i].memsz > best->memsz))
			best = &e->loads[i];
	return best;
}

int mt_elf__bias(const struct mt_elf *e, __u64 start, __u64 offset, __u64 page_size, bool exec_only,
		 __u64 *bias)
{
	for (int pass = 0; pass < (exec_only ? 1 : 2); pass++) {
		for (size_t i = 0; i < e->nr_loads; i++) {
			const struct mt_elf_load *l = &e->loads[i];

			if (pass == 0 && !(l->flags & PF_X))
				continue;
			if (offset < (l->offset & ~(page_size - 1)) ||
			    offset >= l->offset + l->filesz)
				continue;
			*bias = start - offset - (l->vaddr - l->offset);
			return 0;
		}
	}
	return -ENOENT;
}

void mt_elf__range(const struct mt_elf *e, __u64 *low, __u64 *high)
{
	*low = *high = 0;
	for (size_t i = 0; i < e->nr_loads; i++) {
		const struct mt_elf_load *l = &e->loads[i];

		if (i == 0)
			*low = l->vaddr & -l->align;
		if (l->vaddr + l->memsz > *high)
			*high = l->vaddr + l->memsz;
	}
	if (*high <= *low)
		*high = *low + 1;
}

int mt_elf__func_offset(const char *path, const char *name, __u64 *offset)
{
	struct mt_elf_sym sym = {.name = name};
	struct mt_elf e;
	int err;

	err = mt_elf__open(&e, path);
	if (err)
		return err;
	if (mt_elf__find_syms(&e, &sym, 1, MT_ELF_FUNC, MT_ELF_SYMTAB_FIRST))
		err = mt_elf__offset(&e, sym.value, offset);
	else
		err = -ENOENT;
	mt_elf__close(&e);
	return err;
}
