/*
 * One model used from two threads at once (issue #14, item 10). Before,
 * the second caller's pass ran in the same arena as the first's and both
 * got silently wrong results; now a public call holds the model (an
 * atomic flag in it) and a call made meanwhile returns XCNN_ERR_BUSY,
 * having touched nothing.
 *   1. Every entry point that takes a model refuses while it is held
 *      (held here by hand with model.h's xcnn_model_enter), leaves the
 *      model's error message and the caller's buffers alone, and works
 *      again once the model is released.
 *   2. A thread explaining while another calls the model again and again:
 *      the other is refused, the explanation is bit-identical to the one
 *      made alone, the error message is untouched.
 *   3. Two threads hammering one model with explanations of different
 *      inputs: every call is refused or bit-identical to its input's
 *      result made alone.
 * `make tsan` runs this under ThreadSanitizer as well.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "../libxcnn/core/model.h"
#include "check.h"
#include "fixture.h"

#define DIR "tests/fixtures/plaincnn"

/* The message a failed call left: what a refused call must not change. */
static const char *SENTINEL = "no tensor or layer named 'sentinel'";

static void set_sentinel(xcnn_model *m)
{
    xcnn_tensor_view v;
    xcnn_model_tensor(m, "sentinel", &v);
}

/* ---- 1. every entry point, while the model is held ---------------- */

static void test_each_entry_point(void)
{
    xcnn_model *m = fixture_model(DIR);
    size_t n = 0;
    float *x = fixture_npy(DIR, "input.npy", &n);
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(&ro);
    ro.height = ro.width = 8;
    ro.n_stages = 1;
    ro.widths[0] = 4;
    xcnn_model *tm = NULL; /* a trainable model for the xcnn_train.h calls */
    char err[512];
    if (!check(m && x && xcnn_resnet_build(&ro, &tm, err, sizeof err) == XCNN_OK,
               "models and input load")) {
        xcnn_model_free(m);
        xcnn_model_free(tm);
        free(x);
        return;
    }
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, XCNN_OPT_SGD);
    xcnn_trainer *tr = NULL;
    xcnn_status tst = xcnn_trainer_new(tm, &oo, 2, &tr, err, sizeof err);
    check(tst == XCNN_OK, "a trainer (%s)", tst ? err : "ok");
    float tx[2 * 64] = {0}, out[10], attr[784];
    int labels[2] = {1, 2}, t = 3, nd;
    int64_t dims[4];
    xcnn_dataset ds = {2, 1, 8, 8, 10, tx, labels};
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_SALIENCY);
    xcnn_tensor_view v;
    xcnn_node_info ni;
    check(xcnn_forward(m, x, 1, NULL) == XCNN_OK, "a forward first (for the backward below)");
    set_sentinel(m);
    set_sentinel(tm);
    int threads_before = m->threads;

    /* Hold both models as a call in another thread would. */
    check(xcnn_model_enter(m) && xcnn_model_enter(tm), "models held");
    for (int i = 0; i < 10; i++) out[i] = 1234.5f;
    struct {
        const char *what;
        xcnn_status st;
    } calls[] = {
        {"xcnn_forward", xcnn_forward(m, x, 1, out)},
        {"xcnn_backward", xcnn_backward(m, &t, NULL, NULL)},
        {"xcnn_explain", xcnn_explain(m, x, &o, attr, 784, NULL)},
        {"xcnn_explain_shape", xcnn_explain_shape(m, &o, &nd, dims)},
        {"xcnn_model_reserve", xcnn_model_reserve(m, 4)},
        {"xcnn_model_enable_param_grads", xcnn_model_enable_param_grads(m)},
        {"xcnn_model_set_threads", xcnn_model_set_threads(m, 3)},
        {"xcnn_model_set_profiling", xcnn_model_set_profiling(m, 1)},
        {"xcnn_model_input", xcnn_model_input(m, &v)},
        {"xcnn_model_output", xcnn_model_output(m, &v)},
        {"xcnn_model_tensor", xcnn_model_tensor(m, "input", &v)},
        {"xcnn_model_node", xcnn_model_node(m, 0, &ni)},
        {"xcnn_train_step",
         tr ? xcnn_train_step(tr, tx, labels, 2, 0.1f, NULL, NULL) : XCNN_ERR_BUSY},
        {"xcnn_evaluate", xcnn_evaluate(tm, &ds, 2, NULL, NULL)},
    };
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++)
        check(calls[k].st == XCNN_ERR_BUSY, "held model: %s returns XCNN_ERR_BUSY (got %s)",
              calls[k].what, xcnn_status_name(calls[k].st));
    /* The calls that report into the caller's buffer say why there. */
    xcnn_trainer *tr2 = NULL;
    strcpy(err, "unchanged");
    xcnn_status st = xcnn_trainer_new(tm, &oo, 2, &tr2, err, sizeof err);
    check(st == XCNN_ERR_BUSY && tr2 == NULL && strstr(err, "in use by another thread"),
          "held model: xcnn_trainer_new returns XCNN_ERR_BUSY: \"%s\"", err);
    unsigned char *bytes = NULL;
    size_t len = 0;
    strcpy(err, "unchanged");
    st = xcnn_model_save_onnx_memory(tm, NULL, NULL, 0, &bytes, &len, err, sizeof err);
    check(st == XCNN_ERR_BUSY && !bytes && strstr(err, "in use by another thread"),
          "held model: xcnn_model_save_onnx_memory returns XCNN_ERR_BUSY: \"%s\"", err);
    check(!strcmp(xcnn_status_name(XCNN_ERR_BUSY), "model is in use by another thread"),
          "XCNN_ERR_BUSY's message: \"%s\"", xcnn_status_name(XCNN_ERR_BUSY));

    /* Nothing was touched: the holder's message, its batch, its settings,
     * the caller's output buffer. */
    check(!strcmp(xcnn_model_error(m), SENTINEL) && !strcmp(xcnn_model_error(tm), SENTINEL),
          "refused calls leave the holder's error message: \"%s\"", xcnn_model_error(m));
    check(m->max_batch == 1 && !m->param_grads && m->threads == threads_before && !m->prof_seconds,
          "refused calls change nothing (batch %d, param grads %d, threads %d)", m->max_batch,
          m->param_grads, m->threads);
    check(out[0] == 1234.5f && out[9] == 1234.5f, "a refused forward writes no output");
    xcnn_model_leave(m);
    xcnn_model_leave(tm);

    /* Released: the same calls work. */
    check(xcnn_forward(m, x, 1, out) == XCNN_OK && out[0] != 1234.5f, "released: forward runs");
    check(xcnn_backward(m, &t, NULL, NULL) == XCNN_OK, "released: backward runs");
    check(xcnn_explain(m, x, &o, attr, 784, NULL) == XCNN_OK, "released: explain runs");
    check(xcnn_model_reserve(m, 4) == XCNN_OK && xcnn_model_max_batch(m) == 4,
          "released: reserve runs");
    check(tr && xcnn_train_step(tr, tx, labels, 2, 0.1f, NULL, NULL) == XCNN_OK,
          "released: a train step runs");
    check(xcnn_evaluate(tm, &ds, 2, NULL, NULL) == XCNN_OK, "released: evaluate runs");
    check(!m->busy && !tm->busy, "every call released the model");
    xcnn_trainer_free(tr);
    xcnn_model_free(m);
    xcnn_model_free(tm);
    free(x);
}

/* ---- 2. a refused caller while an explanation runs ---------------- */

typedef struct race {
    xcnn_model *m;
    const float *x, *x2;
    const float *ref; /* the explanation made alone */
    size_t n;
    atomic_int done, other_refused;
    int rounds, mismatches, failures, other_busy, other_ok, other_failed;
} race;

static void ig_options(xcnn_explain_options *o)
{
    xcnn_explain_options_init(o, XCNN_INTEGRATED_GRADIENTS);
    o->steps = 200;
    o->target = 2;
}

static void *explainer(void *arg)
{
    race *r = arg;
    xcnn_explain_options o;
    ig_options(&o);
    float *a = malloc(r->n * sizeof *a);
    /* Until the other thread has been refused at least once (each round
     * is many passes long), and a few rounds at most. */
    for (int round = 0; round < 40 && (round < 1 || !atomic_load(&r->other_refused));) {
        xcnn_status st = xcnn_explain(r->m, r->x, &o, a, r->n, NULL);
        if (st == XCNN_ERR_BUSY) continue; /* the other got in first: try again */
        round++;
        r->rounds++;
        if (st != XCNN_OK)
            r->failures++;
        else if (memcmp(a, r->ref, r->n * sizeof *a) != 0)
            r->mismatches++;
    }
    free(a);
    atomic_store(&r->done, 1);
    return NULL;
}

static void *intruder(void *arg)
{
    race *r = arg;
    float y[10];
    while (!atomic_load(&r->done)) {
        xcnn_status st = xcnn_forward(r->m, r->x2, 1, y);
        if (st == XCNN_ERR_BUSY) {
            r->other_busy++;
            atomic_store(&r->other_refused, 1);
            sched_yield();
        } else if (st == XCNN_OK) {
            r->other_ok++;
        } else {
            r->other_failed++;
        }
    }
    return NULL;
}

static void test_refused_while_explaining(void)
{
    race r = {0};
    size_t n = 0;
    float *x = fixture_npy(DIR, "input.npy", &n), *x2 = malloc(784 * sizeof(float));
    float *ref = malloc(784 * sizeof(float));
    r.m = fixture_model(DIR);
    if (!check(r.m && x && n == 784, "plaincnn loads")) goto out;
    for (size_t i = 0; i < n; i++) x2[i] = 1.0f - x[i];
    xcnn_explain_options o;
    ig_options(&o);
    if (!check(xcnn_explain(r.m, x, &o, ref, n, NULL) == XCNN_OK, "the reference alone")) goto out;
    set_sentinel(r.m);
    r.x = x;
    r.x2 = x2;
    r.ref = ref;
    r.n = n;
    atomic_init(&r.done, 0);
    atomic_init(&r.other_refused, 0);
    pthread_t a, b;
    if (!check(pthread_create(&a, NULL, explainer, &r) == 0 &&
                   pthread_create(&b, NULL, intruder, &r) == 0,
               "two threads start"))
        goto out;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    check(r.other_busy > 0,
          "the second thread was refused (%d times XCNN_ERR_BUSY, %d "
          "forwards got in between the explanations)",
          r.other_busy, r.other_ok);
    check(r.other_failed == 0, "and never got another error (%d)", r.other_failed);
    check(r.failures == 0 && r.mismatches == 0 && r.rounds > 0,
          "%d explanations meanwhile: all bit-identical to the one made alone (%d differ, "
          "%d failed)",
          r.rounds, r.mismatches, r.failures);
    check(!strcmp(xcnn_model_error(r.m), SENTINEL),
          "the refusals left the model's error message alone: \"%s\"", xcnn_model_error(r.m));
out:
    xcnn_model_free(r.m);
    free(x);
    free(x2);
    free(ref);
}

/* ---- 3. two threads hammering one model --------------------------- */

typedef struct hammer {
    xcnn_model *m;
    const float *x;
    const float *ref;
    size_t n;
    int busy, ok, wrong, failed;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
    o.target = 4;
    float *a = malloc(h->n * sizeof *a);
    /* 100 answers each, however often refused (bounded: a thread that
     * finishes first leaves the model to the other). */
    for (long i = 0; h->ok + h->wrong + h->failed < 100 && i < 100000000L; i++) {
        xcnn_status st = xcnn_explain(h->m, h->x, &o, a, h->n, NULL);
        if (st == XCNN_ERR_BUSY) {
            h->busy++;
            sched_yield();
        } else if (st != XCNN_OK)
            h->failed++;
        else if (memcmp(a, h->ref, h->n * sizeof *a) != 0)
            h->wrong++;
        else
            h->ok++;
    }
    free(a);
    return NULL;
}

static void test_hammer(void)
{
    size_t n = 0;
    float *x = fixture_npy(DIR, "input.npy", &n);
    xcnn_model *m = fixture_model(DIR);
    hammer h[2] = {{0}, {0}};
    float *inputs[2] = {x, malloc(784 * sizeof(float))}, *refs[2] = {NULL, NULL};
    if (!check(m && x && n == 784 && inputs[1], "plaincnn loads")) goto out;
    for (size_t i = 0; i < n; i++) inputs[1][i] = 0.5f - x[i];
    xcnn_model_set_threads(m, 1);
    for (int k = 0; k < 2; k++) {
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
        o.target = 4;
        refs[k] = malloc(n * sizeof(float));
        if (!check(refs[k] && xcnn_explain(m, inputs[k], &o, refs[k], n, NULL) == XCNN_OK,
                   "reference %d alone", k))
            goto out;
        h[k] = (hammer){m, inputs[k], refs[k], n, 0, 0, 0, 0};
    }
    check(memcmp(refs[0], refs[1], n * sizeof(float)) != 0, "the two inputs' results differ");
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, hammer_run, &h[k]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++)
        check(h[k].wrong == 0 && h[k].failed == 0 && h[k].ok == 100,
              "thread %d: %d explanations right, %d refused (busy), %d wrong, %d failed", k,
              h[k].ok, h[k].busy, h[k].wrong, h[k].failed);
out:
    xcnn_model_free(m);
    free(inputs[0]);
    free(inputs[1]);
    free(refs[0]);
    free(refs[1]);
}

int main(void)
{
    test_each_entry_point();
    test_refused_while_explaining();
    test_hammer();
    return check_summary();
}
