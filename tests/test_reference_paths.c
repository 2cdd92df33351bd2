/*
 * Every op's fast paths against its reference (the plain loops beside its
 * maths in libxcnn/ops/), on one node with the same inputs: the node is
 * set up with g->reference cleared (the fast paths), run forward and
 * backward, then run again with g->reference set, and the output and
 * every gradient compared. The gradients start from the same random
 * values in both runs, so both must ADD into them. Tolerances, as stated
 * in each op file:
 *   - Conv (im2col + GEMM whole, batched, in pieces and bands; depthwise
 *     loops; Winograd F(2x2) and F(4x4); W^T and U^T packed): 1e-5 of the
 *     largest reference value (float sums in another order; Winograd's
 *     transforms);
 *   - Gemm / MatMul: 1e-5 of the largest value;
 *   - BatchNormalization (inference): 1e-5 of the largest value;
 *   - MaxPool, activations, Add/Sub/Mul/Div forward and full-shape
 *     gradients: the same bits (the same formula on the same values);
 *     a broadcast operand's gradient (summed in double by the fast path,
 *     in float by the reference): 1e-5;
 *   - xcnn_sgemm (each kernel), _small_m, _packed against
 *     xcnn_sgemm_reference: |C - ref| within K * 2^-23 of the sum of
 *     |terms| of each element (the classic bound of a float dot product).
 * The references themselves are checked against the maths: small cases
 * worked by hand, and the conv backward as the adjoint of the forward
 * (<dY, conv(X)> = <dX, X> = <dW, W>).
 *
 * The fast paths are compiled in every build, so this test runs the same
 * way under make REFERENCE=1 (it clears g->reference itself).
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/kernels/gemm.h"
#include "../libxcnn/ops/conv.h"
#include "../libxcnn/ops/ops.h"

/* ---- one node, run on both paths ----------------------------------- */

typedef struct rig {
    gc_graph gc;
    xcnn_node *n;
    int batch;
    float *scratch;
    xcnn_relu_rule rule; /* of the backward passes */
} rig;

/* Sets up node `node` on the fast paths and gives every activation a
 * value and a gradient at `batch` (inputs random in [gc.lo, gc.hi));
 * constants get gradient buffers only with weight_grads (frozen weights
 * take Conv's Winograd and packed paths). arena_scratch: the scratch a
 * model's arena would offer (room for several samples per call). */
static int rig_setup(rig *r, int node, int batch, int weight_grads, size_t arena_scratch,
                     const char *label)
{
    xcnn_graph *g = r->gc.g;
    xcnn_err err = {{0}};
    r->n = &g->nodes[node];
    r->batch = batch;
    r->rule = XCNN_RELU_GRADIENT;
    r->n->def = xcnn_op_find(r->n->op_type);
    g->reference = 0;
    g->scratch_floats = arena_scratch;
    g->batch = batch;
    if (!r->n->def || r->n->def->setup(g, r->n, &err) != XCNN_OK) {
        check(0, "%s: setup (%s)", label, err.msg);
        return 0;
    }
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (t->dtype != XCNN_DT_FLOAT || t->ndim < 0) continue;
        size_t sz = gc_size(t, batch);
        if (t->kind != XCNN_T_CONST) {
            t->data = malloc((sz ? sz : 1) * sizeof(float));
            for (size_t k = 0; k < sz; k++)
                t->data[k] = t->kind == XCNN_T_INPUT
                                 ? test_rng_uniform(&r->gc.rng, r->gc.lo, r->gc.hi)
                                 : NAN;
        }
        if (t->kind != XCNN_T_CONST || weight_grads) {
            t->grad = calloc(sz ? sz : 1, sizeof(float));
            t->grad_on = 1;
        }
    }
    size_t have = arena_scratch > r->n->scratch_floats ? arena_scratch : r->n->scratch_floats;
    r->scratch = malloc((have + 1) * sizeof(float));
    return 1;
}

static void rig_free(rig *r)
{
    xcnn_graph *g = r->gc.g;
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (t->kind != XCNN_T_CONST) {
            free(t->data);
            t->data = NULL;
        }
        free(t->grad);
        t->grad = NULL;
    }
    free(r->scratch);
    gc_free(&r->gc);
}

/* What one run leaves: the output and the gradient of every input. */
typedef struct run {
    float *y;
    float *grad[8];
    size_t ny, ngrad[8];
} run;

/* Forward (output first poisoned with NaN: every element must be
 * written) and backward from output gradient dy, every input gradient
 * starting from start[k]. */
static void run_once(rig *r, const float *dy, float *const *start, run *out)
{
    xcnn_graph *g = r->gc.g;
    xcnn_tensor *y = xcnn_out(g, r->n, 0);
    out->ny = gc_size(y, r->batch);
    for (size_t i = 0; i < out->ny; i++) y->data[i] = NAN;
    r->n->def->forward(g, r->n, r->batch, r->scratch);
    out->y = malloc((out->ny + 1) * sizeof(float));
    memcpy(out->y, y->data, out->ny * sizeof(float));
    memcpy(y->grad, dy, out->ny * sizeof(float));
    for (int k = 0; k < r->n->n_in && k < 8; k++) {
        xcnn_tensor *t = xcnn_in(g, r->n, k);
        out->grad[k] = NULL;
        out->ngrad[k] = 0;
        if (!t || !t->grad || t->dtype != XCNN_DT_FLOAT) continue;
        out->ngrad[k] = gc_size(t, r->batch);
        memcpy(t->grad, start[k], out->ngrad[k] * sizeof(float));
    }
    xcnn_bwd_ctx ctx = {r->rule, NULL, NULL};
    r->n->def->backward(g, r->n, r->batch, r->scratch, &ctx);
    for (int k = 0; k < r->n->n_in && k < 8; k++) {
        if (!out->ngrad[k]) continue;
        xcnn_tensor *t = xcnn_in(g, r->n, k);
        out->grad[k] = malloc(out->ngrad[k] * sizeof(float));
        memcpy(out->grad[k], t->grad, out->ngrad[k] * sizeof(float));
    }
}

static void run_free(run *o, int n_in)
{
    free(o->y);
    for (int k = 0; k < n_in && k < 8; k++) free(o->grad[k]);
}

/* One comparison: bits when tol < 0, else max_rel_error <= tol. */
static void compare(const char *label, const char *what, const float *fast, const float *ref,
                    size_t n, double tol)
{
    char line[300];
    snprintf(line, sizeof line, "%s: %s", label, what);
    if (tol < 0)
        check(memcmp(fast, ref, n * sizeof(float)) == 0, "%s: fast path gives the reference's bits",
              line);
    else
        check_close(line, max_rel_error(fast, ref, n), tol);
}

/* Fast, then reference, on the same node; tol_y for the output,
 * tol_grad[k] for input k's gradient (NULL: tol_y for all). */
static void compare_paths(rig *r, const char *label, double tol_y, const double *tol_grad)
{
    xcnn_graph *g = r->gc.g;
    xcnn_tensor *y = xcnn_out(g, r->n, 0);
    size_t ny = gc_size(y, r->batch);
    float *dy = malloc((ny + 1) * sizeof(float));
    for (size_t i = 0; i < ny; i++) dy[i] = test_rng_uniform(&r->gc.rng, -1, 1);
    float *start[8] = {0};
    for (int k = 0; k < r->n->n_in && k < 8; k++) {
        xcnn_tensor *t = xcnn_in(g, r->n, k);
        if (!t || !t->grad || t->dtype != XCNN_DT_FLOAT) continue;
        size_t sz = gc_size(t, r->batch);
        start[k] = malloc((sz + 1) * sizeof(float));
        for (size_t i = 0; i < sz; i++) start[k][i] = test_rng_uniform(&r->gc.rng, -1, 1);
    }
    run fast, ref;
    g->reference = 0;
    run_once(r, dy, start, &fast);
    g->reference = 1;
    run_once(r, dy, start, &ref);
    g->reference = 0;
    compare(label, "forward", fast.y, ref.y, ny, tol_y);
    for (int k = 0; k < r->n->n_in && k < 8; k++) {
        if (!fast.ngrad[k]) continue;
        char what[120];
        snprintf(what, sizeof what, "d/d%s", xcnn_in(g, r->n, k)->name);
        compare(label, what, fast.grad[k], ref.grad[k], fast.ngrad[k],
                tol_grad ? tol_grad[k] : tol_y);
    }
    run_free(&fast, r->n->n_in);
    run_free(&ref, r->n->n_in);
    for (int k = 0; k < 8; k++) free(start[k]);
    free(dy);
}

/* ---- Conv ------------------------------------------------------------ */

typedef struct conv_cfg {
    int c, m, group, h, w, kh, kw, sh, sw, dh, dw;
    int pads[4]; /* top, left, bottom, right */
    int bias, inference_only;
} conv_cfg;

static int conv_node(gc_graph *gc, const conv_cfg *k)
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
    xcnn_node_add_attr_ints(n, "pads",
                            (int64_t[]){k->pads[0], k->pads[1], k->pads[2], k->pads[3]}, 4);
    xcnn_node_add_attr_int(n, "group", k->group);
    gc->g->inference_only = k->inference_only;
    return node;
}

/* One configuration at one batch, weights frozen or trained. */
static void conv_case(const conv_cfg *k, int batch, int trained, size_t arena, uint64_t seed)
{
    char label[200];
    snprintf(label, sizeof label,
             "conv c%d m%d g%d %dx%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d%s%s, batch %d, %s", k->c,
             k->m, k->group, k->h, k->w, k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->pads[0],
             k->pads[1], k->pads[2], k->pads[3], k->bias ? ", bias" : "",
             k->inference_only ? ", inference-only" : "", batch,
             trained ? "weights trained" : "weights frozen");
    rig r;
    gc_init(&r.gc, seed);
    int node = conv_node(&r.gc, k);
    if (!rig_setup(&r, node, batch, trained, arena, label)) {
        gc_free(&r.gc);
        return;
    }
    /* the node must be on conv_fast.c's paths for the comparison to mean anything */
    const xcnn_conv_shape *s = r.n->params;
    if (check(s->fast == 1, "%s: set up on the fast paths", label))
        compare_paths(&r, label, 1e-5, NULL);
    rig_free(&r);
}

/* Random shapes: groups, strides, dilations, pads (asymmetric), kernels
 * that are not square; small enough that the reference stays quick. */
static conv_cfg random_conv(test_rng *rng)
{
    conv_cfg k;
    k.group = test_rng_int(rng, 1, 3);
    k.c = k.group * test_rng_int(rng, 1, 4);
    k.m = k.group * test_rng_int(rng, 1, 5);
    k.kh = test_rng_int(rng, 1, 4);
    k.kw = test_rng_int(rng, 1, 4);
    k.sh = test_rng_int(rng, 1, 3);
    k.sw = test_rng_int(rng, 1, 3);
    k.dh = test_rng_int(rng, 1, 2);
    k.dw = test_rng_int(rng, 1, 2);
    for (int i = 0; i < 4; i++) k.pads[i] = test_rng_int(rng, 0, 2);
    /* the input at least as large as the dilated kernel */
    k.h = (k.kh - 1) * k.dh + 1 + test_rng_int(rng, 0, 9);
    k.w = (k.kw - 1) * k.dw + 1 + test_rng_int(rng, 0, 9);
    k.bias = test_rng_int(rng, 0, 1);
    k.inference_only = 0;
    return k;
}

/* The reference against numbers worked by hand: X = 1..16 in a 4x4 plane,
 * W = [[1, 0], [0, -1]], stride 2, pad 1 on every side, bias 10. Output
 * (oh, ow) reads X at rows 2oh-1, 2oh and columns 2ow-1, 2ow: tap (0, 0)
 * adds X[2oh-1][2ow-1], tap (1, 1) subtracts X[2oh][2ow]. */
static void conv_by_hand(void)
{
    xcnn_conv_shape s = {{4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 3, 3}, 1, 1, 1, 0};
    float x[16], w[4] = {1, 0, 0, -1}, b = 10, y[9];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    xcnn_conv_reference_forward(&s, 1, x, w, &b, y);
    /* (0,0): only tap (1,1) inside: 10 - X[0][0] = 9
     * (1,1): 10 + X[1][1] - X[2][2] = 10 + 6 - 11 = 5
     * (2,2): tap (1,1) is at row 4: padding; 10 + X[3][3] = 26
     * (0,2): tap (1,1) at column 4: padding; tap (0,0) at row -1: 10 */
    check(y[0] == 9 && y[4] == 5 && y[8] == 26 && y[2] == 10,
          "conv reference by hand: stride 2, pad 1 (got %g %g %g %g, expected 9 5 26 10)",
          (double)y[0], (double)y[4], (double)y[8], (double)y[2]);
    /* backward of dY = 1 at (1,1) only: dX[1][1] += 1, dX[2][2] -= 1,
     * dW = [[X[1][1], X[1][2]], [X[2][1], X[2][2]]] = [[6, 7], [10, 11]], dB = 1 */
    float dy[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, dx[16] = {0}, dw[4] = {0}, db = 0;
    xcnn_conv_reference_backward(&s, 1, x, w, dy, dx, dw, &db);
    int others = 0;
    for (int i = 0; i < 16; i++) others += i != 5 && i != 10 && dx[i] != 0;
    check(dx[5] == 1 && dx[10] == -1 && !others && dw[0] == 6 && dw[1] == 7 && dw[2] == 10 &&
              dw[3] == 11 && db == 1,
          "conv reference backward by hand: dX, dW, dB of one output");
}

/* The backward is the forward's adjoint: for Y = conv(X, W) without bias,
 * <dY, Y> = <dX, X> = <dW, W> (each Y is linear in X and in W). */
static void conv_adjoint(const conv_cfg *k, uint64_t seed)
{
    xcnn_conv_shape s = {{k->h, k->w, k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->pads[0],
                          k->pads[1], k->pads[2], k->pads[3], 0, 0},
                         k->c, k->m, k->group, 0};
    s.win.out_h = (k->h + k->pads[0] + k->pads[2] - ((k->kh - 1) * k->dh + 1)) / k->sh + 1;
    s.win.out_w = (k->w + k->pads[1] + k->pads[3] - ((k->kw - 1) * k->dw + 1)) / k->sw + 1;
    int batch = 2;
    size_t nx = (size_t)batch * k->c * k->h * k->w, nw = (size_t)k->m * k->c / k->group * k->kh * k->kw;
    size_t ny = (size_t)batch * k->m * s.win.out_h * s.win.out_w;
    float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *y = malloc(ny * sizeof(float)), *dy = malloc(ny * sizeof(float));
    float *dx = calloc(nx, sizeof(float)), *dw = calloc(nw, sizeof(float));
    test_rng rng = {seed};
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nw; i++) w[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < ny; i++) dy[i] = test_rng_uniform(&rng, -1, 1);
    xcnn_conv_reference_forward(&s, batch, x, w, NULL, y);
    xcnn_conv_reference_backward(&s, batch, x, w, dy, dx, dw, NULL);
    double yy = 0, xx = 0, ww = 0, scale = 0;
    for (size_t i = 0; i < ny; i++) yy += (double)dy[i] * y[i], scale += fabs(dy[i] * y[i]);
    for (size_t i = 0; i < nx; i++) xx += (double)dx[i] * x[i];
    for (size_t i = 0; i < nw; i++) ww += (double)dw[i] * w[i];
    double err = fabs(yy - xx) > fabs(yy - ww) ? fabs(yy - xx) : fabs(yy - ww);
    char what[200];
    snprintf(what, sizeof what,
             "conv reference backward is the forward's adjoint, c%d m%d g%d k%dx%d s%d,%d d%d,%d "
             "(<dY,Y> %.6g, <dX,X> %.6g, <dW,W> %.6g)", k->c, k->m, k->group, k->kh, k->kw,
             k->sh, k->sw, k->dh, k->dw, yy, xx, ww);
    check_close(what, scale > 0 ? err / scale : INFINITY, 1e-6);
    free(x);
    free(w);
    free(y);
    free(dy);
    free(dx);
    free(dw);
}

static void test_conv(void)
{
    const size_t big = 1u << 22; /* an arena's room for several samples per call */
    conv_by_hand();
    conv_cfg adj[] = {
        {.c = 6, .m = 4, .group = 2, .h = 9, .w = 8, .kh = 3, .kw = 2, .sh = 2, .sw = 1,
         .dh = 2, .dw = 1, .pads = {1, 0, 2, 1}},
        {.c = 3, .m = 5, .group = 1, .h = 7, .w = 7, .kh = 3, .kw = 3, .sh = 3, .sw = 2,
         .dh = 1, .dw = 2, .pads = {2, 2, 0, 1}},
    };
    for (size_t i = 0; i < sizeof adj / sizeof adj[0]; i++) conv_adjoint(&adj[i], 17 + i);

    /* Named shapes, one for each fast path (see conv_fast.c). */
    conv_cfg named[] = {
        /* Winograd F(2x2): frozen 3x3 stride 1, >= 16 channels */
        {.c = 16, .m = 16, .group = 1, .h = 8, .w = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1},
        {.c = 17, .m = 20, .group = 1, .h = 11, .w = 9, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {0, 2, 1, 0}},
        /* F(4x4): planes of 28 and more; forward in inference-only graphs,
         * dX (input plane >= 28) in the others */
        {.c = 16, .m = 16, .group = 1, .h = 28, .w = 28, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1, .inference_only = 1},
        {.c = 16, .m = 24, .group = 1, .h = 31, .w = 29, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {0, 2, 1, 0}},
        /* Winograd with few tiles: products transposed from U^T packed */
        {.c = 16, .m = 48, .group = 1, .h = 14, .w = 14, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1},
        /* Winograd in bands of tile rows (a large plane) */
        {.c = 16, .m = 16, .group = 1, .h = 96, .w = 95, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1},
        /* few pixels: Y^T = col^T W^T with W^T packed (3x3 and 1x1) */
        {.c = 8, .m = 48, .group = 1, .h = 7, .w = 7, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1},
        {.c = 20, .m = 48, .group = 1, .h = 5, .w = 5, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {0, 0, 0, 0}, .bias = 1},
        /* 1x1 pointwise (col is X itself), 1x1 stride 2 */
        {.c = 32, .m = 16, .group = 1, .h = 40, .w = 36, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {0, 0, 0, 0}, .bias = 1},
        {.c = 5, .m = 7, .group = 1, .h = 10, .w = 10, .kh = 1, .kw = 1, .sh = 2, .sw = 2,
         .dh = 1, .dw = 1, .pads = {0, 0, 0, 0}, .bias = 1},
        /* large planes: im2col and GEMM in pieces, dX in bands (a stem) */
        {.c = 3, .m = 16, .group = 1, .h = 99, .w = 101, .kh = 7, .kw = 7, .sh = 2, .sw = 2,
         .dh = 1, .dw = 1, .pads = {3, 3, 3, 2}, .bias = 1},
        /* groups: depthwise (direct loops), grouped im2col, channel multiplier */
        {.c = 8, .m = 8, .group = 8, .h = 12, .w = 11, .kh = 3, .kw = 3, .sh = 2, .sw = 1,
         .dh = 1, .dw = 2, .pads = {1, 1, 1, 1}, .bias = 1},
        {.c = 8, .m = 12, .group = 2, .h = 9, .w = 10, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
         .dh = 1, .dw = 1, .pads = {1, 0, 1, 1}},
        {.c = 4, .m = 8, .group = 4, .h = 9, .w = 9, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 2, .dw = 2, .pads = {2, 2, 2, 2}, .bias = 1},
        /* dilation, asymmetric everything, small planes batched at batch 3 */
        {.c = 3, .m = 4, .group = 1, .h = 11, .w = 9, .kh = 3, .kw = 2, .sh = 1, .sw = 2,
         .dh = 2, .dw = 1, .pads = {2, 1, 2, 0}, .bias = 1},
        {.c = 40, .m = 48, .group = 1, .h = 7, .w = 7, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
         .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .bias = 1},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        const conv_cfg *k = &named[i];
        conv_case(k, 1, 0, 0, 100 + i);
        conv_case(k, 3, 0, big, 200 + i);
        if (!k->inference_only) conv_case(k, 3, 1, big, 300 + i);
    }
    test_rng rng = {4242};
    for (int i = 0; i < 24; i++) {
        conv_cfg k = random_conv(&rng);
        conv_case(&k, 1 + i % 3, i % 2, i % 4 == 0 ? big : 0, 400 + (uint64_t)i);
    }
}

/* ---- GEMM ------------------------------------------------------------ */

/* max over C of |C - ref| / (|alpha| sum_k |a b| + |beta C0|), a float dot
 * product's error in units of its terms' size. */
static double gemm_error(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, const float *C0,
                         const float *C, const float *R, int ldc)
{
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double size = beta == 0 ? 0 : fabs((double)beta * C0[(size_t)i * ldc + j]);
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                size += fabs((double)alpha * a * b);
            }
            double d = fabs((double)C[(size_t)i * ldc + j] - R[(size_t)i * ldc + j]);
            if (isnan(d)) return INFINITY;
            if (size > 0 ? d / size > worst : d > 0) worst = size > 0 ? d / size : INFINITY;
        }
    return worst;
}

static void gemm_cases(xcnn_gemm_kind kind, test_rng *rng)
{
    static const int shapes[][3] = {{1, 1, 1},   {7, 13, 5},  {33, 65, 17}, {97, 31, 300},
                                    {6, 48, 257}, {49, 100, 37}, {130, 7, 513}};
    double worst_plain = 0, worst_small = 0, worst_packed = 0, tol_worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        /* a float dot product of K terms rounds K times, beta C and the
         * reference once more each: (K + 2) 2^-24, with a factor 2 to spare */
        double tol = (K + 2) * 0x1p-23;
        if (tol > tol_worst) tol_worst = tol;
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            float alpha = t == 1 ? 0.5f : 1.0f, beta = t == 2 ? 1.0f : 0.0f;
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
            float *C0 = malloc(nc * sizeof(float)), *C = malloc(nc * sizeof(float));
            float *R = malloc(nc * sizeof(float));
            for (size_t i = 0; i < na; i++) A[i] = test_rng_uniform(rng, -1, 1);
            for (size_t i = 0; i < nb; i++) B[i] = test_rng_uniform(rng, -1, 1);
            for (size_t i = 0; i < nc; i++) C0[i] = test_rng_uniform(rng, -1, 1);
            if (beta == 0) C0[0] = NAN; /* beta 0 ignores C, NaN included */
            memcpy(R, C0, nc * sizeof(float));
            xcnn_sgemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
            memcpy(C, C0, nc * sizeof(float));
            xcnn_sgemm_with(kind, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            double e = gemm_error(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, C, R, ldc);
            if (e / tol > worst_plain) worst_plain = e / tol;
            if (beta == 0 && alpha == 1 && !tb && M <= 64) { /* few rows: small-M kernel */
                xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, C, ldc);
                e = gemm_error(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, C, R, ldc);
                if (e / tol > worst_small) worst_small = e / tol;
            }
            if (alpha == 1) { /* B packed once, for the few-rows kernel */
                int nr = xcnn_gemm_panel_width(kind);
                float *P = calloc(xcnn_gemm_packed_floats(K, N, nr), sizeof(float));
                xcnn_gemm_pack_b(tb, K, N, B, ldb, nr, P);
                memcpy(C, C0, nc * sizeof(float));
                if (beta == 0) C[0] = 0; /* _packed's beta is 0 or 1; 0 * NaN would stay NaN */
                xcnn_sgemm_packed(kind, ta, M, N, K, A, lda, P, beta, C, ldc);
                e = gemm_error(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, C, R, ldc);
                if (e / tol > worst_packed) worst_packed = e / tol;
                free(P);
            }
            free(A);
            free(B);
            free(C0);
            free(C);
            free(R);
        }
    }
    char what[200];
    const char *kn = xcnn_gemm_name(kind);
    snprintf(what, sizeof what, "sgemm %s vs xcnn_sgemm_reference, 7 shapes x 4 transposes "
             "(error / ((K + 2) 2^-23), worst)", kn);
    check_close(what, worst_plain, 1.0);
    snprintf(what, sizeof what, "sgemm_small_m %s vs xcnn_sgemm_reference", kn);
    check_close(what, worst_small, 1.0);
    snprintf(what, sizeof what, "sgemm_packed %s vs xcnn_sgemm_reference", kn);
    check_close(what, worst_packed, 1.0);
}

static void test_gemm(void)
{
    /* by hand: [1 2 3; 4 5 6] [1 0; 0 1; 1 1] = [4 5; 10 11]; then 2 * that - C */
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {1, 1, 1, 1};
    xcnn_sgemm_reference(0, 0, 2, 2, 3, 2.0f, A, 3, B, 2, -1.0f, C, 2);
    check(C[0] == 7 && C[1] == 9 && C[2] == 19 && C[3] == 21,
          "sgemm reference by hand: 2 A B - C = [7 9; 19 21] (got [%g %g; %g %g])",
          (double)C[0], (double)C[1], (double)C[2], (double)C[3]);
    /* transposed operands read the same matrices */
    float At[6] = {1, 4, 2, 5, 3, 6}, Bt[6] = {1, 0, 1, 0, 1, 1}, D[4];
    xcnn_sgemm_reference(1, 1, 2, 2, 3, 1.0f, At, 2, Bt, 3, 0.0f, D, 2);
    check(D[0] == 4 && D[1] == 5 && D[2] == 10 && D[3] == 11,
          "sgemm reference by hand, both transposed: [4 5; 10 11]");
    test_rng rng = {777};
    for (int k = 0; k < XCNN_GEMM_N_KINDS; k++)
        if (xcnn_gemm_available((xcnn_gemm_kind)k)) gemm_cases((xcnn_gemm_kind)k, &rng);
}

/* ---- the other ops with a fast path --------------------------------- */

static void test_matmul(void)
{
    /* Gemm transB with C per column: rows <= 4 take the dot products,
     * more the GEMM; MatMul with leading dims */
    for (int batch = 1; batch <= 7; batch += 3) {
        rig r;
        gc_init(&r.gc, 50 + (uint64_t)batch);
        int a = gc_activation(&r.gc, "a", 2, (int64_t[]){1, 67});
        int b = gc_weight(&r.gc, "b", 2, (int64_t[]){45, 67});
        int c = gc_weight(&r.gc, "c", 1, (int64_t[]){45});
        int node = gc_node(&r.gc, "Gemm", (int[]){a, b, c}, 3);
        xcnn_node_add_attr_int(&r.gc.g->nodes[node], "transB", 1);
        xcnn_node_add_attr_float(&r.gc.g->nodes[node], "alpha", 0.75f);
        xcnn_node_add_attr_float(&r.gc.g->nodes[node], "beta", 1.5f);
        char label[80];
        snprintf(label, sizeof label, "Gemm transB 67 -> 45, alpha, beta, batch %d", batch);
        if (rig_setup(&r, node, batch, 1, 0, label)) compare_paths(&r, label, 1e-5, NULL);
        rig_free(&r);
    }
    {
        rig r;
        gc_init(&r.gc, 61);
        int a = gc_activation(&r.gc, "a", 2, (int64_t[]){1, 30});
        int b = gc_weight(&r.gc, "b", 2, (int64_t[]){30, 9});
        int c = gc_weight(&r.gc, "c", 0, NULL);
        int node = gc_node(&r.gc, "Gemm", (int[]){a, b, c}, 3);
        if (rig_setup(&r, node, 5, 1, 0, "Gemm, scalar C, batch 5"))
            compare_paths(&r, "Gemm, scalar C, batch 5", 1e-5, NULL);
        rig_free(&r);
    }
    {
        rig r;
        gc_init(&r.gc, 62);
        int a = gc_activation(&r.gc, "a", 3, (int64_t[]){1, 5, 33});
        int b = gc_weight(&r.gc, "b", 2, (int64_t[]){33, 17});
        int node = gc_node(&r.gc, "MatMul", (int[]){a, b}, 2);
        if (rig_setup(&r, node, 3, 1, 0, "MatMul [3,5,33] x [33,17]"))
            compare_paths(&r, "MatMul [3,5,33] x [33,17]", 1e-5, NULL);
        rig_free(&r);
    }
}

static void test_batchnorm(void)
{
    rig r;
    gc_init(&r.gc, 70);
    int x = gc_activation(&r.gc, "x", 4, (int64_t[]){1, 6, 9, 7});
    int in[5] = {x};
    const char *names[4] = {"scale", "B", "mean", "var"};
    for (int i = 0; i < 4; i++) in[i + 1] = gc_weight(&r.gc, names[i], 1, (int64_t[]){6});
    xcnn_tensor *var = &r.gc.g->tensors[in[4]];
    for (int i = 0; i < 6; i++) var->data[i] = 0.1f + fabsf(var->data[i]); /* var > 0 */
    int node = gc_node(&r.gc, "BatchNormalization", in, 5);
    if (rig_setup(&r, node, 3, 1, 0, "BatchNormalization (inference), batch 3"))
        compare_paths(&r, "BatchNormalization (inference), batch 3", 1e-5, NULL);
    rig_free(&r);
}

static void test_maxpool(void)
{
    typedef struct { int k, s, p, d, ceil; } pool_cfg;
    pool_cfg cfgs[] = {{3, 2, 1, 1, 0}, {2, 2, 0, 1, 0}, {3, 1, 1, 2, 0}, {3, 2, 0, 1, 1},
                       {5, 3, 2, 1, 1}};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const pool_cfg *c = &cfgs[i];
        rig r;
        gc_init(&r.gc, 80 + i);
        int x = gc_activation(&r.gc, "x", 4, (int64_t[]){1, 3, 23, 300}); /* > 256 columns */
        int node = gc_node(&r.gc, "MaxPool", (int[]){x}, 1);
        xcnn_node *n = &r.gc.g->nodes[node];
        xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){c->k, c->k}, 2);
        xcnn_node_add_attr_ints(n, "strides", (int64_t[]){c->s, c->s}, 2);
        xcnn_node_add_attr_ints(n, "pads", (int64_t[]){c->p, c->p, c->p, c->p}, 4);
        xcnn_node_add_attr_ints(n, "dilations", (int64_t[]){c->d, c->d}, 2);
        xcnn_node_add_attr_int(n, "ceil_mode", c->ceil);
        char label[120];
        snprintf(label, sizeof label, "MaxPool k%d s%d p%d d%d%s, ties and NaN, batch 2", c->k,
                 c->s, c->p, c->d, c->ceil ? " ceil" : "");
        if (rig_setup(&r, node, 2, 0, 0, label)) {
            /* ties (values on a coarse grid), -inf, and a few NaN */
            xcnn_tensor *t = &r.gc.g->tensors[x];
            size_t nx = gc_size(t, 2);
            for (size_t j = 0; j < nx; j++) t->data[j] = roundf(t->data[j] * 4) / 4;
            for (size_t j = 0; j < nx; j += 997) t->data[j] = NAN;
            for (size_t j = 5; j < nx; j += 1201) t->data[j] = -INFINITY;
            compare_paths(&r, label, -1, NULL);
        }
        rig_free(&r);
    }
}

static void test_activations(void)
{
    const char *ops[] = {"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        rig r;
        gc_init(&r.gc, 90 + i);
        r.gc.lo = -5;
        r.gc.hi = 5;
        int x = gc_activation(&r.gc, "x", 4, (int64_t[]){1, 3, 37, 41});
        int node;
        if (!strcmp(ops[i], "Clip")) {
            int lo = gc_weight(&r.gc, "lo", 0, NULL), hi = gc_weight(&r.gc, "hi", 0, NULL);
            r.gc.g->tensors[lo].data[0] = -2.5f;
            r.gc.g->tensors[hi].data[0] = 3.0f;
            node = gc_node(&r.gc, "Clip", (int[]){x, lo, hi}, 3);
        } else {
            node = gc_node(&r.gc, ops[i], (int[]){x}, 1);
        }
        char label[80];
        snprintf(label, sizeof label, "%s, batch 2", ops[i]);
        if (rig_setup(&r, node, 2, 1, 0, label)) {
            /* some inputs exactly on the kinks */
            xcnn_tensor *t = &r.gc.g->tensors[x];
            float kinks[] = {0.0f, -3.0f, 3.0f, -2.5f, 2.5f, -0.0f};
            for (size_t j = 0; j < 6; j++) t->data[j * 101] = kinks[j];
            t->data[7] = NAN;
            compare_paths(&r, label, -1, (double[]){-1, 1e-6, 1e-6});
            for (int rule = XCNN_RELU_DECONVNET; !strcmp(ops[i], "Relu") && rule <= XCNN_RELU_GUIDED;
                 rule++) {
                r.rule = (xcnn_relu_rule)rule;
                snprintf(label, sizeof label, "Relu, %s rule, batch 2",
                         rule == XCNN_RELU_GUIDED ? "guided" : "deconvnet");
                compare_paths(&r, label, -1, NULL);
            }
        }
        rig_free(&r);
    }
}

static void test_binary(void)
{
    typedef struct { const char *op; int b_const; int64_t bdims[4]; int bndim; } bin_cfg;
    bin_cfg cfgs[] = {
        {"Add", 0, {1, 4, 5, 6}, 4}, /* same shapes: one long row */
        {"Sub", 1, {4, 1, 1}, 3},    /* a per-channel constant */
        {"Mul", 0, {1, 4, 1, 1}, 4}, /* an SE gate: an activation broadcast */
        {"Div", 1, {1, 1, 5, 1}, 4}, /* a constant along one inner dim */
        {"Mul", 1, {6}, 1},          /* along the last dim */
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const bin_cfg *c = &cfgs[i];
        rig r;
        gc_init(&r.gc, 110 + i);
        int a = gc_activation(&r.gc, "a", 4, (int64_t[]){1, 4, 5, 6});
        int b = c->b_const ? gc_weight(&r.gc, "b", c->bndim, c->bdims)
                           : gc_activation(&r.gc, "b", c->bndim, c->bdims);
        int node = gc_node(&r.gc, c->op, (int[]){a, b}, 2);
        char label[120];
        snprintf(label, sizeof label, "%s with b %s of %d dims, batch 3", c->op,
                 c->b_const ? "a constant" : "an activation", c->bndim);
        if (rig_setup(&r, node, 3, 1, 0, label)) {
            xcnn_tensor *t = &r.gc.g->tensors[b];
            size_t nb = gc_size(t, 3);
            for (size_t j = 0; j < nb; j++) t->data[j] = 0.5f + fabsf(t->data[j]); /* Div */
            /* a full-shape operand: bits; a broadcast one: summed terms */
            int b_full = !c->b_const && c->bdims[2] != 1;
            compare_paths(&r, label, -1, (double[]){-1, b_full ? -1 : 1e-5});
        }
        rig_free(&r);
    }
}

int main(void)
{
    xcnn_graph *g = xcnn_graph_new();
    check(g && g->reference == XCNN_REFERENCE_BUILD, "a new graph runs the %s paths",
          XCNN_REFERENCE_BUILD ? "reference (make REFERENCE=1)" : "fast");
    xcnn_graph_free(g);
    test_conv();
    test_gemm();
    test_matmul();
    test_batchnorm();
    test_maxpool();
    test_activations();
    test_binary();
    return check_summary();
}
