/*
 * Driving one op by hand in a test (setup, buffers, refusals), for op
 * tests that need more than tests/gradcheck.h's finite-difference check:
 * forward values, ReLU rules, thread-count independence.
 */
#ifndef XCNN_TEST_OP_TEST_H
#define XCNN_TEST_OP_TEST_H

#include <string.h>
#include "gradcheck.h"

static inline xcnn_status op_setup(gc_graph *gc, int node, xcnn_err *err)
{
    xcnn_node *n = &gc->g->nodes[node];
    n->def = xcnn_op_find(n->op_type);
    if (!n->def) return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s not registered", n->op_type);
    return n->def->setup(gc->g, n, err);
}

/* Zeroed value buffers for non-constant tensors and gradient buffers for
 * every float tensor, at this batch, as the executor would give. */
static inline void op_alloc(gc_graph *gc, int batch)
{
    for (int i = 0; i < gc->g->n_tensors; i++) {
        xcnn_tensor *t = &gc->g->tensors[i];
        if (t->dtype != XCNN_DT_FLOAT || t->ndim < 0) continue;
        size_t sz = gc_size(t, batch);
        if (t->kind != XCNN_T_CONST) t->data = calloc(sz ? sz : 1, sizeof(float));
        t->grad = calloc(sz ? sz : 1, sizeof(float));
        t->grad_on = 1;
    }
}

static inline void op_release(gc_graph *gc)
{
    for (int i = 0; i < gc->g->n_tensors; i++) {
        xcnn_tensor *t = &gc->g->tensors[i];
        if (t->kind != XCNN_T_CONST) { free(t->data); t->data = NULL; }
        free(t->grad);
        t->grad = NULL;
    }
}

/* The setup of `node` must fail with `want` and a message naming the node. */
static inline void expect_refusal(gc_graph *gc, int node, xcnn_status want, const char *label)
{
    xcnn_err err = {{0}};
    xcnn_status st = op_setup(gc, node, &err);
    const char *name = gc->g->nodes[node].name;
    check(st == want && err.msg[0] && strstr(err.msg, name),
          "%s: refused (status %d, want %d): %s", label, (int)st, (int)want, err.msg);
}

#endif
