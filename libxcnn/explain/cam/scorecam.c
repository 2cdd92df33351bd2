/*
 * Score-CAM (Wang et al. 2020; pytorch-grad-cam's ScoreCAM, METHODS.md).
 * With A the layer's output (1 x K x h x w) and f the model:
 *   U_k = A_k resized bilinear, align_corners=True, to the input's H x W
 *   U_k = (U_k - min U_k) / (max U_k - min U_k + 1e-8)
 *   s_k = f(x * U_k)[t]        (raw output; U_k multiplies every channel)
 *   w   = softmax over k of s  (in double, the largest s subtracted)
 *   cam = relu(sum_k w_k A_k)
 * No gradient: one forward for A and the target, then K forwards of
 * masked inputs, batched (xcnn_ex_pass_batch), values only (no backward
 * reads them). Workspace: A kept in ex_layer (the batched passes write
 * over the layer), the masked inputs in ex_path, the scores and then the
 * weights in ex_layer_acc (K doubles).
 */
#include <math.h>
#include <string.h>
#include "cam_family.h"
#include "../../base/format.h"

/* src (h x w) resized to dst (H x W) as torch's bilinear interpolate with
 * align_corners=True: output pixel u reads source u * (h - 1) / (H - 1)
 * (0 when H is 1), between its two neighbours. resize.h has only the
 * align_corners=False resize. In double, then rounded once. */
static void resize_corners(const float *src, int h, int w, float *dst, int H, int W)
{
    double sy = H > 1 ? (double)(h - 1) / (H - 1) : 0, sx = W > 1 ? (double)(w - 1) / (W - 1) : 0;
    for (int i = 0; i < H; i++) {
        double fy = i * sy;
        int y0 = (int)fy;
        if (y0 > h - 1) y0 = h - 1;
        int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        double ly = fy - y0;
        for (int j = 0; j < W; j++) {
            double fx = j * sx;
            int x0 = (int)fx;
            if (x0 > w - 1) x0 = w - 1;
            int x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            double lx = fx - x0;
            double top = (1 - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1];
            double bot = (1 - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1];
            dst[(size_t)i * W + j] = (float)((1 - ly) * top + ly * bot);
        }
    }
}

/* The masked input x * U_k into slot (C x H x W): U_k is made in the
 * slot's first plane, scaled there, then multiplies every channel, the
 * first one last (it holds U_k until then). */
static void masked_input(const float *a, int h, int w, const float *x, int C, int H, int W,
                         float *slot)
{
    size_t plane = (size_t)H * W;
    resize_corners(a, h, w, slot, H, W);
    double lo = slot[0], hi = slot[0];
    for (size_t p = 1; p < plane; p++) {
        if (slot[p] < lo) lo = slot[p];
        if (slot[p] > hi) hi = slot[p];
    }
    double den = hi - lo + 1e-8;
    for (size_t p = 0; p < plane; p++) slot[p] = (float)((slot[p] - lo) / den);
    for (int c = C - 1; c >= 0; c--)
        for (size_t p = 0; p < plane; p++) slot[c * plane + p] = x[c * plane + p] * slot[p];
}

static xcnn_status scorecam_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                  xcnn_err *err)
{
    (void)x;
    int t;
    return xcnn_ex_family_check(m, o, "scorecam", 1, &t, err);
}

static xcnn_status scorecam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                float *out, xcnn_explain_result *res, xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    const xcnn_graph *g = m->g;
    const xcnn_tensor *lt = &g->tensors[t], *in = &g->tensors[g->input];
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    st = xcnn_ex_forward_values(m, x, o, t, res, err);
    if (st) return st;

    int K = (int)lt->dims[1], h = (int)lt->dims[2], w = (int)lt->dims[3];
    int C = (int)in->dims[1], H = (int)in->dims[2], W = (int)in->dims[3];
    size_t hw = (size_t)h * w, in_n = xcnn_ex_input_numel(m);
    size_t classes = xcnn_ex_output_numel(m);
    float *A = m->ex_layer;
    double *s = m->ex_layer_acc;
    memcpy(A, lt->data, (size_t)K * hw * sizeof(float));
    int nb = xcnn_ex_pass_batch(m);
    for (int k0 = 0; k0 < K; k0 += nb) {
        int n = K - k0 < nb ? K - k0 : nb;
        for (int b = 0; b < n; b++)
            masked_input(A + (size_t)(k0 + b) * hw, h, w, x, C, H, W,
                         m->ex_path + (size_t)b * in_n);
        /* values only everywhere (no backward follows), a sample per thread */
        st = xcnn_exec_sample_forwards(m, m->ex_path, n, err);
        if (st)
            return xcnn_ex_context(st, err, "scorecam, the input masked by channels %d..%d of "
                                   "'%s'", k0, k0 + n - 1, lt->name);
        const float *y = g->tensors[g->output].data;
        for (int b = 0; b < n; b++) s[k0 + b] = y[(size_t)b * classes + (size_t)res->target];
    }
    double smax = s[0], sum = 0;
    for (int k = 1; k < K; k++)
        if (s[k] > smax) smax = s[k];
    for (int k = 0; k < K; k++) sum += s[k] = exp(s[k] - smax);
    for (int k = 0; k < K; k++) s[k] /= sum;

    float *map = xcnn_ex_family_map(m, o, out);
    for (size_t p = 0; p < hw; p++) {
        double c = 0;
        for (int k = 0; k < K; k++) c += s[k] * A[(size_t)k * hw + p];
        map[p] = xcnn_ex_family_relu(c);
    }
    return xcnn_ex_family_finish(m, "scorecam", lt, map, o, out, err);
}

const xcnn_ex_method xcnn_ex_scorecam = {"scorecam", scorecam_check, xcnn_ex_family_shape,
                                         scorecam_run};
