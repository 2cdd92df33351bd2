/*
 * Conv's fast paths against its reference (xcnn_conv_reference_forward /
 * _backward in libxcnn/ops/conv.c: the maths as loops, sums in double):
 *   - Winograd F(2x2, 3x3): 3x3 stride-1 convs with frozen weights (no
 *     gradient buffer), forward (with bias, with fused ReLU) and dX;
 *   - Winograd F(4x4, 3x3): the same on planes of 28 and more: the
 *     forward in an inference-only graph, dX (from its own U of the turned
 *     kernel) when the input plane is 28 or more;
 *   - several samples per GEMM: small planes at batch > 1 when the arena's
 *     scratch has room, forward, dX and dW;
 *   - few pixels: the forward transposed, col^T W^T with W^T packed once,
 *     one sample and several side by side; bit for bit the plain GEMM's;
 *   - large planes: the forward's im2col and GEMM piece by piece; 1x1
 *     convs over smaller planes in pieces when threads share them;
 *   - Winograd with few tiles: the products transposed from U^T packed,
 *     against the reference and bit for bit against U;
 *   - strided windows and few pixels direct, with no col
 *     (kernels/conv_direct.h): frozen weights, on every kernel that reads
 *     A at strides; edge tiles, ragged tiles, chunks of channels, partial
 *     panels, taps in the padding;
 *   - few input channels (the stem, kernels/conv_stem.h): frozen weights
 *     on AVX-512, its plain C and AVX-512 sums each against the
 *     reference, in parts, with ragged bands, blocks and rows.
 * Tolerance 1e-5, max error relative to the largest reference value.
 * Plus: each path gives the same bits for 1 and 2 threads, and the
 * transformed weights follow weights that gained gradients (training).
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/kernels/conv_direct.h"
#include "../libxcnn/kernels/conv_stem.h"
#include "../libxcnn/kernels/gemm.h"
#include "../libxcnn/ops/conv.h"
#include "../libxcnn/ops/ops.h"
#include "../libxcnn/kernels/winograd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct cfg {
    int c, m, h, w, k, stride, dil, bias;
    int pads[4];        /* top, left, bottom, right */
    int inference_only; /* the graph's flag: F(4x4, 3x3) on large planes */
} cfg;

static int out_size(int in, int k, int s, int d, int p0, int p1)
{
    return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

/* A conv on the random inputs of one configuration. */
typedef struct rig {
    gc_graph gc;
    xcnn_node *n;
    xcnn_tensor *x, *w, *b, *y;
    int oh, ow, batch;
    float *scratch;
} rig;

static int rig_init(rig *r, const cfg *k, int batch, uint64_t seed, size_t scratch_floats)
{
    gc_init(&r->gc, seed);
    int x = gc_activation(&r->gc, "x", 4, (int64_t[]){1, k->c, k->h, k->w});
    int w = gc_weight(&r->gc, "w", 4, (int64_t[]){k->m, k->c, k->k, k->k});
    int in[3] = {x, w, -1};
    if (k->bias) in[2] = gc_weight(&r->gc, "b", 1, (int64_t[]){k->m});
    int node = gc_node(&r->gc, "Conv", in, k->bias ? 3 : 2);
    xcnn_graph *g = r->gc.g;
    r->n = &g->nodes[node];
    xcnn_node_add_attr_ints(r->n, "kernel_shape", (int64_t[]){k->k, k->k}, 2);
    xcnn_node_add_attr_ints(r->n, "strides", (int64_t[]){k->stride, k->stride}, 2);
    xcnn_node_add_attr_ints(r->n, "dilations", (int64_t[]){k->dil, k->dil}, 2);
    xcnn_node_add_attr_ints(r->n, "pads",
                            (int64_t[]){k->pads[0], k->pads[1], k->pads[2], k->pads[3]}, 4);
    r->n->def = xcnn_op_find("Conv");
    g->inference_only = k->inference_only;
    g->reference = 0; /* the fast paths, in every build (make REFERENCE=1 too) */
    xcnn_err err = {{0}};
    if (r->n->def->setup(g, r->n, &err) != XCNN_OK) {
        check(0, "setup: %s", err.msg);
        gc_free(&r->gc);
        return 0;
    }
    r->x = xcnn_in(g, r->n, 0);
    r->w = xcnn_in(g, r->n, 1);
    r->b = xcnn_in(g, r->n, 2);
    r->y = xcnn_out(g, r->n, 0);
    r->oh = out_size(k->h, k->k, k->stride, k->dil, k->pads[0], k->pads[2]);
    r->ow = out_size(k->w, k->k, k->stride, k->dil, k->pads[1], k->pads[3]);
    r->batch = batch;
    size_t nx = (size_t)batch * k->c * k->h * k->w, ny = (size_t)batch * k->m * r->oh * r->ow;
    r->x->data = malloc(nx * sizeof(float));
    r->x->grad = calloc(nx, sizeof(float));
    r->y->data = malloc(ny * sizeof(float));
    r->y->grad = malloc(ny * sizeof(float));
    for (size_t i = 0; i < nx; i++) r->x->data[i] = test_rng_uniform(&r->gc.rng, -1, 1);
    for (size_t i = 0; i < ny; i++) r->y->grad[i] = test_rng_uniform(&r->gc.rng, -1, 1);
    r->x->grad_on = r->y->grad_on = 1;
    /* The arena's scratch, as a model would give it (0: only the node's). */
    g->scratch_floats = scratch_floats;
    size_t have = scratch_floats > r->n->scratch_floats ? scratch_floats : r->n->scratch_floats;
    r->scratch = malloc((have + 1) * sizeof(float));
    g->batch = batch;
    return 1;
}

static void rig_free(rig *r)
{
    free(r->x->data);
    free(r->x->grad);
    free(r->y->data);
    free(r->y->grad);
    free(r->w->grad);
    r->x->data = r->x->grad = r->y->data = r->y->grad = r->w->grad = NULL;
    free(r->scratch);
    gc_free(&r->gc);
}

static size_t y_count(const rig *r, const cfg *k)
{
    return (size_t)r->batch * k->m * r->oh * r->ow;
}

/* The library's reference (xcnn_conv_reference_*, ops/conv.c: the maths
 * as plain loops, sums in double): y = conv(x) + bias, dx = dY through
 * the conv, dw = summed over the batch. */
static void reference(const cfg *k, const rig *r, float *y, float *dx, float *dw)
{
    const xcnn_conv_shape *s = r->n->params; /* every Conv's params start with it */
    memset(dx, 0, (size_t)r->batch * k->c * k->h * k->w * sizeof *dx);
    memset(dw, 0, (size_t)k->m * k->c * k->k * k->k * sizeof *dw);
    xcnn_conv_reference_forward(s, r->batch, r->x->data, r->w->data, r->b ? r->b->data : NULL, y);
    xcnn_conv_reference_backward(s, r->batch, r->x->data, r->w->data, r->y->grad, dx, dw, NULL);
}

static void run_forward(rig *r)
{
    size_t ny = (size_t)r->batch * r->y->dims[1] * r->oh * r->ow;
    for (size_t i = 0; i < ny; i++) r->y->data[i] = NAN; /* every output must be written */
    r->n->def->forward(r->gc.g, r->n, r->batch, r->scratch);
}

static void run_backward(rig *r)
{
    size_t nx = (size_t)r->batch * xcnn_tensor_sample_numel(r->x);
    memset(r->x->grad, 0, nx * sizeof(float));
    if (r->w->grad) memset(r->w->grad, 0, xcnn_tensor_numel(r->w) * sizeof(float));
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    r->n->def->backward(r->gc.g, r->n, r->batch, r->scratch, &ctx);
}

/* max|got - clip(ref)| / max|ref|: the clipped outputs' error relative to
 * the largest output before clipping (as max_rel_error is to the largest
 * output), written as check.h's loops are (gcc 12 for aarch64 crashed
 * vectorising one with fmax in it). */
static double clip_error(const float *got, const float *ref, size_t n, float lo, float hi)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        float c = ref[i] < lo ? lo : ref[i] > hi ? hi : ref[i];
        double d = fabs((double)got[i] - (double)c);
        if (d > num || isnan(d)) num = isnan(d) ? INFINITY : d;
        if (fabs((double)ref[i]) > den) den = fabs((double)ref[i]);
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

/* Forward, dX (and dW when train) of one configuration against reference(). */
static void check_path(const cfg *k, int batch, size_t scratch, int train, const char *label)
{
    rig r;
    if (!rig_init(&r, k, batch, 7 + (uint64_t)k->c * 31 + (uint64_t)k->h, scratch)) return;
    if (train) {
        r.w->grad = calloc(xcnn_tensor_numel(r.w), sizeof(float));
        r.w->grad_on = 1;
    }
    size_t ny = y_count(&r, k), nx = (size_t)batch * k->c * k->h * k->w;
    size_t nw = xcnn_tensor_numel(r.w);
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    reference(k, &r, y, dx, dw);
    run_forward(&r);
    check_close(label, max_rel_error(r.y->data, y, ny), 1e-5);
    run_backward(&r);
    char what[200];
    snprintf(what, sizeof what, "%s: dX", label);
    check_close(what, max_rel_error(r.x->grad, dx, nx), 1e-5);
    if (train) {
        snprintf(what, sizeof what, "%s: dW", label);
        check_close(what, max_rel_error(r.w->grad, dw, nw), 1e-5);
    }
    /* Fused ReLU (what fuse.c sets for inference-only models). */
    r.n->fused_relu = 1;
    run_forward(&r);
    for (size_t i = 0; i < ny; i++) y[i] = y[i] > 0 ? y[i] : 0;
    snprintf(what, sizeof what, "%s: with fused ReLU", label);
    check_close(what, max_rel_error(r.y->data, y, ny), 1e-5);
    /* Fused Clip (ReLU6 and the like): both bounds bite. */
    r.n->fused_relu = 0;
    r.n->fused_clip = 1;
    r.n->clip_lo = -0.25f;
    r.n->clip_hi = 0.5f;
    run_forward(&r);
    reference(k, &r, y, dx, dw); /* y was passed through the ReLU above */
    snprintf(what, sizeof what, "%s: with fused Clip", label);
    check_close(what, clip_error(r.y->data, y, ny, -0.25f, 0.5f), 1e-5);
    /* NaN through the fused activations: Clip keeps it (as the Clip op),
     * a ReLU makes it 0 (as the Relu op). */
    r.x->data[0] = NAN;
    run_forward(&r);
    size_t nan_clip = 0;
    for (size_t i = 0; i < ny; i++) nan_clip += isnan(r.y->data[i]);
    r.n->fused_clip = 0;
    r.n->fused_relu = 1;
    run_forward(&r);
    size_t nan_relu = 0;
    for (size_t i = 0; i < ny; i++) nan_relu += isnan(r.y->data[i]);
    check(nan_clip > 0 && nan_relu == 0, "%s: a NaN input stays NaN through a fused Clip (%zu "
          "outputs) and gives 0 through a fused ReLU", label, nan_clip);
    r.n->fused_relu = 0;
    free(y);
    free(dx);
    free(dw);
    rig_free(&r);
}

#ifdef _OPENMP
/* The same bits for 1 and 2 threads, forward and dX. */
static void check_threads(const cfg *k, int batch, size_t scratch, const char *label)
{
    rig r;
    if (!rig_init(&r, k, batch, 99, scratch)) return;
    size_t ny = y_count(&r, k), nx = (size_t)batch * k->c * k->h * k->w;
    float *y1 = malloc(ny * sizeof(float)), *dx1 = malloc(nx * sizeof(float));
    omp_set_num_threads(1);
    run_forward(&r);
    run_backward(&r);
    memcpy(y1, r.y->data, ny * sizeof(float));
    memcpy(dx1, r.x->grad, nx * sizeof(float));
    omp_set_num_threads(2);
    run_forward(&r);
    run_backward(&r);
    check(memcmp(y1, r.y->data, ny * sizeof(float)) == 0 &&
              memcmp(dx1, r.x->grad, nx * sizeof(float)) == 0,
          "%s: 1 and 2 threads give the same bits", label);
    free(y1);
    free(dx1);
    rig_free(&r);
}
#endif

/* Frozen weights take the transposed path (Y^T = col^T W^T, packed W^T)
 * where it pays; weights with gradients the plain GEMM. Both must give
 * the same bits: the same kernel sums every output in the same order. */
static void check_transposed_bits(const cfg *k, int batch, size_t scratch, const char *label)
{
    rig r;
    if (!rig_init(&r, k, batch, 31, scratch)) return;
    size_t ny = y_count(&r, k), nw = xcnn_tensor_numel(r.w);
    float *frozen = malloc(ny * sizeof(float));
    run_forward(&r);
    memcpy(frozen, r.y->data, ny * sizeof(float));
    r.w->grad = calloc(nw, sizeof(float));
    run_forward(&r);
    check(memcmp(frozen, r.y->data, ny * sizeof(float)) == 0,
          "%s: transposed and plain GEMM give the same bits", label);
    free(frozen);
    rig_free(&r);
}

/* Samples side by side in one call give each sample's batch-1 bits: the
 * output starts from the bias in both (the batched path once added the
 * bias after the sum, an ulp off the single-sample path's). */
static void check_batch_bits(const cfg *k, int batch, size_t scratch, const char *label)
{
    rig r, r1;
    if (!rig_init(&r, k, batch, 41, scratch)) return;
    if (!rig_init(&r1, k, 1, 41, 0)) {
        rig_free(&r);
        return;
    }
    memcpy(r1.w->data, r.w->data, xcnn_tensor_numel(r.w) * sizeof(float));
    if (r.b) memcpy(r1.b->data, r.b->data, (size_t)k->m * sizeof(float));
    run_forward(&r);
    size_t xs = xcnn_tensor_sample_numel(r.x), ys = (size_t)k->m * r.oh * r.ow;
    int same = 1;
    for (int b = 0; b < batch; b++) {
        memcpy(r1.x->data, r.x->data + (size_t)b * xs, xs * sizeof(float));
        run_forward(&r1);
        same &= memcmp(r1.y->data, r.y->data + (size_t)b * ys, ys * sizeof(float)) == 0;
    }
    check(same, "%s: every sample gives its batch-1 bits", label);
    rig_free(&r1);
    rig_free(&r);
}

/* Winograd's products transposed, from U^T packed, against U itself: the
 * same bits (same kernel, same sums), for tile size m and every kernel
 * this CPU runs. */
static void check_winograd_packed_bits(int m, int c_in, int c_out, int h, int w)
{
    xcnn_winograd_geom geo = {h, w, 1, 1, h, w, m};
    size_t nx = (size_t)c_in * h * w, ny = (size_t)c_out * h * w, nw = (size_t)c_out * c_in * 9;
    test_rng rng = {1234u + (uint64_t)c_out};
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float));
    float *y1 = malloc(ny * sizeof(float)), *y2 = malloc(ny * sizeof(float));
    float *u = malloc((size_t)xcnn_winograd_positions(m) * c_out * c_in * sizeof(float));
    float *scratch = malloc(xcnn_winograd_scratch(&geo, c_in, c_out, 1) * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nw; i++) wt[i] = test_rng_uniform(&rng, -1, 1);
    xcnn_winograd_weights(wt, c_out, c_in, m, u);
    for (int k = 0; k < XCNN_GEMM_N_KINDS; k++) {
        if (!xcnn_gemm_available((xcnn_gemm_kind)k)) continue;
        int nr = xcnn_gemm_panel_width((xcnn_gemm_kind)k);
        float *packed = calloc(xcnn_winograd_packed_floats(m, c_in, c_out, nr), sizeof(float));
        xcnn_winograd_weights_packed(wt, c_out, c_in, m, nr, packed);
        xcnn_winograd_u plain = {u, 0, NULL, (xcnn_gemm_kind)k};
        xcnn_winograd_u turned = {NULL, 0, packed, (xcnn_gemm_kind)k};
        /* the plain path runs the selected kernel: force it to k */
        setenv("XCNN_GEMM", xcnn_gemm_name((xcnn_gemm_kind)k), 1);
        xcnn_winograd_conv(&geo, c_in, c_out, 1, x, 0, &plain, NULL, 0, 1, NULL, y1, 0, scratch, 0);
        unsetenv("XCNN_GEMM");
        xcnn_winograd_conv(&geo, c_in, c_out, 1, x, 0, &turned, NULL, 0, 1, NULL, y2, 0, scratch,
                           0);
        check(memcmp(y1, y2, ny * sizeof(float)) == 0,
              "winograd F(%dx%d) c%d m%d %dx%d, %s: U^T packed gives U's bits", m, m, c_in,
              c_out, h, w, xcnn_gemm_name((xcnn_gemm_kind)k));
        free(packed);
    }
    free(x);
    free(wt);
    free(y1);
    free(y2);
    free(u);
    free(scratch);
}

/* A large plane with small U runs in bands of tile rows when the scratch
 * has room for a band per thread: the same bits as the whole call (forward
 * with bias and ReLU, and accumulating as dX does). */
static void check_winograd_band_bits(void)
{
    int c_in = 16, c_out = 16, h = 96, w = 96;
    xcnn_winograd_geom geo = {h, w, 1, 1, h, w, 2};
    size_t nx = (size_t)c_in * h * w, ny = (size_t)c_out * h * w, nw = (size_t)c_out * c_in * 9;
    size_t whole = xcnn_winograd_scratch(&geo, c_in, c_out, 1);
    size_t band = xcnn_winograd_band_scratch(&geo, c_in, c_out, 4);
    test_rng rng = {99};
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float)), *b = malloc(64);
    float *y1 = malloc(ny * sizeof(float)), *y2 = malloc(ny * sizeof(float));
    float *u = malloc((size_t)16 * c_out * c_in * sizeof(float));
    float *scratch = malloc((whole > band ? whole : band) * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nw; i++) wt[i] = test_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < c_out; i++) b[i] = test_rng_uniform(&rng, -1, 1);
    xcnn_winograd_weights(wt, c_out, c_in, 2, u);
    xcnn_winograd_u wu = {u, 0, NULL, XCNN_GEMM_AUTO};
    check(band > 0, "winograd 16x16 channels on 96x96: runs in bands (%zu scratch floats)", band);
    for (int acc = 0; acc < 2; acc++) {
        for (size_t i = 0; i < ny; i++) y1[i] = y2[i] = (float)(i % 7);
        xcnn_winograd_conv(&geo, c_in, c_out, 1, x, 0, &wu, acc ? NULL : b, acc, !acc, NULL, y1, 0,
                           scratch, 0); /* no room for bands: whole */
        xcnn_winograd_conv(&geo, c_in, c_out, 1, x, 0, &wu, acc ? NULL : b, acc, !acc, NULL, y2, 0,
                           scratch, whole > band ? whole : band);
        check(memcmp(y1, y2, ny * sizeof(float)) == 0,
              "winograd in bands gives the whole call's bits (%s)",
              acc ? "accumulating" : "bias and ReLU");
    }
    free(x);
    free(wt);
    free(b);
    free(y1);
    free(y2);
    free(u);
    free(scratch);
}

/* Weights that gain gradient buffers after a Winograd forward (training
 * starts) must not be served from the old transform. */
static void check_weights_change(void)
{
    cfg k = {.c = 16, .m = 16, .h = 8, .w = 8, .k = 3, .stride = 1, .dil = 1, .bias = 0,
             .pads = {1, 1, 1, 1}};
    rig r;
    if (!rig_init(&r, &k, 1, 5, 0)) return;
    run_forward(&r); /* frozen: Winograd, transform made */
    size_t nw = xcnn_tensor_numel(r.w), ny = y_count(&r, &k), nx = (size_t)16 * 64;
    for (size_t i = 0; i < nw; i++) r.w->data[i] *= -2.0f; /* an update ... */
    r.w->grad = calloc(nw, sizeof(float)); /* ... of weights now being trained */
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    reference(&k, &r, y, dx, dw);
    run_forward(&r);
    check_close("weights updated under training: forward sees the new weights",
                max_rel_error(r.y->data, y, ny), 1e-5);
    free(y);
    free(dx);
    free(dw);
    rig_free(&r);
}

/* A form that runs on frozen weights only (runs: the op's query for it):
 * taken with them and not once the weights have a gradient, then against
 * the reference at batch 1 and 2, batch bits and thread bits. label has
 * room for 200 chars. */
static void check_frozen_form(const cfg *k, char *label,
                              int (*runs)(xcnn_graph *, const xcnn_node *), const char *form)
{
    rig r;
    if (rig_init(&r, k, 1, 5, 0)) {
        check(runs(r.gc.g, r.n), "%s: runs %s", label, form);
        r.w->grad = calloc(xcnn_tensor_numel(r.w), sizeof(float));
        check(!runs(r.gc.g, r.n), "%s: not with trained weights", label);
        rig_free(&r);
    }
    check_path(k, 1, 0, 0, label);
    strcat(label, ", batch 2");
    check_path(k, 2, 0, 0, label);
    check_batch_bits(k, 2, 0, label);
#ifdef _OPENMP
    check_threads(k, 2, 0, label);
#endif
}

/* The direct forward (frozen weights) on each kernel that reads A at
 * strides (AVX-512's 7 x 48 where the CPU has it, and the portable 8 x 8)
 * against the reference, and the same bits for 1 and 2 threads; with
 * trained weights the conv takes im2col instead. */
static void check_direct(const cfg *k, const char *what)
{
    for (int kind = 0; kind < XCNN_GEMM_N_KINDS; kind++) {
        if (!xcnn_gemm_available((xcnn_gemm_kind)kind) ||
            !xcnn_conv_direct_runs((xcnn_gemm_kind)kind) || kind == XCNN_GEMM_AUTO)
            continue;
        setenv("XCNN_GEMM", xcnn_gemm_name((xcnn_gemm_kind)kind), 1);
        char label[200];
        snprintf(label, sizeof label, "direct %s c%d m%d %dx%d k%d s%d d%d pads %d,%d,%d,%d, %s",
                 what, k->c, k->m, k->h, k->w, k->k, k->stride, k->dil, k->pads[0], k->pads[1],
                 k->pads[2], k->pads[3], xcnn_gemm_name((xcnn_gemm_kind)kind));
        check_frozen_form(k, label, xcnn_conv_fast_direct, "direct");
    }
    unsetenv("XCNN_GEMM");
}

/* xcnn_conv_direct in parts (as threads run it, here one after another):
 * for 1 to 5 parts, every output written, and the bits of one part. The
 * first geometry splits its tiles, the second (weights larger than the
 * input) its panels. */
static void check_direct_parts(void)
{
    const xcnn_window2d geo[] = {
        {.in_h = 14, .in_w = 14, .k_h = 3, .k_w = 3, .stride_h = 2, .stride_w = 2, .dil_h = 1,
         .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .out_h = 7,
         .out_w = 7},
        {.in_h = 7, .in_w = 7, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1, .dil_h = 1,
         .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .out_h = 7,
         .out_w = 7},
    };
    const int chans[] = {16, 40}, outs[] = {20, 100};
    for (int gi = 0; gi < 2; gi++)
        for (int kind = 0; kind < XCNN_GEMM_N_KINDS; kind++) {
            if (!xcnn_gemm_available((xcnn_gemm_kind)kind) ||
                !xcnn_conv_direct_runs((xcnn_gemm_kind)kind))
                continue;
            const xcnn_window2d *w = &geo[gi];
            int c = chans[gi], m = outs[gi], npix = w->out_h * w->out_w;
            size_t nx = (size_t)c * w->in_h * w->in_w, nw = (size_t)m * c * 9;
            size_t np = xcnn_conv_direct_packed_floats((xcnn_gemm_kind)kind, c, 9, m);
            test_rng rng = {77u + (uint64_t)gi};
            float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float));
            float *packed = malloc(np * sizeof(float));
            float *one = malloc((size_t)npix * m * sizeof(float));
            float *yt = malloc((size_t)npix * m * sizeof(float));
            for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
            for (size_t i = 0; i < nw; i++) wt[i] = test_rng_uniform(&rng, -1, 1);
            xcnn_conv_direct_pack((xcnn_gemm_kind)kind, wt, m, c, 9, packed);
            xcnn_conv_direct((xcnn_gemm_kind)kind, w, c, m, x, packed, one, 0, 1);
            int same = 1;
            for (int parts = 2; parts <= 5; parts++) {
                for (size_t i = 0; i < (size_t)npix * m; i++) yt[i] = NAN;
                for (int k = 0; k < parts; k++)
                    xcnn_conv_direct((xcnn_gemm_kind)kind, w, c, m, x, packed, yt, k, parts);
                same &= memcmp(one, yt, (size_t)npix * m * sizeof(float)) == 0;
            }
            check(same, "direct in 2 to 5 parts: the bits of one part (c%d m%d %dx%d, %s)", c, m,
                  w->in_h, w->in_w, xcnn_gemm_name((xcnn_gemm_kind)kind));
            free(x);
            free(wt);
            free(packed);
            free(one);
            free(yt);
        }
}

/* The stem form through the op: chosen for frozen weights only, equal to
 * the reference (with fused ReLU, Clip, NaN), batch and thread bits. Only
 * where the CPU runs its AVX-512 sums: elsewhere setup keeps im2col. */
static void check_stem(const cfg *k)
{
    char label[200];
    snprintf(label, sizeof label, "stem c%d m%d %dx%d k%d s%d pads %d,%d,%d,%d", k->c, k->m,
             k->h, k->w, k->k, k->stride, k->pads[0], k->pads[1], k->pads[2], k->pads[3]);
    if (!xcnn_conv_stem_simd()) {
        check_skip("%s: this CPU has no AVX-512, the stem form does not run", label);
        return;
    }
    check_frozen_form(k, label, xcnn_conv_fast_stem, "in the stem form");
}

/* xcnn_conv_stem itself, plain C and (where it runs) AVX-512: against a
 * double sum with bias and ReLU, and in 2 to 5 parts the bits of one. */
static void check_stem_kernel(const xcnn_window2d *w, int c, int m)
{
    int taps = w->k_h * w->k_w, npix = w->out_h * w->out_w;
    size_t nx = (size_t)c * w->in_h * w->in_w, ny = (size_t)m * npix;
    test_rng rng = {1234u + (uint64_t)c * 7 + (uint64_t)m};
    float *x = malloc(nx * sizeof(float)), *wt = malloc((size_t)m * c * taps * sizeof(float));
    float *bias = malloc((size_t)m * sizeof(float)), *ref = malloc(ny * sizeof(float));
    float *packed = malloc(xcnn_conv_stem_packed_floats(c, taps, m) * sizeof(float));
    float *phases = malloc(xcnn_conv_stem_phase_floats(w, c) * sizeof(float));
    size_t band = xcnn_conv_stem_band_floats(w);
    float *bands = malloc(5 * band * sizeof(float));
    float *one = malloc(ny * sizeof(float)), *y = malloc(ny * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < (size_t)m * c * taps; i++) wt[i] = test_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < m; i++) bias[i] = test_rng_uniform(&rng, -1, 1);
    for (int o = 0; o < m; o++)
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow = 0; ow < w->out_w; ow++) {
                double sum = bias[o];
                for (int ci = 0; ci < c; ci++)
                    for (int ki = 0; ki < w->k_h; ki++)
                        for (int kj = 0; kj < w->k_w; kj++) {
                            int ih = oh * w->stride_h - w->pad_top + ki;
                            int iw = ow * w->stride_w - w->pad_left + kj;
                            if (ih >= 0 && ih < w->in_h && iw >= 0 && iw < w->in_w)
                                sum += (double)wt[((size_t)o * c + ci) * taps + ki * w->k_w + kj] *
                                       x[((size_t)ci * w->in_h + ih) * w->in_w + iw];
                        }
                ref[(size_t)o * npix + oh * w->out_w + ow] = (float)(sum > 0 ? sum : 0);
            }
    xcnn_conv_stem_pack(wt, m, c, taps, packed);
    xcnn_gemm_epilogue ep = {bias, 1, 0, 0.0f, 0.0f, NULL};
    for (int simd = 0; simd <= xcnn_conv_stem_simd(); simd++) {
        for (int k = 0; k < xcnn_conv_stem_fill_pieces(w, c); k++)
            xcnn_conv_stem_fill(w, k, x, phases, simd);
        for (size_t i = 0; i < ny; i++) one[i] = NAN;
        xcnn_conv_stem(w, c, m, phases, packed, &ep, one, bands, 0, 1, simd);
        check_close("stem sums", max_rel_error(one, ref, ny), 1e-5);
        int same = 1;
        for (int parts = 2; parts <= 5; parts++) {
            for (size_t i = 0; i < ny; i++) y[i] = NAN;
            for (int k = 0; k < parts; k++)
                xcnn_conv_stem(w, c, m, phases, packed, &ep, y, bands + (size_t)k * band, k,
                               parts, simd);
            same &= memcmp(one, y, ny * sizeof(float)) == 0;
        }
        check(same, "stem in 2 to 5 parts: the bits of one part (c%d m%d %dx%d k%dx%d s%d, %s)",
              c, m, w->in_h, w->in_w, w->k_h, w->k_w, w->stride_h, simd ? "AVX-512" : "plain C");
    }
    free(x);
    free(wt);
    free(bias);
    free(ref);
    free(packed);
    free(phases);
    free(bands);
    free(one);
    free(y);
}

/* MaxPool over one plane, window by window in scan order: a later tap
 * kept only if larger or NaN, the padding skipped (ops/pool.c's rule). */
static void pool_scan(const xcnn_window2d *p, const float *x, float *y)
{
    for (int oh = 0; oh < p->out_h; oh++)
        for (int ow = 0; ow < p->out_w; ow++) {
            float m = NAN;
            int first = 1;
            for (int i = 0; i < p->k_h; i++)
                for (int j = 0; j < p->k_w; j++) {
                    int r = oh * p->stride_h - p->pad_top + i, c = ow * p->stride_w - p->pad_left + j;
                    if (r < 0 || r >= p->in_h || c < 0 || c >= p->in_w) continue;
                    float v = x[r * p->in_w + c];
                    if (first || v > m || isnan(v)) m = v;
                    first = 0;
                }
            y[oh * p->out_w + ow] = m;
        }
}

/* xcnn_conv_stem_pooled: the bits of xcnn_conv_stem then the pool's scan,
 * in 1 to 5 parts, plain C and (where it runs) AVX-512; with ReLU, or
 * with none and a NaN in the input (the pool keeps NaN). */
static void check_stem_pooled(const xcnn_window2d *w, int c, int m, const xcnn_window2d *pool,
                              int relu)
{
    int taps = w->k_h * w->k_w, npix = w->out_h * w->out_w;
    size_t nx = (size_t)c * w->in_h * w->in_w, ny = (size_t)m * npix;
    size_t npool = (size_t)m * pool->out_h * pool->out_w;
    test_rng rng = {99u + (uint64_t)m * 3 + (uint64_t)relu};
    float *x = malloc(nx * sizeof(float)), *wt = malloc((size_t)m * c * taps * sizeof(float));
    float *bias = malloc((size_t)m * sizeof(float)), *conv = malloc(ny * sizeof(float));
    float *packed = malloc(xcnn_conv_stem_packed_floats(c, taps, m) * sizeof(float));
    float *phases = malloc(xcnn_conv_stem_phase_floats(w, c) * sizeof(float));
    size_t slot = xcnn_conv_stem_pool_floats(w, pool);
    float *scratch = malloc(5 * slot * sizeof(float));
    float *ref = malloc(npool * sizeof(float)), *y = malloc(npool * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    if (!relu) x[nx / 2 + 3] = NAN;
    for (size_t i = 0; i < (size_t)m * c * taps; i++) wt[i] = test_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < m; i++) bias[i] = test_rng_uniform(&rng, -1, 1);
    xcnn_conv_stem_pack(wt, m, c, taps, packed);
    xcnn_gemm_epilogue ep = {bias, relu, 0, 0.0f, 0.0f, NULL};
    check(xcnn_conv_stem_pool_fits(w, pool), "the pool fits the stem's output (%dx%d)",
          pool->out_h, pool->out_w);
    for (int simd = 0; simd <= xcnn_conv_stem_simd(); simd++) {
        for (int k = 0; k < xcnn_conv_stem_fill_pieces(w, c); k++)
            xcnn_conv_stem_fill(w, k, x, phases, simd);
        xcnn_conv_stem(w, c, m, phases, packed, &ep, conv, scratch, 0, 1, simd);
        for (int o = 0; o < m; o++)
            pool_scan(pool, conv + (size_t)o * npix, ref + (size_t)o * pool->out_h * pool->out_w);
        int same = 1, nans = 0;
        for (int parts = 1; parts <= 5; parts++) {
            for (size_t i = 0; i < npool; i++) y[i] = -7.0f;
            for (int k = 0; k < parts; k++)
                xcnn_conv_stem_pooled(w, c, m, phases, packed, &ep, pool, y,
                                      scratch + (size_t)k * slot, k, parts, simd);
            same &= memcmp(ref, y, npool * sizeof(float)) == 0;
        }
        for (size_t i = 0; i < npool; i++) nans += isnan(y[i]) != 0;
        check(same && (relu ? nans == 0 : nans > 0),
              "stem + pool %dx%d/%d: the bits of the stem then the pool in 1 to 5 parts "
              "(c%d m%d out %dx%d, %s, %s, %d NaN)", pool->k_h, pool->k_w, pool->stride_h, c, m,
              w->out_h, w->out_w, relu ? "ReLU" : "no ReLU", simd ? "AVX-512" : "plain C", nans);
    }
    free(x);
    free(wt);
    free(bias);
    free(conv);
    free(packed);
    free(phases);
    free(scratch);
    free(ref);
    free(y);
}

int main(void)
{
    const size_t big = 1u << 22; /* room for several samples per call */
    /* Winograd shapes: even and odd planes, asymmetric and wide pads. */
    cfg wino[] = {
        {.c = 16, .m = 16, .h = 8, .w = 8, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
        {.c = 17, .m = 20, .h = 11, .w = 9, .k = 3, .stride = 1, .dil = 1, .bias = 0,
         .pads = {0, 2, 1, 0}},
        {.c = 24, .m = 16, .h = 13, .w = 12, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {0, 0, 0, 0}},
        {.c = 16, .m = 33, .h = 9, .w = 14, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {2, 2, 2, 2}},
    };
    for (size_t i = 0; i < sizeof wino / sizeof wino[0]; i++) {
        const cfg *k = &wino[i];
        char label[160];
        snprintf(label, sizeof label, "winograd c%d m%d %dx%d pads %d,%d,%d,%d", k->c, k->m,
                 k->h, k->w, k->pads[0], k->pads[1], k->pads[2], k->pads[3]);
        check_path(k, 1, 0, 0, label);
        strcat(label, ", batch 3 in one call");
        check_path(k, 3, big, 0, label);
    }
    /* F(4x4, 3x3): planes of 28 and more, inference-only graphs; odd
     * sizes leave partial 4x4 tiles at the right and bottom. */
    cfg wino4[] = {
        {.c = 16, .m = 16, .h = 28, .w = 28, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}, .inference_only = 1},
        {.c = 17, .m = 20, .h = 31, .w = 29, .k = 3, .stride = 1, .dil = 1, .bias = 0,
         .pads = {0, 2, 1, 0}, .inference_only = 1},
        {.c = 16, .m = 24, .h = 30, .w = 33, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {2, 2, 2, 2}, .inference_only = 1},
    };
    for (size_t i = 0; i < sizeof wino4 / sizeof wino4[0]; i++) {
        const cfg *k = &wino4[i];
        char label[160];
        snprintf(label, sizeof label, "winograd F(4x4) c%d m%d %dx%d pads %d,%d,%d,%d", k->c,
                 k->m, k->h, k->w, k->pads[0], k->pads[1], k->pads[2], k->pads[3]);
        check_path(k, 1, 0, 0, label);
        strcat(label, ", batch 2 in one call");
        check_path(k, 2, big, 0, label);
        /* The same shapes with gradients: F(2x2) forward, F(4x4) dX (its
         * output, the input plane, is 28 or more). */
        cfg grad = *k;
        grad.inference_only = 0;
        snprintf(label, sizeof label, "winograd F(4x4) dX c%d m%d %dx%d pads %d,%d,%d,%d",
                 k->c, k->m, k->h, k->w, k->pads[0], k->pads[1], k->pads[2], k->pads[3]);
        check_path(&grad, 1, 0, 0, label);
        strcat(label, ", batch 3 in one call");
        check_path(&grad, 3, big, 0, label);
#ifdef _OPENMP
        check_threads(&grad, 3, big, label);
#endif
    }
    /* Several samples per GEMM: small planes, strides, 1x1 stride 2. */
    cfg small[] = {
        {.c = 8, .m = 12, .h = 7, .w = 7, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
        {.c = 6, .m = 10, .h = 9, .w = 8, .k = 3, .stride = 2, .dil = 1, .bias = 0,
         .pads = {1, 0, 1, 1}},
        {.c = 5, .m = 7, .h = 10, .w = 10, .k = 1, .stride = 2, .dil = 1, .bias = 1,
         .pads = {0, 0, 0, 0}},
        {.c = 3, .m = 4, .h = 11, .w = 9, .k = 3, .stride = 1, .dil = 2, .bias = 1,
         .pads = {2, 2, 2, 2}},
    };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        const cfg *k = &small[i];
        char label[160];
        snprintf(label, sizeof label, "batched im2col c%d m%d %dx%d k%d s%d d%d, batch 5",
                 k->c, k->m, k->h, k->w, k->k, k->stride, k->dil);
        check_path(k, 5, big, 0, label);
        check_batch_bits(k, 5, big, label);
        strcat(label, ", weights trained");
        check_path(k, 5, big, 1, label);
    }
    /* With room for only 2 samples per call: chunks of 2, 2 and 1. */
    {
        const cfg *k = &small[0];
        size_t two = 2 * ((size_t)k->c * 9 + k->m) * 49;
        check_path(k, 5, two, 1, "batched im2col, 2 samples per call, batch 5");
    }
    /* Winograd with few tiles (7x7 of them): products transposed, from
     * U^T packed; 48 and 90 output channels (whole and partial panels). */
    cfg wino_few[] = {
        {.c = 16, .m = 48, .h = 14, .w = 14, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
        {.c = 20, .m = 90, .h = 13, .w = 14, .k = 3, .stride = 1, .dil = 1, .bias = 0,
         .pads = {1, 1, 1, 1}},
        {.c = 16, .m = 48, .h = 28, .w = 27, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}, .inference_only = 1},
    };
    for (size_t i = 0; i < sizeof wino_few / sizeof wino_few[0]; i++) {
        const cfg *k = &wino_few[i];
        char label[160];
        snprintf(label, sizeof label, "winograd%s, U^T packed, c%d m%d %dx%d",
                 k->inference_only ? " F(4x4)" : "", k->c, k->m, k->h, k->w);
        check_path(k, 1, 0, 0, label);
        strcat(label, ", batch 3 in one call");
        check_path(k, 3, big, 0, label);
    }
    check_winograd_band_bits();
    {   /* the op on a plane large enough for bands, against the reference */
        cfg k = {.c = 16, .m = 16, .h = 96, .w = 95, .k = 3, .stride = 1, .dil = 1, .bias = 1,
                 .pads = {1, 1, 1, 1}};
        check_path(&k, 1, 0, 0, "winograd in bands c16 m16 96x95");
#ifdef _OPENMP
        check_threads(&k, 1, 0, "winograd in bands");
#endif
    }
    {   /* a 1x1 conv on a 28 x 28 plane: whole on one thread, in pieces of
         * pixels on two (forward_pointwise); the same sums either way */
        cfg k = {.c = 64, .m = 128, .h = 28, .w = 28, .k = 1, .stride = 1, .dil = 1, .bias = 1,
                 .pads = {0, 0, 0, 0}, .inference_only = 1};
        check_path(&k, 1, 0, 0, "1x1 c64 m128 28x28");
#ifdef _OPENMP
        check_threads(&k, 1, 0, "1x1 c64 m128 28x28 (pieces on two threads)");
#endif
        /* weights larger than the input (ResNet-50's 14 x 14 convs): one
         * GEMM whose threads share W's rows */
        cfg heavy = {.c = 256, .m = 256, .h = 14, .w = 14, .k = 1, .stride = 1, .dil = 1,
                     .bias = 1, .pads = {0, 0, 0, 0}, .inference_only = 1};
        check_path(&heavy, 1, 0, 0, "1x1 c256 m256 14x14");
#ifdef _OPENMP
        check_threads(&heavy, 1, 0, "1x1 c256 m256 14x14 (one GEMM on two threads)");
#endif
    }
    check_winograd_packed_bits(2, 16, 48, 14, 14);
    check_winograd_packed_bits(2, 24, 100, 13, 14);
    check_winograd_packed_bits(4, 16, 40, 28, 28);
    /* Few pixels, many output channels: forward transposed with W^T
     * packed (7x7 planes, stride 2, 1x1, a plane of 36 = not whole 7-row
     * tiles, output channels not a multiple of 48; the bias added as Y is
     * turned back, and with 288 rows of col, more than one K slice, the
     * bias first). */
    cfg few[] = { /* (16+ channels and rows of 7+ pixels run direct) */
        {.c = 32, .m = 48, .h = 6, .w = 6, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
        {.c = 8, .m = 48, .h = 7, .w = 7, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
        {.c = 5, .m = 96, .h = 14, .w = 13, .k = 3, .stride = 2, .dil = 1, .bias = 0,
         .pads = {1, 1, 1, 1}},
        {.c = 20, .m = 48, .h = 5, .w = 5, .k = 1, .stride = 1, .dil = 1, .bias = 1,
         .pads = {0, 0, 0, 0}},
        {.c = 7, .m = 100, .h = 6, .w = 6, .k = 3, .stride = 1, .dil = 1, .bias = 1,
         .pads = {1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof few / sizeof few[0]; i++) {
        const cfg *k = &few[i];
        char label[160];
        snprintf(label, sizeof label, "transposed c%d m%d %dx%d k%d s%d", k->c, k->m, k->h,
                 k->w, k->k, k->stride);
        check_path(k, 1, 0, 0, label);
        check_transposed_bits(k, 1, 0, label);
        strcat(label, ", batch 3 in one call");
        check_path(k, 3, big, 0, label);
        check_transposed_bits(k, 3, big, label);
        check_batch_bits(k, 3, big, label);
    }
    /* Large planes: im2col and GEMM piece by piece (pieces cross output
     * rows; the last is partial), a 7x7 stride-2 stem and a 3x3. */
    cfg large[] = {
        {.c = 3, .m = 16, .h = 99, .w = 101, .k = 7, .stride = 2, .dil = 1, .bias = 1,
         .pads = {3, 3, 3, 2}},
        {.c = 4, .m = 8, .h = 50, .w = 47, .k = 3, .stride = 1, .dil = 1, .bias = 0,
         .pads = {1, 0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        const cfg *k = &large[i];
        char label[160];
        snprintf(label, sizeof label, "large plane in pieces c%d m%d %dx%d k%d s%d", k->c, k->m,
                 k->h, k->w, k->k, k->stride);
        check_path(k, 1, 0, 0, label);
        strcat(label, ", batch 2");
        check_path(k, 2, 0, 0, label);
    }
    {   /* more than one K slice of the GEMM (kcol > 256): the sum's order
         * depends on where the bias comes in */
        cfg deep[] = {
            {.c = 40, .m = 48, .h = 6, .w = 6, .k = 3, .stride = 1, .dil = 1, .bias = 1,
             .pads = {1, 1, 1, 1}},
            {.c = 32, .m = 20, .h = 9, .w = 9, .k = 3, .stride = 2, .dil = 1, .bias = 1,
             .pads = {1, 1, 1, 1}},
        };
        check_batch_bits(&deep[0], 3, big, "transposed c40 m48 6x6 k3 (kcol 360), batch 3");
        check_batch_bits(&deep[1], 4, big, "batched im2col c32 m20 9x9 k3 s2 (kcol 288), batch 4");
    }
    {   /* strided windows, direct */
        cfg direct[] = {
            /* ResNet's 3x3 stride 2: the left padding in the first tile */
            {.c = 16, .m = 20, .h = 14, .w = 14, .k = 3, .stride = 2, .dil = 1, .bias = 1,
             .pads = {1, 1, 1, 1}},
            /* two chunks of channels (130 > 128), a partial panel, 8 x 8
             * outputs (a 7-pixel tile and a ragged one of 1) */
            {.c = 130, .m = 50, .h = 16, .w = 16, .k = 3, .stride = 2, .dil = 1, .bias = 1,
             .pads = {1, 1, 1, 1}},
            /* odd plane: the right padding, and the last rows' strided
             * reads would leave the plane (gathered) */
            {.c = 16, .m = 16, .h = 13, .w = 13, .k = 3, .stride = 2, .dil = 1, .bias = 0,
             .pads = {1, 1, 1, 1}},
            /* 5x5, stride 3, dilation 2, uneven pads, taps wholly in the
             * padding at the top and bottom */
            {.c = 17, .m = 33, .h = 23, .w = 29, .k = 5, .stride = 3, .dil = 2, .bias = 1,
             .pads = {4, 2, 0, 3}},
            /* stride 1, few pixels (ResNet's layer4: 7 x 7) */
            {.c = 32, .m = 48, .h = 7, .w = 7, .k = 3, .stride = 1, .dil = 1, .bias = 1,
             .pads = {1, 1, 1, 1}},
            /* wide right padding: the first tap already sees the input
             * for only part of a tile, and none at all for a last tile */
            {.c = 16, .m = 24, .h = 9, .w = 15, .k = 3, .stride = 2, .dil = 1, .bias = 1,
             .pads = {0, 0, 2, 4}},
        };
        for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) check_direct(&direct[i], "");
        check_direct_parts();
    }
    {
        const cfg stem[] = {
            /* ResNet's 7x7 stride 2, pad 3, on a smaller plane: 28 x 28
             * outputs, rows of 28 in bands of several, work enough for
             * two threads */
            {.c = 3, .m = 64, .h = 56, .w = 56, .k = 7, .stride = 2, .dil = 1, .bias = 1,
             .pads = {3, 3, 3, 3}},
            /* 5x5 stride 2 to 32 channels, odd plane */
            {.c = 3, .m = 32, .h = 35, .w = 35, .k = 5, .stride = 2, .dil = 1, .bias = 0,
             .pads = {2, 2, 2, 2}},
            /* one grey channel, stride 1, uneven pads, 13 outputs (a
             * partial block of 8) */
            {.c = 1, .m = 13, .h = 18, .w = 21, .k = 7, .stride = 1, .dil = 1, .bias = 1,
             .pads = {3, 0, 2, 4}},
            /* four channels, stride 3 */
            {.c = 4, .m = 9, .h = 50, .w = 52, .k = 5, .stride = 3, .dil = 1, .bias = 1,
             .pads = {0, 1, 2, 0}},
        };
        for (size_t i = 0; i < sizeof stem / sizeof stem[0]; i++) check_stem(&stem[i]);
        const xcnn_window2d geo[] = {
            /* ResNet's stem on 64 x 48: 32 x 24 outputs */
            {.in_h = 64, .in_w = 48, .k_h = 7, .k_w = 7, .stride_h = 2, .stride_w = 2,
             .dil_h = 1, .dil_w = 1, .pad_top = 3, .pad_left = 3, .pad_bottom = 3,
             .pad_right = 3, .out_h = 32, .out_w = 24},
            /* rows of exactly 16, 3x5 taps, stride 1 then 2 across */
            {.in_h = 9, .in_w = 35, .k_h = 3, .k_w = 5, .stride_h = 1, .stride_w = 2,
             .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
             .pad_right = 1, .out_h = 9, .out_w = 16},
            /* a wide row: 150 outputs, several 48-output sums per row */
            {.in_h = 6, .in_w = 150, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1,
             .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
             .pad_right = 1, .out_h = 6, .out_w = 150},
        };
        const int chans[] = {3, 2, 1}, outs[] = {64, 20, 8};
        for (int i = 0; i < 3; i++) check_stem_kernel(&geo[i], chans[i], outs[i]);
        /* the max pool after it: ResNet's 3x3/2 (one shared row per unit),
         * a top pad of 2, 2x2/2 (no shared row, the scan even with
         * AVX-512) and 3x3/1 (two shared rows) */
        const xcnn_window2d pools[] = {
            {.in_h = 32, .in_w = 24, .k_h = 3, .k_w = 3, .stride_h = 2, .stride_w = 2,
             .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
             .pad_right = 1, .out_h = 16, .out_w = 12},
            {.in_h = 9, .in_w = 16, .k_h = 3, .k_w = 3, .stride_h = 2, .stride_w = 2,
             .dil_h = 1, .dil_w = 1, .pad_top = 2, .pad_left = 1, .out_h = 5, .out_w = 8},
            {.in_h = 6, .in_w = 150, .k_h = 2, .k_w = 2, .stride_h = 2, .stride_w = 2,
             .dil_h = 1, .dil_w = 1, .out_h = 3, .out_w = 75},
            {.in_h = 6, .in_w = 150, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1,
             .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
             .pad_right = 1, .out_h = 6, .out_w = 150},
        };
        const int on[] = {0, 1, 2, 2};
        for (int i = 0; i < 4; i++)
            for (int relu = 0; relu <= 1; relu++)
                check_stem_pooled(&geo[on[i]], chans[on[i]], outs[on[i]], &pools[i], relu);
    }
    check_weights_change();
#ifdef _OPENMP
    check_threads(&large[0], 1, 0, "large plane in pieces");
    check_threads(&few[3], 1, 0, "transposed");
    check_threads(&few[1], 3, big, "transposed, batched");
    check_threads(&wino[3], 2, big, "winograd");
    check_threads(&small[1], 5, big, "batched im2col");
#endif
    return check_summary();
}
