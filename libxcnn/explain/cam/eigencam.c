/*
 * Eigen-CAM (Muhammad & Yeasin 2020; pytorch-grad-cam's EigenCAM,
 * METHODS.md). With A the layer's output (1 x K x h x w), seen as the
 * (h w) x K matrix M whose rows are pixels:
 *   M_c = M with each channel's mean over the pixels subtracted
 *   p   = M_c v1, v1 the first right singular vector (p = s1 u1)
 *   p  := -p unless max(p) >= abs(min(p))       (the SVD's sign is free)
 *   cam = relu(p)
 * No gradient, no target needed (it is still resolved and reported).
 *
 * The SVD through the smaller Gram matrix, n = min(K, h w):
 *   K <= h w:  M_c^T M_c (K x K), top eigenvector v1, p = M_c v1
 *   h w < K:   M_c M_c^T (h w x h w), top eigenpair (l1, u1), p = sqrt(l1) u1
 * (ResNet-18's layer4: 7 x 7 x 512, a 49 x 49 matrix.) Eigenpairs by cyclic
 * Jacobi rotations in double: slow past n of a few hundred (n^3 per
 * sweep, ~10 sweeps), but robust and exact to rounding whatever the
 * spectrum. The largest eigenvalue's vector is taken (the first on a
 * tie, where the reference's is as arbitrary).
 *
 * Workspace, in doubles: the Gram matrix and the rotations (n x n each)
 * and the channel means (K), placed in ex_layer_acc, ex_acc, ex_acc2
 * wherever they fit. n^2 <= K h w, so the Gram always fits; a model
 * whose workspace cannot hold all three is refused by the check.
 */
#include <math.h>
#include <string.h>
#include "cam_family.h"
#include "../../base/format.h"

#define EIG_MAX_SWEEPS 60

typedef struct eig_room {
    double *gram, *vec, *mean;
} eig_room;

/* Places n doubles in the first of the regions with room, or NULL. */
static double *take(double **at, size_t *left, int regions, size_t n)
{
    for (int i = 0; i < regions; i++)
        if (at[i] && left[i] >= n) {
            double *p = at[i];
            at[i] += n;
            left[i] -= n;
            return p;
        }
    return NULL;
}

static int plan(const xcnn_model *m, int K, size_t hw, eig_room *r)
{
    size_t n = (size_t)K < hw ? (size_t)K : hw, in_n = xcnn_ex_input_numel(m);
    double *at[3] = {m->ex_layer_acc, m->ex_acc, m->ex_acc2};
    size_t left[3] = {m->ex_layer_floats, in_n, in_n};
    r->gram = take(at, left, 3, n * n);
    r->vec = take(at, left, 3, n * n);
    r->mean = take(at, left, 3, (size_t)K);
    return r->gram && r->vec && r->mean;
}

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, turned
 * into the diagonal of its eigenvalues) by cyclic Jacobi rotations; v
 * gets the eigenvectors as columns. */
static void jacobi(double *a, double *v, int n)
{
    double norm = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            v[(size_t)i * n + j] = i == j;
            norm += a[(size_t)i * n + j] * a[(size_t)i * n + j];
        }
    for (int sweep = 0; sweep < EIG_MAX_SWEEPS; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[(size_t)p * n + q] * a[(size_t)p * n + q];
        /* off-diagonal mass at double rounding of the whole: converged */
        if (!(off > 1e-30 * norm)) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[(size_t)p * n + q];
                if (apq == 0) continue;
                double app = a[(size_t)p * n + p], aqq = a[(size_t)q * n + q];
                /* the rotation that zeroes a[p][q]: t = tan(phi), the
                 * smaller root of t^2 + 2 theta t - 1 = 0 */
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int r = 0; r < n; r++) { /* a J: columns p, q */
                    double arp = a[(size_t)r * n + p], arq = a[(size_t)r * n + q];
                    a[(size_t)r * n + p] = c * arp - s * arq;
                    a[(size_t)r * n + q] = s * arp + c * arq;
                }
                for (int r = 0; r < n; r++) { /* J^T (a J): rows p, q */
                    double apr = a[(size_t)p * n + r], aqr = a[(size_t)q * n + r];
                    a[(size_t)p * n + r] = c * apr - s * aqr;
                    a[(size_t)q * n + r] = s * apr + c * aqr;
                }
                for (int r = 0; r < n; r++) { /* v J */
                    double vrp = v[(size_t)r * n + p], vrq = v[(size_t)r * n + q];
                    v[(size_t)r * n + p] = c * vrp - s * vrq;
                    v[(size_t)r * n + q] = s * vrp + c * vrq;
                }
            }
    }
}

static xcnn_status eigencam_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                  xcnn_err *err)
{
    (void)x;
    int t;
    xcnn_status st = xcnn_ex_family_check(m, o, "eigencam", 0, &t, err);
    if (st) return st;
    const xcnn_tensor *lt = &m->g->tensors[t];
    eig_room r;
    int K = (int)lt->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]), n = (size_t)K < hw ? (size_t)K : hw;
    if (!plan(m, K, hw, &r))
        return xcnn_fail(err, XCNN_ERR_LIMIT, "eigencam: layer '%s' (%d channels, %zu pixels) "
                         "needs %zu doubles of workspace for its SVD, more than the model's "
                         "explainer workspace holds in one piece; pick a layer with fewer "
                         "channels or pixels", lt->name, K, hw, 2 * n * n + (size_t)K);
    return XCNN_OK;
}

static xcnn_status eigencam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                float *out, xcnn_explain_result *res, xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    const xcnn_tensor *lt = &m->g->tensors[t];
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    st = xcnn_ex_forward_values(m, x, o, t, res, err);
    if (st) return st;

    int K = (int)lt->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]);
    eig_room r;
    if (!plan(m, K, hw, &r)) /* the check refused this already */
        return xcnn_fail(err, XCNN_ERR_LIMIT, "eigencam: no workspace for layer '%s'", lt->name);
    const float *A = lt->data;
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (size_t i = 0; i < hw; i++) s += A[(size_t)k * hw + i];
        r.mean[k] = s / (double)hw;
    }
    /* M_c[i][k] = A[k][i] - mean[k] */
#define MC(i, k) ((double)A[(size_t)(k) * hw + (i)] - r.mean[k])
    int channels_side = (size_t)K <= hw;
    int n = channels_side ? K : (int)hw;
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 0;
            if (channels_side)
                for (size_t q = 0; q < hw; q++) s += MC(q, i) * MC(q, j);
            else
                for (int k = 0; k < K; k++) s += MC((size_t)i, k) * MC((size_t)j, k);
            r.gram[(size_t)i * n + j] = r.gram[(size_t)j * n + i] = s;
        }
    jacobi(r.gram, r.vec, n);
    int top = 0;
    for (int i = 1; i < n; i++)
        if (r.gram[(size_t)i * n + i] > r.gram[(size_t)top * n + top]) top = i;
    double l1 = r.gram[(size_t)top * n + top], scale = sqrt(l1 > 0 ? l1 : 0);

    float *map = xcnn_ex_family_map(m, o, out);
    double lo = 0, hi = 0;
    for (size_t i = 0; i < hw; i++) {
        double p = 0;
        if (channels_side)
            for (int k = 0; k < K; k++) p += MC(i, k) * r.vec[(size_t)k * n + top];
        else
            p = scale * r.vec[i * (size_t)n + top];
#undef MC
        if (i == 0 || p < lo) lo = p;
        if (i == 0 || p > hi) hi = p;
        map[i] = (float)p;
    }
    int flip = !(hi >= fabs(lo));
    for (size_t i = 0; i < hw; i++) {
        float p = flip ? -map[i] : map[i];
        map[i] = p > 0 ? p : 0.0f;
    }
    return xcnn_ex_family_finish(m, "eigencam", lt, map, o, out, err);
}

const xcnn_ex_method xcnn_ex_eigencam = {"eigencam", eigencam_check, xcnn_ex_family_shape,
                                         eigencam_run};
