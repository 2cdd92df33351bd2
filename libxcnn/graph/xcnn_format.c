/*
 * The .xcnn model format (layout in xcnn_format.h): a graph written as
 * libxcnn holds it, read back with graph.c's builders.
 *
 * Writing measures first (the tables' size fixes where the weights go),
 * then fills one buffer of the exact size: tables, zero padding to 64, the
 * weights each on a multiple of 64, and last the CRC-32 over it all.
 *
 * Reading trusts nothing: the header (magic, version, size, checksum,
 * counts against the load limits and against the bytes that could hold
 * them) is checked before anything is allocated; every record is read
 * through a cursor that refuses to pass the end of the tables; every index
 * is checked against the tensor count, every tensor against its kind, and
 * the nodes against topological order. Weights are copied, or with
 * in_place used where they lie (64-byte aligned by construction).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xcnn_format.h"
#include "../io/atomic_file.h"
#include "../io/inflate.h" /* xcnn_crc32 */

static const unsigned char MAGIC[8] = {0x89, 'X', 'C', 'N', 'N', 0x0d, 0x0a, 0x1a};

/* Header field offsets. */
enum {
    H_VERSION = 8, H_FLAGS = 12, H_SIZE = 16, H_CRC = 24, H_HEADER = 28, H_TENSORS = 32,
    H_NODES = 36, H_META = 40, H_OPSET = 44, H_INPUT = 48, H_OUTPUT = 52, H_DATA = 56
};

/* The smallest records: a string is 5 bytes (length, NUL); a tensor 9, a
 * node 22, a metadata entry 10. Counts in the header are held to what the
 * tables could hold before anything is allocated for them. */
#define MIN_STRING 5
#define MIN_TENSOR (MIN_STRING + 4)
#define MIN_NODE (2 * MIN_STRING + 12)
#define MIN_META (2 * MIN_STRING)

/* As onnx.c: more than any exporter writes, and bounds a hostile file. */
#define MAX_METADATA 256
#define MAX_NODE_ATTRS 1024
#define DEFAULT_MAX_FILE_BYTES ((uint64_t)1 << 30)
#define DEFAULT_MAX_TENSOR_ELEMS ((uint64_t)256 << 20)
#define DEFAULT_MAX_NODES ((uint64_t)100000)
/* The opsets onnx.c accepts. */
#define MIN_OPSET 7
#define MAX_OPSET 18

static int host_little_endian(void)
{
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void set32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void set64(unsigned char *p, uint64_t v)
{
    set32(p, (uint32_t)v);
    set32(p + 4, (uint32_t)(v >> 32));
}

static size_t align_up(size_t n) { return (n + XCNN_FORMAT_ALIGN - 1) & ~(size_t)(XCNN_FORMAT_ALIGN - 1); }

int xcnn_format_is_image(const void *data, size_t size)
{
    return data && size >= sizeof MAGIC && memcmp(data, MAGIC, sizeof MAGIC) == 0;
}

/* CRC-32 of the image with the checksum field read as zero. */
static uint32_t image_crc(const unsigned char *p, size_t size)
{
    static const unsigned char zero[4] = {0, 0, 0, 0};
    uint32_t crc = xcnn_crc32(0, p, H_CRC);
    crc = xcnn_crc32(crc, zero, 4);
    return xcnn_crc32(crc, p + H_CRC + 4, size - H_CRC - 4);
}

/* ---- writing ------------------------------------------------------------ */

/* A cursor over the output: with p NULL it only counts (the measuring
 * pass), else it writes into a buffer made the measured size. */
typedef struct wbuf {
    unsigned char *p;
    size_t n;
} wbuf;

static void w_bytes(wbuf *b, const void *src, size_t len)
{
    if (b->p && len) memcpy(b->p + b->n, src, len);
    b->n += len;
}

static void w_u8(wbuf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    w_bytes(b, &c, 1);
}

static void w_u32(wbuf *b, uint32_t v)
{
    unsigned char c[4];
    set32(c, v);
    w_bytes(b, c, 4);
}

static void w_u64(wbuf *b, uint64_t v)
{
    unsigned char c[8];
    set64(c, v);
    w_bytes(b, c, 8);
}

static void w_f32(wbuf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    w_u32(b, u);
}

static void w_str(wbuf *b, const char *s)
{
    size_t len = strlen(s ? s : "");
    w_u32(b, (uint32_t)len);
    w_bytes(b, s ? s : "", len);
    w_u8(b, 0);
}

/* What is written: the nodes that run, a fused Conv+Relu (or Clip) as the two nodes
 * it came from (Conv+Add+Relu as the three), and the tensors they name,
 * renumbered in their order. */
typedef struct wplan {
    int *tmap;      /* graph tensor -> file tensor, -1 if not written   */
    int *relu_of;   /* per node: the Relu or Clip fused into this Conv,
                       or -1                                             */
    int *add_of;    /* per node: the Add fused into this Conv, or -1    */
    int *pool_of;   /* per node: the MaxPool fused into this Conv, or -1 */
    int n_tensors, n_nodes;
    uint64_t *offset; /* per graph tensor: its data's offset (consts)    */
    size_t data_offset, total;
} wplan;

static void wplan_free(wplan *w)
{
    free(w->tmap);
    free(w->relu_of);
    free(w->add_of);
    free(w->pool_of);
    free(w->offset);
}

static size_t elem_bytes(const xcnn_tensor *t) { return t->dtype == XCNN_DT_INT64 ? 8 : 4; }

static void mark(wplan *w, int t)
{
    if (t >= 0) w->tmap[t] = 1;
}

/* The input of fused Add a that its Conv computed: the one that is not
 * the Conv's residual (in[3]). */
static int add_conv_input(const xcnn_node *a, const xcnn_node *conv)
{
    return a->in[0] == conv->in[3] ? a->in[1] : a->in[0];
}

/* Node i's output k as it is written: a Conv with a fused Add writes the
 * Add's other input, else one with a fused ReLU or Clip writes the tensor
 * its Relu or Clip reads, else one with a fused MaxPool the tensor the
 * pool reads (those nodes follow it in the file). */
static int out_written(const xcnn_graph *g, const wplan *w, int i, int k)
{
    const xcnn_node *n = &g->nodes[i];
    if (k == 0 && w->add_of[i] >= 0) return add_conv_input(&g->nodes[w->add_of[i]], n);
    if (k == 0 && w->relu_of[i] >= 0) return g->nodes[w->relu_of[i]].in[0];
    if (k == 0 && w->pool_of[i] >= 0) return g->nodes[w->pool_of[i]].in[0];
    return n->out[k];
}

/* The fused Add's output as it is written: what the Relu or Clip after it
 * reads, if there is one. */
static int add_out_written(const xcnn_graph *g, const wplan *w, int i)
{
    if (w->relu_of[i] >= 0) return g->nodes[w->relu_of[i]].in[0];
    return g->nodes[w->add_of[i]].out[0];
}

/* The Add fused into Conv n (fuse.c's fused_add): the folded Add whose
 * output the conv now writes and that reads n's residual; -1 if none is
 * left. */
static int find_fused_add(const xcnn_graph *g, const xcnn_node *n)
{
    for (int j = 0; j < g->n_nodes; j++) {
        const xcnn_node *a = &g->nodes[j];
        if (a->folded && a->n_in == 2 && a->n_out == 1 && !strcmp(a->op_type, "Add") &&
            a->out[0] == n->out[0] && (a->in[0] == n->in[3] || a->in[1] == n->in[3]))
            return j;
    }
    return -1;
}

/* Inputs written for node n: a Conv with a fused Add without its residual. */
static int inputs_written(const xcnn_node *n)
{
    return n->fused_add ? (n->in[2] >= 0 ? 3 : 2) : n->n_in;
}

static xcnn_status check_const(const xcnn_tensor *t, xcnn_err *err)
{
    if (t->ndim < 0 || t->ndim > XCNN_MAX_DIMS)
        return xcnn_fail(err, XCNN_ERR_ARG, "constant '%s' has no shape to write", t->name);
    if (t->dtype != XCNN_DT_FLOAT && t->dtype != XCNN_DT_INT64)
        return xcnn_fail(err, XCNN_ERR_ARG, "constant '%s' has data type %d", t->name,
                         (int)t->dtype);
    if ((t->dtype == XCNN_DT_FLOAT && !t->data) || (t->dtype == XCNN_DT_INT64 && !t->idata))
        return xcnn_fail(err, XCNN_ERR_ARG, "constant '%s' has no value to write (a model "
                         "loaded inference_only frees the Conv weights it converts)", t->name);
    return XCNN_OK;
}

static xcnn_status plan_write(const xcnn_graph *g, wplan *w, xcnn_err *err)
{
    size_t nt = (size_t)(g->n_tensors ? g->n_tensors : 1), nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
    w->tmap = calloc(nt, sizeof(int));
    w->relu_of = malloc(nn * sizeof(int));
    w->add_of = malloc(nn * sizeof(int));
    w->pool_of = malloc(nn * sizeof(int));
    w->offset = calloc(nt, sizeof(uint64_t));
    int *relu_by_out = malloc(2 * nt * sizeof(int)), *pool_by_out = relu_by_out + nt;
    if (!w->tmap || !w->relu_of || !w->add_of || !w->pool_of || !w->offset || !relu_by_out) {
        free(relu_by_out);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing .xcnn");
    }
    if (g->output < 0 || g->output >= g->n_tensors)
        goto no_output;
    /* Relus, Clips and MaxPools that fuse.c folded into their Conv, by
     * the tensor they made. */
    for (int t = 0; t < g->n_tensors; t++) relu_by_out[t] = pool_by_out[t] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const xcnn_node *n = &g->nodes[i];
        if (!n->folded || n->n_in < 1 || n->n_out < 1 || n->out[0] < 0 ||
            g->tensors[n->out[0]].kind == XCNN_T_CONST)
            continue;
        if (!strcmp(n->op_type, "Relu") || !strcmp(n->op_type, "Clip"))
            relu_by_out[n->out[0]] = i;
        if (!strcmp(n->op_type, "MaxPool")) pool_by_out[n->out[0]] = i;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const xcnn_node *n = &g->nodes[i];
        w->relu_of[i] = w->add_of[i] = w->pool_of[i] = -1;
        if (n->folded) continue;
        /* what the conv and its activation make: the pool's input when a
         * pool follows them */
        int made = n->out[0];
        if (n->fused_pool) {
            int p = made >= 0 ? pool_by_out[made] : -1;
            if (p < 0 || g->nodes[p].in[0] < 0) {
                free(relu_by_out);
                return xcnn_fail(err, XCNN_ERR_ARG, "node '%s' (%s) has a fused MaxPool "
                                 "whose node is gone: cannot write it", n->name, n->op_type);
            }
            w->pool_of[i] = p;
            made = g->nodes[p].in[0];
            mark(w, made);
            mark(w, g->nodes[p].out[0]);
            w->n_nodes++;
        }
        if (n->fused_add) {
            int a = n->n_in == 4 ? find_fused_add(g, n) : -1;
            if (a < 0) {
                free(relu_by_out);
                return xcnn_fail(err, XCNN_ERR_ARG, "node '%s' (%s) has a fused Add whose "
                                 "node is gone: cannot write it", n->name, n->op_type);
            }
            w->add_of[i] = a;
            mark(w, g->nodes[a].in[0]);
            mark(w, g->nodes[a].in[1]);
            w->n_nodes++;
        }
        if (n->fused_relu || n->fused_clip) {
            int r = made >= 0 ? relu_by_out[made] : -1;
            if (r < 0 || g->nodes[r].in[0] < 0) {
                free(relu_by_out);
                return xcnn_fail(err, XCNN_ERR_ARG, "node '%s' (%s) has a fused %s whose "
                                 "node is gone: cannot write it", n->name, n->op_type,
                                 n->fused_relu ? "Relu" : "Clip");
            }
            w->relu_of[i] = r;
            mark(w, g->nodes[r].in[0]); /* what the conv, or its fused Add, writes */
            mark(w, g->nodes[r].out[0]);
            for (int k = 1; k < g->nodes[r].n_in; k++) mark(w, g->nodes[r].in[k]); /* Clip's bounds */
            w->n_nodes++;
        }
        w->n_nodes++;
        for (int k = 0; k < inputs_written(n); k++) mark(w, n->in[k]);
        for (int k = 0; k < n->n_out; k++) {
            int t = out_written(g, w, i, k);
            if (t < 0) {
                free(relu_by_out);
                return xcnn_fail(err, XCNN_ERR_ARG, "node '%s' (%s): output %d is missing",
                                 n->name, n->op_type, k);
            }
            mark(w, t);
        }
        for (int a = 0; a < n->n_attr; a++)
            if (n->attr[a].type == XCNN_ATTR_TENSOR) {
                int t = n->attr[a].tensor;
                if (t < 0 || t >= g->n_tensors || g->tensors[t].kind != XCNN_T_CONST) {
                    free(relu_by_out);
                    return xcnn_fail(err, XCNN_ERR_ARG, "node '%s' (%s): attribute '%s' names "
                                     "no constant", n->name, n->op_type, n->attr[a].name);
                }
                mark(w, t);
            }
    }
    free(relu_by_out);
    mark(w, g->input);
    mark(w, g->output);
    for (int t = 0; t < g->n_tensors; t++) {
        if (!w->tmap[t]) {
            w->tmap[t] = -1;
            continue;
        }
        w->tmap[t] = w->n_tensors++;
        if (g->tensors[t].kind == XCNN_T_CONST) {
            xcnn_status st = check_const(&g->tensors[t], err);
            if (st) return st;
        }
    }
    return XCNN_OK;
no_output:
    free(relu_by_out);
    return xcnn_fail(err, XCNN_ERR_ARG, "graph has no output to write");
}

static void put_tensor(wbuf *b, const xcnn_graph *g, const wplan *w, int t, int is_input)
{
    const xcnn_tensor *x = &g->tensors[t];
    w_str(b, x->name);
    w_u8(b, (unsigned)x->kind);
    w_u8(b, (unsigned)x->dtype);
    int ndim = x->kind == XCNN_T_ACTIVATION ? -1 : x->ndim;
    w_u8(b, (unsigned)(ndim & 0xff));
    w_u8(b, 0);
    for (int d = 0; d < ndim; d++)
        w_u64(b, (uint64_t)(is_input && d == 0 ? 1 : x->dims[d])); /* the batch: 1 */
    if (x->kind == XCNN_T_CONST) {
        w_u64(b, w->offset[t]);
        w_u64(b, (uint64_t)(xcnn_tensor_numel(x) * elem_bytes(x)));
    }
}

/* Node n; node_index >= 0: a running node (its outputs as out_written
 * says), else a fused node written after it, output 0 being out0. */
static void put_node(wbuf *b, const xcnn_graph *g, const wplan *w, const xcnn_node *n,
                     int node_index, int out0)
{
    int n_in = inputs_written(n);
    w_str(b, n->name);
    w_str(b, n->op_type);
    w_u32(b, (uint32_t)n_in);
    w_u32(b, (uint32_t)n->n_out);
    w_u32(b, (uint32_t)n->n_attr);
    for (int k = 0; k < n_in; k++) w_u32(b, (uint32_t)(n->in[k] >= 0 ? w->tmap[n->in[k]] : -1));
    for (int k = 0; k < n->n_out; k++) {
        int t = node_index >= 0 ? out_written(g, w, node_index, k) : k == 0 ? out0 : n->out[k];
        w_u32(b, (uint32_t)w->tmap[t]);
    }
    for (int a = 0; a < n->n_attr; a++) {
        const xcnn_attr *at = &n->attr[a];
        w_str(b, at->name);
        w_u8(b, (unsigned)at->type);
        switch (at->type) {
        case XCNN_ATTR_FLOAT: w_f32(b, at->f); break;
        case XCNN_ATTR_INT: w_u64(b, (uint64_t)at->i); break;
        case XCNN_ATTR_STRING: w_str(b, at->s); break;
        case XCNN_ATTR_TENSOR: w_u32(b, (uint32_t)w->tmap[at->tensor]); break;
        case XCNN_ATTR_FLOATS:
            w_u32(b, (uint32_t)at->n);
            for (int k = 0; k < at->n; k++) w_f32(b, at->floats[k]);
            break;
        case XCNN_ATTR_INTS:
            w_u32(b, (uint32_t)at->n);
            for (int k = 0; k < at->n; k++) w_u64(b, (uint64_t)at->ints[k]);
            break;
        }
    }
}

/* Header, tensors, nodes, metadata. */
static void put_tables(wbuf *b, const xcnn_graph *g, const wplan *w)
{
    unsigned char h[XCNN_FORMAT_HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h, MAGIC, sizeof MAGIC);
    set32(h + H_VERSION, XCNN_FORMAT_VERSION);
    set32(h + H_FLAGS, g->inference_only ? XCNN_FORMAT_FLAG_INFERENCE_ONLY : 0);
    set64(h + H_SIZE, (uint64_t)w->total);
    set32(h + H_HEADER, XCNN_FORMAT_HEADER_BYTES);
    set32(h + H_TENSORS, (uint32_t)w->n_tensors);
    set32(h + H_NODES, (uint32_t)w->n_nodes);
    set32(h + H_META, (uint32_t)g->n_meta);
    set32(h + H_OPSET, (uint32_t)g->opset);
    set32(h + H_INPUT, (uint32_t)(g->input >= 0 ? w->tmap[g->input] : -1));
    set32(h + H_OUTPUT, (uint32_t)w->tmap[g->output]);
    set64(h + H_DATA, (uint64_t)w->data_offset);
    w_bytes(b, h, sizeof h);
    for (int t = 0; t < g->n_tensors; t++)
        if (w->tmap[t] >= 0) put_tensor(b, g, w, t, t == g->input);
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].folded) continue;
        put_node(b, g, w, &g->nodes[i], i, -1);
        if (w->add_of[i] >= 0)
            put_node(b, g, w, &g->nodes[w->add_of[i]], -1, add_out_written(g, w, i));
        if (w->relu_of[i] >= 0) {
            const xcnn_node *r = &g->nodes[w->relu_of[i]];
            put_node(b, g, w, r, -1, r->out[0]);
        }
        if (w->pool_of[i] >= 0) {
            const xcnn_node *p = &g->nodes[w->pool_of[i]];
            put_node(b, g, w, p, -1, p->out[0]);
        }
    }
    for (int i = 0; i < g->n_meta; i++) {
        w_str(b, g->meta_key[i]);
        w_str(b, g->meta_value[i]);
    }
}

/* One const's values, little-endian, at p. */
static void put_data(unsigned char *p, const xcnn_tensor *t)
{
    size_t n = xcnn_tensor_numel(t);
    if (t->dtype == XCNN_DT_INT64) {
        for (size_t i = 0; i < n; i++) set64(p + 8 * i, (uint64_t)t->idata[i]);
    } else if (host_little_endian()) {
        memcpy(p, t->data, n * 4);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &t->data[i], 4);
            set32(p + 4 * i, u);
        }
    }
}

xcnn_status xcnn_format_encode(const xcnn_graph *g, unsigned char **out, size_t *out_len,
                               xcnn_err *err)
{
    if (!g || !out || !out_len) return xcnn_fail(err, XCNN_ERR_ARG, ".xcnn writer: NULL argument");
    *out = NULL;
    *out_len = 0;
    wplan w;
    memset(&w, 0, sizeof w);
    xcnn_status st = plan_write(g, &w, err);
    for (int i = 0; !st && i < g->n_meta; i++)
        if (!g->meta_key[i] || !g->meta_value[i])
            st = xcnn_fail(err, XCNN_ERR_ARG, "metadata entry %d is NULL", i);
    if (st) {
        wplan_free(&w);
        return st;
    }
    /* Measure the tables, then place the weights after them. */
    wbuf count = {NULL, 0};
    put_tables(&count, g, &w);
    size_t at = align_up(count.n);
    w.data_offset = w.total = at;
    for (int t = 0; t < g->n_tensors; t++) {
        const xcnn_tensor *x = &g->tensors[t];
        if (w.tmap[t] < 0 || x->kind != XCNN_T_CONST) continue;
        w.offset[t] = align_up(w.total);
        w.total = w.offset[t] + xcnn_tensor_numel(x) * elem_bytes(x);
    }
    /* The file ends with the last weight: any cut removes some of it. */
    unsigned char *p = calloc(w.total, 1);
    if (!p) {
        wplan_free(&w);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing .xcnn (%zu bytes)", w.total);
    }
    wbuf b = {p, 0};
    put_tables(&b, g, &w);
    for (int t = 0; t < g->n_tensors; t++)
        if (w.tmap[t] >= 0 && g->tensors[t].kind == XCNN_T_CONST)
            put_data(p + w.offset[t], &g->tensors[t]);
    set32(p + H_CRC, image_crc(p, w.total));
    wplan_free(&w);
    *out = p;
    *out_len = w.total;
    return XCNN_OK;
}

xcnn_status xcnn_format_write(const xcnn_graph *g, const char *path, xcnn_err *err)
{
    if (!path) return xcnn_fail(err, XCNN_ERR_ARG, ".xcnn writer: path is NULL");
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_status st = xcnn_format_encode(g, &bytes, &len, err);
    if (st) return st;
    st = xcnn_atomic_write_file(path, bytes, len, err);
    free(bytes);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

/* A cursor over the tables [pos, end): every read checks the end first. */
typedef struct reader {
    const unsigned char *p;
    size_t pos, end;
    xcnn_err *err;
} reader;

static xcnn_status truncated(reader *r, const char *what)
{
    return xcnn_fail(r->err, XCNN_ERR_FORMAT, ".xcnn tables end inside %s (byte %zu of %zu): "
                     "the file is truncated or corrupted", what, r->pos, r->end);
}

static xcnn_status need(reader *r, size_t n, const char *what)
{
    return n > r->end - r->pos ? truncated(r, what) : XCNN_OK;
}

static xcnn_status r_u8(reader *r, unsigned *v, const char *what)
{
    if (need(r, 1, what)) return XCNN_ERR_FORMAT;
    *v = r->p[r->pos++];
    return XCNN_OK;
}

static xcnn_status r_u32(reader *r, uint32_t *v, const char *what)
{
    if (need(r, 4, what)) return XCNN_ERR_FORMAT;
    *v = get32(r->p + r->pos);
    r->pos += 4;
    return XCNN_OK;
}

static xcnn_status r_u64(reader *r, uint64_t *v, const char *what)
{
    if (need(r, 8, what)) return XCNN_ERR_FORMAT;
    *v = get64(r->p + r->pos);
    r->pos += 8;
    return XCNN_OK;
}

/* A string in place: length, bytes, NUL, and no NUL inside. */
static xcnn_status r_str(reader *r, const char **s, const char *what)
{
    uint32_t len;
    if (r_u32(r, &len, what)) return XCNN_ERR_FORMAT;
    if (len >= r->end - r->pos) return truncated(r, what); /* no len + 1: 32-bit size_t */
    const char *p = (const char *)r->p + r->pos;
    if (p[len] != 0 || memchr(p, 0, len))
        return xcnn_fail(r->err, XCNN_ERR_FORMAT, ".xcnn: %s at byte %zu is not a string of "
                         "%u bytes ending in one NUL", what, r->pos, (unsigned)len);
    r->pos += (size_t)len + 1;
    *s = p;
    return XCNN_OK;
}

typedef struct loadctx {
    const unsigned char *img;
    size_t size;
    xcnn_graph *g;
    xcnn_err *err;
    uint64_t max_elems;
    const int64_t *input_dims;
    int in_place, borrow_names, le;
    uint64_t data_offset;
    uint64_t data_end;  /* where the last const's data ended */
    int n_inputs;
} loadctx;

static const char *kind_name(unsigned k)
{
    return k == XCNN_T_ACTIVATION ? "an activation" : k == XCNN_T_INPUT ? "the graph input"
                                                                         : "a constant";
}

/* A copy of s in the graph's memory, or s itself when names are borrowed. */
static char *keep_str(loadctx *c, const char *s)
{
    return c->borrow_names ? (char *)s : xcnn_mem_strdup(c->g->mem, s);
}

static xcnn_status nomem(loadctx *c)
{
    return xcnn_fail(c->err, XCNN_ERR_NOMEM, "out of memory while loading the .xcnn model");
}

/* A const's values: copied, or (in place) pointed at. */
static xcnn_status read_data(loadctx *c, xcnn_tensor *t, uint64_t off, uint64_t bytes)
{
    size_t n = xcnn_tensor_numel(t), width = t->dtype == XCNN_DT_INT64 ? 8 : 4;
    if (bytes != (uint64_t)n * width)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "constant '%s': %llu data bytes for %zu "
                         "elements of %zu bytes", t->name, (unsigned long long)bytes, n, width);
    if (off % XCNN_FORMAT_ALIGN)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "constant '%s': data at offset %llu, not a "
                         "multiple of %d", t->name, (unsigned long long)off, XCNN_FORMAT_ALIGN);
    if (off < c->data_end || off > c->size || bytes > c->size - off)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "constant '%s': data at bytes %llu..%llu, "
                         "outside the weights section %llu..%zu or overlapping the constant "
                         "before it", t->name, (unsigned long long)off,
                         (unsigned long long)(off + (bytes <= c->size ? bytes : 0)),
                         (unsigned long long)c->data_end, c->size);
    c->data_end = off + bytes;
    const unsigned char *src = c->img + off;
    if (t->dtype == XCNN_DT_FLOAT && c->in_place && c->le) {
        /* Floats must be read at their alignment; the kernels assume no
         * more (heap weights are only malloc-aligned). An image at a
         * 64-byte boundary puts every weight on a cache line, which a
         * device's flash or DMA may prefer, but nothing needs it. */
        if ((uintptr_t)src % _Alignof(float))
            return xcnn_fail(c->err, XCNN_ERR_ARG, "constant '%s': in-place weights need the "
                             ".xcnn image at an address aligned for floats (a multiple of %d; "
                             "64 is best); its data is at %p", t->name, (int)_Alignof(float),
                             (const void *)src);
        t->data = (float *)(uintptr_t)src;
        t->borrowed = 1;
        return XCNN_OK;
    }
    void *dst = xcnn_graph_alloc(c->g, n ? n * width : width);
    if (!dst) return nomem(c);
    if (t->dtype == XCNN_DT_INT64) {
        t->idata = dst;
        for (size_t i = 0; i < n; i++) t->idata[i] = (int64_t)get64(src + 8 * i);
    } else {
        t->data = dst;
        if (c->le) {
            memcpy(dst, src, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                uint32_t u = get32(src + 4 * i);
                memcpy(&t->data[i], &u, 4);
            }
        }
    }
    return XCNN_OK;
}

static xcnn_status read_tensor(loadctx *c, reader *r, int index)
{
    const char *name = NULL;
    unsigned kind, dtype, ndim_u, pad;
    xcnn_status st;
    if ((st = r_str(r, &name, "a tensor name")) || (st = r_u8(r, &kind, "a tensor")) ||
        (st = r_u8(r, &dtype, "a tensor")) || (st = r_u8(r, &ndim_u, "a tensor")) ||
        (st = r_u8(r, &pad, "a tensor")))
        return st;
    int ndim = ndim_u == 0xff ? -1 : (int)ndim_u;
    if (kind > XCNN_T_CONST)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "tensor %d ('%s'): kind %u is none of "
                         "0 (activation), 1 (input), 2 (constant)", index, name, kind);
    if (dtype != XCNN_DT_FLOAT && dtype != XCNN_DT_INT64)
        return xcnn_fail(c->err, XCNN_ERR_UNSUPPORTED, "tensor '%s': data type %u (libxcnn "
                         "keeps 1 float32 and 7 int64)", name, dtype);
    if (pad)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "tensor '%s': reserved byte is %u, not 0",
                         name, pad);
    if (kind == XCNN_T_ACTIVATION ? ndim != -1 : (ndim < 0 || ndim > XCNN_MAX_DIMS))
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "tensor '%s' (%s): %d dims", name,
                         kind_name(kind), ndim);
    if (kind == XCNN_T_INPUT && (dtype != XCNN_DT_FLOAT || ndim < 1))
        return xcnn_fail(c->err, XCNN_ERR_UNSUPPORTED, "graph input '%s' must be float32 with "
                         "a batch dimension", name);
    if (kind == XCNN_T_ACTIVATION && dtype != XCNN_DT_FLOAT)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "activation '%s' is not float32", name);
    int64_t dims[XCNN_MAX_DIMS];
    uint64_t total = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t v;
        if ((st = r_u64(r, &v, "a tensor's dims"))) return st;
        dims[d] = (int64_t)v;
        if (dims[d] < 0)
            return xcnn_fail(c->err, XCNN_ERR_SHAPE, "tensor '%s': dimension %d is %lld", name,
                             d, (long long)dims[d]);
        if (v > c->max_elems || (v && total > c->max_elems / v))
            return xcnn_fail(c->err, XCNN_ERR_LIMIT, "tensor '%s': more than %llu elements "
                             "(dimension %d is %lld); see xcnn_load_options.max_tensor_elems",
                             name, (unsigned long long)c->max_elems, d, (long long)dims[d]);
        total *= v;
    }
    if (kind == XCNN_T_INPUT) {
        if (dims[0] != 1)
            return xcnn_fail(c->err, XCNN_ERR_FORMAT, "graph input '%s': batch dimension %lld "
                             "in the file, not 1", name, (long long)dims[0]);
        for (int d = 1; d < ndim; d++) {
            const int64_t *given = c->input_dims;
            if (dims[d] < 1)
                return xcnn_fail(c->err, XCNN_ERR_SHAPE, "graph input '%s': dimension %d is "
                                 "%lld", name, d, (long long)dims[d]);
            if (given && given[d] && given[d] != dims[d])
                return xcnn_fail(c->err, XCNN_ERR_SHAPE, "graph input '%s': dimension %d is "
                                 "%lld in the file, not %lld (xcnn_load_options.input_dims)",
                                 name, d, (long long)dims[d], (long long)given[d]);
        }
        c->n_inputs++;
    }
    uint64_t off = 0, bytes = 0;
    if (kind == XCNN_T_CONST &&
        ((st = r_u64(r, &off, "a constant's data offset")) ||
         (st = r_u64(r, &bytes, "a constant's data size"))))
        return st;
    int idx = xcnn_graph_add_tensor(c->g, name, (xcnn_tensor_kind)kind);
    if (idx < 0) return nomem(c);
    xcnn_tensor *t = &c->g->tensors[idx];
    if (c->borrow_names) { /* the copy is the newest block: handed straight back */
        xcnn_graph_free_mem(c->g, t->name);
        t->name = (char *)name;
    }
    t->dtype = (xcnn_dtype)dtype;
    if (ndim >= 0 && (st = xcnn_tensor_set_shape(t, ndim, dims, c->err))) return st;
    if (kind == XCNN_T_CONST) return read_data(c, t, off, bytes);
    return XCNN_OK;
}

/* Names must be unique (lookups by name take the first): an
 * open-addressing set of tensor indices, FNV-1a over the names. */
static xcnn_status check_unique_names(loadctx *c)
{
    xcnn_graph *g = c->g;
    size_t cap = 16;
    while (cap < (size_t)g->n_tensors * 2) cap *= 2;
    int *set = xcnn_graph_alloc(g, cap * sizeof(int));
    if (!set) return nomem(c);
    for (size_t i = 0; i < cap; i++) set[i] = -1;
    xcnn_status st = XCNN_OK;
    for (int t = 0; t < g->n_tensors && !st; t++) {
        uint32_t h = 2166136261u;
        for (const unsigned char *s = (const unsigned char *)g->tensors[t].name; *s; s++)
            h = (h ^ *s) * 16777619u;
        size_t k = h & (cap - 1);
        while (set[k] >= 0 && strcmp(g->tensors[set[k]].name, g->tensors[t].name)) k = (k + 1) & (cap - 1);
        if (set[k] >= 0)
            st = xcnn_fail(c->err, XCNN_ERR_FORMAT, "two tensors are named '%s' (%d and %d)",
                           g->tensors[t].name, set[k], t);
        set[k] = t;
    }
    xcnn_graph_free_mem(g, set);
    return st;
}

/* i32 values of a node's inputs or outputs, checked. */
static xcnn_status read_edges(loadctx *c, reader *r, const char *node, const char *op, int *v,
                              uint32_t count, int outputs, int node_index)
{
    xcnn_graph *g = c->g;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t u;
        xcnn_status st = r_u32(r, &u, outputs ? "a node's outputs" : "a node's inputs");
        if (st) return st;
        int32_t t = (int32_t)u;
        const char *what = outputs ? "output" : "input";
        if (t < (outputs ? 0 : -1) || t >= g->n_tensors)
            return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): %s %u is tensor %d, "
                             "outside 0..%d", node, op, what, (unsigned)k, (int)t,
                             g->n_tensors - 1);
        v[k] = (int)t;
        if (t < 0) continue;
        xcnn_tensor *x = &g->tensors[t];
        if (outputs) {
            if (x->kind != XCNN_T_ACTIVATION)
                return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): output '%s' is %s, "
                                 "not an activation", node, op, x->name, kind_name(x->kind));
            if (x->producer >= 0)
                return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): output '%s' is "
                                 "made by an earlier node too", node, op, x->name);
            x->producer = node_index; /* add_node sets the same; a repeat is caught here */
        } else if (x->kind == XCNN_T_ACTIVATION && x->producer < 0) {
            return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): input '%s' is not made "
                             "by an earlier node (nodes must be in topological order)", node,
                             op, x->name);
        }
    }
    return XCNN_OK;
}

/* Attributes of TENSOR type have no builder in graph.c: appended here, as
 * onnx.c does. */
static xcnn_status add_tensor_attr(loadctx *c, xcnn_node *n, const char *name, int tensor)
{
    xcnn_attr *a = xcnn_mem_realloc(n->mem, n->attr, (size_t)n->n_attr * sizeof *a,
                                    (size_t)(n->n_attr + 1) * sizeof *a);
    if (!a) return nomem(c);
    n->attr = a;
    xcnn_attr *at = &a[n->n_attr];
    memset(at, 0, sizeof *at);
    at->name = xcnn_mem_strdup(n->mem, name);
    if (!at->name) return nomem(c);
    at->type = XCNN_ATTR_TENSOR;
    at->tensor = tensor;
    n->n_attr++;
    return XCNN_OK;
}

/* A list attribute's values decoded into scratch: a small one on the
 * stack, a larger one from the graph's memory (handed back at once). */
#define SMALL_LIST 64

static xcnn_status read_attr(loadctx *c, reader *r, xcnn_node *n)
{
    const char *name = NULL;
    unsigned type;
    xcnn_status st;
    if ((st = r_str(r, &name, "an attribute name")) || (st = r_u8(r, &type, "an attribute")))
        return st;
    int rc = 0;
    switch (type) {
    case XCNN_ATTR_FLOAT: {
        uint32_t u;
        float f;
        if ((st = r_u32(r, &u, "a float attribute"))) return st;
        memcpy(&f, &u, 4);
        rc = xcnn_node_add_attr_float(n, name, f);
        break;
    }
    case XCNN_ATTR_INT: {
        uint64_t u;
        if ((st = r_u64(r, &u, "an int attribute"))) return st;
        rc = xcnn_node_add_attr_int(n, name, (int64_t)u);
        break;
    }
    case XCNN_ATTR_STRING: {
        const char *s = NULL;
        if ((st = r_str(r, &s, "a string attribute"))) return st;
        rc = xcnn_node_add_attr_string(n, name, s);
        break;
    }
    case XCNN_ATTR_TENSOR: {
        uint32_t u;
        if ((st = r_u32(r, &u, "a tensor attribute"))) return st;
        int32_t t = (int32_t)u;
        if (t < 0 || t >= c->g->n_tensors || c->g->tensors[t].kind != XCNN_T_CONST)
            return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): attribute '%s' names "
                             "tensor %d, which is not a constant", n->name, n->op_type, name,
                             (int)t);
        return add_tensor_attr(c, n, name, t);
    }
    case XCNN_ATTR_FLOATS:
    case XCNN_ATTR_INTS: {
        uint32_t count;
        size_t width = type == XCNN_ATTR_INTS ? 8 : 4;
        if ((st = r_u32(r, &count, "a list attribute"))) return st;
        if (count > (r->end - r->pos) / width || count > INT_MAX / 8)
            return truncated(r, "a list attribute");
        int64_t small_i[SMALL_LIST];
        float small_f[SMALL_LIST];
        void *big = NULL;
        if (count > SMALL_LIST && !(big = xcnn_graph_alloc(c->g, (size_t)count * width)))
            return nomem(c);
        int64_t *iv = big ? big : small_i;
        float *fv = big ? big : small_f;
        const unsigned char *p = r->p + r->pos;
        for (uint32_t k = 0; k < count; k++) {
            if (type == XCNN_ATTR_INTS) {
                iv[k] = (int64_t)get64(p + 8 * k);
            } else {
                uint32_t u = get32(p + 4 * k);
                memcpy(&fv[k], &u, 4);
            }
        }
        r->pos += (size_t)count * width;
        rc = type == XCNN_ATTR_INTS ? xcnn_node_add_attr_ints(n, name, iv, (int)count)
                                    : xcnn_node_add_attr_floats(n, name, fv, (int)count);
        if (big) xcnn_graph_free_mem(c->g, big);
        break;
    }
    default:
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s): attribute '%s' has type "
                         "%u (libxcnn keeps 1 float, 2 int, 3 string, 4 tensor, 6 floats, "
                         "7 ints)", n->name, n->op_type, name, type);
    }
    return rc ? nomem(c) : XCNN_OK;
}

static xcnn_status read_node(loadctx *c, reader *r, int index)
{
    const char *name = NULL, *op = NULL;
    uint32_t n_in, n_out, n_attr;
    xcnn_status st;
    if ((st = r_str(r, &name, "a node name")) || (st = r_str(r, &op, "a node's op_type")) ||
        (st = r_u32(r, &n_in, "a node")) || (st = r_u32(r, &n_out, "a node")) ||
        (st = r_u32(r, &n_attr, "a node")))
        return st;
    if (!op[0]) return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node %d ('%s') has no op_type", index, name);
    if (n_out < 1)
        return xcnn_fail(c->err, XCNN_ERR_FORMAT, "node '%s' (%s) has no output", name, op);
    /* Counts against the bytes that must hold them, before any allocation. */
    size_t room = (r->end - r->pos) / 4;
    if (n_in > room || n_out > room - n_in || (uint64_t)n_in + n_out > (uint64_t)INT_MAX / 4)
        return truncated(r, "a node's inputs and outputs");
    if (n_attr > MAX_NODE_ATTRS)
        return xcnn_fail(c->err, XCNN_ERR_LIMIT, "node '%s' (%s): %u attributes (at most %d)",
                         name, op, (unsigned)n_attr, MAX_NODE_ATTRS);
    if (need(r, (size_t)n_attr * (MIN_STRING + 1), "a node's attributes"))
        return truncated(r, "a node's attributes");
    int small[SMALL_LIST], *edges = small;
    size_t n_edges = (size_t)n_in + n_out;
    if (n_edges > SMALL_LIST && !(edges = xcnn_graph_alloc(c->g, n_edges * sizeof(int))))
        return nomem(c);
    st = read_edges(c, r, name, op, edges, n_in, 0, index);
    if (!st) st = read_edges(c, r, name, op, edges + n_in, n_out, 1, index);
    int idx = -1;
    if (!st) {
        idx = xcnn_graph_add_node(c->g, name, op, edges, (int)n_in, edges + n_in, (int)n_out);
        if (idx < 0) st = nomem(c);
    }
    if (edges != small) xcnn_graph_free_mem(c->g, edges);
    for (uint32_t a = 0; !st && a < n_attr; a++) st = read_attr(c, r, &c->g->nodes[idx]);
    return st;
}

static xcnn_status read_meta(loadctx *c, reader *r, uint32_t n_meta)
{
    xcnn_graph *g = c->g;
    if (!n_meta) return XCNN_OK;
    g->meta_key = xcnn_graph_alloc(g, n_meta * sizeof(char *));
    g->meta_value = xcnn_graph_alloc(g, n_meta * sizeof(char *));
    if (!g->meta_key || !g->meta_value) return nomem(c);
    for (uint32_t i = 0; i < n_meta; i++) {
        const char *k = NULL, *v = NULL;
        xcnn_status st;
        if ((st = r_str(r, &k, "a metadata key")) || (st = r_str(r, &v, "a metadata value")))
            return st;
        char *kc = keep_str(c, k);
        char *vc = kc ? keep_str(c, v) : NULL;
        if (!vc) {
            if (kc && !c->borrow_names) xcnn_graph_free_mem(g, kc);
            return nomem(c);
        }
        g->meta_key[i] = kc;
        g->meta_value[i] = vc;
        g->n_meta++;
    }
    return XCNN_OK;
}

/* The header: everything that can be checked before allocating. */
static xcnn_status check_header(const unsigned char *p, size_t size, const xcnn_load_options *opts,
                                xcnn_err *err)
{
    if (!xcnn_format_is_image(p, size))
        return xcnn_fail(err, XCNN_ERR_FORMAT, "not an .xcnn model (its first bytes are not "
                         "the .xcnn magic)");
    if (size < H_VERSION + 4)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn file is truncated: %zu bytes, inside "
                         "its %d-byte header", size, XCNN_FORMAT_HEADER_BYTES);
    uint32_t version = get32(p + H_VERSION);
    if (version != XCNN_FORMAT_VERSION)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "model file is .xcnn version %u; this "
                         "libxcnn reads version %d", (unsigned)version, XCNN_FORMAT_VERSION);
    if (size < XCNN_FORMAT_HEADER_BYTES)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn file is truncated: %zu bytes, inside "
                         "its %d-byte header", size, XCNN_FORMAT_HEADER_BYTES);
    uint64_t max_file = opts && opts->max_file_bytes ? opts->max_file_bytes
                                                     : DEFAULT_MAX_FILE_BYTES;
    if ((uint64_t)size > max_file)
        return xcnn_fail(err, XCNN_ERR_LIMIT, ".xcnn file is %zu bytes, over the limit of %llu "
                         "(xcnn_load_options.max_file_bytes)", size,
                         (unsigned long long)max_file);
    uint64_t file_size = get64(p + H_SIZE);
    if (file_size != (uint64_t)size)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn file is %zu bytes but its header says "
                         "%llu: %s", size, (unsigned long long)file_size,
                         (uint64_t)size < file_size ? "truncated" : "bytes after its end");
    uint32_t want = get32(p + H_CRC), got = image_crc(p, size);
    if (want != got)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn checksum mismatch: the header says "
                         "CRC-32 %08x, the bytes give %08x (the file is corrupted)",
                         (unsigned)want, (unsigned)got);
    uint32_t flags = get32(p + H_FLAGS);
    if (flags & ~XCNN_FORMAT_FLAG_INFERENCE_ONLY)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, ".xcnn flags %08x: this libxcnn knows "
                         "only bit 0 (inference-only)", (unsigned)flags);
    if (get32(p + H_HEADER) != XCNN_FORMAT_HEADER_BYTES)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn header size is %u, not %d",
                         (unsigned)get32(p + H_HEADER), XCNN_FORMAT_HEADER_BYTES);
    uint64_t data = get64(p + H_DATA);
    if (data < XCNN_FORMAT_HEADER_BYTES || data > size || data % XCNN_FORMAT_ALIGN)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn weights offset %llu is outside the "
                         "file (%zu bytes) or not a multiple of %d", (unsigned long long)data,
                         size, XCNN_FORMAT_ALIGN);
    int32_t opset = (int32_t)get32(p + H_OPSET);
    if (opset != 0 && (opset < MIN_OPSET || opset > MAX_OPSET))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "model uses ONNX opset %d; libxcnn reads "
                         "opsets %d to %d", (int)opset, MIN_OPSET, MAX_OPSET);
    /* Counts: against the limits, and against what the tables could hold. */
    size_t tables = (size_t)data - XCNN_FORMAT_HEADER_BYTES;
    uint32_t nt = get32(p + H_TENSORS), nn = get32(p + H_NODES), nm = get32(p + H_META);
    uint64_t max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEFAULT_MAX_NODES;
    if (nn > max_nodes)
        return xcnn_fail(err, XCNN_ERR_LIMIT, ".xcnn model has %u nodes, over the limit of "
                         "%llu (xcnn_load_options.max_nodes)", (unsigned)nn,
                         (unsigned long long)max_nodes);
    if (nm > MAX_METADATA)
        return xcnn_fail(err, XCNN_ERR_LIMIT, ".xcnn metadata: %u entries, more than %d",
                         (unsigned)nm, MAX_METADATA);
    if ((uint64_t)nt * MIN_TENSOR + (uint64_t)nn * MIN_NODE + (uint64_t)nm * MIN_META > tables)
        return xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn header counts %u tensors, %u nodes and "
                         "%u metadata entries: more than its %zu bytes of tables can hold "
                         "(truncated or corrupted)", (unsigned)nt, (unsigned)nn,
                         (unsigned)nm, tables);
    if (nt > INT_MAX || nn > INT_MAX)
        return xcnn_fail(err, XCNN_ERR_LIMIT, ".xcnn model has %u tensors and %u nodes: "
                         "libxcnn counts them in an int", (unsigned)nt, (unsigned)nn);
    return XCNN_OK;
}

xcnn_status xcnn_format_read(const void *data, size_t size, const xcnn_load_options *opts,
                             xcnn_mem *mem, int in_place, xcnn_graph **out, xcnn_err *err)
{
    if (!out) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_format_read: out is NULL");
    *out = NULL;
    if (!data) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_format_read: data is NULL");
    const unsigned char *p = data;
    xcnn_status st = check_header(p, size, opts, err);
    if (st) return st;

    loadctx c;
    memset(&c, 0, sizeof c);
    c.img = p;
    c.size = size;
    c.err = err;
    c.max_elems = opts && opts->max_tensor_elems ? opts->max_tensor_elems
                                                 : DEFAULT_MAX_TENSOR_ELEMS;
    c.input_dims = opts ? opts->input_dims : NULL;
    c.le = host_little_endian();
    c.in_place = in_place != 0;
    c.borrow_names = c.in_place && mem != NULL;
    c.data_offset = get64(p + H_DATA);
    c.data_end = c.data_offset;
    uint32_t nt = get32(p + H_TENSORS), nn = get32(p + H_NODES), nm = get32(p + H_META);
    int32_t input = (int32_t)get32(p + H_INPUT), output = (int32_t)get32(p + H_OUTPUT);

    c.g = xcnn_graph_new_in(mem);
    if (!c.g) return nomem(&c);
    xcnn_graph *g = c.g;
    g->opset = (int)(int32_t)get32(p + H_OPSET);
    g->inference_only = (get32(p + H_FLAGS) & XCNN_FORMAT_FLAG_INFERENCE_ONLY) != 0;
    reader r = {p, XCNN_FORMAT_HEADER_BYTES, (size_t)c.data_offset, err};
    st = xcnn_graph_reserve(g, (int)nt, (int)nn, err);
    for (uint32_t i = 0; !st && i < nt; i++) st = read_tensor(&c, &r, (int)i);
    if (!st && nt) st = check_unique_names(&c);
    if (!st && (input < -1 || input >= (int32_t)nt || output < 0 || output >= (int32_t)nt))
        st = xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn graph input %d or output %d is outside "
                       "0..%d", (int)input, (int)output, (int)nt - 1);
    if (!st && (input >= 0 ? g->tensors[input].kind != XCNN_T_INPUT || c.n_inputs != 1
                           : c.n_inputs != 0))
        st = xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn graph input is tensor %d, but the file "
                       "holds %d tensors of kind input", (int)input, c.n_inputs);
    if (!st) {
        g->input = input;
        g->output = output;
    }
    for (uint32_t i = 0; !st && i < nn; i++) st = read_node(&c, &r, (int)i);
    if (!st && g->tensors[output].kind == XCNN_T_ACTIVATION && g->tensors[output].producer < 0)
        st = xcnn_fail(err, XCNN_ERR_FORMAT, "graph output '%s' is not made by any node",
                       g->tensors[output].name);
    for (int t = 0; !st && t < g->n_tensors; t++)
        if (g->tensors[t].kind == XCNN_T_ACTIVATION && g->tensors[t].producer < 0)
            st = xcnn_fail(err, XCNN_ERR_FORMAT, "activation '%s' is made by no node",
                           g->tensors[t].name);
    if (!st && c.data_end != size)
        st = xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn: %llu bytes after the last weight (the "
                       "file ends with it)", (unsigned long long)(size - c.data_end));
    if (!st) st = read_meta(&c, &r, nm);
    if (!st && r.pos != r.end) {
        /* Between the tables and the weights: only the zero padding. */
        for (size_t i = r.pos; i < r.end && !st; i++)
            if (p[i]) st = xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn: byte %zu, after the tables, "
                                     "is not padding", i);
        if (!st && r.end - r.pos >= XCNN_FORMAT_ALIGN)
            st = xcnn_fail(err, XCNN_ERR_FORMAT, ".xcnn: %zu bytes between the tables and the "
                           "weights (at most %d of padding)", r.end - r.pos, XCNN_FORMAT_ALIGN - 1);
    }
    if (st) {
        xcnn_graph_free(g);
        return st;
    }
    *out = g;
    return XCNN_OK;
}
