/*
 * A tiny protobuf *encoder* for tests: builds ONNX files in memory, valid or
 * deliberately broken, without libprotobuf or Python. Field numbers are
 * those of onnx.proto (see libxcnn/onnx.c).
 *
 * Every builder returns an ob_buf the caller owns; ob_msg() appends a
 * sub-message and frees it, so a model is written inside out:
 *     ob_buf g = ob_new();
 *     ob_msg(&g, 1, ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0));
 *     ...
 *     ob_buf m = ob_model(13, &g);   (frees g)
 * Out of memory aborts the test: this is test code, not the library.
 */
#ifndef XCNN_TEST_ONNX_BUILDER_H
#define XCNN_TEST_ONNX_BUILDER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ob_buf {
    uint8_t *p;
    size_t n, cap;
} ob_buf;

#define IN(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OUT(...) IN(__VA_ARGS__)
#define NONE ((const char *const[]){NULL})

static inline ob_buf ob_new(void)
{
    ob_buf b = {NULL, 0, 0};
    return b;
}

static inline void ob_free(ob_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static inline void ob_raw(ob_buf *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + len) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "onnx_builder: out of memory\n");
            exit(2);
        }
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
}

static inline void ob_varint(ob_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    ob_raw(b, tmp, (size_t)n);
}

static inline void ob_key(ob_buf *b, int field, int wire)
{
    ob_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static inline void ob_int(ob_buf *b, int field, int64_t v)
{
    ob_key(b, field, 0);
    ob_varint(b, (uint64_t)v);
}

static inline void ob_float(ob_buf *b, int field, float v)
{
    uint32_t u;
    uint8_t le[4];
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(u >> (8 * i));
    ob_key(b, field, 5);
    ob_raw(b, le, 4);
}

static inline void ob_bytes(ob_buf *b, int field, const void *data, size_t len)
{
    ob_key(b, field, 2);
    ob_varint(b, len);
    ob_raw(b, data, len);
}

static inline void ob_str(ob_buf *b, int field, const char *s)
{
    ob_bytes(b, field, s, strlen(s));
}

/* Append sub as a length-delimited field and free it. */
static inline void ob_msg(ob_buf *b, int field, ob_buf sub)
{
    ob_bytes(b, field, sub.p, sub.n);
    ob_free(&sub);
}

/* Packed repeated int64. */
static inline void ob_packed_ints(ob_buf *b, int field, const int64_t *v, int n)
{
    ob_buf p = ob_new();
    for (int i = 0; i < n; i++) ob_varint(&p, (uint64_t)v[i]);
    ob_msg(b, field, p);
}

/* ---- ONNX messages ---- */

enum { OB_FLOAT = 1, OB_INT32 = 6, OB_INT64 = 7, OB_BOOL = 9, OB_DOUBLE = 11 };

/* TensorProto with raw_data (little-endian) of `bytes` bytes. */
static inline ob_buf ob_tensor_raw(const char *name, int dtype, int ndim, const int64_t *dims,
                                   const void *raw, size_t nbytes)
{
    ob_buf t = ob_new();
    ob_packed_ints(&t, 1, dims, ndim);
    ob_int(&t, 2, dtype);
    if (name) ob_str(&t, 8, name);
    ob_bytes(&t, 9, raw, nbytes);
    return t;
}

static inline size_t ob_numel(int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

static inline ob_buf ob_tensor_f(const char *name, int ndim, const int64_t *dims, const float *v)
{
    size_t n = ob_numel(ndim, dims);
    uint8_t *raw = malloc(n * 4 + 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) raw[4 * i + (size_t)k] = (uint8_t)(u >> (8 * k));
    }
    ob_buf t = ob_tensor_raw(name, OB_FLOAT, ndim, dims, raw, n * 4);
    free(raw);
    return t;
}

/* INT64 tensor in int64_data (the typed field, not raw_data). */
static inline ob_buf ob_tensor_i64(const char *name, int ndim, const int64_t *dims,
                                   const int64_t *v)
{
    ob_buf t = ob_new();
    ob_packed_ints(&t, 1, dims, ndim);
    ob_int(&t, 2, OB_INT64);
    if (name) ob_str(&t, 8, name);
    ob_packed_ints(&t, 7, v, (int)ob_numel(ndim, dims));
    return t;
}

/* AttributeProto builders (type field 20 always set). */
static inline ob_buf ob_attr_int(const char *name, int64_t v)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    ob_int(&a, 3, v);
    ob_int(&a, 20, 2);
    return a;
}

static inline ob_buf ob_attr_float(const char *name, float v)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    ob_float(&a, 2, v);
    ob_int(&a, 20, 1);
    return a;
}

static inline ob_buf ob_attr_ints(const char *name, const int64_t *v, int n)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    ob_packed_ints(&a, 8, v, n);
    ob_int(&a, 20, 7);
    return a;
}

/* Unpacked repeated floats, one field each, to test that form too. */
static inline ob_buf ob_attr_floats(const char *name, const float *v, int n)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    for (int i = 0; i < n; i++) ob_float(&a, 7, v[i]);
    ob_int(&a, 20, 6);
    return a;
}

static inline ob_buf ob_attr_string(const char *name, const char *s)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    ob_str(&a, 4, s);
    ob_int(&a, 20, 3);
    return a;
}

static inline ob_buf ob_attr_tensor(const char *name, ob_buf tensor)
{
    ob_buf a = ob_new();
    ob_str(&a, 1, name);
    ob_msg(&a, 5, tensor);
    ob_int(&a, 20, 4);
    return a;
}

/* NodeProto; attrs (n_attrs of them) are consumed. */
static inline ob_buf ob_node_d(const char *op, const char *name, const char *domain,
                               const char *const *in, const char *const *out, ob_buf *attrs,
                               int n_attrs)
{
    ob_buf nd = ob_new();
    for (int i = 0; in[i]; i++) ob_str(&nd, 1, in[i]);
    for (int i = 0; out[i]; i++) ob_str(&nd, 2, out[i]);
    if (name) ob_str(&nd, 3, name);
    ob_str(&nd, 4, op);
    for (int i = 0; i < n_attrs; i++) ob_msg(&nd, 5, attrs[i]);
    if (domain) ob_str(&nd, 7, domain);
    return nd;
}

static inline ob_buf ob_node(const char *op, const char *name, const char *const *in,
                             const char *const *out, ob_buf *attrs, int n_attrs)
{
    return ob_node_d(op, name, NULL, in, out, attrs, n_attrs);
}

/* ValueInfoProto of a tensor; a dim < 0 is written as dim_param "N". */
static inline ob_buf ob_value_info(const char *name, int elem, int ndim, const int64_t *dims)
{
    ob_buf shape = ob_new(), tt = ob_new(), type = ob_new(), vi = ob_new();
    for (int i = 0; i < ndim; i++) {
        ob_buf d = ob_new();
        if (dims[i] < 0) ob_str(&d, 2, "N");
        else ob_int(&d, 1, dims[i]);
        ob_msg(&shape, 1, d);
    }
    ob_int(&tt, 1, elem);
    ob_msg(&tt, 2, shape);
    ob_msg(&type, 1, tt);
    ob_str(&vi, 1, name);
    ob_msg(&vi, 2, type);
    return vi;
}

/* Graph fields. */
static inline void ob_graph_node(ob_buf *g, ob_buf node) { ob_msg(g, 1, node); }
static inline void ob_graph_init(ob_buf *g, ob_buf tensor) { ob_msg(g, 5, tensor); }
static inline void ob_graph_input(ob_buf *g, ob_buf vi) { ob_msg(g, 11, vi); }
static inline void ob_graph_output(ob_buf *g, ob_buf vi) { ob_msg(g, 12, vi); }

/* ModelProto: ir_version, opset_import, producer, then the graph LAST, so
 * that every proper prefix of the file is missing or cuts the graph. */
static inline ob_buf ob_model(int opset, ob_buf *graph)
{
    ob_buf m = ob_new(), os = ob_new();
    ob_int(&m, 1, 8);
    ob_str(&os, 1, "");
    ob_int(&os, 2, opset);
    ob_msg(&m, 8, os);
    ob_str(&m, 2, "onnx_builder");
    ob_msg(&m, 7, *graph);
    graph->p = NULL;
    graph->n = graph->cap = 0;
    return m;
}

/* Random weights for models built in a test: an xorshift generator whose
 * state the test owns (reset it to load the same model twice), values in
 * [-scale, scale). */
static inline float ob_rand(uint64_t *state, float scale)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return scale * ((float)(*state >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
}

/* A float initializer of ob_rand values. */
static inline ob_buf ob_random_tensor(uint64_t *state, const char *name, int ndim,
                                      const int64_t *dims, float scale)
{
    size_t n = ob_numel(ndim, dims);
    float *v = malloc((n ? n : 1) * sizeof(float));
    if (!v) {
        fprintf(stderr, "onnx_builder: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) v[i] = ob_rand(state, scale);
    ob_buf t = ob_tensor_f(name, ndim, dims, v);
    free(v);
    return t;
}

#endif
