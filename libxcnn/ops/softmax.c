/*
 * Softmax along one axis, numerically stable:
 *
 *   y_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))
 *   dx_i += y_i * (g_i - sum_j g_j y_j)
 *
 * Which elements form one softmax depends on the opset:
 *   opset >= 13: the single dim `axis` (default -1);
 *   opset < 13:  "coerce to 2-D": every dim from `axis` on (default 1),
 *                flattened into one row.
 * Either way the tensor is [outer, len, inner] with the softmax over len
 * (inner = 1 for the old form). The axis must not be 0, the batch.
 * Each softmax is summed by one thread, in order: deterministic.
 * There is no fast path: these loops are the formulas as written, so they
 * are the reference too (make REFERENCE=1 runs them unchanged).
 */
#include <math.h>
#include <stdlib.h>
#include "ops.h"
#include "../base/config.h"

typedef struct softmax_params {
    int64_t len, inner;
} softmax_params;

static void softmax_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const softmax_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    float *y = xcnn_out(g, n, 0)->data;
    size_t len = (size_t)p->len, inner = (size_t)p->inner;
    size_t count = xcnn_tensor_sample_numel(x) * (size_t)batch;
    size_t groups = count / len; /* outer * inner softmaxes */
#pragma omp parallel for schedule(static) if (count > XCNN_PARALLEL_MIN)
    for (size_t s = 0; s < groups; s++) {
        size_t base = (s / inner) * len * inner + s % inner;
        const float *xs = x->data + base;
        float *ys = y + base;
        float mx = xs[0];
        for (size_t i = 1; i < len; i++)
            if (xs[i * inner] > mx) mx = xs[i * inner];
        xcnn_sum sum = XCNN_SUM_ZERO;
        for (size_t i = 0; i < len; i++) {
            ys[i * inner] = expf(xs[i * inner] - mx);
            xcnn_sum_add(&sum, ys[i * inner]);
        }
        float inv = (float)((xcnn_acc)1 / xcnn_sum_get(&sum));
        for (size_t i = 0; i < len; i++) ys[i * inner] *= inv;
    }
}

static void softmax_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                             const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const softmax_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const xcnn_tensor *yt = xcnn_out(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    size_t len = (size_t)p->len, inner = (size_t)p->inner;
    size_t count = xcnn_tensor_sample_numel(x) * (size_t)batch;
    size_t groups = count / len;
#pragma omp parallel for schedule(static) if (count > XCNN_PARALLEL_MIN)
    for (size_t s = 0; s < groups; s++) {
        size_t base = (s / inner) * len * inner + s % inner;
        const float *ys = yt->data + base, *gs = yt->grad + base;
        xcnn_sum dot = XCNN_SUM_ZERO;
        for (size_t i = 0; i < len; i++)
            xcnn_sum_add(&dot, (xcnn_acc)gs[i * inner] * ys[i * inner]);
        float d = (float)xcnn_sum_get(&dot);
        for (size_t i = 0; i < len; i++)
            dx[base + i * inner] += ys[i * inner] * (gs[i * inner] - d);
    }
}

static xcnn_status softmax_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x || n->n_in != 1 || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Softmax): expected 1 input and 1 "
                         "output", n->name);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Softmax): input '%s' must be "
                         "a float activation", n->name, x->name);
    int old = g->opset >= 1 && g->opset < 13;
    int64_t given = xcnn_attr_int(n, "axis", old ? 1 : -1);
    int64_t axis = given < 0 ? given + x->ndim : given;
    if (axis < 0 || axis >= x->ndim)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Softmax): axis %lld is out of range "
                         "for %d dims", n->name, (long long)given, x->ndim);
    if (axis == 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Softmax): axis 0 is the "
                         "batch; a softmax across samples is not supported", n->name);
    softmax_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (Softmax): out of memory", n->name);
    /* old form: len = dims[axis:] flattened; new form: len = dims[axis],
     * inner = dims[axis+1:]. */
    p->len = x->dims[axis];
    p->inner = 1;
    for (int i = (int)axis + 1; i < x->ndim; i++) {
        if (old) p->len *= x->dims[i];
        else p->inner *= x->dims[i];
    }
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    if (p->len == 0 || p->inner == 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Softmax): empty input", n->name);
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, x->dims, err);
    if (st) return st;
    n->n_params = 0;
    n->flops = 5.0 * (double)xcnn_tensor_numel(x);
    n->scratch_floats = 0;
    return XCNN_OK;
}

static const xcnn_attr_spec softmax_attrs[] = {{"axis", XCNN_ATTR_INT, 0, NULL},
                                               {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_softmax = {"Softmax", softmax_setup, softmax_forward,
                                     softmax_backward, softmax_attrs, 0};
