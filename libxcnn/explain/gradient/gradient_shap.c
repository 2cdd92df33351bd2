/*
 * GradientSHAP (Lundberg & Lee 2017; Captum's GradientShap; METHODS.md):
 * expected gradients between noisy copies of the input and a set of
 * baselines,
 *
 *   attr = (1/n) sum_k (x~_k - b_j) * grad f(a_k x~_k + (1 - a_k) b_j)[t]
 *
 * with, for each sample k in turn: j uniform over the baselines (with
 * replacement), then x~_k = x + e, e ~ Normal(0, stdev^2) per element
 * (drawn only when stdev > 0), then a_k ~ Uniform[0, 1). The draws come in
 * that order from base/rng.h seeded with o->seed, so the result depends on
 * the seed only, never on the batch or the threads. A caller may give any
 * of them instead (draw_index, noise, draw_alpha): a draw given is not
 * taken from the generator. The point is formed in float as
 * b + a (x~ - b), the same as a x~ + (1 - a) b up to rounding.
 *
 * The points run in batched passes (xcnn_ex_passes: a sample per thread);
 * the points sit in ex_path, their x~ - b in ex_path2, and the products
 * are summed in double in the samples' order.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "../explain.h"
#include "../../base/rng.h"

/* The largest |xcnn_rng_normal()|: sqrt(-2 ln(2^-53)) = 8.5717..., rounded
 * up (smoothgrad.c's bound, for the same Box-Muller). */
#define NORMAL_MAX 8.58

static float largest_abs(const float *v, size_t n)
{
    float a = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(v[i]) > a) a = fabsf(v[i]);
    return a;
}

static xcnn_status gs_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            xcnn_err *err)
{
    size_t n = xcnn_ex_input_numel(m);
    int nb = o->n_baselines;
    if (o->samples < 1 || o->samples > 100000)
        return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap: samples must be 1..100000 (got %d)",
                         o->samples);
    if (!isfinite(o->stdev) || o->stdev < 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap: stdev must be a finite number >= 0 "
                         "(got %g)", (double)o->stdev);
    if (!o->baselines || nb < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap needs a set of baselines "
                         "(baselines, n_baselines >= 1; got %d%s)", o->baselines ? nb : 0,
                         o->baselines ? "" : ", baselines NULL");
    float bmax = 0;
    for (int j = 0; j < nb; j++)
        for (size_t i = 0; i < n; i++) {
            float b = o->baselines[(size_t)j * n + i];
            if (!isfinite(b))
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "gradient-shap: baseline %d element %zu "
                                 "is not finite", j, i);
            if (!isfinite(x[i] - b))
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "gradient-shap: baseline %d element %zu "
                                 "(%g) is too far from the input (%g): input - baseline "
                                 "overflows float", j, i, (double)b, (double)x[i]);
            if (fabsf(b) > bmax) bmax = fabsf(b);
        }
    for (int k = 0; o->draw_index && k < o->samples; k++)
        if (o->draw_index[k] < 0 || o->draw_index[k] >= nb)
            return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap: draw_index[%d] = %d is not a "
                             "baseline (0..%d)", k, o->draw_index[k], nb - 1);
    for (int k = 0; o->draw_alpha && k < o->samples; k++)
        if (!(o->draw_alpha[k] >= 0 && o->draw_alpha[k] <= 1))
            return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap: draw_alpha[%d] = %g is outside "
                             "[0, 1]", k, (double)o->draw_alpha[k]);
    if (o->noise) {
        for (int k = 0; k < o->samples; k++)
            for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i] + o->noise[(size_t)k * n + i]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "gradient-shap: noise element %zu "
                                     "of sample %d (%g) added to the input (%g) is not a finite "
                                     "float", i, k, (double)o->noise[(size_t)k * n + i],
                                     (double)x[i]);
    } else if (o->stdev > 0) {
        /* x~ - b must be a float for every draw: x + e reaches |x| +
         * NORMAL_MAX stdev */
        double reach = (double)largest_abs(x, n) + NORMAL_MAX * (double)o->stdev + bmax;
        if (reach > FLT_MAX)
            return xcnn_fail(err, XCNN_ERR_ARG, "gradient-shap: stdev %g is too large: noise "
                             "draws reach %.2f stdev, and input + noise - baseline (up to %g) "
                             "overflows float", (double)o->stdev, NORMAL_MAX, reach);
    }
    return XCNN_OK;
}

/* Sample k's draws into the point p and the difference d = x~ - b (n
 * floats each), in the order j, e, a. Fails (XCNN_ERR_NUMERIC) where
 * given noise and a baseline lie too far apart for a float. */
static xcnn_status draw_point(const float *x, const xcnn_explain_options *o, size_t n, int k,
                              uint64_t *rng, float *p, float *d, xcnn_err *err)
{
    int j = o->draw_index ? o->draw_index[k]
                          : (int)xcnn_rng_below(rng, (uint64_t)o->n_baselines);
    const float *b = o->baselines + (size_t)j * n;
    const float *e = o->noise ? o->noise + (size_t)k * n : NULL;
    float s = o->stdev;
    for (size_t i = 0; i < n; i++) /* x~, in d for now */
        d[i] = x[i] + (e ? e[i] : s > 0 ? (float)(s * xcnn_rng_normal(rng)) : 0.0f);
    float a = o->draw_alpha ? o->draw_alpha[k] : (float)xcnn_rng_uniform(rng);
    for (size_t i = 0; i < n; i++) {
        float diff = d[i] - b[i];
        if (!isfinite(diff))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "gradient-shap: sample %d, element %zu: "
                             "input + noise (%g) minus baseline %d (%g) overflows float", k, i,
                             (double)d[i], j, (double)b[i]);
        p[i] = b[i] + a * diff;
        d[i] = diff;
    }
    return XCNN_OK;
}

static xcnn_status gs_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                          float *out, xcnn_explain_result *res, xcnn_err *err)
{
    size_t n = xcnn_ex_input_numel(m);
    const float *grad = m->g->tensors[m->g->input].grad;
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    int t = res->target, samples = o->samples, batch_max = xcnn_ex_pass_batch(m);
    uint64_t rng = o->seed;
    double *acc = m->ex_acc;
    memset(acc, 0, n * sizeof *acc);
    for (int s0 = 0; s0 < samples; s0 += batch_max) {
        int b = samples - s0 < batch_max ? samples - s0 : batch_max;
        for (int j = 0; j < b; j++)
            if ((st = draw_point(x, o, n, s0 + j, &rng, m->ex_path + (size_t)j * n,
                                 m->ex_path2 + (size_t)j * n, err)))
                return st;
        st = xcnn_ex_passes(m, m->ex_path, b, t, XCNN_RELU_GRADIENT, -1, err);
        if (st)
            return xcnn_ex_context(st, err, "gradient-shap, at samples %d..%d (baseline + a "
                                   "(input + noise - baseline))", s0, s0 + b - 1);
        for (int j = 0; j < b; j++) {
            const float *d = m->ex_path2 + (size_t)j * n, *g = grad + (size_t)j * n;
            for (size_t i = 0; i < n; i++) acc[i] += (double)d[i] * g[i];
        }
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)(acc[i] / samples);
    return XCNN_OK;
}

const xcnn_ex_method xcnn_ex_gradient_shap = {"gradient-shap", gs_check, NULL, gs_run};
