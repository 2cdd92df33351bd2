/*
 * MaxPool, AveragePool, GlobalAveragePool:
 *  - forward against naive references written here, over random
 *    configurations (kernels 1..4 non-square, strides 1..3, asymmetric
 *    pads, dilations (MaxPool), ceil_mode 0/1, count_include_pad 0/1),
 *    max relative error, tolerance 1e-5;
 *  - a few small cases against values printed by PyTorch 2.x
 *    (F.max_pool2d / F.avg_pool2d, ceil_mode and count_include_pad), the
 *    anchor for the ceil_mode and divisor rules; tolerance 1e-6;
 *  - backward by finite differences (tests/gradcheck.h, batch 2,
 *    tolerance 1e-2). MaxPool is not differentiable at ties, so its cases
 *    use inputs whose window maxima are at least 3e-3 clear of the
 *    runner-up (three times the finite-difference step);
 *  - MaxPool bit for bit against the scan rule written plainly here, on
 *    wide planes (so that the library's vectorised runs of full-width
 *    windows, its border windows and its 256-output segments all occur)
 *    whose values are drawn from {-inf, -1, -0, +0, 1, NaN, NaN'} (ties,
 *    signed zeros, NaNs with two payloads): forward values and the
 *    backward sums must have the same bits;
 *  - setup refusals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/ops/ops.h"

typedef struct pool_cfg {
    int is_max, c, h, w, kh, kw, sh, sw, dh, dw, ceil_mode, cip;
    int pads[4]; /* top, left, bottom, right */
} pool_cfg;

static int build(gc_graph *gc, const pool_cfg *k)
{
    int x = gc_activation(gc, "x", 4, (int64_t[]){1, k->c, k->h, k->w});
    int node = gc_node(gc, k->is_max ? "MaxPool" : "AveragePool", &x, 1);
    xcnn_node *n = &gc->g->nodes[node];
    xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){k->kh, k->kw}, 2);
    xcnn_node_add_attr_ints(n, "strides", (int64_t[]){k->sh, k->sw}, 2);
    xcnn_node_add_attr_ints(n, "pads",
                            (int64_t[]){k->pads[0], k->pads[1], k->pads[2], k->pads[3]}, 4);
    if (k->is_max) xcnn_node_add_attr_ints(n, "dilations", (int64_t[]){k->dh, k->dw}, 2);
    if (k->ceil_mode) xcnn_node_add_attr_int(n, "ceil_mode", 1);
    if (!k->is_max) xcnn_node_add_attr_int(n, "count_include_pad", k->cip);
    return node;
}

/* PyTorch's pooling_output_shape. */
static int out_size(int in, int k, int s, int d, int pb, int pe, int ceil_mode)
{
    int span = in + pb + pe - d * (k - 1) - 1;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb) out--;
    return out;
}

/* Naive pools: every tap of every window, tested for where it lands. */
static void naive_pool(const pool_cfg *k, int batch, const float *x, float *y, int *argmax)
{
    int oh_n = out_size(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->ceil_mode);
    int ow_n = out_size(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->ceil_mode);
    for (int p = 0; p < batch * k->c; p++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                double sum = 0, best = -INFINITY;
                int count_in = 0, count_padded = 0, arg = -1;
                for (int i = 0; i < k->kh; i++)
                    for (int j = 0; j < k->kw; j++) {
                        int ih = oh * k->sh - k->pads[0] + i * k->dh;
                        int iw = ow * k->sw - k->pads[1] + j * k->dw;
                        /* count_include_pad counts taps inside the padded input */
                        if (ih >= -k->pads[0] && ih < k->h + k->pads[2] && iw >= -k->pads[1] &&
                            iw < k->w + k->pads[3])
                            count_padded++;
                        if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                        int idx = (p * k->h + ih) * k->w + iw;
                        count_in++;
                        sum += x[idx];
                        if (x[idx] > best) {
                            best = x[idx];
                            arg = idx;
                        }
                    }
                int o = (p * oh_n + oh) * ow_n + ow;
                if (k->is_max) {
                    y[o] = (float)best;
                    if (argmax) argmax[o] = arg;
                } else {
                    y[o] = (float)(sum / (k->cip ? count_padded : count_in));
                }
            }
}

/* Does some window hold no input element? (Setup must refuse those.) */
static int has_empty_window(const pool_cfg *k)
{
    int oh_n = out_size(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->ceil_mode);
    int ow_n = out_size(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->ceil_mode);
    for (int oh = 0; oh < oh_n; oh++)
        for (int ow = 0; ow < ow_n; ow++) {
            int any = 0;
            for (int i = 0; i < k->kh; i++)
                for (int j = 0; j < k->kw; j++) {
                    int ih = oh * k->sh - k->pads[0] + i * k->dh;
                    int iw = ow * k->sw - k->pads[1] + j * k->dw;
                    any |= ih >= 0 && ih < k->h && iw >= 0 && iw < k->w;
                }
            if (!any) return 1;
        }
    return 0;
}

/* Smallest gap between a window's max and its runner-up (MaxPool). */
static double min_top2_gap(const pool_cfg *k, int batch, const float *x)
{
    int oh_n = out_size(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->ceil_mode);
    int ow_n = out_size(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->ceil_mode);
    double gap = INFINITY;
    for (int p = 0; p < batch * k->c; p++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                double a = -INFINITY, b = -INFINITY;
                int distinct = 0; /* the same element may sit under two taps? never */
                for (int i = 0; i < k->kh; i++)
                    for (int j = 0; j < k->kw; j++) {
                        int ih = oh * k->sh - k->pads[0] + i * k->dh;
                        int iw = ow * k->sw - k->pads[1] + j * k->dw;
                        if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                        double v = x[(p * k->h + ih) * k->w + iw];
                        distinct++;
                        if (v > a) {
                            b = a;
                            a = v;
                        } else if (v > b) {
                            b = v;
                        }
                    }
                if (distinct > 1 && a - b < gap) gap = a - b;
            }
    return gap;
}

static void describe(const pool_cfg *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s c%d %dx%d k%dx%d s%d,%d d%d,%d pads %d,%d,%d,%d ceil%d%s",
             k->is_max ? "maxpool" : "avgpool", k->c, k->h, k->w, k->kh, k->kw, k->sh, k->sw,
             k->dh, k->dw, k->pads[0], k->pads[1], k->pads[2], k->pads[3], k->ceil_mode,
             k->is_max ? "" : k->cip ? " count_include_pad" : " exclude_pad");
}

/* Setup + forward at `batch` on input x; the output is returned in a
 * malloc'ed array, its size in *ny. NULL if setup failed. */
/* The op's forward with the scratch its setup asked for (MaxPool's phase
 * planes), filled with NaN: no output may depend on what was there. */
static void forward_with_scratch(xcnn_graph *g, xcnn_node *n, int batch)
{
    size_t ns = n->scratch_floats ? n->scratch_floats : 1;
    float *scratch = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++) scratch[i] = NAN;
    n->def->forward(g, n, batch, scratch);
    free(scratch);
}

static float *run_forward(const pool_cfg *k, int batch, const float *x, size_t *ny,
                          const char *label)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int node = build(&gc, k);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = xcnn_op_find(n->op_type);
    xcnn_status st = n->def->setup(g, n, &err);
    if (!check(st == XCNN_OK, "%s: setup (%s)", label, st ? err.msg : "ok")) {
        gc_free(&gc);
        return NULL;
    }
    xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
    int oh = out_size(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->ceil_mode);
    int ow = out_size(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->ceil_mode);
    check(yt->dims[2] == oh && yt->dims[3] == ow, "%s: output %lldx%lld, expected %dx%d", label,
          (long long)yt->dims[2], (long long)yt->dims[3], oh, ow);
    *ny = (size_t)batch * k->c * oh * ow;
    xt->data = (float *)x;
    yt->data = malloc(*ny * sizeof(float));
    for (size_t i = 0; i < *ny; i++) yt->data[i] = NAN;
    forward_with_scratch(g, n, batch);
    float *y = yt->data;
    xt->data = yt->data = NULL;
    gc_free(&gc);
    return y;
}

static void check_forward(const pool_cfg *k, test_rng *r, const char *label)
{
    int batch = 2;
    size_t nx = (size_t)batch * k->c * k->h * k->w, ny = 0;
    float *x = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(r, -1, 1);
    float *y = run_forward(k, batch, x, &ny, label);
    if (y) {
        float *ref = malloc(ny * sizeof(float));
        naive_pool(k, batch, x, ref, NULL);
        char what[256];
        snprintf(what, sizeof what, "%s: forward vs naive", label);
        check_close(what, max_rel_error(y, ref, ny), 1e-5);
        free(ref);
    }
    free(y);
    free(x);
}

/* Finite differences. For MaxPool, pick a seed whose random input (drawn
 * by gradcheck_run as the first thing after setup, from gc.rng) keeps
 * every window's max clear of ties. */
static void check_gradient(const pool_cfg *k, uint64_t seed, const char *label)
{
    int batch = 2;
    size_t nx = (size_t)batch * k->c * k->h * k->w;
    gc_graph gc;
    for (int attempt = 0;; attempt++) {
        gc_init(&gc, seed + 7919u * (uint64_t)attempt);
        if (!k->is_max) break;
        test_rng copy = gc.rng;
        float *x = malloc(nx * sizeof(float));
        for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&copy, gc.lo, gc.hi);
        double gap = min_top2_gap(k, batch, x);
        free(x);
        if (gap > 3e-3 || attempt == 50) break;
        gc_free(&gc);
    }
    int node = build(&gc, k);
    gradcheck_run(&gc, node, batch, label, 1e-2);
    gc_free(&gc);
}

static pool_cfg random_cfg(test_rng *r, int i)
{
    for (;;) {
        pool_cfg k = {0};
        k.is_max = i % 2 == 0;
        k.c = test_rng_int(r, 1, 3);
        k.kh = test_rng_int(r, 1, 4);
        k.kw = test_rng_int(r, 1, 4);
        k.sh = test_rng_int(r, 1, 3);
        k.sw = test_rng_int(r, 1, 3);
        k.dh = k.is_max ? test_rng_int(r, 1, 2) : 1;
        k.dw = k.is_max ? test_rng_int(r, 1, 2) : 1;
        for (int a = 0; a < 4; a++) k.pads[a] = test_rng_int(r, 0, (a % 2 ? k.kw : k.kh) - 1);
        k.ceil_mode = (i / 2) % 2;
        k.cip = (i / 4) % 2;
        k.h = test_rng_int(r, 1, 9);
        k.w = test_rng_int(r, 1, 9);
        int eh = (k.kh - 1) * k.dh + 1, ew = (k.kw - 1) * k.dw + 1;
        if (k.h + k.pads[0] + k.pads[2] < eh || k.w + k.pads[1] + k.pads[3] < ew) continue;
        if (has_empty_window(&k)) continue;
        return k;
    }
}

/* Small inputs x[i] = ((i * 37) % 101) / 50 - 1 and PyTorch's outputs. */
typedef struct torch_case {
    pool_cfg k;
    float want[24];
    int n;
} torch_case;

static void check_torch_cases(void)
{
    static const torch_case cases[] = {
        {{.is_max = 1, .c = 1, .h = 5, .w = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
          .dw = 1, .ceil_mode = 1, .pads = {1, 1, 1, 1}},
         {0.140000001f, 0.879999995f, 0.680000007f, 0.680000007f, 0.939999998f, 0.939999998f,
          0.74000001f, -0.140000001f, 0.939999998f, 0.939999998f, 0.800000012f, 0.25999999f},
         12},
        {{.is_max = 1, .c = 1, .h = 7, .w = 6, .kh = 2, .kw = 3, .sh = 2, .sw = 1, .dh = 2,
          .dw = 1, .ceil_mode = 1, .pads = {1, 1, 1, 1}},
         {0.140000001f, 0.879999995f, 0.879999995f, 0.879999995f, 0.340000004f, 0.340000004f,
          0.939999998f, 0.939999998f, 0.939999998f, 0.879999995f, 0.400000006f, 0.340000004f,
          1, 1, 0.939999998f, 0.460000008f, 0.660000026f, 0.660000026f, 1, 1, 0.460000008f,
          0.460000008f, 0.660000026f, 0.660000026f},
         24},
        {{.is_max = 0, .c = 1, .h = 5, .w = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
          .dw = 1, .ceil_mode = 1, .cip = 1, .pads = {1, 1, 1, 1}},
         {-0.191111118f, 0.0044444371f, -0.131111115f, -0.043333333f, 0.11333333f,
          0.157777786f, -0.157777771f, -0.270000011f, 0.117777772f, 0.131111115f,
          -0.00444444362f, 0.0199999977f},
         12},
        {{.is_max = 0, .c = 1, .h = 5, .w = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
          .dw = 1, .ceil_mode = 1, .cip = 0, .pads = {1, 1, 1, 1}},
         {-0.430000007f, 0.00666665519f, -0.196666673f, -0.129999995f, 0.170000002f,
          0.157777786f, -0.157777771f, -0.540000021f, 0.264999986f, 0.196666673f,
          -0.00666666543f, 0.0599999949f},
         12},
        {{.is_max = 0, .c = 1, .h = 6, .w = 7, .kh = 2, .kw = 3, .sh = 3, .sw = 2, .dh = 1,
          .dw = 1, .ceil_mode = 1, .cip = 1, .pads = {1, 1, 1, 1}},
         {-0.209999993f, -0.0966666713f, -0.0300000012f, 0.0133333309f, -0.203333333f,
          -0.0366666615f, 0.0966666713f, 0.24333334f, 0.00666667009f, 0.0600000024f,
          0.126666665f, -0.106666662f},
         12},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pool_cfg *k = &cases[c].k;
        size_t nx = (size_t)k->c * k->h * k->w, ny = 0;
        float *x = malloc(nx * sizeof(float));
        for (size_t i = 0; i < nx; i++) x[i] = (float)(((i * 37) % 101) / 50.0 - 1.0);
        char label[256], what[300];
        describe(k, label, sizeof label);
        snprintf(what, sizeof what, "%s: vs PyTorch", label);
        float *y = run_forward(k, 1, x, &ny, what);
        if (y && check(ny == (size_t)cases[c].n, "%s: %zu outputs (PyTorch: %d)", what, ny,
                       cases[c].n))
            check_close(what, max_rel_error(y, cases[c].want, ny), 1e-6);
        free(y);
        free(x);
    }
}

/* MaxPool backward sends each dy to the first maximum of its window, as
 * PyTorch does: with a plane of equal values, every window's gradient
 * lands on its first in-input element. */
static void check_first_max(void)
{
    pool_cfg k = {.is_max = 1, .c = 1, .h = 4, .w = 4, .kh = 2, .kw = 2, .sh = 2, .sw = 2,
                  .dh = 1, .dw = 1, .ceil_mode = 1, .pads = {1, 1, 0, 0}};
    gc_graph gc;
    gc_init(&gc, 3);
    int node = build(&gc, &k);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = &xcnn_op_maxpool;
    if (!check(n->def->setup(g, n, &err) == XCNN_OK, "first max: setup")) {
        gc_free(&gc);
        return;
    }
    xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
    float x[16], dx[16] = {0}, y[9], dy[9];
    for (int i = 0; i < 16; i++) x[i] = 0.5f;
    for (int i = 0; i < 9; i++) dy[i] = (float)(i + 1);
    xt->data = x;
    xt->grad = dx;
    xt->grad_on = 1;
    yt->data = y;
    yt->grad = dy;
    forward_with_scratch(g, n, 1);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    n->def->backward(g, n, 1, NULL, &ctx);
    /* Windows start at rows/cols -1, 1, 3; the first in-input element of
     * the window at (-1, -1) is (0, 0), at (-1, 1) is (0, 1), ... */
    float want[16] = {1, 2, 0, 3, 4, 5, 0, 6, 0, 0, 0, 0, 7, 8, 0, 9};
    check(memcmp(dx, want, sizeof want) == 0 && y[0] == 0.5f,
          "maxpool: ties send the gradient to the first maximum in scan order");
    xt->data = xt->grad = yt->data = yt->grad = NULL;
    gc_free(&gc);
}

/* PyTorch's MaxPool rule, plainly: scan the window's in-input taps in
 * order (rows, then columns), start from the first one, and take v when
 * v > max or v is NaN. Returns the index in the plane. */
static int scan_argmax(const pool_cfg *k, const float *x, int oh, int ow)
{
    int best = -1;
    float maxval = -INFINITY;
    for (int i = 0; i < k->kh; i++)
        for (int j = 0; j < k->kw; j++) {
            int ih = oh * k->sh - k->pads[0] + i * k->dh;
            int iw = ow * k->sw - k->pads[1] + j * k->dw;
            if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
            int idx = ih * k->w + iw;
            if (best < 0) best = idx;
            if (x[idx] > maxval || isnan(x[idx])) {
                maxval = x[idx];
                best = idx;
            }
        }
    return best;
}

/* Forward values and backward sums of MaxPool with the same bits as the
 * scan rule, with many ties and NaNs. dx starts non-zero so that the
 * order of the sums into a shared argmax shows in the bits. */
static void check_maxpool_exact(const pool_cfg *k, test_rng *r, const char *label)
{
    const float nan2 = -nanf("7"), vals[8] = {-INFINITY, -1.0f, -0.0f, 0.0f, 1.0f, NAN, nan2, 1.0f};
    int batch = 2, oh_n = out_size(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->ceil_mode);
    int ow_n = out_size(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->ceil_mode);
    size_t in_plane = (size_t)k->h * k->w, out_plane = (size_t)oh_n * ow_n;
    size_t nx = batch * k->c * in_plane, ny = batch * k->c * out_plane;
    float *x = malloc(nx * sizeof(float)), *dx = malloc(nx * sizeof(float));
    float *dx_ref = malloc(nx * sizeof(float)), *y = malloc(ny * sizeof(float));
    float *y_ref = malloc(ny * sizeof(float)), *dy = malloc(ny * sizeof(float));
    /* Mostly finite values, a NaN now and then, so that most windows
     * still have an ordinary maximum. */
    for (size_t i = 0; i < nx; i++) {
        int v = test_rng_int(r, 0, 39);
        x[i] = v < 8 ? vals[v] : v < 36 ? (float)(v % 5) : vals[v % 5];
        dx[i] = dx_ref[i] = test_rng_uniform(r, -1, 1);
    }
    for (size_t i = 0; i < ny; i++) dy[i] = test_rng_uniform(r, -1, 1);
    for (int pl = 0; pl < batch * k->c; pl++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                const float *xp = x + pl * in_plane;
                size_t o = pl * out_plane + (size_t)oh * ow_n + ow;
                int arg = scan_argmax(k, xp, oh, ow);
                y_ref[o] = xp[arg];
                dx_ref[pl * in_plane + arg] += dy[o];
            }

    gc_graph gc;
    gc_init(&gc, 1);
    int node = build(&gc, k);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = &xcnn_op_maxpool;
    if (check(n->def->setup(g, n, &err) == XCNN_OK, "%s: setup (%s)", label, err.msg)) {
        xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
        xt->data = x;
        xt->grad = dx;
        xt->grad_on = 1;
        yt->data = y;
        yt->grad = dy;
        forward_with_scratch(g, n, batch);
        xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
        n->def->backward(g, n, batch, NULL, &ctx);
        check(memcmp(y, y_ref, ny * sizeof(float)) == 0, "%s: forward has the scan rule's bits",
              label);
        check(memcmp(dx, dx_ref, nx * sizeof(float)) == 0,
              "%s: backward has the scan rule's bits", label);
        xt->data = xt->grad = yt->data = yt->grad = NULL;
    }
    gc_free(&gc);
    free(x);
    free(dx);
    free(dx_ref);
    free(y);
    free(y_ref);
    free(dy);
}

static void check_maxpool_exact_cases(test_rng *r)
{
    const pool_cfg fixed[] = {
        /* ResNet's stem pool, 56 outputs a row */
        {.is_max = 1, .c = 2, .h = 9, .w = 112, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
         .dw = 1, .pads = {1, 1, 1, 1}},
        /* rows of 265 outputs: more than one 256-output segment */
        {.is_max = 1, .c = 1, .h = 5, .w = 530, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
         .dw = 1, .pads = {1, 1, 1, 1}},
        /* stride 1: overlapping windows share argmaxes (the order of sums) */
        {.is_max = 1, .c = 1, .h = 6, .w = 70, .kh = 2, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
         .dw = 1, .pads = {0, 1, 1, 0}},
        /* dilation and ceil_mode */
        {.is_max = 1, .c = 1, .h = 11, .w = 83, .kh = 3, .kw = 2, .sh = 2, .sw = 3, .dh = 2,
         .dw = 3, .ceil_mode = 1, .pads = {2, 1, 0, 1}},
        /* exactly one run of full-width windows, no border */
        {.is_max = 1, .c = 1, .h = 3, .w = 18, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
         .dw = 1},
    };
    char label[256];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        describe(&fixed[i], label, sizeof label);
        check_maxpool_exact(&fixed[i], r, label);
    }
    /* Random geometry on wide planes. */
    for (int i = 0; i < 24; i++) {
        pool_cfg k = random_cfg(r, 2 * i); /* even: MaxPool */
        k.w = test_rng_int(r, 16, 140);
        if (has_empty_window(&k)) continue;
        describe(&k, label, sizeof label);
        check_maxpool_exact(&k, r, label);
    }
}

static void check_refused(const char *op, int x_ndim, const char *attr, int64_t v,
                          xcnn_status want, const char *label)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int x = x_ndim == 4 ? gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 5, 5})
                        : gc_activation(&gc, "x", 3, (int64_t[]){1, 2, 5});
    int out2 = xcnn_graph_add_tensor(gc.g, "indices", XCNN_T_ACTIVATION);
    int outs[2] = {-1, out2};
    outs[0] = xcnn_graph_add_tensor(gc.g, "y", XCNN_T_ACTIVATION);
    int two = strcmp(attr, "indices") == 0;
    int node = xcnn_graph_add_node(gc.g, "P", op, &x, 1, outs, two ? 2 : 1);
    xcnn_node *n = &gc.g->nodes[node];
    int64_t ks[2] = {3, 3}, st2[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, dil[2] = {1, 1};
    if (strcmp(attr, "kernel") == 0) ks[0] = v;
    if (strcmp(attr, "stride") == 0) st2[1] = v;
    if (strcmp(attr, "pad") == 0) pads[0] = pads[2] = v;
    if (strcmp(attr, "dilation") == 0) dil[0] = v;
    if (strcmp(attr, "no_kernel") != 0) xcnn_node_add_attr_ints(n, "kernel_shape", ks, 2);
    xcnn_node_add_attr_ints(n, "strides", st2, 2);
    xcnn_node_add_attr_ints(n, "pads", pads, 4);
    xcnn_node_add_attr_ints(n, "dilations", dil, 2);
    if (strcmp(attr, "storage_order") == 0) xcnn_node_add_attr_int(n, "storage_order", v);
    xcnn_err err = {{0}};
    const xcnn_op_def *def = xcnn_op_find(op);
    xcnn_status s = def->setup(gc.g, n, &err);
    check(s == want && strstr(err.msg, "'P'") != NULL, "refused: %s %s -> status %d (want %d): \"%s\"",
          op, label, (int)s, (int)want, err.msg);
    gc_free(&gc);
}

static void check_global(void)
{
    /* 4-D and 3-D inputs, forward vs naive mean and finite differences. */
    for (int rank = 3; rank <= 4; rank++) {
        gc_graph gc;
        gc_init(&gc, 40 + (uint64_t)rank);
        int64_t dims[4] = {1, 3, 5, 7};
        int x = gc_activation(&gc, "x", rank, dims);
        int node = gc_node(&gc, "GlobalAveragePool", &x, 1);
        xcnn_graph *g = gc.g;
        xcnn_node *n = &g->nodes[node];
        xcnn_err err = {{0}};
        n->def = &xcnn_op_globalaveragepool;
        if (!check(n->def->setup(g, n, &err) == XCNN_OK, "globalaveragepool rank %d: setup",
                   rank))
            continue;
        xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
        check(yt->ndim == rank && yt->dims[1] == 3 && yt->dims[2] == 1 &&
                  yt->dims[rank - 1] == 1,
              "globalaveragepool rank %d: output 1x3x1..", rank);
        int pix = rank == 4 ? 35 : 5, batch = 2;
        float x_data[2 * 3 * 35], y[6], ref[6];
        for (int i = 0; i < batch * 3 * pix; i++) x_data[i] = test_rng_uniform(&gc.rng, -1, 1);
        for (int p = 0; p < batch * 3; p++) {
            double s = 0;
            for (int i = 0; i < pix; i++) s += x_data[p * pix + i];
            ref[p] = (float)(s / pix);
        }
        xt->data = x_data;
        yt->data = y;
        forward_with_scratch(g, n, batch);
        xt->data = yt->data = NULL;
        char what[64];
        snprintf(what, sizeof what, "globalaveragepool rank %d: forward vs naive", rank);
        check_close(what, max_rel_error(y, ref, 6), 1e-6);
        snprintf(what, sizeof what, "globalaveragepool rank %d", rank);
        gradcheck_run(&gc, node, batch, what, 1e-2);
        gc_free(&gc);
    }
}

int main(void)
{
    check_torch_cases();
    check_first_max();

    test_rng r = {77};
    for (int i = 0; i < 48; i++) {
        pool_cfg k = random_cfg(&r, i);
        char label[256];
        describe(&k, label, sizeof label);
        check_forward(&k, &r, label);
        check_gradient(&k, 500 + (uint64_t)i, label);
    }
    /* A ResNet stem pool and a GoogLeNet-style ceil_mode pool. */
    pool_cfg stem = {.is_max = 1, .c = 2, .h = 12, .w = 12, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                     .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}};
    pool_cfg ceil = {.is_max = 1, .c = 2, .h = 14, .w = 14, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                     .dh = 1, .dw = 1, .ceil_mode = 1};
    char label[256];
    describe(&stem, label, sizeof label);
    check_forward(&stem, &r, label);
    check_gradient(&stem, 9, label);
    describe(&ceil, label, sizeof label);
    check_forward(&ceil, &r, label);
    check_gradient(&ceil, 10, label);

    check_maxpool_exact_cases(&r);
    check_global();

    check_refused("MaxPool", 4, "stride", 0, XCNN_ERR_SHAPE, "stride 0");
    check_refused("MaxPool", 4, "kernel", 8, XCNN_ERR_SHAPE, "kernel 8x3 over 5x5");
    check_refused("AveragePool", 4, "kernel", 6, XCNN_ERR_SHAPE, "kernel 6x3 over 5x5");
    /* storage_order 1 only orders Indices (refused below): accepted since
     * issue #14; values other than 0 and 1 are not ONNX. */
    check_refused("MaxPool", 4, "storage_order", 2, XCNN_ERR_FORMAT, "storage_order 2");
    check_refused("MaxPool", 4, "indices", 0, XCNN_ERR_UNSUPPORTED, "Indices output");
    check_refused("MaxPool", 3, "", 0, XCNN_ERR_UNSUPPORTED, "1-D input");
    check_refused("MaxPool", 4, "no_kernel", 0, XCNN_ERR_FORMAT, "no kernel_shape");
    check_refused("AveragePool", 4, "dilation", 2, XCNN_ERR_UNSUPPORTED, "dilation 2");
    check_refused("MaxPool", 4, "pad", 3, XCNN_ERR_SHAPE, "pads 3 with kernel 3 (empty window)");
    return check_summary();
}
