// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * insn_x86: known x86-64 encodings and what the decoder makes of them;
 * probe placement on the entries of glibc's allocator functions as bytes.
 */
#include <string.h>
#include "probe/insn_x86.h"
#include "test.h"

struct insn_case {
	const char *what;
	unsigned char b[12];
	size_t n; /* bytes available */
	enum mt_insn_class cls;
	size_t len;
	unsigned int writes;
};

static const struct insn_case insns[] = {
    {"push %rbp", {0x55}, 1, MT_INSN_EMULATED, 1, 0},
    {"push %rbx", {0x53}, 1, MT_INSN_EMULATED, 1, 0},
    {"push %r12", {0x41, 0x54}, 2, MT_INSN_EMULATED, 2, 0},
    {"nop", {0x90}, 1, MT_INSN_EMULATED, 1, 0},
    {"je rel8", {0x74, 0x05}, 2, MT_INSN_EMULATED, 2, 0},
    {"jmp rel8", {0xeb, 0xfe}, 2, MT_INSN_EMULATED, 2, 0},
    {"jmp rel32", {0xe9, 1, 2, 3, 4}, 5, MT_INSN_EMULATED, 5, 0},
    {"je rel32", {0x0f, 0x84, 1, 2, 3, 4}, 6, MT_INSN_EMULATED, 6, 0},
    {"jae rel32", {0x0f, 0x83, 1, 2, 3, 4}, 6, MT_INSN_EMULATED, 6, 0},
    {"cmpb $0,disp32(%rip)", {0x80, 0x3d, 1, 2, 3, 4, 0}, 7, MT_INSN_FLAGS, 7, 0},
    {"test %rdi,%rdi", {0x48, 0x85, 0xff}, 3, MT_INSN_FLAGS, 3, 0},
    {"test %rsi,%rsi", {0x48, 0x85, 0xf6}, 3, MT_INSN_FLAGS, 3, 0},
    {"test $0xfff,%r9d", {0x41, 0xf7, 0xc1, 0xff, 0x0f, 0, 0}, 7, MT_INSN_FLAGS, 7, 0},
    {"mov %ecx,%r10d", {0x41, 0x89, 0xca}, 3, MT_INSN_FLAGS, 3, 0},
    {"cmp $-4095,%rax", {0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff}, 6, MT_INSN_FLAGS, 6, 0},
    {"mov $11,%eax", {0xb8, 0x0b, 0, 0, 0}, 5, MT_INSN_FLAGS, 5, 0},
    {"syscall", {0x0f, 0x05}, 2, MT_INSN_SYSCALL, 2, MT_INSN_RCX},
    /* what the decoder does not know keeps the probe where it is */
    {"mov %rsp,%rbp", {0x48, 0x89, 0xe5}, 3, MT_INSN_FLAGS, 3, MT_INSN_RBP},
    {"mov %rdi,%rsi", {0x48, 0x89, 0xfe}, 3, MT_INSN_FLAGS, 3, MT_INSN_RSI},
    {"test %rdx,%rdx", {0x48, 0x85, 0xd2}, 3, MT_INSN_FLAGS, 3, 0},
    {"endbr64", {0xf3, 0x0f, 0x1e, 0xfa}, 4, MT_INSN_FLAGS, 4, 0},
    /* jemalloc, tcmalloc entries */
    {"cmp $0x1000,%rdi", {0x48, 0x81, 0xff, 0, 0x10, 0, 0}, 7, MT_INSN_FLAGS, 7, 0},
    {"mov disp32(%rip),%rdx", {0x48, 0x8b, 0x15, 1, 2, 3, 4}, 7, MT_INSN_FLAGS, 7, MT_INSN_RDX},
    {"mov %rdi,%r8", {0x49, 0x89, 0xf8}, 3, MT_INSN_FLAGS, 3, 0},
    {"shr $0x1a,%rax", {0x48, 0xc1, 0xe8, 0x1a}, 4, MT_INSN_FLAGS, 4, 0},
    {"and $imm32,%rcx", {0x48, 0x81, 0xe1, 0, 0, 0, 0xc0}, 7, MT_INSN_FLAGS, 7, MT_INSN_RCX},
    {"add %fs:0,%rax", {0x64, 0x48, 0x03, 0x04, 0x25, 0, 0, 0, 0}, 9, MT_INSN_FLAGS, 9, 0},
    {"cmp 0x1b0(%rax),%rcx", {0x48, 0x3b, 0x88, 0xb0, 1, 0, 0}, 7, MT_INSN_FLAGS, 7, 0},
    {"lea -1(%rsi),%rax", {0x48, 0x8d, 0x46, 0xff}, 4, MT_INSN_FLAGS, 4, 0},
    {"xor %ecx,%ecx", {0x31, 0xc9}, 2, MT_INSN_FLAGS, 2, MT_INSN_RCX},
    {"mul %rsi", {0x48, 0xf7, 0xe6}, 3, MT_INSN_FLAGS, 3, MT_INSN_RDX},
    {"mov $-0xa48,%rdx",
     {0x48, 0xc7, 0xc2, 0xb8, 0xf5, 0xff, 0xff},
     7,
     MT_INSN_FLAGS,
     7,
     MT_INSN_RDX},
    {"movq $0,(%rsp)", {0x48, 0xc7, 0x04, 0x24, 0, 0, 0, 0}, 8, MT_INSN_UNKNOWN, 0, 0},
    {"div %rsi", {0x48, 0xf7, 0xf6}, 3, MT_INSN_UNKNOWN, 0, 0},
    {"cmpb $0,%fs:0x10(%rcx)", {0x64, 0x80, 0x79, 0x10, 0}, 5, MT_INSN_FLAGS, 5, 0},
    /* what the decoder does not know, or must not pass, keeps the probe where it is */
    {"sub $8,%rsp", {0x48, 0x83, 0xec, 0x08}, 4, MT_INSN_UNKNOWN, 0, 0},
    {"mov %rdi,(%rsp)", {0x48, 0x89, 0x3c, 0x24}, 4, MT_INSN_UNKNOWN, 0, 0},
    {"mov $1,%esp", {0xbc, 1, 0, 0, 0}, 5, MT_INSN_UNKNOWN, 0, 0},
    {"int3", {0xcc}, 1, MT_INSN_UNKNOWN, 0, 0},
    /* cut short: never read past n */
    {"je rel32, 2 bytes", {0x0f, 0x84}, 2, MT_INSN_UNKNOWN, 0, 0},
    {"cmpb, 3 bytes", {0x80, 0x3d, 1}, 3, MT_INSN_UNKNOWN, 0, 0},
    {"mov $imm32, 4 bytes", {0xb8, 1, 2, 3}, 4, MT_INSN_UNKNOWN, 0, 0},
    {"jmp rel8, 1 byte", {0xeb}, 1, MT_INSN_UNKNOWN, 0, 0},
    {"nothing", {0}, 0, MT_INSN_UNKNOWN, 0, 0},
};

MT_TEST(insn_decode_table)
{
	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		const struct insn_case *c = &insns[i];
		size_t len = 0;
		unsigned int writes = ~0u;
		enum mt_insn_class cls = mt_insn__decode(c->b, c->n, &len, &writes);

		ASSERT_EQ(cls, c->cls, c->what);
		if (c->cls != MT_INSN_UNKNOWN)
			ASSERT_EQ(len, c->len, c->what);
		ASSERT_EQ(writes, c->writes, c->what);
	}
}

MT_TEST(insn_args_read)
{
	ASSERT_EQ(mt_insn__args_read(MT_KIND_MALLOC), MT_INSN_RDI, "malloc(size)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_FREE), MT_INSN_RDI, "free(ptr)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_CALLOC), MT_INSN_RDI | MT_INSN_RSI, "calloc(n, size)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_REALLOCARRAY), MT_INSN_RDI | MT_INSN_RSI | MT_INSN_RDX,
		  "reallocarray(ptr, n, size)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_POSIX_MEMALIGN), MT_INSN_RDI | MT_INSN_RDX,
		  "posix_memalign(&p, align, size)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_MEMALIGN), MT_INSN_RSI, "memalign(align, size)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_MMAP), MT_INSN_RSI | MT_INSN_RCX,
		  "mmap(addr, len, prot, flags...)");
	ASSERT_EQ(mt_insn__args_read(MT_KIND_MREMAP), MT_INSN_RDI | MT_INSN_RDX,
		  "mremap(old, old_len, new_len)");
}

struct entry_case {
	const char *what;
	enum mt_kind kind;
	unsigned char b[16]; /* then int3 up to MT_INSN_ENTRY_BYTES */
	size_t where;
	bool slow;
	__u64 flags;
};

static const struct entry_case entries[] = {
    {"glibc free: test; je rel32; push",
     MT_KIND_FREE,
     {0x48, 0x85, 0xff, 0x0f, 0x84, 0x10, 0x01, 0, 0, 0x55},
     9,
     false,
     0},
    {"glibc reallocarray: mov; mul; mov; jo",
     MT_KIND_REALLOCARRAY,
     {0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70, 0x05},
     9,
     false,
     MT_COOKIE_PRODUCT},
    {"glibc posix_memalign: cmpb; push",
     MT_KIND_POSIX_MEMALIGN,
     {0x80, 0x3d, 1, 2, 3, 4, 0, 0x55},
     7,
     false,
     0},
    {"glibc memalign: cmpb; je",
     MT_KIND_MEMALIGN,
     {0x80, 0x3d, 1, 2, 3, 4, 0, 0x74, 0x10},
     7,
     false,
     0},
    {"glibc mmap: mov %ecx,%r10d; test $0xfff,%r9d; jne",
     MT_KIND_MMAP,
     {0x41, 0x89, 0xca, 0x41, 0xf7, 0xc1, 0xff, 0x0f, 0, 0, 0x75, 0x17},
     10,
     false,
     0},
    {"glibc munmap: mov $11,%eax; syscall; cmp; jae",
     MT_KIND_MUNMAP,
     {0xb8, 0x0b, 0, 0, 0, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x01},
     13,
     false,
     0},
    {"calloc: test %rsi,%rsi; push", MT_KIND_CALLOC, {0x48, 0x85, 0xf6, 0x55}, 3, false, 0},
    {"malloc: push at +0", MT_KIND_MALLOC, {0x55, 0x48, 0x89, 0xe5}, 0, false, 0},
    {"libstdc++ operator new: endbr64; test; mov $1,%eax; push",
     MT_KIND_MALLOC,
     {0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0xb8, 1, 0, 0, 0, 0x53},
     12,
     false,
     0},
    {"jemalloc malloc: cmp $0x1000,%rdi; ja",
     MT_KIND_MALLOC,
     {0x48, 0x81, 0xff, 0, 0x10, 0, 0, 0x0f, 0x87, 1, 0, 0, 0},
     7,
     false,
     0},
    {"endbr64; sub $8,%rsp: single-stepped at +0",
     MT_KIND_MALLOC,
     {0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x08},
     0,
     true,
     0},
    {"malloc writing %rbp first", MT_KIND_MALLOC, {0x48, 0x89, 0xe5, 0x55}, 0, true, 0},
    {"glibc 2.43 calloc: mov %rdi,%rax; mul %rsi; jo",
     MT_KIND_CALLOC,
     {0x48, 0x89, 0xf8, 0x48, 0xf7, 0xe6, 0x0f, 0x80, 1, 0, 0, 0},
     6,
     false,
     0},
    {"malloc overwriting its size", MT_KIND_MALLOC, {0x48, 0x89, 0xf7, 0x55}, 0, true, 0},
    /* an allocating call must not pass its system call */
    {"mmap making the call at once",
     MT_KIND_MMAP,
     {0xb8, 0x09, 0, 0, 0, 0x0f, 0x05, 0x55},
     0,
     true,
     0},
    /* nor a free that is not glibc's exact entry */
    {"free: test %rdi; je rel8; push",
     MT_KIND_FREE,
     {0x48, 0x85, 0xff, 0x74, 0x10, 0x55},
     3,
     false,
     0},
    {"reallocarray, another body: mov %rsi,%rax; push",
     MT_KIND_REALLOCARRAY,
     {0x48, 0x89, 0xf0, 0x55},
     3,
     false,
     0},
};

MT_TEST(insn_probe_site)
{
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		const struct entry_case *c = &entries[i];
		unsigned char b[MT_INSN_ENTRY_BYTES];
		bool slow = !c->slow;
		__u64 flags = ~0ULL;

		memset(b, 0xcc, sizeof(b));
		memcpy(b, c->b, sizeof(c->b)); /* zeros after the pattern: unknown too */
		ASSERT_EQ(mt_insn__probe_site(b, sizeof(b), c->kind, &slow, &flags), c->where,
			  c->what);
		ASSERT_EQ(slow, c->slow, c->what);
		ASSERT_EQ(flags, c->flags, c->what);
	}
}

MT_TEST(insn_probe_site_short)
{
	static const unsigned char push[MT_INSN_ENTRY_BYTES - 1] = {0x55};
	bool slow = false;
	__u64 flags = 1;

	ASSERT_EQ(mt_insn__probe_site(push, sizeof(push), MT_KIND_MALLOC, &slow, &flags), 0,
		  "too few bytes read");
	ASSERT_TRUE(slow && !flags, "stays single-stepped");
}

MT_TEST(insn_calls_and_stubs)
{
	/* call -16; jmp *0x2fe2(%rip); endbr64; bnd jmp *0x10(%rip) */
	static const unsigned char call[] = {0xe8, 0xf0, 0xff, 0xff, 0xff};
	static const unsigned char jmp[] = {0xff, 0x25, 0xe2, 0x2f, 0, 0};
	static const unsigned char sec[] = {0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff,
					    0x25, 0x10, 0,    0,    0};
	__s32 v;

	ASSERT_TRUE(mt_insn__call_rel32(call, sizeof(call), &v) && v == -16, "call rel32");
	ASSERT_FALSE(mt_insn__call_rel32(call, 4, &v), "call cut short");
	ASSERT_FALSE(mt_insn__call_rel32(jmp, sizeof(jmp), &v), "not a call");
	ASSERT_TRUE(mt_insn__jmp_rip(jmp, sizeof(jmp), &v) && v == 0x2fe2, "jmp *disp(%rip)");
	ASSERT_FALSE(mt_insn__jmp_rip(jmp, 5, &v), "jmp cut short");
	ASSERT_EQ(mt_insn__stub_start(sec, 5), 0, ".plt.sec entry starts at endbr64");
	ASSERT_EQ(mt_insn__stub_start(jmp, 0), 0, "plain .plt entry");
	ASSERT_EQ(mt_insn__rel32((const unsigned char *)"\x78\x56\x34\x12"), 0x12345678,
		  "little endian");
}

MT_TEST(insn_pymalloc_inlined)
{
	/* mov 0x...(%rip),%rax; cmp $imm32,%rax: the LTO+PGO thunk */
	static const unsigned char lto[] = {0x48, 0x8b, 0x05, 1, 2, 3,	  4,	0x48,
					    0x3d, 1,	2,    3, 4, 0x75, 0x05, 0xcc};
	/* cmp before any load: not the pattern */
	static const unsigned char plain[] = {0x48, 0x3d, 1, 2, 3, 4,	 0x48, 0x8b,
					      0x05, 1,	  2, 3, 4, 0xcc, 0xcc, 0xcc};

	ASSERT_TRUE(mt_insn__pymalloc_inlined(lto, sizeof(lto)), "inlined");
	ASSERT_FALSE(mt_insn__pymalloc_inlined(plain, sizeof(plain)), "not inlined");
	ASSERT_FALSE(mt_insn__pymalloc_inlined(lto, 5), "too short");
}
