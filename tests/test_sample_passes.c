/*
 * Sample passes (xcnn_exec_sample_passes): the samples of a batch on
 * threads of their own, each a whole forward and backward with its ops
 * single-threaded. Checked against the batched pass (every op split over
 * the threads), bit for bit:
 *   - each sample's output and input gradient, full backward and to a cut;
 *   - integrated gradients and SmoothGrad (which run their passes so)
 *     with the model's views and with the views turned off;
 *   - the first call on a fresh model, whose ops make their weight forms
 *     on first use (sample 0 then runs alone first);
 *   - the picking passes (targets of -1: each sample's arg-max) and the
 *     values-only sample forwards of the forward-only explainers.
 * Without OpenMP (make OMP=0) or with one thread there are no views: the
 * batched pass runs, and these comparisons are reported as skipped (the
 * model is asked for 2 threads: without OpenMP it must still make none).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/explain/explain.h"
#include "check.h"
#include "fixture.h"

static xcnn_model *load_threads(const char *dir, int batch)
{
    xcnn_model *m = fixture_model(dir);
    if (!m) return NULL;
    xcnn_model_set_threads(m, 2);
    if (xcnn_model_reserve(m, batch) != XCNN_OK) {
        xcnn_model_free(m);
        return NULL;
    }
    return m;
}

/* Inputs of one sample each: the fixture's input, scaled per sample. */
static float *inputs(const char *dir, int batch, size_t *n)
{
    float *x = fixture_npy(dir, "input.npy", n);
    if (!x) return NULL;
    float *xs = malloc(*n * (size_t)batch * sizeof(float));
    for (int b = 0; b < batch; b++)
        for (size_t i = 0; i < *n; i++) xs[(size_t)b * *n + i] = x[i] * (1.0f - 0.1f * (float)b);
    free(x);
    return xs;
}

/* Output and input gradient of every sample: sample passes == batched. */
static void test_exec(const char *dir, int stop_at_cut)
{
    enum { B = 3 };
    size_t n = 0;
    xcnn_model *ms = load_threads(dir, B), *mb = load_threads(dir, B);
    float *x = inputs(dir, B, &n);
    if (!check(ms && mb && x, "%s: loads for sample passes", dir)) goto out;
    if (ms->n_views < 2) {
        check_skip("%s: no sample views (one thread or no OpenMP)", dir);
        goto out;
    }
    int stop = stop_at_cut ? ms->ex_cut : -1, targets[B] = {1, 3, 1};
    const xcnn_tensor *gs = &ms->g->tensors[stop >= 0 ? stop : ms->g->input];
    const xcnn_tensor *gb = &mb->g->tensors[stop >= 0 ? stop : mb->g->input];
    const xcnn_tensor *ys = &ms->g->tensors[ms->g->output], *yb = &mb->g->tensors[mb->g->output];
    size_t gn = xcnn_tensor_sample_numel(gs) * B, yn = xcnn_tensor_sample_numel(ys) * B;
    xcnn_err err = {{0}};
    /* Twice: the first call finds the ops cold (sample 0 alone first). */
    for (int round = 0; round < 2; round++) {
        int ok = xcnn_exec_sample_passes(ms, x, B, targets, XCNN_RELU_GRADIENT, stop, &err) ==
                     XCNN_OK &&
                 xcnn_exec_forward(mb, x, B, &err) == XCNN_OK &&
                 xcnn_exec_backward(mb, targets, NULL, XCNN_RELU_GRADIENT, stop, &err) ==
                     XCNN_OK;
        if (!check(ok, "%s: passes run (%s)", dir, err.msg)) break;
        check(memcmp(ys->data, yb->data, yn * sizeof(float)) == 0,
              "%s: call %d, 3 samples on 2 threads: outputs == the batched pass's, bit for bit",
              dir, round + 1);
        check(memcmp(gs->grad, gb->grad, gn * sizeof(float)) == 0,
              "%s: call %d: gradients at %s == the batched pass's, bit for bit", dir, round + 1,
              stop >= 0 ? "the cut" : "the input");
    }
    int bad = 99;
    check(xcnn_exec_sample_passes(ms, x, B, (int[]){1, bad, 1}, XCNN_RELU_GRADIENT, stop,
                                  &err) != XCNN_OK,
          "%s: sample passes refuse target %d", dir, bad);
out:
    free(x);
    xcnn_model_free(ms);
    xcnn_model_free(mb);
}

/* xcnn_exec_sample_passes_picking (xcnn_explain_batch's gradient methods):
 * a target of -1 becomes the sample's own arg-max, written back; the
 * results are the batched pass's with those targets. A refusal here would
 * go unseen elsewhere: xcnn_explain_batch reruns a failed pass input by
 * input, to the same bits, only slower. */
static void test_picking(const char *dir)
{
    enum { B = 3 };
    size_t n = 0;
    xcnn_model *ms = load_threads(dir, B), *mb = load_threads(dir, B);
    float *x = inputs(dir, B, &n);
    if (!check(ms && mb && x, "%s: loads for picked targets", dir)) goto out;
    if (ms->n_views < 2) {
        check_skip("%s: no sample views (one thread or no OpenMP)", dir);
        goto out;
    }
    xcnn_err err = {{0}};
    int picked[B] = {-1, 2, -1}, argmax[B];
    if (!check(xcnn_exec_forward(mb, x, B, &err) == XCNN_OK, "%s: forward (%s)", dir, err.msg))
        goto out;
    const xcnn_tensor *yb = &mb->g->tensors[mb->g->output];
    size_t k = xcnn_tensor_sample_numel(yb);
    for (int b = 0; b < B; b++) {
        argmax[b] = 0;
        for (size_t i = 1; i < k; i++)
            if (yb->data[b * k + i] > yb->data[b * k + (size_t)argmax[b]]) argmax[b] = (int)i;
    }
    argmax[1] = 2;
    int ok = xcnn_exec_sample_passes_picking(ms, x, B, picked, XCNN_RELU_GRADIENT, -1, &err) ==
                 XCNN_OK &&
             xcnn_exec_backward(mb, argmax, NULL, XCNN_RELU_GRADIENT, -1, &err) == XCNN_OK;
    if (!check(ok, "%s: targets of -1 accepted by the picking passes (%s)", dir, err.msg))
        goto out;
    check(memcmp(picked, argmax, sizeof picked) == 0,
          "%s: -1 became each sample's arg-max (%d %d %d), a given target kept (%d)", dir,
          picked[0], picked[1], picked[2], argmax[1]);
    const xcnn_tensor *gs = &ms->g->tensors[ms->g->input], *gb = &mb->g->tensors[mb->g->input];
    check(memcmp(gs->grad, gb->grad, xcnn_tensor_sample_numel(gs) * B * sizeof(float)) == 0,
          "%s: picked targets: input gradients == the batched pass's, bit for bit", dir);
    check(xcnn_exec_sample_passes_picking(ms, x, B, (int[]){-2, 0, 0}, XCNN_RELU_GRADIENT, -1,
                                          &err) != XCNN_OK,
          "%s: the picking passes refuse target -2", dir);
out:
    free(x);
    xcnn_model_free(ms);
    xcnn_model_free(mb);
}

/* xcnn_exec_sample_forwards (occlusion's, RISE's and Score-CAM's batches):
 * before a batched values-only forward has made the forms it needs it runs
 * that batched forward itself; after, a sample per thread, every output
 * equal to the batched values-only forward's, bit for bit. */
static void test_forwards(const char *dir)
{
    enum { B = 5 };
    size_t n = 0;
    xcnn_model *ms = load_threads(dir, B), *mb = load_threads(dir, B);
    float *x = inputs(dir, B, &n);
    if (!check(ms && mb && x, "%s: loads for sample forwards", dir)) goto out;
    if (ms->n_views < 2) {
        check_skip("%s: no sample views (one thread or no OpenMP)", dir);
        goto out;
    }
    xcnn_err err = {{0}};
    const xcnn_tensor *ys = &ms->g->tensors[ms->g->output], *yb = &mb->g->tensors[mb->g->output];
    size_t yn = xcnn_tensor_sample_numel(ys) * B;
    int ok = xcnn_exec_forward_values(mb, x, B, mb->g->output, &err) == XCNN_OK;
    check(!ms->values_warm, "%s: a fresh model has made no values-only forms", dir);
    ok = ok && xcnn_exec_sample_forwards(ms, x, B, &err) == XCNN_OK;
    if (!check(ok, "%s: forwards run (%s)", dir, err.msg)) goto out;
    check(ms->values_warm, "%s: the first call (batched) made the values-only forms", dir);
    check(memcmp(ys->data, yb->data, yn * sizeof(float)) == 0,
          "%s: first call: outputs == the batched values-only forward's, bit for bit", dir);
    for (size_t i = 0; i < n * B; i++) x[i] = -0.5f * x[i]; /* other values: nothing stale */
    ok = xcnn_exec_sample_forwards(ms, x, B, &err) == XCNN_OK &&
         xcnn_exec_forward_values(mb, x, B, mb->g->output, &err) == XCNN_OK;
    if (check(ok, "%s: second forwards run (%s)", dir, err.msg))
        check(memcmp(ys->data, yb->data, yn * sizeof(float)) == 0,
              "%s: 5 samples on 2 threads: outputs == the batched values-only forward's, bit "
              "for bit", dir);
out:
    free(x);
    xcnn_model_free(ms);
    xcnn_model_free(mb);
}

/* An explainer with the model's views, then with them turned off. */
static void test_method(const char *dir, xcnn_method method)
{
    size_t n = 0;
    xcnn_model *m = load_threads(dir, 4);
    float *x = fixture_npy(dir, "input.npy", &n);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    if (!check(m && x && a && b, "%s: loads for the explainer test", dir)) goto out;
    if (m->n_views < 2) {
        check_skip("%s: no sample views (one thread or no OpenMP)", dir);
        goto out;
    }
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, method);
    o.target = 2;
    o.steps = 9;
    o.samples = 7;
    o.seed = 5;
    xcnn_explain_result ra, rb;
    int ok = xcnn_explain(m, x, &o, a, n, &ra) == XCNN_OK;
    int views = m->n_views;
    m->n_views = 0;
    ok = ok && xcnn_explain(m, x, &o, b, n, &rb) == XCNN_OK;
    m->n_views = views;
    const char *name = method == XCNN_SMOOTHGRAD ? "smoothgrad" : "integrated gradients";
    if (check(ok, "%s: %s runs both ways", dir, name)) {
        check(memcmp(a, b, n * sizeof(float)) == 0,
              "%s: %s with a sample per thread == batched passes, bit for bit", dir, name);
        check(ra.delta == rb.delta, "%s: %s: the same delta (%g, %g)", dir, name, ra.delta,
              rb.delta);
    }
out:
    free(a);
    free(b);
    free(x);
    xcnn_model_free(m);
}

int main(void)
{
    const char *dirs[] = {"tests/fixtures/resnet_narrow", "tests/fixtures/rescnn_bn"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        test_exec(dirs[i], 0);
        test_picking(dirs[i]);
        test_forwards(dirs[i]);
        test_method(dirs[i], XCNN_INTEGRATED_GRADIENTS);
        test_method(dirs[i], XCNN_SMOOTHGRAD);
    }
    test_exec("tests/fixtures/resnet_narrow", 1);
    return check_summary();
}
