/*
 * Grad-CAM (Selvaraju et al. 2017). With A the output of layer L
 * (1 x K x h x w) and y = f(x)[t]:
 *   a_k = mean over h, w of dy/dA_k        (one weight per channel)
 *   cam = ReLU(sum_k a_k A_k)              (1 x 1 x h x w; no ReLU with no_relu)
 * optionally resized to the input's H x W with bilinear interpolation.
 * The backward pass stops at L: the rest of the network is not paid for.
 *
 * Guided Grad-CAM (Captum's GuidedGradCam): guided backprop times the
 * ReLU'd cam, nearest-upsampled to H x W, the same map for every channel.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../explain.h"
#include "../../base/format.h"

/* cam (h*w floats) of sample b of the current forward/backward at tensor
 * `lt`. */
static void compute_cam(const xcnn_tensor *lt, int b, int relu, float *cam)
{
    int K = (int)lt->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]);
    size_t at = (size_t)b * (size_t)K * hw;
    for (size_t p = 0; p < hw; p++) cam[p] = 0;
    /* Double sums: the channel means and the weighted sum are long
     * reductions; float would drift from PyTorch on wide layers. */
    for (int k = 0; k < K; k++) {
        const float *g = lt->grad + at + (size_t)k * hw;
        const float *a = lt->data + at + (size_t)k * hw;
        double mean = 0;
        for (size_t p = 0; p < hw; p++) mean += g[p];
        mean /= (double)hw;
        for (size_t p = 0; p < hw; p++) cam[p] += (float)(mean * a[p]);
    }
    if (relu)
        for (size_t p = 0; p < hw; p++)
            if (!(cam[p] > 0)) cam[p] = 0;
}

/* The cam must be finite: the sum over channels of finite values times
 * finite means can still overflow float. */
static xcnn_status check_cam(const float *cam, size_t hw, const xcnn_tensor *lt, xcnn_err *err)
{
    for (size_t p = 0; p < hw; p++)
        if (!isfinite(cam[p]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "Grad-CAM: the map at layer '%s' is not a "
                             "finite float at pixel %zu (the layer's values times their "
                             "channels' mean gradients overflow)", lt->name, p);
    return XCNN_OK;
}

xcnn_status xcnn_ex_gradcam(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            float *out, xcnn_explain_result *res, xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    const xcnn_tensor *lt = &m->g->tensors[t];
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    /* Plain Grad-CAM reads only values below its layer (no gradient
     * goes there), so that part of the forward may take the faster
     * values-only algorithms; guided Grad-CAM's guided backprop needs the
     * whole forward as gradients see it. */
    int values_to = o->method == XCNN_GRADCAM ? t : -1;
    st = xcnn_ex_forward_values(m, x, o, values_to, res, err);
    if (!st) st = xcnn_ex_backward(m, 1, res->target, XCNN_RELU_GRADIENT, t, err);
    if (st) return st;

    int h = (int)lt->dims[2], w = (int)lt->dims[3];
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    int C = (int)in->dims[1], H = (int)in->dims[2], W = (int)in->dims[3];
    if (o->method == XCNN_GRADCAM) return xcnn_ex_gradcam_map(m, t, 0, o, out, err);

    /* Guided Grad-CAM: the cam (ReLU on), then guided backprop from the
     * same forward pass, multiplied pixel by pixel. */
    compute_cam(lt, 0, 1, m->ex_cam);
    st = check_cam(m->ex_cam, (size_t)h * (size_t)w, lt, err);
    if (!st) st = xcnn_ex_backward(m, 1, res->target, XCNN_RELU_GUIDED, -1, err);
    if (st) return st;
    /* Upsample the cam into the first channel of out, then scale every
     * channel by it (channel 0 last, as it holds the map). */
    size_t plane = (size_t)H * W;
    xcnn_resize_nearest(m->ex_cam, h, w, out, H, W);
    for (int c = C - 1; c >= 0; c--)
        for (size_t p = 0; p < plane; p++) out[c * plane + p] = in->grad[c * plane + p] * out[p];
    return XCNN_OK;
}

xcnn_status xcnn_ex_gradcam_map(xcnn_model *m, int t, int b, const xcnn_explain_options *o,
                                float *out, xcnn_err *err)
{
    const xcnn_tensor *lt = &m->g->tensors[t], *in = &m->g->tensors[m->g->input];
    int h = (int)lt->dims[2], w = (int)lt->dims[3];
    float *cam = o->upsample ? m->ex_cam : out;
    compute_cam(lt, b, !o->no_relu, cam);
    xcnn_status st = check_cam(cam, (size_t)h * (size_t)w, lt, err);
    if (!st && o->upsample)
        xcnn_resize_bilinear(m->ex_cam, h, w, out, (int)in->dims[2], (int)in->dims[3]);
    return st;
}

void xcnn_ex_cam_shape(const xcnn_model *m, int t, int upsample, int *ndim, int64_t dims[4])
{
    const xcnn_tensor *in = &m->g->tensors[m->g->input], *lt = &m->g->tensors[t];
    *ndim = 4;
    dims[0] = 1;
    dims[1] = 1;
    dims[2] = upsample ? in->dims[2] : lt->dims[2];
    dims[3] = upsample ? in->dims[3] : lt->dims[3];
}
