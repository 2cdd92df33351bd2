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
 *
 * MaxPool's backward finds each window's argmax again (there is no buffer
 * kept between passes), so finding it is made cheap: the taps of every
 * output row and column that fall inside the input are tabulated at setup
 * (no division per output), and windows whose columns all lie inside the
 * input are scanned several outputs at a time, one output per vector lane.
 * That fast path must give the reference's bits (maxpool_reference_argmax:
 * every tap of the window tested in scan order), which g->reference
 * (make REFERENCE=1) runs instead. The forward needs no argmax: it runs
 * on kernels/depthwise.h's phase planes padded with -inf, the same rule
 * tap by tap (the scan below remains for dilated windows). AveragePool and GlobalAveragePool have
 * no fast path: their loops are the formulas above as written (the threads
 * only share out the planes), and so are their own reference.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops.h"
#include "window.h"
#include "../base/config.h"
#include "../base/cpu.h"
#include "../base/threads.h"
#include "../kernels/depthwise.h"

typedef struct pool_params {
    xcnn_window2d win;
    int channels;
    int count_include_pad; /* AveragePool only */
    /* MaxPool only: output row oh reads taps i in [row_lo[oh], row_hi[oh])
     * inside the input, output column ow taps [col_lo[ow], col_hi[ow]);
     * columns [inner_lo, inner_hi) have all k_w taps inside. The arrays
     * point into taps[], in the same allocation: freed with the params,
     * which are never copied. */
    int *row_lo, *row_hi, *col_lo, *col_hi;
    int inner_lo, inner_hi;
    /* MaxPool's forward over phase planes (kernels/depthwise.h): the
     * scratch floats of one thread's plane, 0 for the scan below */
    size_t phase_slot;
    int taps[];
} pool_params;

/* ---- setup shared by MaxPool and AveragePool ------------------------ */

/* The taps of output o that fall inside the input, along one axis:
 * t in [lo, hi) reads input start + t * d, start = o * s - pad. */
static void axis_taps(int o, int in, int k, int s, int d, int pad, int *lo, int *hi)
{
    int start = o * s - pad;
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    int last = in - 1 - start; /* largest offset t * d still inside */
    *hi = last < 0 ? 0 : last / d + 1;
    if (*hi > k) *hi = k;
}

/* Params with MaxPool's tap tables filled in (AveragePool leaves them
 * empty), or NULL when out of memory. */
static pool_params *params_new(const xcnn_node *node, const xcnn_window2d *w, int is_max)
{
    size_t n = is_max ? 2 * ((size_t)w->out_h + (size_t)w->out_w) : 0;
    if (n > (SIZE_MAX - sizeof(pool_params)) / sizeof(int)) return NULL;
    pool_params *p = xcnn_node_calloc(node, 1, sizeof *p + n * sizeof(int));
    if (!p || !is_max) return p;
    p->row_lo = p->taps;
    p->row_hi = p->row_lo + w->out_h;
    p->col_lo = p->row_hi + w->out_h;
    p->col_hi = p->col_lo + w->out_w;
    for (int o = 0; o < w->out_h; o++)
        axis_taps(o, w->in_h, w->k_h, w->stride_h, w->dil_h, w->pad_top, &p->row_lo[o],
                  &p->row_hi[o]);
    for (int o = 0; o < w->out_w; o++)
        axis_taps(o, w->in_w, w->k_w, w->stride_w, w->dil_w, w->pad_left, &p->col_lo[o],
                  &p->col_hi[o]);
    /* Windows move right with o, so the full ones form one run. */
    int lo = 0;
    while (lo < w->out_w && p->col_lo[lo] != 0) lo++;
    int hi = lo;
    while (hi < w->out_w && p->col_lo[hi] == 0 && p->col_hi[hi] == w->k_w) hi++;
    p->inner_lo = lo;
    p->inner_hi = hi;
    return p;
}

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
    /* storage_order only orders the Indices output (refused above), so
     * either value gives our output; anything else is not ONNX. */
    int64_t order = xcnn_attr_int(n, "storage_order", 0);
    if (is_max && order != 0 && order != 1)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s '%s': storage_order must be 0 or 1, not %lld",
                         op, n->name, (long long)order);
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

    pool_params *p = params_new(n, &w, is_max);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "%s '%s': out of memory", op, n->name);
    p->win = w;
    p->channels = (int)x->dims[1];
    p->count_include_pad = (int)cip;
    int64_t dims[4] = {1, x->dims[1], w.out_h, w.out_w};
    if ((st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), 4, dims, err))) {
        xcnn_node_free_mem(n, p);
        return st;
    }
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    n->scratch_floats = 0;
    if (is_max && xcnn_depthwise_fits(&w)) {
        /* One thread's slot, as the depthwise conv's (ops/conv_fast.c):
         * threads take as many as the arena's scratch holds. Small builds,
         * whose scratch is capped (base/config.h), keep the scan when a
         * plane needs more. */
        size_t slot = xcnn_depthwise_scratch(&w);
        int capped = XCNN_CONV_SCRATCH_FLOATS > 0 && slot > (size_t)XCNN_CONV_SCRATCH_FLOATS;
        if (!capped && slot <= SIZE_MAX / sizeof(float)) {
            p->phase_slot = slot;
            n->scratch_floats = slot;
        }
    }
    n->n_params = 0;
    n->flops = (double)x->dims[1] * w.out_h * w.out_w * w.k_h * w.k_w;
    return XCNN_OK;
}

/* ---- MaxPool's reference: every tap of every window, in scan order ---- */

/* Index in the plane of the window's first maximum, PyTorch's rule: a
 * later tap wins only if it is larger, or NaN. Taps in the padding are
 * skipped (padding never wins); the first tap inside is the answer when
 * nothing beats -inf. */
static int maxpool_reference_argmax(const xcnn_window2d *w, const float *x, int oh, int ow)
{
    int best = -1;
    float maxval = -INFINITY;
    for (int i = 0; i < w->k_h; i++)
        for (int j = 0; j < w->k_w; j++) {
            int ih = oh * w->stride_h - w->pad_top + i * w->dil_h;
            int iw = ow * w->stride_w - w->pad_left + j * w->dil_w;
            if (ih < 0 || ih >= w->in_h || iw < 0 || iw >= w->in_w) continue;
            int idx = ih * w->in_w + iw;
            if (best < 0) best = idx; /* the first tap inside */
            if (x[idx] > maxval || isnan(x[idx])) {
                maxval = x[idx];
                best = idx;
            }
        }
    return best;
}

/* y = x at the argmax; backward dx[argmax] += dy, in output order. */
static void maxpool_reference(const pool_params *p, int planes, const float *x, float *y,
                              const float *dy, float *dx)
{
    const xcnn_window2d *w = &p->win;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    for (int pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow = 0; ow < w->out_w; ow++) {
                const float *xp = x + pl * in_plane;
                int best = maxpool_reference_argmax(w, xp, oh, ow);
                size_t o = pl * out_plane + (size_t)oh * w->out_w + ow;
                if (y) y[o] = xp[best];
                if (dx) dx[pl * in_plane + best] += dy[o];
            }
}

/* ---- MaxPool's fast path -------------------------------------------- */

/* Index in the plane of the window's first maximum (the one PyTorch sends
 * the gradient to); forward and backward both use it, so they agree. */
static int window_argmax(const pool_params *p, const float *x, int oh, int ow)
{
    const xcnn_window2d *w = &p->win;
    int hs = oh * w->stride_h - w->pad_top, ws = ow * w->stride_w - w->pad_left;
    int hlo = p->row_lo[oh], hhi = p->row_hi[oh], wlo = p->col_lo[ow], whi = p->col_hi[ow];
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

/* Outputs whose argmax is found together, into arrays on the stack (the
 * rows of a plane can be long): base/config.h. */
#define MAXPOOL_SEGMENT XCNN_MAXPOOL_SEGMENT

/* Runs of full-width windows are a multiple of this many outputs, the
 * rest go one by one: gcc -O2 vectorises only a loop that leaves no
 * scalar remainder, and 4 floats fill an SSE vector (x86-64's baseline;
 * at -O3, or with wider vectors, gcc adds its own remainder loop). Rows
 * are short (56 outputs in ResNet's pool), so a small remainder matters. */
#define MAXPOOL_VEC 4

/* window_argmax of the n outputs (oh, ow0 + j), whose columns all lie
 * inside the input, into best[j]. Each lane j follows the same rule over
 * the same taps in the same order, written without branches so that the
 * compiler runs several lanes per vector; a lane keeps the offset of its
 * best tap from the window's corner. */
static void run_argmax(const pool_params *p, const float *x, int oh, int ow0, int n, int *best)
{
    const xcnn_window2d *w = &p->win;
    const int hlo = p->row_lo[oh], hhi = p->row_hi[oh];
    const int corner = (oh * w->stride_h - w->pad_top) * w->in_w + ow0 * w->stride_w -
                       w->pad_left;
    float maxval[MAXPOOL_SEGMENT];
    int off[MAXPOOL_SEGMENT];
    n &= ~(MAXPOOL_VEC - 1); /* already so: tells the compiler */
    for (int j = 0; j < n; j++) {
        maxval[j] = -INFINITY;
        off[j] = hlo * w->dil_h * w->in_w;
    }
    for (int i = hlo; i < hhi; i++)
        for (int t = 0; t < w->k_w; t++) {
            const int tap = i * w->dil_h * w->in_w + t * w->dil_w;
            const float *xt = x + (corner + tap);
            for (int j = 0; j < n; j++) {
                float v = xt[j * w->stride_w];
                int take = (v > maxval[j]) | (v != v); /* v != v: isnan(v) */
                maxval[j] = take ? v : maxval[j];
                off[j] = take ? tap : off[j];
            }
        }
    for (int j = 0; j < n; j++) best[j] = corner + j * w->stride_w + off[j];
}

/* The argmax of outputs (oh, ow0 + j), j < count <= MAXPOOL_SEGMENT, into
 * best[j]: the full-width windows in one run (a multiple of MAXPOOL_VEC
 * of them), the others one by one. */
static void segment_argmax(const pool_params *p, const float *x, int oh, int ow0, int count,
                           int *best)
{
    int lo = p->inner_lo > ow0 ? p->inner_lo : ow0;
    int hi = p->inner_hi < ow0 + count ? p->inner_hi : ow0 + count;
    int run = hi > lo ? (hi - lo) & ~(MAXPOOL_VEC - 1) : 0;
    if (run == 0) lo = ow0;
    for (int ow = ow0; ow < lo; ow++) best[ow - ow0] = window_argmax(p, x, oh, ow);
    if (run > 0) run_argmax(p, x, oh, lo, run, best + (lo - ow0));
    for (int ow = lo + run; ow < ow0 + count; ow++) best[ow - ow0] = window_argmax(p, x, oh, ow);
}

/* The forward needs the maxima, not where they are: run_argmax's rule
 * (a later tap wins only if larger, or NaN), so each y is x at the argmax
 * bit for bit, without the offsets. Tracking them as well, in memory
 * beside the maxima, kept the loop from vectorising: ResNet-18's pool
 * took 1.4 ms, as long as one of its 3x3 convs. Cloned (base/cpu.h):
 * its stride-2 loads vectorise with AVX-512's permutes. */
XCNN_VECTOR_CLONES
static void run_max(const pool_params *p, const float *x, int oh, int ow0, int n, float *y)
{
    const xcnn_window2d *w = &p->win;
    const int hlo = p->row_lo[oh], hhi = p->row_hi[oh];
    const int corner = (oh * w->stride_h - w->pad_top) * w->in_w + ow0 * w->stride_w -
                       w->pad_left;
    float maxval[MAXPOOL_SEGMENT];
    for (int j = 0; j < n; j++) maxval[j] = -INFINITY;
    for (int i = hlo; i < hhi; i++)
        for (int t = 0; t < w->k_w; t++) {
            const float *xt = x + (corner + i * w->dil_h * w->in_w + t * w->dil_w);
            /* strides 1 and 2 spelled out: a stride the compiler knows is
             * a shuffle of whole vectors, one it does not a gather */
            if (w->stride_w == 1)
                for (int j = 0; j < n; j++) {
                    float v = xt[j];
                    maxval[j] = ((v > maxval[j]) | (v != v)) ? v : maxval[j]; /* v != v: isnan */
                }
            else if (w->stride_w == 2)
                for (int j = 0; j < n; j++) {
                    float v = xt[2 * j];
                    maxval[j] = ((v > maxval[j]) | (v != v)) ? v : maxval[j];
                }
            else
                for (int j = 0; j < n; j++) {
                    float v = xt[j * w->stride_w];
                    maxval[j] = ((v > maxval[j]) | (v != v)) ? v : maxval[j];
                }
        }
    for (int j = 0; j < n; j++) y[j] = maxval[j];
}

/* y for outputs (oh, ow0 + j), j < count <= MAXPOOL_SEGMENT: the
 * full-width windows by run_max, all of them (this build is -O3 and the
 * clones have their own remainder loops), the others one by one. */
static void segment_max(const pool_params *p, const float *x, int oh, int ow0, int count,
                        float *y)
{
    int lo = p->inner_lo > ow0 ? p->inner_lo : ow0;
    int hi = p->inner_hi < ow0 + count ? p->inner_hi : ow0 + count;
    int run = hi > lo ? hi - lo : 0;
    if (run == 0) lo = ow0;
    for (int ow = ow0; ow < lo; ow++) y[ow - ow0] = x[window_argmax(p, x, oh, ow)];
    if (run > 0) run_max(p, x, oh, lo, run, y + (lo - ow0));
    for (int ow = lo + run; ow < ow0 + count; ow++) y[ow - ow0] = x[window_argmax(p, x, oh, ow)];
}

/* The forward over phase planes, planes shared out statically between as
 * many threads as the scratch has slots for. */
static void maxpool_phase_forward(const xcnn_graph *g, const xcnn_node *n, int planes,
                                  const float *x, float *y, float *scratch)
{
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    size_t room = g->scratch_floats > n->scratch_floats ? g->scratch_floats : n->scratch_floats;
    int simd = xcnn_depthwise_simd();
    int slots = xcnn_fork_worth((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
                    ? xcnn_scratch_slots(room, p->phase_slot, planes)
                    : 1;
    if (slots == 1) {
        for (int pl = 0; pl < planes; pl++)
            xcnn_maxpool_rows(w, x + pl * in_plane, 0, w->out_h, y + pl * out_plane, scratch, simd);
        return;
    }
#pragma omp parallel num_threads(slots)
    {
        float *mine = scratch + (size_t)xcnn_thread_num() * p->phase_slot;
#pragma omp for schedule(static)
        for (int pl = 0; pl < planes; pl++)
            xcnn_maxpool_rows(w, x + pl * in_plane, 0, w->out_h, y + pl * out_plane, mine, simd);
    }
}

#ifdef XCNN_DW_X86
/* ResNet's stem pool (3x3, stride 2) read straight from the planes with
 * AVX-512 (kernels/maxpool_3x3s2.c): no phase planes, no scratch. Planes
 * shared out statically, each thread writing whole planes of y. */
static void maxpool_3x3s2_forward(int planes, const xcnn_window2d *w, const float *x, float *y)
{
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
#pragma omp parallel for schedule(static) if (xcnn_fork_worth((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN))
    for (int pl = 0; pl < planes; pl++)
        xcnn_maxpool_3x3s2_rows(w, x + pl * in_plane, 0, w->out_h, y + pl * out_plane);
}
#endif

static void maxpool_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    const pool_params *p = n->params;
    const xcnn_window2d *w = &p->win;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t in_plane = (size_t)w->in_h * w->in_w, out_plane = (size_t)w->out_h * w->out_w;
    int planes = batch * p->channels;
    if (g->reference) {
        maxpool_reference(p, planes, x, y, NULL, NULL);
        return;
    }
#ifdef XCNN_DW_X86
    if (xcnn_maxpool_3x3s2_fits(w) && xcnn_depthwise_simd()) {
        maxpool_3x3s2_forward(planes, w, x, y);
        return;
    }
#endif
    if (p->phase_slot) {
        maxpool_phase_forward(g, n, planes, x, y, scratch);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow0 = 0; ow0 < w->out_w; ow0 += MAXPOOL_SEGMENT) {
                int count = w->out_w - ow0;
                if (count > MAXPOOL_SEGMENT) count = MAXPOOL_SEGMENT;
                segment_max(p, xp, oh, ow0, count, yp + (size_t)oh * w->out_w + ow0);
            }
    }
}

/* Each dy goes to its window's argmax, in output order as before (two
 * windows can share an argmax, and the order of their sum is fixed). */
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
    if (g->reference) {
        maxpool_reference(p, planes, xt->data, NULL, dy, dx);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)planes * (in_plane + out_plane) > XCNN_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = xt->data + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        float *dxp = dx + pl * in_plane;
        int best[MAXPOOL_SEGMENT];
        for (int oh = 0; oh < w->out_h; oh++)
            for (int ow0 = 0; ow0 < w->out_w; ow0 += MAXPOOL_SEGMENT) {
                int count = w->out_w - ow0;
                if (count > MAXPOOL_SEGMENT) count = MAXPOOL_SEGMENT;
                segment_argmax(p, xp, oh, ow0, count, best);
                const float *dyr = dyp + (size_t)oh * w->out_w + ow0;
                for (int j = 0; j < count; j++) dxp[best[j]] += dyr[j];
            }
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

static float plane_mean(const float *xp, size_t pixels)
{
    xcnn_sum sum = XCNN_SUM_ZERO;
    for (size_t i = 0; i < pixels; i++) xcnn_sum_add(&sum, xp[i]);
    return (float)(xcnn_sum_get(&sum) / (xcnn_acc)pixels);
}

static void gap_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const xcnn_tensor *xt = xcnn_in(g, n, 0);
    float *y = xcnn_out(g, n, 0)->data;
    int planes = batch * (int)xt->dims[1];
    size_t pixels = xcnn_tensor_sample_numel(xt) / (size_t)xt->dims[1];
    if (!xcnn_fork_worth((size_t)planes * pixels > XCNN_PARALLEL_MIN)) {
        for (int pl = 0; pl < planes; pl++) y[pl] = plane_mean(xt->data + pl * pixels, pixels);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) y[pl] = plane_mean(xt->data + pl * pixels, pixels);
}

/* A plane mean's gradient dy, shared by its pixels. */
static void spread_mean_grad(float dy, float *dxp, size_t pixels)
{
    float d = dy / (float)pixels;
    for (size_t i = 0; i < pixels; i++) dxp[i] += d;
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
    if (!xcnn_fork_worth((size_t)planes * pixels > XCNN_PARALLEL_MIN)) {
        for (int pl = 0; pl < planes; pl++) spread_mean_grad(dy[pl], dx + pl * pixels, pixels);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) spread_mean_grad(dy[pl], dx + pl * pixels, pixels);
}

static xcnn_status maxpool_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return pool_setup(g, n, "maxpool", 1, err);
}

int xcnn_maxpool_window(const xcnn_node *n, xcnn_window2d *w)
{
    const pool_params *p = n->params;
    if (n->def != &xcnn_op_maxpool || !p) return 0;
    *w = p->win;
    return 1;
}

static xcnn_status avgpool_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return pool_setup(g, n, "averagepool", 0, err);
}

/* The pools' ONNX attributes (opsets 7 to 19: AveragePool's dilations
 * came in 19; other than 1 they are refused). GlobalAveragePool has none. */
static const xcnn_attr_spec maxpool_attrs[] = {
    {"auto_pad", XCNN_ATTR_STRING, 0, NULL}, {"ceil_mode", XCNN_ATTR_INT, 0, NULL},
    {"dilations", XCNN_ATTR_INTS, 0, NULL},  {"kernel_shape", XCNN_ATTR_INTS, 0, NULL},
    {"pads", XCNN_ATTR_INTS, 0, NULL},       {"strides", XCNN_ATTR_INTS, 0, NULL},
    {"storage_order", XCNN_ATTR_INT, 0,
     "it orders only the Indices output, which libxcnn does not produce"},
    {NULL, 0, 0, NULL}};
static const xcnn_attr_spec avgpool_attrs[] = {
    {"auto_pad", XCNN_ATTR_STRING, 0, NULL},  {"ceil_mode", XCNN_ATTR_INT, 0, NULL},
    {"count_include_pad", XCNN_ATTR_INT, 0, NULL}, {"dilations", XCNN_ATTR_INTS, 0, NULL},
    {"kernel_shape", XCNN_ATTR_INTS, 0, NULL}, {"pads", XCNN_ATTR_INTS, 0, NULL},
    {"strides", XCNN_ATTR_INTS, 0, NULL},     {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_maxpool = {"MaxPool", maxpool_setup, maxpool_forward,
                                     maxpool_backward, maxpool_attrs, 0};
const xcnn_op_def xcnn_op_averagepool = {"AveragePool", avgpool_setup, avgpool_forward,
                                         avgpool_backward, avgpool_attrs, 0};
const xcnn_op_def xcnn_op_globalaveragepool = {"GlobalAveragePool", gap_setup, gap_forward,
                                               gap_backward, NULL, 0};
