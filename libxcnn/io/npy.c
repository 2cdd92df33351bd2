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
#include <inttypes.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/error.h"
#include "atomic_file.h"

#define NPY_MAX_ELEMS ((uint64_t)1 << 28) /* 1 GiB of float32 */

static void set_err(char *dst, size_t size, const xcnn_err *e)
{
    if (dst && size) xcnn_format(dst, size, "%s", e->msg);
}

/*
 * The header is a Python literal, which numpy reads with ast.literal_eval
 * and accepts only as a dict of exactly the keys 'descr', 'fortran_order'
 * and 'shape', shape a tuple of ints, fortran_order a bool. We read it as
 * a small grammar, not by searching for the keys, and refuse everything
 * numpy refuses: another syntax, unknown or missing keys, a shape that is
 * not a tuple ("(5)" is an int; numpy writes "(5,)"), numbers Python does
 * not take ("01"). Where numpy is lenient in a way that could make the
 * same file mean two things we are stricter: a key given twice (Python
 * keeps the last; a search finds the first) is refused, and so are
 * escapes, comments and number forms numpy never writes (1_0, 0x10, +1).
 */
typedef struct {
    const char *p, *end;
} lexer;

static void skip_space(lexer *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r' ||
                             *l->p == '\f' || *l->p == '\v'))
        l->p++;
}

/* The next character after spaces, without taking it; 0 at the end. */
static char peek(lexer *l)
{
    skip_space(l);
    return l->p < l->end ? *l->p : 0;
}

static int take(lexer *l, char c)
{
    if (peek(l) != c || !c) return 0;
    l->p++;
    return 1;
}

/* A quoted string without escapes into buf; 0 if there is none or it
 * does not fit. */
static int read_string(lexer *l, char *buf, size_t size)
{
    char q = peek(l);
    if (q != '\'' && q != '"') return 0;
    const char *s = ++l->p;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || *l->p == '\n' || *l->p == 0) return 0;
        l->p++;
    }
    if (l->p >= l->end || (size_t)(l->p - s) >= size) return 0;
    memcpy(buf, s, (size_t)(l->p - s));
    buf[l->p - s] = 0;
    l->p++;
    return 1;
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static xcnn_status parse_shape(lexer *l, const char *path, int old_format, int *ndim,
                               int64_t dims[XCNN_MAX_DIMS], uint64_t *count, xcnn_err *e)
{
    if (!take(l, '('))
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy shape is not a tuple", path);
    int n = 0;
    uint64_t total = 1;
    int closed = take(l, ')'), trailing = 0;
    while (!closed) {
        char c = peek(l);
        if (c == '-')
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy shape has a negative dimension", path);
        if (!isdigit((unsigned char)c))
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
        /* Python 3 reads "01" as a syntax error; numpy never writes it */
        if (c == '0' && l->p + 1 < l->end && isdigit((unsigned char)l->p[1]))
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy shape has a number with a leading "
                             "zero", path);
        uint64_t v = 0;
        while (l->p < l->end && isdigit((unsigned char)*l->p)) {
            v = v * 10 + (uint64_t)(*l->p - '0');
            if (v > NPY_MAX_ELEMS)
                return xcnn_fail(e, XCNN_ERR_LIMIT, "%s: dimension too large", path);
            l->p++;
        }
        /* 1L: a Python 2 long; numpy drops the L in format versions 1 and 2 */
        if (old_format && l->p < l->end && *l->p == 'L') l->p++;
        if (l->p < l->end && name_char(*l->p))
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed number in .npy shape", path);
        if (n == XCNN_MAX_DIMS)
            return xcnn_fail(e, XCNN_ERR_UNSUPPORTED, "%s: more than %d dimensions", path,
                             XCNN_MAX_DIMS);
        dims[n++] = (int64_t)v;
        if (v && total > NPY_MAX_ELEMS / v)
            return xcnn_fail(e, XCNN_ERR_LIMIT, "%s: array has too many elements", path);
        total *= v;
        trailing = take(l, ',');
        closed = take(l, ')');
        if (!closed && !trailing)
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
    }
    if (n == 1 && !trailing)
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy shape (%lld) is a number, not a tuple "
                         "(numpy writes (%lld,))", path, (long long)dims[0], (long long)dims[0]);
    *ndim = n;
    *count = total;
    return XCNN_OK;
}

static xcnn_status parse_header(const char *hdr, size_t hlen, int version, const char *path,
                                int *ndim, int64_t dims[XCNN_MAX_DIMS], uint64_t *count,
                                xcnn_err *e)
{
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    lexer l = {hdr, hdr + hlen};
    int seen[3] = {0, 0, 0}, fortran = 0;
    char descr[32] = "";
    if (!take(&l, '{'))
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header is not a dict", path);
    while (!take(&l, '}')) {
        char key[32];
        if (!read_string(&l, key, sizeof key) || !take(&l, ':'))
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed .npy header (expected "
                             "'key': value)", path);
        int k = 0;
        while (k < 3 && strcmp(key, keys[k])) k++;
        if (k == 3)
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header has an unknown key '%s' "
                             "(numpy's are descr, fortran_order and shape)", path, key);
        if (seen[k]++)
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header gives '%s' twice", path, key);
        xcnn_status st = XCNN_OK;
        if (k == 0) {
            if (peek(&l) == '[')
                return xcnn_fail(e, XCNN_ERR_UNSUPPORTED, "%s: a structured dtype is not "
                                 "float32 (save with x.astype(numpy.float32))", path);
            if (!read_string(&l, descr, sizeof descr))
                return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed descr in .npy header", path);
        } else if (k == 1) {
            skip_space(&l);
            const char *s = l.p;
            size_t n = 0;
            while (s + n < l.end && name_char(s[n])) n++;
            if (n == 4 && !memcmp(s, "True", 4)) fortran = 1;
            else if (n == 5 && !memcmp(s, "False", 5)) fortran = 0;
            else
                return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy fortran_order is not True or "
                                 "False", path);
            l.p = s + n;
        } else {
            st = parse_shape(&l, path, version <= 2, ndim, dims, count, e);
        }
        if (st) return st;
        if (!take(&l, ',') && peek(&l) != '}')
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: malformed .npy header (expected ',' or "
                             "'}' after '%s')", path, key);
    }
    if (peek(&l))
        return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header has text after its dict", path);
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return xcnn_fail(e, XCNN_ERR_FORMAT, "%s: .npy header lacks '%s'", path, keys[k]);
    if (strcmp(descr, "<f4") != 0 && strcmp(descr, "|f4") != 0)
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED,
                         "%s: dtype '%s' is not little-endian float32 (save with "
                         "x.astype('<f4'))", path, descr);
    if (fortran)
        return xcnn_fail(e, XCNN_ERR_UNSUPPORTED,
                         "%s: Fortran-order arrays are not supported (save a C-order array, "
                         "numpy.ascontiguousarray)", path);
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
    if (data) *data = NULL;
    if (!path || !data || !ndim || !dims) {
        xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_npy_read: %s is NULL",
                  !path ? "path" : !data ? "data" : !ndim ? "ndim" : "dims");
        set_err(errbuf, err_size, &e);
        return XCNN_ERR_ARG;
    }
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
        st = xcnn_fail(&e, XCNN_ERR_FORMAT, "%s: .npy header of %" PRIu32 " bytes is implausible", path,
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
    st = parse_header(hdr, hlen, pre[6], path, ndim, dims, &count, &e);
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

/* Everything about the call checked before a byte is written: the shape
 * is read from the caller's dims (a negative one would turn into a huge
 * count and a read past data), and the file must be one xcnn_npy_read
 * takes back. A zero dimension is a valid empty array, as in numpy. */
static xcnn_status check_write_args(const char *path, const float *data, int ndim,
                                    const int64_t *dims, xcnn_err *e)
{
    if (!path) return xcnn_fail(e, XCNN_ERR_ARG, "xcnn_npy_write: path is NULL");
    if (ndim < 0 || ndim > XCNN_MAX_DIMS)
        return xcnn_fail(e, XCNN_ERR_ARG, "xcnn_npy_write: '%s': ndim is %d (0 to %d)", path,
                         ndim, XCNN_MAX_DIMS);
    if (!dims && ndim > 0)
        return xcnn_fail(e, XCNN_ERR_ARG, "xcnn_npy_write: '%s': dims is NULL for %d "
                         "dimensions", path, ndim);
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return xcnn_fail(e, XCNN_ERR_ARG, "xcnn_npy_write: '%s': dimension %d is %lld",
                             path, i, (long long)dims[i]);
        uint64_t v = (uint64_t)dims[i];
        if (v > NPY_MAX_ELEMS || (v && count > NPY_MAX_ELEMS / v))
            return xcnn_fail(e, XCNN_ERR_LIMIT, "xcnn_npy_write: '%s': the shape has more "
                             "than %llu elements, more than xcnn_npy_read takes", path,
                             (unsigned long long)NPY_MAX_ELEMS);
        count *= v;
    }
    if (!data && count)
        return xcnn_fail(e, XCNN_ERR_ARG, "xcnn_npy_write: '%s': data is NULL for %llu "
                         "elements", path, (unsigned long long)count);
    return XCNN_OK;
}

xcnn_status xcnn_npy_write(const char *path, const float *data, int ndim, const int64_t *dims,
                           char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status ast = check_write_args(path, data, ndim, dims, &e);
    if (ast) {
        set_err(errbuf, err_size, &e);
        return ast;
    }
    char dict[512];
    int len = xcnn_format(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += xcnn_format(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)dims[i],
                        ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= (size_t)dims[i];
    }
    len += xcnn_format(dict + len, sizeof dict - (size_t)len, "), }");
    /* Pad so that magic + header is a multiple of 64 bytes, ending in '\n'. */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)len + pad + 1;
    unsigned char head[10 + sizeof dict + 64] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                                 (unsigned char)(hlen & 0xff),
                                                 (unsigned char)(hlen >> 8)};
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', pad);
    head[10 + hlen - 1] = '\n';
    /* A temporary file renamed into place when complete (atomic_file.h):
     * a failed write leaves the earlier file at path as it was. */
    xcnn_atomic_file af;
    xcnn_status st = xcnn_atomic_open(&af, path, &e);
    if (!st) {
        xcnn_atomic_write(&af, head, 10 + hlen);
        xcnn_atomic_write(&af, data, count * sizeof(float));
        st = xcnn_atomic_commit(&af, &e);
    }
    if (st) set_err(errbuf, err_size, &e);
    return st;
}
