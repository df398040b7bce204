// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * plan: plans of this process's own C library, checked against its
 * bytes. Each system call site follows a `syscall` instruction of its
 * function, and its CFI rule undoes what the function did to the stack
 * before it; glibc's reallocarray is probed after its multiply.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe/plan.h"
#include "test.h"

static const struct mt_probe *probe_of(const struct mt_plan *plan, enum mt_kind kind)
{
	for (size_t i = 0; i < plan->nr_probes; i++)
		if (plan->probes[i].kind == kind)
			return &plan->probes[i];
	return NULL;
}

/*
 * Plan this process's C library; its path in *path. Found by a function
 * no sanitizer intercepts (ASan brings its own mmap).
 */
static bool plan_own_libc(struct mt_plan *plan, const char **path)
{
	Dl_info info;

	if (!ASSERT_TRUE(dladdr((void *)gnu_get_libc_version, &info) && info.dli_fname,
			 "libc path"))
		return false;
	*path = info.dli_fname;
	return ASSERT_OK(mt_plan__from_file(plan, info.dli_fname), "plan libc");
}

MT_TEST(plan_syscall_sites)
{
	static const enum mt_kind kinds[] = {MT_KIND_MMAP, MT_KIND_MUNMAP, MT_KIND_MREMAP};
	struct mt_plan *plan = calloc(1, sizeof(*plan));
	const char *path;
	int fd = -1;

	if (!ASSERT_TRUE(plan != NULL, "plan") || !plan_own_libc(plan, &path))
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(fd >= 0, "open libc"))
		goto out;
	if (plan->syscall_note) {
		printf("  note: %s: %s\n", path, plan->syscall_note);
		goto out;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct mt_probe *p = probe_of(plan, kinds[k]);
		unsigned char entry[4];
		size_t n = 0;

		if (!ASSERT_TRUE(p != NULL, "probe planned") ||
		    !ASSERT_TRUE(p->syscall_tp, "glibc's wrapper makes the system call itself"))
			continue;
		if (!ASSERT_EQ(pread(fd, entry, 4, (off_t)p->func_offset), 4, "read entry"))
			continue;
		for (size_t i = 0; i < plan->nr_syscalls; i++) {
			const struct mt_plan_syscall *sc = &plan->syscalls[i];
			unsigned char b[2];
			/* glibc's mremap starts with sub $imm8,%rsp (48 83 ec imm8) */
			long frame =
			    entry[0] == 0x48 && entry[1] == 0x83 && entry[2] == 0xec ? entry[3] : 0;

			if (sc->site.kind != kinds[k])
				continue;
			n++;
			ASSERT_TRUE(sc->offset > p->func_offset, "site inside the function");
			ASSERT_EQ(pread(fd, b, 2, (off_t)sc->offset - 2), 2, "read syscall");
			ASSERT_TRUE(b[0] == 0x0f && b[1] == 0x05, "the site follows a syscall");
			ASSERT_EQ(sc->site.rule.cfa, frame, "CFA = SP + 8 + cfa at the syscall");
			ASSERT_EQ(sc->site.rule.rbp, 0, "the wrapper keeps %rbp");
			ASSERT_TRUE(sc->site.seg_size > sc->site.seg_off, "IP in the segment");
		}
		ASSERT_TRUE(n > 0, "a site for each replaced function");
	}
	/* what the tracepoints do not replace keeps its uprobe */
	ASSERT_FALSE(probe_of(plan, MT_KIND_MALLOC)->syscall_tp, "malloc is probed");
	mt_plan__no_syscall_tps(plan);
	ASSERT_FALSE(probe_of(plan, MT_KIND_MMAP)->syscall_tp, "back to the uprobe");
	ASSERT_EQ(plan->nr_syscalls, 0, "no sites left");
out:
	if (fd >= 0)
		close(fd);
	mt_plan__close(plan);
	free(plan);
}

MT_TEST(plan_reallocarray_after_multiply)
{
	static const unsigned char glibc[] = {0x48, 0x89, 0xf0, 0x48, 0xf7,
					      0xe2, 0x48, 0x89, 0xc6, 0x70};
	struct mt_plan *plan = calloc(1, sizeof(*plan));
	const struct mt_probe *p;
	unsigned char b[sizeof(glibc)];
	const char *path;
	int fd = -1;

	if (!ASSERT_TRUE(plan != NULL, "plan") || !plan_own_libc(plan, &path))
		goto out;
	p = probe_of(plan, MT_KIND_REALLOCARRAY);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(p != NULL && fd >= 0, "reallocarray planned") ||
	    !ASSERT_EQ(pread(fd, b, sizeof(b), (off_t)p->func_offset), sizeof(b), "read entry"))
		goto out;
	if (memcmp(b, glibc, sizeof(b))) {
		/* another reallocarray: the general rule applies */
		ASSERT_FALSE(p->cookie & MT_COOKIE_PRODUCT, "no product flag elsewhere");
		goto out;
	}
	ASSERT_EQ(p->offset - p->func_offset, 9, "on the jo after the multiply");
	ASSERT_FALSE(p->slow, "jcc is emulated");
	ASSERT_TRUE(p->cookie & MT_COOKIE_PRODUCT, "BPF reads the product and OF");
	ASSERT_EQ(MT_COOKIE_KIND(p->cookie), MT_KIND_REALLOCARRAY, "kind kept");
out:
	if (fd >= 0)
		close(fd);
	mt_plan__close(plan);
	free(plan);
}

/* The plan keeps the file it read; probes are attached through it. */
MT_TEST(plan_keeps_its_file)
{
	struct mt_plan *plan = calloc(1, sizeof(*plan));
	char want[32];
	const char *path;
	struct stat st;

	if (!ASSERT_TRUE(plan != NULL, "plan") || !plan_own_libc(plan, &path))
		goto out;
	snprintf(want, sizeof(want), "/proc/self/fd/%d", plan->fd);
	ASSERT_TRUE(plan->fd >= 0, "descriptor kept");
	ASSERT_STREQ(plan->path, want, "attached through the descriptor");
	ASSERT_STREQ(plan->shown, path, "shown as named");
	ASSERT_TRUE(!fstat(plan->fd, &st) && st.st_ino == plan->inode, "the file parsed");
	ASSERT_OK(mt_plan__verify(plan), "same file after attaching");
	plan->inode++;
	ASSERT_EQ(mt_plan__verify(plan), -ESTALE, "another file is refused");
	mt_plan__close(plan);
	ASSERT_EQ(plan->fd, -1, "closed");
	mt_plan__close(plan);
	ASSERT_EQ(mt_plan__from_file(plan, "/dev/null"), -ENXIO, "not a regular file");
	ASSERT_EQ(plan->fd, -1, "nothing kept on failure");
out:
	mt_plan__close(plan);
	free(plan);
}
