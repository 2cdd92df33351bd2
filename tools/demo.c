/*
 * make demo: explain a model's predictions on some images with every method
 * and write one labelled PNG grid per image: the input, then each method's
 * heatmap; OUTDIR/layers.png, the first image layer by layer (the
 * input, one channel of a few layers' outputs, the Grad-CAM); and
 * OUTDIR/features.png, one feature visualisation per class (the input that
 * maximises that class's output, xcnn_visualize). Uses only the public API
 * (xcnn.h, xcnn_image.h, xcnn_eval.h).
 *
 *   build/xcnn_demo MODEL.onnx OUTDIR IMAGE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_eval.h"
#include "../include/xcnn_image.h"
#include "demo_font.h"

#define TILE 168   /* pixels per panel side */
#define GAP 8
#define TITLE 18   /* room for a label above each panel */
#define HEADER 26
#define COLS 3
#define ROWS 3

typedef struct demo_method {
    const char *name;
    xcnn_method method;
} demo_method;

/* Page 1: the gradient methods (EXPLAINERS.md), 3 x 3 panels. */
static const demo_method methods[] = {
    {"saliency", XCNN_SALIENCY},
    {"input x gradient", XCNN_INPUT_X_GRADIENT},
    {"deconvnet", XCNN_DECONVNET},
    {"guided backprop", XCNN_GUIDED_BACKPROP},
    {"integrated gradients", XCNN_INTEGRATED_GRADIENTS},
    {"smoothgrad", XCNN_SMOOTHGRAD},
    {"grad-cam", XCNN_GRADCAM},
    {"guided grad-cam", XCNN_GUIDED_GRADCAM},
};

/* Page 2: the second round (METHODS.md), 5 x 3 panels. */
static const demo_method more_methods[] = {
    {"deeplift", XCNN_DEEPLIFT},
    {"deeplift-shap", XCNN_DEEPLIFT_SHAP},
    {"gradient-shap", XCNN_GRADIENT_SHAP},
    {"lrp (eps+flat)", XCNN_LRP},
    {"occlusion 4x4/2", XCNN_OCCLUSION},
    {"rise", XCNN_RISE},
    {"cam", XCNN_CAM},
    {"grad-cam++", XCNN_GRADCAM_PLUS_PLUS},
    {"xgrad-cam", XCNN_XGRADCAM},
    {"layer-cam", XCNN_LAYERCAM},
    {"hires-cam", XCNN_HIRESCAM},
    {"score-cam", XCNN_SCORECAM},
    {"eigen-cam", XCNN_EIGENCAM},
    {"ablation-cam", XCNN_ABLATIONCAM},
};

/* A page of panels: the input, then one heatmap per method. */
typedef struct demo_page {
    const demo_method *methods;
    int n_methods, cols, rows;
    const char *suffix; /* "" or "_more": <image><suffix>.png */
} demo_page;

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

/* The options page 2's methods need beyond their defaults, for an input
 * x of n floats: baselines (zeros, and the input's mean everywhere),
 * occlusion's window, fewer RISE masks than the default 4000. */
static void demo_options(xcnn_explain_options *o, const float *baselines, size_t n)
{
    (void)n;
    o->baselines = baselines;
    o->n_baselines = 2;
    o->window[1] = o->window[2] = 4;
    o->stride[0] = o->stride[1] = 2;
    if (o->method == XCNN_RISE) o->samples = 1000;
}

static int explain_image(xcnn_model *m, const char *path, const char *outdir,
                         const demo_page *page)
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
    float *baselines = calloc(2 * in.numel, sizeof(float));
    canvas cv = {NULL, page->cols * (TILE + GAP) + GAP,
                 HEADER + page->rows * (TILE + TITLE + GAP)};
    cv.rgb = malloc((size_t)cv.w * cv.h * 3);
    unsigned char *tile = malloc((size_t)TILE * TILE * 3);
    int rc = 1;
    if (!x || !y || !attr || !baselines || !cv.rgb || !tile) goto done;
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
    double mean = 0;
    for (size_t i = 0; i < in.numel; i++) mean += x[i];
    for (size_t i = 0; i < in.numel; i++) baselines[in.numel + i] = (float)(mean / in.numel);
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
    for (int i = 0; i < page->n_methods; i++) {
        const demo_method *dm = &page->methods[i];
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, dm->method);
        o.target = best;
        o.upsample = 1;
        demo_options(&o, baselines, in.numel);
        xcnn_explain_result res;
        if (xcnn_explain(m, x, &o, attr, in.numel, &res) != XCNN_OK) {
            fprintf(stderr, "demo: %s: %s\n", dm->name, xcnn_model_error(m));
            goto done;
        }
        int ch = (int)res.dims[1], h = (int)res.dims[2], w = (int)res.dims[3];
        if (dm->method == XCNN_RISE) {
            /* RISE's map is a mean of masks: all positive, with a large
             * constant part. Shown above its minimum, as its paper does. */
            size_t hw = (size_t)h * (size_t)w;
            float lo = attr[0];
            for (size_t p = 1; p < hw; p++) lo = attr[p] < lo ? attr[p] : lo;
            for (size_t p = 0; p < hw; p++) attr[p] -= lo;
        }
        xcnn_heatmap_rgb(attr, ch, h, w, x, C, H, W, tile, TILE, TILE);
        int col = (i + 1) % page->cols, row = (i + 1) / page->cols;
        int x0 = GAP + col * (TILE + GAP), y0 = HEADER + row * (TILE + TITLE + GAP);
        paste(&cv, tile, x0, y0 + TITLE);
        draw_text(&cv, x0, y0 + 2, dm->name, 0);
        if (dm->method == XCNN_INTEGRATED_GRADIENTS || dm->method == XCNN_DEEPLIFT)
            printf("  %s: convergence delta %.3g\n", dm->name, res.delta);
        if (dm->method == XCNN_LRP)
            printf("  %s: relevance sum %.4g for a score of %.4g\n", dm->name, res.total,
                   res.score);
    }
    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/%.*s%s.png", outdir,
             (int)(strrchr(base, '.') ? strrchr(base, '.') - base : (long)strlen(base)), base,
             page->suffix);
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
    free(baselines);
    free(cv.rgb);
    free(tile);
    xcnn_image_free(&img);
    return rc;
}

/* ---- layers.png: the network at work, layer by layer ------------------- */

#define LAYER_TILES 4  /* activation tiles between the input and the Grad-CAM */
#define LABEL_LINES 3
#define LTITLE (LABEL_LINES * DEMO_FONT_H + 4)
#define LHEADER (2 * DEMO_FONT_H + 14)

/* "1x12x28x28" */
static void dims_str(const int64_t *dims, int ndim, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? "x%lld" : "%lld", (long long)dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Viridis at five stops, interpolated: dark = 0, yellow = the maximum. */
static void ramp(float t, unsigned char *rgb)
{
    static const unsigned char stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float p = t * 4;
    int i = p >= 4 ? 3 : (int)p;
    float f = p - (float)i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]) + 0.5f);
}

/* One h x w map, scaled to [0, max], drawn with nearest-neighbour pixels
 * so that a 7x7 map shows as 7x7 blocks: what the layer really holds. */
static void map_tile(const float *a, int h, int w, float max, unsigned char *tile)
{
    for (int y = 0; y < TILE; y++)
        for (int x = 0; x < TILE; x++) {
            float v = a[(size_t)(y * h / TILE) * w + (size_t)(x * w / TILE)];
            ramp(max > 0 ? v / max : 0, tile + ((size_t)y * TILE + x) * 3);
        }
}

/* The layers to show: each spatial size's last ReLU (where a stage
 * ends), after the first ReLU (the first features), LAYER_TILES at most,
 * spread from the first to the last. Other activations stand in for a
 * network without ReLUs. Returns the count; node indices in pick. */
static int pick_layers(const xcnn_model *m, int *pick)
{
    int n = xcnn_model_node_count(m), cand[256], nc = 0;
    for (int relu_only = 1; relu_only >= 0 && nc == 0; relu_only--)
        for (int i = 0; i < n; i++) {
            xcnn_node_info ni;
            xcnn_tensor_view v;
            if (xcnn_model_node(m, i, &ni) || xcnn_model_tensor(m, ni.output, &v) ||
                v.ndim != 4 || v.dims[2] * v.dims[3] < 2 || !v.data)
                continue;
            if (relu_only && strcmp(ni.op_type, "Relu")) continue;
            int last_of_size = 1; /* no later candidate of the same h x w */
            for (int j = i + 1; j < n && last_of_size; j++) {
                xcnn_node_info nj;
                xcnn_tensor_view u;
                if (xcnn_model_node(m, j, &nj) || xcnn_model_tensor(m, nj.output, &u)) continue;
                if ((!relu_only || !strcmp(nj.op_type, "Relu")) && u.ndim == 4 &&
                    u.dims[2] == v.dims[2] && u.dims[3] == v.dims[3])
                    last_of_size = 0;
            }
            if ((nc == 0 || last_of_size) && nc < 256) cand[nc++] = i;
        }
    int k = nc < LAYER_TILES ? nc : LAYER_TILES;
    for (int t = 0; t < k; t++) pick[t] = cand[k > 1 ? t * (nc - 1) / (k - 1) : 0];
    return k;
}

static void tile_labels(canvas *c, int x0, int y0, const char *l0, const char *l1,
                        const char *l2)
{
    const char *lines[LABEL_LINES] = {l0, l1, l2};
    for (int i = 0; i < LABEL_LINES; i++) {
        char buf[TILE / DEMO_FONT_W + 1];
        snprintf(buf, sizeof buf, "%s", lines[i]); /* cut to the tile's width */
        draw_text(c, x0, y0 + 2 + i * DEMO_FONT_H, buf, i ? 70 : 0);
    }
}

/*
 * OUTDIR/layers.png for one image: the input, one channel of the output
 * of a few layers (the most active channel: highest mean), then the
 * Grad-CAM of the predicted class, each tile labelled with its layer,
 * shape and channel. The figure the lessons point to.
 */
static int layers_figure(xcnn_model *m, const char *path, const char *outdir)
{
    enum { COLS_L = 3, ROWS_L = (LAYER_TILES + 2 + COLS_L - 1) / COLS_L };
    char err[600], l0[64], l1[64], l2[64];
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    xcnn_image img = {0, 0, 0, NULL};
    xcnn_preprocess pre;
    xcnn_preprocess_init(&pre);
    const char *spec = xcnn_model_metadata(m, "xcnn.preprocess");
    float *x = malloc(in.numel * sizeof(float)), *y = malloc(out.numel * sizeof(float));
    float *cam = malloc(in.numel * sizeof(float));
    canvas cv = {NULL, COLS_L * (TILE + GAP) + GAP, LHEADER + ROWS_L * (LTITLE + TILE + GAP)};
    cv.rgb = malloc((size_t)cv.w * cv.h * 3);
    unsigned char *tile = malloc((size_t)TILE * TILE * 3);
    int rc = 1, pick[LAYER_TILES];
    if (!x || !y || !cam || !cv.rgb || !tile) goto done;
    if (xcnn_image_read(path, &img, err, sizeof err) ||
        (spec && xcnn_preprocess_parse(spec, &pre, err, sizeof err)) ||
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
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    label_of(xcnn_model_metadata(m, "xcnn.labels"), best, name, sizeof name);

    memset(cv.rgb, 255, (size_t)cv.w * cv.h * 3);
    snprintf(line, sizeof line, "%s: predicted %s (score %.3g)", base, name, y[best]);
    draw_text(&cv, GAP, 5, line, 0);
    draw_text(&cv, GAP, 5 + DEMO_FONT_H + 2,
              "each layer: its most active channel; dark 0, yellow its max", 70);

    int slot = 0;
    input_tile(x, C, H, W, tile);
    dims_str(in.dims, in.ndim, l1, sizeof l1);
    tile_labels(&cv, GAP, LHEADER, "input", l1, "as the model sees it");
    paste(&cv, tile, GAP, LHEADER + LTITLE);
    slot++;

    /* Read the activations now: Grad-CAM's pass below rewrites them. */
    int k = pick_layers(m, pick);
    for (int t = 0; t < k; t++, slot++) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        xcnn_model_node(m, pick[t], &ni);
        xcnn_model_tensor(m, ni.output, &v);
        int ch = (int)v.dims[1], h = (int)v.dims[2], w = (int)v.dims[3], most = 0;
        size_t plane = (size_t)h * w;
        double best_mean = -1e300;
        for (int c = 0; c < ch; c++) {
            double s = 0;
            for (size_t i = 0; i < plane; i++) s += v.data[(size_t)c * plane + i];
            if (s / (double)plane > best_mean) {
                best_mean = s / (double)plane;
                most = c;
            }
        }
        const float *a = v.data + (size_t)most * plane;
        float max = 0;
        for (size_t i = 0; i < plane; i++)
            if (a[i] > max) max = a[i];
        map_tile(a, h, w, max, tile);
        int x0 = GAP + slot % COLS_L * (TILE + GAP);
        int y0 = LHEADER + slot / COLS_L * (LTITLE + TILE + GAP);
        snprintf(l0, sizeof l0, "#%d %s", pick[t], ni.name);
        dims_str(v.dims, v.ndim, l1, sizeof l1);
        snprintf(l2, sizeof l2, "channel %d, max %.3g", most, max);
        tile_labels(&cv, x0, y0, l0, l1, l2);
        paste(&cv, tile, x0, y0 + LTITLE);
    }

    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.target = best;
    o.upsample = 1;
    xcnn_explain_result res;
    if (xcnn_explain(m, x, &o, cam, in.numel, &res) != XCNN_OK) {
        fprintf(stderr, "demo: grad-cam: %s\n", xcnn_model_error(m));
        goto done;
    }
    xcnn_heatmap_rgb(cam, (int)res.dims[1], (int)res.dims[2], (int)res.dims[3], x, C, H, W,
                     tile, TILE, TILE);
    int x0 = GAP + slot % COLS_L * (TILE + GAP);
    int y0 = LHEADER + slot / COLS_L * (LTITLE + TILE + GAP);
    snprintf(l1, sizeof l1, "at %.56s", res.layer);
    snprintf(l2, sizeof l2, "for %.56s", name);
    tile_labels(&cv, x0, y0, "grad-cam", l1, l2);
    paste(&cv, tile, x0, y0 + LTITLE);

    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/layers.png", outdir);
    xcnn_image fig = {cv.w, cv.h, 3, cv.rgb};
    if (xcnn_image_write_png(outpath, &fig, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", err);
        goto done;
    }
    printf("layer by layer: wrote %s\n", outpath);
    rc = 0;
done:
    free(x);
    free(y);
    free(cam);
    free(cv.rgb);
    free(tile);
    xcnn_image_free(&img);
    return rc;
}

/* ---- features.png: what each class responds to ------------------------ */

#define FEATURE_STEPS 256 /* half lucid's 512: much the same pictures here, half the time */
/* (--feature-steps N changes it: the tests draw the figure in fewer) */
#define FEATURE_COLS 5
#define FEATURE_MAX 20    /* classes shown at most */

/*
 * OUTDIR/features.png: for each class k of the model's output (the
 * logits), the image that maximises output k (xcnn_visualize with the
 * output as the layer and k as the channel; seed 0, FEATURE_STEPS steps or --feature-steps),
 * shown pixel for pixel, labelled with the class name and the logit
 * reached. The image lives in [0, 1] before the model's preprocessing,
 * as `xcnn visualize` takes it.
 */
static int features_figure(xcnn_model *m, const char *outdir, int steps)
{
    char err[600], name[64], line[96];
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    int classes = (int)(out.numel < FEATURE_MAX ? out.numel : FEATURE_MAX);
    if ((C != 1 && C != 3) || out.ndim != 2 || classes < 1) {
        printf("features: not drawn (the model is not a classifier of 1- or 3-channel images)\n");
        return 0;
    }
    xcnn_preprocess pre;
    xcnn_preprocess_init(&pre);
    const char *spec = xcnn_model_metadata(m, "xcnn.preprocess");
    if (spec && xcnn_preprocess_parse(spec, &pre, err, sizeof err)) {
        fprintf(stderr, "demo: %s\n", err);
        return 1;
    }
    float mean[3], std[3];
    for (int c = 0; c < C; c++) { /* image 1.0 is pixel 255: the model's (v - mean) / std */
        double unit = 255.0 * pre.scale;
        mean[c] = (float)(pre.mean[C == 3 ? c : 0] / unit);
        std[c] = (float)(pre.std[C == 3 ? c : 0] / unit);
    }
    int rows = (classes + FEATURE_COLS - 1) / FEATURE_COLS;
    canvas cv = {NULL, FEATURE_COLS * (TILE + GAP) + GAP,
                 LHEADER + rows * (2 * DEMO_FONT_H + 6 + TILE + GAP)};
    cv.rgb = malloc((size_t)cv.w * cv.h * 3);
    float *img = malloc((size_t)C * H * W * sizeof(float));
    unsigned char *tile = malloc((size_t)TILE * TILE * 3);
    int rc = 1;
    if (!cv.rgb || !img || !tile) goto done;
    memset(cv.rgb, 255, (size_t)cv.w * cv.h * 3);
    snprintf(line, sizeof line, "what each class responds to: the input that maximises its");
    draw_text(&cv, GAP, 5, line, 0);
    snprintf(line, sizeof line, "output '%.24s' (xcnn visualize, %d steps, seed 0)", out.name,
             steps);
    draw_text(&cv, GAP, 5 + DEMO_FONT_H + 2, line, 70);
    const char *labels = xcnn_model_metadata(m, "xcnn.labels");
    /* One thread: a 28 x 28 step is too small to share, and the result
     * (deterministic for a seed and a thread count) is then the same on
     * every machine. */
    if (xcnn_model_set_threads(m, 1) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", xcnn_model_error(m));
        goto done;
    }
    for (int k = 0; k < classes; k++) {
        xcnn_visualize_options o;
        xcnn_visualize_options_init(&o);
        o.layer = out.name;
        o.channel = k;
        o.steps = steps;
        double objective = 0;
        if (xcnn_visualize(m, &o, mean, std, img, NULL, &objective) != XCNN_OK) {
            fprintf(stderr, "demo: features: %s\n", xcnn_model_error(m));
            goto done;
        }
        for (int y = 0; y < TILE; y++) /* nearest pixel: 28 x 28 as 6 x 6 blocks */
            for (int x = 0; x < TILE; x++)
                for (int c = 0; c < 3; c++) {
                    int src = C == 3 ? (pre.bgr ? 2 - c : c) : 0;
                    float v = img[((size_t)src * H + (size_t)(y * H / TILE)) * W +
                                  (size_t)(x * W / TILE)];
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    tile[((size_t)y * TILE + x) * 3 + c] = (unsigned char)(v * 255 + 0.5f);
                }
        int x0 = GAP + k % FEATURE_COLS * (TILE + GAP);
        int y0 = LHEADER + k / FEATURE_COLS * (2 * DEMO_FONT_H + 6 + TILE + GAP);
        label_of(labels, k, name, sizeof name);
        snprintf(line, sizeof line, "%d %.18s", k, name);
        draw_text(&cv, x0, y0 + 2, line, 0);
        snprintf(line, sizeof line, "logit %.3g", objective);
        draw_text(&cv, x0, y0 + 2 + DEMO_FONT_H, line, 70);
        paste(&cv, tile, x0, y0 + 2 * DEMO_FONT_H + 6);
    }
    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/features.png", outdir);
    xcnn_image fig = {cv.w, cv.h, 3, cv.rgb};
    if (xcnn_image_write_png(outpath, &fig, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s\n", err);
        goto done;
    }
    printf("one feature visualisation per class: wrote %s\n", outpath);
    rc = 0;
done:
    free(cv.rgb);
    free(img);
    free(tile);
    return rc;
}

/* xcnn_demo [--feature-steps N] [--only features|explain] MODEL OUTDIR IMAGE...
 * The options are for the tests, which check each figure without paying
 * for all of them (under qemu or REFERENCE=1 the whole demo takes minutes):
 * --feature-steps N draws features.png in N steps (default FEATURE_STEPS),
 * --only features draws only features.png, --only explain everything but. */
int main(int argc, char **argv)
{
    int steps = FEATURE_STEPS, explain = 1, features = 1, a = 1;
    while (a + 1 < argc && argv[a][0] == '-' && argv[a][1] == '-') {
        char *end = NULL;
        if (!strcmp(argv[a], "--feature-steps")) {
            long v = strtol(argv[a + 1], &end, 10);
            if (!*argv[a + 1] || *end || v < 1 || v > 100000) {
                fprintf(stderr, "demo: --feature-steps takes 1 to 100000 (got '%s')\n",
                        argv[a + 1]);
                return 2;
            }
            steps = (int)v;
        } else if (!strcmp(argv[a], "--only") && !strcmp(argv[a + 1], "features")) {
            explain = 0;
        } else if (!strcmp(argv[a], "--only") && !strcmp(argv[a + 1], "explain")) {
            features = 0;
        } else {
            fprintf(stderr, "demo: unknown option '%s %s'\n", argv[a], argv[a + 1]);
            return 2;
        }
        a += 2;
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: %s [--feature-steps N] [--only features|explain] MODEL.onnx "
                "OUTDIR IMAGE...\n", argv[0]);
        return 2;
    }
    const char *model = argv[a], *outdir = argv[a + 1];
    char err[600];
    xcnn_model *m = NULL;
    if (xcnn_model_load(model, NULL, &m, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "demo: %s: %s\n", model, err);
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
    const demo_page pages[2] = {
        {methods, (int)(sizeof methods / sizeof methods[0]), COLS, ROWS, ""},
        {more_methods, (int)(sizeof more_methods / sizeof more_methods[0]), 5, 3, "_more"}};
    int rc = 0;
    if (explain) {
        for (int i = a + 2; i < argc; i++)
            for (int p = 0; p < 2; p++) rc |= explain_image(m, argv[i], outdir, &pages[p]);
        rc |= layers_figure(m, argv[a + 2], outdir); /* the first image, layer by layer */
    }
    if (features) rc |= features_figure(m, outdir, steps);
    xcnn_model_free(m);
    return rc;
}
