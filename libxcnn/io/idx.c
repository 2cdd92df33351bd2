/*
 * idx files: the array format of MNIST and Fashion-MNIST.
 *
 * Big-endian header: two zero bytes, a type byte (0x08 = unsigned byte;
 * 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64 exist but
 * are not used by these datasets), the number of dimensions, then one
 * 32-bit size per dimension; then the data in C order. The files are
 * usually distributed gzip-compressed; we recognise that by the gzip magic
 * (1f 8b) and decode in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inflate.h"
#include "../base/format.h"

static xcnn_status parse(unsigned char *buf, size_t len, const char *path, xcnn_idx *out,
                         xcnn_err *e)
{
    if (len < 4 || buf[0] != 0 || buf[1] != 0)
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: not an idx file (bad magic)", path);
    if (buf[2] != 0x08)
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED,
                         "%s: idx data type 0x%02x is not supported (only unsigned bytes, 0x08)",
                         path, buf[2]);
    int ndim = buf[3];
    if (ndim < 1 || ndim > 4)
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED, "%s: idx array has %d dimensions (1 to 4 supported)",
                         path, ndim);
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr) return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: idx header is truncated", path);
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *p = buf + 4 + 4 * i;
        uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        out->dims[i] = d;
        if (d && total > XCNN_DATA_MAX_BYTES / d)
            return xcnn_fail(e, XCNN_ERR_LIMIT, "%s: idx array is larger than %zu bytes", path,
                             XCNN_DATA_MAX_BYTES);
        total *= d;
    }
    if (len - hdr != total)
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: idx data has %zu bytes, the header says %zu", path,
                         len - hdr, total);
    out->ndim = ndim;
    out->size = total;
    /* Keep the one buffer: move the data to its start. */
    memmove(buf, buf + hdr, total);
    out->data = buf;
    return XCNN_OK;
}

xcnn_status xcnn_idx_read(const char *path, xcnn_idx *out, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    unsigned char *file = NULL, *buf = NULL;
    size_t size = 0, len = 0;
    xcnn_status st;
    if (!path || !out) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_idx_read: NULL argument");
        goto done;
    }
    memset(out, 0, sizeof *out);
    st = xcnn_read_file(path, XCNN_DATA_MAX_BYTES, &file, &size, &e);
    if (st) goto done;
    if (size >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
        xcnn_err ge = {{0}};
        st = xcnn_gzip_decode(file, size, XCNN_DATA_MAX_BYTES, &buf, &len, &ge);
        free(file);
        if (st) {
            xcnn_fail(&e, st, "%s: %s", path, ge.msg);
            goto done;
        }
    } else {
        buf = file;
        len = size;
    }
    st = parse(buf, len, path, out, &e);
    if (st) {
        free(buf);
        memset(out, 0, sizeof *out);
    }
done:
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}

void xcnn_idx_free(xcnn_idx *idx)
{
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
