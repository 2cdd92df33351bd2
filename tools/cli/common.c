/* Helpers shared by the xcnn commands: errors, number parsing, loading. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xcnn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_ERROR;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xcnn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'xcnn help')\n", stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_float(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

xcnn_model *cli_load_model(const char *path, const cli_input_opts *o)
{
    char err[600];
    xcnn_model *m = NULL;
    if (xcnn_model_load(path, o ? &o->load : NULL, &m, err, sizeof err) != XCNN_OK) {
        cli_error("%s: %s", path, err);
        return NULL;
    }
    return m;
}

void cli_dims_str(const int64_t *dims, int ndim, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? "x%lld" : "%lld", (long long)dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

void cli_shape_str(const xcnn_tensor_view *v, char *buf, size_t size)
{
    cli_dims_str(v->dims, v->ndim, buf, size);
}

float *cli_load_input(const xcnn_model *m, const char *path)
{
    char err[600];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        cli_error("%s", err);
        return NULL;
    }
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    /* Accept the sample shape with or without the leading batch of 1. */
    int off = (ndim == in.ndim) ? 1 : 0;
    int ok = (ndim == in.ndim && dims[0] == 1) || ndim == in.ndim - 1;
    for (int i = 1; ok && i < in.ndim; i++) ok = dims[i - 1 + off] == in.dims[i];
    if (!ok) {
        char want[128], got[128];
        cli_dims_str(in.dims + 1, in.ndim - 1, want, sizeof want);
        cli_dims_str(dims, ndim, got, sizeof got);
        /* "input" would mislead when the file is a baseline */
        cli_error("%s has shape %s; the model's input is %s (or 1x%s)", path,
                  ndim ? got : "scalar", want, want);
        free(data);
        return NULL;
    }
    return data;
}

unsigned char *cli_read_model_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot open model '%s'", path);
        return NULL;
    }
    struct stat sb;
    long len = -1;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        cli_error("model '%s' is not a regular file", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        cli_error("cannot read model '%s'", path);
        return NULL;
    }
    if ((unsigned long)len > (1UL << 30)) {
        fclose(f);
        cli_error("model file '%s' is %ld bytes, over the limit of %lu", path, len, 1UL << 30);
        return NULL;
    }
    /* 64-byte aligned: an .xcnn image's weights may be used in place */
    unsigned char *buf = aligned_alloc(64, ((size_t)len + 64) / 64 * 64);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)len) {
        free(buf);
        cli_error(buf ? "short read on model '%s'" : "out of memory reading '%s'", path);
        return NULL;
    }
    *size = (size_t)len;
    return buf;
}

const char *cli_flag_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
