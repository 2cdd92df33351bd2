/*
 * Fully connected layers, on xcnn_sgemm.
 *
 *   Gemm    Y = alpha * A op(B) + beta * C    A [N,K] activation, op(B) [K,M]
 *           dA = alpha * G op(B)^T           (G = dL/dY, [N,M])
 *           dop(B) = alpha * A^T G           (summed over the batch by the product)
 *           dC = beta * G summed over the dims C was broadcast along
 *   MatMul  Y = A B                          A [N,...,K] activation, B [K,M] constant
 *           dA = G B^T,  dB = A^T G          (all leading dims act as rows: ConvNeXt's
 *                                            [N,H,W,C] x [C,4C] channels-last)
 *           B may be [1,...,1,K,M] (broadcast over A's leading dims, as ONNX
 *           MatMul defines) or a vector [K] (read as [K,1]; Y drops its last dim)
 *
 * A is the activation (its rows are the batch), B and C are constants:
 * this is how torch.onnx exports nn.Linear. transA would move the batch
 * into the columns and is refused.
 *
 * The reference (mm_reference_forward / _backward) is these formulas as
 * loops, each output one sum in double (xcnn_acc). The fast path, xcnn_sgemm (or
 * one dot product per output for a classifier at batch 1), must equal it
 * to rounding; g->reference (make REFERENCE=1) runs the reference.
 */
#include <stdlib.h>
#include "../base/cpu.h"
#include "../kernels/gemm.h"
#include "ops.h"
#include "../base/config.h"

typedef struct mm_params {
    int64_t K, M;     /* A is rows x K, Y is rows x M                   */
    int trans_b;      /* B stored [M,K] (Gemm transB=1) instead of [K,M] */
    float alpha, beta;
    int c_cols;       /* C: 0 absent, 1 one value, M one value per column */
} mm_params;

/* Rows of A (and Y) at this batch: every dim but the last. */
static int64_t mm_rows(const xcnn_tensor *a, int batch, int64_t K)
{
    return (int64_t)(xcnn_tensor_sample_numel(a) * (size_t)batch) / K;
}

/* ---- the reference: the formulas above as loops ---- */

/* op(B)[k, j]: B is stored [K, M], or [M, K] when transposed. */
static float op_b(const mm_params *p, const float *b, int64_t k, int64_t j)
{
    return p->trans_b ? b[j * p->K + k] : b[k * p->M + j];
}

static void mm_reference_forward(const mm_params *p, int64_t rows, const float *a,
                                 const float *b, const float *c, float *y)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < p->M; j++) {
            xcnn_sum sum = XCNN_SUM_ZERO;
            for (int64_t k = 0; k < p->K; k++)
                xcnn_sum_add(&sum, (xcnn_acc)a[i * p->K + k] * op_b(p, b, k, j));
            xcnn_acc cj = p->c_cols ? c[p->c_cols == 1 ? 0 : j] : 0; /* C broadcast */
            y[i * p->M + j] = (float)(p->alpha * xcnn_sum_get(&sum) + p->beta * cj);
        }
}

/* Adds into dA, dB (in B's layout) and dC, each skipped when NULL. */
static void mm_reference_backward(const mm_params *p, int64_t rows, const float *a,
                                  const float *b, const float *gy, float *da, float *db,
                                  float *dc)
{
    int64_t K = p->K, M = p->M;
    if (da)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t k = 0; k < K; k++) {
                xcnn_sum sum = XCNN_SUM_ZERO;
                for (int64_t j = 0; j < M; j++)
                    xcnn_sum_add(&sum, (xcnn_acc)gy[i * M + j] * op_b(p, b, k, j));
                da[i * K + k] += (float)(p->alpha * xcnn_sum_get(&sum));
            }
    if (db)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < M; j++) {
                xcnn_sum sum = XCNN_SUM_ZERO;
                for (int64_t i = 0; i < rows; i++)
                    xcnn_sum_add(&sum, (xcnn_acc)a[i * K + k] * gy[i * M + j]);
                db[p->trans_b ? j * K + k : k * M + j] += (float)(p->alpha * xcnn_sum_get(&sum));
            }
    /* C[e] was added (times beta) to every Y[i, j] it was broadcast to. */
    if (dc)
        for (int64_t e = 0; e < p->c_cols; e++) {
            xcnn_sum sum = XCNN_SUM_ZERO;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < M; j++)
                    if (p->c_cols == 1 || j == e) xcnn_sum_add(&sum, gy[i * M + j]);
            dc[e] += (float)(p->beta * xcnn_sum_get(&sum));
        }
}

/* ---- the fast path ---- */

/* Lanes of the dot products below: independent partial sums the
 * compiler can keep in one vector register, added in a fixed order. */
enum { DOT_LANES = 16 };

XCNN_VECTOR_CLONES
static float dot(const float *x, const float *w, int64_t K)
{
    float part[DOT_LANES] = {0};
    int64_t k = 0;
    for (; k + DOT_LANES <= K; k += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) part[l] += x[k + l] * w[k + l];
    for (int l = 0; k < K; k++, l++) part[l] += x[k] * w[k];
    float s = 0.0f;
    for (int l = 0; l < DOT_LANES; l++) s += part[l];
    return s;
}

/* Y += alpha * A B^T for a few rows (a classifier at batch 1): one dot
 * product of contiguous rows per output. As a GEMM this is one row times
 * a transposed B, and packing B (1000 x 512 for ResNet's fc) costs more
 * than the multiply. */
static void rows_times_bt(const mm_params *p, int64_t rows, const float *a, const float *b,
                          float *y)
{
    int64_t M = p->M, K = p->K;
    if (!xcnn_fork_worth(rows * M * K > 4 * XCNN_PARALLEL_MIN)) {
        for (int64_t j = 0; j < M; j++)
            for (int64_t i = 0; i < rows; i++)
                y[i * M + j] += p->alpha * dot(a + i * K, b + j * K, K);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < M; j++)
        for (int64_t i = 0; i < rows; i++)
            y[i * M + j] += p->alpha * dot(a + i * K, b + j * K, K);
}

static void mm_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    (void)scratch;
    const mm_params *p = n->params;
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1), *c = xcnn_in(g, n, 2);
    float *y = xcnn_out(g, n, 0)->data;
    int64_t rows = mm_rows(a, batch, p->K);
    if (g->reference) {
        mm_reference_forward(p, rows, a->data, b->data, c ? c->data : NULL, y);
        return;
    }
    float beta = 0.0f;
    if (p->c_cols) {
        /* Y starts as beta * C broadcast over the rows; the product adds to it. */
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < p->M; j++)
                y[i * p->M + j] = p->beta * c->data[p->c_cols == 1 ? 0 : j];
        beta = 1.0f;
    }
    /* The path is chosen from one sample's rows, not the batch's: a
     * sample's outputs then have the same bits in a batch of 1 or 100
     * (occlusion, RISE and Score-CAM batch their forwards and promise
     * results that do not depend on the batch). Training, whose batches
     * are big and never compared bit for bit, takes the GEMM. */
    if (p->trans_b && !g->training && mm_rows(a, 1, p->K) <= 4) {
        if (!p->c_cols)
            for (int64_t i = 0; i < rows * p->M; i++) y[i] = 0.0f;
        rows_times_bt(p, rows, a->data, b->data, y);
        return;
    }
    xcnn_sgemm(0, p->trans_b, (int)rows, (int)p->M, (int)p->K, p->alpha, a->data,
               (int)p->K, b->data, p->trans_b ? (int)p->K : (int)p->M, beta, y, (int)p->M);
}

static void mm_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const mm_params *p = n->params;
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1), *c = xcnn_in(g, n, 2);
    const float *gy = xcnn_out(g, n, 0)->grad;
    int rows = (int)mm_rows(a, batch, p->K), K = (int)p->K, M = (int)p->M;
    float *da = xcnn_tensor_grad(a), *db = xcnn_tensor_grad(b), *dc = xcnn_tensor_grad(c);
    if (g->reference) {
        mm_reference_backward(p, rows, a->data, b->data, gy, da, db, dc);
        return;
    }

    /* dA [rows,K] += alpha * G [rows,M] op(B)^T; op(B)^T is B^T, or B itself if transB. */
    if (da)
        xcnn_sgemm(0, !p->trans_b, rows, K, M, p->alpha, gy, M, b->data,
                   p->trans_b ? K : M, 1.0f, da, K);
    /* dB += alpha * A^T G ([K,M]), or alpha * G^T A ([M,K]) when B is stored transposed. */
    if (db) {
        if (p->trans_b) xcnn_sgemm(1, 0, M, K, rows, p->alpha, gy, M, a->data, K, 1.0f, db, K);
        else xcnn_sgemm(1, 0, K, M, rows, p->alpha, a->data, K, gy, M, 1.0f, db, M);
    }
    /* dC: column sums of G (or the total), each summed serially over rows. */
    if (dc && p->c_cols) {
        if (p->c_cols == 1) {
            xcnn_sum s = XCNN_SUM_ZERO;
            for (int64_t i = 0; i < (int64_t)rows * M; i++) xcnn_sum_add(&s, gy[i]);
            dc[0] += p->beta * (float)xcnn_sum_get(&s);
        } else {
#pragma omp parallel for schedule(static) if ((int64_t)rows * M > XCNN_PARALLEL_MIN)
            for (int j = 0; j < M; j++) {
                xcnn_sum s = XCNN_SUM_ZERO;
                for (int i = 0; i < rows; i++) xcnn_sum_add(&s, gy[(size_t)i * M + j]);
                dc[j] += p->beta * (float)xcnn_sum_get(&s);
            }
        }
    }
}

/* ---- setup ---- */

/* Checks shared by Gemm and MatMul: A a float activation, B a 2-D float
 * constant, one output. */
static xcnn_status mm_check_ab(xcnn_graph *g, const xcnn_node *n, int max_in, xcnn_err *err)
{
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1);
    if (!a || !b || n->n_in > max_in || n->n_out != 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "node '%s' (%s): expected 2%s inputs and 1 output, got %d and %d",
                         n->name, n->op_type, max_in > 2 ? " or 3" : "", n->n_in, n->n_out);
    if (a->kind == XCNN_T_CONST || a->dtype != XCNN_DT_FLOAT)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input A '%s' must be the activation (a constant "
                         "times an activation is not supported)", n->name, n->op_type,
                         a->name);
    if (b->kind != XCNN_T_CONST || b->dtype != XCNN_DT_FLOAT || !b->data)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input B '%s' must be a constant float weight "
                         "(a product of two activations is not supported)", n->name,
                         n->op_type, b->name);
    /* MatMul's B may be [K] (a vector: Y loses its last dim) or carry
     * leading 1s ([1, K, M] broadcasts as [K, M]), as ONNX MatMul defines */
    int is_matmul = max_in == 2;
    int ok = b->ndim == 2 || (is_matmul && b->ndim >= 1);
    for (int i = 0; is_matmul && i < b->ndim - 2; i++)
        if (b->dims[i] != 1) ok = 0;
    if (!ok)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): weight '%s' has %d dims, expected 2%s", n->name,
                         n->op_type, b->name, b->ndim,
                         is_matmul ? " (or [K], or leading 1s: a weight per sample or a "
                                     "batched product is not supported)" : "");
    return XCNN_OK;
}

/* drop_last: MatMul by a vector B [K], whose Y has A's dims but the last. */
static xcnn_status mm_finish(xcnn_graph *g, xcnn_node *n, mm_params *p, int64_t c_elems,
                             int drop_last, xcnn_err *err)
{
    const xcnn_tensor *a = xcnn_in(g, n, 0);
    int64_t dims[XCNN_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) dims[i] = a->dims[i];
    dims[a->ndim - 1] = p->M;
    xcnn_status st = xcnn_tensor_set_shape(xcnn_out(g, n, 0), a->ndim - drop_last, dims, err);
    if (st) return st;
    if (p->M < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (%s): the weight has no columns",
                         n->name, n->op_type);
    if (p->K > 0x7fffffff || p->M > 0x7fffffff)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "node '%s' (%s): matrix too large", n->name,
                         n->op_type);
    mm_params *copy = xcnn_node_calloc(n, 1, sizeof *copy);
    if (!copy)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "node '%s' (%s): out of memory", n->name,
                         n->op_type);
    *copy = *p;
    xcnn_node_free_mem(n, n->params);
    n->params = copy;
    int64_t rows = (int64_t)xcnn_tensor_numel(a) / p->K;
    n->n_params = p->K * p->M + c_elems;
    n->flops = 2.0 * (double)rows * (double)p->K * (double)p->M +
               (p->c_cols ? (double)rows * (double)p->M : 0);
    n->scratch_floats = 0;
    return XCNN_OK;
}

static xcnn_status gemm_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = mm_check_ab(g, n, 3, err);
    if (st) return st;
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1), *c = xcnn_in(g, n, 2);
    char s[96];
    if (xcnn_attr_int(n, "transA", 0) != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (Gemm): transA=1 is not supported (the batch would move "
                         "into the columns)", n->name);
    if (a->ndim != 2)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Gemm): input '%s' is %s, expected "
                         "2 dims [batch, K]", n->name, a->name, xcnn_shape_str(a, s, sizeof s));
    mm_params p = {0};
    p.trans_b = xcnn_attr_int(n, "transB", 0) != 0;
    p.alpha = xcnn_attr_float(n, "alpha", 1.0f);
    p.beta = xcnn_attr_float(n, "beta", 1.0f);
    p.K = a->dims[1];
    p.M = p.trans_b ? b->dims[0] : b->dims[1];
    if ((p.trans_b ? b->dims[1] : b->dims[0]) != p.K || p.K < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "node '%s' (Gemm): A has %lld columns but weight '%s' is %s%s",
                         n->name, (long long)p.K, b->name, xcnn_shape_str(b, s, sizeof s),
                         p.trans_b ? " (transB)" : "");
    int64_t c_elems = 0;
    if (c) {
        /* C may be [], [1], [M], [1,1] or [1,M]: constant, broadcast over the rows. */
        int64_t last = c->ndim ? c->dims[c->ndim - 1] : 1;
        int ok = c->kind == XCNN_T_CONST && c->dtype == XCNN_DT_FLOAT && c->data &&
                 c->ndim <= 2 && (c->ndim < 2 || c->dims[0] == 1) &&
                 (last == 1 || last == p.M);
        if (!ok)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (Gemm): C '%s' (%s) must be a constant float "
                             "broadcastable to [batch, %lld] without a batch dim", n->name,
                             c->name, xcnn_shape_str(c, s, sizeof s), (long long)p.M);
        p.c_cols = last == 1 ? 1 : (int)p.M;
        c_elems = (int64_t)xcnn_tensor_numel(c);
    }
    return mm_finish(g, n, &p, c_elems, 0, err);
}

static xcnn_status matmul_setup(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    xcnn_status st = mm_check_ab(g, n, 2, err);
    if (st) return st;
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1);
    char s[96], s2[96];
    if (a->ndim < 2)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (MatMul): input '%s' has shape %s; only [batch, ..., "
                         "K] x [K, M] is supported", n->name, a->name,
                         xcnn_shape_str(a, s, sizeof s));
    if (b->ndim > a->ndim)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (MatMul): weight '%s' (%s) has more dims than input '%s' "
                         "(%s): the product's leading dims, the batch among them, would move",
                         n->name, b->name, xcnn_shape_str(b, s2, sizeof s2), a->name,
                         xcnn_shape_str(a, s, sizeof s));
    mm_params p = {0};
    p.alpha = 1.0f;
    p.K = a->dims[a->ndim - 1];
    int vec = b->ndim == 1; /* B [K] is read as [K, 1] */
    p.M = vec ? 1 : b->dims[b->ndim - 1];
    if (b->dims[vec ? 0 : b->ndim - 2] != p.K || p.K < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (MatMul): shapes %s and %s do not "
                         "multiply", n->name, xcnn_shape_str(a, s, sizeof s),
                         xcnn_shape_str(b, s2, sizeof s2));
    return mm_finish(g, n, &p, 0, vec, err);
}

/* Gemm's attributes from opset 7 on (transA=1 is read and refused);
 * MatMul has none. */
static const xcnn_attr_spec gemm_attrs[] = {
    {"alpha", XCNN_ATTR_FLOAT, 0, NULL}, {"beta", XCNN_ATTR_FLOAT, 0, NULL},
    {"transA", XCNN_ATTR_INT, 0, NULL},  {"transB", XCNN_ATTR_INT, 0, NULL},
    {NULL, 0, 0, NULL}};

const xcnn_op_def xcnn_op_gemm = {"Gemm", gemm_setup, mm_forward, mm_backward, gemm_attrs, 0};
const xcnn_op_def xcnn_op_matmul = {"MatMul", matmul_setup, mm_forward, mm_backward, NULL, 0};
