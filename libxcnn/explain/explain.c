/*
 * xcnn_explain: checks the options once, then hands over to the method.
 * The helpers the methods share are in passes.c; the workspace they use
 * (so that they allocate nothing) is sized with the arena: core/workspace.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "explain.h"
#include "../base/format.h"

void xcnn_explain_options_init(xcnn_explain_options *o, xcnn_method method)
{
    if (!o) return; /* nothing to fill; xcnn_explain refuses NULL options */
    memset(o, 0, sizeof *o);
    o->method = method;
    o->target = -1;
    o->steps = 50;
    o->ig_rule = XCNN_IG_GAUSS_LEGENDRE;
    o->samples = method == XCNN_GRADIENT_SHAP ? 5 : method == XCNN_RISE ? 4000 : 25;
    o->stdev = method == XCNN_GRADIENT_SHAP ? 0.0f : -1.0f;
    o->lrp_rule = XCNN_LRP_EPSILON_PLUS_FLAT;
    o->epsilon = -1.0f;
    o->gamma = 0.25f;
    o->low = NAN;
    o->high = NAN;
    o->stride[0] = o->stride[1] = 1;
    o->cells = 7;
    o->p1 = 0.5f;
}

/* The second round's descriptors, by method (NULL below XCNN_DEEPLIFT,
 * and for all of them in an XCNN_EXPLAIN_CORE build: base/config.h). */
static const xcnn_ex_method *second_round(xcnn_method method)
{
#ifdef XCNN_EXPLAIN_CORE
    (void)method;
    return NULL;
#else
    static const xcnn_ex_method *const table[XCNN_METHOD_COUNT - XCNN_DEEPLIFT] = {
        &xcnn_ex_deeplift,  &xcnn_ex_deeplift_shap, &xcnn_ex_gradient_shap,
        &xcnn_ex_lrp,       &xcnn_ex_occlusion,     &xcnn_ex_rise,
        &xcnn_ex_cam,       &xcnn_ex_gradcam_plus_plus, &xcnn_ex_xgradcam,
        &xcnn_ex_layercam,  &xcnn_ex_hirescam,      &xcnn_ex_scorecam,
        &xcnn_ex_eigencam,  &xcnn_ex_ablationcam};
    if ((unsigned)method < XCNN_DEEPLIFT || (unsigned)method >= XCNN_METHOD_COUNT) return NULL;
    return table[method - XCNN_DEEPLIFT];
#endif
}

/* A second-round method this build left out (XCNN_EXPLAIN_CORE)? */
static int left_out(xcnn_method method)
{
    return (unsigned)method >= XCNN_DEEPLIFT && (unsigned)method < XCNN_METHOD_COUNT &&
           !second_round(method);
}

static const char *method_name(xcnn_method method)
{
    static const char *const names[XCNN_METHOD_COUNT] = {
        "saliency", "input x gradient", "deconvnet", "guided backprop", "integrated gradients",
        "smoothgrad", "Grad-CAM", "guided Grad-CAM", "deeplift", "deeplift-shap",
        "gradient-shap", "lrp", "occlusion", "rise", "cam", "gradcam-plus-plus", "xgradcam",
        "layercam", "hirescam", "scorecam", "eigencam", "ablationcam"};
    return (unsigned)method < XCNN_METHOD_COUNT ? names[method] : "explanation";
}

static int input_is_image(const xcnn_model *m)
{
    return m->g->tensors[m->g->input].ndim == 4;
}

/* xcnn_explain_shape with the model held (the wrappers at the end). */
static xcnn_status explain_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                                 int64_t dims[4])
{
    xcnn_err err = {{0}};
    if (!o || !ndim || !dims) {
        xcnn_format(m->error, sizeof m->error, "xcnn_explain_shape: options, ndim and dims must "
                 "not be NULL");
        return XCNN_ERR_ARG;
    }
    if ((unsigned)o->method >= XCNN_METHOD_COUNT) {
        xcnn_format(m->error, sizeof m->error, "unknown explanation method %d", (int)o->method);
        return XCNN_ERR_ARG;
    }
    if (left_out(o->method)) {
        xcnn_format(m->error, sizeof m->error, "%s is not in this build of libxcnn (made with "
                    "XCNN_EXPLAIN_CORE: the first eight methods only)", method_name(o->method));
        return XCNN_ERR_UNSUPPORTED;
    }
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    const xcnn_ex_method *d = second_round(o->method);
    if (d && d->shape) {
        xcnn_status st = d->shape(m, o, ndim, dims, &err);
        if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
        return st;
    }
    if (o->method == XCNN_GRADCAM || o->method == XCNN_GUIDED_GRADCAM) {
        /* what xcnn_explain refuses, refused here too, in its order
         * (check_options, then the layer): no shape for a call that fails */
        if (!input_is_image(m) && (o->upsample || o->method == XCNN_GUIDED_GRADCAM)) {
            xcnn_format(m->error, sizeof m->error, "the model input is not NxCxHxW: cannot map a "
                     "Grad-CAM onto it");
            return XCNN_ERR_SHAPE;
        }
        int t;
        xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, &err);
        if (st) {
            xcnn_format(m->error, sizeof m->error, "%s", err.msg);
            return st;
        }
        if (o->method == XCNN_GRADCAM) {
            const xcnn_tensor *lt = &m->g->tensors[t];
            *ndim = 4;
            dims[0] = 1;
            dims[1] = 1;
            dims[2] = o->upsample ? in->dims[2] : lt->dims[2];
            dims[3] = o->upsample ? in->dims[3] : lt->dims[3];
            return XCNN_OK;
        }
    }
    if (in->ndim > 4) {
        xcnn_format(m->error, sizeof m->error, "explanations take inputs of at most 4 dimensions; "
                 "this model's has %d", in->ndim);
        return XCNN_ERR_UNSUPPORTED;
    }
    *ndim = in->ndim;
    for (int i = 0; i < *ndim; i++) dims[i] = in->dims[i];
    dims[0] = 1;
    return XCNN_OK;
}

static xcnn_status check_options(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                 xcnn_err *err)
{
    size_t in_n = xcnn_ex_input_numel(m);
    for (size_t i = 0; i < in_n; i++)
        if (!isfinite(x[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "input element %zu is %s", i,
                             isnan(x[i]) ? "NaN" : "infinite");
    switch (o->method) {
    case XCNN_SALIENCY:
    case XCNN_INPUT_X_GRADIENT:
    case XCNN_DECONVNET:
    case XCNN_GUIDED_BACKPROP:
        return XCNN_OK;
    case XCNN_INTEGRATED_GRADIENTS:
        if (o->steps < 1 || o->steps > 100000)
            return xcnn_fail(err, XCNN_ERR_ARG, "steps must be 1..100000 (got %d)", o->steps);
        if (o->ig_rule == XCNN_IG_RIEMANN_TRAPEZOID && o->steps < 2)
            return xcnn_fail(err, XCNN_ERR_ARG, "riemann_trapezoid needs at least 2 steps");
        if ((unsigned)o->ig_rule > XCNN_IG_RIEMANN_TRAPEZOID)
            return xcnn_fail(err, XCNN_ERR_ARG, "unknown integration rule %d", (int)o->ig_rule);
        if (o->baseline)
            for (size_t i = 0; i < in_n; i++) {
                if (!isfinite(o->baseline[i]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "baseline element %zu is not finite",
                                     i);
                /* the path runs along x - baseline: it must be a float */
                if (!isfinite(x[i] - o->baseline[i]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "baseline element %zu (%g) is too "
                                     "far from the input (%g): input - baseline overflows float",
                                     i, (double)o->baseline[i], (double)x[i]);
            }
        return XCNN_OK;
    case XCNN_SMOOTHGRAD:
        if (o->samples < 1 || o->samples > 100000)
            return xcnn_fail(err, XCNN_ERR_ARG, "samples must be 1..100000 (got %d)",
                             o->samples);
        if (!isfinite(o->stdev))
            return xcnn_fail(err, XCNN_ERR_ARG, "stdev must be a finite number");
        return XCNN_OK;
    case XCNN_GRADCAM:
    case XCNN_GUIDED_GRADCAM:
        if (!input_is_image(m) && (o->upsample || o->method == XCNN_GUIDED_GRADCAM))
            return xcnn_fail(err, XCNN_ERR_SHAPE, "the model input is not NxCxHxW: cannot "
                             "map a Grad-CAM onto it");
        return XCNN_OK;
    default:
        if (second_round(o->method)) return second_round(o->method)->check(m, x, o, err);
        if (left_out(o->method))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s is not in this build of libxcnn "
                             "(made with XCNN_EXPLAIN_CORE: the first eight methods only)",
                             method_name(o->method));
        break;
    }
    return xcnn_fail(err, XCNN_ERR_ARG, "unknown explanation method %d", (int)o->method);
}

xcnn_status xcnn_ex_explain_begin_held(xcnn_model *m, const float *input,
                                       const xcnn_explain_options *o, size_t out_len,
                                       xcnn_explain_result *res)
{
    xcnn_err err = {{0}};
    memset(res, 0, sizeof *res);
    /* Said first: without gradient buffers, later checks would misread
     * the model (every layer looks like a constant). */
    if (m->inference_only) {
        xcnn_format(m->error, sizeof m->error, "explanations need gradients, and the model was "
                 "loaded for inference only (xcnn_load_options.inference_only, or an .xcnn "
                 "made with xcnn convert --fold-bn)");
        return XCNN_ERR_ARG;
    }
    if (m->grad_from >= 0 && o->method != XCNN_GRADCAM) {
        xcnn_format(m->error, sizeof m->error, "the model keeps gradients only from layer '%s' on "
                 "(xcnn_load_options.explain_layer): only Grad-CAM, at that layer or after it, "
                 "can run", m->g->tensors[m->grad_from].name);
        return XCNN_ERR_ARG;
    }
    xcnn_status st = check_options(m, input, o, &err);
    if (!st) st = explain_shape(m, o, &res->ndim, res->dims);
    if (st) {
        if (err.msg[0]) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
        return st;
    }
    size_t need = 1;
    for (int i = 0; i < res->ndim; i++) need *= (size_t)res->dims[i];
    if (out_len < need) {
        xcnn_format(m->error, sizeof m->error, "explain: out holds %zu floats, %zu needed", out_len,
                 need);
        return XCNN_ERR_ARG;
    }
    return XCNN_OK;
}

static xcnn_status explain(xcnn_model *m, const float *input, const xcnn_explain_options *o,
                           float *out, size_t out_len, xcnn_explain_result *result)
{
    xcnn_err err = {{0}};
    xcnn_explain_result local;
    xcnn_explain_result *res = result ? result : &local;
    if (!m) return XCNN_ERR_ARG;
    if (!input || !o || !out) {
        xcnn_format(m->error, sizeof m->error, "explain: input, options and out must not be NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_status st = xcnn_ex_explain_begin_held(m, input, o, out_len, res);
    if (st) return st;
    size_t need = 1;
    for (int i = 0; i < res->ndim; i++) need *= (size_t)res->dims[i];
    switch (o->method) {
    case XCNN_INTEGRATED_GRADIENTS:
        st = xcnn_ex_integrated_gradients(m, input, o, out, res, &err);
        break;
    case XCNN_SMOOTHGRAD:
        st = xcnn_ex_smoothgrad(m, input, o, out, res, &err);
        break;
    case XCNN_GRADCAM:
    case XCNN_GUIDED_GRADCAM:
        st = xcnn_ex_gradcam(m, input, o, out, res, &err);
        break;
    case XCNN_SALIENCY:
    case XCNN_INPUT_X_GRADIENT:
    case XCNN_DECONVNET:
    case XCNN_GUIDED_BACKPROP:
        st = xcnn_ex_gradient(m, input, o, out, res, &err);
        break;
    default:
        st = second_round(o->method)->run(m, input, o, out, res, &err);
        break;
    }
    /* The methods name the causes they know; this catches the rest. */
    if (!st) st = xcnn_ex_check_finite(out, need, method_name(o->method), &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    return st;
}

/* The public entry points hold the model for the whole call (model.h): a
 * second thread's call returns XCNN_ERR_BUSY and touches nothing. */
xcnn_status xcnn_explain_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                               int64_t dims[4])
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = explain_shape(m, o, ndim, dims);
    xcnn_model_leave(m);
    return st;
}

xcnn_status xcnn_ex_explain_shape_held(xcnn_model *m, const xcnn_explain_options *o,
                                       int *ndim, int64_t dims[4])
{
    return explain_shape(m, o, ndim, dims);
}

xcnn_status xcnn_ex_explain_held(xcnn_model *m, const float *input,
                                 const xcnn_explain_options *o, float *out, size_t out_len,
                                 xcnn_explain_result *result)
{
    return explain(m, input, o, out, out_len, result);
}

xcnn_status xcnn_explain(xcnn_model *m, const float *input, const xcnn_explain_options *o,
                         float *out, size_t out_len, xcnn_explain_result *result)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = explain(m, input, o, out, out_len, result);
    xcnn_model_leave(m);
    return st;
}
