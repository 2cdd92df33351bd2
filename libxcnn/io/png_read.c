/*
 * Reading PNG files (image_read.c picks the decoder for a file).
 *
 * A PNG is an 8-byte signature and chunks: 4-byte big-endian length, 4-byte
 * type, data, CRC-32 of type and data. IHDR comes first (width, height, bit
 * depth, colour type, compression 0, filter 0, interlace 0 or 1 = Adam7);
 * PLTE holds the palette, tRNS transparency, the IDAT chunks together one
 * zlib stream, IEND ends the file. Chunks we do not know are skipped if
 * ancillary (lower-case first letter) and refused if critical.
 *
 * The zlib stream decodes to rows, each a filter-type byte and the row's
 * bytes; filters predict each byte from its left (a), upper (b) and
 * upper-left (c) neighbours a pixel apart: 0 None, 1 Sub (a), 2 Up (b),
 * 3 Average (floor((a+b)/2)), 4 Paeth (whichever of a, b, c is closest to
 * a+b-c). An interlaced image is 7 such sub-images (Adam7 passes).
 *
 * Safety: every chunk length is checked against the file before it is
 * read, the image size against XCNN_IMAGE_MAX_* before anything is
 * allocated, and the inflater may produce exactly the bytes the header
 * implies and not one more.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inflate.h"

typedef struct {
    const char *name;
    xcnn_err *err;
    uint32_t width, height;
    int depth, ctype, interlace;
    int spp;      /* samples per pixel in the file       */
    int channels; /* in the decoded image: 1, 3 or 4     */
    unsigned char plte[256 * 3];
    int plte_n;
    unsigned char trns[256]; /* palette alpha            */
    int trns_n;
    int has_key;             /* tRNS colour key (gray / RGB) */
    unsigned key[3];
} png_info;

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static xcnn_status parse_ihdr(png_info *pi, const unsigned char *d, uint32_t len)
{
    if (len != 13)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: IHDR has %" PRIu32 " bytes, not 13", pi->name, len);
    pi->width = be32(d);
    pi->height = be32(d + 4);
    pi->depth = d[8];
    pi->ctype = d[9];
    pi->interlace = d[12];
    if (pi->width == 0 || pi->height == 0 || pi->width > 0x7fffffffu || pi->height > 0x7fffffffu)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: invalid PNG size %" PRIu32 "x%" PRIu32, pi->name,
                         pi->width, pi->height);
    if (pi->width > XCNN_IMAGE_MAX_SIDE || pi->height > XCNN_IMAGE_MAX_SIDE ||
        (int64_t)pi->width * pi->height > XCNN_IMAGE_MAX_PIXELS)
        return xcnn_fail(pi->err, XCNN_ERR_LIMIT,
                         "%s: PNG is %" PRIu32 "x%" PRIu32 ", over the limit (%d per side, %lld pixels)", pi->name,
                         pi->width, pi->height, XCNN_IMAGE_MAX_SIDE,
                         (long long)XCNN_IMAGE_MAX_PIXELS);
    int d8 = pi->depth == 8, d16 = pi->depth == 16, dlow = pi->depth == 1 || pi->depth == 2 || pi->depth == 4;
    int ok;
    switch (pi->ctype) {
    case 0: ok = d8 || d16 || dlow; pi->spp = 1; break;
    case 2: ok = d8 || d16; pi->spp = 3; break;
    case 3: ok = d8 || dlow; pi->spp = 1; break;
    case 4: ok = d8 || d16; pi->spp = 2; break;
    case 6: ok = d8 || d16; pi->spp = 4; break;
    default: ok = 0;
    }
    if (!ok)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: invalid PNG colour type %d with bit depth %d",
                         pi->name, pi->ctype, pi->depth);
    if (d[10] != 0 || d[11] != 0)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: unknown PNG compression or filter method",
                         pi->name);
    if (pi->interlace > 1)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: unknown PNG interlace method %d", pi->name,
                         pi->interlace);
    return XCNN_OK;
}

static xcnn_status parse_plte(png_info *pi, const unsigned char *d, uint32_t len)
{
    if (len % 3 || len == 0 || len > 256 * 3)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: PLTE has %" PRIu32 " bytes (1..256 RGB entries expected)",
                         pi->name, len);
    memcpy(pi->plte, d, len);
    pi->plte_n = (int)(len / 3);
    return XCNN_OK;
}

static xcnn_status parse_trns(png_info *pi, const unsigned char *d, uint32_t len)
{
    if (pi->ctype == 3) {
        if (len > (uint32_t)pi->plte_n)
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: tRNS has %" PRIu32 " entries, palette only %d",
                             pi->name, len, pi->plte_n);
        memcpy(pi->trns, d, len);
        pi->trns_n = (int)len;
    } else if (pi->ctype == 0 || pi->ctype == 2) {
        uint32_t want = pi->ctype == 0 ? 2 : 6;
        if (len != want)
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: tRNS has %" PRIu32 " bytes, expected %" PRIu32, pi->name,
                             len, want);
        for (uint32_t k = 0; k < want / 2; k++) pi->key[k] = (unsigned)d[2 * k] << 8 | d[2 * k + 1];
        pi->has_key = 1;
    } /* colour types with alpha have no tRNS; ignore it as other readers do */
    return XCNN_OK;
}

/* Walk the chunks; the IDAT data is gathered into *idat (*idat_len bytes). */
static xcnn_status read_chunks(png_info *pi, const unsigned char *data, size_t size,
                               unsigned char **idat, size_t *idat_len)
{
    size_t pos = 8;
    int seen_plte = 0, seen_iend = 0, n = 0;
    *idat = NULL;
    *idat_len = 0;
    while (!seen_iend) {
        if (size - pos < 12)
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: PNG ends without an IEND chunk (truncated?)",
                             pi->name);
        uint32_t len = be32(data + pos);
        const unsigned char *type = data + pos + 4, *d = data + pos + 8;
        char tname[5];
        for (int k = 0; k < 4; k++) {
            int c = type[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
                return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: invalid chunk type at byte %zu",
                                 pi->name, pos + 4);
            tname[k] = (char)c;
        }
        tname[4] = 0;
        if (len > 0x7fffffffu || len > size - pos - 12)
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT,
                             "%s: chunk '%s' length %" PRIu32 " runs past the end of the file", pi->name,
                             tname, len);
        uint32_t crc = be32(d + len);
        if (crc != xcnn_crc32(0, type, (size_t)len + 4))
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: CRC mismatch in chunk '%s'", pi->name, tname);
        pos += (size_t)len + 12;
        xcnn_status st = XCNN_OK;
        if (n++ == 0 && strcmp(tname, "IHDR") != 0)
            return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: first chunk is '%s', not IHDR", pi->name,
                             tname);
        if (!strcmp(tname, "IHDR")) {
            if (n > 1) return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: second IHDR chunk", pi->name);
            st = parse_ihdr(pi, d, len);
        } else if (!strcmp(tname, "PLTE")) {
            if (*idat) return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: PLTE after IDAT", pi->name);
            seen_plte = 1;
            st = parse_plte(pi, d, len);
        } else if (!strcmp(tname, "tRNS")) {
            st = parse_trns(pi, d, len);
        } else if (!strcmp(tname, "IDAT")) {
            /* All IDAT data fits in the file, so a file-sized buffer holds it. */
            if (!*idat && !(*idat = malloc(size)))
                return xcnn_fail(pi->err, XCNN_ERR_NOMEM, "%s: out of memory", pi->name);
            memcpy(*idat + *idat_len, d, len);
            *idat_len += len;
        } else if (!strcmp(tname, "IEND")) {
            seen_iend = 1;
        } else if (!(type[0] & 0x20)) {
            return xcnn_fail(pi->err, XCNN_ERR_UNSUPPORTED, "%s: unknown critical PNG chunk '%s'",
                             pi->name, tname);
        }
        if (st) return st;
    }
    if (!*idat) return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: PNG has no IDAT chunk", pi->name);
    if (pi->ctype == 3 && !seen_plte)
        return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: palette PNG has no PLTE chunk", pi->name);
    return XCNN_OK;
}

/* Adam7: pass p covers pixels (x0 + i*dx, y0 + j*dy). Pass 0 alone is the
 * whole image when not interlaced. */
static const int adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};

static void pass_geometry(const png_info *pi, int p, size_t *w, size_t *h)
{
    if (!pi->interlace) {
        *w = pi->width;
        *h = pi->height;
        return;
    }
    const int *a = adam7[p];
    *w = pi->width > (uint32_t)a[0] ? (pi->width - (uint32_t)a[0] + (uint32_t)a[2] - 1) / (uint32_t)a[2] : 0;
    *h = pi->height > (uint32_t)a[1] ? (pi->height - (uint32_t)a[1] + (uint32_t)a[3] - 1) / (uint32_t)a[3] : 0;
}

static size_t row_bytes(const png_info *pi, size_t w)
{
    return (w * (size_t)(pi->spp * pi->depth) + 7) / 8;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

/* Undo the filter of one row in place; prev is the row above (already
 * unfiltered) or NULL for the first row of a pass. */
static int unfilter(unsigned char *row, const unsigned char *prev, size_t n, size_t bpp, int type)
{
    if (type < 0 || type > 4) return 0;
    if (type == 0) return 1;
    for (size_t i = 0; i < n; i++) {
        int a = i >= bpp ? row[i - bpp] : 0;
        int b = prev ? prev[i] : 0;
        int c = prev && i >= bpp ? prev[i - bpp] : 0;
        int pred;
        switch (type) {
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        default: pred = paeth(a, b, c);
        }
        row[i] = (unsigned char)(row[i] + pred);
    }
    return 1;
}

/* Sample i of an unfiltered row: packed most significant bits first below
 * 8 bits, big-endian at 16. */
static unsigned sample(const unsigned char *row, size_t i, int depth)
{
    if (depth == 8) return row[i];
    if (depth == 16) return (unsigned)row[2 * i] << 8 | row[2 * i + 1];
    size_t bit = i * (size_t)depth;
    return (row[bit >> 3] >> (8 - depth - (int)(bit & 7))) & ((1u << depth) - 1);
}

static unsigned char to8(unsigned v, int depth)
{
    if (depth == 16) return (unsigned char)(v >> 8);
    if (depth == 8) return (unsigned char)v;
    return (unsigned char)(v * 255u / ((1u << depth) - 1));
}

/* Convert row r of pass p into the image. */
static xcnn_status put_row(const png_info *pi, const unsigned char *row, size_t w, int p, size_t r,
                           xcnn_image *img)
{
    size_t x0 = 0, dx = 1, y = r;
    if (pi->interlace) {
        x0 = (size_t)adam7[p][0];
        dx = (size_t)adam7[p][2];
        y = (size_t)adam7[p][1] + r * (size_t)adam7[p][3];
    }
    int ch = img->channels;
    for (size_t i = 0; i < w; i++) {
        unsigned v[4] = {0, 0, 0, 0};
        for (int k = 0; k < pi->spp; k++) v[k] = sample(row, i * (size_t)pi->spp + (size_t)k, pi->depth);
        unsigned char px[4];
        switch (pi->ctype) {
        case 0:
            px[0] = px[1] = px[2] = to8(v[0], pi->depth);
            px[3] = pi->has_key && v[0] == pi->key[0] ? 0 : 255;
            break;
        case 2:
            for (int k = 0; k < 3; k++) px[k] = to8(v[k], pi->depth);
            px[3] = pi->has_key && v[0] == pi->key[0] && v[1] == pi->key[1] && v[2] == pi->key[2] ? 0 : 255;
            break;
        case 3:
            if (v[0] >= (unsigned)pi->plte_n)
                return xcnn_fail(pi->err, XCNN_ERR_FORMAT,
                                 "%s: palette index %u out of range (palette has %d entries)",
                                 pi->name, v[0], pi->plte_n);
            memcpy(px, pi->plte + 3 * v[0], 3);
            px[3] = v[0] < (unsigned)pi->trns_n ? pi->trns[v[0]] : 255;
            break;
        case 4:
            px[0] = px[1] = px[2] = to8(v[0], pi->depth);
            px[3] = to8(v[1], pi->depth);
            break;
        default:
            for (int k = 0; k < 4; k++) px[k] = to8(v[k], pi->depth);
        }
        memcpy(img->pixels + (y * (size_t)img->width + x0 + i * dx) * (size_t)ch, px, (size_t)ch);
    }
    return XCNN_OK;
}

/* Unfilter and convert every pass of the decoded stream raw. */
static xcnn_status decode_rows(const png_info *pi, unsigned char *raw, xcnn_image *img)
{
    size_t bpp = (size_t)(pi->spp * pi->depth + 7) / 8;
    int passes = pi->interlace ? 7 : 1;
    for (int p = 0; p < passes; p++) {
        size_t w, h;
        pass_geometry(pi, p, &w, &h);
        if (w == 0 || h == 0) continue; /* empty passes have no bytes at all */
        size_t rb = row_bytes(pi, w);
        const unsigned char *prev = NULL;
        for (size_t r = 0; r < h; r++) {
            int type = raw[0];
            unsigned char *row = raw + 1;
            if (!unfilter(row, prev, rb, bpp, type))
                return xcnn_fail(pi->err, XCNN_ERR_FORMAT, "%s: invalid filter type %d (pass %d, row %zu)",
                                 pi->name, type, p + 1, r);
            xcnn_status st = put_row(pi, row, w, p, r, img);
            if (st) return st;
            prev = row;
            raw += rb + 1;
        }
    }
    return XCNN_OK;
}

xcnn_status xcnn_png_decode(const unsigned char *data, size_t size, const char *name,
                            xcnn_image *out, xcnn_err *err)
{
    png_info pi;
    memset(&pi, 0, sizeof pi);
    pi.name = name ? name : "PNG";
    pi.err = err;
    memset(out, 0, sizeof *out);
    if (size < 8 || memcmp(data, png_sig, 8) != 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: not a PNG file (bad signature)", pi.name);
    unsigned char *idat = NULL, *raw = NULL;
    size_t idat_len = 0;
    xcnn_status st = read_chunks(&pi, data, size, &idat, &idat_len);
    if (st) goto done;

    /* The exact size of the filtered rows: the inflater may not exceed it. */
    size_t expect = 0;
    for (int p = 0; p < (pi.interlace ? 7 : 1); p++) {
        size_t w, h;
        pass_geometry(&pi, p, &w, &h);
        if (w && h) expect += h * (row_bytes(&pi, w) + 1);
    }
    pi.channels = pi.ctype == 0 ? 1 : pi.ctype == 2 || pi.ctype == 3 ? 3 : 4;
    if (pi.has_key || pi.trns_n) pi.channels = 4;
    raw = malloc(expect);
    out->pixels = malloc((size_t)pi.width * pi.height * (size_t)pi.channels);
    if (!raw || !out->pixels) {
        st = xcnn_fail(err, XCNN_ERR_NOMEM, "%s: out of memory for a %" PRIu32 "x%" PRIu32 " image", pi.name,
                       pi.width, pi.height);
        goto done;
    }
    out->width = (int)pi.width;
    out->height = (int)pi.height;
    out->channels = pi.channels;
    size_t got = 0;
    xcnn_err zerr = {{0}};
    st = xcnn_zlib_decode(idat, idat_len, raw, expect, &got, &zerr);
    if (st == XCNN_ERR_LIMIT) {
        st = xcnn_fail(err, XCNN_ERR_FORMAT, "%s: image data is longer than the %zu bytes a %" PRIu32 "x%" PRIu32 " image needs",
                       pi.name, expect, pi.width, pi.height);
        goto done;
    }
    if (st) {
        st = xcnn_fail(err, st, "%s: image data: %s", pi.name, zerr.msg);
        goto done;
    }
    if (got != expect) {
        st = xcnn_fail(err, XCNN_ERR_FORMAT, "%s: image data is truncated (%zu of %zu bytes)", pi.name,
                       got, expect);
        goto done;
    }
    st = decode_rows(&pi, raw, out);
done:
    free(idat);
    free(raw);
    if (st) xcnn_image_free(out);
    return st;
}
