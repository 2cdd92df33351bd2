/*
 * Seed corpus for fuzz_explain.c: tiny ONNX models (tests/onnx_builder.h)
 * that cover the ops the explainers meet, and the models given on the
 * command line (fixtures), each behind a few option headers (the header
 * layout is in fuzz_explain.c).
 *
 *   explain_seeds OUTDIR [MODEL.onnx ...]
 *
 * Writes OUTDIR/NAME_K.bin. Built and run by run.sh (plain cc, no
 * sanitizer). Every model here loads; a forward and backward takes about
 * a millisecond or less under ASan (winograd, 0.3 MFLOP, the most).
 */
#include <stdio.h>
#include "../onnx_builder.h"

#define HDR 16

/* Headers: defaults; every option on (and explained twice and at another
 * batch); hostile options that must be refused; (for the model with
 * symbolic sizes) input_dims 2x6x6; backward targets out of range (on 3
 * outputs), a batch of 3, deconvnet rule. */
static const uint8_t headers[5][HDR] = {
    {0},
    {4 | 1 << 3, 6, 0x14, 3, 0x12, 1, 1, 0x80 | 0x10 | 0x08 | 0x04, 5, 0x02 | 0x10, 0x82, 0, 0, 0, 3,
     1},
    {6, 0xf9, 5, 0xfc, 5, 5, 0, 0x30, 0, 0x03 | 0x08, 0x83, 0, 0, 0, 0, 0},
    {0, 3, 0x31, 1, 2, 2, 2, 0x90, 1, 0x04, 0x02, 0x80 | 1, 0x55, 0, 0, 0},
    {5 | 3 << 3, 2, 3, 2, 3, 6, 3, 0x23, 9, 0x01, 0x06, 0, 0, 0, 1, 2},
};

static ob_buf vi(const char *name, int ndim, const int64_t *dims)
{
    return ob_value_info(name, OB_FLOAT, ndim, dims);
}

/* Weights with small varied values (deterministic). */
static ob_buf w(const char *name, int ndim, const int64_t *dims, float scale)
{
    size_t n = ob_numel(ndim, dims);
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = scale * (float)((int)(i * 7 % 11) - 5) / 5.0f;
    ob_buf t = ob_tensor_f(name, ndim, dims, v);
    free(v);
    return t;
}

static ob_buf wconst(const char *name, int ndim, const int64_t *dims, float v)
{
    size_t n = ob_numel(ndim, dims);
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = v;
    ob_buf t = ob_tensor_f(name, ndim, dims, a);
    free(a);
    return t;
}

#define INTS(...) ((int64_t[]){__VA_ARGS__}), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* ModelProto.metadata_props (field 14), after the graph. */
static void add_meta(ob_buf *m, const char *key, const char *value)
{
    ob_buf e = ob_new();
    ob_str(&e, 1, key);
    ob_str(&e, 2, value);
    ob_msg(m, 14, e);
}

/* x[1,1,6,6] -> Conv 3x3 pad 1 -> Relu -> MaxPool 2 -> Flatten -> Gemm -> y[1,3],
 * with "xcnn.preprocess" and "xcnn.labels" metadata */
static ob_buf small_cnn(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 1, 6, 6}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){2, 1, 3, 3}, 0.7f));
    ob_graph_init(&g, w("B", 1, (int64_t[]){2}, 0.1f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){3, 18}, 0.5f));
    ob_graph_init(&g, w("GB", 1, (int64_t[]){3}, 0.2f));
    ob_buf ca[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W", "B"), OUT("c"), ca, 2));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_buf pa[2] = {ob_attr_ints("kernel_shape", INTS(2, 2)), ob_attr_ints("strides", INTS(2, 2))};
    ob_graph_node(&g, ob_node("MaxPool", "pool", IN("r"), OUT("p"), pa, 2));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G", "GB"), OUT("y"), ga, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 3}));
    ob_buf m = ob_model(13, &g);
    add_meta(&m, "xcnn.preprocess", "gray;resize=8;crop=6x6;scale=0.00392157;mean=0.5;std=0.25");
    add_meta(&m, "xcnn.labels", "zero\none\ntwo");
    return m;
}

/* x[1,2,5,5] -> Conv -> BatchNormalization -> Relu -> Conv -> Add (residual)
 * -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax -> y[1,4] */
static ob_buf resblock(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 2, 5, 5}));
    ob_graph_init(&g, w("W1", 4, (int64_t[]){3, 2, 3, 3}, 0.6f));
    ob_graph_init(&g, w("W2", 4, (int64_t[]){3, 3, 3, 3}, 0.4f));
    ob_graph_init(&g, wconst("bn_s", 1, (int64_t[]){3}, 1.2f));
    ob_graph_init(&g, w("bn_b", 1, (int64_t[]){3}, 0.1f));
    ob_graph_init(&g, w("bn_m", 1, (int64_t[]){3}, 0.2f));
    ob_graph_init(&g, wconst("bn_v", 1, (int64_t[]){3}, 0.8f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){4, 3}, 0.9f));
    ob_graph_init(&g, w("GB", 1, (int64_t[]){4}, 0.1f));
    ob_buf c1[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv1", IN("x", "W1"), OUT("c1"), c1, 2));
    ob_buf bn[1] = {ob_attr_float("epsilon", 1e-5f)};
    ob_graph_node(&g, ob_node("BatchNormalization", "bn", IN("c1", "bn_s", "bn_b", "bn_m", "bn_v"),
                              OUT("b1"), bn, 1));
    ob_graph_node(&g, ob_node("Relu", "relu1", IN("b1"), OUT("r1"), NULL, 0));
    ob_buf c2[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv2", IN("r1", "W2"), OUT("c2"), c2, 2));
    ob_graph_node(&g, ob_node("Add", "add", IN("c2", "r1"), OUT("s"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu2", IN("s"), OUT("r2"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("r2"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G", "GB"), OUT("z"), ga, 1));
    ob_buf sa[1] = {ob_attr_int("axis", 1)};
    ob_graph_node(&g, ob_node("Softmax", "softmax", IN("z"), OUT("y"), sa, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 4}));
    return ob_model(13, &g);
}

/* x[1,3,6,6] -> depthwise Conv -> LeakyRelu  \
 *            -> dilated Conv -> Clip          > Concat -> AveragePool ->
 * HardSigmoid gate (Mul) -> Reshape [1,-1] -> MatMul -> Add -> Sigmoid -> y[1,3] */
static ob_buf branches(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 3, 6, 6}));
    ob_graph_init(&g, w("Wd", 4, (int64_t[]){3, 1, 3, 3}, 0.8f));
    ob_graph_init(&g, w("Wg", 4, (int64_t[]){2, 3, 3, 3}, 0.5f));
    ob_graph_init(&g, wconst("lo", 0, NULL, 0.0f));
    ob_graph_init(&g, wconst("hi", 0, NULL, 6.0f));
    ob_graph_init(&g, ob_tensor_i64("shape", 1, (int64_t[]){2}, (int64_t[]){1, -1}));
    ob_graph_init(&g, w("M", 2, (int64_t[]){45, 3}, 0.3f));
    ob_graph_init(&g, w("Mb", 1, (int64_t[]){3}, 0.1f));
    ob_buf da[3] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1)),
                    ob_attr_int("group", 3)};
    ob_graph_node(&g, ob_node("Conv", "dw", IN("x", "Wd"), OUT("d"), da, 3));
    ob_buf la[1] = {ob_attr_float("alpha", 0.1f)};
    ob_graph_node(&g, ob_node("LeakyRelu", "leaky", IN("d"), OUT("a"), la, 1));
    ob_buf ga[3] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(2, 2, 2, 2)),
                    ob_attr_ints("dilations", INTS(2, 2))};
    ob_graph_node(&g, ob_node("Conv", "dil", IN("x", "Wg"), OUT("e"), ga, 3));
    ob_graph_node(&g, ob_node("Clip", "clip", IN("e", "lo", "hi"), OUT("b"), NULL, 0));
    ob_buf ca[1] = {ob_attr_int("axis", 1)};
    ob_graph_node(&g, ob_node("Concat", "cat", IN("a", "b"), OUT("c"), ca, 1));
    ob_buf pa[4] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("strides", INTS(2, 2)),
                    ob_attr_ints("pads", INTS(1, 1, 1, 1)), ob_attr_int("count_include_pad", 0)};
    ob_graph_node(&g, ob_node("AveragePool", "avg", IN("c"), OUT("p"), pa, 4));
    ob_graph_node(&g, ob_node("HardSigmoid", "hsig", IN("p"), OUT("hs"), NULL, 0));
    ob_graph_node(&g, ob_node("Mul", "gate", IN("p", "hs"), OUT("q"), NULL, 0));
    ob_graph_node(&g, ob_node("Reshape", "view", IN("q", "shape"), OUT("v"), NULL, 0));
    ob_graph_node(&g, ob_node("MatMul", "mm", IN("v", "M"), OUT("mm"), NULL, 0));
    ob_graph_node(&g, ob_node("Add", "bias", IN("mm", "Mb"), OUT("z"), NULL, 0));
    ob_graph_node(&g, ob_node("Sigmoid", "sig", IN("z"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 3}));
    return ob_model(13, &g);
}

/* x[1,1,4,7] -> Pad (asymmetric) -> Conv stride 2 -> Sub -> Div -> HardSwish
 * -> Flatten -> Gemm -> y[1,2] (opset 14) */
static ob_buf padsub(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 1, 4, 7}));
    ob_graph_init(&g, ob_tensor_i64("pads", 1, (int64_t[]){8}, (int64_t[]){0, 0, 1, 2, 0, 0, 0, 1}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){2, 1, 3, 3}, 0.9f));
    ob_graph_init(&g, wconst("mu", 0, NULL, 0.25f));
    ob_graph_init(&g, wconst("sd", 0, NULL, 0.5f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){2, 16}, 0.7f));
    ob_graph_node(&g, ob_node("Pad", "pad", IN("x", "pads"), OUT("xp"), NULL, 0));
    ob_buf ca[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("strides", INTS(2, 2))};
    ob_graph_node(&g, ob_node("Conv", "conv", IN("xp", "W"), OUT("c"), ca, 2));
    ob_graph_node(&g, ob_node("Sub", "sub", IN("c", "mu"), OUT("s"), NULL, 0));
    ob_graph_node(&g, ob_node("Div", "div", IN("s", "sd"), OUT("d"), NULL, 0));
    ob_graph_node(&g, ob_node("HardSwish", "hswish", IN("d"), OUT("hw"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("hw"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G"), OUT("y"), ga, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 2}));
    return ob_model(14, &g);
}

/* x[1,8] -> Gemm -> Relu -> Dropout -> Gemm -> y[1,3]: not an image */
static ob_buf mlp(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 2, (int64_t[]){1, 8}));
    ob_graph_init(&g, w("A", 2, (int64_t[]){6, 8}, 0.5f));
    ob_graph_init(&g, w("Ab", 1, (int64_t[]){6}, 0.1f));
    ob_graph_init(&g, w("C", 2, (int64_t[]){3, 6}, 0.5f));
    ob_buf a1[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc1", IN("x", "A", "Ab"), OUT("h"), a1, 1));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("h"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Dropout", "drop", IN("r"), OUT("d"), NULL, 0));
    ob_buf a2[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc2", IN("d", "C"), OUT("y"), a2, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 3}));
    return ob_model(13, &g);
}

/* x[N,2,H,W] (symbolic: loads with input_dims) -> Conv pad 1 -> Relu ->
 * GlobalAveragePool -> Flatten -> Gemm -> y[N,2] */
static ob_buf symbolic(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){-1, 2, -1, -1}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){2, 2, 3, 3}, 0.6f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){2, 2}, 0.9f));
    ob_buf ca[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W"), OUT("c"), ca, 2));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("r"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G"), OUT("y"), ga, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){-1, 2}));
    return ob_model(13, &g);
}

/* x[1,2,4,4] -> Conv 1x1 -> Relu -> x.view(x.size(0), -1) as Shape, Gather,
 * Unsqueeze, Concat, Reshape (folded at load) -> MatMul -> y[1,3] */
static ob_buf viewshape(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 2, 4, 4}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){2, 2, 1, 1}, 1.0f));
    ob_graph_init(&g, ob_tensor_i64("zero", 0, NULL, (int64_t[]){0}));
    ob_graph_init(&g, ob_tensor_i64("axes", 1, (int64_t[]){1}, (int64_t[]){0}));
    ob_graph_init(&g, ob_tensor_i64("minus1", 1, (int64_t[]){1}, (int64_t[]){-1}));
    ob_graph_init(&g, w("M", 2, (int64_t[]){32, 3}, 0.4f));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W"), OUT("c"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Shape", "shape", IN("r"), OUT("sh"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("axis", 0)};
    ob_graph_node(&g, ob_node("Gather", "gather", IN("sh", "zero"), OUT("n"), ga, 1));
    ob_graph_node(&g, ob_node("Unsqueeze", "unsq", IN("n", "axes"), OUT("n1"), NULL, 0));
    ob_buf ca[1] = {ob_attr_int("axis", 0)};
    ob_graph_node(&g, ob_node("Concat", "cat", IN("n1", "minus1"), OUT("newshape"), ca, 1));
    ob_graph_node(&g, ob_node("Reshape", "view", IN("r", "newshape"), OUT("v"), NULL, 0));
    ob_graph_node(&g, ob_node("MatMul", "mm", IN("v", "M"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 3}));
    return ob_model(13, &g);
}

/* x[1,1,3,3] -> Conv pad 1 -> Sigmoid -> y[1,2,3,3]: a 4-D output */
static ob_buf output4d(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 1, 3, 3}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){2, 1, 3, 3}, 0.8f));
    ob_graph_init(&g, w("B", 1, (int64_t[]){2}, 0.3f));
    ob_buf ca[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W", "B"), OUT("c"), ca, 2));
    ob_graph_node(&g, ob_node("Sigmoid", "sig", IN("c"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi("y", 4, (int64_t[]){1, 2, 3, 3}));
    return ob_model(13, &g);
}

/* x[1,1,5,5] -> MaxPool 2 stride 2 pad 1 ceil_mode -> Identity -> Conv 1x1
 * -> Relu -> Flatten -> Gemm -> y[1,2] */
static ob_buf poolceil(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 1, 5, 5}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){3, 1, 1, 1}, 1.0f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){2, 27}, 0.3f));
    ob_buf pa[4] = {ob_attr_ints("kernel_shape", INTS(2, 2)), ob_attr_ints("strides", INTS(2, 2)),
                    ob_attr_ints("pads", INTS(1, 1, 1, 1)), ob_attr_int("ceil_mode", 1)};
    ob_graph_node(&g, ob_node("MaxPool", "pool", IN("x"), OUT("p"), pa, 4));
    ob_graph_node(&g, ob_node("Identity", "id", IN("p"), OUT("i"), NULL, 0));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("i", "W"), OUT("c"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("r"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G"), OUT("y"), ga, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 2}));
    return ob_model(13, &g);
}

/* x[1,2,7,7] -> Conv 1x1 (48 outputs on 49 pixels: the conv's transposed
 * path, Y^T = col^T W^T, on packed W^T) -> Relu -> GlobalAveragePool ->
 * Flatten -> y[1,48] */
static ob_buf wide1x1(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 2, 7, 7}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){48, 2, 1, 1}, 0.9f));
    ob_graph_init(&g, w("B", 1, (int64_t[]){48}, 0.1f));
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W", "B"), OUT("c"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("r"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("y"), NULL, 0));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 48}));
    return ob_model(13, &g);
}

/* x[1,16,8,8] -> Conv 3x3 pad 1, 16 -> 16 (Winograd F(2x2,3x3)) -> Relu ->
 * GlobalAveragePool -> Flatten -> Gemm -> y[1,2] */
static ob_buf winograd(void)
{
    ob_buf g = ob_new();
    ob_graph_input(&g, vi("x", 4, (int64_t[]){1, 16, 8, 8}));
    ob_graph_init(&g, w("W", 4, (int64_t[]){16, 16, 3, 3}, 0.2f));
    ob_graph_init(&g, w("G", 2, (int64_t[]){2, 16}, 0.5f));
    ob_buf ca[2] = {ob_attr_ints("kernel_shape", INTS(3, 3)), ob_attr_ints("pads", INTS(1, 1, 1, 1))};
    ob_graph_node(&g, ob_node("Conv", "conv", IN("x", "W"), OUT("c"), ca, 2));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("c"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("r"), OUT("p"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("p"), OUT("f"), NULL, 0));
    ob_buf ga[1] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("f", "G"), OUT("y"), ga, 1));
    ob_graph_output(&g, vi("y", 2, (int64_t[]){1, 2}));
    return ob_model(13, &g);
}

static int write_seed(const char *dir, const char *name, int k, const uint8_t *model, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%d.bin", dir, name, k);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    int bad = fwrite(headers[k], 1, HDR, f) != HDR || fwrite(model, 1, n, f) != n;
    return fclose(f) != 0 || bad;
}

static int write_all(const char *dir, const char *name, const uint8_t *model, size_t n, int sym)
{
    int bad = 0;
    if (sym) return write_seed(dir, name, 3, model, n);
    for (int k = 0; k < 5; k++)
        if (k != 3) bad |= write_seed(dir, name, k, model, n);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: explain_seeds OUTDIR [MODEL.onnx ...]\n");
        return 2;
    }
    struct {
        const char *name;
        ob_buf (*make)(void);
        int sym;
    } tiny[] = {{"small_cnn", small_cnn, 0}, {"resblock", resblock, 0}, {"branches", branches, 0},
                {"padsub", padsub, 0},       {"mlp", mlp, 0},           {"symbolic", symbolic, 1},
                {"viewshape", viewshape, 0}, {"output4d", output4d, 0}, {"poolceil", poolceil, 0},
                {"wide1x1", wide1x1, 0},     {"winograd", winograd, 0}};
    int bad = 0;
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        ob_buf m = tiny[i].make();
        bad |= write_all(argv[1], tiny[i].name, m.p, m.n, tiny[i].sym);
        ob_free(&m);
    }
    for (int a = 2; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            bad = 1;
            continue;
        }
        ob_buf m = ob_new();
        uint8_t buf[65536];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) ob_raw(&m, buf, got);
        fclose(f);
        /* name: the fixture's directory */
        char name[256];
        const char *end = strrchr(argv[a], '/'), *start = argv[a];
        if (end) {
            const char *p = end;
            while (p > argv[a] && p[-1] != '/') p--;
            start = p;
        } else {
            end = argv[a] + strlen(argv[a]);
        }
        snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
        bad |= write_all(argv[1], name[0] ? name : "model", m.p, m.n, 0);
        ob_free(&m);
    }
    return bad;
}
