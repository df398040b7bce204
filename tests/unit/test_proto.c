// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The protocol-buffers writer: varints, keys, int64, strings, nested messages. */
#include <errno.h>
#include <stdint.h>
#include "output/proto.h"
#include "test.h"

/* pb's bytes equal the expected ones. */
static bool bytes_eq(const struct mt_pb *pb, const unsigned char *want, size_t n, const char *what)
{
	if (!ASSERT_OK(mt_pb__err(pb), what) || !ASSERT_EQ(pb->len, n, what))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ASSERT_EQ(pb->buf[i], want[i], what))
			return false;
	return true;
}

MT_TEST(proto_varint)
{
	static const struct {
		__u64 v;
		unsigned char b[10];
		size_t n;
	} cases[] = {
	    {0, {0x00}, 1},
	    {1, {0x01}, 1},
	    {127, {0x7f}, 1},
	    {128, {0x80, 0x01}, 2},
	    {300, {0xac, 0x02}, 2},
	    {16383, {0xff, 0x7f}, 2},
	    {16384, {0x80, 0x80, 0x01}, 3},
	    {0xffffffffULL, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
	    {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mt_pb pb;

		mt_pb__init(&pb);
		mt_pb__varint(&pb, cases[i].v);
		bytes_eq(&pb, cases[i].b, cases[i].n, "varint");
		ASSERT_EQ(mt_pb__varint_len(cases[i].v), cases[i].n, "varint_len");
		mt_pb__free(&pb);
	}
}

MT_TEST(proto_fields)
{
	/* field 1 = 150 (the protobuf docs' example), field 2 = "testing" */
	static const unsigned char want[] = {0x08, 0x96, 0x01, 0x12, 0x07, 't',	 'e',  's',  't',
					     'i',  'n',	 'g',  0x18, 0x00, 0x22, 0x00, 0x28, 0x01};
	struct mt_pb pb;

	mt_pb__init(&pb);
	mt_pb__u64(&pb, 1, 150);
	mt_pb__str(&pb, 2, "testing");
	mt_pb__u64(&pb, 3, 0); /* zero values are written, not skipped */
	mt_pb__str(&pb, 4, NULL);
	mt_pb__bool(&pb, 5, true);
	bytes_eq(&pb, want, sizeof(want), "fields");
	mt_pb__free(&pb);
	mt_pb__free(&pb); /* again, harmless */
	mt_pb__free(NULL);
}

MT_TEST(proto_negative_int64)
{
	/* int64 -1 and -2: two's complement, ten bytes, not zigzag */
	static const unsigned char want[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0x01, 0x10, 0xfe, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	struct mt_pb pb;

	mt_pb__init(&pb);
	mt_pb__s64(&pb, 2, -1);
	mt_pb__s64(&pb, 2, -2);
	bytes_eq(&pb, want, sizeof(want), "int64 -1, -2");
	mt_pb__free(&pb);
}

MT_TEST(proto_nested)
{
	/* field 3 { field 1 = 150 }, then a 200-byte body (two-byte length) */
	static const unsigned char head[] = {0x1a, 0x03, 0x08, 0x96, 0x01, 0x22, 0xc8, 0x01};
	unsigned char big[200];
	struct mt_pb pb;
	size_t m, m2;

	memset(big, 'x', sizeof(big));
	mt_pb__init(&pb);
	m = mt_pb__begin(&pb, 3);
	mt_pb__u64(&pb, 1, 150);
	mt_pb__end(&pb, m);
	m = mt_pb__begin(&pb, 4);
	mt_pb__raw(&pb, big, sizeof(big));
	mt_pb__end(&pb, m);
	if (!ASSERT_EQ(pb.len, sizeof(head) + sizeof(big), "len") ||
	    !ASSERT_TRUE(!memcmp(pb.buf, head, sizeof(head)), "head") ||
	    !ASSERT_TRUE(!memcmp(pb.buf + sizeof(head), big, sizeof(big)), "body"))
		goto out;
	mt_pb__free(&pb);

	/* nested twice, and an empty message */
	m = mt_pb__begin(&pb, 1);
	m2 = mt_pb__begin(&pb, 2);
	mt_pb__u64(&pb, 1, 1);
	mt_pb__end(&pb, m2);
	mt_pb__end(&pb, m);
	m = mt_pb__begin(&pb, 5);
	mt_pb__end(&pb, m);
	{
		static const unsigned char want[] = {0x0a, 0x04, 0x12, 0x02,
						     0x08, 0x01, 0x2a, 0x00};

		bytes_eq(&pb, want, sizeof(want), "nested");
	}
out:
	mt_pb__free(&pb);
}
