/*
 * Training: BatchNormalization in training mode (forward and running
 * statistics against the formula in double, tolerance 1e-5; backward
 * through the batch statistics by central differences, tolerance 1e-2,
 * max|fd - analytic| / max|analytic| as tests/gradcheck.h), cross-entropy
 * (value against the formula, gradient by finite differences), one SGD and
 * one Adam step against values computed by hand, a tiny overfit (the loss
 * on 64 samples must fall to a quarter), bit-identical weights after
 * training with 1 and 2 threads, the ONNX writer round trip (build, train,
 * save, load: the same logits bit for bit, metadata kept, the same bytes
 * twice), the seeded shuffle and the grayscale PNG writer.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../include/xcnn_image.h"
#include "../include/xcnn_train.h"
#include "../libxcnn/core/model.h"

/* ---- BatchNormalization, training mode -------------------------------- */

typedef struct bn_case {
    gc_graph gc;
    int node, batch, c;
    size_t pix;
    float *scratch;
} bn_case;

/* X [batch, c, h, w] random, scale/B random, running mean 0.1, var 2. */
static void bn_make(bn_case *k, int batch, int c, int h, int w, uint64_t seed)
{
    gc_init(&k->gc, seed);
    int64_t xd[4] = {1, c, h, w}, cd = c;
    int in[5];
    in[0] = gc_activation(&k->gc, "x", 4, xd);
    in[1] = gc_weight(&k->gc, "scale", 1, &cd);
    in[2] = gc_weight(&k->gc, "B", 1, &cd);
    in[3] = gc_weight(&k->gc, "mean", 1, &cd);
    in[4] = gc_weight(&k->gc, "var", 1, &cd);
    for (int i = 0; i < c; i++) {
        k->gc.g->tensors[in[3]].data[i] = 0.1f;
        k->gc.g->tensors[in[4]].data[i] = 2.0f;
    }
    k->node = gc_node(&k->gc, "BatchNormalization", in, 5);
    xcnn_node *n = &k->gc.g->nodes[k->node];
    xcnn_node_add_attr_float(n, "epsilon", 1e-3f);
    xcnn_node_add_attr_float(n, "momentum", 0.8f);
    n->def = xcnn_op_find("BatchNormalization");
    xcnn_err err = {{0}};
    check(n->def && n->def->setup(k->gc.g, n, &err) == XCNN_OK, "bn train: setup %s", err.msg);
    k->batch = batch;
    k->c = c;
    k->pix = (size_t)h * w;
    xcnn_graph *g = k->gc.g;
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        size_t sz = gc_size(t, batch);
        if (t->kind != XCNN_T_CONST) {
            t->data = calloc(sz, sizeof(float));
            for (size_t j = 0; t->kind == XCNN_T_INPUT && j < sz; j++)
                t->data[j] = test_rng_uniform(&k->gc.rng, -2, 3);
        }
        t->grad = calloc(sz, sizeof(float));
        t->grad_on = 1;
    }
    k->scratch = malloc(4);
    g->training = 1;
}

static void bn_free(bn_case *k)
{
    xcnn_graph *g = k->gc.g;
    for (int i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i].kind != XCNN_T_CONST) free(g->tensors[i].data);
        g->tensors[i].data = g->tensors[i].kind != XCNN_T_CONST ? NULL : g->tensors[i].data;
        free(g->tensors[i].grad);
        g->tensors[i].grad = NULL;
    }
    free(k->scratch);
    gc_free(&k->gc);
}

static void test_bn_forward(void)
{
    bn_case k;
    bn_make(&k, 3, 4, 5, 6, 11);
    xcnn_graph *g = k.gc.g;
    const xcnn_node *n = &g->nodes[k.node];
    n->def->forward(g, n, k.batch, k.scratch);
    const float *x = xcnn_in(g, n, 0)->data, *s = xcnn_in(g, n, 1)->data;
    const float *b = xcnn_in(g, n, 2)->data, *rm = xcnn_in(g, n, 3)->data;
    const float *rv = xcnn_in(g, n, 4)->data, *y = xcnn_out(g, n, 0)->data;
    double worst_y = 0, worst_r = 0, m = (double)k.batch * k.pix;
    for (int ch = 0; ch < k.c; ch++) {
        double mu = 0, var = 0;
        for (int bi = 0; bi < k.batch; bi++)
            for (size_t i = 0; i < k.pix; i++) mu += x[((size_t)bi * k.c + ch) * k.pix + i];
        mu /= m;
        for (int bi = 0; bi < k.batch; bi++)
            for (size_t i = 0; i < k.pix; i++) {
                double d = x[((size_t)bi * k.c + ch) * k.pix + i] - mu;
                var += d * d;
            }
        var /= m;
        for (int bi = 0; bi < k.batch; bi++)
            for (size_t i = 0; i < k.pix; i++) {
                size_t o = ((size_t)bi * k.c + ch) * k.pix + i;
                double ref = s[ch] * (x[o] - mu) / sqrt(var + 1e-3) + b[ch];
                /* Not worst_y = fmax(worst_y, ...): gcc 12.2 for aarch64 crashes
                 * at -O3 (internal compiler error in vect_transform_reduction)
                 * vectorising an fmax reduction of values that come from float.
                 * The comparison ignores a NaN error as fmax did. */
                double e = fabs(ref - y[o]) / fmax(1, fabs(ref));
                if (e > worst_y) worst_y = e;
            }
        double ref_m = 0.8 * 0.1 + 0.2 * mu, ref_v = 0.8 * 2.0 + 0.2 * var * m / (m - 1);
        worst_r = fmax(worst_r, fabs(ref_m - rm[ch]) + fabs(ref_v - rv[ch]));
    }
    check_close("bn train: forward = scale * (x - batch mean) / sqrt(biased var + eps) + B",
                worst_y, 1e-5);
    check_close("bn train: running stats = 0.8 * old + 0.2 * batch (unbiased var)", worst_r,
                1e-5);
    bn_free(&k);
}

static double bn_loss(bn_case *k, const float *r)
{
    xcnn_graph *g = k->gc.g;
    const xcnn_node *n = &g->nodes[k->node];
    n->def->forward(g, n, k->batch, k->scratch);
    const xcnn_tensor *o = xcnn_out(g, n, 0);
    double l = 0;
    for (size_t i = 0; i < gc_size(o, k->batch); i++) l += (double)r[i] * o->data[i];
    return l;
}

static void test_bn_backward(int batch, int h, uint64_t seed)
{
    bn_case k;
    bn_make(&k, batch, 3, h, h, seed);
    xcnn_graph *g = k.gc.g;
    const xcnn_node *n = &g->nodes[k.node];
    xcnn_tensor *o = xcnn_out(g, n, 0);
    size_t on = gc_size(o, batch);
    float *r = malloc(on * sizeof(float));
    for (size_t i = 0; i < on; i++) r[i] = test_rng_uniform(&k.gc.rng, -1, 1);
    n->def->forward(g, n, batch, k.scratch);
    memcpy(o->grad, r, on * sizeof(float));
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    n->def->backward(g, n, batch, k.scratch, &ctx);
    for (int in = 0; in < 3; in++) {
        xcnn_tensor *t = xcnn_in(g, n, in);
        size_t sz = gc_size(t, batch);
        double num = 0, den = 0, any = 0;
        for (size_t i = 0; i < sz; i++) any += fabs(t->grad[i]);
        for (int s = 0; s < 24; s++) {
            size_t i = (size_t)(test_rng_next(&k.gc.rng) % sz);
            float saved = t->data[i], hh = 1e-2f;
            t->data[i] = saved + hh;
            double lp = bn_loss(&k, r);
            t->data[i] = saved - hh;
            double lm = bn_loss(&k, r);
            t->data[i] = saved;
            double fd = (lp - lm) / (2.0 * hh);
            num = fmax(num, fabs(fd - t->grad[i]));
            den = fmax(den, fabs(t->grad[i]));
        }
        char what[160];
        snprintf(what, sizeof what, "bn train backward: d/d%s (batch %d, %dx%d)", t->name, batch,
                 h, h);
        if (!check(any > 0, "%s: gradient is not all zero", what)) continue;
        check_close(what, num / den, 1e-2);
    }
    double stat_grad = 0;
    for (int in = 3; in < 5; in++)
        for (int i = 0; i < 3; i++) stat_grad += fabs(xcnn_in(g, n, in)->grad[i]);
    check(stat_grad == 0, "bn train backward: running statistics get no gradient");
    free(r);
    bn_free(&k);
}

/* ---- loss and optimizers ---------------------------------------------- */

static void test_cross_entropy(void)
{
    float z[3 * 5];
    int y[3] = {2, 0, 4};
    test_rng rng = {77};
    for (int i = 0; i < 15; i++) z[i] = test_rng_uniform(&rng, -3, 3);
    double loss = 0, ref = 0;
    float g[15];
    check(xcnn_cross_entropy(z, y, 3, 5, &loss, g) == XCNN_OK, "cross-entropy: runs");
    for (int b = 0; b < 3; b++) {
        double s = 0;
        for (int k = 0; k < 5; k++) s += exp(z[b * 5 + k]);
        ref += (log(s) - z[b * 5 + y[b]]) / 3;
    }
    check_close("cross-entropy: mean of log-sum-exp - z[label]", fabs(loss - ref) / ref, 1e-9);
    double num = 0, den = 0;
    for (int i = 0; i < 15; i++) {
        float saved = z[i];
        double lp, lm;
        z[i] = saved + 1e-3f;
        xcnn_cross_entropy(z, y, 3, 5, &lp, NULL);
        z[i] = saved - 1e-3f;
        xcnn_cross_entropy(z, y, 3, 5, &lm, NULL);
        z[i] = saved;
        double fd = (lp - lm) / (double)((saved + 1e-3f) - (saved - 1e-3f));
        num = fmax(num, fabs(fd - g[i]));
        den = fmax(den, fabs(g[i]));
    }
    check_close("cross-entropy: gradient by finite differences", num / den, 1e-3);
    float big[2] = {1000.0f, -1000.0f};
    int lab = 1;
    xcnn_status st = xcnn_cross_entropy(big, &lab, 1, 2, &loss, g);
    check(st == XCNN_OK && fabs(loss - 2000) < 1e-6 && isfinite(g[0]),
          "cross-entropy: logits of +-1000 do not overflow (loss %g)", loss);
    lab = 2;
    check(xcnn_cross_entropy(big, &lab, 1, 2, &loss, g) == XCNN_ERR_ARG,
          "cross-entropy: label out of range refused");
}

static void test_optimizers(void)
{
    xcnn_optim_options o;
    xcnn_optim_options_init(&o, XCNN_OPT_SGD);
    o.momentum = 0.9f;
    o.weight_decay = 0.1f;
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f}, v[2] = {0.0f, 0.0f};
    /* step 1: u = g + 0.1 w = (0.6, 0.05); v = u; w -= 0.1 v */
    xcnn_optim_update(&o, 0.1f, 1, w, g, v, 2, 1);
    check(fabs(w[0] - 0.94) < 1e-6 && fabs(w[1] - (-2.005)) < 1e-6, "sgd step 1: w = (%g, %g)",
          w[0], w[1]);
    /* step 2: u = (0.5 + 0.094, 0.25 - 0.2005); v = 0.9 v + u */
    xcnn_optim_update(&o, 0.1f, 2, w, g, v, 2, 1);
    double v0 = 0.9 * 0.6 + 0.594, v1 = 0.9 * 0.05 + 0.0495;
    check(fabs(w[0] - (0.94 - 0.1 * v0)) < 1e-6 && fabs(w[1] - (-2.005 - 0.1 * v1)) < 1e-6,
          "sgd step 2 (momentum): w = (%g, %g), expected (%g, %g)", w[0], w[1],
          0.94 - 0.1 * v0, -2.005 - 0.1 * v1);
    float w2 = 1.0f, g2 = 0.5f, v2 = 0.0f;
    xcnn_optim_update(&o, 0.1f, 1, &w2, &g2, &v2, 1, 0);
    check(fabs(w2 - 0.95) < 1e-7, "sgd: no decay on non-decayed tensors (w = %g)", w2);

    xcnn_optim_options_init(&o, XCNN_OPT_ADAM);
    float wa[2] = {1.0f, -1.0f}, ga[2] = {0.2f, -0.4f}, st[4] = {0, 0, 0, 0};
    /* step 1: mhat = g, vhat = g^2, so w -= lr * g / (|g| + eps) ~ lr * sign(g) */
    xcnn_optim_update(&o, 0.01f, 1, wa, ga, st, 2, 1);
    double e0 = 1.0 - 0.01 * 0.2 / (0.2 + 1e-8), e1 = -1.0 + 0.01 * 0.4 / (0.4 + 1e-8);
    check(fabs(wa[0] - e0) < 1e-6 && fabs(wa[1] - e1) < 1e-6, "adam step 1: w = (%g, %g)",
          wa[0], wa[1]);
    /* step 2 with g' = 0.1: m = 0.9*0.1*0.2 + 0.1*0.1 = 0.028, v = 0.999*0.001*0.04 +
     * 0.001*0.01 = 4.996e-5; mhat = 0.028/0.19, vhat = v/(1-0.999^2) */
    float g3[2] = {0.1f, 0.0f};
    xcnn_optim_update(&o, 0.01f, 2, wa, g3, st, 2, 0);
    double mh = 0.028 / 0.19, vh = 4.996e-5 / (1 - 0.999 * 0.999);
    check(fabs(wa[0] - (e0 - 0.01 * mh / (sqrt(vh) + 1e-8))) < 1e-6,
          "adam step 2: w = %g, expected %g", wa[0], e0 - 0.01 * mh / (sqrt(vh) + 1e-8));
}

/* ---- whole networks --------------------------------------------------- */

/* 64 images 1x12x12 of 4 classes: a bright 4x4 square in a corner given
 * by the class, plus noise. */
static void toy_data(float *x, int *y, int n, uint64_t seed)
{
    test_rng rng = {seed};
    for (int i = 0; i < n; i++) {
        y[i] = i % 4;
        float *im = x + (size_t)i * 144;
        for (int p = 0; p < 144; p++) im[p] = test_rng_uniform(&rng, -0.5f, 0.5f);
        int r0 = (y[i] / 2) * 8, c0 = (y[i] % 2) * 8;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) im[(r0 + r) * 12 + c0 + c] += 2.0f;
    }
}

static xcnn_model *toy_net(uint64_t seed)
{
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(&ro);
    ro.height = ro.width = 12;
    ro.classes = 4;
    ro.n_stages = 2;
    ro.widths[0] = 4;
    ro.widths[1] = 8;
    ro.seed = seed;
    char err[600] = "";
    xcnn_model *m = NULL;
    xcnn_status st = xcnn_resnet_build(&ro, &m, err, sizeof err);
    if (!check(st == XCNN_OK, "resnet build (%s)", st ? err : "ok")) return NULL;
    return m;
}

/* Train `steps` mini-batches of 16 (in order) with the given optimizer;
 * returns the mean loss of the first and of the last 4 steps. */
static int train_toy(xcnn_model *m, xcnn_optimizer kind, float lr, int steps, int threads,
                     double *first, double *last)
{
    float x[64 * 144];
    int y[64];
    toy_data(x, y, 64, 5);
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, kind);
    xcnn_trainer *t = NULL;
    char err[600];
    if (!check(xcnn_trainer_new(m, &oo, 16, &t, err, sizeof err) == XCNN_OK, "trainer_new"))
        return 0;
    xcnn_model_set_threads(m, threads);
    *first = *last = 0;
    for (int s = 0; s < steps; s++) {
        double loss;
        int b = (s % 4) * 16;
        if (xcnn_train_step(t, x + (size_t)b * 144, y + b, 16, lr, &loss, NULL)) {
            check(0, "train step %d: %s", s, xcnn_model_error(m));
            xcnn_trainer_free(t);
            return 0;
        }
        if (s < 4) *first += loss / 4;
        if (s >= steps - 4) *last += loss / 4;
    }
    xcnn_trainer_free(t);
    return 1;
}

static void test_overfit(void)
{
    for (int k = 0; k < 2; k++) {
        xcnn_model *m = toy_net(3);
        if (!m) return;
        double first, last;
        const char *name = k ? "adam" : "sgd";
        if (train_toy(m, k ? XCNN_OPT_ADAM : XCNN_OPT_SGD, k ? 0.01f : 0.05f, 60, 0, &first,
                      &last))
            check(last < 0.25 * first, "overfit 64 samples with %s: loss %.4f -> %.4f", name,
                  first, last);
        xcnn_model_free(m);
    }
}

static void test_thread_determinism(void)
{
    xcnn_model *a = toy_net(9), *b = toy_net(9);
    double f1, l1, f2, l2;
    if (a && b && train_toy(a, XCNN_OPT_SGD, 0.05f, 8, 1, &f1, &l1) &&
        train_toy(b, XCNN_OPT_SGD, 0.05f, 8, 2, &f2, &l2)) {
        int same = 1;
        for (int i = 0; i < a->g->n_tensors; i++) {
            const xcnn_tensor *ta = &a->g->tensors[i], *tb = &b->g->tensors[i];
            if (ta->kind == XCNN_T_CONST && ta->dtype == XCNN_DT_FLOAT)
                same &= !memcmp(ta->data, tb->data, xcnn_tensor_numel(ta) * sizeof(float));
        }
        check(same && l1 == l2, "training with 1 and 2 threads gives the same weights, bit for bit");
    }
    xcnn_model_free(a);
    xcnn_model_free(b);
}

static void test_onnx_round_trip(void)
{
    xcnn_model *m = toy_net(4);
    double f, l;
    if (!m || !train_toy(m, XCNN_OPT_ADAM, 0.01f, 6, 0, &f, &l)) {
        xcnn_model_free(m);
        return;
    }
    const char *keys[2] = {"xcnn.labels", "xcnn.preprocess"};
    const char *values[2] = {"a\nb\nc\nd", "gray;scale=0.5"};
    unsigned char *bytes = NULL, *bytes2 = NULL;
    size_t len = 0, len2 = 0;
    char err[600];
    xcnn_status st = xcnn_model_save_onnx_memory(m, keys, values, 2, &bytes, &len, err,
                                                 sizeof err);
    check(st == XCNN_OK, "onnx write: encodes (%zu bytes)", len);
    xcnn_model_save_onnx_memory(m, keys, values, 2, &bytes2, &len2, err, sizeof err);
    check(len == len2 && bytes && bytes2 && !memcmp(bytes, bytes2, len),
          "onnx write: the same model gives the same bytes");
    xcnn_model *back = NULL;
    st = xcnn_model_load_memory(bytes, len, NULL, &back, err, sizeof err);
    if (check(st == XCNN_OK, "onnx write: our loader reads it back (%s)", st ? err : "ok")) {
        float x[4 * 144], y1[16], y2[16];
        int lab[4];
        toy_data(x, lab, 4, 99);
        xcnn_model_reserve(back, 4);
        xcnn_forward(m, x, 4, y1);
        xcnn_forward(back, x, 4, y2);
        check_close("onnx write: reloaded model gives the same logits (inference-form BN)",
                    max_rel_error(y2, y1, 16), 0);
        int found = 0;
        for (int i = 0; i < back->g->n_meta; i++)
            found += (!strcmp(back->g->meta_key[i], keys[0]) &&
                      !strcmp(back->g->meta_value[i], values[0])) ||
                     (!strcmp(back->g->meta_key[i], keys[1]) &&
                      !strcmp(back->g->meta_value[i], values[1]));
        check(found == 2, "onnx write: metadata_props read back (%d of 2)", found);
        xcnn_tensor_view in, out;
        xcnn_model_input(back, &in);
        xcnn_model_output(back, &out);
        check(!strcmp(in.name, "input") && !strcmp(out.name, "logits") && out.dims[1] == 4,
              "onnx write: input 'input', output 'logits' [1,4]");
    }
    xcnn_model_free(back);
    free(bytes);
    free(bytes2);
    xcnn_model_free(m);
}

/* ---- small utilities -------------------------------------------------- */

static void test_shuffle(void)
{
    int a[100], b[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) a[i] = b[i] = i;
    uint64_t s1 = 42, s2 = 42;
    xcnn_shuffle(a, 100, &s1);
    xcnn_shuffle(b, 100, &s2);
    int moved = 0, ok = 1;
    for (int i = 0; i < 100; i++) {
        ok &= a[i] == b[i] && a[i] >= 0 && a[i] < 100 && !seen[a[i]]++;
        moved += a[i] != i;
    }
    check(ok && moved > 50, "shuffle: a permutation, the same for the same seed (%d moved)",
          moved);
}

static void test_png_gray(void)
{
    unsigned char px[28 * 30];
    for (int i = 0; i < 28 * 30; i++) px[i] = (unsigned char)(i * 7);
    char path[512], err[600];
    const char *dir = getenv("XCNN_BUILD");
    snprintf(path, sizeof path, "%s/test_train_gray.png", dir && dir[0] ? dir : "build");
    if (!check(xcnn_png_write_gray(path, px, 30, 28, err, sizeof err) == XCNN_OK,
               "png gray: written"))
        return;
    xcnn_image img;
    xcnn_status st = xcnn_image_read(path, &img, err, sizeof err);
    check(st == XCNN_OK && img.channels == 1 && img.width == 30 && img.height == 28 &&
              !memcmp(img.pixels, px, sizeof px),
          "png gray: read back as the same 1-channel pixels (%s)", st ? err : "ok");
    xcnn_image_free(&img);
    remove(path);
}

int main(void)
{
    test_bn_forward();
    test_bn_backward(2, 3, 21);
    test_bn_backward(4, 1, 22);
    test_cross_entropy();
    test_optimizers();
    test_shuffle();
    test_png_gray();
    test_overfit();
    test_thread_determinism();
    test_onnx_round_trip();
    return check_summary();
}
