/*
 * Elementwise activations: y = f(x), and backward dx += g * f'(x).
 *
 *   Relu         y = max(x, 0)                    dx = g * [x > 0]
 *   LeakyRelu    y = x > 0 ? x : alpha * x        dx = g * (x > 0 ? 1 : alpha)
 *   Clip         y = min(max(x, lo), hi)          dx = g * [lo < x < hi]
 *                (bounds given as inputs:         dlo = sum g [x < lo], dhi = sum g [x > hi])
 *   Sigmoid      y = 1 / (1 + exp(-x))            dx = g * y * (1 - y)
 *   HardSigmoid  y = max(0, min(1, a * x + b))    dx = g * a * [0 < a * x + b < 1]
 *   HardSwish    y = x * relu6(x + 3) / 6         dx = g * (x < -3 ? 0 : x > 3 ? 1 : x / 3 + 1/2)
 *   Identity, Dropout (inference)   y = x         dx = g
 *
 * At the kinks we take PyTorch's side (Clip and HardSigmoid pass the
 * gradient strictly inside the range, as hardtanh and ReLU6 do), so that
 * gradients match torch.autograd bit for bit in sign and support.
 *
 * Only Relu changes under the explainers' rules (Springenberg et al. 2015):
 *   deconvnet  dx = max(g, 0)            (the sign of x is ignored)
 *   guided     dx = max(g, 0) * [x > 0]
 */
#include <math.h>
#include <stdlib.h>
#include "ops.h"

typedef enum act_kind {
    ACT_RELU, ACT_LEAKYRELU, ACT_CLIP, ACT_SIGMOID, ACT_HARDSIGMOID, ACT_HARDSWISH,
    ACT_IDENTITY
} act_kind;

/* What forward/backward need, from setup. p, q: alpha/beta or lo/hi. */
typedef struct act_params {
    act_kind kind;
    float p, q;
} act_params;

/* Below this many elements a parallel loop costs more than it saves. */
#define ACT_PARALLEL_MIN XCNN_PARALLEL_MIN

static float act_forward_one(const act_params *a, float x)
{
    switch (a->kind) {
    case ACT_RELU: return x > 0 ? x : 0.0f;
    case ACT_LEAKYRELU: return x > 0 ? x : a->p * x;
    case ACT_CLIP: {
        float y = x < a->p ? a->p : x;
        return y > a->q ? a->q : y;  /* lo > hi gives hi everywhere, as torch */
    }
    case ACT_SIGMOID:
        /* Two forms so that exp never overflows. */
        if (x >= 0) return 1.0f / (1.0f + expf(-x));
        else {
            float e = expf(x);
            return e / (1.0f + e);
        }
    case ACT_HARDSIGMOID: {
        float v = a->p * x + a->q;
        return v < 0 ? 0.0f : (v > 1 ? 1.0f : v);
    }
    case ACT_HARDSWISH: {
        float r6 = x + 3.0f;
        r6 = r6 < 0 ? 0.0f : (r6 > 6 ? 6.0f : r6);
        return x * r6 / 6.0f;  /* the same order of operations as torch */
    }
    case ACT_IDENTITY: return x;
    }
    return x;
}

/* df/dx * g at input x (output y), with the Relu rule applied. */
static float act_backward_one(const act_params *a, float x, float y, float g,
                              xcnn_relu_rule rule)
{
    switch (a->kind) {
    case ACT_RELU:
        if (rule == XCNN_RELU_DECONVNET) return g > 0 ? g : 0.0f;
        if (rule == XCNN_RELU_GUIDED) return (g > 0 && x > 0) ? g : 0.0f;
        return x > 0 ? g : 0.0f;
    case ACT_LEAKYRELU: return x > 0 ? g : a->p * g;
    case ACT_CLIP: return (x > a->p && x < a->q) ? g : 0.0f;
    case ACT_SIGMOID: return g * y * (1.0f - y);
    case ACT_HARDSIGMOID: {
        float v = a->p * x + a->q;
        return (v > 0 && v < 1) ? g * a->p : 0.0f;
    }
    case ACT_HARDSWISH:
        if (x < -3.0f) return 0.0f;
        if (x <= 3.0f) return g * (x / 3.0f + 0.5f);
        return g;
    case ACT_IDENTITY: return g;
    }
    return g;
}

/* The parameters for this pass. Clip bounds given as inputs are read from
 * their tensors each time, so that they are live weights (gradient checks
 * move them). */
static act_params current_params(xcnn_graph *g, const xcnn_node *n)
{
    act_params a = *(const act_params *)n->params;
    if (a.kind == ACT_CLIP) {
        const xcnn_tensor *lo = xcnn_in(g, n, 1), *hi = xcnn_in(g, n, 2);
        if (lo) a.p = lo->data[0];
        if (hi) a.q = hi->data[0];
    }
    return a;
}

static void act_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const act_params params = current_params(g, n), *a = &params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    xcnn_tensor *y = xcnn_out(g, n, 0);
    int64_t count = (int64_t)(xcnn_tensor_sample_numel(x) * (size_t)batch);
#pragma omp parallel for schedule(static) if (count > ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < count; i++) y->data[i] = act_forward_one(a, x->data[i]);
}

/* Clip's bounds, when given as constant inputs, get gradients too (as
 * torch.clamp with tensor bounds): dlo = sum g where x < lo (if lo < hi),
 * dhi = sum g where x > hi (or everywhere if hi < lo). Serial sums: the
 * same bits for any thread count. */
static void clip_bound_grads(xcnn_graph *g, const xcnn_node *n, int batch,
                             const act_params *a)
{
    float *dlo = xcnn_tensor_grad(xcnn_in(g, n, 1));
    float *dhi = xcnn_tensor_grad(xcnn_in(g, n, 2));
    if (!dlo && !dhi) return;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const float *gy = xcnn_out(g, n, 0)->grad;
    size_t count = xcnn_tensor_sample_numel(x) * (size_t)batch;
    double slo = 0, shi = 0;
    for (size_t i = 0; i < count; i++) {
        if (x->data[i] < a->p && a->p < a->q) slo += gy[i];
        if (x->data[i] > a->q || a->q < a->p) shi += gy[i];
    }
    if (dlo) dlo[0] += (float)slo;
    if (dhi) dhi[0] += (float)shi;
}

static void act_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    const act_params params = current_params(g, n), *a = &params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const xcnn_tensor *y = xcnn_out(g, n, 0);
    if (a->kind == ACT_CLIP && n->n_in > 1) clip_bound_grads(g, n, batch, a);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    xcnn_relu_rule rule = ctx ? ctx->relu_rule : XCNN_RELU_GRADIENT;
    int64_t count = (int64_t)(xcnn_tensor_sample_numel(x) * (size_t)batch);
#pragma omp parallel for schedule(static) if (count > ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < count; i++)
        dx[i] += act_backward_one(a, x->data[i], y->data[i], y->grad[i], rule);
}

/* ---- setup ---- */

/* Checks shared by every activation: one float activation in (extra inputs
 * are the caller's to check), one output of the same shape. */
static xcnn_status act_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err, act_kind kind,
                             float p, float q, double flops_per_elem)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): missing input", n->name,
                         n->op_type);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input '%s' must be a float activation, not a "
                         "constant", n->name, n->op_type, x->name);
    if (n->n_out < 1 || n->out[0] < 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): missing output", n->name,
                         n->op_type);
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, x->dims, err);
    if (st) return st;
    act_params *a = malloc(sizeof *a);
    if (!a)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    a->kind = kind;
    a->p = p;
    a->q = q;
    free(n->params);
    n->params = a;
    n->n_params = 0;
    n->flops = flops_per_elem * (double)xcnn_tensor_numel(x);
    n->scratch_floats = 0;
    return XCNN_OK;
}

/* Refuses inputs past the first `max_in` and outputs past the first. */
static xcnn_status check_counts(const xcnn_node *n, int max_in, xcnn_err *err)
{
    for (int i = max_in; i < n->n_in; i++)
        if (n->in[i] >= 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (%s): takes at most %d input(s), got %d", n->name,
                             n->op_type, max_in, n->n_in);
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (%s): only one output is supported", n->name,
                             n->op_type);
    return XCNN_OK;
}

static xcnn_status relu_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    return st ? st : act_setup(g, n, err, ACT_RELU, 0, 0, 1);
}

static xcnn_status leakyrelu_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    float alpha = xcnn_attr_float(n, "alpha", 0.01f);
    return st ? st : act_setup(g, n, err, ACT_LEAKYRELU, alpha, 0, 2);
}

/* A Clip bound given as input k (opset >= 11): absent means no bound. */
static xcnn_status clip_bound(xcnn_graph *g, const xcnn_node *n, int k, const char *what,
                              float *v, xcnn_err *err)
{
    const xcnn_tensor *t = xcnn_in(g, n, k);
    if (!t) return XCNN_OK;
    if (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data ||
        xcnn_tensor_numel(t) != 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (Clip): %s '%s' must be a constant float scalar",
                         n->name, what, t->name);
    *v = t->data[0];
    return XCNN_OK;
}

static xcnn_status clip_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    float lo = -INFINITY, hi = INFINITY;
    xcnn_status st;
    if (g->opset >= 1 && g->opset < 11) {
        /* Before opset 11 the bounds were attributes. */
        if ((st = check_counts(n, 1, err))) return st;
        lo = xcnn_attr_float(n, "min", lo);
        hi = xcnn_attr_float(n, "max", hi);
    } else {
        if ((st = check_counts(n, 3, err))) return st;
        if ((st = clip_bound(g, n, 1, "min", &lo, err))) return st;
        if ((st = clip_bound(g, n, 2, "max", &hi, err))) return st;
    }
    if (isnan(lo) || isnan(hi))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "node '%s' (Clip): a bound is NaN", n->name);
    return act_setup(g, n, err, ACT_CLIP, lo, hi, 2);
}

static xcnn_status sigmoid_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    return st ? st : act_setup(g, n, err, ACT_SIGMOID, 0, 0, 4);
}

static xcnn_status hardsigmoid_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    float alpha = xcnn_attr_float(n, "alpha", 0.2f);
    float beta = xcnn_attr_float(n, "beta", 0.5f);
    return st ? st : act_setup(g, n, err, ACT_HARDSIGMOID, alpha, beta, 4);
}

static xcnn_status hardswish_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    return st ? st : act_setup(g, n, err, ACT_HARDSWISH, 0, 0, 5);
}

static xcnn_status identity_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 1, err);
    return st ? st : act_setup(g, n, err, ACT_IDENTITY, 0, 0, 0);
}

/* Dropout runs as inference: the identity. Inputs: data, ratio (ignored),
 * training_mode (must be a constant false). The mask output would need a
 * random draw and is refused. */
static xcnn_status dropout_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_counts(n, 3, err);
    if (st) return st;
    const xcnn_tensor *mode = xcnn_in(g, n, 2);
    if (mode) {
        int is_false = 0;
        if (mode->kind == XCNN_T_CONST && xcnn_tensor_numel(mode) == 1) {
            if (mode->idata) is_false = mode->idata[0] == 0;
            else if (mode->data) is_false = mode->data[0] == 0;
        }
        if (!is_false)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Dropout): training_mode '%s' must be a constant "
                             "false (only inference is supported)", n->name, mode->name);
    }
    return act_setup(g, n, err, ACT_IDENTITY, 0, 0, 0);
}

const xcnn_op_def xcnn_op_relu = {"Relu", relu_setup, act_forward, act_backward};
const xcnn_op_def xcnn_op_leakyrelu = {"LeakyRelu", leakyrelu_setup, act_forward,
                                       act_backward};
const xcnn_op_def xcnn_op_clip = {"Clip", clip_setup, act_forward, act_backward};
const xcnn_op_def xcnn_op_sigmoid = {"Sigmoid", sigmoid_setup, act_forward, act_backward};
const xcnn_op_def xcnn_op_hardsigmoid = {"HardSigmoid", hardsigmoid_setup, act_forward,
                                         act_backward};
const xcnn_op_def xcnn_op_hardswish = {"HardSwish", hardswish_setup, act_forward,
                                       act_backward};
const xcnn_op_def xcnn_op_identity = {"Identity", identity_setup, act_forward, act_backward};
const xcnn_op_def xcnn_op_dropout = {"Dropout", dropout_setup, act_forward, act_backward};
