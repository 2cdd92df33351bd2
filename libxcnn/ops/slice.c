/*
 * Slice: a strided window of the input.
 *
 *   y[i] = x[first + i * step]  (per axis),   dx[first + i * step] += g[i]
 *
 * with ONNX's clamping of starts and ends (graph/fold.c's
 * xcnn_slice_window, which the folder uses for constant inputs: both read
 * and refuse the same bounds). The bounds must be constants; the batch
 * axis is taken whole. ShuffleNetV2's x.chunk(2, dim=1) exports as two
 * Slices of the channels, their bounds computed from Shape at load.
 *
 * Setup turns the window into one base offset and a stride per output
 * axis, merging axes that stay contiguous (a channel range of NCHW is
 * one run of C'*H*W), so a pass is a walk over output rows, each read
 * with one stride (1: a block copy). Steps are never 0, so distinct
 * outputs come from distinct inputs and the backward's rows never meet.
 * The walk is the reference too.
 */
#include <string.h>
#include <stdint.h>
#include "ops.h"
#include "../graph/fold.h"

typedef struct sl_params {
    int r;                          /* merged rank of one output sample     */
    int64_t dims[XCNN_MAX_DIMS];    /* merged output dims of one sample     */
    int64_t stride[XCNN_MAX_DIMS];  /* x's stride along each (may be < 0)   */
    int64_t base;                   /* offset in a sample of x of y's first */
    size_t in_sample, rows;         /* x's elements per sample; output rows */
} sl_params;

static int64_t row_source(const sl_params *p, size_t row)
{
    int64_t off = p->base;
    for (int k = p->r - 2; k >= 0; k--) {
        size_t idx = row % (size_t)p->dims[k];
        row /= (size_t)p->dims[k];
        off += (int64_t)idx * p->stride[k];
    }
    return off;
}

static void slice_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const sl_params *p = n->params;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t len = (size_t)p->dims[p->r - 1];
    int64_t step = p->stride[p->r - 1], rows = (int64_t)(p->rows * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)rows * len > XCNN_PARALLEL_MIN_COPY)
    for (int64_t rb = 0; rb < rows; rb++) {
        size_t b = (size_t)rb / p->rows, row = (size_t)rb % p->rows;
        const float *src = x + b * p->in_sample + row_source(p, row);
        float *dst = y + (size_t)rb * len;
        if (step == 1) memcpy(dst, src, len * sizeof(float));
        else
            for (size_t i = 0; i < len; i++) dst[i] = src[(int64_t)i * step];
    }
}

static void slice_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                           const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const sl_params *p = n->params;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    if (!dx) return;
    const float *gy = xcnn_out(g, n, 0)->grad;
    size_t len = (size_t)p->dims[p->r - 1];
    int64_t step = p->stride[p->r - 1], rows = (int64_t)(p->rows * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)rows * len > XCNN_PARALLEL_MIN)
    for (int64_t rb = 0; rb < rows; rb++) {
        size_t b = (size_t)rb / p->rows, row = (size_t)rb % p->rows;
        float *d = dx + b * p->in_sample + row_source(p, row);
        const float *src = gy + (size_t)rb * len;
        for (size_t i = 0; i < len; i++) d[(int64_t)i * step] += src[i];
    }
}

static xcnn_status slice_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x || n->n_in > 5 || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Slice): expected a data input, up "
                         "to 4 bounds and one output", n->name);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT || x->ndim < 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Slice): input '%s' must be a "
                         "float activation", n->name, x->name);
    static const char *const what[] = {"", "starts", "ends", "axes", "steps"};
    for (int k = 1; k < n->n_in; k++) {
        const xcnn_tensor *t = xcnn_in(g, n, k);
        if (t && (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_INT64 || !t->idata))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Slice): %s '%s' must be a "
                             "constant int64 tensor (known at load)", n->name, what[k],
                             t->name);
    }
    int64_t first[XCNN_MAX_DIMS], step[XCNN_MAX_DIMS], dims[XCNN_MAX_DIMS];
    xcnn_status st = xcnn_slice_window(g, n, x, first, step, dims, err);
    if (st) return st;
    /* At load the batch is 1, where [0:1] is whole too: ask the window of
     * a batch as large as any, which must come out whole. */
    xcnn_tensor big = *x;
    int64_t f0[XCNN_MAX_DIMS], s0[XCNN_MAX_DIMS], d0[XCNN_MAX_DIMS];
    big.dims[0] = (int64_t)1 << 40;
    st = xcnn_slice_window(g, n, &big, f0, s0, d0, err);
    if (st) return st;
    if (f0[0] != 0 || s0[0] != 1 || d0[0] != big.dims[0])
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Slice): the window cuts the "
                         "batch dimension (axis 0 must be taken whole)", n->name);
    st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), x->ndim, dims, err);
    if (st) return st;
    xcnn_node_free_mem(n, n->params); /* a second setup replaces the first's */
    n->params = NULL;
    sl_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (Slice): out of memory", n->name);
    int64_t xs[XCNN_MAX_DIMS], acc = 1;
    for (int a = x->ndim - 1; a >= 0; a--) {
        xs[a] = acc;
        acc *= x->dims[a];
    }
    /* Output axis a walks x with stride step[a] * xs[a]; it merges into
     * the axis before when that one's stride is this axis's whole span. */
    p->base = 0;
    for (int a = 1; a < x->ndim; a++) {
        p->base += first[a] * xs[a];
        int64_t s = step[a] * xs[a];
        if (p->r > 0 && p->stride[p->r - 1] == s * dims[a]) {
            p->dims[p->r - 1] *= dims[a];
            p->stride[p->r - 1] = s;
            continue;
        }
        p->dims[p->r] = dims[a];
        p->stride[p->r++] = s;
    }
    if (p->r == 0) {
        p->dims[0] = 1;
        p->stride[0] = 1;
        p->r = 1;
    }
    p->in_sample = xcnn_tensor_sample_numel(x);
    size_t out_sample = xcnn_tensor_sample_numel(xcnn_out(g, n, 0));
    p->rows = p->dims[p->r - 1] ? out_sample / (size_t)p->dims[p->r - 1] : 0;
    n->params = p;
    n->n_params = 0;
    n->flops = 0;
    n->scratch_floats = 0;
    return XCNN_OK;
}

/* Starts, ends and axes were attributes up to opset 9, then inputs. */
static const xcnn_attr_spec slice_attrs[] = {{"axes", XCNN_ATTR_INTS, 9, NULL},
                                             {"ends", XCNN_ATTR_INTS, 9, NULL},
                                             {"starts", XCNN_ATTR_INTS, 9, NULL},
                                             {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_slice = {"Slice", slice_setup, slice_forward, slice_backward,
                                   slice_attrs, 0};
