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
 *
 * Gauss-Legendre. The nodes are g = -cos t for the roots t of P_n(cos t)
 * in (0, pi), and v = 2 / (dP_n(cos t)/dt)^2. We work in the angle t: near
 * the ends a = (1 - cos t)/2 = sin^2(t/2) keeps its relative precision,
 * which (1 + g)/2 in double would not (a ~ 1e-10 at n = 1e5). The rule is
 * symmetric, so only t in (0, pi/2] is ever solved for.
 *
 * A point must cost O(1): integrated gradients accepts up to 100000
 * steps, and Newton on the three-term recurrence (O(n) per evaluation)
 * for every point is O(n^2), hours at that n. So (Hale & Townsend 2013,
 * "Fast and accurate computation of Gauss-Legendre and Gauss-Jacobi
 * quadrature nodes and weights"):
 *  - away from the ends, Newton on Stieltjes' expansion
 *      P_n(cos t) = C_n sum_m h_m cos(a_m) / (2 sin t)^(m+1/2),
 *      a_m = (n + m + 1/2) t - (m + 1/2) pi/2,
 *      h_0 = 1, h_m = h_(m-1) (m - 1/2)^2 / (m (n + m + 1/2)),
 *      C_n = (4/pi) prod_(j=1..n) j/(j + 1/2),
 *    whose remainder after M terms is below 2 C_n h_M / (2 sin t)^(M+1/2)
 *    (Szego): we sum until that is under 2^-56 of the leading term, which
 *    takes a few terms in the middle and at most ~40 near the ends. From
 *    Tricomi's guess one or two evaluations suffice;
 *  - near the ends (n sin t below ~20, the first ~7 roots from each end
 *    for any large n, every root for n <= 2 * XCNN_IG_EDGE_MAX), where the
 *    expansion does not converge, Newton on the recurrence, for those few
 *    roots only, once per rule (xcnn_ig_quad_init: O(n) each), kept in
 *    the xcnn_ig_quad.
 * A point costs ~65 ns (a tiny model's pass, ~600 ns); n = 100000 needs
 * ~2 ms of set-up. Against numpy's leggauss (every n up to 200, and 1000,
 * 2000) the nodes a agree to 3e-16 and the weights to 3e-14, numpy's own
 * error on the smallest ones; against Newton in long double (every root
 * up to n = 200, sampled ones up to 1e5) a agrees to 1e-14 relative and w
 * to 6e-14 (the recurrence's rounding, at the ends of n = 1e5), ~1e-15 away
 * from the ends. tests/test_reliability_numeric.c checks all of it.
 */
#include <math.h>
#include "../explain.h"

#define PI 3.14159265358979323846

/* Stieltjes terms at most, and when the remainder counts as negligible
 * (relative to the leading term's envelope). */
enum { STIELTJES_MAX_TERMS = XCNN_IG_STIELTJES_TERMS };
#define STIELTJES_TOL 1.4e-17
/* Newton stops once a step moves the phase (n + 1/2) t by less than this:
 * the error left is then its square (or cube), and the weight, corrected
 * to the new t below, is off by about as much. */
#define NEWTON_PHASE_TOL 1e-8

/* Newton's step d = p/dp has moved the angle t to t - d; dp (= dP/dt at
 * the old t) to the new t, from the Legendre equation in t,
 * P'' + cot(t) P' + n(n+1) P = 0, and p = d dp. */
static double move_derivative(int n, double cot, double d, double dp)
{
    return dp * (1 + d * cot + (double)n * (n + 1) * d * d);
}

/* Root k = 1..n (from x = 1) is near phi_k = pi (k - 1/4)/(n + 1/2);
 * Tricomi's x_k ~ (1 - eps) cos(phi_k), eps = 1/(8n^2) - 1/(8n^3), puts
 * it at phi_k + tau with tau ~ eps cot(phi_k). */
static double base_angle(int n, int k) { return PI * (k - 0.25) / (n + 0.5); }

static double tricomi_eps(int n)
{
    double nn = (double)n;
    return 1.0 / (8 * nn * nn) - 1.0 / (8 * nn * nn * nn);
}

/* P_n(cos t) and dP_n(cos t)/dt for count angles t in (0, pi/2], by the
 * three-term recurrence written in y = 1 - cos t = 2 sin^2(t/2) (cos t
 * itself would round away the digits that matter near t = 0):
 *   D_k = P_k - P_(k-1) = ((k-1) D_(k-1) - (2k-1) y P_(k-1)) / k,
 *   dP_n/dx = n (y P_n - D_n) / (y (2 - y)).
 * The angles run side by side, so their chains of divisions overlap. */
static void legendre_recurrence(int n, int count, const double *t, double *p, double *dp)
{
    double y[XCNN_IG_EDGE_MAX], P[XCNN_IG_EDGE_MAX], D[XCNN_IG_EDGE_MAX];
    for (int c = 0; c < count; c++) {
        double s = sin(t[c] / 2);
        y[c] = 2 * s * s;
        P[c] = 1 - y[c];
        D[c] = -y[c];
    }
    for (int k = 2; k <= n; k++) {
        double a = (k - 1.0) / k, b = (2.0 * k - 1) / k;
        for (int c = 0; c < count; c++) {
            double d = a * D[c] - b * y[c] * P[c];
            D[c] = d;
            P[c] += d;
        }
    }
    for (int c = 0; c < count; c++) {
        double dx = n * (y[c] * P[c] - D[c]) / (y[c] * (2 - y[c]));
        p[c] = P[c];
        dp[c] = -sin(t[c]) * dx;
    }
}

/* Does Stieltjes' expansion at angle t reach STIELTJES_TOL? */
static int stieltjes_converges(const xcnn_ig_quad *q, double t)
{
    double u = 0.5 / sin(t), b = 1;
    for (int m = 0; m < STIELTJES_MAX_TERMS; m++) {
        b *= q->h_ratio[m] * u;
        if (2 * b < STIELTJES_TOL) return 1;
    }
    return 0;
}

/* S = +-P_n(cos t) / C_n and dS/dt by Stieltjes' expansion, at
 * t = phi_k + tau (st, ct: its sine and cosine; inv_st = 1/st). The phase
 * a_0 = (n + 1/2) t - pi/4 = pi (k - 1/2) + e with e = (n + 1/2) tau:
 * taken from the small e (se, ce: its sine and cosine), it needs no
 * reduction of a large angle and keeps every digit (the sign (-1)^k it
 * drops is common to S and dS). No division: a point's divisions were
 * most of its cost. */
static void stieltjes(const xcnn_ig_quad *q, double st, double ct, double inv_st, double se,
                      double ce, double *s_out, double *ds_out)
{
    int n = q->n;
    double u = 0.5 * inv_st, cot = ct * inv_st;
    double ca = se, sa = -ce;             /* cos and sin of a_m, m = 0 */
    double root_u = sqrt(u), hu = root_u; /* h_m u^(m+1/2) */
    double s = 0, ds = 0;
    for (int m = 0; m < STIELTJES_MAX_TERMS; m++) {
        s += hu * ca;
        ds -= hu * ((n + m + 0.5) * sa + (m + 0.5) * cot * ca);
        hu *= q->h_ratio[m] * u;
        if (2 * hu < STIELTJES_TOL * root_u) break;
        /* a_(m+1) = a_m + t - pi/2 */
        double ca1 = ca * st + sa * ct;
        sa = sa * st - ca * ct;
        ca = ca1;
    }
    *s_out = s;
    *ds_out = ds;
}

/* C_n = (2/sqrt(pi)) Gamma(n+1) / Gamma(n+3/2), from the difference of
 * Stirling's series for the two (their large parts cancel exactly). */
static double stieltjes_constant(int n)
{
    static const double c[] = {1.0 / 12, -1.0 / 360, 1.0 / 1260, -1.0 / 1680, 1.0 / 1188,
                               -691.0 / 360360}; /* B_2k / (2k (2k-1)) */
    double z1 = n + 1.0, z2 = n + 1.5;
    double e = 0.5 - (n + 0.5) * log1p(0.5 / z1);
    double p1 = 1 / z1, p2 = 1 / z2;
    for (int k = 0; k < (int)(sizeof c / sizeof c[0]); k++) {
        e += c[k] * (p1 - p2);
        p1 /= z1 * z1;
        p2 /= z2 * z2;
    }
    return 2 / sqrt(PI) * exp(e) / sqrt(z2);
}

/* The roots nearest the ends, j = 0 .. q->n_edge - 1 from x = 1, all
 * at once by Newton on the recurrence (the middle one of odd n is
 * t = pi/2 exactly). */
static void edge_roots(xcnn_ig_quad *q)
{
    int n = q->n, count = q->n_edge;
    double t[XCNN_IG_EDGE_MAX], p[XCNN_IG_EDGE_MAX], dp[XCNN_IG_EDGE_MAX];
    for (int j = 0; j < count; j++) {
        double phi = base_angle(n, j + 1);
        t[j] = 2 * j + 1 == n ? PI / 2 : phi + tricomi_eps(n) * cos(phi) / sin(phi);
    }
    for (int iter = 0; iter < 100; iter++) {
        legendre_recurrence(n, count, t, p, dp);
        double worst = 0;
        for (int j = 0; j < count; j++) {
            double d = 2 * j + 1 == n ? 0 : p[j] / dp[j];
            double dpt = move_derivative(n, cos(t[j]) / sin(t[j]), d, dp[j]);
            t[j] -= d;
            q->edge_w[j] = 1 / (dpt * dpt);
            if ((n + 0.5) * fabs(d) > worst) worst = (n + 0.5) * fabs(d);
        }
        if (worst < NEWTON_PHASE_TOL) break;
    }
    for (int j = 0; j < count; j++) {
        double h = sin(t[j] / 2);
        q->edge_a[j] = 2 * j + 1 == n ? 0.5 : h * h;
    }
}

/* sin and cos of x, |x| <= SMALL_ANGLE, by Taylor series (to within 1e-21
 * there): tau and e below always are that small for the roots that
 * Stieltjes' expansion finds, and libm's calls were most of their cost. */
#define SMALL_ANGLE 0.05
static void small_sincos(double x, double *s, double *c)
{
    double x2 = x * x;
    *s = x * (1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72 * (1 - x2 / 110)))));
    *c = 1 - x2 / 2 * (1 - x2 / 12 * (1 - x2 / 30 * (1 - x2 / 56 * (1 - x2 / 90))));
}

/* Root j (from x = 1, j <= (n-1)/2) by Newton on Stieltjes' expansion:
 * its a = (1 - cos t)/2 and weight 1/(dP/dt)^2. */
static void interior_root(const xcnn_ig_quad *q, int j, double *a, double *w)
{
    int n = q->n, middle = 2 * j + 1 == n;
    double phi = (j + 0.75) * q->step, sp = sin(phi), cp = cos(phi);
    double tau = q->eps * cp / sp, st = sp, ct = cp, s, ds = 1, d = 0;
    for (int iter = 0; iter < 20; iter++) {
        double e = (n + 0.5) * tau, se, ce;
        if (fabs(e) <= SMALL_ANGLE) { /* then tau is smaller still */
            double stau, ctau;
            small_sincos(tau, &stau, &ctau);
            small_sincos(e, &se, &ce);
            st = sp * ctau + cp * stau;
            ct = cp * ctau - sp * stau;
        } else {
            st = sin(phi + tau);
            ct = cos(phi + tau);
            se = sin(e);
            ce = cos(e);
        }
        double inv_st = 1 / st;
        stieltjes(q, st, ct, inv_st, se, ce, &s, &ds);
        d = middle ? 0 : s / ds; /* the middle root is pi/2, exactly */
        ds = move_derivative(n, ct * inv_st, d, ds);
        tau -= d;
        if ((n + 0.5) * fabs(d) < NEWTON_PHASE_TOL) break;
    }
    /* sin and cos of the final t, d below the last evaluation's */
    double st1 = st - d * ct, ct1 = ct + d * st;
    double dp = q->cn * ds;
    *a = middle ? 0.5 : st1 * st1 / (2 * (1 + ct1));
    *w = 1 / (dp * dp);
}

void xcnn_ig_quad_init(xcnn_ig_quad *q, xcnn_ig_rule rule, int n)
{
    q->rule = rule;
    q->n = n;
    q->n_edge = 0;
    q->cn = 0;
    if (rule != XCNN_IG_GAUSS_LEGENDRE || n < 2) return;
    int half = (n + 1) / 2; /* roots in t <= pi/2, the middle one included */
    if (half <= XCNN_IG_EDGE_MAX) {
        q->n_edge = half;
    } else {
        q->cn = stieltjes_constant(n);
        q->step = PI / (n + 0.5);
        q->eps = tricomi_eps(n);
        for (int m = 0; m < STIELTJES_MAX_TERMS; m++)
            q->h_ratio[m] = (m + 0.5) * (m + 0.5) / ((m + 1.0) * (n + m + 1.5));
        /* Newton starts within ~2% of a root's angle (Tricomi's guess is
         * worst nearest the ends): the expansion must converge there too.
         * For n > 2 * XCNN_IG_EDGE_MAX this stops at 4 to 7 (tested). */
        int e = 0;
        while (e < XCNN_IG_EDGE_MAX && !stieltjes_converges(q, 0.9 * base_angle(n, e + 1))) e++;
        q->n_edge = e;
    }
    edge_roots(q);
}

void xcnn_ig_quad_point(const xcnn_ig_quad *q, int i, double *a, double *w)
{
    int n = q->n;
    switch (q->rule) {
    case XCNN_IG_GAUSS_LEGENDRE: {
        if (n == 1) {
            *a = 0.5;
            *w = 1;
            return;
        }
        int j = i < n - 1 - i ? i : n - 1 - i; /* root j from the nearer end */
        double lower; /* the a of the root below the middle: g = -cos t */
        if (j < q->n_edge) {
            lower = q->edge_a[j];
            *w = q->edge_w[j];
        } else {
            interior_root(q, j, &lower, w);
        }
        /* the one above is its mirror: a_i + a_(n-1-i) = 1 exactly */
        *a = i == j ? lower : 1 - lower;
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
