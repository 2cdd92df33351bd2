/*
 * Transpose (ops/transpose.c), ReduceMean (ops/reduce.c) and Slice
 * (ops/slice.c), the ops MnasNet and ShuffleNetV2 add: output shapes and
 * forward values against the definitions computed here (index by index;
 * the mean in double), backward by finite differences and by its
 * accumulation into a gradient already there, the setups' refusals; then
 * a ShuffleNet unit written as ONNX (a channel shuffle through a 5-D
 * Reshape, x.chunk's Slice bounds computed from Shape -> Gather -> Add ->
 * Div -> Mul, which the load folds) through the loader, its values and
 * the explainers' rules on it (DeepLIFT's completeness, LRP's
 * conservation). tests/zoo/ compares whole torchvision models with PyTorch.
 */
#include <math.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "onnx_builder.h"
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "../libxcnn/ops/ops.h"

static int shape_is(const gc_graph *gc, int node, int ndim, const int64_t *want)
{
    const xcnn_tensor *y = &gc->g->tensors[gc->g->nodes[node].out[0]];
    if (y->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (y->dims[i] != want[i]) return 0;
    return 1;
}

/* C-order strides of dims. */
static void strides(int r, const int64_t *dims, size_t *s)
{
    size_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        s[i] = acc;
        acc *= (size_t)dims[i];
    }
}

/* Set up node, fill x with i * 0.25 - 3 at `batch`, run forward, then a
 * backward from g_k = k + 1 into dx pre-filled with 0.5. */
static int run_node(gc_graph *gc, int node, int x, int batch)
{
    xcnn_err err = {{0}};
    if (!check(op_setup(gc, node, &err) == XCNN_OK, "%s setup (%s)",
               gc->g->nodes[node].op_type, err.msg[0] ? err.msg : "ok"))
        return 0;
    op_alloc(gc, batch);
    xcnn_tensor *xt = &gc->g->tensors[x], *yt = &gc->g->tensors[gc->g->nodes[node].out[0]];
    size_t xn = xcnn_tensor_sample_numel(xt) * (size_t)batch;
    size_t yn = xcnn_tensor_sample_numel(yt) * (size_t)batch;
    for (size_t i = 0; i < xn; i++) {
        xt->data[i] = (float)i * 0.25f - 3.0f;
        xt->grad[i] = 0.5f;
    }
    const xcnn_node *n = &gc->g->nodes[node];
    n->def->forward(gc->g, n, batch, NULL);
    for (size_t i = 0; i < yn; i++) yt->grad[i] = (float)(i + 1);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    n->def->backward(gc->g, n, batch, NULL, &ctx);
    return 1;
}

/* ---- Transpose ---- */

/* y against x permuted by perm, and dx - 0.5 against gy permuted back. */
static void transpose_case(int r, const int64_t *dims, const int64_t *perm, int batch,
                           const char *what)
{
    gc_graph gc;
    gc_init(&gc, 11);
    int x = gc_activation(&gc, "x", r, dims);
    int node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", perm, r);
    if (run_node(&gc, node, x, batch)) {
        const xcnn_tensor *xt = &gc.g->tensors[x], *yt = xcnn_out(gc.g, &gc.g->nodes[node], 0);
        int64_t xd[XCNN_MAX_DIMS], yd[XCNN_MAX_DIMS];
        for (int i = 0; i < r; i++) xd[i] = dims[i];
        xd[0] = batch;
        for (int i = 0; i < r; i++) yd[i] = xd[perm[i]];
        size_t xs[XCNN_MAX_DIMS], count = xcnn_tensor_sample_numel(yt) * (size_t)batch;
        strides(r, xd, xs);
        int fwd_ok = 1, bwd_ok = 1;
        for (size_t at = 0; at < count; at++) {
            size_t rest = at, src = 0;
            for (int i = r - 1; i >= 0; i--) {
                src += (rest % (size_t)yd[i]) * xs[perm[i]];
                rest /= (size_t)yd[i];
            }
            fwd_ok &= yt->data[at] == xt->data[src];
            bwd_ok &= xt->grad[src] == 0.5f + (float)(at + 1);
        }
        check(fwd_ok, "Transpose %s: y = x permuted (batch %d)", what, batch);
        check(bwd_ok, "Transpose %s: dx += g permuted back (batch %d)", what, batch);
        op_release(&gc);
    }
    gc_free(&gc);
    gc_init(&gc, 12);
    x = gc_activation(&gc, "x", r, dims);
    node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", perm, r);
    char label[128];
    snprintf(label, sizeof label, "Transpose %s gradcheck", what);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_transpose(void)
{
    transpose_case(5, (int64_t[]){1, 2, 3, 2, 2}, (int64_t[]){0, 2, 1, 3, 4}, 3,
                   "channel shuffle [1,2,3,2,2] (0,2,1,3,4)");
    transpose_case(4, (int64_t[]){1, 3, 4, 5}, (int64_t[]){0, 2, 3, 1}, 2,
                   "NCHW -> NHWC (0,2,3,1)");
    transpose_case(4, (int64_t[]){1, 4, 5, 3}, (int64_t[]){0, 3, 1, 2}, 2,
                   "NHWC -> NCHW (0,3,1,2)");
    transpose_case(3, (int64_t[]){1, 4, 6}, (int64_t[]){0, 1, 2}, 2, "identity (0,1,2)");
    transpose_case(4, (int64_t[]){1, 2, 3, 4}, (int64_t[]){0, 3, 2, 1}, 1, "(0,3,2,1)");

    gc_graph gc;
    gc_init(&gc, 13);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 3, 4});
    int node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){0, 2, 3, 1}, 4);
    xcnn_err err = {{0}};
    check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, 4, (int64_t[]){1, 3, 4, 2}),
          "Transpose [1,2,3,4] (0,2,3,1) is [1,3,4,2]");
    node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){1, 0, 2, 3}, 4);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Transpose moving the batch (1,0,2,3)");
    node = gc_node(&gc, "Transpose", &x, 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Transpose with the default (reversing) perm");
    node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){0, 2, 1}, 3);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Transpose perm of 3 for 4 dims");
    node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){0, 2, 2, 1}, 4);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Transpose perm repeating an axis");
    node = gc_node(&gc, "Transpose", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){0, 2, 9, 1}, 4);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "Transpose perm naming axis 9 of 4");
    int w = gc_weight(&gc, "w", 2, (int64_t[]){2, 3});
    node = gc_node(&gc, "Transpose", &w, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "perm", (int64_t[]){0, 1}, 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Transpose of a weight (the folder's job)");
    gc_free(&gc);
}

/* ---- ReduceMean ---- */

/* y against the mean in double over the marked axes; dx - 0.5 against
 * g / n spread back. axes_input: the opset-18 form. */
static void reduce_case(int r, const int64_t *dims, int na, const int64_t *axes, int keepdims,
                        int axes_input, int batch, const char *what)
{
    gc_graph gc;
    gc_init(&gc, 21);
    int x = gc_activation(&gc, "x", r, dims);
    int node;
    if (axes_input) {
        int a = gc_int_const(&gc, "axes", na, axes);
        node = gc_node(&gc, "ReduceMean", (int[]){x, a}, 2);
    } else {
        node = gc_node(&gc, "ReduceMean", &x, 1);
        xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", axes, na);
    }
    if (keepdims >= 0) xcnn_node_add_attr_int(&gc.g->nodes[node], "keepdims", keepdims);
    int mark[XCNN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) mark[axes[i] < 0 ? axes[i] + r : axes[i]] = 1;
    if (run_node(&gc, node, x, batch)) {
        const xcnn_tensor *xt = &gc.g->tensors[x], *yt = xcnn_out(gc.g, &gc.g->nodes[node], 0);
        int64_t xd[XCNN_MAX_DIMS], od[XCNN_MAX_DIMS];
        int nd = 0;
        for (int i = 0; i < r; i++) xd[i] = i ? dims[i] : batch;
        size_t red = 1;
        for (int i = 0; i < r; i++) {
            if (mark[i]) red *= (size_t)xd[i];
            if (!mark[i] || keepdims != 0) od[nd++] = mark[i] ? 1 : xd[i];
        }
        int shape_ok = yt->ndim == nd;
        for (int i = 1; i < nd && shape_ok; i++) shape_ok = yt->dims[i] == od[i];
        check(shape_ok, "ReduceMean %s: output has %d dims, the reduced ones %s", what, nd,
              keepdims != 0 ? "kept as 1" : "dropped");
        /* the output index of every input element: kept axes in order */
        size_t xcount = xcnn_tensor_sample_numel(xt) * (size_t)batch;
        size_t ycount = xcnn_tensor_sample_numel(yt) * (size_t)batch;
        double *sum = calloc(ycount, sizeof *sum);
        size_t *to = malloc(xcount * sizeof *to);
        for (size_t at = 0; at < xcount; at++) {
            size_t rest = at, o = 0, ostride = 1;
            for (int i = r - 1; i >= 0; i--) {
                size_t idx = rest % (size_t)xd[i];
                rest /= (size_t)xd[i];
                if (mark[i]) continue;
                o += idx * ostride;
                ostride *= (size_t)xd[i];
            }
            to[at] = o;
            sum[o] += xt->data[at];
        }
        double worst = 0;
        for (size_t o = 0; o < ycount; o++) {
            double d = fabs(yt->data[o] - sum[o] / (double)red) / (fabs(sum[o] / red) + 1e-3);
            if (d > worst) worst = d;
        }
        check_close("ReduceMean forward against the mean in double", worst, 1e-6);
        int bwd_ok = 1;
        for (size_t at = 0; at < xcount; at++)
            bwd_ok &= fabsf(xt->grad[at] - (0.5f + (float)(to[at] + 1) / (float)red)) <=
                      1e-6f * (1.0f + xt->grad[at]);
        check(bwd_ok, "ReduceMean %s: dx += g / %zu at every element it averaged (batch %d)",
              what, red, batch);
        free(sum);
        free(to);
        op_release(&gc);
    }
    gc_free(&gc);
}

static void test_reduce(void)
{
    reduce_case(4, (int64_t[]){1, 3, 4, 5}, 2, (int64_t[]){2, 3}, 0, 0, 2,
                "axes (2,3) keepdims 0 (MnasNet's x.mean([2, 3]))");
    reduce_case(4, (int64_t[]){1, 3, 4, 5}, 2, (int64_t[]){-1, -2}, -1, 0, 3,
                "axes (-1,-2) keepdims default");
    reduce_case(4, (int64_t[]){1, 4, 3, 6}, 1, (int64_t[]){-1}, 1, 0, 2,
                "axes (-1) (a LayerNorm's mean, channels last)");
    reduce_case(4, (int64_t[]){1, 3, 4, 5}, 2, (int64_t[]){1, 3}, 1, 0, 2,
                "axes (1,3), not neighbours");
    reduce_case(3, (int64_t[]){1, 5, 7}, 1, (int64_t[]){1}, 0, 1, 2,
                "axes as an input (opset 18)");

    gc_graph gc;
    gc_init(&gc, 22);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 5});
    int node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){2, 3}, 2);
    gradcheck_run(&gc, node, 2, "ReduceMean (2,3) gradcheck", 1e-2);
    node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){1, 3}, 2);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "keepdims", 0);
    gradcheck_run(&gc, node, 3, "ReduceMean (1,3) keepdims 0 gradcheck", 1e-2);

    /* noop_with_empty_axes=1 and no axes: the identity */
    node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_int(&gc.g->nodes[node], "noop_with_empty_axes", 1);
    if (run_node(&gc, node, x, 2)) {
        const xcnn_tensor *xt = &gc.g->tensors[x], *yt = xcnn_out(gc.g, &gc.g->nodes[node], 0);
        int same = shape_is(&gc, node, 4, (int64_t[]){2, 3, 4, 5}) || yt->ndim == 4;
        for (size_t i = 0; i < 120 && same; i++) same = yt->data[i] == xt->data[i];
        check(same, "ReduceMean with no axes and noop_with_empty_axes=1 is the identity");
        op_release(&gc);
    }
    node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){0, 2}, 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "ReduceMean over the batch axis");
    node = gc_node(&gc, "ReduceMean", &x, 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "ReduceMean with no axes (all, the batch too)");
    node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){2, 4}, 2);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "ReduceMean axis 4 of 4 dims");
    node = gc_node(&gc, "ReduceMean", &x, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){2, -2}, 2);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "ReduceMean axes 2 and -2 (one axis twice)");
    int fa = gc_activation(&gc, "float_axes", 1, (int64_t[]){2});
    expect_refusal(&gc, gc_node(&gc, "ReduceMean", (int[]){x, fa}, 2), XCNN_ERR_UNSUPPORTED,
                   "ReduceMean with run-time axes");
    int ia = gc_int_const(&gc, "axes", 1, (int64_t[]){2});
    node = gc_node(&gc, "ReduceMean", (int[]){x, ia}, 2);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){3}, 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "ReduceMean with axes both ways");
    int e = gc_activation(&gc, "empty", 3, (int64_t[]){1, 0, 4});
    node = gc_node(&gc, "ReduceMean", &e, 1);
    xcnn_node_add_attr_ints(&gc.g->nodes[node], "axes", (int64_t[]){1}, 1);
    expect_refusal(&gc, node, XCNN_ERR_SHAPE, "ReduceMean of an empty axis");
    gc_free(&gc);
}

/* ---- Slice ---- */

typedef struct slice_spec {
    int n;                   /* axes given                            */
    int64_t starts[4], ends[4], axes[4], steps[4];
    int no_steps, attrs;     /* steps omitted; the opset < 10 form    */
} slice_spec;

static int slice_node(gc_graph *gc, int x, const slice_spec *s)
{
    if (s->attrs) {
        int node = gc_node(gc, "Slice", &x, 1);
        xcnn_node_add_attr_ints(&gc->g->nodes[node], "starts", s->starts, s->n);
        xcnn_node_add_attr_ints(&gc->g->nodes[node], "ends", s->ends, s->n);
        xcnn_node_add_attr_ints(&gc->g->nodes[node], "axes", s->axes, s->n);
        return node;
    }
    int in[5] = {x, gc_int_const(gc, "starts", s->n, s->starts),
                 gc_int_const(gc, "ends", s->n, s->ends), gc_int_const(gc, "axes", s->n, s->axes),
                 s->no_steps ? -1 : gc_int_const(gc, "steps", s->n, s->steps)};
    return gc_node(gc, "Slice", in, s->no_steps ? 4 : 5);
}

/* ONNX's clamping, written again here from the spec. */
static void window(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first,
                   int64_t *len)
{
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *len = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *len = start > end ? (start - end - step - 1) / -step : 0;
    }
    *first = start;
}

static void slice_case(int r, const int64_t *dims, const slice_spec *s, int batch,
                       const char *what)
{
    gc_graph gc;
    gc_init(&gc, 31);
    int x = gc_activation(&gc, "x", r, dims);
    int node = slice_node(&gc, x, s);
    if (run_node(&gc, node, x, batch)) {
        const xcnn_tensor *xt = &gc.g->tensors[x], *yt = xcnn_out(gc.g, &gc.g->nodes[node], 0);
        int64_t xd[XCNN_MAX_DIMS], first[XCNN_MAX_DIMS], step[XCNN_MAX_DIMS], len[XCNN_MAX_DIMS];
        for (int i = 0; i < r; i++) {
            xd[i] = i ? dims[i] : batch;
            first[i] = 0;
            step[i] = 1;
            len[i] = xd[i];
        }
        for (int k = 0; k < s->n; k++) {
            int a = (int)(s->axes[k] < 0 ? s->axes[k] + r : s->axes[k]);
            step[a] = s->no_steps || s->attrs ? 1 : s->steps[k];
            window(xd[a], s->starts[k], s->ends[k], step[a], &first[a], &len[a]);
        }
        int shape_ok = yt->ndim == r;
        for (int i = 1; i < r && shape_ok; i++) shape_ok = yt->dims[i] == len[i];
        size_t xs[XCNN_MAX_DIMS], count = 1, xcount = xcnn_tensor_sample_numel(xt) * (size_t)batch;
        strides(r, xd, xs);
        for (int i = 0; i < r; i++) count *= (size_t)len[i];
        char *hit = calloc(xcount, 1);
        int fwd_ok = shape_ok, bwd_ok = shape_ok;
        for (size_t at = 0; at < count && shape_ok; at++) {
            size_t rest = at, src = 0;
            for (int i = r - 1; i >= 0; i--) {
                src += (size_t)(first[i] + (int64_t)(rest % (size_t)len[i]) * step[i]) * xs[i];
                rest /= (size_t)len[i];
            }
            hit[src] = 1;
            fwd_ok &= yt->data[at] == xt->data[src];
            bwd_ok &= xt->grad[src] == 0.5f + (float)(at + 1);
        }
        for (size_t i = 0; i < xcount && shape_ok; i++) bwd_ok &= hit[i] || xt->grad[i] == 0.5f;
        check(fwd_ok, "Slice %s: shape and y = x's window (batch %d)", what, batch);
        check(bwd_ok, "Slice %s: dx += g in the window, untouched outside (batch %d)", what,
              batch);
        free(hit);
        op_release(&gc);
    }
    gc_free(&gc);
    gc_init(&gc, 32);
    x = gc_activation(&gc, "x", r, dims);
    node = slice_node(&gc, x, s);
    char label[128];
    snprintf(label, sizeof label, "Slice %s gradcheck", what);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_slice(void)
{
    const int64_t *D4 = (int64_t[]){1, 6, 3, 4};
    slice_spec chan = {1, {0}, {3}, {1}, {1}, 0, 0};
    slice_case(4, D4, &chan, 2, "channels [0:3] (x.chunk's first half)");
    slice_spec chan2 = {1, {3}, {INT64_MAX}, {-3}, {1}, 1, 0};
    slice_case(4, D4, &chan2, 3, "axis -3 [3:INT64_MAX], no steps");
    slice_spec back = {1, {-1}, {INT64_MIN}, {3}, {-2}, 0, 0};
    slice_case(4, D4, &back, 2, "axis 3 [-1::-2] (backwards)");
    slice_spec two = {2, {1, 1}, {3, 100}, {2, 3}, {1, 2}, 0, 0};
    slice_case(4, D4, &two, 2, "axes 2, 3 [1:3], [1::2]");
    slice_spec batch_whole = {2, {0, 2}, {INT64_MAX, 5}, {0, 1}, {1, 1}, 0, 0};
    slice_case(4, D4, &batch_whole, 2, "axis 0 whole, channels [2:5]");
    slice_spec attrs = {1, {1}, {-1}, {2}, {1}, 0, 1};
    slice_case(4, D4, &attrs, 2, "attributes (opset < 10), rows [1:-1]");
    slice_spec empty = {1, {4}, {2}, {1}, {1}, 0, 0};
    gc_graph gc;
    gc_init(&gc, 33);
    int x = gc_activation(&gc, "x", 4, D4);
    int node = slice_node(&gc, x, &empty);
    xcnn_err err = {{0}};
    check(op_setup(&gc, node, &err) == XCNN_OK && shape_is(&gc, node, 4, (int64_t[]){1, 0, 3, 4}),
          "Slice [4:2] is empty (1x0x3x4), as ONNX says");
    slice_spec cut = {1, {0}, {1}, {0}, {1}, 0, 0};
    expect_refusal(&gc, slice_node(&gc, x, &cut), XCNN_ERR_UNSUPPORTED,
                   "Slice cutting the batch ([0:1] of axis 0)");
    slice_spec zero = {1, {0}, {3}, {1}, {0}, 0, 0};
    expect_refusal(&gc, slice_node(&gc, x, &zero), XCNN_ERR_SHAPE, "Slice step 0");
    slice_spec twice = {2, {0, 1}, {3, 2}, {1, -3}, {1, 1}, 0, 0};
    expect_refusal(&gc, slice_node(&gc, x, &twice), XCNN_ERR_SHAPE, "Slice axes 1 and -3");
    slice_spec far = {1, {0}, {3}, {4}, {1}, 0, 0};
    expect_refusal(&gc, slice_node(&gc, x, &far), XCNN_ERR_SHAPE, "Slice axis 4 of 4 dims");
    int fs = gc_activation(&gc, "run_time_starts", 1, (int64_t[]){1});
    int e = gc_int_const(&gc, "ends", 1, (int64_t[]){3});
    expect_refusal(&gc, gc_node(&gc, "Slice", (int[]){x, fs, e}, 3), XCNN_ERR_UNSUPPORTED,
                   "Slice with run-time starts");
    gc_free(&gc);
}

/* ---- a ShuffleNet unit through the loader ---- */

/* x [1,4,3,3] -> Conv 1x1 (4->4, no bias) -> Relu -> Reshape [1,2,2,3,3]
 * -> Transpose (0,2,1,3,4) -> Reshape [1,4,3,3] -> Slice channels
 * [0 : (C+1)/2*1] with the bound from Shape -> Gather -> Add -> Div -> Mul
 * (as torch exports x.chunk(2, 1)) -> ReduceMean (2,3) keepdims 0 ->
 * Gemm (2->3, transB, no bias). */
static const float W1[16] = {0.5f, -0.3f, 0.8f, 0.1f,  -0.6f, 0.9f, 0.2f, 0.4f,
                             0.3f, 0.7f, -0.5f, 0.6f,  0.2f, -0.4f, 0.6f, 0.9f};
static const float W2[6] = {1.5f, -0.7f, -0.4f, 1.1f, 0.8f, 0.6f};

static ob_buf shuffle_unit(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, ob_value_info("x", 1, 4, (int64_t[]){1, 4, 3, 3}));
    ob_graph_output(&g, ob_value_info("y", 1, 2, (int64_t[]){1, 3}));
    ob_graph_init(&g, ob_tensor_f("w1", 4, (int64_t[]){4, 4, 1, 1}, W1));
    ob_graph_init(&g, ob_tensor_f("w2", 2, (int64_t[]){3, 2}, W2));
    ob_graph_init(&g, ob_tensor_i64("s5", 1, (int64_t[]){5}, (int64_t[]){1, 2, 2, 3, 3}));
    ob_graph_init(&g, ob_tensor_i64("s4", 1, (int64_t[]){4}, (int64_t[]){1, -1, 3, 3}));
    ob_graph_init(&g, ob_tensor_i64("one", 1, (int64_t[]){1}, (int64_t[]){1}));
    ob_graph_init(&g, ob_tensor_i64("zero", 1, (int64_t[]){1}, (int64_t[]){0}));
    ob_graph_init(&g, ob_tensor_i64("two", 1, (int64_t[]){1}, (int64_t[]){2}));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "w1"), OUT("c"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Reshape", "to5d", IN("r", "s5"), OUT("r5"), NULL, 0));
    ob_buf perm[] = {ob_attr_ints("perm", (int64_t[]){0, 2, 1, 3, 4}, 5)};
    ob_graph_node(&g, ob_node("Transpose", "shuffle", IN("r5"), OUT("t5"), perm, 1));
    ob_graph_node(&g, ob_node("Reshape", "to4d", IN("t5", "s4"), OUT("t"), NULL, 0));
    ob_graph_node(&g, ob_node("Shape", "shape", IN("t"), OUT("sh"), NULL, 0));
    ob_buf ax0[] = {ob_attr_int("axis", 0)};
    ob_graph_node(&g, ob_node("Gather", "gather", IN("sh", "one"), OUT("c_n"), ax0, 1));
    ob_graph_node(&g, ob_node("Add", "add", IN("c_n", "one"), OUT("c_1"), NULL, 0));
    ob_graph_node(&g, ob_node("Div", "div", IN("c_1", "two"), OUT("half"), NULL, 0));
    ob_graph_node(&g, ob_node("Mul", "mul", IN("half", "one"), OUT("end"), NULL, 0));
    ob_graph_node(&g, ob_node("Slice", "chunk", IN("t", "zero", "end", "one"), OUT("s"), NULL,
                              0));
    ob_buf rm[] = {ob_attr_ints("axes", (int64_t[]){2, 3}, 2), ob_attr_int("keepdims", 0)};
    ob_graph_node(&g, ob_node("ReduceMean", "mean", IN("s"), OUT("m"), rm, 2));
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("m", "w2"), OUT("y"), tb, 1));
    return ob_model(13, &g);
}

static void test_shuffle_unit(void)
{
    ob_buf mb = shuffle_unit();
    xcnn_model *m = NULL;
    char err[512] = "";
    xcnn_status st = xcnn_model_load_memory(mb.p, mb.n, NULL, &m, err, sizeof err);
    ob_free(&mb);
    if (!check(st == XCNN_OK, "ShuffleNet unit loads (%s)", st ? err : "ok")) return;
    /* Shape, Gather, Add, Div, Mul were evaluated at load */
    int count = xcnn_model_node_count(m);
    const char *want_ops[] = {"Conv", "Relu", "Reshape", "Transpose", "Reshape", "Slice",
                              "ReduceMean", "Gemm"};
    int ops_ok = count == 8;
    for (int i = 0; i < count && ops_ok; i++) {
        xcnn_node_info info;
        ops_ok = xcnn_model_node(m, i, &info) == XCNN_OK && !strcmp(info.op_type, want_ops[i]);
    }
    check(ops_ok, "the Slice's bound is folded: 8 nodes run (%d)", count);

    float x[36];
    for (int i = 0; i < 36; i++) x[i] = (float)sin(1.7 * i + 0.3);
    /* the unit in double: r = relu(W1 x); t's channels 0, 1 are r's 0, 2 */
    double c[4][9], mean[2] = {0, 0}, y[3], sal[3][36];
    const int from[2] = {0, 2};
    for (int o = 0; o < 4; o++)
        for (int p = 0; p < 9; p++) {
            c[o][p] = 0;
            for (int i = 0; i < 4; i++) c[o][p] += (double)W1[o * 4 + i] * x[i * 9 + p];
        }
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < 9; p++) mean[k] += (c[from[k]][p] > 0 ? c[from[k]][p] : 0) / 9.0;
    for (int q = 0; q < 3; q++) {
        y[q] = W2[q * 2] * mean[0] + W2[q * 2 + 1] * mean[1];
        for (int i = 0; i < 4; i++)
            for (int p = 0; p < 9; p++) {
                double d = 0;
                for (int k = 0; k < 2; k++)
                    if (c[from[k]][p] > 0) d += W2[q * 2 + k] / 9.0 * W1[from[k] * 4 + i];
                sal[q][i * 9 + p] = d;
            }
    }
    float out[3];
    st = xcnn_forward(m, x, 1, out);
    double fe = 0, fm = 0;
    for (int q = 0; q < 3; q++) {
        fe = fmax(fe, fabs(out[q] - y[q]));
        fm = fmax(fm, fabs(y[q]));
    }
    check(st == XCNN_OK && fe / fm < 1e-6, "ShuffleNet unit forward against the unit in "
          "double (error %.2g)", fe / fm);
    int target = 1;
    xcnn_tensor_view in;
    st = xcnn_backward(m, &target, NULL, NULL);
    if (!st) st = xcnn_model_input(m, &in);
    double ge = 0, gmax = 0;
    /* a plain `if`, not fmax: aarch64 gcc 12 crashes (an internal compiler
     * error in vect_transform_reduction) vectorising the fmax reduction */
    for (int i = 0; !st && i < 36; i++) {
        double e = fabs(in.grad[i] - sal[target][i]), s = fabs(sal[target][i]);
        if (!(e <= ge)) ge = e; /* a NaN stays, and fails the check */
        if (s > gmax) gmax = s;
    }
    check(st == XCNN_OK && gmax > 0 && ge / gmax < 1e-6, "ShuffleNet unit input gradient "
          "against the unit in double (error %.2g)", ge / gmax);

    /* the explainers' rules: DeepLIFT's multipliers and LRP's relevance
     * pass the layout ops as their gradients do, ReduceMean as a pool */
    float attr[36];
    xcnn_explain_options o;
    xcnn_explain_result res;
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "reserve batch 2 (DeepLIFT's pair)");
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    o.target = target;
    st = xcnn_explain(m, x, &o, attr, 36, &res);
    check(st == XCNN_OK && fabsf(res.delta) < 1e-5f * (1 + fabsf(res.score)),
          "DeepLIFT runs through Transpose, Slice, ReduceMean: completeness delta %.2g (%s)",
          st ? 0.0 : res.delta, st ? xcnn_model_error(m) : "ok");
    const xcnn_lrp_rule rules[] = {XCNN_LRP_EPSILON, XCNN_LRP_EPSILON_PLUS_FLAT};
    for (int k = 0; k < 2; k++) {
        xcnn_explain_options_init(&o, XCNN_LRP);
        o.target = target;
        o.lrp_rule = rules[k];
        st = xcnn_explain(m, x, &o, attr, 36, &res);
        check(st == XCNN_OK && fabsf(res.total - res.score) < 1e-4f * fabsf(res.score),
              "LRP (%s) conserves relevance through them (no biases): total %.6g, score %.6g "
              "(%s)", k ? "epsilon-plus-flat" : "epsilon", st ? 0.0 : res.total,
              st ? 0.0 : res.score, st ? xcnn_model_error(m) : "ok");
    }
    xcnn_explain_options_init(&o, XCNN_GUIDED_BACKPROP);
    o.target = target;
    st = xcnn_explain(m, x, &o, attr, 36, &res);
    check(st == XCNN_OK, "guided backprop runs (%s)", st ? xcnn_model_error(m) : "ok");

    /* written as ONNX (the nodes that run, folded bounds as constants) and
     * read back: the same numbers */
    unsigned char *bytes = NULL;
    size_t size = 0;
    xcnn_model *m2 = NULL;
    float out2[3];
    st = xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &bytes, &size, err, sizeof err);
    if (!st) st = xcnn_model_load_memory(bytes, size, NULL, &m2, err, sizeof err);
    if (!st) st = xcnn_forward(m2, x, 1, out2);
    check(st == XCNN_OK && !memcmp(out, out2, sizeof out), "saved as ONNX and loaded again: "
          "the same outputs, to the bit (%s)", st ? err : "ok");
    free(bytes);
    xcnn_model_free(m2);
    xcnn_model_free(m);
}

/* Opset 18's ReduceMean takes its axes as an input: loaded, written and
 * read back, the file keeps opset 18 (at 13 the input would be wrong). */
static void test_reduce_opset18(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, ob_value_info("x", 1, 4, (int64_t[]){1, 2, 3, 3}));
    ob_graph_output(&g, ob_value_info("y", 1, 2, (int64_t[]){1, 2}));
    ob_graph_init(&g, ob_tensor_i64("axes", 1, (int64_t[]){2}, (int64_t[]){-1, 2}));
    ob_buf kd[] = {ob_attr_int("keepdims", 0)};
    ob_graph_node(&g, ob_node("ReduceMean", "mean", IN("x", "axes"), OUT("y"), kd, 1));
    ob_buf mb = ob_model(18, &g);
    xcnn_model *m = NULL, *m2 = NULL;
    char err[512] = "";
    unsigned char *bytes = NULL;
    size_t size = 0;
    float x[18], y[2] = {0, 0}, y2[2] = {1, 1};
    for (int i = 0; i < 18; i++) x[i] = (float)i;
    xcnn_status st = xcnn_model_load_memory(mb.p, mb.n, NULL, &m, err, sizeof err);
    if (!st) st = xcnn_forward(m, x, 1, y);
    check(st == XCNN_OK && y[0] == 4.0f && y[1] == 13.0f,
          "ReduceMean with axes as an input (opset 18): means 4 and 13 (%s)", st ? err : "ok");
    if (!st) st = xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &bytes, &size, err, sizeof err);
    if (!st) st = xcnn_model_load_memory(bytes, size, NULL, &m2, err, sizeof err);
    if (!st) st = xcnn_forward(m2, x, 1, y2);
    /* opset_import { domain "", version 18 }: field 8, 4 bytes */
    const unsigned char want[] = {0x42, 0x04, 0x0a, 0x00, 0x10, 18};
    int has18 = 0;
    for (size_t i = 0; bytes && i + sizeof want <= size && !has18; i++)
        has18 = !memcmp(bytes + i, want, sizeof want);
    check(st == XCNN_OK && has18 && y2[0] == 4.0f && y2[1] == 13.0f,
          "written as ONNX at opset 18 and read back: the same means (%s)", st ? err : "ok");
    free(bytes);
    ob_free(&mb);
    xcnn_model_free(m);
    xcnn_model_free(m2);
}

int main(void)
{
    test_transpose();
    test_reduce();
    test_slice();
    test_shuffle_unit();
    test_reduce_opset18();
    return check_summary();
}
