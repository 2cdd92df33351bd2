/*
 * The pixel-major hand-off (ops/conv_fast.c, hand_off): in a model loaded
 * inference_only, a 1x1 conv over few pixels (run transposed, Y^T =
 * col^T W^T) whose only reader is a depthwise conv in the 16-channel form
 * leaves its output pixel-major, and the depthwise conv reads it so.
 *
 * MobileNetV2-like blocks (1x1 expansion, ReLU6 or ReLU, 3x3 depthwise,
 * 1x1 projection) built as ONNX in memory, each checked for:
 *   - whether the hand-off is made (the internal query
 *     xcnn_conv_fast_pixel_major): made where it should be, not where
 *     the expansion's output has a second reader or is the model output,
 *     nor where the expansion does not run transposed;
 *   - the same bits as the model loaded for explanations (no fusion, no
 *     hand-off), at batch 1 and 3, on 1 and 2 threads.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "onnx_builder.h"
#include "../include/xcnn.h"
#include "../libxcnn/base/config.h"
#include "../libxcnn/core/model.h"
#include "../libxcnn/ops/conv.h"
#include "../libxcnn/ops/ops.h"

typedef struct block {
    const char *what;
    int c_in, c_mid, c_out, size, stride;
    int bias;       /* biases on the expansion and depthwise convs */
    int relu;       /* Relu instead of Clip(0, 6)                   */
    int shared;     /* the expansion's output also feeds a 2nd depthwise */
    int mid_output; /* the expansion's activated output is the model output */
    int handed;     /* whether the hand-off must be made            */
} block;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(float scale) { return ob_rand(&rng_state, scale); }

static ob_buf weights(const char *name, int ndim, const int64_t *dims, float scale)
{
    return ob_random_tensor(&rng_state, name, ndim, dims, scale);
}

static void activation(ob_buf *gr, const block *b, const char *name, const char *in,
                       const char *out)
{
    if (b->relu)
        ob_graph_node(gr, ob_node("Relu", name, IN(in), OUT(out), NULL, 0));
    else
        ob_graph_node(gr, ob_node("Clip", name, IN(in, "lo", "hi"), OUT(out), NULL, 0));
}

static void depthwise(ob_buf *gr, const block *b, const char *name, const char *in,
                      const char *w, const char *bias, const char *out)
{
    ob_buf at[4] = {ob_attr_ints("kernel_shape", (int64_t[]){3, 3}, 2),
                    ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4),
                    ob_attr_ints("strides", (int64_t[]){b->stride, b->stride}, 2),
                    ob_attr_int("group", b->c_mid)};
    if (b->bias)
        ob_graph_node(gr, ob_node("Conv", name, IN(in, w, bias), OUT(out), at, 4));
    else
        ob_graph_node(gr, ob_node("Conv", name, IN(in, w), OUT(out), at, 4));
}

static xcnn_model *load(const block *b, int inference_only)
{
    rng_state = 0x9e3779b97f4a7c15ull; /* the same weights for both loads */
    int out_size = (b->size + 2 - 3) / b->stride + 1;
    int64_t cm = b->c_mid;
    ob_buf gr = ob_new();
    ob_graph_init(&gr, weights("we", 4, (int64_t[]){cm, b->c_in, 1, 1}, 0.3f));
    ob_graph_init(&gr, weights("be", 1, (int64_t[]){cm}, 0.5f));
    ob_graph_init(&gr, weights("wd", 4, (int64_t[]){cm, 1, 3, 3}, 0.5f));
    ob_graph_init(&gr, weights("bd", 1, (int64_t[]){cm}, 0.5f));
    ob_graph_init(&gr, weights("wd2", 4, (int64_t[]){cm, 1, 3, 3}, 0.5f));
    ob_graph_init(&gr, weights("wp", 4, (int64_t[]){b->c_out, cm, 1, 1}, 0.2f));
    ob_graph_init(&gr, ob_tensor_f("lo", 0, NULL, (float[]){0.0f}));
    ob_graph_init(&gr, ob_tensor_f("hi", 0, NULL, (float[]){6.0f}));
    if (b->bias)
        ob_graph_node(&gr, ob_node("Conv", "expand", IN("x", "we", "be"), OUT("e"), NULL, 0));
    else
        ob_graph_node(&gr, ob_node("Conv", "expand", IN("x", "we"), OUT("e"), NULL, 0));
    activation(&gr, b, "act_e", "e", "ea");
    depthwise(&gr, b, "dw", "ea", "wd", "bd", "d");
    if (b->shared) {
        depthwise(&gr, b, "dw2", "ea", "wd2", "bd", "d2");
        ob_graph_node(&gr, ob_node("Add", "sum", IN("d", "d2"), OUT("ds"), NULL, 0));
        activation(&gr, b, "act_d", "ds", "da");
    } else {
        activation(&gr, b, "act_d", "d", "da");
    }
    ob_graph_node(&gr, ob_node("Conv", "project", IN("da", "wp"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, b->c_in, b->size, b->size}));
    if (b->mid_output) /* the model output (the first), compared below */
        ob_graph_output(&gr, ob_value_info("ea", OB_FLOAT, 4, (int64_t[]){1, cm, b->size, b->size}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 4,
                                       (int64_t[]){1, b->c_out, out_size, out_size}));
    ob_buf bytes = ob_model(13, &gr);
    xcnn_load_options o = {.inference_only = inference_only, .max_batch = 3};
    xcnn_model *m = NULL;
    char err[512] = "";
    xcnn_status st = xcnn_model_load_memory(bytes.p, bytes.n, &o, &m, err, sizeof err);
    ob_free(&bytes);
    check(st == XCNN_OK, "%s: loads%s (%s)", b->what, inference_only ? " inference_only" : "",
          err);
    return st == XCNN_OK ? m : NULL;
}

/* 1 + 2 when the expansion hands off to the depthwise conv, 0 when no
 * conv of the model does either side; anything else is reported. */
static int hand_offs(const xcnn_model *m)
{
    int seen = 0;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *n = &m->g->nodes[m->compute[i]];
        if (n->def != &xcnn_op_conv) continue;
        int k = xcnn_conv_fast_pixel_major(n);
        if (k == 1 && strcmp(n->name, "expand") != 0) return -1;
        if (k == 2 && strcmp(n->name, "dw") != 0) return -1;
        seen |= k;
    }
    return seen;
}

static void test_block(const block *b)
{
    xcnn_model *full = load(b, 0), *lean = load(b, 1);
    if (!full || !lean) goto out;
    /* builds without the transposed path (XCNN_SMALL) or with every op
     * on its reference (make REFERENCE=1) make none */
    int has_path = XCNN_CONV_PACKED;
#ifdef XCNN_REFERENCE
    has_path = 0;
#endif
    int seen = hand_offs(lean), handed = b->handed && has_path;
    if (b->handed && !has_path)
        check_skip("%s: the hand-off (this build has no transposed 1x1 path)", b->what);
    check(seen == (handed ? 3 : 0) && hand_offs(full) == 0,
          "%s: the hand-off is %s (query %d; none in the full load)", b->what,
          handed ? "made" : "not made", seen);
    size_t n_in = (size_t)b->c_in * b->size * b->size;
    xcnn_tensor_view v;
    if (!check(xcnn_model_output(full, &v) == XCNN_OK, "%s: output view", b->what)) goto out;
    size_t n_out = v.numel / (size_t)(v.dims[0] > 0 ? v.dims[0] : 1);
    float *x = malloc(3 * n_in * sizeof(float));
    float *want = malloc(3 * n_out * sizeof(float)), *got = malloc(3 * n_out * sizeof(float));
    for (size_t i = 0; i < 3 * n_in; i++) x[i] = rnd(1.5f);
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) {
            xcnn_model_set_threads(full, threads);
            xcnn_model_set_threads(lean, threads);
            memset(got, 0xff, 3 * n_out * sizeof(float));
            xcnn_status s1 = xcnn_forward(full, x, batch, want);
            xcnn_status s2 = xcnn_forward(lean, x, batch, got);
            check(s1 == XCNN_OK && s2 == XCNN_OK &&
                      memcmp(want, got, (size_t)batch * n_out * sizeof(float)) == 0,
                  "%s, batch %d, %d thread%s: inference_only gives the full load's bits",
                  b->what, batch, threads, threads > 1 ? "s" : "");
        }
    free(x);
    free(want);
    free(got);
out:
    xcnn_model_free(full);
    xcnn_model_free(lean);
}

int main(void)
{
    const block blocks[] = {
        {"14x14, 16 -> 96 -> 24, ReLU6", 16, 96, 24, 14, 1, 1, 0, 0, 0, 1},
        {"14x14 stride 2, 24 -> 144 -> 32", 24, 144, 32, 14, 2, 1, 0, 0, 0, 1},
        {"7x7, 40 channels (a ragged block of 16)", 8, 40, 16, 7, 1, 1, 0, 0, 0, 1},
        {"7x7, 320 inputs (K past one GEMM slice)", 320, 96, 16, 7, 1, 1, 0, 0, 0, 1},
        {"14x14, no biases, ReLU", 16, 96, 16, 14, 1, 0, 1, 0, 0, 1},
        {"14x14, the expansion read twice", 16, 96, 24, 14, 1, 1, 0, 1, 0, 0},
        {"14x14, the expansion the model output", 16, 96, 24, 14, 1, 1, 0, 0, 1, 0},
        {"14x14, 64 channels (not transposed: 48-wide panels waste)", 16, 64, 16, 14, 1, 1, 0, 0, 0, 0},
        {"56x56 (not transposed)", 16, 96, 24, 56, 1, 1, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) test_block(&blocks[i]);
    return check_summary();
}
