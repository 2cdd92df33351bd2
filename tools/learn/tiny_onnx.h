/*
 * tiny_onnx.h: write a small ONNX model in memory, for the lessons.
 *
 * An ONNX file is a protobuf message. Protobuf is simple on the wire: every
 * field is a key, varint(field_number << 3 | wire_type), then a value:
 *     wire type 0: a varint (7 bits per byte, high bit = "more follows")
 *     wire type 2: a length (varint), then that many bytes: strings, packed
 *                  numbers, and whole sub-messages
 * So a message inside a message is written to its own buffer first, then
 * appended as bytes. The field numbers below are those of onnx.proto:
 *     ModelProto  1 ir_version, 7 graph, 8 opset_import
 *     GraphProto  1 node, 5 initializer (a weight), 11 input, 12 output
 *     NodeProto   1 input, 2 output, 3 name, 4 op_type, 5 attribute
 *     TensorProto 1 dims, 2 data_type (1 = float), 8 name, 9 raw_data
 * Usage:
 *     tiny_buf g = {0};
 *     tiny_weight(&g, "W", 4, (int64_t[]){3, 2, 3, 3}, w);
 *     tiny_conv(&g, "x", "W", "B", "y", 1, 1);       (pad 1, stride 1)
 *     tiny_io(&g, 11, "x", 4, (int64_t[]){1, 2, 5, 5});
 *     tiny_io(&g, 12, "y", 0, NULL);                  (shape found at load)
 *     xcnn_model *m = tiny_load(&g);                  (frees g)
 * Out of memory ends the program: this is lesson code, not the library.
 */
#ifndef TINY_ONNX_H
#define TINY_ONNX_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"

typedef struct tiny_buf {
    unsigned char *p;
    size_t n, cap;
} tiny_buf;

static inline void tiny_raw(tiny_buf *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->n + len) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "tiny_onnx: out of memory\n");
            exit(2);
        }
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
}

static inline void tiny_varint(tiny_buf *b, uint64_t v)
{
    do {
        unsigned char byte = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) byte |= 0x80;
        tiny_raw(b, &byte, 1);
    } while (v);
}

static inline void tiny_int(tiny_buf *b, int field, int64_t v)
{
    tiny_varint(b, (uint64_t)field << 3 | 0);
    tiny_varint(b, (uint64_t)v);
}

static inline void tiny_bytes(tiny_buf *b, int field, const void *data, size_t len)
{
    tiny_varint(b, (uint64_t)field << 3 | 2);
    tiny_varint(b, len);
    tiny_raw(b, data, len);
}

static inline void tiny_str(tiny_buf *b, int field, const char *s)
{
    tiny_bytes(b, field, s, strlen(s));
}

/* Append sub-message `sub` as field `field`, then free it. */
static inline void tiny_msg(tiny_buf *b, int field, tiny_buf *sub)
{
    tiny_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* A float weight (an "initializer"): dims, then the floats as raw bytes
 * (little-endian, as on the machines we run on). */
static inline void tiny_weight(tiny_buf *g, const char *name, int ndim, const int64_t *dims,
                               const float *v)
{
    tiny_buf t = {0}, d = {0};
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        tiny_varint(&d, (uint64_t)dims[i]); /* dims are packed varints */
        n *= (size_t)dims[i];
    }
    tiny_msg(&t, 1, &d);
    tiny_int(&t, 2, 1); /* FLOAT */
    tiny_str(&t, 8, name);
    tiny_bytes(&t, 9, v, n * sizeof(float));
    tiny_msg(g, 5, &t);
}

/* A node with up to three inputs (NULL for none) and one output. */
static inline void tiny_node(tiny_buf *g, const char *op, const char *a, const char *b,
                             const char *c, const char *out, tiny_buf *attrs, int n_attrs)
{
    tiny_buf nd = {0};
    const char *in[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (in[i]) tiny_str(&nd, 1, in[i]);
    tiny_str(&nd, 2, out);
    tiny_str(&nd, 3, out); /* name the node after its output */
    tiny_str(&nd, 4, op);
    for (int i = 0; i < n_attrs; i++) tiny_msg(&nd, 5, &attrs[i]);
    tiny_msg(g, 1, &nd);
}

/* An attribute holding a list of ints (AttributeProto: 1 name, 8 ints,
 * 20 type = 7, INTS). */
static inline tiny_buf tiny_ints(const char *name, int64_t v, int count)
{
    tiny_buf a = {0}, p = {0};
    tiny_str(&a, 1, name);
    for (int i = 0; i < count; i++) tiny_varint(&p, (uint64_t)v);
    tiny_msg(&a, 8, &p);
    tiny_int(&a, 20, 7);
    return a;
}

/* Conv y = conv(x, W) + B with padding `pad` on all four sides (ONNX lists
 * begin and end pads: top, left, bottom, right) and the same stride down
 * and across. The kernel size is read from W. */
static inline void tiny_conv(tiny_buf *g, const char *x, const char *w, const char *bias,
                             const char *y, int pad, int stride)
{
    tiny_buf attrs[2] = {tiny_ints("pads", pad, 4), tiny_ints("strides", stride, 2)};
    tiny_node(g, "Conv", x, w, bias, y, attrs, 2);
}

/* The graph's input (field 11) or output (12): a name and a float shape
 * (ValueInfoProto -> TypeProto -> Tensor -> TensorShapeProto -> dims);
 * ndim 0 writes no shape. */
static inline void tiny_io(tiny_buf *g, int field, const char *name, int ndim,
                           const int64_t *dims)
{
    tiny_buf shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int i = 0; i < ndim; i++) {
        tiny_buf dim = {0};
        tiny_int(&dim, 1, dims[i]);
        tiny_msg(&shape, 1, &dim);
    }
    tiny_int(&tensor, 1, 1); /* element type FLOAT */
    if (ndim > 0) /* no shape at all: the library works it out at load */
        tiny_msg(&tensor, 2, &shape);
    tiny_msg(&type, 1, &tensor);
    tiny_str(&vi, 1, name);
    tiny_msg(&vi, 2, &type);
    tiny_msg(g, field, &vi);
}

/* Wrap the graph in a ModelProto (IR version 8, opset 13), load it with
 * xcnn_model_load_memory and free the bytes. NULL (and a message) if the
 * library refuses it. The model runs on one thread. */
static inline xcnn_model *tiny_load(tiny_buf *graph)
{
    tiny_buf model = {0}, opset = {0};
    tiny_int(&model, 1, 8);
    tiny_str(&opset, 1, "");
    tiny_int(&opset, 2, 13);
    tiny_msg(&model, 8, &opset);
    tiny_msg(&model, 7, graph);
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(model.p, model.n, NULL, &m, err, sizeof err) != XCNN_OK)
        printf("tiny_onnx: the model does not load: %s\n", err);
    else /* a tiny model: one thread is fastest (any count gives the same bits) */
        xcnn_model_set_threads(m, 1);
    free(model.p);
    return m;
}

#endif
