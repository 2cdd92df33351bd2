/*
 * The profiling switch and the arena layout in the public API (what
 * `xcnn info --trace` prints):
 *  - xcnn_model_set_profiling: off, every node's times read 0; on, every
 *    node that ran has a time > 0, and the nodes' times add up to most of
 *    the pass's wall time, never more; a backward that stops early leaves
 *    the nodes below its stop at 0;
 *  - xcnn_tensor_view.arena_offset / arena_bytes / grad_offset: offsets
 *    that agree with the data pointers; for explanations no two slices
 *    overlap; inference_only shares memory between layers, has no
 *    gradients, and fused-away tensors are outside the arena.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../include/xcnn.h"
#include "check.h"

#define MODEL "data/fashion_resnet.onnx"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static xcnn_model *load(int inference_only)
{
    char err[512];
    xcnn_load_options o;
    memset(&o, 0, sizeof o);
    o.inference_only = inference_only;
    xcnn_model *m = NULL;
    if (xcnn_model_load(MODEL, &o, &m, err, sizeof err) != XCNN_OK) {
        check(0, "load %s: %s", MODEL, err);
        return NULL;
    }
    return m;
}

/* Sums of the nodes' forward and backward times; counts of nodes whose
 * time is zero, and of negative times. */
typedef struct prof_sum {
    double fwd, bwd;
    int fwd_zero, bwd_zero, negative;
} prof_sum;

static prof_sum sum_times(const xcnn_model *m)
{
    prof_sum s = {0, 0, 0, 0, 0};
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info ni;
        xcnn_model_node(m, i, &ni);
        s.fwd += ni.forward_seconds;
        s.bwd += ni.backward_seconds;
        s.fwd_zero += ni.forward_seconds == 0;
        s.bwd_zero += ni.backward_seconds == 0;
        s.negative += ni.forward_seconds < 0 || ni.backward_seconds < 0;
    }
    return s;
}

static void test_profiling(const float *x)
{
    xcnn_model *m = load(0);
    if (!m) return;
    int n = xcnn_model_node_count(m), target = 9;

    /* Off (the default): the passes never time anything. */
    xcnn_forward(m, x, 1, NULL);
    xcnn_backward(m, &target, NULL, NULL);
    prof_sum s = sum_times(m);
    check(s.fwd_zero == n && s.bwd_zero == n, "profiling off: all %d nodes' times are 0 "
          "(%d forward, %d backward zeros)", n, s.fwd_zero, s.bwd_zero);

    check(xcnn_model_set_profiling(m, 1) == XCNN_OK, "xcnn_model_set_profiling(m, 1)");
    check(xcnn_model_set_profiling(NULL, 1) == XCNN_ERR_ARG, "a NULL model is refused");
    xcnn_forward(m, x, 1, NULL); /* warm-up: weight forms made on first use */
    xcnn_backward(m, &target, NULL, NULL);

    /* The node times are inside the pass: never more than its wall
     * time, and most of it. Best of 5: a preempted pass says nothing. */
    double best_f = 0, best_b = 0, worst_over = 0, wall_f = 0, wall_b = 0;
    int zero_f = 0, zero_b = 0, neg = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        xcnn_status st = xcnn_forward(m, x, 1, NULL);
        double t1 = now();
        st |= xcnn_backward(m, &target, NULL, NULL);
        double t2 = now();
        if (st) {
            check(0, "forward/backward with profiling: %s", xcnn_model_error(m));
            break;
        }
        s = sum_times(m);
        /* Both clocks are CLOCK_MONOTONIC: the nodes' intervals lie inside
         * [t0, t1]; 1 us of slack for the rounding of the sums. */
        double rf = s.fwd / (t1 - t0), rb = s.bwd / (t2 - t1);
        if (rf > best_f) {
            best_f = rf;
            wall_f = t1 - t0;
        }
        if (rb > best_b) {
            best_b = rb;
            wall_b = t2 - t1;
        }
        if (s.fwd - (t1 - t0) - 1e-6 > worst_over) worst_over = s.fwd - (t1 - t0) - 1e-6;
        if (s.bwd - (t2 - t1) - 1e-6 > worst_over) worst_over = s.bwd - (t2 - t1) - 1e-6;
        zero_f += s.fwd_zero;
        zero_b += s.bwd_zero;
        neg += s.negative;
    }
    check(zero_f == 0 && zero_b == 0 && neg == 0, "profiling on: every node has a forward "
          "and a backward time > 0 (zeros: %d forward, %d backward; negative: %d)", zero_f,
          zero_b, neg);
    check(worst_over <= 0, "the nodes' times never add up to more than the pass (excess "
          "%.3g s)", worst_over);
    check(best_f >= 0.5 && best_b >= 0.5, "the nodes' times are most of the pass: forward "
          "%.2f%% of %.1f us, backward %.2f%% of %.1f us", 100 * best_f, wall_f * 1e6,
          100 * best_b, wall_b * 1e6);

    /* A backward that stops at a layer does not run the nodes below it. */
    const char *stop = "layer2.0.relu";
    int stop_index = -1;
    for (int i = 0; i < n; i++) {
        xcnn_node_info ni;
        xcnn_model_node(m, i, &ni);
        if (!strcmp(ni.name, stop)) stop_index = i;
    }
    xcnn_backward_options bo = {.relu_rule = XCNN_RELU_GRADIENT, .stop_at = stop};
    xcnn_forward(m, x, 1, NULL);
    check(stop_index > 0 && xcnn_backward(m, &target, NULL, &bo) == XCNN_OK,
          "backward stopped at %s (node %d)", stop, stop_index);
    int below_zero = 1, above_timed = 1;
    for (int i = 0; i < n; i++) {
        xcnn_node_info ni;
        xcnn_model_node(m, i, &ni);
        if (i <= stop_index) below_zero &= ni.backward_seconds == 0;
        else above_timed &= ni.backward_seconds > 0;
        if (ni.forward_seconds <= 0) above_timed = 0;
    }
    check(below_zero && above_timed, "stopped backward: nodes 0..%d read 0, the rest > 0",
          stop_index);

    /* Explainers' passes (batched, or one sample per thread) run fine
     * while profiling. */
    xcnn_model_reserve(m, 4);
    xcnn_model_set_threads(m, 2);
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_INTEGRATED_GRADIENTS);
    o.steps = 8;
    float *attr = malloc(28 * 28 * sizeof(float));
    check(attr && xcnn_explain(m, x, &o, attr, 28 * 28, NULL) == XCNN_OK,
          "integrated gradients with profiling on");
    free(attr);
    s = sum_times(m);
    check(s.negative == 0, "times after an explainer are >= 0");

    check(xcnn_model_set_profiling(m, 0) == XCNN_OK, "xcnn_model_set_profiling(m, 0)");
    s = sum_times(m);
    check(s.fwd_zero == n && s.bwd_zero == n, "profiling off again: the times read 0");
    xcnn_forward(m, x, 1, NULL);
    s = sum_times(m);
    check(s.fwd_zero == n, "and a forward after it times nothing");
    xcnn_model_free(m);
}

/* Every arena range of model m's input and node outputs. */
typedef struct range {
    int64_t off;
    size_t bytes;
    const char *name;
} range;

/* The views of the input and of each node's output. Returns the count. */
static int views(const xcnn_model *m, const xcnn_model *names_from, xcnn_tensor_view *v)
{
    int k = 0;
    xcnn_model_input(m, &v[k++]);
    for (int i = 0; i < xcnn_model_node_count(names_from); i++) {
        xcnn_node_info ni;
        xcnn_model_node(names_from, i, &ni);
        if (xcnn_model_tensor(m, ni.output, &v[k]) == XCNN_OK) k++;
    }
    return k;
}

static int overlaps(const range *a, const range *b)
{
    return a->off < b->off + (int64_t)b->bytes && b->off < a->off + (int64_t)a->bytes;
}

/* The offsets agree with the data pointers: data - input.data is the
 * difference of their offsets. */
static int offsets_match_pointers(const xcnn_tensor_view *v, int k)
{
    for (int i = 1; i < k; i++) {
        if (v[i].arena_offset < 0 || !v[i].data) continue;
        ptrdiff_t d = (const char *)v[i].data - (const char *)v[0].data;
        if ((int64_t)d != v[i].arena_offset - v[0].arena_offset) return 0;
        if (v[i].grad && v[i].grad_offset >= 0 &&
            (int64_t)((const char *)v[i].grad - (const char *)v[0].data) !=
                v[i].grad_offset - v[0].arena_offset)
            return 0;
    }
    return 1;
}

static void test_layout(const float *x)
{
    xcnn_model *m = load(0), *mi = load(1);
    if (!m || !mi) {
        xcnn_model_free(m);
        xcnn_model_free(mi);
        return;
    }
    int n = xcnn_model_node_count(m);
    xcnn_tensor_view *v = calloc((size_t)n + 1, sizeof *v);
    range *r = calloc(2 * ((size_t)n + 1), sizeof *r);
    if (!v || !r) {
        check(0, "out of memory");
        goto done;
    }

    /* For explanations: values and gradients, each in a slice of its own. */
    int k = views(m, m, v), nr = 0, inside = 1, sized = 1;
    size_t arena = xcnn_model_arena_bytes(m);
    for (int i = 0; i < k; i++) {
        sized &= v[i].arena_bytes >= v[i].numel * sizeof(float) && v[i].arena_bytes % 64 == 0;
        r[nr++] = (range){v[i].arena_offset, v[i].arena_bytes, v[i].name};
        r[nr++] = (range){v[i].grad_offset, v[i].arena_bytes, v[i].name};
    }
    int clash = 0;
    for (int a = 0; a < nr; a++) {
        inside &= r[a].off >= 0 && (size_t)r[a].off + r[a].bytes <= arena;
        for (int b = a + 1; b < nr; b++) clash += overlaps(&r[a], &r[b]);
    }
    check(k == n + 1 && inside, "explain load: the input and all %d node outputs have values "
          "and a gradient inside the %zu-byte arena", n, arena);
    check(sized, "each slice holds the tensor, in whole cache lines");
    check(clash == 0, "explain load: no two of the %d slices overlap (%d overlaps)", nr, clash);
    check(offsets_match_pointers(v, k), "explain load: offsets agree with the data and grad "
          "pointers");
    xcnn_tensor_view w;
    check(xcnn_model_tensor(m, "stem.conv.weight", &w) == XCNN_OK && w.arena_offset == -1 &&
              w.grad_offset == -1 && w.arena_bytes == 0,
          "a weight is outside the arena (offset -1)");

    /* inference_only: layers share memory; no gradients; fused tensors
     * (a Conv's output that its BatchNorm was folded into) are nowhere. */
    k = views(mi, m, v);
    int shared = 0, grads = 0, fused = 0, in_arena = 0;
    nr = 0;
    for (int i = 0; i < k; i++) {
        grads += v[i].grad_offset != -1;
        if (v[i].arena_offset < 0) {
            fused++;
            continue;
        }
        in_arena++;
        r[nr++] = (range){v[i].arena_offset, v[i].arena_bytes, v[i].name};
    }
    const char *a_name = "", *b_name = "";
    for (int a = 0; a < nr; a++)
        for (int b = a + 1; b < nr; b++)
            if (overlaps(&r[a], &r[b])) {
                if (!shared++) {
                    a_name = r[a].name;
                    b_name = r[b].name;
                }
            }
    check(shared > 0, "inference_only load: %d pairs of layer outputs share memory (e.g. '%s' "
          "and '%s')", shared, a_name, b_name);
    check(grads == 0, "inference_only load: no gradient offsets (%d)", grads);
    check(fused > 0 && in_arena > 0, "inference_only load: %d tensors fused away (offset -1), "
          "%d in the arena", fused, in_arena);
    xcnn_forward(mi, x, 1, NULL);
    check(offsets_match_pointers(v, k), "inference_only load: offsets agree with the data "
          "pointers");
    int reserved = xcnn_model_reserve(m, 3) == XCNN_OK && xcnn_model_input(m, &v[0]) == XCNN_OK;
    check(reserved && v[0].arena_bytes >= 3 * 28 * 28 * sizeof(float),
          "after reserve(3) the input's slice holds 3 samples (%zu bytes)", v[0].arena_bytes);
done:
    free(v);
    free(r);
    xcnn_model_free(m);
    xcnn_model_free(mi);
}

int main(void)
{
    float x[28 * 28];
    for (int i = 0; i < 28 * 28; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    test_profiling(x);
    test_layout(x);
    return check_summary();
}
