/*
 * Pooling over 2-D windows, matching PyTorch's CPU kernels:
 *
 *   MaxPool      y = max over the window of x (padding never wins);
 *                dx[argmax] += dy, argmax = the FIRST maximum in scan
 *                order (rows, then columns), as PyTorch's
 *                `if (val > maxval || isnan(val))` picks it (a NaN wins).
 *   AveragePool  y = sum over the window of x / divisor, where the window
 *                [start, start + k) is clipped to [-pad_begin, in + pad_end)
 *                and, with count_include_pad=1, divisor is the size of that
 *                clipped window (padding counted); with count_include_pad=0
 *                it is the number of input elements in it.
 *                dx[i] += dy / divisor for every input element i of the window.
 *   GlobalAveragePool  y[b, c] = mean over all pixels of x[b, c];
 *                dx += dy / pixels.
 *
 * Every (sample, channel) plane is independent, so planes run in parallel
 * without changing any sum.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ops.h"
#include "../im2col.h"

typedef struct pool_params {
    xcnn_window2d win;
    int channels;
    int count_include_pad; /* AveragePool only */
} pool_params;

/* ---- setup shared by MaxPool and AveragePool ------------------------ */

/* Every window must hold at least one input element: a window made only
 * of padding has no max and no average of inputs. (PyTorch forbids it by
 * requiring pad <= kernel / 2; ONNX does not.) */
static int axis_has_empty_window(int in, int out, int k, int s, int d, int pad)
{
    for (int o = 0; o < out; o++) {
        int start = o * s - pad, any = 0;
        for (int t = 0; t < k && !any; t++) any = start + t * d >= 0 && start + t * d < in;
        if (!any) return 1;
    }
    return 0;
}

static xcnn_status pool_setup(xcnn_graph *g, xcnn_node *n, const char *op, int is_max,
                              xcnn_err *err)
{
    xcnn_tensor *x = xcnn_in(g, n, 0);
    if (n->n_in != 1 || !x)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s '%s': expected one input", op, n->name);
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "%s '%s': output %d (Indices) is not supported", op, n->name, i);
    if (x->kind == XCNN_T_CONST)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s '%s': input '%s' is a constant", op,
                         n->name, x->name);
    if (x->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "%s '%s': input '%s' has %d dims; only 2-D pooling (4-D NCHW) is "
                         "supported", op, n->name, x->name, x->ndim);
    int nk = 0;
    const int64_t *ks = xcnn_attr_ints(n, "kernel_shape", &nk);
    if (!ks)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s '%s': kernel_shape is missing", op, n->name);
    if (nk != 2)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "%s '%s': kernel_shape has %d values, expected 2", op, n->name, nk);
    if (is_max && xcnn_attr_int(n, "storage_order", 0) != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "%s '%s': storage_order=1 is not supported", op, n->name);
    int64_t ceil_mode = xcnn_attr_int(n, "ceil_mode", 0);
    int64_t cip = xcnn_attr_int(n, "count_include_pad", 0);
    if ((ceil_mode != 0 && ceil_mode != 1) || (cip != 0 && cip != 1))
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "%s '%s': ceil_mode and count_include_pad must be 0 or 1", op, n->name);

    xcnn_window2d w;
    xcnn_status st = xcnn_window2d_setup(n, op, x->dims[2], x->dims[3], ks[0], ks[1],
                                         (int)ceil_mode, &w, err);
    if (st) return st;
    if (!is_max && (w.dil_h != 1 || w.dil_w != 1))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "%s '%s': dilations other than 1 are not supported", op, n->name);
    if (axis_has_empty_window(w.in_h, w.out_h, w.k_h, w.stride_h, w.dil_h, w.pad_top) ||
        axis_has_empty_window(w.in_w, w.out_w, w.k_w, w.stride_w, w.dil_w, w.pad_left))
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "%s '%s': a window lies entirely in the padding (pads too large "
                         "for the kernel)", op, n->name);

    pool_params *p = calloc(1, sizeof *p);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "%s '%s': out of memory", op, n->name);
    p->win = w;
    p->channels = (int)x->dims[1];
    p->count_include_pad = (int)cip;
    int64_t dims[4] = {1, x->dims[1], w.out_h, w.out_w};
    if ((st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), 4, dims, err))) {
        free(p);
        return st;
    }
    free(n->params);
    n->params = p;
    n->scratch_floats = 0;
    n->n_params = 0;
    n->flops = (double)x->dims[1] * w.out_h * w.out_w * w.k_h * w.k_w;
    return XCNN_OK;
}

/* The taps of output (oh, ow) that fall inside the input, along one axis:
 * t in [lo, hi) reads input start + t * d. */
static void axis_taps(int o, int in, int k, int s, int d, int pad, int *start, int *lo,
                      int *hi)
{
    *start = o * s - pad;
    *lo = *start >= 0 ? 0 : (-*start + d - 1) / d;
    int last = in - 1 - *start; /* largest offset t * d still inside */
    *hi = last < 0 ? 0 : last / d + 1;
    if (*hi > k) *hi = k;
}

/* ---- MaxPool --------------------------------------------------------- */

/* Index in the plane of the window's first maximum (the one PyTorch sends
 * the gradient to); forward and backward both use it, so they agree. */
static int window_argmax(const xcnn_window2d *w, const float *x, int oh, int ow)
{
    int hs, hlo, hhi, ws, wlo, whi;
    axis_taps(oh, w->in_h, w->k_h, w->stride_h, w->dil_h, w->pad_top, &hs, &hlo, &hhi);
    axis_taps(ow, w->in_w, w->k_w, w->stride_w, w->dil_w, w->pad_left, &ws, &wlo, &whi);
    int best = (hs + hlo * w->dil_h) * w->in_w + ws + wlo * w->dil_w;
    float maxval = -INFINITY;
    for (int i = hlo; i < hhi; i++)
        for (int j = wlo; j < whi; j++) {
            int idx = (hs + i * w->dil_h) * w->in_w + ws + j * w->dil_w;
            float v = x[idx];
            if (v > maxval || isnan(v)) {
                maxval = v;
                best = idx;
            }
        }
    return best;
}

static void maxpool_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    int planes = batch * p->channels;
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow = 0; ow < w->out_w; ow++)
                yp[oh * w->out_w + ow] = xp[window_argmax(w, xp, oh, ow)];
    }
}

static void maxpool_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                             const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    const xcnn_tensor *xt = xcnn_in(g, n, 0);
    float *dx = xcnn_tensor_grad(xt);
    if (!dx) return;
    const float *dy = xcnn_out(g, n, 0)->grad;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    int planes = batch * p->channels;
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = xt->data + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        float *dxp = dx + pl * in_plane;
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow = 0; ow < w->out_w; ow++)
                dxp[window_argmax(w, xp, oh, ow)] += dyp[oh * w->out_w + ow];
    }
}

/* ---- AveragePool ----------------------------------------------------- */

/* Input rows [*lo, *hi) of window o along one axis, and the size of the
 * window clipped to the padded input (the count_include_pad divisor). */
static void avg_axis(int o, int in, int k, int s, int pad_begin, int pad_end, int *lo, int *hi,
                     int *padded)
{
    int start = o * s - pad_begin, end = start + k;
    if (end > in + pad_end) end = in + pad_end;
    *padded = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end > in ? in : end;
}

static float avg_divisor(const pool_params *p, int hlo, int hhi, int wlo, int whi, int ph,
                         int pw)
{
    return p->count_include_pad ? (float)(ph * pw) : (float)((hhi - hlo) * (whi - wlo));
}

static void avgpool_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    int planes = batch * p->channels;
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        for (int oh = 0; oh < w->out_h; oh++) {
            int hlo, hhi, ph;
            avg_axis(oh, w->in_h, w->k_h, w->stride_h, w->pad_top, w->pad_bottom, &hlo, &hhi,
                     &ph);
            for (int ow = 0; ow < w->out_w; ow++) {
                int wlo, whi, pw;
                avg_axis(ow, w->in_w, w->k_w, w->stride_w, w->pad_left, w->pad_right, &wlo,
                         &whi, &pw);
                float sum = 0;
                for (int i = hlo; i < hhi; i++)
                    for (int j = wlo; j < whi; j++) sum += xp[i * w->in_w + j];
                yp[oh * w->out_w + ow] = sum / avg_divisor(p, hlo, hhi, wlo, whi, ph, pw);
            }
        }
    }
}

static void avgpool_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                             const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    if (!dx) return;
    const float *dy = xcnn_out(g, n, 0)->grad;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    int planes = batch * p->channels;
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *dyp = dy + pl * out_plane;
        float *dxp = dx + pl * in_plane;
        for (int oh = 0; oh < w->out_h; oh++) {
            int hlo, hhi, ph;
            avg_axis(oh, w->in_h, w->k_h, w->stride_h, w->pad_top, w->pad_bottom, &hlo, &hhi,
                     &ph);
            for (int ow = 0; ow < w->out_w; ow++) {
                int wlo, whi, pw;
                avg_axis(ow, w->in_w, w->k_w, w->stride_w, w->pad_left, w->pad_right, &wlo,
                         &whi, &pw);
                float d = dyp[oh * w->out_w + ow] / avg_divisor(p, hlo, hhi, wlo, whi, ph, pw);
                for (int i = hlo; i < hhi; i++)
                    for (int j = wlo; j < whi; j++) dxp[i * w->in_w + j] += d;
            }
        }
    }
}

/* ---- GlobalAveragePool ----------------------------------------------- */

static xcnn_status gap_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_tensor *x = xcnn_in(g, n, 0);
    if (n->n_in != 1 || n->n_out != 1 || !x)
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "globalaveragepool '%s': expected one input and one output", n->name);
    if (x->kind == XCNN_T_CONST || x->ndim < 3)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "globalaveragepool '%s': input '%s' must be an N x C x spatial... "
                         "activation (it has %d dims)", n->name, x->name, x->ndim);
    size_t pixels = xcnn_tensor_sample_numel(x) / (size_t)(x->dims[1] ? x->dims[1] : 1);
    if (pixels == 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "globalaveragepool '%s': input '%s' is empty",
                         n->name, x->name);
    int64_t dims[XCNN_MAX_DIMS];
    dims[0] = 1;
    dims[1] = x->dims[1];
    for (int i = 2; i < x->ndim; i++) dims[i] = 1;
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, dims, err);
    if (st) return st;
    n->scratch_floats = 0;
    n->n_params = 0;
    n->flops = (double)xcnn_tensor_sample_numel(x);
    return XCNN_OK;
}

static void gap_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const xcnn_tensor *xt = xcnn_in(g, n, 0);
    float *y = xcnn_out(g, n, 0)->data;
    int planes = batch * (int)xt->dims[1];
    size_t pixels = xcnn_tensor_sample_numel(xt) / (size_t)xt->dims[1];
#pragma omp parallel for schedule(static) if ((size_t)planes * pixels > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = xt->data + pl * pixels;
        double sum = 0;
        for (size_t i = 0; i < pixels; i++) sum += xp[i];
        y[pl] = (float)(sum / (double)pixels);
    }
}

static void gap_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const xcnn_tensor *xt = xcnn_in(g, n, 0);
    float *dx = xcnn_tensor_grad(xt);
    if (!dx) return;
    const float *dy = xcnn_out(g, n, 0)->grad;
    int planes = batch * (int)xt->dims[1];
    size_t pixels = xcnn_tensor_sample_numel(xt) / (size_t)xt->dims[1];
#pragma omp parallel for schedule(static) if ((size_t)planes * pixels > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float d = dy[pl] / (float)pixels;
        float *dxp = dx + pl * pixels;
        for (size_t i = 0; i < pixels; i++) dxp[i] += d;
    }
}

static xcnn_status maxpool_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return pool_setup(g, n, "maxpool", 1, err);
}

static xcnn_status avgpool_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return pool_setup(g, n, "averagepool", 0, err);
}

const xcnn_op_def xcnn_op_maxpool = {"MaxPool", maxpool_setup, maxpool_forward,
                                     maxpool_backward};
const xcnn_op_def xcnn_op_averagepool = {"AveragePool", avgpool_setup, avgpool_forward,
                                         avgpool_backward};
const xcnn_op_def xcnn_op_globalaveragepool = {"GlobalAveragePool", gap_setup, gap_forward,
                                               gap_backward};
