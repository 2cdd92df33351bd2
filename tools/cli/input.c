/*
 * What the commands share about inputs: an INPUT is a float32 .npy (used
 * as it is) or an image (PNG, PPM, PGM) turned into the model's input by
 * the preprocessing in the model's "xcnn.preprocess" metadata, overridden
 * by --preprocess; class names come from --labels FILE or the model's
 * "xcnn.labels" metadata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_image.h"
#include "cli.h"

int cli_input_flag(int argc, char **argv, int *i, cli_input_opts *o, int *rc)
{
    const char *f = argv[*i];
    *rc = 0;
    if (strcmp(f, "--preprocess") && strcmp(f, "--labels") && strcmp(f, "--input-shape") &&
        strcmp(f, "--max-arena-mb"))
        return 0;
    if (*i + 1 >= argc) {
        *rc = cli_usage_error("%s needs a value", f);
        return 1;
    }
    if (!strcmp(f, "--preprocess")) {
        /* Checked now: a bad spec is a usage mistake, not a bad input. */
        char err[300];
        xcnn_preprocess p;
        xcnn_preprocess_init(&p);
        o->preprocess = argv[++*i];
        if (xcnn_preprocess_parse(o->preprocess, &p, err, sizeof err) != XCNN_OK)
            *rc = cli_usage_error("%s", err);
    } else if (!strcmp(f, "--input-shape")) {
        /* CxHxW (or HxW): sizes for input dimensions the model leaves
         * symbolic, such as a dynamic height and width. */
        const char *v = argv[++*i];
        int64_t d[3];
        int n = 0;
        char *end;
        while (n < 3) {
            long val = strtol(v, &end, 10);
            if (end == v || val < 1 || val > 65536) break;
            d[n++] = val;
            if (*end != 'x') break;
            v = end + 1;
        }
        if (n < 2 || *end)
            *rc = cli_usage_error("--input-shape needs CxHxW or HxW, e.g. 3x48x192");
        for (int k = 0; k < n; k++) o->load.input_dims[4 - n + k] = d[k];
    } else if (!strcmp(f, "--max-arena-mb")) {
        /* the arena cap (xcnn_load_options.max_arena_bytes), for models or
         * batches past the 4 GiB default; up to 1 TiB */
        long mb;
        if (cli_parse_int(argv[++*i], 1, 1L << 20, &mb))
            *rc = cli_usage_error("--max-arena-mb needs a whole number of MiB from 1 to "
                                  "1048576, got '%s'", argv[*i]);
        else
            o->load.max_arena_bytes = (uint64_t)mb << 20;
    } else {
        o->labels_path = argv[++*i];
    }
    return 1;
}

static int is_npy(const char *path)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 1; /* let the .npy reader report the open error */
    size_t n = fread(magic, 1, 6, f);
    fclose(f);
    return n == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
}

static float *load_image(const xcnn_model *m, const char *path, const cli_input_opts *o)
{
    char err[600];
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    if (in.ndim != 4 || (in.dims[1] != 1 && in.dims[1] != 3)) {
        cli_error("%s: this model's input is not a 1- or 3-channel image; give a .npy", path);
        return NULL;
    }
    /* The model's sizes, like the image's, are checked before anything
     * is allocated from them (and before the int casts below). */
    if (in.dims[2] < 1 || in.dims[3] < 1 || in.dims[2] > XCNN_IMAGE_MAX_SIDE ||
        in.dims[3] > XCNN_IMAGE_MAX_SIDE || in.dims[2] * in.dims[3] > XCNN_IMAGE_MAX_PIXELS) {
        cli_error("%s: this model's input is %lldx%lld, over the image limit (%d per side, %lld "
                  "pixels); give a .npy", path, (long long)in.dims[2], (long long)in.dims[3],
                  XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
        return NULL;
    }
    xcnn_image img;
    if (xcnn_image_read(path, &img, err, sizeof err) != XCNN_OK) {
        cli_error("%s", err);
        return NULL;
    }
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *meta = xcnn_model_metadata(m, "xcnn.preprocess");
    /* Say where a bad recipe came from: the model's metadata, or the two
     * together (each is fine alone when --preprocess was checked). */
    const char *from = NULL;
    if (meta && xcnn_preprocess_parse(meta, &p, err, sizeof err) != XCNN_OK)
        from = "the model's xcnn.preprocess metadata";
    else if (o->preprocess && xcnn_preprocess_parse(o->preprocess, &p, err, sizeof err) != XCNN_OK)
        from = meta ? "--preprocess on top of the model's xcnn.preprocess" : "--preprocess";
    if (from) {
        xcnn_image_free(&img);
        cli_error("%s: %s", from, err);
        return NULL;
    }
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    float *x = malloc((size_t)C * H * W * sizeof(float));
    if (!x || xcnn_image_to_tensor(&img, &p, C, H, W, x, err, sizeof err) != XCNN_OK) {
        if (x) cli_error("%s: %s", path, err);
        else cli_error("out of memory");
        free(x);
        x = NULL;
    }
    xcnn_image_free(&img);
    return x;
}

float *cli_load_any_input(const xcnn_model *m, const char *path, const cli_input_opts *o,
                          int *is_image)
{
    *is_image = !is_npy(path);
    return *is_image ? load_image(m, path, o) : cli_load_input(m, path);
}

/* Split text into lines (the labels); returns the count or -1. */
static int split_lines(char *text, char ***out)
{
    int n = 0, cap = 16;
    char **lines = malloc((size_t)cap * sizeof *lines);
    if (!lines) return -1;
    char *s = text;
    while (*s) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r') s[len - 1] = 0;
        if (n == cap) {
            cap *= 2;
            char **more = realloc(lines, (size_t)cap * sizeof *lines);
            if (!more) {
                free(lines);
                return -1;
            }
            lines = more;
        }
        lines[n++] = s;
        if (!e) break;
        s = e + 1;
    }
    *out = lines;
    return n;
}

int cli_labels_load(const xcnn_model *m, const cli_input_opts *o, cli_labels *l)
{
    memset(l, 0, sizeof *l);
    const char *meta = xcnn_model_metadata(m, "xcnn.labels");
    if (o->labels_path) {
        FILE *f = fopen(o->labels_path, "rb");
        if (!f) return cli_error("cannot open labels file '%s'", o->labels_path);
        long len = -1;
        if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
        if (len < 0 || len > (1L << 24) || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return cli_error("labels file '%s' is unreadable or over 16 MB", o->labels_path);
        }
        l->text = malloc((size_t)len + 1);
        if (!l->text || fread(l->text, 1, (size_t)len, f) != (size_t)len) {
            fclose(f);
            return cli_error("cannot read labels file '%s'", o->labels_path);
        }
        fclose(f);
        l->text[len] = 0;
    } else if (meta) {
        size_t len = strlen(meta);
        l->text = malloc(len + 1);
        if (!l->text) return cli_error("out of memory");
        memcpy(l->text, meta, len + 1);
    } else {
        return 0;
    }
    l->count = split_lines(l->text, &l->names);
    if (l->count < 0) return cli_error("out of memory");
    xcnn_tensor_view out;
    xcnn_model_output(m, &out);
    if ((size_t)l->count != out.numel)
        return cli_error("%d labels for a model with %zu outputs", l->count, out.numel);
    return 0;
}

const char *cli_label(const cli_labels *l, int index)
{
    return (l->names && index >= 0 && index < l->count) ? l->names[index] : NULL;
}

int cli_label_index(const cli_labels *l, const char *name, long *index)
{
    for (int k = 0; k < l->count; k++)
        if (!strcmp(l->names[k], name)) {
            *index = k;
            return 0;
        }
    if (strspn(name, "0123456789") == strlen(name)) /* a number too large to parse */
        return cli_error("target %s is out of range for this model", name);
    return l->count ? cli_error("--target '%s' is not a class name of this model", name)
                    : cli_error("--target '%s': not a class index, and the model has no labels "
                                "(give --labels FILE)", name);
}

void cli_labels_free(cli_labels *l)
{
    free(l->names);
    free(l->text);
    memset(l, 0, sizeof *l);
}
