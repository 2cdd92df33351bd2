/*
 * Feature visualisation by activation maximisation (Olah et al. 2017,
 * "Feature Visualization"; as lucid / lucent parameterise it; METHODS.md,
 * "Feature visualisation"). For a model input 1 x C x H x W (C = 1 or 3):
 *
 *   S       the parameters: C x H x K complex values (K = W/2 + 1), drawn
 *           Normal(0, 0.01^2) from base/rng.h seeded with o->seed, in the
 *           order channel, row, column, real part then imaginary part;
 *   scale   [p][q] = 1 / max(f, 1/max(H, W)), f = sqrt(fy^2 + fx^2) with
 *           fy = numpy.fft.fftfreq(H)[p] and fx = q / W (numpy's rfftfreq),
 *           lucid's rfft2d_freqs with decay_power 1;
 *   t       = irfft2(scale * S) / 4 per channel, norm "ortho" (the
 *           1/sqrt(H W) of lucent's torch.fft.irfftn(..., norm='ortho'),
 *           which equals lucid's sqrt(W H) * tf irfft2d; 4 is lucid's
 *           "magic" divisor); fft.c;
 *   u       = M t per pixel for C = 3, M = [[.26,.09,.02],[.27,0,-.05],
 *           [.27,-.09,.03]] divided by its largest column norm (lucid's
 *           color_correlation_svd_sqrt / max_norm_svd_sqrt); u = t for gray;
 *   image   = sigmoid(u), in [0, 1].
 *
 * Each step t = 1..steps draws dy then dx, integers uniform in [-8, 8]
 * (-8 + xcnn_rng_below(17)), from the same generator after the spectrum;
 * rolls the image as torch.roll(image, (dy, dx), (H, W)) does,
 * rolled[y][x] = image[(y - dy) mod H][(x - dx) mod W]; runs the model on
 * (rolled - mean[c]) / std[c]; takes the objective at layer L (A its output
 * for this sample, N elements, `plane` of them a channel)
 *
 *   J = sum over channel c of A / plane     (o->channel = c)
 *   J = sum of A^2 / N                      (o->channel = -1, the energy)
 *
 * and its gradient with respect to S: dJ/dA (1/plane on channel c, or
 * 2 A / N) goes back through the model to the input
 * (xcnn_exec_backward_at), then through the preprocessing (1/std), the
 * roll (rolled back), the sigmoid (s (1 - s)), M^T, the 1/4, the adjoint
 * of irfft2 and the scale. Adam then maximises J, exactly torch.optim.Adam
 * on -J (lr o->lr, betas 0.9 / 0.999, eps 1e-8, no weight decay):
 *   m = 0.9 m + 0.1 g,  v = 0.999 v + 0.001 g^2  (g = -dJ/dS),
 *   S -= (lr / (1 - 0.9^t)) m / (sqrt(v) / sqrt(1 - 0.999^t) + 1e-8).
 * The result is the image of the last S, without a roll.
 *
 * Where lucid and lucent differ from this: they draw with their own
 * generators (so their images differ from ours for the same seed); for an
 * odd W they keep one more spectrum column, which irfft2 never reads (we do
 * not store it); lucent's default transforms add random scaling and
 * rotation, and lucid's jitter crops instead of rolling; METHODS.md fixes
 * integer rolls only.
 *
 * Everything outside the model is in double; the model runs in float32.
 * Not a hot path: the state (S, Adam's moments, the gradient, the image)
 * is malloc'ed once per call and freed before it returns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "visualize.h"
#include "fft.h"
#include "../base/rng.h"
#include "../core/model.h"

#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8
#define MAX_ROLL 8
#define MAGIC 4.0

void xcnn_visualize_options_init(xcnn_visualize_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->layer = NULL;
    o->channel = -1;
    o->steps = 512;
    o->lr = 0.05f;
    o->seed = 0;
    o->progress = NULL;
    o->progress_user = NULL;
}

void xcnn_vis_end(xcnn_vis *v)
{
    if (!v) return;
    free(v->S);
    free(v->adam_m);
    free(v->adam_v);
    free(v->grad);
    free(v->scale);
    free(v->img);
    free(v->pre);
    free(v->work);
    free(v->input);
    free(v->seed);
    memset(v, 0, sizeof *v);
}

/* lucid's colour_correlation_svd_sqrt over its largest column norm. */
static void decorrelation(double mix[9])
{
    static const double raw[9] = {0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09, 0.03};
    double top = 0;
    for (int k = 0; k < 3; k++) {
        double n = sqrt(raw[k] * raw[k] + raw[3 + k] * raw[3 + k] + raw[6 + k] * raw[6 + k]);
        if (n > top) top = n;
    }
    for (int i = 0; i < 9; i++) mix[i] = raw[i] / top;
}

static xcnn_status check_options(const xcnn_model *m, const xcnn_visualize_options *o,
                                 const float *mean, const float *std, int *layer, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    if (!o) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_visualize: options are NULL");
    if (!o->layer || !o->layer[0])
        return xcnn_fail(err, XCNN_ERR_ARG, "visualize needs a layer (a tensor or node name)");
    if (o->steps < 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "visualize: steps must be at least 1, got %d",
                         o->steps);
    if (!isfinite(o->lr) || o->lr <= 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "visualize: the learning rate must be a positive "
                         "finite number, got %g", (double)o->lr);
    const xcnn_tensor *in = &g->tensors[g->input];
    if (in->ndim != 4 || (in->dims[1] != 1 && in->dims[1] != 3))
        return xcnn_fail(err, XCNN_ERR_SHAPE, "visualize: the model's input is not a 1- or "
                         "3-channel image (N x C x H x W)");
    if (in->dims[2] < 1 || in->dims[3] < 1 || in->dims[2] > 65536 || in->dims[3] > 65536)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "visualize: the model's input is %lldx%lld",
                         (long long)in->dims[2], (long long)in->dims[3]);
    int C = (int)in->dims[1];
    for (int c = 0; c < C; c++) {
        if (mean && !isfinite(mean[c]))
            return xcnn_fail(err, XCNN_ERR_ARG, "visualize: mean[%d] is not finite", c);
        if (std && (!isfinite(std[c]) || std[c] == 0))
            return xcnn_fail(err, XCNN_ERR_ARG, "visualize: std[%d] is %g (needs a finite, "
                             "non-zero value)", c, (double)std[c]);
    }
    int t = xcnn_model_find_layer(m, o->layer);
    if (t < 0)
        return xcnn_fail(err, XCNN_ERR_NOT_FOUND, "visualize: no tensor or layer named '%s'",
                         o->layer);
    const xcnn_tensor *lt = &g->tensors[t];
    if (lt->kind != XCNN_T_ACTIVATION)
        return xcnn_fail(err, XCNN_ERR_ARG, "visualize: '%s' is %s, not a layer output",
                         o->layer, lt->kind == XCNN_T_INPUT ? "the model's input"
                                                            : "a weight or constant");
    int64_t channels = lt->ndim >= 2 ? lt->dims[1] : 1;
    if (o->channel < -1 || o->channel >= channels)
        return xcnn_fail(err, XCNN_ERR_ARG, "visualize: channel %d is out of range: '%s' has "
                         "%lld channels (0..%lld)", o->channel, o->layer, (long long)channels,
                         (long long)channels - 1);
    *layer = t;
    return XCNN_OK;
}

xcnn_status xcnn_vis_begin(xcnn_model *m, const xcnn_visualize_options *o, const float *mean,
                           const float *std, xcnn_vis *v, xcnn_err *err)
{
    memset(v, 0, sizeof *v);
    int layer = -1;
    xcnn_status st = check_options(m, o, mean, std, &layer, err);
    if (st) return st;
    const xcnn_graph *g = m->g;
    const xcnn_tensor *in = &g->tensors[g->input], *lt = &g->tensors[layer];
    v->C = (int)in->dims[1];
    v->H = (int)in->dims[2];
    v->W = (int)in->dims[3];
    v->K = xcnn_rfft_cols(v->W);
    v->layer = layer;
    v->channel = o->channel;
    v->layer_n = xcnn_tensor_sample_numel(lt);
    v->plane = v->layer_n / (size_t)(lt->ndim >= 2 && lt->dims[1] > 0 ? lt->dims[1] : 1);
    v->lr = o->lr;
    v->rng = o->seed;
    size_t C = (size_t)v->C, H = (size_t)v->H, W = (size_t)v->W, K = (size_t)v->K;
    size_t pix = C * H * W;
    v->n_spec = C * H * K * 2;
    v->S = calloc(v->n_spec, sizeof(double));
    v->adam_m = calloc(v->n_spec, sizeof(double));
    v->adam_v = calloc(v->n_spec, sizeof(double));
    v->grad = calloc(v->n_spec, sizeof(double));
    v->scale = malloc(H * K * sizeof(double));
    v->img = malloc(pix * sizeof(double));
    v->pre = malloc(pix * sizeof(double));
    /* irfft2's tables and rows, then one channel's scaled spectrum */
    v->work = malloc((xcnn_irfft2_work(v->H, v->W) + H * K * 2) * sizeof(double));
    v->input = malloc(pix * sizeof(float));
    v->seed = malloc(v->layer_n * sizeof(float));
    if (!v->S || !v->adam_m || !v->adam_v || !v->grad || !v->scale || !v->img || !v->pre ||
        !v->work || !v->input || !v->seed) {
        xcnn_vis_end(v);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "visualize: out of memory for its state "
                         "(%zu bytes)", (v->n_spec * 4 + H * K + pix * 2) * sizeof(double));
    }
    for (int c = 0; c < v->C; c++) {
        v->mean[c] = mean ? mean[c] : 0.0;
        v->inv_std[c] = std ? 1.0 / std[c] : 1.0;
    }
    decorrelation(v->mix);
    double fmin = 1.0 / (double)(v->H > v->W ? v->H : v->W);
    for (int p = 0; p < v->H; p++) {
        /* numpy.fft.fftfreq(H)[p]: p / H for p < (H + 1) / 2, else (p - H) / H */
        double fy = (double)(p < (v->H + 1) / 2 ? p : p - v->H) / v->H;
        for (int q = 0; q < v->K; q++) {
            double fx = (double)q / v->W, f = sqrt(fy * fy + fx * fx);
            v->scale[(size_t)p * K + q] = 1.0 / (f > fmin ? f : fmin);
        }
    }
    for (size_t i = 0; i < v->n_spec; i++) v->S[i] = 0.01 * xcnn_rng_normal(&v->rng);
    return XCNN_OK;
}

void xcnn_vis_image(xcnn_vis *v, const double *S)
{
    size_t HW = (size_t)v->H * v->W, HK = (size_t)v->H * v->K;
    double *X = v->work + xcnn_irfft2_work(v->H, v->W);
    for (int c = 0; c < v->C; c++) {
        const double *Sc = S + (size_t)c * HK * 2;
        for (size_t i = 0; i < HK; i++) {
            X[2 * i] = v->scale[i] * Sc[2 * i];
            X[2 * i + 1] = v->scale[i] * Sc[2 * i + 1];
        }
        double *t = v->img + (size_t)c * HW;
        xcnn_irfft2(v->H, v->W, X, t, v->work);
        for (size_t i = 0; i < HW; i++) t[i] /= MAGIC;
    }
    if (v->C == 3)
        for (size_t i = 0; i < HW; i++) {
            double t0 = v->img[i], t1 = v->img[HW + i], t2 = v->img[2 * HW + i];
            for (int c = 0; c < 3; c++)
                v->img[c * HW + i] = v->mix[3 * c] * t0 + v->mix[3 * c + 1] * t1 +
                                     v->mix[3 * c + 2] * t2;
        }
    for (size_t i = 0; i < (size_t)v->C * HW; i++) v->img[i] = 1.0 / (1.0 + exp(-v->img[i]));
}

void xcnn_vis_image_grad(xcnn_vis *v, double *gimg, double *gS)
{
    size_t HW = (size_t)v->H * v->W, HK = (size_t)v->H * v->K;
    double *gX = v->work + xcnn_irfft2_work(v->H, v->W);
    for (size_t i = 0; i < (size_t)v->C * HW; i++) gimg[i] *= v->img[i] * (1.0 - v->img[i]);
    if (v->C == 3)
        for (size_t i = 0; i < HW; i++) {
            double u0 = gimg[i], u1 = gimg[HW + i], u2 = gimg[2 * HW + i];
            for (int k = 0; k < 3; k++)
                gimg[k * HW + i] = v->mix[k] * u0 + v->mix[3 + k] * u1 + v->mix[6 + k] * u2;
        }
    for (int c = 0; c < v->C; c++) {
        double *gt = gimg + (size_t)c * HW;
        for (size_t i = 0; i < HW; i++) gt[i] /= MAGIC;
        xcnn_irfft2_adjoint(v->H, v->W, gt, gX, v->work);
        double *gSc = gS + (size_t)c * HK * 2;
        for (size_t i = 0; i < HK; i++) {
            gSc[2 * i] = v->scale[i] * gX[2 * i];
            gSc[2 * i + 1] = v->scale[i] * gX[2 * i + 1];
        }
    }
}

/* (a mod n) in 0..n-1 for any sign of a. */
static int wrap(int a, int n)
{
    int r = a % n;
    return r < 0 ? r + n : r;
}

xcnn_status xcnn_vis_step(xcnn_model *m, xcnn_vis *v, xcnn_err *err)
{
    const int H = v->H, W = v->W;
    size_t HW = (size_t)H * W;
    v->dy = -MAX_ROLL + (int)xcnn_rng_below(&v->rng, 2 * MAX_ROLL + 1);
    v->dx = -MAX_ROLL + (int)xcnn_rng_below(&v->rng, 2 * MAX_ROLL + 1);
    xcnn_vis_image(v, v->S);
    for (int c = 0; c < v->C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = v->img[c * HW + (size_t)wrap(y - v->dy, H) * W + wrap(x - v->dx, W)];
                v->input[c * HW + (size_t)y * W + x] = (float)((s - v->mean[c]) * v->inv_std[c]);
            }
    xcnn_status st = xcnn_exec_forward(m, v->input, 1, err);
    if (st) return st;

    /* the objective and its gradient at the layer */
    const float *A = m->g->tensors[v->layer].data;
    double J = 0;
    if (v->channel >= 0) {
        size_t off = (size_t)v->channel * v->plane;
        memset(v->seed, 0, v->layer_n * sizeof(float));
        for (size_t i = 0; i < v->plane; i++) {
            J += A[off + i];
            v->seed[off + i] = (float)(1.0 / (double)v->plane);
        }
        J /= (double)v->plane;
    } else {
        for (size_t i = 0; i < v->layer_n; i++) {
            J += (double)A[i] * A[i];
            v->seed[i] = (float)(2.0 * A[i] / (double)v->layer_n);
        }
        J /= (double)v->layer_n;
    }
    v->objective = J;
    if ((st = xcnn_exec_backward_at(m, v->layer, v->seed, 1, err))) return st;

    /* back through the preprocessing and the roll: gimg[y][x] is the
     * gradient of rolled[(y + dy) mod H][(x + dx) mod W] */
    const float *gin = m->g->tensors[m->g->input].grad;
    for (int c = 0; c < v->C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                v->pre[c * HW + (size_t)y * W + x] =
                    gin[c * HW + (size_t)wrap(y + v->dy, H) * W + wrap(x + v->dx, W)] *
                    v->inv_std[c];
    xcnn_vis_image_grad(v, v->pre, v->grad);

    /* Adam on -J (torch.optim.Adam's single-tensor update) */
    v->step++;
    double bc1 = 1.0 - pow(ADAM_BETA1, v->step), bc2 = 1.0 - pow(ADAM_BETA2, v->step);
    double step_size = v->lr / bc1, bc2_sqrt = sqrt(bc2);
    for (size_t i = 0; i < v->n_spec; i++) {
        double gi = -v->grad[i];
        v->adam_m[i] = v->adam_m[i] * ADAM_BETA1 + gi * (1.0 - ADAM_BETA1);
        v->adam_v[i] = v->adam_v[i] * ADAM_BETA2 + gi * gi * (1.0 - ADAM_BETA2);
        v->S[i] -= step_size * v->adam_m[i] / (sqrt(v->adam_v[i]) / bc2_sqrt + ADAM_EPS);
    }
    return XCNN_OK;
}

static xcnn_status visualize(xcnn_model *m, const xcnn_visualize_options *o, const float *mean,
                             const float *std, float *image, float *model_input,
                             double *objective, xcnn_err *err)
{
    if (!image) return xcnn_fail(err, XCNN_ERR_ARG, "xcnn_visualize: image is NULL");
    xcnn_vis v;
    xcnn_status st = xcnn_vis_begin(m, o, mean, std, &v, err);
    if (st) return st;
    for (int s = 0; s < o->steps && !st; s++) {
        st = xcnn_vis_step(m, &v, err);
        if (!st && o->progress) o->progress(s + 1, o->steps, v.objective, o->progress_user);
    }
    if (!st) {
        xcnn_vis_image(&v, v.S);
        size_t HW = (size_t)v.H * v.W;
        for (int c = 0; c < v.C; c++)
            for (size_t i = 0; i < HW; i++) {
                double s = v.img[c * HW + i];
                image[c * HW + i] = (float)s;
                if (model_input)
                    model_input[c * HW + i] = (float)((s - v.mean[c]) * v.inv_std[c]);
            }
        if (objective) *objective = v.objective;
    }
    xcnn_vis_end(&v);
    return st;
}

xcnn_status xcnn_visualize(xcnn_model *m, const xcnn_visualize_options *o, const float *mean,
                           const float *std, float *image, float *model_input,
                           double *objective)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    xcnn_status st = visualize(m, o, mean, std, image, model_input, objective, &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}
