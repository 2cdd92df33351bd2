/*
 * Infidelity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of
 * Explanations"; Captum's captum.metrics.infidelity with its defaults:
 * normalize off, the perturbation subtracted). An attribution should
 * predict how the output moves when the input does:
 *
 *   INFD = (1/n) sum_{k=1..n} ( sum_e a_e I_k,e - (f(x)[t] - f(x - I_k)[t]) )^2
 *
 * I_k ~ Normal(0, s^2) per input element e, drawn from the seeded
 * generator (base/rng.h; I_1 first, element order, then I_2 ...) or given
 * (xcnn_infidelity_options.perturbations), used as float32: x - I_k is the
 * float32 input the model runs, and sum a I_k is taken in double over the
 * same float I_k. f is the raw output (Captum's forward_func), t the
 * target. a is the attribution: input-shaped, or 1 channel applied to
 * every channel, resized bilinear (align_corners=False) to H x W when
 * smaller, as the curves read maps.
 *
 * Forwards: x alone (the target and f(x)[t]), then the n perturbed inputs
 * in batches of xcnn_ex_pass_batch, values only. A sample's output does not
 * depend on the batch or the thread count, so neither does INFD.
 * Workspace (nothing is allocated): the attribution, input-shaped, in
 * ex_acc (double); a smaller map is resized through ex_path2 and ex_path;
 * the perturbed inputs in ex_path, their sums sum a I_k in ex_acc2.
 */
#include <math.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/error.h"
#include "../base/rng.h"
#include "../explain/explain.h"

void xcnn_infidelity_options_init(xcnn_infidelity_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->target = -1;
    o->samples = 10;
    o->stdev = 0.003f;
}

static xcnn_status check(const xcnn_model *m, const float *x, const float *attr, int ac, int ah,
                         int aw, const xcnn_infidelity_options *o, xcnn_err *err)
{
    if (!x || !attr || !o)
        return xcnn_fail(err, XCNN_ERR_ARG, "infidelity: input, attr and options must not be "
                         "NULL");
    if (m->inference_only || m->grad_from >= 0 || !m->ex_path || !m->ex_path2 || !m->ex_acc ||
        !m->ex_acc2)
        return xcnn_fail(err, XCNN_ERR_ARG, "infidelity needs the explainers' workspace, which "
                         "a model loaded inference_only or with explain_layer does not have: "
                         "load it without");
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "infidelity: the model input has %d dimensions; "
                         "it reads maps of an N x C x H x W input", in->ndim);
    int64_t C = in->dims[1], H = in->dims[2], W = in->dims[3];
    if (!(ac == 1 || ac == C) || ah < 1 || aw < 1 || ah > H || aw > W)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "infidelity: the attribution is %d x %d x %d; it "
                         "must be 1 or %lld channels of at most %lld x %lld (the input's H x W; "
                         "a smaller map is resized to it)", ac, ah, aw, (long long)C,
                         (long long)H, (long long)W);
    if (o->samples < 1 || o->samples > 1000000)
        return xcnn_fail(err, XCNN_ERR_ARG, "infidelity: samples must be 1..1000000 (got %d)",
                         o->samples);
    if (!o->perturbations && !(o->stdev > 0 && isfinite(o->stdev)))
        return xcnn_fail(err, XCNN_ERR_ARG, "infidelity: the noise stdev must be finite and > 0 "
                         "(got %g)", (double)o->stdev);
    if (o->target < -1)
        return xcnn_fail(err, XCNN_ERR_ARG, "target %d: give a class index, or -1 for the "
                         "arg-max", o->target);
    size_t in_n = xcnn_ex_input_numel(m);
    for (size_t i = 0; i < in_n; i++)
        if (!isfinite(x[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "infidelity: input element %zu is %s", i,
                             isnan(x[i]) ? "NaN" : "infinite");
    size_t a_n = (size_t)ac * (size_t)ah * (size_t)aw;
    for (size_t i = 0; i < a_n; i++)
        if (!isfinite(attr[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "infidelity: attribution element %zu is %s",
                             i, isnan(attr[i]) ? "NaN" : "infinite");
    if (o->perturbations)
        for (size_t i = 0, c = (size_t)o->samples * in_n; i < c; i++)
            if (!isfinite(o->perturbations[i]))
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "infidelity: perturbation element %zu "
                                 "(sample %zu) is %s", i, i / in_n,
                                 isnan(o->perturbations[i]) ? "NaN" : "infinite");
    return XCNN_OK;
}

/* The attribution as C x H x W doubles into m->ex_acc. */
static void spread(xcnn_model *m, const float *attr, int ac, int ah, int aw)
{
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    int64_t C = in->dims[1], H = in->dims[2], W = in->dims[3];
    size_t hw = (size_t)(H * W), ahw = (size_t)ah * (size_t)aw;
    for (int64_t c = 0; c < C; c++) {
        const float *src = attr + (size_t)(ac == 1 ? 0 : c) * ahw;
        double *dst = m->ex_acc + (size_t)c * hw;
        if (ah == H && aw == W) {
            for (size_t q = 0; q < hw; q++) dst[q] = (double)src[q];
        } else {
            memcpy(m->ex_path2, src, ahw * sizeof(float));
            xcnn_resize_bilinear(m->ex_path2, ah, aw, m->ex_path, (int)H, (int)W);
            for (size_t q = 0; q < hw; q++) dst[q] = (double)m->ex_path[q];
        }
    }
}

static xcnn_status infidelity(xcnn_model *m, const float *x, const float *attr, int ac, int ah,
                              int aw, const xcnn_infidelity_options *o, double *value,
                              xcnn_err *err)
{
    xcnn_status st = check(m, x, attr, ac, ah, aw, o, err);
    if (st) return st;
    const xcnn_graph *g = m->g;
    size_t in_n = xcnn_ex_input_numel(m), k_out = xcnn_ex_output_numel(m);
    int values_to = g->tensors[g->output].kind == XCNN_T_ACTIVATION ? g->output : -1;
    st = xcnn_exec_forward_values(m, x, 1, values_to, err);
    if (st) return xcnn_ex_context(st, err, "infidelity, at the input itself");
    const float *y = g->tensors[g->output].data;
    int t = o->target;
    if (t < 0) {
        t = 0;
        for (size_t i = 1; i < k_out; i++)
            if (y[i] > y[t]) t = (int)i;
    } else if ((size_t)t >= k_out) {
        return xcnn_fail(err, XCNN_ERR_ARG, "target %d is out of range: the model has %zu "
                         "outputs (0..%zu)", t, k_out, k_out - 1);
    }
    double fx = (double)y[t];
    spread(m, attr, ac, ah, aw);
    uint64_t rng = o->seed;
    /* ex_acc2 holds one input's doubles: no more sums than that per batch */
    int batch_max = xcnn_ex_pass_batch(m);
    if ((size_t)batch_max > in_n) batch_max = (int)in_n;
    const int n = o->samples;
    double sum = 0;
    for (int k0 = 0; k0 < n; k0 += batch_max) {
        int b = n - k0 < batch_max ? n - k0 : batch_max;
        for (int j = 0; j < b; j++) {
            float *p = m->ex_path + (size_t)j * in_n;
            const float *given = o->perturbations ? o->perturbations + (size_t)(k0 + j) * in_n
                                                  : NULL;
            double dot = 0;
            for (size_t e = 0; e < in_n; e++) {
                float I = given ? given[e] : (float)(o->stdev * xcnn_rng_normal(&rng));
                p[e] = x[e] - I;
                dot += m->ex_acc[e] * (double)I;
            }
            m->ex_acc2[j] = dot;
        }
        st = xcnn_exec_forward_values(m, m->ex_path, b, values_to, err);
        if (st) return xcnn_ex_context(st, err, "infidelity, at samples %d..%d", k0, k0 + b - 1);
        const float *f = g->tensors[g->output].data;
        for (int j = 0; j < b; j++) {
            double d = m->ex_acc2[j] - (fx - (double)f[(size_t)j * k_out + (size_t)t]);
            sum += d * d;
        }
    }
    *value = sum / n;
    return XCNN_OK;
}

xcnn_status xcnn_infidelity(xcnn_model *m, const float *input, const float *attr, int attr_c,
                            int attr_h, int attr_w, const xcnn_infidelity_options *o,
                            double *value)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    double v = 0;
    xcnn_status st = value ? infidelity(m, input, attr, attr_c, attr_h, attr_w, o, &v, &err)
                           : xcnn_fail(&err, XCNN_ERR_ARG, "infidelity: value must not be NULL");
    if (!st) *value = v;
    else xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}
