/*
 * Integrated gradients approximates  integral_0^1 dy/dx(x0 + a (x - x0)) da
 * by  sum_i w_i * dy/dx(x0 + a_i (x - x0)). The rules (Captum's):
 *   gausslegendre:     a_i = (g_i + 1)/2, w_i = v_i/2 for the Gauss-Legendre
 *                      nodes g_i and weights v_i on [-1, 1]
 *   riemann_left:      a_i = i/n            w_i = 1/n
 *   riemann_right:     a_i = (i+1)/n        w_i = 1/n
 *   riemann_middle:    a_i = (i+0.5)/n      w_i = 1/n
 *   riemann_trapezoid: a_i = i/(n-1)        w_i = 1/n, halved at both ends
 *                      (Captum's weights, which sum to (n-1)/n)
 * Gauss-Legendre nodes are the roots of the Legendre polynomial P_n, found
 * by Newton's method from the classic guess cos(pi (k + 3/4) / (n + 1/2));
 * the weight is 2 / ((1 - g^2) P_n'(g)^2). Point i is computed on demand,
 * so no table (and no allocation) is needed.
 */
#include <math.h>
#include "explain.h"

/* P_n(z) and P_n'(z) by the three-term recurrence. */
static void legendre(int n, double z, double *p, double *dp)
{
    double p0 = 1.0, p1 = z;
    if (n == 0) {
        *p = 1;
        *dp = 0;
        return;
    }
    for (int k = 2; k <= n; k++) {
        double pk = ((2.0 * k - 1) * z * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = pk;
    }
    *p = p1;
    *dp = n * (z * p1 - p0) / (z * z - 1.0);
}

static void gauss_legendre(int n, int i, double *node, double *weight)
{
    /* Roots in ascending order: root i is the (n-1-i)-th from the top. */
    int k = n - 1 - i;
    const double pi = 3.14159265358979323846;
    double z = cos(pi * (k + 0.75) / (n + 0.5));
    double p, dp;
    for (int iter = 0; iter < 100; iter++) {
        legendre(n, z, &p, &dp);
        double dz = p / dp;
        z -= dz;
        if (fabs(dz) < 1e-15) break;
    }
    legendre(n, z, &p, &dp);
    *node = z;
    *weight = 2.0 / ((1.0 - z * z) * dp * dp);
}

void xcnn_ig_point(xcnn_ig_rule rule, int n, int i, double *a, double *w)
{
    switch (rule) {
    case XCNN_IG_GAUSS_LEGENDRE: {
        double g, v;
        if (n == 1) {
            g = 0;
            v = 2;
        } else {
            gauss_legendre(n, i, &g, &v);
        }
        *a = (g + 1) / 2;
        *w = v / 2;
        return;
    }
    case XCNN_IG_RIEMANN_LEFT:
        *a = (double)i / n;
        break;
    case XCNN_IG_RIEMANN_RIGHT:
        *a = (double)(i + 1) / n;
        break;
    case XCNN_IG_RIEMANN_MIDDLE:
        *a = (i + 0.5) / n;
        break;
    case XCNN_IG_RIEMANN_TRAPEZOID:
        *a = n > 1 ? (double)i / (n - 1) : 0;
        *w = (i == 0 || i == n - 1) ? 0.5 / n : 1.0 / n;
        return;
    }
    *w = 1.0 / n;
}
