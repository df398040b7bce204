// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Probe planning for the C library's (or CPython's) allocator.
 *
 * Symbols come from .symtab, else .dynsym; a symbol's file offset is taken
 * from the PT_LOAD segment that holds it (proc/elf.h). Functions that are
 * aliases at one address (glibc's aligned_alloc and memalign) are probed
 * once. Where each probe goes inside its function is insn_x86's business,
 * the system call sites of the mmap family syscall_scan's, the rules that
 * step out of the library's own allocating functions cfi's: this file
 * chooses the file and assembles the plan.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "probe/plan.h"
#include "probe/cfi.h"
#include "probe/insn_x86.h"
#include "probe/syscall_scan.h"
#include "proc/elf.h"
#include "proc/files.h"
#include "proc/procinfo.h"
#include "lib/log.h"
#include "mt_abi.h"

struct kind_desc {
	enum mt_kind kind;
	const char *name;
	bool needs_return;
	bool required;
};

/* Order matters for aliases: the first kind at an address wins. */
static const struct kind_desc kinds[] = {
    {MT_KIND_MALLOC, "malloc", true, true},
    {MT_KIND_CALLOC, "calloc", true, false},
    {MT_KIND_REALLOC, "realloc", true, false},
    {MT_KIND_REALLOCARRAY, "reallocarray", true, false},
    {MT_KIND_POSIX_MEMALIGN, "posix_memalign", true, false},
    {MT_KIND_MEMALIGN, "memalign", true, false},
    {MT_KIND_ALIGNED_ALLOC, "aligned_alloc", true, false},
    {MT_KIND_VALLOC, "valloc", true, false},
    {MT_KIND_PVALLOC, "pvalloc", true, false},
    {MT_KIND_MMAP, "mmap", true, false},
    {MT_KIND_MREMAP, "mremap", true, false},
    {MT_KIND_FREE, "free", false, true},
    {MT_KIND_MUNMAP, "munmap", false, false},
    {MT_KIND_FREE_SIZED, "free_sized", false, false},
    {MT_KIND_FREE_ALIGNED_SIZED, "free_aligned_sized", false, false},
};

#define NR_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/*
 * CPython's allocator domains (--python-allocators). Same argument layouts
 * as malloc/calloc/realloc/free; a call that reaches libc underneath is
 * nested and counts once, here.
 */
static const struct kind_desc py_kinds[] = {
    {MT_KIND_MALLOC, "PyMem_RawMalloc", true, true},
    {MT_KIND_CALLOC, "PyMem_RawCalloc", true, false},
    {MT_KIND_REALLOC, "PyMem_RawRealloc", true, false},
    {MT_KIND_FREE, "PyMem_RawFree", false, true},
    {MT_KIND_MALLOC, "PyMem_Malloc", true, false},
    {MT_KIND_CALLOC, "PyMem_Calloc", true, false},
    {MT_KIND_REALLOC, "PyMem_Realloc", true, false},
    {MT_KIND_FREE, "PyMem_Free", false, false},
    {MT_KIND_MALLOC, "PyObject_Malloc", true, false},
    {MT_KIND_CALLOC, "PyObject_Calloc", true, false},
    {MT_KIND_REALLOC, "PyObject_Realloc", true, false},
    {MT_KIND_FREE, "PyObject_Free", false, false},
};

#define MAX_KINDS 32

struct elf_file {
	struct mt_elf e;
	const struct kind_desc *tab;
	size_t ntab;
	__u64 sym[MAX_KINDS];	 /* 0 = not found */
	__u64 size[MAX_KINDS];	 /* the symbol's size, 0 = unknown */
	struct mt_elf_load exec; /* the code segment; memsz 0: none */
};

static void elf_file__close(struct elf_file *f)
{
	mt_elf__close(&f->e);
}

static int elf_file__open(struct elf_file *f, int fd, const struct kind_desc *tab, size_t ntab)
{
	struct mt_elf_sym syms[MAX_KINDS];
	const struct mt_elf_load *exec;
	int err;

	memset(f, 0, sizeof(*f));
	f->tab = tab;
	f->ntab = ntab < MAX_KINDS ? ntab : MAX_KINDS;
	/* a descriptor of its own: the plan keeps fd */
	err = mt_elf__open_fd(&f->e, fcntl(fd, F_DUPFD_CLOEXEC, 0));
	if (err)
		return err;
	exec = mt_elf__exec_load(&f->e);
	if (exec)
		f->exec = *exec;
	for (size_t k = 0; k < f->ntab; k++)
		syms[k] = (struct mt_elf_sym){.name = tab[k].name};
	/* .symtab first: it also has local aliases; .dynsym fills the gaps */
	mt_elf__find_syms(&f->e, syms, f->ntab, MT_ELF_FUNC, MT_ELF_SYMTAB_FIRST);
	for (size_t k = 0; k < f->ntab; k++) {
		f->sym[k] = syms[k].value;
		f->size[k] = syms[k].size;
		if (!syms[k].found && syms[k].skipped == STT_GNU_IFUNC)
			pr_warn("%s is an IFUNC resolver: not probed", syms[k].name);
	}
	return 0;
}

/* Where to put the probe of the function at file offset func_off (see mt_insn__probe_site). */
static __u64 place_probe(int fd, enum mt_kind kind, __u64 func_off, bool *slow, __u64 *flags)
{
	unsigned char b[MT_INSN_ENTRY_BYTES];
	ssize_t n = pread(fd, b, sizeof(b), (off_t)func_off);

	return mt_insn__probe_site(b, n > 0 ? (size_t)n : 0, kind, slow, flags);
}

/* Is d an allocating function (one whose caller becomes a site)? */
static bool allocating(const struct kind_desc *d)
{
	return d->needs_return && d->kind != MT_KIND_MMAP && d->kind != MT_KIND_MREMAP;
}

/*
 * Every call from inside the library to one of its allocating functions
 * (directly or through its PLT), with the CFI rule that steps from that
 * call's return address to the function that made it.
 */
static void plan_rules(struct mt_plan *plan, struct elf_file *f, Dwarf_CFI *cfi)
{
	const char *names[MAX_KINDS];
	__u64 addrs[MAX_KINDS];
	size_t n = 0;

	for (size_t k = 0; k < f->ntab; k++) {
		if (!allocating(&f->tab[k]))
			continue;
		names[n] = f->tab[k].name;
		addrs[n++] = f->sym[k];
	}
	plan->nr_rules = mt_cfi__call_rules(&f->e, cfi, &f->exec, names, addrs, n, plan->rules,
					    MT_MAX_FRAME_RULES);
}

/*
 * Where the kernel's view of a mapped file may not be (st_dev, st_ino) of
 * the file opened here: overlayfs maps the layer's file, btrfs numbers
 * devices per subvolume. System call sites are keyed by that identity.
 */
static const char *identity_unsure(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return "its file system is unknown";
	if (sfs.f_type == 0x794c7630) /* OVERLAYFS_SUPER_MAGIC */
		return "on overlayfs the kernel maps another inode than the one seen here";
	if (sfs.f_type == 0x9123683e) /* BTRFS_SUPER_MAGIC */
		return "on btrfs the kernel names the file's device differently";
	return NULL;
}

static bool cfi_rule(void *cfi, __u64 pc, struct mt_frame_rule *rule)
{
	return mt_cfi__rule(cfi, pc, rule);
}

/*
 * The system calls in the body of p (symbol k), for the system call
 * tracepoints that replace its uprobe; false, and nothing added, when
 * there are none or one cannot be attributed (see mt_syscall_scan__sites).
 */
static bool plan_syscalls(struct mt_plan *plan, struct elf_file *f, Dwarf_CFI *cfi, size_t k,
			  const struct mt_probe *p)
{
	unsigned char b[MT_SYSCALL_BODY_MAX];
	struct mt_syscall_func fn = {
	    .kind = p->kind,
	    .vaddr = f->sym[k],
	    .offset = p->func_offset,
	    .body = b,
	    .size = f->size[k],
	};
	size_t n;

	if (!cfi || fn.size > sizeof(b) ||
	    pread(f->e.fd, b, fn.size, (off_t)fn.offset) != (ssize_t)fn.size)
		return false;
	n = mt_syscall_scan__sites(&fn, &f->exec, cfi_rule, cfi, plan->syscalls + plan->nr_syscalls,
				   MT_MAX_PLAN_SYSCALLS - plan->nr_syscalls);
	plan->nr_syscalls += n;
	return n > 0;
}

/* The plan of the file open at fd (fd is the plan's from now on, also on failure). */
static int plan_file(struct mt_plan *plan, int fd, const char *shown, const struct kind_desc *tab,
		     size_t ntab)
{
	struct elf_file f;
	Dwarf_CFI *cfi = NULL;
	int err;

	memset(plan, 0, sizeof(*plan));
	plan->fd = -1;
	if (fd < 0)
		return fd;
	plan->fd = fd;
	snprintf(plan->path, sizeof(plan->path), "/proc/self/fd/%d", fd);
	snprintf(plan->shown, sizeof(plan->shown), "%s", shown);
	err = elf_file__open(&f, fd, tab, ntab);
	if (err) {
		mt_plan__close(plan);
		return err;
	}
	plan->inode = f.e.ino;
	plan->dev = f.e.dev;
	for (size_t k = 0; k < f.ntab; k++) {
		if (!f.sym[k] && f.tab[k].required) {
			err = -ENOENT;
			goto out;
		}
	}
	if (f.exec.memsz <= MT_COOKIE_FIELD_MAX)
		cfi = dwarf_getcfi_elf(f.e.elf);
	if (tab == kinds)
		plan->syscall_note = identity_unsure(f.e.fd);
	for (size_t k = 0; k < f.ntab; k++) {
		struct mt_probe *p;
		__u64 off, seg_off = 0, seg_size = 0, where, flags;
		bool dup = false;

		if (!f.sym[k])
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= f.sym[j] == f.sym[k];
		if (dup) {
			pr_debug("%s is an alias of an already probed function", f.tab[k].name);
			continue;
		}
		if (mt_elf__offset(&f.e, f.sym[k], &off))
			continue;
		p = &plan->probes[plan->nr_probes++];
		p->kind = f.tab[k].kind;
		p->name = f.tab[k].name;
		p->func_offset = off;
		where = place_probe(f.e.fd, p->kind, off, &p->slow, &flags);
		p->offset = off + where;
		p->needs_return = f.tab[k].needs_return;
		if (f.exec.memsz && f.sym[k] >= f.exec.vaddr &&
		    f.sym[k] + where - f.exec.vaddr <= MT_COOKIE_FIELD_MAX &&
		    f.exec.memsz <= MT_COOKIE_FIELD_MAX) {
			seg_off = f.sym[k] + where - f.exec.vaddr;
			seg_size = f.exec.memsz;
		}
		p->cookie = MT_COOKIE_MAKE(p->kind, seg_off, seg_size) | flags;
		if (tab == kinds && mt_syscall_scan__by_syscall(p->kind) && !plan->syscall_note)
			p->syscall_tp = plan_syscalls(plan, &f, cfi, k, p);
	}
	if (tab == kinds && cfi)
		plan_rules(plan, &f, cfi);
out:
	if (cfi)
		dwarf_cfi_end(cfi);
	elf_file__close(&f);
	if (err)
		mt_plan__close(plan);
	return err;
}

int mt_plan__from_file(struct mt_plan *plan, const char *path)
{
	return plan_file(plan, mt_files__open(path), path ? path : "", kinds, NR_KINDS);
}

void mt_plan__close(struct mt_plan *plan)
{
	if (plan && plan->fd >= 0)
		close(plan->fd);
	if (plan)
		plan->fd = -1;
}

int mt_plan__verify(const struct mt_plan *plan)
{
	struct stat st;

	if (stat(plan->path, &st))
		return -errno;
	return st.st_dev == plan->dev && st.st_ino == plan->inode ? 0 : -ESTALE;
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl", 7);
}

int mt_plan__for_pid(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps)
{
	char path[64], exe[PATH_MAX] = "";
	ssize_t n;

	plan->fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	/*
	 * The executable first (a static binary, or one with its own malloc),
	 * then the C library by name, then any module: the first file that
	 * defines malloc and free is planned. Each file is read once.
	 */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < maps->nr_mods; i++) {
			const struct mt_module *m = &maps->mods[i];
			bool is_exe = !strcmp(m->path, exe), is_libc = is_libc_name(m->path);

			if ((pass == 0 && !is_exe) || (pass == 1 && (is_exe || !is_libc)) ||
			    (pass == 2 && (is_exe || is_libc)))
				continue;
			/* the mapped file (device and inode), kept open from here on */
			if (plan_file(
				plan,
				mt_files__open_module(pid, maps, m, NULL, MT_FILES_SAME, NULL, 0),
				m->path, kinds, NR_KINDS))
				continue;
			plan->exec_start = m->exec_start;
			plan->exec_end = m->exec_end;
			plan->exec_offset = m->exec_offset;
			return 0;
		}
	}
	return mt_proc__exited(pid) ? -ESRCH : -ENOENT;
}

void mt_plan__no_syscall_tps(struct mt_plan *plan)
{
	for (size_t i = 0; i < plan->nr_probes; i++)
		plan->probes[i].syscall_tp = false;
	plan->nr_syscalls = 0;
}

void mt_plan__log(const struct mt_plan *plan)
{
	pr_info("probing %s (%zu functions; %zu calls to them from inside it stepped over "
		"with CFI)",
		plan->shown, plan->nr_probes, plan->nr_rules);
	if (plan->syscall_note)
		pr_info("  mmap, munmap, mremap keep uprobes, not system call tracepoints: %s",
			plan->syscall_note);
	for (size_t i = 0; i < plan->nr_probes; i++) {
		const struct mt_probe *p = &plan->probes[i];

		if (p->syscall_tp) {
			pr_info("  %-18s syscall tracepoint  no trap", p->name);
			continue;
		}

		pr_info("  %-18s at 0x%llx%s  %s", p->name, (unsigned long long)p->offset,
			p->offset != p->func_offset ? " (moved past a single-stepped entry)" : "",
			p->slow ? "single-stepped: ~10 us per call on VMs"
				: "emulated: ~0.7 us per call");
	}
}

/* Does the build inline pymalloc at its call sites (mt_insn__pymalloc_inlined)? */
static bool pymalloc_inlined(int fd)
{
	static const struct kind_desc obj[] = {
	    {MT_KIND_MALLOC, "PyObject_Malloc", true, true},
	};
	struct elf_file f;
	unsigned char b[48];
	bool inlined = false;
	__u64 off;

	if (elf_file__open(&f, fd, obj, 1))
		return false;
	if (f.sym[0] && !mt_elf__offset(&f.e, f.sym[0], &off) &&
	    pread(f.e.fd, b, sizeof(b), (off_t)off) == (ssize_t)sizeof(b))
		inlined = mt_insn__pymalloc_inlined(b, sizeof(b));
	elf_file__close(&f);
	return inlined;
}

int mt_plan__python(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps, __u64 runtime,
		    bool *inlined)
{
	const struct mt_module *mod = mt_maps__find(maps, runtime);
	int err;

	*inlined = false;
	plan->fd = -1;
	if (!mod)
		return -ENOENT;
	err = plan_file(plan, mt_files__open_module(pid, maps, mod, NULL, MT_FILES_SAME, NULL, 0),
			mod->path, py_kinds, sizeof(py_kinds) / sizeof(py_kinds[0]));
	if (err)
		return err;
	*inlined = pymalloc_inlined(plan->fd);
	return 0;
}
