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
#include "probe/binding.h"
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

/* operator new and new[]: size first, as malloc (sized, aligned, nothrow) */
#define CXX_NEW(required)                                                                  \
	{MT_KIND_MALLOC, "_Znwm", true, required}, {MT_KIND_MALLOC, "_Znam", true, false}, \
	    {MT_KIND_MALLOC, "_ZnwmRKSt9nothrow_t", true, false},                          \
	    {MT_KIND_MALLOC, "_ZnamRKSt9nothrow_t", true, false},                          \
	    {MT_KIND_MALLOC, "_ZnwmSt11align_val_t", true, false},                         \
	    {MT_KIND_MALLOC, "_ZnamSt11align_val_t", true, false},                         \
	    {MT_KIND_MALLOC, "_ZnwmSt11align_val_tRKSt9nothrow_t", true, false},           \
	{                                                                                  \
		MT_KIND_MALLOC, "_ZnamSt11align_val_tRKSt9nothrow_t", true, false          \
	}

/*
 * The allocator malloc and free bind to: the C library's functions, the
 * extended APIs of jemalloc, tcmalloc (gperftools) and mimalloc, and the
 * operator new and delete an allocator defines itself (each of them
 * does). Order matters for aliases: the first kind at an address wins.
 */
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
    /* operator new and delete of the allocator itself (before tcmalloc's aliases of them) */
    CXX_NEW(false),
    {MT_KIND_FREE, "_ZdlPv", false, false},
    {MT_KIND_FREE, "_ZdaPv", false, false},
    {MT_KIND_FREE, "_ZdlPvm", false, false},
    {MT_KIND_FREE, "_ZdaPvm", false, false},
    {MT_KIND_FREE, "_ZdlPvSt11align_val_t", false, false},
    {MT_KIND_FREE, "_ZdaPvSt11align_val_t", false, false},
    {MT_KIND_FREE, "_ZdlPvmSt11align_val_t", false, false},
    {MT_KIND_FREE, "_ZdaPvmSt11align_val_t", false, false},
    {MT_KIND_FREE, "_ZdlPvRKSt9nothrow_t", false, false},
    {MT_KIND_FREE, "_ZdaPvRKSt9nothrow_t", false, false},
    /*
     * jemalloc: mallocx(size, flags), rallocx(ptr, size, flags),
     * xallocx(ptr, size, extra, flags) (in place), [s]dallocx(ptr, ...)
     */
    {MT_KIND_MALLOC, "mallocx", true, false},
    {MT_KIND_REALLOC, "rallocx", true, false},
    {MT_KIND_XALLOCX, "xallocx", true, false},
    {MT_KIND_FREE, "sdallocx", false, false},
    {MT_KIND_FREE, "dallocx", false, false},
    /* tcmalloc: tc_* (most are aliases of the standard names) */
    {MT_KIND_MALLOC, "tc_malloc", true, false},
    {MT_KIND_MALLOC, "tc_malloc_skip_new_handler", true, false},
    {MT_KIND_CALLOC, "tc_calloc", true, false},
    {MT_KIND_REALLOC, "tc_realloc", true, false},
    {MT_KIND_MEMALIGN, "tc_memalign", true, false},
    {MT_KIND_POSIX_MEMALIGN, "tc_posix_memalign", true, false},
    {MT_KIND_VALLOC, "tc_valloc", true, false},
    {MT_KIND_PVALLOC, "tc_pvalloc", true, false},
    {MT_KIND_MALLOC, "tc_new", true, false},
    {MT_KIND_MALLOC, "tc_newarray", true, false},
    {MT_KIND_MALLOC, "tc_new_nothrow", true, false},
    {MT_KIND_MALLOC, "tc_newarray_nothrow", true, false},
    {MT_KIND_FREE, "tc_free", false, false},
    {MT_KIND_FREE, "tc_cfree", false, false},
    {MT_KIND_FREE, "tc_free_sized", false, false},
    {MT_KIND_FREE, "tc_delete", false, false},
    {MT_KIND_FREE, "tc_deletearray", false, false},
    {MT_KIND_FREE, "tc_delete_sized", false, false},
    {MT_KIND_FREE, "tc_deletearray_sized", false, false},
    /* mimalloc: mi_* (the aligned ones take the size first) */
    {MT_KIND_MALLOC, "mi_malloc", true, false},
    {MT_KIND_MALLOC, "mi_zalloc", true, false},
    {MT_KIND_CALLOC, "mi_calloc", true, false},
    {MT_KIND_REALLOC, "mi_realloc", true, false},
    {MT_KIND_MALLOC, "mi_malloc_aligned", true, false},
    {MT_KIND_MALLOC, "mi_zalloc_aligned", true, false},
    {MT_KIND_REALLOC, "mi_realloc_aligned", true, false},
    {MT_KIND_MALLOC, "mi_new", true, false},
    {MT_KIND_MALLOC, "mi_new_aligned", true, false},
    {MT_KIND_MALLOC, "mi_new_nothrow", true, false},
    {MT_KIND_FREE, "mi_free", false, false},
    {MT_KIND_FREE, "mi_free_size", false, false},
    {MT_KIND_FREE, "mi_free_aligned", false, false},
    {MT_KIND_FREE, "mi_free_size_aligned", false, false},
};

/*
 * operator new of the C++ runtime (libstdc++, libc++) when it, not the
 * allocator, defines the one the program binds to. Its operator delete
 * only calls free, which is probed: not probed again here (twice would
 * count each free twice).
 */
static const struct kind_desc cxx_kinds[] = {CXX_NEW(true)};

/*
 * GLib's allocation functions: each calls malloc or realloc underneath
 * (nested: counted once, at g_malloc's caller). g_free only calls free.
 */
static const struct kind_desc glib_kinds[] = {
    {MT_KIND_MALLOC, "g_malloc", true, true},
    {MT_KIND_MALLOC, "g_malloc0", true, false},
    {MT_KIND_MALLOC, "g_try_malloc", true, false},
    {MT_KIND_MALLOC, "g_try_malloc0", true, false},
    {MT_KIND_CALLOC, "g_malloc_n", true, false},
    {MT_KIND_CALLOC, "g_malloc0_n", true, false},
    {MT_KIND_CALLOC, "g_try_malloc_n", true, false},
    {MT_KIND_CALLOC, "g_try_malloc0_n", true, false},
    {MT_KIND_REALLOC, "g_realloc", true, false},
    {MT_KIND_REALLOC, "g_try_realloc", true, false},
    {MT_KIND_REALLOCARRAY, "g_realloc_n", true, false},
    {MT_KIND_REALLOCARRAY, "g_try_realloc_n", true, false},
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

#define MAX_KINDS 96

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

/* Is vaddr in one of the file's PLT sections? */
static bool in_plt(const struct mt_elf *e, __u64 vaddr)
{
	static const char *const plts[] = {".plt", ".plt.sec", ".plt.got"};
	GElf_Shdr sh;

	for (size_t i = 0; i < sizeof(plts) / sizeof(plts[0]); i++)
		if (!mt_elf__section(e, plts[i], &sh) && vaddr >= sh.sh_addr &&
		    vaddr - sh.sh_addr < sh.sh_size)
			return true;
	return false;
}

/*
 * Does function k (at file offset off) only hand its call on to another
 * function, one probed here or one reached through the PLT? Either it
 * jumps there (jemalloc's operator delete is `jmp free@plt`, libstdc++'s
 * operator new[] `jmp operator new@plt`): that probe sees the call with
 * the same return address at [SP]; or it calls it right away after making
 * room on the stack (libstdc++'s nothrow operator new: `sub $8,%rsp; call
 * operator new@plt`) and step (the plan, with the CFI rules of calls made
 * inside the file) steps out of that call: that probe sees it, its return
 * address is stepped over, and this entry, whose first instruction writes
 * %rsp, would be single-stepped. A probe here would cost a trap more, or count
 * a free twice.
 */
static bool forwards(const struct elf_file *f, size_t k, __u64 off, const struct mt_plan *step)
{
	unsigned char b[16];
	size_t at = 0, len;
	__u64 target;

	if (pread(f->e.fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b))
		return false;
	if (!memcmp(b, "\xf3\x0f\x1e\xfa", 4))
		at = 4; /* endbr64 */
	if (step && !memcmp(b + at, "\x48\x83\xec", 3) && b[at + 4] == 0xe8) {
		/* sub $imm8,%rsp; call rel32: only with the rule that steps out of it */
		__u64 ret = f->sym[k] + at + 4 + 5;
		bool ruled = false;

		for (size_t i = 0; i < step->nr_rules; i++)
			ruled |= step->rules[i].key.off == ret - f->exec.vaddr &&
				 step->rules[i].key.seg_size == f->exec.memsz;
		if (!ruled)
			return false;
		at += 4;
	} else {
		step = NULL;
	}
	if (b[at] == 0xe9 || step)
		len = 5, target = (__u64)(__s64)mt_insn__rel32(b + at + 1);
	else if (b[at] == 0xeb)
		len = 2, target = (__u64)(__s64)(signed char)b[at + 1];
	else
		return false;
	target += f->sym[k] + at + len;
	for (size_t j = 0; j < f->ntab; j++)
		if (j != k && f->sym[j] == target)
			return true;
	return in_plt(&f->e, target);
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
	/* first: a function that only calls another is left to it when a rule steps out */
	if (tab != py_kinds && cfi)
		plan_rules(plan, &f, cfi);
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
		if (forwards(&f, k, off, plan)) {
			pr_debug(
			    "%s only hands its calls on to another probed function: not probed",
			    f.tab[k].name);
			continue;
		}
		if (plan->nr_probes == MT_MAX_PLAN_PROBES)
			break;
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
		/* every free but free itself may pass the block on to free */
		if ((p->kind == MT_KIND_FREE || p->kind == MT_KIND_FREE_SIZED ||
		     p->kind == MT_KIND_FREE_ALIGNED_SIZED) &&
		    strcmp(p->name, "free"))
			p->cookie |= MT_COOKIE_HANDS_ON;
		if (tab == kinds && mt_syscall_scan__by_syscall(p->kind) && !plan->syscall_note)
			p->syscall_tp = plan_syscalls(plan, &f, cfi, k, p);
	}
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

/*
 * Read at most size - 1 bytes of a small file (NUL-terminated); returns
 * how many were read (0 when it cannot be read).
 */
static size_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	return n > 0 ? (size_t)n : 0;
}

/*
 * The objects the dynamic linker preloads for pid: LD_PRELOAD from its
 * environment, then /etc/ld.so.preload in its root, space-separated.
 */
static void preload_of(pid_t pid, char *out, size_t size)
{
	char path[64], *env = malloc(MT_PLAN_ENV_MAX);
	size_t used = 0;

	out[0] = 0;
	if (env) {
		size_t len;

		snprintf(path, sizeof(path), "/proc/%d/environ", pid);
		len = read_small(path, env, MT_PLAN_ENV_MAX);
		/* NUL-separated, and NUL-terminated at len: never past it */
		for (char *v = env; v < env + len; v += strlen(v) + 1) {
			if (!strncmp(v, "LD_PRELOAD=", 11)) {
				snprintf(out, size, "%s ", v + 11);
				break;
			}
		}
		free(env);
	}
	used = strlen(out);
	snprintf(path, sizeof(path), "/proc/%d/root/etc/ld.so.preload", pid);
	read_small(path, out + used, size - used);
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
}

/* A module's DT_SONAME and DT_NEEDED names (struct mt_bind_mod's storage). */
struct bind_names {
	char soname[256];
	char needed[4096];
};

/*
 * The modules of pid in the dynamic linker's lookup order (probe/binding.h)
 * into order[0..maps->nr_mods); *complete: every library needed is mapped.
 */
static int lookup_order(pid_t pid, const struct mt_maps *maps, size_t *order, bool *complete)
{
	struct mt_bind_mod *mods = calloc(maps->nr_mods + 1, sizeof(*mods));
	struct bind_names *names = calloc(maps->nr_mods + 1, sizeof(*names));
	char path[64], exe[PATH_MAX] = "", preload[1024];
	size_t scope;
	ssize_t n;

	if (!mods || !names) {
		free(mods);
		free(names);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	preload_of(pid, preload, sizeof(preload));
	for (size_t i = 0; i < maps->nr_mods; i++) {
		const struct mt_module *m = &maps->mods[i];
		struct mt_elf e;

		mods[i].path = m->path;
		mods[i].soname = names[i].soname;
		mods[i].needed = names[i].needed;
		mods[i].is_exe = !strcmp(m->path, exe);
		if (!mt_elf__open_fd(
			&e, mt_files__open_module(pid, maps, m, NULL, MT_FILES_SAME, NULL, 0))) {
			mods[i].nr_needed =
			    mt_elf__needed(&e, names[i].soname, sizeof(names[i].soname),
					   names[i].needed, sizeof(names[i].needed));
			mt_elf__close(&e);
		}
	}
	scope = mt_bind__order(mods, maps->nr_mods, preload, order, complete);
	/* ld.so maps a library's code right after its first segment: wait for it */
	for (size_t i = 0; i < scope; i++)
		if (maps->mods[order[i]].exec_end <= maps->mods[order[i]].exec_start)
			*complete = false;
	free(mods);
	free(names);
	return 0;
}

/* Plan module m of pid with tab. */
static int plan_module(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps,
		       const struct mt_module *m, const struct kind_desc *tab, size_t ntab)
{
	int err;

	/* the mapped file (device and inode), kept open from here on */
	err = plan_file(plan, mt_files__open_module(pid, maps, m, NULL, MT_FILES_SAME, NULL, 0),
			m->path, tab, ntab);
	if (err)
		return err;
	plan->exec_start = m->exec_start;
	plan->exec_end = m->exec_end;
	plan->exec_offset = m->exec_offset;
	return 0;
}

/* Plan the first module in lookup order that defines tab's required functions. */
static int plan_bound(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps,
		      const size_t *order, const struct kind_desc *tab, size_t ntab)
{
	plan->fd = -1;
	for (size_t i = 0; i < maps->nr_mods; i++)
		if (!plan_module(plan, pid, maps, &maps->mods[order[i]], tab, ntab))
			return 0;
	return mt_proc__exited(pid) ? -ESRCH : -ENOENT;
}

int mt_plan__for_pid(struct mt_plan *plan, pid_t pid, const struct mt_maps *maps)
{
	size_t *order = calloc(maps->nr_mods + 1, sizeof(*order));
	bool complete;
	int err;

	plan->fd = -1;
	err = order ? lookup_order(pid, maps, order, &complete) : -ENOMEM;
	if (!err)
		err = plan_bound(plan, pid, maps, order, kinds, NR_KINDS);
	free(order);
	return err;
}

static bool same_file(const struct mt_plan *plans, size_t nr, const struct mt_plan *p)
{
	for (size_t i = 0; i < nr; i++)
		if (plans[i].inode == p->inode && plans[i].dev == p->dev)
			return true;
	return false;
}

/*
 * --prefix: jemalloc's API under prefixed names (its --with-jemalloc-prefix
 * builds, linked next to another malloc). Built once; the names live as
 * long as the program, as the plans' names must.
 */
static const struct kind_desc je_api[] = {
    {MT_KIND_MALLOC, "malloc", true, true},
    {MT_KIND_CALLOC, "calloc", true, false},
    {MT_KIND_REALLOC, "realloc", true, false},
    {MT_KIND_POSIX_MEMALIGN, "posix_memalign", true, false},
    {MT_KIND_ALIGNED_ALLOC, "aligned_alloc", true, false},
    {MT_KIND_MEMALIGN, "memalign", true, false},
    {MT_KIND_VALLOC, "valloc", true, false},
    {MT_KIND_MALLOC, "mallocx", true, false},
    {MT_KIND_REALLOC, "rallocx", true, false},
    {MT_KIND_XALLOCX, "xallocx", true, false},
    {MT_KIND_FREE, "free", false, true},
    {MT_KIND_FREE, "sdallocx", false, false},
    {MT_KIND_FREE, "dallocx", false, false},
};

#define NR_JE (sizeof(je_api) / sizeof(je_api[0]))

static struct kind_desc prefixed[NR_JE];
static char prefixed_names[NR_JE][64];
static size_t nr_prefixed;

int mt_plan__set_prefix(const char *prefix)
{
	nr_prefixed = 0;
	if (!prefix || !*prefix)
		return 0;
	if (strlen(prefix) > 32)
		return -EINVAL;
	for (size_t i = 0; i < NR_JE; i++) {
		snprintf(prefixed_names[i], sizeof(prefixed_names[i]), "%s%s", prefix,
			 je_api[i].name);
		prefixed[i] = je_api[i];
		prefixed[i].name = prefixed_names[i];
	}
	nr_prefixed = NR_JE;
	return 0;
}

int mt_plan__process(struct mt_plan *plans, size_t max, pid_t pid, const struct mt_maps *maps,
		     bool wait)
{
	const struct {
		const struct kind_desc *tab;
		size_t n;
	} more[] = {
	    {cxx_kinds, sizeof(cxx_kinds) / sizeof(cxx_kinds[0])},
	    {glib_kinds, sizeof(glib_kinds) / sizeof(glib_kinds[0])},
	    {prefixed, nr_prefixed},
	};
	size_t *order = calloc(maps->nr_mods + 1, sizeof(*order)), nr = 0;
	bool complete = true;
	int err;

	for (size_t i = 0; i < max; i++)
		plans[i].fd = -1;
	err = order ? lookup_order(pid, maps, order, &complete) : -ENOMEM;
	if (!err && wait && !complete)
		err = -EAGAIN;
	if (!err && max)
		err = plan_bound(&plans[nr], pid, maps, order, kinds, NR_KINDS);
	if (err)
		goto out;
	nr++;
	/* the C library when another allocator is bound: its mmap & co */
	for (size_t i = 0; i < maps->nr_mods && nr < max && !is_libc_name(plans[0].shown); i++) {
		if (!is_libc_name(maps->mods[i].path) ||
		    plan_module(&plans[nr], pid, maps, &maps->mods[i], kinds, NR_KINDS))
			continue;
		nr++;
		break;
	}
	for (size_t k = 0; k < sizeof(more) / sizeof(more[0]) && nr < max; k++) {
		if (!more[k].n || plan_bound(&plans[nr], pid, maps, order, more[k].tab, more[k].n))
			continue;
		if (same_file(plans, nr, &plans[nr]))
			mt_plan__close(&plans[nr]); /* the allocator's own operator new */
		else
			nr++;
	}
out:
	free(order);
	return err ? err : (int)nr;
}

void mt_plan__no_syscall_tps(struct mt_plan *plan)
{
	for (size_t i = 0; i < plan->nr_probes; i++)
		plan->probes[i].syscall_tp = false;
	plan->nr_syscalls = 0;
}

/* A probe hit's cost measured at start (mt_plan__set_costs), microseconds; < 0 unknown. */
static double cost_emulated = -1, cost_stepped = -1;

void mt_plan__set_costs(double emulated_us, double stepped_us)
{
	cost_emulated = emulated_us;
	cost_stepped = stepped_us;
}

bool mt_plan__costs(double *emulated_us, double *stepped_us)
{
	if (cost_emulated < 0 || cost_stepped < 0)
		return false;
	*emulated_us = cost_emulated;
	*stepped_us = cost_stepped;
	return true;
}

void mt_plan__log(const struct mt_plan *plan)
{
	char emulated[48] = "emulated: one trap per call",
	     stepped[96] = "single-stepped: a second exception per call, several times the cost "
			   "of an emulated probe";

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
		if (cost_emulated >= 0) {
			snprintf(emulated, sizeof(emulated), "emulated: ~%.1f us per call",
				 cost_emulated);
			snprintf(stepped, sizeof(stepped),
				 "single-stepped: ~%.1f us per call (measured here)", cost_stepped);
		}

		pr_info("  %-18s at 0x%llx%s  %s", p->name, (unsigned long long)p->offset,
			p->offset != p->func_offset ? " (moved past a single-stepped entry)" : "",
			p->slow ? stepped : emulated);
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
