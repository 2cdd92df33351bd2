/*
 * Integrated gradients through the model's affine entry (the Conv that is
 * the input's only reader; explain/gradient/integrated_gradients.c): the passes stop
 * at that Conv's output and one backward of the Conv ends the sum. Checked
 * here:
 *   - which models have such a cut (fixtures, and built graphs where the
 *     input has two readers or the first op is not a Conv: a Pad or a
 *     normalisation before the Conv is affine too, but is not followed);
 *   - the attributions and the convergence delta with the cut equal those
 *     of the plain way (passes back to the input) up to rounding, for every
 *     quadrature rule, with and without a baseline, batched or not;
 *   - xcnn_exec_backward_from seeded with the cut's gradient gives the
 *     input gradient of a full backward.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/explain/explain.h"
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"

/* x (1x2x6x6) -> Conv 3x3 (2->4) -> Relu -> [Add x' ->] GlobalAveragePool
 * -> Flatten -> y (4 classes). With `input_twice`, a 1x1 Conv (2->4) of x
 * is added after the Relu, so x has two readers. With `relu_first`, a
 * Relu reads x before the Conv. */
static ob_buf small_model(int input_twice, int relu_first)
{
    ob_buf gr = ob_new();
    float w[4 * 2 * 3 * 3], b[4], w1[4 * 2];
    for (int i = 0; i < 72; i++) w[i] = sinf(0.7f * (float)i + 0.3f);
    for (int i = 0; i < 4; i++) b[i] = 0.1f * (float)(i - 2);
    for (int i = 0; i < 8; i++) w1[i] = cosf(1.3f * (float)i);
    ob_graph_init(&gr, ob_tensor_f("w", 4, (int64_t[]){4, 2, 3, 3}, w));
    ob_graph_init(&gr, ob_tensor_f("b", 1, (int64_t[]){4}, b));
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){4, 2, 1, 1}, w1));
    ob_buf pads[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    const char *conv_in = "x";
    if (relu_first) {
        ob_graph_node(&gr, ob_node("Relu", "r0", IN("x"), OUT("xr"), NULL, 0));
        conv_in = "xr";
    }
    ob_graph_node(&gr, ob_node("Conv", "c", IN(conv_in, "w", "b"), OUT("z"), pads, 1));
    ob_graph_node(&gr, ob_node("Relu", "r", IN("z"), OUT("a"), NULL, 0));
    const char *pooled = "a";
    if (input_twice) {
        ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1"), OUT("s"), NULL, 0));
        ob_graph_node(&gr, ob_node("Add", "add", IN("a", "s"), OUT("t"), NULL, 0));
        pooled = "t";
    }
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN(pooled), OUT("p"), NULL, 0));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("p"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 2, 6, 6}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return ob_model(13, &gr);
}

static xcnn_model *load_small(int input_twice, int relu_first)
{
    ob_buf b = small_model(input_twice, relu_first);
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "small model loads: %s", err);
    ob_free(&b);
    return m;
}

static const char *cut_name(const xcnn_model *m)
{
    return m->ex_cut >= 0 ? m->g->tensors[m->ex_cut].name : "(none)";
}

static void test_which_models(void)
{
    xcnn_model *m = load_small(0, 0);
    if (m) check(m->ex_cut >= 0 && strcmp(cut_name(m), "z") == 0,
                 "Conv reading the input alone: the cut is its output z (got %s)", cut_name(m));
    xcnn_model_free(m);
    m = load_small(1, 0);
    if (m) check(m->ex_cut < 0, "input read by two Convs: no cut (got %s)", cut_name(m));
    xcnn_model_free(m);
    m = load_small(0, 1);
    if (m) check(m->ex_cut < 0, "a Relu reads the input first: no cut (got %s)", cut_name(m));
    xcnn_model_free(m);
    m = fixture_model("tests/fixtures/resnet_narrow");
    if (m) check(strcmp(cut_name(m), "/conv1/Conv_output_0") == 0,
                 "resnet_narrow: the cut is the stem's output (got %s)", cut_name(m));
    xcnn_model_free(m);
    m = fixture_model("tests/fixtures/rescnn_bn");
    if (m) check(m->ex_cut < 0, "rescnn_bn (a Pad reads the input): no cut (got %s)",
                 cut_name(m));
    xcnn_model_free(m);
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = 1;
    char err[256];
    if (xcnn_model_load("tests/fixtures/resnet_narrow/model.onnx", &lo, &m, err, sizeof err) ==
        XCNN_OK)
        check(m->ex_cut < 0, "an inference-only model has no cut (got %s)", cut_name(m));
    xcnn_model_free(m);
}

/* IG with the model's cut against IG with it turned off (ex_cut = -1). */
static void compare_ways(const char *what, xcnn_model *m, const float *x, const float *x0,
                         size_t n, xcnn_ig_rule rule, int steps, int batch)
{
    int cut = m->ex_cut;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.ig_rule = rule;
    o.steps = steps;
    o.baseline = x0;
    xcnn_explain_result ra, rb;
    int ok = xcnn_model_reserve(m, batch) == XCNN_OK && m->ex_cut == cut;
    ok = ok && xcnn_explain(m, x, &o, a, n, &ra) == XCNN_OK;
    m->ex_cut = -1;
    ok = ok && xcnn_explain(m, x, &o, b, n, &rb) == XCNN_OK;
    m->ex_cut = cut;
    if (check(ok, "%s: rule %d, %d steps, batch %d: both ways run", what, (int)rule, steps,
              batch)) {
        char line[256];
        snprintf(line, sizeof line, "%s: rule %d, %d steps, batch %d%s: through the cut == "
                 "back to the input", what, (int)rule, steps, batch, x0 ? ", baseline" : "");
        check_close(line, max_rel_error(a, b, n), 1e-5);
        snprintf(line, sizeof line, "%s: the same convergence delta (%.6g, %.6g)", what,
                 ra.delta, rb.delta);
        check_close(line, fabs(ra.delta - rb.delta) / (fabs(rb.delta) + 1e-3), 1e-4);
        check(ra.target == rb.target, "%s: the same target", what);
    }
    free(a);
    free(b);
}

static void test_same_result(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *x0 = fixture_npy(dir, "baseline.npy", &n);
    if (check(m && x && x0 && m->ex_cut >= 0, "%s: loads, with a cut", dir)) {
        compare_ways(dir, m, x, NULL, n, XCNN_IG_GAUSS_LEGENDRE, 16, 8);
        compare_ways(dir, m, x, NULL, n, XCNN_IG_GAUSS_LEGENDRE, 7, 1);
        compare_ways(dir, m, x, x0, n, XCNN_IG_RIEMANN_TRAPEZOID, 12, 5);
        compare_ways(dir, m, x, x0, n, XCNN_IG_RIEMANN_LEFT, 9, 3);
    }
    free(x);
    free(x0);
    xcnn_model_free(m);
}

static void test_small_model(void)
{
    xcnn_model *m = load_small(0, 0);
    float x[72], x0[72];
    for (int i = 0; i < 72; i++) {
        x[i] = sinf(0.37f * (float)i) * 2.0f;
        x0[i] = 0.05f * cosf((float)i);
    }
    if (m) {
        compare_ways("small model", m, x, NULL, 72, XCNN_IG_GAUSS_LEGENDRE, 20, 4);
        compare_ways("small model", m, x, x0, 72, XCNN_IG_RIEMANN_MIDDLE, 11, 11);
    }
    xcnn_model_free(m);
}

/* Backward seeded at the cut == the input gradient of a full backward. */
static void test_backward_from(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x && m->ex_cut >= 0, "%s: loads for backward_from", dir)) goto out;
    const xcnn_tensor *zt = &m->g->tensors[m->ex_cut], *in = &m->g->tensors[m->g->input];
    size_t zn = xcnn_tensor_sample_numel(zt);
    float *seed = malloc(zn * sizeof(float)), *full = malloc(n * sizeof(float));
    xcnn_err err = {0};
    int target = 3;
    int ok = xcnn_exec_forward(m, x, 1, &err) == XCNN_OK &&
             xcnn_exec_backward(m, &target, NULL, XCNN_RELU_GRADIENT, -1, &err) == XCNN_OK;
    if (ok) {
        memcpy(full, in->grad, n * sizeof(float));
        memcpy(seed, zt->grad, zn * sizeof(float));
        for (size_t i = 0; i < n; i++) in->grad[i] = 12345.0f; /* must be overwritten */
        ok = xcnn_exec_backward_from(m, m->ex_cut, seed, 1, &err) == XCNN_OK;
    }
    if (check(ok, "%s: forward, backward, backward_from run", dir))
        check(memcmp(full, in->grad, n * sizeof(float)) == 0,
              "%s: backward_from(cut gradient) == the full backward's input gradient, bit for "
              "bit", dir);
    check(xcnn_exec_backward_from(m, m->g->input, seed, 1, &err) != XCNN_OK,
          "%s: backward_from refuses the input as the cut", dir);
    check(xcnn_exec_backward_from(m, m->ex_cut, seed, 2, &err) != XCNN_OK,
          "%s: backward_from refuses a batch above the last forward's", dir);
    free(seed);
    free(full);
out:
    free(x);
    xcnn_model_free(m);
}

int main(void)
{
    test_which_models();
    test_small_model();
    test_same_result("tests/fixtures/resnet_narrow");
    test_backward_from("tests/fixtures/resnet_narrow");
    return check_summary();
}
