/*
 * Grad-CAM's default layer (xcnn_model_default_cam_layer): the last 4-D
 * N, C, H, W map with more than one pixel, except that a score map (as
 * many channels as classes, the classes read off it by pooling alone, as
 * SqueezeNet's classifier does) is skipped back to the feature extractor
 * before it. Small models built here show each case: a SqueezeNet-like
 * Fire module and score-map classifier, the same with a Gemm after the
 * pooling (a real last feature map with K channels), a network whose
 * every map has K channels, and a ResNet-like one; the explainers take the
 * same default (xcnn_explain with layer NULL, explain_layer ""). The
 * committed plain CNN keeps its default (meta.txt, PyTorch's script).
 */
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "check.h"
#include "onnx_builder.h"

#define K 5      /* classes */
#define CAP 4096 /* floats in an attribution buffer */

static uint32_t rng = 12345u;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 16777216.0) - 0.5);
}

/* A Conv's weight and bias initialisers, random, named w_<name>, b_<name>. */
static void conv_params(ob_buf *g, const char *name, int co, int ci, int k)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "w_%s", name);
    snprintf(bn, sizeof bn, "b_%s", name);
    size_t n = (size_t)co * ci * k * k;
    float *w = malloc(n * sizeof *w), b[64];
    for (size_t i = 0; i < n; i++) w[i] = frand();
    for (int i = 0; i < co; i++) b[i] = 0.1f * frand();
    ob_graph_init(g, ob_tensor_f(wn, 4, (int64_t[]){co, ci, k, k}, w));
    ob_graph_init(g, ob_tensor_f(bn, 1, (int64_t[]){co}, b));
    free(w);
}

/* Conv (k x k, "same" padding) then ReLU: in -> <name>_conv -> <name>. */
static void conv_relu(ob_buf *g, const char *name, const char *in, int co, int ci, int k)
{
    char wn[64], bn[64], z[64];
    snprintf(wn, sizeof wn, "w_%s", name);
    snprintf(bn, sizeof bn, "b_%s", name);
    snprintf(z, sizeof z, "%s_conv", name);
    conv_params(g, name, co, ci, k);
    int64_t p = k / 2;
    ob_buf pads[] = {ob_attr_ints("pads", (int64_t[]){p, p, p, p}, 4)};
    ob_graph_node(g, ob_node("Conv", z, IN(in, wn, bn), OUT(z), pads, 1));
    ob_graph_node(g, ob_node("Relu", name, IN(z), OUT(name), NULL, 0));
}

enum shape { SQUEEZE, SQUEEZE_GEMM, ALL_K, RESNETISH };

/* x [1,3,8,8] -> conv 3->6 -> a Fire module (squeeze 6->3, expand 1x1
 * 3->4 and 3x3 3->4, Concat: "fire") -> then by shape:
 *   SQUEEZE:      Conv 8->K 1x1, ReLU ("score"), GlobalAveragePool, Flatten
 *   SQUEEZE_GEMM: the same, then Gemm K->K
 *   ALL_K:        (no Fire) conv 3->K, conv K->K ("score"), pool, flatten
 *   RESNETISH:    pool the Fire's output, Flatten, Gemm 8->K */
static xcnn_model *build(enum shape s, const char *explain_layer)
{
    ob_buf g = ob_new();
    const char *last;
    if (s == ALL_K) {
        conv_relu(&g, "c1", "x", K, 3, 3);
        conv_relu(&g, "score", "c1", K, K, 1);
        last = "score";
    } else {
        conv_relu(&g, "c1", "x", 6, 3, 3);
        conv_relu(&g, "squeeze", "c1", 3, 6, 1);
        conv_relu(&g, "expand1", "squeeze", 4, 3, 1);
        conv_relu(&g, "expand3", "squeeze", 4, 3, 3);
        ob_buf ax[] = {ob_attr_int("axis", 1)};
        ob_graph_node(&g, ob_node("Concat", "fire", IN("expand1", "expand3"), OUT("fire"), ax, 1));
        last = "fire";
        if (s != RESNETISH) {
            conv_relu(&g, "score", "fire", K, 8, 1);
            last = "score";
        }
    }
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN(last), OUT("pooled"), NULL, 0));
    const char *flat = s == SQUEEZE || s == ALL_K ? "y" : "flat";
    ob_graph_node(&g, ob_node("Flatten", "flatten", IN("pooled"), OUT(flat), NULL, 0));
    if (s == SQUEEZE_GEMM || s == RESNETISH) {
        int ci = s == RESNETISH ? 8 : K;
        float w[K * 8], b[K];
        for (int i = 0; i < K * ci; i++) w[i] = frand();
        for (int i = 0; i < K; i++) b[i] = 0.1f * frand();
        ob_graph_init(&g, ob_tensor_f("w_fc", 2, (int64_t[]){K, ci}, w));
        ob_graph_init(&g, ob_tensor_f("b_fc", 1, (int64_t[]){K}, b));
        ob_buf ta[] = {ob_attr_int("transB", 1)};
        ob_graph_node(&g, ob_node("Gemm", "fc", IN("flat", "w_fc", "b_fc"), OUT("y"), ta, 1));
    }
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 3, 8, 8}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf m = ob_model(13, &g);
    xcnn_load_options lo = {0};
    lo.explain_layer = explain_layer;
    xcnn_model *model = NULL;
    char err[512];
    if (xcnn_model_load_memory(m.p, m.n, &lo, &model, err, sizeof err) != XCNN_OK) {
        check(0, "built model %d loads: %s", (int)s, err);
        model = NULL;
    }
    ob_free(&m);
    return model;
}

static int default_is(const xcnn_model *m, const char *want)
{
    const char *got = m ? xcnn_model_default_cam_layer(m) : NULL;
    return got && !strcmp(got, want);
}

/* Grad-CAM with layer NULL uses the default: its result names the layer
 * and its map is the one asked for by name, to the bit. */
static void gradcam_takes_default(xcnn_model *m, const char *want, const char *what)
{
    static float x[3 * 8 * 8], a[CAP], b[CAP];
    for (int i = 0; i < 3 * 8 * 8; i++) x[i] = frand();
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    xcnn_explain_result ra, rb;
    xcnn_status sa = xcnn_explain(m, x, &o, a, CAP, &ra);
    o.layer = want;
    xcnn_status sb = xcnn_explain(m, x, &o, b, CAP, &rb);
    size_t n = (size_t)ra.dims[0] * (size_t)(ra.ndim > 1 ? ra.dims[1] : 1) *
               (size_t)(ra.ndim > 2 ? ra.dims[2] : 1) * (size_t)(ra.ndim > 3 ? ra.dims[3] : 1);
    check(sa == XCNN_OK && sb == XCNN_OK && !strcmp(ra.layer, want) && n > 0 && n <= CAP &&
              !memcmp(a, b, n * sizeof *a),
          "%s: Grad-CAM with no layer given runs at '%s' (the map equals the one asked by "
          "name, %zu values)", what, ra.layer, n);
}

int main(void)
{
    xcnn_model *m = build(SQUEEZE, NULL);
    check(default_is(m, "fire"), "SqueezeNet-like (Fire, Conv to %d channels = classes, ReLU, "
          "pooling): the default skips the score map to the Fire's Concat: '%s'", K,
          m ? xcnn_model_default_cam_layer(m) : "(no model)");
    if (m) gradcam_takes_default(m, "fire", "SqueezeNet-like");
    xcnn_model_free(m);

    /* The load option explain_layer "" keeps gradients from the default. */
    m = build(SQUEEZE, "");
    check(default_is(m, "fire"), "explain_layer \"\" loads with the same default");
    if (m) gradcam_takes_default(m, "fire", "loaded with explain_layer \"\"");
    xcnn_model_free(m);

    m = build(SQUEEZE_GEMM, NULL);
    check(default_is(m, "score"), "the same with a Gemm after the pooling: its last map (K "
          "channels, but a feature map) stays the default: '%s'",
          m ? xcnn_model_default_cam_layer(m) : "(no model)");
    xcnn_model_free(m);

    m = build(ALL_K, NULL);
    check(default_is(m, "score"), "every map with K channels: the last one stays: '%s'",
          m ? xcnn_model_default_cam_layer(m) : "(no model)");
    if (m) gradcam_takes_default(m, "score", "every map K channels");
    xcnn_model_free(m);

    m = build(RESNETISH, NULL);
    check(default_is(m, "fire"), "ResNet-like (last map 8 channels, pooling, Gemm to %d): its "
          "last map: '%s'", K, m ? xcnn_model_default_cam_layer(m) : "(no model)");
    xcnn_model_free(m);

    /* The committed plain CNN: PyTorch's script names its default. */
    char err[512], want[512] = "";
    FILE *f = fopen("tests/fixtures/plaincnn/meta.txt", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "gradcam_layer_default=", 22)) {
            snprintf(want, sizeof want, "%s", line + 22);
            want[strcspn(want, "\n")] = 0;
        }
    if (f) fclose(f);
    m = NULL;
    if (want[0] && xcnn_model_load("tests/fixtures/plaincnn/model.onnx", NULL, &m, err,
                                   sizeof err) == XCNN_OK) {
        check(default_is(m, want), "plaincnn keeps its default '%s' (meta.txt)", want);
        xcnn_model_free(m);
    } else {
        check(0, "plaincnn fixture (tests/fixtures/plaincnn) loads and names its default");
    }
    check(xcnn_model_default_cam_layer(NULL) == NULL, "no model: NULL");
    return check_summary();
}
