/*
 * Elementwise functions that transformers and ConvNeXt bring (GELU and
 * the pieces of LayerNormalization's opset-13 decomposition): y = f(x)
 * and dx += g * f'(x).
 *
 *   Erf    y = erf(x)                    dx = g * 2/sqrt(pi) * exp(-x^2)
 *   Sqrt   y = sqrt(x)                   dx = g / (2 y)
 *   Pow    y = x^p, p a constant scalar  dx = g * (p * x^(p-1))      (0 where p = 0)
 *                                        dp = sum g * y * ln(x)      (0 where x = 0, p >= 0)
 *   Gelu   y = x/2 (1 + erf(x / sqrt 2))               (approximate="none")
 *          y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   ("tanh")
 *          dx = g * (Phi(x) + x phi(x)), or the tanh form's derivative
 *
 * These are torch's formulas (torch/csrc/autograd/FunctionsManual.cpp,
 * the GELU kernels of aten/src/ATen/native/cpu): Pow with p = 2 is x * x
 * and with p = 0.5 is sqrt(x), as torch.pow picks them, so that the
 * LayerNorm decomposition's variance has torch's bits. Gelu is ONNX's op
 * (opset 20); torch.onnx at opsets 13 to 17 writes GELU as Div, Erf,
 * Add, Mul, Mul, which runs here node by node.
 *
 * Pow's exponent must be a constant with one element (what exporters
 * write for x.pow(2) and x ** 0.5): the base is the activation, and the
 * explainers' Rescale rule then sees a function of one variable. The
 * exponent is read from its tensor at every pass, so that it is a live
 * weight (a gradient check moves it).
 *
 * One formula per element (ew_fwd / ew_bwd); the loops call it over
 * parallel chunks, so every element's bits are the reference's whatever
 * the thread count; g->reference runs the same formulas serially.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ops.h"
#include "../base/config.h"

typedef enum ew_kind { EW_ERF, EW_SQRT, EW_POW, EW_GELU, EW_GELU_TANH } ew_kind;

typedef struct ew_params {
    ew_kind kind;
} ew_params;

#define EW_CHUNK 4096
#define EW_SQRT1_2 0.70710678118654752440f
#define EW_2_SQRTPI 1.12837916709551257390f /* 2 / sqrt(pi) */
#define EW_SQRT_2_PI 0.79788456080286535588f /* sqrt(2 / pi) */
#define EW_GELU_C 0.044715f

static inline float pow_fwd(float x, float p)
{
    if (p == 2.0f) return x * x;
    if (p == 1.0f) return x;
    if (p == 0.5f) return sqrtf(x);
    return powf(x, p);
}

static inline float ew_fwd(ew_kind k, float x, float p)
{
    switch (k) {
    case EW_ERF: return erff(x);
    case EW_SQRT: return sqrtf(x);
    case EW_POW: return pow_fwd(x, p);
    case EW_GELU: return x * 0.5f * (1.0f + erff(x * EW_SQRT1_2));
    case EW_GELU_TANH: {
        float inner = EW_SQRT_2_PI * (x + EW_GELU_C * x * x * x);
        return 0.5f * x * (1.0f + tanhf(inner));
    }
    }
    return x;
}

/* g * f'(x), given the output y = f(x) (Sqrt reads it, as torch does). */
static inline float ew_bwd(ew_kind k, float x, float y, float g, float p)
{
    switch (k) {
    case EW_ERF: return EW_2_SQRTPI * expf(-(x * x)) * g;
    case EW_SQRT: return g / (2.0f * y);
    case EW_POW:
        if (p == 0.0f) return 0.0f;
        if (p == 2.0f) return (2.0f * x) * g;
        return (p * pow_fwd(x, p - 1.0f)) * g;
    case EW_GELU: {
        /* d/dx x Phi(x) = Phi(x) + x phi(x) */
        float cdf = 0.5f * (1.0f + erff(x * EW_SQRT1_2));
        float pdf = expf(-0.5f * x * x) * (EW_2_SQRTPI * EW_SQRT1_2 * 0.5f);
        return g * (cdf + x * pdf);
    }
    case EW_GELU_TANH: {
        float x2 = x * x;
        float inner = EW_SQRT_2_PI * (x + EW_GELU_C * x2 * x);
        float t = tanhf(inner);
        float dinner = EW_SQRT_2_PI * (1.0f + 3.0f * EW_GELU_C * x2);
        return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner);
    }
    }
    return g;
}

/* Pow's exponent, read at each pass (a live weight); 0 for the others. */
static float ew_exponent(xcnn_graph *g, const xcnn_node *n, ew_kind k)
{
    return k == EW_POW ? xcnn_in(g, n, 1)->data[0] : 0.0f;
}

static void ew_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    ew_kind k = ((const ew_params *)n->params)->kind;
    float p = ew_exponent(g, n, k);
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t count = xcnn_tensor_sample_numel(xcnn_in(g, n, 0)) * (size_t)batch;
    if (g->reference) {
        for (size_t i = 0; i < count; i++) y[i] = ew_fwd(k, x[i], p);
        return;
    }
    long chunks = (long)((count + EW_CHUNK - 1) / EW_CHUNK);
#pragma omp parallel for schedule(static) if (count > XCNN_PARALLEL_MIN)
    for (long c = 0; c < chunks; c++) {
        size_t at = (size_t)c * EW_CHUNK, end = at + EW_CHUNK < count ? at + EW_CHUNK : count;
        for (size_t i = at; i < end; i++) y[i] = ew_fwd(k, x[i], p);
    }
}

/* dp = sum of g * y * ln(x), serially (the same bits for any thread
 * count); torch masks the terms where x = 0 and p >= 0 (0 * -inf). */
static void pow_exponent_grad(xcnn_graph *g, const xcnn_node *n, int batch, float p)
{
    float *dp = xcnn_tensor_grad(xcnn_in(g, n, 1));
    if (!dp) return;
    const xcnn_tensor *x = xcnn_in(g, n, 0), *y = xcnn_out(g, n, 0);
    size_t count = xcnn_tensor_sample_numel(x) * (size_t)batch;
    xcnn_sum s = XCNN_SUM_ZERO;
    for (size_t i = 0; i < count; i++)
        if (!(x->data[i] == 0.0f && p >= 0.0f))
            xcnn_sum_add(&s, (xcnn_acc)y->grad[i] * y->data[i] * logf(x->data[i]));
    dp[0] += (float)xcnn_sum_get(&s);
}

static void ew_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx; /* the ReLU rules touch Relu only (ops/activation.c) */
    ew_kind k = ((const ew_params *)n->params)->kind;
    float p = ew_exponent(g, n, k);
    if (k == EW_POW) pow_exponent_grad(g, n, batch, p);
    const xcnn_tensor *tx = xcnn_in(g, n, 0), *ty = xcnn_out(g, n, 0);
    float *dx = xcnn_tensor_grad(tx);
    if (!dx) return;
    const float *x = tx->data, *y = ty->data, *gy = ty->grad;
    size_t count = xcnn_tensor_sample_numel(tx) * (size_t)batch;
    if (g->reference) {
        for (size_t i = 0; i < count; i++) dx[i] += ew_bwd(k, x[i], y[i], gy[i], p);
        return;
    }
    long chunks = (long)((count + EW_CHUNK - 1) / EW_CHUNK);
#pragma omp parallel for schedule(static) if (count > XCNN_PARALLEL_MIN)
    for (long c = 0; c < chunks; c++) {
        size_t at = (size_t)c * EW_CHUNK, end = at + EW_CHUNK < count ? at + EW_CHUNK : count;
        for (size_t i = at; i < end; i++) dx[i] += ew_bwd(k, x[i], y[i], gy[i], p);
    }
}

/* ---- setup ---- */

static xcnn_status ew_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err, ew_kind kind,
                            double flops_per_elem)
{
    int want_in = kind == EW_POW ? 2 : 1;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (n->n_in != want_in || !x || n->n_out != 1 || n->out[0] < 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "node '%s' (%s): expected %d input(s) and 1 output, got %d and %d",
                         n->name, n->op_type, want_in, n->n_in, n->n_out);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input '%s' must be a float activation, not a "
                         "constant", n->name, n->op_type, x->name);
    if (kind == EW_POW) {
        const xcnn_tensor *e = xcnn_in(g, n, 1);
        if (!e || e->kind != XCNN_T_CONST || e->dtype != XCNN_DT_FLOAT || !e->data ||
            xcnn_tensor_numel(e) != 1)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Pow): exponent '%s' must be a constant float with "
                             "one element (x^p with p per element or computed is not "
                             "supported)", n->name, e ? e->name : "?");
        if (!isfinite(e->data[0]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "node '%s' (Pow): exponent is %g",
                             n->name, (double)e->data[0]);
    }
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, x->dims, err);
    if (st) return st;
    ew_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    p->kind = kind;
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    n->n_params = kind == EW_POW ? 1 : 0;
    n->flops = flops_per_elem * (double)xcnn_tensor_numel(x);
    n->scratch_floats = 0;
    return XCNN_OK;
}

static xcnn_status erf_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return ew_setup(g, n, err, EW_ERF, 8);
}
static xcnn_status sqrt_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return ew_setup(g, n, err, EW_SQRT, 1);
}
static xcnn_status pow_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return ew_setup(g, n, err, EW_POW, 1);
}

static xcnn_status gelu_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const char *approx = xcnn_attr_string(n, "approximate", "none");
    ew_kind kind;
    if (!strcmp(approx, "none")) kind = EW_GELU;
    else if (!strcmp(approx, "tanh")) kind = EW_GELU_TANH;
    else
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (Gelu): approximate=\"%s\" is not one of \"none\", "
                         "\"tanh\"", n->name, approx);
    return ew_setup(g, n, err, kind, 12);
}

/* f and f' in double (ops.h), for DeepLIFT's Rescale rule
 * (explain/propagation/deeplift_rules.c): the float outputs would lose
 * the slope's digits where x and the reference are close. */
int xcnn_elementwise_eval(const xcnn_graph *g, const xcnn_node *n, double x, double *y,
                          double *slope)
{
    if (n->def != &xcnn_op_erf && n->def != &xcnn_op_sqrt && n->def != &xcnn_op_pow &&
        n->def != &xcnn_op_gelu)
        return 0;
    const ew_params *ep = n->params;
    double p = ep->kind == EW_POW ? g->tensors[n->in[1]].data[0] : 0.0;
    const double sqrt1_2 = 0.70710678118654752440, two_sqrtpi = 1.12837916709551257390;
    switch (ep->kind) {
    case EW_ERF:
        *y = erf(x);
        *slope = two_sqrtpi * exp(-x * x);
        return 1;
    case EW_SQRT:
        *y = sqrt(x);
        *slope = 0.5 / *y;
        return 1;
    case EW_POW:
        *y = p == 2.0 ? x * x : pow(x, p);
        *slope = p == 0.0 ? 0.0 : p * pow(x, p - 1.0);
        return 1;
    case EW_GELU:
        *y = 0.5 * x * (1.0 + erf(x * sqrt1_2));
        *slope = 0.5 * (1.0 + erf(x * sqrt1_2)) + x * exp(-0.5 * x * x) * two_sqrtpi * sqrt1_2 * 0.5;
        return 1;
    case EW_GELU_TANH: {
        const double c = 0.79788456080286535588;
        double t = tanh(c * (x + 0.044715 * x * x * x));
        *y = 0.5 * x * (1.0 + t);
        *slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x);
        return 1;
    }
    }
    return 0;
}

/* Gelu's approximate is opset 20's only attribute; the others have none. */
static const xcnn_attr_spec gelu_attrs[] = {{"approximate", XCNN_ATTR_STRING, 0, NULL},
                                            {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_erf = {"Erf", erf_setup, ew_forward, ew_backward, NULL, 1};
const xcnn_op_def xcnn_op_sqrt = {"Sqrt", sqrt_setup, ew_forward, ew_backward, NULL, 1};
const xcnn_op_def xcnn_op_pow = {"Pow", pow_setup, ew_forward, ew_backward, NULL, 1};
const xcnn_op_def xcnn_op_gelu = {"Gelu", gelu_setup, ew_forward, ew_backward, gelu_attrs, 1};
