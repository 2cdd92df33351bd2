/*
 * DeepLIFT (Rescale), DeepLIFT-SHAP and GradientSHAP (METHODS.md):
 *   - against the float64 PyTorch references of tools/references/deeplift.py
 *     (max|ours - ref| / max|ref| <= 5e-4) on the four fixture models, with
 *     a zero and a random baseline, and the delta against PyTorch's delta;
 *   - completeness (sum(attr) = f(x)[t] - f(r)[t]) where the rules keep it
 *     (no Mul gates: Mul takes its gradient, which does not), on the
 *     fixtures and on built nets whose MaxPool windows overlap;
 *   - the max-pool rule on the input, computed by hand from its definition;
 *   - a bias-free ReLU net with a zero baseline: DeepLIFT = input x gradient;
 *   - Captum's DeepLift golden value (tests/attr/test_deeplift_basic.py);
 *   - the same bits for any reserved batch and any thread count;
 *   - GradientSHAP: the given draws against the reference, the seeded draws
 *     reproducible and equal to the same draws given explicitly in the
 *     documented order (j, then e, then a, from base/rng.h);
 *   - refusals: a model reserved for batch 1, bad baselines and options,
 *     an op without a rule (Softmax) named with the method; a Div by a
 *     constant passes its gradient.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/base/rng.h"
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"

#define TOL 5e-4

/* Fixture models, and whether DeepLIFT's completeness holds on them
 * (plaincnn and rescnn_bn gate with Mul, whose rule is its gradient). */
static const struct {
    const char *name;
    int complete;
} models[] = {{"captum_toy", 1}, {"plaincnn", 0}, {"rescnn_bn", 0}, {"resnet_narrow", 1}};

static xcnn_model *load_buf(ob_buf b, const char *what)
{
    xcnn_model *m = NULL;
    char err[512];
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "%s loads: %s", what, err);
    ob_free(&b);
    return m;
}

/* Run one explanation into a fresh array of n floats (NULL on failure,
 * with a failed check saying why). */
static float *explain(xcnn_model *m, const float *x, const xcnn_explain_options *o, size_t n,
                      xcnn_explain_result *res, const char *what)
{
    float *out = calloc(n, sizeof *out);
    xcnn_status st = xcnn_explain(m, x, o, out, n, res);
    if (!check(st == XCNN_OK, "%s runs (%s)", what, st ? xcnn_model_error(m) : "ok")) {
        free(out);
        return NULL;
    }
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d;
}

static double sum_of(const float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
}

/* ---- against the PyTorch references ---------------------------------- */

/* DeepLIFT against `file` (baseline from `base_file`, NULL: zero), and its
 * delta against PyTorch's, measured on |f(x) - f(r)|. */
static void deeplift_case(xcnn_model *m, const char *dir, const float *x, size_t n, int target,
                          const char *file, const char *base_file, int complete)
{
    char path[256], what[800];
    snprintf(path, sizeof path, "%s.npy", file);
    float *ref = fixture_npy(dir, path, NULL), *base = NULL, *ref_delta;
    snprintf(path, sizeof path, "%s_delta.npy", file);
    ref_delta = fixture_npy(dir, path, NULL);
    if (base_file) {
        snprintf(path, sizeof path, "%s.npy", base_file);
        base = fixture_npy(dir, path, NULL);
    }
    snprintf(what, sizeof what, "%s: %s", dir, file);
    if (!check(ref && ref_delta && (base || !base_file), "%s: reference present", what)) goto done;
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    o.target = target;
    o.baseline = base;
    xcnn_explain_result res;
    float *out = explain(m, x, &o, n, &res, what);
    if (!out) goto done;
    check_close(what, max_rel_error(out, ref, n), TOL);
    /* f(x) - f(r) of the reference: sum(attr) - delta */
    double diff = sum_of(ref, n) - ref_delta[0];
    snprintf(what, sizeof what, "%s: %s delta %.4g vs PyTorch's %.4g (on |f(x) - f(r)| = %.4g)",
             dir, file, res.delta, ref_delta[0], fabs(diff));
    check_close(what, fabs(res.delta - ref_delta[0]) / fabs(diff), 1e-3);
    if (complete) {
        snprintf(what, sizeof what, "%s: %s completeness, |delta| / |f(x) - f(r)|", dir, file);
        check_close(what, fabs(res.delta) / fabs(diff), 1e-5);
    }
    free(out);
done:
    free(ref);
    free(ref_delta);
    free(base);
}

static void shap_case(xcnn_model *m, const char *dir, const float *x, size_t n, int target)
{
    size_t nb_floats = 0;
    float *ref = fixture_npy(dir, "deeplift_shap.npy", NULL);
    float *bases = fixture_npy(dir, "deeplift_shap_baselines.npy", &nb_floats);
    float *ref_delta = fixture_npy(dir, "deeplift_shap_delta.npy", NULL);
    char what[800];
    if (!check(ref && bases && ref_delta, "%s: deeplift-shap reference present", dir)) goto done;
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT_SHAP);
    o.target = target;
    o.baselines = bases;
    o.n_baselines = (int)(nb_floats / n);
    float *got[2] = {NULL, NULL};
    xcnn_explain_result res[2];
    const int batches[2] = {2, 8};
    for (int r = 0; r < 2; r++) {
        check(xcnn_model_reserve(m, batches[r]) == XCNN_OK, "%s: reserve %d", dir, batches[r]);
        snprintf(what, sizeof what, "%s: deeplift-shap, %d baselines, reserved batch %d", dir,
                 o.n_baselines, batches[r]);
        got[r] = explain(m, x, &o, n, &res[r], what);
        if (got[r]) check_close(what, max_rel_error(got[r], ref, n), TOL);
    }
    if (got[0] && got[1]) {
        double diff = sum_of(ref, n) - ref_delta[0];
        snprintf(what, sizeof what, "%s: deeplift-shap delta %.4g vs PyTorch's %.4g", dir,
                 res[0].delta, ref_delta[0]);
        check_close(what, fabs(res[0].delta - ref_delta[0]) / fabs(diff), 1e-3);
        check(max_abs_diff(got[0], got[1], n) == 0,
              "%s: deeplift-shap has the same bits with baselines 1 and up to 4 per pass "
              "(max difference %g)", dir, max_abs_diff(got[0], got[1], n));
        /* The delta reads the model's output, whose last bits depend on the
         * batch of the forward (the final Gemm's blocking); the multipliers
         * do not. */
        snprintf(what, sizeof what, "%s: deeplift-shap delta with baselines 1 and up to 4 per "
                 "pass (%.9g, %.9g), on f(x) = %g", dir, res[0].delta, res[1].delta, res[0].score);
        check_close(what, fabs(res[0].delta - res[1].delta) / fabs(res[0].score), 1e-6);
    }
    free(got[0]);
    free(got[1]);
    xcnn_model_reserve(m, 2);
done:
    free(ref);
    free(bases);
    free(ref_delta);
}

static void gshap_case(xcnn_model *m, const char *dir, const float *x, size_t n, int target)
{
    size_t nb_floats = 0, samples = 0;
    float *ref = fixture_npy(dir, "gradient_shap.npy", NULL);
    float *bases = fixture_npy(dir, "gradient_shap_baselines.npy", &nb_floats);
    float *idx = fixture_npy(dir, "gradient_shap_index.npy", &samples);
    float *alpha = fixture_npy(dir, "gradient_shap_alpha.npy", NULL);
    float *noise = fixture_npy(dir, "gradient_shap_noise.npy", NULL);
    int index[64];
    if (!check(ref && bases && idx && alpha && noise && samples <= 64,
               "%s: gradient-shap reference and draws present", dir))
        goto done;
    for (size_t k = 0; k < samples; k++) index[k] = (int)idx[k];
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADIENT_SHAP);
    o.target = target;
    o.baselines = bases;
    o.n_baselines = (int)(nb_floats / n);
    o.samples = (int)samples;
    o.draw_index = index;
    o.draw_alpha = alpha;
    o.noise = noise;
    xcnn_explain_result res;
    char what[800];
    snprintf(what, sizeof what, "%s: gradient-shap with the reference's draws", dir);
    float *out = explain(m, x, &o, n, &res, what);
    if (out) check_close(what, max_rel_error(out, ref, n), TOL);
    free(out);
done:
    free(ref);
    free(bases);
    free(idx);
    free(alpha);
    free(noise);
}

static void test_fixture(const char *name, int complete)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    if (!fixture_exists(dir, "deeplift.npy")) {
        check_skip("%s: no deeplift fixtures", dir);
        return;
    }
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    int target = fixture_meta_int(dir, "target", -1);
    if (!check(m && x && target >= 0, "%s: model, input and target", dir)) goto done;
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "%s: reserve 2", dir);
    deeplift_case(m, dir, x, n, target, "deeplift", NULL, complete);
    deeplift_case(m, dir, x, n, target, "deeplift_rand", "deeplift_rand_baseline", complete);
    if (fixture_exists(dir, "deeplift_shap.npy")) shap_case(m, dir, x, n, target);
    if (fixture_exists(dir, "gradient_shap.npy")) gshap_case(m, dir, x, n, target);

    /* the default target is the arg-max, and the score is f(x) there */
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    xcnn_explain_result res;
    float *out = explain(m, x, &o, n, &res, "deeplift, default target");
    float *y = fixture_npy(dir, "output.npy", NULL);
    int argmax = fixture_meta_int(dir, "argmax", -1);
    if (out && y)
        check(res.target == argmax && fabsf(res.score - y[argmax]) <= 1e-4f * fabsf(y[argmax]),
              "%s: deeplift's default target is the arg-max %d (got %d), score %g (PyTorch %g)",
              dir, argmax, res.target, res.score, y[argmax]);
    free(out);
    free(y);
done:
    free(x);
    xcnn_model_free(m);
}

/* ---- Captum's golden value ------------------------------------------- */

/* x[1,1,1,4] -> 1x1 Conv (weight 1, no bias: the identity) -> MaxPool 1x4
 * -> Flatten -> Gemm (weight 1, no bias) -> y[1,1]: Captum's identity
 * Linear, MaxPool1d(4), Linear(1, 1) as an image. */
static xcnn_model *captum_pool_model(void)
{
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w", 4, (int64_t[]){1, 1, 1, 1}, (float[]){1}));
    ob_graph_init(&gr, ob_tensor_f("g", 2, (int64_t[]){1, 1}, (float[]){1}));
    ob_buf ks[] = {ob_attr_ints("kernel_shape", (int64_t[]){1, 4}, 2)};
    ob_graph_node(&gr, ob_node("Conv", "lin1", IN("x", "w"), OUT("z"), NULL, 0));
    ob_graph_node(&gr, ob_node("MaxPool", "pool", IN("z"), OUT("p"), ks, 1));
    ob_graph_node(&gr, ob_node("Flatten", "flat", IN("p"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "lin2", IN("q", "g"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 1, 1, 4}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return load_buf(ob_model(13, &gr), "Captum's DeepLift model");
}

static void test_captum_golden(void)
{
    xcnn_model *m = captum_pool_model();
    if (!m) return;
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "captum golden: reserve 2");
    const float x[4] = {1, 1, 1, 1};
    const float bases[8] = {1, 2, 3, 9, 4, 8, 6, 7};
    const float want[8] = {0, 0, 0, -8, 0, -7, 0, 0};
    xcnn_explain_options o;
    xcnn_explain_result res;
    for (int e = 0; e < 2; e++) {
        xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
        o.baseline = bases + 4 * e;
        float *out = explain(m, x, &o, 4, &res, "captum golden: deeplift");
        if (!out) continue;
        check(max_abs_diff(out, want + 4 * e, 4) == 0 && res.delta == 0,
              "captum golden: baseline [%g,%g,%g,%g] gives [%g,%g,%g,%g] (Captum: "
              "[%g,%g,%g,%g]), delta %g (Captum: 0)", bases[4 * e], bases[4 * e + 1],
              bases[4 * e + 2], bases[4 * e + 3], out[0], out[1], out[2], out[3],
              want[4 * e], want[4 * e + 1], want[4 * e + 2], want[4 * e + 3], res.delta);
        free(out);
    }
    /* deeplift-shap over the two: their mean, in one pass of 4 */
    check(xcnn_model_reserve(m, 4) == XCNN_OK, "captum golden: reserve 4");
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT_SHAP);
    o.baselines = bases;
    o.n_baselines = 2;
    float *out = explain(m, x, &o, 4, &res, "captum golden: deeplift-shap");
    const float mean[4] = {0, -3.5f, 0, -4};
    if (out)
        check(max_abs_diff(out, mean, 4) == 0 && res.delta == 0,
              "captum golden: deeplift-shap over both baselines = their mean [0,-3.5,0,-4] "
              "(got [%g,%g,%g,%g]), delta %g", out[0], out[1], out[2], out[3], res.delta);
    free(out);
    xcnn_model_free(m);
}

/* ---- the max-pool rule by hand --------------------------------------- */

enum { PC = 2, PH = 5, PW = 6, PK = 3 }; /* x[1,2,5,6], MaxPool 3x3 stride 1 pad 1 */
#define P_IN (PC * PH * PW)

/* x -> MaxPool 3x3, stride 1, pads 1 (every input in up to 9 windows)
 * -> Flatten -> Gemm (60 -> 3, weights w, no bias) -> y. */
static xcnn_model *pool_input_model(const float *w)
{
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w", 2, (int64_t[]){3, P_IN}, w));
    ob_buf at[] = {ob_attr_ints("kernel_shape", (int64_t[]){PK, PK}, 2),
                   ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&gr, ob_node("MaxPool", "pool", IN("x"), OUT("p"), at, 2));
    ob_graph_node(&gr, ob_node("Flatten", "flat", IN("p"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("q", "w"), OUT("y"), tb, 1));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, PC, PH, PW}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return load_buf(ob_model(13, &gr), "MaxPool-on-the-input model");
}

/* first maximum of the window at (oh, ow) of plane p, padding skipped */
static int window_first_max(const float *p, int oh, int ow)
{
    int best = -1;
    for (int i = 0; i < PK; i++)
        for (int j = 0; j < PK; j++) {
            int h = oh - 1 + i, w = ow - 1 + j;
            if (h < 0 || h >= PH || w < 0 || w >= PW) continue;
            if (best < 0 || p[h * PW + w] > p[best]) best = h * PW + w;
        }
    return best;
}

static void test_maxpool_by_hand(void)
{
    float w[3 * P_IN], x[P_IN], r[P_IN], want[P_IN];
    test_rng rng = {0x5eed};
    for (int i = 0; i < 3 * P_IN; i++) w[i] = test_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < P_IN; i++) {
        x[i] = test_rng_uniform(&rng, -2, 2);
        r[i] = test_rng_uniform(&rng, -2, 2);
    }
    r[7] = x[7]; /* one position where z = z': the plain gradient there */
    xcnn_model *m = pool_input_model(w);
    if (!m) return;
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "maxpool by hand: reserve 2");
    const int t = 1;
    /* The definition: the multiplier at the pool's output is the Gemm's
     * row t; C sums g (M - o') at x's argmax and g (o - M) at r's; the
     * attribution is C where z != z', else (z - z') times the gradient. */
    double c[P_IN] = {0}, grad[P_IN] = {0};
    for (int ch = 0; ch < PC; ch++)
        for (int oh = 0; oh < PH; oh++)
            for (int ow = 0; ow < PW; ow++) {
                const float *xp = x + ch * PH * PW, *rp = r + ch * PH * PW;
                int ix = window_first_max(xp, oh, ow), ir = window_first_max(rp, oh, ow);
                double g = w[t * P_IN + (ch * PH + oh) * PW + ow];
                double o = xp[ix], o2 = rp[ir], top = o > o2 ? o : o2;
                c[ch * PH * PW + ix] += g * (top - o2);
                c[ch * PH * PW + ir] += g * (o - top);
                grad[ch * PH * PW + ix] += g;
            }
    for (int i = 0; i < P_IN; i++) want[i] = x[i] != r[i] ? (float)c[i] : 0.0f; /* (z - z') m: 0 where z = z' */
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    o.target = t;
    o.baseline = r;
    xcnn_explain_result res;
    float *out = explain(m, x, &o, P_IN, &res, "maxpool by hand: deeplift");
    if (out) {
        check_close("maxpool rule on the input, overlapping 3x3 windows, against the "
                    "definition computed by hand", max_rel_error(out, want, P_IN), 1e-6);
        double sum = sum_of(out, P_IN);
        check_close("maxpool rule: completeness, |delta| / |f(x) - f(r)|",
                    fabs(res.delta) / fabs(sum - res.delta), 1e-5);
    }
    free(out);
    xcnn_model_free(m);
}

/* ---- a bias-free ReLU net: DeepLIFT with a zero baseline = x * grad --- */

/* x[1,2,8,8] -> Conv 3x3 (2->4, no bias) -> Relu -> MaxPool 2x2 s2 ->
 * Conv 3x3 (4->4, no bias) -> Relu -> AveragePool 2x2 s2 -> Flatten ->
 * Gemm (16->3, no bias) -> Relu -> y. */
static xcnn_model *bias_free_model(void)
{
    float w1[4 * 2 * 9], w2[4 * 4 * 9], w3[3 * 16];
    test_rng rng = {0xb1a5};
    for (int i = 0; i < 72; i++) w1[i] = test_rng_uniform(&rng, -0.8f, 0.8f);
    for (int i = 0; i < 144; i++) w2[i] = test_rng_uniform(&rng, -0.5f, 0.5f);
    for (int i = 0; i < 48; i++) w3[i] = test_rng_uniform(&rng, -1, 1) + (i < 16 ? 0.5f : 0);
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){4, 2, 3, 3}, w1));
    ob_graph_init(&gr, ob_tensor_f("w2", 4, (int64_t[]){4, 4, 3, 3}, w2));
    ob_graph_init(&gr, ob_tensor_f("w3", 2, (int64_t[]){3, 16}, w3));
    ob_buf p1[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf p2[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf mp[] = {ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2)};
    ob_buf ap[] = {ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2)};
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1"), OUT("z1"), p1, 1));
    ob_graph_node(&gr, ob_node("Relu", "r1", IN("z1"), OUT("a1"), NULL, 0));
    ob_graph_node(&gr, ob_node("MaxPool", "mp", IN("a1"), OUT("m1"), mp, 2));
    ob_graph_node(&gr, ob_node("Conv", "c2", IN("m1", "w2"), OUT("z2"), p2, 1));
    ob_graph_node(&gr, ob_node("Relu", "r2", IN("z2"), OUT("a2"), NULL, 0));
    ob_graph_node(&gr, ob_node("AveragePool", "ap", IN("a2"), OUT("m2"), ap, 2));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("m2"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("q", "w3"), OUT("z3"), tb, 1));
    ob_graph_node(&gr, ob_node("Relu", "r3", IN("z3"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 2, 8, 8}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return load_buf(ob_model(13, &gr), "bias-free ReLU net");
}

static void test_bias_free(void)
{
    enum { N = 2 * 8 * 8 };
    xcnn_model *m = bias_free_model();
    if (!m) return;
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "bias-free net: reserve 2");
    float x[N];
    test_rng rng = {0x1234};
    for (int i = 0; i < N; i++) x[i] = test_rng_uniform(&rng, -1, 2);
    xcnn_explain_options o;
    xcnn_explain_result res, rg;
    xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
    float *ixg = explain(m, x, &o, N, &rg, "bias-free net: input x gradient");
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    float *dl = explain(m, x, &o, N, &res, "bias-free net: deeplift, zero baseline");
    if (ixg && dl) {
        check(res.target == rg.target && res.score > 0, "bias-free net: same target %d, y = %g",
              res.target, res.score);
        check_close("bias-free ReLU net (MaxPool, AveragePool), zero baseline: deeplift = "
                    "input x gradient", max_rel_error(dl, ixg, N), 1e-6);
        check_close("bias-free ReLU net: completeness, |delta| / y", fabs(res.delta) / res.score,
                    1e-5);
    }
    free(ixg);
    free(dl);
    xcnn_model_free(m);
}

/* ---- threads --------------------------------------------------------- */

enum { BC = 8, BH = 184, BW = 184 };
#define B_IN (3 * BH * BW)

/* Activations big enough for the rules' parallel loops (8x184x184, over
 * XCNN_PARALLEL_MIN elements): x[1,3,184,184] -> Conv 3x3 (3->8) -> Relu
 * -> Conv 1x1 (8->8) -> LeakyRelu -> MaxPool 3x3 s2 pad 1 -> Sigmoid ->
 * GlobalAveragePool -> Flatten -> Gemm (8->5) -> y. */
static xcnn_model *big_model(void)
{
    static float w1[BC * 3 * 9], b1[BC], w2[BC * BC], b2[BC], w3[5 * BC], b3[5];
    test_rng rng = {0xb16};
    for (int i = 0; i < BC * 27; i++) w1[i] = test_rng_uniform(&rng, -0.5f, 0.5f);
    for (int i = 0; i < BC * BC; i++) w2[i] = test_rng_uniform(&rng, -0.5f, 0.5f);
    for (int i = 0; i < 5 * BC; i++) w3[i] = test_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < BC; i++) b1[i] = b2[i] = test_rng_uniform(&rng, -0.1f, 0.1f);
    for (int i = 0; i < 5; i++) b3[i] = 0.1f * (float)i;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){BC, 3, 3, 3}, w1));
    ob_graph_init(&gr, ob_tensor_f("b1", 1, (int64_t[]){BC}, b1));
    ob_graph_init(&gr, ob_tensor_f("w2", 4, (int64_t[]){BC, BC, 1, 1}, w2));
    ob_graph_init(&gr, ob_tensor_f("b2", 1, (int64_t[]){BC}, b2));
    ob_graph_init(&gr, ob_tensor_f("w3", 2, (int64_t[]){5, BC}, w3));
    ob_graph_init(&gr, ob_tensor_f("b3", 1, (int64_t[]){5}, b3));
    ob_buf p1[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf lk[] = {ob_attr_float("alpha", 0.2f)};
    ob_buf mp[] = {ob_attr_ints("kernel_shape", (int64_t[]){3, 3}, 2),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2),
                   ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1", "b1"), OUT("z1"), p1, 1));
    ob_graph_node(&gr, ob_node("Relu", "r1", IN("z1"), OUT("a1"), NULL, 0));
    ob_graph_node(&gr, ob_node("Conv", "c2", IN("a1", "w2", "b2"), OUT("z2"), NULL, 0));
    ob_graph_node(&gr, ob_node("LeakyRelu", "l2", IN("z2"), OUT("a2"), lk, 1));
    ob_graph_node(&gr, ob_node("MaxPool", "mp", IN("a2"), OUT("m"), mp, 3));
    ob_graph_node(&gr, ob_node("Sigmoid", "s", IN("m"), OUT("sg"), NULL, 0));
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN("sg"), OUT("p"), NULL, 0));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("p"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("q", "w3", "b3"), OUT("y"), tb, 1));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 3, BH, BW}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return load_buf(ob_model(13, &gr), "8x184x184 net");
}

static void test_threads(void)
{
    xcnn_model *m = big_model();
    if (!m) return;
    float *x = malloc(B_IN * sizeof *x), *bases = malloc(B_IN * sizeof *bases);
    test_rng rng = {0x7777};
    for (size_t i = 0; i < B_IN; i++) x[i] = test_rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < B_IN; i++) bases[i] = test_rng_uniform(&rng, -1, 1);
    float *out[3] = {NULL, NULL, NULL};
    xcnn_explain_result res[3];
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    o.target = 2;
    o.baseline = bases;
    static const int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        char what[96];
        snprintf(what, sizeof what, "8x184x184 net: deeplift on %d thread(s)", threads[k]);
        check(xcnn_model_set_threads(m, threads[k]) == XCNN_OK &&
                  xcnn_model_reserve(m, 2) == XCNN_OK, "%s: set up", what);
        out[k] = explain(m, x, &o, B_IN, &res[k], what);
    }
    if (out[0] && out[1] && out[2]) {
        check(max_abs_diff(out[0], out[1], B_IN) == 0 && max_abs_diff(out[0], out[2], B_IN) == 0 &&
                  res[0].delta == res[1].delta && res[0].delta == res[2].delta,
              "8x184x184 net: deeplift has the same bits on 1, 2 and 4 threads");
        /* f(x) - f(r) is a small difference here (Sigmoid, then the mean
         * of 6400 pixels): the rounding is measured on sum |attr|. */
        double l1 = 0;
        for (size_t i = 0; i < B_IN; i++) l1 += fabs(out[0][i]);
        char what[200];
        snprintf(what, sizeof what, "8x184x184 net (Relu, LeakyRelu, MaxPool, Sigmoid): "
                 "completeness, |delta| / sum |attr| (f(x) - f(r) = %.3g, sum |attr| = %.3g)",
                 sum_of(out[0], B_IN) - res[0].delta, l1);
        check_close(what, fabs(res[0].delta) / l1, 1e-5);
    }
    for (int k = 0; k < 3; k++) free(out[k]);

    free(x);
    free(bases);
    xcnn_model_free(m);
}

/* ---- GradientSHAP's seeded draws ------------------------------------- */

static void test_gshap_draws(void)
{
    const char *dir = "tests/fixtures/plaincnn";
    if (!fixture_exists(dir, "gradient_shap_baselines.npy")) {
        check_skip("gradient-shap draws: no plaincnn fixture");
        return;
    }
    xcnn_model *m = fixture_model(dir);
    size_t n = 0, nbf = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *bases = fixture_npy(dir, "gradient_shap_baselines.npy", &nbf);
    if (!check(m && x && bases, "gradient-shap draws: plaincnn model, input, baselines")) goto done;
    check(xcnn_model_reserve(m, 4) == XCNN_OK, "gradient-shap draws: reserve 4");
    enum { S = 6 };
    int nb = (int)(nbf / n);
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADIENT_SHAP);
    check(o.samples == 5 && o.stdev == 0, "gradient-shap defaults: 5 samples, stdev 0");
    o.baselines = bases;
    o.n_baselines = nb;
    o.samples = S;
    o.target = 3;
    xcnn_explain_result res;
    for (int noisy = 0; noisy < 2; noisy++) {
        o.stdev = noisy ? 0.3f : 0.0f;
        o.seed = 7;
        o.draw_index = NULL;
        o.draw_alpha = NULL;
        o.noise = NULL;
        const char *how = noisy ? "stdev 0.3" : "stdev 0";
        float *a = explain(m, x, &o, n, &res, "gradient-shap, seed 7");
        float *b = explain(m, x, &o, n, &res, "gradient-shap, seed 7 again");
        o.seed = 8;
        float *c = explain(m, x, &o, n, &res, "gradient-shap, seed 8");
        /* the same draws, made here in the documented order */
        int index[S];
        float alpha[S], *noise = calloc((size_t)S * n, sizeof *noise);
        uint64_t s = 7;
        for (int k = 0; k < S; k++) {
            index[k] = (int)xcnn_rng_below(&s, (uint64_t)nb);
            for (size_t i = 0; noisy && i < n; i++)
                noise[(size_t)k * n + i] = (float)(0.3f * xcnn_rng_normal(&s));
            alpha[k] = (float)xcnn_rng_uniform(&s);
        }
        o.draw_index = index;
        o.draw_alpha = alpha;
        o.noise = noise;
        float *d = explain(m, x, &o, n, &res, "gradient-shap, the draws given");
        /* passes of up to 8 points instead of 4 (6 samples: 4 + 2, then 6) */
        o.draw_index = NULL;
        o.draw_alpha = NULL;
        o.noise = NULL;
        o.seed = 7;
        check(xcnn_model_reserve(m, 8) == XCNN_OK, "gradient-shap draws: reserve 8");
        float *e = explain(m, x, &o, n, &res, "gradient-shap, seed 7, reserved batch 8");
        check(xcnn_model_reserve(m, 4) == XCNN_OK, "gradient-shap draws: reserve 4 again");
        if (a && e)
            check(max_abs_diff(a, e, n) == 0, "gradient-shap (%s): the same bits with passes of "
                  "4 and of 8 points", how);
        free(e);
        if (a && b && c && d) {
            check(max_abs_diff(a, b, n) == 0, "gradient-shap (%s): a seed gives the same bits "
                  "twice", how);
            check(max_abs_diff(a, c, n) > 0, "gradient-shap (%s): another seed, another result",
                  how);
            check(max_abs_diff(a, d, n) == 0, "gradient-shap (%s): the seeded draws are j, %sa "
                  "from base/rng.h, sample after sample (the same draws given: same bits)", how,
                  noisy ? "e (every element), " : "");
        }
        free(a);
        free(b);
        free(c);
        free(d);
        free(noise);
    }
done:
    free(x);
    free(bases);
    xcnn_model_free(m);
}

/* ---- refusals -------------------------------------------------------- */

/* x[1,4] -> Gemm (4->3) -> <op> -> y: Softmax, or Div by a constant. */
static xcnn_model *tail_model(const char *op)
{
    float w[12], two[1] = {2};
    for (int i = 0; i < 12; i++) w[i] = 0.1f * (float)(i % 5) - 0.2f;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w", 2, (int64_t[]){4, 3}, w));
    ob_graph_init(&gr, ob_tensor_f("two", 1, (int64_t[]){1}, two));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("x", "w"), OUT("z"), NULL, 0));
    if (!strcmp(op, "Div")) ob_graph_node(&gr, ob_node("Div", "half", IN("z", "two"), OUT("y"), NULL, 0));
    else ob_graph_node(&gr, ob_node(op, "probs", IN("z"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return load_buf(ob_model(13, &gr), op);
}

static void expect_refusal(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                           size_t n, xcnn_status want, const char *words, const char *what)
{
    float *out = calloc(n, sizeof *out);
    xcnn_status st = xcnn_explain(m, x, o, out, n, NULL);
    const char *msg = xcnn_model_error(m);
    int has = 1;
    char buf[128];
    /* every '|'-separated word must be in the message */
    for (const char *p = words; *p;) {
        size_t len = strcspn(p, "|");
        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        if (!strstr(msg, buf)) has = 0;
        p += len + (p[len] == '|');
    }
    check(st == want && has, "refused: %s (status %d, want %d: \"%s\")", what, (int)st,
          (int)want, msg);
    free(out);
}

static void test_refusals(void)
{
    const char *dir = "tests/fixtures/plaincnn";
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "refusals: plaincnn")) {
        xcnn_model_free(m);
        free(x);
        return;
    }
    float *b = calloc(3 * n, sizeof *b), *far = malloc(n * sizeof *far);
    xcnn_explain_options o;
    /* a fresh model is reserved for batch 1 */
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "batch of 2|xcnn_model_reserve(m, 2)",
                   "deeplift on a model reserved for batch 1");
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT_SHAP);
    o.baselines = b;
    o.n_baselines = 3;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "deeplift-shap|xcnn_model_reserve",
                   "deeplift-shap on a model reserved for batch 1");
    xcnn_explain_options_init(&o, XCNN_GRADIENT_SHAP);
    o.baselines = b;
    o.n_baselines = 1;
    xcnn_explain_result res;
    free(explain(m, x, &o, n, &res, "gradient-shap on a model reserved for batch 1"));

    check(xcnn_model_reserve(m, 2) == XCNN_OK, "refusals: reserve 2");
    xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
    o.target = 10;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "target 10|out of range", "deeplift, target 10");
    o.target = -2;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "target -2", "deeplift, target -2");
    o.target = -1;
    b[5] = NAN;
    o.baseline = b;
    expect_refusal(m, x, &o, n, XCNN_ERR_NUMERIC, "baseline element 5", "deeplift, NaN baseline");
    b[5] = 0;
    memcpy(far, x, n * sizeof *far);
    far[3] = far[4] = 3e38f;
    b[3] = -3e38f;
    expect_refusal(m, far, &o, n, XCNN_ERR_NUMERIC, "element 3|overflows",
                   "deeplift, input - baseline overflows");
    b[3] = 0;

    xcnn_explain_options_init(&o, XCNN_DEEPLIFT_SHAP);
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "deeplift-shap|baselines NULL",
                   "deeplift-shap without baselines");
    o.baselines = b;
    o.n_baselines = 1;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "at least 2", "deeplift-shap with one baseline");
    o.n_baselines = 3;
    b[n + 9] = INFINITY;
    expect_refusal(m, x, &o, n, XCNN_ERR_NUMERIC, "baseline 1 element 9",
                   "deeplift-shap, baseline 1 infinite");
    b[n + 9] = 0;

    xcnn_explain_options_init(&o, XCNN_GRADIENT_SHAP);
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "gradient-shap|baselines NULL",
                   "gradient-shap without baselines");
    o.baselines = b;
    o.n_baselines = 0;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "n_baselines", "gradient-shap, 0 baselines");
    o.n_baselines = 3;
    o.samples = 0;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "samples", "gradient-shap, 0 samples");
    o.samples = 100001;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "samples", "gradient-shap, 100001 samples");
    o.samples = 2;
    o.stdev = -1;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "stdev", "gradient-shap, stdev -1");
    o.stdev = NAN;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "stdev", "gradient-shap, stdev NaN");
    o.stdev = 1e38f;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "stdev", "gradient-shap, stdev 1e38");
    o.stdev = 0;
    b[4] = -3e38f;
    expect_refusal(m, far, &o, n, XCNN_ERR_NUMERIC, "baseline 0 element 4|overflows",
                   "gradient-shap, input - baseline overflows");
    b[4] = 0;
    int idx[2] = {0, 3};
    o.draw_index = idx;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "draw_index[1] = 3",
                   "gradient-shap, draw_index out of range");
    o.draw_index = NULL;
    float alpha[2] = {0.5f, 1.5f};
    o.draw_alpha = alpha;
    expect_refusal(m, x, &o, n, XCNN_ERR_ARG, "draw_alpha[1]",
                   "gradient-shap, draw_alpha outside [0, 1]");
    free(b);
    free(far);
    free(x);
    xcnn_model_free(m);

    /* Div by a constant is linear: DeepLIFT passes its gradient (as
     * through Mul), attr_i = x_i w[i][t] / 2 with the zero baseline. */
    float x4[4] = {0.5f, -1, 2, 0.25f}, b4[8] = {0};
    xcnn_model *dv = tail_model("Div");
    if (dv) {
        xcnn_model_reserve(dv, 2);
        xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
        float *a = explain(dv, x4, &o, 4, &res, "deeplift through a Div by a constant");
        if (a) {
            float want[4];
            for (int i = 0; i < 4; i++)
                want[i] = x4[i] * (0.1f * (float)((i * 3 + res.target) % 5) - 0.2f) / 2;
            check_close("deeplift through a Div by a constant: x * w[:, t] / 2",
                        max_abs_diff(a, want, 4), 1e-6);
        }
        free(a);
        xcnn_model_free(dv);
    }

    /* an op without a DeepLIFT rule, named with the method */
    const char *ops[1] = {"Softmax"}, *nodes[1] = {"probs"};
    for (int k = 0; k < 1; k++) {
        xcnn_model *t = tail_model(ops[k]);
        if (!t) continue;
        xcnn_model_reserve(t, 2);
        char words[128], what[96];
        xcnn_explain_options_init(&o, XCNN_DEEPLIFT);
        snprintf(words, sizeof words, "deeplift|%s|%s", ops[k], nodes[k]);
        snprintf(what, sizeof what, "deeplift on a model with %s", ops[k]);
        expect_refusal(t, x4, &o, 4, XCNN_ERR_UNSUPPORTED, words, what);
        xcnn_explain_options_init(&o, XCNN_DEEPLIFT_SHAP);
        o.baselines = b4;
        o.n_baselines = 2;
        snprintf(words, sizeof words, "deeplift-shap|%s", ops[k]);
        snprintf(what, sizeof what, "deeplift-shap on a model with %s", ops[k]);
        expect_refusal(t, x4, &o, 4, XCNN_ERR_UNSUPPORTED, words, what);
        /* gradient-shap needs gradients only */
        xcnn_explain_options_init(&o, XCNN_GRADIENT_SHAP);
        o.baselines = b4;
        o.n_baselines = 2;
        snprintf(what, sizeof what, "gradient-shap on a model with %s", ops[k]);
        free(explain(t, x4, &o, 4, &res, what));
        xcnn_model_free(t);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        test_fixture(models[i].name, models[i].complete);
    test_captum_golden();
    test_maxpool_by_hand();
    test_bias_free();
    test_threads();
    test_gshap_draws();
    test_refusals();
    return check_summary();
}
