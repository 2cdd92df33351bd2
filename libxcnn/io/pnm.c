/*
 * Netpbm images: PGM (gray) and PPM (RGB), read and write.
 *
 * Header: "P5" (binary gray), "P6" (binary RGB), "P2" / "P3" (the same in
 * ASCII decimal), then width, height and maxval as decimal numbers
 * separated by whitespace, where '#' starts a comment running to the end of
 * the line. Binary data starts after exactly one whitespace byte following
 * maxval: one byte per sample if maxval < 256, else two (big-endian).
 * Samples are scaled to 0..255 (rounded) when maxval is not 255.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atomic_file.h"
#include "inflate.h"
#include "../base/format.h"

typedef struct {
    const unsigned char *d;
    size_t size, pos;
} cursor;

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The next decimal number, skipping whitespace and comments; -1 if there
 * is none, -2 if it is larger than 2^30. */
static long next_number(cursor *c)
{
    while (c->pos < c->size) {
        int ch = c->d[c->pos];
        if (is_space(ch)) {
            c->pos++;
        } else if (ch == '#') {
            while (c->pos < c->size && c->d[c->pos] != '\n' && c->d[c->pos] != '\r') c->pos++;
        } else {
            break;
        }
    }
    if (c->pos >= c->size || c->d[c->pos] < '0' || c->d[c->pos] > '9') return -1;
    long v = 0;
    while (c->pos < c->size && c->d[c->pos] >= '0' && c->d[c->pos] <= '9') {
        v = v * 10 + (c->d[c->pos++] - '0');
        if (v > (1L << 30)) return -2;
    }
    return v;
}

static unsigned char scale(long v, long maxval)
{
    return maxval == 255 ? (unsigned char)v : (unsigned char)((v * 255 + maxval / 2) / maxval);
}

xcnn_status xcnn_pnm_decode(const unsigned char *data, size_t size, const char *name,
                            xcnn_image *out, xcnn_err *err)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "PNM";
    if (size < 2 || data[0] != 'P' || !data[1] || !strchr("2356", data[1]))
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: not a PGM or PPM file (P2, P3, P5, P6)", name);
    int kind = data[1] - '0';
    int ascii = kind == 2 || kind == 3;
    int ch = kind == 3 || kind == 6 ? 3 : 1;
    cursor c = {data, size, 2};
    long w = next_number(&c), h = next_number(&c), maxval = next_number(&c);
    if (w == -1 || h == -1 || maxval == -1)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: P%d header is truncated or malformed", name, kind);
    if (w == 0 || h == 0 || maxval < 1 || maxval > 65535)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: invalid P%d header (%ldx%ld, maxval %ld)", name,
                         kind, w, h, maxval);
    if (w < 0 || h < 0 || w > XCNN_IMAGE_MAX_SIDE || h > XCNN_IMAGE_MAX_SIDE ||
        (int64_t)w * h > XCNN_IMAGE_MAX_PIXELS)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "%s: image is over the size limit (%d per side, %lld pixels)",
                         name, XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
    size_t n = (size_t)w * (size_t)h * (size_t)ch;
    size_t bps = maxval < 256 ? 1 : 2;
    if (!ascii) {
        if (c.pos >= size || !is_space(data[c.pos]))
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: P%d header is not followed by whitespace", name,
                             kind);
        c.pos++;
        if ((size - c.pos) / bps < n)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: P%d data is truncated (%zu of %zu bytes)", name,
                             kind, size - c.pos, n * bps);
    }
    out->pixels = malloc(n);
    if (!out->pixels) return xcnn_fail(err, XCNN_ERR_NOMEM, "%s: out of memory", name);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = ch;
    for (size_t i = 0; i < n; i++) {
        long v;
        if (ascii) {
            v = next_number(&c);
            if (v == -1) {
                xcnn_image_free(out);
                return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: P%d data is truncated (%zu of %zu samples)",
                                 name, kind, i, n);
            }
        } else if (bps == 1) {
            v = data[c.pos + i];
        } else {
            v = (long)data[c.pos + 2 * i] << 8 | data[c.pos + 2 * i + 1];
        }
        if (v > maxval || v < 0) {
            xcnn_image_free(out);
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: sample %zu exceeds maxval %ld", name, i, maxval);
        }
        out->pixels[i] = scale(v, maxval);
    }
    return XCNN_OK;
}

xcnn_status xcnn_image_write_pnm(const char *path, const xcnn_image *img, char *errbuf,
                                 size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    if (!path || !img || !img->pixels || img->width <= 0 || img->height <= 0) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_image_write_pnm: empty image or NULL argument");
    } else if (img->width > XCNN_IMAGE_MAX_SIDE || img->height > XCNN_IMAGE_MAX_SIDE ||
               (int64_t)img->width * img->height > XCNN_IMAGE_MAX_PIXELS) {
        st = xcnn_fail(&e, XCNN_ERR_LIMIT, "cannot write '%s': %dx%d is over the image limit "
                       "(%d per side, %lld pixels)", path, img->width, img->height,
                       XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
    } else if (img->channels != 1 && img->channels != 3) {
        st = xcnn_fail(&e, XCNN_ERR_ARG,
                       "cannot write '%s': PNM holds 1 or 3 channels, the image has %d", path,
                       img->channels);
    } else {
        /* Whole or not at all (atomic_file.h). */
        xcnn_atomic_file af;
        st = xcnn_atomic_open(&af, path, &e);
        if (!st) {
            size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
            char head[64];
            int len = xcnn_format(head, sizeof head, "P%c\n%d %d\n255\n",
                               img->channels == 1 ? '5' : '6', img->width, img->height);
            xcnn_atomic_write(&af, head, (size_t)len);
            xcnn_atomic_write(&af, img->pixels, n);
            st = xcnn_atomic_commit(&af, &e);
        }
    }
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}
