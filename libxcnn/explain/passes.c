/*
 * What every method shares: sizes, how many inputs a pass takes, the
 * forward that resolves the target, the backward and batched passes, and
 * the Grad-CAM layer lookup. The methods call these; explain.c, which
 * calls the methods, sits above them all.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "explain.h"
#include "../base/format.h"

size_t xcnn_ex_input_numel(const xcnn_model *m)
{
    return xcnn_tensor_sample_numel(&m->g->tensors[m->g->input]);
}

size_t xcnn_ex_output_numel(const xcnn_model *m)
{
    return xcnn_tensor_sample_numel(&m->g->tensors[m->g->output]);
}

/* A pass over a batch writes every activation and gradient of every input
 * in it and reads them back. Once that outgrows the caches, a bigger batch
 * only adds memory traffic: on ResNet-18 (about 45 MB per input) batches
 * of 2 ran integrated gradients 5% faster than batches of 10 on one
 * thread. Small models still batch fully (a pass has fixed costs). The
 * results do not depend on the batch. */
#define XCNN_EX_PASS_BYTES ((size_t)96 << 20)

int xcnn_ex_pass_batch(const xcnn_model *m)
{
    size_t per_input = (m->arena_bytes - m->scratch_floats * sizeof(float)) /
                       (size_t)m->max_batch;
    size_t fit = per_input ? XCNN_EX_PASS_BYTES / per_input : (size_t)m->max_batch;
    /* at least one input per thread that runs passes a sample each */
    if (fit < (size_t)m->n_views) fit = (size_t)m->n_views;
    if (fit < 1) fit = 1;
    return fit < (size_t)m->max_batch ? (int)fit : m->max_batch;
}

xcnn_status xcnn_ex_forward_target(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   xcnn_explain_result *res, xcnn_err *err)
{
    return xcnn_ex_forward_values(m, x, o, -1, res, err);
}

xcnn_status xcnn_ex_forward_values(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   int values_to, xcnn_explain_result *res, xcnn_err *err)
{
    xcnn_status st = xcnn_exec_forward_values(m, x, 1, values_to, err);
    if (st) return st;
    return xcnn_ex_pick_target(m->g->tensors[m->g->output].data, xcnn_ex_output_numel(m), o,
                               res, err);
}

xcnn_status xcnn_ex_pick_target(const float *y, size_t k, const xcnn_explain_options *o,
                                xcnn_explain_result *res, xcnn_err *err)
{
    int t = o->target;
    if (t < -1)
        return xcnn_fail(err, XCNN_ERR_ARG, "target %d: give a class index, or -1 for the "
                         "arg-max", t);
    if (t < 0) {
        t = 0;
        for (size_t i = 1; i < k; i++)
            if (y[i] > y[t]) t = (int)i;
    } else if ((size_t)t >= k) {
        return xcnn_fail(err, XCNN_ERR_ARG,
                         "target %d is out of range: the model has %zu outputs (0..%zu)", t, k,
                         k - 1);
    }
    res->target = t;
    res->score = y[t];
    return XCNN_OK;
}

xcnn_status xcnn_ex_backward(xcnn_model *m, int batch, int target, xcnn_relu_rule rule,
                             int stop, xcnn_err *err)
{
    for (int b = 0; b < batch; b++) m->ex_targets[b] = target;
    return xcnn_exec_backward(m, m->ex_targets, NULL, rule, stop, err);
}

xcnn_status xcnn_ex_passes(xcnn_model *m, const float *inputs, int batch, int target,
                           xcnn_relu_rule rule, int stop, xcnn_err *err)
{
    for (int b = 0; b < batch; b++) m->ex_targets[b] = target;
    return xcnn_exec_sample_passes(m, inputs, batch, m->ex_targets, rule, stop, err);
}

xcnn_status xcnn_ex_context(xcnn_status st, xcnn_err *err, const char *fmt, ...)
{
    if (st != XCNN_ERR_NUMERIC) return st;
    char what[200], msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    xcnn_vformat(what, sizeof what, fmt, ap);
    va_end(ap);
    xcnn_format(msg, sizeof msg, "%s", err->msg);
    return xcnn_fail(err, st, "%s: %s", what, msg);
}

xcnn_status xcnn_ex_check_finite(const float *v, size_t n, const char *method, xcnn_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: attribution element %zu is %s", method,
                             i, isnan(v[i]) ? "NaN" : "infinite");
    return XCNN_OK;
}

/* xcnn_model_default_cam_layer: core/model.c (the load resolves
 * xcnn_load_options.explain_layer "" with it). */

xcnn_status xcnn_ex_cam_layer(const xcnn_model *m, const char *name, int *tensor, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    if (!name) {
        name = xcnn_model_default_cam_layer(m);
        if (!name)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "the model has no 4-D layer output with "
                             "more than one pixel: Grad-CAM has nothing to map");
    }
    /* Before the layer: without gradient buffers every layer would look
     * like a weight below. */
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "Grad-CAM needs gradients, and the model was loaded "
                         "for inference only (xcnn_load_options.inference_only, or an .xcnn "
                         "made with xcnn convert --fold-bn)");
    int t = xcnn_model_find_layer(m, name);
    if (t < 0) return xcnn_fail(err, XCNN_ERR_NOT_FOUND, "no layer or tensor named '%s'", name);
    const xcnn_tensor *lt = &g->tensors[t];
    /* Grad-CAM weighs a layer's feature maps (EXPLAINERS.md: A = the output
     * of layer L); the input is no node's output, and its "channels" are
     * colours: refused for both Grad-CAM methods alike. */
    const char *dflt = xcnn_model_default_cam_layer(m);
    if (lt->kind == XCNN_T_INPUT)
        return xcnn_fail(err, XCNN_ERR_ARG, "'%s' is the model's input, not a layer: Grad-CAM "
                         "takes the 4-D (NxCxHxW) output of a node%s%s%s", name,
                         dflt ? ", e.g. '" : "", dflt ? dflt : "", dflt ? "' (the default)" : "");
    if (m->grad_from >= 0 && lt->kind == XCNN_T_ACTIVATION && !lt->grad)
        return xcnn_fail(err, XCNN_ERR_ARG, "layer '%s' comes before '%s', the layer the model "
                         "keeps gradients from (xcnn_load_options.explain_layer)", name,
                         g->tensors[m->grad_from].name);
    if (lt->kind == XCNN_T_CONST || !lt->grad)
        return xcnn_fail(err, XCNN_ERR_ARG, "'%s' is a weight or constant, not a layer: Grad-CAM "
                         "takes the 4-D (NxCxHxW) output of a node%s%s%s", name,
                         dflt ? ", e.g. '" : "", dflt ? dflt : "", dflt ? "' (the default)" : "");
    if (lt->ndim != 4) {
        char s[96];
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "layer '%s' has shape %s: Grad-CAM needs a 4-D (NxCxHxW) output%s%s%s",
                         name, xcnn_shape_str(lt, s, sizeof s), dflt ? ", e.g. '" : "",
                         dflt ? dflt : "", dflt ? "' (the default)" : "");
    }
    *tensor = t;
    return XCNN_OK;
}
