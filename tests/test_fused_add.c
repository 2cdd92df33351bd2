/*
 * Conv -> Add fusion (core/fuse.c, graph.h's fused_add): in a model loaded
 * inference_only, a conv whose only reader is an Add takes the Add's other
 * input (the skip) as a residual and adds it to its finished sums before
 * the Add's ReLU, in whichever path it runs (ops/conv_fast.c).
 *
 * ResNet-like blocks (a skip branch, a conv, Add, Relu) built as ONNX in
 * memory, one per conv path, each checked for:
 *   - which conv takes the Add, if any: not a conv whose output has a
 *     second reader, whose skip is computed after it or broadcast, nor a
 *     depthwise conv on the fast paths;
 *   - the same bits as the same model with an Identity between the conv
 *     and the Add (so nothing is fused and the Add op adds), both loaded
 *     inference_only, at batch 1 and 3, on 1 and 2 threads;
 *   - the same bits again after the fused graph is written as .xcnn (the
 *     Add written back as a node) and loaded from it.
 */
#include <stdlib.h>
#include <string.h>
#include "fused_load.h"
#include "../libxcnn/ops/ops.h"

enum skip_kind { SKIP_CONV, SKIP_INPUT, SKIP_POOLED };

typedef struct block {
    const char *what;
    int c_in, c_out, size, k, stride;
    int depthwise;   /* the main conv has a group per channel            */
    int no_bias;     /* no bias on the main conv                         */
    int no_relu;     /* no Relu after the Add                            */
    int skip_first;  /* Add(skip, conv) instead of Add(conv, skip)       */
    int skip;        /* enum skip_kind: a conv of x, x, or its mean       */
    int skip_k;      /* that conv's kernel (0: 1x1); a larger one gives the
                        arena the scratch for several samples per GEMM    */
    int conv_last;   /* the skip conv after the main conv in node order  */
    int read_twice;  /* the main conv's output also read by a 2nd Add    */
    int then_dw;     /* a depthwise 3x3 conv after the Relu: a 1x1 conv
                        before one would leave its output pixel-major     */
    const char *taker; /* the conv that must take the Add (NULL: none)   */
} block;

static uint64_t rng_state;
static float rnd(float scale) { return ob_rand(&rng_state, scale); }

static ob_buf weights(const char *name, int ndim, const int64_t *dims, float scale)
{
    return ob_random_tensor(&rng_state, name, ndim, dims, scale);
}

static int out_size(const block *b) { return (b->size + 2 * (b->k / 2) - b->k) / b->stride + 1; }

static void conv_node(ob_buf *gr, const char *name, const char *in, const char *w,
                      const char *bias, const char *out, int k, int stride, int group)
{
    int64_t p = k / 2;
    ob_buf at[4] = {ob_attr_ints("kernel_shape", (int64_t[]){k, k}, 2),
                    ob_attr_ints("pads", (int64_t[]){p, p, p, p}, 4),
                    ob_attr_ints("strides", (int64_t[]){stride, stride}, 2),
                    ob_attr_int("group", group)};
    if (bias)
        ob_graph_node(gr, ob_node("Conv", name, IN(in, w, bias), OUT(out), at, 4));
    else
        ob_graph_node(gr, ob_node("Conv", name, IN(in, w), OUT(out), at, 4));
}

/* The block as ONNX; `identity`: an Identity between the main conv and the
 * Add, which keeps fuse.c from folding the Add into the conv. */
static ob_buf block_onnx(const block *b, int identity)
{
    rng_state = 0x9e3779b97f4a7c15ull; /* the same weights for every load */
    int64_t co = b->c_out, o = out_size(b);
    ob_buf gr = ob_new();
    int group = b->depthwise ? b->c_in : 1;
    ob_graph_init(&gr, weights("w", 4, (int64_t[]){co, b->c_in / group, b->k, b->k}, 0.3f));
    ob_graph_init(&gr, weights("b", 1, (int64_t[]){co}, 0.5f));
    int sk = b->skip_k ? b->skip_k : 1;
    ob_graph_init(&gr, weights("ws", 4, (int64_t[]){co, b->c_in, sk, sk}, 0.5f));
    ob_graph_init(&gr, weights("bs", 1, (int64_t[]){co}, 0.5f));
    ob_graph_init(&gr, weights("wdw", 4, (int64_t[]){co, 1, 3, 3}, 0.5f));
    const char *skip = b->skip == SKIP_INPUT ? "x" : "s";
    if (b->skip == SKIP_CONV && !b->conv_last)
        conv_node(&gr, "skip", "x", "ws", "bs", "s", sk, b->stride, 1);
    if (b->skip == SKIP_POOLED)
        ob_graph_node(&gr, ob_node("GlobalAveragePool", "pool", IN("x"), OUT("s"), NULL, 0));
    conv_node(&gr, "main", "x", "w", b->no_bias ? NULL : "b", "c", b->k, b->stride, group);
    if (b->skip == SKIP_CONV && b->conv_last)
        conv_node(&gr, "skip", "x", "ws", "bs", "s", sk, b->stride, 1);
    const char *c = "c";
    if (identity) {
        ob_graph_node(&gr, ob_node("Identity", "id", IN("c"), OUT("ci"), NULL, 0));
        c = "ci";
    }
    const char *sum = !b->no_relu ? "a" : b->read_twice ? "y1" : "y";
    if (b->skip_first)
        ob_graph_node(&gr, ob_node("Add", "add", IN(skip, c), OUT(sum), NULL, 0));
    else
        ob_graph_node(&gr, ob_node("Add", "add", IN(c, skip), OUT(sum), NULL, 0));
    const char *last = b->read_twice ? "y1" : b->then_dw ? "r" : "y";
    if (!b->no_relu) ob_graph_node(&gr, ob_node("Relu", "relu", IN("a"), OUT(last), NULL, 0));
    if (b->read_twice) /* the conv's output read again */
        ob_graph_node(&gr, ob_node("Add", "add2", IN("y1", c), OUT("y"), NULL, 0));
    if (b->then_dw)
        conv_node(&gr, "dw", "r", "wdw", NULL, "y", 3, 1, b->c_out);
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, b->c_in, b->size, b->size}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 4, (int64_t[]){1, co, o, o}));
    return ob_model(13, &gr);
}

static xcnn_model *load(const block *b, int identity)
{
    return fused_load(b->what, block_onnx(b, identity), identity ? "with the Identity" : "");
}

/* The name of the one conv that took an Add, "" for none, "?" for more. */
static const char *taker(const xcnn_model *m)
{
    const char *name = "";
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *n = &m->g->nodes[m->compute[i]];
        if (n->fused_add) name = name[0] ? "?" : n->name;
    }
    return name;
}

static void test_block(const block *b)
{
    xcnn_model *fused = load(b, 0), *plain = load(b, 1);
    xcnn_model *written = fused_load_via_xcnn(b->what, block_onnx(b, 0));
    if (!fused || !plain || !written) goto out;
    /* a depthwise conv runs on the reference in make REFERENCE=1, which
     * adds a residual whatever the conv */
    const char *want = b->taker ? b->taker : "";
#ifdef XCNN_REFERENCE
    if (!b->taker && b->depthwise) want = "main";
#endif
    check(!strcmp(taker(fused), want) && !strcmp(taker(plain), ""),
          "%s: the Add is taken by %s (by '%s'; by none with the Identity)", b->what,
          want[0] ? want : "no conv", taker(fused));
    check(xcnn_model_node_count(fused) == xcnn_model_node_count(plain) - (want[0] ? 2 : 1),
          "%s: %d nodes run fused, %d with the Identity", b->what,
          xcnn_model_node_count(fused), xcnn_model_node_count(plain));
    check(!strcmp(taker(written), want), "%s: loaded from .xcnn, the Add is taken again",
          b->what);
    size_t n_in = (size_t)b->c_in * b->size * b->size;
    float *x = malloc(3 * n_in * sizeof(float));
    for (size_t i = 0; i < 3 * n_in; i++) x[i] = rnd(1.5f);
    x[7] = -0.0f;
    fused_check_bits(b->what, "Add", fused, plain, written, x,
                     (size_t)b->c_out * out_size(b) * out_size(b));
    free(x);
out:
    xcnn_model_free(fused);
    xcnn_model_free(plain);
    xcnn_model_free(written);
}

#define B(name, ci, co, sz, kk, st) .what = name, .c_in = ci, .c_out = co, .size = sz, \
                                   .k = kk, .stride = st

int main(void)
{
    const block blocks[] = {
        {B("56x56 3x3, Winograd F(4x4), the input as skip", 16, 16, 56, 3, 1),
         .skip = SKIP_INPUT, .taker = "main"},
        {B("14x14 3x3, Winograd F(2x2)", 32, 32, 14, 3, 1), .taker = "main"},
        {B("14x14 3x3, Add(skip, conv), no Relu", 32, 32, 14, 3, 1), .no_relu = 1,
         .skip_first = 1, .taker = "main"},
        {B("14x14 3x3 stride 2, direct", 16, 32, 14, 3, 2), .taker = "main"},
        {B("7x7 3x3, direct (few pixels)", 32, 48, 7, 3, 1), .taker = "main"},
        {B("56x56 1x1, in pieces", 16, 32, 56, 1, 1), .taker = "main"},
        {B("56x56 1x1, no bias", 16, 32, 56, 1, 1), .no_bias = 1, .taker = "main"},
        {B("28x28 1x1, one GEMM", 16, 32, 28, 1, 1), .taker = "main"},
        {B("14x14 1x1, transposed", 64, 96, 14, 1, 1), .taker = "main"},
        {B("7x7 1x1, transposed, K past one GEMM slice", 320, 48, 7, 1, 1), .no_relu = 1,
         .taker = "main"},
        {B("14x14 1x1, transposed, a depthwise conv after the Add", 64, 96, 14, 1, 1),
         .then_dw = 1, .taker = "main"},
        {B("5x5 3x3, im2col", 8, 8, 5, 3, 1), .skip = SKIP_INPUT, .taker = "main"},
        {B("7x7 3x3, im2col, samples side by side at batch 3", 8, 8, 7, 3, 1), .skip_k = 5,
         .taker = "main"},
        {B("skip conv after the main conv: the skip conv takes it", 16, 32, 14, 3, 1),
         .conv_last = 1, .taker = "skip"},
        {B("the conv's output read twice: not fused", 32, 32, 14, 3, 1), .read_twice = 1},
        {B("a broadcast skip (1x1 plane): not fused", 16, 16, 14, 3, 1), .skip = SKIP_POOLED},
        {B("depthwise 3x3: not fused", 32, 32, 14, 3, 1), .depthwise = 1, .skip = SKIP_INPUT},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) test_block(&blocks[i]);
    return check_summary();
}
