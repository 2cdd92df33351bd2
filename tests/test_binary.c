/*
 * Add, Sub, Mul, Div with broadcasting (ops/binary.c): forward values,
 * finite-difference gradients for the shapes CNNs use (SE gates, biases,
 * input normalisation, scalars) and random broadcast patterns, the
 * gradient's independence from the thread count, and setup refusals.
 */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"


/* An operand: activation (dims[0] is the batch, 1 here) or constant. */
static int operand(gc_graph *gc, const char *name, int is_const, int ndim, const int64_t *d)
{
    return is_const ? gc_weight(gc, name, ndim, d) : gc_activation(gc, name, ndim, d);
}

/* ---- forward values ---- */

static void test_forward_values(void)
{
    /* a [batch 2, 2, 3] (activation) op b [3] (constant) */
    const float a[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    const float b[3] = {10, 20, -40};
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    for (int k = 0; k < 4; k++) {
        gc_graph gc;
        gc_init(&gc, 1);
        int ta = gc_activation(&gc, "a", 3, (int64_t[]){1, 2, 3});
        int tb = gc_weight(&gc, "b", 1, (int64_t[]){3});
        memcpy(gc.g->tensors[tb].data, b, sizeof b);
        int node = gc_node(&gc, ops[k], (int[]){ta, tb}, 2);
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "%s setup (%s)", ops[k], err.msg)) {
            gc_free(&gc);
            continue;
        }
        const xcnn_tensor *y = &gc.g->tensors[gc.g->nodes[node].out[0]];
        check(y->ndim == 3 && y->dims[0] == 1 && y->dims[1] == 2 && y->dims[2] == 3,
              "%s output shape 1x2x3", ops[k]);
        op_alloc(&gc, 2);
        memcpy(gc.g->tensors[ta].data, a, sizeof a);
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 2, NULL);
        float want[12];
        for (int i = 0; i < 12; i++) {
            float x = a[i], z = b[i % 3];
            want[i] = k == 0 ? x + z : k == 1 ? x - z : k == 2 ? x * z : x / z;
        }
        char what[64];
        snprintf(what, sizeof what, "%s forward [2,2,3] with [3]", ops[k]);
        check_close(what, max_rel_error(y->data, want, 12), 0);
        op_release(&gc);
        gc_free(&gc);
    }
}

/* ---- gradient checks ---- */

/* One gradcheck of `op` on a (shape da) and b (shape db). */
static void gradcheck_binary(const char *op, uint64_t seed, int a_const, int na,
                             const int64_t *da, int b_const, int nb, const int64_t *db,
                             const char *what)
{
    gc_graph gc;
    gc_init(&gc, seed);
    if (strcmp(op, "Div") == 0) {
        /* Keep the divisor away from 0 (both operands: either may divide). */
        gc.lo = 0.5f;
        gc.hi = 1.5f;
    }
    int ta = operand(&gc, "a", a_const, na, da);
    int tb = operand(&gc, "b", b_const, nb, db);
    int node = gc_node(&gc, op, (int[]){ta, tb}, 2);
    char label[160];
    snprintf(label, sizeof label, "%s %s", op, what);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_cnn_shapes(void)
{
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    int64_t x[4] = {1, 3, 5, 4}, gate[4] = {1, 3, 1, 1}, bias[3] = {3, 1, 1};
    int64_t chan[4] = {1, 3, 1, 1}, one_ch[4] = {1, 1, 5, 4}, one[1] = {1};
    int64_t nhwc[4] = {1, 5, 4, 6}, last[1] = {6};
    for (int k = 0; k < 4; k++) {
        gradcheck_binary(ops[k], 1, 0, 4, x, 0, 4, x, "x op y (same shape)");
        gradcheck_binary(ops[k], 2, 0, 4, x, 0, 4, gate, "SE gate [N,C,H,W] op [N,C,1,1]");
        gradcheck_binary(ops[k], 3, 0, 4, gate, 0, 4, x, "[N,C,1,1] op [N,C,H,W]");
        gradcheck_binary(ops[k], 4, 0, 4, x, 1, 3, bias, "bias [N,C,H,W] op const [C,1,1]");
        gradcheck_binary(ops[k], 5, 0, 4, x, 1, 4, chan, "normalise [N,3,H,W] op const [1,3,1,1]");
        gradcheck_binary(ops[k], 6, 1, 4, chan, 0, 4, x, "const [1,3,1,1] op [N,3,H,W]");
        gradcheck_binary(ops[k], 7, 0, 4, x, 1, 0, NULL, "[N,C,H,W] op const scalar");
        gradcheck_binary(ops[k], 8, 1, 1, one, 0, 4, x, "const [1] op [N,C,H,W]");
        gradcheck_binary(ops[k], 9, 0, 4, one_ch, 1, 4, chan, "[N,1,H,W] op const [1,3,1,1]");
        /* ConvNeXt: the layer scale, a constant first, and a channels-last bias */
        gradcheck_binary(ops[k], 11, 1, 3, bias, 0, 4, x, "layer scale const [C,1,1] op [N,C,H,W]");
        gradcheck_binary(ops[k], 12, 0, 4, nhwc, 1, 1, last, "NHWC [N,H,W,C] op const [C]");
        gradcheck_binary(ops[k], 13, 1, 1, last, 0, 4, nhwc, "const [C] op NHWC [N,H,W,C]");
    }
    /* x * x: the same tensor on both sides gets both contributions. */
    gc_graph gc;
    gc_init(&gc, 10);
    int t = gc_activation(&gc, "x", 2, (int64_t[]){1, 7});
    int node = gc_node(&gc, "Mul", (int[]){t, t}, 2);
    gradcheck_run(&gc, node, 2, "Mul x * x (one tensor twice)", 1e-2);
    gc_free(&gc);
}

/* Random shapes: rank 2..5, each dim of either operand randomly 1. */
static void test_random_broadcasts(void)
{
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    test_rng rng = {12345};
    for (int trial = 0; trial < 24; trial++) {
        int rank = test_rng_int(&rng, 2, 5);
        int64_t full[5], da[5], db[5];
        full[0] = 1;
        for (int i = 1; i < rank; i++) full[i] = test_rng_int(&rng, 2, 4);
        int b_const = test_rng_int(&rng, 0, 1);
        int nb = b_const ? test_rng_int(&rng, 0, rank) : rank; /* consts may drop dims */
        for (int i = 0; i < rank; i++) {
            da[i] = test_rng_int(&rng, 0, 2) == 0 ? 1 : full[i];
            db[i] = test_rng_int(&rng, 0, 2) == 0 ? 1 : full[i];
        }
        da[0] = db[0] = 1;
        const int64_t *dbp = db + (rank - nb);
        char what[128];
        int used = snprintf(what, sizeof what, "random #%d: [", trial);
        for (int i = 0; i < rank; i++)
            used += snprintf(what + used, sizeof what - (size_t)used, "%s%lld", i ? "," : "",
                             (long long)da[i]);
        used += snprintf(what + used, sizeof what - (size_t)used, "] op %s[",
                         b_const ? "const " : "");
        for (int i = 0; i < nb; i++)
            used += snprintf(what + used, sizeof what - (size_t)used, "%s%lld", i ? "," : "",
                             (long long)dbp[i]);
        snprintf(what + used, sizeof what - (size_t)used, "]");
        gradcheck_binary(ops[trial % 4], 100 + (uint64_t)trial, 0, rank, da, b_const, nb, dbp,
                         what);
    }
}

/* ---- determinism: 1 thread and many give the same bits ---- */

static void run_se_backward(int threads, float *da_out, float *db_out, size_t na, size_t nb)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    gc_graph gc;
    gc_init(&gc, 77);
    int64_t dx[4] = {1, 64, 24, 24}, dg[4] = {1, 64, 1, 1}, bias[3] = {64, 1, 1};
    int a = gc_activation(&gc, "x", 4, dx);
    int b = gc_activation(&gc, "gate", 4, dg);
    int c = gc_weight(&gc, "bias", 3, bias);
    int mul = gc_node(&gc, "Mul", (int[]){a, b}, 2);
    int add = gc_node(&gc, "Add", (int[]){a, c}, 2);
    xcnn_err err = {{0}};
    if (op_setup(&gc, mul, &err) || op_setup(&gc, add, &err)) {
        check(0, "SE setup: %s", err.msg);
        gc_free(&gc);
        return;
    }
    const int batch = 3;
    op_alloc(&gc, batch);
    test_rng rng = {99};
    for (size_t i = 0; i < na; i++) gc.g->tensors[a].data[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nb; i++) gc.g->tensors[b].data[i] = test_rng_uniform(&rng, -1, 1);
    for (int k = 0; k < 2; k++) {
        const xcnn_node *n = &gc.g->nodes[k == 0 ? mul : add];
        n->def->forward(gc.g, n, batch, NULL);
        xcnn_tensor *y = &gc.g->tensors[n->out[0]];
        for (size_t i = 0; i < na; i++) y->grad[i] = test_rng_uniform(&rng, -1, 1);
        xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
        n->def->backward(gc.g, n, batch, NULL, &ctx);
    }
    memcpy(da_out, gc.g->tensors[b].grad, nb * sizeof(float));
    memcpy(db_out, gc.g->tensors[c].grad, 64 * sizeof(float));
    op_release(&gc);
    gc_free(&gc);
}

static void test_thread_independence(void)
{
    const size_t na = 3 * 64 * 24 * 24, nb = 3 * 64;
    float g1[3 * 64], g4[3 * 64], c1[64], c4[64];
    run_se_backward(1, g1, c1, na, nb);
    run_se_backward(4, g4, c4, na, nb);
    check(memcmp(g1, g4, sizeof g1) == 0 && memcmp(c1, c4, sizeof c1) == 0,
          "broadcast gradients (SE gate, bias) are bit-identical with 1 and 4 threads");
}

/* ---- refusals ---- */

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 31);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 4});
    int x2 = gc_activation(&gc, "x2", 2, (int64_t[]){1, 4});
    int w5 = gc_weight(&gc, "w5", 1, (int64_t[]){5});
    int wb = gc_weight(&gc, "w_batch", 4, (int64_t[]){2, 3, 1, 1});
    int w5d = gc_weight(&gc, "w5d", 5, (int64_t[]){1, 1, 3, 4, 4});
    int w1 = gc_weight(&gc, "w1", 1, (int64_t[]){1});
    expect_refusal(&gc, gc_node(&gc, "Add", (int[]){x, w5}, 2), XCNN_ERR_SHAPE,
                   "[1,3,4,4] + [5] do not broadcast");
    expect_refusal(&gc, gc_node(&gc, "Mul", (int[]){x, wb}, 2), XCNN_ERR_SHAPE,
                   "constant with dim 0 = 2 where the batch is");
    expect_refusal(&gc, gc_node(&gc, "Sub", (int[]){x, w5d}, 2), XCNN_ERR_SHAPE,
                   "constant of higher rank moves the batch");
    expect_refusal(&gc, gc_node(&gc, "Div", (int[]){x, x2}, 2), XCNN_ERR_SHAPE,
                   "two activations of different rank");
    expect_refusal(&gc, gc_node(&gc, "Add", (int[]){w1, w5}, 2), XCNN_ERR_UNSUPPORTED,
                   "two constants");
    expect_refusal(&gc, gc_node(&gc, "Add", (int[]){x}, 1), XCNN_ERR_SHAPE, "one input");
    gc_free(&gc);
}

/* Add with a Relu fuse.c folded into it (inference-only ResNets): the bits
 * of relu(a + b), NaN giving 0 as the Relu op, on a plane large enough to
 * be shared between threads, same-shape and broadcast, at 1 and 2 threads,
 * and on the reference path. */
static void test_fused_relu(void)
{
    static const int64_t full[4] = {1, 64, 56, 56}, chan[4] = {1, 64, 1, 1};
    for (int bcast = 0; bcast < 2; bcast++)
        for (int reference = 0; reference < 2; reference++)
            for (int threads = 1; threads <= 2; threads++) {
                gc_graph gc;
                gc_init(&gc, 77);
                int ta = operand(&gc, "a", 0, 4, full);
                int tb = operand(&gc, "b", 0, 4, bcast ? chan : full);
                int node = gc_node(&gc, "Add", (int[]){ta, tb}, 2);
                xcnn_graph *g = gc.g;
                xcnn_node *n = &g->nodes[node];
                xcnn_err err = {{0}};
                n->def = xcnn_op_find("Add");
                if (!check(n->def->setup(g, n, &err) == XCNN_OK, "fused Add: setup")) {
                    gc_free(&gc);
                    return;
                }
                n->fused_relu = 1;
                g->reference = reference;
                xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1), *y = xcnn_out(g, n, 0);
                size_t na = xcnn_tensor_sample_numel(a), nb = xcnn_tensor_sample_numel(b);
                a->data = malloc(na * sizeof(float));
                b->data = malloc(nb * sizeof(float));
                y->data = malloc(na * sizeof(float));
                for (size_t i = 0; i < na; i++) a->data[i] = test_rng_uniform(&gc.rng, -1, 1);
                for (size_t i = 0; i < nb; i++) b->data[i] = test_rng_uniform(&gc.rng, -1, 1);
                a->data[5] = NAN;
#ifdef _OPENMP
                omp_set_num_threads(threads);
#endif
                n->def->forward(g, n, 1, NULL);
                int same = 1;
                for (size_t i = 0; i < na; i++) {
                    float v = a->data[i] + b->data[bcast ? i / (56 * 56) : i];
                    float want = v > 0 ? v : 0.0f;
                    same &= memcmp(&want, &y->data[i], sizeof want) == 0;
                }
                check(same, "Add with a fused Relu%s%s, %d thread(s): relu(a + b)'s bits, NaN -> 0",
                      bcast ? ", b per channel" : "", reference ? ", reference path" : "",
                      threads);
                free(a->data);
                free(b->data);
                free(y->data);
                a->data = b->data = y->data = NULL;
                gc_free(&gc);
            }
}

int main(void)
{
    test_forward_values();
    test_fused_relu();
    test_cnn_shapes();
    test_random_broadcasts();
    test_thread_independence();
    test_refusals();
    return check_summary();
}
