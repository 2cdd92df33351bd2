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
 *
 * Most CNNs start with a Conv (ResNet's 7x7 stem: 6% of the network's
 * multiply-adds, and slower per FLOP than the rest). When it is the input's
 * only reader (xcnn_model_affine_entry), its input gradient is linear in its
 * output gradient, so
 *   sum_i w_i dy/dx = Conv backward of (sum_i w_i dy/dz)
 * for its output z: the passes stop at z, and one backward of the Conv
 * ends the sum. Its input gradient then runs once per explanation instead
 * of once per point. The forward passes are untouched (the same values,
 * the same ReLU and max-pool choices); only the rounding of the sum
 * differs (tests/test_explain.c compares the two ways).
 *
 * Why not also the forward? z along the path is z(x0) + a (z(x) - z(x0)),
 * two forwards that the delta runs anyway. That was tried: its rounding
 * differs from the Conv's by a few units in the last place, enough to
 * flip a ReLU whose input cancels to about 1e-7 (resnet_narrow, 7 steps:
 * 0.8% off the float64 reference at one pixel, against 2e-3 allowed).
 */
#include <math.h>
#include <string.h>
#include "../explain.h"

/* Points summed together per element: their weights sit on the stack.
 * The first KEPT weights of a pass are kept from its path points (a root
 * costs ~50 ns, a tiny model's pass not much more); the rest are found
 * again. */
enum { CHUNK = 16, KEPT = 64 };

/* acc[i] += sum_j w_j g[j][i] over the b samples of g (n floats each), in
 * the order j = 0, 1, ...: each element's sum is the same for any thread
 * count. kept: the weights of the first KEPT points. */
static void add_weighted(double *acc, const float *g, size_t n, const xcnn_ig_quad *q, int s0,
                         int b, const double *kept)
{
    for (int j0 = 0; j0 < b; j0 += CHUNK) {
        int c = b - j0 < CHUNK ? b - j0 : CHUNK;
        double w[CHUNK];
        for (int j = 0; j < c; j++) {
            double a;
            if (j0 + j < KEPT) w[j] = kept[j0 + j];
            else xcnn_ig_quad_point(q, s0 + j0 + j, &a, &w[j]);
        }
        const float *gj0 = g + (size_t)j0 * n;
#pragma omp parallel for schedule(static) if (n > XCNN_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) {
            double s = acc[i];
            for (int j = 0; j < c; j++) s += w[j] * gj0[(size_t)j * n + i];
            acc[i] = s;
        }
    }
}

/* Path points s0 .. s0+b-1 as b inputs: x0 + a_j (x - x0), x0 = 0 when
 * there is no baseline; the first KEPT weights into kept. */
static void path_points(float *dst, const float *x, const float *x0, size_t n,
                        const xcnn_ig_quad *q, int s0, int b, double *kept)
{
    for (int j = 0; j < b; j++) {
        double a, w;
        xcnn_ig_quad_point(q, s0 + j, &a, &w);
        if (j < KEPT) kept[j] = w;
        float af = (float)a;
        float *p = dst + (size_t)j * n;
        for (size_t i = 0; i < n; i++) {
            float base = x0 ? x0[i] : 0.0f;
            p[i] = base + af * (x[i] - base);
        }
    }
}

xcnn_status xcnn_ex_integrated_gradients(xcnn_model *m, const float *x,
                                         const xcnn_explain_options *o, float *out,
                                         xcnn_explain_result *res, xcnn_err *err)
{
    size_t n = xcnn_ex_input_numel(m);
    const float *x0 = o->baseline;
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    const xcnn_tensor *y = &m->g->tensors[m->g->output];
    int cut = m->ex_cut; /* -1: the passes run back to the input */
    const xcnn_tensor *zt = cut >= 0 ? &m->g->tensors[cut] : NULL;
    size_t zn = zt ? xcnn_tensor_sample_numel(zt) : 0;

    /* f(x) and the target, then f(x0)[t] for the convergence delta. */
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    int t = res->target;
    double fx = res->score;
    float *path = m->ex_path;
    for (size_t i = 0; i < n; i++) path[i] = x0 ? x0[i] : 0.0f;
    st = xcnn_exec_forward(m, path, 1, err);
    if (st) return xcnn_ex_context(st, err, "integrated gradients, at the baseline");
    double fx0 = y->data[t];

    double *acc = zt ? m->ex_cut_acc : m->ex_acc;
    memset(acc, 0, (zt ? zn : n) * sizeof(double));
    int steps = o->steps, batch_max = xcnn_ex_pass_batch(m);
    xcnn_ig_quad q;
    xcnn_ig_quad_init(&q, o->ig_rule, steps);
    double kept[KEPT];
    for (int s0 = 0; s0 < steps; s0 += batch_max) {
        int b = steps - s0 < batch_max ? steps - s0 : batch_max;
        path_points(path, x, x0, n, &q, s0, b, kept);
        st = xcnn_ex_passes(m, path, b, t, XCNN_RELU_GRADIENT, cut, err);
        if (st) {
            double a0, a1, w;
            xcnn_ig_quad_point(&q, s0, &a0, &w);
            xcnn_ig_quad_point(&q, s0 + b - 1, &a1, &w);
            return xcnn_ex_context(st, err, "integrated gradients, at path points %d..%d of %d "
                                   "(baseline + a (input - baseline), a = %.3g..%.3g)", s0,
                                   s0 + b - 1, steps, a0, a1);
        }
        add_weighted(acc, zt ? zt->grad : in->grad, zt ? zn : n, &q, s0, b, kept);
    }
    if (zt) { /* the Conv's backward of the summed gradient */
        for (size_t i = 0; i < zn; i++) m->ex_cut_seed[i] = (float)acc[i];
        st = xcnn_exec_backward_from(m, cut, m->ex_cut_seed, 1, err);
        if (st)
            return xcnn_ex_context(st, err, "integrated gradients, the gradients summed along "
                                   "the path");
        acc = m->ex_acc;
        for (size_t i = 0; i < n; i++) acc[i] = in->grad[i];
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float base = x0 ? x0[i] : 0.0f;
        out[i] = (float)((double)(x[i] - base) * acc[i]);
        if (!isfinite(out[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "integrated gradients: attribution element "
                             "%zu overflows float: input - baseline = %g times the path's "
                             "gradient %g", i, (double)(x[i] - base), acc[i]);
        total += out[i];
    }
    res->delta = (float)(total - (fx - fx0));
    if (!isfinite(res->delta))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "integrated gradients: the convergence delta "
                         "overflows float (sum of attributions %g, f(input) - f(baseline) %g)",
                         total, fx - fx0);
    return XCNN_OK;
}
