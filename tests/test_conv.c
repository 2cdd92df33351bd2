/*
 * Conv: forward against a naive direct convolution written here (max
 * relative error, tolerance 1e-5), backward by finite differences through
 * tests/gradcheck.h (tolerance 1e-2 relative, batch 2), over many random
 * configurations: kernels 1..5 (non-square too), strides 1..3, asymmetric
 * pads, dilations 1..3, group 1, 2 and depthwise (multiplier 1 and 2),
 * with and without bias, auto_pad SAME_UPPER / SAME_LOWER / VALID. Then
 * the setup refusals, and one thread count against another.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/ops/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct conv_cfg {
    int c, m, h, w, kh, kw, sh, sw, dh, dw, group, bias;
    int pads[4]; /* top, left, bottom, right */
    const char *auto_pad;
} conv_cfg;

/* Build X [1,c,h,w], W [m, c/group, kh, kw], optional B and the node. */
static int build(gc_graph *gc, const conv_cfg *k)
{
    int x = gc_activation(gc, "x", 4, (int64_t[]){1, k->c, k->h, k->w});
    int w = gc_weight(gc, "w", 4, (int64_t[]){k->m, k->c / k->group, k->kh, k->kw});
    int in[3] = {x, w, -1};
    if (k->bias) in[2] = gc_weight(gc, "b", 1, (int64_t[]){k->m});
    int node = gc_node(gc, "Conv", in, k->bias ? 3 : 2);
    xcnn_node *n = &gc->g->nodes[node];
    xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){k->kh, k->kw}, 2);
    xcnn_node_add_attr_ints(n, "strides", (int64_t[]){k->sh, k->sw}, 2);
    xcnn_node_add_attr_ints(n, "dilations", (int64_t[]){k->dh, k->dw}, 2);
    if (k->auto_pad) {
        xcnn_node_add_attr_string(n, "auto_pad", k->auto_pad);
    } else {
        int64_t p[4] = {k->pads[0], k->pads[1], k->pads[2], k->pads[3]};
        xcnn_node_add_attr_ints(n, "pads", p, 4);
    }
    if (k->group != 1) xcnn_node_add_attr_int(n, "group", k->group);
    return node;
}

/* The pads and output size ONNX defines for this configuration. */
static void resolve(const conv_cfg *k, int *pads, int *oh, int *ow)
{
    int in[2] = {k->h, k->w}, ks[2] = {k->kh, k->kw}, s[2] = {k->sh, k->sw};
    int d[2] = {k->dh, k->dw}, out[2];
    for (int a = 0; a < 2; a++) {
        int e = (ks[a] - 1) * d[a] + 1;
        if (k->auto_pad && strncmp(k->auto_pad, "SAME", 4) == 0) {
            out[a] = (in[a] + s[a] - 1) / s[a];
            int total = (out[a] - 1) * s[a] + e - in[a];
            if (total < 0) total = 0;
            int small = total / 2, big = total - small;
            int upper = strcmp(k->auto_pad, "SAME_UPPER") == 0;
            pads[a] = upper ? small : big;
            pads[a + 2] = upper ? big : small;
        } else {
            pads[a] = k->auto_pad ? 0 : k->pads[a];
            pads[a + 2] = k->auto_pad ? 0 : k->pads[a + 2];
            out[a] = (in[a] + pads[a] + pads[a + 2] - e) / s[a] + 1;
        }
    }
    *oh = out[0];
    *ow = out[1];
}

/* Direct convolution in double, straight from the definition. */
static void naive_conv(const conv_cfg *k, int batch, const float *x, const float *w,
                       const float *bias, float *y)
{
    int pads[4], oh_n, ow_n;
    resolve(k, pads, &oh_n, &ow_n);
    int cg = k->c / k->group, mg = k->m / k->group;
    for (int b = 0; b < batch; b++)
        for (int m = 0; m < k->m; m++)
            for (int oh = 0; oh < oh_n; oh++)
                for (int ow = 0; ow < ow_n; ow++) {
                    double acc = bias ? bias[m] : 0;
                    int g = m / mg;
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < k->kh; i++)
                            for (int j = 0; j < k->kw; j++) {
                                int ih = oh * k->sh - pads[0] + i * k->dh;
                                int iw = ow * k->sw - pads[1] + j * k->dw;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                                acc += (double)w[((m * cg + c) * k->kh + i) * k->kw + j] *
                                       x[((b * k->c + g * cg + c) * k->h + ih) * k->w + iw];
                            }
                    y[((b * k->m + m) * oh_n + oh) * ow_n + ow] = (float)acc;
                }
}

static void describe(const conv_cfg *k, char *buf, size_t size)
{
    snprintf(buf, size,
             "conv c%d m%d %dx%d k%dx%d s%d,%d d%d,%d g%d pads %d,%d,%d,%d %s%s", k->c, k->m,
             k->h, k->w, k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->group, k->pads[0],
             k->pads[1], k->pads[2], k->pads[3], k->auto_pad ? k->auto_pad : "",
             k->bias ? " bias" : "");
}

/* Setup, then forward at batch 2 against the naive convolution. */
static void check_forward(const conv_cfg *k, uint64_t seed, const char *label)
{
    gc_graph gc;
    gc_init(&gc, seed);
    int node = build(&gc, k);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = xcnn_op_find("Conv");
    xcnn_status st = n->def->setup(g, n, &err);
    if (!check(st == XCNN_OK, "%s: setup (%s)", label, st ? err.msg : "ok")) {
        gc_free(&gc);
        return;
    }
    int pads[4], oh, ow;
    resolve(k, pads, &oh, &ow);
    xcnn_tensor *yt = xcnn_out(g, n, 0), *xt = xcnn_in(g, n, 0);
    check(yt->ndim == 4 && yt->dims[0] == 1 && yt->dims[1] == k->m && yt->dims[2] == oh &&
              yt->dims[3] == ow,
          "%s: output shape %lldx%lld, expected %dx%d", label, (long long)yt->dims[2],
          (long long)yt->dims[3], oh, ow);
    int batch = 2;
    size_t nx = xcnn_tensor_sample_numel(xt) * batch, ny = (size_t)k->m * oh * ow * batch;
    xt->data = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) xt->data[i] = test_rng_uniform(&gc.rng, -1, 1);
    yt->data = malloc(ny * sizeof(float));
    float *ref = malloc(ny * sizeof(float));
    float *scratch = malloc((n->scratch_floats + 1) * sizeof(float));
    for (size_t i = 0; i < ny; i++) yt->data[i] = NAN; /* every output must be written */
    n->def->forward(g, n, batch, scratch);
    const xcnn_tensor *bt = xcnn_in(g, n, 2);
    naive_conv(k, batch, xt->data, xcnn_in(g, n, 1)->data, bt ? bt->data : NULL, ref);
    char what[300];
    snprintf(what, sizeof what, "%s: forward vs naive", label);
    check_close(what, max_rel_error(yt->data, ref, ny), 1e-5);
    free(xt->data);
    free(yt->data);
    xt->data = yt->data = NULL;
    free(ref);
    free(scratch);
    gc_free(&gc);
}

static void check_gradient(const conv_cfg *k, uint64_t seed, const char *label)
{
    gc_graph gc;
    gc_init(&gc, seed);
    int node = build(&gc, k);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void check_config(const conv_cfg *k, uint64_t seed)
{
    char label[200];
    describe(k, label, sizeof label);
    check_forward(k, seed, label);
    check_gradient(k, seed + 1, label);
}

/* A random valid configuration. */
static conv_cfg random_cfg(test_rng *r, int i)
{
    conv_cfg k = {0};
    k.kh = test_rng_int(r, 1, 5);
    k.kw = test_rng_int(r, 1, 5);
    k.sh = test_rng_int(r, 1, 3);
    k.sw = test_rng_int(r, 1, 3);
    k.dh = test_rng_int(r, 1, 3);
    k.dw = test_rng_int(r, 1, 3);
    for (int a = 0; a < 4; a++) k.pads[a] = test_rng_int(r, 0, (a % 2 ? k.kw : k.kh) - 1);
    int eh = (k.kh - 1) * k.dh + 1, ew = (k.kw - 1) * k.dw + 1;
    k.h = eh - k.pads[0] - k.pads[2];
    k.w = ew - k.pads[1] - k.pads[3];
    k.h = (k.h < 1 ? 1 : k.h) + test_rng_int(r, 0, 5);
    k.w = (k.w < 1 ? 1 : k.w) + test_rng_int(r, 0, 5);
    switch (i % 4) {
    case 0: /* plain */
        k.group = 1;
        k.c = test_rng_int(r, 1, 4);
        k.m = test_rng_int(r, 1, 5);
        break;
    case 1: /* two groups */
        k.group = 2;
        k.c = 2 * test_rng_int(r, 1, 3);
        k.m = 2 * test_rng_int(r, 1, 3);
        break;
    case 2: /* depthwise, multiplier 1 */
        k.c = k.m = k.group = test_rng_int(r, 1, 4);
        break;
    default: /* depthwise, multiplier 2 */
        k.c = k.group = test_rng_int(r, 1, 3);
        k.m = 2 * k.c;
        break;
    }
    k.bias = (i / 4) % 2;
    return k;
}

/* Setup must refuse with `want` and a message naming the node. */
static void check_refused(const conv_cfg *k, int w_ndim, int x_ndim, int group_attr,
                          xcnn_status want, const char *label)
{
    gc_graph gc;
    gc_init(&gc, 99);
    int x = x_ndim == 4 ? gc_activation(&gc, "x", 4, (int64_t[]){1, k->c, k->h, k->w})
                        : gc_activation(&gc, "x", 3, (int64_t[]){1, k->c, k->w});
    int w = w_ndim == 4 ? gc_weight(&gc, "w", 4, (int64_t[]){k->m, k->c, k->kh, k->kw})
                        : gc_weight(&gc, "w", 3, (int64_t[]){k->m, k->c, k->kw});
    int node = gc_node(&gc, "Conv", (int[]){x, w}, 2);
    xcnn_node *n = &gc.g->nodes[node];
    xcnn_node_add_attr_ints(n, "strides", (int64_t[]){k->sh, k->sw}, 2);
    xcnn_node_add_attr_ints(n, "pads", (int64_t[]){k->pads[0], k->pads[1], k->pads[2],
                                                   k->pads[3]}, 4);
    if (group_attr) xcnn_node_add_attr_int(n, "group", group_attr);
    if (k->auto_pad) xcnn_node_add_attr_string(n, "auto_pad", k->auto_pad);
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_op_conv.setup(gc.g, n, &err);
    check(st == want && strstr(err.msg, "conv 'Conv'") != NULL,
          "refused: %s -> status %d (want %d): \"%s\"", label, (int)st, (int)want, err.msg);
    gc_free(&gc);
}

#ifdef _OPENMP
/* The same output bits with 1 and 3 threads. */
static void check_threads(void)
{
    conv_cfg k = {.c = 8, .m = 16, .h = 20, .w = 20, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                  .dh = 1, .dw = 1, .group = 1, .bias = 1, .pads = {1, 1, 1, 1}};
    gc_graph gc;
    gc_init(&gc, 7);
    int node = build(&gc, &k);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = &xcnn_op_conv;
    if (!check(n->def->setup(g, n, &err) == XCNN_OK, "threads case: setup")) return;
    xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
    size_t nx = 2 * xcnn_tensor_sample_numel(xt), ny = 2 * xcnn_tensor_sample_numel(yt);
    xt->data = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) xt->data[i] = test_rng_uniform(&gc.rng, -1, 1);
    yt->data = malloc(ny * sizeof(float));
    float *y1 = malloc(ny * sizeof(float)), *scratch = malloc(n->scratch_floats * sizeof(float));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    n->def->forward(g, n, 2, scratch);
    memcpy(y1, yt->data, ny * sizeof(float));
    omp_set_num_threads(3);
    n->def->forward(g, n, 2, scratch);
    omp_set_num_threads(saved);
    check(memcmp(y1, yt->data, ny * sizeof(float)) == 0,
          "conv forward: 1 and 3 threads give the same bits");
    free(xt->data);
    free(yt->data);
    xt->data = yt->data = NULL;
    free(y1);
    free(scratch);
    gc_free(&gc);
}
#endif

int main(void)
{
    /* Hand-picked: pointwise (no im2col), a ResNet stem, asymmetric pads. */
    conv_cfg fixed[] = {
        {.c = 3, .m = 4, .h = 5, .w = 6, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
         .group = 1, .bias = 1},
        {.c = 4, .m = 6, .h = 5, .w = 4, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
         .group = 2, .bias = 0},
        {.c = 3, .m = 4, .h = 15, .w = 14, .kh = 7, .kw = 7, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
         .group = 1, .bias = 0, .pads = {3, 3, 3, 3}},
        {.c = 2, .m = 3, .h = 6, .w = 7, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .dh = 1, .dw = 2,
         .group = 1, .bias = 1, .pads = {0, 2, 1, 0}},
        {.c = 70, .m = 9, .h = 9, .w = 10, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
         .dw = 1, .group = 1, .bias = 1, .pads = {1, 1, 1, 1}},
        {.c = 3, .m = 2, .h = 7, .w = 8, .kh = 3, .kw = 2, .sh = 2, .sw = 3, .dh = 1, .dw = 1,
         .group = 1, .bias = 1, .auto_pad = "SAME_UPPER"},
        {.c = 3, .m = 2, .h = 7, .w = 8, .kh = 4, .kw = 2, .sh = 3, .sw = 1, .dh = 1, .dw = 2,
         .group = 1, .bias = 1, .auto_pad = "SAME_LOWER"},
        {.c = 4, .m = 4, .h = 7, .w = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
         .group = 4, .bias = 0, .auto_pad = "SAME_UPPER"},
        {.c = 2, .m = 2, .h = 7, .w = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 1, .dh = 1, .dw = 1,
         .group = 1, .bias = 0, .auto_pad = "VALID"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_config(&fixed[i], 100 + i);

    test_rng r = {2024};
    for (int i = 0; i < 40; i++) {
        conv_cfg k = random_cfg(&r, i);
        check_config(&k, 1000 + (uint64_t)i);
    }

    /* Refusals. */
    conv_cfg ok = {.c = 4, .m = 2, .h = 5, .w = 5, .kh = 3, .kw = 3, .sh = 1, .sw = 1};
    conv_cfg k = ok;
    k.sh = 0;
    check_refused(&k, 4, 4, 0, XCNN_ERR_SHAPE, "stride 0");
    k = ok;
    k.kh = 8;
    check_refused(&k, 4, 4, 0, XCNN_ERR_SHAPE, "kernel 8x3 over a 5x5 input");
    k = ok;
    k.kh = 8;
    k.pads[0] = 2; /* 5 + 2 = 7 rows padded, still short of 8 */
    check_refused(&k, 4, 4, 0, XCNN_ERR_SHAPE, "kernel 8x3 over 5x5 padded to 7x5");
    check_refused(&ok, 4, 4, 3, XCNN_ERR_SHAPE, "group 3 does not divide 4 channels");
    check_refused(&ok, 3, 4, 0, XCNN_ERR_SHAPE, "weight of rank 3");
    check_refused(&ok, 3, 3, 0, XCNN_ERR_UNSUPPORTED, "1-D convolution");
    check_refused(&ok, 4, 4, 2, XCNN_ERR_SHAPE, "weight channels vs group 2");
    k = ok;
    k.pads[1] = -1;
    check_refused(&k, 4, 4, 0, XCNN_ERR_SHAPE, "negative pad");
    k = ok;
    k.auto_pad = "SAME_MIDDLE";
    check_refused(&k, 4, 4, 0, XCNN_ERR_UNSUPPORTED, "unknown auto_pad");
    {
        /* kernel_shape that disagrees with the weight */
        gc_graph gc;
        gc_init(&gc, 5);
        int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 5, 5});
        int w = gc_weight(&gc, "w", 4, (int64_t[]){3, 2, 3, 3});
        int b = gc_weight(&gc, "b", 1, (int64_t[]){4});
        int node = gc_node(&gc, "Conv", (int[]){x, w}, 2);
        xcnn_node *n = &gc.g->nodes[node];
        xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){3, 2}, 2);
        xcnn_err err = {{0}};
        xcnn_status st = xcnn_op_conv.setup(gc.g, n, &err);
        check(st == XCNN_ERR_SHAPE, "refused: kernel_shape 3x2 vs weight 3x3: \"%s\"", err.msg);
        int node2 = gc_node(&gc, "Conv", (int[]){x, w, b}, 3);
        st = xcnn_op_conv.setup(gc.g, &gc.g->nodes[node2], &err);
        check(st == XCNN_ERR_SHAPE, "refused: bias of 4 for 3 channels: \"%s\"", err.msg);
        gc_free(&gc);
    }
#ifdef _OPENMP
    check_threads();
#endif
    return check_summary();
}
