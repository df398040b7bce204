// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syscall_scan: system call sites in wrapper bodies given as bytes, with
 * CFI rules from a table instead of a file.
 */
#include <string.h>
#include "probe/syscall_scan.h"
#include "test.h"

/* glibc 2.36 mmap: mov %ecx,%r10d; test $0xfff,%r9d; jne; mov $9,%eax; syscall; cmp; ja; ret */
static const unsigned char mmap_body[] = {
    0x41, 0x89, 0xca, 0x41, 0xf7, 0xc1, 0xff, 0x0f, 0x00, 0x00, 0x75, 0x17, 0xb8, 0x09, 0x00, 0x00,
    0x00, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x01, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc,
};

/* mremap with a frame: sub $0x58,%rsp; mov $25,%eax; syscall; add $0x58,%rsp; ret */
static const unsigned char mremap_body[] = {
    0x48, 0x83, 0xec, 0x58, 0xb8, 0x19, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x83, 0xc4, 0x58, 0xc3,
};

struct rule_at {
	__u64 pc;
	struct mt_frame_rule rule;
};

struct rules {
	const struct rule_at *at;
	size_t n;
	int asked;
};

static bool table_rule(void *ctx, __u64 pc, struct mt_frame_rule *rule)
{
	struct rules *r = ctx;

	r->asked++;
	for (size_t i = 0; i < r->n; i++) {
		if (r->at[i].pc == pc) {
			*rule = r->at[i].rule;
			return true;
		}
	}
	return false;
}

static const struct mt_elf_load text = {
    .vaddr = 0x26000, .offset = 0x26000, .memsz = 0x156000, .flags = PF_R | PF_X};

MT_TEST(syscall_scan_find)
{
	static const unsigned char two[] = {0x0f, 0x05, 0x90, 0x0f, 0x05, 0x0f};
	size_t at[4] = {0};

	ASSERT_EQ(mt_syscall_scan__find(mmap_body, sizeof(mmap_body), at, 4), 1, "mmap: one");
	ASSERT_EQ(at[0], 17, "after mov $9,%eax");
	ASSERT_EQ(mt_syscall_scan__find(two, sizeof(two), at, 4), 2, "two, a 0f at the end");
	ASSERT_TRUE(at[0] == 0 && at[1] == 3, "both offsets");
	ASSERT_EQ(mt_syscall_scan__find(two, sizeof(two), at, 1), 2, "counted beyond max");
	ASSERT_EQ(mt_syscall_scan__find(two, 1, at, 4), 0, "half an instruction");
	ASSERT_TRUE(mt_syscall_scan__by_syscall(MT_KIND_MMAP) &&
			mt_syscall_scan__by_syscall(MT_KIND_MUNMAP) &&
			mt_syscall_scan__by_syscall(MT_KIND_MREMAP),
		    "the mmap family");
	ASSERT_FALSE(mt_syscall_scan__by_syscall(MT_KIND_MALLOC), "not malloc");
}

MT_TEST(syscall_scan_sites)
{
	const struct mt_syscall_func mm = {MT_KIND_MMAP, 0x101990, 0x101990, mmap_body,
					   sizeof(mmap_body)};
	const struct mt_syscall_func mr = {MT_KIND_MREMAP, 0x1099c0, 0x1099c0, mremap_body,
					   sizeof(mremap_body)};
	const struct rule_at at[] = {
	    {0x101990 + 17, {.cfa = 8, .rbp = 0}},
	    {0x1099c0 + 9, {.cfa = 0x60, .rbp = 0}},
	};
	struct rules r = {at, 2, 0};
	struct mt_plan_syscall sc[MT_MAX_PLAN_SYSCALLS];

	if (!ASSERT_EQ(mt_syscall_scan__sites(&mm, &text, table_rule, &r, sc, 8), 1, "mmap"))
		return;
	ASSERT_EQ(sc[0].offset, 0x101990 + 19, "file offset after the syscall");
	ASSERT_EQ(sc[0].site.kind, MT_KIND_MMAP, "kind");
	ASSERT_EQ(sc[0].site.seg_off, 0x101990 + 19 - 0x26000, "IP in the segment");
	ASSERT_EQ(sc[0].site.seg_size, 0x156000, "segment size");
	ASSERT_EQ(sc[0].site.rule.cfa, 0, "no frame: CFA = SP + 8");
	if (!ASSERT_EQ(mt_syscall_scan__sites(&mr, &text, table_rule, &r, sc, 8), 1, "mremap"))
		return;
	ASSERT_EQ(sc[0].site.rule.cfa, 0x58, "its frame: CFA = SP + 8 + 0x58");
	ASSERT_EQ(sc[0].site.seg_off, 0x1099c0 + 11 - 0x26000, "mremap IP");
}

MT_TEST(syscall_scan_refused)
{
	const struct mt_syscall_func mm = {MT_KIND_MMAP, 0x101990, 0x101990, mmap_body,
					   sizeof(mmap_body)};
	const struct rule_at good = {0x101990 + 17, {.cfa = 8}};
	const struct rule_at small = {0x101990 + 17, {.cfa = 0}};
	const struct mt_elf_load elsewhere = {.vaddr = 0x200000, .memsz = 0x1000};
	unsigned char many[2 * (MT_MAX_PLAN_SYSCALLS + 1)], big[MT_SYSCALL_BODY_MAX + 2];
	struct mt_syscall_func f = mm;
	struct rules r = {&good, 1, 0}, none = {NULL, 0, 0}, bad = {&small, 1, 0};
	struct mt_plan_syscall sc[MT_MAX_PLAN_SYSCALLS];

	ASSERT_EQ(mt_syscall_scan__sites(&mm, &text, table_rule, &none, sc, 8), 0, "no CFI rule");
	ASSERT_EQ(mt_syscall_scan__sites(&mm, &text, table_rule, &bad, sc, 8), 0,
		  "CFA below the return address");
	ASSERT_EQ(mt_syscall_scan__sites(&mm, &elsewhere, table_rule, &r, sc, 8), 0,
		  "IP outside the code segment");
	ASSERT_EQ(mt_syscall_scan__sites(&mm, NULL, table_rule, &r, sc, 8), 0, "no code segment");
	ASSERT_EQ(mt_syscall_scan__sites(&mm, &text, table_rule, &r, sc, 0), 0, "no room left");
	f.size = 12; /* the body before its syscall */
	ASSERT_EQ(mt_syscall_scan__sites(&f, &text, table_rule, &r, sc, 8), 0, "no syscall");
	for (size_t i = 0; i < sizeof(many); i += 2)
		memcpy(many + i, "\x0f\x05", 2);
	f.body = many;
	f.size = sizeof(many);
	r.asked = 0;
	ASSERT_EQ(mt_syscall_scan__sites(&f, &text, table_rule, &r, sc, 8), 0, "too many");
	ASSERT_EQ(r.asked, 0, "refused before any lookup");
	memset(big, 0x90, sizeof(big));
	f.body = big;
	f.size = sizeof(big);
	ASSERT_EQ(mt_syscall_scan__sites(&f, &text, table_rule, &r, sc, 8), 0, "body too large");
}
