/* Protobuf wire-format reader (see protobuf.h). Every length is compared
 * with the bytes left before it is used, so a hostile file can only make
 * a read fail, never run past the buffer. */
#include <inttypes.h>
#include <string.h>
#include "protobuf.h"

void xcnn_pb_init(xcnn_pb *r, const uint8_t *data, size_t size)
{
    r->p = data;
    r->end = data ? data + size : data; /* no arithmetic on NULL */
}

static size_t left(const xcnn_pb *r)
{
    return (size_t)(r->end - r->p);
}

xcnn_status xcnn_pb_varint(xcnn_pb *r, uint64_t *v, const char *what, xcnn_err *err)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: truncated (varint runs past the end)",
                             what);
        uint8_t b = *r->p++;
        /* The 10th byte carries bit 63 only: anything more would overflow. */
        if (i == 9 && b > 1)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: varint longer than 64 bits", what);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return XCNN_OK;
        }
    }
    return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: varint longer than 10 bytes", what);
}

xcnn_status xcnn_pb_next(xcnn_pb *r, xcnn_pb_field *f, int *more, const char *what,
                         xcnn_err *err)
{
    *more = 0;
    if (r->p >= r->end) return XCNN_OK;
    uint64_t key;
    xcnn_status st = xcnn_pb_varint(r, &key, what, err);
    if (st) return st;
    uint64_t number = key >> 3;
    if (number == 0 || number > 0x1fffffff)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: invalid field number %llu", what,
                         (unsigned long long)number);
    memset(f, 0, sizeof *f);
    f->number = (uint32_t)number;
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case XCNN_PB_VARINT:
        st = xcnn_pb_varint(r, &f->u, what, err);
        break;
    case XCNN_PB_FIXED64:
        if (left(r) < 8)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: truncated (field %" PRIu32 ")", what,
                             f->number);
        f->u = xcnn_pb_le64(r->p);
        r->p += 8;
        break;
    case XCNN_PB_FIXED32:
        if (left(r) < 4)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: truncated (field %" PRIu32 ")", what,
                             f->number);
        f->u = xcnn_pb_le32(r->p);
        r->p += 4;
        break;
    case XCNN_PB_BYTES: {
        uint64_t len;
        st = xcnn_pb_varint(r, &len, what, err);
        if (st) return st;
        /* Compare with what is left, never add to the pointer first. */
        if (len > (uint64_t)left(r))
            return xcnn_fail(err, XCNN_ERR_FORMAT,
                             "%s: truncated (field %" PRIu32 " claims %llu bytes, %zu left)", what,
                             f->number, (unsigned long long)len, left(r));
        f->data = r->p;
        f->len = (size_t)len;
        r->p += f->len;
        break;
    }
    case 3:
    case 4:
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: field %" PRIu32 " is a protobuf group (not ONNX)",
                         what, f->number);
    default:
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: field %" PRIu32 " has invalid wire type %d",
                         what, f->number, f->wire);
    }
    if (st) return st;
    *more = 1;
    return XCNN_OK;
}

/* Store value number i of kind `kind` from raw bits u. */
static void put(void *out, size_t i, xcnn_pb_scalar kind, uint64_t u)
{
    if (kind == XCNN_PB_FLOAT) {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, sizeof f);
        ((float *)out)[i] = f;
    } else if (kind == XCNN_PB_INT32) {
        /* int32 values are sign-extended to 64 bits on the wire. */
        ((int64_t *)out)[i] = (int64_t)(int32_t)(uint32_t)u;
    } else {
        ((int64_t *)out)[i] = (int64_t)u;
    }
}

xcnn_status xcnn_pb_scalars(const xcnn_pb_field *f, xcnn_pb_scalar kind, void *out,
                            size_t cap, size_t *n, const char *what, xcnn_err *err)
{
    int want = kind == XCNN_PB_FLOAT ? XCNN_PB_FIXED32 : XCNN_PB_VARINT;
    *n = 0;
    if (f->wire == want) { /* unpacked: one value per field */
        if (out) {
            if (cap < 1) goto too_many;
            put(out, 0, kind, f->u);
        }
        *n = 1;
        return XCNN_OK;
    }
    if (f->wire != XCNN_PB_BYTES)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: field %" PRIu32 " has wire type %d, expected %d",
                         what, f->number, f->wire, want);
    if (want == XCNN_PB_FIXED32) { /* packed floats: 4 bytes each */
        if (f->len % 4)
            return xcnn_fail(err, XCNN_ERR_FORMAT,
                             "%s: packed floats of %zu bytes (not a multiple of 4)", what,
                             f->len);
        size_t count = f->len / 4;
        if (out) {
            if (count > cap) goto too_many;
            for (size_t i = 0; i < count; i++) put(out, i, kind, xcnn_pb_le32(f->data + 4 * i));
        }
        *n = count;
        return XCNN_OK;
    }
    xcnn_pb r; /* packed varints */
    xcnn_pb_init(&r, f->data, f->len);
    size_t count = 0;
    while (r.p < r.end) {
        uint64_t u = 0; /* set by xcnn_pb_varint; riscv64 gcc 12 cannot see it */
        xcnn_status st = xcnn_pb_varint(&r, &u, what, err);
        if (st) return st;
        if (out) {
            if (count >= cap) goto too_many;
            put(out, count, kind, u);
        }
        count++;
    }
    *n = count;
    return XCNN_OK;
too_many:
    return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: more values in field %" PRIu32 " than counted", what,
                     f->number);
}
