/*
 * Writing 8-bit PNG files (gray or RGB) with our own deflate.
 * A PNG is the signature, then chunks (length, type, data, CRC-32): IHDR
 * (size, bit depth 8, colour type 0 = gray or 2 = RGB), IDAT (a zlib
 * stream of the rows), IEND. Each row is stored with filter type 2 ("Up":
 * each byte minus the byte above it), which turns smooth heatmaps into
 * runs of small numbers that deflate compresses well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atomic_file.h"
#include "inflate.h"
#include "png_write.h"
#include "../../include/xcnn_image.h"
#include "../base/format.h"

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_chunk(xcnn_atomic_file *f, const char *type, const unsigned char *data,
                        uint32_t len)
{
    unsigned char hdr[8];
    put_be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uint32_t crc = xcnn_crc32(0, hdr + 4, 4);
    crc = xcnn_crc32(crc, data, len);
    unsigned char tail[4];
    put_be32(tail, crc);
    xcnn_atomic_write(f, hdr, 8);
    xcnn_atomic_write(f, data, len);
    xcnn_atomic_write(f, tail, 4);
}

xcnn_status xcnn_png_write(const char *path, const unsigned char *pixels, int width, int height,
                           int channels, xcnn_err *err)
{
    if (!path || !pixels)
        return xcnn_fail(err, XCNN_ERR_ARG, "PNG writer: %s is NULL", !path ? "path" : "pixels");
    if (width <= 0 || height <= 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "PNG size %dx%d is out of range", width, height);
    /* Nothing bigger than the reader takes back (xcnn_image.h's caps). */
    if (width > XCNN_IMAGE_MAX_SIDE || height > XCNN_IMAGE_MAX_SIDE ||
        (int64_t)width * height > XCNN_IMAGE_MAX_PIXELS)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "PNG size %dx%d is over the limit (%d per side, "
                         "%lld pixels)", width, height, XCNN_IMAGE_MAX_SIDE,
                         (long long)XCNN_IMAGE_MAX_PIXELS);
    if (channels != 1 && channels != 3)
        return xcnn_fail(err, XCNN_ERR_ARG, "PNG writer takes 1 or 3 channels, not %d",
                         channels);
    size_t stride = (size_t)width * (size_t)channels, row = stride + 1;
    size_t raw_n = row * (size_t)height;
    unsigned char *raw = malloc(raw_n);
    if (!raw) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing '%s'", path);
    for (size_t y = 0; y < (size_t)height; y++) {
        unsigned char *dst = raw + y * row;
        const unsigned char *cur = pixels + y * stride, *up = y ? cur - stride : NULL;
        dst[0] = 2; /* Up */
        for (size_t i = 0; i < stride; i++)
            dst[1 + i] = (unsigned char)(cur[i] - (up ? up[i] : 0));
    }
    unsigned char *z = NULL;
    size_t zn = 0;
    xcnn_status st = xcnn_zlib_encode(raw, raw_n, 6, &z, &zn, err);
    free(raw);
    if (st) return st;

    /* Whole or not at all: a temporary file renamed into place when
     * complete (atomic_file.h). */
    xcnn_atomic_file f;
    if ((st = xcnn_atomic_open(&f, path, err))) {
        free(z);
        return st;
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;                      /* bit depth */
    ihdr[9] = channels == 1 ? 0 : 2;  /* gray or RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, filter method 0, no interlace */
    xcnn_atomic_write(&f, sig, 8);
    write_chunk(&f, "IHDR", ihdr, 13);
    write_chunk(&f, "IDAT", z, (uint32_t)zn);
    write_chunk(&f, "IEND", NULL, 0);
    free(z);
    return xcnn_atomic_commit(&f, err);
}

xcnn_status xcnn_png_write_rgb(const char *path, const unsigned char *rgb, int width, int height,
                               xcnn_err *err)
{
    return xcnn_png_write(path, rgb, width, height, 3, err);
}

xcnn_status xcnn_image_write_png(const char *path, const xcnn_image *img, char *errbuf,
                                 size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = (!path || !img || !img->pixels)
                         ? xcnn_fail(&e, XCNN_ERR_ARG, "PNG writer: NULL argument")
                         : xcnn_png_write(path, img->pixels, img->width, img->height,
                                          img->channels, &e);
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}
