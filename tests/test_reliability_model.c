/*
 * The arena cap and failed reserves (issue #14, item 9): whether
 * xcnn_model_reserve(m, INT_MAX) was refused used to depend on the
 * machine (on a 128 GB machine the allocation went through). Now
 * xcnn_load_options.max_arena_bytes (default 4 GiB) refuses it, with
 * XCNN_ERR_LIMIT, before anything is allocated, everywhere; and a reserve
 * that fails for any reason (the cap, or an allocation: provoked here with
 * RLIMIT_AS) leaves the model with its old batch and arena, running.
 * Also the thread count's range (100000 threads crashed libgomp).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"

#define DIR "tests/fixtures/plaincnn"

static xcnn_model *load_with(const char *what, uint64_t cap, int inference_only)
{
    char path[256], err[600];
    xcnn_load_options o = {.max_arena_bytes = cap, .inference_only = inference_only};
    xcnn_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", DIR);
    xcnn_status st = xcnn_model_load(path, &o, &m, err, sizeof err);
    if (!check(st == XCNN_OK, "%s: loads (%s)", what, st ? err : "ok")) return NULL;
    return m;
}

/* The state a failed reserve must leave alone. */
typedef struct snapshot {
    int max_batch;
    size_t arena_bytes;
    const float *input_data;
    float out[10];
} snapshot;

static void snap(xcnn_model *m, const float *x, snapshot *s)
{
    xcnn_tensor_view v;
    memset(s->out, 0, sizeof s->out);
    s->max_batch = xcnn_model_max_batch(m);
    s->arena_bytes = xcnn_model_arena_bytes(m);
    s->input_data = xcnn_model_input(m, &v) == XCNN_OK ? v.data : NULL;
    if (xcnn_forward(m, x, 1, s->out) != XCNN_OK) s->out[0] = -12345;
}

static void check_kept(const char *what, xcnn_model *m, const float *x, const snapshot *before)
{
    snapshot now;
    snap(m, x, &now);
    check(now.max_batch == before->max_batch && now.arena_bytes == before->arena_bytes &&
              now.input_data == before->input_data,
          "%s: the model keeps its batch %d and arena (%zu bytes, same address)", what,
          now.max_batch, now.arena_bytes);
    check(memcmp(now.out, before->out, sizeof now.out) == 0, "%s: and runs, with the same output",
          what);
}

/* ---- the cap --------------------------------------------------------- */

static void test_default_cap(const float *x)
{
    xcnn_model *m = load_with("default cap", 0, 0);
    if (!m) return;
    snapshot before;
    snap(m, x, &before);
    xcnn_status st = xcnn_model_reserve(m, INT_MAX);
    check(st == XCNN_ERR_LIMIT && strstr(xcnn_model_error(m), "max_arena_bytes") &&
              strstr(xcnn_model_error(m), "4096.0 MiB"),
          "reserve(INT_MAX) is XCNN_ERR_LIMIT against the 4 GiB default, on any machine "
          "(got %s): %s",
          xcnn_status_name(st), xcnn_model_error(m));
    check_kept("after reserve(INT_MAX)", m, x, &before);
    /* A batch of about 8 GiB, which this machine might well have given:
     * refused by the cap all the same. */
    size_t a1 = xcnn_model_arena_bytes(m);
    check(xcnn_model_reserve(m, 2) == XCNN_OK, "reserve(2) under the default cap");
    size_t per = xcnn_model_arena_bytes(m) - a1;
    int big = (int)(((uint64_t)8 << 30) / per);
    st = xcnn_model_reserve(m, big);
    check(st == XCNN_ERR_LIMIT, "reserve(%d), about 8 GiB: XCNN_ERR_LIMIT (%s)", big,
          xcnn_model_error(m));
    check(xcnn_model_max_batch(m) == 2, "and batch 2 kept");
    xcnn_model_free(m);

    m = load_with("inference_only, default cap", 0, 1);
    if (m) {
        st = xcnn_model_reserve(m, INT_MAX);
        check(st == XCNN_ERR_LIMIT, "inference_only: reserve(INT_MAX) is XCNN_ERR_LIMIT (%s)",
              xcnn_model_error(m));
        check(xcnn_model_max_batch(m) == 1 && xcnn_forward(m, x, 1, NULL) == XCNN_OK,
              "inference_only: batch 1 kept, runs");
    }
    xcnn_model_free(m);
}

static void test_given_cap(const float *x)
{
    /* The arena plaincnn needs for batches 1 and 3, measured uncapped. */
    xcnn_model *m = load_with("measuring", 0, 0);
    if (!m) return;
    size_t a1 = xcnn_model_arena_bytes(m);
    xcnn_model_reserve(m, 3);
    size_t a3 = xcnn_model_arena_bytes(m);
    xcnn_model_free(m);

    /* A cap of exactly batch 3's arena: 3 fits, 4 does not (amounts any
     * machine can allocate: the refusal is the cap's). */
    m = load_with("cap = batch 3's arena", a3, 0);
    if (!m) return;
    snapshot before;
    check(xcnn_model_reserve(m, 3) == XCNN_OK, "reserve(3) at exactly the cap (%zu bytes)", a3);
    snap(m, x, &before);
    xcnn_status st = xcnn_model_reserve(m, 4);
    check(st == XCNN_ERR_LIMIT && strstr(xcnn_model_error(m), "batch 4"),
          "reserve(4) over the cap: XCNN_ERR_LIMIT: %s", xcnn_model_error(m));
    check_kept("after reserve(4) over the cap", m, x, &before);
    check(xcnn_model_reserve(m, 1) == XCNN_OK && xcnn_model_arena_bytes(m) == a1,
          "reserve(1) still works (%zu bytes)", xcnn_model_arena_bytes(m));

    /* Weight gradients count too (xcnn_model_arena_bytes includes them). */
    xcnn_model_reserve(m, 3);
    snap(m, x, &before);
    st = xcnn_model_enable_param_grads(m);
    check(st == XCNN_ERR_LIMIT && strstr(xcnn_model_error(m), "max_arena_bytes"),
          "weight gradients over the cap: XCNN_ERR_LIMIT: %s", xcnn_model_error(m));
    check_kept("after enable_param_grads over the cap (none allocated)", m, x, &before);
    xcnn_model_free(m);

    /* A model whose batch-1 arena is over the cap does not load. */
    char path[256], err[600] = "unchanged";
    snprintf(path, sizeof path, "%s/model.onnx", DIR);
    xcnn_load_options o = {.max_arena_bytes = a1 - 1};
    m = (xcnn_model *)1;
    st = xcnn_model_load(path, &o, &m, err, sizeof err);
    check(st == XCNN_ERR_LIMIT && m == NULL && strstr(err, "batch 1") &&
              strstr(err, "max_arena_bytes"),
          "a cap below batch 1's arena refuses the load: %s", err);
    o.max_arena_bytes = a1;
    st = xcnn_model_load(path, &o, &m, err, sizeof err);
    check(st == XCNN_OK, "a cap of exactly batch 1's arena loads");
    xcnn_model_free(m);
}

/* ---- a failed allocation (RLIMIT_AS) ----------------------------------- */

/* A sanitizer's shadow memory takes terabytes of address space: no
 * RLIMIT_AS there, so the helpers below are not built either. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#ifndef UNDER_SANITIZER
/* Address space in use now, from /proc (Linux); 0 if unknown. */
static uint64_t address_space(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (!f) return 0;
    if (fscanf(f, "%llu", &pages) != 1) pages = 0;
    fclose(f);
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* x [1,1,256,256] -> GlobalAveragePool -> Flatten -> y [1,1]: the input
 * dominates both the arena (value and gradient) and the explainers' path
 * buffer (one more input per batch item), so an address-space limit can
 * fall between the arena and the workspace. */
static xcnn_model *big_input_model(void)
{
    ob_buf g = ob_new();
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("x"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "f", IN("p"), OUT("y"), NULL, 0));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 1, 256, 256}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf mb = ob_model(13, &g);
    xcnn_model *m = NULL;
    char err[600];
    if (xcnn_model_load_memory(mb.p, mb.n, NULL, &m, err, sizeof err) != XCNN_OK)
        printf("     (%s)\n", err);
    ob_free(&mb);
    return m;
}
#endif

static void test_failed_allocation(void)
{
#ifdef UNDER_SANITIZER
    check_skip("failed allocations under RLIMIT_AS: not under a sanitizer (its shadow memory)");
#else
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) {
        check_skip("failed allocations under RLIMIT_AS: not under valgrind");
        return;
    }
    struct rlimit old;
    xcnn_model *m = big_input_model();
    float *x = calloc(65536, sizeof(float));
    if (!check(m && x && getrlimit(RLIMIT_AS, &old) == 0, "big-input model loads")) goto out;
    const int B = 64;
    const uint64_t in_bytes = 65536u * sizeof(float) * B; /* one batch of inputs: 16 MiB */
    const uint64_t arena = 2 * in_bytes;                  /* values and gradients      */
    snapshot before;
    snap(m, x, &before);
    /* (a) the arena's allocation fails; (b) the arena's succeeds and the
     * explainers' path buffer (in_bytes) fails after it: before, the model
     * had then already dropped its old arena for the new batch. */
    const struct {
        const char *what;
        uint64_t room;
    } cases[] = {{"the arena's allocation fails", arena / 2},
                 {"the arena is allocated, the explainers' buffers fail", arena + in_bytes / 2}};
    for (int k = 0; k < 2; k++) {
        uint64_t used = address_space();
        if (!used) {
            check_skip("%s: /proc/self/statm unreadable", cases[k].what);
            continue;
        }
        struct rlimit lim = old;
        lim.rlim_cur = (rlim_t)(used + cases[k].room);
        if (old.rlim_cur != RLIM_INFINITY && lim.rlim_cur > old.rlim_cur)
            lim.rlim_cur = old.rlim_cur;
        if (setrlimit(RLIMIT_AS, &lim) != 0) {
            check_skip("%s: setrlimit refused", cases[k].what);
            continue;
        }
        xcnn_status st = xcnn_model_reserve(m, B);
        setrlimit(RLIMIT_AS, &old);
        if (st == XCNN_OK) { /* the allocator found room after all */
            check_skip("%s: the reserve went through under the limit", cases[k].what);
            xcnn_model_reserve(m, 1);
            continue;
        }
        check(st == XCNN_ERR_NOMEM, "%s: XCNN_ERR_NOMEM: %s", cases[k].what, xcnn_model_error(m));
        check_kept(cases[k].what, m, x, &before);
    }
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.steps = 3;
    float *attr = malloc(65536 * sizeof(float));
    check(attr && xcnn_explain(m, x, &o, attr, 65536, NULL) == XCNN_OK,
          "after the failures, the model explains");
    check(xcnn_model_reserve(m, B) == XCNN_OK && xcnn_model_max_batch(m) == B,
          "with the limit lifted, reserve(%d) works", B);
    check(attr && xcnn_explain(m, x, &o, attr, 65536, NULL) == XCNN_OK, "and explains at batch %d",
          B);
    free(attr);
out:
    xcnn_model_free(m);
    free(x);
#endif
}

/* ---- threads ----------------------------------------------------------- */

static void test_threads_range(const float *x)
{
    xcnn_model *m = load_with("threads", 0, 0);
    if (!m) return;
    check(xcnn_model_set_threads(m, 2) == XCNN_OK, "set_threads(2)");
    int bad[] = {-1, 1025, 100000, INT_MAX, INT_MIN};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xcnn_status st = xcnn_model_set_threads(m, bad[k]);
        check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(m), "threads"),
              "set_threads(%d) refused: %s", bad[k], xcnn_model_error(m));
    }
    check(xcnn_model_set_threads(m, 1024) == XCNN_OK && xcnn_model_set_threads(m, 0) == XCNN_OK,
          "set_threads(1024) and (0) accepted");
    check(xcnn_forward(m, x, 1, NULL) == XCNN_OK, "and the model runs");
    xcnn_model_free(m);
}

/* An inference-only load frees the weights its Convs convert: saving it
 * is refused with the reason, not "constant ... has no value to write". */
static void test_save_inference_only(void)
{
    xcnn_model *m = load_with("inference_only, to save", 0, 1);
    if (!m) return;
    char err[300] = "stale";
    unsigned char *data = NULL;
    size_t size = 0;
    xcnn_status st = xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &data, &size, err, sizeof err);
    check(st == XCNN_ERR_ARG && data == NULL && strstr(err, "inference_only"),
          "saving an inference_only model is refused, naming why (%s)", err);
    xcnn_model_free(m);
    m = load_with("explain mode, to save", 0, 0);
    if (!m) return;
    st = xcnn_model_save_onnx_memory(m, NULL, NULL, 0, &data, &size, err, sizeof err);
    check(st == XCNN_OK && data && size > 0, "the same model loaded for explanations saves");
    free(data);
    xcnn_model_free(m);
}

int main(void)
{
    /* First, while the process is small and has no threads. */
    test_failed_allocation();
    size_t n = 0;
    float *x = fixture_npy(DIR, "input.npy", &n);
    if (check(x && n == 784, "plaincnn input")) {
        test_default_cap(x);
        test_given_cap(x);
        test_threads_range(x);
    }
    test_save_inference_only();
    free(x);
    return check_summary();
}
