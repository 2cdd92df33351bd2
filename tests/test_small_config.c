/*
 * The small-core settings of base/config.h (XCNN_SMALL), checked in the
 * ordinary build: this program compiles the files they change a second
 * time with tiny settings, their functions renamed, and runs both copies
 * on the same data.
 *   - Winograd's transforms in chunks and row pieces of a few tiles (the
 *     small build's stack buffers) give the default build's bits, for
 *     F(2x2) and F(4x4), plain, accumulating, with ReLU and turned.
 *   - A conv whose scratch is capped (XCNN_CONV_SCRATCH_FLOATS) runs im2col
 *     + GEMM over pieces of pixels: the forward gives the uncapped path's
 *     bits (every output the same sum in the same order); dW and dX add
 *     piece by piece, so they equal it to rounding (1e-5 of the largest
 *     value), and the reference too; with groups as well.
 */
/* The tiny settings, before base/config.h is first read. */
#define XCNN_CONV_SCRATCH_FLOATS 1000
#define XCNN_WINOGRAD_CHUNK_TILES 4
#define XCNN_WINOGRAD_ROW_TILES 3
#define XCNN_WINOGRAD4_CHUNK_TILES 2
#define XCNN_WINOGRAD4_ROW_TILES 3
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"

/* ---- a second copy of the Winograd files with tiny row buffers ---- */
#define xcnn_winograd_positions small_winograd_positions
#define xcnn_winograd_weights small_winograd_weights
#define xcnn_winograd_packed_floats small_winograd_packed_floats
#define xcnn_winograd_weights_packed small_winograd_weights_packed
#define xcnn_winograd_tiles small_winograd_tiles
#define xcnn_winograd_scratch small_winograd_scratch
#define xcnn_winograd_conv small_winograd_conv
#define xcnn_winograd_band_scratch small_winograd_band_scratch
#define xcnn_winograd4_weights small_winograd4_weights
#define xcnn_winograd4_input_plane small_winograd4_input_plane
#define xcnn_winograd4_output_plane small_winograd4_output_plane
#define band_rows winograd_band_rows /* conv_fast.c has one too */
#include "../libxcnn/kernels/winograd.c"
#include "../libxcnn/kernels/winograd_f4.c"
#undef band_rows
#undef xcnn_winograd_weights
#undef xcnn_winograd_conv
#undef xcnn_winograd_scratch
/* the library's own (default sizes) */
void xcnn_winograd_weights(const float *w, int c_out, int c_in, int m, float *u);
size_t xcnn_winograd_scratch(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples);
void xcnn_winograd_conv(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples,
                        const float *x, size_t x_stride, const xcnn_winograd_u *wu,
                        const float *bias, int accumulate, int relu, const float *residual,
                        float *y, size_t y_stride, float *scratch, size_t scratch_floats);

/* ---- a second copy of conv_fast.c with the scratch capped ---- */
#define xcnn_conv_fast_setup small_conv_fast_setup
#define xcnn_conv_fast_forward small_conv_fast_forward
#define xcnn_conv_fast_backward small_conv_fast_backward
#define xcnn_conv_fast_prepare_inference small_conv_fast_prepare_inference
#define xcnn_conv_fast_pixel_major small_conv_fast_pixel_major
#define xcnn_conv_fast_direct small_conv_fast_direct
#define xcnn_conv_fast_stem small_conv_fast_stem
#define xcnn_conv_fast_takes_residual small_conv_fast_takes_residual
#define xcnn_conv_fast_takes_pool small_conv_fast_takes_pool
#include "../libxcnn/ops/conv_fast.c"

static float *random_floats(test_rng *rng, size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = test_rng_uniform(rng, -1, 1);
    return v;
}

static double max_abs(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* Largest |a - b| over the largest |b|. */
static double rel_err(const float *a, const float *b, size_t n)
{
    double e = 0, m = max_abs(b, n);
    for (size_t i = 0; i < n; i++) e = fabs((double)a[i] - b[i]) > e ? fabs((double)a[i] - b[i]) : e;
    return m > 0 ? e / m : e;
}

static void winograd_case(int m, int h, int w, int pad, int accumulate, int relu, int turned)
{
    test_rng rng = {77 + (uint64_t)(m * 1000 + w + 7 * accumulate + 13 * turned)};
    int c_in = 5, c_out = 4;
    xcnn_winograd_geom geo = {h, w, pad, pad, h + 2 * pad - 2, w + 2 * pad - 2, m};
    size_t xs = (size_t)c_in * h * w, ys = (size_t)c_out * geo.out_h * geo.out_w;
    float *x = random_floats(&rng, xs), *k = random_floats(&rng, (size_t)c_out * c_in * 9);
    float *b = random_floats(&rng, (size_t)c_out);
    float *y1 = random_floats(&rng, ys), *y2 = malloc(ys * sizeof(float));
    memcpy(y2, y1, ys * sizeof(float));
    /* turned (m = 2 only): U made for the swapped channels */
    int uo = turned ? c_in : c_out, ui = turned ? c_out : c_in;
    float *u = malloc((size_t)xcnn_winograd_positions(m) * uo * ui * sizeof(float));
    xcnn_winograd_weights(k, uo, ui, m, u);
    xcnn_winograd_u wu = {u, turned, NULL, XCNN_GEMM_AUTO};
    size_t sf = xcnn_winograd_scratch(&geo, c_in, c_out, 1);
    float *scratch = malloc(sf * sizeof(float));
    xcnn_winograd_conv(&geo, c_in, c_out, 1, x, 0, &wu, accumulate ? NULL : b, accumulate, relu,
                       NULL, y1, 0, scratch, sf);
    small_winograd_conv(&geo, c_in, c_out, 1, x, 0, &wu, accumulate ? NULL : b, accumulate,
                        relu, NULL, y2, 0, scratch, sf);
    check(memcmp(y1, y2, ys * sizeof(float)) == 0,
          "winograd F(%dx%d) %dx%d pad %d%s%s%s: row buffers of a few tiles give the same bits",
          m, m, h, w, pad, accumulate ? " accumulate" : "", relu ? " relu" : "",
          turned ? " turned" : "");
    free(x), free(k), free(b), free(y1), free(y2), free(u), free(scratch);
}

/* One conv node; `group` groups, k x k, stride s, pad p. */
typedef struct conv_rig {
    gc_graph gc;
    int node;
} conv_rig;

static int conv_rig_init(conv_rig *r, int c, int m, int hw, int k, int s, int p, int group,
                         uint64_t seed)
{
    gc_init(&r->gc, seed);
    int x = gc_activation(&r->gc, "x", 4, (int64_t[]){1, c, hw, hw});
    int w = gc_weight(&r->gc, "w", 4, (int64_t[]){m, c / group, k, k});
    int bias = gc_weight(&r->gc, "b", 1, (int64_t[]){m});
    r->node = gc_node(&r->gc, "Conv", (int[]){x, w, bias}, 3);
    xcnn_node *n = &r->gc.g->nodes[r->node];
    xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){k, k}, 2);
    xcnn_node_add_attr_ints(n, "strides", (int64_t[]){s, s}, 2);
    xcnn_node_add_attr_ints(n, "pads", (int64_t[]){p, p, p, p}, 4);
    xcnn_node_add_attr_int(n, "group", group);
    r->gc.g->reference = 0;
    xcnn_err err = {{0}};
    if (op_setup(&r->gc, r->node, &err) != XCNN_OK) {
        check(0, "conv setup: %s", err.msg);
        return 0;
    }
    return 1;
}

/* Forward and backward of the node as set up now, into y, dx, dw, db. */
static void conv_run(conv_rig *r, int batch, int small, float *y, float *dx, float *dw, float *db)
{
    xcnn_graph *g = r->gc.g;
    xcnn_node *n = &g->nodes[r->node];
    xcnn_tensor *xt = xcnn_in(g, n, 0), *wt = xcnn_in(g, n, 1), *bt = xcnn_in(g, n, 2);
    xcnn_tensor *yt = xcnn_out(g, n, 0);
    size_t nx = gc_size(xt, batch), nw = xcnn_tensor_numel(wt), ny = gc_size(yt, batch);
    float *scratch = malloc((n->scratch_floats + 1) * sizeof(float));
    memset(xt->grad, 0, nx * sizeof(float));
    memset(wt->grad, 0, nw * sizeof(float));
    memset(bt->grad, 0, (size_t)bt->dims[0] * sizeof(float));
    if (small) small_conv_fast_forward(g, n, batch, scratch);
    else n->def->forward(g, n, batch, scratch);
    memcpy(y, yt->data, ny * sizeof(float));
    if (small) small_conv_fast_backward(g, n, batch, scratch);
    else n->def->backward(g, n, batch, scratch, &(xcnn_bwd_ctx){0});
    memcpy(dx, xt->grad, nx * sizeof(float));
    memcpy(dw, wt->grad, nw * sizeof(float));
    memcpy(db, bt->grad, (size_t)bt->dims[0] * sizeof(float));
    free(scratch);
}

static void capped_conv_case(int c, int m, int hw, int k, int s, int p, int group, int batch)
{
    conv_rig r;
    if (!conv_rig_init(&r, c, m, hw, k, s, p, group, 1000 + (uint64_t)(c * 31 + hw))) return;
    xcnn_graph *g = r.gc.g;
    xcnn_node *n = &g->nodes[r.node];
    op_alloc(&r.gc, batch);
    xcnn_tensor *xt = xcnn_in(g, n, 0), *wt = xcnn_in(g, n, 1), *bt = xcnn_in(g, n, 2);
    xcnn_tensor *yt = xcnn_out(g, n, 0);
    size_t nx = gc_size(xt, batch), nw = xcnn_tensor_numel(wt), ny = gc_size(yt, batch);
    size_t nb = (size_t)bt->dims[0];
    for (size_t i = 0; i < nx; i++) xt->data[i] = test_rng_uniform(&r.gc.rng, -1, 1);
    for (size_t i = 0; i < ny; i++) yt->grad[i] = test_rng_uniform(&r.gc.rng, -1, 1);
    float *y[3], *dx[3], *dw[3], *db[3];
    for (int v = 0; v < 3; v++) {
        y[v] = malloc(ny * sizeof(float));
        dx[v] = malloc(nx * sizeof(float));
        dw[v] = malloc(nw * sizeof(float));
        db[v] = malloc(nb * sizeof(float));
    }
    size_t plain_scratch = n->scratch_floats;
    conv_run(&r, batch, 0, y[0], dx[0], dw[0], db[0]); /* the library's default path */
    /* the capped copy's params for the same node */
    xcnn_conv_shape shape = *(const xcnn_conv_shape *)n->params;
    xcnn_err err = {{0}};
    check(small_conv_fast_setup(g, n, &shape, &err) == XCNN_OK, "capped setup %s", err.msg);
    const conv_params *cp = n->params;
    size_t cap = (size_t)XCNN_CONV_SCRATCH_FLOATS > (size_t)cp->kcol
                     ? (size_t)XCNN_CONV_SCRATCH_FLOATS : (size_t)cp->kcol;
    check(n->scratch_floats <= cap && n->scratch_floats < plain_scratch,
          "conv %d->%d %dx%d k%d s%d group %d: scratch %zu floats, capped at %zu (was %zu)", c,
          m, hw, hw, k, s, group, n->scratch_floats, cap, plain_scratch);
    conv_run(&r, batch, 1, y[1], dx[1], dw[1], db[1]);
    /* the reference */
    memset(dx[2], 0, nx * sizeof(float));
    memset(dw[2], 0, nw * sizeof(float));
    xcnn_conv_reference_forward(&shape, batch, xt->data, wt->data, bt->data, y[2]);
    xcnn_conv_reference_backward(&shape, batch, xt->data, wt->data, yt->grad, dx[2], dw[2],
                                 NULL);
    check(memcmp(y[0], y[1], ny * sizeof(float)) == 0,
          "  capped forward: the uncapped path's bits");
    check_close("  capped dX against the uncapped path", rel_err(dx[1], dx[0], nx), 1e-5);
    check_close("  capped dW against the uncapped path", rel_err(dw[1], dw[0], nw), 1e-5);
    check(memcmp(db[0], db[1], nb * sizeof(float)) == 0, "  capped dB: the same bits");
    check_close("  capped forward against the reference", rel_err(y[1], y[2], ny), 1e-5);
    check_close("  capped dX against the reference", rel_err(dx[1], dx[2], nx), 1e-5);
    check_close("  capped dW against the reference", rel_err(dw[1], dw[2], nw), 1e-5);
    check(max_abs(dx[1], nx) > 0 && max_abs(dw[1], nw) > 0, "  gradients are not all zero");
    for (int v = 0; v < 3; v++) free(y[v]), free(dx[v]), free(dw[v]), free(db[v]);
    op_release(&r.gc);
    gc_free(&r.gc);
}

int main(void)
{
    /* Rows wider than the tiny buffers (F(2x2): 3 tiles whole, pieces of
     * 3; F(4x4): pieces of 2), odd widths (a last tile with one column),
     * several tile rows per chunk when rows are narrow. */
    int widths[] = {3, 5, 9, 14, 23};
    for (int i = 0; i < 5; i++)
        for (int m = 2; m <= 4; m += 2) {
            winograd_case(m, 7, widths[i], 1, 0, 0, 0);
            winograd_case(m, 6, widths[i], 0, 0, 1, 0);
            winograd_case(m, 5, widths[i], 2, 1, 0, 0);
        }
    winograd_case(2, 9, 23, 1, 1, 0, 1);
    winograd_case(2, 8, 6, 2, 1, 0, 1);

    /* The example: 12 -> 12, 3x3 at 28x28 (col 339 KB whole). */
    capped_conv_case(12, 12, 28, 3, 1, 1, 1, 1);
    capped_conv_case(12, 12, 28, 3, 1, 1, 1, 2);
    capped_conv_case(3, 8, 32, 7, 2, 3, 1, 1); /* a stem */
    capped_conv_case(8, 6, 19, 3, 2, 1, 2, 2); /* groups, odd plane */
    capped_conv_case(4, 4, 6, 13, 1, 6, 1, 1); /* kcol 676: pieces of 1 pixel */
    return check_summary();
}
