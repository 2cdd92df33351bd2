/*
 * Explainers against PyTorch autograd references (tools/make_fixtures.py
 * implements ../shared/EXPLAINERS.md in float64), against the golden
 * values of Captum's own tests, and against properties that need no
 * reference at all. Error measure: max|ours - ref| / max|ref|, tolerance
 * 5e-4 (2e-3 for integrated gradients).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include "check.h"
#include "fixture.h"

#define TOL 5e-4
#define TOL_IG 2e-3
/* ResNet-18 only (see check_reference): the NMSE allowed when a ReLU or a
 * max-pool at its kink took the other branch, as in test_models.c. */
#define KINK_NMSE 1e-5

typedef struct ref_case {
    const char *file;      /* reference .npy in the fixture directory */
    xcnn_method method;
    const char *tweak;     /* which options differ from the defaults */
    double tol;
} ref_case;

static const ref_case cases[] = {
    {"saliency.npy", XCNN_SALIENCY, "", TOL},
    {"saliency_noabs.npy", XCNN_SALIENCY, "no_abs", TOL},
    {"input_x_gradient.npy", XCNN_INPUT_X_GRADIENT, "", TOL},
    {"deconvnet.npy", XCNN_DECONVNET, "", TOL},
    {"guided_backprop.npy", XCNN_GUIDED_BACKPROP, "", TOL},
    {"ig_gausslegendre.npy", XCNN_INTEGRATED_GRADIENTS, "gausslegendre", TOL_IG},
    {"ig_riemann_left.npy", XCNN_INTEGRATED_GRADIENTS, "riemann_left", TOL_IG},
    {"ig_riemann_right.npy", XCNN_INTEGRATED_GRADIENTS, "riemann_right", TOL_IG},
    {"ig_riemann_middle.npy", XCNN_INTEGRATED_GRADIENTS, "riemann_middle", TOL_IG},
    {"ig_riemann_trapezoid.npy", XCNN_INTEGRATED_GRADIENTS, "riemann_trapezoid", TOL_IG},
    {"ig_gausslegendre_s7.npy", XCNN_INTEGRATED_GRADIENTS, "steps7", TOL_IG},
    {"ig_baseline.npy", XCNN_INTEGRATED_GRADIENTS, "baseline", TOL_IG},
    {"smoothgrad.npy", XCNN_SMOOTHGRAD, "noise", TOL},
    {"gradcam.npy", XCNN_GRADCAM, "layer", TOL},
    {"gradcam_norelu.npy", XCNN_GRADCAM, "layer no_relu", TOL},
    {"gradcam_upsample.npy", XCNN_GRADCAM, "layer upsample", TOL},
    {"gradcam_default.npy", XCNN_GRADCAM, "", TOL},
    {"guided_gradcam.npy", XCNN_GUIDED_GRADCAM, "layer", TOL},
};

static int has(const char *tweak, const char *word) { return strstr(tweak, word) != NULL; }

/*
 * Max relative error within tol. On ResNet-18 (kinks = 1) the NMSE may
 * stand in: a ReLU input or a max-pool pair that float32 leaves within
 * rounding of a tie goes the way the last bit of a sum decides, and one
 * such unit moves a receptive field of the input gradient by several % of
 * its largest value. With 224x224 inputs plus noise (SmoothGrad) a few
 * units per input land there: float32 PyTorch itself is 6e-4 off the
 * float64 reference on SmoothGrad. A wrong gradient gives NMSE near 1.
 */
static void check_reference(const char *what, const float *got, const float *ref, size_t n,
                            double tol, int kinks)
{
    double e = max_rel_error(got, ref, n), q = nmse(got, ref, n);
    if (e <= tol || !kinks) {
        check_close(what, e, tol);
        return;
    }
    check(q <= KINK_NMSE, "%s: max rel error %.3g over %g; NMSE %.3g (limit %g): units at a "
          "ReLU or max-pool kink took the other branch", what, e, tol, q, KINK_NMSE);
}

static void run_case(xcnn_model *m, const char *dir, const float *x, int target, const ref_case *c,
                     int kinks)
{
    size_t n_ref = 0;
    float *ref = fixture_npy(dir, c->file, &n_ref);
    if (!check(ref != NULL, "%s: reference %s present", dir, c->file)) return;
    float *baseline = NULL, *noise = NULL;
    char layer[512] = "";
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, c->method);
    o.target = target;
    o.no_abs = has(c->tweak, "no_abs");
    o.no_relu = has(c->tweak, "no_relu");
    o.upsample = has(c->tweak, "upsample");
    if (has(c->tweak, "riemann_left")) o.ig_rule = XCNN_IG_RIEMANN_LEFT;
    if (has(c->tweak, "riemann_right")) o.ig_rule = XCNN_IG_RIEMANN_RIGHT;
    if (has(c->tweak, "riemann_middle")) o.ig_rule = XCNN_IG_RIEMANN_MIDDLE;
    if (has(c->tweak, "riemann_trapezoid")) o.ig_rule = XCNN_IG_RIEMANN_TRAPEZOID;
    if (has(c->tweak, "steps7")) o.steps = 7;
    if (has(c->tweak, "baseline")) o.baseline = baseline = fixture_npy(dir, "baseline.npy", NULL);
    if (has(c->tweak, "noise")) {
        size_t nn = 0;
        o.noise = noise = fixture_npy(dir, "smoothgrad_noise.npy", &nn);
        o.samples = 5;
    }
    if (has(c->tweak, "layer")) {
        fixture_meta(dir, "gradcam_layer", layer, sizeof layer);
        o.layer = layer;
    }
    float *out = calloc(n_ref + 1, sizeof(float));
    xcnn_explain_result res;
    xcnn_status st = xcnn_explain(m, x, &o, out, n_ref, &res);
    char what[512];
    snprintf(what, sizeof what, "%s: %s", dir, c->file);
    if (!check(st == XCNN_OK, "%s runs (%s)", what, st ? xcnn_model_error(m) : "ok")) goto done;
    size_t got = 1;
    for (int i = 0; i < res.ndim; i++) got *= (size_t)res.dims[i];
    if (!check(got == n_ref, "%s: %zu values, reference has %zu", what, got, n_ref)) goto done;
    check_reference(what, out, ref, n_ref, c->tol, kinks);
    if (c->method == XCNN_INTEGRATED_GRADIENTS) {
        /* Our delta against PyTorch's: both measure the same quadrature. */
        char key[128], val[64];
        snprintf(key, sizeof key, "ig_delta_%.*s", (int)(strlen(c->file) - 4), c->file);
        if (fixture_meta(dir, key, val, sizeof val) == 0) {
            double ref_delta = atof(val);
            double scale = fabs(res.score) > 1 ? fabs(res.score) : 1;
            snprintf(what, sizeof what, "%s: %s convergence delta %.4g vs PyTorch %.4g", dir,
                     c->file, res.delta, ref_delta);
            check_close(what, fabs(res.delta - ref_delta) / scale, 1e-3);
        }
    }
done:
    free(out);
    free(ref);
    free(baseline);
    free(noise);
}

static void test_references(const char *dir, int kinks)
{
    if (!fixture_exists(dir, "model.onnx")) {
        check_skip("%s: no fixture", dir);
        return;
    }
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    int target = fixture_meta_int(dir, "target", -1);
    if (!check(m && x && target >= 0, "%s: model, input and target", dir)) goto done;
    /* Batches of 4: IG's 50 points run as 13 passes, the last one short. */
    check(xcnn_model_reserve(m, 4) == XCNN_OK, "%s: reserve batch 4", dir);
    int missing = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!fixture_exists(dir, cases[i].file)) {
            missing++;
            continue;
        }
        run_case(m, dir, x, target, &cases[i], kinks);
    }
    if (missing)
        check_skip("%s: %d of %zu explainer references not generated (ResNet-18: "
                   "tools/make_fixtures.py --big --big-explainers, ~12 min)", dir, missing,
                   sizeof cases / sizeof cases[0]);
done:
    free(x);
    xcnn_model_free(m);
}

/* ---- Captum's golden values (EXPLAINERS.md) ---- */

static void expect_rows(const char *what, const float *got, const float *want, int n)
{
    check_close(what, max_rel_error(got, want, (size_t)n), 1e-6);
}

static void test_captum_golden(void)
{
    const char *dir = "tests/fixtures/captum_toy";
    if (!fixture_exists(dir, "model.onnx")) {
        check_skip("captum golden values: no fixture");
        return;
    }
    xcnn_model *m = fixture_model(dir);
    if (!check(m != NULL, "captum_toy loads")) return;
    float x[16], out[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    xcnn_explain_options o;
    xcnn_explain_result res;

    static const float gbp[16] = {0, 1, 1, 1, 1, 3, 3, 2, 1, 3, 3, 2, 1, 2, 2, 1};
    xcnn_explain_options_init(&o, XCNN_GUIDED_BACKPROP);
    o.target = 0;
    check(xcnn_explain(m, x, &o, out, 16, &res) == XCNN_OK, "captum toy: guided backprop runs");
    expect_rows("captum toy: guided backprop = Captum's test values", out, gbp, 16);

    static const float dec[16] = {2, 3, 3, 1, 3, 5, 5, 2, 3, 5, 5, 2, 1, 2, 2, 1};
    xcnn_explain_options_init(&o, XCNN_DECONVNET);
    o.target = 0;
    check(xcnn_explain(m, x, &o, out, 16, &res) == XCNN_OK, "captum toy: deconvnet runs");
    expect_rows("captum toy: deconvnet = Captum's test values", out, dec, 16);

    char conv[512] = "", relu1[512] = "";
    fixture_meta(dir, "gradcam_layer", conv, sizeof conv);
    fixture_meta(dir, "gradcam_layer_relu1", relu1, sizeof relu1);
    static const float cam[4] = {11.25f, 13.5f, 20.25f, 22.5f};
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.target = 0;
    o.layer = conv;
    o.no_relu = 1;
    check(xcnn_explain(m, x, &o, out, 16, &res) == XCNN_OK && res.dims[2] == 2,
          "captum toy: gradcam at the conv runs, 2x2 map");
    expect_rows("captum toy: gradcam (no relu) = Captum's test values", out, cam, 4);

    static const float ggc[16] = {0, 0, 4, 4, 0, 0, 12, 8, 28, 84, 97.5f, 65, 28, 56, 65, 32.5f};
    xcnn_explain_options_init(&o, XCNN_GUIDED_GRADCAM);
    o.target = 0;
    o.layer = relu1;
    check(xcnn_explain(m, x, &o, out, 16, &res) == XCNN_OK, "captum toy: guided gradcam runs");
    expect_rows("captum toy: guided gradcam = Captum's test values", out, ggc, 16);

    /* Deconvnet ignores the forward ReLU sign: in this model (no max-pool)
     * its result cannot depend on the input at all. */
    float y[16], out2[16];
    for (int i = 0; i < 16; i++) y[i] = (float)(i % 5) - 20.0f; /* every conv output < 0 */
    xcnn_explain_options_init(&o, XCNN_DECONVNET);
    o.target = 0;
    xcnn_explain(m, y, &o, out2, 16, &res);
    expect_rows("deconvnet ignores the forward ReLU sign (same map, all ReLUs off)", out2, dec, 16);
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    o.target = 0;
    xcnn_explain(m, y, &o, out2, 16, &res);
    float zero = 0;
    for (int i = 0; i < 16; i++) zero += fabsf(out2[i]);
    check(zero == 0, "...while the true gradient is zero there (sum %g)", zero);
    xcnn_model_free(m);
}

/* ---- Properties that need no reference ---- */

static void test_properties(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "%s: loads for the property tests", dir)) goto out;
    xcnn_model_reserve(m, 8);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    xcnn_explain_options o;
    xcnn_explain_result res;

    /* IG completeness: |delta| shrinks as the step count grows. */
    float prev = INFINITY;
    int shrinking = 1;
    int steps[3] = {4, 16, 64};
    for (int i = 0; i < 3; i++) {
        xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
        o.steps = steps[i];
        o.ig_rule = XCNN_IG_RIEMANN_MIDDLE;
        xcnn_explain(m, x, &o, a, n, &res);
        printf("     IG riemann_middle %2d steps: delta %.3g\n", steps[i], res.delta);
        if (!(fabsf(res.delta) < fabsf(prev))) shrinking = 0;
        prev = res.delta;
    }
    check(shrinking, "%s: IG |delta| shrinks with more steps", dir);
    check(fabsf(prev) < 0.05f * (fabsf(res.score) + 1), "%s: IG delta with 64 steps is small",
          dir);

    /* SmoothGrad with stdev 0 is saliency, exactly. */
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    xcnn_explain(m, x, &o, a, n, &res);
    xcnn_explain_options_init(&o, XCNN_SMOOTHGRAD);
    o.stdev = 0;
    xcnn_explain(m, x, &o, b, n, &res);
    check(memcmp(a, b, n * sizeof(float)) == 0, "%s: smoothgrad with stdev 0 == saliency", dir);

    /* SmoothGrad is reproducible from its seed, whatever the batch. */
    xcnn_explain_options_init(&o, XCNN_SMOOTHGRAD);
    o.samples = 6;
    o.seed = 7;
    xcnn_explain(m, x, &o, a, n, &res);
    xcnn_model_reserve(m, 1);
    xcnn_explain(m, x, &o, b, n, &res);
    check_close("smoothgrad batch 8 vs batch 1, same seed", max_rel_error(b, a, n), 1e-6);
    o.seed = 8;
    xcnn_explain(m, x, &o, b, n, &res);
    check(max_rel_error(b, a, n) > 1e-3, "smoothgrad: another seed gives another map");

    /* Grad-CAM weights are the mean of the layer gradient: rebuild the
     * map from the layer's activation and gradient. */
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.no_relu = 1;
    xcnn_explain(m, x, &o, a, n, &res);
    xcnn_tensor_view L;
    xcnn_model_tensor(m, res.layer, &L);
    int K = (int)L.dims[1], hw = (int)(L.dims[2] * L.dims[3]);
    for (int p = 0; p < hw; p++) b[p] = 0;
    for (int k = 0; k < K; k++) {
        double mean = 0;
        for (int p = 0; p < hw; p++) mean += L.grad[k * hw + p];
        mean /= hw;
        for (int p = 0; p < hw; p++) b[p] += (float)(mean * L.data[k * hw + p]);
    }
    check_close("gradcam = sum_k mean(dy/dA_k) A_k, from the layer's own tensors",
                max_rel_error(a, b, (size_t)hw), 1e-5);
    free(a);
    free(b);
out:
    free(x);
    xcnn_model_free(m);
}

/* ---- Errors ---- */

/* Integrated gradients give the same bits whatever the batch: a conv's
 * samples side by side in one GEMM (or one Winograd call), or one at a
 * time, sum every output the same way. */
static void test_batch_invariance(const char *dir)
{
    if (!fixture_exists(dir, "model.onnx")) {
        check_skip("%s: not generated (make fixtures-big)", dir);
        return;
    }
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    if (!check(m && x && a && b, "%s: loads for the batch test", dir)) goto out;
    xcnn_explain_options o;
    xcnn_explain_result res;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.steps = 6;
    xcnn_model_reserve(m, 6);
    check(xcnn_explain(m, x, &o, a, n, &res) == XCNN_OK, "%s: IG at batch 6", dir);
    xcnn_model_reserve(m, 1);
    check(xcnn_explain(m, x, &o, b, n, &res) == XCNN_OK, "%s: IG at batch 1", dir);
    check(memcmp(a, b, n * sizeof(float)) == 0,
          "%s: IG at batch 6 == IG at batch 1, bit for bit", dir);
out:
    free(a);
    free(b);
    free(x);
    xcnn_model_free(m);
}

static void test_errors(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "%s: loads for the error tests", dir)) goto out;
    float *a = malloc(n * sizeof(float));
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    o.target = 100000;
    xcnn_status st = xcnn_explain(m, x, &o, a, n, NULL);
    check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(m), "out of range"),
          "target out of range: %s", xcnn_model_error(m));
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.layer = "no/such/layer";
    st = xcnn_explain(m, x, &o, a, n, NULL);
    check(st == XCNN_ERR_NOT_FOUND, "unknown layer: %s", xcnn_model_error(m));
    xcnn_tensor_view out;
    xcnn_model_output(m, &out);
    o.layer = out.name;
    st = xcnn_explain(m, x, &o, a, n, NULL);
    check(st == XCNN_ERR_SHAPE && strstr(xcnn_model_error(m), "4-D"),
          "layer that is not 4-D: %s", xcnn_model_error(m));
    float saved = x[3];
    x[3] = NAN;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    st = xcnn_explain(m, x, &o, a, n, NULL);
    check(st == XCNN_ERR_NUMERIC, "NaN input: %s", xcnn_model_error(m));
    x[3] = saved;
    st = xcnn_explain(m, x, &o, a, 3, NULL);
    check(st == XCNN_ERR_ARG, "output buffer too small: %s", xcnn_model_error(m));
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.steps = 0;
    st = xcnn_explain(m, x, &o, a, n, NULL);
    check(st == XCNN_ERR_ARG, "0 steps: %s", xcnn_model_error(m));
    free(a);
out:
    free(x);
    xcnn_model_free(m);
}

/* ---- Two models in two threads ---- */

typedef struct thread_job {
    const char *dir;
    xcnn_method method;
    float *out;
    size_t n;
    int ok;
} thread_job;

static void *explain_job(void *arg)
{
    thread_job *j = arg;
    xcnn_model *m = fixture_model(j->dir);
    float *x = fixture_npy(j->dir, "input.npy", &j->n);
    j->ok = 0;
    if (m && x) {
        xcnn_model_reserve(m, 4);
        j->out = malloc(j->n * sizeof(float));
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, j->method);
        o.steps = 20;
        j->ok = 1;
        for (int rep = 0; rep < 3 && j->ok; rep++)
            j->ok = xcnn_explain(m, x, &o, j->out, j->n, NULL) == XCNN_OK;
    }
    free(x);
    xcnn_model_free(m);
    return NULL;
}

static void test_threads(const char *d1, const char *d2)
{
    thread_job seq[2] = {{d1, XCNN_INTEGRATED_GRADIENTS, NULL, 0, 0},
                         {d2, XCNN_GUIDED_BACKPROP, NULL, 0, 0}};
    thread_job par[2] = {seq[0], seq[1]};
    explain_job(&seq[0]);
    explain_job(&seq[1]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, explain_job, &par[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        int same = seq[i].ok && par[i].ok && seq[i].n == par[i].n &&
                   memcmp(seq[i].out, par[i].out, seq[i].n * sizeof(float)) == 0;
        check(same, "%s: explained in two threads at once == one at a time (bit-identical)",
              seq[i].dir);
        free(seq[i].out);
        free(par[i].out);
    }
}

int main(void)
{
    const char *dirs[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn",
                          "tests/fixtures/resnet_narrow", "tests/fixtures/captum_toy"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) test_references(dirs[i], 0);
    /* torchvision ResNet-18 (`make fixtures-big`; float64 references): every
     * explainer on a real architecture, 224x224. */
    const char *big_dir = getenv("XCNN_BIG_FIXTURES");
    char big[512];
    snprintf(big, sizeof big, "%s/resnet18", big_dir ? big_dir : "build/fixtures");
#ifdef XCNN_REFERENCE
    /* hundreds of passes through 1.8 GFLOP of plain loops: hours */
    check_skip("torchvision ResNet-18 explainers vs PyTorch: too slow on the reference paths "
               "(make REFERENCE=1); the fast paths are checked against them per op");
#else
    if (fixture_exists(big, "model.onnx")) test_references(big, 1);
    else check_skip("torchvision ResNet-18 explainers vs PyTorch: %s/model.onnx not found "
                    "(install python3-torch and run 'make fixtures-big')", big);
#endif
    test_captum_golden();
    test_properties("tests/fixtures/rescnn_bn");
    test_batch_invariance("tests/fixtures/rescnn_bn");
    test_batch_invariance("tests/fixtures/resnet_narrow");
#ifdef XCNN_REFERENCE
    check_skip("build/fixtures/resnet18: IG batch invariance too slow on the reference paths "
               "(make REFERENCE=1)");
#else
    test_batch_invariance("build/fixtures/resnet18");
#endif
    test_errors("tests/fixtures/plaincnn");
    test_threads("tests/fixtures/resnet_narrow", "tests/fixtures/rescnn_bn");
    return check_summary();
}
