/*
 * xcnn_explain: checks the options once, then hands over to the method.
 * Also owns the explainer workspace (sized when the arena is reserved, so
 * the methods allocate nothing) and the shared forward/backward helpers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "explain.h"

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

int xcnn_ex_affine_cut(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    int reader = -1;
    if (m->inference_only || xcnn_graph_readers(g, g->input, &reader) != 1) return -1;
    const xcnn_node *n = &g->nodes[reader];
    if (strcmp(n->op_type, "Conv") != 0 || n->fused_relu || n->in[0] != g->input) return -1;
    for (int k = 1; k < n->n_in; k++) /* weights and bias fixed: affine in x */
        if (n->in[k] >= 0 && g->tensors[n->in[k]].kind != XCNN_T_CONST) return -1;
    int cut = n->out[0];
    const xcnn_tensor *t = &g->tensors[cut];
    if (n->n_out != 1 || cut == g->output || t->kind != XCNN_T_ACTIVATION || !t->grad) return -1;
    return cut;
}

xcnn_status xcnn_explain_reserve(xcnn_model *m, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    size_t in_n = xcnn_ex_input_numel(m);
    size_t cam = 1;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (t->kind != XCNN_T_CONST && t->ndim == 4 && (size_t)(t->dims[2] * t->dims[3]) > cam)
            cam = (size_t)(t->dims[2] * t->dims[3]);
    }
    free(m->ex_path);
    free(m->ex_acc);
    free(m->ex_targets);
    free(m->ex_cam);
    m->ex_path = malloc(in_n * (size_t)m->max_batch * sizeof(float));
    m->ex_acc = malloc(in_n * sizeof(double));
    m->ex_targets = malloc((size_t)m->max_batch * sizeof(int));
    m->ex_cam = malloc(cam * sizeof(float));
    m->ex_cam_floats = cam;
    if (!m->ex_path || !m->ex_acc || !m->ex_targets || !m->ex_cam)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace");
    free(m->ex_cut_acc);
    free(m->ex_cut_seed);
    m->ex_cut_acc = NULL;
    m->ex_cut_seed = NULL;
    m->ex_cut = xcnn_ex_affine_cut(m);
    if (m->ex_cut >= 0) {
        size_t cn = xcnn_tensor_sample_numel(&g->tensors[m->ex_cut]);
        m->ex_cut_acc = malloc(cn * sizeof(double));
        m->ex_cut_seed = malloc(cn * sizeof(float));
        if (!m->ex_cut_acc || !m->ex_cut_seed)
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace");
    }
    return XCNN_OK;
}

void xcnn_explain_options_init(xcnn_explain_options *o, xcnn_method method)
{
    memset(o, 0, sizeof *o);
    o->method = method;
    o->target = -1;
    o->steps = 50;
    o->ig_rule = XCNN_IG_GAUSS_LEGENDRE;
    o->samples = 25;
    o->stdev = -1.0f;
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
    const float *y = m->g->tensors[m->g->output].data;
    size_t k = xcnn_ex_output_numel(m);
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

const char *xcnn_model_default_cam_layer(const xcnn_model *m)
{
    if (!m) return NULL;
    const xcnn_graph *g = m->g;
    for (int i = m->n_compute - 1; i >= 0; i--) {
        const xcnn_tensor *t = &g->tensors[g->nodes[m->compute[i]].out[0]];
        if (t->ndim == 4 && t->dims[2] * t->dims[3] > 1) return t->name;
    }
    return NULL;
}

xcnn_status xcnn_ex_cam_layer(const xcnn_model *m, const char *name, int *tensor, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    if (!name) {
        name = xcnn_model_default_cam_layer(m);
        if (!name)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "the model has no 4-D layer output with "
                             "more than one pixel: Grad-CAM has nothing to map");
    }
    int t = xcnn_model_find_layer(m, name);
    if (t < 0) return xcnn_fail(err, XCNN_ERR_NOT_FOUND, "no layer or tensor named '%s'", name);
    const xcnn_tensor *lt = &g->tensors[t];
    if (lt->kind == XCNN_T_CONST || !lt->grad)
        return xcnn_fail(err, XCNN_ERR_ARG, "'%s' is a weight or constant, not a layer output",
                         name);
    if (lt->ndim != 4) {
        char s[96];
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "layer '%s' has shape %s: Grad-CAM needs a 4-D (NxCxHxW) output", name,
                         xcnn_shape_str(lt, s, sizeof s));
    }
    *tensor = t;
    return XCNN_OK;
}

static int input_is_image(const xcnn_model *m)
{
    return m->g->tensors[m->g->input].ndim == 4;
}

xcnn_status xcnn_explain_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                               int64_t dims[4])
{
    xcnn_err err = {{0}};
    if (!m || !o || !ndim || !dims) return XCNN_ERR_ARG;
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (o->method == XCNN_GRADCAM) {
        int t;
        xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, &err);
        if (st) {
            snprintf(m->error, sizeof m->error, "%s", err.msg);
            return st;
        }
        const xcnn_tensor *lt = &m->g->tensors[t];
        *ndim = 4;
        dims[0] = 1;
        dims[1] = 1;
        dims[2] = o->upsample ? in->dims[2] : lt->dims[2];
        dims[3] = o->upsample ? in->dims[3] : lt->dims[3];
        return XCNN_OK;
    }
    if (in->ndim > 4) {
        snprintf(m->error, sizeof m->error, "explanations take inputs of at most 4 dimensions; "
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
            for (size_t i = 0; i < in_n; i++)
                if (!isfinite(o->baseline[i]))
                    return xcnn_fail(err, XCNN_ERR_NUMERIC, "baseline element %zu is not finite",
                                     i);
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
    }
    return xcnn_fail(err, XCNN_ERR_ARG, "unknown explanation method %d", (int)o->method);
}

xcnn_status xcnn_explain(xcnn_model *m, const float *input, const xcnn_explain_options *o,
                         float *out, size_t out_len, xcnn_explain_result *result)
{
    xcnn_err err = {{0}};
    xcnn_explain_result local;
    xcnn_explain_result *res = result ? result : &local;
    if (!m) return XCNN_ERR_ARG;
    if (!input || !o || !out) {
        snprintf(m->error, sizeof m->error, "explain: input, options and out must not be NULL");
        return XCNN_ERR_ARG;
    }
    memset(res, 0, sizeof *res);
    xcnn_status st = check_options(m, input, o, &err);
    if (!st) st = xcnn_explain_shape(m, o, &res->ndim, res->dims);
    if (st) {
        if (err.msg[0]) snprintf(m->error, sizeof m->error, "%s", err.msg);
        return st;
    }
    size_t need = 1;
    for (int i = 0; i < res->ndim; i++) need *= (size_t)res->dims[i];
    if (out_len < need) {
        snprintf(m->error, sizeof m->error, "explain: out holds %zu floats, %zu needed", out_len,
                 need);
        return XCNN_ERR_ARG;
    }
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
    default:
        st = xcnn_ex_gradient(m, input, o, out, res, &err);
        break;
    }
    if (st) snprintf(m->error, sizeof m->error, "%s", err.msg);
    return st;
}
