/*
 * Host helper for the Cortex-M4 firmware (mcu.mk): turns an image into the
 * model's input as the CLI does (the model's xcnn.preprocess metadata;
 * a float32 .npy is used as it is) and writes
 *   OUT.raw  C*H*W little-endian float32 (linked into the firmware)
 *   OUT.npy  the same as a (1,C,H,W) .npy (what the tests give the host CLI)
 *   OUT.h    the sizes the firmware's static buffers need; given an .xcnn
 *            image, also MCU_BUFFER_BYTES, the model's buffer as
 *            xcnn_model_plan measures it here for the firmware's options
 *            (EXPLAIN 1: gradients from the default CAM layer on; 0:
 *            inference only). This host build is compiled with the
 *            firmware's settings (XCNN_SMALL, XCNN_FLOAT_ACCUM, portable
 *            kernels), so the plan is the firmware's but for pointers and
 *            size_t, twice as wide here: an upper bound for the M4.
 *
 *   mcu_prep MODEL IMAGE OUT_PREFIX [MODEL.xcnn EXPLAIN]
 *   mcu_prep --print FILE.npy      its values on one line, %.9g, commas
 *                                  (tests/test_mcu.sh compares them)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "../../include/xcnn_image.h"

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "mcu_prep: %s: %s\n", what, msg);
    return 1;
}

static int is_npy(const char *path)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(magic, 1, 6, f);
    fclose(f);
    return n == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
}

static int print_npy(const char *path)
{
    char err[600];
    float *x;
    int nd;
    int64_t d[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &x, &nd, d, err, sizeof err)) return fail(path, err);
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)d[i];
    for (size_t i = 0; i < n; i++) printf("%.9g%c", (double)x[i], i + 1 < n ? ',' : '\n');
    free(x);
    return 0;
}

/* xcnn_model_plan for the firmware's load options. */
static int plan(const char *path, int explain, size_t *bytes)
{
    char err[600];
    FILE *f = fopen(path, "rb");
    if (!f) return fail(path, "cannot open");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    void *data = n > 0 ? malloc((size_t)n) : NULL;
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return fail(path, "cannot read");
    }
    fclose(f);
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = !explain;
    if (explain) lo.explain_layer = "";
    xcnn_status st = xcnn_model_plan(data, (size_t)n, &lo, bytes, err, sizeof err);
    free(data);
    return st ? fail(path, err) : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--print")) return print_npy(argv[2]);
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: mcu_prep MODEL IMAGE OUT_PREFIX [MODEL.xcnn EXPLAIN]\n"
                        "       mcu_prep --print FILE.npy\n");
        return 2;
    }
    size_t buffer = 0;
    if (argc == 6 && plan(argv[4], atoi(argv[5]), &buffer)) return 1;
    const char *model_path = argv[1], *image_path = argv[2], *prefix = argv[3];
    char err[600], path[4096];
    const unsigned one = 1;
    if (*(const unsigned char *)&one != 1) return fail("host", "not little-endian");

    xcnn_model *m;
    if (xcnn_model_load(model_path, NULL, &m, err, sizeof err)) return fail(model_path, err);
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    if (in.ndim != 4 || in.dims[1] < 1 || in.dims[2] < 1 || in.dims[3] < 1)
        return fail(model_path, "the input is not NxCxHxW");
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    size_t numel = (size_t)C * H * W;
    float *x = NULL;

    if (is_npy(image_path)) {
        int nd;
        int64_t d[XCNN_MAX_DIMS];
        if (xcnn_npy_read(image_path, &x, &nd, d, err, sizeof err)) return fail(image_path, err);
        size_t n = 1;
        for (int i = 0; i < nd; i++) n *= (size_t)d[i];
        if (n != numel) return fail(image_path, "not the model input's size");
    } else {
        xcnn_image img;
        xcnn_preprocess p;
        xcnn_preprocess_init(&p);
        const char *meta = xcnn_model_metadata(m, "xcnn.preprocess");
        if (meta && xcnn_preprocess_parse(meta, &p, err, sizeof err))
            return fail("xcnn.preprocess", err);
        if (xcnn_image_read(image_path, &img, err, sizeof err)) return fail(image_path, err);
        x = malloc(numel * sizeof *x);
        if (!x) return fail(image_path, "out of memory");
        if (xcnn_image_to_tensor(&img, &p, C, H, W, x, err, sizeof err))
            return fail(image_path, err);
        xcnn_image_free(&img);
    }

    snprintf(path, sizeof path, "%s.raw", prefix);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof *x, numel, f) != numel || fclose(f)) return fail(path, "write failed");
    snprintf(path, sizeof path, "%s.npy", prefix);
    int64_t dims[4] = {1, C, H, W};
    if (xcnn_npy_write(path, x, 4, dims, err, sizeof err)) return fail(path, err);

    /* Grad-CAM's output size at the default layer (0 if it has none). */
    int nd = 0;
    int64_t cd[4] = {0};
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_GRADCAM);
    size_t cam = 0;
    if (xcnn_explain_shape(m, &eo, &nd, cd) == XCNN_OK) {
        cam = 1;
        for (int i = 0; i < nd; i++) cam *= (size_t)cd[i];
    }
    snprintf(path, sizeof path, "%s.h", prefix);
    f = fopen(path, "w");
    if (!f) return fail(path, "cannot write");
    fprintf(f, "/* made by mcu_prep from %s and %s */\n", model_path, image_path);
    fprintf(f, "#define MCU_INPUT_NUMEL %zu\n", numel);
    fprintf(f, "#define MCU_OUTPUTS %zu\n", out.numel);
    fprintf(f, "#define MCU_CAM_NUMEL %zu\n", cam ? cam : 1);
    if (buffer) fprintf(f, "#define MCU_BUFFER_BYTES %zu\n", buffer);
    if (fclose(f)) return fail(path, "write failed");
    free(x);
    xcnn_model_free(m);
    return 0;
}
