/*
 * Transpose: the same values with the axes permuted.
 *
 *   y[i_0, ..., i_{r-1}] = x[j]  with  j_{perm[k]} = i_k,   dx[j] += g[i]
 *
 * perm[0] must be 0: each sample stays whole and the batch stays first
 * (ShuffleNet's channel shuffle permutes [N, g, C/g, H, W] by
 * (0, 2, 1, 3, 4); ConvNeXt's NCHW <-> NHWC by (0, 2, 3, 1) and back).
 * Setup merges runs of axes that stay neighbours in the same order (the
 * shuffle's H, W become one axis of H*W), so a pass is a walk over rows
 * of the output, each row read from x with one stride (1: a block copy).
 * A permutation is a bijection, so the backward scatters each output
 * element's gradient back to the one element it came from; rows go to
 * distinct elements, so threads never meet. There is no fast path: the
 * walk is the reference too.
 */
#include <string.h>
#include <stdint.h>
#include "ops.h"

typedef struct tr_params {
    int r;                            /* merged rank of one sample         */
    int64_t dims[XCNN_MAX_DIMS];      /* output dims of one sample, merged */
    size_t stride[XCNN_MAX_DIMS];     /* x's stride along each output axis */
    size_t sample;                    /* elements of one sample            */
    size_t rows;                      /* sample / dims[r-1]                */
} tr_params;

/* Offset in x of the first element of output row `row` of one sample. */
static size_t row_source(const tr_params *p, size_t row)
{
    size_t off = 0;
    for (int k = p->r - 2; k >= 0; k--) {
        size_t idx = row % (size_t)p->dims[k];
        row /= (size_t)p->dims[k];
        off += idx * p->stride[k];
    }
    return off;
}

static void transpose_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const tr_params *p = n->params;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    size_t len = (size_t)p->dims[p->r - 1], step = p->stride[p->r - 1];
    int64_t rows = (int64_t)(p->rows * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)rows * len > XCNN_PARALLEL_MIN_COPY)
    for (int64_t rb = 0; rb < rows; rb++) {
        size_t b = (size_t)rb / p->rows, row = (size_t)rb % p->rows;
        const float *src = x + b * p->sample + row_source(p, row);
        float *dst = y + (size_t)rb * len;
        if (step == 1) memcpy(dst, src, len * sizeof(float));
        else
            for (size_t i = 0; i < len; i++) dst[i] = src[i * step];
    }
}

static void transpose_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                               const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const tr_params *p = n->params;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    if (!dx) return;
    const float *gy = xcnn_out(g, n, 0)->grad;
    size_t len = (size_t)p->dims[p->r - 1], step = p->stride[p->r - 1];
    int64_t rows = (int64_t)(p->rows * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)rows * len > XCNN_PARALLEL_MIN)
    for (int64_t rb = 0; rb < rows; rb++) {
        size_t b = (size_t)rb / p->rows, row = (size_t)rb % p->rows;
        float *d = dx + b * p->sample + row_source(p, row);
        const float *src = gy + (size_t)rb * len;
        for (size_t i = 0; i < len; i++) d[i * step] += src[i];
    }
}

static xcnn_status transpose_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0);
    if (!x || n->n_in != 1 || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Transpose): expected one input and "
                         "one output", n->name);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Transpose): input '%s' must "
                         "be a float activation", n->name, x->name);
    int r = x->ndim, count = 0;
    const int64_t *perm = xcnn_attr_ints(n, "perm", &count);
    if (perm && count != r)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Transpose): perm has %d entries for "
                         "an input of %d dims", n->name, count, r);
    int p[XCNN_MAX_DIMS] = {0}, seen[XCNN_MAX_DIMS] = {0};
    for (int i = 0; i < r; i++) {
        int64_t v = perm ? perm[i] : r - 1 - i;
        if (v < 0) v += r;
        if (v < 0 || v >= r || seen[v]++)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Transpose): perm is not a "
                             "permutation of 0..%d", n->name, r - 1);
        p[i] = (int)v;
    }
    if (r < 1 || p[0] != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Transpose): the permutation "
                         "moves the batch dimension (perm[0] is %d, must be 0)", n->name,
                         r ? p[0] : -1);
    int64_t dims[XCNN_MAX_DIMS];
    size_t xs[XCNN_MAX_DIMS], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = acc;
        acc *= (size_t)x->dims[i];
    }
    for (int i = 0; i < r; i++) dims[i] = x->dims[p[i]];
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), r, dims, err);
    if (st) return st;
    xcnn_node_free_mem(n, n->params); /* a second setup replaces the first's */
    n->params = NULL;
    tr_params *tp = xcnn_node_calloc(n, 1, sizeof *tp);
    if (!tp) return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (Transpose): out of memory",
                              n->name);
    /* Merge output axes k-1, k when they are x's axes q, q+1: the pair is
     * one axis of x with x's stride of q+1. A sample with no axes left
     * (rank 1) is one row of one element. */
    tp->r = 0;
    for (int k = 1; k < r; k++) {
        if (tp->r > 0 && p[k] == p[k - 1] + 1) {
            tp->dims[tp->r - 1] *= dims[k];
            tp->stride[tp->r - 1] = xs[p[k]];
            continue;
        }
        tp->dims[tp->r] = dims[k];
        tp->stride[tp->r++] = xs[p[k]];
    }
    if (tp->r == 0) {
        tp->dims[0] = 1;
        tp->stride[0] = 1;
        tp->r = 1;
    }
    tp->sample = xcnn_tensor_sample_numel(x);
    tp->rows = tp->dims[tp->r - 1] ? tp->sample / (size_t)tp->dims[tp->r - 1] : 0;
    n->params = tp;
    n->n_params = 0;
    n->flops = 0;
    n->scratch_floats = 0;
    return XCNN_OK;
}

static const xcnn_attr_spec transpose_attrs[] = {{"perm", XCNN_ATTR_INTS, 0, NULL},
                                                 {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_transpose = {"Transpose", transpose_setup, transpose_forward,
                                       transpose_backward, transpose_attrs, 0};
