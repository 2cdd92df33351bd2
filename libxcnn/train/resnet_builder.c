/*
 * A small ResNet (He et al. 2016, "basic" blocks) built through the graph
 * API, node by node, as a student would draw it:
 *
 *   input [1, C, H, W]
 *   stem      conv3x3(C -> w0) -> BN -> ReLU
 *   layerS.B  h = ReLU(BN(conv3x3(x, stride)))        (S = stage, B = block)
 *             h = BN(conv3x3(h))
 *             s = x, or BN(conv1x1(x, stride)) when the shape changes
 *             y = ReLU(h + s)
 *   head      GlobalAveragePool -> Flatten -> Gemm (fc) -> logits
 *
 * The graph is then encoded to ONNX (onnx_write.c) and loaded by the
 * loader, which plans it like any file: there is one way into a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_train.h"
#include "../core/model.h"
#include "../graph/onnx_write.h"
#include "../base/rng.h"
#include "../base/format.h"

void xcnn_resnet_options_init(xcnn_resnet_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->channels = 1;
    o->height = 28;
    o->width = 28;
    o->classes = 10;
    o->n_stages = 3;
    o->widths[0] = 16;
    o->widths[1] = 32;
    o->widths[2] = 64;
    o->blocks[0] = o->blocks[1] = o->blocks[2] = o->blocks[3] = 1;
}

/* The builder's state: the graph, the generator, and a sticky failure
 * (so that the build reads as a list of layers, checked once). */
typedef struct builder {
    xcnn_graph *g;
    uint64_t rng;
    int failed;
} builder;

/* A constant float tensor, filled by `fill`: 'n' He-normal with std s,
 * 'u' uniform in [-s, s), 'c' the constant s. */
static int weight(builder *b, const char *name, int ndim, const int64_t *dims, char fill,
                  double s)
{
    if (b->failed) return -1;
    int ti = xcnn_graph_add_tensor(b->g, name, XCNN_T_CONST);
    if (ti < 0 || xcnn_tensor_set_shape(&b->g->tensors[ti], ndim, dims, NULL)) {
        b->failed = 1;
        return -1;
    }
    xcnn_tensor *t = &b->g->tensors[ti];
    size_t n = xcnn_tensor_numel(t);
    t->data = malloc((n ? n : 1) * sizeof(float));
    if (!t->data) {
        b->failed = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (fill == 'n') t->data[i] = (float)(s * xcnn_rng_normal(&b->rng));
        else if (fill == 'u') t->data[i] = (float)(s * (2 * xcnn_rng_uniform(&b->rng) - 1));
        else t->data[i] = (float)s;
    }
    return ti;
}

/* A node with one fresh output tensor named like the node. */
static int node(builder *b, const char *op, const char *name, const int *in, int n_in,
                xcnn_node **out_node)
{
    if (b->failed) return -1;
    int out = xcnn_graph_add_tensor(b->g, name, XCNN_T_ACTIVATION);
    int ni = out < 0 ? -1 : xcnn_graph_add_node(b->g, name, op, in, n_in, &out, 1);
    if (ni < 0) {
        b->failed = 1;
        return -1;
    }
    if (out_node) *out_node = &b->g->nodes[ni];
    return out;
}

static int conv(builder *b, int x, const char *name, int cin, int cout, int k, int stride)
{
    char wname[128];
    xcnn_format(wname, sizeof wname, "%s.weight", name);
    int64_t dims[4] = {cout, cin, k, k};
    double std = sqrt(2.0 / (cin * k * k)); /* He: keeps ReLU activations' scale */
    int w = weight(b, wname, 4, dims, 'n', std);
    xcnn_node *n = NULL;
    int y = node(b, "Conv", name, (int[]){x, w}, 2, &n);
    if (y < 0) return -1;
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, p = k / 2, pads[4] = {p, p, p, p};
    if (xcnn_node_add_attr_ints(n, "kernel_shape", ks, 2) ||
        xcnn_node_add_attr_ints(n, "strides", st, 2) ||
        xcnn_node_add_attr_ints(n, "pads", pads, 4))
        b->failed = 1;
    return y;
}

static int batchnorm(builder *b, int x, const char *name, int c)
{
    char s[128], bi[128], m[128], v[128];
    xcnn_format(s, sizeof s, "%s.weight", name);
    xcnn_format(bi, sizeof bi, "%s.bias", name);
    xcnn_format(m, sizeof m, "%s.running_mean", name);
    xcnn_format(v, sizeof v, "%s.running_var", name);
    int64_t d = c;
    int in[5] = {x, weight(b, s, 1, &d, 'c', 1.0), weight(b, bi, 1, &d, 'c', 0.0),
                 weight(b, m, 1, &d, 'c', 0.0), weight(b, v, 1, &d, 'c', 1.0)};
    xcnn_node *n = NULL;
    int y = node(b, "BatchNormalization", name, in, 5, &n);
    if (y < 0) return -1;
    if (xcnn_node_add_attr_float(n, "epsilon", 1e-5f) ||
        xcnn_node_add_attr_float(n, "momentum", 0.9f))
        b->failed = 1;
    return y;
}

static int relu(builder *b, int x, const char *name)
{
    return node(b, "Relu", name, &x, 1, NULL);
}

/* conv -> BN (-> ReLU), named prefix.convN / prefix.bnN as in PyTorch. */
static int conv_bn(builder *b, int x, const char *prefix, const char *suffix, int cin, int cout,
                   int k, int stride, int with_relu)
{
    char cn[128], bn[128], rn[128];
    xcnn_format(cn, sizeof cn, "%s.conv%s", prefix, suffix);
    xcnn_format(bn, sizeof bn, "%s.bn%s", prefix, suffix);
    xcnn_format(rn, sizeof rn, "%s.relu%s", prefix, suffix);
    int y = batchnorm(b, conv(b, x, cn, cin, cout, k, stride), bn, cout);
    return with_relu ? relu(b, y, rn) : y;
}

static int basic_block(builder *b, int x, const char *prefix, int cin, int cout, int stride)
{
    int h = conv_bn(b, x, prefix, "1", cin, cout, 3, stride, 1);
    h = conv_bn(b, h, prefix, "2", cout, cout, 3, 1, 0);
    int s = x;
    if (stride != 1 || cin != cout) {
        char cn[128], bn[128];
        xcnn_format(cn, sizeof cn, "%s.downsample.0", prefix);
        xcnn_format(bn, sizeof bn, "%s.downsample.1", prefix);
        s = batchnorm(b, conv(b, x, cn, cin, cout, 1, stride), bn, cout);
    }
    char an[128], rn[128];
    xcnn_format(an, sizeof an, "%s.add", prefix);
    xcnn_format(rn, sizeof rn, "%s.relu", prefix);
    int sum = node(b, "Add", an, (int[]){h, s}, 2, NULL);
    return relu(b, sum, rn);
}

static int head(builder *b, int x, int c, int classes)
{
    int p = node(b, "GlobalAveragePool", "avgpool", &x, 1, NULL);
    xcnn_node *n = NULL;
    int f = node(b, "Flatten", "flatten", &p, 1, &n);
    if (f >= 0 && xcnn_node_add_attr_int(n, "axis", 1)) b->failed = 1;
    int64_t wd[2] = {classes, c}, bd = classes;
    double bound = 1.0 / sqrt((double)c);
    int w = weight(b, "fc.weight", 2, wd, 'u', bound);
    int bias = weight(b, "fc.bias", 1, &bd, 'u', bound);
    int y = node(b, "Gemm", "logits", (int[]){f, w, bias}, 3, &n);
    if (y >= 0 && xcnn_node_add_attr_int(n, "transB", 1)) b->failed = 1;
    return y;
}

static xcnn_status check_options(const xcnn_resnet_options *o, char *err, size_t size)
{
    const char *bad = NULL;
    if (o->channels < 1 || o->height < 1 || o->width < 1 || o->classes < 1)
        bad = "input channels, height, width and classes must be positive";
    else if (o->n_stages < 1 || o->n_stages > 4)
        bad = "n_stages must be 1 to 4";
    for (int s = 0; s < o->n_stages && !bad; s++)
        if (o->widths[s] < 1 || o->widths[s] > 4096 || o->blocks[s] < 1 || o->blocks[s] > 64)
            bad = "every stage needs a width of 1..4096 and 1..64 blocks";
    if (!bad) return XCNN_OK;
    if (err && size) xcnn_format(err, size, "resnet: %s", bad);
    return XCNN_ERR_ARG;
}

static void build_graph(builder *b, const xcnn_resnet_options *o)
{
    xcnn_graph *g = b->g;
    int x = xcnn_graph_add_tensor(g, "input", XCNN_T_INPUT);
    int64_t in_dims[4] = {1, o->channels, o->height, o->width};
    if (x < 0 || xcnn_tensor_set_shape(&g->tensors[x], 4, in_dims, NULL)) {
        b->failed = 1;
        return;
    }
    g->input = x;
    int y = conv_bn(b, x, "stem", "", o->channels, o->widths[0], 3, 1, 1);
    int c = o->widths[0];
    for (int s = 0; s < o->n_stages; s++)
        for (int k = 0; k < o->blocks[s]; k++) {
            char prefix[64];
            xcnn_format(prefix, sizeof prefix, "layer%d.%d", s + 1, k);
            int stride = (s > 0 && k == 0) ? 2 : 1;
            y = basic_block(b, y, prefix, c, o->widths[s], stride);
            c = o->widths[s];
        }
    g->output = head(b, y, c, o->classes);
}

xcnn_status xcnn_resnet_build(const xcnn_resnet_options *o, xcnn_model **out, char *err,
                              size_t err_size)
{
    if (out) *out = NULL;
    if (!o || !out) {
        if (err && err_size) xcnn_format(err, err_size, "xcnn_resnet_build: options and out must "
                                      "not be NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_status st = check_options(o, err, err_size);
    if (st) return st;
    builder b = {xcnn_graph_new(), o->seed, 0};
    if (!b.g) {
        if (err && err_size) xcnn_format(err, err_size, "resnet: out of memory");
        return XCNN_ERR_NOMEM;
    }
    build_graph(&b, o);
    if (b.failed) {
        xcnn_graph_free(b.g);
        if (err && err_size) xcnn_format(err, err_size, "resnet: out of memory building the graph");
        return XCNN_ERR_NOMEM;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_err e = {{0}};
    st = xcnn_onnx_encode(b.g, NULL, NULL, 0, &bytes, &len, &e);
    xcnn_graph_free(b.g);
    if (st) {
        if (err && err_size) xcnn_format(err, err_size, "resnet: %s", e.msg);
        return st;
    }
    st = xcnn_model_load_memory(bytes, len, NULL, out, err, err_size);
    free(bytes);
    return st;
}
