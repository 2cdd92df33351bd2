/*
 * LayerNormalization (ONNX opset 17), over the trailing dims from `axis`
 * on: each row x of D = prod(dims[axis:]) elements is normalised alone.
 *
 *   mu = mean(x)   var = mean((x - mu)^2)   r = 1 / sqrt(var + eps)
 *   xhat = (x - mu) r        y = xhat * gamma + beta     (gamma, beta: D values)
 *
 *   backward, with dxhat = g * gamma:
 *   dx    = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
 *   dgamma = sum over rows of g * xhat      dbeta = sum over rows of g
 *
 * mu and var are summed in double (xcnn_acc), closer to the float64
 * reference than torch's float32 moments; the rest is float. A row's
 * statistics are recomputed where they are needed (two passes over D
 * values in cache) rather than kept: forward and dx need no memory, and
 * any batch gives a sample the same bits. dgamma and dbeta, which only
 * training and gradient checks ask for, keep one sample's (mu, r) in the
 * scratch and sum each element over the sample's rows serially, sample
 * after sample: the same bits for any thread count.
 *
 * ConvNeXt uses it channels-last (after a Transpose to NHWC, over the last
 * axis); a transformer over the embedding. axis 0 would normalise across
 * the batch and is refused, as are the optional Mean and InvStdDev
 * outputs (training-time values that nothing here reads) and a stash_type
 * other than 1 (float32 statistics; we keep more digits, never fewer).
 */
#include <math.h>
#include <stdint.h>
#include "ops.h"
#include "../base/config.h"

typedef struct ln_params {
    int64_t D;     /* elements normalised together                  */
    int has_bias;
} ln_params;

/* mu and r of one row, from double sums. */
static void row_stats(const float *x, int64_t D, float eps, float *mu_out, float *r_out)
{
    xcnn_sum s = XCNN_SUM_ZERO;
    for (int64_t i = 0; i < D; i++) xcnn_sum_add(&s, x[i]);
    xcnn_acc mu = xcnn_sum_get(&s) / (xcnn_acc)D;
    xcnn_sum v = XCNN_SUM_ZERO;
    for (int64_t i = 0; i < D; i++) {
        xcnn_acc d = (xcnn_acc)x[i] - mu;
        xcnn_sum_add(&v, d * d);
    }
    xcnn_acc var = xcnn_sum_get(&v) / (xcnn_acc)D;
    *mu_out = (float)mu;
    *r_out = (float)((xcnn_acc)1 / xcnn_acc_sqrt(var + (xcnn_acc)eps));
}

static float ln_eps(const xcnn_node *n)
{
    return xcnn_attr_float(n, "epsilon", 1e-5f);
}

static void ln_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const ln_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const float *gamma = xcnn_in(g, n, 1)->data;
    const float *beta = p->has_bias ? xcnn_in(g, n, 2)->data : NULL;
    float *y = xcnn_out(g, n, 0)->data;
    float eps = ln_eps(n);
    int64_t D = p->D, rows = (int64_t)(xcnn_tensor_sample_numel(x) * (size_t)batch) / D;
    /* The reference is the same loop, serial: a row is computed alone. */
#pragma omp parallel for schedule(static) if (!g->reference && rows * D > XCNN_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * D;
        float *yr = y + r * D;
        float mu, rs;
        row_stats(xr, D, eps, &mu, &rs);
        for (int64_t i = 0; i < D; i++) {
            float v = (xr[i] - mu) * rs * gamma[i];
            yr[i] = beta ? v + beta[i] : v;
        }
    }
}

/* dx of one row (xr its input, gr its output gradient), added into dxr. */
static void row_dx(const float *xr, const float *gr, const float *gamma, int64_t D, float mu,
                   float rs, float *dxr)
{
    xcnn_sum s1 = XCNN_SUM_ZERO, s2 = XCNN_SUM_ZERO;
    for (int64_t i = 0; i < D; i++) {
        float xhat = (xr[i] - mu) * rs, dxhat = gr[i] * gamma[i];
        xcnn_sum_add(&s1, dxhat);
        xcnn_sum_add(&s2, (xcnn_acc)dxhat * xhat);
    }
    float m1 = (float)(xcnn_sum_get(&s1) / (xcnn_acc)D);
    float m2 = (float)(xcnn_sum_get(&s2) / (xcnn_acc)D);
    for (int64_t i = 0; i < D; i++) {
        float xhat = (xr[i] - mu) * rs, dxhat = gr[i] * gamma[i];
        dxr[i] += rs * (dxhat - m1 - xhat * m2);
    }
}

/* dgamma and dbeta (either may be NULL): per sample, the rows' (mu, r)
 * into scratch, then each element's sum over the rows. */
static void weight_grads(const ln_params *p, const float *x, const float *gy, int batch,
                         int64_t rows_per, float eps, float *scratch, float *dgamma,
                         float *dbeta)
{
    int64_t D = p->D;
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (size_t)b * rows_per * D, *gb = gy + (size_t)b * rows_per * D;
        for (int64_t r = 0; r < rows_per; r++)
            row_stats(xb + r * D, D, eps, &scratch[2 * r], &scratch[2 * r + 1]);
#pragma omp parallel for schedule(static) if (rows_per * D > XCNN_PARALLEL_MIN)
        for (int64_t i = 0; i < D; i++) {
            xcnn_sum sg = XCNN_SUM_ZERO, sb = XCNN_SUM_ZERO;
            for (int64_t r = 0; r < rows_per; r++) {
                float xhat = (xb[r * D + i] - scratch[2 * r]) * scratch[2 * r + 1];
                xcnn_sum_add(&sg, (xcnn_acc)gb[r * D + i] * xhat);
                xcnn_sum_add(&sb, gb[r * D + i]);
            }
            if (dgamma) dgamma[i] += (float)xcnn_sum_get(&sg);
            if (dbeta) dbeta[i] += (float)xcnn_sum_get(&sb);
        }
    }
}

static void ln_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx)
{
    (void)ctx;
    const ln_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const float *gamma = xcnn_in(g, n, 1)->data, *gy = xcnn_out(g, n, 0)->grad;
    float *dx = xcnn_tensor_grad(x), *dgamma = xcnn_tensor_grad(xcnn_in(g, n, 1));
    float *dbeta = p->has_bias ? xcnn_tensor_grad(xcnn_in(g, n, 2)) : NULL;
    float eps = ln_eps(n);
    int64_t D = p->D, rows_per = (int64_t)xcnn_tensor_sample_numel(x) / D;
    int64_t rows = rows_per * batch;
    if (dgamma || dbeta)
        weight_grads(p, x->data, gy, batch, rows_per, eps, scratch, dgamma, dbeta);
    if (!dx) return;
#pragma omp parallel for schedule(static) if (!g->reference && rows * D > XCNN_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float mu, rs;
        row_stats(x->data + r * D, D, eps, &mu, &rs);
        row_dx(x->data + r * D, gy + r * D, gamma, D, mu, rs, dx + r * D);
    }
}

/* ---- setup ---- */

/* gamma or beta: a float constant of D elements whose dims, aligned on the
 * right, are the normalised dims (leading 1s allowed). */
static xcnn_status check_affine(const xcnn_node *n, const xcnn_tensor *x, int axis,
                                const xcnn_tensor *w, const char *what, xcnn_err *err)
{
    char sx[96], sw[96];
    int ok = w->kind == XCNN_T_CONST && w->dtype == XCNN_DT_FLOAT && w->data;
    int tail = x->ndim - axis;
    for (int i = 0; ok && i < w->ndim; i++) {
        int xi = x->ndim - w->ndim + i;
        ok = xi >= axis ? w->dims[i] == x->dims[xi] : w->dims[i] == 1;
    }
    if (ok && w->ndim < tail) /* fewer dims: the missing ones must be 1 in x */
        for (int xi = axis; ok && xi < x->ndim - w->ndim; xi++) ok = x->dims[xi] == 1;
    if (!ok)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (LayerNormalization): %s '%s' (%s) must be a constant "
                         "float of the normalised shape (input %s, axis %d)", n->name, what,
                         w->name, xcnn_shape_str(w, sw, sizeof sw),
                         xcnn_shape_str(x, sx, sizeof sx), axis);
    return XCNN_OK;
}

static xcnn_status ln_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0), *gamma = xcnn_in(g, n, 1), *beta = xcnn_in(g, n, 2);
    if (!x || !gamma || n->n_in > 3 || n->n_out < 1 || n->out[0] < 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (LayerNormalization): expected "
                         "inputs X, Scale and optional B, and output Y; got %d and %d",
                         n->name, n->n_in, n->n_out);
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (LayerNormalization): "
                             "the Mean and InvStdDev outputs are not supported", n->name);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (LayerNormalization): input "
                         "'%s' must be a float activation", n->name, x->name);
    int64_t axis = xcnn_attr_int(n, "axis", -1);
    if (axis < 0) axis += x->ndim;
    if (axis < 1 || axis >= x->ndim)
        return xcnn_fail(err, axis == 0 ? XCNN_ERR_UNSUPPORTED : XCNN_ERR_SHAPE,
                         "node '%s' (LayerNormalization): axis %lld of a %d-dim input %s",
                         n->name, (long long)xcnn_attr_int(n, "axis", -1), x->ndim,
                         axis == 0 ? "normalises across the batch" : "is out of range");
    float eps = ln_eps(n);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "node '%s' (LayerNormalization): epsilon %g "
                         "is not a finite value >= 0", n->name, (double)eps);
    if (xcnn_attr_int(n, "stash_type", 1) != 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (LayerNormalization): "
                         "stash_type %lld (only 1, float32 statistics)", n->name,
                         (long long)xcnn_attr_int(n, "stash_type", 1));
    int64_t D = 1;
    for (int i = (int)axis; i < x->ndim; i++) D *= x->dims[i];
    if (D < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (LayerNormalization): nothing to "
                         "normalise (0 elements per row)", n->name);
    xcnn_status st = check_affine(n, x, (int)axis, gamma, "Scale", err);
    if (!st && beta) st = check_affine(n, x, (int)axis, beta, "B", err);
    if (st) return st;
    st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, x->dims, err);
    if (st) return st;
    ln_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (LayerNormalization): out of memory",
                         n->name);
    p->D = D;
    p->has_bias = beta != NULL;
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    int64_t rows_per = (int64_t)xcnn_tensor_sample_numel(x) / D;
    n->n_params = D * (beta ? 2 : 1);
    n->flops = 8.0 * (double)xcnn_tensor_numel(x);
    n->scratch_floats = 2 * (size_t)rows_per; /* weight gradients: one sample's (mu, r) */
    return XCNN_OK;
}

/* stash_type only chooses the statistics' precision (1: float32). */
static const xcnn_attr_spec ln_attrs[] = {{"axis", XCNN_ATTR_INT, 0, NULL},
                                          {"epsilon", XCNN_ATTR_FLOAT, 0, NULL},
                                          {"stash_type", XCNN_ATTR_INT, 0, NULL},
                                          {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_layernorm = {"LayerNormalization", ln_setup, ln_forward,
                                       ln_backward, ln_attrs, 0};
