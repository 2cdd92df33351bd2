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
#include "../ops/ops.h"

static void copy_error(char *dst, size_t size, const char *msg)
{
    if (dst && size) snprintf(dst, size, "%s", msg);
}

static xcnn_status model_fail(xcnn_model *m, xcnn_status st, const xcnn_err *err)
{
    snprintf(m->error, sizeof m->error, "%s", err->msg);
    return st;
}

/* Parse the bytes into a new model (graph only; nothing planned yet). */
static xcnn_status parse(const void *data, size_t size, const xcnn_load_options *opts,
                         xcnn_model **out, xcnn_err *err)
{
    *out = NULL;
    if (!data && size) return xcnn_fail(err, XCNN_ERR_ARG, "model data is NULL");
    xcnn_model *m = calloc(1, sizeof *m);
    if (!m) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    m->inference_only = opts && opts->inference_only;
    m->ex_cut = -1;
    m->warm_from = INT_MAX;
    m->max_elems = (opts && opts->max_tensor_elems) ? opts->max_tensor_elems : ((uint64_t)256 << 20);
    xcnn_status st = xcnn_onnx_parse(data, size, opts, &m->g, err);
    if (st) {
        xcnn_model_free(m);
        return st;
    }
    *out = m;
    return XCNN_OK;
}

/* Check every node, then plan the memory for batch 1. */
static xcnn_status finish(xcnn_model *m, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    g->inference_only = m->inference_only;
    xcnn_status st = xcnn_plan(g, m->max_elems, err);
    if (!st && m->inference_only) st = xcnn_fuse(g, err);
    /* Weights are final now: convs convert theirs and free the originals. */
    for (int i = 0; !st && m->inference_only && i < g->n_nodes; i++)
        if (!g->nodes[i].folded && g->nodes[i].def == &xcnn_op_conv)
            st = xcnn_conv_prepare_inference(g, &g->nodes[i], err);
    if (st) return st;
    m->compute = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof(int));
    m->reached = malloc((size_t)(g->n_tensors ? g->n_tensors : 1));
    m->cleared = malloc((size_t)(g->n_tensors ? g->n_tensors : 1));
    if (!m->compute || !m->reached || !m->cleared) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].folded) m->compute[m->n_compute++] = i;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (t->kind == XCNN_T_CONST)
            m->weight_bytes += xcnn_tensor_numel(t) * (t->dtype == XCNN_DT_INT64 ? 8 : 4);
    }
    return xcnn_arena_reserve(m, 1, err);
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
    if (!out) return XCNN_ERR_ARG;
    xcnn_status st = parse(data, size, opts, out, &err);
    if (!st) st = finish(*out, &err);
    return st ? load_fail(out, st, &err, errbuf, err_size) : XCNN_OK;
}

/* Files are read whole: models are at most a few hundred MB and the parser
 * wants random access to check every length against the end. */
xcnn_status xcnn_model_load(const char *path, const xcnn_load_options *opts, xcnn_model **out,
                            char *errbuf, size_t err_size)
{
    if (!out) return XCNN_ERR_ARG;
    *out = NULL;
    if (!path) {
        copy_error(errbuf, err_size, "model path is NULL");
        return XCNN_ERR_ARG;
    }
    uint64_t cap = (opts && opts->max_file_bytes) ? opts->max_file_bytes : ((uint64_t)1 << 30);
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot open model '%s'", path);
        copy_error(errbuf, err_size, msg);
        return XCNN_ERR_IO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        char msg[600];
        snprintf(msg, sizeof msg, "model '%s' is not a regular file", path);
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
        snprintf(msg, sizeof msg, "model file '%s' is %ld bytes, over the limit of %llu", path,
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
    xcnn_status st = parse(buf, (size_t)len, opts, out, &err);
    free(buf);
    if (!st) st = finish(*out, &err);
    return st ? load_fail(out, st, &err, errbuf, err_size) : XCNN_OK;
}

void xcnn_model_free(xcnn_model *m)
{
    if (!m) return;
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
    xcnn_exec_free_views(m);
    free(m);
}

const char *xcnn_model_error(const xcnn_model *m) { return m ? m->error : "model is NULL"; }

void xcnn_model_set_threads(xcnn_model *m, int threads)
{
    if (m) m->threads = threads > 0 ? threads : 0;
}

xcnn_status xcnn_model_reserve(xcnn_model *m, int max_batch)
{
    if (!m) return XCNN_ERR_ARG;
    xcnn_err err = {{0}};
    if (max_batch == m->max_batch) return XCNN_OK;
    xcnn_status st = xcnn_arena_reserve(m, max_batch, &err);
    return st ? model_fail(m, st, &err) : XCNN_OK;
}

int xcnn_model_max_batch(const xcnn_model *m) { return m ? m->max_batch : 0; }

xcnn_status xcnn_model_enable_param_grads(xcnn_model *m)
{
    if (!m) return XCNN_ERR_ARG;
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_arena_enable_param_grads(m, &err);
    return st ? model_fail(m, st, &err) : XCNN_OK;
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
}

xcnn_status xcnn_model_input(const xcnn_model *m, xcnn_tensor_view *out)
{
    if (!m || !out) return XCNN_ERR_ARG;
    fill_view(m, m->g->input, out);
    return XCNN_OK;
}

xcnn_status xcnn_model_output(const xcnn_model *m, xcnn_tensor_view *out)
{
    if (!m || !out) return XCNN_ERR_ARG;
    fill_view(m, m->g->output, out);
    return XCNN_OK;
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
    if (!m || !name || !out) return XCNN_ERR_ARG;
    int ti = xcnn_model_find_layer(m, name);
    if (ti < 0) {
        snprintf(((xcnn_model *)m)->error, sizeof m->error, "no tensor or layer named '%s'",
                 name);
        return XCNN_ERR_NOT_FOUND;
    }
    fill_view(m, ti, out);
    return XCNN_OK;
}

const char *xcnn_model_metadata(const xcnn_model *m, const char *key)
{
    if (!m || !key) return NULL;
    for (int i = 0; i < m->g->n_meta; i++)
        if (strcmp(m->g->meta_key[i], key) == 0) return m->g->meta_value[i];
    return NULL;
}

int xcnn_model_node_count(const xcnn_model *m) { return m ? m->n_compute : 0; }

xcnn_status xcnn_model_node(const xcnn_model *m, int index, xcnn_node_info *out)
{
    if (!m || !out || index < 0 || index >= m->n_compute) return XCNN_ERR_ARG;
    const xcnn_node *n = &m->g->nodes[m->compute[index]];
    out->name = n->name;
    out->op_type = n->op_type;
    out->output = m->g->tensors[n->out[0]].name;
    out->n_params = n->n_params;
    out->flops = n->flops;
    return XCNN_OK;
}

xcnn_status xcnn_forward(xcnn_model *m, const float *input, int batch, float *output)
{
    if (!m) return XCNN_ERR_ARG;
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_exec_forward(m, input, batch, &err);
    if (st) return model_fail(m, st, &err);
    if (output) {
        const xcnn_tensor *o = &m->g->tensors[m->g->output];
        memcpy(output, o->data, xcnn_tensor_sample_numel(o) * (size_t)batch * sizeof(float));
    }
    return XCNN_OK;
}

xcnn_status xcnn_backward(xcnn_model *m, const int *targets, const float *seed,
                          const xcnn_backward_options *opts)
{
    if (!m) return XCNN_ERR_ARG;
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
