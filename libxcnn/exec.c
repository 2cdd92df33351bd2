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
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "model.h"

static void apply_threads(const xcnn_model *m)
{
#ifdef _OPENMP
    /* Per calling thread (an OpenMP ICV), not process-wide state. */
    if (m->threads > 0) omp_set_num_threads(m->threads);
#else
    (void)m;
#endif
}

xcnn_status xcnn_exec_forward(xcnn_model *m, const float *input, int batch, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    if (!input) return xcnn_fail(err, XCNN_ERR_ARG, "input is NULL");
    if (batch < 1 || batch > m->max_batch)
        return xcnn_fail(err, XCNN_ERR_ARG,
                         "batch %d is outside 1..%d (call xcnn_model_reserve for more)", batch,
                         m->max_batch);
    xcnn_tensor *in = &g->tensors[g->input];
    size_t n = xcnn_tensor_sample_numel(in) * (size_t)batch;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(input[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "input element %zu is %s", i,
                             isnan(input[i]) ? "NaN" : "infinite");
    memcpy(in->data, input, n * sizeof(float));
    apply_threads(m);
    g->batch = batch;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *node = &g->nodes[m->compute[i]];
        node->def->forward(g, node, batch, m->scratch);
    }
    m->have_forward = 1;
    m->have_backward = 0;
    return XCNN_OK;
}

/* Zero tensor ti's gradient buffer, once per backward pass, if it
 * collects a gradient in this pass. */
static void clear_grad(xcnn_model *m, int ti, int batch)
{
    xcnn_tensor *t = &m->g->tensors[ti];
    if (!t->grad_on || m->cleared[ti]) return;
    size_t n = t->kind == XCNN_T_CONST ? xcnn_tensor_numel(t)
                                       : xcnn_tensor_sample_numel(t) * (size_t)batch;
    /* Large buffers (ResNet's stem output: 3.2 MB a sample) in pieces on
     * all threads: one thread clearing them left the other idle. */
    enum { PIECE = 65536 };
    long pieces = (long)((n + PIECE - 1) / PIECE);
#pragma omp parallel for schedule(static) if (n > XCNN_PARALLEL_MIN)
    for (long i = 0; i < pieces; i++) {
        size_t start = (size_t)i * PIECE, len = n - start < PIECE ? n - start : PIECE;
        memset(t->grad + start, 0, len * sizeof(float));
    }
    m->cleared[ti] = 1;
}

/*
 * The backward walk shared by both entry points. `from` is the tensor the
 * seed gradient goes into (the graph output, or a cut for
 * xcnn_exec_backward_from); `stop` as in xcnn_exec_backward.
 */
static xcnn_status run_backward(xcnn_model *m, int from, const int *targets, const float *seed,
                                xcnn_relu_rule rule, int stop)
{
    xcnn_graph *g = m->g;
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
        xcnn_tensor *t = &g->tensors[i];
        m->reached[i] = 0;
        m->cleared[i] = 0;
        if (!t->grad) { t->grad_on = 0; continue; }
        if (t->kind == XCNN_T_CONST)
            t->grad_on = stop < 0 && from == g->output; /* weight gradients: full passes only */
        else if (t->producer > from_producer)
            t->grad_on = 0;
        else if (stop < 0)
            t->grad_on = 1;
        else
            t->grad_on = (i == stop) || t->producer > stop_producer;
    }
    clear_grad(m, from, batch);

    for (int b = 0; b < batch; b++) {
        float *gb = out->grad + (size_t)b * k;
        if (seed) memcpy(gb, seed + (size_t)b * k, k * sizeof(float));
        else gb[targets[b]] = 1.0f;
    }
    m->reached[from] = 1;

    apply_threads(m);
    xcnn_bwd_ctx ctx = {rule};
    for (int i = m->n_compute - 1; i >= 0; i--) {
        int ni = m->compute[i];
        if (ni > from_producer) continue;
        if (ni <= stop_producer) break;
        const xcnn_node *node = &g->nodes[ni];
        int any = 0;
        for (int o = 0; o < node->n_out; o++) any |= m->reached[node->out[o]];
        if (!any) continue; /* nothing downstream of this node reaches the output */
        for (int k2 = 0; k2 < node->n_in; k2++)
            if (node->in[k2] >= 0) clear_grad(m, node->in[k2], batch);
        node->def->backward(g, node, batch, m->scratch, &ctx);
        for (int k2 = 0; k2 < node->n_in; k2++)
            if (node->in[k2] >= 0) m->reached[node->in[k2]] = 1;
    }
    /* Gradients that nothing reached are zero, not stale. */
    for (int i = 0; i < g->n_tensors; i++) clear_grad(m, i, batch);
    m->have_backward = 1;
    return XCNN_OK;
}

static xcnn_status backward_allowed(const xcnn_model *m, xcnn_err *err)
{
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model was loaded for inference only "
                         "(xcnn_load_options.inference_only): no gradients");
    if (!m->have_forward)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward called before forward");
    return XCNN_OK;
}

xcnn_status xcnn_exec_backward(xcnn_model *m, const int *targets, const float *seed,
                               xcnn_relu_rule rule, int stop, xcnn_err *err)
{
    xcnn_graph *g = m->g;
    xcnn_status st = backward_allowed(m, err);
    if (st) return st;
    if (!targets && !seed)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward needs targets or a seed gradient");
    int batch = g->batch;
    size_t k = xcnn_tensor_sample_numel(&g->tensors[g->output]);
    if (targets)
        for (int b = 0; b < batch; b++)
            if (targets[b] < 0 || (size_t)targets[b] >= k)
                return xcnn_fail(err, XCNN_ERR_ARG, "target %d is out of range: the output "
                                 "has %zu classes (0..%zu)", targets[b], k, k - 1);

    if (rule != XCNN_RELU_GRADIENT && rule != XCNN_RELU_DECONVNET && rule != XCNN_RELU_GUIDED)
        return xcnn_fail(err, XCNN_ERR_ARG, "unknown relu rule %d", (int)rule);
    if (stop >= 0 && (stop >= g->n_tensors || g->tensors[stop].kind == XCNN_T_CONST ||
                      !g->tensors[stop].grad))
        return xcnn_fail(err, XCNN_ERR_ARG, "'%s' is a weight or constant, not a layer "
                         "output", stop < g->n_tensors ? g->tensors[stop].name : "?");
    return run_backward(m, g->output, targets, seed, rule, stop);
}

xcnn_status xcnn_exec_backward_from(xcnn_model *m, int cut, const float *seed, int batch,
                                    xcnn_err *err)
{
    xcnn_graph *g = m->g;
    xcnn_status st = backward_allowed(m, err);
    if (st) return st;
    if (cut < 0 || cut >= g->n_tensors || g->tensors[cut].kind != XCNN_T_ACTIVATION ||
        !g->tensors[cut].grad || !seed)
        return xcnn_fail(err, XCNN_ERR_ARG, "backward_from needs a layer output and a seed");
    if (batch < 1 || batch > g->batch)
        return xcnn_fail(err, XCNN_ERR_ARG, "batch %d is outside 1..%d (the last forward)",
                         batch, g->batch);
    int last = g->batch;
    g->batch = batch;
    st = run_backward(m, cut, NULL, seed, XCNN_RELU_GRADIENT, -1);
    g->batch = last;
    return st;
}
