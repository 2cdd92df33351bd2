/*
 * Regression checks for defects found by a hostile review of the public
 * API: each check is a call that once crashed, wrapped a size, or
 * returned XCNN_OK on a bad argument or a non-finite result.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "check.h"
#include "onnx_builder.h"

/* xcnn_dataset_gather: a dataset whose sample size wraps size_t is
 * refused (it was a negative-size memcpy). */
static void gather_huge_sample(void)
{
    float dx[8] = {0};
    int dy[2] = {0, 1};
    xcnn_dataset d = {2, 1, INT_MAX, INT_MAX, 3, dx, dy};
    int idx[1] = {0};
    float x[8];
    int y[1];
    check(xcnn_dataset_gather(&d, idx, 1, x, y) == XCNN_ERR_ARG,
          "gather: a sample size past PTRDIFF_MAX bytes is XCNN_ERR_ARG");
    d.channels = INT_MAX;
    check(xcnn_dataset_gather(&d, idx, 1, x, y) == XCNN_ERR_ARG,
          "gather: INT_MAX^3 sample is XCNN_ERR_ARG");
    d.channels = 1;
    d.height = 2;
    d.width = 2;
    check(xcnn_dataset_gather(&d, idx, 1, x, y) == XCNN_OK && y[0] == 0,
          "gather: a 1x2x2 dataset still gathers");
}

/* xcnn_optim_update: settings xcnn_trainer_new refuses are refused here
 * too, with nothing updated (they used to turn weights into NaN). */
static void optim_bad_settings(void)
{
    struct {
        const char *what;
        xcnn_optimizer kind;
        int field;
        float v;
    } cases[] = {
        {"unknown kind 7", (xcnn_optimizer)7, -1, 0},
        {"unknown kind -1", (xcnn_optimizer)-1, -1, 0},
        {"SGD momentum NaN", XCNN_OPT_SGD, 0, NAN},
        {"SGD momentum 2", XCNN_OPT_SGD, 0, 2},
        {"SGD weight_decay NaN", XCNN_OPT_SGD, 1, NAN},
        {"SGD weight_decay -1", XCNN_OPT_SGD, 1, -1},
        {"Adam beta1 NaN", XCNN_OPT_ADAM, 2, NAN},
        {"Adam beta1 1", XCNN_OPT_ADAM, 2, 1},
        {"Adam beta2 1", XCNN_OPT_ADAM, 3, 1},
        {"Adam eps 0", XCNN_OPT_ADAM, 4, 0},
        {"Adam eps inf", XCNN_OPT_ADAM, 4, INFINITY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        xcnn_optim_options o;
        xcnn_optim_options_init(&o, cases[c].kind == XCNN_OPT_ADAM ? XCNN_OPT_ADAM
                                                                    : XCNN_OPT_SGD);
        o.kind = cases[c].kind;
        if (cases[c].field == 0) o.momentum = cases[c].v;
        if (cases[c].field == 1) o.weight_decay = cases[c].v;
        if (cases[c].field == 2) o.beta1 = cases[c].v;
        if (cases[c].field == 3) o.beta2 = cases[c].v;
        if (cases[c].field == 4) o.eps = cases[c].v;
        float w[4] = {1, 2, 3, 4}, g[4] = {0, 0, 0, 0}, state[8] = {0};
        xcnn_status st = xcnn_optim_update(&o, 0.1f, 1, w, g, state, 4, 1);
        check(st == XCNN_ERR_ARG && w[0] == 1 && w[3] == 4,
              "optim_update: %s is XCNN_ERR_ARG, nothing updated (got %d, w0 %g)",
              cases[c].what, (int)st, (double)w[0]);
    }
    xcnn_optim_options o;
    xcnn_optim_options_init(&o, XCNN_OPT_ADAM);
    float w[2] = {1, 1}, g[2] = {1, -1}, state[4] = {0};
    check(xcnn_optim_update(&o, 0.1f, 1, w, g, state, 2, 1) == XCNN_OK && w[0] < 1 && w[1] > 1,
          "optim_update: default Adam still updates");
}

/* xcnn_model_save_onnx_memory: a model whose weights went non-finite (a
 * diverged training) is refused: the loader would refuse the file. */
static void save_nonfinite_weight(void)
{
    char err[256] = "";
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(&ro);
    ro.height = 8;
    ro.width = 8;
    ro.widths[0] = ro.widths[1] = ro.widths[2] = 2;
    xcnn_model *m = NULL;
    if (!check(xcnn_resnet_build(&ro, &m, err, sizeof err) == XCNN_OK, "save: build a resnet"))
        return;
    unsigned char *buf = NULL;
    size_t n = 0;
    check(xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &buf, &n, err, sizeof err) == XCNN_OK,
          "save: a finite model saves");
    free(buf);
    buf = NULL;
    xcnn_node_info ni;
    xcnn_tensor_view v;
    int found = 0;
    for (int i = 0; i < xcnn_model_node_count(m) && !found; i++) {
        xcnn_model_node(m, i, &ni);
        if (strcmp(ni.op_type, "BatchNormalization") != 0) continue;
        /* the running variance of the first BatchNormalization */
        char name[300];
        snprintf(name, sizeof name, "%s.running_var", ni.name);
        found = xcnn_model_tensor(m, name, &v) == XCNN_OK && v.data;
    }
    if (!found) found = xcnn_model_tensor(m, "stem.bn.running_var", &v) == XCNN_OK && v.data;
    if (!check(found, "save: found a BatchNormalization running_var")) {
        xcnn_model_free(m);
        return;
    }
    ((float *)v.data)[0] = INFINITY; /* what a diverged train step leaves */
    err[0] = 0;
    xcnn_status st = xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &buf, &n, err, sizeof err);
    check(st == XCNN_ERR_NUMERIC && buf == NULL && strstr(err, "running_var") != NULL,
          "save: an infinite weight is XCNN_ERR_NUMERIC naming it (got %d: %s)", (int)st, err);
    free(buf);
    st = xcnn_model_save_onnx(m, "/tmp/xcnn_hostile_review_never.onnx", NULL, NULL, 0, err,
                              sizeof err);
    check(st == XCNN_ERR_NUMERIC, "save to file: an infinite weight is XCNN_ERR_NUMERIC");
    xcnn_model_free(m);
}

/* xcnn_explain_shape agrees with xcnn_explain: it used to give a shape
 * (1x1x0x0, or the input's) for Grad-CAM options that xcnn_explain then
 * refused, so a caller sized a buffer for a call that could not run. */
static void explain_shape_agrees(void)
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
    if (!check(st == XCNN_OK, "explain_shape: load a 2-D-input model (%s)", err)) return;
    float x[4] = {1, 2, 3, 4}, out[64];
    struct {
        xcnn_method method;
        int upsample;
        const char *layer;
    } cases[] = {
        {XCNN_GRADCAM, 0, "a"},          {XCNN_GRADCAM, 1, "a"},
        {XCNN_GUIDED_GRADCAM, 0, "a"},   {XCNN_GUIDED_GRADCAM, 1, NULL},
        {XCNN_GRADCAM, 0, ""},           {XCNN_GRADCAM, 0, "y"},
        {XCNN_GRADCAM, 0, "w"},          {XCNN_GRADCAM, 0, "x"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, cases[c].method);
        o.upsample = cases[c].upsample;
        o.layer = cases[c].layer;
        int nd = 0;
        int64_t d[4] = {0};
        xcnn_status s1 = xcnn_explain_shape(m, &o, &nd, d);
        xcnn_status s2 = xcnn_explain(m, x, &o, out, 64, NULL);
        check(s1 == s2, "2-D input, method %d upsample %d layer '%s': explain_shape %d, explain %d",
              (int)cases[c].method, cases[c].upsample, cases[c].layer ? cases[c].layer : "NULL",
              (int)s1, (int)s2);
    }
    xcnn_model_free(m);

    /* an image model: guided Grad-CAM's layer is checked by explain_shape */
    m = NULL;
    st = xcnn_model_load("tests/fixtures/captum_toy/model.onnx", NULL, &m, err,
                         sizeof err);
    if (!check(st == XCNN_OK, "explain_shape: load captum_toy (%s)", err)) return;
    xcnn_tensor_view in, outv;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &outv);
    float *xi = calloc(in.numel, sizeof(float)), *o2 = calloc(in.numel + 64, sizeof(float));
    const char *layers[] = {"", "no such layer", outv.name, in.name};
    for (int k = 0; k < 4 && xi && o2; k++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, XCNN_GUIDED_GRADCAM);
        o.layer = layers[k];
        int nd = 0;
        int64_t d[4] = {0};
        xcnn_status s1 = xcnn_explain_shape(m, &o, &nd, d);
        xcnn_status s2 = xcnn_explain(m, xi, &o, o2, in.numel + 64, NULL);
        check(s1 != XCNN_OK && s1 == s2,
              "guided Grad-CAM, layer '%s': explain_shape %d, explain %d (both refuse)",
              layers[k], (int)s1, (int)s2);
    }
    free(xi);
    free(o2);
    xcnn_model_free(m);
}

/* xcnn_train_step: a batch past the trainer's max_batch is refused even
 * when the model was reserved for more afterwards (it overran the
 * trainer's max_batch x classes gradient buffer). */
static void train_step_past_trainer_batch(void)
{
    char err[256] = "";
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(&ro);
    ro.height = 8;
    ro.width = 8;
    ro.widths[0] = ro.widths[1] = ro.widths[2] = 2;
    xcnn_model *m = NULL;
    if (!check(xcnn_resnet_build(&ro, &m, err, sizeof err) == XCNN_OK, "train: build a resnet"))
        return;
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, XCNN_OPT_SGD);
    xcnn_trainer *t = NULL;
    check(xcnn_trainer_new(m, &oo, 2, &t, err, sizeof err) == XCNN_OK, "train: trainer for 2");
    check(xcnn_model_reserve(m, 8) == XCNN_OK, "train: the model reserved for 8 afterwards");
    static float x[8 * 64];
    for (int i = 0; i < 8 * 64; i++) x[i] = (float)(i % 5) / 5.0f;
    int labels[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double loss = 0;
    xcnn_status st = xcnn_train_step(t, x, labels, 8, 0.01f, &loss, NULL);
    check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(m), "max_batch") != NULL,
          "train: batch 8 on a trainer for 2 is XCNN_ERR_ARG (got %d: %s)", (int)st,
          xcnn_model_error(m));
    check(xcnn_train_step(t, x, labels, 2, 0.01f, &loss, NULL) == XCNN_OK,
          "train: batch 2 still trains");
    xcnn_trainer_free(t);
    xcnn_model_free(m);
}

int main(void)
{
    train_step_past_trainer_batch();
    explain_shape_agrees();
    gather_huge_sample();
    optim_bad_settings();
    save_nonfinite_weight();
    return check_summary();
}
