/*
 * How alike two maps are: the sanity check's two measures (METHODS.md,
 * "Metrics"; Adebayo et al. 2018 report both).
 *
 * Spearman's rho: r_a, r_b the ranks of a and b (1..n; tied values share
 * the mean of the ranks they span, scipy's rankdata "average"), then
 *   rho = sum (r_a - rbar)(r_b - rbar) / sqrt(sum (r_a - rbar)^2 sum (r_b - rbar)^2)
 * with rbar = (n + 1) / 2, in double. A constant array has no order: rho
 * is then 0 (scipy says NaN; we never return one).
 *
 * SSIM (Wang et al. 2004), as skimage's structural_similarity with
 * gaussian_weights=True, sigma 1.5, use_sample_covariance=False,
 * data_range=1: both maps min-max scaled to [0, 1]; G the 11-tap Gaussian
 * g_j = exp(-(j - 5)^2 / 4.5) / sum (skimage's truncate 3.5 gives radius
 * 5), applied along rows and columns; at each position
 *   mu_a = G*a, mu_b = G*b, v_a = G*(a^2) - mu_a^2, v_b = G*(b^2) - mu_b^2,
 *   cov = G*(ab) - mu_a mu_b,
 *   S = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(v_a + v_b + C2)),
 * C1 = 0.01^2, C2 = 0.03^2; the mean of S over the positions 5 or more
 * from every border (skimage crops that border; there the window never
 * leaves the map, so its padding mode does not matter).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"

#define SSIM_TAPS 11
#define SSIM_R 5

static xcnn_status fail(char *err, size_t err_size, xcnn_status st, const char *msg)
{
    if (err && err_size) xcnn_format(err, err_size, "%s", msg);
    return st;
}

static xcnn_status check_finite(const float *a, const float *b, size_t n, const char *who,
                                char *err, size_t err_size)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            if (err && err_size)
                xcnn_format(err, err_size, "%s: element %zu of the %s map is %s", who, i,
                            isfinite(a[i]) ? "second" : "first",
                            isnan(isfinite(a[i]) ? b[i] : a[i]) ? "NaN" : "infinite");
            return XCNN_ERR_NUMERIC;
        }
    return XCNN_OK;
}

typedef struct ranked {
    float v;
    size_t i;
} ranked;

static int by_value(const void *p, const void *q)
{
    const ranked *a = p, *b = q;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* r[i] = the average rank (1-based) of v[i]; tmp holds n pairs. */
static void rank_average(const float *v, size_t n, ranked *tmp, double *r)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i].v = v[i];
        tmp[i].i = i;
    }
    qsort(tmp, n, sizeof *tmp, by_value);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && tmp[hi].v == tmp[lo].v) hi++;
        double avg = 0.5 * (double)(lo + 1 + hi); /* mean of ranks lo+1 .. hi */
        for (size_t k = lo; k < hi; k++) r[tmp[k].i] = avg;
        lo = hi;
    }
}

xcnn_status xcnn_spearman(const float *a, const float *b, size_t n, double *rho, char *err,
                          size_t err_size)
{
    if (!a || !b || !rho)
        return fail(err, err_size, XCNN_ERR_ARG, "xcnn_spearman: a, b and rho must not be NULL");
    if (n < 2)
        return fail(err, err_size, XCNN_ERR_ARG, "xcnn_spearman: needs at least 2 values");
    if (n > ((size_t)1 << 31))
        return fail(err, err_size, XCNN_ERR_LIMIT, "xcnn_spearman: more than 2^31 values");
    xcnn_status st = check_finite(a, b, n, "xcnn_spearman", err, err_size);
    if (st) return st;
    ranked *tmp = malloc(n * sizeof *tmp);
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    if (!tmp || !ra || !rb) {
        free(tmp), free(ra), free(rb);
        return fail(err, err_size, XCNN_ERR_NOMEM, "xcnn_spearman: out of memory");
    }
    rank_average(a, n, tmp, ra);
    rank_average(b, n, tmp, rb);
    double bar = 0.5 * ((double)n + 1), sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double da = ra[i] - bar, db = rb[i] - bar;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    *rho = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0.0;
    /* rounding may step just past +-1 */
    if (*rho > 1) *rho = 1;
    if (*rho < -1) *rho = -1;
    free(tmp), free(ra), free(rb);
    return XCNN_OK;
}

/* v min-max scaled to [0, 1] into out (all 0 when v is constant). */
static void min_max(const float *v, size_t n, double *out)
{
    double lo = v[0], hi = v[0];
    for (size_t i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    for (size_t i = 0; i < n; i++) out[i] = hi > lo ? ((double)v[i] - lo) / (hi - lo) : 0.0;
}

/* out ((h-10) x (w-10)) = G * (p q) at the interior positions; tmp holds
 * h x (w-10). q NULL: G * p. */
static void filter(const double *p, const double *q, int h, int w, const double *g,
                   double *tmp, double *out)
{
    int ow = w - 2 * SSIM_R, oh = h - 2 * SSIM_R;
    for (int r = 0; r < h; r++)
        for (int c = 0; c < ow; c++) {
            double s = 0;
            for (int j = 0; j < SSIM_TAPS; j++) {
                size_t e = (size_t)r * (size_t)w + (size_t)(c + j);
                s += g[j] * (q ? p[e] * q[e] : p[e]);
            }
            tmp[(size_t)r * (size_t)ow + (size_t)c] = s;
        }
    for (int r = 0; r < oh; r++)
        for (int c = 0; c < ow; c++) {
            double s = 0;
            for (int j = 0; j < SSIM_TAPS; j++) s += g[j] * tmp[(size_t)(r + j) * (size_t)ow + (size_t)c];
            out[(size_t)r * (size_t)ow + (size_t)c] = s;
        }
}

xcnn_status xcnn_ssim(const float *a, const float *b, int h, int w, double *ssim, char *err,
                      size_t err_size)
{
    if (!a || !b || !ssim)
        return fail(err, err_size, XCNN_ERR_ARG, "xcnn_ssim: a, b and ssim must not be NULL");
    if (h < SSIM_TAPS || w < SSIM_TAPS || h > 16384 || w > 16384) {
        if (err && err_size)
            xcnn_format(err, err_size, "xcnn_ssim: the maps are %d x %d; SSIM's 11 x 11 window "
                        "needs 11 to 16384 a side", h, w);
        return XCNN_ERR_SHAPE;
    }
    size_t n = (size_t)h * (size_t)w;
    xcnn_status st = check_finite(a, b, n, "xcnn_ssim", err, err_size);
    if (st) return st;
    size_t on = (size_t)(h - 2 * SSIM_R) * (size_t)(w - 2 * SSIM_R);
    size_t tn = (size_t)h * (size_t)(w - 2 * SSIM_R);
    double *mem = malloc((2 * n + tn + 5 * on) * sizeof(double));
    if (!mem) return fail(err, err_size, XCNN_ERR_NOMEM, "xcnn_ssim: out of memory");
    double *pa = mem, *pb = pa + n, *tmp = pb + n, *ma = tmp + tn, *mb = ma + on,
           *saa = mb + on, *sbb = saa + on, *sab = sbb + on;
    double g[SSIM_TAPS], z = 0;
    for (int j = 0; j < SSIM_TAPS; j++) z += g[j] = exp(-(double)((j - SSIM_R) * (j - SSIM_R)) / 4.5);
    for (int j = 0; j < SSIM_TAPS; j++) g[j] /= z;
    min_max(a, n, pa);
    min_max(b, n, pb);
    filter(pa, NULL, h, w, g, tmp, ma);
    filter(pb, NULL, h, w, g, tmp, mb);
    filter(pa, pa, h, w, g, tmp, saa);
    filter(pb, pb, h, w, g, tmp, sbb);
    filter(pa, pb, h, w, g, tmp, sab);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double sum = 0;
    for (size_t i = 0; i < on; i++) {
        double va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i];
        double cov = sab[i] - ma[i] * mb[i];
        sum += (2 * ma[i] * mb[i] + c1) * (2 * cov + c2) /
               ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
    }
    *ssim = sum / (double)on;
    free(mem);
    return XCNN_OK;
}
