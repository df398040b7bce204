/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small protocol-buffers writer: just what profile.proto needs (varints
 * and length-delimited fields), no schema, no reflection.
 *
 * Wire format: every field is a key, varint (field << 3 | wire type), then
 * the value: wire type 0 a varint, wire type 2 a varint length and that
 * many bytes (a string, bytes, a packed repeated field or a nested
 * message). A negative int64 is its two's complement as a 10-byte varint
 * (no zigzag: that is sint64, which profile.proto does not use).
 *
 * The buffer grows as needed. An allocation failure is sticky: later
 * calls do nothing and mt_pb__err() returns -ENOMEM, so a whole message
 * can be written and checked once at the end.
 */
#ifndef MT_PROTO_H
#define MT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum mt_pb_wire {
	MT_PB_VARINT = 0,
	MT_PB_LEN = 2,
};

struct mt_pb {
	unsigned char *buf;
	size_t len, cap;
	int err; /* 0 or -ENOMEM, sticky */
};

/* Start an empty buffer (no allocation yet). */
void mt_pb__init(struct mt_pb *pb);
/* Free the buffer; pb may be NULL. pb is empty again afterwards. */
void mt_pb__free(struct mt_pb *pb);
/* 0, or -ENOMEM when an allocation failed since mt_pb__init. */
int mt_pb__err(const struct mt_pb *pb);

/* Raw varint, 1 to 10 bytes. */
void mt_pb__varint(struct mt_pb *pb, __u64 v);
/* len bytes of data as they are (already encoded fields). */
void mt_pb__raw(struct mt_pb *pb, const void *data, size_t len);
/* A field's key: (field << 3) | wire. */
void mt_pb__key(struct mt_pb *pb, __u32 field, enum mt_pb_wire wire);
/* uint64 / int64 fields (int64: negative values take 10 bytes). Written even when 0. */
void mt_pb__u64(struct mt_pb *pb, __u32 field, __u64 v);
void mt_pb__s64(struct mt_pb *pb, __u32 field, __s64 v);
/* bool field (1 or 0). */
void mt_pb__bool(struct mt_pb *pb, __u32 field, bool v);
/* Length-delimited field holding len bytes of data. */
void mt_pb__bytes(struct mt_pb *pb, __u32 field, const void *data, size_t len);
/* string field; NULL is written as "". */
void mt_pb__str(struct mt_pb *pb, __u32 field, const char *s);

/*
 * A nested message or packed repeated field: mt_pb__begin writes the key
 * and returns a mark; write the body; mt_pb__end(pb, mark) then puts the
 * body's length in front of it. Nests: end the inner one first.
 */
size_t mt_pb__begin(struct mt_pb *pb, __u32 field);
void mt_pb__end(struct mt_pb *pb, size_t mark);

/* Bytes a varint of v takes (1 to 10). */
size_t mt_pb__varint_len(__u64 v);

#endif
