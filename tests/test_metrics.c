/*
 * The metrics of include/xcnn_eval.h beyond the curves (libxcnn/evaluate/
 * similarity.c, sanity.c, invariance.c, infidelity.c, sensitivity.c):
 *  - Spearman and SSIM against float64 references (tools/references/
 *    metrics.py: two real maps of each fixture model, one quantised to 8
 *    levels for ties; absolute error <= 1e-6) and values worked by hand;
 *  - the sanity check: its steps go from the output layer down, one per
 *    layer, BatchNorm included; the user's model is unchanged (its output
 *    bit for bit); the same seed gives the same numbers, another seed others;
 *  - input invariance on a model whose first Conv does not pad: gradient
 *    and Grad-CAM pass, input x gradient and zero-baseline IG fail, IG with
 *    shifted baselines passes, with or without a bias in that Conv; a
 *    padding first Conv is refused;
 *  - infidelity and sensitivity with the reference's perturbations given:
 *    max relative error |ours - ref| / |ref| <= 1e-4 (infidelity) and
 *    5e-4 (sensitivity); infidelity of the exact attribution of a linear
 *    model is 0; batch and thread independence; seeded draws reproducible;
 *  - refusals with messages.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"
#include "../include/xcnn_eval.h"

static const char *const dirs[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn"};

static xcnn_model *one_thread(xcnn_model *m)
{
    if (m) xcnn_model_set_threads(m, 1);
    return m;
}

/* ---- Spearman and SSIM ------------------------------------------------ */

static void test_similarity_refs(const char *dir)
{
    size_t na = 0, nb = 0, nq = 0, nr = 0;
    float *a = fixture_npy(dir, "similarity_a.npy", &na);
    float *b = fixture_npy(dir, "similarity_b.npy", &nb);
    float *q = fixture_npy(dir, "similarity_q.npy", &nq);
    float *ref = fixture_npy(dir, "similarity_ref.npy", &nr);
    xcnn_model *m = fixture_model(dir);
    xcnn_tensor_view in;
    if (!check(a && b && q && ref && m && na == nb && na == nq && nr == 6 &&
                   xcnn_model_input(m, &in) == XCNN_OK,
               "%s: similarity fixtures", dir))
        goto done;
    int H = (int)in.dims[2], W = (int)in.dims[3];
    float *aa = malloc(na * sizeof(float)), *ab = malloc(na * sizeof(float)),
          *qr = malloc(na * sizeof(float));
    for (size_t i = 0; i < na; i++) {
        aa[i] = fabsf(a[i]);
        ab[i] = fabsf(b[i]);
    }
    for (int r = 0; r < H; r++) memcpy(qr + (size_t)r * W, q + (size_t)(H - 1 - r) * W, W * sizeof(float));
    double v[6] = {0};
    char err[256] = "";
    int ok = !xcnn_spearman(aa, ab, na, &v[0], err, sizeof err) &&
             !xcnn_spearman(q, b, na, &v[1], err, sizeof err) &&
             !xcnn_spearman(q, qr, na, &v[2], err, sizeof err) &&
             !xcnn_ssim(a, b, H, W, &v[3], err, sizeof err) &&
             !xcnn_ssim(q, b, H, W, &v[4], err, sizeof err) &&
             !xcnn_ssim(a, a, H, W, &v[5], err, sizeof err);
    if (check(ok, "%s: spearman and ssim run %s", dir, err)) {
        static const char *what[6] = {"spearman(|a|, |b|)", "spearman(q, b) (ties)",
                                      "spearman(q, q upside down) (ties both sides)",
                                      "ssim(a, b)", "ssim(q, b)", "ssim(a, a)"};
        for (int k = 0; k < 6; k++) {
            char line[160];
            snprintf(line, sizeof line, "%s: %s = %.6f against the reference %.6f", dir,
                     what[k], v[k], (double)ref[k]);
            check_close(line, fabs(v[k] - (double)ref[k]), 1e-6);
        }
    }
    free(aa), free(ab), free(qr);
done:
    free(a), free(b), free(q), free(ref);
    xcnn_model_free(m);
}

static void test_similarity_hand(void)
{
    double r = 0, s = 0;
    const float up[5] = {1, 2, 3, 4, 5}, sq[5] = {1, 4, 9, 16, 25}, down[5] = {5, 4, 3, 2, 1};
    const float t1[4] = {1, 2, 2, 3}, t2[4] = {1, 2, 3, 4}, flat[5] = {2, 2, 2, 2, 2};
    xcnn_status st = xcnn_spearman(up, sq, 5, &r, NULL, 0);
    check(!st && r == 1.0, "spearman of a monotone map is 1 (%g)", r);
    st = xcnn_spearman(up, down, 5, &r, NULL, 0);
    check(!st && r == -1.0, "spearman of a reversed map is -1 (%g)", r);
    st = xcnn_spearman(t1, t2, 4, &r, NULL, 0);
    check(!st && fabs(r - 4.5 / sqrt(22.5)) < 1e-15,
          "spearman with a tie: ranks 1, 2.5, 2.5, 4 give 4.5/sqrt(22.5) (%.15f)", r);
    st = xcnn_spearman(flat, up, 5, &r, NULL, 0);
    check(!st && r == 0.0, "spearman with a constant map is 0 (%g)", r);
    enum { N = 12 };
    float a[N * N], b[N * N], c[N * N];
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)((i * 37) % 11);
        b[i] = 3 * a[i] + 7; /* the same map once min-max scaled */
        c[i] = 5;
    }
    st = xcnn_ssim(a, b, N, N, &s, NULL, 0);
    check(!st && fabs(s - 1) < 1e-12,
          "ssim of a map and an affine copy of it is 1 (%.15f)", s);
    double s2 = 0;
    st = xcnn_ssim(a, c, N, N, &s2, NULL, 0);
    check(!st && s2 < 0.1,
          "ssim of a map and a constant one is near 0 (%g)", s2);
    char err[256] = "";
    check(xcnn_ssim(a, b, 10, 14, &s, err, sizeof err) == XCNN_ERR_SHAPE && strstr(err, "11"),
          "ssim of 10-row maps is refused: %s", err);
    a[7] = NAN;
    check(xcnn_spearman(a, b, N * N, &r, err, sizeof err) == XCNN_ERR_NUMERIC && strstr(err, "NaN"),
          "spearman refuses a NaN: %s", err);
    check(xcnn_ssim(a, b, N, N, &s, err, sizeof err) == XCNN_ERR_NUMERIC,
          "ssim refuses a NaN: %s", err);
    check(xcnn_spearman(up, sq, 1, &r, err, sizeof err) == XCNN_ERR_ARG,
          "spearman of one value is refused: %s", err);
    check(xcnn_spearman(NULL, sq, 5, &r, err, sizeof err) == XCNN_ERR_ARG, "spearman refuses NULL: %s", err);
}

/* ---- Sanity check ------------------------------------------------------ */

static void test_sanity(const char *dir, int want_layers, const char *last_layer,
                        const char *bn_layer)
{
    xcnn_model *m = one_thread(fixture_model(dir));
    size_t n_in = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    if (!check(m && x, "%s: model and input", dir)) goto done;
    int L = -1;
    xcnn_status st = xcnn_sanity_layers(m, &L);
    check(!st && L == want_layers, "%s: %d layers to randomize (want %d)", dir,
          L, want_layers);
    if (L < 1) goto done;
    float y0[16], y1[16];
    xcnn_forward(m, x, 1, y0);
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    xcnn_sanity_options so;
    xcnn_sanity_options_init(&so);
    xcnn_sanity_step *s1 = calloc((size_t)L, sizeof *s1), *s2 = calloc((size_t)L, sizeof *s2),
                     *s3 = calloc((size_t)L, sizeof *s3);
    int n1 = 0, n2 = 0, f1 = -1;
    st = xcnn_sanity(m, x, &eo, &so, s1, L, &n1, &f1);
    if (!check(st == XCNN_OK && n1 == L, "%s: sanity runs, %d steps (%s)", dir, n1, xcnn_model_error(m)))
        goto free_steps;
    check(!strcmp(s1[0].layer, last_layer), "%s: the first step re-initialises the output layer "
          "'%s' (%s)", dir, last_layer, s1[0].layer);
    int in_range = 1, has_bn = 0;
    for (int k = 0; k < L; k++) {
        in_range &= fabs(s1[k].spearman) <= 1 && fabs(s1[k].ssim) <= 1;
        has_bn |= bn_layer && !strcmp(s1[k].layer, bn_layer);
    }
    check(in_range, "%s: every spearman and ssim in [-1, 1]", dir);
    if (bn_layer) check(has_bn, "%s: BatchNormalization '%s' is a step", dir, bn_layer);
    double msp = 0, mss = 0;
    for (int k = 0; k < L; k++) msp += s1[k].spearman / L, mss += s1[k].ssim / L;
    check(f1 == 0 && msp < 0.5 && mss < 0.5, "%s: saliency's map does not survive randomization "
          "(mean spearman %.3f, ssim %.3f: not flagged)", dir, msp, mss);
    xcnn_forward(m, x, 1, y1);
    check(!memcmp(y0, y1, sizeof(float) * 10), "%s: the user's model gives the same output bits "
          "after the sanity check", dir);
    xcnn_sanity(m, x, &eo, &so, s2, L, &n2, NULL);
    check(n2 == L && !memcmp(s1, s2, (size_t)L * sizeof *s1), "%s: the same seed gives the same "
          "steps, bit for bit", dir);
    so.seed = 12345;
    xcnn_sanity(m, x, &eo, &so, s3, L, NULL, NULL);
    check(s3[L - 1].spearman != s1[L - 1].spearman, "%s: another seed, other weights (%.4f vs "
          "%.4f)", dir, s3[L - 1].spearman, s1[L - 1].spearman);
    /* guided backprop survives (Adebayo et al.'s finding) */
    xcnn_explain_options_init(&eo, XCNN_GUIDED_BACKPROP);
    int f2 = -1;
    st = xcnn_sanity(m, x, &eo, &so, s2, L, &n2, &f2);
    double gss = 0;
    for (int k = 0; k < L; k++) gss += s2[k].ssim / L;
    check(st == XCNN_OK && f2 == (gss >= 0.5), "%s: guided backprop flagged %d, as its mean ssim "
          "%.3f says", dir, f2, gss);
    /* Grad-CAM on its default layer, a smaller map resized */
    xcnn_explain_options_init(&eo, XCNN_GRADCAM);
    st = xcnn_sanity(m, x, &eo, &so, s2, L, &n2, NULL);
    check(st == XCNN_OK, "%s: sanity of Grad-CAM runs (%s)", dir, xcnn_model_error(m));
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    check(xcnn_sanity(m, x, &eo, &so, s2, L - 1, &n2, NULL) == XCNN_ERR_ARG &&
              strstr(xcnn_model_error(m), "layers"),
          "%s: steps too small is refused: %s", dir, xcnn_model_error(m));
    {
        xcnn_load_options lo;
        memset(&lo, 0, sizeof lo);
        lo.inference_only = 1;
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        xcnn_model *mi = NULL;
        xcnn_model_load(path, &lo, &mi, err, sizeof err);
        check(mi && xcnn_sanity(mi, x, &eo, &so, s2, L, &n2, NULL) == XCNN_ERR_ARG,
              "%s: an inference_only model is refused: %s", dir, mi ? xcnn_model_error(mi) : err);
        xcnn_model_free(mi);
    }
    check(xcnn_sanity(m, NULL, &eo, &so, s2, L, &n2, NULL) == XCNN_ERR_ARG,
          "%s: a NULL input is refused: %s", dir, xcnn_model_error(m));
    x[3] = NAN;
    check(xcnn_sanity(m, x, &eo, &so, s2, L, &n2, NULL) == XCNN_ERR_NUMERIC,
          "%s: a NaN input is refused: %s", dir, xcnn_model_error(m));
free_steps:
    free(s1), free(s2), free(s3);
done:
    free(x);
    xcnn_model_free(m);
}

/* ---- Input invariance -------------------------------------------------- */

/* x[1,2,14,14] -> Conv(4, 3x3, pads p, bias or not) -> Relu -> Conv(4, 3x3,
 * pad 1) -> Relu ("feat") -> GlobalAveragePool -> Flatten -> Gemm(3). */
static xcnn_model *shift_model(int pad, int bias)
{
    enum { C = 2, H = 14, W = 14, F = 4, K = 3 };
    float w1[F * C * 9], b1[F], w2[F * F * 9], b2[F], wf[K * F], bf[K];
    for (int i = 0; i < F * C * 9; i++) w1[i] = 0.6f * sinf(1.3f * (float)i + 0.4f);
    for (int i = 0; i < F; i++) b1[i] = 0.1f * (float)i - 0.1f, b2[i] = 0.05f * (float)i;
    for (int i = 0; i < F * F * 9; i++) w2[i] = (float)(((i * 5) % 11) - 5) / 8.0f;
    for (int i = 0; i < K * F; i++) wf[i] = (float)(((i * 3) % 7) - 3) / 3.0f;
    for (int i = 0; i < K; i++) bf[i] = 0.01f * (float)i;
    ob_buf g = ob_new();
    ob_graph_init(&g, ob_tensor_f("w1", 4, (int64_t[]){F, C, 3, 3}, w1));
    ob_graph_init(&g, ob_tensor_f("b1", 1, (int64_t[]){F}, b1));
    ob_graph_init(&g, ob_tensor_f("w2", 4, (int64_t[]){F, F, 3, 3}, w2));
    ob_graph_init(&g, ob_tensor_f("b2", 1, (int64_t[]){F}, b2));
    ob_graph_init(&g, ob_tensor_f("wf", 2, (int64_t[]){K, F}, wf));
    ob_graph_init(&g, ob_tensor_f("bf", 1, (int64_t[]){K}, bf));
    int64_t p1[4] = {pad, pad, pad, pad}, p2[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
    ob_buf c1[] = {ob_attr_ints("kernel_shape", ks, 2), ob_attr_ints("pads", p1, 4)};
    ob_buf c2[] = {ob_attr_ints("kernel_shape", ks, 2), ob_attr_ints("pads", p2, 4)};
    ob_buf ga[] = {ob_attr_int("transB", 1)};
    if (bias) ob_graph_node(&g, ob_node("Conv", "conv1", IN("x", "w1", "b1"), OUT("c1"), c1, 2));
    else ob_graph_node(&g, ob_node("Conv", "conv1", IN("x", "w1"), OUT("c1"), c1, 2));
    ob_graph_node(&g, ob_node("Relu", "relu1", IN("c1"), OUT("r1"), NULL, 0));
    ob_graph_node(&g, ob_node("Conv", "conv2", IN("r1", "w2", "b2"), OUT("c2"), c2, 2));
    ob_graph_node(&g, ob_node("Relu", "relu2", IN("c2"), OUT("feat"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("feat"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "wf", "bf"), OUT("y"), ga, 1));
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

static void test_invariance(int bias)
{
    xcnn_model *m = shift_model(0, bias);
    enum { N = 2 * 14 * 14 };
    float x[N];
    /* off any lattice: no pre-activation lands on a ReLU's kink in one model
     * and beside it in the other */
    for (int i = 0; i < N; i++) x[i] = 0.9f * sinf(0.37f * (float)i + 0.2f);
    if (!check(m != NULL, "invariance model (bias %d) loads", bias)) return;
    xcnn_model_reserve(m, 2); /* deeplift runs x and its baseline as one batch */
    static const struct {
        xcnn_method method;
        int shift_baselines, want_pass;
        const char *name;
    } cases[] = {
        {XCNN_SALIENCY, 0, 1, "saliency"},
        {XCNN_GRADCAM, 0, 1, "grad-cam"},
        {XCNN_GUIDED_BACKPROP, 0, 1, "guided backprop"},
        {XCNN_INPUT_X_GRADIENT, 0, 0, "input x gradient"},
        {XCNN_INTEGRATED_GRADIENTS, 0, 0, "integrated gradients, zero baseline"},
        {XCNN_INTEGRATED_GRADIENTS, 1, 1, "integrated gradients, baseline shifted too"},
        {XCNN_DEEPLIFT, 1, 1, "deeplift, baseline shifted too"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        xcnn_explain_options eo;
        xcnn_explain_options_init(&eo, cases[k].method);
        xcnn_invariance_options io;
        xcnn_invariance_options_init(&io);
        io.shift_baselines = cases[k].shift_baselines;
        double rel = -1;
        int pass = -1;
        xcnn_status st = xcnn_input_invariance(m, x, &eo, &io, &rel, &pass);
        check(st == XCNN_OK && pass == cases[k].want_pass && (pass ? rel <= 1e-4 : rel > 1e-2),
              "bias %d: %s %s input invariance (max rel diff %.3g) %s", bias, cases[k].name,
              cases[k].want_pass ? "passes" : "fails", rel, st ? xcnn_model_error(m) : "");
    }
    /* a per-channel shift of the user's */
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    xcnn_invariance_options io;
    xcnn_invariance_options_init(&io);
    const float shift[2] = {0.75f, -2.5f};
    io.shift = shift;
    double rel = -1;
    int pass = -1;
    xcnn_status st = xcnn_input_invariance(m, x, &eo, &io, &rel, &pass);
    check(!st && pass == 1,
          "bias %d: saliency passes with the shift (0.75, -2.5) (%.3g)", bias, rel);
    xcnn_model_free(m);
}

/* A first Conv that pads, with pad_with_shift: the shifted model pads with m. */
static void test_invariance_padded(void)
{
    xcnn_model *m = shift_model(1, 0);
    enum { N = 2 * 14 * 14 };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = 0.9f * sinf(0.37f * (float)i + 0.2f);
    if (!check(m != NULL, "padded invariance model loads")) return;
    static const struct {
        xcnn_method method;
        int want_pass;
        const char *name;
    } cases[] = {
        {XCNN_SALIENCY, 1, "saliency"},
        {XCNN_GRADCAM, 1, "grad-cam"},
        {XCNN_INPUT_X_GRADIENT, 0, "input x gradient"},
    };
    xcnn_invariance_options io;
    xcnn_invariance_options_init(&io);
    io.pad_with_shift = 1;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        xcnn_explain_options eo;
        xcnn_explain_options_init(&eo, cases[k].method);
        double rel = -1;
        int pass = -1;
        xcnn_status st = xcnn_input_invariance(m, x, &eo, &io, &rel, &pass);
        check(st == XCNN_OK && pass == cases[k].want_pass,
              "padding first Conv, pad_with_shift: %s %s (max rel diff %.3g) %s", cases[k].name,
              cases[k].want_pass ? "passes" : "fails", rel, st ? xcnn_model_error(m) : "");
    }
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    const float same[2] = {0.5f, 0.5f}, other[2] = {0.5f, -1.0f};
    double rel = -1;
    int pass = -1;
    io.shift = same;
    xcnn_status st = xcnn_input_invariance(m, x, &eo, &io, &rel, &pass);
    check(!st && pass == 1, "pad_with_shift with the shift (0.5, 0.5) passes (%.3g)", rel);
    io.shift = other;
    st = xcnn_input_invariance(m, x, &eo, &io, &rel, &pass);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(xcnn_model_error(m), "same in every channel"),
          "pad_with_shift with a shift that differs by channel is refused: %s",
          xcnn_model_error(m));
    xcnn_model_free(m);
}

static void test_invariance_refused(void)
{
    xcnn_model *m = shift_model(1, 1);
    float x[2 * 14 * 14] = {0};
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    double rel = 0;
    int pass = 0;
    check(m && xcnn_input_invariance(m, x, &eo, NULL, &rel, &pass) == XCNN_ERR_UNSUPPORTED &&
              strstr(xcnn_model_error(m), "pads"),
          "a first Conv that pads is refused: %s", m ? xcnn_model_error(m) : "");
    xcnn_model_free(m);
    m = shift_model(0, 1);
    const float bad[2] = {NAN, 0};
    xcnn_invariance_options io;
    xcnn_invariance_options_init(&io);
    io.shift = bad;
    check(m && xcnn_input_invariance(m, x, &eo, &io, &rel, &pass) == XCNN_ERR_NUMERIC,
          "a NaN shift is refused: %s", m ? xcnn_model_error(m) : "");
    check(m && xcnn_input_invariance(m, x, NULL, NULL, &rel, &pass) == XCNN_ERR_ARG,
          "NULL options are refused: %s", m ? xcnn_model_error(m) : "");
    xcnn_model_free(m);
}

/* ---- Infidelity and sensitivity --------------------------------------- */

static float *load4(const char *dir, const char *file, int *c, int *h, int *w)
{
    char path[1024], err[512];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK || ndim != 4) {
        free(data);
        return NULL;
    }
    *c = (int)dims[1], *h = (int)dims[2], *w = (int)dims[3];
    return data;
}

static void test_infidelity(const char *dir)
{
    xcnn_model *m = one_thread(fixture_model(dir));
    size_t n_in = 0, np = 0, nr = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    float *pert = fixture_npy(dir, "infidelity_perturb.npy", &np);
    float *ref = fixture_npy(dir, "infidelity_ref.npy", &nr);
    int target = fixture_meta_int(dir, "target", -1);
    int c[2], h[2], w[2];
    float *a[2] = {load4(dir, "input_x_gradient.npy", &c[0], &h[0], &w[0]),
                   load4(dir, "gradcam.npy", &c[1], &h[1], &w[1])};
    if (!check(m && x && pert && ref && nr == 2 && a[0] && a[1] && target >= 0,
               "%s: infidelity fixtures", dir))
        goto done;
    xcnn_infidelity_options o;
    xcnn_infidelity_options_init(&o);
    o.target = target;
    o.samples = (int)(np / n_in);
    o.perturbations = pert;
    double v1[2] = {0}, v3 = 0;
    for (int k = 0; k < 2; k++) {
        xcnn_status st = xcnn_infidelity(m, x, a[k], c[k], h[k], w[k], &o, &v1[k]);
        char line[200];
        snprintf(line, sizeof line, "%s: infidelity of the %s map (%d x %d x %d) = %.6g against "
                 "the float64 reference %.6g%s", dir, k ? "Grad-CAM" : "input x gradient", c[k],
                 h[k], w[k], v1[k], (double)ref[k], st ? xcnn_model_error(m) : "");
        check_close(line, st ? 1 : fabs(v1[k] - ref[k]) / fabs(ref[k]), 1e-4);
    }
    xcnn_model_reserve(m, 3);
    xcnn_model_set_threads(m, 2);
    xcnn_infidelity(m, x, a[1], c[1], h[1], w[1], &o, &v3);
    check(v3 == v1[1], "%s: infidelity at batch 3, 2 threads has the same bits (%.17g)", dir, v3);
    /* seeded draws */
    o.perturbations = NULL;
    o.stdev = 0.05f;
    o.seed = 7;
    double s1 = 0, s2 = 0, s3 = 0;
    xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s1);
    xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s2);
    o.seed = 8;
    xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s3);
    check(s1 == s2 && s1 != s3 && s1 > 0, "%s: seeded infidelity: the same seed the same bits, "
          "another seed another value (%.6g, %.6g)", dir, s1, s3);
    /* refusals */
    o.stdev = -1;
    check(xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s1) == XCNN_ERR_ARG,
          "%s: a negative stdev is refused: %s", dir, xcnn_model_error(m));
    o.stdev = 0.05f;
    o.samples = 0;
    check(xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s1) == XCNN_ERR_ARG,
          "%s: 0 samples are refused: %s", dir, xcnn_model_error(m));
    o.samples = 10;
    check(xcnn_infidelity(m, x, a[0], 2, h[0], w[0], &o, &s1) == XCNN_ERR_SHAPE,
          "%s: a 2-channel attribution is refused: %s", dir, xcnn_model_error(m));
    o.target = 10;
    check(xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s1) == XCNN_ERR_ARG,
          "%s: target 10 of 10 outputs is refused: %s", dir, xcnn_model_error(m));
    o.target = -1;
    a[0][5] = INFINITY;
    check(xcnn_infidelity(m, x, a[0], c[0], h[0], w[0], &o, &s1) == XCNN_ERR_NUMERIC,
          "%s: an infinite attribution is refused: %s", dir, xcnn_model_error(m));
done:
    free(x), free(pert), free(ref), free(a[0]), free(a[1]);
    xcnn_model_free(m);
}

/* A linear model's exact attribution (the target's weights): INFD = 0. */
static void test_infidelity_linear(void)
{
    enum { C = 1, H = 4, W = 5, K = 2, N = C * H * W };
    float wt[K * N], b[K] = {0.5f, -0.25f}, x[N];
    for (int i = 0; i < K * N; i++) wt[i] = (float)((i * 13) % 9 - 4) / 4.0f;
    for (int i = 0; i < N; i++) x[i] = (float)(i % 7) / 7.0f;
    ob_buf g = ob_new();
    ob_graph_init(&g, ob_tensor_f("w", 2, (int64_t[]){K, N}, wt));
    ob_graph_init(&g, ob_tensor_f("b", 1, (int64_t[]){K}, b));
    ob_buf ga[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("x"), OUT("f"), NULL, 0));
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "w", "b"), OUT("y"), ga, 1));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, C, H, W}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, K}));
    ob_buf bb = ob_model(13, &g);
    xcnn_model *m = NULL;
    char err[512] = "";
    xcnn_model_load_memory(bb.p, bb.n, NULL, &m, err, sizeof err);
    ob_free(&bb);
    if (!check(m != NULL, "linear model loads %s", err)) return;
    xcnn_infidelity_options o;
    xcnn_infidelity_options_init(&o);
    o.target = 1;
    o.stdev = 0.01f;
    double v = -1;
    xcnn_status st = xcnn_infidelity(m, x, wt + N, C, H, W, &o, &v);
    check(st == XCNN_OK && v < 1e-12, "infidelity of a linear model's exact attribution is 0 "
          "(%.3g)", v);
    float half[N];
    for (int i = 0; i < N; i++) half[i] = wt[N + i] / 2;
    double v2 = 0;
    xcnn_infidelity(m, x, half, C, H, W, &o, &v2);
    check(v2 > 1e3 * (v > 1e-30 ? v : 1e-30) || (v == 0 && v2 > 0),
          "and the attribution halved is not (%.3g)", v2);
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    double rel = 0;
    int pass = 0;
    st = xcnn_input_invariance(m, x, &eo, NULL, &rel, &pass);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(xcnn_model_error(m), "one Conv alone"),
          "input invariance of a model whose input goes to a Flatten is refused: %s",
          xcnn_model_error(m));
    xcnn_model_free(m);
}

static void test_sensitivity(const char *dir)
{
    xcnn_model *m = one_thread(fixture_model(dir));
    size_t n_in = 0, np = 0, nr = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    float *pert = fixture_npy(dir, "sensitivity_perturb.npy", &np);
    float *ref = fixture_npy(dir, "sensitivity_ref.npy", &nr);
    int target = fixture_meta_int(dir, "target", -1);
    if (!check(m && x && pert && ref && nr == 1 && target >= 0, "%s: sensitivity fixtures", dir))
        goto done;
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_SALIENCY);
    eo.target = target;
    xcnn_sensitivity_options o;
    xcnn_sensitivity_options_init(&o);
    o.samples = (int)(np / n_in);
    o.perturbations = pert;
    double v = 0, v2 = -1;
    xcnn_status st = xcnn_sensitivity(m, x, &eo, &o, NULL, 0, &v);
    char line[200];
    snprintf(line, sizeof line, "%s: sensitivity of saliency = %.6g against the float64 reference "
             "%.6g %s", dir, v, (double)ref[0], st ? xcnn_model_error(m) : "");
    check_close(line, st ? 1 : fabs(v - ref[0]) / fabs(ref[0]), 5e-4);
    size_t need = 0;
    st = xcnn_sensitivity_work_floats(m, &eo, &need);
    check(!st && need == 3 * n_in,
          "%s: work for saliency is the input and two attributions (%zu floats)", dir, need);
    float *work = malloc(need * sizeof(float));
    xcnn_model_reserve(m, 4);
    xcnn_model_set_threads(m, 2);
    st = xcnn_sensitivity(m, x, &eo, &o, work, need, &v2);
    check(st == XCNN_OK && v2 == v, "%s: with the caller's work, batch 4 and 2 threads: the same "
          "bits (%.17g)", dir, v2);
    check(xcnn_sensitivity(m, x, &eo, &o, work, need - 1, &v2) == XCNN_ERR_ARG,
          "%s: work one float short is refused: %s", dir, xcnn_model_error(m));
    free(work);
    o.perturbations = NULL;
    o.radius = 0;
    check(xcnn_sensitivity(m, x, &eo, &o, NULL, 0, &v2) == XCNN_ERR_ARG,
          "%s: radius 0 is refused: %s", dir, xcnn_model_error(m));
    o.radius = 0.02f;
    o.samples = 2;
    double d1 = 0, d2 = 0;
    xcnn_sensitivity(m, x, &eo, &o, NULL, 0, &d1);
    xcnn_sensitivity(m, x, &eo, &o, NULL, 0, &d2);
    check(d1 == d2 && d1 > 0, "%s: seeded sensitivity is reproducible (%.6g)", dir, d1);
    check(xcnn_sensitivity(m, x, NULL, &o, NULL, 0, &d2) == XCNN_ERR_ARG,
          "%s: NULL explain options are refused: %s", dir, xcnn_model_error(m));
done:
    free(x), free(pert), free(ref);
    xcnn_model_free(m);
}

int main(void)
{
    test_similarity_hand();
    for (int d = 0; d < 2; d++) test_similarity_refs(dirs[d]);
    test_sanity(dirs[0], 5, "/fc2/Gemm", NULL);
    test_sanity(dirs[1], 15, "/fc/Gemm", "/head_bn/BatchNormalization");
    test_invariance(1);
    test_invariance(0);
    test_invariance_padded();
    test_invariance_refused();
    for (int d = 0; d < 2; d++) test_infidelity(dirs[d]);
    test_infidelity_linear();
    for (int d = 0; d < 2; d++) test_sensitivity(dirs[d]);
    return check_summary();
}
