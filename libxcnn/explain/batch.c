/*
 * xcnn_explain_batch: one explanation of each of n inputs, with the same
 * options. The maths is xcnn_explain's, input by input; what changes is
 * how the network runs. Saliency, input x gradient, deconvnet, guided
 * backprop and Grad-CAM need one forward and one backward of their input
 * only, so the inputs go through the network together, a batch per pass:
 * with each item's own target, the batch's backward is each item's
 * backward (no op mixes samples, and every op's result for a sample is
 * the same bits at any batch), so every attribution is the one the input
 * alone gets, to the bit (tests/test_explain_batch.c checks it). The
 * batch is bounded by the rule integrated gradients' passes follow
 * (xcnn_ex_pass_batch: the reserved batch, and about 96 MB of activations
 * in flight). The other methods already batch their own points or
 * samples, and run one input after another.
 */
#include <string.h>
#include "explain.h"
#include "../base/format.h"

static int batched(xcnn_method method)
{
    return method == XCNN_SALIENCY || method == XCNN_INPUT_X_GRADIENT ||
           method == XCNN_DECONVNET || method == XCNN_GUIDED_BACKPROP || method == XCNN_GRADCAM;
}

/* "input i: " in front of the message the failing call left. */
static xcnn_status name_input(xcnn_model *m, xcnn_status st, int i)
{
    char msg[sizeof m->error];
    xcnn_format(msg, sizeof msg, "%s", m->error);
    xcnn_format(m->error, sizeof m->error, "input %d: %s", i, msg);
    return st;
}

/* The one-backward methods' pass as sample passes: each input's forward
 * and backward (to the input, or to Grad-CAM's layer: stop) whole on one
 * thread, its target picked from its own output in between
 * (xcnn_exec_sample_passes_picking), instead of every op split over the
 * threads. On a small model that is most of the difference: a
 * Fashion-MNIST op works on 28 x 28 planes, and a third of a batched
 * pass's time went to the threads waiting for each other at the ops'
 * ends. The bits are the batched pass's (each op's result for a sample is
 * the same at any batch and thread count). */
static xcnn_status run_sample_passes(xcnn_model *m, const float *x, int i0, int b, int stop,
                                     const xcnn_explain_options *o, xcnn_explain_result *res,
                                     xcnn_err *err)
{
    size_t k = xcnn_ex_output_numel(m);
    const float *y = m->g->tensors[m->g->output].data;
    if (o->target < -1 || o->target >= (int)k) /* its message, as xcnn_explain gives it */
        return xcnn_ex_pick_target(y, k, o, &res[i0], err);
    for (int j = 0; j < b; j++) m->ex_targets[j] = o->target;
    xcnn_status st = xcnn_exec_sample_passes_picking(m, x, b, m->ex_targets,
                                                     xcnn_ex_gradient_rule(o->method), stop, err);
    xcnn_explain_options picked = *o;
    for (int j = 0; j < b && !st; j++) {
        picked.target = m->ex_targets[j];
        st = xcnn_ex_pick_target(y + (size_t)j * k, k, &picked, &res[i0 + j], err);
    }
    return st;
}

/* Inputs i0 .. i0+b-1 in one forward and one backward, results already
 * checked (res[j].ndim, dims). */
static xcnn_status run_pass(xcnn_model *m, const float *inputs, int i0, int b,
                            const xcnn_explain_options *o, float *out, size_t per,
                            xcnn_explain_result *res, xcnn_err *err)
{
    size_t in_n = xcnn_ex_input_numel(m);
    const float *x = inputs + (size_t)i0 * in_n;
    int t = -1;
    xcnn_status st = XCNN_OK;
    if (o->method == XCNN_GRADCAM) st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (!st) st = run_sample_passes(m, x, i0, b, t, o, res, err);
    if (st) return st;
    const float *g = m->g->tensors[m->g->input].grad;
    for (int j = 0; j < b && !st; j++) {
        float *oj = out + (size_t)(i0 + j) * per;
        if (o->method == XCNN_GRADCAM) {
            xcnn_format(res[i0 + j].layer, sizeof res[i0 + j].layer, "%s",
                        m->g->tensors[t].name);
            st = xcnn_ex_gradcam_map(m, t, j, o, oj, err);
        } else {
            st = xcnn_ex_gradient_out(o, x + (size_t)j * in_n, g + (size_t)j * in_n, in_n, oj,
                                      err);
        }
        if (!st) st = xcnn_ex_check_finite(oj, per, "explanation", err);
    }
    return st;
}

static xcnn_status explain_batch(xcnn_model *m, const float *inputs, int n,
                                 const xcnn_explain_options *o, float *out, size_t out_len,
                                 xcnn_explain_result *res, int *done)
{
    if (!inputs || !o || !out || !res || n < 1) {
        xcnn_format(m->error, sizeof m->error, "xcnn_explain_batch: inputs, options, out and "
                    "results must not be NULL, and n must be at least 1 (got %d)", n);
        return XCNN_ERR_ARG;
    }
    int ndim;
    int64_t dims[4];
    xcnn_status st = xcnn_ex_explain_shape_held(m, o, &ndim, dims);
    if (st) return st;
    size_t per = 1, in_n = xcnn_ex_input_numel(m);
    for (int i = 0; i < ndim; i++) per *= (size_t)dims[i];
    if (out_len / per < (size_t)n) {
        xcnn_format(m->error, sizeof m->error, "xcnn_explain_batch: out holds %zu floats, %d "
                    "inputs need %zu each", out_len, n, per);
        return XCNN_ERR_ARG;
    }
    int pass = batched(o->method) ? xcnn_ex_pass_batch(m) : 1;
    for (int i0 = 0; i0 < n;) {
        /* the checks xcnn_explain makes, input by input; a batch ends
         * before the first input they refuse */
        int b = 0;
        st = XCNN_OK;
        while (b < pass && i0 + b < n && !st) {
            st = xcnn_ex_explain_begin_held(m, inputs + (size_t)(i0 + b) * in_n, o, per,
                                            &res[i0 + b]);
            if (!st) b++;
        }
        xcnn_status run = XCNN_OK;
        if (b && pass == 1) {
            run = xcnn_ex_explain_held(m, inputs + (size_t)i0 * in_n, o, out + (size_t)i0 * per,
                                       per, &res[i0]);
        } else if (b) {
            xcnn_err err = {{0}};
            run = run_pass(m, inputs, i0, b, o, out, per, res, &err);
            /* a pass that fails (a NaN inside the network) is run again
             * input by input, so that the message names the input; the
             * same bits either way for those that pass */
            for (int j = 0; run && j < b; j++) {
                xcnn_status one = xcnn_ex_explain_held(m, inputs + (size_t)(i0 + j) * in_n, o,
                                                       out + (size_t)(i0 + j) * per, per,
                                                       &res[i0 + j]);
                if (one) {
                    if (done) *done = i0 + j;
                    return name_input(m, one, i0 + j);
                }
            }
            run = XCNN_OK;
        }
        if (run) {
            if (done) *done = i0;
            return name_input(m, run, i0);
        }
        i0 += b;
        if (st) {
            if (done) *done = i0;
            return name_input(m, st, i0);
        }
    }
    if (done) *done = n;
    return XCNN_OK;
}

xcnn_status xcnn_explain_batch(xcnn_model *m, const float *inputs, int n,
                               const xcnn_explain_options *o, float *out, size_t out_len,
                               xcnn_explain_result *results, int *done)
{
    if (done) *done = 0;
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = explain_batch(m, inputs, n, o, out, out_len, results, done);
    xcnn_model_leave(m);
    return st;
}
