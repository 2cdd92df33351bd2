/*
 * Lesson 06: integrated gradients, and completeness.
 *
 * A gradient says how the score y would change for a tiny nudge of each
 * pixel; it does not say how much each pixel contributed to y. Integrated
 * gradients (Sundararajan, Taly, Yan 2017) walk a straight path from a
 * baseline x0 (a blank image) to the input x and add up the gradients met
 * on the way:
 *
 *   IG_i = (x_i - x0_i) * integral_0^1 dy/dx_i(x0 + a (x - x0)) da
 *
 * Completeness: by the fundamental theorem of calculus along the path,
 * the attributions add up to exactly the change in score:
 *
 *   sum_i IG_i = y(x) - y(x0)
 *
 * A computer replaces the integral by n points: a_s = (s + 0.5) / n, each
 * weighted 1/n (the midpoint rule). The sum then misses by
 *
 *   delta = sum_i IG_i - (y(x) - y(x0))
 *
 * which shrinks as n grows: delta tells you whether n was enough.
 *
 * Part 1, a small smooth network (Conv, Sigmoid, Conv): IG by hand from
 * xcnn_forward + xcnn_backward against xcnn_explain, and delta for
 * n = 4, 16, 64. For a smooth path the midpoint rule's error falls like
 * 1/n^2: 16 times smaller for 4 times the points.
 * Part 2, the trained ResNet of lesson 05: ReLUs make the path's gradient
 * jump (a step function), so delta shrinks only roughly, like 1/n.
 *
 * Run from the repository root, or give the data folder as argument.
 */
#include <stdlib.h>
#include "lesson.h"
#include "tiny_onnx.h"
#include "../../include/xcnn_image.h"

enum { C = 2, H = 8, W = 8, F = 4, NX = C * H * W }; /* part 1's input */

/* x [1,2,8,8] -> Conv 3x3 (4 filters) -> Sigmoid -> Conv 8x8 -> y [1,1,1,1] */
static xcnn_model *smooth_model(void)
{
    static float w1[F * C * 9], b1[F], w2[F * H * W], b2[1];
    uint64_t seed = 6;
    lesson_fill(w1, F * C * 9, 1.0f, &seed);
    lesson_fill(b1, F, 0.5f, &seed);
    lesson_fill(w2, F * H * W, 0.5f, &seed);
    tiny_buf g = {0};
    tiny_weight(&g, "W1", 4, (int64_t[]){F, C, 3, 3}, w1);
    tiny_weight(&g, "B1", 1, (int64_t[]){F}, b1);
    tiny_weight(&g, "W2", 4, (int64_t[]){1, F, H, W}, w2);
    tiny_weight(&g, "B2", 1, (int64_t[]){1}, b2);
    tiny_conv(&g, "x", "W1", "B1", "a", 1, 1);
    tiny_node(&g, "Sigmoid", "a", NULL, NULL, "s", NULL, 0);
    tiny_conv(&g, "s", "W2", "B2", "y", 0, 1); /* one output: a weighted sum of s */
    tiny_io(&g, 11, "x", 4, (int64_t[]){1, C, H, W});
    tiny_io(&g, 12, "y", 0, NULL);
    return tiny_load(&g);
}

/* IG with the midpoint rule, n points, by hand; nx inputs, output 0. */
static int ig_by_hand(xcnn_model *m, const float *x, const float *x0, int n, int nx,
                      double *attr)
{
    static float xa[NX];
    static double sum_grad[NX];
    int target = 0;
    xcnn_tensor_view in;
    for (int i = 0; i < nx; i++) sum_grad[i] = 0;
    for (int s = 0; s < n; s++) {
        double a = (s + 0.5) / n; /* the point's place on the path */
        for (int i = 0; i < nx; i++) xa[i] = (float)(x0[i] + a * (x[i] - x0[i]));
        if (xcnn_forward(m, xa, 1, NULL) != XCNN_OK ||
            xcnn_backward(m, &target, NULL, NULL) != XCNN_OK || xcnn_model_input(m, &in))
            return 0;
        for (int i = 0; i < nx; i++) sum_grad[i] += in.grad[i] / n; /* weight 1/n */
    }
    for (int i = 0; i < nx; i++) attr[i] = ((double)x[i] - x0[i]) * sum_grad[i];
    return 1;
}

/* The library's IG (rule, n points, baseline x0); returns its delta and
 * writes the attribution to attr (NAN on failure). */
static double ig_library(xcnn_model *m, const float *x, const float *x0, int target, int n,
                         xcnn_ig_rule rule, float *attr, int nx)
{
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.target = target;
    o.steps = n;
    o.ig_rule = rule;
    o.baseline = x0;
    xcnn_explain_result r;
    if (xcnn_explain(m, x, &o, attr, (size_t)nx, &r) != XCNN_OK) return NAN;
    return r.delta;
}

static int part1_smooth(lesson *L)
{
    xcnn_model *m = smooth_model();
    if (!m) return 0;
    static float x[NX], x0[NX], attr_lib[NX], y[2];
    static double attr[NX];
    uint64_t seed = 60;
    lesson_fill(x, NX, 2.0f, &seed); /* x0 stays all zeros */
    xcnn_forward(m, x, 1, y);
    xcnn_forward(m, x0, 1, y + 1);
    double change = (double)y[0] - y[1];
    printf("  part 1: smooth net, y(x) = %.5f, y(0) = %.5f, change %.5f\n", y[0], y[1], change);
    printf("  %5s  %-16s  %-18s  %s\n", "n", "delta by hand", "(last / this)",
           "delta by xcnn_explain");
    const int steps[3] = {4, 16, 64};
    double delta[3] = {NAN, NAN, NAN}, err[3] = {NAN, NAN, NAN};
    for (int j = 0; j < 3; j++) {
        if (!ig_by_hand(m, x, x0, steps[j], NX, attr)) break;
        double total = 0;
        for (int i = 0; i < NX; i++) total += attr[i];
        delta[j] = total - change;
        double lib = ig_library(m, x, x0, 0, steps[j], XCNN_IG_RIEMANN_MIDDLE, attr_lib, NX);
        err[j] = rel_err(attr_lib, attr, NX);
        char ratio[32] = "";
        if (j) snprintf(ratio, sizeof ratio, "%.1f", delta[j - 1] / delta[j]);
        printf("  %5d  %+-16.3e  %-18s  %+.3e\n", steps[j], delta[j], ratio, lib);
    }
    xcnn_model_free(m);
    /* By hand and library add the same gradients, in another order. (Their
     * deltas differ in the 3rd digit at n = 64: delta is a small difference
     * of sums near 3, where float rounding, ~1e-7, starts to show.) */
    for (int j = 0; j < 3; j++) {
        char what[64];
        snprintf(what, sizeof what, "part 1, n = %d: xcnn_explain = IG by hand", steps[j]);
        lesson_check(L, what, err[j], 1e-4);
    }
    lesson_require(L, "part 1: |delta| shrinks ~16x per 4x points (more than 8x)",
                   fabs(delta[0]) > 8 * fabs(delta[1]) && fabs(delta[1]) > 8 * fabs(delta[2]));
    return 1;
}

/* Part 2's input: an image, as the model wants it (recipe in its
 * metadata), and the blank baseline: black, after the same normalisation. */
static int load_image(xcnn_model *m, const char *path, float *x, float *black)
{
    char err[256];
    xcnn_image img;
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *spec = xcnn_model_metadata(m, "xcnn.preprocess");
    if ((spec && xcnn_preprocess_parse(spec, &p, err, sizeof err) != XCNN_OK) ||
        xcnn_image_read(path, &img, err, sizeof err) != XCNN_OK) {
        printf("  %s\n", err);
        return 0;
    }
    int ok = xcnn_image_to_tensor(&img, &p, 1, 28, 28, x, err, sizeof err) == XCNN_OK;
    xcnn_image_free(&img);
    for (int i = 0; i < 28 * 28; i++) black[i] = (0.0f - p.mean[0]) / p.std[0];
    return ok;
}

static int part2_resnet(lesson *L, const char *dir)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/fashion_resnet.onnx", dir);
    xcnn_model *m = NULL;
    if (xcnn_model_load(path, NULL, &m, err, sizeof err) != XCNN_OK) {
        printf("  %s (run from the repository root)\n", err);
        return 0;
    }
    xcnn_model_set_threads(m, 1); /* small: one thread is fastest */
    static float x[784], x0[784], attr[784], y[10], y0[10];
    snprintf(path, sizeof path, "%s/fashion/9_Sneaker.png", dir);
    if (!load_image(m, path, x, x0) || xcnn_forward(m, x0, 1, y0) || xcnn_forward(m, x, 1, y)) {
        xcnn_model_free(m);
        return 0;
    }
    int t = 0;
    for (int k = 1; k < 10; k++) t = y[k] > y[t] ? k : t;
    double change = (double)y[t] - y0[t];
    printf("  part 2: %s, class %d: y(x) = %.3f, y(black) = %.3f, change %.3f\n", path, t, y[t],
           y0[t], change);
    const int steps[4] = {4, 16, 64, 256};
    const xcnn_ig_rule rules[2] = {XCNN_IG_RIEMANN_MIDDLE, XCNN_IG_GAUSS_LEGENDRE};
    double delta[2][4];
    printf("  %5s  %-18s  %s\n", "n", "delta (midpoint)", "delta (Gauss-Legendre, the default)");
    for (int j = 0; j < 4; j++) {
        for (int r = 0; r < 2; r++)
            delta[r][j] = ig_library(m, x, x0, t, steps[j], rules[r], attr, 784);
        printf("  %5d  %+-18.4f  %+.4f\n", steps[j], delta[0][j], delta[1][j]);
    }
    xcnn_model_free(m);
    for (int r = 0; r < 2; r++) {
        char what[128];
        double miss = fabs(delta[r][3]) / fabs(change);
        snprintf(what, sizeof what, "part 2, %s: |delta| falls 10x from n = 4 to 256",
                 r ? "Gauss-Legendre" : "midpoint");
        lesson_require(L, what, fabs(delta[r][3]) < fabs(delta[r][0]) / 10);
        /* Completeness, nearly: at n = 256 the miss is within 2% of the change. */
        snprintf(what, sizeof what, "part 2, %s: |delta| / |change| at n = 256 = %.1e < 2e-2",
                 r ? "Gauss-Legendre" : "midpoint", miss);
        lesson_require(L, what, miss < 2e-2);
    }
    return 1;
}

int main(int argc, char **argv)
{
    lesson L = {"06", 0, 0};
    printf("lesson 06: integrated gradients and completeness\n");
    if (!part1_smooth(&L) || !part2_resnet(&L, argc > 1 ? argv[1] : "data")) {
        printf("lesson 06: FAIL (could not run)\n");
        return 1;
    }
    return lesson_end(&L);
}
