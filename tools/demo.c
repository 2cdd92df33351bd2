/*
 * make demo: explain a model's predictions on some images with every method
 * and write one labelled PNG grid per image: the input, then each method's
 * heatmap. Uses only the public API (xcnn.h, xcnn_image.h).
 *
 *   build/xcnn_demo MODEL.onnx OUTDIR IMAGE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_image.h"
#include "demo_font.h"

#define TILE 168   /* pixels per panel side */
#define GAP 8
#define TITLE 18   /* room for a label above each panel */
#define HEADER 26
#define COLS 3
#define ROWS 3

static const struct {
    const char *name;
    xcnn_method method;
} methods[] = {
    {"saliency", XCNN_SALIENCY},
    {"input x gradient", XCNN_INPUT_X_GRADIENT},
    {"deconvnet", XCNN_DECONVNET},
    {"guided backprop", XCNN_GUIDED_BACKPROP},
    {"integrated gradients", XCNN_INTEGRATED_GRADIENTS},
    {"smoothgrad", XCNN_SMOOTHGRAD},
    {"grad-cam", XCNN_GRADCAM},
    {"guided grad-cam", XCNN_GUIDED_GRADCAM},
};

typedef struct canvas {
    unsigned char *rgb;
    int w, h;
} canvas;

static void draw_text(canvas *c, int x, int y, const char *s, unsigned char shade)
{
    for (; *s; s++, x += DEMO_FONT_W) {
        int ch = (unsigned char)*s;
        if (ch < 32 || ch > 126) ch = '?';
        for (int r = 0; r < DEMO_FONT_H; r++)
            for (int b = 0; b < DEMO_FONT_W; b++)
                if (demo_font[ch - 32][r] & (0x80 >> b)) {
                    int px = x + b, py = y + r;
                    if (px < 0 || py < 0 || px >= c->w || py >= c->h) continue;
                    memset(c->rgb + ((size_t)py * c->w + px) * 3, shade, 3);
                }
    }
}

static void paste(canvas *c, const unsigned char *tile, int x0, int y0)
{
    for (int y = 0; y < TILE; y++)
        memcpy(c->rgb + ((size_t)(y0 + y) * c->w + x0) * 3, tile + (size_t)y * TILE * 3,
               TILE * 3);
}

/* The input, in grey, stretched to its range. */
static void input_tile(const float *x, int C, int H, int W, unsigned char *tile)
{
    float lo = x[0], hi = x[0];
    for (size_t i = 0; i < (size_t)C * H * W; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    for (int y = 0; y < TILE; y++)
        for (int xx = 0; xx < TILE; xx++) {
            int sy = y * H / TILE, sx = xx * W / TILE;
            float g = 0;
            for (int k = 0; k < C; k++) g += x[(size_t)k * H * W + (size_t)sy * W + sx];
            g = hi > lo ? (g / C - lo) / (hi - lo) * 255 : 0;
            memset(tile + ((size_t)y * TILE + xx) * 3, (int)(g + 0.5f), 3);
        }
}

static const char *label_of(const char *labels, int k, char *buf, size_t size)
{
    snprintf(buf, size, "class %d", k);
    if (!labels) return buf;
    const char *s = labels;
    for (int i = 0; i < k && s; i++) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    if (!s) return buf;
    size_t n = strcspn(s, "\n");
    if (n >= size) n = size - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

static int explain_image(xcnn_model *m, const char *path, const char *outdir)
{
    char err[600];
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    xcnn_image img;
    if (xcnn_image_read(path, &img, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", err);
        return 1;
    }
    xcnn_preprocess pre;
    xcnn_preprocess_init(&pre);
    const char *spec = xcnn_model_metadata(m, "xcnn.preprocess");
    float *x = malloc(in.numel * sizeof(float)), *y = malloc(out.numel * sizeof(float));
    float *attr = malloc(in.numel * sizeof(float));
    canvas cv = {NULL, COLS * (TILE + GAP) + GAP, HEADER + ROWS * (TILE + TITLE + GAP)};
    cv.rgb = malloc((size_t)cv.w * cv.h * 3);
    unsigned char *tile = malloc((size_t)TILE * TILE * 3);
    int rc = 1;
    if (!x || !y || !attr || !cv.rgb || !tile) goto done;
    if ((spec && xcnn_preprocess_parse(spec, &pre, err, sizeof err)) ||
        xcnn_image_to_tensor(&img, &pre, C, H, W, x, err, sizeof err)) {
        fprintf(stderr, "demo: %s: %s\n", path, err);
        goto done;
    }
    if (xcnn_forward(m, x, 1, y) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", xcnn_model_error(m));
        goto done;
    }
    int best = 0;
    for (size_t k = 1; k < out.numel; k++)
        if (y[k] > y[best]) best = (int)k;
    char name[64], line[256];
    const char *labels = xcnn_model_metadata(m, "xcnn.labels");
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(line, sizeof line, "%s: predicted %s (score %.3g)", base,
             label_of(labels, best, name, sizeof name), y[best]);
    printf("%s\n", line);

    memset(cv.rgb, 255, (size_t)cv.w * cv.h * 3);
    draw_text(&cv, GAP, 7, line, 0);
    input_tile(x, C, H, W, tile);
    paste(&cv, tile, GAP, HEADER + TITLE);
    draw_text(&cv, GAP, HEADER + 2, "input", 0);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, methods[i].method);
        o.target = best;
        o.upsample = 1;
        xcnn_explain_result res;
        if (xcnn_explain(m, x, &o, attr, in.numel, &res) != XCNN_OK) {
            fprintf(stderr, "demo: %s: %s\n", methods[i].name, xcnn_model_error(m));
            goto done;
        }
        int ch = (int)res.dims[1], h = (int)res.dims[2], w = (int)res.dims[3];
        xcnn_heatmap_rgb(attr, ch, h, w, x, C, H, W, tile, TILE, TILE);
        int col = (int)(i + 1) % COLS, row = (int)(i + 1) / COLS;
        int x0 = GAP + col * (TILE + GAP), y0 = HEADER + row * (TILE + TITLE + GAP);
        paste(&cv, tile, x0, y0 + TITLE);
        draw_text(&cv, x0, y0 + 2, methods[i].name, 0);
        if (methods[i].method == XCNN_INTEGRATED_GRADIENTS)
            printf("  integrated gradients: convergence delta %.3g\n", res.delta);
    }
    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/%.*s.png", outdir,
             (int)(strrchr(base, '.') ? strrchr(base, '.') - base : (long)strlen(base)), base);
    xcnn_image grid = {cv.w, cv.h, 3, cv.rgb};
    if (xcnn_image_write_png(outpath, &grid, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", err);
        goto done;
    }
    printf("  wrote %s\n", outpath);
    rc = 0;
done:
    free(x);
    free(y);
    free(attr);
    free(cv.rgb);
    free(tile);
    xcnn_image_free(&img);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.onnx OUTDIR IMAGE...\n", argv[0]);
        return 2;
    }
    char err[600];
    xcnn_model *m = NULL;
    if (xcnn_model_load(argv[1], NULL, &m, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s: %s\n", argv[1], err);
        return 1;
    }
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    if (in.ndim != 4) {
        fprintf(stderr, "demo: the model input is not an image\n");
        xcnn_model_free(m);
        return 1;
    }
    xcnn_model_reserve(m, 8); /* integrated gradients and smoothgrad: 8 points a pass */
    int rc = 0;
    for (int i = 3; i < argc; i++) rc |= explain_image(m, argv[i], argv[2]);
    xcnn_model_free(m);
    return rc;
}
