/*
 * The one-backward-pass methods. With y = f(x)[t]:
 *   saliency          abs(dy/dx)       (Simonyan et al. 2013; signed with no_abs)
 *   input x gradient  x * dy/dx
 *   deconvnet         dy/dx with every ReLU's backward g_in = max(g_out, 0)
 *                     (Zeiler & Fergus 2014)
 *   guided backprop   dy/dx with every ReLU's backward
 *                     g_in = max(g_out, 0) * [x_in > 0] (Springenberg et al. 2015)
 * The ReLU rules live in the Relu op's backward; here we only choose one.
 */
#include <math.h>
#include "../explain.h"

xcnn_relu_rule xcnn_ex_gradient_rule(xcnn_method method)
{
    return method == XCNN_DECONVNET        ? XCNN_RELU_DECONVNET
           : method == XCNN_GUIDED_BACKPROP ? XCNN_RELU_GUIDED
                                            : XCNN_RELU_GRADIENT;
}

xcnn_status xcnn_ex_gradient(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                             float *out, xcnn_explain_result *res, xcnn_err *err)
{
    xcnn_relu_rule rule = xcnn_ex_gradient_rule(o->method);
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (!st) st = xcnn_ex_backward(m, 1, res->target, rule, -1, err);
    if (st) return st;
    return xcnn_ex_gradient_out(o, x, m->g->tensors[m->g->input].grad,
                                xcnn_ex_input_numel(m), out, err);
}

xcnn_status xcnn_ex_gradient_out(const xcnn_explain_options *o, const float *x, const float *g,
                                 size_t n, float *out, xcnn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (o->method == XCNN_SALIENCY) out[i] = o->no_abs ? g[i] : fabsf(g[i]);
        else if (o->method == XCNN_INPUT_X_GRADIENT) out[i] = x[i] * g[i];
        else out[i] = g[i];
        if (!isfinite(out[i])) /* the gradient is finite (exec.c): x * g overflowed */
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "input x gradient: element %zu overflows "
                             "float (input %g times gradient %g)", i, (double)x[i],
                             (double)g[i]);
    }
    return XCNN_OK;
}
