/* Pieces shared by the explainers (internal). */
#ifndef XCNN_EXPLAIN_INTERNAL_H
#define XCNN_EXPLAIN_INTERNAL_H

#include "../core/model.h"
#include "../io/resize.h"

/* xcnn_explain_shape and xcnn_explain for a caller that already holds m (xcnn_model_enter): the
 * metrics (evaluate/) explain many inputs within one call. Messages go to
 * m->error as xcnn_explain's do. */
xcnn_status xcnn_ex_explain_shape_held(xcnn_model *m, const xcnn_explain_options *o,
                                       int *ndim, int64_t dims[4]);
xcnn_status xcnn_ex_explain_held(xcnn_model *m, const float *input,
                                 const xcnn_explain_options *o, float *out, size_t out_len,
                                 xcnn_explain_result *result);
/* What xcnn_explain checks before any pass (the model keeps gradients,
 * the input is finite, the options fit the method, out_len is enough),
 * and the output's shape into res (the rest of res zeroed); the message
 * in m->error. batch.c runs these checks on each input of a batch. */
xcnn_status xcnn_ex_explain_begin_held(xcnn_model *m, const float *input,
                                       const xcnn_explain_options *o, size_t out_len,
                                       xcnn_explain_result *res);

/* Sizes of one input sample and one output sample. */
size_t xcnn_ex_input_numel(const xcnn_model *m);
size_t xcnn_ex_output_numel(const xcnn_model *m);

/* Inputs per forward/backward pass of integrated gradients and SmoothGrad:
 * the reserved batch, but no more than keeps about XCNN_EX_PASS_BYTES of
 * activations and gradients in flight (explain.c says why), and no fewer
 * than the threads that run a sample each (xcnn_exec_sample_passes). */
int xcnn_ex_pass_batch(const xcnn_model *m);

/* Forward x (batch 1); resolve o->target (-1: arg-max) into res.
 * values_to >= 0: a values-only forward up to that tensor
 * (xcnn_exec_forward_values), for a backward that stops there. */
xcnn_status xcnn_ex_forward_values(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   int values_to, xcnn_explain_result *res, xcnn_err *err);
xcnn_status xcnn_ex_forward_target(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   xcnn_explain_result *res, xcnn_err *err);
/* o->target (-1: the arg-max of y) resolved against one sample's outputs
 * y[0..k), into res->target and res->score. */
xcnn_status xcnn_ex_pick_target(const float *y, size_t k, const xcnn_explain_options *o,
                                xcnn_explain_result *res, xcnn_err *err);

/* Backward from `target` for every one of `batch` samples of the last
 * forward pass, stopping at tensor `stop` (-1: the whole network). */
xcnn_status xcnn_ex_backward(xcnn_model *m, int batch, int target, xcnn_relu_rule rule,
                             int stop, xcnn_err *err);

/* Forward and backward (from `target`, to `stop`) of `batch` inputs, a
 * sample per thread where the model has views for it (xcnn_exec_sample_
 * passes): integrated gradients' and SmoothGrad's passes. */
xcnn_status xcnn_ex_passes(xcnn_model *m, const float *inputs, int batch, int target,
                           xcnn_relu_rule rule, int stop, xcnn_err *err);

/* The methods. Each assumes the options were validated and `out` is big
 * enough (explain.c). */
xcnn_status xcnn_ex_gradient(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                             float *out, xcnn_explain_result *res, xcnn_err *err);
xcnn_status xcnn_ex_integrated_gradients(xcnn_model *m, const float *x,
                                         const xcnn_explain_options *o, float *out,
                                         xcnn_explain_result *res, xcnn_err *err);
xcnn_status xcnn_ex_smoothgrad(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                               float *out, xcnn_explain_result *res, xcnn_err *err);
xcnn_status xcnn_ex_gradcam(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            float *out, xcnn_explain_result *res, xcnn_err *err);
/* The ReLU rule of a one-backward method: deconvnet's, guided backprop's,
 * or the gradient's (gradient.c). */
xcnn_relu_rule xcnn_ex_gradient_rule(xcnn_method method);
/* Saliency, input x gradient, deconvnet or guided backprop (o->method)
 * from x and its input gradient g (n floats each) into out (gradient.c). */
xcnn_status xcnn_ex_gradient_out(const xcnn_explain_options *o, const float *x, const float *g,
                                 size_t n, float *out, xcnn_err *err);
/* Grad-CAM's map (o->method XCNN_GRADCAM) of sample b of the last forward
 * and backward at layer tensor t, into out (upsampled if o->upsample;
 * gradcam.c). */
xcnn_status xcnn_ex_gradcam_map(xcnn_model *m, int t, int b, const xcnn_explain_options *o,
                                float *out, xcnn_err *err);

/*
 * The second round of methods (METHODS.md), one descriptor each, defined
 * in the method's file; explain.c calls them through xcnn_ex_methods().
 *   name   the CLI spelling ("deeplift")
 *   check  the options against the model and the input, before any pass
 *          (the input is finite, and the model keeps every gradient:
 *          explain.c has checked that)
 *   shape  what the method writes (NULL: the input's shape)
 *   run    the method, into out (as big as shape says)
 */
typedef struct xcnn_ex_method {
    const char *name;
    xcnn_status (*check)(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                         xcnn_err *err);
    xcnn_status (*shape)(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                         int64_t dims[4], xcnn_err *err);
    xcnn_status (*run)(xcnn_model *m, const float *x, const xcnn_explain_options *o, float *out,
                       xcnn_explain_result *res, xcnn_err *err);
} xcnn_ex_method;

/* deeplift.c, gradient_shap.c, lrp.c, occlusion.c, rise.c, cam_family.c */
extern const xcnn_ex_method xcnn_ex_deeplift, xcnn_ex_deeplift_shap, xcnn_ex_gradient_shap,
    xcnn_ex_lrp, xcnn_ex_occlusion, xcnn_ex_rise, xcnn_ex_cam, xcnn_ex_gradcam_plus_plus,
    xcnn_ex_xgradcam, xcnn_ex_layercam, xcnn_ex_hirescam, xcnn_ex_scorecam, xcnn_ex_eigencam,
    xcnn_ex_ablationcam;

/* The output shape of a CAM-family map at layer tensor t: 1x1xhxw, or the
 * input's 1x1xHxW with upsample (gradcam.c). */
void xcnn_ex_cam_shape(const xcnn_model *m, int t, int upsample, int *ndim, int64_t dims[4]);

/* A pass inside a method failed with a NaN or an Inf (its message names
 * the node): put where the method ran the network in front ("integrated
 * gradients, at path points 0..7"), so that the message names the cause
 * (a baseline, a stdev) and not only the symptom. Other statuses pass
 * through unchanged. Returns st. */
xcnn_status xcnn_ex_context(xcnn_status st, xcnn_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* XCNN_ERR_NUMERIC naming the first NaN or Inf of an attribution, if any
 * (the last check of every method: no non-finite number is returned). */
xcnn_status xcnn_ex_check_finite(const float *v, size_t n, const char *method, xcnn_err *err);

/* Grad-CAM layer: the tensor index for o->layer (or the default). */
xcnn_status xcnn_ex_cam_layer(const xcnn_model *m, const char *name, int *tensor, xcnn_err *err);


/* quadrature.c: the nodes a_i in [0, 1] and weights w_i of integrated-
 * gradients rule `rule` with n points (EXPLAINERS.md). xcnn_ig_quad_init
 * does the O(n) part once (Gauss-Legendre: the few roots nearest the ends,
 * by the recurrence; XCNN_IG_EDGE_MAX bounds them); then each point costs
 * O(1), so all n cost O(n) whatever n is. */
#define XCNN_IG_EDGE_MAX 16
#define XCNN_IG_STIELTJES_TERMS 40
typedef struct xcnn_ig_quad {
    xcnn_ig_rule rule;
    int n;
    int n_edge;       /* Gauss-Legendre roots kept, from each end      */
    /* Gauss-Legendre away from the ends (quadrature.c): Stieltjes'
     * constant C_n and its h_(m+1)/h_m, pi/(n + 1/2), Tricomi's eps */
    double cn, h_ratio[XCNN_IG_STIELTJES_TERMS], step, eps;
    double edge_a[XCNN_IG_EDGE_MAX]; /* their nodes a_i below the middle */
    double edge_w[XCNN_IG_EDGE_MAX]; /* and weights w_i                  */
} xcnn_ig_quad;
void xcnn_ig_quad_init(xcnn_ig_quad *q, xcnn_ig_rule rule, int n);
void xcnn_ig_quad_point(const xcnn_ig_quad *q, int i, double *a, double *w);

#endif
