/*
 * Occlusion and RISE (METHODS.md) against float64 PyTorch references
 * (tools/references/perturbation.py: Captum's Occlusion step by step, and
 * RISE with the masks given or drawn by a Python replay of our seeded
 * generator), against properties that need no reference, for batch and
 * thread independence, and for the refusals. Error measure: max|ours -
 * ref| / max|ref|, tolerance 5e-4.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
/* Maxima by comparison, not x = fmax(x, ...): gcc 12.2 for aarch64 crashes
 * vectorising an fmax reduction of values that come from float. */
#include "fixture.h"
#include "onnx_builder.h"

#define TOL 5e-4

/* The settings of tools/references/perturbation.py, per model. */
typedef struct occ_case {
    const char *file;
    int window[3], stride[2];
    float fill;
} occ_case;

typedef struct model_case {
    const char *dir;
    occ_case occ[2];
    float given_p1;                /* rise_given.npy, masks rise_masks.npy */
    int samples, cells;            /* rise_seeded.npy                      */
    uint64_t seed;
    float p1;
} model_case;

static const model_case models[] = {
    {"tests/fixtures/plaincnn",
     {{"occlusion_edge.npy", {0, 5, 5}, {3, 3}, 0.0f},
      {"occlusion_chan.npy", {1, 7, 4}, {7, 4}, 0.5f}},
     0.5f, 32, 7, 5, 0.5f},
    {"tests/fixtures/rescnn_bn",
     {{"occlusion_edge.npy", {0, 10, 10}, {8, 8}, 0.0f},
      {"occlusion_chan.npy", {2, 12, 9}, {10, 8}, -0.25f}},
     0.5f, 32, 5, 5, 0.3f},
};

static void set_occlusion(xcnn_explain_options *o, int c, int h, int w, int sh, int sw,
                          float fill)
{
    xcnn_explain_options_init(o, XCNN_OCCLUSION);
    o->window[0] = c;
    o->window[1] = h;
    o->window[2] = w;
    o->stride[0] = sh;
    o->stride[1] = sw;
    o->fill = fill;
}

static double max_abs(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)v[i]) > m) m = fabs((double)v[i]);
    return m;
}

/* ours vs the reference file, which must not be all zero (a check that
 * passes trivially is no check). */
static void compare(const char *dir, const char *file, const float *got, size_t n)
{
    size_t n_ref = 0;
    float *ref = fixture_npy(dir, file, &n_ref);
    if (check(ref && n_ref == n, "%s: reference %s present, %zu values", dir, file, n) &&
        check(max_abs(ref, n) > 0, "%s: %s is not all zero", dir, file)) {
        char what[256];
        snprintf(what, sizeof what, "%s: %s matches the float64 reference", dir, file);
        check_close(what, max_rel_error(got, ref, n), TOL);
    }
    free(ref);
}

static void test_references(const model_case *c)
{
    xcnn_model *m = fixture_model(c->dir);
    size_t n = 0, n_masks = 0;
    float *x = fixture_npy(c->dir, "input.npy", &n);
    float *masks = fixture_npy(c->dir, "rise_masks.npy", &n_masks);
    float *out = malloc(n * sizeof(float));
    if (!check(m && x && masks && out, "%s: loads", c->dir)) goto done;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    size_t hw = (size_t)(in.dims[2] * in.dims[3]);
    int target = fixture_meta_int(c->dir, "target", -1);
    xcnn_explain_options o;
    xcnn_explain_result res;
    for (int k = 0; k < 2; k++) {
        const occ_case *oc = &c->occ[k];
        set_occlusion(&o, oc->window[0], oc->window[1], oc->window[2], oc->stride[0],
                      oc->stride[1], oc->fill);
        o.target = target;
        xcnn_status st = xcnn_explain(m, x, &o, out, n, &res);
        if (check(st == XCNN_OK && res.target == target && res.ndim == 4 &&
                  (size_t)(res.dims[1] * res.dims[2] * res.dims[3]) == n,
                  "%s: occlusion window %d,%d,%d stride %d,%d fill %g runs (%s)", c->dir,
                  oc->window[0], oc->window[1], oc->window[2], oc->stride[0], oc->stride[1],
                  (double)oc->fill, xcnn_model_error(m)))
            compare(c->dir, oc->file, out, n);
    }
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.target = target;
    o.masks = masks;
    o.n_masks = (int)(n_masks / hw);
    o.p1 = c->given_p1;
    xcnn_status st = xcnn_explain(m, x, &o, out, n, &res);
    if (check(st == XCNN_OK && res.ndim == 4 && res.dims[1] == 1 &&
              res.dims[2] == in.dims[2] && res.dims[3] == in.dims[3],
              "%s: rise with %d given masks runs, 1x1xHxW (%s)", c->dir, o.n_masks,
              xcnn_model_error(m)))
        compare(c->dir, "rise_given.npy", out, hw);
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.target = target;
    o.samples = c->samples;
    o.seed = c->seed;
    o.cells = c->cells;
    o.p1 = c->p1;
    st = xcnn_explain(m, x, &o, out, n, &res);
    if (check(st == XCNN_OK, "%s: rise with %d drawn masks (seed %llu, cells %d, p1 %g) runs (%s)",
              c->dir, c->samples, (unsigned long long)c->seed, c->cells, (double)c->p1,
              xcnn_model_error(m)))
        compare(c->dir, "rise_seeded.npy", out, hw);
done:
    free(out);
    free(masks);
    free(x);
    xcnn_model_free(m);
}

/* f(v)[t] by a plain forward. */
static float score(xcnn_model *m, const float *v, int t)
{
    xcnn_tensor_view y;
    if (xcnn_forward(m, v, 1, NULL) != XCNN_OK || xcnn_model_output(m, &y) != XCNN_OK)
        return NAN;
    return y.data[t];
}

/* Occlusion's definition, checked with forwards of our own: a 1x1x1
 * window gives each element y - f(x with it set to fill); a stride wider
 * than the window leaves elements uncovered, which get 0 (Captum: 0/0). */
static void test_single_elements(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *out = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    if (!check(m && x && out && v, "%s: loads for the 1x1x1 windows", dir)) goto done;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    int64_t H = in.dims[2], W = in.dims[3];
    for (int stride = 1; stride <= 3; stride += 2) {
        xcnn_explain_options o;
        xcnn_explain_result res;
        set_occlusion(&o, 1, 1, 1, stride, stride, 0.3f);
        if (!check(xcnn_explain(m, x, &o, out, n, &res) == XCNN_OK, "%s: occlusion 1x1x1 "
                   "stride %d runs (%s)", dir, stride, xcnn_model_error(m)))
            continue;
        double worst = 0, scale = 0;
        int zeros_ok = 1, nonzero = 0;
        float y = score(m, x, res.target);
        for (size_t i = 0; i < n; i++) {
            int64_t r = (int64_t)(i / (size_t)W) % H, c = (int64_t)(i % (size_t)W);
            if (r % stride || c % stride) {
                zeros_ok &= out[i] == 0.0f;
                continue;
            }
            memcpy(v, x, n * sizeof(float));
            v[i] = 0.3f;
            double want = (double)y - (double)score(m, v, res.target);
            if (fabs(out[i] - want) > worst) worst = fabs(out[i] - want);
            if (fabs(want) > scale) scale = fabs(want);
            nonzero += out[i] != 0.0f;
        }
        check(nonzero > 0 && scale > 0, "%s: stride %d: %d of the covered elements move the "
              "score", dir, stride, nonzero);
        check_close(stride == 1 ? "occlusion 1x1x1 = y - f(x with the element set to fill)"
                                : "occlusion 1x1x1 stride 3 = y - f(...) where covered",
                    scale > 0 ? worst / scale : INFINITY, 1e-6);
        if (stride > 1) check(zeros_ok, "%s: elements no window covers are 0", dir);
    }
done:
    free(v);
    free(out);
    free(x);
    xcnn_model_free(m);
}

/* A window over a whole channel (c = 1) gives that channel y - f(x with
 * the channel filled); a window over everything gives y - f(fill)
 * everywhere. */
static void test_whole_windows(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *out = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    if (!check(m && x && out && v, "%s: loads for the whole windows", dir)) goto done;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3];
    size_t hw = (size_t)H * (size_t)W;
    xcnn_explain_options o;
    xcnn_explain_result res;
    set_occlusion(&o, 0, H, W, 1, 1, -0.7f);
    if (check(xcnn_explain(m, x, &o, out, n, &res) == XCNN_OK, "%s: whole-input window runs",
              dir)) {
        for (size_t i = 0; i < n; i++) v[i] = -0.7f;
        double want = (double)score(m, x, res.target) - (double)score(m, v, res.target);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            if (fabs(out[i] - want) > worst) worst = fabs(out[i] - want);
        check(want != 0, "%s: y - f(fill) = %g is not 0", dir, want);
        check_close("a window over the whole input gives y - f(fill) everywhere",
                    worst / fabs(want), 1e-6);
    }
    set_occlusion(&o, 1, H, W, 1, 1, 0.0f);
    if (check(xcnn_explain(m, x, &o, out, n, &res) == XCNN_OK, "%s: channel windows run", dir)) {
        double worst = 0, scale = 0;
        float y = score(m, x, res.target);
        for (int c = 0; c < C; c++) {
            memcpy(v, x, n * sizeof(float));
            memset(v + (size_t)c * hw, 0, hw * sizeof(float));
            double want = (double)y - (double)score(m, v, res.target);
            if (fabs(want) > scale) scale = fabs(want);
            for (size_t i = 0; i < hw; i++) {
                double e = fabs(out[(size_t)c * hw + i] - want);
                if (e > worst) worst = e;
            }
        }
        check(scale > 0, "%s: filling a channel moves the score", dir);
        check_close("a 1xHxW window gives each channel y - f(x with that channel filled)",
                    scale > 0 ? worst / scale : INFINITY, 1e-6);
    }
done:
    free(v);
    free(out);
    free(x);
    xcnn_model_free(m);
}

/* RISE with one mask of ones: softmax(f(x))[t] / p1 everywhere. */
static void test_rise_ones(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *out = malloc(n * sizeof(float)), *ones = malloc(n * sizeof(float));
    if (!check(m && x && out && ones, "%s: loads for RISE with a mask of ones", dir)) goto done;
    xcnn_tensor_view in, y;
    xcnn_model_input(m, &in);
    size_t hw = (size_t)(in.dims[2] * in.dims[3]);
    for (size_t i = 0; i < hw; i++) ones[i] = 1;
    xcnn_explain_options o;
    xcnn_explain_result res;
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.masks = ones;
    o.n_masks = 1;
    o.p1 = 0.25f;
    if (check(xcnn_explain(m, x, &o, out, n, &res) == XCNN_OK, "%s: rise, one mask of ones",
              dir) &&
        check(xcnn_forward(m, x, 1, NULL) == XCNN_OK && xcnn_model_output(m, &y) == XCNN_OK,
              "%s: forward", dir)) {
        size_t k = (size_t)y.dims[1];
        double top = y.data[0], sum = 0;
        for (size_t i = 1; i < k; i++) if (y.data[i] > top) top = y.data[i];
        for (size_t i = 0; i < k; i++) sum += exp(y.data[i] - top);
        double want = exp(y.data[res.target] - top) / sum / 0.25, worst = 0;
        for (size_t i = 0; i < hw; i++)
            if (fabs(out[i] - want) > worst) worst = fabs(out[i] - want);
        check_close("rise with a mask of ones = softmax(f(x))[t] / p1 everywhere",
                    worst / want, 1e-6);
    }
done:
    free(ones);
    free(out);
    free(x);
    xcnn_model_free(m);
}

/* One explanation at a given batch reservation and thread count. */
static int run_at(xcnn_model *m, const float *x, const xcnn_explain_options *o, int batch,
                  int threads, float *out, size_t n)
{
    return xcnn_model_reserve(m, batch) == XCNN_OK &&
           xcnn_model_set_threads(m, threads) == XCNN_OK &&
           xcnn_explain(m, x, o, out, n, NULL) == XCNN_OK;
}

static void test_invariance(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    if (!check(m && x && a && b, "%s: loads for the batch and thread tests", dir)) goto done;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    size_t hw = (size_t)(in.dims[2] * in.dims[3]);
    xcnn_explain_options occ, rise;
    set_occlusion(&occ, 0, 8, 7, 6, 5, 0.1f); /* 5 x 6 windows, cropped at both edges */
    xcnn_explain_options_init(&rise, XCNN_RISE);
    rise.samples = 11;
    rise.seed = 9;
    rise.cells = 3;
    const xcnn_explain_options *opts[2] = {&occ, &rise};
    const char *names[2] = {"occlusion", "rise"};
    for (int k = 0; k < 2; k++) {
        int ndim;
        int64_t dims[4];
        size_t n_out = 0;
        if (xcnn_explain_shape(m, opts[k], &ndim, dims) == XCNN_OK)
            n_out = (size_t)(dims[0] * dims[1] * dims[2] * dims[3]);
        /* rise writes one plane: compare only what it wrote */
        check(n_out == (k ? hw : n), "%s: %s writes %zu values", dir, names[k], n_out);
        if (!n_out) continue;
        int ok = run_at(m, x, opts[k], 1, 1, a, n_out);
        check(ok && max_abs(a, n_out) > 0, "%s: %s at batch 1, 1 thread, not all zero", dir,
              names[k]);
        check(run_at(m, x, opts[k], 4, 3, b, n_out) && memcmp(a, b, n_out * sizeof(float)) == 0,
              "%s: %s at batch 4 on 3 threads == batch 1 on 1, bit for bit", dir, names[k]);
        check(run_at(m, x, opts[k], 4, 1, b, n_out) && memcmp(a, b, n_out * sizeof(float)) == 0,
              "%s: %s at batch 4 on 1 thread == batch 1, bit for bit", dir, names[k]);
        /* batch 7: past the 4 rows where a Gemm could have taken another
         * path (ops/matmul.c chooses by one sample's rows: same bits) */
        check(run_at(m, x, opts[k], 7, 2, b, n_out) && memcmp(a, b, n_out * sizeof(float)) == 0,
              "%s: %s at batch 7 on 2 threads == batch 1, bit for bit", dir, names[k]);
    }
    /* another seed draws other masks */
    rise.seed = 10;
    check(run_at(m, x, &rise, 4, 1, b, hw) && memcmp(a, b, hw * sizeof(float)) != 0,
          "%s: rise with another seed gives another map", dir);
done:
    free(a);
    free(b);
    free(x);
    xcnn_model_free(m);
}

/* xcnn_explain refuses o with status want and a message holding word. */
static void refused(xcnn_model *m, const float *x, const xcnn_explain_options *o, size_t n,
                    xcnn_status want, const char *word, const char *what)
{
    float *out = malloc(n * sizeof(float));
    xcnn_status st = xcnn_explain(m, x, o, out, n, NULL);
    const char *msg = xcnn_model_error(m);
    check(st == want && strstr(msg, word) && !strchr(msg, '\n'), "%s refused (%s): %s", what,
          xcnn_status_name(st), msg);
    free(out);
}

static void test_refusals(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    float *masks = malloc(3 * n * sizeof(float));
    if (!check(m && x && masks, "%s: loads for the refusals", dir)) goto done;
    xcnn_explain_options o;
    set_occlusion(&o, 0, 0, 0, 1, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "window", "occlusion without a window");
    set_occlusion(&o, 0, 29, 3, 1, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "window height 29: give 1..28", "window taller than H");
    set_occlusion(&o, 0, 3, 0, 1, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "window width 0", "window width 0");
    set_occlusion(&o, 2, 3, 3, 1, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "window channels 2: give 1..1", "window over 2 of 1 channel");
    set_occlusion(&o, -1, 3, 3, 1, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "window channels -1", "negative window channels");
    set_occlusion(&o, 0, 3, 3, 0, 1, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "stride", "stride 0");
    set_occlusion(&o, 0, 3, 3, 2, -4, 0);
    refused(m, x, &o, n, XCNN_ERR_ARG, "stride", "negative stride");
    set_occlusion(&o, 0, 3, 3, 1, 1, NAN);
    refused(m, x, &o, n, XCNN_ERR_ARG, "fill", "NaN fill");
    set_occlusion(&o, 0, 3, 3, 1, 1, -INFINITY);
    refused(m, x, &o, n, XCNN_ERR_ARG, "fill", "infinite fill");

    xcnn_explain_options_init(&o, XCNN_RISE);
    o.samples = 0;
    refused(m, x, &o, n, XCNN_ERR_ARG, "samples must be 1..1000000", "rise with 0 samples");
    o.samples = 1000001;
    refused(m, x, &o, n, XCNN_ERR_ARG, "samples", "rise with 1000001 samples");
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.cells = 0;
    refused(m, x, &o, n, XCNN_ERR_ARG, "cells must be 1..28", "rise with 0 cells");
    o.cells = 29;
    refused(m, x, &o, n, XCNN_ERR_ARG, "cells", "rise with more cells than pixels");
    float bad_p1[] = {0.0f, -0.5f, 1.5f, NAN, INFINITY};
    for (int i = 0; i < 5; i++) {
        xcnn_explain_options_init(&o, XCNN_RISE);
        o.p1 = bad_p1[i];
        char what[64];
        snprintf(what, sizeof what, "rise with p1 %g", (double)bad_p1[i]);
        refused(m, x, &o, n, XCNN_ERR_ARG, "p1", what);
    }
    size_t hw = n; /* plaincnn: one channel */
    for (size_t i = 0; i < 3 * hw; i++) masks[i] = 0.5f;
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.masks = masks;
    o.n_masks = 0;
    refused(m, x, &o, n, XCNN_ERR_ARG, "n_masks", "rise with masks but n_masks 0");
    o.masks = NULL;
    o.n_masks = 3;
    refused(m, x, &o, n, XCNN_ERR_ARG, "masks is NULL", "rise with n_masks but no masks");
    o.masks = masks;
    masks[hw + 17] = NAN;
    refused(m, x, &o, n, XCNN_ERR_NUMERIC, "mask 1 element 17 is NaN", "rise with a NaN mask");
    masks[hw + 17] = 0.5f;
    masks[2 * hw + 3] = INFINITY;
    refused(m, x, &o, n, XCNN_ERR_NUMERIC, "mask 2 element 3 is infinite",
            "rise with an infinite mask");
    for (size_t i = 0; i < 3 * hw; i++) masks[i] = 3e38f;
    refused(m, x, &o, n, XCNN_ERR_NUMERIC, "overflows float", "rise with masks of 3e38");
    /* the model still works after the refusals */
    xcnn_explain_options_init(&o, XCNN_RISE);
    o.samples = 2;
    float *out = malloc(n * sizeof(float));
    check(out && xcnn_explain(m, x, &o, out, n, NULL) == XCNN_OK,
          "rise runs after the refusals (%s)", xcnn_model_error(m));
    free(out);
done:
    free(masks);
    free(x);
    xcnn_model_free(m);
}

/* Both methods refuse a model whose input is not NxCxHxW, shape query too. */
static void test_not_an_image(void)
{
    /* x (1x4) -> Reshape 1x1x2x2 -> Conv 1x1 -> Flatten -> y (1x4) */
    ob_buf g = ob_new();
    float one = 1;
    int64_t shp[4] = {1, 1, 2, 2};
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_graph_init(&g, ob_tensor_i64("shape", 1, (int64_t[]){4}, shp));
    ob_graph_init(&g, ob_tensor_f("w", 4, (int64_t[]){1, 1, 1, 1}, &one));
    ob_graph_node(&g, ob_node("Reshape", "rs", IN("x", "shape"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("r", "w"), OUT("a"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("a"), OUT("y"), NULL, 0));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_buf b = ob_model(13, &g);
    char err[512] = "";
    xcnn_model *m = NULL;
    xcnn_status st = xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err);
    ob_free(&b);
    if (!check(st == XCNN_OK, "load a 2-D-input model (%s)", err)) return;
    float x[4] = {1, 2, 3, 4};
    xcnn_explain_options o;
    set_occlusion(&o, 0, 1, 1, 1, 1, 0);
    refused(m, x, &o, 4, XCNN_ERR_SHAPE, "NxCxHxW", "occlusion on a 1x4 input");
    xcnn_explain_options_init(&o, XCNN_RISE);
    refused(m, x, &o, 4, XCNN_ERR_SHAPE, "NxCxHxW", "rise on a 1x4 input");
    int ndim;
    int64_t dims[4];
    check(xcnn_explain_shape(m, &o, &ndim, dims) == XCNN_ERR_SHAPE,
          "xcnn_explain_shape refuses rise on a 1x4 input too");
    xcnn_model_free(m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) test_references(&models[i]);
    test_single_elements("tests/fixtures/captum_toy");
    test_whole_windows("tests/fixtures/rescnn_bn");
    test_rise_ones("tests/fixtures/rescnn_bn");
    test_invariance("tests/fixtures/plaincnn");
    test_refusals("tests/fixtures/plaincnn");
    test_not_an_image();
    return check_summary();
}
