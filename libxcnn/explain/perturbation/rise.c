/*
 * RISE (Petsiuk et al. 2018, METHODS.md): the saliency of pixel p is the
 * expected class probability under random masks that keep p,
 *     S = sum_i softmax(f(x * M_i))[t] * M_i / (N * p1),
 * one map 1 x 1 x H x W; a mask multiplies every channel of the model's
 * input. softmax is ours: in double, the largest output subtracted.
 *
 * Masks are given (N x 1 x H x W, used as given; the sum is still divided
 * by N * p1) or drawn as the paper's code draws them. With s cells, cell
 * size ch = ceil(H / s), cw = ceil(W / s), each mask is an s x s grid of
 * Bernoulli(p1) cells, resized bilinear to (s + 1) ch x (s + 1) cw
 * (skimage's resize: half-pixel centres, src = (u + 0.5) s / ((s+1) ch)
 * - 0.5, and a mirrored border, index -1 reading 1 and s reading s - 2),
 * then cropped to H x W from a random shift (sy, sx) in [0, ch) x [0, cw).
 *
 * The draws, from base/rng.h's splitmix64 whose state starts at o->seed,
 * mask after mask (tools/references/perturbation.py replays them):
 *     s * s  xcnn_rng_uniform, row-major; a cell is 1 when u < p1, else 0
 *     sy  =  xcnn_rng_below(ch)
 *     sx  =  xcnn_rng_below(cw)
 * so a seed gives the same masks whatever the batch or thread count.
 *
 * Workspace: per batch, the masks in ex_path2 (H*W floats each; a mask's
 * grid sits in its ex_path slot until x * M overwrites it), x * M in
 * ex_path, the sum in ex_acc (double). N forwards, plus one for the
 * target.
 */
#include <math.h>
#include <string.h>
#include "../explain.h"
#include "../../base/rng.h"

#define RISE_MAX_MASKS 1000000

static xcnn_status rise_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                              int64_t dims[4], xcnn_err *err)
{
    (void)o;
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "rise: the model input has %d dimensions; its "
                         "masks cover an NxCxHxW input", in->ndim);
    *ndim = 4;
    dims[0] = 1;
    dims[1] = 1;
    dims[2] = in->dims[2];
    dims[3] = in->dims[3];
    return XCNN_OK;
}

static xcnn_status rise_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                              xcnn_err *err)
{
    (void)x;
    int ndim;
    int64_t dims[4] = {0};
    xcnn_status st = rise_shape(m, o, &ndim, dims, err);
    if (st) return st;
    int64_t H = dims[2], W = dims[3], side = H < W ? H : W;
    if (!(o->p1 > 0 && o->p1 <= 1))
        return xcnn_fail(err, XCNN_ERR_ARG, "rise: p1 (the probability that a cell is kept) "
                         "must be in (0, 1] (got %g)", (double)o->p1);
    if (o->masks) {
        if (o->n_masks < 1 || o->n_masks > RISE_MAX_MASKS)
            return xcnn_fail(err, XCNN_ERR_ARG, "rise: n_masks must be 1..%d with masks given "
                             "(got %d)", RISE_MAX_MASKS, o->n_masks);
        size_t hw = (size_t)(H * W);
        for (int i = 0; i < o->n_masks; i++)
            for (size_t p = 0; p < hw; p++)
                if (!isfinite(o->masks[(size_t)i * hw + p]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "rise: mask %d element %zu is %s", i,
                                     p, isnan(o->masks[(size_t)i * hw + p]) ? "NaN" : "infinite");
        return XCNN_OK;
    }
    if (o->n_masks)
        return xcnn_fail(err, XCNN_ERR_ARG, "rise: n_masks is %d but masks is NULL (give both, "
                         "or neither to draw `samples` masks)", o->n_masks);
    if (o->samples < 1 || o->samples > RISE_MAX_MASKS)
        return xcnn_fail(err, XCNN_ERR_ARG, "rise: samples must be 1..%d (got %d)",
                         RISE_MAX_MASKS, o->samples);
    if (o->cells < 1 || o->cells > side)
        return xcnn_fail(err, XCNN_ERR_ARG, "rise: cells must be 1..%lld, the input's smaller "
                         "side (got %d)", (long long)side, o->cells);
    return XCNN_OK;
}

/* Index i in [-1, n] of a row of n, mirrored at the ends (-1 reads 1). */
static int64_t mirror(int64_t i, int64_t n)
{
    if (n == 1) return 0;
    if (i < 0) return -i;
    return i >= n ? 2 * (n - 1) - i : i;
}

/* Half-pixel source coordinate of up-sampled index u (s cells to `up`):
 * the two cells it reads and the weight of the second. */
static void source(int64_t u, int64_t s, int64_t up, int64_t *i0, int64_t *i1, double *f)
{
    double src = ((double)u + 0.5) * (double)s / (double)up - 0.5;
    double fl = floor(src);
    *f = src - fl;
    *i0 = mirror((int64_t)fl, s);
    *i1 = mirror((int64_t)fl + 1, s);
}

/* One drawn mask into mask (H x W), its grid in grid (s x s). */
static void draw_mask(uint64_t *rng, int64_t s, float p1, int64_t H, int64_t W, float *grid,
                      float *mask)
{
    int64_t ch = (H + s - 1) / s, cw = (W + s - 1) / s;
    for (int64_t i = 0; i < s * s; i++) grid[i] = xcnn_rng_uniform(rng) < (double)p1 ? 1.0f : 0.0f;
    int64_t sy = (int64_t)xcnn_rng_below(rng, (uint64_t)ch);
    int64_t sx = (int64_t)xcnn_rng_below(rng, (uint64_t)cw);
    int64_t uh = (s + 1) * ch, uw = (s + 1) * cw;
    for (int64_t r = 0; r < H; r++) {
        int64_t y0, y1;
        double fy;
        source(r + sy, s, uh, &y0, &y1, &fy);
        const float *g0 = grid + y0 * s, *g1 = grid + y1 * s;
        for (int64_t c = 0; c < W; c++) {
            int64_t x0, x1;
            double fx;
            source(c + sx, s, uw, &x0, &x1, &fx);
            double top = (1 - fx) * g0[x0] + fx * g0[x1];
            double bot = (1 - fx) * g1[x0] + fx * g1[x1];
            mask[r * W + c] = (float)((1 - fy) * top + fy * bot);
        }
    }
}

static xcnn_status rise_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            float *out, xcnn_explain_result *res, xcnn_err *err)
{
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    int64_t C = in->dims[1], H = in->dims[2], W = in->dims[3];
    size_t n = xcnn_ex_input_numel(m), hw = (size_t)(H * W), k_out = xcnn_ex_output_numel(m);
    /* Forwards only, never a backward: values-only passes, whose convs may
     * take faster forms (F(4x4) Winograd: 4-5% off the whole method). The
     * unperturbed forward takes them too, so that a window that changes
     * nothing gives exactly 0. */
    xcnn_status st = xcnn_ex_forward_values(m, x, o, m->g->output, res, err);
    if (st) return st;
    int t = res->target;
    int total = o->masks ? o->n_masks : o->samples;
    uint64_t rng = o->seed;
    double *acc = m->ex_acc;
    memset(acc, 0, hw * sizeof(double));
    int batch_max = xcnn_ex_pass_batch(m);
    for (int i0 = 0; i0 < total; i0 += batch_max) {
        int b = total - i0 < batch_max ? total - i0 : batch_max;
        for (int j = 0; j < b; j++) {
            float *mask = m->ex_path2 + (size_t)j * hw, *p = m->ex_path + (size_t)j * n;
            if (o->masks) memcpy(mask, o->masks + (size_t)(i0 + j) * hw, hw * sizeof(float));
            else draw_mask(&rng, o->cells, o->p1, H, W, p, mask);
            for (int64_t c = 0; c < C; c++)
                for (size_t q = 0; q < hw; q++) {
                    size_t e = (size_t)c * hw + q;
                    p[e] = x[e] * mask[q];
                    if (!isfinite(p[e]))
                        return xcnn_fail(err, XCNN_ERR_NUMERIC, "rise: mask %d element %zu (%g) "
                                         "times input element %zu (%g) overflows float", i0 + j,
                                         q, (double)mask[q], e, (double)x[e]);
                }
        }
        st = xcnn_exec_sample_forwards(m, m->ex_path, b, err);
        if (st)
            return xcnn_ex_context(st, err, "rise, at masks %d..%d%s", i0, i0 + b - 1,
                                   o->masks ? " (as given)" : "");
        const float *f = m->g->tensors[m->g->output].data;
        for (int j = 0; j < b; j++) {
            const float *y = f + (size_t)j * k_out;
            double top = y[0], sum = 0;
            for (size_t k = 1; k < k_out; k++)
                if (y[k] > top) top = y[k];
            for (size_t k = 0; k < k_out; k++) sum += exp((double)y[k] - top);
            double score = exp((double)y[t] - top) / sum;
            const float *mask = m->ex_path2 + (size_t)j * hw;
            for (size_t q = 0; q < hw; q++) acc[q] += score * (double)mask[q];
        }
    }
    double scale = (double)total * (double)o->p1;
    for (size_t q = 0; q < hw; q++) out[q] = (float)(acc[q] / scale);
    return XCNN_OK;
}

const xcnn_ex_method xcnn_ex_rise = {"rise", rise_check, rise_shape, rise_run};
