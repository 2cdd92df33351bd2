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
#include "../ops/conv.h"

int xcnn_model_affine_entry(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    int reader = -1;
    if (m->inference_only || m->grad_from >= 0 || xcnn_graph_readers(g, g->input, &reader) != 1)
        return -1;
    const xcnn_node *n = &g->nodes[reader];
    if (strcmp(n->op_type, "Conv") != 0 || n->fused_relu || n->fused_clip || n->in[0] != g->input) return -1;
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
    m->ex_index = xcnn_mem_alloc(m->mem, in_n * sizeof(int));
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
    if (!m->ex_acc || !m->ex_acc2 || !m->ex_index || !m->ex_layer || !m->ex_layer_acc ||
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

/* LRP (explain/propagation/lrp_layers.c) runs each Conv on modified weights: for a
 * block of output channels the stacked weights A (up to [W | -W+ | -W-]
 * or gamma's two rows of [W+gW+ | W+gW-]) and their biases, for a block
 * of output pixels its columns, their products and the ratios. Per output
 * channel r_out (K' + 1) floats, per pixel 2 K' + r_out mc, with K' up to
 * 3 K (z-box) and r_out up to 2 (gamma), K = the rows of a group's
 * im2col. Room for every channel and XCNN_LRP_BLOCK_PIXELS pixels of the
 * costliest rule (a GEMM of that many columns already runs at speed;
 * lrp_layers.c takes as many more pixels as the room holds), at most
 * XCNN_LRP_ROOM_FLOATS (the blocks get smaller, the products are the
 * same), but never less than one channel and one pixel (10 K + 8) nor
 * the flat rule's two planes in double; also room for the input of an
 * (Global)AveragePool (the norm rule's product) and a Gemm's output in
 * double. Sized from the graph alone, for one sample (LRP runs one).
 * ResNet-18 at 224x224: 1 Mi floats, 4 MiB (its arena: 52 MiB).
 * explain/propagation/lrp_rules.c checks each layer against the room it gets
 * (xcnn_lrp_conv_min_room). */
#ifndef XCNN_LRP_ROOM_FLOATS
#ifdef XCNN_SMALL
#define XCNN_LRP_ROOM_FLOATS ((uint64_t)8192)
#else
#define XCNN_LRP_ROOM_FLOATS ((uint64_t)1 << 20)
#endif
#endif
#define XCNN_LRP_BLOCK_PIXELS 64

size_t xcnn_workspace_rule_floats(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    if (!wants_path(m)) return 0;
    uint64_t room = 0;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *n = &g->nodes[m->compute[i]];
        uint64_t need = 0;
        if (!strcmp(n->op_type, "Conv")) {
            const xcnn_conv_shape *s = n->params;
            const xcnn_window2d *w = &s->win;
            uint64_t K = (uint64_t)(s->c_in / s->group) * (uint64_t)w->k_h * (uint64_t)w->k_w;
            uint64_t mg = (uint64_t)(s->c_out / s->group), P = (uint64_t)w->out_h * w->out_w;
            uint64_t least = 10 * K + 8, flat = 2 * (P + (uint64_t)w->in_h * w->in_w);
            uint64_t px = P < XCNN_LRP_BLOCK_PIXELS ? P : XCNN_LRP_BLOCK_PIXELS;
            uint64_t block = 2 * mg * (3 * K + 1) + px * (6 * K + 2 * mg);
            need = block < XCNN_LRP_ROOM_FLOATS ? block : XCNN_LRP_ROOM_FLOATS;
            if (need < least) need = least;
            if (need < flat) need = flat;
        } else if (!strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul")) {
            need = 2 * (uint64_t)xcnn_tensor_sample_numel(&g->tensors[n->out[0]]);
        } else if (!strcmp(n->op_type, "AveragePool") ||
                   !strcmp(n->op_type, "GlobalAveragePool") ||
                   !strcmp(n->op_type, "ReduceMean")) {
            need = xcnn_tensor_sample_numel(&g->tensors[n->in[0]]);
        }
        if (need > room) room = need;
    }
    /* a layer too large to address fails the allocation, not the arithmetic */
    return room < SIZE_MAX / sizeof(float) ? (size_t)room : SIZE_MAX / sizeof(float);
}
