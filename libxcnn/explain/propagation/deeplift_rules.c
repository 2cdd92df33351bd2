/*
 * DeepLIFT's rules (Shrikumar et al. 2017, Rescale; METHODS.md), one per
 * op, for the ordinary backward walk (rules.h). The pass runs over the
 * first n samples of a batch of 2n; sample b's reference is sample b + n,
 * so a node reads z (its input at x) and z' (at the reference) from one
 * tensor, n samples apart. What flows back is the multiplier m = dC/dz.
 *
 *   linear ops, Mul,  the op's own backward (XCNN_RULE_GRADIENT): a linear
 *   Div, LayerNorm-   op passes multipliers as it passes gradients; Mul and
 *   alization         Div of two activations, and LayerNormalization, take
 *                     their gradient at x, as Captum's autograd does (so
 *                     completeness holds on nets without Mul gates or
 *                     normalisation over features, not on those with them:
 *                     ConvNeXt's LayerNorms and its GELU's x * Phi(x), which
 *                     torch.onnx writes as a Mul of two activations).
 *   Rescale           y = g(z) elementwise (Relu, LeakyRelu, Clip, Sigmoid,
 *                     HardSigmoid, HardSwish; Erf, Sqrt, Pow with a constant
 *                     exponent and Gelu by ops/elementwise.c's f and f'):
 *                        m_in = m_out * (g(z) - g(z')) / (z - z')  if |z - z'| >= 1e-10
 *                        m_in = m_out * g'(z)                      otherwise
 *                     g is evaluated in double from z and z' (the same
 *                     formulas as ops/activation.c, its kink conventions
 *                     for g'): the float outputs would lose the slope's
 *                     digits when z and z' are close. Relu, whose slope
 *                     is 1 or 0 except where z and z' straddle 0, stays in
 *                     float.
 *   MaxPool           per window: o = max of x's window, o' of r's, M =
 *                     max(o, o'); C += g (M - o') at x's argmax and
 *                     C += g (o - M) at r's argmax (first maximum, padding
 *                     never wins), summed where windows overlap; then
 *                        m_in = C / (z - z')   if |z - z'| >= 1e-10
 *                        m_in = the max-pool gradient (sum of g where z is
 *                               x's argmax)  otherwise.
 *                     Sum over the plane of m_in (z - z') = sum of g (o - o'):
 *                     the rule keeps completeness, as Rescale does. C is
 *                     summed in double, the quotient taken in float.
 * Anything else (Softmax) has no entry: refused before any pass.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "deeplift.h"
#include "../../ops/ops.h"
#include "../../ops/window.h"

#define DL_EPS 1e-10

/* c ? a : b, bit for bit, without a branch (ops/activation.c's pick):
 * gcc keeps a branch around a select next to a float division or an
 * ordered comparison (either could raise a floating-point exception), and
 * a loop with a branch is not vectorised. */
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

/* ---- Rescale -------------------------------------------------------- */

typedef enum dl_kind {
    DL_LEAKYRELU, DL_CLIP, DL_SIGMOID, DL_HARDSIGMOID, DL_HARDSWISH
} dl_kind;

/* p, q: LeakyRelu's alpha; Clip's bounds; HardSigmoid's alpha, beta. */
typedef struct dl_act {
    dl_kind kind;
    double p, q;
} dl_act;

static double act_value(const dl_act *a, double z)
{
    switch (a->kind) {
    case DL_LEAKYRELU: return z > 0 ? z : a->p * z;
    case DL_CLIP: {
        double y = z < a->p ? a->p : z;
        return y > a->q ? a->q : y; /* lo > hi gives hi everywhere, as the op */
    }
    case DL_SIGMOID: {
        if (z >= 0) return 1.0 / (1.0 + exp(-z));
        double e = exp(z);
        return e / (1.0 + e);
    }
    case DL_HARDSIGMOID: {
        double v = a->p * z + a->q;
        return v < 0 ? 0.0 : v > 1 ? 1.0 : v;
    }
    case DL_HARDSWISH: {
        double r6 = z + 3.0;
        r6 = r6 < 0 ? 0.0 : r6 > 6 ? 6.0 : r6;
        return z * r6 / 6.0;
    }
    }
    return z;
}

/* g'(z), with ops/activation.c's (PyTorch's) side at the kinks. */
static double act_slope(const dl_act *a, double z)
{
    switch (a->kind) {
    case DL_LEAKYRELU: return z > 0 ? 1.0 : a->p;
    case DL_CLIP: return z > a->p && z < a->q ? 1.0 : 0.0;
    case DL_SIGMOID: {
        double s = act_value(a, z);
        return s * (1.0 - s);
    }
    case DL_HARDSIGMOID: {
        double v = a->p * z + a->q;
        return v > 0 && v < 1 ? a->p : 0.0;
    }
    case DL_HARDSWISH: return z < -3.0 ? 0.0 : z <= 3.0 ? z / 3.0 + 0.5 : 1.0;
    }
    return 1.0;
}

/* The input z and z' (n samples later) and the gradients of an
 * elementwise node: count = batch * sample elements. NULL dx: the input
 * collects no gradient. */
typedef struct dl_span {
    const float *z, *zr, *gy;
    float *dx;
    size_t count;
} dl_span;

static dl_span span_of(xcnn_graph *g, const xcnn_node *n, int batch, const xcnn_bwd_ctx *ctx)
{
    const xcnn_dl_state *s = ctx->state;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    size_t per = xcnn_tensor_sample_numel(x);
    dl_span sp = {x->data, x->data + per * (size_t)s->n, xcnn_out(g, n, 0)->grad,
                  xcnn_tensor_grad(x), per * (size_t)batch};
    return sp;
}

static void rescale(xcnn_graph *g, const xcnn_node *n, int batch, const xcnn_bwd_ctx *ctx,
                    dl_act a)
{
    dl_span s = span_of(g, n, batch, ctx);
    if (!s.dx) return;
#pragma omp parallel for schedule(static) if (s.count > XCNN_PARALLEL_MIN)
    for (size_t i = 0; i < s.count; i++) {
        double z = s.z[i], zr = s.zr[i], d = z - zr;
        double slope = fabs(d) >= DL_EPS ? (act_value(&a, z) - act_value(&a, zr)) / d
                                         : act_slope(&a, z);
        s.dx[i] += (float)((double)s.gy[i] * slope);
    }
}

/* Rescale through an op of ops/elementwise.c (Erf, Sqrt, Pow with its
 * constant exponent, Gelu), its f and f' in double from the op. */
static void rescale_elementwise(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                                const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_span s = span_of(g, n, batch, ctx);
    if (!s.dx) return;
#pragma omp parallel for schedule(static) if (s.count > XCNN_PARALLEL_MIN)
    for (size_t i = 0; i < s.count; i++) {
        double z = s.z[i], zr = s.zr[i], d = z - zr, y, yr, slope, slope_r;
        xcnn_elementwise_eval(g, n, z, &y, &slope);
        if (fabs(d) >= DL_EPS) {
            xcnn_elementwise_eval(g, n, zr, &yr, &slope_r);
            slope = (y - yr) / d;
        }
        s.dx[i] += (float)((double)s.gy[i] * slope);
    }
}

/* Relu in float: with both z and z' above 0 the slope is (z - z') / (z - z'),
 * exactly 1; with both at or below 0 it is 0; only where they straddle 0
 * does the quotient carry information. Selects by pick, over spans of
 * DL_CHUNK (as ops/activation.c runs its loops): gcc vectorises it. */
static void relu_span(const float *restrict z, const float *restrict zr,
                      const float *restrict gy, float *restrict dx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int up = z[i] > 0, far = fabsf(z[i] - zr[i]) >= (float)DL_EPS;
        float d = z[i] - zr[i], y = pick(up, z[i], 0.0f), yr = pick(zr[i] > 0, zr[i], 0.0f);
        float slope = pick(far, (y - yr) / pick(far, d, 1.0f), pick(up, 1.0f, 0.0f));
        dx[i] += gy[i] * slope;
    }
}

/* Elements per task of the parallel loops. */
#define DL_CHUNK 4096

static void rescale_relu(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_span s = span_of(g, n, batch, ctx);
    if (!s.dx) return;
    long chunks = (long)((s.count + DL_CHUNK - 1) / DL_CHUNK);
#pragma omp parallel for schedule(static) if (s.count > XCNN_PARALLEL_MIN)
    for (long c = 0; c < chunks; c++) {
        size_t at = (size_t)c * DL_CHUNK, len = s.count - at < DL_CHUNK ? s.count - at : DL_CHUNK;
        relu_span(s.z + at, s.zr + at, s.gy + at, s.dx + at, len);
    }
}

static void rescale_leakyrelu(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                              const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_act a = {DL_LEAKYRELU, xcnn_attr_float(n, "alpha", 0.01f), 0};
    rescale(g, n, batch, ctx, a);
}

/* Clip's bounds as the op reads them (ops/activation.c): attributes
 * before opset 11, constant inputs 1 and 2 from then on; absent: none. */
static void rescale_clip(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_act a = {DL_CLIP, -INFINITY, INFINITY};
    if (g->opset >= 1 && g->opset < 11) {
        a.p = xcnn_attr_float(n, "min", -INFINITY);
        a.q = xcnn_attr_float(n, "max", INFINITY);
    }
    const xcnn_tensor *lo = xcnn_in(g, n, 1), *hi = xcnn_in(g, n, 2);
    if (lo) a.p = lo->data[0];
    if (hi) a.q = hi->data[0];
    rescale(g, n, batch, ctx, a);
}

static void rescale_sigmoid(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                            const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_act a = {DL_SIGMOID, 0, 0};
    rescale(g, n, batch, ctx, a);
}

static void rescale_hardsigmoid(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                                const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_act a = {DL_HARDSIGMOID, xcnn_attr_float(n, "alpha", 0.2f),
                xcnn_attr_float(n, "beta", 0.5f)};
    rescale(g, n, batch, ctx, a);
}

static void rescale_hardswish(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                              const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    dl_act a = {DL_HARDSWISH, 0, 0};
    rescale(g, n, batch, ctx, a);
}

/* ---- MaxPool -------------------------------------------------------- */

/* The taps t in [*lo, *hi) of window o along one axis that fall inside
 * the input (it reads start + t * d, start = o * s - pad). */
static void axis_taps(int o, int in, int k, int s, int d, int pad, int *lo, int *hi)
{
    int start = o * s - pad, last = in - 1 - start;
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    *hi = last < 0 ? 0 : last / d + 1;
    if (*hi > k) *hi = k;
}

/* The first maxima of window (oh, ow) of x's plane xp and r's plane rp,
 * into *ix and *ir: padding skipped, a later tap wins only if larger or
 * NaN (ops/pool.c's rule, so x's argmax is the one the forward took).
 * nan_aware 0 drops the NaN test, for planes that hold none: with it the
 * compiler branches on every tap, and the scan took twice as long. */
static inline void window_max2(const xcnn_window2d *w, const float *xp, const float *rp,
                               int oh, int ow, int nan_aware, int *ix, int *ir)
{
    int hlo, hhi, wlo, whi;
    axis_taps(oh, w->in_h, w->k_h, w->stride_h, w->dil_h, w->pad_top, &hlo, &hhi);
    axis_taps(ow, w->in_w, w->k_w, w->stride_w, w->dil_w, w->pad_left, &wlo, &whi);
    int hs = oh * w->stride_h - w->pad_top, ws = ow * w->stride_w - w->pad_left;
    int bx = (hs + hlo * w->dil_h) * w->in_w + ws + wlo * w->dil_w, br = bx;
    float tx = -INFINITY, tr = -INFINITY;
    for (int i = hlo; i < hhi; i++) {
        int row = (hs + i * w->dil_h) * w->in_w + ws;
        for (int j = wlo; j < whi; j++) {
            int idx = row + j * w->dil_w;
            float vx = xp[idx], vr = rp[idx];
            int take_x = vx > tx, take_r = vr > tr;
            if (nan_aware) {
                take_x |= vx != vx;
                take_r |= vr != vr;
            }
            tx = take_x ? vx : tx;
            bx = take_x ? idx : bx;
            tr = take_r ? vr : tr;
            br = take_r ? idx : br;
        }
    }
    *ix = bx;
    *ir = br;
}

/* Does v hold a NaN? (The bits, so that the loop vectorises.) */
static int has_nan(const float *v, size_t n)
{
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        any |= (u & 0x7fffffffu) > 0x7f800000u;
    }
    return any != 0;
}

/* One plane: x's values xp, r's rp, the output's multipliers dy; c and
 * gs are the plane's room for C and the plain gradient. */
static void maxpool_plane(const xcnn_window2d *w, const float *xp, const float *rp,
                          const float *dy, double *c, float *gs, float *dx)
{
    size_t plane = (size_t)w->in_h * w->in_w;
    int nan = has_nan(xp, plane) || has_nan(rp, plane);
    memset(c, 0, plane * sizeof *c);
    memset(gs, 0, plane * sizeof *gs);
    for (int oh = 0; oh < w->out_h; oh++)
        for (int ow = 0; ow < w->out_w; ow++) {
            int ix, ir;
            if (nan) window_max2(w, xp, rp, oh, ow, 1, &ix, &ir);
            else window_max2(w, xp, rp, oh, ow, 0, &ix, &ir);
            float g = dy[(size_t)oh * w->out_w + ow];
            double o = xp[ix], o2 = rp[ir], top = o > o2 ? o : o2;
            c[ix] += g * (top - o2);
            c[ir] += g * (o - top);
            gs[ix] += g;
        }
    /* in float, with the quotient computed everywhere (by 1 where it is
     * dropped), so that the loop has no branch and vectorises */
    for (size_t i = 0; i < plane; i++) {
        float d = xp[i] - rp[i];
        int far = fabsf(d) >= (float)DL_EPS;
        float q = (float)c[i] / pick(far, d, 1.0f);
        dx[i] += pick(far, q, gs[i]);
    }
}

/* The window from the node's attributes, as the op's setup made it
 * (MaxPool's params are its own). The load checked them: this fails
 * only on a graph the load would have refused. */
static int pool_window(xcnn_graph *g, const xcnn_node *n, xcnn_window2d *w)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    int nk = 0;
    const int64_t *ks = xcnn_attr_ints(n, "kernel_shape", &nk);
    xcnn_err err;
    return ks && nk == 2 && x->ndim == 4 &&
           xcnn_window2d_setup(n, "maxpool", x->dims[2], x->dims[3], ks[0], ks[1],
                               (int)xcnn_attr_int(n, "ceil_mode", 0), w, &err) == XCNN_OK;
}

static void maxpool_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    const xcnn_dl_state *s = ctx->state;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    xcnn_window2d w;
    if (!dx) return;
    if (!pool_window(g, n, &w)) { /* not reached: see pool_window */
        n->def->backward(g, n, batch, scratch, ctx);
        return;
    }
    /* C and the plain gradient of one sample: the workspace's room for
     * the largest activation, or for an input (a MaxPool on the input). */
    const xcnn_model *m = s->m;
    int on_input = x->kind == XCNN_T_INPUT;
    double *c = on_input ? m->ex_acc2 : m->ex_layer_acc;
    float *gs = on_input ? m->ex_path2 : m->ex_layer;
    int channels = (int)x->dims[1];
    size_t plane = (size_t)w.in_h * w.in_w, oplane = (size_t)w.out_h * w.out_w;
    size_t per = (size_t)channels * plane;
    const float *dy = xcnn_out(g, n, 0)->grad;
    for (int b = 0; b < batch; b++) {
        const float *xb = x->data + (size_t)b * per, *rb = x->data + (size_t)(b + s->n) * per;
        const float *dyb = dy + (size_t)b * channels * oplane;
        float *dxb = dx + (size_t)b * per;
#pragma omp parallel for schedule(static) if ((size_t)channels * oplane * w.k_h * w.k_w > XCNN_PARALLEL_MIN)
        for (int ch = 0; ch < channels; ch++) {
            size_t at = (size_t)ch * plane;
            maxpool_plane(&w, xb + at, rb + at, dyb + (size_t)ch * oplane, c + at, gs + at,
                          dxb + at);
        }
    }
}

/* ---- the table ------------------------------------------------------ */

const xcnn_rule_entry xcnn_deeplift_rules[] = {
    {"Conv", XCNN_RULE_GRADIENT},
    {"Gemm", XCNN_RULE_GRADIENT},
    {"MatMul", XCNN_RULE_GRADIENT},
    {"BatchNormalization", XCNN_RULE_GRADIENT},
    {"AveragePool", XCNN_RULE_GRADIENT},
    {"GlobalAveragePool", XCNN_RULE_GRADIENT},
    {"Add", XCNN_RULE_GRADIENT},
    {"Sub", XCNN_RULE_GRADIENT},
    {"Mul", XCNN_RULE_GRADIENT},
    {"Concat", XCNN_RULE_GRADIENT},
    {"Pad", XCNN_RULE_GRADIENT},
    {"Flatten", XCNN_RULE_GRADIENT},
    {"Reshape", XCNN_RULE_GRADIENT},
    {"Identity", XCNN_RULE_GRADIENT},
    {"Dropout", XCNN_RULE_GRADIENT},
    {"Relu", rescale_relu},
    {"LeakyRelu", rescale_leakyrelu},
    {"Clip", rescale_clip},
    {"Sigmoid", rescale_sigmoid},
    {"HardSigmoid", rescale_hardsigmoid},
    {"HardSwish", rescale_hardswish},
    {"MaxPool", maxpool_rule},
    {"Erf", rescale_elementwise},
    {"Sqrt", rescale_elementwise},
    {"Pow", rescale_elementwise},
    {"Gelu", rescale_elementwise},
    {"Div", XCNN_RULE_GRADIENT},
    {"LayerNormalization", XCNN_RULE_GRADIENT},
    {"Transpose", XCNN_RULE_GRADIENT},
    {"Slice", XCNN_RULE_GRADIENT},
    {"ReduceMean", XCNN_RULE_GRADIENT},
    {NULL, XCNN_RULE_GRADIENT}};

void xcnn_deeplift_node_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                             const xcnn_bwd_ctx *ctx)
{
    xcnn_rules_run(xcnn_deeplift_rules, g, n, batch, scratch, ctx);
}
