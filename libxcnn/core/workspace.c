/*
 * The explainers' workspace, sized whenever the arena is (so that
 * xcnn_explain allocates nothing): path points and noisy inputs for a
 * batch, running sums in double, targets, one CAM plane, and the sums at
 * the model's affine entry (see xcnn_model_affine_entry in model.h).
 * It lives in core, not in explain/, so that the arena, which calls it,
 * never calls up into the methods.
 */
#include <stdlib.h>
#include <string.h>
#include "model.h"

int xcnn_model_affine_entry(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    int reader = -1;
    if (m->inference_only || m->grad_from >= 0 || xcnn_graph_readers(g, g->input, &reader) != 1)
        return -1;
    const xcnn_node *n = &g->nodes[reader];
    if (strcmp(n->op_type, "Conv") != 0 || n->fused_relu || n->in[0] != g->input) return -1;
    for (int k = 1; k < n->n_in; k++) /* weights and bias fixed: affine in x */
        if (n->in[k] >= 0 && g->tensors[n->in[k]].kind != XCNN_T_CONST) return -1;
    int cut = n->out[0];
    const xcnn_tensor *t = &g->tensors[cut];
    if (n->n_out != 1 || cut == g->output || t->kind != XCNN_T_ACTIVATION || !t->grad) return -1;
    return cut;
}

/* What the explainers can run on this model: nothing (inference_only),
 * Grad-CAM at the explain_layer only (targets and a CAM plane), or every
 * method (the input-sized buffers too). */
static int wants_path(const xcnn_model *m) { return !m->inference_only && m->grad_from < 0; }

xcnn_status xcnn_workspace_alloc(const xcnn_model *m, int max_batch, xcnn_workspace_batch *w,
                                 xcnn_err *err)
{
    w->path = NULL;
    w->path2 = NULL;
    w->targets = NULL;
    if (m->inference_only) return XCNN_OK;
    size_t in_n = xcnn_tensor_sample_numel(&m->g->tensors[m->g->input]);
    if (wants_path(m)) {
        w->path = xcnn_mem_alloc(m->mem, in_n * (size_t)max_batch * sizeof(float));
        w->path2 = xcnn_mem_alloc(m->mem, in_n * (size_t)max_batch * sizeof(float));
    }
    w->targets = xcnn_mem_alloc(m->mem, (size_t)max_batch * sizeof(int));
    if (((w->path && w->path2) || !wants_path(m)) && w->targets) return XCNN_OK;
    xcnn_mem_free(m->mem, w->targets);
    xcnn_mem_free(m->mem, w->path2);
    xcnn_mem_free(m->mem, w->path);
    w->path = NULL;
    w->path2 = NULL;
    w->targets = NULL;
    return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace "
                     "(batch %d)", max_batch);
}

xcnn_status xcnn_workspace_reserve(xcnn_model *m, xcnn_workspace_batch *w, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    if (m->inference_only) return XCNN_OK;
    xcnn_mem_free(m->mem, m->ex_path);
    xcnn_mem_free(m->mem, m->ex_path2);
    xcnn_mem_free(m->mem, m->ex_targets);
    m->ex_path = w->path;
    m->ex_path2 = w->path2;
    m->ex_targets = w->targets;
    w->path = NULL;
    w->path2 = NULL;
    w->targets = NULL;
    /* The rest is sized by the graph alone: made by the first reserve (at
     * load), kept by the later ones, which therefore cannot fail here. */
    if (m->ex_cam) return XCNN_OK;
    size_t in_n = xcnn_tensor_sample_numel(&m->g->tensors[m->g->input]);
    size_t cam = 1;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (t->kind != XCNN_T_CONST && t->ndim == 4 && (size_t)(t->dims[2] * t->dims[3]) > cam)
            cam = (size_t)(t->dims[2] * t->dims[3]);
    }
    m->ex_cam = xcnn_mem_alloc(m->mem, cam * sizeof(float));
    m->ex_cam_floats = cam;
    if (!m->ex_cam) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace");
    if (!wants_path(m)) return XCNN_OK;
    m->ex_acc = xcnn_mem_alloc(m->mem, in_n * sizeof(double));
    m->ex_acc2 = xcnn_mem_alloc(m->mem, in_n * sizeof(double));
    size_t act = 1;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (t->kind == XCNN_T_ACTIVATION && xcnn_tensor_sample_numel(t) > act)
            act = xcnn_tensor_sample_numel(t);
    }
    m->ex_layer = xcnn_mem_alloc(m->mem, act * sizeof(float));
    m->ex_layer_acc = xcnn_mem_alloc(m->mem, act * sizeof(double));
    m->ex_layer_floats = act;
    m->ex_rule_floats = xcnn_workspace_rule_floats(m);
    m->ex_rule = m->ex_rule_floats ? xcnn_mem_alloc(m->mem, m->ex_rule_floats * sizeof(float))
                                   : NULL;
    if (!m->ex_acc || !m->ex_acc2 || !m->ex_layer || !m->ex_layer_acc ||
        (m->ex_rule_floats && !m->ex_rule))
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace");
    m->ex_cut = xcnn_model_affine_entry(m);
    if (m->ex_cut >= 0) {
        size_t cn = xcnn_tensor_sample_numel(&g->tensors[m->ex_cut]);
        m->ex_cut_acc = xcnn_mem_alloc(m->mem, cn * sizeof(double));
        m->ex_cut_seed = xcnn_mem_alloc(m->mem, cn * sizeof(float));
        if (!m->ex_cut_acc || !m->ex_cut_seed)
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for the explainer workspace");
    }
    return XCNN_OK;
}

/* LRP (explain/lrp*.c) runs Convs and Gemms on modified weights (W+ and
 * W-, the flat rule's ones, BatchNorm merged in): room for them. 0 until
 * LRP says otherwise. */
size_t xcnn_workspace_rule_floats(const xcnn_model *m)
{
    (void)m;
    return 0;
}
