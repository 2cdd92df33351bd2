/*
 * Load-time planning: one walk over the nodes in topological order.
 * A node whose inputs are all known constants (or a Shape of a tensor whose
 * shape is known) is evaluated now and disappears from the run; every other
 * node must be an op we support, and its setup() checks its inputs and
 * attributes and computes its output shapes. After this walk every tensor
 * that will run has a shape, so the arena can be sized exactly. Ops we
 * do not have are gathered over the whole walk and refused together, in
 * one message, so porting a model is not a round of guessing per op.
 */
#include <math.h>
#include <string.h>
#include "../graph/fold.h"
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

/* A NaN or infinite attribute (an alpha, an epsilon) would make every
 * output NaN without a word: refuse it with the node's name. */
static xcnn_status check_attributes(const xcnn_node *n, xcnn_err *err)
{
    for (int a = 0; a < n->n_attr; a++) {
        const xcnn_attr *at = &n->attr[a];
        int bad = at->type == XCNN_ATTR_FLOAT && !isfinite(at->f);
        for (int k = 0; at->type == XCNN_ATTR_FLOATS && k < at->n && !bad; k++)
            bad = !isfinite(at->floats[k]);
        if (bad)
            return xcnn_fail(err, XCNN_ERR_NUMERIC,
                             "node '%s' (%s): attribute '%s' is not a finite number", n->name,
                             n->op_type, at->name);
    }
    return XCNN_OK;
}

/* Weights are checked once here, so that a NaN in a file is an error at
 * load and not a silently wrong number at every run. */
static xcnn_status check_weights(const xcnn_graph *g, const xcnn_node *n, xcnn_err *err)
{
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *t = xcnn_in((xcnn_graph *)g, n, k);
        if (!t || t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data) continue;
        size_t count = xcnn_tensor_numel(t);
        for (size_t i = 0; i < count; i++)
            if (!isfinite(t->data[i]))
                return xcnn_fail(err, XCNN_ERR_NUMERIC,
                                 "node '%s' (%s): weight '%s' element %zu is %s", n->name,
                                 n->op_type, t->name, i, isnan(t->data[i]) ? "NaN" : "infinite");
    }
    return XCNN_OK;
}

static xcnn_status check_size(const xcnn_tensor *t, uint64_t max_elems, xcnn_err *err)
{
    if (t->ndim >= 0 && (uint64_t)xcnn_tensor_numel(t) > max_elems)
        return xcnn_fail(err, XCNN_ERR_LIMIT,
                         "tensor '%s' has %zu elements, over the limit of %llu "
                         "(xcnn_load_options.max_tensor_elems)", t->name, xcnn_tensor_numel(t),
                         (unsigned long long)max_elems);
    return XCNN_OK;
}

/* The ops of a model libxcnn does not run, gathered over the whole walk
 * so that one load names them all: each op type with its count and first
 * node, in the order met. The walk goes on past them; a node that reads
 * what they would have made has no shapes to check and is skipped (its op
 * noted too when libxcnn has no such op at all). Fixed room and bounded
 * names: a model of hundreds of unknown nodes gives one line. */
#define UNSUP_TYPES 32

typedef struct unsupported {
    int n_types, n_nodes;
    int overflow; /* more than UNSUP_TYPES op types */
    struct {
        const char *op, *first;
        int count;
    } t[UNSUP_TYPES];
} unsupported;

static void note_unsupported(unsupported *u, const xcnn_node *n)
{
    u->n_nodes++;
    for (int i = 0; i < u->n_types && i < UNSUP_TYPES; i++)
        if (!strcmp(u->t[i].op, n->op_type)) {
            u->t[i].count++;
            return;
        }
    if (u->n_types == UNSUP_TYPES) {
        u->overflow = 1; /* more types than the room: counted as "more" */
        return;
    }
    u->t[u->n_types].op = n->op_type;
    u->t[u->n_types].first = n->name;
    u->t[u->n_types].count = 1;
    u->n_types++;
}

/* "3 unsupported ops (17 nodes): Transpose (x12, first 'node_7'), ..."
 * within the error message's room; what does not fit is "and N more". */
static xcnn_status fail_unsupported(const unsupported *u, xcnn_err *err)
{
    char buf[sizeof err->msg];
    size_t at = (size_t)xcnn_format(buf, sizeof buf, "%s%d unsupported op%s (%d node%s): ",
                                 u->overflow ? "more than " : "", u->n_types,
                                 u->n_types == 1 ? "" : "s", u->n_nodes,
                                 u->n_nodes == 1 ? "" : "s");
    int shown = 0;
    for (; shown < u->n_types; shown++) {
        char item[160];
        xcnn_format(item, sizeof item, "%s%.40s (x%d, first '%.60s')", shown ? ", " : "",
                 u->t[shown].op, u->t[shown].count, u->t[shown].first);
        /* room for this item and a closing ", and N more" */
        if (at + strlen(item) + 24 >= sizeof buf) break;
        memcpy(buf + at, item, strlen(item) + 1);
        at += strlen(item);
    }
    if (shown < u->n_types || u->overflow)
        xcnn_format(buf + at, sizeof buf - at, ", and %s%d more", u->overflow ? "over " : "",
                    u->n_types - shown);
    return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s", buf);
}

/* After an unsupported op: forget a node whose checks failed, its
 * outputs unknown, and walk on. */
static void skip_node(xcnn_graph *g, xcnn_node *n)
{
    for (int k = 0; k < n->n_out; k++) {
        xcnn_tensor *t = xcnn_out(g, n, k);
        if (t->kind != XCNN_T_CONST) t->ndim = -1;
    }
    n->def = NULL;
}

/* Node n, its inputs known: fold it, or check it and set up its op. An
 * op libxcnn does not have is noted in u, not failed. */
static xcnn_status plan_node(xcnn_graph *g, xcnn_node *n, uint64_t max_elems, unsupported *u,
                             xcnn_err *err)
{
    xcnn_status st = XCNN_OK;
    /* Every attribute against its op's list, before any is read: the
     * one place unknown, mistyped and out-of-opset attributes are
     * refused (an op with neither table is refused below). */
    const xcnn_op_def *def = xcnn_op_find(n->op_type);
    const xcnn_attr_spec *fold_spec = def ? NULL : xcnn_fold_attrs(n->op_type);
    if (def || fold_spec) st = xcnn_node_check_attrs(g, n, def ? def->attrs : fold_spec, err);
    if (st) return st;
    int folded = 0;
    st = xcnn_fold_node(g, n, &folded, err);
    if (st) return st;
    if (folded) {
        n->folded = 1;
        return XCNN_OK;
    }
    st = check_attributes(n, err);
    if (!st) st = check_weights(g, n, err);
    if (st) return st;
    n->def = def;
    if (!n->def) {
        note_unsupported(u, n);
        return XCNN_OK;
    }
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
        st = check_size(t, max_elems, err);
        if (st) return st;
        if (t->ndim < 1)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): output '%s' has no batch dimension",
                             n->name, n->op_type, t->name);
        if (t->dims[0] != 1)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): output '%s' would change the batch "
                             "dimension", n->name, n->op_type, t->name);
    }
    return XCNN_OK;
}

xcnn_status xcnn_plan(xcnn_graph *g, uint64_t max_elems, xcnn_err *err)
{
    if (g->input < 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "model has no input");
    if (g->output < 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "model has no output");
    xcnn_status st0 = check_size(&g->tensors[g->input], max_elems, err);
    if (st0) return st0;
    unsupported u;
    u.n_types = u.n_nodes = u.overflow = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        xcnn_node *n = &g->nodes[i];
        xcnn_status st = check_inputs_known(g, n, err);
        if (st && u.n_nodes) {
            if (!xcnn_op_find(n->op_type) && !xcnn_fold_attrs(n->op_type))
                note_unsupported(&u, n);
            skip_node(g, n);
            continue;
        }
        if (st) return st;
        st = plan_node(g, n, max_elems, &u, err);
        if (st && u.n_nodes) {
            skip_node(g, n);
            continue;
        }
        if (st) return st;
    }
    if (u.n_nodes) return fail_unsupported(&u, err);
    const xcnn_tensor *out = &g->tensors[g->output];
    if (out->kind == XCNN_T_CONST)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "model output '%s' is a constant: nothing to explain", out->name);
    if (out->ndim < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "model output '%s' has no shape", out->name);
    return XCNN_OK;
}
