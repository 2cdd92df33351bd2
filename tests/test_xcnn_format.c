/*
 * The .xcnn model format (libxcnn/graph/xcnn_format.h):
 *  - round trip on every committed model: predictions and explanations
 *    (saliency, integrated gradients, Grad-CAM, guided Grad-CAM) from the
 *    .xcnn are the ONNX's bit for bit (memcmp), for explanation and
 *    inference_only loads, and from a static buffer with the weights used
 *    in place; the same graph gives the same bytes;
 *  - BatchNorm folded (as `xcnn convert --fold-bn` writes it): predictions
 *    bit-identical to the ONNX loaded inference_only, the file loads
 *    inference-only whatever the options say, explainers refuse it;
 *  - the layout: every weight's data at a multiple of 64 from the start
 *    (read back with a walker written from the layout table alone), in
 *    place at 64-byte-aligned addresses (16 works too), an image not
 *    aligned for floats refused;
 *  - every attribute type, omitted inputs, int64 constants, metadata;
 *  - hostile images: wrong version, bad checksum, bad magic, truncation
 *    at every length (and at every length with the header fixed up to
 *    match, so the tables' own bounds are what refuses it), huge counts,
 *    lengths and dims, and graphs out of order, cyclic, with duplicate
 *    names or outputs made twice: each refused with its message, never a
 *    crash (this file also runs under ASan/UBSan in make sanitize);
 *  - ReLU6 fused: a MobileNet-style block (Conv, BatchNorm, Clip(0, 6),
 *    a depthwise stride-2 Conv, a Clip with only an upper bound, a 1x1
 *    Conv), with Clip's bounds as inputs (opset 13) and as attributes
 *    (opset 9): loaded inference_only, each Clip is fused into its Conv
 *    and the predictions equal the unfused model's; the folded .xcnn
 *    writes both Clips back and predicts bit-identically (NaN through a
 *    fused Clip: test_conv_paths).
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../include/xcnn.h"
#include "../libxcnn/core/model.h"
#include "../libxcnn/graph/onnx.h"
#include "../libxcnn/graph/xcnn_format.h"
#include "../libxcnn/io/inflate.h"
#include "onnx_builder.h"

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* The checksum as the layout defines it (field at 24 read as zero). */
static void fix_crc(unsigned char *p, size_t n)
{
    wr32(p + 24, 0);
    wr32(p + 24, xcnn_crc32(0, p, n));
}

/* ONNX bytes -> .xcnn bytes, as xcnn convert does (fold: plan + fuse). */
static unsigned char *convert(const unsigned char *onnx, size_t n, int fold, size_t *out_n)
{
    xcnn_err err = {{0}};
    xcnn_graph *g = NULL;
    unsigned char *out = NULL;
    if (xcnn_onnx_parse(onnx, n, NULL, &g, &err)) return NULL;
    xcnn_status st = XCNN_OK;
    if (fold) {
        g->inference_only = 1;
        st = xcnn_plan(g, (uint64_t)256 << 20, &err);
        if (!st) st = xcnn_fuse(g, &err);
    }
    if (!st) st = xcnn_format_encode(g, &out, out_n, &err);
    if (st) printf("     (convert: %s)\n", err.msg);
    xcnn_graph_free(g);
    return out;
}

static xcnn_model *load_mem(const void *p, size_t n, int inference_only, char *err)
{
    xcnn_load_options o = {0};
    o.inference_only = inference_only;
    xcnn_model *m = NULL;
    if (xcnn_model_load_memory(p, n, &o, &m, err, 600) != XCNN_OK) return NULL;
    return m;
}

/* A walker written from the layout table in xcnn_format.h alone: the
 * offset of every constant's data. Returns the count, -1 if the walk
 * fails; *bad counts offsets that are not multiples of 64. */
static int walk_const_offsets(const unsigned char *p, size_t n, int *bad)
{
    *bad = 0;
    if (n < 64) return -1;
    uint32_t nt = rd32(p + 32);
    size_t pos = 64, end = (size_t)rd64(p + 56);
    int consts = 0;
    for (uint32_t t = 0; t < nt; t++) {
        if (pos + 4 > end) return -1;
        pos += 4 + rd32(p + pos) + 1;
        if (pos + 4 > end) return -1;
        unsigned kind = p[pos], ndim = p[pos + 2];
        pos += 4 + (ndim == 0xff ? 0 : 8 * (size_t)ndim);
        if (kind == 2) {
            if (pos + 16 > end) return -1;
            if (rd64(p + pos) % 64) (*bad)++;
            pos += 16;
            consts++;
        }
    }
    return consts;
}

static float *make_input(const xcnn_model *m, size_t *n)
{
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    float *x = malloc(in.numel * sizeof(float));
    test_rng r = {0x9e3779b97f4a7c15ULL};
    for (size_t i = 0; i < in.numel; i++) x[i] = test_rng_uniform(&r, -1, 1);
    *n = in.numel;
    return x;
}

/* out = m's forward output (malloc'ed, *k floats). */
static float *forward(xcnn_model *m, const float *x, size_t *k)
{
    xcnn_tensor_view out;
    xcnn_model_output(m, &out);
    float *y = calloc(out.numel, sizeof(float));
    if (xcnn_forward(m, x, 1, y) != XCNN_OK) {
        printf("     (forward: %s)\n", xcnn_model_error(m));
        free(y);
        return NULL;
    }
    *k = out.numel;
    return y;
}

static int same_forward(xcnn_model *a, xcnn_model *b, const float *x)
{
    size_t ka = 0, kb = 0;
    float *ya = forward(a, x, &ka), *yb = forward(b, x, &kb);
    int same = ya && yb && ka == kb && !memcmp(ya, yb, ka * sizeof(float));
    free(ya);
    free(yb);
    return same;
}

/* One explanation from each model, compared bit for bit. */
static int same_explain(xcnn_model *a, xcnn_model *b, const float *x, xcnn_method method)
{
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, method);
    o.steps = 8;
    int ndim;
    int64_t dims[4];
    if (xcnn_explain_shape(a, &o, &ndim, dims)) return -1; /* no such layer: skipped */
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    float *ea = calloc(n, sizeof(float)), *eb = calloc(n, sizeof(float));
    xcnn_status sa = xcnn_explain(a, x, &o, ea, n, NULL), sb = xcnn_explain(b, x, &o, eb, n, NULL);
    int same = sa == sb && (sa != XCNN_OK || !memcmp(ea, eb, n * sizeof(float)));
    if (sa || sb) printf("     (explain %d: %s / %s)\n", (int)method, xcnn_model_error(a),
                         xcnn_model_error(b));
    free(ea);
    free(eb);
    return same;
}

static void round_trip(const char *path)
{
    size_t n = 0, xn = 0, xn2 = 0, fn = 0;
    char err[600];
    unsigned char *onnx = read_file(path, &n);
    xcnn_model *m0 = onnx ? load_mem(onnx, n, 0, err) : NULL;
    if (!m0) {
        check_skip("%s: the ONNX does not load here (%s)", path, onnx ? err : "no file");
        free(onnx);
        return;
    }
    unsigned char *x1 = convert(onnx, n, 0, &xn);
    if (!check(x1 != NULL, "%s: converts (%zu ONNX bytes -> %zu .xcnn bytes)", path, n, xn))
        goto done0;
    check(xcnn_format_is_image(x1, xn) && !xcnn_format_is_image(onnx, n),
          "%s: told apart by magic", path);
    /* The same graph gives the same bytes, and an .xcnn read back and
     * written again is the same file. */
    unsigned char *x2 = convert(onnx, n, 0, &xn2);
    check(x2 && xn2 == xn && !memcmp(x1, x2, xn), "%s: converting twice gives the same bytes",
          path);
    free(x2);
    xcnn_err e = {{0}};
    xcnn_graph *g = NULL;
    x2 = NULL;
    if (!xcnn_format_read(x1, xn, NULL, NULL, 0, &g, &e)) xcnn_format_encode(g, &x2, &xn2, &e);
    check(x2 && xn2 == xn && !memcmp(x1, x2, xn), "%s: read and written again: the same bytes",
          path);
    xcnn_graph_free(g);
    free(x2);
    int bad = 0, consts = walk_const_offsets(x1, xn, &bad);
    check(consts >= 0 && bad == 0, "%s: all %d constants' data at a multiple of 64 from the "
          "file start (%d not)", path, consts, bad);

    xcnn_model *m1 = load_mem(x1, xn, 0, err);
    if (!check(m1 != NULL, "%s: the .xcnn loads (%s)", path, m1 ? "ok" : err)) goto done1;
    size_t in_n;
    float *x = make_input(m0, &in_n);
    check(xcnn_model_node_count(m0) == xcnn_model_node_count(m1), "%s: %d compute nodes, as "
          "the ONNX", path, xcnn_model_node_count(m1));
    int names = 1;
    for (int i = 0; i < xcnn_model_node_count(m0); i++) {
        xcnn_node_info a, b;
        xcnn_model_node(m0, i, &a);
        xcnn_model_node(m1, i, &b);
        names &= !strcmp(a.name, b.name) && !strcmp(a.op_type, b.op_type) &&
                 !strcmp(a.output, b.output) && a.n_params == b.n_params && a.flops == b.flops;
    }
    check(names, "%s: every node's name, op, output, parameters and FLOPs as the ONNX's", path);
    int meta = 1;
    for (int i = 0; i < m0->g->n_meta; i++) {
        const char *v = xcnn_model_metadata(m1, m0->g->meta_key[i]);
        meta &= v && !strcmp(v, m0->g->meta_value[i]);
    }
    check(meta && m0->g->n_meta == m1->g->n_meta, "%s: %d metadata entries kept", path,
          m0->g->n_meta);
    check(xcnn_model_weight_bytes(m0) == xcnn_model_weight_bytes(m1) &&
          xcnn_model_arena_bytes(m0) == xcnn_model_arena_bytes(m1),
          "%s: the same weights and arena bytes (the same plan)", path);
    check(same_forward(m0, m1, x), "%s: predictions bit-identical to the ONNX's", path);
    static const xcnn_method methods[] = {XCNN_SALIENCY, XCNN_INTEGRATED_GRADIENTS, XCNN_GRADCAM,
                                          XCNN_GUIDED_GRADCAM};
    static const char *names_m[] = {"gradient (saliency)", "integrated gradients", "Grad-CAM",
                                    "guided Grad-CAM"};
    for (int k = 0; k < 4; k++) {
        int s = same_explain(m0, m1, x, methods[k]);
        if (s < 0) check_skip("%s: %s (no layer for it)", path, names_m[k]);
        else check(s, "%s: %s bit-identical to the ONNX's", path, names_m[k]);
    }
    xcnn_model_free(m1);

    /* inference_only loads of both */
    xcnn_model *a = load_mem(onnx, n, 1, err), *b = load_mem(x1, xn, 1, err);
    check(a && b && same_forward(a, b, x), "%s: inference_only: predictions bit-identical",
          path);

    /* A static buffer, weights used in place from the image. */
    unsigned char *aligned = aligned_alloc(64, (xn + 63) / 64 * 64);
    memcpy(aligned, x1, xn);
    size_t need = 0;
    xcnn_model *s = NULL;
    void *buf = NULL;
    if (xcnn_model_plan(aligned, xn, NULL, &need, err, sizeof err) == XCNN_OK &&
        (buf = malloc(need)) &&
        xcnn_model_load_static(aligned, xn, NULL, buf, need, &s, err, sizeof err) == XCNN_OK) {
        int borrowed = 1, inside = 1;
        for (int t = 0; t < s->g->n_tensors; t++) {
            const xcnn_tensor *w = &s->g->tensors[t];
            if (w->kind != XCNN_T_CONST || w->dtype != XCNN_DT_FLOAT) continue;
            borrowed &= w->borrowed;
            inside &= (const unsigned char *)w->data >= aligned &&
                      (const unsigned char *)w->data < aligned + xn &&
                      ((const unsigned char *)w->data - aligned) % 64 == 0;
        }
        check(borrowed && inside, "%s: static load: every float weight used in place, at a "
              "multiple of 64 in the image", path);
        check(same_forward(m0, s, x), "%s: static load (in place): predictions bit-identical",
              path);
        int r = same_explain(m0, s, x, XCNN_SALIENCY);
        check(r == 1, "%s: static load (in place): gradient bit-identical", path);
        xcnn_model_free(s);
    } else {
        check(0, "%s: static load from the .xcnn: %s", path, err);
    }
    free(buf);
    /* The same image one byte off a 64-byte boundary: refused in place
     * (where it has weights to place). */
    unsigned char *odd = aligned_alloc(64, (xn + 64) / 64 * 64 + 64);
    memcpy(odd + 1, x1, xn);
    e.msg[0] = 0;
    g = NULL;
    xcnn_status st = xcnn_format_read(odd + 1, xn, NULL, NULL, 1, &g, &e);
    if (consts > 0)
        check(st == XCNN_ERR_ARG && strstr(e.msg, "aligned for floats"), "%s: in place from "
              "an address not aligned for floats refused: %s", path, e.msg);
    xcnn_graph_free(g);
    g = NULL;
    st = xcnn_format_read(odd + 1, xn, NULL, NULL, 0, &g, &e);
    check(st == XCNN_OK, "%s: ... and copied from there it loads", path);
    xcnn_graph_free(g);
    /* 16 bytes off (malloc's alignment, not a cache line): used in place */
    memcpy(odd + 16, x1, xn);
    g = NULL;
    st = xcnn_format_read(odd + 16, xn, NULL, NULL, 1, &g, &e);
    check(st == XCNN_OK, "%s: in place from a 16-byte-aligned address: loads (%s)", path,
          st ? e.msg : "ok");
    xcnn_graph_free(g);
    free(odd);
    free(aligned);

    /* BatchNorm folded: bit-identical to the ONNX loaded inference_only. */
    unsigned char *fb = convert(onnx, n, 1, &fn);
    xcnn_model *f = fb ? load_mem(fb, fn, 0, err) : NULL; /* inference_only not asked */
    if (check(f != NULL, "%s: --fold-bn file loads (%zu bytes)", path, fn)) {
        check(same_forward(a, f, x), "%s: BatchNorm folded: predictions bit-identical to the "
              "ONNX loaded inference_only", path);
        check(f->inference_only && f->g->inference_only, "%s: BatchNorm folded: loads "
              "inference-only though the options did not ask", path);
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, XCNN_SALIENCY);
        size_t k = in_n;
        float *out = calloc(k, sizeof(float));
        check(xcnn_explain(f, x, &o, out, k, NULL) == XCNN_ERR_ARG, "%s: BatchNorm folded: "
              "explainers refuse it (%s)", path, xcnn_model_error(f));
        free(out);
        int bn = 0;
        for (int i = 0; i < f->g->n_nodes; i++)
            bn += !f->g->nodes[i].folded && !strcmp(f->g->nodes[i].op_type, "BatchNormalization");
        check(bn == 0 || !strstr(path, "rescnn_bn"), "%s: BatchNormalization nodes left: %d",
              path, bn);
        xcnn_model_free(f);
    }
    free(fb);
    xcnn_model_free(a);
    xcnn_model_free(b);
    free(x);
done1:
    free(x1);
done0:
    xcnn_model_free(m0);
    free(onnx);
}

/* ---- hand-made graphs: every attribute type, and broken orders ------- */

static int tensor(xcnn_graph *g, const char *name, xcnn_tensor_kind kind, int ndim,
                  const int64_t *dims)
{
    int t = xcnn_graph_add_tensor(g, name, kind);
    if (ndim >= 0) xcnn_tensor_set_shape(&g->tensors[t], ndim, dims, NULL);
    return t;
}

static int const_f(xcnn_graph *g, const char *name, int n, float v)
{
    int64_t d = n;
    int t = tensor(g, name, XCNN_T_CONST, 1, &d);
    g->tensors[t].data = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) g->tensors[t].data[i] = v + (float)i;
    return t;
}

static xcnn_graph *small_graph(void)
{
    xcnn_graph *g = xcnn_graph_new();
    int64_t d[4] = {1, 1, 2, 2};
    g->input = tensor(g, "x", XCNN_T_INPUT, 4, d);
    g->opset = 13;
    return g;
}

/* Encode g (freed) and read it back: the status, the message in e. */
static xcnn_status encode_read(xcnn_graph *g, xcnn_err *e, xcnn_graph **back)
{
    unsigned char *p = NULL;
    size_t n = 0;
    xcnn_status st = xcnn_format_encode(g, &p, &n, e);
    xcnn_graph_free(g);
    if (st) return st;
    xcnn_graph *r = NULL;
    st = xcnn_format_read(p, n, NULL, NULL, 0, &r, e);
    free(p);
    if (back) *back = r;
    else xcnn_graph_free(r);
    return st;
}

static void test_attributes(void)
{
    xcnn_graph *g = small_graph();
    int w = const_f(g, "w", 3, 0.5f);
    int64_t two = 2;
    int iv = tensor(g, "shape", XCNN_T_CONST, 1, &two);
    g->tensors[iv].dtype = XCNN_DT_INT64;
    g->tensors[iv].idata = malloc(2 * sizeof(int64_t));
    g->tensors[iv].idata[0] = -1;
    g->tensors[iv].idata[1] = INT64_MAX;
    int ta = const_f(g, "n:value", 2, -3.25f);
    int y = tensor(g, "y", XCNN_T_ACTIVATION, -1, NULL);
    int y2 = tensor(g, "y2", XCNN_T_ACTIVATION, -1, NULL);
    int in[4] = {g->input, -1, w, iv}, out[2] = {y, y2};
    int k = xcnn_graph_add_node(g, "n", "Foo", in, 4, out, 2);
    xcnn_node *n = &g->nodes[k];
    const int64_t ints[3] = {INT64_MIN, 0, 7};
    const float floats[2] = {1e-30f, -0.0f};
    xcnn_node_add_attr_float(n, "f", 0.1f);
    xcnn_node_add_attr_int(n, "i", -5);
    xcnn_node_add_attr_string(n, "s", "same_upper");
    xcnn_node_add_attr_ints(n, "is", ints, 3);
    xcnn_node_add_attr_floats(n, "fs", floats, 2);
    xcnn_node_add_attr_ints(n, "empty", NULL, 0);
    xcnn_attr *a = realloc(n->attr, (size_t)(n->n_attr + 1) * sizeof *a);
    n->attr = a;
    memset(&a[n->n_attr], 0, sizeof *a);
    a[n->n_attr].name = strdup("value");
    a[n->n_attr].type = XCNN_ATTR_TENSOR;
    a[n->n_attr].tensor = ta;
    n->n_attr++;
    g->output = y;
    const char *keys[2] = {"xcnn.labels", "xcnn.preprocess"}, *vals[2] = {"a\nb\n", "gray"};
    g->meta_key = malloc(2 * sizeof(char *));
    g->meta_value = malloc(2 * sizeof(char *));
    for (int i = 0; i < 2; i++) {
        g->meta_key[i] = strdup(keys[i]);
        g->meta_value[i] = strdup(vals[i]);
    }
    g->n_meta = 2;
    xcnn_err e = {{0}};
    xcnn_graph *r = NULL;
    xcnn_status st = encode_read(g, &e, &r);
    if (!check(st == XCNN_OK && r, "every attribute type: written and read (%s)", e.msg)) return;
    const xcnn_node *m = &r->nodes[0];
    check(r->n_nodes == 1 && !strcmp(m->name, "n") && !strcmp(m->op_type, "Foo") &&
          m->n_in == 4 && m->in[1] == -1 && m->n_out == 2, "node name, op, 4 inputs (one "
          "omitted), 2 outputs");
    const xcnn_attr *at = xcnn_attr_get(m, "fs");
    int fs_ok = at && at->n == 2 && at->floats[0] == 1e-30f && signbit(at->floats[1]);
    int ni = 0;
    const int64_t *is = xcnn_attr_ints(m, "is", &ni);
    at = xcnn_attr_get(m, "value");
    int tv = at && at->type == XCNN_ATTR_TENSOR && at->tensor >= 0 &&
             !strcmp(r->tensors[at->tensor].name, "n:value") &&
             r->tensors[at->tensor].data[1] == -2.25f;
    check(xcnn_attr_float(m, "f", 0) == 0.1f && xcnn_attr_int(m, "i", 0) == -5 &&
          !strcmp(xcnn_attr_string(m, "s", ""), "same_upper") && ni == 3 &&
          is[0] == INT64_MIN && is[2] == 7 && fs_ok && xcnn_attr_get(m, "empty") &&
          xcnn_attr_get(m, "empty")->n == 0 && tv, "float, int, string, ints, floats (bits: "
          "1e-30, -0), empty list, tensor attribute: the same values");
    int ti = xcnn_graph_find_tensor(r, "shape");
    check(ti >= 0 && r->tensors[ti].dtype == XCNN_DT_INT64 && r->tensors[ti].idata[0] == -1 &&
          r->tensors[ti].idata[1] == INT64_MAX, "int64 constant: the same values");
    check(r->n_meta == 2 && !strcmp(r->meta_value[0], "a\nb\n") &&
          !strcmp(r->meta_key[1], "xcnn.preprocess"), "metadata kept in order");
    check(r->opset == 13 && r->tensors[r->input].ndim == 4, "opset and input shape kept");
    xcnn_graph_free(r);
}

static void expect_refused(xcnn_graph *g, const char *what, const char *needle)
{
    xcnn_err e = {{0}};
    xcnn_status st = encode_read(g, &e, NULL);
    check(st != XCNN_OK && strstr(e.msg, needle), "%s: refused: %s", what, e.msg);
}

static void test_bad_graphs(void)
{
    /* An input made by a later node: out of order. */
    xcnn_graph *g = small_graph();
    int a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL), b = tensor(g, "b", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "first", "Relu", &b, 1, &a, 1);
    xcnn_graph_add_node(g, "second", "Relu", &g->input, 1, &b, 1);
    g->output = a;
    expect_refused(g, "nodes out of topological order", "topological order");
    /* A node reading its own output: a cycle. */
    g = small_graph();
    a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "loop", "Add", (int[]){g->input, a}, 2, &a, 1);
    g->output = a;
    expect_refused(g, "a cycle", "not made by an earlier node");
    /* Two nodes making one tensor. */
    g = small_graph();
    a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "r1", "Relu", &g->input, 1, &a, 1);
    xcnn_graph_add_node(g, "r2", "Relu", &g->input, 1, &a, 1);
    g->output = a;
    expect_refused(g, "an output made twice", "made by an earlier node too");
    /* One node writing one tensor twice. */
    g = small_graph();
    a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "split", "Split", &g->input, 1, (int[]){a, a}, 2);
    g->output = a;
    expect_refused(g, "one node's two outputs the same tensor", "made by an earlier node too");
    /* A node writing a constant. */
    g = small_graph();
    int w = const_f(g, "w", 2, 1);
    xcnn_graph_add_node(g, "r", "Relu", &g->input, 1, &w, 1);
    g->output = w;
    expect_refused(g, "a node writing a constant", "not an activation");
    /* Duplicate names. */
    g = small_graph();
    a = tensor(g, "x", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "r", "Relu", &g->input, 1, &a, 1);
    g->output = a;
    expect_refused(g, "two tensors with one name", "two tensors are named 'x'");
    /* An activation nobody makes, as the output. */
    g = small_graph();
    a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL);
    b = tensor(g, "b", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "r", "Relu", &g->input, 1, &a, 1);
    g->output = b;
    expect_refused(g, "an output no node makes", "not made by any node");
    /* Input dims given at load that differ from the file's. */
    g = small_graph();
    a = tensor(g, "a", XCNN_T_ACTIVATION, -1, NULL);
    xcnn_graph_add_node(g, "r", "Relu", &g->input, 1, &a, 1);
    g->output = a;
    unsigned char *p = NULL;
    size_t n = 0;
    xcnn_err e = {{0}};
    xcnn_format_encode(g, &p, &n, &e);
    xcnn_graph_free(g);
    xcnn_load_options o = {0};
    o.input_dims[2] = 3;
    xcnn_graph *r = NULL;
    xcnn_status st = xcnn_format_read(p, n, &o, NULL, 0, &r, &e);
    check(st == XCNN_ERR_SHAPE && strstr(e.msg, "input_dims"), "input_dims that differ from "
          "the file refused: %s", e.msg);
    o.input_dims[2] = 2;
    st = xcnn_format_read(p, n, &o, NULL, 0, &r, &e);
    check(st == XCNN_OK, "input_dims that agree accepted");
    xcnn_graph_free(r);
    /* Names in place from a caller's buffer. */
    unsigned char *img = aligned_alloc(64, (n + 63) / 64 * 64);
    memcpy(img, p, n);
    static _Alignas(64) unsigned char room[1 << 16];
    xcnn_mem mem;
    xcnn_mem_init_buffer(&mem, room, sizeof room);
    r = NULL;
    st = xcnn_format_read(img, n, NULL, &mem, 1, &r, &e);
    check(st == XCNN_OK && r && (unsigned char *)r->tensors[0].name > img &&
          (unsigned char *)r->tensors[0].name < img + n && !strcmp(r->tensors[0].name, "x"),
          "in place with a buffer: names point into the image");
    free(img);
    free(p);
}

/* ---- hostile bytes ------------------------------------------------------ */

static xcnn_status read_bytes(const unsigned char *p, size_t n, const xcnn_load_options *o,
                              xcnn_err *e)
{
    xcnn_graph *g = NULL;
    e->msg[0] = 0;
    xcnn_status st = xcnn_format_read(p, n, o, NULL, 0, &g, e);
    xcnn_graph_free(g);
    return st;
}

static void test_hostile(const char *path)
{
    size_t on = 0, n = 0;
    unsigned char *onnx = read_file(path, &on);
    unsigned char *good = onnx ? convert(onnx, on, 0, &n) : NULL;
    free(onnx);
    if (!check(good != NULL, "%s: converted for the hostile tests", path)) return;
    unsigned char *p = malloc(n);
    xcnn_err e;
    char err[600];
    xcnn_model *m = NULL;
    xcnn_status st;

    memcpy(p, good, n);
    wr32(p + 8, 3);
    fix_crc(p, n);
    st = xcnn_model_load_memory(p, n, NULL, &m, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(err, "version 3") && strstr(err, "version 1"),
          "wrong version refused naming both: %s", err);

    memcpy(p, good, n);
    p[n - 5] ^= 0x10;
    st = xcnn_model_load_memory(p, n, NULL, &m, err, sizeof err);
    check(st == XCNN_ERR_FORMAT && strstr(err, "checksum mismatch"), "a flipped bit in the "
          "weights: %s", err);
    memcpy(p, good, n);
    p[70] ^= 1;
    st = xcnn_model_load_memory(p, n, NULL, &m, err, sizeof err);
    check(st == XCNN_ERR_FORMAT && strstr(err, "checksum mismatch"), "a flipped bit in the "
          "tables: %s", err);

    memcpy(p, good, n);
    p[1] = 'Y';
    st = read_bytes(p, n, NULL, &e);
    check(st == XCNN_ERR_FORMAT && strstr(e.msg, "magic"), "bad magic: %s", e.msg);
    st = xcnn_model_load_memory(p, n, NULL, &m, err, sizeof err);
    check(st != XCNN_OK, "bad magic through xcnn_model_load_memory (read as ONNX): %s", err);

    /* Truncated at every length: the header's size says so. */
    int all = 1, fmt = 1;
    for (size_t len = 0; len < n; len++) {
        st = xcnn_model_load_memory(good, len, NULL, &m, err, sizeof err);
        all &= st != XCNN_OK;
        if (len >= 8) fmt &= st == XCNN_ERR_FORMAT;
    }
    check(all && fmt, "truncated at each of %zu lengths: refused (XCNN_ERR_FORMAT from 8 bytes "
          "on; e.g. %s)", n, err);
    /* ... and with the header fixed to the cut size and the checksum
     * recomputed, so that only the tables' own bounds can refuse it. */
    size_t data = (size_t)rd64(good + 56), crashes = 0, accepted = 0;
    for (size_t len = 64; len < n; len += len < data + 256 ? 1 : 61) {
        memcpy(p, good, len);
        wr64(p + 16, len);
        fix_crc(p, len);
        st = read_bytes(p, len, NULL, &e);
        accepted += st == XCNN_OK;
        crashes += st != XCNN_OK && st != XCNN_ERR_FORMAT;
    }
    check(accepted == 0 && crashes == 0, "cut with a consistent header, every length through "
          "the tables: all refused as format errors (%zu accepted, %zu other statuses)",
          accepted, crashes);

    /* Header fields made huge or wrong (checksum fixed each time). */
    struct { int at; int width; uint64_t v; xcnn_status want; const char *needle; } hdr[] = {
        {32, 4, 0xffffffffu, XCNN_ERR_FORMAT, "tables can hold"},
        {36, 4, 100001, XCNN_ERR_LIMIT, "max_nodes"},
        {40, 4, 100000, XCNN_ERR_LIMIT, "metadata"},
        {56, 8, (uint64_t)1 << 62, XCNN_ERR_FORMAT, "weights offset"},
        {56, 8, 65, XCNN_ERR_FORMAT, "weights offset"},
        {12, 4, 2, XCNN_ERR_UNSUPPORTED, "flags"},
        {28, 4, 32, XCNN_ERR_FORMAT, "header size"},
        {44, 4, 99, XCNN_ERR_UNSUPPORTED, "opset 99"},
        {48, 4, 0x7fffffff, XCNN_ERR_FORMAT, "outside"},
        {52, 4, 0xfffffffe, XCNN_ERR_FORMAT, "outside"},
        {16, 8, 0xffffffffffffffffULL, XCNN_ERR_FORMAT, "truncated"},
        {64, 4, 0xfffffff0u, XCNN_ERR_FORMAT, "truncated"}, /* the first name's length */
    };
    for (size_t k = 0; k < sizeof hdr / sizeof hdr[0]; k++) {
        memcpy(p, good, n);
        if (hdr[k].width == 4) wr32(p + hdr[k].at, (uint32_t)hdr[k].v);
        else wr64(p + hdr[k].at, hdr[k].v);
        fix_crc(p, n);
        st = read_bytes(p, n, NULL, &e);
        check(st == hdr[k].want && strstr(e.msg, hdr[k].needle), "header byte %d set to "
              "%llu: refused: %s", hdr[k].at, (unsigned long long)hdr[k].v, e.msg);
    }
    /* The first tensor's first dim made huge: over max_tensor_elems. */
    memcpy(p, good, n);
    size_t pos = 64 + 4 + rd32(good + 64) + 1;
    if (p[pos + 2] != 0xff && p[pos + 2] > 0) {
        wr64(p + pos + 4, (uint64_t)1 << 40);
        fix_crc(p, n);
        st = read_bytes(p, n, NULL, &e);
        check(st == XCNN_ERR_LIMIT && strstr(e.msg, "max_tensor_elems"), "a dim of 2^40: %s",
              e.msg);
        wr64(p + pos + 4, (uint64_t)-3);
        fix_crc(p, n);
        st = read_bytes(p, n, NULL, &e);
        check(st == XCNN_ERR_SHAPE, "a negative dim: %s", e.msg);
    }
    /* Limits from the options. */
    xcnn_load_options o = {0};
    o.max_file_bytes = n - 1;
    st = read_bytes(good, n, &o, &e);
    check(st == XCNN_ERR_LIMIT && strstr(e.msg, "max_file_bytes"), "max_file_bytes: %s", e.msg);
    o.max_file_bytes = 0;
    o.max_nodes = 1;
    st = read_bytes(good, n, &o, &e);
    check(st == XCNN_ERR_LIMIT && strstr(e.msg, "max_nodes"), "max_nodes: %s", e.msg);
    o.max_nodes = 0;
    o.max_tensor_elems = 2;
    st = read_bytes(good, n, &o, &e);
    check(st == XCNN_ERR_LIMIT && strstr(e.msg, "max_tensor_elems"), "max_tensor_elems: %s",
          e.msg);

    /* Random bytes in the tables, checksum fixed: refused or read, never a
     * crash or a leak (ASan in make sanitize). */
    test_rng r = {12345};
    int ok_reads = 0, refusals = 0;
    for (int it = 0; it < 1500; it++) {
        memcpy(p, good, n);
        int flips = test_rng_int(&r, 1, 4);
        for (int f = 0; f < flips; f++) {
            size_t at = 64 + (size_t)test_rng_int(&r, 0, (int)(data - 65));
            p[at] = (unsigned char)test_rng_next(&r);
        }
        fix_crc(p, n);
        st = read_bytes(p, n, NULL, &e);
        if (st) refusals++;
        else ok_reads++;
        if (!st && it % 10 == 0) { /* and sometimes the whole load */
            if (xcnn_model_load_memory(p, n, NULL, &m, err, sizeof err) == XCNN_OK) xcnn_model_free(m);
        }
    }
    check(ok_reads + refusals == 1500, "1500 random corruptions of the tables: %d refused, %d "
          "still well formed, none crashed", refusals, ok_reads);
    free(p);
    free(good);
}

/* xcnn_format_write: the encoder's bytes, whole, at the path. */
static void test_write_file(void)
{
    size_t on = 0, n = 0, fn = 0;
    unsigned char *onnx = read_file("tests/fixtures/captum_toy/model.onnx", &on);
    xcnn_err e = {{0}};
    xcnn_graph *g = NULL;
    unsigned char *enc = NULL, *back = NULL;
    if (onnx && !xcnn_onnx_parse(onnx, on, NULL, &g, &e) && !xcnn_format_encode(g, &enc, &n, &e)) {
        const char *path = test_tmp_path("w.xcnn");
        xcnn_status st = xcnn_format_write(g, path, &e);
        back = read_file(path, &fn);
        check(st == XCNN_OK && back && fn == n && !memcmp(back, enc, n),
              "xcnn_format_write writes the encoder's %zu bytes", n);
        remove(path);
        st = xcnn_format_write(g, "/nonexistent-dir/w.xcnn", &e);
        check(st == XCNN_ERR_IO && strstr(e.msg, "cannot write"), "xcnn_format_write to a "
              "missing directory: %s", e.msg);
    } else {
        check(0, "captum_toy parses and encodes: %s", e.msg);
    }
    xcnn_graph_free(g);
    free(onnx);
    free(enc);
    free(back);
}

/* A MobileNet-style block, Clip's bounds as inputs (opset >= 11) or as
 * attributes: x [1,4,10,9] -> Conv 3x3 -> BatchNorm -> Clip(0, 6) ->
 * depthwise Conv 3x3 stride 2 -> Clip(max 6) -> Conv 1x1 -> GAP ->
 * Flatten [1,3]. */
static ob_buf relu6_model(int opset, test_rng *r)
{
    ob_buf g = ob_new();
    float w1[8 * 4 * 9], b1[8], sc[8], sh[8], mu[8], var[8], w2[8 * 9], w3[3 * 8];
    for (size_t i = 0; i < sizeof w1 / sizeof w1[0]; i++) w1[i] = test_rng_uniform(r, -1, 1);
    for (int i = 0; i < 8; i++) {
        b1[i] = test_rng_uniform(r, -1, 1);
        sc[i] = test_rng_uniform(r, 0.5f, 2);
        sh[i] = test_rng_uniform(r, -1, 1);
        mu[i] = test_rng_uniform(r, -0.5f, 0.5f);
        var[i] = test_rng_uniform(r, 0.5f, 2);
    }
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++) w2[i] = test_rng_uniform(r, -1, 1);
    for (size_t i = 0; i < sizeof w3 / sizeof w3[0]; i++) w3[i] = test_rng_uniform(r, -1, 1);
    ob_graph_init(&g, ob_tensor_f("w1", 4, (int64_t[]){8, 4, 3, 3}, w1));
    ob_graph_init(&g, ob_tensor_f("b1", 1, (int64_t[]){8}, b1));
    ob_graph_init(&g, ob_tensor_f("scale", 1, (int64_t[]){8}, sc));
    ob_graph_init(&g, ob_tensor_f("shift", 1, (int64_t[]){8}, sh));
    ob_graph_init(&g, ob_tensor_f("mean", 1, (int64_t[]){8}, mu));
    ob_graph_init(&g, ob_tensor_f("var", 1, (int64_t[]){8}, var));
    ob_graph_init(&g, ob_tensor_f("w2", 4, (int64_t[]){8, 1, 3, 3}, w2));
    ob_graph_init(&g, ob_tensor_f("w3", 4, (int64_t[]){3, 8, 1, 1}, w3));
    ob_buf a1[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_graph_node(&g, ob_node("Conv", "conv1", IN("x", "w1", "b1"), OUT("y1"), a1, 1));
    ob_graph_node(&g, ob_node("BatchNormalization", "bn1",
                              IN("y1", "scale", "shift", "mean", "var"), OUT("y2"), NULL, 0));
    if (opset >= 11) {
        ob_graph_init(&g, ob_tensor_f("lo", 0, NULL, (float[]){0}));
        ob_graph_init(&g, ob_tensor_f("hi", 0, NULL, (float[]){6}));
        ob_graph_node(&g, ob_node("Clip", "relu6_1", IN("y2", "lo", "hi"), OUT("y3"), NULL, 0));
    } else {
        ob_buf c[] = {ob_attr_float("min", 0), ob_attr_float("max", 6)};
        ob_graph_node(&g, ob_node("Clip", "relu6_1", IN("y2"), OUT("y3"), c, 2));
    }
    ob_buf a2[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2), ob_attr_int("group", 8)};
    ob_graph_node(&g, ob_node("Conv", "dw", IN("y3", "w2"), OUT("y4"), a2, 3));
    if (opset >= 11) {
        ob_graph_node(&g, ob_node("Clip", "cap", IN("y4", "", "hi"), OUT("y5"), NULL, 0));
    } else {
        ob_buf c[] = {ob_attr_float("max", 6)};
        ob_graph_node(&g, ob_node("Clip", "cap", IN("y4"), OUT("y5"), c, 1));
    }
    ob_graph_node(&g, ob_node("Conv", "pw", IN("y5", "w3"), OUT("y6"), NULL, 0));
    ob_graph_node(&g, ob_node("GlobalAveragePool", "gap", IN("y6"), OUT("y7"), NULL, 0));
    ob_graph_node(&g, ob_node("Flatten", "flat", IN("y7"), OUT("y"), NULL, 0));
    ob_graph_input(&g, ob_value_info("x", 1, 4, (int64_t[]){1, 4, 10, 9}));
    ob_graph_output(&g, ob_value_info("y", 1, 2, (int64_t[]){1, 3}));
    return ob_model(opset, &g);
}

static void test_fused_clip(int opset)
{
    test_rng r = {(uint64_t)opset * 77 + 1};
    ob_buf mb = relu6_model(opset, &r);
    char err[600] = "", what[64];
    snprintf(what, sizeof what, "ReLU6 block, opset %d", opset);
    xcnn_model *plain = load_mem(mb.p, mb.n, 0, err), *fused = load_mem(mb.p, mb.n, 1, err);
    if (!check(plain && fused, "%s: loads, explainable and inference_only (%s)", what, err)) {
        xcnn_model_free(plain);
        xcnn_model_free(fused);
        ob_free(&mb);
        return;
    }
    int clips = 0, running_clips = 0;
    for (int i = 0; i < fused->g->n_nodes; i++) {
        const xcnn_node *n = &fused->g->nodes[i];
        clips += n->fused_clip;
        running_clips += !n->folded && !strcmp(n->op_type, "Clip");
        if (!strcmp(n->name, "conv1") && n->fused_clip)
            check(n->clip_lo == 0 && n->clip_hi == 6, "%s: conv1 clips to [0, 6]", what);
        if (!strcmp(n->name, "dw") && n->fused_clip)
            check(isinf(n->clip_lo) && n->clip_lo < 0 && n->clip_hi == 6,
                  "%s: the depthwise conv clips to [-inf, 6] (no lower bound given)", what);
    }
    check(clips == 2 && running_clips == 0, "%s: both Clips fused into their Convs (%d fused, "
          "%d left running)", what, clips, running_clips);
    float x[4 * 10 * 9];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_rng_uniform(&r, -3, 3);
    size_t ka = 0, kb = 0;
    float *ya = forward(plain, x, &ka), *yb = forward(fused, x, &kb);
    if (ya && yb && ka == kb) {
        snprintf(err, sizeof err, "%s: fused predictions equal the unfused model's", what);
        check_close(err, max_rel_error(yb, ya, ka), 1e-5);
    } else {
        check(0, "%s: forward of both", what);
    }
    free(ya);
    free(yb);
    size_t fn = 0;
    unsigned char *fb = convert(mb.p, mb.n, 1, &fn);
    xcnn_model *f = fb ? load_mem(fb, fn, 0, err) : NULL;
    if (check(f != NULL, "%s: the folded .xcnn loads (%s)", what, f ? "ok" : err)) {
        int written = 0;
        for (int i = 0; i < f->g->n_nodes; i++) written += !strcmp(f->g->nodes[i].op_type, "Clip");
        check(written == 2, "%s: the folded .xcnn has both Clip nodes (%d)", what, written);
        check(same_forward(fused, f, x), "%s: the folded .xcnn predicts bit-identically", what);
    }
    xcnn_model_free(f);
    free(fb);
    xcnn_model_free(plain);
    xcnn_model_free(fused);
    ob_free(&mb);
}

int main(void)
{
    const char *models[] = {
        "data/fashion_resnet.onnx",
        "tests/fixtures/captum_toy/model.onnx",
        "tests/fixtures/plaincnn/model.onnx",
        "tests/fixtures/rescnn_bn/model.onnx",
        "tests/fixtures/resnet_narrow/model.onnx",
        "tests/data/attrs/ignored_attrs.onnx",
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) round_trip(models[i]);
    test_attributes();
    test_bad_graphs();
    test_write_file();
    test_fused_clip(13);
    test_fused_clip(9);
    test_hostile("tests/fixtures/captum_toy/model.onnx");
    test_hostile("data/fashion_resnet.onnx");
    return check_summary();
}
