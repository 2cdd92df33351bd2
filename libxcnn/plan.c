/*
 * Load-time planning: one walk over the nodes in topological order.
 * A node whose inputs are all known constants (or a Shape of a tensor whose
 * shape is known) is evaluated now and disappears from the run; every other
 * node must be an op we support, and its setup() checks its inputs and
 * attributes and computes its output shapes. After this walk every tensor
 * that will run has a shape, so the arena can be sized exactly.
 */
#include <string.h>
#include "fold.h"
#include "model.h"

static xcnn_status check_inputs_known(const xcnn_graph *g, const xcnn_node *n, xcnn_err *err)
{
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0) continue;
        const xcnn_tensor *t = &g->tensors[n->in[i]];
        if (t->ndim < 0)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): input '%s' has no known shape", n->name,
                             n->op_type, t->name);
    }
    return XCNN_OK;
}

xcnn_status xcnn_plan(xcnn_graph *g, xcnn_err *err)
{
    if (g->input < 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "model has no input");
    if (g->output < 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "model has no output");
    for (int i = 0; i < g->n_nodes; i++) {
        xcnn_node *n = &g->nodes[i];
        xcnn_status st = check_inputs_known(g, n, err);
        if (st) return st;
        int folded = 0;
        st = xcnn_fold_node(g, n, &folded, err);
        if (st) return st;
        if (folded) {
            n->folded = 1;
            continue;
        }
        n->def = xcnn_op_find(n->op_type);
        if (!n->def)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s': op '%s' is not supported by libxcnn", n->name,
                             n->op_type);
        for (int k = 0; k < n->n_in; k++) {
            const xcnn_tensor *t = xcnn_in(g, n, k);
            if (t && t->kind != XCNN_T_CONST && t->dtype != XCNN_DT_FLOAT)
                return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                                 "node '%s' (%s): input '%s' is an integer tensor computed "
                                 "at run time", n->name, n->op_type, t->name);
        }
        st = n->def->setup(g, n, err);
        if (st) return st;
        for (int k = 0; k < n->n_out; k++) {
            xcnn_tensor *t = xcnn_out(g, n, k);
            if (t->ndim < 1)
                return xcnn_fail(err, XCNN_ERR_SHAPE,
                                 "node '%s' (%s): output '%s' has no batch dimension",
                                 n->name, n->op_type, t->name);
            if (t->dims[0] != 1)
                return xcnn_fail(err, XCNN_ERR_SHAPE,
                                 "node '%s' (%s): output '%s' would change the batch "
                                 "dimension", n->name, n->op_type, t->name);
        }
    }
    const xcnn_tensor *out = &g->tensors[g->output];
    if (out->kind == XCNN_T_CONST)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "model output '%s' is a constant: nothing to explain", out->name);
    if (out->ndim < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "model output '%s' has no shape", out->name);
    return XCNN_OK;
}
