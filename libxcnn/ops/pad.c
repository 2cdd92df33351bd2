/*
 * Pad, constant mode: the input is placed inside a larger tensor filled
 * with a constant value.
 *
 *   y[i + begin] = x[i],  every other y = value
 *   dx[i] += g[i + begin]                    (the gradient is cropped)
 *   dvalue += sum of g outside the copy      (when value is a constant input)
 *
 * Pads are [x1_begin, x2_begin, ..., x1_end, x2_end] (ONNX order), from a
 * constant int64 input (opset >= 11) or the `pads` attribute (before).
 * The batch dim is never padded, and negative pads (cropping) are refused.
 * Both loops walk the input row by row (a row = the last dim). There is
 * no fast path: these copies are the reference too.
 */
#include <stdlib.h>
#include <string.h>
#include "ops.h"
#include "../base/config.h"

typedef struct pad_params {
    int64_t begin[XCNN_MAX_DIMS];
    float value;
} pad_params;

/* The index arithmetic below is in size_t: on a 32-bit core a division
 * of int64_t is a library call (__aeabi_ldivmod), once per row here. */

/* Offset of input row `row` (over dims 0..rank-2, dim 0 = batch) in the
 * output, including the begin pads of every dim. */
static size_t out_row_offset(const size_t *in_dims, const size_t *out_dims, const size_t *begin,
                             int rank, size_t row)
{
    size_t off = begin[rank - 1], stride = out_dims[rank - 1];
    for (int i = rank - 2; i >= 0; i--) {
        size_t idx = row % in_dims[i];
        row /= in_dims[i];
        off += (idx + begin[i]) * stride;
        stride *= out_dims[i];
    }
    return off;
}

/* Input and output dims at this batch, and the begin pads. Every size
 * fits size_t: the tensors are in memory. */
static void batch_dims(const xcnn_tensor *x, const xcnn_tensor *y, const pad_params *p,
                       int batch, size_t *xd, size_t *yd, size_t *bg)
{
    for (int i = 0; i < x->ndim; i++) {
        xd[i] = (size_t)x->dims[i];
        yd[i] = (size_t)y->dims[i];
        bg[i] = (size_t)p->begin[i];
    }
    xd[0] = yd[0] = (size_t)batch;
}

static void pad_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const pad_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    xcnn_tensor *y = xcnn_out(g, n, 0);
    int rank = x->ndim;
    size_t xd[XCNN_MAX_DIMS], yd[XCNN_MAX_DIMS], bg[XCNN_MAX_DIMS];
    batch_dims(x, y, p, batch, xd, yd, bg);
    size_t y_count = xcnn_tensor_sample_numel(y) * (size_t)batch;
    /* A constant_value input is read each pass: it is a live weight. */
    const xcnn_tensor *v = xcnn_in(g, n, 2);
    float value = v ? v->data[0] : p->value;
#pragma omp parallel for schedule(static) if (y_count > XCNN_PARALLEL_MIN)
    for (size_t i = 0; i < y_count; i++) y->data[i] = value;
    size_t len = xd[rank - 1];
    if (len == 0) return;
    size_t rows = xcnn_tensor_sample_numel(x) * (size_t)batch / len;
#pragma omp parallel for schedule(static) if (y_count > XCNN_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++)
        memcpy(y->data + out_row_offset(xd, yd, bg, rank, r), x->data + r * len,
               len * sizeof(float));
}

static void pad_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const pad_params *p = n->params;
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    const xcnn_tensor *y = xcnn_out(g, n, 0);
    int rank = x->ndim;
    size_t xd[XCNN_MAX_DIMS], yd[XCNN_MAX_DIMS], bg[XCNN_MAX_DIMS];
    batch_dims(x, y, p, batch, xd, yd, bg);
    size_t len = xd[rank - 1];
    size_t rows = len ? xcnn_tensor_sample_numel(x) * (size_t)batch / len : 0;
    float *dvalue = xcnn_tensor_grad(xcnn_in(g, n, 2));
    if (dvalue) {
        /* The fill value is every output outside the copy of x:
         * dvalue = sum(g) - sum(g over the copy), summed serially. */
        size_t y_count = xcnn_tensor_sample_numel(y) * (size_t)batch;
        xcnn_sum s = XCNN_SUM_ZERO;
        for (size_t i = 0; i < y_count; i++) xcnn_sum_add(&s, y->grad[i]);
        for (size_t r = 0; r < rows; r++) {
            const float *gy = y->grad + out_row_offset(xd, yd, bg, rank, r);
            for (size_t j = 0; j < len; j++) xcnn_sum_add(&s, -gy[j]);
        }
        dvalue[0] += (float)xcnn_sum_get(&s);
    }
    float *dx = xcnn_tensor_grad(x);
    if (!dx || len == 0) return;
#pragma omp parallel for schedule(static) if (rows * len > XCNN_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *gy = y->grad + out_row_offset(xd, yd, bg, rank, r);
        float *d = dx + r * len;
        for (size_t j = 0; j < len; j++) d[j] += gy[j];
    }
}

/* ---- setup ---- */

/* Reads the pads and the fill value into pads[] (2 * rank) and *value. */
static xcnn_status read_pads(xcnn_graph *g, const xcnn_node *n, int rank, int64_t *pads,
                             float *value, xcnn_err *err)
{
    const int64_t *src;
    int count;
    *value = 0.0f;
    if (g->opset >= 1 && g->opset < 11) {
        src = xcnn_attr_ints(n, "pads", &count);
        *value = xcnn_attr_float(n, "value", 0.0f);
        if (n->n_in > 1)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Pad): opset %d takes one "
                             "input, got %d", n->name, g->opset, n->n_in);
    } else {
        const xcnn_tensor *t = xcnn_in(g, n, 1), *v = xcnn_in(g, n, 2);
        if (xcnn_in(g, n, 3))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): the axes input is "
                             "not supported", n->name);
        if (!t || t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_INT64 || !t->idata ||
            t->ndim != 1)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): pads must be a "
                             "constant 1-D int64 input", n->name);
        src = t->idata;
        count = (int)t->dims[0];
        if (v) {
            if (v->kind != XCNN_T_CONST || v->dtype != XCNN_DT_FLOAT || !v->data ||
                xcnn_tensor_numel(v) != 1)
                return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): constant_value "
                                 "'%s' must be a constant float scalar", n->name, v->name);
            *value = v->data[0];
        }
    }
    if (!src || count != 2 * rank)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Pad): %d pads for %d dims "
                         "(expected %d)", n->name, src ? count : 0, rank, 2 * rank);
    memcpy(pads, src, (size_t)count * sizeof *pads);
    return XCNN_OK;
}

static xcnn_status pad_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Pad): expected a data input and "
                         "one output", n->name);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT || x->ndim < 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): input '%s' must be a "
                         "float activation", n->name, x->name);
    const char *mode = xcnn_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): mode '%s' is not "
                         "supported (only 'constant')", n->name, mode);
    int rank = x->ndim;
    int64_t pads[2 * XCNN_MAX_DIMS], dims[XCNN_MAX_DIMS];
    pad_params p = {{0}, 0.0f};
    xcnn_status st = read_pads(g, n, rank, pads, &p.value, err);
    if (st) return st;
    for (int i = 0; i < rank; i++) {
        int64_t b = pads[i], e = pads[rank + i];
        if (b < 0 || e < 0)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): negative pads "
                             "(cropping) on dim %d are not supported", n->name, i);
        if (i == 0 && (b || e))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Pad): padding dim 0 "
                             "would change the batch", n->name);
        if (b > ((int64_t)1 << 40) || e > ((int64_t)1 << 40))
            return xcnn_fail(err, XCNN_ERR_LIMIT, "node '%s' (Pad): pads too large", n->name);
        p.begin[i] = b;
        dims[i] = x->dims[i] + b + e;
    }
    st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), rank, dims, err);
    if (st) return st;
    pad_params *copy = xcnn_node_calloc(n, 1, sizeof *copy);
    if (!copy)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (Pad): out of memory", n->name);
    *copy = p;
    xcnn_node_free_mem(n, n->params);
    n->params = copy;
    n->n_params = 0;
    n->flops = 0;
    n->scratch_floats = 0;
    return XCNN_OK;
}

/* pads and value are attributes up to opset 10, inputs from 11. */
static const xcnn_attr_spec pad_attrs[] = {{"mode", XCNN_ATTR_STRING, 0, NULL},
                                           {"pads", XCNN_ATTR_INTS, 10, NULL},
                                           {"value", XCNN_ATTR_FLOAT, 10, NULL},
                                           {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_pad = {"Pad", pad_setup, pad_forward, pad_backward, pad_attrs, 0};
