// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The protocol-buffers writer (see proto.h for the wire format). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "output/proto.h"

void mt_pb__init(struct mt_pb *pb)
{
	memset(pb, 0, sizeof(*pb));
}

void mt_pb__free(struct mt_pb *pb)
{
	if (!pb)
		return;
	free(pb->buf);
	mt_pb__init(pb);
}

int mt_pb__err(const struct mt_pb *pb)
{
	return pb->err;
}

/* Room for n more bytes; false (and the sticky error) when there is none. */
static bool reserve(struct mt_pb *pb, size_t n)
{
	size_t cap = pb->cap ? pb->cap : 256;
	unsigned char *p;

	if (pb->err)
		return false;
	if (pb->len + n <= pb->cap)
		return true;
	while (cap < pb->len + n) {
		if (cap > (size_t)-1 / 2) {
			pb->err = -ENOMEM;
			return false;
		}
		cap *= 2;
	}
	p = realloc(pb->buf, cap);
	if (!p) {
		pb->err = -ENOMEM;
		return false;
	}
	pb->buf = p;
	pb->cap = cap;
	return true;
}

size_t mt_pb__varint_len(__u64 v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Encode v at p (room for 10 bytes); returns the bytes written. */
static size_t put_varint(unsigned char *p, __u64 v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

void mt_pb__varint(struct mt_pb *pb, __u64 v)
{
	if (reserve(pb, 10))
		pb->len += put_varint(pb->buf + pb->len, v);
}

void mt_pb__raw(struct mt_pb *pb, const void *data, size_t len)
{
	if (len && reserve(pb, len)) {
		memcpy(pb->buf + pb->len, data, len);
		pb->len += len;
	}
}

void mt_pb__key(struct mt_pb *pb, __u32 field, enum mt_pb_wire wire)
{
	mt_pb__varint(pb, (__u64)field << 3 | wire);
}

void mt_pb__u64(struct mt_pb *pb, __u32 field, __u64 v)
{
	mt_pb__key(pb, field, MT_PB_VARINT);
	mt_pb__varint(pb, v);
}

void mt_pb__s64(struct mt_pb *pb, __u32 field, __s64 v)
{
	mt_pb__u64(pb, field, (__u64)v);
}

void mt_pb__bool(struct mt_pb *pb, __u32 field, bool v)
{
	mt_pb__u64(pb, field, v ? 1 : 0);
}

void mt_pb__bytes(struct mt_pb *pb, __u32 field, const void *data, size_t len)
{
	mt_pb__key(pb, field, MT_PB_LEN);
	mt_pb__varint(pb, len);
	mt_pb__raw(pb, data, len);
}

void mt_pb__str(struct mt_pb *pb, __u32 field, const char *s)
{
	mt_pb__bytes(pb, field, s ? s : "", s ? strlen(s) : 0);
}

/*
 * The body's length is not known yet: begin leaves it out and end moves
 * the body up by the length's size. Bodies are small (one sample, one
 * location), so the move costs little; only the top-level message is large.
 */
size_t mt_pb__begin(struct mt_pb *pb, __u32 field)
{
	mt_pb__key(pb, field, MT_PB_LEN);
	return pb->len;
}

void mt_pb__end(struct mt_pb *pb, size_t mark)
{
	size_t body, n;

	if (pb->err || mark > pb->len)
		return;
	body = pb->len - mark;
	n = mt_pb__varint_len(body);
	if (!reserve(pb, n))
		return;
	memmove(pb->buf + mark + n, pb->buf + mark, body);
	put_varint(pb->buf + mark, body);
	pb->len += n;
}
