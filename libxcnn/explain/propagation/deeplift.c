/*
 * DeepLIFT (Shrikumar, Greenside, Kundaje 2017, the Rescale rule, with
 * Captum's DeepLift formulas; METHODS.md) and DeepLIFT-SHAP:
 *
 *   deeplift(x, r)  = (x - r) * m_x,   delta = sum(attr) - (f(x)[t] - f(r)[t])
 *   deeplift-shap   = mean over the baselines b_j of deeplift(x, b_j),
 *                     delta against the mean of f(b_j)[t]
 *
 * m_x, the input's multiplier, is what the ordinary backward walk leaves
 * at the input when DeepLIFT's rule table (deeplift_rules.c) stands in for
 * the ops whose backward is not the rule. The rules need every node's
 * value at x and at the reference, so both run forward as one batch: the
 * copies of x first, then their baselines, [x, .., x, b_0, .., b_c-1], and
 * the backward runs over the first c samples only (sample b's reference
 * is b + c). One explanation costs a forward of 2 and a backward of 1.
 * DeepLIFT-SHAP's baselines go c at a time, 2c inputs per pass at most
 * (xcnn_ex_pass_batch); the sum over them runs in double, baseline after
 * baseline, whatever c is.
 *
 * The batch of 2 is the caller's to reserve (xcnn_model_reserve): explain
 * allocates nothing, so a model reserved for 1 is refused with a message.
 */
#include <math.h>
#include <string.h>
#include "deeplift.h"

static const char *name_of(const xcnn_explain_options *o)
{
    return o->method == XCNN_DEEPLIFT ? "deeplift" : "deeplift-shap";
}

/* Baseline b (n floats; `which` names it) is finite, and so is x - b. */
static xcnn_status check_baseline(const float *x, const float *b, size_t n, const char *which,
                                  xcnn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s element %zu is not finite", which, i);
        if (!isfinite(x[i] - b[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s element %zu (%g) is too far from the "
                             "input (%g): input - baseline overflows float", which, i,
                             (double)b[i], (double)x[i]);
    }
    return XCNN_OK;
}

static xcnn_status dl_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            xcnn_err *err)
{
    const char *name = name_of(o);
    xcnn_status st = xcnn_rules_check(m, xcnn_deeplift_rules, name, -1, err);
    if (st) return st;
    size_t k = xcnn_ex_output_numel(m), n = xcnn_ex_input_numel(m);
    /* the target is resolved after the pass (passes.c's rules): checked now */
    if (o->target < -1)
        return xcnn_fail(err, XCNN_ERR_ARG, "target %d: give a class index, or -1 for the "
                         "arg-max", o->target);
    if (o->target >= 0 && (size_t)o->target >= k)
        return xcnn_fail(err, XCNN_ERR_ARG, "target %d is out of range: the model has %zu "
                         "outputs (0..%zu)", o->target, k, k - 1);
    if (o->method == XCNN_DEEPLIFT) {
        if (o->baseline && (st = check_baseline(x, o->baseline, n, "baseline", err))) return st;
    } else {
        if (!o->baselines || o->n_baselines < 2)
            return xcnn_fail(err, XCNN_ERR_ARG, "deeplift-shap needs a set of at least 2 "
                             "baselines (baselines, n_baselines; got %d%s); for one, use "
                             "deeplift with it as the baseline", o->baselines ? o->n_baselines : 0,
                             o->baselines ? "" : ", baselines NULL");
        for (int j = 0; j < o->n_baselines; j++) {
            char which[48];
            xcnn_format(which, sizeof which, "baseline %d", j);
            if ((st = check_baseline(x, o->baselines + (size_t)j * n, n, which, err))) return st;
        }
    }
    if (m->max_batch < 2)
        return xcnn_fail(err, XCNN_ERR_ARG, "%s runs the input and its baseline as one batch of "
                         "2, and the model is reserved for batch %d: call xcnn_model_reserve(m, "
                         "2) (or more: deeplift-shap takes up to 2 per baseline) first", name,
                         m->max_batch);
    return XCNN_OK;
}

/* The target for the output y of x (one sample): o->target, or the
 * arg-max (first maximum) for -1; dl_check has checked the range. */
static void resolve_target(const xcnn_model *m, const xcnn_explain_options *o, const float *y,
                           xcnn_explain_result *res)
{
    int t = o->target;
    if (t < 0) {
        size_t k = xcnn_ex_output_numel(m);
        t = 0;
        for (size_t i = 1; i < k; i++)
            if (y[i] > y[t]) t = (int)i;
    }
    res->target = t;
    res->score = y[t];
}

static xcnn_status dl_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                          float *out, xcnn_explain_result *res, xcnn_err *err)
{
    const char *name = name_of(o);
    /* deeplift: one baseline, o->baseline (NULL: zeros) */
    const float *bases = o->method == XCNN_DEEPLIFT ? o->baseline : o->baselines;
    int nb = o->method == XCNN_DEEPLIFT ? 1 : o->n_baselines;
    size_t n = xcnn_ex_input_numel(m), k = xcnn_ex_output_numel(m);
    const float *grad = m->g->tensors[m->g->input].grad;
    const float *y = m->g->tensors[m->g->output].data;
    int group = xcnn_ex_pass_batch(m) / 2;
    if (group < 1) group = 1; /* max_batch >= 2 (dl_check) */
    double *acc = m->ex_acc, fr = 0;
    memset(acc, 0, n * sizeof *acc);
    xcnn_dl_state state = {0, m};
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, xcnn_deeplift_node_rule, &state};
    for (int j0 = 0; j0 < nb; j0 += group) {
        int c = nb - j0 < group ? nb - j0 : group;
        float *p = m->ex_path;
        for (int j = 0; j < c; j++) {
            memcpy(p + (size_t)j * n, x, n * sizeof *p);
            float *r = p + (size_t)(c + j) * n;
            if (bases) memcpy(r, bases + (size_t)(j0 + j) * n, n * sizeof *p);
            else memset(r, 0, n * sizeof *p);
        }
        xcnn_status st = xcnn_exec_forward(m, p, 2 * c, err);
        if (!st) {
            if (j0 == 0) resolve_target(m, o, y, res);
            for (int j = 0; j < c; j++) {
                fr += y[(size_t)(c + j) * k + res->target];
                m->ex_targets[j] = res->target;
            }
            state.n = c;
            st = xcnn_exec_backward_rules(m, m->ex_targets, NULL, &ctx, c, -1, err);
        }
        if (st) {
            if (o->method == XCNN_DEEPLIFT)
                return xcnn_ex_context(st, err, "deeplift, at the input and its baseline");
            return xcnn_ex_context(st, err, "deeplift-shap, at baselines %d..%d", j0,
                                   j0 + c - 1);
        }
        for (int j = 0; j < c; j++) {
            const float *b = bases ? bases + (size_t)(j0 + j) * n : NULL;
            const float *gj = grad + (size_t)j * n;
            for (size_t i = 0; i < n; i++)
                acc[i] += ((double)x[i] - (b ? b[i] : 0.0f)) * gj[i];
        }
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)(acc[i] / nb);
        if (!isfinite(out[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: attribution element %zu overflows "
                             "float (%g)", name, i, acc[i] / nb);
        total += out[i];
    }
    res->delta = (float)(total - ((double)res->score - fr / nb));
    if (!isfinite(res->delta))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: the delta overflows float (sum of "
                         "attributions %g, f(input) - f(baseline) %g)", name, total,
                         (double)res->score - fr / nb);
    return XCNN_OK;
}

const xcnn_ex_method xcnn_ex_deeplift = {"deeplift", dl_check, NULL, dl_run};
const xcnn_ex_method xcnn_ex_deeplift_shap = {"deeplift-shap", dl_check, NULL, dl_run};
