/*
 * Memory planning. Every activation keeps its value and its gradient for
 * the whole pass (explainers read any layer afterwards), so the plan is
 * simple: one slice per tensor, sized for max_batch samples, 64-byte
 * aligned, in one allocation with the op scratch space at the end. Nothing
 * is allocated after this: forward and backward only use these slices.
 * A model loaded inference_only has no gradients and nobody reads the
 * layers in between: its activations share memory by lifetime. One loaded
 * with an explain_layer L does the same below L, and keeps values and
 * gradients from L on (the backward passes, which stop at L, read them).
 * All of it comes from the model's memory (m->mem: the heap or a buffer).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "../base/format.h"


static size_t round_up(size_t n) { return (n + XCNN_ALIGN_FLOATS - 1) / XCNN_ALIGN_FLOATS * XCNN_ALIGN_FLOATS; }

/* "123 bytes" or "4096.0 MiB": sizes in messages, readable at any scale. */
static const char *size_str(uint64_t bytes, char *buf, size_t size)
{
    if (bytes < ((uint64_t)1 << 20)) xcnn_format(buf, size, "%llu bytes", (unsigned long long)bytes);
    else xcnn_format(buf, size, "%.1f MiB", (double)bytes / (1 << 20));
    return buf;
}

/* The arena cap (xcnn_load_options.max_arena_bytes): `bytes` of arena, for
 * batch max_batch, refused before anything is allocated. */
static xcnn_status over_cap(const xcnn_model *m, uint64_t bytes, int max_batch, xcnn_err *err)
{
    if (bytes <= m->max_arena_bytes) return XCNN_OK;
    char need[32], cap[32];
    return xcnn_fail(err, XCNN_ERR_LIMIT, "batch %d needs %s of arena (activations, gradients, "
                     "scratch), over the limit of %s (xcnn_load_options.max_arena_bytes; "
                     "xcnn: --max-arena-mb)", max_batch, size_str(bytes, need, sizeof need),
                     size_str(m->max_arena_bytes, cap, sizeof cap));
}

static int is_arena_tensor(const xcnn_tensor *t)
{
    return t->kind != XCNN_T_CONST && t->dtype == XCNN_DT_FLOAT && t->ndim >= 1;
}

/* n * m without wrapping; returns 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ---- inference only: activations share memory by lifetime ---------------- */

typedef struct span_slot {
    int tensor;
    int first, last; /* positions in the compute order that write / read it */
    size_t size, off;
} span_slot;

static int by_size_desc(const void *a, const void *b)
{
    const span_slot *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->tensor - y->tensor; /* a fixed order: the same plan every load */
}

/* The lowest offset where `s` fits beside every placed slot whose life
 * overlaps its own. Placed slots are few (one per tensor): a scan over
 * them per candidate offset is plenty fast at load time. */
static size_t first_fit(const span_slot *placed, int n_placed, const span_slot *s)
{
    size_t off = 0;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int i = 0; i < n_placed; i++) {
            const span_slot *p = &placed[i];
            if (p->last < s->first || s->last < p->first) continue; /* lives apart */
            if (off < p->off + p->size && p->off < off + s->size) {
                off = p->off + p->size; /* collides: try just past it */
                moved = 1;
            }
        }
    }
    return off;
}

/* A model that only runs forward needs a tensor from the node that writes
 * it to the last node that reads it; after that its memory can hold a
 * later tensor. With an explain_layer (m->grad_from) the backward reads
 * what the nodes after the layer read and write: those tensors, and the
 * layer itself, live to the end. Activations are placed largest first at the lowest offset
 * that no tensor alive at the same time uses (the input and the output
 * live throughout). ResNet-18: 17 MB of activations in about 4 MB, which
 * also stays in cache between layers. Returns the floats used, and sets
 * each activation's offset in offs. */
/* Elementwise nodes (xcnn_op_def.in_place) write their output over an
 * input that dies at them: same shape, not the graph's input or output,
 * not read by a later node (nor kept for a backward). The output then
 * takes the input's slot, whose life grows to the output's; rep[t] is the
 * tensor whose slot t uses (t itself when t has its own). A chain
 * conv -> BatchNormalization -> Relu so costs one slot, not three. */
static void share_in_place(const xcnn_model *m, span_slot *slots, int *rep)
{
    const xcnn_graph *g = m->g;
    for (int i = 0; i < g->n_tensors; i++) rep[i] = i;
    for (int k = 0; k < m->n_compute; k++) {
        const xcnn_node *node = &g->nodes[m->compute[k]];
        if (!node->def || !node->def->in_place || node->n_out != 1) continue;
        int y = node->out[0];
        const xcnn_tensor *ty = &g->tensors[y];
        if (!slots[y].size || y == g->output) continue;
        for (int q = 0; q < node->n_in && q < 32; q++) {
            int x = node->in[q];
            if (!(node->def->in_place >> q & 1u) || x < 0 || x == g->input) continue;
            const xcnn_tensor *tx = &g->tensors[x];
            int r = rep[x];
            if (!slots[r].size) continue; /* not in the arena */
            if (slots[r].last != k || tx->ndim != ty->ndim ||
                memcmp(tx->dims, ty->dims, (size_t)tx->ndim * sizeof tx->dims[0]) != 0)
                continue;
            rep[y] = r;
            slots[r].last = slots[y].last;
            slots[y].size = 0; /* placed with r */
            break;
        }
    }
}

static size_t plan_by_lifetime(const xcnn_model *m, int max_batch, size_t *offs,
                               span_slot *slots, int *rep)
{
    const xcnn_graph *g = m->g;
    /* slots[t] for tensor t while the lives are found, then packed to the
     * front for placing. */
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        int pinned = i == g->input || i == g->output;
        slots[i] = (span_slot){i, pinned ? -1 : INT_MAX, pinned ? INT_MAX : -1, 0, 0};
        if (is_arena_tensor(t))
            slots[i].size = round_up(xcnn_tensor_sample_numel(t) * (size_t)max_batch);
    }
    for (int k = 0; k < m->n_compute; k++) {
        const xcnn_node *node = &g->nodes[m->compute[k]];
        for (int o = 0; o < node->n_out; o++) {
            span_slot *s = &slots[node->out[o]];
            if (k < s->first) s->first = k;
            if (k > s->last) s->last = k;
        }
        for (int q = 0; q < node->n_in; q++)
            if (node->in[q] >= 0 && k > slots[node->in[q]].last) slots[node->in[q]].last = k;
        if (m->grad_from >= 0 && m->compute[k] > g->tensors[m->grad_from].producer) {
            for (int o = 0; o < node->n_out; o++) slots[node->out[o]].last = INT_MAX;
            for (int q = 0; q < node->n_in; q++)
                if (node->in[q] >= 0) slots[node->in[q]].last = INT_MAX;
        }
    }
    if (m->grad_from >= 0) slots[m->grad_from].last = INT_MAX;
    share_in_place(m, slots, rep);
    int n = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        if (!slots[i].size) continue;
        if (slots[i].first == INT_MAX) { /* written by no node, not the input: keep it */
            slots[i].first = -1;
            slots[i].last = INT_MAX;
        }
        slots[n++] = slots[i];
    }
    qsort(slots, (size_t)n, sizeof *slots, by_size_desc);
    size_t total = 0;
    for (int j = 0; j < n; j++) {
        slots[j].off = first_fit(slots, j, &slots[j]);
        offs[slots[j].tensor] = slots[j].off;
        if (slots[j].off + slots[j].size > total) total = slots[j].off + slots[j].size;
    }
    for (int i = 0; i < g->n_tensors; i++)
        if (rep[i] != i) offs[i] = offs[rep[i]];
    return total;
}

/* Does tensor t keep a gradient slice? Every activation in a full load;
 * with an explain_layer, the layer and what is made after it. */
static int has_grad(const xcnn_model *m, int t)
{
    if (m->inference_only) return 0;
    if (m->grad_from < 0) return 1;
    const xcnn_graph *g = m->g;
    return t == m->grad_from ||
           (g->tensors[t].kind == XCNN_T_ACTIVATION &&
            g->tensors[t].producer > g->tensors[m->grad_from].producer);
}

xcnn_status xcnn_arena_reserve(xcnn_model *m, int max_batch, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (max_batch < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch must be at least 1 (got %d)", max_batch);

    size_t total = 0, grads = 0, scratch = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        if (!is_arena_tensor(t)) continue;
        size_t slice;
        if (!mul_ok(xcnn_tensor_sample_numel(t), (size_t)max_batch, &slice) ||
            slice > SIZE_MAX / 16) /* round_up and the sum below stay in range */
            return xcnn_fail(err, XCNN_ERR_LIMIT, "batch %d is too large for tensor '%s'",
                             max_batch, t->name);
        total += round_up(slice); /* its value */
        if (has_grad(m, i)) grads += round_up(slice);
        if (total > SIZE_MAX / 8 || grads > SIZE_MAX / 8)
            return xcnn_fail(err, XCNN_ERR_LIMIT, "batch %d needs more memory than "
                             "can be addressed", max_batch);
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].folded && g->nodes[i].scratch_floats > scratch)
            scratch = g->nodes[i].scratch_floats;
    scratch = round_up(scratch);
    size_t *offs = NULL;
    size_t nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    if (m->shared_values) { /* activations share memory by lifetime */
        offs = xcnn_mem_alloc(m->mem, nt * sizeof *offs);
        /* the slots and rep[] in one block: freed at once, a buffer's
         * allocator takes that room back (base/mem.h) */
        span_slot *slots = offs ? xcnn_mem_alloc(m->mem, nt * (sizeof *slots + sizeof(int)))
                                : NULL;
        if (!slots) {
            xcnn_mem_free(m->mem, offs);
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory planning the arena");
        }
        int *rep = (int *)(slots + nt);
        total = plan_by_lifetime(m, max_batch, offs, slots, rep);
        xcnn_mem_free(m->mem, slots);
    }
    total += grads + scratch;
    xcnn_status st = over_cap(m, (uint64_t)total * sizeof(float) + m->param_grad_bytes,
                              max_batch, err);
    if (st) {
        xcnn_mem_free(m->mem, offs);
        return st;
    }

    /* Zeroed so that reading a tensor before any pass gives 0, not garbage.
     * calloc, not malloc + memset: a large block comes straight from the
     * OS as zero pages that use no memory until written, so the slices of
     * a batch larger than the passes actually run (the explainers cap
     * theirs) cost address space, not RAM. Over-allocated by one cache
     * line to align the start by hand (a buffer's blocks are aligned
     * already; the line is kept so the plan is the same everywhere). */
    size_t floats = (total ? total : XCNN_ALIGN_FLOATS) + XCNN_ALIGN_FLOATS;
    float *mem = xcnn_mem_calloc(m->mem, floats, sizeof(float));
    if (!mem) {
        xcnn_mem_free(m->mem, offs);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "needed %zu bytes for batch %d, allocation failed",
                         total * sizeof(float), max_batch);
    }
    /* Everything a batch sizes is allocated before the old plan is let
     * go: a failed reserve leaves the model as it was. */
    xcnn_workspace_batch ws = {NULL, NULL, NULL};
    if ((st = xcnn_workspace_alloc(m, max_batch, &ws, err))) {
        xcnn_mem_free(m->mem, mem);
        xcnn_mem_free(m->mem, offs);
        return st;
    }
    float *arena = (float *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    xcnn_mem_free(m->mem, m->arena_mem);
    m->arena_mem = mem;
    m->arena = arena;
    m->arena_bytes = total * sizeof(float);
    m->max_batch = max_batch;
    m->have_forward = m->have_backward = 0;

    /* Values first (shared: at their planned offsets; else one after
     * another, each followed by its gradient), then the gradients of a
     * shared plan, then the scratch. */
    size_t off = offs ? total - grads - scratch : 0;
    for (int i = 0; i < g->n_tensors; i++) {
        xcnn_tensor *t = &g->tensors[i];
        if (!is_arena_tensor(t)) continue;
        size_t slice = round_up(xcnn_tensor_sample_numel(t) * (size_t)max_batch);
        t->grad = NULL;
        if (offs) {
            t->data = arena + offs[i];
        } else {
            t->data = arena + off;
            off += slice;
        }
        if (has_grad(m, i)) {
            t->grad = arena + off;
            off += slice;
        }
    }
    xcnn_mem_free(m->mem, offs);
    m->scratch = arena + off;
    m->scratch_floats = scratch;
    g->scratch_floats = scratch;
    st = xcnn_workspace_reserve(m, &ws, err); /* fails only at load: see workspace.c */
    if (st) return st;
    /* The per-thread views are an optimisation: without them (out of
     * memory for them) the explainers run batched passes, to the same
     * bits. The new arena is in place; the reserve has succeeded. */
    xcnn_err ignored = {{0}};
    (void)xcnn_exec_reserve_views(m, &ignored);
    return XCNN_OK;
}

/* A weight gets a gradient buffer when a compute node reads it as a float. */
static int is_param(const xcnn_graph *g, int ti)
{
    const xcnn_tensor *t = &g->tensors[ti];
    if (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data) return 0;
    return xcnn_graph_readers(g, ti, NULL) > 0;
}

xcnn_status xcnn_arena_enable_param_grads(xcnn_model *m, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (m->param_grads) return XCNN_OK;
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model was loaded for inference only");
    if (m->grad_from >= 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model keeps gradients only from its "
                         "explain_layer on (xcnn_load_options.explain_layer): weights get none");
    if (m->mem)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "the model lives in a static buffer "
                         "(xcnn_model_load_static): there is no room for weight gradients, "
                         "and its weights are read-only");
    size_t total = 0;
    for (int i = 0; i < g->n_tensors; i++)
        if (is_param(g, i)) total += round_up(xcnn_tensor_numel(&g->tensors[i]));
    /* counted in xcnn_model_arena_bytes, so under the same cap */
    uint64_t bytes = (uint64_t)m->arena_bytes + (uint64_t)total * sizeof(float);
    if (bytes > m->max_arena_bytes) {
        char need[32], cap[32];
        return xcnn_fail(err, XCNN_ERR_LIMIT, "weight gradients would bring the arena to %s, "
                         "over the limit of %s (xcnn_load_options.max_arena_bytes)",
                         size_str(bytes, need, sizeof need),
                         size_str(m->max_arena_bytes, cap, sizeof cap));
    }
    float *mem = aligned_alloc(64, (total ? total : XCNN_ALIGN_FLOATS) * sizeof(float));
    if (!mem)
        return xcnn_fail(err, XCNN_ERR_NOMEM, "needed %zu bytes for weight gradients",
                         total * sizeof(float));
    memset(mem, 0, (total ? total : XCNN_ALIGN_FLOATS) * sizeof(float));
    size_t off = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        if (!is_param(g, i)) continue;
        g->tensors[i].grad = mem + off;
        off += round_up(xcnn_tensor_numel(&g->tensors[i]));
    }
    m->param_grad_mem = mem;
    m->param_grad_bytes = total * sizeof(float);
    m->param_grads = 1;
    return XCNN_OK;
}
