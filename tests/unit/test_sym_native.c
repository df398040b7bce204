// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sym_native: resolves addresses of this very binary (built with -g) at
 * known lines, of libc (libc6-dbg), of a stripped library (libz), of a
 * process that has exited, and of hostile files.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "symbolize/sym_native.h"
#include "test.h"

/* ---- call sites at known lines ---- */

static const int where_line = __LINE__ + 1;
static __attribute__((noinline)) void *sym_test_where(void)
{
	void *ra = __builtin_return_address(0);

	asm volatile("" : "+r"(ra));
	return ra;
}
static const int where_end_line = __LINE__ - 1;

static __attribute__((noinline)) void *sym_test_direct(int *line)
{
	void *ra;

	*line = __LINE__ + 1;
	ra = sym_test_where();
	asm volatile("" : "+r"(ra)); /* no tail call */
	return ra;
}

static inline __attribute__((always_inline)) void *sym_test_inlined(int *line)
{
	void *ra;

	*line = __LINE__ + 1;
	ra = sym_test_where();
	asm volatile("" : "+r"(ra));
	return ra;
}

static __attribute__((noinline)) void *sym_test_outer(int *inl_line, int *call_line)
{
	void *ra;

	*call_line = __LINE__ + 1;
	ra = sym_test_inlined(inl_line);
	asm volatile("" : "+r"(ra));
	return ra;
}

/* ---- helpers ---- */

/* above PID_MAX_LIMIT: no /proc/PID to fall back on */
#define NO_PID 99999999

static const char *base_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static bool self_exe_base(char *buf, size_t sz)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = 0;
	if (strlen(base_of(exe)) >= sz)
		return false;
	strcpy(buf, base_of(exe));
	return true;
}

static bool check_frame(const struct mt_frame *f, const char *function, const char *file_base,
			int line, const char *module, __u64 addr, bool inlined)
{
	return ASSERT_STREQ(f->function, function, "function") &&
	       ASSERT_STREQ(base_of(f->file), file_base, "file") &&
	       ASSERT_EQ(f->line, line, "line") && ASSERT_STREQ(f->module, module, "module") &&
	       ASSERT_EQ(f->addr, addr, "addr") && ASSERT_EQ(f->inlined, inlined, "inlined") &&
	       ASSERT_EQ(f->kind, MT_FRAME_NATIVE, "kind");
}

/* Resolve the known call sites of this file in pid and check every frame. */
static void check_known_lines(struct mt_sym_native *s, pid_t pid, const char *exe, __u64 direct,
			      int direct_line, __u64 inl, int inl_line, int call_line)
{
	struct mt_frame f[8];
	int n;

	n = mt_sym_native__resolve(s, pid, direct, true, f, 8);
	if (ASSERT_EQ(n, 1, "direct: frames"))
		check_frame(&f[0], "sym_test_direct", "test_sym_native.c", direct_line, exe, direct,
			    false);

	n = mt_sym_native__resolve(s, pid, inl, true, f, 8);
	if (ASSERT_EQ(n, 2, "inlined: frames")) {
		check_frame(&f[0], "sym_test_inlined", "test_sym_native.c", inl_line, exe, inl,
			    true);
		check_frame(&f[1], "sym_test_outer", "test_sym_native.c", call_line, exe, inl,
			    false);
	}

	/* max bounds the frames written: the innermost come first */
	n = mt_sym_native__resolve(s, pid, inl, true, f, 1);
	if (ASSERT_EQ(n, 1, "inlined, max 1: frames"))
		check_frame(&f[0], "sym_test_inlined", "test_sym_native.c", inl_line, exe, inl,
			    true);
}

/* ---- tests ---- */

MT_TEST(sym_native_self)
{
	int direct_line, inl_line, call_line;
	__u64 direct, inl;
	struct mt_sym_native *s;
	struct mt_frame f[4];
	char exe[NAME_MAX + 1];
	int n;

	direct = (__u64)(unsigned long)sym_test_direct(&direct_line);
	inl = (__u64)(unsigned long)sym_test_outer(&inl_line, &call_line);
	if (!ASSERT_TRUE(self_exe_base(exe, sizeof(exe)), "exe name"))
		return;
	s = mt_sym_native__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	if (!ASSERT_OK(mt_sym_native__add_pid(s, getpid()), "add_pid self"))
		goto out;
	check_known_lines(s, getpid(), exe, direct, direct_line, inl, inl_line, call_line);
	/* second time from the cache: same answers */
	check_known_lines(s, getpid(), exe, direct, direct_line, inl, inl_line, call_line);

	/* a function's own address, not a return address */
	n = mt_sym_native__resolve(s, getpid(), (__u64)(unsigned long)&sym_test_where, false, f, 4);
	if (ASSERT_EQ(n, 1, "function address: frames")) {
		ASSERT_STREQ(f[0].function, "sym_test_where", "function address: function");
		ASSERT_STREQ(base_of(f[0].file), "test_sym_native.c", "function address: file");
		/*
		 * The entry has rows for the declaration, the brace and the first
		 * statement with code; which one comes back depends on the compiler.
		 */
		ASSERT_TRUE(f[0].line >= where_line && f[0].line <= where_end_line,
			    "function address: line inside sym_test_where");
	}
	ASSERT_STREQ(mt_sym_native__module(s, getpid(), direct), exe, "module()");
out:
	mt_sym_native__free(s);
}

MT_TEST(sym_native_libc)
{
	struct mt_sym_native *s;
	struct mt_frame f[8];
	void *libc, *fn;
	__u64 addr;
	int n;

	/* libc's malloc itself, not an interposer (e.g. ASan's) */
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!ASSERT_TRUE(libc != NULL, "dlopen libc.so.6"))
		return;
	fn = dlsym(libc, "malloc");
	dlclose(libc);
	if (!ASSERT_TRUE(fn != NULL, "dlsym malloc"))
		return;
	addr = (__u64)(unsigned long)fn;
	s = mt_sym_native__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	if (!ASSERT_OK(mt_sym_native__add_pid(s, getpid()), "add_pid self"))
		goto out;
	n = mt_sym_native__resolve(s, getpid(), addr, false, f, 8);
	if (!ASSERT_EQ(n, 1, "malloc: frames"))
		goto out;
	ASSERT_STREQ(f[0].module, "libc.so.6", "malloc: module");
	ASSERT_TRUE(f[0].function && (!strcmp(f[0].function, "malloc") ||
				      !strcmp(f[0].function, "__libc_malloc")),
		    "malloc: function is malloc or __libc_malloc");
	ASSERT_STREQ(base_of(f[0].file), "malloc.c", "malloc: file from libc6-dbg");
	ASSERT_TRUE(f[0].line > 0, "malloc: line");
	ASSERT_FALSE(f[0].inlined, "malloc: not inlined");
	ASSERT_EQ(f[0].addr, addr, "malloc: addr");
	/* the build-id, checked against the name libc6-dbg gives its debug file */
	if (ASSERT_TRUE(f[0].build_id && strlen(f[0].build_id) == 40, "malloc: build-id")) {
		char dbg[128];

		snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", f[0].build_id,
			 f[0].build_id + 2);
		ASSERT_OK(access(dbg, R_OK), dbg);
	}
out:
	mt_sym_native__free(s);
}

MT_TEST(sym_native_stripped)
{
	struct mt_sym_native *s;
	struct mt_frame f[4];
	void *z, *fn;
	int n;

	/* Debian's libz has no .symtab and no installed debug file: .dynsym only */
	z = dlopen("libz.so.1", RTLD_NOW);
	if (!ASSERT_TRUE(z != NULL, "dlopen libz.so.1"))
		return;
	fn = dlsym(z, "zlibVersion");
	s = mt_sym_native__new();
	if (!ASSERT_TRUE(fn != NULL && s != NULL, "dlsym, new"))
		goto out;
	if (!ASSERT_OK(mt_sym_native__add_pid(s, getpid()), "add_pid self"))
		goto out;
	n = mt_sym_native__resolve(s, getpid(), (__u64)(unsigned long)fn + 2, false, f, 4);
	if (ASSERT_EQ(n, 1, "zlibVersion: frames"))
		check_frame(&f[0], "zlibVersion", NULL, 0, "libz.so.1.2.13",
			    (__u64)(unsigned long)fn + 2, false);
out:
	mt_sym_native__free(s);
	dlclose(z);
}

MT_TEST(sym_native_exited)
{
	int direct_line, inl_line, call_line, status;
	__u64 direct, inl;
	struct mt_sym_native *s;
	char exe[NAME_MAX + 1];
	pid_t pid;

	direct = (__u64)(unsigned long)sym_test_direct(&direct_line);
	inl = (__u64)(unsigned long)sym_test_outer(&inl_line, &call_line);
	if (!ASSERT_TRUE(self_exe_base(exe, sizeof(exe)), "exe name"))
		return;
	s = mt_sym_native__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	if (!ASSERT_TRUE(pid > 0, "fork"))
		goto out;
	/* a fork: same mappings, so our addresses are the child's */
	ASSERT_OK(mt_sym_native__add_pid(s, pid), "add_pid child");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ASSERT_EQ(mt_sym_native__add_pid(s, pid), -ESRCH, "add_pid reaped child");
	/* /proc/PID is gone: only the files opened by add_pid remain */
	check_known_lines(s, pid, exe, direct, direct_line, inl, inl_line, call_line);
	ASSERT_STREQ(mt_sym_native__module(s, pid, direct), exe, "module() of exited pid");

	mt_sym_native__forget_pid(s, pid);
	ASSERT_TRUE(mt_sym_native__module(s, pid, direct) == NULL, "forgotten pid");
out:
	mt_sym_native__free(s);
}

MT_TEST(sym_native_unknown)
{
	struct mt_sym_native *s;
	struct mt_frame f[4];
	int n;

	s = mt_sym_native__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	/* a pid never added */
	n = mt_sym_native__resolve(s, getpid(), 0x1234, false, f, 4);
	if (ASSERT_EQ(n, 1, "unknown pid: frames"))
		check_frame(&f[0], NULL, NULL, 0, NULL, 0x1234, false);
	if (!ASSERT_OK(mt_sym_native__add_pid(s, getpid()), "add_pid self"))
		goto out;
	n = mt_sym_native__resolve(s, getpid(), 0x1, true, f, 4);
	if (ASSERT_EQ(n, 1, "0x1: frames"))
		check_frame(&f[0], NULL, NULL, 0, NULL, 0x1, false);
	/* the heap is no module */
	void *p = malloc(16);
	n = mt_sym_native__resolve(s, getpid(), (__u64)(unsigned long)p, false, f, 4);
	free(p);
	if (ASSERT_EQ(n, 1, "heap: frames"))
		ASSERT_TRUE(f[0].module == NULL && f[0].function == NULL, "heap: nothing");
	ASSERT_TRUE(mt_sym_native__module(s, getpid(), 0x1) == NULL, "module() of 0x1");
	ASSERT_EQ(mt_sym_native__resolve(s, getpid(), 0x1, false, f, 0), -EINVAL, "max 0");
	ASSERT_EQ(mt_sym_native__resolve(s, getpid(), 0x1, false, NULL, 4), -EINVAL, "no frames");
	ASSERT_EQ(mt_sym_native__add_pid(s, -1), -EINVAL, "pid -1");
out:
	mt_sym_native__free(s);
	mt_sym_native__free(NULL);
	mt_sym_native__forget_pid(NULL, 1);
}

/* Copy the first len bytes of src to dst (len 0: all). */
static bool copy_file(const char *src, const char *dst, off_t len)
{
	char buf[65536];
	int in, out;
	ssize_t n;
	off_t done = 0;
	bool ok = false;

	in = open(src, O_RDONLY);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (len && done + n > len)
			n = len - done;
		if (write(out, buf, n) != n)
			goto out;
		done += n;
		if (len && done >= len)
			break;
	}
	ok = n >= 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok;
}

/* Symbolize through a hand-made maps snapshot naming file path, mapped r-x at 0x10000000. */
static int resolve_in_file(const char *path, struct mt_frame *f, int max)
{
	struct mt_module mod = {0};
	struct mt_map map = {0};
	struct mt_maps maps = {0};
	struct mt_sym_native *s;
	struct stat st;
	int n;

	if (stat(path, &st))
		return -errno;
	map.start = mod.start = mod.exec_start = 0x10000000;
	map.end = mod.end = mod.exec_end = 0x10020000;
	map.prot = PROT_READ | PROT_EXEC;
	map.dev = mod.dev = st.st_dev;
	map.inode = mod.inode = st.st_ino;
	map.path = mod.path = (char *)path;
	maps.maps = &map;
	maps.nr_maps = 1;
	maps.mods = &mod;
	maps.nr_mods = 1;
	s = mt_sym_native__new();
	if (!s)
		return -ENOMEM;
	n = mt_sym_native__add_maps(s, NO_PID, &maps, "");
	if (!n)
		n = mt_sym_native__resolve(s, NO_PID, 0x10000100, true, f, max);
	/* strings die with s: keep only what the caller checks */
	for (int i = 0; n > 0 && i < n; i++)
		f[i].function = f[i].file = f[i].module = NULL;
	mt_sym_native__free(s);
	return n;
}

MT_TEST(sym_native_hostile)
{
	char dir[] = "/tmp/mt-sym-XXXXXX", path[PATH_MAX], exe[PATH_MAX];
	struct mt_frame f[8];
	ssize_t len;
	int fd, n;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!ASSERT_TRUE(len > 0, "readlink"))
		goto out;
	exe[len] = 0;

	/* truncated copies of this binary: headers only, then half of it */
	snprintf(path, sizeof(path), "%s/trunc-64", dir);
	if (ASSERT_TRUE(copy_file(exe, path, 64), "copy 64 bytes")) {
		n = resolve_in_file(path, f, 8);
		ASSERT_EQ(n, 1, "truncated to 64 bytes: one frame");
	}
	snprintf(path, sizeof(path), "%s/trunc-4k", dir);
	if (ASSERT_TRUE(copy_file(exe, path, 4096), "copy 4 KiB")) {
		n = resolve_in_file(path, f, 8);
		ASSERT_TRUE(n >= 1 && n <= 8, "truncated to 4 KiB: frames");
	}
	snprintf(path, sizeof(path), "%s/trunc-half", dir);
	{
		struct stat st;

		if (ASSERT_OK(stat(exe, &st), "stat exe") &&
		    ASSERT_TRUE(copy_file(exe, path, st.st_size / 2), "copy half")) {
			n = resolve_in_file(path, f, 8);
			ASSERT_TRUE(n >= 1 && n <= 8, "truncated to half: frames");
		}
	}
	/* not an ELF file at all */
	snprintf(path, sizeof(path), "%s/text", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ASSERT_TRUE(fd >= 0, "create text file")) {
		ASSERT_EQ(write(fd, "hello\n", 6), 6, "write");
		close(fd);
		ASSERT_EQ(resolve_in_file(path, f, 8), 1, "text file: one frame");
	}
	/* an empty file */
	snprintf(path, sizeof(path), "%s/empty", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ASSERT_TRUE(fd >= 0, "create empty file")) {
		close(fd);
		ASSERT_EQ(resolve_in_file(path, f, 8), 1, "empty file: one frame");
	}
	/* a file that is gone: one frame, module only */
	snprintf(path, sizeof(path), "%s/nosuch", dir);
	{
		struct mt_module mod = {.path = path, .start = 0x1000, .end = 0x2000};
		struct mt_maps maps = {.mods = &mod, .nr_mods = 1};
		struct mt_sym_native *s = mt_sym_native__new();

		mod.exec_start = 0x1000;
		mod.exec_end = 0x2000;
		if (ASSERT_TRUE(s != NULL, "new")) {
			ASSERT_OK(mt_sym_native__add_maps(s, NO_PID, &maps, ""),
				  "add_maps missing");
			n = mt_sym_native__resolve(s, NO_PID, 0x1800, false, f, 8);
			if (ASSERT_EQ(n, 1, "missing file: frames"))
				check_frame(&f[0], NULL, NULL, 0, "nosuch", 0x1800, false);
		}
		mt_sym_native__free(s);
	}
out:
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path))
		MT_FAIL("cleanup %s", dir);
}

MT_TEST(sym_native_deleted)
{
	char dir[] = "/tmp/mt-sym-XXXXXX", path[PATH_MAX];
	struct mt_sym_native *s = NULL;
	struct mt_frame f[4];
	void *h = NULL, *fn;
	Dl_info info;
	int n;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	/* a library mapped, then deleted (as when a package upgrade replaces it) */
	fn = dlsym(RTLD_DEFAULT, "zlibVersion");
	if (!fn) {
		h = dlopen("libz.so.1", RTLD_NOW);
		fn = h ? dlsym(h, "zlibVersion") : NULL;
	}
	if (!ASSERT_TRUE(fn && dladdr(fn, &info) && info.dli_fname, "find libz"))
		goto out;
	if (h)
		dlclose(h);
	snprintf(path, sizeof(path), "%s/libzcopy.so", dir);
	if (!ASSERT_TRUE(copy_file(info.dli_fname, path, 0), "copy libz"))
		goto out;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	fn = h ? dlsym(h, "zlibVersion") : NULL;
	unlink(path);
	if (!ASSERT_TRUE(fn != NULL, "dlopen copy"))
		goto out;
	s = mt_sym_native__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		goto out;
	if (!ASSERT_OK(mt_sym_native__add_pid(s, getpid()), "add_pid self"))
		goto out;
	n = mt_sym_native__resolve(s, getpid(), (__u64)(unsigned long)fn, false, f, 4);
	if (!ASSERT_EQ(n, 1, "deleted: frames"))
		goto out;
	ASSERT_STREQ(f[0].module, "libzcopy.so", "deleted: module");
	/* only root may open /proc/PID/map_files, the one way to a deleted file */
	if (geteuid() == 0)
		ASSERT_STREQ(f[0].function, "zlibVersion", "deleted: function (root)");
	else
		ASSERT_TRUE(f[0].function == NULL, "deleted: no function (not root)");
out:
	mt_sym_native__free(s);
	if (h)
		dlclose(h);
	rmdir(dir);
}

/* A module the process unmapped (dlclose) still names its addresses, until something else is mapped
 * there. */
MT_TEST(sym_native_unmapped_kept)
{
	struct mt_module a = {.path = "/nonexistent/liba.so", .start = 0x1000, .end = 0x2000};
	struct mt_module b = {.path = "/nonexistent/libb.so", .start = 0x5000, .end = 0x6000};
	struct mt_module c = {.path = "/nonexistent/libc2.so", .start = 0x1800, .end = 0x3000};
	struct mt_module two[2] = {a, b};
	struct mt_maps maps = {.mods = two, .nr_mods = 2};
	struct mt_sym_native *s = mt_sym_native__new();
	struct mt_frame f[4];

	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	ASSERT_OK(mt_sym_native__add_maps(s, NO_PID, &maps, ""), "both mapped");
	maps.mods = &b;
	maps.nr_mods = 1;
	ASSERT_OK(mt_sym_native__add_maps(s, NO_PID, &maps, ""), "liba unmapped");
	if (ASSERT_EQ(mt_sym_native__resolve(s, NO_PID, 0x1100, false, f, 4), 1, "frames"))
		ASSERT_STREQ(f[0].module, "liba.so", "the unmapped module still names it");
	if (ASSERT_EQ(mt_sym_native__resolve(s, NO_PID, 0x5100, false, f, 4), 1, "frames"))
		ASSERT_STREQ(f[0].module, "libb.so", "the mapped one");
	/* another library mapped over liba's range replaces it */
	two[0] = c;
	two[1] = b;
	maps.mods = two;
	maps.nr_mods = 2;
	ASSERT_OK(mt_sym_native__add_maps(s, NO_PID, &maps, ""), "libc2 over liba");
	if (ASSERT_EQ(mt_sym_native__resolve(s, NO_PID, 0x1900, false, f, 4), 1, "frames"))
		ASSERT_STREQ(f[0].module, "libc2.so", "the new mapping wins");
	ASSERT_TRUE(mt_sym_native__resolve(s, NO_PID, 0x1100, false, f, 4) == 1 &&
			f[0].module == NULL,
		    "liba is gone where it was overlapped");
	mt_sym_native__free(s);
}
