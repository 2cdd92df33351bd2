/*
 * Deletion and insertion (libxcnn/evaluate/curves.c, METHODS.md "Metrics")
 * against float64 PyTorch references (tools/references/metrics.py: the
 * committed saliency and Grad-CAM maps of two fixture models, the second a
 * 14x14 / 17x17 map resized to the input), against values derived by hand
 * on built models (a constant model, a linear one with a perfect
 * attribution, an identity that reads the blur and the pixel order), for
 * batch and thread independence, and for the refusals.
 * Error measure against the references: max|ours - ref| / max|ref| over the
 * curve, tolerance 1e-4; the AUC: |ours - ref| / |ref|, tolerance 1e-4.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"
#include "../include/xcnn_eval.h"

#define TOL 1e-4

/* The settings of tools/references/metrics.py. */
static const struct {
    const char *stem, *attr;
    xcnn_curve_kind kind;
    int step;
    xcnn_score_kind score;
} cases[] = {
    {"curve_deletion_saliency", "saliency.npy", XCNN_CURVE_DELETION, 0, XCNN_SCORE_PROBABILITY},
    {"curve_insertion_saliency", "saliency.npy", XCNN_CURVE_INSERTION, 0,
     XCNN_SCORE_PROBABILITY},
    {"curve_deletion_gradcam", "gradcam.npy", XCNN_CURVE_DELETION, 10, XCNN_SCORE_LOGIT},
    {"curve_insertion_gradcam", "gradcam.npy", XCNN_CURVE_INSERTION, 10, XCNN_SCORE_LOGIT},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

/* One thread unless a test asks for more: OpenMP teams on a busy machine
 * (CI) spin, and these models are too small to gain from them. */
static xcnn_model *one_thread(xcnn_model *m)
{
    if (m) xcnn_model_set_threads(m, 1);
    return m;
}

static const char *const dirs[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn"};

/* The attribution's C x h x w from its .npy (1 x C x h x w). */
static float *load_attr(const char *dir, const char *file, int *c, int *h, int *w)
{
    char path[1024], err[512];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK || ndim != 4) {
        printf("     (%s)\n", err);
        free(data);
        return NULL;
    }
    *c = (int)dims[1];
    *h = (int)dims[2];
    *w = (int)dims[3];
    return data;
}

static double ref_auc(const float *s, int points)
{
    double sum = 0;
    for (int k = 0; k < points; k++) sum += s[k];
    int n = points - 1;
    return (sum - ((double)s[0] + (double)s[n]) / 2) / n;
}

static void test_references(const char *dir)
{
    xcnn_model *m = one_thread(fixture_model(dir));
    size_t n_in = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    int target = fixture_meta_int(dir, "target", -1);
    if (!check(m && x && target >= 0, "%s: model, input and target", dir)) goto done;
    xcnn_model_reserve(m, 4);
    for (int i = 0; i < N_CASES; i++) {
        int c = 0, h = 0, w = 0, points = 0;
        size_t n_ref = 0;
        float *attr = load_attr(dir, cases[i].attr, &c, &h, &w);
        char file[128];
        snprintf(file, sizeof file, "%s.npy", cases[i].stem);
        float *ref = fixture_npy(dir, file, &n_ref);
        xcnn_curve_options o;
        xcnn_curve_options_init(&o, cases[i].kind);
        o.target = target;
        o.step = cases[i].step;
        o.score = cases[i].score;
        if (check(attr && ref && xcnn_curve_points(m, &o, &points) == XCNN_OK &&
                      (size_t)points == n_ref,
                  "%s: %s, %zu points as the reference", dir, cases[i].stem, n_ref)) {
            float *curve = malloc(n_ref * sizeof(float));
            double auc = 0;
            xcnn_status st = xcnn_curve(m, x, attr, c, h, w, &o, curve, n_ref, &auc);
            if (check(st == XCNN_OK, "%s: %s runs (%s)", dir, cases[i].stem,
                      st ? xcnn_model_error(m) : "ok")) {
                char what[256];
                snprintf(what, sizeof what, "%s: %s (map %dx%dx%d) matches the float64 "
                         "reference", dir, cases[i].stem, c, h, w);
                check_close(what, max_rel_error(curve, ref, n_ref), TOL);
                double ra = ref_auc(ref, points);
                snprintf(what, sizeof what, "%s: %s AUC %.6g vs %.6g", dir, cases[i].stem, auc,
                         ra);
                check_close(what, fabs(auc - ra) / fabs(ra), TOL);
            }
            free(curve);
        }
        free(attr);
        free(ref);
    }
done:
    free(x);
    xcnn_model_free(m);
}

/* x[1,C,H,W] -> Flatten -> Gemm (transB: wt is K x C*H*W) + bias -> y[1,K] */
static xcnn_model *linear_model(int C, int H, int W, int K, const float *wt, const float *bias)
{
    int64_t n = (int64_t)C * H * W;
    ob_buf g = ob_new();
    ob_graph_init(&g, ob_tensor_f("w", 2, (int64_t[]){K, n}, wt));
    ob_graph_init(&g, ob_tensor_f("b", 1, (int64_t[]){K}, bias));
    ob_buf ga[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("x"), OUT("f"), NULL, 0));
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "w", "b"), OUT("y"), ga, 1));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, C, H, W}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, K}));
    ob_buf b = ob_model(13, &g);
    xcnn_model *m = NULL;
    char err[512] = "";
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "the built model loads: %s", err);
    ob_free(&b);
    return one_thread(m);
}

/* A model whose output does not depend on its input: a flat curve, AUC = it. */
static void test_constant(void)
{
    enum { C = 2, H = 5, W = 4, K = 3 };
    float wt[K * C * H * W] = {0}, bias[K] = {0.5f, 2.0f, -1.0f}, x[C * H * W], a[H * W];
    for (int i = 0; i < C * H * W; i++) x[i] = sinf(0.3f * (float)i);
    for (int i = 0; i < H * W; i++) a[i] = cosf(0.7f * (float)i);
    xcnn_model *m = linear_model(C, H, W, K, wt, bias);
    if (!m) return;
    double p1 = exp(2.0) / (exp(0.5) + exp(2.0) + exp(-1.0));
    for (int kind = 0; kind < 2; kind++)
        for (int sc = 0; sc < 2; sc++) {
            xcnn_curve_options o;
            xcnn_curve_options_init(&o, (xcnn_curve_kind)kind);
            o.score = (xcnn_score_kind)sc;
            o.step = 3; /* n = 7, the last step 2 pixels */
            float curve[8];
            double auc = -1;
            int points = 0, flat = 1;
            xcnn_curve_points(m, &o, &points);
            xcnn_status st = xcnn_curve(m, x, a, 1, H, W, &o, curve, 8, &auc);
            double want = sc ? 2.0 : p1;
            for (int k = 0; k < 8; k++) flat &= curve[k] == (float)want;
            check(st == XCNN_OK && points == 8 && flat && fabs(auc - want) <= 1e-15 * want,
                  "constant model, %s, %s: 8 points all %.9g, AUC %.17g = the constant",
                  kind ? "insertion" : "deletion", sc ? "logit" : "probability", want, auc);
        }
    xcnn_model_free(m);
}

/* y = w . x, score logit, attribution w * x (2 channels, summed into the
 * map): deleting pixel p removes both channels' terms, so s_k is the sum
 * of the map over the pixels not yet deleted. Values in quarters, so
 * float sums are exact and the curve is checked for equality. */
static void test_linear(void)
{
    enum { C = 2, H = 3, W = 4, HW = H * W, N = C * HW };
    float wt[N], bias[1] = {0}, x[N], a[N];
    for (int i = 0; i < N; i++) {
        wt[i] = 0.25f * (float)(1 + (i * 7) % 5);    /* 0.25 .. 1.25 */
        x[i] = 0.5f * (float)(1 + (i * 5) % 7);      /* 0.5 .. 3.5   */
        a[i] = wt[i] * x[i];
    }
    xcnn_model *m = linear_model(C, H, W, 1, wt, bias);
    if (!m) return;
    double map[HW], total = 0;
    for (int p = 0; p < HW; p++) total += map[p] = (double)a[p] + (double)a[HW + p];
    int steps[2] = {1, 5};
    for (int si = 0; si < 2; si++) {
        int P = steps[si], n = (HW + P - 1) / P;
        xcnn_curve_options o;
        xcnn_curve_options_init(&o, XCNN_CURVE_DELETION);
        o.score = XCNN_SCORE_LOGIT;
        o.step = P;
        float curve[HW + 1];
        double auc = 0;
        xcnn_status st = xcnn_curve(m, x, a, C, H, W, &o, curve, HW + 1, &auc);
        /* the expected curve: remove the largest remaining map values */
        double left = total, want[HW + 1], sum = 0;
        unsigned char gone[HW] = {0};
        int exact = 1, monotone = 1;
        want[0] = total;
        for (int k = 1; k <= n; k++) {
            for (int q = 0; q < P && (k - 1) * P + q < HW; q++) {
                int best = -1;
                for (int p = 0; p < HW; p++)
                    if (!gone[p] && (best < 0 || map[p] > map[best])) best = p;
                gone[best] = 1;
                left -= map[best];
            }
            want[k] = left;
        }
        for (int k = 0; k <= n; k++) {
            exact &= curve[k] == (float)want[k];
            if (k) monotone &= curve[k] < curve[k - 1];
            sum += want[k];
        }
        double auc_want = (sum - (want[0] + want[n]) / 2) / n;
        check(st == XCNN_OK && exact && monotone && want[n] == 0 && auc == auc_want,
              "linear model, perfect attribution, step %d: %d points exactly the sums left "
              "(%.4g .. 0), decreasing; AUC %.6g", P, n + 1, total, auc);
    }
    xcnn_model_free(m);
}

/* An identity model (y = x on an 11 x 11 image) reads blur(x) off the
 * first point of an insertion curve with one step (n = 1, 2 points). */
static void test_blur(void)
{
    enum { S = 11, HW = S * S };
    static const double k1h[6] = {0.0879581458, 0.0888961198, 0.0904741965, 0.0921911178,
                                  0.0934893884, 0.0939820633};
    double k1[S];
    for (int i = 0; i < S; i++) k1[i] = k1h[i < 6 ? i : 10 - i];
    float *wt = calloc(HW * HW, sizeof(float)), bias[HW] = {0}, x[HW], a[HW];
    for (int i = 0; i < HW; i++) {
        wt[i * HW + i] = 1;
        a[i] = 0;
    }
    xcnn_model *m = linear_model(1, S, S, HW, wt, bias);
    free(wt);
    if (!m) return;
    xcnn_curve_options o;
    xcnn_curve_options_init(&o, XCNN_CURVE_INSERTION);
    o.score = XCNN_SCORE_LOGIT;
    o.step = HW;
    /* centre impulse: blur = k1 k1^T; corner impulse: zero padding, no
     * reflected mass (blur[0][0] = k1[5]^2, blur[5][5] = k1[0]^2, beyond 0) */
    for (int corner = 0; corner < 2; corner++) {
        memset(x, 0, sizeof x);
        x[corner ? 0 : 5 * S + 5] = 1;
        double worst = 0;
        int ok = 1;
        for (int t = 0; t < HW && ok; t++) {
            int r = t / S, c = t % S;
            double want = corner ? (r <= 5 && c <= 5 ? k1[r + 5] * k1[c + 5] : 0)
                                 : k1[r] * k1[c];
            float curve[2];
            o.target = t;
            ok = xcnn_curve(m, x, a, 1, S, S, &o, curve, 2, NULL) == XCNN_OK &&
                 curve[1] == x[t];
            double e = fabs((double)curve[0] - want);
            if (e > worst) worst = e;
            if (want == 0) ok &= curve[0] == 0;
        }
        char what[200];
        snprintf(what, sizeof what, "blur of a %s impulse is k1 k1^T with METHODS.md's k1 "
                 "(max abs error over the 121 pixels)", corner ? "corner (zero padding)" :
                 "centre");
        if (check(ok, "%s: the runs succeed, the last point is x", what))
            check_close(what, worst, 1e-9);
    }
    xcnn_model_free(m);
}

/* Ties go to the lower flat index: with y = x (6 pixels, all 1) and step
 * 1, class t's deletion curve drops to 0 at the step its pixel is deleted. */
static void test_ties(void)
{
    enum { H = 2, W = 3, HW = H * W };
    float wt[HW * HW] = {0}, bias[HW] = {0}, x[HW], a[HW] = {1, 2, 1, 2, 0, 0},
          zeros[HW] = {0};
    for (int i = 0; i < HW; i++) {
        wt[i * HW + i] = 1;
        x[i] = 1;
    }
    xcnn_model *m = linear_model(1, H, W, HW, wt, bias);
    if (!m) return;
    static const int pos_mixed[HW] = {2, 0, 3, 1, 4, 5}; /* order 1, 3, 0, 2, 4, 5 */
    for (int all = 0; all < 2; all++) {
        int ok = 1;
        for (int t = 0; t < HW; t++) {
            xcnn_curve_options o;
            xcnn_curve_options_init(&o, XCNN_CURVE_DELETION);
            o.score = XCNN_SCORE_LOGIT;
            o.step = 1;
            o.target = t;
            float curve[HW + 1];
            ok &= xcnn_curve(m, x, all ? zeros : a, 1, H, W, &o, curve, HW + 1, NULL) == XCNN_OK;
            int pos = all ? t : pos_mixed[t];
            for (int k = 0; k <= HW; k++) ok &= curve[k] == (k <= pos ? 1.0f : 0.0f);
        }
        check(ok, "ties go to the lower flat index (%s)",
              all ? "an all-zero map: pixels 0..5 in turn" : "map 1 2 1 2 0 0: 1 3 0 2 4 5");
    }
    xcnn_model_free(m);
}

/* The same curve, to the bit, for any reserved batch and thread count;
 * target -1 is the arg-max. */
static void test_invariance(const char *dir, int step)
{
    size_t n_in = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    int c = 0, h = 0, w = 0, argmax = fixture_meta_int(dir, "argmax", -1);
    float *attr = load_attr(dir, "gradcam.npy", &c, &h, &w);
    xcnn_model *m = one_thread(fixture_model(dir));
    if (!check(m && x && attr && argmax >= 0, "%s: model, input, map", dir)) goto done;
    for (int kind = 0; kind < 2; kind++) {
        xcnn_curve_options o;
        xcnn_curve_options_init(&o, (xcnn_curve_kind)kind);
        o.step = step;
        int points = 0;
        xcnn_curve_points(m, &o, &points);
        float *base = malloc((size_t)points * sizeof(float)),
              *other = malloc((size_t)points * sizeof(float));
        double auc0 = 0, auc = 0;
        xcnn_model_set_threads(m, 1);
        xcnn_model_reserve(m, 1);
        xcnn_status st = xcnn_curve(m, x, attr, c, h, w, &o, base, (size_t)points, &auc0);
        static const struct { int batch, threads; } runs[] = {{5, 1}, {3, 2}, {1, 2}, {5, 2}};
        for (int r = 0; r < 4; r++) {
            xcnn_model_set_threads(m, runs[r].threads);
            xcnn_model_reserve(m, runs[r].batch);
            st |= xcnn_curve(m, x, attr, c, h, w, &o, other, (size_t)points, &auc);
            check(st == XCNN_OK && !memcmp(base, other, (size_t)points * sizeof(float)) &&
                      auc == auc0,
                  "%s: %s, batch %d threads %d: the same bits as batch 1 thread 1", dir,
                  kind ? "insertion" : "deletion", runs[r].batch, runs[r].threads);
        }
        o.target = argmax;
        xcnn_model_set_threads(m, 1);
        st |= xcnn_curve(m, x, attr, c, h, w, &o, other, (size_t)points, &auc);
        check(st == XCNN_OK && !memcmp(base, other, (size_t)points * sizeof(float)),
              "%s: %s, target -1 is the arg-max %d", dir, kind ? "insertion" : "deletion",
              argmax);
        free(base);
        free(other);
    }
done:
    free(x);
    free(attr);
    xcnn_model_free(m);
}

static void refused(xcnn_model *m, const float *x, const float *a, int c, int h, int w,
                    const xcnn_curve_options *o, size_t len, xcnn_status want, const char *needle,
                    const char *what)
{
    float curve[1024];
    xcnn_status st = xcnn_curve(m, x, a, c, h, w, o, curve, len, NULL);
    const char *msg = xcnn_model_error(m);
    check(st == want && strstr(msg, needle) != NULL, "refused: %s (%s)", what, msg);
}

static void test_refusals(void)
{
    const char *dir = "tests/fixtures/plaincnn"; /* 1 x 28 x 28 */
    xcnn_model *m = one_thread(fixture_model(dir));
    size_t n_in = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    float *a = calloc(2 * 29 * 29, sizeof(float));
    if (!check(m && x && a, "plaincnn for the refusals")) goto done;
    xcnn_curve_options o;
    xcnn_curve_options_init(&o, XCNN_CURVE_DELETION);
    refused(m, x, a, 1, 29, 28, &o, 1024, XCNN_ERR_SHAPE, "at most 28 x 28", "a taller map");
    refused(m, x, a, 1, 28, 29, &o, 1024, XCNN_ERR_SHAPE, "at most 28 x 28", "a wider map");
    refused(m, x, a, 2, 28, 28, &o, 1024, XCNN_ERR_SHAPE, "must be 1 channel of", "2 channels of 1");
    refused(m, x, a, 1, 0, 28, &o, 1024, XCNN_ERR_SHAPE, "attribution is 1 x 0 x 28",
            "an empty map");
    a[100] = NAN;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_NUMERIC, "attribution element 100 is NaN",
            "a NaN in the map");
    a[100] = INFINITY;
    refused(m, x, a, 1, 14, 14, &o, 1024, XCNN_ERR_NUMERIC, "element 100 is infinite",
            "an Inf in a small map");
    a[100] = 0;
    x[3] = NAN;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_NUMERIC, "input element 3 is NaN",
            "a NaN in the input");
    x[3] = 0;
    o.step = -1;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "step must be 1..784", "step -1");
    o.step = 785;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "step must be 1..784", "step 785");
    o.step = 0;
    refused(m, x, a, 1, 28, 28, &o, 196, XCNN_ERR_ARG, "curve holds 196 floats, 197 needed",
            "a curve one short");
    o.target = 10;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "target 10 is out of range",
            "target 10 of 10");
    o.target = -2;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "target -2", "target -2");
    o.target = -1;
    o.kind = (xcnn_curve_kind)2;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "unknown curve kind", "kind 2");
    o.kind = XCNN_CURVE_DELETION;
    o.score = (xcnn_score_kind)5;
    refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "unknown score kind", "score 5");
    o.score = XCNN_SCORE_PROBABILITY;
    int points = 0;
    xcnn_status st = xcnn_curve_points(m, &o, &points);
    check(st == XCNN_OK && points == 197, "28 x 28, default step 4: 197 points (got %d)", points);
    o.step = 784;
    st = xcnn_curve_points(m, &o, &points);
    check(st == XCNN_OK && points == 2, "step 784: 2 points (got %d)", points);
    o.step = 0;
    check(xcnn_curve(m, NULL, a, 1, 28, 28, &o, a, 1024, NULL) == XCNN_ERR_ARG &&
              xcnn_curve_points(m, NULL, &points) == XCNN_ERR_ARG,
          "NULL input or options refused (%s)", xcnn_model_error(m));
    xcnn_model_free(m);
    m = one_thread(fixture_model("tests/fixtures/rescnn_bn")); /* 3 x 32 x 32 */
    float *x3 = calloc(3 * 32 * 32, sizeof(float)), *a3 = calloc(3 * 32 * 32, sizeof(float));
    if (check(m && x3 && a3, "rescnn_bn for the channel refusal"))
        refused(m, x3, a3, 2, 32, 32, &o, 1024, XCNN_ERR_SHAPE, "must be 1 or 3 channels",
                "2 channels of 3");
    free(x3);
    free(a3);
    xcnn_model_free(m);
    m = NULL;

    /* inference_only: no explainer workspace */
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = 1;
    char err[512] = "";
    if (xcnn_model_load("tests/fixtures/plaincnn/model.onnx", &lo, &m, err, sizeof err) ==
        XCNN_OK)
        refused(m, x, a, 1, 28, 28, &o, 1024, XCNN_ERR_ARG, "inference only",
                "an inference_only model");
    else
        check(0, "load inference_only: %s", err);
    xcnn_model_free(m);
    m = NULL;

    /* a 2-D input */
    float wt[4] = {1, 1, 1, 1}, b[1] = {0};
    ob_buf g = ob_new();
    ob_graph_init(&g, ob_tensor_f("w", 2, (int64_t[]){1, 4}, wt));
    ob_graph_init(&g, ob_tensor_f("b", 1, (int64_t[]){1}, b));
    ob_buf ga[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("x", "w", "b"), OUT("y"), ga, 1));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 1}));
    ob_buf bb = ob_model(13, &g);
    if (xcnn_model_load_memory(bb.p, bb.n, NULL, &m, err, sizeof err) == XCNN_OK) {
        refused(m, x, a, 1, 1, 4, &o, 1024, XCNN_ERR_SHAPE, "NxCxHxW", "a 1x4 input");
        check(xcnn_curve_points(m, &o, &points) == XCNN_ERR_SHAPE,
              "xcnn_curve_points refuses a 1x4 input too");
    } else {
        check(0, "load a 2-D-input model: %s", err);
    }
    ob_free(&bb);
done:
    xcnn_model_free(m);
    free(x);
    free(a);
}

int main(void)
{
    for (int i = 0; i < 2; i++) test_references(dirs[i]);
    test_constant();
    test_linear();
    test_blur();
    test_ties();
    test_invariance(dirs[0], 7);  /* 113 points */
    test_invariance(dirs[1], 32); /* 33 points  */
    test_refusals();
    return check_summary();
}
