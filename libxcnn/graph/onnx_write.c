/*
 * ONNX writer: a graph -> ModelProto bytes, with a protobuf encoder of a
 * few lines (varints, length-delimited fields, fixed 32-bit floats).
 *
 * Protobuf in one paragraph: a message is a sequence of fields, each a key
 * varint (field_number << 3 | wire_type) then the value: wire type 0 a
 * varint, 2 a varint length then that many bytes (strings, bytes, packed
 * arrays and sub-messages), 5 four little-endian bytes (float). A
 * sub-message's length comes first, so we encode it into its own buffer
 * and append it ("inside out").
 *
 * The field numbers are those of onnx.proto (also used by onnx.c):
 *   ModelProto      1 ir_version, 2 producer_name, 3 producer_version,
 *                   7 graph, 8 opset_import, 14 metadata_props
 *   OperatorSetId   1 domain, 2 version
 *   StringString    1 key, 2 value
 *   GraphProto      1 node, 2 name, 5 initializer, 11 input, 12 output
 *   NodeProto       1 input, 2 output, 3 name, 4 op_type, 5 attribute
 *   AttributeProto  1 name, 2 f, 3 i, 4 s, 7 floats, 8 ints, 20 type
 *   TensorProto     1 dims, 2 data_type, 8 name, 9 raw_data
 *   ValueInfoProto  1 name, 2 type; TypeProto 1 tensor_type;
 *   TypeProto.Tensor 1 elem_type, 2 shape; TensorShape 1 dim;
 *   Dimension       1 dim_value
 */
#include <stdlib.h>
#include <string.h>
#include "onnx_write.h"

#define ONNX_IR_VERSION 8
#define ONNX_OPSET 13

/* A growing byte buffer; `failed` records an allocation failure so that
 * the encoder can check once at the end instead of after every field. */
typedef struct pbw {
    unsigned char *p;
    size_t n, cap;
    int failed;
} pbw;

static void pbw_free(pbw *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void put_raw(pbw *b, const void *data, size_t len)
{
    if (b->failed) return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void put_varint(pbw *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    put_raw(b, tmp, (size_t)n);
}

static void put_key(pbw *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void put_int(pbw *b, int field, int64_t v)
{
    put_key(b, field, 0);
    put_varint(b, (uint64_t)v); /* negative ints take 10 bytes, as protobuf says */
}

static void put_bytes(pbw *b, int field, const void *data, size_t len)
{
    put_key(b, field, 2);
    put_varint(b, len);
    put_raw(b, data, len);
}

static void put_str(pbw *b, int field, const char *s) { put_bytes(b, field, s, strlen(s)); }

/* Append sub as a sub-message and free it (a failure carries over). */
static void put_msg(pbw *b, int field, pbw *sub)
{
    if (sub->failed) b->failed = 1;
    put_bytes(b, field, sub->p, sub->n);
    pbw_free(sub);
}

static void le32(unsigned char *p, uint32_t u)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static void put_float(pbw *b, int field, float v)
{
    uint32_t u;
    unsigned char le[4];
    memcpy(&u, &v, 4);
    le32(le, u);
    put_key(b, field, 5);
    put_raw(b, le, 4);
}

static void put_packed_ints(pbw *b, int field, const int64_t *v, int n)
{
    pbw p = {0};
    for (int i = 0; i < n; i++) put_varint(&p, (uint64_t)v[i]);
    put_msg(b, field, &p);
}

/* ---- ONNX messages ---------------------------------------------------- */

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7 };

/* TensorProto with raw_data, little-endian whatever the host. */
static void put_initializer(pbw *graph, const xcnn_tensor *t)
{
    pbw m = {0};
    size_t n = xcnn_tensor_numel(t);
    put_packed_ints(&m, 1, t->dims, t->ndim);
    put_int(&m, 2, t->dtype == XCNN_DT_INT64 ? ONNX_INT64 : ONNX_FLOAT);
    put_str(&m, 8, t->name);
    size_t width = t->dtype == XCNN_DT_INT64 ? 8 : 4;
    put_key(&m, 9, 2);
    put_varint(&m, n * width);
    for (size_t i = 0; i < n; i++) {
        unsigned char le[8];
        if (t->dtype == XCNN_DT_INT64) {
            uint64_t u = (uint64_t)t->idata[i];
            le32(le, (uint32_t)u);
            le32(le + 4, (uint32_t)(u >> 32));
        } else {
            uint32_t u;
            memcpy(&u, &t->data[i], 4);
            le32(le, u);
        }
        put_raw(&m, le, width);
    }
    put_msg(graph, 5, &m);
}

/* ValueInfoProto: name, FLOAT, and the shape when known. */
static void put_value_info(pbw *graph, int field, const xcnn_tensor *t)
{
    pbw vi = {0}, type = {0}, tt = {0}, shape = {0};
    put_int(&tt, 1, ONNX_FLOAT);
    if (t->ndim >= 0) {
        for (int i = 0; i < t->ndim; i++) {
            pbw d = {0};
            put_int(&d, 1, t->dims[i]);
            put_msg(&shape, 1, &d);
        }
        put_msg(&tt, 2, &shape);
    }
    put_msg(&type, 1, &tt);
    put_str(&vi, 1, t->name);
    put_msg(&vi, 2, &type);
    put_msg(graph, field, &vi);
}

static xcnn_status put_attr(pbw *node, const xcnn_node *n, const xcnn_attr *a, xcnn_err *err)
{
    pbw m = {0};
    put_str(&m, 1, a->name);
    switch (a->type) {
    case XCNN_ATTR_FLOAT: put_float(&m, 2, a->f); break;
    case XCNN_ATTR_INT: put_int(&m, 3, a->i); break;
    case XCNN_ATTR_STRING: put_str(&m, 4, a->s ? a->s : ""); break;
    case XCNN_ATTR_FLOATS:
        for (int i = 0; i < a->n; i++) put_float(&m, 7, a->floats[i]);
        break;
    case XCNN_ATTR_INTS: put_packed_ints(&m, 8, a->ints, a->n); break;
    default:
        pbw_free(&m);
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (%s): attribute '%s' is a tensor, which the ONNX writer "
                         "does not write", n->name, n->op_type, a->name);
    }
    put_int(&m, 20, (int64_t)a->type);
    put_msg(node, 5, &m);
    return XCNN_OK;
}

static xcnn_status put_node(pbw *graph, const xcnn_graph *g, const xcnn_node *n, xcnn_err *err)
{
    pbw m = {0};
    for (int i = 0; i < n->n_in; i++) put_str(&m, 1, n->in[i] >= 0 ? g->tensors[n->in[i]].name : "");
    int last = 0; /* omitted outputs after the last present one are left out */
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] >= 0) last = i;
    for (int i = 0; i <= last; i++) put_str(&m, 2, n->out[i] >= 0 ? g->tensors[n->out[i]].name : "");
    put_str(&m, 3, n->name);
    put_str(&m, 4, n->op_type);
    for (int i = 0; i < n->n_attr; i++) {
        xcnn_status st = put_attr(&m, n, &n->attr[i], err);
        if (st) {
            pbw_free(&m);
            return st;
        }
    }
    put_msg(graph, 1, &m);
    return XCNN_OK;
}

/* Initializers: every constant read by a node that runs, once each, in
 * the order of first use. */
static xcnn_status put_initializers(pbw *graph, const xcnn_graph *g, xcnn_err *err)
{
    unsigned char *done = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
    if (!done) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing ONNX");
    for (int i = 0; i < g->n_nodes; i++) {
        const xcnn_node *n = &g->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_in; k++) {
            int ti = n->in[k];
            if (ti < 0 || done[ti] || g->tensors[ti].kind != XCNN_T_CONST) continue;
            const xcnn_tensor *t = &g->tensors[ti];
            if ((t->dtype == XCNN_DT_FLOAT && !t->data) ||
                (t->dtype == XCNN_DT_INT64 && !t->idata) || t->ndim < 0) {
                free(done);
                return xcnn_fail(err, XCNN_ERR_ARG, "constant '%s' has no value to write",
                                 t->name);
            }
            put_initializer(graph, t);
            done[ti] = 1;
        }
    }
    free(done);
    return XCNN_OK;
}

static xcnn_status put_graph(pbw *model, const xcnn_graph *g, xcnn_err *err)
{
    if (g->input < 0 || g->output < 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "graph has no input or no output to write");
    pbw m = {0};
    xcnn_status st = XCNN_OK;
    for (int i = 0; i < g->n_nodes && !st; i++)
        if (!g->nodes[i].folded) st = put_node(&m, g, &g->nodes[i], err);
    put_str(&m, 2, "xcnn");
    if (!st) st = put_initializers(&m, g, err);
    if (st) {
        pbw_free(&m);
        return st;
    }
    put_value_info(&m, 11, &g->tensors[g->input]);
    put_value_info(&m, 12, &g->tensors[g->output]);
    put_msg(model, 7, &m);
    return XCNN_OK;
}

static void put_meta(pbw *model, const char *key, const char *value)
{
    pbw e = {0};
    put_str(&e, 1, key);
    put_str(&e, 2, value ? value : "");
    put_msg(model, 14, &e);
}

xcnn_status xcnn_onnx_encode(const xcnn_graph *g, const char *const *keys,
                             const char *const *values, int n_meta, unsigned char **out,
                             size_t *out_len, xcnn_err *err)
{
    if (!g || !out || !out_len || (n_meta > 0 && (!keys || !values)))
        return xcnn_fail(err, XCNN_ERR_ARG, "ONNX writer: NULL argument");
    *out = NULL;
    *out_len = 0;
    pbw m = {0}, opset = {0};
    put_int(&m, 1, ONNX_IR_VERSION);
    put_str(&m, 2, "libxcnn");
    put_str(&m, 3, XCNN_VERSION_STRING);
    put_str(&opset, 1, "");
    /* The nodes are written as they were read, so a file of a later opset
     * (ReduceMean's axes as an input at 18, LayerNormalization at 17)
     * keeps its own: 13 would make those nodes mean something else. */
    put_int(&opset, 2, g->opset > ONNX_OPSET ? g->opset : ONNX_OPSET);
    put_msg(&m, 8, &opset);
    xcnn_status st = put_graph(&m, g, err);
    if (st) {
        pbw_free(&m);
        return st;
    }
    for (int i = 0; i < g->n_meta; i++) {
        int replaced = 0;
        for (int k = 0; k < n_meta && !replaced; k++) replaced = !strcmp(keys[k], g->meta_key[i]);
        if (!replaced) put_meta(&m, g->meta_key[i], g->meta_value[i]);
    }
    for (int k = 0; k < n_meta; k++) {
        if (!keys[k]) {
            pbw_free(&m);
            return xcnn_fail(err, XCNN_ERR_ARG, "ONNX writer: metadata key %d is NULL", k);
        }
        put_meta(&m, keys[k], values[k]);
    }
    if (m.failed) {
        pbw_free(&m);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing ONNX");
    }
    *out = m.p;
    *out_len = m.n;
    return XCNN_OK;
}
