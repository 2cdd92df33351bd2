/*
 * ONNX file -> xcnn_graph, with our own protobuf reader (protobuf.h).
 *
 * The file is a ModelProto. We read, in this order:
 *   1. ModelProto: ir_version, opset_import (default-domain opset -> g->opset)
 *      and the graph.
 *   2. GraphProto: where its nodes, initializers, inputs and outputs are
 *      (value_info only repeats shapes we compute ourselves: skipped).
 *   3. Initializers -> XCNN_T_CONST tensors.
 *   4. The graph input: the first graph.input that is not an initializer.
 *   5. Nodes: a Constant becomes an XCNN_T_CONST tensor; every other node's
 *      outputs become tensors, then its inputs are looked up by name.
 *   6. The nodes are sorted topologically (Kahn) and added to the graph with
 *      their attributes.
 * Every size read from the file is checked against the bytes that hold it and
 * against the load limits before anything is allocated from it. Messages
 * nest only as deep as the ONNX schema does (graphs inside attributes are
 * refused), so nothing here recurses.
 *
 * Field numbers below are those of onnx/onnx.proto (onnx 1.12, IR version 8).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx.h"
#include "../io/protobuf.h"
#include "../base/format.h"

/* ModelProto */
enum { MODEL_IR_VERSION = 1, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA_PROPS = 14 };
/* StringStringEntryProto */
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
/* More key/value pairs than any exporter writes; bounds a hostile file. */
#define MAX_METADATA 256
/* OperatorSetIdProto */
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
/* GraphProto */
enum { GRAPH_NODE = 1, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
       GRAPH_SPARSE_INITIALIZER = 15 };
/* NodeProto */
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
       NODE_DOMAIN = 7 };
/* AttributeProto fields */
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_T = 5, ATTR_G = 6,
       ATTR_FLOATS = 7, ATTR_INTS = 8, ATTR_STRINGS = 9, ATTR_TENSORS = 10, ATTR_GRAPHS = 11,
       ATTR_TP = 14, ATTR_TPS = 15, ATTR_TYPE = 20, ATTR_SPARSE = 22, ATTR_SPARSES = 23 };
/* AttributeProto.AttributeType */
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_TENSOR = 4, AT_GRAPH = 5, AT_FLOATS = 6,
       AT_INTS = 7, AT_STRINGS = 8, AT_TENSORS = 9, AT_GRAPHS = 10, AT_SPARSE = 11,
       AT_SPARSES = 12, AT_TYPE_PROTO = 13, AT_TYPE_PROTOS = 14 };
/* ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto(.Dimension) */
enum { VI_NAME = 1, VI_TYPE = 2 };
enum { TYPE_TENSOR = 1, TYPE_SEQUENCE = 4, TYPE_MAP = 5, TYPE_SPARSE = 8, TYPE_OPTIONAL = 9 };
enum { TT_ELEM_TYPE = 1, TT_SHAPE = 2 };
enum { SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };
/* TensorProto */
enum { T_DIMS = 1, T_DATA_TYPE = 2, T_SEGMENT = 3, T_FLOAT_DATA = 4, T_INT32_DATA = 5,
       T_INT64_DATA = 7, T_NAME = 8, T_RAW_DATA = 9, T_EXTERNAL_DATA = 13,
       T_DATA_LOCATION = 14 };
/* TensorProto.DataType */
enum { DT_FLOAT = 1, DT_UINT8 = 2, DT_INT8 = 3, DT_UINT16 = 4, DT_INT16 = 5, DT_INT32 = 6,
       DT_INT64 = 7, DT_STRING = 8, DT_BOOL = 9 };

#define DEFAULT_MAX_FILE_BYTES ((uint64_t)1 << 30)
#define DEFAULT_MAX_TENSOR_ELEMS ((uint64_t)256 << 20)
#define DEFAULT_MAX_NODES ((uint64_t)100000)
/* graph.c's own cap: far past any CNN, and byte counts never overflow. */
#define HARD_MAX_ELEMS ((uint64_t)1 << 40)
/* Real ops have a handful; this keeps a hostile node from costing O(n^2). */
#define MAX_NODE_ATTRS 1024

typedef struct slice {
    const uint8_t *p;
    size_t n;
} slice;

/* A NodeProto read but not yet added to the graph. */
typedef struct pnode {
    char *name;      /* the file's name, or "<op>_<index in file>"        */
    char *op_type;
    slice msg;       /* the NodeProto, read again for its attributes      */
    int n_in, n_out;
    slice *in_names, *out_names;
    int *in, *out;   /* tensor indices, once resolved                     */
    int constant;    /* a Constant: became a const tensor, not a node     */
} pnode;

/* A TensorProto decoded into memory we own. */
typedef struct ptensor {
    char *name;
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    size_t numel;
    float *data;     /* FLOAT                                             */
    int64_t *idata;  /* every integer type, widened to int64              */
} ptensor;

/* An AttributeProto: scalars read, lists counted (read on demand). */
typedef struct pattr {
    char *name;
    int type;
    float f;
    int64_t i;
    slice s, t, msg;
    size_t n_floats, n_ints;
} pattr;

typedef struct loader {
    xcnn_graph *g;
    xcnn_err *err;
    uint64_t max_elems, max_nodes;
    const int64_t *input_dims; /* xcnn_load_options.input_dims or NULL */
    slice *node_msgs, *init_msgs, *input_msgs, *output_msgs;
    int n_nodes, n_inits, n_inputs, n_outputs;
    pnode *pn;
    int *map;        /* open-addressing hash: tensor name -> index, -1 free */
    size_t map_cap, map_used;
} loader;

/* ---- small helpers ---------------------------------------------------- */

static xcnn_status nomem(xcnn_err *err)
{
    return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory while loading the ONNX model");
}

static int slice_is(slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

/* A NUL-terminated copy. A NUL inside would make two names compare equal. */
static xcnn_status str_copy(slice s, char **out, const char *what, xcnn_err *err)
{
    *out = NULL;
    if (s.n && memchr(s.p, 0, s.n))
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s contains a NUL byte", what);
    char *c = malloc(s.n + 1);
    if (!c) return nomem(err);
    if (s.n) memcpy(c, s.p, s.n);
    c[s.n] = 0;
    *out = c;
    return XCNN_OK;
}

/* "a" sep "b", malloc'ed. */
static char *join(const char *a, const char *sep, const char *b)
{
    size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
    char *s = malloc(la + ls + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, sep, ls);
        memcpy(s + la + ls, b, lb + 1);
    }
    return s;
}

static xcnn_status want_bytes(const xcnn_pb_field *f, slice *s, const char *what,
                              xcnn_err *err)
{
    s->p = NULL;
    s->n = 0;
    if (f->wire != XCNN_PB_BYTES)
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "%s: field %" PRIu32 " has wire type %d, expected length-delimited", what,
                         f->number, f->wire);
    s->p = f->data;
    s->n = f->len;
    return XCNN_OK;
}

static xcnn_status want_varint(const xcnn_pb_field *f, const char *what, xcnn_err *err)
{
    if (f->wire != XCNN_PB_VARINT)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "%s: field %" PRIu32 " has wire type %d, expected varint",
                         what, f->number, f->wire);
    return XCNN_OK;
}

/* Count (out == NULL) or read every value of repeated scalar field `number`
 * of msg, packed or not, adding to *count (at most cap values in out). */
static xcnn_status read_repeated(slice msg, uint32_t number, xcnn_pb_scalar kind, void *out,
                                 size_t cap, size_t *count, const char *what, xcnn_err *err)
{
    size_t esz = kind == XCNN_PB_FLOAT ? sizeof(float) : sizeof(int64_t);
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    *count = 0;
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, what, err);
        if (st) return st;
        if (!more) return XCNN_OK;
        if (f.number != number) continue;
        size_t n;
        st = xcnn_pb_scalars(&f, kind, out ? (char *)out + *count * esz : NULL,
                             out ? cap - *count : 0, &n, what, err);
        if (st) return st;
        *count += n;
    }
}

static const char *dtype_name(uint64_t t)
{
    static const char *names[] = {"UNDEFINED", "FLOAT",   "UINT8",     "INT8",      "UINT16",
                                  "INT16",     "INT32",   "INT64",     "STRING",    "BOOL",
                                  "FLOAT16",   "DOUBLE",  "UINT32",    "UINT64",    "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static const char *attr_type_name(int t)
{
    static const char *names[] = {"UNDEFINED", "FLOAT",   "INT",           "STRING",
                                  "TENSOR",    "GRAPH",   "FLOATS",        "INTS",
                                  "STRINGS",   "TENSORS", "GRAPHS",        "SPARSE_TENSOR",
                                  "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
    return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* ---- tensor names: a hash map, so 100000 nodes do not cost N^2 -------- */

static size_t hash_name(const uint8_t *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return (size_t)h;
}

static int map_find(const loader *L, const uint8_t *s, size_t n)
{
    if (!L->map_cap) return -1;
    size_t mask = L->map_cap - 1;
    for (size_t h = hash_name(s, n) & mask;; h = (h + 1) & mask) {
        int t = L->map[h];
        if (t < 0) return -1;
        const char *name = L->g->tensors[t].name;
        if (strlen(name) == n && (n == 0 || memcmp(name, s, n) == 0)) return t;
    }
}

static void map_put(loader *L, int *map, size_t cap, int t)
{
    const char *name = L->g->tensors[t].name;
    size_t h = hash_name((const uint8_t *)name, strlen(name)) & (cap - 1);
    while (map[h] >= 0) h = (h + 1) & (cap - 1);
    map[h] = t;
}

static xcnn_status map_add(loader *L, int t)
{
    if ((L->map_used + 1) * 2 > L->map_cap) { /* keep it at most half full */
        size_t cap = L->map_cap ? L->map_cap * 2 : 256;
        int *map = malloc(cap * sizeof *map);
        if (!map) return nomem(L->err);
        for (size_t i = 0; i < cap; i++) map[i] = -1;
        for (size_t i = 0; i < L->map_cap; i++)
            if (L->map[i] >= 0) map_put(L, map, cap, L->map[i]);
        free(L->map);
        L->map = map;
        L->map_cap = cap;
    }
    map_put(L, L->map, L->map_cap, t);
    L->map_used++;
    return XCNN_OK;
}

/* Add a tensor named `name`; a name defined twice is refused. */
static xcnn_status new_tensor(loader *L, const char *name, xcnn_tensor_kind kind,
                              const char *by, int *idx)
{
    if (map_find(L, (const uint8_t *)name, strlen(name)) >= 0)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "tensor '%s' is defined twice (again by %s)",
                         name, by);
    int t = xcnn_graph_add_tensor(L->g, name, kind);
    if (t < 0) return nomem(L->err);
    *idx = t;
    return map_add(L, t);
}

/* ---- TensorProto ------------------------------------------------------ */

static void ptensor_free(ptensor *t)
{
    free(t->name);
    free(t->data);
    free(t->idata);
    memset(t, 0, sizeof *t);
}

static size_t elem_size(uint64_t dtype)
{
    switch (dtype) {
    case DT_FLOAT: case DT_INT32: return 4;
    case DT_INT64: return 8;
    case DT_UINT16: case DT_INT16: return 2;
    case DT_UINT8: case DT_INT8: case DT_BOOL: return 1;
    default: return 0;
    }
}

/* Where the values are when there is no raw_data. */
static uint32_t typed_field(uint64_t dtype)
{
    return dtype == DT_FLOAT ? T_FLOAT_DATA : dtype == DT_INT64 ? T_INT64_DATA : T_INT32_DATA;
}

/* Decode raw_data (little-endian, exactly numel elements). */
static void decode_raw(uint64_t dtype, const uint8_t *b, size_t numel, ptensor *t)
{
    for (size_t i = 0; i < numel; i++) {
        switch (dtype) {
        case DT_FLOAT: {
            uint32_t bits = xcnn_pb_le32(b + 4 * i);
            memcpy(&t->data[i], &bits, sizeof bits);
            break;
        }
        case DT_INT64: t->idata[i] = (int64_t)xcnn_pb_le64(b + 8 * i); break;
        case DT_INT32: t->idata[i] = (int32_t)xcnn_pb_le32(b + 4 * i); break;
        case DT_INT16: t->idata[i] = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8); break;
        case DT_UINT16: t->idata[i] = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8); break;
        case DT_INT8: t->idata[i] = (int8_t)b[i]; break;
        case DT_UINT8: t->idata[i] = b[i]; break;
        case DT_BOOL: t->idata[i] = b[i] != 0; break;
        }
    }
}

/* Dims: each >= 0, each and their product within the element limit. */
static xcnn_status check_dims(loader *L, ptensor *t, const char *label)
{
    uint64_t total = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->dims[i];
        if (d < 0)
            return xcnn_fail(L->err, XCNN_ERR_SHAPE, "tensor '%s': dimension %d is %lld",
                             label, i, (long long)d);
        if ((uint64_t)d > L->max_elems || (d && total > L->max_elems / (uint64_t)d))
            return xcnn_fail(L->err, XCNN_ERR_LIMIT,
                             "tensor '%s': more than %llu elements (dimension %d is %lld); "
                             "see xcnn_load_options.max_tensor_elems",
                             label, (unsigned long long)L->max_elems, i, (long long)d);
        total *= (uint64_t)d;
    }
    t->numel = (size_t)total;
    return XCNN_OK;
}

/* The metadata of a TensorProto: everything but the repeated values. */
typedef struct tensor_meta {
    slice name, raw;
    uint64_t dtype;
    int have_raw, external, segmented;
} tensor_meta;

static xcnn_status read_tensor_meta(slice msg, tensor_meta *m, const char *what, xcnn_err *err)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    memset(m, 0, sizeof *m);
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, what, err);
        if (st || !more) return st;
        switch (f.number) {
        case T_DATA_TYPE: st = want_varint(&f, what, err); m->dtype = f.u; break;
        case T_NAME: st = want_bytes(&f, &m->name, what, err); break;
        case T_RAW_DATA: st = want_bytes(&f, &m->raw, what, err); m->have_raw = 1; break;
        case T_SEGMENT: m->segmented = 1; break;
        case T_EXTERNAL_DATA: m->external = 1; break;
        case T_DATA_LOCATION:
            st = want_varint(&f, what, err);
            if (f.u == 1) m->external = 1; /* DataLocation.EXTERNAL */
            break;
        default: break;
        }
        if (st) return st;
    }
}

/* Decode a TensorProto. ctx names it in errors when it has no name. */
static xcnn_status read_tensor(loader *L, slice msg, const char *ctx, ptensor *t)
{
    xcnn_err *err = L->err;
    char what[300];
    tensor_meta m;
    size_t n_dims, counts[3];
    static const uint32_t data_fields[3] = {T_FLOAT_DATA, T_INT32_DATA, T_INT64_DATA};
    static const xcnn_pb_scalar data_kinds[3] = {XCNN_PB_FLOAT, XCNN_PB_INT32, XCNN_PB_INT64};

    memset(t, 0, sizeof *t);
    xcnn_format(what, sizeof what, "tensor in %s", ctx);
    xcnn_status st = read_tensor_meta(msg, &m, what, err);
    if (!st) st = str_copy(m.name, &t->name, what, err);
    if (st) return st;
    const char *label = t->name[0] ? t->name : ctx;
    xcnn_format(what, sizeof what, "tensor '%s'", label);

    if (m.external)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "tensor '%s' keeps its data in an external file; libxcnn reads "
                         "self-contained .onnx files (save without external data)", label);
    if (m.segmented)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "tensor '%s' is segmented", label);
    size_t esize = elem_size(m.dtype);
    if (!esize)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "tensor '%s' has data type %s (%llu); libxcnn reads FLOAT and "
                         "integer tensors only", label, dtype_name(m.dtype),
                         (unsigned long long)m.dtype);

    st = read_repeated(msg, T_DIMS, XCNN_PB_INT64, NULL, 0, &n_dims, what, err);
    if (st) return st;
    if (n_dims > XCNN_MAX_DIMS)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "tensor '%s' has %zu dims (at most %d)",
                         label, n_dims, XCNN_MAX_DIMS);
    st = read_repeated(msg, T_DIMS, XCNN_PB_INT64, t->dims, XCNN_MAX_DIMS, &n_dims, what, err);
    if (st) return st;
    t->ndim = (int)n_dims;
    if ((st = check_dims(L, t, label))) return st;

    /* Count the values before allocating; they must match the shape. */
    size_t typed = 0, stray = 0;
    for (int k = 0; k < 3; k++) {
        st = read_repeated(msg, data_fields[k], data_kinds[k], NULL, 0, &counts[k], what, err);
        if (st) return st;
        if (data_fields[k] == typed_field(m.dtype)) typed = counts[k];
        else stray += counts[k];
    }
    if (stray)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "tensor '%s' (%s) has values in a field of "
                         "another data type", label, dtype_name(m.dtype));
    if (m.have_raw && typed)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "tensor '%s' has both raw_data and typed data",
                         label);
    if (m.have_raw && (m.raw.n % esize || m.raw.n / esize != t->numel))
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "tensor '%s': raw_data has %zu bytes, expected %zu (%zu elements "
                         "of %s)", label, m.raw.n, t->numel * esize, t->numel,
                         dtype_name(m.dtype));
    if (!m.have_raw && typed != t->numel)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "tensor '%s' holds %zu values for %zu elements",
                         label, typed, t->numel);

    size_t alloc = t->numel ? t->numel : 1;
    if (m.dtype == DT_FLOAT) t->data = malloc(alloc * sizeof *t->data);
    else t->idata = malloc(alloc * sizeof *t->idata);
    if (!t->data && !t->idata) return nomem(err);
    if (m.have_raw) {
        decode_raw(m.dtype, m.raw.p, t->numel, t);
        return XCNN_OK;
    }
    uint32_t field = typed_field(m.dtype);
    xcnn_pb_scalar kind = m.dtype == DT_FLOAT ? XCNN_PB_FLOAT
                          : m.dtype == DT_INT64 ? XCNN_PB_INT64 : XCNN_PB_INT32;
    void *out = m.dtype == DT_FLOAT ? (void *)t->data : (void *)t->idata;
    st = read_repeated(msg, field, kind, out, t->numel, &typed, what, err);
    if (st) return st;
    if (m.dtype == DT_BOOL)
        for (size_t i = 0; i < t->numel; i++) t->idata[i] = t->idata[i] != 0;
    return XCNN_OK;
}

/* Move a decoded tensor into graph tensor idx (kind XCNN_T_CONST). */
static xcnn_status commit_tensor(loader *L, int idx, ptensor *pt)
{
    xcnn_tensor *t = &L->g->tensors[idx];
    xcnn_status st = xcnn_tensor_set_shape(t, pt->ndim, pt->dims, L->err);
    if (st) return st;
    t->dtype = pt->data ? XCNN_DT_FLOAT : XCNN_DT_INT64;
    t->data = pt->data;
    t->idata = pt->idata;
    pt->data = NULL;
    pt->idata = NULL;
    return XCNN_OK;
}

/* Decode a TensorProto into a new const tensor named `name`. */
static xcnn_status add_const_tensor(loader *L, slice msg, const char *name, const char *ctx,
                                    const char *by, int *idx)
{
    ptensor pt;
    xcnn_status st = read_tensor(L, msg, ctx, &pt);
    if (!st) st = new_tensor(L, name, XCNN_T_CONST, by, idx);
    if (!st) st = commit_tensor(L, *idx, &pt);
    ptensor_free(&pt);
    return st;
}

/* ---- ModelProto and GraphProto ---------------------------------------- */

static xcnn_status read_opset(loader *L, slice msg)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    slice domain = {NULL, 0};
    uint64_t version = 0;
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, "opset_import", L->err);
        if (st) return st;
        if (!more) break;
        if (f.number == OPSET_DOMAIN) st = want_bytes(&f, &domain, "opset_import", L->err);
        if (f.number == OPSET_VERSION) {
            st = want_varint(&f, "opset_import", L->err);
            version = f.u;
        }
        if (st) return st;
    }
    if (!slice_is(domain, "") && !slice_is(domain, "ai.onnx"))
        return XCNN_OK; /* another domain: its nodes are refused one by one */
    if (version < 7 || version > 18)
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "model uses ONNX opset %llu; libxcnn reads opsets 7 to 18",
                         (unsigned long long)version);
    if (L->g->opset && L->g->opset != (int)version)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "model imports ONNX opsets %d and %d",
                         L->g->opset, (int)version);
    L->g->opset = (int)version;
    return XCNN_OK;
}

/* One metadata_props entry (key, value): kept on the graph so a model can
 * carry its labels and preprocessing. */
static xcnn_status read_metadata(loader *L, slice msg)
{
    const char *what = "ONNX metadata_props";
    xcnn_graph *g = L->g;
    if (g->n_meta >= MAX_METADATA)
        return xcnn_fail(L->err, XCNN_ERR_LIMIT, "%s: more than %d entries", what, MAX_METADATA);
    slice key = {NULL, 0}, value = {NULL, 0};
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, what, L->err);
        if (st) return st;
        if (!more) break;
        if (f.number == ENTRY_KEY) st = want_bytes(&f, &key, what, L->err);
        else if (f.number == ENTRY_VALUE) st = want_bytes(&f, &value, what, L->err);
        if (st) return st;
    }
    char **keys = realloc(g->meta_key, (size_t)(g->n_meta + 1) * sizeof(char *));
    if (!keys) return nomem(L->err);
    g->meta_key = keys;
    char **values = realloc(g->meta_value, (size_t)(g->n_meta + 1) * sizeof(char *));
    if (!values) return nomem(L->err);
    g->meta_value = values;
    char *k = NULL, *v = NULL;
    xcnn_status st = str_copy(key, &k, what, L->err);
    if (!st) st = str_copy(value, &v, what, L->err);
    if (st) {
        free(k);
        return st;
    }
    g->meta_key[g->n_meta] = k;
    g->meta_value[g->n_meta] = v;
    g->n_meta++;
    return XCNN_OK;
}

static xcnn_status read_model(loader *L, const uint8_t *data, size_t size, slice *graph)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more, have_graph = 0;
    const char *what = "ONNX model (corrupt, or not ONNX)";
    xcnn_pb_init(&r, data, size);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, what, L->err);
        if (st) return st;
        if (!more) break;
        slice s;
        switch (f.number) {
        case MODEL_IR_VERSION: st = want_varint(&f, what, L->err); break;
        case MODEL_OPSET_IMPORT:
            st = want_bytes(&f, &s, what, L->err);
            if (!st) st = read_opset(L, s);
            break;
        case MODEL_GRAPH:
            if (have_graph)
                return xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s: two graphs", what);
            st = want_bytes(&f, graph, what, L->err);
            have_graph = 1;
            break;
        case MODEL_METADATA_PROPS:
            st = want_bytes(&f, &s, what, L->err);
            if (!st) st = read_metadata(L, s);
            break;
        default: break; /* producer, doc_string, functions, ... */
        }
        if (st) return st;
    }
    if (!have_graph)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT,
                         "not an ONNX model: no graph in its %zu bytes", size);
    return XCNN_OK;
}

/* Where each node, initializer, input and output of the graph is. */
static xcnn_status read_graph(loader *L, slice graph)
{
    static const uint32_t fields[4] = {GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT};
    slice **lists[4] = {&L->node_msgs, &L->init_msgs, &L->input_msgs, &L->output_msgs};
    int *counts[4] = {&L->n_nodes, &L->n_inits, &L->n_inputs, &L->n_outputs};
    size_t n[4] = {0, 0, 0, 0};
    const char *what = "graph";
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    slice s;

    for (int pass = 0; pass < 2; pass++) {
        xcnn_pb_init(&r, graph.p, graph.n);
        for (;;) {
            xcnn_status st = xcnn_pb_next(&r, &f, &more, what, L->err);
            if (st) return st;
            if (!more) break;
            if (f.number == GRAPH_SPARSE_INITIALIZER)
                return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                                 "graph has sparse initializers (not supported)");
            for (int k = 0; k < 4; k++) {
                if (f.number != fields[k]) continue;
                if ((st = want_bytes(&f, &s, what, L->err))) return st;
                if (pass == 0) n[k]++;
                else (*lists[k])[(*counts[k])++] = s;
            }
        }
        if (pass == 1) break;
        if (n[0] > L->max_nodes)
            return xcnn_fail(L->err, XCNN_ERR_LIMIT,
                             "model has %zu nodes, over the limit of %llu "
                             "(xcnn_load_options.max_nodes)", n[0],
                             (unsigned long long)L->max_nodes);
        for (int k = 0; k < 4; k++) {
            if (n[k] > INT_MAX / 4)
                return xcnn_fail(L->err, XCNN_ERR_LIMIT, "graph has %zu entries of field %" PRIu32,
                                 n[k], fields[k]);
            *lists[k] = malloc((n[k] ? n[k] : 1) * sizeof(slice));
            if (!*lists[k]) return nomem(L->err);
        }
    }
    return XCNN_OK;
}

static xcnn_status add_initializers(loader *L)
{
    for (int i = 0; i < L->n_inits; i++) {
        char ctx[48];
        xcnn_format(ctx, sizeof ctx, "initializer %d", i);
        ptensor pt;
        int idx;
        xcnn_status st = read_tensor(L, L->init_msgs[i], ctx, &pt);
        if (!st && !pt.name[0])
            st = xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s has no name", ctx);
        if (!st) st = new_tensor(L, pt.name, XCNN_T_CONST, "an initializer", &idx);
        if (!st) st = commit_tensor(L, idx, &pt);
        ptensor_free(&pt);
        if (st) return st;
    }
    return XCNN_OK;
}

/* ---- the graph input -------------------------------------------------- */

/* ValueInfoProto: its name and type. */
static xcnn_status read_value_info(loader *L, slice msg, slice *name, slice *type,
                                   int *have_type)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    name->p = NULL;
    name->n = 0;
    *have_type = 0;
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, "graph input/output", L->err);
        if (st || !more) return st;
        if (f.number == VI_NAME) st = want_bytes(&f, name, "value info", L->err);
        if (f.number == VI_TYPE) {
            st = want_bytes(&f, type, "value info", L->err);
            *have_type = 1;
        }
        if (st) return st;
    }
}

/* One TensorShapeProto.Dimension: 0 none, 1 a value, 2 a symbolic name. */
static xcnn_status read_dim(loader *L, slice msg, int *kind, int64_t *value)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    *kind = 0;
    *value = 0;
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, "input dimension", L->err);
        if (st || !more) return st;
        if (f.number == DIM_VALUE) {
            if ((st = want_varint(&f, "input dimension", L->err))) return st;
            *kind = 1;
            *value = (int64_t)f.u;
        } else if (f.number == DIM_PARAM) {
            *kind = 2;
        }
    }
}

/* TypeProto.Tensor of the graph input -> element type and dims. */
static xcnn_status read_tensor_type(loader *L, slice msg, const char *name, uint64_t *elem,
                                    int *have_shape, int *ndim, int kinds[], int64_t dims[])
{
    xcnn_pb r, rs;
    xcnn_pb_field f, fs;
    int more;
    slice s;
    xcnn_status st;
    char what[300];
    xcnn_format(what, sizeof what, "type of graph input '%s'", name);
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        if ((st = xcnn_pb_next(&r, &f, &more, what, L->err)) || !more) return st;
        if (f.number == TT_ELEM_TYPE) {
            if ((st = want_varint(&f, what, L->err))) return st;
            *elem = f.u;
        }
        if (f.number != TT_SHAPE) continue;
        if ((st = want_bytes(&f, &s, what, L->err))) return st;
        *have_shape = 1;
        *ndim = 0;
        xcnn_pb_init(&rs, s.p, s.n);
        for (;;) {
            if ((st = xcnn_pb_next(&rs, &fs, &more, what, L->err))) return st;
            if (!more) break;
            if (fs.number != SHAPE_DIM) continue;
            if ((st = want_bytes(&fs, &s, what, L->err))) return st;
            if (*ndim == XCNN_MAX_DIMS)
                return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                                 "graph input '%s' has more than %d dims", name, XCNN_MAX_DIMS);
            if ((st = read_dim(L, s, &kinds[*ndim], &dims[*ndim]))) return st;
            (*ndim)++;
        }
    }
}

/* The input's shape with batch 1: dim 0 may be symbolic, missing or 1;
 * other symbolic or missing dims take the caller's input_dims. */
static xcnn_status input_shape(loader *L, const char *name, int ndim, const int kinds[],
                               int64_t dims[])
{
    const int64_t *given = L->input_dims;
    if (ndim < 1)
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "graph input '%s' is a scalar: it needs a batch dimension", name);
    if (kinds[0] == 1 && dims[0] != 1)
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "graph input '%s' fixes the batch dimension to %lld; libxcnn takes "
                         "the batch at run time: export with batch 1 or a dynamic batch axis",
                         name, (long long)dims[0]);
    dims[0] = 1;
    for (int i = 1; i < ndim; i++) {
        if (kinds[i] == 1 && given && given[i] && given[i] != dims[i])
            return xcnn_fail(L->err, XCNN_ERR_SHAPE,
                             "graph input '%s': dimension %d is %lld in the file, not %lld "
                             "(xcnn_load_options.input_dims)", name, i, (long long)dims[i],
                             (long long)given[i]);
        if (kinds[i] != 1 && given && given[i]) dims[i] = given[i];
        else if (kinds[i] != 1)
            return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                             "graph input '%s': dimension %d is %s; give its size in "
                             "xcnn_load_options.input_dims (xcnn: --input-shape)", name, i,
                             kinds[i] ? "symbolic" : "missing");
        if (dims[i] < 1)
            return xcnn_fail(L->err, XCNN_ERR_SHAPE, "graph input '%s': dimension %d is %lld",
                             name, i, (long long)dims[i]);
    }
    return XCNN_OK;
}

static xcnn_status add_graph_input(loader *L)
{
    int chosen = -1;
    char *first = NULL;
    slice name, type, tname = {NULL, 0};
    int have_type, have_shape = 0, ndim = 0, kinds[XCNN_MAX_DIMS];
    int64_t dims[XCNN_MAX_DIMS];
    uint64_t elem = 0;
    xcnn_status st = XCNN_OK;

    for (int i = 0; i < L->n_inputs && !st; i++) {
        st = read_value_info(L, L->input_msgs[i], &name, &type, &have_type);
        if (st || map_find(L, name.p, name.n) >= 0) continue; /* an initializer */
        if (chosen < 0) {
            chosen = i;
            tname = type;
            st = str_copy(name, &first, "graph input name", L->err);
            if (!st && !first[0])
                st = xcnn_fail(L->err, XCNN_ERR_FORMAT, "graph input %d has no name", i);
            else if (!st && !have_type)
                st = xcnn_fail(L->err, XCNN_ERR_FORMAT, "graph input '%s' has no type", first);
            continue;
        }
        char *second = NULL;
        st = str_copy(name, &second, "graph input name", L->err);
        if (!st)
            st = xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                           "model has more than one input ('%s' and '%s'); libxcnn takes one",
                           first, second);
        free(second);
    }
    if (st || chosen < 0) goto done; /* no input: the planner says so */

    /* TypeProto: a dense tensor only. */
    xcnn_pb r;
    xcnn_pb_field f;
    int more, have_tensor = 0;
    xcnn_pb_init(&r, tname.p, tname.n);
    for (;;) {
        if ((st = xcnn_pb_next(&r, &f, &more, "graph input type", L->err)) || !more) break;
        if (f.number == TYPE_TENSOR) {
            slice s;
            if ((st = want_bytes(&f, &s, "graph input type", L->err))) break;
            have_tensor = 1;
            st = read_tensor_type(L, s, first, &elem, &have_shape, &ndim, kinds, dims);
            if (st) break;
        } else if (f.number == TYPE_SEQUENCE || f.number == TYPE_MAP ||
                   f.number == TYPE_SPARSE || f.number == TYPE_OPTIONAL) {
            break;
        }
    }
    if (st) goto done;
    if (!have_tensor)
        st = xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED, "graph input '%s' is not a dense tensor",
                       first);
    else if (elem != DT_FLOAT && elem != 0)
        st = xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                       "graph input '%s' has data type %s; libxcnn takes FLOAT inputs", first,
                       dtype_name(elem));
    else if (!have_shape)
        st = xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                       "graph input '%s' has no shape in the file; libxcnn needs it", first);
    if (!st) st = input_shape(L, first, ndim, kinds, dims);
    int idx;
    if (!st) st = new_tensor(L, first, XCNN_T_INPUT, "the graph input", &idx);
    if (!st) st = xcnn_tensor_set_shape(&L->g->tensors[idx], ndim, dims, L->err);
    if (!st) L->g->input = idx;
done:
    free(first);
    return st;
}

/* ---- attributes -------------------------------------------------------- */

static void pattr_free(pattr *a)
{
    free(a->name);
    a->name = NULL;
}

/* Read an AttributeProto's name, type and scalar values; lists are counted. */
static xcnn_status read_attr(loader *L, slice msg, const char *node, pattr *a)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more, declared = 0, has_f = 0, has_i = 0, has_s = 0, has_t = 0, has_g = 0, other = 0;
    slice name = {NULL, 0};
    char what[300];
    xcnn_status st;

    memset(a, 0, sizeof *a);
    a->msg = msg;
    xcnn_format(what, sizeof what, "node '%s': attribute", node);
    xcnn_pb_init(&r, msg.p, msg.n);
    for (;;) {
        if ((st = xcnn_pb_next(&r, &f, &more, what, L->err))) return st;
        if (!more) break;
        switch (f.number) {
        case ATTR_NAME: st = want_bytes(&f, &name, what, L->err); break;
        case ATTR_TYPE:
            st = want_varint(&f, what, L->err);
            declared = f.u > 100 ? 100 : (int)f.u;
            break;
        case ATTR_F: {
            if (f.wire != XCNN_PB_FIXED32)
                return xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s: f is not a float", what);
            uint32_t bits = (uint32_t)f.u;
            memcpy(&a->f, &bits, sizeof bits);
            has_f = 1;
            break;
        }
        case ATTR_I: st = want_varint(&f, what, L->err); a->i = (int64_t)f.u; has_i = 1; break;
        case ATTR_S: st = want_bytes(&f, &a->s, what, L->err); has_s = 1; break;
        case ATTR_T: st = want_bytes(&f, &a->t, what, L->err); has_t = 1; break;
        case ATTR_G: case ATTR_GRAPHS: has_g = 1; break;
        case ATTR_STRINGS: case ATTR_TENSORS: case ATTR_TP: case ATTR_TPS: case ATTR_SPARSE:
        case ATTR_SPARSES: other = (int)f.number; break;
        default: break;
        }
        if (st) return st;
    }
    if ((st = str_copy(name, &a->name, what, L->err))) return st;
    if (!a->name[0])
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "node '%s' has an attribute without a name",
                         node);
    xcnn_format(what, sizeof what, "node '%s': attribute '%s'", node, a->name);
    if ((st = read_repeated(msg, ATTR_FLOATS, XCNN_PB_FLOAT, NULL, 0, &a->n_floats, what,
                            L->err)))
        return st;
    if ((st = read_repeated(msg, ATTR_INTS, XCNN_PB_INT64, NULL, 0, &a->n_ints, what, L->err)))
        return st;
    if (a->n_floats > INT_MAX || a->n_ints > INT_MAX)
        return xcnn_fail(L->err, XCNN_ERR_LIMIT, "%s has too many values", what);

    /* Files older than IR version 3 may leave the type out. */
    a->type = declared ? declared
              : has_g ? AT_GRAPH
              : has_t ? AT_TENSOR
              : a->n_floats ? AT_FLOATS
              : a->n_ints ? AT_INTS
              : has_s ? AT_STRING
              : has_f ? AT_FLOAT
              : has_i ? AT_INT
              : other ? AT_STRINGS : 0;
    if (a->type == AT_GRAPH || a->type == AT_GRAPHS || has_g)
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "%s holds a graph: nested graphs (If, Loop, Scan) are not supported",
                         what);
    switch (a->type) {
    case AT_FLOAT: case AT_INT: case AT_STRING: case AT_FLOATS: case AT_INTS: return XCNN_OK;
    case AT_TENSOR:
        if (!has_t) return xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s has no tensor", what);
        return XCNN_OK;
    case 0: return xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s has no value", what);
    default:
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED, "%s has type %s (not supported)", what,
                         attr_type_name(a->type));
    }
}

/* The values of a FLOATS or INTS attribute, malloc'ed. */
static xcnn_status attr_list(loader *L, const pattr *a, void **out, size_t *n)
{
    int fl = a->type == AT_FLOATS;
    size_t count = fl ? a->n_floats : a->n_ints;
    *out = malloc((count ? count : 1) * (fl ? sizeof(float) : sizeof(int64_t)));
    if (!*out) return nomem(L->err);
    return read_repeated(a->msg, fl ? ATTR_FLOATS : ATTR_INTS,
                         fl ? XCNN_PB_FLOAT : XCNN_PB_INT64, *out, count, n, "attribute",
                         L->err);
}

/* A TENSOR attribute (other than Constant's value): a const tensor named
 * "<node>:<attr>", referenced by index. graph.c has no helper for this
 * attribute type, so the attribute is appended here. */
static xcnn_status add_tensor_attr(loader *L, int node, const pattr *a)
{
    xcnn_node *n = &L->g->nodes[node];
    char *tname = join(n->name, ":", a->name);
    char *aname = join(a->name, "", "");
    int idx = -1;
    xcnn_status st = (tname && aname) ? XCNN_OK : nomem(L->err);
    if (!st) st = add_const_tensor(L, a->t, tname, tname, "a tensor attribute", &idx);
    free(tname);
    xcnn_attr *arr = NULL;
    if (!st) {
        arr = realloc(n->attr, (size_t)(n->n_attr + 1) * sizeof *arr);
        if (!arr) st = nomem(L->err);
    }
    if (st) {
        free(aname);
        return st;
    }
    n->attr = arr;
    xcnn_attr *at = &arr[n->n_attr++];
    memset(at, 0, sizeof *at);
    at->name = aname;
    at->type = XCNN_ATTR_TENSOR;
    at->tensor = idx;
    return XCNN_OK;
}

static xcnn_status add_attr(loader *L, int node, const pattr *a)
{
    xcnn_node *n = &L->g->nodes[node];
    xcnn_status st = XCNN_OK;
    int rc = 0;
    void *list = NULL;
    char *s = NULL;
    size_t count = 0;
    switch (a->type) {
    case AT_FLOAT: rc = xcnn_node_add_attr_float(n, a->name, a->f); break;
    case AT_INT: rc = xcnn_node_add_attr_int(n, a->name, a->i); break;
    case AT_STRING:
        st = str_copy(a->s, &s, "string attribute", L->err);
        if (!st) rc = xcnn_node_add_attr_string(n, a->name, s);
        break;
    case AT_FLOATS:
        st = attr_list(L, a, &list, &count);
        if (!st) rc = xcnn_node_add_attr_floats(n, a->name, list, (int)count);
        break;
    case AT_INTS:
        st = attr_list(L, a, &list, &count);
        if (!st) rc = xcnn_node_add_attr_ints(n, a->name, list, (int)count);
        break;
    case AT_TENSOR: st = add_tensor_attr(L, node, a); break;
    }
    free(list);
    free(s);
    if (!st && rc) st = nomem(L->err);
    return st;
}

static xcnn_status add_node_attrs(loader *L, int node, const pnode *pn)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    xcnn_pb_init(&r, pn->msg.p, pn->msg.n);
    for (;;) {
        xcnn_status st = xcnn_pb_next(&r, &f, &more, "node", L->err);
        if (st || !more) return st;
        if (f.number != NODE_ATTRIBUTE) continue;
        pattr a;
        st = read_attr(L, (slice){f.data, f.len}, pn->name, &a);
        if (!st) st = add_attr(L, node, &a);
        pattr_free(&a);
        if (st) return st;
    }
}

/* ---- nodes -------------------------------------------------------------- */

static void pnode_free(pnode *pn)
{
    free(pn->name);
    free(pn->op_type);
    free(pn->in_names);
    free(pn->out_names);
    free(pn->in);
    free(pn->out);
}

/* Read a NodeProto's names, op type, domain, inputs and outputs. */
static xcnn_status read_node(loader *L, int k, pnode *pn)
{
    slice msg = L->node_msgs[k], name = {NULL, 0}, op = {NULL, 0}, domain = {NULL, 0};
    size_t n_in = 0, n_out = 0, n_attr = 0;
    char what[300];
    xcnn_pb r;
    xcnn_pb_field f;
    int more;
    xcnn_status st;

    pn->msg = msg;
    xcnn_format(what, sizeof what, "node %d", k);
    for (int pass = 0; pass < 2; pass++) {
        xcnn_pb_init(&r, msg.p, msg.n);
        for (;;) {
            if ((st = xcnn_pb_next(&r, &f, &more, what, L->err))) return st;
            if (!more) break;
            slice s = {NULL, 0};
            if (f.number == NODE_INPUT || f.number == NODE_OUTPUT || f.number == NODE_NAME ||
                f.number == NODE_OP_TYPE || f.number == NODE_ATTRIBUTE ||
                f.number == NODE_DOMAIN)
                if ((st = want_bytes(&f, &s, what, L->err))) return st;
            if (f.number == NODE_INPUT) {
                if (pass) pn->in_names[pn->n_in++] = s;
                else n_in++;
            } else if (f.number == NODE_OUTPUT) {
                if (pass) pn->out_names[pn->n_out++] = s;
                else n_out++;
            } else if (f.number == NODE_NAME) {
                name = s;
            } else if (f.number == NODE_OP_TYPE) {
                op = s;
            } else if (f.number == NODE_DOMAIN) {
                domain = s;
            } else if (f.number == NODE_ATTRIBUTE && !pass) {
                n_attr++;
            }
        }
        if (pass) break;
        if (n_in > INT_MAX / 4 || n_out > INT_MAX / 4 || n_attr > MAX_NODE_ATTRS)
            return xcnn_fail(L->err, XCNN_ERR_LIMIT,
                             "%s has %zu inputs, %zu outputs and %zu attributes", what, n_in,
                             n_out, n_attr);
        pn->in_names = malloc((n_in ? n_in : 1) * sizeof(slice));
        pn->out_names = malloc((n_out ? n_out : 1) * sizeof(slice));
        if (!pn->in_names || !pn->out_names) return nomem(L->err);
    }
    if ((st = str_copy(op, &pn->op_type, what, L->err))) return st;
    if (!pn->op_type[0]) return xcnn_fail(L->err, XCNN_ERR_FORMAT, "%s has no op_type", what);
    if (name.n) {
        if ((st = str_copy(name, &pn->name, what, L->err))) return st;
    } else {
        xcnn_format(what, sizeof what, "_%d", k);
        if (!(pn->name = join(pn->op_type, "", what))) return nomem(L->err);
    }
    if (!slice_is(domain, "") && !slice_is(domain, "ai.onnx")) {
        char *d = NULL;
        if ((st = str_copy(domain, &d, "domain", L->err))) return st;
        st = xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                       "node '%s' (%s) is in domain '%s'; libxcnn runs the default ONNX "
                       "domain only", pn->name, pn->op_type, d);
        free(d);
        return st;
    }
    while (pn->n_out > 0 && pn->out_names[pn->n_out - 1].n == 0) pn->n_out--;
    if (pn->n_out == 0)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "node '%s' (%s) has no outputs", pn->name,
                         pn->op_type);
    pn->constant = strcmp(pn->op_type, "Constant") == 0;
    return XCNN_OK;
}

/* A Constant node's value as a tensor we own. */
static xcnn_status constant_value(loader *L, const pnode *pn, const pattr *a, ptensor *pt,
                                  int *found)
{
    const char *nm = a->name;
    size_t n = 0;
    void *list = NULL;
    xcnn_status st;
    int is_value = !strcmp(nm, "value") || !strcmp(nm, "value_float") ||
                   !strcmp(nm, "value_floats") || !strcmp(nm, "value_int") ||
                   !strcmp(nm, "value_ints");
    if (!strcmp(nm, "sparse_value") || !strcmp(nm, "value_string") ||
        !strcmp(nm, "value_strings"))
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "Constant node '%s': attribute '%s' is not supported", pn->name, nm);
    /* Constant has no other attribute in any opset: one we do not know
     * could mean another value. */
    if (!is_value)
        return xcnn_fail(L->err, XCNN_ERR_UNSUPPORTED,
                         "node '%s' (Constant): unknown attribute '%s' (Constant takes value, "
                         "value_float, value_floats, value_int, value_ints): refused, as it "
                         "could change the result", pn->name, nm);
    if ((*found)++)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "Constant node '%s' has more than one value",
                         pn->name);
    int want = !strcmp(nm, "value") ? AT_TENSOR
               : !strcmp(nm, "value_float") ? AT_FLOAT
               : !strcmp(nm, "value_floats") ? AT_FLOATS
               : !strcmp(nm, "value_int") ? AT_INT : AT_INTS;
    if (a->type != want)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "Constant node '%s': '%s' has type %s",
                         pn->name, nm, attr_type_name(a->type));
    if (want == AT_TENSOR) return read_tensor(L, a->t, pn->name, pt);
    memset(pt, 0, sizeof *pt);
    if (want == AT_FLOAT || want == AT_INT) {
        pt->numel = 1;
        pt->ndim = 0;
        if (want == AT_FLOAT && (pt->data = malloc(sizeof(float)))) pt->data[0] = a->f;
        if (want == AT_INT && (pt->idata = malloc(sizeof(int64_t)))) pt->idata[0] = a->i;
        return (pt->data || pt->idata) ? XCNN_OK : nomem(L->err);
    }
    if ((st = attr_list(L, a, &list, &n))) {
        free(list);
        return st;
    }
    if (n > L->max_elems) {
        free(list);
        return xcnn_fail(L->err, XCNN_ERR_LIMIT, "Constant node '%s': %zu values", pn->name, n);
    }
    pt->ndim = 1;
    pt->dims[0] = (int64_t)n;
    pt->numel = n;
    if (want == AT_FLOATS) pt->data = list;
    else pt->idata = list;
    return XCNN_OK;
}

/* A Constant node becomes a const tensor named after its output. */
static xcnn_status add_constant(loader *L, const pnode *pn)
{
    xcnn_pb r;
    xcnn_pb_field f;
    int more, found = 0;
    ptensor pt;
    xcnn_status st = XCNN_OK;
    memset(&pt, 0, sizeof pt);
    if (pn->n_in != 0 || pn->n_out != 1)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT,
                         "Constant node '%s' has %d inputs and %d outputs (expected 0 and 1)",
                         pn->name, pn->n_in, pn->n_out);
    xcnn_pb_init(&r, pn->msg.p, pn->msg.n);
    while (!st) {
        if ((st = xcnn_pb_next(&r, &f, &more, "node", L->err)) || !more) break;
        if (f.number != NODE_ATTRIBUTE) continue;
        pattr a;
        st = read_attr(L, (slice){f.data, f.len}, pn->name, &a);
        if (!st) st = constant_value(L, pn, &a, &pt, &found);
        pattr_free(&a);
    }
    if (!st && !found)
        st = xcnn_fail(L->err, XCNN_ERR_FORMAT, "Constant node '%s' has no value", pn->name);
    char *name = NULL;
    int idx;
    if (!st) st = str_copy(pn->out_names[0], &name, "output name", L->err);
    if (!st) st = new_tensor(L, name, XCNN_T_CONST, "a Constant node", &idx);
    if (!st) st = commit_tensor(L, idx, &pt);
    free(name);
    ptensor_free(&pt);
    return st;
}

/* A compute node's outputs become activation tensors. An empty output name
 * between others (an omitted optional output) gets a name of its own. */
static xcnn_status add_node_outputs(loader *L, pnode *pn)
{
    char by[300];
    xcnn_format(by, sizeof by, "node '%s'", pn->name);
    pn->out = malloc((size_t)pn->n_out * sizeof(int));
    if (!pn->out) return nomem(L->err);
    for (int i = 0; i < pn->n_out; i++) {
        char *name = NULL, num[24];
        xcnn_status st = str_copy(pn->out_names[i], &name, "output name", L->err);
        if (st) return st;
        if (!name[0]) {
            free(name);
            xcnn_format(num, sizeof num, ":unused%d", i);
            if (!(name = join(pn->name, "", num))) return nomem(L->err);
        }
        st = new_tensor(L, name, XCNN_T_ACTIVATION, by, &pn->out[i]);
        free(name);
        if (st) return st;
    }
    return XCNN_OK;
}

/* Every input name must be a tensor we know; "" is an omitted input. */
static xcnn_status resolve_inputs(loader *L, pnode *pn)
{
    pn->in = malloc((size_t)(pn->n_in ? pn->n_in : 1) * sizeof(int));
    if (!pn->in) return nomem(L->err);
    for (int i = 0; i < pn->n_in; i++) {
        slice s = pn->in_names[i];
        pn->in[i] = s.n ? map_find(L, s.p, s.n) : -1;
        if (s.n && pn->in[i] < 0) {
            char *name = NULL;
            xcnn_status st = str_copy(s, &name, "input name", L->err);
            if (!st)
                st = xcnn_fail(L->err, XCNN_ERR_FORMAT,
                               "node '%s' (%s): input '%s' is not produced by any node, "
                               "initializer or graph input", pn->name, pn->op_type, name);
            free(name);
            return st;
        }
    }
    return XCNN_OK;
}

static xcnn_status read_nodes(loader *L)
{
    L->pn = calloc((size_t)(L->n_nodes ? L->n_nodes : 1), sizeof *L->pn);
    if (!L->pn) return nomem(L->err);
    for (int k = 0; k < L->n_nodes; k++) {
        xcnn_status st = read_node(L, k, &L->pn[k]);
        if (!st) st = L->pn[k].constant ? add_constant(L, &L->pn[k])
                                        : add_node_outputs(L, &L->pn[k]);
        if (st) return st;
    }
    for (int k = 0; k < L->n_nodes; k++) {
        if (L->pn[k].constant) continue;
        xcnn_status st = resolve_inputs(L, &L->pn[k]);
        if (st) return st;
    }
    return XCNN_OK;
}

static xcnn_status set_graph_output(loader *L)
{
    slice name, type;
    int have_type;
    if (L->n_outputs < 1) return xcnn_fail(L->err, XCNN_ERR_FORMAT, "graph has no output");
    xcnn_status st = read_value_info(L, L->output_msgs[0], &name, &type, &have_type);
    if (st) return st;
    L->g->output = map_find(L, name.p, name.n);
    if (L->g->output >= 0) return XCNN_OK;
    char *s = NULL;
    st = str_copy(name, &s, "graph output name", L->err);
    if (!st)
        st = xcnn_fail(L->err, XCNN_ERR_FORMAT,
                       "graph output '%s' is not produced by any node", s);
    free(s);
    return st;
}

/* ---- topological order (Kahn's algorithm) ------------------------------ */

typedef struct sorter {
    int *src;      /* per tensor: index of the pnode producing it, or -1  */
    int *indeg;    /* per pnode: inputs whose producer is not yet placed   */
    int *start;    /* per pnode: its consumers are adj[start[k]..start[k+1]) */
    int *adj;
    int *order;    /* result: pnode indices                               */
} sorter;

static void sorter_free(sorter *s)
{
    free(s->src);
    free(s->indeg);
    free(s->start);
    free(s->adj);
    free(s->order);
}

/* After Kahn stops short, walk back along unplaced producers: after as many
 * steps as there are nodes the walk is inside a cycle. */
static int node_on_cycle(const loader *L, const sorter *s)
{
    int k = 0;
    while (k < L->n_nodes && (L->pn[k].constant || s->indeg[k] == 0)) k++;
    for (int step = 0; step < L->n_nodes; step++) {
        const pnode *pn = &L->pn[k];
        for (int i = 0; i < pn->n_in; i++) {
            int p = pn->in[i] >= 0 ? s->src[pn->in[i]] : -1;
            if (p >= 0 && s->indeg[p] > 0) {
                k = p;
                break;
            }
        }
    }
    return k;
}

/* Fill s->order with the compute nodes, producers before consumers. Among
 * nodes that are ready the file's order is kept. */
static xcnn_status sort_nodes(loader *L, sorter *s, int *count)
{
    int N = L->n_nodes, T = L->g->n_tensors, n_edges = 0, sorted = 1;
    *count = 0;
    s->src = malloc((size_t)(T ? T : 1) * sizeof(int));
    s->indeg = calloc((size_t)N + 1, sizeof(int));
    s->start = calloc((size_t)N + 2, sizeof(int));
    s->order = malloc((size_t)(N ? N : 1) * sizeof(int));
    if (!s->src || !s->indeg || !s->start || !s->order) return nomem(L->err);
    for (int t = 0; t < T; t++) s->src[t] = -1;
    for (int k = 0; k < N; k++)
        for (int i = 0; !L->pn[k].constant && i < L->pn[k].n_out; i++)
            s->src[L->pn[k].out[i]] = k;
    for (int k = 0; k < N; k++) {
        const pnode *pn = &L->pn[k];
        for (int i = 0; !pn->constant && i < pn->n_in; i++) {
            int p = pn->in[i] >= 0 ? s->src[pn->in[i]] : -1;
            if (p < 0) continue;
            if (p >= k) sorted = 0;
            s->indeg[k]++;
            s->start[p + 1]++;
            if (n_edges == INT_MAX) return xcnn_fail(L->err, XCNN_ERR_LIMIT, "too many edges");
            n_edges++;
        }
    }
    if (sorted) { /* the usual case: the file is in order already */
        for (int k = 0; k < N; k++)
            if (!L->pn[k].constant) s->order[(*count)++] = k;
        return XCNN_OK;
    }
    /* Consumers of each node, as one array indexed by start[]. */
    for (int k = 0; k < N; k++) s->start[k + 1] += s->start[k];
    s->adj = malloc((size_t)(n_edges ? n_edges : 1) * sizeof(int));
    int *fill = calloc((size_t)N + 1, sizeof(int));
    if (!s->adj || !fill) {
        free(fill);
        return nomem(L->err);
    }
    for (int k = 0; k < N; k++) {
        const pnode *pn = &L->pn[k];
        for (int i = 0; !pn->constant && i < pn->n_in; i++) {
            int p = pn->in[i] >= 0 ? s->src[pn->in[i]] : -1;
            if (p >= 0) s->adj[s->start[p] + fill[p]++] = k;
        }
    }
    free(fill);
    /* order[] doubles as the FIFO queue: [head, *count) are ready. */
    for (int k = 0; k < N; k++)
        if (!L->pn[k].constant && s->indeg[k] == 0) s->order[(*count)++] = k;
    for (int head = 0; head < *count; head++) {
        int p = s->order[head];
        for (int e = s->start[p]; e < s->start[p + 1]; e++)
            if (--s->indeg[s->adj[e]] == 0) s->order[(*count)++] = s->adj[e];
    }
    int n_compute = 0;
    for (int k = 0; k < N; k++) n_compute += !L->pn[k].constant;
    if (*count < n_compute)
        return xcnn_fail(L->err, XCNN_ERR_FORMAT, "graph has a cycle through node '%s'",
                         L->pn[node_on_cycle(L, s)].name);
    return XCNN_OK;
}

static xcnn_status add_nodes(loader *L)
{
    sorter s;
    int count;
    memset(&s, 0, sizeof s);
    xcnn_status st = sort_nodes(L, &s, &count);
    for (int j = 0; j < count && !st; j++) {
        const pnode *pn = &L->pn[s.order[j]];
        int idx = xcnn_graph_add_node(L->g, pn->name, pn->op_type, pn->in, pn->n_in, pn->out,
                                      pn->n_out);
        st = idx < 0 ? nomem(L->err) : add_node_attrs(L, idx, pn);
    }
    sorter_free(&s);
    return st;
}

/* ---- entry point -------------------------------------------------------- */

static void loader_free(loader *L)
{
    for (int k = 0; L->pn && k < L->n_nodes; k++) pnode_free(&L->pn[k]);
    free(L->pn);
    free(L->node_msgs);
    free(L->init_msgs);
    free(L->input_msgs);
    free(L->output_msgs);
    free(L->map);
}

xcnn_status xcnn_onnx_parse(const uint8_t *data, size_t size, const xcnn_load_options *opts,
                            xcnn_graph **out, xcnn_err *err)
{
    if (!out) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_onnx_parse: out is NULL");
    *out = NULL;
    if (!data && size) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_onnx_parse: data is NULL");
    uint64_t max_file = opts && opts->max_file_bytes ? opts->max_file_bytes
                                                     : DEFAULT_MAX_FILE_BYTES;
    if ((uint64_t)size > max_file)
        return xcnn_fail(err, XCNN_ERR_LIMIT,
                         "ONNX file is %zu bytes, over the limit of %llu "
                         "(xcnn_load_options.max_file_bytes)", size,
                         (unsigned long long)max_file);

    loader L;
    memset(&L, 0, sizeof L);
    L.err = err;
    L.max_elems = opts && opts->max_tensor_elems ? opts->max_tensor_elems
                                                 : DEFAULT_MAX_TENSOR_ELEMS;
    if (L.max_elems > HARD_MAX_ELEMS) L.max_elems = HARD_MAX_ELEMS;
    L.max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEFAULT_MAX_NODES;
    L.input_dims = opts ? opts->input_dims : NULL;
    L.g = xcnn_graph_new();
    if (!L.g) return nomem(err);

    slice graph = {NULL, 0};
    xcnn_status st = read_model(&L, data, size, &graph);
    if (!st) st = read_graph(&L, graph);
    if (!st) st = add_initializers(&L);
    if (!st) st = add_graph_input(&L);
    if (!st) st = read_nodes(&L);
    if (!st) st = set_graph_output(&L);
    if (!st) st = add_nodes(&L);
    loader_free(&L);
    if (st) {
        xcnn_graph_free(L.g);
        return st;
    }
    *out = L.g;
    return XCNN_OK;
}
