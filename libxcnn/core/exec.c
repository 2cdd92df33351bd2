/*
 * Running the graph. Forward walks the compute nodes in topological order.
 * Backward walks them in reverse: each node reads the gradient of its
 * outputs and adds into the gradients of its inputs, so where a tensor
 * feeds several nodes (a residual branch) the contributions add up.
 *
 * A backward pass can stop early (Grad-CAM needs the gradient at one layer
 * only): nodes at or before the producer of the stop tensor are not run,
 * and tensors before it do not collect gradients at all, so the ops skip
 * that work.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "model.h"
#include "../base/threads.h"

static void apply_threads(const xcnn_model *m)
{
#ifdef _OPENMP
    /* Per calling thread (an OpenMP ICV), not process-wide state. */
    if (m->threads > 0) omp_set_num_threads(m->threads);
#else
    (void)m;
#endif
}

/* What a walk over the graph uses: the model's own graph, scratch and
 * backward bookkeeping, or a sample view's (xcnn_exec_sample_passes). */
typedef struct run_env {
    xcnn_graph *g;
    const int *compute;
    int n_compute;
    float *scratch;
    unsigned char *reached, *cleared;
    /* Profiling (xcnn_model_set_profiling): seconds per compute node of the
     * forward and of the backward walk, or NULL: not timed, and the clock
     * is never read. */
    double *fwd_seconds, *bwd_seconds;
} run_env;

static run_env model_env(xcnn_model *m)
{
    double *p = m->prof_seconds;
    return (run_env){m->g, m->compute, m->n_compute, m->scratch, m->reached, m->cleared,
                     p, p ? p + m->n_compute : NULL};
}

/* A monotonic clock in seconds, for profiling only. C11's clock() (CPU
 * time, summed over threads) where POSIX's monotonic clock is missing. */
static double now_seconds(void)
{
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* Check `batch` inputs and copy them into the graph's input. */
static xcnn_status copy_input(xcnn_model *m, const float *input, int batch, xcnn_err *err)
{
    if (!input) return xcnn_fail(err, XCNN_ERR_ARG, "input is NULL");
    if (batch < 1 || batch > m->max_batch)
        return xcnn_fail(err, XCNN_ERR_ARG,
                         "batch %d is outside 1..%d (call xcnn_model_reserve for more)", batch,
                         m->max_batch);
    xcnn_tensor *in = &m->g->tensors[m->g->input];
    size_t n = xcnn_tensor_sample_numel(in) * (size_t)batch;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(input[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "input element %zu is %s", i,
                             isnan(input[i]) ? "NaN" : "infinite");
    memcpy(in->data, input, n * sizeof(float));
    return XCNN_OK;
}

static void walk_forward(const run_env *e, int batch)
{
    e->g->batch = batch;
    for (int i = 0; i < e->n_compute; i++) {
        const xcnn_node *node = &e->g->nodes[e->compute[i]];
        double t0 = e->fwd_seconds ? now_seconds() : 0;
        node->def->forward(e->g, node, batch, e->scratch);
        if (e->fwd_seconds) e->fwd_seconds[i] = now_seconds() - t0;
    }
}

xcnn_status xcnn_exec_forward(xcnn_model *m, const float *input, int batch, xcnn_err *err)
{
    return xcnn_exec_forward_values(m, input, batch, -1, err);
}

/* ---- NaN and Inf ----------------------------------------------------- */
/* A pass whose output or input gradient holds a NaN or an Inf is an error
 * (XCNN_ERR_NUMERIC): an overflow inside the network must not come out as
 * a score or an attribution. Finite passes pay for one scan of the output
 * and of the gradient they end at; only a failed pass looks for the node
 * where the values first went wrong. */

/* The index of the first NaN or Inf among v[0..n-1], or n. */
static size_t first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

static const char *nonfinite_word(float v) { return isnan(v) ? "NaN" : "infinite"; }

/* If the last forward's output (`batch` samples) holds a NaN or an Inf,
 * name the first node, in forward order, whose output does. */
static xcnn_status forward_nonfinite(xcnn_model *m, int batch, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    const xcnn_tensor *y = &g->tensors[g->output];
    size_t yn = xcnn_tensor_sample_numel(y) * (size_t)batch, yi = first_nonfinite(y->data, yn);
    if (yi == yn) return XCNN_OK;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *node = &g->nodes[m->compute[i]];
        /* inference_only models (and those below an explain_layer) reuse
         * activation memory, so the layers' values are gone by now: on
         * this error path the forward runs again (from the input, which is
         * kept), node by node, and each output is looked at while it lives. */
        if (m->shared_values) node->def->forward(g, node, batch, m->scratch);
        for (int o = 0; o < node->n_out; o++) {
            const xcnn_tensor *t = &g->tensors[node->out[o]];
            if (t->kind != XCNN_T_ACTIVATION || !t->data) continue;
            size_t n = xcnn_tensor_sample_numel(t) * (size_t)batch, k = first_nonfinite(t->data, n);
            if (k < n)
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "the model's output is not finite: "
                                 "node '%s' (%s) is the first to give %s value (its output "
                                 "'%s', element %zu)", node->name, node->op_type,
                                 isnan(t->data[k]) ? "a NaN" : "an infinite", t->name, k);
        }
    }
    return xcnn_fail(err, XCNN_ERR_NUMERIC, "the model's output is not finite: element %zu is %s",
                     yi, nonfinite_word(y->data[yi]));
}

xcnn_status xcnn_exec_forward_values(xcnn_model *m, const float *input, int batch, int layer,
                                     xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (layer >= g->n_tensors || (layer >= 0 && g->tensors[layer].kind != XCNN_T_ACTIVATION))
        return xcnn_fail(err, XCNN_ERR_ARG, "a values-only forward needs a layer output");
    xcnn_status st = copy_input(m, input, batch, err);
    if (st) return st;
    g->values_below = layer >= 0 ? g->tensors[layer].producer + 1 : 0;
    apply_threads(m);
    run_env e = model_env(m);
    walk_forward(&e, batch);
    m->have_forward = 1;
    m->have_backward = 0;
    /* which forms the ops have made (sample passes must not make any on
     * two threads at once): a values-only forward makes other forms
     * below its layer (Winograd F(4x4)) than a gradient-keeping one */
    if (layer < 0) m->ops_warm = 1;
    if (layer == g->output) m->values_warm = 1;
    return forward_nonfinite(m, batch, err);
}

/* Zero tensor ti's gradient buffer, once per backward pass, if it
 * collects a gradient in this pass. */
static void clear_grad(const run_env *e, int ti, int batch)
{
    xcnn_tensor *t = &e->g->tensors[ti];
    if (!t->grad_on || e->cleared[ti]) return;
    size_t n = t->kind == XCNN_T_CONST ? xcnn_tensor_numel(t)
                                       : xcnn_tensor_sample_numel(t) * (size_t)batch;
    /* Large buffers (ResNet's stem output: 3.2 MB a sample) in pieces on
     * all threads: one thread clearing them left the other idle. */
    enum { PIECE = 65536 };
    long pieces = (long)((n + PIECE - 1) / PIECE);
    if (!xcnn_fork_worth(n > XCNN_PARALLEL_MIN)) {
        memset(t->grad, 0, n * sizeof(float));
        e->cleared[ti] = 1;
        return;
    }
#pragma omp parallel for schedule(static)
    for (long i = 0; i < pieces; i++) {
        size_t start = (size_t)i * PIECE, len = n - start < PIECE ? n - start : PIECE;
        memset(t->grad + start, 0, len * sizeof(float));
    }
    e->cleared[ti] = 1;
}

/* Does tensor i collect a gradient in a backward from tensor `from` (the
 * output, or a cut) that stops at `stop` (-1: none)? Tensors made after
 * `from` are outside the pass; weights only in full passes. */
static int collects_grad(const xcnn_graph *g, int i, int from, int stop)
{
    const xcnn_tensor *t = &g->tensors[i];
    if (!t->grad) return 0;
    if (t->kind == XCNN_T_CONST) return stop < 0 && from == g->output;
    if (t->producer > g->tensors[from].producer) return 0;
    return stop < 0 || i == stop || t->producer > g->tensors[stop].producer;
}

/*
 * The backward walk shared by both entry points. `from` is the tensor the
 * seed gradient goes into (the graph output, or a cut for
 * xcnn_exec_backward_from); `stop` as in xcnn_exec_backward.
 */
static void run_backward(const run_env *e, int from, const int *targets, const float *seed,
                         const xcnn_bwd_ctx *ctx, int stop)
{
    xcnn_graph *g = e->g;
    int batch = g->batch;
    xcnn_tensor *out = &g->tensors[from];
    size_t k = xcnn_tensor_sample_numel(out);
    int from_producer = out->producer;
    int stop_producer = stop >= 0 ? g->tensors[stop].producer : -1;

    /* Decide who collects gradients. Their buffers are cleared just before
     * the first node that adds into them runs (clear_grad), not all up
     * front: the zeroed lines are then still in cache when the adding
     * starts, and the clearing is spread between the parallel kernels
     * instead of being one long serial memset. Tensors made after `from`
     * are outside this pass and keep what they hold. */
    for (int i = 0; i < g->n_tensors; i++) {
        e->reached[i] = 0;
        e->cleared[i] = 0;
        g->tensors[i].grad_on = collects_grad(g, i, from, stop);
    }
    clear_grad(e, from, batch);

    for (int b = 0; b < batch; b++) {
        float *gb = out->grad + (size_t)b * k;
        if (seed) memcpy(gb, seed + (size_t)b * k, k * sizeof(float));
        else gb[targets[b]] = 1.0f;
    }
    e->reached[from] = 1;

    if (e->bwd_seconds) memset(e->bwd_seconds, 0, (size_t)e->n_compute * sizeof(double));
    for (int i = e->n_compute - 1; i >= 0; i--) {
        int ni = e->compute[i];
        if (ni > from_producer) continue;
        if (ni <= stop_producer) break;
        const xcnn_node *node = &g->nodes[ni];
        int any = 0;
        for (int o = 0; o < node->n_out; o++) any |= e->reached[node->out[o]];
        if (!any) continue; /* nothing downstream of this node reaches the output */
        /* A node's time includes zeroing the gradients it adds into. */
        double t0 = e->bwd_seconds ? now_seconds() : 0;
        for (int k2 = 0; k2 < node->n_in; k2++)
            if (node->in[k2] >= 0) clear_grad(e, node->in[k2], batch);
        if (ctx->node_rule) ctx->node_rule(g, node, batch, e->scratch, ctx);
        else node->def->backward(g, node, batch, e->scratch, ctx);
        if (e->bwd_seconds) e->bwd_seconds[i] = now_seconds() - t0;
        for (int k2 = 0; k2 < node->n_in; k2++)
            if (node->in[k2] >= 0) e->reached[node->in[k2]] = 1;
    }
    /* Gradients that nothing reached are zero, not stale. */
    for (int i = 0; i < g->n_tensors; i++) clear_grad(e, i, batch);
}

static xcnn_status backward_allowed(const xcnn_model *m, int stop, xcnn_err *err)
{
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model was loaded for inference only "
                         "(xcnn_load_options.inference_only): no gradients");
    if (m->grad_from >= 0 &&
        (stop < 0 || (stop < m->g->n_tensors && m->g->tensors[stop].producer <
                                                    m->g->tensors[m->grad_from].producer)))
        return xcnn_fail(err, XCNN_ERR_ARG, "the model keeps gradients only from '%s' on "
                         "(xcnn_load_options.explain_layer): a backward must stop there or "
                         "after it", m->g->tensors[m->grad_from].name);
    if (!m->have_forward)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward called before forward");
    return XCNN_OK;
}

/* A backward whose lowest node is `lowest` reads only values the last
 * forward made for gradients. */
static xcnn_status values_readable(const xcnn_model *m, int lowest, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    if (lowest >= g->values_below) return XCNN_OK;
    const xcnn_tensor *t = &g->tensors[g->nodes[g->values_below - 1].out[0]];
    return xcnn_fail(err, XCNN_ERR_ARG, "the last forward computed values only, up to '%s' "
                     "(a Grad-CAM pass): run a forward before a backward below it", t->name);
}

/* A backward to `stop` has run: every node after stop's producer has
 * made the weight forms its backward makes on first use. */
static void note_warm(xcnn_model *m, int stop)
{
    int from = stop >= 0 ? m->g->tensors[stop].producer + 1 : 0;
    if (from < m->warm_from) m->warm_from = from;
}

/* The backward just run (from tensor `from`, to `stop`, over `batch`
 * samples) left a NaN or an Inf in the gradient it ends at, stop's or the
 * input's: name the first tensor, going back from `from`, whose gradient
 * holds one, and a node that reads it. */
static xcnn_status backward_nonfinite(const xcnn_model *m, int from, int stop, int batch,
                                      xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    const xcnn_tensor *end = &g->tensors[stop >= 0 ? stop : g->input];
    if (!end->grad) return XCNN_OK;
    size_t en = xcnn_tensor_sample_numel(end) * (size_t)batch, ei = first_nonfinite(end->grad, en);
    if (ei == en) return XCNN_OK;
    /* "the gradient at 'stop'" or "the input gradient" */
    const char *w0 = stop >= 0 ? "the gradient at '" : "the input gradient";
    const char *w1 = stop >= 0 ? end->name : "", *w2 = stop >= 0 ? "'" : "";
    int from_producer = g->tensors[from].producer;
    int stop_producer = stop >= 0 ? g->tensors[stop].producer : -1;
    for (int i = m->n_compute - 1; i >= 0; i--) {
        int ni = m->compute[i];
        if (ni > from_producer) continue;
        if (ni <= stop_producer) break;
        const xcnn_node *node = &g->nodes[ni];
        for (int k = 0; k < node->n_in; k++) {
            int ti = node->in[k];
            if (ti < 0 || g->tensors[ti].kind == XCNN_T_CONST || !collects_grad(g, ti, from, stop))
                continue;
            const xcnn_tensor *t = &g->tensors[ti];
            size_t n = xcnn_tensor_sample_numel(t) * (size_t)batch, j = first_nonfinite(t->grad, n);
            if (j < n)
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s%s%s is not finite: going back from "
                                 "the output, the first gradient to go %s is at '%s' (an input "
                                 "of node '%s', %s), element %zu", w0, w1, w2,
                                 nonfinite_word(t->grad[j]), t->name, node->name, node->op_type,
                                 j);
        }
    }
    return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s%s%s is not finite: element %zu is %s", w0, w1,
                     w2, ei, nonfinite_word(end->grad[ei]));
}

/* The arguments of a backward over `batch` samples of the last forward. */
/* pick: a target of -1 is allowed (sample_passes makes it the arg-max). */
static xcnn_status check_targets(const xcnn_model *m, const int *targets, const float *seed,
                                 xcnn_relu_rule rule, int stop, int batch, int pick,
                                 xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    xcnn_status st = backward_allowed(m, stop, err);
    if (st) return st;
    if (!targets && !seed)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward needs targets or a seed gradient");
    size_t k = xcnn_tensor_sample_numel(&g->tensors[g->output]);
    if (targets)
        for (int b = 0; b < batch; b++)
            if (targets[b] < (pick ? -1 : 0) || (targets[b] >= 0 && (size_t)targets[b] >= k))
                return xcnn_fail(err, XCNN_ERR_ARG, "target %d is out of range: the output "
                                 "has %zu classes (0..%zu)", targets[b], k, k - 1);
    if (!targets) {
        size_t sn = k * (size_t)batch, si = first_nonfinite(seed, sn);
        if (si < sn)
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "seed gradient element %zu is %s", si,
                             nonfinite_word(seed[si]));
    }

    if (rule != XCNN_RELU_GRADIENT && rule != XCNN_RELU_DECONVNET && rule != XCNN_RELU_GUIDED)
        return xcnn_fail(err, XCNN_ERR_ARG, "unknown relu rule %d", (int)rule);
    if (stop >= 0 && (stop >= g->n_tensors || g->tensors[stop].kind == XCNN_T_CONST ||
                      !g->tensors[stop].grad))
        return xcnn_fail(err, XCNN_ERR_ARG, "'%s' is a weight or constant, not a layer "
                         "output", stop < g->n_tensors ? g->tensors[stop].name : "?");
    return values_readable(m, stop >= 0 ? g->tensors[stop].producer + 1 : 0, err);
}

static xcnn_status check_backward(const xcnn_model *m, const int *targets, const float *seed,
                                  xcnn_relu_rule rule, int stop, int batch, xcnn_err *err)
{
    return check_targets(m, targets, seed, rule, stop, batch, 0, err);
}

xcnn_status xcnn_exec_backward(xcnn_model *m, const int *targets, const float *seed,
                               xcnn_relu_rule rule, int stop, xcnn_err *err)
{
    xcnn_status st = check_backward(m, targets, seed, rule, stop, m->g->batch, err);
    if (st) return st;
    apply_threads(m);
    run_env e = model_env(m);
    xcnn_bwd_ctx ctx = {rule, NULL, NULL};
    run_backward(&e, m->g->output, targets, seed, &ctx, stop);
    m->have_backward = 1;
    note_warm(m, stop);
    return backward_nonfinite(m, m->g->output, stop, m->g->batch, err);
}

xcnn_status xcnn_exec_backward_rules(xcnn_model *m, const int *targets, const float *seed,
                                     const xcnn_bwd_ctx *ctx, int batch, int stop, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (!ctx) return xcnn_fail(err, XCNN_ERR_ARG, "backward rules: no context");
    if (batch < 1 || batch > g->batch)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch %d is outside 1..%d (the last forward)",
                         batch, g->batch);
    xcnn_status st = check_backward(m, targets, seed, ctx->relu_rule, stop, batch, err);
    if (st) return st;
    int last = g->batch;
    g->batch = batch; /* the first `batch` samples; the rest stay readable */
    apply_threads(m);
    run_env e = model_env(m);
    run_backward(&e, g->output, targets, seed, ctx, stop);
    g->batch = last;
    m->have_backward = 1;
    note_warm(m, stop);
    return backward_nonfinite(m, g->output, stop, batch, err);
}

xcnn_status xcnn_exec_forward_edit(xcnn_model *m, const float *input, int batch, int layer,
                                   xcnn_forward_edit edit, void *state, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (layer < 0 || layer >= g->n_tensors || g->tensors[layer].kind != XCNN_T_ACTIVATION ||
        !edit)
        return xcnn_fail(err, XCNN_ERR_ARG, "an edited forward needs a layer output");
    xcnn_status st = copy_input(m, input, batch, err);
    if (st) return st;
    g->values_below = 0;
    g->batch = batch;
    apply_threads(m);
    int at = g->tensors[layer].producer;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *node = &g->nodes[m->compute[i]];
        node->def->forward(g, node, batch, m->scratch);
        if (m->compute[i] == at) edit(&g->tensors[layer], batch, state);
    }
    m->have_forward = 1;
    m->have_backward = 0;
    m->ops_warm = 1;
    return forward_nonfinite(m, batch, err);
}

int xcnn_exec_forward_from_ok(const xcnn_model *m, int layer)
{
    const xcnn_graph *g = m->g;
    if (layer < 0 || layer >= g->n_tensors || g->tensors[layer].kind != XCNN_T_ACTIVATION ||
        m->shared_values)
        return 0;
    int at = g->tensors[layer].producer;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *node = &g->nodes[m->compute[i]];
        if (m->compute[i] <= at) continue;
        for (int k = 0; k < node->n_in; k++) {
            int ti = node->in[k];
            if (ti < 0 || ti == layer) continue;
            const xcnn_tensor *t = &g->tensors[ti];
            if (t->kind == XCNN_T_CONST) continue;
            if (t->kind != XCNN_T_ACTIVATION || t->producer <= at) return 0;
        }
    }
    return 1;
}

xcnn_status xcnn_exec_forward_from(xcnn_model *m, int layer, int batch, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (!xcnn_exec_forward_from_ok(m, layer))
        return xcnn_fail(err, XCNN_ERR_ARG, "a forward from '%s' would read values made "
                         "before it", layer >= 0 && layer < g->n_tensors ?
                         g->tensors[layer].name : "?");
    if (batch < 1 || batch > m->max_batch)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch %d is outside 1..%d", batch, m->max_batch);
    const xcnn_tensor *lt = &g->tensors[layer];
    size_t n = xcnn_tensor_sample_numel(lt) * (size_t)batch, k = first_nonfinite(lt->data, n);
    if (k < n)
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "the values given at '%s' are not finite: "
                         "element %zu is %s", lt->name, k, nonfinite_word(lt->data[k]));
    g->values_below = 0;
    g->batch = batch;
    apply_threads(m);
    int at = lt->producer;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *node = &g->nodes[m->compute[i]];
        if (m->compute[i] > at) node->def->forward(g, node, batch, m->scratch);
    }
    m->have_forward = 1;
    m->have_backward = 0;
    return forward_nonfinite(m, batch, err);
}

xcnn_status xcnn_exec_backward_from(xcnn_model *m, int cut, const float *seed, int batch,
                                    xcnn_err *err)
{
    xcnn_graph *g = m->g;
    xcnn_status st = backward_allowed(m, -1, err); /* down to the input */
    if (st) return st;
    if (cut < 0 || cut >= g->n_tensors || g->tensors[cut].kind != XCNN_T_ACTIVATION ||
        !g->tensors[cut].grad || !seed)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward_from needs a layer output and a seed");
    if (batch < 1 || batch > g->batch)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch %d is outside 1..%d (the last forward)",
                         batch, g->batch);
    if ((st = values_readable(m, 0, err))) return st;
    size_t sn = xcnn_tensor_sample_numel(&g->tensors[cut]) * (size_t)batch;
    size_t si = first_nonfinite(seed, sn);
    if (si < sn)
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "the gradient given at '%s' is not finite: "
                         "element %zu is %s", g->tensors[cut].name, si, nonfinite_word(seed[si]));
    int last = g->batch;
    g->batch = batch;
    apply_threads(m);
    run_env e = model_env(m);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    run_backward(&e, cut, NULL, seed, &ctx, -1);
    m->have_backward = 1;
    g->batch = last;
    return backward_nonfinite(m, cut, -1, batch, err);
}

xcnn_status xcnn_exec_backward_at(xcnn_model *m, int from, const float *seed, int batch,
                                  xcnn_err *err)
{
    xcnn_graph *g = m->g;
    xcnn_status st = backward_allowed(m, -1, err); /* down to the input */
    if (st) return st;
    if (from < 0 || from >= g->n_tensors || g->tensors[from].kind != XCNN_T_ACTIVATION ||
        !g->tensors[from].grad || !seed)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward_at needs a layer output and a seed");
    if (batch < 1 || batch > g->batch)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch %d is outside 1..%d (the last forward)",
                         batch, g->batch);
    if ((st = values_readable(m, 0, err))) return st;
    size_t sn = xcnn_tensor_sample_numel(&g->tensors[from]) * (size_t)batch;
    size_t si = first_nonfinite(seed, sn);
    if (si < sn)
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "the gradient given at '%s' is not finite: "
                         "element %zu is %s", g->tensors[from].name, si, nonfinite_word(seed[si]));
    int last = g->batch;
    g->batch = batch;
    /* run_backward clears from's gradient only: the other outputs of its
     * producer (a Split) start at zero here, since that node's backward
     * reads them and no node after it runs. */
    const xcnn_node *prod = &g->nodes[g->tensors[from].producer];
    for (int o = 0; o < prod->n_out; o++) {
        if (prod->out[o] < 0 || prod->out[o] == from) continue;
        xcnn_tensor *t = &g->tensors[prod->out[o]];
        if (t->grad)
            memset(t->grad, 0, xcnn_tensor_sample_numel(t) * (size_t)batch * sizeof(float));
    }
    apply_threads(m);
    run_env e = model_env(m);
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    run_backward(&e, from, NULL, seed, &ctx, -1);
    m->have_backward = 1; /* not note_warm: the nodes after from's producer did not run */
    g->batch = last;
    return backward_nonfinite(m, from, -1, batch, err);
}

/* ---- sample passes: one sample per thread ---------------------------- */

void xcnn_exec_free_views(xcnn_model *m)
{
    for (int v = m->n_views - 1; v >= 0; v--) {
        xcnn_mem_free(m->mem, m->views[v].scratch_mem);
        xcnn_mem_free(m->mem, m->views[v].cleared);
        xcnn_mem_free(m->mem, m->views[v].reached);
        xcnn_mem_free(m->mem, m->views[v].tensors);
    }
    xcnn_mem_free(m->mem, m->views);
    m->views = NULL;
    m->n_views = 0;
}

xcnn_status xcnn_exec_reserve_views(xcnn_model *m, xcnn_err *err)
{
    xcnn_exec_free_views(m);
    int n = m->threads > 0 ? m->threads : xcnn_threads_max();
#ifndef _OPENMP
    n = 1; /* one thread whatever xcnn_model_set_threads said */
#endif
    if (n > m->max_batch) n = m->max_batch;
    /* shared_values: two samples' passes at once would write each other's
     * slices (a tensor's memory holds another's values by then) */
    if (n < 2 || m->shared_values) return XCNN_OK;
    m->views = xcnn_mem_calloc(m->mem, (size_t)n, sizeof *m->views);
    if (!m->views) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for sample views");
    m->n_views = n;
    size_t nt = (size_t)(m->g->n_tensors ? m->g->n_tensors : 1);
    for (int v = 0; v < n; v++) {
        xcnn_sample_view *w = &m->views[v];
        w->tensors = xcnn_mem_alloc(m->mem, nt * sizeof *w->tensors);
        w->reached = xcnn_mem_alloc(m->mem, nt);
        w->cleared = xcnn_mem_alloc(m->mem, nt);
        /* view 0 runs on the calling thread, alone in the model's scratch */
        w->scratch_mem = v ? xcnn_mem_alloc(m->mem, (m->scratch_floats + XCNN_ALIGN_FLOATS) *
                                                        sizeof(float))
                           : NULL;
        w->scratch = v ? (float *)(((uintptr_t)w->scratch_mem + 63) & ~(uintptr_t)63)
                       : m->scratch;
        if (!w->tensors || !w->reached || !w->cleared || (v && !w->scratch_mem)) {
            xcnn_exec_free_views(m);
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory for sample views");
        }
    }
    return XCNN_OK;
}

/* Point view w at sample b: activations and their gradients at b's slice;
 * weights shared, without gradients (the views' passes never train). */
static void point_view(const xcnn_model *m, xcnn_sample_view *w, int b)
{
    const xcnn_graph *g = m->g;
    for (int i = 0; i < g->n_tensors; i++) {
        const xcnn_tensor *t = &g->tensors[i];
        xcnn_tensor *vt = &w->tensors[i];
        *vt = *t;
        if (t->kind == XCNN_T_CONST) {
            vt->grad = NULL;
            continue;
        }
        size_t off = xcnn_tensor_sample_numel(t) * (size_t)b;
        if (t->data) vt->data = t->data + off;
        if (t->grad) vt->grad = t->grad + off;
    }
    w->g = *g;
    w->g.tensors = w->tensors;
    w->g.values_below = 0; /* whole passes, gradients included */
}

/* The first largest of sample b's outputs (xcnn_ex_pick_target's arg-max);
 * a NaN output is found after the passes (forward_nonfinite). */
static int sample_argmax(const float *y, size_t k)
{
    size_t t = 0;
    for (size_t i = 1; i < k; i++)
        if (y[i] > y[t]) t = i;
    return (int)t;
}

/* Forward and backward of sample b on view w, on the calling thread. A
 * target of -1 (only with `pick`) becomes the arg-max of the sample's own
 * output, written back into targets[b] before its backward. */
static void sample_pass(const xcnn_model *m, xcnn_sample_view *w, int b, int *targets, int pick,
                        xcnn_relu_rule rule, int stop)
{
    point_view(m, w, b);
    /* Not timed: the samples run at once on several threads. */
    run_env e = {&w->g, m->compute, m->n_compute, w->scratch, w->reached, w->cleared,
                 NULL, NULL};
    walk_forward(&e, 1);
    if (pick && targets[b] < 0) {
        const xcnn_tensor *y = &w->g.tensors[m->g->output];
        targets[b] = sample_argmax(y->data, xcnn_tensor_sample_numel(y));
    }
    xcnn_bwd_ctx ctx = {rule, NULL, NULL};
    run_backward(&e, m->g->output, targets + b, NULL, &ctx, stop);
}

/* xcnn_exec_sample_passes, and with `pick` the targets of -1 resolved to
 * each sample's arg-max (targets is then written: see model.h). */
static xcnn_status sample_passes(xcnn_model *m, const float *input, int batch, int *targets,
                                 int pick, xcnn_relu_rule rule, int stop, xcnn_err *err)
{
    int threads = m->threads > 0 ? m->threads : xcnn_threads_max();
    int nv = m->n_views < threads ? m->n_views : threads;
    if (nv > batch) nv = batch;
    if (nv < 2 || m->g->training) { /* the batched pass */
        xcnn_status st = xcnn_exec_forward(m, input, batch, err);
        if (st) return st;
        const xcnn_tensor *y = &m->g->tensors[m->g->output];
        size_t k = xcnn_tensor_sample_numel(y);
        for (int b = 0; pick && b < batch; b++)
            if (targets[b] < 0) targets[b] = sample_argmax(y->data + (size_t)b * k, k);
        return xcnn_exec_backward(m, targets, NULL, rule, stop, err);
    }
    xcnn_status st = copy_input(m, input, batch, err);
    if (st) return st;
    m->have_forward = 1; /* for check_backward: the passes below run it */
    m->g->values_below = 0;
    st = check_targets(m, targets, NULL, rule, stop, batch, pick, err);
    if (st) return st;
    apply_threads(m);
    /* Ops make some weight forms on first use (conv.c: Winograd's U, the
     * packed forms). Two threads must not make the same one at once, so
     * until every op of this pass has run, sample 0 runs first alone, its
     * ops on all threads. */
    int first = 0, from = stop >= 0 ? m->g->tensors[stop].producer + 1 : 0;
    if (!m->ops_warm || from < m->warm_from) {
        sample_pass(m, &m->views[0], 0, targets, pick, rule, stop);
        m->ops_warm = 1;
        note_warm(m, stop);
        first = 1;
    }
    /* Thread t of the nt the region got runs samples first + t,
     * first + t + nt, ...: any split gives the same bits. Its ops' own
     * parallel regions get this thread only (nthreads is a per-thread ICV:
     * nobody else's setting changes). */
#pragma omp parallel num_threads(nv)
    {
        int t = xcnn_thread_num(), nt = xcnn_team_size();
#ifdef _OPENMP
        omp_set_num_threads(1);
#endif
        for (int b = first + t; b < batch; b += nt)
            sample_pass(m, &m->views[t], b, targets, pick, rule, stop);
    }
    m->g->batch = batch;
    m->have_forward = m->have_backward = 1;
    st = forward_nonfinite(m, batch, err);
    return st ? st : backward_nonfinite(m, m->g->output, stop, batch, err);
}

/* Values-only forwards of every node, one sample per thread (model.h). */
xcnn_status xcnn_exec_sample_forwards(xcnn_model *m, const float *input, int batch,
                                      xcnn_err *err)
{
    xcnn_graph *g = m->g;
    int threads = m->threads > 0 ? m->threads : xcnn_threads_max();
    int nv = m->n_views < threads ? m->n_views : threads;
    if (nv > batch) nv = batch;
    if (nv < 2 || g->training || !m->values_warm)
        return xcnn_exec_forward_values(m, input, batch, g->output, err);
    xcnn_status st = copy_input(m, input, batch, err);
    if (st) return st;
    g->values_below = g->tensors[g->output].producer + 1; /* as forward_values(output) */
    apply_threads(m);
#pragma omp parallel num_threads(nv)
    {
        int t = xcnn_thread_num(), nt = xcnn_team_size();
#ifdef _OPENMP
        omp_set_num_threads(1);
#endif
        xcnn_sample_view *w = &m->views[t];
        for (int b = t; b < batch; b += nt) {
            point_view(m, w, b);
            w->g.values_below = g->values_below;
            run_env e = {&w->g, m->compute, m->n_compute, w->scratch, w->reached, w->cleared,
                         NULL, NULL};
            walk_forward(&e, 1);
        }
    }
    g->batch = batch;
    m->have_forward = 1;
    m->have_backward = 0;
    return forward_nonfinite(m, batch, err);
}

xcnn_status xcnn_exec_sample_passes(xcnn_model *m, const float *input, int batch,
                                    const int *targets, xcnn_relu_rule rule, int stop,
                                    xcnn_err *err)
{
    /* not written: without pick, sample_passes only reads the targets */
    return sample_passes(m, input, batch, (int *)targets, 0, rule, stop, err);
}

xcnn_status xcnn_exec_sample_passes_picking(xcnn_model *m, const float *input, int batch,
                                            int *targets, xcnn_relu_rule rule, int stop,
                                            xcnn_err *err)
{
    return sample_passes(m, input, batch, targets, 1, rule, stop, err);
}
