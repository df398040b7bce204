// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* procmaps: /proc/PID/maps parsing, module grouping and lookups. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include "proc/procmaps.h"
#include "test.h"

/* a PIE executable whose path has spaces, libc, a deleted library, ld.so */
static const char maps_text[] =
    "55d0c8a00000-55d0c8a02000 r--p 00000000 fe:00 1234                       /usr/bin/my prog\n"
    "55d0c8a02000-55d0c8a05000 r-xp 00002000 fe:00 1234                       /usr/bin/my prog\n"
    "55d0c8a05000-55d0c8a06000 r--p 00005000 fe:00 1234                       /usr/bin/my prog\n"
    "55d0c8a06000-55d0c8a07000 rw-p 00006000 fe:00 1234                       /usr/bin/my prog\n"
    "55d0c9000000-55d0c9021000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f1000000000-7f1000026000 r--p 00000000 fe:00 332835                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f1000026000-7f100017c000 r-xp 00026000 fe:00 332835                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f100017c000-7f10001cf000 r--p 0017c000 fe:00 332835                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f10001cf000-7f10001d3000 r--p 001cf000 fe:00 332835                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f10001d3000-7f10001d5000 rw-p 001d3000 fe:00 332835                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f10001d5000-7f10001e2000 rw-p 00000000 00:00 0 \n"
    "7f1000200000-7f1000201000 r-xp 00000000 08:11 77                         /tmp/libgone.so "
    "(deleted)\n"
    "7f1000201000-7f1000202000 rw-s 00001000 08:11 77                         /tmp/libgone.so "
    "(deleted)\n"
    "7f10003fb000-7f10003ff000 r--p 00000000 00:00 0                          [vvar]\n"
    "7f1000401000-7f1000403000 r-xp 00000000 00:00 0                          [vdso]\n"
    "7f1000403000-7f1000404000 r--p 00000000 fe:00 332383                     "
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
    "7f1000404000-7f100042a000 r-xp 00001000 fe:00 332383                     "
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
    "7f100042a000-7f1000434000 r--p 00027000 fe:00 332383                     "
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
    "7f1000434000-7f1000436000 rw-p 00031000 fe:00 332383                     "
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
    "7f1000500000-7f1000501000 r-xp 00000000 00:00 0                          [uprobes]\n"
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static bool check_map(const struct mt_map *m, __u64 start, __u64 end, unsigned int prot,
		      __u64 offset, dev_t dev, __u64 inode, const char *path)
{
	return ASSERT_EQ(m->start, start, "map start") && ASSERT_EQ(m->end, end, "map end") &&
	       ASSERT_EQ(m->prot, prot, "map prot") && ASSERT_EQ(m->offset, offset, "map offset") &&
	       ASSERT_EQ(m->dev, dev, "map dev") && ASSERT_EQ(m->inode, inode, "map inode") &&
	       ASSERT_STREQ(m->path, path, "map path");
}

static bool check_mod(const struct mt_module *m, const char *path, __u64 start, __u64 end,
		      __u64 exec_start, __u64 exec_end, __u64 exec_offset, dev_t dev, __u64 inode)
{
	return ASSERT_STREQ(m->path, path, "module path") &&
	       ASSERT_EQ(m->start, start, "module start") && ASSERT_EQ(m->end, end, "module end") &&
	       ASSERT_EQ(m->exec_start, exec_start, "module exec_start") &&
	       ASSERT_EQ(m->exec_end, exec_end, "module exec_end") &&
	       ASSERT_EQ(m->exec_offset, exec_offset, "module exec_offset") &&
	       ASSERT_EQ(m->dev, dev, "module dev") && ASSERT_EQ(m->inode, inode, "module inode");
}

#define R PROT_READ
#define W PROT_WRITE
#define X PROT_EXEC

MT_TEST(procmaps_parse)
{
	const char *exe = "/usr/bin/my prog", *libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	const char *ld = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
	const char *gone = "/tmp/libgone.so (deleted)";
	dev_t root = makedev(0xfe, 0), sdb1 = makedev(8, 0x11);
	struct mt_maps m;
	const struct mt_map *v;

	if (!ASSERT_OK(mt_maps__parse(maps_text, sizeof(maps_text) - 1, &m), "parse"))
		return;
	if (!ASSERT_EQ(m.nr_maps, 22, "nr_maps") || !ASSERT_EQ(m.nr_mods, 4, "nr_mods"))
		goto out;
	v = m.maps;
	if (!check_map(&v[0], 0x55d0c8a00000, 0x55d0c8a02000, R, 0, root, 1234, exe) ||
	    !check_map(&v[1], 0x55d0c8a02000, 0x55d0c8a05000, R | X, 0x2000, root, 1234, exe) ||
	    !check_map(&v[2], 0x55d0c8a05000, 0x55d0c8a06000, R, 0x5000, root, 1234, exe) ||
	    !check_map(&v[3], 0x55d0c8a06000, 0x55d0c8a07000, R | W, 0x6000, root, 1234, exe) ||
	    !check_map(&v[4], 0x55d0c9000000, 0x55d0c9021000, R | W, 0, 0, 0, "[heap]") ||
	    !check_map(&v[5], 0x7f1000000000, 0x7f1000026000, R, 0, root, 332835, libc) ||
	    !check_map(&v[6], 0x7f1000026000, 0x7f100017c000, R | X, 0x26000, root, 332835, libc) ||
	    !check_map(&v[7], 0x7f100017c000, 0x7f10001cf000, R, 0x17c000, root, 332835, libc) ||
	    !check_map(&v[8], 0x7f10001cf000, 0x7f10001d3000, R, 0x1cf000, root, 332835, libc) ||
	    !check_map(&v[9], 0x7f10001d3000, 0x7f10001d5000, R | W, 0x1d3000, root, 332835,
		       libc) ||
	    !check_map(&v[10], 0x7f10001d5000, 0x7f10001e2000, R | W, 0, 0, 0, NULL) ||
	    !check_map(&v[11], 0x7f1000200000, 0x7f1000201000, R | X, 0, sdb1, 77, gone) ||
	    !check_map(&v[12], 0x7f1000201000, 0x7f1000202000, R | W, 0x1000, sdb1, 77, gone) ||
	    !check_map(&v[13], 0x7f10003fb000, 0x7f10003ff000, R, 0, 0, 0, "[vvar]") ||
	    !check_map(&v[14], 0x7f1000401000, 0x7f1000403000, R | X, 0, 0, 0, "[vdso]") ||
	    !check_map(&v[15], 0x7f1000403000, 0x7f1000404000, R, 0, root, 332383, ld) ||
	    !check_map(&v[16], 0x7f1000404000, 0x7f100042a000, R | X, 0x1000, root, 332383, ld) ||
	    !check_map(&v[17], 0x7f100042a000, 0x7f1000434000, R, 0x27000, root, 332383, ld) ||
	    !check_map(&v[18], 0x7f1000434000, 0x7f1000436000, R | W, 0x31000, root, 332383, ld) ||
	    !check_map(&v[19], 0x7f1000500000, 0x7f1000501000, R | X, 0, 0, 0, "[uprobes]") ||
	    !check_map(&v[20], 0x7ffc00000000, 0x7ffc00021000, R | W, 0, 0, 0, "[stack]") ||
	    !check_map(&v[21], 0xffffffffff600000, 0xffffffffff601000, X, 0, 0, 0, "[vsyscall]"))
		goto out;

	/* modules: sorted by start, pseudo-files and anonymous memory left out */
	if (!check_mod(&m.mods[0], exe, 0x55d0c8a00000, 0x55d0c8a07000, 0x55d0c8a02000,
		       0x55d0c8a05000, 0x2000, root, 1234) ||
	    !check_mod(&m.mods[1], libc, 0x7f1000000000, 0x7f10001d5000, 0x7f1000026000,
		       0x7f100017c000, 0x26000, root, 332835) ||
	    !check_mod(&m.mods[2], "/tmp/libgone.so", 0x7f1000200000, 0x7f1000202000,
		       0x7f1000200000, 0x7f1000201000, 0, sdb1, 77) ||
	    !check_mod(&m.mods[3], ld, 0x7f1000403000, 0x7f1000436000, 0x7f1000404000,
		       0x7f100042a000, 0x1000, root, 332383))
		goto out;

	/* lookups by address */
	ASSERT_TRUE(mt_maps__find(&m, 0x55d0c8a00000) == &m.mods[0], "find exe first byte");
	ASSERT_TRUE(mt_maps__find(&m, 0x55d0c8a03456) == &m.mods[0], "find exe code");
	ASSERT_TRUE(mt_maps__find(&m, 0x55d0c8a06fff) == &m.mods[0], "find exe last byte");
	ASSERT_TRUE(mt_maps__find(&m, 0x55d0c8a07000) == NULL, "find exe end");
	ASSERT_TRUE(mt_maps__find(&m, 0x55d0c9000100) == NULL, "find heap");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000000000) == &m.mods[1], "find libc start");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f10000a0000) == &m.mods[1], "find libc code");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f10001d4fff) == &m.mods[1], "find libc last byte");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f10001d5000) == NULL, "find anon after libc");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000200010) == &m.mods[2], "find deleted");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000401000) == NULL, "find vdso");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000500000) == NULL, "find uprobes");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000435fff) == &m.mods[3], "find ld.so last byte");
	ASSERT_TRUE(mt_maps__find(&m, 0x7f1000436000) == NULL, "find ld.so end");
	ASSERT_TRUE(mt_maps__find(&m, 0) == NULL, "find 0");
	ASSERT_TRUE(mt_maps__find(&m, ~0ULL) == NULL, "find max");

	/* lookups by basename prefix */
	ASSERT_TRUE(mt_maps__find_name(&m, "libc.so") == &m.mods[1], "find_name libc.so");
	ASSERT_TRUE(mt_maps__find_name(&m, "libc-") == NULL, "find_name libc-");
	ASSERT_TRUE(mt_maps__find_name(&m, "ld-linux") == &m.mods[3], "find_name ld-linux");
	ASSERT_TRUE(mt_maps__find_name(&m, "my prog") == &m.mods[0], "find_name spaces");
	ASSERT_TRUE(mt_maps__find_name(&m, "libgone.so") == &m.mods[2], "find_name deleted");
	ASSERT_TRUE(mt_maps__find_name(&m, "x86_64") == NULL, "find_name matches basenames only");
	ASSERT_TRUE(mt_maps__find_name(&m, "[vdso]") == NULL, "find_name vdso");
out:
	mt_maps__free(&m);
	ASSERT_EQ(m.nr_maps, 0, "freed nr_maps");
	ASSERT_TRUE(m.maps == NULL && m.mods == NULL, "freed arrays");
}

MT_TEST(procmaps_modules)
{
	/* a file mapped twice from offset 0 (dlmopen) is two modules; old-style libc name */
	static const char text[] = "400000-401000 r--p 00000000 08:01 10 /opt/a/libc-2.31.so\n"
				   "401000-402000 r-xp 00001000 08:01 10 /opt/a/libc-2.31.so\n"
				   "402000-403000 r--p 00000000 08:01 11 /opt/a/data.bin\n"
				   "500000-501000 r--p 00000000 08:01 10 /opt/a/libc-2.31.so\n"
				   "501000-502000 r-xp 00001000 08:01 10 /opt/a/libc-2.31.so\n"
				   "502000-503000 rw-p 00002000 08:01 10 /opt/a/libc-2.31.so";
	struct mt_maps m;

	if (!ASSERT_OK(mt_maps__parse(text, sizeof(text) - 1, &m), "parse"))
		return;
	if (!ASSERT_EQ(m.nr_maps, 6, "nr_maps") || !ASSERT_EQ(m.nr_mods, 3, "nr_mods"))
		goto out;
	if (!check_mod(&m.mods[0], "/opt/a/libc-2.31.so", 0x400000, 0x402000, 0x401000, 0x402000,
		       0x1000, makedev(8, 1), 10) ||
	    !check_mod(&m.mods[1], "/opt/a/data.bin", 0x402000, 0x403000, 0, 0, 0, makedev(8, 1),
		       11) ||
	    !check_mod(&m.mods[2], "/opt/a/libc-2.31.so", 0x500000, 0x503000, 0x501000, 0x502000,
		       0x1000, makedev(8, 1), 10))
		goto out;
	ASSERT_TRUE(mt_maps__find(&m, 0x401800) == &m.mods[0], "find first copy");
	ASSERT_TRUE(mt_maps__find(&m, 0x402800) == &m.mods[1], "find data");
	ASSERT_TRUE(mt_maps__find(&m, 0x501800) == &m.mods[2], "find second copy");
	ASSERT_TRUE(mt_maps__find(&m, 0x403000) == NULL, "find gap");
	ASSERT_TRUE(mt_maps__find_name(&m, "libc-") == &m.mods[0], "find_name libc-");
	ASSERT_TRUE(mt_maps__find_name(&m, "libc.so") == NULL, "find_name libc.so");
out:
	mt_maps__free(&m);
}

MT_TEST(procmaps_parse_edge)
{
	struct mt_maps m;

	/* empty input, blank lines, unsorted lines, upper-case hex */
	if (!ASSERT_OK(mt_maps__parse("", 0, &m), "parse empty"))
		return;
	ASSERT_EQ(m.nr_maps, 0, "empty nr_maps");
	ASSERT_EQ(m.nr_mods, 0, "empty nr_mods");
	mt_maps__free(&m);

	static const char text[] = "\n2000-3000 r-xp 00001000 FE:0A 5 /b\n\n"
				   "1000-2000 r--p 00000000 fe:0a 5 /b\n";
	if (!ASSERT_OK(mt_maps__parse(text, sizeof(text) - 1, &m), "parse unsorted"))
		return;
	if (ASSERT_EQ(m.nr_maps, 2, "nr_maps") && ASSERT_EQ(m.nr_mods, 1, "nr_mods")) {
		ASSERT_EQ(m.maps[0].start, 0x1000, "sorted");
		ASSERT_EQ(m.maps[1].dev, makedev(0xfe, 0xa), "upper-case dev");
		check_mod(&m.mods[0], "/b", 0x1000, 0x3000, 0x2000, 0x3000, 0x1000,
			  makedev(0xfe, 0xa), 5);
	}
	mt_maps__free(&m);

	/* the length bounds the text: no NUL needed */
	static const char cut[] = "1000-2000 r-xp 00000000 08:01 5 /bin/truex";
	if (!ASSERT_OK(mt_maps__parse(cut, sizeof(cut) - 2, &m), "parse cut"))
		return;
	if (ASSERT_EQ(m.nr_maps, 1, "cut nr_maps"))
		ASSERT_STREQ(m.maps[0].path, "/bin/true", "cut path");
	mt_maps__free(&m);
}

MT_TEST(procmaps_parse_errors)
{
	static const char *const bad[] = {
	    "zzzz-1000 r-xp 00000000 08:01 5 /a\n",
	    "1000 r-xp 00000000 08:01 5 /a\n",
	    "2000-1000 r-xp 00000000 08:01 5 /a\n",
	    "1000-2000 rwzp 00000000 08:01 5 /a\n",
	    "1000-2000 r-xq 00000000 08:01 5 /a\n",
	    "1000-2000 r-xp 00000000 0801 5 /a\n",
	    "1000-2000 r-xp 00000000 08:01 x /a\n",
	    "1000-2000 r-xp 00000000 08:01\n",
	    "1000-2000 r-xp 00000000 08:01 5/a\n",
	    "1000-2000 r-x\n",
	    "11112222333344445-2000 r-xp 00000000 08:01 5 /a\n",
	    "1000-2000 r-xp 00000000 08:01 99999999999999999999 /a\n",
	    "1000-2000 r-xp 00000000 08:01 5 /a\ngarbage\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mt_maps m;
		char what[32];

		snprintf(what, sizeof(what), "bad line %zu", i);
		ASSERT_EQ(mt_maps__parse(bad[i], strlen(bad[i]), &m), -EINVAL, what);
		ASSERT_TRUE(m.nr_maps == 0 && m.maps == NULL && m.nr_mods == 0 && m.mods == NULL,
			    what);
		mt_maps__free(&m);
	}
	ASSERT_EQ(mt_maps__parse(NULL, 1, NULL), -EINVAL, "NULL out");
	mt_maps__free(NULL);
	ASSERT_TRUE(mt_maps__find(NULL, 0x1000) == NULL, "find NULL");
	ASSERT_TRUE(mt_maps__find_name(NULL, "x") == NULL, "find_name NULL");
}

MT_TEST(procmaps_read_self)
{
	char exe[PATH_MAX];
	const struct mt_module *mod;
	struct mt_maps m;
	const char *base;
	void *libc, *fn;
	ssize_t n;
	int status;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!ASSERT_TRUE(n > 0, "readlink /proc/self/exe"))
		return;
	exe[n] = 0;
	if (!ASSERT_OK(mt_maps__read(getpid(), &m), "read self"))
		return;
	mod = mt_maps__find(&m, (__u64)(unsigned long)&test_procmaps_read_self);
	if (ASSERT_TRUE(mod != NULL, "module of this function")) {
		ASSERT_STREQ(mod->path, exe, "module path is the test binary");
		ASSERT_TRUE(mod->exec_start <= (__u64)(unsigned long)&test_procmaps_read_self &&
				(__u64)(unsigned long)&test_procmaps_read_self < mod->exec_end,
			    "in the r-x mapping");
		base = strrchr(exe, '/') + 1;
		ASSERT_TRUE(mt_maps__find_name(&m, base) == mod, "find_name test binary");
	}
	/* libc's own free, not an interposer's (ASan) */
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	fn = libc ? dlsym(libc, "free") : NULL;
	if (libc)
		dlclose(libc);
	mod = fn ? mt_maps__find(&m, (__u64)(unsigned long)fn) : NULL;
	if (ASSERT_TRUE(mod != NULL, "module of free()"))
		ASSERT_STREQ(strrchr(mod->path, '/'), "/libc.so.6", "free() is in libc.so.6");
	ASSERT_TRUE(mt_maps__find_name(&m, "libc.so") == mod, "find_name libc.so");
	ASSERT_TRUE(mt_maps__find_name(&m, "[vdso]") == NULL, "no vdso module");
	mt_maps__free(&m);

	/* a process that is gone */
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (!ASSERT_TRUE(pid > 0, "fork"))
		return;
	waitpid(pid, &status, 0);
	ASSERT_EQ(mt_maps__read(pid, &m), -ESRCH, "read reaped child");
	ASSERT_EQ(mt_maps__read(0, &m), -EINVAL, "read pid 0");
}
