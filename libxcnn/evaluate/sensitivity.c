/*
 * Max-sensitivity (Yeh et al. 2019; Captum's captum.metrics.sensitivity_max
 * with its defaults: norm 'fro', the default perturbation). A good
 * explanation does not jump when the input barely moves:
 *
 *   SENS = max_{k=1..n} ||e(x + d_k) - e(x)|| / ||e(x)||
 *
 * ||.|| the Frobenius norm of the whole attribution (in double), d_k ~
 * Uniform(-r, r) per input element (drawn from the seeded generator,
 * base/rng.h, d_1 first in element order; or given), x + d_k in float32,
 * e the method of the options explaining the target of x (the options'
 * target, or the arg-max of f(x), kept for every perturbed input as
 * Captum's explanation_func receives the same target). A zero ||e(x)||
 * divides by 1, as Captum does.
 *
 * Each e is one xcnn_explain (batched inside as the method batches). The
 * caller's work (or one allocation per call): x + d_k, e(x), e(x + d_k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/error.h"
#include "../base/rng.h"
#include "../explain/explain.h"

void xcnn_sensitivity_options_init(xcnn_sensitivity_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->samples = 10;
    o->radius = 0.02f;
}

/* Floats of one attribution for eo; the model is held. */
static xcnn_status attr_floats(xcnn_model *m, const xcnn_explain_options *eo, size_t *a_n,
                               xcnn_err *err)
{
    if (!eo) return xcnn_fail(err, XCNN_ERR_ARG, "sensitivity: explain options must not be NULL");
    int ndim = 0;
    int64_t dims[4];
    xcnn_status st = xcnn_ex_explain_shape_held(m, eo, &ndim, dims);
    if (st) return xcnn_fail(err, st, "%s", m->error);
    *a_n = 1;
    for (int d = 0; d < ndim; d++) *a_n *= (size_t)dims[d];
    return XCNN_OK;
}

xcnn_status xcnn_sensitivity_work_floats(xcnn_model *m, const xcnn_explain_options *eo,
                                         size_t *floats)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    size_t a_n = 0;
    xcnn_status st = floats ? attr_floats(m, eo, &a_n, &err)
                            : xcnn_fail(&err, XCNN_ERR_ARG, "sensitivity: floats must not be "
                                        "NULL");
    if (!st) *floats = xcnn_ex_input_numel(m) + 2 * a_n;
    else xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}

static xcnn_status sensitivity(xcnn_model *m, const float *x, const xcnn_explain_options *eo,
                               const xcnn_sensitivity_options *o, float *work, size_t work_len,
                               double *value, xcnn_err *err)
{
    if (!x || !o || !value)
        return xcnn_fail(err, XCNN_ERR_ARG, "sensitivity: input, options and value must not be "
                         "NULL");
    size_t a_n = 0, in_n = xcnn_ex_input_numel(m);
    xcnn_status st = attr_floats(m, eo, &a_n, err);
    if (st) return st;
    if (o->samples < 1 || o->samples > 1000000)
        return xcnn_fail(err, XCNN_ERR_ARG, "sensitivity: samples must be 1..1000000 (got %d)",
                         o->samples);
    if (!o->perturbations && !(o->radius > 0 && isfinite(o->radius)))
        return xcnn_fail(err, XCNN_ERR_ARG, "sensitivity: the radius must be finite and > 0 "
                         "(got %g)", (double)o->radius);
    if (o->perturbations)
        for (size_t i = 0, c = (size_t)o->samples * in_n; i < c; i++)
            if (!isfinite(o->perturbations[i]))
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "sensitivity: perturbation element %zu "
                                 "(sample %zu) is %s", i, i / in_n,
                                 isnan(o->perturbations[i]) ? "NaN" : "infinite");
    size_t need = in_n + 2 * a_n;
    float *own = NULL;
    if (work && work_len < need)
        return xcnn_fail(err, XCNN_ERR_ARG, "sensitivity: work holds %zu floats, %zu needed "
                         "(xcnn_sensitivity_work_floats)", work_len, need);
    if (!work && !(work = own = malloc(need * sizeof(float))))
        return xcnn_fail(err, XCNN_ERR_NOMEM, "sensitivity: out of memory");
    float *xp = work, *e0 = xp + in_n, *ek = e0 + a_n;
    xcnn_explain_result res;
    st = xcnn_ex_explain_held(m, x, eo, e0, a_n, &res);
    if (st) {
        xcnn_fail(err, st, "sensitivity, at the input itself: %.440s", m->error);
        free(own);
        return st;
    }
    xcnn_explain_options e = *eo;
    e.target = res.target;
    double n0 = 0;
    for (size_t i = 0; i < a_n; i++) n0 += (double)e0[i] * (double)e0[i];
    n0 = sqrt(n0);
    if (n0 == 0) n0 = 1;
    uint64_t rng = o->seed;
    double top = 0;
    for (int k = 0; k < o->samples; k++) {
        const float *given = o->perturbations ? o->perturbations + (size_t)k * in_n : NULL;
        for (size_t i = 0; i < in_n; i++)
            xp[i] = x[i] + (given ? given[i]
                                  : (float)((2 * xcnn_rng_uniform(&rng) - 1) * o->radius));
        st = xcnn_ex_explain_held(m, xp, &e, ek, a_n, NULL);
        if (st) {
            xcnn_fail(err, st, "sensitivity, perturbed input %d: %.440s", k, m->error);
            free(own);
            return st;
        }
        double d = 0;
        for (size_t i = 0; i < a_n; i++) {
            double q = (double)ek[i] - (double)e0[i];
            d += q * q;
        }
        d = sqrt(d) / n0;
        if (d > top) top = d;
    }
    *value = top;
    free(own);
    return XCNN_OK;
}

xcnn_status xcnn_sensitivity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                             const xcnn_sensitivity_options *o, float *work, size_t work_len,
                             double *value)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    xcnn_status st = sensitivity(m, input, eo, o, work, work_len, value, &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}
