/*
 * The public model API: load (parse, plan, reserve), introspection by name,
 * and the forward/backward entry points. Errors of calls on a model are
 * kept in the model (not in a global), so two models in two threads each
 * have their own.
 */
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "model.h"
#include "../graph/onnx.h"
#include "../graph/xcnn_format.h"
#include "../ops/ops.h"
#include "../base/format.h"

static void copy_error(char *dst, size_t size, const char *msg)
{
    if (dst && size) xcnn_format(dst, size, "%s", msg);
}

static xcnn_status model_fail(xcnn_model *m, xcnn_status st, const xcnn_err *err)
{
    xcnn_format(m->error, sizeof m->error, "%s", err->msg);
    return st;
}

/* Release the model (xcnn_model_enter in model.h) and pass st on. */
static xcnn_status leave(const xcnn_model *m, xcnn_status st)
{
    xcnn_model_leave(m);
    return st;
}

/* A failed argument check of a call on `m`: the message goes where
 * xcnn_model_error finds it (the model is held; reads take it const). */
#define ARG_FAIL(m, ...)                                                                   \
    do {                                                                                   \
        xcnn_err e_ = {{0}};                                                               \
        xcnn_status st_ = xcnn_fail(&e_, XCNN_ERR_ARG, __VA_ARGS__);                       \
        return leave((m), model_fail((xcnn_model *)(m), st_, &e_));                        \
    } while (0)

/* The ONNX parser, as parse() takes it: passed in by the heap entry points
 * only, so that a program that loads .xcnn images into a static buffer
 * does not link the protobuf decoder (-Wl,--gc-sections drops it). */
typedef xcnn_status (*onnx_parser)(const uint8_t *data, size_t size,
                                   const xcnn_load_options *opts, xcnn_graph **out,
                                   xcnn_err *err);

/* Parse the bytes into a new model (graph only; nothing planned yet),
 * its memory from `mem` (NULL: the heap; else the model keeps a copy of
 * the allocator's state and uses that from here on). An .xcnn image is
 * recognised by its magic; with a buffer its weights are used in place.
 * Anything else goes to `onnx` (NULL: refused). */
static xcnn_status parse(const void *data, size_t size, const xcnn_load_options *opts,
                         xcnn_mem *mem, onnx_parser onnx, xcnn_model **out, xcnn_err *err)
{
    *out = NULL;
    if (!data && size) return xcnn_fail(err, XCNN_ERR_ARG, "model data is NULL");
    int is_xcnn = xcnn_format_is_image(data, size);
    if (!onnx && !is_xcnn)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "a model in a static buffer must be an "
                         ".xcnn image (xcnn convert MODEL.onnx OUT.xcnn): ONNX's protobuf "
                         "needs the heap to parse");
    xcnn_model *m = xcnn_mem_calloc(mem, 1, sizeof *m);
    if (!m) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    if (mem) {
        m->mem_state = *mem;
        m->mem = &m->mem_state;
    }
    m->inference_only = opts && opts->inference_only;
    m->grad_from = -1;
    m->shared_values = m->inference_only;
    m->ex_cut = -1;
    m->warm_from = INT_MAX;
    m->max_elems = (opts && opts->max_tensor_elems) ? opts->max_tensor_elems : ((uint64_t)256 << 20);
    m->max_arena_bytes = (opts && opts->max_arena_bytes) ? opts->max_arena_bytes
                                                         : XCNN_DEFAULT_MAX_ARENA_BYTES;
    atomic_init(&m->busy, 0);
    xcnn_status st = is_xcnn ? xcnn_format_read(data, size, opts, m->mem, m->mem != NULL, &m->g, err)
                             : onnx(data, size, opts, &m->g, err);
    if (st) {
        if (mem) *mem = m->mem_state; /* measuring: its block list, to release */
        xcnn_model_free(m);
        return st;
    }
    /* An .xcnn written with BatchNorm folded (xcnn convert --fold-bn) is
     * inference-only whatever the options ask: its predictions are then
     * those of the ONNX loaded inference_only, and explainers refuse it. */
    if (m->g->inference_only) m->inference_only = m->shared_values = 1;
    *out = m;
    return XCNN_OK;
}

/* Is tensor t laid out N, C, H, W? Only a Transpose moves the channels:
 * follow each node's first activation input back to a Transpose (perm
 * 0,3,1,2 gives NCHW, any other a layout whose dims 2 and 3 are not the
 * plane: ConvNeXt's channels-last blocks) or to the input (NCHW). */
static int is_nchw(const xcnn_graph *g, int t)
{
    for (int steps = 0; steps <= g->n_nodes; steps++) {
        int p = g->tensors[t].producer;
        if (p < 0) return 1;
        const xcnn_node *n = &g->nodes[p];
        if (!strcmp(n->op_type, "Transpose")) {
            int count = 0;
            const int64_t *perm = xcnn_attr_ints(n, "perm", &count);
            return count == 4 && perm[0] == 0 && perm[1] == 3 && perm[2] == 1 && perm[3] == 2;
        }
        int next = -1;
        for (int i = 0; i < n->n_in && next < 0; i++)
            if (n->in[i] >= 0 && g->tensors[n->in[i]].kind != XCNN_T_CONST) next = n->in[i];
        if (next < 0) return 1;
        t = next;
    }
    return 1;
}

/* Does compute node i give a map Grad-CAM can use: N, C, H, W with more
 * than one pixel? */
static int is_spatial(const xcnn_model *m, int i)
{
    const xcnn_graph *g = m->g;
    int ti = g->nodes[m->compute[i]].out[0];
    const xcnn_tensor *t = &g->tensors[ti];
    return t->ndim == 4 && t->dims[2] * t->dims[3] > 1 && is_nchw(g, ti);
}

/* The default is the last spatial map, unless the classes are read off a
 * map by pooling alone (no Gemm or MatMul after it) and it has one channel
 * per class: that is a score map (SqueezeNet's classifier: Conv to K
 * channels, ReLU, global pooling), whose Grad-CAM only repeats the score.
 * Then the layers with K channels are skipped back to the last spatial map
 * with another count: the feature extractor before the classifier
 * (SqueezeNet's last Fire module, pytorch-grad-cam's features[-1]). A
 * model whose every spatial map has K channels keeps the last one. */
const char *xcnn_model_default_cam_layer(const xcnn_model *m)
{
    if (!m) return NULL;
    const xcnn_graph *g = m->g;
    int last = m->n_compute - 1;
    while (last >= 0 && !is_spatial(m, last)) last--;
    if (last < 0) return NULL;
    const xcnn_tensor *out = &g->tensors[g->output];
    int64_t classes = out->ndim > 0 && out->dims[0] > 0
                          ? (int64_t)xcnn_tensor_numel(out) / out->dims[0] : 0;
    int pick = last;
    if (g->tensors[g->nodes[m->compute[last]].out[0]].dims[1] == classes) {
        int dense = 0;
        for (int i = last + 1; i < m->n_compute; i++) {
            const char *op = g->nodes[m->compute[i]].op_type;
            dense |= !strcmp(op, "Gemm") || !strcmp(op, "MatMul");
        }
        for (int i = last - 1; i >= 0 && !dense; i--)
            if (is_spatial(m, i) && g->tensors[g->nodes[m->compute[i]].out[0]].dims[1] != classes) {
                pick = i;
                break;
            }
    }
    return g->tensors[g->nodes[m->compute[pick]].out[0]].name;
}

/* xcnn_load_options.explain_layer: the tensor gradients are kept from. */
static xcnn_status resolve_explain_layer(xcnn_model *m, const char *name, xcnn_err *err)
{
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "explain_layer keeps gradients from a layer on, "
                         "and inference_only keeps none: give one or the other");
    const char *want = name[0] ? name : xcnn_model_default_cam_layer(m);
    if (!want)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "explain_layer \"\" (the default CAM layer): "
                         "the model has no 4-D layer output with more than one pixel");
    int t = xcnn_model_find_layer(m, want);
    if (t < 0 || m->g->tensors[t].kind != XCNN_T_ACTIVATION)
        return xcnn_fail(err, t < 0 ? XCNN_ERR_NOT_FOUND : XCNN_ERR_ARG,
                         "explain_layer '%s': %s", want,
                         t < 0 ? "no layer or tensor of that name"
                               : "not a layer output (the input, or a weight)");
    m->grad_from = t;
    m->shared_values = 1;
    return XCNN_OK;
}

/* Check every node, then plan the memory for the first batch. */
static xcnn_status finish(xcnn_model *m, const xcnn_load_options *opts, xcnn_err *err)
{
    int batch = opts && opts->max_batch ? opts->max_batch : 1;
    if (batch < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "max_batch must be at least 1 (got %d)", batch);
    xcnn_graph *g = m->g;
    g->inference_only = m->inference_only;
    xcnn_status st = xcnn_plan(g, m->max_elems, err);
    if (!st && m->inference_only) st = xcnn_fuse(g, err);
    /* Weights are final now: convs convert theirs and free the originals. */
    for (int i = 0; !st && m->inference_only && i < g->n_nodes; i++)
        if (!g->nodes[i].folded && g->nodes[i].def == &xcnn_op_conv)
            st = xcnn_conv_prepare_inference(g, &g->nodes[i], err);
    if (st) return st;
    m->compute = xcnn_mem_alloc(m->mem, (size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof(int));
    m->reached = xcnn_mem_alloc(m->mem, (size_t)(g->n_tensors ? g->n_tensors : 1));
    m->cleared = xcnn_mem_alloc(m->mem, (size_t)(g->n_tensors ? g->n_tensors : 1));
    if (!m->compute || !m->reached || !m->cleared) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].folded) m->compute[m->n_compute++] = i;
    if (opts && opts->explain_layer && (st = resolve_explain_layer(m, opts->explain_layer, err)))
        return st;
    if (m->mem) { /* set_profiling cannot allocate on a static model */
        m->prof_room = xcnn_mem_calloc(m->mem, (size_t)(m->n_compute ? m->n_compute : 1) * 2,
                                       sizeof(double));
        if (!m->prof_room) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (t->kind == XCNN_T_CONST)
            m->weight_bytes += xcnn_tensor_numel(t) * (t->dtype == XCNN_DT_INT64 ? 8 : 4);
    }
    return xcnn_arena_reserve(m, batch, err);
}

static xcnn_status load_fail(xcnn_model **m, xcnn_status st, const xcnn_err *err, char *errbuf,
                             size_t err_size)
{
    copy_error(errbuf, err_size, err->msg[0] ? err->msg : xcnn_status_name(st));
    xcnn_model_free(*m);
    *m = NULL;
    return st;
}

xcnn_status xcnn_model_load_memory(const void *data, size_t size, const xcnn_load_options *opts,
                                   xcnn_model **out, char *errbuf, size_t err_size)
{
    xcnn_err err = {{0}};
    if (!out) {
        copy_error(errbuf, err_size, "xcnn_model_load_memory: out (the model pointer) is NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_status st = parse(data, size, opts, NULL, xcnn_onnx_parse, out, &err);
    if (!st) st = finish(*out, opts, &err);
    return st ? load_fail(out, st, &err, errbuf, err_size) : XCNN_OK;
}

/* Files are read whole: models are at most a few hundred MB and the parser
 * wants random access to check every length against the end. */
xcnn_status xcnn_model_load(const char *path, const xcnn_load_options *opts, xcnn_model **out,
                            char *errbuf, size_t err_size)
{
    if (!out) {
        copy_error(errbuf, err_size, "xcnn_model_load: out (the model pointer) is NULL");
        return XCNN_ERR_ARG;
    }
    *out = NULL;
    if (!path) {
        copy_error(errbuf, err_size, "model path is NULL");
        return XCNN_ERR_ARG;
    }
    uint64_t cap = (opts && opts->max_file_bytes) ? opts->max_file_bytes : ((uint64_t)1 << 30);
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[600];
        xcnn_format(msg, sizeof msg, "cannot open model '%s'", path);
        copy_error(errbuf, err_size, msg);
        return XCNN_ERR_IO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        char msg[600];
        xcnn_format(msg, sizeof msg, "model '%s' is not a regular file", path);
        copy_error(errbuf, err_size, msg);
        return XCNN_ERR_IO;
    }
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        copy_error(errbuf, err_size, "cannot read model file (not a regular file?)");
        return XCNN_ERR_IO;
    }
    if ((uint64_t)len > cap) {
        fclose(f);
        char msg[600];
        xcnn_format(msg, sizeof msg, "model file '%s' is %ld bytes, over the limit of %llu", path,
                 len, (unsigned long long)cap);
        copy_error(errbuf, err_size, msg);
        return XCNN_ERR_LIMIT;
    }
    unsigned char *buf = malloc(len ? (size_t)len : 1);
    if (!buf) {
        fclose(f);
        copy_error(errbuf, err_size, "out of memory reading the model file");
        return XCNN_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        copy_error(errbuf, err_size, "short read on the model file");
        return XCNN_ERR_IO;
    }
    /* The file's bytes go as soon as the graph holds its own copies, before
     * the arena exists: peak memory is file + weights, not file + weights +
     * arena (ResNet-18: 46 + 45 MB, then 45 + the arena). */
    xcnn_err err = {{0}};
    xcnn_status st = parse(buf, (size_t)len, opts, NULL, xcnn_onnx_parse, out, &err);
    free(buf);
    if (!st) st = finish(*out, opts, &err);
    return st ? load_fail(out, st, &err, errbuf, err_size) : XCNN_OK;
}

/* The load into memory `mem` (a buffer, or measuring). On failure the
 * model is gone (nothing to free in a buffer; measuring: the caller
 * releases its blocks) and *out is NULL. */
static xcnn_status load_in(const void *data, size_t size, const xcnn_load_options *opts,
                           xcnn_mem *mem, xcnn_model **out, xcnn_err *err)
{
    xcnn_status st = parse(data, size, opts, mem, NULL, out, err);
    if (!st) st = finish(*out, opts, err);
    if (*out) *mem = (*out)->mem_state; /* the state the model carried on with */
    if (st) *out = NULL;
    return st;
}

xcnn_status xcnn_model_plan(const void *data, size_t size, const xcnn_load_options *opts,
                            size_t *bytes, char *errbuf, size_t err_size)
{
    if (!bytes) {
        copy_error(errbuf, err_size, "xcnn_model_plan: bytes (where the size goes) is NULL");
        return XCNN_ERR_ARG;
    }
    *bytes = 0;
    xcnn_mem mem;
    xcnn_mem_init_measure(&mem);
    xcnn_model *m = NULL;
    xcnn_err err = {{0}};
    xcnn_status st = load_in(data, size, opts, &mem, &m, &err);
    if (!st) *bytes = xcnn_mem_needed(&mem);
    xcnn_mem_release(&mem); /* the model lived in these blocks */
    if (st) copy_error(errbuf, err_size, err.msg[0] ? err.msg : xcnn_status_name(st));
    return st;
}

xcnn_status xcnn_model_load_static(const void *data, size_t size, const xcnn_load_options *opts,
                                   void *buffer, size_t buffer_size, xcnn_model **out,
                                   char *errbuf, size_t err_size)
{
    if (!out) {
        copy_error(errbuf, err_size, "xcnn_model_load_static: out (the model pointer) is NULL");
        return XCNN_ERR_ARG;
    }
    *out = NULL;
    if (!buffer) {
        copy_error(errbuf, err_size, "xcnn_model_load_static: buffer is NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_mem mem;
    xcnn_mem_init_buffer(&mem, buffer, buffer_size);
    xcnn_err err = {{0}};
    xcnn_status st = load_in(data, size, opts, &mem, out, &err);
    if (st == XCNN_ERR_NOMEM) /* not measured here: this call never touches the heap */
        xcnn_fail(&err, st, "the buffer of %zu bytes is too small for this model "
                  "(xcnn_model_plan gives the size it needs)", buffer_size);
    if (st) copy_error(errbuf, err_size, err.msg[0] ? err.msg : xcnn_status_name(st));
    return st;
}

void xcnn_model_free(xcnn_model *m)
{
    if (!m) return;
    /* A caller's buffer: nothing in it came from the heap, and nothing is
     * given back piece by piece (measuring mode frees its blocks itself). */
    if (m->mem) return;
    xcnn_graph_free(m->g);
    free(m->compute);
    free(m->reached);
    free(m->cleared);
    free(m->arena_mem);
    free(m->param_grad_mem);
    free(m->ex_path);
    free(m->ex_acc);
    free(m->ex_targets);
    free(m->ex_cam);
    free(m->ex_cut_acc);
    free(m->ex_cut_seed);
    free(m->ex_path2);
    free(m->ex_acc2);
    free(m->ex_layer);
    free(m->ex_layer_acc);
    free(m->ex_rule);
    free(m->ex_index);
    free(m->prof_seconds);
    xcnn_exec_free_views(m);
    free(m);
}

const char *xcnn_model_error(const xcnn_model *m) { return m ? m->error : "model is NULL"; }

/* libgomp lays a team out on its stack: a team of 100000 threads
 * (xcnn --threads 100000) was a segfault inside GOMP_parallel. */
#define XCNN_MAX_THREADS 1024

xcnn_status xcnn_model_set_threads(xcnn_model *m, int threads)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    if (threads < 0 || threads > XCNN_MAX_THREADS)
        ARG_FAIL(m, "threads must be 0 (the OpenMP default) to %d, got %d", XCNN_MAX_THREADS,
                 threads);
    m->threads = threads;
    return leave(m, XCNN_OK);
}

xcnn_status xcnn_model_reserve(xcnn_model *m, int max_batch)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    if (m->mem && max_batch >= 1 && max_batch > m->max_batch) {
        xcnn_fail(&err, XCNN_ERR_LIMIT, "the model lives in a static buffer planned for batch %d "
                  "(xcnn_load_options.max_batch): it cannot grow to %d", m->max_batch, max_batch);
        return leave(m, model_fail(m, XCNN_ERR_LIMIT, &err));
    }
    /* a static model keeps its arena for a smaller batch: nothing to free */
    xcnn_status st = max_batch == m->max_batch || (m->mem && max_batch >= 1)
                         ? XCNN_OK
                         : xcnn_arena_reserve(m, max_batch, &err);
    return leave(m, st ? model_fail(m, st, &err) : XCNN_OK);
}

int xcnn_model_max_batch(const xcnn_model *m) { return m ? m->max_batch : 0; }

xcnn_status xcnn_model_enable_param_grads(xcnn_model *m)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_arena_enable_param_grads(m, &err);
    return leave(m, st ? model_fail(m, st, &err) : XCNN_OK);
}

size_t xcnn_model_arena_bytes(const xcnn_model *m)
{
    return m ? m->arena_bytes + m->param_grad_bytes : 0;
}
size_t xcnn_model_weight_bytes(const xcnn_model *m) { return m ? m->weight_bytes : 0; }

static void fill_view(const xcnn_model *m, int ti, xcnn_tensor_view *v)
{
    const xcnn_tensor *t = &m->g->tensors[ti];
    memset(v, 0, sizeof *v);
    v->name = t->name;
    v->ndim = t->ndim < 0 ? 0 : t->ndim;
    for (int i = 0; i < v->ndim; i++) v->dims[i] = t->dims[i];
    v->is_weight = t->kind == XCNN_T_CONST;
    if (!v->is_weight && v->ndim > 0) v->dims[0] = m->g->batch;
    v->numel = 1;
    for (int i = 0; i < v->ndim; i++) v->numel *= (size_t)v->dims[i];
    v->data = t->dtype == XCNN_DT_FLOAT ? t->data : NULL;
    v->grad = t->grad;
    /* Where arena.c placed it: activations and the input get a slice of
     * round_up(sample elements x max_batch) floats; weights live outside. */
    v->arena_offset = v->grad_offset = -1;
    uintptr_t lo = (uintptr_t)m->arena, hi = lo + m->arena_bytes;
    if (t->kind != XCNN_T_CONST && t->dtype == XCNN_DT_FLOAT && t->ndim >= 1 && t->data &&
        (uintptr_t)t->data >= lo && (uintptr_t)t->data < hi) {
        size_t floats = xcnn_tensor_sample_numel(t) * (size_t)m->max_batch;
        floats = (floats + XCNN_ALIGN_FLOATS - 1) / XCNN_ALIGN_FLOATS * XCNN_ALIGN_FLOATS;
        v->arena_offset = (int64_t)((uintptr_t)t->data - lo);
        v->arena_bytes = floats * sizeof(float);
        if (t->grad && (uintptr_t)t->grad >= lo && (uintptr_t)t->grad < hi)
            v->grad_offset = (int64_t)((uintptr_t)t->grad - lo);
    }
}

/* The views read what a reserve or a pass is changing: held like a call
 * that writes (fill_view reads the batch and the arena). */
static xcnn_status view_of(const xcnn_model *m, int input, xcnn_tensor_view *out,
                           const char *fn)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    if (!out) ARG_FAIL(m, "%s: out is NULL", fn);
    fill_view(m, input ? m->g->input : m->g->output, out);
    return leave(m, XCNN_OK);
}

xcnn_status xcnn_model_input(const xcnn_model *m, xcnn_tensor_view *out)
{
    return view_of(m, 1, out, "xcnn_model_input");
}

xcnn_status xcnn_model_output(const xcnn_model *m, xcnn_tensor_view *out)
{
    return view_of(m, 0, out, "xcnn_model_output");
}

/* A node name stands for its first output: users think in layers. */
int xcnn_model_find_layer(const xcnn_model *m, const char *name)
{
    int ti = xcnn_graph_find_tensor(m->g, name);
    for (int i = 0; i < m->n_compute && ti < 0; i++)
        if (strcmp(m->g->nodes[m->compute[i]].name, name) == 0)
            ti = m->g->nodes[m->compute[i]].out[0];
    return ti;
}

xcnn_status xcnn_model_tensor(const xcnn_model *m, const char *name, xcnn_tensor_view *out)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    if (!name) ARG_FAIL(m, "xcnn_model_tensor: name is NULL");
    if (!out) ARG_FAIL(m, "xcnn_model_tensor: out is NULL");
    int ti = xcnn_model_find_layer(m, name);
    if (ti < 0) {
        xcnn_err err = {{0}};
        return leave(m, model_fail((xcnn_model *)m,
                                   xcnn_fail(&err, XCNN_ERR_NOT_FOUND,
                                             "no tensor or layer named '%s'", name),
                                   &err));
    }
    fill_view(m, ti, out);
    return leave(m, XCNN_OK);
}

const char *xcnn_model_metadata(const xcnn_model *m, const char *key)
{
    if (!m || !key) return NULL;
    for (int i = 0; i < m->g->n_meta; i++)
        if (strcmp(m->g->meta_key[i], key) == 0) return m->g->meta_value[i];
    return NULL;
}

const char *xcnn_model_warning(const xcnn_model *m, int index)
{
    if (!m || index < 0 || index >= m->g->n_warnings) return NULL;
    return m->g->warnings[index];
}

int xcnn_model_node_count(const xcnn_model *m) { return m ? m->n_compute : 0; }

xcnn_status xcnn_model_node(const xcnn_model *m, int index, xcnn_node_info *out)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    if (!out) ARG_FAIL(m, "xcnn_model_node: out is NULL");
    if (index < 0 || index >= m->n_compute)
        ARG_FAIL(m, "node index %d is out of range: the model has %d nodes "
                 "(xcnn_model_node_count)", index, m->n_compute);
    const xcnn_node *n = &m->g->nodes[m->compute[index]];
    out->name = n->name;
    out->op_type = n->op_type;
    out->output = m->g->tensors[n->out[0]].name;
    out->n_params = n->n_params;
    out->flops = n->flops;
    out->forward_seconds = m->prof_seconds ? m->prof_seconds[index] : 0;
    out->backward_seconds = m->prof_seconds ? m->prof_seconds[m->n_compute + index] : 0;
    return leave(m, XCNN_OK);
}

xcnn_status xcnn_model_set_profiling(xcnn_model *m, int on)
{
    if (!m) return XCNN_ERR_ARG;
    /* held: a pass in another thread writes into prof_seconds */
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    if (!on) {
        if (!m->prof_room) free(m->prof_seconds);
        m->prof_seconds = NULL;
        return leave(m, XCNN_OK);
    }
    if (m->prof_seconds) return leave(m, XCNN_OK);
    if (m->prof_room) { /* a static model: its room was made at load */
        memset(m->prof_room, 0, (size_t)(m->n_compute ? m->n_compute : 1) * 2 * sizeof(double));
        m->prof_seconds = m->prof_room;
        return leave(m, XCNN_OK);
    }
    m->prof_seconds = calloc((size_t)(m->n_compute ? m->n_compute : 1) * 2, sizeof(double));
    if (!m->prof_seconds) {
        xcnn_format(m->error, sizeof m->error, "out of memory for the profile");
        return leave(m, XCNN_ERR_NOMEM);
    }
    return leave(m, XCNN_OK);
}

xcnn_status xcnn_model_forward_held(xcnn_model *m, const float *input, int batch, float *output)
{
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_exec_forward(m, input, batch, &err);
    if (st) return model_fail(m, st, &err);
    if (output) {
        const xcnn_tensor *o = &m->g->tensors[m->g->output];
        memcpy(output, o->data, xcnn_tensor_sample_numel(o) * (size_t)batch * sizeof(float));
    }
    return XCNN_OK;
}

xcnn_status xcnn_forward(xcnn_model *m, const float *input, int batch, float *output)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    return leave(m, xcnn_model_forward_held(m, input, batch, output));
}

xcnn_status xcnn_backward(xcnn_model *m, const int *targets, const float *seed,
                          const xcnn_backward_options *opts)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    return leave(m, xcnn_model_backward_held(m, targets, seed, opts));
}

xcnn_status xcnn_model_backward_held(xcnn_model *m, const int *targets, const float *seed,
                                     const xcnn_backward_options *opts)
{
    xcnn_err err = {{0}};
    xcnn_relu_rule rule = opts ? opts->relu_rule : XCNN_RELU_GRADIENT;
    int stop = -1;
    if (opts && opts->stop_at) {
        stop = xcnn_model_find_layer(m, opts->stop_at);
        if (stop < 0)
            return model_fail(m, xcnn_fail(&err, XCNN_ERR_NOT_FOUND,
                                           "no layer or tensor named '%s'", opts->stop_at),
                              &err);
    }
    xcnn_status st = xcnn_exec_backward(m, targets, seed, rule, stop, &err);
    return st ? model_fail(m, st, &err) : XCNN_OK;
}
