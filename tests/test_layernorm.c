/*
 * LayerNormalization (ops/layernorm.c): forward values against the float64
 * formula written here, over the last axis and over two trailing axes,
 * with and without bias; backward by finite differences (input, scale,
 * bias); a sample's bits the same at batch 1 and batch 3; weight
 * gradients the same bits at 1 and 4 threads; setup refusals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "onnx_builder.h"
#include "../libxcnn/ops/ops.h"
#include "../include/xcnn.h"

/* y of rows x D in float64: (x - mu) / sqrt(var + eps) * gamma + beta. */
static void ref_forward(const float *x, const float *gamma, const float *beta, int rows, int D,
                        double eps, float *y)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D;
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += xr[i];
        mu /= D;
        for (int i = 0; i < D; i++) var += (xr[i] - mu) * (xr[i] - mu);
        var /= D;
        for (int i = 0; i < D; i++)
            y[(size_t)r * D + i] = (float)((xr[i] - mu) / sqrt(var + eps) * gamma[i] +
                                           (beta ? beta[i] : 0.0));
    }
}

/* x [1, dims...] with LayerNormalization over the dims from axis; scale
 * and bias of the normalised shape (bias optional). */
static int make_ln(gc_graph *gc, int ndim, const int64_t *dims, int axis, int bias, float eps,
                   int *xi, int *si, int *bi)
{
    int64_t wd[XCNN_MAX_DIMS];
    int a = axis < 0 ? axis + ndim : axis, nw = ndim - a;
    for (int i = 0; i < nw; i++) wd[i] = dims[a + i];
    *xi = gc_activation(gc, "x", ndim, dims);
    *si = gc_weight(gc, "scale", nw, wd);
    *bi = bias ? gc_weight(gc, "bias", nw, wd) : -1;
    int in[3] = {*xi, *si, *bi};
    int node = gc_node(gc, "LayerNormalization", in, bias ? 3 : 2);
    xcnn_node_add_attr_int(&gc->g->nodes[node], "axis", axis);
    xcnn_node_add_attr_float(&gc->g->nodes[node], "epsilon", eps);
    return node;
}

static void test_forward(void)
{
    struct { int ndim; int64_t dims[4]; int axis, bias; float eps; const char *what; } c[] = {
        {4, {1, 5, 6, 96}, -1, 1, 1e-6f, "NHWC over C (ConvNeXt), eps 1e-6"},
        {3, {1, 7, 48}, 2, 0, 1e-5f, "[N,T,E] over E, no bias"},
        {4, {1, 3, 4, 5}, -2, 1, 1e-5f, "over two trailing axes"},
        {2, {1, 10}, 1, 1, 0.5f, "a large epsilon"},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        gc_graph gc;
        gc_init(&gc, 10 + k);
        int x, s, b;
        int node = make_ln(&gc, c[k].ndim, c[k].dims, c[k].axis, c[k].bias, c[k].eps, &x, &s, &b);
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "setup %s (%s)", c[k].what, err.msg)) {
            gc_free(&gc);
            continue;
        }
        const int batch = 2;
        op_alloc(&gc, batch);
        xcnn_tensor *tx = &gc.g->tensors[x];
        size_t count = gc_size(tx, batch);
        /* an offset and a scale per sample, so that the centring matters */
        for (size_t i = 0; i < count; i++)
            tx->data[i] = 3.0f + 2.0f * test_rng_uniform(&gc.rng, -1, 1);
        int a = c[k].axis < 0 ? c[k].axis + c[k].ndim : c[k].axis, D = 1;
        for (int i = a; i < c[k].ndim; i++) D *= (int)c[k].dims[i];
        float *want = malloc(count * sizeof(float));
        ref_forward(tx->data, gc.g->tensors[s].data, b >= 0 ? gc.g->tensors[b].data : NULL,
                    (int)(count / (size_t)D), D, c[k].eps, want);
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, batch, NULL);
        char what[128];
        snprintf(what, sizeof what, "forward vs float64: %s", c[k].what);
        check_close(what, max_rel_error(gc.g->tensors[n->out[0]].data, want, count), 1e-6);
        free(want);
        op_release(&gc);
        gc_free(&gc);
    }
}

static void test_gradients(void)
{
    struct { int ndim; int64_t dims[4]; int axis, bias; const char *what; } c[] = {
        {4, {1, 3, 4, 8}, -1, 1, "LayerNormalization NHWC over C"},
        {4, {1, 2, 3, 5}, 2, 1, "LayerNormalization over two trailing axes"},
        {3, {1, 4, 6}, -1, 0, "LayerNormalization no bias"},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        gc_graph gc;
        gc_init(&gc, 20 + k);
        int x, s, b;
        int node = make_ln(&gc, c[k].ndim, c[k].dims, c[k].axis, c[k].bias, 1e-5f, &x, &s, &b);
        gradcheck_run(&gc, node, 2, c[k].what, 1e-2);
        gc_free(&gc);
    }
}

/* Sample 0's output and input gradient in a batch of `batch`, with weight
 * gradients, at `threads` threads. */
static void run_batch(int batch, int threads, float *y0, float *dx0, float *dgamma,
                      size_t per, int D)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    gc_graph gc;
    gc_init(&gc, 31);
    int x, s, b;
    int node = make_ln(&gc, 4, (int64_t[]){1, 28, 28, D}, -1, 1, 1e-6f, &x, &s, &b);
    xcnn_err err = {{0}};
    if (op_setup(&gc, node, &err) != XCNN_OK) {
        check(0, "setup: %s", err.msg);
        gc_free(&gc);
        return;
    }
    op_alloc(&gc, batch);
    const xcnn_node *n = &gc.g->nodes[node];
    float *scratch = malloc(n->scratch_floats * sizeof(float));
    xcnn_tensor *tx = &gc.g->tensors[x], *ty = &gc.g->tensors[n->out[0]];
    test_rng rng = {77};
    for (size_t i = 0; i < per * (size_t)batch; i++) {
        tx->data[i] = test_rng_uniform(&rng, -2, 2);
        ty->grad[i] = test_rng_uniform(&rng, -1, 1);
    }
    n->def->forward(gc.g, n, batch, scratch);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    n->def->backward(gc.g, n, batch, scratch, &ctx);
    memcpy(y0, ty->data, per * sizeof(float));
    memcpy(dx0, tx->grad, per * sizeof(float));
    memcpy(dgamma, gc.g->tensors[s].grad, (size_t)D * sizeof(float));
    free(scratch);
    op_release(&gc);
    gc_free(&gc);
}

static void test_bits(void)
{
    enum { D = 96 };
    size_t per = 28 * 28 * D;
    float *y[3], *dx[3], dg[3][D];
    for (int k = 0; k < 3; k++) {
        y[k] = malloc(per * sizeof(float));
        dx[k] = malloc(per * sizeof(float));
    }
    run_batch(1, 1, y[0], dx[0], dg[0], per, D);
    run_batch(3, 4, y[1], dx[1], dg[1], per, D);
    run_batch(3, 1, y[2], dx[2], dg[2], per, D);
    check(!memcmp(y[0], y[1], per * sizeof(float)) && !memcmp(dx[0], dx[1], per * sizeof(float)),
          "sample 0's output and input gradient: the same bits at batch 1 and batch 3");
    check(!memcmp(dg[1], dg[2], sizeof dg[1]) && !memcmp(y[1], y[2], per * sizeof(float)) &&
              !memcmp(dx[1], dx[2], per * sizeof(float)),
          "output, input and scale gradients: the same bits at 1 and 4 threads");
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(dx[k]);
    }
#ifdef _OPENMP
    omp_set_num_threads(omp_get_num_procs());
#endif
}

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 40);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 8});
    int w8 = gc_weight(&gc, "w8", 1, (int64_t[]){8});
    int w5 = gc_weight(&gc, "w5", 1, (int64_t[]){5});
    int w48 = gc_weight(&gc, "w48", 2, (int64_t[]){4, 8});
    int act8 = gc_activation(&gc, "act8", 2, (int64_t[]){1, 8});
    int node = gc_node(&gc, "LayerNormalization", (int[]){x, w8}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 0);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "axis 0 (across the batch)");
    node = gc_node(&gc, "LayerNormalization", (int[]){x, w8}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 4);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "axis 4 of a 4-dim input");
    expect_refusal(&gc, gc_node(&gc, "LayerNormalization", (int[]){x, w5}, 2),
                   XCNN_ERR_UNSUPPORTED, "scale of 5 for 8 channels");
    node = gc_node(&gc, "LayerNormalization", (int[]){x, w8}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", -2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "scale [8] for axes [4, 8]");
    node = gc_node(&gc, "LayerNormalization", (int[]){x, w48, w8}, 3);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "scale [4, 8] over the last axis only");
    expect_refusal(&gc, gc_node(&gc, "LayerNormalization", (int[]){x, act8}, 2),
                   XCNN_ERR_UNSUPPORTED, "scale an activation");
    expect_refusal(&gc, gc_node(&gc, "LayerNormalization", (int[]){x}, 1), XCNN_ERR_SHAPE,
                   "no scale");
    node = gc_node(&gc, "LayerNormalization", (int[]){x, w8}, 2);
    xcnn_node_add_attr_float(&gc.g->nodes[node], "epsilon", -1.0f);
    expect_refusal(&gc, node, XCNN_ERR_NUMERIC, "negative epsilon");
    node = gc_node(&gc, "LayerNormalization", (int[]){x, w8}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "stash_type", 0);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "stash_type 0");
    /* the Mean output */
    int outs[2] = {xcnn_graph_add_tensor(gc.g, "y", XCNN_T_ACTIVATION),
                   xcnn_graph_add_tensor(gc.g, "mean", XCNN_T_ACTIVATION)};
    node = xcnn_graph_add_node(gc.g, "ln_mean", "LayerNormalization", (int[]){x, w8}, 2, outs, 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "the Mean output");
    gc_free(&gc);
}

/* Through the loader: LayerNormalization with epsilon 0 on a constant row
 * divides 0 by 0; the forward says so, naming the node (no silent NaN). */
static void test_nan_named(void)
{
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1}, x[32];
    for (int i = 0; i < 32; i++) x[i] = i < 8 ? 2.0f : (float)i;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w", 1, (int64_t[]){8}, w));
    ob_buf at[2] = {ob_attr_int("axis", -1), ob_attr_float("epsilon", 0.0f)};
    ob_graph_node(&gr, ob_node("LayerNormalization", "ln", IN("x", "w"), OUT("y"), at, 2));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 3, (int64_t[]){1, 4, 8}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 3, (int64_t[]){1, 4, 8}));
    ob_buf b = ob_model(17, &gr);
    xcnn_model *m = NULL;
    char err[512] = "ok";
    if (!check(xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) == XCNN_OK,
               "LayerNormalization model loads (%s)", err)) {
        ob_free(&b);
        return;
    }
    ob_free(&b);
    float y[32];
    xcnn_status st = xcnn_forward(m, x, 1, y);
    const char *msg = xcnn_model_error(m);
    check(st == XCNN_ERR_NUMERIC && strstr(msg, "'ln'"),
          "epsilon 0 on a constant row: XCNN_ERR_NUMERIC naming the node (%s)", msg);
    xcnn_model_free(m);
}

int main(void)
{
    test_forward();
    test_gradients();
    test_bits();
    test_refusals();
    test_nan_named();
    return check_summary();
}
