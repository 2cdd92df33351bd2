/*
 * Conv -> MaxPool fusion (core/fuse.c, graph.h's fused_pool): in a model
 * loaded inference_only, the stem conv (few input channels, on an
 * AVX-512 CPU) whose only reader is a MaxPool pools its own rows
 * (kernels/conv_stem.h's xcnn_conv_stem_pooled), and its output is never
 * written whole.
 *
 * Stems built as ONNX in memory (Conv, a Relu or none, MaxPool), each
 * checked for:
 *   - whether the conv takes the pool: only in the stem form, so never in
 *     make SIMD=0 or REFERENCE=1 builds, on CPUs without AVX-512, nor for
 *     a conv of many input channels;
 *   - the same bits as the same model with an Identity before the pool
 *     (so nothing is fused and the MaxPool op pools), both loaded
 *     inference_only, at batch 1 and 3, on 1 and 2 threads (NaN and the
 *     parts are tests/test_conv_paths.c's);
 *   - the same bits again after the fused graph is written as .xcnn (the
 *     pool written back as a node) and loaded from it.
 */
#include <stdlib.h>
#include <string.h>
#include "fused_load.h"
#include "../libxcnn/kernels/conv_stem.h"
#include "../libxcnn/ops/ops.h"

typedef struct stem {
    const char *what;
    int c_in, c_out, h, w, k, stride; /* the conv: k x k, pad k / 2      */
    int pool_k, pool_stride, pool_pad, ceil_mode;
    int no_relu;                      /* no Relu between conv and pool   */
    int stem_form;                    /* the conv runs in the stem form
                                         where the CPU has AVX-512       */
} stem;

static uint64_t rng_state;

static int conv_out(int size, const stem *s)
{
    return (size + 2 * (s->k / 2) - s->k) / s->stride + 1;
}

static int pool_out(int size, const stem *s)
{
    int span = size + 2 * s->pool_pad - s->pool_k;
    int o = (s->ceil_mode ? (span + s->pool_stride - 1) : span) / s->pool_stride + 1;
    /* ceil_mode: the last window must start inside the input or left pad */
    if (s->ceil_mode && (o - 1) * s->pool_stride >= size + s->pool_pad) o--;
    return o;
}

/* The stem as ONNX; `identity`: an Identity before the MaxPool, which
 * keeps fuse.c from folding the pool into the conv. */
static ob_buf stem_onnx(const stem *s, int identity)
{
    rng_state = 0x2545f4914f6cdd1dull; /* the same weights for every load */
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_random_tensor(&rng_state, "w", 4,
                                        (int64_t[]){s->c_out, s->c_in, s->k, s->k}, 0.3f));
    ob_graph_init(&gr, ob_random_tensor(&rng_state, "b", 1, (int64_t[]){s->c_out}, 0.5f));
    int64_t p = s->k / 2, pp = s->pool_pad;
    ob_buf conv_at[3] = {ob_attr_ints("kernel_shape", (int64_t[]){s->k, s->k}, 2),
                         ob_attr_ints("pads", (int64_t[]){p, p, p, p}, 4),
                         ob_attr_ints("strides", (int64_t[]){s->stride, s->stride}, 2)};
    ob_graph_node(&gr, ob_node("Conv", "conv", IN("x", "w", "b"), OUT("c"), conv_at, 3));
    const char *c = "c";
    if (!s->no_relu) {
        ob_graph_node(&gr, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
        c = "r";
    }
    if (identity) {
        ob_graph_node(&gr, ob_node("Identity", "id", IN(c), OUT("i"), NULL, 0));
        c = "i";
    }
    ob_buf pool_at[4] = {
        ob_attr_ints("kernel_shape", (int64_t[]){s->pool_k, s->pool_k}, 2),
        ob_attr_ints("pads", (int64_t[]){pp, pp, pp, pp}, 4),
        ob_attr_ints("strides", (int64_t[]){s->pool_stride, s->pool_stride}, 2),
        ob_attr_int("ceil_mode", s->ceil_mode)};
    ob_graph_node(&gr, ob_node("MaxPool", "pool", IN(c), OUT("y"), pool_at, 4));
    int64_t oh = pool_out(conv_out(s->h, s), s), ow = pool_out(conv_out(s->w, s), s);
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, s->c_in, s->h, s->w}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 4, (int64_t[]){1, s->c_out, oh, ow}));
    return ob_model(13, &gr);
}

static xcnn_model *load(const stem *s, int identity)
{
    return fused_load(s->what, stem_onnx(s, identity), identity ? "with the Identity" : "");
}

/* How many running nodes have a pool in them. */
static int pooled_nodes(const xcnn_model *m)
{
    int count = 0;
    for (int i = 0; i < m->n_compute; i++) count += m->g->nodes[m->compute[i]].fused_pool;
    return count;
}

static void test_stem(const stem *s)
{
    xcnn_model *fused = load(s, 0), *plain = load(s, 1);
    xcnn_model *written = fused_load_via_xcnn(s->what, stem_onnx(s, 0));
    if (!fused || !plain || !written) goto out;
    int want = s->stem_form && xcnn_conv_stem_simd() && !fused->g->reference;
    check(pooled_nodes(fused) == want && pooled_nodes(plain) == 0,
          "%s: the pool is %s (%d conv with a pool; none with the Identity)", s->what,
          want ? "taken by the conv" : "not fused", pooled_nodes(fused));
    check(xcnn_model_node_count(fused) == xcnn_model_node_count(plain) - (want ? 2 : 1),
          "%s: %d nodes run fused, %d with the Identity", s->what, xcnn_model_node_count(fused),
          xcnn_model_node_count(plain));
    check(pooled_nodes(written) == want, "%s: loaded from .xcnn, the pool is %s again",
          s->what, want ? "taken" : "left");
    size_t n_in = (size_t)s->c_in * s->h * s->w;
    size_t n_out =
        (size_t)s->c_out * pool_out(conv_out(s->h, s), s) * pool_out(conv_out(s->w, s), s);
    float *x = malloc(3 * n_in * sizeof(float));
    for (size_t i = 0; i < 3 * n_in; i++) x[i] = ob_rand(&rng_state, 1.5f);
    x[7] = -0.0f; /* (forward refuses NaN inputs: test_conv_paths has them) */
    fused_check_bits(s->what, "MaxPool", fused, plain, written, x, n_out);
    free(x);
out:
    xcnn_model_free(fused);
    xcnn_model_free(plain);
    xcnn_model_free(written);
}

int main(void)
{
    const stem stems[] = {
        {.what = "ResNet's stem at 96x96 (7x7/2, ReLU, pool 3x3/2)", .c_in = 3, .c_out = 64,
         .h = 96, .w = 96, .k = 7, .stride = 2, .pool_k = 3, .pool_stride = 2, .pool_pad = 1,
         .stem_form = 1},
        {.what = "odd plane, 13 channels, no ReLU, ceil_mode", .c_in = 3, .c_out = 13,
         .h = 75, .w = 83, .k = 7, .stride = 2, .pool_k = 3, .pool_stride = 2, .pool_pad = 1,
         .ceil_mode = 1, .no_relu = 1, .stem_form = 1},
        {.what = "one grey channel, 7x7/1 conv, pool 2x2/2", .c_in = 1, .c_out = 16,
         .h = 40, .w = 36, .k = 7, .stride = 1, .pool_k = 2, .pool_stride = 2,
         .stem_form = 1},
        {.what = "16 input channels (no stem form): not fused", .c_in = 16, .c_out = 16,
         .h = 32, .w = 32, .k = 3, .stride = 1, .pool_k = 3, .pool_stride = 2, .pool_pad = 1},
    };
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++) test_stem(&stems[i]);
    return check_summary();
}
