/*
 * The CAM family's gradient-weighted maps (pytorch-grad-cam's definitions,
 * METHODS.md), and what every member shares (cam_family.h). With A the
 * layer's output (1 x K x h x w), G = dy/dA, y = f(x)[t], sums over the
 * h x w pixels ij:
 *
 *   gradcam-plus-plus  alpha = G^2 / (2 G^2 + sum_ij(A_k) G^3 + 1e-6), 0 where G = 0
 *                      w_k = sum_ij relu(G) alpha;     cam = relu(sum_k w_k A_k)
 *   xgradcam           w_k = sum_ij(G A) / (sum_ij(A) + 1e-7)
 *                                                      cam = relu(sum_k w_k A_k)
 *   layercam           cam = relu(sum_k relu(G) A)
 *   hirescam           cam = relu(sum_k G A)
 *
 * then, for every member: with o->normalize, c = (c - min) / (max(c - min)
 * + 1e-7) per image; with o->upsample, bilinear (align_corners=False) to
 * the input's H x W, after the normalising.
 *
 * One forward, values only below the layer (no gradient goes there, as in
 * Grad-CAM), and one backward that stops at the layer. Every sum is in
 * double: the per-channel sums are long reductions, and the map's sum
 * over K channels of products of those sums would drift from the float64
 * reference in float. The weights w_k sit in ex_layer_acc (K doubles);
 * each pixel's sum over channels is one local double.
 */
#include <math.h>
#include <string.h>
#include "cam_family.h"
#include "../../base/format.h"

static const char *family_name(xcnn_method method)
{
    switch (method) {
    case XCNN_CAM: return "cam";
    case XCNN_GRADCAM_PLUS_PLUS: return "gradcam-plus-plus";
    case XCNN_XGRADCAM: return "xgradcam";
    case XCNN_LAYERCAM: return "layercam";
    case XCNN_HIRESCAM: return "hirescam";
    case XCNN_SCORECAM: return "scorecam";
    case XCNN_EIGENCAM: return "eigencam";
    case XCNN_ABLATIONCAM: return "ablationcam";
    default: return "cam family";
    }
}

xcnn_status xcnn_ex_family_check(const xcnn_model *m, const xcnn_explain_options *o,
                                 const char *method, int need_image, int *layer, xcnn_err *err)
{
    if (o->no_relu)
        return xcnn_fail(err, XCNN_ERR_ARG, "%s: no_relu is Grad-CAM's option; the CAM family "
                         "always applies its ReLU (CAM never does)", method);
    if ((o->upsample || need_image) && m->g->tensors[m->g->input].ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "%s: the model input is not NxCxHxW: cannot %s",
                         method, need_image ? "mask it with an upsampled map"
                                            : "upsample a map onto it");
    /* CAM's layer has its own rule (cam.c looks it up): layer -1 here */
    if (o->method == XCNN_CAM) {
        *layer = -1;
        return XCNN_OK;
    }
    return xcnn_ex_cam_layer(m, o->layer, layer, err);
}

xcnn_status xcnn_ex_family_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                                 int64_t dims[4], xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_family_check(m, o, family_name(o->method),
                                          o->method == XCNN_SCORECAM, &t, err);
    if (st) return st;
    if (t < 0) return XCNN_ERR_ARG; /* CAM: its shape is cam.c's */
    xcnn_ex_cam_shape(m, t, o->upsample, ndim, dims);
    return XCNN_OK;
}

float *xcnn_ex_family_map(xcnn_model *m, const xcnn_explain_options *o, float *out)
{
    return o->upsample ? m->ex_cam : out;
}

xcnn_status xcnn_ex_family_finish(xcnn_model *m, const char *method, const xcnn_tensor *lt,
                                  float *map, const xcnn_explain_options *o, float *out,
                                  xcnn_err *err)
{
    int h = (int)lt->dims[2], w = (int)lt->dims[3];
    size_t hw = (size_t)h * (size_t)w;
    for (size_t p = 0; p < hw; p++)
        if (!isfinite(map[p]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: the map at layer '%s' is %s at pixel "
                             "%zu (its weights times the layer's values overflow float, or a "
                             "weight divides by a sum near 0)", method, lt->name,
                             isnan(map[p]) ? "NaN" : "infinite", p);
    if (o->normalize) {
        double lo = map[0], hi = map[0];
        for (size_t p = 1; p < hw; p++) {
            if (map[p] < lo) lo = map[p];
            if (map[p] > hi) hi = map[p];
        }
        /* 1e-7 as pytorch-grad-cam's scale_cam_image: a constant map
         * becomes zeros, not 0/0 */
        double den = (hi - lo) + 1e-7;
        for (size_t p = 0; p < hw; p++) map[p] = (float)(((double)map[p] - lo) / den);
    }
    if (o->upsample) {
        const xcnn_tensor *in = &m->g->tensors[m->g->input];
        xcnn_resize_bilinear(map, h, w, out, (int)in->dims[2], (int)in->dims[3]);
    }
    return XCNN_OK;
}

/* ---- the gradient-weighted four ------------------------------------- */

static xcnn_status grad_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                              xcnn_err *err)
{
    (void)x;
    int t;
    return xcnn_ex_family_check(m, o, family_name(o->method), 0, &t, err);
}

/* w_k of gradcam-plus-plus or xgradcam, from channel k's A and G. */
static double channel_weight(xcnn_method method, const float *a, const float *g, size_t hw)
{
    double sa = 0;
    for (size_t p = 0; p < hw; p++) sa += a[p];
    double wk = 0;
    if (method == XCNN_XGRADCAM) {
        for (size_t p = 0; p < hw; p++) wk += (double)g[p] * a[p];
        return wk / (sa + 1e-7);
    }
    for (size_t p = 0; p < hw; p++) {
        double gp = g[p];
        /* relu(G) * alpha: only G > 0 counts (where G = 0, alpha is 0) */
        if (!(gp > 0)) continue;
        double g2 = gp * gp;
        wk += gp * (g2 / (2 * g2 + sa * g2 * gp + 1e-6));
    }
    return wk;
}

static xcnn_status grad_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                            float *out, xcnn_explain_result *res, xcnn_err *err)
{
    const char *method = family_name(o->method);
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    const xcnn_tensor *lt = &m->g->tensors[t];
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    st = xcnn_ex_forward_values(m, x, o, t, res, err);
    if (!st) st = xcnn_ex_backward(m, 1, res->target, XCNN_RELU_GRADIENT, t, err);
    if (st) return xcnn_ex_context(st, err, "%s at layer '%s'", method, lt->name);

    int K = (int)lt->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]);
    const float *A = lt->data, *G = lt->grad;
    float *map = xcnn_ex_family_map(m, o, out);
    if (o->method == XCNN_GRADCAM_PLUS_PLUS || o->method == XCNN_XGRADCAM) {
        double *wk = m->ex_layer_acc; /* K <= the largest activation */
        for (int k = 0; k < K; k++)
            wk[k] = channel_weight(o->method, A + (size_t)k * hw, G + (size_t)k * hw, hw);
        for (size_t p = 0; p < hw; p++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += wk[k] * A[(size_t)k * hw + p];
            map[p] = xcnn_ex_family_relu(s);
        }
    } else {
        int layercam = o->method == XCNN_LAYERCAM;
        for (size_t p = 0; p < hw; p++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double g = G[(size_t)k * hw + p];
                if (layercam && !(g > 0)) continue;
                s += g * A[(size_t)k * hw + p];
            }
            map[p] = xcnn_ex_family_relu(s);
        }
    }
    return xcnn_ex_family_finish(m, method, lt, map, o, out, err);
}

const xcnn_ex_method xcnn_ex_gradcam_plus_plus = {"gradcam-plus-plus", grad_check,
                                                  xcnn_ex_family_shape, grad_run};
const xcnn_ex_method xcnn_ex_xgradcam = {"xgradcam", grad_check, xcnn_ex_family_shape, grad_run};
const xcnn_ex_method xcnn_ex_layercam = {"layercam", grad_check, xcnn_ex_family_shape, grad_run};
const xcnn_ex_method xcnn_ex_hirescam = {"hirescam", grad_check, xcnn_ex_family_shape, grad_run};
