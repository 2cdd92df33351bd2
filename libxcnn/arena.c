/*
 * Memory planning. Every activation keeps its value and its gradient for
 * the whole pass (explainers read any layer afterwards), so the plan is
 * simple: one slice per tensor, sized for max_batch samples, 64-byte
 * aligned, in one allocation with the op scratch space at the end. Nothing
 * is allocated after this: forward and backward only use these slices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

#define XCNN_ALIGN_FLOATS 16 /* 64 bytes: one cache line, one AVX-512 vector */

static size_t round_up(size_t n) { return (n + XCNN_ALIGN_FLOATS - 1) / XCNN_ALIGN_FLOATS * XCNN_ALIGN_FLOATS; }

static int is_arena_tensor(const xcnn_tensor *t)
{
    return t->kind != XCNN_T_CONST && t->dtype == XCNN_DT_FLOAT && t->ndim >= 1;
}

/* n * m without wrapping; returns 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

xcnn_status xcnn_arena_reserve(xcnn_model *m, int max_batch, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (max_batch < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch must be at least 1 (got %d)", max_batch);

    size_t total = 0, scratch = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (!is_arena_tensor(t)) continue;
        size_t slice;
        if (!mul_ok(xcnn_tensor_sample_numel(t), (size_t)max_batch, &slice))
            return xcnn_fail(err, XCNN_ERR_LIMIT, "batch %d is too large for tensor '%s'",
                             max_batch, t->name);
        total += (m->inference_only ? 1 : 2) * round_up(slice); /* value and gradient */
        if (total > SIZE_MAX / 8)
            return xcnn_fail(err, XCNN_ERR_LIMIT, "batch %d needs more memory than "
                             "can be addressed", max_batch);
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].folded && g->nodes[i].scratch_floats > scratch)
            scratch = g->nodes[i].scratch_floats;
    scratch = round_up(scratch);
    total += scratch;

    /* Zeroed so that reading a tensor before any pass gives 0, not garbage.
     * calloc, not malloc + memset: a large block comes straight from the
     * OS as zero pages that use no memory until written, so the slices of
     * a batch larger than the passes actually run (the explainers cap
     * theirs) cost address space, not RAM. Over-allocated by one cache
     * line to align the start by hand. */
    size_t floats = (total ? total : XCNN_ALIGN_FLOATS) + XCNN_ALIGN_FLOATS;
    float *mem = calloc(floats, sizeof(float));
    if (!mem)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "needed %zu bytes for batch %d, allocation failed",
                         total * sizeof(float), max_batch);
    float *arena = (float *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    free(m->arena_mem);
    m->arena_mem = mem;
    m->arena = arena;
    m->arena_bytes = total * sizeof(float);
    m->max_batch = max_batch;
    m->have_forward = m->have_backward = 0;

    size_t off = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (!is_arena_tensor(t)) continue;
        size_t slice = round_up(xcnn_tensor_sample_numel(t) * (size_t)max_batch);
        t->data = arena + off;
        off += slice;
        t->grad = NULL;
        if (m->inference_only) continue;
        t->grad = arena + off;
        off += slice;
    }
    m->scratch = arena + off;
    m->scratch_floats = scratch;
    g->scratch_floats = scratch;
    return xcnn_explain_reserve(m, err);
}

/* A weight gets a gradient buffer when a compute node reads it as a float. */
static int is_param(const xcnn_graph *g, int ti)
{
    const xcnn_tensor *t = &g->tensors[ti];
    if (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const xcnn_node *n = &g->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == ti) return 1;
    }
    return 0;
}

xcnn_status xcnn_arena_enable_param_grads(xcnn_model *m, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (m->param_grads) return XCNN_OK;
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model was loaded for inference only");
    size_t total = 0;
    for (int i = 0; i < g->n_tensors; i++)
        if (is_param(g, i)) total += round_up(xcnn_tensor_numel(&g->tensors[i]));
    float *mem = aligned_alloc(64, (total ? total : XCNN_ALIGN_FLOATS) * sizeof(float));
    if (!mem)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "needed %zu bytes for weight gradients",
                         total * sizeof(float));
    memset(mem, 0, (total ? total : XCNN_ALIGN_FLOATS) * sizeof(float));
    size_t off = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        if (!is_param(g, i)) continue;
        g->tensors[i].grad = mem + off;
        off += round_up(xcnn_tensor_numel(&g->tensors[i]));
    }
    m->param_grad_mem = mem;
    m->param_grad_bytes = total * sizeof(float);
    m->param_grads = 1;
    return XCNN_OK;
}
