/*
 * Two models in two threads at once (the library keeps no global mutable
 * state): each thread explains its model with every method, again and
 * again, and every result must be bit-identical to the same call made
 * alone, one model after the other. Also: two handles of the same file,
 * different thread counts per model, and error messages that stay with
 * their own model. `make tsan` runs this under ThreadSanitizer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn.h"
#include "check.h"
#include "fixture.h"

#define N_METHODS 8
#define ROUNDS 3

typedef struct job {
    const char *dir;
    xcnn_model *m;
    float *input;
    size_t in_n;
    int threads;            /* xcnn_model_set_threads for this model        */
    float *ref[N_METHODS];  /* results of the sequential run                */
    size_t ref_n[N_METHODS];
    int mismatches, failures, error_mixups;
} job;

static void options(xcnn_explain_options *o, int k)
{
    xcnn_explain_options_init(o, (xcnn_method)k);
    o->steps = 6;
    o->samples = 4;
    o->seed = 7;
    o->target = 1;
}

/* One explanation with method k into a fresh buffer (NULL on failure). */
static float *explain(job *j, int k, size_t *n)
{
    xcnn_explain_options o;
    int nd;
    int64_t d[4];
    options(&o, k);
    if (xcnn_explain_shape(j->m, &o, &nd, d) != XCNN_OK) return NULL;
    *n = 1;
    for (int i = 0; i < nd; i++) *n *= (size_t)d[i];
    float *out = malloc(*n * sizeof *out);
    if (out && xcnn_explain(j->m, j->input, &o, out, *n, NULL) != XCNN_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static void *worker(void *arg)
{
    job *j = arg;
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < N_METHODS; k++) {
            size_t n = 0;
            float *a = explain(j, k, &n);
            if (!a) {
                j->failures++;
                continue;
            }
            if (n != j->ref_n[k] || memcmp(a, j->ref[k], n * sizeof *a) != 0) j->mismatches++;
            free(a);
        }
        /* A failing call (out too small) leaves its message, which names
         * this model's input size, in this model only. */
        xcnn_explain_options o;
        float tiny[1];
        options(&o, XCNN_SALIENCY);
        if (xcnn_explain(j->m, j->input, &o, tiny, 1, NULL) == XCNN_OK) j->failures++;
        char want[64];
        snprintf(want, sizeof want, "%zu needed", j->in_n);
        if (!strstr(xcnn_model_error(j->m), want)) j->error_mixups++;
    }
    return NULL;
}

static int setup(job *j, const char *dir, int threads)
{
    memset(j, 0, sizeof *j);
    j->dir = dir;
    j->threads = threads;
    j->m = fixture_model(dir);
    j->input = fixture_npy(dir, "input.npy", &j->in_n);
    if (!j->m || !j->input) return -1;
    if (xcnn_model_reserve(j->m, 4) != XCNN_OK) return -1;
    /* References on one thread; the threaded run then uses `threads`
     * (results must not depend on the thread count either). */
    xcnn_model_set_threads(j->m, 1);
    for (int k = 0; k < N_METHODS; k++) {
        j->ref[k] = explain(j, k, &j->ref_n[k]);
        if (!j->ref[k]) return -1;
    }
    xcnn_model_set_threads(j->m, threads);
    return 0;
}

static void teardown(job *j)
{
    for (int k = 0; k < N_METHODS; k++) free(j->ref[k]);
    free(j->input);
    xcnn_model_free(j->m);
}

static void run_pair(const char *what, const char *dir_a, int threads_a, const char *dir_b,
                     int threads_b)
{
    job a, b;
    int ok = setup(&a, dir_a, threads_a) == 0 && setup(&b, dir_b, threads_b) == 0;
    if (check(ok, "%s: models load and explain alone", what)) {
        pthread_t ta, tb;
        int started = pthread_create(&ta, NULL, worker, &a) == 0;
        if (started && pthread_create(&tb, NULL, worker, &b) != 0) {
            pthread_join(ta, NULL);
            started = 0;
        } else if (started) {
            pthread_join(ta, NULL);
            pthread_join(tb, NULL);
        }
        check(started, "%s: two threads started", what);
        check(a.failures == 0 && b.failures == 0, "%s: every call in the threads returned as "
              "alone (%d, %d unexpected statuses)", what, a.failures, b.failures);
        check(a.mismatches == 0 && b.mismatches == 0,
              "%s: %d rounds x %d methods each, bit-identical to the sequential run "
              "(%d and %d differ)", what, ROUNDS, N_METHODS, a.mismatches, b.mismatches);
        check(a.error_mixups == 0 && b.error_mixups == 0,
              "%s: each model kept its own error message", what);
    }
    teardown(&a);
    teardown(&b);
}

int main(void)
{
    run_pair("rescnn_bn | resnet_narrow, default threads", "tests/fixtures/rescnn_bn", 0,
             "tests/fixtures/resnet_narrow", 0);
    run_pair("plaincnn with 1 thread | rescnn_bn with 2", "tests/fixtures/plaincnn", 1,
             "tests/fixtures/rescnn_bn", 2);
    run_pair("two handles of the same file", "tests/fixtures/resnet_narrow", 2,
             "tests/fixtures/resnet_narrow", 1);
    return check_summary();
}
