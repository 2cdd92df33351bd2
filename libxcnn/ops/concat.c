/*
 * Concat of activations along one axis (>= 1: dim 0 is the batch).
 *
 *   y = [x_1, x_2, ..., x_k] along axis      dx_i += the slice of g that was x_i
 *
 * Seen around the axis, every tensor is [outer, chunk] with outer = the
 * product of the dims before the axis (batch included) and chunk = the
 * product from the axis on; each row of y is the rows of the inputs, one
 * after the other. Constant inputs are refused: they would have no batch
 * dim to be repeated along, and CNNs do not concatenate weights.
 * There is no fast path: the copies are the reference too.
 */
#include <stdlib.h>
#include <string.h>
#include "ops.h"

typedef struct concat_params {
    int axis;
} concat_params;

/* Elements from the axis on: the size of one input's piece of a row.
 * Sizes are size_t here: on a 32-bit core int64_t arithmetic is a
 * library call. */
static size_t chunk_of(const xcnn_tensor *t, int axis)
{
    size_t c = 1;
    for (int i = axis; i < t->ndim; i++) c *= (size_t)t->dims[i];
    return c;
}

static void concat_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    int axis = ((const concat_params *)n->params)->axis;
    xcnn_tensor *y = xcnn_out(g, n, 0);
    size_t y_chunk = chunk_of(y, axis);
    if (y_chunk == 0) return;
    size_t outer = xcnn_tensor_sample_numel(y) * (size_t)batch / y_chunk;
    size_t at = 0; /* where input k starts inside a row of y */
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *x = xcnn_in(g, n, k);
        size_t c = chunk_of(x, axis);
#pragma omp parallel for schedule(static) if (outer * c > XCNN_PARALLEL_MIN)
        for (size_t o = 0; o < outer; o++)
            memcpy(y->data + o * y_chunk + at, x->data + o * c, c * sizeof(float));
        at += c;
    }
}

static void concat_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                            const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    int axis = ((const concat_params *)n->params)->axis;
    const xcnn_tensor *y = xcnn_out(g, n, 0);
    size_t y_chunk = chunk_of(y, axis);
    if (y_chunk == 0) return;
    size_t outer = xcnn_tensor_sample_numel(y) * (size_t)batch / y_chunk;
    size_t at = 0;
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *x = xcnn_in(g, n, k);
        size_t c = chunk_of(x, axis);
        float *dx = xcnn_tensor_grad(x);
        if (dx) {
#pragma omp parallel for schedule(static) if (outer * c > XCNN_PARALLEL_MIN)
            for (size_t o = 0; o < outer; o++) {
                const float *gy = y->grad + o * y_chunk + at;
                for (size_t j = 0; j < c; j++) dx[o * c + j] += gy[j];
            }
        }
        at += c;
    }
}

static xcnn_status concat_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    if (n->n_in < 1 || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Concat): expected inputs and one "
                         "output", n->name);
    const xcnn_tensor *x0 = xcnn_in(g, n, 0);
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *x = xcnn_in(g, n, k);
        if (!x)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Concat): input %d is missing",
                             n->name, k);
        if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Concat): input '%s' is a constant or not float; only "
                             "activations can be concatenated", n->name, x->name);
    }
    const xcnn_attr *a = xcnn_attr_get(n, "axis");
    if (!a || a->type != XCNN_ATTR_INT)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "node '%s' (Concat): no axis attribute",
                         n->name);
    int64_t axis = a->i < 0 ? a->i + x0->ndim : a->i;
    if (axis < 0 || axis >= x0->ndim)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Concat): axis %lld is out of range "
                         "for %d dims", n->name, (long long)a->i, x0->ndim);
    if (axis == 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Concat): axis 0 is the batch "
                         "and cannot be concatenated along", n->name);
    int64_t dims[XCNN_MAX_DIMS];
    for (int i = 0; i < x0->ndim; i++) dims[i] = i == axis ? 0 : x0->dims[i];
    char s0[96], s1[96];
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *x = xcnn_in(g, n, k);
        int same = x->ndim == x0->ndim;
        for (int i = 0; same && i < x0->ndim; i++)
            same = i == axis || x->dims[i] == x0->dims[i];
        if (!same)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Concat): '%s' (%s) and '%s' "
                             "(%s) differ off axis %lld", n->name, x0->name,
                             xcnn_shape_str(x0, s0, sizeof s0), x->name,
                             xcnn_shape_str(x, s1, sizeof s1), (long long)axis);
        dims[axis] += x->dims[axis];
    }
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x0->ndim, dims, err);
    if (st) return st;
    concat_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (Concat): out of memory", n->name);
    p->axis = (int)axis;
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    n->n_params = 0;
    n->flops = 0;
    n->scratch_floats = 0;
    return XCNN_OK;
}

static const xcnn_attr_spec concat_attrs[] = {{"axis", XCNN_ATTR_INT, 0, NULL},
                                              {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_concat = {"Concat", concat_setup, concat_forward, concat_backward,
                                    concat_attrs, 0};
