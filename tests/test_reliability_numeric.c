/*
 * Issue #14, items 3, 5 and 7 (the explainers' messages), through the C API:
 *  - 3: Gauss-Legendre nodes and weights (explain/gradient/quadrature.c) against
 *    numpy's leggauss, against Newton on the recurrence in long double for
 *    every n up to 200 and sampled roots up to n = 100000, exact on
 *    polynomials; all 100000 points cost milliseconds, and integrated
 *    gradients with --steps 100000 costs about what its passes cost
 *    (riemann_middle, whose points are free, as the yardstick);
 *  - 5: a NaN or an Inf in a forward's output, a backward's input gradient,
 *    an attribution or the convergence delta is XCNN_ERR_NUMERIC naming
 *    where it appeared (the node, the baseline, the stdev), from
 *    xcnn_forward, xcnn_backward and xcnn_explain alike;
 *  - 7: smoothgrad's noise that overflows blames the stdev, not the input;
 *    gradcam and guided-gradcam refuse the model input alike; an
 *    inference_only model is said to be one.
 * `test_reliability_numeric --write-models DIR` writes the models and
 * inputs that tests/test_reliability_numeric.sh runs the CLI on.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../libxcnn/explain/explain.h"
#include "check.h"
#include "onnx_builder.h"

#define TOY "tests/fixtures/captum_toy"

/* ---- 3: the quadrature ------------------------------------------------ */

/* numpy 1.24: g, v = leggauss(n); a = 0.5 * (1 + g), w = v / 2 */
static const struct {
    int n, i;
    double a, w;
} numpy_ref[] = {
    {7, 0, 0.025446043828620757, 0.064742483084435323},
    {7, 1, 0.12923440720030277, 0.13985269574463829},
    {7, 2, 0.29707742431130141, 0.19091502525255916},
    {7, 3, 0.5, 0.20897959183673448},
    {7, 4, 0.70292257568869854, 0.19091502525255916},
    {7, 5, 0.87076559279969723, 0.13985269574463829},
    {7, 6, 0.97455395617137919, 0.064742483084435323},
    {50, 0, 0.00056679778996449048, 0.0014543112765789342},
    {50, 1, 0.0029840152839546441, 0.0033798995978727526},
    {50, 2, 0.0073229579759970798, 0.0052952741918258347},
    {50, 24, 0.48445083083640555, 0.031088308327673501},
    {50, 25, 0.51554916916359439, 0.031088308327673501},
    {50, 49, 0.99943320221003551, 0.0014543112765789342},
    {1000, 0, 1.4443509622208417e-06, 3.7066691774193511e-06},
    {1000, 1, 7.6101835412845098e-06, 8.6283848845839962e-06},
    {1000, 499, 0.4992149947599584, 0.0015700091900915918},
    {1000, 500, 0.50078500524004155, 0.0015700091900915918},
    {1000, 999, 0.99999855564903783, 3.7066691774193511e-06},
};

static void gl_point(int n, int i, double *a, double *w)
{
    xcnn_ig_quad q;
    xcnn_ig_quad_init(&q, XCNN_IG_GAUSS_LEGENDRE, n);
    xcnn_ig_quad_point(&q, i, a, w);
}

/* Root j (from the x = -1 end, j <= (n-1)/2) by Newton in long double on
 * the recurrence in y = 1 - cos t: a = y/2 and the weight 1/(dP/dt)^2.
 * An independent reference (another precision, no asymptotics), O(n) per
 * evaluation. */
typedef long double ld;
static void ld_legendre(int n, ld y, ld *p, ld *dpdx)
{
    ld P = 1 - y, D = -y;
    for (int k = 2; k <= n; k++) {
        ld d = ((k - 1) * D - (2 * k - 1) * y * P) / k;
        D = d;
        P += d;
    }
    *p = P;
    *dpdx = n * (y * P - D) / (y * (2 - y));
}

static void ld_root(int n, int j, ld *a, ld *w)
{
    const ld pi = 3.141592653589793238462643383279503L;
    ld t = 2 * j + 1 == n ? pi / 2 : pi * (j + 0.75L) / (n + 0.5L), p, dp;
    for (int it = 0; it < 60 && 2 * j + 1 != n; it++) {
        ld s = sinl(t / 2);
        ld_legendre(n, 2 * s * s, &p, &dp);
        ld d = p / (-sinl(t) * dp);
        t -= d;
        if (fabsl(d) < 1e-21L * t) break;
    }
    ld s = sinl(t / 2);
    ld_legendre(n, 2 * s * s, &p, &dp);
    ld dpt = -sinl(t) * dp;
    *a = 2 * j + 1 == n ? 0.5L : s * s;
    *w = 1 / (dpt * dpt);
}

/* Worst errors of the lower-half roots j of n against ld_root, every
 * `stride`-th root past the first 20 (and the mirrored upper half). */
static void against_long_double(int n, int stride, double *ea, double *ew)
{
    xcnn_ig_quad q;
    xcnn_ig_quad_init(&q, XCNN_IG_GAUSS_LEGENDRE, n);
    for (int j = 0; j <= (n - 1) / 2; j += j < 20 ? 1 : stride) {
        ld ra, rw;
        double a, w, a2, w2;
        ld_root(n, j, &ra, &rw);
        xcnn_ig_quad_point(&q, j, &a, &w);
        xcnn_ig_quad_point(&q, n - 1 - j, &a2, &w2);
        double e = (double)fabsl((a - ra) / ra); /* relative: a is tiny near 0 */
        double e2 = (double)fabsl(a2 - (1 - ra));
        double f = (double)fmaxl(fabsl((w - rw) / rw), fabsl((w2 - rw) / rw));
        if (e > *ea) *ea = e;
        if (e2 > *ea) *ea = e2;
        if (f > *ew) *ew = f;
    }
}

static double cpu_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }

static void test_quadrature(void)
{
    double worst_a = 0, worst_w = 0;
    for (size_t k = 0; k < sizeof numpy_ref / sizeof numpy_ref[0]; k++) {
        double a, w;
        gl_point(numpy_ref[k].n, numpy_ref[k].i, &a, &w);
        worst_a = fmax(worst_a, fabs(a - numpy_ref[k].a));
        worst_w = fmax(worst_w, fabs(w - numpy_ref[k].w));
    }
    /* numpy's own error: ~1e-16 on the nodes; on the weights nearest the
     * ends 3e-14 (1e-8 relative at n = 1000, where ours agree with the long
     * double reference below to 1e-14) */
    check_close("Gauss-Legendre nodes a = (1 + g)/2 equal numpy's leggauss (n = 7, 50, 1000)",
                worst_a, 1e-15);
    check_close("Gauss-Legendre weights w = v/2 equal numpy's leggauss", worst_w, 5e-14);

    if (LDBL_MANT_DIG > DBL_MANT_DIG) {
        double ea = 0, ew = 0;
        for (int n = 2; n <= 200; n++) against_long_double(n, 1, &ea, &ew);
        check_close("every root of n = 2..200: relative error of a against Newton in long "
                    "double", ea, 2e-15);
        check_close("  and of w", ew, 2e-14);
        ea = ew = 0;
        against_long_double(1000, 7, &ea, &ew);
        against_long_double(99999, 4999, &ea, &ew);
        against_long_double(100000, 4999, &ea, &ew);
        check_close("n = 1000, 99999, 100000 (sampled roots): relative error of a", ea, 3e-14);
        check_close("  and of w (the recurrence's rounding at the ends)", ew, 3e-13);
    } else {
        check_skip("long double is double here: no long-double reference");
    }

    /* Exact on polynomials of degree < 2n: sum w a^k = 1/(k+1). */
    int ns[] = {1, 2, 3, 5, 16, 32, 33, 34, 40, 63, 64, 65, 100, 257, 1000, 4097, 100000};
    double worst = 0, worst_sym = 0;
    int ordered = 1;
    for (size_t s = 0; s < sizeof ns / sizeof ns[0]; s++) {
        int n = ns[s], kmax = 2 * n - 1 < 24 ? 2 * n - 1 : 24;
        xcnn_ig_quad q;
        xcnn_ig_quad_init(&q, XCNN_IG_GAUSS_LEGENDRE, n);
        double mom[25] = {0}, prev = -1;
        for (int i = 0; i < n; i++) {
            double a, w, a2, w2, p = 1;
            xcnn_ig_quad_point(&q, i, &a, &w);
            xcnn_ig_quad_point(&q, n - 1 - i, &a2, &w2);
            worst_sym = fmax(worst_sym, fmax(fabs(a + a2 - 1), fabs(w - w2)));
            if (!(a > prev) || !(a < 1) || !(w > 0)) ordered = 0;
            prev = a;
            for (int k = 0; k <= kmax; k++, p *= a) mom[k] += w * p;
        }
        /* if, not fmax: gcc 12.2 for aarch64 crashes vectorising this max at -O3 */
        for (int k = 0; k <= kmax; k++) {
            double e = fabs(mom[k] - 1.0 / (k + 1));
            if (e > worst) worst = e;
        }
    }
    check_close("sum w a^k = 1/(k+1) for k < 2n (k <= 24), n = 1 .. 100000", worst, 1e-14);
    check(ordered, "nodes strictly increasing in (0, 1), weights positive");
    check(worst_sym == 0, "a_i + a_(n-1-i) = 1 and w_i = w_(n-1-i) exactly");

    /* The cost: O(1) a point (it was O(n): hours for all of n = 100000). */
    double t0 = cpu_seconds(), sum = 0;
    xcnn_ig_quad q;
    xcnn_ig_quad_init(&q, XCNN_IG_GAUSS_LEGENDRE, 100000);
    for (int i = 0; i < 100000; i++) {
        double a, w;
        xcnn_ig_quad_point(&q, i, &a, &w);
        sum += w;
    }
    double t = cpu_seconds() - t0;
    printf("     all 100000 Gauss-Legendre points: %.1f ms CPU (sum of weights - 1 = %.2g)\n",
           1e3 * t, sum - 1);
    check(t < 2.0, "all 100000 Gauss-Legendre points in %.3f s of CPU (< 2 s)", t);
}

/* Integrated gradients with 100000 steps on Captum's toy model: the
 * quadrature costs little next to the passes (riemann_middle's points
 * are free: the yardstick), and the integral is accurate. One thread, CPU
 * time: the machine's load does not count. */
static void test_ig_100000_steps(void)
{
    char err[512];
    xcnn_model *m;
    if (xcnn_model_load(TOY "/model.onnx", NULL, &m, err, sizeof err) != XCNN_OK) {
        check(0, "load %s: %s", TOY, err);
        return;
    }
    float x[16], attr[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    xcnn_model_set_threads(m, 1);
    xcnn_model_reserve(m, 8);
    double t[2];
    xcnn_explain_result res[2];
    xcnn_ig_rule rules[2] = {XCNN_IG_RIEMANN_MIDDLE, XCNN_IG_GAUSS_LEGENDRE};
    for (int r = 0; r < 2; r++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
        o.steps = 100000;
        o.ig_rule = rules[r];
        double t0 = cpu_seconds();
        xcnn_status st = xcnn_explain(m, x, &o, attr, 16, &res[r]);
        t[r] = cpu_seconds() - t0;
        check(st == XCNN_OK, "IG %s, 100000 steps: %s", r ? "gausslegendre" : "riemann_middle",
              st ? xcnn_model_error(m) : "ok");
    }
    printf("     IG 100000 steps, CPU: riemann_middle %.2f s, gausslegendre %.2f s\n", t[0],
           t[1]);
    check(t[1] <= 1.5 * t[0] + 0.2,
          "gausslegendre costs at most 1.5x the riemann_middle passes (%.2f s vs %.2f s)", t[1],
          t[0]);
    check(fabsf(res[1].delta) < 1e-3f * res[1].score,
          "gausslegendre, 100000 steps: |delta| %.3g < 1e-3 of the score %g", res[1].delta,
          res[1].score);
    xcnn_model_free(m);
}

/* ---- 5: NaN and Inf --------------------------------------------------- */

static xcnn_model *load_buf(ob_buf b, int inference_only)
{
    char err[512];
    xcnn_model *m = NULL;
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = inference_only;
    if (xcnn_model_load_memory(b.p, b.n, &lo, &m, err, sizeof err) != XCNN_OK)
        check(0, "load a built model: %s", err);
    ob_free(&b);
    return m;
}

static ob_buf vi4(const char *name, int64_t c, int64_t h, int64_t w)
{
    return ob_value_info(name, OB_FLOAT, 4, (int64_t[]){1, c, h, w});
}

/* y = x * x, x 1x1x2x2 */
static ob_buf square_model(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi4("x", 1, 2, 2));
    ob_graph_node(&g, ob_node("Mul", "mul", IN("x", "x"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi4("y", 1, 2, 2));
    return ob_model(13, &g);
}

/* y = 1 / x, x 1x1x1x1: finite output 1e30 at x = 1e-30, gradient -1e60 */
static ob_buf reciprocal_model(void)
{
    ob_buf g = ob_new();
    float one = 1;
    ob_graph_input(&g, vi4("x", 1, 1, 1));
    ob_graph_init(&g, ob_tensor_f("one", 1, (int64_t[]){1}, &one));
    ob_graph_node(&g, ob_node("Div", "div", IN("one", "x"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi4("y", 1, 1, 1));
    return ob_model(13, &g);
}

/* y = 2.5 x0 - 2.5 x1 (a 1x1 Conv, then Flatten): y stays 0 on x0 = x1
 * while 2.5 (x - baseline) overflows */
static ob_buf cancel_model(void)
{
    ob_buf g = ob_new();
    float w[2] = {2.5f, -2.5f};
    ob_graph_input(&g, vi4("x", 2, 1, 1));
    ob_graph_init(&g, ob_tensor_f("w", 4, (int64_t[]){1, 2, 1, 1}, w));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "w"), OUT("z"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("z"), OUT("y"), NULL, 0));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 1}));
    return ob_model(13, &g);
}

/* a = Conv1x1(x) (1x1x1x2), y = 4 * mean(a): on a = (3e38, -3e38) y is 0,
 * and Grad-CAM's map 2 * 3e38 overflows */
static ob_buf cam_model(void)
{
    ob_buf g = ob_new();
    float one = 1, four = 4;
    ob_graph_input(&g, vi4("x", 1, 1, 2));
    ob_graph_init(&g, ob_tensor_f("w", 4, (int64_t[]){1, 1, 1, 1}, &one));
    ob_graph_init(&g, ob_tensor_f("k", 1, (int64_t[]){1}, &four));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "w"), OUT("a"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("a"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_graph_node(&g, ob_node("Mul", "scale", IN("f", "k"), OUT("y"), NULL, 0));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 1}));
    return ob_model(13, &g);
}

static int has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

static void test_forward_backward(void)
{
    for (int io = 0; io < 2; io++) {
        xcnn_model *m = load_buf(square_model(), io);
        if (!m) return;
        float x[4] = {1, 2, 1e20f, 3}, y[4] = {-7, -7, -7, -7};
        xcnn_status st = xcnn_forward(m, x, 1, y);
        const char *e = xcnn_model_error(m);
        check(st == XCNN_ERR_NUMERIC && has(e, "'mul' (Mul)") && has(e, "infinite"),
              "forward of x*x at 1e20%s: XCNN_ERR_NUMERIC naming the node: %s",
              io ? " (inference_only: the forward runs again to find it)" : "", e);
        check(y[0] == -7 && y[3] == -7, "  the output buffer is left alone");
        x[2] = 4;
        st = xcnn_forward(m, x, 1, y);
        check(st == XCNN_OK && y[2] == 16, "  x*x at 4: ok, 16 (%g)", (double)y[2]);
        xcnn_model_free(m);
    }

    xcnn_model *m = load_buf(reciprocal_model(), 0);
    if (!m) return;
    float x = 1e-30f, y = 0;
    xcnn_status st = xcnn_forward(m, &x, 1, &y);
    check(st == XCNN_OK && y == 1e30f, "1/x at 1e-30: output 1e30 is finite (%g)", (double)y);
    int t = 0;
    st = xcnn_backward(m, &t, NULL, NULL);
    const char *e = xcnn_model_error(m);
    check(st == XCNN_ERR_NUMERIC && has(e, "input gradient") && has(e, "'div'"),
          "backward of 1/x at 1e-30 (gradient -1e60): XCNN_ERR_NUMERIC naming the node: %s", e);
    float seed = NAN;
    x = 2;
    xcnn_forward(m, &x, 1, &y);
    st = xcnn_backward(m, NULL, &seed, NULL);
    e = xcnn_model_error(m);
    check(st == XCNN_ERR_NUMERIC && has(e, "seed"), "a NaN seed gradient is refused: %s", e);
    xcnn_model_free(m);
}

static xcnn_status explain_o(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                             float *out, size_t n, xcnn_explain_result *res)
{
    xcnn_status st = xcnn_explain(m, x, o, out, n, res);
    printf("     -> %s: %s\n", xcnn_status_name(st), st ? xcnn_model_error(m) : "");
    return st;
}

static void test_explain_numeric(void)
{
    xcnn_model *m = load_buf(square_model(), 0);
    if (!m) return;
    xcnn_model_reserve(m, 4);
    float x[4] = {1, 2, 1e20f, 3}, out[4], base[4];
    xcnn_explain_options o;
    xcnn_explain_result res;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    xcnn_status st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "'mul'"),
          "saliency where x*x overflows: XCNN_ERR_NUMERIC naming the node");

    /* integrated gradients from a baseline near -3e38 */
    for (int i = 0; i < 4; i++) x[i] = 1, base[i] = -3e38f;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.baseline = base;
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "at the baseline") &&
              has(xcnn_model_error(m), "'mul'"),
          "IG, baseline -3e38 (f overflows there): XCNN_ERR_NUMERIC, at the baseline");
    x[1] = 3e38f;
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "baseline element 1") &&
              has(xcnn_model_error(m), "too far"),
          "IG, input 3e38 and baseline -3e38: input - baseline overflows, said so");

    /* smoothgrad: the stdev, not the input */
    for (int i = 0; i < 4; i++) x[i] = 1;
    xcnn_explain_options_init(&o, XCNN_SMOOTHGRAD);
    o.samples = 3;
    o.stdev = 1e38f;
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_ARG && has(xcnn_model_error(m), "stdev 1e+38 is too large") &&
              !has(xcnn_model_error(m), "input element"),
          "smoothgrad --stdev 1e38: the stdev is too large (not 'input element ... infinite')");
    o.stdev = 1e37f; /* noise fits a float; its square does not */
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "noisy samples") &&
              has(xcnn_model_error(m), "stdev 1e+37") && has(xcnn_model_error(m), "'mul'"),
          "smoothgrad --stdev 1e37: the noisy samples' output overflows, stdev named");
    float noise[12] = {0};
    noise[5] = INFINITY;
    o.noise = noise;
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "noise element 1 of sample 1"),
          "smoothgrad with an infinite noise element: named");
    o.noise = NULL;
    o.stdev = -1; /* the default, 15% of a range of 6e38 */
    x[0] = 3e38f;
    x[1] = -3e38f;
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "default stdev"),
          "smoothgrad, default stdev of an input spanning 6e38: the default stdev is named");
    xcnn_model_free(m);

    /* the attribution itself overflows */
    m = load_buf(cancel_model(), 0);
    if (!m) return;
    float x2[2] = {1e38f, 1e38f}, b2[2] = {-1e38f, -1e38f}, out2[2];
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.baseline = b2;
    o.steps = 4;
    st = explain_o(m, x2, &o, out2, 2, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "attribution element 0 overflows"),
          "IG: (input - baseline) 2e38 times gradient 2.5 overflows: XCNN_ERR_NUMERIC");
    xcnn_model_free(m);

    /* x * x = 2.25e38 is a float, x * dy/dx = 2 x^2 is not */
    m = load_buf(square_model(), 0);
    if (!m) return;
    for (int i = 0; i < 4; i++) x[i] = 1.5e19f;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_OK, "saliency of x*x at 1.5e19: finite");
    xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
    st = explain_o(m, x, &o, out, 4, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "input x gradient: element 0"),
          "input x gradient of x*x at 1.5e19 (2 x^2) overflows: XCNN_ERR_NUMERIC");
    xcnn_model_free(m);

    m = load_buf(cam_model(), 0);
    if (!m) return;
    float x3[2] = {3e38f, -3e38f}, out3[2];
    for (int k = 0; k < 2; k++) {
        xcnn_explain_options_init(&o, k ? XCNN_GUIDED_GRADCAM : XCNN_GRADCAM);
        st = explain_o(m, x3, &o, out3, 2, &res);
        check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "the map at layer 'a'"),
              "%s: the map 2 * 3e38 overflows: XCNN_ERR_NUMERIC naming the layer",
              k ? "guided Grad-CAM" : "Grad-CAM");
    }
    xcnn_model_free(m);

    /* the input gradient of a method */
    m = load_buf(reciprocal_model(), 0);
    if (!m) return;
    float x4 = 1e-30f, out4;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    st = explain_o(m, &x4, &o, &out4, 1, &res);
    check(st == XCNN_ERR_NUMERIC && has(xcnn_model_error(m), "input gradient"),
          "saliency of 1/x at 1e-30: the input gradient is not finite");
    xcnn_model_free(m);
}

/* ---- 7: the Grad-CAM messages ------------------------------------------ */

static void test_cam_messages(void)
{
    char err[512], msg[2][512];
    xcnn_model *m;
    if (xcnn_model_load(TOY "/model.onnx", NULL, &m, err, sizeof err) != XCNN_OK) {
        check(0, "load %s: %s", TOY, err);
        return;
    }
    float x[16], out[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    xcnn_explain_options o;
    xcnn_explain_result res;
    xcnn_status st[2];
    for (int k = 0; k < 2; k++) {
        xcnn_explain_options_init(&o, k ? XCNN_GUIDED_GRADCAM : XCNN_GRADCAM);
        o.layer = "input";
        st[k] = explain_o(m, x, &o, out, 16, &res);
        snprintf(msg[k], sizeof msg[k], "%s", xcnn_model_error(m));
    }
    check(st[0] == XCNN_ERR_ARG && st[1] == XCNN_ERR_ARG && !strcmp(msg[0], msg[1]),
          "gradcam and guided-gradcam --layer input: both refused, the same message");
    check(has(msg[0], "'input' is the model's input") && has(msg[0], "'/relu1/Relu"),
          "  it names the input and a layer that can be used: %s", msg[0]);
    xcnn_model_free(m);

    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = 1;
    if (xcnn_model_load(TOY "/model.onnx", &lo, &m, err, sizeof err) != XCNN_OK) {
        check(0, "load %s inference_only: %s", TOY, err);
        return;
    }
    const xcnn_method methods[] = {XCNN_GRADCAM, XCNN_GUIDED_GRADCAM, XCNN_SALIENCY,
                                   XCNN_INTEGRATED_GRADIENTS};
    for (int k = 0; k < 4; k++) {
        xcnn_explain_options_init(&o, methods[k]);
        xcnn_status s = explain_o(m, x, &o, out, 16, &res);
        const char *e = xcnn_model_error(m);
        check(s == XCNN_ERR_ARG && has(e, "inference only") && !has(e, "weight or constant"),
              "method %d on an inference_only model: said so", (int)methods[k]);
    }
    int ndim;
    int64_t dims[4];
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    xcnn_status s = xcnn_explain_shape(m, &o, &ndim, dims);
    check(s == XCNN_ERR_ARG && has(xcnn_model_error(m), "inference only"),
          "xcnn_explain_shape for Grad-CAM on an inference_only model: %s",
          xcnn_model_error(m));
    xcnn_model_free(m);
}

/* ---- files for the CLI test -------------------------------------------- */

static int write_file(const char *dir, const char *name, ob_buf b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b.p, 1, b.n, f) == b.n;
    if (f && fclose(f)) ok = 0;
    ob_free(&b);
    if (!ok) fprintf(stderr, "cannot write %s\n", path);
    return ok ? 0 : 1;
}

static int write_npy(const char *dir, const char *name, const float *v, int64_t c, int64_t h,
                     int64_t w)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int64_t dims[4] = {1, c, h, w};
    if (xcnn_npy_write(path, v, 4, dims, err, sizeof err) == XCNN_OK) return 0;
    fprintf(stderr, "%s\n", err);
    return 1;
}

static int write_models(const char *dir)
{
    static float far[28 * 28];
    float big[4] = {1, 2, 1e20f, 3};
    for (int i = 0; i < 28 * 28; i++) far[i] = -3e38f;
    return write_file(dir, "square.onnx", square_model()) |
           write_npy(dir, "square_1e20.npy", big, 1, 2, 2) |
           write_npy(dir, "baseline_m3e38_28.npy", far, 1, 28, 28);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-models")) return write_models(argv[2]);
    test_quadrature();
    test_ig_100000_steps();
    test_forward_backward();
    test_explain_numeric();
    test_cam_messages();
    return check_summary();
}
