/*
 * Elementwise Add, Sub, Mul, Div with numpy broadcasting.
 *
 *   y = a + b    da = g          db = g
 *   y = a - b    da = g          db = -g
 *   y = a * b    da = g * b      db = g * a
 *   y = a / b    da = g / b      db = -g * a / b^2
 *
 * Broadcasting: shapes are aligned on the right; a dim of 1 stretches to
 * the other operand's. An operand's gradient is summed over the dims it was
 * stretched along (an SE gate [N,C,1,1] sums over H and W; a bias [C,1,1]
 * over N, H and W).
 *
 * The batch: an activation operand always has dim 0 = batch, so it must
 * have the output's full rank (else the batch would land on another dim),
 * and a constant of full rank must have dim 0 == 1.
 *
 * How the loops work: the output index space is described once per call
 * (a "view": dims plus each tensor's stride along each dim, 0 where it is
 * broadcast), with size-1 dims dropped and neighbouring dims merged when
 * every tensor is contiguous across them. Forward and the gradient of a
 * full-shape operand walk it as rows (in pieces, with a vectorisable loop
 * when the row is contiguous); the gradient of a broadcast operand
 * is computed per operand element, each summing its own terms in a fixed
 * order, so the result never depends on the thread count.
 *
 * The reference (bin_reference) is the plain reading of the above: walk
 * the output element by element, find each operand's element by its
 * index (0 along the dims it is stretched), apply the formula, and add
 * each gradient term into that element. Forward and full-shape gradients
 * must give its bits; a broadcast operand's gradient, summed in double
 * (xcnn_acc, base/config.h) by the fast path, equals it to rounding.
 * g->reference (make REFERENCE=1) runs the reference.
 */
#include <stdlib.h>
#include "ops.h"
#include "../base/config.h"
#include "../base/cpu.h"

typedef enum bin_op { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_op;

typedef struct bin_params {
    bin_op op;
} bin_params;

/* Output index space; s[0] is the output's stride, s[1] a's, s[2] b's.
 * All index arithmetic is in size_t: on a 32-bit core a division of
 * int64_t is a library call (__aeabi_ldivmod). */
typedef struct bin_view {
    int rank;
    size_t dim[XCNN_MAX_DIMS];
    size_t s[3][XCNN_MAX_DIMS];
} bin_view;

#define BIN_PARALLEL_MIN XCNN_PARALLEL_MIN

/* Rows are walked in pieces of at most this many elements, so that one
 * long row (same-shape operands make a single row) is still shared out
 * among threads. Every element is computed alone: the bits do not change. */
#define BIN_PIECE 4096

static inline float bin_apply(bin_op op, float a, float b)
{
    switch (op) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    case BIN_DIV: return a / b;
    }
    return 0;
}

/* The gradient term of operand `which` (0 = a, 1 = b) at one output. */
static inline float bin_grad(bin_op op, int which, float g, float a, float b)
{
    switch (op) {
    case BIN_ADD: return g;
    case BIN_SUB: return which == 0 ? g : -g;
    case BIN_MUL: return which == 0 ? g * b : g * a;
    case BIN_DIV: return which == 0 ? g / b : -g * a / (b * b);
    }
    return 0;
}

/* dims of t, left-padded with 1s to `rank`; an activation's dim 0 is the
 * run-time batch. */
static void padded_dims(const xcnn_tensor *t, int rank, int batch, size_t *d)
{
    int lead = rank - t->ndim;
    for (int i = 0; i < rank; i++) d[i] = i < lead ? 1 : t->dims[i - lead];
    if (t->kind != XCNN_T_CONST && t->ndim > 0) d[lead] = batch;
}

/* Strides of a contiguous tensor of dims d, 0 along its size-1 dims. */
static void bcast_strides(const size_t *d, int rank, size_t *s)
{
    size_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        s[i] = d[i] == 1 ? 0 : stride;
        stride *= d[i];
    }
}

/* ---- the reference: one output element at a time ---- */

/* y = a op b at every output element (dy NULL), or the gradient terms of
 * the operands whose da / db are not NULL (dy given). */
static void bin_reference(xcnn_graph *g, const xcnn_node *n, int batch, const float *dy,
                          float *da, float *db)
{
    bin_op op = ((const bin_params *)n->params)->op;
    const xcnn_tensor *ta = xcnn_in(g, n, 0), *tb = xcnn_in(g, n, 1);
    xcnn_tensor *ty = xcnn_out(g, n, 0);
    int rank = ty->ndim;
    size_t d_y[XCNN_MAX_DIMS], d_a[XCNN_MAX_DIMS], d_b[XCNN_MAX_DIMS], count = 1;
    padded_dims(ty, rank, batch, d_y);
    padded_dims(ta, rank, batch, d_a);
    padded_dims(tb, rank, batch, d_b);
    for (int k = 0; k < rank; k++) count *= d_y[k];
    for (size_t i = 0; i < count; i++) {
        /* i's index along each dim (last dim fastest), and the operands'
         * offsets at that index: a dim of size 1 is read at 0 */
        size_t rest = i, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int k = rank - 1; k >= 0; k--) {
            size_t idx = rest % d_y[k];
            rest /= d_y[k];
            ia += (d_a[k] == 1 ? 0 : idx) * sa;
            ib += (d_b[k] == 1 ? 0 : idx) * sb;
            sa *= d_a[k];
            sb *= d_b[k];
        }
        float a = ta->data[ia], b = tb->data[ib];
        if (!dy) ty->data[i] = bin_apply(op, a, b);
        if (dy && da) da[ia] += bin_grad(op, 0, dy[i], a, b);
        if (dy && db) db[ib] += bin_grad(op, 1, dy[i], a, b);
    }
}

/* ---- the fast path ---- */

static void make_view(const xcnn_graph *g, const xcnn_node *n, int batch, bin_view *v)
{
    const xcnn_tensor *t[3] = {&g->tensors[n->out[0]], &g->tensors[n->in[0]],
                               &g->tensors[n->in[1]]};
    int rank = t[0]->ndim;
    size_t d[3][XCNN_MAX_DIMS], s[3][XCNN_MAX_DIMS];
    for (int k = 0; k < 3; k++) {
        padded_dims(t[k], rank, batch, d[k]);
        bcast_strides(d[k], rank, s[k]);
    }
    /* Drop size-1 output dims; merge dim i into the previous kept one when
     * every tensor steps across the pair as across one dim. */
    v->rank = 0;
    for (int i = 0; i < rank; i++) {
        if (d[0][i] == 1) continue;
        int r = v->rank;
        int merge = r > 0;
        for (int k = 0; k < 3 && merge; k++)
            merge = v->s[k][r - 1] == s[k][i] * d[0][i];
        if (merge) {
            v->dim[r - 1] *= d[0][i];
            for (int k = 0; k < 3; k++) v->s[k][r - 1] = s[k][i];
        } else {
            v->dim[r] = d[0][i];
            for (int k = 0; k < 3; k++) v->s[k][r] = s[k][i];
            v->rank++;
        }
    }
    if (v->rank == 0) { /* a single element */
        v->rank = 1;
        v->dim[0] = 1;
        for (int k = 0; k < 3; k++) v->s[k][0] = 0;
    }
}

/* Offsets of the three tensors at row `row` (all dims but the last). */
static void row_offsets(const bin_view *v, size_t row, size_t off[3])
{
    off[0] = off[1] = off[2] = 0;
    for (int i = v->rank - 2; i >= 0; i--) {
        size_t idx = row % v->dim[i];
        row /= v->dim[i];
        for (int k = 0; k < 3; k++) off[k] += idx * v->s[k][i];
    }
}

/* One row of the forward: y[j * sy] = a[j * sa] op b[j * sb]. y may be a
 * or b (in_place: no restrict on them). When all
 * three are contiguous along the row (same-shape operands: their view is
 * one long row) or b is one value for the row (a per-channel scale), the
 * op is switched on once, outside a loop the compiler can vectorise. */
XCNN_VECTOR_CLONES /* AVX2 and AVX-512 copies of the same C: the same bits (base/cpu.h) */
static void forward_row(bin_op op, const float *a, size_t sa, const float *b, size_t sb,
                        float *y, size_t sy, size_t len)
{
    if (sy == 1 && sa == 1 && sb == 1) {
        switch (op) {
        case BIN_ADD:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_ADD, a[j], b[j]);
            return;
        case BIN_SUB:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_SUB, a[j], b[j]);
            return;
        case BIN_MUL:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_MUL, a[j], b[j]);
            return;
        case BIN_DIV:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_DIV, a[j], b[j]);
            return;
        }
    }
    if (sy == 1 && sa == 1 && sb == 0) {
        const float b0 = b[0];
        switch (op) {
        case BIN_ADD:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_ADD, a[j], b0);
            return;
        case BIN_SUB:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_SUB, a[j], b0);
            return;
        case BIN_MUL:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_MUL, a[j], b0);
            return;
        case BIN_DIV:
            for (size_t j = 0; j < len; j++) y[j] = bin_apply(BIN_DIV, a[j], b0);
            return;
        }
    }
    for (size_t j = 0; j < len; j++) y[j * sy] = bin_apply(op, a[j * sa], b[j * sb]);
}

/* A Relu that fuse.c folded into this Add (inference-only models: ResNet's
 * y = relu(block + skip)), on one row of the output while it is in cache;
 * NaN gives 0, as the Relu op. */
XCNN_VECTOR_CLONES
static void relu_row(float *y, size_t sy, size_t len)
{
    if (sy == 1) {
        for (size_t j = 0; j < len; j++) y[j] = y[j] > 0 ? y[j] : 0.0f;
        return;
    }
    for (size_t j = 0; j < len; j++) y[j * sy] = y[j * sy] > 0 ? y[j * sy] : 0.0f;
}

/* One row (or a piece of one) of the forward, then the fused Relu. */
static void forward_piece(const xcnn_node *n, bin_op op, const float *a, size_t sa,
                          const float *b, size_t sb, float *y, size_t sy, size_t len)
{
    forward_row(op, a, sa, b, sb, y, sy, len);
    if (n->fused_relu) relu_row(y, sy, len);
}

static void bin_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    if (g->reference) {
        bin_reference(g, n, batch, NULL, NULL, NULL);
        if (n->fused_relu) {
            float *y = xcnn_out(g, n, 0)->data;
            size_t count = xcnn_tensor_sample_numel(xcnn_out(g, n, 0)) * (size_t)batch;
            for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : 0.0f;
        }
        return;
    }
    bin_op op = ((const bin_params *)n->params)->op;
    bin_view v;
    make_view(g, n, batch, &v);
    float *y = xcnn_out(g, n, 0)->data;
    const float *a = xcnn_in(g, n, 0)->data, *b = xcnn_in(g, n, 1)->data;
    size_t len = v.dim[v.rank - 1], rows = 1;
    for (int i = 0; i < v.rank - 1; i++) rows *= v.dim[i];
    size_t sy = v.s[0][v.rank - 1], sa = v.s[1][v.rank - 1], sb = v.s[2][v.rank - 1];
    size_t pieces = (len + BIN_PIECE - 1) / BIN_PIECE;
    if (!xcnn_fork_worth(rows * len > BIN_PARALLEL_MIN)) {
        for (size_t r = 0; r < rows; r++) {
            size_t off[3];
            row_offsets(&v, r, off);
            forward_piece(n, op, a + off[1], sa, b + off[2], sb, y + off[0], sy, len);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < rows * pieces; t++) {
        size_t off[3], j0 = t % pieces * BIN_PIECE;
        size_t n_j = len - j0 < BIN_PIECE ? len - j0 : BIN_PIECE;
        row_offsets(&v, t / pieces, off);
        forward_piece(n, op, a + off[1] + j0 * sa, sa, b + off[2] + j0 * sb, sb,
                      y + off[0] + j0 * sy, sy, n_j);
    }
}

/* One row of grad_full: dx[j * sy] += the term of output j. Contiguous
 * rows (the usual case) get a loop per op, as in forward_row. */
static void grad_row(bin_op op, int which, const float *restrict gy, const float *restrict a,
                     size_t sa, const float *restrict b, size_t sb, float *restrict dx,
                     size_t sy, size_t len)
{
    if (sy == 1 && sa == 1 && sb == 1) {
        switch (op) {
        case BIN_ADD:
            for (size_t j = 0; j < len; j++)
                dx[j] += bin_grad(BIN_ADD, which, gy[j], a[j], b[j]);
            return;
        case BIN_SUB:
            for (size_t j = 0; j < len; j++)
                dx[j] += bin_grad(BIN_SUB, which, gy[j], a[j], b[j]);
            return;
        case BIN_MUL:
            for (size_t j = 0; j < len; j++)
                dx[j] += bin_grad(BIN_MUL, which, gy[j], a[j], b[j]);
            return;
        case BIN_DIV:
            for (size_t j = 0; j < len; j++)
                dx[j] += bin_grad(BIN_DIV, which, gy[j], a[j], b[j]);
            return;
        }
    }
    for (size_t j = 0; j < len; j++)
        dx[j * sy] += bin_grad(op, which, gy[j * sy], a[j * sa], b[j * sb]);
}

/* Gradient of an operand with the output's shape: one term per element. */
static void grad_full(const bin_view *v, bin_op op, int which, const float *gy,
                      const float *a, const float *b, float *dx)
{
    size_t len = v->dim[v->rank - 1], rows = 1;
    for (int i = 0; i < v->rank - 1; i++) rows *= v->dim[i];
    size_t sy = v->s[0][v->rank - 1], sa = v->s[1][v->rank - 1], sb = v->s[2][v->rank - 1];
    size_t pieces = (len + BIN_PIECE - 1) / BIN_PIECE;
    if (!xcnn_fork_worth(rows * len > BIN_PARALLEL_MIN)) {
        for (size_t r = 0; r < rows; r++) {
            size_t off[3];
            row_offsets(v, r, off);
            grad_row(op, which, gy + off[0], a + off[1], sa, b + off[2], sb, dx + off[0], sy,
                     len);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < rows * pieces; t++) {
        size_t off[3], j0 = t % pieces * BIN_PIECE;
        size_t n_j = len - j0 < BIN_PIECE ? len - j0 : BIN_PIECE;
        row_offsets(v, t / pieces, off);
        grad_row(op, which, gy + off[0] + j0 * sy, a + off[1] + j0 * sa, sa,
                 b + off[2] + j0 * sb, sb, dx + off[0] + j0 * sy, sy, n_j);
    }
}

/* Gradient of a broadcast operand x (tensor 1 + which in the view): split
 * the dims into kept (x varies along them) and summed (x is stretched).
 * Each element of x sums its terms over the summed dims, serially. */
static void grad_reduce(const bin_view *v, bin_op op, int which, const float *gy,
                        const float *a, const float *b, float *dx)
{
    int x = 1 + which;
    int kept[XCNN_MAX_DIMS], sum[XCNN_MAX_DIMS], nk = 0, ns = 0;
    size_t x_count = 1, sum_count = 1;
    for (int i = 0; i < v->rank; i++) {
        if (v->s[x][i] != 0) { kept[nk++] = i; x_count *= v->dim[i]; }
        else { sum[ns++] = i; sum_count *= v->dim[i]; }
    }
    /* The last summed dim is the inner loop. */
    int last = sum[ns - 1];
    size_t len = v->dim[last], outer = sum_count / len;
    size_t sy = v->s[0][last], sa = v->s[1][last], sb = v->s[2][last];
#pragma omp parallel for schedule(static) if (x_count * sum_count > BIN_PARALLEL_MIN)
    for (size_t e = 0; e < x_count; e++) {
        /* x is contiguous along its kept dims: e is its own offset. */
        size_t base[3] = {0, 0, 0}, rest = e;
        for (int k = nk - 1; k >= 0; k--) {
            size_t idx = rest % v->dim[kept[k]];
            rest /= v->dim[kept[k]];
            for (int t = 0; t < 3; t++) base[t] += idx * v->s[t][kept[k]];
        }
        xcnn_sum acc = XCNN_SUM_ZERO;
        for (size_t o = 0; o < outer; o++) {
            size_t off[3] = {base[0], base[1], base[2]}, r = o;
            for (int k = ns - 2; k >= 0; k--) {
                size_t idx = r % v->dim[sum[k]];
                r /= v->dim[sum[k]];
                for (int t = 0; t < 3; t++) off[t] += idx * v->s[t][sum[k]];
            }
            for (size_t j = 0; j < len; j++)
                xcnn_sum_add(&acc, bin_grad(op, which, gy[off[0] + j * sy], a[off[1] + j * sa],
                                            b[off[2] + j * sb]));
        }
        dx[e] += (float)xcnn_sum_get(&acc);
    }
}

static void bin_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                         const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    if (g->reference) {
        bin_reference(g, n, batch, xcnn_out(g, n, 0)->grad, xcnn_tensor_grad(xcnn_in(g, n, 0)),
                      xcnn_tensor_grad(xcnn_in(g, n, 1)));
        return;
    }
    bin_op op = ((const bin_params *)n->params)->op;
    bin_view v;
    make_view(g, n, batch, &v);
    const xcnn_tensor *y = xcnn_out(g, n, 0);
    const float *a = xcnn_in(g, n, 0)->data, *b = xcnn_in(g, n, 1)->data;
    for (int which = 0; which < 2; which++) {
        float *dx = xcnn_tensor_grad(xcnn_in(g, n, which));
        if (!dx) continue;
        int broadcast = 0;
        for (int i = 0; i < v.rank; i++)
            if (v.s[1 + which][i] == 0 && v.dim[i] > 1) broadcast = 1;
        if (broadcast) grad_reduce(&v, op, which, y->grad, a, b, dx);
        else grad_full(&v, op, which, y->grad, a, b, dx);
    }
}

/* ---- setup ---- */

static xcnn_status bin_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err, bin_op op)
{
    if (n->n_in != 2 || n->n_out != 1 || !xcnn_in(g, n, 0) || !xcnn_in(g, n, 1))
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "node '%s' (%s): expected 2 inputs and 1 output, got %d and %d",
                         n->name, n->op_type, n->n_in, n->n_out);
    const xcnn_tensor *t[2] = {xcnn_in(g, n, 0), xcnn_in(g, n, 1)};
    int rank = 0, n_act = 0;
    for (int k = 0; k < 2; k++) {
        if (t[k]->dtype != XCNN_DT_FLOAT || (t[k]->kind == XCNN_T_CONST && !t[k]->data))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (%s): input '%s' is not a float tensor", n->name,
                             n->op_type, t[k]->name);
        if (t[k]->ndim > rank) rank = t[k]->ndim;
        n_act += t[k]->kind != XCNN_T_CONST;
    }
    if (n_act == 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): both inputs are constants", n->name, n->op_type);
    char sa[96], sb[96];
    int64_t out[XCNN_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        int64_t da = i < rank - t[0]->ndim ? 1 : t[0]->dims[i - (rank - t[0]->ndim)];
        int64_t db = i < rank - t[1]->ndim ? 1 : t[1]->dims[i - (rank - t[1]->ndim)];
        if (da != db && da != 1 && db != 1)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): shapes %s and %s do not broadcast", n->name,
                             n->op_type, xcnn_shape_str(t[0], sa, sizeof sa),
                             xcnn_shape_str(t[1], sb, sizeof sb));
        out[i] = da == 1 ? db : da;
    }
    for (int k = 0; k < 2; k++) {
        if (t[k]->kind != XCNN_T_CONST && t[k]->ndim != rank)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): activation '%s' (%s) has fewer dims than the "
                             "result: its batch dimension would move", n->name, n->op_type,
                             t[k]->name, xcnn_shape_str(t[k], sa, sizeof sa));
        if (t[k]->kind == XCNN_T_CONST && t[k]->ndim == rank && t[k]->dims[0] != 1)
            return xcnn_fail(err, XCNN_ERR_SHAPE,
                             "node '%s' (%s): constant '%s' (%s) has a dim 0 of %lld where "
                             "the batch is: it must be 1", n->name, n->op_type, t[k]->name,
                             xcnn_shape_str(t[k], sa, sizeof sa), (long long)t[k]->dims[0]);
    }
    xcnn_tensor *y = xcnn_out(g, n, 0);
    xcnn_status st = xcnn_tensor_set_shape(y, rank, out, err);
    if (st) return st;
    bin_params *p = xcnn_node_calloc(n, 1, sizeof *p);
    if (!p)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    p->op = op;
    xcnn_node_free_mem(n, n->params);
    n->params = p;
    n->n_params = 0;
    for (int k = 0; k < 2; k++)
        if (t[k]->kind == XCNN_T_CONST) n->n_params += (int64_t)xcnn_tensor_numel(t[k]);
    n->flops = (double)xcnn_tensor_numel(y);
    n->scratch_floats = 0;
    return XCNN_OK;
}

static xcnn_status add_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return bin_setup(g, n, err, BIN_ADD);
}
static xcnn_status sub_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return bin_setup(g, n, err, BIN_SUB);
}
static xcnn_status mul_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return bin_setup(g, n, err, BIN_MUL);
}
static xcnn_status div_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    return bin_setup(g, n, err, BIN_DIV);
}

/* No attributes from opset 7 on (broadcast and axis were opset 6's). */
const xcnn_op_def xcnn_op_add = {"Add", add_setup, bin_forward, bin_backward, NULL, 3};
const xcnn_op_def xcnn_op_sub = {"Sub", sub_setup, bin_forward, bin_backward, NULL, 3};
const xcnn_op_def xcnn_op_mul = {"Mul", mul_setup, bin_forward, bin_backward, NULL, 3};
const xcnn_op_def xcnn_op_div = {"Div", div_setup, bin_forward, bin_backward, NULL, 3};
