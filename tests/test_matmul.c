/*
 * Gemm and MatMul (ops/matmul.c): forward values by hand, gradients of A,
 * B and C by finite differences for every transB/C form, MatMul on
 * higher-rank activations, the costs setup reports, and refusals.
 */
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"


/* Y = 2 * A B^T + 0.5 * C, A [2 x 3] (batch 2), B [2 x 3] with transB, C [2]. */
static void test_gemm_forward(void)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int a = gc_activation(&gc, "A", 2, (int64_t[]){1, 3});
    int b = gc_weight(&gc, "B", 2, (int64_t[]){2, 3});
    int c = gc_weight(&gc, "C", 1, (int64_t[]){2});
    memcpy(gc.g->tensors[b].data, (float[]){1, 0, -1, 2, 1, 0}, 6 * sizeof(float));
    memcpy(gc.g->tensors[c].data, (float[]){10, -20}, 2 * sizeof(float));
    int node = gc_node(&gc, "Gemm", (int[]){a, b, c}, 3);
    xcnn_node *n = &gc.g->nodes[node];
    xcnn_node_add_attr_int(n, "transB", 1);
    xcnn_node_add_attr_float(n, "alpha", 2.0f);
    xcnn_node_add_attr_float(n, "beta", 0.5f);
    xcnn_err err = {{0}};
    if (!check(op_setup(&gc, node, &err) == XCNN_OK, "Gemm setup (%s)", err.msg)) {
        gc_free(&gc);
        return;
    }
    const xcnn_tensor *y = &gc.g->tensors[n->out[0]];
    check(y->ndim == 2 && y->dims[0] == 1 && y->dims[1] == 2, "Gemm output is 1x2");
    check(n->n_params == 8 && n->flops == 2.0 * 3 * 2 + 2,
          "Gemm costs: %lld params (want 8), %g flops (want 14)", (long long)n->n_params,
          n->flops);
    op_alloc(&gc, 2);
    memcpy(gc.g->tensors[a].data, (float[]){1, 2, 3, -1, 0, 4}, 6 * sizeof(float));
    n->def->forward(gc.g, n, 2, NULL);
    /* row 0: A.B0 = 1-3 = -2, A.B1 = 2+2 = 4; row 1: -1-4 = -5, -2+0 = -2 */
    const float want[4] = {2 * -2 + 5, 2 * 4 - 10, 2 * -5 + 5, 2 * -2 - 10};
    check_close("Gemm forward alpha=2 beta=0.5 transB=1", max_rel_error(y->data, want, 4), 0);
    op_release(&gc);
    gc_free(&gc);
}

/* MatMul of [batch 2, 2, 2] by [2, 3]. */
static void test_matmul_forward(void)
{
    gc_graph gc;
    gc_init(&gc, 2);
    int a = gc_activation(&gc, "A", 3, (int64_t[]){1, 2, 2});
    int b = gc_weight(&gc, "B", 2, (int64_t[]){2, 3});
    memcpy(gc.g->tensors[b].data, (float[]){1, 2, 3, 4, 5, 6}, 6 * sizeof(float));
    int node = gc_node(&gc, "MatMul", (int[]){a, b}, 2);
    const xcnn_node *n = &gc.g->nodes[node];
    xcnn_err err = {{0}};
    if (!check(op_setup(&gc, node, &err) == XCNN_OK, "MatMul setup (%s)", err.msg)) {
        gc_free(&gc);
        return;
    }
    const xcnn_tensor *y = &gc.g->tensors[n->out[0]];
    check(y->ndim == 3 && y->dims[0] == 1 && y->dims[1] == 2 && y->dims[2] == 3,
          "MatMul output is 1x2x3");
    op_alloc(&gc, 2);
    memcpy(gc.g->tensors[a].data, (float[]){1, 0, 0, 1, 1, 1, 2, -1}, 8 * sizeof(float));
    n->def->forward(gc.g, n, 2, NULL);
    const float want[12] = {1, 2, 3, 4, 5, 6, 5, 7, 9, -2, -1, 0};
    check_close("MatMul forward [2,2,2] x [2,3]", max_rel_error(y->data, want, 12), 0);
    op_release(&gc);
    gc_free(&gc);
}

/* c_shape: NULL for no C. */
static void gradcheck_gemm(uint64_t seed, int trans_b, int c_ndim, const int64_t *c_dims,
                           float alpha, float beta, const char *what)
{
    gc_graph gc;
    gc_init(&gc, seed);
    int64_t K = test_rng_int(&gc.rng, 1, 9), M = test_rng_int(&gc.rng, 2, 7);
    int64_t cd[2];
    for (int i = 0; i < c_ndim; i++) cd[i] = c_dims[i] < 0 ? M : c_dims[i];
    int in[3];
    in[0] = gc_activation(&gc, "A", 2, (int64_t[]){1, K});
    in[1] = gc_weight(&gc, "B", 2, trans_b ? (int64_t[]){M, K} : (int64_t[]){K, M});
    if (c_ndim >= 0) in[2] = gc_weight(&gc, "C", c_ndim, cd);
    int node = gc_node(&gc, "Gemm", in, c_ndim >= 0 ? 3 : 2);
    xcnn_node *n = &gc.g->nodes[node];
    xcnn_node_add_attr_int(n, "transB", trans_b);
    xcnn_node_add_attr_float(n, "alpha", alpha);
    xcnn_node_add_attr_float(n, "beta", beta);
    char label[160];
    snprintf(label, sizeof label, "Gemm %s (K=%lld, M=%lld)", what, (long long)K, (long long)M);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_gemm_gradients(void)
{
    for (int tb = 0; tb < 2; tb++) {
        uint64_t s = 10 * (uint64_t)(tb + 1);
        const char *t = tb ? "transB" : "B [K,M]";
        char what[96];
        snprintf(what, sizeof what, "%s, C [M]", t);
        gradcheck_gemm(s + 1, tb, 1, (int64_t[]){-1}, 1, 1, what);
        snprintf(what, sizeof what, "%s, C [1,M], alpha 0.7 beta 1.3", t);
        gradcheck_gemm(s + 2, tb, 2, (int64_t[]){1, -1}, 0.7f, 1.3f, what);
        snprintf(what, sizeof what, "%s, C scalar", t);
        gradcheck_gemm(s + 3, tb, 0, NULL, 1, 2, what);
        snprintf(what, sizeof what, "%s, C [1,1]", t);
        gradcheck_gemm(s + 4, tb, 2, (int64_t[]){1, 1}, 1, -1, what);
        snprintf(what, sizeof what, "%s, no C", t);
        gradcheck_gemm(s + 5, tb, -1, NULL, 1, 1, what);
    }
    /* Larger than one GEMM block, so the blocked paths are crossed. */
    gc_graph gc;
    gc_init(&gc, 40);
    int a = gc_activation(&gc, "A", 2, (int64_t[]){1, 150});
    int b = gc_weight(&gc, "B", 2, (int64_t[]){140, 150});
    int c = gc_weight(&gc, "C", 1, (int64_t[]){140});
    int node = gc_node(&gc, "Gemm", (int[]){a, b, c}, 3);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "transB", 1);
    gradcheck_run(&gc, node, 3, "Gemm 150 -> 140 transB (batch 3)", 1e-2);
    gc_free(&gc);
}

static void test_matmul_gradients(void)
{
    for (int rank = 2; rank <= 4; rank++) {
        gc_graph gc;
        gc_init(&gc, 50 + (uint64_t)rank);
        int64_t d[4] = {1, 0, 0, 0};
        for (int i = 1; i < rank; i++) d[i] = test_rng_int(&gc.rng, 1, 5);
        int64_t M = test_rng_int(&gc.rng, 1, 6);
        int a = gc_activation(&gc, "A", rank, d);
        int b = gc_weight(&gc, "B", 2, (int64_t[]){d[rank - 1], M});
        int node = gc_node(&gc, "MatMul", (int[]){a, b}, 2);
        char label[96];
        snprintf(label, sizeof label, "MatMul rank %d activation x [%lld,%lld]", rank,
                 (long long)d[rank - 1], (long long)M);
        gradcheck_run(&gc, node, 2, label, 1e-2);
        gc_free(&gc);
    }
}

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 60);
    int a = gc_activation(&gc, "A", 2, (int64_t[]){1, 4});
    int a1 = gc_activation(&gc, "A1", 1, (int64_t[]){1});
    int act_b = gc_activation(&gc, "actB", 2, (int64_t[]){4, 3});
    int w = gc_weight(&gc, "W", 2, (int64_t[]){4, 3});
    int w3 = gc_weight(&gc, "W3", 3, (int64_t[]){1, 4, 3});
    int w_bad = gc_weight(&gc, "Wbad", 2, (int64_t[]){5, 3});
    int c_batch = gc_weight(&gc, "Cbatch", 2, (int64_t[]){2, 3});
    int c_bad = gc_weight(&gc, "Cbad", 1, (int64_t[]){2});
    int act_c = gc_activation(&gc, "actC", 2, (int64_t[]){1, 3});

    int node = gc_node(&gc, "Gemm", (int[]){a, w}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "transA", 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Gemm transA=1");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){a, act_b}, 2), XCNN_ERR_UNSUPPORTED,
                   "Gemm with an activation B");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){w, w}, 2), XCNN_ERR_UNSUPPORTED,
                   "Gemm with a constant A");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){a, w_bad}, 2), XCNN_ERR_SHAPE,
                   "Gemm with K mismatch");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){a, w, c_batch}, 3), XCNN_ERR_UNSUPPORTED,
                   "Gemm with C [2,M] (a batch-sized C)");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){a, w, c_bad}, 3), XCNN_ERR_UNSUPPORTED,
                   "Gemm with C [2] for M=3");
    expect_refusal(&gc, gc_node(&gc, "Gemm", (int[]){a, w, act_c}, 3), XCNN_ERR_UNSUPPORTED,
                   "Gemm with an activation C");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){a, w3}, 2), XCNN_ERR_UNSUPPORTED,
                   "MatMul with a 3-D B");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){a1, w}, 2), XCNN_ERR_UNSUPPORTED,
                   "MatMul with a 1-D A");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){a, act_b}, 2), XCNN_ERR_UNSUPPORTED,
                   "MatMul of two activations");
    expect_refusal(&gc, gc_node(&gc, "MatMul", (int[]){a, w_bad}, 2), XCNN_ERR_SHAPE,
                   "MatMul with K mismatch");
    gc_free(&gc);
}

int main(void)
{
    test_gemm_forward();
    test_matmul_forward();
    test_gemm_gradients();
    test_matmul_gradients();
    test_refusals();
    return check_summary();
}
