/*
 * Finite-difference gradient check for one op, straight through its
 * xcnn_op_def (no loader, no executor), so that every layer's backward is
 * checked on its own.
 *
 * Use:
 *   gc_graph gc; gc_init(&gc, seed);
 *   int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 7, 7});  // dims[0]=1
 *   int w = gc_weight(&gc, "w", 4, (int64_t[]){4, 3, 3, 3});
 *   int node = gc_node(&gc, "Conv", (int[]){x, w}, 2);
 *   xcnn_node_add_attr_ints(&gc.g->nodes[node], "strides", ...);
 *   gradcheck_run(&gc, node, 2, "conv stride 2", 1e-2);   // batch 2
 *   gc_free(&gc);
 *
 * The check: loss = sum(r * output) for a fixed random r; the analytic
 * gradient from backward() is compared with the central difference
 * (loss(v + h) - loss(v - h)) / 2h at up to 24 random elements of every
 * float input, activations and weights alike. The error measure is
 * max|fd - analytic| / max|analytic| over the sampled elements; an
 * all-zero analytic gradient fails the check (it would pass trivially).
 */
#ifndef XCNN_TEST_GRADCHECK_H
#define XCNN_TEST_GRADCHECK_H

#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../libxcnn/graph/graph.h"

typedef struct gc_graph {
    xcnn_graph *g;
    test_rng rng;
    float lo, hi;   /* range of random input values (default -1, 1) */
} gc_graph;

static inline void gc_init(gc_graph *gc, uint64_t seed)
{
    gc->g = xcnn_graph_new();
    gc->rng.s = seed * 2654435761u + 1;
    gc->lo = -1.0f;
    gc->hi = 1.0f;
}

static inline int gc_tensor(gc_graph *gc, const char *name, xcnn_tensor_kind kind,
                            int ndim, const int64_t *dims)
{
    int idx = xcnn_graph_add_tensor(gc->g, name, kind);
    xcnn_tensor *t = &gc->g->tensors[idx];
    xcnn_tensor_set_shape(t, ndim, dims, NULL);
    return idx;
}

/* A batched input: dims[0] must be 1 (the batch is chosen at run time). */
static inline int gc_activation(gc_graph *gc, const char *name, int ndim,
                                const int64_t *dims)
{
    return gc_tensor(gc, name, XCNN_T_INPUT, ndim, dims);
}

/* A constant float tensor (weight) filled with random values. */
static inline int gc_weight(gc_graph *gc, const char *name, int ndim, const int64_t *dims)
{
    int idx = gc_tensor(gc, name, XCNN_T_CONST, ndim, dims);
    xcnn_tensor *t = &gc->g->tensors[idx];
    size_t n = xcnn_tensor_numel(t);
    t->data = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) t->data[i] = test_rng_uniform(&gc->rng, gc->lo, gc->hi);
    return idx;
}

/* A constant int64 tensor (e.g. a Reshape shape or Pad pads). */
static inline int gc_int_const(gc_graph *gc, const char *name, int count, const int64_t *v)
{
    int64_t d = count;
    int idx = gc_tensor(gc, name, XCNN_T_CONST, 1, &d);
    xcnn_tensor *t = &gc->g->tensors[idx];
    t->dtype = XCNN_DT_INT64;
    t->idata = malloc((size_t)(count ? count : 1) * sizeof(int64_t));
    memcpy(t->idata, v, (size_t)count * sizeof(int64_t));
    return idx;
}

/* A node whose single output is a fresh activation named "<op>_out". */
static inline int gc_node(gc_graph *gc, const char *op_type, const int *in, int n_in)
{
    char name[64];
    snprintf(name, sizeof name, "%s_out", op_type);
    int out = xcnn_graph_add_tensor(gc->g, name, XCNN_T_ACTIVATION);
    return xcnn_graph_add_node(gc->g, op_type, op_type, in, n_in, &out, 1);
}

static inline void gc_free(gc_graph *gc)
{
    xcnn_graph_free(gc->g);
    gc->g = NULL;
}

/* Size in floats of tensor t at this batch (activations scale with it). */
static inline size_t gc_size(const xcnn_tensor *t, int batch)
{
    if (t->kind == XCNN_T_CONST) return xcnn_tensor_numel(t);
    return xcnn_tensor_sample_numel(t) * (size_t)batch;
}

static inline double gc_loss(xcnn_graph *g, const xcnn_node *n, int batch,
                             float *scratch, const float *r)
{
    n->def->forward(g, n, batch, scratch);
    xcnn_tensor *o = &g->tensors[n->out[0]];
    size_t on = gc_size(o, batch);
    double loss = 0;
    for (size_t i = 0; i < on; i++) loss += (double)r[i] * o->data[i];
    return loss;
}

/* Set up node `node`, run it at `batch`, and check every float input's
 * gradient. Returns 1 if every check passed. `relu_rule` is normally
 * XCNN_RELU_GRADIENT. */
static inline int gradcheck_run_rule(gc_graph *gc, int node, int batch, const char *label,
                                     double tol, xcnn_relu_rule relu_rule)
{
    xcnn_graph *g = gc->g;
    xcnn_node *n = &g->nodes[node];
    xcnn_err err = {{0}};
    n->def = xcnn_op_find(n->op_type);
    if (!check(n->def != NULL, "%s: op %s is registered", label, n->op_type)) return 0;
    xcnn_status st = n->def->setup(g, n, &err);
    if (!check(st == XCNN_OK, "%s: setup (%s)", label, st ? err.msg : "ok")) return 0;

    /* Buffers for activations (data + grad) and weight grads. */
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (t->dtype != XCNN_DT_FLOAT || t->ndim < 0) continue;
        size_t sz = gc_size(t, batch);
        if (t->kind != XCNN_T_CONST) {
            t->data = calloc(sz ? sz : 1, sizeof(float));
            if (t->kind == XCNN_T_INPUT)
                for (size_t k = 0; k < sz; k++)
                    t->data[k] = test_rng_uniform(&gc->rng, gc->lo, gc->hi);
        }
        t->grad = calloc(sz ? sz : 1, sizeof(float));
        t->grad_on = 1;
    }
    float *scratch = malloc((n->scratch_floats ? n->scratch_floats : 1) * sizeof(float));
    xcnn_tensor *o = &g->tensors[n->out[0]];
    size_t on = gc_size(o, batch);
    float *r = malloc((on ? on : 1) * sizeof(float));
    for (size_t i = 0; i < on; i++) r[i] = test_rng_uniform(&gc->rng, -1, 1);

    n->def->forward(g, n, batch, scratch);
    memcpy(o->grad, r, on * sizeof(float));
    xcnn_bwd_ctx ctx = {relu_rule, NULL, NULL};
    n->def->backward(g, n, batch, scratch, &ctx);

    int all_ok = 1;
    for (int k = 0; k < n->n_in; k++) {
        xcnn_tensor *t = xcnn_in(g, n, k);
        if (!t || t->dtype != XCNN_DT_FLOAT || !t->grad) continue;
        size_t sz = gc_size(t, batch);
        if (sz == 0) continue;
        double num = 0, den = 0;
        for (int s = 0; s < 24; s++) {
            size_t idx = (size_t)(test_rng_next(&gc->rng) % sz);
            float saved = t->data[idx];
            /* h scaled to the value: float32 has ~7 digits, and the loss is
             * accumulated in double, so h = 1e-3 leaves ~1e-4 precision. */
            float h = 1e-3f * (fabsf(saved) > 1 ? fabsf(saved) : 1);
            t->data[idx] = saved + h;
            double lp = gc_loss(g, n, batch, scratch, r);
            t->data[idx] = saved - h;
            double lm = gc_loss(g, n, batch, scratch, r);
            t->data[idx] = saved;
            double fd = (lp - lm) / (2.0 * h);
            double an = t->grad[idx];
            if (fabs(fd - an) > num) num = fabs(fd - an);
            if (fabs(an) > den) den = fabs(an);
        }
        double any = 0;
        for (size_t i = 0; i < sz; i++) any += fabs(t->grad[i]);
        double rel = den > 0 ? num / den : INFINITY;
        char what[256];
        snprintf(what, sizeof what, "%s: d/d%s (batch %d)", label, t->name, batch);
        if (any == 0) {
            check(0, "%s: gradient is all zero", what);
            all_ok = 0;
        } else if (!check_close(what, rel, tol)) {
            all_ok = 0;
        }
    }
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (t->kind != XCNN_T_CONST) { free(t->data); t->data = NULL; }
        free(t->grad);
        t->grad = NULL;
    }
    free(scratch);
    free(r);
    return all_ok;
}

static inline int gradcheck_run(gc_graph *gc, int node, int batch, const char *label,
                                double tol)
{
    return gradcheck_run_rule(gc, node, batch, label, tol, XCNN_RELU_GRADIENT);
}

#endif
