/*
 * The ONNX loader (libxcnn/onnx.c, protobuf.c) and the load-time folder
 * (fold.c). Models are built in memory with tests/onnx_builder.h: a small
 * CNN with the Shape -> Gather -> Unsqueeze -> Concat -> Reshape subgraph
 * torch.onnx.export writes for x.view(x.size(0), -1), and many broken files,
 * each of which must be refused with the right status and a message that
 * names the culprit, without crashing or leaking (run under valgrind).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/graph/fold.h"
#include "../libxcnn/graph/onnx.h"
#include "../libxcnn/io/protobuf.h"
#include "check.h"
#include "onnx_builder.h"

/* ---- helpers ------------------------------------------------------------ */

static xcnn_status parse_opts(const ob_buf *m, const xcnn_load_options *o, xcnn_graph **g,
                              xcnn_err *e)
{
    e->msg[0] = 0;
    return xcnn_onnx_parse(m->p, m->n, o, g, e);
}

/* Parse, expect failure with status `want` and a message containing `needle`. */
static void expect_fail(const char *what, ob_buf m, const xcnn_load_options *o,
                        xcnn_status want, const char *needle)
{
    xcnn_graph *g = (xcnn_graph *)1;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, o, &g, &e);
    check(st == want && g == NULL && strstr(e.msg, needle) != NULL,
          "%s: refused with %s (want %s), message \"%s\" names '%s'", what,
          xcnn_status_name(st), xcnn_status_name(want), e.msg, needle);
    if (st == XCNN_OK) xcnn_graph_free(g);
    ob_free(&m);
}

static const xcnn_tensor *T(const xcnn_graph *g, const char *name)
{
    int i = xcnn_graph_find_tensor(g, name);
    return i >= 0 ? &g->tensors[i] : NULL;
}

static int node_index(const xcnn_graph *g, const char *op)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op)) return i;
    return -1;
}

static int dims_are(const xcnn_tensor *t, int ndim, const int64_t *d)
{
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != d[i]) return 0;
    return 1;
}

static int ivals_are(const xcnn_tensor *t, size_t n, const int64_t *v)
{
    if (!t || t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_INT64 || !t->idata ||
        xcnn_tensor_numel(t) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t->idata[i] != v[i]) return 0;
    return 1;
}

/* A graph with input x [N,3] (x unused by `nodes` unless they say so). */
static ob_buf small_model(ob_buf *inits, int n_inits, ob_buf *nodes, int n_nodes,
                          const char *output)
{
    ob_buf g = ob_new();
    for (int i = 0; i < n_nodes; i++) ob_graph_node(&g, nodes[i]);
    ob_str(&g, 2, "small");
    for (int i = 0; i < n_inits; i++) ob_graph_init(&g, inits[i]);
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){-1, 3}));
    ob_graph_output(&g, ob_value_info(output, OB_FLOAT, 0, NULL));
    return ob_model(13, &g);
}

/* ---- the model: x -> Conv -> Relu -> view(x.size(0), -1) -------------- */

enum { N_CNN_NODES = 10 };

/* Nodes in file order; `order` permutes them (NULL: as written). */
static ob_buf cnn_model(int opset, const int *order)
{
    ob_buf nodes[N_CNN_NODES], g = ob_new();
    float w[108], b[4];
    for (int i = 0; i < 108; i++) w[i] = 0.01f * (float)i - 0.5f;
    for (int i = 0; i < 4; i++) b[i] = (float)i;

    ob_buf conv_attrs[] = {ob_attr_ints("kernel_shape", (int64_t[]){3, 3}, 2),
                           ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4),
                           ob_attr_float("alpha_unused", 0.25f),
                           ob_attr_string("auto_pad", "NOTSET")};
    nodes[0] = ob_node("Conv", "conv1", IN("x", "W", "B"), OUT("c"), conv_attrs, 4);
    nodes[1] = ob_node("Relu", NULL, IN("c"), OUT("r"), NULL, 0); /* unnamed */
    nodes[2] = ob_node("Shape", "shape", IN("r"), OUT("s"), NULL, 0);
    ob_buf c0[] = {ob_attr_tensor("value", ob_tensor_i64(NULL, 0, NULL, (int64_t[]){0}))};
    nodes[3] = ob_node("Constant", "const0", NONE, OUT("idx0"), c0, 1);
    ob_buf ga[] = {ob_attr_int("axis", 0)};
    nodes[4] = ob_node("Gather", "gather", IN("s", "idx0"), OUT("n"), ga, 1);
    if (opset >= 13) {
        ob_buf ca[] = {ob_attr_ints("value_ints", (int64_t[]){0}, 1)};
        nodes[5] = ob_node("Constant", "const_axes", NONE, OUT("ax"), ca, 1);
        nodes[6] = ob_node("Unsqueeze", "unsq", IN("n", "ax"), OUT("nu"), NULL, 0);
    } else {
        ob_buf ca[] = {ob_attr_float("value_float", 2.5f)};
        nodes[5] = ob_node("Constant", "const_axes", NONE, OUT("ax"), ca, 1);
        ob_buf ua[] = {ob_attr_ints("axes", (int64_t[]){0}, 1)};
        nodes[6] = ob_node("Unsqueeze", "unsq", IN("n"), OUT("nu"), ua, 1);
    }
    ob_buf m1[] = {ob_attr_ints("value_ints", (int64_t[]){-1}, 1)};
    nodes[7] = ob_node("Constant", "const_m1", NONE, OUT("m1"), m1, 1);
    ob_buf cc[] = {ob_attr_int("axis", 0)};
    nodes[8] = ob_node("Concat", "concat", IN("nu", "m1"), OUT("shape_v"), cc, 1);
    nodes[9] = ob_node("Reshape", "reshape", IN("r", "shape_v"), OUT("y"), NULL, 0);

    for (int i = 0; i < N_CNN_NODES; i++) ob_graph_node(&g, nodes[order ? order[i] : i]);
    ob_str(&g, 2, "cnn");
    ob_graph_init(&g, ob_tensor_f("W", 4, (int64_t[]){4, 3, 3, 3}, w));
    ob_graph_init(&g, ob_tensor_f("B", 1, (int64_t[]){4}, b));
    /* Old exporters list the weights as inputs too: they must be skipped. */
    ob_graph_input(&g, ob_value_info("W", OB_FLOAT, 4, (int64_t[]){4, 3, 3, 3}));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){-1, 3, 8, 8}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){-1, 256}));
    return ob_model(opset, &g);
}

/* Every node's inputs come from nodes before it. */
static int topological(const xcnn_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int t = g->nodes[i].in[k];
            if (t >= 0 && g->tensors[t].producer >= i) return 0;
        }
    return 1;
}

static void test_cnn(void)
{
    ob_buf m = cnn_model(13, NULL);
    xcnn_graph *g = NULL;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, NULL, &g, &e);
    ob_free(&m);
    if (!check(st == XCNN_OK && g, "small CNN parses (%s)", st ? e.msg : "ok")) return;

    check(g->opset == 13, "opset read from opset_import: %d", g->opset);
    check(g->n_nodes == 7, "7 nodes, Constants are not nodes: %d", g->n_nodes);
    static const char *ops[7] = {"Conv", "Relu", "Shape", "Gather", "Unsqueeze", "Concat",
                                 "Reshape"};
    int same = 1;
    for (int i = 0; i < 7 && i < g->n_nodes; i++) same &= !strcmp(g->nodes[i].op_type, ops[i]);
    check(same, "node order is the file's order when it is already sorted");
    check(!strcmp(g->nodes[0].name, "conv1") && !strncmp(g->nodes[1].name, "Relu_", 5),
          "node names kept; an unnamed node is named '%s'", g->nodes[1].name);

    const xcnn_tensor *x = T(g, "x"), *w = T(g, "W"), *b = T(g, "B");
    check(x && g->input == xcnn_graph_find_tensor(g, "x") && x->kind == XCNN_T_INPUT &&
              dims_are(x, 4, (int64_t[]){1, 3, 8, 8}),
          "graph input 'x' is the first non-initializer input, batch set to 1");
    check(g->output == xcnn_graph_find_tensor(g, "y") && g->output >= 0, "graph output 'y'");
    check(w && w->kind == XCNN_T_CONST && w->dtype == XCNN_DT_FLOAT &&
              dims_are(w, 4, (int64_t[]){4, 3, 3, 3}) && w->data &&
              w->data[0] == -0.5f && w->data[107] == 0.01f * 107.0f - 0.5f,
          "initializer W: const float 4x3x3x3 with its raw_data values");
    check(b && b->data && b->data[3] == 3.0f, "initializer B");
    check(ivals_are(T(g, "idx0"), 1, (int64_t[]){0}) && T(g, "idx0")->ndim == 0,
          "Constant value=TensorProto -> int64 scalar const");
    check(ivals_are(T(g, "ax"), 1, (int64_t[]){0}) && T(g, "ax")->ndim == 1 &&
              ivals_are(T(g, "m1"), 1, (int64_t[]){-1}),
          "Constant value_ints -> 1-D int64 const");

    const xcnn_node *conv = &g->nodes[0];
    int nk = 0;
    const int64_t *ks = xcnn_attr_ints(conv, "kernel_shape", &nk);
    check(nk == 2 && ks[0] == 3 && ks[1] == 3, "Conv kernel_shape attribute");
    xcnn_attr_ints(conv, "pads", &nk);
    check(nk == 4, "Conv pads attribute has 4 values");
    check(xcnn_attr_float(conv, "alpha_unused", 0) == 0.25f &&
              !strcmp(xcnn_attr_string(conv, "auto_pad", ""), "NOTSET"),
          "float and string attributes");
    check(conv->n_in == 3 && conv->in[0] == g->input && conv->in[1] == xcnn_graph_find_tensor(g, "W"),
          "Conv inputs resolved to tensor indices");
    check(T(g, "c")->producer == 0 && T(g, "c")->kind == XCNN_T_ACTIVATION &&
              T(g, "c")->ndim == -1,
          "activation 'c' produced by node 0, shape not yet known");

    /* Folding, as the planner would: give r its batch-1 shape first. */
    xcnn_tensor *r = &g->tensors[xcnn_graph_find_tensor(g, "r")];
    xcnn_tensor_set_shape(r, 4, (int64_t[]){1, 4, 8, 8}, &e);
    int folded[7];
    for (int i = 0; i < 7; i++) {
        st = xcnn_fold_node(g, &g->nodes[i], &folded[i], &e);
        if (st) break;
    }
    check(st == XCNN_OK, "folding the graph: %s", st ? e.msg : "ok");
    check(!folded[0] && !folded[1] && !folded[6], "Conv, Relu and Reshape(r, ...) not folded");
    check(folded[2] && folded[3] && folded[4] && folded[5] && g->nodes[2].folded,
          "Shape, Gather, Unsqueeze, Concat folded");
    check(ivals_are(T(g, "s"), 4, (int64_t[]){1, 4, 8, 8}), "Shape(r) = [1,4,8,8]");
    check(ivals_are(T(g, "n"), 1, (int64_t[]){1}) && T(g, "n")->ndim == 0,
          "Gather(shape, 0) = scalar 1");
    check(ivals_are(T(g, "nu"), 1, (int64_t[]){1}) && T(g, "nu")->ndim == 1,
          "Unsqueeze (axes input, opset 13) = [1]");
    check(ivals_are(T(g, "shape_v"), 2, (int64_t[]){1, -1}), "Concat = [1, -1]");
    xcnn_graph_free(g);
}

/* The same model with nodes written in a scrambled order. */
static void test_sorting(void)
{
    static const int order[N_CNN_NODES] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    ob_buf m = cnn_model(11, order);
    xcnn_graph *g = NULL;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, NULL, &g, &e);
    ob_free(&m);
    if (!check(st == XCNN_OK, "reversed node order parses (%s)", st ? e.msg : "ok")) return;
    check(g->n_nodes == 7 && topological(g), "nodes added in topological order");
    check(node_index(g, "Conv") < node_index(g, "Relu") &&
              node_index(g, "Relu") < node_index(g, "Shape") &&
              node_index(g, "Concat") < node_index(g, "Reshape"),
          "Conv < Relu < Shape, Concat < Reshape");
    check(g->opset == 11, "opset 11");
    const xcnn_tensor *ax = T(g, "ax");
    check(ax && ax->dtype == XCNN_DT_FLOAT && ax->ndim == 0 && ax->data[0] == 2.5f,
          "Constant value_float -> float scalar");
    /* Unsqueeze with the axes attribute (opset < 13). */
    xcnn_tensor_set_shape(&g->tensors[xcnn_graph_find_tensor(g, "r")], 4,
                          (int64_t[]){1, 4, 8, 8}, &e);
    int ok = 1, f = 0;
    for (int i = 0; i < g->n_nodes && ok; i++) ok = !xcnn_fold_node(g, &g->nodes[i], &f, &e);
    check(ok && ivals_are(T(g, "nu"), 1, (int64_t[]){1}) &&
              ivals_are(T(g, "shape_v"), 2, (int64_t[]){1, -1}),
          "folding with Unsqueeze axes attribute (opset 11)");
    xcnn_graph_free(g);
}

static void test_misc_valid(void)
{
    /* Unknown op types parse: the planner refuses them, not the parser.
     * Also: a tensor attribute, unpacked floats, an omitted optional input,
     * an INT32 initializer in int32_data, a BOOL in raw_data. */
    ob_buf inits[3];
    inits[0] = ob_tensor_i64("shape", 1, (int64_t[]){2}, (int64_t[]){2, 3});
    ob_buf t32 = ob_new();
    ob_packed_ints(&t32, 1, (int64_t[]){3}, 1);
    ob_int(&t32, 2, OB_INT32);
    ob_str(&t32, 8, "i32");
    ob_int(&t32, 5, -7); /* unpacked int32_data, negative (10-byte varint) */
    ob_int(&t32, 5, 0);
    ob_int(&t32, 5, 123456);
    inits[1] = t32;
    inits[2] = ob_tensor_raw("flags", OB_BOOL, 1, (int64_t[]){3}, "\x00\x01\x05", 3);
    ob_buf cos_attr[] = {ob_attr_tensor("value", ob_tensor_f(NULL, 1, (int64_t[]){1},
                                                             (float[]){0.5f}))};
    ob_buf fa[] = {ob_attr_floats("scales", (float[]){1.5f, -2.0f}, 2)};
    ob_buf nodes[] = {
        ob_node("ConstantOfShape", "cos", IN("shape"), OUT("filled"), cos_attr, 1),
        ob_node("FancyNewOp", "fancy", IN("x", "", "filled"), OUT("y", "", "extra", ""), fa,
                1),
    };
    ob_buf m = small_model(inits, 3, nodes, 2, "y");
    xcnn_graph *g = NULL;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, NULL, &g, &e);
    ob_free(&m);
    if (!check(st == XCNN_OK, "unknown op type parses (%s)", st ? e.msg : "ok")) return;
    const xcnn_node *fancy = &g->nodes[node_index(g, "FancyNewOp")];
    check(fancy->n_in == 3 && fancy->in[1] == -1, "omitted optional input is -1");
    check(fancy->n_out == 3, "trailing omitted output dropped, middle one kept: %d",
          fancy->n_out);
    const xcnn_attr *sc = xcnn_attr_get(fancy, "scales");
    check(sc && sc->type == XCNN_ATTR_FLOATS && sc->n == 2 && sc->floats[1] == -2.0f,
          "unpacked repeated floats attribute");
    check(ivals_are(T(g, "i32"), 3, (int64_t[]){-7, 0, 123456}),
          "INT32 int32_data (negative too) -> int64 const");
    check(ivals_are(T(g, "flags"), 3, (int64_t[]){0, 1, 1}), "BOOL raw_data -> int64 0/1");

    const xcnn_node *cos = &g->nodes[node_index(g, "ConstantOfShape")];
    const xcnn_attr *va = xcnn_attr_get(cos, "value");
    check(va && va->type == XCNN_ATTR_TENSOR && va->tensor >= 0 &&
              g->tensors[va->tensor].kind == XCNN_T_CONST &&
              g->tensors[va->tensor].data[0] == 0.5f,
          "TENSOR attribute stored as a const tensor index");
    int f = 0;
    st = xcnn_fold_node(g, (xcnn_node *)cos, &f, &e);
    const xcnn_tensor *filled = T(g, "filled");
    check(st == XCNN_OK && f && dims_are(filled, 2, (int64_t[]){2, 3}) &&
              filled->dtype == XCNN_DT_FLOAT && filled->data[5] == 0.5f,
          "ConstantOfShape folded to 2x3 of 0.5");
    xcnn_graph_free(g);
}

/* ---- folding, node by node ----------------------------------------------- */

static int cst_i(xcnn_graph *g, const char *name, int ndim, const int64_t *dims,
                 const int64_t *v)
{
    int i = xcnn_graph_add_tensor(g, name, XCNN_T_CONST);
    xcnn_tensor *t = &g->tensors[i];
    xcnn_tensor_set_shape(t, ndim, dims, NULL);
    size_t n = xcnn_tensor_numel(t);
    t->dtype = XCNN_DT_INT64;
    t->idata = malloc((n ? n : 1) * sizeof(int64_t));
    if (n) memcpy(t->idata, v, n * sizeof(int64_t));
    return i;
}

static int cst_f(xcnn_graph *g, const char *name, int ndim, const int64_t *dims, const float *v)
{
    int i = xcnn_graph_add_tensor(g, name, XCNN_T_CONST);
    xcnn_tensor *t = &g->tensors[i];
    xcnn_tensor_set_shape(t, ndim, dims, NULL);
    size_t n = xcnn_tensor_numel(t);
    t->data = malloc((n ? n : 1) * sizeof(float));
    if (n) memcpy(t->data, v, n * sizeof(float));
    return i;
}

/* Add node op(in...) -> a fresh output tensor "<op>_out<k>"; returns node. */
static xcnn_node *mk(xcnn_graph *g, const char *op, const int *in, int n_in)
{
    char name[64];
    snprintf(name, sizeof name, "%s_out%d", op, g->n_nodes);
    int out = xcnn_graph_add_tensor(g, name, XCNN_T_ACTIVATION);
    int k = xcnn_graph_add_node(g, NULL, op, in, n_in, &out, 1);
    return &g->nodes[k];
}

static const xcnn_tensor *fold_out(xcnn_graph *g, xcnn_node **n, int *folded, xcnn_status *st)
{
    xcnn_err e;
    *st = xcnn_fold_node(g, *n, folded, &e);
    return &g->tensors[(*n)->out[0]];
}

/* mk() then fold_out(): `n` is re-read because adding nodes moves them. */
#define FOLD(op, ...)                                                                        \
    do {                                                                                     \
        int in_[] = {__VA_ARGS__};                                                           \
        node = mk(g, op, in_, (int)(sizeof in_ / sizeof in_[0]));                            \
    } while (0)

static void test_fold_ops(void)
{
    xcnn_graph *g = xcnn_graph_new();
    xcnn_node *node;
    int f;
    xcnn_status st;
    const xcnn_tensor *y;
    const int64_t big = INT64_MAX, small = INT64_MIN;

    int ten = cst_i(g, "ten", 1, (int64_t[]){10}, (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    int s3 = cst_i(g, "s_m3", 1, (int64_t[]){1}, (int64_t[]){-3});
    int ebig = cst_i(g, "e_big", 1, (int64_t[]){1}, &big);
    int ax0 = cst_i(g, "ax0", 1, (int64_t[]){1}, (int64_t[]){0});
    int st1 = cst_i(g, "st1", 1, (int64_t[]){1}, (int64_t[]){1});
    FOLD("Slice", ten, s3, ebig, ax0, st1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){7, 8, 9}), "Slice [-3:INT64_MAX] = 7 8 9");

    int sm1 = cst_i(g, "s_m1", 1, (int64_t[]){1}, (int64_t[]){-1});
    int esmall = cst_i(g, "e_small", 1, (int64_t[]){1}, &small);
    int stm2 = cst_i(g, "st_m2", 1, (int64_t[]){1}, (int64_t[]){-2});
    FOLD("Slice", ten, sm1, esmall, ax0, stm2);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 5, (int64_t[]){9, 7, 5, 3, 1}),
          "Slice [-1:INT64_MIN:-2] = 9 7 5 3 1");

    float m34[12];
    for (int i = 0; i < 12; i++) m34[i] = (float)i;
    int mat = cst_f(g, "m34", 2, (int64_t[]){3, 4}, m34);
    int s1 = cst_i(g, "s1", 1, (int64_t[]){1}, (int64_t[]){1});
    int e3 = cst_i(g, "e3", 1, (int64_t[]){1}, (int64_t[]){3});
    FOLD("Slice", mat, s1, e3, s1); /* axes = [1], no steps */
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){3, 2}) && y->data[0] == 1 && y->data[5] == 10,
          "Slice float 3x4 [:, 1:3] = 3x2");
    FOLD("Slice", mat);
    xcnn_node_add_attr_ints(node, "starts", (int64_t[]){1}, 1);
    xcnn_node_add_attr_ints(node, "ends", (int64_t[]){100}, 1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){2, 4}) && y->data[0] == 4,
          "Slice with starts/ends attributes (opset < 10)");

    int row = cst_i(g, "row", 2, (int64_t[]){1, 3}, (int64_t[]){4, 5, 6});
    FOLD("Squeeze", row, ax0);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 1, (int64_t[]){3}), "Squeeze axes [0]: 1x3 -> 3");
    FOLD("Squeeze", row);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 1, (int64_t[]){3}), "Squeeze without axes");
    FOLD("Squeeze", row, s1);
    y = fold_out(g, &node, &f, &st);
    check(st == XCNN_ERR_SHAPE, "Squeeze of an axis of size 3 is refused");

    int fl = cst_f(g, "fl", 1, (int64_t[]){3}, (float[]){1.7f, -2.5f, 3.0f});
    FOLD("Cast", fl);
    xcnn_node_add_attr_int(node, "to", 7);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){1, -2, 3}), "Cast float -> INT64 truncates");
    FOLD("Cast", row);
    xcnn_node_add_attr_int(node, "to", 1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && y->dtype == XCNN_DT_FLOAT && y->data[2] == 6.0f, "Cast INT64 -> FLOAT");

    int shp = cst_i(g, "shp", 1, (int64_t[]){2}, (int64_t[]){2, 3});
    FOLD("ConstantOfShape", shp);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){2, 3}) && y->dtype == XCNN_DT_FLOAT &&
              y->data[4] == 0.0f,
          "ConstantOfShape without value: float zeros");

    int64_t v24[24];
    for (int i = 0; i < 24; i++) v24[i] = i;
    int cube = cst_i(g, "cube", 3, (int64_t[]){2, 3, 4}, v24);
    int s0m1 = cst_i(g, "s0m1", 1, (int64_t[]){2}, (int64_t[]){0, -1});
    FOLD("Reshape", cube, s0m1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){2, 12}) && y->idata[23] == 23,
          "Reshape [0, -1]: 2x3x4 -> 2x12");
    int bad = cst_i(g, "bad", 1, (int64_t[]){2}, (int64_t[]){5, -1});
    FOLD("Reshape", cube, bad);
    y = fold_out(g, &node, &f, &st);
    check(st == XCNN_ERR_SHAPE, "Reshape 24 elements into [5, -1] refused");

    int col = cst_i(g, "col", 2, (int64_t[]){2, 1}, (int64_t[]){10, 20});
    int r3 = cst_i(g, "r3", 1, (int64_t[]){3}, (int64_t[]){1, 2, 3});
    FOLD("Add", col, r3);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){2, 3}) &&
              ivals_are(y, 6, (int64_t[]){11, 12, 13, 21, 22, 23}),
          "Add broadcasts 2x1 + 3 -> 2x3");
    int seven = cst_i(g, "seven", 0, NULL, (int64_t[]){7});
    int mtwo = cst_i(g, "mtwo", 0, NULL, (int64_t[]){-2});
    int zero = cst_i(g, "zero", 0, NULL, (int64_t[]){0});
    FOLD("Div", seven, mtwo);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && y->ndim == 0 && y->idata[0] == -3, "Div int 7 / -2 = -3 (truncates)");
    FOLD("Div", seven, zero);
    y = fold_out(g, &node, &f, &st);
    check(st == XCNN_ERR_NUMERIC, "integer division by zero refused");
    FOLD("Mul", fl, cst_f(g, "two", 0, NULL, (float[]){2.0f}));
    y = fold_out(g, &node, &f, &st);
    check(!st && f && y->data[1] == -5.0f, "Mul float by a scalar");
    FOLD("Sub", r3, seven);
    y = fold_out(g, &node, &f, &st);
    check(!st && ivals_are(y, 3, (int64_t[]){-6, -5, -4}), "Sub int");

    FOLD("Equal", r3, cst_i(g, "two_i", 0, NULL, (int64_t[]){2}));
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){0, 1, 0}), "Equal -> 0/1");
    int eq = node->out[0];
    FOLD("Where", eq, seven, r3);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){1, 7, 3}), "Where(eq, 7, [1 2 3])");

    FOLD("Range", zero, cst_i(g, "ten_s", 0, NULL, (int64_t[]){10}),
         cst_i(g, "three", 0, NULL, (int64_t[]){3}));
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 4, (int64_t[]){0, 3, 6, 9}), "Range(0, 10, 3)");
    FOLD("Range", cst_i(g, "five", 0, NULL, (int64_t[]){5}), zero, mtwo);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){5, 3, 1}), "Range(5, 0, -2)");

    FOLD("Expand", col, cst_i(g, "e234", 1, (int64_t[]){3}, (int64_t[]){2, 2, 3}));
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 3, (int64_t[]){2, 2, 3}) && y->idata[3] == 20 &&
              y->idata[11] == 20 && y->idata[6] == 10,
          "Expand 2x1 to 2x2x3");

    int d32 = cst_i(g, "d32", 2, (int64_t[]){3, 2}, (int64_t[]){1, 2, 3, 4, 5, 6});
    int i20 = cst_i(g, "i20", 1, (int64_t[]){2}, (int64_t[]){2, 0});
    FOLD("Gather", d32, i20);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && dims_are(y, 2, (int64_t[]){2, 2}) &&
              ivals_are(y, 4, (int64_t[]){5, 6, 1, 2}),
          "Gather rows [2, 0] of 3x2");
    FOLD("Gather", d32, sm1);
    xcnn_node_add_attr_int(node, "axis", 1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 3, (int64_t[]){2, 4, 6}), "Gather axis 1, index -1");
    FOLD("Gather", d32, cst_i(g, "i9", 0, NULL, (int64_t[]){9}));
    y = fold_out(g, &node, &f, &st);
    check(st == XCNN_ERR_SHAPE, "Gather index out of range refused");

    /* Shape of an activation with a known shape, with start/end (opset 15). */
    int act = xcnn_graph_add_tensor(g, "act", XCNN_T_ACTIVATION);
    xcnn_tensor_set_shape(&g->tensors[act], 4, (int64_t[]){1, 4, 8, 8}, NULL);
    FOLD("Shape", act);
    xcnn_node_add_attr_int(node, "start", 1);
    xcnn_node_add_attr_int(node, "end", -1);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 2, (int64_t[]){4, 8}), "Shape start=1 end=-1 = [4, 8]");
    FOLD("Concat", s1, e3, r3);
    y = fold_out(g, &node, &f, &st);
    check(!st && f && ivals_are(y, 5, (int64_t[]){1, 3, 1, 2, 3}), "Concat of three");

    /* Not foldable: an activation input, or an op that is not a folder's. */
    FOLD("Add", act, act);
    y = fold_out(g, &node, &f, &st);
    check(!st && !f && y->kind == XCNN_T_ACTIVATION, "Add of activations is not folded");
    FOLD("Conv", mat, mat);
    y = fold_out(g, &node, &f, &st);
    check(!st && !f, "Conv is never folded");
    int unknown = xcnn_graph_add_tensor(g, "unknown_shape", XCNN_T_ACTIVATION);
    FOLD("Shape", unknown);
    y = fold_out(g, &node, &f, &st);
    check(!st && !f, "Shape of a tensor of unknown shape is not folded");
    FOLD("ConstantOfShape", cst_i(g, "huge", 1, (int64_t[]){3}, (int64_t[]){1 << 20, 1 << 20, 64}));
    y = fold_out(g, &node, &f, &st);
    check(st == XCNN_ERR_LIMIT, "ConstantOfShape of 2^46 elements refused");
    xcnn_graph_free(g);
}

/* ---- broken files ------------------------------------------------------ */

static void test_truncation_and_garbage(void)
{
    ob_buf m = cnn_model(13, NULL);
    size_t bad = 0, silent = 0;
    for (size_t k = 0; k < m.n; k++) {
        xcnn_graph *g = NULL;
        xcnn_err e;
        e.msg[0] = 0;
        /* A copy of exactly k bytes, so valgrind sees any read past it. */
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, m.p, k);
        xcnn_status st = xcnn_onnx_parse(cut, k, NULL, &g, &e);
        free(cut);
        if (st != XCNN_ERR_FORMAT || g) bad++;
        if (!e.msg[0]) silent++;
        if (st == XCNN_OK) xcnn_graph_free(g);
    }
    check(bad == 0 && silent == 0,
          "every truncation (%zu lengths) refused as a format error with a message "
          "(%zu wrong, %zu silent)", m.n, bad, silent);

    /* Random byte changes: anything may come out, but never a crash, a leak
     * or an error without a message. */
    test_rng rng = {0x9e3779b97f4a7c15ULL};
    int ok = 0, refused = 0, silent2 = 0;
    for (int it = 0; it < 3000; it++) {
        uint8_t *c = malloc(m.n);
        memcpy(c, m.p, m.n);
        int flips = test_rng_int(&rng, 1, 4);
        for (int j = 0; j < flips; j++)
            c[test_rng_next(&rng) % m.n] = (uint8_t)test_rng_next(&rng);
        xcnn_graph *g = NULL;
        xcnn_err e;
        e.msg[0] = 0;
        xcnn_status st = xcnn_onnx_parse(c, m.n, NULL, &g, &e);
        free(c);
        if (st == XCNN_OK) {
            ok++;
            xcnn_graph_free(g);
        } else {
            refused++;
            silent2 += !e.msg[0];
        }
    }
    check(silent2 == 0 && refused > 0, "3000 mutated files: %d parsed, %d refused, all with "
                                       "a message", ok, refused);
    ob_free(&m);

    ob_buf png = ob_new();
    ob_raw(&png, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0", 29);
    expect_fail("PNG file", png, NULL, XCNN_ERR_FORMAT, "");
    ob_buf rnd = ob_new();
    for (int i = 0; i < 1000; i++) {
        uint8_t b = (uint8_t)test_rng_next(&rng);
        ob_raw(&rnd, &b, 1);
    }
    expect_fail("1000 random bytes", rnd, NULL, XCNN_ERR_FORMAT, "");
    expect_fail("empty file", ob_new(), NULL, XCNN_ERR_FORMAT, "no graph");
    ob_buf txt = ob_new();
    ob_raw(&txt, "hello, this is not an onnx file\n", 32);
    expect_fail("text file", txt, NULL, XCNN_ERR_FORMAT, "");
}

static void test_wire_format(void)
{
    xcnn_err e;
    xcnn_pb r;
    uint64_t v = 0;
    const uint8_t max[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    xcnn_pb_init(&r, max, 10);
    check(xcnn_pb_varint(&r, &v, "t", &e) == XCNN_OK && v == UINT64_MAX && r.p == r.end,
          "10-byte varint = 2^64-1");
    const uint8_t over[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01};
    xcnn_pb_init(&r, over, 11);
    check(xcnn_pb_varint(&r, &v, "t", &e) == XCNN_ERR_FORMAT, "11-byte varint refused");
    const uint8_t big10[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    xcnn_pb_init(&r, big10, 10);
    check(xcnn_pb_varint(&r, &v, "t", &e) == XCNN_ERR_FORMAT, "varint over 64 bits refused");

    xcnn_pb_field f;
    int more;
    const uint8_t group[] = {0x0b, 0x0c}; /* field 1 start group, end group */
    xcnn_pb_init(&r, group, 2);
    check(xcnn_pb_next(&r, &f, &more, "t", &e) == XCNN_ERR_FORMAT && strstr(e.msg, "group"),
          "group wire type refused: %s", e.msg);
    const uint8_t wt7[] = {0x0f, 0x00};
    xcnn_pb_init(&r, wt7, 2);
    check(xcnn_pb_next(&r, &f, &more, "t", &e) == XCNN_ERR_FORMAT, "wire type 7 refused");
    const uint8_t longlen[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'a'};
    xcnn_pb_init(&r, longlen, sizeof longlen);
    check(xcnn_pb_next(&r, &f, &more, "t", &e) == XCNN_ERR_FORMAT,
          "length near 2^63 refused without overflow: %s", e.msg);
    /* Unknown fields of every wire type are skipped. */
    const uint8_t skip[] = {0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 0x02, 'h', 'i',
                            0x25, 1, 2, 3, 4};
    int fields = 0;
    xcnn_status st;
    xcnn_pb_init(&r, skip, sizeof skip);
    while (!(st = xcnn_pb_next(&r, &f, &more, "t", &e)) && more) fields++;
    check(st == XCNN_OK && fields == 4, "fields of wire types 0, 1, 2, 5 read: %d", fields);

    /* Packed and unpacked repeated scalars give the same values. */
    int64_t out[4];
    size_t n = 0;
    const uint8_t packed[] = {0x03, 0x7f, 0xac, 0x02}; /* 3, 127, 300 */
    xcnn_pb_field pf = {8, XCNN_PB_BYTES, 0, packed, sizeof packed};
    st = xcnn_pb_scalars(&pf, XCNN_PB_INT64, out, 4, &n, "t", &e);
    check(!st && n == 3 && out[0] == 3 && out[1] == 127 && out[2] == 300, "packed varints");
    xcnn_pb_field uf = {8, XCNN_PB_VARINT, 300, NULL, 0};
    st = xcnn_pb_scalars(&uf, XCNN_PB_INT64, out, 4, &n, "t", &e);
    check(!st && n == 1 && out[0] == 300, "unpacked varint");
    st = xcnn_pb_scalars(&pf, XCNN_PB_INT64, out, 2, &n, "t", &e);
    check(st == XCNN_ERR_FORMAT, "more packed values than room refused");
    const uint8_t badpacked[] = {0x03, 0xff};
    xcnn_pb_field bf = {8, XCNN_PB_BYTES, 0, badpacked, sizeof badpacked};
    st = xcnn_pb_scalars(&bf, XCNN_PB_INT64, NULL, 0, &n, "t", &e);
    check(st == XCNN_ERR_FORMAT, "packed varint cut short refused");
    xcnn_pb_field odd = {7, XCNN_PB_BYTES, 0, packed, 3};
    st = xcnn_pb_scalars(&odd, XCNN_PB_FLOAT, NULL, 0, &n, "t", &e);
    check(st == XCNN_ERR_FORMAT, "packed floats of 3 bytes refused");
}

/* A model whose only content is one initializer t and Relu(x) -> y. */
static ob_buf with_init(ob_buf t)
{
    ob_buf nodes[] = {ob_node("Relu", "relu", IN("x"), OUT("y"), NULL, 0)};
    return small_model(&t, 1, nodes, 1, "y");
}

static ob_buf tensor_dims(const char *name, int dtype, int ndim, const int64_t *dims)
{
    ob_buf t = ob_new();
    ob_packed_ints(&t, 1, dims, ndim);
    ob_int(&t, 2, dtype);
    ob_str(&t, 8, name);
    return t;
}

static void test_broken_tensors(void)
{
    expect_fail("dimension 2^62", with_init(tensor_dims("huge", OB_FLOAT, 1,
                                                        (int64_t[]){(int64_t)1 << 62})),
                NULL, XCNN_ERR_LIMIT, "huge");
    expect_fail("dims whose product overflows",
                with_init(tensor_dims("ovf", OB_FLOAT, 3,
                                      (int64_t[]){(int64_t)1 << 25, (int64_t)1 << 25,
                                                  (int64_t)1 << 25})),
                NULL, XCNN_ERR_LIMIT, "ovf");
    /* 2^32 x 2^32 wraps to 0 in 64 bits: a naive product would accept the
     * empty raw_data. Each dim is under the (raised) limit on its own. */
    xcnn_load_options big = {.max_tensor_elems = (uint64_t)1 << 40};
    expect_fail("dims whose product wraps to 0",
                with_init(ob_tensor_raw("wrap", OB_FLOAT, 2,
                                        (int64_t[]){(int64_t)1 << 32, (int64_t)1 << 32}, "", 0)),
                &big, XCNN_ERR_LIMIT, "wrap");
    expect_fail("negative dim", with_init(tensor_dims("neg", OB_FLOAT, 2, (int64_t[]){-1, 3})),
                NULL, XCNN_ERR_SHAPE, "neg");
    expect_fail("9 dims", with_init(tensor_dims("nine", OB_FLOAT, 9,
                                                (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})),
                NULL, XCNN_ERR_UNSUPPORTED, "nine");
    expect_fail("raw_data length mismatch",
                with_init(ob_tensor_raw("short", OB_FLOAT, 1, (int64_t[]){4}, "0123456789ab", 12)),
                NULL, XCNN_ERR_FORMAT, "short");
    expect_fail("no data for 3 elements", with_init(tensor_dims("empty", OB_INT64, 1,
                                                                (int64_t[]){3})),
                NULL, XCNN_ERR_FORMAT, "empty");
    expect_fail("DOUBLE tensor", with_init(ob_tensor_raw("dbl", OB_DOUBLE, 1, (int64_t[]){1},
                                                         "01234567", 8)),
                NULL, XCNN_ERR_UNSUPPORTED, "DOUBLE");
    expect_fail("unknown dtype 99", with_init(ob_tensor_raw("weird", 99, 1, (int64_t[]){1},
                                                            "0123", 4)),
                NULL, XCNN_ERR_UNSUPPORTED, "weird");
    ob_buf ext = ob_tensor_raw("extw", OB_FLOAT, 1, (int64_t[]){1}, "0123", 4);
    ob_int(&ext, 14, 1); /* data_location = EXTERNAL */
    expect_fail("external data", with_init(ext), NULL, XCNN_ERR_UNSUPPORTED, "extw");
    ob_buf both = ob_tensor_raw("both", OB_FLOAT, 1, (int64_t[]){1}, "0123", 4);
    ob_float(&both, 4, 1.0f);
    expect_fail("raw_data and float_data", with_init(both), NULL, XCNN_ERR_FORMAT, "both");
    expect_fail("initializer without a name",
                with_init(ob_tensor_raw(NULL, OB_FLOAT, 1, (int64_t[]){1}, "0123", 4)), NULL,
                XCNN_ERR_FORMAT, "no name");
    ob_buf bw = tensor_dims("badwire", OB_FLOAT, 1, (int64_t[]){1});
    ob_int(&bw, 9, 5); /* raw_data as a varint */
    expect_fail("raw_data with the wrong wire type", with_init(bw), NULL, XCNN_ERR_FORMAT, "");
}

static void test_broken_graphs(void)
{
    /* Cycle: a = Add(x, b), b = Relu(a). */
    ob_buf cyc[] = {ob_node("Add", "add", IN("x", "b"), OUT("a"), NULL, 0),
                    ob_node("Relu", "relu", IN("a"), OUT("b"), NULL, 0)};
    expect_fail("cycle", small_model(NULL, 0, cyc, 2, "b"), NULL, XCNN_ERR_FORMAT, "cycle");
    /* A cycle downstream of a valid node, named correctly. */
    ob_buf cyc2[] = {ob_node("Relu", "pre", IN("x"), OUT("p"), NULL, 0),
                     ob_node("Add", "loop_a", IN("p", "lb"), OUT("la"), NULL, 0),
                     ob_node("Relu", "loop_b", IN("la"), OUT("lb"), NULL, 0),
                     ob_node("Relu", "post", IN("lb"), OUT("y"), NULL, 0)};
    expect_fail("cycle through loop_a/loop_b", small_model(NULL, 0, cyc2, 4, "y"), NULL,
                XCNN_ERR_FORMAT, "through node 'loop_");
    ob_buf self[] = {ob_node("Add", "selfie", IN("x", "s"), OUT("s"), NULL, 0)};
    expect_fail("self loop", small_model(NULL, 0, self, 1, "s"), NULL, XCNN_ERR_FORMAT,
                "selfie");

    ob_buf dang[] = {ob_node("Add", "adder", IN("x", "ghost"), OUT("y"), NULL, 0)};
    expect_fail("dangling input", small_model(NULL, 0, dang, 1, "y"), NULL, XCNN_ERR_FORMAT,
                "'ghost'");
    ob_buf twice[] = {ob_node("Relu", "r1", IN("x"), OUT("y"), NULL, 0),
                      ob_node("Relu", "r2", IN("x"), OUT("y"), NULL, 0)};
    expect_fail("tensor produced twice", small_model(NULL, 0, twice, 2, "y"), NULL,
                XCNN_ERR_FORMAT, "twice");
    ob_buf over_in[] = {ob_node("Relu", "r1", IN("x"), OUT("x"), NULL, 0)};
    expect_fail("node output named like the input", small_model(NULL, 0, over_in, 1, "x"),
                NULL, XCNN_ERR_FORMAT, "twice");
    ob_buf dom[] = {ob_node_d("FusedConv", "fused", "com.microsoft", IN("x"), OUT("y"), NULL, 0)};
    expect_fail("unknown domain", small_model(NULL, 0, dom, 1, "y"), NULL,
                XCNN_ERR_UNSUPPORTED, "fused");
    ob_buf noout[] = {ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0)};
    expect_fail("graph output not produced", small_model(NULL, 0, noout, 1, "zzz"), NULL,
                XCNN_ERR_FORMAT, "zzz");
    ob_buf noop[] = {ob_node("", "nameless", IN("x"), OUT("y"), NULL, 0)};
    expect_fail("node without op_type", small_model(NULL, 0, noop, 1, "y"), NULL,
                XCNN_ERR_FORMAT, "op_type");

    /* A graph attribute (If's then_branch): field 6, type GRAPH. */
    ob_buf ga = ob_new();
    ob_str(&ga, 1, "then_branch");
    ob_msg(&ga, 6, ob_new());
    ob_int(&ga, 20, 5);
    ob_buf gif[] = {ob_node("If", "branchy", IN("x"), OUT("y"), &ga, 1)};
    expect_fail("graph attribute", small_model(NULL, 0, gif, 1, "y"), NULL,
                XCNN_ERR_UNSUPPORTED, "branchy");
    ob_buf cnv[] = {ob_node("Constant", "cnone", NONE, OUT("y"), NULL, 0)};
    expect_fail("Constant without value", small_model(NULL, 0, cnv, 1, "y"), NULL,
                XCNN_ERR_FORMAT, "cnone");

    /* Opset and input checks. */
    for (int v = 0; v < 2; v++) {
        ob_buf gr = ob_new();
        ob_buf nn[] = {ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0)};
        ob_graph_node(&gr, nn[0]);
        ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){-1, 3}));
        ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
        expect_fail(v ? "opset 19" : "opset 6", ob_model(v ? 19 : 6, &gr), NULL,
                    XCNN_ERR_UNSUPPORTED, v ? "opset 19" : "opset 6");
    }
    struct {
        const char *what;
        int ndim;
        int64_t dims[4];
        int elem;
        xcnn_status st;
        const char *needle;
    } inputs[] = {
        {"fixed batch 4", 4, {4, 3, 8, 8}, OB_FLOAT, XCNN_ERR_UNSUPPORTED, "run time"},
        {"symbolic height", 4, {1, 3, -1, 8}, OB_FLOAT, XCNN_ERR_UNSUPPORTED, "symbolic"},
        {"int64 input", 2, {1, 3}, OB_INT64, XCNN_ERR_UNSUPPORTED, "INT64"},
        {"scalar input", 0, {0}, OB_FLOAT, XCNN_ERR_UNSUPPORTED, "scalar"},
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        ob_buf gr = ob_new();
        ob_graph_node(&gr, ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0));
        ob_graph_input(&gr, ob_value_info("x", inputs[i].elem, inputs[i].ndim, inputs[i].dims));
        ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
        expect_fail(inputs[i].what, ob_model(13, &gr), NULL, inputs[i].st, inputs[i].needle);
    }
    ob_buf two = ob_new();
    ob_graph_node(&two, ob_node("Add", "a", IN("x", "z"), OUT("y"), NULL, 0));
    ob_graph_input(&two, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){-1, 3}));
    ob_graph_input(&two, ob_value_info("z", OB_FLOAT, 2, (int64_t[]){-1, 3}));
    ob_graph_output(&two, ob_value_info("y", OB_FLOAT, 0, NULL));
    expect_fail("two inputs", ob_model(13, &two), NULL, XCNN_ERR_UNSUPPORTED, "'z'");
}

static void test_limits(void)
{
    xcnn_load_options o = {.max_nodes = 0};
    o.max_nodes = 5;
    expect_fail("max_nodes 5", cnn_model(13, NULL), &o, XCNN_ERR_LIMIT, "max_nodes");
    o.max_nodes = 0;
    o.max_tensor_elems = 100;
    expect_fail("max_tensor_elems 100 (W has 108)", cnn_model(13, NULL), &o, XCNN_ERR_LIMIT,
                "'W'");
    o.max_tensor_elems = 0;
    o.max_file_bytes = 100;
    expect_fail("max_file_bytes 100", cnn_model(13, NULL), &o, XCNN_ERR_LIMIT,
                "max_file_bytes");
    o.max_file_bytes = 1 << 20;
    o.max_tensor_elems = 108;
    o.max_nodes = 10;
    ob_buf m = cnn_model(13, NULL);
    xcnn_graph *g = NULL;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, &o, &g, &e);
    check(st == XCNN_OK, "limits exactly at the model's sizes pass (%s)", st ? e.msg : "ok");
    xcnn_graph_free(g);
    ob_free(&m);
}

/* The PyTorch-exported fixture, when present. */
static void test_fixture(void)
{
    const char *path = "tests/fixtures/plaincnn/model.onnx";
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        check_skip("%s not present", path);
        return;
    }
    ob_buf m = ob_new();
    uint8_t buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) ob_raw(&m, buf, n);
    fclose(fp);
    xcnn_graph *g = NULL;
    xcnn_err e;
    xcnn_status st = parse_opts(&m, NULL, &g, &e);
    ob_free(&m);
    if (!check(st == XCNN_OK, "%s parses (%s)", path, st ? e.msg : "ok")) return;
    check(g->input >= 0 && g->output >= 0 && g->n_nodes > 0 && topological(g),
          "fixture: input, output, %d nodes in topological order, opset %d", g->n_nodes,
          g->opset);
    check(g->tensors[g->input].ndim >= 2 && g->tensors[g->input].dims[0] == 1,
          "fixture: input has a batch dimension of 1");
    xcnn_graph_free(g);
}

int main(void)
{
    test_wire_format();
    test_cnn();
    test_sorting();
    test_misc_valid();
    test_fold_ops();
    test_truncation_and_garbage();
    test_broken_tensors();
    test_broken_graphs();
    test_limits();
    test_fixture();
    return check_summary();
}
