/*
 * What CAM and the CAM family share (internal; METHODS.md's CAM-family
 * table). Every method makes one map of its layer's h x w, then
 * xcnn_ex_family_finish checks it, min-max scales it (o->normalize) and
 * resizes it to the input's H x W (o->upsample), in that order.
 *
 * The files: cam_family.c (these helpers, and the four gradient-weighted
 * maps: gradcam-plus-plus, xgradcam, layercam, hirescam), cam.c,
 * scorecam.c, eigencam.c, ablationcam.c.
 */
#ifndef XCNN_CAM_FAMILY_H
#define XCNN_CAM_FAMILY_H

#include "../explain.h"

/* The options every member checks, and its layer: no_relu refused (the
 * family always applies its ReLU; CAM never does), upsample (or
 * need_image: Score-CAM masks the input) on a model whose input is not
 * N x C x H x W refused, then the layer: o->layer or Grad-CAM's default,
 * looked up and refused as Grad-CAM does (xcnn_ex_cam_layer); CAM's
 * own rule in cam.c. */
xcnn_status xcnn_ex_family_check(const xcnn_model *m, const xcnn_explain_options *o,
                                 const char *method, int need_image, int *layer,
                                 xcnn_err *err);

/* The output shape (xcnn_ex_method.shape) of the members that use
 * Grad-CAM's layer rule. */
xcnn_status xcnn_ex_family_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                                 int64_t dims[4], xcnn_err *err);

/* Where a method writes its h x w map: straight into out, or into
 * m->ex_cam when it is then upsampled. */
float *xcnn_ex_family_map(xcnn_model *m, const xcnn_explain_options *o, float *out);

/* The map (at `map`, from xcnn_ex_family_map) of layer lt is done: refuse
 * a NaN or an Inf (XCNN_ERR_NUMERIC, naming the method, the layer and
 * the pixel), normalise, upsample into out. */
xcnn_status xcnn_ex_family_finish(xcnn_model *m, const char *method, const xcnn_tensor *lt,
                                  float *map, const xcnn_explain_options *o, float *out,
                                  xcnn_err *err);

/* relu(s) as a float, keeping a NaN (a weight that divided by 0) for
 * xcnn_ex_family_finish to report instead of hiding it as 0. */
static inline float xcnn_ex_family_relu(double s)
{
    return (float)(s > 0 || s != s ? s : 0.0);
}

/* cam.c: the tensor CAM weighs (the input of the GlobalAveragePool before
 * the model's final Gemm), and that Gemm's node; refused with a message
 * for other models, and for o->layer other than that tensor. */
xcnn_status xcnn_ex_cam_gap_layer(const xcnn_model *m, const char *name, int *layer, int *gemm,
                                  xcnn_err *err);

/* ablationcam.c: Ablation-CAM by one of its two ways of running the K
 * ablated passes: edit 0, only the nodes after the layer from the
 * ablated values (xcnn_exec_forward_from; refused where it would not be
 * exact), edit 1, whole forwards whose layer is edited as it is made
 * (xcnn_exec_forward_edit). Both give the same bits; xcnn_explain takes
 * the first wherever it is exact. Options as checked by xcnn_explain. */
xcnn_status xcnn_ex_ablationcam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                    int edit, float *out, xcnn_explain_result *res,
                                    xcnn_err *err);

#endif
