/*
 * Integrated gradients (Sundararajan, Taly, Yan 2017):
 *   IG(x) = (x - x0) * integral_0^1 dy/dx(x0 + a (x - x0)) da
 *        ~= (x - x0) * sum_i w_i dy/dx(x0 + a_i (x - x0))
 * with the nodes a_i and weights w_i of quadrature.c. The path points run
 * through the network in batches (as many as the model is reserved for),
 * and the weighted gradients are summed in double.
 *
 * Completeness says sum(IG) = f(x)[t] - f(x0)[t]; the difference
 *   delta = sum(IG) - (f(x)[t] - f(x0)[t])
 * is returned so the caller can see whether `steps` was enough.
 */
#include <string.h>
#include "explain.h"

xcnn_status xcnn_ex_integrated_gradients(xcnn_model *m, const float *x,
                                         const xcnn_explain_options *o, float *out,
                                         xcnn_explain_result *res, xcnn_err *err)
{
    size_t n = xcnn_ex_input_numel(m);
    const float *x0 = o->baseline;
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    const xcnn_tensor *y = &m->g->tensors[m->g->output];

    /* f(x) and the target, then f(x0)[t] for the convergence delta. */
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    int t = res->target;
    double fx = res->score;
    float *path = m->ex_path;
    for (size_t i = 0; i < n; i++) path[i] = x0 ? x0[i] : 0.0f;
    st = xcnn_exec_forward(m, path, 1, err);
    if (st) return st;
    double fx0 = y->data[t];

    double *acc = m->ex_acc;
    memset(acc, 0, n * sizeof(double));
    int steps = o->steps, batch_max = xcnn_ex_pass_batch(m);
    for (int s0 = 0; s0 < steps; s0 += batch_max) {
        int b = steps - s0 < batch_max ? steps - s0 : batch_max;
        for (int j = 0; j < b; j++) {
            double a, w;
            xcnn_ig_point(o->ig_rule, steps, s0 + j, &a, &w);
            float af = (float)a;
            float *p = path + (size_t)j * n;
            for (size_t i = 0; i < n; i++) {
                float base = x0 ? x0[i] : 0.0f;
                p[i] = base + af * (x[i] - base);
            }
        }
        st = xcnn_exec_forward(m, path, b, err);
        if (!st) st = xcnn_ex_backward(m, b, t, XCNN_RELU_GRADIENT, -1, err);
        if (st) return st;
        for (int j = 0; j < b; j++) {
            double a, w;
            xcnn_ig_point(o->ig_rule, steps, s0 + j, &a, &w);
            const float *g = in->grad + (size_t)j * n;
            for (size_t i = 0; i < n; i++) acc[i] += w * g[i];
        }
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float base = x0 ? x0[i] : 0.0f;
        out[i] = (float)((double)(x[i] - base) * acc[i]);
        total += out[i];
    }
    res->delta = (float)(total - (fx - fx0));
    return XCNN_OK;
}
