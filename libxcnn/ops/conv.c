/*
 * Conv (ONNX), 2-D, with groups. Read this file first: the maths, the
 * checks, the reference (the maths as plain loops) and which path runs.
 * The fast paths (im2col + GEMM, Winograd, packed weights, pieces and
 * bands) are in conv_fast.c; each must give the reference's values to
 * rounding.
 *
 * Forward, for sample b, output channel m and output pixel (oh, ow):
 *
 *   Y[b, m, oh, ow] = B[m] + sum_{c, i, j} W[m, c, i, j] * X[b, g*Cg + c, ih, iw]
 *
 *   with ih = oh*sh - pt + i*dh,  iw = ow*sw - pl + j*dw
 *
 * where g = m / Mg is the group of output channel m, Cg = C / group input
 * channels and Mg = M / group output channels per group; the sum runs
 * over c < Cg, i < kh, j < kw. sh, sw are the strides, dh, dw the
 * dilations, pt, pl the padding on top and on the left; X is zero outside
 * the input (in the padding).
 *
 * Backward, with dY = dL/dY. Y is linear in each of X, W and B, so each
 * gradient sums dY against what multiplied it in the forward:
 *
 *   dB[m]          = sum_{b, oh, ow} dY[b, m, oh, ow]
 *   dW[m, c, i, j] = sum_{b, oh, ow} dY[b, m, oh, ow] * X[b, g*Cg + c, ih, iw]
 *   dX[b, g*Cg + c, ih, iw]
 *                  = sum over m in group g, taps (i, j) and the output
 *                    pixels (oh, ow) that read (ih, iw) through them, of
 *                    W[m, c, i, j] * dY[b, m, oh, ow]
 *
 * with ih, iw as in the forward (padding terms dropped); dW and dB are
 * summed over the batch. Tap i of output row oh reads input row
 * ih = oh*sh - pt + i*dh, so input row ih is read by tap i of output row
 * oh = (ih + pt - i*dh) / sh when that divides exactly; the same along
 * the columns.
 *
 * g->reference (make REFERENCE=1) runs the reference and never
 * conv_fast.c.
 */
#include <limits.h>
#include <stdlib.h>
#include "ops.h"
#include "conv.h"
#include "window.h"
#include "../base/config.h"

/* ---- setup ---------------------------------------------------------- */

static xcnn_status check_weight(const xcnn_node *n, const xcnn_tensor *w, xcnn_err *err)
{
    if (!w)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "conv '%s': missing weight input", n->name);
    if (w->kind != XCNN_T_CONST || w->dtype != XCNN_DT_FLOAT || !w->data)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "conv '%s': weight '%s' must be a constant float tensor", n->name,
                         w->name);
    if (w->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "conv '%s': weight has %d dims, expected 4",
                         n->name, w->ndim);
    return XCNN_OK;
}

static xcnn_status check_bias(const xcnn_node *n, const xcnn_tensor *b, int64_t m,
                              xcnn_err *err)
{
    if (!b) return XCNN_OK;
    if (b->kind != XCNN_T_CONST || b->dtype != XCNN_DT_FLOAT || !b->data)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "conv '%s': bias '%s' must be a constant float tensor", n->name,
                         b->name);
    if (b->ndim != 1 || b->dims[0] != m)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "conv '%s': bias has %lld elements in %d dims, expected [%lld]",
                         n->name, (long long)xcnn_tensor_numel(b), b->ndim, (long long)m);
    return XCNN_OK;
}

/* Channels, groups and kernel_shape against the weight's shape. */
static xcnn_status check_channels(const xcnn_node *n, const xcnn_tensor *x,
                                  const xcnn_tensor *w, int64_t group, xcnn_err *err)
{
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "conv '%s': group is %lld", n->name,
                         (long long)group);
    if (c % group != 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "conv '%s': %lld input channels are not divisible by group %lld",
                         n->name, (long long)c, (long long)group);
    if (m % group != 0 || m == 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "conv '%s': %lld output channels are not a positive multiple of "
                         "group %lld", n->name, (long long)m, (long long)group);
    if (w->dims[1] != c / group)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "conv '%s': weight has %lld input channels per group, the input "
                         "has %lld / group %lld = %lld", n->name, (long long)w->dims[1],
                         (long long)c, (long long)group, (long long)(c / group));
    int nk = 0;
    const int64_t *ks = xcnn_attr_ints(n, "kernel_shape", &nk);
    if (ks && (nk != 2 || ks[0] != w->dims[2] || ks[1] != w->dims[3]))
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "conv '%s': kernel_shape does not match the weight's %lldx%lld",
                         n->name, (long long)w->dims[2], (long long)w->dims[3]);
    return XCNN_OK;
}

static xcnn_status conv_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_tensor *x = xcnn_in(g, n, 0), *w = xcnn_in(g, n, 1), *b = xcnn_in(g, n, 2);
    if (n->n_in < 2 || n->n_in > 3 || n->n_out != 1 || !x)
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "conv '%s': expected inputs X, W[, B] and one output", n->name);
    if (x->kind == XCNN_T_CONST)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "conv '%s': input '%s' is a constant",
                         n->name, x->name);
    if (x->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "conv '%s': input '%s' has %d dims; only 2-D convolution (4-D "
                         "NCHW input) is supported", n->name, x->name, x->ndim);
    xcnn_status st = check_weight(n, w, err);
    if (st) return st;
    int64_t group = xcnn_attr_int(n, "group", 1);
    if ((st = check_channels(n, x, w, group, err))) return st;
    if ((st = check_bias(n, b, w->dims[0], err))) return st;

    xcnn_window2d win;
    st = xcnn_window2d_setup(n, "conv", x->dims[2], x->dims[3], w->dims[2], w->dims[3], 0,
                             &win, err);
    if (st) return st;
    int64_t kcol = w->dims[1] * w->dims[2] * w->dims[3];
    int64_t npix = (int64_t)win.out_h * win.out_w;
    if (kcol > INT_MAX || npix > INT_MAX || w->dims[0] > INT_MAX || x->dims[1] > INT_MAX)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "conv '%s': too large for the GEMM's int sizes",
                         n->name);
    int64_t dims[4] = {1, w->dims[0], win.out_h, win.out_w};
    if ((st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), 4, dims, err))) return st;
    n->n_params = (int64_t)xcnn_tensor_numel(w) + (b ? w->dims[0] : 0);
    n->flops = 2.0 * (double)w->dims[0] * (double)npix * (double)kcol;

    xcnn_conv_shape s = {win, (int)x->dims[1], (int)w->dims[0], (int)group, 0};
    if (!g->reference) return xcnn_conv_fast_setup(g, n, &s, err);
    /* The reference needs the shape alone: no scratch, no weights made
     * over into other forms. */
    xcnn_conv_shape *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "conv '%s': out of memory", n->name);
    *p = s;
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    n->scratch_floats = 0;
    return XCNN_OK;
}

/* ---- the reference: the maths above as loops --------------------------- */

/* Offset of element [a, b, c, d] of a tensor of dims [any, nb, nc, nd]. */
static size_t at(int a, int b, int c, int d, int nb, int nc, int nd)
{
    return (((size_t)a * nb + b) * nc + c) * nd + d;
}

/* Along one axis: the input position that output position o reads
 * through tap k, or -1 when that is in the padding. */
static int input_pos(int o, int k, int stride, int pad, int dil, int in)
{
    int i = o * stride - pad + k * dil;
    return i >= 0 && i < in ? i : -1;
}

/* The other way: the output position whose tap k reads input position i,
 * or -1 when there is none. */
static int output_pos(int i, int k, int stride, int pad, int dil, int out)
{
    int t = i + pad - k * dil; /* = o * stride */
    return t >= 0 && t % stride == 0 && t / stride < out ? t / stride : -1;
}

/* Every output below is one sum in double (xcnn_acc, base/config.h: float
 * with Kahan's compensation under XCNN_FLOAT_ACCUM), over its terms in a fixed
 * order, written by one thread: the thread count changes no bit. */

void xcnn_conv_reference_forward(const xcnn_conv_shape *s, int batch, const float *x,
                                 const float *w, const float *bias, float *y)
{
    const xcnn_window2d *v = &s->win;
    int cg = s->c_in / s->group, mg = s->c_out / s->group;
#pragma omp parallel for schedule(dynamic)
    for (int bm = 0; bm < batch * s->c_out; bm++) {
        int b = bm / s->c_out, m = bm % s->c_out, g = m / mg;
        for (int oh = 0; oh < v->out_h; oh++)
            for (int ow = 0; ow < v->out_w; ow++) {
                xcnn_sum sum = XCNN_SUM_ZERO;
                sum.s = bias ? bias[m] : 0;
                for (int c = 0; c < cg; c++)
                    for (int i = 0; i < v->k_h; i++) {
                        int ih = input_pos(oh, i, v->stride_h, v->pad_top, v->dil_h, v->in_h);
                        if (ih < 0) continue; /* the padding: zero */
                        for (int j = 0; j < v->k_w; j++) {
                            int iw = input_pos(ow, j, v->stride_w, v->pad_left, v->dil_w,
                                               v->in_w);
                            if (iw < 0) continue;
                            xcnn_sum_add(&sum, (xcnn_acc)w[at(m, c, i, j, cg, v->k_h, v->k_w)] *
                                                   x[at(b, g * cg + c, ih, iw, s->c_in, v->in_h,
                                                        v->in_w)]);
                        }
                    }
                y[at(b, m, oh, ow, s->c_out, v->out_h, v->out_w)] = (float)xcnn_sum_get(&sum);
            }
    }
}

void xcnn_conv_reference_backward(const xcnn_conv_shape *s, int batch, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *db)
{
    const xcnn_window2d *v = &s->win;
    int cg = s->c_in / s->group, mg = s->c_out / s->group;
    if (db)
        for (int m = 0; m < s->c_out; m++) {
            xcnn_sum sum = XCNN_SUM_ZERO;
            for (int b = 0; b < batch; b++)
                for (int oh = 0; oh < v->out_h; oh++)
                    for (int ow = 0; ow < v->out_w; ow++)
                        xcnn_sum_add(&sum, dy[at(b, m, oh, ow, s->c_out, v->out_h, v->out_w)]);
            db[m] += (float)xcnn_sum_get(&sum);
        }
    if (dw) {
#pragma omp parallel for schedule(dynamic)
        for (int m = 0; m < s->c_out; m++) {
            int g = m / mg;
            for (int c = 0; c < cg; c++)
                for (int i = 0; i < v->k_h; i++)
                    for (int j = 0; j < v->k_w; j++) {
                        xcnn_sum sum = XCNN_SUM_ZERO;
                        for (int b = 0; b < batch; b++)
                            for (int oh = 0; oh < v->out_h; oh++) {
                                int ih = input_pos(oh, i, v->stride_h, v->pad_top, v->dil_h,
                                                   v->in_h);
                                if (ih < 0) continue;
                                for (int ow = 0; ow < v->out_w; ow++) {
                                    int iw = input_pos(ow, j, v->stride_w, v->pad_left,
                                                       v->dil_w, v->in_w);
                                    if (iw < 0) continue;
                                    xcnn_sum_add(&sum, (xcnn_acc)dy[at(b, m, oh, ow, s->c_out,
                                                                       v->out_h, v->out_w)] *
                                                           x[at(b, g * cg + c, ih, iw, s->c_in,
                                                                v->in_h, v->in_w)]);
                                }
                            }
                        dw[at(m, c, i, j, cg, v->k_h, v->k_w)] += (float)xcnn_sum_get(&sum);
                    }
        }
    }
    if (dx) {
#pragma omp parallel for schedule(dynamic)
        for (int bc = 0; bc < batch * s->c_in; bc++) {
            int b = bc / s->c_in, ci = bc % s->c_in, g = ci / cg, c = ci % cg;
            for (int ih = 0; ih < v->in_h; ih++)
                for (int iw = 0; iw < v->in_w; iw++) {
                    xcnn_sum sum = XCNN_SUM_ZERO;
                    for (int m = g * mg; m < (g + 1) * mg; m++)
                        for (int i = 0; i < v->k_h; i++) {
                            int oh = output_pos(ih, i, v->stride_h, v->pad_top, v->dil_h,
                                                v->out_h);
                            if (oh < 0) continue;
                            for (int j = 0; j < v->k_w; j++) {
                                int ow = output_pos(iw, j, v->stride_w, v->pad_left, v->dil_w,
                                                    v->out_w);
                                if (ow < 0) continue;
                                xcnn_sum_add(&sum, (xcnn_acc)w[at(m, c, i, j, cg, v->k_h, v->k_w)] *
                                                       dy[at(b, m, oh, ow, s->c_out, v->out_h,
                                                             v->out_w)]);
                            }
                        }
                    dx[at(b, ci, ih, iw, s->c_in, v->in_h, v->in_w)] += (float)xcnn_sum_get(&sum);
                }
        }
    }
}

/* ---- which path runs ------------------------------------------------- */

static void conv_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    const xcnn_conv_shape *s = n->params;
    /* a conv with a pool in it has no reference form (fuse.c makes one
     * only where the reference is off): its reference is the two nodes */
    if (s->fast && (!g->reference || n->fused_pool)) {
        xcnn_conv_fast_forward(g, n, batch, scratch);
        return;
    }
    const xcnn_tensor *b = xcnn_in(g, n, 2);
    float *y = xcnn_out(g, n, 0)->data;
    xcnn_conv_reference_forward(s, batch, xcnn_in(g, n, 0)->data, xcnn_in(g, n, 1)->data,
                                b ? b->data : NULL, y);
    /* An Add, then a Relu or Clip, that fuse.c folded into this conv
     * (inference-only models): NaN gives 0, as the Relu op. */
    size_t count = (size_t)batch * s->c_out * s->win.out_h * s->win.out_w;
    if (n->fused_add) { /* an Add folded in: its other input, before the activation */
        const float *r = xcnn_in(g, n, 3)->data;
        for (size_t i = 0; i < count; i++) y[i] += r[i];
    }
    if (n->fused_relu)
        for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : 0.0f;
    if (n->fused_clip) /* as the Clip op: NaN stays, lo > hi gives hi */
        for (size_t i = 0; i < count; i++) {
            float v = y[i] < n->clip_lo ? n->clip_lo : y[i];
            y[i] = v > n->clip_hi ? n->clip_hi : v;
        }
}

static void conv_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                          const xcnn_bwd_ctx *ctx)
{
    (void)ctx;
    const xcnn_conv_shape *s = n->params;
    if (s->fast && !g->reference) {
        xcnn_conv_fast_backward(g, n, batch, scratch);
        return;
    }
    const xcnn_tensor *x = xcnn_in(g, n, 0), *w = xcnn_in(g, n, 1), *b = xcnn_in(g, n, 2);
    xcnn_conv_reference_backward(s, batch, x->data, w->data, xcnn_out(g, n, 0)->grad,
                                 xcnn_tensor_grad(x), xcnn_tensor_grad(w), xcnn_tensor_grad(b));
}

/* The fast paths convert weights (conv_fast.c); the reference reads them
 * as they are, so on it there is nothing to prepare. */
xcnn_status xcnn_conv_prepare_inference(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_conv_shape *s = n->params;
    return s->fast ? xcnn_conv_fast_prepare_inference(g, n, err) : XCNN_OK;
}

/* The reference adds a residual as it applies the activation, after the
 * whole output; the fast paths say for themselves. */
int xcnn_conv_takes_residual(const xcnn_node *n)
{
    const xcnn_conv_shape *s = n->params;
    return s && (!s->fast || xcnn_conv_fast_takes_residual(n));
}

int xcnn_conv_takes_pool(xcnn_node *n, const xcnn_node *pool)
{
    const xcnn_conv_shape *s = n->params;
    xcnn_window2d w;
    return s && s->fast && xcnn_maxpool_window(pool, &w) && xcnn_conv_fast_takes_pool(n, &w);
}

/* Every attribute of ONNX Conv (opsets 1 to 22), all read by setup. */
static const xcnn_attr_spec conv_attrs[] = {
    {"auto_pad", XCNN_ATTR_STRING, 0, NULL}, {"dilations", XCNN_ATTR_INTS, 0, NULL},
    {"group", XCNN_ATTR_INT, 0, NULL},       {"kernel_shape", XCNN_ATTR_INTS, 0, NULL},
    {"pads", XCNN_ATTR_INTS, 0, NULL},       {"strides", XCNN_ATTR_INTS, 0, NULL},
    {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_conv = {"Conv", conv_setup, conv_forward, conv_backward, conv_attrs, 0};
