/*
 * Flatten, Reshape (ops/reshape.c), Pad (ops/pad.c), Concat (ops/concat.c)
 * and Softmax (ops/softmax.c): output shapes and forward values by hand,
 * gradients by finite differences, and the setups' refusals.
 */
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"


/* Output shape of a set-up node equals want (ndim values). */
static int shape_is(const gc_graph *gc, int node, int ndim, const int64_t *want)
{
    const xcnn_tensor *y = &gc->g->tensors[gc->g->nodes[node].out[0]];
    if (y->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (y->dims[i] != want[i]) return 0;
    return 1;
}

/* ---- Flatten and Reshape ---- */

static void test_flatten(void)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 2, 2});
    int ones = gc_activation(&gc, "ones", 4, (int64_t[]){1, 1, 1, 5});
    int node = gc_node(&gc, "Flatten", &x, 1);
    xcnn_err err = {{0}};
    check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, 2, (int64_t[]){1, 12}),
          "Flatten [1,3,2,2] (axis 1) is [1,12] (%s)", err.msg);
    node = gc_node(&gc, "Flatten", &ones, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", -1);
    check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, 2, (int64_t[]){1, 5}),
          "Flatten [1,1,1,5] axis -1 is [1,5] (%s)", err.msg);
    node = gc_node(&gc, "Flatten", &x, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Flatten axis 2 merging the batch with C=3");
    node = gc_node(&gc, "Flatten", &x, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 0);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Flatten axis 0");
    node = gc_node(&gc, "Flatten", &x, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 5);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Flatten axis 5 of 4 dims");
    gc_free(&gc);

    gc_init(&gc, 2);
    x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 2, 5});
    node = gc_node(&gc, "Flatten", &x, 1);
    gradcheck_run(&gc, node, 3, "Flatten gradcheck", 1e-2);
    gc_free(&gc);
}

static void test_reshape(void)
{
    gc_graph gc;
    gc_init(&gc, 3);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 3, 4});
    struct { int count; int64_t shape[4]; int ndim; int64_t want[4]; const char *what; } ok[] = {
        {2, {0, -1}, 2, {1, 24}, "[0,-1]"},
        {2, {-1, 24}, 2, {1, 24}, "[-1,24]"},
        {4, {1, 6, 2, 2}, 4, {1, 6, 2, 2}, "[1,6,2,2]"},
        {3, {0, 0, -1}, 3, {1, 2, 12}, "[0,0,-1]"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int s = gc_int_const(&gc, "shape", ok[i].count, ok[i].shape);
        int node = gc_node(&gc, "Reshape", (int[]){x, s}, 2);
        xcnn_err err = {{0}};
        check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, ok[i].ndim, ok[i].want),
              "Reshape [1,2,3,4] by %s (%s)", ok[i].what, err.msg[0] ? err.msg : "ok");
    }
    struct { int count; int64_t shape[4]; xcnn_status st; const char *what; } bad[] = {
        {2, {2, -1}, XCNN_ERR_UNSUPPORTED, "[2,-1] mixes the batch"},
        {1, {-1}, XCNN_ERR_UNSUPPORTED, "[-1] mixes the batch"},
        {2, {-1, 4}, XCNN_ERR_UNSUPPORTED, "[-1,4] mixes the batch"},
        {3, {1, -1, -1}, XCNN_ERR_SHAPE, "two -1"},
        {2, {1, 7}, XCNN_ERR_SHAPE, "wrong element count"},
        {2, {1, -5}, XCNN_ERR_SHAPE, "negative dim"},
        {2, {-1, 5}, XCNN_ERR_SHAPE, "-1 not a whole number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int s = gc_int_const(&gc, "shape", bad[i].count, bad[i].shape);
        expect_refusal(&gc, gc_node(&gc, "Reshape", (int[]){x, s}, 2), bad[i].st,
                       bad[i].what);
    }
    /* allowzero=1: a 0 is a real 0, so [0,-1] cannot be filled. */
    int s0 = gc_int_const(&gc, "shape", 2, (int64_t[]){0, -1});
    int node = gc_node(&gc, "Reshape", (int[]){x, s0}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "allowzero", 1);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Reshape [0,-1] with allowzero=1");
    /* The shape must be a constant. */
    int fs = gc_activation(&gc, "float_shape", 1, (int64_t[]){2});
    expect_refusal(&gc, gc_node(&gc, "Reshape", (int[]){x, fs}, 2), XCNN_ERR_UNSUPPORTED,
                   "Reshape with a run-time shape");
    gc_free(&gc);

    gc_init(&gc, 4);
    x = gc_activation(&gc, "x", 3, (int64_t[]){1, 6, 4});
    int s = gc_int_const(&gc, "shape", 4, (int64_t[]){1, 2, 3, -1});
    node = gc_node(&gc, "Reshape", (int[]){x, s}, 2);
    gradcheck_run(&gc, node, 2, "Reshape [1,6,4] -> [1,2,3,4] gradcheck", 1e-2);
    gc_free(&gc);

    /* The copy keeps every sample whole at batch 3. */
    gc_init(&gc, 5);
    x = gc_activation(&gc, "x", 3, (int64_t[]){1, 2, 2});
    s = gc_int_const(&gc, "shape", 2, (int64_t[]){1, 4});
    node = gc_node(&gc, "Reshape", (int[]){x, s}, 2);
    xcnn_err err = {{0}};
    if (op_setup(&gc, node, &err) == XCNN_OK) {
        op_alloc(&gc, 3);
        for (int i = 0; i < 12; i++) gc.g->tensors[x].data[i] = (float)i;
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 3, NULL);
        float want[12];
        for (int i = 0; i < 12; i++) want[i] = (float)i;
        check_close("Reshape forward copies batch 3",
                    max_rel_error(gc.g->tensors[n->out[0]].data, want, 12), 0);
        op_release(&gc);
    }
    gc_free(&gc);
}

/* ---- Pad ---- */

static void test_pad(void)
{
    /* [batch 2, 2] padded [0,1 | 0,2] with 9: each row becomes 9 a b 9 9. */
    gc_graph gc;
    gc_init(&gc, 6);
    int x = gc_activation(&gc, "x", 2, (int64_t[]){1, 2});
    int p = gc_int_const(&gc, "pads", 4, (int64_t[]){0, 1, 0, 2});
    int v = gc_weight(&gc, "value", 0, NULL);
    gc.g->tensors[v].data[0] = 9;
    int node = gc_node(&gc, "Pad", (int[]){x, p, v}, 3);
    xcnn_err err = {{0}};
    if (check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, 2, (int64_t[]){1, 5}),
              "Pad [1,2] by [0,1,0,2] is [1,5] (%s)", err.msg[0] ? err.msg : "ok")) {
        op_alloc(&gc, 2);
        memcpy(gc.g->tensors[x].data, (float[]){1, 2, 3, 4}, 4 * sizeof(float));
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 2, NULL);
        const float want[10] = {9, 1, 2, 9, 9, 9, 3, 4, 9, 9};
        check_close("Pad forward, constant 9",
                    max_rel_error(gc.g->tensors[n->out[0]].data, want, 10), 0);
        op_release(&gc);
    }
    gc_free(&gc);

    /* Gradients: 4-D, uneven pads, with and without a constant_value input. */
    for (int with_value = 0; with_value < 2; with_value++) {
        gc_init(&gc, 7 + (uint64_t)with_value);
        x = gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 3, 4});
        p = gc_int_const(&gc, "pads", 8, (int64_t[]){0, 1, 2, 0, 0, 0, 1, 3});
        v = gc_weight(&gc, "value", 0, NULL);
        node = gc_node(&gc, "Pad", (int[]){x, p, v}, with_value ? 3 : 2);
        gradcheck_run(&gc, node, 2, with_value ? "Pad 4-D gradcheck (x and constant_value)"
                                               : "Pad 4-D gradcheck", 1e-2);
        const xcnn_tensor *y = &gc.g->tensors[gc.g->nodes[node].out[0]];
        check(y->ndim == 4 && y->dims[1] == 3 && y->dims[2] == 6 && y->dims[3] == 7,
              "Pad [1,2,3,4] by [0,1,2,0,0,0,1,3] is [1,3,6,7]");
        gc_free(&gc);
    }

    /* Opset 10: pads and value are attributes. */
    gc_init(&gc, 9);
    gc.g->opset = 10;
    x = gc_activation(&gc, "x", 3, (int64_t[]){1, 2, 3});
    node = gc_node(&gc, "Pad", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "pads", (int64_t[]){0, 0, 1, 0, 2, 1}, 6);
    xcnn_node_add_attr_float(&gc.g->nodes[node], "value", -1.0f);
    gradcheck_run(&gc, node, 2, "Pad opset 10 (attributes) gradcheck", 1e-2);
    check(shape_is(&gc, node, 3, (int64_t[]){1, 4, 5}), "Pad opset 10 output is [1,4,5]");
    gc_free(&gc);

    /* Refusals. */
    gc_init(&gc, 10);
    x = gc_activation(&gc, "x", 2, (int64_t[]){1, 4});
    int good = gc_int_const(&gc, "pads", 4, (int64_t[]){0, 1, 0, 1});
    int batch_pad = gc_int_const(&gc, "pads_b", 4, (int64_t[]){1, 0, 0, 0});
    int neg = gc_int_const(&gc, "pads_n", 4, (int64_t[]){0, -1, 0, 0});
    int three = gc_int_const(&gc, "pads_3", 3, (int64_t[]){0, 1, 1});
    int axes = gc_int_const(&gc, "axes", 1, (int64_t[]){1});
    node = gc_node(&gc, "Pad", (int[]){x, good}, 2);
    xcnn_node_add_attr_string(&gc.g->nodes[node], "mode", "reflect");
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Pad mode reflect");
    {
        xcnn_err e2 = {{0}};
        op_setup(&gc, node, &e2);
        check(strstr(e2.msg, "reflect") != NULL, "Pad refusal names the mode: %s", e2.msg);
    }
    node = gc_node(&gc, "Pad", (int[]){x, good}, 2);
    xcnn_node_add_attr_string(&gc.g->nodes[node], "mode", "edge");
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Pad mode edge");
    expect_refusal(&gc, gc_node(&gc, "Pad", (int[]){x, batch_pad}, 2), XCNN_ERR_UNSUPPORTED,
                   "Pad on the batch dim");
    expect_refusal(&gc, gc_node(&gc, "Pad", (int[]){x, neg}, 2), XCNN_ERR_UNSUPPORTED,
                   "negative pads");
    expect_refusal(&gc, gc_node(&gc, "Pad", (int[]){x, three}, 2), XCNN_ERR_SHAPE,
                   "3 pads for 2 dims");
    expect_refusal(&gc, gc_node(&gc, "Pad", (int[]){x, good, -1, axes}, 4),
                   XCNN_ERR_UNSUPPORTED, "Pad with an axes input");
    expect_refusal(&gc, gc_node(&gc, "Pad", (int[]){x}, 1), XCNN_ERR_UNSUPPORTED,
                   "Pad without pads (opset 11+)");
    gc_free(&gc);
}

/* ---- Concat ---- */

static void test_concat(void)
{
    /* [batch 2, 1, 2] and [batch 2, 2, 2] along axis 1. */
    gc_graph gc;
    gc_init(&gc, 11);
    int a = gc_activation(&gc, "a", 3, (int64_t[]){1, 1, 2});
    int b = gc_activation(&gc, "b", 3, (int64_t[]){1, 2, 2});
    int node = gc_node(&gc, "Concat", (int[]){a, b}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 1);
    xcnn_err err = {{0}};
    if (check(op_setup(&gc, node, &err) == XCNN_OK &&
                  shape_is(&gc, node, 3, (int64_t[]){1, 3, 2}),
              "Concat [1,1,2] and [1,2,2] on axis 1 is [1,3,2] (%s)",
              err.msg[0] ? err.msg : "ok")) {
        op_alloc(&gc, 2);
        memcpy(gc.g->tensors[a].data, (float[]){1, 2, 3, 4}, 4 * sizeof(float));
        memcpy(gc.g->tensors[b].data, (float[]){5, 6, 7, 8, 9, 10, 11, 12}, 8 * sizeof(float));
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 2, NULL);
        const float want[12] = {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12};
        check_close("Concat forward at batch 2",
                    max_rel_error(gc.g->tensors[n->out[0]].data, want, 12), 0);
        op_release(&gc);
    }
    gc_free(&gc);

    /* Gradients along every non-batch axis, 3 inputs of random widths. */
    for (int axis = 1; axis <= 3; axis++) {
        gc_init(&gc, 20 + (uint64_t)axis);
        int in[3];
        for (int k = 0; k < 3; k++) {
            int64_t d[4] = {1, 2, 3, 2};
            d[axis] = test_rng_int(&gc.rng, 1, 3);
            char name[16]; /* room for any int: -Wformat-truncation at -O1 */
            snprintf(name, sizeof name, "x%d", k);
            in[k] = gc_activation(&gc, name, 4, d);
        }
        node = gc_node(&gc, "Concat", in, 3);
        xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", axis == 3 ? -1 : axis);
        char label[64];
        snprintf(label, sizeof label, "Concat axis %d gradcheck", axis == 3 ? -1 : axis);
        gradcheck_run(&gc, node, 2, label, 1e-2);
        gc_free(&gc);
    }

    gc_init(&gc, 30);
    a = gc_activation(&gc, "a", 2, (int64_t[]){1, 3});
    b = gc_activation(&gc, "b", 2, (int64_t[]){1, 4});
    int c = gc_activation(&gc, "c", 3, (int64_t[]){1, 4, 1});
    int w = gc_weight(&gc, "w", 2, (int64_t[]){1, 3});
    node = gc_node(&gc, "Concat", (int[]){a, b}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 0);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Concat on axis 0 (the batch)");
    node = gc_node(&gc, "Concat", (int[]){a, w}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Concat with a constant input");
    node = gc_node(&gc, "Concat", (int[]){a, c}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 1);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Concat of different ranks");
    node = gc_node(&gc, "Concat", (int[]){a, b}, 2);
    expect_refusal(&gc, node, XCNN_ERR_FORMAT, "Concat without an axis");
    gc_free(&gc);
}

/* ---- Softmax ---- */

/* Softmax over x (shape dims, batch 1) with `opset` and optional axis;
 * output into y. Returns 0 if setup failed. */
static int softmax_run(int opset, int has_axis, int64_t axis, int ndim, const int64_t *dims,
                       const float *x, float *y, size_t count)
{
    gc_graph gc;
    gc_init(&gc, 40);
    gc.g->opset = opset;
    int t = gc_activation(&gc, "x", ndim, dims);
    int node = gc_node(&gc, "Softmax", &t, 1);
    if (has_axis) xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", axis);
    xcnn_err err = {{0}};
    int ok = op_setup(&gc, node, &err) == XCNN_OK;
    if (ok) {
        op_alloc(&gc, 1);
        memcpy(gc.g->tensors[t].data, x, count * sizeof(float));
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 1, NULL);
        memcpy(y, gc.g->tensors[n->out[0]].data, count * sizeof(float));
        op_release(&gc);
    }
    gc_free(&gc);
    return ok;
}

static void test_softmax(void)
{
    float y[6];
    const float e3[3] = {0.09003057f, 0.24472847f, 0.66524096f};
    if (softmax_run(13, 0, 0, 2, (int64_t[]){1, 3}, (float[]){1, 2, 3}, y, 3))
        check_close("Softmax [1,2,3]", max_rel_error(y, e3, 3), 1e-6);
    if (softmax_run(13, 0, 0, 2, (int64_t[]){1, 3}, (float[]){1001, 1002, 1003}, y, 3))
        check_close("Softmax [1001,1002,1003] (stable: no overflow)", max_rel_error(y, e3, 3),
                    1e-6);
    /* [1,2,3] of values 0..5: opset 13 axis 1 is per column (inner 3 apart);
     * opset 11 axis 1 flattens the 6 into one softmax. */
    const float x6[6] = {0, 1, 2, 3, 4, 5};
    if (softmax_run(13, 1, 1, 3, (int64_t[]){1, 2, 3}, x6, y, 6)) {
        float s = 1.0f / (1.0f + expf(3.0f)), b = 1.0f - s;
        const float want[6] = {s, s, s, b, b, b};
        check_close("Softmax opset 13 axis 1 on [1,2,3]: per column", max_rel_error(y, want, 6),
                    1e-6);
    }
    if (softmax_run(11, 0, 0, 3, (int64_t[]){1, 2, 3}, x6, y, 6)) {
        double z = 0;
        float want[6];
        for (int i = 0; i < 6; i++) z += exp(i);
        for (int i = 0; i < 6; i++) want[i] = (float)(exp(i) / z);
        check_close("Softmax opset 11 default axis 1 on [1,2,3]: one row of 6",
                    max_rel_error(y, want, 6), 1e-6);
    }
    if (softmax_run(0, 0, 0, 3, (int64_t[]){1, 2, 3}, x6, y, 6)) {
        float want[6];
        double z = exp(0) + exp(1) + exp(2);
        for (int i = 0; i < 6; i++) want[i] = (float)(exp(i % 3) / z);
        check_close("Softmax opset 0 (newest): default axis -1", max_rel_error(y, want, 6), 1e-6);
    }

    struct { int opset, has_axis; int64_t axis; const char *what; } cases[] = {
        {13, 0, 0, "opset 13 default axis (-1)"},
        {13, 1, 1, "opset 13 axis 1 (inner > 1)"},
        {13, 1, 2, "opset 13 axis 2"},
        {11, 0, 0, "opset 11 default axis 1 (coerced to 2-D)"},
        {11, 1, 2, "opset 11 axis 2 (coerced to 2-D)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gc_graph gc;
        gc_init(&gc, 50 + i);
        gc.g->opset = cases[i].opset;
        gc.lo = -3;
        gc.hi = 3;
        int t = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 5});
        int node = gc_node(&gc, "Softmax", &t, 1);
        if (cases[i].has_axis) xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", cases[i].axis);
        char label[96];
        snprintf(label, sizeof label, "Softmax %s gradcheck", cases[i].what);
        gradcheck_run(&gc, node, 2, label, 1e-2);
        gc_free(&gc);
    }

    gc_graph gc;
    gc_init(&gc, 60);
    int t = gc_activation(&gc, "x", 2, (int64_t[]){1, 5});
    int node = gc_node(&gc, "Softmax", &t, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 0);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Softmax over axis 0 (the batch)");
    node = gc_node(&gc, "Softmax", &t, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", -2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Softmax over axis -2 = 0 (the batch)");
    node = gc_node(&gc, "Softmax", &t, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "axis", 2);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Softmax axis 2 of 2 dims");
    gc_free(&gc);
}

int main(void)
{
    test_flatten();
    test_reshape();
    test_pad();
    test_concat();
    test_softmax();
    return check_summary();
}
