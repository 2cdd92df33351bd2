/*
 * NumPy .npy files, float32 only: the format our CLI reads inputs and
 * baselines from and writes attributions to.
 *
 * Layout: "\x93NUMPY", major, minor, header length (2 bytes in v1, 4 in
 * v2/v3, little-endian), then an ASCII Python dict such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 32, 32), }
 * padded with spaces and a newline, then the raw data in C order.
 * Every number in the header is checked before anything is allocated.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/error.h"

#define NPY_MAX_ELEMS ((uint64_t)1 << 28) /* 1 GiB of float32 */

static void set_err(char *dst, size_t size, const xcnn_err *e)
{
    if (dst && size) snprintf(dst, size, "%s", e->msg);
}

/* Find the value after 'key': in the header dict; NULL if absent. */
static const char *dict_value(const char *hdr, const char *key)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(hdr, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static xcnn_status parse_header(const char *hdr, const char *path, int *ndim,
                                int64_t dims[XCNN_MAX_DIMS], uint64_t *count, xcnn_err *e)
{
    const char *descr = dict_value(hdr, "descr");
    const char *fortran = dict_value(hdr, "fortran_order");
    const char *shape = dict_value(hdr, "shape");
    if (!descr || !fortran || !shape)
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape",
                         path);
    if (strncmp(descr, "'<f4'", 5) != 0 && strncmp(descr, "'|f4'", 5) != 0) {
        char d[16] = {0};
        for (int i = 0; i < 15 && descr[i] && descr[i] != ','; i++) d[i] = descr[i];
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED,
                         "%s: dtype %s is not little-endian float32 (save with "
                         "x.astype(numpy.float32))", path, d);
    }
    if (strncmp(fortran, "False", 5) != 0)
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED,
                         "%s: Fortran-order arrays are not supported (save a C-order array, "
                         "numpy.ascontiguousarray)", path);
    if (*shape != '(')
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
    const char *p = shape + 1;
    int n = 0;
    uint64_t total = 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p))
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
        uint64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > NPY_MAX_ELEMS)
                return xcnn_fail(e, XCNN_ERR_LIMIT, "%s: dimension too large", path);
            p++;
        }
        if (n == XCNN_MAX_DIMS)
            return xcnn_fail(e, XCNN_ERR_UNSUPPORTED, "%s: more than %d dimensions", path,
                             XCNN_MAX_DIMS);
        dims[n++] = (int64_t)v;
        if (v && total > NPY_MAX_ELEMS / v)
            return xcnn_fail(e, XCNN_ERR_LIMIT, "%s: array has too many elements", path);
        total *= v;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')')
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
    }
    *ndim = n;
    *count = total;
    return XCNN_OK;
}

xcnn_status xcnn_npy_read(const char *path, float **data, int *ndim,
                          int64_t dims[XCNN_MAX_DIMS], char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    unsigned char pre[12];
    char *hdr = NULL;
    float *buf = NULL;
    if (!path || !data || !ndim || !dims) return XCNN_ERR_ARG;
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        xcnn_fail(&e, XCNN_ERR_IO, "cannot open '%s'", path);
        set_err(errbuf, err_size, &e);
        return XCNN_ERR_IO;
    }
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    if (pre[6] == 1) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
               (uint32_t)pre[11] << 24;
    } else {
        st = xcnn_fail(&e, XCNN_ERR_UNSUPPORTED, "%s: .npy version %d is not supported", path,
                       pre[6]);
        goto done;
    }
    if (hlen > 65536) {
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: .npy header of %u bytes is implausible", path,
                       hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) { st = xcnn_fail(&e, XCNN_ERR_NOMEM, "out of memory"); goto done; }
    if (fread(hdr, 1, hlen, f) != hlen) {
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: truncated .npy header", path);
        goto done;
    }
    hdr[hlen] = 0;
    uint64_t count = 0;
    st = parse_header(hdr, path, ndim, dims, &count, &e);
    if (st) goto done;
    buf = malloc(count ? count * sizeof(float) : sizeof(float));
    if (!buf) { st = xcnn_fail(&e, XCNN_ERR_NOMEM, "out of memory"); goto done; }
    if (fread(buf, sizeof(float), count, f) != count) {
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: data is shorter than the shape says", path);
        goto done;
    }
    if (fgetc(f) != EOF) {
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: data is longer than the shape says", path);
        goto done;
    }
done:
    fclose(f);
    free(hdr);
    if (st) {
        free(buf);
        set_err(errbuf, err_size, &e);
        return st;
    }
    *data = buf;
    return XCNN_OK;
}

xcnn_status xcnn_npy_write(const char *path, const float *data, int ndim, const int64_t *dims,
                           char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    if (!path || (!data && ndim) || ndim < 0 || ndim > XCNN_MAX_DIMS) return XCNN_ERR_ARG;
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)dims[i],
                        ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= (size_t)dims[i];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* Pad so that magic + header is a multiple of 64 bytes, ending in '\n'. */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        xcnn_fail(&e, XCNN_ERR_IO, "cannot write '%s'", path);
        set_err(errbuf, err_size, &e);
        return XCNN_ERR_IO;
    }
    size_t hlen = (size_t)len + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && fwrite(data, sizeof(float), count, f) == count;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        xcnn_fail(&e, XCNN_ERR_IO, "error writing '%s'", path);
        set_err(errbuf, err_size, &e);
        return XCNN_ERR_IO;
    }
    return XCNN_OK;
}
