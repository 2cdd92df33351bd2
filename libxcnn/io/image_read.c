/*
 * Reading any image file: the whole file into memory (xcnn_read_file, with
 * a size cap), then the decoder its first bytes name: PNG (png_read.c) or
 * PPM/PGM (pnm.c). Kept apart from both decoders so that neither calls the
 * other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inflate.h"
#include "../base/format.h"

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

xcnn_status xcnn_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size,
                           xcnn_err *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return xcnn_fail(err, XCNN_ERR_IO, "cannot open '%s'", path);
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    xcnn_status st = XCNN_OK;
    for (;;) {
        if (!buf) {
            st = xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory reading '%s'", path);
            break;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break; /* end of file or error */
        if (cap > max_bytes) {
            st = xcnn_fail(err, XCNN_ERR_LIMIT, "'%s' is larger than %zu bytes", path, max_bytes);
            break;
        }
        /* Grow to at most max_bytes + 1: one byte over the cap is enough
         * to refuse, so a huge or endless file never costs 2 x the cap. */
        size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
        unsigned char *nb = realloc(buf, ncap);
        if (!nb) free(buf);
        buf = nb;
        cap = ncap;
    }
    if (!st && ferror(f)) st = xcnn_fail(err, XCNN_ERR_IO, "error reading '%s'", path);
    if (!st && n > max_bytes)
        st = xcnn_fail(err, XCNN_ERR_LIMIT, "'%s' is larger than %zu bytes", path, max_bytes);
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    *data = buf;
    *size = n;
    return XCNN_OK;
}

static void copy_err(char *dst, size_t size, const xcnn_err *e)
{
    if (dst && size) xcnn_format(dst, size, "%s", e->msg);
}

xcnn_status xcnn_image_read_memory(const void *data, size_t size, const char *name,
                                   xcnn_image *out, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st;
    const unsigned char *d = data;
    if (!name) name = "image";
    if (!out || (!data && size)) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_image_read: NULL argument");
    } else if (size >= 8 && memcmp(d, png_sig, 8) == 0) {
        st = xcnn_png_decode(d, size, name, out, &e);
    } else if (size >= 2 && d[0] == 'P' && d[1] && strchr("2356", d[1])) {
        st = xcnn_pnm_decode(d, size, name, out, &e);
    } else {
        memset(out, 0, sizeof *out);
        const char *what = size >= 2 && d[0] == 0xff && d[1] == 0xd8 ? " (it is a JPEG)" : "";
        st = xcnn_fail(&e, XCNN_ERR_UNSUPPORTED,
                       "%s: not a PNG, PPM or PGM file%s; convert it to PNG", name, what);
    }
    if (st) copy_err(errbuf, err_size, &e);
    return st;
}

xcnn_status xcnn_image_read(const char *path, xcnn_image *out, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) {
        xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_image_read: NULL argument");
        copy_err(errbuf, err_size, &e);
        return XCNN_ERR_ARG;
    }
    unsigned char *data = NULL;
    size_t size = 0;
    xcnn_status st = xcnn_read_file(path, XCNN_DATA_MAX_BYTES, &data, &size, &e);
    if (st) {
        copy_err(errbuf, err_size, &e);
        return st;
    }
    st = xcnn_image_read_memory(data, size, path, out, errbuf, err_size);
    free(data);
    return st;
}
