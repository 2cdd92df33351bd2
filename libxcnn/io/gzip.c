/*
 * gzip files (RFC 1952), and the CRC-32 they share with PNG.
 *
 * A gzip file is one or more members, each:
 *   1f 8b, CM = 8 (deflate), FLG, MTIME (4), XFL, OS,
 *   [FEXTRA: 2-byte length + data] [FNAME: zero-terminated]
 *   [FCOMMENT: zero-terminated] [FHCRC: low 16 bits of the header's CRC-32],
 *   deflate data, CRC-32 of the data, ISIZE = data length mod 2^32
 * (multi-byte fields little-endian). The decoded members are concatenated.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "inflate.h"

/* CRC-32, reflected polynomial 0xEDB88320, four bits at a time with a
 * 16-entry table: small enough to read, fast enough for a dataset. */
uint32_t xcnn_crc32(uint32_t crc, const unsigned char *p, size_t n)
{
    static const uint32_t t[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parse a member header at in[0..len); *hdr_len receives its size. */
static xcnn_status member_header(const unsigned char *in, size_t len, size_t *hdr_len, xcnn_err *err)
{
    if (len < 10) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip header is truncated");
    if (in[0] != 0x1f || in[1] != 0x8b) return xcnn_fail(err, XCNN_ERR_FORMAT, "not a gzip file (bad magic)");
    if (in[2] != 8)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "gzip compression method %u is not deflate", in[2]);
    unsigned flg = in[3];
    if (flg & 0xe0) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip header has reserved flags set");
    size_t p = 10;
    if (flg & 4) { /* FEXTRA */
        if (len - p < 2) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip header is truncated");
        size_t xlen = in[p] | (size_t)in[p + 1] << 8;
        p += 2;
        if (len - p < xlen) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip extra field is truncated");
        p += xlen;
    }
    for (unsigned bit = 8; bit <= 16; bit <<= 1) { /* FNAME, then FCOMMENT */
        if (!(flg & bit)) continue;
        const unsigned char *z = memchr(in + p, 0, len - p);
        if (!z) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip file name or comment is not terminated");
        p = (size_t)(z - in) + 1;
    }
    if (flg & 2) { /* FHCRC */
        if (len - p < 2) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip header is truncated");
        unsigned want = in[p] | (unsigned)in[p + 1] << 8;
        if (want != (xcnn_crc32(0, in, p) & 0xffffu))
            return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip header CRC mismatch");
        p += 2;
    }
    *hdr_len = p;
    return XCNN_OK;
}

/* Decode one member at in[0..len) into buf[pos..cap); *used and *produced
 * receive the bytes consumed and written. */
static xcnn_status member(const unsigned char *in, size_t len, unsigned char *buf, size_t pos,
                          size_t cap, size_t *used, size_t *produced, xcnn_err *err)
{
    size_t hdr = 0, dlen = 0, n = 0;
    xcnn_status st = member_header(in, len, &hdr, err);
    if (st) return st;
    st = xcnn_inflate(in + hdr, len - hdr, &dlen, buf + pos, cap - pos, &n, err);
    if (st) return st;
    size_t p = hdr + dlen;
    if (len - p < 8) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip member lacks its CRC and length");
    uint32_t crc = xcnn_crc32(0, buf + pos, n);
    if (le32(in + p) != crc)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip CRC-32 mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                         le32(in + p), crc);
    if (le32(in + p + 4) != (uint32_t)n)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip length mismatch (stored %" PRIu32 ", decoded %zu)",
                         le32(in + p + 4), n);
    *used = p + 8;
    *produced = n;
    return XCNN_OK;
}

xcnn_status xcnn_gzip_decode(const unsigned char *in, size_t in_len, size_t max_out,
                             unsigned char **out, size_t *out_len, xcnn_err *err)
{
    if (!out || !out_len || (!in && in_len)) return xcnn_fail(err, XCNN_ERR_ARG, "gzip: NULL argument");
    *out = NULL;
    *out_len = 0;
    if (in_len < 18) return xcnn_fail(err, XCNN_ERR_FORMAT, "gzip file is truncated (%zu bytes)", in_len);
    /* The last ISIZE is the whole length for a single member (mod 2^32)
     * and a lower bound otherwise; in a damaged file it is anything. Use it
     * as a first guess, capped by max_out and by what deflate can expand
     * in_len bytes to (at most 1032:1), and grow if needed. */
    size_t cap = le32(in + in_len - 4);
    if (cap > max_out) cap = max_out;
    if (in_len < ((size_t)-1 - 64) / 1032 && cap > in_len * 1032 + 64) cap = in_len * 1032 + 64;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for %zu bytes of gzip data", cap);
    size_t ip = 0, op = 0;
    xcnn_status st = XCNN_OK;
    while (ip < in_len) {
        size_t used = 0, n = 0;
        if (ip > 0 && (in_len - ip < 2 || in[ip] != 0x1f || in[ip + 1] != 0x8b)) {
            st = xcnn_fail(err, XCNN_ERR_FORMAT, "gzip file has %zu bytes of trailing garbage",
                           in_len - ip);
            break;
        }
        st = member(in + ip, in_len - ip, buf, op, cap, &used, &n, err);
        if (st == XCNN_ERR_LIMIT && cap < max_out) {
            /* A later member, or a lying ISIZE: grow and decode it again. */
            size_t grow = cap > max_out / 2 ? max_out : cap * 2;
            if (grow < 4096) grow = max_out < 4096 ? max_out : 4096;
            unsigned char *nb = realloc(buf, grow);
            if (!nb) {
                st = xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for %zu bytes of gzip data", grow);
                break;
            }
            buf = nb;
            cap = grow;
            continue;
        }
        if (st == XCNN_ERR_LIMIT)
            st = xcnn_fail(err, XCNN_ERR_LIMIT, "gzip data exceeds the limit of %zu bytes", max_out);
        if (st) break;
        ip += used;
        op += n;
    }
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = op;
    return XCNN_OK;
}
