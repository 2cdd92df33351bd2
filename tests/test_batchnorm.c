/*
 * BatchNormalization (inference form): forward against the formula in
 * double (max relative error, tolerance 1e-5) and against PyTorch
 * F.batch_norm(training=False) on a small fixed input (tolerance 1e-6);
 * backward by finite differences for all five inputs (X, scale, B, mean,
 * var) through tests/gradcheck.h (batch 2, tolerance 1e-2), for 4-D and
 * 2-D inputs; setup refusals.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/ops/ops.h"

/* X [1, c, spatial...], the four [c] weights (var kept positive), node. */
static int build(gc_graph *gc, int ndim, const int64_t *dims, float eps)
{
    int64_t c = dims[1];
    int in[5];
    in[0] = gc_activation(gc, "x", ndim, dims);
    in[1] = gc_weight(gc, "scale", 1, &c);
    in[2] = gc_weight(gc, "B", 1, &c);
    in[3] = gc_weight(gc, "mean", 1, &c);
    in[4] = gc_weight(gc, "var", 1, &c);
    float *var = gc->g->tensors[in[4]].data;
    for (int64_t i = 0; i < c; i++) var[i] = 0.2f + fabsf(var[i]);
    int node = gc_node(gc, "BatchNormalization", in, 5);
    if (eps >= 0) xcnn_node_add_attr_float(&gc->g->nodes[node], "epsilon", eps);
    return node;
}

static void check_forward(int ndim, const int64_t *dims, float eps, uint64_t seed,
                          const char *label)
{
    gc_graph gc;
    gc_init(&gc, seed);
    int node = build(&gc, ndim, dims, eps);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = &xcnn_op_batchnorm;
    if (!check(n->def->setup(g, n, &err) == XCNN_OK, "%s: setup (%s)", label, err.msg[0] ? err.msg : "ok")) {
        gc_free(&gc);
        return;
    }
    int batch = 2, c = (int)dims[1];
    xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
    size_t per = xcnn_tensor_sample_numel(xt), nx = per * batch, pix = per / (size_t)c;
    float *x = malloc(nx * sizeof(float)), *y = malloc(nx * sizeof(float));
    float *ref = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(&gc.rng, -2, 2);
    const float *sc = xcnn_in(g, n, 1)->data, *bi = xcnn_in(g, n, 2)->data;
    const float *mu = xcnn_in(g, n, 3)->data, *var = xcnn_in(g, n, 4)->data;
    double e = eps >= 0 ? eps : 1e-5;
    for (size_t i = 0; i < nx; i++) {
        int ch = (int)((i / pix) % (size_t)c);
        ref[i] = (float)(sc[ch] * ((double)x[i] - mu[ch]) / sqrt((double)var[ch] + e) + bi[ch]);
    }
    xt->data = x;
    yt->data = y;
    n->def->forward(g, n, batch, NULL);
    char what[200];
    snprintf(what, sizeof what, "%s: forward vs formula", label);
    check_close(what, max_rel_error(y, ref, nx), 1e-5);
    xt->data = yt->data = NULL;
    free(x);
    free(y);
    free(ref);
    gc_free(&gc);
}

/* x[i] = ((i * 37) % 101) / 50 - 1 over [1, 2, 2, 3]; weights below; the
 * expected values were printed by PyTorch 2.x F.batch_norm(x, mean, var,
 * scale, B, training=False, eps=1e-3). */
static void check_torch(void)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int node = build(&gc, 4, (int64_t[]){1, 2, 2, 3}, 1e-3f);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    const float w[4][2] = {{1.5f, -0.5f}, {0.25f, -1.0f}, {0.1f, -0.3f}, {0.5f, 2.0f}};
    for (int k = 0; k < 4; k++) memcpy(xcnn_in(g, n, k + 1)->data, w[k], sizeof w[k]);
    xcnn_err err = {{0}};
    n->def = &xcnn_op_batchnorm;
    if (!check(n->def->setup(g, n, &err) == XCNN_OK, "batchnorm vs PyTorch: setup")) {
        gc_free(&gc);
        return;
    }
    float x[12], y[12];
    for (int i = 0; i < 12; i++) x[i] = (float)(((i * 37) % 101) / 50.0 - 1.0);
    static const float want[12] = {
        -2.0811224f, -0.51291275f, 1.05529678f, -1.65728199f, -0.0890723392f, 1.4791373f,
        -0.893960476f, -1.15552461f, -1.41708875f, -0.964653492f, -1.22621763f, -0.773782372f};
    xcnn_in(g, n, 0)->data = x;
    xcnn_out(g, n, 0)->data = y;
    n->def->forward(g, n, 1, NULL);
    check_close("batchnorm forward vs PyTorch", max_rel_error(y, want, 12), 1e-6);
    xcnn_in(g, n, 0)->data = xcnn_out(g, n, 0)->data = NULL;
    gc_free(&gc);
}

static void check_refused(const char *label, int variant, xcnn_status want)
{
    gc_graph gc;
    gc_init(&gc, 3);
    int64_t dims[4] = {1, 3, 4, 4}, c = 3, c2 = 2;
    int in[5];
    in[0] = gc_activation(&gc, "x", 4, dims);
    in[1] = gc_weight(&gc, "scale", 1, variant == 1 ? &c2 : &c);
    in[2] = gc_weight(&gc, "B", 1, &c);
    in[3] = gc_weight(&gc, "mean", 1, &c);
    in[4] = variant == 2 ? gc_activation(&gc, "var_act", 1, &c) : gc_weight(&gc, "var", 1, &c);
    float *var = gc.g->tensors[in[4]].data;
    if (var)
        for (int i = 0; i < 3; i++) var[i] = variant == 3 && i == 1 ? -1.0f : 1.0f;
    int outs[2];
    outs[0] = xcnn_graph_add_tensor(gc.g, "y", XCNN_T_ACTIVATION);
    outs[1] = xcnn_graph_add_tensor(gc.g, "running_mean", XCNN_T_ACTIVATION);
    int node = xcnn_graph_add_node(gc.g, "bn1", "BatchNormalization", in, variant == 5 ? 4 : 5,
                                   outs, variant == 4 ? 2 : 1);
    if (variant == 6) xcnn_node_add_attr_int(&gc.g->nodes[node], "training_mode", 1);
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_op_batchnorm.setup(gc.g, &gc.g->nodes[node], &err);
    check(st == want && strstr(err.msg, "batchnorm 'bn1'") != NULL,
          "refused: %s -> status %d (want %d): \"%s\"", label, (int)st, (int)want, err.msg);
    gc_free(&gc);
}

int main(void)
{
    check_torch();

    int64_t d4[4] = {1, 3, 4, 5}, d2[2] = {1, 6}, d3[3] = {1, 2, 7};
    check_forward(4, d4, -1, 1, "batchnorm 1x3x4x5 eps default");
    check_forward(4, d4, 1e-3f, 2, "batchnorm 1x3x4x5 eps 1e-3");
    check_forward(2, d2, -1, 3, "batchnorm 1x6");
    check_forward(3, d3, 0.1f, 4, "batchnorm 1x2x7 eps 0.1");

    const struct { int ndim; const int64_t *dims; const char *label; } cases[] = {
        {4, d4, "batchnorm 1x3x4x5"}, {2, d2, "batchnorm 1x6"}, {3, d3, "batchnorm 1x2x7"}};
    for (int i = 0; i < 3; i++) {
        gc_graph gc;
        gc_init(&gc, 10 + (uint64_t)i);
        int node = build(&gc, cases[i].ndim, cases[i].dims, -1);
        gradcheck_run(&gc, node, 2, cases[i].label, 1e-2);
        gc_free(&gc);
    }

    check_refused("scale of 2 for 3 channels", 1, XCNN_ERR_SHAPE);
    check_refused("var computed at run time", 2, XCNN_ERR_UNSUPPORTED);
    check_refused("negative variance", 3, XCNN_ERR_NUMERIC);
    check_refused("running-mean output", 4, XCNN_ERR_UNSUPPORTED);
    check_refused("four inputs", 5, XCNN_ERR_FORMAT);
    check_refused("training_mode=1", 6, XCNN_ERR_UNSUPPORTED);
    return check_summary();
}
