/*
 * Flatten and Reshape: the same values under a new shape.
 *
 *   y = x (a copy),  dx += g
 *
 * Only the shape changes, and each sample stays whole: dim 0 must still be
 * the batch afterwards. Flatten(axis) gives [prod(dims[:axis]),
 * prod(dims[axis:])], so it is allowed when dims 1..axis-1 are all 1.
 * Reshape's target shape comes from a constant int64 tensor: 0 copies the
 * input's dim (unless allowzero=1), -1 takes what is left; at plan time the
 * batch is 1, so the result's dim 0 must be 1 too. There is no fast
 * path: the copy is the reference too.
 */
#include <string.h>
#include <stdint.h>
#include "ops.h"

static void copy_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    size_t count = xcnn_tensor_sample_numel(x) * (size_t)batch;
    memcpy(xcnn_out(g, n, 0)->data, x->data, count * sizeof(float));
}

static void copy_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                          const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    const float *gy = xcnn_out(g, n, 0)->grad;
    int64_t count = (int64_t)(xcnn_tensor_sample_numel(x) * (size_t)batch);
    if (!xcnn_fork_worth(count > XCNN_PARALLEL_MIN)) {
        for (int64_t i = 0; i < count; i++) dx[i] += gy[i];
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) dx[i] += gy[i];
}

/* The data input: a float activation, and exactly one output. */
static xcnn_status check_data(xcnn_graph *g, const xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): expected a data input and "
                         "one output", n->name, n->op_type);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input '%s' must be a float activation", n->name,
                         n->op_type, x->name);
    return XCNN_OK;
}

static void copy_costs(xcnn_node *n)
{
    n->n_params = 0;
    n->flops = 0;
    n->scratch_floats = 0;
}

static xcnn_status flatten_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_data(g, n, err);
    if (st) return st;
    if (n->n_in > 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Flatten): takes 1 input, got %d",
                         n->name, n->n_in);
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    int64_t axis = xcnn_attr_int(n, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Flatten): axis %lld is out of range "
                         "for %d dims", n->name, (long long)xcnn_attr_int(n, "axis", 1),
                         x->ndim);
    if (axis == 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Flatten): axis 0 would "
                         "flatten the batch into the features", n->name);
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++) {
        if (i > 0 && i < axis && x->dims[i] != 1)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Flatten): axis %lld would merge the batch with "
                             "dim %d (size %lld)", n->name, (long long)axis, i,
                             (long long)x->dims[i]);
        dims[i < axis ? 0 : 1] *= x->dims[i];
    }
    st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), 2, dims, err);
    if (st) return st;
    copy_costs(n);
    return XCNN_OK;
}

static xcnn_status reshape_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = check_data(g, n, err);
    if (st) return st;
    const xcnn_tensor *x = xcnn_in(g, n, 0), *shape = xcnn_in(g, n, 1);
    const int64_t *want;
    int count;
    if (shape) {
        if (n->n_in > 2 || shape->kind != XCNN_T_CONST || shape->dtype != XCNN_DT_INT64 ||
            !shape->idata || shape->ndim != 1)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Reshape): shape '%s' must be a constant 1-D int64 "
                             "tensor", n->name, shape->name);
        want = shape->idata;
        count = (int)shape->dims[0];
    } else {
        want = xcnn_attr_ints(n, "shape", &count);  /* opset < 5 */
        if (!want)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): no shape given",
                             n->name);
    }
    if (count < 1 || count > XCNN_MAX_DIMS)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Reshape): target has %d "
                         "dims (1..%d supported)", n->name, count, XCNN_MAX_DIMS);
    int64_t dims[XCNN_MAX_DIMS];
    st = xcnn_reshape_dims(n, x, want, count, xcnn_attr_int(n, "allowzero", 0) != 0, dims, err);
    if (st) return st;
    if (dims[0] != 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (Reshape): the reshape would mix the batch dimension "
                         "(dim 0 becomes %lld at batch 1)", n->name, (long long)dims[0]);
    st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), count, dims, err);
    if (st) return st;
    copy_costs(n);
    return XCNN_OK;
}

static const xcnn_attr_spec flatten_attrs[] = {{"axis", XCNN_ATTR_INT, 0, NULL},
                                               {NULL, 0, 0, NULL}};
/* Reshape's target was the shape attribute up to opset 4, then input 1. */
static const xcnn_attr_spec reshape_attrs[] = {{"allowzero", XCNN_ATTR_INT, 0, NULL},
                                               {"shape", XCNN_ATTR_INTS, 4, NULL},
                                               {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_flatten = {"Flatten", flatten_setup, copy_forward, copy_backward,
                                     flatten_attrs, 0};
const xcnn_op_def xcnn_op_reshape = {"Reshape", reshape_setup, copy_forward, copy_backward,
                                     reshape_attrs, 0};
