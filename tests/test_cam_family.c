/*
 * CAM and the CAM family (METHODS.md; libxcnn/explain/cam/cam_family.c, cam.c,
 * scorecam.c, eigencam.c, ablationcam.c):
 *   - every member against the float64 PyTorch references of
 *     tools/references/cam_family.py on plaincnn, rescnn_bn and
 *     resnet_narrow, at meta's gradcam_layer and at the default layer, and
 *     with normalize + upsample (max relative error <= 5e-4);
 *   - the identities of a GAP + Gemm model with the layer before the GAP
 *     (Z = h w): raw Grad-CAM = CAM / Z, hirescam = gradcam, xgradcam =
 *     gradcam (to its 1e-7), on resnet_narrow and on built models
 *     (Flatten, Reshape, transB 0, alpha 2), and CAM = sum_k W[t,k] A_k by
 *     hand from the layer's values;
 *   - Ablation-CAM from the layer (forward_from) and by edited whole
 *     forwards (forward_edit) give the same bits; the relative cost;
 *   - batch 1, 4 and 7, threads 1 and 3: the same bits (Score-CAM and
 *     Ablation-CAM at batch 7: to 1e-6, the Gemm's rounding; see below);
 *   - refusals: CAM without GAP + Gemm, CAM at another layer, unknown
 *     layers, no_relu, ablationcam with y = 0 (XCNN_ERR_NUMERIC); a
 *     constant map normalised is zeros; an overflowing input is
 *     XCNN_ERR_NUMERIC, never a crash; xcnn_explain_shape's shapes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../include/xcnn.h"
#include "../libxcnn/explain/cam/cam_family.h"
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"

#define TOL 5e-4
#define CAP (64 * 64)

typedef struct family_method {
    xcnn_method method;
    const char *stem; /* fixture stem after "cam_" */
} family_method;

static const family_method FAMILY[] = {
    {XCNN_GRADCAM_PLUS_PLUS, "gradcam_plus_plus"}, {XCNN_XGRADCAM, "xgradcam"},
    {XCNN_LAYERCAM, "layercam"},   {XCNN_HIRESCAM, "hirescam"},
    {XCNN_SCORECAM, "scorecam"},   {XCNN_EIGENCAM, "eigencam"},
    {XCNN_ABLATIONCAM, "ablationcam"}, {XCNN_CAM, "cam"}};
#define N_FAMILY (int)(sizeof FAMILY / sizeof FAMILY[0])

static xcnn_status explain(xcnn_model *m, const float *x, xcnn_method method, const char *layer,
                           int target, int upsample, int normalize, float *out,
                           xcnn_explain_result *res)
{
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, method);
    o.layer = layer;
    o.target = target;
    o.upsample = upsample;
    o.normalize = normalize;
    return xcnn_explain(m, x, &o, out, CAP, res);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---- against the PyTorch references ---------------------------------- */

static void compare(xcnn_model *m, const char *dir, const float *x, const family_method *f,
                    const char *layer, const char *suffix, int target, int norm_up)
{
    char file[128];
    snprintf(file, sizeof file, "cam_%s%s.npy", f->stem, suffix);
    if (!fixture_exists(dir, file)) return; /* not every member applies everywhere */
    size_t n = 0;
    float *ref = fixture_npy(dir, file, &n);
    float out[CAP];
    xcnn_explain_result res;
    xcnn_status st = explain(m, x, f->method, layer, target, norm_up, norm_up, out, &res);
    char what[256];
    snprintf(what, sizeof what, "%s: %s%s matches PyTorch (%zu values)", dir, f->stem, suffix, n);
    if (st || !ref || (size_t)(res.dims[2] * res.dims[3]) != n) {
        check(0, "%s: %s", what, st ? xcnn_model_error(m) : "shape or file");
    } else {
        check_close(what, max_rel_error(out, ref, n), TOL);
    }
    free(ref);
}

static void test_references(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    char layer[256], dflt[256];
    int target = fixture_meta_int(dir, "target", -1);
    if (!m || !x || fixture_meta(dir, "gradcam_layer", layer, sizeof layer) ||
        fixture_meta(dir, "gradcam_layer_default", dflt, sizeof dflt)) {
        check(0, "%s: fixture loads", dir);
        xcnn_model_free(m);
        free(x);
        return;
    }
    for (int i = 0; i < N_FAMILY; i++) {
        const family_method *f = &FAMILY[i];
        if (f->method == XCNN_CAM) {
            compare(m, dir, x, f, NULL, "", target, 0); /* at the GAP's input: the default */
            compare(m, dir, x, f, NULL, "_norm_up", target, 1);
            continue;
        }
        compare(m, dir, x, f, layer, "", target, 0);
        compare(m, dir, x, f, NULL, "_default", target, 0);
        compare(m, dir, x, f, layer, "_norm_up", target, 1);
    }
    /* the default layer is Grad-CAM's, and result.layer says so */
    float out[CAP];
    xcnn_explain_result res;
    xcnn_status st = explain(m, x, XCNN_EIGENCAM, NULL, target, 0, 0, out, &res);
    check(!st && !strcmp(res.layer, dflt) && res.target == target,
          "%s: the default layer is '%s' (got '%s')", dir, dflt, res.layer);
    xcnn_model_free(m);
    free(x);
}

/* ---- built GAP + Gemm models ------------------------------------------ */

enum { BC = 3, BH = 8, BW = 8, BK = 6, BM = 4 };

/* x[1,3,8,8] -> Conv 3x3 pad 1 (6) -> Relu (a) -> GlobalAveragePool ->
 * Flatten or Reshape [1,6] -> Gemm (transB, alpha) -> y[1,4]. bias 0
 * everywhere with zero_bias (then x = 0 gives y = 0). */
static float bw1[BK * BC * 9], bb1[BK], bg[BM * BK], bgb[BM];
static xcnn_model *built(int reshape, int trans_b, float alpha, int zero_bias)
{
    for (int i = 0; i < BK * BC * 9; i++) bw1[i] = 0.3f * sinf(0.71f * (float)i + 0.2f);
    for (int i = 0; i < BK; i++) bb1[i] = zero_bias ? 0 : 0.1f * cosf(1.3f * (float)i);
    for (int i = 0; i < BM * BK; i++) bg[i] = sinf(0.37f * (float)i + 1.0f);
    for (int i = 0; i < BM; i++) bgb[i] = zero_bias ? 0 : 0.2f * (float)i - 0.1f;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){BK, BC, 3, 3}, bw1));
    ob_graph_init(&gr, ob_tensor_f("b1", 1, (int64_t[]){BK}, bb1));
    /* transB 0 stores the weight [K, M]: write bg transposed */
    float gt[BM * BK];
    for (int j = 0; j < BM; j++)
        for (int k = 0; k < BK; k++) gt[k * BM + j] = bg[j * BK + k];
    ob_graph_init(&gr, trans_b ? ob_tensor_f("g", 2, (int64_t[]){BM, BK}, bg)
                               : ob_tensor_f("g", 2, (int64_t[]){BK, BM}, gt));
    ob_graph_init(&gr, ob_tensor_f("gb", 1, (int64_t[]){BM}, bgb));
    ob_graph_init(&gr, ob_tensor_i64("shape", 1, (int64_t[]){2}, (int64_t[]){1, BK}));
    ob_buf pads[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf ga[] = {ob_attr_int("transB", trans_b), ob_attr_float("alpha", alpha)};
    ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1", "b1"), OUT("z"), pads, 1));
    ob_graph_node(&gr, ob_node("Relu", "r1", IN("z"), OUT("a"), NULL, 0));
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN("a"), OUT("p"), NULL, 0));
    if (reshape) ob_graph_node(&gr, ob_node("Reshape", "rs", IN("p", "shape"), OUT("q"), NULL, 0));
    else ob_graph_node(&gr, ob_node("Flatten", "f", IN("p"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("q", "g", "gb"), OUT("y"), ga, 2));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, BC, BH, BW}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf b = ob_model(13, &gr);
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "the built model loads: %s", err);
    ob_free(&b);
    return m;
}

static void fill_input(float *x, size_t n, float a, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * sinf(a * (float)i + 0.5f);
}

/* raw Grad-CAM = CAM / Z, hirescam = xgradcam = gradcam at the GAP's
 * input of m (the default layer), for target t. */
static void gap_identities(xcnn_model *m, const float *x, int t, const char *what,
                           int both_signs)
{
    float cam[CAP], raw[CAP], gc[CAP], hires[CAP], xg[CAP];
    xcnn_explain_result res;
    xcnn_explain_options o;
    int ok = !explain(m, x, XCNN_CAM, NULL, t, 0, 0, cam, &res);
    size_t hw = (size_t)(res.dims[2] * res.dims[3]);
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.target = t;
    o.no_relu = 1;
    ok = ok && !xcnn_explain(m, x, &o, raw, CAP, NULL);
    ok = ok && !explain(m, x, XCNN_GRADCAM, NULL, t, 0, 0, gc, NULL);
    ok = ok && !explain(m, x, XCNN_HIRESCAM, NULL, t, 0, 0, hires, NULL);
    ok = ok && !explain(m, x, XCNN_XGRADCAM, NULL, t, 0, 0, xg, NULL);
    if (!check(ok, "%s: cam, gradcam, hirescam, xgradcam run (%s)", what, xcnn_model_error(m)))
        return;
    int negative = 0, positive = 0;
    for (size_t p = 0; p < hw; p++) {
        negative += cam[p] < 0;
        positive += cam[p] > 0;
        cam[p] /= (float)hw;
    }
    /* a map with both signs, so that the ReLUs below are put to work */
    if (both_signs)
        check(negative > 0 && positive > 0, "%s: the CAM has both signs (%d < 0, %d > 0 of %zu)",
          what, negative, positive, hw);
    char line[200];
    snprintf(line, sizeof line, "%s: raw Grad-CAM = CAM / Z (Z = %zu)", what, hw);
    check_close(line, max_rel_error(raw, cam, hw), 1e-5);
    snprintf(line, sizeof line, "%s: hirescam = gradcam", what);
    check_close(line, max_rel_error(hires, gc, hw), 1e-5);
    snprintf(line, sizeof line, "%s: xgradcam = gradcam (to its 1e-7 in the denominator)", what);
    check_close(line, max_rel_error(xg, gc, hw), 1e-5);
}

static void test_gap_models(void)
{
    const char *dir = "tests/fixtures/resnet_narrow";
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    if (m && x) {
        /* the default target and the fixture's */
        gap_identities(m, x, fixture_meta_int(dir, "target", 0), "resnet_narrow, target", 1);
        gap_identities(m, x, -1, "resnet_narrow, arg-max", 0);
    }
    xcnn_model_free(m);
    free(x);

    struct { int reshape, trans_b; float alpha; const char *what; } v[] = {
        {0, 1, 1.0f, "built Flatten + Gemm"},
        {1, 1, 1.0f, "built Reshape + Gemm"},
        {0, 0, 2.0f, "built Gemm transB 0, alpha 2"}};
    float bx[BC * BH * BW];
    fill_input(bx, BC * BH * BW, 0.29f, 1.5f);
    for (int i = 0; i < 3; i++) {
        xcnn_model *bm = built(v[i].reshape, v[i].trans_b, v[i].alpha, 0);
        if (!bm) continue;
        gap_identities(bm, bx, 2, v[i].what, 1); /* class 2's CAM: 23 < 0, 29 > 0 */
        /* CAM by hand: alpha * sum_k W[t,k] A_k from the layer's values */
        float cam[CAP];
        xcnn_explain_result res;
        xcnn_tensor_view a;
        xcnn_status st = explain(bm, bx, XCNN_CAM, "a", 2, 0, 0, cam, &res);
        if (check(!st && !xcnn_model_tensor(bm, "a", &a) && res.target == 2,
                  "%s: cam at 'a' runs", v[i].what)) {
            float want[BH * BW];
            for (int p = 0; p < BH * BW; p++) {
                double s = 0;
                for (int k = 0; k < BK; k++) s += (double)bg[2 * BK + k] * a.data[k * BH * BW + p];
                want[p] = (float)(v[i].alpha * s);
            }
            check_close("  CAM = alpha sum_k W[t,k] A_k by hand",
                        max_rel_error(cam, want, BH * BW), 1e-6);
        }
        xcnn_model_free(bm);
    }
}

/* ---- Ablation-CAM's two ways ------------------------------------------ */

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_ablation_paths(const char *dir, const char *key, int timing)
{
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    char layer[256];
    if (!m || !x || fixture_meta(dir, key, layer, sizeof layer)) {
        check(0, "%s: fixture loads", dir);
        xcnn_model_free(m);
        free(x);
        return;
    }
    xcnn_model_reserve(m, 4); /* several channels per pass, and a last short one */
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_ABLATIONCAM);
    o.layer = layer;
    o.target = fixture_meta_int(dir, "target", -1);
    float from[CAP], edit[CAP], api[CAP];
    xcnn_explain_result r1, r2;
    xcnn_err err = {{0}};
    /* the internal entry point: the model is not held by another thread */
    double t0 = seconds();
    xcnn_status s1 = xcnn_ex_ablationcam_run(m, x, &o, 0, from, &r1, &err);
    double t1 = seconds();
    xcnn_status s2 = xcnn_ex_ablationcam_run(m, x, &o, 1, edit, &r2, &err);
    double t2 = seconds();
    xcnn_status s3 = xcnn_explain(m, x, &o, api, CAP, NULL);
    size_t hw = (size_t)(m ? 1 : 0);
    xcnn_tensor_view lv;
    if (!xcnn_model_tensor(m, layer, &lv)) hw = (size_t)(lv.dims[2] * lv.dims[3]);
    int nonzero = 0;
    for (size_t p = 0; p < hw; p++) nonzero += from[p] != 0;
    check(!s1 && !s2 && !s3 && nonzero && same_bits(from, edit, hw) && same_bits(from, api, hw),
          "%s at %s: ablationcam from the layer = by edited forwards = xcnn_explain, to the bit "
          "(%d of %zu pixels > 0) %s", dir, key, nonzero, hw, err.msg);
    /* one run each, for the record (both include the first whole forward) */
    if (timing && !s1 && !s2)
        printf("     (ablationcam at %s: from the layer %.2f ms, edited whole forwards %.2f ms, "
               "x%.1f)\n", layer, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t2 - t1) / (t1 - t0));
    xcnn_model_free(m);
    free(x);
}

/* A layer inside a residual block: the skip reads an earlier value, so
 * only whole edited forwards are exact, and xcnn_explain takes them. */
static void test_ablation_inside_block(void)
{
    const char *dir = "tests/fixtures/resnet_narrow";
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    if (!m || !x) {
        check(0, "%s: fixture loads", dir);
        xcnn_model_free(m);
        free(x);
        return;
    }
    const char *layer = "/layer3/layer3.1/relu1/Relu_output_0";
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_ABLATIONCAM);
    o.layer = layer;
    float a[CAP], b[CAP];
    xcnn_err err = {{0}};
    xcnn_explain_result r;
    xcnn_status s0 = xcnn_ex_ablationcam_run(m, x, &o, 0, a, &r, &err);
    check(s0 == XCNN_ERR_ARG && strstr(err.msg, "before it"),
          "inside a residual block, a forward from the layer is refused: %s", err.msg);
    xcnn_status s1 = xcnn_explain(m, x, &o, a, CAP, &r);
    xcnn_status s2 = xcnn_ex_ablationcam_run(m, x, &o, 1, b, &r, &err);
    int nonzero = 0;
    for (int p = 0; p < 16; p++) nonzero += a[p] > 0;
    check(!s1 && !s2 && nonzero && same_bits(a, b, 16),
          "there xcnn_explain runs the edited forwards (%d of 16 pixels > 0)", nonzero);
    xcnn_model_free(m);
    free(x);
}

/* ---- batch and threads -------------------------------------------------- */

static void test_batch_threads(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    float *x = fixture_npy(dir, "input.npy", NULL);
    char layer[256];
    if (!m || !x || fixture_meta(dir, "gradcam_layer", layer, sizeof layer)) {
        check(0, "%s: fixture loads", dir);
        xcnn_model_free(m);
        free(x);
        return;
    }
    static float base[N_FAMILY][CAP], other[CAP];
    xcnn_model_set_threads(m, 1);
    for (int i = 0; i < N_FAMILY; i++)
        if (FAMILY[i].method != XCNN_CAM &&
            explain(m, x, FAMILY[i].method, layer, -1, 1, 1, base[i], NULL))
            check(0, "%s: %s runs: %s", dir, FAMILY[i].stem, xcnn_model_error(m));
    xcnn_explain_result res;
    explain(m, x, XCNN_EIGENCAM, layer, -1, 1, 0, other, &res);
    size_t n = (size_t)(res.dims[2] * res.dims[3]);
    /* Any batch, any threads: the same bits (batch 7 is past the 4 rows
     * at which a Gemm's path could change: ops/matmul.c chooses it by
     * one sample's rows). */
    struct { int batch, threads; } cfg[] = {{4, 1}, {4, 3}, {1, 3}, {7, 3}};
    for (int c = 0; c < 4; c++) {
        xcnn_model_reserve(m, cfg[c].batch);
        xcnn_model_set_threads(m, cfg[c].threads);
        int same = 1;
        double worst = 0;
        for (int i = 0; i < N_FAMILY; i++) {
            if (FAMILY[i].method == XCNN_CAM) continue;
            int ran = !explain(m, x, FAMILY[i].method, layer, -1, 1, 1, other, NULL);
            double e = ran ? max_rel_error(other, base[i], n) : INFINITY;
            int ok = ran && same_bits(base[i], other, n);
            if (!ok) printf("     (%s differs: %.3g)\n", FAMILY[i].stem, e);
            if (e > worst) worst = e;
            same &= ok;
        }
        check(same, "%s: every member with batch %d, %d threads = batch 1, 1 thread, to the "
              "bit (largest difference %.3g)", dir, cfg[c].batch, cfg[c].threads, worst);
    }
    xcnn_model_free(m);
    free(x);
}

/* ---- refusals and edge cases ------------------------------------------- */

static void test_refusals(void)
{
    float out[CAP];
    xcnn_explain_result res;
    const char *pd = "tests/fixtures/plaincnn", *rd = "tests/fixtures/resnet_narrow";
    xcnn_model *pm = fixture_model(pd), *rm = fixture_model(rd);
    float *px = fixture_npy(pd, "input.npy", NULL), *rx = fixture_npy(rd, "input.npy", NULL);
    if (!pm || !rm || !px || !rx) {
        check(0, "fixtures load");
        goto done;
    }
    xcnn_status st = explain(pm, px, XCNN_CAM, NULL, -1, 0, 0, out, &res);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(xcnn_model_error(pm), "GlobalAveragePool"),
          "cam on plaincnn (Flatten -> Gemm -> Relu -> Gemm) is refused: %s",
          xcnn_model_error(pm));
    xcnn_explain_options o;
    int nd;
    int64_t dims[4];
    xcnn_explain_options_init(&o, XCNN_CAM);
    st = xcnn_explain_shape(pm, &o, &nd, dims);
    check(st == XCNN_ERR_UNSUPPORTED, "  and so is its shape");
    const char *mid = "/layer3/layer3.1/relu2/Relu_output_0";
    st = explain(rm, rx, XCNN_CAM, mid, -1, 0, 0, out, &res);
    check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(rm), "layer4.1/relu2"),
          "cam at a layer other than the GAP's input is refused, naming that one: %s",
          xcnn_model_error(rm));
    for (int i = 0; i < N_FAMILY; i++) {
        st = explain(rm, rx, FAMILY[i].method, "no_such_layer", -1, 0, 0, out, &res);
        check(st == XCNN_ERR_NOT_FOUND && strstr(xcnn_model_error(rm), "no_such_layer"),
              "%s: an unknown layer is refused: %s", FAMILY[i].stem, xcnn_model_error(rm));
    }
    st = explain(rm, rx, XCNN_LAYERCAM, "input", -1, 0, 0, out, &res);
    check(st == XCNN_ERR_ARG, "layercam at the model input is refused: %s",
          xcnn_model_error(rm));
    xcnn_explain_options_init(&o, XCNN_HIRESCAM);
    o.no_relu = 1;
    st = xcnn_explain(rm, rx, &o, out, CAP, NULL);
    check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(rm), "no_relu"),
          "no_relu is refused for the family: %s", xcnn_model_error(rm));
    /* shapes: 1x1xhxw, 1x1xHxW with upsample */
    int shapes_ok = 1;
    for (int i = 0; i < N_FAMILY; i++)
        for (int up = 0; up < 2; up++) {
            xcnn_explain_options_init(&o, FAMILY[i].method);
            o.upsample = up;
            shapes_ok &= !xcnn_explain_shape(rm, &o, &nd, dims) && nd == 4 && dims[0] == 1 &&
                         dims[1] == 1 && dims[2] == (up ? 64 : 2) && dims[3] == (up ? 64 : 2);
        }
    check(shapes_ok, "resnet_narrow: every member's shape is 1x1x2x2, 1x1x64x64 upsampled");
    /* a tiny out buffer is refused, not overrun */
    xcnn_explain_options_init(&o, XCNN_SCORECAM);
    st = xcnn_explain(rm, rx, &o, out, 3, NULL);
    check(st == XCNN_ERR_ARG, "scorecam into 3 floats is refused: %s", xcnn_model_error(rm));

    /* zero input, zero biases: A = 0 everywhere, y = 0 */
    xcnn_model *zm = built(0, 1, 1.0f, 1);
    float zx[BC * BH * BW] = {0};
    if (zm) {
        st = explain(zm, zx, XCNN_ABLATIONCAM, NULL, 1, 0, 0, out, &res);
        check(st == XCNN_ERR_NUMERIC && strstr(xcnn_model_error(zm), "is 0"),
              "ablationcam with y = 0 is XCNN_ERR_NUMERIC: %s", xcnn_model_error(zm));
        for (int i = 0; i < N_FAMILY; i++) {
            if (FAMILY[i].method == XCNN_ABLATIONCAM) continue;
            for (int p = 0; p < CAP; p++) out[p] = NAN;
            st = explain(zm, zx, FAMILY[i].method, NULL, 1, 1, 1, out, &res);
            int zeros = 1;
            for (int p = 0; p < BH * BW; p++) zeros &= out[p] == 0;
            check(!st && zeros, "%s: a constant map, normalised and upsampled, is zeros (%s)",
                  FAMILY[i].stem, st ? xcnn_model_error(zm) : "not NaN");
        }
        /* an input whose forward overflows: XCNN_ERR_NUMERIC, no crash */
        float big[BC * BH * BW];
        for (int i = 0; i < BC * BH * BW; i++) big[i] = 3e38f;
        int all = 1;
        for (int i = 0; i < N_FAMILY; i++) {
            st = explain(zm, big, FAMILY[i].method, NULL, 1, 0, 0, out, &res);
            if (st != XCNN_ERR_NUMERIC) printf("     (%s: %d)\n", FAMILY[i].stem, (int)st);
            all &= st == XCNN_ERR_NUMERIC;
        }
        check(all, "an input that overflows the forward is XCNN_ERR_NUMERIC for every member");
        xcnn_model_free(zm);
    }
done:
    xcnn_model_free(pm);
    xcnn_model_free(rm);
    free(px);
    free(rx);
}

int main(void)
{
    const char *dirs[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn",
                          "tests/fixtures/resnet_narrow"};
    for (int i = 0; i < 3; i++) test_references(dirs[i]);
    test_gap_models();
    test_ablation_paths("tests/fixtures/resnet_narrow", "gradcam_layer_default", 1);
    test_ablation_paths("tests/fixtures/resnet_narrow", "gradcam_layer", 0);
    test_ablation_paths("tests/fixtures/plaincnn", "gradcam_layer", 0);
    test_ablation_paths("tests/fixtures/rescnn_bn", "gradcam_layer_default", 0);
    test_ablation_inside_block();
    test_batch_threads("tests/fixtures/plaincnn");
    test_refusals();
    return check_summary();
}
