/*
 * The many-input mode's options and input list (many.h): which inputs this
 * run takes, what their outputs are called, how one is loaded without
 * stopping the run, and how big a batch to reserve.
 *
 * A shard is every n-th input of the whole list, starting at the i-th
 * (--shard i/n): a rule on positions alone, so n processes given the same
 * list split it without talking to each other, and an input keeps its
 * position (the manifest's first column) whichever shard runs it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../include/xcnn_image.h"
#include "many.h"

int many_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "--out-dir")) return 1;
    return 0;
}

int many_flag(int argc, char **argv, int *i, many_opts *o, int *rc)
{
    const char *f = argv[*i];
    *rc = 0;
    if (!strcmp(f, "--force")) {
        o->force = 1;
        return 1;
    }
    if (strcmp(f, "--list") && strcmp(f, "--out-dir") && strcmp(f, "--shard")) return 0;
    if (*i + 1 >= argc) {
        *rc = cli_usage_error("%s needs a value", f);
        return 1;
    }
    const char *v = argv[++*i];
    if (!strcmp(f, "--list")) {
        o->list = v;
    } else if (!strcmp(f, "--out-dir")) {
        if (!*v) *rc = cli_usage_error("--out-dir needs a directory name");
        o->out_dir = v;
    } else {
        char buf[64];
        const char *slash = strchr(v, '/');
        if (slash && (size_t)(slash - v) < sizeof buf) {
            memcpy(buf, v, (size_t)(slash - v));
            buf[slash - v] = 0;
        }
        if (!slash || (size_t)(slash - v) >= sizeof buf ||
            cli_parse_int(slash + 1, 1, 1000000, &o->shard_n) ||
            cli_parse_int(buf, 0, o->shard_n - 1, &o->shard_i))
            *rc = cli_usage_error("--shard needs i/n with 0 <= i < n <= 1000000 (this process "
                                  "takes inputs i, i+n, i+2n, ...), got '%s'", v);
    }
    return 1;
}

/* The whole of --list (a file, or stdin for "-"), up to 1 GiB. */
static char *read_list(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("cannot open --list '%s'", path);
        return NULL;
    }
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    while (text) {
        if (len + 1 == cap) {
            char *more = cap < ((size_t)1 << 30) ? realloc(text, cap * 2) : NULL;
            if (!more) {
                free(text);
                text = NULL;
                cli_error("--list '%s' is over 1 GiB, or out of memory", path);
                break;
            }
            text = more;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                free(text);
                text = NULL;
                cli_error("cannot read --list '%s'", path);
            }
            break;
        }
    }
    if (text) text[len] = 0;
    else if (!cap) cli_error("out of memory");
    if (f != stdin) fclose(f);
    return text;
}

static char *stem_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, base, n);
        s[n] = 0;
    }
    return s;
}

typedef struct named {
    const char *stem;
    long index;
} named;

static int by_stem(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* "its output name ..." as a malloc'ed string (NULL: out of memory, and
 * the item then reads as fine: it is refused when its output collides) */
static char *collision(const char *stem, long k, const char *other)
{
    const char *fmt = "its output name '%s' is input %ld's (%s): rename one of them";
    size_t n = strlen(fmt) + strlen(stem) + strlen(other) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, stem, k, other);
    return s;
}

int many_list_build(many_list *l, const many_opts *o, char **args, int n_args)
{
    memset(l, 0, sizeof *l);
    long n_lines = 0;
    if (o->list) {
        if (!(l->text = read_list(o->list))) return CLI_EXIT_ERROR;
        for (const char *p = l->text; *p; p++) n_lines += *p == '\n';
        n_lines++;
    }
    const char **paths = malloc((size_t)(n_args + n_lines + 1) * sizeof *paths);
    if (!paths) {
        many_list_free(l);
        return cli_error("out of memory");
    }
    long n = 0;
    for (int i = 0; i < n_args; i++) paths[n++] = args[i];
    for (char *s = l->text; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r') s[--len] = 0;
        if (len) paths[n++] = s; /* blank lines are nothing */
        if (!e) break;
        s = e + 1;
    }
    l->n_total = n;
    if (n == 0) {
        free(paths);
        many_list_free(l); /* the list file's text */
        return cli_usage_error("no inputs: give INPUT arguments or --list FILE");
    }
    /* Output names: each input's stem; the first input (by position)
     * with a stem owns it, a later one is refused (an output must never
     * be overwritten by another input's). Over the whole list, so every
     * shard decides alike. */
    named *order = calloc((size_t)n, sizeof *order);
    long *owner = malloc((size_t)n * sizeof *owner);
    l->items = calloc((size_t)((n + o->shard_n - 1) / o->shard_n), sizeof *l->items);
    int rc = 0;
    if (!order || !owner || !l->items) rc = cli_error("out of memory");
    for (long i = 0; !rc && i < n; i++) {
        order[i].index = i;
        if (!(order[i].stem = stem_of(paths[i]))) {
            rc = cli_error("out of memory");
            n = i; /* the ones to free */
        }
    }
    if (!rc) qsort(order, (size_t)n, sizeof *order, by_stem);
    for (long k = 0; !rc && k < n; k++)
        owner[order[k].index] = k && !strcmp(order[k].stem, order[k - 1].stem)
                                    ? owner[order[k - 1].index]
                                    : order[k].index;
    for (long i = o->shard_i; !rc && i < n; i += o->shard_n) {
        many_item *it = &l->items[l->n_items++];
        it->index = i;
        it->path = paths[i];
        if (!(it->stem = stem_of(paths[i]))) {
            rc = cli_error("out of memory");
            break;
        }
        int ctrl = 0;
        for (const unsigned char *p = (const unsigned char *)it->path; *p; p++) ctrl |= *p < 32;
        if (ctrl) it->bad = strdup("the path holds a control character (a newline?)");
        else if (owner[i] != i) it->bad = collision(it->stem, owner[i], paths[owner[i]]);
    }
    for (long k = 0; order && k < n; k++) free((char *)order[k].stem);
    free(order);
    free(owner);
    free(paths); /* the items point at args and text, not at paths[] */
    if (rc) many_list_free(l);
    return rc;
}

void many_list_free(many_list *l)
{
    for (long i = 0; l->items && i < l->n_items; i++) {
        free(l->items[i].stem);
        free(l->items[i].bad);
    }
    free(l->items);
    free(l->text);
    memset(l, 0, sizeof *l);
}

static int is_npy(const char *path)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 1; /* the .npy reader reports the open error */
    size_t n = fread(magic, 1, 6, f);
    fclose(f);
    return n == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
}

/* The messages are cli_load_any_input's (input.c), kept rather than
 * printed: a bad input is a row of the manifest, not the end of the run. */
int many_load(const xcnn_model *m, const char *path, const cli_input_opts *io, float *x,
              int *is_image, char *err, size_t err_size)
{
    many_shape shape;
    many_shape_of(m, &shape);
    return many_load_shaped(&shape, path, io, x, is_image, err, err_size);
}

void many_shape_of(const xcnn_model *m, many_shape *shape)
{
    xcnn_model_input(m, &shape->in);
    shape->preprocess = xcnn_model_metadata(m, "xcnn.preprocess");
}

int many_load_shaped(const many_shape *shape, const char *path, const cli_input_opts *io,
                     float *x, int *is_image, char *err, size_t err_size)
{
    const xcnn_tensor_view in = shape->in;
    size_t numel = 1;
    for (int i = 1; i < in.ndim; i++) numel *= (size_t)in.dims[i];
    *is_image = !is_npy(path);
    if (!*is_image) {
        float *data = NULL;
        int ndim = 0;
        int64_t dims[XCNN_MAX_DIMS];
        if (xcnn_npy_read(path, &data, &ndim, dims, err, err_size) != XCNN_OK) return -1;
        int off = ndim == in.ndim ? 1 : 0;
        int ok = (ndim == in.ndim && dims[0] == 1) || ndim == in.ndim - 1;
        for (int i = 1; ok && i < in.ndim; i++) ok = dims[i - 1 + off] == in.dims[i];
        if (!ok) {
            char want[128], got[128];
            cli_dims_str(in.dims + 1, in.ndim - 1, want, sizeof want);
            cli_dims_str(dims, ndim, got, sizeof got);
            snprintf(err, err_size, "%s has shape %s; the model's input is %s (or 1x%s)", path,
                     ndim ? got : "scalar", want, want);
            free(data);
            return -1;
        }
        memcpy(x, data, numel * sizeof(float));
        free(data);
        return 0;
    }
    if (in.ndim != 4 || (in.dims[1] != 1 && in.dims[1] != 3) ||
        in.dims[2] * in.dims[3] > XCNN_IMAGE_MAX_PIXELS || in.dims[2] > XCNN_IMAGE_MAX_SIDE ||
        in.dims[3] > XCNN_IMAGE_MAX_SIDE) {
        snprintf(err, err_size, "%s: this model's input is not a 1- or 3-channel image within "
                 "the image limits; give a .npy", path);
        return -1;
    }
    xcnn_image img;
    if (xcnn_image_read(path, &img, err, err_size) != XCNN_OK) return -1;
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *meta = shape->preprocess;
    char e2[400];
    int rc = 0;
    /* the recipes were checked before the run (cli_input_flag and the
     * first input); a failure here is still said, not assumed away */
    if ((meta && xcnn_preprocess_parse(meta, &p, e2, sizeof e2) != XCNN_OK) ||
        (io->preprocess && xcnn_preprocess_parse(io->preprocess, &p, e2, sizeof e2) != XCNN_OK)) {
        snprintf(err, err_size, "preprocessing: %s", e2);
        rc = -1;
    } else if (xcnn_image_to_tensor(&img, &p, (int)in.dims[1], (int)in.dims[2],
                                    (int)in.dims[3], x, e2, sizeof e2) != XCNN_OK) {
        snprintf(err, err_size, "%s: %s", path, e2);
        rc = -1;
    }
    xcnn_image_free(&img);
    return rc;
}

/* Past the caches a bigger batch only adds memory traffic: the library's
 * batched passes stop at about this much (explain/passes.c). */
#define MANY_PASS_BYTES ((size_t)96 << 20)

int many_reserve(xcnn_model *m, int want)
{
    if (want < 1) want = 1;
    size_t one = xcnn_model_arena_bytes(m);
    int b = want;
    if (want > 1) {
        if (xcnn_model_reserve(m, 2) != XCNN_OK) {
            cli_error("%s", xcnn_model_error(m));
            return 0;
        }
        size_t per = xcnn_model_arena_bytes(m) - one;
        size_t fit = per ? MANY_PASS_BYTES / per : (size_t)want;
        if (fit < 2) fit = 2; /* a sample per thread at least (2 cores) */
        if ((size_t)b > fit) b = (int)fit;
    }
    if (xcnn_model_reserve(m, b) != XCNN_OK) {
        cli_error("%s", xcnn_model_error(m));
        return 0;
    }
    return b;
}

int many_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The header xcnn_npy_write writes (io/npy.c): magic, version 1.0, its
 * length, the dict, spaces to a multiple of 64 bytes, a newline. Its
 * length; the elements' count into *count. */
static size_t npy_header(unsigned char *head, size_t size, int ndim, const int64_t *dims,
                         long long *count)
{
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    *count = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)dims[i],
                        ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        *count *= dims[i];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64, hlen = (size_t)len + pad + 1;
    if (head && 10 + hlen <= size) {
        memcpy(head, "\x93NUMPY\x01\x00", 8);
        head[8] = (unsigned char)(hlen & 0xff);
        head[9] = (unsigned char)(hlen >> 8);
        memcpy(head + 10, dict, (size_t)len);
        memset(head + 10 + len, ' ', pad);
        head[10 + hlen - 1] = '\n';
    }
    return 10 + hlen;
}

long long many_npy_bytes(int ndim, const int64_t *dims)
{
    long long count;
    size_t head = npy_header(NULL, 0, ndim, dims, &count);
    return (long long)head + 4 * count;
}

int many_write_npy(const char *path, const float *data, int ndim, const int64_t *dims,
                   char *err, size_t err_size)
{
    unsigned char head[640];
    long long count;
    size_t hlen = npy_header(head, sizeof head, ndim, dims, &count);
    char tmp[4300];
    const char *slash = strrchr(path, '/');
    int n = snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.XXXXXX", slash ? (int)(slash - path + 1) : 0,
                     path, slash ? slash + 1 : path);
    if (n < 0 || (size_t)n >= sizeof tmp || hlen > sizeof head) {
        snprintf(err, err_size, "%s: the path is too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, err_size, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t bytes = (size_t)count * sizeof(float);
    int ok = write(fd, head, hlen) == (ssize_t)hlen;
    for (size_t at = 0; ok && at < bytes;) {
        ssize_t w = write(fd, (const char *)data + at, bytes - at);
        ok = w > 0;
        if (ok) at += (size_t)w;
    }
    int e = ok ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    /* whole, then renamed into place: a crash leaves the old file or the
     * new one, never a part (a power cut may still lose it: the manifest
     * is synced once per batch, not each output: see manifest.c) */
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        snprintf(err, err_size, "cannot write '%s': %s", path, strerror(e));
        return -1;
    }
    return 0;
}
