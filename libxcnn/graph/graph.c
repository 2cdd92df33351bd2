/* Graph container: growing arrays of tensors and nodes, attribute lookup.
 * Everything comes from the graph's memory (g->mem: the heap, or a
 * caller's buffer; base/mem.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph.h"
#include "../base/format.h"

xcnn_graph *xcnn_graph_new_in(xcnn_mem *mem)
{
    xcnn_graph *g = xcnn_mem_calloc(mem, 1, sizeof *g);
    if (g) {
        g->mem = mem;
        g->input = -1;
        g->output = -1;
        g->batch = 1;
        g->reference = XCNN_REFERENCE_BUILD;
    }
    return g;
}

xcnn_graph *xcnn_graph_new(void) { return xcnn_graph_new_in(NULL); }

void *xcnn_graph_alloc(xcnn_graph *g, size_t bytes) { return xcnn_mem_alloc(g->mem, bytes); }

void *xcnn_graph_calloc(xcnn_graph *g, size_t count, size_t size)
{
    return xcnn_mem_calloc(g->mem, count, size);
}

void xcnn_graph_free_mem(xcnn_graph *g, void *p) { xcnn_mem_free(g->mem, p); }

void *xcnn_node_calloc(const xcnn_node *n, size_t count, size_t size)
{
    return xcnn_mem_calloc(n->mem, count, size);
}

void xcnn_node_free_mem(const xcnn_node *n, void *p) { xcnn_mem_free(n->mem, p); }

float *xcnn_tensor_writable(xcnn_graph *g, xcnn_tensor *t)
{
    if (!t->borrowed) return t->data;
    size_t n = xcnn_tensor_numel(t);
    float *copy = xcnn_graph_alloc(g, (n ? n : 1) * sizeof(float));
    if (!copy) return NULL;
    memcpy(copy, t->data, n * sizeof(float));
    t->data = copy;
    t->borrowed = 0;
    return copy;
}

static void free_attr(xcnn_mem *mem, xcnn_attr *a)
{
    xcnn_mem_free(mem, a->name);
    xcnn_mem_free(mem, a->s);
    xcnn_mem_free(mem, a->ints);
    xcnn_mem_free(mem, a->floats);
}

/* A caller's buffer is never freed piece by piece (mem.h): only the heap
 * has anything to give back here. */
void xcnn_graph_free(xcnn_graph *g)
{
    if (!g || g->mem) return;
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        free(t->name);
        if (t->kind == XCNN_T_CONST && !t->borrowed) free(t->data);
        free(t->idata);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        xcnn_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        for (int a = 0; a < n->n_attr; a++) free_attr(NULL, &n->attr[a]);
        free(n->attr);
        free(n->params);
    }
    for (int i = 0; i < g->n_meta; i++) {
        free(g->meta_key[i]);
        free(g->meta_value[i]);
    }
    free(g->meta_key);
    free(g->meta_value);
    for (int i = 0; i < g->n_warnings; i++) free(g->warnings[i]);
    free(g->warnings);
    free(g->tensors);
    free(g->nodes);
    free(g);
}

xcnn_status xcnn_graph_reserve(xcnn_graph *g, int n_tensors, int n_nodes, xcnn_err *err)
{
    if (n_tensors > g->cap_tensors) {
        xcnn_tensor *t = xcnn_mem_realloc(g->mem, g->tensors,
                                          (size_t)g->cap_tensors * sizeof *t,
                                          (size_t)n_tensors * sizeof *t);
        if (!t) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for %d tensors", n_tensors);
        g->tensors = t;
        g->cap_tensors = n_tensors;
    }
    if (n_nodes > g->cap_nodes) {
        xcnn_node *nn = xcnn_mem_realloc(g->mem, g->nodes, (size_t)g->cap_nodes * sizeof *nn,
                                         (size_t)n_nodes * sizeof *nn);
        if (!nn) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for %d nodes", n_nodes);
        g->nodes = nn;
        g->cap_nodes = n_nodes;
    }
    return XCNN_OK;
}

int xcnn_graph_add_tensor(xcnn_graph *g, const char *name, xcnn_tensor_kind kind)
{
    if (g->n_tensors == g->cap_tensors) {
        int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        xcnn_tensor *t = xcnn_mem_realloc(g->mem, g->tensors, (size_t)g->cap_tensors * sizeof *t,
                                          (size_t)cap * sizeof *t);
        if (!t) return -1;
        g->tensors = t;
        g->cap_tensors = cap;
    }
    xcnn_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = xcnn_mem_strdup(g->mem, name);
    if (!t->name) return -1;
    t->kind = kind;
    t->dtype = XCNN_DT_FLOAT;
    t->ndim = -1;
    t->producer = -1;
    return g->n_tensors++;
}

int xcnn_graph_find_tensor(const xcnn_graph *g, const char *name)
{
    /* Linear search: only used at load time and for lookups by name. */
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

int xcnn_graph_readers(const xcnn_graph *g, int t, int *last)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const xcnn_node *n = &g->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == t) {
                count++;
                if (last) *last = i;
            }
    }
    return count;
}

int xcnn_graph_add_node(xcnn_graph *g, const char *name, const char *op_type,
                        const int *in, int n_in, const int *out, int n_out)
{
    if (n_in < 0 || n_out < 1) return -1;
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        xcnn_node *nn = xcnn_mem_realloc(g->mem, g->nodes, (size_t)g->cap_nodes * sizeof *nn,
                                         (size_t)cap * sizeof *nn);
        if (!nn) return -1;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    xcnn_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    xcnn_mem *mem = n->mem = g->mem;
    if (name && name[0]) {
        n->name = xcnn_mem_strdup(mem, name);
    } else {
        char buf[96];
        xcnn_format(buf, sizeof buf, "%s_%d", op_type, g->n_nodes);
        n->name = xcnn_mem_strdup(mem, buf);
    }
    n->op_type = xcnn_mem_strdup(mem, op_type);
    n->in = xcnn_mem_alloc(mem, (size_t)(n_in ? n_in : 1) * sizeof(int));
    n->out = xcnn_mem_alloc(mem, (size_t)n_out * sizeof(int));
    if (!n->name || !n->op_type || !n->in || !n->out) {
        xcnn_mem_free(mem, n->out); xcnn_mem_free(mem, n->in);
        xcnn_mem_free(mem, n->op_type); xcnn_mem_free(mem, n->name);
        return -1;
    }
    if (n_in) memcpy(n->in, in, (size_t)n_in * sizeof(int));
    memcpy(n->out, out, (size_t)n_out * sizeof(int));
    n->n_in = n_in;
    n->n_out = n_out;
    int idx = g->n_nodes++;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0 && out[i] < g->n_tensors) g->tensors[out[i]].producer = idx;
    return idx;
}

static xcnn_attr *new_attr(xcnn_node *n, const char *name, xcnn_attr_type type)
{
    xcnn_attr *a = xcnn_mem_realloc(n->mem, n->attr, (size_t)n->n_attr * sizeof *a,
                                    (size_t)(n->n_attr + 1) * sizeof *a);
    if (!a) return NULL;
    n->attr = a;
    xcnn_attr *r = &a[n->n_attr];
    memset(r, 0, sizeof *r);
    r->name = xcnn_mem_strdup(n->mem, name);
    if (!r->name) return NULL;
    r->type = type;
    r->tensor = -1;
    n->n_attr++;
    return r;
}

int xcnn_node_add_attr_int(xcnn_node *n, const char *name, int64_t v)
{
    xcnn_attr *a = new_attr(n, name, XCNN_ATTR_INT);
    if (!a) return -1;
    a->i = v;
    return 0;
}

int xcnn_node_add_attr_float(xcnn_node *n, const char *name, float v)
{
    xcnn_attr *a = new_attr(n, name, XCNN_ATTR_FLOAT);
    if (!a) return -1;
    a->f = v;
    return 0;
}

int xcnn_node_add_attr_ints(xcnn_node *n, const char *name, const int64_t *v, int count)
{
    xcnn_attr *a = new_attr(n, name, XCNN_ATTR_INTS);
    if (!a) return -1;
    a->ints = xcnn_mem_alloc(n->mem, (size_t)(count ? count : 1) * sizeof *v);
    if (!a->ints) return -1;
    if (count) memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = count;
    return 0;
}

int xcnn_node_add_attr_floats(xcnn_node *n, const char *name, const float *v, int count)
{
    xcnn_attr *a = new_attr(n, name, XCNN_ATTR_FLOATS);
    if (!a) return -1;
    a->floats = xcnn_mem_alloc(n->mem, (size_t)(count ? count : 1) * sizeof *v);
    if (!a->floats) return -1;
    if (count) memcpy(a->floats, v, (size_t)count * sizeof *v);
    a->n = count;
    return 0;
}

int xcnn_node_add_attr_string(xcnn_node *n, const char *name, const char *v)
{
    xcnn_attr *a = new_attr(n, name, XCNN_ATTR_STRING);
    if (!a) return -1;
    a->s = xcnn_mem_strdup(n->mem, v);
    return a->s ? 0 : -1;
}

const xcnn_attr *xcnn_attr_get(const xcnn_node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
    return NULL;
}

int64_t xcnn_attr_int(const xcnn_node *n, const char *name, int64_t dflt)
{
    const xcnn_attr *a = xcnn_attr_get(n, name);
    return (a && a->type == XCNN_ATTR_INT) ? a->i : dflt;
}

float xcnn_attr_float(const xcnn_node *n, const char *name, float dflt)
{
    const xcnn_attr *a = xcnn_attr_get(n, name);
    return (a && a->type == XCNN_ATTR_FLOAT) ? a->f : dflt;
}

const int64_t *xcnn_attr_ints(const xcnn_node *n, const char *name, int *count)
{
    const xcnn_attr *a = xcnn_attr_get(n, name);
    if (!a || a->type != XCNN_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

const char *xcnn_attr_string(const xcnn_node *n, const char *name, const char *dflt)
{
    const xcnn_attr *a = xcnn_attr_get(n, name);
    return (a && a->type == XCNN_ATTR_STRING && a->s) ? a->s : dflt;
}

static const char *attr_type_words(xcnn_attr_type t)
{
    switch (t) {
    case XCNN_ATTR_FLOAT: return "a float";
    case XCNN_ATTR_INT: return "an int";
    case XCNN_ATTR_STRING: return "a string";
    case XCNN_ATTR_TENSOR: return "a tensor";
    case XCNN_ATTR_FLOATS: return "a list of floats";
    case XCNN_ATTR_INTS: return "a list of ints";
    }
    return "of another type";
}

/* Keep a one-line note (made safe to print by xcnn_fail) in g->warnings. */
static xcnn_status add_warning(xcnn_graph *g, const xcnn_err *note, xcnn_err *err)
{
    char **w = xcnn_mem_realloc(g->mem, g->warnings, (size_t)g->n_warnings * sizeof *w,
                                (size_t)(g->n_warnings + 1) * sizeof *w);
    if (w) g->warnings = w;
    char *s = w ? xcnn_mem_strdup(g->mem, note->msg) : NULL;
    if (!s) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    g->warnings[g->n_warnings++] = s;
    return XCNN_OK;
}

xcnn_status xcnn_node_check_attrs(xcnn_graph *g, const xcnn_node *n, const xcnn_attr_spec *spec,
                                  xcnn_err *err)
{
    for (int a = 0; a < n->n_attr; a++) {
        const xcnn_attr *at = &n->attr[a];
        for (int b = 0; b < a; b++)
            if (!strcmp(n->attr[b].name, at->name))
                return xcnn_fail(err, XCNN_ERR_FORMAT,
                                 "node '%s' (%s): attribute '%s' is given twice", n->name,
                                 n->op_type, at->name);
        const xcnn_attr_spec *s = spec;
        while (s && s->name && strcmp(s->name, at->name)) s++;
        if (!s || !s->name) {
            /* Unknown: we cannot tell what it would change, so refuse it,
             * and list what the op does take. */
            char known[256] = "";
            size_t used = 0;
            for (s = spec; s && s->name && used < sizeof known; s++)
                used += (size_t)xcnn_format(known + used, sizeof known - used, "%s%s",
                                         used ? ", " : "", s->name);
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (%s): unknown attribute '%s' (%s takes %s): refused, "
                             "as it could change the result", n->name, n->op_type, at->name,
                             n->op_type, known[0] ? known : "no attributes");
        }
        if (at->type != s->type)
            return xcnn_fail(err, XCNN_ERR_FORMAT, "node '%s' (%s): attribute '%s' is %s, "
                             "expected %s", n->name, n->op_type, at->name,
                             attr_type_words(at->type), attr_type_words(s->type));
        /* g->opset 0 (none given) is read as the newest, as the ops do. */
        if (s->last_opset && (g->opset == 0 || g->opset > s->last_opset)) {
            char file[48];
            if (g->opset) xcnn_format(file, sizeof file, "this file is opset %d", g->opset);
            else xcnn_format(file, sizeof file, "this file names no opset");
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                             "node '%s' (%s): attribute '%s' exists up to opset %d only and "
                             "%s, where %s takes no such attribute: refused, as it would go "
                             "unread", n->name, n->op_type, at->name, s->last_opset, file,
                             n->op_type);
        }
        if (s->unused) {
            xcnn_err note;
            xcnn_fail(&note, XCNN_OK, "node '%s' (%s): attribute '%s' ignored: %s", n->name,
                      n->op_type, at->name, s->unused);
            xcnn_status st = add_warning(g, &note, err);
            if (st) return st;
        }
    }
    return XCNN_OK;
}

size_t xcnn_tensor_numel(const xcnn_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->dims[i];
    return n;
}

size_t xcnn_tensor_sample_numel(const xcnn_tensor *t)
{
    size_t n = 1;
    for (int i = 1; i < t->ndim; i++) n *= (size_t)t->dims[i];
    return n;
}

/* Tensors may not exceed 2^40 elements: far past any CNN, far below the
 * point where byte counts overflow a 64-bit size_t. */
#define XCNN_MAX_ELEMS ((uint64_t)1 << 40)

xcnn_status xcnn_tensor_set_shape(xcnn_tensor *t, int ndim, const int64_t *dims,
                                  xcnn_err *err)
{
    if (ndim < 0 || ndim > XCNN_MAX_DIMS)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "tensor '%s': %d dims (at most %d)",
                         t->name, ndim, XCNN_MAX_DIMS);
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "tensor '%s': dimension %d is %lld",
                             t->name, i, (long long)dims[i]);
        if (dims[i] != 0 && total > XCNN_MAX_ELEMS / (uint64_t)dims[i])
            return xcnn_fail(err, XCNN_ERR_LIMIT, "tensor '%s': too many elements",
                             t->name);
        total *= (uint64_t)dims[i];
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    return XCNN_OK;
}

xcnn_status xcnn_reshape_dims(const xcnn_node *n, const xcnn_tensor *x, const int64_t *want,
                              int count, int allowzero, int64_t dims[XCNN_MAX_DIMS],
                              xcnn_err *err)
{
    if (count < 0 || count > XCNN_MAX_DIMS)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "node '%s' (Reshape): target has %d dims "
                         "(at most %d)", n->name, count, XCNN_MAX_DIMS);
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < count; i++) {
        dims[i] = want[i];
        if (want[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): 0 at position %d "
                                 "but the input has %d dims", n->name, i, x->ndim);
            dims[i] = x->dims[i];
        } else if (want[i] == -1) {
            if (infer >= 0)
                return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): more than one "
                                 "-1 in the shape", n->name);
            infer = i;
            continue;
        } else if (want[i] < 0) {
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): dim %d is %lld",
                             n->name, i, (long long)want[i]);
        }
        /* A hostile shape must not overflow the product (found by fuzzing). */
        if (dims[i] > 0 && known > INT64_MAX / dims[i])
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): the target shape has "
                             "too many elements", n->name);
        known *= dims[i];
    }
    int64_t total = (int64_t)xcnn_tensor_numel(x);
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): cannot infer the -1 "
                             "dim from %lld elements", n->name, (long long)total);
        dims[infer] = total / known;
        known *= dims[infer];
    }
    if (known != total)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "node '%s' (Reshape): %lld elements cannot "
                         "take a shape of %lld", n->name, (long long)total, (long long)known);
    return XCNN_OK;
}

const char *xcnn_shape_str(const xcnn_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    if (t->ndim == 0) {
        xcnn_format(buf, size, "scalar");
        return buf;
    }
    for (int i = 0; i < t->ndim && used < size; i++) {
        int w = xcnn_format(buf + used, size - used, i ? "x%lld" : "%lld",
                         (long long)t->dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}
