/*
 * A bounds-checked reader for the protobuf wire format: just enough to walk
 * an ONNX file without libprotobuf.
 *
 * A message is a sequence of fields, each a key varint (field_number << 3 |
 * wire_type) followed by a value:
 *   wire 0  varint (1..10 bytes, 7 bits each, low group first)
 *   wire 1  8 little-endian bytes (fixed64, double)
 *   wire 2  varint length, then that many bytes (strings, bytes, messages,
 *           packed repeated scalars)
 *   wire 5  4 little-endian bytes (fixed32, float)
 * Wire types 3 and 4 (groups, deprecated) and 6, 7 do not exist in ONNX and
 * are refused. Every read is checked against the end of its buffer; nothing
 * here allocates, and field values point into the caller's buffer.
 */
#ifndef XCNN_PROTOBUF_H
#define XCNN_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>
#include "../base/error.h"

enum { XCNN_PB_VARINT = 0, XCNN_PB_FIXED64 = 1, XCNN_PB_BYTES = 2, XCNN_PB_FIXED32 = 5 };

/* A cursor over one message: [p, end). */
typedef struct xcnn_pb {
    const uint8_t *p;
    const uint8_t *end;
} xcnn_pb;

/* One field as read from the wire. */
typedef struct xcnn_pb_field {
    uint32_t number;
    int wire;             /* XCNN_PB_VARINT, _FIXED64, _BYTES or _FIXED32 */
    uint64_t u;           /* the value of wire types 0, 1 and 5 (raw bits) */
    const uint8_t *data;  /* wire 2: the bytes, inside the buffer          */
    size_t len;
} xcnn_pb_field;

void xcnn_pb_init(xcnn_pb *r, const uint8_t *data, size_t size);

/* Read the next field. Returns XCNN_OK with *more = 1 and *f filled, XCNN_OK
 * with *more = 0 at the end of the message, or XCNN_ERR_FORMAT (truncated
 * value, overlong varint, group or unknown wire type; `what` names the
 * message in the error). */
xcnn_status xcnn_pb_next(xcnn_pb *r, xcnn_pb_field *f, int *more, const char *what,
                         xcnn_err *err);

/* Read one varint at r->p (at most 10 bytes, the 10th holding bit 63 only). */
xcnn_status xcnn_pb_varint(xcnn_pb *r, uint64_t *v, const char *what, xcnn_err *err);

/* How to read the values of a repeated scalar field. */
typedef enum xcnn_pb_scalar {
    XCNN_PB_INT64, /* varint -> int64_t                                */
    XCNN_PB_INT32, /* varint, truncated to int32 -> int64_t            */
    XCNN_PB_FLOAT  /* fixed32 bits -> float                             */
} xcnn_pb_scalar;

/* The values carried by one occurrence of a repeated scalar field, packed
 * (wire 2) or not (a single value). With out == NULL only counts them into
 * *n. Otherwise writes them to out (int64_t[] for the integer kinds, float[]
 * for XCNN_PB_FLOAT), at most cap of them; more is an error. A wire type
 * that does not fit `kind` is a format error. */
xcnn_status xcnn_pb_scalars(const xcnn_pb_field *f, xcnn_pb_scalar kind, void *out,
                            size_t cap, size_t *n, const char *what, xcnn_err *err);

/* Little-endian loads from unaligned bytes. */
static inline uint32_t xcnn_pb_le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t xcnn_pb_le64(const uint8_t *b)
{
    return (uint64_t)xcnn_pb_le32(b) | (uint64_t)xcnn_pb_le32(b + 4) << 32;
}

#endif
