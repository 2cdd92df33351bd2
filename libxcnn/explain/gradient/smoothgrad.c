/*
 * SmoothGrad (Smilkov et al. 2017): the mean of the saliency abs(dy/dx) at
 * N noisy copies x + e, e ~ Normal(0, s^2) per element, with s absolute
 * (default 0.15 * (max(x) - min(x)), the paper's 15% noise level).
 *
 * Noise comes from a small generator seeded by the caller (splitmix64 and
 * Box-Muller), drawn sample after sample, so the result depends only on the
 * seed, never on the batch size or thread count. A caller may pass its own
 * noise instead (to reproduce another implementation's samples).
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "../explain.h"

typedef struct { uint64_t state; } noise_rng;

static uint64_t splitmix64(noise_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double uniform(noise_rng *r) { return ((splitmix64(r) >> 11) + 1) * (1.0 / 9007199254740992.0); }

/* The largest |normal()|: sqrt(-2 ln(2^-53)) = 8.5717..., uniform() being
 * at least 2^-53; rounded up for the float the noise is stored in. */
#define NORMAL_MAX 8.58

static double normal(noise_rng *r)
{
    const double two_pi = 6.28318530717958647692;
    return sqrt(-2.0 * log(uniform(r))) * cos(two_pi * uniform(r));
}

xcnn_status xcnn_ex_smoothgrad(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                               float *out, xcnn_explain_result *res, xcnn_err *err)
{
    size_t n = xcnn_ex_input_numel(m);
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    float s = o->stdev, lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (s < 0) s = 0.15f * (hi - lo);
    /* The noisy inputs must be floats: checked here, before any pass, so
     * that an overflow is blamed on the noise and not on the input. */
    double amax = fmax(fabs((double)lo), fabs((double)hi));
    if (o->noise) {
        for (int k = 0; k < o->samples; k++)
            for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i] + o->noise[(size_t)k * n + i]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "smoothgrad: noise element %zu of "
                                     "sample %d (%g) added to the input (%g) is not a finite "
                                     "float", i, k, (double)o->noise[(size_t)k * n + i],
                                     (double)x[i]);
    } else if (amax + NORMAL_MAX * (double)s > FLT_MAX) {
        double most = (FLT_MAX - amax) / NORMAL_MAX;
        if (o->stdev >= 0)
            return xcnn_fail(err, XCNN_ERR_ARG, "smoothgrad: stdev %g is too large: noise draws "
                             "reach %.2f stdev, which added to this input (largest magnitude "
                             "%g) overflows float; use a stdev of at most %.3g", (double)s,
                             NORMAL_MAX, amax, most);
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "smoothgrad: the default stdev, 15%% of the "
                         "input's range (%g), is too large for float noise: give a stdev of at "
                         "most %.3g", (double)s, most);
    }
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    int t = res->target;
    if (s == 0 && !o->noise) {
        /* No noise: every sample is x, the mean is the saliency itself. */
        st = xcnn_ex_backward(m, 1, t, XCNN_RELU_GRADIENT, -1, err);
        if (st) return st;
        for (size_t i = 0; i < n; i++) out[i] = fabsf(in->grad[i]);
        return XCNN_OK;
    }

    noise_rng rng = {o->seed};
    double *acc = m->ex_acc;
    memset(acc, 0, n * sizeof(double));
    int samples = o->samples, batch_max = xcnn_ex_pass_batch(m);
    for (int s0 = 0; s0 < samples; s0 += batch_max) {
        int b = samples - s0 < batch_max ? samples - s0 : batch_max;
        for (int j = 0; j < b; j++) {
            float *p = m->ex_path + (size_t)j * n;
            const float *given = o->noise ? o->noise + (size_t)(s0 + j) * n : NULL;
            for (size_t i = 0; i < n; i++)
                p[i] = x[i] + (given ? given[i] : (float)(s * normal(&rng)));
        }
        st = xcnn_ex_passes(m, m->ex_path, b, t, XCNN_RELU_GRADIENT, -1, err);
        if (st) {
            if (o->noise)
                return xcnn_ex_context(st, err, "smoothgrad, at noisy samples %d..%d (input + "
                                       "the noise given)", s0, s0 + b - 1);
            return xcnn_ex_context(st, err, "smoothgrad, at noisy samples %d..%d (stdev %g)", s0,
                                   s0 + b - 1, (double)s);
        }
        for (int j = 0; j < b; j++) {
            const float *g = in->grad + (size_t)j * n;
            for (size_t i = 0; i < n; i++) acc[i] += fabsf(g[i]);
        }
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)(acc[i] / samples);
    return XCNN_OK;
}
