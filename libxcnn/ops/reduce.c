/*
 * ReduceMean: the mean over some axes.
 *
 *   y[k] = (1/n) sum_{r} x[k, r],   dx[k, r] += g[k] / n
 *
 * where k runs over the kept axes, r over the n elements of the reduced
 * ones (keepdims=1 leaves them as 1s, 0 drops them). torch's
 * x.mean([2, 3]) (MnasNet's head) is GlobalAveragePool without the 1x1;
 * a LayerNorm written out at opset 13 (ConvNeXt's) means over the last
 * axis. The batch axis is never reduced: each sample stays its own.
 * Axes are the 'axes' attribute up to opset 17, a constant input from 18
 * (where no axes and noop_with_empty_axes=1 make the op an identity).
 *
 * Setup lists, for one sample, the offset in x of each output element's
 * first input (koff) and the offsets of the reduced elements from it
 * (roff): a pass is then one loop over outputs and one over roff, the
 * sum taken as GlobalAveragePool takes it (xcnn_sum). Different outputs
 * read and write disjoint elements, so threads never meet. The loops are
 * the reference too.
 */
#include <string.h>
#include <stdint.h>
#include "../base/config.h"
#include "ops.h"

typedef struct rd_params {
    size_t kept, red;     /* outputs per sample; elements per output     */
    size_t sample;        /* input elements per sample                   */
    size_t *koff, *roff;  /* kept and reduced offsets in one sample of x */
} rd_params;

static void reduce_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const rd_params *p = n->params;
    const float *x = xcnn_in(g, n, 0)->data;
    float *y = xcnn_out(g, n, 0)->data;
    int64_t outs = (int64_t)(p->kept * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)outs * p->red > XCNN_PARALLEL_MIN)
    for (int64_t ob = 0; ob < outs; ob++) {
        size_t b = (size_t)ob / p->kept, o = (size_t)ob % p->kept;
        const float *xp = x + b * p->sample + p->koff[o];
        xcnn_sum sum = XCNN_SUM_ZERO;
        for (size_t i = 0; i < p->red; i++) xcnn_sum_add(&sum, xp[p->roff[i]]);
        y[ob] = (float)(xcnn_sum_get(&sum) / (xcnn_acc)p->red);
    }
}

static void reduce_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                            const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const rd_params *p = n->params;
    float *dx = xcnn_tensor_grad(xcnn_in(g, n, 0));
    if (!dx) return;
    const float *gy = xcnn_out(g, n, 0)->grad;
    int64_t outs = (int64_t)(p->kept * (size_t)batch);
#pragma omp parallel for schedule(static) if ((size_t)outs * p->red > XCNN_PARALLEL_MIN)
    for (int64_t ob = 0; ob < outs; ob++) {
        size_t b = (size_t)ob / p->kept, o = (size_t)ob % p->kept;
        float *d = dx + b * p->sample + p->koff[o];
        float v = gy[ob] / (float)p->red;
        for (size_t i = 0; i < p->red; i++) d[p->roff[i]] += v;
    }
}

/* The offsets in one sample of x (strides xs) of every element of the
 * axes 1..r-1 with mark[a] == want, in C order of those axes. */
static void offsets(const xcnn_tensor *x, const size_t *xs, const int *mark, int want,
                    size_t *out, size_t count)
{
    int64_t idx[XCNN_MAX_DIMS] = {0};
    for (size_t i = 0; i < count; i++) {
        size_t off = 0;
        for (int a = 1; a < x->ndim; a++)
            if (mark[a] == want) off += (size_t)idx[a] * xs[a];
        out[i] = off;
        for (int a = x->ndim - 1; a >= 1; a--) {
            if (mark[a] != want) continue;
            if (++idx[a] < x->dims[a]) break;
            idx[a] = 0;
        }
    }
}

static xcnn_status reduce_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = xcnn_in(g, n, 0), *at = xcnn_in(g, n, 1);
    if (!x || n->n_in > 2 || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): expected a data input, "
                         "optional axes and one output", n->name, n->op_type);
    if (x->kind == XCNN_T_CONST || x->dtype != XCNN_DT_FLOAT || x->ndim < 1)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' must be a "
                         "float activation", n->name, n->op_type, x->name);
    int count = 0;
    const int64_t *axes = xcnn_attr_ints(n, "axes", &count);
    if (at) {
        if (axes || at->kind != XCNN_T_CONST || at->dtype != XCNN_DT_INT64 || !at->idata ||
            at->ndim != 1)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (%s): axes '%s' must be "
                             "a constant 1-D int64 tensor (and not also an attribute)",
                             n->name, n->op_type, at->name);
        axes = at->idata;
        count = (int)at->dims[0];
    }
    int r = x->ndim, mark[XCNN_MAX_DIMS] = {0};
    int noop = count == 0 && xcnn_attr_int(n, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < count; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || mark[a])
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): axis %lld is out of range "
                             "or repeated for %d dims", n->name, n->op_type,
                             (long long)axes[i], r);
        mark[a] = 1;
    }
    if (count == 0 && !noop)
        for (int a = 0; a < r; a++) mark[a] = 1;
    if (mark[0])
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (%s): the mean would run over "
                         "the batch dimension (axis 0%s)", n->name, n->op_type,
                         count ? "" : ": no axes means all of them");
    int keep = xcnn_attr_int(n, "keepdims", 1) != 0, nd = 0;
    int64_t dims[XCNN_MAX_DIMS];
    size_t xs[XCNN_MAX_DIMS], acc = 1, kept = 1, red = 1;
    for (int a = r - 1; a >= 0; a--) {
        xs[a] = acc;
        acc *= (size_t)x->dims[a];
    }
    for (int a = 0; a < r; a++) {
        if (a > 0) {
            if (mark[a]) red *= (size_t)x->dims[a];
            else kept *= (size_t)x->dims[a];
        }
        if (!mark[a] || keep) dims[nd++] = mark[a] ? 1 : x->dims[a];
    }
    if (red == 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): the mean of no elements (input "
                         "'%s' is empty along a reduced axis)", n->name, n->op_type, x->name);
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), nd, dims, err);
    if (st) return st;
    /* One block, params then both offset lists: the graph frees n->params
     * whole. A second setup of the node replaces the first's. */
    xcnn_node_free_mem(n, n->params);
    n->params = NULL;
    if (kept > (SIZE_MAX - sizeof(rd_params)) / sizeof(size_t) - red)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "node '%s' (%s): too many elements", n->name,
                         n->op_type);
    rd_params *p = xcnn_node_calloc(n, 1, sizeof *p + (kept + red) * sizeof(size_t));
    if (!p)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    size_t *k = (size_t *)(p + 1), *rr = k + kept;
    offsets(x, xs, mark, 0, k, kept);
    offsets(x, xs, mark, 1, rr, red);
    p->kept = kept;
    p->red = red;
    p->koff = k;
    p->roff = rr;
    p->sample = xcnn_tensor_sample_numel(x);
    n->params = p;
    n->n_params = 0;
    n->flops = (double)p->sample;
    n->scratch_floats = 0;
    return XCNN_OK;
}

/* Opsets 1 to 18: axes became an input at 18, with noop_with_empty_axes. */
static const xcnn_attr_spec reduce_attrs[] = {{"axes", XCNN_ATTR_INTS, 17, NULL},
                                              {"keepdims", XCNN_ATTR_INT, 0, NULL},
                                              {"noop_with_empty_axes", XCNN_ATTR_INT, 0, NULL},
                                              {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_reducemean = {"ReduceMean", reduce_setup, reduce_forward,
                                        reduce_backward, reduce_attrs, 0};
