/*
 * A model in one caller buffer (issue #15, "static memory"):
 *   1. xcnn_model_plan gives the exact size: a buffer that big loads at any
 *      start alignment; one byte less is XCNN_ERR_NOMEM with a message.
 *   2. xcnn_model_load_static allocates nothing: this program is linked
 *      with -Wl,--wrap for malloc, calloc, realloc, aligned_alloc and
 *      posix_memalign (Makefile), and counts every call the library makes
 *      while the load, forwards, backwards and every explainer run.
 *   3. The weights are used in place and never written: the .xcnn image
 *      lies in pages made read-only with mprotect (a write would crash
 *      this test), and the model's weights point into them.
 *   4. The same bits as a heap-loaded model, for the forward, a backward
 *      and every explainer; inference_only and explain_layer loads too.
 *   5. What a static model cannot do is refused: growing its batch,
 *      weight gradients, training, an ONNX image.
 *   6. explain_layer on the heap: Grad-CAM bits equal to a full load in a
 *      much smaller arena; everything below the layer refused.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../include/xcnn.h"
#include "../include/xcnn_train.h"
#include "../libxcnn/core/model.h"
#include "../libxcnn/graph/xcnn_format.h"
#include "check.h"

#define MODEL "data/fashion_resnet.onnx"

/* ---- counting the library's allocations (-Wl,--wrap=...) -------------- */

static atomic_int counting, n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t c, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

static void note(void)
{
    if (atomic_load(&counting)) atomic_fetch_add(&n_allocs, 1);
}
void *__wrap_malloc(size_t n) { note(); return __real_malloc(n); }
void *__wrap_calloc(size_t c, size_t n) { note(); return __real_calloc(c, n); }
void *__wrap_realloc(void *p, size_t n) { note(); return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { note(); return __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { note(); return __real_posix_memalign(p, a, n); }

static void count_from_zero(void)
{
    atomic_store(&n_allocs, 0);
    atomic_store(&counting, 1);
}
static int counted(void)
{
    atomic_store(&counting, 0);
    return atomic_load(&n_allocs);
}

/* ---- helpers ------------------------------------------------------------ */

/* The model's .xcnn image in fresh pages, made read-only. */
static unsigned char *readonly_image(const char *onnx, size_t *size, size_t *map_bytes)
{
    xcnn_model *m = NULL;
    char err[512];
    if (xcnn_model_load(onnx, NULL, &m, err, sizeof err)) {
        printf("# load %s: %s\n", onnx, err);
        return NULL;
    }
    unsigned char *bytes = NULL;
    xcnn_err e = {{0}};
    xcnn_status st = xcnn_format_encode(m->g, &bytes, size, &e);
    xcnn_model_free(m);
    if (st) {
        printf("# encode: %s\n", e.msg);
        return NULL;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *map_bytes = (*size + page - 1) / page * page;
    unsigned char *img = mmap(NULL, *map_bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (img == MAP_FAILED) {
        free(bytes);
        return NULL;
    }
    memcpy(img, bytes, *size);
    free(bytes);
    if (mprotect(img, *map_bytes, PROT_READ) != 0) {
        munmap(img, *map_bytes);
        return NULL;
    }
    return img;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* A deterministic input: a Fashion-MNIST-like blob in [-1, 1]. */
static void make_input(float *x, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

enum { N_IN = 28 * 28, N_OUT = 10 };

/* Run every explainer on both models; count the static one's allocations. */
static void compare_explainers(xcnn_model *heap, xcnn_model *stat, const float *x)
{
    static const xcnn_method methods[] = {XCNN_SALIENCY, XCNN_INPUT_X_GRADIENT, XCNN_DECONVNET,
                                          XCNN_GUIDED_BACKPROP, XCNN_INTEGRATED_GRADIENTS,
                                          XCNN_SMOOTHGRAD, XCNN_GRADCAM, XCNN_GUIDED_GRADCAM,
                                          /* the second round (METHODS.md) */
                                          XCNN_DEEPLIFT, XCNN_LRP, XCNN_OCCLUSION, XCNN_RISE,
                                          XCNN_CAM, XCNN_GRADCAM_PLUS_PLUS, XCNN_XGRADCAM,
                                          XCNN_LAYERCAM, XCNN_HIRESCAM, XCNN_SCORECAM,
                                          XCNN_EIGENCAM, XCNN_ABLATIONCAM};
    static float a[N_IN], b[N_IN];
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++) {
        /* DeepLIFT runs the input beside its baseline: a batch of 2 */
        if (methods[k] == XCNN_DEEPLIFT && xcnn_model_max_batch(stat) < 2) continue;
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, methods[k]);
        o.steps = 8;
        o.samples = 4;
        o.window[1] = o.window[2] = 7; /* occlusion: 16 windows */
        o.stride[0] = o.stride[1] = 7;
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        xcnn_explain_result ra, rb;
        xcnn_status sa = xcnn_explain(heap, x, &o, a, N_IN, &ra);
        count_from_zero();
        xcnn_status sb = xcnn_explain(stat, x, &o, b, N_IN, &rb);
        int allocs = counted();
        size_t n = 1;
        for (int d = 0; d < ra.ndim; d++) n *= (size_t)ra.dims[d];
        check(!sa && !sb && ra.target == rb.target && same_bits(a, b, n) && allocs == 0,
              "explainer %d: static model's %zu values bit-identical to the heap model's, "
              "%d allocations (%s)", (int)methods[k], n, allocs, sb ? xcnn_model_error(stat) : "ok");
    }
}

/* The largest live set of a shared plan: at each running node, the bytes
 * of every activation written at or before it and read at or after it
 * (the input and output throughout; with an explain_layer, what the
 * backward reads lives to the end). No plan of separate slices can be
 * smaller; the planner's values region is compared with it. */
static size_t largest_live_set(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    size_t best = 0;
    int lim = m->grad_from >= 0 ? g->tensors[m->grad_from].producer : -1;
    for (int k = 0; k < m->n_compute; k++) {
        size_t live = 0;
        for (int t = 0; t < g->n_tensors; t++) {
            const xcnn_tensor *v = &g->tensors[t];
            if (v->kind == XCNN_T_CONST || v->ndim < 1) continue;
            int first = v->kind == XCNN_T_INPUT ? -1 : INT_MAX, last = -1;
            for (int j = 0; j < m->n_compute; j++) {
                const xcnn_node *n = &g->nodes[m->compute[j]];
                int late = lim >= 0 && m->compute[j] > lim;
                for (int o = 0; o < n->n_out; o++)
                    if (n->out[o] == t) {
                        if (j < first) first = j;
                        if (j > last) last = j;
                        if (late) last = INT_MAX;
                    }
                for (int q = 0; q < n->n_in; q++)
                    if (n->in[q] == t) {
                        if (j > last) last = j;
                        if (late) last = INT_MAX;
                    }
            }
            if (t == g->input || t == g->output || t == m->grad_from) last = INT_MAX;
            if (first == INT_MAX) continue;
            if (first <= k && k <= last) live += (xcnn_tensor_sample_numel(v) + 15) / 16 * 16;
        }
        if (live > best) best = live;
    }
    return best * sizeof(float);
}

/* The values region of m's arena: the arena less its gradients and scratch. */
static size_t values_bytes(const xcnn_model *m)
{
    size_t grads = 0;
    for (int t = 0; t < m->g->n_tensors; t++) {
        const xcnn_tensor *v = &m->g->tensors[t];
        if (v->kind != XCNN_T_CONST && v->grad) grads += (xcnn_tensor_sample_numel(v) + 15) / 16 * 16;
    }
    return m->arena_bytes - (grads + m->scratch_floats) * sizeof(float);
}

int main(void)
{
    size_t size = 0, map_bytes = 0;
    unsigned char *img = readonly_image(MODEL, &size, &map_bytes);
    if (!check(img != NULL, "%s converted to .xcnn (%zu bytes) in read-only pages", MODEL, size))
        return check_summary();
    char err[512];
    float x[N_IN], y0[N_OUT], y1[N_OUT];
    make_input(x, N_IN);

    /* 1. the plan is exact */
    size_t need = 0;
    xcnn_status st = xcnn_model_plan(img, size, NULL, &need, err, sizeof err);
    check(!st && need > 0, "xcnn_model_plan: %zu bytes (%s)", need, st ? err : "ok");
    unsigned char *room = malloc(need + 64);
    int all_fit = 1;
    for (int shift = 0; shift < 64 && room; shift += 7) {
        xcnn_model *m = NULL;
        st = xcnn_model_load_static(img, size, NULL, room + shift, need, &m, err, sizeof err);
        if (st || !m) all_fit = 0;
        xcnn_model_free(m);
    }
    check(all_fit, "a buffer of exactly the planned size loads at every start alignment");
    /* The plan includes the worst start-alignment loss (63 bytes): from a
     * 64-byte-aligned start, need - 63 fits and one byte less does not. */
    unsigned char *aligned = room + (64 - (uintptr_t)room % 64) % 64;
    xcnn_model *m = NULL;
    st = xcnn_model_load_static(img, size, NULL, aligned, need - 63, &m, err, sizeof err);
    check(!st && m, "from an aligned start, the plan less its 63 bytes of slack loads");
    xcnn_model_free(m);
    m = NULL;
    err[0] = 0;
    st = xcnn_model_load_static(img, size, NULL, aligned, need - 64, &m, err, sizeof err);
    check(st == XCNN_ERR_NOMEM && !m && strstr(err, "xcnn_model_plan"),
          "one byte less: XCNN_ERR_NOMEM, no model, and the message says what to do (%s)", err);

    /* 2, 3, 4: zero allocations, weights in place, same bits */
    xcnn_model *heap = NULL;
    check(!xcnn_model_load(MODEL, NULL, &heap, err, sizeof err), "heap model loaded from ONNX");
    count_from_zero();
    st = xcnn_model_load_static(img, size, NULL, room, need, &m, err, sizeof err);
    int allocs = counted();
    check(!st && allocs == 0, "xcnn_model_load_static: %d heap allocations (%s)", allocs,
          st ? err : "ok");
    if (st) return check_summary();
    int in_place = 1, n_weights = 0;
    for (int i = 0; i < m->g->n_tensors; i++) {
        const xcnn_tensor *t = &m->g->tensors[i];
        if (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data) continue;
        n_weights++;
        if ((const unsigned char *)t->data < img || (const unsigned char *)t->data >= img + size)
            in_place = 0;
    }
    check(in_place && n_weights > 0, "all %d float weights point into the read-only image",
          n_weights);
    check(xcnn_model_arena_bytes(m) > 0 && (unsigned char *)m >= room &&
              (unsigned char *)m < room + need,
          "the model itself lives in the caller's buffer");

    xcnn_forward(heap, x, 1, y0);
    count_from_zero();
    st = xcnn_forward(m, x, 1, y1);
    allocs = counted();
    check(!st && allocs == 0 && same_bits(y0, y1, N_OUT),
          "forward: bit-identical logits, %d allocations", allocs);
    xcnn_backward_options bo;
    memset(&bo, 0, sizeof bo);
    int target = 3;
    xcnn_backward(heap, &target, NULL, &bo);
    count_from_zero();
    st = xcnn_backward(m, &target, NULL, &bo);
    allocs = counted();
    xcnn_tensor_view gh, gs;
    xcnn_model_input(heap, &gh);
    xcnn_model_input(m, &gs);
    check(!st && allocs == 0 && gs.grad && same_bits(gh.grad, gs.grad, N_IN),
          "backward: bit-identical input gradient, %d allocations", allocs);
    count_from_zero();
    st = xcnn_model_set_profiling(m, 1);
    if (!st) st = xcnn_forward(m, x, 1, y1);
    if (!st) st = xcnn_model_set_profiling(m, 0);
    allocs = counted();
    check(!st && allocs == 0, "profiling on and off: %d allocations", allocs);
    compare_explainers(heap, m, x);

    /* 5. what a static model refuses */
    count_from_zero();
    check(xcnn_model_reserve(m, 2) == XCNN_ERR_LIMIT && strstr(xcnn_model_error(m), "static"),
          "reserve past the planned batch: XCNN_ERR_LIMIT (%s)", xcnn_model_error(m));
    check(xcnn_model_reserve(m, 1) == XCNN_OK, "reserve within it: OK");
    check(xcnn_model_enable_param_grads(m) == XCNN_ERR_LIMIT,
          "weight gradients: XCNN_ERR_LIMIT (%s)", xcnn_model_error(m));
    allocs = counted();
    check(allocs == 0, "the refusals allocate nothing (%d)", allocs);
    xcnn_trainer *tr = NULL;
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, XCNN_OPT_SGD);
    st = xcnn_trainer_new(m, &oo, 1, &tr, err, sizeof err);
    check(st != XCNN_OK && !tr && strstr(err, "static"), "training refused (%s)", err);
    xcnn_model_free(m);

    FILE *f = fopen(MODEL, "rb");
    static unsigned char onnx[1 << 20];
    size_t onnx_n = f ? fread(onnx, 1, sizeof onnx, f) : 0;
    if (f) fclose(f);
    st = xcnn_model_load_static(onnx, onnx_n, NULL, room, need, &m, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(err, "xcnn convert"),
          "an ONNX image in a static buffer: refused, naming xcnn convert (%s)", err);

    /* batch 4 and inference_only, static */
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.max_batch = 4;
    size_t need4 = 0;
    st = xcnn_model_plan(img, size, &lo, &need4, err, sizeof err);
    unsigned char *room4 = malloc(need4);
    xcnn_model *m4 = NULL;
    count_from_zero();
    if (!st) st = xcnn_model_load_static(img, size, &lo, room4, need4, &m4, err, sizeof err);
    allocs = counted();
    check(!st && allocs == 0 && xcnn_model_max_batch(m4) == 4,
          "max_batch 4: planned %zu bytes, loaded, batch 4, %d allocations", need4, allocs);
    static float x4[4 * N_IN], y4[4 * N_OUT];
    for (int b = 0; b < 4; b++) memcpy(x4 + b * N_IN, x, sizeof x);
    if (!st) st = xcnn_forward(m4, x4, 4, y4);
    check(!st && same_bits(y4 + 3 * N_OUT, y0, N_OUT), "batch 4: each sample's logits as alone");
    /* batched explainers (DeepLIFT's pair, occlusion's and RISE's passes)
     * in the batch-4 buffer, against a heap model reserved for 4 */
    if (!st && xcnn_model_reserve(heap, 4) == XCNN_OK) compare_explainers(heap, m4, x);
    xcnn_model_free(m4);
    free(room4);

    memset(&lo, 0, sizeof lo);
    lo.inference_only = 1;
    size_t need_inf = 0;
    xcnn_model *hi = NULL;
    xcnn_model_load(MODEL, &lo, &hi, err, sizeof err);
    st = xcnn_model_plan(img, size, &lo, &need_inf, err, sizeof err);
    unsigned char *room_inf = malloc(need_inf);
    xcnn_model *mi = NULL;
    count_from_zero();
    if (!st) st = xcnn_model_load_static(img, size, &lo, room_inf, need_inf, &mi, err, sizeof err);
    if (!st) st = xcnn_forward(mi, x, 1, y1);
    allocs = counted();
    float yi[N_OUT];
    if (hi) xcnn_forward(hi, x, 1, yi);
    check(!st && allocs == 0 && hi && same_bits(yi, y1, N_OUT),
          "inference_only static: %zu bytes (full: %zu), logits bit-identical to the heap "
          "inference_only model's, %d allocations", need_inf, need, allocs);
    if (mi) {
        size_t plan = values_bytes(mi), bound = largest_live_set(mi);
        check(plan <= bound + bound / 4,
              "inference_only: activations planned in %zu bytes, the largest live set is %zu "
              "(%.2fx)", plan, bound, (double)plan / (double)bound);
    }
    xcnn_model_free(mi);
    xcnn_model_free(hi);
    free(room_inf);

    /* explain_layer "": Grad-CAM at the default layer only */
    memset(&lo, 0, sizeof lo);
    lo.explain_layer = "";
    size_t need_cam = 0;
    st = xcnn_model_plan(img, size, &lo, &need_cam, err, sizeof err);
    unsigned char *room_cam = malloc(need_cam);
    xcnn_model *mc = NULL;
    count_from_zero();
    if (!st) st = xcnn_model_load_static(img, size, &lo, room_cam, need_cam, &mc, err, sizeof err);
    float cam0[N_IN], cam1[N_IN];
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    xcnn_explain_result r0, r1;
    if (!st) st = xcnn_explain(mc, x, &o, cam1, N_IN, &r1);
    allocs = counted();
    xcnn_explain(heap, x, &o, cam0, N_IN, &r0);
    size_t hw = (size_t)r0.dims[2] * (size_t)r0.dims[3];
    check(!st && allocs == 0 && same_bits(cam0, cam1, hw) && strcmp(r0.layer, r1.layer) == 0,
          "explain_layer \"\" static: %zu bytes (full: %zu); Grad-CAM at '%s' bit-identical, "
          "%d allocations (%s)", need_cam, need, r1.layer, allocs, st ? err : "ok");
    if (mc) {
        size_t plan = values_bytes(mc), bound = largest_live_set(mc);
        check(plan <= bound + bound / 4,
              "explain_layer: activations planned in %zu bytes, the largest live set is %zu "
              "(%.2fx)", plan, bound, (double)plan / (double)bound);
    }
    if (mc) { /* conv -> BatchNormalization -> Relu below the layer: one slice */
        xcnn_node_info n0, n1, n2;
        xcnn_tensor_view v0, v1, v2;
        xcnn_model_node(mc, 0, &n0);
        xcnn_model_node(mc, 1, &n1);
        xcnn_model_node(mc, 2, &n2);
        xcnn_model_tensor(mc, n0.output, &v0);
        xcnn_model_tensor(mc, n1.output, &v1);
        xcnn_model_tensor(mc, n2.output, &v2);
        check(!strcmp(n1.op_type, "BatchNormalization") && !strcmp(n2.op_type, "Relu") &&
                  v0.arena_offset >= 0 && v0.arena_offset == v1.arena_offset &&
                  v1.arena_offset == v2.arena_offset,
              "explain_layer: %s, %s and %s run in place in one slice (offsets %lld %lld %lld)",
              n0.name, n1.name, n2.name, (long long)v0.arena_offset, (long long)v1.arena_offset,
              (long long)v2.arena_offset);
    }
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    st = mc ? xcnn_explain(mc, x, &o, cam1, N_IN, &r1) : XCNN_ERR_ARG;
    check(st == XCNN_ERR_ARG && mc && strstr(xcnn_model_error(mc), "explain_layer"),
          "explain_layer: integrated gradients refused (%s)", mc ? xcnn_model_error(mc) : "");
    if (mc) {
        xcnn_forward(mc, x, 1, y1);
        st = xcnn_backward(mc, &target, NULL, &bo);
        check(st == XCNN_ERR_ARG, "explain_layer: a backward to the input refused (%s)",
              xcnn_model_error(mc));
        check(same_bits(y0, y1, N_OUT), "explain_layer: logits bit-identical to the full load");
    }
    xcnn_model_free(mc);
    free(room_cam);

    /* explain_layer on the heap, and a bad one */
    memset(&lo, 0, sizeof lo);
    lo.explain_layer = "no_such_layer";
    xcnn_model *bad = NULL;
    st = xcnn_model_load(MODEL, &lo, &bad, err, sizeof err);
    check(st == XCNN_ERR_NOT_FOUND && !bad && strstr(err, "no_such_layer"),
          "explain_layer naming no layer: XCNN_ERR_NOT_FOUND (%s)", err);
    lo.explain_layer = "";
    lo.inference_only = 1;
    st = xcnn_model_load(MODEL, &lo, &bad, err, sizeof err);
    check(st == XCNN_ERR_ARG && !bad, "explain_layer with inference_only: refused (%s)", err);

    xcnn_model_free(heap);
    free(room);
    munmap(img, map_bytes);
    return check_summary();
}
