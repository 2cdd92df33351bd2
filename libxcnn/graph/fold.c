/*
 * Load-time evaluation of nodes whose result is known before any input
 * arrives (see fold.h). torch.onnx.export writes x.view(x.size(0), -1) as
 *     Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., [-1]) -> Reshape(x, .)
 * and we evaluate everything up to the Reshape here. At plan time an
 * activation's dims[0] is 1, so Shape reports batch 1: the Reshape op reads
 * the batch from its input at run time.
 *
 * What each op computes (r = rank, values in C order):
 *   Shape(x)              x.dims[start:end]
 *   Gather(d, i; axis)    out[o, j, k] = d[o, i[j] (+dim if < 0), k]
 *   Unsqueeze / Squeeze   the same values, dims of 1 added / removed at axes
 *   Concat(axis)          the inputs' blocks one after another along axis
 *   Cast(to)              each value converted (float -> int truncates)
 *   Slice                 d[start : end : step] on the given axes, clamped
 *   ConstantOfShape(s)    a tensor of dims s filled with the 'value' attr
 *   Reshape(d, s)         the same values, dims s (0 copies, -1 is inferred)
 *   Add Sub Mul Div Equal Where Expand: numpy broadcasting, element-wise
 *   Range(a, b, d)        a, a+d, ... while before b
 * Integers are int64 (bools as 0/1); floats are float32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fold.h"

/* Folded values are shape vectors and small constants; a bigger result
 * means a mistake in the file, not a constant worth 256 MiB. */
#define FOLD_MAX_ELEMS ((size_t)1 << 26)

typedef xcnn_status (*fold_fn)(xcnn_graph *g, xcnn_node *n, xcnn_err *err);

/* ---- helpers ---------------------------------------------------------- */

static xcnn_status bad(const xcnn_node *n, xcnn_err *err, xcnn_status st, const char *why)
{
    return xcnn_fail(err, st, "node '%s' (%s): %s", n->name, n->op_type, why);
}

static size_t esize(const xcnn_tensor *t)
{
    return t->dtype == XCNN_DT_FLOAT ? sizeof(float) : sizeof(int64_t);
}

static void *bytes(const xcnn_tensor *t)
{
    return t->dtype == XCNN_DT_FLOAT ? (void *)t->data : (void *)t->idata;
}

/* Input k, which must be present. */
static const xcnn_tensor *need(xcnn_graph *g, const xcnn_node *n, int k, xcnn_err *err)
{
    const xcnn_tensor *t = xcnn_in(g, n, k);
    if (!t) xcnn_fail(err, XCNN_ERR_FORMAT, "node '%s' (%s): input %d is missing", n->name,
                      n->op_type, k);
    return t;
}

/* The values of input k as int64 (a shape, axes, indices ...). */
static xcnn_status ints_in(xcnn_graph *g, const xcnn_node *n, int k, const int64_t **v,
                           size_t *count, xcnn_err *err)
{
    *v = NULL;
    *count = 0;
    const xcnn_tensor *t = need(g, n, k, err);
    if (!t) return XCNN_ERR_FORMAT;
    if (t->dtype != XCNN_DT_INT64 || t->ndim > 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "node '%s' (%s): input '%s' should be a 1-D integer tensor", n->name,
                         n->op_type, t->name);
    *v = t->idata;
    *count = xcnn_tensor_numel(t);
    return XCNN_OK;
}

/* Axes from the attribute (older opsets) or else from input k (newer). */
static xcnn_status axes_of(xcnn_graph *g, const xcnn_node *n, int k, const int64_t **v,
                           size_t *count, xcnn_err *err)
{
    int c = 0;
    *v = xcnn_attr_ints(n, "axes", &c);
    *count = (size_t)c;
    if (*v || !xcnn_in(g, n, k)) return XCNN_OK;
    return ints_in(g, n, k, v, count, err);
}

/* Axis a of rank r, negative counting from the end; -1 if out of range. */
static int norm_axis(int64_t a, int r)
{
    if (a < 0) a += r;
    return (a < 0 || a >= r) ? -1 : (int)a;
}

/* Turn output k into a const of this dtype and shape, zero-filled. */
static xcnn_status make_out(xcnn_graph *g, const xcnn_node *n, int k, xcnn_dtype dt, int ndim,
                            const int64_t *dims, xcnn_tensor **out, xcnn_err *err)
{
    xcnn_tensor *t = xcnn_out(g, n, k);
    xcnn_status st = xcnn_tensor_set_shape(t, ndim, dims, err);
    if (st) return st;
    size_t numel = xcnn_tensor_numel(t);
    if (numel > FOLD_MAX_ELEMS)
        return xcnn_fail(err, XCNN_ERR_LIMIT,
                         "node '%s' (%s): constant output '%s' would have %zu elements",
                         n->name, n->op_type, t->name, numel);
    if (t->kind == XCNN_T_CONST && !t->borrowed) xcnn_graph_free_mem(g, t->data);
    xcnn_graph_free_mem(g, t->idata);
    t->data = NULL;
    t->idata = NULL;
    t->borrowed = 0;
    t->kind = XCNN_T_CONST;
    t->dtype = dt;
    if (dt == XCNN_DT_FLOAT) t->data = xcnn_graph_calloc(g, numel ? numel : 1, sizeof(float));
    else t->idata = xcnn_graph_calloc(g, numel ? numel : 1, sizeof(int64_t));
    if (!t->data && !t->idata)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s': out of memory", n->name);
    *out = t;
    return XCNN_OK;
}

/* Same values, new dims (Identity, Reshape, Squeeze, Unsqueeze). */
static xcnn_status copy_as(xcnn_graph *g, const xcnn_node *n, const xcnn_tensor *x, int ndim,
                           const int64_t *dims, xcnn_err *err)
{
    xcnn_tensor *y = NULL;
    size_t numel = xcnn_tensor_numel(x);
    xcnn_status st = make_out(g, n, 0, x->dtype, ndim, dims, &y, err);
    if (st) return st;
    if (xcnn_tensor_numel(y) != numel)
        return bad(n, err, XCNN_ERR_SHAPE, "element count changes");
    if (numel) memcpy(bytes(y), bytes(x), numel * esize(x));
    return XCNN_OK;
}

/* ---- broadcasting ------------------------------------------------------- */

typedef struct bcast {
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    size_t stride[3][XCNN_MAX_DIMS]; /* 0 along broadcast dims */
    int n;
} bcast;

/* Output dims of numpy broadcasting of shapes (nd[i], d[i]), and each
 * input's strides over them. */
static xcnn_status bcast_init(bcast *b, int count, const int *nd, const int64_t *const *d,
                              const xcnn_node *n, xcnn_err *err)
{
    memset(b, 0, sizeof *b);
    b->n = count;
    for (int i = 0; i < count; i++)
        if (nd[i] > b->ndim) b->ndim = nd[i];
    for (int j = 0; j < b->ndim; j++) {
        int64_t out = 1;
        for (int i = 0; i < count; i++) {
            int k = j - (b->ndim - nd[i]);
            int64_t v = k >= 0 ? d[i][k] : 1;
            if (v == out || v == 1) continue;
            if (out != 1) return bad(n, err, XCNN_ERR_SHAPE, "shapes do not broadcast");
            out = v;
        }
        b->dims[j] = out;
    }
    for (int i = 0; i < count; i++) {
        size_t s = 1;
        for (int k = nd[i] - 1; k >= 0; k--) {
            int j = k + (b->ndim - nd[i]);
            b->stride[i][j] = d[i][k] == 1 ? 0 : s;
            s *= (size_t)d[i][k];
        }
    }
    return XCNN_OK;
}

/* Offsets into each input of output element `at`. */
static void bcast_at(const bcast *b, size_t at, size_t off[3])
{
    off[0] = off[1] = off[2] = 0;
    for (int j = b->ndim - 1; j >= 0; j--) {
        size_t idx = b->dims[j] ? at % (size_t)b->dims[j] : 0;
        at = b->dims[j] ? at / (size_t)b->dims[j] : 0;
        for (int i = 0; i < b->n; i++) off[i] += idx * b->stride[i][j];
    }
}

/* ---- the ops ------------------------------------------------------------ */

static xcnn_status fold_shape(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    if (!x) return XCNN_ERR_FORMAT;
    int r = x->ndim;
    int64_t start = xcnn_attr_int(n, "start", 0), end = xcnn_attr_int(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t len = end > start ? end - start : 0;
    xcnn_tensor *y = NULL;
    xcnn_status st = make_out(g, n, 0, XCNN_DT_INT64, 1, &len, &y, err);
    if (st) return st;
    for (int64_t i = 0; i < len; i++) y->idata[i] = x->dims[start + i];
    return XCNN_OK;
}

static xcnn_status fold_identity(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    return x ? copy_as(g, n, x, x->ndim, x->dims, err) : XCNN_ERR_FORMAT;
}

static xcnn_status fold_gather(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *d = need(g, n, 0, err), *ix = need(g, n, 1, err);
    if (!d || !ix) return XCNN_ERR_FORMAT;
    int r = d->ndim, axis = r ? norm_axis(xcnn_attr_int(n, "axis", 0), r) : -1;
    if (axis < 0) return bad(n, err, XCNN_ERR_SHAPE, "axis out of range");
    if (ix->dtype != XCNN_DT_INT64) return bad(n, err, XCNN_ERR_SHAPE, "indices not integer");
    if (r - 1 + ix->ndim > XCNN_MAX_DIMS) return bad(n, err, XCNN_ERR_SHAPE, "too many dims");
    int64_t dims[XCNN_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < axis; i++) dims[nd++] = d->dims[i];
    for (int i = 0; i < ix->ndim; i++) dims[nd++] = ix->dims[i];
    for (int i = axis + 1; i < r; i++) dims[nd++] = d->dims[i];
    size_t outer = 1, inner = 1, len = (size_t)d->dims[axis], count = xcnn_tensor_numel(ix);
    for (int i = 0; i < axis; i++) outer *= (size_t)d->dims[i];
    for (int i = axis + 1; i < r; i++) inner *= (size_t)d->dims[i];
    xcnn_tensor *y = NULL;
    xcnn_status st = make_out(g, n, 0, d->dtype, nd, dims, &y, err);
    if (st) return st;
    size_t es = esize(d);
    char *dst = bytes(y);
    const char *src = bytes(d);
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < count; j++) {
            int64_t k = ix->idata[j];
            if (k < 0) k += (int64_t)len;
            if (k < 0 || (size_t)k >= len)
                return xcnn_fail(err, XCNN_ERR_SHAPE,
                                 "node '%s' (Gather): index %lld out of range for %zu",
                                 n->name, (long long)ix->idata[j], len);
            memcpy(dst + ((o * count + j) * inner) * es, src + ((o * len + (size_t)k) * inner) * es,
                   inner * es);
        }
    return XCNN_OK;
}

static xcnn_status fold_unsqueeze(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    const int64_t *axes;
    size_t na;
    if (!x) return XCNN_ERR_FORMAT;
    xcnn_status st = axes_of(g, n, 1, &axes, &na, err);
    if (st) return st;
    if (!axes || (size_t)x->ndim + na > XCNN_MAX_DIMS)
        return bad(n, err, XCNN_ERR_SHAPE, "needs 1 to 8 axes in all");
    int r = x->ndim + (int)na, added[XCNN_MAX_DIMS] = {0};
    for (size_t i = 0; i < na; i++) {
        int a = norm_axis(axes[i], r);
        if (a < 0 || added[a]) return bad(n, err, XCNN_ERR_SHAPE, "bad or repeated axis");
        added[a] = 1;
    }
    int64_t dims[XCNN_MAX_DIMS];
    for (int j = 0, k = 0; j < r; j++) dims[j] = added[j] ? 1 : x->dims[k++];
    return copy_as(g, n, x, r, dims, err);
}

static xcnn_status fold_squeeze(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    const int64_t *axes;
    size_t na;
    if (!x) return XCNN_ERR_FORMAT;
    xcnn_status st = axes_of(g, n, 1, &axes, &na, err);
    if (st) return st;
    int drop[XCNN_MAX_DIMS] = {0};
    for (int j = 0; j < x->ndim && !axes; j++) drop[j] = x->dims[j] == 1;
    for (size_t i = 0; axes && i < na; i++) {
        int a = norm_axis(axes[i], x->ndim);
        if (a < 0 || x->dims[a] != 1)
            return bad(n, err, XCNN_ERR_SHAPE, "squeezed axis is not of size 1");
        drop[a] = 1;
    }
    int64_t dims[XCNN_MAX_DIMS];
    int r = 0;
    for (int j = 0; j < x->ndim; j++)
        if (!drop[j]) dims[r++] = x->dims[j];
    return copy_as(g, n, x, r, dims, err);
}

static xcnn_status fold_concat(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x0 = need(g, n, 0, err);
    if (!x0) return XCNN_ERR_FORMAT;
    int r = x0->ndim, axis = r ? norm_axis(xcnn_attr_int(n, "axis", 0), r) : -1;
    if (axis < 0) return bad(n, err, XCNN_ERR_SHAPE, "axis out of range");
    int64_t dims[XCNN_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const xcnn_tensor *x = need(g, n, i, err);
        if (!x) return XCNN_ERR_FORMAT;
        int same = x->ndim == r && x->dtype == x0->dtype;
        for (int j = 0; same && j < r; j++) same = j == axis || x->dims[j] == x0->dims[j];
        if (!same) return bad(n, err, XCNN_ERR_SHAPE, "inputs do not fit together");
        dims[axis] += x->dims[axis];
    }
    size_t outer = 1, inner = 1, es = esize(x0);
    for (int j = 0; j < axis; j++) outer *= (size_t)dims[j];
    for (int j = axis + 1; j < r; j++) inner *= (size_t)dims[j];
    xcnn_tensor *y = NULL;
    xcnn_status st = make_out(g, n, 0, x0->dtype, r, dims, &y, err);
    if (st) return st;
    char *dst = bytes(y);
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < n->n_in; i++) {
            const xcnn_tensor *x = xcnn_in(g, n, i);
            size_t block = (size_t)x->dims[axis] * inner * es;
            memcpy(dst, (const char *)bytes(x) + o * block, block);
            dst += block;
        }
    return XCNN_OK;
}

/* Cast: 'to' is an ONNX data type code. */
static xcnn_status fold_cast(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    if (!x) return XCNN_ERR_FORMAT;
    int64_t to = xcnn_attr_int(n, "to", 0);
    /* FLOAT, FLOAT16, DOUBLE, BFLOAT16 stay float; the integer types and
     * BOOL become int64. */
    int to_float = to == 1 || to == 10 || to == 11 || to == 16;
    int to_int = (to >= 2 && to <= 7) || to == 9 || to == 12 || to == 13;
    if (!to_float && !to_int) return bad(n, err, XCNN_ERR_UNSUPPORTED, "cast to this type");
    xcnn_tensor *y = NULL;
    size_t numel = xcnn_tensor_numel(x);
    xcnn_status st = make_out(g, n, 0, to_float ? XCNN_DT_FLOAT : XCNN_DT_INT64, x->ndim,
                              x->dims, &y, err);
    if (st) return st;
    for (size_t i = 0; i < numel; i++) {
        if (to_float) {
            y->data[i] = x->dtype == XCNN_DT_FLOAT ? x->data[i] : (float)x->idata[i];
            continue;
        }
        int64_t v = x->idata ? x->idata[i] : 0;
        if (x->dtype == XCNN_DT_FLOAT) {
            float f = x->data[i];
            if (to == 9) {
                y->idata[i] = f != 0;
                continue;
            }
            if (!(f > -9.2e18f && f < 9.2e18f))
                return bad(n, err, XCNN_ERR_NUMERIC, "value does not fit an integer");
            v = (int64_t)f; /* truncates toward zero, as ONNX Cast does */
        }
        switch (to) {
        case 2: v = (uint8_t)v; break;
        case 3: v = (int8_t)v; break;
        case 4: v = (uint16_t)v; break;
        case 5: v = (int16_t)v; break;
        case 6: v = (int32_t)v; break;
        case 9: v = v != 0; break;
        case 12: v = (uint32_t)v; break;
        default: break;
        }
        y->idata[i] = v;
    }
    return XCNN_OK;
}

/* One sliced axis after ONNX's clamping rules: first index, step, count. */
static xcnn_status slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step,
                              int64_t *first, int64_t *len, const xcnn_node *n, xcnn_err *err)
{
    if (step == 0) return bad(n, err, XCNN_ERR_SHAPE, "step is 0");
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *len = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        /* -step in unsigned arithmetic: -INT64_MIN does not fit an int64. */
        uint64_t back = 0 - (uint64_t)step;
        *len = start > end ? (int64_t)((uint64_t)(start - end - 1) / back) + 1 : 0;
    }
    *first = start;
    return XCNN_OK;
}

xcnn_status xcnn_slice_window(xcnn_graph *g, const xcnn_node *n, const xcnn_tensor *x,
                              int64_t first[XCNN_MAX_DIMS], int64_t step[XCNN_MAX_DIMS],
                              int64_t dims[XCNN_MAX_DIMS], xcnn_err *err)
{
    const int64_t *starts, *ends, *axes = NULL, *steps = NULL;
    size_t ns, ne, na = 0, nst = 0;
    xcnn_status st;
    int c1 = 0, c2 = 0, c3 = 0;
    if ((starts = xcnn_attr_ints(n, "starts", &c1))) { /* opset < 10 */
        ends = xcnn_attr_ints(n, "ends", &c2);
        axes = xcnn_attr_ints(n, "axes", &c3);
        ns = (size_t)c1;
        ne = (size_t)c2;
        na = (size_t)c3;
    } else {
        if ((st = ints_in(g, n, 1, &starts, &ns, err))) return st;
        if ((st = ints_in(g, n, 2, &ends, &ne, err))) return st;
        if (xcnn_in(g, n, 3) && (st = ints_in(g, n, 3, &axes, &na, err))) return st;
        if (xcnn_in(g, n, 4) && (st = ints_in(g, n, 4, &steps, &nst, err))) return st;
    }
    if (ne != ns || (axes && na != ns) || (steps && nst != ns) || ns > (size_t)x->ndim)
        return bad(n, err, XCNN_ERR_SHAPE, "starts, ends, axes and steps differ in length");
    int seen[XCNN_MAX_DIMS] = {0};
    for (int j = 0; j < x->ndim; j++) {
        first[j] = 0;
        step[j] = 1;
        dims[j] = x->dims[j];
    }
    for (size_t i = 0; i < ns; i++) {
        int a = axes ? norm_axis(axes[i], x->ndim) : (int)i;
        if (a < 0 || seen[a]++) return bad(n, err, XCNN_ERR_SHAPE, "bad or repeated axis");
        step[a] = steps ? steps[i] : 1;
        st = slice_axis(x->dims[a], starts[i], ends[i], step[a], &first[a], &dims[a], n, err);
        if (st) return st;
    }
    return XCNN_OK;
}

static xcnn_status fold_slice(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    if (!x) return XCNN_ERR_FORMAT;
    int64_t first[XCNN_MAX_DIMS], step[XCNN_MAX_DIMS], dims[XCNN_MAX_DIMS];
    xcnn_status st = xcnn_slice_window(g, n, x, first, step, dims, err);
    if (st) return st;
    xcnn_tensor *y = NULL;
    if ((st = make_out(g, n, 0, x->dtype, x->ndim, dims, &y, err))) return st;
    size_t numel = xcnn_tensor_numel(y), es = esize(x);
    for (size_t at = 0; at < numel; at++) {
        size_t rest = at, src = 0, stride = 1;
        for (int j = x->ndim - 1; j >= 0; j--) {
            size_t idx = rest % (size_t)dims[j];
            rest /= (size_t)dims[j];
            src += (size_t)(first[j] + (int64_t)idx * step[j]) * stride;
            stride *= (size_t)x->dims[j];
        }
        memcpy((char *)bytes(y) + at * es, (const char *)bytes(x) + src * es, es);
    }
    return XCNN_OK;
}

static xcnn_status fold_constant_of_shape(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const int64_t *shape;
    size_t r;
    xcnn_status st = ints_in(g, n, 0, &shape, &r, err);
    if (st) return st;
    if (r > XCNN_MAX_DIMS) return bad(n, err, XCNN_ERR_SHAPE, "too many dims");
    const xcnn_attr *a = xcnn_attr_get(n, "value");
    const xcnn_tensor *v = NULL;
    if (a && a->type == XCNN_ATTR_TENSOR && a->tensor >= 0 && a->tensor < g->n_tensors)
        v = &g->tensors[a->tensor];
    if (a && (!v || xcnn_tensor_numel(v) != 1))
        return bad(n, err, XCNN_ERR_SHAPE, "'value' must be a one-element tensor");
    xcnn_tensor *y = NULL;
    st = make_out(g, n, 0, v ? v->dtype : XCNN_DT_FLOAT, (int)r, shape, &y, err);
    if (st) return st;
    size_t numel = xcnn_tensor_numel(y);
    for (size_t i = 0; v && i < numel; i++) memcpy((char *)bytes(y) + i * esize(v), bytes(v),
                                                   esize(v));
    return XCNN_OK;
}

static xcnn_status fold_reshape(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    const int64_t *s;
    size_t r;
    if (!x) return XCNN_ERR_FORMAT;
    xcnn_status st = ints_in(g, n, 1, &s, &r, err);
    if (st) return st;
    if (r > XCNN_MAX_DIMS) return bad(n, err, XCNN_ERR_SHAPE, "too many dims");
    int64_t dims[XCNN_MAX_DIMS];
    st = xcnn_reshape_dims(n, x, s, (int)r, (int)xcnn_attr_int(n, "allowzero", 0), dims, err);
    return st ? st : copy_as(g, n, x, (int)r, dims, err);
}

/* Element-wise ops with broadcasting: Add Sub Mul Div Equal Where Expand. */
static xcnn_status int_op(const xcnn_node *n, char op, int64_t a, int64_t b, int64_t *r,
                          xcnn_err *err)
{
    /* Unsigned arithmetic wraps instead of overflowing (undefined in C). */
    switch (op) {
    case '+': *r = (int64_t)((uint64_t)a + (uint64_t)b); break;
    case '-': *r = (int64_t)((uint64_t)a - (uint64_t)b); break;
    case '*': *r = (int64_t)((uint64_t)a * (uint64_t)b); break;
    case '=': *r = a == b; break;
    default:
        if (b == 0 || (a == INT64_MIN && b == -1))
            return bad(n, err, XCNN_ERR_NUMERIC, "integer division by zero or overflow");
        *r = a / b; /* truncates toward zero */
    }
    return XCNN_OK;
}

static float float_op(char op, float a, float b)
{
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '=': return a == b;
    default: return a / b;
    }
}

static xcnn_status fold_elementwise(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const char *op = n->op_type;
    char c = !strcmp(op, "Add") ? '+' : !strcmp(op, "Sub") ? '-' : !strcmp(op, "Mul") ? '*'
             : !strcmp(op, "Div") ? '/' : '=';
    const xcnn_tensor *a = need(g, n, 0, err), *b = need(g, n, 1, err);
    if (!a || !b) return XCNN_ERR_FORMAT;
    if (a->dtype != b->dtype) return bad(n, err, XCNN_ERR_UNSUPPORTED, "inputs differ in type");
    int nd[2] = {a->ndim, b->ndim};
    const int64_t *d[2] = {a->dims, b->dims};
    bcast bc;
    xcnn_status st = bcast_init(&bc, 2, nd, d, n, err);
    xcnn_dtype dt = c == '=' ? XCNN_DT_INT64 : a->dtype;
    xcnn_tensor *y = NULL;
    if (!st) st = make_out(g, n, 0, dt, bc.ndim, bc.dims, &y, err);
    size_t numel = st ? 0 : xcnn_tensor_numel(y), off[3];
    for (size_t i = 0; i < numel && !st; i++) {
        bcast_at(&bc, i, off);
        if (a->dtype == XCNN_DT_INT64) {
            st = int_op(n, c, a->idata[off[0]], b->idata[off[1]], &y->idata[i], err);
        } else {
            float v = float_op(c, a->data[off[0]], b->data[off[1]]);
            if (c == '=') y->idata[i] = v != 0;
            else y->data[i] = v;
        }
    }
    return st;
}

static xcnn_status fold_where(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *c = need(g, n, 0, err), *x = need(g, n, 1, err), *z = need(g, n, 2, err);
    if (!c || !x || !z) return XCNN_ERR_FORMAT;
    if (c->dtype != XCNN_DT_INT64 || x->dtype != z->dtype)
        return bad(n, err, XCNN_ERR_UNSUPPORTED, "input types");
    int nd[3] = {c->ndim, x->ndim, z->ndim};
    const int64_t *d[3] = {c->dims, x->dims, z->dims};
    bcast bc;
    xcnn_tensor *y = NULL;
    xcnn_status st = bcast_init(&bc, 3, nd, d, n, err);
    if (!st) st = make_out(g, n, 0, x->dtype, bc.ndim, bc.dims, &y, err);
    if (st) return st;
    size_t numel = xcnn_tensor_numel(y), off[3], es = esize(x);
    for (size_t i = 0; i < numel; i++) {
        bcast_at(&bc, i, off);
        const xcnn_tensor *from = c->idata[off[0]] ? x : z;
        size_t k = c->idata[off[0]] ? off[1] : off[2];
        memcpy((char *)bytes(y) + i * es, (const char *)bytes(from) + k * es, es);
    }
    return XCNN_OK;
}

static xcnn_status fold_expand(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    const int64_t *s;
    size_t r;
    if (!x) return XCNN_ERR_FORMAT;
    xcnn_status st = ints_in(g, n, 1, &s, &r, err);
    if (st) return st;
    if (r > XCNN_MAX_DIMS) return bad(n, err, XCNN_ERR_SHAPE, "too many dims");
    for (size_t i = 0; i < r; i++)
        if (s[i] < 0) return bad(n, err, XCNN_ERR_SHAPE, "negative dimension");
    int nd[2] = {x->ndim, (int)r};
    const int64_t *d[2] = {x->dims, s};
    bcast bc;
    xcnn_tensor *y = NULL;
    st = bcast_init(&bc, 2, nd, d, n, err);
    if (!st) st = make_out(g, n, 0, x->dtype, bc.ndim, bc.dims, &y, err);
    if (st) return st;
    size_t numel = xcnn_tensor_numel(y), off[3], es = esize(x);
    for (size_t i = 0; i < numel; i++) {
        bcast_at(&bc, i, off);
        memcpy((char *)bytes(y) + i * es, (const char *)bytes(x) + off[0] * es, es);
    }
    return XCNN_OK;
}

static xcnn_status fold_range(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *t[3];
    for (int i = 0; i < 3; i++) {
        if (!(t[i] = need(g, n, i, err))) return XCNN_ERR_FORMAT;
        if (xcnn_tensor_numel(t[i]) != 1 || t[i]->dtype != t[0]->dtype)
            return bad(n, err, XCNN_ERR_SHAPE, "start, limit and delta must be scalars of "
                                               "one type");
    }
    int64_t len;
    if (t[0]->dtype == XCNN_DT_INT64) {
        int64_t a = t[0]->idata[0], b = t[1]->idata[0], dl = t[2]->idata[0];
        if (dl == 0) return bad(n, err, XCNN_ERR_SHAPE, "delta is 0");
        /* Count in unsigned arithmetic: b - a may not fit an int64. */
        uint64_t span = dl > 0 ? (b > a ? (uint64_t)b - (uint64_t)a : 0)
                               : (a > b ? (uint64_t)a - (uint64_t)b : 0);
        uint64_t step = dl > 0 ? (uint64_t)dl : 0 - (uint64_t)dl;
        uint64_t count = span ? (span - 1) / step + 1 : 0;
        if (count > FOLD_MAX_ELEMS) return bad(n, err, XCNN_ERR_LIMIT, "range too long");
        len = (int64_t)count;
    } else {
        float a = t[0]->data[0], b = t[1]->data[0], dl = t[2]->data[0];
        double c = ceil(((double)b - a) / dl);
        if (!(c < (double)FOLD_MAX_ELEMS)) return bad(n, err, XCNN_ERR_LIMIT, "range too long");
        len = c > 0 ? (int64_t)c : 0;
    }
    xcnn_tensor *y = NULL;
    xcnn_status st = make_out(g, n, 0, t[0]->dtype, 1, &len, &y, err);
    if (st) return st;
    for (int64_t i = 0; i < len; i++) {
        if (y->idata)
            y->idata[i] = (int64_t)((uint64_t)t[0]->idata[0] + (uint64_t)i * (uint64_t)t[2]->idata[0]);
        else
            y->data[i] = t[0]->data[0] + (float)i * t[2]->data[0];
    }
    return XCNN_OK;
}

/* Transpose: y[i_perm(0), ..., i_perm(r-1)] = x[i_0, ..., i_{r-1}]; default
 * perm reverses the axes. torch's F.pad exports its pads through one. */
static xcnn_status fold_transpose(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    const xcnn_tensor *x = need(g, n, 0, err);
    if (!x) return XCNN_ERR_FORMAT;
    int r = x->ndim, count = 0;
    const int64_t *perm = xcnn_attr_ints(n, "perm", &count);
    int p[XCNN_MAX_DIMS], seen[XCNN_MAX_DIMS] = {0};
    if (perm && count != r) return bad(n, err, XCNN_ERR_SHAPE, "perm length differs from rank");
    for (int i = 0; i < r; i++) {
        p[i] = perm ? norm_axis(perm[i], r) : r - 1 - i;
        if (p[i] < 0 || seen[p[i]]++) return bad(n, err, XCNN_ERR_SHAPE, "perm is not a permutation");
    }
    int64_t dims[XCNN_MAX_DIMS];
    for (int i = 0; i < r; i++) dims[i] = x->dims[p[i]];
    xcnn_tensor *y = NULL;
    xcnn_status st = make_out(g, n, 0, x->dtype, r, dims, &y, err);
    if (st) return st;
    /* Strides of x in elements; walk y in order and find each source. */
    size_t xstride[XCNN_MAX_DIMS], numel = xcnn_tensor_numel(y), es = esize(x);
    size_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xstride[i] = acc;
        acc *= (size_t)x->dims[i];
    }
    char *dst = bytes(y);
    const char *src = bytes(x);
    for (size_t at = 0; at < numel; at++) {
        size_t rem = at, off = 0;
        for (int i = r - 1; i >= 0; i--) {
            size_t idx = rem % (size_t)dims[i];
            rem /= (size_t)dims[i];
            off += idx * xstride[p[i]];
        }
        memcpy(dst + at * es, src + off * es, es);
    }
    return XCNN_OK;
}

/* ---- dispatch ------------------------------------------------------------ */

/* The ONNX attributes of the ops only the folder runs (see xcnn_attr_spec;
 * opsets 7 to 18). Axes and Slice's bounds moved from attributes to
 * inputs (Slice at opset 10, Squeeze and Unsqueeze at 13). */
static const xcnn_attr_spec shape_attrs[] = {{"end", XCNN_ATTR_INT, 0, NULL},
                                             {"start", XCNN_ATTR_INT, 0, NULL},
                                             {NULL, 0, 0, NULL}};
static const xcnn_attr_spec axis_attrs[] = {{"axis", XCNN_ATTR_INT, 0, NULL},
                                            {NULL, 0, 0, NULL}};
static const xcnn_attr_spec axes_attrs[] = {{"axes", XCNN_ATTR_INTS, 12, NULL},
                                            {NULL, 0, 0, NULL}};
static const xcnn_attr_spec cast_attrs[] = {{"to", XCNN_ATTR_INT, 0, NULL},
                                            {NULL, 0, 0, NULL}};
static const xcnn_attr_spec slice_attrs[] = {{"axes", XCNN_ATTR_INTS, 9, NULL},
                                             {"ends", XCNN_ATTR_INTS, 9, NULL},
                                             {"starts", XCNN_ATTR_INTS, 9, NULL},
                                             {NULL, 0, 0, NULL}};
static const xcnn_attr_spec value_attrs[] = {{"value", XCNN_ATTR_TENSOR, 0, NULL},
                                             {NULL, 0, 0, NULL}};
static const xcnn_attr_spec perm_attrs[] = {{"perm", XCNN_ATTR_INTS, 0, NULL},
                                            {NULL, 0, 0, NULL}};
static const xcnn_attr_spec no_attrs[] = {{NULL, 0, 0, NULL}};

/* attrs NULL: an op the registry (ops/) runs too; its table is there. */
static const struct {
    const char *op;
    fold_fn fn;
    const xcnn_attr_spec *attrs;
} folders[] = {
    {"Shape", fold_shape, shape_attrs},
    {"Identity", fold_identity, NULL},
    {"Gather", fold_gather, axis_attrs},
    {"Unsqueeze", fold_unsqueeze, axes_attrs},
    {"Squeeze", fold_squeeze, axes_attrs},
    {"Concat", fold_concat, NULL},
    {"Cast", fold_cast, cast_attrs},
    {"Slice", fold_slice, slice_attrs},
    {"ConstantOfShape", fold_constant_of_shape, value_attrs},
    {"Reshape", fold_reshape, NULL},
    {"Add", fold_elementwise, NULL},
    {"Sub", fold_elementwise, NULL},
    {"Mul", fold_elementwise, NULL},
    {"Div", fold_elementwise, NULL},
    {"Equal", fold_elementwise, no_attrs},
    {"Where", fold_where, no_attrs},
    {"Expand", fold_expand, no_attrs},
    {"Range", fold_range, no_attrs},
    {"Transpose", fold_transpose, perm_attrs},
};

const xcnn_attr_spec *xcnn_fold_attrs(const char *op_type)
{
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++)
        if (!strcmp(op_type, folders[i].op)) return folders[i].attrs;
    return NULL;
}

xcnn_status xcnn_fold_node(xcnn_graph *g, xcnn_node *n, int *folded, xcnn_err *err)
{
    *folded = 0;
    fold_fn fn = NULL;
    for (size_t i = 0; i < sizeof folders / sizeof folders[0] && !fn; i++)
        if (!strcmp(n->op_type, folders[i].op)) fn = folders[i].fn;
    if (!fn || n->n_out < 1) return XCNN_OK;
    if (fn == fold_shape) {
        /* Only the shape of the input is needed, not its values. */
        const xcnn_tensor *x = xcnn_in(g, n, 0);
        if (!x || x->ndim < 0) return XCNN_OK;
    } else {
        int any = 0;
        for (int i = 0; i < n->n_in; i++) {
            const xcnn_tensor *t = xcnn_in(g, n, i);
            if (t && t->kind != XCNN_T_CONST) return XCNN_OK;
            any |= t != NULL;
        }
        if (!any) return XCNN_OK;
    }
    xcnn_status st = fn(g, n, err);
    if (st) return st;
    n->folded = 1;
    *folded = 1;
    return XCNN_OK;
}
