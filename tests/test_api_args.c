/*
 * Every public function of include/xcnn.h and include/xcnn_train.h (but
 * the .npy and heatmap ones, tested with the readers) against bad
 * arguments: NULL model, NULL pointers, negative, zero and huge batches,
 * out-of-range indices and targets, NULL names, bad options. Each row
 * gives the call, the status it must return and where its message must
 * appear: the model's error (xcnn_model_error), the caller's buffer, or
 * nowhere (the functions that take neither: the status is their whole
 * answer). Before every row the message holder is set to a sentinel, so
 * that a failure which writes nothing (the message of an earlier call
 * left standing) is caught. Messages are one line.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "check.h"
#include "fixture.h"

#define DIR "tests/fixtures/plaincnn"
#define SENTINEL_NAME "sentinel"

static char ebuf[600];
static const char *const BUF_SENTINEL = "(sentinel: nothing was written)";

/* A failed call whose message is known: what the next failure replaces. */
static void set_sentinel(xcnn_model *m)
{
    xcnn_tensor_view v;
    xcnn_model_tensor(m, SENTINEL_NAME, &v);
}

static int one_line_message(const char *s, const char *sentinel)
{
    return s && s[0] && !strchr(s, '\n') && strcmp(s, sentinel) != 0 && !strstr(s, SENTINEL_NAME);
}

static void expect_model(xcnn_model *m, xcnn_status want, xcnn_status got, const char *what)
{
    const char *e = xcnn_model_error(m);
    check(got == want && one_line_message(e, "no tensor or layer named '" SENTINEL_NAME "'"),
          "%s: %s (want %s): \"%s\"", what, xcnn_status_name(got), xcnn_status_name(want), e);
}

static void expect_buf(xcnn_status want, xcnn_status got, const char *what)
{
    check(got == want && one_line_message(ebuf, BUF_SENTINEL), "%s: %s (want %s): \"%s\"", what,
          xcnn_status_name(got), xcnn_status_name(want), ebuf);
}

static void expect_status(xcnn_status want, xcnn_status got, const char *what)
{
    check(got == want, "%s: %s (want %s; no model or buffer to write to)", what,
          xcnn_status_name(got), xcnn_status_name(want));
}

/* Rows: the message goes into model M, into ebuf, or nowhere. */
#define ON_MODEL(M, WANT, WHAT, CALL)                                                              \
    do {                                                                                           \
        set_sentinel(M);                                                                           \
        xcnn_status st_ = (CALL);                                                                  \
        expect_model(M, WANT, st_, WHAT);                                                          \
    } while (0)
#define ON_BUF(WANT, WHAT, CALL)                                                                   \
    do {                                                                                           \
        snprintf(ebuf, sizeof ebuf, "%s", BUF_SENTINEL);                                           \
        xcnn_status st_ = (CALL);                                                                  \
        expect_buf(WANT, st_, WHAT);                                                               \
    } while (0)
#define STATUS(WANT, WHAT, CALL) expect_status(WANT, (CALL), WHAT)

static xcnn_model *load(const char *what, int inference_only)
{
    char path[256], err[600];
    xcnn_load_options o = {.inference_only = inference_only};
    xcnn_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", DIR);
    xcnn_status st = xcnn_model_load(path, &o, &m, err, sizeof err);
    if (!check(st == XCNN_OK, "%s loads (%s)", what, st ? err : "ok")) return NULL;
    return m;
}

/* ---- xcnn.h: loading -------------------------------------------------- */

static void test_load(void)
{
    char path[256];
    xcnn_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", DIR);
    ON_BUF(XCNN_ERR_ARG, "load: out NULL", xcnn_model_load(path, NULL, NULL, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "load: path NULL", xcnn_model_load(NULL, NULL, &m, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_IO, "load: no such file",
           xcnn_model_load("/nonexistent/model.onnx", NULL, &m, ebuf, sizeof ebuf));
    xcnn_load_options o = {.input_dims = {0, 0, 0, -5}};
    ON_BUF(XCNN_ERR_SHAPE, "load: input_dims -5 against a fixed 28",
           xcnn_model_load(path, &o, &m, ebuf, sizeof ebuf));
    check(m == NULL, "failed loads leave *out NULL");
    ON_BUF(XCNN_ERR_ARG, "load_memory: out NULL",
           xcnn_model_load_memory("x", 1, NULL, NULL, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "load_memory: data NULL, size 10",
           xcnn_model_load_memory(NULL, 10, NULL, &m, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_FORMAT, "load_memory: 0 bytes",
           xcnn_model_load_memory(NULL, 0, NULL, &m, ebuf, sizeof ebuf));
    /* An err_size of 0 or a NULL err is not written to, and still fails. */
    STATUS(XCNN_ERR_ARG, "load: out NULL, err NULL", xcnn_model_load(path, NULL, NULL, NULL, 0));
    STATUS(XCNN_ERR_IO, "load: no such file, err_size 0",
           xcnn_model_load("/nonexistent", NULL, &m, ebuf, 0));
}

/* ---- xcnn.h: the model calls ----------------------------------------- */

static void test_model_calls(xcnn_model *m, xcnn_model *inf, const float *x)
{
    xcnn_tensor_view v;
    xcnn_node_info ni;
    float out[10];
    int count = xcnn_model_node_count(m);

    STATUS(XCNN_ERR_ARG, "set_threads: model NULL", xcnn_model_set_threads(NULL, 1));
    ON_MODEL(m, XCNN_ERR_ARG, "set_threads -1", xcnn_model_set_threads(m, -1));
    ON_MODEL(m, XCNN_ERR_ARG, "set_threads 1025", xcnn_model_set_threads(m, 1025));
    ON_MODEL(m, XCNN_ERR_ARG, "set_threads INT_MIN", xcnn_model_set_threads(m, INT_MIN));

    STATUS(XCNN_ERR_ARG, "reserve: model NULL", xcnn_model_reserve(NULL, 2));
    ON_MODEL(m, XCNN_ERR_ARG, "reserve 0", xcnn_model_reserve(m, 0));
    ON_MODEL(m, XCNN_ERR_ARG, "reserve -1", xcnn_model_reserve(m, -1));
    ON_MODEL(m, XCNN_ERR_ARG, "reserve INT_MIN", xcnn_model_reserve(m, INT_MIN));
    ON_MODEL(m, XCNN_ERR_LIMIT, "reserve INT_MAX", xcnn_model_reserve(m, INT_MAX));
    ON_MODEL(inf, XCNN_ERR_LIMIT, "reserve INT_MAX (inference_only)",
             xcnn_model_reserve(inf, INT_MAX));

    STATUS(XCNN_ERR_ARG, "enable_param_grads: model NULL", xcnn_model_enable_param_grads(NULL));
    ON_MODEL(inf, XCNN_ERR_ARG, "enable_param_grads on an inference_only model",
             xcnn_model_enable_param_grads(inf));
    STATUS(XCNN_ERR_ARG, "set_profiling: model NULL", xcnn_model_set_profiling(NULL, 1));

    STATUS(XCNN_ERR_ARG, "model_input: model NULL", xcnn_model_input(NULL, &v));
    ON_MODEL(m, XCNN_ERR_ARG, "model_input: out NULL", xcnn_model_input(m, NULL));
    STATUS(XCNN_ERR_ARG, "model_output: model NULL", xcnn_model_output(NULL, &v));
    ON_MODEL(m, XCNN_ERR_ARG, "model_output: out NULL", xcnn_model_output(m, NULL));
    STATUS(XCNN_ERR_ARG, "model_tensor: model NULL", xcnn_model_tensor(NULL, "input", &v));
    ON_MODEL(m, XCNN_ERR_ARG, "model_tensor: name NULL", xcnn_model_tensor(m, NULL, &v));
    ON_MODEL(m, XCNN_ERR_ARG, "model_tensor: out NULL", xcnn_model_tensor(m, "input", NULL));
    ON_MODEL(m, XCNN_ERR_NOT_FOUND, "model_tensor: unknown", xcnn_model_tensor(m, "nope", &v));
    ON_MODEL(m, XCNN_ERR_NOT_FOUND, "model_tensor: empty name", xcnn_model_tensor(m, "", &v));

    STATUS(XCNN_ERR_ARG, "model_node: model NULL", xcnn_model_node(NULL, 0, &ni));
    ON_MODEL(m, XCNN_ERR_ARG, "model_node -1", xcnn_model_node(m, -1, &ni));
    ON_MODEL(m, XCNN_ERR_ARG, "model_node count", xcnn_model_node(m, count, &ni));
    ON_MODEL(m, XCNN_ERR_ARG, "model_node INT_MAX", xcnn_model_node(m, INT_MAX, &ni));
    ON_MODEL(m, XCNN_ERR_ARG, "model_node INT_MIN", xcnn_model_node(m, INT_MIN, &ni));
    ON_MODEL(m, XCNN_ERR_ARG, "model_node: out NULL", xcnn_model_node(m, 0, NULL));

    STATUS(XCNN_ERR_ARG, "forward: model NULL", xcnn_forward(NULL, x, 1, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward: input NULL", xcnn_forward(m, NULL, 1, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward batch 0", xcnn_forward(m, x, 0, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward batch -1", xcnn_forward(m, x, -1, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward batch 2 (reserved 1)", xcnn_forward(m, x, 2, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward batch INT_MAX", xcnn_forward(m, x, INT_MAX, out));
    ON_MODEL(m, XCNN_ERR_ARG, "forward batch INT_MIN", xcnn_forward(m, x, INT_MIN, out));

    xcnn_model *fresh = load("a fresh model", 0);
    int t = 3, bad_t[] = {-1, 10, INT_MAX, INT_MIN};
    if (fresh) {
        ON_MODEL(fresh, XCNN_ERR_ARG, "backward before any forward",
                 xcnn_backward(fresh, &t, NULL, NULL));
        xcnn_model_free(fresh);
    }
    check(xcnn_forward(m, x, 1, out) == XCNN_OK, "a forward for the backward rows");
    STATUS(XCNN_ERR_ARG, "backward: model NULL", xcnn_backward(NULL, &t, NULL, NULL));
    ON_MODEL(m, XCNN_ERR_ARG, "backward: targets and seed NULL",
             xcnn_backward(m, NULL, NULL, NULL));
    for (int k = 0; k < 4; k++) {
        char what[64];
        snprintf(what, sizeof what, "backward target %d", bad_t[k]);
        ON_MODEL(m, XCNN_ERR_ARG, what, xcnn_backward(m, &bad_t[k], NULL, NULL));
    }
    xcnn_backward_options bo = {(xcnn_relu_rule)7, NULL};
    ON_MODEL(m, XCNN_ERR_ARG, "backward relu rule 7", xcnn_backward(m, &t, NULL, &bo));
    bo.relu_rule = (xcnn_relu_rule)-1;
    ON_MODEL(m, XCNN_ERR_ARG, "backward relu rule -1", xcnn_backward(m, &t, NULL, &bo));
    bo = (xcnn_backward_options){XCNN_RELU_GRADIENT, "nope"};
    ON_MODEL(m, XCNN_ERR_NOT_FOUND, "backward stop_at unknown", xcnn_backward(m, &t, NULL, &bo));
    bo.stop_at = "";
    ON_MODEL(m, XCNN_ERR_NOT_FOUND, "backward stop_at \"\"", xcnn_backward(m, &t, NULL, &bo));
    if (xcnn_forward(inf, x, 1, out) == XCNN_OK)
        ON_MODEL(inf, XCNN_ERR_ARG, "backward on an inference_only model",
                 xcnn_backward(inf, &t, NULL, NULL));

    /* Calls that cannot fail answer NULL models plainly. */
    check(!strcmp(xcnn_model_error(NULL), "model is NULL") && xcnn_model_max_batch(NULL) == 0 &&
              xcnn_model_arena_bytes(NULL) == 0 && xcnn_model_weight_bytes(NULL) == 0 &&
              xcnn_model_node_count(NULL) == 0 && !xcnn_model_metadata(NULL, "k") &&
              !xcnn_model_metadata(m, NULL) && !xcnn_model_default_cam_layer(NULL),
          "the getters answer NULL arguments with NULL or 0");
    xcnn_model_free(NULL);
    xcnn_explain_options_init(NULL, XCNN_SALIENCY);
    check(1, "xcnn_model_free(NULL) and xcnn_explain_options_init(NULL) return");
}

/* ---- xcnn.h: explanations -------------------------------------------- */

static void test_explain(xcnn_model *m, const float *x)
{
    float attr[784];
    int nd;
    int64_t d[4];
    xcnn_explain_options o;
    xcnn_explain_result r;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    STATUS(XCNN_ERR_ARG, "explain: model NULL", xcnn_explain(NULL, x, &o, attr, 784, &r));
    ON_MODEL(m, XCNN_ERR_ARG, "explain: input NULL", xcnn_explain(m, NULL, &o, attr, 784, &r));
    ON_MODEL(m, XCNN_ERR_ARG, "explain: options NULL", xcnn_explain(m, x, NULL, attr, 784, &r));
    ON_MODEL(m, XCNN_ERR_ARG, "explain: out NULL", xcnn_explain(m, x, &o, NULL, 784, &r));
    ON_MODEL(m, XCNN_ERR_ARG, "explain: out 783 floats", xcnn_explain(m, x, &o, attr, 783, &r));
    ON_MODEL(m, XCNN_ERR_ARG, "explain: out 0 floats", xcnn_explain(m, x, &o, attr, 0, &r));
    struct {
        const char *what;
        xcnn_method method;
        int target, steps, samples, rule;
        float stdev;
        const char *layer;
        xcnn_status want;
    } rows[] = {
        {"method 99", (xcnn_method)99, -1, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"method -1", (xcnn_method)-1, -1, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"target -2", XCNN_SALIENCY, -2, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"target 10 (10 outputs)", XCNN_SALIENCY, 10, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"target INT_MAX", XCNN_SALIENCY, INT_MAX, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"target INT_MIN", XCNN_SALIENCY, INT_MIN, 50, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"IG steps 0", XCNN_INTEGRATED_GRADIENTS, -1, 0, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"IG steps -1", XCNN_INTEGRATED_GRADIENTS, -1, -1, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"IG steps INT_MAX", XCNN_INTEGRATED_GRADIENTS, -1, INT_MAX, 25, 0, -1, NULL, XCNN_ERR_ARG},
        {"IG rule 99", XCNN_INTEGRATED_GRADIENTS, -1, 5, 25, 99, -1, NULL, XCNN_ERR_ARG},
        {"IG rule -1", XCNN_INTEGRATED_GRADIENTS, -1, 5, 25, -1, -1, NULL, XCNN_ERR_ARG},
        {"smoothgrad samples 0", XCNN_SMOOTHGRAD, -1, 50, 0, 0, -1, NULL, XCNN_ERR_ARG},
        {"smoothgrad samples INT_MIN", XCNN_SMOOTHGRAD, -1, 50, INT_MIN, 0, -1, NULL, XCNN_ERR_ARG},
        {"smoothgrad stdev NaN", XCNN_SMOOTHGRAD, -1, 50, 2, 0, NAN, NULL, XCNN_ERR_ARG},
        {"gradcam layer unknown", XCNN_GRADCAM, -1, 50, 25, 0, -1, "nope", XCNN_ERR_NOT_FOUND},
        {"gradcam layer \"\"", XCNN_GRADCAM, -1, 50, 25, 0, -1, "", XCNN_ERR_NOT_FOUND},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char what[96];
        xcnn_explain_options_init(&o, rows[k].method);
        o.target = rows[k].target;
        o.steps = rows[k].steps;
        o.samples = rows[k].samples;
        o.ig_rule = (xcnn_ig_rule)rows[k].rule;
        o.stdev = rows[k].stdev;
        o.layer = rows[k].layer;
        snprintf(what, sizeof what, "explain %s", rows[k].what);
        ON_MODEL(m, rows[k].want, what, xcnn_explain(m, x, &o, attr, 784, &r));
    }
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    STATUS(XCNN_ERR_ARG, "explain_shape: model NULL", xcnn_explain_shape(NULL, &o, &nd, d));
    ON_MODEL(m, XCNN_ERR_ARG, "explain_shape: options NULL", xcnn_explain_shape(m, NULL, &nd, d));
    ON_MODEL(m, XCNN_ERR_ARG, "explain_shape: ndim NULL", xcnn_explain_shape(m, &o, NULL, d));
    ON_MODEL(m, XCNN_ERR_ARG, "explain_shape: dims NULL", xcnn_explain_shape(m, &o, &nd, NULL));
    o.method = (xcnn_method)99;
    ON_MODEL(m, XCNN_ERR_ARG, "explain_shape: method 99", xcnn_explain_shape(m, &o, &nd, d));
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.layer = "nope";
    ON_MODEL(m, XCNN_ERR_NOT_FOUND, "explain_shape: gradcam layer unknown",
             xcnn_explain_shape(m, &o, &nd, d));
}

/* ---- xcnn_train.h ---------------------------------------------------- */

static void test_train(void)
{
    /* loss, optimizer, datasets: no model, no buffer */
    float z[4] = {1, 2, 3, 4}, g[4], zn[4] = {1, NAN, 3, 4};
    int lab[2] = {0, 1}, bad_lab[2] = {0, 2}, neg_lab[2] = {-1, 0};
    double loss;
    STATUS(XCNN_ERR_ARG, "cross_entropy: logits NULL",
           xcnn_cross_entropy(NULL, lab, 2, 2, &loss, g));
    STATUS(XCNN_ERR_ARG, "cross_entropy: labels NULL", xcnn_cross_entropy(z, NULL, 2, 2, &loss, g));
    STATUS(XCNN_ERR_ARG, "cross_entropy: batch 0", xcnn_cross_entropy(z, lab, 0, 2, &loss, g));
    STATUS(XCNN_ERR_ARG, "cross_entropy: classes 0", xcnn_cross_entropy(z, lab, 2, 0, &loss, g));
    STATUS(XCNN_ERR_ARG, "cross_entropy: label 2 of 2 classes",
           xcnn_cross_entropy(z, bad_lab, 2, 2, &loss, g));
    STATUS(XCNN_ERR_ARG, "cross_entropy: label -1", xcnn_cross_entropy(z, neg_lab, 2, 2, &loss, g));
    STATUS(XCNN_ERR_NUMERIC, "cross_entropy: a NaN logit",
           xcnn_cross_entropy(zn, lab, 2, 2, &loss, g));

    xcnn_optim_options oo;
    xcnn_optim_options_init(NULL, XCNN_OPT_SGD);
    xcnn_optim_options_init(&oo, XCNN_OPT_ADAM);
    float w[2] = {1, 2}, gw[2] = {0.1f, 0.2f}, st[4] = {0};
    STATUS(XCNN_ERR_ARG, "optim_update: options NULL",
           xcnn_optim_update(NULL, 0.1f, 1, w, gw, st, 2, 1));
    STATUS(XCNN_ERR_ARG, "optim_update: w NULL",
           xcnn_optim_update(&oo, 0.1f, 1, NULL, gw, st, 2, 1));
    STATUS(XCNN_ERR_ARG, "optim_update: g NULL",
           xcnn_optim_update(&oo, 0.1f, 1, w, NULL, st, 2, 1));
    STATUS(XCNN_ERR_ARG, "optim_update: state NULL",
           xcnn_optim_update(&oo, 0.1f, 1, w, gw, NULL, 2, 1));
    STATUS(XCNN_ERR_ARG, "optim_update: lr NaN", xcnn_optim_update(&oo, NAN, 1, w, gw, st, 2, 1));
    check(w[0] == 1 && w[1] == 2, "refused updates change no weight");
    STATUS(XCNN_OK, "optim_update: n 0 with NULL arrays",
           xcnn_optim_update(&oo, 0.1f, 1, NULL, NULL, NULL, 0, 1));

    float dx[3 * 4] = {0}, gx[2 * 4];
    int dy[3] = {0, 1, 2}, gy[2], idx_ok[2] = {0, 2}, idx_hi[2] = {0, 3}, idx_neg[2] = {-1, 0};
    xcnn_dataset d = {3, 1, 2, 2, 3, dx, dy};
    STATUS(XCNN_ERR_ARG, "dataset_gather: dataset NULL",
           xcnn_dataset_gather(NULL, idx_ok, 2, gx, gy));
    STATUS(XCNN_ERR_ARG, "dataset_gather: idx NULL", xcnn_dataset_gather(&d, NULL, 2, gx, gy));
    STATUS(XCNN_ERR_ARG, "dataset_gather: x NULL", xcnn_dataset_gather(&d, idx_ok, 2, NULL, gy));
    STATUS(XCNN_ERR_ARG, "dataset_gather: count -1", xcnn_dataset_gather(&d, idx_ok, -1, gx, gy));
    STATUS(XCNN_ERR_ARG, "dataset_gather: index n (3 samples)",
           xcnn_dataset_gather(&d, idx_hi, 2, gx, gy));
    STATUS(XCNN_ERR_ARG, "dataset_gather: index -1", xcnn_dataset_gather(&d, idx_neg, 2, gx, gy));
    STATUS(XCNN_OK, "dataset_gather: good indices", xcnn_dataset_gather(&d, idx_ok, 2, gx, gy));
    int perm[3] = {0, 1, 2};
    uint64_t rng = 1;
    STATUS(XCNN_ERR_ARG, "shuffle: perm NULL", xcnn_shuffle(NULL, 3, &rng));
    STATUS(XCNN_ERR_ARG, "shuffle: n -1", xcnn_shuffle(perm, -1, &rng));
    STATUS(XCNN_ERR_ARG, "shuffle: rng NULL", xcnn_shuffle(perm, 3, NULL));
    xcnn_dataset_free(NULL);

    xcnn_dataset out;
    ON_BUF(XCNN_ERR_ARG, "dataset_load_idx: paths NULL",
           xcnn_dataset_load_idx(NULL, NULL, 0, 1, &out, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "dataset_load_idx: out NULL",
           xcnn_dataset_load_idx("a", "b", 0, 1, NULL, ebuf, sizeof ebuf));
    const float bad_ms[][2] = {{0, 0},        {0, -1},       {0, NAN},    {NAN, 1},
                               {INFINITY, 1}, {0, INFINITY}, {0, 1e-45f}, {3e38f, 1e-3f}};
    for (size_t k = 0; k < sizeof bad_ms / sizeof bad_ms[0]; k++) {
        char what[96];
        snprintf(what, sizeof what, "dataset_load_idx: mean %g std %g", bad_ms[k][0], bad_ms[k][1]);
        ON_BUF(
            XCNN_ERR_ARG, what,
            xcnn_dataset_load_idx("a", "b", bad_ms[k][0], bad_ms[k][1], &out, ebuf, sizeof ebuf));
    }

    /* building and training */
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(NULL);
    xcnn_resnet_options_init(&ro);
    xcnn_model *tm = NULL;
    ON_BUF(XCNN_ERR_ARG, "resnet_build: options NULL",
           xcnn_resnet_build(NULL, &tm, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "resnet_build: out NULL", xcnn_resnet_build(&ro, NULL, ebuf, sizeof ebuf));
    ro.n_stages = 5;
    ON_BUF(XCNN_ERR_ARG, "resnet_build: 5 stages", xcnn_resnet_build(&ro, &tm, ebuf, sizeof ebuf));
    xcnn_resnet_options_init(&ro);
    ro.channels = 0;
    ON_BUF(XCNN_ERR_ARG, "resnet_build: 0 channels",
           xcnn_resnet_build(&ro, &tm, ebuf, sizeof ebuf));
    xcnn_resnet_options_init(&ro);
    ro.height = ro.width = 8;
    ro.n_stages = 1;
    ro.widths[0] = 4;
    xcnn_status bst = xcnn_resnet_build(&ro, &tm, ebuf, sizeof ebuf);
    if (!check(bst == XCNN_OK, "a small resnet builds (%s)", bst ? ebuf : "ok")) return;
    xcnn_optim_options_init(&oo, XCNN_OPT_SGD);
    xcnn_trainer *t = NULL;
    ON_BUF(XCNN_ERR_ARG, "trainer_new: model NULL",
           xcnn_trainer_new(NULL, &oo, 2, &t, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "trainer_new: options NULL",
           xcnn_trainer_new(tm, NULL, 2, &t, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "trainer_new: out NULL",
           xcnn_trainer_new(tm, &oo, 2, NULL, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "trainer_new: max_batch 0",
           xcnn_trainer_new(tm, &oo, 0, &t, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_LIMIT, "trainer_new: max_batch INT_MAX",
           xcnn_trainer_new(tm, &oo, INT_MAX, &t, ebuf, sizeof ebuf));
    struct {
        const char *what;
        xcnn_optimizer kind;
        float lr, momentum, beta1, eps, wd;
    } bad_opt[] = {
        {"kind 7", (xcnn_optimizer)7, 0.1f, 0.9f, 0.9f, 1e-8f, 0},
        {"lr NaN", XCNN_OPT_SGD, NAN, 0.9f, 0.9f, 1e-8f, 0},
        {"lr -1", XCNN_OPT_SGD, -1, 0.9f, 0.9f, 1e-8f, 0},
        {"momentum 2", XCNN_OPT_SGD, 0.1f, 2, 0.9f, 1e-8f, 0},
        {"weight_decay -1", XCNN_OPT_SGD, 0.1f, 0.9f, 0.9f, 1e-8f, -1},
        {"Adam beta1 1", XCNN_OPT_ADAM, 0.1f, 0.9f, 1, 1e-8f, 0},
        {"Adam eps 0", XCNN_OPT_ADAM, 0.1f, 0.9f, 0.9f, 0, 0},
    };
    for (size_t k = 0; k < sizeof bad_opt / sizeof bad_opt[0]; k++) {
        char what[96];
        xcnn_optim_options bo;
        xcnn_optim_options_init(&bo, bad_opt[k].kind);
        bo.kind = bad_opt[k].kind;
        bo.lr = bad_opt[k].lr;
        bo.momentum = bad_opt[k].momentum;
        bo.beta1 = bad_opt[k].beta1;
        bo.eps = bad_opt[k].eps;
        bo.weight_decay = bad_opt[k].wd;
        snprintf(what, sizeof what, "trainer_new: optimizer %s", bad_opt[k].what);
        ON_BUF(XCNN_ERR_ARG, what, xcnn_trainer_new(tm, &bo, 2, &t, ebuf, sizeof ebuf));
    }
    check(t == NULL, "refused trainers are NULL");
    bst = xcnn_trainer_new(tm, &oo, 2, &t, ebuf, sizeof ebuf);
    if (!check(bst == XCNN_OK, "a trainer (%s)", bst ? ebuf : "ok")) goto out;
    float x[2 * 64] = {0};
    int y[2] = {1, 2}, y_bad[2] = {1, 10};
    STATUS(XCNN_ERR_ARG, "train_step: trainer NULL",
           xcnn_train_step(NULL, x, y, 2, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: x NULL",
             xcnn_train_step(t, NULL, y, 2, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: labels NULL",
             xcnn_train_step(t, x, NULL, 2, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: batch 0",
             xcnn_train_step(t, x, y, 0, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: batch 3 (trainer's 2)",
             xcnn_train_step(t, x, y, 3, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: batch INT_MIN",
             xcnn_train_step(t, x, y, INT_MIN, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: label 10 of 10",
             xcnn_train_step(t, x, y_bad, 2, 0.1f, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: lr NaN", xcnn_train_step(t, x, y, 2, NAN, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "train_step: lr -1", xcnn_train_step(t, x, y, 2, -1, NULL, NULL));

    xcnn_dataset ds = {2, 1, 8, 8, 10, x, y}, wrong = {2, 1, 4, 4, 10, x, y},
                 neg = {-1, 1, 8, 8, 10, x, y}, nox = {2, 1, 8, 8, 10, NULL, y},
                 badl = {2, 1, 8, 8, 10, x, y_bad};
    STATUS(XCNN_ERR_ARG, "evaluate: model NULL", xcnn_evaluate(NULL, &ds, 2, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "evaluate: dataset NULL", xcnn_evaluate(tm, NULL, 2, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "evaluate: batch 0", xcnn_evaluate(tm, &ds, 0, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_SHAPE, "evaluate: 4x4 samples for an 8x8 model",
             xcnn_evaluate(tm, &wrong, 2, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "evaluate: n -1", xcnn_evaluate(tm, &neg, 2, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "evaluate: x NULL", xcnn_evaluate(tm, &nox, 2, NULL, NULL));
    ON_MODEL(tm, XCNN_ERR_ARG, "evaluate: label 10 of 10", xcnn_evaluate(tm, &badl, 2, NULL, NULL));

    unsigned char *bytes = NULL;
    size_t len = 0;
    const char *keys[1] = {"k"}, *vals[1] = {"v"}, *null1[1] = {NULL};
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: model NULL",
           xcnn_model_save_onnx_memory(NULL, NULL, NULL, 0, &bytes, &len, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: data NULL",
           xcnn_model_save_onnx_memory(tm, NULL, NULL, 0, NULL, &len, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: size NULL",
           xcnn_model_save_onnx_memory(tm, NULL, NULL, 0, &bytes, NULL, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: n_meta -1",
           xcnn_model_save_onnx_memory(tm, keys, vals, -1, &bytes, &len, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: keys NULL, n_meta 1",
           xcnn_model_save_onnx_memory(tm, NULL, vals, 1, &bytes, &len, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: keys[0] NULL",
           xcnn_model_save_onnx_memory(tm, null1, vals, 1, &bytes, &len, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "save_onnx_memory: values[0] NULL",
           xcnn_model_save_onnx_memory(tm, keys, null1, 1, &bytes, &len, ebuf, sizeof ebuf));
    check(bytes == NULL && len == 0, "refused saves return no bytes");
    ON_BUF(XCNN_ERR_ARG, "save_onnx: path NULL",
           xcnn_model_save_onnx(tm, NULL, NULL, NULL, 0, ebuf, sizeof ebuf));
    ON_BUF(
        XCNN_ERR_ARG, "save_onnx: model NULL",
        xcnn_model_save_onnx(NULL, test_tmp_path("never.onnx"), NULL, NULL, 0, ebuf, sizeof ebuf));

    unsigned char px[4] = {0};
    ON_BUF(XCNN_ERR_ARG, "png_write_gray: path NULL",
           xcnn_png_write_gray(NULL, px, 2, 2, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "png_write_gray: pixels NULL",
           xcnn_png_write_gray(test_tmp_path("never.png"), NULL, 2, 2, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "png_write_gray: width 0",
           xcnn_png_write_gray(test_tmp_path("never.png"), px, 0, 2, ebuf, sizeof ebuf));
    ON_BUF(XCNN_ERR_ARG, "png_write_gray: height -1",
           xcnn_png_write_gray(test_tmp_path("never.png"), px, 2, -1, ebuf, sizeof ebuf));
out:
    xcnn_trainer_free(t);
    xcnn_trainer_free(NULL);
    xcnn_model_free(tm);
}

int main(void)
{
    test_load();
    xcnn_model *m = load("plaincnn", 0), *inf = load("plaincnn inference_only", 1);
    size_t n = 0;
    float *x = fixture_npy(DIR, "input.npy", &n);
    if (check(m && inf && x && n == 784, "model and input")) {
        test_model_calls(m, inf, x);
        test_explain(m, x);
    }
    xcnn_model_free(m);
    xcnn_model_free(inf);
    free(x);
    test_train();
    return check_summary();
}
