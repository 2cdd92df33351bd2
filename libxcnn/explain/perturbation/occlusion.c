/*
 * Occlusion (Zeiler & Fergus 2014), as Captum's Occlusion computes it
 * (METHODS.md). A window of c x h x w slides over the input 1 x C x H x W
 * with stride 1 over channels and (sh, sw) over height and width; along
 * a dimension of size D with window w and stride s it starts at
 *     0, s, 2s, ..., (n - 1) s,    n = ceil((D - w) / s) + 1,
 * and a window that starts past D - w is cropped at the edge (Captum pads
 * its window mask with negative amounts there). For each window W:
 *     x_W = x with the window's elements set to `fill`,
 *     d_W = y - f(x_W)[t],                        y = f(x)[t],
 *     attr_p = sum over windows W covering p of d_W / (number covering p).
 * The windows form a grid, so the count at p is the product of the
 * per-axis counts, worked out from p alone (no buffer). With a stride
 * wider than the window some elements are never covered: Captum divides
 * 0 by 0 there (NaN); we return 0, the empty sum.
 *
 * Cost: 1 + n_c * n_h * n_w forwards (n_c = C - c + 1): 15x15 windows at
 * stride 8 on a 224x224 ResNet-18 input are 1 + 28 * 28 = 785 (n = ceil((224 - 15) / 8) + 1 = 28). The
 * occluded inputs go through the network as many at a time as
 * xcnn_ex_pass_batch allows, built in ex_path; the sums are in double in
 * ex_acc, added window by window in a fixed order, so that the result
 * does not depend on the batch or the threads.
 */
#include <math.h>
#include <string.h>
#include "../explain.h"

/* More windows than this would run for days on any real model; refused
 * so that a stride of 1 on a large input is a message, not a hang. */
#define OCC_MAX_WINDOWS 10000000

typedef struct occ_grid {
    int64_t C, H, W;
    int64_t wc, wh, ww; /* window, with c = 0 resolved to C */
    int64_t sh, sw;     /* strides along H and W (1 along C) */
    int64_t nc, nh, nw; /* window starts per axis            */
} occ_grid;

static int64_t starts(int64_t d, int64_t w, int64_t s) { return (d - w + s - 1) / s + 1; }

static void grid_of(const xcnn_model *m, const xcnn_explain_options *o, occ_grid *g)
{
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    g->C = in->dims[1];
    g->H = in->dims[2];
    g->W = in->dims[3];
    g->wc = o->window[0] ? o->window[0] : g->C;
    g->wh = o->window[1];
    g->ww = o->window[2];
    g->sh = o->stride[0];
    g->sw = o->stride[1];
    g->nc = starts(g->C, g->wc, 1);
    g->nh = starts(g->H, g->wh, g->sh);
    g->nw = starts(g->W, g->ww, g->sw);
}

/* How many of the n windows starting at 0, s, ... (length w) cover p:
 * starts k s with p - w < k s <= p. */
static int64_t covering(int64_t p, int64_t w, int64_t s, int64_t n)
{
    int64_t hi = p / s, lo = p - w + 1 <= 0 ? 0 : (p - w + 1 + s - 1) / s;
    if (hi > n - 1) hi = n - 1;
    return hi >= lo ? hi - lo + 1 : 0;
}

static xcnn_status occlusion_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   xcnn_err *err)
{
    (void)x;
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "occlusion: the model input has %d dimensions; "
                         "its windows slide over an NxCxHxW input", in->ndim);
    int64_t C = in->dims[1], H = in->dims[2], W = in->dims[3];
    if (o->window[1] == 0 && o->window[2] == 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: give the window's height and width "
                         "(window[1], window[2]; CLI --window [c,]h,w), 1..%lld and 1..%lld",
                         (long long)H, (long long)W);
    if (o->window[1] < 1 || o->window[1] > H)
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: window height %d: give 1..%lld (the "
                         "input's height)", o->window[1], (long long)H);
    if (o->window[2] < 1 || o->window[2] > W)
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: window width %d: give 1..%lld (the "
                         "input's width)", o->window[2], (long long)W);
    if (o->window[0] < 0 || o->window[0] > C)
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: window channels %d: give 1..%lld, or "
                         "0 for all channels", o->window[0], (long long)C);
    if (o->stride[0] < 1 || o->stride[1] < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: stride %d,%d: both must be at least 1",
                         o->stride[0], o->stride[1]);
    if (!isfinite(o->fill))
        return xcnn_fail(err, XCNN_ERR_ARG, "occlusion: fill (the baseline value) must be a "
                         "finite number");
    occ_grid g;
    grid_of(m, o, &g);
    /* each factor is at most its dimension: the product cannot overflow */
    int64_t windows = g.nc * g.nh * g.nw;
    if (windows > OCC_MAX_WINDOWS)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "occlusion: %lld windows (%lld x %lld x %lld) is "
                         "over the limit of %d: use a larger stride or window", (long long)windows,
                         (long long)g.nc, (long long)g.nh, (long long)g.nw, OCC_MAX_WINDOWS);
    return XCNN_OK;
}

/* Window k (width fastest, then height, then channel): its first index
 * and its cropped extent along each axis. */
static void window_box(const occ_grid *g, int64_t k, int64_t lo[3], int64_t len[3])
{
    int64_t iw = k % g->nw, ih = (k / g->nw) % g->nh, ic = k / (g->nw * g->nh);
    lo[0] = ic;
    lo[1] = ih * g->sh;
    lo[2] = iw * g->sw;
    const int64_t dim[3] = {g->C, g->H, g->W}, win[3] = {g->wc, g->wh, g->ww};
    /* cropped at the edge; with a stride wider than the window the last
     * start can lie past it (Captum still runs that empty window) */
    for (int a = 0; a < 3; a++)
        len[a] = lo[a] + win[a] <= dim[a] ? win[a] : lo[a] < dim[a] ? dim[a] - lo[a] : 0;
}

static xcnn_status occlusion_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                 float *out, xcnn_explain_result *res, xcnn_err *err)
{
    occ_grid g;
    grid_of(m, o, &g);
    size_t n = xcnn_ex_input_numel(m), k_out = xcnn_ex_output_numel(m);
    /* Forwards only, never a backward: values-only passes, whose convs may
     * take faster forms (F(4x4) Winograd: 4-5% off the whole method). The
     * unperturbed forward takes them too, so that a window that changes
     * nothing gives exactly 0. */
    xcnn_status st = xcnn_ex_forward_values(m, x, o, m->g->output, res, err);
    if (st) return st;
    int t = res->target;
    double y = res->score;
    double *acc = m->ex_acc;
    memset(acc, 0, n * sizeof(double));
    int64_t windows = g.nc * g.nh * g.nw;
    int batch_max = xcnn_ex_pass_batch(m);
    const float fill = o->fill;
    for (int64_t k0 = 0; k0 < windows; k0 += batch_max) {
        int b = windows - k0 < batch_max ? (int)(windows - k0) : batch_max;
        for (int j = 0; j < b; j++) {
            float *p = m->ex_path + (size_t)j * n;
            int64_t lo[3], len[3];
            window_box(&g, k0 + j, lo, len);
            memcpy(p, x, n * sizeof(float));
            if (!len[0] || !len[1] || !len[2]) continue;
            for (int64_t c = lo[0]; c < lo[0] + len[0]; c++)
                for (int64_t r = lo[1]; r < lo[1] + len[1]; r++) {
                    float *row = p + (size_t)((c * g.H + r) * g.W + lo[2]);
                    for (int64_t i = 0; i < len[2]; i++) row[i] = fill;
                }
        }
        st = xcnn_exec_sample_forwards(m, m->ex_path, b, err);
        if (st)
            return xcnn_ex_context(st, err, "occlusion, at windows %lld..%lld (fill %g)",
                                   (long long)k0, (long long)(k0 + b - 1), (double)fill);
        const float *f = m->g->tensors[m->g->output].data;
        for (int j = 0; j < b; j++) {
            double d = y - (double)f[(size_t)j * k_out + (size_t)t];
            int64_t lo[3], len[3];
            window_box(&g, k0 + j, lo, len);
            if (!len[0] || !len[1] || !len[2]) continue;
            for (int64_t c = lo[0]; c < lo[0] + len[0]; c++)
                for (int64_t r = lo[1]; r < lo[1] + len[1]; r++) {
                    double *row = acc + (size_t)((c * g.H + r) * g.W + lo[2]);
                    for (int64_t i = 0; i < len[2]; i++) row[i] += d;
                }
        }
    }
    for (int64_t c = 0; c < g.C; c++) {
        int64_t cc = covering(c, g.wc, 1, g.nc);
        for (int64_t r = 0; r < g.H; r++) {
            int64_t cr = cc * covering(r, g.wh, g.sh, g.nh);
            for (int64_t i = 0; i < g.W; i++) {
                size_t p = (size_t)((c * g.H + r) * g.W + i);
                int64_t count = cr * covering(i, g.ww, g.sw, g.nw);
                out[p] = count ? (float)(acc[p] / (double)count) : 0.0f;
            }
        }
    }
    return XCNN_OK;
}

const xcnn_ex_method xcnn_ex_occlusion = {"occlusion", occlusion_check, NULL, occlusion_run};
