// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* elf: the reader on this test binary, and on files that are not ELF. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc/elf.h"
#include "test.h"

MT_TEST(elf_own_binary)
{
	struct mt_elf_sym syms[] = {{.name = "main"}, {.name = "no_such_symbol_here"}};
	unsigned char a[16], b[16];
	struct mt_elf e;
	__u64 off, low, high;

	if (!ASSERT_OK(mt_elf__open(&e, "/proc/self/exe"), "open"))
		return;
	ASSERT_EQ(mt_elf__find_syms(&e, syms, 2, MT_ELF_FUNC, MT_ELF_SYMTAB_FIRST), 1, "found");
	ASSERT_TRUE(syms[0].found && !syms[1].found, "main only");
	ASSERT_TRUE(mt_elf__exec_load(&e) != NULL, "code segment");
	mt_elf__range(&e, &low, &high);
	ASSERT_TRUE(low <= syms[0].value && syms[0].value < high, "main in range");
	/* bytes at a vaddr are the bytes at its file offset */
	if (ASSERT_OK(mt_elf__offset(&e, syms[0].value, &off), "offset") &&
	    ASSERT_OK(mt_elf__read(&e, syms[0].value, a, sizeof(a)), "read"))
		ASSERT_TRUE(pread(e.fd, b, sizeof(b), off) == sizeof(b) && !memcmp(a, b, sizeof(a)),
			    "same bytes");
	/* nothing past the file data of a segment */
	ASSERT_EQ(mt_elf__read(&e, ~0ULL - 4, a, 8), -ENOENT, "wrapping read");
	mt_elf__close(&e);
	mt_elf__close(&e); /* twice is fine */
	mt_elf__close(NULL);
}

MT_TEST(elf_not_elf)
{
	char path[] = "/tmp/mt-elf-XXXXXX";
	/* an ELF header cut short */
	static const unsigned char head[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
	struct mt_elf e;
	int fd = mkstemp(path);

	ASSERT_EQ(mt_elf__open(&e, "/dev/zero"), -ENXIO, "a device");
	ASSERT_EQ(e.fd, -1, "closed after failure");
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	ASSERT_EQ(write(fd, head, sizeof(head)), sizeof(head), "write");
	close(fd);
	ASSERT_EQ(mt_elf__open(&e, path), -ENOEXEC, "truncated header");
	unlink(path);
}

MT_TEST(elf_needed)
{
	char soname[64], names[4096], small[12];
	bool libc = false;
	struct mt_elf e;
	size_t n;

	if (!ASSERT_OK(mt_elf__open(&e, "/proc/self/exe"), "open"))
		return;
	n = mt_elf__needed(&e, soname, sizeof(soname), names, sizeof(names));
	ASSERT_TRUE(n >= 1, "this binary needs libraries");
	ASSERT_STREQ(soname, "", "an executable has no DT_SONAME");
	for (const char *s = names; n--; s += strlen(s) + 1)
		libc |= !strcmp(s, "libc.so.6");
	ASSERT_TRUE(libc, "libc.so.6 among them");
	/* a buffer too small for any name: none written, nothing overrun */
	ASSERT_EQ(mt_elf__needed(&e, soname, sizeof(soname), small, 4), 0, "no room");
	mt_elf__close(&e);
	if (ASSERT_OK(mt_elf__open(&e, "/usr/lib/x86_64-linux-gnu/libc.so.6"), "open libc")) {
		mt_elf__needed(&e, soname, sizeof(soname), names, sizeof(names));
		ASSERT_STREQ(soname, "libc.so.6", "libc's DT_SONAME");
		mt_elf__close(&e);
	}
}
