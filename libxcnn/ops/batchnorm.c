/*
 * BatchNormalization, inference form (running statistics), per channel c:
 *
 *   y = scale * (x - mean) / sqrt(var + eps) + B
 *
 * With inv = 1 / sqrt(var + eps) and xhat = (x - mean) * inv, backward is
 *   dx      += dy * scale * inv
 *   dscale  += sum dy * xhat
 *   dB      += sum dy
 *   dmean   += sum dy * (-scale * inv)
 *   dvar    += sum dy * scale * (x - mean) * (-1/2) * inv^3
 * with the sums over the batch and every pixel of channel c. The weights
 * are read on every call (never cached), so they may change between runs.
 *
 * Training mode (g->training set by the trainer): the statistics are those
 * of the batch, over N, H, W, with M = N*H*W values per channel:
 *
 *   mu = sum x / M,  s2 = sum (x - mu)^2 / M  (biased, to normalise)
 *   xhat = (x - mu) * inv,  inv = 1 / sqrt(s2 + eps),  y = scale*xhat + B
 *   running_mean = momentum * running_mean + (1 - momentum) * mu
 *   running_var  = momentum * running_var  + (1 - momentum) * s2 * M/(M-1)
 *
 * where momentum is the ONNX attribute (default 0.9: ONNX's momentum is
 * PyTorch's 1 - momentum, so this is PyTorch's update with m = 0.1, and
 * the running variance is unbiased as PyTorch keeps it). The running
 * statistics are updated in place by every training forward pass.
 * Backward goes through mu and s2 as well (g = dy * scale):
 *
 *   dx     += inv * (g - mean(g) - xhat * mean(g * xhat))
 *   dscale += sum dy * xhat,   dB += sum dy
 *
 * and the running statistics get no gradient. Backward recomputes mu and
 * inv from x (kept in the arena) rather than storing them: the node stays
 * stateless apart from the running statistics.
 *
 * The reference of the inference form (bn_reference_forward / _backward)
 * is its formulas as written, element by element in double; the fast
 * loops fold scale * inv into one float per channel and must equal it to
 * rounding. g->reference (make REFERENCE=1) runs the reference. Training
 * mode has no fast path: its loops are its formulas, in double.
 * ("double" here and below: xcnn_acc, base/config.h, float with Kahan
 * sums under XCNN_FLOAT_ACCUM.)
 */
#include <math.h>
#include <stdlib.h>
#include "ops.h"
#include "../base/config.h"

static const char *const param_names[4] = {"scale", "B", "mean", "var"};

static xcnn_status bn_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_tensor *x = xcnn_in(g, n, 0);
    if (n->n_in != 5 || !x)
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "batchnorm '%s': expected inputs X, scale, B, mean, var", n->name);
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "batchnorm '%s': training outputs (running mean/var) are not "
                             "supported", n->name);
    if (xcnn_attr_int(n, "training_mode", 0) != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "batchnorm '%s': training_mode=1 is not supported", n->name);
    if (xcnn_attr_int(n, "spatial", 1) != 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "batchnorm '%s': spatial=0 is not supported", n->name);
    if (x->kind == XCNN_T_CONST || x->ndim < 2)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "batchnorm '%s': input '%s' must be an N x C x ... activation", n->name,
                         x->name);
    int64_t c = x->dims[1];
    float eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "batchnorm '%s': epsilon is %g", n->name,
                         (double)eps);
    for (int i = 1; i < 5; i++) {
        const xcnn_tensor *t = xcnn_in(g, n, i);
        if (!t || t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "batchnorm '%s': %s must be a constant float tensor", n->name,
                             param_names[i - 1]);
        if (t->ndim != 1 || t->dims[0] != c)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "batchnorm '%s': %s '%s' has %lld elements in %d dims, expected "
                             "[%lld]", n->name, param_names[i - 1], t->name,
                             (long long)xcnn_tensor_numel(t), t->ndim, (long long)c);
    }
    /* A variance that makes var + eps <= 0 (or NaN) would give NaN or Inf
     * everywhere downstream: refuse the file instead. */
    const float *var = xcnn_in(g, n, 4)->data;
    for (int64_t i = 0; i < c; i++)
        if (!(var[i] + eps > 0))
            return xcnn_fail(err, XCNN_ERR_NUMERIC,
                             "batchnorm '%s': var[%lld] + epsilon = %g is not positive",
                             n->name, (long long)i, (double)(var[i] + eps));
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, x->dims, err);
    if (st) return st;
    n->scratch_floats = 0;
    n->n_params = 4 * c;
    n->flops = 2.0 * (double)xcnn_tensor_sample_numel(x);
    return XCNN_OK;
}

/* Shapes at run time: channels and pixels per channel. */
static void bn_dims(xcnn_graph *g, const xcnn_node *n, int *c, size_t *pixels)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    *c = (int)x->dims[1];
    *pixels = *c ? xcnn_tensor_sample_numel(x) / (size_t)*c : 0;
}

/* ---- training mode: batch statistics -------------------------------- */

/* Mean and biased variance of channel ch over the batch, in double, summed
 * in a fixed order (b, then pixels): the same bits for any thread count. */
static void batch_stats(const float *x, int batch, int c, size_t pixels, int ch, xcnn_acc *mu,
                        xcnn_acc *s2)
{
    xcnn_sum sum = XCNN_SUM_ZERO, sq = XCNN_SUM_ZERO;
    for (int b = 0; b < batch; b++) {
        const float *xp = x + ((size_t)b * c + ch) * pixels;
        for (size_t i = 0; i < pixels; i++) xcnn_sum_add(&sum, xp[i]);
    }
    xcnn_acc count = (xcnn_acc)batch * (xcnn_acc)pixels, m = xcnn_sum_get(&sum) / count;
    *mu = m;
    for (int b = 0; b < batch; b++) {
        const float *xp = x + ((size_t)b * c + ch) * pixels;
        for (size_t i = 0; i < pixels; i++) xcnn_sum_add(&sq, (xp[i] - m) * (xp[i] - m));
    }
    *s2 = xcnn_sum_get(&sq) / count;
}

static void bn_forward_train(xcnn_graph *g, const xcnn_node *n, int batch)
{
    int c;
    size_t pixels;
    bn_dims(g, n, &c, &pixels);
    const float *x = xcnn_in(g, n, 0)->data, *scale = xcnn_in(g, n, 1)->data;
    const float *bias = xcnn_in(g, n, 2)->data;
    float *run_mean = xcnn_in(g, n, 3)->data, *run_var = xcnn_in(g, n, 4)->data;
    float *y = xcnn_out(g, n, 0)->data;
    xcnn_acc eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    xcnn_acc momentum = xcnn_attr_float(n, "momentum", 0.9f);
    xcnn_acc count = (xcnn_acc)batch * (xcnn_acc)pixels;
#pragma omp parallel for schedule(static) if (count * c > XCNN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        xcnn_acc mu, s2;
        batch_stats(x, batch, c, pixels, ch, &mu, &s2);
        float a = (float)(scale[ch] / xcnn_acc_sqrt(s2 + eps));
        float shift = (float)(bias[ch] - mu * a);
        for (int b = 0; b < batch; b++) {
            size_t off = ((size_t)b * c + ch) * pixels;
            for (size_t i = 0; i < pixels; i++) y[off + i] = x[off + i] * a + shift;
        }
        xcnn_acc unbiased = count > 1 ? s2 * count / (count - 1) : s2;
        run_mean[ch] = (float)(momentum * run_mean[ch] + (1 - momentum) * mu);
        run_var[ch] = (float)(momentum * run_var[ch] + (1 - momentum) * unbiased);
    }
}

static void bn_backward_train(xcnn_graph *g, const xcnn_node *n, int batch)
{
    int c;
    size_t pixels;
    bn_dims(g, n, &c, &pixels);
    const float *x = xcnn_in(g, n, 0)->data, *scale = xcnn_in(g, n, 1)->data;
    const float *dy = xcnn_out(g, n, 0)->grad;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    float *dscale = xcnn_tensor_grad(xcnn_in(g, n, 1)), *dbias = xcnn_tensor_grad(xcnn_in(g, n, 2));
    xcnn_acc eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    xcnn_acc count = (xcnn_acc)batch * (xcnn_acc)pixels;
#pragma omp parallel for schedule(static) if (count * c > XCNN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        xcnn_acc mu, s2;
        batch_stats(x, batch, c, pixels, ch, &mu, &s2);
        xcnn_acc inv = 1 / xcnn_acc_sqrt(s2 + eps);
        xcnn_sum sum_dy = XCNN_SUM_ZERO, sum_dy_xhat = XCNN_SUM_ZERO;
        for (int b = 0; b < batch; b++) {
            size_t off = ((size_t)b * c + ch) * pixels;
            for (size_t i = 0; i < pixels; i++) {
                xcnn_sum_add(&sum_dy, dy[off + i]);
                xcnn_sum_add(&sum_dy_xhat, dy[off + i] * ((x[off + i] - mu) * inv));
            }
        }
        xcnn_acc s_dy = xcnn_sum_get(&sum_dy), s_dyx = xcnn_sum_get(&sum_dy_xhat);
        if (dscale) dscale[ch] += (float)s_dyx;
        if (dbias) dbias[ch] += (float)s_dy;
        if (!dx) continue;
        /* dx = scale*inv * (dy - mean(dy) - xhat * mean(dy * xhat)) */
        xcnn_acc k = scale[ch] * inv, mean_dy = s_dy / count, mean_dyx = s_dyx / count;
        for (int b = 0; b < batch; b++) {
            size_t off = ((size_t)b * c + ch) * pixels;
            for (size_t i = 0; i < pixels; i++) {
                xcnn_acc xhat = (x[off + i] - mu) * inv;
                dx[off + i] += (float)(k * (dy[off + i] - mean_dy - xhat * mean_dyx));
            }
        }
    }
}

/* ---- inference mode's reference: the formulas, one element at a time ---- */

static void bn_reference_forward(xcnn_graph *g, const xcnn_node *n, int batch)
{
    int c;
    size_t pixels;
    bn_dims(g, n, &c, &pixels);
    const float *x = xcnn_in(g, n, 0)->data, *scale = xcnn_in(g, n, 1)->data;
    const float *bias = xcnn_in(g, n, 2)->data, *mean = xcnn_in(g, n, 3)->data;
    const float *var = xcnn_in(g, n, 4)->data;
    float *y = xcnn_out(g, n, 0)->data;
    xcnn_acc eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    for (int b = 0; b < batch; b++)
        for (int ch = 0; ch < c; ch++)
            for (size_t i = 0; i < pixels; i++) {
                size_t at = ((size_t)b * c + ch) * pixels + i;
                y[at] = (float)((xcnn_acc)scale[ch] * (x[at] - (xcnn_acc)mean[ch]) /
                                    xcnn_acc_sqrt(var[ch] + eps) + bias[ch]);
            }
}

static void bn_reference_backward(xcnn_graph *g, const xcnn_node *n, int batch)
{
    int c;
    size_t pixels;
    bn_dims(g, n, &c, &pixels);
    const float *x = xcnn_in(g, n, 0)->data, *scale = xcnn_in(g, n, 1)->data;
    const float *mean = xcnn_in(g, n, 3)->data, *var = xcnn_in(g, n, 4)->data;
    const float *dy = xcnn_out(g, n, 0)->grad;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    float *dscale = xcnn_tensor_grad(xcnn_in(g, n, 1)), *dbias = xcnn_tensor_grad(xcnn_in(g, n, 2));
    float *dmean = xcnn_tensor_grad(xcnn_in(g, n, 3)), *dvar = xcnn_tensor_grad(xcnn_in(g, n, 4));
    xcnn_acc eps = xcnn_attr_float(n, "epsilon", 1e-5f), half = 0.5;
    for (int ch = 0; ch < c; ch++) {
        xcnn_acc inv = 1 / xcnn_acc_sqrt(var[ch] + eps);
        xcnn_sum s_scale = XCNN_SUM_ZERO, s_bias = XCNN_SUM_ZERO, s_mean = XCNN_SUM_ZERO,
                 s_var = XCNN_SUM_ZERO;
        for (int b = 0; b < batch; b++)
            for (size_t i = 0; i < pixels; i++) {
                size_t at = ((size_t)b * c + ch) * pixels + i;
                xcnn_acc d = dy[at], xc = (xcnn_acc)x[at] - mean[ch];
                if (dx) dx[at] += (float)(d * scale[ch] * inv);
                xcnn_sum_add(&s_scale, d * xc * inv);
                xcnn_sum_add(&s_bias, d);
                xcnn_sum_add(&s_mean, d * (-scale[ch] * inv));
                xcnn_sum_add(&s_var, d * scale[ch] * xc * -half * inv * inv * inv);
            }
        if (dscale) dscale[ch] += (float)xcnn_sum_get(&s_scale);
        if (dbias) dbias[ch] += (float)xcnn_sum_get(&s_bias);
        if (dmean) dmean[ch] += (float)xcnn_sum_get(&s_mean);
        if (dvar) dvar[ch] += (float)xcnn_sum_get(&s_var);
    }
}

/* ---- inference mode: running statistics ----------------------------- */

/* A node's tensors and sizes, read once for the per-plane and per-channel
 * functions below. */
typedef struct bn_eval {
    int c;
    size_t pixels;
    float eps;
    const float *x, *scale, *bias, *mean, *var, *dy;
    float *y, *dx, *dscale, *dbias, *dmean, *dvar;
} bn_eval;

static bn_eval eval_args(xcnn_graph *g, const xcnn_node *n)
{
    bn_eval e;
    bn_dims(g, n, &e.c, &e.pixels);
    e.eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    e.x = xcnn_in(g, n, 0)->data;
    e.scale = xcnn_in(g, n, 1)->data;
    e.bias = xcnn_in(g, n, 2)->data;
    e.mean = xcnn_in(g, n, 3)->data;
    e.var = xcnn_in(g, n, 4)->data;
    e.y = xcnn_out(g, n, 0)->data;
    e.dy = xcnn_out(g, n, 0)->grad;
    e.dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    e.dscale = xcnn_tensor_grad(xcnn_in(g, n, 1));
    e.dbias = xcnn_tensor_grad(xcnn_in(g, n, 2));
    e.dmean = xcnn_tensor_grad(xcnn_in(g, n, 3));
    e.dvar = xcnn_tensor_grad(xcnn_in(g, n, 4));
    return e;
}

/* Plane pl (sample pl / c, channel pl % c) of the forward. */
static void eval_plane_forward(const bn_eval *e, int pl)
{
    int ch = pl % e->c;
    float inv = 1.0f / sqrtf(e->var[ch] + e->eps);
    /* In locals: as far as the compiler knows y could alias the weights,
     * and a loop that reloads them needs an alias check before it is
     * vectorised (gcc -O2 does not vectorise it). */
    float a = e->scale[ch] * inv, m = e->mean[ch], b = e->bias[ch];
    const float *xp = e->x + (size_t)pl * e->pixels;
    float *yp = e->y + (size_t)pl * e->pixels;
    size_t pixels = e->pixels;
    for (size_t i = 0; i < pixels; i++) yp[i] = (xp[i] - m) * a + b;
}

/* Channel ch of the backward: its input gradient over the batch, then its
 * parameters' sums, the batch walked in order. */
static void eval_channel_backward(const bn_eval *e, int batch, int ch)
{
    float inv = 1.0f / sqrtf(e->var[ch] + e->eps);
    float a = e->scale[ch] * inv, m = e->mean[ch];
    const float *x = e->x, *dy = e->dy;
    float *dx = e->dx;
    size_t pixels = e->pixels;
    int want_params = e->dscale || e->dbias || e->dmean || e->dvar;
    /* sum dy, sum dy * (x - mean) */
    xcnn_sum sum_dy = XCNN_SUM_ZERO, sum_dy_xc = XCNN_SUM_ZERO;
    for (int b = 0; b < batch; b++) {
        size_t off = ((size_t)b * e->c + ch) * pixels;
        if (dx)
            for (size_t i = 0; i < pixels; i++) dx[off + i] += dy[off + i] * a;
        if (want_params)
            for (size_t i = 0; i < pixels; i++) {
                xcnn_sum_add(&sum_dy, dy[off + i]);
                xcnn_sum_add(&sum_dy_xc, (xcnn_acc)dy[off + i] * (x[off + i] - m));
            }
    }
    xcnn_acc s_dy = xcnn_sum_get(&sum_dy), s_dyx = xcnn_sum_get(&sum_dy_xc), half = 0.5;
    if (e->dscale) e->dscale[ch] += (float)(s_dyx * inv);
    if (e->dbias) e->dbias[ch] += (float)s_dy;
    if (e->dmean) e->dmean[ch] += (float)(-s_dy * a);
    if (e->dvar) e->dvar[ch] += (float)(-half * s_dyx * a * inv * inv);
}

static void bn_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    if (g->training) {
        bn_forward_train(g, n, batch);
        return;
    }
    if (g->reference) {
        bn_reference_forward(g, n, batch);
        return;
    }
    bn_eval e = eval_args(g, n);
    int planes = batch * e.c;
    if (!xcnn_fork_worth((size_t)planes * e.pixels > XCNN_PARALLEL_MIN)) {
        for (int pl = 0; pl < planes; pl++) eval_plane_forward(&e, pl);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) eval_plane_forward(&e, pl);
}

/* Parallel over channels; each walks the batch in order, so the
 * parameter sums do not depend on the thread count. */
static void bn_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    if (g->training) {
        bn_backward_train(g, n, batch);
        return;
    }
    if (g->reference) {
        bn_reference_backward(g, n, batch);
        return;
    }
    bn_eval e = eval_args(g, n);
    if (!xcnn_fork_worth((size_t)batch * e.c * e.pixels > XCNN_PARALLEL_MIN)) {
        for (int ch = 0; ch < e.c; ch++) eval_channel_backward(&e, batch, ch);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < e.c; ch++) eval_channel_backward(&e, batch, ch);
}

/* ONNX BatchNormalization's attributes from opset 7 on. momentum is read
 * when training; spatial (opsets 7 and 8) and training_mode (from 14)
 * are read and refused unless they ask for what we compute. */
static const xcnn_attr_spec bn_attrs[] = {
    {"epsilon", XCNN_ATTR_FLOAT, 0, NULL},      {"momentum", XCNN_ATTR_FLOAT, 0, NULL},
    {"spatial", XCNN_ATTR_INT, 0, NULL},        {"training_mode", XCNN_ATTR_INT, 0, NULL},
    {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_batchnorm = {"BatchNormalization", bn_setup, bn_forward,
                                       bn_backward, bn_attrs, 1};
