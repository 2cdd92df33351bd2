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
 *
 * Each formula is written once below, one element at a time; each kind
 * (and Relu rule) then gets its own loop, so that the kind is chosen once
 * per pass and the compiler can vectorise the loop. The reference is
 * act_forward_one / act_backward_one on every element in turn (what
 * g->reference, make REFERENCE=1, runs); the loops must give its bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops.h"
#include "../base/config.h"
#include "../base/cpu.h"

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

/* Elements per task of the parallel loops. */
#define ACT_CHUNK 4096

/* gcc -O2 vectorises only a loop that leaves no scalar remainder, so the
 * loops below run over a multiple of ACT_VEC elements (a multiple of
 * every vector width) and the few left go one by one. */
#define ACT_VEC 16

/* ---- the math, one element at a time ---- */

static inline float relu_fwd(float x) { return x > 0 ? x : 0.0f; } /* NaN gives 0 */

/* c ? a : b, bit for bit, without a branch. Where one side of a ?: is a
 * float product, gcc keeps a branch so as not to compute it when unused
 * (it could raise a floating-point exception), and a loop with a branch
 * is not vectorised; selecting the bits makes both sides plain values. */
static inline float pick(int c, float a, float b)
{
    uint32_t ua, ub, mask = 0u - (uint32_t)c;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & mask) | (ub & ~mask);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

static inline float leakyrelu_fwd(float x, float alpha) { return pick(x > 0, x, alpha * x); }

static inline float clip_fwd(float x, float lo, float hi)
{
    float y = x < lo ? lo : x;
    return y > hi ? hi : y; /* lo > hi gives hi everywhere, as torch */
}

static inline float sigmoid_fwd(float x)
{
    /* Two forms so that exp never overflows. */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline float hardsigmoid_fwd(float x, float alpha, float beta)
{
    float v = alpha * x + beta;
    return v < 0 ? 0.0f : (v > 1 ? 1.0f : v);
}

static inline float hardswish_fwd(float x)
{
    float r6 = x + 3.0f;
    r6 = r6 < 0 ? 0.0f : (r6 > 6 ? 6.0f : r6);
    return x * r6 / 6.0f; /* the same order of operations as torch */
}

/* Gradient terms g * df/dx at input x (output y). The conditions use &
 * rather than && so that the compiler sees no branch. */
static inline float relu_bwd(float x, float g) { return x > 0 ? g : 0.0f; }
static inline float relu_deconvnet_bwd(float g) { return g > 0 ? g : 0.0f; }
static inline float relu_guided_bwd(float x, float g) { return ((g > 0) & (x > 0)) ? g : 0.0f; }
static inline float leakyrelu_bwd(float x, float g, float alpha)
{
    return pick(x > 0, g, alpha * g);
}

static inline float clip_bwd(float x, float g, float lo, float hi)
{
    return ((x > lo) & (x < hi)) ? g : 0.0f;
}

static inline float sigmoid_bwd(float y, float g) { return g * y * (1.0f - y); }

static inline float hardsigmoid_bwd(float x, float g, float alpha, float beta)
{
    float v = alpha * x + beta;
    return pick((v > 0) & (v < 1), g * alpha, 0.0f);
}

static inline float hardswish_bwd(float x, float g)
{
    return pick(x < -3.0f, 0.0f, pick(x <= 3.0f, g * (x / 3.0f + 0.5f), g));
}

static float act_forward_one(const act_params *a, float x)
{
    switch (a->kind) {
    case ACT_RELU: return relu_fwd(x);
    case ACT_LEAKYRELU: return leakyrelu_fwd(x, a->p);
    case ACT_CLIP: return clip_fwd(x, a->p, a->q);
    case ACT_SIGMOID: return sigmoid_fwd(x);
    case ACT_HARDSIGMOID: return hardsigmoid_fwd(x, a->p, a->q);
    case ACT_HARDSWISH: return hardswish_fwd(x);
    case ACT_IDENTITY: return x;
    }
    return x;
}

static float act_backward_one(const act_params *a, float x, float y, float g,
                              xcnn_relu_rule rule)
{
    switch (a->kind) {
    case ACT_RELU:
        if (rule == XCNN_RELU_DECONVNET) return relu_deconvnet_bwd(g);
        if (rule == XCNN_RELU_GUIDED) return relu_guided_bwd(x, g);
        return relu_bwd(x, g);
    case ACT_LEAKYRELU: return leakyrelu_bwd(x, g, a->p);
    case ACT_CLIP: return clip_bwd(x, g, a->p, a->q);
    case ACT_SIGMOID: return sigmoid_bwd(y, g);
    case ACT_HARDSIGMOID: return hardsigmoid_bwd(x, g, a->p, a->q);
    case ACT_HARDSWISH: return hardswish_bwd(x, g);
    case ACT_IDENTITY: return g;
    }
    return g;
}

/* ---- loops over a span: the kind is switched on once, not per element,
 * so that each loop body is branch free and vectorises ---- */

/* x and y may be the same array (in_place: no restrict on them). Cloned
 * for AVX2 and AVX-512 (base/cpu.h: the same C, so the same bits): the
 * baseline's 4-float vectors left a ReLU over a cached plane at a quarter
 * of what the core can do. */
XCNN_VECTOR_CLONES
static void forward_span(const act_params *a, const float *x, float *y, int64_t n)
{
    const int64_t body = n & ~(int64_t)(ACT_VEC - 1);
    const float p = a->p, q = a->q;
    switch (a->kind) {
    case ACT_RELU:
        for (int64_t i = 0; i < body; i++) y[i] = relu_fwd(x[i]);
        break;
    case ACT_LEAKYRELU:
        for (int64_t i = 0; i < body; i++) y[i] = leakyrelu_fwd(x[i], p);
        break;
    case ACT_CLIP:
        for (int64_t i = 0; i < body; i++) y[i] = clip_fwd(x[i], p, q);
        break;
    case ACT_SIGMOID:
        for (int64_t i = 0; i < body; i++) y[i] = sigmoid_fwd(x[i]);
        break;
    case ACT_HARDSIGMOID:
        for (int64_t i = 0; i < body; i++) y[i] = hardsigmoid_fwd(x[i], p, q);
        break;
    case ACT_HARDSWISH:
        for (int64_t i = 0; i < body; i++) y[i] = hardswish_fwd(x[i]);
        break;
    case ACT_IDENTITY:
        for (int64_t i = 0; i < body; i++) y[i] = x[i];
        break;
    }
    for (int64_t i = body; i < n; i++) y[i] = act_forward_one(a, x[i]);
}

/* dx += the gradient term. Cloned as forward_span. */
XCNN_VECTOR_CLONES
static void backward_span(const act_params *a, xcnn_relu_rule rule, const float *restrict x,
                          const float *restrict y, const float *restrict gy,
                          float *restrict dx, int64_t n)
{
    const int64_t body = n & ~(int64_t)(ACT_VEC - 1);
    const float p = a->p, q = a->q;
    switch (a->kind) {
    case ACT_RELU:
        if (rule == XCNN_RELU_DECONVNET) {
            for (int64_t i = 0; i < body; i++) dx[i] += relu_deconvnet_bwd(gy[i]);
        } else if (rule == XCNN_RELU_GUIDED) {
            for (int64_t i = 0; i < body; i++) dx[i] += relu_guided_bwd(x[i], gy[i]);
        } else {
            for (int64_t i = 0; i < body; i++) dx[i] += relu_bwd(x[i], gy[i]);
        }
        break;
    case ACT_LEAKYRELU:
        for (int64_t i = 0; i < body; i++) dx[i] += leakyrelu_bwd(x[i], gy[i], p);
        break;
    case ACT_CLIP:
        for (int64_t i = 0; i < body; i++) dx[i] += clip_bwd(x[i], gy[i], p, q);
        break;
    case ACT_SIGMOID:
        for (int64_t i = 0; i < body; i++) dx[i] += sigmoid_bwd(y[i], gy[i]);
        break;
    case ACT_HARDSIGMOID:
        for (int64_t i = 0; i < body; i++) dx[i] += hardsigmoid_bwd(x[i], gy[i], p, q);
        break;
    case ACT_HARDSWISH:
        for (int64_t i = 0; i < body; i++) dx[i] += hardswish_bwd(x[i], gy[i]);
        break;
    case ACT_IDENTITY:
        for (int64_t i = 0; i < body; i++) dx[i] += gy[i];
        break;
    }
    for (int64_t i = body; i < n; i++) dx[i] += act_backward_one(a, x[i], y[i], gy[i], rule);
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
    const act_params a = current_params(g, n);
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    int64_t count = (int64_t)(xcnn_tensor_sample_numel(xcnn_in(g, n, 0)) * (size_t)batch);
    if (g->reference) {
        for (int64_t i = 0; i < count; i++) y[i] = act_forward_one(&a, x[i]);
        return;
    }
    if (!xcnn_fork_worth(count > ACT_PARALLEL_MIN)) {
        forward_span(&a, x, y, count);
        return;
    }
    int64_t chunks = (count + ACT_CHUNK - 1) / ACT_CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t start = c * ACT_CHUNK;
        int64_t len = count - start < ACT_CHUNK ? count - start : ACT_CHUNK;
        forward_span(&a, x + start, y + start, len);
    }
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
    xcnn_sum slo = XCNN_SUM_ZERO, shi = XCNN_SUM_ZERO;
    for (size_t i = 0; i < count; i++) {
        if (x->data[i] < a->p && a->p < a->q) xcnn_sum_add(&slo, gy[i]);
        if (x->data[i] > a->q || a->q < a->p) xcnn_sum_add(&shi, gy[i]);
    }
    if (dlo) dlo[0] += (float)xcnn_sum_get(&slo);
    if (dhi) dhi[0] += (float)xcnn_sum_get(&shi);
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
    if (g->reference) {
        for (int64_t i = 0; i < count; i++)
            dx[i] += act_backward_one(a, x->data[i], y->data[i], y->grad[i], rule);
        return;
    }
    if (!xcnn_fork_worth(count > ACT_PARALLEL_MIN)) {
        backward_span(a, rule, x->data, y->data, y->grad, dx, count);
        return;
    }
    int64_t chunks = (count + ACT_CHUNK - 1) / ACT_CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t start = c * ACT_CHUNK;
        int64_t len = count - start < ACT_CHUNK ? count - start : ACT_CHUNK;
        backward_span(a, rule, x->data + start, y->data + start, y->grad + start, dx + start,
                      len);
    }
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
    act_params *a = xcnn_node_calloc(n, 1, sizeof *a);
    if (!a)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    a->kind = kind;
    a->p = p;
    a->q = q;
    xcnn_node_free_mem(n, n->params);
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

/* The attributes of each op in ONNX (opsets 7 to 18; see xcnn_attr_spec).
 * Relu, Sigmoid, HardSwish and Identity have none. */
static const xcnn_attr_spec leakyrelu_attrs[] = {{"alpha", XCNN_ATTR_FLOAT, 0, NULL},
                                                 {NULL, 0, 0, NULL}};
/* From opset 11 the bounds are inputs 1 and 2. */
static const xcnn_attr_spec clip_attrs[] = {{"max", XCNN_ATTR_FLOAT, 10, NULL},
                                            {"min", XCNN_ATTR_FLOAT, 10, NULL},
                                            {NULL, 0, 0, NULL}};
static const xcnn_attr_spec hardsigmoid_attrs[] = {{"alpha", XCNN_ATTR_FLOAT, 0, NULL},
                                                   {"beta", XCNN_ATTR_FLOAT, 0, NULL},
                                                   {NULL, 0, 0, NULL}};
/* ratio (to opset 11; an input after) and seed (from 12) shape the random
 * mask of training, which inference never draws. */
static const xcnn_attr_spec dropout_attrs[] = {
    {"ratio", XCNN_ATTR_FLOAT, 11, "Dropout is the identity at inference"},
    {"seed", XCNN_ATTR_INT, 0, "Dropout is the identity at inference"},
    {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_relu = {"Relu", relu_setup, act_forward, act_backward, NULL, 1};
const xcnn_op_def xcnn_op_leakyrelu = {"LeakyRelu", leakyrelu_setup, act_forward,
                                       act_backward, leakyrelu_attrs, 1};
const xcnn_op_def xcnn_op_clip = {"Clip", clip_setup, act_forward, act_backward, clip_attrs, 1};
const xcnn_op_def xcnn_op_sigmoid = {"Sigmoid", sigmoid_setup, act_forward, act_backward,
                                     NULL, 1};
const xcnn_op_def xcnn_op_hardsigmoid = {"HardSigmoid", hardsigmoid_setup, act_forward,
                                         act_backward, hardsigmoid_attrs, 1};
const xcnn_op_def xcnn_op_hardswish = {"HardSwish", hardswish_setup, act_forward,
                                       act_backward, NULL, 1};
const xcnn_op_def xcnn_op_identity = {"Identity", identity_setup, act_forward, act_backward,
                                      NULL, 1};
const xcnn_op_def xcnn_op_dropout = {"Dropout", dropout_setup, act_forward, act_backward,
                                     dropout_attrs, 1};
