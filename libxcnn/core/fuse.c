/*
 * Graph rewrites for models loaded with inference_only, where no explainer
 * will ever ask for the tensors between the fused nodes:
 *
 *   Conv -> BatchNormalization   the BN is folded into the conv's weights:
 *                                with s_k = scale_k / sqrt(var_k + eps),
 *                                W'[k] = s_k W[k], b'_k = s_k (b_k - mean_k) + B_k
 *   Conv -> Relu                 the conv applies the ReLU to each output
 *                                block while it is still in cache
 *   Conv -> Clip                 the same with Clip's bounds (ReLU6, after
 *                                most of MobileNetV2's convs), when they
 *                                are fixed: attributes, or constant inputs
 *   Add -> Relu                  the Add applies the ReLU to each piece of
 *                                its output (ResNet's relu(block + skip))
 *   Conv -> Add                  the conv adds the Add's other input (the
 *                                skip) to each block of its output, then
 *                                the Add's ReLU, while the block is in
 *                                cache: ResNet's and MobileNetV2's residual
 *                                Adds no longer read and write the whole
 *                                tensor again (ONNX Runtime's Conv + Sum)
 *   Conv -> MaxPool              the stem conv (few input channels) pools
 *                                its rows while they are in cache: its
 *                                output (ResNet's: 64 x 112 x 112, 3.2 MB)
 *                                is never written and read back. Not where
 *                                the reference runs (make REFERENCE=1):
 *                                the pooled stem has no reference form
 *
 * A pair is fused only when the conv's output feeds nothing else and is not
 * the model output, and (for BN) when the conv's weights are its own. The
 * tensor between the two nodes then disappears (it gets no arena slice).
 * Models loaded for explanations are never rewritten: every layer stays
 * readable, with its gradient.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "../base/format.h"
#include "../ops/ops.h"

/* How many running nodes read tensor t (the model output counts as one). */
static int uses(const xcnn_graph *g, int t, int *only)
{
    return (t == g->output) + xcnn_graph_readers(g, t, only);
}

static int is_const_vector(const xcnn_graph *g, int t, int64_t len)
{
    if (t < 0) return 0;
    const xcnn_tensor *v = &g->tensors[t];
    return v->kind == XCNN_T_CONST && v->dtype == XCNN_DT_FLOAT && v->data &&
           (int64_t)xcnn_tensor_numel(v) == len;
}

/* Node `into` now writes what node `gone` wrote; `gone` no longer runs. */
static void bypass(xcnn_graph *g, int into, int gone)
{
    xcnn_node *a = &g->nodes[into], *b = &g->nodes[gone];
    int middle = a->out[0];
    a->out[0] = b->out[0];
    g->tensors[a->out[0]].producer = into;
    b->folded = 1;
    g->tensors[middle].ndim = -1; /* no longer computed: no arena slice */
}

static xcnn_status fold_batchnorm(xcnn_graph *g, int ci, int bi, xcnn_err *err)
{
    xcnn_node *conv = &g->nodes[ci];
    const xcnn_node *bn = &g->nodes[bi];
    int w = conv->in[1], b = conv->n_in > 2 ? conv->in[2] : -1, dummy;
    int64_t m = g->tensors[w].dims[0];
    if (bn->n_in < 5 || bn->in[0] != conv->out[0] || g->tensors[w].kind != XCNN_T_CONST ||
        uses(g, w, &dummy) != 1 || (b >= 0 && uses(g, b, &dummy) != 1))
        return XCNN_OK;
    for (int k = 1; k < 5; k++)
        if (!is_const_vector(g, bn->in[k], m)) return XCNN_OK;
    if (b >= 0 && !is_const_vector(g, b, m)) return XCNN_OK;
    if (b < 0) {
        /* The conv had no bias: give it one (adding a tensor may move the
         * tensor array, so indices only from here on). */
        char name[600];
        xcnn_format(name, sizeof name, "%s:fused_bias", conv->name);
        b = xcnn_graph_add_tensor(g, name, XCNN_T_CONST);
        int *in = b >= 0 ? xcnn_mem_realloc(g->mem, conv->in, (size_t)conv->n_in * sizeof(int),
                                            3 * sizeof(int))
                         : NULL;
        float *zero = in ? xcnn_graph_calloc(g, (size_t)m, sizeof(float)) : NULL;
        if (b < 0 || !in || !zero) {
            if (in) conv->in = in;
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory fusing '%s'", conv->name);
        }
        conv->in = in;
        conv->in[2] = b;
        conv->n_in = 3;
        xcnn_tensor_set_shape(&g->tensors[b], 1, &m, NULL);
        g->tensors[b].data = zero;
        conv->n_params += m;
    }
    /* weights used in place from the caller's bytes are copied first:
     * the library never writes those (they may be in flash) */
    float *W = xcnn_tensor_writable(g, &g->tensors[w]);
    float *bias = W ? xcnn_tensor_writable(g, &g->tensors[b]) : NULL;
    if (!W || !bias) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory fusing '%s'", conv->name);
    const float *scale = g->tensors[bn->in[1]].data, *shift = g->tensors[bn->in[2]].data;
    const float *mean = g->tensors[bn->in[3]].data, *var = g->tensors[bn->in[4]].data;
    double eps = xcnn_attr_float(bn, "epsilon", 1e-5f);
    size_t per = xcnn_tensor_numel(&g->tensors[w]) / (size_t)m;
    for (int64_t k = 0; k < m; k++) {
        double s = scale[k] / sqrt((double)var[k] + eps);
        for (size_t i = 0; i < per; i++) W[k * per + i] = (float)(W[k * per + i] * s);
        bias[k] = (float)(((double)bias[k] - mean[k]) * s + shift[k]);
    }
    bypass(g, ci, bi);
    return XCNN_OK;
}

/* A Clip's bounds, when both are fixed: attributes before opset 11 (as
 * ops/activation.c reads them), after it constant scalar inputs or none.
 * 0 when a bound is computed. */
static int clip_bounds(const xcnn_graph *g, const xcnn_node *n, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (g->opset >= 1 && g->opset < 11) {
        *lo = xcnn_attr_float(n, "min", *lo);
        *hi = xcnn_attr_float(n, "max", *hi);
        return 1;
    }
    for (int k = 1; k <= 2; k++) {
        int t = k < n->n_in ? n->in[k] : -1;
        if (t < 0) continue;
        if (!is_const_vector(g, t, 1)) return 0;
        *(k == 1 ? lo : hi) = g->tensors[t].data[0];
    }
    return 1;
}

/* Conv i, whose output only Add a reads, takes a in (fused_add): the
 * Add's other input becomes the conv's in[3]. Only where that input has
 * the output's shape (no broadcast), is computed before the conv (nodes
 * are in topological order) and the conv's paths all add a residual. Of
 * a block's two convs into one Add (ResNet's downsample), the later one
 * takes it. */
static xcnn_status fuse_residual(xcnn_graph *g, int i, int a, xcnn_err *err)
{
    xcnn_node *conv = &g->nodes[i];
    const xcnn_node *add = &g->nodes[a];
    int y = conv->out[0];
    int had = conv->n_in; /* 2 or 3: X, W[, B] */
    if (add->n_in != 2 || add->n_out != 1 || had < 2 || had > 3 || conv->fused_relu ||
        conv->fused_clip || (add->in[0] == y) == (add->in[1] == y))
        return XCNN_OK;
    int skip = add->in[0] == y ? add->in[1] : add->in[0];
    const xcnn_tensor *ts = skip >= 0 ? &g->tensors[skip] : NULL, *ty = &g->tensors[y];
    if (!ts || ts->dtype != XCNN_DT_FLOAT || ty->dtype != XCNN_DT_FLOAT ||
        !(ts->kind == XCNN_T_ACTIVATION || skip == g->input) || ts->producer >= i ||
        ts->ndim != ty->ndim || memcmp(ts->dims, ty->dims, (size_t)ty->ndim * sizeof ty->dims[0]) ||
        !xcnn_conv_takes_residual(conv))
        return XCNN_OK;
    int *in = xcnn_mem_realloc(g->mem, conv->in, (size_t)had * sizeof(int), 4 * sizeof(int));
    if (!in) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory fusing '%s'", conv->name);
    conv->in = in;
    if (had == 2) conv->in[2] = -1; /* no bias */
    conv->in[3] = skip;
    conv->n_in = 4;
    conv->fused_add = 1;
    conv->fused_relu = add->fused_relu;
    bypass(g, i, a);
    return XCNN_OK;
}

xcnn_status xcnn_fuse(xcnn_graph *g, xcnn_err *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        int next = -1;
        if (!g->nodes[i].folded && strcmp(g->nodes[i].op_type, "Add") == 0 &&
            g->nodes[i].n_out == 1 && uses(g, g->nodes[i].out[0], &next) == 1 && next >= 0 &&
            strcmp(g->nodes[next].op_type, "Relu") == 0 &&
            g->nodes[next].in[0] == g->nodes[i].out[0]) {
            g->nodes[i].fused_relu = 1;
            bypass(g, i, next);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].folded || strcmp(g->nodes[i].op_type, "Conv") != 0) continue;
        int next = -1;
        if (uses(g, g->nodes[i].out[0], &next) == 1 && next >= 0 &&
            strcmp(g->nodes[next].op_type, "BatchNormalization") == 0) {
            xcnn_status st = fold_batchnorm(g, i, next, err);
            if (st) return st;
        }
        next = -1;
        if (uses(g, g->nodes[i].out[0], &next) == 1 && next >= 0 &&
            strcmp(g->nodes[next].op_type, "Relu") == 0) {
            g->nodes[i].fused_relu = 1;
            bypass(g, i, next);
        } else if (next >= 0 && strcmp(g->nodes[next].op_type, "Clip") == 0 &&
                   g->nodes[next].in[0] == g->nodes[i].out[0] &&
                   clip_bounds(g, &g->nodes[next], &g->nodes[i].clip_lo,
                               &g->nodes[i].clip_hi)) {
            g->nodes[i].fused_clip = 1;
            bypass(g, i, next);
        } else if (next >= 0 && strcmp(g->nodes[next].op_type, "Add") == 0 &&
                   !g->nodes[next].folded) {
            xcnn_status st = fuse_residual(g, i, next, err);
            if (st) return st;
        }
    }
    /* after the conv's activation is in it, which comes before the pool */
    for (int i = 0; i < g->n_nodes && !g->reference; i++) {
        xcnn_node *conv = &g->nodes[i];
        int next = -1;
        if (conv->folded || strcmp(conv->op_type, "Conv") != 0 ||
            uses(g, conv->out[0], &next) != 1 || next < 0)
            continue;
        const xcnn_node *pool = &g->nodes[next];
        if (!pool->folded && strcmp(pool->op_type, "MaxPool") == 0 && pool->n_in == 1 &&
            pool->in[0] == conv->out[0] && (pool->n_out == 1 || pool->out[1] < 0) &&
            xcnn_conv_takes_pool(conv, pool)) {
            conv->fused_pool = 1;
            bypass(g, i, next);
        }
    }
    return XCNN_OK;
}
