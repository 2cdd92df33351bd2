/*
 * Grad-CAM's values-only forward (xcnn_exec_forward_values): below its
 * layer no gradient is taken, so the Convs there run Winograd F(4x4) on
 * planes of 28 and more instead of the F(2x2) that gradients read. Checked
 * here, on a built model whose two 3x3 Convs qualify (16 channels, 32x32):
 *   - the values-only path really runs: the layer's activations differ
 *     from a plain forward's in some bits, and agree to rounding;
 *   - the cam equals the one computed by hand from a plain forward and a
 *     backward stopped at the layer, at the last layer and at an earlier
 *     one (whose later Conv then runs F(2x2));
 *   - after it, a backward below the layer is refused with a message, one
 *     that stops at the layer is not, and a plain forward lifts the ban;
 *   - guided Grad-CAM, integrated gradients and SmoothGrad still run the
 *     whole gradient-grade forward (same bits as on a fresh model);
 *   - 1 and 2 threads, and a second call, give the same bits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "check.h"
#include "onnx_builder.h"

enum { C = 16, H = 32, W = 32, K = 5 };
#define PLANE ((size_t)H * W)
#define NX ((size_t)C * PLANE)

static void fill(float *v, size_t n, float a, float b, float scale)
{
    for (size_t i = 0; i < n; i++) v[i] = scale * sinf(a * (float)i + b);
}

/* x[1,16,32,32] -> Conv 3x3 -> Relu (a1) -> Conv 3x3 -> Relu (a2) ->
 * GlobalAveragePool -> Flatten -> Gemm -> y[1,5]. */
static xcnn_model *load_model(void)
{
    static float w1[C * C * 9], b1[C], w2[C * C * 9], b2[C], g[K * C], gb[K];
    fill(w1, C * C * 9, 0.37f, 0.1f, 0.12f);
    fill(b1, C, 1.1f, 0.2f, 0.05f);
    fill(w2, C * C * 9, 0.53f, 0.7f, 0.12f);
    fill(b2, C, 0.9f, 0.4f, 0.05f);
    fill(g, K * C, 0.77f, 0.3f, 1.0f);
    fill(gb, K, 1.3f, 0.0f, 0.1f);
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){C, C, 3, 3}, w1));
    ob_graph_init(&gr, ob_tensor_f("b1", 1, (int64_t[]){C}, b1));
    ob_graph_init(&gr, ob_tensor_f("w2", 4, (int64_t[]){C, C, 3, 3}, w2));
    ob_graph_init(&gr, ob_tensor_f("b2", 1, (int64_t[]){C}, b2));
    ob_graph_init(&gr, ob_tensor_f("g", 2, (int64_t[]){K, C}, g));
    ob_graph_init(&gr, ob_tensor_f("gb", 1, (int64_t[]){K}, gb));
    ob_buf pads1[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf pads2[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1", "b1"), OUT("z1"), pads1, 1));
    ob_graph_node(&gr, ob_node("Relu", "r1", IN("z1"), OUT("a1"), NULL, 0));
    ob_graph_node(&gr, ob_node("Conv", "c2", IN("a1", "w2", "b2"), OUT("z2"), pads2, 1));
    ob_graph_node(&gr, ob_node("Relu", "r2", IN("z2"), OUT("a2"), NULL, 0));
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN("a2"), OUT("p"), NULL, 0));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("p"), OUT("q"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("q", "g", "gb"), OUT("y"), tb, 1));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, C, H, W}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf b = ob_model(13, &gr);
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "the model loads: %s", err);
    ob_free(&b);
    return m;
}

static const float *data_of(xcnn_model *m, const char *name)
{
    xcnn_tensor_view v;
    return xcnn_model_tensor(m, name, &v) == XCNN_OK ? v.data : NULL;
}

static int grad_cam(xcnn_model *m, const float *x, const char *layer, xcnn_method method,
                    float *out, size_t n)
{
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, method);
    o.layer = layer;
    o.target = 2;
    xcnn_explain_result r;
    return xcnn_explain(m, x, &o, out, n, &r) == XCNN_OK;
}

/* The cam by hand (ReLU'd, not upsampled) from a plain forward and a
 * backward that stops at `layer`, whose planes have `hw` pixels. */
static int cam_by_hand(xcnn_model *m, const float *x, const char *layer, size_t hw, float *cam)
{
    int target = 2;
    xcnn_backward_options bo = {XCNN_RELU_GRADIENT, layer};
    if (xcnn_forward(m, x, 1, NULL) || xcnn_backward(m, &target, NULL, &bo)) return 0;
    xcnn_tensor_view v;
    if (xcnn_model_tensor(m, layer, &v)) return 0;
    double acc[PLANE] = {0};
    for (int k = 0; k < C; k++) {
        double mean = 0;
        for (size_t p = 0; p < hw; p++) mean += v.grad[k * hw + p];
        mean /= (double)hw;
        for (size_t p = 0; p < hw; p++) acc[p] += mean * v.data[k * hw + p];
    }
    for (size_t p = 0; p < hw; p++) cam[p] = acc[p] > 0 ? (float)acc[p] : 0.0f;
    return 1;
}

static void test_values_path(xcnn_model *m, const float *x)
{
    float *plain = malloc(NX * sizeof(float)), cam[PLANE], ref[PLANE];
    if (!check(xcnn_forward(m, x, 1, NULL) == XCNN_OK, "plain forward")) return;
    memcpy(plain, data_of(m, "a2"), NX * sizeof(float));
    xcnn_model_set_threads(m, 1);
    if (!check(grad_cam(m, x, "a2", XCNN_GRADCAM, cam, PLANE), "Grad-CAM at a2 runs")) return;
    const float *a2 = data_of(m, "a2");
    size_t differ = 0;
    for (size_t i = 0; i < NX; i++) differ += memcmp(&a2[i], &plain[i], sizeof(float)) != 0;
#ifdef XCNN_REFERENCE
    /* every Conv runs its reference, which has one form for all passes */
    check_skip("below a2, Grad-CAM's forward took the values-only path: make REFERENCE=1 runs "
               "no Winograd (%zu of %zu activations differ)", differ, NX);
#else
    check(differ > 0, "below a2, Grad-CAM's forward took the values-only path (%zu of %zu "
          "activations round differently)", differ, NX);
#endif
    check_close("and its activations agree with the plain forward's", max_rel_error(a2, plain, NX),
                1e-5);

    if (cam_by_hand(m, x, "a2", PLANE, ref))
        check_close("cam at a2 == the cam from a plain forward and backward",
                    max_rel_error(cam, ref, PLANE), 1e-5);
    else
        check(0, "cam by hand at a2 runs");
    float cam1[PLANE];
    if (check(grad_cam(m, x, "a1", XCNN_GRADCAM, cam1, PLANE), "Grad-CAM at a1 runs") &&
        cam_by_hand(m, x, "a1", PLANE, ref))
        check_close("cam at a1 (c2 above it runs F(2x2)) == the cam by hand",
                    max_rel_error(cam1, ref, PLANE), 1e-5);

    float again[PLANE], two[PLANE];
    grad_cam(m, x, "a2", XCNN_GRADCAM, again, PLANE);
    check(memcmp(cam, again, sizeof cam) == 0, "a second Grad-CAM gives the same bits");
    xcnn_model_set_threads(m, 2);
    grad_cam(m, x, "a2", XCNN_GRADCAM, two, PLANE);
    check(memcmp(cam, two, sizeof cam) == 0, "2 threads give 1 thread's bits");
    free(plain);
}

static void test_backward_ban(xcnn_model *m, const float *x)
{
    float cam[PLANE];
    int target = 0;
    grad_cam(m, x, "a2", XCNN_GRADCAM, cam, PLANE);
    xcnn_status st = xcnn_backward(m, &target, NULL, NULL);
    const char *msg = xcnn_model_error(m);
    check(st == XCNN_ERR_ARG && strstr(msg, "values only") && strstr(msg, "'a2'"),
          "after Grad-CAM a full backward is refused: %s", msg);
    xcnn_backward_options at_a1 = {XCNN_RELU_GRADIENT, "a1"};
    check(xcnn_backward(m, &target, NULL, &at_a1) == XCNN_ERR_ARG,
          "and so is one that stops below a2 (at a1)");
    xcnn_backward_options at_a2 = {XCNN_RELU_GRADIENT, "a2"};
    check(xcnn_backward(m, &target, NULL, &at_a2) == XCNN_OK,
          "one that stops at a2 runs");
    check(xcnn_forward(m, x, 1, NULL) == XCNN_OK &&
              xcnn_backward(m, &target, NULL, NULL) == XCNN_OK,
          "after a plain forward a full backward runs");
}

/* Methods that take gradients through the whole network, run after a
 * Grad-CAM, against the same on a fresh model. */
static void test_others_unchanged(xcnn_model *m, const float *x)
{
    const xcnn_method methods[] = {XCNN_GUIDED_GRADCAM, XCNN_INTEGRATED_GRADIENTS,
                                   XCNN_SMOOTHGRAD, XCNN_SALIENCY};
    const char *names[] = {"guided Grad-CAM", "integrated gradients", "SmoothGrad",
                           "saliency"};
    xcnn_model *fresh = load_model();
    float *a = malloc(NX * sizeof(float)), *b = malloc(NX * sizeof(float)), cam[PLANE];
    if (!fresh || !a || !b) return;
    xcnn_model_set_threads(fresh, 2);
    xcnn_model_set_threads(m, 2);
    for (int i = 0; i < 4; i++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, methods[i]);
        o.target = 2;
        o.steps = 8;
        o.samples = 4;
        xcnn_explain_result r;
        grad_cam(m, x, "a2", XCNN_GRADCAM, cam, PLANE);
        int ok = xcnn_explain(m, x, &o, a, NX, &r) == XCNN_OK &&
                 xcnn_explain(fresh, x, &o, b, NX, &r) == XCNN_OK;
        check(ok && memcmp(a, b, NX * sizeof(float)) == 0,
              "%s after a Grad-CAM == on a fresh model, bit for bit", names[i]);
    }
    free(a);
    free(b);
    xcnn_model_free(fresh);
}

int main(void)
{
    xcnn_model *m = load_model();
    float *x = malloc(NX * sizeof(float));
    if (!m || !x) return check_summary();
    fill(x, NX, 0.013f, 0.5f, 1.0f);
    xcnn_model_reserve(m, 4);
    test_values_path(m, x);
    test_backward_ban(m, x);
    test_others_unchanged(m, x);
    xcnn_model_free(m);
    free(x);
    return check_summary();
}
