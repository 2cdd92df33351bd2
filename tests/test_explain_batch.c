/*
 * xcnn_explain_batch: n inputs, one call.
 *   - on the shipped Fashion-MNIST model with 5 of its images (5 classes:
 *     the arg-max target differs from input to input) and a model reserved
 *     for 4 (so a full batch, then a batch of one): every method it
 *     batches (saliency signed and not, input x gradient, deconvnet,
 *     guided backprop, Grad-CAM raw, upsampled, without ReLU) and two it
 *     runs one by one (integrated gradients, guided Grad-CAM), arg-max and
 *     a given target, 1 and 2 threads: each attribution and result is the
 *     bits xcnn_explain gives that input alone;
 *   - resnet_narrow's input (batched with others) against the float64
 *     PyTorch reference;
 *   - a NaN in input 2: XCNN_ERR_NUMERIC, *done 2, "input 2: ..." and
 *     inputs 0 and 1 complete; a target out of range; bad arguments; an
 *     inference-only model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_image.h"
#include "check.h"
#include "fixture.h"

#define DIR "tests/fixtures/resnet_narrow"
#define N 5

/* A shipped image as the model's input (its metadata's preprocessing). */
static int load_image(const xcnn_model *m, const char *path, float *x, size_t in_n)
{
    char err[400];
    xcnn_image img;
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *meta = xcnn_model_metadata(m, "xcnn.preprocess");
    if (xcnn_image_read(path, &img, err, sizeof err) != XCNN_OK) return -1;
    int ok = (!meta || xcnn_preprocess_parse(meta, &p, err, sizeof err) == XCNN_OK) &&
             in_n == 28 * 28 &&
             xcnn_image_to_tensor(&img, &p, 1, 28, 28, x, err, sizeof err) == XCNN_OK;
    xcnn_image_free(&img);
    return ok ? 0 : -1;
}

static double rel_err(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]), r = fabs((double)ref[i]);
        if (d > num || isnan(d)) num = d;
        if (r > den) den = r;
    }
    return den > 0 ? num / den : num;
}

static int same_result(const xcnn_explain_result *a, const xcnn_explain_result *b)
{
    return a->target == b->target && !memcmp(&a->score, &b->score, sizeof a->score) &&
           !memcmp(&a->delta, &b->delta, sizeof a->delta) && a->ndim == b->ndim &&
           !memcmp(a->dims, b->dims, sizeof a->dims) && !strcmp(a->layer, b->layer);
}

/* The batch against one call per input, bit for bit. */
static void compare(xcnn_model *m, const float *x, size_t in_n, const xcnn_explain_options *o,
                    const char *what, int threads)
{
    int ndim;
    int64_t dims[4];
    if (!check(xcnn_explain_shape(m, o, &ndim, dims) == XCNN_OK, "%s: shape", what)) return;
    size_t per = 1;
    for (int i = 0; i < ndim; i++) per *= (size_t)dims[i];
    float *batch = malloc(N * per * sizeof(float)), *one = malloc(per * sizeof(float));
    xcnn_explain_result rb[N], r1;
    int done = -1;
    xcnn_status st = xcnn_explain_batch(m, x, N, o, batch, N * per, rb, &done);
    int same = st == XCNN_OK && done == N, targets_differ = 0;
    for (int i = 0; same && i < N; i++) {
        same = xcnn_explain(m, x + (size_t)i * in_n, o, one, per, &r1) == XCNN_OK &&
               !memcmp(one, batch + (size_t)i * per, per * sizeof(float)) && same_result(&r1, &rb[i]);
        targets_differ |= rb[i].target != rb[0].target;
    }
    check(same && (o->target >= 0 || targets_differ),
          "%s, %d thread%s: %d inputs in one call = one call each, to the bit%s%s", what,
          threads, threads > 1 ? "s" : "", N,
          o->target >= 0 ? "" : " (their arg-max targets differ)", st ? xcnn_model_error(m) : "");
    free(batch);
    free(one);
}

int main(void)
{
    static const char *const images[N] = {
        "data/fashion/0_Ankle_boot.png", "data/fashion/13_Dress.png", "data/fashion/18_Bag.png",
        "data/fashion/1_Pullover.png", "data/fashion/2_Trouser.png"};
    char err[600];
    xcnn_model *fm = NULL;
    size_t fn = 28 * 28;
    float *fx = malloc(N * fn * sizeof(float));
    int loaded = xcnn_model_load("data/fashion_resnet.onnx", NULL, &fm, err, sizeof err) == XCNN_OK;
    for (int i = 0; loaded && i < N; i++) loaded = !load_image(fm, images[i], fx + i * fn, fn);
    if (check(loaded && xcnn_model_reserve(fm, 4) == XCNN_OK,
              "the Fashion-MNIST model and 5 images load; reserve a batch of 4 (5 inputs: a "
              "batch of 4, then 1)")) {
        static const struct {
            xcnn_method method;
            int no_abs, upsample, no_relu, target;
            const char *what;
        } cases[] = {
            {XCNN_SALIENCY, 0, 0, 0, -1, "saliency"},
            {XCNN_SALIENCY, 1, 0, 0, 2, "saliency signed, target 2"},
            {XCNN_INPUT_X_GRADIENT, 0, 0, 0, -1, "input x gradient"},
            {XCNN_DECONVNET, 0, 0, 0, -1, "deconvnet"},
            {XCNN_GUIDED_BACKPROP, 0, 0, 0, -1, "guided backprop"},
            {XCNN_GRADCAM, 0, 0, 0, -1, "Grad-CAM"},
            {XCNN_GRADCAM, 0, 1, 0, 1, "Grad-CAM upsampled, target 1"},
            {XCNN_GRADCAM, 0, 0, 1, -1, "Grad-CAM without ReLU"},
            {XCNN_INTEGRATED_GRADIENTS, 0, 0, 0, -1, "integrated gradients (one by one)"},
            {XCNN_GUIDED_GRADCAM, 0, 0, 0, -1, "guided Grad-CAM (one by one)"},
        };
        for (int threads = 1; threads <= 2; threads++) {
            xcnn_model_set_threads(fm, threads);
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                xcnn_explain_options o;
                xcnn_explain_options_init(&o, cases[c].method);
                o.no_abs = cases[c].no_abs;
                o.upsample = cases[c].upsample;
                o.no_relu = cases[c].no_relu;
                o.target = cases[c].target;
                o.steps = 6;
                compare(fm, fx, fn, &o, cases[c].what, threads);
            }
        }
    } else {
        printf("     (%s)\n", err);
    }
    xcnn_model_free(fm);
    free(fx);

    size_t in_n = 0, n_ref = 0;
    float *x0 = fixture_npy(DIR, "input.npy", &in_n);
    xcnn_model *m = fixture_model(DIR);
    if (!x0 || !m) {
        check(0, "fixture %s loads", DIR);
        return check_summary();
    }
    /* the fixture's input, then scaled copies */
    float *x = malloc(N * in_n * sizeof(float));
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < in_n; j++) x[(size_t)i * in_n + j] = (1.0f + 0.25f * (float)i) * x0[j];
    check(xcnn_model_reserve(m, 4) == XCNN_OK, "resnet_narrow reserved for a batch of 4");
    /* the first input against the float64 reference */
    float *ref = fixture_npy(DIR, "saliency.npy", &n_ref);
    float *out = malloc(N * in_n * sizeof(float));
    xcnn_explain_result res[N];
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    int target = fixture_meta_int(DIR, "target", -1);
    o.target = target;
    if (ref && n_ref == in_n &&
        xcnn_explain_batch(m, x, N, &o, out, N * in_n, res, NULL) == XCNN_OK)
        check_close("saliency of the fixture's input in a batch of 5, against float64 PyTorch",
                    rel_err(out, ref, in_n), 5e-4);
    else
        check(0, "saliency reference and batch run (%s)", xcnn_model_error(m));
    free(ref);

    /* a NaN in input 2 */
    float *bad = malloc(N * in_n * sizeof(float));
    memcpy(bad, x, N * in_n * sizeof(float));
    bad[2 * in_n + 17] = NAN;
    int done = -1;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    xcnn_status st = xcnn_explain_batch(m, bad, N, &o, out, N * in_n, res, &done);
    check(st == XCNN_ERR_NUMERIC && done == 2 && !strncmp(xcnn_model_error(m), "input 2: ", 9),
          "a NaN in input 2: numeric error, done = 2, message '%s'", xcnn_model_error(m));
    float *one = malloc(in_n * sizeof(float));
    int first_two = 1;
    for (int i = 0; i < 2; i++)
        first_two &= xcnn_explain(m, x + (size_t)i * in_n, &o, one, in_n, NULL) == XCNN_OK &&
                     !memcmp(one, out + (size_t)i * in_n, in_n * sizeof(float));
    check(first_two, "  inputs 0 and 1 are complete and right");
    o.target = 100000;
    st = xcnn_explain_batch(m, x, N, &o, out, N * in_n, res, &done);
    check(st == XCNN_ERR_ARG && done == 0 && strstr(xcnn_model_error(m), "target 100000"),
          "a target out of range: '%s'", xcnn_model_error(m));
    o.target = -1;
    check(xcnn_explain_batch(m, x, 0, &o, out, N * in_n, res, &done) == XCNN_ERR_ARG,
          "n = 0 refused: %s", xcnn_model_error(m));
    check(xcnn_explain_batch(m, x, N, &o, out, N * in_n, NULL, &done) == XCNN_ERR_ARG,
          "results NULL refused");
    check(xcnn_explain_batch(m, x, N, &o, out, N * in_n - 1, res, &done) == XCNN_ERR_ARG &&
              strstr(xcnn_model_error(m), "out holds"),
          "out one float short refused: %s", xcnn_model_error(m));
    check(xcnn_explain_batch(NULL, x, N, &o, out, N * in_n, res, &done) == XCNN_ERR_ARG &&
              done == 0,
          "model NULL refused");

    xcnn_load_options lo = {0};
    lo.inference_only = 1;
    xcnn_model *mi = NULL;
    if (xcnn_model_load(DIR "/model.onnx", &lo, &mi, err, sizeof err) == XCNN_OK) {
        st = xcnn_explain_batch(mi, x, N, &o, out, N * in_n, res, &done);
        check(st == XCNN_ERR_ARG && done == 0 && strstr(xcnn_model_error(mi), "gradients"),
              "an inference-only model refused: %s", xcnn_model_error(mi));
        xcnn_model_free(mi);
    } else {
        check(0, "inference-only load: %s", err);
    }
    free(one);
    free(bad);
    free(out);
    free(x);
    free(x0);
    xcnn_model_free(m);
    return check_summary();
}
