/*
 * MatMul on N-D activations (ops/matmul.c), as ConvNeXt's pointwise
 * layers run channels-last: [N, H, W, C] x [C, K]. Forward against a
 * float64 product written here, finite-difference gradients (input and
 * weight), a sample's output and input gradient bit-identical at batch 1,
 * 3 and 8 (forward-only explainers batch their passes) and at 1 and 4
 * threads, ONNX's broadcasts of B ([1, K, M], a vector [K]), and refusals.
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

static void test_forward(void)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 5, 7, 24});
    int w = gc_weight(&gc, "w", 2, (int64_t[]){24, 40});
    int node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
    xcnn_err err = {{0}};
    if (!check(op_setup(&gc, node, &err) == XCNN_OK, "MatMul [N,5,7,24] x [24,40] setup (%s)",
               err.msg)) {
        gc_free(&gc);
        return;
    }
    const xcnn_tensor *y = &gc.g->tensors[gc.g->nodes[node].out[0]];
    check(y->ndim == 4 && y->dims[1] == 5 && y->dims[2] == 7 && y->dims[3] == 40,
          "output shape [N,5,7,40]");
    const int batch = 2, rows = batch * 35;
    op_alloc(&gc, batch);
    float *xv = gc.g->tensors[x].data, *wv = gc.g->tensors[w].data;
    for (int i = 0; i < rows * 24; i++) xv[i] = test_rng_uniform(&gc.rng, -1, 1);
    const xcnn_node *n = &gc.g->nodes[node];
    n->def->forward(gc.g, n, batch, NULL);
    float *want = malloc((size_t)rows * 40 * sizeof(float));
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < 40; j++) {
            double s = 0;
            for (int k = 0; k < 24; k++) s += (double)xv[r * 24 + k] * wv[k * 40 + j];
            want[r * 40 + j] = (float)s;
        }
    check_close("MatMul [2,5,7,24] x [24,40] vs float64", max_rel_error(y->data, want,
                (size_t)rows * 40), 1e-6);
    free(want);
    op_release(&gc);
    gc_free(&gc);
}

/* ONNX MatMul's broadcasts of a constant B: [1, K, M] as [K, M], and a
 * vector [K] as [K, 1] with Y's last dim dropped. */
static void test_broadcast_b(void)
{
    for (int vec = 0; vec < 2; vec++) {
        gc_graph gc;
        gc_init(&gc, 7 + vec);
        int x = gc_activation(&gc, "x", 3, (int64_t[]){1, 4, 6});
        int w = vec ? gc_weight(&gc, "w", 1, (int64_t[]){6})
                    : gc_weight(&gc, "w", 3, (int64_t[]){1, 6, 5});
        int node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
        const char *what = vec ? "MatMul [N,4,6] x [6] (a vector)" : "MatMul [N,4,6] x [1,6,5]";
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "%s setup (%s)", what, err.msg)) {
            gc_free(&gc);
            continue;
        }
        const xcnn_tensor *y = &gc.g->tensors[gc.g->nodes[node].out[0]];
        check(vec ? y->ndim == 2 && y->dims[1] == 4
                  : y->ndim == 3 && y->dims[1] == 4 && y->dims[2] == 5,
              "%s: output shape %s", what, vec ? "[N,4]" : "[N,4,5]");
        op_alloc(&gc, 2);
        float *xv = gc.g->tensors[x].data, *wv = gc.g->tensors[w].data, want[40];
        int M = vec ? 1 : 5;
        for (int i = 0; i < 2 * 4 * 6; i++) xv[i] = test_rng_uniform(&gc.rng, -1, 1);
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 2, NULL);
        for (int r = 0; r < 8; r++)
            for (int j = 0; j < M; j++) {
                double sum = 0;
                for (int k = 0; k < 6; k++) sum += (double)xv[r * 6 + k] * wv[k * M + j];
                want[r * M + j] = (float)sum;
            }
        char label[96];
        snprintf(label, sizeof label, "%s vs float64", what);
        check_close(label, max_rel_error(y->data, want, (size_t)(8 * M)), 1e-6);
        op_release(&gc);
        gc_free(&gc);
        gc_init(&gc, 9 + vec);
        x = gc_activation(&gc, "x", 3, (int64_t[]){1, 4, 6});
        w = vec ? gc_weight(&gc, "w", 1, (int64_t[]){6})
                : gc_weight(&gc, "w", 3, (int64_t[]){1, 6, 5});
        node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
        gradcheck_run(&gc, node, 2, what, 1e-2);
        gc_free(&gc);
    }
}

static void test_gradients(void)
{
    gc_graph gc;
    gc_init(&gc, 2);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 6});
    int w = gc_weight(&gc, "w", 2, (int64_t[]){6, 5});
    int node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
    gradcheck_run(&gc, node, 2, "MatMul [N,3,4,6] x [6,5]", 1e-2);
    gc_free(&gc);
    gc_init(&gc, 3);
    x = gc_activation(&gc, "x", 3, (int64_t[]){1, 9, 16});
    w = gc_weight(&gc, "w", 2, (int64_t[]){16, 3});
    node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
    gradcheck_run(&gc, node, 3, "MatMul [N,9,16] x [16,3] (tokens)", 1e-2);
    gc_free(&gc);
}

/* Sample 0's output and input gradient at this batch and thread count,
 * for ConvNeXt's first pointwise layer at 28 x 28: [N,28,28,96] x [96,384]. */
static void run(int batch, int threads, float *y0, float *dx0)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    gc_graph gc;
    gc_init(&gc, 4);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 28, 28, 96});
    int w = gc_weight(&gc, "w", 2, (int64_t[]){96, 384});
    int node = gc_node(&gc, "MatMul", (int[]){x, w}, 2);
    xcnn_err err = {{0}};
    if (op_setup(&gc, node, &err) != XCNN_OK) {
        check(0, "setup: %s", err.msg);
        gc_free(&gc);
        return;
    }
    op_alloc(&gc, batch);
    gc.g->tensors[w].grad_on = 0; /* as in an explanation: no weight gradient */
    const xcnn_node *n = &gc.g->nodes[node];
    xcnn_tensor *tx = &gc.g->tensors[x], *ty = &gc.g->tensors[n->out[0]];
    const size_t px = 28 * 28 * 96, py = 28 * 28 * 384;
    /* every sample holds the same values: sample 0's must not depend on
     * how many others there are */
    test_rng rng = {5};
    for (size_t i = 0; i < px; i++) tx->data[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < py; i++) ty->grad[i] = test_rng_uniform(&rng, -1, 1);
    for (int b = 1; b < batch; b++) {
        memcpy(tx->data + b * px, tx->data, px * sizeof(float));
        memcpy(ty->grad + b * py, ty->grad, py * sizeof(float));
    }
    n->def->forward(gc.g, n, batch, NULL);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    n->def->backward(gc.g, n, batch, NULL, &ctx);
    memcpy(y0, ty->data + (size_t)(batch - 1) * py, py * sizeof(float)); /* the last sample */
    memcpy(dx0, tx->grad + (size_t)(batch - 1) * px, px * sizeof(float));
    op_release(&gc);
    gc_free(&gc);
}

static void test_bits(void)
{
    const size_t px = 28 * 28 * 96, py = 28 * 28 * 384;
    float *y[4], *dx[4];
    const int batch[4] = {1, 3, 8, 3}, threads[4] = {1, 1, 1, 4};
    for (int k = 0; k < 4; k++) {
        y[k] = malloc(py * sizeof(float));
        dx[k] = malloc(px * sizeof(float));
        run(batch[k], threads[k], y[k], dx[k]);
    }
    for (int k = 1; k < 3; k++)
        check(!memcmp(y[0], y[k], py * sizeof(float)) && !memcmp(dx[0], dx[k], px * sizeof(float)),
              "[N,28,28,96] x [96,384]: a sample's output and input gradient have the same "
              "bits at batch 1 and batch %d", batch[k]);
    check(!memcmp(y[1], y[3], py * sizeof(float)) && !memcmp(dx[1], dx[3], px * sizeof(float)),
          "[3,28,28,96] x [96,384]: the same bits at 1 and 4 threads");
    for (int k = 0; k < 4; k++) {
        free(y[k]);
        free(dx[k]);
    }
#ifdef _OPENMP
    omp_set_num_threads(omp_get_num_procs());
#endif
}

/* x [1,3,6] -> MatMul(w) -> y, w [6,5] or [1,6,5] (same values), or w [6]
 * or [6,1] -> y [1,3] or [1,3,1]: a broadcast B gives the 2-D weight's
 * prediction, input gradient and LRP relevance, bit for bit. */
static xcnn_model *mm_model(int ndim, const int64_t *wd, int out_ndim, const int64_t *od)
{
    float w[30];
    for (int i = 0; i < 30; i++) w[i] = 0.05f * (float)(i % 7) - 0.12f;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w", ndim, wd, w));
    ob_graph_node(&gr, ob_node("MatMul", "mm", IN("x", "w"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 3, (int64_t[]){1, 3, 6}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, out_ndim, od));
    ob_buf b = ob_model(13, &gr);
    xcnn_model *m = NULL;
    char err[512];
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "MatMul model with a %d-dim weight loads: %s", ndim, err);
    ob_free(&b);
    return m;
}

static void test_broadcast_models(void)
{
    const float x[18] = {0.5f, -1, 2, 0.25f, 1, -0.5f, 0.3f, 0.7f, -2, 1.5f, 0.1f, -0.2f,
                         1, 1, -1, 0.5f, 0.25f, 2};
    xcnn_model *m[4] = {mm_model(2, (int64_t[]){6, 5}, 3, (int64_t[]){1, 3, 5}),
                        mm_model(3, (int64_t[]){1, 6, 5}, 3, (int64_t[]){1, 3, 5}),
                        mm_model(2, (int64_t[]){6, 1}, 3, (int64_t[]){1, 3, 1}),
                        mm_model(1, (int64_t[]){6}, 2, (int64_t[]){1, 3})};
    const xcnn_method meth[2] = {XCNN_SALIENCY, XCNN_LRP};
    for (int pair = 0; pair < 2; pair++) {
        xcnn_model *a = m[2 * pair], *b = m[2 * pair + 1];
        if (!a || !b) continue;
        for (int k = 0; k < 2; k++) {
            float ra[18], rb[18];
            xcnn_explain_options o;
            xcnn_explain_options_init(&o, meth[k]);
            o.target = 0;
            xcnn_status sa = xcnn_explain(a, x, &o, ra, 18, NULL);
            xcnn_status sb = xcnn_explain(b, x, &o, rb, 18, NULL);
            check(sa == XCNN_OK && sb == XCNN_OK && !memcmp(ra, rb, sizeof ra),
                  "%s: B %s gives B %s's bits (%s / %s)", k ? "LRP" : "saliency",
                  pair ? "[6]" : "[1,6,5]", pair ? "[6,1]" : "[6,5]",
                  sa ? xcnn_model_error(a) : "ok", sb ? xcnn_model_error(b) : "ok");
        }
    }
    for (int i = 0; i < 4; i++) xcnn_model_free(m[i]);
}

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 6);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 6});
    int w3 = gc_weight(&gc, "w3", 3, (int64_t[]){2, 6, 5});
    int w75 = gc_weight(&gc, "w75", 2, (int64_t[]){7, 5});
    int x2 = gc_activation(&gc, "x2", 2, (int64_t[]){1, 6});
    int w = gc_weight(&gc, "w", 2, (int64_t[]){6, 5});
    int x2d = gc_activation(&gc, "x2d", 2, (int64_t[]){1, 6});
    int w165 = gc_weight(&gc, "w165", 3, (int64_t[]){1, 6, 5});
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){x, w3}, 2), XCNN_ERR_UNSUPPORTED,
                   "a 3-D weight [2,6,5] (batched MatMul)");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){x2d, w165}, 2), XCNN_ERR_UNSUPPORTED,
                   "[N,6] x [1,6,5]: the batch would move to dim 1");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){x, w75}, 2), XCNN_ERR_SHAPE,
                   "[N,3,4,6] x [7,5] do not multiply");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){x, x2}, 2), XCNN_ERR_UNSUPPORTED,
                   "a product of two activations");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){w, x}, 2), XCNN_ERR_UNSUPPORTED,
                   "a constant times an activation");
    gc_free(&gc);
}

int main(void)
{
    test_forward();
    test_gradients();
    test_broadcast_b();
    test_broadcast_models();
    test_bits();
    test_refusals();
    return check_summary();
}
